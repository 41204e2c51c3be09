"""How big must a cell be? Apparent properties against cell size, realizations and boundary condition.

For each cell size L (in inclusion diameters) and each of ``realizations`` random cells, the apparent
tensor is computed under SUBC, periodic and KUBC (same mesh, one factorization per condition). Per
size and condition the study gives the mean, standard deviation and a Student-t confidence interval
of the scalar property Z, the mean of the normal diagonal terms of the tensor (K11, K22(, K33) or
C11, C22(, C33)). Huet's ordering SUBC <= periodic <= KUBC holds for every cell;
the three means close in on each other as L grows, and the variance falls like V^-alpha with
alpha close to 1 for a finite-range microstructure.

RVE size in the manner of Kanit et al. (Int. J. Solids Struct. 40, 2003): with n realizations of
volume V, the relative error of the mean is 2 D_Z(V) / (Z sqrt(n)), D_Z the standard deviation.
Fitting D_Z^2(V) = D_Z^2(V0) (V0 / V)^alpha, the smallest volume meeting a relative precision eps is

    V = V0 * (4 D_Z^2(V0) / (eps^2 Z^2 n))^(1 / alpha).
"""

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import stats

from . import geometry
from .cell.cell import Cell
from .cell.homogenization import homogenize
from .parallel import executor as make_executor

CONDITIONS = ("subc", "periodic", "kubc")


@dataclass(frozen=True)
class RandomDiscs:
    """Random periodic cells of equal discs (2D) of diameter ``diameter`` at area fraction ``fraction``;
    a cell of size L is L diameters wide. ``h`` is the mesh size in diameters."""

    fraction: float
    diameter: float = 1.0
    h: float = 0.2
    gap: float = 0.0
    phases: tuple = ("matrix", "inclusion")

    def count(self, size):
        """Number of discs in a cell of ``size`` diameters (the disc size is then set by the fraction)."""
        return max(1, int(round(self.fraction * size**2 / (np.pi / 4))))

    def __call__(self, size, seed):
        return geometry.random_inclusions(self.fraction, n=self.count(size), size=size * self.diameter,
                                          gap=self.gap * self.diameter, h=self.h * self.diameter, seed=seed,
                                          phases=self.phases)


