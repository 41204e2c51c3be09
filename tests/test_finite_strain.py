"""Finite-strain kinematics and hyperelastic laws: P = dW/dF and A = dP/dF by central differences,
the small-strain limit, frame indifference, and the kernel's cells at finite strain."""

import numpy as np
import pytest
import scipy.optimize
import skfem

import fe2
from fe2 import kinematics
from fe2.cell import nonlinear
from fe2.materials.law import DeformationError

LAWS = [fe2.NeoHookean(10.0, 0.3), fe2.SaintVenantKirchhoff(10.0, 0.3)]


def rotation(dim, angle=0.7):
    """A rotation by ``angle`` about z (3D: then about x by angle / 2)."""
    c, s = np.cos(angle), np.sin(angle)
    if dim == 2:
        return np.array([[c, -s], [s, c]])
    Rz = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    c, s = np.cos(angle / 2), np.sin(angle / 2)
    return Rz @ np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


@pytest.mark.parametrize("law", LAWS, ids=lambda law: type(law).__name__)
@pytest.mark.parametrize("dim", [2, 3])
def test_stress_and_tangent_are_derivatives(law, dim):
    """P = dW/dF and A = dP/dF (central differences, h = 1e-6) at random gradients |H| ~ 0.2; A symmetric."""
    H = 0.2 * np.random.default_rng(dim).standard_normal((6, dim * dim))
    P, A, _ = law.response(H)
    h = 1e-6
    for k, e in enumerate(h * np.eye(dim * dim)):
        np.testing.assert_allclose((law.energy(H + e) - law.energy(H - e)) / (2 * h), P[:, k], atol=1e-7 * law.E)
        np.testing.assert_allclose((law.response(H + e)[0] - law.response(H - e)[0]) / (2 * h), A[:, :, k],
                                   atol=1e-7 * law.E)
    np.testing.assert_array_equal(A, np.swapaxes(A, -1, -2))


@pytest.mark.parametrize("law", LAWS, ids=lambda law: type(law).__name__)
@pytest.mark.parametrize("dim", [2, 3])
def test_small_strain_limit_and_objectivity(law, dim):
    """At |H| -> 0, P -> C : sym(H) of Isotropic(E, nu) with an O(|H|^2) error, and A(I) = C; P(Q F) = Q P(F)."""
    C = law.small_strain().tensor(dim)
    np.testing.assert_allclose(kinematics.symmetric_part(law.tensor(dim)), C, atol=1e-12 * law.E)
    direction = np.random.default_rng(1).standard_normal(dim * dim)
    errors = []
    for t in (1e-2, 1e-3):
        H = t * direction
        eps = fe2.notation.to_mandel(0.5 * (kinematics.from_vector(H) + kinematics.from_vector(H).T))
        sigma = fe2.notation.from_mandel(C @ eps)
        errors.append(np.abs(kinematics.from_vector(law.response(H)[0]) - sigma).max() / t)
    assert np.log10(errors[0] / errors[1]) == pytest.approx(1.0, abs=0.05)   # relative error O(t)
    # no cancellation in P at tiny gradients: the relative error stays O(t), far below round-off / t
    for t in (1e-9, 1e-12):
        H = t * direction
        sigma = fe2.notation.from_mandel(C @ fe2.notation.to_mandel(0.5 * (kinematics.from_vector(H) + kinematics.from_vector(H).T)))
        for P in (law.response(H)[0], getattr(law, "reference_response", law.response)(H)[0]):
            assert np.abs(kinematics.from_vector(P) - sigma).max() < 1e-12 * np.abs(sigma).max() + 10 * t * np.abs(sigma).max()
    F = kinematics.deformation(0.2 * direction)
    Q = rotation(dim)
    P = kinematics.from_vector(law.response(kinematics.gradient(F))[0])
    np.testing.assert_allclose(kinematics.from_vector(law.response(kinematics.gradient(Q @ F))[0]), Q @ P,
                               atol=1e-12 * law.E)


def test_inverted_point_is_named():
    """det F <= 0 raises DeformationError carrying the index of the first inverted point."""
    H = np.zeros((3, 4))
    H[2] = [-1.5, 0.0, 0.0, 0.0]   # F_xx = -0.5
    with pytest.raises(DeformationError, match="det F = -0.5 <= 0 at point 2 of 3") as error:
        fe2.NeoHookean(1.0, 0.3).response(H)
    assert error.value.point == 2


def square(n=8):
    mesh = skfem.MeshTri.init_tensor(np.linspace(0, 1, n + 1), np.linspace(0, 1, n + 1))
    inclusion = lambda x: (x[0] - 0.5) ** 2 + (x[1] - 0.5) ** 2 < 0.1
    return mesh.with_subdomains({"particle": inclusion, "matrix": lambda x: ~inclusion(x)})


