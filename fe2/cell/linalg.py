"""Sparse direct factorization of the symmetric positive-definite cell matrices.

One factorization per matrix, reused for every right-hand side (load cases, macro steps).
The backend is MKL Pardiso (through pypardiso) in its real-SPD mode (mtype 2) on the upper
triangle; it was the fastest of the solvers installable from PyPI wheels here (docs/solvers.md).
Below SMALL unknowns SciPy's SuperLU is used instead: Pardiso's fixed cost per call dominates there
(a 240-DOF cell's micro Newton solve: 19 ms with SuperLU, 59 ms with Pardiso; equal near 6-8k DOFs).
SuperLU is also the fallback where MKL is not available.
"""

SMALL = 5000

import glob
import os
import sys
import weakref

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

try:
    import pypardiso
except ImportError:  # pragma: no cover - platforms without MKL wheels
    pypardiso = None


def _pardiso(A):
    # pypardiso searches sys.prefix recursively for libmkl_rt on every construction (~0.1 s);
    # the MKL wheel puts it in sys.prefix/lib, so look there first and remember what was found
    if "PYPARDISO_MKL_RT" not in os.environ:
        found = sorted(glob.glob(os.path.join(sys.prefix, "lib", "libmkl_rt.so*")), key=len)
        if found:
            os.environ["PYPARDISO_MKL_RT"] = found[0]
    solver = pypardiso.PyPardisoSolver(mtype=2)
    os.environ.setdefault("PYPARDISO_MKL_RT", solver.libmkl._name)
    for index, value in PARDISO_IPARM.items():
        solver.set_iparm(index, value)
    try:
        solver.factorize(A)
    except pypardiso.pardiso_wrapper.PyPardisoError as error:
        solver.free_memory(True)
        if error.value == -4:
            raise np.linalg.LinAlgError(
                "the cell stiffness is not positive definite (zero pivot in the Cholesky factorization): "
                "a phase with no stiffness, or rigid modes the boundary condition does not fix") from None
        raise
    return solver


# Pardiso settings (1-based iparm). Its defaults run two steps of iterative refinement on every
# solve, which a Cholesky factorization does not need and which triples the solve time
# (measured in docs/benchmarks.md).
PARDISO_IPARM = {
    1: 1,    # use the values below, not the defaults
    2: 3,    # nested-dissection ordering from parallel METIS
    8: 0,    # no iterative refinement
    10: 13,  # pivot perturbation 1e-13 (unused for SPD)
    11: 0,   # no scaling (SPD)
    13: 0,   # no weighted matching (SPD)
    24: 1,   # two-level parallel factorization
}


class Factorization:
    """Factorize the SPD matrix given by its upper triangle ``upper`` (CSR); ``solve(b)`` for a
    vector or a block of columns."""

    def __init__(self, upper, backend=None):
        upper = sp.csr_matrix(upper)
        upper.sort_indices()
        self.n = upper.shape[0]
        self.backend = backend or ("pardiso" if pypardiso is not None and self.n >= SMALL else "superlu")
        if self.n == 0:
            raise ValueError("the cell problem has no free degree of freedom")
        if self.backend == "pardiso":
            self._upper = upper
            self._solver = _pardiso(upper)
            weakref.finalize(self, self._solver.free_memory, True)
        elif self.backend == "superlu":
            full = upper + sp.triu(upper, k=1).T
            self._lu = spla.splu(sp.csc_matrix(full))
        else:
            raise ValueError(f"unknown solver backend {backend!r}; use 'pardiso' or 'superlu'")

    @property
    def memory(self):
        """Bytes the factorization needs: Pardiso's reported peak (analysis, or factor + permanent)."""
        if self.backend == "pardiso":
            kb = max(int(self._solver.get_iparm(15)), int(self._solver.get_iparm(16)) + int(self._solver.get_iparm(17)))
            return 1024 * kb
        return 12 * (self._lu.L.nnz + self._lu.U.nnz)

    def solve(self, b):
        b = np.asarray(b, dtype=float)
        if b.shape[0] != self.n:
            raise ValueError(f"right-hand side has {b.shape[0]} rows, the matrix {self.n}")
        if self.backend == "pardiso":
            x = self._solver.solve(self._upper, b)
        else:
            x = self._lu.solve(b)
        if not np.all(np.isfinite(x)):
            raise FloatingPointError("the cell problem gave a non-finite solution (singular or ill-posed cell matrix)")
        return x


def factorize(upper):
    """Factorization of the SPD matrix whose upper triangle is ``upper``."""
    return Factorization(upper)
