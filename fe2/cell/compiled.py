"""Element kernels compiled by numba: the stiffness of a tangent assembled straight into a pattern.

:func:`stiffness_data` computes what :meth:`fe2.cell.assembly.Pattern.data` computes from the element
matrices of a :class:`fe2.cell.linearization.Linearization` (the numpy reference, kept for the tests:
both agree to round-off), without forming the element matrices: for every element e, quadrature
point q and upper pair (a <= b) of local DOFs stored at ``slot[e, p]`` of the pattern (``nnz``: the
pair touches a fixed DOF and is dropped),

    data[slot[e, p]] += weight[e, p] * w_q sum_ij B_ia (C - C0)_ij B_jb,

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

    def add(B, dx, tangent, base, a, b, slot, weight, data):
        """data += the stiffness of (tangent - base) over the elements where they differ. B (nel, nqp,
        n, nloc), dx (nel, nqp), tangent and base (nel, 1 or nqp, n, n), the pairs a[p] <= b[p], slot
        (nel, npairs) (len(data): dropped) and weight (nel, npairs). Returns how many elements differ."""
        nqp = B.shape[1]
        nnz = data.size
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
                        for j in range(n):
                            value += C[q, i, j] * B[e, q, j, k]
                        CB[i, k] = w * value
                for p in range(npairs):
                    s = slot[e, p]
                    if s < nnz:
                        ap, bp = a[p], b[p]
                        value = 0.0
                        for i in range(n):
                            value += B[e, q, i, ap] * CB[i, bp]
                        data[s] += weight[e, p] * value
        return changed

    return numba.njit(cache=True, nogil=True)(add)


@functools.lru_cache(maxsize=None)
def kernel(n, nloc, npairs):
    """The compiled kernel for this element shape, compiled (or loaded from numba's cache) once."""
    return _kernel(n, nloc, npairs)


def stiffness_data(B, dx, tangent, a, b, slot, weight, nnz, base=None, base_data=None):
    """The stored values of the stiffness of ``tangent`` on a pattern (see the module docstring);
    from ``base_data``, the data of the tangent ``base``, when both are given."""
    n, nloc = B.shape[2:]
    if base is None:
        base, data = np.zeros((B.shape[0], 1, n, n)), np.zeros(nnz)
    else:
        data = np.array(base_data, dtype=float)
    kernel(n, nloc, a.size)(B, dx, tangent, base, a, b, slot, weight, data)
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
