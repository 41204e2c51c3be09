"""Element kernels compiled by numba: the stiffness of a tangent assembled straight into a pattern.

:func:`stiffness_data` computes what :meth:`fe2.cell.assembly.Pattern.data` computes from the element
matrices of a :class:`fe2.cell.linearization.Linearization` (the numpy reference, kept for the tests:
both agree to round-off), without forming the element matrices: for every element e, quadrature
point q and upper pair (a <= b) of local DOFs stored at ``slot[e, p]`` of the pattern (``nnz``: the
pair touches a fixed DOF and is dropped),

    data[slot[e, p]] += weight[e, p] * w_q sum_ij B_ia C_ij B_jb.

Without numba (``AVAILABLE`` False) the numpy path is used.
"""

import numpy as np

from ..materials.compiled import AVAILABLE, numba


def _stiffness_data(B, dx, tangent, a, b, slot, weight, nnz):
    """B (nel, nqp, n, nloc), dx (nel, nqp), tangent (nel, 1 or nqp, n, n), the pairs a[p] <= b[p],
    slot (nel, npairs) (nnz: dropped) and weight (nel, npairs) -> data (nnz,)."""
    data = np.zeros(nnz)
    nel, nqp, n, nloc = B.shape
    CB = np.empty((n, nloc))
    for e in range(nel):
        for q in range(nqp):
            qt = q if tangent.shape[1] > 1 else 0
            w = dx[e, q]
            for i in range(n):
                for k in range(nloc):
                    value = 0.0
                    for j in range(n):
                        value += tangent[e, qt, i, j] * B[e, q, j, k]
                    CB[i, k] = w * value
            for p in range(a.size):
                s = slot[e, p]
                if s >= nnz:
                    continue
                value = 0.0
                for i in range(n):
                    value += B[e, q, i, a[p]] * CB[i, b[p]]
                data[s] += weight[e, p] * value
    return data


stiffness_data = numba.njit(cache=True, nogil=True)(_stiffness_data) if AVAILABLE else None
