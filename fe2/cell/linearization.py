"""A body linearized at a micro tangent: the element and reduced stiffness for that tangent.

    linearization = cell.linearize(tangent)    # tangent (nel, n, n) or (nel, nqp, n, n); None: virgin
    problem = linearization.bind("periodic")   # reduced matrix, factorized on first use
    problem.field(E), problem.tangent()        # micro field; condensed tangent (computed lazily)

K_e = sum_q w_q B_q^T C_q B_q with C the given tangent. A linearization is made once and never
changes: the body it came from is untouched, and a new tangent gives a new linearization. So the
answer to a question about a cell does not depend on what was solved before it.
"""

import functools
import weakref

import numpy as np

from . import compiled, linalg
from .assembly import Pattern
from .conditions import condition


class Linearization:
    """``body`` (a :class:`fe2.cell.body.Body` or :class:`fe2.Cell`) at the micro tangent ``tangent``
    (nel, n, n) per element or (nel, nqp, n, n) per quadrature point. Built by ``body.linearize``."""

    def __init__(self, body, tangent):
        tangent = np.array(tangent, dtype=float)      # a copy: later changes of the caller's array do not leak in
        if tangent.ndim == 3:
            tangent = tangent[:, None]
        n = body.physics.size
        if tangent.ndim != 4 or tangent.shape[0] != body.dx.shape[0] or tangent.shape[1] not in (1, body.dx.shape[1]) \
                or tangent.shape[2:] != (n, n):
            raise ValueError(f"a tangent of {body!r} has shape ({body.dx.shape[0]}, [{body.dx.shape[1]},] {n}, {n}), "
                             f"got {np.shape(tangent)}")
        if not np.all(np.isfinite(tangent)):
            raise FloatingPointError("the micro tangent is not finite")
        tangent.flags.writeable = False
        self.body, self.tangent = body, tangent
        self._problems = {}   # the conditions bound to this linearization, on first use
        self._data = weakref.WeakKeyDictionary()   # the stiffness values on each pattern asked for

    @functools.cached_property
    def element_matrices(self):
        """K_e = sum_q w_q B_q^T C_q B_q, (nel, nloc, nloc)."""
        B = self.body.B
        # batched matmul is several times faster on contiguous operands than on transposed views
        Bt = np.ascontiguousarray(np.swapaxes(B, -1, -2))
        return self.body.quadrature_sum(Bt @ (self.tangent @ B), overwrite=True)

    def assemble(self, dof_map, n):
        """Upper triangle (CSR) of the stiffness T^T K T for the DOF map of a constraint
        (full DOF -> reduced index, -1 = fixed); see :class:`fe2.cell.assembly.Pattern`. A solver that
        assembles the same constraint again keeps its pattern and calls :meth:`stiffness`."""
        pattern = Pattern(self.body.dofs, dof_map, n)
        return pattern.matrix(self.stiffness(pattern))

    def stiffness(self, pattern):
        """The stored values of T^T K T on ``pattern`` (a :class:`fe2.cell.assembly.Pattern`): straight
        from the tangent by the compiled kernel (:meth:`Pattern.stiffness`), or from the element
        matrices where they were formed or numba is missing."""
        if pattern not in self._data:
            if not compiled.AVAILABLE or "element_matrices" in self.__dict__:
                data = pattern.data(self.element_matrices)
            elif self is self.body.virgin:
                data = pattern.stiffness(self.body.B, self.body.dx, self.tangent, rows=self.body.rows)
            else:  # the virgin values plus the elements whose tangent has changed
                virgin = self.body.virgin
                data = pattern.stiffness(self.body.B, self.body.dx, self.tangent, virgin.tangent, virgin.stiffness(pattern),
                                         self.body.rows)
            data.flags.writeable = False
            self._data[pattern] = data
        return self._data[pattern]

    def stress(self, u):
        """The generalized stress C eps(u) at the quadrature points, (nel, nqp, n)."""
        return (self.tangent @ self.body.strain(u)[..., None])[..., 0]

    def bind(self, bc, solver="auto"):
        """The cell problem of the condition ``bc`` ("periodic", "kubc", "subc", a
        :class:`fe2.cell.conditions.Condition` or its class) at this linearization: a
        :class:`fe2.cell.conditions.CellProblem`, assembled and factorized once. ``solver``: "direct",
        "iterative" or "auto" (:func:`fe2.cell.linalg.choose` for one solve per unit load); one
        problem per condition and path, "auto" sharing the problem of the path it chooses."""
        bc = condition(bc)
        if solver == "auto":
            solver = linalg.choose(self.body.constraint(bc)[1], self.body.dim, self.body.physics.size)
        if (bc, solver) not in self._problems:
            self._problems[bc, solver] = bc.problem(bc, self, solver=solver)
        return self._problems[bc, solver]

    def __getstate__(self):
        """Pickled without its factorizations (solver handles cannot travel; a worker rebuilds them)."""
        state = dict(self.__dict__)
        state["_problems"] = {}
        del state["_data"]
        state.pop("element_matrices", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._data = weakref.WeakKeyDictionary()

    def __repr__(self):
        return f"Linearization of {self.body!r}"
