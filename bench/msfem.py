"""Benchmark: MsFEM against the direct fine solve of the same problem, as the fine grid grows.

The problem: -div(a grad u) = 1 on the unit square, u = 0 on its boundary, with the oscillating
conductivity of Hou & Wu (period eps = 1/64, cases/msfem_resonance.py), on an N x N grid of Q1
elements (N + 1)^2 fine unknowns. Each method runs in its own fresh process, after MKL is loaded
and the fine grid is built, so that its time and peak memory are its own:

* direct: the fine stiffness assembled in chunks of elements (element matrices by fe2.cell.body.Body,
  no global quadrature arrays), one Pardiso factorization, one solve. Online = the whole solve.
* msfem: offline = partition + local problems (oversampling x2, Pardiso or LAPACK per patch) +
  coarse matrix, on a fixed 32 x 32 coarse grid (H = 2 eps); online = the coarse load and coarse
  solve for a new right-hand side; reconstruction = the fine field from the coarse solution.

Peak memory is the process's RSS high-water mark above its RSS after the set-up (imports, MKL, fine
grid), i.e. what the method itself needs. The MsFEM error is against the direct solution (relative,
broken over coarse elements). Targets at the largest size: MsFEM peak <= 1/5 of the direct one,
online >= 50x faster than the direct solve.

``--methods`` runs instead the side-by-side table of docs/lod.md at one fine size and one coarse size
(default 512 x 512 fine, H = eps = 1/64): linear MsFEM, oversampled MsFEM (Petrov-Galerkin, x2 and
x3) and LOD (Petrov-Galerkin, k = 1, 2, 3), each in its own process against the same direct solve;
offline = the constructor, online = coarse load + coarse solve (median of 5, the coarse
factorization reused), errors of the fine reconstruction. Targets: LOD energy error <= 5.4e-3,
offline <= 25 s, online <= 40 ms, peak <= 400 MB; oversampled MsFEM offline <= 0.6x of the
previous engine's (13.7 s and 24.1 s) at the same errors.

    python bench/msfem.py [--fine 256 512 1024 2048] [--coarse 32] [--json docs/benchmarks/msfem.json]
    python bench/msfem.py --methods [--fine 512] [--coarse 64] [--json docs/benchmarks/lod.json]
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

EPS = 1 / 64
CHUNK = 200_000  # fine elements per assembly chunk of the direct solve


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def reset_peak():
    """Restart the RSS high-water mark (VmHWM) from the current RSS, so that set-up transients
    (building the fine grid and its facets) are not counted as the method's memory."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def peak_rss():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM"))


def set_up(n):
    """Imports, MKL loaded, the fine grid and the law: the common floor of both methods."""
    import scipy.sparse as sp
    import skfem

    import fe2
    from fe2.cell.linalg import Factorization

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "cases"))
    from msfem_resonance import HouWu

    Factorization(sp.identity(10, format="csr"), backend="pardiso").solve(np.ones(10))
    x = np.linspace(0, 1, n + 1)
    fine = skfem.MeshQuad.init_tensor(x, x).with_defaults()
    return fine, fe2.Conductor(HouWu(EPS))


def direct(n, folder):
    import scipy.sparse as sp
    from skfem import MeshQuad

    from fe2.cell.body import Body
    from fe2.cell.linalg import factorize

    fine, law = set_up(n)
    reset_peak()
    base = rss()
    clock = time.perf_counter()
    N = fine.p.shape[1]
    rows, cols, values, load = [], [], [], np.zeros(N)
    for start in range(0, fine.t.shape[1], CHUNK):
        t = fine.t[:, start:start + CHUNK]
        nodes, local = np.unique(t, return_inverse=True)
        body = Body(MeshQuad(fine.p[:, nodes], local.reshape(t.shape)), law)
        dofs = nodes[body.dofs]
        upper = dofs[:, :, None] <= dofs[:, None, :]
        rows.append(np.broadcast_to(dofs[:, :, None], upper.shape)[upper].astype(np.int32))
        cols.append(np.broadcast_to(dofs[:, None, :], upper.shape)[upper].astype(np.int32))
        values.append(body.linearize().element_matrices[upper])
        phi = np.stack([np.asarray(b) for (b,) in body.basis.basis])
        load += np.bincount(dofs.ravel(), weights=np.einsum("aeq,eq->ea", phi, body.dx).ravel(), minlength=N)
        del body
    K = sp.coo_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))), shape=(N, N)).tocsr()
    del rows, cols, values
    free = np.setdiff1d(np.arange(N), fine.boundary_nodes())
    K = K[free][:, free]
    assembly = time.perf_counter() - clock
    clock = time.perf_counter()
    solver = factorize(K)
    factorization = time.perf_counter() - clock
    clock = time.perf_counter()
    u = np.zeros(N)
    u[free] = solver.solve(load[free])
    solve = time.perf_counter() - clock
    peak = peak_rss() - base
    np.save(Path(folder) / f"direct_{n}.npy", u)
    return {"assembly s": assembly, "factorization s": factorization, "solve s": solve,
            "online s": assembly + factorization + solve, "peak MB": peak / 2**20, "factor MB": solver.memory / 2**20,
            "dofs": int(free.size)}


METHODS = {"msfem linear": dict(boundary="linear"),
           "msfem oversampling x2 PG": dict(boundary="oversampling", oversampling=2.0, petrov_galerkin=True),
           "msfem oversampling x3 PG": dict(boundary="oversampling", oversampling=3.0, petrov_galerkin=True),
           "lod k=1": dict(layers=1), "lod k=2": dict(layers=2), "lod k=3": dict(layers=3)}


