"""Plane stress (cells, macro problems, J2 with the plane-stress return mapping, MsFEM), coefficient
fields as matrices (SPD checked at every point, the point named), and loads as functions of position
and of the load factor, checked against closed forms, finite differences and manufactured solutions."""

import json

import meshio
import numpy as np
import pytest
import skfem

import fe2
from fe2.cell.analytic import laminate_conductivity, laminate_stiffness
from fe2.macro import Dirichlet, Problem, Traction
from fe2.materials import compiled
from fe2.materials.file import load_materials

from conftest import structured

E, NU = 2.0, 0.3


def plane_stress_stiffness(E, nu):
    """The textbook reduced stiffness Q = E / (1 - nu^2) [[1, nu, 0], [nu, 1, 0], [0, 0, 1 - nu]] (Mandel)."""
    return E / (1 - nu**2) * np.array([[1, nu, 0], [nu, 1, 0], [0, 0, 1 - nu]])


def rotation(theta):
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, -s], [s, c]])


def mandel_rotation(theta):
    """The 3x3 matrix acting on 2D Mandel vectors as R eps R^T does on the tensor."""
    c, s, r = np.cos(theta), np.sin(theta), np.sqrt(2)
    return np.array([[c * c, s * s, -r * c * s], [s * s, c * c, r * c * s], [r * c * s, -r * c * s, c * c - s * s]])


def square(n, order=1):
    """The unit square, n x n triangles, with the named boundaries left, right, bottom, top."""
    x = np.linspace(0, 1, n + 1)
    return skfem.MeshTri.init_tensor(x, x).with_boundaries({
        "left": lambda p: p[0] < 1e-9, "right": lambda p: p[0] > 1 - 1e-9,
        "bottom": lambda p: p[1] < 1e-9, "top": lambda p: p[1] > 1 - 1e-9})


# --- plane stress: cells -----------------------------------------------------------------------------
def test_isotropic_cell_returns_the_plane_stress_stiffness():
    Q = plane_stress_stiffness(E, NU)
    law = fe2.Isotropic(E, NU, plane="stress")
    np.testing.assert_allclose(law.tensor(2), Q, rtol=1e-15, atol=1e-15)
    cell = fe2.Cell(structured(2, 4), law)
    for bc in ("periodic", "kubc", "subc"):
        np.testing.assert_allclose(fe2.homogenize(cell, bc).tensor, Q, rtol=1e-12, atol=1e-12)
    assert cell.plane == "stress" and "plane stress" in repr(cell)
    assert "plane stress" in str(fe2.homogenize(cell))
    # the same through a 6x6 stiffness condensed by sigma_zz = sigma_yz = sigma_xz = 0, and a J2 law's elastic part
    np.testing.assert_allclose(fe2.Anisotropic(fe2.Isotropic(E, NU).tensor(3), plane="stress").tensor(2), Q, rtol=1e-13)
    np.testing.assert_array_equal(fe2.J2Plasticity(E, NU, 0.1, plane="stress").tensor(2), law.tensor(2))


def test_plane_stress_is_plane_strain_with_the_reduced_moduli():
    """An inclusion cell in plane stress (E, nu) has exactly the effective tensor of plane strain with
    E' = E (1 + 2 nu) / (1 + nu)^2, nu' = nu / (1 + nu), and so have its Hashin-Shtrikman bounds."""
    mesh = structured(2, 12, matrix=lambda x: np.hypot(x[0] - 0.5, x[1] - 0.5) > 0.3,
                      inclusion=lambda x: np.hypot(x[0] - 0.5, x[1] - 0.5) < 0.3)
    phases = {"matrix": (1.0, 0.35), "inclusion": (20.0, 0.2)}
    stress = fe2.Cell(mesh, {k: fe2.Isotropic(e, nu, plane="stress") for k, (e, nu) in phases.items()})
    strain = fe2.Cell(mesh, {k: fe2.Isotropic(e * (1 + 2 * nu) / (1 + nu)**2, nu / (1 + nu)) for k, (e, nu) in phases.items()})
    for bc in ("periodic", "kubc"):
        np.testing.assert_allclose(fe2.homogenize(stress, bc).tensor, fe2.homogenize(strain, bc).tensor, rtol=1e-12)
    for a, b in zip(fe2.bounds.hashin_shtrikman(stress), fe2.bounds.hashin_shtrikman(strain)):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    assert fe2.Isotropic(E, NU, plane="stress").bulk_modulus(2) == pytest.approx(E / (2 * (1 - NU)), rel=1e-14)


