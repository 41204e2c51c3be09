"""No hidden state: a cell answers the same question the same way whatever was solved before, and a
solve returns new state without changing what it was given."""

import copy

import numpy as np
import pytest
from scipy.optimize import brentq

import fe2

J2 = fe2.J2Plasticity(E=200e3, nu=0.3, yield_stress=250.0, hardening=2e3)
ELASTIC = fe2.Isotropic(E=70e3, nu=0.3)


@pytest.fixture(scope="module")
def laminate():
    """Layers normal to x, half J2 and half elastic: the periodic solution is uniform in each layer."""
    mesh = fe2.geometry.laminate(0.5, normal=0, h=0.25, phases=("j2", "elastic"))
    return fe2.Cell(mesh, {"j2": J2, "elastic": ELASTIC})


def exact_laminate_stress(strain_xx, fraction=0.5):
    """<sigma_xx> of the laminate under the macro strain (strain_xx, 0, 0): in each layer eps_yy and
    eps_xy equal the macro ones (0), sigma_xx is continuous and the layer strains average to strain_xx."""
    def stress(law, e):
        return law.response(np.array([[e, 0.0, 0.0]]))[0][0, 0]
    jump = brentq(lambda a: stress(J2, a) - stress(ELASTIC, (strain_xx - fraction * a) / (1 - fraction)),
                  0.0, strain_xx / fraction, xtol=1e-16, rtol=1e-15)
    return stress(J2, jump)


def test_response_of_a_nonlinear_cell_is_the_micro_newton_before_and_after_other_solves(laminate):
    E = [0.01, 0.0, 0.0]
    exact = exact_laminate_stress(0.01)
    first = fe2.response(laminate, E, "periodic")
    assert abs(first[0][0] - exact) <= 1e-8 * exact            # the J2 answer (the elastic one is 1396)
    solution = fe2.nonlinear.solve(laminate, E, "periodic")
    np.testing.assert_allclose(solution.stress, first[0], rtol=1e-12)
    np.testing.assert_allclose(solution.tangent, first[1], rtol=1e-12)
    fe2.nonlinear.solve(laminate, [0.02, 0.005, -0.003], "kubc")     # another plastic solve in between
    fe2.homogenize(laminate, "subc")
    again = fe2.response(laminate, E, "periodic")
    np.testing.assert_array_equal(again[0], first[0])
    np.testing.assert_array_equal(again[1], first[1])


def test_homogenize_and_bounds_are_of_the_virgin_cell_before_and_after_a_nonlinear_solve(laminate):
    before = {bc: fe2.homogenize(laminate, bc).tensor for bc in ("periodic", "kubc", "subc")}
    voigt, reuss = fe2.bounds.voigt(laminate), fe2.bounds.reuss(laminate)
    solution = fe2.nonlinear.solve(laminate, [0.01, 0.0, 0.0], "periodic")
    for bc, tensor in before.items():
        np.testing.assert_array_equal(fe2.homogenize(laminate, bc).tensor, tensor)
    np.testing.assert_array_equal(fe2.bounds.voigt(laminate), voigt)
    np.testing.assert_array_equal(fe2.bounds.reuss(laminate), reuss)
    # the plastic state is asked for explicitly, through the converged linearization
    plastic = fe2.homogenize(solution.linearization, "periodic").tensor
    np.testing.assert_allclose(plastic, solution.tangent, rtol=1e-12, atol=1e-12 * np.abs(plastic).max())
    assert plastic[0, 0] < 0.9 * before["periodic"][0, 0]
    assert np.linalg.eigvalsh(fe2.bounds.voigt(solution.linearization) - voigt).max() < 0   # softer everywhere


