"""Time in two-scale problems: the Prony (generalized Maxwell) law, transient conduction by DNS and
FE² against the homogenized solution, the memory of a viscoelastic cell fitted as a macro law,
rollback, restart and executors in time, and bad input."""

import runpy
from pathlib import Path

import numpy as np
import pytest
import skfem

import fe2
from fe2 import parallel
from fe2.cell.nonlinear import solve
from fe2.io.checkpoint import CheckpointError
from fe2.macro import Dirichlet, Traction
from fe2.macro.memory import fit_prony, relaxation
from fe2.macro.transient import TimeStepError, Transient, averaged_capacity, divided_difference
from fe2.materials.viscoelastic import Prony, advance

CASES = Path(__file__).resolve().parent.parent / "cases"

# the transient laminate: layers across the heat flow, k = 1 | 4, rho c = 1 | 3 (fractions 1/2)
K, RHO_C = {"a": 1.0, "b": 4.0}, {"a": 1.0, "b": 3.0}
A_STAR = 1 / (0.5 / K["a"] + 0.5 / K["b"])          # harmonic mean across the layers: 1.6
C_BAR = 0.5 * (RHO_C["a"] + RHO_C["b"])             # averaged capacity: 2
T_END = 0.1


def homogenized(x, t):
    """exp(-pi^2 a* t / c) sin(pi x): the homogenized solution of the laminate problem."""
    return np.exp(-np.pi**2 * A_STAR * t / C_BAR) * np.sin(np.pi * x)


def layers(n_cells, per_cell, height=0.05):
    """A strip [0, 1] x [0, height] of n_cells periods of the laminate (layers normal to x), quads."""
    x = np.linspace(0, 1, n_cells * per_cell + 1)
    mesh = skfem.MeshQuad.init_tensor(x, np.array([0.0, height])).with_defaults()
    return mesh.with_subdomains({"a": lambda p: (p[0] * n_cells) % 1 < 0.5, "b": lambda p: (p[0] * n_cells) % 1 > 0.5})


def square_cell(n=4, particle=("particle",)):
    """A structured n x n quad cell with a centred square particle of half the side."""
    x = np.linspace(0, 1, n + 1)
    inside = lambda p: np.all(np.abs(p - 0.5) < 0.25, axis=0)   # noqa: E731
    return skfem.MeshQuad.init_tensor(x, x).with_subdomains({"matrix": lambda p: ~inside(p), particle[0]: inside})


def heat(mesh, materials, capacity, **kw):
    return Transient(mesh, materials, capacity=capacity, dirichlet=[Dirichlet("left", 0.0), Dirichlet("right", 0.0)],
                     initial=lambda x: np.sin(np.pi * x[0]), **kw)


# --- the Prony law ---------------------------------------------------------------------------------
MATRIX = Prony.isotropic(E=1.0, nu=0.3, weights=[2.0], times=[1.0])
STIFF = Prony.isotropic(E=3.0, nu=0.25, weights=[1.0], times=[5.0])


def series_relaxation(phases, fractions, t):
    """The exact relaxation modulus across the layers: M*(s) = 1 / sum f_i / M_i(s) in the Carson
    domain, M_i(s) = M_inf + sum_k M_k s / (s + 1/tau_k) of each phase's P-wave modulus lambda + 2 mu;
    M*(t) = N(0)/D(0) + sum over the roots r of D of N(r) / (r D'(r)) exp(r t)."""
    P = np.polynomial.Polynomial
    A, B = [], []
    for law in phases:
        M_inf, M_k = law.long_term[0, 0], law.stiffnesses[:, 0, 0]
        alphas = 1 / law.times
        B.append(np.prod([P([a, 1]) for a in alphas]) if alphas.size else P([1]))
        A.append(M_inf * B[-1] + sum(m * P([0, 1]) * np.prod([P([b, 1]) for b in np.delete(alphas, k)] or [P([1])])
                                     for k, m in enumerate(M_k)))
    N = np.prod(A)
    D = sum(f * B[i] * np.prod([A[j] for j in range(len(A)) if j != i]) for i, f in enumerate(fractions))
    roots = D.roots().real
    return N(0) / D(0) + sum(N(r) / (r * D.deriv()(r)) * np.exp(r * t) for r in roots), roots


