"""Checkpoints of a macro run: the committed load, field, histories and step size after each step.

Written atomically (a temporary file renamed over the old one), so a run killed at any moment leaves
the last complete checkpoint; :meth:`fe2.macro.Problem.solve` with ``restart=True`` continues from it
and reaches the same results as an uninterrupted run.
"""

import pickle
from pathlib import Path

from .files import replaced


def save(path, **data):
    """Pickle ``data`` (a dict of the keyword arguments) to ``path``, atomically and synced to disk.
    Returns the path."""
    path = Path(path)
    with replaced(path, sync=True) as tmp, open(tmp, "wb") as f:
        pickle.dump(data, f, protocol=pickle.HIGHEST_PROTOCOL)
    return path


def load(path):
    """The dict saved by :func:`save` at ``path``; FileNotFoundError if there is none."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    with open(path, "rb") as f:
        return pickle.load(f)
