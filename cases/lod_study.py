"""LOD against MsFEM on the Hou-Wu problem: error, offline and online time and memory against H.

The conductivity of Hou & Wu (1997) oscillates with period eps in both directions (cases/msfem_resonance.py),
and -div(a grad u) = 1 on the unit square with u = 0 on its boundary. A direct solve on a fine grid
that resolves eps is the reference. Over coarse grids from H = 8 eps down to eps/2 we compare

* MsFEM with linear boundary data (Hou & Wu 1997): its resonance error of order eps/H;
* MsFEM with oversampling (patch 2H), Galerkin and Petrov-Galerkin (Hou, Wu & Cai 1999);
* LOD, Petrov-Galerkin, with k = 1, 2, 3 layers of coarse elements in each corrector patch
  (Malqvist & Peterseim 2014): no resonance, an error of order H plus a localization error that
  falls exponentially in k.

For each: the relative energy and L2 errors of the fine reconstruction, the offline time (local
problems and coarse matrix), the online time (coarse load and solve) and the peak memory of the
offline part (the RSS high-water mark above the RSS before it, on Linux; a lower bound, since the
runs share one process and reuse the memory earlier ones freed: bench/msfem.py --methods measures
each in a fresh process). The table, lod_study.json and lod_study.png show them.

    python cases/lod_study.py [--eps 0.03125] [--fine 256] [--ratios 8 4 2 1 0.5] [--layers 1 2 3] [--out DIR]
"""

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

import fe2
import fe2.logs
from fe2.macro import Dirichlet, Problem
from fe2.msfem import LOD, MsFEM
from postprocess import plots

sys.path.insert(0, str(Path(__file__).resolve().parent))
from msfem_resonance import HouWu, coarse_counts, square  # noqa: E402  (the coefficient and the grids of the resonance study)

SIDES = ("left", "right", "bottom", "top")


def peak_memory():
    """A context for the RSS high-water mark above the RSS at its start, in MB (nan off Linux)."""
    class Peak:
        def __enter__(self):
            try:
                with open("/proc/self/clear_refs", "w") as f:
                    f.write("5")
                self.base = _status("VmRSS")
            except OSError:
                self.base = None
            return self

        def __exit__(self, *exc):
            self.mb = np.nan if self.base is None else (_status("VmHWM") - self.base) / 2**20

    return Peak()


def _status(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eps", type=float, default=1 / 32, help="oscillation period")
    parser.add_argument("--fine", type=int, default=256, help="fine elements per side")
    parser.add_argument("--ratios", type=float, nargs="+", default=[8, 4, 2, 1, 0.5], help="H / eps")
    parser.add_argument("--layers", type=int, nargs="+", default=[1, 2, 3], help="LOD patch layers k")
    parser.add_argument("--executor", default="serial", help="serial, processes, dask, or a Dask scheduler address")
    parser.add_argument("--out", type=Path, default=Path("output/lod_study"))
    args = parser.parse_args(argv)
    start = time.perf_counter()
    counts = coarse_counts(parser, args.ratios, args.eps, args.fine)
    law = fe2.Conductor(HouWu(args.eps))
    conditions = [Dirichlet(side, 0.0) for side in SIDES]
    fine = square(args.fine)

    # 1. The reference: the fine grid solved directly.
    clock = time.perf_counter()
    with fe2.logs.show(logging.WARNING):
        reference = Problem(fine, law, dirichlet=conditions, body_force=1.0).solve(1)[-1].field
    print(f"reference: {fine.p.shape[1]} fine DOFs, eps/h = {args.eps * args.fine:g}, solved in {time.perf_counter() - clock:.1f} s")

    # 2. Every method on every coarse grid.
    methods = {"MsFEM linear": (MsFEM, dict(boundary="linear")),
               "MsFEM oversampling x2": (MsFEM, dict(boundary="oversampling")),
               "MsFEM oversampling x2, PG": (MsFEM, dict(boundary="oversampling", petrov_galerkin=True))}
    methods |= {f"LOD k = {k}": (LOD, dict(layers=k)) for k in args.layers}
    keys = ("energy", "l2", "offline s", "online s", "peak MB")
    results = {label: {key: [] for key in keys} for label in methods}
    print(f"{'H/eps':>6} {'method':>26} | {'energy':>8} {'L2':>8} | {'offline s':>9} {'online ms':>9} {'peak MB':>8}")
    with fe2.parallel.executor(args.executor) as executor:
        for ratio, n in zip(args.ratios, counts):
            for label, (method, options) in methods.items():
                with peak_memory() as peak:
                    space = method(square(n), fine, law, executor=executor, progress=sys.stderr.isatty(), **options)
                space.solve(conditions, body_force=1.0)          # the first solve factorizes the coarse matrix
                solution = space.solve(conditions, body_force=1.0)  # online: the load and the solve, factorization reused
                e = space.errors(solution, reference=reference)
                row = dict(zip(keys, (e.energy, e.l2, space.timings["offline"], solution.seconds, peak.mb)))
                for key, value in row.items():
                    results[label][key].append(float(value))
                print(f"{ratio:6.3g} {label:>26} | {e.energy:8.2e} {e.l2:8.1e} | {row['offline s']:9.2f} "
                      f"{1e3 * row['online s']:9.2f} {row['peak MB']:8.0f}", flush=True)
                del space

    # 3. The shape, in numbers: MsFEM linear stalls near H = eps, LOD falls with H and with k.
    H = np.array([1 / n for n in counts])
    for label in methods:
        print(f"{label:>26}: energy error ~ H^{plots.rate(H, results[label]['energy']):.2f} over H = "
              f"{max(args.ratios):g} eps .. {min(args.ratios):g} eps")
    at = int(np.argmin(np.abs(np.log(np.array(args.ratios)))))
    best = min(methods, key=lambda label: results[label]["energy"][at])
    print(f"at H = {args.ratios[at]:g} eps the most accurate is {best} ({results[best]['energy'][at]:.2e} energy error), "
          f"linear MsFEM {results['MsFEM linear']['energy'][at]:.2e}")
    print("theory: MsFEM's resonance error of order eps/H; LOD's error O(H) + exp(-c k), no resonance")

    args.out.mkdir(parents=True, exist_ok=True)
    figure = plots.msfem_error(H, {label: results[label]["energy"] for label in methods}, args.out / "lod_study.png",
                               eps=args.eps, ylabel="relative energy error against the fine solve",
                               title=f"LOD and MsFEM, Hou-Wu eps = {args.eps:g}, fine h = {1 / args.fine:g}")
    (args.out / "lod_study.json").write_text(json.dumps(
        {"eps": args.eps, "fine": args.fine, "ratios": args.ratios, "H": H.tolist(), "results": results}, indent=2))
    print(f"wrote {figure.name} and lod_study.json to {args.out.resolve()} in {time.perf_counter() - start:.1f} s")
    return H, results


if __name__ == "__main__":
    fe2.logs.show()
    main()
