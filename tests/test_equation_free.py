"""Patch dynamics (fe2.equation_free) against theory: lifting and restriction, the order of the
coupling, the consistency correction, homogenization in 1D and 2D, the order of projective
integration, the checks of scale ordering and healing, executors, output, and the cases."""

import functools
import runpy
import warnings
from pathlib import Path

import meshio
import numpy as np
import pytest
import scipy.linalg
import skfem

import fe2
from fe2.equation_free import (Diffusion, FineSimulation, HealingWarning, PatchDynamics, Patches, ScaleWarning,
                               consistency, lagrange_weights, minimal_lifting, output)
from postprocess.plots import rate

CASES = Path(__file__).resolve().parent.parent / "cases"
K = 2 * np.pi  # wavenumber of the initial field sin(2 pi x)


def constant(x):
    return np.ones(x.shape[1:])


def oscillating(x, eps):
    """a(x/eps) = 1/(2 + sin 2πy + cos(4πy)/2): harmonic mean 1/2, arithmetic mean larger; a(0) = 0.4."""
    y = x[0] / eps
    return 1 / (2 + np.sin(2 * np.pi * y) + 0.5 * np.cos(4 * np.pi * y))


def wave(x):
    return np.sin(K * x[0])


def source(x):
    return np.cos(2 * K * x[0])


def quiet(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (ScaleWarning, HealingWarning))
        return function(*args, **kwargs)


def discrete_harmonic_mean(a, eps, dx):
    """The effective coefficient of the P1 fine model in 1D: the harmonic mean over a period of the
    element means of a (the stiffness of a segment is ∫a / dx²), element means by 5-point Gauss."""
    points, weights = np.polynomial.legendre.leggauss(5)
    centres = (np.arange(int(round(eps / dx))) + 0.5) * dx
    means = (a(np.array([centres[:, None] + dx / 2 * points])) * weights).sum(axis=1) / 2
    return 1 / np.mean(1 / means)


# --- lifting and restriction -----------------------------------------------------------------------
@pytest.mark.parametrize("dim", [1, 2])
def test_restriction_of_the_lifting_is_the_identity(dim):
    """R(L(U)) = U to round-off for every coupling and reading of the data, in 1D and 2D."""
    count = 9 if dim == 1 else (7, 8)
    patches = Patches(1.0, count, core=0.02, buffer=0.02, dx=0.005)
    U = np.random.default_rng(1).normal(size=patches.n_patches)
    for order in (2, 4, 6, "spectral"):
        for data in ("average", "corrected", "point"):
            scheme = PatchDynamics(Diffusion(constant), patches, order=order, data=data, dt=1e-6, steps=1)
            assert np.abs(scheme.restrict(scheme.lift(U)) - U).max() < 1e-13, (order, data)


def test_minimal_lifting():
    """The minimal polynomial: zero slope at the patch edges, R(L(U)) = U to round-off, and its
    gradient and curvature are those of the data (exact for a quadratic)."""
    patches = Patches(1.0, 10, core=0.02, buffer=0.02, dx=0.002)
    scheme = PatchDynamics(Diffusion(constant), patches, order=2, data="point", lifting="minimal", dt=1e-6, steps=1)
    x = patches.centres[:, 0]
    U = 3 + 2 * x - 5 * x**2
    fields = scheme.lift(U)
    assert np.abs(scheme.restrict(fields) - U).max() < 1e-14
    fine = np.linspace(-1, 1, 20001)                                           # du/ds(±ℓ) = 0, ℓ = 1
    trapezoid = np.full(fine.size, 1.0); trapezoid[[0, -1]] = 0.5
    u = minimal_lifting([0.0], [1.0], [3.0], fine, 1.0, trapezoid / trapezoid.sum())[0]
    assert abs(u[1] - u[0]) / 1e-4 < 1e-3 and abs(u[-1] - u[-2]) / 1e-4 < 1e-3
    assert np.abs(np.diff(u) / 1e-4).max() > 1
    s = patches.offsets[:, 0]
    direct = minimal_lifting(U, 2 - 10 * x, np.full_like(x, -10.0), s, patches.width / 2, scheme.weights)
    assert np.abs(direct - fields)[1:-1].max() < 1e-9                          # interior patches (no periodic wrap)


