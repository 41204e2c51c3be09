"""The resonance study of MsFEM: error against the coarse size H for a fixed oscillation period eps.

The conductivity of Hou & Wu (1997) oscillates with period eps in both directions,

    a(x) = (2 + 1.8 sin(2 pi x/eps)) / (2 + 1.8 cos(2 pi y/eps)) + (2 + sin(2 pi y/eps)) / (2 + 1.8 sin(2 pi x/eps)),

and -div(a grad u) = 1 on the unit square with u = 0 on its boundary. A direct solve on a fine
grid that resolves eps is the reference. MsFEM is run on coarse grids with H from eps/8 to 8 eps,
with linear boundary data, with oversampling (patch 2H) and, optionally, oversampling with
Petrov-Galerkin coupling. Theory (Hou, Wu & Cai 1999): with linear data the basis carries boundary
layers of width eps, and for H > eps the error grows like eps/H as H falls toward eps (resonance);
oversampling removes most of that error and flattens the curve. For H < eps MsFEM is a fine FEM
again and both converge. The table, msfem_resonance.json and msfem_resonance.png show it.

    python cases/msfem_resonance.py [--eps 0.03125] [--fine 512] [--ratios 0.125 0.25 ... 8] [--petrov-galerkin] [--out DIR]
"""

import argparse
import logging
import json
import sys
import time
from pathlib import Path

import numpy as np
import skfem

import fe2
import fe2.logs
from fe2.macro import Dirichlet, Problem
from fe2.msfem import MsFEM
from postprocess import plots

SIDES = ("left", "right", "bottom", "top")


class HouWu:
    """The oscillating conductivity of Hou & Wu (1997) with period ``eps`` (picklable, for workers)."""

    def __init__(self, eps):
        self.eps = eps

    def __call__(self, x):
        X, Y = 2 * np.pi * x[0] / self.eps, 2 * np.pi * x[1] / self.eps
        return (2 + 1.8 * np.sin(X)) / (2 + 1.8 * np.cos(Y)) + (2 + np.sin(Y)) / (2 + 1.8 * np.sin(X))


def coarse_counts(parser, ratios, eps, fine):
    """Coarse elements per side for each H = ratio x eps; a parser error unless each divides the unit
    square into whole coarse elements that nest in the fine x fine grid."""
    counts = [round(1 / (r * eps)) for r in ratios]
    bad = [(r, n) for r, n in zip(ratios, counts) if n < 1 or fine % n or abs(n * r * eps - 1) > 1e-9]
    if bad:
        parser.error(f"H = ratio x eps must divide the square into whole coarse elements that nest in the "
                     f"{fine}x{fine} fine grid; these do not: {bad}")
    return counts


