"""Executors: serial, local processes and Dask give the same answers, with progress; clear errors,
bounded in time, for addresses that are not schedulers, dead workers and killed parents."""

import contextlib
import http.server
import math
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

import fe2
from fe2 import parallel

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def reference():
    study = fe2.rve_size.size_study(fe2.rve_size.RandomDiscs(0.3, h=0.3), [2.0, 3.0], 2, CONDUCTORS, executor="serial", progress=False)
    return study


CONDUCTORS = {"matrix": fe2.Conductor(1.0), "inclusion": fe2.Conductor(10.0)}


@pytest.mark.parametrize("spec", ["processes", "dask"])
def test_executors_agree_with_serial(reference, spec, capsys):
    with parallel.executor(spec, workers=2) as ex:
        assert ex.workers == 2
        study = fe2.rve_size.size_study(fe2.rve_size.RandomDiscs(0.3, h=0.3), [2.0, 3.0], 2, CONDUCTORS, executor=ex)
    for bc in fe2.rve_size.CONDITIONS:
        np.testing.assert_allclose(study.tensors[bc], reference.tensors[bc], rtol=1e-12, atol=1e-14)
    assert "cells: 4/4 (100 %)" in capsys.readouterr().err


def test_map_keeps_the_order_of_the_items():
    with parallel.Processes(2) as ex:
        assert ex.map(math.sqrt, range(7), progress=False) == [math.sqrt(i) for i in range(7)]


def test_unreachable_scheduler_is_a_clear_error():
    with pytest.raises(ConnectionError, match=r"could not reach the Dask scheduler at 'tcp://127.0.0.1:9' within 2 s"):
        parallel.Dask("tcp://127.0.0.1:9", timeout=2)


def test_unknown_executor():
    with pytest.raises(ValueError, match="unknown executor 'threads'"):
        parallel.executor("threads")


# Failures of the executors: bounded in time, named in one line, and no worker left behind.

def bounded(function, seconds):
    """function() in a daemon thread: its result or error, or a failure if it is still running after ``seconds``."""
    outcome = {}

    def run():
        try:
            outcome["value"] = function()
        except BaseException as error:  # noqa: BLE001 - handed to the test
            outcome["error"] = error
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still waiting after {seconds} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


@contextlib.contextmanager
def silent_socket():
    """A TCP port that accepts connections (the kernel completes them) and never says a word."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield f"tcp://127.0.0.1:{server.getsockname()[1]}"


@contextlib.contextmanager
def http_server():
    """An HTTP server on a free port, as on a dashboard's port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("service", [silent_socket, http_server], ids=["silent socket", "HTTP server"])
def test_an_address_that_is_not_a_scheduler_is_refused_within_the_timeout(service):
    with service() as address:
        start = time.perf_counter()
        with pytest.raises(ConnectionError) as error:
            bounded(lambda: parallel.Dask(address, timeout=1), 20)
    message = str(error.value)
    assert time.perf_counter() - start < 10
    assert message.startswith(f"nothing answered as a Dask scheduler at '{address}' within 1 s") and "\n" not in message


def test_a_dask_worker_address_is_not_a_scheduler():
    from distributed import LocalCluster
    with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster:
        worker = next(iter(cluster.scheduler_info["workers"]))
        with pytest.raises(ConnectionError, match=rf"'{worker}' answers as a Dask Worker, not a scheduler"):
            bounded(lambda: parallel.executor(worker, timeout=2), 20)


def test_the_dask_timeout_must_be_positive():
    with pytest.raises(ValueError, match="timeout must be a positive number of seconds, got 0"):
        parallel.Dask("tcp://127.0.0.1:9", timeout=0)


class Sleeper:
    """A worker-side object that answers its pid and sleeps on demand."""

    def pid(self):
        return os.getpid()

    def sleep(self, seconds):
        time.sleep(seconds)
        return seconds


def test_a_killed_actor_worker_is_named_in_one_line():
    with parallel.Processes(1) as ex:
        actor = ex.actor(Sleeper)
        assert actor.call("pid").result() == actor.pid
        busy = actor.call("sleep", 60)
        os.kill(actor.pid, signal.SIGKILL)
        start = time.perf_counter()
        with pytest.raises(parallel.WorkerLost) as error:
            bounded(busy.result, 20)
        assert time.perf_counter() - start < 5
        message = str(error.value)
        assert re.fullmatch(rf"worker 1 of the process executor \(pid {actor.pid}\) died \(killed by SIGKILL\) during "
                            r"sleep\(\): what it held is lost; continue the run from its last checkpoint \(--restart, .*\)",
                            message), message
        with pytest.raises(parallel.WorkerLost, match=r"died \(killed by SIGKILL\) during pid\(\)"):  # the pipe is closed
            bounded(lambda: actor.call("pid").result(), 20)


