"""Localized orthogonal decomposition (LOD): coarse nodal functions corrected on k-layer patches.

    space = fe2.msfem.LOD(coarse, fine, materials, layers=2)          # u = 0 on every named boundary
    solution = space.solve([Dirichlet(side, 0.0) for side in sides], body_force=1.0)
    space.errors(solution, reference=u_fine)

The problem is -div(A(x) grad u) = f (conduction) or -div(C(x) : eps(u)) = f (2D elasticity,
plane strain or plane stress as the laws say) on the domain of a coarse mesh of triangles or
quadrilaterals over a nested fine mesh
(Malqvist & Peterseim, Math. Comp. 83, 2014; Engwer, Henning, Malqvist & Peterseim, CMAME 350, 2019).

* **Spaces.** V_h: the fine P1/Q1 functions, zero on the Dirichlet boundaries given at construction;
  V_H: the coarse nodal functions N_j, as fine functions (their fine nodal interpolants).
* **Quasi-interpolation.** I_H = E_H o Pi_H: Pi_H the L2 projection onto the coarse functions of each
  coarse element (Pi_K v = M_K^-1 B_K v, B_K[i, a] = int_K N_i phi_a, M_K = B_K N^T), E_H the average
  of the element values at each coarse vertex over the coarse elements that share it; Dirichlet
  vertices are not constrained. I_H is a projection onto V_H (I_H N_j = N_j).
* **Correctors.** W = ker I_H. For each coarse element T and each of its basis functions N_j (and
  component), Q_T N_j in W(U_k(T)) (fine functions in the kernel that vanish outside the patch U_k(T)
  of k layers of coarse elements around T, and on the Dirichlet boundary) with

      a(Q_T N_j, w) = a_T(N_j, w)   for all w in W(U_k(T)),

  a saddle-point problem [A C^T; C 0] solved by its Schur complement: one sparse factorization of the
  patch stiffness A, Y = A^-1 C^T, X = A^-1 r, Q = X - Y (C Y)^-1 C X. Q = sum_T Q_T.
* **Coarse system.** Petrov-Galerkin (the default): a((I - Q) N_j, N_i) = (f, N_i), assembled patch
  by patch as a_T(N_j, N_i) - a_U(Q_T N_j, N_i). Galerkin: a((I - Q) N_j, (I - Q) N_i) = (f, (I - Q) N_i),
  assembled as B^T A_h B with B = P - Q the fine representation of the multiscale basis.
* **Fine reconstruction.** u_ms = (I - Q) u_H = P U - Q U: conforming, one field on the fine mesh.

With patches that cover the domain (k at least the coarse elements across it) Q is the ideal,
global corrector, and the Galerkin coarse solution is I_H of the fine solution. Coarse DOFs are
vertex * ncomp + component, fine DOFs node * ncomp + component.
"""

import collections
import itertools
import time

import numpy as np
import scipy.sparse as sp

from ..cell.linalg import SymbolicFactorization
from ..macro.boundary import Dirichlet, dirichlet_dofs
from ..parallel import Progress, Serial
from ..timing import timed
from .local import blocks, boundary_facets, element_data, interleave, stacked
from .space import MultiscaleSpace, Solution

TASK_ELEMENTS = 20_000   # patch fine elements per task of local problems
GROUP = 8                # tasks per worker handed to the executor at once


