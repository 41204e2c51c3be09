"""Benchmark: micro (cell) solves per second against the cell size, for a periodic J2 cell on a fixed strain path
(or, with --law neo-hookean, a finite-strain cell of neo-Hookean phases on a fixed path of the displacement
gradient, 30 % stretch: every increment is then a Newton solve).

What one macro point of an FE² run does, alone: a cell (2D: a fiber, f = 0.4, in a J2 matrix; 3D: a
sphere, f = 0.2, in a J2 matrix) follows a fixed macro strain path of ``--increments`` equal
increments from 0 to E_max, every solve starting from the previous committed history and field
(``fe2.nonlinear.solve(cell, E, "periodic", state, guess=field)``). The first increment stays elastic
(no Newton iteration, no factorization); the others are plastic Newton solves.

Measured in one run, per cell size:
  * 1 core: the path solved over and over in this process (every library on one thread);
  * 2 cores: two worker processes (``fe2.parallel.executor("processes", workers=2)``, one thread
    each), each solving its own copy of the path over and over; the total throughput is the sum of
    the two workers' rates, their timed windows overlapping (the overlap is reported);
  * the floor of each solve: a Newton solve of k iterations needs k + 1 numeric factorizations of
    the cell matrix (one per iteration and one for the final tangent), k solves with 1 right-hand
    side and one with n (the macro strain components: 3 in 2D, 6 in 3D). The factorization is
    ``pattern.factorize(data)`` on the converged matrix of the path's last solve
    (``pattern = cell.pattern("periodic")``, ``data = solution.linearization.stiffness(pattern)``),
    each solve ``factor.solve`` right after a new factorization, as in a Newton iteration. They are
    sampled after every path, in alternation with the timed paths and in the same processes (the
    workers sample their own), and the medians are used. An elastic increment needs no
    factorization at all (the virgin cell's unit fields are reused): its floor is 0, so the floor of
    the path is that of its Newton solves; the ratio of the Newton solves alone is reported too.

Meshing, the first factorization of the virgin cell and the Pardiso analysis (once per cell and
process) are made before timing (a warm-up on the first two increments).

    python bench/micro_solves.py [--sizes 2d-500,2d-2k,2d-8k,2d-32k,3d-1k,3d-8k,3d-30k] [--seconds 3]
                                 [--json FILE] [--plot docs/images/micro_solves.png] [--profile] [--law neo-hookean]

--profile: also profile (cProfile, CPU time) the plastic solves of the 2D cell of about 2k DOFs and
print the top items.
"""

import os

# one thread for every library in this process and in the workers it spawns: "1 core" means it
for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse
import cProfile
import io
import json
import platform
import pstats
import sys
import time
from pathlib import Path

import numpy as np

import fe2

# --law: the phases (matrix, inclusion) and the end of the macro path, by dimension
LAWS = {
    # small strain, J2 matrix: Mandel (xx, yy, sqrt2 xy) and (xx, yy, zz, sqrt2 yz, sqrt2 xz, sqrt2 xy)
    "j2": ((fe2.J2Plasticity(E=70.0, nu=0.33, yield_stress=0.2, hardening=1.0), fe2.Isotropic(E=400.0, nu=0.2)),
           {2: np.array([0.008, -0.002, 0.003]), 3: np.array([0.008, -0.002, -0.002, 0.0, 0.0, 0.003])}),
    # finite strain, neo-Hookean phases: the displacement gradient H = F - I, row-major (fe2.kinematics),
    # a 30 % stretch along x with lateral contraction and some shear
    "neo-hookean": ((fe2.NeoHookean(E=70.0, nu=0.33), fe2.NeoHookean(E=400.0, nu=0.2)),
                    {2: np.array([0.3, 0.1, 0.0, -0.1]), 3: np.array([0.3, 0.1, 0.0, 0.0, -0.1, 0.0, 0.0, 0.0, -0.1])}),
}

# name: (dimension, element size h)
SIZES = {
    "2d-500": (2, 0.075), "2d-2k": (2, 0.035), "2d-8k": (2, 0.0175), "2d-32k": (2, 0.0085),
    "3d-1k": (3, 0.17), "3d-8k": (3, 0.075), "3d-30k": (3, 0.045),
}


