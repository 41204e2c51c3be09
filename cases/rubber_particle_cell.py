"""A filled rubber cell stretched to twice its length in uniaxial stress, under the three conditions.

The cell is a square with one stiff round particle (20 % by area) in a neo-Hookean rubber matrix, in
plane strain: a filled elastomer (silica or carbon black in a tyre tread). We chose stiff particles in
rubber, not rubber particles in a stiff matrix: a stretch of 2 is the working range of a rubber matrix,
while the glassy matrix of a rubber-toughened polymer yields or crazes at a few percent, so a
neo-Hookean model of it stretched to 2 would be fiction. The particle is 100 times stiffer than the
rubber, nearly rigid, and the rubber carries the stretch (local stretches reach ~3 at the particle's
poles).

Each step prescribes F_xx = lambda and F_xy = 0 (which holds the rotation) and P = 0 on the other
components (fe2.cell.mixed.uniaxial): uniaxial nominal stress P_xx, free lateral contraction. The outer
Newton on the free components of F starts from the last step's solution and its mixed tangent. For
each condition (SUBC, periodic, KUBC) we print and plot the nominal stress-stretch curve, check
Hill-Mandel at every step and Huet's order SUBC <= periodic <= KUBC, check that the initial slope is the
small-strain cell's apparent modulus 1/S_xx (same mesh, the laws' small-strain limits), and write the
deformed micro fields (displacement to warp, F, P, Cauchy stress, J) as a VTU series for ParaView.

    python cases/rubber_particle_cell.py [--h 0.04] [--stretch 2.0] [--steps 10] [--quick] [--out DIR]
"""

import argparse
import time
from pathlib import Path

import numpy as np

import fe2
import fe2.logs
from fe2 import kinematics
from fe2.cell import mixed
from fe2.cli import number
from fe2.io import write_pvd, write_vtu
from fe2.io.vtu import element_average
from postprocess import render
from postprocess.plots import bc_comparison

