"""Nonlinear, history-dependent cells: the micro Newton solve for a macro strain under each condition.

    solution = fe2.nonlinear.solve(cell, E, "periodic", state)   # state: None (virgin) at first
    solution.stress, solution.tangent                              # <sigma> and d<sigma>/dE
    state = solution.state                                         # commit; keep the old one to roll back
    fe2.homogenize(solution.linearization, "kubc")                 # the converged cell under another condition

Kinematic conditions (Periodic, Kubc): u = D E + T w, Newton on T^T f_int(u) = 0. SUBC: the minimal
kinematic form of the uniform traction, Newton on f_int(u) = F Sigma with F^T u / V = E, the macro
stress Sigma the Lagrange multiplier (it is the uniform traction sigma . n on the boundary); at finite
strain also on R^T (f_int - F Sigma) = 0 for the rotations R, which Sigma holds (:class:`fe2.cell.conditions.StaticProblem`). Large
plastic increments make plain Newton cycle; a backtracking line search on the residual norm fixes
that without changing the discrete problem. At
convergence the tangent is the Schur complement of the converged micro tangent stiffness K_t,
    C = (D^T K_t D - R^T (T^T K_t T)^-1 R) / V   or   C = (F^T K_r^-1 F / V)^-1  (SUBC, small strain),
exactly as for linear cells (:mod:`fe2.cell.conditions`) but with K_t, and computed once, at
convergence. The solve modifies neither the cell nor the given history: each iteration linearizes the
cell anew (:meth:`fe2.Cell.linearize`), and the new history comes back in the solution, so a macro
step can commit or roll back.
"""

import dataclasses

import numpy as np

from . import linalg
from .. import kinematics
from .conditions import Subc, condition, held_modes
from .averages import field_averages
from ..materials.law import DeformationError


class MicroDivergence(RuntimeError):
    """The micro Newton iteration did not converge; carries the residual history."""

    def __init__(self, message, residuals=()):
        super().__init__(message)
        self.residuals = list(residuals)


@dataclasses.dataclass
class MicroSolution:
    """A converged micro solve: averaged stress, consistent tangent, new history, field, residuals,
    the cell linearized at the converged micro tangent and ``unit_fields`` (ndofs, n), the micro fields
    of the unit macro strains at that linearization, with which the tangent was condensed: the field
    of the macro strain E + dE is field + unit_fields @ dE to first order in dE."""

    stress: np.ndarray
    tangent: np.ndarray
    state: dict = dataclasses.field(repr=False)
    field: np.ndarray = dataclasses.field(repr=False)
    residuals: list = dataclasses.field(default_factory=list)
    hill_mandel: float = 0.0
    linearization: object = dataclasses.field(default=None, repr=False)
    elastic: bool = False   # every micro point answered with its elastic tangent (the virgin cell's tangent)
    unit_fields: np.ndarray = dataclasses.field(default=None, repr=False)

    @property
    def iterations(self):
        return len(self.residuals) - 1


def rotated_predictor(cell, problem, H):
    """The first iterate of a finite-strain cell at the macro gradient H with no guess: F = R U (polar),
    the virgin cell's field of the stretch U - I (``problem``: the condition on the virgin cell) rotated
    by R, u = (R - I) X + R u_U. It is frame-indifferent (that of Q F is Q times that of F), where the
    virgin field of H itself is not: a large rotation would enter it as a strain."""
    W, s, Vt = np.linalg.svd(kinematics.deformation(H))
    R, U = W @ Vt, (Vt.T * s) @ Vt
    stretched = problem.unit_fields() @ kinematics.gradient(U)
    return cell.affine @ kinematics.gradient(R) + (stretched.reshape(-1, cell.dim) @ R.T).ravel()


