"""A material-point law backed by a cell: FE² in one class.

    law = fe2.RVELaw(cell, "periodic")
    stress, tangent, state = law.response(strains, state)   # strains (..., n), one cell solve per point

It answers the same interface as the analytic laws of :mod:`fe2.materials` and :mod:`fe2.materials.plasticity`,
so a macro solver cannot tell them apart. Cells whose phases are all linear are solved once: their
effective tensor serves every point. Otherwise every point carries its own micro history (the phase
states and its last converged field, the start of its next Newton solve), and ``response`` returns
new histories without touching the given ones.

With an ``executor`` (:mod:`fe2.parallel`), the points are dealt out to the workers in turn (point i
to worker i mod W: neighbouring points, which yield together, go to different workers, so each gets
its share of the plastic zone) and each worker's histories stay on it (a :class:`MicroWorker`): ``response`` sends strains and gets
stresses and tangents back, and the state it returns is a small :class:`Histories` token. Passing a
token back commits that version on the workers (the macro step converged); passing the previous one
again starts over from it (a cut-back). ``histories(state)`` gathers the full histories, once per
step, for checkpoints and output; a gathered array given back as the state seeds the workers again.
"""

import functools
import itertools

import numpy as np

from ..cell import linalg, nonlinear
from ..cell.conditions import condition
from ..materials.hyperelastic import deformations
from .. import stability
from ..materials.law import DeformationError, Law
from ..materials.viscoelastic import advance as advance_states, check_step, rate_dependent
from ..parallel import Progress, WorkerLost


class Histories:
    """A version of the micro histories of an array of points, kept on the workers; ``elastic``: how
    many of the cell solves that made it were elastic increments (no Newton iteration)."""

    def __init__(self, version, shape, elastic=0):
        self.version, self.shape, self.elastic = version, tuple(shape), int(elastic)

    def __repr__(self):
        return f"Histories(version {self.version}, {self.shape})"


class Stepped:
    """Micro histories carried into a time step of size ``dt`` (:meth:`RVELaw.advance`): before each
    point's cell solve, its rate-dependent phases are advanced to that step."""

    def __init__(self, state, dt):
        self.state, self.dt = state, dt

    def __repr__(self):
        return f"Stepped({self.state!r}, dt={self.dt:g})"


def solve_point(cell, bc, settings, strain, history, number, dt=None):
    """One point's cell solve at the macro ``strain`` from its ``history`` (None: virgin; its field is
    the start of the micro Newton): (the :class:`fe2.cell.nonlinear.MicroSolution`, the new history).
    ``settings``: the keywords of :func:`fe2.nonlinear.solve` (tol, max_iterations, solver);
    ``number``: the point's index among all of the law's points (named in errors, and as the
    ``point`` attribute of the MicroDivergence raised); ``dt``: the time step of the rate-dependent
    phases (None: as the history holds it)."""
    micro, guess = (None, None) if history is None else (history["micro"], history["field"])
    if dt is not None:
        micro = advance_states(cell.materials, cell.initial_states() if micro is None else micro, dt)
    try:
        solution = nonlinear.solve(cell, strain, bc, micro, guess=guess, **settings)
    except nonlinear.MicroDivergence as error:
        failure = nonlinear.MicroDivergence(f"material point {number}: {error}", error.residuals)
        failure.point = int(number)
        raise failure from None
    except DeformationError as error:   # det F <= 0 inside the cell: named by the macro point (cut back)
        raise DeformationError(f"material point {number}, in its cell: {error}", int(number)) from None
    return solution, {"micro": solution.state, "field": solution.field, "strain": strain,
                      "hill_mandel": solution.hill_mandel, "iterations": solution.iterations,
                      "residuals": list(solution.residuals), "elastic": solution.elastic}


def _solve_points(cell, bc, settings, strains, histories, numbers, dt=None):
    """Cell solves of the points (m, n) from their histories (:func:`solve_point`): stress, tangent,
    new histories; ``numbers``: the points' indices among all of the law's points."""
    stress = np.empty_like(strains)
    tangent = np.empty(strains.shape + strains.shape[-1:])
    new = np.empty(len(strains), dtype=object)
    for i, (E, history) in enumerate(zip(strains, histories)):
        solution, new[i] = solve_point(cell, bc, settings, E, history, numbers[i], dt)
        stress[i], tangent[i] = solution.stress, solution.tangent
    return stress, tangent, new


