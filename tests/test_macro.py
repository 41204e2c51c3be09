"""The macro problem with analytic and cell-backed (FE²) material points."""

import io
import logging
import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import skfem

import fe2
from fe2.cell.analytic import laminate_stiffness
from fe2.macro import Dirichlet, DivergenceError, Problem, Traction
from fe2.materials.plasticity import ReturnMappingError

SOFT, STIFF = fe2.Isotropic(E=1.0, nu=0.3), fe2.Isotropic(E=10.0, nu=0.2)
J2 = fe2.J2Plasticity(E=70.0, nu=0.3, yield_stress=0.1, hardening=2.0)


def bar(nx=8, ny=2, length=4.0):
    x = np.linspace(0, length, nx + 1)
    return skfem.MeshTri.init_tensor(x, np.linspace(0, 1, ny + 1)).with_defaults().with_subdomains({"bar": lambda p: p[0] > -1})


def tension(mesh, law, pull=None, traction=None):
    """A bar fixed axially on the left and vertically on its bottom edge, pulled on the right."""
    dirichlet = [Dirichlet("left", 0.0, components=(0,)), Dirichlet("bottom", 0.0, components=(1,))]
    if pull is not None:
        dirichlet.append(Dirichlet("right", pull, components=(0,)))
    return Problem(mesh, {"bar": law}, dirichlet=dirichlet, neumann=[] if traction is None else [Traction("right", traction)])


@pytest.fixture(scope="module")
def cell_mesh():
    return fe2.geometry.inclusion(0.3, h=0.15)


def test_fe2_with_linear_cells_equals_single_scale(cell_mesh):
    """Each macro point backed by a linear cell = the same problem with the cell's effective tensor."""
    mesh = bar().with_subdomains({"bar": lambda p: p[0] > -1})
    cell = fe2.Cell(cell_mesh, {"matrix": SOFT, "inclusion": STIFF})
    load = dict(traction=[0.03, 0.01])
    fe2_solution = tension(mesh, fe2.RVELaw(cell), **load).solve(1)[-1].field
    C = fe2.homogenize(fe2.Cell(cell_mesh, {"matrix": SOFT, "inclusion": STIFF})).tensor
    single = tension(mesh, fe2.Anisotropic(0.5 * (C + C.T)), **load).solve(1)[-1].field
    np.testing.assert_allclose(fe2_solution, single, rtol=1e-10, atol=1e-10 * np.abs(single).max())


def test_laminate_bar_gives_the_exact_homogenized_solution():
    """A bar of a laminate (layers normal to y) under an axial end traction: the macro field is uniform
    and the tip displacement is the closed-form compliance times stress times length."""
    layers = fe2.geometry.laminate(0.4, h=0.25, normal=1)
    cell = fe2.Cell(layers, {"a": SOFT, "b": STIFF})
    sigma, length = 0.2, 4.0
    steps = tension(bar(length=length), fe2.RVELaw(cell), traction=[sigma, 0.0]).solve(1)
    u = steps[-1].field
    exact = np.linalg.inv(laminate_stiffness([SOFT.tensor(2), STIFF.tensor(2)], [0.4, 0.6], normal=1))
    body_x = np.repeat(tension(bar(length=length), SOFT, traction=[sigma, 0]).body.doflocs[0][::2], 1)
    np.testing.assert_allclose(u[0::2], exact[0, 0] * sigma * body_x, rtol=1e-10, atol=1e-12)


def test_fe2_elastoplastic_step_converges_quadratically(cell_mesh, caplog):
    cell = fe2.Cell(cell_mesh, {"matrix": J2, "inclusion": fe2.Isotropic(400.0, 0.2)})
    caplog.set_level(logging.INFO, logger="fe2")
    steps = tension(bar(nx=3, ny=1, length=3.0), fe2.RVELaw(cell), pull=0.012).solve(2, tol=1e-10)
    residuals = np.array(steps[-1].residuals)
    assert len(residuals) >= 4 and residuals[-1] <= 1e-10   # several iterations: really plastic
    tail = [(a, b) for a, b in zip(residuals[:-1], residuals[1:]) if a < 1e-2 and b > 1e-14]
    assert tail and all(b <= 20 * a**2 for a, b in tail), residuals
    assert "r/r_prev^2" in caplog.text
    assert {(r.name, r.levelname) for r in caplog.records} == {("fe2.macro.problem", "INFO")}
    assert sum(r.getMessage().startswith("step ") for r in caplog.records) == 2


