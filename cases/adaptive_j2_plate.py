"""Adaptive concurrent FE² on a J2 plate: full FE² against points that share the cell solves of their
neighbours in strain path (fe2.surrogate.AdaptiveRVELaw).

The plate of cases/plate_with_hole.py at a finer macro mesh: a quarter plate with a hole whose every
point is a periodic J2 cell (an aluminium matrix, yield stress 0.2, linear hardening, around a ceramic
fiber), pulled by --pull on the right edge in --steps load steps. Full FE² solves a cell at every
point and every macro Newton iteration.

1. Why no surrogate here. A J2 cell's averaged stress depends on the whole strain path (its plastic
   strains), not on the current macro strain alone, so no surrogate of the strain can stand for it:
   fe2.surrogate.sample refuses such a cell (printed below). What can be shared is the *path*.
2. Adaptive FE². After each step the points are grouped around leaders by the distance of their
   strain paths, at most a radius apart. A leader is solved in full. Each other point answers from
   its leader's committed cell reduced to the fields it spans: the leader's converged field moved to
   the point's own strain along the unit fields of its factorized tangent, and the return mapping of
   that strain field from the point's *own* plastic strains. That answer is exact at the leader's
   strain, its tangent is its exact derivative (the macro Newton keeps its quadratic rate), and it
   costs one return mapping, no micro Newton. A few shared points ("checks") are solved in full
   every step too, and the difference measured there tunes the radius to the tolerance --tol.
3. The table compares each adaptive run with full FE²: the largest error over the steps of the
   reaction force on the pulled edge (relative) and of the displacement field (relative to the
   largest displacement), the mean active fraction of the steps after the first (the first solves
   every point: no path yet), cell solves and wall time, and the speed-ups. It is printed and
   written to out/table.md and out/table.csv; out/summary.json holds the numbers.

Output: out/adaptive_j2_plate.png (the reaction against the pulled displacement for every run, the
differences from full FE² per step against the tolerance, and the active fraction per step); out/full/macro.pvd and out/adaptive_tol*/macro.pvd for ParaView (the
plastic_strain and hill_mandel cell data; a shared point's Hill-Mandel residual is that of its
reduced field, which is not equilibrated: it shows where sharing approximates), and beside each the
run record run.json, whose steps carry the adaptive law's record (active fraction, measured error).

    python cases/adaptive_j2_plate.py [--h 0.15] [--steps 8] [--tol 2e-2 5e-2] [--quick] [--out DIR]
"""

import argparse
import csv
import json
import logging
from pathlib import Path

import numpy as np