def test_viscoelastic_laminate_matches_the_exact_series_relaxation_at_second_order():
    """A two-phase Prony laminate loaded across its layers (periodic cell): <sigma_xx>(t) / eps_xx is the
    series combination of the phases' relaxation moduli, a sum of two exponentials; the cell's
    response matches it at several times, with an error falling like dt^2 (the recursive update is exact
    for a strain linear in each step; the micro strains redistribute within it)."""
    mesh = layers(1, 4, height=0.25)
    cell = fe2.Cell(mesh, {"a": MATRIX, "b": STIFF})
    errors = []
    for steps in (20, 40):
        times = np.linspace(0, 4.0, steps + 1)
        G = relaxation(cell, times)[:, 0, 0]
        exact, roots = series_relaxation([MATRIX, STIFF], [0.5, 0.5], times)
        assert roots.size == 2 and np.all(roots < 0)                            # two relaxation times
        errors.append(np.abs(G / exact - 1).max())
    assert abs(G[0] / exact[0] - 1) < 1e-12                                     # the glassy (harmonic) response
    assert exact[0] / exact[-1] > 1.8                                          # it really relaxes
    assert errors[1] < 1e-4, errors
    assert 3.5 < errors[0] / errors[1] < 4.5, errors                            # second order in dt


@pytest.mark.parametrize("dim", [2, 3])
def test_prony_tangent_is_the_derivative_and_the_state_is_not_modified(dim):
    n = 3 if dim == 2 else 6
    rng = np.random.default_rng(1)
    law = Prony.isotropic(E=2.0, nu=0.3, weights=[1.0, 0.5], times=[0.3, 4.0])
    eps0, eps = 1e-3 * rng.standard_normal((5, n)), 1e-3 * rng.standard_normal((5, n))
    history = law.response(eps0, law.advance(law.initial_state(5), 0.0))[2]
    state = law.advance(history, 0.7)
    frozen = {key: np.copy(value) for key, value in state.items()}
    stress, tangent, new = law.response(eps, state)
    h = 1e-6
    fd = np.stack([(law.response(eps + h * e, state)[0] - law.response(eps - h * e, state)[0]) / (2 * h)
                   for e in np.eye(n)], axis=-1)
    np.testing.assert_allclose(tangent, fd, rtol=1e-9, atol=1e-12)
    for key, value in frozen.items():
        np.testing.assert_array_equal(state[key], value)
    # held strain: the internal variables decay exactly by exp(-dt/tau) whatever the step
    held = law.response(eps, law.advance(new, 2.5))[2]
    np.testing.assert_allclose(held["viscous"], new["viscous"] * np.exp(-2.5 / law.times)[:, None], rtol=1e-14)


@pytest.mark.parametrize("bc", ["periodic", "kubc", "subc"])
def test_viscoelastic_cell_tangent_and_hill_mandel_under_each_condition(bc):
    """A particle cell with a Prony matrix, loaded, then held over a step: the cell's tangent is the
    derivative of the averaged stress (central differences) and Hill-Mandel holds."""
    cell = fe2.Cell(square_cell(), {"matrix": MATRIX, "particle": fe2.Isotropic(20.0, 0.2)})
    E = np.array([1e-3, -4e-4, 3e-4])
    first = solve(cell, E, bc, advance(cell.materials, None, 0.0))
    history = advance(cell.materials, first.state, 0.4)
    base = solve(cell, 1.2 * E, bc, history, tol=1e-12)
    h = 1e-7
    fd = np.column_stack([(solve(cell, 1.2 * E + h * e, bc, history, tol=1e-12).stress
                           - solve(cell, 1.2 * E - h * e, bc, history, tol=1e-12).stress) / (2 * h) for e in np.eye(3)])
    np.testing.assert_allclose(base.tangent, fd, rtol=1e-6, atol=1e-6 * np.abs(fd).max())
    assert base.hill_mandel < 1e-10
    assert np.linalg.eigvalsh(cell.linearize().bind(bc).tangent() - base.tangent).min() > 0  # relaxed below glassy


