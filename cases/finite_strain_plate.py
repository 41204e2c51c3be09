"""FE² at finite strain: an elastomer composite plate with a hole, stretched by 40 %.

Every macro quadrature point is a cell: stiff particles (neo-Hookean, E = 50 MPa, 20 %) in a rubber
matrix (compressible neo-Hookean, E = 1 MPa, nu = 0.45), periodic conditions. The kinematics are
total Lagrangian: the macro displacement gradient H = F - I goes down to each cell, whose micro
Newton finds u = (F - I) X + w with w periodic; the averaged first Piola-Kirchhoff stress <P> and
the condensed tangent A = d<P>/dF come back, and the macro Newton assembles f_int = sum B^T P and
K = sum B^T A B. It converges quadratically: every step prints its ratios r_k / r_(k-1)^2.

The quarter plate (symmetry on the left and bottom edges; the geometry of cases/plate_with_hole.py)
is pulled on its right edge to a stretch of 40 % of its width. The script

1. solves the plate at 1/1000 of the stretch twice, at finite strain and by small-strain FE² with the
   matching linear phases (``law.small_strain()``): the two agree to O(stretch), the limit every
   finite-strain law and cell must reach;
2. stretches the plate in load steps, writing out/macro.pvd (displacement to warp by at scale 1,
   F, J, P, the Cauchy stress, von Mises, the Hill-Mandel residual and the ellipticity of the
   homogenized tangent at every point), out/micro.pvd (the cell of the most strained point), the
   run record out/run.json and the report out/report.md;
3. draws out/finite_strain_plate.png: the reaction against the stretch beside the small-strain line,
   and the least ellipticity of the macro tangent (relative to its value at F = I) against the
   stretch, with the first loss marked if it vanishes (where a band of normal n could form: the
   cells buckle inside, and a finer model than FE² with one cell per point must take over).

    python cases/finite_strain_plate.py [--stretch 0.4] [--steps 8] [--h 0.15] [--cell-h 0.1]
                                        [--quick] [--out DIR] [--executor processes] [--restart | --overwrite]

With the defaults: 162 macro points, cells of 318 DOFs, under two minutes on 2 cores; --quick (coarse
meshes, 2 steps to 30 %, serial) runs in seconds.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import fe2
import fe2.logs
from fe2.cli import number
from fe2.io import MacroWriter, most_strained
from fe2.io.record import load as load_record
from fe2.io.report import write_report
from fe2.macro import Dirichlet, Problem
from postprocess import plots

MATRIX = fe2.NeoHookean(E=1.0, nu=0.45)     # rubber (MPa)
PARTICLE = fe2.NeoHookean(E=50.0, nu=0.3)   # stiff filler


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("output/finite_strain_plate"))
    parser.add_argument("--stretch", type=number(above=0), default=0.4, help="right-edge displacement / width")
    parser.add_argument("--steps", type=number(int, least=1), default=8)
    parser.add_argument("--h", type=number(above=0), default=0.15, help="macro mesh size (plate width 1)")
    parser.add_argument("--cell-h", type=number(above=0), default=0.1, help="micro mesh size (cell side 1)")
    parser.add_argument("--fraction", type=number(above=0), default=0.2, help="particle volume fraction")
    parser.add_argument("--executor", default="processes", help="serial, processes, dask, or a Dask scheduler address")
    parser.add_argument("--workers", type=number(int, least=1), default=None, help="worker processes (default: one per core)")
    parser.add_argument("--quick", action="store_true", help="a reduced run: coarse meshes, 2 steps to 30 %%, serial")
    fe2.io.checkpoint.add_run_options(parser)   # --restart, --overwrite
    args = parser.parse_args(argv)
    if args.quick:
        args.h, args.cell_h, args.steps, args.stretch, args.executor = 0.5, 0.4, 2, 0.3, "serial"
    start = time.perf_counter()
    with fe2.io.checkpoint.run_folder(args.out, args.restart, args.overwrite) as checkpoint:
        return run(args, checkpoint, start)


def plate(law, stretch, h):
    """The quarter plate with a hole (width 1, radius 0.3), every point answering through ``law``,
    pulled by ``stretch`` on the right edge, with symmetry on the left and bottom."""
    mesh = fe2.geometry.plate_with_hole(width=1.0, radius=0.3, h=h)
    return Problem(mesh, {"plate": law}, dirichlet=[
        Dirichlet("left", 0.0, components=(0,)), Dirichlet("bottom", 0.0, components=(1,)),
        Dirichlet("right", stretch, components=(0,))])


def run(args, checkpoint, start):
    """The run of main, in the held output folder."""
    # 1. The cell: stiff particles in rubber, both neo-Hookean: a finite-strain cell.
    phases = ("matrix", "particle")
    cell_mesh = fe2.geometry.inclusion(args.fraction, h=args.cell_h, phases=phases)
    cell = fe2.Cell(cell_mesh, {"matrix": MATRIX, "particle": PARTICLE})
    linear_cell = fe2.Cell(cell_mesh, {name: law.small_strain() for name, law in cell.materials.items()})
    print(f"cell: {cell!r}")

    # 2. The small-strain limit: at 1/1000 of the stretch, finite and small strain agree to O(stretch).
    small = 1e-3 * args.stretch
    finite = plate(fe2.RVELaw(cell), small, args.h)
    linear = plate(fe2.RVELaw(linear_cell), small, args.h)
    (u_finite,), (u_linear,) = ([s.field for s in p.solve(1, tol=1e-10)] for p in (finite, linear))
    difference = np.linalg.norm(u_finite - u_linear) / np.linalg.norm(u_linear)
    slope = linear.reaction(linear.body.respond(linear.body.strain(u_linear))[0], "right") / small
    print(f"small-strain limit at stretch {small:.1e}: |u_finite - u_small| / |u_small| = {difference:.2e} "
          f"(O(stretch)); small-strain FE² reaction per unit stretch {slope:.4g} MPa")

    # 3. The stretch, in load steps, with output, checkpoints and cut-back.
    with fe2.parallel.executor(args.executor, workers=args.workers) as executor:
        law = fe2.RVELaw(cell, "periodic", executor=executor, progress=sys.stderr.isatty())
        problem = plate(law, args.stretch, args.h)
        print(f"macro: {problem.body.mesh.t.shape[1]} elements, {problem.n} free DOFs, one cell per point, {executor}")
        writer = MacroWriter(args.out, micro_points=most_strained, units={"stress": "MPa"})
        steps = problem.solve(args.steps, tol=1e-9, callback=writer, checkpoint=checkpoint, restart=args.restart)

    # 4. The load curve, the residual ratios and the stability, from the run record (all steps, restarts included).
    record = load_record(args.out)
    entries = record["steps"]
    stretch = np.array([s["load"] for s in entries]) * args.stretch
    reaction = np.array([s["reactions"]["right"][0] for s in entries])
    ellipticity = np.array([s["ellipticity"]["relative"] for s in entries])
    loss = record.get("stability")
    print("\nstep  stretch  reaction [MPa]  iterations  r_k / r_(k-1)^2 of the last iterations  least ellipticity (rel.)")
    for s, x, f in zip(entries, stretch, reaction):
        ratios = ", ".join(f"{v:.2g}" for v in s["ratios"][-3:])
        print(f"{s['number']:4d}  {x:7.3f}  {f:14.4g}  {s['iterations']:10d}  {ratios:>38}  "
              f"{s['ellipticity']['relative']:24.3g}")
    if loss:
        at = loss["interpolated load"] if loss["interpolated load"] is not None else loss["load"]
        print(f"ellipticity of the homogenized tangent lost at stretch ~{at * args.stretch:.3g} (step {loss['step']}), "
              f"element {loss['element']}, position ({loss['position'][0]:.3f}, {loss['position'][1]:.3f}), band "
              f"normal ({loss['normal'][0]:.2f}, {loss['normal'][1]:.2f})")
    else:
        print(f"strongly elliptic throughout: least ellipticity {ellipticity.min():.3g} of its value at F = I")
    print(f"the reaction at stretch {stretch[-1]:.2f} is {reaction[-1] / (slope * stretch[-1]):.3f} x that of the "
          "small-strain line")
    figure = plots.reaction_stretch(stretch, reaction, args.out / "finite_strain_plate.png", linear=slope,
                                    ellipticity=ellipticity, units="MPa per unit thickness",
                                    loss=None if not loss else (loss["interpolated load"] or loss["load"]) * args.stretch,
                                    title=f"FE² plate, neo-Hookean composite, stretched {args.stretch:.0%}")
    report = write_report(args.out)
    print(f"\nwrote {len(writer.entries)} steps, {figure.name} and {report.name} to {args.out.resolve()}: open macro.pvd "
          f"in ParaView, warp by displacement at scale 1 (micro fields: micro.pvd) in {time.perf_counter() - start:.1f} s")
    return problem, steps, {"difference": difference, "slope": slope, "stretch": stretch, "reaction": reaction,
                            "record": record}


if __name__ == "__main__":
    fe2.logs.show()  # fe2's log lines (the macro Newton iterations, their ratios, cut-backs) on stdout
    main()
