"""A material-point law backed by a cell: FE² in one class.

    law = fe2.RVELaw(cell, "periodic")
    stress, tangent, state = law.response(strains, state)   # strains (..., n), one cell solve per point

It answers the same interface as the analytic laws of :mod:`fe2.materials` and :mod:`fe2.plasticity`,
so a macro solver cannot tell them apart. Cells whose phases are all linear are solved once: their
effective tensor serves every point. Otherwise every point carries its own micro history (the phase
states and its last converged field, the start of its next Newton solve), and ``response`` returns
new histories without touching the given ones.
"""

import numpy as np

from . import nonlinear
from .boundary import condition


class RVELaw:
    """The averaged stress and consistent tangent of ``cell`` under ``bc`` as a material-point law."""

    is_field = False

    def __init__(self, cell, bc="periodic", *, tol=1e-10, max_iterations=25):
        self.cell, self.bc = cell, condition(bc)
        self.physics = cell.physics.name
        self.tol, self.max_iterations = tol, max_iterations
        self.linear = not any(hasattr(law, "initial_state") for law in cell.materials.values())
        cell.set_tangent(cell.elastic_tangent)
        self._elastic = cell.bind(self.bc).tangent()  # the effective tangent of the virgin cell

    def tensor(self, dim):
        """The effective tangent of the virgin cell (for a linear cell, its effective tensor)."""
        if dim != self.cell.dim:
            raise ValueError(f"a {self.cell.dim}D cell cannot answer for a {dim}D material point")
        return self._elastic

    def tensor_at(self, dim, x):
        C = self.tensor(dim)
        return np.broadcast_to(C, x.shape[1:] + C.shape)

    def initial_state(self, shape):
        """Virgin micro histories of an array of points (None entries: the cell's initial states)."""
        return None if self.linear else np.full(shape, None, dtype=object)

    def response(self, strain, state=None):
        strain = np.asarray(strain, dtype=float)
        if self.linear:
            C = self._elastic
            return strain @ C.T, np.broadcast_to(C, strain.shape + C.shape[-1:]), state
        points = strain.reshape(-1, strain.shape[-1])
        states = np.full(len(points), None, dtype=object) if state is None else np.asarray(state, dtype=object).reshape(-1)
        if states.size != len(points):
            raise ValueError(f"{states.size} micro histories for {len(points)} points")
        stress = np.empty_like(points)
        tangent = np.empty(points.shape + points.shape[-1:])
        new = np.empty(len(points), dtype=object)
        for i, (E, history) in enumerate(zip(points, states)):
            micro, guess = (None, None) if history is None else (history["micro"], history["field"])
            try:
                solution = nonlinear.solve(self.cell, E, self.bc, micro, guess=guess, tol=self.tol,
                                           max_iterations=self.max_iterations)
            except nonlinear.MicroDivergence as error:
                raise nonlinear.MicroDivergence(f"material point {i}: {error}", error.residuals) from None
            stress[i], tangent[i] = solution.stress, solution.tangent
            new[i] = {"micro": solution.state, "field": solution.field, "strain": E,
                      "hill_mandel": solution.hill_mandel, "iterations": solution.iterations}
        shape = strain.shape[:-1]
        return stress.reshape(strain.shape), tangent.reshape(shape + tangent.shape[-2:]), new.reshape(shape)

    def plastic_strain(self, history):
        """Volume average over the cell of the accumulated plastic strain p of a point's history."""
        if history is None:
            return 0.0
        total = 0.0
        for index, name in enumerate(self.cell.phases):
            micro = history["micro"].get(name)
            if isinstance(micro, dict) and "p" in micro:
                total += np.sum(self.cell.dx[self.cell.phase == index] * micro["p"])
        return total / self.cell.volume

    def micro_stress(self, history):
        """The quadrature-point stress of a point's converged micro field."""
        return self.cell.respond(self.cell.strain(history["field"]), history["micro"])[0]

    def __repr__(self):
        return f"RVELaw({self.cell!r}, {self.bc.name}{', linear' if self.linear else ''})"