def test_laminate_matches_its_plane_stress_closed_form():
    """Isotropic layers, and orthotropic plies at +-30 degrees given as one stiffness field, both
    in plane stress: the laminate formula on the layers' reduced stiffnesses, to round-off."""
    mesh = structured(2, 6, soft=lambda x: x[0] < 0.5, stiff=lambda x: x[0] > 0.5)
    layers = [fe2.Isotropic(1.0, 0.3, plane="stress"), fe2.Isotropic(10.0, 0.2, plane="stress")]
    cell = fe2.Cell(mesh, dict(zip(("soft", "stiff"), layers)))
    exact = laminate_stiffness([law.tensor(2) for law in layers], [0.5, 0.5])
    np.testing.assert_allclose(fe2.homogenize(cell).tensor, exact, rtol=1e-12, atol=1e-12)
    assert not np.allclose(exact, laminate_stiffness([fe2.Isotropic(1.0, 0.3).tensor(2), fe2.Isotropic(10.0, 0.2).tensor(2)],
                                                     [0.5, 0.5]), rtol=1e-2)
    # an orthotropic ply (fibre E1 = 40 along its axis, E2 = 4, nu12 = 0.25, G12 = 2) as a 3D compliance
    S = np.zeros((6, 6))
    S[:3, :3] = [[1 / 40, -0.25 / 40, -0.25 / 40], [-0.25 / 40, 1 / 4, -0.4 / 4], [-0.25 / 40, -0.4 / 4, 1 / 4]]
    S[3, 3], S[4, 4], S[5, 5] = (1 + 0.4) / 4, 1 / 4, 1 / 4     # Mandel: 1 / (2 G), G23 = 4 / 2.8, G13 = G12 = 2
    ply = fe2.Anisotropic(np.linalg.inv(S), plane="stress").tensor(2)
    # the plane-stress reduced stiffness of an orthotropic ply: Q11 = E1 / (1 - nu12 nu21), ...
    nu21 = 0.25 * 4 / 40
    np.testing.assert_allclose(ply[:2, :2], np.array([[40, 0.25 * 4], [0.25 * 4, 4]]) / (1 - 0.25 * nu21), rtol=1e-13)
    np.testing.assert_allclose(ply[2], [0, 0, 2 * 2.0], atol=1e-13)                   # Mandel 2 G12
    plies = [mandel_rotation(t) @ ply @ mandel_rotation(t).T for t in (np.pi / 6, -np.pi / 6)]
    C = lambda x: np.where(x[0] < 0.5, plies[0][:, :, None, None], plies[1][:, :, None, None])  # noqa: E731
    field = fe2.Cell(structured(2, 6), fe2.Anisotropic(C, plane="stress"))
    np.testing.assert_allclose(fe2.homogenize(field).tensor, laminate_stiffness(plies, [0.5, 0.5]), rtol=1e-11, atol=1e-11)
    voigt = fe2.Anisotropic(lambda x: fe2.notation.mandel_to_voigt(np.moveaxis(C(x), (0, 1), (-2, -1))).transpose(2, 3, 0, 1),
                            convention="voigt", plane="stress")
    np.testing.assert_allclose(voigt.tensor_at(2, np.random.default_rng(0).random((2, 5, 3))),
                               field.materials["all"].tensor_at(2, np.random.default_rng(0).random((2, 5, 3))), rtol=1e-14)


