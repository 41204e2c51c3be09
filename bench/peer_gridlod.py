"""Benchmark: fe2's LOD against gridlod (F. Hellman's Python LOD code) on the same discrete problem.

The problem: -div(a grad u) = 1 on the unit square, u = 0 on its boundary, a the Hou-Wu coefficient
(eps = 1/64, cases/msfem_resonance.py) taken at the centre of each fine cell (gridlod's coefficient
is one value per fine element), Q1 elements on an N x N fine grid (default 512), coarse grid
H = 1/64, Petrov-Galerkin LOD with k layers (default 1, 2, 3), one thread each:

* gridlod (github.com/fredrikhellman/gridlod, commit 0ed4c09, the last; not on PyPI) is installed by
  this script into its own venv, bench/.venv-gridlod, from a copy of its source (``--gridlod-source``:
  a checkout or a bare git mirror; without it, pip tries GitHub). Its corrector solver calls
  scikit-sparse's CHOLMOD, which has no wheel and does not build on this machine; the venv gets
  CHOLMOD from the cvxopt wheel through a 30-line ``sksparse.cholmod`` module written by this script
  (``cholesky(A).solve_A(b)``: symbolic analysis, numeric factorization, solve). gridlod runs as its
  own example does (gridlod/test/test_pgexamples.py): per coarse element, Patch, the L2-projection
  interpolation, computeBasisCorrectors, computeBasisCoarseQuantities; then assembleMsStiffnessMatrix,
  the coarse mass matrix times f for the load, spsolve, assembleBasisCorrectors for the fine field;
* fe2: ``fe2.msfem.LOD(coarse, fine, Conductor(cell-centred Hou-Wu), layers=k)``.

Each method runs in its own fresh process; offline = correctors + coarse matrix, online = coarse load
+ coarse solve, peak = RSS high-water mark above the RSS after the set-up (imports, grid, coefficient).
Errors are relative, of the fine reconstruction against each code's own direct fine solve, in the
energy norm and L2 (both exact for Q1 with a cell-wise constant coefficient); the two direct
solutions are compared to check that the problems are the same.

    python bench/peer_gridlod.py [--fine 512] [--coarse 64] [--layers 1 2 3] [--gridlod-source DIR] [--json FILE]
"""

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-gridlod"
COMMIT = "0ed4c096df75040145978d48c5307ef5678efed3"
EPS = 1 / 64
SHIM = '''"""scikit-sparse's cholmod.cholesky for gridlod, on the CHOLMOD of the cvxopt wheel (written by fe2's
bench/peer_gridlod.py: scikit-sparse has no wheel and does not build on this machine)."""
import numpy as np
import scipy.sparse as sp
from cvxopt import cholmod, matrix, spmatrix

cholmod.options["supernodal"] = 2


class Factor:
    def __init__(self, A):
        A = sp.tril(sp.csc_matrix(A)).tocoo()
        self.n = A.shape[0]
        self.A = spmatrix(A.data.tolist(), A.row.tolist(), A.col.tolist(), (self.n, self.n))
        self.F = cholmod.symbolic(self.A)
        cholmod.numeric(self.A, self.F)

    def solve_A(self, b):
        sparse = sp.issparse(b)
        dense = np.asarray(b.toarray() if sparse else b, dtype=float)
        shape = dense.shape
        x = matrix(dense.reshape(self.n, -1))
        cholmod.solve(self.F, x)
        out = np.array(x).reshape(shape)
        return sp.csc_matrix(out.reshape(self.n, -1)) if sparse else out


def cholesky(A):
    return Factor(A)


def analyze(A):
    raise NotImplementedError("only cholesky is provided")
'''


# --- the shared problem -----------------------------------------------------------------------------------
def hou_wu(x, y):
    X, Y = 2 * np.pi * x / EPS, 2 * np.pi * y / EPS
    return (2 + 1.8 * np.sin(X)) / (2 + 1.8 * np.cos(Y)) + (2 + np.sin(Y)) / (2 + 1.8 * np.sin(X))


class CellCentred:
    """The Hou-Wu coefficient at the centre of the fine cell (of an n x n grid) that holds x: one value
    per fine element, as gridlod takes it (picklable)."""

    def __init__(self, n):
        self.n = n

    def __call__(self, x):
        centre = (np.minimum(np.floor(x * self.n), self.n - 1) + 0.5) / self.n
        return hou_wu(centre[0], centre[1])


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def reset_peak():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def peak_rss():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM"))


