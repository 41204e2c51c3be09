"""Hyperelastic laws for finite strain: compressible neo-Hookean and Saint Venant-Kirchhoff.

Both answer the material-point contract with the displacement gradient H = F - I and the first
Piola-Kirchhoff stress P as row-major vectors and the tangent A = dP/dF (:mod:`fe2.kinematics`),
vectorized over any leading shape of points. 2D is plane strain (F_zz = 1) unless the law is made
with ``plane="stress"``: then F_zz is solved at each point from P_zz = 0 (Newton on the law's 3D
response) and the in-plane tangent is the 3D one condensed on it, A - A_(.)zz A_zz(.) / A_zzzz
(:func:`plane_stress`; :meth:`thickness_stretch` gives F_zz). At F = I both give P = 0 and A = the
small-strain stiffness of ``Isotropic(E, nu, plane)`` (:meth:`small_strain`).

A point with det F <= 0 raises :class:`fe2.materials.law.DeformationError` naming it (a macro step
meeting one is cut back).
"""

import numpy as np

from .. import kinematics
from . import compiled
from .law import DeformationError, Law, check_plane
from .linear import Isotropic, elastic_constants, lame
from .plasticity import ReturnMappingError

IN_PLANE = np.array([0, 1, 3, 4])   # (xx, xy, yx, yy) among the 9 components of a 3D gradient; zz is 8


class _Hyperelastic(Law):
    """An isotropic hyperelastic law of (E, nu); subclasses give ``_stress_tangent(F, H)`` (numpy) and
    may give a faster ``_response(H)``."""

    physics = "finite strain"

    def __init__(self, E, nu, plane="strain"):
        self.E, self.nu, self.lam, self.mu = elastic_constants(E, nu)
        if check_plane(plane) == "stress":   # else the class's "strain" (Law.plane)
            self.plane = plane

    @classmethod
    def from_lame(cls, lam, mu, plane="strain"):
        """The law of the Lamé constants (lambda, mu) (checked as E and nu are)."""
        E, nu = mu * (3 * lam + 2 * mu) / (lam + mu), lam / (2 * (lam + mu))
        law = cls(E, nu, plane)
        law.lam, law.mu = lame(law.E, law.nu)
        return law

    def small_strain(self):
        """The linear law this one reduces to as |F - I| -> 0: ``Isotropic(E, nu, plane)``."""
        return Isotropic(self.E, self.nu, plane=self.plane)

    def tensor(self, dim):
        """A at F = I: the small-strain stiffness lambda I (x) I + 2 mu I^sym as a (dim^2, dim^2) matrix
        (in plane stress, the 2D reduced one)."""
        return kinematics.from_mandel_stiffness(self.small_strain().tensor(dim))

    def energy(self, H):
        """The strain energy density W per reference volume at the gradients H (..., dim^2) (in plane
        stress, at the F_zz of :meth:`thickness_stretch`)."""
        H = self._three_dimensional(H)
        return self._energy(deformations(H), kinematics.from_vector(H))

    def response(self, strain, state=None):
        H = np.asarray(strain, dtype=float)
        if self.plane == "stress" and H.shape[-1] == 4:
            P, A, _ = plane_stress(self._response, H)
            return P, A, state
        return (*self._response(H), state)

    def _response(self, H):
        """(P, A) of the gradients H (..., dim^2) by numpy (F_zz = 1 for 2D)."""
        P, A = self._stress_tangent(deformations(H), kinematics.from_vector(H))
        return kinematics.to_vector(P), kinematics.tangent_matrix(A)

    def thickness_stretch(self, H):
        """F_zz at the 2D gradients H (..., 4): solved from P_zz = 0 in plane stress, 1 in plane strain."""
        H = np.asarray(H, dtype=float)
        if self.plane != "stress":
            return np.ones(H.shape[:-1])
        return 1.0 + plane_stress(self._response, H)[2]

    def _three_dimensional(self, H):
        """The 3D gradients of plane-stress 2D gradients (with their F_zz); other gradients as given."""
        H = np.asarray(H, dtype=float)
        if self.plane != "stress" or H.shape[-1] != 4:
            return H
        full = np.zeros(H.shape[:-1] + (9,))
        full[..., IN_PLANE] = H
        full[..., 8] = self.thickness_stretch(H) - 1.0
        return full

    def __repr__(self):
        plane = ", plane='stress'" if self.plane == "stress" else ""
        return f"{type(self).__name__}(E={self.E:g}, nu={self.nu:g}{plane})"


def plane_stress(response, H, max_iterations=30):
    """(P, A, H_zz) of a 3D law ``response(H3) -> (P3, A3)`` under plane stress at the 2D gradients H
    (..., 4): H_zz solved from P_zz(H, H_zz) = 0 by Newton (dP_zz/dH_zz = A_zzzz) until its correction is
    below 1e-13 of the gradient (then P_zz is at round-off: the convergence is quadratic), P the
    in-plane components and A = A_pp - A_pz A_zp / A_zz, the tangent with P_zz = 0 held (the exact
    derivative of P). ReturnMappingError where Newton does not converge in ``max_iterations``."""
    H = np.asarray(H, dtype=float)
    full = np.zeros(H.shape[:-1] + (9,))
    full[..., IN_PLANE] = H
    size = np.abs(H).max(axis=-1) if H.size else np.zeros(H.shape[:-1])
    for _ in range(max_iterations):
        P3, A3 = response(full)
        correction = -P3[..., 8] / A3[..., 8, 8]
        full[..., 8] += correction
        if np.all(np.abs(correction) <= 1e-13 * (size + np.abs(full[..., 8])) + 1e-300):
            P3, A3 = response(full)
            break
    else:
        raise ReturnMappingError(f"plane stress: P_zz = 0 not reached in {max_iterations} Newton iterations "
                                 f"(largest correction of F_zz {np.abs(correction).max():.3g})")
    p, zz = IN_PLANE, 8
    A = A3[..., p[:, None], p] - A3[..., p, zz][..., :, None] * A3[..., zz, p][..., None, :] / A3[..., zz, zz][..., None, None]
    return P3[..., p], A, full[..., zz]


class NeoHookean(_Hyperelastic):
    """Compressible neo-Hookean solid,

        W = mu/2 (tr C - 3) - mu ln J + lambda/2 (ln J)^2,    C = F^T F, J = det F,
        P = mu (F - F^-T) + lambda ln J F^-T,
        A_iJkL = mu d_ik d_JL + (mu - lambda ln J) F^-1_Jk F^-1_Li + lambda F^-1_Ji F^-1_Lk,

    by the compiled kernel of :mod:`fe2.materials.compiled` where numba is installed (the numpy
    path, :meth:`reference_response`, is the reference: both agree to round-off).
    """

    def _response(self, H):
        if not compiled.AVAILABLE:
            return super()._response(H)
        dim = kinematics.dimension(H.shape[-1])
        flat = np.ascontiguousarray(H.reshape(-1, dim * dim))
        P = np.empty_like(flat)
        A = np.empty((len(flat), dim * dim, dim * dim))
        if compiled.neo_hookean(flat, dim, self.mu, self.lam, P, A) >= 0:
            deformations(H)   # raises DeformationError naming the point
        return P.reshape(H.shape), A.reshape(H.shape + (dim * dim,))

    def reference_response(self, strain, state=None):
        """:meth:`response` by numpy (the reference of the compiled kernel)."""
        H = np.asarray(strain, dtype=float)
        if self.plane == "stress" and H.shape[-1] == 4:
            P, A, _ = plane_stress(super()._response, H)
            return P, A, state
        return (*super()._response(H), state)

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
