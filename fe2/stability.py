"""Material stability at finite strain: strong ellipticity of the tangent A = dP/dF.

The acoustic tensor of a direction n is Q(n)_ik = A_iJkL n_J n_L. A law (or a homogenized cell) is
strongly elliptic at F while

    lambda_min = min over unit m, n of  m . Q(n) . m  =  min A_iJkL m_i n_J m_k n_L  > 0;

where it vanishes, a band of normal n can form (loss of ellipticity, localization; for a lattice
law, a soft mode of the lattice). The minimum of the biquadratic form is found by a search
over n of the least eigenvalue of Q(n) (whose eigenvector is m): the best of sampled
directions (every 2.5 degrees in 2D, 1000 quasi-uniform directions in 3D), then grids shrinking
around it. Tested against a dense search.

The stability of the homogeneously deformed material itself (for a Cauchy-Born law, the lattice's):
the least eigenvalue of d^2W/dE^2 in the Green-Lagrange strain, as a Mandel matrix recovered from
(H, P, A) (:func:`green_stiffness`, :func:`lattice_stability`).

Gradients and tangents in the row-major notation of :mod:`fe2.kinematics`.
"""

import numpy as np

from . import kinematics


def directions(dim, samples=None):
    """Unit vectors (k, dim) spread over the half circle (2D) or half sphere (3D): n and -n give the
    same acoustic tensor."""
    if dim == 2:
        angles = np.linspace(0.0, np.pi, samples or 72, endpoint=False)
        return np.stack([np.cos(angles), np.sin(angles)], axis=1)
    if dim != 3:
        raise ValueError(f"directions in 2D or 3D, got dim = {dim}")
    k = samples or 1000       # a Fibonacci lattice on the upper half sphere
    z = (np.arange(k) + 0.5) / k
    phi = np.arange(k) * np.pi * (3.0 - np.sqrt(5.0))
    r = np.sqrt(1.0 - z**2)
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)


def acoustic_tensor(A, n):
    """Q(n)_ik = A_iJkL n_J n_L of tangents A (..., dim^2, dim^2) and directions n (..., dim): (..., dim, dim)."""
    A = np.asarray(A, dtype=float)
    dim = kinematics.dimension(A.shape[-1])
    A4 = A.reshape(A.shape[:-2] + (dim,) * 4)
    return np.einsum("...iJkL,...J,...L->...ik", A4, n, n)


def ellipticity(A, samples=None, rounds=12):
    """(lambda_min, n, m) of tangents A (..., dim^2, dim^2): the least value of A_iJkL m_i n_J m_k n_L
    over unit vectors m, n (...,), and the direction n (..., dim) and polarization m (..., dim) where
    it is taken. Positive: strongly elliptic; zero or negative: ellipticity lost.

    The least eigenvalue of Q(n) is taken at ``samples`` directions, then on a finer grid of
    directions around the best one, ``rounds`` times, the grid shrinking threefold each round: the
    direction to about 1e-6 rad and lambda_min to about 1e-10 relative. Cost (2-core Xeon, numpy):
    about 15 us per point in 2D, 1 ms in 3D."""
    A = np.asarray(A, dtype=float)
    dim = kinematics.dimension(A.shape[-1])
    shape = A.shape[:-2]
    A4 = A.reshape((-1,) + (dim,) * 4)
    # A as (points, JL, ik), so that Q(n) = (n (x) n) . A is one batched product for many directions
    AJL = np.ascontiguousarray(A4.transpose(0, 2, 4, 1, 3)).reshape(len(A4), dim * dim, dim * dim)

    def acoustic(n):   # n (points or 1, directions, dim) -> Q (points, directions, dim, dim)
        nn = (n[..., :, None] * n[..., None, :]).reshape(n.shape[:-1] + (dim * dim,))
        return (nn @ AJL).reshape(len(A4), n.shape[-2], dim, dim)

    trial = directions(dim, samples)
    lowest = least_eigenvalue(acoustic(trial[None]))
    n = trial[np.argmin(lowest, axis=1)]                        # (points, dim)
    radius = 2.0 * np.sqrt((np.pi if dim == 2 else 2 * np.pi) / len(trial))   # about two sample spacings
    steps = np.linspace(-1.0, 1.0, 9)
    grid = steps[:, None] if dim == 2 else np.stack(np.meshgrid(steps, steps), -1).reshape(-1, 2)
    for _ in range(rounds):
        tangents = _tangent_basis(n)                            # (points, dim - 1, dim)
        local = n[:, None] + radius * grid @ tangents           # (points, k, dim)
        local /= np.linalg.norm(local, axis=-1, keepdims=True)
        lowest = least_eigenvalue(acoustic(local))
        n = local[np.arange(len(n)), np.argmin(lowest, axis=1)]
        radius /= 3.0
    values, vectors = np.linalg.eigh(np.einsum("piJkL,pJ,pL->pik", A4, n, n))
    return values[:, 0].reshape(shape), n.reshape(shape + (dim,)), vectors[..., 0].reshape(shape + (dim,))


