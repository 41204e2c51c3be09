"""Nonlinear micro material laws: J2 plasticity (history-dependent) and nonlinear conduction.

Both answer the material-point interface of :mod:`fe2.materials`::

    stress, tangent, new_state = law.response(strain, state)

vectorized over any leading shape: ``strain`` (..., n) -> stress (..., n), tangent (..., n, n).
``response`` never modifies the state it is given; it returns new arrays. Committing the new state
(after a converged macro step) or dropping it (cut-back) is the caller's business.

Notation: Mandel vectors (:mod:`fe2.notation`); 2D elasticity is plane strain unless the law is
made with ``plane="stress"``. In plane strain J2 plasticity returns in 3D: a strain (xx, yy, sqrt2 xy)
is embedded as (xx, yy, 0, 0, 0, sqrt2 xy), the plastic strain keeps all six 3D components (in plane
strain its zz component is in general not zero, while the total eps_zz is), and the (xx, yy, xy) =
[0, 1, 5] block of the stress and of the tangent is returned. :meth:`J2Plasticity.stress_3d` gives
the full 3D stress (e.g. sigma_zz). In plane stress (sigma_zz = 0, eps_zz free) the return mapping
is the plane-stress-projected one (Simo & Taylor 1986; de Souza Neto, Peric & Owen, section 9.4.3),
see :class:`J2Plasticity`; the plastic strain is still kept with its six 3D components.
"""

import numpy as np

from . import compiled
from .law import Law, check_plane, check_real
from .linear import elastic_constants

__all__ = ["J2Plasticity", "NonlinearConductor", "ReturnMappingError"]

_SQRT32 = np.sqrt(1.5)
_PLANE = [0, 1, 5]  # Mandel (xx, yy, xy) inside the 3D Mandel vector
_INDEX = {3: np.array(_PLANE), 6: np.arange(6)}  # positions of a strain of n components in the 3D vector
_ONE = np.array([1.0, 1.0, 1.0, 0.0, 0.0, 0.0])  # identity tensor, 3D Mandel
_DEV = np.eye(6) - np.outer(_ONE, _ONE) / 3.0  # deviatoric projector, 3D Mandel


class ReturnMappingError(RuntimeError):
    """The local (per point) return mapping did not converge."""


def _check_finite(what, array):
    bad = ~np.isfinite(array)
    if np.any(bad):
        raise ValueError(f"{what} must be finite, but {int(bad.sum())} of {array.size} entries are not "
                         f"(first at index {np.unravel_index(np.argmax(bad), bad.shape)})")


