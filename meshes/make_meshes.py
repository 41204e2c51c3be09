"""Regenerate the gmsh meshes used by the case scripts into this folder.

Run from anywhere:  python meshes/make_meshes.py [name.msh ...]
(no names: all of them).
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # repository root, for `import fe2`

from fe2.geometry import hexagonal, inclusion, random_inclusions  # noqa: E402

MESHES = {
    # 2D unit cell, centred circular fibre with 40 % area fraction
    "fiber.msh": lambda path: inclusion(0.4, h=0.03, phases=("matrix", "fiber"),
                                        path=path),
    # primitive rhombus of a hexagonal fibre array, 50 % fibres; homogenize
    # with lattice=fe2.geometry.hexagonal_lattice()
    "hexagonal.msh": lambda path: hexagonal(0.5, h=0.03, phases=("matrix", "fiber"),
                                            path=path),
    # unit cell with 12 random periodic circular fibres, 40 % area fraction
    "random_fibers.msh": lambda path: random_inclusions(
        0.4, n=12, seed=0, phases=("matrix", "fiber"), path=path),
}


def main(names=()):
    unknown = set(names) - set(MESHES)
    if unknown:
        raise SystemExit(f"unknown mesh(es) {sorted(unknown)}; choose from {sorted(MESHES)}")
    for name in names or MESHES:
        path = os.path.join(HERE, name)
        mesh = MESHES[name](path)
        counts = ", ".join(f"{k}: {len(v)}" for k, v in mesh.subdomains.items())
        print(f"{path}: {mesh.p.shape[1]} nodes, {mesh.t.shape[1]} elements "
              f"({counts}), {os.path.getsize(path) / 1024:.0f} kB")


if __name__ == "__main__":
    main(sys.argv[1:])
