"""Benchmark: the direct and the iterative path side by side on periodic elasticity cells, 3D and 2D.

3D: a cube with one spherical particle (f = 0.2), P1 tetrahedra; 2D: a square with one fiber (f = 0.4),
P1 triangles, plane strain; meshed by gmsh once per size (bench/cell_periodic.py's geometries). Then,
each in a fresh process after MKL and pyamg are loaded:
  * direct: Cell(...) + homogenize(cell, Periodic(), solver="direct"): Pardiso's factorization and the solves;
  * iterative: the same with solver="iterative": CG preconditioned by smoothed-aggregation AMG, the
    unit loads on as many threads as the process has cores;
  * with --fedoo, fedoo on the same 3D mesh (bench/peer_fedoo_cell3d.py, in its own venv, on as many
    threads as fe2's direct path: the cores), its tensor compared with fe2's;
timed from the loaded mesh to the effective tensor, with the peak memory (RSS high-water mark above
the RSS once the mesh is loaded), the time by stage and the CG iterations. The tensors are compared,
and the time growth exponent of each path is fitted over the sizes of each dimension.

    python bench/cell_iterative.py [--sphere 50000 300000 1000000] [--fiber 50000 250000 1000000]
                                   [--skip-direct-above N] [--fedoo] [--json FILE]
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
from cell_periodic import make_mesh, peak_rss, rss, warm_up  # noqa: E402


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
        out["AMG memory [MB]"] = bound.factor.memory / 1e6
        out["AMG unknowns per level"] = [int(level.A.shape[0]) for level in bound.factor.hierarchy.levels]
        out["threads"] = bound.factor.threads
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
    parser.add_argument("--sphere", type=int, nargs="*", default=[50_000, 300_000], help="3D cells: target DOFs")
    parser.add_argument("--fiber", type=int, nargs="*", default=[], help="2D cells: target DOFs")
    parser.add_argument("--skip-direct-above", type=int, default=None, help="3D: run only the iterative path above this size (the direct path needs about 34 GB at 1M DOFs)")
    parser.add_argument("--fedoo", action="store_true", help="run fedoo on the 3D meshes too")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--step", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        kind, *rest = args.step
        if kind == "fedoo":   # a process of its own: importing the peer sets one thread for the process
            import peer_fedoo_cell3d
            print(json.dumps(peer_fedoo_cell3d.run(rest[0], reference=rest[1], threads=os.cpu_count())))
            return
        print(json.dumps(make_mesh(rest[0], int(rest[1]), rest[2]) if kind == "mesh" else solve(*rest)))
        return
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for geometry, dofs in [("sphere", d) for d in args.sphere] + [("fiber", d) for d in args.fiber]:
            msh = os.path.join(folder, f"{geometry}_{dofs}.msh")
            row = {"geometry": geometry, "target dofs": dofs, **run("--step", "mesh", geometry, dofs, msh)}
            for solver in ("iterative", "direct"):
                if solver == "direct" and geometry == "sphere" and args.skip_direct_above and dofs > args.skip_direct_above:
                    continue
                row[solver] = run("--step", "solve", msh, solver, os.path.join(folder, f"{solver}.npy"))
                print(f"{geometry} {dofs:>9}: {solver:9} {row[solver]['total [s]']:8.1f} s, "
                      f"{row[solver]['peak memory [MB]']:8.0f} MB", flush=True)
            tensors = {s: np.load(os.path.join(folder, f"{s}.npy")) for s in ("iterative", "direct") if s in row}
            if args.fedoo and geometry == "sphere" and "direct" in row:   # fedoo factorizes too: where fe2's direct path ran
                reference = os.path.join(folder, "direct.npy" if "direct" in row else "iterative.npy")
                peer = run("--step", "fedoo", msh, reference)
                row["fedoo"] = {**peer["fedoo"], "dofs": peer["dofs"],
                                "peak memory [MB]": peer["fedoo"]["peak memory above the loaded mesh [MB]"],
                                "tensor difference to fe2 (relative, max norm)": peer["tensor difference (relative, max norm)"]}
                print(f"{geometry} {dofs:>9}: fedoo     {row['fedoo']['total [s]']:8.1f} s, "
                      f"{row['fedoo']['peak memory [MB]']:8.0f} MB", flush=True)
            if "direct" in row:
                row["tensor difference (relative, max norm)"] = float(np.abs(tensors["iterative"] - tensors["direct"]).max()
                                                                      / np.abs(tensors["direct"]).max())
                row["speed-up"] = row["direct"]["total [s]"] / row["iterative"]["total [s]"]
                row["memory ratio (iterative / direct)"] = (row["iterative"]["peak memory [MB]"]
                                                            / row["direct"]["peak memory [MB]"])
            rows.append(row)
            if args.json:   # row by row: a long run keeps what it measured
                args.json.parent.mkdir(parents=True, exist_ok=True)
                args.json.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=1))
    result = {"machine": machine(), "rows": rows}
    for geometry in ("sphere", "fiber"):
        for solver in ("iterative", "direct", "fedoo"):
            points = [(r[solver]["dofs"], r[solver]["total [s]"]) for r in rows if solver in r and r["geometry"] == geometry]
            if len(points) > 1:
                n, t = np.log(np.array(points)).T
                result[f"growth exponent {geometry} {solver}"] = float(np.polyfit(n, t, 1)[0])
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
