"""Finite-strain kinematics, and the notation of gradients and first Piola-Kirchhoff stresses.

Total Lagrangian: X in the reference configuration, x = X + u, F = I + H with the displacement
gradient H = grad_X u. fe2 passes the displacement gradient between scales (so that zero is the
undeformed state, as for the small strain), stored as a full row-major vector:

    H_vec[i * dim + J] = H_iJ = du_i / dX_J       2D: (xx, xy, yx, yy)   3D: (xx, xy, xz, yx, ..., zz)

and the first Piola-Kirchhoff stress P_iJ in the same order, so that P : dF = P_vec @ dH_vec with no
scaling. The tangent A_iJkL = dP_iJ / dF_kL is a (dim^2, dim^2) matrix, symmetric for a hyperelastic
law (P = dW/dF). 2D is plane strain (F_zz = 1).

>>> F = [[1.2, 0.1], [0.0, 0.9]]
>>> print(gradient(F))                                   # H = F - I, row-major
[ 0.2  0.1  0.  -0.1]
>>> print(deformation(gradient(F)).tolist() == F, round(float(jacobian(F)), 12))
True 1.08
"""

import numpy as np

from . import notation

LABELS = {d: tuple(f"{a}{b}" for a in "xyz"[:d] for b in "xyz"[:d]) for d in (1, 2, 3)}


def size(dim):
    """Components of a gradient or a first Piola-Kirchhoff stress: dim^2."""
    return dim * dim


def dimension(n):
    """The dimension of a gradient vector of length n (1, 4 or 9)."""
    dim = {1: 1, 4: 2, 9: 3}.get(int(n))
    if dim is None:
        raise ValueError(f"a gradient vector has 1, 4 or 9 components (dim^2), got {n}")
    return dim


def to_vector(tensor):
    """Tensors (..., dim, dim) -> row-major vectors (..., dim^2)."""
    tensor = np.asarray(tensor, dtype=float)
    return tensor.reshape(tensor.shape[:-2] + (tensor.shape[-1] ** 2,))


def from_vector(vector):
    """Row-major vectors (..., dim^2) -> tensors (..., dim, dim)."""
    vector = np.asarray(vector, dtype=float)
    dim = dimension(vector.shape[-1])
    return vector.reshape(vector.shape[:-1] + (dim, dim))


def gradient(F):
    """The displacement gradient vector H = F - I (..., dim^2) of deformation gradients (..., dim, dim)."""
    F = np.asarray(F, dtype=float)
    return to_vector(F - np.eye(F.shape[-1]))


def deformation(H):
    """The deformation gradients F = I + H (..., dim, dim) of displacement gradient vectors (..., dim^2)."""
    H = from_vector(H)
    return H + np.eye(H.shape[-1])


def jacobian(F):
    """J = det F of deformation gradients (..., dim, dim)."""
    return np.linalg.det(np.asarray(F, dtype=float))


def inverse(F):
    """(F^-1, det F) of small matrices F (..., dim, dim), dim 1 to 3, by cofactors (several times
    faster than ``np.linalg.inv`` and ``det`` on many 2x2 or 3x3 matrices); a singular F gives inf/nan."""
    F = np.asarray(F, dtype=float)
    dim = F.shape[-1]
    if dim == 1:
        det = F[..., 0, 0]
        cof = np.ones_like(F)
    elif dim == 2:
        det = F[..., 0, 0] * F[..., 1, 1] - F[..., 0, 1] * F[..., 1, 0]
        cof = np.stack([np.stack([F[..., 1, 1], -F[..., 0, 1]], -1), np.stack([-F[..., 1, 0], F[..., 0, 0]], -1)], -2)
    else:
        # adj(F)_ij = cofactor_ji: the cross products of F's columns
        c0, c1, c2 = F[..., :, 0], F[..., :, 1], F[..., :, 2]
        cof = np.stack([np.cross(c1, c2), np.cross(c2, c0), np.cross(c0, c1)], -2)   # rows of adj(F)
        det = np.einsum("...i,...i->...", c0, cof[..., 0, :])
    with np.errstate(divide="ignore", invalid="ignore"):
        return cof / det[..., None, None], det


def volume_change(H):
    """J - 1 = det(I + H) - 1 of displacement gradients H (..., dim, dim), without the cancellation of
    forming I + H: tr H + (the sum of the principal 2x2 minors of H) + det H (3D; 2D: tr H + det H)."""
    H = np.asarray(H, dtype=float)
    dim = H.shape[-1]
    trace = np.trace(H, axis1=-2, axis2=-1)
    if dim == 1:
        return trace
    if dim == 2:
        return trace + H[..., 0, 0] * H[..., 1, 1] - H[..., 0, 1] * H[..., 1, 0]
    minors = 0.5 * (trace**2 - np.einsum("...ij,...ji->...", H, H))
    return trace + minors + np.linalg.det(H)


def green_lagrange(F=None, H=None):
    """E = (F^T F - I) / 2 (..., dim, dim), from F or, without cancellation at small strain, from the
    displacement gradient H (matrices): (H + H^T + H^T H) / 2."""
    if H is None:
        F = np.asarray(F, dtype=float)
        return 0.5 * (np.swapaxes(F, -1, -2) @ F - np.eye(F.shape[-1]))
    H = np.asarray(H, dtype=float)
    Ht = np.swapaxes(H, -1, -2)
    return 0.5 * (H + Ht + Ht @ H)


def cauchy(P, F):
    """The Cauchy stress sigma = P F^T / J (..., dim, dim) of first Piola-Kirchhoff stresses P and
    deformation gradients F (both (..., dim, dim))."""
    P, F = np.asarray(P, dtype=float), np.asarray(F, dtype=float)
    return P @ np.swapaxes(F, -1, -2) / jacobian(F)[..., None, None]


def tangent_matrix(A):
    """A fourth-order tangent A_iJkL (..., dim, dim, dim, dim) as the (..., dim^2, dim^2) matrix."""
    A = np.asarray(A, dtype=float)
    dim = A.shape[-1]
    return A.reshape(A.shape[:-4] + (dim * dim, dim * dim))


def from_mandel_stiffness(C):
    """The small-strain stiffness C (..., n, n) in Mandel notation (:mod:`fe2.notation`) as the
    gradient tangent A_iJkL = C_iJkL (..., dim^2, dim^2): the finite-strain tangent at F = I of a
    stress-free law whose small-strain limit is C. It annihilates the skew (rotation) part of a gradient."""
    C = np.asarray(C, dtype=float)
    dim = {3: 2, 6: 3}[C.shape[-1]]
    # the Mandel component of each (i, J) pair: eps_iJ = w_k^-1 e_k for both (i, J) and (J, i)
    index = np.empty((dim, dim), dtype=int)
    for k, (i, j) in enumerate(notation.PAIRS[dim]):
        index[i, j] = index[j, i] = k
    w = notation.weights(dim)
    scale = (1 / w)[index.ravel()]
    flat = index.ravel()
    return C[..., flat[:, None], flat[None, :]] * scale[:, None] * scale[None, :]


def symmetric_part(A):
    """The Mandel stiffness (..., n, n) of a gradient tangent (..., dim^2, dim^2) acting on symmetric
    gradients: C_kl = A(s_k, s_l) for the Mandel unit tensors s_k (the inverse of
    :func:`from_mandel_stiffness` on tangents with minor symmetries)."""
    A = np.asarray(A, dtype=float)
    dim = dimension(A.shape[-1])
    units = to_vector(notation.from_mandel(np.eye(notation.size(dim))))     # (n, dim^2)
    return units @ A @ units.T
