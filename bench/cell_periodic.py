"""Benchmark: periodic homogenization of a 2D elasticity fiber cell (P1, plane strain).

For each size, in a fresh process (clean peak memory):
  * mesh: gmsh periodic cell with one fiber (f = 0.4), written to a .msh and read back;
  * fe2: Cell(...) + homogenize(cell, Periodic()), timed as a whole and split by stage
    (element data, constraints, assembly, factorization, solves, averages);
  * bare: a fresh factorization of the same reduced matrix and one solve of the same 3 right-hand
    sides, the floor that any implementation pays;
  * ratio = fe2 total / bare (target <= 1.3), and the peak memory of the homogenization (RSS high-water
    mark above the RSS after the mesh is loaded) against the memory the factorization reports
    (target <= 2).

    python bench/cell_periodic.py [--dofs 20000 100000 400000] [--json FILE]
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


def one(dofs, msh):
    import fe2
    from fe2.linalg import Factorization

    h = np.sqrt(2 * 1.16 / dofs)  # this cell meshes to about 1.16 / h^2 nodes, 2 DOFs each
    start = time.perf_counter()
    fe2.geometry.inclusion(0.4, h=h, phases=("matrix", "fiber"), path=msh)
    mesh_time = time.perf_counter() - start
    mesh = fe2.geometry.load_mesh(msh)
    materials = {"matrix": fe2.Isotropic(E=3.5, nu=0.35), "fiber": fe2.Isotropic(E=72.0, nu=0.22)}
    # load the solver's shared libraries first: their pages are a per-process cost, not the cell's
    fe2.homogenize(fe2.Cell(fe2.geometry.inclusion(0.4, h=0.2, phases=("matrix", "fiber")), materials))
    base = rss()
    start = time.perf_counter()
    cell = fe2.Cell(mesh, materials)
    result = fe2.homogenize(cell, fe2.Periodic())
    total = time.perf_counter() - start
    peak = peak_rss() - base

    bound = fe2.bind(cell, fe2.Periodic())  # the cached, factorized system
    rhs = np.asfortranarray(bound.coupling)
    start = time.perf_counter()
    bare = Factorization(bound.matrix)
    bare.solve(rhs)
    bare_time = time.perf_counter() - start
    return {
        "dofs": cell.ndofs, "reduced dofs": bound.n, "elements": int(mesh.t.shape[1]), "nnz (upper)": int(bound.matrix.nnz),
        "mesh [s]": mesh_time, "fe2 total [s]": total, "stages [s]": result.timings, "bare factorization + solves [s]": bare_time,
        "ratio": total / bare_time, "peak memory [MB]": peak / 1e6, "factorization memory [MB]": bound.factor.memory / 1e6,
        "memory ratio": peak / bound.factor.memory, "hill-mandel": result.hill_mandel, "C11 [GPa]": float(result.tensor[0, 0]),
    }


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    import numpy, scipy, skfem, pypardiso  # noqa: F401
    from importlib.metadata import version
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "versions": {p: version(p) for p in ("numpy", "scipy", "scikit-fem", "pypardiso", "mkl", "gmsh")}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dofs", type=int, nargs="+", default=[20_000, 100_000, 400_000])
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(one(args.one, os.path.join(tmp, "cell.msh")), default=lambda value: value.item()))
        return
    rows = []
    for dofs in args.dofs:
        out = subprocess.run([sys.executable, __file__, "--one", str(dofs)], check=True, capture_output=True, text=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row)
        stages = ", ".join(f"{k} {v:.3f}" for k, v in row["stages [s]"].items())
        print(f"{row['dofs']:>8d} dofs | mesh {row['mesh [s]']:.2f} s | fe2 {row['fe2 total [s]']:.3f} s ({stages}) | "
              f"bare {row['bare factorization + solves [s]']:.3f} s | ratio {row['ratio']:.2f} | "
              f"peak {row['peak memory [MB]']:.0f} MB vs factor {row['factorization memory [MB]']:.0f} MB "
              f"(x{row['memory ratio']:.2f})", flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