class J2Plasticity(Law):
    """Small-strain J2 (von Mises) plasticity with isotropic hardening, associative flow, radial return.

    Yield function  f = sqrt(3/2) |dev sigma| - (sigma_y + R(p)) <= 0  with the hardening

        R(p) = H p + (sigma_sat - sigma_y) (1 - exp(-delta p))

    (linear part H = ``hardening``; Voce saturation part only when ``saturation=(sigma_sat, delta)``).
    p is the accumulated equivalent plastic strain, dp = sqrt(2/3) |d eps_p|; in uniaxial tension
    p = eps_p,xx and the tangent modulus of the stress-plastic strain curve is dR/dp.

    Parameters: E > 0, -1 < nu < 0.5, yield_stress > 0, hardening >= 0, and for the saturation
    sigma_sat >= yield_stress, delta > 0; anything else raises ValueError.

    State (per point, see :meth:`initial_state`): ``{"plastic_strain": (..., 6) 3D Mandel, "p": (...)}``.
    The return mapping is closed form for linear hardening and a vectorized scalar Newton on the
    consistency condition for Voce hardening (monotone from Delta p = 0 since R is concave);
    :class:`ReturnMappingError` if some points do not converge in ``max_iterations``.
    The tangent is the consistent (algorithmic) one (de Souza Neto, Peric & Owen, Box 7.4)::

        C = K 1(x)1 + 2 mu theta I_dev - 2 mu theta_bar n(x)n,
        theta = 1 - 3 mu Dp / q_trial,  theta_bar = 3 mu / (3 mu + h) - (1 - theta),  h = R'(p_new),

    n = dev sigma_trial / |dev sigma_trial|; elastic points (f_trial <= 0) get the elastic tangent.

    Plane stress (``plane="stress"``, 2D only: strains (..., 3)): the plane-stress-projected return.
    With P the Mandel matrix of 1/2 sigma.P.sigma = J2 and C the plane-stress elastic stiffness,
    sigma(Dg) = (I + Dg C P)^-1 sigma_trial; in the common eigenvectors of C and P, (1, 1, 0)/sqrt2,
    (-1, 1, 0)/sqrt2, (0, 0, 1), whose trial components are t1, t2, t3,

        xi(Dg) = sigma.P.sigma = (t1^2 / 3) / (1 + E Dg / (3 (1 - nu)))^2 + (t2^2 + t3^2) / (1 + 2 mu Dg)^2,

    and the consistency condition sqrt(3 xi / 2) = sigma_y + R(p + Dg sqrt(2 xi / 3)) (decreasing in
    Dg, one root) is solved by a bracketed Newton iteration. The consistent tangent is

        C_ep = E_bar - (n (x) n) / (sigma.P.n + 2 xi h / (3 - 2 h Dg)),  E_bar = (C^-1 + Dg P)^-1,  n = E_bar P sigma.

    The compiled kernel (:mod:`fe2.materials.compiled`) computes it; :meth:`reference_response`
    solves the same backward-Euler equations another way (the 3D radial return with a Newton
    iteration on eps_zz until sigma_zz = 0, the 3D tangent condensed), for the tests.
    """

    physics = "elasticity"
    is_field = False
    tolerance = 1e-11  # Newton (Voce): relative residual |f| / q_trial before the last step
    max_iterations = 50

    def __init__(self, E, nu, yield_stress, hardening=0.0, saturation=None, plane="strain"):
        self.E, self.nu, self.lam, self.mu = elastic_constants(E, nu)
        if check_plane(plane) == "stress":   # else the class's "strain" (Law.plane): parameters as before
            self.plane = plane
        yield_stress = check_real("yield_stress", yield_stress, scalar=True, positive=True)
        hardening = check_real("hardening", hardening, scalar=True)
        if hardening < 0:
            raise ValueError(f"hardening must be non-negative, got hardening={hardening}")
        if saturation is not None:
            try:
                sigma_sat, delta = saturation
            except (TypeError, ValueError):
                raise ValueError(f"saturation must be None or a pair (sigma_sat, delta), got {saturation!r}") from None
            sigma_sat = check_real("saturation stress sigma_sat", sigma_sat, scalar=True)
            delta = check_real("saturation rate delta", delta, scalar=True, positive=True)
            if sigma_sat < yield_stress:
                raise ValueError(f"saturation stress sigma_sat must be >= yield_stress={yield_stress}, "
                                 f"got sigma_sat={sigma_sat}")
            saturation = (sigma_sat, delta)
        self.yield_stress, self.hardening, self.saturation = yield_stress, hardening, saturation
        self.bulk = self.lam + 2 * self.mu / 3
        self._C3 = self.bulk * np.outer(_ONE, _ONE) + 2 * self.mu * _DEV
        self._Q = 2 * self.mu * np.eye(3)                                  # plane-stress elastic stiffness:
        self._Q[:2, :2] += 2 * self.lam * self.mu / (self.lam + 2 * self.mu)  # lambda -> 2 lambda mu / (lambda + 2 mu)

    # --- elastic tensors -------------------------------------------------------------------------
    def tensor(self, dim):
        """Elastic Mandel stiffness (the tangent of a virgin point), (n, n); 2D = plane strain, or
        plane stress for a law made with ``plane="stress"`` (2D only)."""
        if self.plane == "stress":
            if dim != 2:
                raise ValueError(f"{self!r} is a plane-stress law: it answers in 2D only, not in {dim}D")
            return self._Q.copy()
        if dim == 3:
            return self._C3.copy()
        if dim == 2:
            return self._C3[np.ix_(_PLANE, _PLANE)].copy()
        raise ValueError(f"J2Plasticity: dim must be 2 (plane strain) or 3, got dim={dim}")

    # --- hardening -------------------------------------------------------------------------------
    def flow_stress(self, p):
        """Current yield stress sigma_y + R(p)."""
        p = np.asarray(p, dtype=float)
        out = self.yield_stress + self.hardening * p
        if self.saturation is not None:
            sigma_sat, delta = self.saturation
            out = out + (sigma_sat - self.yield_stress) * -np.expm1(-delta * p)
        return out

    def hardening_modulus(self, p):
        """h = dR/dp."""
        p = np.asarray(p, dtype=float)
        out = np.full(p.shape, self.hardening)
        if self.saturation is not None:
            sigma_sat, delta = self.saturation
            out = out + (sigma_sat - self.yield_stress) * delta * np.exp(-delta * p)
        return out

    @staticmethod
    def equivalent_stress(stress):
        """von Mises stress sqrt(3/2) |dev sigma| of 3D Mandel stresses (..., 6)."""
        stress = np.asarray(stress, dtype=float)
        return _SQRT32 * np.linalg.norm(stress @ _DEV, axis=-1)

    # --- state -----------------------------------------------------------------------------------
    def initial_state(self, shape):
        """Virgin state for an array of points of the given shape."""
        shape = (shape,) if np.isscalar(shape) else tuple(shape)
        return {"plastic_strain": np.zeros(shape + (6,)), "p": np.zeros(shape)}

    def _state(self, state, shape):
        if state is None:
            return np.zeros(shape + (6,)), np.zeros(shape)
        try:
            eps_p, p = state["plastic_strain"], state["p"]
        except (TypeError, KeyError):
            raise ValueError("J2Plasticity: state must be None or a dict with 'plastic_strain' and 'p' "
                             f"(as from initial_state), got {type(state).__name__}") from None
        eps_p, p = np.asarray(eps_p, dtype=float), np.asarray(p, dtype=float)
        if eps_p.shape != shape + (6,) or p.shape != shape:
            raise ValueError(f"J2Plasticity: state does not match the strain: strain points have shape {shape}, "
                             f"so plastic_strain must be {shape + (6,)} and p {shape}, got plastic_strain "
                             f"{eps_p.shape} and p {p.shape}")
        return eps_p, p

    @staticmethod
    def _embed(strain):
        """(..., 3) plane strain or (..., 6) -> (..., 6) 3D Mandel."""
        if strain.shape[-1] == 6:
            return strain
        out = np.zeros(strain.shape[:-1] + (6,))
        out[..., _PLANE] = strain
        return out

    def _strain(self, strain):
        strain = np.asarray(strain, dtype=float)
        if self.plane == "stress" and (strain.ndim == 0 or strain.shape[-1] != 3):
            raise ValueError(f"J2Plasticity(plane='stress'): strain must have shape (..., 3) (xx, yy, sqrt2 xy), "
                             f"got shape {strain.shape}")
        if strain.ndim == 0 or strain.shape[-1] not in (3, 6):
            raise ValueError(f"J2Plasticity: strain must have shape (..., 3) (plane strain) or (..., 6) (3D), "
                             f"got shape {strain.shape}")
        _check_finite("J2Plasticity: strain", strain)
        return strain

    def stress_3d(self, strain, state=None):
        """Full 3D Mandel stress (..., 6) C_e (eps - eps_p) for a strain and a (returned) state;
        for plane strain eps_zz = 0, so this gives e.g. sigma_zz; in plane stress eps_zz is
        :meth:`out_of_plane_strain` and sigma_zz = 0."""
        strain = self._strain(strain)
        eps_p, _ = self._state(state, strain.shape[:-1])
        full = self._embed(strain)
        if self.plane == "stress":
            full[..., 2] = self.out_of_plane_strain(strain, state)
        return (full - eps_p) @ self._C3

    def out_of_plane_stress(self, strain, state=None):
        """sigma_zz (...) = [C_e (eps - eps_p)]_zz of strains (..., 3) and a (returned) state: plane
        strain; zero in plane stress."""
        if self.plane == "stress":
            return np.zeros(self._strain(strain).shape[:-1])
        return self.stress_3d(strain, state)[..., 2]

    def out_of_plane_strain(self, strain, state=None):
        """Plane stress: the thickness strain eps_zz (...) of strains (..., 3) and a (returned) state,
        from sigma_zz = 0: eps_zz = eps_p,zz - nu / (1 - nu) (eps_e,xx + eps_e,yy). Zero in plane strain."""
        strain = self._strain(strain)
        eps_p, _ = self._state(state, strain.shape[:-1])
        if self.plane != "stress":
            return np.zeros(strain.shape[:-1])
        elastic = strain[..., :2] - eps_p[..., :2]
        return eps_p[..., 2] - self.nu / (1 - self.nu) * elastic.sum(axis=-1)

    # --- the material point ----------------------------------------------------------------------
    def response(self, strain, state=None):
        """Stress (..., n), consistent tangent (..., n, n) and the new state for strains (..., n),
        n = 3 (plane strain, or plane stress for a law made so) or 6, from ``state`` (None: virgin).
        The input state is not modified. Computed by the compiled kernels of
        :mod:`fe2.materials.compiled` where numba is installed, else by :meth:`reference_response`;
        the two agree to round-off (plane stress: to the tolerance of the reference's iteration)."""
        if not compiled.AVAILABLE:
            return self.reference_response(strain, state)
        strain = self._strain(strain)
        n = strain.shape[-1]
        shape = strain.shape[:-1]
        eps_p, p = self._state(state, shape)
        points = int(np.prod(shape))
        stress, tangent = np.empty((points, n)), np.empty((points, n, n))
        eps_p_new, p_new = np.empty((points, 6)), np.empty(points)
        sigma_sat, delta = self.saturation if self.saturation is not None else (self.yield_stress, 0.0)
        arrays = (np.ascontiguousarray(strain.reshape(points, n)), np.ascontiguousarray(eps_p.reshape(points, 6)),
                  np.ascontiguousarray(p.reshape(points)))
        hardening = (self.yield_stress, self.hardening, sigma_sat, delta, self.tolerance, self.max_iterations)
        if self.plane == "stress":
            failed = compiled.j2_plane_stress(*arrays, self._Q, self.E, self.nu, self.mu, *hardening,
                                              stress, tangent, eps_p_new, p_new)
        else:
            failed = compiled.j2(arrays[0], _INDEX[n], *arrays[1:], self._C3, self.mu, self.bulk, *hardening,
                                 stress, tangent, eps_p_new, p_new)
        if failed:
            plastic = int(np.count_nonzero(p_new != p.reshape(points)))
            raise ReturnMappingError(f"J2Plasticity: the {'plane-stress' if self.plane == 'stress' else 'Voce'} return "
                                     f"mapping did not converge in {self.max_iterations} iterations at {failed} of "
                                     f"{plastic} plastic points")
        return (stress.reshape(shape + (n,)), tangent.reshape(shape + (n, n)),
                {"plastic_strain": eps_p_new.reshape(shape + (6,)), "p": p_new.reshape(shape)})

    def reference_response(self, strain, state=None):
        """:meth:`response` in numpy, vectorized over the points: the reference of the compiled kernels.
        Plane stress: the 3D radial return at (eps_xx, eps_yy, eps_zz, 0, 0, sqrt2 eps_xy), Newton on
        eps_zz until |sigma_zz| <= 1e-13 |sigma|, and the 3D tangent condensed by sigma_zz = 0:
        C_pp - C_pz C_zp / C_zz."""
        strain = self._strain(strain)
        shape = strain.shape[:-1]
        eps_p, p = self._state(state, shape)
        if self.plane != "stress":
            return self._radial_return(strain, eps_p, p)
        full = self._embed(strain)
        full[..., 2] = self.out_of_plane_strain(strain, state)        # the elastic guess
        for _ in range(self.max_iterations):
            stress, tangent, new_state = self._radial_return(full, eps_p, p)
            residual = stress[..., 2]
            scale = np.linalg.norm(stress, axis=-1) + self.E * 1e-300
            if np.all(np.abs(residual) <= 1e-13 * scale):
                break
            full[..., 2] -= residual / tangent[..., 2, 2]
        else:
            raise ReturnMappingError(f"J2Plasticity: the reference plane-stress iteration on eps_zz did not converge "
                                     f"in {self.max_iterations} iterations")
        condensed = (tangent[..., _PLANE, :][..., _PLANE]
                     - tangent[..., _PLANE, 2][..., :, None] * tangent[..., 2, _PLANE][..., None, :]
                     / tangent[..., 2, 2][..., None, None])
        return stress[..., _PLANE], condensed, new_state

    def _radial_return(self, strain, eps_p, p):
        """The 3D radial return of strains (..., 3) (plane strain) or (..., 6) from the history (eps_p, p)."""
        n = strain.shape[-1]
        shape = strain.shape[:-1]
        mu, K = self.mu, self.bulk

        elastic = self._embed(strain) - eps_p
        volumetric = elastic[..., :3].sum(axis=-1)
        s_trial = 2 * mu * (elastic @ _DEV)
        norm = np.linalg.norm(s_trial, axis=-1)
        q_trial = _SQRT32 * norm
        plastic = q_trial - self.flow_stress(p) > 0
        direction = np.divide(s_trial, norm[..., None], out=np.zeros_like(s_trial), where=norm[..., None] > 0)

        dp = np.zeros(shape)
        if np.any(plastic):
            dp[plastic] = self._return(q_trial[plastic], p[plastic])
        p_new = p + dp
        theta = 1.0 - np.divide(3 * mu * dp, q_trial, out=np.zeros(shape), where=plastic)
        theta_bar = np.where(plastic, 3 * mu / (3 * mu + self.hardening_modulus(p_new)) - (1 - theta), 0.0)

        stress = K * volumetric[..., None] * _ONE + theta[..., None] * s_trial
        tangent = (K * np.outer(_ONE, _ONE) + 2 * mu * theta[..., None, None] * _DEV
                   - 2 * mu * theta_bar[..., None, None] * direction[..., :, None] * direction[..., None, :])
        new_state = {"plastic_strain": eps_p + (_SQRT32 * dp)[..., None] * direction, "p": p_new}
        if n == 3:
            stress, tangent = stress[..., _PLANE], tangent[..., _PLANE, :][..., _PLANE]
        return stress, tangent, new_state

    def _return(self, q_trial, p):
        """Delta p > 0 solving q_trial - 3 mu Dp - (sigma_y + R(p + Dp)) = 0 at plastic points (1D arrays)."""
        three_mu = 3 * self.mu
        if self.saturation is None:  # linear hardening: closed form
            return (q_trial - self.flow_stress(p)) / (three_mu + self.hardening)
        dp = np.zeros_like(q_trial)
        active = np.ones(q_trial.shape, dtype=bool)
        for _ in range(self.max_iterations):
            q, pa, d = q_trial[active], p[active], dp[active]
            residual = q - three_mu * d - self.flow_stress(pa + d)
            # f is convex and decreasing in Dp: Newton from 0 increases monotonically to the root.
            dp[active] = d + residual / (three_mu + self.hardening_modulus(pa + d))
            # the step above is taken also at converged points (a free quadratic polish)
            still = np.abs(residual) > self.tolerance * q
            active[np.flatnonzero(active)[~still]] = False
            if not active.any():
                return dp
        raise ReturnMappingError(
            f"J2Plasticity: the Voce return mapping did not converge in {self.max_iterations} iterations at "
            f"{int(active.sum())} of {q_trial.size} plastic points")

    def __repr__(self):
        text = (f"J2Plasticity(E={self.E:g}, nu={self.nu:g}, yield_stress={self.yield_stress:g}, "
                f"hardening={self.hardening:g}")
        if self.saturation is not None:
            text += f", saturation=({self.saturation[0]:g}, {self.saturation[1]:g})"
        return text + (", plane='stress')" if self.plane == "stress" else ")")


