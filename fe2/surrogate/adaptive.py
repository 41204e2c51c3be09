"""Adaptive concurrent FE² for history-dependent cells: points whose macro strain paths are close
share one cell solve.

    law = AdaptiveRVELaw(cell, "periodic", tol=5e-2)
    problem = fe2.macro.Problem(mesh, {"plate": law}, ...)          # a law like any other
    law.record(problem.states["plate"])                               # active fraction, measured error

The committed strain path of point i is the sequence E_i(1), ..., E_i(k) of its converged macro
strains (Mandel vectors), with E_i(k+1) extrapolated one increment ahead, 2 E_i(k) - E_i(k-1). The
distance of two points is the largest difference of their paths, relative to the largest strain
norm seen,

    d(i, j) = max_t |E_i(t) - E_j(t)| / max_{l,t} |E_l(t)|.

Each step, the points are grouped greedily around leaders (each point within ``radius`` of its
leader); a leader (an *active* point) is solved in full from its micro history, and a point that
shares it answers from the leader's cell. How, is the ``carry``:

- "reduced" (the default): the leader's *committed* cell, reduced to the fields it spans. Its
  converged field u_L (at the macro strain E_L of the last step) and the unit fields U_L of its
  converged linearization (the fields of the unit macro strains, from the factorized micro tangent)
  give the point the micro strain field of its own macro strain E,

      eps(E) = eps(u_L) + B U_L (E - E_L),

  whose micro stress sigma(eps; h_i) the phases' laws give from the point's *own* committed micro
  history h_i (for J2, the return mapping at every micro point). The answer is the derivative of the
  cell's incremental energy <W(eps(E))> on that reduced space,

      S_i = <(B U_L)^T sigma>,    C_i = dS_i/dE = <(B U_L)^T C_micro (B U_L)>,

  symmetric where the micro tangent is (J2, the conductors), and a function of E alone during the
  step (u_L, U_L and h_i are committed): its tangent is its exact derivative, so the macro Newton
  keeps its quadratic rate. It is exact at E = E_L for h_i = h_L (an equilibrated field:
  <(B U_L)^T sigma> = <sigma>). Being the derivative of the energy on the reduced space, it is
  stationary in the error of the fluctuation field: with the unit fields of the linearization at
  the point's own history the error is third order in E - E_L; the committed unit fields are those
  of the leader's last increment, not of the next, and the error is first order in the step, with
  a constant of second order in that mismatch (tests/test_adaptive.py).
  Where the step yields, the return mapping caps the micro stress: measured ~1e-2 of the stress at
  the onset of yield, against ~1e-1 for "committed" (docs/surrogates.md). The point keeps its own
  history: the micro state of that return mapping and the reduced field, from which its micro
  Newton starts when it is next solved in full.
- "trial": S_i = S_L + C_L (E_i - E_L) with the leader's answer of the current Newton iterate, and
  the leader's new history copied. Accurate, but S_i depends on the leader's strain through C_L,
  which the point's tangent omits: the macro Newton converges linearly (rate ~0.2).
- "committed": the same with the leader's committed answer (fixed during the step): quadratic
  Newton, but a linear extrapolation over the whole step, which errs by ~1e-1 where points yield.

A point whose strain equals its leader's (points of one element of a linear macro mesh) takes the
leader's answer and history itself: exact, whatever the carry.

Error control: the ``checks`` shared points farthest from their leaders (a point on its leader's
very path is not checked) are solved in full too (from their own micro history) and the largest
difference of the shared answer from the full one, relative to the largest stress norm, is the
*measured error* of the step. The radius of the next step is scaled by tol / error (at most
doubled): it shrinks where sharing errs above ``tol`` and grows where it is well below. What
sharing accumulates over a run is measured against full FE² (tests/test_adaptive.py,
bench/adaptive.py, cases/adaptive_j2_plate.py).

No hidden state: who is active, who shares whom, the paths, the histories and the radius are the
:class:`Sharing` the response returns, which the macro problem commits with the step or drops on a
cut-back. Groups, leaders and checks are chosen from the committed state only, never at a Newton
iterate: a switch inside a step would make the residual jump and Newton lose its rate.
"""

