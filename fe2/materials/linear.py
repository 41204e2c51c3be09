"""Linear material laws of the micro phases.

Every law gives its tangent in the notation of :mod:`fe2.notation` through ``tensor(dim)`` (or
``tensor_at(dim, x)`` at points x, shape (dim, ...)) and answers the material-point interface shared
with RVE-backed laws::

    stress, tangent, new_state = law.response(strain, state)

vectorized over points: ``strain`` has shape (npoints, n). Linear laws carry no state.
Elastic tensors are Mandel matrices. 2D elasticity is plane strain (eps_zz = 0: the (xx, yy, xy)
block of the 3D tensor) unless the law is made with ``plane="stress"`` (sigma_zz = sigma_yz =
sigma_xz = 0: the 3D compliance's (xx, yy, xy) block inverted, E/(1 - nu^2) [[1, nu, 0], [nu, 1, 0],
[0, 0, 1 - nu]] for an isotropic solid); a plane-stress law is 2D only.
Conductivity K maps the temperature gradient g to the generalized stress K g = -q (q: heat flux).

Coefficient fields: ``Conductor(k)``, ``Isotropic(E, nu)`` and ``Anisotropic(C)`` accept functions of
position, evaluated at points x of shape (dim, ...): ``k(x)`` returns a scalar field (...) or a
matrix field (dim, dim, ...) (components first, like x), ``C(x)`` a stiffness (n, n, ...), ``E(x)``
and ``nu(x)`` scalar fields (...). The cell evaluates them at its quadrature points, so a smoothly
varying microstructure needs no phases, and a value that is not physical at some point (a
non-positive modulus, a matrix that is not symmetric positive definite) raises an error naming that
point.
"""

import numpy as np

from .. import notation
from .law import Law, check_plane, check_real


def _field(name, function, x, valid, requirement):
    """Evaluate the coefficient ``function`` at points x (dim, ...); raise, naming the first point
    where the value is not finite or fails ``valid``."""
    values = np.broadcast_to(np.asarray(function(x), dtype=float), x.shape[1:])
    bad = ~np.isfinite(values) | ~valid(values)
    if np.any(bad):
        index = np.unravel_index(np.argmax(bad), bad.shape)
        where = np.round(x[(slice(None),) + index], 6).tolist()
        raise ValueError(f"{name} must be {requirement}, but it is {values[index]:g} at x = {where} "
                         f"({int(bad.sum())} of {bad.size} quadrature points fail)")
    return values


def _matrix_field(name, values, x, sizes):
    """The values (n, n, ...), n in ``sizes``, of a matrix-valued coefficient at points x (dim, ...)
    as (..., n, n), checked symmetric positive definite at every point."""
    values = np.asarray(values, dtype=float)
    points = x.shape[1:]
    if values.ndim != 2 + len(points) or values.shape[0] != values.shape[1] or values.shape[0] not in sizes:
        shapes = " or ".join(f"{(n, n) + points}" for n in sizes)
        raise ValueError(f"{name}: the function must return a matrix at each point, shape {shapes} (components first, "
                         f"like x {x.shape}), got shape {values.shape}")
    n = values.shape[0]
    matrices = np.moveaxis(np.broadcast_to(values, (n, n) + points), (0, 1), (-2, -1))
    check_spd_field(name, matrices, x)
    return matrices


