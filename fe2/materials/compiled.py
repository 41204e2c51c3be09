"""The J2 return mappings and the neo-Hookean law compiled by numba: one loop over the points, no temporaries.

They compute what :meth:`fe2.materials.plasticity.J2Plasticity.reference_response` computes with
numpy (the reference, kept for the tests: both agree to round-off), point by point: the elastic
trial, the return (``j2``: the 3D radial return, closed form for linear hardening, scalar Newton
for Voce saturation; ``j2_plane_stress``: the plane-stress-projected return, a bracketed Newton
iteration on the plastic multiplier), the stress, the consistent tangent and the new plastic strain. An elastic point gets the elastic
stiffness copied bit for bit, so that a cell can tell an elastic increment by comparing tangents.
Without numba (``AVAILABLE`` False) the numpy path is used.
"""

import numpy as np

try:
    import numba
except ImportError:  # pragma: no cover - platforms without numba wheels
    numba = None

AVAILABLE = numba is not None


def _j2(strain, index, eps_p, p, C3, mu, bulk, sigma_y, hardening, sigma_sat, delta, tolerance, max_iterations,
        stress, tangent, eps_p_new, p_new):
    """Points k: strain[k] (n components at the 3D Mandel positions ``index``), history eps_p[k] (6),
    p[k] -> stress[k] (n), tangent[k] (n, n), eps_p_new[k], p_new[k]. Returns the number of points
    whose Voce return did not converge (0 when all did)."""
    sqrt32 = np.sqrt(1.5)
    three_mu = 3.0 * mu
    failed = 0
    n = index.size
    elastic = np.empty(6)
    s = np.empty(6)
    for k in range(strain.shape[0]):
        for i in range(6):
            elastic[i] = -eps_p[k, i]
        for i in range(n):
            elastic[index[i]] += strain[k, i]
        volumetric = elastic[0] + elastic[1] + elastic[2]
        norm = 0.0
        for i in range(6):
            s[i] = 2.0 * mu * (elastic[i] - (volumetric / 3.0 if i < 3 else 0.0))
            norm += s[i] * s[i]
        norm = np.sqrt(norm)
        q_trial = sqrt32 * norm
        flow = sigma_y + hardening * p[k]
        if delta > 0.0:
            flow += (sigma_sat - sigma_y) * -np.expm1(-delta * p[k])
        if not q_trial - flow > 0.0:                      # elastic: the stiffness as it is
            for i in range(n):
                value = bulk * volumetric * (1.0 if index[i] < 3 else 0.0) + s[index[i]]
                stress[k, i] = value
                for j in range(n):
                    tangent[k, i, j] = C3[index[i], index[j]]
            for i in range(6):
                eps_p_new[k, i] = eps_p[k, i]
            p_new[k] = p[k]
            continue
        if delta > 0.0:                                   # Voce: Newton on the consistency condition
            dp = 0.0
            converged = False
            for _ in range(max_iterations):
                pk = p[k] + dp
                residual = q_trial - three_mu * dp - (sigma_y + hardening * pk
                                                      + (sigma_sat - sigma_y) * -np.expm1(-delta * pk))
                dp = dp + residual / (three_mu + hardening + (sigma_sat - sigma_y) * delta * np.exp(-delta * pk))
                if not abs(residual) > tolerance * q_trial:
                    converged = True
                    break
            if not converged:
                failed += 1
        else:
            dp = (q_trial - flow) / (three_mu + hardening)
        p_new[k] = p[k] + dp
        h = hardening
        if delta > 0.0:
            h += (sigma_sat - sigma_y) * delta * np.exp(-delta * p_new[k])
        theta = 1.0 - three_mu * dp / q_trial
        theta_bar = three_mu / (three_mu + h) - (1.0 - theta)
        for i in range(6):
            eps_p_new[k, i] = eps_p[k, i] + sqrt32 * dp * s[i] / norm
        for i in range(n):
            a = index[i]
            stress[k, i] = bulk * volumetric * (1.0 if a < 3 else 0.0) + theta * s[a]
            for j in range(n):
                b = index[j]
                dev = (1.0 if a == b else 0.0) - (1.0 / 3.0 if a < 3 and b < 3 else 0.0)
                tangent[k, i, j] = (bulk * (1.0 if a < 3 and b < 3 else 0.0) + 2.0 * mu * theta * dev
                                    - 2.0 * mu * theta_bar * (s[a] / norm) * (s[b] / norm))
    return failed


