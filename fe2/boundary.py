"""Boundary conditions of the cell problem: Periodic, Kubc and Subc.

Each condition binds to a cell as a factorized system with two methods, as in OOFEM's prescribed
gradient conditions: ``field(E)`` (the micro field for the macro strain E) and ``tangent()`` (the
effective tangent d<sigma>/dE from the condensed problem). Notation: K the cell stiffness,
D the affine field (columns: unit macro strains), V the cell volume.

* Periodic, Kubc: u = D E + T w with T the admissible fluctuations (periodic with one node fixed
  per component; zero on the boundary). (T^T K T) w = -T^T K D E, and the tangent is the Schur
  complement  C = (D^T K D - (T^T K D)^T (T^T K T)^-1 (T^T K D)) / V.
* Subc: uniform traction Sigma n on the boundary, i.e. the nodal load F Sigma with
  F = int B^T dx (= int N n ds), rigid modes fixed by a few pinned DOFs: K_r u = F Sigma.
  <eps> = S Sigma with the apparent compliance S = F^T K_r^-1 F / V, and C = S^-1.
"""

import numpy as np

from .linalg import factorize
from .timing import timed


class _Condition:
    """A boundary condition: a description that binds to any cell."""

    name = None

    def __init__(self, tol=1e-8):
        if not 0 < float(tol) < 1e-3:
            raise ValueError(f"tol is a node-matching tolerance relative to the cell diameter, 0 < tol < 1e-3; got {tol}")
        self.tol = float(tol)

    def __eq__(self, other):
        return type(self) is type(other) and self.tol == other.tol

    def __hash__(self):
        return hash((type(self), self.tol))

    def __repr__(self):
        return f"{type(self).__name__}()"

    def dof_map(self, cell):
        """Reduced index of every DOF (-1: fixed to zero) and the number of reduced DOFs."""
        raise NotImplementedError


class _Bound:
    """A condition bound to one cell: the reduced stiffness, factorized once."""

    def __init__(self, condition, cell):
        self.condition, self.cell = condition, cell
        self.timings = {}
        with timed(self.timings, "constraints"):
            self.map, self.n = cell.constraint(condition)
        with timed(self.timings, "assembly"):
            self.matrix = cell.assemble(self.map, self.n)
        with timed(self.timings, "factorization"):
            self.factor = factorize(self.matrix)

    def solve(self, b):
        with timed(self.timings, "solves"):
            return self.factor.solve(b)

    def expand(self, x):
        """Reduced vector(s) -> full DOF vector(s), zero at the fixed DOFs."""
        out = np.zeros((self.cell.ndofs,) + x.shape[1:])
        free = self.map >= 0
        out[free] = x[self.map[free]]
        return out


class _Kinematic(_Bound):
    """u = D E + T w: Periodic and Kubc."""

    def __init__(self, condition, cell):
        super().__init__(condition, cell)
        with timed(self.timings, "assembly"):
            self.coupling = cell.scatter(cell.unit_strain_forces(), self.map, self.n)   # T^T K D
        self.unit = -self.solve(self.coupling)                    # reduced fluctuations of unit strains
        # D^T K D = V <C>: the affine fields have the uniform unit strains
        self._tangent = cell.average(cell.tangent) + self.coupling.T @ self.unit / cell.volume

    def tangent(self):
        return self._tangent

    def unit_fields(self):
        return self.cell.affine + self.expand(self.unit)

    def field(self, strain):
        strain = self.cell.check_strain(strain)
        w = -self.solve(self.coupling @ strain)
        return self.cell.affine @ strain + self.expand(w)


class _Static(_Bound):
    """K_r u = F Sigma: Subc."""

    def __init__(self, condition, cell):
        super().__init__(condition, cell)
        with timed(self.timings, "assembly"):
            self.load = cell.scatter(cell.unit_stress_forces(), self.map, self.n)   # F, one column per unit stress
        self.unit_stress = self.solve(self.load)
        self.compliance = self.load.T @ self.unit_stress / cell.volume
        self._tangent = np.linalg.inv(self.compliance)

    def tangent(self):
        return self._tangent

    def unit_fields(self):
        return self.expand(self.unit_stress @ self._tangent)

    def field_from_stress(self, stress):
        """Micro field under the uniform traction stress . n (stress-driven SUBC); the stress in
        the notation of the strain (a Mandel vector, or K grad T for conduction)."""
        return self.expand(self.solve(self.load @ self.cell.check_strain(stress, "stress")))

    def field(self, strain):
        return self.field_from_stress(self._tangent @ self.cell.check_strain(strain))


