"""The iterative path of the cell problems (CG preconditioned by smoothed-aggregation AMG): the same
effective tensors and Hill-Mandel residuals as the direct path to its stated accuracy, the same micro
Newton solves (stress and consistent tangent) with the virgin cell's hierarchy, the choice between the
two paths, the compiled smoother and the threads, and the error when CG does not converge."""

import logging

import numpy as np
import pytest
import scipy.sparse as sp

import fe2
from fe2.cell import linalg

from conftest import materials, structured

ACCURACY = linalg.ACCURACY
BCS = ("periodic", "kubc", "subc")


def ball(radius):
    return dict(matrix=lambda x: np.linalg.norm(x - 0.5, axis=0) >= radius,
                inclusion=lambda x: np.linalg.norm(x - 0.5, axis=0) < radius)


@pytest.fixture(scope="module", params=[(2, "conduction"), (2, "elasticity"), (3, "conduction"), (3, "elasticity")],
                ids=lambda p: f"{p[0]}d-{p[1]}")
def cell(request):
    dim, physics = request.param
    # large enough for a multigrid hierarchy (the coarsest level takes up to linalg.COARSE unknowns)
    mesh = structured(2, 32, **ball(0.3)) if dim == 2 else structured(3, 10, **ball(0.3))
    return fe2.Cell(mesh, materials(physics))


@pytest.mark.parametrize("bc", BCS)
def test_iterative_reproduces_direct(cell, bc):
    direct = fe2.homogenize(cell, bc, solver="direct")
    iterative = fe2.homogenize(cell, bc, solver="iterative")
    problem = fe2.bind(cell, bc, solver="iterative")
    assert problem.solver == "iterative" and isinstance(problem.factor, linalg.Iterative)
    assert fe2.bind(cell, bc, solver="direct").solver == "direct"
    assert np.linalg.norm(iterative.tensor - direct.tensor) <= ACCURACY * np.linalg.norm(direct.tensor)
    assert iterative.hill_mandel <= ACCURACY
    # the hierarchy served every unit load, each in a few iterations (the near-nullspace at work)
    assert len(problem.factor.hierarchy.levels) >= 2
    assert len(problem.factor.iterations) == cell.physics.size
    assert max(problem.factor.iterations) <= 40


def test_field_and_stress_driven_fields_match(cell):
    strain = np.linspace(1.0, 2.0, cell.physics.size) * 1e-3
    for bc in ("periodic", "subc"):
        direct = fe2.bind(cell, bc, solver="direct").field(strain)
        iterative = fe2.bind(cell, bc, solver="iterative").field(strain)
        assert np.linalg.norm(iterative - direct) <= 1e3 * ACCURACY * np.linalg.norm(direct)


def test_near_nullspace_is_the_restricted_rigid_modes():
    cell = fe2.Cell(structured(2, 6), fe2.Isotropic(E=1.0, nu=0.3))
    problem = fe2.bind(cell, "periodic", solver="iterative")
    modes = problem.near_nullspace()
    assert modes.shape == (problem.n, 3)
    free = problem.map >= 0
    # translations are constant on the reduced unknowns; every free DOF's translation value arrives
    assert np.array_equal(modes[problem.map[free], :2], cell.rigid_modes[free, :2])


def test_choose_picks_each_side_of_the_crossover():
    choose = linalg.choose
    # small cells, one solve per matrix (a micro Newton of FE² cells): direct
    assert choose(2_000, 2, 1) == choose(2_000, 3, 1) == choose(8_000, 3, 1) == "direct"
    # one homogenization (6 unit loads) of a 3D cell: direct below the crossover near 33k, CG-AMG above
    assert choose(20_000, 3, 6) == "direct"
    assert choose(50_000, 3, 6) == "iterative"
    assert choose(300_000, 3, 6) == "iterative"
    # many solves of one matrix: the factorization pays again
    assert choose(300_000, 3, 1000) == "direct"
    # 2D: the factorization at every size within reach of this machine's memory
    assert choose(1_000_000, 2, 3) == choose(4_000_000, 2, 1) == "direct"
    with pytest.raises(ValueError, match="dim"):
        choose(1000, 1, 1)
    with pytest.raises(ValueError, match="at least one solve"):
        choose(1000, 3, 0)


