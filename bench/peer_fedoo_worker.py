"""The fedoo side of bench/peer_fedoo.py: runs inside the peer's own environment (bench/.venv-fedoo),
never imports fe2.

    python bench/peer_fedoo_worker.py INPUT.json OUTPUT.json

INPUT.json (written by peer_fedoo.py):
  mode        "cell" (the 2D cell problem) or "fe2-law" (fedoo's FE² law as shipped, 3D-extruded cell)
  mesh        .npz with points (n, 2), triangles (m, 3) and phase (m,) (0 matrix, 1 fiber)
  materials   {"matrix": {E, nu, yield_stress, hardening}, "fiber": {E, nu}}
  strains     macro strains in fedoo's convention (E_xx, E_yy, E_xy = gamma_xy, the engineering shear)
  tol, max_subiter, repeats, assembly ("sum" or "heterogeneous"; mode "cell" only)

Mode "cell": the cell problem that fedoo's FE² law (fedoo.constitutivelaw.FE2) solves at each macro
point, in 2D plane strain on the very mesh fe2 solves: a NonLinear problem with
PeriodicBC("small_strain") and the node nearest the centre pinned, the macro strain prescribed on the
MeanStrain global DOFs, nlsolve in one increment to ``tol``, then fedoo.homogen.get_tangent_stiffness
(perturbation of the last Newton matrix, three solves with one factorization) and the volume average of
the stress. The matrix phase is simcoon's EPICP (J2, isotropic hardening sigma_y + k p^m, here m = 1:
linear) with its algorithmic (consistent) tangent, tangent_mode=2; the fiber ElasticIsotrop. Each solve
starts from the virgin state (problem.reset()) and is timed as a whole (reset, strain BC, initialize,
nlsolve, tangent, average) and by stage, with the time in simcoon's UMAT and in the linear solves of
nlsolve. Per strain, untimed: the tangent taken exactly at the converged state.

Mode "fe2-law": fedoo.constitutivelaw.FE2 as shipped, whose micro problems are 3D (PeriodicBC dim=3,
6x6 tangents): the same mesh extruded by one layer of wed6 elements (periodic through the thickness
too, with E_zz = E_xz = E_yz = 0 this is plane strain), one macro point, FE2._update_pb timed per
strain from the virgin micro state. The law solves with its own tol_nr=0.05 (``tol`` is not used).

OUTPUT.json: per strain the times of every repetition and the best one's stress (fedoo's
(xx, yy, zz, xy, xz, yz), tensor components), tangent (engineering Voigt), Newton count and stages.
"""

import contextlib
import io
import json
import sys
import time
from importlib.metadata import version

import numpy as np


def load_mesh(mesh_file):
    data = np.load(mesh_file)
    points, triangles, phase = data["points"].astype(float), data["triangles"].astype(int).copy(), data["phase"]
    # fedoo's tri3 wants counter-clockwise triangles: reorder the clockwise ones (same element, same mesh)
    x, y = points[triangles, 0], points[triangles, 1]
    area2 = (x[:, 1] - x[:, 0]) * (y[:, 2] - y[:, 0]) - (x[:, 2] - x[:, 0]) * (y[:, 1] - y[:, 0])
    triangles[area2 < 0] = triangles[area2 < 0][:, [0, 2, 1]]
    return points, triangles, phase


def laws(fd, materials):
    m, f = materials["matrix"], materials["fiber"]
    # EPICP props: E, nu, alpha (thermal expansion), sigma_Y, k, m   (sigma_eq = sigma_Y + k p^m)
    matrix = fd.constitutivelaw.Simcoon("EPICP", np.array([m["E"], m["nu"], 0.0, m["yield_stress"], m["hardening"], 1.0]),
                                        tangent_mode=2, name="matrix_law")
    fiber = fd.constitutivelaw.ElasticIsotrop(f["E"], f["nu"], name="fiber_law")
    return matrix, fiber


class Meter:
    """Time spent in wrapped methods (a few microseconds of overhead per call) and Newton counts."""

    def __init__(self):
        self.spent, self.newton = {}, []

    def reset(self):
        self.spent, self.newton = {key: 0.0 for key in self.spent}, []

    def wrap(self, key, method):
        self.spent[key] = 0.0

        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.spent[key] += time.perf_counter() - start
        return wrapper

    def count(self, method):
        def wrapper(*args, **kwargs):
            result = method(*args, **kwargs)
            self.newton.append(result)  # (converged, subiter, error) of each increment
            return result
        return wrapper


