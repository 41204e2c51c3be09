"""Transient macro problems: heat conduction with capacity, and quasi-static loading in time.

    problem = Transient(mesh, {"plate": fe2.RVELaw(cell)}, capacity={"plate": {"matrix": 1.0, "fiber": 2.0}},
                        dirichlet=[Dirichlet("left", 1.0)], initial=0.0)
    run = problem.solve(t_end=0.5, dt=0.05)                 # BDF2, fixed steps
    run = problem.solve(times=[0.01, 0.1, 0.5])             # through given times
    run = problem.solve(t_end=0.5, dt=1e-3, tol=1e-4)       # adaptive steps under error control
    run.times, run.fields, run.states                       # problem.settings: those of the last solve

**Heat conduction** (``capacity`` given): the macro balance d/dt(c T) - div(K grad T) = f, in weak form

    M dT/dt + f_int(T) = lam(t) f_ext,      M = int c N_a N_b dx,

c the capacity rho c of each phase. For a cell-backed phase c is the cell's averaged capacity
<rho c> (:func:`averaged_capacity`; give the capacities of the cell's phases and it is formed): with
scale separation in time the cell problem stays quasi-static, and the averaged capacity and the
cell's averaged flux close the macro equation (the heterogeneous multiscale method for parabolic
problems). dT/dt is backward Euler (``scheme="be"``, order 1) or the variable-step BDF2
(``scheme="bdf2"``, order 2; its first step is backward Euler):

    dT/dt(t_{n+1}) ~ (a0 T_{n+1} + a1 T_n + a2 T_{n-1}) / dt,   w = dt / dt_prev,
    a0 = (1 + 2w)/(1 + w),  a1 = -(1 + w),  a2 = w^2/(1 + w)      (BE: a0 = 1, a1 = -1, a2 = 0).

**Quasi-static problems** (no capacity; mechanics with rate-dependent laws such as
:class:`fe2.materials.viscoelastic.Prony`, or cells of them): T^T (f_int(u(t), h) - lam(t) f_ext) = 0
at each time; the laws integrate their own histories over each step (``law.advance(state, dt)``).

Dirichlet values and external loads are those of :class:`fe2.macro.Problem` scaled by the load
function lam(t) (``load``, default 1: applied at t = 0). Step 1 is t = 0: the initial field of a heat
problem, the equilibrium under lam(0) of a quasi-static one (the instantaneous response: a load
applied at once is a step at t = 0). Each time step is solved by the Newton method of
:class:`~fe2.macro.Problem` (consistent tangent plus a0/dt M, line search), from the committed
histories; a step whose Newton fails is halved (``max_cutbacks``), one the error control rejects
is retried smaller, and histories are committed only when a step is accepted.

Adaptive steps (``tol``): the local error of a step is estimated from the solution history,
C dt^(p+1) u^(p+1) with u^(p+1) = (p+1)! times the divided difference over the new and the last p+1
points (for heat the first points are completed by the initial rate M^-1 r(T_0)), C the scheme's
error constant (BE 1/2, variable-step BDF2 C(w), quasi-static 1/12); the step is accepted when
max |error| over the free DOFs <= tol times the largest |u| so far, and the next dt is
dt (0.9 / err)^(1/(p+1)) within [0.2, 2] times the last. :class:`TimeStepError` (with the time
reached) when dt falls below ``dt_min``. Output: ``callback(step, u, states, problem)`` after every
accepted step (:class:`fe2.io.MacroWriter` writes the PVD series against the physical time), and a
checkpoint (``checkpoint``, ``restart``) as for :meth:`fe2.macro.Problem.solve`.
"""

import contextlib
import copy
import dataclasses
import hashlib
import logging
import math
import numbers
import time
from pathlib import Path

import numpy as np
import scipy.sparse
import scipy.sparse.linalg
from skfem import Basis

from ..io import checkpoint as checkpoints
from ..io.files import run_lock
from ..materials.viscoelastic import advance
from .problem import CURABLE, DivergenceError, Problem, Step

logger = logging.getLogger(__name__)

SCHEMES = ("be", "bdf2")


class TimeStepError(DivergenceError):
    """The time stepping cannot go on: the adaptive control (or a cut-back) asked for a step below
    the smallest allowed; ``time`` is the time reached (the last accepted step)."""

    def __init__(self, message, time):
        super().__init__(message)
        self.time = time