def test_macro_tangent_matches_central_differences(cell_mesh):
    """K_t v = d f_int / d u along a direction v for cell-backed points: the consistent tangent of the
    increment from the last committed history (here the virgin one) to a plastic state."""
    cell = fe2.Cell(cell_mesh, {"matrix": J2, "inclusion": fe2.Isotropic(400.0, 0.2)})
    problem = tension(bar(nx=2, ny=1, length=2.0), fe2.RVELaw(cell), pull=0.01)
    steps = problem.solve(1)
    u, states = steps[-1].field, problem.initial_states()
    _, _, tangent, _ = problem.residual(u, states, 1.0)
    free = problem.map >= 0
    upper = problem.body.linearize(tangent).assemble(problem.map, problem.n)
    K = upper + sp.triu(upper, k=1).T
    v = np.random.default_rng(0).normal(size=problem.n) * 1e-3
    dv = np.zeros(problem.body.ndofs)
    dv[free] = v
    h = 1e-4
    fd = (problem.residual(u + h * dv, states, 1.0)[0] - problem.residual(u - h * dv, states, 1.0)[0])[free] / (2 * h)
    np.testing.assert_allclose(K @ v, fd, rtol=1e-5, atol=1e-6 * np.abs(fd).max())


def test_macro_mesh_without_the_named_boundary():
    with pytest.raises(ValueError, match=r"no boundary named \['clamp'\]; it has \['bottom', 'left', 'right', 'top'\]"):
        Problem(bar(), {"bar": SOFT}, dirichlet=[Dirichlet("clamp", 0.0)])


def test_micro_divergence_is_cut_back_then_reported(cell_mesh, caplog):
    cell = fe2.Cell(cell_mesh, {"matrix": J2, "inclusion": fe2.Isotropic(400.0, 0.2)})
    law = fe2.RVELaw(cell, max_iterations=1)                  # any plastic micro step fails
    with pytest.raises(DivergenceError, match=r"load step 1 to 0.25 failed after 2 cut-backs .*element \d+, quadrature point 0 "
                                              r"\(phase 'bar'\): material point \d+: micro Newton"):
        tension(bar(nx=2, ny=1, length=2.0), law, pull=0.02).solve(1, max_cutbacks=2)
    cutbacks = [r for r in caplog.records if "cutting the increment" in r.getMessage()]
    assert len(cutbacks) == 2 and {r.levelname for r in cutbacks} == {"WARNING"}   # shown without set_level


def test_the_log_is_shown_once_and_only_when_asked():
    """The Newton log goes through logging: nothing is printed unless fe2.logs.show() is called; showing
    twice does not double a line; as a context manager it restores what was there."""
    import fe2.logs
    problem = Problem(bar(nx=2, ny=1, length=2.0), {"bar": SOFT}, dirichlet=[Dirichlet("left", 0.0), Dirichlet("right", 0.01)])
    logger = logging.getLogger("fe2")
    before = list(logger.handlers), logger.level
    stream = io.StringIO()
    with fe2.logs.show(stream=stream) as handler:
        fe2.logs.show(stream=stream)
        assert logger.handlers.count(handler) == 1
        problem.solve(1)
        with fe2.logs.show(logging.WARNING):                      # a quiet stretch
            problem.solve(1)
    assert (list(logger.handlers), logger.level) == before
    lines = stream.getvalue().splitlines()
    assert lines[0] == "    newton 0: |r| = 1.000e+00" and lines[-1].startswith("step 1: load 1 converged in 1 iterations")
    assert len(lines) == 3
    problem.solve(1)
    assert stream.getvalue().splitlines() == lines


def test_solve_takes_no_log_stream():
    problem = Problem(bar(nx=2, ny=1, length=2.0), {"bar": SOFT}, dirichlet=[Dirichlet("left", 0.0)])
    with pytest.raises(TypeError, match="unexpected keyword argument 'log'"):
        problem.solve(1, log=io.StringIO())