def _j2_plane_stress(strain, eps_p, p, Q, E, nu, mu, sigma_y, hardening, sigma_sat, delta, tolerance, max_iterations,
                     stress, tangent, eps_p_new, p_new):
    """Plane stress, points k: strain[k] (xx, yy, sqrt2 xy), history eps_p[k] (6, 3D Mandel), p[k]
    -> stress[k] (3), tangent[k] (3, 3), eps_p_new[k], p_new[k]; Q the plane-stress elastic stiffness.
    In the eigenvectors u1 = (1, 1, 0)/sqrt2, u2 = (-1, 1, 0)/sqrt2, u3 = (0, 0, 1) of Q and of P
    (1/2 sigma.P.sigma = J2; eigenvalues of P 1/3, 1, 1), sigma(Dg) has components t_i / (1 + c_i Dg),
    c = (E / (3 (1 - nu)), 2 mu, 2 mu); the root of q(Dg) - sigma_y(p + 2/3 Dg q(Dg)) = 0,
    q = sqrt(3/2 sigma.P.sigma), decreasing in Dg, is bracketed by Newton steps and bisection.
    Returns the number of points whose iteration did not converge."""
    r2 = np.sqrt(2.0)
    c1, c2 = E / (3.0 * (1.0 - nu)), 2.0 * mu
    C1 = E / (1.0 - nu)                                   # eigenvalues of Q: C1, 2 mu, 2 mu
    failed = 0
    for k in range(strain.shape[0]):
        e0 = strain[k, 0] - eps_p[k, 0]
        e1 = strain[k, 1] - eps_p[k, 1]
        e2 = strain[k, 2] - eps_p[k, 5]
        s0 = Q[0, 0] * e0 + Q[0, 1] * e1 + Q[0, 2] * e2
        s1 = Q[1, 0] * e0 + Q[1, 1] * e1 + Q[1, 2] * e2
        s2 = Q[2, 0] * e0 + Q[2, 1] * e1 + Q[2, 2] * e2
        t1, t2, t3 = (s0 + s1) / r2, (s1 - s0) / r2, s2
        a, b = t1 * t1 / 3.0, t2 * t2 + t3 * t3
        q_trial = np.sqrt(1.5 * (a + b))
        flow = sigma_y + hardening * p[k]
        if delta > 0.0:
            flow += (sigma_sat - sigma_y) * -np.expm1(-delta * p[k])
        if not q_trial - flow > 0.0:                      # elastic: the stiffness as it is
            stress[k, 0], stress[k, 1], stress[k, 2] = s0, s1, s2
            for i in range(3):
                for j in range(3):
                    tangent[k, i, j] = Q[i, j]
            for i in range(6):
                eps_p_new[k, i] = eps_p[k, i]
            p_new[k] = p[k]
            continue
        dg, lo, hi = 0.0, 0.0, np.inf
        converged = False
        for _ in range(max_iterations):
            f1, f2 = 1.0 / (1.0 + c1 * dg), 1.0 / (1.0 + c2 * dg)
            xi = a * f1 * f1 + b * f2 * f2
            dxi = -2.0 * c1 * a * f1 * f1 * f1 - 2.0 * c2 * b * f2 * f2 * f2
            q = np.sqrt(1.5 * xi)
            dq = 0.75 * dxi / q
            pk = p[k] + 2.0 / 3.0 * dg * q
            h = hardening
            residual = q - sigma_y - hardening * pk
            if delta > 0.0:
                residual -= (sigma_sat - sigma_y) * -np.expm1(-delta * pk)
                h += (sigma_sat - sigma_y) * delta * np.exp(-delta * pk)
            converged = not abs(residual) > tolerance * q_trial
            if residual > 0.0:
                lo = dg
            else:
                hi = dg
            step = dg - residual / (dq - h * 2.0 / 3.0 * (q + dg * dq))
            if converged:                                 # a last Newton step: a free quadratic polish
                if lo <= step <= hi:
                    dg = step
                break
            dg = step if lo < step < hi else 0.5 * (lo + hi)
        if not converged:
            failed += 1
        f1, f2 = 1.0 / (1.0 + c1 * dg), 1.0 / (1.0 + c2 * dg)
        u1, u2, u3 = t1 * f1, t2 * f2, t3 * f2                # the stress in the eigenvectors
        xi = u1 * u1 / 3.0 + u2 * u2 + u3 * u3
        p_new[k] = p[k] + 2.0 / 3.0 * dg * np.sqrt(1.5 * xi)
        h = hardening
        if delta > 0.0:
            h += (sigma_sat - sigma_y) * delta * np.exp(-delta * p_new[k])
        stress[k, 0], stress[k, 1], stress[k, 2] = (u1 - u2) / r2, (u1 + u2) / r2, u3
        for i in range(6):
            eps_p_new[k, i] = eps_p[k, i]
        eps_p_new[k, 0] += dg * (u1 / 3.0 - u2) / r2          # Dg P sigma, and zz = -(xx + yy)
        eps_p_new[k, 1] += dg * (u1 / 3.0 + u2) / r2
        eps_p_new[k, 5] += dg * u3
        eps_p_new[k, 2] -= dg * r2 * u1 / 3.0
        # consistent tangent E_bar - n n^T / (sigma.P.n + 2 xi h / (3 - 2 h Dg)), in the eigenvectors
        b1 = 1.0 / (1.0 / C1 + dg / 3.0)
        b2 = 1.0 / (1.0 / c2 + dg)
        n1, n2, n3 = b1 * u1 / 3.0, b2 * u2, b2 * u3
        alpha = 1.0 / (u1 * n1 / 3.0 + u2 * n2 + u3 * n3 + 2.0 * xi * h / (3.0 - 2.0 * h * dg))
        m0, m1 = (n1 - n2) / r2, (n1 + n2) / r2                # n in Mandel components
        tangent[k, 0, 0] = 0.5 * (b1 + b2) - alpha * m0 * m0
        tangent[k, 1, 1] = 0.5 * (b1 + b2) - alpha * m1 * m1
        tangent[k, 0, 1] = tangent[k, 1, 0] = 0.5 * (b1 - b2) - alpha * m0 * m1
        tangent[k, 2, 2] = b2 - alpha * n3 * n3
        tangent[k, 0, 2] = tangent[k, 2, 0] = -alpha * m0 * n3
        tangent[k, 1, 2] = tangent[k, 2, 1] = -alpha * m1 * n3
    return failed


