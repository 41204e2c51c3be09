"""Kernels compiled by numba: the stiffness of a tangent assembled straight into a pattern, the
pattern itself, the strain and nodal forces of a field, and the smoother of the iterative path.

:func:`stiffness_data` computes what :meth:`fe2.cell.assembly.Pattern.data` computes from the element
matrices of a :class:`fe2.cell.linearization.Linearization` (the numpy reference, kept for the tests:
both agree to round-off), without forming the element matrices: for every element e, quadrature
point q and upper pair (a <= b) of local DOFs stored at ``slot[e, p]`` of the pattern (``nnz``: the
pair touches a fixed DOF and is dropped),

    data[slot[e, p]] += weight[e, p] * w_q sum_ij B_ia (C - C0)_ij B_jb,

the sums over i and j taken only over the rows where B's columns a and b can be nonzero,

starting from the data of a base tangent C0 (the virgin cell's, assembled once) and skipping every
element whose tangent equals C0 bit for bit: K is linear in C, and in a micro Newton iteration the
linear phases and the points still elastic keep their virgin tangent. One kernel is compiled per
element shape (strain size, local DOFs): with the loop bounds known to the compiler it runs about
twice as fast. Without numba (``AVAILABLE`` False) the numpy path is used.
"""

import functools

import numpy as np

from ..materials.compiled import AVAILABLE, numba


def _kernel(n, nloc, npairs):
    """The stiffness kernel for strain size n, nloc local DOFs and npairs upper pairs."""

    def add(B, dx, tangent, base, a, b, slot, weight, data, rows):
        """data += the stiffness of (tangent - base) over the elements where they differ. B (nel, nqp,
        n, nloc), dx (nel, nqp), tangent and base (nel, 1 or nqp, n, n), the pairs a[p] <= b[p], slot
        (nel, npairs) (len(data): dropped) and weight (nel, npairs); rows (nloc, r): the strain rows
        where each local DOF's column of B may be nonzero (the others are zero in every element).
        Returns how many elements differ."""
        nqp = B.shape[1]
        nnz = data.size
        r = rows.shape[1]
        CB = np.empty((n, nloc))
        C = np.empty((nqp, n, n))
        per_point, base_per_point = tangent.shape[1] > 1, base.shape[1] > 1
        changed = 0
        for e in range(B.shape[0]):
            same = True
            for q in range(nqp):
                qt, qb = (q if per_point else 0), (q if base_per_point else 0)
                for i in range(n):
                    for j in range(n):
                        C[q, i, j] = tangent[e, qt, i, j] - base[e, qb, i, j]
                        if C[q, i, j] != 0.0:
                            same = False
            if same:
                continue
            changed += 1
            for q in range(nqp):
                w = dx[e, q]
                for i in range(n):
                    for k in range(nloc):
                        value = 0.0
                        for t in range(r):
                            j = rows[k, t]
                            value += C[q, i, j] * B[e, q, j, k]
                        CB[i, k] = w * value
                for p in range(npairs):
                    s = slot[e, p]
                    if s < nnz:
                        ap, bp = a[p], b[p]
                        value = 0.0
                        for t in range(r):
                            i = rows[ap, t]
                            value += B[e, q, i, ap] * CB[i, bp]
                        data[s] += weight[e, p] * value
        return changed

    return numba.njit(cache=True, nogil=True)(add)


@functools.lru_cache(maxsize=None)
def kernel(n, nloc, npairs):
    """The compiled kernel for this element shape, compiled (or loaded from numba's cache) once."""
    return _kernel(n, nloc, npairs)


def stiffness_data(B, dx, tangent, a, b, slot, weight, nnz, base=None, base_data=None, rows=None):
    """The stored values of the stiffness of ``tangent`` on a pattern (see the module docstring);
    from ``base_data``, the data of the tangent ``base``, when both are given. ``rows`` (nloc, r): the
    rows of B where each local DOF's column may be nonzero (:meth:`fe2.cell.body.Body.rows`; default
    all n): the products skip the others (a third of the rows for 3D elasticity at finite strain)."""
    n, nloc = B.shape[2:]
    if base is None:
        base, data = np.zeros((B.shape[0], 1, n, n)), np.zeros(nnz)
    else:
        data = np.array(base_data, dtype=float)
    rows = np.tile(np.arange(n), (nloc, 1)) if rows is None else np.ascontiguousarray(rows, dtype=np.int64)
    kernel(n, nloc, a.size)(B, dx, tangent, base, a, b, slot, weight, data, rows)
    return data


