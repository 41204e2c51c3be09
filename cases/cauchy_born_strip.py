"""A Cauchy-Born crystal strip stretched until its tangent loses definiteness.

The strip (width 1, length 3) is a 2D triangular crystal (a close-packed plane, one bond family
along x) whose points follow the Cauchy-Born law of a Lennard-Jones (or Morse) potential,
fe2.materials.cauchy_born.CauchyBorn. A band across its middle, one element high, is made of a
slightly weaker crystal (the well depth lowered by ``--imperfection``, 1 %), so that one place
fails first. The strip is pulled along y (across the bonds along x) by a nominal traction on its
top, the left edge and the bottom on rollers: without the band the strip is exactly in uniaxial
stress.

1. The homogeneous prediction: on the uniaxial-stress path F = diag(lambda_x, lambda) with
   P_xx = 0, the stretch lambda_c where the least value of the acoustic tensor
   (fe2.stability.ellipticity) vanishes, found by bisection, and where the lattice's own stability
   (fe2.stability.lattice_stability: d^2W/dE^2 positive definite) vanishes. For this path both
   vanish together, where the inclined bonds reach r phi''(r) = phi'(r), before the maximum of the
   nominal stress: a shear band can form while the strip still carries more load.
2. The strip, step by step: the traction schedule makes the weak band's homogeneous stretch grow by
   ``--step`` per step. After each converged step, lambda_min of the tangent and of the lattice
   stiffness at every point. The run stops at the first step where lambda_min <= 0 somewhere (the
   macro stiffness is then about to lose positive definiteness: past it the macro Newton's
   factorization, Pardiso in SPD mode, fails), or when the macro Newton fails first; either way it
   says which.
3. The first point to fail and the stretch there (interpolated to lambda_min = 0 between the last
   two steps), against the homogeneous prediction; the weak band fails at the same local stretch
   (scaling the well depth scales W and leaves lambda_c unchanged), at a lower load.
4. Output: out/cauchy_born_strip.png (lambda_min against the stretch: the first failing point, the
   strip's least value and the homogeneous path), out/last_stable.vtu (the last stable step:
   displacement, P, J and both lambda_min per element, for ParaView), out/summary.json.

    python cases/cauchy_born_strip.py [--potential lj|morse] [--n 10] [--step 0.0025] [--imperfection 0.01]
                                      [--quick] [--out DIR]
"""

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import skfem
from scipy.optimize import bisect
from skfem.io.meshio import to_meshio

import fe2
import fe2.logs
from fe2 import kinematics, stability
from fe2.io.vtu import pad, pad_tensor, save_vtu
from fe2.macro import Dirichlet, Problem, Traction
from fe2.macro.problem import DivergenceError
from fe2.materials.cauchy_born import Bravais, CauchyBorn, LennardJones, Morse
from postprocess import plots

LENGTH = 3.0   # the strip is [0, 1] x [0, LENGTH]


def potentials(name, imperfection):
    """The crystal's pair potential and the weakened one of the band (the well depth lowered)."""
    if name == "lj":
        return LennardJones(1.0, 1.0), LennardJones(1.0 - imperfection, 1.0)
    return Morse(1.0, 6.0, 1.0), Morse(1.0 - imperfection, 6.0, 1.0)


def uniaxial(law, stretch):
    """The displacement gradients (..., 4) of uniaxial stress along y at the stretches lambda_yy =
    ``stretch`` (any shape): F = diag(lambda_x, stretch) with P_xx = 0, lambda_x by Newton with the
    law's tangent A_xxxx, all stretches at once."""
    stretch = np.asarray(stretch, dtype=float)
    H = np.zeros(stretch.shape + (4,))               # (xx, xy, yx, yy)
    H[..., 3] = stretch - 1.0
    for _ in range(40):
        P, A, _ = law.response(H)
        if np.all(np.abs(P[..., 0]) <= 1e-12 * np.abs(A[..., 0, 0])):
            return H
        H[..., 0] -= P[..., 0] / A[..., 0, 0]
    raise RuntimeError(f"no uniaxial stress state found at the stretches {stretch.ravel().tolist()}")


def homogeneous_loss(law, measure, top=1.3):
    """The least stretch where ``measure(H)`` (least eigenvalues of the points H) vanishes on the
    uniaxial path, by bisection on the first sign change of a scan of [1, top]."""
    stretches = np.linspace(1.0, top, 121)
    lost = np.flatnonzero(measure(uniaxial(law, stretches)) <= 0)
    if lost.size == 0:
        return None
    k = lost[0]
    return bisect(lambda s: float(measure(uniaxial(law, s))), stretches[k - 1], stretches[k], xtol=1e-13)


def ellipticity_of(law):
    return lambda H: stability.ellipticity(law.response(H)[1])[0]


def lattice_of(law):
    return lambda H: stability.lattice_stability(law, H)


