"""The macro problem with analytic and cell-backed (FE²) material points."""

import io
import logging

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
    load = dict(traction=[0.3, 0.1])
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
    with pytest.raises(ValueError, match="Dirichlet on 'left': the values are not finite"):
        Problem(mesh, {"bar": SOFT}, dirichlet=[Dirichlet("left", [0.0, np.nan])])
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
    with pytest.raises(ValueError, match="traction on 'right' must be 2 number"):
        Problem(mesh, {"bar": SOFT}, dirichlet=[Dirichlet("left", 0.0)], neumann=[Traction("right", lambda x: x)])
    with pytest.raises(ValueError, match="must be fe2.macro.Dirichlet or Traction, got 'top'"):
        Problem(mesh, {"bar": SOFT}, dirichlet=[Dirichlet("left", 0.0)], neumann=["top"])
    assert Problem(mesh, {"bar": SOFT}, dirichlet=[Dirichlet("left", 0.0, components=1)])._fixed.size > 0