def square(n):
    x = np.linspace(0, 1, n + 1)
    return skfem.MeshQuad.init_tensor(x, x).with_defaults()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eps", type=float, default=1 / 32, help="oscillation period")
    parser.add_argument("--fine", type=int, default=512, help="fine elements per side (reference and local meshes)")
    parser.add_argument("--ratios", type=float, nargs="+", default=[0.125, 0.25, 0.5, 1, 2, 4, 8], help="H / eps")
    parser.add_argument("--oversampling", type=float, default=2.0, help="patch size / H")
    parser.add_argument("--petrov-galerkin", action="store_true", help="also oversampling with Petrov-Galerkin coupling")
    parser.add_argument("--load", choices=["affine", "source"], default="affine",
                        help="affine: u = x on the boundary, no source; source: f = 1, u = 0 on the boundary")
    parser.add_argument("--executor", default="serial", help="serial, processes, dask, or a Dask scheduler address")
    parser.add_argument("--out", type=Path, default=Path("output/msfem_resonance"))
    args = parser.parse_args(argv)
    start = time.perf_counter()
    counts = coarse_counts(parser, args.ratios, args.eps, args.fine)
    law = fe2.Conductor(HouWu(args.eps))
    if args.load == "affine":  # the homogenized solution is x itself: no coarse-space error is left
        conditions, source = [Dirichlet(name, lambda x: x[0]) for name in SIDES], None
    else:
        conditions, source = [Dirichlet(name, 0.0) for name in SIDES], 1.0
    fine = square(args.fine)

    # 1. The reference: the fine grid solved directly.
    clock = time.perf_counter()
    with fe2.logs.show(logging.WARNING):  # a linear solve: its Newton log is left out
        reference = Problem(fine, law, dirichlet=conditions, body_force=source).solve(1)[-1].field
    print(f"reference: {fine.p.shape[1]} fine DOFs, eps/h = {args.eps * args.fine:g}, solved in {time.perf_counter() - clock:.1f} s")

    # 2. MsFEM for every H and every kind of boundary data.
    variants = {"linear": dict(boundary="linear"),
                f"oversampling x{args.oversampling:g}": dict(boundary="oversampling", oversampling=args.oversampling)}
    if args.petrov_galerkin:
        variants["oversampling, Petrov-Galerkin"] = dict(boundary="oversampling", oversampling=args.oversampling,
                                                         petrov_galerkin=True)
    results = {label: {"l2": [], "h1": [], "energy": [], "offline s": []} for label in variants}
    print(f"{'H/eps':>6} {'H':>9} | " + " | ".join(f"{label:>30}" for label in variants))
    print(f"{'':>6} {'':>9} | " + " | ".join(f"{'L2':>9} {'H1':>9} {'energy':>9}" + " " * 1 for _ in variants))
    with fe2.parallel.executor(args.executor) as executor:
        for ratio, n in zip(args.ratios, counts):
            row = []
            for label, options in variants.items():
                space = MsFEM(square(n), fine, law, executor=executor, progress=sys.stderr.isatty(), **options)
                e = space.errors(space.solve(conditions, body_force=source), reference=reference)
                for key, value in (("l2", e.l2), ("h1", e.h1), ("energy", e.energy), ("offline s", space.timings["offline"])):
                    results[label][key].append(value)
                row.append(f"{e.l2:9.2e} {e.h1:9.2e} {e.energy:9.2e} ")
            print(f"{ratio:6.3g} {1 / n:9.5f} | " + " | ".join(row), flush=True)

    # 3. The resonance shape, in numbers: growth of the linear-data error toward H = eps, and the cut.
    H = np.array([1 / n for n in counts])
    above = np.array(args.ratios) >= 1
    at = int(np.argmin(np.abs(np.log(np.array(args.ratios)))))
    for norm in ("energy", "l2"):
        linear = np.array(results["linear"][norm])
        slope = np.polyfit(np.log(H[above]), np.log(linear[above]), 1)[0] if above.sum() >= 2 else np.nan
        print(f"\n{norm}: linear data, H >= eps: error ~ (eps/H)^{-slope:.2f}")
        for label in list(variants)[1:]:
            over = np.array(results[label][norm])
            print(f"  {label}: at H = {args.ratios[at]:g} eps it cuts the error {linear[at] / over[at]:.1f}x "
                  f"({linear[at]:.2e} -> {over[at]:.2e}), by {np.min(linear[above] / over[above]):.1f}-"
                  f"{np.max(linear[above] / over[above]):.1f}x for H >= eps")
    print("theory (Hou, Wu & Cai 1999): the energy error of linear data grows like (eps/H)^1/2 as H falls toward eps; "
          "oversampling removes most of it, Petrov-Galerkin most of the rest" +
          (" (with affine data the L2 error of the Galerkin versions is O(eps) and shows no resonance)"
           if args.load == "affine" else ""))

    args.out.mkdir(parents=True, exist_ok=True)
    figure = plots.msfem_error(H, {f"{label}, L2": results[label]["l2"] for label in variants} |
                               {f"{label}, energy": results[label]["energy"] for label in variants},
                               args.out / "msfem_resonance.png", eps=args.eps, ylabel="relative error against the fine solve",
                               title=f"MsFEM resonance, eps = {args.eps:g}, fine h = {1 / args.fine:g}")
    (args.out / "msfem_resonance.json").write_text(json.dumps(
        {"eps": args.eps, "fine": args.fine, "ratios": args.ratios, "H": H.tolist(), "errors": results}, indent=2))
    print(f"wrote {figure.name} and msfem_resonance.json to {args.out.resolve()} in {time.perf_counter() - start:.1f} s")
    return H, results


if __name__ == "__main__":
    fe2.logs.show()  # fe2's log lines (e.g. the macro Newton iterations) on stdout
    main()
