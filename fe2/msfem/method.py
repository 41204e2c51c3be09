"""Multiscale finite elements (MsFEM): coarse basis functions from local fine-scale solves.

    space = fe2.msfem.MsFEM(coarse, fine, materials, boundary="oversampling", oversampling=2.0)
    solution = space.solve(dirichlet=[Dirichlet("left", 0.0)], body_force=1.0)
    space.errors(solution, reference=u_fine)           # broken L2, H1 and energy errors
    space.write_vtu("out/msfem", solution)

The problem is -div(A(x) grad u) = f (conduction) or -div(C(x) : eps(u)) = f (2D elasticity,
plane strain or plane stress as the laws say) on the domain of a coarse mesh of triangles or
quadrilaterals, with A or C from the phases of a fine mesh that nests in it, or from coefficient
fields (scalar or matrix-valued). Each coarse element K gets one
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

import time

import numpy as np
import scipy.sparse as sp

from ..cell.linalg import factorize
from ..parallel import Serial
from ..timing import timed
from .local import assemble, blocks, boundary_facets, element_data, interleave, stacked
from .partition import NestingError, shape_functions  # noqa: F401  (NestingError is part of the API)
from .space import Errors, MultiscaleSpace, Solution  # noqa: F401  (Errors and Solution are part of the API)

BOUNDARY = ("linear", "oversampling", "oscillatory")
TASK_ELEMENTS = 20_000  # fine elements per task of local problems (bounds a task's memory)



class MsFEM(MultiscaleSpace):
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

    method = "MsFEM"

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
        super().__init__(coarse, fine, materials)
        self.boundary, self.factor = boundary, (factor if boundary == "oversampling" else 1.0)
        self.petrov_galerkin = bool(petrov_galerkin)
        self.symmetric = not self.petrov_galerkin
        if boundary == "oscillatory" and self.physics != "conduction":
            raise ValueError("oscillatory boundary conditions come from the 1D reduced scalar problem: use them for "
                             "conduction, and 'linear' or 'oversampling' for elasticity")
        self._set_up()
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
        self.timings["offline"] = time.perf_counter() - start + self.timings["partition"]

    # --- set-up ---------------------------------------------------------------------------------
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
        """The local problems of each chunk, self-contained: the patches' meshes, and the element data
        of the coarse elements they cover (computed once per fine element by the shared engine)."""
        settings = dict(materials=self.materials, phases=self.phases, boundary=self.boundary,
                        petrov_galerkin=self.petrov_galerkin, ncomp=self.ncomp, factor=self.factor)
        fine, partition = self.fine, self.partition
        chunks = list(self._chunks(workers))
        needs = [np.unique(np.concatenate([partition.neighbourhood(K, self.factor) for K in chunk])) for chunk in chunks]
        data = blocks(lambda group: element_data(self, group), needs, partition.counts)
        for chunk, need, held in zip(chunks, needs, data):
            arrays, offsets = stacked(held, need)
            patches = []
            for K in chunk:
                elements = partition.patch(K, self.factor)
                rows = offsets[np.searchsorted(need, partition.parent[elements])] + partition.position[elements]
                nodes, t = np.unique(fine.t[:, elements], return_inverse=True)
                corners = np.searchsorted(nodes, partition.vertex_nodes[self.coarse.t[:, K]])
                patches.append(dict(K=K, p=fine.p[:, nodes], t=t.reshape(fine.t.shape[0], -1), rows=rows,
                                    own=partition.parent[elements] == K, vertices=partition.vertices[K], corners=corners,
                                    tol=partition.tol))
            yield settings, arrays, patches

    # --- online ---------------------------------------------------------------------------------
    def _load(self, f):
        """F_K = sum_a T_K(x_a) f(x_a) int_K N_a (T the test functions; exact for a constant f)."""
        F = np.zeros(self.ndofs)
        for K, nodes in enumerate(self.nodes):
            F[self.element_dofs[K]] += self.tests[K].T @ (self.weights[K] * f[interleave(nodes, self.ncomp)])
        return F

    # --- fine scale -------------------------------------------------------------------------------
    def local_field(self, solution, K):
        """The fine-scale field inside coarse element K (values at its fine nodes, interleaved)."""
        U = solution.coarse if isinstance(solution, Solution) else solution
        return self.bases[K] @ U[self.element_dofs[K]]

    def __repr__(self):
        return (f"MsFEM({self.kind}, {self.coarse.t.shape[1]} coarse elements, {self.fine.t.shape[1]} fine elements, "
                f"{self.boundary}{f' x{self.factor:g}' if self.boundary == 'oversampling' else ''}"
                f"{', Petrov-Galerkin' if self.petrov_galerkin else ''})")


# --- local problems (run on workers) ------------------------------------------------------------------
DENSE = 150  # local problems with fewer DOFs are solved with dense LAPACK (measured: faster below ~150)


def _local_bases(task):
    """(basis, coarse element matrix, load weights, test functions) of each patch of a chunk. The
    task holds plain arrays only (no scikit-fem object), so nothing is left for the collector."""
    settings, arrays, patches = task
    ncomp = settings["ncomp"]
    results = []
    for patch in patches:
        rows = patch["rows"]
        facets, facet_elements = boundary_facets(patch["t"])
        phase = arrays["phase"][rows]
        data = dict(element_matrices=arrays["matrices"][rows], dofs=interleave(patch["t"].T, ncomp),
                    volumes=arrays["volumes"][rows[patch["own"]]], boundary=np.unique(facets), facets=facets,
                    coefficient=(lambda elements, points, tangent, phase=phase:
                                 _tangential_coefficient(settings, phase[elements], points, tangent)),
                    facet_elements=facet_elements)
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
        K = assemble(data["element_matrices"], data["dofs"], n, dense=n <= DENSE)
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
    K_own = assemble(data["element_matrices"][own], dofs, own_dofs.size, dense=own_dofs.size <= DENSE)
    weights = np.repeat(np.bincount(local.T.ravel(), weights=data["volumes"].ravel(), minlength=nodes.size), ncomp)
    if settings["petrov_galerkin"]:
        test = np.zeros_like(phi)
        N_own = shape_functions(V, patch["p"][:, nodes])
        for c in range(ncomp):
            test[c::ncomp, c::ncomp] = N_own.T
    else:
        test = phi
    return phi, test.T @ (K_own @ phi), weights, (test if settings["petrov_galerkin"] else None)


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


def _tangential_coefficient(settings, phase, points, tangent):
    """t.A.t of the laws of the phases ``phase`` (indices into settings["phases"]) at the points."""
    a = np.empty(len(phase))
    for index, name in enumerate(settings["phases"]):
        mine = phase == index
        if not mine.any():
            continue
        law = settings["materials"][name]
        A = law.tensor_at(2, points[:, mine][:, :, None])[:, 0] if law.is_field else np.broadcast_to(law.tensor(2), (mine.sum(), 2, 2))
        a[mine] = np.einsum("i,eij,j->e", tangent, A, tangent)
    return a
