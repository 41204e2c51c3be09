"""Boundary conditions of the cell problem: the public :class:`Condition` base, Periodic, Kubc, Subc.

As OOFEM's prescribed-gradient conditions, a condition is a description that binds to a linearized
cell (:meth:`fe2.cell.linearization.Linearization.bind`) as a :class:`CellProblem` with two methods:
``field(E)`` (the micro field for the macro strain E) and ``tangent()`` (the effective tangent
d<sigma>/dE from the condensed problem). Notation: K the cell stiffness at the linearization's
tangent, D the affine field (columns: unit macro strains), V the cell volume.

* Kinematic conditions (Periodic, Kubc, and any :class:`Condition` that only gives a ``dof_map``):
  u = D E + T w with T the admissible fluctuations (periodic with one node fixed per component; zero
  on the boundary). (T^T K T) w = -T^T K D E, and the tangent is the Schur complement
  C = (D^T K D - (T^T K D)^T (T^T K T)^-1 (T^T K D)) / V.
* Subc: uniform traction Sigma n on the boundary, i.e. the nodal load F Sigma with
  F = int B^T dx (= int N n ds), rigid modes fixed by a few pinned DOFs: K_r u = F Sigma.
  <eps> = S Sigma with the apparent compliance S = F^T K_r^-1 F / V, and C = S^-1.

The factorization is made once per cell problem; the unit-load solves and the Schur complement only
when the tangent or the unit fields are asked for (a micro Newton iteration needs neither).

A condition of one's own subclasses :class:`Condition` and gives ``dof_map`` (docs/extending.md).
"""

import abc
import functools

import numpy as np

from . import linalg
from ..timing import timed


class CellProblem:
    """A condition bound to a linearized cell: the reduced stiffness T^T K T, factorized once (the
    direct path) or given an AMG-preconditioned CG solver (the iterative path), chosen by ``solver``:

    * "direct": the factorization of :class:`fe2.cell.linalg.SymbolicFactorization`;
    * "iterative": :class:`fe2.cell.linalg.Iterative`, with the rigid modes of the cell restricted to the
      reduced unknowns as near-nullspace, to the relative ``accuracy`` (CG's relative residual);
    * "auto" (default): :func:`fe2.cell.linalg.choose` for one solve per unit load.

    Subclasses give ``field(E)``, ``tangent()`` and ``unit_fields()``."""

    def __init__(self, condition, linearization, solver="auto", accuracy=linalg.ACCURACY):
        if solver not in linalg.SOLVERS:
            raise ValueError(f"unknown solver {solver!r}; use one of {', '.join(map(repr, linalg.SOLVERS))}")
        self.condition, self.linearization = condition, linearization
        self.cell = cell = linearization.body
        self.timings = {}
        with timed(self.timings, "constraints"):
            self.map, self.n = cell.constraint(condition)
            self.pattern = cell.pattern(condition)
        self.solver = linalg.choose(self.n, cell.dim, cell.physics.size) if solver == "auto" else solver
        with timed(self.timings, "assembly"):
            self.data = linearization.stiffness(self.pattern)
        with timed(self.timings, "factorization" if self.solver == "direct" else "preconditioner"):
            if self.solver == "direct":
                self.factor = self.pattern.factorize(self.data)
            else:
                # a tangent of the cell is preconditioned by the virgin cell's hierarchy, built once per cell
                virgin = cell.virgin
                reuse = None if linearization is virgin else virgin.bind(condition, "iterative").factor
                self.factor = linalg.Iterative(self.matrix, self.near_nullspace(), rtol=accuracy, preconditioner=reuse)

    def near_nullspace(self):
        """The cell's rigid modes (constants; translations and rotations) on the reduced unknowns, (n, m):
        each reduced unknown takes the value of a DOF that maps to it."""
        free = self.map >= 0
        modes = np.zeros((self.n, self.cell.rigid_modes.shape[1]))
        modes[self.map[free]] = self.cell.rigid_modes[free]
        return modes

    @property
    def matrix(self):
        """The upper triangle (CSR) of the reduced stiffness T^T K T."""
        return self.pattern.matrix(self.data)

    def solve(self, b):
        """(T^T K T)^-1 b for a reduced vector or block of columns."""
        with timed(self.timings, "solves"):
            return self.factor.solve(b)

    def expand(self, x):
        """Reduced vector(s) -> full DOF vector(s), zero at the fixed DOFs."""
        out = np.zeros((self.cell.ndofs,) + x.shape[1:])
        free = self.map >= 0
        out[free] = x[self.map[free]]
        return out

    def field(self, strain):
        """The micro field (ndofs,) for the macro strain (gradient) ``strain``."""
        raise NotImplementedError

    def tangent(self):
        """The effective tangent d<sigma>/dE, (n, n)."""
        raise NotImplementedError

    def unit_fields(self):
        """The micro fields of the unit macro strains, (ndofs, n)."""
        raise NotImplementedError