def test_plane_stress_in_a_materials_file(tmp_path):
    path = tmp_path / "materials.toml"
    path.write_text('[matrix]\nlaw = "isotropic"\nE = 2.0\nnu = 0.3\nplane = "stress"\n'
                    '[fiber]\nlaw = "j2"\nE = 70.0\nnu = 0.33\nyield_stress = 0.2\nplane = "stress"\n')
    laws = load_materials(path)
    np.testing.assert_allclose(laws["matrix"].tensor(2), plane_stress_stiffness(2.0, 0.3), rtol=1e-14)
    assert laws["fiber"].plane == "stress"
    path.write_text('[matrix]\nlaw = "isotropic"\nE = 2.0\nnu = 0.3\nplane = "membrane"\n')
    with pytest.raises(ValueError, match=r"phase 'matrix': plane must be 'strain' \(eps_zz = 0\) or 'stress'"):
        load_materials(path)


def test_plane_stress_is_chosen_explicitly_and_never_mixed():
    mesh = structured(2, 2, a=lambda x: x[0] < 0.5, b=lambda x: x[0] > 0.5)
    with pytest.raises(ValueError, match=r"phases \['a'\] are plane stress .* phases \['b'\] plane strain"):
        fe2.Cell(mesh, {"a": fe2.Isotropic(1.0, 0.3, plane="stress"), "b": fe2.Isotropic(1.0, 0.3)})
    with pytest.raises(ValueError, match="plane-stress law, made for 2D bodies; a 3D body"):
        fe2.Cell(structured(3, 1), fe2.J2Plasticity(1.0, 0.3, 0.1, plane="stress"))
    with pytest.raises(ValueError, match="answers in 2D only"):
        fe2.Isotropic(1.0, 0.3, plane="stress").tensor(3)
    with pytest.raises(ValueError, match=r"plane must be 'strain' \(eps_zz = 0\) or 'stress'"):
        fe2.Isotropic(1.0, 0.3, plane="stres")
    with pytest.raises(ValueError, match=r"J2Plasticity\(plane='stress'\): strain must have shape \(\.\.\., 3\)"):
        fe2.J2Plasticity(1.0, 0.3, 0.1, plane="stress").response(np.zeros(6))
    assert fe2.Cell(structured(2, 2), fe2.Isotropic(1.0, 0.3)).plane == "strain"
    assert fe2.Cell(structured(2, 2), fe2.Conductor(1.0)).plane is None


# --- plane stress: J2 --------------------------------------------------------------------------------
LAWS = {"linear": dict(E=70.0, nu=0.33, yield_stress=0.2, hardening=2.0),
        "voce": dict(E=70.0, nu=0.33, yield_stress=0.2, hardening=0.5, saturation=(0.35, 40.0))}


def random_path(seed, steps=6, size=0.004):
    """Random plane strain increments (Mandel) that go well beyond yield and turn back."""
    return np.cumsum(np.random.default_rng(seed).normal(scale=size, size=(steps, 40, 3)), axis=0)


