"""Benchmark: the direct and the iterative path side by side on 3D periodic elasticity cells.

A cube with one spherical particle (f = 0.2), P1 tetrahedra, meshed by gmsh once per size. Then, each
in a fresh process after MKL and pyamg are loaded:
  * direct: Cell(...) + homogenize(cell, Periodic(), solver="direct"): Pardiso's factorization and 6 solves;
  * iterative: the same with solver="iterative": CG preconditioned by smoothed-aggregation AMG;
timed from the loaded mesh to the effective tensor, with the peak memory (RSS high-water mark above
the RSS once the mesh is loaded) and the CG iterations. The two tensors are compared, and the time
growth exponent is fitted over the sizes.

    python bench/cell_iterative.py [--dofs 50000 300000] [--skip-direct-above N] [--json FILE]
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cell_periodic import peak_rss, rss, warm_up  # noqa: E402


def make_mesh(dofs, msh):
    import fe2
    h = (3.0 / dofs) ** (1 / 3)   # about one node per h^3, three DOFs per node
    start = time.perf_counter()
    fe2.geometry.sphere(0.2, h=h, phases=("matrix", "fiber"), path=msh)
    return {"mesh [s]": time.perf_counter() - start}


def solve(msh, solver, tensor):
    """One homogenization on ``solver``'s path, timed; saves the effective tensor to ``tensor``."""
    import fe2
    materials = warm_up()
    import pyamg  # noqa: F401 - its pages are a per-process cost, as MKL's
    mesh = fe2.geometry.load_mesh(msh)
    base = rss()
    start = time.perf_counter()
    cell = fe2.Cell(mesh, materials)
    result = fe2.homogenize(cell, fe2.Periodic(), solver=solver)
    total = time.perf_counter() - start
    np.save(tensor, result.tensor)
    bound = fe2.bind(cell, fe2.Periodic(), solver=solver)
    out = {"dofs": cell.ndofs, "reduced dofs": bound.n, "elements": int(mesh.t.shape[1]), "total [s]": total,
           "stages [s]": result.timings, "peak memory [MB]": (peak_rss() - base) / 1e6,
           "hill-mandel": result.hill_mandel}
    if solver == "iterative":
        out["CG iterations per load"] = [int(k) for k in bound.factor.iterations]
        out["AMG levels"] = len(bound.factor.hierarchy.levels)
        out["AMG set-up [s]"] = bound.factor.setup_time
    return out


def run(*args):
    out = subprocess.run([sys.executable, __file__, *map(str, args)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    from importlib.metadata import version
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "versions": {p: version(p) for p in ("numpy", "scipy", "scikit-fem", "pypardiso", "mkl", "pyamg", "gmsh")}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dofs", type=int, nargs="+", default=[50_000, 300_000])
    parser.add_argument("--skip-direct-above", type=int, default=None, help="run only the iterative path above this size")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--step", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        kind, *rest = args.step
        print(json.dumps(make_mesh(int(rest[0]), rest[1]) if kind == "mesh" else solve(*rest)))
        return
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for dofs in args.dofs:
            msh = os.path.join(folder, f"cell_{dofs}.msh")
            row = {"target dofs": dofs, **run("--step", "mesh", dofs, msh)}
            for solver in ("iterative", "direct"):
                if solver == "direct" and args.skip_direct_above and dofs > args.skip_direct_above:
                    continue
                row[solver] = run("--step", "solve", msh, solver, os.path.join(folder, f"{solver}.npy"))
                print(f"{dofs:>9}: {solver:9} {row[solver]['total [s]']:8.1f} s, "
                      f"{row[solver]['peak memory [MB]']:8.0f} MB", flush=True)
            if "direct" in row:
                C = {s: np.load(os.path.join(folder, f"{s}.npy")) for s in ("iterative", "direct")}
                row["tensor difference (relative, max norm)"] = float(np.abs(C["iterative"] - C["direct"]).max()
                                                                      / np.abs(C["direct"]).max())
                row["speed-up"] = row["direct"]["total [s]"] / row["iterative"]["total [s]"]
                row["memory ratio (iterative / direct)"] = (row["iterative"]["peak memory [MB]"]
                                                            / row["direct"]["peak memory [MB]"])
            rows.append(row)
    result = {"machine": machine(), "rows": rows}
    for solver in ("iterative", "direct"):
        points = [(r[solver]["dofs"], r[solver]["total [s]"]) for r in rows if solver in r]
        if len(points) > 1:
            n, t = np.log(np.array(points)).T
            result[f"growth exponent {solver}"] = float(np.polyfit(n, t, 1)[0])
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
