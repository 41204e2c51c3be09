"""Benchmark: fe2 against fedoo, the nearest open peer, on the same J2 cell and the same macro strains.

Both codes solve the same discrete problem in the same run, one BLAS/OpenMP thread each:
  * the cell: fe2.geometry.inclusion(0.4, h=0.035) (2096 DOFs, P1 triangles, plane strain), the matrix
    J2 with linear isotropic hardening (E=70, nu=0.33, sigma_y=0.2, H=1), the fiber elastic (E=400,
    nu=0.2); its points, triangles and phases are written to an .npz that both read;
  * the strains: 8 plastic macro strains, the plate benchmark's E = (0.008, -0.002, 0.003) (Mandel:
    xx, yy, sqrt2 xy) scaled by 0.5, 1 or 1.5 and rotated in the plane, each solved from the virgin state
    in one increment, periodic conditions;
  * fe2: fe2.nonlinear.solve(cell, E, "periodic") (stress average and consistent tangent), best of 3;
  * fedoo (installed by this script into its own venv, bench/.venv-fedoo, from PyPI with its "solver"
    extra, i.e. pypardiso), run by bench/peer_fedoo_worker.py in that venv, best of 3, three ways:
      - "fedoo": the cell problem of its FE² law (fedoo.constitutivelaw.FE2) in 2D plane strain on the
        same mesh: simcoon's EPICP J2 law with its algorithmic tangent, PeriodicBC, the strain on the
        MeanStrain DOFs, nlsolve in one increment to the same relative residual as fe2 (1e-10; both
        divide the residual by the norm of the internal forces), get_tangent_stiffness, the stress
        average; the environment as installed;
      - "fedoo, PYPARDISO_MKL_RT set": the same with pypardiso told where its libmkl_rt is, which saves
        the library search pypardiso makes each time fedoo builds a solver (once per tangent);
      - "fedoo FE2 law, 3D-extruded": the FE² law as shipped (3D only) on the mesh extruded by one
        layer of wedges, one macro point, its own micro tolerance (tol_nr = 0.05);
  * the comparison: ms per cell solve of each, the ratios to fe2, the relative difference of the
    averaged stresses and of the tangents, the iteration counts, fedoo's time by stage, the versions,
    the machine and its 1-minute load. fe2 and fedoo alternate over --rounds; the best counts.

    python bench/peer_fedoo.py [--repeats 3] [--rounds 2] [--max-load 1.0 --wait 600] [--json FILE]
"""

import os

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
for _var in THREAD_VARIABLES:
    os.environ[_var] = "1"  # before numpy and MKL load: per core, for fe2 here and fedoo in its subprocess

CLEAN_ENV = {k: v for k, v in os.environ.items() if k != "PYPARDISO_MKL_RT"}  # before fe2 sets it (fe2.cell.linalg)

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-fedoo"
WORKER = HERE / "peer_fedoo_worker.py"
MATERIALS = {"matrix": {"E": 70.0, "nu": 0.33, "yield_stress": 0.2, "hardening": 1.0},
             "fiber": {"E": 400.0, "nu": 0.2}}
BASE = np.array([0.008, -0.002, 0.003])  # Mandel (xx, yy, sqrt2 xy), plastic in the plate benchmark
CASES = [(1.0, 0), (1.0, 45), (1.0, 90), (1.0, 135), (0.5, 30), (0.5, 120), (1.5, 60), (1.5, 150)]  # (scale, degrees)
SQ2 = np.sqrt(2.0)


def strains():
    """The macro strains, Mandel: BASE scaled and rotated (R eps R^T) in the plane."""
    out = []
    for scale, degrees in CASES:
        xx, yy, xy = scale * BASE[0], scale * BASE[1], scale * BASE[2] / SQ2
        tensor = np.array([[xx, xy], [xy, yy]])
        c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
        rot = np.array([[c, -s], [s, c]])
        t = rot @ tensor @ rot.T
        out.append(np.array([t[0, 0], t[1, 1], SQ2 * t[0, 1]]))
    return out


def venv_python():
    return VENV / "bin" / "python"


