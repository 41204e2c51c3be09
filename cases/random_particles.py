"""Random particle composite in 2D (discs) or 3D (spheres): apparent stiffness of one realization.

Particles are placed by random sequential addition, wrapped periodically across the cell faces, so the
cell is periodic and the periodic condition is exact for it. One random cell is not an RVE: the
three conditions disagree by more than for a periodic array, and the gap closes only as the cell
grows (see cases/rve_size.py). Aluminium particles in an epoxy matrix. out/periodic_xx.png shows
sigma_xx under a unit periodic eps_xx beside the phases.

    python cases/random_particles.py [--dim 2|3] [--fraction 0.3] [--n N] [--seed 0] [--h H] [--out DIR]
"""

import argparse
import time
from pathlib import Path

import numpy as np

import fe2
import fe2.logs
from postprocess import render

MATERIALS = {"matrix": fe2.Isotropic(E=3.5, nu=0.35), "inclusion": fe2.Isotropic(E=70.0, nu=0.33)}  # GPa


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dim", type=int, default=2, choices=(2, 3))
    parser.add_argument("--fraction", type=float, default=0.3)
    parser.add_argument("--n", type=int, default=None,
                        help="number of particles (default: diameter ~ size/5 in 2D; 12 spheres in 3D)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--h", type=float, default=None, help="mesh size (default: from the particle size)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    out = args.out or Path(f"output/random_particles_{args.dim}d")
    start = time.perf_counter()

    # 1. A random periodic cell, reproducible from its seed.
    if args.dim == 2:
        mesh = fe2.geometry.random_inclusions(args.fraction, n=args.n, h=args.h, seed=args.seed)
    else:  # 12 spheres: the geometry's default of 37 jams (random sequential addition) at 30 % with its clearance
        mesh = fe2.geometry.random_spheres(args.fraction, n=args.n or 12, h=args.h, seed=args.seed)
    cell = fe2.Cell(mesh, MATERIALS)
    print(cell)

    # 2. The three conditions, the Voigt/Reuss/Hashin-Shtrikman bounds and Huet's ordering.
    comparison = fe2.compare(cell)
    print(comparison)

    # 3. The statistically isotropic microstructure gives a nearly isotropic tensor: bulk and shear
    #    moduli of its isotropic part against the HS bounds (which use the meshed volume fractions).
    C = comparison.results["periodic"].tensor
    d = cell.dim
    bulk = C[:d, :d].sum() / d**2                       # k = (1/d^2) sum_ij C_iijj
    shear = np.trace(C[d:, d:]) / (2 * (C.shape[0] - d))  # mean Mandel shear / 2
    lower, upper = comparison.bounds["hs_lower"], comparison.bounds["hs_upper"]
    print(f"\nbulk  {bulk:.4f} GPa, HS [{lower[:d, :d].sum() / d**2:.4f}, {upper[:d, :d].sum() / d**2:.4f}]")
    print(f"shear {shear:.4f} GPa, HS [{lower[-1, -1] / 2:.4f}, {upper[-1, -1] / 2:.4f}]")

    paths = fe2.io.write_comparison(comparison, out)
    png = render.cell_field(out / "periodic_xx.vtu", out / "periodic_xx.png", "stress", "xx", units="GPa")
    print(f"\nwrote {len(paths)} VTU files, summary.json and {png.name} to {out.resolve()} in {time.perf_counter() - start:.1f} s")
    return comparison


if __name__ == "__main__":
    fe2.logs.show()  # fe2's log lines (e.g. the macro Newton iterations) on stdout
    main()