@pytest.mark.parametrize("bc", ["periodic", "kubc", "subc"])
def test_homogeneous_cell_returns_the_law(bc):
    """Identical phases: <P> and the condensed tangent are the law's P(F) and A(F) to round-off."""
    law = fe2.NeoHookean(10.0, 0.3)
    cell = fe2.Cell(square(), {"particle": law, "matrix": law})
    F = np.array([[1.3, 0.2], [-0.1, 0.9]])
    solution = nonlinear.solve(cell, F, bc)
    P, A, _ = law.response(kinematics.gradient(F))
    np.testing.assert_allclose(solution.stress, P, atol=1e-12 * law.E)
    np.testing.assert_allclose(solution.tangent, A, atol=1e-12 * law.E)


@pytest.mark.parametrize("bc", ["periodic", "kubc", "subc"])
def test_cell_tangent_hill_mandel_and_frame_indifference(bc):
    """A stiff particle in a soft matrix at |H| = 0.4: the condensed tangent equals central differences of
    <P>, Hill-Mandel <P : H> = <P> : <H> to 1e-10, quadratic micro Newton, and <P>(Q F) = Q <P>(F)."""
    cell = fe2.Cell(square(), {"particle": fe2.NeoHookean(50.0, 0.2), "matrix": fe2.NeoHookean(10.0, 0.3)})
    H = np.array([0.3, 0.2, -0.1, -0.1])
    solution = nonlinear.solve(cell, H, bc)
    assert solution.hill_mandel < 1e-10
    r = solution.residuals
    assert r[-1] < 1e-10 and r[-2] < 1e-4 and r[-1] < max(1e2 * r[-2] ** 2, 1e-14)   # quadratic, down to round-off
    h = 1e-6
    fd = np.array([(nonlinear.solve(cell, H + e, bc, tol=1e-13).stress - nonlinear.solve(cell, H - e, bc, tol=1e-13).stress)
                   / (2 * h) for e in h * np.eye(4)]).T
    np.testing.assert_allclose(fd, solution.tangent, atol=1e-8 * np.abs(solution.tangent).max())
    Q = rotation(2)
    rotated = nonlinear.solve(cell, Q @ kinematics.deformation(H), bc)
    np.testing.assert_allclose(kinematics.from_vector(rotated.stress), Q @ kinematics.from_vector(solution.stress),
                               atol=1e-10 * np.abs(solution.stress).max())


def test_bad_macro_gradient_is_refused():
    law = fe2.NeoHookean(1.0, 0.3)
    cell = fe2.Cell(square(4), {"particle": law, "matrix": law})
    with pytest.raises(ValueError, match="det F <= 0"):
        nonlinear.solve(cell, np.array([[-1.0, 0.0], [0.0, 1.0]]), "periodic")
    with pytest.raises(ValueError, match=r"row-major vector \(xx, xy, yx, yy\) of shape \(4,\)"):
        nonlinear.solve(cell, np.zeros(3), "periodic")


@pytest.mark.parametrize("dim", [2, 3])
def test_ellipticity_against_a_dense_search(dim):
    """lambda_min = min_{m, n} m.Q(n).m of SVK tangents (some past the loss of ellipticity) is at or below
    the least eigenvalue over a dense set of directions (by no more than that set's own spacing error), no
    direction near the returned n is lower (a minimum), m.Q(n).m at the returned (n, m) is lambda_min,
    and it is mu for an isotropic tangent at F = I."""
    from fe2 import stability
    law = fe2.SaintVenantKirchhoff(10.0, 0.3)
    A = law.response(0.15 * np.random.default_rng(0).standard_normal((40, dim * dim)))[1]
    value, n, m = stability.ellipticity(A)
    dense = stability.directions(dim, 4000 if dim == 2 else 40000)
    search = np.linalg.eigvalsh(stability.acoustic_tensor(A[:, None], dense[None]))[..., 0].min(axis=1)
    assert np.all(value <= search + 1e-12 * law.E) and np.all(value >= search - 3e-5 * law.E)
    for step in np.random.default_rng(1).standard_normal((10, dim)) * 1e-3:
        near = (n + step) / np.linalg.norm(n + step, axis=-1, keepdims=True)
        assert np.all(np.linalg.eigvalsh(stability.acoustic_tensor(A, near))[:, 0] >= value - 1e-12 * law.E)
    assert (value < 0).any() and (value > 0).any()
    np.testing.assert_allclose(np.einsum("pi,pik,pk->p", m, stability.acoustic_tensor(A, n), m), value, atol=1e-12)
    assert stability.ellipticity(law.tensor(dim))[0] == pytest.approx(law.mu, rel=1e-12)


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_inverse_by_cofactors(dim):
    """kinematics.inverse gives numpy's inverse and determinant to round-off."""
    F = np.eye(dim) + 0.3 * np.random.default_rng(dim).standard_normal((50, dim, dim))
    inverse, det = kinematics.inverse(F)
    np.testing.assert_allclose(inverse @ F, np.broadcast_to(np.eye(dim), F.shape), atol=1e-11)
    np.testing.assert_allclose(det, np.linalg.det(F), rtol=1e-12)