@pytest.mark.parametrize("kind", LAWS)
def test_j2_plane_stress_kernel_agrees_with_the_3d_return_at_zero_sigma_zz(kind):
    """The compiled plane-stress-projected return and the reference (the 3D radial return with a Newton
    iteration on eps_zz until sigma_zz = 0): the same stress, tangent and history along random paths;
    the 3D law given the thickness strain answers sigma_zz = 0 and the same in-plane stress."""
    if not compiled.AVAILABLE:
        pytest.skip("numba is not installed: only the reference path exists")
    law = fe2.J2Plasticity(**LAWS[kind], plane="stress")
    three_d = fe2.J2Plasticity(**LAWS[kind])
    state = law.initial_state(40)
    plastic = 0
    for strain in random_path(1):
        stress, tangent, new = law.response(strain, state)
        ref_stress, ref_tangent, ref_new = law.reference_response(strain, state)
        np.testing.assert_allclose(stress, ref_stress, rtol=0, atol=1e-13)
        np.testing.assert_allclose(tangent, ref_tangent, rtol=0, atol=1e-12 * law.E)
        np.testing.assert_allclose(new["plastic_strain"], ref_new["plastic_strain"], rtol=0, atol=1e-13)
        full = np.insert(strain, 2, law.out_of_plane_strain(strain, new), axis=1)     # (xx, yy, zz, xy)
        full = np.insert(full, 3, 0.0, axis=1)
        full = np.insert(full, 3, 0.0, axis=1)
        stress_3d = three_d.response(full, state)[0]
        np.testing.assert_allclose(stress_3d[:, 2], 0.0, atol=1e-12)
        np.testing.assert_allclose(stress_3d[:, [0, 1, 5]], stress, atol=1e-12)
        plastic += int(np.sum(new["p"] > state["p"]))
        state = new
    assert plastic > 60   # most of the 240 point-steps yield


@pytest.mark.parametrize("kind", LAWS)
def test_j2_plane_stress_tangent_is_the_derivative_of_the_stress(kind):
    law = fe2.J2Plasticity(**LAWS[kind], plane="stress")
    state = law.response(random_path(2)[2], law.initial_state(40))[2]
    strain = random_path(2)[3]
    _, tangent, new = law.response(strain, state)
    assert np.sum(new["p"] > state["p"]) > 10
    h = 1e-7
    for j in range(3):
        step = np.zeros(3)
        step[j] = h
        fd = (law.response(strain + step, state)[0] - law.response(strain - step, state)[0]) / (2 * h)
        np.testing.assert_allclose(tangent[:, :, j], fd, rtol=0, atol=2e-6 * law.E)
    np.testing.assert_allclose(tangent, np.swapaxes(tangent, 1, 2), atol=1e-12 * law.E)   # associative: symmetric


def test_j2_plane_stress_follows_the_uniaxial_stress_curve():
    """Pulled along x with sigma_yy = sigma_xy = 0 (eps_yy found by Newton on the tangent): sigma_xx =
    (sigma_y + H eps) / (1 + H / E) beyond yield, eps_yy = eps_zz = -nu sigma / E - p / 2, and the
    elastic part returns the elastic stiffness bit for bit."""
    E_, nu, sy, H = 70.0, 0.33, 0.2, 2.0
    law = fe2.J2Plasticity(E_, nu, sy, hardening=H, plane="stress")
    state, eps_yy = law.initial_state(1), 0.0
    for eps in np.linspace(0, 0.02, 21)[1:]:
        for _ in range(20):
            stress, tangent, new = law.response(np.array([[eps, eps_yy, 0.0]]), state)
            if abs(stress[0, 1]) < 1e-14:
                break
            eps_yy -= stress[0, 1] / tangent[0, 1, 1]
        sigma = stress[0, 0]
        expected = E_ * eps if E_ * eps <= sy else (sy + H * eps) / (1 + H / E_)
        assert sigma == pytest.approx(expected, rel=1e-12)
        p = new["p"][0]
        assert p == pytest.approx(max(eps - sigma / E_, 0.0), abs=1e-14)
        assert eps_yy == pytest.approx(-nu * sigma / E_ - p / 2, abs=1e-13)
        assert law.out_of_plane_strain([[eps, eps_yy, 0.0]], new)[0] == pytest.approx(-nu * sigma / E_ - p / 2, abs=1e-13)
        if E_ * eps <= sy:
            np.testing.assert_array_equal(tangent[0], law.tensor(2))
        else:   # uniaxial tangent modulus of the curve: d sigma / d eps = E H / (E + H) after condensing yy
            condensed = tangent[0, 0, 0] - tangent[0, 0, 1] * tangent[0, 1, 0] / tangent[0, 1, 1]
            assert condensed == pytest.approx(E_ * H / (E_ + H), rel=1e-10)
        state = new
    assert p > 0.015