def test_viscoelastic_cells_keep_huet_order_in_time():
    cell = fe2.Cell(square_cell(), {"matrix": MATRIX, "particle": fe2.Isotropic(20.0, 0.2)})
    held = {bc: relaxation(cell, [0.0, 0.5, 3.0], bc) for bc in ("subc", "periodic", "kubc")}
    for lower, upper in (("subc", "periodic"), ("periodic", "kubc")):
        gaps = [np.linalg.eigvalsh(held[upper][j] - held[lower][j]).min() for j in range(3)]
        assert min(gaps) > -1e-10, (lower, upper, gaps)


# --- transient conduction: DNS and FE² against the homogenized solution ------------------------------
def test_dns_of_the_transient_laminate_converges_at_first_order_in_eps():
    """Fully resolved laminates of 4, 8, 16 periods: max over x of |T_DNS - T_hom| at t_end ~ eps."""
    errors = []
    for n in (4, 8, 16):
        problem = heat(layers(n, 8), {name: fe2.Conductor(k) for name, k in K.items()}, RHO_C)
        run = problem.solve(T_END, T_END / 40, scheme="bdf2", newton_tol=1e-10)
        x = problem.body.doflocs[0]
        errors.append(np.abs(run.fields[-1] - homogenized(x, T_END)).max())
    rate = np.polyfit(np.log([1 / 4, 1 / 8, 1 / 16]), np.log(errors), 1)[0]
    assert np.all(np.diff(errors) < 0) and 0.85 < rate < 1.15, (errors, rate)


def fe2_heat(order=2, elements=16):
    cell = fe2.Cell(layers(1, 8, height=1.0), {name: fe2.Conductor(k) for name, k in K.items()})
    mesh = skfem.MeshQuad.init_tensor(np.linspace(0, 1, elements + 1), np.array([0.0, 0.05])).with_defaults()
    return heat(mesh, fe2.RVELaw(cell), {"all": RHO_C}, order=order)


def test_fe2_with_nonlinear_cells_converges_to_the_dns_at_first_order_in_eps():
    """The laminate strip with a nonlinear conducting layer (k = (1 + |g|^2), the other k = 4): transient
    FE² (a cell solve at every point and Newton iteration) against the DNS of 4, 8, 16 periods on the
    same steps: max over the DNS nodes of |T_DNS - T_FE2| at t_end ~ eps."""
    conductors = {"a": fe2.NonlinearConductor(1.0, g0=1.0, m=3.0), "b": fe2.Conductor(K["b"])}
    strip = skfem.MeshTri.init_tensor(np.linspace(0, 1, 17), np.array([0.0, 0.05])).with_defaults()
    macro = heat(strip, fe2.RVELaw(fe2.Cell(layers(1, 4, height=1.0), conductors)), {"all": RHO_C})
    run = macro.solve(T_END, T_END / 3)
    assert min(len(s.residuals) for s in run.steps[1:]) > 2                    # Newton on a nonlinear problem
    errors = []
    for n in (4, 8, 16):
        dns = heat(layers(n, 4), conductors, RHO_C)
        probe = macro.body.basis.probes(dns.body.doflocs)
        errors.append(np.abs(dns.solve(T_END, T_END / 3).fields[-1] - probe @ run.fields[-1]).max())
    rate = np.polyfit(np.log([1 / 4, 1 / 8, 1 / 16]), np.log(errors), 1)[0]
    assert 0.85 < rate < 1.15, (errors, rate)


def discrete_amplitude(scheme, steps):
    """The homogenized mode's amplitude after ``steps`` equal steps of the scheme (BDF2 started by BE):
    (a_{n+1} - a_n)/dt = -lam a_{n+1}, or (3/2 a_{n+1} - 2 a_n + 1/2 a_{n-1})/dt = -lam a_{n+1}."""
    z = np.pi**2 * A_STAR / C_BAR * T_END / steps
    a = [1.0, 1 / (1 + z)]
    for _ in range(steps - 1):
        a.append(a[-1] / (1 + z) if scheme == "be" else (2 * a[-1] - 0.5 * a[-2]) / (1.5 + z))
    return a[-1]


