"""Assembly into a sparsity pattern computed once per body and DOF map.

The reduced stiffness T^T K T of a constraint (DOF map: full DOF -> reduced index, -1 = fixed) is
assembled as its upper triangle in CSR. Its pattern, and where each upper entry (a <= b) of each
element matrix lands in it, depend only on the mesh and the constraint: :class:`Pattern` computes
them once, so that assembling the matrix of a new tangent is one gather and one ``bincount``, and
the ordering and symbolic analysis of the factorization (:class:`fe2.cell.linalg.SymbolicFactorization`)
are made once for every matrix of the pattern.
"""

import functools

import numpy as np

from . import compiled
from .linalg import SymbolicFactorization


class Pattern:
    """The upper-triangle CSR pattern of T^T K T for the element DOFs ``dofs`` (nel, nloc) and the
    DOF map ``dof_map`` onto ``n`` reduced DOFs, with the scatter of element matrices into it.

    Each local pair a <= b goes to (min, max) of its reduced indices; twice on the diagonal when
    a != b land on the same reduced DOF (a periodic wrap across a cell one element thick), since
    the pair (b, a) of the lower triangle lands there too. Pairs touching a fixed DOF are dropped.
    """

    def __init__(self, dofs, dof_map, n):
        nloc = dofs.shape[1]
        a, b = np.triu_indices(nloc)
        rows = np.asarray(dof_map)[dofs]                         # reduced index of every element DOF, -1 fixed
        # per element and pair: the stored entry it adds to (nnz: dropped, a spare bin) and how often
        # (1; 2 for a periodic wrap onto the diagonal; 0 dropped), compact for large cells
        self.indptr, self.indices, self._slots, self._weights = compiled.pattern(rows, a, b, n)
        self.n, self.nnz = int(n), int(self.indptr[-1])
        if np.any(np.diff(self.indptr) == 0):
            empty = int(np.argmax(np.diff(self.indptr) == 0))
            raise ValueError(f"reduced DOF {empty} belongs to no element: the DOF map leaves it free but no element "
                             "couples it (the matrix would be singular)")
        self._a, self._b = a.astype(np.intp), b.astype(np.intp)
        self._pairs = a * nloc + b                               # flat index of each upper pair in K_e
        self._plain = bool(np.all(self._weights == 1))

    def data(self, element_matrices):
        """The stored values of T^T K T for the element matrices K_e (nel, nloc, nloc)."""
        values = element_matrices.reshape(len(element_matrices), -1)[:, self._pairs]
        if not self._plain:
            values = values * self._weights
        return np.bincount(self._slots.ravel(), weights=values.ravel(), minlength=self.nnz + 1)[:self.nnz]

    def stiffness(self, B, dx, tangent, base=None, base_data=None, rows=None):
        """The stored values of T^T K T for the tangent (nel, 1 or nqp, n, n), with the strain operator
        B (nel, nqp, n, nloc) and weights dx (nel, nqp) of the body, by the compiled kernel of
        :mod:`fe2.cell.compiled` (needs numba; :meth:`data` of the element matrices is the same).
        ``base_data``: the values for the tangent ``base``; then only the elements whose tangent
        differs from ``base`` are computed. ``rows``: the structure of B's columns (:attr:`fe2.cell.body.Body.rows`)."""
        return compiled.stiffness_data(B, dx, tangent, self._a, self._b, self._slots, self._weights, self.nnz,
                                       base, base_data, rows)

    @functools.cached_property
    def symbolic(self):
        """The ordering and symbolic analysis of the pattern, made on first use."""
        return SymbolicFactorization(self.indptr, self.indices, self.n)

    def matrix(self, data):
        """The upper triangle (CSR) with the values ``data``."""
        return self.symbolic.matrix(data)

    def factorize(self, data):
        """The numeric factorization of the matrix with the values ``data``."""
        return self.symbolic.factorize(data)
