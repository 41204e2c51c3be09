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
  <eps> = S Sigma with the apparent compliance S = F^T K_r^-1 F / V, and C = S^-1. At finite strain a
  rotation changes <grad u>: the rotations are held by the multiplier Sigma, as a few dense unknowns
  beside the pinned sparse ones (:class:`StaticProblem`).

The factorization is made once per cell problem; the unit-load solves and the Schur complement only
when the tangent or the unit fields are asked for (a micro Newton iteration needs neither).

A condition of one's own subclasses :class:`Condition` and gives ``dof_map`` (docs/extending.md).
"""

import abc
import functools
import logging

import numpy as np

from . import linalg
from ..timing import timed

logger = logging.getLogger(__name__)


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
                self.factor = self.factorize()
            else:
                # a tangent of the cell is preconditioned by the virgin cell's hierarchy, built once per cell
                virgin = cell.virgin
                reuse = None if linearization is virgin else virgin.bind(condition, "iterative").factor
                self.factor = linalg.Iterative(self.matrix, self.near_nullspace(), rtol=accuracy, preconditioner=reuse)

    def factorize(self):
        """The factorization of the reduced stiffness (Cholesky on the pattern's analysis)."""
        return self.pattern.factorize(self.data)

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
    """Subc, the minimal kinematic form of the uniform traction: stationarity of the cell energy under
    <eps(u)> = E, the macro stress Sigma the Lagrange multiplier, so that f_int(u) = F Sigma (the
    uniform traction Sigma n on the boundary) with F = int B^T dx.

    The reduced unknowns (the sparse, factorized part) are those of the small-strain SUBC: every DOF but
    a few pins that fix the translations and the infinitesimal rotations. A rigid mode whose mean
    strain is not zero (at finite strain the rotations: <grad u> = W, skew) is not fixed by pins but by
    the multiplier; it enters as a dense unknown theta, u = T u_p + R theta (R: those modes; an exact
    basis of every field modulo translations, at any rotation). With K_pp = T^T K T, K_pR = T^T K R,
    K_RR = R^T K R, F_p = T^T F, F_R = R^T F = V W^T, the linearized problem is

        [ K_pp   K_pR  -F_p ] [ u_p   ]   [ -r_p ]
        [ K_Rp   K_RR  -F_R ] [ theta ] = [ -r_R ]
        [ -F_p^T -F_R^T  0  ] [ Sigma ]   [ V r_E ]

    u_p is eliminated through the factorization of K_pp (X_F = K_pp^-1 F_p, X_R = K_pp^-1 K_pR), which
    leaves the small dense system M [theta; Sigma] = rhs with
    M = [[K_RR - K_pR^T X_R, K_pR^T X_F - F_R], [(.)^T, -F_p^T X_F]]. The condensed tangent is
    dSigma/dE = -V (M^-1)_{Sigma Sigma}. Small strain has no such mode (rotations have zero strain):
    M = -F_p^T X_F and the tangent is the inverse of the apparent compliance S = F_p^T K_pp^-1 F_p / V.
    """

    @functools.cached_property
    def load(self):
        """F_p, one column per unit uniform stress."""
        with timed(self.timings, "assembly"):
            return self.cell.traction_load(self.map, self.n)

    @functools.cached_property
    def modes(self):
        """(R, W): the rigid modes held by the multiplier (ndofs, m) and their mean strains (n, m)."""
        return held_modes(self.cell)

    @functools.cached_property
    def mode_coupling(self):
        """(K_pR, K_RR): the stiffness between the held modes and the reduced unknowns, and among them."""
        R = self.modes[0]
        forces = np.zeros(R.shape)
        with timed(self.timings, "assembly"):
            for k in range(R.shape[1]):   # the nodal forces of the stress of each mode, K R
                forces[:, k] = self.cell.nodal_forces(np.ascontiguousarray(self.linearization.stress(R[:, k])))
            K_pR = np.zeros((self.n, R.shape[1]))
            for k in range(R.shape[1]):
                K_pR[:, k] = self.cell.restrict(forces[:, k], self.map, self.n)
        return K_pR, R.T @ forces

    @functools.cached_property
    def solved(self):
        """(X_F, X_R) = K_pp^-1 (F_p, K_pR)."""
        m = self.modes[0].shape[1]
        x = self.solve(np.hstack([self.load, self.mode_coupling[0]]))
        return x[:, :x.shape[1] - m], x[:, x.shape[1] - m:]

    def factorize(self):
        """Cholesky of K_pp; with held modes, an LU (SuperLU) where K_pp is not positive definite. The
        pins fix the rotations at three points only, so K_pp holds fields that rotate all but near the pins;
        under a compressive mean stress their geometric stiffness is negative (measured: 10 % isotropic
        compression of a neo-Hookean 4 x 4 cell) while the cell problem itself is stable. The elimination
        above is exact for any non-singular K_pp."""
        try:
            return super().factorize()
        except np.linalg.LinAlgError:
            if not self.modes[0].shape[1]:
                raise
            logger.debug("SUBC: K_pp of %d unknowns is not positive definite (compressive mean stress); LU instead",
                         self.n)
            return linalg.Factorization(self.matrix, backend="superlu")

    @property
    def unit_stress(self):
        """K_pp^-1 F_p: the reduced fields of the unit uniform stresses (modes held)."""
        return self.solved[0]

    @functools.cached_property
    def compliance(self):
        """F_p^T K_pp^-1 F_p / V: the apparent compliance of small strain (modes pinned)."""
        return self.load.T @ self.unit_stress / self.cell.volume

    @functools.cached_property
    def bordered(self):
        """The dense matrix M of (theta, Sigma) once u_p is eliminated, (m + n, m + n), symmetric."""
        (X_F, X_R), (K_pR, K_RR), W = self.solved, self.mode_coupling, self.modes[1]
        b = K_pR.T @ X_F - self.cell.volume * W.T
        M = np.block([[K_RR - K_pR.T @ X_R, b], [b.T, -self.compliance * self.cell.volume]])
        return 0.5 * (M + M.T)

    @functools.cached_property
    def unit(self):
        """(theta, Sigma) of the unit macro strains, (m + n, n): M^-1 [0; -V I]."""
        m = self.modes[0].shape[1]
        try:
            return -self.cell.volume * np.linalg.inv(self.bordered)[:, m:]
        except np.linalg.LinAlgError:
            raise np.linalg.LinAlgError("SUBC: the condensed system of the held rigid modes and the macro stress "
                                        "is singular (the cell is unstable under the traction)") from None

    @functools.cached_property
    def _tangent(self):
        m = self.modes[0].shape[1]
        tangent = np.array(self.unit[m:])
        tangent.flags.writeable = False
        return tangent

    def tangent(self):
        return self._tangent

    def _field(self, theta, sigma, x=0.0):
        """u = T (X_F Sigma - X_R theta - x) + R theta (columns allowed)."""
        X_F, X_R = self.solved
        return self.expand(X_F @ sigma - X_R @ theta - x) + self.modes[0] @ theta

    def unit_fields(self):
        m = self.modes[0].shape[1]
        return self._field(self.unit[:m], self.unit[m:])

    def correction(self, residual, mode_residual, strain_residual):
        """The Newton correction (du, dSigma) of the SUBC equations with residuals r_p = T^T (f_int - F Sigma)
        (``residual``), r_R = R^T (f_int - F Sigma) = V W^T (<sigma> - Sigma) (``mode_residual``, (m,)) and
        r_E = <eps(u)> - E (``strain_residual``): the system of the class docstring."""
        m = self.modes[0].shape[1]
        x = self.solve(residual)
        rhs = np.concatenate([self.mode_coupling[0].T @ x - mode_residual,
                              self.cell.volume * strain_residual - self.load.T @ x])
        y = np.linalg.solve(self.bordered, rhs)
        return self._field(y[:m], y[m:], x), y[m:]

    def field_from_stress(self, stress):
        """Micro field under the uniform traction stress . n (stress-driven SUBC); the stress in
        the notation of the strain (a Mandel vector, or K grad T for conduction). Not for cells with held
        modes (finite strain): the traction alone does not fix their rotation; prescribe a gradient."""
        if self.modes[0].shape[1]:
            raise ValueError("a stress-driven SUBC field is not defined at finite strain (the rotation is free under "
                             "a traction); give the macro gradient, or prescribe stress components with fe2.cell.mixed")
        return self.expand(self.solve(self.load @ self.cell.check_strain(stress, "stress")))

    def field(self, strain):
        return self.correction(np.zeros(self.n), np.zeros(self.modes[0].shape[1]), -self.cell.check_strain(strain))[0]


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


def held_modes(cell):
    """(R, W): the rigid modes of ``cell`` whose mean strain is not zero, (ndofs, m), and those mean
    strains, (n, m). At finite strain these are the rotations (<grad u> = W skew): SUBC holds them by the
    macro stress, not by pins. Small strain and conduction have none (m = 0)."""
    R = cell.rigid_modes
    W = cell.mean_strain(R).reshape(cell.physics.size, -1)
    held = np.linalg.norm(W, axis=0) > 1e-8   # exactly zero, or of order one (unit rotations)
    return R[:, held], W[:, held]


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