@pytest.mark.parametrize("scheme, order", [("be", 1), ("bdf2", 2)])
def test_fe2_reproduces_the_homogenized_solution_up_to_the_time_error_at_the_scheme_order(scheme, order):
    """FE² of the laminate strip (P2 macro mesh) is the homogenized solution advanced by the scheme, to
    the spatial error (< 1e-6); its error against exp(-pi^2 a* t / c) sin(pi x) falls at the scheme's order."""
    problem = fe2_heat()
    assert problem.capacity == {"all": pytest.approx(C_BAR, rel=1e-14)}
    x = problem.body.doflocs[0]
    errors = []
    for steps in (5, 10, 20, 40):
        run = problem.solve(T_END, T_END / steps, scheme=scheme, newton_tol=1e-12)
        errors.append(np.abs(run.fields[-1] - homogenized(x, T_END)).max())
        assert np.abs(run.fields[-1] - discrete_amplitude(scheme, steps) * np.sin(np.pi * x)).max() < 1e-6
    rates = np.log2(np.array(errors[:-1]) / errors[1:])
    assert np.all(np.abs(rates - order) < 0.15), (errors, rates)


def test_adaptive_steps_follow_the_tolerance_and_refuse_what_they_cannot_reach():
    """Error per step below tol: the global error goes like tol^(p/(p+1)) (BDF2: 2/3, BE: 1/2); a
    tolerance out of reach is refused with the time reached."""
    problem = fe2_heat()
    x = problem.body.doflocs[0]
    slopes = {}
    for scheme, tols in (("bdf2", [1e-4, 1e-5, 1e-6]), ("be", [1e-3, 1e-4])):
        errors, counts = [], []
        for tol in tols:
            run = problem.solve(T_END, 1e-4, scheme=scheme, tol=tol, newton_tol=1e-12)
            assert run.times[-1] == T_END and all(s.error <= 1 for s in run.steps[1:] if s.error is not None)
            errors.append(np.abs(run.fields[-1] - homogenized(x, T_END)).max())
            counts.append(len(run.steps))
        slopes[scheme] = np.polyfit(np.log(tols), np.log(errors), 1)[0]
        assert np.all(np.diff(counts) > 0), counts
    assert abs(slopes["bdf2"] - 2 / 3) < 0.1 and abs(slopes["be"] - 1 / 2) < 0.1, slopes
    dts = [s.dt for s in run.steps[1:]]
    assert dts[-2] > 10 * dts[0], dts                                                 # the steps grew
    with pytest.raises(TimeStepError, match=r"cannot reach tol = 1e-14.*the time reached is t = ") as failure:
        problem.solve(T_END, 1e-3, tol=1e-14, dt_min=1e-4)
    assert 0 <= failure.value.time < T_END


def test_divided_difference_of_a_cubic_with_a_doubled_node():
    t = np.array([0.0, 0.3, 0.5, 1.2])
    u = lambda s: 2 * s**3 - s + 1                                   # noqa: E731 - [.,.,.,.] u = 2
    assert divided_difference(t, u(t)) == pytest.approx(2.0, rel=1e-12)
    assert divided_difference(t[:3], u(t[:3]), rate=-1.0) == pytest.approx(2.0, rel=1e-12)


