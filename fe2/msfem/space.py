"""What MsFEM and LOD share: a coarse space over a nested fine mesh, its online solve, its errors and output.

A multiscale space is built from a coarse mesh of triangles or quadrilaterals, a fine mesh nested in
it (:class:`~fe2.msfem.partition.Partition`) and linear laws (conduction, or 2D elasticity: plane
strain, or plane stress when the laws are made with ``plane="stress"``; coefficients may be scalar
or matrix-valued functions of position). Coarse DOFs are vertex * ncomp + component. A subclass computes, offline, the coarse
matrix ``matrix`` and what its load and fine reconstruction need; this class gives the online
``solve`` (one coarse factorization per set of fixed DOFs, reused by later loads), the fine field of
each coarse element (``local_field``), one conforming fine field, the broken L2 / H1 / energy errors
against a fine reference or an exact solution, and the VTU output.
"""

import dataclasses
import gc
import time
from pathlib import Path

import meshio
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..cell.body import Body, phase_map
from ..cell.linalg import factorize
from ..io.vtu import pad, save_vtu
from ..materials.law import plane_of
from ..macro.boundary import dirichlet_dofs
from ..timing import timed
from .local import BATCH, interleave, submesh
from .partition import Partition


@dataclasses.dataclass
class Solution:
    """A coarse solution: the coarse DOF vector and the time of the online solve."""

    coarse: np.ndarray
    seconds: float = 0.0


@dataclasses.dataclass
class Errors:
    """Errors against a reference, relative to the reference's norm (broken over coarse elements):
    L2 of u, H1 seminorm (|grad u|), energy (a(u, u)^1/2); ``absolute`` holds the unscaled ones."""

    l2: float
    h1: float
    energy: float
    absolute: dict


