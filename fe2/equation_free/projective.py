"""Patch dynamics: the coarse time derivative from short fine bursts in the patches, and coarse
projective integration on top of it.

One evaluation of the coarse time derivative at the coarse state U (core averages, one per patch):

1. **lift**: L(U), the coupling's interpolant of the neighbouring coarse data shifted to core average
   U_i in each patch (:mod:`fe2.equation_free.lifting`); its values on the patch boundary are the
   patch's Dirichlet data, held over the burst;
2. **burst**: ``steps`` fine steps of size dt (δt = steps x dt) in every patch at once;
3. **restrict**: core averages after δt - τ and after δt; the first ``steps - window`` steps
   (δt - τ, τ = window x dt) heal the lifting, and the coarse time derivative is estimated on the
   last τ:

       F(U) = (U(δt) - U(δt - τ)) / τ        (window = steps: (U(δt) - U)/δt, as R(L(U)) = U).

Projective integrators with coarse step ΔT ≫ δt (``method``):

* ``"euler"`` (projective forward Euler): U(T + ΔT) = U(T + δt) + (ΔT - δt) F(U(T)); without
  healing, U(T) + ΔT (U(T + δt) - U(T))/δt. With ΔT = δt it is the patch scheme without projection
  (the gap-tooth scheme: re-lift after every burst);
* ``"rk2"`` (projective Heun) and ``"rk4"`` (projective classical Runge–Kutta): the explicit
  Runge–Kutta method on dU/dt = F(U), one burst per stage; order 2 and 4 in ΔT on that coarse ODE.

Patches run in parallel through :mod:`fe2.parallel`: the patches are split into one group per
worker, each group's fine solver (its block-diagonal matrix, factorized once) lives on its worker
(an executor actor), and a burst sends each worker its lifted fields and gets core averages back.
"""

import dataclasses
import time

import numpy as np

from . import checks
from .fine import PatchSolver
from .lifting import consistency, lift, minimal_lifting, restrict, restriction_weights
from .patches import Coupling, lagrange_weights
from ..parallel import Serial

METHODS = ("euler", "rk2", "rk4")
LIFTINGS = ("interpolant", "minimal")


@dataclasses.dataclass
class Burst:
    """The core averages after δt - τ (``before``) and after δt (``end``), and the fine fields
    (n_patches, n_nodes) at δt if they were kept."""

    before: np.ndarray
    end: np.ndarray
    fields: np.ndarray = dataclasses.field(default=None, repr=False)


@dataclasses.dataclass
class Trajectory:
    """A coarse trajectory: ``times`` (n + 1,), ``states`` (n + 1, n_patches), the number of bursts,
    the wall time, and the fine fields at the end of each step's first burst (if kept)."""

    times: np.ndarray
    states: np.ndarray
    bursts: int
    seconds: float
    fields: list = dataclasses.field(default_factory=list, repr=False)

    @property
    def final(self):
        return self.states[-1]


