"""Nonlinear micro laws: J2 plasticity (radial return, consistent tangent, history) and nonlinear conduction."""

import copy

import numpy as np
import pytest

import fe2
from fe2.materials.plasticity import J2Plasticity, NonlinearConductor, ReturnMappingError

E, NU, SY = 200.0, 0.3, 1.0  # yield strain 5e-3
LAWS = {
    "perfect": J2Plasticity(E, NU, SY),
    "linear": J2Plasticity(E, NU, SY, hardening=20.0),
    "voce": J2Plasticity(E, NU, SY, hardening=5.0, saturation=(1.8, 40.0)),
}
PLANE = [0, 1, 5]


def embed(strain):
    if strain.shape[-1] == 6:
        return strain
    out = np.zeros(strain.shape[:-1] + (6,))
    out[..., PLANE] = strain
    return out


def trial_overstress(law, strain, state):
    """f_trial / flow stress: > 0 plastic, <= 0 elastic."""
    trial = (embed(strain) - state["plastic_strain"]) @ law.tensor(3)
    return law.equivalent_stress(trial) / law.flow_stress(state["p"]) - 1


def fd_tangent(law, strain, state, step):
    """Central differences of the stress (vectorized over points), from the same state."""
    n = strain.shape[-1]
    columns = []
    for j in range(n):
        d = np.zeros(n)
        d[j] = step
        columns.append((law.response(strain + d, state)[0] - law.response(strain - d, state)[0]) / (2 * step))
    return np.stack(columns, axis=-1)


def loaded_state(law, rng, points, n):
    """A non-virgin state: one plastic step from the virgin state at random strains; returns (strain, state)."""
    strain = rng.normal(size=(points, n)) * 2e-2
    return strain, law.response(strain)[2]


# ------------------------------------------------------------------------------------------------
# 1. consistent tangent


@pytest.mark.parametrize("name", sorted(LAWS))
@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("magnitude", [1e-3, 1e-2, 1e-1])
@pytest.mark.parametrize("history", [False, True])
def test_consistent_tangent_matches_finite_differences(name, dim, magnitude, history):
    law = LAWS[name]
    rng = np.random.default_rng([sorted(LAWS).index(name), dim, int(round(-np.log10(magnitude))), history])
    n = 3 if dim == 2 else 6
    points = 40
    previous, state = loaded_state(law, rng, points, n) if history else (0.0, law.initial_state(points))
    strain = previous + rng.normal(size=(points, n)) * magnitude  # with history: further loading or unloading
    over = trial_overstress(law, strain, state)
    keep = np.abs(over) > 1e-3  # not within a finite-difference step of the yield surface
    strain, over = strain[keep], over[keep]
    state = {k: v[keep] for k, v in state.items()}
    _, tangent, new = law.response(strain, state)
    step = 1e-6 * magnitude
    fd = fd_tangent(law, strain, state, step)
    scale = np.abs(tangent).max(axis=(-2, -1), keepdims=True)
    assert np.abs(fd - tangent).max(axis=(-2, -1)).max() / scale.min() < 1e-6
    np.testing.assert_allclose(tangent, np.swapaxes(tangent, -1, -2), atol=1e-12 * scale.max())  # associative
    # elastic points get exactly the elastic tangent; plastic points a softer one
    elastic = over < 0
    np.testing.assert_allclose(tangent[elastic], np.broadcast_to(law.tensor(dim), tangent[elastic].shape), rtol=1e-13)
    assert np.array_equal(new["p"] > state["p"], ~elastic)
    if magnitude >= 1e-2 or history:
        assert (~elastic).sum() >= 5
    if magnitude == 1e-3 and not history:
        assert elastic.all()