@dataclasses.dataclass
class TimeStep(Step):
    """An accepted time step (see :class:`fe2.macro.Step`; ``load`` is lam(time)): its ``time``, its
    size ``dt`` (0 for step 1, at t = 0), its error estimate relative to the tolerance (None without
    error control or history) and the attempts the error control ``rejected`` before it."""

    time: float = 0.0
    dt: float = 0.0
    error: float = None
    rejected: int = 0


@dataclasses.dataclass
class TimeHistory:
    """The accepted steps of a run and the committed histories at its end."""

    steps: list
    states: dict = dataclasses.field(repr=False)

    @property
    def times(self):
        return np.array([s.time for s in self.steps])

    @property
    def fields(self):
        return np.stack([s.field for s in self.steps])


def averaged_capacity(cell, capacities):
    """The cell's averaged capacity <rho c> = sum over phases of volume fraction x rho c, for the
    capacities {cell phase: rho c > 0} of every phase of ``cell``."""
    if not isinstance(capacities, dict):
        raise ValueError(f"give the capacities of the cell's phases as {{phase: rho c}}, got {capacities!r}")
    missing, unknown = sorted(set(cell.phases) - set(capacities)), sorted(set(capacities) - set(cell.phases))
    if missing or unknown:
        raise ValueError(f"capacities {sorted(capacities)} do not match the cell's phases {sorted(cell.phases)}")
    fractions = cell.fractions
    return float(sum(fractions[name] * _positive(f"capacity of cell phase {name!r}", capacities[name])
                     for name in cell.phases))