RUBBER = fe2.NeoHookean(E=2.0, nu=0.45)       # MPa; compressible enough for linear triangles
PARTICLE = fe2.NeoHookean(E=200.0, nu=0.3)    # MPa; 100 times the rubber: nearly rigid
CONDITIONS = ("subc", "periodic", "kubc")     # Huet's order, softest first


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--h", type=number(above=0), default=0.04, help="mesh size (cell side 1)")
    parser.add_argument("--stretch", type=number(above=1), default=2.0, help="final stretch lambda = F_xx")
    parser.add_argument("--steps", type=number(int, least=1), default=10, help="load steps")
    parser.add_argument("--quick", action="store_true", help="a reduced run (h = 0.15, 4 steps to lambda = 1.6)")
    parser.add_argument("--out", type=Path, default=Path("output/rubber_particle_cell"))
    args = parser.parse_args(argv)
    if args.quick:
        args.h, args.stretch, args.steps = 0.15, 1.6, 4
    start = time.perf_counter()

    # 1. The cell: a periodic gmsh mesh with phases "rubber" and "particle".
    mesh = fe2.geometry.inclusion(0.2, h=args.h, phases=("rubber", "particle"))
    cell = fe2.Cell(mesh, {"rubber": RUBBER, "particle": PARTICLE})
    print(cell)

    # 2. Stretch it step by step under each condition; each step starts from the last one's solution.
    stretches = 1 + (args.stretch - 1) * np.arange(1, args.steps + 1) / args.steps
    runs = {bc: [] for bc in CONDITIONS}
    for bc in CONDITIONS:
        solution = None
        for stretch in stretches:
            solution = mixed.solve(cell, bc, *mixed.uniaxial(stretch), start=solution)
            runs[bc].append(solution)

    # 3. The curves, Hill-Mandel per step and Huet's order.
    print("\nnominal stress P_xx [MPa] and lateral stretch F_yy in uniaxial stress (plane strain); "
          "outer Newton iterations; worst Hill-Mandel residual of the three")
    print(f"{'lambda':>7s}" + "".join(f" {bc + ' P_xx':>14s}" for bc in CONDITIONS) +
          "".join(f" {bc + ' F_yy':>14s}" for bc in CONDITIONS) + f" {'iterations':>11s} {'Hill-Mandel':>12s}")
    curves = {bc: np.array([s.stress[0] for s in runs[bc]]) for bc in CONDITIONS}
    for k, stretch in enumerate(stretches):
        steps = [runs[bc][k] for bc in CONDITIONS]
        print(f"{stretch:7.3f}" + "".join(f" {s.stress[0]:14.6f}" for s in steps) +
              "".join(f" {s.deformation[1, 1]:14.6f}" for s in steps) +
              f" {'/'.join(str(s.iterations) for s in steps):>11s} {max(s.micro.hill_mandel for s in steps):12.1e}")
    hill_mandel = max(s.micro.hill_mandel for run in runs.values() for s in run)
    check(hill_mandel < 1e-10, f"Hill-Mandel <P : H> = <P> : <H> at every step (worst {hill_mandel:.1e})")
    gaps = np.minimum(curves["periodic"] - curves["subc"], curves["kubc"] - curves["periodic"])
    check(gaps.min() > 0, f"SUBC < periodic < KUBC at every stretch (smallest gap {gaps.min():.3g} MPa)")
    check(all(np.all(np.diff(c) > 0) for c in curves.values()), "the nominal stress grows with the stretch")

    # 4. The initial slope: at F = I the uniaxial-stress tangent is the small-strain cell's 1/S_xx.
    small = fe2.Cell(mesh, {"rubber": RUBBER.small_strain(), "particle": PARTICLE.small_strain()})
    for bc in CONDITIONS:
        slope = mixed.mixed_tangent(fe2.homogenize(cell, bc).tensor, mixed.controls(cell, *mixed.uniaxial(1.0))[0])[0, 0]
        modulus = 1 / np.linalg.inv(fe2.homogenize(small, bc).tensor)[0, 0]
        print(f"   {bc:8s} initial slope dP_xx/dF_xx = {slope:.6f} MPa; small-strain cell 1/S_xx = {modulus:.6f} MPa; "
              f"secant at lambda = {stretches[-1]:g}: {curves[bc][-1] / (stretches[-1] - 1):.4f} MPa")
        check(abs(slope - modulus) < 1e-10 * modulus, f"{bc}: the small-strain limit")

    # 5. The deformed micro fields for ParaView: a VTU per step and condition, a PVD series per condition.
    args.out.mkdir(parents=True, exist_ok=True)
    for bc in CONDITIONS:
        entries = []
        for k, s in enumerate(runs[bc]):
            name = f"{bc}_{k + 1:03d}.vtu"
            write_vtu(cell, args.out / name, s.field, s.gradient, stress_zz=plane_strain_stress_zz(cell, s.field),
                      units={"length": "-", "stress": "MPa"})
            entries.append((stretches[k], name))
        write_pvd(args.out / f"{bc}.pvd", entries)
    last = args.out / f"periodic_{args.steps:03d}.vtu"
    figure = render.cell_field(last, args.out / "rubber_particle_cell.png", "cauchy_stress", "xx", warp=1.0, units="MPa")
    curve = bc_comparison(np.concatenate([[1.0], stretches]),
                          {**{bc: np.concatenate([[0.0], curves[bc]]) for bc in CONDITIONS},
                           "rubber alone": np.concatenate([[0.0], uniaxial_stress(RUBBER, stretches)])},
                          args.out / "stress_stretch.png", xlabel="stretch lambda = F_xx",
                          ylabel="nominal stress P_xx [MPa]",
                          title="filled rubber, 20 % stiff particles: uniaxial stress, plane strain")
    print(f"\nwrote {3 * args.steps} VTU files (subc.pvd, periodic.pvd, kubc.pvd), {curve.name} and {figure.name} "
          f"to {args.out.resolve()} in {time.perf_counter() - start:.1f} s")
    return runs


def plane_strain_stress_zz(cell, u):
    """sigma_zz per element of the neo-Hookean phases in plane strain (F_zz = 1): P_zz = lambda ln J, so
    sigma_zz = lambda ln J / J."""
    J = np.linalg.det(kinematics.deformation(cell.strain(u)))
    lam = np.array([cell.materials[name].lam for name in cell.phases])[cell.phase]
    return element_average(cell, lam[:, None] * np.log(J) / J)


def uniaxial_stress(law, stretches):
    """P_xx of one material point of ``law`` in uniaxial stress (plane strain) at each F_xx of
    ``stretches`` (increasing): Newton on the free components (F_yx, F_yy) for P_yx = P_yy = 0, each
    stretch starting from the last one's answer."""
    H, out = np.zeros(4), []
    for stretch in stretches:
        H[0] = stretch - 1
        for _ in range(50):
            P, A, _ = law.response(H)
            if np.abs(P[2:]).max() < 1e-13 * law.E:
                break
            H[2:] -= np.linalg.solve(A[2:, 2:], P[2:])
        else:
            raise RuntimeError(f"uniaxial stress of one point did not converge at stretch {stretch}")
        out.append(P[0])
    return np.array(out)


def check(ok, what):
    print(f"   check: {what}: {'holds' if ok else 'FAILS'}")
    if not ok:
        raise RuntimeError(f"rubber_particle_cell: {what} does not hold")


if __name__ == "__main__":
    fe2.logs.show()  # fe2's log lines on stdout
    main()
