"""The J2 return mapping compiled by numba: one loop over the points, no temporaries.

It computes what :meth:`fe2.materials.plasticity.J2Plasticity.reference_response` computes with
numpy (the reference, kept for the tests: both agree to round-off), point by point: the elastic
trial, the radial return (closed form for linear hardening, scalar Newton for Voce saturation),
the stress, the consistent tangent and the new plastic strain. An elastic point gets the elastic
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


j2 = numba.njit(cache=True, nogil=True)(_j2) if AVAILABLE else None
