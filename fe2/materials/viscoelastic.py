"""Linear viscoelasticity with memory: the generalized Maxwell (Prony series) small-strain law.

    law = fe2.materials.Prony.isotropic(E=1.0, nu=0.3, weights=[2.0, 1.0], times=[0.1, 1.0])
    state = law.advance(law.initial_state(shape), dt)            # the history, to be carried over a step dt
    stress, tangent, new_state = law.response(strain, state)

The relaxation function is G(t) = C_inf + sum_i C_i exp(-t / tau_i) (Mandel stiffnesses C_inf, C_i
symmetric positive semidefinite, time constants tau_i > 0), and the stress the hereditary integral

    sigma(t) = int_0^t G(t - s) d eps(s) = C_inf eps(t) + sum_i C_i h_i(t),
    h_i(t) = int_0^t exp(-(t - s)/tau_i) d eps(s).

The internal variables h_i make it Markovian: over a step dt with the strain linear in time they are
updated exactly (the recursive update),

    h_i^{n+1} = exp(-dt/tau_i) h_i^n + g_i (eps^{n+1} - eps^n),   g_i = tau_i / dt (1 - exp(-dt/tau_i)),

so the consistent tangent is C_inf + sum_i g_i C_i (g_i = 1 at dt = 0: the instantaneous, glassy
response). The step dt travels in the state: ``advance(state, dt)`` returns the committed history
with the step it is to be integrated over, and ``response`` never modifies the state it is given.
A virgin state has dt = 0, so a law used outside a time-stepping solver answers instantaneously.
Strains are Mandel vectors (..., 3) in plane strain or (..., 6) in 3D; the history is kept in 3D
(6 components) when the stiffnesses are 3D, so the out-of-plane stress of plane strain is known.
"""

import numpy as np

from .law import Law, check_real
from .linear import Isotropic

_PLANE = [0, 1, 5]  # Mandel (xx, yy, xy) inside the 3D Mandel vector


def rate_dependent(law):
    """True when ``law`` carries the time step in its state (it has ``advance(state, dt)``)."""
    return callable(getattr(law, "advance", None))


def advance(laws, states, dt):
    """The states {phase: state} of the phase laws ``laws`` {phase: law}, each rate-dependent one
    advanced to a step of size ``dt`` (:meth:`Prony.advance`); the others as given. New dicts only."""
    states = {} if states is None else states
    return {name: (laws[name].advance(states.get(name), dt) if rate_dependent(laws[name]) else states.get(name))
            for name in laws}


def check_step(dt):
    """``dt`` as a float: ValueError unless it is a finite number >= 0."""
    try:
        value = float(dt)
    except (TypeError, ValueError):
        raise ValueError(f"the time step dt must be a number >= 0, got {dt!r}") from None
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"the time step dt must be a finite number >= 0, got dt={dt!r}")
    return value


def _stiffness(name, value):
    """A Mandel stiffness (3x3 or 6x6) from a linear elastic law (its 3D tensor where it has one) or a matrix."""
    if isinstance(value, Law):
        if value.physics != "elasticity" or not value.linear or value.is_field:
            raise ValueError(f"{name} must be a linear elastic law with constant parameters or a Mandel stiffness, "
                             f"got {value!r}")
        try:
            return np.array(value.tensor(3), dtype=float)
        except ValueError:
            return np.array(value.tensor(2), dtype=float)
    C = check_real(name, value)
    if C.shape not in ((3, 3), (6, 6)):
        raise ValueError(f"{name} must be a 3x3 (2D) or 6x6 (3D) Mandel stiffness, got shape {C.shape}")
    if not np.allclose(C, C.T, rtol=1e-12, atol=1e-12 * max(np.abs(C).max(), 1e-300)):
        raise ValueError(f"{name} must be symmetric")
    return C


def _semidefinite(name, C, weight):
    """ValueError naming the stiffness when it has a negative eigenvalue (a negative Prony weight)."""
    lowest = np.linalg.eigvalsh(C).min()
    if lowest < -1e-12 * max(np.abs(C).max(), 1e-300):
        raise ValueError(f"{name} has a negative eigenvalue {lowest:.3g}: a Prony series needs {weight} "
                         "(positive semidefinite stiffnesses)")


