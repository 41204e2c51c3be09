"""Nonlinear, history-dependent cells: the micro Newton solve for a macro strain under each condition.

    solution = fe2.nonlinear.solve(cell, E, "periodic", state)   # state: None (virgin) at first
    solution.stress, solution.tangent                              # <sigma> and d<sigma>/dE
    state = solution.state                                         # commit; keep the old one to roll back
    fe2.homogenize(solution.linearization, "kubc")                 # the converged cell under another condition

Kinematic conditions (Periodic, Kubc): u = D E + T w, Newton on T^T f_int(u) = 0. SUBC: the minimal
kinematic form of the uniform traction, Newton on f_int(u) = F Sigma with F^T u / V = E, the macro
stress Sigma the Lagrange multiplier (it is the uniform traction sigma . n on the boundary). Large
plastic increments make plain Newton cycle; a backtracking line search on the residual norm fixes
that without changing the discrete problem. At
convergence the tangent is the Schur complement of the converged micro tangent stiffness K_t,
    C = (D^T K_t D - R^T (T^T K_t T)^-1 R) / V   or   C = (F^T K_r^-1 F / V)^-1  (SUBC),
exactly as for linear cells (:mod:`fe2.cell.conditions`) but with K_t, and computed once, at
convergence. The solve modifies neither the cell nor the given history: each iteration linearizes the
cell anew (:meth:`fe2.Cell.linearize`), and the new history comes back in the solution, so a macro
step can commit or roll back.
"""

import dataclasses

import numpy as np

from . import linalg
from .conditions import Subc, condition
from .averages import field_averages


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


def solve(cell, strain, bc, state=None, *, guess=None, tol=1e-10, max_iterations=25, solver="auto"):
    """Equilibrate ``cell`` for the macro strain ``strain`` under ``bc`` from the history ``state``
    (None: virgin). ``guess``: a field to start from (e.g. the last converged one). Newton with a
    backtracking line search on the residual norm (the discrete problem, and so the consistent
    tangent, are unchanged by it), from the elastic predictor under kinematic conditions. Raises
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

    def evaluate(u, sigma):
        """Residual norm and what the next step needs, at the field u (and SUBC multiplier sigma)."""
        eps = cell.strain(u)
        stress, tangent, new_state = cell.respond(eps, state)
        forces = cell.nodal_forces(stress)
        f_int = cell.restrict(forces, dof_map, n)
        scale = np.linalg.norm(forces) + 1e-300
        if static:
            r1, r2 = f_int - load @ sigma, cell.mean_strain(u) - strain
            # the strain residual against the macro strain or, unloaded, the strain in the field
            strain_scale = max(np.linalg.norm(strain), np.sqrt(cell.average(np.sum(eps**2, axis=-1))), 1e-300)
            norm = max(np.linalg.norm(r1) / scale, np.linalg.norm(r2) / strain_scale)
        else:
            r1, r2, norm = f_int, None, np.linalg.norm(f_int) / scale
        return norm, (u, sigma, eps, stress, tangent, new_state, r1, r2)

    if static:
        u = cell.affine @ strain if guess is None else np.array(guess, dtype=float)
    else:
        # elastic predictor: the guess (or zero) plus the elastic cell response to the rest of the macro
        # strain, by superposition of the unit fields of the virgin cell. An increment that stays
        # elastic at every micro point is then equilibrated as it stands (solved in no iteration).
        u = np.zeros(cell.ndofs) if guess is None else np.array(guess, dtype=float)
        u += cell.linearize().bind(bc, solver).unit_fields() @ (strain - cell.mean_strain(u))
    sigma = np.zeros(cell.physics.size)  # SUBC: the multiplier is the macro stress, <sigma> of the field
    if static and guess is not None:
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
            x1 = problem.solve(r1)
            dsigma = np.linalg.solve(problem.compliance, problem.load.T @ x1 / cell.volume - r2)
            du = problem.expand(problem.unit_stress @ dsigma - x1)
        else:
            du, dsigma = -problem.expand(problem.solve(r1)), 0.0
        step = 1.0
        trial_norm, trial = evaluate(u + du, sigma + dsigma)
        while not trial_norm <= (1 - 1e-4 * step) * norm and step > 1 / 64:  # backtrack
            step /= 2
            trial_norm, trial = evaluate(u + step * du, sigma + step * dsigma)
        norm, current = trial_norm, trial
        residuals.append(norm)
    raise MicroDivergence(f"micro Newton did not converge in {max_iterations} iterations for macro strain "
                          f"{strain.tolist()} under {bc.name}: residuals {', '.join(f'{r:.1e}' for r in residuals[-4:])}",
                          residuals)
