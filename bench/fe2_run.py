"""Benchmark: FE² with about 450 macro points, each a nonlinear cell of about 2k DOFs.

Measured in one run (machine and load noted in the JSON):
  * one macro Newton iteration: the residual and tangent of every macro point, i.e. one cell solve
    per point from the virgin state at plastic macro strains (the elastic solution of the pulled
    plate), serially, on 2 local processes and on a 2-worker Dask LocalCluster (the histories kept on
    the workers). The three executors are up together. Each first runs the iteration once (cold:
    its workers load numba's compiled return mapping, factorize the virgin cell and make the
    Pardiso analysis, once per process in a run); then the iteration is timed ``--repeats`` times
    per executor, from the same virgin histories (as after a cut-back), the executors taking turns
    so that a slow spell of the machine does not fall on one of them only. The medians are
    reported, with every time;
  * the cell solves of that iteration: how many were elastic increments (no Newton iteration, no
    factorization) and the micro Newton iterations of the others;
  * the floor of the iteration: the sum over the points of the floor of their solve, (k + 1) numeric
    factorizations of the cell matrix + k solves with 1 right-hand side + one with 3 for a solve of k
    iterations, 0 for an elastic one (bench/micro_solves.py measures them the same way, here on the
    converged matrix of the most strained point, sampled in this process between the timed
    iterations, the workers idle); divided by the workers for the parallel runs;
  * one cell solve, the most strained point from its virgin state, taken apart: its time (median of
    20) against its floor (sampled in alternation with the 20 solves);
  * the memory of one stored micro history (its pickled size).

Every process runs its linear algebra on one thread (serial: one core; the parallel runs: one core
per worker).

    python bench/fe2_run.py [--macro-h 0.085] [--cell-h 0.035] [--repeats 3] [--json FILE]
"""

import os

for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse
import json
import pickle
import sys
import time
from pathlib import Path

import numpy as np

import fe2
from fe2.macro import Dirichlet, Problem

sys.path.insert(0, str(Path(__file__).resolve().parent))
from micro_solves import Floor, machine, solve_floor  # noqa: E402

MATRIX = fe2.J2Plasticity(E=70.0, nu=0.33, yield_stress=0.2, hardening=1.0)
FIBER = fe2.Isotropic(E=400.0, nu=0.2)


def plate(law, mesh):
    return Problem(mesh, {"plate": law}, dirichlet=[
        Dirichlet("left", 0.0, components=(0,)), Dirichlet("bottom", 0.0, components=(1,)),
        Dirichlet("right", 0.004, components=(0,))])