class LOD(MultiscaleSpace):
    """The LOD space of ``coarse`` over the nested ``fine`` mesh with phase laws ``materials`` (a dict
    per phase of the fine mesh, or one law, possibly a coefficient field).

    Parameters
    ----------
    layers : k >= 1, the layers of coarse elements around each element in its corrector patch.
    dirichlet : the boundaries of the coarse mesh where the solution is prescribed (names, or
        ``fe2.macro.Dirichlet`` conditions whose boundaries and components are taken, not their
        values); default: every named boundary, all components. The correctors vanish there, and
        ``solve`` must prescribe exactly these coarse DOFs (with any values).
    petrov_galerkin : test with the coarse nodal functions (default) instead of the corrected ones.
    executor, progress : as for :class:`~fe2.msfem.MsFEM`.
    """

    method = "LOD"

    def __init__(self, coarse, fine, materials, *, layers=2, dirichlet=None, petrov_galerkin=True, executor=None,
                 progress=False):
        if isinstance(layers, bool) or not isinstance(layers, (int, np.integer)) or layers < 1:
            raise ValueError(f"LOD needs layers = k >= 1 (an integer: the coarse layers of each corrector patch), "
                             f"got {layers!r}")
        super().__init__(coarse, fine, materials)
        self.layers = int(layers)
        self.petrov_galerkin = bool(petrov_galerkin)
        self.symmetric = not self.petrov_galerkin
        self.conditions = self._conditions(dirichlet)
        self.fixed, _ = dirichlet_dofs(self.conditions, coarse, self.ncomp, physics=self.physics, where="coarse mesh")
        self._set_up()
        self._fixed_fine = self._fine_dirichlet()
        self._settings = dict(ncomp=self.ncomp, coarse_fixed=np.isin(np.arange(self.ndofs), self.fixed),
                              dirichlet=self._fixed_fine, n_nodes=fine.p.shape[1],
                              domain_facets=_codes(fine.facets[:, fine.boundary_facets()], fine.p.shape[1]))
        executor = executor or Serial()
        start = time.perf_counter()
        n_fine = fine.p.shape[1] * self.ncomp
        self.nodes = [None] * coarse.t.shape[1]
        self.weights = np.zeros(fine.p.shape[1])          # int phi_a of each fine hat function
        self._pieces = {"P": [], "I": [], "A": []}
        with timed(self.timings, "local problems"):
            self.patches = self.partition.layers(self.layers)
            columns = _Columns(n_fine, self.element_dofs, np.repeat(self.partition.valence, self.ncomp))
            pg = []
            tasks, bar = self._tasks(executor.workers), Progress(len(self._chunks(executor.workers)), "correctors",
                                                                   enabled=progress)
            while group := list(itertools.islice(tasks, GROUP * executor.workers)):
                # a group at a time: its correctors go into Q before the next group runs (map returns a list)
                for chunk in executor.map(_correctors, group, label="correctors", progress=False):
                    for T, dofs, q, rows, block in chunk:
                        columns.add(T, dofs, q)
                        pg.append((np.repeat(rows, self.m), np.tile(self.element_dofs[T], rows.size), block.ravel()))
                bar.update(len(group))
            release()  # the serial executor ran the patches here: free their Pardiso handles
            self.correctors = columns.matrix()
            del columns
        with timed(self.timings, "coarse assembly"):
            self.prolongation, self.interpolation = self._coarse_operators()
            if self.petrov_galerkin:
                self.matrix = _coo(_drain(pg), (self.ndofs, self.ndofs)).tocsr()
            else:
                B = self.basis_matrix()
                A = _coo(self._pieces["A"], (n_fine, n_fine)).tocsr()
                self.matrix = (B.T @ (A @ B)).tocsr()
            del pg, self._pieces
        self.timings["offline"] = time.perf_counter() - start + self.timings["partition"]

    # --- set-up ---------------------------------------------------------------------------------
    def _conditions(self, dirichlet):
        names = sorted((self.coarse.boundaries or {}).keys())
        if dirichlet is None:
            dirichlet = names
        conditions = [Dirichlet(bc, 0.0) if isinstance(bc, str) else bc for bc in dirichlet]
        if not conditions:
            raise ValueError("LOD needs at least one Dirichlet boundary, where its correctors vanish: give "
                             f"dirichlet=[names] (the coarse mesh has the boundaries {names})")
        return conditions

    def _fine_dirichlet(self):
        """The fine DOFs on the Dirichlet boundaries (a mask over node * ncomp + component): the nodes
        of the fine boundary facets whose midpoints lie on a coarse facet of those boundaries."""
        coarse, fine, ncomp = self.coarse, self.fine, self.ncomp
        mask = np.zeros(fine.p.shape[1] * ncomp, dtype=bool)
        facets = fine.boundary_facets()
        mid = fine.p[:, fine.facets[:, facets]].mean(axis=1)
        parents = self.partition.parent[fine.f2t[0, facets]]
        for bc in self.conditions:
            on = np.zeros(coarse.facets.shape[1], dtype=bool)
            on[coarse.boundaries[bc.boundary]] = True
            hit = np.zeros(facets.size, dtype=bool)
            for candidate in coarse.t2f[:, parents]:
                a, b = coarse.p[:, coarse.facets[0, candidate]], coarse.p[:, coarse.facets[1, candidate]]
                s = np.clip(np.sum((mid - a) * (b - a), axis=0) / np.sum((b - a) ** 2, axis=0), 0, 1)
                hit |= on[candidate] & (np.linalg.norm(a + s * (b - a) - mid, axis=0) <= self.partition.tol)
            nodes = np.unique(fine.facets[:, facets[hit]])
            components = range(ncomp) if bc.components is None else np.atleast_1d(bc.components).tolist()
            for c in components:
                mask[nodes * ncomp + c] = True
        return mask

    def _chunks(self, workers):
        """The coarse elements in tasks of about TASK_ELEMENTS patch elements, at least four per worker."""
        nK = self.coarse.t.shape[1]
        most = max(1, int(np.ceil(nK / (4 * workers))))
        sizes = np.asarray(self.patches @ self.partition.counts).ravel()
        chunks, chunk, size = [], [], 0
        for T in range(nK):
            chunk.append(T)
            size += sizes[T]
            if size >= TASK_ELEMENTS or len(chunk) == most or T == nK - 1:
                chunks.append(chunk)
                chunk, size = [], 0
        return chunks

    def _compute(self, group):
        """The element data of the coarse elements ``group``, and, once per element, its share of the
        fine load weights, the prolongation, the quasi-interpolation and (Galerkin) the fine stiffness."""
        data = element_data(self, group, projection=True)
        n_fine, ncomp = self.fine.p.shape[1], self.ncomp
        for K, d in data.items():
            self.nodes[K] = d["nodes"]
            self.weights += np.bincount(d["t"].T.ravel(), d["volumes"].ravel(), minlength=n_fine)
            vertices = self.coarse.t[:, K]
            nodes = d["nodes"].astype(np.int32)
            self._pieces["P"].append((np.repeat(nodes, len(vertices)), np.tile(vertices, nodes.size), d["N"].T.ravel()))
            self._pieces["I"].append((np.repeat(vertices, nodes.size), np.tile(nodes, len(vertices)),
                                      (d["projection"] / self.partition.valence[vertices][:, None]).ravel()))
            if not self.petrov_galerkin:
                dofs = interleave(d["t"].T, ncomp)
                nloc = dofs.shape[1]
                self._pieces["A"].append((np.repeat(dofs, nloc, axis=1).ravel(), np.tile(dofs, (1, nloc)).ravel(),
                                          d["matrices"].ravel()))
        return data

    def _tasks(self, workers):
        """The corrector problems, one task per chunk of coarse elements (see :meth:`_task`)."""
        chunks = self._chunks(workers)
        needs = [self._need(chunk) for chunk in chunks]
        for chunk, need, held in zip(chunks, needs, blocks(self._compute, needs, self.partition.counts)):
            yield self._task(chunk, need, held)

    def _need(self, chunk):
        """The coarse elements (sorted) of the patches of the coarse elements ``chunk``."""
        patches = self.patches
        return np.unique(np.concatenate([patches.indices[patches.indptr[T]:patches.indptr[T + 1]] for T in chunk]))

    def _task(self, chunk, need, held):
        """The corrector problems of the coarse elements ``chunk``, self-contained: the element arrays
        of the coarse elements ``need`` their patches cover (``held``: computed once by the shared
        engine), their (vertex, fine node) pairs with the quasi-interpolation and the coarse nodal
        functions, and per patch the ranges of its coarse elements in them."""
        arrays, offsets = stacked(held, need)
        vertices = [np.repeat(self.coarse.t[:, K], held[K]["nodes"].size) for K in need.tolist()]
        coarse = dict(vertex=np.concatenate(vertices),
                      node=np.concatenate([np.tile(held[K]["nodes"], self.coarse.t.shape[0]) for K in need.tolist()]),
                      projection=np.concatenate([(held[K]["projection"] / self.partition.valence[self.coarse.t[:, K]][:, None]
                                                  ).ravel() for K in need.tolist()]),
                      N=np.concatenate([held[K]["N"].ravel() for K in need.tolist()]),
                      offsets=np.cumsum([0] + [v.size for v in vertices]))
        specs = []
        for T in chunk:
            U = self.patches.indices[self.patches.indptr[T]:self.patches.indptr[T + 1]]
            where = np.searchsorted(need, U)
            rows = _ranges(offsets[where], offsets[where + 1])
            start = int(np.sum(self.partition.counts[U[U < T]]))
            specs.append(dict(T=T, where=where, rows=rows, own=(start, start + int(self.partition.counts[T])),
                              vertices=self.coarse.t[:, T]))
        return self._settings, arrays, coarse, specs

    def _coarse_operators(self):
        """The prolongation P (fine DOFs x coarse DOFs: the coarse nodal functions at the fine nodes)
        and the quasi-interpolation I_H (coarse DOFs x fine DOFs), from the pieces of every element
        (each list is emptied as it is summed)."""
        n_fine, n_coarse = self.fine.p.shape[1], self.coarse.p.shape[1]
        P = _coo(_drain(self._pieces["P"]), (n_fine, n_coarse)).tocsr()
        shared = np.bincount(np.concatenate(self.nodes), minlength=n_fine)  # coarse elements at each fine node
        P.data /= np.repeat(shared, np.diff(P.indptr))                     # each element gave the same value
        P.eliminate_zeros()
        I_H = _coo(_drain(self._pieces["I"]), (n_coarse, n_fine)).tocsr()
        if self.ncomp == 1:
            return P, I_H
        identity = sp.identity(self.ncomp, format="csr")
        return sp.kron(P, identity, format="csr"), sp.kron(I_H, identity, format="csr")

    # --- online ---------------------------------------------------------------------------------
    def basis_matrix(self):
        """The multiscale basis (I - Q) N_j as fine vectors: P - Q (fine DOFs x coarse DOFs)."""
        return (self.prolongation - self.correctors).tocsr()

    def _check_fixed(self, fixed):
        if not np.array_equal(fixed, self.fixed):
            names = sorted({bc.boundary for bc in self.conditions})
            raise ValueError(f"the LOD correctors vanish on the Dirichlet boundaries given at construction ({names}), so "
                             f"solve must prescribe the same {self.fixed.size} coarse DOFs; these conditions prescribe "
                             f"{fixed.size} others: build LOD(..., dirichlet=[...]) with the boundaries you solve with")

    def _load(self, f):
        """(f, N_i) (Petrov-Galerkin) or (f, (I - Q) N_i) (Galerkin), from f at the fine nodes with the
        weights int phi_a of the fine hat functions."""
        b = np.repeat(self.weights, self.ncomp) * f
        test = self.prolongation if self.petrov_galerkin else self.basis_matrix()
        return test.T @ b

    # --- fine scale -------------------------------------------------------------------------------
    def fine_field(self, solution):
        """The reconstruction (I - Q) u_H = P U - Q U on the fine mesh (conforming)."""
        U = solution.coarse if isinstance(solution, Solution) else np.asarray(solution, dtype=float)
        return self.prolongation @ U - self.correctors @ U

    def _fields(self, solution):
        u = self.fine_field(solution)
        return lambda K: u[interleave(self.nodes[K], self.ncomp)]

    def local_field(self, solution, K):
        """The reconstruction at the fine nodes of coarse element K (interleaved)."""
        return self._fields(solution)(K)

    def conforming(self, solution):
        """The reconstruction as one fine field (LOD's space is conforming): :meth:`fine_field`."""
        return self.fine_field(solution)

    def element_correctors(self, T):
        """The correctors Q_T N_j of coarse element T, solved again on its patch: (fine DOFs, values
        (n, m)) with the columns in the order of T's coarse DOFs (``element_dofs[T]``)."""
        need = self._need([T])
        task = self._task([T], need, element_data(self, need.tolist(), projection=True))
        _, dofs, q, _, _ = _correctors(task)[0]
        return dofs, q

    def __repr__(self):
        return (f"LOD({self.kind}, {self.coarse.t.shape[1]} coarse elements, {self.fine.t.shape[1]} fine elements, "
                f"k = {self.layers}, {'Petrov-Galerkin' if self.petrov_galerkin else 'Galerkin'})")