import fe2
import fe2.logs
from fe2.cli import number
from fe2.io import MacroWriter
from fe2.macro import Dirichlet, Problem
from fe2.macro.boundary import dirichlet_dofs
from fe2.surrogate import AdaptiveRVELaw, design, sample


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("output/adaptive_j2_plate"))
    parser.add_argument("--h", type=number(above=0), default=0.15, help="macro mesh size (plate width 1)")
    parser.add_argument("--cell-h", type=number(above=0), default=0.3, help="micro mesh size (cell side 1)")
    parser.add_argument("--pull", type=number(above=0), default=0.008, help="displacement of the right edge")
    parser.add_argument("--steps", type=number(int, least=2), default=8, help="load steps")
    parser.add_argument("--tol", type=number(above=0), nargs="+", default=[2e-2, 5e-2],
                        help="tolerances of the shared answers, relative to the largest stress")
    parser.add_argument("--checks", type=number(int, least=0), default=4, help="shared points solved in full per step")
    parser.add_argument("--quick", action="store_true", help="a reduced run (coarse plate, 4 steps, one tolerance)")
    args = parser.parse_args(argv)
    if args.quick:
        args.h, args.steps, args.tol = 0.3, 4, [5e-2]
    args.out.mkdir(parents=True, exist_ok=True)
    cell = fe2.Cell(fe2.geometry.inclusion(0.4, h=args.cell_h, phases=("matrix", "fiber")),
                    {"matrix": fe2.J2Plasticity(E=70.0, nu=0.33, yield_stress=0.2, hardening=1.0),
                     "fiber": fe2.Isotropic(E=400.0, nu=0.2)})
    mesh = fe2.geometry.plate_with_hole(width=1.0, radius=0.3, h=args.h)
    print(f"cell {cell!r}\nmacro: {mesh.t.shape[1]} elements, one cell each; pulled by {args.pull:g} in {args.steps} steps")

    # 1. a surrogate of the strain alone cannot stand for a cell with history
    try:
        sample(cell, "periodic", design([(-1e-3, 1e-3)] * 3, 8))
    except ValueError as why:
        print(f"surrogate: refused: {why}")
    fe2.nonlinear.solve(cell, [4e-3, 0.0, 0.0], "periodic")   # compiled kernels loaded before any run is timed

    # 2. full FE², then the adaptive runs, each writing its VTU series and run record
    runs = {"full FE²": solve(mesh, fe2.RVELaw(cell, "periodic"), args, args.out / "full")}
    for tol in args.tol:
        law = AdaptiveRVELaw(cell, "periodic", tol=tol, checks=args.checks)
        runs[f"adaptive, tol {tol:g}"] = solve(mesh, law, args, args.out / f"adaptive_tol{tol:g}")

    # 3. the comparison
    full = runs["full FE²"]
    rows = []
    for name, run in runs.items():
        row = {"run": name, "cell_solves": run["solves"], "seconds": run["seconds"],
               "active_fraction": float(np.mean(run["active"][1:])), "newton_iterations": sum(run["iterations"])}
        if run is not full:
            row.update({"tol": float(name.split()[-1]),
                        "reaction_error": float(np.max(np.abs(run["reaction"] - full["reaction"]) / np.abs(full["reaction"]))),
                        "field_error": float(max(np.abs(a - b).max() / np.abs(a).max() for a, b in zip(full["fields"], run["fields"]))),
                        "solves_speedup": full["solves"] / run["solves"], "time_speedup": full["seconds"] / run["seconds"]})
        rows.append(row)
    table = markdown(rows)
    print("\n" + table)
    for row in rows[1:]:
        within = row["reaction_error"] < row["tol"] and row["field_error"] < row["tol"]
        print(f"{row['run']}: reaction and field within the tolerance: {'yes' if within else 'NO'}; "
              f"{row['solves_speedup']:.1f}x fewer cell solves, {row['time_speedup']:.1f}x faster")
    (args.out / "table.md").write_text(table + "\n")
    with open(args.out / "table.csv", "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[-1]))
        writer.writeheader()
        writer.writerows(rows)
    summary = {"rows": rows, "steps": args.steps, "pull": args.pull, "h": args.h, "points": int(mesh.t.shape[1]),
               "curves": {name: {"displacement": (run["loads"] * args.pull).tolist(), "reaction": run["reaction"].tolist(),
                                 "active_fraction": run["active"].tolist()} for name, run in runs.items()}}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    png = figure(runs, args.pull, args.out / "adaptive_j2_plate.png")
    print(f"wrote {png}, {args.out / 'table.md'}, {args.out / 'table.csv'} and the macro.pvd series under {args.out}")
    return summary


def solve(mesh, law, args, folder):
    """The plate of ``law`` pulled in ``args.steps`` steps, written to ``folder``: loads, reactions, fields,
    the active fraction per step, cell solves, Newton iterations and the wall time (output excluded)."""
    problem = Problem(mesh, {"plate": law}, dirichlet=[
        Dirichlet("left", 0.0, components=(0,)), Dirichlet("bottom", 0.0, components=(1,)),
        Dirichlet("right", args.pull, components=(0,))])
    writer = MacroWriter(folder)
    active = []

    def record(step, u, states, problem):
        writer(step, u, states, problem)
        active.append(law.record(states["plate"])["active_fraction"] if hasattr(law, "record") else 1.0)

    with fe2.logs.show(logging.WARNING):
        steps = problem.solve(args.steps, tol=1e-9, callback=record)
    body = problem.body
    right, _ = dirichlet_dofs([Dirichlet("right", 0.0, components=(0,))], body.mesh, 2, physics="elasticity",
                              basis=body.basis)
    return {"loads": np.array([s.load for s in steps]), "fields": [s.field for s in steps],
            "reaction": np.array([body.nodal_forces(s.stress)[right].sum() for s in steps]),
            "active": np.array(active), "iterations": [len(s.residuals) - 1 for s in steps],
            "solves": sum(sum(s.cell_solves.values()) for s in steps), "seconds": sum(s.seconds for s in steps)}


def markdown(rows):
    """The comparison as a markdown table."""
    lines = ["| run | reaction error | field error | active fraction after step 1 | cell solves | wall (s) | fewer solves | faster |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        errors = (f"{row['reaction_error']:.1e} | {row['field_error']:.1e}" if "tol" in row else "— | —")
        gains = (f"{row['solves_speedup']:.2f}x | {row['time_speedup']:.2f}x" if "tol" in row else "1 | 1")
        lines.append(f"| {row['run']} | {errors} | {row['active_fraction']:.2f} | {row['cell_solves']} | "
                     f"{row['seconds']:.2f} | {gains} |")
    return "\n".join(lines)


def figure(runs, pull, path):
    """Left: the reaction force on the pulled edge against its displacement, full FE² as dots and each
    adaptive run as a line; middle: each adaptive run's difference from full FE² per step (reaction,
    and displacement field), with its tolerance; right: the active fraction of each step."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(15, 4.2), layout="constrained")
    left, middle, right = fig.subplots(1, 3)
    full = runs["full FE²"]
    for k, (name, run) in enumerate(runs.items()):
        u = np.concatenate([[0.0], run["loads"] * pull])
        force = np.concatenate([[0.0], run["reaction"]])
        if k == 0:
            left.plot(u, force, "ko", ms=6, label=name)
            continue
        line, = left.plot(u, force, "-", lw=1.5, label=name)
        colour, steps = line.get_color(), np.arange(1, len(run["loads"]) + 1)
        reaction = np.abs(run["reaction"] - full["reaction"]) / np.abs(full["reaction"])
        field = [np.abs(a - b).max() / np.abs(a).max() for a, b in zip(full["fields"], run["fields"])]
        # step 1 solves every point: no difference there
        middle.semilogy(steps[1:], reaction[1:], "o-", color=colour, label=f"{name}: reaction")
        middle.semilogy(steps[1:], field[1:], "s--", color=colour, label=f"{name}: field")
        middle.axhline(float(name.split()[-1]), color=colour, lw=1, ls=":")
        right.plot(steps, run["active"], "o-", color=colour, label=name)
    left.set(xlabel="displacement of the pulled edge", ylabel="reaction force on it", title="the plate yields")
    middle.set(xlabel="load step", ylabel="difference from full FE² (relative)",
               title="within the tolerance (dotted); step 1 exact")
    right.axhline(1.0, color="k", lw=1, ls="--", label="full FE² (every point)")
    right.set(xlabel="load step", ylabel="active fraction (points solved in full)", ylim=(0, 1.05),
              title="cell solves shared")
    for ax in (left, middle, right):
        ax.legend(fontsize=8, loc="lower right" if ax is middle else "best")
        ax.grid(alpha=0.3)
    for ax in (middle, right):
        ax.xaxis.get_major_locator().set_params(integer=True)
    path = Path(path)
    fig.savefig(path, dpi=120)
    return path


if __name__ == "__main__":
    main()
