"""The material-point law: the contract between a phase (or a cell) and the body that integrates it.

    stress, tangent, new_state = law.response(strain, state)   # strain (..., n); stress (..., n); tangent (..., n, n)
    state = law.initial_state(shape)                          # virgin history of an array of points

Strains and stresses are Mandel vectors (see :mod:`fe2.notation`) for elasticity, the temperature
gradient g and K g = -q for conduction, and for finite strain the displacement gradient H = F - I and
the first Piola-Kirchhoff stress P as row-major vectors, the tangent A = dP/dF (:mod:`fe2.kinematics`). ``response`` is vectorized over any leading shape and never
modifies ``state``: the new history comes back, so a macro step can commit or roll back.

A law says what it is by four attributes: ``physics`` ("elasticity", "finite strain" or "conduction"), ``linear``
(no history, stress = tensor(dim) @ strain: the body then skips ``response`` and uses the tangent it
evaluated once), ``is_field`` (its parameters are functions of position: the body calls
``tensor_at`` at its quadrature points) and, for 2D elasticity, ``plane``: "strain" (eps_zz = 0,
the default) or "stress" (sigma_zz = 0), chosen when the law is made (``plane="stress"``). A
plane-stress law answers in 2D only, and a body refuses laws of both kinds (:func:`plane_of`). The analytic laws of :mod:`fe2.materials` and
:class:`fe2.RVELaw` are all ``Law``\\ s, so a macro solver cannot tell an analytic law from a cell.
A law of one's own subclasses :class:`Law` (docs/extending.md has a worked example) and may check
its parameters with :func:`check_real`, as the laws of :mod:`fe2.materials` do.

Every elastic law here is small-strain: beyond |eps| = ``SMALL_STRAIN`` (0.1) it is extrapolated.
A macro problem warns (:class:`StrainRangeWarning`, a Python warning) when its converged strain
leaves that range, and :func:`fe2.response` when the macro strain it gives a cell is beyond it.
"""

import abc
import os
import sys
import warnings

import numpy as np


class Law(abc.ABC):
    """A material-point law: subclass it and give ``physics``, ``tensor`` and ``response``."""

    physics = None      # "elasticity", "finite strain" or "conduction"
    linear = False      # no history; the stress is tensor(dim) @ strain
    is_field = False    # parameters that are functions of position (then tensor_at is used)
    plane = "strain"    # 2D elasticity: "strain" (eps_zz = 0) or "stress" (sigma_zz = 0)

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


SMALL_STRAIN = 0.1  # |eps| beyond which a small-strain law is extrapolated, not a model of the material


class StrainRangeWarning(UserWarning):
    """A strain beyond the small-strain range (|eps| > SMALL_STRAIN, the norm of the strain tensor)
    was given to small-strain laws: what they answer there is an extrapolation."""


def largest_strain(strain):
    """(size, index) of the largest strain among points (..., n) of Mandel strain vectors: the size
    is the vector norm, that is the norm |eps| = sqrt(eps : eps) of the strain tensor."""
    norms = np.linalg.norm(np.asarray(strain, dtype=float), axis=-1)
    index = np.unravel_index(np.argmax(norms), norms.shape)
    return float(norms[index]), tuple(int(i) for i in index)


def warn_from_caller(message, category=StrainRangeWarning):
    """``warnings.warn(message, category)`` attributed to the first caller outside the fe2 package
    (a user's script or case), so that the warning names the line that asked for the computation."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frame, level = sys._getframe(1), 2
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package + os.sep):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


PHYSICS = ("elasticity", "finite strain", "conduction")


class DeformationError(RuntimeError):
    """A deformation gradient with det F <= 0 (the material inverted) given to a finite-strain law.
    ``point``: the flat index of the first such point among the points the law was given (a body
    names its element and quadrature point); a macro step meeting it is cut back."""

    def __init__(self, message, point=None):
        super().__init__(message)
        self.point = point


def check_law(law, phase):
    """``law`` if it answers the contract, else a TypeError naming the phase."""
    if not isinstance(law, Law):
        raise TypeError(f"phase {phase!r}: {law!r} is not a material law; subclass fe2.materials.Law "
                        "(response, tensor, physics; see docs/extending.md)")
    if law.physics not in PHYSICS:
        raise ValueError(f"phase {phase!r}: {law!r} has physics {law.physics!r}; use one of {', '.join(map(repr, PHYSICS))}")
    return law


PLANES = ("strain", "stress")


def check_plane(plane):
    """``plane`` if it names a 2D hypothesis of elasticity, "strain" (eps_zz = 0) or "stress"
    (sigma_zz = 0), else a ValueError."""
    if not isinstance(plane, str) or plane not in PLANES:
        raise ValueError(f"plane must be 'strain' (eps_zz = 0) or 'stress' (sigma_zz = 0), got plane={plane!r}")
    return plane


def plane_of(materials, dim):
    """The 2D hypothesis, "strain" or "stress", of the elastic laws ``materials`` (dict phase -> law)
    of a ``dim``-dimensional body; None for conduction and for 3D. ValueError naming the phases when
    plane-stress and plane-strain laws are mixed, or a plane-stress law is given to a 3D body."""
    if any(law.physics not in ("elasticity", "finite strain") for law in materials.values()):
        return None
    planes = {name: getattr(law, "plane", "strain") for name, law in materials.items()}
    stress = [name for name, plane in planes.items() if plane == "stress"]
    if dim != 2:
        if stress:
            raise ValueError(f"phase {stress[0]!r}: {materials[stress[0]]!r} is a plane-stress law, made for 2D "
                             f"bodies; a {dim}D body needs a law without plane='stress'")
        return None
    if stress and len(stress) < len(planes):
        strain = [name for name in planes if name not in stress]
        raise ValueError(f"phases {stress} are plane stress (sigma_zz = 0) and phases {strain} plane strain "
                         "(eps_zz = 0): a 2D body is one or the other; give every elastic law plane='stress', "
                         "or none")
    return "stress" if stress else "strain"


def check_real(name, value, scalar=False, positive=False):
    """``value`` as a float (``scalar``) or a float array, checked: a ValueError naming the parameter
    unless it is a real number (with ``scalar``; else a number or an array of numbers) whose entries
    are all finite, and, with ``positive``, greater than zero. ``name`` is the parameter as the
    messages say it, ending in its symbol: "Young's modulus E" gives "... must be positive, got E=0.0".
    The laws check their constructor arguments with it."""
    try:
        array = None if value is None or np.iscomplexobj(value) else np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        array = None
    if array is None or (scalar and array.ndim != 0):
        kind = "a real number" if scalar else "a real number or an array of real numbers"
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite, got {array.tolist()}")
    if positive and not np.all(array > 0):
        raise ValueError(f"{name} must be positive, got {name.split()[-1]}={array.tolist()}")
    return float(array) if scalar else array
