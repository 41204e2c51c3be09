"""How large must a random cell be? An RVE-size study of a disc composite (conductivity).

For cells of L = 2.5 ... 8 disc diameters and several random realizations each, the apparent
conductivity is computed under SUBC, periodic and KUBC. The study reports the mean, standard deviation
and 95 % confidence interval per size and condition, the exponent of Var ~ V^-alpha, and the cell size
that meets a chosen relative precision (Kanit et al., Int. J. Solids Struct. 40, 2003). SUBC and
KUBC bracket the periodic estimate and close in on it as L grows. The realizations run in parallel
through the executor that FE² uses.

    python cases/rve_size.py [--sizes 2.5 4 6 8] [--realizations 10] [--executor processes] [--out DIR]
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np

import fe2
import fe2.logs
from postprocess import plots

MATERIALS = {"matrix": fe2.Conductor(1.0), "inclusion": fe2.Conductor(10.0)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[2.5, 4.0, 6.0, 8.0], help="cell sizes in diameters")
    parser.add_argument("--realizations", type=int, default=10)
    parser.add_argument("--fraction", type=float, default=0.3)
    parser.add_argument("--h", type=float, default=0.2, help="mesh size in diameters")
    parser.add_argument("--precision", type=float, default=0.01, help="relative precision of the mean for the RVE size")
    parser.add_argument("--executor", default="processes", help="serial, processes, dask, or a Dask scheduler address")
    parser.add_argument("--out", type=Path, default=Path("output/rve_size"))
    args = parser.parse_args(argv)
    start = time.perf_counter()

    # 1. A picklable generator of random periodic disc cells, sized in diameters.
    generator = fe2.rve_size.RandomDiscs(args.fraction, h=args.h)

    # 2. All realizations of all sizes, three conditions each, through the executor (with progress).
    study = fe2.rve_size.size_study(generator, args.sizes, args.realizations, MATERIALS, executor=args.executor)
    print("\napparent conductivity Z = (K11 + K22) / 2, mean ± 95 % interval (standard deviation):")
    print(study.table())

    # 3. What it says about the RVE.
    alpha = study.variance_exponent("periodic")
    print(f"\nvariance ~ V^-alpha: alpha = {alpha:.2f} (periodic), {study.variance_exponent('kubc'):.2f} (KUBC), "
          f"{study.variance_exponent('subc'):.2f} (SUBC)")
    print(f"SUBC <= periodic <= KUBC in every realization: {study.ordered()}")
    sizes = {n: study.rve_size(args.precision, realizations=n) for n in (1, 10)}
    for n, size in sizes.items():
        print(f"cell size for {100 * args.precision:g} % precision with {n:2d} realization(s): L = {size:.1f} diameters")

    png = study.plot(args.out / "rve_size.png")

    # 4. The three conditions against Voigt/Reuss and Hashin-Shtrikman at the nominal fraction: the
    #    apparent values of small windows need not lie inside HS (only within Voigt/Reuss), the
    #    periodic one approaches it as the cell grows.
    reference = fe2.Cell(fe2.geometry.inclusion(args.fraction, h=0.1, phases=("matrix", "inclusion")), MATERIALS)
    lower, upper = fe2.bounds.hashin_shtrikman(reference)
    mean = lambda C: float(np.mean(np.diagonal(C)))  # noqa: E731  (Z, as in the study)
    bounds = {"voigt": mean(fe2.bounds.voigt(reference)), "reuss": mean(fe2.bounds.reuss(reference)),
              "hs_upper": mean(upper), "hs_lower": mean(lower)}
    comparison = plots.bc_comparison(study.sizes, {bc: study.values[bc] for bc in ("subc", "periodic", "kubc")},
                                     args.out / "rve_size_bounds.png", bounds=bounds, xlabel="cell size L / d",
                                     ylabel="apparent conductivity Z", title="three conditions against the bounds of the nominal fraction")
    (args.out / "rve_size.json").write_text(json.dumps({
        "sizes": study.sizes.tolist(), "realizations": study.realizations,
        "values": {bc: v.tolist() for bc, v in study.values.items()}, "alpha_periodic": alpha,
        "rve_size": {str(n): s for n, s in sizes.items()}, "precision": args.precision}, indent=2))
    print(f"\nwrote {png.name}, {comparison.name} and rve_size.json to {args.out.resolve()} in {time.perf_counter() - start:.1f} s")
    return study


if __name__ == "__main__":
    fe2.logs.show()  # fe2's log lines (e.g. the macro Newton iterations) on stdout
    main()
