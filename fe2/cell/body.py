"""A finite-element body: mesh, one law per named phase, and the element data reused by every solve.

The basis is evaluated once. The strain operator B and the quadrature weights are kept, so that the
element stiffness K_e = sum_q w_q B_q^T C_q B_q for new material values is a batched product, and
assembling into the space of a constraint is a re-indexing of the element DOFs. Vector DOFs are
interleaved: global index = scalar Lagrange DOF * ncomp + component.

A body does not change after construction: the stiffness at a tangent is a new
:class:`~fe2.cell.linearization.Linearization` (``body.linearize(tangent)``), and the laws' responses
return new states.
"""

import copy
import functools

import numpy as np
from skfem import Basis

from ..materials.law import check_law, plane_of
from . import compiled
from ..notation import to_mandel
from .linearization import Linearization
from .physics import Conduction, Elasticity, FiniteStrain, lagrange
from ..timing import timed

PHYSICS = {"conduction": Conduction, "elasticity": Elasticity, "finite strain": FiniteStrain}


class Body:
    """A finite-element body made of the phases of ``mesh``: basis, strain operator, quadrature and
    the phase laws, vectorized over elements and quadrature points. Cells and macro problems are bodies.

    Parameters
    ----------
    mesh : skfem.Mesh with named ``subdomains`` (the phases); triangles, quads, tets or hexes.
    materials : dict phase name -> law (:mod:`fe2.materials`, :mod:`fe2.materials.plasticity`, :class:`fe2.RVELaw`),
        or one law for a homogeneous body. The laws decide the physics: all elastic, or all conductors.
    order : 1 or 2, the Lagrange element order (P2 uses the same, straight-sided mesh).
    intorder : quadrature order; default exact for the stiffness of piecewise-constant materials on
        simplices and parallelogram/parallelepiped quads and hexes, three orders more for coefficient fields.
    """

    def __init__(self, mesh, materials, *, order=1, intorder=None):
        if order not in (1, 2) or isinstance(order, bool):
            raise ValueError(f"element order must be 1 or 2, got {order!r}")
        self.mesh = mesh
        self.dim = mesh.dim()
        self.phases, self.phase = phase_map(mesh, materials)
        self.phase_elements = [np.flatnonzero(self.phase == index) for index in range(len(self.phases))]
        # where a phase's elements are consecutive (as gmsh numbers them), a slice: views, not copies
        self._phase_index = [slice(e[0], e[-1] + 1) if e[-1] - e[0] + 1 == e.size else e for e in self.phase_elements]
        self.materials = materials if isinstance(materials, dict) else {self.phases[0]: materials}
        for name, law in self.materials.items():
            check_law(law, name)
        kinds = {law.physics for law in self.materials.values()}
        if len(kinds) != 1:
            by_physics = ", ".join(f"{kind}: {sorted(n for n, law in self.materials.items() if law.physics == kind)}"
                                   for kind in sorted(kinds))
            raise ValueError(f"materials must all be of one physics (small-strain elastic, finite-strain elastic or "
                             f"conductors), got {by_physics}")
        self.physics = PHYSICS[kinds.pop()](self.dim)
        self.plane = plane_of(self.materials, self.dim)  # 2D elasticity: "strain" or "stress", as the laws say
        shared = [name for name, law in self.materials.items()
                  if getattr(law, "executor", None) is not None and sum(l is law for l in self.materials.values()) > 1]
        if shared:
            raise ValueError(f"phases {shared} share one RVELaw with an executor: its workers hold one phase's "
                             "histories; give each phase its own RVELaw")
        self.order = order
        self.timings = {}
        with timed(self.timings, "element data"):
            self._element_data(mesh, order, intorder)

    def _element_data(self, mesh, order, intorder):
        simplex = mesh.elem.__name__.endswith("P1")
        fields = any(law.is_field for law in self.materials.values())
        if intorder is None:  # exact for B^T C B with C constant per element; more for coefficient fields
            intorder = (2 * (order - 1) if simplex else 2 * order) + (3 if fields else 0)
        quadrature = None
        if simplex and intorder == 0:  # one point at the centroid (scikit-fem's lowest triangle rule has 3)
            quadrature = (np.full((self.dim, 1), 1.0 / (self.dim + 1)), np.array([1.0 / (2 if self.dim == 2 else 6)]))
        # scalar Lagrange basis; vector DOFs interleaved as scalar DOF * ncomp + component
        self.basis = Basis(mesh, lagrange(mesh, order), intorder=intorder, quadrature=quadrature)
        ncomp = self.physics.ncomp
        self.dofs = (self.basis.element_dofs.T[:, :, None] * ncomp + np.arange(ncomp)).reshape(mesh.t.shape[1], -1)
        self.doflocs = np.repeat(self.basis.doflocs, ncomp, axis=1)          # (dim, ndofs)
        self.components = np.tile(np.arange(ncomp), self.basis.N)
        self.vertex_dofs = self.basis.nodal_dofs[0][:, None] * ncomp + np.arange(ncomp)  # (nvertices, ncomp)
        self.ndofs = int(self.basis.N) * ncomp
        grads = np.stack([phi.grad for (phi,) in self.basis.basis])          # (nloc, dim, nel, nqp)
        self.B = self.physics.strain_operator(grads)                          # (nel, nqp, n, nloc)
        self.rows = self.physics.rows(grads.shape[0])   # (nloc, r): where each column of B may be nonzero
        self.dx = np.asarray(self.basis.dx)                                   # (nel, nqp)

        self.volume = float(self.dx.sum())
        tangent = self.phase_tangents()  # the laws' tangent at zero strain and virgin state
        self.elastic_tangent = tangent[:, None] if tangent.ndim == 3 else tangent  # (nel, 1 or nqp, n, n)
        self.elastic_tangent.flags.writeable = False

    # --- materials ------------------------------------------------------------------------
    def phase_tangents(self):
        """Tangents from the phase laws: per element (nel, n, n), or per quadrature point
        (nel, nqp, n, n) where a law is a coefficient field, evaluated at the quadrature points."""
        laws = [self.materials[name] for name in self.phases]
        if not any(law.is_field for law in laws):
            return np.stack([law.tensor(self.dim) for law in laws])[self.phase]
        x = self.basis.mapping.F(self.basis.X)                                # (dim, nel, nqp)
        n = self.physics.size
        tangent = np.empty(self.dx.shape + (n, n))
        for index, law in enumerate(laws):
            elements = self.phase_elements[index]
            try:
                tangent[elements] = law.tensor_at(self.dim, x[:, elements])
            except ValueError as error:
                raise ValueError(f"phase {self.phases[index]!r}: {error}") from None
        return tangent

    def linearize(self, tangent=None):
        """The body linearized at the micro tangent ``tangent`` (nel, n, n) or (nel, nqp, n, n): a new
        :class:`fe2.cell.linearization.Linearization`; None gives the laws' tangent at zero strain
        and virgin state (made once). The body itself never changes."""
        if tangent is None:
            return self.virgin
        return Linearization(self, tangent)

    @functools.cached_property
    def virgin(self):
        """The linearization at the laws' tangent at zero strain and virgin state."""
        return Linearization(self, self.elastic_tangent)

    def quadrature_sum(self, values, overwrite=False):
        """sum_q w_q values_q of element-and-point values (nel, nqp, ...) -> (nel, ...); with
        ``overwrite`` the weights multiply ``values`` in place (no copy of a large temporary)."""
        weights = self.dx.reshape(self.dx.shape + (1,) * (values.ndim - 2))
        if overwrite:
            values *= weights
        else:
            values = values * weights
        return values[:, 0] if values.shape[1] == 1 else values.sum(axis=1)

    def __getstate__(self):
        """Pickled without its virgin linearization (solver handles cannot travel; a worker rebuilds it)."""
        state = dict(self.__dict__)
        state.pop("virgin", None)
        return state

    @property
    def kind(self):
        """Dimension and physics, with the hypothesis of 2D elasticity: "2D elasticity (plane stress)"."""
        return f"{self.dim}D {self.physics.name}" + (f" (plane {self.plane})" if self.plane else "")

    def __repr__(self):
        return (f"{type(self).__name__}({self.kind}, P{self.order}, {self.mesh.t.shape[1]} elements, "
                f"{self.ndofs} dofs, phases {self.phases})")

    @property
    def linear(self):
        """True when every phase law is linear (no history): one linearization answers every strain."""
        return all(law.linear for law in self.materials.values())

    @property
    def fractions(self):
        """Volume fraction of each phase."""
        volume = np.bincount(self.phase, weights=self.dx.sum(axis=1), minlength=len(self.phases))
        return dict(zip(self.phases, volume / self.volume))

    def strain(self, u):
        """Generalized strain at the quadrature points, (nel, nqp, n), of the DOF vector u
        (by the compiled kernel of :mod:`fe2.cell.compiled` where numba is installed)."""
        u = np.asarray(u, dtype=float)
        if compiled.AVAILABLE and u.ndim == 1:
            return compiled.strain(self.B, u, self.dofs)
        return (self.B @ u[self.dofs][:, None, :, None])[..., 0]

    def average(self, field):
        """Volume average over the cell of a quadrature-point field (nel, nqp, ...)."""
        field = np.broadcast_to(field, self.dx.shape + np.shape(field)[2:])
        return np.tensordot(self.dx, field, axes=([0, 1], [0, 1])) / self.volume

    def check_strain(self, strain, what=None):
        """A macro strain (or gradient, or a stress: ``what``) as a Mandel vector; a symmetric
        dim x dim tensor is accepted for elasticity. Finite strain: the displacement gradient H as a
        row-major vector (dim^2,), or the deformation gradient F as a (dim, dim) matrix (H = F - I; a
        stress matrix P is flattened). Raises ValueError on a wrong shape or NaN."""
        strain = np.asarray(strain, dtype=float)
        n = self.physics.size
        conduction = self.physics.name == "conduction"
        what = what or ("gradient" if conduction else "strain")
        if self.physics.name == "finite strain":
            if strain.shape == (self.dim, self.dim):
                strain = (strain - np.eye(self.dim) if what == "strain" else strain).ravel()
            if strain.shape != (n,) or not np.all(np.isfinite(strain)):
                name = "displacement gradient H = F - I" if what == "strain" else what
                raise ValueError(f"macro {name} must be a finite row-major vector ({', '.join(self.physics.labels)}) "
                                 f"of shape ({n},), or a ({self.dim}, {self.dim}) matrix (F for a gradient), got "
                                 f"{strain.tolist()}")
            if what == "strain" and np.linalg.det(strain.reshape(self.dim, self.dim) + np.eye(self.dim)) <= 0:
                raise ValueError(f"the macro deformation gradient F = I + H has det F <= 0 (the material would "
                                 f"invert), H = {strain.tolist()}")
            return strain
        if strain.shape == (self.dim, self.dim) and not conduction:
            if not np.allclose(strain, strain.T):
                raise ValueError(f"the macro {what} tensor must be symmetric, got {strain.tolist()}")
            strain = to_mandel(strain)
        if strain.shape != (n,):
            form = "vector" if conduction else "Mandel vector"
            raise ValueError(f"macro {what} must be a {form} ({', '.join(self.physics.labels)}) of shape ({n},) "
                             f"for {self.dim}D {self.physics.name}, got shape {strain.shape}")
        if not np.all(np.isfinite(strain)):
            raise ValueError(f"macro {what} is not finite: {strain.tolist()}")
        return strain

    def element_forces(self, stress):
        """The element nodal forces sum_q w_q B_q^T sigma_q of a stress field (nel, nqp, n): (nel, 1, nloc)."""
        return np.einsum("eqka,eqk->ea", self.B, stress * self.dx[:, :, None])[:, None, :]

    def nodal_forces(self, stress):
        """f_int = sum_e sum_q w_q B_q^T sigma_q: the nodal forces of a stress field (nel, nqp, n),
        (ndofs,) (by the compiled kernel where numba is installed)."""
        if compiled.AVAILABLE:
            return compiled.nodal_forces(self.B, self.dx, stress, self.dofs, self.ndofs)
        return np.bincount(self.dofs.ravel(), weights=self.element_forces(stress).ravel(), minlength=self.ndofs)

    def internal_force(self, stress, dof_map, n):
        """T^T f_int: the nodal forces of a stress field (nel, nqp, n), restricted through dof_map."""
        return self.restrict(self.nodal_forces(stress), dof_map, n)

    @staticmethod
    def restrict(f, dof_map, n):
        """T^T f: a full nodal vector (ndofs,) summed onto the reduced DOFs of dof_map (fixed: dropped)."""
        return np.bincount(np.where(dof_map < 0, n, dof_map), weights=f, minlength=n + 1)[:n]

    def respond(self, strain, states=None):
        """The phase laws at the quadrature points: (stress, tangent, new states) for a strain field
        (nel, nqp, n), or a batch of fields (..., nel, nqp, n) whose states' arrays carry the same
        leading axes. ``states``: dict phase -> state of that phase's points (None for no history);
        the new states are new objects, the given ones are not modified."""
        stress = np.empty_like(strain)
        tangent = np.empty(strain.shape + strain.shape[-1:])
        new = {}
        for index, name in enumerate(self.phases):
            elements = (Ellipsis, self._phase_index[index], slice(None), slice(None))   # axis -3 of a field
            law = self.materials[name]
            if not law.linear:  # a nonlinear law with (possibly) history
                state = None if states is None else states.get(name)
                try:
                    stress[elements], tangent[elements + (slice(None),)], new[name] = law.response(strain[elements], state)
                except RuntimeError as error:  # name the element and quadrature point of a failed cell solve
                    point = getattr(error, "point", None)
                    if point is None or strain.ndim != 3:
                        raise
                    element, q = self.phase_elements[index][point // strain.shape[1]], point % strain.shape[1]
                    located = copy.copy(error)  # same type and details (residuals), located message
                    located.args = (f"element {element}, quadrature point {q} (phase {name!r}): {error}",)
                    located.point = (element, q)
                    raise located from None
            else:  # linear, possibly a coefficient field: its tangent at the quadrature points
                C = self.elastic_tangent[self._phase_index[index]]
                tangent[elements + (slice(None),)] = C
                stress[elements], new[name] = (C @ strain[elements][..., None])[..., 0], None
        return stress, tangent, new

    def thickness_stretch(self, strain):
        """F_zz (nel, nqp) of a 2D finite-strain body at the gradients (nel, nqp, 4): 1 in plane strain;
        in plane stress each phase's ``law.thickness_stretch`` (F_zz solved from P_zz = 0), NaN for a
        law without one (a cell-backed point)."""
        if self.physics.name != "finite strain" or self.dim != 2:
            raise ValueError(f"F_zz is the thickness stretch of a 2D finite-strain body, not of {self.kind}")
        if self.plane != "stress":
            return np.ones(self.dx.shape)
        out = np.full(self.dx.shape, np.nan)
        for index, name in enumerate(self.phases):
            law = self.materials[name]
            if hasattr(law, "thickness_stretch"):
                elements = self.phase_elements[index]
                out[elements] = law.thickness_stretch(np.asarray(strain, dtype=float)[elements])
        return out

    def out_of_plane_stress(self, strain, states=None):
        """sigma_zz (nel, nqp) at the quadrature points of this 2D (plane-strain) elastic body for the
        strain field (nel, nqp, 3) and the phases' states (dict phase -> state, as :meth:`respond`
        takes them; None: virgin). A phase answers through its law's ``out_of_plane_stress(strain, state)``
        where it has one (J2 plasticity, a cell), else a linear law through the zz row of its 3D tensor,
        C[zz, (xx, yy, xy)] . eps (lambda (eps_xx + eps_yy) for an isotropic one); NaN for a law known only in 2D.
        A plane-stress body has sigma_zz = 0. Finite strain (plane strain, F_zz = 1): P_zz of the
        gradients H (nel, nqp, 4), from a history-free law's 3D response at F = [[F, 0], [0, 1]]."""
        finite = self.physics.name == "finite strain"
        if self.physics.name not in ("elasticity", "finite strain") or self.dim != 2:
            raise ValueError(f"sigma_zz is the out-of-plane stress of plane strain, not of {self.dim}D {self.physics.name}")
        strain = np.asarray(strain, dtype=float)
        if strain.shape != self.dx.shape + (self.physics.size,):
            raise ValueError(f"strain field of shape {strain.shape} for a body of {self.dx.shape} quadrature points "
                             f"(expected {self.dx.shape + (self.physics.size,)})")
        if self.plane == "stress":
            return np.zeros(self.dx.shape)
        out = np.full(self.dx.shape, np.nan)
        points = None
        for index, name in enumerate(self.phases):
            elements, law = self.phase_elements[index], self.materials[name]
            state = None if states is None else states.get(name)
            if hasattr(law, "out_of_plane_stress"):
                out[elements] = law.out_of_plane_stress(strain[elements], state)
            elif finite:
                if state is not None:   # a law with history answers for itself
                    continue
                try:
                    law.tensor(3)
                except ValueError:      # a law known only in 2D
                    continue
                H = np.zeros(strain[elements].shape[:-1] + (3, 3))
                H[..., :2, :2] = strain[elements].reshape(H.shape[:-2] + (2, 2))
                out[elements] = law.response(H.reshape(H.shape[:-2] + (9,)))[0][..., 8]
            elif law.linear:
                try:
                    if law.is_field:
                        points = self.basis.mapping.F(self.basis.X) if points is None else points
                        row = law.tensor_at(3, points[:, elements])[..., 2, [0, 1, 5]]     # (nel, nqp, 3)
                    else:
                        row = law.tensor(3)[2, [0, 1, 5]]
                except ValueError:  # a stiffness known only in 2D: no sigma_zz
                    continue
                out[elements] = np.einsum("...k,...k->...", row, strain[elements])
        return out

    def initial_states(self):
        """The virgin history of every phase at its quadrature points (None for laws without history)."""
        shape = lambda index: (self.phase_elements[index].size, self.dx.shape[1])  # noqa: E731
        return {name: (None if self.materials[name].linear else self.materials[name].initial_state(shape(index)))
                for index, name in enumerate(self.phases)}

    def scatter(self, values, dof_map, n, rows=None):
        """Sum element contributions ``values`` (nel, m, nloc) into an (n, m) array through
        dof_map (fixed DOFs, -1, are dropped); ``rows``: :meth:`scatter_rows` of the map, if kept."""
        rows = self.scatter_rows(dof_map, n) if rows is None else rows
        return np.stack([np.bincount(rows, weights=values[:, m].ravel(), minlength=n + 1)[:n]
                         for m in range(values.shape[1])], axis=1)

    def scatter_rows(self, dof_map, n):
        """The row of every element DOF in a scatter through dof_map (fixed DOFs: row n, dropped)."""
        return np.where(dof_map < 0, n, dof_map)[self.dofs].ravel()


def phase_map(mesh, materials):
    """Phase names and the phase index of every element, checked against the materials."""
    nel = mesh.t.shape[1]
    subdomains = {k: np.asarray(v) for k, v in (mesh.subdomains or {}).items() if not k.startswith("gmsh:")}
    if not isinstance(materials, dict):
        if subdomains and len(subdomains) > 1:
            raise ValueError(f"the mesh has phases {sorted(subdomains)}; give a dict of materials, one per phase")
        name = next(iter(subdomains), "all")
        return [name], np.zeros(nel, dtype=int)
    if not materials:
        raise ValueError("no materials given")
    if not subdomains:
        raise ValueError(f"the mesh has no named subdomains, so phases {sorted(materials)} cannot be placed")
    unknown = sorted(set(materials) - set(subdomains))
    if unknown:
        raise ValueError(f"unknown phase name(s) {unknown}: the mesh has phases {sorted(subdomains)}")
    missing = sorted(set(subdomains) - set(materials))
    if missing:
        raise ValueError(f"phase(s) {missing} of the mesh have no material; materials were given for {sorted(materials)}")
    names = list(materials)
    phase = np.full(nel, -1)
    for index, name in enumerate(names):
        elements = subdomains[name]
        if elements.size == 0:
            raise ValueError(f"phase {name!r} is empty: the mesh has no element in it")
        if np.any(phase[elements] >= 0):
            raise ValueError(f"phase {name!r} overlaps phase {names[phase[elements].max()]!r}")
        phase[elements] = index
    if np.any(phase < 0):
        raise ValueError(f"{np.sum(phase < 0)} elements belong to no phase (first: element {np.argmax(phase < 0)})")
    return names, phase
