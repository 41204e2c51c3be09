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
* :class:`Iterative`: conjugate gradients preconditioned by smoothed-aggregation algebraic multigrid
  (pyamg) for large cells, the hierarchy built once per matrix and reused for every right-hand side;
  :func:`choose` picks it or the factorization from the size, the dimension and the number of solves
  (docs/solvers.md, "Iterative path").
"""

SMALL = 100
ONE_THREAD = 20000   # Pardiso runs on one MKL thread below this many unknowns

import concurrent.futures
import contextlib
import ctypes
import glob
import logging
import threading
import os
import sys
import time
import weakref

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from . import compiled

try:
    import pypardiso
except ImportError:  # pragma: no cover - platforms without MKL wheels
    pypardiso = None

logger = logging.getLogger(__name__)


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


# --- the iterative path ------------------------------------------------------------------------------

SOLVERS = ("auto", "direct", "iterative")
ACCURACY = 1e-8     # default relative accuracy of the effective tensor asked of the iterative path
PROGRESS = 5.0      # s: a solve running longer than this logs its progress at INFO (else at DEBUG)


_controller = None


@contextlib.contextmanager
def one_blas_thread():
    """numpy's and scipy's BLAS on one thread inside the block (threadpoolctl). CG's vector operations
    are BLAS level 1: on this 2-core machine under load, a dot product of 90k entries took 2.3-7.6 ms
    on two OpenBLAS threads against 0.027 ms on one, and an AMG V-cycle 12 ms against 0.95 ms
    (docs/solvers.md, "Iterative path")."""
    global _controller
    try:
        import threadpoolctl
    except ImportError:  # pragma: no cover - a dependency of fe2; without it the threads stay as they are
        yield
        return
    if _controller is None:
        _controller = threadpoolctl.ThreadpoolController()
    with _controller.limit(limits=1, user_api="blas"):
        yield


class ConvergenceError(RuntimeError):
    """Conjugate gradients did not reach the tolerance within the iterations allowed."""


SMOOTH = ("energy", {"krylov": "cg", "maxiter": 2, "degree": 1, "weighting": "local"})
COARSE = 600   # unknowns: the hierarchy is coarsened until at most about this many are left


def cores():
    """The threads a solve may use: OMP_NUM_THREADS when set (fe2's worker processes set it to 1),
    else the cores this process may run on."""
    try:
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    except (KeyError, ValueError):
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


class Iterative:
    """Conjugate gradients on the SPD matrix given by its upper triangle ``upper`` (CSR), preconditioned
    by one V-cycle of smoothed-aggregation algebraic multigrid (pyamg): ``solve(b)`` for a vector or a
    block of columns, as :class:`Factorization`. The hierarchy is built once here and serves every
    right-hand side; the columns of a block are solved on ``threads`` threads (default :func:`cores`),
    each running its linear algebra on one thread: the smoother (symmetric Gauss-Seidel, compiled by
    :mod:`fe2.cell.compiled`), scipy's sparse products and numpy's vector operations all release the GIL.

    near_nullspace : (n, m) the modes of (near) zero energy of the operator, restricted to the unknowns:
        constants for conduction; translations and rotations for elasticity. Without them the
        aggregation cannot represent the rigid modes and CG needs ~10x more iterations (docs/solvers.md).
    rtol : stop when ||b - A x|| <= rtol ||b|| (2-norm of the residual, per column).
    maxiter : iterations allowed per column; :class:`ConvergenceError` beyond them.
    threads : how many columns of a block are solved at once.
    preconditioner : an :class:`Iterative` whose hierarchy preconditions this matrix instead of its own
        (none is built): the virgin cell's for a tangent of the same cell, which keeps its pattern and
        rigid modes (a micro Newton pays the set-up once per cell; CG needs more iterations the more
        the tangent has moved from the virgin one).
    """

    backend = "cg-amg"

    def __init__(self, upper, near_nullspace=None, rtol=ACCURACY, maxiter=500, threads=None, preconditioner=None):
        import pyamg   # imported here: only large cells pay for it
        upper = sp.csr_matrix(upper)
        self.n = upper.shape[0]
        if self.n == 0:
            raise ValueError("the cell problem has no free degree of freedom")
        if not 0 < rtol < 1:
            raise ValueError(f"the relative tolerance of CG must lie in (0, 1), got {rtol}")
        if int(maxiter) < 1:
            raise ValueError(f"maxiter must be a positive number of iterations, got {maxiter}")
        self.rtol, self.maxiter = float(rtol), int(maxiter)
        self.threads = cores() if threads is None else int(threads)
        if self.threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        self.A = (upper + sp.triu(upper, k=1).T).tocsr()
        self.A.sort_indices()
        self.iterations = []   # CG iterations of every column solved, in order
        if preconditioner is not None:
            if preconditioner.n != self.n:
                raise ValueError(f"the preconditioner is of {preconditioner.n} unknowns, the matrix of {self.n}")
            self.hierarchy, self._cycle, self.setup_time = preconditioner.hierarchy, preconditioner._cycle, 0.0
            return
        B = None if near_nullspace is None else np.ascontiguousarray(near_nullspace, dtype=float).reshape(self.n, -1)
        start = time.perf_counter()
        with one_blas_thread():
            # energy-minimizing prolongation smoothing: 18 CG iterations per load instead of 28 with
            # pyamg's default (Jacobi) on a 219k-unknown 3D cell, for the same set-up (docs/benchmarks.md)
            # max_coarse counts aggregates, each carrying one unknown per near-nullspace mode
            self.hierarchy = pyamg.smoothed_aggregation_solver(
                self.A, B=B, symmetry="symmetric", max_coarse=max(1, COARSE // (1 if B is None else B.shape[1])),
                coarse_solver="splu", smooth=SMOOTH)
            for level in self.hierarchy.levels[:-1]:
                # pyamg's symmetric Gauss-Seidel (its default smoother) by the compiled kernel, which frees
                # the GIL; on CSR, point-wise also where pyamg would smooth the coarse levels by blocks
                level.A = sp.csr_matrix(level.A)
                level.A.sort_indices()
                level.presmoother = level.postsmoother = compiled.symmetric_gauss_seidel
            self._cycle = self.hierarchy.aspreconditioner(cycle="V")
            self._cycle(np.zeros(self.n))   # the coarse factorization is made on first use: make it here
        self.setup_time = time.perf_counter() - start
        logger.debug("AMG hierarchy of %d unknowns: %d levels, operator complexity %.2f, %.2f s", self.n,
                     len(self.hierarchy.levels), self.hierarchy.operator_complexity(), self.setup_time)

    @property
    def memory(self):
        """Bytes of the hierarchy's matrices (operators, prolongators, restrictors)."""
        total = 0
        for level in self.hierarchy.levels:
            for name in ("A", "P", "R"):
                M = getattr(level, name, None)
                if M is not None and sp.issparse(M):
                    total += M.data.nbytes + M.indices.nbytes + M.indptr.nbytes
        return total

    def solve(self, b):
        b = np.asarray(b, dtype=float)
        if b.shape[0] != self.n:
            raise ValueError(f"right-hand side has {b.shape[0]} rows, the matrix {self.n}")
        with one_blas_thread():
            if b.ndim == 1:
                x, k = self._cg(b)
                self.iterations.append(k)
                return x
            columns = [b[:, j] for j in range(b.shape[1])]
            if self.threads == 1 or len(columns) == 1:
                solved = [self._cg(column) for column in columns]
            else:
                with concurrent.futures.ThreadPoolExecutor(min(self.threads, len(columns))) as pool:
                    solved = list(pool.map(self._cg, columns))
        self.iterations.extend(k for _, k in solved)
        return np.stack([x for x, _ in solved], axis=1).reshape(b.shape)

    def _cg(self, b):
        """Preconditioned CG from zero for one right-hand side: the solution and the iterations."""
        A, M = self.A, self._cycle
        x = np.zeros(self.n)
        norm_b = np.linalg.norm(b)
        if norm_b == 0:
            return x, 0
        target = self.rtol * norm_b
        r = b.copy()
        z = M(r)
        p = z.copy()
        rz = r @ z
        start = last = time.perf_counter()
        residual = 1.0
        for k in range(1, self.maxiter + 1):
            Ap = A @ p
            alpha = rz / (p @ Ap)
            x += alpha * p
            r -= alpha * Ap
            norm_r = np.linalg.norm(r)
            residual = norm_r / norm_b
            now = time.perf_counter()
            if now - last > PROGRESS:
                logger.info("CG-AMG, %d unknowns: iteration %d, relative residual %.2e (target %.1e), %.0f s",
                            self.n, k, residual, self.rtol, now - start)
                last = now
            if norm_r <= target:
                break
            z = M(r)
            rz, rz_old = r @ z, rz
            p *= rz / rz_old
            p += z
        else:
            raise ConvergenceError(
                f"conjugate gradients (AMG-preconditioned) did not converge on the cell problem of {self.n} "
                f"unknowns: relative residual {residual:.2e} after {self.maxiter} iterations, target {self.rtol:.1e}. "
                "Use the direct path (solver='direct'), or allow more iterations (maxiter) or a looser tolerance")
        if not np.all(np.isfinite(x)):
            raise FloatingPointError("the cell problem gave a non-finite solution (singular or ill-posed cell matrix)")
        logger.debug("CG-AMG, %d unknowns: %d iterations, relative residual %.2e, %.3f s", self.n, k, residual,
                     time.perf_counter() - start)
        return x, k


def choose(n, dim, solves):
    """"direct" or "iterative" for ``solves`` right-hand sides of one SPD cell matrix of ``n`` unknowns in
    ``dim`` dimensions: the path with the lower modelled time (factorization and solves against AMG set-up
    and CG iterations), with the constants measured on this project's cell matrices (docs/solvers.md,
    "Iterative path"). The iterative path wins for large 3D cells and few solves; the factorization for
    small cells and for many solves of one matrix.
    """
    n, solves = int(n), int(solves)
    if dim not in (2, 3):
        raise ValueError(f"dim is 2 or 3, got {dim}")
    if n < 0 or solves < 1:
        raise ValueError(f"need n >= 0 unknowns and at least one solve, got n = {n}, solves = {solves}")
    return "iterative" if direct_time(n, dim, solves) > iterative_time(n, dim, solves) else "direct"


NEWTON_ITERATIONS = 4   # iterations of a typical micro Newton solve (J2 cells of docs/benchmarks.md: 4-5)
STALE = 2.4             # CG iterations with the virgin cell's hierarchy on a plastic tangent, over those on the
                        # virgin matrix (a 3D J2 cell, 8k DOFs: 25-31 against 12; docs/solvers.md)


def choose_newton(n, dim, size):
    """"direct" or "iterative" for the micro Newton of a cell of ``n`` unknowns in ``dim`` dimensions with
    ``size`` strain components: per converged point, NEWTON_ITERATIONS new tangents each factorized (the
    ordering and analysis made once) and solved once, one more factorized at convergence and solved for
    the ``size`` unit loads; against the same solves by CG preconditioned by the virgin cell's hierarchy
    (built once per cell, so not counted), each STALE times as long as with a hierarchy of its own."""
    n, k = int(n), NEWTON_ITERATIONS
    if dim not in (2, 3):
        raise ValueError(f"dim is 2 or 3, got {dim}")
    a, p, c, q = DIRECT[dim]
    direct = (k + 1) * a * n ** p + (k + size) * c * n ** q
    iterative = (k + size) * STALE * ITERATIVE[dim][1] * n
    return "iterative" if direct > iterative else "direct"


# Time models, s, for n unknowns, fitted to the measurements of docs/solvers.md ("Iterative path"):
# direct = factorization a n^p + solves * c n^q; iterative = (set-up + solves * one CG solve) * n.
DIRECT = {2: (5.8e-7, 1.2, 2.3e-7, 1.0), 3: (2.6e-9, 2.0, 4.0e-8, 1.3)}
ITERATIVE = {2: (7.0e-6, 1.15e-5), 3: (1.5e-5, 1.2e-5)}   # (set-up, one solve) per unknown


def direct_time(n, dim, solves):
    a, p, c, q = DIRECT[dim]
    return a * n ** p + solves * c * n ** q


def iterative_time(n, dim, solves):
    setup, solve = ITERATIVE[dim]
    return (setup + solves * solve) * n
