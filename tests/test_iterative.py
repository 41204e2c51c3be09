"""The iterative path of the cell problems (CG preconditioned by smoothed-aggregation AMG): the same
effective tensors and Hill-Mandel residuals as the direct path to its stated accuracy, the choice
between the two, and the error when CG does not converge."""

import logging

import numpy as np
import pytest

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
    # large enough for a multigrid hierarchy (the coarsest level takes up to 500 unknowns)
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
