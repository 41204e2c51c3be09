"""The macro problem: a body whose material points are any laws, analytic or cell-backed (FE²).

    problem = fe2.macro.Problem(mesh, {"plate": fe2.RVELaw(cell)},
                                dirichlet=[fe2.macro.Dirichlet("left", 0.0), fe2.macro.Dirichlet("right", 0.01, components=[0])],
                                neumann=[fe2.macro.Traction("top", [0.0, -1.0])])
    result = problem.solve(steps=5)

Equilibrium  T^T (f_int(u) - f_ext(lam)) = 0  for load factors lam = 0 -> 1, with prescribed DOFs
u_D = lam g. Loads (body force, tractions) are numbers or functions of the position x: those and
functions f(x) are full-load values, f_ext(lam) = lam f_ext; a function f(x, lam) of the position
and the load factor is the load at lam as it is (non-proportional loading). Each step runs Newton with the consistent tangent of the material points (for an
RVELaw, the Schur complement of its converged cell); a step whose Newton, or any material point's
micro Newton, fails is cut in half and retried from the last committed state, up to ``max_cutbacks``
times. Material histories are committed only when a step converges.
"""

import contextlib
import dataclasses
import logging
import numbers
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from skfem import Basis, FacetBasis

from ..io import checkpoint as _checkpoint
from ..io.files import run_lock
from ..cell.body import Body
from ..cell.assembly import Pattern
from ..cell.nonlinear import MicroDivergence
from ..materials.law import SMALL_STRAIN, DeformationError, largest_strain, warn_from_caller
from ..materials.plasticity import ReturnMappingError
from .boundary import Dirichlet, Traction, dirichlet_dofs, load_values, takes_load

logger = logging.getLogger(__name__)


class DivergenceError(RuntimeError):
    """The macro load stepping failed even after cutting the step back."""


@dataclasses.dataclass
class Step:
    """A converged load step (numbered from 1): load factor, field and the Newton residual history.
    ``seconds``: wall time of the step, from the end of the previous one (its output and checkpoint
    excluded) to convergence, failed attempts (cut-backs) included; ``timings``: seconds spent in
    "material points" (the residual evaluation with every law's response, cell solves included),
    "assembly" (tangent stiffness) and "linear solve" (factorization and solve), summed over every
    iteration of the step, failed attempts included."""

    number: int
    load: float
    field: np.ndarray = dataclasses.field(repr=False)
    residuals: list
    cutbacks: int = 0
    stress: np.ndarray = dataclasses.field(default=None, repr=False)  # at the quadrature points
    seconds: float = 0.0
    timings: dict = dataclasses.field(default_factory=dict)
    cell_solves: dict = dataclasses.field(default_factory=dict)   # "newton" and "elastic" cell solves of the step
    failures: list = dataclasses.field(default_factory=list)      # the attempts cut back, see Problem.solve
    tangent: np.ndarray = dataclasses.field(default=None, repr=False)  # given to the callback only, see Problem.solve

    @property
    def ratios(self):
        """r_k / r_(k-1)^2 of every Newton iteration k >= 1 (NaN after a zero residual): bounded
        when the convergence is quadratic."""
        return newton_ratios(self.residuals)


