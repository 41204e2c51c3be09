"""The surrogate-backed material-point law with error control: hierarchical FE² that falls back to
the full cell where its surrogate cannot be trusted.

    law = SurrogateLaw(cell, "periodic", samples, tol=1e-3)
    problem = fe2.macro.Problem(mesh, {"plate": law}, ...)      # a law like any other

The surrogate answers where z * indicator <= tol * scale (``scale``: the largest stress norm of the
first training set; z = 3); elsewhere the full cell answers with its stress and tangent, and the
response returns a *new* state whose training set holds those solves and whose surrogate is refitted.

No hidden state: the training set is the state. The law itself never changes; the state is a
:class:`Training` (immutable), so the macro problem commits it with the step (the solves of a
converged step enrich every later step) or drops it on a cut-back, as it does with plastic histories.
The answer is a function of (strain, committed state) only, and the points the cell answers are
chosen from the committed state, so Newton sees one smooth constitutive map during a step. The
prices: a routed point is solved at every Newton iteration of its step (each starts from the committed
training), and a point that leaves the trusted region within a step beyond the one-increment
extrapolation is answered by the surrogate for that step (counted in ``Training.untrusted``).
"""

import numpy as np

from ..cell.conditions import condition
from ..materials.law import Law
from .rbf import fit
from .samples import Samples, check_history_free, solve_strains

CONFIDENCE = 3.0   # z: the surrogate answers where z * indicator <= tol * scale


class Training:
    """The state of a :class:`SurrogateLaw` for an array of points: the samples and the surrogate fitted
    on them, the points routed to the full cell during the next step (``route``), the points' strains, the cell
    solves made by the response that returned this state (``in_response``) and the points it answered
    from the surrogate although their indicator was above the tolerance (``untrusted``)."""

    def __init__(self, samples, surrogate, route=None, strain=None, in_response=0, untrusted=0):
        self.samples, self.surrogate, self.route, self.strain = samples, surrogate, route, strain
        self.in_response, self.untrusted = int(in_response), int(untrusted)

    def __repr__(self):
        routed = 0 if self.route is None else int(np.sum(self.route))
        return (f"Training({len(self.samples)} samples, {routed} points routed to the cell, "
                f"{self.in_response} solves in the last response)")


