"""The fine-scale simulator: P1 finite elements for heterogeneous diffusion, in patches or on the whole box.

The problem (:class:`Diffusion`) is

    u_t = div(a grad u) + f,   a = a(x) > 0 (or a(x, u) with ``nonlinear=True``),  f = f(x),

discretized by P1 elements (scikit-fem: segments in 1D, quadrilaterals or triangles in 2D) with
the coefficient taken at the quadrature points, so a(x/eps) resolved by the mesh is resolved by the
stiffness: M du/dt + K(u) u = F. Time stepping is the theta-scheme (theta = 1 implicit Euler,
1/2 Crank–Nicolson) written in increments,

    (M + theta dt K) (u^{n+1} - u^n) = dt (F - K u^n)   on the free nodes,

and the nodes in ``fixed`` keep their values (Dirichlet data held over the burst). For a linear
problem M + theta dt K is assembled into a :class:`fe2.cell.assembly.Pattern` and factorized once,
and every step of every burst reuses the factorization; all patches of a worker share one
block-diagonal matrix. With a(x, u) the coefficient is lagged (K(u^n), a semi-implicit step of
order one in dt) and only the numeric factorization is repeated each step.
"""

import numpy as np
import scipy.sparse as sp
import skfem

from ..cell.assembly import Pattern
from .lifting import restriction_weights


class Diffusion:
    """u_t = div(a grad u) + f. ``conductivity``: a(x) with x of shape (dim, ...) returning (...), or
    a(x, u) with ``nonlinear=True``; ``source``: f(x), a number or None; ``period``: the microscale
    eps of a (for the scale and healing checks; None: homogeneous). Functions must be module-level
    (picklable) to run on process or Dask executors."""

    def __init__(self, conductivity, source=None, period=None, nonlinear=False):
        if not callable(conductivity):
            raise ValueError(f"conductivity must be a function a(x){' or a(x, u)' if nonlinear else ''}, got {conductivity!r}")
        if source is not None and not callable(source):
            try:
                source = float(source)
            except (TypeError, ValueError):
                raise ValueError(f"source must be a function f(x), a number or None, got {source!r}") from None
        if period is not None and not (np.isfinite(period) and period > 0):
            raise ValueError(f"the microscale period must be a positive number, got {period!r}")
        self.conductivity, self.source = conductivity, source
        self.period = None if period is None else float(period)
        self.nonlinear = bool(nonlinear)

    def coefficient(self, x, u=None):
        """a at the points x (dim, ...), checked positive and finite (the first bad point is named)."""
        values = self.conductivity(x, u) if self.nonlinear else self.conductivity(x)
        values = np.broadcast_to(np.asarray(values, dtype=float), x.shape[1:])
        bad = ~(np.isfinite(values) & (values > 0))
        if np.any(bad):
            index = np.unravel_index(np.argmax(bad), bad.shape)
            where = np.round(x[(slice(None),) + index], 6).tolist()
            raise ValueError(f"the conductivity must be positive and finite, but a = {values[index]:g} at x = {where} "
                             f"({int(bad.sum())} of {bad.size} quadrature points fail)")
        return values

    def load(self, x):
        """f at the points x (dim, ...)."""
        if self.source is None:
            return np.zeros(x.shape[1:])
        if callable(self.source):
            return np.broadcast_to(np.asarray(self.source(x), dtype=float), x.shape[1:])
        return np.full(x.shape[1:], self.source)

    def __repr__(self):
        kind = "a(x, u)" if self.nonlinear else "a(x)"
        return f"Diffusion({kind}, source={'f(x)' if callable(self.source) else self.source}, period={self.period})"


def lagrange_p1(mesh):
    """The P1 element of a segment, quadrilateral or triangle mesh."""
    for kind, element in ((skfem.MeshLine1, skfem.ElementLineP1), (skfem.MeshQuad1, skfem.ElementQuad1),
                          (skfem.MeshTri1, skfem.ElementTriP1)):
        if isinstance(mesh, kind):
            return element()
    raise ValueError(f"the fine solver meshes segments, quadrilaterals or triangles, got {type(mesh).__name__}")