def test_cells_in_time_agree_on_executors_and_restart_exactly(tmp_path, viscoelastic_cell):
    """Quasi-static FE² with viscoelastic cells in time (the step sent to the workers with the strains):
    serial and two worker processes agree to 1e-12. Transient FE² with nonlinear conducting cells: a run
    killed after step 3 and restarted from its checkpoint ends bit for bit as the uninterrupted one."""
    cell = fe2.Cell(layers(1, 4, height=1.0), {"a": fe2.NonlinearConductor(1.0, g0=0.5, m=3.0),
                                               "b": fe2.Conductor(4.0)})
    mesh = skfem.MeshTri.init_tensor(np.linspace(0, 1, 3), np.array([0.0, 0.25])).with_defaults()

    def run(steps=4, **kw):
        problem = heat(mesh, fe2.RVELaw(cell), {"all": RHO_C})
        return problem.solve(T_END, T_END / steps, newton_tol=1e-11, **kw)

    serial = run()
    assert max(len(s.residuals) for s in serial.steps) > 3                    # really nonlinear
    creep = dict(times=[0.1, 0.4, 1.5])
    with parallel.Processes(2) as ex:   # each law places its own workers: one law here, so that they start once
        viscous = plate(fe2.RVELaw(viscoelastic_cell, executor=ex)).solve(**creep)
    serial_creep = plate(fe2.RVELaw(viscoelastic_cell)).solve(**creep).fields
    assert serial_creep[-1].max() > 1.2 * serial_creep[1].max()                   # it creeps
    np.testing.assert_allclose(viscous.fields, serial_creep, rtol=0, atol=1e-12 * np.abs(serial_creep).max())

    class Killed(Exception):
        pass

    def kill(step, *args):
        if step.number == 4:
            raise Killed

    checkpoint = tmp_path / "checkpoint.npz"
    with pytest.raises(Killed):
        run(callback=kill, checkpoint=checkpoint)           # the checkpoint holds step 3
    rest = run(checkpoint=checkpoint, restart=True)
    assert [s.number for s in rest.steps] == [4, 5]
    np.testing.assert_array_equal(rest.fields, serial.fields[3:])
    with pytest.raises(CheckpointError, match="run is finished"):
        run(checkpoint=checkpoint, restart=True)
    with pytest.raises(CheckpointError, match="differs"):
        run(steps=8, checkpoint=checkpoint, restart=True)


# --- viscoelastic FE² in time and the fitted memory ----------------------------------------------------
def plate(law, **kw):
    """The unit square, two triangles (one point each), pulled by a traction on the right."""
    mesh = skfem.MeshTri.init_tensor(np.linspace(0, 1, 2), np.linspace(0, 1, 2)).with_defaults()
    return Transient(mesh, law, dirichlet=[Dirichlet("left", 0.0, components=(0,)),
                                           Dirichlet("bottom", 0.0, components=(1,))],
                     neumann=[Traction("right", [1e-3, 0.0])], **kw)


@pytest.fixture(scope="module")
def viscoelastic_cell():
    return fe2.Cell(square_cell(), {"matrix": Prony.isotropic(E=1.0, nu=0.3, weights=[2.0, 1.0], times=[0.2, 2.0]),
                                    "particle": fe2.Isotropic(20.0, 0.2)})


def test_fitted_memory_reproduces_the_cell_and_fe2_on_another_load_path(viscoelastic_cell):
    """Relaxation of the cell (step strains) fitted by a Prony series on chosen time constants; the macro
    law reproduces FE² in creep under a traction ramped then held (another load path)."""
    times = np.concatenate([[0.0], np.geomspace(1e-2, 20.0, 30)])
    G = relaxation(viscoelastic_cell, times, substeps=2)
    fit = fit_prony(times, G, tau=np.geomspace(0.02, 20.0, 10))               # three per decade
    assert fit.error < 5e-3, fit.errors
    assert all(np.linalg.eigvalsh(C).min() >= -1e-12 for C in fit.law.stiffnesses)   # positive weights
    ramp = lambda t: min(t / 0.5, 1.0)                                                # noqa: E731
    schedule = np.concatenate([np.linspace(0.05, 0.5, 10), np.geomspace(0.6, 10.0, 16)])
    fe2_run = plate(fe2.RVELaw(viscoelastic_cell), load=ramp).solve(times=schedule)
    macro_run = plate(fit.law, load=ramp).solve(times=schedule)
    creep = fe2_run.fields[:, :].max(axis=1)
    difference = np.abs(macro_run.fields - fe2_run.fields).max(axis=1) / np.abs(fe2_run.fields).max(axis=1).clip(1e-300)
    assert creep[-1] > 1.8 * creep[10], creep                                       # it creeps
    assert difference[1:].max() < 1e-2, difference


