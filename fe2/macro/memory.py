"""The memory of a cell passed to the macro scale: its effective relaxation function as a Prony series.

    times = np.concatenate([[0.0], np.geomspace(1e-2, 1e2, 40)])
    G = fe2.macro.memory.relaxation(cell, times)                    # (len(times), n, n)
    fit = fe2.macro.memory.fit_prony(times, G, tau=[0.1, 1.0, 10.0])
    fit.law, fit.error                                              # the macro law; max relative misfit

:func:`relaxation`: column k of G(t) is the cell's averaged stress <sigma>(t) under the unit macro
strain e_k applied at t = 0 and held (scaled by ``strain``, the cell being linear in it), from the
cell's Newton solve (:func:`fe2.nonlinear.solve`) step by step, the rate-dependent phases advanced
over each step (:func:`fe2.materials.viscoelastic.advance`); the micro strain is taken linear in time
over a step, so the error is of second order in the steps (``substeps`` divides each interval).

:func:`fit_prony`: G(t) ~ C_inf + sum_k C_k exp(-t/tau_k) with the chosen time constants tau_k and
positive semidefinite C_inf, C_k. The modes are the eigenvectors V of the time average of G (the
cell's symmetry fixes them where it has one); each modal relaxation function
lambda_m(t) = v_m^T G(t) v_m is fitted with non-negative weights by scipy.optimize.nnls on the
relative residuals of [1, exp(-t/tau_1), ...], and C_k = V diag(w_k) V^T. What the modes leave out
(G's off-diagonal part in V, if its eigenvectors turn in time) counts in the reported error.
This is hierarchical parameter passing: the macro law replaces the cells once fitted, where
concurrent FE² solves a cell at every macro point and step.
"""

import dataclasses

import numpy as np
import scipy.optimize

from ..cell import nonlinear
from ..materials.law import check_real
from ..materials.viscoelastic import Prony, advance


def relaxation(cell, times, bc="periodic", *, strain=1e-3, substeps=1, tol=1e-10):
    """The effective relaxation function G(t_j) (len(times), n, n) of ``cell`` under the condition
    ``bc`` at the increasing ``times`` (times[0] = 0: the instantaneous response). ValueError for
    times that do not start at 0 or do not increase."""
    times = check_real("relaxation times t", times)
    if times.ndim != 1 or times.size < 2 or times[0] != 0 or np.any(np.diff(times) <= 0):
        raise ValueError(f"relaxation times must increase from t = 0, got {np.round(times, 6).tolist()}")
    strain = check_real("step strain amplitude", strain, scalar=True, positive=True)
    if isinstance(substeps, bool) or not isinstance(substeps, (int, np.integer)) or substeps < 1:
        raise ValueError(f"substeps must be a whole number >= 1, got {substeps!r}")
    n = cell.physics.size
    G = np.empty((times.size, n, n))
    for k in range(n):
        E = strain * np.eye(n)[k]
        state, field = cell.initial_states(), None
        for j, t in enumerate(times):
            steps = [0.0] if j == 0 else [(t - times[j - 1]) / substeps] * substeps
            for dt in steps:
                solution = nonlinear.solve(cell, E, bc, advance(cell.materials, state, dt), guess=field, tol=tol)
                state, field = solution.state, solution.field
            G[j, :, k] = solution.stress / strain
    return G


@dataclasses.dataclass
class PronyFit:
    """A Prony series fitted to a relaxation function: the macro ``law``, the time constants ``tau``,
    the modes (columns of ``modes``) and their weights (modes x [long-term, tau_1, ...]), and the
    relative misfit ||G_fit(t) - G(t)|| / ||G(t)|| (Frobenius) at each time (``errors``) and its
    largest value ``error``."""

    law: Prony
    tau: np.ndarray
    modes: np.ndarray = dataclasses.field(repr=False)
    weights: np.ndarray = dataclasses.field(repr=False)
    errors: np.ndarray = dataclasses.field(repr=False)
    error: float = 0.0


def fit_prony(times, G, tau):
    """Fit G(t) (len(times), n, n) at ``times`` by a Prony series with the time constants ``tau``
    (positive) and positive semidefinite stiffnesses (see the module notes): a :class:`PronyFit`."""
    times = check_real("times t", times)
    G = check_real("relaxation function G", G)
    tau = np.atleast_1d(check_real("time constants tau", tau))
    if times.ndim != 1 or G.shape[:1] != times.shape or G.ndim != 3 or G.shape[1] != G.shape[2]:
        raise ValueError(f"G must have shape (len(times), n, n) = ({times.size}, n, n), got {G.shape}")
    if tau.ndim != 1 or np.any(tau <= 0):
        raise ValueError(f"the time constants tau must be positive, got {tau.tolist()}")
    G = 0.5 * (G + np.swapaxes(G, 1, 2))
    _, modes = np.linalg.eigh(G.mean(axis=0))
    modal = np.einsum("im,tij,jm->tm", modes, G, modes)                       # lambda_m(t_j)
    basis = np.hstack([np.ones((times.size, 1)), np.exp(-times[:, None] / tau)])
    weights = np.empty((modes.shape[1], 1 + tau.size))
    for m in range(modes.shape[1]):
        scale = np.maximum(np.abs(modal[:, m]), 1e-300)[:, None]              # relative residuals
        weights[m] = scipy.optimize.nnls(basis / scale, modal[:, m] / scale[:, 0])[0]
    stiffness = np.einsum("im,mk,jm->kij", modes, weights, modes)             # C_inf, C_1, ...
    used = [k for k in range(tau.size) if np.any(weights[:, k + 1] > 0)]
    law = Prony(stiffness[0], [(stiffness[k + 1], tau[k]) for k in used])
    fitted = law.relaxation(times)
    errors = np.linalg.norm(fitted - G, axis=(1, 2)) / np.linalg.norm(G, axis=(1, 2))
    return PronyFit(law, tau, modes, weights, errors, float(errors.max()))
