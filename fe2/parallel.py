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

Failures are bounded and named: a Dask address that does not answer as a scheduler within
``timeout`` seconds is a ``ConnectionError`` naming the address; a worker that dies under a call is
a :class:`WorkerLost` naming the worker (a handle's ``name``, "worker k", with the ``pid`` of a
process or the ``address`` of a Dask worker; a run that kept state on it continues from its last
checkpoint with ``--restart``); local worker processes end when the process that started them dies,
even when it is killed with SIGKILL.
"""

import asyncio
import concurrent.futures
import concurrent.futures.process
import multiprocessing
import numbers
import os
import select
import signal
import socket
import sys
import threading
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


RESTART = "continue the run from its last checkpoint (--restart, or Problem.solve(..., restart=True))"
ON_START = ("the error is printed above; a script that starts worker processes does its work under "
            "if __name__ == \"__main__\":, since each worker imports the script again")


class WorkerLost(RuntimeError):
    """A worker process died (killed, out of memory, crashed) while it owed an answer: its work and
    any state it held are gone."""


def _exit_with_parent(parent):
    """In a worker process: end it as soon as ``parent``, the process that started it, is gone, so
    that a run killed with SIGKILL leaves no workers behind. A daemon thread waits on the parent's
    process descriptor (Linux) or checks the parent pid twice a second; unlike prctl(PR_SET_PDEATHSIG),
    this does not end the worker when the thread that started it ends while its process lives on."""

    def watch():
        try:
            handle = os.pidfd_open(parent)
        except (AttributeError, OSError):  # not Linux >= 5.3, or the parent is already gone
            handle = None
        if handle is not None and os.getppid() == parent:
            select.select([handle], [], [])  # readable once the parent has exited
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="fe2-exit-with-parent", daemon=True).start()


def _actor_loop(connection, parent):
    """The body of a dedicated actor process: receive the class and its arguments, construct, then
    answer calls until told to stop or until the parent is gone. A failed construction is the answer
    to every call."""
    _exit_with_parent(parent)
    try:
        cls, args = connection.recv()
        obj, failure = cls(*args), None
    except (EOFError, OSError):  # the parent closed its end or died
        return
    except Exception as error:
        obj, failure = None, error
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):  # the parent closed its end or died
            return
        if message is None:
            return
        method, call_args = message
        try:
            if failure is not None:
                raise failure
            connection.send((True, getattr(obj, method)(*call_args)))
        except Exception as error:
            connection.send((False, error))


class _Pipe:
    """A future for the answer of ``actor`` to a call of ``method``, on its pipe."""

    def __init__(self, actor, method):
        self.actor, self.method = actor, method

    def result(self):
        try:
            ok, value = self.actor.connection.recv()
        except (EOFError, OSError):  # the worker's end closed: it died
            raise self.actor.lost(self.method) from None
        self.actor.answered = True
        if not ok:
            raise value
        return value


class _Process:
    """An actor in a dedicated worker process, called ``name`` in messages.

    The class and its arguments (a cell can be large) go over the pipe with the first call, not
    with the start: ``Process.start`` writes its arguments to the new process before it returns and
    would wait forever on a worker that died before reading them (a script without the
    ``__main__`` guard)."""

    def __init__(self, cls, args, name="worker"):
        context = multiprocessing.get_context("spawn")
        self.name = name
        self.connection, child = context.Pipe()
        with _single_threaded():
            self.process = context.Process(target=_actor_loop, args=(child, os.getpid()), daemon=True)
            self.process.start()
        child.close()  # the worker holds the only other end: its death closes the pipe
        self.pid, self.answered, self._construct = self.process.pid, False, (cls, args)

    def call(self, method, *args):
        try:
            if self._construct is not None:
                construct, self._construct = self._construct, None
                self.connection.send(construct)
            self.connection.send((method, args))
        except OSError:  # BrokenPipeError, ConnectionResetError: the worker is gone
            return _Done(error=self.lost(method))
        return _Pipe(self, method)

    def lost(self, method):
        """The error for a call of ``method`` that this actor's death left without an answer."""
        self.process.join(timeout=2)
        code = self.process.exitcode
        if code is None:
            how = "its pipe closed"
        elif code < 0:
            how = f"killed by {signal.Signals(-code).name}" if -code in signal.valid_signals() else f"signal {-code}"
        else:
            how = f"exit code {code}"
        if not self.answered and code == 1:  # the worker never reached its loop: it failed to start
            return WorkerLost(f"{self.name} of the process executor (pid {self.pid}) died on start (exit code 1): {ON_START}")
        return WorkerLost(f"{self.name} of the process executor (pid {self.pid}) died ({how}) during {method}(): "
                          f"what it held is lost; {RESTART}")

    def close(self):
        if self.process.is_alive():
            try:
                self.connection.send(None)
            except OSError:  # pragma: no cover - died between the check and the send
                pass
            self.process.join(timeout=10)
        if self.process.is_alive():  # pragma: no cover
            self.process.kill()
        self.connection.close()