# --- plane stress: macro problems, FE², output -------------------------------------------------------
def bar(law, pull=None, traction=None):
    """The unit square pulled along x, free on top: a uniaxial stress state."""
    return Problem(square(2), law, dirichlet=[Dirichlet("left", 0.0, components=(0,)), Dirichlet("bottom", 0.0, components=(1,))]
                   + ([Dirichlet("right", pull, components=(0,))] if pull is not None else []),
                   neumann=[Traction("right", [traction, 0.0])] if traction is not None else [])


def test_macro_bar_in_plane_stress_stretches_by_one_over_E():
    t = 0.01
    for law in (fe2.Isotropic(E, NU, plane="stress"), fe2.RVELaw(fe2.Cell(structured(2, 3), fe2.Isotropic(E, NU, plane="stress")))):
        problem = bar(law, traction=t)
        assert problem.body.plane == "stress"
        u = problem.solve(steps=1)[-1].field
        strain = problem.body.strain(u)
        np.testing.assert_allclose(strain[..., 0], t / E, rtol=1e-10)
        np.testing.assert_allclose(strain[..., 1], -NU * t / E, rtol=1e-10)
    # plane strain would give (1 - nu^2) t / E
    u = bar(fe2.Isotropic(E, NU), traction=t).solve(steps=1)[-1].field
    np.testing.assert_allclose(bar(fe2.Isotropic(E, NU), traction=t).body.strain(u)[..., 0], (1 - NU**2) * t / E, rtol=1e-10)


def test_fe2_with_j2_plane_stress_cells_follows_the_uniaxial_curve_and_says_plane_stress(tmp_path):
    """FE² with J2 plane-stress cells, pulled to eps_xx = 1 %: the macro stress is the uniaxial curve;
    the VTU files carry plane_stress = [1] and sigma_zz = 0, the run record and report say plane stress."""
    E_, sy, H = 70.0, 0.2, 2.0
    cell = fe2.Cell(structured(2, 2), fe2.J2Plasticity(E_, 0.33, sy, hardening=H, plane="stress"))
    problem = bar(fe2.RVELaw(cell), pull=0.01)
    writer = fe2.io.MacroWriter(tmp_path / "run", micro_points=[0])
    steps = problem.solve(steps=4, callback=writer)
    np.testing.assert_allclose(steps[-1].stress[..., 0], (sy + H * 0.01) / (1 + H / E_), rtol=1e-8)
    np.testing.assert_allclose(steps[-1].stress[..., 1:], 0.0, atol=1e-9)
    macro = meshio.read(tmp_path / "run" / "step_004" / "macro.vtu")
    micro = meshio.read(tmp_path / "run" / "step_004" / "micro_0.vtu")
    for mesh in (macro, micro):
        assert mesh.field_data["plane_stress"].tolist() == [1]
        np.testing.assert_allclose(mesh.cell_data["stress"][0].reshape(-1, 3, 3)[:, 2, 2], 0.0)
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["inputs"]["mesh"]["plane"] == "stress"
    assert record["inputs"]["materials"]["all"]["cell"]["plane"] == "stress"
    report = fe2.io.report.write_report(tmp_path / "run", figures=False).read_text()
    assert "2D elasticity, plane stress" in report and "DOFs, plane stress, " in report


# --- coefficient fields as matrices ------------------------------------------------------------------
def test_matrix_conductivity_gives_the_exact_rotated_laminate():
    """Layers of one orthotropic conductor (k = 10 along its fibres, 1 across) with the fibres turned by
    +40 and -40 degrees, given as one matrix-valued function of position: the exact laminate tensor."""
    K0 = np.diag([10.0, 1.0])
    K = [rotation(t) @ K0 @ rotation(t).T for t in np.radians([40.0, -40.0])]
    field = lambda x: np.where(x[0] < 0.25, K[0][:, :, None, None], K[1][:, :, None, None])  # noqa: E731
    tensor = fe2.homogenize(fe2.Cell(structured(2, 8), fe2.Conductor(field))).tensor
    exact = laminate_conductivity(K, [0.25, 0.75])
    np.testing.assert_allclose(tensor, exact, rtol=1e-12, atol=1e-12)
    assert abs(exact[0, 1]) > 0.5   # the rotation couples x and y: not a diagonal tensor