class KinematicProblem(CellProblem):
    """u = D E + T w: Periodic, Kubc and every condition given by its DOF map alone."""

    @functools.cached_property
    def coupling(self):
        """T^T K D, (n_reduced, n)."""
        with timed(self.timings, "assembly"):
            # column k: the internal forces of the stress C e_k (B D e_k = e_k: the affine fields lie in
            # the Lagrange space), restricted to the fluctuations
            C = self.linearization.tangent
            C = np.broadcast_to(C, self.cell.dx.shape + C.shape[2:])
            return np.stack([self.cell.internal_force(np.ascontiguousarray(C[..., k]), self.map, self.n)
                             for k in range(C.shape[-1])], axis=1)

    @functools.cached_property
    def unit(self):
        """Reduced fluctuations of the unit macro strains, -(T^T K T)^-1 T^T K D."""
        return -self.solve(self.coupling)

    @functools.cached_property
    def _tangent(self):
        # D^T K D = V <C>: the affine fields have the uniform unit strains
        tangent = self.cell.average(self.linearization.tangent) + self.coupling.T @ self.unit / self.cell.volume
        tangent.flags.writeable = False
        return tangent

    def tangent(self):
        return self._tangent

    def unit_fields(self):
        return self.cell.affine + self.expand(self.unit)

    def field(self, strain):
        strain = self.cell.check_strain(strain)
        w = -self.solve(self.coupling @ strain)
        return self.cell.affine @ strain + self.expand(w)


class StaticProblem(CellProblem):
    """K_r u = F Sigma: Subc."""

    @functools.cached_property
    def load(self):
        """F, one column per unit uniform stress."""
        with timed(self.timings, "assembly"):
            return self.cell.traction_load(self.map, self.n)

    @functools.cached_property
    def unit_stress(self):
        """K_r^-1 F: the fields of the unit uniform stresses (reduced)."""
        return self.solve(self.load)

    @functools.cached_property
    def compliance(self):
        """The apparent compliance S = F^T K_r^-1 F / V."""
        return self.load.T @ self.unit_stress / self.cell.volume

    @functools.cached_property
    def _tangent(self):
        tangent = np.linalg.inv(self.compliance)
        tangent.flags.writeable = False
        return tangent

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


class Condition(abc.ABC):
    """A boundary condition of the cell problem: a description that binds to any cell.

    Subclasses give :meth:`dof_map` and a ``name``. A kinematic condition (u = D E + T w with the
    admissible fluctuations T given by the DOF map) needs nothing more; another kind sets
    ``problem`` to its :class:`CellProblem` subclass. Two conditions are equal when :meth:`key`
    is: the type and the node-matching tolerance (a subclass with parameters adds them).
    """

    name = None                  # default: the class name in lower case
    problem = KinematicProblem   # the CellProblem made by binding to a linearized cell

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("name") is None:
            cls.name = cls.__name__.lower()

    def __init__(self, tol=1e-8):
        if not 0 < float(tol) < 1e-3:
            raise ValueError(f"tol is a node-matching tolerance relative to the cell diameter, 0 < tol < 1e-3; got {tol}")
        self.tol = float(tol)

    def key(self):
        """What makes two conditions the same (DOF maps and factorizations are shared between them)."""
        return type(self), self.tol

    def __eq__(self, other):
        return isinstance(other, Condition) and self.key() == other.key()

    def __hash__(self):
        return hash(self.key())

    def __repr__(self):
        return f"{type(self).__name__}()"

    @abc.abstractmethod
    def dof_map(self, cell):
        """(index, n): the reduced index of every DOF of ``cell`` (-1: fixed to zero) and the number
        n of reduced DOFs. Several DOFs may share a reduced index (periodic images)."""


