"""Cauchy-Born laws: the strain energy of a crystal from a pair potential, for finite strain.

The Cauchy-Born rule deforms every bond of a Bravais lattice (one atom per cell) affinely,
r_k = F R_k. With the reference bonds R_k of one atom (both R and -R, each pair counted twice, hence
the 1/2) and V0 the reference volume per atom (an area in 2D, a length in 1D),

    W(F) = 1/(2 V0) sum_k phi(r_k),                      r_k = |F R_k|,
    P    = 1/(2 V0) sum_k phi'(r_k)/r_k  (F R_k) (x) R_k,
    A_iJkL = 1/(2 V0) sum_k [ (phi''/r^2 - phi'/r^3) (F R_k)_i R_J (F R_k)_k R_L + phi'/r delta_ik R_J R_L ],

in the row-major notation of :mod:`fe2.kinematics` (H = F - I and P as vectors, A = dP/dF a
(dim^2, dim^2) matrix), so W is an energy per reference volume (area in 2D) of the lattice. The
bonds are listed once, in the reference lattice (a Lagrangian neighbour list: nearest neighbours,
or every bond within ``cutoff`` nearest-neighbour distances), and the potential is not truncated.

The reference spacing is the one at which the lattice is stress-free: the minimum of the energy
per atom e(s) = 1/2 sum_k phi(s rho_k) of the lattice scaled by s (rho_k the bond lengths at unit
nearest-neighbour distance); with nearest neighbours only it is the minimum of the pair potential.
A potential and lattice without such a minimum (a purely repulsive potential), or with an unstable
reference (a stiffness that is not positive definite there), are refused.

A 2D triangular lattice is a 2D material (a close-packed plane of atoms with in-plane bonds only),
not the plane strain of a 3D one. docs/cauchy_born.md has the closed-form elastic constants and the
stability measures (:func:`fe2.stability.ellipticity`, :func:`fe2.stability.lattice_stability`).

>>> law = CauchyBorn(LennardJones(epsilon=1.0, sigma=1.0), Bravais.triangular())
>>> print(round(law.spacing / 2 ** (1 / 6), 12), law.bonds.shape)   # r0 = 2^(1/6) sigma, six neighbours
1.0 (6, 2)
"""

import abc

import numpy as np
from scipy.optimize import brentq

from .. import kinematics
from .hyperelastic import deformations
from .law import Law, check_real
from .linear import Anisotropic


# --- pair potentials ---------------------------------------------------------------------------
class PairPotential(abc.ABC):
    """A pair potential phi(r) of the distance r > 0 with its first two derivatives, vectorized.
    Subclasses give ``phi``, ``dphi``, ``d2phi`` and ``length``, a length scale of the potential
    (where the reference spacing is looked for: from length/4 to 4 length)."""

    length = None

    @abc.abstractmethod
    def phi(self, r):
        """phi(r) at distances r (any shape)."""

    @abc.abstractmethod
    def dphi(self, r):
        """phi'(r)."""

    @abc.abstractmethod
    def d2phi(self, r):
        """phi''(r)."""


class LennardJones(PairPotential):
    """phi(r) = 4 epsilon ((sigma/r)^12 - (sigma/r)^6): minimum -epsilon at r = 2^(1/6) sigma,
    inflection (phi'' = 0) at r = (26/7)^(1/6) sigma."""

    def __init__(self, epsilon=1.0, sigma=1.0):
        self.epsilon = check_real("well depth epsilon", epsilon, scalar=True, positive=True)
        self.sigma = check_real("length sigma", sigma, scalar=True, positive=True)
        self.length = self.sigma

    @property
    def minimum(self):
        return 2 ** (1 / 6) * self.sigma

    @property
    def inflection(self):
        return (26 / 7) ** (1 / 6) * self.sigma

    def phi(self, r):
        x6 = (self.sigma / np.asarray(r, dtype=float)) ** 6
        return 4 * self.epsilon * (x6 * x6 - x6)

    def dphi(self, r):
        r = np.asarray(r, dtype=float)
        x6 = (self.sigma / r) ** 6
        return 24 * self.epsilon * (x6 - 2 * x6 * x6) / r

    def d2phi(self, r):
        r = np.asarray(r, dtype=float)
        x6 = (self.sigma / r) ** 6
        return 4 * self.epsilon * (156 * x6 * x6 - 42 * x6) / r**2

    def __repr__(self):
        return f"LennardJones(epsilon={self.epsilon:g}, sigma={self.sigma:g})"


