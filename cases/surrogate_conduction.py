"""Hierarchical FE² with error control: the nonlinear-conduction plate of cases/thermal.py solved with
full FE² (a cell at every point and iteration) and with a surrogate law trained offline on cell solves.

1. Offline: the cell (a stiffening matrix, m = 3, around a ten times better conducting inclusion) is
   solved at a scrambled Sobol design over the gradient box [-G, G]^2, spread over the worker
   processes (fe2.parallel), and the samples (flux, tangent, Hill-Mandel residual) are written to
   out/samples.npz, reusable by any later run.
2. A potential surrogate is fitted (flux = dW/dg: a symmetric, exact tangent) and its indicator is
   checked at held-out cell solves: the share of them whose error is below 3 indicators.
3. Online: the plate is solved with fe2.RVELaw (full FE²) and with fe2.surrogate.SurrogateLaw at the
   tolerance --tol (points whose indicator exceeds it are routed to the full cell, and their solves
   enrich the training set carried in the committed state).

The table compares cell solves, wall time, the temperature field and the heat flow through the right
edge; out/surrogate_conduction.png shows the held-out errors against the indicator and the cost of each
run; out/summary.json holds the numbers.

    python cases/surrogate_conduction.py [--out DIR] [--samples 64] [--tol 1e-2] [--h 0.2] [--cell-h 0.1]
                                         [--executor processes] [--workers N]
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np

import fe2
from fe2.cli import number
from fe2.macro import Dirichlet, Problem
from fe2.surrogate import PotentialSurrogate, SurrogateLaw, design, sample


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("output/surrogate_conduction"))
    parser.add_argument("--samples", type=number(int, least=8), default=64, help="offline cell solves")
    parser.add_argument("--held-out", type=number(int, least=8), default=100, help="cell solves that check the indicator")
    parser.add_argument("--gradient", type=number(above=0), default=3.0, help="the sampled box is [-G, G]^2")
    parser.add_argument("--tol", type=number(above=0), default=1e-2, help="surrogate tolerance, relative to the largest flux")
    parser.add_argument("--steps", type=number(int, least=1), default=4)
    parser.add_argument("--h", type=number(above=0), default=0.2, help="macro mesh size (plate width 1)")
    parser.add_argument("--cell-h", type=number(above=0), default=0.1, help="micro mesh size (cell side 1)")
    parser.add_argument("--executor", default="processes", help="serial, processes, dask, or a Dask scheduler address")
    parser.add_argument("--workers", type=number(int, least=1), default=None)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    cell = fe2.Cell(fe2.geometry.inclusion(0.3, h=args.cell_h),
                    {"matrix": fe2.NonlinearConductor(k0=1.0, g0=0.5, m=3.0), "inclusion": fe2.Conductor(10.0)})
    box = [(-args.gradient, args.gradient)] * 2

    # 1. offline: the training set and a held-out set, solved on the workers
    clock = time.perf_counter()
    with fe2.parallel.executor(args.executor, args.workers) as executor:
        samples = sample(cell, "periodic", design(box, args.samples), executor=executor)
        held = sample(cell, "periodic", design(box, args.held_out, kind="halton", seed=3), executor=executor)
    offline = time.perf_counter() - clock
    samples.save(args.out / "samples.npz")
    print(f"{cell!r}\noffline: {len(samples)} + {len(held)} held-out cell solves in {offline:.1f} s "
          f"(worst Hill-Mandel residual {max(samples.hill_mandel.max(), held.hill_mandel.max()):.1e})")

    # 2. the surrogate and its indicator at the held-out points
    stress, _, indicator = PotentialSurrogate(samples.strain, samples.stress).response(held.strain)
    error = np.linalg.norm(stress - held.stress, axis=1)
    covered = float(np.mean(error <= 3 * indicator))
    print(f"held out: largest flux error {error.max():.2e} (largest flux {np.linalg.norm(held.stress, axis=1).max():.1f}); "
          f"{100 * covered:.0f} % of the errors below 3 indicators")

    # 3. online: the plate, full FE² and surrogate-backed
    mesh = fe2.geometry.plate_with_hole(width=1.0, radius=0.3, h=args.h)
    runs = {}
    for name, law in [("full FE²", fe2.RVELaw(cell, "periodic")),
                      (f"surrogate (tol {args.tol:g})", SurrogateLaw(cell, "periodic", samples, tol=args.tol))]:
        problem = Problem(mesh, {"plate": law}, dirichlet=[Dirichlet("left", 0.0), Dirichlet("right", 2.0)])
        clock = time.perf_counter()
        steps = problem.solve(args.steps, tol=1e-10)
        right = problem.body.basis.get_dofs("right").flatten()
        runs[name] = {"seconds": time.perf_counter() - clock, "field": steps[-1].field,
                      "solves": sum(sum(step.cell_solves.values()) for step in steps),
                      "heat_flow": float(problem.residual(steps[-1].field, problem.states, 1.0)[0][right].sum()),
                      "iterations": [len(step.residuals) - 1 for step in steps]}
    full, surrogate = runs.values()
    surrogate["solves"] += len(samples)     # the offline solves count
    surrogate["seconds_offline"] = offline * len(samples) / (len(samples) + len(held))
    field_error = float(np.abs(surrogate["field"] - full["field"]).max() / np.abs(full["field"]).max())
    flow_error = abs(surrogate["heat_flow"] - full["heat_flow"]) / abs(full["heat_flow"])

    print(f"\n| run | cell solves | wall time (s) | heat flow | Newton iterations per step |\n|---|---|---|---|---|")
    for name, run in runs.items():
        print(f"| {name} | {run['solves']} | {run['seconds']:.2f} | {run['heat_flow']:.5f} | {run['iterations']} |")
    print(f"\nsurrogate against full FE²: temperature {field_error:.1e}, heat flow {flow_error:.1e} (tolerance {args.tol:g}); "
          f"{full['solves'] / surrogate['solves']:.0f}x fewer cell solves, "
          f"{full['seconds'] / (surrogate['seconds'] + surrogate['seconds_offline']):.1f}x faster (offline included)")
    summary = {"samples": len(samples), "held_out_covered": covered, "held_out_error": float(error.max()),
               "field_error": field_error, "heat_flow_error": flow_error, "tol": args.tol,
               "runs": {name: {k: v for k, v in run.items() if k != "field"} for name, run in runs.items()}}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    figure(held, error, indicator, runs, args.out / "surrogate_conduction.png")
    return summary


def figure(held, error, indicator, runs, path):
    """Held-out errors against 3 indicators (left) and cell solves and seconds per run (right)."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(10, 4.2))
    left, right = fig.subplots(1, 2)
    left.loglog(3 * indicator, error, "o", ms=4)
    bounds = np.array([min(error.min(), 3 * indicator.min()), max(error.max(), 3 * indicator.max())])
    left.loglog(bounds, bounds, "k--", label="error = 3 indicators")
    left.set(xlabel="3 x indicator", ylabel="flux error at held-out cell solves", title="the indicator bounds the error")
    left.legend()
    names = list(runs)
    right.bar(np.arange(len(names)) - 0.2, [runs[n]["solves"] for n in names], 0.4, label="cell solves")
    right.set_yscale("log")
    right.set_xticks(range(len(names)), names)
    right.set_ylabel("cell solves")
    seconds = right.twinx()
    seconds.bar(np.arange(len(names)) + 0.2, [runs[n]["seconds"] + runs[n].get("seconds_offline", 0) for n in names],
                0.4, color="tab:orange", label="wall time (s)")
    seconds.set_ylabel("wall time (s), offline included")
    right.set_title("cost")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


if __name__ == "__main__":
    main()
