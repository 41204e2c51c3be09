"""One executor interface for independent micro problems: serial, local processes, Dask distributed.

    with fe2.parallel.executor("processes") as ex:        # or "serial", "dask", "tcp://host:8786"
        results = ex.map(function, items, label="cells")

``map`` returns the results in the order of ``items`` and shows progress (completed / total, elapsed
time and an estimate of the time left) on stderr. ``function`` and the items must be picklable for
processes and Dask: a module-level function or a ``functools.partial`` of one. Workers run their
linear algebra on one thread each, so that two workers use two cores without oversubscription.

``actor(cls, *args)`` places a stateful object on a worker (a dedicated process, a Dask actor, or
this process for Serial) and returns a handle whose ``call(method, *args)`` returns a future
(``result()``): state that lives on the worker never travels, only arguments and results do.
"""

import concurrent.futures
import multiprocessing
import os
import sys
import time

SINGLE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}


class Progress:
    """Progress of ``total`` tasks on a stream: a live line on a terminal, every 10 % otherwise."""

    def __init__(self, total, label="tasks", stream=None, enabled=True):
        self.total, self.label, self.done = total, label, 0
        self.stream = stream or sys.stderr
        self.enabled = enabled and total > 0
        self.start = time.perf_counter()
        self._last_decile = -1

    def update(self, count=1):
        self.done += count
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.start
        left = elapsed / self.done * (self.total - self.done)
        line = f"{self.label}: {self.done}/{self.total} ({100 * self.done / self.total:.0f} %), {elapsed:.1f} s elapsed, ~{left:.1f} s left"
        if self.stream.isatty():
            self.stream.write("\r" + line + ("\n" if self.done == self.total else ""))
        elif self.done * 10 // self.total > self._last_decile:
            self._last_decile = self.done * 10 // self.total
            self.stream.write(line + "\n")
        self.stream.flush()


class _Done:
    """A future that is already resolved."""

    def __init__(self, value=None, error=None):
        self.value, self.error = value, error

    def result(self):
        if self.error is not None:
            raise self.error
        return self.value


class _Local:
    """An actor in this process."""

    def __init__(self, obj):
        self.obj = obj

    def call(self, method, *args):
        try:
            return _Done(getattr(self.obj, method)(*args))
        except Exception as error:  # delivered at result(), as from a remote worker
            return _Done(error=error)


def _actor_loop(connection, cls, args):
    """The body of a dedicated actor process: construct, then answer calls until told to stop."""
    obj = cls(*args)
    while True:
        message = connection.recv()
        if message is None:
            return
        method, call_args = message
        try:
            connection.send((True, getattr(obj, method)(*call_args)))
        except Exception as error:
            connection.send((False, error))


class _Pipe:
    """A future for the answer on a pipe."""

    def __init__(self, connection):
        self.connection = connection

    def result(self):
        ok, value = self.connection.recv()
        if not ok:
            raise value
        return value


class _Process:
    """An actor in a dedicated worker process."""

    def __init__(self, cls, args):
        context = multiprocessing.get_context("spawn")
        self.connection, child = context.Pipe()
        with _single_threaded():
            self.process = context.Process(target=_actor_loop, args=(child, cls, args), daemon=True)
            self.process.start()

    def call(self, method, *args):
        self.connection.send((method, args))
        return _Pipe(self.connection)

    def close(self):
        if self.process.is_alive():
            self.connection.send(None)
            self.process.join(timeout=10)
        if self.process.is_alive():  # pragma: no cover
            self.process.kill()


class _DaskActor:
    def __init__(self, actor):
        self.actor = actor

    def call(self, method, *args):
        return getattr(self.actor, method)(*args)


class Executor:
    """Runs ``function`` over ``items``; subclasses say where."""

    workers = 1

    def map(self, function, items, *, label="tasks", progress=True, total=None):
        """[function(item) for item in items], in order. With ``total`` (the number of items) the
        items are drawn from the iterable as they are needed instead of all at once, so a generator
        of large tasks is never held in memory whole (serial and process executors)."""
        raise NotImplementedError

    def actor(self, cls, *args):
        """A stateful ``cls(*args)`` on a worker; returns a handle with ``call(method, *args) -> future``."""
        return _Local(cls(*args))

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"{type(self).__name__}(workers={self.workers})"