def test_lagrange_and_consistency_are_exact_on_polynomials():
    """Weights reproduce polynomials of their degree, for point data and for box averages; the
    consistency correction converts averages of a quadratic exactly."""
    stencil = np.arange(-3, 4)
    s = np.linspace(-0.4, 0.4, 9)
    p = np.polynomial.Polynomial([0.3, -1, 2, 0.5, -0.7, 0.2, 0.1])
    H, h = 0.1, 0.03
    values = p(stencil * H)
    averages = np.array([p.integ()(x + h / 2) - p.integ()(x - h / 2) for x in stencil * H]) / h
    for k in (0, 1, 2):
        exact = p.deriv(k)(s * H)
        assert np.allclose(lagrange_weights(stencil, s * H, H, derivative=k) @ values, exact, atol=1e-9)
        assert np.allclose(lagrange_weights(stencil, s * H, H, derivative=k, box=h) @ averages, exact, atol=1e-9)
    x = (np.arange(16) + 0.5) / 16
    quadratic = 1 + x - x**2
    assert np.allclose(consistency(quadratic - h**2 / 12, [1 / 16], h, 0.0)[1:-1], quadratic[1:-1], atol=1e-14)


# --- the order of the coupling, and the consistency correction ---------------------------------------
def coupling_errors(order, data, counts, dx=1 / 5120, dt=1e-7, steps=4):
    """The relative error of the patch scheme's coarse time derivative against the full fine
    simulation's over the same burst (same mesh size, time step and P1 discretization), for sin 2πx."""
    errors = []
    for N in counts:
        patches = Patches(1.0, N, core=0.25 / N, buffer=0.25 / N, dx=dx)
        scheme = PatchDynamics(Diffusion(constant), patches, order=order, data=data, dt=dt, steps=steps)
        F = scheme.derivative(scheme.initial(wave))
        fine = FineSimulation(Diffusion(constant), patches, dt=dt)
        u = fine.interpolate(wave)
        reference = (fine.core_averages(fine.run(u, steps * dt)) - fine.core_averages(u)) / (steps * dt)
        errors.append(np.abs(F - reference).max() / np.abs(reference).max())
    return np.array(errors)


@pytest.mark.parametrize("order, counts", [(2, (8, 16, 32)), (4, (8, 16, 32)), (6, (8, 16))])
def test_constant_coefficient_converges_at_the_interpolation_order(order, counts):
    errors = coupling_errors(order, "average", counts)
    observed = rate(1 / np.array(counts), errors)
    assert abs(observed - order) < 0.2, (errors, observed)


def test_consistency_correction_restores_the_order():
    """Core averages read as point values lose O(h²): fourth-order coupling falls to second order.
    The gap-tooth correction V = U - h²/24 Δ_H U restores fourth order."""
    counts = (8, 16, 32, 64)
    point = coupling_errors(4, "point", counts)
    corrected = coupling_errors(4, "corrected", counts[:3])
    assert abs(np.log2(point[-2] / point[-1]) - 2) < 0.35, point           # second order, asymptotically
    assert abs(rate(1 / np.array(counts[:3]), corrected) - 4) < 0.2, corrected
    assert point[2] > 5 * corrected[2]