class MultiscaleSpace:
    """The common part of :class:`~fe2.msfem.MsFEM` and :class:`~fe2.msfem.LOD`: checks the laws and
    the coefficients, builds the partition, and solves, reconstructs, measures and writes.

    A subclass sets ``matrix`` (coarse, ndofs x ndofs), ``nodes`` (the fine nodes of each coarse
    element, sorted) and implements ``_load(f)`` (the coarse load of nodal body-force values f) and
    ``local_field(solution, K)``; ``symmetric`` says whether the coarse matrix is."""

    method = "multiscale"
    symmetric = True

    def __init__(self, coarse, fine, materials):
        self.coarse, self.fine = coarse, fine
        self.timings = {}
        # bad input is refused before any local problem is solved
        self.phases, self.phase = phase_map(fine, materials)
        self.materials = materials if isinstance(materials, dict) else {self.phases[0]: materials}
        kinds = {getattr(law, "physics", None) for law in self.materials.values()}
        if len(kinds) != 1 or not kinds <= {"conduction", "elasticity"}:
            raise ValueError(f"{self.method} materials must be all conductors or all linear elastic, got {self.materials}")
        self.physics = kinds.pop()
        if not all(law.linear for law in self.materials.values()):
            raise ValueError(f"{self.method} solves linear problems: give linear laws (Isotropic, Anisotropic, Conductor)")
        self.ncomp = 1 if self.physics == "conduction" else 2
        self.plane = plane_of(self.materials, 2)   # elasticity: "strain" or "stress", as the laws say

    @property
    def kind(self):
        """The physics, with the hypothesis of 2D elasticity: "elasticity (plane stress)"."""
        return self.physics + (f" (plane {self.plane})" if self.plane else "")

    def _set_up(self):
        """The coefficient check and the partition (after the subclass's own argument checks)."""
        self._check_coefficients()
        with timed(self.timings, "partition"):
            self.partition = Partition(self.coarse, self.fine)
        nv = self.coarse.t.shape[0]
        self.m = nv * self.ncomp                                                          # basis functions per element
        self.element_dofs = interleave(self.coarse.t.T, self.ncomp)
        self.ndofs = self.coarse.p.shape[1] * self.ncomp
        self._factorizations = {}

    def _check_coefficients(self):
        """Coefficient fields evaluated at the fine element centroids: a non-positive value is
        reported with its place before any local problem runs."""
        centroids = self.fine.p[:, self.fine.t].mean(axis=1)
        for index, name in enumerate(self.phases):
            law = self.materials[name]
            if law.is_field:
                try:
                    law.tensor_at(2, centroids[:, self.phase == index][:, :, None])
                except ValueError as error:
                    raise ValueError(f"phase {name!r}: {error}") from None

    # --- online ---------------------------------------------------------------------------------
    def solve(self, dirichlet=(), body_force=None):
        """The coarse solution for Dirichlet conditions (``fe2.macro.Dirichlet`` on named boundaries
        of the coarse mesh, imposed at its vertices) and a body force (a number per component, or a
        function of x (2, n) returning (n,) or (ncomp, n)), integrated from its values at the fine
        nodes with the weights int phi_a of the fine hat functions (exact for a constant f)."""
        start = time.perf_counter()
        fixed, values = dirichlet_dofs(dirichlet, self.coarse, self.ncomp, physics=self.physics, where="coarse mesh")
        if fixed.size == 0:
            raise ValueError(f"the {self.method} problem needs at least one Dirichlet condition to be well posed")
        self._check_fixed(fixed)
        F = np.zeros(self.ndofs) if body_force is None else self._load(self._nodal(body_force, "body force"))
        free = np.setdiff1d(np.arange(self.ndofs), fixed)
        U = np.zeros(self.ndofs)
        U[fixed] = values
        A = self.matrix
        rhs = F[free] - A[free][:, fixed] @ values
        key = fixed.tobytes()
        if key not in self._factorizations:  # one factorization per set of fixed DOFs, reused by later loads
            A_ff = A[free][:, free]
            self._factorizations = {key: factorize(sp.triu(A_ff, format="csr")) if self.symmetric
                                    else spla.splu(sp.csc_matrix(A_ff))}
        U[free] = self._factorizations[key].solve(rhs)
        seconds = time.perf_counter() - start
        self.timings["online"] = seconds
        return Solution(U, seconds)

    def _check_fixed(self, fixed):
        """Whether the offline part allows these fixed coarse DOFs (any, unless a subclass says)."""

    def _nodal(self, value, what):
        """A number per component, or a function of x, as interleaved values at the fine nodes."""
        x = self.fine.p
        f = np.asarray(value(x) if callable(value) else value, dtype=float)
        f = f.reshape(-1, x.shape[1]) if f.ndim and f.shape[-1] == x.shape[1] else np.atleast_1d(f)[:, None]
        if f.shape[0] != self.ncomp or not np.all(np.isfinite(f)):
            raise ValueError(f"{what} must be {self.ncomp} finite value(s) per point, got shape {f.shape}")
        return np.broadcast_to(f, (self.ncomp, x.shape[1])).T.ravel()

    # --- fine scale -------------------------------------------------------------------------------
    def _fields(self, solution):
        """K -> the fine field in coarse element K (a subclass with a global field overrides this)."""
        return lambda K: self.local_field(solution, K)

    def conforming(self, solution):
        """The reconstruction as one field on the fine mesh: the average of the element values at
        nodes on coarse edges (equal to them where the space is conforming)."""
        total = np.zeros(self.fine.p.shape[1] * self.ncomp)
        count = np.zeros_like(total)
        field = self._fields(solution)
        for K, nodes in enumerate(self.nodes):
            dofs = interleave(nodes, self.ncomp)
            np.add.at(total, dofs, field(K))
            np.add.at(count, dofs, 1.0)
        return total / count

    def errors(self, solution, reference=None, exact=None):
        """Broken L2, H1-seminorm and energy errors of the reconstruction against ``reference`` (a
        field on the fine mesh, e.g. a direct fine solve) or ``exact`` = (u, grad u) functions of
        x (2, n) returning (n,) / (2, n) for conduction, (2, n) / (2, 2, n) for elasticity."""
        if (reference is None) == (exact is None):
            raise ValueError("give either a fine reference field or the exact solution (u, grad u)")
        error = {"l2": 0.0, "h1": 0.0, "energy": 0.0}
        norm = dict(error)
        for elements, body, dofs, u in self._element_chunks(solution):
            if reference is not None:
                ref = np.asarray(reference, dtype=float)[dofs]
                e_val, e_grad, e_strain = _interpolate(body, u - ref)
                r_val, r_grad, r_strain = _interpolate(body, ref)
            else:
                x = body.basis.mapping.F(body.basis.X)
                r_val, r_grad = _exact(exact, x, self.ncomp)
                r_strain = _strain(r_grad, self.physics)
                u_val, u_grad, u_strain = _interpolate(body, u)
                e_val, e_grad, e_strain = u_val - r_val, u_grad - r_grad, u_strain - r_strain
            for name, (e, r) in {"l2": (e_val, r_val), "h1": (e_grad, r_grad)}.items():
                error[name] += np.sum(body.dx * np.sum(e**2, axis=tuple(range(e.ndim - 2))))
                norm[name] += np.sum(body.dx * np.sum(r**2, axis=tuple(range(r.ndim - 2))))
            C = np.broadcast_to(body.elastic_tangent, e_strain.shape + e_strain.shape[-1:])
            error["energy"] += np.einsum("eq,eqi,eqij,eqj->", body.dx, e_strain, C, e_strain)
            norm["energy"] += np.einsum("eq,eqi,eqij,eqj->", body.dx, r_strain, C, r_strain)
        absolute = {k: float(np.sqrt(v)) for k, v in error.items()}
        relative = {k: absolute[k] / np.sqrt(norm[k]) if norm[k] > 0 else absolute[k] for k in error}
        return Errors(relative["l2"], relative["h1"], relative["energy"], absolute)

    def _element_chunks(self, solution):
        """The coarse elements in chunks of about BATCH fine elements, each as (fine elements, Body of
        their fine elements side by side, the fine-mesh DOFs of its nodes, the reconstruction there)."""
        ncomp, nK = self.ncomp, len(self.nodes)
        field = self._fields(solution)
        start = 0
        while start < nK:
            stop, size = start, 0
            while stop < nK and (size == 0 or size < BATCH):
                size += self.partition.members(stop).size
                stop += 1
            offsets = np.cumsum([0] + [len(self.nodes[K]) for K in range(start, stop)])
            elements = np.concatenate([self.partition.members(K) for K in range(start, stop)])
            t = np.hstack([np.searchsorted(self.nodes[K], self.fine.t[:, self.partition.members(K)]) + offsets[i]
                           for i, K in enumerate(range(start, stop))])
            nodes = np.concatenate(self.nodes[start:stop])
            mesh, materials = submesh(type(self.fine), self.fine.p[:, nodes], t, self.phase[elements], self.phases,
                                      self.materials)
            u = np.concatenate([field(K) for K in range(start, stop)])
            yield elements, Body(mesh, materials), interleave(nodes, ncomp), u
            del mesh
            gc.collect(1)  # the chunk's scikit-fem objects hold young reference cycles (see local.element_data)
            start = stop

    # --- output -----------------------------------------------------------------------------------
    def write_vtu(self, folder, solution, name=None):
        """``folder/<name>_coarse.vtu``: the coarse mesh with the coarse solution at its vertices;
        ``folder/<name>_fine.vtu``: the fine reconstruction, element by element (nodes on coarse
        edges are duplicated, so a non-conforming basis shows its jumps), with the phase and the
        coarse element of every fine cell. ``name`` defaults to the method's. Plane stress is
        stated in the field data of both (``plane_stress = [1]``). Returns both paths."""
        name = name or self.method.lower()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        label = "temperature" if self.physics == "conduction" else "displacement"
        U = solution.coarse.reshape(-1, self.ncomp)
        cell_type = {3: "triangle", 4: "quad"}
        coarse = meshio.Mesh(pad(self.coarse.p.T), [(cell_type[self.coarse.t.shape[0]], self.coarse.t.T)],
                             point_data={label: _field(U)})
        offsets = np.cumsum([0] + [len(n) for n in self.nodes])
        points = pad(np.concatenate([self.fine.p[:, n].T for n in self.nodes]))
        cells = np.concatenate([np.searchsorted(n, self.fine.t[:, self.partition.members(K)]).T + offsets[K]
                                for K, n in enumerate(self.nodes)])
        field = self._fields(solution)
        values = np.concatenate([field(K).reshape(-1, self.ncomp) for K in range(len(self.nodes))])
        members = np.concatenate([self.partition.members(K) for K in range(len(self.nodes))])
        fine = meshio.Mesh(points, [(cell_type[self.fine.t.shape[0]], cells)], point_data={label: _field(values)},
                           cell_data={"phase": [self.phase[members].astype(np.int32)],
                                      "coarse_element": [self.partition.parent[members].astype(np.int32)]})
        paths = folder / f"{name}_coarse.vtu", folder / f"{name}_fine.vtu"
        stated = {"plane_stress": np.array([1])} if self.plane == "stress" else None
        save_vtu(coarse, paths[0], field_data=stated)
        save_vtu(fine, paths[1], field_data=stated)
        return paths


