"""The fedoo side of bench/peer_fedoo_cell3d.py: linear elastic periodic homogenization of a 3D cell,
run inside the peer's own environment (bench/.venv-fedoo), never imports fe2.

    python bench/peer_fedoo_cell3d_worker.py INPUT.npz OUTPUT.json

INPUT.npz (written by peer_fedoo_cell3d.py): points (n, 3), tetrahedra (m, 4), phase (m,) (0 matrix,
1 fiber), E (2,) and nu (2,) (Young's modulus and Poisson's ratio of phase 0 and phase 1).

The route is fedoo's own for a linear periodic cell (examples/homogenization/periodic_homogenization.py):
ModelingSpace("3D"), a tet4 Mesh, ElasticIsotrop laws joined by a Heterogeneous law over the element
indices of each phase, StressEquilibrium, Assembly.create (tet4's default 4-point rule), then
fedoo.homogen.get_homogenized_stiffness(assembly): a Linear problem on the assembled matrix and
get_tangent_stiffness, which builds a "_perturbation" problem with PeriodicBC("small_strain") (slave
DOFs of the + faces eliminated, the six E_ij as global DOFs), the node nearest the centre pinned, and
for each of the six unit generalized forces on E_ij (Neumann) one solve; one pypardiso factorization
(mtype 11, real unsymmetric LU) is reused for the six (set_reuse_factorization). The six E responses
are the compliance times 1/volume; C = inv(DStrain^T) / volume.

The phases are given to Heterogeneous as index arrays, not as named mesh.element_sets: with named sets,
Mesh.extract_elements (called once per phase when the law initializes) filters every named set with
a Python ``el in array`` loop, quadratic in the number of elements (1.5 s at 80k tetrahedra, 73 s at 458k).

Measured, one thread (the caller sets OMP/MKL_NUM_THREADS=1), after a warm-up (a small hex8 box
homogenized the same way: imports, MKL's pages) and after the .npz is loaded:
  * time by stage (time.perf_counter): "set-up" (ModelingSpace, Mesh, laws, weak form,
    Assembly.create), then inside get_homogenized_stiffness, by wrapping fedoo's methods:
    "law initialization" (Heterogeneous.initialize: one sub-mesh and sub-assembly per phase),
    "assembly" (Assembly.assemble_global_mat), "periodic pairing" (PeriodicBC.initialize),
    "constraints" (Problem.apply_boundary_conditions, the elimination matrix MatCB, six calls),
    "reduction" (MatCB^T A MatCB), "factorization" (pypardiso factorize), "solves" (six
    one-column calls, each with pypardiso's sha1 check of the matrix and Pardiso's default two steps
    of iterative refinement), "other" (the rest); "total" = set-up + get_homogenized_stiffness;
  * memory: RSS (/proc/self/statm) before the work, and the peak (ru_maxrss), absolute and above it.

OUTPUT.json: "tensor (fedoo Voigt)": fedoo's C, order (xx, yy, zz, xy, xz, yz), engineering shear
(the strain carries gamma_ij = 2 eps_ij: PeriodicBC's shear_coef = 0.5); "tensor (Mandel)": the same
in fe2's convention, order (xx, yy, zz, yz, xz, xy), shear rows and columns times sqrt 2
(C_M = W P C_V P^T W, W = diag(1, 1, 1, sqrt2, sqrt2, sqrt2)); the stages, the memory, the versions.
"""

import contextlib
import io
import json
import os
import resource
import sys
import time
from importlib.metadata import version

import numpy as np

VOIGT_TO_FE2_ORDER = [0, 1, 2, 5, 4, 3]   # fedoo (xx, yy, zz, xy, xz, yz) -> fe2 (xx, yy, zz, yz, xz, xy)
MANDEL_WEIGHTS = np.array([1.0, 1.0, 1.0, np.sqrt(2.0), np.sqrt(2.0), np.sqrt(2.0)])


def rss():
    """Current resident set size in bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss():
    """High-water mark of the resident set size since the process started, in bytes."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def to_mandel(voigt):
    """fedoo's engineering-Voigt 6x6 (xx, yy, zz, xy, xz, yz) -> fe2's Mandel 6x6 (xx, yy, zz, yz, xz, xy)."""
    reordered = np.asarray(voigt)[np.ix_(VOIGT_TO_FE2_ORDER, VOIGT_TO_FE2_ORDER)]
    return reordered * np.outer(MANDEL_WEIGHTS, MANDEL_WEIGHTS)


def load(path):
    """The mesh and materials; tetrahedra of negative volume (if any) get two nodes swapped."""
    data = np.load(path)
    points, tets = data["points"].astype(float), data["tetrahedra"].astype(np.int64).copy()
    x = points[tets]
    volume6 = np.einsum("ij,ij->i", np.cross(x[:, 1] - x[:, 0], x[:, 2] - x[:, 0]), x[:, 3] - x[:, 0])
    negative = volume6 < 0
    tets[negative] = tets[negative][:, [0, 2, 1, 3]]
    return points, tets, data["phase"], data["E"], data["nu"], int(negative.sum())


