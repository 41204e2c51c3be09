"""A coefficient given as a function: no phases, no mesh of the microstructure.

The conductivity a(y) = (2 + 1.8 sin 2 pi y1)/(2 + 1.8 cos 2 pi y2) + (2 + sin 2 pi y2)/(2 + 1.8 sin 2 pi y1)
varies smoothly over the unit cell (the classic MsFEM test coefficient). It is evaluated at the
quadrature points of a plain structured mesh. The effective tensor is computed under the three
conditions and its convergence under mesh refinement is shown for P1 and P2 (out/convergence.png:
the error of K11 against the finest P2 value, falling like h^2 for P1 and faster for P2).

    python cases/oscillating_coefficient.py [--n 32] [--out DIR]
"""

import argparse
import time
from pathlib import Path

import numpy as np
import skfem

import fe2
import fe2.logs
from postprocess import plots


def a(x):
    """The coefficient, vectorized over points x of shape (2, ...)."""
    s1, c2, s2 = np.sin(2 * np.pi * x[0]), np.cos(2 * np.pi * x[1]), np.sin(2 * np.pi * x[1])
    return (2 + 1.8 * s1) / (2 + 1.8 * c2) + (2 + s2) / (2 + 1.8 * s1)


def unit_square(n):
    x = np.linspace(0, 1, n + 1)
    return skfem.MeshTri.init_tensor(x, x)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=32, help="elements per side of the finest mesh")
    parser.add_argument("--out", type=Path, default=Path("output/oscillating_coefficient"))
    args = parser.parse_args(argv)
    start = time.perf_counter()

    # 1. One law whose parameter is a function of position: the cell needs no phases.
    cell = fe2.Cell(unit_square(args.n), fe2.Conductor(a), order=2)
    comparison = fe2.compare(cell)
    print(cell)
    print(comparison)

    # 2. Mesh convergence of the periodic tensor, P1 and P2, against the finest P2 value.
    reference = comparison.results["periodic"].tensor
    print("\nmesh convergence of K11 (periodic):")
    print(" n   | P1 K11     error      | P2 K11     error")
    sizes, errors = (args.n // 8, args.n // 4, args.n // 2), {"P1": [], "P2": []}
    for n in sizes:
        values = [fe2.homogenize(fe2.Cell(unit_square(n), fe2.Conductor(a), order=p), "periodic").tensor[0, 0] for p in (1, 2)]
        print(f"{n:4d} | " + " | ".join(f"{v:.6f}  {abs(v - reference[0, 0]):.2e}" for v in values))
        for label, v in zip(errors, values):
            errors[label].append(abs(v - reference[0, 0]) / reference[0, 0])

    paths = fe2.io.write_comparison(comparison, args.out)
    png = plots.convergence(1.0 / np.array(sizes), errors, args.out / "convergence.png", rates=(2, 4),
                            xlabel="mesh size h (cell side 1)", ylabel=f"relative error of K11 (vs P2, n = {args.n})",
                            title="periodic K11 of the oscillating coefficient under mesh refinement")
    print(f"\nwrote {len(paths)} VTU files, summary.json and {png.name} to {args.out.resolve()} "
          f"in {time.perf_counter() - start:.1f} s")
    return comparison


if __name__ == "__main__":
    fe2.logs.show()  # fe2's log lines (e.g. the macro Newton iterations) on stdout
    main()