def cell_mode(config):
    import fedoo as fd

    points, triangles, phase = load_mesh(config["mesh"])
    fd.ModelingSpace("2D")  # plane strain
    mesh = fd.Mesh(points, triangles, "tri3", name="cell",
                   element_sets={"matrix": np.flatnonzero(phase == 0), "fiber": np.flatnonzero(phase == 1)})
    matrix, fiber = laws(fd, config["materials"])
    if config["assembly"] == "heterogeneous":
        law = fd.constitutivelaw.Heterogeneous((matrix, fiber), ("matrix", "fiber"), name="cell_law")
        assembly = fd.Assembly.create(fd.weakform.StressEquilibrium(law), mesh, "tri3", name="cell_assembly")
        parts = [assembly]
    else:
        parts = [fd.Assembly.create(fd.weakform.StressEquilibrium(law), mesh.extract_elements(name), "tri3")
                 for law, name in ((matrix, "matrix"), (fiber, "fiber"))]
        assembly = fd.Assembly.sum(*parts, name="cell_assembly")

    problem = fd.problem.NonLinear(assembly, name="cell_problem")
    problem.print_info = 0
    problem.bc.add(fd.constraint.PeriodicBC("small_strain", dim=2))
    problem.bc.add("Dirichlet", [mesh.nearest_node(mesh.bounding_box.center)], "Disp", 0)
    problem.set_nr_criterion("Force", tol=config["tol"], max_subiter=config["max_subiter"])
    volume = mesh.bounding_box.volume

    meter = Meter()
    matrix._call_umat = meter.wrap("simcoon umat", matrix._call_umat)
    problem.solve = meter.wrap("linear solves", problem.solve)
    problem.solve_time_increment = meter.count(problem.solve_time_increment)

    def solve(strain):
        """One cell solve from the virgin state: stress average and tangent, timed by stage."""
        meter.reset()
        t0 = time.perf_counter()
        problem.reset()                      # virgin history, matrices dropped
        problem.bc.remove("Strain")
        problem.bc.add("Dirichlet", "MeanStrain", list(strain), name="Strain")
        t1 = time.perf_counter()
        problem.initialize()                 # the laws' initial state (done by nlsolve otherwise)
        t2 = time.perf_counter()
        problem.nlsolve(dt=1.0, tmax=1.0, update_dt=False, print_info=0)
        t3 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            tangent = fd.homogen.get_tangent_stiffness(problem)
        t4 = time.perf_counter()
        stress = sum(np.array([part.integrate_field(c) for c in part.sv["Stress"]]) for part in parts) / volume
        t5 = time.perf_counter()
        (converged, subiterations, error), = meter.newton
        return {"stress": stress.tolist(), "tangent": tangent.tolist(), "converged": bool(converged),
                # subiter counts the elastic prediction (one solve) and each Newton correction after it;
                # the last subiter only checks the residual, so linear solves = subiterations
                "linear solves": int(subiterations), "final error": float(error), "time [s]": t5 - t0,
                "stages [s]": {"reset + bc": t1 - t0, "initialize": t2 - t1, "nlsolve": t3 - t2,
                               "tangent": t4 - t3, "average": t5 - t4},
                "in nlsolve [s]": dict(meter.spent)}

    solve(config["strains"][0])  # warm-up: imports, first Pardiso call, the _perturbation problem
    rows = []
    for strain in config["strains"]:
        runs = [solve(strain) for _ in range(config["repeats"])]
        best = min(runs, key=lambda run: run["time [s]"])
        best["times [s]"] = [run["time [s]"] for run in runs]
        best["reproducible"] = all(np.allclose(run["stress"], runs[0]["stress"], rtol=1e-12, atol=0) for run in runs)
        # check only (untimed): the tangent at the converged state itself. get_tangent_stiffness uses the
        # last assembled Newton matrix, the tangent one iterate before convergence; with use_elastic_lt
        # off, set_start keeps the converged tangent, and one more assembly gives its matrix.
        matrix.use_elastic_lt = False
        solve(strain)
        assembly.assemble_global_mat("matrix")
        problem.set_A(assembly.get_global_matrix())
        with contextlib.redirect_stdout(io.StringIO()):
            best["tangent at convergence"] = fd.homogen.get_tangent_stiffness(problem).tolist()
        matrix.use_elastic_lt = True
        rows.append(best)
    return {"rows": rows, "dofs": int(2 * mesh.n_nodes), "elements": int(mesh.n_elements)}


