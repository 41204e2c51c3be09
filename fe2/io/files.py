"""Atomic file writing: a file is only ever replaced by a complete new version.

    with replaced("out/macro.vtu") as tmp:   # write the temporary path by any means
        meshio.write(tmp, mesh, file_format="vtu")
    atomic_write("out/run.json", text)       # the same for text or bytes in memory

The new content goes to ``<name>.tmp`` beside the file (never ending in the file's own suffix, so
it is not taken for output), which is renamed over the file once it is complete (:func:`os.replace`,
atomic on POSIX and Windows). A run killed at any moment therefore leaves the last complete file;
a temporary file left by a killed run is overwritten by the next write. An exception while writing
leaves the old file and removes the temporary one. ``sync=True`` forces the new content to disk
(fsync) before the rename, for files a restart depends on (checkpoints).

One run per folder: :func:`run_lock` holds a run folder for the process writing it, so that a
second run into the same folder is refused instead of mixing its files with the first one's.

    with run_lock("out/plate", previous="refuse"):   # FolderInUse if another process holds it
        ...                                          # or if it holds an earlier run
"""

import atexit
import contextlib
import datetime
import json
import logging
import os
import shutil
import socket
import sys
import threading
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # not POSIX
    fcntl = None

__all__ = ["FolderInUse", "RunLock", "atomic_write", "replaced", "run_lock"]

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def replaced(path, sync=False):
    """Yield a temporary path beside ``path`` (its folder is created); when the block ends without an
    exception, the temporary file (fsynced with ``sync``) replaces ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        yield tmp
        if sync:
            fd = os.open(tmp, os.O_RDWR)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(path, data, sync=False):
    """Write ``data`` (bytes, or str written as UTF-8) to ``path`` through :func:`replaced`.
    Returns the path."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    with replaced(path, sync=sync) as tmp:
        tmp.write_bytes(data)
    return Path(path)


# --- one run per folder ----------------------------------------------------------------------------------
LOCK = ".fe2-run.lock"
RUN_FILES = ("run.json", "macro.pvd", "micro.pvd", "units.json", "report.md", "checkpoint.npz", "checkpoint.pkl")
RUN_FOLDERS = ("step_[0-9]*", "figures")
_held = {}                # resolved folder -> [count, descriptor, pid] of the folders this process holds
_held_guard = threading.Lock()
_dropped = []             # locks garbage-collected while the guard was taken, released at its next taking


class FolderInUse(FileExistsError):
    """A run folder held by another running process, or holding an earlier run that may not be replaced."""


class RunLock:
    """The hold of this process on a run folder (see :func:`run_lock`): ``folder``, ``path`` of the
    lock file, and ``released``."""

    def __init__(self, folder, path, fd):
        self.folder, self.path, self._fd, self.released = folder, path, fd, False

    def release(self):
        """Give the folder up (the last release of this process removes the lock file)."""
        with _held_guard:
            self._give_up()
            _release_dropped()

    def _give_up(self):
        """Release, the guard being taken."""
        if self.released:
            return
        self.released = True
        entry = _held.get(self.folder)
        if entry is None or entry[1] != self._fd or entry[2] != os.getpid():
            return  # not held by this process (a forked child's copy)
        entry[0] -= 1
        if entry[0] > 0:
            return
        del _held[self.folder]
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.path)   # still locked: a process about to lock it sees a removed file and retries
            os.close(self._fd)         # closing releases the lock

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()

    def __del__(self):
        # collected while this thread may hold the guard (a collection can run at any allocation):
        # release now if the guard is free, else at its next taking
        if not self.released:
            if _held_guard.acquire(blocking=False):
                try:
                    self._give_up()
                finally:
                    _held_guard.release()
            else:
                _dropped.append(self)

    def __repr__(self):
        return f"RunLock({str(self.folder)!r}{', released' if self.released else ''})"


def _release_dropped():
    while _dropped:
        _dropped.pop()._give_up()


@atexit.register
def _release_all():
    """At the end of the process, give up the folders it still holds (their lock files removed)."""
    with _held_guard:
        for key, (_, fd, pid) in list(_held.items()):
            if pid == os.getpid() and fd is not None:
                with contextlib.suppress(OSError):
                    os.unlink(key / LOCK)
                os.close(fd)
            del _held[key]