class _Columns:
    """The corrector matrix Q = sum_T Q_T (fine DOFs x coarse DOFs) gathered column by column: the
    column of a coarse DOF is summed as soon as the last element at its vertex has given its
    corrector, and the CSC arrays are filled at the end, column by column, so that the memory
    never holds much more than Q itself."""

    def __init__(self, n, element_dofs, remaining):
        self.n, self.element_dofs, self.remaining = n, element_dofs, remaining.copy()
        self.pending, self.done = {}, {}

    def add(self, T, dofs, q):
        for i, j in enumerate(self.element_dofs[T].tolist()):
            self.pending.setdefault(j, []).append((dofs, q[:, i]))
            self.remaining[j] -= 1
            if self.remaining[j] == 0:
                parts = self.pending.pop(j)
                rows, inverse = np.unique(np.concatenate([p[0] for p in parts]), return_inverse=True)
                self.done[j] = (rows.astype(np.int32), np.bincount(inverse, np.concatenate([p[1] for p in parts])))

    def matrix(self):
        ncols = self.element_dofs.max() + 1
        lengths = np.array([self.done[j][0].size if j in self.done else 0 for j in range(ncols)])
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        indices, data = np.empty(indptr[-1], dtype=np.int32), np.empty(indptr[-1])
        for j in range(ncols):
            if j in self.done:
                indices[indptr[j]:indptr[j + 1]], data[indptr[j]:indptr[j + 1]] = self.done.pop(j)
        return sp.csc_matrix((data, indices, indptr), shape=(self.n, ncols))