class PatchDynamics:
    """Patch dynamics of ``problem`` (:class:`fe2.equation_free.Diffusion`) on ``patches``
    (:class:`fe2.equation_free.Patches`).

    Parameters
    ----------
    order : coupling order 2, 4, 6 or "spectral" (:class:`fe2.equation_free.patches.Coupling`).
    data : how the core averages are read by the coupling: "average" (consistent), "corrected"
        (the gap-tooth correction U - h²/24 Δ_H U to point values) or "point" (uncorrected).
    lifting : "interpolant" (the coupling's interpolant, shifted to the core average) or "minimal"
        (1D, Lagrange coupling: the minimal polynomial in the average, gradient and curvature).
    dt, steps, window : fine step, steps per burst (δt = steps x dt) and the last ``window`` steps
        over which the derivative is estimated (default: all, no separate healing).
    theta : the fine theta-scheme (1/2 Crank–Nicolson, 1 implicit Euler).
    executor : a :mod:`fe2.parallel` executor (default serial); the patches are split over its workers.
    strict : raise ValueError instead of warning when the scale ordering or the healing condition fails.
    """

    def __init__(self, problem, patches, *, order=2, data="average", lifting="interpolant", dt, steps, window=None,
                 theta=0.5, executor=None, strict=False, intorder=4):
        if lifting not in LIFTINGS:
            raise ValueError(f"lifting must be one of {LIFTINGS}, got {lifting!r}")
        if lifting == "minimal" and (patches.dim != 1 or order == "spectral"):
            raise ValueError("the minimal polynomial lifting is one-dimensional and takes its gradient and curvature "
                             "from Lagrange coupling: use it in 1D with order 2, 4 or 6")
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ValueError(f"steps (fine steps per burst) must be a whole number >= 1, got {steps!r}")
        window = steps if window is None else window
        if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or not 1 <= window <= steps:
            raise ValueError(f"window must be a whole number of fine steps in 1 .. steps = {steps}, got {window!r}")
        self.problem, self.patches, self.lifting = problem, patches, lifting
        self.coupling = Coupling(patches, order, data)
        self.weights = restriction_weights(patches)
        self.dt, self.steps, self.window, self.theta = float(dt), int(steps), int(window), float(theta)
        self.burst_time = self.steps * self.dt
        self.healing_time = (self.steps - self.window) * self.dt
        self.strict = bool(strict)
        self.warnings = checks.report(checks.scale_ordering(problem.period, patches.core, patches.width,
                                                            patches.spacing), checks.ScaleWarning, strict)
        if lifting == "minimal":
            stencil = self.coupling.stencils[0]
            box = patches.core if data == "average" else None
            H = patches.spacing[0]
            self.derivative_weights = np.vstack([lagrange_weights(stencil, [0.0], H, derivative=k, box=box) for k in (1, 2)])
        self.executor = executor or Serial()
        groups = [g for g in np.array_split(np.arange(patches.n_patches), max(1, min(self.executor.workers,
                                                                                    patches.n_patches))) if g.size]
        self.groups = groups
        self.solvers = [self.executor.actor(PatchSolver, problem, patches, g, self.dt, self.theta, intorder)
                        for g in groups]
        self.coefficient_range = None  # known from the inputs for a(x); for a(x, u), checked by run on the lifted state
        if not problem.nonlinear:
            ranges = [s.call("coefficient_range").result() for s in self.solvers]
            self.coefficient_range = (min(r[0] for r in ranges), max(r[1] for r in ranges))
            self.warnings += self.check_healing(self.coefficient_range)

    @property
    def boundary_influence(self):
        """erfc(L_b / (2 sqrt(D δt))) with the largest diffusivity (:func:`fe2.equation_free.checks.boundary_influence`);
        None for a(x, u)."""
        if self.coefficient_range is None:
            return None
        return checks.boundary_influence(self.coefficient_range[1], self.burst_time, self.patches.buffer)

    def check_healing(self, coefficient_range):
        """The healing conditions for the smallest and largest diffusivity ``coefficient_range``
        (warned, or raised if strict); returns the failures."""
        return checks.report(checks.healing(coefficient_range[1], self.burst_time, self.patches.buffer,
                                            self.problem.period, coefficient_range[0]), checks.HealingWarning,
                             self.strict, stacklevel=4)

    # --- lifting and restriction --------------------------------------------------------------
    def data(self, U):
        """The coarse data as the coupling reads them (the correction applied for data="corrected")."""
        U = np.asarray(U, dtype=float).reshape(self.patches.count)
        if self.coupling.data == "corrected":
            return consistency(U, self.patches.spacing, self.patches.core, 0.0)
        return U

    def lift(self, U):
        """L(U): the fine fields (n_patches, n_nodes) of the coarse state U; R(L(U)) = U to round-off."""
        U = self.check_state(U)
        if self.lifting == "minimal":
            G, C = self.derivative_weights @ self.coupling.gather(self.data(U)).T
            return minimal_lifting(U, G, C, self.patches.offsets[:, 0], self.patches.width / 2, self.weights)
        return lift(U, self.coupling.interpolate(self.data(U)), self.weights)

    def restrict(self, fields):
        """R(u): the core averages (n_patches,) of fine fields (n_patches, n_nodes)."""
        return restrict(fields, self.weights)

    def check_state(self, U):
        U = np.asarray(U, dtype=float).ravel()
        if U.shape != (self.patches.n_patches,):
            raise ValueError(f"a coarse state has one value per patch ({self.patches.n_patches}), got {U.size}")
        if not np.all(np.isfinite(U)):
            raise ValueError(f"the coarse state is not finite at patches {np.flatnonzero(~np.isfinite(U))[:5].tolist()}")
        return U

    def initial(self, function):
        """The coarse state of a macroscopic initial field ``function`` (x (dim, n) -> (n,)): its
        core averages, through its P1 interpolant on every patch."""
        x = (self.patches.offsets[None, :, :] + self.patches.centres[:, None, :]).transpose(2, 0, 1)
        return self.restrict(np.asarray(function(x.reshape(self.patches.dim, -1)), dtype=float)
                             .reshape(self.patches.n_patches, -1))

    # --- bursts and the coarse time derivative -----------------------------------------------
    def burst(self, U, keep=False):
        """Lift U, run one burst in every patch (in parallel), restrict: a :class:`Burst`."""
        fields = self.lift(U)
        futures = [s.call("burst", fields[g], self.steps, self.window, keep) for s, g in zip(self.solvers, self.groups)]
        answers = [f.result() for f in futures]
        before = np.concatenate([a[0] for a in answers])
        end = np.concatenate([a[1] for a in answers])
        return Burst(before, end, np.concatenate([a[2] for a in answers]) if keep else None)

    def derivative(self, U, burst=None):
        """F(U) = (U(δt) - U(δt - τ))/τ, the coarse time derivative estimated from one burst from U."""
        burst = burst or self.burst(U)
        return (burst.end - burst.before) / (self.window * self.dt)

    # --- projective integration ----------------------------------------------------------------
    def step(self, U, step, method="euler", keep=False):
        """One projective step of size ``step`` (ΔT) from U by ``method``: (the new state, the
        number of bursts, the first burst)."""
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        U = self.check_state(U)
        first = self.burst(U, keep)
        k1 = self.derivative(U, first)
        if method == "euler":
            if step < self.burst_time * (1 - 1e-12):
                raise ValueError(f"the projective step {step:g} is shorter than the burst dt = {self.burst_time:g} (with "
                                 "run: make the time a whole number of steps, or use rk2/rk4)")
            return first.end + (step - self.burst_time) * k1, 1, first
        if method == "rk2":
            k2 = self.derivative(U + step * k1)
            return U + step / 2 * (k1 + k2), 2, first
        k2 = self.derivative(U + step / 2 * k1)
        k3 = self.derivative(U + step / 2 * k2)
        k4 = self.derivative(U + step * k3)
        return U + step / 6 * (k1 + 2 * k2 + 2 * k3 + k4), 4, first

    def run(self, U0, time, step, method="euler", keep=False, callback=None):
        """Integrate from U0 over ``time`` in projective steps ``step`` (the last one shortened to
        land on ``time``; method "euler" needs every step >= δt): a :class:`Trajectory`. ``keep``:
        keep the fine fields of each step's first burst; ``callback(t, U)`` after each step."""
        if not (np.isfinite(time) and time > 0 and np.isfinite(step) and step > 0):
            raise ValueError(f"time and step must be positive numbers, got time={time!r}, step={step!r}")
        U = self.check_state(U0)
        if self.problem.nonlinear:  # the diffusivity depends on u: checked on the lifted initial state
            fields = self.lift(U)
            ranges = [s.call("coefficient_range", fields[g]).result() for s, g in zip(self.solvers, self.groups)]
            self.check_healing((min(r[0] for r in ranges), max(r[1] for r in ranges)))
        start = time_now = 0.0
        clock = _clock()
        times, states, fields, bursts = [0.0], [U], [], 0
        n = int(np.ceil(time / step - 1e-9))
        for k in range(n):
            size = min(step, time - time_now)
            U, used, first = self.step(U, size, method, keep)
            bursts += used
            time_now = start + (k + 1) * step if k < n - 1 else time
            times.append(time_now)
            states.append(U)
            if keep:
                fields.append(first.fields)
            if callback is not None:
                callback(time_now, U)
        return Trajectory(np.array(times), np.array(states), bursts, clock(), fields)

    def __repr__(self):
        return (f"PatchDynamics({self.patches!r}, order={self.coupling.order}, data={self.coupling.data!r}, "
                f"burst {self.steps} x {self.dt:g}, window {self.window}, executor={self.executor!r})")


def _clock():
    start = time.perf_counter()
    return lambda: time.perf_counter() - start
