"""One elastic composite plate solved three ways: FE², MsFEM and the fully resolved (DNS) reference.

A unit square of stiff discs in a soft matrix (n x n periodic cells of size eps = 1/n) is clamped on
its boundary and loaded by a uniform body force along x (the problem of cases/fe2_vs_dns.py).

* **DNS** resolves every disc: the cell mesh tiled n x n, solved directly. The reference.
* **FE²** replaces the microstructure by the cell's effective tensor (periodic conditions) on a
  smooth macro mesh. It is accurate to O(eps) in L2 but, without a corrector, has no fine-scale
  strain, so its energy error does not vanish.
* **MsFEM** keeps the DNS mesh inside coarse elements of size H (a multiple of eps) and builds
  each element's basis from local elastic solves, with linear or oversampled boundary data. Its
  reconstruction carries the fine-scale strain around every disc.

The table compares the three against DNS in relative L2 and energy norms (broken over the coarse
elements for MsFEM); the figure shows u_x of each side by side; the VTU files open in ParaView.

    python cases/msfem_elasticity.py [--cells 16] [--coarse 8] [--cell-h 0.1] [--out DIR]
"""

import argparse
import logging
import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import skfem  # noqa: E402

import fe2  # noqa: E402
import fe2.logs  # noqa: E402
from fe2.io import write_vtu  # noqa: E402
from fe2.macro import Dirichlet, Problem  # noqa: E402
from fe2.msfem import MsFEM  # noqa: E402

MATERIALS = {"matrix": fe2.Isotropic(1.0, 0.3), "inclusion": fe2.Isotropic(10.0, 0.2)}
SIDES = ("left", "right", "bottom", "top")
FORCE = [0.01, 0.0]   # small enough for small strains: at most about 0.5 % with E = 1