def check_spd_field(name, matrices, x):
    """ValueError naming the first of the points x (dim, ...) where the matrices (..., n, n) are not
    finite, not symmetric, or not positive definite (with the smallest eigenvalue there)."""
    finite = np.isfinite(matrices).all(axis=(-2, -1))
    safe = np.where(finite[..., None, None], matrices, 0.0)
    scale = np.abs(safe).max(axis=(-2, -1))
    asymmetry = np.abs(safe - np.swapaxes(safe, -1, -2)).max(axis=(-2, -1))
    symmetric = asymmetry <= 1e-12 * scale
    lowest = np.linalg.eigvalsh(0.5 * (safe + np.swapaxes(safe, -1, -2)))[..., 0]
    bad = ~finite | ~symmetric | ~(lowest > 0)
    if np.any(bad):
        index = np.unravel_index(np.argmax(bad), bad.shape)
        where = np.round(x[(slice(None),) + index], 6).tolist()
        value = np.array2string(matrices[index], precision=4, separator=", ").replace("\n", "")
        if not finite[index]:
            problem = "it is not finite"
        elif not symmetric[index]:
            problem = f"it is not symmetric (|A - A^T| = {asymmetry[index]:.3g})"
        else:
            problem = f"its smallest eigenvalue is {lowest[index]:.4g}"
        raise ValueError(f"{name} must be symmetric positive definite, but at x = {where} {problem}: {value} "
                         f"({int(bad.sum())} of {bad.size} points fail)")


class _Linear(Law):
    """A law whose stress is ``tensor(dim) @ strain`` for every point."""

    linear = True

    def response(self, strain, state=None):
        strain = np.atleast_2d(np.asarray(strain, dtype=float))
        n = strain.shape[-1]
        dim = {"conduction": n, "elasticity": {3: 2, 6: 3}.get(n)}[self.physics]
        if dim not in (2, 3):
            raise ValueError(f"{type(self).__name__}: a strain of length {n} is neither 2D nor 3D")
        C = self.tensor(dim)
        return strain @ C.T, np.broadcast_to(C, strain.shape[:-1] + C.shape), state


class Isotropic(_Linear):
    """Isotropic linear elasticity from Young's modulus E and Poisson's ratio nu.

    sigma = lambda tr(eps) I + 2 mu eps. Use :meth:`from_lame` for (lambda, mu).
    Raises ValueError unless E > 0 and -1 < nu < 1/2. In 2D, ``plane="strain"`` (the default,
    eps_zz = 0) or ``plane="stress"`` (sigma_zz = 0: lambda becomes 2 lambda mu / (lambda + 2 mu)):

    >>> print(Isotropic(1.0, 0.25, plane="stress").tensor(2) * 15 / 16)   # E/(1 - nu^2) [1, nu; nu, 1; 1 - nu]
    [[1.   0.25 0.  ]
     [0.25 1.   0.  ]
     [0.   0.   0.75]]
    """

    physics = "elasticity"

    def __init__(self, E, nu, plane="strain"):
        if check_plane(plane) == "stress":   # else the class's "strain" (Law.plane): parameters as before
            self.plane = plane
        if callable(E) or callable(nu):
            self.E, self.nu, self.is_field = E, nu, True
            return
        self.E, self.nu, self.lam, self.mu = elastic_constants(E, nu)

    @classmethod
    def from_lame(cls, lam, mu, plane="strain"):
        """Isotropic law from the (3D) Lamé constants; needs mu > 0 and bulk lam + 2 mu / 3 > 0."""
        lam = check_real("Lamé lambda", lam, scalar=True)
        mu = check_real("shear modulus mu", mu, scalar=True, positive=True)
        if lam + 2 * mu / 3 <= 0:
            raise ValueError(f"bulk modulus lam + 2 mu/3 must be positive, got lam={lam}, mu={mu}")
        return cls(E=mu * (3 * lam + 2 * mu) / (lam + mu), nu=lam / (2 * (lam + mu)), plane=plane)

    @property
    def bulk(self):
        """3D bulk modulus K = lambda + 2 mu / 3."""
        return self.lam + 2 * self.mu / 3

    @property
    def plane_strain_bulk(self):
        """2D (plane-strain) bulk modulus k = lambda + mu."""
        return self.lam + self.mu

    def bulk_modulus(self, dim):
        """The bulk modulus of the ``dim``-dimensional tangent, sum_(i,j <= dim) C_ij / dim^2: 3D
        lambda + 2 mu / 3; 2D lambda + mu in plane strain, 2 lambda mu / (lambda + 2 mu) + mu =
        E / (2 (1 - nu)) in plane stress."""
        return float(self.tensor(dim)[:dim, :dim].sum()) / dim**2

    def tensor(self, dim):
        if self.is_field:
            raise ValueError("this law's parameters are functions of position: use tensor_at(dim, x)")
        return _isotropic(dim, *self._planar(dim, self.lam, self.mu))

    def tensor_at(self, dim, x):
        if not self.is_field:
            return super().tensor_at(dim, x)
        E = _field("Young's modulus E", self.E if callable(self.E) else lambda x: self.E, x, lambda v: v > 0, "positive")
        nu = _field("Poisson's ratio nu", self.nu if callable(self.nu) else lambda x: self.nu, x,
                    lambda v: (v > -1) & (v < 0.5), "in (-1, 0.5)")
        return _isotropic(dim, *self._planar(dim, *lame(E, nu)))

    def _planar(self, dim, lam, mu):
        """(lambda, mu) of the tangent in ``dim`` dimensions: plane stress takes 2 lambda mu / (lambda + 2 mu)."""
        if self.plane == "stress":
            if dim != 2:
                raise ValueError(f"{self!r} is a plane-stress law: it answers in 2D only, not in {dim}D")
            return 2 * lam * mu / (lam + 2 * mu), mu
        return lam, mu

    def __repr__(self):
        plane = ", plane='stress'" if self.plane == "stress" else ""
        if self.is_field:
            nu = "<field>" if callable(self.nu) else self.nu
            return f"Isotropic(E={'<field>' if callable(self.E) else self.E}, nu={nu}{plane})"
        return f"Isotropic(E={self.E:g}, nu={self.nu:g}{plane})"


