"""Checkpoints of a macro run: the committed load, field, histories and step size after each step.

Written atomically (a temporary file renamed over the old one), so a run killed at any moment leaves
the last complete checkpoint; :meth:`fe2.macro.Problem.solve` with ``restart=True`` continues from it
and reaches the same results as an uninterrupted run.
"""

import os
import pickle
from pathlib import Path


def save(path, **data):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as f:
        pickle.dump(data, f, protocol=pickle.HIGHEST_PROTOCOL)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
    return path


def load(path):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    with open(path, "rb") as f:
        return pickle.load(f)