def energy_error(problem, u, reference):
    """Relative energy-norm difference sqrt(e.K.e / r.K.r) on the DNS mesh of ``problem``."""
    body = problem.body
    upper = body.linearize().assemble(np.arange(body.ndofs), body.ndofs)  # upper triangle of the stiffness
    K = upper + sp.triu(upper, k=1).T
    e = u - reference
    return float(np.sqrt(e @ (K @ e) / (reference @ (K @ reference))))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=16, help="cells per side (eps = 1/cells)")
    parser.add_argument("--coarse", type=int, default=8, help="MsFEM coarse elements per side (must divide --cells)")
    parser.add_argument("--cell-h", type=float, default=0.1, help="micro mesh size (cell side 1)")
    parser.add_argument("--out", type=Path, default=Path("output/msfem_elasticity"))
    args = parser.parse_args(argv)
    if args.cells % args.coarse:
        parser.error(f"--coarse {args.coarse} must divide --cells {args.cells}: coarse edges must follow cell edges")
    start = time.perf_counter()
    conditions = [Dirichlet(name, 0.0) for name in SIDES]
    cell_mesh = fe2.geometry.inclusion(0.3, h=args.cell_h)
    eps = 1.0 / args.cells

    # 1. DNS: every disc resolved.
    fine = fe2.dns.tile(cell_mesh, (args.cells, args.cells), size=eps)
    dns = Problem(fine, MATERIALS, dirichlet=conditions, body_force=FORCE)
    clock = time.perf_counter()
    with fe2.logs.show(logging.WARNING):  # a linear solve: its Newton log is left out
        u_dns = dns.solve(1)[-1].field
    times = {"DNS": time.perf_counter() - clock}

    # 2. FE²: the cell's effective tensor at every point of a P2 macro mesh.
    x = np.linspace(0, 1, 17)
    clock = time.perf_counter()
    macro = Problem(skfem.MeshTri.init_tensor(x, x).with_defaults(), fe2.RVELaw(fe2.Cell(cell_mesh, MATERIALS)),
                    dirichlet=conditions, body_force=FORCE, order=2)
    with fe2.logs.show(logging.WARNING):  # a linear solve: its Newton log is left out
        u_fe2 = macro.solve(1)[-1].field
    times["FE²"] = time.perf_counter() - clock
    probe = macro.body.basis.probes(dns.body.basis.doflocs)
    u_fe2_on_dns = np.stack([probe @ u_fe2[c::2] for c in range(2)], axis=1).ravel()
    results = {"FE²": {"l2": fe2.dns.error(dns, macro, u_fe2, u_dns), "energy": energy_error(dns, u_fe2_on_dns, u_dns)}}

    # 3. MsFEM on coarse elements of H = cells/coarse x eps, linear and oversampled data.
    X = np.linspace(0, 1, args.coarse + 1)
    coarse = skfem.MeshQuad.init_tensor(X, X).with_defaults()
    fields = {}
    for label, options in (("MsFEM linear", dict(boundary="linear")), ("MsFEM oversampling", dict(boundary="oversampling"))):
        clock = time.perf_counter()
        space = MsFEM(coarse, fine, MATERIALS, **options)
        solution = space.solve(conditions, body_force=FORCE)
        times[label] = time.perf_counter() - clock
        e = space.errors(solution, reference=u_dns)
        results[label] = {"l2": e.l2, "energy": e.energy, "offline s": space.timings["offline"], "online s": solution.seconds}
        fields[label] = space.conforming(solution)
        space.write_vtu(args.out, solution, name=label.split()[1])

    H = 1.0 / args.coarse
    print(f"eps = {eps:g} ({args.cells}x{args.cells} cells), MsFEM H = {H:g} = {H / eps:g} eps; DNS {dns.body.ndofs} DOFs, "
          f"FE² {macro.body.ndofs} DOFs (P2), MsFEM {coarse.p.shape[1] * 2} coarse DOFs")
    print(f"{'method':<20} {'rel. L2':>9} {'rel. energy':>12} {'time s':>8}")
    for label, r in results.items():
        print(f"{label:<20} {r['l2']:9.4f} {r['energy']:12.4f} {times[label]:8.2f}")
    print(f"{'DNS':<20} {'(reference)':>22} {times['DNS']:8.2f}")

    # 4. ParaView files and the side-by-side picture of u_x.
    args.out.mkdir(parents=True, exist_ok=True)
    write_vtu(dns.body, args.out / "dns.vtu", u_dns)
    write_vtu(macro.body, args.out / "fe2.vtu", u_fe2)
    figure = _figure(fine, {"DNS": u_dns, "FE² (effective tensor)": u_fe2_on_dns, "MsFEM, oversampling": fields["MsFEM oversampling"]},
                     args.out / "msfem_elasticity.png", coarse)
    (args.out / "msfem_elasticity.json").write_text(json.dumps({"eps": eps, "H": H, "errors": results, "seconds": times}, indent=2))
    print(f"wrote {figure.name}, dns.vtu, fe2.vtu and the MsFEM reconstructions (*_fine.vtu, *_coarse.vtu) to "
          f"{args.out.resolve()} in {time.perf_counter() - start:.1f} s")
    return results


def _figure(fine, fields, path, coarse):
    """u_x of each solution on the DNS mesh, one colour scale, the MsFEM coarse grid drawn over the last."""
    figure, axes = plt.subplots(1, len(fields), figsize=(4.4 * len(fields), 4.2), constrained_layout=True)
    values = list(fields.values())
    lo, hi = min(v[0::2].min() for v in values), max(v[0::2].max() for v in values)
    for ax, (label, u) in zip(axes, fields.items()):
        image = ax.tripcolor(fine.p[0], fine.p[1], fine.t.T, u[0::2], shading="gouraud", vmin=lo, vmax=hi, cmap="viridis")
        ax.set_title(label)
        ax.set_aspect("equal")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xticks([])
        ax.set_yticks([])
    for edge in coarse.facets.T:
        axes[-1].plot(*coarse.p[:, edge], color="white", lw=0.8)
    figure.colorbar(image, ax=axes, shrink=0.8, label="displacement u_x")
    figure.savefig(path, dpi=80)
    plt.close(figure)
    return Path(path)


if __name__ == "__main__":
    fe2.logs.show()  # fe2's log lines (e.g. the macro Newton iterations) on stdout
    main()