def test_auto_follows_choose(monkeypatch):
    cell = fe2.Cell(structured(2, 6), fe2.Conductor(1.0))
    assert fe2.bind(cell, "periodic").solver == "direct"
    monkeypatch.setattr(linalg, "choose", lambda n, dim, solves: "iterative")
    other = fe2.Cell(structured(2, 6), fe2.Conductor(1.0))
    assert fe2.bind(other, "periodic").solver == "iterative"
    with pytest.raises(ValueError, match="unknown solver 'cg'"):
        fe2.bind(other, "kubc", solver="cg")


def test_non_convergence_is_a_clear_error():
    cell = fe2.Cell(structured(2, 30, **ball(0.3)), materials("elasticity"))   # beyond one coarse solve
    problem = fe2.cell.KinematicProblem(fe2.Periodic(), cell.linearize(), solver="iterative")
    problem.factor.maxiter = 1
    with pytest.raises(linalg.ConvergenceError, match=r"relative residual \d\.\d+e[-+]\d+ after 1 iterations.*"
                                                       r"solver='direct'"):
        problem.tangent()


def test_progress_is_logged(caplog, monkeypatch):
    monkeypatch.setattr(linalg, "PROGRESS", -1.0)   # every iteration counts as long
    cell = fe2.Cell(structured(2, 30, **ball(0.3)), materials("conduction"))
    with caplog.at_level(logging.INFO, logger="fe2.cell.linalg"):
        fe2.homogenize(cell, "periodic", solver="iterative")
    lines = [r.getMessage() for r in caplog.records if "iteration" in r.getMessage()]
    assert lines and "relative residual" in lines[0]


J2 = {"matrix": fe2.J2Plasticity(E=70.0, nu=0.33, yield_stress=0.2, hardening=1.0),
      "inclusion": fe2.Isotropic(E=400.0, nu=0.2)}


@pytest.fixture(scope="module")
def j2_cell():
    return fe2.Cell(structured(3, 8, **ball(0.3)), J2)


@pytest.mark.parametrize("bc", BCS)
def test_micro_newton_on_the_iterative_path_matches_the_direct(j2_cell, bc):
    # a plastic increment of a 3D J2 cell: each Newton tangent solved by CG preconditioned by the
    # virgin cell's hierarchy, the consistent tangent from the same condensation
    strain = np.array([0.012, -0.003, -0.003, 0.0, 0.0, 0.0045])
    direct = fe2.nonlinear.solve(j2_cell, strain, bc, solver="direct")
    iterative = fe2.nonlinear.solve(j2_cell, strain, bc, solver="iterative")
    assert not direct.elastic and direct.iterations >= 2
    assert iterative.iterations == direct.iterations
    assert np.linalg.norm(iterative.stress - direct.stress) <= ACCURACY * np.linalg.norm(direct.stress)
    assert np.linalg.norm(iterative.tangent - direct.tangent) <= ACCURACY * np.linalg.norm(direct.tangent)
    assert iterative.hill_mandel <= 1e-10
    # one hierarchy per cell and condition: the converged tangent's problem reuses the virgin one
    virgin = j2_cell.linearize().bind(bc, "iterative").factor
    converged = iterative.linearization.bind(bc, "iterative").factor
    assert converged.hierarchy is virgin.hierarchy and converged.setup_time == 0.0
    with pytest.raises(ValueError, match="unknown solver 'cg'"):
        fe2.nonlinear.solve(j2_cell, strain, bc, solver="cg")


