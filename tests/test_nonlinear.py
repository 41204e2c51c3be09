"""Nonlinear cells: micro Newton under each condition, consistent tangent, history, divergence."""

import numpy as np
import pytest

import fe2
from fe2.cell.nonlinear import MicroDivergence, solve

BCS = ["periodic", "kubc", "subc"]
MATRIX = fe2.J2Plasticity(E=70.0, nu=0.3, yield_stress=0.1, hardening=2.0)       # aluminium-like, GPa
FIBER = fe2.Isotropic(E=400.0, nu=0.2)
E_PLASTIC = np.array([0.004, -0.001, 0.002])  # well past first yield (yield strain ~ 0.0014)


@pytest.fixture(scope="module")
def mesh():
    return fe2.geometry.inclusion(0.3, h=0.1)


def cell_of(mesh, matrix=MATRIX):
    return fe2.Cell(mesh, {"matrix": matrix, "inclusion": FIBER})


@pytest.mark.parametrize("bc", BCS)
def test_tangent_equals_central_differences_of_the_averaged_stress(mesh, bc):
    """From one committed plastic history, perturb the macro strain: the Schur-complement tangent of
    the converged micro tangent is the derivative of the averaged stress."""
    cell = cell_of(mesh)
    history = solve(cell, 0.7 * E_PLASTIC, bc).state
    E = E_PLASTIC
    base = solve(cell, E, bc, history)
    assert base.iterations >= 2  # really nonlinear
    h = 1e-7
    fd = np.column_stack([(solve(cell, E + h * e, bc, history).stress - solve(cell, E - h * e, bc, history).stress) / (2 * h)
                          for e in np.eye(3)])
    np.testing.assert_allclose(base.tangent, fd, rtol=2e-5, atol=2e-5 * np.abs(fd).max())
    # plastic flow lowers the tangent below the elastic one
    elastic = fe2.homogenize(cell_of(mesh, fe2.Isotropic(70.0, 0.3)), bc).tensor
    assert np.linalg.eigvalsh(elastic - base.tangent).max() > 0.1 * np.abs(elastic).max()


@pytest.mark.parametrize("bc", BCS)
def test_newton_converges_quadratically_and_hill_mandel_holds(mesh, bc):
    solution = solve(cell_of(mesh), E_PLASTIC, bc, tol=1e-13)
    r = np.array(solution.residuals)
    assert r[-1] <= 1e-13
    # quadratic: in the asymptotic range (and above round-off), r_{k+1} <= C r_k^2 with a moderate C
    tail = [(a, b) for a, b in zip(r[:-1], r[1:]) if a < 1e-3 and b > 1e-13]
    assert len(tail) >= 1 and all(b <= 50 * a**2 for a, b in tail), r
    assert solution.hill_mandel < 1e-8


def test_history_is_committed_only_by_the_caller(mesh):
    cell = cell_of(mesh)
    s0 = cell.initial_states()
    first = solve(cell, E_PLASTIC, "periodic", s0)
    assert np.all(s0["matrix"]["p"] == 0)                     # the given history is untouched
    assert first.state["matrix"]["p"].max() > 0
    again = solve(cell, E_PLASTIC, "periodic", s0)             # rollback: same step, same answer
    np.testing.assert_array_equal(again.stress, first.stress)
    unload = solve(cell, 0 * E_PLASTIC, "periodic", first.state)  # committed: unloading leaves residual stress
    assert np.abs(unload.stress).max() > 1e-3 * np.abs(first.stress).max()
    assert np.abs(solve(cell, 0 * E_PLASTIC, "periodic", s0).stress).max() == 0


def test_divergence_is_reported_not_swallowed(mesh):
    with pytest.raises(MicroDivergence, match="did not converge in 1 iterations") as error:
        solve(cell_of(mesh), E_PLASTIC, "kubc", max_iterations=1)
    assert len(error.value.residuals) == 2


def test_rve_law_is_a_material_point_law(mesh):
    """The cell-backed law answers like an analytic law, point by point, with per-point histories."""
    law = fe2.RVELaw(cell_of(mesh), "periodic")
    strains = np.array([0.5 * E_PLASTIC, E_PLASTIC])
    stress, tangent, state = law.response(strains, law.initial_state(2))
    for i, E in enumerate(strains):
        reference = solve(cell_of(mesh), E, "periodic")
        np.testing.assert_allclose(stress[i], reference.stress, rtol=1e-10)
        np.testing.assert_allclose(tangent[i], reference.tangent, rtol=1e-8, atol=1e-8 * np.abs(tangent).max())
    assert state[1]["micro"]["matrix"]["p"].max() > state[0]["micro"]["matrix"]["p"].max()
    linear = fe2.RVELaw(cell_of(mesh, fe2.Isotropic(70.0, 0.3)), "periodic")
    s, C, _ = linear.response(strains)
    np.testing.assert_allclose(C[0], fe2.homogenize(cell_of(mesh, fe2.Isotropic(70.0, 0.3))).tensor, rtol=1e-12)