class Morse(PairPotential):
    """phi(r) = D (exp(-2a(r - r_e)) - 2 exp(-a(r - r_e))): minimum -D at r = r_e, inflection at
    r = r_e + ln 2 / a."""

    def __init__(self, D=1.0, a=1.0, r_e=1.0):
        self.D = check_real("well depth D", D, scalar=True, positive=True)
        self.a = check_real("inverse width a", a, scalar=True, positive=True)
        self.r_e = check_real("equilibrium distance r_e", r_e, scalar=True, positive=True)
        self.length = self.r_e

    @property
    def minimum(self):
        return self.r_e

    @property
    def inflection(self):
        return self.r_e + np.log(2.0) / self.a

    def _exp(self, r):
        return np.exp(-self.a * (np.asarray(r, dtype=float) - self.r_e))

    def phi(self, r):
        e = self._exp(r)
        return self.D * (e * e - 2 * e)

    def dphi(self, r):
        e = self._exp(r)
        return 2 * self.a * self.D * (e - e * e)

    def d2phi(self, r):
        e = self._exp(r)
        return 2 * self.a**2 * self.D * (2 * e * e - e)

    def __repr__(self):
        return f"Morse(D={self.D:g}, a={self.a:g}, r_e={self.r_e:g})"


# --- lattices ----------------------------------------------------------------------------------
class Bravais:
    """A Bravais lattice (one atom per cell) by its primitive vectors (rows of ``vectors``) scaled
    to a nearest-neighbour distance of 1: ``chain()`` (1D), ``triangular()`` (2D, a close-packed
    plane, one bond along x) and ``fcc()`` (3D, cubic axes along x, y, z)."""

    def __init__(self, vectors, name="lattice"):
        vectors = np.atleast_2d(np.asarray(vectors, dtype=float))
        dim = vectors.shape[0]
        if vectors.shape != (dim, dim) or dim not in (1, 2, 3) or not np.all(np.isfinite(vectors)):
            raise ValueError(f"primitive vectors must be a finite 1x1, 2x2 or 3x3 array (one per row), got "
                             f"{vectors.tolist()}")
        if abs(np.linalg.det(vectors)) < 1e-12:
            raise ValueError(f"primitive vectors are degenerate: {vectors.tolist()}")
        self.vectors, self.dim, self.name = vectors, dim, name
        self.volume = abs(float(np.linalg.det(vectors)))   # per atom, at the vectors' own scale
        primitive = self._within(np.linalg.norm(vectors, axis=1).max())
        self.nearest = float(np.linalg.norm(primitive, axis=1).min())   # the nearest-neighbour distance

    @classmethod
    def chain(cls):
        return cls([[1.0]], "chain")

    @classmethod
    def triangular(cls):
        return cls([[1.0, 0.0], [0.5, np.sqrt(3) / 2]], "triangular")

    @classmethod
    def fcc(cls):
        return cls(np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 0.0]]) / np.sqrt(2), "fcc")

    def _within(self, radius):
        """The lattice vectors R with 0 < |R| <= radius (and round-off), sorted by length then
        components."""
        # |n @ vectors| <= radius needs |n_i| <= radius |column i of vectors^-1|
        reach = np.floor(radius * np.linalg.norm(np.linalg.inv(self.vectors), axis=0) + 1e-9).astype(int)
        n = np.stack(np.meshgrid(*[np.arange(-m, m + 1) for m in reach], indexing="ij"), -1).reshape(-1, self.dim)
        R = n @ self.vectors
        length = np.linalg.norm(R, axis=1)
        keep = (length > 0) & (length <= radius * (1 + 1e-9))
        R, length = R[keep], length[keep]
        return R[np.lexsort((*R.T[::-1], length.round(9)))]

    def bonds(self, cutoff=None):
        """The bond vectors (k, dim) from one atom to its neighbours, R and -R both, in units of the
        nearest-neighbour distance: the nearest neighbours (``cutoff`` None), or every lattice vector
        no longer than ``cutoff`` nearest-neighbour distances."""
        return self._within((1.0 if cutoff is None else cutoff) * self.nearest) / self.nearest

    def __repr__(self):
        return f"Bravais.{self.name}()" if self.name in ("chain", "triangular", "fcc") else f"Bravais({self.vectors.tolist()})"