class MicroWorker:
    """The micro histories of some of the macro points (their indices ``points`` among all of the
    law's points), on the worker that owns them."""

    def __init__(self, cell, bc, settings, points):
        self.cell, self.bc, self.settings, self.points = cell, bc, settings, points
        self.committed, self.version = np.full(len(points), None, dtype=object), 0
        self.trial, self.trial_version = None, None

    def _at(self, version):
        if version == self.version:
            return self.committed
        if version == self.trial_version:
            return self.trial
        raise KeyError(f"micro histories of version {version} are not on this worker "
                       f"(it has {self.version} and {self.trial_version})")

    def solve(self, indices, strains, base, new, dt=None):
        """Solve the points ``indices`` (positions among this worker's points) of the trial
        ``new`` from the histories of version ``base`` (over a time step ``dt``, if given)."""
        if new != self.trial_version:
            if base != self.version:  # the macro problem committed the last trial
                self.committed, self.version = self._at(base), base
            self.trial, self.trial_version = self.committed.copy(), new
        stress, tangent, self.trial[indices] = _solve_points(self.cell, self.bc, self.settings, strains,
                                                             self.committed[indices], self.points[indices], dt)
        return stress, tangent, sum(bool(history["elastic"]) for history in self.trial[indices])

    def histories(self, version):
        return self._at(version)

    def seed(self, histories, version):
        self.committed, self.version, self.trial, self.trial_version = np.asarray(histories, dtype=object), version, None, None


