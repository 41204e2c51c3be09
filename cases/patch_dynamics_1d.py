"""Patch dynamics in 1D: periodic heterogeneous diffusion computed in small patches with short bursts,
against the homogenized exact solution and the full fine simulation.

The fine model is u_t = (a(x/eps) u_x)_x on the periodic unit interval, with

    a(y) = 1 / (2 + sin 2πy + cos(4πy)/2),   harmonic mean a* = 1/2 (arithmetic mean 0.58),

and u(x, 0) = sin 2πx. Homogenization gives u_t = a* u_xx, so the core averages decay as
exp(-a* 4π² t). The fine model is P1 with dx = eps/16, whose own harmonic mean a*_h (of the element
means of a) is 0.5% above 1/2: that is the limit the patch scheme converges to, and the full fine
simulation too.

1. Convergence: N = 4 .. 32 patches (core 2 eps, buffer 14 eps), coupling of order 2 and 4,
   projective RK4 with ΔT = 1e-3: the error against the homogenized solution falls at the
   coupling's order in H = 1/N, to the floor set by the fine model (|a*_h - a*|) when compared
   with a* itself.
2. The full fine simulation: its core averages, its time, and the speed-up of the patch scheme as
   the projective step grows.
3. A deliberately unhealed run: the same bursts with a buffer of 2 eps. The healing condition
   sqrt(D dt) < L_b fails (HealingWarning, printed), and so does the result.
4. VTU/PVD of the patches and of the coarse field (ParaView), and the figure.

    python cases/patch_dynamics_1d.py [--eps 1/2048] [--counts 4 8 16 32] [--quick] [--out DIR]
"""

import argparse
import functools
import time
import warnings
from pathlib import Path

import numpy as np

from fe2.equation_free import Diffusion, FineSimulation, HealingWarning, PatchDynamics, Patches, ScaleWarning, output
from postprocess import patch_dynamics, plots

A_STAR = 0.5
K = 2 * np.pi


def conductivity(x, eps):
    y = x[0] / eps
    return 1 / (2 + np.sin(2 * np.pi * y) + 0.5 * np.cos(4 * np.pi * y))


def initial(x):
    return np.sin(K * x[0])


def fine_harmonic_mean(a, eps, dx):
    """a*_h of the P1 model: the harmonic mean over a period of the element means of a (5-point Gauss)."""
    points, weights = np.polynomial.legendre.leggauss(5)
    centres = (np.arange(int(round(eps / dx))) + 0.5) * dx
    means = (a(np.array([centres[:, None] + dx / 2 * points])) * weights).sum(axis=1) / 2
    return 1 / np.mean(1 / means)


