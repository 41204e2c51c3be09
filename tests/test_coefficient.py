"""Coefficient fields: material parameters given as functions of position, evaluated at quadrature points."""

import numpy as np
import pytest

import fe2
from fe2.cell.analytic import laminate_stiffness

from conftest import structured


def a1(y):
    return 2 + 1.5 * np.sin(2 * np.pi * y)


def a2(y):
    return 3 + np.cos(2 * np.pi * y)


# a(y) = a1(y1) a2(y2): A11 = <a2> / <1/a1>, A22 = <a1> / <1/a2>; <1/(c + d sin)> = 1 / sqrt(c^2 - d^2)
SEPARABLE = np.diag([3 * np.sqrt(2**2 - 1.5**2), 2 * np.sqrt(3**2 - 1)])


def separable(n, order):
    cell = fe2.Cell(structured(2, n), fe2.Conductor(lambda x: a1(x[0]) * a2(x[1])), order=order)
    return fe2.homogenize(cell, "periodic").tensor


def test_separable_field_gives_its_exact_tensor():
    np.testing.assert_allclose(separable(16, 2), SEPARABLE, rtol=1e-4, atol=1e-6)


def test_separable_field_converges_at_order_two_with_p1():
    errors = [np.abs(separable(n, 1) - SEPARABLE).max() for n in (8, 16, 32)]
    rates = np.log2(np.array(errors[:-1]) / errors[1:])
    assert np.all((1.8 < rates) & (rates < 2.3)), (errors, rates)


def test_oscillating_field_of_two_variables():
    """The field a(y) = (2 + 1.8 sin 2 pi y1)/(2 + 1.8 cos 2 pi y2) + (2 + sin 2 pi y2)/(2 + 1.8 sin 2 pi y1):
    the three conditions keep their order inside the arithmetic/harmonic means, with Hill-Mandel."""
    def a(x):
        s1, c2, s2 = np.sin(2 * np.pi * x[0]), np.cos(2 * np.pi * x[1]), np.sin(2 * np.pi * x[1])
        return (2 + 1.8 * s1) / (2 + 1.8 * c2) + (2 + s2) / (2 + 1.8 * s1)

    cell = fe2.Cell(structured(2, 24), fe2.Conductor(a), order=2)
    comparison = fe2.compare(cell)
    assert comparison.ordered
    assert all(result.hill_mandel < 1e-10 for result in comparison.results.values())
    # the field is not separable: the effective tensor is not diagonal along the axes it varies on
    K = comparison.results["periodic"].tensor
    assert K[0, 0] != pytest.approx(K[1, 1], rel=1e-3)
    # a(1/2 - y1, y2) = a(y1, y2): the mirror symmetry makes K12 vanish, up to the mesh's own asymmetry
    assert abs(K[0, 1]) < 1e-4 * K[0, 0]
    # P2 on a coarser mesh agrees: the answer is converged, not an artefact of the mesh
    coarse = fe2.homogenize(fe2.Cell(structured(2, 12), fe2.Conductor(a), order=2), "periodic").tensor
    np.testing.assert_allclose(coarse, K, rtol=2e-3, atol=1e-3 * K[0, 0])


def test_continuous_elastic_laminate():
    """E(y1) varying smoothly, nu constant: a continuous laminate, whose tensor is the laminate formula
    integrated over many thin layers."""
    E = lambda y: 2 + 1.5 * np.cos(2 * np.pi * y)  # noqa: E731
    cell = fe2.Cell(structured(2, 16), fe2.Isotropic(E=lambda x: E(x[0]), nu=0.3), order=2)
    C = fe2.homogenize(cell, "periodic").tensor
    layers = (np.arange(4000) + 0.5) / 4000
    exact = laminate_stiffness([fe2.Isotropic(E=E(y), nu=0.3).tensor(2) for y in layers], np.full(4000, 1 / 4000))
    np.testing.assert_allclose(C, exact, rtol=2e-4, atol=1e-6)


def test_field_beside_constant_phases():
    """One phase a field, the other constant: with a field that is constant, the same as a constant law."""
    mesh = structured(2, 8, a=lambda x: x[0] < 0.5, b=lambda x: x[0] >= 0.5)
    field = fe2.Cell(mesh, {"a": fe2.Conductor(lambda x: 2.0 + 0 * x[0]), "b": fe2.Conductor(5.0)})
    constant = fe2.Cell(mesh, {"a": fe2.Conductor(2.0), "b": fe2.Conductor(5.0)})
    np.testing.assert_allclose(fe2.homogenize(field).tensor, fe2.homogenize(constant).tensor, rtol=1e-12)


def test_non_positive_coefficient_names_the_point():
    with pytest.raises(ValueError, match=r"conductivity k must be positive, but it is -0\.\d+ at x = \[0\.\d+, 0\.\d+\]"):
        fe2.Cell(structured(2, 4), fe2.Conductor(lambda x: x[0] - 0.5))
    mesh = structured(2, 4, a=lambda x: x[0] < 0.5, b=lambda x: x[0] >= 0.5)
    with pytest.raises(ValueError, match=r"phase 'b': Poisson's ratio nu must be in \(-1, 0.5\)"):
        fe2.Cell(mesh, {"a": fe2.Isotropic(1.0, 0.3), "b": fe2.Isotropic(E=lambda x: 1 + x[0], nu=lambda x: 0.3 + x[1])})
    with pytest.raises(ValueError, match="must be positive, but it is nan at x"):
        fe2.Cell(structured(2, 4), fe2.Conductor(lambda x: np.where(x[0] > 0, np.nan, 1.0)))