def _positive(what, value):
    """``value`` as a float, ValueError naming ``what`` unless it is a finite number > 0."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not 0 < value < math.inf:
        raise ValueError(f"{what} must be a positive finite number, got {value!r}")
    return float(value)


class Transient(Problem):
    """A macro problem in time (see the module notes). Arguments of :class:`fe2.macro.Problem`, and

    capacity : None (quasi-static), a number (every phase), or {phase: rho c}, where the value for a
        cell-backed phase may be {cell phase: rho c} (its averaged capacity is used). Conduction only.
    initial : the initial temperature of a heat problem, a number or a function of the positions x
        (dim, n) returning (n,).
    load : lam(t), the factor of the Dirichlet values and external loads at time t (default 1).
    """

    _scheme = None   # (a0, dt, past term): set only on the per-step copy that runs the Newton solve

    def __init__(self, mesh, materials, *, capacity=None, initial=0.0, load=None, dirichlet=(), neumann=(),
                 body_force=None, order=1):
        super().__init__(mesh, materials, dirichlet=dirichlet, neumann=neumann, body_force=body_force, order=order)
        conduction = self.body.physics.name == "conduction"
        if capacity is not None and not conduction:
            raise ValueError("capacity (rho c) is for heat conduction; a transient elastic problem is quasi-static "
                             "(inertia is not modelled): leave capacity out")
        if load is not None and not callable(load):
            raise TypeError(f"load must be a function lam(t) of the time, or None, got {load!r}")
        self.load = (lambda t: 1.0) if load is None else load
        start = self.load(0.0)
        if not isinstance(start, numbers.Real) or not np.isfinite(start):
            raise ValueError(f"load(0) must be a finite number, got {start!r}")
        self.capacity = None if capacity is None else self._capacities(capacity)
        self.initial = self._initial(initial, conduction)
        self.mass, self._mass_data = (None, None) if self.capacity is None else self._mass()

    # --- set-up ------------------------------------------------------------------------------------
    def _capacities(self, capacity):
        """{phase: rho c} of every phase, checked; a cell-backed phase may give its cell's capacities."""
        phases = self.body.phases
        if not isinstance(capacity, dict):
            return {name: _positive("capacity rho c", capacity) for name in phases}
        missing, unknown = sorted(set(phases) - set(capacity)), sorted(set(capacity) - set(phases))
        if missing or unknown:
            raise ValueError(f"capacity is given for phases {sorted(capacity)}; the macro phases are {sorted(phases)}")
        out = {}
        for name in phases:
            value = capacity[name]
            if isinstance(value, dict):
                cell = getattr(self.body.materials[name], "cell", None)
                if cell is None:
                    raise ValueError(f"phase {name!r}: capacities per cell phase need a cell-backed law, got "
                                     f"{self.body.materials[name]!r}")
                out[name] = averaged_capacity(cell, value)
            else:
                out[name] = _positive(f"capacity of phase {name!r}", value)
        return out

    def _initial(self, initial, conduction):
        """The initial DOF vector: the initial temperature at the DOF locations (zero for mechanics)."""
        u = np.zeros(self.body.ndofs)
        u.flags.writeable = False
        if not conduction:
            if callable(initial) or np.any(np.asarray(initial) != 0):
                raise ValueError("a quasi-static problem starts from its equilibrium at t = 0: give no initial field")
            return u
        x = self.body.basis.doflocs
        values = np.broadcast_to(np.asarray(initial(x) if callable(initial) else initial, dtype=float), x.shape[1:])
        if not np.all(np.isfinite(values)):
            raise ValueError("the initial temperature must be finite at every node")
        u = values.astype(float)   # a new array (broadcast views are read-only)
        u.flags.writeable = False
        return u

    def _mass(self):
        """The capacity matrix M = int c N_a N_b (full, CSR) and its values on the tangent pattern."""
        body = self.body
        basis = Basis(body.mesh, body.basis.elem, intorder=2 * body.order)   # exact on simplices and parallelograms
        phi = np.stack([np.asarray(phi) for (phi,) in basis.basis])        # (nloc, nel, nqp)
        c = np.array([self.capacity[name] for name in body.phases])[body.phase]
        element = np.einsum("aeq,beq,eq->eab", phi, phi, np.asarray(basis.dx) * c[:, None])
        rows = np.repeat(body.dofs, body.dofs.shape[1], axis=1).ravel()
        columns = np.tile(body.dofs, (1, body.dofs.shape[1])).ravel()
        mass = scipy.sparse.csr_matrix((element.ravel(), (rows, columns)), shape=(body.ndofs,) * 2)
        return mass, self.pattern.data(element)

    # --- one step: Problem's Newton on the residual with the capacity term ----------------------------
    def residual(self, u, states, load):
        """(T^T (M du/dt + f_int - load f_ext), stress, tangent, new states); du/dt by the scheme of the step."""
        r, stress, tangent, new = super().residual(u, states, load)
        if self._scheme is not None and self.mass is not None:
            a0, dt, past = self._scheme
            r = r + self.mass @ ((a0 * u + past) / dt)
        return r, stress, tangent, new

    def stiffness(self, tangent):
        data = super().stiffness(tangent)
        if self._scheme is not None and self.mass is not None:
            a0, dt, _ = self._scheme
            data = data + (a0 / dt) * self._mass_data
        return data

    def _solve_step(self, u, states, time_new, scheme, settings, timings, solves):
        """Newton at ``time_new`` for the scheme (a0, dt, past term) on a copy of this problem (this one
        is never changed): (field, new states, residuals, stress)."""
        stepper = copy.copy(self)
        stepper._scheme = scheme
        return stepper._newton(u, states, self.load(time_new), settings["newton_tol"], settings["max_iterations"],
                               timings, solves)[:4]

    # --- the time loop ------------------------------------------------------------------------------
    def solve(self, t_end=None, dt=None, *, times=None, scheme="bdf2", tol=None, dt_min=None, dt_max=None,
              newton_tol=1e-8, max_iterations=12, max_cutbacks=6, callback=None, checkpoint=None, restart=False):
        """Integrate from t = 0 to ``t_end`` with steps ``dt`` (fixed; the last one shorter if dt does
        not divide t_end), through the increasing time points ``times`` instead (fixed, the last one
        the end), or from ``dt`` under error control when ``tol`` is given (steps between ``dt_min``,
        default 1e-9 t_end, and ``dt_max``, default t_end). Returns a :class:`TimeHistory` of the
        accepted steps (with ``restart``, those of this run). See the module notes for the schemes,
        the error control, ``callback``, ``checkpoint`` and ``restart``; bad settings are refused
        before any work."""
        settings = _settings(t_end, dt, times, scheme, tol, dt_min, dt_max, newton_tol, max_iterations, max_cutbacks,
                             callback)
        self.settings = settings
        if restart and checkpoint is None:
            raise ValueError("restart=True needs the checkpoint path")
        held = run_lock(Path(checkpoint).parent) if checkpoint is not None else contextlib.nullcontext()
        inputs = self._inputs(settings) if checkpoint is not None else None
        with held:
            if restart:
                saved = checkpoints.load(checkpoint)
                checkpoints.check_restart(saved, checkpoint, inputs)
                if saved["time"] >= settings["t_end"]:
                    raise checkpoints.CheckpointError(f"cannot restart from {checkpoint}: its run is finished (it "
                                                      f"reached t = {saved['time']:.6g} = t_end)")
                march = {key: saved[key] for key in _MARCH}
                march["past"] = list(zip(saved["past_times"].tolist(), saved["past_fields"]))
                logger.info("restarting from %s: step %d, t = %.6g", checkpoint, march["number"], march["time"])
                done = []
            else:
                march, done = self._start(settings, callback)
            done += self._march(march, settings, callback, checkpoint, inputs)
        return TimeHistory(done, march["states"])

    def _start(self, settings, callback):
        """Step 1 at t = 0: the initial field (heat) or the equilibrium under lam(0) (quasi-static)."""
        clock = time.perf_counter()
        states = advance(self.body.materials, self.initial_states(), 0.0)
        timings, solves = _no_time(), {"newton": 0, "elastic": 0}
        if self.mass is None:
            u, states, residuals, stress = self._solve_step(self.initial.copy(), states, 0.0, None, settings, timings,
                                                            solves)
            rate = None
        else:
            r, stress, _, states = self.residual(self.initial, states, self.load(0.0))
            u, residuals = self.initial.copy(), []
            rate = self._initial_rate(r) if settings["tol"] is not None else None
        step = TimeStep(1, float(self.load(0.0)), u.copy(), residuals, 0, stress, seconds=time.perf_counter() - clock,
                        timings=timings, cell_solves=solves, time=0.0, dt=0.0)
        if callback is not None:
            callback(step, u, states, self)
        march = {"time": 0.0, "u": u, "states": states, "number": 1, "dt": min(settings["dt"], settings["dt_max"]),
                 "dt_previous": -1.0,
                 "past": [(0.0, u)], "rate": rate, "scale": float(np.abs(u).max())}
        return march, [step]

    def _initial_rate(self, r):
        """dT/dt at t = 0 on the free DOFs, -M_ff^-1 r_f (prescribed DOFs: 0): the start of the error estimate."""
        free = self.map >= 0
        rate = np.zeros(self.body.ndofs)
        rate[free] = -scipy.sparse.linalg.spsolve(self.mass[free][:, free].tocsc(), r[free])
        return rate

    def _march(self, march, settings, callback, checkpoint, inputs):
        """The time steps from the state ``march`` to t_end (``march`` is replaced by each accepted step)."""
        t_end, fixed = settings["t_end"], settings["tol"] is None
        done, cutbacks, rejected = [], 0, 0
        clock, timings, solves = time.perf_counter(), _no_time(), {"newton": 0, "elastic": 0}
        dt, schedule = march["dt"], settings["schedule"]
        while march["time"] < t_end:
            t = march["time"]
            target = schedule[np.searchsorted(schedule, t, side="right")]
            time_new = target if target - t <= dt * (1 + 1e-9) else t + dt
            step_dt = time_new - t   # the same float wherever the same two times meet (a replay is exact)
            coefficients, order = self._coefficients(settings["scheme"], step_dt, march["dt_previous"])
            past = sum(a * u for a, (_, u) in zip(coefficients[1:], reversed(march["past"])))
            scheme = (coefficients[0], step_dt, past)
            states = advance(self.body.materials, march["states"], step_dt)
            try:
                u, new_states, residuals, stress = self._solve_step(march["u"], states, time_new, scheme, settings,
                                                                    timings, solves)
            except CURABLE as error:
                cutbacks += 1
                if cutbacks > settings["max_cutbacks"] or step_dt / 2 < settings["dt_min"]:
                    raise TimeStepError(f"the time step from t = {t:.6g} failed after {cutbacks - 1} cut-backs (last "
                                        f"dt = {step_dt:.3g}): {error}; the time reached is t = {t:.6g}", t) from None
                dt = step_dt / 2
                logger.warning("  step from t = %.6g failed (%s); cutting dt to %.4g", t, error, dt)
                continue
            error = self._error(march, u, time_new, step_dt, order, settings)
            if not fixed and error is not None and error > 1:
                rejected += 1
                dt = step_dt * max(0.2, 0.9 * error ** (-1 / (order + 1)))
                logger.info("  step from t = %.6g with dt = %.4g rejected (error %.2f x tol); dt -> %.4g", t, step_dt,
                            error, dt)
                if dt < settings["dt_min"]:
                    raise TimeStepError(f"the adaptive time step control cannot reach tol = {settings['tol']:g}: the "
                                        f"step from t = {t:.6g} needs dt = {dt:.3g} < dt_min = "
                                        f"{settings['dt_min']:.3g} "
                                        f"(error {error:.3g} x tol at dt = {step_dt:.3g}); the time reached is "
                                        f"t = {t:.6g}", t)
                continue
            number = march["number"] + 1                                                   # commit
            march.update(time=time_new, u=u, states=new_states, number=number, dt_previous=step_dt,
                         past=(march["past"] + [(time_new, u)])[-4:],
                         scale=max(march["scale"], float(np.abs(u).max())))
            step = TimeStep(number, float(self.load(time_new)), u.copy(), residuals, cutbacks, stress,
                            seconds=time.perf_counter() - clock, timings=timings, cell_solves=solves, time=time_new,
                            dt=step_dt, error=error, rejected=rejected)
            done.append(step)
            logger.info("step %d: t = %.6g (dt = %.4g) in %d iterations%s", number, time_new, step_dt,
                        len(residuals) - 1, "" if error is None else f", error {error:.2f} x tol")
            if fixed:   # after cut-backs, back towards the scheduled steps
                dt = settings["dt"] if cutbacks == 0 and time_new == target else min(settings["dt"], 2 * step_dt)
                dt = step_dt if cutbacks else dt
            elif error is not None:   # without an estimate yet (a short history), the step is kept
                growth = 2.0 if error == 0 else min(2.0, max(0.2, 0.9 * error ** (-1 / (order + 1))))
                dt = min(settings["dt_max"], step_dt * growth)
            march["dt"] = dt
            cutbacks, rejected = 0, 0
            if callback is not None:
                callback(step, u, new_states, self)
            if checkpoint is not None:
                self._save(checkpoint, march, inputs)
            clock, timings, solves = time.perf_counter(), _no_time(), {"newton": 0, "elastic": 0}
        return done

    def _coefficients(self, scheme, dt, dt_previous):
        """((a0, a1, a2), order p) of the step: BE for the first step or ``scheme="be"``, else BDF2;
        a quasi-static problem has no time derivative (p = 2: its laws integrate exactly over linear strain)."""
        if self.mass is None:
            return (1.0,), 2
        if scheme == "be" or dt_previous <= 0:
            return (1.0, -1.0), 1
        w = dt / dt_previous
        return ((1 + 2 * w) / (1 + w), -(1 + w), w * w / (1 + w)), 2

    def _error(self, march, u, time_new, dt, order, settings):
        """The step's local error estimate over the free DOFs relative to tol x the field's scale
        (None when the history is too short for it, or without error control)."""
        if settings["tol"] is None:
            return None
        points = march["past"][-(order + 1):]
        times = [t for t, _ in points] + [time_new]
        rate = march["rate"] if points[0][0] == 0.0 and march["rate"] is not None else None
        if len(times) + (rate is not None) < order + 2:
            return None
        if len(times) + (rate is not None) > order + 2:
            rate = None
        free = self.map >= 0
        difference = divided_difference(times, [v[free] for _, v in points] + [u[free]],
                                        None if rate is None else rate[free])
        constant = self._error_constant(order, dt, march["dt_previous"])
        estimate = abs(constant) * dt ** (order + 1) * math.factorial(order + 1) * np.abs(difference).max()
        scale = max(march["scale"], float(np.abs(u).max()))
        return 0.0 if scale == 0 else float(estimate / (settings["tol"] * scale))

    def _error_constant(self, order, dt, dt_previous):
        """C of the local error C dt^(p+1) u^(p+1): BE 1/2; variable-step BDF2 -(a1 + a2 (1 + 1/w)^3) / (6 a0);
        quasi-static 1/12 (the recursive update over a linear strain, as the trapezoidal rule)."""
        if self.mass is None:
            return 1 / 12
        if order == 1:
            return 0.5
        a0, a1, a2 = self._coefficients("bdf2", dt, dt_previous)[0]
        return -(a1 + a2 * (1 + dt_previous / dt) ** 3) / (6 * a0)

    # --- checkpoints ----------------------------------------------------------------------------------
    def _inputs(self, settings):
        """The fingerprint of the run (:func:`fe2.io.checkpoint.inputs`) with the time settings, the
        capacities, the initial field and the load function's values."""
        items = checkpoints.inputs(self, [settings["t_end"]])
        items["time integration"] = {key: settings[key] for key in ("t_end", "scheme", "tol", "dt_min", "dt_max")}
        schedule = hashlib.sha256(settings["schedule"].tobytes()).hexdigest()[:16]
        items["time integration"]["schedule"] = "sha256:" + schedule
        items["capacity"] = self.capacity
        items["initial field"] = "sha256:" + hashlib.sha256(self.initial.tobytes()).hexdigest()[:16]
        items["load function"] = [float(self.load(t)) for t in np.linspace(0, settings["t_end"], 9)]
        return items

    def _save(self, path, march, inputs):
        states = {name: (self.body.materials[name].histories(state)
                         if hasattr(self.body.materials[name], "histories") else state)
                  for name, state in march["states"].items()}
        checkpoints.save(path, **{key: march[key] for key in _MARCH if key != "states"}, states=states,
                         past_times=np.array([t for t, _ in march["past"]]),
                         past_fields=np.stack([u for _, u in march["past"]]), ndofs=self.body.ndofs, inputs=inputs)


