"""Effective conductivity (or stiffness) of a two-phase microstructure given as a labelled voxel image.

A micro-CT scan, once segmented, is an integer image: one label per voxel. fe2.voxel turns it into
a structured mesh, one hexahedron per voxel (one quad per pixel in 2D), with one phase per label.
We read the image, check that it is periodic before using a periodic condition (a crop of a real
sample usually is not: the condition would glue unrelated faces together), optionally mirror it
into a periodic image, and homogenize under SUBC, periodic and KUBC, checking Huet's ordering

    Reuss <= SUBC <= periodic <= KUBC <= Voigt.

The shipped image meshes/voxel_sample.npy (24^3 voxels, meshes/make_voxel_sample.py) is periodic;
``--crop 12`` takes a non-periodic corner of it, which the check rejects unless ``--mirror``.

Image conventions (fe2.voxel): labels[i, j, k] is the voxel at x index i, y index j, z index k;
TIFF stacks are (z, y, x) on disk and are transposed on reading. The image must hold two labels:
the smaller is the matrix, the larger the inclusions.

    python cases/voxel_image.py [--image PATH] [--out DIR] [--physics conduction|elasticity]
                                [--voxel SIZE] [--coarsen F] [--crop N] [--mirror] [--kind hex|tet]
"""

import argparse
import time
from pathlib import Path

import numpy as np

import fe2
import fe2.logs
from fe2 import voxel
from postprocess import render

HERE = Path(__file__).resolve().parent

MATERIALS = {  # contrast 10 in conductivity; epoxy / E-glass in elasticity (GPa)
    "conduction": {"matrix": fe2.Conductor(1.0), "inclusion": fe2.Conductor(10.0)},
    "elasticity": {"matrix": fe2.Isotropic(E=3.5, nu=0.35), "inclusion": fe2.Isotropic(E=72.0, nu=0.22)},
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", type=Path, default=HERE.parent / "meshes" / "voxel_sample.npy",
                        help="label image, .npy (x, y[, z]) or .tif/.tiff (pages z); default the shipped sample")
    parser.add_argument("--out", type=Path, default=Path("output/voxel_image"), help="output folder")
    parser.add_argument("--physics", choices=sorted(MATERIALS), default="conduction")
    parser.add_argument("--voxel", type=float, default=1.0, help="voxel size (the unit of the output mesh)")
    parser.add_argument("--coarsen", type=int, default=1,
                        help="keep every F-th voxel along each axis (a reduced run; voxels become F times larger)")
    parser.add_argument("--crop", type=int, default=None, help="keep the first N voxels along each axis")
    parser.add_argument("--mirror", action="store_true",
                        help="mirror the image along every axis to make it periodic (doubles it, adds symmetry)")
    parser.add_argument("--kind", choices=("hex", "tet", "quad", "tri"), default=None,
                        help="elements per voxel: hex/quad (one, default) or tet/tri (six / two simplices)")
    args = parser.parse_args(argv)
    if args.coarsen < 1 or (args.crop is not None and args.crop < 1) or args.voxel <= 0:
        parser.error("--coarsen and --crop must be >= 1 and --voxel > 0")
    start = time.perf_counter()

    # 1. The image: integer labels, axis order x, y(, z).
    labels = voxel.read_labels(args.image)
    print(f"read {args.image}: shape {labels.shape}, labels {np.unique(labels).tolist()}")
    if args.crop is not None:
        labels = labels[(slice(0, args.crop),) * labels.ndim]
    labels = labels[(slice(None, None, args.coarsen),) * labels.ndim]
    values = np.unique(labels)
    if values.size != 2:
        parser.error(f"this case needs a two-phase image, the (cropped/coarsened) image holds labels {values.tolist()}")
    names = {int(values[0]): "matrix", int(values[1]): "inclusion"}

    # 2. Periodicity: how many voxel pairs differ across each periodic wrap, compared with the
    #    neighbouring layers inside the image.
    print("periodicity (mismatch across the wrap vs the worst interior plane):")
    for axis in voxel.periodicity_report(labels):
        print(f"  {axis}")
    if args.mirror:
        labels = voxel.make_periodic(labels)
        print(f"mirrored along every axis -> shape {labels.shape} (a different, symmetric microstructure)")

    # 3. The cell: one element per voxel, phases from the labels; the check raises on a
    #    non-periodic image before the mesh is built.
    try:
        cell = voxel.voxel_cell(labels, MATERIALS[args.physics], spacing=args.voxel * args.coarsen,
                                names=names, kind=args.kind)
    except fe2.PeriodicityError as err:
        parser.error(f"{err}\nRerun with --mirror to homogenize the mirrored image instead.")
    print(cell)

    # 4. The three conditions and the bounds.
    comparison = fe2.compare(cell)
    print(comparison)
    K = comparison.results["periodic"].tensor
    print(f"\nperiodic diagonal {np.array2string(np.diag(K), precision=4)}; largest off-diagonal "
          f"{np.abs(K - np.diag(np.diag(K))).max():.3g} (anisotropy of the sample)")

    # 5. Micro fields for ParaView and a summary (tensors, bounds, Hill-Mandel, ordering).
    paths = fe2.io.write_comparison(comparison, args.out)
    first = cell.physics.labels[0]
    field, units = ("flux", "") if cell.physics.name == "conduction" else ("stress", "GPa")
    png = render.cell_field(args.out / f"periodic_{first}.vtu", args.out / f"periodic_{first}.png", field,
                            "x" if field == "flux" else "xx", units=units)
    print(f"\nwrote {len(paths)} VTU files, summary.json and {png.name} to {args.out.resolve()} "
          f"(ParaView: open periodic_{cell.physics.labels[0]}.vtu, colour by 'phase') "
          f"in {time.perf_counter() - start:.1f} s")
    return comparison


if __name__ == "__main__":
    fe2.logs.show()  # fe2's log lines (e.g. the macro Newton iterations) on stdout
    main()