def _drain(pieces):
    """The items of the list ``pieces``, which is left empty (so that they are freed as soon as used)."""
    items = pieces[:]
    pieces.clear()
    return items


def _coo(pieces, shape):
    """The sparse matrix (duplicates summed) of (rows, cols, values) pieces."""
    if not pieces:
        return sp.csr_matrix(shape)
    rows, cols, values = (np.concatenate(part) for part in zip(*pieces))
    del pieces[:]
    return sp.coo_matrix((values, (rows, cols)), shape=shape).tocsr()


def _codes(facets, n):
    """One integer per facet (2, nf) of node pairs, independent of their order, sorted."""
    return np.sort(np.minimum(facets[0], facets[1]).astype(np.int64) * n + np.maximum(facets[0], facets[1]))


# --- corrector problems (run on workers) -----------------------------------------------------------
PLANS = 64    # patch shapes kept per worker, least recently used dropped
SOLVERS = 16  # symbolic factorizations (shape and fixed DOFs) kept per worker: a structured grid has about 25


class _Shape:
    """What the corrector problem of a patch needs from its elements in local node numbering alone:
    the sparsity pattern of the patch matrix, where each entry of the element matrices goes in it,
    and the boundary facets; and, per set of fixed DOFs, the symbolic factorization of the free-free
    block. Patches of one shape (all interior patches of a structured grid) share one."""

    def __init__(self, t, n_nodes, ncomp):
        self.key = (t.tobytes(), ncomp)
        dofs = interleave(t.T, ncomp)
        nloc, n = dofs.shape[1], n_nodes * ncomp
        key = (np.repeat(dofs, nloc, axis=1).astype(np.int64) * n + np.tile(dofs, (1, nloc))).ravel()
        entries, self.inverse = np.unique(key, return_inverse=True)
        self.rows, self.cols = entries // n, entries % n
        self.n, self.size, self.dofs = n, entries.size, dofs
        self.indptr, self.indices = np.searchsorted(self.rows, np.arange(n + 1)).astype(np.int32), self.cols.astype(np.int32)
        self.facets = boundary_facets(t)[0]

    def solver(self, fixed):
        """(free DOFs, entries of the free-free upper triangle, its symbolic factorization)."""
        key = (self.key, fixed.tobytes())
        if key not in _solvers:
            free = np.flatnonzero(~fixed)
            number = np.full(self.n, -1)
            number[free] = np.arange(free.size)
            upper = np.flatnonzero((number[self.rows] >= 0) & (number[self.cols] >= 0) & (self.cols >= self.rows))
            rows = number[self.rows[upper]]
            symbolic = SymbolicFactorization(np.searchsorted(rows, np.arange(free.size + 1)),
                                             number[self.cols[upper]], free.size)
            _solvers[key] = (free, upper, symbolic)
            while len(_solvers) > SOLVERS:  # each holds a Pardiso handle and its memory (a few MB)
                _solvers.popitem(last=False)
        _solvers.move_to_end(key)
        return _solvers[key]

    def matrix(self, element_matrices):
        """The patch matrix (CSR) and its values on the pattern."""
        values = np.bincount(self.inverse, weights=element_matrices.ravel(), minlength=self.size)
        return sp.csr_matrix((values, self.indices, self.indptr), shape=(self.n, self.n)), values