def _neo_hookean(H, dim, mu, lam, P, A):
    """Points k: the gradient H[k] (dim^2, row-major) -> P[k] (dim^2) and A[k] (dim^2, dim^2) of the
    compressible neo-Hookean law (:class:`fe2.materials.hyperelastic.NeoHookean`, whose numpy path is
    the reference). Returns the first point with det F <= 0 (or not finite), else -1."""
    F = np.empty((dim, dim))
    Finv = np.empty((dim, dim))
    cof = np.empty((dim, dim))
    for k in range(H.shape[0]):
        for i in range(dim):
            for j in range(dim):
                F[i, j] = H[k, i * dim + j] + (1.0 if i == j else 0.0)
        if dim == 2:
            cof[0, 0], cof[0, 1], cof[1, 0], cof[1, 1] = F[1, 1], -F[1, 0], -F[0, 1], F[0, 0]
        else:
            for i in range(3):
                i1, i2 = (i + 1) % 3, (i + 2) % 3
                for j in range(3):
                    j1, j2 = (j + 1) % 3, (j + 2) % 3
                    cof[i, j] = F[i1, j1] * F[i2, j2] - F[i1, j2] * F[i2, j1]
        J = 0.0
        for j in range(dim):
            J += F[0, j] * cof[0, j]
        if not J > 0.0:
            return k
        for i in range(dim):
            for j in range(dim):
                Finv[i, j] = cof[j, i] / J
        # ln J from J - 1 = tr H + the principal 2x2 minors of H + det H: no cancellation at small strain
        change = 0.0
        for i in range(dim):
            change += H[k, i * dim + i]
            for j in range(i + 1, dim):
                change += H[k, i * dim + i] * H[k, j * dim + j] - H[k, i * dim + j] * H[k, j * dim + i]
        if dim == 3:
            change += (H[k, 0] * (H[k, 4] * H[k, 8] - H[k, 5] * H[k, 7]) - H[k, 1] * (H[k, 3] * H[k, 8] - H[k, 5] * H[k, 6])
                       + H[k, 2] * (H[k, 3] * H[k, 7] - H[k, 4] * H[k, 6]))
        logJ = np.log1p(change)
        c = mu - lam * logJ
        for a in range(dim * dim):
            i, J_ = a // dim, a % dim
            # F - F^-T = H + H^T F^-T (as I - F^-1 = F^-1 H): no cancellation at small strain
            shear = H[k, a]
            for m in range(dim):
                shear += H[k, m * dim + i] * Finv[J_, m]
            P[k, a] = mu * shear + lam * logJ * Finv[J_, i]
            for b in range(a, dim * dim):                 # the upper triangle, mirrored: A symmetric bit for bit
                kk, L = b // dim, b % dim
                value = c * Finv[J_, kk] * Finv[L, i] + lam * Finv[J_, i] * Finv[L, kk]
                if i == kk and J_ == L:
                    value += mu
                A[k, a, b] = value
                A[k, b, a] = value
    return -1


j2 = numba.njit(cache=True, nogil=True)(_j2) if AVAILABLE else None
neo_hookean = numba.njit(cache=True, nogil=True)(_neo_hookean) if AVAILABLE else None
j2_plane_stress = numba.njit(cache=True, nogil=True)(_j2_plane_stress) if AVAILABLE else None
