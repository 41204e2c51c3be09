"""Transient heating of a fiber composite plate: FE² (the heterogeneous multiscale method in time)
against the fully resolved DNS for shrinking cells.

The plate [0, 1]^2 is a fiber composite: fibers of 30 % (conductivity 10, capacity rho c = 2) in a
matrix (conductivity 1, rho c = 1). It starts at T = 0; from t = 0 its left edge is held at T = 1 and
its right edge at T = 0, the others insulated, and heat soaks in until the steady linear profile.

With scale separation in time the cell problem stays quasi-static: FE² solves the macro balance
<rho c> dT/dt - div(K* grad T) = 0 with the cell behind every macro point (its averaged flux and
tangent; linear phases: the effective conductivity K*, computed once) and the cell's averaged
capacity <rho c>. The DNS tiles the periodic cell n x n times (eps = 1/n) with every fiber resolved.
Both use the same BDF2 steps, so what is left between them is the error of scale separation,
O(eps) once heat has diffused over a cell (before, sqrt(D t) < eps, there is no separation and the
error is O(1)): out/transient_heating.png shows profiles along y = 1/2 in time and the relative L2
error at t_end against eps;
out/fe2/macro.pvd is the FE² series against the physical time (ParaView).

    python cases/transient_heating.py [--cells 2 4 8 16] [--cell-h 0.1] [--t-end 0.1] [--steps 20] [--quick] [--out DIR]
"""

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import skfem

import fe2
import fe2.logs
from fe2.io import MacroWriter
from fe2.macro import Dirichlet, Transient
from postprocess import time_plots

PHASES = {"matrix": fe2.Conductor(1.0), "inclusion": fe2.Conductor(10.0)}
CAPACITY = {"matrix": 1.0, "inclusion": 2.0}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, nargs="+", default=[2, 4, 8, 16], help="cells per side of the DNS")
    parser.add_argument("--cell-h", type=float, default=0.1, help="micro mesh size (cell side 1)")
    parser.add_argument("--t-end", type=float, default=0.1, help="end time")
    parser.add_argument("--steps", type=int, default=20, help="BDF2 time steps")
    parser.add_argument("--quick", action="store_true", help="a reduced run (2 and 4 cells, coarse meshes, 8 steps)")
    parser.add_argument("--out", type=Path, default=Path("output/transient_heating"))
    args = parser.parse_args(argv)
    if args.quick:
        args.cells, args.cell_h, args.steps = [2, 4], 0.25, 8
    start = time.perf_counter()
    cell_mesh = fe2.geometry.inclusion(0.3, h=args.cell_h)
    boundaries = [Dirichlet("left", 1.0), Dirichlet("right", 0.0)]
    dt = args.t_end / args.steps

    # FE²: every macro point backed by the cell; its capacity is the cell's average of rho c.
    x = np.linspace(0, 1, 17)
    macro = Transient(skfem.MeshTri.init_tensor(x, x).with_defaults(), fe2.RVELaw(fe2.Cell(cell_mesh, PHASES)),
                      capacity={"all": CAPACITY}, dirichlet=boundaries, order=2)
    print(f"effective conductivity {np.diag(macro.body.materials['all'].tensor(2)).round(4)}, "
          f"averaged capacity {macro.capacity['all']:.4f}")
    with fe2.logs.show(logging.WARNING):   # linear steps: their Newton log is left out
        fe2_run = macro.solve(args.t_end, dt, scheme="bdf2", callback=MacroWriter(args.out / "fe2"))

    # DNS for shrinking cells, on the same time steps. Until heat has diffused over a cell
    # (sqrt(D t) < eps) there is no scale separation and the error is O(1); the rate is measured at t_end.
    errors, line = [], np.vstack([np.linspace(0, 1, 201), np.full(201, 0.5)])
    early = len(fe2_run.steps) // 5
    print(f"{'cells':>6} {'eps':>8} {'DNS dofs':>9} {f'error at t = {fe2_run.steps[early].time:.3g}':>18} "
          f"{'error at t_end':>15} {'ratio':>6}")
    for n in args.cells:
        reference = Transient(fe2.dns.tile(cell_mesh, (n, n), size=1.0 / n), PHASES, capacity=CAPACITY,
                              dirichlet=boundaries)
        with fe2.logs.show(logging.WARNING):
            dns_run = reference.solve(args.t_end, dt, scheme="bdf2")
        at = [fe2.dns.error(reference, macro, fe2_run.steps[k].field, dns_run.steps[k].field) for k in (early, -1)]
        errors.append(at[-1])
        ratio = f"{errors[-2] / errors[-1]:6.2f}" if len(errors) > 1 else ""
        print(f"{n:6d} {1 / n:8.4f} {reference.body.ndofs:9d} {at[0]:18.5f} {at[1]:15.5f} {ratio}")
    eps = 1.0 / np.array(args.cells)
    rate = np.polyfit(np.log(eps), np.log(errors), 1)[0]

    # profiles along y = 1/2 at a few times: FE² against the finest DNS
    probe_macro, probe_dns = macro.body.basis.probes(line), reference.body.basis.probes(line)
    shown = sorted({len(fe2_run.steps) // 8, len(fe2_run.steps) // 3, len(fe2_run.steps) - 1})
    profiles = {fe2_run.steps[k].time: (probe_macro @ fe2_run.steps[k].field, probe_dns @ dns_run.steps[k].field)
                for k in shown}
    png = time_plots.heating(line[0], profiles, eps, errors, args.out / "transient_heating.png")
    print(f"\nobserved rate: error ~ eps^{rate:.2f} (theory: 1) in {time.perf_counter() - start:.1f} s; wrote {png} "
          f"and {args.out / 'fe2' / 'macro.pvd'}")
    return np.array(errors), rate


if __name__ == "__main__":
    fe2.logs.show()
    main()
