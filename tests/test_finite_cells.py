"""Finite-strain cells under periodic, KUBC and SUBC conditions, and mixed macro control, against theory:
the exact rank-one laminate, the law of a homogeneous cell, Huet's hierarchy and the small-strain cell at
F = I, the law's own uniaxial-stress and simple-shear answers. (The condensed tangent against central
differences of <P>, Hill-Mandel and frame indifference under all three conditions: tests/test_finite_strain.py.)"""

import numpy as np
import pytest
import skfem

import fe2
from fe2 import kinematics
from fe2.cell import mixed, nonlinear

BCS = ["periodic", "kubc", "subc"]
SOFT, STIFF = fe2.NeoHookean(10.0, 0.3), fe2.NeoHookean(50.0, 0.2)


def particle_cell(n=8, particle=STIFF, matrix=SOFT):
    mesh = skfem.MeshTri.init_tensor(np.linspace(0, 1, n + 1), np.linspace(0, 1, n + 1))
    inside = lambda x: (x[0] - 0.5) ** 2 + (x[1] - 0.5) ** 2 < 0.1   # noqa: E731
    return fe2.Cell(mesh.with_subdomains({"particle": inside, "matrix": lambda x: ~inside(x)}),
                    {"particle": particle, "matrix": matrix})


def homogeneous(dim, n=2, law=SOFT):
    """A cell of the unit square (triangles) or cube (tets) with n elements a side, two phases "a" (x < 1/2)
    and "b" of the same law (one phase for n = 1)."""
    x = np.linspace(0, 1, n + 1)
    mesh = skfem.MeshTri.init_tensor(x, x) if dim == 2 else skfem.MeshTet.init_tensor(x, x, x)
    if n == 1:
        return fe2.Cell(mesh, law)
    return fe2.Cell(mesh.with_subdomains({"a": lambda p: p[0] < 0.5, "b": lambda p: p[0] > 0.5}), {"a": law, "b": law})


# --- SUBC: the cases the periodic/KUBC tests of test_finite_strain.py do not reach ---------------------

@pytest.mark.parametrize("dim, H", [(2, [-0.25, 0.1, 0.05, -0.2]),                           # compressed
                                    (3, [0.3, 0.1, 0.0, -0.2, 0.9, 0.1, 0.05, 0.0, 1.1])])  # 3 rotations held
def test_subc_homogeneous_cell_returns_the_law(dim, H):
    """Identical phases under SUBC: <P> and the condensed tangent are the law's P and A to round-off, in 3D
    (three rotations held by the multiplier) and under compression, where K_pp (rotations pinned at three
    points) is indefinite and the elimination runs on its LU factorization."""
    cell = homogeneous(dim)
    H = np.array(H, dtype=float)
    solution = nonlinear.solve(cell, H, "subc")
    P, A, _ = SOFT.response(H)
    np.testing.assert_allclose(solution.stress, P, atol=1e-12 * SOFT.E)
    np.testing.assert_allclose(solution.tangent, A, atol=1e-11 * SOFT.E)
    assert solution.hill_mandel < 1e-12
    if dim == 2:
        problem = solution.linearization.bind("subc")
        assert problem.factor.backend == "superlu"                         # K_pp not positive definite here
        K = problem.matrix.toarray()
        assert np.linalg.eigvalsh(K + np.triu(K, 1).T)[0] < 0


# --- the rank-one laminate ------------------------------------------------------------------------------

def laminate_stress(F, laws, fractions, normal):
    """The exact laminate: F_i = F + a_i (x) N with sum f_i a_i = 0 and P_A N = P_B N, by Newton on a_A
    (a_B = -f_A / f_B a_A); returns sum f_i P(F_i) as a row-major vector."""
    (A_law, B_law), (fa, fb) = laws, fractions
    dim = F.shape[0]
    N = np.eye(dim)[normal]
    a = np.zeros(dim)
    for _ in range(30):
        FA, FB = F + np.outer(a, N), F - fa / fb * np.outer(a, N)
        PA, AA, _ = A_law.response(kinematics.gradient(FA))
        PB, AB, _ = B_law.response(kinematics.gradient(FB))
        residual = (kinematics.from_vector(PA) - kinematics.from_vector(PB)) @ N
        if np.linalg.norm(residual) < 1e-15 * A_law.E:
            return fa * PA + fb * PB
        # d(P N)/da = Q(N), the acoustic tensor Q_ik = A_iJkL N_J N_L
        Q = lambda A: np.einsum("iJkL,J,L->ik", A.reshape((dim,) * 4), N, N)   # noqa: E731
        a -= np.linalg.solve(Q(AA) + fa / fb * Q(AB), residual)
    raise AssertionError(f"laminate Newton did not converge: residual {np.linalg.norm(residual):.1e}")