class Discretization:
    """The P1 discretization of ``problem`` on ``mesh`` with the theta-scheme of step ``dt``; the
    nodes ``fixed`` keep their values. ``dofs`` (n_elements, n_local) and ``n``: a DOF numbering other
    than the mesh's nodes (a periodic fold). Immutable; :meth:`step` returns a new field."""

    def __init__(self, mesh, problem, dt, theta=0.5, fixed=(), dofs=None, n=None, intorder=4):
        if not (np.isfinite(dt) and dt > 0):
            raise ValueError(f"the fine time step dt must be a positive number, got {dt!r}")
        if not 0.5 <= theta <= 1:
            raise ValueError(f"theta must lie in [1/2, 1] (1/2 Crank-Nicolson, 1 implicit Euler), got {theta!r}")
        self.problem, self.dt, self.theta = problem, float(dt), float(theta)
        basis = skfem.Basis(mesh, lagrange_p1(mesh), intorder=intorder)
        phi = np.stack([np.asarray(b[0]) for b in basis.basis])                      # (nloc, nel, nqp)
        grads = np.stack([b[0].grad for b in basis.basis])                     # (nloc, dim, nel, nqp)
        dx = np.asarray(basis.dx)
        self.phi = np.ascontiguousarray(phi.transpose(1, 2, 0))                # (nel, nqp, nloc)
        self.x = basis.mapping.F(basis.X)                                      # (dim, nel, nqp)
        self.unit = np.einsum("idEq,jdEq,Eq->Eqij", grads, grads, dx, optimize=True)   # ∫ grad φ_i . grad φ_j per point
        self.mass = np.einsum("iEq,jEq,Eq->Eij", phi, phi, dx, optimize=True)
        self.dofs = basis.element_dofs.T if dofs is None else np.asarray(dofs)
        self.n = int(mesh.p.shape[1] if n is None else n)
        fixed = np.unique(np.asarray(fixed, dtype=np.int64))
        self.free = np.setdiff1d(np.arange(self.n), fixed)
        dof_map = np.full(self.n, -1, dtype=np.int64)
        dof_map[self.free] = np.arange(self.free.size)
        self.pattern = Pattern(self.dofs, dof_map, self.free.size)
        f = problem.load(self.x)
        self.load = np.bincount(self.dofs.ravel(), weights=np.einsum("Eqi,Eq->Ei", self.phi, f * dx).ravel(),
                                minlength=self.n)
        self.element_integrals = np.einsum("Eqi,Eq->Ei", self.phi, dx)        # ∫ φ_i per element
        if not problem.nonlinear:
            self.a = problem.coefficient(self.x)                               # (nel, nqp)
            self.stiffness = self.element_stiffness(self.a)
            self.factorization = self.pattern.factorize(self.pattern.data(self.mass + self.theta * self.dt * self.stiffness))

    def element_stiffness(self, a):
        """K_e = sum_q a_q ∫ grad φ_i . grad φ_j (n_elements, n_local, n_local) for a at the quadrature points."""
        return np.einsum("Eq,Eqij->Eij", a, self.unit, optimize=True)

    def coefficient_at(self, u):
        """a at the quadrature points for the field u (n,)."""
        if not self.problem.nonlinear:
            return self.a
        return self.problem.coefficient(self.x, np.einsum("Eqi,Ei->Eq", self.phi, u[self.dofs]))

    def residual(self, u, stiffness):
        """F - K u (n,) for the element stiffness (n_elements, n_local, n_local)."""
        Ku = np.einsum("Eij,Ej->Ei", stiffness, u[self.dofs])
        return self.load - np.bincount(self.dofs.ravel(), weights=Ku.ravel(), minlength=self.n)

    def step(self, u):
        """One theta-step from the field u (n,): a new field, the fixed nodes unchanged."""
        if self.problem.nonlinear:
            stiffness = self.element_stiffness(self.coefficient_at(u))
            factorization = self.pattern.factorize(self.pattern.data(self.mass + self.theta * self.dt * stiffness))
        else:
            stiffness, factorization = self.stiffness, self.factorization
        new = u.copy()
        new[self.free] += factorization.solve(self.dt * self.residual(u, stiffness)[self.free])
        return new


