"""Sparse direct factorization of the symmetric positive-definite cell matrices.

One factorization per matrix, reused for every right-hand side (load cases, macro steps).
The backend is MKL Pardiso (through pypardiso) in its real-SPD mode (mtype 2) on the upper
triangle; it was the fastest of the solvers installable from PyPI wheels here (docs/solvers.md).
SuperLU is the fallback where MKL is not available.

Two ways in:
* :class:`Factorization` of one matrix: ordering, symbolic analysis and numeric factorization.
  Below SMALL unknowns SciPy's SuperLU is used for it (the two are within 0.2 ms there; Pardiso is
  2-5x faster from a few hundred unknowns up: docs/solvers.md).
* :class:`SymbolicFactorization` of a sparsity pattern, made once: the ordering and symbolic
  analysis that every matrix of that pattern (every Newton iteration of every cell on one mesh and
  condition) reuses, so that each pays only the numeric factorization (a 2k-DOF cell: analysis
  4.6 ms, numeric 1.2 ms). Matrices below ONE_THREAD unknowns are factorized on one MKL thread: a
  second thread gains up to 2x on an idle machine but loses up to 1.7x when the other core is busy,
  as it is in FE² runs with a worker per core (docs/solvers.md).
"""

SMALL = 100
ONE_THREAD = 20000   # Pardiso runs on one MKL thread below this many unknowns

import contextlib
import ctypes
import glob
import threading
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


def _solver():
    """A new Pardiso solver (pypardiso) for real SPD matrices, with fe2's settings."""
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
    return solver


@contextlib.contextmanager
def _threads(solver, n):
    """MKL on one thread (of this thread only) for a matrix of fewer than ONE_THREAD unknowns."""
    if n >= ONE_THREAD:
        yield
        return
    previous = solver.libmkl.MKL_Set_Num_Threads_Local(1)
    try:
        yield
    finally:
        solver.libmkl.MKL_Set_Num_Threads_Local(previous)


class Upper:
    """The upper triangle of a symmetric matrix in Pardiso's form: 1-based CSR, int32 indices.
    ``ia``/``ja`` are shared by every matrix of one pattern; ``data`` is the matrix's own."""

    __slots__ = ("n", "data", "ia", "ja")

    def __init__(self, n, data, ia, ja):
        self.n, self.data, self.ia, self.ja = n, data, ia, ja

    @classmethod
    def of(cls, upper):
        """From a sorted SciPy CSR upper triangle."""
        return cls(upper.shape[0], np.ascontiguousarray(upper.data, dtype=float), *one_based(upper.indptr, upper.indices))


def one_based(indptr, indices):
    """Pardiso's 1-based int32 copies of CSR index arrays."""
    return np.asarray(indptr, dtype=np.int32) + 1, np.asarray(indices, dtype=np.int32) + 1


def _run(solver, phase, upper, b):
    """One Pardiso phase (11 analysis, 22 numeric factorization, 33 solve) on ``upper`` (an
    :class:`Upper`, or a sorted SciPy CSR upper triangle) for the right-hand sides b. The call is
    MKL's ``pardiso`` itself on the handle, iparm and perm arrays of the pypardiso solver: its own
    single-phase entry point copies the indices to 1-based int32 on every call, and a SciPy CSR
    matrix costs 0.2 ms to construct, both per Newton iteration (docs/solvers.md)."""
    if not isinstance(upper, Upper):
        upper = Upper.of(upper)
    b = np.asfortranarray(b, dtype=float)
    x = np.zeros_like(b)
    error = ctypes.c_int32(0)
    int_p, double_p = ctypes.POINTER(ctypes.c_int32), ctypes.POINTER(ctypes.c_double)
    with _threads(solver, upper.n):
        solver.libmkl.pardiso(
            solver.pt.ctypes.data_as(ctypes.POINTER(ctypes.c_int64)),
            ctypes.byref(ctypes.c_int32(1)), ctypes.byref(ctypes.c_int32(1)),      # maxfct, mnum
            ctypes.byref(ctypes.c_int32(solver.mtype)), ctypes.byref(ctypes.c_int32(phase)),
            ctypes.byref(ctypes.c_int32(upper.n)), upper.data.ctypes.data_as(double_p),
            upper.ia.ctypes.data_as(int_p), upper.ja.ctypes.data_as(int_p), solver.perm.ctypes.data_as(int_p),
            ctypes.byref(ctypes.c_int32(1 if b.ndim == 1 else b.shape[1])), solver.iparm.ctypes.data_as(int_p),
            ctypes.byref(ctypes.c_int32(0)), b.ctypes.data_as(double_p), x.ctypes.data_as(double_p),
            ctypes.byref(error))
    if error.value == -4:
        raise np.linalg.LinAlgError(
            "the cell stiffness is not positive definite (zero pivot in the Cholesky factorization): "
            "a phase with no stiffness, or rigid modes the boundary condition does not fix")
    if error.value != 0:
        raise RuntimeError(f"Pardiso failed in phase {phase} with error {error.value} (see the oneMKL PARDISO "
                           "documentation of the error codes)")
    return np.ascontiguousarray(x)