class SurrogateLaw(Law):
    """A cell's averaged response from a surrogate trained on ``samples`` (:class:`Samples`), with the
    full cell ``cell`` under ``bc`` where the surrogate's indicator exceeds ``tol`` (relative to the
    largest stress norm of ``samples``) at confidence ``z``. ``kernel``: "potential" (the
    :class:`PotentialSurrogate`, symmetric tangent; the default) or a kernel of :class:`Surrogate`
    (``epsilon``: its gaussian shape); ``cell_tol``: of each micro Newton solve.

    Which points the cell answers is decided from the committed state, not from the trial strain:
    a step's Newton then sees one smooth constitutive map and keeps its quadratic rate (switching at
    the trial strain makes the residual jump by up to the tolerance and Newton stalls there). A
    response routes to the cell the points its state routes, adds their solves to the training set,
    and routes in the new state the points whose indicator, under the refitted surrogate, exceeds the
    tolerance at the strain given or at the strain extrapolated one increment ahead (2 E - E_committed)."""

    linear = False
    is_field = False

    def __init__(self, cell, bc, samples, *, tol=1e-3, z=CONFIDENCE, kernel="potential", epsilon=1.0, cell_tol=1e-10):
        self.cell, self.bc = check_history_free(cell), condition(bc)
        if not isinstance(samples, Samples):
            raise TypeError(f"samples must be fe2.surrogate.Samples (from sample or Samples.load), got {type(samples).__name__}")
        if samples.strain.shape[1] != cell.physics.size:
            raise ValueError(f"the samples have {samples.strain.shape[1]} strain components, the cell {cell.physics.size}")
        if not (tol > 0 and z > 0):
            raise ValueError(f"tol and z must be positive, got tol={tol!r}, z={z!r}")
        self.physics = cell.physics.name
        self.tol, self.z, self.kernel, self.epsilon = float(tol), float(z), kernel, float(epsilon)
        self.settings = {"tol": cell_tol, "max_iterations": 25}
        self.scale = float(np.linalg.norm(samples.stress, axis=1).max()) or 1.0
        self.first = Training(samples, fit(samples.strain, samples.stress, kernel, epsilon=epsilon))
        self._tensor = self.first.surrogate.response(np.zeros(cell.physics.size))[1]

    def tensor(self, dim):
        """The surrogate's tangent at zero strain."""
        if dim != self.cell.dim:
            raise ValueError(f"a {self.cell.dim}D cell cannot answer for a {dim}D material point")
        return self._tensor

    def initial_state(self, shape):
        """The first training set, no point routed to the cell, the points at zero strain."""
        n = self.cell.physics.size
        return Training(self.first.samples, self.first.surrogate, np.zeros(tuple(shape), dtype=bool),
                        np.zeros(tuple(shape) + (n,)))

    def trusted(self, surrogate, strain):
        """Whether z * indicator <= tol * scale at the strains (..., n) under ``surrogate``."""
        return self.z * surrogate.response(strain)[2] <= self.tol * self.scale

    def response(self, strain, state=None):
        """(stress, tangent, new Training): the cell at the points the state routes, the surrogate elsewhere."""
        strain = np.asarray(strain, dtype=float)
        training = self.initial_state(strain.shape[:-1]) if state is None else state
        if not isinstance(training, Training) or training.route is None:
            raise TypeError(f"the state of a SurrogateLaw is a Training from its initial_state or response, got {training!r}")
        if training.route.shape != strain.shape[:-1]:
            raise ValueError(f"a state of {training.route.shape} points for strains of shape {strain.shape}")
        points, n = strain.reshape(-1, strain.shape[-1]), strain.shape[-1]
        stress, tangent, indicator = training.surrogate.response(points)
        solve = np.flatnonzero(training.route.ravel())
        untrusted = int(np.sum(np.delete(self.z * indicator > self.tol * self.scale, solve)))
        samples, surrogate, solved = training.samples, training.surrogate, 0
        if solve.size:   # each distinct strain solved once (points of one element often share theirs)
            distinct, inverse = np.unique(points[solve], axis=0, return_inverse=True)
            cells = solve_strains(self.cell, self.bc, self.settings, distinct)
            stress[solve], tangent[solve] = cells.stress[inverse.ravel()], cells.tangent[inverse.ravel()]
            kept = separated(surrogate, distinct)
            samples, solved = samples + cells, len(distinct)
            surrogate = surrogate.with_samples(distinct[kept], cells.stress[kept])
        ahead = 2 * points - training.strain.reshape(-1, n)
        route = ~(self.trusted(surrogate, points) & self.trusted(surrogate, ahead))
        new = Training(samples, surrogate, route.reshape(strain.shape[:-1]), strain.copy(), solved, untrusted)
        return stress.reshape(strain.shape), tangent.reshape(strain.shape + (n,)), new

    def solves(self, state):
        """(cell solves, 0) that the response which returned ``state`` made (none is an elastic increment)."""
        return (0, 0) if not isinstance(state, Training) else (state.in_response, 0)

    def __repr__(self):
        return f"SurrogateLaw({self.cell!r}, {self.bc.name}, {self.kernel}, tol={self.tol:g})"


def separated(surrogate, strains, distance=1e-6):
    """Indices of ``strains`` (m, n) that keep the training points apart: each at least ``distance``
    (in the surrogate's scaled strain) from the samples and from those kept before it, so that the
    refitted system stays well conditioned."""
    x = (strains - surrogate.centre) / surrogate.half_width
    kept = []
    for i, point in enumerate(x):
        others = np.concatenate([surrogate.x, x[kept]])
        if np.linalg.norm(others - point, axis=1).min() >= distance:
            kept.append(i)
    return np.array(kept, dtype=int)