def test_vectorized_over_any_leading_shape():
    law = LAWS["voce"]
    rng = np.random.default_rng(3)
    strain = rng.normal(size=(2, 3, 4, 6)) * 2e-2
    stress, tangent, state = law.response(strain)
    assert stress.shape == (2, 3, 4, 6) and tangent.shape == (2, 3, 4, 6, 6)
    assert state["plastic_strain"].shape == (2, 3, 4, 6) and state["p"].shape == (2, 3, 4)
    s1, t1, st1 = law.response(strain[1, 2, 3])  # a single point, leading shape ()
    assert s1.shape == (6,) and t1.shape == (6, 6) and st1["p"].shape == ()
    np.testing.assert_allclose(s1, stress[1, 2, 3], rtol=1e-14)
    np.testing.assert_allclose(t1, tangent[1, 2, 3], rtol=1e-14, atol=1e-12)
    np.testing.assert_allclose(st1["p"], state["p"][1, 2, 3], rtol=1e-14)
    # second step from the non-trivial state, broadcast shapes again
    s2, _, st2 = law.response(strain * 1.5, state)
    s2_point, _, st2_point = law.response(strain[0, 1, 2] * 1.5, {k: v[0, 1, 2] for k, v in state.items()})
    np.testing.assert_allclose(s2_point, s2[0, 1, 2], rtol=1e-14)
    np.testing.assert_allclose(law.tensor_at(3, np.zeros((3, 5, 7))), np.broadcast_to(law.tensor(3), (5, 7, 6, 6)))
    np.testing.assert_allclose(law.tensor(3), fe2.Isotropic(E, NU).tensor(3), rtol=1e-14)
    np.testing.assert_allclose(law.tensor(2), fe2.Isotropic(E, NU).tensor(2), rtol=1e-14)


# ------------------------------------------------------------------------------------------------
# 2. uniaxial stress


def uniaxial_stress(law, strains):
    """Drive eps_xx through ``strains`` with all other stresses zero (lateral strains by Newton with
    the consistent tangent, from the committed state); returns sigma_xx, states and Newton iterations."""
    state = law.initial_state(())
    eps = np.zeros(6)
    sigma, states, iterations = [], [], []
    for exx in strains:
        eps[0] = exx
        for it in range(20):
            stress, tangent, new = law.response(eps, state)
            residual = stress[1:]
            if np.abs(residual).max() <= 1e-13 * max(abs(stress[0]), law.yield_stress):
                break
            eps[1:] -= np.linalg.solve(tangent[1:, 1:], residual)
        else:
            raise AssertionError(f"lateral Newton did not converge at eps_xx={exx}")
        state = new  # commit
        sigma.append(stress[0])
        states.append(new)
        iterations.append(it)
    return np.array(sigma), states, iterations


def test_uniaxial_stress_linear_hardening_curve():
    H = 20.0
    law = J2Plasticity(E, NU, SY, hardening=H)
    strains = np.linspace(0, 0.05, 41)[1:]
    sigma, states, iterations = uniaxial_stress(law, strains)
    eps_y = SY / E
    exact = np.where(strains <= eps_y, E * strains, SY + E * H / (E + H) * (strains - eps_y))
    np.testing.assert_allclose(sigma, exact, rtol=1e-8)
    p = np.array([s["p"] for s in states])
    eps_p = np.array([s["plastic_strain"] for s in states])
    np.testing.assert_allclose(sigma[strains > eps_y], SY + H * p[strains > eps_y], rtol=1e-10)  # sigma = sy + H eps_p
    np.testing.assert_allclose(eps_p[:, 0], p, atol=1e-15)  # uniaxial: p = eps_p,xx
    np.testing.assert_allclose(eps_p[:, 1:3], -0.5 * p[:, None] * [1, 1], atol=1e-15)
    np.testing.assert_allclose(eps_p[:, 3:], 0, atol=1e-15)
    assert max(iterations) <= 4  # quadratic convergence of the lateral Newton: the tangent is consistent


# ------------------------------------------------------------------------------------------------
# 3. plane strain


def test_plane_strain_elastic_out_of_plane_stress():
    law = LAWS["linear"]
    strain = np.array([[1e-3, -4e-4, 6e-4], [2e-4, 3e-4, -1e-4]])  # well inside the yield surface
    stress, tangent, state = law.response(strain)
    assert np.all(state["p"] == 0)
    np.testing.assert_allclose(stress, strain @ fe2.Isotropic(E, NU).tensor(2).T, rtol=1e-14)
    np.testing.assert_allclose(law.stress_3d(strain, state)[:, 2], law.lam * (strain[:, 0] + strain[:, 1]), rtol=1e-14)