class Anisotropic(_Linear):
    """General linear elastic law from a symmetric positive-definite stiffness matrix.

    ``stiffness`` is 6x6 (3D) or 3x3 (2D, used as the 2D tangent directly), in Mandel notation, or
    in engineering Voigt notation with ``convention="voigt"``; or a function of position returning
    such a matrix at each point x (dim, ...), shape (n, n, ...), checked symmetric positive definite
    at every point. In 2D a 6x6 stiffness gives its (xx, yy, xy) block in plane strain (the default)
    and, with ``plane="stress"``, the plane-stress stiffness ((S^-1)_(xx,yy,xy))^-1 with S = C^-1
    (sigma_zz = sigma_yz = sigma_xz = 0); a 3x3 one is the tangent of the plane it is declared for.
    """

    physics = "elasticity"

    def __init__(self, stiffness, convention="mandel", plane="strain"):
        if convention not in ("mandel", "voigt"):
            raise ValueError(f"convention must be 'mandel' or 'voigt', got {convention!r}")
        if check_plane(plane) == "stress":
            self.plane = plane
        if callable(stiffness):
            self.C, self.convention, self.is_field = stiffness, convention, True
            return
        C = check_real("stiffness", stiffness)
        if C.shape not in ((3, 3), (6, 6)):
            raise ValueError(f"stiffness must be 3x3 (2D) or 6x6 (3D), got shape {C.shape}")
        if convention == "voigt":
            C = notation.voigt_to_mandel(C)
        _check_spd("stiffness", C)
        self.C = C

    def tensor(self, dim):
        if self.is_field:
            raise ValueError("this stiffness is a function of position: use tensor_at(dim, x)")
        return self._planar(self.C, dim)

    def tensor_at(self, dim, x):
        if not self.is_field:
            return super().tensor_at(dim, x)
        C = _matrix_field("stiffness", self.C(x), x, (3, 6))
        return self._planar(notation.voigt_to_mandel(C) if self.convention == "voigt" else C, dim)

    def _planar(self, C, dim):
        """The tangent (..., n, n) in ``dim`` dimensions of Mandel stiffnesses C (..., 3 or 6, 3 or 6)."""
        if self.plane == "stress" and dim != 2:
            raise ValueError(f"{self!r} is a plane-stress law: it answers in 2D only, not in {dim}D")
        if C.shape[-1] == notation.size(dim):
            return C
        if dim == 2:
            keep = [0, 1, 5]
            if self.plane == "stress":
                return np.linalg.inv(np.linalg.inv(C)[..., keep, :][..., keep])
            return C[..., keep, :][..., keep]
        raise ValueError("a 2D (3x3) stiffness cannot be used in a 3D cell")

    def __repr__(self):
        plane = ", plane='stress'" if self.plane == "stress" else ""
        if self.is_field:
            return f"Anisotropic(<field>, {self.convention}{plane})"
        return f"Anisotropic({self.C.shape[0]}x{self.C.shape[0]} Mandel{plane})"


