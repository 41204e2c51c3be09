"""Boundary conditions on named boundaries, for macro problems and MsFEM, loads given as functions,
and the resolution of Dirichlet conditions into fixed DOFs:

    fixed, values = fe2.macro.boundary.dirichlet_dofs([Dirichlet("left", 0.0)], mesh, ncomp=2, physics="elasticity")

DOFs are interleaved: node * ncomp + component, the nodes being those of a scalar scikit-fem basis
(its DOFs on the boundary facets, at ``basis.doflocs``) or, without a basis, the mesh vertices on
the boundary facets.
"""

import dataclasses
import inspect
import numbers

import numpy as np


@dataclasses.dataclass(frozen=True)
class Dirichlet:
    """Prescribed displacement (temperature) on a named boundary at full load: a number (every
    component), one number per component, or a function of the positions x (dim, n) returning (n,)
    or (ncomp, n); ``components`` restricts it (e.g. (0,) for u_x only)."""

    boundary: str
    value: object = 0.0
    components: tuple = None

    def __post_init__(self):
        _check_name(self)
        if not callable(self.value):
            _finite_numbers(self, "a number, one number per component, or a function of the positions")
        if self.components is not None:
            components = np.atleast_1d(np.asarray(self.components, dtype=object))
            if components.ndim != 1 or not all(isinstance(c, numbers.Integral) and not isinstance(c, bool)
                                               for c in components):
                raise ValueError(f"Dirichlet on {self.boundary!r}: components must be component numbers "
                                 f"(e.g. (0,) for the x component), got {self.components!r}")


@dataclasses.dataclass(frozen=True)
class Traction:
    """Surface traction (a vector) or, for conduction, inward heat flux (a number) on a named boundary:
    numbers (at full load, scaled by the load factor), a function ``t(x)`` of the positions x (dim, ...)
    returning (ncomp, ...) (or (...), the same for every component), also scaled by the load factor,
    or a function ``t(x, load)`` of the positions and the load factor, taken as it is (see
    :func:`takes_load`)."""

    boundary: str
    value: object

    def __post_init__(self):
        _check_name(self)
        if callable(self.value):
            takes_load(self.value, f"Traction on {self.boundary!r}")
        else:
            _finite_numbers(self, "a number, one number per component, or a function of the positions")


