"""Mixed macro control of a finite-strain cell: some components of the macro deformation gradient F̄
prescribed, the stress P̄ prescribed on all the others (uniaxial or biaxial stress, simple shear with
free normal stresses): the standard way to test a cell.

    solution = fe2.cell.mixed.solve(cell, "periodic", F={"xx": 1.5, "xy": 0.0}, P={"yx": 0.0, "yy": 0.0})
    solution.gradient, solution.stress      # the converged H̄ = F̄ - I and P̄ (row-major, fe2.kinematics)
    solution.mixed_tangent                  # d(response)/d(control), see MixedSolution
    later = fe2.cell.mixed.solve(cell, "periodic", F={"xx": 1.6, "xy": 0.0}, P=..., start=solution)

Components are named by the cell's labels ("xx", "xy", "yx", "yy"; 3D also "xz", ..., "zz"; xy is
F_xy = dx/dY). Every component is prescribed once, in ``F`` or in ``P``.

The free components H_f of the gradient solve P̄_f(H̄) = P_f^target by Newton with the cell's condensed
tangent A = dP̄/dF̄ (:func:`fe2.cell.nonlinear.solve`): dH_f = -A_ff^-1 (P̄_f - P_f^target), with a
backtracking line search on |P̄_f - P_f^target|; every micro solve starts from the last converged
field. A rotation of the cell changes no stress at F̄ = I, so each rotation plane (i, j) needs F_ij or
F_ji prescribed; a control set that leaves one free is refused before any solve, as is one whose
free-free block A_ff of the cell's tangent at F̄ = I is singular.
"""

import dataclasses
import itertools
import logging

import numpy as np

from . import nonlinear
from .conditions import condition
from ..materials.law import DeformationError

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class MixedSolution:
    """A converged mixed-control solve.

    gradient, stress : H̄ = F̄ - I and P̄ (n,), row-major.
    controlled : (n,) bool, True where the gradient was prescribed (the stress elsewhere).
    tangent : dP̄/dF̄ (n, n), the cell's condensed tangent at the solution.
    mixed_tangent : (n, n), d(response)/d(control) with control = (H̄ where controlled, P̄ elsewhere) and
        response = (P̄ where controlled, H̄ elsewhere); e.g. under uniaxial stress along x its (xx, xx)
        entry is the tangent modulus dP_xx/dF_xx of the uniaxial test.
    micro : the :class:`fe2.cell.nonlinear.MicroSolution` at the solution (field, new history, Hill-Mandel).
    residuals : |P̄_f - P_f^target| of each outer Newton iteration, relative to the stress scale.
    """

    gradient: np.ndarray
    stress: np.ndarray
    controlled: np.ndarray
    tangent: np.ndarray
    mixed_tangent: np.ndarray = dataclasses.field(repr=False)
    micro: object = dataclasses.field(repr=False)
    residuals: list = dataclasses.field(default_factory=list)

    @property
    def deformation(self):
        """F̄ = I + H̄, (dim, dim)."""
        dim = int(round(np.sqrt(self.gradient.size)))
        return self.gradient.reshape(dim, dim) + np.eye(dim)

    @property
    def state(self):
        return self.micro.state

    @property
    def field(self):
        return self.micro.field

    @property
    def iterations(self):
        return len(self.residuals) - 1


