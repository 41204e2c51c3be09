"""Finite-strain FE² at the macro scale: the written fields against the closed-form uniaxial stretch of a
neo-Hookean plate, the small-strain limit, quadratic convergence at 40 % stretch with executors and
restart, det F <= 0 cut back and named, the loss of ellipticity found and named, and the case."""

import json
import logging
import runpy
import warnings
from pathlib import Path

import meshio
import numpy as np
import pytest
import scipy.optimize
import skfem

import fe2
from fe2 import kinematics, stability
from fe2.cell import nonlinear
from fe2.io import MacroWriter, read_units
from fe2.io.report import observed_order, write_report
from fe2.macro import Dirichlet, Problem
from fe2.materials.law import DeformationError, StrainRangeWarning

CASES = Path(__file__).resolve().parent.parent / "cases"
NH = fe2.NeoHookean(10.0, 0.3)


def cell_data(path, name):
    return meshio.read(path).cell_data[name][0]


def square(n):
    """The unit square of n x n pairs of triangles with its four sides named."""
    return skfem.MeshTri.init_tensor(np.linspace(0, 1, n + 1), np.linspace(0, 1, n + 1)).with_defaults()


def particle_cell(n=4):
    """A stiff neo-Hookean particle in a soft neo-Hookean matrix on an n x n structured cell."""
    mesh = skfem.MeshTri.init_tensor(np.linspace(0, 1, n + 1), np.linspace(0, 1, n + 1))
    inside = lambda x: (x[0] - 0.5) ** 2 + (x[1] - 0.5) ** 2 < 0.1  # noqa: E731
    mesh = mesh.with_subdomains({"particle": inside, "matrix": lambda x: ~inside(x)})
    return fe2.Cell(mesh, {"particle": fe2.NeoHookean(20.0, 0.3), "matrix": fe2.NeoHookean(1.0, 0.4)})


def uniaxial(law, a):
    """Plane-strain uniaxial stretch a of a neo-Hookean solid, lateral face free: F = diag(a, b) with
    P_yy = mu (b - 1/b) + lambda ln(a b) / b = 0; (b, P_xx, P_zz)."""
    mu, lam = law.mu, law.lam
    b = scipy.optimize.brentq(lambda b: mu * (b - 1 / b) + lam * np.log(a * b) / b, 0.3, 1.0, xtol=1e-15)
    J = a * b
    return b, mu * (a - 1 / a) + lam * np.log(J) / a, lam * np.log(J)


