"""A microstructure cell (RVE): a body on a lattice cell, with the affine fields of the macro gradients,
its rigid modes and the DOF maps of the conditions of homogenization. Immutable after construction:
the stiffness at a micro tangent is a new :class:`~fe2.cell.linearization.Linearization`."""

import numpy as np

from .assembly import Pattern
from .body import Body
from .conditions import condition
from .lattice import Lattice
from .voids import check_connected, outer_boundary, remove_voids
from ..timing import timed


class Cell(Body):
    """A cell (RVE) made of the phases of ``mesh``; see :class:`fe2.cell.body.Body` for the arguments.

    lattice : :class:`fe2.cell.lattice.Lattice`, or an array of lattice vectors (rows), the cell then
        placed around the mesh; default the mesh's bounding box. The mesh spans its lattice cell
        (a parallelogram or parallelepiped: a hexagonal array is meshed on its rhombic primitive cell).

    Voids (:mod:`fe2.cell.voids`, docs/porous.md): a phase whose material is ``None`` is left out of
    the mesh, and a mesh that fills less than its lattice cell is porous. Averages are over the whole
    lattice cell, ``cell.volume`` = |Y| (the solid's is ``cell.solid_volume``, ``cell.porosity`` the
    rest): <sigma> = int_solid sigma / |Y|, <eps> = int_dY u (x)_s n / |Y| (:meth:`mean_strain`).
    """

    def __init__(self, mesh, materials, *, order=1, lattice=None, intorder=None):
        whole = mesh
        mesh, materials, self.voids = remove_voids(mesh, materials)
        super().__init__(mesh, materials, order=order, intorder=intorder)
        self._maps = {}       # DOF maps of the conditions, computed on first use (they do not depend on the tangent)
        self._patterns = {}   # their sparsity patterns and symbolic factorizations, likewise
        with timed(self.timings, "element data"):
            self._lattice_data(whole, lattice)

    def _lattice_data(self, whole, lattice):
        if lattice is None:
            lattice = Lattice.box(whole.p)   # the mesh with its void phases: voids may lie on the faces
        elif not isinstance(lattice, Lattice):
            lattice = np.asarray(lattice, dtype=float)
            if lattice.shape != (self.dim, self.dim):
                raise ValueError(f"a {self.dim}D cell needs {self.dim} lattice vectors of length {self.dim}, got shape {lattice.shape}")
            lattice = Lattice.around(lattice, whole.p)
        self.lattice = lattice
        self.lattice.check_holds(self.mesh.p, 1e-8 * self.lattice.diameter)
        self.solid_volume, self.porosity, self.outer_boundary = self.volume, 0.0, None
        if self.volume > (1 + 1e-8) * self.lattice.volume:
            raise ValueError(
                f"the mesh volume {self.volume:.12g} exceeds its lattice cell volume {self.lattice.volume:.12g}: "
                "overlapping elements, or give the lattice vectors of the cell")
        if self.volume < (1 - 1e-8) * self.lattice.volume:  # porous: averages over the whole lattice cell
            if self.physics.name == "finite strain":
                raise ValueError(f"porous cells are not built for finite strain (the mesh fills "
                                 f"{self.volume / self.lattice.volume:.1%} of its lattice cell): <F> would be taken "
                                 "from the outer boundary; give a solid cell, or a soft phase in the pores")
            self.outer_boundary = outer_boundary(self)
            check_connected(self)
            self.porosity = 1 - self.solid_volume / self.lattice.volume
            self.volume = self.lattice.volume
        origin = self.lattice.origin + 0.5 * self.lattice.vectors.sum(axis=0)
        self.affine = self.physics.affine(self.doflocs, self.components, origin)  # (ndofs, n)
        self.rigid_modes = self.physics.rigid_modes(self.doflocs, self.components, origin)

    def unit_stress_forces(self):
        """F_e^T = sum_q w_q B_q, (nel, n, nloc): element nodal forces of the unit uniform stresses,
        int B^T e_k dx = int N (e_k n) ds."""
        return self.quadrature_sum(self.B)

    def mean_strain(self, u):
        """<eps> of the field u (ndofs,) or fields (ndofs, m): (n,) or (n, m). A solid cell: the volume
        average of the strain; a porous one: (1/|Y|) int_dY u (x)_s n ds, the average-strain theorem
        (:mod:`fe2.cell.voids`; the macro strain E of a periodic field u = E x + w)."""
        u = np.asarray(u, dtype=float)
        if self.outer_boundary is None:
            return self.average(self.strain(u) if u.ndim == 1 else self.B @ u[self.dofs][:, None])
        if self.outer_boundary.operator is None:
            raise ValueError("no strain average: voids cut the cell boundary and some pair of opposite faces has no "
                             "solid facet matched periodically")
        return self.outer_boundary.operator.T @ u / self.volume

    def traction_load(self, dof_map, n):
        """F (n_reduced, size): the nodal loads of the unit uniform tractions S_m n on the outer boundary
        (int N S_m n ds, = int B^T e_m dx without voids), summed through dof_map."""
        if self.outer_boundary is None:
            return self.scatter(self.unit_stress_forces(), dof_map, n)
        load = self.outer_boundary.load
        return np.stack([self.restrict(load[:, m], dof_map, n) for m in range(load.shape[1])], axis=1)

    def constraint(self, bc):
        """(dof_map, n) of the condition ``bc`` on this cell, computed once."""
        bc = condition(bc)
        if bc not in self._maps:
            index, n = bc.dof_map(self)
            index = np.array(index, dtype=np.int64)
            if index.shape != (self.ndofs,) or int(n) != n or index.max(initial=-1) >= n or index.min(initial=0) < -1:
                raise ValueError(f"{bc!r}.dof_map must give an index per DOF ({self.ndofs},) in -1 .. n-1 and n, "
                                 f"got shape {index.shape} and n = {n}")
            index.flags.writeable = False
            self._maps[bc] = index, int(n)
        return self._maps[bc]

    def pattern(self, bc):
        """The sparsity pattern of the reduced stiffness under ``bc``, with its symbolic factorization:
        computed once, shared by every linearization of this cell (:class:`fe2.cell.assembly.Pattern`)."""
        bc = condition(bc)
        if bc not in self._patterns:
            self._patterns[bc] = Pattern(self.dofs, *self.constraint(bc))
        return self._patterns[bc]

    def bind(self, bc):
        """The cell problem of ``bc`` at the virgin linearization (``self.linearize().bind(bc)``)."""
        return self.linearize().bind(bc)

    def __repr__(self):
        fractions = ", ".join(f"{k}: {v:.3f}" for k, v in self.fractions.items())
        voids = f", porosity {self.porosity:.3f}" + (f" ({', '.join(self.voids)})" if self.voids else "") if self.porosity else ""
        return (f"Cell({self.kind}, P{self.order}, {self.mesh.t.shape[1]} elements, "
                f"{self.ndofs} dofs, phases {{{fractions}}}{voids})")
