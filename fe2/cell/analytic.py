"""Closed-form effective tensors used to check the finite-element results."""

import numpy as np

from ..notation import PAIRS


def _layered(C, fractions, N):
    """Exact effective tensor of layers, components split into N (continuous flux/traction) and T
    (continuous gradient/in-plane strain):
        C*_NN = <C_NN^-1>^-1,   C*_NT = C*_NN <C_NN^-1 C_NT>,
        C*_TT = <C_TT - C_TN C_NN^-1 C_NT> + <C_TN C_NN^-1> C*_NN <C_NN^-1 C_NT>.
    """
    C = np.asarray(C, dtype=float)
    f = np.asarray(fractions, dtype=float)[:, None, None]
    if not np.isclose(f.sum(), 1.0):
        raise ValueError(f"layer fractions must sum to 1, got {f.sum()}")
    n = C.shape[-1]
    T = [k for k in range(n) if k not in N]
    CNN, CNT = C[:, N][:, :, N], C[:, N][:, :, T]
    CTN, CTT = C[:, T][:, :, N], C[:, T][:, :, T]
    iNN = np.linalg.inv(CNN)
    eNN = np.linalg.inv(np.sum(f * iNN, axis=0))
    a = np.sum(f * iNN @ CNT, axis=0)
    b = np.sum(f * CTN @ iNN, axis=0)
    out = np.empty((n, n))
    out[np.ix_(N, N)] = eNN
    out[np.ix_(N, T)] = eNN @ a
    out[np.ix_(T, N)] = b @ eNN
    out[np.ix_(T, T)] = np.sum(f * (CTT - CTN @ iNN @ CNT), axis=0) + b @ eNN @ a
    return out


def laminate_stiffness(stiffnesses, fractions, normal=0):
    """Effective Mandel stiffness of a laminate with layers normal to axis ``normal`` (2D: 3x3
    plane-strain tensors, 3D: 6x6). N holds the components that involve the normal direction."""
    dim = {3: 2, 6: 3}[np.shape(stiffnesses)[-1]]
    return _layered(stiffnesses, fractions, [k for k, pair in enumerate(PAIRS[dim]) if normal in pair])


def laminate_conductivity(conductivities, fractions, normal=0):
    """Effective conductivity of a laminate: harmonic mean across the layers, arithmetic along.

    Two equal layers of k = 1 and k = 10 stacked along x (normal 0): across them
    1 / (0.5/1 + 0.5/10) = 1.818..., along them (1 + 10)/2 = 5.5.

    >>> K = laminate_conductivity([np.eye(2), 10 * np.eye(2)], [0.5, 0.5], normal=0)
    >>> print(np.round(K, 6))
    [[1.818182 0.      ]
     [0.       5.5     ]]
    """
    return _layered(conductivities, fractions, [normal])
