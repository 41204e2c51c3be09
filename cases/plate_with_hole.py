"""FE²: a metal-matrix composite plate with a hole, pulled until the matrix yields around the hole.

Every macro quadrature point is a cell: an aluminium matrix (J2 plasticity, linear hardening) around
a stiff ceramic fiber (40 %, square array, periodic conditions). At each macro Newton iteration the
macro strain goes down to each cell, the cell's micro Newton finds its plastic field, and the
averaged stress and the consistent tangent (the Schur complement of the cell's tangent stiffness)
come back. The macro Newton converges quadratically; the log shows r / r_prev^2.

The quarter plate (symmetry on the left and bottom edges) is pulled on its right edge. Each step
writes out/step_k/macro.vtu (displacement, stress, strain, plastic strain, Hill-Mandel residual per
point) and the micro fields of the most strained point; out/macro.pvd is the series for ParaView,
and out/checkpoint.npz lets a killed run continue (--restart, with the same inputs). out/run.json records
the run, and out/report.md (fe2.io.report) gathers its inputs, Newton and Hill-Mandel figures, convergence
table and wall-time split. The output folder is the run's while it runs (a second run into it is
refused); a folder holding an earlier run is refused too, unless --overwrite replaces it or --restart
continues it.

    python cases/plate_with_hole.py [--out DIR] [--steps 5] [--strain 0.004] [--h 0.12] [--cell-h 0.035]
                                    [--restart | --overwrite]

With the defaults every macro point is a cell of 2096 DOFs (1978 triangles): about a minute on 2 cores,
about 40 % of the cell solves being elastic increments that need no Newton iteration.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import fe2
import fe2.logs
from fe2.macro import Dirichlet, Problem
from fe2.io import MacroWriter, most_strained
from fe2.io.report import write_report
from fe2.cli import number
from postprocess.fe2_figure import render


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("output/plate_with_hole"))
    parser.add_argument("--steps", type=number(int, least=1), default=5)
    parser.add_argument("--strain", type=number(), default=0.004, help="nominal strain: right-edge displacement / width")
    parser.add_argument("--h", type=number(above=0), default=0.12, help="macro mesh size (plate width 1)")
    parser.add_argument("--cell-h", type=number(above=0), default=0.035, help="micro mesh size (cell side 1; 0.035: 2096 DOFs)")
    fe2.io.checkpoint.add_run_options(parser)   # --restart, --overwrite
    parser.add_argument("--executor", default="processes", help="serial, processes, dask, or a Dask scheduler address")
    parser.add_argument("--workers", type=number(int, least=1), default=None, help="worker processes (default: one per core)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    # one run per folder; an earlier run in it is continued (--restart) or replaced (--overwrite)
    with fe2.io.checkpoint.run_folder(args.out, args.restart, args.overwrite) as checkpoint:
        return run(args, checkpoint, start)


def run(args, checkpoint, start):
    """The run of main, in the held output folder."""
    # 1. The micro cell: aluminium (J2, GPa) around a ceramic fiber.
    matrix = fe2.J2Plasticity(E=70.0, nu=0.33, yield_stress=0.2, hardening=1.0)
    fiber = fe2.Isotropic(E=400.0, nu=0.2)
    cell = fe2.Cell(fe2.geometry.inclusion(0.4, h=args.cell_h, phases=("matrix", "fiber")), {"matrix": matrix, "fiber": fiber})
    with fe2.parallel.executor(args.executor, workers=args.workers) as executor:
        # The cells' histories live on the executor's workers; only strains, stresses and tangents travel.
        law = fe2.RVELaw(cell, "periodic", executor=executor, progress=sys.stderr.isatty())
        print(law, f"on {executor}")

        # 2. The macro plate: every quadrature point answers through the cell.
        mesh = fe2.geometry.plate_with_hole(width=1.0, radius=0.3, h=args.h)
        problem = Problem(mesh, {"plate": law}, dirichlet=[
            Dirichlet("left", 0.0, components=(0,)), Dirichlet("bottom", 0.0, components=(1,)),
            Dirichlet("right", args.strain * 1.0, components=(0,))])
        print(f"macro: {mesh.t.shape[1]} elements, {problem.n} free DOFs, {mesh.t.shape[1]} cells")

        # 3. Load steps with output, checkpoints and cut-back.
        writer = MacroWriter(args.out, micro_points=most_strained, units={"stress": "GPa"})  # lengths: plate widths
        steps = problem.solve(args.steps, tol=1e-8, callback=writer, checkpoint=checkpoint,
                              restart=args.restart)

        # 4. Hill-Mandel summary and where the plate yielded.
        p, hill_mandel = MacroWriter.point_summaries(problem, problem.states)
    worst = int(np.argmax(hill_mandel))
    centre = mesh.p[:, mesh.t[:, worst]].mean(axis=1)
    print(f"\nHill-Mandel: worst residual {hill_mandel.max():.1e} at macro element {worst} ({centre[0]:.3f}, {centre[1]:.3f}); "
          f"median {np.median(hill_mandel):.1e}")
    print(f"plastic strain: max {p.max():.2e} (element {int(np.argmax(p))}), {np.mean(p > 0) * 100:.0f} % of the plate yielded")
    figure = render(args.out / f"step_{steps[-1].number:03d}", args.out / "plate_with_hole.png")
    report = write_report(args.out)
    print(f"\nwrote {len(writer.entries)} steps, {figure.name} and {report.name} to {args.out.resolve()}: open macro.pvd "
          f"in ParaView (micro fields: micro.pvd, step_*/micro_*.vtu) in {time.perf_counter() - start:.1f} s")
    return problem, steps, hill_mandel


if __name__ == "__main__":
    fe2.logs.show()  # fe2's log lines (e.g. the macro Newton iterations) on stdout
    main()
