"""Benchmark: sparse direct solvers for the small, repeated factorizations of FE² cells.

Every micro Newton iteration of every cell factorizes the reduced periodic cell stiffness (SPD,
upper triangle in CSR, on a pattern fixed per cell mesh and condition). This measures, on the
plastic tangent matrices of real J2 micro solves made by fe2 itself:

  * SuperLU as fe2 used it before: ``splu(csc(upper + triu(upper, 1).T))`` (COLAMD ordering), and
    with ``permc_spec="MMD_AT_PLUS_A"``; the conversion to the full CSC matrix is timed apart; and
    the one-off ``fe2.cell.linalg.Factorization(upper, "superlu" | "pardiso")``;
  * MKL Pardiso through fe2 (:mod:`fe2.cell.linalg`): a new handle (``_solver()``), the analysis
    (phase 11, once per pattern), the numeric factorization (phase 22) alone,
    ``pattern.factorize(data)`` with the analysed handle reused (the previous factorization dropped:
    what a Newton iteration pays) and kept alive (a new handle: analysis + numeric), the solve of 1
    and 3 right-hand sides (phase 33); each on one MKL thread and on MKL's default number of
    threads (fe2.cell.linalg.ONE_THREAD patched to 10**12 and to 0);
  * CHOLMOD from the kvxopt wheel (``pip install kvxopt``; not a dependency of fe2): the conversion
    to a kvxopt spmatrix (the lower triangle: the CSR upper triangle read as CSC) built anew, and by
    replacing the values of an existing one (``A.V = ...``), ``cholmod.symbolic`` once,
    ``cholmod.numeric`` (numeric only), ``cholmod.solve`` of 1 and 3 right-hand sides. The wheel's
    BLAS is a single-threaded OpenBLAS 0.3.15 (--coretype reruns CHOLMOD with OPENBLAS_CORETYPE set);
  * the relative residual max_j ||A x_j - b_j|| / ||b_j|| of every solver (3 standard normal RHS).

Times are wall-clock, the best and the median of repeats (at least 5 unless one repeat takes over
5 budgets, more for small matrices, within --budget seconds per item). Every case is built in one
fresh subprocess (gmsh cell, J2 micro solve, the converged tangent on ``cell.pattern("periodic")``;
cached as .npz in --cache) and measured in another one, after MKL and CHOLMOD are loaded and warmed
up. The 1-minute load average before and after each case is recorded (the benchmark itself adds
about 1 to 2). --busy N runs N CPU-bound processes meanwhile: a machine whose cores are shared.

Cases: 2d-500, 2d-2k, 2d-8k, 2d-32k (fiber cell, fe2.geometry.inclusion, f = 0.4, P1 triangles,
plane strain) and 3d-1k, 3d-8k, 3d-30k (fe2.geometry.sphere, f = 0.2, P1 tetrahedra): the
approximate number of reduced DOFs. Slow SuperLU runs are skipped unless --full (SUPERLU_MAX_3D, SUPERLU_MMD_MAX_2D).

    python bench/solvers_cells.py [--cases 2d-500,3d-8k] [--sections superlu,pardiso,cholmod]
                                  [--budget 1.0] [--busy 0] [--full] [--json FILE] [--cache DIR]
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

# case: (dimension, element size h); h chosen for the approximate number of reduced DOFs in the name
CASES = {
    "2d-500": (2, 0.068),
    "2d-2k": (2, 0.034),
    "2d-8k": (2, 0.017),
    "2d-32k": (2, 0.0085),
    "3d-1k": (3, 0.14),
    "3d-8k": (3, 0.067),
    "3d-30k": (3, 0.042),
}
STRAINS = {   # plastic macro strains (Mandel order: xx, yy, xy / xx, yy, zz, yz, xz, xy)
    2: [0.008, -0.002, 0.003],
    3: [0.008, -0.002, -0.003, 0.002, 0.001, 0.003],
}


# ---------------------------------------------------------------------------------------------------
# build: a real plastic tangent matrix of an fe2 cell (one subprocess per case)
# ---------------------------------------------------------------------------------------------------

def build(case, path):
    import fe2
    dim, h = CASES[case]
    t0 = time.perf_counter()
    if dim == 2:
        mesh = fe2.geometry.inclusion(0.4, h=h, phases=("matrix", "fiber"))
        stiff = fe2.Isotropic(E=400.0, nu=0.2)
        names = ("matrix", "fiber")
    else:
        mesh = fe2.geometry.sphere(0.2, h=h, phases=("matrix", "inclusion"))
        stiff = fe2.Isotropic(E=400.0, nu=0.2)
        names = ("matrix", "inclusion")
    cell = fe2.Cell(mesh, {names[0]: fe2.J2Plasticity(E=70.0, nu=0.33, yield_stress=0.2, hardening=1.0),
                           names[1]: stiff})
    t_mesh = time.perf_counter() - t0
    sol = fe2.nonlinear.solve(cell, np.array(STRAINS[dim]), "periodic")
    t_solve = time.perf_counter() - t0 - t_mesh
    pattern = cell.pattern("periodic")
    data = sol.linearization.stiffness(pattern)
    np.savez(path, indptr=pattern.indptr, indices=pattern.indices, data=data, n=pattern.n,
             elements=cell.mesh.t.shape[1], iterations=sol.iterations, elastic=sol.elastic,
             mesh_seconds=t_mesh, solve_seconds=t_solve)
    return {"n": pattern.n, "nnz": pattern.nnz, "elements": int(cell.mesh.t.shape[1]),
            "iterations": sol.iterations, "elastic": bool(sol.elastic)}


# ---------------------------------------------------------------------------------------------------
# measure (one subprocess per case)
# ---------------------------------------------------------------------------------------------------

def timed(fn, budget, setup=None, min_reps=5, max_reps=400):
    """Wall times of fn() (setup() before each, untimed): {best, median, reps}. Repeats until the
    budget is spent (at least min_reps, fewer when they would take over 10 budgets: slow items)."""
    times, start = [], time.perf_counter()
    while True:
        spent = time.perf_counter() - start
        if len(times) >= max_reps or (len(times) >= min_reps and spent >= budget):
            break
        if times and spent > 5 * budget:      # slow item: one (or the few done) is enough
            break
        if setup is not None:
            setup()
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return {"best": min(times), "median": statistics.median(times), "reps": len(times)}


def residual(full, x, b):
    x = np.asarray(x).reshape(b.shape)
    return float(max(np.linalg.norm(full @ x[:, j] - b[:, j]) / np.linalg.norm(b[:, j]) for j in range(b.shape[1])))


def openblas_of_kvxopt():
    """(config, core) of the OpenBLAS bundled with kvxopt (CHOLMOD's BLAS), or (None, None)."""
    import ctypes
    import glob
    import kvxopt
    libs = glob.glob(os.path.join(os.path.dirname(kvxopt.__file__), "..", "kvxopt.libs", "libopenblas*.so*"))
    if not libs:
        return None, None
    lib = ctypes.CDLL(libs[0])
    lib.openblas_get_config.restype = lib.openblas_get_corename.restype = ctypes.c_char_p
    return lib.openblas_get_config().decode(), lib.openblas_get_corename().decode()


# SuperLU runs skipped unless --full: larger 3D cells (3d-30k: COLAMD 185 s, MMD did not finish in
# 300 s) and MMD on larger 2D cells (2d-32k: 65 s a factorization)
SUPERLU_MAX_3D = 20000
SUPERLU_MMD_MAX_2D = 10000


def measure(case, path, budget, sections, full_superlu=False):
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla
    import fe2.cell.linalg as linalg
    from fe2.cell.assembly import Pattern

    z = np.load(path)
    n = int(z["n"])
    # a Pattern with the saved arrays (the cell itself is not needed to factorize)
    pattern = Pattern.__new__(Pattern)
    pattern.n, pattern.indptr, pattern.indices = n, z["indptr"], z["indices"]
    pattern.nnz = pattern.indices.size
    data = z["data"]
    upper = pattern.matrix(data)
    full = (upper + sp.triu(upper, k=1).T).tocsr()
    rng = np.random.default_rng(0)
    B3 = rng.standard_normal((n, 3))
    b1 = B3[:, :1].copy()
    zero = np.zeros((n, 1))
    out = {"case": case, "n": n, "nnz_upper": int(pattern.nnz), "nnz_full": int(full.nnz),
           "elements": int(z["elements"]), "newton_iterations": int(z["iterations"]),
           "elastic": bool(z["elastic"]), "load_before": os.getloadavg()}

    # warm-up: load MKL and CHOLMOD, touch the code paths once
    linalg.Factorization(sp.identity(10, format="csr"), backend="pardiso").solve(np.ones(10))
    out["mkl_max_threads"] = int(linalg._solver().libmkl.MKL_Get_Max_Threads())
    from kvxopt import cholmod, matrix, spmatrix
    small = spmatrix(matrix([2.0, 2.0]), matrix([0, 1]), matrix([0, 1]), (2, 2))
    f = cholmod.symbolic(small)
    cholmod.numeric(small, f)

    # ---- SuperLU (fe2's former path, and the MMD ordering)
    dim = CASES[case][0]
    superlu = "superlu" in sections and (full_superlu or dim == 2 or n <= SUPERLU_MAX_3D)
    if superlu:
        conv = lambda: sp.csc_matrix(upper + sp.triu(upper, k=1).T)
        out["superlu_convert"] = timed(conv, budget / 4)
        csc = conv()
        for name, spec in (("superlu_colamd", "COLAMD"), ("superlu_mmd", "MMD_AT_PLUS_A")):
            if spec != "COLAMD" and dim == 2 and n > SUPERLU_MMD_MAX_2D and not full_superlu:
                continue
            out[name] = timed(lambda: spla.splu(csc, permc_spec=spec), budget)
            lu = spla.splu(csc, permc_spec=spec)
            out[name + "_nnz_lu"] = int(lu.L.nnz + lu.U.nnz)
            out[name + "_solve1"] = timed(lambda: lu.solve(b1), budget / 2)
            out[name + "_solve3"] = timed(lambda: lu.solve(B3), budget / 2)
            out[name + "_residual"] = residual(full, lu.solve(B3), B3)
            del lu

    # ---- Pardiso through fe2, on 1 thread and on MKL's default threads
    if "pardiso" in sections:
        lean = linalg.Upper.of(upper)   # Pardiso's 1-based form, made once, as fe2 keeps it per pattern
        info = linalg._solver()
        info.set_iparm(18, -1)          # report nnz(L) (this handle only: fe2 leaves it off)
        linalg._run(info, 11, lean, zero)
        out["pardiso_nnz_l"] = int(info.get_iparm(18))
        info.free_memory()
        made = []
        out["pardiso_handle"] = timed(lambda: made.append(linalg._solver()), budget / 4, max_reps=50)   # a new pypardiso handle
        del made
        # one-off factorizations (fe2.cell.linalg.Factorization: SuperLU below linalg.SMALL unknowns)
        linalg.ONE_THREAD = 20000
        out["oneoff_pardiso"] = timed(lambda: linalg.Factorization(upper, "pardiso"), budget / 2)
        if superlu:
            out["oneoff_superlu"] = timed(lambda: linalg.Factorization(upper, "superlu"), budget / 2)
        for threads, one_thread in (("1", 10**12), ("default", 0)):
            linalg.ONE_THREAD = one_thread
            key = f"pardiso_t{threads}_"
            state = {}

            def new_solver():
                if "s" in state:
                    state.pop("s").free_memory()
                state["s"] = linalg._solver()
            out[key + "analysis"] = timed(lambda: linalg._run(state["s"], 11, lean, zero), budget, setup=new_solver)
            solver = state.pop("s")
            out[key + "numeric"] = timed(lambda: linalg._run(solver, 22, lean, zero), budget)
            solver.free_memory()

            pattern.__dict__.pop("symbolic", None)      # a fresh pool of handles for this thread count
            out[key + "first_factorize"] = timed(lambda: pattern.symbolic.factorize(data), 0, min_reps=1, max_reps=1)

            def reuse():
                F = pattern.factorize(data)
                del F                                    # back to the pool: the next call pays phase 22 only
            out[key + "factorize_reuse"] = timed(reuse, budget)
            alive = [pattern.factorize(data)]            # the pool is empty now

            def fresh():
                alive.append(pattern.factorize(data))    # the previous one kept alive: a new handle, 11 + 22
            out[key + "factorize_new_handle"] = timed(fresh, budget / 2, max_reps=20)
            alive.clear()
            F = pattern.factorize(data)
            out[key + "solve1"] = timed(lambda: F.solve(b1), budget / 2)
            out[key + "solve3"] = timed(lambda: F.solve(B3), budget / 2)
            out[key + "residual"] = residual(full, F.solve(B3), B3)
            del F
            pattern.__dict__.pop("symbolic", None)
        linalg.ONE_THREAD = 20000

    # ---- CHOLMOD (kvxopt); the BLAS of the wheel is a single-threaded OpenBLAS
    if "cholmod" in sections:
        key = "cholmod_" + ("coretype_" if os.environ.get("OPENBLAS_CORETYPE") else "")
        out[key + "openblas"] = openblas_of_kvxopt()
        cols = np.repeat(np.arange(n, dtype=np.int64), np.diff(upper.indptr))
        rows = upper.indices.astype(np.int64)

        def to_kvxopt():       # the CSR upper triangle read as CSC: the lower triangle
            return spmatrix(matrix(upper.data), matrix(rows), matrix(cols), (n, n))
        A = to_kvxopt()
        ccs = A.CCS
        assert np.array_equal(np.array(ccs[0]).ravel(), upper.indptr) and np.array_equal(np.array(ccs[1]).ravel(), upper.indices)
        out[key + "convert_build"] = timed(to_kvxopt, budget / 4)

        def set_values():      # same pattern, new values (same order: checked above)
            A.V = matrix(data)
        out[key + "convert_values"] = timed(set_values, budget / 4)
        out[key + "symbolic"] = timed(lambda: cholmod.symbolic(A, uplo="L"), budget / 2)
        F = cholmod.symbolic(A, uplo="L")
        out[key + "numeric"] = timed(lambda: cholmod.numeric(A, F), budget)

        def solve(b):
            X = matrix(b)
            cholmod.solve(F, X)
            return np.array(X)
        out[key + "solve1"] = timed(lambda: solve(b1), budget / 2)
        out[key + "solve3"] = timed(lambda: solve(B3), budget / 2)
        out[key + "residual"] = residual(full, solve(B3), B3)
        out[key + "nnz_l"] = len(cholmod.getfactor(F).V)    # (getfactor spoils F for solves)
        del F
    out["load_after"] = os.getloadavg()
    return out


# ---------------------------------------------------------------------------------------------------
# driver
# ---------------------------------------------------------------------------------------------------

def machine():
    import importlib.metadata as md
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = {}
    for pkg in ("numpy", "scipy", "pypardiso", "mkl", "intel-openmp", "kvxopt", "scikit-fem"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "versions": versions,
            "env": {k: os.environ.get(k) for k in ("MKL_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}}


def ms(r, key, stat="best"):
    entry = r.get(key)
    return "-" if entry is None else f"{1e3 * entry[stat]:.3g}"


def table(results, stat="best"):
    """The summary table (ms): the columns of docs/solvers.md."""
    lines = ["| case | DOFs | nnz (upper) | nnz(L) Pardiso | SuperLU COLAMD (conversion) | SuperLU MMD "
             "| Pardiso analysis 1t / 2t | Pardiso numeric 1t / 2t | fe2 factorize, reused handle 1t / 2t "
             "| Pardiso solve 1 / 3 RHS 1t | Pardiso solve 1 / 3 RHS 2t | CHOLMOD symbolic "
             "| CHOLMOD numeric (wheel / coretype) | CHOLMOD solve 1 / 3 RHS | max residual |",
             "| --- " + "| ---: " * 14 + "|"]
    for r in results:
        res = max(v for k, v in r.items() if k.endswith("residual"))
        m = lambda key: ms(r, key, stat)
        lines.append(
            f"| {r['case']} | {r['n']} | {r['nnz_upper']} | {r['pardiso_nnz_l']} "
            f"| {m('superlu_colamd')} ({m('superlu_convert')}) | {m('superlu_mmd')} "
            f"| {m('pardiso_t1_analysis')} / {m('pardiso_tdefault_analysis')} "
            f"| {m('pardiso_t1_numeric')} / {m('pardiso_tdefault_numeric')} "
            f"| {m('pardiso_t1_factorize_reuse')} / {m('pardiso_tdefault_factorize_reuse')} "
            f"| {m('pardiso_t1_solve1')} / {m('pardiso_t1_solve3')} "
            f"| {m('pardiso_tdefault_solve1')} / {m('pardiso_tdefault_solve3')} "
            f"| {m('cholmod_symbolic')} | {m('cholmod_numeric')} / {m('cholmod_coretype_numeric')} "
            f"| {m('cholmod_solve1')} / {m('cholmod_solve3')} | {res:.1e} |")
    return "\n".join(lines)


def run_measure(case, cache, budget, sections, env=None, full=False, busy=0):
    """Measure in a fresh process; ``busy`` CPU-bound processes run meanwhile (a loaded machine)."""
    spin = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
    try:
        run = subprocess.run([sys.executable, __file__, "--cache", str(cache), "--budget", str(budget),
                              "--sections", sections, "--_measure", case] + (["--full"] if full else []),
                             capture_output=True, text=True, env=env)
    finally:
        for p in spin:
            p.kill()
            p.wait()
    if run.returncode:
        raise SystemExit(f"measuring {case} ({sections}) failed:\n{run.stderr}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--budget", type=float, default=1.0, help="seconds of repeats per timed item")
    parser.add_argument("--sections", default="superlu,pardiso,cholmod")
    parser.add_argument("--full", action="store_true", help="also the slow SuperLU runs (minutes)")
    parser.add_argument("--busy", type=int, default=0,
                        help="run this many CPU-bound processes during the measurements (a loaded machine)")
    parser.add_argument("--coretype", default="",
                        help="also run CHOLMOD with OPENBLAS_CORETYPE set to this, e.g. SkylakeX (the wheel's "
                             "OpenBLAS 0.3.15 falls back to Prescott kernels on CPUs it does not know)")
    parser.add_argument("--json", help="write the raw results here")
    parser.add_argument("--cache", default=str(ROOT / "output" / "solvers_cells"), help="cached matrices (.npz)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached matrices")
    parser.add_argument("--_build", help=argparse.SUPPRESS)
    parser.add_argument("--_measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    sections = args.sections.split(",")

    if args._build:
        print(json.dumps(build(args._build, cache / f"{args._build}.npz")))
        return
    if args._measure:
        print(json.dumps(measure(args._measure, cache / f"{args._measure}.npz", args.budget, sections, args.full)))
        return

    results = []
    info = machine()
    print(f"# {info['cpu']}, {info['cores']} cores, {info['versions']}", flush=True)
    for case in args.cases.split(","):
        if case not in CASES:
            raise SystemExit(f"unknown case {case!r}; one of {', '.join(CASES)}")
        path = cache / f"{case}.npz"
        if args.rebuild or not path.exists():
            run = subprocess.run([sys.executable, __file__, "--cache", str(cache), "--_build", case],
                                 capture_output=True, text=True)
            if run.returncode:
                raise SystemExit(f"building {case} failed:\n{run.stderr}")
            print(f"# built {case}: {run.stdout.strip().splitlines()[-1]}", flush=True)
        t0 = time.perf_counter()
        r = run_measure(case, cache, args.budget, args.sections, full=args.full, busy=args.busy)
        r["busy"] = args.busy
        if args.coretype and "cholmod" in sections:
            more = run_measure(case, cache, args.budget, "cholmod", dict(os.environ, OPENBLAS_CORETYPE=args.coretype),
                               busy=args.busy)
            r.update({k: v for k, v in more.items() if k.startswith("cholmod_coretype_")})
            r["load_after"] = more["load_after"]
        results.append(r)
        print(f"# {case}: n={r['n']}, {time.perf_counter() - t0:.0f} s, 1-min load "
              f"{r['load_before'][0]:.2f} -> {r['load_after'][0]:.2f}", flush=True)
    info["mkl_max_threads"] = results[0]["mkl_max_threads"] if results else None
    print("\nTimes in ms, best of repeats (1t: one MKL thread, 2t: MKL's default).\n")
    print(table(results))
    print("\nMedians:\n")
    print(table(results, "median"))
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": info, "results": results}, indent=1))


if __name__ == "__main__":
    main()