def newton_ratios(residuals):
    """r_k / r_(k-1)^2 for k = 1 .. len(residuals) - 1 of a residual history (NaN where r_(k-1) = 0)."""
    r = np.asarray(residuals, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return [float(v) if np.isfinite(v) else float("nan") for v in r[1:] / r[:-1] ** 2]


class Problem:
    """A macro boundary-value problem on ``mesh`` with phase laws ``materials`` (see :class:`fe2.cell.body.Body`).

    ``body_force``: a number per component (a number for conduction: a heat source), or a function of
    the positions x (dim, ...) returning (ncomp, ...) or (...), ``f(x)`` (full load, scaled by the load
    factor) or ``f(x, load)`` (the body force at that load factor), as :class:`Traction` values; loads
    are integrated with the quadrature of order 2 * order + 2. A 2D elastic problem is plane strain or
    plane stress as its laws are made (``fe2.Isotropic(E, nu, plane="stress")``; ``self.body.plane``).
    """

    def __init__(self, mesh, materials, *, dirichlet=(), neumann=(), body_force=None, order=1):
        for bc in (*dirichlet, *neumann):
            if not isinstance(bc, (Dirichlet, Traction)):
                raise ValueError(f"boundary conditions must be fe2.macro.Dirichlet or Traction, got {bc!r}")
        names = set((mesh.boundaries or {}).keys())
        missing = sorted({bc.boundary for bc in (*dirichlet, *neumann)} - names)
        if missing:
            raise ValueError(f"the macro mesh has no boundary named {missing}; it has {sorted(names)}")
        if not dirichlet:
            raise ValueError("the macro problem needs at least one Dirichlet condition to be well posed")
        self.body = Body(mesh, materials, order=order)
        self.dirichlet, self.neumann, self.body_force = tuple(dirichlet), tuple(neumann), body_force
        self._fixed, self._prescribed = dirichlet_dofs(self.dirichlet, self.body.mesh, self.body.physics.ncomp,
                                                      physics=self.body.physics.name, basis=self.body.basis,
                                                      where="macro mesh")
        free = np.ones(self.body.ndofs, dtype=bool)
        free[self._fixed] = False
        self.map = np.full(self.body.ndofs, -1)
        self.map[free] = np.arange(free.sum())
        self.n = int(free.sum())
        self.pattern = Pattern(self.body.dofs, self.map, self.n)   # the tangent stiffness pattern, analysed once
        self.f_ext, self._varying = self._loads()
        self._at = None   # (load factor, f_ext there) of the last load asked for, when loads vary with it

    # --- loads and constraints ------------------------------------------------------------------
    def _loads(self):
        """The proportional external force (numbers and functions f(x), at full load) and the loads
        f(x, load) to assemble at each load factor, as (what, points, operator, function)."""
        body, ncomp = self.body, self.body.physics.ncomp
        f = np.zeros(body.ndofs)
        varying = []
        intorder = 2 * body.order + 2
        loads = [(f"traction on {bc.boundary!r}", bc.value,
                  FacetBasis(body.mesh, body.basis.elem, facets=body.mesh.boundaries[bc.boundary], intorder=intorder))
                 for bc in self.neumann]
        if self.body_force is not None:
            loads.append(("body force", self.body_force, Basis(body.mesh, body.basis.elem, intorder=intorder)))
        for what, value, basis in loads:
            x, operator = load_operator(basis)
            if not callable(value):
                value = _components(value, ncomp, what)
                values = np.broadcast_to(value.reshape((ncomp,) + (1,) * (x.ndim - 1)), (ncomp,) + x.shape[1:])
            elif takes_load(value, what):
                load_values(value, x, ncomp, what, load=1.0)    # checked now, before any step is solved
                varying.append((what, x, operator, value))
                continue
            else:
                values = load_values(value, x, ncomp, what)
            f += _scatter(operator, values)
        return f, varying

    def external_force(self, load):
        """f_ext at the load factor ``load``: ``load`` times the proportional loads, plus the loads
        f(x, load) assembled there (kept for the last load factor asked for)."""
        if not self._varying:
            return load * self.f_ext
        if self._at is None or self._at[0] != load:
            ncomp = self.body.physics.ncomp
            f = load * self.f_ext
            for what, x, operator, function in self._varying:
                f = f + _scatter(operator, load_values(function, x, ncomp, what, load=load))
            self._at = (load, f)
        return self._at[1]

    # --- solution ----------------------------------------------------------------------------------
    def initial_states(self):
        return self.body.initial_states()

    def residual(self, u, states, load):
        """(f_int - f_ext(load), stress, tangent, new states) at the field u."""
        stress, tangent, new = self.body.respond(self.body.strain(u), states)
        f_int = self.body.nodal_forces(stress)
        return f_int - self.external_force(load), stress, tangent, new

    def reaction(self, stress, boundary, component=0):
        """The total reaction on the named ``boundary`` in ``component``: the sum of the internal
        nodal forces f_int = sum_q w_q B_q^T stress_q of the quadrature-point ``stress`` (a step's
        ``stress``) over that boundary's DOFs of the component. At finite strain the stress is P, so
        this is the nominal force (per unit thickness in 2D) in the reference configuration."""
        if boundary not in (self.body.mesh.boundaries or {}):
            raise ValueError(f"the macro mesh has no boundary named {boundary!r}; it has "
                             f"{sorted(self.body.mesh.boundaries or {})}")
        dofs, _ = dirichlet_dofs([Dirichlet(boundary, 0.0, components=(component,))], self.body.mesh,
                                 self.body.physics.ncomp, physics=self.body.physics.name, basis=self.body.basis)
        return float(self.body.nodal_forces(np.asarray(stress, dtype=float))[dofs].sum())

    def stiffness(self, tangent):
        """The stored values of the tangent stiffness on ``self.pattern`` at the material tangent
        ``tangent`` (a transient problem adds its capacity term)."""
        return self.body.linearize(tangent).stiffness(self.pattern)

    def solve(self, steps=10, *, tol=1e-8, max_iterations=12, max_cutbacks=6, min_increment=1e-6, callback=None,
              checkpoint=None, restart=False):
        """Load from 0 to 1 through the load factors of ``steps``: a count of equal increments or an
        increasing sequence ending at 1. A step that fails is halved (the step tried, which the
        schedule may have made shorter than the increment), at most ``max_cutbacks`` times in a row
        and never below ``min_increment``; after an easy step (no cut-back, at most half the allowed
        iterations) the increment doubles, up to 1, no step passing the next scheduled load.
        After each
        converged step, ``callback(step, u, states, problem)`` runs (output) and, if ``checkpoint``
        is a path, the committed state is saved there with a fingerprint of the inputs
        (:mod:`fe2.io.checkpoint`); the checkpoint's folder is held for this run meanwhile
        (:func:`fe2.io.files.run_lock`: another process asking for it is refused). ``restart=True``
        continues from the checkpoint, after checking that this problem's inputs and load schedule
        are those it records (:class:`fe2.io.checkpoint.CheckpointError` naming the first that
        differs, or saying that the run is finished). Returns
        the converged steps (with restart, those of this run). The settings used are kept in
        ``self.settings``; each step carries its wall time and its time split (see :class:`Step`),
        and in ``failures`` one entry per attempt that was cut back: {"load" tried, "increment" after
        the cut, "reason", and where a material point failed (det F <= 0, a cell solve)
        "element", "quadrature point"}. The step handed to ``callback`` carries the consistent
        material tangent at its quadrature points (``tangent``, (nel, nqp, n, n): for output such as
        the ellipticity of :mod:`fe2.stability`); the returned steps do not keep it (memory).
        The log goes through :mod:`logging`, logger "fe2.macro.problem": each Newton iteration
        (with r_k / r_(k-1)^2) and each step (with all its ratios) at INFO, each cut-back at WARNING
        naming the step, the load tried and the failed point (``fe2.logs.show()`` prints them)."""
        schedule = _schedule(steps)   # bad settings are refused before any work
        _check_settings(tol, max_iterations, max_cutbacks, min_increment, callback)
        self.settings = {"tol": tol, "max_iterations": max_iterations, "max_cutbacks": max_cutbacks,
                         "min_increment": min_increment, "schedule": schedule.tolist()}
        u = np.zeros(self.body.ndofs)
        states = self.initial_states()
        load, increment, number, cutbacks = 0.0, schedule[0], 0, 0  # cut-backs of the current step
        if restart and checkpoint is None:
            raise ValueError("restart=True needs the checkpoint path")
        # the checkpoint's folder is this run's until it ends; the inputs are recorded with each checkpoint
        held = run_lock(Path(checkpoint).parent) if checkpoint is not None else contextlib.nullcontext()
        inputs = _checkpoint.inputs(self, schedule) if checkpoint is not None else None
        with held:
            if restart:
                saved = _checkpoint.load(checkpoint)
                _checkpoint.check_restart(saved, checkpoint, inputs)
                load, u, states, increment, number = (saved["load"], saved["u"], saved["states"], saved["increment"],
                                                      saved["number"])
                logger.info("restarting from %s: step %d, load %.4g", checkpoint, number, load)
            done = []
            start = time.perf_counter()
            step_start, timings, solves, failures = start, _no_time(), _no_solves(), []
            while load < 1 - 1e-12:
                target = min(schedule[np.argmax(schedule > load + 1e-12)], load + increment)
                try:
                    u_new, states_new, residuals, stress, tangent = self._newton(u, states, target, tol, max_iterations,
                                                                                 timings, solves)
                except CURABLE as error:
                    cutbacks += 1
                    attempted = target - load   # the step tried, which the schedule may have made shorter
                    if cutbacks > max_cutbacks or attempted / 2 < min_increment:
                        raise DivergenceError(f"load step {number + 1} to {target:.4g} failed after {cutbacks - 1} "
                                              f"cut-backs (last increment {attempted:.3g}): {error}") from None
                    increment = attempted / 2
                    failures.append(_failure(target, increment, error))
                    logger.warning("  step %d to load %.4g failed (%s); cutting the increment to %.4g", number + 1,
                                   target, error, increment)
                    continue
                load, u, states, number = target, u_new, states_new, number + 1    # commit
                step = Step(number, load, u.copy(), residuals, cutbacks, stress, seconds=time.perf_counter() - step_start,
                            timings=timings, cell_solves=solves, failures=failures, tangent=tangent)
                done.append(dataclasses.replace(step, tangent=None))   # the tangent goes to the callback only
                if cutbacks == 0 and len(residuals) - 1 <= max_iterations // 2:
                    increment = min(2 * increment, 1.0)   # never beyond the whole load range
                cutbacks = 0
                logger.info("step %d: load %.4g converged in %d iterations (%.1f s); r_k/r_(k-1)^2: %s", number, load,
                            len(residuals) - 1, time.perf_counter() - start,
                            ", ".join(f"{v:.2g}" for v in step.ratios) or "-")
                if callback is not None:
                    callback(step, u, states, self)
                if checkpoint is not None:  # histories kept on workers are gathered, once per step
                    portable = {name: (self.body.materials[name].histories(state)
                                       if hasattr(self.body.materials[name], "histories") else state)
                                for name, state in states.items()}
                    _checkpoint.save(checkpoint, load=load, u=u, states=portable, increment=increment, number=number,
                                     ndofs=self.body.ndofs, inputs=inputs)
                step_start, timings, solves, failures = time.perf_counter(), _no_time(), _no_solves(), []
        self.states = states
        return done

    def _newton(self, u, states, load, tol, max_iterations, timings=None, counts=None):
        """Newton from the committed field ``u`` and ``states`` to equilibrium at ``load``: (field,
        new states, residual norms, stress, tangent). Each correction of the consistent tangent is damped by a
        backtracking line search on the norm of the free residual: the full step is taken when it
        lowers the norm by the Armijo fraction, else it is halved, down to 1/64 (the smallest step is
        taken if none does). A trial point whose material points fail (a micro Newton or a return
        mapping that does not converge) counts as no decrease, down to the step 1/4: a failure there
        ends the attempt (the step is cut back). Near the solution the full step
        passes, so the convergence stays quadratic. Every trial starts from the committed
        ``states``, and the iterate kept is always the last one evaluated (an RVELaw keeps only its
        latest trial histories on the workers). _NewtonFailure if it does not converge."""
        timings = _no_time() if timings is None else timings  # seconds per phase, accumulated over the step
        counts = _no_solves() if counts is None else counts    # cell solves, accumulated over the step
        free = self.map >= 0
        start = u
        u = u.copy()
        u[self._fixed] = load * self._prescribed
        residuals = []
        cells = sum(self.body.phase_elements[k].size * self.body.dx.shape[1]
                    for k, name in enumerate(self.body.phases) if hasattr(self.body.materials[name], "histories"))

        def evaluate(u):
            """The residual, stress, tangent and new states at the field u, timed and counted."""
            clock = time.perf_counter()
            answer = self.residual(u, states, load)
            timings["material points"] += time.perf_counter() - clock
            for name, state in answer[3].items():
                if hasattr(self.body.materials[name], "solves"):
                    count, elastic = self.body.materials[name].solves(state)
                    counts["newton"] += count - elastic
                    counts["elastic"] += elastic
            return answer

        clock, evaluations, step = time.perf_counter(), 1, 1.0
        r, stress, tangent, new = evaluate(u)
        for iteration in range(max_iterations + 1):
            solves = f", {evaluations * cells} cell solves in {time.perf_counter() - clock:.2f} s" if cells else ""
            damped = f", line search step {step:g}" if step < 1 else ""
            reactions = np.linalg.norm(r[self._fixed]) if self._fixed.size else 0.0
            scale = max(np.linalg.norm(self.external_force(load)), reactions, 1e-300)
            norm = np.linalg.norm(r[free]) / scale
            residuals.append(norm)
            rate = f", r/r_prev^2 = {norm / residuals[-2] ** 2:.2e}" if iteration and residuals[-2] > 0 else ""
            logger.info("    newton %d: |r| = %.3e%s%s%s", iteration, norm, rate, damped, solves)
            if not np.isfinite(norm):
                raise _NewtonFailure(f"non-finite residual at iteration {iteration}")
            if norm <= tol:
                self._check_strain_range(start, u, load)
                return u, new, residuals, stress, tangent
            if iteration == max_iterations:
                raise _NewtonFailure(f"no convergence in {max_iterations} iterations (|r| = {norm:.2e})")
            clock = time.perf_counter()
            data = self.stiffness(tangent)
            timings["assembly"] += time.perf_counter() - clock
            clock = time.perf_counter()
            du = -self.pattern.factorize(data).solve(r[free])
            timings["linear solve"] += time.perf_counter() - clock
            clock, evaluations, step, current = time.perf_counter(), 0, 1.0, np.linalg.norm(r[free])
            while True:  # backtrack on the free residual norm
                trial = u.copy()
                trial[free] += step * du
                evaluations += 1
                try:
                    answer = evaluate(trial)
                    trial_norm = np.linalg.norm(answer[0][free])
                except CURABLE as error:   # a material point failed at this trial: as no decrease
                    answer, trial_norm = error, np.inf
                if trial_norm <= (1 - 1e-4 * step) * current:
                    break
                if isinstance(answer, Exception) and step <= 1 / 4:   # a failure that short steps do not cure:
                    failure = _NewtonFailure(f"iteration {iteration + 1} failed down to the line search step "  # cut back
                                             f"{step:g}: {answer}")
                    failure.point = getattr(answer, "point", None)   # (element, quadrature point) where known
                    raise failure from None
                if step <= 1 / 64:
                    break
                step /= 2
            u, (r, stress, tangent, new) = trial, answer

    def _check_strain_range(self, start, u, load):
        """Warn (:class:`fe2.materials.law.StrainRangeWarning`) when the converged field ``u`` of an
        elastic body has a strain beyond the small-strain range at some point while the field
        ``start`` it came from had none: once, as the range is left, naming the size and the point."""
        if self.body.physics.name != "elasticity":
            return
        size, (element, q) = largest_strain(self.body.strain(u))
        if size <= SMALL_STRAIN or largest_strain(self.body.strain(start))[0] > SMALL_STRAIN:
            return
        phase = next(name for k, name in enumerate(self.body.phases) if np.isin(element, self.body.phase_elements[k]))
        centre = np.round(self.body.mesh.p[:, self.body.mesh.t[:, element]].mean(axis=1), 4).tolist()
        warn_from_caller(f"the macro strain leaves the small-strain range at load {load:.4g}: |eps| = {size:.3g} > "
                         f"{SMALL_STRAIN:g} at element {element} (centre {centre}), quadrature point {q}, phase "
                         f"{phase!r} ({self.body.materials[phase]!r}); a small-strain law extrapolates there")


class _NewtonFailure(RuntimeError):
    point = None


def _failure(load, increment, error):
    """The record of an attempt cut back: the load tried, the increment after the cut, the reason,
    and the element and quadrature point of a failed material point where the error names one."""
    entry = {"load": float(load), "increment": float(increment), "reason": str(error), "error": type(error).__name__}
    point = getattr(error, "point", None)
    if isinstance(point, tuple) and len(point) == 2:
        entry["element"], entry["quadrature point"] = int(point[0]), int(point[1])
    return entry


def _no_solves():
    """The cell solves of a step before its first iteration: by Newton, and elastic increments."""
    return {"newton": 0, "elastic": 0}


def _no_time():
    """The time split of a step before its first iteration."""
    return {"material points": 0.0, "assembly": 0.0, "linear solve": 0.0}


# failures that a smaller load increment can cure: a macro or micro Newton that did not converge,
# a return mapping that did not, a singular or non-finite linear solve
CURABLE = (MicroDivergence, _NewtonFailure, ReturnMappingError, DeformationError, FloatingPointError,
           np.linalg.LinAlgError)


def _schedule(steps):
    """The scheduled load factors: ``steps`` equal increments, or the given increasing factors;
    ValueError for anything else (zero, negative, fractional, NaN or infinite counts or factors)."""
    if np.ndim(steps) == 0:
        if (isinstance(steps, (bool, np.bool_)) or not isinstance(steps, numbers.Real) or not np.isfinite(steps)
                or int(steps) != steps or steps < 1):
            raise ValueError(f"steps must be a positive whole number or a list of load factors, got {steps!r}")
        return np.arange(1, int(steps) + 1) / int(steps)
    try:
        schedule = np.asarray(steps, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"a load schedule must be a list of numbers, got {steps!r}") from None
    if (schedule.ndim != 1 or schedule.size == 0 or not np.all(np.isfinite(schedule)) or np.any(np.diff(schedule) <= 0)
            or schedule[0] <= 0 or schedule[-1] != 1):
        raise ValueError(f"a load schedule must increase from above 0 to exactly 1, got {schedule.tolist()}")
    return schedule


def _check_settings(tol, max_iterations, max_cutbacks, min_increment, callback):
    """ValueError (TypeError for the callback) naming the first setting of Problem.solve that is not usable."""
    def whole(value, least):
        return (not isinstance(value, (bool, np.bool_)) and isinstance(value, numbers.Integral) and value >= least)

    def positive(value):
        return not isinstance(value, (bool, np.bool_)) and isinstance(value, numbers.Real) and 0 < value < np.inf

    if not positive(tol):
        raise ValueError(f"tol must be a positive finite number, got tol={tol!r}")
    if not whole(max_iterations, 1):
        raise ValueError(f"max_iterations must be a whole number >= 1, got max_iterations={max_iterations!r}")
    if not whole(max_cutbacks, 0):
        raise ValueError(f"max_cutbacks must be a whole number >= 0, got max_cutbacks={max_cutbacks!r}")
    if not (positive(min_increment) and min_increment <= 1):
        raise ValueError(f"min_increment must be a number in (0, 1], got min_increment={min_increment!r}")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be a function callback(step, u, states, problem) or None, got {callback!r}")


def load_operator(basis):
    """(x, M) of a scalar scikit-fem basis (cells or facets): the quadrature points x (dim, n, nqp)
    and the sparse M with (M g)_a = sum_q w_q phi_a(x_q) g(x_q), the load vector of the values g at
    the points, flattened (n * nqp,)."""
    x = np.asarray(basis.global_coordinates())
    phi = np.stack([np.asarray(b) for (b,) in basis.basis]) * np.asarray(basis.dx)     # (nloc, n, nqp)
    columns = np.broadcast_to(np.arange(phi[0].size).reshape(phi.shape[1:]), phi.shape)
    rows = np.broadcast_to(basis.element_dofs[:, :, None], phi.shape)
    return x, sp.csr_matrix((phi.ravel(), (rows.ravel(), columns.ravel())), shape=(basis.N, phi[0].size))


def _scatter(operator, values):
    """The interleaved load vector (N * ncomp,) of values (ncomp, n, nqp) at the points of ``operator``."""
    return (operator @ values.reshape(values.shape[0], -1).T).ravel()


def _components(value, ncomp, what):
    """A load given as a number per component (a number alone for a scalar field)."""
    try:
        value = np.atleast_1d(np.asarray(value, dtype=float))
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be {ncomp} number(s), got {value!r}") from None
    if value.shape != (ncomp,):
        raise ValueError(f"{what} needs {ncomp} component(s), got {value.tolist()}")
    if not np.all(np.isfinite(value)):
        raise ValueError(f"{what} must be finite, got {value.tolist()}")
    return value