def fe2_law_mode(config):
    import fedoo as fd
    from fedoo.util.voigt_tensors import StrainTensorList

    points, triangles, phase = load_mesh(config["mesh"])
    fd.ModelingSpace("3D")
    flat = fd.Mesh(points, triangles, "tri3", name="cell2d")
    size = np.ptp(points, axis=0).max()
    mesh = fd.mesh.extrude(flat, 0.05 * size, 2, name="cell3d")  # one layer of wed6, element i over triangle i
    mesh.element_sets.update(matrix=np.flatnonzero(phase == 0), fiber=np.flatnonzero(phase == 1))
    matrix, fiber = laws(fd, config["materials"])
    law = fd.constitutivelaw.Heterogeneous((matrix, fiber), ("matrix", "fiber"), name="cell_law")
    micro = fd.Assembly.create(fd.weakform.StressEquilibrium(law), mesh, name="micro_assembly")
    fe2 = fd.constitutivelaw.FE2(micro, name="fe2_law")

    class MacroPoint:
        """What FE2.initialize / FE2._update_pb read and write of the macro assembly: one point."""
        n_gauss_points = 1

        def __init__(self):
            self.sv, self.sv_start = {}, {}

    class MacroProblem:
        dtime = 1.0

        def make_active(self):
            pass

    macro, macro_problem = MacroPoint(), MacroProblem()
    with contextlib.redirect_stdout(io.StringIO()):
        fe2.initialize(macro, macro_problem)
    problem = fe2.list_problem[0]
    meter = Meter()
    problem.solve_time_increment = meter.count(problem.solve_time_increment)

    def solve(strain):
        e = np.array([strain[0], strain[1], 0.0, strain[2], 0.0, 0.0])  # 3D Voigt, engineering shear
        macro.sv["Strain"] = StrainTensorList(e[:, None].copy())
        macro.sv_start["Strain"] = StrainTensorList(np.zeros((6, 1)))
        meter.reset()
        start = time.perf_counter()
        problem.reset()                      # virgin micro history
        with contextlib.redirect_stdout(io.StringIO()):
            fe2._update_pb(0, macro, macro_problem)
        elapsed = time.perf_counter() - start
        s = macro.sv["Stress"].asarray()[:, 0].copy()
        C = macro.sv["TangentMatrix"][:, :, 0]
        plane = [0, 1, 3]  # (xx, yy, xy) of fedoo's (xx, yy, zz, xy, xz, yz)
        return {"stress": s.tolist(), "tangent": C[np.ix_(plane, plane)].tolist(), "time [s]": elapsed,
                "increments": [[bool(c), int(n), float(err)] for c, n, err in meter.newton]}

    solve(config["strains"][0])  # warm-up
    rows = []
    for strain in config["strains"]:
        runs = [solve(strain) for _ in range(config["repeats"])]
        best = min(runs, key=lambda run: run["time [s]"])
        best["times [s]"] = [run["time [s]"] for run in runs]
        rows.append(best)
    return {"rows": rows, "dofs": int(3 * mesh.n_nodes), "elements": int(mesh.n_elements),
            "element": mesh.elm_type, "gauss points": int(micro.n_gauss_points), "tol_nr": 0.05}


def main():
    config = json.loads(open(sys.argv[1]).read())
    out = {"cell": cell_mode, "fe2-law": fe2_law_mode}[config["mode"]](config)

    # pypardiso looks for libmkl_rt (find_library, then a recursive glob of sys.prefix) each time a
    # PyPardisoSolver is built, unless PYPARDISO_MKL_RT names it; get_tangent_stiffness builds one per
    # call (set_reuse_factorization). Its cost alone, in this environment:
    import pypardiso
    handles = []
    for _ in range(5):
        start = time.perf_counter()
        pypardiso.PyPardisoSolver()
        handles.append(time.perf_counter() - start)
    out.update({"pypardiso handle construction [s]": float(np.median(handles)),
                "versions": {p: version(p) for p in ("fedoo", "simcoon", "numpy", "scipy", "pypardiso", "mkl")},
                "python": sys.version.split()[0]})
    with open(sys.argv[2], "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
