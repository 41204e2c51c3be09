"""Homogenization of a cell: effective tensor, load cases, Hill-Mandel check, comparison of conditions.

Convention: the effective tensor maps the averaged strain (Mandel vector, see :mod:`fe2.notation`)
to the averaged stress, <sigma> = C <eps>; for conduction it maps <grad T> to <K grad T> = -<q>.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import bounds
from .boundary import Kubc, Periodic, Subc
from .io import write_vtu
from .notation import mandel_to_voigt
from .timing import timed


def bind(cell, bc):
    """The condition ``bc`` bound to ``cell``: assembled and factorized once, kept by the cell until
    its tangent changes (see :meth:`fe2.Cell.bind`)."""
    return cell.bind(bc)


def hill_mandel(cell, u, stress=None):
    """Relative Hill-Mandel residual |<sigma:eps> - <sigma>:<eps>| / |<sigma>:<eps>| of the field u
    (0 for a field without strain energy); ``stress`` the quadrature-point stress (nel, nqp, n) of a
    nonlinear law, by default the cell's tangent times the strain."""
    u = np.asarray(u)[:, None]
    return _averages(cell, u, None if stress is None else np.asarray(stress)[..., None])[2][0]


def _averages(cell, fields, stress=None):
    """<eps>, <sigma> (m, n) and the Hill-Mandel residuals (m,) of the DOF vectors fields (ndofs, m)."""
    eps = cell.B @ fields[cell.dofs][:, None]                         # (nel, nqp, n, m)
    sig = cell.tangent @ eps if stress is None else stress
    mean_eps, mean_sig = cell.average(eps).T, cell.average(sig).T
    micro = cell.average(np.einsum("eqkm,eqkm->eqm", sig, eps))
    macro = np.einsum("mk,mk->m", mean_sig, mean_eps)
    residual = np.abs(micro - macro) / np.where(macro == 0, 1.0, np.abs(macro))
    return mean_eps, mean_sig, np.where((micro == 0) & (macro == 0), 0.0, residual)


def response(cell, strain, bc):
    """FE² entry point: averaged stress and consistent tangent for the macro strain under bc.

    The stress is the volume average of the solved micro field; the tangent is the condensed
    (Schur-complement) tangent of the bound condition, not an average of micro tangents.
    """
    strain = cell.check_strain(strain)  # before any assembly or factorization
    bound = cell.bind(bc)
    u = bound.field(strain)
    return cell.average(cell.stress(u)), bound.tangent()


def tangent(cell, bc):
    """Effective (consistent) tangent of the cell under bc."""
    return cell.bind(bc).tangent()


@dataclass
class LoadCase:
    """One unit macro strain: the averaged strain and stress of its field and the Hill-Mandel residual."""

    label: str
    strain: np.ndarray
    stress: np.ndarray
    hill_mandel: float
    field: np.ndarray = field(repr=False)


@dataclass
class Homogenization:
    """Effective tensor of a cell under one boundary condition."""

    cell: object = field(repr=False)
    bc: str
    tensor: np.ndarray
    cases: list
    timings: dict = field(default_factory=dict, repr=False)

    @property
    def symmetry_error(self):
        """|C - C^T| / |C| (Frobenius)."""
        return np.linalg.norm(self.tensor - self.tensor.T) / np.linalg.norm(self.tensor)

    @property
    def eigenvalues(self):
        return np.linalg.eigvalsh(0.5 * (self.tensor + self.tensor.T))

    @property
    def positive_definite(self):
        return bool(self.eigenvalues.min() > 0)

    @property
    def hill_mandel(self):
        """Worst Hill-Mandel residual over the load cases."""
        return max(case.hill_mandel for case in self.cases)

    def voigt(self):
        """The tensor in engineering Voigt notation (stiffness acting on 2 eps_xy)."""
        if self.cell.physics.name == "conduction":
            return self.tensor
        return mandel_to_voigt(self.tensor)

    def write_vtu(self, folder, prefix=""):
        """Write the field of every load case to ``folder/{prefix}{bc}_{label}.vtu``."""
        return [write_vtu(self.cell, Path(folder) / f"{prefix}{self.bc}_{case.label}.vtu", case.field, case.strain)
                for case in self.cases]

    def __str__(self):
        lines = [f"{self.bc}: effective tensor (Mandel, rows/cols {', '.join(self.cell.physics.labels)})"]
        lines += ["  " + " ".join(f"{v:12.6g}" for v in row) for row in self.tensor]
        lines.append(f"  symmetry error {self.symmetry_error:.1e}, eigenvalues {np.array2string(self.eigenvalues, precision=5)}, "
                     f"worst Hill-Mandel residual {self.hill_mandel:.1e}")
        return "\n".join(lines)