class PatchSolver:
    """The fine solver of the patches ``indices`` of ``patches`` (all of them by default): one
    block-diagonal discretization, each patch held at its initial boundary values. Lives where it is
    built (an executor's actor), with its factorization."""

    def __init__(self, problem, patches, indices=None, dt=1e-4, theta=0.5, intorder=4):
        self.indices = np.arange(patches.n_patches) if indices is None else np.asarray(indices)
        count, nodes = len(self.indices), patches.n_nodes
        fixed = (patches.boundary[None, :] + nodes * np.arange(count)[:, None]).ravel()
        self.fine = Discretization(patches.mesh(self.indices), problem, dt, theta, fixed=fixed, intorder=intorder)
        self.weights = restriction_weights(patches)
        self.shape = (count, nodes)

    def coefficient_range(self, fields=None):
        """The smallest and largest a at the quadrature points (for fields (count, n_nodes) if a depends on u)."""
        a = self.fine.coefficient_at(None if fields is None else np.asarray(fields, dtype=float).ravel())
        return float(a.min()), float(a.max())

    def burst(self, fields, steps, window, keep=False):
        """Run ``steps`` fine steps from the lifted ``fields`` (count, n_nodes): the core averages
        after steps - window and after steps, and the final fields if ``keep``."""
        u = np.asarray(fields, dtype=float).reshape(-1).copy()
        if u.size != self.shape[0] * self.shape[1]:
            raise ValueError(f"the patch solver holds {self.shape[0]} patches of {self.shape[1]} nodes, got {u.size} values")
        before = None
        for n in range(steps):
            if n == steps - window:
                before = u.reshape(self.shape) @ self.weights
            u = self.fine.step(u)
        end = u.reshape(self.shape)
        return before, end @ self.weights, (end if keep else None)


class FineSimulation:
    """The full fine simulation of ``problem`` on the periodic box of ``patches`` (same dx, cells and
    element type), the reference the patch scheme saves on: theta-scheme of step ``dt``."""

    def __init__(self, problem, patches, dt, theta=0.5, intorder=4):
        self.patches = patches
        counts = np.rint(patches.length / patches.dx).astype(int)
        axes = [np.linspace(0, L, n + 1) for L, n in zip(patches.length, counts)]
        if patches.dim == 1:
            mesh = skfem.MeshLine1(axes[0][None, :], np.vstack([np.arange(counts[0]), np.arange(1, counts[0] + 1)]))
        else:
            mesh = (skfem.MeshQuad1 if patches.cells == "quad" else skfem.MeshTri1).init_tensor(*axes)
        index = np.rint(mesh.p / patches.dx).astype(int) % counts[:, None]      # the periodic fold of the nodes
        folded = index[0] if patches.dim == 1 else index[0] * counts[1] + index[1]
        self.n = int(np.prod(counts))
        self.points = np.zeros((patches.dim, self.n))
        self.points[:, folded] = index * patches.dx                            # in [0, L)
        self.fine = Discretization(mesh, problem, dt, theta, dofs=folded[mesh.t.T], n=self.n, intorder=intorder)
        self.mesh = mesh
        self.restriction = self.restriction_matrix(patches)

    def restriction_matrix(self, patches):
        """The sparse (n_patches, n) matrix of the core averages of the P1 field over the cores of
        ``patches`` (any patch set of this box whose core edges lie on the fine nodes)."""
        mesh = self.mesh
        centroids = mesh.p[:, mesh.t].mean(axis=1)                              # (dim, nel)
        rows, cols, vals = [], [], []
        for p, X in enumerate(patches.centres):   # sum over the core elements of ∫ φ_i, divided by h^d
            core = np.all(np.abs(centroids - X[:, None]) < patches.core / 2, axis=0)
            rows.append(np.full(core.sum() * mesh.t.shape[0], p))
            cols.append(self.fine.dofs[core].ravel())
            vals.append(self.fine.element_integrals[core].ravel() / patches.core**patches.dim)
        return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                             shape=(patches.n_patches, self.n))

    def interpolate(self, function):
        """The nodal values of ``function`` (x (dim, n) -> (n,)): an initial field."""
        return np.asarray(function(self.points), dtype=float)

    def core_averages(self, u, patches=None):
        """The core averages of the field u (n,) over the cores of ``patches`` (default: those this
        simulation was made with): the patch scheme's coarse state."""
        return (self.restriction if patches is None else self.restriction_matrix(patches)) @ u

    def run(self, u, time, callback=None):
        """The field after ``time`` (a whole number of steps dt) from u; ``callback(t, u)`` after each step."""
        steps = int(round(time / self.fine.dt))
        if abs(steps * self.fine.dt - time) > 1e-9 * max(time, self.fine.dt):
            raise ValueError(f"the time {time:g} is not a whole number of fine steps dt = {self.fine.dt:g}")
        u = np.asarray(u, dtype=float)
        for n in range(steps):
            u = self.fine.step(u)
            if callback is not None:
                callback((n + 1) * self.fine.dt, u)
        return u