# --- gridlod (runs in bench/.venv-gridlod) -------------------------------------------------------------------
def gridlod_run(n, coarse_n, k, folder):
    import scipy.sparse as sparse
    import scipy.sparse.linalg  # noqa: F401
    from gridlod import coef, fem, interp, lod, pglod, util
    from gridlod.world import Patch, World

    NFine, NWorldCoarse = np.array([n, n]), np.array([coarse_n, coarse_n])
    NCoarseElement = NFine // NWorldCoarse
    boundaryConditions = np.array([[0, 0], [0, 0]])
    world = World(NWorldCoarse, NCoarseElement, boundaryConditions)
    xt = util.tCoordinates(NFine)
    aFine = hou_wu(xt[:, 0], xt[:, 1])
    AFine = fem.assemblePatchMatrix(NFine, world.ALocFine, aFine)
    MFine = fem.assemblePatchMatrix(NFine, world.MLocFine)
    freeFine = util.interiorpIndexMap(NFine)
    reference = Path(folder) / f"gridlod_direct_{n}.npy"
    if reference.exists():
        uFine = np.load(reference)
    else:  # the direct fine solve (not timed)
        bFine = MFine @ np.ones(world.NpFine)
        uFine = np.zeros(world.NpFine)
        uFine[freeFine] = sparse.linalg.spsolve(AFine[freeFine][:, freeFine].tocsc(), bFine[freeFine])
        np.save(reference, uFine)
    reset_peak()
    base = rss()
    clock = time.perf_counter()

    def computeKmsij(TInd):
        patch = Patch(world, k, TInd)
        IPatch = lambda: interp.L2ProjectionPatchMatrix(patch, boundaryConditions)  # noqa: E731
        aPatch = lambda: coef.localizeCoefficient(patch, aFine)  # noqa: E731
        correctorsList = lod.computeBasisCorrectors(patch, IPatch, aPatch)
        csi = lod.computeBasisCoarseQuantities(patch, correctorsList, aPatch)
        return patch, correctorsList, csi.Kmsij

    patchT, correctorsListT, KmsijT = zip(*map(computeKmsij, range(world.NtCoarse)))
    KFull = pglod.assembleMsStiffnessMatrix(world, patchT, KmsijT)
    offline = time.perf_counter() - clock
    MFull = fem.assemblePatchMatrix(NWorldCoarse, world.MLocCoarse)
    free = util.interiorpIndexMap(NWorldCoarse)
    online = []
    for _ in range(5):
        clock = time.perf_counter()
        bFull = MFull @ np.ones(world.NpCoarse)
        xFull = np.zeros(world.NpCoarse)
        xFull[free] = sparse.linalg.spsolve(KFull[free][:, free], bFull[free])
        online.append(time.perf_counter() - clock)
    clock = time.perf_counter()
    basis = fem.assembleProlongationMatrix(NWorldCoarse, NCoarseElement)
    basisCorrectors = pglod.assembleBasisCorrectors(world, patchT, correctorsListT)
    uLod = (basis - basisCorrectors) @ xFull
    reconstruction = time.perf_counter() - clock
    peak = peak_rss() - base
    e = uFine - uLod
    return {"offline s": offline, "online s": float(np.median(online)), "reconstruction s": reconstruction,
            "peak MB": peak / 2**20, "energy": float(np.sqrt(e @ (AFine @ e) / (uFine @ (AFine @ uFine)))),
            "l2": float(np.sqrt(e @ (MFine @ e) / (uFine @ (MFine @ uFine)))),
            "direct": {"x": util.pCoordinates(NFine).tolist() if n <= 8 else None, "file": str(reference)}}


# --- fe2 -------------------------------------------------------------------------------------------------
def fe2_run(n, coarse_n, k, folder):
    import skfem

    import fe2
    from fe2.macro import Dirichlet, Problem
    from fe2.msfem import LOD

    x = np.linspace(0, 1, n + 1)
    fine = skfem.MeshQuad.init_tensor(x, x).with_defaults()
    law = fe2.Conductor(CellCentred(n))
    sides = [Dirichlet(side, 0.0) for side in ("left", "right", "bottom", "top")]
    reference = Path(folder) / f"fe2_direct_{n}.npy"
    if reference.exists():
        u = np.load(reference)
    else:
        u = Problem(fine, law, dirichlet=sides, body_force=1.0).solve(1)[-1].field
        np.save(reference, u)
        np.save(Path(folder) / f"fe2_nodes_{n}.npy", fine.p)
    X = np.linspace(0, 1, coarse_n + 1)
    coarse = skfem.MeshQuad.init_tensor(X, X).with_defaults()
    reset_peak()
    base = rss()
    clock = time.perf_counter()
    space = LOD(coarse, fine, law, layers=k)
    offline = time.perf_counter() - clock
    online = []
    for _ in range(5):
        clock = time.perf_counter()
        solution = space.solve(sides, body_force=1.0)
        online.append(time.perf_counter() - clock)
    clock = time.perf_counter()
    space.fine_field(solution)
    reconstruction = time.perf_counter() - clock
    peak = peak_rss() - base
    e = space.errors(solution, reference=u)
    return {"offline s": offline, "online s": float(np.median(online)), "reconstruction s": reconstruction,
            "peak MB": peak / 2**20, "energy": e.energy, "l2": e.l2}