def sample(floor, solution, seconds=0.5):
    """Floor samples of the converged matrix of ``solution`` for about ``seconds`` (at least 5)."""
    begin, count = time.perf_counter(), len(floor.samples)
    while len(floor.samples) < count + 5 or time.perf_counter() - begin < seconds:
        floor.sample(solution, pairs=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--macro-h", type=float, default=0.085)
    parser.add_argument("--cell-h", type=float, default=0.035)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--executors", default="serial,processes,dask")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    load_start = os.getloadavg()

    cell = fe2.Cell(fe2.geometry.inclusion(0.4, h=args.cell_h, phases=("matrix", "fiber")), {"matrix": MATRIX, "fiber": FIBER})
    mesh = fe2.geometry.plate_with_hole(width=1.0, radius=0.3, h=args.macro_h)
    # macro strains in the plastic range: the elastic solution of the pulled plate
    elastic = fe2.RVELaw(cell).tensor(2)
    u = plate(fe2.Anisotropic(0.5 * (elastic + elastic.T)), mesh).solve(1)[-1].field
    print(f"cell: {cell.ndofs} DOFs; macro: {mesh.t.shape[1]} points", flush=True)

    # one cell solve, taken apart: the most strained point, from its virgin state
    problem = plate(fe2.RVELaw(cell, "periodic"), mesh)
    strains = problem.body.strain(u).reshape(-1, 3)
    E = strains[np.argmax(np.linalg.norm(strains, axis=1))]
    fe2.nonlinear.solve(cell, E, "periodic")   # warm-up
    times, sampler = [], Floor(cell)
    for _ in range(20):   # the solve and its floor timed in alternation
        start = time.perf_counter()
        solution = fe2.nonlinear.solve(cell, E, "periodic")
        times.append(time.perf_counter() - start)
        sampler.sample(solution, pairs=1)
    parts = sampler.parts()
    solve = float(np.median(times))
    floor = solve_floor(solution.iterations, solution.elastic, parts)
    print(f"one cell solve ({solution.iterations} iterations): {1e3 * solve:.2f} ms, floor {1e3 * floor:.2f} ms "
          f"(factorization {1e3 * parts[0]:.2f} ms, solves {1e3 * parts[1]:.3f} / {1e3 * parts[2]:.3f} ms), "
          f"ratio {solve / floor:.2f}", flush=True)

    specs = [s.strip() for s in args.executors.split(",") if s.strip()]
    executors, runs = {}, {}
    try:
        for spec in specs:   # all up together; each cold once
            executors[spec] = ex = fe2.parallel.executor(spec, workers=args.workers)
            law = fe2.RVELaw(cell, "periodic", executor=None if spec == "serial" else ex)
            problem = plate(law, mesh)
            states = problem.initial_states()
            start = time.perf_counter()
            problem.residual(u, states, 1.0)
            runs[spec] = {"law": law, "problem": problem, "states": states, "cold": time.perf_counter() - start,
                          "times": []}
            print(f"{spec:9s}: cold {runs[spec]['cold']:6.2f} s", flush=True)
        sampler = Floor(cell)
        for repeat in range(args.repeats):   # the executors take turns
            for spec in specs:
                run = runs[spec]
                sample(sampler, solution, seconds=0.3)
                start = time.perf_counter()
                run["new"] = run["problem"].residual(u, run["states"], 1.0)[-1]
                run["times"].append(time.perf_counter() - start)
                print(f"{spec:9s}: repeat {repeat + 1}: {run['times'][-1]:6.2f} s", flush=True)
        sample(sampler, solution, seconds=0.3)
        for run in runs.values():
            histories = np.asarray(run["law"].histories(run["new"]["plate"]), dtype=object).ravel()
            run["solves"] = [(int(h["iterations"]), bool(h["elastic"])) for h in histories]
    finally:
        for ex in executors.values():
            ex.close()
    macro_parts = sampler.parts()

    rows = {}
    for spec, run in runs.items():
        solves = run["solves"]
        newton = [k for k, e in solves if not e]
        macro_floor = sum(solve_floor(k, e, macro_parts) for k, e in solves) / (1 if spec == "serial" else args.workers)
        seconds = float(np.median(run["times"]))
        rows[spec] = {"seconds": seconds, "all seconds": run["times"], "cold seconds": run["cold"],
                      "cell solves": len(solves), "elastic cell solves": len(solves) - len(newton),
                      "mean Newton iterations": float(np.mean(newton)) if newton else 0.0,
                      "micro iterations": int(sum(newton)), "floor [s]": macro_floor, "ratio": seconds / macro_floor}
        print(f"{spec:9s}: one macro Newton iteration {seconds:6.2f} s (median of {', '.join(f'{t:.2f}' for t in run['times'])}; "
              f"cold {run['cold']:.2f} s), floor {macro_floor:5.2f} s, ratio {seconds / macro_floor:.2f}; "
              f"{len(solves) - len(newton)} of {len(solves)} cell solves elastic, "
              f"{rows[spec]['mean Newton iterations']:.2f} iterations per Newton solve", flush=True)

    history = {"micro": solution.state, "field": solution.field, "strain": E, "hill_mandel": solution.hill_mandel,
               "iterations": solution.iterations, "residuals": list(solution.residuals), "elastic": solution.elastic}
    result = {
        "cell dofs": cell.ndofs, "macro points": int(mesh.t.shape[1]),
        "macro iteration": rows, "macro floor parts [s]": {"factorization": macro_parts[0], "solve 1 rhs": macro_parts[1],
                                                           "solve 3 rhs": macro_parts[2]},
        "cell solve": {"seconds": solve, "micro iterations": solution.iterations, "factorization [s]": parts[0],
                       "solve 1 rhs [s]": parts[1], "solve 3 rhs [s]": parts[2], "floor [s]": floor,
                       "ratio": solve / floor},
        "micro history [bytes]": len(pickle.dumps(history)),
        "machine": machine(), "load average at start": load_start, "load average at end": os.getloadavg(),
    }
    if "serial" in rows:
        for spec in rows:
            if spec != "serial":
                result[f"speed-up {spec} ({args.workers})"] = rows["serial"]["seconds"] / rows[spec]["seconds"]
    if "processes" in rows and "dask" in rows:
        result["dask / processes"] = rows["dask"]["seconds"] / rows["processes"]["seconds"]
        result["dask / processes, each repeat"] = [d / p for d, p in zip(rows["dask"]["all seconds"],
                                                                        rows["processes"]["all seconds"])]
        print(f"dask / processes: {result['dask / processes']:.2f} (medians; each repeat: "
              f"{', '.join(f'{r:.2f}' for r in result['dask / processes, each repeat'])})")
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
