"""Multiscale finite elements (MsFEM): coarse basis functions from local fine-scale solves.

    space = fe2.msfem.MsFEM(coarse, fine, materials, boundary="oversampling", oversampling=2.0)
    solution = space.solve(dirichlet=[Dirichlet("left", 0.0)], body_force=1.0)
    space.errors(solution, reference=u_fine)           # broken L2, H1 and energy errors
    space.write_vtu("out/msfem", solution)

The problem is -div(A(x) grad u) = f (conduction) or -div(C(x) : eps(u)) = f (2D plane-strain
elasticity) on the domain of a coarse mesh of triangles or quadrilaterals, with A or C from the
phases of a fine mesh that nests in it, or from coefficient fields. Each coarse element K gets one
basis function per coarse vertex i (and component c): the fine-scale solution of the homogeneous
equation on a patch S ⊇ K

    -div(A grad psi_j) = 0 in S,   psi_j = N_j on the boundary of S,

where N_j are the nodal functions of S: those of K (barycentric, or bilinear) at the point scaled
back into K about its centroid, N_j(c + (x - c)/oversampling) (for S = K, N_j itself; on triangles
and parallelograms they span the same space as N_j extended, so the recombined basis is the same):

* ``"linear"``: S = K (Hou & Wu 1997). The basis is conforming; its boundary layers cause the
  resonance error of order eps/H.
* ``"oversampling"``: S = K scaled by ``oversampling`` about its centroid, clipped to the domain
  (Hou, Wu & Cai 1999). The restrictions to K are recombined so that the basis keeps the nodal
  (Kronecker) property: with Psi[k, j] = psi_j(x_k) at the coarse vertices x_k of K,
  phi_i = sum_j psi_j (Psi^-1)[j, i], so phi_i(x_k) = delta_ik. The basis is non-conforming across
  coarse edges; sums and errors are taken element by element (broken norms).
* ``"oscillatory"`` (conduction): S = K with, on each edge from x_i to x_j, the solution of the 1D
  reduced problem d/ds (a_t du/ds) = 0, u(x_i) = 1, u(x_j) = 0 (a_t = t.A.t, the conductivity along
  the edge, from the element's own side): phi_i = 1 - R(s)/R(edge), R(s) = int_0^s ds/a_t.

Since the constant (and, for elasticity, every rigid motion) solves the local problems, the basis
is a partition of unity (sum_i phi_i = 1) for every choice. The coarse system is Galerkin,
a(phi_j, phi_i) = (f, phi_i), or, with ``petrov_galerkin=True``, tested with the coarse nodal
functions: a(phi_j, N_i) = (f, N_i), which removes the cell-resonance term left by oversampling.
Coarse DOFs are vertex * ncomp + component. Offline (the basis and the coarse matrix) is done once;
``solve`` (online) assembles a load and solves the coarse system.
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
from ..io.vtu import pad
from ..macro.boundary import dirichlet_dofs
from ..parallel import Serial
from .partition import NestingError, Partition, shape_functions  # noqa: F401  (NestingError is part of the API)
from ..timing import timed

BOUNDARY = ("linear", "oversampling", "oscillatory")
TASK_ELEMENTS = 20_000  # fine elements per task of local problems (bounds a task's memory)


@dataclasses.dataclass
class Solution:
    """A coarse MsFEM solution: the coarse DOF vector and the time of the online solve."""

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


class MsFEM:
    """The multiscale space of ``coarse`` over the nested ``fine`` mesh with phase laws ``materials``
    (a dict per phase of the fine mesh, or one law, possibly a coefficient field).

    Parameters
    ----------
    boundary : "linear", "oversampling" or "oscillatory" (see the module docstring).
    oversampling : patch scale factor (>= 1) of ``boundary="oversampling"`` (default 2); given with
        another boundary it is refused, as it would be ignored.
    petrov_galerkin : test with the coarse nodal functions instead of the multiscale ones.
    executor : a :mod:`fe2.parallel` executor for the local problems (default: serial); laws given as
        functions must be picklable (module-level functions) for process and Dask executors.
    progress : show a progress bar of the local problems.
    """

    def __init__(self, coarse, fine, materials, *, boundary="linear", oversampling=None, petrov_galerkin=False,
                 executor=None, progress=False):
        if boundary not in BOUNDARY:
            raise ValueError(f"unknown MsFEM boundary condition {boundary!r}; use one of {BOUNDARY}")
        if oversampling is not None and boundary != "oversampling":
            raise ValueError(f"oversampling={oversampling!r} is only used with boundary='oversampling'; boundary="
                             f"{boundary!r} solves each local problem on its element: drop oversampling, or use "
                             "boundary='oversampling'")
        factor = 2.0 if oversampling is None else oversampling
        try:
            factor = float(factor)
        except (TypeError, ValueError):
            raise ValueError(f"the oversampling factor must be a number >= 1, got {oversampling!r}") from None
        if not (np.isfinite(factor) and factor >= 1):
            raise ValueError(f"the oversampling factor must be at least 1 (the patch contains the element), got {oversampling}")
        self.coarse, self.fine = coarse, fine
        self.boundary, self.factor = boundary, (factor if boundary == "oversampling" else 1.0)
        self.petrov_galerkin = bool(petrov_galerkin)
        self.timings = {}
        # bad input is refused before any local problem is solved
        self.phases, self.phase = phase_map(fine, materials)
        self.materials = materials if isinstance(materials, dict) else {self.phases[0]: materials}
        kinds = {getattr(law, "physics", None) for law in self.materials.values()}
        if len(kinds) != 1 or not kinds <= {"conduction", "elasticity"}:
            raise ValueError(f"MsFEM materials must be all conductors or all linear elastic, got {self.materials}")
        self.physics = kinds.pop()
        if not all(law.linear for law in self.materials.values()):
            raise ValueError("MsFEM solves linear problems: give linear laws (Isotropic, Anisotropic, Conductor)")
        if boundary == "oscillatory" and self.physics != "conduction":
            raise ValueError("oscillatory boundary conditions come from the 1D reduced scalar problem: use them for "
                             "conduction, and 'linear' or 'oversampling' for elasticity")
        self.ncomp = 1 if self.physics == "conduction" else 2
        self._check_coefficients()
        with timed(self.timings, "partition"):
            self.partition = Partition(coarse, fine)
        nv = coarse.t.shape[0]
        self.m = nv * self.ncomp                                                          # basis functions per element
        self.element_dofs = (coarse.t.T[:, :, None] * self.ncomp + np.arange(self.ncomp)).reshape(-1, self.m)
        self.ndofs = coarse.p.shape[1] * self.ncomp
        executor = executor or Serial()
        start = time.perf_counter()
        with timed(self.timings, "local problems"):
            results = [r for chunk in executor.map(_local_bases, self._tasks(executor.workers), label="local problems",
                                                   progress=progress, total=self._task_count(executor.workers))
                       for r in chunk]
        self.nodes = [self._own_nodes(K) for K in range(coarse.t.shape[1])]
        self.bases = [r[0] for r in results]                                              # (n_K * ncomp, m) each
        self.weights = [r[2] for r in results]                          # int_K N_a of each fine node a of K
        self.tests = [r[3] for r in results] if self.petrov_galerkin else self.bases      # test functions at the nodes
        with timed(self.timings, "coarse assembly"):
            A_K = np.stack([r[1] for r in results])
            rows = np.repeat(self.element_dofs, self.m, axis=1)
            cols = np.tile(self.element_dofs, (1, self.m))
            self.matrix = sp.csr_matrix((A_K.reshape(len(A_K), -1).ravel(), (rows.ravel(), cols.ravel())),
                                        shape=(self.ndofs, self.ndofs))
        del results
        self._factorizations = {}
        self.timings["offline"] = time.perf_counter() - start + self.timings["partition"]

    # --- set-up ---------------------------------------------------------------------------------
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

    def _own_nodes(self, K):
        """The fine nodes of coarse element K, sorted."""
        return np.unique(self.fine.t[:, self.partition.members(K)])

    def _task_count(self, workers):
        return sum(1 for _ in self._chunks(workers))

    def _chunks(self, workers):
        """Coarse elements grouped into tasks of about TASK_ELEMENTS patch elements, and at least
        four tasks per worker."""
        nK = self.coarse.t.shape[1]
        most = max(1, int(np.ceil(nK / (4 * workers))))
        sizes = self.partition.counts * self.factor**2                        # patch size, estimated
        chunk, size = [], 0.0
        for K in range(nK):
            chunk.append(K)
            size += sizes[K]
            if size >= TASK_ELEMENTS or len(chunk) == most or K == nK - 1:
                yield chunk
                chunk, size = [], 0.0

    def _tasks(self, workers):
        """The local problems of each chunk, self-contained (patch meshes, laws, coarse vertices)."""
        settings = dict(mesh_type=type(self.fine), materials=self.materials, phases=self.phases, boundary=self.boundary,
                        petrov_galerkin=self.petrov_galerkin, ncomp=self.ncomp, factor=self.factor)
        fine, partition = self.fine, self.partition
        for chunk in self._chunks(workers):
            patches = []
            for K in chunk:
                elements = partition.patch(K, self.factor)
                nodes, t = np.unique(fine.t[:, elements], return_inverse=True)
                corners = np.searchsorted(nodes, partition.vertex_nodes[self.coarse.t[:, K]])
                patches.append(dict(K=K, p=fine.p[:, nodes], t=t.reshape(fine.t.shape[0], -1), phase=self.phase[elements],
                                    own=partition.parent[elements] == K, vertices=partition.vertices[K], corners=corners,
                                    tol=partition.tol))
            yield settings, patches

    # --- online ---------------------------------------------------------------------------------
    def solve(self, dirichlet=(), body_force=None):
        """The coarse solution for Dirichlet conditions (``fe2.macro.Dirichlet`` on named boundaries
        of the coarse mesh, imposed at its vertices) and a body force (a number per component, or a
        function of x (2, n) returning (n,) or (ncomp, n)). The load (f, phi_i) is integrated from
        the values of f at the fine nodes with the weights int_K N_a of their fine hat functions:
        exact for a constant f, second-order accurate otherwise, and nothing per element but the
        weights is kept for it."""
        start = time.perf_counter()
        fixed, values = dirichlet_dofs(dirichlet, self.coarse, self.ncomp, physics=self.physics, where="coarse mesh")
        if fixed.size == 0:
            raise ValueError("the MsFEM problem needs at least one Dirichlet condition to be well posed")
        F = np.zeros(self.ndofs)
        if body_force is not None:
            f = self._nodal(body_force, "body force")
            for K, nodes in enumerate(self.nodes):  # F_K = sum_a T_K(x_a) f(x_a) int_K N_a (exact for constant f)
                f_K = f[(nodes[:, None] * self.ncomp + np.arange(self.ncomp)).ravel()]
                F[self.element_dofs[K]] += self.tests[K].T @ (self.weights[K] * f_K)
        free = np.setdiff1d(np.arange(self.ndofs), fixed)
        U = np.zeros(self.ndofs)
        U[fixed] = values
        A = self.matrix
        rhs = F[free] - A[free][:, fixed] @ values
        key = fixed.tobytes()
        if key not in self._factorizations:  # one factorization per set of fixed DOFs, reused by later loads
            A_ff = A[free][:, free]
            self._factorizations = {key: spla.splu(sp.csc_matrix(A_ff)) if self.petrov_galerkin
                                    else factorize(sp.triu(A_ff, format="csr"))}
        U[free] = self._factorizations[key].solve(rhs)
        seconds = time.perf_counter() - start
        self.timings["online"] = seconds
        return Solution(U, seconds)

    def _nodal(self, value, what):
        """A number per component, or a function of x, as interleaved values at the fine nodes."""
        x = self.fine.p
        f = np.asarray(value(x) if callable(value) else value, dtype=float)
        f = f.reshape(-1, x.shape[1]) if f.ndim and f.shape[-1] == x.shape[1] else np.atleast_1d(f)[:, None]
        if f.shape[0] != self.ncomp or not np.all(np.isfinite(f)):
            raise ValueError(f"{what} must be {self.ncomp} finite value(s) per point, got shape {f.shape}")
        return np.broadcast_to(f, (self.ncomp, x.shape[1])).T.ravel()

    # --- fine scale -------------------------------------------------------------------------------
    def local_field(self, solution, K):
        """The fine-scale field inside coarse element K (values at its fine nodes, interleaved)."""
        U = solution.coarse if isinstance(solution, Solution) else solution
        return self.bases[K] @ U[self.element_dofs[K]]

    def conforming(self, solution):
        """The reconstruction as one field on the fine mesh: the average of the element values at
        nodes on coarse edges (equal to them where the basis is conforming)."""
        total = np.zeros(self.fine.p.shape[1] * self.ncomp)
        count = np.zeros_like(total)
        for K, nodes in enumerate(self.nodes):
            dofs = (nodes[:, None] * self.ncomp + np.arange(self.ncomp)).ravel()
            np.add.at(total, dofs, self.local_field(solution, K))
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
        """The coarse elements in chunks, each as (fine elements, Body of their fine elements side
        by side, the fine-mesh DOFs of its nodes, the reconstruction at its nodes)."""
        ncomp, nK = self.ncomp, len(self.nodes)
        start = 0
        while start < nK:
            stop, size = start, 0
            while stop < nK and (size == 0 or size < TASK_ELEMENTS):
                size += self.partition.members(stop).size
                stop += 1
            offsets = np.cumsum([0] + [len(self.nodes[K]) for K in range(start, stop)])
            elements = np.concatenate([self.partition.members(K) for K in range(start, stop)])
            t = np.hstack([np.searchsorted(self.nodes[K], self.fine.t[:, self.partition.members(K)]) + offsets[i]
                           for i, K in enumerate(range(start, stop))])
            nodes = np.concatenate(self.nodes[start:stop])
            mesh, materials = _submesh(type(self.fine), self.fine.p[:, nodes], t, self.phase[elements], self.phases,
                                       self.materials)
            dofs = (nodes[:, None] * ncomp + np.arange(ncomp)).ravel()
            u = np.concatenate([self.local_field(solution, K) for K in range(start, stop)])
            yield elements, Body(mesh, materials), dofs, u
            del mesh
            gc.collect()  # the chunk's scikit-fem objects hold reference cycles (see _local_bases)
            start = stop

    # --- output -----------------------------------------------------------------------------------
    def write_vtu(self, folder, solution, name="msfem"):
        """``folder/<name>_coarse.vtu``: the coarse mesh with the coarse solution at its vertices;
        ``folder/<name>_fine.vtu``: the fine reconstruction, element by element (nodes on coarse
        edges are duplicated, so a non-conforming basis shows its jumps), with the phase and the
        coarse element of every fine cell. Returns both paths."""
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
        values = np.concatenate([self.local_field(solution, K).reshape(-1, self.ncomp) for K in range(len(self.nodes))])
        members = np.concatenate([self.partition.members(K) for K in range(len(self.nodes))])
        fine = meshio.Mesh(points, [(cell_type[self.fine.t.shape[0]], cells)], point_data={label: _field(values)},
                           cell_data={"phase": [self.phase[members].astype(np.int32)],
                                      "coarse_element": [self.partition.parent[members].astype(np.int32)]})
        paths = folder / f"{name}_coarse.vtu", folder / f"{name}_fine.vtu"
        meshio.write(paths[0], coarse)
        meshio.write(paths[1], fine)
        return paths

    def __repr__(self):
        return (f"MsFEM({self.physics}, {self.coarse.t.shape[1]} coarse elements, {self.fine.t.shape[1]} fine elements, "
                f"{self.boundary}{f' x{self.factor:g}' if self.boundary == 'oversampling' else ''}"
                f"{', Petrov-Galerkin' if self.petrov_galerkin else ''})")


# --- local problems (run on workers) ------------------------------------------------------------------
DENSE = 150  # local problems with fewer DOFs are solved with dense LAPACK (measured: faster below ~150)


def _local_bases(task):
    """(basis, coarse element matrix, load weights, test functions) of each patch of a chunk."""
    results = _solve_patches(*task)
    # scikit-fem meshes and mappings hold reference cycles, which the collector, counting objects
    # rather than bytes, would otherwise leave alive for many tasks: free this task's element data now
    gc.collect()
    return results


def _solve_patches(settings, patches):
    """The local problems of the patches, put side by side in one mesh (no shared nodes) so that one
    Body computes every element matrix at once."""
    ncomp = settings["ncomp"]
    node_offsets = np.cumsum([0] + [patch["p"].shape[1] for patch in patches])
    element_offsets = np.cumsum([0] + [patch["t"].shape[1] for patch in patches])
    mesh, materials = _submesh(settings["mesh_type"], np.hstack([patch["p"] for patch in patches]),
                               np.hstack([patch["t"] + offset for patch, offset in zip(patches, node_offsets)]),
                               np.concatenate([patch["phase"] for patch in patches]), settings["phases"], settings["materials"])
    body = Body(mesh, materials)
    facets = mesh.facets[:, mesh.boundary_facets()]                                  # boundaries of all patches
    facet_elements = mesh.f2t[0, mesh.boundary_facets()]
    facet_patch = np.searchsorted(node_offsets, facets[0], side="right") - 1
    order = np.argsort(facet_patch, kind="stable")
    facets, facet_elements = facets[:, order], facet_elements[order]
    facet_offsets = np.searchsorted(facet_patch[order], np.arange(len(patches) + 1))
    boundary = np.unique(facets)
    boundary_offsets = np.searchsorted(boundary, node_offsets)
    values = np.stack([np.asarray(b) for (b,) in body.basis.basis])                        # (nloc, nel, nqp)
    results = []
    for k, patch in enumerate(patches):
        n0, e0 = node_offsets[k], element_offsets[k]
        f0, f1 = facet_offsets[k], facet_offsets[k + 1]
        data = dict(element_matrices=body.linearize().element_matrices[e0:element_offsets[k + 1]],
                    dofs=body.dofs[e0:element_offsets[k + 1]] - n0 * ncomp,
                    volumes=np.einsum("aeq,eq->ea", values[:, e0 + np.flatnonzero(patch["own"])],
                                      body.dx[e0 + np.flatnonzero(patch["own"])]),
                    boundary=boundary[boundary_offsets[k]:boundary_offsets[k + 1]] - n0, facets=facets[:, f0:f1] - n0,
                    coefficient=(lambda elements, points, tangent, e0=e0:
                                 _tangential_coefficient(body, elements + e0, points, tangent)),
                    facet_elements=facet_elements[f0:f1] - e0)
        results.append(_local_basis(settings, patch, data))
    return results


def _local_basis(settings, patch, data):
    """The basis of one coarse element from the local problems on its patch:
    K psi = 0 inside, psi = N on the patch boundary; then restriction and recombination."""
    ncomp, V = settings["ncomp"], patch["vertices"]
    n = patch["p"].shape[1] * ncomp
    boundary = data["boundary"]
    if settings["boundary"] == "oscillatory":
        N = _oscillatory(patch["p"], data["facets"], data["facet_elements"], data["coefficient"], boundary, V, patch["tol"])
    else:
        # the nodal functions of the patch S (K scaled about its centroid): the extension of K's
        # bilinear functions through the inverse map has no meaning far outside a distorted quad
        c = V.mean(axis=0)[:, None]
        N = shape_functions(V, c + (patch["p"][:, boundary] - c) / settings["factor"])  # (nv, nb)
    m = len(V) * ncomp
    fixed = (boundary[:, None] * ncomp + np.arange(ncomp)).ravel()
    G = np.zeros((fixed.size, m))                                                     # psi_(i,c) = N_i e_c on the boundary
    for c in range(ncomp):
        G[c::ncomp, c::ncomp] = N.T
    free = np.setdiff1d(np.arange(n), fixed)
    psi = np.zeros((n, m))
    psi[fixed] = G
    if free.size:
        K = _matrix(data["element_matrices"], data["dofs"], n, dense=n <= DENSE)
        if n <= DENSE:
            psi[free] = -np.linalg.solve(K[np.ix_(free, free)], K[np.ix_(free, fixed)] @ G)
        else:
            psi[free] = -factorize(sp.triu(K[free][:, free], format="csr")).solve(K[free][:, fixed] @ G)
    # restriction to the element and recombination to nodal (Kronecker) values at its vertices
    own = patch["own"]
    nodes = np.unique(patch["t"][:, own])
    own_dofs = (nodes[:, None] * ncomp + np.arange(ncomp)).ravel()
    corner_dofs = (patch["corners"][:, None] * ncomp + np.arange(ncomp)).ravel()
    Psi = psi[corner_dofs]
    if np.linalg.cond(Psi) > 1e10:
        raise np.linalg.LinAlgError(f"coarse element {patch['K']}: the oversampled basis is degenerate at its vertices")
    phi = np.linalg.solve(Psi.T, psi[own_dofs].T).T                                   # phi = psi Psi^-1
    # the element's own fine stiffness and mass (in its own node numbering)
    local = np.searchsorted(nodes, patch["t"][:, own])
    dofs = (local.T[:, :, None] * ncomp + np.arange(ncomp)).reshape(local.shape[1], -1)
    K_own = _matrix(data["element_matrices"][own], dofs, own_dofs.size, dense=own_dofs.size <= DENSE)
    weights = np.repeat(np.bincount(local.T.ravel(), weights=data["volumes"].ravel(), minlength=nodes.size), ncomp)
    if settings["petrov_galerkin"]:
        test = np.zeros_like(phi)
        N_own = shape_functions(V, patch["p"][:, nodes])
        for c in range(ncomp):
            test[c::ncomp, c::ncomp] = N_own.T
    else:
        test = phi
    return phi, test.T @ (K_own @ phi), weights, (test if settings["petrov_galerkin"] else None)


def _submesh(mesh_type, p, t, phase, phases, materials):
    """A scikit-fem mesh of some fine elements with their phases, and the laws of those phases."""
    present = np.unique(phase)
    subdomains = {phases[i]: np.flatnonzero(phase == i) for i in present}
    mesh = mesh_type(np.ascontiguousarray(p), np.ascontiguousarray(t), _subdomains=subdomains)
    return mesh, {phases[i]: materials[phases[i]] for i in present}


def _matrix(element_matrices, dofs, n, dense=False):
    """The matrix assembled from element matrices (nel, nloc, nloc) on the DOFs (nel, nloc)."""
    nloc = dofs.shape[1]
    if dense:
        index = (dofs[:, :, None] * n + dofs[:, None, :]).ravel()
        return np.bincount(index, weights=element_matrices.ravel(), minlength=n * n).reshape(n, n)
    rows = np.repeat(dofs, nloc, axis=1).ravel()
    cols = np.tile(dofs, (1, nloc)).ravel()
    return sp.csr_matrix((element_matrices.ravel(), (rows, cols)), shape=(n, n))


def _oscillatory(p, facets, facet_elements, coefficient, boundary, V, tol):
    """Nodal functions on the element boundary from the 1D reduced problem along each edge:
    phi_i = 1 - R(s) / R(edge) from x_i to x_j, R(s) = int_0^s ds / a_t."""
    nv = len(V)
    N = np.zeros((nv, boundary.size))
    mid = p[:, facets].mean(axis=1)
    x = p[:, boundary]
    for i in range(nv):
        j = (i + 1) % nv
        edge = V[j] - V[i]
        tangent = edge / np.linalg.norm(edge)
        normal = np.array([-tangent[1], tangent[0]])
        on_edge = np.abs(normal @ (mid - V[i][:, None])) <= tol
        order = np.argsort(tangent @ (mid[:, on_edge] - V[i][:, None]))              # facets along the edge
        segments = facets[:, on_edge][:, order]
        h = np.linalg.norm(p[:, segments[0]] - p[:, segments[1]], axis=0)
        a = coefficient(facet_elements[on_edge][order], mid[:, on_edge][:, order], tangent)
        ends = np.concatenate([[0.0], np.cumsum(h)])
        resistance = np.concatenate([[0.0], np.cumsum(h / a)])
        nodes = np.abs(normal @ (x - V[i][:, None])) <= tol
        r = np.interp(tangent @ (x[:, nodes] - V[i][:, None]), ends, resistance) / resistance[-1]
        N[i, nodes] = 1 - r
        N[j, nodes] = r
    return N


def _tangential_coefficient(body, elements, points, tangent):
    """t.A.t of the laws of the given elements at the given points."""
    a = np.empty(len(elements))
    for index, name in enumerate(body.phases):
        mine = body.phase[elements] == index
        if not mine.any():
            continue
        law = body.materials[name]
        A = law.tensor_at(2, points[:, mine][:, :, None])[:, 0] if law.is_field else np.broadcast_to(law.tensor(2), (mine.sum(), 2, 2))
        a[mine] = np.einsum("i,eij,j->e", tangent, A, tangent)
    return a


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