import numpy as np

from ..cell.averages import field_averages
from ..macro.rve_law import RVELaw, solve_point
from ..materials.law import Law

CARRIES = ("reduced", "trial", "committed")


class Sharing:
    """The state of an :class:`AdaptiveRVELaw` for an array of points (flattened, in ``shape``):

    - ``histories``: each point's micro history (object array), as :class:`fe2.RVELaw` keeps them,
      with the ``unit_fields`` of its cell's linearization; a shared point's is its own reduced one
      (carry "reduced": its micro state and reduced field) or a copy of its leader's;
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
    that error; ``carry``: "reduced" (the leader's committed cell reduced to its field and unit
    fields, the point's own micro history), "trial" or "committed" (first-order extensions of the
    leader's answer; module docstring). The first step solves every point (no path yet to compare).
    Serial only: no executor."""

    is_field = False
    linear = False

    def __init__(self, cell, bc="periodic", *, tol=1e-2, radius=None, checks=4, carry="reduced", **rve):
        if carry not in CARRIES:
            raise ValueError(f"carry must be one of {', '.join(map(repr, CARRIES))}, got {carry!r}")
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
        self.settings = {"tol": self.rve.tol, "max_iterations": self.rve.max_iterations, "solver": self.rve.solver}

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
        for p in full:   # a failed cell raises a MicroDivergence naming point p among the phase's points
            solution, histories[p] = solve_point(self.cell, self.bc, self.settings, points[p], sharing.histories[p], p)
            if self.carry == "reduced":
                histories[p]["unit_fields"] = solution.unit_fields
            stress[p], tangent[p] = solution.stress, solution.tangent
        shared = np.flatnonzero(~active)
        lead = sharing.leader[shared]
        carried, slope, own = self.carried(sharing, points, shared, stress, tangent, histories)
        same = np.all(points[shared] == points[lead], axis=1)   # on the leader's strain: its own answer
        carried[same], slope[same], own[same] = stress[lead[same]], tangent[lead[same]], histories[lead[same]]
        checked = sharing.check[shared]
        rest = shared[~checked]
        stress[rest], tangent[rest], histories[rest] = carried[~checked], slope[~checked], own[~checked]
        scale = max(np.linalg.norm(stress, axis=1).max(), 1e-300)
        error = (np.linalg.norm(carried[checked] - stress[shared[checked]], axis=1).max() / scale
                 if checked.any() else np.nan)
        path = np.concatenate([sharing.path, points[:, None, :]], axis=1)
        radius = sharing.radius if np.isnan(error) else sharing.radius * min(self.tol / max(error, 1e-300), 2.0)
        leader, check = self.group(path, radius)
        elastic = sum(bool(h is not None and h.get("elastic")) for h in histories[full])
        new = Sharing(shape, histories, path, leader, check, radius, len(full), elastic, error, len(full) / m, tangent, stress.copy())
        return stress.reshape(strain.shape), tangent.reshape(shape + (n, n)), new

    def carried(self, sharing, points, shared, stress, tangent, histories):
        """The answers (k, n), tangents (k, n, n) and new histories (k,) of the ``shared`` points by the
        law's carry, from the committed ``sharing`` and the leaders' answers ``stress``, ``tangent``,
        ``histories`` of this iterate."""
        lead = sharing.leader[shared]
        n = points.shape[1]
        if not len(shared):
            return np.empty((0, n)), np.empty((0, n, n)), np.empty(0, dtype=object)
        if self.carry == "trial":        # the leader's answer of this iterate
            slope, base, at = tangent[lead], stress[lead], points[lead]
        elif self.carry == "committed":  # the leader's committed answer, fixed during the step
            slope, base, at = sharing.tangent[lead], sharing.stress[lead], sharing.path[lead, -1]
        if self.carry != "reduced":      # and the leader's new history copied
            return base + np.einsum("pij,pj->pi", slope, points[shared] - at), slope, histories[lead]
        carried, slope, own = np.empty((len(shared), n)), np.empty((len(shared), n, n)), np.empty(len(shared), dtype=object)
        for leader in np.unique(lead):
            mine = np.flatnonzero(lead == leader)
            base = sharing.histories[leader]
            carried[mine], slope[mine], own[mine] = self.reduced(
                base["field"], base["unit_fields"], base["strain"], [sharing.histories[i]["micro"] for i in shared[mine]],
                points[shared[mine]])
        return carried, slope, own

    def reduced(self, field, units, at, micros, strains):
        """The cell reduced to the fields field + units (E - at) (a converged field at the macro strain
        ``at`` and the unit fields of its linearization, (ndofs,) and (ndofs, n)), at the macro strains
        ``strains`` (k, n) from the micro histories ``micros`` (k dicts phase -> state): the answers
        S = <(B units)^T sigma> (k, n), their exact derivatives <(B units)^T C_micro (B units)>
        (k, n, n), and the new histories (the micro states of the response, the reduced fields)."""
        cell = self.cell
        BU = cell.B @ units[cell.dofs][:, None]   # (nel, nqp, n, n): column j, the micro strain of unit field j
        steps = strains - at
        eps = cell.strain(field) + np.einsum("eqij,kj->keqi", BU, steps)
        sigma, C, micro = cell.respond(eps, stack(micros, cell.initial_states()))
        weighted = BU * (cell.dx / cell.volume)[:, :, None, None]
        stress = np.einsum("eqij,keqi->kj", weighted, sigma)
        tangent = np.einsum("eqji,keqjl->kil", weighted, C @ BU)
        fields = field + steps @ units.T
        hill_mandel = field_averages(cell, np.moveaxis(eps, 0, -1), np.moveaxis(sigma, 0, -1), strains)[2]
        new = np.empty(len(strains), dtype=object)
        for k, state in enumerate(unstack(micro, len(strains))):
            new[k] = {"micro": state, "field": fields[k], "strain": strains[k], "hill_mandel": float(hill_mandel[k]),
                      "iterations": 0, "residuals": [], "elastic": False, "unit_fields": units}
        return stress, tangent, new

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
        (a shared point's: that of its reduced field, or its leader's), as :meth:`fe2.RVELaw.summaries`
        gives them (the macro writer's)."""
        return self.rve.summaries(state.histories.reshape(state.shape))

    def out_of_plane_stress(self, strain, state=None):
        """Plane strain: sigma_zz of the points (...,), the cell average of the micro sigma_zz of each
        point's history (a shared point's: its reduced field, or its leader's), as
        :meth:`fe2.RVELaw.out_of_plane_stress` gives it for the strains (..., 3) and the state a
        response returned for them."""
        return self.rve.out_of_plane_stress(strain, None if state is None else state.histories.reshape(state.shape))

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
        return f"AdaptiveRVELaw({self.cell!r}, {self.bc.name}, tol={self.tol:g}, checks={self.checks}, carry={self.carry!r})"


def stack(states, virgin):
    """The micro states of k points (dicts phase -> state: None, an array or a dict of arrays) as one
    dict whose arrays carry a leading axis of k (a batch for :meth:`fe2.cell.body.Body.respond`); a
    point without a state for a phase takes that phase's ``virgin`` one."""
    def join(leaves):
        if all(leaf is None for leaf in leaves):
            return None
        if isinstance(leaves[0], dict):
            return {key: join([leaf[key] for leaf in leaves]) for key in leaves[0]}
        return np.stack(leaves)
    return {name: join([state.get(name) if state.get(name) is not None else virgin[name] for state in states])
            for name in virgin}


def unstack(state, k):
    """The inverse of :func:`stack`: k dicts phase -> state."""
    def part(leaf, i):
        if leaf is None:
            return None
        if isinstance(leaf, dict):
            return {key: part(value, i) for key, value in leaf.items()}
        return leaf[i]
    return [{name: part(value, i) for name, value in state.items()} for i in range(k)]
