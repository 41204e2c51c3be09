"""Porous cells: a hole, random pores, a spherical pore and a porous voxel image, then FE² on porous cells.

A pore is a phase without material (None): fe2 leaves it out of the mesh, or the mesh leaves it out
itself (gmsh generators with ``phases=("matrix", None)``). Averages are over the whole cell, the pores
included: <sigma> = int_solid sigma / |Y| and <eps> = int_dY u (x)_s n / |Y| (the average-strain
theorem), so the effective tensor maps the macro strain of the porous body to its macro stress
(docs/porous.md). For each cell we check what theory says:

1. a square array of circular holes: Reuss = HS lower = 0 <= SUBC <= periodic <= KUBC <= Voigt =
   (1 - f) C, Hill-Mandel to round-off;
2. random pores cut by the cell edges (wrapped periodically): the periodic condition only (KUBC and
   SUBC would prescribe u or tractions where there is no material, and are refused);
3. a spherical pore in 3D (conduction): ordering, beside the HS upper bound k (1 - f)/(1 + f/2);
4. a porous voxel image (meshes/voxel_sample.npy, its 30 % label taken as pore space): periodic;
5. FE²: the quarter plate with a hole, every macro point a porous cell with a J2 matrix (serial).

    python cases/porous_cell.py [--out DIR] [--h 0.04] [--h3d 0.12] [--coarsen 1] [--macro-h 0.2]
                                [--steps 3] [--strain 0.004]
"""

import argparse
import time
from pathlib import Path

import numpy as np

import fe2
import fe2.logs
from fe2 import voxel
from fe2.cli import number
from fe2.io import MacroWriter, most_strained
from fe2.macro import Dirichlet, Problem
from postprocess import render