def strip_mesh(n):
    """The strip meshed by n x (3n + 1) squares cut in triangles, the weak band the middle row."""
    rows = 3 * n + 1                                   # odd: one row of elements centred at mid-length
    mesh = skfem.MeshTri.init_tensor(np.linspace(0, 1, n + 1), np.linspace(0, LENGTH, rows + 1))
    band = lambda x: np.abs(x[1] - LENGTH / 2) < LENGTH / rows / 2
    mesh = mesh.with_subdomains({"band": band, "crystal": lambda x: ~band(x)})
    return mesh.with_boundaries({"left": lambda x: x[0] < 1e-9, "bottom": lambda x: x[1] < 1e-9,
                                 "top": lambda x: x[1] > LENGTH - 1e-9})


class Unstable(Exception):
    """Raised by the step callback at the first step where lambda_min <= 0 at some point."""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--potential", choices=("lj", "morse"), default="lj")
    parser.add_argument("--n", type=int, default=10, help="elements across the strip's width")
    parser.add_argument("--step", type=float, default=0.0025, help="stretch increment of the weak band per step")
    parser.add_argument("--imperfection", type=float, default=0.01, help="relative weakening of the band")
    parser.add_argument("--quick", action="store_true", help="a reduced run (coarse mesh, large steps)")
    parser.add_argument("--out", type=Path, default=Path("output/cauchy_born_strip"))
    args = parser.parse_args(argv)
    if args.n < 1 or not 0 < args.step < 0.05 or not 0 <= args.imperfection < 0.5:
        parser.error(f"need --n >= 1, 0 < --step < 0.05 and 0 <= --imperfection < 0.5, got {args.n}, {args.step}, "
                     f"{args.imperfection}")
    if args.quick:
        args.n, args.step = 4, 0.01
    start = time.perf_counter()
    potential, weakened = potentials(args.potential, args.imperfection)
    crystal = CauchyBorn(potential, Bravais.triangular())
    band = CauchyBorn(weakened, Bravais.triangular())
    print(f"{crystal!r}: r0 = {crystal.spacing:.6g}, small-strain stiffness (Mandel)\n"
          f"{np.round(crystal.small_strain().tensor(2), 4)}")

    # 1. the homogeneous prediction on the uniaxial-stress path
    critical = homogeneous_loss(crystal, ellipticity_of(crystal))
    lattice_critical = homogeneous_loss(crystal, lattice_of(crystal))
    stretches = np.linspace(1.0, critical + 0.03, 61)
    on_path = uniaxial(crystal, stretches)
    P_yy = crystal.response(on_path)[0][:, 3]
    peak = int(np.argmax(P_yy))
    print(f"homogeneous uniaxial stress along y: ellipticity lost at the stretch {critical:.10f}, the lattice "
          f"stability at {lattice_critical:.10f}; the nominal stress P_yy = {P_yy[np.searchsorted(stretches, critical)]:.4g} "
          f"there still rises, to its maximum {P_yy[peak]:.4g} "
          f"{'at' if peak < len(stretches) - 1 else 'beyond'} the stretch {stretches[peak]:.4f}")

    # 2. the strip, step by step: the traction that stretches the weak band homogeneously by `step` each time
    band_stretches = np.arange(1.0 + args.step, critical + 2.5 * args.step, args.step)
    tractions = band.response(uniaxial(band, band_stretches))[0][:, 3]
    rising = np.flatnonzero(np.diff(tractions) <= 0)
    tractions = tractions[:rising[0] + 1] if rising.size else tractions   # up to the maximum of the nominal stress
    mesh = strip_mesh(args.n)
    problem = Problem(mesh, {"crystal": crystal, "band": band},
                      dirichlet=[Dirichlet("left", 0.0, components=(0,)), Dirichlet("bottom", 0.0, components=(1,))],
                      neumann=[Traction("top", [0.0, tractions[-1]])])
    top = problem.body.vertex_dofs[mesh.p[1] > LENGTH - 1e-9, 1]      # u_y of the top vertices
    history = []   # per converged step: macro stretch, local stretch F_yy, both lambda_min per point, fields

    def measure(step, u, states, problem):
        H = problem.body.strain(u)                     # (elements, 1 point, 4): P1, one point per element
        P, A, _ = problem.body.respond(H, states)
        H, P, A = H[:, 0], P[:, 0], A[:, 0]
        history.append({"load": step.load, "stretch": 1.0 + u[top].mean() / LENGTH,
                        "F_yy": 1.0 + H[:, 3], "ellipticity": stability.ellipticity(A)[0],
                        "lattice": np.linalg.eigvalsh(stability.green_stiffness(H, P, A))[:, 0], "u": u, "P": P,
                        "H": H})
        if history[-1]["ellipticity"].min() <= 0:
            raise Unstable(f"step {step.number}")

    print(f"strip: {mesh.t.shape[1]} elements ({np.sum(problem.body.phase == problem.body.phases.index('band'))} in "
          f"the band), {len(tractions)} steps of {args.step:g} in the band's stretch")
    try:
        with fe2.logs.show(logging.ERROR):
            problem.solve(steps=tractions / tractions[-1], callback=measure, max_cutbacks=0)
        reason = "the schedule ended before lambda_min vanished"
    except Unstable as stop:
        reason = f"lambda_min of the tangent reached zero at {stop}: the run stops there"
    except DivergenceError as error:
        reason = f"the macro Newton failed before lambda_min reached zero ({error})"
    print(f"stopped: {reason}")

    # 3. the first point to fail, and the stretch there: interpolated to lambda_min = 0 between the last
    # stable step and the next, or extrapolated from the last two stable steps if the Newton failed first
    stable = [h for h in history if h["ellipticity"].min() > 0]
    crossing = len(stable) < len(history)
    if len(stable) < (1 if crossing else 2):
        raise RuntimeError(f"too few stable steps ({len(stable)}) to locate the loss: use a smaller --step")
    last = stable[-1]
    before, after = (last, history[len(stable)]) if crossing else (stable[-2], last)
    summary = {"potential": repr(potential), "imperfection": args.imperfection, "step": args.step,
               "homogeneous_ellipticity_loss": critical, "homogeneous_lattice_loss": lattice_critical,
               "reason": reason, "last_stable_stretch": last["stretch"], "steps": len(history)}
    centroids = mesh.p[:, mesh.t].mean(axis=1).T
    for name in ("ellipticity", "lattice"):
        falling = np.flatnonzero(after[name] < before[name])
        if falling.size == 0:
            print(f"{name}: no point is losing it")
            continue
        fraction = before[name][falling] / (before[name][falling] - after[name][falling])
        point, theta = int(falling[np.argmin(fraction)]), float(fraction.min())
        local = (1 - theta) * before["F_yy"][point] + theta * after["F_yy"][point]
        macro = (1 - theta) * before["stretch"] + theta * after["stretch"]
        phase = problem.body.phases[problem.body.phase[point]]
        how = "interpolated" if theta <= 1 else "extrapolated"
        summary[name] = {"point": point, "phase": phase, "centroid": centroids[point].tolist(), "local_stretch": local,
                         "macro_stretch": macro, "how": how}
        print(f"{name}: first lost at element {point} ({phase}, centre {np.round(centroids[point], 3).tolist()}) at "
              f"the macro stretch {macro:.5f} ({how}); its own stretch F_yy = {local:.5f} against the homogeneous "
              f"prediction {critical:.5f} (difference {local - critical:+.1e})")

    # 4. output: lambda_min against the stretch, the last stable step for ParaView, the numbers
    args.out.mkdir(parents=True, exist_ok=True)
    point = summary["ellipticity"]["point"] if "ellipticity" in summary else int(np.argmin(last["ellipticity"]))
    curves = {"uniaxial path: ellipticity": (stretches, ellipticity_of(crystal)(on_path)),
              "uniaxial path: lattice": (stretches, lattice_of(crystal)(on_path))}
    for name in ("ellipticity", "lattice"):
        curves[f"element {point}: {name}"] = ([h["F_yy"][point] for h in history], [h[name][point] for h in history])
    png = plots.stability(curves, args.out / "cauchy_born_strip.png", critical={"homogeneous prediction": critical},
                          styles={f"element {point}: ellipticity": "o", f"element {point}: lattice": "s",
                                  "uniaxial path: ellipticity": "-", "uniaxial path: lattice": "--"},
                          xlabel="stretch F_yy at the point", ylabel="least eigenvalue (energy per area)",
                          title=f"Cauchy-Born strip, {args.potential}: the first point to fail")
    vtu = write_step(problem, last, args.out / "last_stable.vtu")
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(f"wrote {png}, {vtu} and {args.out / 'summary.json'} in {time.perf_counter() - start:.1f} s")
    return summary


def write_step(problem, step, path):
    """The step's displacement, first Piola-Kirchhoff stress P, J = det F and both lambda_min per
    element as a VTU (tensors as full 3x3 row-major arrays; named as fe2.io.vtu.finite_strain_fields
    names them)."""
    body = problem.body
    F = kinematics.deformation(step["H"])
    mesh = to_meshio(body.mesh, encode_cell_data=False)
    mesh.points = pad(body.mesh.p.T)
    mesh.point_data = {"displacement": pad(step["u"][body.vertex_dofs])}
    cells = {"first_piola_kirchhoff": pad_tensor(kinematics.from_vector(step["P"])), "jacobian": kinematics.jacobian(F),
             "lambda_min": step["ellipticity"], "lattice_stability": step["lattice"],
             "phase": body.phase.astype(np.int32)}
    mesh.cell_data = {name: [value] for name, value in cells.items()}
    return save_vtu(mesh, path)


if __name__ == "__main__":
    fe2.logs.show()
    main()