def msfem(n, folder, coarse_n, method="msfem"):
    import skfem

    from fe2.macro import Dirichlet
    from fe2.msfem import LOD, MsFEM

    fine, law = set_up(n)
    reset_peak()
    base = rss()
    X = np.linspace(0, 1, coarse_n + 1)
    coarse = skfem.MeshQuad.init_tensor(X, X).with_defaults()
    clock = time.perf_counter()
    if method == "msfem":
        space = MsFEM(coarse, fine, law, boundary="oversampling", oversampling=2.0)
    elif method.startswith("lod"):
        space = LOD(coarse, fine, law, **METHODS[method])
    else:
        space = MsFEM(coarse, fine, law, **METHODS[method])
    offline = time.perf_counter() - clock
    conditions = [Dirichlet(side, 0.0) for side in ("left", "right", "bottom", "top")]
    online = []
    for _ in range(5):  # a new right-hand side each time: coarse load and coarse solve
        clock = time.perf_counter()
        solution = space.solve(conditions, body_force=1.0)
        online.append(time.perf_counter() - clock)
    clock = time.perf_counter()
    space.conforming(solution)
    reconstruction = time.perf_counter() - clock
    peak = peak_rss() - base
    reference = np.load(Path(folder) / f"direct_{n}.npy")
    errors = space.errors(solution, reference=reference)
    return {"offline s": offline, "online s": float(np.median(online)), "reconstruction s": reconstruction,
            "peak MB": peak / 2**20, "coarse dofs": space.ndofs, "l2": errors.l2, "h1": errors.h1, "energy": errors.energy,
            "split": {k: v for k, v in space.timings.items() if k != "online"}}


def table(args):
    """The methods side by side at one fine and one coarse size (see the module docstring)."""
    n, coarse_n = args.fine[0], args.coarse
    rows = {}
    with tempfile.TemporaryDirectory() as folder:
        rows["direct"] = run("direct", n, folder, coarse_n)
        print(f"direct: {rows['direct']['online s']:.2f} s, peak {rows['direct']['peak MB']:.0f} MB", flush=True)
        print(f"{'method':>26} | {'energy':>8} {'L2':>8} | {'offline s':>9} {'online ms':>9} {'peak MB':>8}")
        for method in args.methods:
            r = rows[method] = run(method, n, folder, coarse_n)
            print(f"{method:>26} | {r['energy']:8.2e} {r['l2']:8.1e} | {r['offline s']:9.1f} {1e3 * r['online s']:9.1f} "
                  f"{r['peak MB']:8.0f}", flush=True)
    return rows


def run(method, n, folder, coarse_n):
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    out = subprocess.run([sys.executable, __file__, "--child", method, str(n), folder, str(coarse_n)], check=True,
                         capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fine", type=int, nargs="+", default=[256, 512, 1024, 2048], help="fine elements per side")
    parser.add_argument("--coarse", type=int, default=32, help="coarse elements per side")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--methods", nargs="*", default=None, choices=list(METHODS),
                        help="the side-by-side table of these methods (all if none named)")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        method, n, folder, coarse_n = args.child
        result = direct(int(n), folder) if method == "direct" else msfem(int(n), folder, int(coarse_n), method)
        print(json.dumps(result))
        return result
    machine = {"machine": platform.machine(), "processor": platform.processor(), "cpus": os.cpu_count(),
               "python": platform.python_version(), "load average": os.getloadavg(),
               "memory GB": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30,
               "note": "one thread; the machine was shared with other jobs"}
    if args.methods is not None:
        if args.fine == parser.get_default("fine"):
            args.fine = [512]
        if args.coarse == parser.get_default("coarse"):
            args.coarse = 64
        args.methods = args.methods or list(METHODS)
        rows = table(args)
        if args.json:
            args.json.write_text(json.dumps({"machine": machine, "eps": EPS, "fine": args.fine[0], "coarse": args.coarse,
                                             "rows": rows}, indent=2))
        return rows
    rows = []
    print(f"{'fine DOFs':>10} | {'direct s':>9} {'peak MB':>8} | {'MsFEM offline s':>15} {'online ms':>9} {'recon. s':>8} "
          f"{'peak MB':>8} {'L2 err':>8} {'energy':>8} | {'memory':>7} {'online':>8}")
    with tempfile.TemporaryDirectory() as folder:
        for n in args.fine:
            d = run("direct", n, folder, args.coarse)
            m = run("msfem", n, folder, args.coarse)
            rows.append({"fine": n, "fine dofs": (n + 1) ** 2, "direct": d, "msfem": m,
                         "memory ratio": m["peak MB"] / d["peak MB"], "online speed-up": d["online s"] / m["online s"]})
            r = rows[-1]
            print(f"{(n + 1) ** 2:10d} | {d['online s']:9.2f} {d['peak MB']:8.0f} | {m['offline s']:15.2f} "
                  f"{1e3 * m['online s']:9.2f} {m['reconstruction s']:8.2f} {m['peak MB']:8.0f} {m['l2']:8.1e} "
                  f"{m['energy']:8.1e} | {r['memory ratio']:7.3f} {r['online speed-up']:7.0f}x", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "eps": EPS, "coarse": args.coarse, "rows": rows}, indent=2))
    return rows


if __name__ == "__main__":
    main()