class Periodic(_Condition):
    """Periodic fluctuation under the cell's lattice vectors; nodes matched within tol * diameter."""

    name = "periodic"
    bind = _Kinematic

    def dof_map(self, cell):
        node_master = cell.lattice.periodic_masters(cell.basis.doflocs, self.tol * cell.lattice.diameter)
        ncomp = cell.physics.ncomp
        master = (node_master[:, None] * ncomp + np.arange(ncomp)).ravel()  # interleaved vector DOFs
        # masters keep their own index; fix the fluctuation at the first master DOF of each
        # component (removes the constant modes), then number the free masters consecutively
        free = np.zeros(cell.ndofs, dtype=bool)
        free[master] = True
        free[np.flatnonzero(free)[:ncomp]] = False
        index, n = _compress(free)
        return index[master], n


class Kubc(_Condition):
    """Kinematic uniform boundary condition: u = E x on the whole cell boundary (the mesh's
    boundary facets)."""

    name = "kubc"
    bind = _Kinematic

    def dof_map(self, cell):
        ncomp = cell.physics.ncomp
        nodes = cell.basis.get_dofs().all()  # scalar DOFs on the boundary facets, P2 mid-sides included
        free = np.ones(cell.ndofs, dtype=bool)
        free[(nodes[:, None] * ncomp + np.arange(ncomp)).ravel()] = False
        return _compress(free)


class Subc(_Condition):
    """Static uniform boundary condition: traction Sigma n on the whole cell boundary."""

    name = "subc"
    bind = _Static

    def dof_map(self, cell):
        free = np.ones(cell.ndofs, dtype=bool)
        free[_rigid_pins(cell.doflocs, cell.rigid_modes)] = False
        return _compress(free)


def _compress(free):
    index = np.full(free.size, -1)
    index[free] = np.arange(free.sum())
    return index, int(free.sum())


def _rigid_pins(doflocs, modes):
    """A few DOFs whose fixing removes every rigid mode: chosen greedily among the DOFs at a corner
    point A, the point B farthest from A and the point C farthest from the line AB."""
    x = doflocs
    a = np.argmin(np.linalg.norm(x - x.min(axis=1, keepdims=True), axis=0))
    b = np.argmax(np.linalg.norm(x - x[:, [a]], axis=0))
    axis = (x[:, b] - x[:, a]) / np.linalg.norm(x[:, b] - x[:, a])
    rel = x - x[:, [a]]
    c = np.argmax(np.linalg.norm(rel - np.outer(axis, axis @ rel), axis=0))
    candidates = np.concatenate([np.flatnonzero(np.all(x == x[:, [p]], axis=0)) for p in (a, b, c)])
    pins = []
    for dof in candidates:
        if np.linalg.matrix_rank(modes[pins + [dof]]) > len(pins):
            pins.append(dof)
        if len(pins) == modes.shape[1]:
            return np.array(pins)
    raise ValueError("could not fix the rigid modes of the cell for SUBC (degenerate cell geometry)")


CONDITIONS = {c.name: c for c in (Periodic, Kubc, Subc)}


def condition(bc):
    """A boundary condition from a name ("periodic", "kubc", "subc"), a condition class or instance."""
    if isinstance(bc, _Condition):
        return bc
    if isinstance(bc, type) and issubclass(bc, _Condition):
        return bc()
    if isinstance(bc, str) and bc.lower() in CONDITIONS:
        return CONDITIONS[bc.lower()]()
    raise ValueError(f"unknown boundary condition {bc!r}; use one of {sorted(CONDITIONS)}, or fe2.Periodic() etc.")