_MARCH = ("time", "u", "states", "number", "dt", "dt_previous", "rate", "scale")   # what a restart continues from


def divided_difference(times, values, rate=None):
    """The divided difference [t_0, ..., t_k] u of the values (k+1, ...) at distinct times; with
    ``rate`` the first node is doubled, [t_0, t_0] u = rate (the derivative there)."""
    nodes, table = list(times), [np.asarray(v, dtype=float) for v in values]
    if rate is not None:
        nodes, table = [nodes[0]] + nodes, [table[0]] + table
    for order in range(1, len(nodes)):
        table = [np.asarray(rate, dtype=float) if (order == 1 and i == 0 and rate is not None)
                 else (table[i + 1] - table[i]) / (nodes[i + order] - nodes[i]) for i in range(len(table) - 1)]
    return table[0]


def _no_time():
    return {"material points": 0.0, "assembly": 0.0, "linear solve": 0.0}


def _settings(t_end, dt, times, scheme, tol, dt_min, dt_max, newton_tol, max_iterations, max_cutbacks, callback):
    """The settings of a time integration, checked: ValueError (TypeError for the callback) naming the first bad one."""
    if times is not None:
        if dt is not None or tol is not None:
            raise ValueError("give the time points `times` or a time step dt (with tol: adaptive), not both")
        try:
            schedule = np.asarray(times, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"times must be a list of increasing positive times, got {times!r}") from None
        if (schedule.ndim != 1 or schedule.size == 0 or not np.all(np.isfinite(schedule)) or schedule[0] <= 0
                or np.any(np.diff(schedule) <= 0)):
            raise ValueError(f"times must increase from above t = 0, got {schedule.tolist()}")
        if t_end is not None and t_end != schedule[-1]:
            raise ValueError(f"t_end = {t_end!r} is not the last of the times ({schedule[-1]:g})")
        t_end, dt = float(schedule[-1]), math.inf
    else:
        t_end = _positive("the end time t_end", t_end)
        dt = min(_positive("the time step dt", dt), t_end)
        count = max(1, math.ceil(t_end / dt * (1 - 1e-12)))
        schedule = np.append(np.arange(1, count) * dt, t_end) if tol is None else np.array([t_end])
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {', '.join(map(repr, SCHEMES))}, got {scheme!r}")
    tol = None if tol is None else _positive("the error tolerance tol", tol)
    dt_min = 1e-9 * t_end if dt_min is None else _positive("the smallest time step dt_min", dt_min)
    dt_max = t_end if dt_max is None else _positive("the largest time step dt_max", dt_max)
    if dt_min > min(dt, dt_max):
        raise ValueError(f"dt_min = {dt_min:g} exceeds the time step dt = {dt:g} or dt_max = {dt_max:g}")
    newton_tol = _positive("the Newton tolerance newton_tol", newton_tol)
    for name, value, least in (("max_iterations", max_iterations, 1), ("max_cutbacks", max_cutbacks, 0)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < least:
            raise ValueError(f"{name} must be a whole number >= {least}, got {name}={value!r}")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be a function callback(step, u, states, problem) or None, got {callback!r}")
    schedule.flags.writeable = False
    return {"t_end": t_end, "dt": dt, "schedule": schedule, "scheme": scheme, "tol": tol, "dt_min": dt_min,
            "dt_max": dt_max, "newton_tol": newton_tol, "max_iterations": int(max_iterations),
            "max_cutbacks": int(max_cutbacks)}