class RVELaw(Law):
    """The averaged stress and consistent tangent of ``cell`` under ``bc`` as a material-point law.
    ``tol``, ``max_iterations``, ``solver``: of each micro Newton solve (:func:`fe2.nonlinear.solve`;
    ``solver="auto"`` keeps 2D and small 3D cells on the direct path and takes large 3D cells to CG with
    the virgin cell's AMG hierarchy)."""

    is_field = False

    def __init__(self, cell, bc="periodic", *, tol=1e-10, max_iterations=25, solver="auto", executor=None,
                 progress=False):
        if not tol > 0 or int(max_iterations) < 1:
            raise ValueError(f"tol must be positive and max_iterations at least 1, got tol={tol}, max_iterations={max_iterations}")
        if solver not in linalg.SOLVERS:
            raise ValueError(f"unknown solver {solver!r}; use one of {', '.join(map(repr, linalg.SOLVERS))}")
        self.cell, self.bc = cell, condition(bc)   # a cell never changes, so it is shared, not copied
        self.physics = cell.physics.name
        self.plane = cell.plane or "strain"   # a 2D elastic cell answers in its own hypothesis (Body.plane)
        self.tol, self.max_iterations, self.solver = tol, max_iterations, solver
        self._settings = {"tol": tol, "max_iterations": max_iterations, "solver": solver}   # of each micro solve
        self.linear = cell.linear
        self.rate_dependent = any(rate_dependent(law) for law in cell.materials.values())
        self._elastic = cell.linearize().bind(self.bc).tangent()  # the effective tangent of the virgin cell
        self.executor = None if self.linear else executor
        self.progress = progress  # show cell solves done / total within each response
        self._workers, self._chunks, self._versions, self._seeded = None, None, itertools.count(1), None

    def tensor(self, dim):
        """The effective tangent of the virgin cell (for a linear cell, its effective tensor)."""
        if dim != self.cell.dim:
            raise ValueError(f"a {self.cell.dim}D cell cannot answer for a {dim}D material point")
        return self._elastic

    def initial_state(self, shape):
        """Virgin micro histories of an array of points (None entries: the cell's initial states);
        with an executor, a token of the virgin histories placed on the workers."""
        if self.linear:
            return None
        if self.executor is None:
            return np.full(shape, None, dtype=object)
        return self._place(np.full(shape, None, dtype=object))

    def _place(self, histories):
        """Deal the points out to the workers (once) and seed them with ``histories``; a token."""
        flat = np.asarray(histories, dtype=object).reshape(-1)
        if self._workers is None:
            workers = self.executor.workers
            self._chunks = [chunk for chunk in (np.arange(w, flat.size, workers) for w in range(workers)) if len(chunk)]
            self._workers = [self.executor.actor(MicroWorker, self.cell, self.bc, self._settings, chunk)
                             for chunk in self._chunks]
        if sum(len(chunk) for chunk in self._chunks) != flat.size:
            raise ValueError(f"{flat.size} micro histories for the {sum(map(len, self._chunks))} points on the workers")
        version = next(self._versions)
        for future in [w.call("seed", flat[chunk], version) for w, chunk in zip(self._workers, self._chunks)]:
            future.result()
        return Histories(version, np.shape(histories))

    def advance(self, state, dt):
        """The histories ``state`` carried into a time step of size ``dt`` (a :class:`Stepped`): at the
        next response, every point's rate-dependent cell phases are advanced to dt
        (:func:`fe2.materials.viscoelastic.advance`). A cell without such phases: ``state`` as given."""
        dt = check_step(dt)
        if not self.rate_dependent:
            return state
        return Stepped(state.state if isinstance(state, Stepped) else state, dt)

    def response(self, strain, state=None):
        strain = np.asarray(strain, dtype=float)
        dt = None
        if isinstance(state, Stepped):
            state, dt = state.state, state.dt
        if self.linear:
            C = self._elastic
            return strain @ C.T, np.broadcast_to(C, strain.shape + C.shape[-1:]), state
        shape = strain.shape[:-1]
        points = strain.reshape(-1, strain.shape[-1])
        if self.physics == "finite strain":
            deformations(points)   # DeformationError naming the first macro point with det F <= 0 (cut back)
        stress, tangent = np.empty_like(points), np.empty(points.shape + points.shape[-1:])
        bar = Progress(len(points), "cells", enabled=self.progress)
        if self.executor is None:
            states = np.full(len(points), None, dtype=object) if state is None else np.asarray(state, dtype=object).reshape(-1)
            if states.size != len(points):
                raise ValueError(f"{states.size} micro histories for {len(points)} points")
            new = np.empty(len(points), dtype=object)
            for piece in np.array_split(np.arange(len(points)), min(len(points), 16)):
                stress[piece], tangent[piece], new[piece] = _solve_points(self.cell, self.bc, self._settings,
                                                                          points[piece], states[piece], piece, dt)
                bar.update(len(piece))
            return stress.reshape(strain.shape), tangent.reshape(shape + tangent.shape[-2:]), new.reshape(shape)
        if not isinstance(state, Histories):  # virgin, or gathered histories (a restart): seed the workers once
            if self._seeded is None or self._seeded[0] is not state:
                self._seeded = (state, self._place(np.full(shape, None, dtype=object) if state is None else state))
            state = self._seeded[1]
        version = next(self._versions)
        # each worker's points in a few pieces, issued round-robin, so that progress can be shown
        pieces = [[(w, local, chunk[local]) for local in np.array_split(np.arange(len(chunk)), min(len(chunk), 8))]
                  for w, chunk in zip(self._workers, self._chunks) if len(chunk)]
        calls = [(w.call("solve", local, points[glob], state.version, version, dt), glob)
                 for row in itertools.zip_longest(*pieces) for w, local, glob in filter(None, row)]
        failure, lost, elastic = None, None, 0
        for future, glob in calls:  # read every answer, even after a failure, so none is left unread
            try:
                stress[glob], tangent[glob], count = future.result()
                elastic += count
            except WorkerLost as error:  # no cut-back brings a lost worker back: it outranks a failed cell
                lost = lost or error
            except Exception as error:
                failure = failure or error
            bar.update(len(glob))
        if lost is not None or failure is not None:
            raise lost or failure
        return (stress.reshape(strain.shape), tangent.reshape(shape + tangent.shape[-2:]),
                Histories(version, shape, elastic))

    def solves(self, state):
        """(cell solves, of which elastic increments) that made the new ``state`` of a response."""
        if self.linear or state is None:
            return 0, 0
        if isinstance(state, Histories):
            return int(np.prod(state.shape)), state.elastic
        histories = np.asarray(state, dtype=object).ravel()
        return histories.size, sum(bool(h is not None and h.get("elastic")) for h in histories)

    def histories(self, state):
        """The full micro histories of ``state`` as an object array (gathered from the workers)."""
        if not isinstance(state, Histories):
            return state
        flat = np.empty(int(np.prod(state.shape)), dtype=object)
        futures = [w.call("histories", state.version) for w in self._workers]
        for future, chunk in zip(futures, self._chunks):
            flat[chunk] = future.result()
        return flat.reshape(state.shape)

    def plastic_strain(self, history):
        """Volume average over the cell of the accumulated plastic strain p of a point's history."""
        if history is None:
            return 0.0
        total = 0.0
        for index, name in enumerate(self.cell.phases):
            micro = history["micro"].get(name)
            if isinstance(micro, dict) and "p" in micro:
                total += np.sum(self.cell.dx[self.cell.phase_elements[index]] * micro["p"])
        return total / self.cell.volume

    def summaries(self, state):
        """Per point: the cell-averaged plastic strain and the Hill-Mandel residual of its last solve."""
        histories = np.asarray(self.histories(state), dtype=object)
        p = np.array([self.plastic_strain(h) for h in histories.ravel()]).reshape(histories.shape)
        hm = np.array([0.0 if h is None else h["hill_mandel"] for h in histories.ravel()]).reshape(histories.shape)
        return p, hm

    def micro_ellipticity(self, state):
        """Finite strain: per point (the shape of the state's points), the least value of the acoustic
        tensor over every micro point of its converged cell (:func:`fe2.stability.ellipticity` of the
        micro tangents at the cell's field and history), and the micro element where it is taken (-1
        and NaN for a point without history). Costs a constitutive evaluation and ~15 us (2D) per
        micro point: for output steps."""
        if self.physics != "finite strain":
            raise ValueError(f"the ellipticity of the micro tangent is a finite-strain measure; this cell is {self.physics}")
        histories = np.asarray(self.histories(state), dtype=object)
        least, where = np.full(histories.shape, np.nan), np.full(histories.shape, -1)
        for index in np.ndindex(histories.shape):
            history = histories[index]
            if history is not None:
                tangent = self.cell.respond(self.cell.strain(history["field"]), history["micro"])[1]
                values = stability.ellipticity(tangent)[0].min(axis=1)     # per micro element
                where[index] = int(np.argmin(values))
                least[index] = values[where[index]]
        return least, where

    def out_of_plane_stress(self, strain, state=None):
        """Plane strain: sigma_zz of the points (...,), the cell average of the micro sigma_zz
        (:meth:`fe2.cell.body.Body.out_of_plane_stress` of the cell), for the strains (..., 3) and the
        state a response returned for them (its histories hold the converged cell fields). A linear cell, or a point
        without history, answers from the virgin cell's unit fields. A finite-strain cell: P_zz, the
        average over the reference cell of the micro P_zz (F_zz = 1 throughout), for the gradients
        (..., 4); NaN for a point without history."""
        strain = np.asarray(strain, dtype=float)
        if self.physics == "finite strain":   # P_zz; a point without history: not known
            out = np.full(strain.shape[:-1], np.nan)
            if state is None:
                return out
        else:
            out = strain @ self._out_of_plane_row
        if self.linear or state is None:
            return out
        histories = np.asarray(self.histories(state), dtype=object)
        if histories.shape != strain.shape[:-1]:
            raise ValueError(f"micro histories of shape {histories.shape} for strains of shape {strain.shape}: "
                             f"give the state a response returned for these strains")
        for index in np.ndindex(histories.shape):
            history = histories[index]
            if history is not None:
                strain_micro = self.cell.strain(history["field"])
                out[index] = self.cell.average(self.cell.out_of_plane_stress(strain_micro, history["micro"]))
        return out

    @functools.cached_property
    def _out_of_plane_row(self):
        """The averaged sigma_zz of the virgin cell per unit macro strain (xx, yy, xy)."""
        problem = self.cell.linearize().bind(self.bc)
        return np.array([self.cell.average(self.cell.out_of_plane_stress(self.cell.strain(problem.field(E))))
                         for E in np.eye(self.cell.physics.size)])

    def micro_stress(self, history):
        """The quadrature-point stress of a point's converged micro field."""
        return self.cell.respond(self.cell.strain(history["field"]), history["micro"])[0]

    def __repr__(self):
        return f"RVELaw({self.cell!r}, {self.bc.name}{', linear' if self.linear else ''})"
