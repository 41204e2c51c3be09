"""Hexagonal fiber array: transversely isotropic, unlike a square array of the same fraction.

The primitive cell of a hexagonal array is a rhombus with lattice vectors (a, 0) and (a/2, a sqrt3/2);
the fiber sits on its corners, split in four pieces. Periodic conditions under those lattice vectors
give a tensor that is isotropic in the plane (C11 = C22, C33 = C11 - C12 in Mandel notation), and
close to the Hashin-Shtrikman lower bound, which for a stiff fiber is the coated-cylinder value.
The square array of the same fraction is anisotropic in shear.

    python cases/hexagonal_fibers.py [--out DIR] [--fraction 0.5] [--h 0.03] [--order 2]
"""

import argparse
import time
from pathlib import Path


import fe2
import fe2.logs

from postprocess.cell_figure import render

MATERIALS = {"matrix": fe2.Isotropic(E=3.5, nu=0.35), "fiber": fe2.Isotropic(E=72.0, nu=0.22)}  # epoxy, glass [GPa]


def anisotropy(C):
    """(C11 - C22) / C11 and C33 / (C11 - C12) - 1 of a 2D Mandel stiffness: both 0 when isotropic."""
    return (C[0, 0] - C[1, 1]) / C[0, 0], C[2, 2] / (C[0, 0] - C[0, 1]) - 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("output/hexagonal_fibers"))
    parser.add_argument("--fraction", type=float, default=0.5, help="fiber area fraction")
    parser.add_argument("--h", type=float, default=0.03, help="mesh size (cell side a = 1)")
    parser.add_argument("--order", type=int, default=2, choices=(1, 2))
    args = parser.parse_args(argv)
    start = time.perf_counter()

    # 1. The rhombic cell and its lattice: the cell must be told its lattice vectors.
    mesh = fe2.geometry.hexagonal(args.fraction, h=args.h)
    cell = fe2.Cell(mesh, MATERIALS, order=args.order, lattice=fe2.geometry.hexagonal_lattice())
    print(cell)

    # 2. The three conditions and the bounds.
    comparison = fe2.compare(cell)
    print(comparison)

    # 3. In-plane isotropy of the hexagonal array against the square array of the same fraction.
    C_hex = comparison.results["periodic"].tensor
    square = fe2.Cell(fe2.geometry.inclusion(args.fraction, h=args.h, phases=("matrix", "fiber")), MATERIALS, order=args.order)
    C_square = fe2.homogenize(square, "periodic").tensor
    print("\nanisotropy (C11-C22)/C11 and C33/(C11-C12)-1 (Mandel), both 0 for in-plane isotropy:")
    print(f"  hexagonal array: {anisotropy(C_hex)[0]: .1e}  {anisotropy(C_hex)[1]: .1e}")
    print(f"  square array:    {anisotropy(C_square)[0]: .1e}  {anisotropy(C_square)[1]: .1e}")

    # 4. Transverse bulk and shear moduli against Hashin-Shtrikman (plane strain: k = (C11 + C12) / 2).
    lower, upper = comparison.bounds["hs_lower"], comparison.bounds["hs_upper"]
    k, mu = (C_hex[0, 0] + C_hex[0, 1]) / 2, C_hex[2, 2] / 2
    print(f"\ntransverse bulk k  = {k:.4f} GPa   HS [{(lower[0, 0] + lower[0, 1]) / 2:.4f}, {(upper[0, 0] + upper[0, 1]) / 2:.4f}]")
    print(f"transverse shear G = {mu:.4f} GPa   HS [{lower[2, 2] / 2:.4f}, {upper[2, 2] / 2:.4f}]")

    # 5. Fields for ParaView and a picture of sigma_xx under a unit eps_xx.
    paths = fe2.io.write_comparison(comparison, args.out)
    figure = render(args.out / "periodic_xx.vtu", args.out / "periodic_xx.png", "stress", "xx", warp=0.2, units="[GPa]")
    print(f"\nwrote {len(paths)} VTU files, summary.json and {figure.name} to {args.out.resolve()} "
          f"in {time.perf_counter() - start:.1f} s")
    return comparison, C_square


if __name__ == "__main__":
    fe2.logs.show()  # fe2's log lines (e.g. the macro Newton iterations) on stdout
    main()