def controls(cell, F=None, P=None):
    """(controlled, values): the mask of gradient-controlled components and the prescribed value of every
    component (H = F - I where controlled, P elsewhere), from the dicts ``F`` and ``P`` {label: value};
    raises ValueError for unknown, repeated or missing components, non-finite values, or a rotation plane
    (i, j) with neither F_ij nor F_ji prescribed."""
    if cell.physics.name != "finite strain":
        raise ValueError(f"mixed control is built for finite-strain cells (F and P components), not for "
                         f"{cell.kind}")
    labels, dim = cell.physics.labels, cell.dim
    F, P = dict(F or {}), dict(P or {})
    for name, given in (("F", F), ("P", P)):
        unknown = sorted(set(map(str, given)) - set(labels))
        if unknown:
            raise ValueError(f"unknown {name} component(s) {unknown}; a {dim}D cell has {', '.join(labels)}")
    both = sorted(set(F) & set(P))
    if both:
        raise ValueError(f"component(s) {both} are prescribed in both F and P; prescribe each in one of them")
    missing = [label for label in labels if label not in F and label not in P]
    if missing:
        raise ValueError(f"component(s) {missing} are prescribed in neither F nor P; every component of a {dim}D "
                         f"cell ({', '.join(labels)}) is prescribed in one of them")
    controlled = np.array([label in F for label in labels])
    values = np.empty(len(labels))
    for k, label in enumerate(labels):
        value = F[label] if controlled[k] else P[label]
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{'F' if controlled[k] else 'P'}[{label!r}] must be a number, got {value!r}") from None
        if not np.isfinite(value):
            raise ValueError(f"{'F' if controlled[k] else 'P'}[{label!r}] is not finite: {value}")
        values[k] = value - (1.0 if controlled[k] and label[0] == label[1] else 0.0)   # F -> H on the diagonal
    for i, j in itertools.combinations(range(dim), 2):
        if not (controlled[i * dim + j] or controlled[j * dim + i]):
            a, b = "xyz"[i], "xyz"[j]
            raise ValueError(f"the rotation in the ({a}, {b}) plane is free: a rotation changes no stress at F = I, so "
                             f"prescribe F_{a}{b} or F_{b}{a} (e.g. F_{a}{b} = 0) instead of P_{a}{b} and P_{b}{a}")
    return controlled, values


def check_stiffness(A, controlled, labels):
    """Raise ValueError if the block of the tangent A (at F = I) on the stress-controlled components is
    singular (smallest singular value below 1e-10 |A|): a mode those components leave without stiffness."""
    free = ~np.asarray(controlled, dtype=bool)
    if not free.any():
        return
    smallest = np.linalg.svd(A[np.ix_(free, free)], compute_uv=False).min()
    if smallest <= 1e-10 * np.linalg.norm(A):
        names = [label for label, f in zip(labels, free) if f]
        raise ValueError(f"the stress-controlled components {names} leave a mode of zero stiffness: the block of the "
                         f"cell's tangent at F = I on them is singular (smallest singular value {smallest:.3g}, "
                         f"|A| = {np.linalg.norm(A):.3g}); prescribe F on one of them")


