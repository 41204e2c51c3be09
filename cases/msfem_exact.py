"""MsFEM against an exact solution: a layered conductor whose solution is known in closed form.

The conductivity varies across the layers only, a(x1) = 1 / (1 + d cos(2 pi k x1)), and the plate
is held at u = 0 on the left and u = 1 on the right with insulated top and bottom. The temperature
is then one-dimensional and exact:

    a u' = 1   =>   u(x1) = x1 + d / (2 pi k) sin(2 pi k x1).

On a fixed coarse mesh, MsFEM with *oscillatory* boundary data (the 1D reduced problem along each
coarse edge) contains this solution, so its error is only that of the fine local solves: it falls
like h^2 in L2 and h in H1 as the fine mesh is refined. With *linear* boundary data the basis
cannot follow the oscillation along the horizontal edges, and the error stays put however fine
the local meshes are. The table and the plot show both; the VTU files show the reconstruction.

    python cases/msfem_exact.py [--coarse 4] [--fine 16 32 64 128] [--out DIR]
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import skfem

import fe2
import fe2.logs
from fe2.macro import Dirichlet
from fe2.msfem import MsFEM
from postprocess import plots

D, K = 0.6, 3  # amplitude and number of oscillations across the plate


def conductivity(x):
    return 1 / (1 + D * np.cos(2 * np.pi * K * x[0]))


def exact(x):
    return x[0] + D / (2 * np.pi * K) * np.sin(2 * np.pi * K * x[0])


def exact_gradient(x):
    return np.stack([1 + D * np.cos(2 * np.pi * K * x[0]), 0 * x[1]])


def square(n, triangles=False):
    x = np.linspace(0, 1, n + 1)
    return (skfem.MeshTri if triangles else skfem.MeshQuad).init_tensor(x, x).with_defaults()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coarse", type=int, default=4, help="coarse elements per side")
    parser.add_argument("--fine", type=int, nargs="+", default=[16, 32, 64, 128], help="fine elements per side")
    parser.add_argument("--triangles", action="store_true", help="triangles instead of quadrilaterals")
    parser.add_argument("--out", type=Path, default=Path("output/msfem_exact"))
    args = parser.parse_args(argv)
    start = time.perf_counter()
    law = fe2.Conductor(conductivity)
    conditions = [Dirichlet("left", 0.0), Dirichlet("right", 1.0)]
    coarse = square(args.coarse, args.triangles)

    # 1. MsFEM with oscillatory and with linear boundary data, for finer and finer local meshes.
    errors = {"oscillatory": [], "linear": []}
    print(f"{'fine':>5} {'h':>9} | {'oscillatory L2':>14} {'H1':>9} {'nodal':>9} | {'linear L2':>10} {'H1':>9}")
    for n in args.fine:
        row = []
        for boundary in errors:
            space = MsFEM(coarse, square(n, args.triangles), law, boundary=boundary)
            solution = space.solve(conditions)
            e = space.errors(solution, exact=(exact, exact_gradient))
            nodal = np.abs(solution.coarse - exact(coarse.p)).max()
            errors[boundary].append({"l2": e.l2, "h1": e.h1, "energy": e.energy, "nodal": nodal})
            row.append(e)
            if boundary == "oscillatory" and n == args.fine[-1]:
                space.write_vtu(args.out, solution, name="oscillatory")
        print(f"{n:5d} {1 / n:9.5f} | {row[0].l2:14.3e} {row[0].h1:9.3e} {errors['oscillatory'][-1]['nodal']:9.2e} | "
              f"{row[1].l2:10.3e} {row[1].h1:9.3e}")

    # 2. Observed rates of the oscillatory version against the predicted h^2 (L2) and h (H1).
    h = 1.0 / np.array(args.fine)
    l2 = np.array([e["l2"] for e in errors["oscillatory"]])
    h1 = np.array([e["h1"] for e in errors["oscillatory"]])
    rates = {"l2": float(plots.rate(h, l2)), "h1": float(plots.rate(h, h1))}
    print(f"\noscillatory data: error ~ h^{rates['l2']:.2f} in L2 (theory 2), h^{rates['h1']:.2f} in H1 (theory 1)")
    stall = errors["linear"][-1]["l2"] / errors["linear"][0]["l2"]
    print(f"linear data: the L2 error stays at {errors['linear'][-1]['l2']:.2e} ({stall:.2f} of the coarsest), "
          "the boundary-layer error of linear data")

    args.out.mkdir(parents=True, exist_ok=True)
    figure = plots.convergence(h, {"MsFEM oscillatory, L2": l2, "MsFEM oscillatory, H1": h1,
                                   "MsFEM linear, L2": [e["l2"] for e in errors["linear"]]},
                               args.out / "msfem_exact.png", rates=(1, 2), xlabel="fine mesh size h",
                               ylabel="relative error against the exact solution",
                               title=f"MsFEM on {args.coarse}x{args.coarse} coarse elements, layered conductor")
    (args.out / "msfem_exact.json").write_text(json.dumps({"fine": args.fine, "errors": errors, "rates": rates}, indent=2))
    print(f"wrote {figure.name}, msfem_exact.json and oscillatory_*.vtu to {args.out.resolve()} "
          f"in {time.perf_counter() - start:.1f} s")
    return errors, rates


if __name__ == "__main__":
    fe2.logs.show()  # fe2's log lines (e.g. the macro Newton iterations) on stdout
    main()