def test_uniaxial_stretch_writes_the_closed_form_fields(tmp_path, caplog):
    """A neo-Hookean square stretched 30 % with its lateral side free: the written F, J, P (with P_zz = lambda ln J),
    Cauchy stress, von Mises, ellipticity (mu for neo-Hookean), reaction and the record and report."""
    caplog.set_level(logging.INFO, logger="fe2")
    problem = Problem(square(2), NH, dirichlet=[Dirichlet("left", 0.0, components=(0,)),
                                                Dirichlet("bottom", 0.0, components=(1,)),
                                                Dirichlet("right", 0.3, components=(0,))])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        steps = problem.solve(2, tol=1e-12, callback=MacroWriter(tmp_path, units={"stress": "MPa"}))
    assert not [w for w in caught if issubclass(w.category, StrainRangeWarning)]   # no small-strain warning
    b, Pxx, Pzz = uniaxial(NH, 1.3)
    vtu = tmp_path / "step_002" / "macro.vtu"
    F = cell_data(vtu, "deformation_gradient").reshape(-1, 3, 3)
    np.testing.assert_allclose(F, np.broadcast_to(np.diag([1.3, b, 1.0]), F.shape), atol=1e-11)
    np.testing.assert_allclose(cell_data(vtu, "jacobian"), 1.3 * b, rtol=1e-11)
    P = cell_data(vtu, "first_piola_kirchhoff").reshape(-1, 3, 3)
    np.testing.assert_allclose(P, np.broadcast_to(np.diag([Pxx, 0.0, Pzz]), P.shape), atol=1e-10 * NH.E)
    sigma = np.diag([Pxx / b, 0.0, Pzz / (1.3 * b)])                    # P F^T / J
    np.testing.assert_allclose(cell_data(vtu, "cauchy_stress").reshape(-1, 3, 3),
                               np.broadcast_to(sigma, P.shape), atol=1e-10 * NH.E)
    grid = meshio.read(vtu)
    np.testing.assert_allclose(grid.point_data["cauchy_stress"].reshape(-1, 3, 3), np.broadcast_to(sigma, (9, 3, 3)),
                               atol=1e-10 * NH.E)
    s = np.diag(sigma)
    np.testing.assert_allclose(cell_data(vtu, "von_mises"), np.sqrt(((s[0] - s[1]) ** 2 + (s[1] - s[2]) ** 2 +
                                                                     (s[2] - s[0]) ** 2) / 2), rtol=1e-10)
    # neo-Hookean: Q(n) = mu I + (mu + lambda (1 - ln J)) a a with a = F^-T n, so the least value is mu
    np.testing.assert_allclose(cell_data(vtu, "ellipticity"), NH.mu, rtol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(cell_data(vtu, "ellipticity_normal"), axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(grid.point_data["displacement"][:, 0], 0.3 * grid.points[:, 0], atol=1e-12)
    units = read_units(vtu)
    assert units["first_piola_kirchhoff"] == units["cauchy_stress"] == units["ellipticity"] == "MPa"
    assert units["jacobian"] == units["deformation_gradient"] == "-"

    record = json.loads((tmp_path / "run.json").read_text())
    assert record["inputs"]["kinematics"].startswith("finite strain")
    for entry, step in zip(record["steps"], steps):
        assert entry["ratios"] == pytest.approx(step.ratios) and len(entry["ratios"]) == len(step.residuals) - 1
        assert entry["ellipticity"]["relative"] == pytest.approx(1.0, rel=1e-12)
    assert record["steps"][-1]["reactions"]["right"][0] == pytest.approx(Pxx, rel=1e-10)   # P_xx x height 1
    assert record["stability"] is None
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("step 2: load 1 converged")]
    assert lines and lines[0].endswith(", ".join(f"{v:.2g}" for v in steps[1].ratios))
    text = write_report(tmp_path, figures=False).read_text()
    assert "Kinematics: **finite strain" in text and "## Newton residuals" in text
    assert "Strongly elliptic throughout" in text and "| 2 | 1 | " + ", ".join(f"{r:.2e}" for r in steps[1].residuals) in text


@pytest.mark.parametrize("kind", ["law", "cell"])
def test_small_strain_limit(kind):
    """At a stretch t -> 0 the finite-strain plate equals the small-strain plate of the matching linear laws:
    |u_finite - u_small| / |u_small| = O(t) (the difference O(t^2)), fitted slope 1, down to t = 1e-6."""
    if kind == "law":
        finite, linear, h = NH, NH.small_strain(), 0.3
    else:
        cell = particle_cell(3)
        finite = fe2.RVELaw(cell)
        linear = fe2.RVELaw(fe2.Cell(cell.mesh, {k: law.small_strain() for k, law in cell.materials.items()}))
        h = 0.4
    mesh = fe2.geometry.plate_with_hole(width=1.0, radius=0.3, h=h)

    def field(law, t):
        problem = Problem(mesh, {"plate": law}, dirichlet=[
            Dirichlet("left", 0.0, components=(0,)), Dirichlet("bottom", 0.0, components=(1,)),
            Dirichlet("right", t, components=(0,))])
        # the laws form P without cancellation (F - F^-T = H + H^T F^-T, ln J = log1p(J - 1)): the
        # relative residual reaches round-off at any t
        return problem.solve(1, tol=1e-11)[-1].field

    t = np.array([1e-2, 1e-3, 1e-6])
    differences = np.array([np.linalg.norm(field(finite, s) - field(linear, s)) / np.linalg.norm(field(linear, s))
                            for s in t])
    slope = np.log(differences[0] / differences[1]) / np.log(t[0] / t[1])
    assert slope == pytest.approx(1.0, abs=0.08), differences
    assert differences[2] <= 1.5 * differences[1] / t[1] * t[2], differences   # still O(t) at t = 1e-6


@pytest.fixture(scope="module")
def stretched():
    """A clamped square of neo-Hookean particle cells (18 points) stretched 40 % in 2 steps, serial."""
    def problem(executor=None):
        law = fe2.RVELaw(particle_cell(4), executor=executor)
        return Problem(square(3), law, dirichlet=[Dirichlet("left", 0.0), Dirichlet("right", [0.4, 0.0])])
    return problem, problem().solve(2)


def test_macro_newton_converges_quadratically_at_40_percent(stretched):
    """The last iterations of each step: r_k / r_(k-1)^2 bounded (< 1) wherever r_(k-1) < 5e-2 and r_k is above
    round-off, and the observed order of the last three residuals above 1e-12 at least 1.8."""
    _, steps = stretched
    for step in steps:
        r = np.asarray(step.residuals)
        tail = [k for k in range(1, len(r)) if r[k - 1] < 5e-2 and r[k] > 1e-13]
        assert len(tail) >= 2, r
        assert max(step.ratios[k - 1] for k in tail) < 1.0, (r, step.ratios)
        assert observed_order(r) > 1.8, r


def test_executors_agree_and_a_restart_is_exact(stretched, tmp_path):
    """Processes give the serial field to 1e-12; a run stopped after step 1 and restarted from its checkpoint
    ends bit for bit on the uninterrupted field."""
    problem, steps = stretched
    with fe2.parallel.executor("processes", workers=2) as executor:
        parallel = problem(executor).solve(2)
    scale = np.abs(steps[-1].field).max()
    assert np.abs(parallel[-1].field - steps[-1].field).max() <= 1e-12 * scale

    class Stop(Exception):
        pass

    def stop(step, u, states, problem):
        if step.number == 2:
            raise Stop
    with pytest.raises(Stop):
        problem().solve(2, callback=stop, checkpoint=tmp_path / "c.npz")
    restarted = problem().solve(2, checkpoint=tmp_path / "c.npz", restart=True)
    assert [s.number for s in restarted] == [2]
    np.testing.assert_array_equal(restarted[-1].field, steps[-1].field)


def test_an_inverted_point_is_cut_back_and_named(tmp_path, caplog):
    """Compressing a 4 x 2 neo-Hookean bar to 40 % in one step: the first attempt moves only the right-edge nodes
    (F_xx = 1 - 0.6 / 0.25 = -1.4 there); the cut-back is logged and recorded with the step, the load tried,
    the element and the quadrature point, and the bar ends homogeneous (F_xx = 0.4)."""
    caplog.set_level(logging.INFO, logger="fe2")
    mesh = skfem.MeshTri.init_tensor(np.linspace(0, 1, 5), np.linspace(0, 0.5, 3)).with_defaults()
    conditions = [Dirichlet("left", 0.0, components=(0,)), Dirichlet("bottom", 0.0, components=(1,)),
                  Dirichlet("right", -0.6, components=(0,))]
    steps = Problem(mesh, NH, dirichlet=conditions).solve(1, callback=MacroWriter(tmp_path))
    right = np.flatnonzero(np.isclose(mesh.p[0, mesh.t], 1.0).any(axis=0))
    first = steps[0].failures[0]
    assert first["load"] == 1.0 and first["error"] == "DeformationError" and first["quadrature point"] == 0
    assert first["element"] in right and "det F = -1.4 <= 0" in first["reason"]
    warning = next(r for r in caplog.records if r.levelno == logging.WARNING)
    assert warning.getMessage().startswith(f"  step 1 to load 1 failed (element {first['element']}, quadrature point 0 "
                                           "(phase 'all'): det F = -1.4 <= 0")
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["steps"][0]["failures"][0] == first and steps[-1].load == 1.0
    F = cell_data(tmp_path / f"step_{steps[-1].number:03d}" / "macro.vtu", "deformation_gradient")
    np.testing.assert_allclose(F[:, 0], 0.4, rtol=1e-8)
    text = write_report(tmp_path, figures=False).read_text()
    assert f"| 1 | 1 | {first['element']} | 0 | element {first['element']}, quadrature point 0" in text
    # a cell-backed point is refused the same way, before any cell solve, named by its macro element
    problem = Problem(mesh, fe2.RVELaw(particle_cell(2)), dirichlet=conditions)
    u = np.zeros(problem.body.ndofs)
    u[2 * np.flatnonzero(np.isclose(mesh.p[0], 1.0))] = -0.6
    with pytest.raises(DeformationError, match=r"^element \d+, quadrature point 0 \(phase 'all'\): det F = -1.4") as error:
        problem.residual(u, problem.initial_states(), 1.0)
    assert error.value.point[0] in right


def test_the_loss_of_ellipticity_is_found_and_named(tmp_path, caplog):
    """Two Saint Venant-Kirchhoff phases (nu 0.3 | 0.2) compressed homogeneously, F = diag(1 - 0.5 load, 1), all
    nodes prescribed: the first step past the critical stretch of the nu = 0.3 phase (found by root-finding the
    law's own ellipticity) is named once, in that phase, with the load interpolated to the root."""
    caplog.set_level(logging.WARNING, logger="fe2")
    mesh = skfem.MeshTri.init_tensor(np.linspace(0, 1, 3), np.linspace(0, 1, 2))
    mesh = mesh.with_boundaries({"all": lambda x: np.ones(x.shape[1], dtype=bool)})
    mesh = mesh.with_subdomains({"a": lambda x: x[0] < 0.5, "b": lambda x: x[0] > 0.5})
    laws = {"a": fe2.SaintVenantKirchhoff(1.0, 0.3), "b": fe2.SaintVenantKirchhoff(1.0, 0.2)}
    problem = Problem(mesh, laws, dirichlet=[Dirichlet("all", lambda x: np.stack([-0.5 * x[0], 0 * x[1]]))])
    critical = {}
    for name, law in laws.items():
        least = lambda s: stability.ellipticity(law.response(np.array([s - 1, 0, 0, 0.0]))[1])[0]  # noqa: E731
        critical[name] = (1 - scipy.optimize.brentq(least, 0.5, 0.99, xtol=1e-14)) / 0.5   # as a load factor
    assert critical["a"] < 0.6 < critical["b"]
    problem.solve(10, callback=MacroWriter(tmp_path))
    warnings_ = [r.getMessage() for r in caplog.records if "ellipticity lost" in r.getMessage()]
    assert len(warnings_) == 1 and warnings_[0].startswith("ellipticity lost at step 6, load 0.6")
    loss = json.loads((tmp_path / "run.json").read_text())["stability"]
    assert loss["step"] == 6 and loss["load"] == pytest.approx(0.6) and loss["previous load"] == pytest.approx(0.5)
    assert loss["element"] in problem.body.phase_elements[0] and loss["quadrature point"] == 0
    assert loss["interpolated load"] == pytest.approx(critical["a"], abs=2e-3)
    corners = mesh.p[:, mesh.t[:, loss["element"]]]
    np.testing.assert_allclose(loss["position"], corners.mean(axis=1), atol=1e-12)   # the one point of a P1 triangle
    H = kinematics.gradient(np.diag([0.7, 1.0]))
    value, normal, _ = stability.ellipticity(laws["a"].response(H)[1])
    assert loss["min"] == pytest.approx(value, rel=1e-10) and abs(np.dot(loss["normal"], normal)) == pytest.approx(1)
    np.testing.assert_allclose(cell_data(tmp_path / "step_006" / "macro.vtu", "ellipticity")[problem.body.phase_elements[0]],
                               value, rtol=1e-10)
    text = write_report(tmp_path, figures=False).read_text()
    assert f"**Ellipticity lost** at step 6, load 0.6 (vanishing at load ~{loss['interpolated load']:.4g}" in text


def test_finite_strain_plate_case(tmp_path, capsys):
    """The case at its quick size: quadratic ratios, the small-strain limit, the record and report, the VTU fields
    (Hill-Mandel per point, the homogenized ellipticity that of an independent cell solve, the micro ellipticity
    mu of each neo-Hookean phase), and its figure."""
    from test_cases import assert_picture
    problem, steps, results = runpy.run_path(str(CASES / "finite_strain_plate.py"), run_name="case")["main"](
        ["--quick", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "small-strain limit at stretch 3.0e-04" in out and "strongly elliptic throughout" in out
    assert 0 < results["difference"] < 3e-4 * 3        # O(stretch) at stretch 3e-4
    assert results["stretch"][-1] == pytest.approx(0.3)
    for step in steps:
        assert step.ratios[-1] < 1.0 and step.residuals[-1] <= 1e-9
    record = results["record"]
    last = tmp_path / f"step_{steps[-1].number:03d}"
    assert (cell_data(last / "macro.vtu", "hill_mandel") < 1e-10).all()
    sigma = cell_data(last / "macro.vtu", "cauchy_stress").reshape(-1, 3, 3)
    assert np.abs(sigma - sigma.transpose(0, 2, 1)).max() < 1e-9 * np.abs(sigma).max()   # balance of the cells' <P>
    weakest = record["steps"][-1]["ellipticity"]
    H = kinematics.gradient(cell_data(last / "macro.vtu", "deformation_gradient").reshape(-1, 3, 3)[
        weakest["element"], :2, :2])
    solution = nonlinear.solve(problem.body.materials["plate"].cell, H, "periodic")
    assert weakest["min"] == pytest.approx(stability.ellipticity(solution.tangent)[0], rel=1e-6)
    micro = next(last.glob("micro_*.vtu"))
    cell = problem.body.materials["plate"].cell
    mu = np.array([cell.materials[name].mu for name in cell.phases])[cell_data(micro, "phase")]
    np.testing.assert_allclose(cell_data(micro, "ellipticity"), mu, rtol=1e-10)
    assert {"deformation_gradient", "first_piola_kirchhoff", "cauchy_stress"} <= set(meshio.read(micro).cell_data)
    text = (tmp_path / "report.md").read_text()
    assert "Kinematics: **finite strain" in text and "## Stability" in text
    assert_picture(tmp_path / "finite_strain_plate.png")
    assert_picture(tmp_path / "figures" / "macro_micro.png")


def test_a_finite_strain_cell_writes_its_averages(tmp_path):
    """fe2.io.write_vtu of a solved finite-strain cell: the volume average of the written P is <P> of the solve,
    that of F is F-bar, and P_zz is the law's lambda ln J per element (F_zz = 1)."""
    cell = particle_cell(4)
    H = np.array([0.3, 0.1, 0.0, -0.1])
    solution = nonlinear.solve(cell, H, "periodic")
    path = fe2.io.write_vtu(cell, tmp_path / "cell.vtu", solution.field, H)
    weights = cell.dx.sum(axis=1)
    average = lambda name: np.einsum("e,eij->ij", weights, cell_data(path, name).reshape(-1, 3, 3)) / weights.sum()  # noqa: E731
    np.testing.assert_allclose(average("first_piola_kirchhoff")[:2, :2].ravel(), solution.stress, atol=1e-12)
    np.testing.assert_allclose(average("deformation_gradient")[:2, :2], kinematics.deformation(H), atol=1e-12)
    lam = np.array([cell.materials[name].lam for name in cell.phases])[cell.phase]
    np.testing.assert_allclose(cell_data(path, "first_piola_kirchhoff")[:, 8], lam * np.log(cell_data(path, "jacobian")),
                               rtol=1e-12)


def compressed_square(law, compression):
    """A square (two P1 elements) of ``law`` at its points, every node prescribed: F = diag(1 - compression load, 1)."""
    mesh = skfem.MeshTri.init_tensor(np.linspace(0, 1, 2), np.linspace(0, 1, 2))
    mesh = mesh.with_boundaries({"all": lambda x: np.ones(x.shape[1], dtype=bool)})
    return Problem(mesh, law, dirichlet=[Dirichlet("all", lambda x: np.stack([-compression * x[0], 0 * x[1]]))])


def test_micro_ellipticity_is_written_and_its_loss_named(tmp_path, caplog):
    """Cells at the points of a square compressed homogeneously. (1) Cells of one Saint Venant-Kirchhoff law:
    every micro point carries F, so the least micro ellipticity written per element is the law's own at F to
    round-off. (2) A layered cell, a Saint Venant-Kirchhoff layer between stiff neo-Hookean ones, compressed
    along the layers by 22.1 %: the layer loses ellipticity (near 21.9 %) while the cell stays stable (its
    stiffness fails near 22.4 %); the loss is named once (step, load, element, micro element in the layer) in
    the log and the run record, and the report has the micro table."""
    caplog.set_level(logging.WARNING, logger="fe2")
    law = fe2.SaintVenantKirchhoff(1.0, 0.3)
    cell_mesh = skfem.MeshTri.init_tensor(np.linspace(0, 1, 5), np.linspace(0, 1, 5))
    homogeneous = fe2.Cell(cell_mesh.with_subdomains({"a": lambda x: x[0] < 0.5, "b": lambda x: x[0] > 0.5}),
                           {"a": law, "b": law})
    compressed_square(fe2.RVELaw(homogeneous), 0.25).solve(4, callback=MacroWriter(tmp_path / "homogeneous"))
    for step in json.loads((tmp_path / "homogeneous" / "run.json").read_text())["steps"]:
        expected = stability.ellipticity(law.response(kinematics.gradient(np.diag([1 - 0.25 * step["load"], 1.0])))[1])[0]
        written = cell_data(tmp_path / "homogeneous" / f"step_{step['number']:03d}" / "macro.vtu", "micro_ellipticity")
        np.testing.assert_allclose(written, expected, rtol=1e-10)
        assert step["micro ellipticity"]["min"] == pytest.approx(float(expected), rel=1e-10)
    assert not any(r.getMessage().startswith("micro ellipticity lost") for r in caplog.records)
    layer = lambda x: np.abs(x[1] - 0.5) < 0.25  # noqa: E731
    layered = fe2.Cell(cell_mesh.with_subdomains({"layer": layer, "outer": lambda x: ~layer(x)}),
                       {"layer": law, "outer": fe2.NeoHookean(10.0, 0.3)})
    steps = compressed_square(fe2.RVELaw(layered), 0.221).solve(4, callback=MacroWriter(tmp_path / "layered"))
    record = json.loads((tmp_path / "layered" / "run.json").read_text())["steps"]
    values = [s["micro ellipticity"]["min"] for s in record]
    assert values[-2] > 0 >= values[-1] and np.all(np.diff(values) < 0) and len(steps) == 4
    messages = [r.getMessage() for r in caplog.records if r.getMessage().startswith("micro ellipticity lost")]
    assert len(messages) == 1 and messages[0].startswith("micro ellipticity lost at step 4, load 1")
    assert record[-1]["micro ellipticity"]["micro element"] in layered.phase_elements[layered.phases.index("layer")]
    assert "least micro value" in write_report(tmp_path / "layered", figures=False).read_text()


def test_plane_stress_square_is_the_3d_uniaxial_stretch(tmp_path):
    """A plane-stress neo-Hookean square stretched 30 % with its lateral side free is in 3D uniaxial stress:
    F = diag(1.3, b, b) with P_yy = P_zz = 0 of the 3D law (b solved by the test): the written F (its zz the
    law's thickness stretch), J = 1.3 b^2, P (P_zz = 0), the Cauchy stress and the reaction P_xx."""
    law = fe2.NeoHookean(10.0, 0.3, plane="stress")
    problem = Problem(square(2), law, dirichlet=[Dirichlet("left", 0.0, components=(0,)),
                                                 Dirichlet("bottom", 0.0, components=(1,)),
                                                 Dirichlet("right", 0.3, components=(0,))])
    assert problem.body.plane == "stress"
    problem.solve(2, tol=1e-12, callback=MacroWriter(tmp_path))
    three = fe2.NeoHookean(10.0, 0.3)
    P3 = lambda b: three.response(kinematics.gradient(np.diag([1.3, b, b])))[0]  # noqa: E731
    b = scipy.optimize.brentq(lambda b: P3(b)[4], 0.5, 1.0, xtol=1e-15)
    vtu = tmp_path / "step_002" / "macro.vtu"
    F = cell_data(vtu, "deformation_gradient").reshape(-1, 3, 3)
    np.testing.assert_allclose(F, np.broadcast_to(np.diag([1.3, b, b]), F.shape), atol=1e-11)
    np.testing.assert_allclose(cell_data(vtu, "jacobian"), 1.3 * b * b, rtol=1e-11)
    P = cell_data(vtu, "first_piola_kirchhoff").reshape(-1, 3, 3)
    np.testing.assert_allclose(P, np.broadcast_to(np.diag([P3(b)[0], 0.0, 0.0]), P.shape), atol=1e-10 * law.E)
    np.testing.assert_allclose(cell_data(vtu, "cauchy_stress").reshape(-1, 3, 3)[:, 0, 0], P3(b)[0] / (b * b), rtol=1e-10)
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["steps"][-1]["reactions"]["right"][0] == pytest.approx(P3(b)[0], rel=1e-10)
