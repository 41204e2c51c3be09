"""Benchmark of sparse direct solvers for the fe2 linear systems.

Test problem: 2D plane-strain linear elasticity, P1 triangles
(``ElementVector(ElementTriP1())``) on a ``MeshTri.init_tensor`` of the unit
square, E=1, nu=0.3, the DOFs of the left edge (x=0) removed by condensation,
so that the matrix is symmetric positive definite.

Every (solver, size) pair runs in a fresh subprocess so that its peak memory is
clean.  A candidate that cannot be imported is reported as "not importable" and
skipped.

Usage::

    python bench/solvers.py                      # all solvers, 20k,100k,400k DOFs
    python bench/solvers.py --sizes 20k,100k     # fewer sizes
    python bench/solvers.py --solvers pardiso2,splu_mmd --json out.json

Columns:
    fact_s   analysis + numerical factorization, wall clock, seconds (best of
             --repeat runs when the first one takes less than 20 s).  Includes
             the solver-specific conversion of the matrix (tocsc, triu, ...).
    solve3_s solve with a block of 3 right-hand sides (best of 5), seconds
    solve6_s solve with a block of 6 right-hand sides (best of 5), seconds
    dRSS_MiB peak resident set size during the first factorization minus the
             resident set size just before it (Linux VmHWM after resetting it
             through /proc/self/clear_refs; falls back to a 2 ms psutil poller)
    relres   max over the 6 RHS of ||A x - b|| / ||b||
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

# size label -> number of mesh points per side; DOFs = 2 * m**2 - 2 * m
SIZES = {"20k": 101, "100k": 225, "400k": 449}

SOLVERS = [
    "splu",  # scipy SuperLU, default permc_spec (COLAMD)
    "splu_mmd",  # scipy SuperLU, permc_spec="MMD_AT_PLUS_A"
    "splu_mmd_sym",  # + SymmetricMode, diag_pivot_thresh=0
    "pardiso11",  # pypardiso, mtype=11 (real unsymmetric), full CSR
    "pardiso2",  # pypardiso, mtype=2 (real SPD), upper triangle CSR
    "pardiso2_tuned",  # mtype=2, iparm: no iterative refinement, two-level fact.
    "cholespy",  # cholespy CholeskySolverD (CHOLMOD), CSR
    "sksparse_minimal",  # sksparse-minimal SparseCholesky (CHOLMOD), CSC
    "umfpack",  # scikit-umfpack
    "mumps",  # python-mumps, symmetric (LDL^T)
    "pymumps",  # PyMUMPS DMumpsContext, sym=1 (SPD)
    "qdldl",  # qdldl
]

CACHE_DIR = os.path.join(tempfile.gettempdir(), "fe2_bench_cache")


# --------------------------------------------------------------------------
# test matrix
# --------------------------------------------------------------------------
def build_matrix(m: int):
    """Return the condensed SPD stiffness matrix (CSR) for m x m points."""
    import scipy.sparse as sp

    os.makedirs(CACHE_DIR, exist_ok=True)
    path = os.path.join(CACHE_DIR, f"elasticity_p1_{m}.npz")
    if os.path.exists(path):
        return sp.load_npz(path).tocsr()
    import skfem
    from skfem.models.elasticity import lame_parameters, linear_elasticity

    x = np.linspace(0.0, 1.0, m)
    mesh = skfem.MeshTri.init_tensor(x, x)
    basis = skfem.Basis(mesh, skfem.ElementVector(skfem.ElementTriP1()))
    K = linear_elasticity(*lame_parameters(1.0, 0.3)).assemble(basis)
    D = basis.get_dofs(lambda p: np.isclose(p[0], 0.0)).all()
    I = basis.complement_dofs(D)
    A = K[I][:, I].tocsr()
    A.sum_duplicates()
    A.sort_indices()
    tmp = path + f".{os.getpid()}.tmp.npz"
    sp.save_npz(tmp, A)
    os.replace(tmp, path)
    return A


# --------------------------------------------------------------------------
# peak memory
# --------------------------------------------------------------------------
def _status_kib(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


class PeakRSS:
    """Peak RSS increase of this process inside a ``with`` block (MiB)."""

    def __init__(self):
        self.method = None
        self.delta_mib = None

    def __enter__(self):
        gc.collect()
        self.base = _status_kib("VmRSS")
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # reset VmHWM to the current RSS
            if _status_kib("VmHWM") <= self.base + 1024:
                self.method = "VmHWM after clear_refs=5"
        except OSError:
            pass
        if self.method is None:
            import psutil

            self.method = "psutil poll 2ms"
            self._proc = psutil.Process()
            self._peak = self._proc.memory_info().rss
            self._stop = threading.Event()

            def poll():
                while not self._stop.is_set():
                    self._peak = max(self._peak, self._proc.memory_info().rss)
                    time.sleep(0.002)

            self._thread = threading.Thread(target=poll, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        if self.method.startswith("VmHWM"):
            peak = _status_kib("VmHWM")
            self.delta_mib = (peak - self.base) / 1024.0
        else:
            self._stop.set()
            self._thread.join()
            self._peak = max(self._peak, self._proc.memory_info().rss)
            self.delta_mib = (self._peak - self.base * 1024) / 2**20
        return False


# --------------------------------------------------------------------------
# solver adapters: factor(A) -> object with .solve(B) for B of shape (n, k)
# --------------------------------------------------------------------------
class _Splu:
    def __init__(self, A, permc_spec=None, sym=False):
        from scipy.sparse.linalg import splu

        kw = {}
        if permc_spec:
            kw["permc_spec"] = permc_spec
        if sym:
            kw["diag_pivot_thresh"] = 0.0
            kw["options"] = {"SymmetricMode": True}
        self.lu = splu(A.tocsc(), **kw)

    def solve(self, B):
        return self.lu.solve(B)

    def info(self):
        return {"nnz_factor": int(self.lu.L.nnz + self.lu.U.nnz)}


def pardiso_spd_iparm(ps):
    """Explicit iparm for mtype=2 (iparm(1)=1 so MKL does not reset them).

    pypardiso leaves iparm(1)=0, which makes MKL use its defaults, including
    iparm(8)=2: two steps of iterative refinement on EVERY solve (3x the
    forward/backward substitution cost).  Here: parallel nested dissection
    (iparm(2)=3), no iterative refinement (iparm(8)=0), Bunch-Kaufman
    pivoting unused for mtype=2, two-level factorization (iparm(24)=1),
    report nnz(L) (iparm(18)=-1), 1-based CSR as pypardiso passes it.
    """
    ps.iparm[:] = 0
    ps.iparm[0] = 1  # use the values below, not the defaults
    ps.iparm[1] = 3  # parallel (OpenMP) nested dissection
    ps.iparm[7] = 0  # no iterative refinement
    ps.iparm[9] = 8  # pivot perturbation 1e-8 (only used if not SPD)
    ps.iparm[17] = -1  # report nnz(L) in iparm(18)
    ps.iparm[20] = 1  # Bunch-Kaufman (unused for mtype=2)
    ps.iparm[23] = 1  # two-level parallel factorization
    ps.iparm[34] = 0  # 1-based indexing (pypardiso adds 1)


class _Pardiso:
    def __init__(self, A, mtype, tuned=False):
        import pypardiso

        self.ps = pypardiso.PyPardisoSolver(mtype=mtype)
        if tuned:
            pardiso_spd_iparm(self.ps)
        self.A = sp_triu(A) if mtype == 2 else A
        self.ps.factorize(self.A)

    def solve(self, B):
        return self.ps.solve(self.A, B)

    def solve_raw(self, B):
        """Phase 33 straight into _call_pardiso: no equality/hash check."""
        self.ps.set_phase(33)
        return self.ps._call_pardiso(self.A, np.asfortranarray(B))

    def info(self):
        ip = self.ps.iparm
        # iparm(18) = -nnz(factor) (when requested), iparm(15..17) memory in KiB
        return {
            "peak_analysis_KiB": int(ip[14]),
            "perm_mem_KiB": int(ip[15]),
            "factor_mem_KiB": int(ip[16]),
            "nnz_factor": int(abs(ip[17])),
        }

    def free(self):
        self.ps.free_memory(everything=True)


def sp_triu(A):
    import scipy.sparse as sp

    U = sp.triu(A, format="csr")
    U.sort_indices()
    return U


class _Cholespy:
    def __init__(self, A):
        import cholespy

        # CSR input: CHOLMOD reads the LOWER triangle of the CSR arrays
        # (passing sp.triu(A) silently gives a wrong answer); full A is fine.
        A = A.tocsr()
        self.n = A.shape[0]
        self.s = cholespy.CholeskySolverD(
            self.n,
            A.indptr.astype(np.int32),
            A.indices.astype(np.int32),
            A.data.astype(np.float64),
            cholespy.MatrixType.CSR,
        )

    def solve(self, B):
        B = np.ascontiguousarray(B, dtype=np.float64)
        X = np.empty_like(B)
        self.s.solve(B, X)
        return X


class _SksparseMinimal:
    def __init__(self, A):
        from sksparse_minimal import SparseCholesky

        self.s = SparseCholesky(A.tocsc())

    def solve(self, B):
        return self.s.solve_A(B)


class _Umfpack:
    def __init__(self, A):
        import scikits.umfpack as um

        self.lu = um.splu(A.tocsc())

    def solve(self, B):
        return np.column_stack([self.lu.solve(B[:, j]) for j in range(B.shape[1])])


class _Mumps:
    def __init__(self, A):
        import mumps

        self.ctx = mumps.Context()
        self.ctx.set_matrix(A.tocoo(), symmetric=True)  # uses triu, sym=2 (LDL^T)
        self.ctx.factor(ordering="auto")

    def solve(self, B):
        return self.ctx.solve(B)


class _PyMumps:
    def __init__(self, A):
        import mumps  # PyMUMPS installs a module also named "mumps"

        U = sp_triu(A).tocoo()
        self.ctx = mumps.DMumpsContext(sym=1, par=1)
        self.ctx.set_shape(A.shape[0])
        self.ctx.set_centralized_assembled(U.row + 1, U.col + 1, U.data)
        self.ctx.set_silent()
        self.ctx.run(job=4)

    def solve(self, B):
        X = np.asfortranarray(B.copy())
        self.ctx.set_rhs(X)
        self.ctx.id.nrhs = B.shape[1]
        self.ctx.id.lrhs = B.shape[0]
        self.ctx.run(job=3)
        return X


class _Qdldl:
    def __init__(self, A):
        import qdldl

        self.s = qdldl.Solver(A.tocsc())  # takes triu(A) itself

    def solve(self, B):
        # qdldl.Solver.solve only accepts a 1-D vector
        return np.column_stack([self.s.solve(B[:, j]) for j in range(B.shape[1])])


def make_factory(name):
    """Return (factory, import_check) for a solver name."""
    if name == "splu":
        return (lambda A: _Splu(A)), "scipy.sparse.linalg"
    if name == "splu_mmd":
        return (lambda A: _Splu(A, "MMD_AT_PLUS_A")), "scipy.sparse.linalg"
    if name == "splu_mmd_sym":
        return (lambda A: _Splu(A, "MMD_AT_PLUS_A", sym=True)), "scipy.sparse.linalg"
    if name == "pardiso11":
        return (lambda A: _Pardiso(A, 11)), "pypardiso"
    if name == "pardiso2":
        return (lambda A: _Pardiso(A, 2)), "pypardiso"
    if name == "pardiso2_tuned":
        return (lambda A: _Pardiso(A, 2, tuned=True)), "pypardiso"
    if name == "cholespy":
        return _Cholespy, "cholespy"
    if name == "sksparse_minimal":
        return _SksparseMinimal, "sksparse_minimal"
    if name == "umfpack":
        return _Umfpack, "scikits.umfpack"
    if name == "mumps":
        return _Mumps, "mumps.Context"
    if name == "pymumps":
        return _PyMumps, "mumps.DMumpsContext"
    if name == "qdldl":
        return _Qdldl, "qdldl"
    raise ValueError(name)


def importable(spec: str) -> str | None:
    """None if importable, else a one-line reason."""
    import importlib

    mod, _, attr = spec.partition(".")
    parts = spec.split(".")
    try:
        # try the longest importable module prefix, then the attribute
        for k in range(len(parts), 0, -1):
            try:
                m = importlib.import_module(".".join(parts[:k]))
                break
            except ModuleNotFoundError:
                if k == 1:
                    raise
        for a in parts[k:]:
            m = getattr(m, a)
    except Exception as e:  # noqa: BLE001
        return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    return None


def thread_info():
    out = {}
    try:
        from threadpoolctl import threadpool_info

        out["threadpools"] = [
            {k: d.get(k) for k in ("internal_api", "num_threads", "version")}
            for d in threadpool_info()
        ]
    except Exception:  # noqa: BLE001
        pass
    return out


def mkl_threads(ps):
    try:
        return int(ps.libmkl.MKL_Get_Max_Threads())
    except Exception:  # noqa: BLE001
        return None


# --------------------------------------------------------------------------
# worker: one solver, one size
# --------------------------------------------------------------------------
def worker(name: str, size: str, repeat: int) -> dict:
    res = {"solver": name, "size": size}
    factory, spec = make_factory(name)
    why = importable(spec)
    if why is not None:
        res["skipped"] = why
        return res
    A = build_matrix(SIZES[size])
    n = A.shape[0]
    res["n"] = int(n)
    res["nnz"] = int(A.nnz)
    rng = np.random.default_rng(0)
    B6 = rng.standard_normal((n, 6))
    B3 = np.ascontiguousarray(B6[:, :3])
    gc.collect()

    try:
        with PeakRSS() as mem:
            t0 = time.perf_counter()
            F = factory(A)
            t1 = time.perf_counter()
        times = [t1 - t0]
        res["dRSS_MiB"] = round(mem.delta_mib, 1)
        res["mem_method"] = mem.method
        if hasattr(F, "info"):
            res["info"] = F.info()
        for _ in range(repeat - 1):
            if times[0] > 20.0:
                break
            if hasattr(F, "free"):
                F.free()
            del F
            gc.collect()
            t0 = time.perf_counter()
            F = factory(A)
            times.append(time.perf_counter() - t0)
        res["fact_s"] = min(times)
        res["fact_all_s"] = [round(t, 4) for t in times]

        def best(fn, B, k=5):
            ts = []
            for _ in range(k):
                t0 = time.perf_counter()
                X = fn(B)
                ts.append(time.perf_counter() - t0)
            return min(ts), X

        F.solve(B3)  # warm-up
        res["solve3_s"], X3 = best(F.solve, B3)
        res["solve6_s"], X6 = best(F.solve, B6)
        X6 = np.asarray(X6).reshape(n, 6)
        R = A @ X6 - B6
        res["relres"] = float(
            max(np.linalg.norm(R[:, j]) / np.linalg.norm(B6[:, j]) for j in range(6))
        )
        res["relres3"] = float(
            np.linalg.norm(A @ np.asarray(X3).reshape(n, 3) - B3) / np.linalg.norm(B3)
        )
        if isinstance(F, _Pardiso):
            res["mkl_threads"] = mkl_threads(F.ps)
            # overhead of pypardiso.solve(A, b): equality check against a stored
            # copy of A (nnz <= size_limit_storage=5e7) or sha1 hash of A
            res["solve6_raw_s"], Xr = best(F.solve_raw, B6)
            res["relres_raw"] = float(
                np.linalg.norm(A @ Xr - B6) / np.linalg.norm(B6)
            )
            t0 = time.perf_counter()
            for _ in range(3):
                F.ps._is_already_factorized(F.A)
            res["check_copy_s"] = (time.perf_counter() - t0) / 3
            t0 = time.perf_counter()
            for _ in range(3):
                F.ps._hash_csr_matrix(F.A)
            res["check_sha1_s"] = (time.perf_counter() - t0) / 3
            t0 = time.perf_counter()
            for _ in range(3):
                F.ps._check_A(F.A)
            res["check_A_s"] = (time.perf_counter() - t0) / 3
            F.free()
        res.update(thread_info())
    except Exception as e:  # noqa: BLE001
        res["error"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    return res


# --------------------------------------------------------------------------
# driver
# --------------------------------------------------------------------------
def fmt(v, f):
    return "-" if v is None else format(v, f)


def print_table(rows):
    hdr = (
        f"{'solver':<17}{'size':>5}{'n':>8}{'fact_s':>9}{'solve3_s':>10}"
        f"{'solve6_s':>10}{'dRSS_MiB':>10}{'relres':>10}  note"
    )
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        note = r.get("skipped") or r.get("error") or ""
        if "solve6_raw_s" in r:
            note = (
                f"raw6={r['solve6_raw_s']:.3f}s check={r['check_copy_s']:.3f}s "
                f"sha1={r['check_sha1_s']:.3f}s mkl_thr={r.get('mkl_threads')}"
            )
        print(
            f"{r['solver']:<17}{r['size']:>5}{fmt(r.get('n'), 'd'):>8}"
            f"{fmt(r.get('fact_s'), '.3f'):>9}{fmt(r.get('solve3_s'), '.4f'):>10}"
            f"{fmt(r.get('solve6_s'), '.4f'):>10}{fmt(r.get('dRSS_MiB'), '.0f'):>10}"
            f"{fmt(r.get('relres'), '.1e'):>10}  {note}"
        )
        sys.stdout.flush()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="20k,100k,400k", help="comma list of " + ",".join(SIZES))
    p.add_argument("--solvers", default=",".join(SOLVERS), help="comma list")
    p.add_argument("--repeat", type=int, default=2, help="factorizations (best of)")
    p.add_argument("--timeout", type=float, default=900.0, help="per (solver,size), s")
    p.add_argument("--json", default=None, help="write all results to this file")
    p.add_argument("--worker", nargs=2, metavar=("SOLVER", "SIZE"), help=argparse.SUPPRESS)
    a = p.parse_args(argv)

    if a.worker:
        print("RESULT " + json.dumps(worker(a.worker[0], a.worker[1], a.repeat)))
        return 0

    sizes = [s.strip() for s in a.sizes.split(",") if s.strip()]
    for s in sizes:
        if s not in SIZES:
            p.error(f"unknown size {s!r}; choose from {list(SIZES)}")
    solvers = [s.strip() for s in a.solvers.split(",") if s.strip()]
    for s in sizes:  # build (and cache) matrices up front, outside the workers
        build_matrix(SIZES[s])

    rows = []
    skip = {}
    print_table([])
    for size in sizes:
        for name in solvers:
            if name in skip:
                rows.append({"solver": name, "size": size, "skipped": skip[name]})
                _print_row(rows[-1])
                continue
            cmd = [sys.executable, os.path.abspath(__file__), "--worker", name, size,
                   "--repeat", str(a.repeat)]
            try:
                cp = subprocess.run(cmd, capture_output=True, text=True, timeout=a.timeout)
                lines = [l for l in cp.stdout.splitlines() if l.startswith("RESULT ")]
                if lines:
                    r = json.loads(lines[-1][7:])
                else:
                    tail = (cp.stderr.strip().splitlines() or ["?"])[-1]
                    r = {"solver": name, "size": size,
                         "error": f"worker died (rc={cp.returncode}): {tail}"}
            except subprocess.TimeoutExpired:
                r = {"solver": name, "size": size, "error": f"timeout > {a.timeout:.0f}s"}
            if "skipped" in r:
                skip[name] = r["skipped"]
            rows.append(r)
            _print_row(r)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


def _print_row(r):
    import io
    import contextlib

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        print_table([r])
    print(buf.getvalue().splitlines()[-1])
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