def scheme(problem, eps, N, buffer=14, order=2, record=None):
    """Patch dynamics on N patches: core 2 eps, buffer ``buffer`` eps, dx = eps/16, bursts of 12
    implicit-Euler steps of eps²/2 (the first 2 heal, the last 10 estimate the derivative)."""
    patches = Patches(1.0, N, core=2 * eps, buffer=buffer * eps, dx=eps / 16)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", HealingWarning)
        warnings.simplefilter("always", ScaleWarning)
        result = PatchDynamics(problem, patches, order=order, dt=eps**2 / 2, steps=12, window=10, theta=1.0)
    if record is not None:
        record.extend(str(w.message) for w in caught)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eps", type=float, default=1 / 2048, help="period of the coefficient")
    parser.add_argument("--counts", type=int, nargs="+", default=[4, 8, 16, 32], help="numbers of patches")
    parser.add_argument("--time", type=float, default=0.01, help="final time")
    parser.add_argument("--quick", action="store_true", help="a reduced run (eps 1/512, 4 8 16 patches)")
    parser.add_argument("--out", type=Path, default=Path("output/patch_dynamics_1d"))
    args = parser.parse_args(argv)
    if args.quick:
        args.eps, args.counts = 1 / 512, [4, 8, 16]
    eps, T, counts = args.eps, args.time, args.counts
    a = functools.partial(conductivity, eps=eps)
    problem = Diffusion(a, period=eps)
    a_h = fine_harmonic_mean(a, eps, eps / 16)
    print(f"a(x/eps), eps = {eps:.4g}: harmonic mean a* = {A_STAR}, of the P1 fine model a*_h = {a_h:.5f}")

    # 1. convergence against the homogenized solution
    errors = {2: [], 4: []}
    exact_errors = []
    print(f"\n{'N':>4} {'H':>8} {'w/H':>6} | {'order 2':>9} {'order 4':>9} | {'vs a* = 1/2':>11} | bursts  seconds")
    for N in counts:
        row = []
        for order in (2, 4):
            if N < order + 1:
                errors[order].append(np.nan)
                row.append(np.nan)
                continue
            s = scheme(problem, eps, N, order=order)
            U0 = s.initial(initial)
            run = s.run(U0, T, 1e-3, method="rk4")
            homogenized = U0 * np.exp(-a_h * K**2 * T)
            errors[order].append(np.abs(run.final - homogenized).max() / np.abs(homogenized).max())
            row.append(run)
            if order == 2:
                exact = U0 * np.exp(-A_STAR * K**2 * T)
                exact_errors.append(np.abs(run.final - exact).max() / np.abs(exact).max())
                last, last_U0 = run, U0
        print(f"{N:4d} {1 / N:8.4f} {s.patches.width * N:6.3f} | {errors[2][-1]:9.2e} {errors[4][-1]:9.2e} | "
              f"{exact_errors[-1]:11.2e} | {row[0].bursts:6d} {row[0].seconds:8.2f}")
    H = 1 / np.array(counts, dtype=float)
    rates = {order: plots.rate(H, np.array(e)) for order, e in errors.items()}
    floor = abs(np.exp(-A_STAR * K**2 * T) / np.exp(-a_h * K**2 * T) - 1)
    print(f"fitted order in H: {rates[2]:.2f} (coupling of order 2), {rates[4]:.2f} (order 4)")
    print(f"against a* = 1/2 itself the error levels off at the fine model's own homogenization error, "
          f"|exp(-(a* - a*_h) k² T) - 1| = {floor:.2e}")

    # 2. the full fine simulation, and the speed-up
    N = counts[-1]
    fine = FineSimulation(problem, scheme(problem, eps, N).patches, dt=2.5e-5, theta=0.5)
    start = time.perf_counter()
    u = fine.run(fine.interpolate(initial), T)
    fine_seconds = time.perf_counter() - start
    reference = fine.core_averages(u)
    gap = np.abs(last.final - reference).max() / np.abs(reference).max()
    print(f"\nfull fine simulation: {fine.n} nodes, {int(round(T / 2.5e-5))} Crank-Nicolson steps of 2.5e-5, "
          f"{fine_seconds:.2f} s; patch scheme ({N} patches, order 2) against it: {gap:.2e}")
    s = scheme(problem, eps, N)
    U0 = s.initial(initial)
    print(f"{'method':>6} {'dT':>8} | {'bursts':>6} {'seconds':>8} {'speed-up':>8} | error vs fine")
    speedups = []
    for method, step in (("euler", s.burst_time), ("euler", 2.5e-4), ("rk2", 5e-4), ("rk2", 1e-3), ("rk4", 2e-3)):
        if method == "euler" and step == s.burst_time:   # no projection: a tenth of the time, scaled
            run = s.run(U0, int(T / 10 / step) * step, step, method)
            seconds = run.seconds * T / run.times[-1]
        else:
            run = s.run(U0, T, step, method)
            seconds = run.seconds
        error = (np.abs(run.final - reference).max() / np.abs(reference).max() if run.times[-1] == T else np.nan)
        speedups.append(fine_seconds / seconds)
        print(f"{method:>6} {step:8.2e} | {int(round(run.bursts * T / run.times[-1])):6d} {seconds:8.2f} "
              f"{speedups[-1]:8.1f} | {error:.2e}")

    # 3. the unhealed run
    results = {}
    for label, buffer in (("healed", 14), ("unhealed", 2)):
        caught = []
        s = scheme(problem, eps, 8, buffer=buffer, record=caught)
        U0 = s.initial(initial)
        final = s.run(U0, T, 1e-3, method="rk4").final
        homogenized = U0 * np.exp(-a_h * K**2 * T)
        results[label] = {"error": float(np.abs(final - homogenized).max() / np.abs(homogenized).max()),
                          "warnings": caught, "influence": s.boundary_influence}
        print(f"\n{label} run (buffer {buffer} eps): error {results[label]['error']:.2e}, boundary influence "
              f"erfc(L_b / 2 sqrt(D dt)) = {s.boundary_influence:.2e}")
        for message in caught:
            print(f"  warning: {message}")

    # 4. output: VTU/PVD of an 8-patch run, and the figure
    s = scheme(problem, eps, max(8, counts[0]))
    U0 = s.initial(initial)
    run = s.run(U0, T, 2.5e-3, "rk2", keep=True)
    homogenized = np.array([U0 * np.exp(-a_h * K**2 * t) for t in run.times])
    output.write(args.out / "vtu", s, run, references=homogenized)
    x = last.states.shape[1]
    centres = (np.arange(x) + 0.5) / x
    figure = patch_dynamics.summary(
        centres, {f"patch dynamics, {x} patches": last.final, "homogenized (a*_h)": last_U0 * np.exp(-a_h * K**2 * T)},
        counts, {f"coupling order {order}": e for order, e in errors.items()}, args.out / "patch_dynamics_1d.png",
        fine=(fine.points[0], u), title=f"1D patch dynamics, eps = {eps:.3g}, t = {T:g}", floor=None)
    print(f"\nwrote {figure.name} and vtu/ (coarse.pvd, patches.pvd) to {args.out.resolve()}")
    return {"errors": errors, "rate": rates[2], "rate4": rates[4], "floor": floor, "exact_errors": exact_errors,
            "fine_gap": gap, "speedup": max(speedups), "speedups": speedups, **results}


if __name__ == "__main__":
    main()
