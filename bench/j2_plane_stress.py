"""Benchmark: the J2 return mapping in plane stress, per material point, against its floor.

Points at plastic states (a random strain path from the virgin state, then one more increment that
yields most of them), linear and Voce hardening. Timed in one run, on one thread, each the median of
``--repeats`` calls on the same ``--points`` points:

  * ``plane stress``: :meth:`fe2.J2Plasticity.response` with ``plane="stress"`` (the compiled
    plane-stress-projected return, a bracketed Newton iteration on the plastic multiplier);
  * ``plane strain``: the same points through the compiled 3D radial return (plane strain, closed form
    for linear hardening): what the extra iteration of plane stress costs;
  * ``reference``: :meth:`fe2.J2Plasticity.reference_response` (numpy: the 3D radial return with a
    Newton iteration on eps_zz), the path without numba;
  * the floor: reading the inputs and writing the outputs once (``np.copyto`` of arrays of the sizes
    of strain, history, stress, tangent and new history), which any implementation pays.

    python bench/j2_plane_stress.py [--points 100000] [--repeats 15] [--json FILE]
"""

import os

for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse
import json
import platform
import time

import numpy as np

import fe2

LAWS = {"linear": dict(E=70.0, nu=0.33, yield_stress=0.2, hardening=2.0),
        "voce": dict(E=70.0, nu=0.33, yield_stress=0.2, hardening=0.5, saturation=(0.35, 40.0))}


def median_time(call, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def floor(points):
    """Copy the bytes a return mapping reads (strain 3, history 6 + 1) and writes (stress 3, tangent
    9, history 6 + 1) per point."""
    source = np.random.default_rng(0).random((points, 10))
    target = np.empty((points, 19))

    def copy():
        np.copyto(target[:, :10], source)
        np.copyto(target[:, 10:], source[:, :9])
    return copy


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    results = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, shared with other "
                          f"benchmarks (1-minute load {os.getloadavg()[0]:.2f} at the start)",
               "points": args.points, "ns per point": {}}
    copy = floor(args.points)
    copy()
    for kind, parameters in LAWS.items():
        stress_law = fe2.J2Plasticity(**parameters, plane="stress")
        strain_law = fe2.J2Plasticity(**parameters)
        path = np.cumsum(rng.normal(scale=0.004, size=(3, args.points, 3)), axis=0)
        state = stress_law.initial_state(args.points)
        for strain in path[:-1]:
            state = stress_law.response(strain, state)[2]
        strain = path[-1]
        plastic = float(np.mean(stress_law.response(strain, state)[2]["p"] > state["p"]))
        stress_law.response(strain[:10], {k: v[:10] for k, v in state.items()})   # compiled before timing
        strain_law.response(strain[:10], {k: v[:10] for k, v in state.items()})
        timed = {"plane stress": median_time(lambda: stress_law.response(strain, state), args.repeats),
                 "plane strain": median_time(lambda: strain_law.response(strain, state), args.repeats),
                 "reference": median_time(lambda: stress_law.reference_response(strain, state), max(3, args.repeats // 5)),
                 "floor": median_time(copy, args.repeats)}
        per_point = {name: 1e9 * seconds / args.points for name, seconds in timed.items()}
        results["ns per point"][kind] = {**per_point, "plastic fraction": plastic}
        print(f"{kind:7s} hardening, {plastic:.0%} of {args.points} points plastic: "
              + ", ".join(f"{name} {value:.1f} ns" for name, value in per_point.items())
              + f"; plane stress / floor {per_point['plane stress'] / per_point['floor']:.1f}, "
              f"/ plane strain {per_point['plane stress'] / per_point['plane strain']:.2f}, "
              f"reference / plane stress {per_point['reference'] / per_point['plane stress']:.0f}")
    print(results["machine"])
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=1)


if __name__ == "__main__":
    main()