@dataclass
class SizeStudy:
    """Apparent tensors of ``realizations`` random cells at each size, under each condition."""

    sizes: np.ndarray
    realizations: int
    dim: int
    tensors: dict                      # condition -> (nsizes, realizations, n, n)
    values: dict = field(init=False)   # condition -> (nsizes, realizations), the scalar property Z

    def __post_init__(self):
        # Z = the mean of the first dim diagonal terms: K11, K22(, K33) or the normal stiffnesses C11, C22(, C33)
        self.values = {bc: np.diagonal(t, axis1=-2, axis2=-1)[..., :self.dim].mean(axis=-1) for bc, t in self.tensors.items()}

    @property
    def volumes(self):
        return self.sizes.astype(float) ** self.dim

    def statistics(self, confidence=0.95):
        """Per condition: mean, standard deviation and half-width of the confidence interval, per size."""
        n = self.realizations
        t = stats.t.ppf(0.5 + confidence / 2, n - 1) if n > 1 else np.nan
        out = {}
        for bc, values in self.values.items():
            mean, std = values.mean(axis=1), values.std(axis=1, ddof=1) if n > 1 else np.zeros(len(self.sizes))
            out[bc] = {"mean": mean, "std": std, "ci": t * std / np.sqrt(n)}
        return out

    def variance_exponent(self, bc="periodic"):
        """alpha in Var(Z) ~ V^-alpha, fitted by least squares in log-log over the sizes."""
        var = self.values[bc].var(axis=1, ddof=1)
        slope = np.polyfit(np.log(self.volumes), np.log(var), 1)[0]
        return -slope

    def ordered(self, tol=1e-10):
        """True when SUBC <= periodic <= KUBC (Loewner order) holds for every realization at every size."""
        for lo, hi in (("subc", "periodic"), ("periodic", "kubc")):
            diff = self.tensors[hi] - self.tensors[lo]
            eig = np.linalg.eigvalsh(0.5 * (diff + np.swapaxes(diff, -1, -2)))
            if eig.min() < -tol * np.abs(self.tensors[hi]).max():
                return False
        return True

    def rve_size(self, precision, realizations=1, bc="periodic"):
        """Smallest cell size (in diameters) whose mean over ``realizations`` cells meets the relative
        ``precision`` at 95 % (Kanit et al. 2003), from the fitted variance law."""
        if not 0 < precision < 1:
            raise ValueError(f"precision must be a relative error in (0, 1), got {precision}")
        alpha = self.variance_exponent(bc)
        if not alpha > 0:
            raise ValueError(f"the variance does not fall with the cell volume (alpha = {alpha:.2f}); "
                             "more realizations or larger cells are needed")
        values = self.values[bc]
        V0, var0 = self.volumes[-1], values[-1].var(ddof=1)
        Z = values[-1].mean()
        volume = V0 * (4 * var0 / (precision**2 * Z**2 * realizations)) ** (1 / alpha)
        return float(volume ** (1 / self.dim))

    def table(self, confidence=0.95):
        statistics = self.statistics(confidence)
        lines = ["size [diameters] | " + " | ".join(f"{bc:>28s}" for bc in CONDITIONS) + " | spread (kubc-subc)/periodic"]
        for i, size in enumerate(self.sizes):
            cells = [f"{s['mean'][i]:10.5f} ± {s['ci'][i]:8.5f} (sd {s['std'][i]:7.5f})" for s in (statistics[bc] for bc in CONDITIONS)]
            spread = (statistics["kubc"]["mean"][i] - statistics["subc"]["mean"][i]) / statistics["periodic"]["mean"][i]
            lines.append(f"{size:16g} | " + " | ".join(cells) + f" | {spread:.4f}")
        return "\n".join(lines)

    def plot(self, path, confidence=0.95, title="apparent property against cell size"):
        """Means with confidence intervals against size, one curve per condition, to a PNG."""
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        statistics = self.statistics(confidence)
        fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2))
        for bc, marker in zip(CONDITIONS, "v o ^".split()):
            s = statistics[bc]
            ax.errorbar(self.sizes, s["mean"], yerr=s["ci"], marker=marker, capsize=3, label=bc)
            bx.loglog(self.volumes, s["std"] ** 2, marker=marker, label=bc)
        v = self.volumes
        ref = statistics["periodic"]["std"][0] ** 2 * v[0] / v
        bx.loglog(v, ref, "k--", lw=1, label="∝ 1/V")
        ax.set(xlabel="cell size L / d", ylabel="apparent property Z", title=title)
        bx.set(xlabel="cell volume (L/d)^dim", ylabel="variance of Z", title=f"variance (alpha = {self.variance_exponent():.2f})")
        ax.legend(), bx.legend()
        fig.tight_layout()
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120)
        plt.close(fig)
        return Path(path)


def size_study(generator, sizes, realizations, materials, *, order=1, executor="serial", seed=0, progress=True):
    """Apparent tensors of ``realizations`` cells ``generator(size, seed)`` for each size, under
    SUBC, periodic and KUBC, computed through ``executor`` (see :mod:`fe2.parallel`).

    ``generator`` and ``materials`` must be picklable for process and Dask executors (a module-level
    callable such as :class:`RandomDiscs`). Realization k of every size uses seed ``seed + k``.
    """
    sizes = np.asarray(sizes, dtype=float)
    if sizes.ndim != 1 or sizes.size < 2 or np.any(sizes <= 0) or np.any(np.diff(sizes) <= 0):
        raise ValueError(f"sizes must be at least two increasing positive numbers, got {sizes.tolist()}")
    if int(realizations) < 2:
        raise ValueError(f"realizations must be at least 2 to estimate a variance, got {realizations}")
    realizations = int(realizations)
    task = functools.partial(_task, generator=generator, materials=materials, order=order)
    jobs = [(size, seed + k) for size in sizes for k in range(realizations)]
    with make_executor(executor) as ex:
        results = ex.map(task, jobs, label="cells", progress=progress)
    dims = {r["dim"] for r in results}
    tensors = {bc: np.array([r[bc] for r in results]).reshape((sizes.size, realizations) + results[0][bc].shape)
               for bc in CONDITIONS}
    return SizeStudy(sizes, realizations, dims.pop(), tensors)


def _task(job, *, generator, materials, order):
    size, seed = job
    cell = Cell(generator(size, seed), materials, order=order)
    out = {bc: homogenize(cell, bc).tensor for bc in CONDITIONS}
    out["dim"] = cell.dim
    return out