def test_a_lost_dask_worker_is_named_in_one_line():
    with parallel.Dask(workers=1) as ex:
        actor = ex.actor(Sleeper)
        pid = actor.call("pid").result()
        busy = actor.call("sleep", 60)
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(parallel.WorkerLost) as error:
            bounded(busy.result, 40)
    assert re.fullmatch(rf"worker 1 of the Dask executor \(at {re.escape(actor.address)}\) was lost during sleep\(\): "
                        r"what it held is lost; continue the run from its last checkpoint \(--restart, .*\)", str(error.value))


def test_a_worker_killed_during_an_fe2_run_stops_it_with_its_name():
    """Kill the second of two workers after the first load step: the run ends with one line that
    names that worker and says how to continue, instead of a bare ConnectionResetError."""
    from conftest import plate

    class Named(parallel.Processes):   # records its actors' pids, as a user's executor could
        def __init__(self, workers):
            super().__init__(workers)
            self.pids = []

        def actor(self, cls, *args):
            handle = super().actor(cls, *args)
            self.pids.append(handle.pid)
            return handle

    def kill_worker_2(step, u, states, problem):
        if step.number == 1:
            os.kill(ex.pids[1], signal.SIGKILL)

    with Named(2) as ex:
        problem = plate()
        law = problem.body.materials["plate"]
        problem.body.materials["plate"] = fe2.RVELaw(law.cell, law.bc, executor=ex)
        with pytest.raises(parallel.WorkerLost) as error:
            bounded(lambda: problem.solve(3, callback=kill_worker_2), 60)
    message = str(error.value)
    assert re.match(rf"worker 2 of the process executor \(pid {ex.pids[1]}\) died \(killed by SIGKILL\) during "
                    r"(solve|histories)\(\)", message) and "--restart" in message and "\n" not in message


def test_a_broken_pool_is_named():
    with parallel.Processes(1) as ex:
        with pytest.raises(parallel.WorkerLost, match=r"a worker process of the process executor died while running "
                                                       r"cells \(0 of 2 done\)"):
            bounded(lambda: ex.map(os._exit, [1, 1], label="cells", progress=False), 30)


WORKERS_THEN_WAIT = """
import os, sys, time
from fe2 import parallel


class Busy:
    def work(self, seconds):
        time.sleep(seconds)


if __name__ == "__main__":
    ex = parallel.Processes(2)
    ex.map(abs, [-1, -2], progress=False)    # the pool's two workers
    actor = ex.actor(Busy)
    actor.call("work", 0).result()
    actor.call("work", 600)                  # a worker in the middle of a call
    print("ready", flush=True)
    time.sleep(600)
"""


def gone(pid):
    """Whether process ``pid`` has ended (a zombie waiting for its new parent to reap it has ended)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_workers_end_when_their_parent_is_killed(tmp_path):
    """SIGKILL a script with a pool and a busy actor: every process it started ends within seconds."""
    script = tmp_path / "workers_then_wait.py"
    script.write_text(WORKERS_THEN_WAIT, encoding="utf-8")
    run = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                           cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert bounded(run.stdout.readline, 60) == "ready\n"
        children = psutil.Process(run.pid).children(recursive=True)
        assert len(children) >= 3  # two pool workers and the actor (and multiprocessing's resource tracker)
    finally:
        run.kill()
        run.wait(10)
    deadline = time.time() + 5
    while time.time() < deadline and not all(gone(child.pid) for child in children):
        time.sleep(0.1)
    left = [(child.pid, child.cmdline()[-1][:60]) for child in children if not gone(child.pid)]
    for child in children:   # clean up after a failure
        if not gone(child.pid):
            child.kill()
    assert not left, f"processes left behind by the killed run: {left}"


UNGUARDED = """
from fe2 import parallel


class Echo:
    def echo(self, value):
        return value


with parallel.Processes(1) as ex:
    print(ex.actor(Echo).call("echo", 1).result())
"""


def test_a_script_without_the_main_guard_stops_with_a_one_line_error(tmp_path):
    """Each spawned worker imports the script again and fails to start; the parent says so and why
    instead of waiting for an answer that never comes."""
    script = tmp_path / "unguarded.py"
    script.write_text(UNGUARDED, encoding="utf-8")
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 1
    last = run.stderr.strip().splitlines()[-1]
    assert re.fullmatch(r"fe2\.parallel\.WorkerLost: worker 1 of the process executor \(pid \d+\) died on start "
                        r"\(exit code 1\): the error is printed above; a script that starts worker processes does its "
                        r'work under if __name__ == "__main__":, since each worker imports the script again', last), last
