"""A microstructure cell (RVE): a body on a lattice cell, with the affine fields of the macro gradients,
its rigid modes, and the boundary conditions of homogenization bound to it."""

import numpy as np

from .body import Body
from .lattice import Lattice
from .timing import timed


class Cell(Body):
    """A cell (RVE) made of the phases of ``mesh``; see :class:`fe2.body.Body` for the arguments.

    lattice : :class:`fe2.lattice.Lattice`, or an array of lattice vectors (rows), the cell then
        placed around the mesh; default the mesh's bounding box. The mesh must fill its lattice cell
        (a parallelogram or parallelepiped: a hexagonal array is meshed on its rhombic primitive cell).
    """

    def __init__(self, mesh, materials, *, order=1, lattice=None, intorder=None):
        super().__init__(mesh, materials, order=order, intorder=intorder)
        self._maps = {}   # DOF maps of the bound conditions, which do not depend on the tangent
        with timed(self.timings, "element data"):
            self._lattice_data(mesh, lattice)

    def _lattice_data(self, mesh, lattice):
        if lattice is None:
            lattice = Lattice.box(mesh.p)
        elif not isinstance(lattice, Lattice):
            lattice = np.asarray(lattice, dtype=float)
            if lattice.shape != (self.dim, self.dim):
                raise ValueError(f"a {self.dim}D cell needs {self.dim} lattice vectors of length {self.dim}, got shape {lattice.shape}")
            lattice = Lattice.around(lattice, mesh.p)
        self.lattice = lattice
        self.lattice.check_holds(mesh.p, 1e-8 * self.lattice.diameter)
        if abs(self.volume - self.lattice.volume) > 1e-8 * self.lattice.volume:
            raise ValueError(
                f"the mesh volume {self.volume:.12g} differs from its lattice cell volume "
                f"{self.lattice.volume:.12g}; give the lattice vectors of the cell (and mesh voids as a phase)"
            )
        origin = self.lattice.origin + 0.5 * self.lattice.vectors.sum(axis=0)
        self.affine = self.physics.affine(self.doflocs, self.components, origin)  # (ndofs, n)
        self.rigid_modes = self.physics.rigid_modes(self.doflocs, self.components, origin)

    def unit_strain_forces(self):
        """(K_e D_e)^T = sum_q w_q C_q B_q, (nel, n, nloc): element nodal forces of the unit macro
        strains (B D_e = I exactly, as the affine fields lie in the Lagrange space)."""
        return self.quadrature_sum(self.tangent @ self.B, overwrite=True)

    def unit_stress_forces(self):
        """F_e^T = sum_q w_q B_q, (nel, n, nloc): element nodal forces of the unit uniform stresses,
        int B^T e_k dx = int N (e_k n) ds."""
        return self.quadrature_sum(self.B)

    def constraint(self, bc):
        """(dof_map, n) of the condition ``bc`` on this cell, computed once."""
        from .boundary import condition
        bc = condition(bc)
        if bc not in self._maps:
            self._maps[bc] = bc.dof_map(self)
        return self._maps[bc]

    def bind(self, bc):
        """The boundary condition ``bc`` bound to this cell: assembled and factorized once, kept until
        the tangent changes. ``bc``: "periodic", "kubc", "subc", a condition or its class."""
        from .boundary import condition
        bc = condition(bc)
        if bc not in self._bound:
            self._bound[bc] = bc.bind(bc, self)
        return self._bound[bc]

    def homogenize(self, bc):
        """Effective tensor and load cases under ``bc``; see :func:`fe2.homogenization.homogenize`."""
        from .homogenization import homogenize
        return homogenize(self, bc)

    def __repr__(self):
        fractions = ", ".join(f"{k}: {v:.3f}" for k, v in self.fractions.items())
        return (f"Cell({self.dim}D {self.physics.name}, P{self.order}, {self.mesh.t.shape[1]} elements, "
                f"{self.ndofs} dofs, phases {{{fractions}}})")
