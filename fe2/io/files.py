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
"""

import contextlib
import os
from pathlib import Path

__all__ = ["atomic_write", "replaced"]


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
