"""Benchmark: surrogate kinds for a nonlinear conducting cell, accuracy and cost, and surrogate-backed
FE² against full FE² (docs/surrogates.md).

The cell of cases/thermal.py (a stiffening matrix, m = 3, around a ten times better conducting
inclusion, periodic), meshed at ``--cell-h``. Training sets: the first N points of a scrambled Sobol
design over the gradient box [-3, 3]^2; held out: 200 Halton points in the same box. Per kind and N:
the largest held-out flux error relative to the largest flux, the share of held-out points whose
error is below 3 indicators, the largest tangent error relative to the largest tangent, the fit time
and the time per query (1000 queries at once); the floor beside them is one cell solve (the mean
over the training set's solves). Then the plate of cases/thermal.py (``--h``, 4 steps): full FE²
against SurrogateLaw at tol 1e-2 and 1e-3 (the potential surrogate, 64 samples): cell solves
(offline ones counted), wall time and the largest error of the temperature field relative to its
largest value. Ratios come from one run. One thread; the machine (2 cores) was shared.

    python bench/surrogates.py [--cell-h 0.1] [--h 0.2] [--json docs/benchmarks/surrogates.json]
"""

import argparse
import json
import platform
import time

import numpy as np

import fe2
from fe2.macro import Dirichlet, Problem
from fe2.surrogate import SurrogateLaw, design, fit, sample

KINDS = {"potential": {}, "cubic": {}, "thin_plate_spline": {}, "gaussian (eps 1)": {"epsilon": 1.0},
         "gaussian (eps 3)": {"epsilon": 3.0}}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cell-h", type=float, default=0.1)
    parser.add_argument("--h", type=float, default=0.2)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    cell = fe2.Cell(fe2.geometry.inclusion(0.3, h=args.cell_h),
                    {"matrix": fe2.NonlinearConductor(k0=1.0, g0=0.5, m=3.0), "inclusion": fe2.Conductor(10.0)})
    box = [(-3, 3), (-3, 3)]
    sample(cell, "periodic", design(box, 4))          # warm-up (compiled kernels)
    train = sample(cell, "periodic", design(box, 128))
    held = sample(cell, "periodic", design(box, 200, kind="halton", seed=3))
    queries = design(box, 1000, kind="halton", seed=11)
    flux, slope = np.linalg.norm(held.stress, axis=1).max(), np.abs(held.tangent).max()
    print(f"cell: {cell.ndofs if hasattr(cell, 'ndofs') else ''} {cell!r}; one cell solve {1e3 * train.seconds.mean():.2f} ms")
    rows = []
    for name, options in KINDS.items():
        kernel = name.split()[0]
        for N in (16, 32, 64, 128):
            clock = time.perf_counter()
            surrogate = fit(train.strain[:N], train.stress[:N], kernel, **options)
            fitting = time.perf_counter() - clock
            clock = time.perf_counter()
            surrogate.response(queries)
            query = (time.perf_counter() - clock) / len(queries)
            stress, tangent, indicator = surrogate.response(held.strain)
            error = np.linalg.norm(stress - held.stress, axis=1)
            rows.append({"kind": name, "samples": N, "flux_error": float(error.max() / flux),
                         "within_3_indicators": float(np.mean(error <= 3 * indicator)),
                         "tangent_error": float(np.abs(tangent - held.tangent).max() / slope),
                         "fit_ms": 1e3 * fitting, "query_us": 1e6 * query})
            r = rows[-1]
            print(f"{name:18s} N={N:4d}  flux error {r['flux_error']:.2e}  within 3 ind {r['within_3_indicators']:.3f}  "
                  f"tangent error {r['tangent_error']:.2e}  fit {r['fit_ms']:.1f} ms  query {r['query_us']:.1f} us")
    mesh = fe2.geometry.plate_with_hole(width=1.0, radius=0.3, h=args.h)
    runs = []
    reference = None
    for label, law, offline in [("full FE²", fe2.RVELaw(cell), 0)] + [
            (f"surrogate, tol {tol:g}", SurrogateLaw(cell, "periodic", sample_subset(train, 64), tol=tol), 64)
            for tol in (1e-2, 1e-3)]:
        problem = Problem(mesh, {"plate": law}, dirichlet=[Dirichlet("left", 0.0), Dirichlet("right", 2.0)])
        clock = time.perf_counter()
        steps = problem.solve(4, tol=1e-10)
        seconds = time.perf_counter() - clock
        u = steps[-1].field
        reference = u if reference is None else reference
        solves = offline + sum(sum(s.cell_solves.values()) for s in steps)
        runs.append({"run": label, "cell_solves": solves, "seconds": seconds,
                     "offline_seconds": float(train.seconds[:offline].sum()),
                     "field_error": float(np.abs(u - reference).max() / np.abs(reference).max())})
        r = runs[-1]
        print(f"{label:22s} {solves:6d} cell solves  {seconds:6.2f} s (+ {r['offline_seconds']:.2f} s offline)  "
              f"field error {r['field_error']:.1e}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": f"{platform.processor() or platform.machine()}, 2 cores, shared; one thread",
                       "cell": repr(cell), "one_solve_ms": 1e3 * float(train.seconds.mean()), "kinds": rows, "runs": runs},
                      f, indent=1)


def sample_subset(samples, count):
    """The first ``count`` samples."""
    return type(samples)(*(getattr(samples, name)[:count] for name in ("strain", "stress", "tangent", "hill_mandel", "seconds")))


if __name__ == "__main__":
    main()
