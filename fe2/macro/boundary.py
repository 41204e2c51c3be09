"""Boundary conditions on named boundaries, for macro problems and MsFEM, and their resolution into
fixed DOFs:

    fixed, values = fe2.macro.boundary.dirichlet_dofs([Dirichlet("left", 0.0)], mesh, ncomp=2, physics="elasticity")

DOFs are interleaved: node * ncomp + component, the nodes being those of a scalar scikit-fem basis
(its DOFs on the boundary facets, at ``basis.doflocs``) or, without a basis, the mesh vertices on
the boundary facets.
"""

import dataclasses
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
    """Surface traction (a vector) or, for conduction, inward heat flux (a number) on a named boundary."""

    boundary: str
    value: object

    def __post_init__(self):
        _check_name(self)
        _finite_numbers(self, "a number or one number per component")


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
