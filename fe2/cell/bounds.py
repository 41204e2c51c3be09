"""Bounds on the effective tensor: Voigt, Reuss, Hashin-Shtrikman.

For any cell and boundary condition: Reuss <= SUBC <= periodic <= KUBC <= Voigt (Loewner order,
Huet's hierarchy). Hashin-Shtrikman bounds hold for statistically isotropic mixtures of isotropic
phases (Walpole's form with the extreme phase moduli as reference, so any number of phases).

A laminate of equal layers (k = 1 and 10, normal x) attains the Reuss bound across its layers and
the Voigt bound along them:

>>> import skfem, fe2
>>> x = np.linspace(0, 1, 5)
>>> mesh = skfem.MeshQuad.init_tensor(x, x).with_subdomains(
...     {"soft": lambda p: p[0] < 0.5, "stiff": lambda p: p[0] > 0.5})
>>> cell = fe2.Cell(mesh, {"soft": fe2.Conductor(1.0), "stiff": fe2.Conductor(10.0)})
>>> print(np.round(reuss(cell), 6))                       # harmonic mean
[[1.818182 0.      ]
 [0.       1.818182]]
>>> print(np.round(voigt(cell), 6))                       # arithmetic mean
[[5.5 0. ]
 [0.  5.5]]
"""

import numpy as np

from .averages import linearized
from ..materials.linear import Conductor, Isotropic
from ..notation import size as notation_size


def voigt(cell):
    """Arithmetic mean <C> of the virgin tangent of a cell, or of the tangent of a linearization."""
    linearization = linearized(cell)
    return linearization.body.average(linearization.tangent)


def reuss(cell):
    """Harmonic mean <C^-1>^-1 of the virgin tangent of a cell, or of the tangent of a linearization;
    zero for a porous cell (a void has C^-1 = infinity). Finite strain: with Moore-Penrose inverses
    (the tangent at F = I is singular on rotations)."""
    linearization = linearized(cell)
    if getattr(linearization.body, "porosity", 0.0) > 0:
        n = linearization.body.physics.size
        return np.zeros((n, n))
    if linearization.body.physics.name == "finite strain":
        # A at F = I has no stiffness on rotations: Moore-Penrose inverses give the Reuss bound on the
        # symmetric gradients (that of the small-strain laws) and zero on the rotations
        return np.linalg.pinv(linearization.body.average(np.linalg.pinv(linearization.tangent, rcond=1e-10)), rcond=1e-10)
    return np.linalg.inv(linearization.body.average(np.linalg.inv(linearization.tangent)))


def isotropic_tensor(dim, bulk, shear):
    """Mandel stiffness with bulk modulus k (2D plane strain: lambda + mu; 3D: lambda + 2 mu/3) and shear mu.

    With lambda = mu = 1 in plane strain (k = 2): lambda + 2 mu on the diagonal, lambda off it, and
    2 mu for the Mandel shear:

    >>> print(isotropic_tensor(2, bulk=2.0, shear=1.0))
    [[3. 1. 0.]
     [1. 3. 0.]
     [0. 0. 2.]]
    """
    n = dim * (dim + 1) // 2
    J = np.zeros((n, n))
    J[:dim, :dim] = 1.0 / dim
    return dim * bulk * J + 2 * shear * (np.eye(n) - J)


def hashin_shtrikman(cell):
    """(lower, upper) Hashin-Shtrikman tensors for a cell of isotropic phases; the voids of a porous
    cell are a phase of zero moduli (so the lower bound is zero)."""
    laws = [cell.materials[name] for name in cell.phases]
    f = np.array([cell.fractions[name] for name in cell.phases])
    porosity = getattr(cell, "porosity", 0.0)
    d = cell.dim
    if any(law.is_field for law in laws):
        raise ValueError("Hashin-Shtrikman bounds need phases with constant moduli, not coefficient fields")
    if all(isinstance(law, Conductor) and law.k.ndim == 0 for law in laws):
        k = np.array([float(law.k) for law in laws] + [0.0] * int(porosity > 0))
        f = np.append(f, porosity) if porosity > 0 else f

        def bound(k0):
            if k0 == 0:  # a void as reference: the lower bound of a porous cell
                return np.zeros((d, d))
            return (1 / np.sum(f / (k + (d - 1) * k0)) - (d - 1) * k0) * np.eye(d)

        return bound(k.min()), bound(k.max())
    if all(isinstance(law, Isotropic) for law in laws):
        mu = np.array([law.mu for law in laws] + [0.0] * int(porosity > 0))
        # 2D: lambda + mu, or its plane-stress value; pores: a phase of zero moduli
        k = np.array([law.bulk_modulus(d) for law in laws] + [0.0] * int(porosity > 0))
        f = np.append(f, porosity) if porosity > 0 else f

        def bound(k0, mu0):
            if k0 == 0:
                return np.zeros((notation_size(d),) * 2)
            a = 2 * (d - 1) * mu0 / d
            if d == 2:
                zeta = mu0 * k0 / (k0 + 2 * mu0)
            else:
                zeta = mu0 * (9 * k0 + 8 * mu0) / (6 * (k0 + 2 * mu0))
            bulk = 1 / np.sum(f / (k + a)) - a
            shear = 1 / np.sum(f / (mu + zeta)) - zeta
            return isotropic_tensor(d, bulk, shear)

        return bound(k.min(), mu.min()), bound(k.max(), mu.max())
    raise ValueError("Hashin-Shtrikman bounds need isotropic phases (Isotropic, or Conductor with scalar k)")
