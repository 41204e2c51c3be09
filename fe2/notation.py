"""Tensor notation used everywhere in fe2: Mandel vectors.

A symmetric second-order tensor is stored as a Mandel vector, shear terms scaled by sqrt(2):

    2D: (xx, yy, sqrt2*xy)                                   -> length 3
    3D: (xx, yy, zz, sqrt2*yz, sqrt2*xz, sqrt2*xy)           -> length 6

so that sigma:eps == sigma_vec @ eps_vec and a fourth-order tensor with minor symmetries is a
symmetric matrix whose eigenvalues are those of the tensor. Stiffness matrices in the engineering
(Voigt) convention, where strain carries 2*eps_xy, are converted with :func:`mandel_to_voigt`.
A gradient (conduction) is a plain vector of length dim.
"""

import numpy as np

SQRT2 = np.sqrt(2.0)

# (i, j) index pairs of each Mandel component
PAIRS = {
    2: ((0, 0), (1, 1), (0, 1)),
    3: ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)),
}
LABELS = {2: ("xx", "yy", "xy"), 3: ("xx", "yy", "zz", "yz", "xz", "xy")}


def size(dim):
    """Number of Mandel components of a symmetric dim x dim tensor."""
    return dim * (dim + 1) // 2


def weights(dim):
    """Mandel scaling of each component: 1 for normal terms, sqrt(2) for shear terms."""
    return np.array([1.0 if i == j else SQRT2 for i, j in PAIRS[dim]])


def to_mandel(tensor):
    """Symmetric tensor(s) of shape (..., dim, dim) -> Mandel vectors (..., n).

    The shear term carries sqrt(2), so the double contraction is the dot product of the vectors,
    and :func:`from_mandel` gives the tensor back:

    >>> eps = [[0.01, 0.002], [0.002, -0.003]]
    >>> sig = [[2.0, 0.5], [0.5, 1.0]]
    >>> print(np.round(to_mandel(eps), 6))                  # (xx, yy, sqrt2 xy)
    [ 0.01     -0.003     0.002828]
    >>> print(f"{np.sum(np.multiply(sig, eps)):.6f} = {to_mandel(sig) @ to_mandel(eps):.6f}")
    0.019000 = 0.019000
    >>> bool(np.allclose(from_mandel(to_mandel(eps)), eps))
    True
    """
    tensor = np.asarray(tensor, dtype=float)
    dim = tensor.shape[-1]
    return np.stack([tensor[..., i, j] for i, j in PAIRS[dim]], axis=-1) * weights(dim)


def from_mandel(vector):
    """Mandel vector(s) (..., n) -> symmetric tensors (..., dim, dim)."""
    vector = np.asarray(vector, dtype=float)
    dim = {3: 2, 6: 3}[vector.shape[-1]]
    out = np.zeros(vector.shape[:-1] + (dim, dim))
    values = vector / weights(dim)
    for k, (i, j) in enumerate(PAIRS[dim]):
        out[..., i, j] = values[..., k]
        out[..., j, i] = values[..., k]
    return out


def mandel_to_voigt(stiffness):
    """Mandel stiffness matrix -> engineering Voigt stiffness (stress = C_v @ (eps_xx, .., 2 eps_xy))."""
    stiffness = np.asarray(stiffness, dtype=float)
    w = weights({3: 2, 6: 3}[stiffness.shape[-1]])
    return stiffness / np.outer(w, w)


def voigt_to_mandel(stiffness):
    """Engineering Voigt stiffness matrix -> Mandel stiffness matrix.

    The shear-shear entry doubles (Voigt C_66 = mu, Mandel 2 mu), so that the Mandel matrix has
    the eigenvalues of the tensor; :func:`mandel_to_voigt` undoes it:

    >>> C = voigt_to_mandel([[4.0, 1.0, 0.0], [1.0, 4.0, 0.0], [0.0, 0.0, 1.5]])
    >>> print(C)
    [[4. 1. 0.]
     [1. 4. 0.]
     [0. 0. 3.]]
    >>> print(mandel_to_voigt(C)[2, 2])
    1.5
    """
    stiffness = np.asarray(stiffness, dtype=float)
    w = weights({3: 2, 6: 3}[stiffness.shape[-1]])
    return stiffness * np.outer(w, w)