class Meter:
    """Wall time spent in wrapped functions, by stage (a few microseconds of overhead per call)."""

    def __init__(self):
        self.spent, self.calls = {}, {}

    def patch(self, owner, name, stage):
        original = getattr(owner, name)
        self.spent.setdefault(stage, 0.0)
        self.calls.setdefault(stage, 0)

        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.spent[stage] += time.perf_counter() - start
                self.calls[stage] += 1
        setattr(owner, name, wrapper)


def warm_up(fd):
    """A 4x4x4 hex8 elastic box homogenized the same way: loads fedoo's code paths and MKL's Pardiso."""
    mesh = fd.mesh.box_mesh(4, 4, 4, name="_warm_up_mesh")
    law = fd.constitutivelaw.ElasticIsotrop(1.0, 0.3, name="_warm_up_law")
    assembly = fd.Assembly.create(fd.weakform.StressEquilibrium(law), mesh, name="_warm_up_assembly")
    with contextlib.redirect_stdout(io.StringIO()):
        fd.homogen.get_homogenized_stiffness(assembly)
    del fd.Problem.get_all()["_perturbation"]   # bound to the warm-up mesh


def main():
    import fedoo as fd
    import pypardiso  # noqa: F401  (fedoo's direct solver; imported here so that its load is not timed)
    from fedoo.core.assembly import Assembly
    from fedoo.core.base import _PypardisoFactor
    from fedoo.core.problem import Problem

    assert fd.get_config()["USE_PYPARDISO"], "fedoo should find pypardiso"
    fd.ModelingSpace("3D")
    warm_up(fd)
    points, tets, phase, E, nu, flipped = load(sys.argv[1])

    meter = Meter()
    meter.patch(fd.constitutivelaw.Heterogeneous, "initialize", "law initialization")
    meter.patch(Assembly, "assemble_global_mat", "assembly")
    meter.patch(fd.constraint.PeriodicBC, "initialize", "periodic pairing")
    meter.patch(Problem, "apply_boundary_conditions", "constraints")
    meter.patch(Problem, "_reduced_system_matrix", "reduction")
    meter.patch(_PypardisoFactor, "factor", "factorization")
    meter.patch(_PypardisoFactor, "solve", "solves")

    base = rss()
    t0 = time.perf_counter()
    mesh = fd.Mesh(points, tets, "tet4", name="cell")
    laws = [fd.constitutivelaw.ElasticIsotrop(float(E[i]), float(nu[i]), name=f"{name}_law")
            for i, name in enumerate(("matrix", "fiber"))]
    law = fd.constitutivelaw.Heterogeneous(laws, [np.flatnonzero(phase == i) for i in (0, 1)], name="cell_law")
    assembly = fd.Assembly.create(fd.weakform.StressEquilibrium(law), mesh, "tet4", name="cell_assembly")
    t1 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()) as chatter:
        voigt = fd.homogen.get_homogenized_stiffness(assembly)
    t2 = time.perf_counter()
    peak = peak_rss()

    stages = {"set-up": t1 - t0, **meter.spent}
    stages["other"] = (t2 - t1) - sum(meter.spent.values())
    stages["total"] = t2 - t0
    pb = Problem.get_all()["_perturbation"]
    out = {
        "tensor (fedoo Voigt)": voigt.tolist(),
        "fedoo convention": "Voigt (xx, yy, zz, xy, xz, yz), engineering shear strain (gamma = 2 eps)",
        "tensor (Mandel)": to_mandel(voigt).tolist(),
        "Mandel convention": "fe2: (xx, yy, zz, sqrt2 yz, sqrt2 xz, sqrt2 xy)",
        "stages [s]": stages, "calls": meter.calls,
        "rss before [MB]": base / 1e6, "peak rss [MB]": peak / 1e6, "peak above before [MB]": (peak - base) / 1e6,
        "nodes": int(mesh.n_nodes), "elements": int(mesh.n_elements), "dofs": int(3 * mesh.n_nodes),
        "reduced dofs (free, with the 6 E_ij)": int(len(pb._dof_free)),
        "gauss points per element": int(assembly.n_elm_gp), "tetrahedra reoriented": flipped,
        "volume (bounding box)": float(mesh.bounding_box.volume),
        "fedoo printed": chatter.getvalue()[-2000:],
        "versions": {p: version(p) for p in ("fedoo", "numpy", "scipy", "pypardiso", "mkl")},
        "threads": {v: os.environ.get(v) for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")},
        "python": sys.version.split()[0],
    }
    with open(sys.argv[2], "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