def ensure_peer(fedoo_version):
    """Create bench/.venv-fedoo and install fedoo (with pypardiso) unless it is there already."""
    python = venv_python()
    check = [str(python), "-c", "import fedoo, simcoon, pypardiso; print(fedoo.__version__)"]
    if python.exists():
        found = subprocess.run(check, capture_output=True, text=True)
        if found.returncode == 0 and found.stdout.strip() == fedoo_version:
            return
    else:
        base = shutil.which("python3") or sys.executable
        print(f"creating {VENV} ({base} -m venv)", flush=True)
        subprocess.run([base, "-m", "venv", str(VENV)], check=True)
    print(f"installing fedoo[solver]=={fedoo_version} into {VENV}", flush=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", f"fedoo[solver]=={fedoo_version}"], check=True)
    found = subprocess.run(check, capture_output=True, text=True)
    if found.returncode != 0:
        raise SystemExit(f"fedoo does not import in {VENV}:\n{found.stderr}")


def make_cell(h):
    import fe2
    mesh = fe2.geometry.inclusion(0.4, h=h, phases=("matrix", "fiber"))
    m, f = MATERIALS["matrix"], MATERIALS["fiber"]
    materials = {"matrix": fe2.J2Plasticity(E=m["E"], nu=m["nu"], yield_stress=m["yield_stress"], hardening=m["hardening"]),
                 "fiber": fe2.Isotropic(E=f["E"], nu=f["nu"])}
    return mesh, fe2.Cell(mesh, materials)


def export(mesh, path):
    """Points, triangles and the phase of each triangle (0 matrix, 1 fiber): the mesh fedoo reads."""
    phase = np.full(mesh.t.shape[1], -1)
    phase[mesh.subdomains["matrix"]] = 0
    phase[mesh.subdomains["fiber"]] = 1
    assert (phase >= 0).all(), "every triangle belongs to the matrix or the fiber"
    np.savez(path, points=mesh.p.T, triangles=mesh.t.T, phase=phase)


def run_fe2(cell, cases, repeats, tol):
    import fe2
    fe2.nonlinear.solve(cell, cases[0], "periodic", tol=tol)  # warm-up: cell caches, solver libraries
    rows = []
    for E in cases:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            solution = fe2.nonlinear.solve(cell, E, "periodic", tol=tol)
            times.append(time.perf_counter() - start)
        rows.append({"time [s]": min(times), "times [s]": times, "stress": solution.stress.tolist(),
                     "tangent": solution.tangent.tolist(), "iterations": solution.iterations,
                     "residuals": [float(r) for r in solution.residuals], "elastic": solution.elastic})
    return rows


def peer_env(mkl_hint):
    """The environment of a fedoo run: this one as it was before fe2 loaded (fe2 names its own libmkl_rt
    in PYPARDISO_MKL_RT), one thread; with ``mkl_hint``, PYPARDISO_MKL_RT names the peer venv's libmkl_rt."""
    env = dict(CLEAN_ENV)
    if mkl_hint:
        found = sorted(VENV.glob("lib/libmkl_rt.so*"), key=lambda path: len(str(path)))
        if not found:
            raise SystemExit(f"no libmkl_rt.so* in {VENV / 'lib'}")
        env["PYPARDISO_MKL_RT"] = str(found[0])
    return env


def run_fedoo(mode, mesh_file, cases, args, folder, mkl_hint=False):
    config = {"mode": mode, "mesh": str(mesh_file), "materials": MATERIALS, "tol": args.tol, "max_subiter": 25,
              "repeats": args.repeats, "assembly": args.assembly,
              # fedoo's shear component of MeanStrain is the engineering shear gamma_xy = 2 eps_xy = sqrt2 E_3
              "strains": [[E[0], E[1], SQ2 * E[2]] for E in cases]}
    inp, out = Path(folder) / "fedoo_in.json", Path(folder) / "fedoo_out.json"
    inp.write_text(json.dumps(config))
    done = subprocess.run([str(venv_python()), str(WORKER), str(inp), str(out)], capture_output=True, text=True,
                          env=peer_env(mkl_hint))
    if done.returncode != 0:
        raise SystemExit(f"the fedoo worker ({mode}) failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return json.loads(out.read_text())


def to_mandel(row, key="tangent"):
    """fedoo's stress (xx, yy, zz, xy, xz, yz) and an engineering-Voigt in-plane tangent -> Mandel."""
    s = np.asarray(row["stress"])
    D = np.diag([1.0, 1.0, SQ2])  # sigma_M = D sigma_V, eps_V = D eps_M  =>  C_M = D C_V D
    return np.array([s[0], s[1], SQ2 * s[3]]), D @ np.asarray(row[key]) @ D


def rel(a, b):
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(b))


def wait_for_load(max_load, wait):
    """Wait (up to ``wait`` s) until the 1-minute load average is at most ``max_load``."""
    deadline = time.monotonic() + wait
    while os.getloadavg()[0] > max_load and time.monotonic() < deadline:
        time.sleep(10)
    return os.getloadavg()


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    try:
        commit = subprocess.run(["git", "-C", str(HERE), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = "?"
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "fe2 commit": commit,
            "threads": {v: os.environ[v] for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}}


VARIANTS = {  # name: (worker mode, PYPARDISO_MKL_RT set for the peer)
    "fedoo": ("cell", False),
    "fedoo, PYPARDISO_MKL_RT set": ("cell", True),
    "fedoo FE2 law, 3D-extruded": ("fe2-law", False),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cell-h", type=float, default=0.035)
    parser.add_argument("--repeats", type=int, default=3, help="solves per strain and code; the best counts")
    parser.add_argument("--rounds", type=int, default=2,
                        help="alternate the codes this many times (each fedoo run a fresh process); the best counts")
    parser.add_argument("--tol", type=float, default=1e-10, help="relative residual, both codes")
    parser.add_argument("--assembly", choices=("sum", "heterogeneous"), default="sum",
                        help="fedoo: one assembly per phase summed (Assembly.sum), or one Heterogeneous law")
    parser.add_argument("--no-fe2-law", action="store_true", help="skip fedoo's FE2 law on the 3D-extruded cell")
    parser.add_argument("--fedoo-version", default="1.1.0")
    parser.add_argument("--max-load", type=float, default=None, help="wait until the 1-minute load is at most this")
    parser.add_argument("--wait", type=float, default=600.0, help="longest wait for --max-load [s]")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    ensure_peer(args.fedoo_version)
    import fe2  # noqa: F401  (after the thread variables)
    mesh, cell = make_cell(args.cell_h)
    cases = strains()
    variants = {k: v for k, v in VARIANTS.items() if not (args.no_fe2_law and v[0] == "fe2-law")}
    if args.max_load is not None:
        wait_for_load(args.max_load, args.wait)
    print(f"cell: {cell.ndofs} DOFs, {mesh.t.shape[1]} triangles; {len(cases)} strains; "
          f"load {os.getloadavg()[0]:.2f}", flush=True)

    runs = {"fe2": []} | {name: [] for name in variants}
    loads = []
    with tempfile.TemporaryDirectory() as folder:
        mesh_file = Path(folder) / "cell.npz"
        export(mesh, mesh_file)
        for round_ in range(args.rounds):
            loads.append(["fe2", round(os.getloadavg()[0], 2)])
            runs["fe2"].append({"rows": run_fe2(cell, cases, args.repeats, args.tol)})
            for name, (mode, hint) in variants.items():
                loads.append([name, round(os.getloadavg()[0], 2)])
                print(f"round {round_ + 1}: {name} (load {loads[-1][1]:.2f})", flush=True)
                runs[name].append(run_fedoo(mode, mesh_file, cases, args, folder, mkl_hint=hint))
        loads.append(["end", round(os.getloadavg()[0], 2)])

    def best(name, i):
        return min((run["rows"][i] for run in runs[name]), key=lambda row: row["time [s]"])

    rows = []
    for i, E in enumerate(cases):
        ours = best("fe2", i)
        s2, c2 = np.array(ours["stress"]), np.array(ours["tangent"])
        row = {"strain (Mandel)": E.tolist(), "scale": CASES[i][0], "angle [deg]": CASES[i][1],
               "fe2": {"ms": 1e3 * ours["time [s]"], "iterations": ours["iterations"], "stress (Mandel)": s2.tolist(),
                       "residuals": ours["residuals"]}}
        for name in variants:
            theirs = best(name, i)
            stress, tangent = to_mandel(theirs)
            entry = {"ms": 1e3 * theirs["time [s]"], "ratio to fe2": theirs["time [s]"] / ours["time [s]"],
                     "stress (Mandel)": stress.tolist(), "stress rel. diff": rel(stress, s2),
                     "tangent rel. diff": rel(tangent, c2), "sigma_zz": theirs["stress"][2]}
            if "tangent at convergence" in theirs:
                entry["tangent rel. diff, fedoo's tangent taken at convergence"] = rel(to_mandel(theirs, "tangent at convergence")[1], c2)
                entry.update({k: theirs[k] for k in ("linear solves", "final error", "converged", "reproducible")})
                entry["stages [ms]"] = {k: 1e3 * v for k, v in theirs["stages [s]"].items()}
                entry["in nlsolve [ms]"] = {k: 1e3 * v for k, v in theirs["in nlsolve [s]"].items()}
            else:
                entry["increments (converged, subiterations, error)"] = theirs["increments"]
            row[name] = entry
        rows.append(row)

    fe2_ms = float(np.mean([r["fe2"]["ms"] for r in rows]))
    summary = {"cell dofs": cell.ndofs, "strains": len(rows), "tolerance (relative residual)": args.tol,
               "fe2 [ms per cell solve]": fe2_ms,
               "fe2 iterations": [r["fe2"]["iterations"] for r in rows]}
    for name in variants:
        ms = float(np.mean([r[name]["ms"] for r in rows]))
        peer = runs[name][0]
        entry = {"ms per cell solve": ms, "ratio to fe2": ms / fe2_ms,
                 "median per-strain ratio": float(np.median([r[name]["ratio to fe2"] for r in rows])),
                 "max stress rel. diff": max(r[name]["stress rel. diff"] for r in rows),
                 "max tangent rel. diff": max(r[name]["tangent rel. diff"] for r in rows),
                 "dofs": peer["dofs"],
                 "pypardiso handle construction [ms]": 1e3 * min(run["pypardiso handle construction [s]"] for run in runs[name])}
        if VARIANTS[name][0] == "cell":
            entry["max tangent rel. diff, taken at convergence"] = max(
                r[name]["tangent rel. diff, fedoo's tangent taken at convergence"] for r in rows)
            entry["linear solves"] = [r[name]["linear solves"] for r in rows]
            entry["stages [ms, mean]"] = {k: float(np.mean([r[name]["stages [ms]"][k] for r in rows]))
                                          for k in rows[0][name]["stages [ms]"]}
            entry["in nlsolve [ms, mean]"] = {k: float(np.mean([r[name]["in nlsolve [ms]"][k] for r in rows]))
                                              for k in rows[0][name]["in nlsolve [ms]"]}
            entry["assembly"] = args.assembly
        else:
            entry.update({k: peer[k] for k in ("element", "gauss points", "tol_nr")})
        summary[name] = entry
    summary["fedoo law"] = "simcoon EPICP (sigma_Y + k p^m, m = 1), tangent_mode=2 (algorithmic)"
    summary["load (1 min) at the start of each run, and at the end"] = loads
    versions = {"fe2": {p: version(p) for p in ("fe2", "numpy", "scipy", "scikit-fem", "pypardiso", "mkl", "gmsh")},
                "fedoo": runs[next(iter(variants))][0]["versions"]}
    info = machine()

    names = list(variants)
    short = {"fedoo": "fedoo", "fedoo, PYPARDISO_MKL_RT set": "fedoo+rt", "fedoo FE2 law, 3D-extruded": "FE2 law 3D"}
    header = f"{'scale':>5s} {'angle':>5s} | {'fe2 ms':>7s} {'it':>3s} | " + " | ".join(
        f"{short[n]:>10s} {'ratio':>6s} {'dstress':>8s}" for n in names)
    print(header)
    for r in rows:
        print(f"{r['scale']:5.1f} {r['angle [deg]']:5d} | {r['fe2']['ms']:7.1f} {r['fe2']['iterations']:3d} | " + " | ".join(
            f"{r[n]['ms']:10.1f} {r[n]['ratio to fe2']:6.2f} {r[n]['stress rel. diff']:8.1e}" for n in names))
    print(f"mean ms per cell solve: fe2 {fe2_ms:.1f}; " + "; ".join(
        f"{n} {summary[n]['ms per cell solve']:.1f} (x{summary[n]['ratio to fe2']:.2f})" for n in names))
    if "fedoo" in summary:
        f = summary["fedoo"]
        print("fedoo stages [ms]: " + ", ".join(f"{k} {v:.1f}" for k, v in f["stages [ms, mean]"].items())
              + "; in nlsolve: " + ", ".join(f"{k} {v:.1f}" for k, v in f["in nlsolve [ms, mean]"].items())
              + f"; pypardiso handle {f['pypardiso handle construction [ms]']:.1f} ms each")
        print(f"stress: max rel. diff {f['max stress rel. diff']:.1e}; tangent: max rel. diff {f['max tangent rel. diff']:.1e} "
              f"as fedoo returns it, {f['max tangent rel. diff, taken at convergence']:.1e} taken at convergence")
    print(f"machine: {info['cpu']}, {info['cores']} cores; load (1 min) from {min(l for _, l in loads):.2f} to {max(l for _, l in loads):.2f}; "
          f"fedoo {versions['fedoo']['fedoo']}, simcoon {versions['fedoo']['simcoon']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"summary": summary, "rows": rows, "versions": versions, "machine": info},
                                        indent=2))


if __name__ == "__main__":
    main()