def solve(cell, bc, F=None, P=None, *, state=None, start=None, tol=1e-10, max_iterations=20, solver="auto"):
    """Equilibrate ``cell`` under ``bc`` with the components ``F`` {label: F_iJ} of the macro deformation
    gradient and ``P`` {label: P_iJ} of the macro first Piola-Kirchhoff stress prescribed (each component
    in one of them), from the history ``state`` (None: virgin). ``start``: a :class:`MixedSolution` of the
    same cell and control set (the last load step): its field, history and mixed tangent give the first
    iterate (with ``state`` None its history is taken). Converged when |P̄_f - P_f^target| <= tol times
    the stress scale max(|P̄|, |A(I)| |H̄|). Returns a :class:`MixedSolution`; raises
    :class:`fe2.cell.nonlinear.MicroDivergence` if the outer Newton does not converge."""
    bc = condition(bc)
    controlled, values = controls(cell, F, P)
    free = ~controlled
    if start is not None and not np.array_equal(start.controlled, controlled):
        raise ValueError("start is a solution of another control set (the prescribed components differ)")
    virgin = cell.linearize().bind(bc, solver).tangent()       # dP/dF at F = I, made once per cell
    check_stiffness(virgin, controlled, cell.physics.labels)
    A_ff = virgin[np.ix_(free, free)]
    scale = np.linalg.norm(virgin)
    # the first iterate: the prescribed gradient, and free components predicted by the last mixed tangent
    # (or the virgin tangent) for the change of the controls
    if start is None:
        H = np.where(controlled, values, 0.0)
        H[free] = np.linalg.solve(A_ff, values[free] - virgin[np.ix_(free, controlled)] @ values[controlled])
        guess, history = None, state
    else:
        old = np.where(controlled, start.gradient, start.stress)
        H = np.where(controlled, values, start.gradient)
        H[free] += start.mixed_tangent[free] @ (values - old)
        guess, history = start.field, start.state if state is None else state

    micro_tol = min(max(1e-2 * tol, 1e-13), 1e-10)   # the micro residual below the outer one, above round-off

    def micro(H, guess):
        """The micro solution at H, or None where it fails (divergence or det F <= 0): no decrease."""
        if np.linalg.det(H.reshape(cell.dim, cell.dim) + np.eye(cell.dim)) <= 0:
            return None
        try:
            return nonlinear.solve(cell, H, bc, history, guess=guess, tol=micro_tol, solver=solver)
        except (nonlinear.MicroDivergence, DeformationError) as error:
            logger.debug("mixed control: micro solve at H = %s failed: %s", H.tolist(), error)
            return None

    def residual(solution, H):
        stress_scale = max(np.linalg.norm(solution.stress), scale * np.linalg.norm(H), 1e-300)
        return np.linalg.norm(solution.stress[free] - values[free]) / stress_scale

    current = micro(H, guess)
    if current is None and start is not None:   # the prediction overshot: from the last solution's free components
        H[free] = start.gradient[free]
        current = micro(H, guess)
    if current is None:
        raise nonlinear.MicroDivergence(f"mixed control: the micro solve fails at the first iterate H = {H.tolist()}")
    norm = residual(current, H)
    residuals = [norm]
    while norm > tol:
        if len(residuals) > max_iterations:
            raise nonlinear.MicroDivergence(
                f"mixed control under {bc.name} did not converge in {max_iterations} iterations: residuals "
                f"{', '.join(f'{r:.1e}' for r in residuals[-4:])}", residuals)
        A = current.tangent
        dH = np.zeros_like(H)
        dH[free] = -np.linalg.solve(A[np.ix_(free, free)], current.stress[free] - values[free])
        step, trial = 1.0, None
        while step >= 1 / 64:
            candidate = micro(H + step * dH, current.field)
            if candidate is not None and residual(candidate, H + step * dH) <= (1 - 1e-4 * step) * norm:
                trial = candidate
                break
            step /= 2
        if trial is None:
            raise nonlinear.MicroDivergence(f"mixed control under {bc.name}: no decrease along the Newton direction "
                                            f"at H = {H.tolist()} (residual {norm:.2e})", residuals)
        H, current = H + step * dH, trial
        norm = residual(current, H)
        residuals.append(norm)
        logger.debug("mixed control iteration %d: residual %.2e (step %g)", len(residuals) - 1, norm, step)
    return MixedSolution(H, current.stress, controlled, current.tangent, mixed_tangent(current.tangent, controlled),
                         current, residuals)


def mixed_tangent(A, controlled):
    """d(response)/d(control) of the tangent A = dP/dF (n, n) under mixed control: response = (P where
    ``controlled``, H elsewhere), control = (H where controlled, P elsewhere); the partial inverse
    [[A_cc - A_cf A_ff^-1 A_fc, A_cf A_ff^-1], [-A_ff^-1 A_fc, A_ff^-1]] in the components' own order."""
    c, f = np.asarray(controlled, dtype=bool), ~np.asarray(controlled, dtype=bool)
    inverse = np.linalg.inv(A[np.ix_(f, f)]) if f.any() else np.zeros((0, 0))
    out = np.empty_like(A)
    out[np.ix_(f, f)] = inverse
    out[np.ix_(f, c)] = -inverse @ A[np.ix_(f, c)]
    out[np.ix_(c, f)] = A[np.ix_(c, f)] @ inverse
    out[np.ix_(c, c)] = A[np.ix_(c, c)] + A[np.ix_(c, f)] @ out[np.ix_(f, c)]
    return out


def uniaxial(stretch, dim=2, axis=0):
    """The control set of uniaxial stress along ``axis`` at the stretch F_aa = ``stretch``: F_ij = 0 for
    i < j (the rotations held; lines along the later axes keep their direction), P = 0 on the rest.
    Returns (F, P) dicts for :func:`solve`."""
    if dim not in (2, 3) or axis not in range(dim):
        raise ValueError(f"uniaxial stress needs dim 2 or 3 and an axis 0 .. dim - 1, got dim = {dim}, axis = {axis}")
    labels = [f"{'xyz'[i]}{'xyz'[j]}" for i in range(dim) for j in range(dim)]
    a = f"{'xyz'[axis]}{'xyz'[axis]}"
    F = {a: float(stretch), **{labels[i * dim + j]: 0.0 for i in range(dim) for j in range(i + 1, dim)}}
    return F, {label: 0.0 for label in labels if label not in F}