class Periodic(Condition):
    """Periodic fluctuation under the cell's lattice vectors; nodes matched within tol * diameter. Where
    the voids of a porous cell cut the faces, a face node whose periodic image lies in a void is not
    paired (for the periodic medium it lies on a hole surface)."""

    name = "periodic"

    def dof_map(self, cell):
        boundary = getattr(cell, "outer_boundary", None)
        cut = boundary is not None and boundary.cut   # voids on the faces: face nodes facing a void stay free
        if cut and boundary.operator is None:
            raise ValueError("voids cut the cell boundary and some pair of opposite faces has no solid facet matched "
                             "periodically: the cell is not periodic (make its pore space periodic)")
        node_master = cell.lattice.periodic_masters(cell.basis.doflocs, self.tol * cell.lattice.diameter, partial=cut)
        ncomp = cell.physics.ncomp
        master = (node_master[:, None] * ncomp + np.arange(ncomp)).ravel()  # interleaved vector DOFs
        # masters keep their own index; fix the fluctuation at the first master DOF of each
        # component (removes the constant modes), then number the free masters consecutively
        free = np.zeros(cell.ndofs, dtype=bool)
        free[master] = True
        free[np.flatnonzero(free)[:ncomp]] = False
        index, n = compress(free)
        return index[master], n


class Kubc(Condition):
    """Kinematic uniform boundary condition: u = E x on the whole cell boundary (the mesh's boundary
    facets on the faces of the lattice cell; hole surfaces inside a porous cell stay free)."""

    name = "kubc"

    def dof_map(self, cell):
        ncomp = cell.physics.ncomp
        boundary = _solid_boundary(cell, "KUBC prescribes u = E x")
        # scalar DOFs on the boundary facets, P2 mid-sides included
        nodes = cell.basis.get_dofs(None if boundary is None else boundary.facets).all()
        free = np.ones(cell.ndofs, dtype=bool)
        free[(nodes[:, None] * ncomp + np.arange(ncomp)).ravel()] = False
        return compress(free)


class Subc(Condition):
    """Static uniform boundary condition: traction Sigma n on the whole cell boundary."""

    name = "subc"
    problem = StaticProblem

    def dof_map(self, cell):
        if cell.physics.name == "finite strain":
            raise ValueError("SUBC is not built for finite-strain cells yet (the rotation of the cell is a free mode "
                             "of the traction problem); use periodic or kubc")
        _solid_boundary(cell, "SUBC prescribes the traction Sigma n")
        free = np.ones(cell.ndofs, dtype=bool)
        free[_rigid_pins(cell.doflocs, cell.rigid_modes)] = False
        return compress(free)


def _solid_boundary(cell, what):
    """The outer boundary of a porous cell (None for a solid one); raises ValueError if voids cut it: a
    uniform condition there is ill-posed (no material to hold u = E x or to carry Sigma n)."""
    boundary = getattr(cell, "outer_boundary", None)
    if boundary is not None and boundary.cut:
        faces = sorted({f"s_{k} = {side}" for k, side in zip(boundary.axis, boundary.side)})
        covered = ", ".join(f"s_{k} = {side}: {boundary.solid_area[k, side] / boundary.face_area[k]:.1%}"
                            for k in range(cell.dim) for side in (0, 1))
        raise ValueError(
            f"voids cut the outer boundary of the cell ({boundary.void_fraction:.1%} of it lies in voids; solid "
            f"covers {covered} of the faces): {what} on the whole cell boundary, which is ill-posed where there is "
            f"no material. Use the periodic condition, or a cell whose voids lie inside it")
    return boundary


def compress(free):
    """The DOF map that numbers the DOFs where ``free`` is True consecutively and fixes the others."""
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
    if isinstance(bc, Condition):
        return bc
    if isinstance(bc, type) and issubclass(bc, Condition):
        return bc()
    if isinstance(bc, str) and bc.lower() in CONDITIONS:
        return CONDITIONS[bc.lower()]()
    raise ValueError(f"unknown boundary condition {bc!r}; use one of {sorted(CONDITIONS)}, or fe2.Periodic() etc.")
