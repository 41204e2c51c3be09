"""Benchmark: FE² with about 500 macro points, each a nonlinear cell of 2k-5k DOFs.

Measured in one run (machine noted in the JSON):
  * one macro Newton iteration: the residual and tangent of every macro point, i.e. one cell solve
    per point from the virgin state at plastic macro strains, serially, on 2 local processes and on
    a 2-worker Dask LocalCluster (with the histories kept on the workers);
  * the anatomy of one cell solve: its time against (micro Newton iterations + 1) x the time of one
    factorization of its matrix (a factorization per iteration and one for the final tangent);
  * the memory of one stored micro history (its pickled size).

    python bench/fe2_run.py [--macro-h 0.085] [--cell-h 0.035] [--json FILE]
"""

import argparse
import json
import os
import pickle
import platform
import time
from pathlib import Path

import numpy as np

import fe2
from fe2.cell.linalg import Factorization
from fe2.macro import Dirichlet, Problem

MATRIX = fe2.J2Plasticity(E=70.0, nu=0.33, yield_stress=0.2, hardening=1.0)
FIBER = fe2.Isotropic(E=400.0, nu=0.2)


def plate(law, mesh):
    return Problem(mesh, {"plate": law}, dirichlet=[
        Dirichlet("left", 0.0, components=(0,)), Dirichlet("bottom", 0.0, components=(1,)),
        Dirichlet("right", 0.004, components=(0,))])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--macro-h", type=float, default=0.085)
    parser.add_argument("--cell-h", type=float, default=0.035)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    cell = fe2.Cell(fe2.geometry.inclusion(0.4, h=args.cell_h, phases=("matrix", "fiber")), {"matrix": MATRIX, "fiber": FIBER})
    mesh = fe2.geometry.plate_with_hole(width=1.0, radius=0.3, h=args.macro_h)
    # macro strains in the plastic range: the elastic solution of the pulled plate
    elastic = fe2.RVELaw(cell).tensor(2)
    u = plate(fe2.Anisotropic(0.5 * (elastic + elastic.T)), mesh).solve(1)[-1].field
    print(f"cell: {cell.ndofs} DOFs; macro: {mesh.t.shape[1]} points")

    rows = {}
    for spec in ("serial", "processes", "dask"):
        with fe2.parallel.executor(spec, workers=2) as ex:
            problem = plate(fe2.RVELaw(cell, "periodic", executor=None if spec == "serial" else ex), mesh)
            states = problem.initial_states()
            start = time.perf_counter()
            problem.residual(u, states, 1.0)
            rows[spec] = time.perf_counter() - start
        print(f"{spec:9s}: one macro Newton iteration (all cell solves) {rows[spec]:7.2f} s")

    # one cell solve, taken apart
    strains = problem.body.strain(u).reshape(-1, 3)
    E = strains[np.argmax(np.linalg.norm(strains, axis=1))]
    times = []
    for _ in range(3):
        start = time.perf_counter()
        solution = fe2.nonlinear.solve(cell, E, "periodic")
        times.append(time.perf_counter() - start)
    dof_map, n = cell.constraint("periodic")
    matrix = cell.linearize().assemble(dof_map, n)
    start = time.perf_counter()
    for _ in range(10):
        Factorization(matrix)
    factor = (time.perf_counter() - start) / 10
    solve = min(times)
    factorizations = solution.iterations + 1
    history = {"micro": solution.state, "field": solution.field, "strain": E, "hill_mandel": solution.hill_mandel,
               "iterations": solution.iterations}
    result = {
        "cell dofs": cell.ndofs, "macro points": int(mesh.t.shape[1]),
        "macro iteration [s]": rows,
        "speed-up processes (2)": rows["serial"] / rows["processes"], "speed-up dask (2)": rows["serial"] / rows["dask"],
        "cell solve [s]": solve, "micro iterations": solution.iterations, "factorization [s]": factor,
        "cell solve / (factorizations x factorization)": solve / (factorizations * factor),
        "micro history [bytes]": len(pickle.dumps(history)),
        "machine": {"cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?"),
                    "cores": os.cpu_count(), "python": platform.python_version()},
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