def _pardiso(A):
    """A Pardiso solver holding the factorization of A (analysis and numeric factorization)."""
    solver = _solver()
    try:
        _run(solver, 12, A, np.zeros((A.n, 1)))
    except Exception:
        solver.free_memory(True)
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
    """The factorization of the SPD matrix given by its upper triangle ``upper`` (CSR): ``solve(b)``
    for a vector or a block of columns. ``backend``: "pardiso" or "superlu" (default: by size)."""

    def __init__(self, upper, backend=None):
        upper = sp.csr_matrix(upper)
        upper.sort_indices()
        self.n = upper.shape[0]
        self.backend = backend or ("pardiso" if pypardiso is not None and self.n >= SMALL else "superlu")
        if self.n == 0:
            raise ValueError("the cell problem has no free degree of freedom")
        if self.backend == "pardiso":
            self._upper = Upper.of(upper)
            self._solver = _pardiso(self._upper)
            weakref.finalize(self, self._solver.free_memory, True)
        elif self.backend == "superlu":
            full = upper + sp.triu(upper, k=1).T
            self._lu = spla.splu(sp.csc_matrix(full))
        else:
            raise ValueError(f"unknown solver backend {backend!r}; use 'pardiso' or 'superlu'")

    @classmethod
    def numeric(cls, upper, solver, release):
        """The factorization held by the Pardiso ``solver`` (numeric phase done) of ``upper`` (an :class:`Upper`);
        ``release(solver)`` runs when it is dropped."""
        self = cls.__new__(cls)
        self.n, self.backend, self._upper, self._solver = upper.n, "pardiso", upper, solver
        weakref.finalize(self, release, solver)
        return self

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
            x = _run(self._solver, 33, self._upper, b)
        else:
            x = self._lu.solve(b)
        if not np.all(np.isfinite(x)):
            raise FloatingPointError("the cell problem gave a non-finite solution (singular or ill-posed cell matrix)")
        return x


def factorize(upper):
    """Factorization of the SPD matrix whose upper triangle is ``upper``."""
    return Factorization(upper)


class SymbolicFactorization:
    """Ordering and symbolic analysis of the SPD matrices whose upper triangle has the CSR pattern
    (``indptr``, ``indices``) of size n, made once: :meth:`factorize` then pays only the numeric
    factorization. Factorizations of the pattern are independent of each other: each holds its own
    Pardiso handle, taken from a pool of analysed handles and returned to it when the factorization
    is dropped. Without MKL (``backend="superlu"``) every factorization is a full one."""

    def __init__(self, indptr, indices, n, backend=None):
        self.indptr, self.indices, self.n = np.asarray(indptr), np.asarray(indices), int(n)
        self._ia, self._ja = one_based(indptr, indices)
        if self.n == 0:
            raise ValueError("the cell problem has no free degree of freedom")
        self.backend = backend or ("pardiso" if pypardiso is not None else "superlu")
        if self.backend not in ("pardiso", "superlu"):
            raise ValueError(f"unknown solver backend {backend!r}; use 'pardiso' or 'superlu'")
        self._pool()

    def _pool(self):
        self._free, self._lock = [], threading.Lock()
        weakref.finalize(self, _free_all, self._free)

    def matrix(self, data):
        """The upper triangle (CSR) with values ``data`` on this pattern."""
        return sp.csr_matrix((np.asarray(data, dtype=float), self.indices, self.indptr), shape=(self.n, self.n))

    def factorize(self, data):
        """The factorization of the matrix with values ``data`` (one per stored entry of the pattern)."""
        if self.backend == "superlu":
            return Factorization(self.matrix(data), "superlu")
        data = np.ascontiguousarray(data, dtype=float)
        if data.shape != self.indices.shape:
            raise ValueError(f"the pattern has {self.indices.size} stored entries, got {data.shape} values")
        upper = Upper(self.n, data, self._ia, self._ja)
        with self._lock:
            solver = self._free.pop() if self._free else None
        zero = np.zeros((self.n, 1))
        try:
            if solver is None:
                solver = _solver()
                _run(solver, 11, upper, zero)      # ordering and symbolic analysis, once per handle
            _run(solver, 22, upper, zero)          # numeric factorization
        except Exception:
            if solver is not None:
                solver.free_memory(True)
            raise
        return Factorization.numeric(upper, solver, self._release)

    def _release(self, solver):
        with self._lock:
            self._free.append(solver)

    def __getstate__(self):
        """Pickled without its Pardiso handles (they cannot travel; a worker analyses anew)."""
        state = dict(self.__dict__)
        del state["_free"], state["_lock"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._pool()


def _free_all(solvers):
    for solver in solvers:
        solver.free_memory(True)
    solvers.clear()
