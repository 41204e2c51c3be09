"""Cauchy-Born laws from pair potentials: the potentials, the lattice sums, the small-strain constants
against their closed forms, the stability of the chain and of the triangular lattice against closed
forms, derivatives, frame indifference, refusals and a cell of the law (the crystal-strip case:
tests/test_cases.py)."""

import numpy as np
import pytest
import skfem
from scipy.optimize import bisect, brentq

import fe2
from fe2 import kinematics, stability
from fe2.cell import nonlinear
from fe2.materials.cauchy_born import Bravais, CauchyBorn, LennardJones, Morse, PairPotential
from fe2.materials.law import DeformationError
from test_finite_strain import rotation

LJ = LennardJones(epsilon=1.3, sigma=0.9)
MORSE = Morse(D=0.8, a=4.0, r_e=1.1)


def mandel_isotropic(lam, mu):
    """lambda I (x) I + 2 mu I^sym as a 2D Mandel matrix."""
    return np.array([[lam + 2 * mu, lam, 0.0], [lam, lam + 2 * mu, 0.0], [0.0, 0.0, 2 * mu]])


def mandel_cubic(C11, C12, C44):
    C = np.full((3, 3), C12) + np.eye(3) * (C11 - C12)
    return np.block([[C, np.zeros((3, 3))], [np.zeros((3, 3)), 2 * C44 * np.eye(3)]])


@pytest.mark.parametrize("potential", [LJ, MORSE], ids=repr)
def test_potentials(potential):
    """phi' and phi'' are central differences of phi and phi'; the minimum and inflection are where they vanish."""
    r = np.linspace(0.85, 2.0, 7) * potential.length
    h = 1e-6
    np.testing.assert_allclose((potential.phi(r + h) - potential.phi(r - h)) / (2 * h), potential.dphi(r),
                               rtol=1e-7, atol=1e-7)
    np.testing.assert_allclose((potential.dphi(r + h) - potential.dphi(r - h)) / (2 * h), potential.d2phi(r),
                               rtol=1e-7, atol=1e-6)
    assert abs(potential.dphi(potential.minimum)) < 1e-13 and abs(potential.d2phi(potential.inflection)) < 1e-12