@pytest.mark.parametrize("name", ["perfect", "linear", "voce"])
def test_plane_strain_plastic_return(name):
    law = LAWS[name]
    rng = np.random.default_rng(7)
    points, steps = 6, 25
    # non-proportional plane-strain paths (the direction turns), committed step by step
    directions = rng.normal(size=(points, 3))
    turn = rng.normal(size=(points, 3))
    state = law.initial_state(points)
    accumulated = np.zeros(points)
    plastic_steps = np.zeros(points, dtype=int)
    for k in range(1, steps + 1):
        t = k / steps
        strain = 0.03 * t * (np.cos(2 * t) * directions + np.sin(2 * t) * turn)
        stress, _, new = law.response(strain, state)
        # the 2D answer is the (xx, yy, xy) block of the 3D answer with eps_zz = eps_yz = eps_xz = 0
        s3, t3, n3 = law.response(embed(strain), state)
        np.testing.assert_allclose(stress, s3[:, PLANE], rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(new["plastic_strain"], n3["plastic_strain"], rtol=1e-13, atol=1e-16)
        plastic = new["p"] > state["p"]  # plastic in this step (others unload or stay elastic)
        np.testing.assert_array_equal(new["plastic_strain"][~plastic], state["plastic_strain"][~plastic])
        accumulated += np.sqrt(2 / 3) * np.linalg.norm(new["plastic_strain"] - state["plastic_strain"], axis=-1)
        state = new
        full = law.stress_3d(strain, state)
        np.testing.assert_allclose(full[:, PLANE], stress, rtol=1e-13, atol=1e-13)
        f = law.equivalent_stress(full) - law.flow_stress(state["p"])
        assert np.all(np.abs(f[plastic]) <= 1e-10 * law.flow_stress(state["p"][plastic]))
        assert np.all(f[~plastic] <= 0)
        plastic_steps += plastic
    assert np.all(plastic_steps >= 5)
    eps_p = state["plastic_strain"]
    assert np.all(np.abs(eps_p[:, 2]) > 1e-4)  # eps_p,zz != 0 while eps_zz = 0
    np.testing.assert_allclose(eps_p[:, 3:5], 0, atol=1e-16)  # no out-of-plane shear
    np.testing.assert_allclose(eps_p[:, :3].sum(axis=1), 0, atol=1e-15)  # plastic incompressibility
    np.testing.assert_allclose(state["p"], accumulated, rtol=1e-12)
    # sigma_zz is not lambda tr(eps) in the plastic range: it is C_e (eps - eps_p) with eps_zz = 0
    np.testing.assert_allclose(full[:, 2], law.lam * (strain[:, 0] + strain[:, 1] - eps_p[:, :3].sum(axis=1))
                               - 2 * law.mu * eps_p[:, 2], rtol=1e-12)


# ------------------------------------------------------------------------------------------------
# 4. unloading, history untouched


@pytest.mark.parametrize("dim", [2, 3])
def test_unloading_is_elastic_and_input_state_untouched(dim):
    law = LAWS["voce"]
    n = 3 if dim == 2 else 6
    rng = np.random.default_rng(11)
    direction = rng.normal(size=(5, n))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    state = law.initial_state(5)
    for a in np.linspace(0.004, 0.03, 8):  # monotonic plastic loading, committed
        stress, _, state = law.response(a * direction, state)
    assert np.all(state["p"] > 0)
    before = copy.deepcopy(state)
    C = law.tensor(dim)
    for b in [0.029, 0.027, 0.024]:  # unloading
        s_b, t_b, new = law.response(b * direction, state)
        np.testing.assert_allclose(s_b - stress, (b - 0.03) * direction @ C.T, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(t_b, np.broadcast_to(C, t_b.shape), rtol=1e-14)
        np.testing.assert_array_equal(new["p"], state["p"])
        np.testing.assert_array_equal(new["plastic_strain"], state["plastic_strain"])
        assert np.all(np.linalg.norm(s_b, axis=1) < np.linalg.norm(stress, axis=1))
    # a plastic step does not touch the state it was given and returns new arrays
    _, _, new = law.response(0.05 * direction, state)
    assert np.all(new["p"] > state["p"])
    for key in before:
        np.testing.assert_array_equal(state[key], before[key])
        assert not np.shares_memory(new[key], state[key])
    # None is the virgin state
    np.testing.assert_array_equal(law.response(0.01 * direction)[0],
                                  law.response(0.01 * direction, law.initial_state(5))[0])


# ------------------------------------------------------------------------------------------------
# 5. Voce saturation


@pytest.mark.parametrize("H", [0.0, 3.0])
def test_voce_saturation(H):
    sat, delta = 1.6, 60.0
    law = J2Plasticity(E, NU, SY, hardening=H, saturation=(sat, delta))
    strains = np.concatenate([np.linspace(0.001, 0.01, 10), np.linspace(0.02, 0.4, 20)])
    sigma, states, _ = uniaxial_stress(law, strains)
    p = np.array([s["p"] for s in states])
    plastic = p > 0
    exact = SY + H * p + (sat - SY) * (1 - np.exp(-delta * p))
    np.testing.assert_allclose(sigma[plastic], exact[plastic], rtol=1e-10)
    assert np.all(np.diff(sigma) > 0)
    assert delta * p[-1] > 20
    np.testing.assert_allclose(sigma[-1] - H * p[-1], sat, rtol=1e-8)  # saturated
    # the Newton of the return mapping reports non-convergence clearly
    law.max_iterations = 1
    with pytest.raises(ReturnMappingError, match=r"did not converge in 1 iterations at 3 of 3 plastic points"):
        law.response(np.array([[0.02, 0, 0, 0, 0, 0]] * 3 + [[1e-4, 0, 0, 0, 0, 0]]))


# ------------------------------------------------------------------------------------------------
# 6. nonlinear conduction


@pytest.mark.parametrize("m", [0.3, 1.0, 2.5])
@pytest.mark.parametrize("dim", [1, 2, 3])
def test_nonlinear_conductor_tangent(m, dim):
    law = NonlinearConductor(k0=2.0, g0=0.7, m=m)
    rng = np.random.default_rng(dim)
    g = rng.normal(size=(3, 10, dim)) * np.array([0.01, 1.0, 30.0])[:, None, None]
    flux, tangent, state = law.response(g)
    assert state is None and law.initial_state((3, 10)) is None
    assert flux.shape == g.shape and tangent.shape == g.shape + (dim,)
    step = 1e-6 * np.abs(g).max(axis=-1, keepdims=True)
    fd = np.stack([(law.response(g + step * np.eye(dim)[j])[0] - law.response(g - step * np.eye(dim)[j])[0])
                   / (2 * step) for j in range(dim)], axis=-1)
    np.testing.assert_allclose(fd, tangent, rtol=1e-6, atol=1e-6 * np.abs(tangent).max())
    assert np.linalg.eigvalsh(tangent).min() > 0
    np.testing.assert_allclose(law.response(np.zeros(dim))[1], law.tensor(dim))
    np.testing.assert_allclose(law.tensor_at(dim, np.zeros((dim, 4))), np.broadcast_to(2.0 * np.eye(dim), (4, dim, dim)))


def test_nonlinear_conductor_linear_case_and_formula():
    g = np.random.default_rng(0).normal(size=(7, 2)) * 5
    s_lin, t_lin, _ = fe2.Conductor(2.5).response(g)
    s, t, _ = NonlinearConductor(2.5, g0=0.3, m=1.0).response(g)
    np.testing.assert_allclose(s, s_lin, rtol=1e-15)
    np.testing.assert_allclose(t, t_lin, rtol=1e-15)
    # 1D: flux k(g) g = k0 (1 + (g/g0)^2)^((m-1)/2) g
    law = NonlinearConductor(3.0, g0=0.5, m=3.0)
    flux, tangent, _ = law.response(np.array([[2.0], [-2.0], [0.0]]))
    np.testing.assert_allclose(flux[:, 0], [3.0 * 17 * 2, -3.0 * 17 * 2, 0.0], rtol=1e-14)
    np.testing.assert_allclose(tangent[:, 0, 0], [3 * (17 + 2 * 16), 3 * (17 + 2 * 16), 3.0], rtol=1e-14)  # d/dg
    soft = NonlinearConductor(1.0, g0=1.0, m=0.5)
    np.testing.assert_allclose(soft.response([[3.0]])[0][0, 0], 10 ** -0.25 * 3, rtol=1e-14)
    assert soft.conductivity(3.0) < soft.conductivity(0.0) == 1.0
    assert repr(law) == "NonlinearConductor(k0=3, g0=0.5, m=3)"


# ------------------------------------------------------------------------------------------------
# 7. errors


@pytest.mark.parametrize("kwargs, match", [
    (dict(E=0.0), r"Young's modulus E must be positive, got E=0"),
    (dict(E=-1.0), r"E=-1"),
    (dict(E=np.nan), r"E must be finite"),
    (dict(nu=0.5), r"-1 < nu < 0.5, got nu=0.5"),
    (dict(nu=-1.0), r"nu=-1"),
    (dict(yield_stress=0.0), r"yield_stress must be positive, got yield_stress=0"),
    (dict(hardening=-1.0), r"hardening must be non-negative, got hardening=-1"),
    (dict(saturation=(0.5, 10.0)), r"sigma_sat must be >= yield_stress=1.0, got sigma_sat=0.5"),
    (dict(saturation=(2.0, 0.0)), r"delta must be positive, got delta=0"),
    (dict(saturation=2.0), r"saturation must be None or a pair"),
])
def test_j2_parameter_errors(kwargs, match):
    args = dict(E=E, nu=NU, yield_stress=SY) | kwargs
    with pytest.raises(ValueError, match=match):
        J2Plasticity(**args)


def test_j2_input_errors():
    law = LAWS["linear"]
    with pytest.raises(ValueError, match=r"strain must be finite, but 1 of 12 entries"):
        law.response(np.array([[0, 0, np.inf], [0, 0, 0], [0, 0, 0], [0, 0, 0]]))
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 3\) \(plane strain\) or \(\.\.\., 6\)"):
        law.response(np.zeros((4, 4)))
    with pytest.raises(ValueError, match=r"strain points have shape \(4,\), so plastic_strain must be \(4, 6\) "
                                         r"and p \(4,\), got plastic_strain \(5, 6\) and p \(5,\)"):
        law.response(np.zeros((4, 3)), law.initial_state(5))
    with pytest.raises(ValueError, match=r"got plastic_strain \(4, 3\)"):
        law.response(np.zeros((4, 3)), {"plastic_strain": np.zeros((4, 3)), "p": np.zeros(4)})
    with pytest.raises(ValueError, match=r"dict with 'plastic_strain' and 'p'"):
        law.response(np.zeros((4, 3)), {"p": np.zeros(4)})
    with pytest.raises(ValueError, match=r"dim must be 2 \(plane strain\) or 3"):
        law.tensor(1)
    assert repr(LAWS["voce"]) == "J2Plasticity(E=200, nu=0.3, yield_stress=1, hardening=5, saturation=(1.8, 40))"


@pytest.mark.parametrize("kwargs, match", [
    (dict(k0=0.0), r"conductivity k0 must be positive, got k0=0"),
    (dict(k0=1.0, g0=-1.0), r"reference gradient g0 must be positive, got g0=-1"),
    (dict(k0=1.0, m=0.0), r"exponent m must be positive, got m=0"),
    (dict(k0=np.inf), r"k0 must be finite"),
])
def test_nonlinear_conductor_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        NonlinearConductor(**kwargs)


def test_nonlinear_conductor_input_errors():
    law = NonlinearConductor(1.0, m=2.0)
    with pytest.raises(ValueError, match=r"gradient must be finite, but 1 of 4 entries"):
        law.response(np.array([[0.0, np.nan], [1.0, 2.0]]))
    with pytest.raises(ValueError, match=r"dim 1, 2 or 3, got \(2, 4\)"):
        law.response(np.zeros((2, 4)))


@pytest.mark.skipif(not fe2.materials.compiled.AVAILABLE, reason="numba is not installed")
@pytest.mark.parametrize("saturation", [None, (0.5, 20.0)], ids=["linear", "voce"])
@pytest.mark.parametrize("n", [3, 6])
def test_compiled_return_mapping_equals_the_numpy_reference(saturation, n):
    """The compiled kernel and the numpy reference agree to round-off on loaded histories, elastic and
    plastic points mixed; elastic points get the elastic stiffness bit for bit (a cell tells an
    elastic increment by it)."""
    law = J2Plasticity(E=70.0, nu=0.33, yield_stress=0.2, hardening=1.0, saturation=saturation)
    rng = np.random.default_rng(4)
    strain = rng.normal(scale=0.004, size=(50, 7, n))
    state = {"plastic_strain": rng.normal(scale=0.001, size=(50, 7, 6)), "p": np.abs(rng.normal(scale=0.01, size=(50, 7)))}
    stress, tangent, new = law.response(strain, state)
    ref_stress, ref_tangent, ref_new = law.reference_response(strain, state)
    np.testing.assert_allclose(stress, ref_stress, rtol=0, atol=1e-14 * np.abs(ref_stress).max())
    np.testing.assert_allclose(tangent, ref_tangent, rtol=0, atol=1e-14 * np.abs(ref_tangent).max())
    np.testing.assert_allclose(new["plastic_strain"], ref_new["plastic_strain"], rtol=0, atol=1e-16)
    np.testing.assert_allclose(new["p"], ref_new["p"], rtol=1e-14, atol=0)
    elastic = new["p"] == state["p"]
    assert 0 < elastic.sum() < elastic.size
    np.testing.assert_array_equal(tangent[elastic], np.broadcast_to(law.tensor(2 if n == 3 else 3), tangent[elastic].shape))
