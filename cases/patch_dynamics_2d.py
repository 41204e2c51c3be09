"""Patch dynamics in 2D: heterogeneous diffusion on the periodic unit square computed in N x N small
square patches, against the homogenized solution with the cell tensor of fe2.homogenize.

The fine model is u_t = div(a(x/eps) grad u) with the genuinely two-dimensional coefficient

    a(y) = 1 + 0.4 sin(2πy1) sin(2πy2) + 0.2 cos(2πy1),

and u(x, 0) = sin 2πx sin 2πy. Its homogenized equation u_t = div(A* grad u) has the cell tensor A*
computed here by fe2.homogenize on the unit cell, meshed as the patches are (the fine model's own
tensor; A*_xy = 0 by symmetry), so the core averages decay as exp(-4π²(A*_xx + A*_yy) t).

Each patch: a core of one period, a buffer of 2.5 periods, P1 quadrilaterals (``--per-period``
elements per period). Bursts of 12 implicit-Euler steps; projective Heun steps. The error against
the homogenized solution falls at second order in H = 1/N. VTU/PVD of the patches and the coarse
field are written for ParaView.

    python cases/patch_dynamics_2d.py [--eps 1/128] [--counts 4 8] [--per-period 6] [--quick] [--out DIR]
"""

import argparse
import functools
import time
from pathlib import Path

import numpy as np
import skfem

import fe2
from fe2.equation_free import Diffusion, PatchDynamics, Patches, output
from postprocess import patch_dynamics, plots

K = 2 * np.pi


def conductivity(x, eps):
    y1, y2 = x[0] / eps, x[1] / eps
    return 1 + 0.4 * np.sin(2 * np.pi * y1) * np.sin(2 * np.pi * y2) + 0.2 * np.cos(2 * np.pi * y1)


def initial(x):
    return np.sin(K * x[0]) * np.sin(K * x[1])


def cell_tensor(per_period):
    """A* of the unit cell of a, meshed with per_period x per_period quadrilaterals (as the patches)."""
    y = np.linspace(0, 1, per_period + 1)
    cell = fe2.Cell(skfem.MeshQuad.init_tensor(y, y), fe2.Conductor(functools.partial(conductivity, eps=1.0)))
    return fe2.homogenize(cell, "periodic").tensor


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eps", type=float, default=1 / 128, help="period of the coefficient")
    parser.add_argument("--counts", type=int, nargs="+", default=[4, 8], help="patches per direction")
    parser.add_argument("--per-period", type=int, default=6, help="fine elements per period (even)")
    parser.add_argument("--time", type=float, default=0.005)
    parser.add_argument("--quick", action="store_true", help="a reduced run (4 elements per period, 4 and 6 patches)")
    parser.add_argument("--out", type=Path, default=Path("output/patch_dynamics_2d"))
    args = parser.parse_args(argv)
    if args.quick:
        args.per_period, args.counts = 4, [4, 6]
    eps, T, n = args.eps, args.time, args.per_period
    A = cell_tensor(n)
    print(f"cell tensor A* (fe2.homogenize, {n} x {n} quadrilaterals per period):\n{np.array2string(A, precision=5)}")
    decay = np.exp(-K**2 * (A[0, 0] + A[1, 1]) * T)
    problem = Diffusion(functools.partial(conductivity, eps=eps), period=eps)
    errors, runs = [], []
    print(f"\n{'N':>4} {'patches':>7} {'unknowns':>9} {'cover':>6} | {'error':>9} | bursts seconds")
    for N in args.counts:
        patches = Patches(1.0, (N, N), core=eps, buffer=2.5 * eps, dx=eps / n)
        start = time.perf_counter()
        scheme = PatchDynamics(problem, patches, order=2, dt=eps**2 / 80, steps=12, window=10, theta=1.0)
        U0 = scheme.initial(initial)
        run = scheme.run(U0, T, 1e-3, "rk2", keep=N == args.counts[-1])
        seconds = time.perf_counter() - start
        errors.append(np.abs(run.final - U0 * decay).max() / np.abs(U0 * decay).max())
        runs.append((scheme, run, U0))
        print(f"{N:4d} {patches.n_patches:7d} {patches.n_patches * patches.n_nodes:9d} {patches.fraction:6.3f} | "
              f"{errors[-1]:9.2e} | {run.bursts:6d} {seconds:7.2f}")
    observed = plots.rate(1 / np.array(args.counts, dtype=float), errors)
    print(f"fitted order in H: {observed:.2f} (coupling of order 2); boundary influence "
          f"erfc(L_b / 2 sqrt(D dt)) = {runs[-1][0].boundary_influence:.1e}")

    scheme, run, U0 = runs[-1]
    homogenized = np.array([U0 * np.exp(-K**2 * (A[0, 0] + A[1, 1]) * t) for t in run.times])
    output.write(args.out / "vtu", scheme, run, references=homogenized)
    N = args.counts[-1]
    row = (np.arange(N) * N + N // 4)                       # the patches of the row y = (N/4 + 1/2) H
    x = scheme.patches.centres[row, 0]
    figure = patch_dynamics.summary(
        x, {f"patch dynamics, {N} x {N} patches": run.final[row], "homogenized (cell tensor)": (U0 * decay)[row]},
        args.counts, {"coupling order 2": errors}, args.out / "patch_dynamics_2d.png",
        xlabel=f"x (row y = {scheme.patches.centres[row[0], 1]:.3g})", title=f"2D patch dynamics, eps = {eps:.3g}, t = {T:g}")
    print(f"\nwrote {figure.name} and vtu/ (coarse.pvd, patches.pvd) to {args.out.resolve()}")
    return {"tensor": A, "errors": errors, "rate": observed, "error": errors[-1]}


if __name__ == "__main__":
    main()