def _field_kernels(n, nloc):
    """The strain and nodal-force kernels for strain size n and nloc local DOFs."""

    def strain(B, u, dofs, out):
        """out[e, q] = B[e, q] u[dofs[e]]: the strain at the quadrature points."""
        for e in range(B.shape[0]):
            for q in range(B.shape[1]):
                for i in range(n):
                    value = 0.0
                    for k in range(nloc):
                        value += B[e, q, i, k] * u[dofs[e, k]]
                    out[e, q, i] = value

    def forces(B, dx, stress, dofs, out):
        """out[dofs[e]] += sum_q w_q B[e, q]^T stress[e, q]: the nodal forces of a stress field."""
        for e in range(B.shape[0]):
            for k in range(nloc):
                value = 0.0
                for q in range(B.shape[1]):
                    for i in range(n):
                        value += B[e, q, i, k] * stress[e, q, i] * dx[e, q]
                out[dofs[e, k]] += value

    jit = numba.njit(cache=True, nogil=True)
    return jit(strain), jit(forces)


@functools.lru_cache(maxsize=None)
def field_kernels(n, nloc):
    """The compiled (strain, forces) kernels for this element shape."""
    return _field_kernels(n, nloc)


def strain(B, u, dofs):
    """The strain B u at the quadrature points, (nel, nqp, n): :meth:`fe2.cell.body.Body.strain`."""
    out = np.empty(B.shape[:3])
    field_kernels(*B.shape[2:])[0](B, np.ascontiguousarray(u, dtype=float), dofs, out)
    return out


def nodal_forces(B, dx, stress, dofs, ndofs):
    """The nodal forces sum_e sum_q w_q B^T stress, (ndofs,): :meth:`fe2.cell.body.Body.nodal_forces`."""
    out = np.zeros(ndofs)
    field_kernels(*B.shape[2:])[1](B, dx, np.ascontiguousarray(stress, dtype=float), dofs, out)
    return out


def _pattern(rows, a, b, n, counts, cols):
    """The upper-triangle CSR pattern of the pairs (a[p], b[p]) of every element's reduced DOFs ``rows``
    (nel, nloc; -1 fixed) and where each pair lands: see :func:`pattern`. ``counts`` (n,) zeros and
    ``cols`` (number of kept pairs,) are the work arrays."""
    nel, npairs = rows.shape[0], a.size
    # bucket the column of every kept pair by its row, rows in order
    start = np.zeros(n + 1, dtype=np.int64)
    for r in range(n):
        start[r + 1] = start[r] + counts[r]
    cursor = start[:-1].copy()
    for e in range(nel):
        for p in range(npairs):
            i, j = rows[e, a[p]], rows[e, b[p]]
            if i >= 0 and j >= 0:
                r, c = min(i, j), max(i, j)
                cols[cursor[r]] = c
                cursor[r] += 1
    # deduplicate each row (a marker per column), sort what is left, and compact in place
    indptr = np.zeros(n + 1, dtype=np.int64)
    seen = np.full(n, -1, dtype=np.int64)
    for r in range(n):
        unique = indptr[r]
        for k in range(start[r], start[r + 1]):
            c = cols[k]
            if seen[c] != r:
                seen[c] = r
                cols[unique] = c   # unique <= k: the columns of this row not yet read are not overwritten
                unique += 1
        cols[indptr[r]:unique] = np.sort(cols[indptr[r]:unique])
        indptr[r + 1] = unique
    return indptr, cols[:indptr[n]].copy()


