"""Adaptive concurrent FE² for history-dependent cells: points whose macro strain paths are close
share one cell solve.

    law = AdaptiveRVELaw(cell, "periodic", tol=1e-2)
    problem = fe2.macro.Problem(mesh, {"plate": law}, ...)          # a law like any other
    law.record(problem.states["plate"])                               # active fraction, measured error

The committed strain path of point i is the sequence E_i(1), ..., E_i(k) of its converged macro
strains (Mandel vectors), with E_i(k+1) extrapolated one increment ahead, 2 E_i(k) - E_i(k-1). The
distance of two points is the largest difference of their paths, relative to the largest strain
norm seen,

    d(i, j) = max_t |E_i(t) - E_j(t)| / max_{l,t} |E_l(t)|.

Each step, the points are grouped greedily around leaders (each point within ``radius`` of its
leader); a leader (an *active* point) is solved in full from its micro history, and a point that
shares it answers with the leader's answer carried to its own strain to first order,

    S_i = S_L + C_L (E_i - E_L),   C_i = C_L,   h_i <- h_L (the leader's new micro history).

Two choices of (S_L, C_L, E_L), ``carry``:

- "trial" (the default): the leader's answer at the current Newton iterate. Accurate (the carried
  error is second order in E_i - E_L away from yield), but S_i depends on the leader's strain
  through C_L, which the point's tangent omits: the macro Newton converges linearly (measured rate
  ~0.2 per iteration on the J2 plate), and on finer macro meshes it can stall.
- "committed": the leader's answer at the end of the last step, fixed during the step. S_i is then a
  function of E_i alone and C_i its exact derivative: the macro Newton keeps its quadratic rate;
  but the answer is a linear extrapolation over the whole step, whose error at the onset of
  yielding is large (measured ~9e-2 of the largest stress on the J2 plate, 4 steps).

Error control: the ``checks`` shared points farthest from their leaders (a point on its leader's
very path shares exactly and is not checked) are solved in full too
(from their own micro history: a check answers with the full cell) and the largest difference of the
shared answer from the full one, relative to the largest stress norm, is the *measured error* of the
step. The radius of the next step is scaled by tol / error (at most doubled): it shrinks where
sharing errs above ``tol`` and grows where it is well below. The error measured is that of one step
of sharing from the same history; what sharing accumulates over the run is measured against full FE²
(tests/test_adaptive.py).

No hidden state: who is active, who shares whom, the paths, the histories and the radius are the
:class:`Sharing` the response returns, which the macro problem commits with the step or drops on a
cut-back. Groups, leaders and checks are chosen from the committed state only, never at a Newton
iterate: a switch inside a step would make the residual jump and Newton lose its rate.
"""

import numpy as np

from ..macro.rve_law import RVELaw
from ..materials.law import Law


class Sharing:
    """The state of an :class:`AdaptiveRVELaw` for an array of points (flattened, in ``shape``):

    - ``histories``: each point's micro history (object array; a shared point holds a copy of its
      leader's), as :class:`fe2.RVELaw` keeps them;
    - ``path`` (m, k, n): the committed strains of the k steps so far;
    - ``leader`` (m,): the point whose answer each point shares in the next step (itself: active);
    - ``check`` (m,): the shared points solved in full in the next step to measure the error;
    - ``radius``: the sharing radius of the next step;
    - ``stress`` (m, n), ``tangent`` (m, n, n): each point's answer of the step (what the
      "committed" carry extends to a shared point's strain);
    - of the response that returned it: ``solves`` (cell solves), ``elastic`` (of which elastic
      increments), ``error`` (the measured error of its shared answers, NaN without checks),
      ``active`` (the fraction of points it solved in full, checks included)."""

    def __init__(self, shape, histories, path, leader, check, radius, solves=0, elastic=0, error=np.nan, active=1.0,
                 tangent=None, stress=None):
        self.shape, self.histories, self.path, self.tangent = tuple(shape), histories, path, tangent
        self.stress = stress
        self.leader, self.check, self.radius = leader, check, float(radius)
        self.solves, self.elastic, self.error, self.active = int(solves), int(elastic), float(error), float(active)

    def __repr__(self):
        active = int(np.sum(self.leader == np.arange(self.leader.size)))
        return (f"Sharing({self.leader.size} points, {active} active and {int(self.check.sum())} checks next step, "
                f"radius {self.radius:.3g}; last response: {self.solves} solves, error {self.error:.2e})")