LOADS = {2: {"stretch": [[1.4, 0.0], [0.0, 0.8]], "shear": [[1.0, 0.5], [0.0, 1.0]], "general": [[1.2, 0.3], [-0.2, 0.9]]},
         3: {"stretch": np.diag([1.3, 0.9, 1.1]), "shear": [[1, 0.4, 0], [0, 1, 0.2], [0, 0, 1]],
             "general": [[1.2, 0.3, -0.1], [-0.2, 0.9, 0.15], [0.1, 0.05, 1.1]]}}


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("load", ["stretch", "shear", "general"])
def test_laminate_is_exact(dim, load):
    """A periodic laminate of two neo-Hookean layers (normal x, layers on mesh planes, P1) is the rank-one
    laminate: <P> equals the exact laminate stress to 1e-10, and the condensed tangent equals central
    differences of the exact laminate stress."""
    x = np.array([0.0, 0.15, 0.3, 0.6, 1.0])                  # layer a: x < 0.3 (fraction 0.3)
    y = np.linspace(0, 1, 3 if dim == 2 else 2)
    mesh = skfem.MeshTri.init_tensor(x, y) if dim == 2 else skfem.MeshTet.init_tensor(x, y, y)
    mesh = mesh.with_subdomains({"a": lambda p: p[0] < 0.3, "b": lambda p: p[0] > 0.3})
    laws = (STIFF, SOFT)
    cell = fe2.Cell(mesh, dict(zip("ab", laws)))
    F = np.array(LOADS[dim][load], dtype=float)
    solution = nonlinear.solve(cell, F, "periodic", tol=1e-13)
    exact = laminate_stress(F, laws, (0.3, 0.7), 0)
    np.testing.assert_allclose(solution.stress, exact, atol=1e-10 * np.abs(exact).max())
    h = 1e-6
    fd = np.array([(laminate_stress(F + e, laws, (0.3, 0.7), 0) - laminate_stress(F - e, laws, (0.3, 0.7), 0)) / (2 * h)
                   for e in h * np.eye(dim * dim).reshape(-1, dim, dim)]).T
    np.testing.assert_allclose(solution.tangent, fd, atol=1e-7 * np.abs(fd).max())


# --- Huet's hierarchy and the small-strain cell at F = I --------------------------------------------------

def test_hierarchy_and_small_strain_limit():
    """At F = I the finite-strain cell's condensed tangent is the small-strain cell's C (same mesh, the laws'
    small_strain()) acting on sym(H), to round-off, under all three conditions, and it annihilates rotations;
    so SUBC <= periodic <= KUBC holds for the tangents, and fe2.compare orders them between the Reuss and Voigt
    bounds of the small-strain laws. At |H| = t -> 0 the tangent tends to it as O(t)."""
    finite = particle_cell()
    small = particle_cell(particle=STIFF.small_strain(), matrix=SOFT.small_strain())
    direction = np.array([0.6, 0.5, -0.3, -0.5])
    tangents = {}
    for bc in BCS:
        A = fe2.homogenize(finite, bc).tensor
        C = fe2.homogenize(small, bc).tensor
        np.testing.assert_allclose(A, kinematics.from_mandel_stiffness(C), atol=1e-12 * np.abs(C).max())
        np.testing.assert_allclose(kinematics.symmetric_part(A), C, atol=1e-12 * np.abs(C).max())
        errors = [np.abs(nonlinear.solve(finite, t * direction, bc).tangent - A).max() for t in (1e-3, 1e-4)]
        assert np.log10(errors[0] / errors[1]) == pytest.approx(1.0, abs=0.05)   # O(t)
        tangents[bc] = A
    for lower, upper in (("subc", "periodic"), ("periodic", "kubc")):
        gap = np.linalg.eigvalsh(tangents[upper] - tangents[lower])
        assert gap.min() > -1e-12 * np.abs(tangents["kubc"]).max() and gap.max() > 1e-3 * np.abs(tangents["kubc"]).max()
    # fe2.compare: the chain Reuss <= SUBC <= periodic <= KUBC <= Voigt, the bounds those of the small-strain laws
    comparison = fe2.compare(finite)
    assert comparison.ordered and comparison.summary()["convention"] == "dP/dF, row-major (xx, xy, yx, yy)"
    for name in ("voigt", "reuss"):
        C = getattr(fe2.bounds, name)(small)
        np.testing.assert_allclose(comparison.bounds[name], kinematics.from_mandel_stiffness(C), atol=1e-12 * np.abs(C).max())


