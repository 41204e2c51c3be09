"""Benchmark: adaptive concurrent FE² (AdaptiveRVELaw) against full FE² on the J2 plate
(docs/surrogates.md).

The plate of tests/conftest.py: a quarter plate with a hole (macro mesh ``--h``) whose points are
periodic J2 cells (aluminium around a ceramic fiber, cell mesh ``--cell-h``), pulled by ``--pull``
on the right in ``--steps`` load steps. Full FE² (RVELaw) against AdaptiveRVELaw at each ``--tol``
and both ``carry`` choices (4 checks per step; a run whose macro Newton fails is recorded as failed): cell solves, wall time, the mean active fraction per step, the largest
measured error of a shared answer, and the differences from full FE² of the right edge's reaction
force (relative to it) and of the displacement field (largest, relative to the largest
displacement). The floor beside the wall times: one cell solve (the full run's material-point time
over its cell solves). Ratios come from one run. One thread; the machine (2 cores) was shared.

    python bench/adaptive.py [--h 0.3] [--cell-h 0.3] [--pull 0.008] [--steps 4] [--json docs/benchmarks/adaptive.json]
"""

import argparse
import json
import platform
import time

import numpy as np

import fe2
from fe2.macro import Dirichlet, Problem
from fe2.macro.boundary import dirichlet_dofs
from fe2.surrogate import AdaptiveRVELaw


def run(mesh, law, pull, steps):
    """(problem, steps, records, seconds) of the plate of ``law`` pulled by ``pull``."""
    problem = Problem(mesh, {"plate": law}, dirichlet=[
        Dirichlet("left", 0.0, components=(0,)), Dirichlet("bottom", 0.0, components=(1,)),
        Dirichlet("right", pull, components=(0,))])
    records = []
    record = getattr(law, "record", None)
    clock = time.perf_counter()
    done = problem.solve(steps, tol=1e-9, callback=None if record is None else
                         lambda step, u, states, p: records.append(record(states["plate"])))
    return problem, done, records, time.perf_counter() - clock


def reaction(problem, step):
    """The x reaction on the pulled right edge."""
    body = problem.body
    right, _ = dirichlet_dofs([Dirichlet("right", 0.0, components=(0,))], body.mesh, 2, physics="elasticity",
                              basis=body.basis)
    return float(body.nodal_forces(step.stress)[right].sum())


def solves(steps):
    return sum(s.cell_solves["newton"] + s.cell_solves["elastic"] for s in steps)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--h", type=float, default=0.3)
    parser.add_argument("--cell-h", type=float, default=0.3)
    parser.add_argument("--pull", type=float, default=0.008)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--tol", type=float, nargs="+", default=[1e-2, 2e-2, 5e-2])
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    cell = fe2.Cell(fe2.geometry.inclusion(0.4, h=args.cell_h, phases=("matrix", "fiber")),
                    {"matrix": fe2.J2Plasticity(E=70.0, nu=0.33, yield_stress=0.2, hardening=1.0),
                     "fiber": fe2.Isotropic(E=400.0, nu=0.2)})
    mesh = fe2.geometry.plate_with_hole(width=1.0, radius=0.3, h=args.h)
    full, steps_full, _, seconds_full = run(mesh, fe2.RVELaw(cell, "periodic"), args.pull, args.steps)
    floor = sum(s.timings["material points"] for s in steps_full) / solves(steps_full)
    force = reaction(full, steps_full[-1])
    rows = [{"run": "full FE²", "cell_solves": solves(steps_full), "seconds": seconds_full, "active_fraction": 1.0}]
    for carry, tol in [(carry, tol) for carry in ("trial", "committed") for tol in args.tol]:
        try:
            problem, done, records, seconds = run(mesh, AdaptiveRVELaw(cell, "periodic", tol=tol, checks=4, carry=carry),
                                                  args.pull, args.steps)
        except fe2.macro.problem.DivergenceError as error:
            rows.append({"run": f"adaptive ({carry}), tol {tol:g}", "failed": str(error)})
            continue
        rows.append({"run": f"adaptive ({carry}), tol {tol:g}", "cell_solves": solves(done), "seconds": seconds,
                     "active_fraction": float(np.mean([r["active_fraction"] for r in records])),
                     "measured_error": float(np.nanmax([r["check_error"] for r in records] + [np.nan, 0.0])),
                     "reaction_error": abs(reaction(problem, done[-1]) - force) / abs(force),
                     "field_error": float(np.abs(done[-1].field - steps_full[-1].field).max()
                                          / np.abs(steps_full[-1].field).max()),
                     "points": records[-1]["points"], "distinct_paths": records[-1]["distinct_paths"],
                     "loads_equal": [s.load for s in done] == [s.load for s in steps_full]})
    print(f"one cell solve (the floor): {1e3 * floor:.2f} ms; machine shared")
    for row in rows:
        print(row)
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"settings": vars(args), "floor_seconds_per_cell_solve": floor, "rows": rows,
                       "machine": f"{platform.processor() or platform.machine()}, 2 cores shared, one thread"},
                      out, indent=1)


if __name__ == "__main__":
    main()