# --- homogenization ---------------------------------------------------------------------------------
def test_periodic_coefficient_converges_to_the_homogenized_solution():
    """1D, a(x/eps) with harmonic mean 1/2: the coarse solution at T converges at second order in H to
    the homogenized solution exp(-a* k² T) U0, with a* the harmonic mean of the fine model (P1,
    dx = eps/16: a*_h = 0.5027); the full fine simulation agrees with the same limit."""
    eps, T = 1 / 1024, 0.01
    a = functools.partial(oscillating, eps=eps)
    dx = eps / 16
    a_h = discrete_harmonic_mean(a, eps, dx)
    assert abs(a_h / 0.5 - 1) < 0.01
    errors, counts = [], (4, 8, 16, 32)
    for N in counts:
        patches = Patches(1.0, N, core=2 * eps, buffer=14 * eps, dx=dx)
        scheme = PatchDynamics(Diffusion(a, period=eps), patches, order=2, dt=eps**2 / 4, steps=24, window=20, theta=1.0)
        U0 = scheme.initial(wave)
        final = scheme.run(U0, T, 1e-3, method="rk4").final
        homogenized = U0 * np.exp(-a_h * K**2 * T)
        errors.append(np.abs(final - homogenized).max() / np.abs(homogenized).max())
    assert abs(rate(1 / np.array(counts), errors) - 2) < 0.25, errors
    assert errors[-1] < 1e-3
    fine = FineSimulation(Diffusion(a, period=eps), patches, dt=2.5e-5, theta=0.5)
    u = fine.interpolate(wave)
    reference = fine.core_averages(fine.run(u, T))
    assert np.abs(reference - fine.core_averages(u) * np.exp(-a_h * K**2 * T)).max() < 2e-4


def test_lifting_bias_is_second_order_in_eps_over_h_and_healing_removes_it():
    """The smooth lifting lacks the microscale corrector. Estimated over the whole burst, the coarse
    derivative is biased by O((eps/h)²) (a core of whole periods); estimated after a healing time,
    the bias drops to the estimator's own O(δt) level."""
    h, bias, healed = 1 / 128, [], []
    for ratio in (2, 4):
        eps = h / ratio
        a = functools.partial(oscillating, eps=eps)
        dx = h / 128
        patches = Patches(1.0, 16, core=h, buffer=2 * h, dx=dx)
        lam = -discrete_harmonic_mean(a, eps, dx) * K**2
        for heal, out in ((0, bias), (40, healed)):
            scheme = PatchDynamics(Diffusion(a, period=eps), patches, order=6, dt=1e-7, steps=40 + heal, window=40,
                                   theta=1.0)
            U = scheme.initial(wave)
            F = scheme.derivative(U)
            out.append(np.abs(F / (lam * U) - 1)[[1, 2, 3]].max())
    assert abs(np.log2(bias[0] / bias[1]) - 2) < 0.2, bias                  # O((eps/h)²)
    assert bias[0] > 0.01 and max(healed) < 3e-4, (bias, healed)


def cell_tensor(a, n):
    """The homogenized conductivity of the unit cell of a(y) on n x n quadrilaterals (as the patches
    mesh a period: the fine model's own tensor), by fe2.homogenize (periodic)."""
    y = np.linspace(0, 1, n + 1)
    cell = fe2.Cell(skfem.MeshQuad.init_tensor(y, y), fe2.Conductor(a))
    return fe2.homogenize(cell, "periodic").tensor


def checkerboard(x, eps):
    y0, y1 = x[0] / eps, x[1] / eps
    return 1 + 0.4 * np.sin(2 * np.pi * y0) * np.sin(2 * np.pi * y1) + 0.2 * np.cos(2 * np.pi * y0)