# --- mixed control -----------------------------------------------------------------------------------------

def law_mixed(law, controlled, values, dim):
    """The law's own answer to a mixed control (one material point): Newton on the free components of H."""
    free = ~controlled
    H = np.where(controlled, values, 0.0)
    for _ in range(50):
        P, A, _ = law.response(H)
        r = P[free] - values[free]
        if np.linalg.norm(r) < 1e-14 * law.E:
            return H, P, A
        H[free] -= np.linalg.solve(A[np.ix_(free, free)], r)
    raise AssertionError("the one-point mixed Newton did not converge")


CONTROLS = {   # (dim, F, P, law); a neo-Hookean solid in simple shear has P_xx = P_yy = 0 already: SVK there
    "uniaxial 2D": (2, *mixed.uniaxial(1.8), SOFT),
    "uniaxial 3D": (3, *mixed.uniaxial(1.5, dim=3), SOFT),
    "simple shear, free normal stresses": (2, {"xy": 0.5, "yx": 0.0}, {"xx": 0.0, "yy": 0.0}, fe2.SaintVenantKirchhoff(10.0, 0.3)),
    "biaxial stress": (2, {"xy": 0.0}, {"xx": 3.0, "yx": 0.0, "yy": 1.5}, SOFT),
}


@pytest.mark.parametrize("bc", BCS)
@pytest.mark.parametrize("case", list(CONTROLS))
def test_mixed_control_of_a_homogeneous_cell_is_the_law(case, bc):
    """Uniaxial stress (2D plane strain and 3D), simple shear with free normal stresses and biaxial stress on
    a homogeneous cell: H, P and the mixed tangent are the law's own one-point answer, reached by Newton."""
    dim, F, P, law = CONTROLS[case]
    cell = homogeneous(dim, law=law)
    solution = mixed.solve(cell, bc, F, P, tol=1e-13)
    controlled, values = mixed.controls(cell, F, P)
    H, stress, A = law_mixed(law, controlled, values, dim)
    np.testing.assert_allclose(solution.gradient, H, atol=1e-12)
    np.testing.assert_allclose(solution.stress, stress, atol=1e-11 * law.E)
    np.testing.assert_allclose(solution.mixed_tangent, mixed.mixed_tangent(A, controlled), atol=1e-9 * law.E)
    assert solution.micro.hill_mandel < 1e-10 and solution.iterations >= 2
    if case.startswith("uniaxial"):   # free lateral contraction, no other stress
        assert 0 < solution.deformation[1, 1] < 1 and np.all(solution.stress[1:] == pytest.approx(0, abs=1e-11))


@pytest.mark.parametrize("bc", ["periodic", "subc"])
def test_mixed_control_of_a_particle_cell(bc):
    """Biaxial stress on the particle cell: the prescribed components hold (F exactly, P to 1e-10), the outer
    Newton converges quadratically, and the mixed tangent equals central differences of the mixed response
    (control = (F_xy, P_xx, P_yx, P_yy), response = (P_xy, H_xx, H_yx, H_yy))."""
    cell = particle_cell(6)
    F, P = {"xy": 0.05}, {"xx": 4.0, "yx": 0.0, "yy": 2.0}
    solution = mixed.solve(cell, bc, F, P, tol=1e-12)
    assert solution.gradient[1] == 0.05
    np.testing.assert_allclose(solution.stress[[0, 2, 3]], [4.0, 0.0, 2.0], atol=1e-10 * 4.0)
    r = solution.residuals
    assert r[0] > 1e-3 and r[-1] < 1e-12   # the first iterate (from the tangent at F = I) is not the answer
    assert all(b < 1e2 * a ** 2 or b < 1e-14 for a, b in zip(r, r[1:]))   # quadratic, down to round-off

    def response(control):
        F = {"xy": control[1]}
        P = {"xx": control[0], "yx": control[2], "yy": control[3]}
        s = mixed.solve(cell, bc, F, P, start=solution, tol=1e-13)
        return np.where(s.controlled, s.stress, s.gradient)

    control = np.array([4.0, 0.05, 0.0, 2.0])   # (P_xx, H_xy, P_yx, P_yy) in component order
    steps = np.diag([1e-4, 1e-6, 1e-4, 1e-4])
    fd = np.array([(response(control + e) - response(control - e)) / (2 * e.max()) for e in steps]).T
    np.testing.assert_allclose(solution.mixed_tangent, fd, atol=1e-6 * np.abs(fd).max())


