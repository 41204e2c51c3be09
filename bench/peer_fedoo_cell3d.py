"""Benchmark peer: fedoo's linear elastic periodic homogenization of a 3D cell, on fe2's own mesh.

Given a cell mesh (the cube with one spherical particle of bench/cell_iterative.py, P1 tetrahedra,
phases "matrix" and "fiber"), in one run:
  * fedoo: the mesh read by fe2.geometry.load_mesh, its points, tetrahedra, phases (0 matrix, 1
    fiber) and the materials of bench/cell_periodic.warm_up (matrix E=3.5 nu=0.35, fiber E=72
    nu=0.22) written to an .npz, homogenized by bench/peer_fedoo_cell3d_worker.py in fedoo's venv
    (bench/.venv-fedoo, made by peer_fedoo.ensure_peer) in a fresh process, one thread: fedoo's
    get_homogenized_stiffness (PeriodicBC, six unit load cases, pypardiso), timed by stage, with the
    RSS before the work and its peak (ru_maxrss);
  * fe2: Cell + homogenize(cell, Periodic(), solver="direct") in this process after
    cell_periodic.warm_up, timed, for the reference tensor (peak RSS above the RSS once the mesh is
    loaded, as bench/cell_iterative.py measures it);
  * the tensors compared in fe2's Mandel convention: max |C_fedoo - C_fe2| / max |C_fe2|.

    python bench/peer_fedoo_cell3d.py --msh FILE [--json OUT] [--fedoo-version 1.1.0]

``run(msh)`` returns the same dictionary; bench/cell_iterative.py calls ``run(msh, reference=...)`` in a
process of its own (importing this module sets one thread for the process) with the tensor of its own
direct solve.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peer_fedoo  # noqa: E402  (first: it sets OMP/MKL/OPENBLAS_NUM_THREADS=1 before numpy loads)

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from cell_periodic import peak_rss, rss, warm_up  # noqa: E402

WORKER = Path(__file__).resolve().parent / "peer_fedoo_cell3d_worker.py"
FEDOO_VERSION = "1.1.0"
PHASES = ("matrix", "fiber")   # phase 0, phase 1 in the .npz


def export(mesh, materials, path):
    """Points (n, 3), tetrahedra (m, 4), the phase of each (0 matrix, 1 fiber), E and nu per phase."""
    phase = np.full(mesh.t.shape[1], -1)
    for i, name in enumerate(PHASES):
        phase[mesh.subdomains[name]] = i
    assert (phase >= 0).all(), "every tetrahedron belongs to the matrix or the fiber"
    np.savez(path, points=mesh.p.T, tetrahedra=mesh.t.T, phase=phase,
             E=[materials[name].E for name in PHASES], nu=[materials[name].nu for name in PHASES])


def run_fedoo(npz, out, threads=1):
    """The worker in fedoo's venv, a fresh process, on ``threads`` OpenMP/MKL threads; its JSON."""
    env = {**peer_fedoo.peer_env(False), **{name: str(threads) for name in peer_fedoo.THREAD_VARIABLES}}
    done = subprocess.run([str(peer_fedoo.venv_python()), str(WORKER), str(npz), str(out)], capture_output=True,
                          text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"the fedoo worker failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return json.loads(Path(out).read_text())


def run_fe2(mesh, materials):
    """fe2's direct periodic homogenization, timed; peak RSS above the RSS before it."""
    import fe2
    base = rss()
    start = time.perf_counter()
    result = fe2.homogenize(fe2.Cell(mesh, materials), fe2.Periodic(), solver="direct")
    total = time.perf_counter() - start
    return result, {"total [s]": total, "stages [s]": dict(result.timings),
                    "peak memory above the loaded mesh [MB]": (peak_rss() - base) / 1e6}


def run(msh, fedoo_version=FEDOO_VERSION, reference=None, threads=1):
    """fedoo and fe2 (direct) on the cell mesh ``msh``: times, memory, both tensors (Mandel), their
    difference. ``reference``: fe2's tensor (an array or a .npy file) computed already on this mesh;
    then fe2 is not run again. ``threads``: fedoo's (fe2 here runs on one)."""
    import fe2
    peer_fedoo.ensure_peer(fedoo_version)
    load = [round(os.getloadavg()[0], 2)]
    materials = warm_up()
    mesh = fe2.geometry.load_mesh(msh)
    with tempfile.TemporaryDirectory() as folder:
        npz, out = Path(folder) / "cell.npz", Path(folder) / "fedoo.json"
        export(mesh, materials, npz)
        peer = run_fedoo(npz, out, threads)
    load.append(round(os.getloadavg()[0], 2))
    if reference is None:
        result, ours = run_fe2(mesh, materials)
        C_fe2 = np.asarray(result.tensor)
    else:
        ours, C_fe2 = None, np.load(reference) if isinstance(reference, (str, Path)) else np.asarray(reference)
    load.append(round(os.getloadavg()[0], 2))

    C_fedoo = np.array(peer["tensor (Mandel)"])
    # the worker's conversion, checked against fe2's: reorder fedoo's (.., xy, xz, yz) to (.., yz, xz, xy)
    order = [0, 1, 2, 5, 4, 3]
    assert np.allclose(fe2.notation.voigt_to_mandel(np.array(peer["tensor (fedoo Voigt)"])[np.ix_(order, order)]),
                       C_fedoo, rtol=1e-15, atol=0)
    return {
        "mesh": str(msh), "dofs": int(3 * mesh.p.shape[1]), "elements": int(mesh.t.shape[1]),
        "fedoo": {"total [s]": peer["stages [s]"]["total"], "stages [s]": peer["stages [s]"],
                  "peak memory above the loaded mesh [MB]": peer["peak above before [MB]"],
                  "peak rss [MB]": peer["peak rss [MB]"], "rss before [MB]": peer["rss before [MB]"],
                  **{k: peer[k] for k in ("reduced dofs (free, with the 6 E_ij)", "gauss points per element",
                                          "tetrahedra reoriented", "calls", "versions", "threads")}},
        "fe2 direct": ours,
        "tensor fedoo (Mandel)": C_fedoo.tolist(), "tensor fe2 (Mandel)": C_fe2.tolist(),
        "convention": "Mandel (xx, yy, zz, sqrt2 yz, sqrt2 xz, sqrt2 xy)",
        "tensor difference (relative, max norm)": float(np.abs(C_fedoo - C_fe2).max() / np.abs(C_fe2).max()),
        "asymmetry of fedoo's tensor (relative, max norm)": float(np.abs(C_fedoo - C_fedoo.T).max() / np.abs(C_fedoo).max()),
        "load (1 min) at the start, after fedoo, after fe2": load, "cores": os.cpu_count(),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--msh", type=Path, required=True, help="the cell mesh (gmsh .msh with matrix/fiber)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--fedoo-version", default=FEDOO_VERSION)
    args = parser.parse_args()
    row = run(args.msh, args.fedoo_version)
    f, o = row["fedoo"], row["fe2 direct"]
    print(f"{row['dofs']} DOFs, {row['elements']} tetrahedra")
    print(f"fedoo {f['versions']['fedoo']}: {f['total [s]']:.2f} s, peak {f['peak memory above the loaded mesh [MB]']:.0f} MB "
          f"above {f['rss before [MB]']:.0f} MB; stages: "
          + ", ".join(f"{k} {v:.2f}" for k, v in f["stages [s]"].items() if k != "total"))
    print(f"fe2 direct: {o['total [s]']:.2f} s, peak {o['peak memory above the loaded mesh [MB]']:.0f} MB")
    print(f"tensor difference (max abs / max entry): {row['tensor difference (relative, max norm)']:.2e}; "
          f"load (1 min) {row['load (1 min) at the start, after fedoo, after fe2']} on {row['cores']} cores")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(row, indent=1))
    return row


if __name__ == "__main__":
    main()