# --- driver ----------------------------------------------------------------------------------------------
def venv_python():
    return VENV / "bin" / "python"


def ensure_peer(source):
    """Create bench/.venv-gridlod with numpy, scipy, cvxopt, gridlod (from ``source`` or GitHub) and the
    CHOLMOD shim, unless it is there already."""
    python = venv_python()
    check = [str(python), "-c", "import gridlod.lod, sksparse.cholmod, cvxopt; print('ok')"]
    if python.exists() and subprocess.run(check, capture_output=True, text=True).returncode == 0:
        return
    if not python.exists():
        base = shutil.which("python3") or sys.executable
        print(f"creating {VENV} ({base} -m venv)", flush=True)
        subprocess.run([base, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "numpy", "scipy", "cvxopt"], check=True)
    with tempfile.TemporaryDirectory() as folder:
        if source is None:
            target = f"git+https://github.com/fredrikhellman/gridlod@{COMMIT}"
        elif (Path(source) / "HEAD").is_file() and not (Path(source) / ".git").exists():  # a bare git mirror
            archive = subprocess.run(["git", f"--git-dir={source}", "archive", COMMIT, "setup.py", "gridlod/*.py"],
                                     check=True, capture_output=True)  # the package's sources (a mirror may lack its data files)
            subprocess.run(["tar", "-x", "-C", folder], input=archive.stdout, check=True)
            target = folder
        else:
            target = str(source)
        print(f"installing gridlod ({COMMIT[:7]}) from {target} into {VENV}", flush=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", target], check=True)
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    (Path(site) / "sksparse").mkdir(exist_ok=True)
    (Path(site) / "sksparse" / "__init__.py").write_text("")
    (Path(site) / "sksparse" / "cholmod.py").write_text(SHIM)
    found = subprocess.run(check, capture_output=True, text=True)
    if found.returncode != 0:
        raise SystemExit(f"gridlod does not import in {VENV}:\n{found.stderr}")


def child(code, n, coarse_n, k, folder):
    python = str(venv_python()) if code == "gridlod" else sys.executable
    env = dict(os.environ, PYTHONPATH=str(HERE.parent) if code == "fe2" else "")
    out = subprocess.run([python, __file__, "--child", code, str(n), str(coarse_n), str(k), folder], check=True,
                         capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fine", type=int, default=512)
    parser.add_argument("--coarse", type=int, default=64)
    parser.add_argument("--layers", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--gridlod-source", default=None, help="a gridlod checkout or bare git mirror")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        code, n, coarse_n, k, folder = args.child
        run = gridlod_run if code == "gridlod" else fe2_run
        print(json.dumps(run(int(n), int(coarse_n), int(k), folder)))
        return
    ensure_peer(args.gridlod_source)
    rows = []
    print(f"{'code':>8} {'k':>2} | {'energy':>8} {'L2':>8} | {'offline s':>9} {'online ms':>9} {'recon. s':>8} {'peak MB':>8}")
    with tempfile.TemporaryDirectory() as folder:
        for k in args.layers:
            for code in ("gridlod", "fe2"):
                r = child(code, args.fine, args.coarse, k, folder)
                rows.append({"code": code, "layers": k, **r})
                print(f"{code:>8} {k:2d} | {r['energy']:8.2e} {r['l2']:8.1e} | {r['offline s']:9.1f} "
                      f"{1e3 * r['online s']:9.1f} {r['reconstruction s']:8.2f} {r['peak MB']:8.0f}", flush=True)
        # the same discrete problem: the two direct fine solutions, matched by node coordinates
        p = np.load(Path(folder) / f"fe2_nodes_{args.fine}.npy")
        index = np.round(p[0] * args.fine).astype(int) + (args.fine + 1) * np.round(p[1] * args.fine).astype(int)
        ours, theirs = np.load(Path(folder) / f"fe2_direct_{args.fine}.npy"), np.load(Path(folder) / f"gridlod_direct_{args.fine}.npy")
        difference = float(np.abs(ours - theirs[index]).max() / np.abs(theirs).max())
    print(f"direct fine solutions: max relative difference {difference:.1e} (the same discrete problem)")
    machine = {"machine": platform.machine(), "processor": platform.processor(), "cpus": os.cpu_count(),
               "python": platform.python_version(), "load average": os.getloadavg(),
               "note": "one thread each; the machine was shared with other jobs"}
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "eps": EPS, "fine": args.fine, "coarse": args.coarse,
                                         "gridlod": COMMIT, "direct difference": difference, "rows": rows}, indent=2))
    return rows


if __name__ == "__main__":
    main()