class AdaptiveRVELaw(Law):
    """The averaged response of a history-dependent ``cell`` under ``bc`` (an :class:`fe2.RVELaw`,
    whose keywords ``rve`` passes on) with points sharing the cell solves of their neighbours in
    strain path (module docstring). ``tol``: the error of a shared answer (relative to the largest
    stress norm) the sharing radius is tuned to; ``radius``: the first radius (relative strain
    distance; default ``tol``); ``checks``: the shared points solved in full each step to measure
    that error; ``carry``: "trial" (the leader's answer at this iterate) or "committed" (the leader's
    committed answer; module docstring). The first step solves every point (no path yet to compare).
    Serial only: no executor."""

    is_field = False
    linear = False

    def __init__(self, cell, bc="periodic", *, tol=1e-2, radius=None, checks=4, carry="trial", **rve):
        if carry not in ("trial", "committed"):
            raise ValueError(f"carry must be 'trial' or 'committed', got {carry!r}")
        if rve.get("executor") is not None:
            raise ValueError("AdaptiveRVELaw solves its cells in the calling process: give no executor")
        self.rve = RVELaw(cell, bc, **rve)
        if self.rve.linear:
            raise ValueError(f"{cell!r} is linear: one effective tensor serves every point (use fe2.RVELaw), "
                             "nothing to share")
        if self.rve.rate_dependent:
            raise ValueError(f"{cell!r} has rate-dependent phases, which AdaptiveRVELaw does not advance in time")
        radius = tol if radius is None else radius
        if not (np.isfinite(tol) and tol > 0 and np.isfinite(radius) and radius > 0):
            raise ValueError(f"tol and radius must be positive, got tol={tol!r}, radius={radius!r}")
        if isinstance(checks, bool) or int(checks) != checks or checks < 0:
            raise ValueError(f"checks must be a whole number >= 0, got {checks!r}")
        self.cell, self.bc, self.physics, self.plane = cell, self.rve.bc, self.rve.physics, self.rve.plane
        self.tol, self.first_radius, self.checks, self.carry = float(tol), float(radius), int(checks), carry

    def tensor(self, dim):
        """The effective tangent of the virgin cell."""
        return self.rve.tensor(dim)

    def initial_state(self, shape):
        """Virgin histories, an empty path, every point active."""
        m, n = int(np.prod(shape)), self.cell.physics.size
        virgin = np.broadcast_to(self.rve.tensor(self.cell.dim), (m, n, n))
        return Sharing(shape, np.full(m, None, dtype=object), np.zeros((m, 0, n)), np.arange(m),
                       np.zeros(m, dtype=bool), self.first_radius, tangent=virgin, stress=np.zeros((m, n)))

    def response(self, strain, state=None):
        """(stress, tangent, new Sharing): leaders and checks solved in full, the other points sharing."""
        strain = np.asarray(strain, dtype=float)
        shape, n = strain.shape[:-1], strain.shape[-1]
        sharing = self.initial_state(shape) if state is None else state
        if not isinstance(sharing, Sharing):
            raise TypeError(f"the state of an AdaptiveRVELaw is a Sharing from its initial_state or response, got {sharing!r}")
        if sharing.shape != tuple(shape):
            raise ValueError(f"a state of {sharing.shape} points for strains of shape {strain.shape}")
        points = strain.reshape(-1, n)
        m = len(points)
        active = sharing.leader == np.arange(m)
        full = np.flatnonzero(active | sharing.check)
        stress, tangent = np.empty_like(points), np.empty((m, n, n))
        histories = np.empty(m, dtype=object)
        try:
            stress[full], tangent[full], histories[full] = self.rve.response(points[full], sharing.histories[full])
        except RuntimeError as error:   # a failed cell: name the point among all of the phase's points
            if getattr(error, "point", None) is None:
                raise
            error.args = (f"point {full[error.point]} of the phase (solved as the {error.point}-th of its active "
                          f"points): {error.args[0] if error.args else error}",) + error.args[1:]
            error.point = int(full[error.point])
            raise
        shared = np.flatnonzero(~active)
        lead = sharing.leader[shared]
        if self.carry == "trial":       # the leader's answer of this iterate
            slope, base, at = tangent[lead], stress[lead], points[lead]
        else:                           # the leader's committed answer, fixed during the step
            slope, base, at = sharing.tangent[lead], sharing.stress[lead], sharing.path[lead, -1:].sum(axis=1)
        carried = base + np.einsum("pij,pj->pi", slope, points[shared] - at)
        checked = sharing.check[shared]
        rest = shared[~checked]
        stress[rest], tangent[rest], histories[rest] = carried[~checked], slope[~checked], histories[lead[~checked]]
        scale = max(np.linalg.norm(stress, axis=1).max(), 1e-300)
        error = (np.linalg.norm(carried[checked] - stress[shared[checked]], axis=1).max() / scale
                 if checked.any() else np.nan)
        path = np.concatenate([sharing.path, points[:, None, :]], axis=1)
        radius = sharing.radius if np.isnan(error) else sharing.radius * min(self.tol / max(error, 1e-300), 2.0)
        leader, check = self.group(path, radius)
        elastic = sum(bool(h is not None and h.get("elastic")) for h in histories[full])
        new = Sharing(shape, histories, path, leader, check, radius, len(full), elastic, error, len(full) / m, tangent, stress.copy())
        return stress.reshape(strain.shape), tangent.reshape(shape + (n, n)), new

    def group(self, path, radius):
        """(leader, check) for the next step from the committed paths (m, k, n): greedy groups of
        relative path distance <= ``radius`` around leaders taken in order of decreasing strain, and
        the ``checks`` shared points farthest from their leaders (none on its leader's very path)."""
        m = len(path)
        ahead = 2 * path[:, -1] - (path[:, -2] if path.shape[1] > 1 else 0 * path[:, -1])
        full = np.concatenate([path, ahead[:, None]], axis=1)
        size = max(np.linalg.norm(full, axis=2).max(), 1e-300)
        leader = np.full(m, -1)
        distance = np.zeros(m)
        for i in np.argsort(-np.linalg.norm(full[:, -1], axis=1), kind="stable"):
            if leader[i] >= 0:
                continue
            d = np.linalg.norm(full - full[i], axis=2).max(axis=1) / size   # the path distance to i
            joins = (leader < 0) & (d <= radius)
            leader[joins], distance[joins] = i, d[joins]
            leader[i], distance[i] = i, 0.0
        check = np.zeros(m, dtype=bool)
        apart = np.flatnonzero(distance > 0)   # a point on its leader's very path shares exactly: no check
        check[apart[np.argsort(-distance[apart], kind="stable")[:self.checks]]] = True
        return leader, check

    def solves(self, state):
        """(cell solves, of which elastic increments) of the response that returned ``state``."""
        return (0, 0) if not isinstance(state, Sharing) else (state.solves, state.elastic)

    def summaries(self, state):
        """Per point: the cell-averaged plastic strain and the Hill-Mandel residual of its micro history
        (a shared point's: its leader's), as :meth:`fe2.RVELaw.summaries` gives them (the macro writer's)."""
        return self.rve.summaries(state.histories.reshape(state.shape))

    def record(self, state):
        """What the run record reports of a committed ``state``: the active fraction, cell solves and
        measured error of its step; the active fraction and radius of the next step; how many points and
        how many distinct strain paths there are (points of one element of a linear macro mesh share
        their strain, hence their path: they are shared exactly, at no error)."""
        m = state.leader.size
        distinct = len(np.unique(state.path.reshape(m, -1), axis=0)) if m else 0
        return {"active_fraction": state.active, "check_error": state.error, "cell_solves": state.solves,
                "next_active_fraction": float(np.sum(state.leader == np.arange(m))) / m,
                "distinct_paths": distinct, "points": m, "radius": state.radius, "steps": state.path.shape[1]}

    def __repr__(self):
        return f"AdaptiveRVELaw({self.cell!r}, {self.bc.name}, tol={self.tol:g}, checks={self.checks})"
