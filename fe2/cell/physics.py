"""The physics of a cell: scalar conduction, small-strain elasticity and finite-strain elasticity.

Each turns scikit-fem basis data into the operators the homogenization needs:

* ``strain_operator``: B with shape (n_elements, n_quadrature, n, n_local), so that the
  generalized strain at a quadrature point is B @ u_element (temperature gradient, or the strain
  as a Mandel vector, see :mod:`fe2.notation`). It is built from the gradients of the scalar
  Lagrange basis; vector DOFs are interleaved: local (and global) index = scalar index * dim + component;
* ``affine``: D with shape (n_dofs, n), the nodal values of the affine field x -> E x for each unit
  macro gradient E (exact for the Lagrange elements used here);
* ``rigid_modes``: the fields of zero strain (constants; translations and infinitesimal rotations).
"""

import numpy as np
from skfem import ElementHex1, ElementHex2, ElementQuad1, ElementQuad2, ElementTetP1, ElementTetP2, ElementTriP1, ElementTriP2

from .. import kinematics, notation

# mesh geometry element -> (P1, P2) Lagrange elements on that mesh
LAGRANGE = {
    ElementTriP1: (ElementTriP1, ElementTriP2),
    ElementQuad1: (ElementQuad1, ElementQuad2),
    ElementTetP1: (ElementTetP1, ElementTetP2),
    ElementHex1: (ElementHex1, ElementHex2),
}


def lagrange(mesh, order):
    """The scalar Lagrange element of ``order`` (1 or 2) on ``mesh``."""
    if order not in (1, 2):
        raise ValueError(f"element order must be 1 or 2, got {order}")
    try:
        return LAGRANGE[mesh.elem][order - 1]()
    except KeyError:
        raise ValueError(f"unsupported mesh type {type(mesh).__name__}; use triangles, quads, tets or hexes") from None


class Conduction:
    """Steady heat conduction: generalized strain g = grad T, stress K g = -q."""

    name = "conduction"

    def __init__(self, dim):
        self.dim = dim
        self.size = dim
        self.labels = ("x", "y", "z")[:dim]
        self.ncomp = 1

    def strain_operator(self, grads):
        """grads: scalar basis gradients (nloc, dim, nel, nqp) -> B (nel, nqp, dim, nloc)."""
        return np.ascontiguousarray(grads.transpose(2, 3, 1, 0))

    def affine(self, doflocs, comp, origin):
        return (doflocs - origin[:, None]).T

    def rows(self, nloc):
        """(nloc, r): the rows of B where the column of each local DOF may be nonzero (here all)."""
        return np.tile(np.arange(self.size), (nloc, 1))

    def rigid_modes(self, doflocs, comp, origin):
        return np.ones((doflocs.shape[1], 1))


class Elasticity:
    """Small-strain elasticity (plane strain in 2D); strain and stress as Mandel vectors."""

    name = "elasticity"

    def __init__(self, dim):
        self.dim = dim
        self.size = notation.size(dim)
        self.labels = notation.LABELS[dim]
        self.ncomp = dim

    def strain_operator(self, grads):
        """grads: scalar basis gradients (nloc, dim, nel, nqp) -> B (nel, nqp, n, nloc * dim).

        The DOF (a, c) carries u = phi_a e_c, whose strain is sym(e_c (x) grad phi_a):
        eps_ij = (delta_ic d_j phi_a + delta_jc d_i phi_a) / 2, Mandel-scaled.
        """
        nloc, dim, nel, nqp = grads.shape
        B = np.zeros((self.size, nloc, dim, nel, nqp))          # filled in contiguous blocks
        w = notation.weights(dim)
        for k, (i, j) in enumerate(notation.PAIRS[dim]):
            B[k, :, i] += 0.5 * w[k] * grads[:, j]
            B[k, :, j] += 0.5 * w[k] * grads[:, i]
        # contiguous: the batched products and compiled kernels over elements run several times faster
        return np.ascontiguousarray(B.transpose(3, 4, 0, 1, 2)).reshape(nel, nqp, self.size, nloc * dim)

    def rows(self, nloc):
        """(nloc * dim, dim): the strain rows of the DOF (a, c): the Mandel components ij with c in (i, j)."""
        per_component = [[k for k, pair in enumerate(notation.PAIRS[self.dim]) if c in pair] for c in range(self.dim)]
        return np.tile(np.array(per_component), (nloc, 1))

    def affine(self, doflocs, comp, origin):
        x = doflocs - origin[:, None]
        units = notation.from_mandel(np.eye(self.size))  # (n, dim, dim)
        # u_c(x) = sum_d E[c, d] x_d, evaluated for the component carried by each DOF
        return np.einsum("knd,dn->nk", units[:, comp, :], x)

    def rigid_modes(self, doflocs, comp, origin):
        x = doflocs - origin[:, None]
        n = comp.size
        modes = [(comp == c).astype(float) for c in range(self.dim)]
        for i, j in ((0, 1),) if self.dim == 2 else ((1, 2), (0, 2), (0, 1)):
            # rotation in the (i, j) plane: u_i = -x_j, u_j = x_i
            r = np.zeros(n)
            r[comp == i] = -x[j, comp == i]
            r[comp == j] = x[i, comp == j]
            modes.append(r)
        return np.stack(modes, axis=1)


class FiniteStrain(Elasticity):
    """Finite-strain elasticity, total Lagrangian (plane strain in 2D): the generalized strain is the
    displacement gradient H = grad_X u = F - I and the stress the first Piola-Kirchhoff stress P, both
    row-major vectors of dim^2 components (:mod:`fe2.kinematics`); the tangent is A = dP/dF. B is
    linear in u, so the cell kernel (assembly, conditions, condensation) is that of small strain with
    n = dim^2; the nonlinearity lives in the laws, whose P(F) and A(F) carry the geometry."""

    name = "finite strain"

    def __init__(self, dim):
        super().__init__(dim)
        self.size = kinematics.size(dim)
        self.labels = kinematics.LABELS[dim]

    def strain_operator(self, grads):
        """grads (nloc, dim, nel, nqp) -> B (nel, nqp, dim^2, nloc * dim): the DOF (a, c) carries
        u = phi_a e_c, whose gradient is H_iJ = delta_ic d_J phi_a."""
        nloc, dim, nel, nqp = grads.shape
        B = np.zeros((dim, dim, nloc, dim, nel, nqp))
        for c in range(dim):
            B[c, :, :, c] = grads.transpose(1, 0, 2, 3)
        return np.ascontiguousarray(B.reshape(dim * dim, nloc, dim, nel, nqp).transpose(3, 4, 0, 1, 2)).reshape(
            nel, nqp, dim * dim, nloc * dim)

    def rows(self, nloc):
        """(nloc * dim, dim): the gradient rows of the DOF (a, c): H_cJ, J = 0 .. dim - 1."""
        per_component = np.arange(self.dim)[:, None] * self.dim + np.arange(self.dim)
        return np.tile(per_component, (nloc, 1))

    def affine(self, doflocs, comp, origin):
        """u_c(x) = H_cJ x_J for each unit gradient H."""
        x = doflocs - origin[:, None]
        units = np.eye(self.size).reshape(self.size, self.dim, self.dim)
        return np.einsum("knd,dn->nk", units[:, comp, :], x)