def _after_fork_in_child():
    """A forked child holds nothing (and its guard may have been copied while taken)."""
    global _held_guard
    _held_guard = threading.Lock()
    _held.clear()
    _dropped.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def run_lock(folder, previous="keep"):
    """Hold ``folder`` (created if missing) for the run of this process: a :class:`RunLock`, released
    by ``release()``, at the end of a ``with`` block, when it is garbage-collected or when the process
    ends, however it ends.

    The lock is an advisory lock (``flock``) on ``folder/.fe2-run.lock``, which names the holder
    (process id, host, start time, command). Another process asking for the folder while it is held
    gets :class:`FolderInUse` naming the folder and the holder. A lock file left by a process that
    was killed is taken over with a warning in the log. Within one process the folder may be held
    several times (a writer and the solve that calls it); the last release gives it up.

    ``previous``: what to do with the output of an earlier run in the folder (run.json, checkpoint,
    PVD series, step_* folders, report): "keep" it (a restart, or a caller that writes over it),
    "refuse" the folder (:class:`FolderInUse`), or "remove" it once the folder is held.
    """
    if previous not in ("keep", "refuse", "remove"):
        raise ValueError(f'previous must be "keep", "refuse" or "remove", got {previous!r}')
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"the run folder {folder} is a file")
    folder.mkdir(parents=True, exist_ok=True)
    key = folder.resolve()
    path = key / LOCK
    with _held_guard:
        _release_dropped()
        entry = _held.get(key)
        if entry is not None and entry[2] == os.getpid():
            entry[0] += 1
            held = RunLock(key, path, entry[1])
        else:
            fd = _acquire(folder, path)
            _held[key] = [1, fd, os.getpid()]
            held = RunLock(key, path, fd)
    try:
        _previous_run(folder, previous)
    except BaseException:
        held.release()
        raise
    return held


def _acquire(folder, path):
    """An open descriptor of ``path`` holding its exclusive lock, the holder's description written in it."""
    if fcntl is None:  # no advisory locks on this platform: the folder is not guarded against other runs
        logger.warning("run folders are not locked on this platform: make sure no other run writes to %s", folder)
        return None
    for _ in range(50):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise FolderInUse(f"{folder} is in use by another run: {_holder(path)}; wait for it to end or "
                              "choose another output folder") from None
        except BaseException:
            os.close(fd)
            raise
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if not same:  # the file was removed by the holder releasing it: lock the new one
            os.close(fd)
            continue
        left = _read_holder(path)
        if left:
            logger.warning("taking over %s: its lock was left by %s, which ended without releasing it",
                           folder, _describe(left))
        text = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                           "started": datetime.datetime.now().isoformat(timespec="seconds"),
                           "command": " ".join(sys.argv)})
        os.ftruncate(fd, 0)
        os.pwrite(fd, text.encode("utf-8"), 0)
        return fd
    raise FolderInUse(f"could not lock {folder}: its lock file {path} keeps being replaced")


def _read_holder(path):
    """The holder recorded in a lock file (a dict), {} if none is recorded."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    try:
        holder = json.loads(text) if text.strip() else {}
    except ValueError:
        return {"unreadable": text[:80]}
    return holder if isinstance(holder, dict) else {}


def _holder(path):
    """Who holds a locked folder, in words (the holder writes its name just after locking: wait for it)."""
    for _ in range(20):
        holder = _read_holder(path)
        if holder:
            break
        time.sleep(0.05)
    if not holder:
        return f"a process that has not yet written its name to {path}"
    text = _describe(holder)
    if holder.get("host") == socket.gethostname() and isinstance(holder.get("pid"), int) and not _alive(holder["pid"]):
        text += ", which has ended, but a process it started still holds the lock"
    return text


def _describe(holder):
    if "pid" not in holder:
        return f"a process that left {holder}"
    text = f"process {holder['pid']} on {holder.get('host', 'an unknown host')}"
    if holder.get("started"):
        text += f" (started {holder['started']}"
        text += f": {holder['command']})" if holder.get("command") else ")"
    return text


def _alive(pid):
    """Whether process ``pid`` of this host runs."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # it runs, as another user
        return True
    return True


def _previous_run(folder, previous):
    """Apply the ``previous`` choice of :func:`run_lock` to the output of an earlier run in ``folder``."""
    found = sorted({*(name for name in RUN_FILES if (folder / name).exists()),
                    *(p.name for pattern in RUN_FOLDERS for p in folder.glob(pattern) if p.is_dir())})
    if previous == "keep" or not found:
        return
    if previous == "refuse":
        shown = ", ".join(found[:4]) + (f" and {len(found) - 4} more" if len(found) > 4 else "")
        raise FolderInUse(f"{folder} holds the output of an earlier run ({shown}): overwrite it (--overwrite), "
                          "continue it (--restart) or choose another output folder")
    for name in found:
        target = folder / name
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    logger.info("removed the output of an earlier run in %s (%d files and folders)", folder, len(found))