class _DaskFuture:
    """A Dask actor's answer, a :class:`WorkerLost` when the worker holding the actor is gone."""

    def __init__(self, actor, future, method):
        self.actor, self.future, self.method = actor, future, method

    def result(self):
        try:
            return self.future.result()
        except OSError:  # "Unable to contact Actor's worker"
            raise self.actor.lost(self.method) from None


class _DaskActor:
    """A Dask actor on the worker at ``address``, called ``name`` in messages."""

    def __init__(self, future, address, name="worker"):
        self.future, self.address, self.name = future, address, name
        self.actor = future.result()

    def call(self, method, *args):
        if self.future.status not in ("finished", "pending"):
            return _Done(error=self.lost(method))
        return _DaskFuture(self, getattr(self.actor, method)(*args), method)

    def lost(self, method):
        return WorkerLost(f"{self.name} of the Dask executor (at {self.address}) was lost during {method}(): "
                          f"what it held is lost; {RESTART}")


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
    """Local worker processes (spawned, so safe with MKL and gmsh), one thread each: a pool of
    ``workers`` processes for ``map``, started on its first use, and one process per actor."""

    def __init__(self, workers=None):
        self.workers = int(workers or os.cpu_count() or 1)
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self._actors, self._pool = [], None

    def _started_pool(self):
        """The pool of ``map``, its workers spawned on the first call (a run of actors never pays for it)."""
        if self._pool is None:
            with _single_threaded():  # inherited by the workers spawned now
                self._pool = concurrent.futures.ProcessPoolExecutor(
                    self.workers, mp_context=multiprocessing.get_context("spawn"),
                    initializer=_exit_with_parent, initargs=(os.getpid(),))
                try:
                    list(self._pool.map(_noop, range(self.workers)))
                except concurrent.futures.process.BrokenProcessPool:
                    self._pool.shutdown()
                    self._pool = None
                    raise WorkerLost(f"the worker processes of the process executor died on start: {ON_START}") from None
        return self._pool

    def actor(self, cls, *args):
        """``cls(*args)`` in a dedicated worker process, named "worker k" (k = 1, 2, ...) in errors."""
        self._actors.append(_Process(cls, args, name=f"worker {len(self._actors) + 1}"))
        return self._actors[-1]

    def map(self, function, items, *, label="tasks", progress=True, total=None):
        if total is None:
            items = list(items)
        bar = Progress(len(items) if total is None else total, label, enabled=progress)
        items = iter(items)
        futures, pending, pool = [], set(), self._started_pool()
        try:
            for item in items:  # at most two tasks per worker in flight: the generator is drawn as they finish
                futures.append(pool.submit(function, item))
                pending.add(futures[-1])
                while len(pending) >= 2 * self.workers:
                    done, pending = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
                    bar.update(len(done))
            for _ in concurrent.futures.as_completed(pending):
                bar.update()
            return [future.result() for future in futures]
        except concurrent.futures.process.BrokenProcessPool as error:
            finished = sum(f.done() and not f.cancelled() and f.exception() is None for f in futures)
            raise WorkerLost(f"a worker process of the process executor died while running {label} "
                             f"({finished} of {bar.total} done): {error} Run it again on a new executor.") from None

    def close(self):
        for actor in self._actors:
            actor.close()
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)