def test_non_spd_coefficients_are_named_at_their_point():
    def k(x):   # SPD except where x > 0.75, y > 0.5
        off = np.where((x[0] > 0.75) & (x[1] > 0.5), 3.0, 0.5)
        return np.array([[1.0 + 0 * x[0], off], [off, 2.0 + 0 * x[0]]])

    with pytest.raises(ValueError, match=r"phase 'all': conductivity k must be symmetric positive definite, but at "
                                         r"x = \[0\.[89]\d*, 0\.[5-9]\d*\] its smallest eigenvalue is -1\.54"):
        fe2.Cell(structured(2, 4), fe2.Conductor(k))
    with pytest.raises(ValueError, match=r"at x = .* it is not symmetric \(\|A - A\^T\| = 1\)"):
        fe2.Cell(structured(2, 2), fe2.Conductor(lambda x: np.array([[1 + 0 * x[0], 1 + 0 * x[0]], [0 * x[0], 1 + 0 * x[0]]])))
    with pytest.raises(ValueError, match=r"the function must return a matrix at each point, shape \(2, 2, 2, \d+\)"):
        fe2.Cell(structured(2, 1), fe2.Conductor(lambda x: np.ones((3, 3) + x.shape[1:])))
    with pytest.raises(ValueError, match=r"stiffness must be symmetric positive definite, but at x = \[0\.\d+, 0\.\d+\] "
                                         r"its smallest eigenvalue is -1"):
        fe2.Cell(structured(2, 2), fe2.Anisotropic(lambda x: np.broadcast_to(np.diag([1.0, -1.0, 1.0])[:, :, None, None],
                                                                               (3, 3) + x.shape[1:])))
    coarse, fine = square(2), square(8)
    with pytest.raises(ValueError, match=r"phase 'all': conductivity k must be symmetric positive definite, but at x"):
        fe2.msfem.MsFEM(coarse, fine, fe2.Conductor(k))
    with pytest.raises(ValueError, match=r"phase 'all': conductivity k must be symmetric positive definite"):
        Problem(square(4), fe2.Conductor(k), dirichlet=[Dirichlet("left", 0.0)])


def test_matrix_fields_in_msfem_and_macro_problems_match_their_constant_twins():
    """A constant anisotropic matrix given as a field: MsFEM (linear boundary conditions: the coarse
    P1 space for a constant coefficient) equals the coarse macro problem; two rotated orthotropic
    halves given as one stiffness field equal the same halves given as two phases."""
    K = rotation(0.6) @ np.diag([5.0, 1.0]) @ rotation(0.6).T
    field = fe2.Conductor(lambda x: np.broadcast_to(K.reshape((2, 2) + (1,) * (x.ndim - 1)), (2, 2) + x.shape[1:]))
    coarse, fine = square(4), square(16)
    space = fe2.msfem.MsFEM(coarse, fine, field)
    coarse_u = space.solve([Dirichlet("left", 0.0), Dirichlet("right", 1.0)], body_force=2.0).coarse
    macro = Problem(coarse, fe2.Conductor(K), dirichlet=[Dirichlet("left", 0.0), Dirichlet("right", 1.0)], body_force=2.0)
    np.testing.assert_allclose(coarse_u, macro.solve(steps=1)[-1].field, rtol=0, atol=1e-12)

    C = [mandel_rotation(t) @ fe2.Anisotropic(np.diag([8.0, 2.0, 1.5])).tensor(2) @ mandel_rotation(t).T for t in (0.4, -0.9)]
    mesh = square(4).with_subdomains({"a": lambda x: x[0] < 0.5, "b": lambda x: x[0] > 0.5})
    conditions = dict(dirichlet=[Dirichlet("left", 0.0), Dirichlet("right", [0.01, 0.004])], neumann=[Traction("top", [0.0, 0.03])])
    halves = Problem(mesh, {"a": fe2.Anisotropic(C[0]), "b": fe2.Anisotropic(C[1])}, **conditions).solve(steps=1)[-1].field
    stiffness = lambda x: np.where(x[0] < 0.5, C[0][:, :, None, None], C[1][:, :, None, None])  # noqa: E731
    one = Problem(square(4), fe2.Anisotropic(stiffness), **conditions).solve(steps=1)[-1].field
    np.testing.assert_allclose(one, halves, rtol=0, atol=1e-13)


