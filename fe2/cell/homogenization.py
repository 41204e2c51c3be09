"""Homogenization of a cell: effective tensor, load cases, Hill-Mandel check, comparison of conditions.

Convention: the effective tensor maps the averaged strain (Mandel vector, see :mod:`fe2.notation`)
to the averaged stress, <sigma> = C <eps>; for conduction it maps <grad T> to <K grad T> = -<q>.
"""

from dataclasses import dataclass, field

import numpy as np

from . import bounds, nonlinear
from .averages import averages, linearized
from .conditions import Kubc, Periodic, Subc
from ..materials.law import SMALL_STRAIN, warn_from_caller
from ..notation import mandel_to_voigt
from ..timing import timed


def bind(cell, bc, solver="auto"):
    """The cell problem of ``bc`` on ``cell`` (a cell: at its virgin tangent; or a linearization),
    assembled and factorized once (see :class:`fe2.cell.conditions.CellProblem`; ``solver``: "direct",
    "iterative" or "auto")."""
    return linearized(cell).bind(bc, solver)


def response(cell, strain, bc, state=None):
    """FE² entry point: averaged stress and consistent tangent of ``cell`` for the macro strain under bc.

    The stress is the volume average of the solved micro field; the tangent is the condensed
    (Schur-complement) tangent, not an average of micro tangents. A cell with a nonlinear phase is
    solved by the micro Newton of :func:`fe2.cell.nonlinear.solve` from the history ``state``
    (None: virgin), so this is the same stress and tangent; use that function to get the new history.
    """
    strain = cell.check_strain(strain)  # before any assembly or factorization
    if cell.physics.name == "elasticity" and np.linalg.norm(strain) > SMALL_STRAIN:
        warn_from_caller(f"the macro strain given to the cell is beyond the small-strain range: |eps| = "
                         f"{np.linalg.norm(strain):.3g} > {SMALL_STRAIN:g} for {strain.tolist()} (Mandel); its "
                         "small-strain laws extrapolate there")
    if not cell.linear:
        solution = nonlinear.solve(cell, strain, bc, state)
        return solution.stress, solution.tangent
    problem = cell.linearize().bind(bc)
    return cell.average(cell.linearize().stress(problem.field(strain))), problem.tangent()


def tangent(cell, bc):
    """Effective tangent of ``cell`` (virgin) or of a linearization under bc."""
    return linearized(cell).bind(bc).tangent()


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

    def __str__(self):
        plane = f", plane {self.cell.plane}" if getattr(self.cell, "plane", None) else ""
        form = "dP/dF, row-major" if self.cell.physics.name == "finite strain" else "Mandel"
        lines = [f"{self.bc}: effective tensor ({form}, rows/cols {', '.join(self.cell.physics.labels)}{plane})"]
        lines += ["  " + " ".join(f"{v:12.6g}" for v in row) for row in self.tensor]
        lines.append(f"  symmetry error {self.symmetry_error:.1e}, eigenvalues {np.array2string(self.eigenvalues, precision=5)}, "
                     f"worst Hill-Mandel residual {self.hill_mandel:.1e}")
        return "\n".join(lines)


def homogenize(cell, bc=Periodic(), solver="auto"):
    """Solve the unit load cases under ``bc`` ("periodic", "kubc", "subc" or a condition) of ``cell``
    at its virgin tangent, or of a linearization (``cell.linearize(tangent)``, the converged one of a
    micro solve: ``solution.linearization``) at its tangent.

    ``solver``: "direct" (sparse Cholesky factorization), "iterative" (CG preconditioned by algebraic
    multigrid, effective tensor to a relative 1e-8) or "auto" (the faster by :func:`fe2.cell.linalg.choose`:
    direct for 2D cells and 3D cells below about 30k unknowns; docs/solvers.md).

    A periodic laminate (equal layers of k = 1 and 10, normal x) gives the exact harmonic mean across
    its layers and the arithmetic mean along them, even on a 4 x 4 mesh:

    >>> import skfem, fe2
    >>> x = np.linspace(0, 1, 5)
    >>> mesh = skfem.MeshQuad.init_tensor(x, x).with_subdomains(
    ...     {"soft": lambda p: p[0] < 0.5, "stiff": lambda p: p[0] > 0.5})
    >>> cell = fe2.Cell(mesh, {"soft": fe2.Conductor(1.0), "stiff": fe2.Conductor(10.0)})
    >>> result = homogenize(cell, "periodic")
    >>> print(np.round(result.tensor, 6) + 0.0)              # + 0.0: no "-0." from round-off
    [[1.818182 0.      ]
     [0.       5.5     ]]
    >>> bool(np.allclose(result.tensor, fe2.analytic.laminate_conductivity([np.eye(2), 10 * np.eye(2)], [0.5, 0.5])))
    True
    >>> bool(result.hill_mandel < 1e-12)
    True
    """
    linearization = linearized(cell)
    cell = linearization.body
    problem = linearization.bind(bc, solver)
    timings = dict(cell.timings)
    with timed(timings, "averages"):
        fields = problem.unit_fields()
        eps, sig, residual = averages(linearization, fields)
        cases = [LoadCase(*case) for case in zip(cell.physics.labels, eps, sig, residual, fields.T)]
    timings.update(problem.timings)
    return Homogenization(cell, problem.condition.name, problem.tangent(), cases, timings)


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
            "convention": convention(cell),
            "tensors": {name: r.tensor.tolist() for name, r in self.results.items()},
            "bounds": {name: b.tolist() for name, b in self.bounds.items()},
            "hill_mandel": {name: r.hill_mandel for name, r in self.results.items()},
            "ordered": self.ordered,
        }

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


def convention(cell):
    """The notation of a cell's effective tensor, in words."""
    labels = ", ".join(cell.physics.labels)
    if cell.physics.name == "elasticity":
        return f"Mandel ({labels})" + (f", plane {cell.plane}" if cell.plane else "")
    if cell.physics.name == "finite strain":
        return f"dP/dF, row-major ({labels})"
    return f"conductivity ({labels}), maps <grad T> to -<q>"


def compare(cell):
    """Homogenize under SUBC, periodic and KUBC, with the Voigt, Reuss and (if defined) HS bounds, of
    ``cell`` at its virgin tangent (or of a linearization)."""
    results = {bc.name: homogenize(cell, bc) for bc in (Subc(), Periodic(), Kubc())}
    found = {"voigt": bounds.voigt(cell), "reuss": bounds.reuss(cell)}
    try:
        found["hs_lower"], found["hs_upper"] = bounds.hashin_shtrikman(cell)
    except ValueError:
        pass
    return Comparison(results, found)