def takes_load(function, what):
    """Whether a load function is ``f(x, load)`` (True: the load at load factor ``load``, not scaled)
    or ``f(x)`` (False: the load at full load, scaled by the load factor), by its required positional
    parameters; ValueError naming ``what`` for any other signature."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # a builtin or ufunc without a signature: f(x)
        return False
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    required = [p for p in parameters if p.kind in kinds and p.default is inspect.Parameter.empty]
    if len(required) not in (1, 2):
        raise ValueError(f"{what}: a load function takes the positions x, or x and the load factor "
                         f"(f(x) or f(x, load)), but it requires {len(required)} arguments")
    return len(required) == 2


def load_values(function, x, ncomp, what, load=None):
    """The values (ncomp, ...) of a load function at the points x (dim, ...): ``function(x)`` or, with
    ``load``, ``function(x, load)``, returning (ncomp, ...) or (...) (every component alike).
    ValueError for another shape or a value that is not finite, naming the point."""
    values = np.asarray(function(x) if load is None else function(x, load), dtype=float)
    points = x.shape[1:]
    try:
        if values.ndim <= len(points):       # one value for every component
            values = np.broadcast_to(values, points)[None]
        elif values.ndim != len(points) + 1 or values.shape[0] not in (1, ncomp):
            raise ValueError
        values = np.broadcast_to(values, (values.shape[0],) + points)
    except ValueError:
        raise ValueError(f"{what}: the function returned shape {values.shape} at points of shape {points}; "
                         f"expected {(ncomp,) + points} or {points}") from None
    values = np.broadcast_to(values, (ncomp,) + points)
    bad = ~np.isfinite(values).all(axis=0)
    if np.any(bad):
        index = np.unravel_index(np.argmax(bad), bad.shape)
        where = np.round(x[(slice(None),) + index], 6).tolist()
        raise ValueError(f"{what}: the value must be finite, but it is not at x = {where}"
                         + (f" (load factor {load:g})" if load is not None else "")
                         + f" ({int(bad.sum())} of {bad.size} points)")
    return values


def _check_name(condition):
    if not isinstance(condition.boundary, str):
        raise ValueError(f"{type(condition).__name__}: the boundary is named by a string (a boundary of the mesh), "
                         f"got {condition.boundary!r}")


def _finite_numbers(condition, kind):
    """ValueError unless the condition's value is finite numbers (checked where it is made, before any work)."""
    where = f"{type(condition).__name__} on {condition.boundary!r}"
    try:
        value = np.asarray(condition.value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: the value must be {kind}, got {condition.value!r}") from None
    if value.ndim > 1:
        raise ValueError(f"{where}: the value must be {kind}, got an array of shape {value.shape}")
    if not np.all(np.isfinite(value)):
        raise ValueError(f"{where}: the value must be finite, got {value.tolist()}")


def dirichlet_dofs(conditions, mesh, ncomp, *, physics, basis=None, where="mesh"):
    """The fixed DOFs (sorted) and their values of the :class:`Dirichlet` ``conditions`` on the named
    boundaries of ``mesh``, for a field of ``ncomp`` components (``physics`` names the field in
    messages, ``where`` the mesh). The nodes of a boundary are the DOFs of the scalar ``basis`` on
    its facets, or, without a basis, the mesh vertices on them. A later condition overrides an
    earlier one at the DOFs they share. Bad input is refused with a message naming the boundary."""
    names = set((mesh.boundaries or {}).keys())
    values = {}
    for bc in conditions:
        if not isinstance(bc, Dirichlet):
            raise ValueError(f"Dirichlet conditions must be fe2.macro.Dirichlet, got {bc!r}")
        if bc.boundary not in names:
            raise ValueError(f"the {where} has no boundary named {bc.boundary!r}; it has {sorted(names)}")
        facets = mesh.boundaries[bc.boundary]
        if basis is None:
            nodes = np.unique(mesh.facets[:, facets])
            x = mesh.p[:, nodes]
        else:
            nodes = basis.get_dofs(facets).all()
            x = basis.doflocs[:, nodes]
        g = _values(bc, x, ncomp)
        components = range(ncomp) if bc.components is None else np.atleast_1d(bc.components).tolist()
        for c in components:
            if not 0 <= c < ncomp:
                raise ValueError(f"Dirichlet on {bc.boundary!r}: component {c} does not exist for {physics}")
            values.update(zip(nodes * ncomp + c, g[c]))
    fixed = np.array(sorted(values), dtype=int)
    return fixed, np.array([values[d] for d in fixed], dtype=float)


def _values(bc, x, ncomp):
    """The values (ncomp, n) of a condition at the n positions x."""
    n = x.shape[1]
    if callable(bc.value):
        g = np.asarray(bc.value(x), dtype=float)
        if g.shape not in ((n,), (ncomp, n)):
            raise ValueError(f"Dirichlet on {bc.boundary!r}: the function returned shape {g.shape}, "
                             f"expected ({n},) or ({ncomp}, {n})")
    else:
        g = np.asarray(bc.value, dtype=float)
        if g.shape not in ((), (ncomp,)):
            raise ValueError(f"Dirichlet on {bc.boundary!r}: got shape {g.shape}; give a number or {ncomp} numbers, "
                             f"got {g.tolist()}")
        g = g[:, None] if g.ndim else g
    bad = ~np.isfinite(np.broadcast_to(g, (ncomp, n)))
    if np.any(bad):
        where = np.round(x[:, np.argmax(bad.any(axis=0))], 6).tolist()
        raise ValueError(f"Dirichlet on {bc.boundary!r}: the value must be finite, but it is not at x = {where} "
                         f"({int(bad.any(axis=0).sum())} of {n} nodes)")
    return np.broadcast_to(g, (ncomp, n))