HERE = Path(__file__).resolve().parent
ALUMINIUM = fe2.Isotropic(E=70.0, nu=0.33)   # GPa


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("output/porous_cell"))
    parser.add_argument("--h", type=number(above=0), default=0.04, help="2D cell mesh size (cell side 1)")
    parser.add_argument("--h3d", type=number(above=0), default=0.12, help="3D cell mesh size")
    parser.add_argument("--coarsen", type=number(int, least=1), default=1, help="keep every F-th voxel of the image")
    parser.add_argument("--macro-h", type=number(above=0), default=0.2, help="macro mesh size of the FE² plate")
    parser.add_argument("--steps", type=number(int, least=1), default=3)
    parser.add_argument("--strain", type=number(), default=0.004, help="nominal strain of the FE² plate")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    out = {}

    # 1. A square array of circular holes, 20 % porosity: the three conditions and the bounds.
    hole = fe2.Cell(fe2.geometry.inclusion(0.2, h=args.h, phases=("matrix", None)), ALUMINIUM)
    print(f"\n1. {hole}")
    out["hole"] = comparison = fe2.compare(hole)
    print(comparison)
    check(comparison.ordered and not comparison.bounds["reuss"].any(), "Huet's ordering with Reuss = 0 at the bottom")
    check(np.allclose(comparison.bounds["voigt"], (1 - hole.porosity) * ALUMINIUM.tensor(2)), "Voigt = (1 - f) C")
    check(max(r.hill_mandel for r in comparison.results.values()) < 1e-10, "Hill-Mandel under all three")
    # the square array is not isotropic: its shear stiffness C_33 may pass the isotropic HS upper bound
    C, hs = comparison.results["periodic"].tensor, comparison.bounds["hs_upper"]
    print(f"   periodic C11 + C12 = {C[0, 0] + C[0, 1]:.3f} GPa, HS upper {hs[0, 0] + hs[0, 1]:.3f}; "
          f"C33 = {C[2, 2]:.3f}, HS upper {hs[2, 2]:.3f} GPa")
    fe2.io.write_comparison(comparison, args.out / "hole")

    # 2. Random pores, cut by the edges and wrapped: periodic only.
    pores = fe2.Cell(fe2.geometry.random_inclusions(0.3, n=6, h=args.h, seed=3, phases=("matrix", None)), ALUMINIUM)
    print(f"\n2. {pores}: {pores.outer_boundary.void_fraction:.1%} of the cell boundary lies in pores")
    out["random"] = result = fe2.homogenize(pores, "periodic")
    print(result)
    strain = np.array([case.strain for case in result.cases])
    print(f"   <eps> of the unit fields by the average-strain theorem: |<eps> - I| = {np.abs(strain - np.eye(3)).max():.1e}")
    check(np.allclose(strain, np.eye(3), atol=1e-10) and result.hill_mandel < 1e-10, "<eps> = E and Hill-Mandel")
    try:
        fe2.homogenize(pores, "kubc")
    except ValueError as error:
        print(f"   KUBC refused: {str(error)[:120]}...")
    fe2.io.write_homogenization(result, args.out / "random")
    png = render.cell_field(args.out / "random" / "periodic_xx.vtu", args.out / "porous_cell.png", "stress", "xx",
                            units="GPa")

    # 3. A spherical pore in 3D, conduction.
    sphere = fe2.Cell(fe2.geometry.sphere(0.2, h=args.h3d, phases=("matrix", None)), fe2.Conductor(1.0))
    print(f"\n3. {sphere}")
    out["sphere"] = comparison = fe2.compare(sphere)
    print(comparison)
    f = sphere.porosity
    k = comparison.results["periodic"].tensor[0, 0]
    print(f"   periodic k = {k:.5f}; HS upper (Maxwell) (1 - f)/(1 + f/2) = {(1 - f) / (1 + f / 2):.5f} "
          "(a conforming FE value over-estimates the exact one, which lies below the bound; it falls as h does)")
    check(comparison.ordered and max(r.hill_mandel for r in comparison.results.values()) < 1e-10,
          "ordering and Hill-Mandel")

    # 4. A porous voxel image: the shipped sample with its 30 % label as pore space.
    labels = voxel.read_labels(HERE.parent / "meshes" / "voxel_sample.npy")
    labels = labels[(slice(None, None, args.coarsen),) * 3]
    image = voxel.voxel_cell(labels, {"solid": fe2.Conductor(1.0), "pore": None}, names={0: "solid", 1: "pore"},
                             spacing=1.0 / labels.shape[0])
    print(f"\n4. {image}")
    out["image"] = result = fe2.homogenize(image, "periodic")
    print(result)
    check(result.hill_mandel < 1e-10 and result.positive_definite, "Hill-Mandel and a positive definite tensor")

    # 5. FE²: every macro point of the plate is the porous cell of 1., with a J2 matrix.
    matrix = fe2.J2Plasticity(E=70.0, nu=0.33, yield_stress=0.15, hardening=1.0)
    cell = fe2.Cell(fe2.geometry.inclusion(0.2, h=max(args.h, 0.08), phases=("matrix", None)), matrix)
    law = fe2.RVELaw(cell, "periodic")
    mesh = fe2.geometry.plate_with_hole(width=1.0, radius=0.3, h=args.macro_h)
    problem = Problem(mesh, {"plate": law}, dirichlet=[
        Dirichlet("left", 0.0, components=(0,)), Dirichlet("bottom", 0.0, components=(1,)),
        Dirichlet("right", args.strain, components=(0,))])
    print(f"\n5. FE²: {law}\n   macro: {mesh.t.shape[1]} elements, {problem.n} free DOFs")
    writer = MacroWriter(args.out / "fe2", micro_points=most_strained, units={"stress": "GPa"})
    steps = problem.solve(args.steps, tol=1e-8, callback=writer)
    p, hill_mandel = MacroWriter.point_summaries(problem, problem.states)
    print(f"   Hill-Mandel: worst residual {hill_mandel.max():.1e}; plastic strain max {p.max():.2e}, "
          f"{np.mean(p > 0) * 100:.0f} % of the plate yielded")
    check(hill_mandel.max() < 1e-8, "Hill-Mandel at every macro point")
    out["fe2"] = problem, steps, hill_mandel
    print(f"\nwrote VTU files (hole/, random/, fe2/macro.pvd) and {png.name} to {args.out.resolve()} "
          f"in {time.perf_counter() - start:.1f} s")
    return out


def check(ok, what):
    print(f"   check: {what}: {'holds' if ok else 'FAILS'}")
    if not ok:
        raise RuntimeError(f"porous_cell: {what} does not hold")


if __name__ == "__main__":
    fe2.logs.show()  # fe2's log lines (e.g. the macro Newton iterations) on stdout
    main()