def reference_spacing(potential, rho, search=(0.25, 4.0), samples=800):
    """The nearest-neighbour distance s0 at which a lattice with bond lengths s rho_k (rho: at unit
    nearest-neighbour distance) is stress-free: the minimum of the energy per atom
    e(s) = 1/2 sum_k phi(s rho_k) over s in ``search`` times the potential's length (the lowest, if
    several), where e'(s) = 1/2 sum_k rho_k phi'(s rho_k) changes sign from - to +, solved to
    round-off. ValueError if e has no such minimum there (no stable reference spacing)."""
    rho = np.asarray(rho, dtype=float)
    if rho.size == 0:
        raise ValueError("the lattice has no bonds within the cut-off: no stable reference spacing")
    slope = lambda s: 0.5 * float(np.sum(rho * potential.dphi(s * rho)))
    s = potential.length * np.geomspace(*search, samples)
    with np.errstate(over="ignore", invalid="ignore"):
        de = 0.5 * np.sum(rho * potential.dphi(s[:, None] * rho), axis=1)
    turns = np.flatnonzero((de[:-1] < 0) & (de[1:] >= 0))
    if turns.size == 0:
        trend = "decreases" if np.all(de < 0) else "increases" if np.all(de > 0) else "has no minimum"
        raise ValueError(f"{potential!r} on these bonds has no stable reference spacing: the energy per atom "
                         f"e(s) = 1/2 sum phi(s rho_k) {trend} for every nearest-neighbour distance s in "
                         f"[{s[0]:.4g}, {s[-1]:.4g}] (a purely repulsive or purely attractive potential?)")
    roots = [brentq(slope, s[k], s[k + 1], xtol=1e-15 * s[k], rtol=4 * np.finfo(float).eps) for k in turns]
    energies = [0.5 * float(np.sum(potential.phi(r * rho))) for r in roots]
    return roots[int(np.argmin(energies))]