def least_eigenvalue(Q):
    """The least eigenvalue of the symmetric parts of matrices Q (..., dim, dim), in closed form (several
    times faster than LAPACK on many small matrices): 2x2 by the quadratic formula, 3x3 by the
    trigonometric solution of the characteristic cubic (q + 2 p cos(phi + 2 pi / 3))."""
    S = 0.5 * (Q + np.swapaxes(Q, -1, -2))
    if S.shape[-1] == 2:
        a, b, c = S[..., 0, 0], S[..., 1, 1], S[..., 0, 1]
        return 0.5 * (a + b) - np.hypot(0.5 * (a - b), c)
    q = np.trace(S, axis1=-2, axis2=-1) / 3
    D = S - q[..., None, None] * np.eye(3)
    p = np.sqrt(np.sum(D * D, axis=(-2, -1)) / 6)
    safe = np.where(p > 0, p, 1.0)
    r = np.clip(np.linalg.det(D / safe[..., None, None]) / 2, -1.0, 1.0)
    return q + 2 * p * np.cos(np.arccos(r) / 3 + 2 * np.pi / 3)


def _tangent_basis(n):
    """Orthonormal vectors (points, dim - 1, dim) perpendicular to the unit vectors n (points, dim)."""
    if n.shape[1] == 2:
        return np.stack([-n[:, 1], n[:, 0]], axis=1)[:, None]
    helper = np.where(np.abs(n[:, [0]]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    t1 = np.cross(n, helper)
    t1 /= np.linalg.norm(t1, axis=1, keepdims=True)
    return np.stack([t1, np.cross(n, t1)], axis=1)


def first_loss(values, threshold=0.0):
    """The flat index of the first point where ``values`` (e.g. lambda_min) is at or below
    ``threshold``, or None."""
    bad = np.asarray(values).ravel() <= threshold
    return int(np.argmax(bad)) if bad.any() else None


def green_stiffness(H, P, A):
    """The material tangent in the Green-Lagrange strain, L = d^2 W / dE^2 = dS/dE, as a Mandel matrix
    (..., n, n) (n = 3 in 2D, 6 in 3D; (..., 1, 1) in 1D), from the gradients H (..., dim^2), the
    stresses P (..., dim^2) and the tangents A = dP/dF (..., dim^2, dim^2) of a hyperelastic law:
    with S = F^-1 P,

        A_iJkL = delta_ik S_JL + F_iM L_MJNL F_kN   =>   L_MJNL = F^-1_Mi (A_iJkL - delta_ik S_JL) F^-1_Nk.
    """
    F = kinematics.deformation(H)
    dim = F.shape[-1]
    Finv = np.linalg.inv(F)
    S = Finv @ kinematics.from_vector(P)
    A4 = np.asarray(A, dtype=float).reshape(F.shape[:-2] + (dim,) * 4)
    L = np.einsum("...Mi,...iJkL,...Nk->...MJNL", Finv, A4 - np.einsum("ik,...JL->...iJkL", np.eye(dim), S), Finv)
    L = kinematics.tangent_matrix(L)
    return L if dim == 1 else kinematics.symmetric_part(L)


def lattice_stability(law, H):
    """The least eigenvalue (...,) of the Mandel matrix of d^2 W / dE^2 (:func:`green_stiffness`) of
    a finite-strain ``law`` at the gradients H (..., dim^2): the stability of the homogeneously
    deformed material (for a Cauchy-Born law, the lattice) against further homogeneous
    deformation, measured in the Green-Lagrange strain (Born's criterion; Hill and Milstein 1977:
    away from the reference the criterion depends on the strain measure). Phonon stability
    (non-affine, short-wavelength modes) is not computed."""
    H = np.asarray(H, dtype=float)
    P, A, _ = law.response(H)
    return np.linalg.eigvalsh(green_stiffness(H, P, A))[..., 0]
