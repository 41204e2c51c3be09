"""Effective transverse stiffness of a unidirectional glass/epoxy composite.

The cell is a square with one glass fiber (40 % by area) in epoxy, seen in the plane normal to the
fibers, so 2D plane strain gives the transverse properties. We homogenize it under the three
classical boundary conditions, check Hill-Mandel and Huet's ordering

    Reuss <= SUBC <= periodic <= KUBC <= Voigt,

compare with the Hashin-Shtrikman bounds, and write every micro field to VTU for ParaView.

    python cases/fiber_composite.py [--out DIR] [--h H] [--order 1|2]
"""

import argparse
import time
from pathlib import Path

import numpy as np

import fe2
import fe2.logs

from postprocess.cell_figure import render

HERE = Path(__file__).resolve().parent


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("output/fiber_composite"), help="output folder")
    parser.add_argument("--h", type=float, default=None,
                        help="mesh size; default: the shipped mesh meshes/fiber.msh (h = 0.03)")
    parser.add_argument("--order", type=int, default=2, choices=(1, 2), help="Lagrange element order")
    args = parser.parse_args(argv)
    start = time.perf_counter()

    # 1. The microstructure: a periodic gmsh cell with phases named "matrix" and "fiber".
    #    meshes/make_meshes.py regenerates the shipped mesh; any h meshes a new one.
    if args.h is None:
        mesh = fe2.geometry.load_mesh(HERE.parent / "meshes" / "fiber.msh")
    else:
        mesh = fe2.geometry.inclusion(0.4, h=args.h, phases=("matrix", "fiber"))

    # 2. One law per phase (moduli in GPa).
    cell = fe2.Cell(mesh, {"matrix": fe2.Isotropic(E=3.5, nu=0.35),   # epoxy
                           "fiber": fe2.Isotropic(E=72.0, nu=0.22)},  # E-glass
                    order=args.order)
    print(cell)

    # 3. All three boundary conditions on the same cell, with the Voigt/Reuss/Hashin-Shtrikman bounds.
    comparison = fe2.compare(cell)
    print(comparison)

    # 4. Engineering view: the periodic tensor in Voigt notation (stress = C (eps_xx, eps_yy, 2 eps_xy)).
    periodic = comparison.results["periodic"]
    C = periodic.voigt()
    print("\nperiodic stiffness, Voigt notation [GPa]:")
    print(np.array2string(C, precision=4, suppress_small=True))
    print(f"transverse shear modulus C66 = {C[2, 2]:.4f} GPa; square symmetry: C11 - C22 = {C[0, 0] - C[1, 1]:.1e}")

    # 5. Hill-Mandel: <sigma:eps> = <sigma>:<eps> for every load case and condition.
    print("\nHill-Mandel residuals |<s:e> - <s>:<e>| / |<s>:<e>|:")
    for name, result in comparison.results.items():
        print(f"  {name:9s}" + "".join(f"  {case.label}: {case.hill_mandel:.1e}" for case in result.cases))

    # 6. Micro fields for ParaView: one .vtu per condition and unit load case, and summary.json.
    paths = fe2.io.write_comparison(comparison, args.out)

    # 7. A picture of the periodic sigma_xx under a unit eps_xx, beside the deformed cell.
    figure = render(args.out / "periodic_xx.vtu", args.out / "periodic_xx.png", "stress", "xx", warp=0.3, units="[GPa]")
    print(f"\nwrote {len(paths)} VTU files, summary.json and {figure.name} to {args.out.resolve()} "
          f"(open in ParaView: File > Open > periodic_xx.vtu) in {time.perf_counter() - start:.1f} s")
    return comparison


if __name__ == "__main__":
    fe2.logs.show()  # fe2's log lines (e.g. the macro Newton iterations) on stdout
    main()
