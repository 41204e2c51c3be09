"""Regenerate the gmsh meshes used by the case scripts into this folder.

Run from anywhere:  python meshes/make_meshes.py
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # repository root, for `import fe2`

from fe2.geometry import inclusion  # noqa: E402

MESHES = {
    # 2D unit cell, centred circular fibre with 40 % area fraction
    "fiber.msh": lambda path: inclusion(0.4, h=0.03, phases=("matrix", "fiber"),
                                        path=path),
}


def main():
    for name, make in MESHES.items():
        path = os.path.join(HERE, name)
        mesh = make(path)
        counts = ", ".join(f"{k}: {len(v)}" for k, v in mesh.subdomains.items())
        print(f"{path}: {mesh.p.shape[1]} nodes, {mesh.t.shape[1]} elements "
              f"({counts}), {os.path.getsize(path) / 1024:.0f} kB")


if __name__ == "__main__":
    main()
