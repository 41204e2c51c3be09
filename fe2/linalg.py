"""Sparse direct factorization of symmetric positive-definite cell matrices.

One factorization per matrix, reused for every right-hand side (load cases, macro steps).
"""

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla


class Factorization:
    """Factorize the SPD matrix ``A`` once; ``solve(B)`` for vectors or blocks of columns."""

    def __init__(self, A):
        A = sp.csc_matrix(A)
        self.n = A.shape[0]
        self._lu = spla.splu(A, permc_spec="MMD_AT_PLUS_A")

    def solve(self, b):
        b = np.asarray(b, dtype=float)
        if b.shape[0] != self.n:
            raise ValueError(f"right-hand side has {b.shape[0]} rows, the matrix {self.n}")
        x = self._lu.solve(b)
        if not np.all(np.isfinite(x)):
            raise FloatingPointError("the solution of the cell problem is not finite (singular or ill-posed cell matrix)")
        return x


def factorize(A):
    return Factorization(A)