def test_nonlinear_conduction_cell(mesh):
    cell = fe2.Cell(mesh, {"matrix": fe2.NonlinearConductor(1.0, g0=0.5, m=2.0), "inclusion": fe2.Conductor(10.0)})
    G = np.array([1.0, 0.5])
    solution = solve(cell, G, "periodic")
    h = 1e-6
    fd = np.column_stack([(solve(cell, G + h * e, "periodic").stress - solve(cell, G - h * e, "periodic").stress) / (2 * h)
                          for e in np.eye(2)])
    np.testing.assert_allclose(solution.tangent, fd, rtol=1e-6)
    assert solution.hill_mandel < 1e-8


def test_rve_law_on_workers_with_uneven_chunks(mesh, capsys):
    """5 points on 2 workers (3 + 2 points, pieces of unequal count): every point is solved, in
    agreement with the in-process law, and progress is shown."""
    strains = np.linspace(0.2, 1.0, 5)[:, None] * E_PLASTIC
    local = fe2.RVELaw(cell_of(mesh)).response(strains)
    with fe2.parallel.executor("serial") as ex:
        ex.workers = 2  # two in-process actors
        law = fe2.RVELaw(cell_of(mesh), executor=ex, progress=True)
        stress, tangent, token = law.response(strains, law.initial_state(5))
    np.testing.assert_allclose(stress, local[0], rtol=1e-12)
    np.testing.assert_allclose(tangent, local[1], rtol=1e-10, atol=1e-10 * np.abs(local[1]).max())
    assert "cells: 5/5 (100 %)" in capsys.readouterr().err


def test_subc_unloads_to_zero_strain(mesh):
    """Unloading under SUBC from a plastic state: the strain residual is measured against the strain
    in the field, so a zero (or tiny) macro strain converges, with residual stresses left."""
    cell = cell_of(mesh)
    loaded = solve(cell, E_PLASTIC, "subc")
    for E in (0 * E_PLASTIC, 1e-10 * E_PLASTIC):
        unloaded = solve(cell, E, "subc", loaded.state, guess=loaded.field)
        np.testing.assert_allclose(cell.average(cell.strain(unloaded.field)), E, atol=1e-12)
        assert unloaded.iterations < 10


@pytest.mark.parametrize("bc", ["periodic", "kubc"])
def test_an_elastic_increment_is_exact_without_a_newton_iteration(mesh, bc):
    """Unloading from a plastic state: the elastic predictor (the unit fields of the virgin cell) is
    equilibrated as it stands, so the solve takes no iteration and needs no factorization of its own;
    stress and tangent equal those of a Newton solve from another start to 1e-10, and the stress is
    the committed one plus the virgin effective tensor times the increment (superposition)."""
    cell = cell_of(mesh)
    loaded = solve(cell, E_PLASTIC, bc)
    assert not loaded.elastic and loaded.iterations >= 2
    dE = np.array([-0.0004, 0.0002, -0.0001])
    skipped = solve(cell, E_PLASTIC + dE, bc, loaded.state, guess=loaded.field)
    assert skipped.iterations == 0 and skipped.elastic
    assert skipped.linearization is cell.linearize()                   # the virgin tangent serves
    full = solve(cell, E_PLASTIC + dE, bc, loaded.state, guess=cell.affine @ (E_PLASTIC + dE))
    assert full.iterations >= 1
    np.testing.assert_allclose(skipped.stress, full.stress, rtol=1e-10, atol=1e-10 * np.abs(full.stress).max())
    np.testing.assert_allclose(skipped.tangent, full.tangent, rtol=1e-10, atol=1e-10 * np.abs(full.tangent).max())
    virgin = fe2.homogenize(cell, bc).tensor
    np.testing.assert_allclose(skipped.stress, loaded.stress + virgin @ dE, rtol=1e-10,
                               atol=1e-10 * np.abs(loaded.stress).max())
    for name in ("plastic_strain", "p"):                               # the plastic history is unchanged
        np.testing.assert_array_equal(skipped.state["matrix"][name], loaded.state["matrix"][name])
    reloaded = solve(cell, 1.3 * E_PLASTIC, bc, skipped.state, guess=skipped.field)
    assert not reloaded.elastic and reloaded.iterations >= 1          # further loading yields again