class FailsOnce(fe2.Law):
    """J2 that refuses the first strain beyond ``limit`` it sees, as a diverging micro solve would."""

    physics = "elasticity"

    def __init__(self, limit):
        self.law, self.limit, self.failed = J2, limit, False

    def tensor(self, dim):
        return self.law.tensor(dim)

    def initial_state(self, shape):
        return self.law.initial_state(shape)

    def response(self, strain, state=None):
        if not self.failed and np.abs(strain).max() > self.limit:
            self.failed = True
            raise ReturnMappingError("refused once")
        return self.law.response(strain, state)


def test_cut_back_rolls_back_to_the_committed_state_exactly(caplog):
    """Two steps whose first fails and is halved: the run continues from the committed states exactly
    as a run scheduled through the same load factors."""
    cut = tension(bar(), FailsOnce(limit=0.004), pull=0.02)
    steps = cut.solve(2)
    assert "cutting the increment to 0.25" in caplog.text
    assert steps[0].load == 0.25 and steps[0].cutbacks == 1 and steps[-1].load == 1.0
    four = tension(bar(), J2, pull=0.02)
    reference = four.solve([s.load for s in steps])
    assert [s.load for s in reference] == [s.load for s in steps]
    np.testing.assert_array_equal(steps[-1].field, reference[-1].field)
    np.testing.assert_array_equal(cut.states["bar"]["p"], four.states["bar"]["p"])


def test_a_cut_back_halves_the_step_tried_not_the_grown_increment(caplog):
    """Ten scheduled steps whose first ones are easy (the increment doubles each time, up to 1, while
    the schedule keeps each step at 0.1): the failure at load 0.6 halves the step tried, 0.1, so the
    next attempt ends at 0.55."""
    cut = tension(bar(), FailsOnce(limit=0.00625), pull=0.02)   # first met by the step to 0.6
    steps = cut.solve(10)
    loads = [round(s.load, 12) for s in steps]
    assert "cutting the increment to 0.05" in caplog.text
    assert loads[:6] == [0.1, 0.2, 0.3, 0.4, 0.5, 0.55] and steps[5].cutbacks == 1 and loads[-1] == 1.0


def test_3d_bar_in_uniaxial_tension():
    """A 3D bar (tets) with an end traction, free laterally: u_x = sigma x / E, u_y = -nu sigma y / E."""
    x = np.linspace(0, 3.0, 7)
    mesh = skfem.MeshTet.init_tensor(x, np.linspace(0, 1, 3), np.linspace(0, 1, 3)).with_boundaries({
        "left": lambda p: np.isclose(p[0], 0), "right": lambda p: np.isclose(p[0], 3.0),
        "bottom": lambda p: np.isclose(p[1], 0), "back": lambda p: np.isclose(p[2], 0)})
    law, sigma = fe2.Isotropic(E=2.0, nu=0.25), 0.1
    problem = Problem(mesh, law, dirichlet=[Dirichlet("left", 0.0, components=(0,)), Dirichlet("bottom", 0.0, components=(1,)),
                                            Dirichlet("back", 0.0, components=(2,))],
                      neumann=[Traction("right", [sigma, 0.0, 0.0])])
    u = problem.solve(1)[-1].field.reshape(-1, 3)
    p = problem.body.basis.doflocs.T
    np.testing.assert_allclose(u[:, 0], sigma / law.E * p[:, 0], atol=1e-12)
    np.testing.assert_allclose(u[:, 1], -law.nu * sigma / law.E * p[:, 1], atol=1e-12)
    np.testing.assert_allclose(u[:, 2], -law.nu * sigma / law.E * p[:, 2], atol=1e-12)


