"""Benchmark: the cost of the stability field of a finite-strain FE² step, per macro point.

At each output step :class:`fe2.io.MacroWriter` computes the least value of the acoustic tensor of the
macro tangent at every quadrature point (:func:`fe2.stability.ellipticity`: the least eigenvalue of
Q(n) at 72 sampled directions in 2D (1000 in 3D), then 12 rounds of 9 (2D) or 81 (3D) directions
on shrinking grids around the best one). Measured in one run, on tangents of a Saint Venant-Kirchhoff
law at random gradients |H| ~ 0.1, for 1 to 10^4 points:

  * the ellipticity, in seconds per point (median of repeats);
  * its floor: the search's own arithmetic without its bookkeeping, in the same batches: the
    acoustic tensors (one batched product) and their least eigenvalues (closed form,
    ``fe2.stability.least_eigenvalue``) at the sampled directions, then 12 times at 9 (2D) or 81 (3D)
    directions per point;
  * for scale, one cell solve of the case cases/finite_strain_plate.py (a periodic neo-Hookean
    particle cell of 318 DOFs at a 30 % stretch, from the elastic predictor), which every macro
    point pays at each Newton iteration.

    python bench/ellipticity.py [--points 1 100 1000 10000] [--repeats 5]
"""

import os

for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_name, "1")   # one thread: the machine is shared

import argparse

import numpy as np

import fe2
from fe2 import kinematics, stability
from fe2.cell import nonlinear
from j2_plane_stress import median_time  # noqa: E402
from micro_solves import machine  # noqa: E402


def search_arithmetic(A4, dim, rng):
    """The batches of acoustic tensors and least eigenvalues the search evaluates (fixed directions):
    Q(n) = (n (x) n) . A as one batched product, its least eigenvalue in closed form."""
    trial = stability.directions(dim)
    local = rng.standard_normal((A4.shape[0], 9 if dim == 2 else 81, dim))
    local /= np.linalg.norm(local, axis=-1, keepdims=True)
    AJL = np.ascontiguousarray(A4.transpose(0, 2, 4, 1, 3)).reshape(len(A4), dim * dim, dim * dim)

    def batch(n):
        nn = (n[..., :, None] * n[..., None, :]).reshape(n.shape[:-1] + (dim * dim,))
        stability.least_eigenvalue((nn @ AJL).reshape(len(A4), n.shape[-2], dim, dim))

    def run():
        batch(trial[None])
        for _ in range(12):
            batch(local)
    return run


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, nargs="+", default=[1, 100, 1000, 10000])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    about = machine()
    print(f"machine: {about['cpu']}, {about['cores']} cores, shared with other benchmarks while this ran; one thread; "
          f"numpy {about['versions']['numpy']}")
    law = fe2.SaintVenantKirchhoff(10.0, 0.3)
    print("dim  points   ellipticity [ms/point]   floor [ms/point]   ratio")
    for dim in (2, 3):
        for count in args.points if dim == 2 else [p for p in args.points if p <= 1000]:
            A = law.response(0.1 * np.random.default_rng(0).standard_normal((count, dim * dim)))[1]
            seconds = median_time(lambda: stability.ellipticity(A), args.repeats)
            floor = median_time(search_arithmetic(A.reshape((-1,) + (dim,) * 4), dim, np.random.default_rng(1)),
                                args.repeats)
            print(f"{dim:3d}  {count:6d}   {1e3 * seconds / count:22.4f}   {1e3 * floor / count:16.4f}   "
                  f"{seconds / floor:5.2f}")
    cell = fe2.Cell(fe2.geometry.inclusion(0.2, h=0.1, phases=("matrix", "particle")),
                    {"matrix": fe2.NeoHookean(1.0, 0.45), "particle": fe2.NeoHookean(50.0, 0.3)})
    H = kinematics.gradient(np.diag([1.3, 0.85]))
    nonlinear.solve(cell, H, "periodic")   # the pattern's analysis, once
    seconds = median_time(lambda: nonlinear.solve(cell, H, "periodic"), args.repeats)
    iterations = nonlinear.solve(cell, H, "periodic").iterations
    print(f"one cell solve ({cell.ndofs} DOFs, F = diag(1.3, 0.85), {iterations} micro Newton iterations): "
          f"{1e3 * seconds:.2f} ms")


if __name__ == "__main__":
    main()