def make_cell(name, law="j2"):
    dim, h = SIZES[name]
    matrix, inclusion = LAWS[law][0]
    if dim == 2:
        mesh = fe2.geometry.inclusion(0.4, h=h, phases=("matrix", "fiber"))
        return fe2.Cell(mesh, {"matrix": matrix, "fiber": inclusion})
    mesh = fe2.geometry.sphere(0.2, h=h, phases=("matrix", "inclusion"))
    return fe2.Cell(mesh, {"matrix": matrix, "inclusion": inclusion})


def strain_path(dim, increments, law="j2"):
    return [LAWS[law][1][dim] * k / increments for k in range(1, increments + 1)]


def run_path(cell, path, clock=time.perf_counter):
    """Solve the path from the virgin cell, each solve from the last committed history and field:
    [(start, end, iterations, elastic)] and the last solution."""
    state = field = None
    records = []
    for E in path:
        start = clock()
        solution = fe2.nonlinear.solve(cell, E, "periodic", state, guess=field)
        records.append((start, clock(), solution.iterations, bool(solution.elastic)))
        state, field = solution.state, solution.field
    return records, solution


class Floor:
    """Samples of the parts of the floor of a cell: a numeric factorization (``pattern.factorize``)
    of a converged cell matrix, and the first solve after it with 1 and with n right-hand sides (a
    factor's first solve is slower than its later ones, and a Newton iteration makes one)."""

    def __init__(self, cell):
        self.pattern = cell.pattern("periodic")
        rng = np.random.default_rng(0)
        self.rhs = (rng.standard_normal(self.pattern.n), rng.standard_normal((self.pattern.n, cell.physics.size)))
        self.samples = []   # [factorization, solve 1 rhs, factorization, solve n rhs]

    def sample(self, solution, pairs=2):
        """Time ``pairs`` x (factorize + solve with 1 rhs, factorize + solve with n rhs) of the
        converged matrix of ``solution``."""
        data = solution.linearization.stiffness(self.pattern)
        for _ in range(pairs):
            row = []
            for rhs in self.rhs:
                start = time.perf_counter()
                factor = self.pattern.factorize(data)
                middle = time.perf_counter()
                factor.solve(rhs)
                row += [middle - start, time.perf_counter() - middle]
                del factor
            self.samples.append(row)

    def parts(self):
        """(factorization, solve 1 rhs, solve n rhs): medians of the samples."""
        samples = np.array(self.samples)
        return (float(np.median(samples[:, [0, 2]])), float(np.median(samples[:, 1])), float(np.median(samples[:, 3])))


def repeat_path(cell, path, seconds, clock=time.perf_counter, floor=None):
    """Warm up on the first two increments, then solve the path until ``seconds`` have passed (at
    least once); after each path, ``floor`` (a :class:`Floor`) samples the converged matrix of its
    last solve, so that the solves and their floor are timed in alternation. Returns the records,
    the last solution and the CPU time of the process during the paths."""
    run_path(cell, path[:2])
    records, begin, cpu = [], clock(), 0.0
    while True:
        start = time.process_time()
        more, solution = run_path(cell, path, clock)
        cpu += time.process_time() - start
        records += more
        if floor is not None:
            floor.sample(solution)
        if clock() - begin >= seconds:
            return records, solution, cpu


def floor_parts(cell, solution, seconds=0.5):
    """(numeric factorization, solve with 1 rhs, solve with n rhs) of the converged matrix of
    ``solution``: medians of samples taken for about ``seconds`` (at least 5)."""
    floor, begin = Floor(cell), time.perf_counter()
    while len(floor.samples) < 5 or time.perf_counter() - begin < seconds:
        floor.sample(solution, pairs=1)
    return floor.parts()


def solve_floor(iterations, elastic, parts):
    """The floor of one solve: (k + 1) factorizations + k solves (1 rhs) + one solve (n rhs); 0 if elastic."""
    factorization, one, block = parts
    return 0.0 if elastic else (iterations + 1) * factorization + iterations * one + block


def _worker(task):
    """One of the parallel workers: its own copy of the path, solved over and over (wall clock),
    its floor sampled in alternation."""
    cell, path, seconds = task
    floor = Floor(cell)
    records, _, cpu = repeat_path(cell, path, seconds, clock=time.time, floor=floor)
    return os.getpid(), records, cpu, floor.samples