@pytest.mark.parametrize("make, message", [
    (lambda: LennardJones(0.0, 1.0), "well depth epsilon must be positive, got epsilon=0.0"),
    (lambda: LennardJones(1.0, -1.0), "length sigma must be positive, got sigma=-1.0"),
    (lambda: Morse(D=0.0), "well depth D must be positive"),
    (lambda: Morse(a=np.nan), "inverse width a must be finite"),
    (lambda: Morse(r_e=-1.0), "equilibrium distance r_e must be positive"),
])
def test_potential_parameters_are_checked(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_bonds_and_shells():
    """Neighbours within a cut-off (in nearest-neighbour distances): counts and radii of the shells,
    R and -R both; volume per atom at unit spacing."""
    shells = {("chain", None): [(1, 2)], ("chain", 2.0): [(1, 2), (2, 2)],
              ("triangular", None): [(1, 6)], ("triangular", 2.0): [(1, 6), (np.sqrt(3), 6), (2, 6)],
              ("fcc", None): [(1, 12)], ("fcc", 2.0): [(1, 12), (np.sqrt(2), 6), (np.sqrt(3), 24), (2, 12)]}
    for (name, cutoff), expected in shells.items():
        lattice = getattr(Bravais, name)()
        R = lattice.bonds(cutoff)
        radii, counts = np.unique(np.linalg.norm(R, axis=1).round(12), return_counts=True)
        np.testing.assert_allclose(radii, [r for r, _ in expected], rtol=1e-12)
        assert counts.tolist() == [n for _, n in expected]
        assert {tuple(b) for b in (-R).round(12)} == {tuple(b) for b in R.round(12)}
    assert Bravais.triangular().volume == pytest.approx(np.sqrt(3) / 2, rel=1e-15)
    assert Bravais.fcc().volume == pytest.approx(1 / np.sqrt(2), rel=1e-15)


def test_triangular_is_isotropic_with_the_cauchy_relation():
    """Triangular Lennard-Jones: C at F = I is isotropic with lambda = mu, and P -> C : sym(H) as |H| -> 0
    (the small-strain law, ``small_strain()``). Nearest neighbours:
    lambda = mu = sqrt(3)/4 phi''(r0) at r0 = 2^(1/6) sigma. Cut-off 2 (three shells of six bonds at
    rho = 1, sqrt 3, 2, each with the isotropic fourth moment 6/8 (d d + d d + d d)):
    lambda = mu = 3/(8 V0) sum_shells (phi''(s rho) (s rho)^2 - phi'(s rho) s rho), V0 = sqrt(3)/2 s^2, at
    the s solving sum_shells rho phi'(s rho) = 0 (stress-free), found here by brentq."""
    law = CauchyBorn(LJ, Bravais.triangular())
    r0 = 2 ** (1 / 6) * LJ.sigma
    assert law.spacing == pytest.approx(r0, rel=1e-14)
    mu = np.sqrt(3) / 4 * LJ.d2phi(r0)
    C = kinematics.symmetric_part(law.tensor(2))
    np.testing.assert_allclose(C, mandel_isotropic(mu, mu), atol=1e-12 * mu)
    np.testing.assert_allclose(law.small_strain().tensor(2), C, atol=1e-12 * mu)
    direction = np.random.default_rng(2).standard_normal(4)
    errors = []
    for t in (1e-3, 1e-4):           # P(t H) -> C : sym(t H), the relative error O(t)
        eps = fe2.notation.to_mandel(0.5 * (kinematics.from_vector(t * direction) + kinematics.from_vector(t * direction).T))
        sigma = fe2.notation.from_mandel(C @ eps)
        errors.append(np.abs(kinematics.from_vector(law.response(t * direction)[0]) - sigma).max() / t)
    assert np.log10(errors[0] / errors[1]) == pytest.approx(1.0, abs=0.05)

    rho = np.array([1.0, np.sqrt(3), 2.0])
    s = brentq(lambda s: np.sum(rho * LJ.dphi(s * rho)), 0.9 * r0, 1.1 * r0, xtol=1e-15)
    r = s * rho
    mu = 3 / (8 * np.sqrt(3) / 2 * s**2) * np.sum(LJ.d2phi(r) * r**2 - LJ.dphi(r) * r)
    law = CauchyBorn(LJ, Bravais.triangular(), cutoff=2.0)
    assert law.spacing == pytest.approx(s, rel=1e-13)
    np.testing.assert_allclose(law.response(np.zeros(4))[0], 0.0, atol=1e-12 * mu)     # stress-free
    np.testing.assert_allclose(kinematics.symmetric_part(law.tensor(2)), mandel_isotropic(mu, mu), atol=1e-11 * mu)


def test_fcc_cubic_constants():
    """fcc: nearest neighbours, C11 = sqrt 2 phi''(r0)/r0, C12 = C44 = phi''(r0)/(sqrt 2 r0) (Cauchy
    relation); cut-off sqrt 2 (12 bonds at rho1 = s, 6 at rho2 = sqrt 2 s, stress-free where
    12 rho1 phi'(rho1) + 6 rho2 phi'(rho2) = 0), with the phi' terms that cancel only in total:
    C11 = (2 (phi''1 rho1^2 - phi'1 rho1) + 2 (phi''2 rho2^2 - phi'2 rho2)) / (2 V0),
    C12 = C44 = (phi''1 rho1^2 - phi'1 rho1) / (2 V0), V0 = s^3 / sqrt 2."""
    for potential in (LJ, MORSE):
        law = CauchyBorn(potential, Bravais.fcc())
        r0 = potential.minimum
        k = potential.d2phi(r0)
        expected = mandel_cubic(np.sqrt(2) * k / r0, k / (np.sqrt(2) * r0), k / (np.sqrt(2) * r0))
        np.testing.assert_allclose(kinematics.symmetric_part(law.tensor(3)), expected, atol=1e-12 * k / r0)

        s = brentq(lambda s: 12 * s * potential.dphi(s) + 6 * np.sqrt(2) * s * potential.dphi(np.sqrt(2) * s),
                   0.8 * r0, 1.2 * r0, xtol=1e-15)
        V0 = s**3 / np.sqrt(2)
        terms = [potential.d2phi(rho) * rho**2 - potential.dphi(rho) * rho for rho in (s, np.sqrt(2) * s)]
        C11, C12 = (2 * terms[0] + 2 * terms[1]) / (2 * V0), terms[0] / (2 * V0)
        assert abs(potential.dphi(s) * s) > 1e-3 * abs(terms[0])   # the phi' term does not vanish bond by bond
        law = CauchyBorn(potential, Bravais.fcc(), cutoff=np.sqrt(2))
        assert law.spacing == pytest.approx(s, rel=1e-13)
        np.testing.assert_allclose(kinematics.symmetric_part(law.tensor(3)), mandel_cubic(C11, C12, C12),
                                   atol=1e-11 * C11)


@pytest.mark.parametrize("potential", [LJ, MORSE], ids=repr)
def test_chain_loses_stability_where_phi_second_vanishes(potential):
    """The 1D nearest-neighbour chain: its tangent A(lambda) = r0 phi''(lambda r0) / ... changes sign at the
    stretch where phi''(lambda r0) = 0; both found by bisection, equal to 1e-10 (and to the closed
    form of the inflection). Its Green-strain stiffness d^2W/dE^2 vanishes earlier, where
    r phi''(r) = phi'(r)."""
    law = CauchyBorn(potential, Bravais.chain())
    r0 = law.spacing
    assert r0 == pytest.approx(potential.minimum, rel=1e-14)
    by_potential = bisect(lambda s: potential.d2phi(s * r0), 1.0, 2.0, xtol=1e-14)
    by_tangent = bisect(lambda s: law.response([s - 1.0])[1][0, 0], 1.0, 2.0, xtol=1e-14)
    assert abs(by_tangent - by_potential) < 1e-10
    assert by_potential == pytest.approx(potential.inflection / r0, rel=1e-12)
    by_lattice = bisect(lambda s: stability.lattice_stability(law, [s - 1.0]), 1.0, 2.0, xtol=1e-14)
    r = by_lattice * r0
    assert abs(r * potential.d2phi(r) - potential.dphi(r)) < 1e-10 * potential.dphi(r)
    assert 1.0 < by_lattice < by_tangent


CASES = [(LJ, Bravais.chain(), None), (LJ, Bravais.triangular(), 2.0), (MORSE, Bravais.triangular(), None),
         (MORSE, Bravais.fcc(), np.sqrt(2)), (LJ, Bravais.fcc(), None)]


@pytest.mark.parametrize("potential, lattice, cutoff", CASES, ids=lambda v: repr(v) if v is not None else "nn")
def test_stress_and_tangent_are_derivatives(potential, lattice, cutoff):
    """P = dW/dF and A = dP/dF by central differences at random gradients |H| ~ 0.05; A symmetric;
    W(Q F) = W(F) and P(Q F) = Q P(F) for a rotation Q."""
    law = CauchyBorn(potential, lattice, cutoff)
    dim = lattice.dim
    H = 0.05 * np.random.default_rng(dim).standard_normal((4, dim * dim))
    P, A, _ = law.response(H)
    scale = np.abs(A).max()
    h = 1e-6
    for k, e in enumerate(h * np.eye(dim * dim)):
        np.testing.assert_allclose((law.energy(H + e) - law.energy(H - e)) / (2 * h), P[:, k], atol=1e-8 * scale)
        np.testing.assert_allclose((law.response(H + e)[0] - law.response(H - e)[0]) / (2 * h), A[:, :, k],
                                   atol=1e-7 * scale)
    np.testing.assert_allclose(A, np.swapaxes(A, -1, -2), atol=1e-13 * scale)
    if dim > 1:
        Q = rotation(dim)
        F = kinematics.deformation(H)
        rotated = kinematics.gradient(Q @ F)
        np.testing.assert_allclose(law.energy(rotated), law.energy(H), atol=1e-13 * scale)
        np.testing.assert_allclose(kinematics.from_vector(law.response(rotated)[0]), Q @ kinematics.from_vector(P),
                                   atol=1e-12 * scale)


@pytest.mark.parametrize("dim", [2, 3])
def test_green_stiffness(dim):
    """d^2W/dE^2 recovered from (P, A): the constant C of Saint Venant-Kirchhoff at any F, and the lattice
    sum 1/(2 V0) sum (phi''/r^2 - phi'/r^3) R R R R for a Cauchy-Born law."""
    H = 0.1 * np.random.default_rng(5).standard_normal((5, dim * dim))
    svk = fe2.SaintVenantKirchhoff(10.0, 0.3)
    P, A, _ = svk.response(H)
    C = np.broadcast_to(svk.small_strain().tensor(dim), (5,) + (3 * dim - 3,) * 2)
    np.testing.assert_allclose(stability.green_stiffness(H, P, A), C, atol=1e-12 * svk.E)
    law = CauchyBorn(MORSE, Bravais.triangular() if dim == 2 else Bravais.fcc())
    r = np.linalg.norm(np.einsum("piJ,kJ->pki", kinematics.deformation(H), law.bonds), axis=-1)
    c2 = (MORSE.d2phi(r) - MORSE.dphi(r) / r) / r**2
    R = law.bonds
    L = np.einsum("pk,kI,kJ,kK,kL->pIJKL", c2, R, R, R, R) / (2 * law.volume)
    expected = kinematics.symmetric_part(kinematics.tangent_matrix(L))
    P, A, _ = law.response(H)
    np.testing.assert_allclose(stability.green_stiffness(H, P, A), expected, atol=1e-12 * np.abs(expected).max())
    np.testing.assert_allclose(stability.lattice_stability(law, H), np.linalg.eigvalsh(expected)[:, 0],
                               atol=1e-12 * np.abs(expected).max())


def uniaxial_loss(law):
    """(lambda_x, lambda_y) where a triangular nearest-neighbour law in uniaxial stress along y loses
    ellipticity and lattice stability: the four inclined bonds at r* with r* phi''(r*) = phi'(r*) (then
    L_yyyy = L_xyxy = L_xxyy = 0 and S_xx = 0), r* by brentq; the lateral stretch from P_xx = 0,
    2 r0 phi'(lx r0) + r0^2 lx phi'(r*)/r* = 0; then ly = sqrt((r*/r0)^2 - lx^2/4) 2/sqrt 3."""
    phi, r0 = law.potential, law.spacing
    star = brentq(lambda r: r * phi.d2phi(r) - phi.dphi(r), r0, phi.inflection, xtol=1e-15)
    lx = brentq(lambda lx: 2 * r0 * phi.dphi(lx * r0) + r0**2 * lx * phi.dphi(star) / star, 0.8, 1.0, xtol=1e-15)
    return lx, np.sqrt((star / r0) ** 2 - lx**2 / 4) * 2 / np.sqrt(3)


def test_uniaxial_loss_in_the_triangular_lattice():
    """Triangular nearest-neighbour Lennard-Jones in uniaxial stress along y (across the bonds along x):
    ellipticity and the lattice stability both vanish at :func:`uniaxial_loss` (for Lennard-Jones
    r* = (7/2)^(1/6) sigma), positive just before, negative just after."""
    law = CauchyBorn(LJ, Bravais.triangular())
    lx, ly = uniaxial_loss(law)
    star = np.linalg.norm(np.diag([lx, ly]) @ law.bonds[1])       # an inclined bond
    assert star == pytest.approx((7 / 2) ** (1 / 6) * LJ.sigma, rel=1e-13)
    H = kinematics.gradient(np.diag([lx, ly]))
    P, A, _ = law.response(H)
    scale = np.abs(A).max()
    assert abs(P[0]) < 1e-12 * scale and P[3] > 0
    assert abs(stability.ellipticity(A)[0]) < 1e-12 * scale
    assert abs(stability.lattice_stability(law, H)) < 1e-12 * scale
    for offset, sign in ((-1e-4, 1), (1e-4, -1)):
        F = np.diag([lx, ly + offset])
        F[0, 0] = brentq(lambda a: law.response(kinematics.gradient(np.diag([a, F[1, 1]])))[0][0], 0.8, 1.0)
        G = kinematics.gradient(F)
        assert sign * stability.ellipticity(law.response(G)[1])[0] > 0
        assert sign * stability.lattice_stability(law, G) > 0


class Repulsive(PairPotential):
    """phi = (1/r)^12: no minimum."""
    length = 1.0

    def phi(self, r):
        return np.asarray(r, dtype=float) ** -12

    def dphi(self, r):
        return -12 * np.asarray(r, dtype=float) ** -13

    def d2phi(self, r):
        return 156 * np.asarray(r, dtype=float) ** -14


def test_bad_input_is_refused():
    """No stable reference spacing (repulsive potential; a cut-off with no bonds), det F <= 0 named with
    its point, a law of another dimension, objects of the wrong kind."""
    with pytest.raises(ValueError, match=r"no stable reference spacing: the energy per atom .* decreases"):
        CauchyBorn(Repulsive(), Bravais.triangular())
    with pytest.raises(ValueError, match="cutoff=0.9 nearest-neighbour distances leaves no bonds"):
        CauchyBorn(LJ, Bravais.fcc(), cutoff=0.9)
    law = CauchyBorn(LJ, Bravais.triangular())
    H = np.zeros((3, 4))
    H[1] = [-1.5, 0.0, 0.0, 0.0]
    with pytest.raises(DeformationError, match="det F = -0.5 <= 0 at point 1 of 3") as error:
        law.response(H)
    assert error.value.point == 1
    with pytest.raises(ValueError, match="is a 2D law: it takes displacement gradients of 4 components"):
        law.response(np.zeros(9))
    mesh = skfem.MeshTri.init_tensor(np.linspace(0, 1, 3), np.linspace(0, 1, 3))
    with pytest.raises(ValueError, match=r"Bravais.fcc\(\)\) is a 3D law; a 2D body cannot use it"):
        fe2.Cell(mesh, CauchyBorn(LJ, Bravais.fcc()))
    with pytest.raises(TypeError, match="potential must be"):
        CauchyBorn(lambda r: r, Bravais.chain())
    with pytest.raises(TypeError, match="lattice must be a Bravais lattice"):
        CauchyBorn(LJ, fe2.Lattice(np.eye(2)))


def test_cell_of_the_law():
    """A periodic cell made of one Cauchy-Born crystal returns the law's P and A at a large F."""
    law = CauchyBorn(MORSE, Bravais.triangular())
    mesh = skfem.MeshTri.init_tensor(np.linspace(0, 1, 5), np.linspace(0, 1, 5))
    cell = fe2.Cell(mesh, law)
    F = np.array([[1.06, 0.05], [-0.03, 0.97]])
    solution = nonlinear.solve(cell, F, "periodic")
    P, A, _ = law.response(kinematics.gradient(F))
    np.testing.assert_allclose(solution.stress, P, atol=1e-12 * np.abs(A).max())
    np.testing.assert_allclose(solution.tangent, A, atol=1e-11 * np.abs(A).max())
    assert solution.hill_mandel < 1e-12



def test_stability_plot_refuses_bad_curves(tmp_path):
    """postprocess.plots.stability (the strip case draws the picture, tests/test_cases.py checks it)."""
    from postprocess import plots
    with pytest.raises(ValueError, match="non-empty dict"):
        plots.stability({}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="curve 'a' has 3 x values and 2 y values"):
        plots.stability({"a": ([1, 2, 3], [1, 2])}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="non-finite"):
        plots.stability({"a": ([1, 2], [1, np.nan])}, tmp_path / "x.png")
