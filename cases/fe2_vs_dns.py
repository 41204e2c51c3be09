"""FE² against a fully resolved (DNS) solution for shrinking cells: the error falls like the cell size.

A unit square of a disc composite (conductivity 1 and 10, or elastic phases) with a uniform source
(heat, or a body force along x) and u = 0 on its boundary. The DNS tiles the periodic cell n x n
times (cell size eps = 1/n) and resolves every inclusion. FE² solves the same macro problem with the
cell at every macro point, on a fine P2 macro mesh so that only the scale-separation error is left.
Homogenization theory: ||u_DNS - u_FE2|| = O(eps), so the error halves with the cell size. The
plot out/fe2_vs_dns.png shows the error against eps with its fitted rate beside O(eps).

    python cases/fe2_vs_dns.py [--physics conduction|elasticity] [--cells 2 4 8 16] [--out DIR]
"""

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import skfem

import fe2
import fe2.logs
from fe2.macro import Dirichlet, Problem
from postprocess import plots

PHASES = {"conduction": {"matrix": fe2.Conductor(1.0), "inclusion": fe2.Conductor(10.0)},
          "elasticity": {"matrix": fe2.Isotropic(1.0, 0.3), "inclusion": fe2.Isotropic(10.0, 0.2)}}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--physics", choices=sorted(PHASES), default="conduction")
    parser.add_argument("--cells", type=int, nargs="+", default=[2, 4, 8, 16], help="cells per side of the DNS")
    parser.add_argument("--cell-h", type=float, default=0.1, help="micro mesh size (cell side 1)")
    parser.add_argument("--out", type=Path, default=Path("output/fe2_vs_dns"), help="output folder (the plot)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    materials = PHASES[args.physics]
    cell_mesh = fe2.geometry.inclusion(0.3, h=args.cell_h)
    boundaries = [Dirichlet(name, 0.0) for name in ("left", "right", "bottom", "top")]
    source = 1.0 if args.physics == "conduction" else [0.01, 0.0]   # elasticity: strains below 0.5 %

    # FE²: the cell behind every macro point (linear phases: its effective tensor, computed once).
    x = np.linspace(0, 1, 33)
    macro = Problem(skfem.MeshTri.init_tensor(x, x).with_defaults(), fe2.RVELaw(fe2.Cell(cell_mesh, materials)),
                    dirichlet=boundaries, body_force=source, order=2)
    with fe2.logs.show(logging.WARNING):  # a linear solve: its Newton log is left out
        u0 = macro.solve(1)[-1].field

    # DNS for shrinking cells, and the error of FE² against each.
    errors = []
    print(f"{'cells':>6} {'eps':>8} {'DNS dofs':>9} {'rel. L2 error':>14} {'ratio':>6}")
    for n in args.cells:
        reference = Problem(fe2.dns.tile(cell_mesh, (n, n), size=1.0 / n), materials, dirichlet=boundaries, body_force=source)
        with fe2.logs.show(logging.WARNING):  # a linear solve: its Newton log is left out
            u = reference.solve(1)[-1].field
        errors.append(fe2.dns.error(reference, macro, u0, u))
        ratio = f"{errors[-2] / errors[-1]:6.2f}" if len(errors) > 1 else ""
        print(f"{n:6d} {1 / n:8.4f} {reference.body.ndofs:9d} {errors[-1]:14.5f} {ratio}")
    rate = np.polyfit(np.log(1.0 / np.array(args.cells)), np.log(errors), 1)[0]
    eps = 1.0 / np.array(args.cells)
    png = plots.convergence(eps, {f"FE² vs DNS, {args.physics}": errors}, args.out / "fe2_vs_dns.png", rates=(1,),
                            xlabel="cell size eps (macro domain 1)", ylabel="relative L2 error ||u_DNS - u_FE2|| / ||u_DNS||",
                            title="FE² converges to the resolved solution like eps")
    print(f"\nobserved rate: error ~ eps^{rate:.2f} (theory: 1) in {time.perf_counter() - start:.1f} s; wrote {png}")
    return np.array(errors), rate


if __name__ == "__main__":
    fe2.logs.show()  # fe2's log lines (e.g. the macro Newton iterations) on stdout
    main()