def test_a_solve_changes_neither_the_cell_nor_the_history_it_is_given(laminate):
    loaded = fe2.nonlinear.solve(laminate, [0.01, 0.0, 0.0], "periodic")
    state = copy.deepcopy(loaded.state)
    cell_arrays = {name: value.copy() for name, value in vars(laminate).items() if isinstance(value, np.ndarray)}
    unloaded = fe2.nonlinear.solve(laminate, [0.0, 0.0, 0.0], "periodic", loaded.state)
    for phase, history in state.items():
        for key, value in (history or {}).items():
            np.testing.assert_array_equal(loaded.state[phase][key], value)
    assert unloaded.state["j2"]["p"].max() > 0                    # the new history keeps the plastic strain
    for name, value in cell_arrays.items():
        np.testing.assert_array_equal(getattr(laminate, name), value)


def test_linearizations_are_new_read_only_objects(laminate):
    virgin = laminate.linearize()
    assert laminate.linearize() is virgin                            # made once
    doubled = laminate.linearize(2 * laminate.phase_tangents())
    assert doubled is not virgin and doubled.body is laminate
    for array in (virgin.tangent, doubled.tangent, laminate.elastic_tangent,
                  doubled.bind("periodic").tangent(), laminate.constraint("periodic")[0]):
        with pytest.raises(ValueError, match="read-only"):
            array[...] = 0.0
    with pytest.raises(ValueError, match=r"a tangent of .* has shape"):
        laminate.linearize(np.eye(3))


def test_rve_law_shares_the_cell_and_leaves_it_unchanged(laminate):
    before = fe2.response(laminate, [0.01, 0.0, 0.0], "periodic")
    law = fe2.RVELaw(laminate, "periodic")
    assert law.cell is laminate
    stress, tangent, state = law.response(np.array([[0.01, 0.0, 0.0], [0.02, 0.0, 0.0]]), law.initial_state(2))
    np.testing.assert_allclose(stress[0], before[0], rtol=1e-10)
    after = fe2.response(laminate, [0.01, 0.0, 0.0], "periodic")
    np.testing.assert_array_equal(after[0], before[0])
    np.testing.assert_array_equal(fe2.homogenize(laminate).tensor, law.tensor(2))


def test_a_phase_law_must_answer_the_contract():
    mesh = fe2.geometry.laminate(0.5, normal=0, h=0.25, phases=("a", "b"))

    class NotALaw:
        physics = "elasticity"

    with pytest.raises(TypeError, match=r"phase 'b': .* is not a material law; subclass fe2.materials.Law"):
        fe2.Cell(mesh, {"a": ELASTIC, "b": NotALaw()})


@pytest.mark.skipif(fe2.cell.linalg.pypardiso is None, reason="MKL Pardiso is not available on this platform")
def test_one_symbolic_analysis_serves_every_newton_iteration(monkeypatch):
    """A micro Newton pays one numeric factorization per iteration; the ordering and symbolic analysis
    of the cell's pattern are made once per Pardiso handle (the virgin cell's, and two more: the
    linearization of an iteration is made while the previous one is alive) and serve later solves."""
    mesh = fe2.geometry.inclusion(0.4, h=0.1, phases=("matrix", "fiber"))
    cell = fe2.Cell(mesh, {"matrix": fe2.J2Plasticity(E=70.0, nu=0.33, yield_stress=0.2, hardening=1.0),
                           "fiber": fe2.Isotropic(E=400.0, nu=0.2)})
    phases = []
    original = fe2.cell.linalg._run
    monkeypatch.setattr(fe2.cell.linalg, "_run", lambda solver, phase, A, b: phases.append(phase) or original(solver, phase, A, b))
    first = fe2.nonlinear.solve(cell, [0.01, 0.0, 0.002], "periodic")
    second = fe2.nonlinear.solve(cell, [0.012, -0.002, 0.0], "periodic", first.state, guess=first.field)
    assert first.iterations >= 3 and second.iterations >= 2
    # one numeric factorization per linearization, and one of the virgin cell (its unit fields predict)
    assert phases.count(22) == (first.iterations + 1) + (second.iterations + 1) + 1
    assert phases.count(11) <= 3                                                # the analysis, once per handle
    assert phases.count(12) == 0