def solve(cell, strain, bc, state=None, *, guess=None, tol=1e-10, max_iterations=25, solver="auto"):
    """Equilibrate ``cell`` for the macro strain ``strain`` under ``bc`` from the history ``state``
    (None: virgin). ``guess``: a field to start from (e.g. the last converged one). Newton with a
    backtracking line search on the residual norm (the discrete problem, and so the consistent
    tangent, are unchanged by it), from the elastic predictor under kinematic conditions (at finite strain
    without a guess, from the rotated one of :func:`rotated_predictor`, under every condition). Raises
    MicroDivergence after ``max_iterations`` or on a non-finite residual. Convergence: the residual
    norm below tol times the norm of the internal forces.

    ``solver``: the path of the linear solves. Each iteration solves one new tangent matrix once:
    "direct" factorizes it (the ordering and analysis are the pattern's, made once per cell);
    "iterative" runs CG preconditioned by the virgin cell's AMG hierarchy (built once per cell);
    "auto" (:func:`fe2.cell.linalg.choose_newton`): direct for 2D cells and small 3D ones, iterative
    for 3D cells above about 20k unknowns (docs/solvers.md)."""
    bc = condition(bc)
    strain = cell.check_strain(strain)
    state = cell.initial_states() if state is None else state
    dof_map, n = cell.constraint(bc)
    if solver not in linalg.SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; use one of {', '.join(map(repr, linalg.SOLVERS))}")
    if solver == "auto":
        solver = linalg.choose_newton(n, cell.dim, cell.physics.size)
    static = isinstance(bc, Subc)
    load = cell.traction_load(dof_map, n) if static else None
    held = held_modes(cell)[1] if static else None   # mean strains of the rigid modes SUBC holds by Sigma (rotations)

    def evaluate(u, sigma):
        """Residual norm and what the next step needs, at the field u (and SUBC multiplier sigma)."""
        eps = cell.strain(u)
        stress, tangent, new_state = cell.respond(eps, state)
        forces = cell.nodal_forces(stress)
        f_int = cell.restrict(forces, dof_map, n)
        scale = np.linalg.norm(forces) + 1e-300
        if static:
            # R^T (f_int - F Sigma) = V W^T (<sigma> - Sigma) for the held modes R (B R = W uniform)
            r1 = f_int - load @ sigma
            r2 = held.T @ (cell.average(stress) - sigma) * cell.volume, cell.mean_strain(u) - strain
            # the strain residual against the macro strain or, unloaded, the strain in the field
            strain_scale = max(np.linalg.norm(strain), np.sqrt(cell.average(np.sum(eps**2, axis=-1))), 1e-300)
            norm = max(np.linalg.norm(np.concatenate([r1, r2[0]])) / scale, np.linalg.norm(r2[1]) / strain_scale)
        else:
            r1, r2, norm = f_int, None, np.linalg.norm(f_int) / scale
        return norm, (u, sigma, eps, stress, tangent, new_state, r1, r2)

    inverted = [None]

    def attempt(u, sigma):
        """evaluate(u, sigma), or (inf, None) where a finite-strain law meets det F <= 0 (no decrease)."""
        try:
            return evaluate(u, sigma)
        except DeformationError as error:
            inverted[0] = error
            return np.inf, None

    if guess is None and cell.physics.name == "finite strain":
        virgin = cell.linearize().bind(bc, solver)
        u = rotated_predictor(cell, virgin, strain)
        if not static:
            # in the admissible space exactly: the affine field of H plus the predictor's fluctuation taken
            # at the reduced DOFs (R U = F only to round-off, which at small H is a large relative error)
            free = dof_map >= 0
            w = np.zeros(n)
            w[dof_map[free]] = (u - cell.affine @ strain)[free]
            u = cell.affine @ strain + virgin.expand(w)
    elif static:
        u = cell.affine @ strain if guess is None else np.array(guess, dtype=float)
    else:
        # elastic predictor: the guess (or zero) plus the elastic cell response to the rest of the macro
        # strain, by superposition of the unit fields of the virgin cell. An increment that stays
        # elastic at every micro point is then equilibrated as it stands (solved in no iteration).
        u = np.zeros(cell.ndofs) if guess is None else np.array(guess, dtype=float)
        u += cell.linearize().bind(bc, solver).unit_fields() @ (strain - cell.mean_strain(u))
    sigma = np.zeros(cell.physics.size)  # SUBC: the multiplier is the macro stress, <sigma> of the field
    if static:
        sigma = cell.average(cell.respond(cell.strain(u), state)[0])
    norm, current = evaluate(u, sigma)
    residuals = [norm]
    for iteration in range(max_iterations + 1):
        if not np.isfinite(norm):
            raise MicroDivergence(f"micro Newton: non-finite residual at iteration {iteration} for macro strain "
                                  f"{strain.tolist()}", residuals)
        u, sigma, eps, stress, tangent, new_state, r1, r2 = current
        if norm <= tol:
            elastic = np.array_equal(tangent, np.broadcast_to(cell.elastic_tangent, tangent.shape))
            # every micro point elastic: the converged tangent is the virgin one, factorized once per cell
            if elastic:
                problem = cell.linearize().bind(bc, solver)
            else:
                problem = bc.problem(bc, cell.linearize(tangent), solver=solver)
            hill_mandel = field_averages(cell, eps[..., None], stress[..., None], cell.mean_strain(u)[None])[2][0]
            return MicroSolution(cell.average(stress), problem.tangent(), new_state, u, residuals, hill_mandel,
                                 problem.linearization, elastic, problem.unit_fields())
        if iteration == max_iterations:
            break
        # a cell problem of its own, not cached by the linearization: when the next iteration drops
        # it, its factorization (and Pardiso handle) is released at once
        problem = bc.problem(bc, cell.linearize(tangent), solver=solver)
        if static:
            du, dsigma = problem.correction(r1, *r2)
        else:
            du, dsigma = -problem.expand(problem.solve(r1)), 0.0
        step = 1.0
        trial_norm, trial = attempt(u + du, sigma + dsigma)
        while not trial_norm <= (1 - 1e-4 * step) * norm and step > 1 / 64:  # backtrack
            step /= 2
            trial_norm, trial = attempt(u + step * du, sigma + step * dsigma)
        if trial is None:   # every step down to 1/64 inverts the material somewhere
            raise inverted[0]
        norm, current = trial_norm, trial
        residuals.append(norm)
    raise MicroDivergence(f"micro Newton did not converge in {max_iterations} iterations for macro strain "
                          f"{strain.tolist()} under {bc.name}: residuals {', '.join(f'{r:.1e}' for r in residuals[-4:])}",
                          residuals)