class Dask(Executor):
    """A Dask distributed cluster: the scheduler at ``address`` (e.g. "tcp://host:8786"), or a
    LocalCluster of ``workers`` single-threaded worker processes when no address is given."""

    def __init__(self, address=None, workers=None, timeout=5):
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError as error:  # pragma: no cover
            raise ImportError("the Dask executor needs dask[distributed]: pip install 'dask[distributed]'") from error
        if not timeout > 0:
            raise ValueError(f"the Dask connection timeout must be a positive number of seconds, got {timeout!r}")
        self._cluster = None
        if address is None:
            self._cluster = LocalCluster(n_workers=int(workers or os.cpu_count() or 1), threads_per_worker=1,
                                         processes=True, dashboard_address=None)
            address = self._cluster
        else:
            _check_scheduler(address, timeout)
        try:
            self._client = Client(address, timeout=timeout)
        except (OSError, TimeoutError) as error:
            raise ConnectionError(f"could not reach the Dask scheduler at {address!r} within {timeout} s: {error}") from None
        self._actors = 0
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
        """``cls(*args)`` as a Dask actor, named "worker k" (k = 1, 2, ...) and by its worker's address in errors."""
        future = self._client.submit(cls, *args, actor=True)
        future.result()
        self._actors += 1
        address = next(iter(self._client.who_has(future)[future.key]), "an unknown worker")
        return _DaskActor(future, address, name=f"worker {self._actors}")

    def close(self):
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()

    def __repr__(self):
        return f"Dask({self.address!r}, workers={self.workers})"


def _check_scheduler(address, timeout):
    """Raise a one-line ``ConnectionError`` naming ``address`` unless a Dask scheduler answers there
    within ``timeout`` seconds. Dask's own handshake waits without limit for a peer that accepts the
    connection and never answers (an HTTP server, the dashboard port, a silent socket)."""
    from distributed.comm import connect

    async def identity():
        comm = await connect(address, timeout=timeout)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    async def bounded():
        return await asyncio.wait_for(identity(), timeout)

    with concurrent.futures.ThreadPoolExecutor(1) as thread:  # its own event loop, even under a running one
        try:
            answer = thread.submit(asyncio.run, bounded()).result()
        except asyncio.TimeoutError:
            if _listening(address):
                raise ConnectionError(f"nothing answered as a Dask scheduler at {address!r} within {timeout} s: the port "
                                      f"accepts connections but does not speak Dask (is it a dashboard or another service? "
                                      f"a scheduler listens on 8786 by default)") from None
            raise ConnectionError(f"could not reach the Dask scheduler at {address!r} within {timeout} s") from None
        except OSError as error:
            raise ConnectionError(f"could not reach the Dask scheduler at {address!r} within {timeout} s: "
                                  f"{' '.join(str(error).split())}") from None
        except Exception as error:  # noqa: BLE001 - an answer that is not Dask's
            raise ConnectionError(f"{address!r} does not answer as a Dask scheduler: "
                                  f"{type(error).__name__}: {' '.join(str(error).split())}") from None
    kind = answer.get("type") if isinstance(answer, dict) else type(answer).__name__
    if kind != "Scheduler":
        raise ConnectionError(f"{address!r} answers as a Dask {kind}, not a scheduler: give the scheduler's address")


def _listening(address):
    """Whether something accepts TCP connections at the Dask ``address`` (tcp:// or tls://) now."""
    from distributed.comm import get_address_host_port
    try:
        with socket.create_connection(get_address_host_port(address), timeout=1):
            return True
    except (OSError, ValueError):
        return False


def executor(spec="serial", workers=None, timeout=5):
    """An executor from a short description: "serial", "processes", "dask" (a local cluster), or a
    Dask scheduler address ("tcp://host:8786"; ``timeout``: seconds to wait for it to answer). An
    Executor instance is returned as it is. ``workers``: None (one per core) or a whole number >= 1;
    anything else is refused (ValueError) before any worker starts."""
    if isinstance(spec, Executor):
        return spec
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, numbers.Integral) or workers < 1):
        raise ValueError(f"workers must be a whole number >= 1 (or None: one per core), got workers={workers!r}")
    if spec == "serial":
        return Serial()
    if spec == "processes":
        return Processes(workers)
    if spec == "dask":
        return Dask(workers=workers)
    if isinstance(spec, str) and "://" in spec:
        return Dask(spec, timeout=timeout)
    raise ValueError(f"unknown executor {spec!r}: use 'serial', 'processes', 'dask' or a Dask scheduler address")