def test_rve_law_passes_its_solver_to_every_micro_solve(j2_cell):
    strains = np.array([[0.012, -0.003, -0.003, 0.0, 0.0, 0.0045], [0.0, 0.0, 0.0, 0.0, 0.0, 0.01]])
    direct = fe2.RVELaw(j2_cell, solver="direct").response(strains)
    iterative = fe2.RVELaw(j2_cell, solver="iterative").response(strains)
    assert np.linalg.norm(iterative[0] - direct[0]) <= ACCURACY * np.linalg.norm(direct[0])
    assert np.linalg.norm(iterative[1] - direct[1]) <= ACCURACY * np.linalg.norm(direct[1])
    with pytest.raises(ValueError, match="unknown solver"):
        fe2.RVELaw(j2_cell, solver="lu")


def test_choose_newton_keeps_2d_and_small_3d_cells_direct():
    choose = linalg.choose_newton
    # 2D: a factorization of a new tangent beats CG with a stale hierarchy at every size
    assert choose(2_000, 2, 3) == choose(100_000, 2, 3) == choose(4_000_000, 2, 3) == "direct"
    # 3D: direct for the cells FE² runs today, CG with the virgin hierarchy from about 20k unknowns
    assert choose(8_000, 3, 6) == "direct"
    assert choose(31_000, 3, 6) == choose(300_000, 3, 6) == "iterative"
    with pytest.raises(ValueError, match="dim"):
        choose(1000, 1, 1)


def test_a_preconditioner_from_another_matrix_must_match_its_size():
    cell = fe2.Cell(structured(2, 30, **ball(0.3)), materials("conduction"))
    virgin = fe2.bind(cell, "periodic", solver="iterative").factor
    kubc = fe2.bind(cell, "kubc", solver="direct")
    with pytest.raises(ValueError, match="preconditioner is of"):
        linalg.Iterative(kubc.matrix, preconditioner=virgin)


def test_compiled_smoother_is_pyamgs_symmetric_gauss_seidel():
    from pyamg.relaxation.relaxation import gauss_seidel
    cell = fe2.Cell(structured(2, 12, **ball(0.3)), materials("elasticity"))
    problem = fe2.bind(cell, "periodic", solver="direct")
    upper = problem.matrix
    A = (upper + sp.triu(upper, k=1).T).tocsr()
    A.sort_indices()
    b = np.random.default_rng(0).normal(size=A.shape[0])
    x, y = np.zeros_like(b), np.zeros_like(b)
    for _ in range(3):
        gauss_seidel(A, x, b, sweep="symmetric")
        fe2.cell.compiled.symmetric_gauss_seidel(A, y, b)
    assert np.linalg.norm(y - x) <= 1e-13 * np.linalg.norm(x)


def test_columns_solved_on_threads_equal_those_solved_in_turn():
    cell = fe2.Cell(structured(3, 10, **ball(0.3)), materials("elasticity"))
    problem = fe2.bind(cell, "periodic", solver="direct")
    b = problem.coupling
    one = linalg.Iterative(problem.matrix, problem.near_nullspace(), threads=1)
    two = linalg.Iterative(problem.matrix, problem.near_nullspace(), threads=2)
    assert np.array_equal(one.solve(b), two.solve(b))
    assert one.iterations == two.iterations and len(two.iterations) == b.shape[1]
    with pytest.raises(ValueError, match="threads must be at least 1"):
        linalg.Iterative(problem.matrix, threads=0)


def test_choose_picks_the_faster_path_of_the_benchmark():
    # bench/cell_iterative.py's measured rows (docs/benchmarks/cell_iterative.json): wherever one path was
    # clearly faster (by more than 20 %), "auto" picks it for that cell
    import json
    from pathlib import Path
    rows = json.loads((Path(__file__).resolve().parents[1] / "docs/benchmarks/cell_iterative.json").read_text())["rows"]
    decided = 0
    for row in rows:
        if "direct" not in row:
            continue
        dim = 3 if row["geometry"] == "sphere" else 2
        times = {path: row[path]["total [s]"] for path in ("direct", "iterative")}
        faster, slower = sorted(times, key=times.get)
        if times[slower] > 1.2 * times[faster]:
            assert linalg.choose(row["iterative"]["reduced dofs"], dim, 3 * (dim - 1)) == faster, row["target dofs"]
            decided += 1
    assert decided >= 3