def summarize(records, parts, cpu):
    """The figures of the timed solves ``records``; ``cpu``: the CPU time of the process(es) meanwhile."""
    seconds = np.array([end - start for start, end, _, _ in records])
    iterations = np.array([r[2] for r in records])
    elastic = np.array([r[3] for r in records])
    floors = np.array([solve_floor(k, e, parts) for k, e in zip(iterations, elastic)])
    newton = ~elastic
    return {
        "solves": len(records), "seconds": float(seconds.sum()), "cpu / wall": cpu / float(seconds.sum()),
        "solves per second": len(records) / float(seconds.sum()), "ms per solve": 1e3 * float(seconds.mean()),
        "mean iterations": float(iterations.mean()), "elastic solves": int(elastic.sum()),
        "ms per elastic solve": 1e3 * float(seconds[elastic].mean()) if elastic.any() else None,
        "ms per Newton solve": 1e3 * float(seconds[newton].mean()) if newton.any() else None,
        "mean Newton iterations": float(iterations[newton].mean()) if newton.any() else 0.0,
        "floor ms per solve": 1e3 * float(floors.mean()),
        "floor solves per second": len(records) / float(floors.sum()) if floors.sum() > 0 else None,
        "ratio": float(seconds.sum() / floors.sum()) if floors.sum() > 0 else None,
        "ratio Newton solves": float(seconds[newton].sum() / floors[newton].sum()) if newton.any() else None,
    }


def parallel(executor, cell, path, seconds):
    """The workers, each its copy of the path; total rate = sum of the workers' rates (each over
    its timed window, path time only); the floor from the workers' own samples."""
    results = executor.map(_worker, [(cell, path, seconds)] * executor.workers, progress=False)
    starts = [records[0][0] for _, records, _, _ in results]
    ends = [records[-1][1] for _, records, _, _ in results]
    rates = [len(records) / sum(end - start for start, end, _, _ in records) for _, records, _, _ in results]
    overlap = max(0.0, min(ends) - max(starts)) / float(np.mean(np.subtract(ends, starts)))
    everything = [r for _, records, _, _ in results for r in records]
    floor = Floor(cell)
    floor.samples = [row for _, _, _, samples in results for row in samples]
    parts = floor.parts()
    row = summarize(everything, parts, sum(cpu for _, _, cpu, _ in results))
    row.update({"solves per second": float(sum(rates)), "workers": len(results),
                "factorization [ms]": 1e3 * parts[0], "solve 1 rhs [ms]": 1e3 * parts[1],
                "solve n rhs [ms]": 1e3 * parts[2],
                "distinct worker processes": len({pid for pid, _, _, _ in results}), "overlap": overlap,
                "floor solves per second": (executor.workers * row["floor solves per second"]
                                            if row["floor solves per second"] else None)})
    return row


