"""The material-point law: the contract between a phase (or a cell) and the body that integrates it.

    stress, tangent, new_state = law.response(strain, state)   # strain (..., n); stress (..., n); tangent (..., n, n)
    state = law.initial_state(shape)                          # virgin history of an array of points

Strains and stresses are Mandel vectors (see :mod:`fe2.notation`) for elasticity, the temperature
gradient g and K g = -q for conduction. ``response`` is vectorized over any leading shape and never
modifies ``state``: the new history comes back, so a macro step can commit or roll back.

A law says what it is by three attributes: ``physics`` ("elasticity" or "conduction"), ``linear``
(no history, stress = tensor(dim) @ strain: the body then skips ``response`` and uses the tangent it
evaluated once) and ``is_field`` (its parameters are functions of position: the body calls
``tensor_at`` at its quadrature points). The analytic laws of :mod:`fe2.materials` and
:class:`fe2.RVELaw` are all ``Law``\\ s, so a macro solver cannot tell an analytic law from a cell.
A law of one's own subclasses :class:`Law` (docs/extending.md has a worked example).
"""

import abc

import numpy as np


class Law(abc.ABC):
    """A material-point law: subclass it and give ``physics``, ``tensor`` and ``response``."""

    physics = None      # "elasticity" or "conduction"
    linear = False      # no history; the stress is tensor(dim) @ strain
    is_field = False    # parameters that are functions of position (then tensor_at is used)

    @abc.abstractmethod
    def tensor(self, dim):
        """The tangent at zero strain and virgin state, (n, n), for a ``dim``-dimensional body."""

    def tensor_at(self, dim, x):
        """Tangents at the points x (dim, ...), shape (..., n, n): the same tensor everywhere unless
        the law is a coefficient field."""
        C = self.tensor(dim)
        return np.broadcast_to(C, np.shape(x)[1:] + C.shape)

    @abc.abstractmethod
    def response(self, strain, state=None):
        """(stress, tangent, new_state) at the strains (..., n) from the history ``state``."""

    def initial_state(self, shape):
        """The virgin history of an array of points of ``shape`` (None: a law without history)."""
        return None


def check_law(law, phase):
    """``law`` if it answers the contract, else a TypeError naming the phase."""
    if not isinstance(law, Law):
        raise TypeError(f"phase {phase!r}: {law!r} is not a material law; subclass fe2.materials.Law "
                        "(response, tensor, physics; see docs/extending.md)")
    if law.physics not in ("elasticity", "conduction"):
        raise ValueError(f"phase {phase!r}: {law!r} has physics {law.physics!r}; use 'elasticity' or 'conduction'")
    return law
