"""Offline sampling of a cell's averaged response over a box of macro strains (or temperature gradients).

    strains = design([(-2, 2), (-2, 2)], 64)                      # a scrambled Sobol design in the box
    samples = sample(cell, "periodic", strains, executor=fe2.parallel.executor("processes"))
    samples.save("cell_samples.npz"); samples = Samples.load("cell_samples.npz")

Each sample is one micro Newton solve (:func:`fe2.cell.nonlinear.solve`) from the virgin state: the
averaged stress <sigma> (flux -<q> for conduction), the consistent tangent and the Hill-Mandel
residual. Only history-free cells have a response that is a function of the strain alone: a cell with
history is refused.
"""

import dataclasses
import functools
import time
from pathlib import Path

import numpy as np
from scipy.stats import qmc

from ..cell import nonlinear
from ..cell.conditions import condition
from ..parallel import Serial


def design(ranges, count, *, kind="sobol", seed=0):
    """``count`` strains (count, n) in the box ``ranges`` [(low, high)] * n: "sobol" (scrambled,
    scipy.stats.qmc; a power of two keeps its balance), "halton", or "grid" (a tensor grid of
    round(count^(1/n)) points per axis, corners included)."""
    ranges = np.asarray(ranges, dtype=float)
    if ranges.ndim != 2 or ranges.shape[1] != 2 or not np.all(ranges[:, 1] > ranges[:, 0]):
        raise ValueError(f"ranges must be [(low, high), ...] with low < high per component, got {ranges.tolist()}")
    if int(count) != count or count < ranges.shape[0] + 2:
        raise ValueError(f"a design over {ranges.shape[0]} components needs a whole count >= {ranges.shape[0] + 2}, "
                         f"got {count!r}")
    n = ranges.shape[0]
    if kind == "grid":
        axis = np.linspace(0, 1, max(2, round(count ** (1 / n))))
        unit = np.stack(np.meshgrid(*[axis] * n, indexing="ij"), axis=-1).reshape(-1, n)
    elif kind in ("sobol", "halton"):
        engine = qmc.Sobol(n, seed=seed) if kind == "sobol" else qmc.Halton(n, seed=seed)
        unit = engine.random(int(count))
    else:
        raise ValueError(f"unknown design {kind!r}; use 'sobol', 'halton' or 'grid'")
    return ranges[:, 0] + unit * (ranges[:, 1] - ranges[:, 0])


@dataclasses.dataclass(frozen=True)
class Samples:
    """Cell solves at the strains (N, n): averaged stress (N, n), consistent tangent (N, n, n),
    Hill-Mandel residual (N,), and the seconds each took (N,)."""

    strain: np.ndarray
    stress: np.ndarray
    tangent: np.ndarray
    hill_mandel: np.ndarray
    seconds: np.ndarray

    def __len__(self):
        return len(self.strain)

    def __add__(self, other):
        return Samples(*(np.concatenate([a, b]) for a, b in zip(dataclasses.astuple(self), dataclasses.astuple(other))))

    def save(self, path):
        """Write the samples to ``path`` (.npz, numeric arrays only)."""
        np.savez(path, **dataclasses.asdict(self))
        return Path(path)

    @classmethod
    def load(cls, path):
        """Samples written by :meth:`save`; a ValueError naming the file if it holds something else."""
        with np.load(path, allow_pickle=False) as data:
            missing = [f.name for f in dataclasses.fields(cls) if f.name not in data]
            if missing:
                raise ValueError(f"{path} is not a samples file: it lacks {missing}")
            return cls(*(data[f.name] for f in dataclasses.fields(cls)))


def solve_strains(cell, bc, settings, strains):
    """The cell solved from its virgin state at each of ``strains`` (m, n): :class:`Samples`."""
    out = {"stress": [], "tangent": [], "hill_mandel": [], "seconds": []}
    for E in strains:
        clock = time.perf_counter()
        solution = nonlinear.solve(cell, E, bc, None, **settings)
        out["seconds"].append(time.perf_counter() - clock)
        out["stress"].append(solution.stress)
        out["tangent"].append(solution.tangent)
        out["hill_mandel"].append(solution.hill_mandel)
    return Samples(np.asarray(strains, dtype=float).reshape(-1, cell.physics.size), *(np.asarray(v) for v in out.values()))


def check_history_free(cell):
    """``cell`` if no phase of it carries a history, else a ValueError naming the phases that do."""
    historied = [name for name, law in cell.materials.items()
                 if not law.linear and law.initial_state((1,)) is not None]
    if historied:
        raise ValueError(f"the cell's phases {historied} carry a history: its response is not a function of the "
                         "macro strain alone; use fe2.surrogate.AdaptiveRVELaw for history-dependent cells")
    return cell


def sample(cell, bc, strains, *, executor=None, tol=1e-10, max_iterations=25, progress=False):
    """Solve the history-free ``cell`` under ``bc`` at each of ``strains`` (N, n), in chunks spread
    over ``executor`` (:mod:`fe2.parallel`; default serial): :class:`Samples`, in the order given."""
    check_history_free(cell)
    strains = np.atleast_2d(np.asarray(strains, dtype=float))
    if strains.shape[1] != cell.physics.size or not np.all(np.isfinite(strains)):
        raise ValueError(f"strains must be finite, of shape (N, {cell.physics.size}) for this cell, got {strains.shape}")
    executor = executor or Serial()
    chunks = [chunk for chunk in np.array_split(strains, 2 * executor.workers) if len(chunk)]
    task = functools.partial(solve_strains, cell, condition(bc), {"tol": tol, "max_iterations": max_iterations})
    parts = executor.map(task, chunks, label="cell samples", progress=progress)
    return functools.reduce(Samples.__add__, parts)