def test_two_dimensional_patches_give_the_cell_tensor():
    """2D, a(x/eps) genuinely two-dimensional: the coarse time derivative of sin 2πx sin 2πy tends at
    second order to that of the homogenized equation with the cell tensor A* of fe2.homogenize,
    -4π²(A*_xx + A*_yy) U (A*_xy = 0 here)."""
    A = cell_tensor(functools.partial(checkerboard, eps=1.0), 4)
    assert abs(A[0, 1]) < 1e-8 and A[0, 0] < 1.0                 # below the arithmetic mean 1
    eps = 1 / 256
    a = functools.partial(checkerboard, eps=eps)
    errors, counts = [], (4, 8)
    for N in counts:
        patches = Patches(1.0, (N, N), core=eps, buffer=2.5 * eps, dx=eps / 4, cells="quad")
        scheme = PatchDynamics(Diffusion(a, period=eps), patches, order=2, dt=eps**2 / 80, steps=12, window=10,
                               theta=1.0)
        U = scheme.initial(lambda x: np.sin(K * x[0]) * np.sin(K * x[1]))
        F = scheme.derivative(U)
        exact = -K**2 * (A[0, 0] + A[1, 1]) * U
        errors.append(np.abs(F - exact).max() / np.abs(exact).max())
    assert abs(np.log2(errors[0] / errors[1]) - 2) < 0.3, errors
    assert errors[1] < 0.07, errors


# --- projective integration ------------------------------------------------------------------------
def test_projective_integration_has_its_own_order_and_saves_bursts():
    """On the linear coarse ODE dU/dt = F(U) = A U + b of the patch scheme (A, b from N + 1 bursts),
    projective Euler, Heun and RK4 converge at orders 1, 2, 4 in ΔT to the exact flow; the run
    without projection (ΔT = δt) is that flow to O(δt) and takes ΔT/δt times more bursts (their
    wall times are measured in bench/patch_dynamics.py, not here)."""
    patches = Patches(1.0, 8, core=1 / 32, buffer=1 / 32, dx=1 / 1024)
    scheme = PatchDynamics(Diffusion(constant, source=source), patches, order=4, dt=1e-6, steps=4)
    U0 = scheme.initial(wave)
    b = scheme.derivative(np.zeros(8))
    A = np.column_stack([scheme.derivative(e) - b for e in np.eye(8)])
    T = 0.02
    flow = scipy.linalg.expm(T * np.block([[A, b[:, None]], [np.zeros((1, 9))]])) @ np.append(U0, 1.0)
    steps = np.array([T / 4, T / 8, T / 16])
    for method, order in (("euler", 1), ("rk2", 2), ("rk4", 4)):
        errors = [np.abs(scheme.run(U0, T, dT, method).final - flow[:8]).max() for dT in steps]
        assert abs(rate(steps, errors) - order) < 0.25, (method, errors)
    plain = scheme.run(U0, T / 10, scheme.burst_time)                      # no projection: 500 bursts
    projected = scheme.run(U0, T / 10, T / 40, "rk2")                      # 8 bursts
    short = scipy.linalg.expm(T / 10 * np.block([[A, b[:, None]], [np.zeros((1, 9))]])) @ np.append(U0, 1.0)
    assert np.abs(plain.final - short[:8]).max() < 1e-3 * np.abs(U0).max()
    assert plain.bursts == 500 and projected.bursts == 8        # the wall times: bench/patch_dynamics.py


# --- checks ------------------------------------------------------------------------------------------
def test_violated_scale_ordering_is_named():
    with pytest.warns(ScaleWarning, match=r"h << H fails: the patch width w = h \+ 2 L_b = 0.3 .* H = 0.25 \(w/H = 1.2\)"):
        PatchDynamics(Diffusion(constant), Patches(1.0, 4, core=0.1, buffer=0.1, dx=0.01), dt=1e-5, steps=2)
    with pytest.warns(ScaleWarning, match=r"l << h fails: the microscale l = 0.05 exceeds the core h = 0.02"):
        PatchDynamics(Diffusion(functools.partial(oscillating, eps=0.05), period=0.05),
                      Patches(1.0, 4, core=0.02, buffer=0.03, dx=0.005), dt=1e-4, steps=2)
    with pytest.warns(ScaleWarning, match=r"holds 2.5 periods"):
        PatchDynamics(Diffusion(functools.partial(oscillating, eps=0.008), period=0.008),
                      Patches(1.0, 4, core=0.02, buffer=0.02, dx=0.001), dt=1e-6, steps=5)
    with pytest.raises(ValueError, match="h << H fails"):
        PatchDynamics(Diffusion(constant), Patches(1.0, 4, core=0.1, buffer=0.1, dx=0.01), dt=1e-5, steps=2, strict=True)