# --- the law -----------------------------------------------------------------------------------
class CauchyBorn(Law):
    """The Cauchy-Born law of ``potential`` (a :class:`PairPotential`) on ``lattice`` (a
    :class:`Bravais`): W, P and A from the lattice sums (module docstring), vectorized over points.
    ``cutoff``: None for nearest neighbours, else every bond within ``cutoff`` (>= 1)
    nearest-neighbour distances of the reference lattice.

    ``spacing``: the stress-free nearest-neighbour distance r0; ``bonds``: the reference bonds R_k
    (k, dim); ``volume``: V0 per atom; ``dim``: the lattice's dimension (a law of a 2D lattice
    answers 2D bodies only). Units: W and P per reference volume (area in 2D, length in 1D) of the
    lattice, in the potential's energy and length units.
    """

    physics = "finite strain"

    def __init__(self, potential, lattice, cutoff=None):
        if not isinstance(potential, PairPotential):
            raise TypeError(f"potential must be a fe2.materials.cauchy_born.PairPotential (LennardJones, Morse or "
                            f"a subclass), got {potential!r}")
        if not isinstance(lattice, Bravais):
            raise TypeError(f"lattice must be a Bravais lattice (Bravais.chain(), .triangular(), .fcc()), got {lattice!r}")
        if cutoff is not None:
            cutoff = check_real("cut-off radius (in nearest-neighbour distances) cutoff", cutoff, scalar=True,
                                positive=True)
            if cutoff < 1.0:
                raise ValueError(f"cutoff={cutoff:g} nearest-neighbour distances leaves no bonds in the {lattice!r} "
                                 "lattice: no stable reference spacing (the nearest neighbour is at 1)")
        if not (isinstance(getattr(potential, "length", None), (int, float)) and potential.length > 0):
            raise ValueError(f"{potential!r} must give its length scale as a positive number `length`")
        self.potential, self.lattice, self.cutoff, self.dim = potential, lattice, cutoff, lattice.dim
        unit = lattice.bonds(cutoff)
        self.spacing = reference_spacing(potential, np.linalg.norm(unit, axis=1))
        self.bonds = self.spacing * unit
        self.volume = lattice.volume * (self.spacing / lattice.nearest) ** self.dim
        if self.dim > 1:
            lowest = np.linalg.eigvalsh(kinematics.symmetric_part(self.tensor(self.dim)))[0]
        else:
            lowest = self.tensor(1)[0, 0]
        if not lowest > 0:
            raise ValueError(f"{self!r} has no stable reference: at the stress-free spacing r0 = {self.spacing:.6g} "
                             f"the small-strain stiffness is not positive definite (least eigenvalue {lowest:.4g})")

    def _stretched(self, H):
        """(F, the deformed bonds x_k = F R_k (..., k, dim), their lengths r_k (..., k)), F checked."""
        H = np.asarray(H, dtype=float)
        if H.shape[-1:] != (self.dim * self.dim,):
            raise ValueError(f"{self!r} is a {self.dim}D law: it takes displacement gradients of {self.dim ** 2} "
                             f"components (row-major H = F - I), got shape {H.shape}")
        F = deformations(H)
        x = F @ self.bonds.T                        # (..., dim, k)
        x = np.swapaxes(x, -1, -2)
        return F, x, np.linalg.norm(x, axis=-1)

    def energy(self, H):
        """W(F) = 1/(2 V0) sum_k phi(|F R_k|) at the gradients H (..., dim^2)."""
        _, _, r = self._stretched(H)
        return np.sum(self.potential.phi(r), axis=-1) / (2 * self.volume)

    def response(self, strain, state=None):
        """(P, A, state) at the gradients H = F - I (..., dim^2): the lattice sums of the module docstring."""
        _, x, r = self._stretched(strain)
        d1, d2 = self.potential.dphi(r), self.potential.d2phi(r)
        c1 = d1 / r                                                   # phi'/r
        c2 = (d2 - c1) / r**2                                         # phi''/r^2 - phi'/r^3
        G = kinematics.to_vector(x[..., :, None] * self.bonds[:, None, :])    # (F R_k) (x) R_k, (..., k, dim^2)
        scale = 1.0 / (2 * self.volume)
        P = scale * np.einsum("...k,...ka->...a", c1, G)
        A = scale * np.swapaxes(G * c2[..., None], -1, -2) @ G
        RR = np.einsum("...k,kJ,kL->...JL", c1, self.bonds, self.bonds)   # sum phi'/r R (x) R
        A = A + scale * kinematics.tangent_matrix(np.einsum("ik,...JL->...iJkL", np.eye(self.dim), RR))
        return P, A, state

    def tensor(self, dim):
        """A at F = I, (dim^2, dim^2): the small-strain stiffness C_iJkL of the stress-free lattice."""
        if dim != self.dim:
            raise ValueError(f"{self!r} is a {self.dim}D law; a {dim}D body cannot use it")
        return self.response(np.zeros(dim * dim))[1]

    def small_strain(self):
        """The linear law this one reduces to as |F - I| -> 0: ``Anisotropic`` of the Mandel stiffness
        at the reference (2D: a 2D material's in-plane stiffness)."""
        if self.dim == 1:
            raise ValueError("a 1D chain has no small-strain law in fe2 (its stiffness is tensor(1))")
        return Anisotropic(kinematics.symmetric_part(self.tensor(self.dim)))

    def __repr__(self):
        cut = "" if self.cutoff is None else f", cutoff={self.cutoff:g}"
        return f"CauchyBorn({self.potential!r}, {self.lattice!r}{cut})"