class Serial(Executor):
    """In this process, one task after the other."""

    def map(self, function, items, *, label="tasks", progress=True, total=None):
        if total is None:
            items = list(items)
        bar = Progress(len(items) if total is None else total, label, enabled=progress)
        results = []
        for item in items:
            results.append(function(item))
            bar.update()
        return results


def _noop(_):
    return os.getpid()


class _single_threaded:
    """Processes spawned inside this block run their linear algebra on one thread."""

    def __enter__(self):
        self.saved = {name: os.environ.get(name) for name in SINGLE_THREAD}
        os.environ.update(SINGLE_THREAD)

    def __exit__(self, *exc):
        for name, value in self.saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class Processes(Executor):
    """Local worker processes (spawned, so safe with MKL and gmsh), one thread each."""

    def __init__(self, workers=None):
        self.workers = int(workers or os.cpu_count() or 1)
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self._actors = []
        with _single_threaded():  # inherited by the workers spawned now
            self._pool = concurrent.futures.ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
            list(self._pool.map(_noop, range(self.workers)))

    def actor(self, cls, *args):
        self._actors.append(_Process(cls, args))
        return self._actors[-1]

    def map(self, function, items, *, label="tasks", progress=True, total=None):
        if total is None:
            items = list(items)
        bar = Progress(len(items) if total is None else total, label, enabled=progress)
        items = iter(items)
        futures, pending = [], set()
        for item in items:  # at most two tasks per worker in flight: the generator is drawn as they finish
            futures.append(self._pool.submit(function, item))
            pending.add(futures[-1])
            while len(pending) >= 2 * self.workers:
                done, pending = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
                bar.update(len(done))
        for _ in concurrent.futures.as_completed(pending):
            bar.update()
        return [future.result() for future in futures]

    def close(self):
        for actor in self._actors:
            actor.close()
        self._pool.shutdown(cancel_futures=True)


class Dask(Executor):
    """A Dask distributed cluster: the scheduler at ``address`` (e.g. "tcp://host:8786"), or a
    LocalCluster of ``workers`` single-threaded worker processes when no address is given."""

    def __init__(self, address=None, workers=None, timeout=10):
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError as error:  # pragma: no cover
            raise ImportError("the Dask executor needs dask[distributed]: pip install 'dask[distributed]'") from error
        self._cluster = None
        if address is None:
            self._cluster = LocalCluster(n_workers=int(workers or os.cpu_count() or 1), threads_per_worker=1,
                                         processes=True, dashboard_address=None)
            address = self._cluster
        try:
            self._client = Client(address, timeout=timeout)
        except (OSError, TimeoutError) as error:
            raise ConnectionError(f"could not reach the Dask scheduler at {address!r} within {timeout} s: {error}") from None
        self.address = self._client.scheduler.address
        self.workers = len(self._client.scheduler_info()["workers"])

    def map(self, function, items, *, label="tasks", progress=True, total=None):
        from dask.distributed import as_completed
        items = list(items)
        bar = Progress(len(items), label, enabled=progress)
        futures = self._client.map(function, items, pure=False)
        for _ in as_completed(futures):
            bar.update()
        return self._client.gather(futures)

    def actor(self, cls, *args):
        return _DaskActor(self._client.submit(cls, *args, actor=True).result())

    def close(self):
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()

    def __repr__(self):
        return f"Dask({self.address!r}, workers={self.workers})"


def executor(spec="serial", workers=None):
    """An executor from a short description: "serial", "processes", "dask" (a local cluster), or a
    Dask scheduler address ("tcp://host:8786"). An Executor instance is returned as it is."""
    if isinstance(spec, Executor):
        return spec
    if spec == "serial":
        return Serial()
    if spec == "processes":
        return Processes(workers)
    if spec == "dask":
        return Dask(workers=workers)
    if isinstance(spec, str) and "://" in spec:
        return Dask(spec)
    raise ValueError(f"unknown executor {spec!r}: use 'serial', 'processes', 'dask' or a Dask scheduler address")