def test_unhealed_run_is_detected_and_fails():
    """A buffer too thin for the burst: the healing condition is reported with its factor, and the
    coarse derivative is far off, while the healed run (same burst, wider buffer) is right."""
    dx, dt, steps = 1 / 2048, 2e-6, 50                             # sqrt(D δt) = 0.01
    results = {}
    for buffer in (4 * dx, 96 * dx):
        patches = Patches(1.0, 8, core=16 * dx, buffer=buffer, dx=dx)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            scheme = PatchDynamics(Diffusion(constant), patches, order=4, dt=dt, steps=steps)
        U = scheme.initial(wave)
        F = scheme.derivative(U)
        results[buffer] = (np.abs(F / (-K**2 * U) - 1).max(), [str(w.message) for w in caught], scheme.boundary_influence)
    bad, good = results[4 * dx], results[96 * dx]
    assert len(bad[1]) == 1 and "sqrt(D dt) < L_b fails: sqrt(1 x 0.0001) = 0.01 >= buffer L_b = 0.001953" in bad[1][0]
    assert "by a factor 5.12" in bad[1][0]
    assert not good[1] and good[2] < 1e-3 < bad[2]
    assert bad[0] > 0.2 and good[0] < 0.01, (bad[0], good[0])


def test_bad_input_is_refused_before_work():
    with pytest.raises(ValueError, match="not a whole number of fine elements"):
        Patches(1.0, 8, core=0.01, buffer=0.01, dx=0.003)
    patches = Patches(1.0, 4, core=0.02, buffer=0.02, dx=0.005)
    with pytest.raises(ValueError, match="needs 7 patches along axis 0, there are 4"):
        PatchDynamics(Diffusion(constant), patches, order=6, dt=1e-6, steps=2)
    with pytest.raises(ValueError, match="window must be"):
        PatchDynamics(Diffusion(constant), patches, dt=1e-6, steps=2, window=3)
    with pytest.raises(ValueError, match=r"conductivity must be positive and finite, but a = -1 at x = \[0.09556"):
        PatchDynamics(Diffusion(lambda x: -np.ones(x.shape[1:])), patches, dt=1e-6, steps=2)
    scheme = PatchDynamics(Diffusion(constant), patches, dt=1e-6, steps=2)
    with pytest.raises(ValueError, match="one value per patch"):
        scheme.derivative(np.zeros(5))
    with pytest.raises(ValueError, match="shorter than the burst"):
        scheme.step(np.zeros(4), 1e-7)


# --- nonlinear coefficient ---------------------------------------------------------------------------
def constant_in_u(x, u):
    return oscillating(x, 1 / 64) + 0 * u


def stiffening(x, u):
    return 0.5 * (1 + u**2)