def test_dirichlet_values_by_component_and_function():
    mesh = bar(nx=2, ny=1, length=2.0)
    by_component = Problem(mesh, {"bar": SOFT}, dirichlet=[Dirichlet("left", [0.01, -0.02])])
    fixed = by_component._fixed.reshape(-1, 2)
    np.testing.assert_allclose(by_component._prescribed.reshape(-1, 2), np.broadcast_to([0.01, -0.02], fixed.shape))
    function = Problem(mesh, {"bar": SOFT}, dirichlet=[Dirichlet("left", lambda x: np.stack([x[1], 2 * x[1]]))])
    y = function.body.basis.doflocs[1, function._fixed[::2] // 2]
    np.testing.assert_allclose(function._prescribed.reshape(-1, 2), np.stack([y, 2 * y], axis=1))
    with pytest.raises(ValueError, match="give a number or 2 numbers, got \\[1.0, 2.0, 3.0\\]"):
        Problem(mesh, {"bar": SOFT}, dirichlet=[Dirichlet("left", [1.0, 2.0, 3.0])])
    with pytest.raises(ValueError, match="the function returned shape"):
        Problem(mesh, {"bar": SOFT}, dirichlet=[Dirichlet("left", lambda x: np.zeros(7))])
    with pytest.raises(ValueError, match=r"Dirichlet on 'left': the value must be finite, got \[0.0, nan\]"):
        Dirichlet("left", [0.0, np.nan])
    with pytest.raises(ValueError, match=r"Dirichlet on 'left': the value must be finite, but it is not at x = \[0.0, 1.0\] "
                                         r"\(1 of 2 nodes\)"):
        Problem(mesh, {"bar": SOFT}, dirichlet=[Dirichlet("left", lambda x: np.where(x[1] > 0.5, np.inf, 0.0))])
    with pytest.raises(ValueError, match="Dirichlet conditions must be fe2.macro.Dirichlet, got Traction"):
        Problem(mesh, {"bar": SOFT}, dirichlet=[Traction("left", [0.0, 1.0])])


def test_dirichlet_dofs_at_basis_dofs_or_mesh_vertices():
    """One resolver for macro problems (the DOFs of a basis) and MsFEM (the mesh vertices): for P1
    they are the same nodes; a later condition overrides an earlier one where they meet."""
    mesh = bar(nx=2, ny=1, length=2.0)
    conditions = [Dirichlet("left", lambda x: np.stack([x[1], -x[1]])), Dirichlet("bottom", 0.5, components=(1,))]
    basis = skfem.Basis(mesh, skfem.ElementTriP1())
    fixed, values = fe2.macro.boundary.dirichlet_dofs(conditions, mesh, 2, physics="elasticity", basis=basis)
    same = fe2.macro.boundary.dirichlet_dofs(conditions, mesh, 2, physics="elasticity")
    np.testing.assert_array_equal(fixed, same[0])
    np.testing.assert_array_equal(values, same[1])
    corner = np.flatnonzero((mesh.p[0] == 0) & (mesh.p[1] == 0))[0]     # on both: the bottom value wins for u_y
    assert dict(zip(fixed, values))[2 * corner + 1] == 0.5
    with pytest.raises(ValueError, match=r"the mesh has no boundary named 'east'; it has \['bottom', 'left', 'right', 'top'\]"):
        fe2.macro.boundary.dirichlet_dofs([Dirichlet("east")], mesh, 1, physics="conduction")


def test_macro_bad_input():
    mesh = bar(nx=2, ny=1, length=2.0)
    problem = Problem(mesh, {"bar": SOFT}, dirichlet=[Dirichlet("left", 0.0)])
    for steps in (0, -1, 1.5):
        with pytest.raises(ValueError, match="steps must be a positive whole number"):
            problem.solve(steps)
    for schedule in ([0.5, 0.3, 1.0], [0.5, 0.9], []):
        with pytest.raises(ValueError, match="a load schedule must increase from above 0 to exactly 1"):
            problem.solve(schedule)
    with pytest.raises(ValueError, match=r"body force needs 2 component\(s\), got \[1.0, 2.0, 3.0\]"):
        Problem(mesh, {"bar": SOFT}, dirichlet=[Dirichlet("left", 0.0)], body_force=[1, 2, 3])
    with pytest.raises(ValueError, match="Traction on 'right': the value must be a number, one number per component, or a "
                                         "function of the positions"):   # functions are loads (test_fields_plane_stress)
        Traction("right", "ten")
    with pytest.raises(ValueError, match="traction on 'right' needs 2 component"):
        Problem(mesh, {"bar": SOFT}, dirichlet=[Dirichlet("left", 0.0)], neumann=[Traction("right", [1.0, 2.0, 3.0])])
    with pytest.raises(ValueError, match="must be fe2.macro.Dirichlet or Traction, got 'top'"):
        Problem(mesh, {"bar": SOFT}, dirichlet=[Dirichlet("left", 0.0)], neumann=["top"])
    assert Problem(mesh, {"bar": SOFT}, dirichlet=[Dirichlet("left", 0.0, components=1)])._fixed.size > 0


@pytest.mark.parametrize("steps", [np.nan, np.inf, -np.inf, True, [0.5, np.nan, 1.0], [[0.5, 1.0]]])
def test_non_finite_or_malformed_steps_are_refused_before_any_work(steps):
    """NaN and infinite step counts or load factors: a ValueError naming them, before the material
    points are asked anything (a law that fails when asked proves it)."""
    problem = Problem(bar(nx=2, ny=1, length=2.0), {"bar": FailsOnce(limit=-1.0)}, dirichlet=[Dirichlet("left", 0.0)])
    with pytest.raises(ValueError, match="steps must be a positive whole number|a load schedule must"):
        problem.solve(steps)
    assert not problem.body.materials["bar"].failed


@pytest.mark.parametrize("setting,match", [
    (dict(tol=np.nan), "tol must be a positive finite number, got tol=nan"),
    (dict(tol=0.0), "tol must be a positive finite number"),
    (dict(max_iterations=0), "max_iterations must be a whole number >= 1, got max_iterations=0"),
    (dict(max_iterations=2.5), "max_iterations must be a whole number"),
    (dict(max_cutbacks=-1), "max_cutbacks must be a whole number >= 0"),
    (dict(min_increment=np.inf), "min_increment must be a number in \\(0, 1\\]"),
])
def test_bad_solver_settings_are_refused(setting, match):
    problem = Problem(bar(nx=2, ny=1, length=2.0), {"bar": FailsOnce(limit=-1.0)}, dirichlet=[Dirichlet("left", 0.0)])
    with pytest.raises(ValueError, match=match):
        problem.solve(1, **setting)
    with pytest.raises(TypeError, match="callback must be a function"):
        problem.solve(1, callback="writer")
    assert not problem.body.materials["bar"].failed


@pytest.mark.parametrize("make,match", [
    (lambda: Traction("right", [np.nan, 0.0]), r"Traction on 'right': the value must be finite, got \[nan, 0.0\]"),
    (lambda: Traction("right", np.inf), r"Traction on 'right': the value must be finite, got inf"),
    (lambda: Dirichlet("right", np.nan, components=(0,)), r"Dirichlet on 'right': the value must be finite, got nan"),
    (lambda: Dirichlet("right", 0.0, components=("x",)), "components must be component numbers"),
    (lambda: Dirichlet(0, 0.0), "the boundary is named by a string"),
    (lambda: Problem(bar(), {"bar": SOFT}, dirichlet=[Dirichlet("left", 0.0)], body_force=[0.0, np.nan]),
     r"body force must be finite, got \[0.0, nan\]"),
])
def test_non_finite_loads_are_refused_when_made(make, match):
    """A NaN or infinite traction, Dirichlet value or body force is refused where it is given,
    not after six cut-backs of a non-finite residual."""
    with pytest.raises(ValueError, match=match):
        make()


def conducting_bar():
    """A conducting bar whose points are cells of a stiffening conductor (k = k0 (1 + (|g|/g0)^2)^2)
    around a linear inclusion, held at T = 0 on the left and heated through the right end."""
    cell = fe2.Cell(fe2.geometry.inclusion(0.3, h=0.25),
                    {"matrix": fe2.NonlinearConductor(k0=1.0, g0=0.1, m=5.0), "inclusion": fe2.Conductor(5.0)})
    return cell, lambda law: Problem(bar(nx=4, ny=1), {"bar": law}, dirichlet=[Dirichlet("left", 0.0)],
                                     neumann=[Traction("right", 10.0)])


def test_line_search_converges_where_plain_newton_stalls(caplog):
    """FE² with stiffening cells under a large heat flux in one step: the full Newton correction
    overshoots (plain Newton stalls near |r| = 1 for 12 iterations, then cuts the step back three
    times); the line search damps the first correction and converges in the one step, quadratically
    at the end. The cell histories of the rejected trials are never committed: with the histories
    kept on (in-process) workers, the run is the same to the last bit."""
    cell, problem = conducting_bar()
    caplog.set_level(logging.INFO, logger="fe2")
    steps = problem(fe2.RVELaw(cell)).solve(1)
    assert [(s.load, s.cutbacks) for s in steps] == [(1.0, 0)]
    residuals = np.array(steps[0].residuals)
    assert len(residuals) - 1 <= 8 and residuals[-1] <= 1e-8
    damped = [float(m) for m in re.findall(r"line search step ([\d.e-]+)", caplog.text)]
    assert damped and all(0 < s < 1 for s in damped), caplog.text
    assert "cutting the increment" not in caplog.text
    tail = [(a, b) for a, b in zip(residuals[:-1], residuals[1:]) if a < 1e-2 and b > 1e-14]
    assert tail and all(b <= 20 * a**2 for a, b in tail), residuals
    on_workers = problem(fe2.RVELaw(cell, executor=fe2.parallel.Serial())).solve(1)
    np.testing.assert_array_equal(on_workers[0].field, steps[0].field)
    assert on_workers[0].residuals == steps[0].residuals


def test_line_search_with_plastic_cells_commits_only_the_converged_histories(caplog):
    """J2 cells whose micro Newton is allowed few iterations: full macro corrections make some cells
    fail, and the line search shortens them. The plastic strains of the committed histories are
    those of the run with histories held on workers (which keep one trial version only)."""
    cell = fe2.Cell(fe2.geometry.inclusion(0.3, h=0.3), {"matrix": J2, "inclusion": fe2.Isotropic(400.0, 0.2)})
    caplog.set_level(logging.INFO, logger="fe2")
    runs = []
    for executor in (None, fe2.parallel.Serial()):
        law = fe2.RVELaw(cell, max_iterations=4, executor=executor)
        problem = tension(bar(nx=3, ny=1, length=3.0), law, pull=0.012)
        steps = problem.solve(1)
        assert "line search step" in caplog.text
        caplog.clear()
        runs.append((steps, np.array([h["micro"]["matrix"]["p"] for h in law.histories(problem.states["bar"]).ravel()])))
    (steps, p), (steps_on_workers, p_on_workers) = runs
    assert steps[-1].load == 1.0 and p.max() > 0
    np.testing.assert_array_equal(p, p_on_workers)
    np.testing.assert_array_equal(steps[-1].field, steps_on_workers[-1].field)
    assert [s.load for s in steps] == [s.load for s in steps_on_workers]


def test_leaving_the_small_strain_range_warns_once():
    """A bar pulled to 30 % in three steps: the range |eps| <= 0.1 is left in the second step, and
    that step warns, naming the size and the point; the third (already beyond) does not warn again.
    Conduction has no such range."""
    problem = tension(bar(nx=2, ny=1, length=2.0), SOFT, pull=0.6)
    with pytest.warns(fe2.materials.law.StrainRangeWarning) as caught:
        problem.solve([0.1, 0.5, 1.0])
    assert len(caught) == 1
    message = str(caught[0].message)
    assert re.search(r"leaves the small-strain range at load 0.5: \|eps\| = 0\.1\d+ > 0.1 at element \d+ \(centre "
                     r"\[[\d., ]+\]\), quadrature point 0, phase 'bar' \(Isotropic\(E=1, nu=0.3\)\)", message), message
    assert caught[0].filename == __file__                  # attributed to the line that called solve
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tension(bar(nx=2, ny=1, length=2.0), SOFT, pull=0.1).solve(1)                       # 5 %: silent
        Problem(bar(nx=2, ny=1, length=2.0), {"bar": fe2.Conductor(1.0)},
                dirichlet=[Dirichlet("left", 0.0), Dirichlet("right", 5.0)]).solve(1)     # a gradient of 2.5: silent