def test_mixed_control_refuses_free_rotations_and_bad_input():
    """A control set that leaves a rotation free is refused before any solve (structurally: neither F_ij
    nor F_ji given; numerically: a singular free-free block of the tangent at F = I), as are bad inputs."""
    cell = particle_cell(4)
    with pytest.raises(ValueError, match=r"rotation in the \(x, y\) plane is free: .* prescribe F_xy or F_yx"):
        mixed.solve(cell, "periodic", F={"xx": 1.2}, P={"xy": 0.0, "yx": 0.0, "yy": 0.0})
    cube = homogeneous(3, 1)
    F, P = mixed.uniaxial(1.2, dim=3)
    P["yz"] = F.pop("yz")
    with pytest.raises(ValueError, match=r"rotation in the \(y, z\) plane is free"):
        mixed.solve(cube, "subc", F, P)
    # no stiffness in shear (lambda I (x) I alone): P_yx controlled leaves H_yx without stiffness
    A = 3.0 * np.outer(np.eye(2).ravel(), np.eye(2).ravel())
    with pytest.raises(ValueError, match=r"components \['xx', 'yx', 'yy'\] leave a mode of zero stiffness"):
        mixed.check_stiffness(A, np.array([False, True, False, False]), ("xx", "xy", "yx", "yy"))
    mixed.check_stiffness(SOFT.tensor(2), np.array([False, True, False, False]), ("xx", "xy", "yx", "yy"))
    for F, P, message in [({"xx": 1.2, "xy": 0}, {"xy": 0, "yx": 0, "yy": 0}, r"\['xy'\] are prescribed in both"),
                          ({"xx": 1.2, "xy": 0}, {"yy": 0}, r"\['yx'\] are prescribed in neither"),
                          ({"xx": 1.2, "xz": 0}, {"yx": 0, "yy": 0}, r"unknown F component\(s\) \['xz'\]"),
                          ({"xx": np.nan, "xy": 0}, {"yx": 0, "yy": 0}, r"F\['xx'\] is not finite"),
                          ({"xx": "a", "xy": 0}, {"yx": 0, "yy": 0}, r"F\['xx'\] must be a number")]:
        with pytest.raises(ValueError, match=message):
            mixed.solve(cell, "periodic", F, P)
    small = homogeneous(2, law=fe2.Isotropic(1.0, 0.3))
    with pytest.raises(ValueError, match="mixed control is built for finite-strain cells"):
        mixed.solve(small, "periodic", *mixed.uniaxial(1.1))


@pytest.mark.parametrize("bc", BCS)
def test_first_iterate_is_frame_indifferent(bc):
    """The first iterate of a finite-strain solve with no guess (the virgin field of the stretch U, rotated
    by R) rotates with the macro gradient: X + u(Q F) = Q (X + u(F)) about the cell's centre, to round-off."""
    cell = particle_cell(4)
    problem = cell.linearize().bind(bc)
    F = np.array([[1.4, 0.15], [0.0, 0.85]])
    Q = np.array([[np.cos(0.6), -np.sin(0.6)], [np.sin(0.6), np.cos(0.6)]])
    X = (cell.basis.doflocs - 0.5).T                                   # (nodes, 2), about the centre
    x = X + nonlinear.rotated_predictor(cell, problem, kinematics.gradient(F)).reshape(-1, 2)
    xq = X + nonlinear.rotated_predictor(cell, problem, kinematics.gradient(Q @ F)).reshape(-1, 2)
    np.testing.assert_allclose(xq, x @ Q.T, atol=1e-14)
    assert np.abs(x - X @ F.T).max() > 1e-3   # not the affine field: the cell's own fluctuation is in it