@pytest.mark.parametrize("dim", [2, 3])
def test_compiled_neo_hookean_is_the_reference(dim):
    """The compiled neo-Hookean kernel gives the numpy reference's P and A to round-off, and names the
    same inverted point."""
    law = fe2.NeoHookean(10.0, 0.3)
    H = 0.3 * np.random.default_rng(dim).standard_normal((7, 5, dim * dim))
    H[3, 2] = 0.0
    H[3, 2, 0] = -1.5                       # F = diag(-0.5, 1[, 1]): det F < 0
    with pytest.raises(DeformationError) as error:
        law.response(H)
    assert error.value.point == 3 * 5 + 2
    H[3, 2] = 0.0
    for ours, reference in zip(law.response(H)[:2], law.reference_response(H)[:2]):
        np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-12 * law.E)


@pytest.mark.parametrize("bc", ["periodic", "kubc", "subc"])
def test_cell_at_tiny_gradients_has_no_cancellation(bc):
    """<P>(t d) / t -> A(0) d with a relative error O(t) down to t = 1e-9 (slope 1 over four decades): the
    laws form P without cancellation and the first iterate holds the macro gradient exactly, so nothing
    of order round-off / t enters (it did: 1.7e-7 at t = 1e-9 from a predictor with R U = F to round-off)."""
    cell = fe2.Cell(square(4), {"particle": fe2.NeoHookean(50.0, 0.2), "matrix": fe2.NeoHookean(10.0, 0.3)})
    d = np.array([1.0, 0.2, -0.3, -0.4])
    A0 = nonlinear.solve(cell, 1e-14 * d, bc).tangent
    t = np.array([1e-5, 1e-9])
    errors = [np.abs(nonlinear.solve(cell, s * d, bc).stress / s - A0 @ d).max() / np.abs(A0 @ d).max() for s in t]
    assert np.log(errors[0] / errors[1]) / np.log(t[0] / t[1]) == pytest.approx(1.0, abs=0.02), errors


@pytest.mark.parametrize("law", [fe2.NeoHookean(10.0, 0.3, plane="stress"), fe2.SaintVenantKirchhoff(10.0, 0.3, plane="stress")],
                         ids=lambda law: type(law).__name__)
def test_plane_stress_laws(law):
    """Plane stress: at F = diag(a, b) with P_yy = 0 (b solved by the test) the law is the 3D law in uniaxial
    stress, F = diag(a, b, b): the same P_xx, P_zz = 0 held, F_zz = b; the condensed tangent equals central
    differences of P and is symmetric; at F = I it is Isotropic(E, nu, plane="stress")'s stiffness, and the
    relative error of P stays O(t) down to |H| = 1e-9."""
    three = type(law)(law.E, law.nu)
    P3 = lambda b: three.response(kinematics.gradient(np.diag([1.4, b, b])))[0]  # noqa: E731
    b = scipy.optimize.brentq(lambda b: P3(b)[4], 0.5, 1.0, xtol=1e-15)
    H = np.array([0.4, 0.0, 0.0, b - 1])
    np.testing.assert_allclose(law.response(H)[0], [P3(b)[0], 0, 0, 0], atol=1e-12 * law.E)
    assert law.thickness_stretch(H) == pytest.approx(b, rel=1e-13)
    H = 0.2 * np.random.default_rng(0).standard_normal((5, 4))
    P, A, _ = law.response(H)
    h = 1e-6
    fd = np.stack([(law.response(H + e)[0] - law.response(H - e)[0]) / (2 * h) for e in h * np.eye(4)], -1)
    np.testing.assert_allclose(fd, A, atol=1e-7 * law.E)
    np.testing.assert_array_equal(A, np.swapaxes(A, -1, -2))
    C = fe2.Isotropic(law.E, law.nu, plane="stress").tensor(2)
    np.testing.assert_allclose(kinematics.symmetric_part(law.response(np.zeros(4))[1]), C, atol=1e-12 * law.E)
    d = np.array([1.0, 0.2, -0.3, -0.4])
    for t in (1e-6, 1e-9):
        exact = kinematics.from_mandel_stiffness(C) @ d
        assert np.abs(law.response(t * d)[0] / t - exact).max() < 20 * t * np.abs(exact).max()
    cell = fe2.Cell(square(4), {"particle": law, "matrix": law})     # a plane-stress cell returns its law
    assert cell.plane == "stress"
    solution = nonlinear.solve(cell, H[0], "periodic")
    np.testing.assert_allclose(solution.stress, P[0], atol=1e-12 * law.E)
    np.testing.assert_allclose(solution.tangent, A[0], atol=1e-11 * law.E)
