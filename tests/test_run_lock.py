"""One run per output folder: a lock held by the running process, refusals naming the folder and the
holder, stale locks of killed processes taken over, and the choice to overwrite an earlier run."""

import json
import logging
import os
import re
import runpy
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import fe2.cli
from fe2.io import MacroWriter
from fe2.io.files import LOCK, FolderInUse, run_lock

from conftest import plate

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
HOLDER = ("import sys\nfrom fe2.io.files import run_lock\nlock = run_lock(sys.argv[1])\nprint('held', flush=True)\n"
          "sys.stdin.readline()\n")   # holds the folder until its standard input closes


def holder(folder):
    """Another process holding ``folder``: started, and waited for until it holds it (bounded)."""
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True, env=ENV)
    line = [None]

    def read():
        line[0] = process.stdout.readline()
    import threading
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=60)
    if line[0] != "held\n":
        process.kill()
        pytest.fail("the holding process did not take the lock within 60 s")
    return process


def test_a_folder_held_by_another_process_is_refused_naming_it_and_the_holder(tmp_path):
    other = holder(tmp_path / "run")
    try:
        expected = rf"{tmp_path / 'run'} is in use by another run: process {other.pid} on {socket.gethostname()}"
        with pytest.raises(FolderInUse, match=expected):
            run_lock(tmp_path / "run")
        with pytest.raises(FolderInUse, match=expected):     # the macro writer of a second run
            MacroWriter(tmp_path / "run")
        with pytest.raises(FolderInUse, match=expected):     # a solve checkpointing there, before any step
            plate().solve(2, checkpoint=tmp_path / "run" / "checkpoint.npz")
        assert not (tmp_path / "run" / "checkpoint.npz").exists()
    finally:
        other.stdin.close()
        assert other.wait(timeout=30) == 0
    assert not (tmp_path / "run" / LOCK).exists()   # released when the holder ended
    with run_lock(tmp_path / "run") as lock:
        assert json.loads((tmp_path / "run" / LOCK).read_text())["pid"] == os.getpid()
    assert lock.released and not (tmp_path / "run" / LOCK).exists()


def test_the_lock_of_a_killed_run_is_taken_over_with_a_warning(tmp_path, caplog):
    other = holder(tmp_path)
    other.send_signal(signal.SIGKILL)
    other.wait(timeout=30)
    assert json.loads((tmp_path / LOCK).read_text())["pid"] == other.pid   # left behind
    with caplog.at_level(logging.WARNING, logger="fe2"), run_lock(tmp_path):
        pass
    assert f"its lock was left by process {other.pid} on {socket.gethostname()}" in caplog.text
    assert "ended without releasing it" in caplog.text


def test_one_process_may_hold_its_folder_several_times(tmp_path):
    """A case holds its folder, its writer and its solve again; the last release gives it up."""
    with run_lock(tmp_path) as outer:
        writer = MacroWriter(tmp_path)
        plate().solve(1, callback=writer, checkpoint=tmp_path / "checkpoint.npz")
        del writer
        assert (tmp_path / LOCK).is_file()
    assert outer.released and not (tmp_path / LOCK).exists()


def test_an_earlier_run_is_refused_kept_or_removed(tmp_path):
    for name in ("step_001", "step_002", "figures"):
        (tmp_path / name).mkdir()
    for name in ("run.json", "macro.pvd", "checkpoint.npz", "notes.txt"):
        (tmp_path / name).write_text("x")
    with pytest.raises(FolderInUse, match=rf"^{tmp_path} holds the output of an earlier run \(checkpoint\.npz, "
                                          r"figures, macro\.pvd, run\.json and 2 more\): overwrite it \(--overwrite\)"):
        run_lock(tmp_path, previous="refuse")
    assert not (tmp_path / LOCK).exists()
    with run_lock(tmp_path, previous="keep"):
        assert (tmp_path / "run.json").exists()
    with run_lock(tmp_path, previous="remove"):
        assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK, "notes.txt"]   # not an output of a run
    with pytest.raises(ValueError, match='previous must be "keep", "refuse" or "remove"'):
        run_lock(tmp_path, previous="replace")


def test_a_case_overwrites_an_earlier_run_only_when_asked(tmp_path, capsys):
    main = runpy.run_path(str(ROOT / "cases" / "plate_with_hole.py"), run_name="case")["main"]
    args = ["--out", str(tmp_path), "--h", "0.3", "--cell-h", "0.3", "--executor", "serial"]
    main([*args, "--steps", "2"])
    with pytest.raises(FolderInUse, match="holds the output of an earlier run"):
        main([*args, "--steps", "1"])
    _, steps, _ = main([*args, "--steps", "1", "--overwrite"])
    assert [s.number for s in steps] == [1] and not (tmp_path / "step_002").exists()
    assert len(json.loads((tmp_path / "run.json").read_text())["steps"]) == 1
    with pytest.raises(SystemExit):   # one or the other
        main([*args, "--restart", "--overwrite"])
    capsys.readouterr()
    assert fe2.cli.main(["run", str(ROOT / "cases" / "plate_with_hole.py"), *args, "--restart"]) == 2
    assert re.fullmatch(rf"fe2 error: cannot restart from {tmp_path / 'checkpoint.npz'}: its run is finished \(step 1 "
                        r"reached load 1, the full load\); nothing is left to continue\n", capsys.readouterr().err)


def test_two_runs_into_one_folder_the_second_is_refused(tmp_path):
    """`fe2 run CASE --out X & fe2 run CASE --out X --strain 0.006 --steps 4`: the second stops at once
    with one line naming the folder and the first run's process; the first run's output is whole."""
    case = [sys.executable, "-m", "fe2", "run", str(ROOT / "cases" / "plate_with_hole.py"), "--out", str(tmp_path),
            "--h", "0.3", "--cell-h", "0.3", "--executor", "serial"]
    first = subprocess.Popen([*case, "--steps", "8"], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True)
    try:
        deadline = time.time() + 60
        while not (tmp_path / LOCK).is_file() and first.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        second = subprocess.run([*case, "--strain", "0.006", "--steps", "4"], env=ENV, capture_output=True, text=True,
                                timeout=120)
        assert second.returncode == 2, second.stderr
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"fe2 error: {tmp_path} is in use by another run: process "
                                                       f"{first.pid} on {socket.gethostname()}"), second.stderr
        assert first.wait(timeout=120) == 0, first.stderr.read()
    finally:
        if first.poll() is None:
            first.kill()
    record = json.loads((tmp_path / "run.json").read_text())
    assert [s["number"] for s in record["steps"]] == list(range(1, 9))
    right = [bc for bc in record["inputs"]["dirichlet"] if bc["boundary"] == "right"]
    assert right[0]["value"] == pytest.approx(0.004)
    assert (tmp_path / "macro.pvd").read_text().count("<DataSet") == 8 and not (tmp_path / LOCK).exists()
