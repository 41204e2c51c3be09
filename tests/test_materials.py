"""Material laws: tensors in Mandel notation, plane-strain reduction, conversions."""

import numpy as np
import pytest

import fe2
from fe2 import notation


def test_isotropic_tensor_and_lame_constructor():
    law = fe2.Isotropic(E=10.0, nu=0.25)
    lam, mu = 10 * 0.25 / (1.25 * 0.5), 10 / 2.5
    np.testing.assert_allclose(law.tensor(3)[:3, :3], lam + 2 * mu * np.eye(3))
    np.testing.assert_allclose(np.diag(law.tensor(3))[3:], 2 * mu)  # Mandel shear entries are 2 mu
    np.testing.assert_allclose(fe2.Isotropic.from_lame(lam, mu).tensor(3), law.tensor(3), rtol=1e-14)


def test_plane_strain_block_of_a_3d_stiffness():
    """The 2D tangent of a 6x6 law is its (xx, yy, xy) block: rows/columns 0, 1 and 5."""
    rng = np.random.default_rng(1)
    A = rng.normal(size=(6, 6))
    C = A @ A.T + 6 * np.eye(6)
    np.testing.assert_array_equal(fe2.Anisotropic(C).tensor(2), C[np.ix_([0, 1, 5], [0, 1, 5])])
    iso = fe2.Isotropic(E=3.0, nu=0.3)
    np.testing.assert_allclose(fe2.Anisotropic(iso.tensor(3)).tensor(2), iso.tensor(2), rtol=1e-14)


def test_voigt_and_mandel_conversions():
    iso = fe2.Isotropic(E=3.0, nu=0.3)
    voigt = notation.mandel_to_voigt(iso.tensor(3))
    np.testing.assert_allclose(voigt[3:, 3:], iso.mu * np.eye(3))          # engineering shear: tau = mu gamma
    np.testing.assert_allclose(notation.voigt_to_mandel(voigt), iso.tensor(3))
    np.testing.assert_allclose(fe2.Anisotropic(voigt, convention="voigt").C, iso.tensor(3))
    eps = np.array([[1.0, 0.2, 0.1], [0.2, -0.5, 0.3], [0.1, 0.3, 0.7]])
    np.testing.assert_allclose(notation.from_mandel(notation.to_mandel(eps)), eps)
    sigma = notation.from_mandel(iso.tensor(3) @ notation.to_mandel(eps))
    assert np.tensordot(sigma, eps) == pytest.approx(notation.to_mandel(sigma) @ notation.to_mandel(eps))


def test_response_is_vectorized_over_points():
    law = fe2.Isotropic(E=3.0, nu=0.3)
    strain = np.random.default_rng(0).normal(size=(5, 3))
    stress, tangent, state = law.response(strain)
    np.testing.assert_allclose(stress, strain @ law.tensor(2).T)
    assert tangent.shape == (5, 3, 3) and state is None


@pytest.mark.parametrize("make", [lambda E: fe2.Isotropic(E=E, nu=0.3),
                                  lambda E: fe2.J2Plasticity(E=E, nu=0.3, yield_stress=1.0)])
def test_a_non_numeric_modulus_is_named(make):
    """E and nu are checked in one place (elastic_constants) for every isotropic law, with a message
    that names the parameter rather than numpy's conversion error."""
    with pytest.raises(ValueError, match=r"Young's modulus E must be a real number, got 'abc'"):
        make("abc")
    with pytest.raises(ValueError, match=r"Young's modulus E must be a real number, got \[1.0, 2.0\]"):
        make([1.0, 2.0])
    with pytest.raises(ValueError, match=r"E must be finite, got nan"):
        make(float("nan"))
    with pytest.raises(ValueError, match=r"Young's modulus E must be positive, got E=-1.0"):
        make(-1.0)
