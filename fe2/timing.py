"""Wall-clock time of the stages of a computation, kept with the object that did the work."""

from contextlib import contextmanager
from time import perf_counter


@contextmanager
def timed(record, stage):
    """Add the wall time of the ``with`` block to ``record[stage]`` (seconds)."""
    start = perf_counter()
    try:
        yield
    finally:
        record[stage] = record.get(stage, 0.0) + perf_counter() - start