def test_msfem_in_plane_stress_equals_plane_strain_with_the_reduced_moduli(tmp_path):
    coarse, fine = square(3), square(12).with_subdomains({"a": lambda x: x[1] < 0.5, "b": lambda x: x[1] > 0.5})
    moduli = {"a": (1.0, 0.3), "b": (5.0, 0.25)}
    stress = fe2.msfem.MsFEM(coarse, fine, {k: fe2.Isotropic(e, nu, plane="stress") for k, (e, nu) in moduli.items()})
    strain = fe2.msfem.MsFEM(coarse, fine, {k: fe2.Isotropic(e * (1 + 2 * nu) / (1 + nu)**2, nu / (1 + nu))
                                            for k, (e, nu) in moduli.items()})
    load = dict(dirichlet=[Dirichlet("left", 0.0)], body_force=lambda x: np.array([np.sin(3 * x[1]), x[0]]))
    np.testing.assert_allclose(stress.solve(**load).coarse, strain.solve(**load).coarse, rtol=1e-11, atol=1e-14)
    assert "plane stress" in repr(stress)
    coarse_file, fine_file = stress.write_vtu(tmp_path, stress.solve(**load))
    assert meshio.read(fine_file).field_data["plane_stress"].tolist() == [1]
    with pytest.raises(ValueError, match="plane stress"):
        fe2.msfem.MsFEM(coarse, fine, {"a": fe2.Isotropic(1.0, 0.3, plane="stress"), "b": fe2.Isotropic(1.0, 0.3)})


# --- loads as functions --------------------------------------------------------------------------------
LAM, MU = fe2.Isotropic(1.0, 0.3).lam, fe2.Isotropic(1.0, 0.3).mu
PI, A = np.pi, 0.01   # A: the amplitude, small strains


def exact(x):
    """u = A (sin pi x sin pi y, x^2 y)."""
    return A * np.array([np.sin(PI * x[0]) * np.sin(PI * x[1]), x[0]**2 * x[1]])


def gradient(x):
    s, c = np.sin(PI * x), np.cos(PI * x)
    return A * np.array([[PI * c[0] * s[1], PI * s[0] * c[1]], [2 * x[0] * x[1], x[0]**2]])


def stress(x):
    g = gradient(x)
    eps = 0.5 * (g + np.swapaxes(g, 0, 1))
    return LAM * (eps[0, 0] + eps[1, 1]) * np.eye(2).reshape((2, 2) + (1,) * (x.ndim - 1)) + 2 * MU * eps


def body_force(x):
    """f = -div sigma of the exact field."""
    ss, cc = np.sin(PI * x[0]) * np.sin(PI * x[1]), np.cos(PI * x[0]) * np.cos(PI * x[1])
    return -A * np.array([-(LAM + 3 * MU) * PI**2 * ss + 2 * (LAM + MU) * x[0], (LAM + MU) * PI**2 * cc + 2 * MU * x[1]])