_shapes = collections.OrderedDict()
_solvers = collections.OrderedDict()


def release():
    """Drop this process's patch shapes and symbolic factorizations (and their Pardiso memory)."""
    _shapes.clear()
    _solvers.clear()


def _shape(t, n_nodes, ncomp):
    key = (t.tobytes(), ncomp)  # the same as the shape's own key
    shape = _shapes.pop(key, None) or _Shape(t, n_nodes, ncomp)
    _shapes[key] = shape
    while len(_shapes) > PLANS:
        _shapes.popitem(last=False)
    return shape


def _ranges(starts, stops):
    """The concatenated ranges [starts[i], stops[i])."""
    lengths = stops - starts
    return np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths) + np.arange(lengths.sum())


def _correctors(task):
    """(T, fine DOFs, Q_T (n, m), coarse test DOFs, a_T(N_j, N_i) - a_U(Q_T N_j, N_i)) of each patch of
    a task: the saddle-point problem [A C^T; C 0] of each patch, by its Schur complement."""
    settings, arrays, coarse, specs = task
    ncomp = settings["ncomp"]
    eye = np.eye(ncomp)
    results = []
    for spec in specs:
        rows = spec["rows"]
        t_global = arrays["t"][:, rows]
        nodes, t = np.unique(t_global, return_inverse=True)
        t = t.reshape(t_global.shape)
        shape = _shape(t, nodes.size, ncomp)
        # fixed: the patch boundary inside the domain, and the Dirichlet boundary
        codes = _codes(nodes[shape.facets], settings["n_nodes"])
        found = np.searchsorted(settings["domain_facets"], codes)
        on_domain = settings["domain_facets"][np.minimum(found, settings["domain_facets"].size - 1)] == codes
        fixed = settings["dirichlet"][interleave(nodes, ncomp)]
        fixed[interleave(np.unique(shape.facets[:, ~on_domain]), ncomp)] = True
        free, upper, symbolic = shape.solver(fixed)
        A, values = shape.matrix(arrays["matrices"][rows])
        factorization = symbolic.factorize(values[upper])
        # the quasi-interpolation restricted to the patch, and the coarse functions at its nodes
        pairs = _ranges(coarse["offsets"][spec["where"]], coarse["offsets"][spec["where"] + 1])
        coarse_nodes = np.unique(coarse["vertex"][pairs])
        r = np.searchsorted(coarse_nodes, coarse["vertex"][pairs])
        c = np.searchsorted(nodes, coarse["node"][pairs])
        C = np.bincount(r * nodes.size + c, weights=coarse["projection"][pairs],
                        minlength=coarse_nodes.size * nodes.size).reshape(coarse_nodes.size, nodes.size)
        Phi = np.zeros((nodes.size, coarse_nodes.size))
        Phi[c, r] = coarse["N"][pairs]
        coarse_dofs = interleave(coarse_nodes, ncomp)
        if ncomp > 1:
            C, Phi = np.kron(C, eye), np.kron(Phi, eye)
        C = C[~settings["coarse_fixed"][coarse_dofs]][:, free]
        C = C[np.abs(C).max(axis=1) > 1e-12 * np.abs(C).max()]  # rows of coarse nodes with no free fine DOF
        # the right-hand sides a_T(N_j, .) of the element's own basis functions, element by element
        own = slice(spec["own"][0], spec["own"][1])
        dofs = shape.dofs[own]
        Phi_T = Phi[:, interleave(np.searchsorted(coarse_nodes, spec["vertices"]), ncomp)]
        R_e = np.einsum("eab,ebj->eaj", arrays["matrices"][rows[own]], Phi_T[dofs])
        R = np.stack([np.bincount(dofs.ravel(), R_e[..., j].ravel(), minlength=shape.n) for j in range(R_e.shape[2])], axis=1)
        Z = factorization.solve(np.hstack([C.T, R[free]]))
        Y, X = Z[:, :C.shape[0]], Z[:, C.shape[0]:]
        q = np.zeros((shape.n, R.shape[1]))
        q[free] = X - Y @ np.linalg.solve(C @ Y, C @ X)
        block = Phi.T @ (R - A @ q)
        results.append((spec["T"], interleave(nodes, ncomp)[free], q[free], coarse_dofs, block))
    return results
