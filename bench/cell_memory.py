"""Benchmark: the memory of one homogenization by stage, on the iterative path (or the direct one).

The RSS is sampled every 20 ms by a thread while the stages run one after the other on a loaded mesh:
the cell (element data), the periodic constraint (node pairing), the pattern of the reduced matrix and
where each element pair lands in it, the bound cell problem (assembly, and the AMG hierarchy or the
factorization), and the homogenization (the unit fields, averages, Hill-Mandel). For each stage: the
RSS after it and its peak, above the RSS once the mesh is loaded.

    python bench/cell_memory.py MESH.msh [--solver iterative|direct] [--json FILE]
"""

import argparse
import json
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cell_periodic import rss, warm_up  # noqa: E402


def measure(msh, solver="iterative"):
    import fe2
    import pyamg  # noqa: F401 - its pages are a per-process cost, as MKL's
    materials = warm_up()
    mesh = fe2.geometry.load_mesh(msh)
    stage, peaks = ["loaded"], {}

    def sample():
        while True:
            peaks[stage[0]] = max(peaks.get(stage[0], 0), rss())
            time.sleep(0.02)

    threading.Thread(target=sample, daemon=True).start()
    base, after, start = rss(), {}, time.perf_counter()
    steps = [("cell", lambda: fe2.Cell(mesh, materials)),
             ("constraint", lambda cell: cell.constraint(fe2.Periodic()) and cell),
             ("pattern", lambda cell: cell.pattern(fe2.Periodic()) and cell),
             ("cell problem", lambda cell: fe2.bind(cell, fe2.Periodic(), solver=solver) and cell),
             ("homogenization", lambda cell: fe2.homogenize(cell, fe2.Periodic(), solver=solver) and cell)]
    cell = None
    for name, step in steps:
        stage[0] = name
        cell = step() if cell is None else step(cell)
        time.sleep(0.05)   # one more sample of the stage's end
        after[name] = rss()
    return {"dofs": cell.ndofs, "elements": int(mesh.t.shape[1]), "solver": solver,
            "total [s]": time.perf_counter() - start,
            "stages [MB above the loaded mesh]": {name: {"after": (after[name] - base) / 1e6,
                                                         "peak": (peaks.get(name, after[name]) - base) / 1e6}
                                                  for name, _ in steps}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mesh")
    parser.add_argument("--solver", default="iterative", choices=("iterative", "direct"))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    result = measure(args.mesh, args.solver)
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
