"""Creep and relaxation of a particle-reinforced viscoelastic plate: concurrent FE² against the
cell's memory fitted as a macro law (hierarchical parameter passing).

The matrix is a generalized Maxwell solid, a Prony series E(t) = E (1 + 2 exp(-t/0.2) + exp(-t/2))
(nu = 0.3): glassy four times stiffer than relaxed. Elastic particles (30 %, E = 20) reinforce it.

1. The cell's effective relaxation function G(t): the averaged stress under unit step strains held
   from t = 0, the matrix's internal variables integrated exactly over each step.
2. G(t) fitted by a Prony series on chosen time constants (three per decade) with positive
   weights (non-negative least squares on the modes of G): the macro viscoelastic law.
3. A quarter plate with a hole in two load paths, neither the one fitted: creep under a traction
   ramped on the right edge and then held, and relaxation under a displacement ramped and held.
   FE² solves a cell at every macro point and step; the macro law replaces them. The two agree to
   the fit's accuracy; out/viscoelastic_plate.png shows G and its fit, the creep of the loaded edge
   and the relaxing reaction force; out/creep/macro.pvd is the FE² creep series against time.

    python cases/viscoelastic_plate.py [--h 0.3] [--cell-h 0.15] [--quick] [--out DIR]
"""

import argparse
import logging
import time
from pathlib import Path

import numpy as np

import fe2
import fe2.logs
from fe2.io import MacroWriter
from fe2.macro import Dirichlet, Traction, Transient
from fe2.macro.boundary import dirichlet_dofs
from fe2.macro.memory import fit_prony, relaxation
from fe2.materials import Prony
from postprocess import time_plots

MATRIX = Prony.isotropic(E=1.0, nu=0.3, weights=[2.0, 1.0], times=[0.2, 2.0])
PARTICLE = fe2.Isotropic(20.0, 0.2)
RAMP = 0.25            # the loads grow linearly over [0, RAMP], then are held


def ramp(t):
    return min(t / RAMP, 1.0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--h", type=float, default=0.3, help="macro mesh size (plate width 1)")
    parser.add_argument("--cell-h", type=float, default=0.12, help="micro mesh size (cell side 1)")
    parser.add_argument("--t-end", type=float, default=20.0, help="end time")
    parser.add_argument("--steps", type=int, default=24, help="time steps after the ramp (geometric)")
    parser.add_argument("--quick", action="store_true", help="a reduced run (coarse meshes, fewer steps)")
    parser.add_argument("--out", type=Path, default=Path("output/viscoelastic_plate"))
    args = parser.parse_args(argv)
    if args.quick:
        args.h, args.cell_h, args.steps = 0.5, 0.3, 10
    start = time.perf_counter()
    cell = fe2.Cell(fe2.geometry.inclusion(0.3, h=args.cell_h), {"matrix": MATRIX, "inclusion": PARTICLE})

    # 1-2. the cell's relaxation function and its Prony fit
    times = np.concatenate([[0.0], np.geomspace(1e-2, args.t_end, 4 * args.steps // 3)])
    G = relaxation(cell, times, substeps=2)
    decades = np.log10(args.t_end / 0.02)
    fit = fit_prony(times, G, tau=np.geomspace(0.02, args.t_end, int(round(3 * decades)) + 1))   # three per decade
    print(f"cell {cell!r}\nrelaxation: glassy G_xxxx = {G[0, 0, 0]:.4f}, relaxed {G[-1, 0, 0]:.4f} at "
          f"t = {times[-1]:g}; "
          f"Prony fit on tau = {np.round(fit.tau, 3).tolist()}: largest relative misfit {fit.error:.2e}")

    # 3. the plate in two load paths, FE² and the macro law on the same steps
    mesh = fe2.geometry.plate_with_hole(width=1.0, radius=0.3, h=args.h)
    print(f"macro: {mesh.t.shape[1]} elements, one cell each")
    schedule = np.concatenate([np.linspace(RAMP / 4, RAMP, 4), np.geomspace(1.5 * RAMP, args.t_end, args.steps)])
    symmetry = [Dirichlet("left", 0.0, components=(0,)), Dirichlet("bottom", 0.0, components=(1,))]
    paths = {"creep": dict(dirichlet=symmetry, neumann=[Traction("right", [0.01, 0.0])]),
             "relaxation": dict(dirichlet=symmetry + [Dirichlet("right", 0.01, components=(0,))])}
    curves, differences = {}, {}
    for name, conditions in paths.items():
        runs = {}
        for kind, law in (("FE²", fe2.RVELaw(cell)), ("macro law", fit.law)):
            problem = Transient(mesh, {"plate": law}, load=ramp, **conditions)
            writer = MacroWriter(args.out / name) if kind == "FE²" and name == "creep" else None
            with fe2.logs.show(logging.WARNING):
                runs[kind] = (problem, problem.solve(times=schedule, callback=writer))
        curves[name], differences[name] = measure(name, runs)
        print(f"{name}: the fitted macro law against FE², largest relative difference {differences[name]:.2e} "
              f"over {len(schedule)} steps")
    ylabels = {"creep": "displacement u_x of the loaded edge", "relaxation": "reaction force on the right edge"}
    png = time_plots.memory(times, G, fit.law.relaxation(times), {
        name: (t, a, b, ylabels[name]) for name, (t, a, b) in curves.items()}, args.out / "viscoelastic_plate.png")
    print(f"wrote {png} and {args.out / 'creep' / 'macro.pvd'} in {time.perf_counter() - start:.1f} s")
    return fit, differences["creep"], differences["relaxation"]


def measure(name, runs):
    """(times, FE² curve, macro-law curve) of a load path and their largest relative difference: the mean
    u_x of the right edge in creep, the reaction force on it in relaxation."""
    values = {}
    for kind, (problem, run) in runs.items():
        body = problem.body
        right, _ = dirichlet_dofs([Dirichlet("right", 0.0, components=(0,))], body.mesh, 2, physics="elasticity",
                                  basis=body.basis)
        if name == "creep":
            values[kind] = np.array([s.field[right].mean() for s in run.steps])
        else:
            values[kind] = np.array([body.nodal_forces(s.stress)[right].sum() for s in run.steps])
        t = run.times
    a, b = values["FE²"], values["macro law"]
    return (t, a, b), float(np.abs(a - b)[1:].max() / np.abs(a).max())


if __name__ == "__main__":
    fe2.logs.show()
    main()