def test_nonlinear_coefficient():
    """a(x, u): lagged (semi-implicit) steps. With an a that does not depend on u it reproduces the
    linear scheme; with a = (1 + u²)/2 the patch scheme tends to the full fine simulation at second
    order in H (same fine model, same steps)."""
    patches = Patches(1.0, 8, core=1 / 64, buffer=3 / 64, dx=1 / 1024)
    settings = dict(order=2, dt=1e-6, steps=6, theta=1.0)
    # the same discrete problem either way (its burst is shorter than the micro relaxation: warned, and not the point here)
    linear = quiet(PatchDynamics, Diffusion(functools.partial(oscillating, eps=1 / 64), period=1 / 64), patches, **settings)
    lagged = quiet(PatchDynamics, Diffusion(constant_in_u, period=1 / 64, nonlinear=True), patches, **settings)
    U = linear.initial(wave)
    assert np.abs(linear.run(U, 1e-3, 2.5e-4).final - quiet(lagged.run, U, 1e-3, 2.5e-4).final).max() < 1e-12
    errors, T = [], 0.01
    for N in (8, 16):
        patches = Patches(1.0, N, core=1 / 128, buffer=3 / 128, dx=1 / 1024)
        scheme = PatchDynamics(Diffusion(stiffening, nonlinear=True), patches, order=2, dt=1e-5, steps=2, theta=1.0)
        final = scheme.run(scheme.initial(wave), T, 1e-4, "rk2").final
        fine = FineSimulation(Diffusion(stiffening, nonlinear=True), patches, dt=1e-5, theta=1.0)
        reference = fine.core_averages(fine.run(fine.interpolate(wave), T))
        errors.append(np.abs(final - reference).max() / np.abs(reference).max())
    assert abs(np.log2(errors[0] / errors[1]) - 2) < 0.3, errors


# --- executors and output ---------------------------------------------------------------------------
def test_executors_agree():
    from fe2 import parallel
    patches = Patches(1.0, (4, 4), core=1 / 32, buffer=1 / 32, dx=1 / 128)
    problem = Diffusion(functools.partial(checkerboard, eps=1 / 32), period=1 / 32)
    results = {}
    for name in ("serial", "processes", "dask"):
        with parallel.executor(name, workers=2) as ex:
            scheme = PatchDynamics(problem, patches, order=2, dt=1e-5, steps=5, executor=ex)
            assert len(scheme.solvers) == ex.workers
            U = scheme.initial(lambda x: np.sin(K * x[0]) * np.cos(K * x[1]))
            results[name] = scheme.run(U, 2e-3, 5e-4, "rk2").final
    assert np.abs(results["processes"] - results["serial"]).max() < 1e-12
    assert np.abs(results["dask"] - results["serial"]).max() < 1e-12


def test_vtu_output(tmp_path):
    patches = Patches(1.0, (3, 4), core=0.05, buffer=0.05, dx=0.025, cells="tri")
    scheme = PatchDynamics(Diffusion(constant), patches, order=2, dt=1e-5, steps=2)
    trajectory = scheme.run(scheme.initial(lambda x: np.cos(K * x[1])), 1e-4, 5e-5, keep=True)
    paths = output.write(tmp_path, scheme, trajectory)
    assert [p.name for p in paths] == ["coarse.pvd", "patches.pvd"]
    coarse = meshio.read(tmp_path / "coarse_0002.vtu")
    assert np.allclose(coarse.point_data["U"], trajectory.states[2])
    fine = meshio.read(tmp_path / "patches_0001.vtu")
    assert fine.points.shape[0] == 12 * patches.n_nodes
    assert set(np.unique(fine.cell_data["patch"][0])) == set(range(12))
    assert np.allclose(fine.point_data["u"], trajectory.fields[1].ravel())


# --- the cases ---------------------------------------------------------------------------------------
def run_case(name, *args):
    return runpy.run_path(str(CASES / name), run_name="case")["main"](list(args))


def test_case_1d(tmp_path):
    from test_cases import assert_picture
    results = run_case("patch_dynamics_1d.py", "--quick", "--out", str(tmp_path))
    assert abs(results["rate"] - 2) < 0.3
    assert results["unhealed"]["error"] > 10 * results["healed"]["error"]
    assert results["unhealed"]["warnings"] and not results["healed"]["warnings"]
    assert_picture(tmp_path / "patch_dynamics_1d.png")
    assert (tmp_path / "vtu" / "patches.pvd").is_file()


def test_case_2d(tmp_path):
    from test_cases import assert_picture
    results = run_case("patch_dynamics_2d.py", "--quick", "--out", str(tmp_path))
    assert results["error"] < 0.05
    assert_picture(tmp_path / "patch_dynamics_2d.png")