def profile(cell, path, repeats=10, top=15):
    """cProfile (CPU time of this thread: waiting for a busy core is not counted) of the plastic
    solves of the path, each from its history of a first run, ``repeats`` times."""
    run_path(cell, path)
    histories, state, field = [], None, None
    for E in path:
        histories.append((E, state, field))
        solution = fe2.nonlinear.solve(cell, E, "periodic", state, guess=field)
        state, field = solution.state, solution.field
    plastic = [(E, s, f) for E, s, f in histories
               if not fe2.nonlinear.solve(cell, E, "periodic", s, guess=f).elastic]
    profiler = cProfile.Profile(time.thread_time)
    profiler.enable()
    for _ in range(repeats):
        for E, s, f in plastic:
            fe2.nonlinear.solve(cell, E, "periodic", s, guess=f)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return repeats * len(plastic), out.getvalue()


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    versions = {}
    for module in ("numpy", "scipy", "skfem", "numba", "pypardiso", "mkl", "gmsh"):
        try:
            from importlib.metadata import version
            versions[module] = version({"skfem": "scikit-fem"}.get(module, module))
        except Exception:
            versions[module] = "?"
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "versions": versions,
            "threads per process": os.environ.get("MKL_NUM_THREADS")}


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    for dim, color in ((2, "tab:blue"), (3, "tab:red")):
        chosen = [r for r in rows if r["dim"] == dim]
        if not chosen:
            continue
        dofs = [r["dofs"] for r in chosen]
        ax.loglog(dofs, [r["1 core"]["solves per second"] for r in chosen], "o-", color=color, label=f"{dim}D, 1 core")
        ax.loglog(dofs, [r["1 core"]["floor solves per second"] for r in chosen], "--", color=color, alpha=0.7,
                  label=f"{dim}D floor, 1 core")
        two = [r for r in chosen if "2 cores" in r]
        if two:
            ax.loglog([r["dofs"] for r in two], [r["2 cores"]["solves per second"] for r in two], "s:", color=color,
                      label=f"{dim}D, 2 processes")
    ax.set_xlabel("cell DOFs")
    ax.set_ylabel("micro solves per second")
    ax.set_title("Periodic J2 cell on a fixed strain path")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(SIZES), help=f"comma-separated, of {', '.join(SIZES)}")
    parser.add_argument("--increments", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=3.0, help="time each measurement at least this long")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-parallel", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--plot", type=Path, default=None)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--law", choices=sorted(LAWS), default="j2",
                        help="j2: small strain, J2 matrix; neo-hookean: finite strain, neo-Hookean phases")
    args = parser.parse_args()
    names = [name.strip() for name in args.sizes.split(",") if name.strip()]
    unknown = sorted(set(names) - set(SIZES))
    if unknown:
        parser.error(f"unknown sizes {unknown}; choose from {', '.join(SIZES)}")

    result = {"machine": machine(), "load average at start": os.getloadavg(), "increments": args.increments,
              "law": args.law, "E_max": {dim: E.tolist() for dim, E in LAWS[args.law][1].items()}, "sizes": []}
    begin = time.perf_counter()
    executor = None if args.no_parallel else fe2.parallel.executor("processes", workers=args.workers)
    try:
        for name in names:
            start = time.perf_counter()
            cell = make_cell(name, args.law)
            meshing = time.perf_counter() - start
            dim = SIZES[name][0]
            path = strain_path(dim, args.increments, args.law)
            floor = Floor(cell)
            records, solution, cpu = repeat_path(cell, path, args.seconds, floor=floor)
            parts = floor.parts()
            row = {"name": name, "dim": dim, "h": SIZES[name][1], "dofs": cell.ndofs,
                   "reduced dofs": cell.pattern("periodic").n, "meshing and set-up [s]": meshing,
                   "factorization [ms]": 1e3 * parts[0], "solve 1 rhs [ms]": 1e3 * parts[1],
                   "solve n rhs [ms]": 1e3 * parts[2],
                   "iterations along the path": [int(r[2]) for r in records[:len(path)]],
                   "1 core": summarize(records, parts, cpu)}
            if executor is not None:
                row["2 cores"] = parallel(executor, cell, path, args.seconds)
            result["sizes"].append(row)
            one = row["1 core"]
            print(f"{name:7s} {cell.ndofs:6d} DOFs: {one['solves per second']:8.1f} solves/s (1 core), "
                  f"{one['ms per solve']:8.2f} ms/solve, {one['mean iterations']:.2f} it, floor {one['floor ms per solve']:.2f} ms, "
                  f"ratio {one['ratio']:.2f} (cpu/wall {one['cpu / wall']:.2f})" + (f"; {row['2 cores']['solves per second']:8.1f} solves/s (2 processes)"
                                                  if "2 cores" in row else ""), flush=True)
            if args.profile and name == "2d-2k":
                count, text = profile(cell, path)
                result["profile 2d-2k"] = text
                print(f"cProfile of {count} plastic solves of the {cell.ndofs}-DOF cell:\n{text}", flush=True)
    finally:
        if executor is not None:
            executor.close()
    result["load average at end"] = os.getloadavg()
    result["total [s]"] = time.perf_counter() - begin

    print_table(result)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    if args.plot:
        plot(result["sizes"], args.plot)


def print_table(result):
    head = ("| cell | DOFs | run | solves/s | ms/solve | mean iterations | elastic solves | floor ms/solve | "
            "**ratio** | Newton solve ms | Newton floor ms | **ratio Newton** |")
    print(head)
    print("| --- |" + " ---: |" * (head.count("|") - 2))
    for row in result["sizes"]:
        for run in ("1 core", "2 cores"):
            if run not in row:
                continue
            r = row[run]
            newton_floor = (r["floor ms per solve"] * r["solves"] / (r["solves"] - r["elastic solves"])
                            if r["solves"] > r["elastic solves"] else 0.0)
            label = "1 core" if run == "1 core" else f"{r['workers']} processes"
            per = r["ms per solve"] if run == "1 core" else 1e3 / r["solves per second"]
            print(f"| {row['name']} | {row['dofs']:,} | {label} | {r['solves per second']:.1f} | {per:.2f} | "
                  f"{r['mean iterations']:.2f} | {r['elastic solves']}/{r['solves']} | {r['floor ms per solve']:.2f} | "
                  f"**{r['ratio']:.2f}** | {r['ms per Newton solve']:.2f} | {newton_floor:.2f} | **{r['ratio Newton solves']:.2f}** |")


if __name__ == "__main__":
    sys.exit(main())