# --- errors ---------------------------------------------------------------------------------------------
def _interpolate(body, u):
    """Values (ncomp, nel, nqp), gradients (ncomp, 2, nel, nqp) and generalized strain (nel, nqp, n)
    of the interleaved nodal field u on ``body``."""
    ncomp = body.physics.ncomp
    fields = [body.basis.interpolate(u[c::ncomp]) for c in range(ncomp)]
    values = np.stack([np.asarray(f) for f in fields])
    grads = np.stack([f.grad for f in fields])
    return values, grads, body.strain(u)


def _exact(exact, x, ncomp):
    u, grad = exact
    values = np.asarray(u(x), dtype=float).reshape((ncomp,) + x.shape[1:])
    grads = np.asarray(grad(x), dtype=float).reshape((ncomp, 2) + x.shape[1:])
    return values, grads


def _strain(grads, physics):
    """Generalized strain (nel, nqp, n) of gradients (ncomp, 2, nel, nqp): the gradient, or the
    Mandel strain (xx, yy, sqrt2 xy)."""
    if physics == "conduction":
        return np.moveaxis(grads[0], 0, -1)
    return np.stack([grads[0, 0], grads[1, 1], (grads[0, 1] + grads[1, 0]) / np.sqrt(2)], axis=-1)


def _field(values):
    return values[:, 0] if values.shape[1] == 1 else pad(values)
