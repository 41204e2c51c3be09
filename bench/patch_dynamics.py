"""Benchmark: patch dynamics against the full fine simulation of 1D periodic heterogeneous diffusion,
as the patch ratio w/H and the projective step ΔT grow.

The problem of cases/patch_dynamics_1d.py: u_t = (a(x/eps) u_x)_x on the periodic unit interval,
a(y) = 1/(2 + sin 2πy + cos(4πy)/2), eps = 1/4096, P1 with dx = eps/16 (65,536 fine nodes),
u(x, 0) = sin 2πx, final time T = 0.01.

* full fine simulation: Crank–Nicolson steps of 2.5e-5 (400 steps; its error against the
  homogenized solution is below 1e-3), one factorization, one solve per step;
* patch dynamics: N patches (core 2 eps, buffer 14 eps, w = 30 eps), coupling of order 2, bursts of
  12 implicit-Euler steps of eps²/2; no projection (ΔT = δt: re-lifted after every burst; run for a
  twentieth of T and scaled), projective Euler ΔT = 2.5e-4, projective Heun ΔT = 1e-3 and 2e-3.

Each time has its floor beside it: the number of fine steps it takes times the time of one bare
solve of its factorized matrix (the triangular solves alone, no lifting, residual or Python), timed
in the same process. Speed-up = full fine time / patch time, both from one run. Errors are against
the full fine simulation's core averages.

    python bench/patch_dynamics.py [--json docs/benchmarks/patch_dynamics.json]
"""

import argparse
import functools
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(name, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from fe2.equation_free import Diffusion, FineSimulation, PatchDynamics, Patches, PatchSolver, ScaleWarning  # noqa: E402

EPS, T, K = 1 / 4096, 0.01, 2 * np.pi


def conductivity(x, eps):
    y = x[0] / eps
    return 1 / (2 + np.sin(2 * np.pi * y) + 0.5 * np.cos(4 * np.pi * y))


def initial(x):
    return np.sin(K * x[0])


def bare_solve(factorization, n, repeats=20):
    """The fastest of ``repeats`` solves of the factorized matrix with a random right-hand side."""
    b = np.random.default_rng(0).normal(size=n)
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        factorization.solve(b)
        best = min(best, time.perf_counter() - start)
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    problem = Diffusion(functools.partial(conductivity, eps=EPS), period=EPS)
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared with other work while measured)"
    print(f"machine: {machine}; Python {platform.python_version()}")

    patches = Patches(1.0, args.counts[-1], core=2 * EPS, buffer=14 * EPS, dx=EPS / 16)
    start = time.perf_counter()
    fine = FineSimulation(problem, patches, dt=2.5e-5, theta=0.5)
    setup = time.perf_counter() - start
    start = time.perf_counter()
    field = fine.run(fine.interpolate(initial), T)
    fine_seconds = time.perf_counter() - start
    fine_floor = 400 * bare_solve(fine.fine.factorization, fine.fine.free.size)
    print(f"full fine simulation: {fine.n} nodes, 400 steps: {fine_seconds:.2f} s (set-up {setup:.2f} s), "
          f"floor {fine_floor:.2f} s")
    rows = []
    print(f"{'N':>3} {'w/H':>6} {'method':>7} {'dT':>9} | {'bursts':>6} {'fine steps':>10} | {'seconds':>8} "
          f"{'floor':>7} | {'speed-up':>8} | error vs fine")
    for N in args.counts:
        patches = Patches(1.0, N, core=2 * EPS, buffer=14 * EPS, dx=EPS / 16)
        with warnings.catch_warnings():
            warnings.simplefilter("error", ScaleWarning)
            scheme = PatchDynamics(problem, patches, order=2, dt=EPS**2 / 2, steps=12, window=10, theta=1.0)
        solver = PatchSolver(problem, patches, dt=EPS**2 / 2, theta=1.0)   # the same block-diagonal matrix, for the floor
        solve = bare_solve(solver.fine.factorization, solver.fine.free.size)
        U0 = scheme.initial(initial)
        for method, step in (("none", scheme.burst_time), ("euler", 2.5e-4), ("rk2", 1e-3), ("rk2", 2e-3)):
            if method == "none":
                time_run = int(T / 20 / step) * step
                run = scheme.run(U0, time_run, step, "euler")
                scale = T / time_run
                error = np.nan
            else:
                run = scheme.run(U0, T, step, method)
                scale = 1.0
                exact = fine.core_averages(field, patches)
                error = float(np.abs(run.final - exact).max() / np.abs(exact).max())
            seconds = run.seconds * scale
            steps = run.bursts * scheme.steps * scale
            floor = steps * solve
            rows.append({"N": N, "w/H": patches.width * N, "method": method, "dT": step, "bursts": run.bursts * scale,
                         "fine steps": steps, "seconds": seconds, "floor": floor, "speed-up": fine_seconds / seconds,
                         "error": error})
            print(f"{N:3d} {patches.width * N:6.3f} {method:>7} {step:9.2e} | {run.bursts * scale:6.0f} {steps:10.0f} | "
                  f"{seconds:8.3f} {floor:7.3f} | {fine_seconds / seconds:8.1f} | {error:.2e}", flush=True)
    result = {"machine": machine, "python": platform.python_version(), "eps": EPS, "T": T, "fine nodes": fine.n,
              "fine seconds": fine_seconds, "fine floor": fine_floor, "rows": rows}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
        print(f"wrote {args.json}")
    return result


if __name__ == "__main__":
    main()