class Conductor(_Linear):
    """Linear heat conduction q = -K grad(T); K a positive scalar or an SPD dim x dim matrix, or a
    function of position x (dim, ...) returning a scalar field (...) or a matrix field (dim, dim, ...),
    checked positive (symmetric positive definite) at every point."""

    physics = "conduction"

    def __init__(self, k):
        if callable(k):
            self.k, self.is_field = k, True
            return
        k = check_real("conductivity k", k)
        if k.ndim == 0:
            if k <= 0:
                raise ValueError(f"conductivity k must be positive, got k={float(k)}")
        elif k.shape in ((2, 2), (3, 3)):
            _check_spd("conductivity k", k)
        else:
            raise ValueError(f"conductivity k must be a scalar or a 2x2/3x3 matrix, got shape {k.shape}")
        self.k = k

    def tensor(self, dim):
        if self.is_field:
            raise ValueError("this conductivity is a function of position: use tensor_at(dim, x)")
        if self.k.ndim == 0:
            return float(self.k) * np.eye(dim)
        if self.k.shape != (dim, dim):
            raise ValueError(f"a {self.k.shape[0]}D conductivity cannot be used in a {dim}D cell")
        return self.k

    def tensor_at(self, dim, x):
        if not self.is_field:
            return super().tensor_at(dim, x)
        values = self.k(x)
        if np.ndim(values) == x.ndim + 1:     # a matrix at each point, components first
            return _matrix_field("conductivity k", values, x, (dim,))
        k = _field("conductivity k", lambda x: values, x, lambda v: v > 0, "positive")
        return k[..., None, None] * np.eye(dim)

    def __repr__(self):
        return "Conductor(k=<field>)" if self.is_field else f"Conductor(k={self.k.tolist()})"


def elastic_constants(E, nu):
    """(E, nu, lambda, mu) of an isotropic solid: the one check of E and nu of every isotropic law.
    ValueError unless E and nu are real numbers with E > 0 and -1 < nu < 1/2."""
    E = check_real("Young's modulus E", E, scalar=True, positive=True)
    nu = check_real("Poisson's ratio nu", nu, scalar=True)
    if not -1.0 < nu < 0.5:
        raise ValueError(f"Poisson's ratio must satisfy -1 < nu < 0.5, got nu={nu}")
    return (E, nu, *lame(E, nu))


def lame(E, nu):
    """The Lamé constants (lambda, mu) of Young's modulus E and Poisson's ratio nu (numbers or
    arrays), unchecked: see :func:`elastic_constants`."""
    return E * nu / ((1 + nu) * (1 - 2 * nu)), E / (2 * (1 + nu))


def _isotropic(dim, lam, mu):
    """Mandel stiffness lam tr(eps) I + 2 mu eps; lam, mu scalars or arrays (...)."""
    lam, mu = np.asarray(lam, dtype=float), np.asarray(mu, dtype=float)
    n = notation.size(dim)
    C = 2 * mu[..., None, None] * np.eye(n)
    C[..., :dim, :dim] += lam[..., None, None]
    return C


def _check_spd(name, matrix):
    if not np.allclose(matrix, matrix.T, rtol=1e-12, atol=1e-12 * np.abs(matrix).max()):
        raise ValueError(f"{name} must be symmetric")
    lowest = np.linalg.eigvalsh(matrix).min()
    if lowest <= 0:
        raise ValueError(f"{name} must be positive definite, smallest eigenvalue is {lowest:g}")
