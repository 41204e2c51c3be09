"""Hyperelastic laws for finite strain: compressible neo-Hookean and Saint Venant-Kirchhoff.

Both answer the material-point contract with the displacement gradient H = F - I and the first
Piola-Kirchhoff stress P as row-major vectors and the tangent A = dP/dF (:mod:`fe2.kinematics`),
vectorized over any leading shape of points. 2D is plane strain (F_zz = 1). At F = I both give
P = 0 and A = the small-strain stiffness of ``Isotropic(E, nu)`` (:meth:`small_strain`).

A point with det F <= 0 raises :class:`fe2.materials.law.DeformationError` naming it (a macro step
meeting one is cut back).
"""

import numpy as np

from .. import kinematics
from . import compiled
from .law import DeformationError, Law
from .linear import Isotropic, elastic_constants, lame


class _Hyperelastic(Law):
    """An isotropic hyperelastic law of (E, nu); subclasses give ``_stress_tangent(F)``."""

    physics = "finite strain"

    def __init__(self, E, nu):
        self.E, self.nu, self.lam, self.mu = elastic_constants(E, nu)

    @classmethod
    def from_lame(cls, lam, mu):
        """The law of the Lamé constants (lambda, mu) (checked as E and nu are)."""
        E, nu = mu * (3 * lam + 2 * mu) / (lam + mu), lam / (2 * (lam + mu))
        law = cls(E, nu)
        law.lam, law.mu = lame(law.E, law.nu)
        return law

    def small_strain(self):
        """The linear law this one reduces to as |F - I| -> 0: ``Isotropic(E, nu)``."""
        return Isotropic(self.E, self.nu)

    def tensor(self, dim):
        """A at F = I: the small-strain stiffness lambda I (x) I + 2 mu I^sym as a (dim^2, dim^2) matrix."""
        return kinematics.from_mandel_stiffness(self.small_strain().tensor(dim))

    def energy(self, H):
        """The strain energy density W per reference volume at the gradients H (..., dim^2)."""
        return self._energy(deformations(H), kinematics.from_vector(H))

    def response(self, strain, state=None):
        F = deformations(strain)
        P, A = self._stress_tangent(F, kinematics.from_vector(strain))
        return kinematics.to_vector(P), kinematics.tangent_matrix(A), state

    def __repr__(self):
        return f"{type(self).__name__}(E={self.E:g}, nu={self.nu:g})"


class NeoHookean(_Hyperelastic):
    """Compressible neo-Hookean solid,

        W = mu/2 (tr C - 3) - mu ln J + lambda/2 (ln J)^2,    C = F^T F, J = det F,
        P = mu (F - F^-T) + lambda ln J F^-T,
        A_iJkL = mu d_ik d_JL + (mu - lambda ln J) F^-1_Jk F^-1_Li + lambda F^-1_Ji F^-1_Lk,

    by the compiled kernel of :mod:`fe2.materials.compiled` where numba is installed (the numpy
    path, :meth:`reference_response`, is the reference: both agree to round-off).
    """

    def response(self, strain, state=None):
        if not compiled.AVAILABLE:
            return self.reference_response(strain, state)
        H = np.asarray(strain, dtype=float)
        dim = kinematics.dimension(H.shape[-1])
        flat = np.ascontiguousarray(H.reshape(-1, dim * dim))
        P = np.empty_like(flat)
        A = np.empty((len(flat), dim * dim, dim * dim))
        if compiled.neo_hookean(flat, dim, self.mu, self.lam, P, A) >= 0:
            deformations(H)   # raises DeformationError naming the point
        return P.reshape(H.shape), A.reshape(H.shape + (dim * dim,)), state

    def reference_response(self, strain, state=None):
        """:meth:`response` by numpy (the reference of the compiled kernel)."""
        return super().response(strain, state)

    def _energy(self, F, H):
        logJ = np.log1p(kinematics.volume_change(H))
        # tr C - dim = 2 tr H + H : H
        return (0.5 * self.mu * (2 * np.trace(H, axis1=-2, axis2=-1) + np.sum(H * H, axis=(-2, -1))) - self.mu * logJ
                + 0.5 * self.lam * logJ**2)

    def _stress_tangent(self, F, H):
        dim = F.shape[-1]
        Finv = kinematics.inverse(F)[0]
        FinvT = np.swapaxes(Finv, -1, -2)
        logJ = np.log1p(kinematics.volume_change(H))[..., None, None]
        # F - F^-T = H + H^T F^-T (as I - F^-1 = F^-1 H): no cancellation at small strain
        P = self.mu * (H + np.swapaxes(H, -1, -2) @ FinvT) + self.lam * logJ * FinvT
        A = (self.mu * np.einsum("ik,JL->iJkL", np.eye(dim), np.eye(dim))
             + (self.mu - self.lam * logJ[..., None, None]) * np.einsum("...Jk,...Li->...iJkL", Finv, Finv)
             + self.lam * np.einsum("...Ji,...Lk->...iJkL", Finv, Finv))
        return P, A


class SaintVenantKirchhoff(_Hyperelastic):
    """Saint Venant-Kirchhoff solid: linear elasticity in the Green-Lagrange strain,

        W = lambda/2 (tr E)^2 + mu E : E,    E = (F^T F - I)/2,    S = lambda tr E I + 2 mu E,   P = F S,
        A_iJkL = d_ik S_JL + F_iM C_MJNL F_kN,   C = lambda I (x) I + 2 mu I^sym.

    Not polyconvex: under strong compression (a stretch below about 1/sqrt(3)) it softens and loses
    ellipticity.
    """

    def _energy(self, F, H):
        E = kinematics.green_lagrange(H=H)
        trace = np.trace(E, axis1=-2, axis2=-1)
        return 0.5 * self.lam * trace**2 + self.mu * np.sum(E * E, axis=(-2, -1))

    def _stress_tangent(self, F, H):
        dim = F.shape[-1]
        I = np.eye(dim)
        E = kinematics.green_lagrange(H=H)
        S = self.lam * np.trace(E, axis1=-2, axis2=-1)[..., None, None] * I + 2 * self.mu * E
        P = F @ S
        # F_iM C_MJNL F_kN = lambda F_iJ F_kL + mu (F_iM F_kM d_JL + F_iL F_kJ)
        A = (np.einsum("ik,...JL->...iJkL", I, S)
             + self.lam * np.einsum("...iJ,...kL->...iJkL", F, F)
             + self.mu * np.einsum("...ik,JL->...iJkL", F @ np.swapaxes(F, -1, -2), I)
             + self.mu * np.einsum("...iL,...kJ->...iJkL", F, F))
        return P, A


def deformations(H):
    """F = I + H (..., dim, dim) of gradient vectors H (..., dim^2), checked: a
    :class:`DeformationError` naming the first point with det F <= 0 (or a non-finite gradient)."""
    F = kinematics.deformation(H)
    J = kinematics.inverse(F)[1]
    bad = ~(J > 0)
    if np.any(bad):
        point = int(np.argmax(bad.ravel()))
        raise DeformationError(f"det F = {J.ravel()[point]:.4g} <= 0 at point {point} of {J.size}: the deformation "
                               f"F = {F.reshape(-1, *F.shape[-2:])[point].tolist()} inverts the material", point)
    return F
