"""FE² in heat conduction: a plate with a hole of a composite whose matrix conductivity grows with the
temperature gradient.

The matrix follows q = -k(|grad T|) grad T with k(s) = k0 (1 + (s/g0)^2)^((m-1)/2) (m = 3: the
conductivity rises with the gradient); the inclusions (30 %) are a linear, ten times better
conductor. Each macro quadrature point is a cell solved by Newton; the cell returns -<q> and the
consistent conductivity tangent. The plate is held at T = 0 on the left (its symmetry edge) and at
T = dT on the right; heat flows around the hole, and the gradient, and so the conductivity, is
highest beside it. out/thermal.png shows the macro heat flux and the micro flux in the cell beside
the hole, where the gradient is largest. out/checkpoint.npz lets a killed run continue (--restart, with
the same inputs); a folder holding an earlier run is refused unless --overwrite replaces it.

    python cases/thermal.py [--out DIR] [--dT 2.0] [--steps 4] [--h 0.12] [--restart | --overwrite]
"""

import argparse
import time
from pathlib import Path

import numpy as np

import fe2
import fe2.logs
from fe2.macro import Dirichlet, Problem
from fe2.io import MacroWriter, most_strained
from postprocess import render


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("output/thermal"))
    parser.add_argument("--dT", type=float, default=2.0, help="temperature difference across the plate")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--h", type=float, default=0.12, help="macro mesh size (plate width 1)")
    parser.add_argument("--cell-h", type=float, default=0.12, help="micro mesh size (cell side 1)")
    fe2.io.checkpoint.add_run_options(parser)   # --restart, --overwrite
    args = parser.parse_args(argv)
    start = time.perf_counter()
    # one run per folder; an earlier run in it is continued (--restart) or replaced (--overwrite)
    with fe2.io.checkpoint.run_folder(args.out, args.restart, args.overwrite) as checkpoint:
        return run(args, checkpoint, start)


def run(args, checkpoint, start):
    """The run of main, in the held output folder."""

    cell = fe2.Cell(fe2.geometry.inclusion(0.3, h=args.cell_h),
                    {"matrix": fe2.NonlinearConductor(k0=1.0, g0=0.5, m=3.0), "inclusion": fe2.Conductor(10.0)})
    law = fe2.RVELaw(cell, "periodic")
    mesh = fe2.geometry.plate_with_hole(width=1.0, radius=0.3, h=args.h)
    problem = Problem(mesh, {"plate": law}, dirichlet=[Dirichlet("left", 0.0), Dirichlet("right", args.dT)])
    print(law, f"\nmacro: {mesh.t.shape[1]} elements, one cell each")

    writer = MacroWriter(args.out, micro_points=most_strained)  # the point of the largest gradient
    steps = problem.solve(args.steps, tol=1e-9, callback=writer, checkpoint=checkpoint, restart=args.restart)

    # The linear effective conductivity (small gradients) against the one the hottest point sees.
    _, hill_mandel = MacroWriter.point_summaries(problem, problem.states)
    gradient = problem.body.strain(steps[-1].field)[:, 0]
    hottest = int(np.argmax(np.linalg.norm(gradient, axis=-1)))
    _, tangent, _ = law.response(gradient[hottest])
    print(f"\neffective conductivity at small gradients: {np.diag(law.tensor(2)).round(4)}; "
          f"at |grad T| = {np.linalg.norm(gradient[hottest]):.2f} (element {hottest}): {np.linalg.eigvalsh(tangent).round(4)}")
    print(f"Hill-Mandel: worst residual {hill_mandel.max():.1e} over {hill_mandel.size} cells")
    # the last step folder holds one cell: the writer's most strained point (largest gradient)
    png = render.macro_and_micro(args.out / f"step_{steps[-1].number:03d}", args.out / "thermal.png", field="flux",
                                 component="magnitude", micro_field="flux", micro_component="magnitude", warp=0.0)
    print(f"wrote {len(writer.entries)} steps and {png.name} to {args.out.resolve()} (open macro.pvd) "
          f"in {time.perf_counter() - start:.1f} s")
    return problem, steps, hill_mandel


if __name__ == "__main__":
    fe2.logs.show()  # fe2's log lines (e.g. the macro Newton iterations) on stdout
    main()