def _slots(rows, a, b, indptr, indices, slots, weights):
    """Where each pair lands in the pattern (left at nnz: dropped) and how often (2: a periodic wrap
    onto the diagonal), filled in place."""
    for e in range(rows.shape[0]):
        for p in range(a.size):
            i, j = rows[e, a[p]], rows[e, b[p]]
            if i >= 0 and j >= 0:
                r, c = min(i, j), max(i, j)
                slots[e, p] = indptr[r] + np.searchsorted(indices[indptr[r]:indptr[r + 1]], c)
                weights[e, p] = 2 if (a[p] != b[p] and i == j) else 1


def _row_counts(rows, a, b, counts):
    """counts[r] += the kept pairs whose smaller reduced index is r."""
    for e in range(rows.shape[0]):
        for p in range(a.size):
            i, j = rows[e, a[p]], rows[e, b[p]]
            if i >= 0 and j >= 0:
                counts[min(i, j)] += 1


if AVAILABLE:
    _pattern = numba.njit(cache=True, nogil=True)(_pattern)
    _row_counts = numba.njit(cache=True, nogil=True)(_row_counts)
    _slots = numba.njit(cache=True, nogil=True)(_slots)


def _relax(indptr, indices, data, x, b, i):
    """x[i] = (b[i] - sum_{j != i} a_ij x_j) / a_ii for row i of a CSR matrix. The indices are made
    unsigned: numba then drops the negative-index check of every access, which halves the time."""
    i = np.uint64(i)
    off, diagonal = 0.0, 1.0
    for k in range(np.uint64(indptr[i]), np.uint64(indptr[i + np.uint64(1)])):
        j = np.uint64(indices[k])
        if j == i:
            diagonal = data[k]
        else:
            off += data[k] * x[j]
    x[i] = (b[i] - off) / diagonal


def _symmetric_gauss_seidel(indptr, indices, data, x, b):
    """One forward and one backward Gauss-Seidel sweep on A x = b (CSR, nonzero diagonal), in place."""
    n = x.size
    for i in range(n):
        _relax(indptr, indices, data, x, b, i)
    for i in range(n - 1, -1, -1):
        _relax(indptr, indices, data, x, b, i)


if AVAILABLE:
    _relax = numba.njit(cache=True, nogil=True, error_model="numpy")(_relax)
    _symmetric_gauss_seidel = numba.njit(cache=True, nogil=True, error_model="numpy")(_symmetric_gauss_seidel)


def symmetric_gauss_seidel(A, x, b):
    """The AMG smoother of :class:`fe2.cell.linalg.Iterative` (pyamg's ``gauss_seidel`` with
    ``sweep="symmetric"`` on CSR, same arithmetic), compiled without the GIL, so that the right-hand
    sides of a block can be solved on threads."""
    _symmetric_gauss_seidel(A.indptr, A.indices, A.data, x, b)


def pattern(rows, a, b, n):
    """The CSR upper-triangle pattern (indptr, indices) of the pairs (a[p], b[p]) of local DOFs of every
    element, by their reduced indices ``rows`` (nel, nloc; -1: fixed, the pair is dropped), stored at
    (min, max); with, per element and pair, the slot of the entry it adds to (nnz if dropped) and its
    weight (0 dropped, 1, or 2 when a != b land on the same reduced DOF). Two passes over the pairs and
    one sort per row: no temporaries of the size of all pairs but the column buffer."""
    rows = np.ascontiguousarray(rows)
    a, b = np.ascontiguousarray(a, dtype=np.int64), np.ascontiguousarray(b, dtype=np.int64)
    counts = np.zeros(n, dtype=np.int64)
    _row_counts(rows, a, b, counts)
    index = np.int32 if max(n, counts.sum()) < 2**31 - 1 else np.int64
    indptr, indices = _pattern(rows, a, b, n, counts, np.empty(int(counts.sum()), dtype=index))
    slots = np.full((rows.shape[0], a.size), indptr[-1], dtype=index)
    weights = np.zeros((rows.shape[0], a.size), dtype=np.int8)
    _slots(rows, a, b, indptr, indices, slots, weights)
    return indptr.astype(index), indices, slots, weights