def errors(problem, u):
    """L2 and H1-seminorm errors of the field u against the exact solution (order-8 quadrature)."""
    basis = skfem.Basis(problem.body.mesh, problem.body.basis.elem, intorder=8)
    x = np.asarray(basis.global_coordinates())
    fields = [basis.interpolate(u[c::2]) for c in range(2)]
    e = np.array([np.asarray(f) for f in fields]) - exact(x)
    g = np.array([np.asarray(f.grad) for f in fields]) - gradient(x)
    dx = np.asarray(basis.dx)
    return np.sqrt(np.sum(dx * (e**2).sum(axis=0))), np.sqrt(np.sum(dx * (g**2).sum(axis=(0, 1))))


def test_body_force_and_tractions_as_functions_reproduce_a_manufactured_solution():
    """-div sigma(u) = f with u given on the left and bottom and sigma(u) n on the right and top, all as
    functions: P1 converges at order 2 in L2 and 1 in H1, P2 at 3 and 2 (measured: 1.95, 1.01; 3.05, 1.98)."""
    n = {"right": np.array([1.0, 0.0]), "top": np.array([0.0, 1.0])}
    for order, sizes, expected in ((1, (16, 32), (2, 1)), (2, (8, 16), (3, 2))):
        found = []
        for size in sizes:
            problem = Problem(square(size), fe2.Isotropic(1.0, 0.3),
                              dirichlet=[Dirichlet("left", exact), Dirichlet("bottom", exact)],
                              neumann=[Traction(side, lambda x, n=n[side]: np.einsum("ij...,j->i...", stress(x), n))
                                       for side in n], body_force=body_force, order=order)
            found.append(errors(problem, problem.solve(steps=1)[-1].field))
        rates = np.log2(np.array(found[-2]) / found[-1])     # on the two finest meshes
        np.testing.assert_allclose(rates, expected, atol=0.1, err_msg=f"P{order}: errors {found}")


def test_loads_as_functions_of_the_load_factor():
    """f(x) loads scale with the load factor; f(x, load) loads are taken as they are: with a linear law
    the field at load 1/2 is half the full one in the first case, a quarter for f(x, load) = load^2 f(x)."""
    def solve(force, traction):
        problem = Problem(square(4), fe2.Isotropic(1.0, 0.3), dirichlet=[Dirichlet("left", 0.0)],
                          neumann=[Traction("right", traction)], body_force=force)
        return [step.field for step in problem.solve(steps=[0.5, 1.0])]

    half, full = solve(lambda x: 0.01 * np.array([x[1], 1 + 0 * x[0]]), lambda x: 0.01 * np.array([0 * x[1], x[1]]))
    np.testing.assert_allclose(half, 0.5 * full, rtol=0, atol=1e-14)
    quarter, same = solve(lambda x, load: 0.01 * load**2 * np.array([x[1], 1 + 0 * x[0]]),
                          lambda x, load: 0.01 * load**2 * np.array([0 * x[1], x[1]]))
    np.testing.assert_allclose(same, full, rtol=0, atol=1e-14)
    np.testing.assert_allclose(quarter, 0.25 * full, rtol=0, atol=1e-14)
    assert np.abs(full).max() > 1e-3


def test_bad_load_functions_are_refused_where_they_are_given():
    with pytest.raises(ValueError, match=r"Traction on 'right': a load function takes the positions x, or x and the load "
                                         r"factor .* but it requires 3 arguments"):
        Traction("right", lambda x, load, extra: 0.0)
    with pytest.raises(ValueError, match=r"body force: the function returned shape \(3, \d+, \d+\) at points of shape"):
        Problem(square(2), fe2.Isotropic(1.0, 0.3), dirichlet=[Dirichlet("left", 0.0)],
                body_force=lambda x: np.ones((3,) + x.shape[1:]))
    with pytest.raises(ValueError, match=r"traction on 'right': the value must be finite, but it is not at "
                                         r"x = \[1\.0, 0\.[6-9]\d*\] \(load factor 1\)"):
        Problem(square(2), fe2.Isotropic(1.0, 0.3), dirichlet=[Dirichlet("left", 0.0)],
                neumann=[Traction("right", lambda x, load: np.where(x[1] > 0.6, np.nan, 1.0))])
