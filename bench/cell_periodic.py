"""Benchmark: periodic homogenization of an elasticity cell, P1: a 2D fiber cell (plane strain,
--geometry fiber, the default) or a 3D cube with a spherical particle (--geometry sphere).

For each size, three fresh processes (clean timing and peak memory), each after loading MKL:
  * mesh: gmsh periodic cell with one fiber (f = 0.4) or one sphere (f = 0.2), written to a .msh;
  * fe2: the mesh read back, then Cell(...) + homogenize(cell, Periodic()), timed as a whole and
    split by stage (element data, constraints, assembly, factorization, solves, averages);
  * bare: the same reduced matrix and 3 right-hand sides loaded from disk, then one factorization
    and one solve: the floor that any implementation pays;
  * ratio = fe2 total / bare (target <= 1.3), and the peak memory of the homogenization (RSS high-water
    mark above the RSS after the mesh is loaded) against the memory the factorization reports
    (target <= 2).

On virtual machines numpy's huge-page advice on large arrays can make first-touch allocation several
times slower; --hugepage both (the default) measures with it as is and with NUMPY_MADVISE_HUGEPAGE=0.

    python bench/cell_periodic.py [--geometry fiber|sphere] [--dofs 20000 100000 400000]
                                  [--hugepage default|off|both] [--json FILE]
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def rss():
    """Current resident set size in bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


GEOMETRIES = {
    # name: (generator, nodes per h^-dim of its meshes, DOFs per node)
    "fiber": (lambda h, path: __import__("fe2").geometry.inclusion(0.4, h=h, phases=("matrix", "fiber"), path=path), 1.16, 2),
    # the sphere's: 0.78 nodes per h^-3 measured at 250k-800k DOFs (its refinement at the particle thins out)
    "sphere": (lambda h, path: __import__("fe2").geometry.sphere(0.2, h=h, phases=("matrix", "fiber"), path=path), 0.78, 3),
}


def warm_up():
    """Load the solver's shared libraries: their pages are a per-process cost, not the cell's."""
    import fe2
    import scipy.sparse as sp
    from fe2.cell.linalg import Factorization
    materials = {"matrix": fe2.Isotropic(E=3.5, nu=0.35), "fiber": fe2.Isotropic(E=72.0, nu=0.22)}
    fe2.homogenize(fe2.Cell(fe2.geometry.inclusion(0.4, h=0.2, phases=("matrix", "fiber")), materials))
    # the small warm-up cell is factorized by SuperLU: load Pardiso (MKL) explicitly as well
    Factorization(sp.identity(10, format="csr"), backend="pardiso").solve(np.ones(10))
    return materials


def make_mesh(geometry, dofs, msh):
    generate, nodes_per, dofs_per_node = GEOMETRIES[geometry]
    dim = 2 if dofs_per_node == 2 else 3
    h = (nodes_per * dofs_per_node / dofs) ** (1 / dim)
    start = time.perf_counter()
    generate(h, msh)
    return {"mesh [s]": time.perf_counter() - start}


def homogenize(msh, npz):
    """The full fe2 homogenization, timed; saves its reduced matrix and right-hand sides."""
    import scipy.sparse as sp
    import fe2
    materials = warm_up()
    mesh = fe2.geometry.load_mesh(msh)
    base = rss()
    start = time.perf_counter()
    cell = fe2.Cell(mesh, materials)
    result = fe2.homogenize(cell, fe2.Periodic(), solver="direct")   # this benchmark is the direct path's
    total = time.perf_counter() - start
    peak = peak_rss() - base  # high-water mark since the process started, less the RSS before the cell
    bound = fe2.bind(cell, fe2.Periodic(), solver="direct")  # the cached, factorized system
    sp.save_npz(npz, bound.matrix)
    np.save(npz.replace(".npz", "_rhs.npy"), bound.coupling)
    return {
        "dofs": cell.ndofs, "reduced dofs": bound.n, "elements": int(mesh.t.shape[1]), "nnz (upper)": int(bound.matrix.nnz),
        "fe2 total [s]": total, "stages [s]": result.timings, "peak memory [MB]": peak / 1e6,
        "factorization memory [MB]": bound.factor.memory / 1e6, "memory ratio": peak / bound.factor.memory,
        "hill-mandel": result.hill_mandel, "C11 [GPa]": float(result.tensor[0, 0]),
    }


def bare(npz):
    """A fresh factorization of the same matrix and one solve of the same right-hand sides."""
    import scipy.sparse as sp
    from fe2.cell.linalg import Factorization
    warm_up()
    matrix, rhs = sp.load_npz(npz).tocsr(), np.load(npz.replace(".npz", "_rhs.npy"))
    start = time.perf_counter()
    Factorization(matrix).solve(rhs)
    return {"bare factorization + solves [s]": time.perf_counter() - start}


def run(*args, env=None):
    out = subprocess.run([sys.executable, __file__, *map(str, args)], check=True, capture_output=True, text=True,
                         env={**os.environ, **(env or {})})
    return json.loads(out.stdout.strip().splitlines()[-1])


def one(geometry, dofs, folder, hugepage):
    """Mesh, fe2 and bare runs of one size, each in a fresh process."""
    msh, npz = os.path.join(folder, "cell.msh"), os.path.join(folder, "matrix.npz")
    env = {} if hugepage == "default" else {"NUMPY_MADVISE_HUGEPAGE": "0"}
    row = {"geometry": geometry, "numpy hugepage madvise": hugepage}
    row.update(run("--step", "mesh", geometry, dofs, msh))
    row.update(run("--step", "fe2", msh, npz, env=env))
    row.update(run("--step", "bare", npz, env=env))
    row["ratio"] = row["fe2 total [s]"] / row["bare factorization + solves [s]"]
    return row


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    import numpy, scipy, skfem, pypardiso  # noqa: F401
    from importlib.metadata import version
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "versions": {p: version(p) for p in ("numpy", "scipy", "scikit-fem", "pypardiso", "mkl", "gmsh")}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--geometry", choices=sorted(GEOMETRIES), default="fiber")
    parser.add_argument("--dofs", type=int, nargs="+", default=[20_000, 100_000, 400_000])
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--hugepage", choices=("default", "off", "both"), default="both",
                        help="numpy's madvise(MADV_HUGEPAGE) on large arrays: as is, off (NUMPY_MADVISE_HUGEPAGE=0), or both")
    parser.add_argument("--step", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        step, *rest = args.step
        result = {"mesh": lambda: make_mesh(rest[0], int(rest[1]), rest[2]), "fe2": lambda: homogenize(*rest),
                  "bare": lambda: bare(*rest)}[step]()
        print(json.dumps(result, default=lambda value: value.item()))
        return
    rows = []
    for hugepage, dofs in [(h, d) for h in (("default", "off") if args.hugepage == "both" else (args.hugepage,))
                           for d in args.dofs]:
        with tempfile.TemporaryDirectory() as tmp:
            row = one(args.geometry, dofs, tmp, hugepage)
        rows.append(row)
        stages = ", ".join(f"{k} {v:.3f}" for k, v in row["stages [s]"].items())
        print(f"hugepage {hugepage:7s} {row['dofs']:>8d} dofs | mesh {row['mesh [s]']:.2f} s | fe2 {row['fe2 total [s]']:.3f} s ({stages}) | "
              f"bare {row['bare factorization + solves [s]']:.3f} s | ratio {row['ratio']:.2f} | "
              f"peak {row['peak memory [MB]']:.0f} MB vs factor {row['factorization memory [MB]']:.0f} MB "
              f"(x{row['memory ratio']:.2f})", flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