def homogenize(cell, bc=Periodic()):
    """Solve the unit load cases of ``cell`` under ``bc`` ("periodic", "kubc", "subc" or an instance)."""
    bound = cell.bind(bc)
    timings = dict(cell.timings)
    with timed(timings, "averages"):
        fields = bound.unit_fields()
        eps, sig, residual = _averages(cell, fields)
        cases = [LoadCase(*case) for case in zip(cell.physics.labels, eps, sig, residual, fields.T)]
    timings.update(bound.timings)
    return Homogenization(cell, bound.condition.name, bound.tangent(), cases, timings)


@dataclass
class Comparison:
    """The three conditions on one cell, with the bounds and Huet's ordering SUBC <= periodic <= KUBC."""

    results: dict
    bounds: dict

    def gaps(self):
        """Smallest eigenvalue of each difference that must be positive semi-definite, largest last."""
        chain = [("reuss", self.bounds["reuss"]), ("subc", self.results["subc"].tensor),
                 ("periodic", self.results["periodic"].tensor), ("kubc", self.results["kubc"].tensor),
                 ("voigt", self.bounds["voigt"])]
        out = {}
        for (lo, A), (hi, B) in zip(chain, chain[1:]):
            diff = B - A
            out[f"{hi} - {lo}"] = np.linalg.eigvalsh(0.5 * (diff + diff.T))
        return out

    @property
    def ordered(self):
        """True when reuss <= subc <= periodic <= kubc <= voigt, to round-off."""
        scale = np.linalg.norm(self.bounds["voigt"])
        return all(eig.min() >= -1e-10 * scale for eig in self.gaps().values())

    def summary(self):
        """The tensors, bounds, Hill-Mandel residuals and ordering as plain data (JSON-ready)."""
        cell = next(iter(self.results.values())).cell
        return {
            "cell": repr(cell),
            "convention": f"Mandel ({', '.join(cell.physics.labels)})" if cell.physics.name == "elasticity"
                          else f"conductivity ({', '.join(cell.physics.labels)}), maps <grad T> to -<q>",
            "tensors": {name: r.tensor.tolist() for name, r in self.results.items()},
            "bounds": {name: b.tolist() for name, b in self.bounds.items()},
            "hill_mandel": {name: r.hill_mandel for name, r in self.results.items()},
            "ordered": self.ordered,
        }

    def write(self, folder):
        """Write the micro fields of every condition and load case as VTU, and summary.json."""
        folder = Path(folder)
        paths = [path for result in self.results.values() for path in result.write_vtu(folder)]
        (folder / "summary.json").write_text(json.dumps(self.summary(), indent=2))
        return paths

    def __str__(self):
        lines = [str(result) for result in self.results.values()]
        lines.append("ordering (eigenvalues of the differences; all >= 0 when ordered):")
        for name, eig in self.gaps().items():
            lines.append(f"  {name:18s} min {eig.min():12.5g}  max {eig.max():12.5g}")
        for name in ("hs_lower", "hs_upper"):
            if name in self.bounds:
                lines.append(f"  {name}: eigenvalues {np.array2string(np.linalg.eigvalsh(self.bounds[name]), precision=5)}")
        lines.append(f"  reuss <= subc <= periodic <= kubc <= voigt: {'holds' if self.ordered else 'VIOLATED'}")
        return "\n".join(lines)


def compare(cell):
    """Homogenize under SUBC, periodic and KUBC, with the Voigt, Reuss and (if defined) HS bounds."""
    results = {bc.name: homogenize(cell, bc) for bc in (Subc(), Periodic(), Kubc())}
    found = {"voigt": bounds.voigt(cell), "reuss": bounds.reuss(cell)}
    try:
        found["hs_lower"], found["hs_upper"] = bounds.hashin_shtrikman(cell)
    except ValueError:
        pass
    return Comparison(results, found)