class NonlinearConductor(Law):
    """Steady conduction with a gradient-dependent conductivity: K g = k(|g|) g (flux q = -k(|g|) grad T),

        k(s) = k0 (1 + (s / g0)^2)^((m - 1) / 2),

    m = 1 linear (``Conductor(k0)``), m > 1 stiffening, 0 < m < 1 softening: a regularized
    p-Laplacian with p = m + 1 (for s >> g0, |K g| ~ k0 g0^(1-m) s^m). No history (state None).
    The tangent d(k g)/dg = k I + k'(s)/s g(x)g, with k'(s)/s = k0 (m - 1)/g0^2 (1 + (s/g0)^2)^((m-3)/2)
    regular at g = 0; it is SPD for every m > 0 (eigenvalue along g: k0 (1+x)^((m-3)/2) (1 + m x), x = (s/g0)^2).
    """

    physics = "conduction"
    is_field = False

    def __init__(self, k0, g0=1.0, m=1.0):
        k0 = check_real("conductivity k0", k0, scalar=True, positive=True)
        g0 = check_real("reference gradient g0", g0, scalar=True, positive=True)
        m = check_real("exponent m", m, scalar=True, positive=True)
        self.k0, self.g0, self.m = k0, g0, m

    def conductivity(self, s):
        """k(s) for gradient magnitudes s."""
        x = (np.asarray(s, dtype=float) / self.g0) ** 2
        return self.k0 * (1 + x) ** ((self.m - 1) / 2)

    def tensor(self, dim):
        """The tangent at zero gradient, k0 I."""
        if dim not in (1, 2, 3):
            raise ValueError(f"NonlinearConductor: dim must be 1, 2 or 3, got dim={dim}")
        return self.k0 * np.eye(dim)

    def response(self, gradient, state=None):
        """Generalized stress k(|g|) g (..., dim), tangent (..., dim, dim), state None."""
        g = np.asarray(gradient, dtype=float)
        if g.ndim == 0 or g.shape[-1] not in (1, 2, 3):
            raise ValueError(f"NonlinearConductor: gradient must have shape (..., dim), dim 1, 2 or 3, got {g.shape}")
        _check_finite("NonlinearConductor: gradient", g)
        dim = g.shape[-1]
        x = np.sum(g * g, axis=-1) / self.g0**2
        k = self.k0 * (1 + x) ** ((self.m - 1) / 2)
        k_prime_over_s = self.k0 * (self.m - 1) / self.g0**2 * (1 + x) ** ((self.m - 3) / 2)
        tangent = k[..., None, None] * np.eye(dim) + k_prime_over_s[..., None, None] * g[..., :, None] * g[..., None, :]
        return k[..., None] * g, tangent, None

    def __repr__(self):
        return f"NonlinearConductor(k0={self.k0:g}, g0={self.g0:g}, m={self.m:g})"