def test_rejected_steps_roll_back_to_the_committed_histories_exactly(viscoelastic_cell):
    """An adaptive creep run with rejected steps ends as a run scheduled through its accepted times."""
    problem = plate(fe2.RVELaw(viscoelastic_cell))
    adaptive = problem.solve(4.0, 0.5, tol=2e-3)
    assert sum(s.rejected for s in adaptive.steps) > 0
    replay = problem.solve(times=adaptive.times[1:])
    np.testing.assert_array_equal(replay.fields, adaptive.fields)


# --- bad input ---------------------------------------------------------------------------------------
def test_bad_input_is_refused_before_any_work():
    conductors = {name: fe2.Conductor(k) for name, k in K.items()}
    mesh = layers(2, 2)
    with pytest.raises(ValueError, match=r"capacity of phase 'b' must be a positive finite number, got 0.0"):
        heat(mesh, conductors, {"a": 1.0, "b": 0.0})
    with pytest.raises(ValueError, match=r"capacity rho c must be a positive finite number, got -1"):
        heat(mesh, conductors, -1)
    cell = fe2.Cell(layers(1, 2, height=1.0), conductors)
    with pytest.raises(ValueError, match=r"capacity of cell phase 'a' must be a positive"):
        averaged_capacity(cell, {"a": -2.0, "b": 1.0})
    assert averaged_capacity(cell, RHO_C) == pytest.approx(C_BAR)
    problem = heat(mesh, conductors, RHO_C)
    with pytest.raises(ValueError, match=r"the time step dt must be a positive finite number, got 0"):
        problem.solve(1.0, 0)
    with pytest.raises(ValueError, match=r"the end time t_end must be a positive finite number, got -1.0"):
        problem.solve(-1.0, 0.1)
    with pytest.raises(ValueError, match="scheme must be one of 'be', 'bdf2'"):
        problem.solve(1.0, 0.1, scheme="rk4")
    with pytest.raises(ValueError, match=r"times must increase"):
        problem.solve(times=[0.1, 0.1])
    with pytest.raises(ValueError, match=r"capacity \(rho c\) is for heat conduction"):
        plate(fe2.Isotropic(1.0, 0.3), capacity=1.0)
    with pytest.raises(ValueError, match=r"Prony weight 1 must be non-negative, got w=-0.5"):
        Prony.isotropic(1.0, 0.3, weights=[1.0, -0.5], times=[1.0, 2.0])
    with pytest.raises(ValueError, match=r"Prony time constant 0 must be positive, got tau=0"):
        Prony.isotropic(1.0, 0.3, weights=[1.0], times=[0.0])
    C = fe2.Isotropic(1.0, 0.3).tensor(2)
    with pytest.raises(ValueError, match=r"branch 0 has a negative eigenvalue .*non-negative weights"):
        Prony(C, [(-0.5 * C, 1.0)])
    with pytest.raises(ValueError, match=r"time constant of Prony branch 0 tau must be positive, got tau=-1.0"):
        Prony(C, [(C, -1.0)])
    with pytest.raises(ValueError, match=r"the time step dt must be a finite number >= 0, got dt=-0.1"):
        MATRIX.advance(None, -0.1)


# --- the cases, at a reduced size ------------------------------------------------------------------------
def run_case(name, *args):
    return runpy.run_path(str(CASES / name), run_name="case")["main"](list(args))


def test_case_transient_heating(tmp_path):
    from test_cases import assert_picture
    errors, rate = run_case("transient_heating.py", "--quick", "--out", str(tmp_path))
    assert np.all(np.diff(errors) < 0) and rate > 0.5, (errors, rate)
    series = fe2.io.read_pvd(tmp_path / "fe2" / "macro.pvd")       # the physical times: 0 and 8 steps to 0.1
    np.testing.assert_allclose([t for t, _, _ in series], np.linspace(0, 0.1, 9), rtol=0, atol=1e-15)
    assert_picture(tmp_path / "transient_heating.png")


def test_case_viscoelastic_plate(tmp_path):
    from test_cases import assert_picture
    fit, creep, relax = run_case("viscoelastic_plate.py", "--quick", "--out", str(tmp_path))
    assert fit.error < 1e-2 and creep < 2e-2 and relax < 2e-2, (fit.error, creep, relax)
    assert_picture(tmp_path / "viscoelastic_plate.png")