class Prony(Law):
    """Generalized Maxwell viscoelasticity: long-term stiffness ``long_term`` and the Maxwell
    branches ``branches`` [(stiffness, tau), ...], each stiffness a linear elastic law or a Mandel
    matrix (3x3 plane strain, 6x6 3D). G(t) = C_inf + sum_i C_i exp(-t/tau_i) (see the module notes).
    ValueError for a non-semidefinite stiffness (a negative weight), a time constant <= 0 or not
    finite, stiffnesses of mixed sizes, or a glassy stiffness C_inf + sum C_i that is not positive definite.

    State (per point): ``{"strain": eps^n (..., k), "viscous": h^n (..., m, k), "dt": the step}``,
    k = 6 for 3D stiffnesses (2D strains embedded), else 3."""

    physics = "elasticity"
    linear = False
    is_field = False

    def __init__(self, long_term, branches):
        C_inf = _stiffness("the long-term stiffness", long_term)
        _semidefinite("the long-term stiffness", C_inf, "a non-negative long-term weight")
        stiffnesses, taus = [], []
        try:
            branches = list(branches)
        except TypeError:
            raise ValueError(f"branches must be a list of (stiffness, tau) pairs, got {branches!r}") from None
        for i, branch in enumerate(branches):
            try:
                C, tau = branch
            except (TypeError, ValueError):
                raise ValueError(f"Prony branch {i}: give a pair (stiffness, tau), got {branch!r}") from None
            C = _stiffness(f"the stiffness of Prony branch {i}", C)
            _semidefinite(f"the stiffness of Prony branch {i}", C, "non-negative weights")
            tau = check_real(f"time constant of Prony branch {i} tau", tau, scalar=True, positive=True)
            stiffnesses.append(C)
            taus.append(tau)
        sizes = {C.shape for C in (C_inf, *stiffnesses)}
        if len(sizes) != 1:
            raise ValueError(f"the stiffnesses of a Prony series must all be 3x3 or all 6x6, got {sorted(sizes)}")
        self.long_term = C_inf
        self.stiffnesses = np.array(stiffnesses).reshape((len(stiffnesses),) + C_inf.shape)
        self.times = np.array(taus, dtype=float)
        self.glassy = C_inf + self.stiffnesses.sum(axis=0)
        if np.linalg.eigvalsh(self.glassy).min() <= 0:
            raise ValueError("the glassy stiffness C_inf + sum C_i must be positive definite")
        self._k = C_inf.shape[0]

    @classmethod
    def isotropic(cls, E, nu, weights, times):
        """Isotropic Prony series of one Poisson's ratio: C_inf = C(E, nu) with E the long-term
        (relaxed) Young's modulus, branch i = weights[i] C(E, nu) with time constant times[i], so
        E(t) = E (1 + sum_i w_i exp(-t/tau_i)). ValueError for a negative weight or a time constant <= 0."""
        weights = np.atleast_1d(check_real("Prony weights w", weights))
        times = np.atleast_1d(check_real("Prony time constants tau", times))
        if weights.ndim != 1 or weights.shape != times.shape:
            raise ValueError(f"one weight per time constant: got {weights.size} weights and {times.size} times")
        if np.any(weights < 0):
            i = int(np.argmax(weights < 0))
            raise ValueError(f"Prony weight {i} must be non-negative, got w={weights[i]:g}")
        if np.any(times <= 0):
            i = int(np.argmax(times <= 0))
            raise ValueError(f"Prony time constant {i} must be positive, got tau={times[i]:g}")
        C = Isotropic(E, nu).tensor(3)
        law = cls(C, [(w * C, tau) for w, tau in zip(weights, times)])
        law.E, law.nu, law.weights = float(E), float(nu), weights
        return law

    # --- the relaxation function ------------------------------------------------------------------
    def relaxation(self, t, dim=None):
        """G(t) = C_inf + sum_i C_i exp(-t/tau_i) at the times t (...), shape (..., n, n); ``dim`` 2
        gives the plane-strain block of 3D stiffnesses."""
        t = np.asarray(t, dtype=float)
        G = self.long_term + np.tensordot(np.exp(-t[..., None] / self.times), self.stiffnesses, axes=(-1, 0))
        return G if dim is None else self._block(G, dim)

    def _block(self, C, dim):
        n = 3 if dim == 2 else 6
        if C.shape[-1] == n:
            return C
        if n == 3:
            return C[..., _PLANE, :][..., _PLANE]
        raise ValueError("a 2D (3x3) Prony series cannot be used in a 3D body")

    def tensor(self, dim):
        """The tangent of a virgin point (dt = 0): the glassy stiffness C_inf + sum C_i."""
        return self._block(self.glassy, dim)

    # --- the history --------------------------------------------------------------------------------
    def initial_state(self, shape):
        """Virgin history of an array of points: zero strain and internal variables, dt = 0."""
        shape = (shape,) if np.isscalar(shape) else tuple(shape)
        return {"strain": np.zeros(shape + (self._k,)), "viscous": np.zeros(shape + (self.times.size, self._k)),
                "dt": 0.0}

    def advance(self, state, dt):
        """The history ``state`` (None: virgin) carried into a step of size ``dt`` >= 0: a new dict
        sharing the arrays, with its ``dt`` set. ValueError for a negative or non-finite dt."""
        dt = check_step(dt)
        if state is None:
            return {"strain": None, "viscous": None, "dt": dt}
        return {**self._check_state(state), "dt": dt}

    def _check_state(self, state):
        if not isinstance(state, dict) or not {"strain", "viscous", "dt"} <= set(state):
            raise ValueError("Prony: state must be None or a dict with 'strain', 'viscous' and 'dt' (as from "
                             f"initial_state and advance), got {type(state).__name__}")
        return state

    def _history(self, state, shape):
        """(eps^n (..., k), h^n (..., m, k), dt) of ``state`` for points of ``shape``."""
        if state is None:
            state = {"strain": None, "viscous": None, "dt": 0.0}
        state = self._check_state(state)
        dt = check_step(state["dt"])
        if state["strain"] is None:
            return np.zeros(shape + (self._k,)), np.zeros(shape + (self.times.size, self._k)), dt
        eps, h = np.asarray(state["strain"], dtype=float), np.asarray(state["viscous"], dtype=float)
        if eps.shape != shape + (self._k,) or h.shape != shape + (self.times.size, self._k):
            raise ValueError(f"Prony: state does not match the strain: points of shape {shape} need strain "
                             f"{shape + (self._k,)} and viscous {shape + (self.times.size, self._k)}, got "
                             f"{eps.shape} and {h.shape}")
        return eps, h, dt

    def _strain(self, strain):
        strain = np.asarray(strain, dtype=float)
        if strain.ndim == 0 or strain.shape[-1] not in (3, 6) or (strain.shape[-1] == 6 and self._k == 3):
            sizes = "(..., 3) (plane strain)" + (" or (..., 6) (3D)" if self._k == 6 else "")
            raise ValueError(f"Prony: strain must have shape {sizes}, got shape {strain.shape}")
        if not np.all(np.isfinite(strain)):
            raise ValueError("Prony: the strain must be finite")
        if strain.shape[-1] == self._k:
            return strain
        embedded = np.zeros(strain.shape[:-1] + (6,))
        embedded[..., _PLANE] = strain
        return embedded

    @staticmethod
    def factors(times, dt):
        """(exp(-dt/tau_i), g_i = tau_i/dt (1 - exp(-dt/tau_i))) of the recursive update; g = 1 at dt = 0."""
        x = dt / times
        decay = np.exp(-x)
        g = np.ones_like(x) if dt == 0 else -np.expm1(-x) / x
        return decay, g

    # --- the material point ---------------------------------------------------------------------------
    def response(self, strain, state=None):
        """Stress (..., n), consistent tangent (..., n, n) and the new history for strains (..., n)
        at the end of the step of ``state`` (see :meth:`advance`). The given state is not modified."""
        n = np.shape(strain)[-1] if np.ndim(strain) else 0
        eps = self._strain(strain)
        shape = eps.shape[:-1]
        eps_n, h_n, dt = self._history(state, shape)
        decay, g = self.factors(self.times, dt)
        h = decay[:, None] * h_n + g[:, None] * (eps - eps_n)[..., None, :]
        stress = eps @ self.long_term.T + np.einsum("mij,...mj->...i", self.stiffnesses, h)
        C = self.long_term + np.tensordot(g, self.stiffnesses, axes=(0, 0))
        if n == 3 and self._k == 6:
            stress, C = stress[..., _PLANE], C[np.ix_(_PLANE, _PLANE)]
        return stress, np.broadcast_to(C, shape + C.shape), {"strain": eps, "viscous": h, "dt": dt}

    def out_of_plane_stress(self, strain, state=None):
        """Plane strain: sigma_zz (...) of the strains (..., 3) with the history ``state`` that a
        response returned for them (C_inf eps + sum C_i h_i, zz row); NaN for 2D-only stiffnesses."""
        strain = np.asarray(strain, dtype=float)
        if self._k == 3:
            return np.full(strain.shape[:-1], np.nan)
        eps = self._strain(strain)
        h = self._history(state, eps.shape[:-1])[1]
        return eps @ self.long_term[2] + np.einsum("mj,...mj->...", self.stiffnesses[:, 2], h)

    def __repr__(self):
        if hasattr(self, "E"):
            return (f"Prony.isotropic(E={self.E:g}, nu={self.nu:g}, weights={self.weights.tolist()}, "
                    f"times={self.times.tolist()})")
        return f"Prony({self._k}x{self._k} Mandel, {self.times.size} branches, tau={self.times.tolist()})"
