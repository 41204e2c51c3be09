"""The fitted surrogate of a cell's averaged response: a radial-basis interpolant of the stress with
its exact derivative (the consistent tangent) and an error indicator.

    s(E) = sum_i c_i phi(|x - x_i|) + a_0 + A x,     x = (E - centre) / half-width   (scaled strain)

with phi one of scipy.interpolate.RBFInterpolator's kernels and a linear polynomial tail, so a
response that is linear in E is reproduced to round-off. The coefficients solve the saddle system

    M [c; a] = [S; 0],   M = [[Phi, P], [P^T, 0]],   Phi_ij = phi(|x_i - x_j|),  P = [1, x_i]

(the same interpolant as ``RBFInterpolator(x, S, kernel=kernel, degree=1)``; a test checks it).
The tangent dS/dE = sum_i c_i phi'(r_i)/r_i (x - x_i) (x) 1 + A, divided by the half-widths, is
the derivative of what s answers, not a separate fit.

Error indicator: the power function P(x)^2 = phi(0) - v(x)^T M^-1 v(x), v = [phi(|x - x_j|); 1; x],
bounds |f(x) - s(x)| <= P(x) |f|_native. The native-norm factor is calibrated per stress component
by leave-one-out (Rippa): the error at x_i of the interpolant without x_i is c_i / (M^-1)_ii and its
power function there is (M^-1)_ii^(-1/2), so the standardized residuals are z_i = c_i (M^-1)_ii^(-1/2).
A cell's response is rarely stationary (a stiffening conductor is nearly linear near E = 0 and steep
far from it), so the factor is local: sigma(x)^2 = mean of |z_i|^2 over the ``neighbours`` samples
nearest x, and ``indicator(E) = P(x) sigma(x)``. Read as a Gaussian process (kriging with a linear
trend, whose posterior standard deviation is sigma P), it is one standard deviation of the stress
error; docs/surrogates.md states the confidence measured with it.
"""

import numpy as np
from scipy.spatial import cKDTree

# phi(r) and phi'(r)/r of scipy.interpolate.RBFInterpolator's kernels (its signs: conditionally
# positive definite of order <= 2, so a linear tail suffices; gaussian needs the shape epsilon).
# The quintic kernel (order 3) would need a quadratic tail: left out.
KERNELS = {
    "thin_plate_spline": (lambda r, e: np.where(r > 0, r**2 * np.log(np.where(r > 0, r, 1.0)), 0.0),
                          lambda r, e: np.where(r > 0, 2 * np.log(np.where(r > 0, r, 1.0)) + 1, 0.0)),
    "cubic": (lambda r, e: r**3, lambda r, e: 3 * r),
    "gaussian": (lambda r, e: np.exp(-(e * r) ** 2), lambda r, e: -2 * e**2 * np.exp(-(e * r) ** 2)),
}



def _check_samples(strain, stress):
    """(N, n) of the samples, refusing non-finite values and fewer than n + 2 samples."""
    if not (np.all(np.isfinite(strain)) and np.all(np.isfinite(stress))):
        raise ValueError("the surrogate's samples must be finite (a failed cell solve among them?)")
    N, n = strain.shape
    if N < n + 2:
        raise ValueError(f"a surrogate over {n} strain components needs at least {n + 2} samples, got {N}")
    return N, n


def _scaled(strain, centre, half_width):
    """The centre and half-width of the strain box (default: the samples' bounding box; a flat
    direction gets width 1) and the samples in those scaled units."""
    lo, hi = strain.min(axis=0), strain.max(axis=0)
    centre = (lo + hi) / 2 if centre is None else np.asarray(centre, dtype=float)
    half_width = np.where(hi > lo, (hi - lo) / 2, 1.0) if half_width is None else np.asarray(half_width, dtype=float)
    return centre, half_width, (strain - centre) / half_width

class Surrogate:
    """The interpolant of stresses ``stress`` (N, m) at strains ``strain`` (N, n) (training samples),
    with strains scaled by ``centre`` and ``half_width`` (n,) (default: the samples' bounding box).
    ``kernel``: a key of :data:`KERNELS`; ``epsilon``: the shape of the gaussian kernel (in scaled
    units). Immutable: :meth:`with_samples` returns a new surrogate.

    >>> E = np.array([[0., 0.], [1., 0.], [0., 1.], [1., 1.], [0.5, 0.2]])
    >>> s = Surrogate(E, E @ np.array([[2., 1.], [1., 3.]]))      # a linear response
    >>> stress, tangent, indicator = s.response(np.array([0.3, 0.7]))
    >>> np.allclose(tangent, [[2, 1], [1, 3]]), float(indicator) < 1e-12
    (True, True)
    """

    def __init__(self, strain, stress, *, kernel="cubic", epsilon=1.0, centre=None, half_width=None, neighbours=8):
        strain, stress = np.atleast_2d(np.asarray(strain, dtype=float)), np.asarray(stress, dtype=float)
        if stress.ndim == 1:
            stress = stress[:, None]
        if kernel not in KERNELS:
            raise ValueError(f"unknown surrogate kernel {kernel!r}; use 'potential' or one of {', '.join(map(repr, KERNELS))}")
        if stress.shape[0] != strain.shape[0]:
            raise ValueError(f"{strain.shape[0]} strain samples but {stress.shape[0]} stress samples")
        N, n = _check_samples(strain, stress)
        self.kernel, self.epsilon = kernel, float(epsilon)
        self.strain, self.stress = strain, stress
        self.centre, self.half_width, self.x = _scaled(strain, centre, half_width)
        M = np.zeros((N + n + 1, N + n + 1))
        M[:N, :N] = self._phi(np.linalg.norm(self.x[:, None] - self.x[None], axis=-1))
        M[:N, N:] = self._poly(self.x)
        M[N:, :N] = M[:N, N:].T
        try:
            self._inverse = np.linalg.inv(M)   # small (N + n + 1): its inverse gives the LOO residuals too
        except np.linalg.LinAlgError:
            raise ValueError("the surrogate's samples are degenerate (repeated points, or all on a hyperplane)") from None
        rhs = np.zeros((N + n + 1, stress.shape[1]))
        rhs[:N] = stress
        self.coefficients = np.linalg.solve(M, rhs)   # (backward stable; the inverse serves the indicator)
        diagonal = np.diag(self._inverse)[:N]
        self.loo_errors = self.coefficients[:N] / diagonal[:, None]                  # Rippa: f(x_i) - s_{-i}(x_i)
        standardized = self.coefficients[:N] / np.sqrt(np.abs(diagonal))[:, None]
        self.standardized = np.sum(standardized**2, axis=1)                            # |z_i|^2
        self.neighbours = min(N, neighbours)
        self._tree = cKDTree(self.x)

    def _phi(self, r):
        return KERNELS[self.kernel][0](r, self.epsilon)

    @staticmethod
    def _poly(x):
        return np.concatenate([np.ones(x.shape[:-1] + (1,)), x], axis=-1)

    @property
    def size(self):
        """The number of training samples."""
        return self.strain.shape[0]

    def with_samples(self, strain, stress):
        """A new surrogate with the samples ``strain``, ``stress`` added (same kernel and scaling)."""
        return Surrogate(np.concatenate([self.strain, np.atleast_2d(strain)]),
                         np.concatenate([self.stress, np.asarray(stress).reshape(-1, self.stress.shape[1])]),
                         kernel=self.kernel, epsilon=self.epsilon, centre=self.centre, half_width=self.half_width,
                         neighbours=self.neighbours)

    def response(self, strain):
        """(stress (..., m), tangent (..., m, n) = dstress/dstrain exactly, indicator (...,)) at the
        strains (..., n)."""
        strain = np.asarray(strain, dtype=float)
        n = self.strain.shape[1]
        if strain.shape[-1:] != (n,):
            raise ValueError(f"the surrogate answers strains of {n} components, got shape {strain.shape}")
        shape = strain.shape[:-1]
        x = ((strain.reshape(-1, n) - self.centre) / self.half_width)
        N = self.size
        difference = x[:, None] - self.x[None]                       # (q, N, n)
        r = np.linalg.norm(difference, axis=-1)
        v = np.concatenate([self._phi(r), self._poly(x)], axis=1)     # (q, N + n + 1)
        stress = v @ self.coefficients
        dphi = KERNELS[self.kernel][1](r, self.epsilon)               # phi'(r)/r
        tangent = np.einsum("qi,qij,ik->qkj", dphi, difference, self.coefficients[:N]) + self.coefficients[N + 1:].T
        tangent = tangent / self.half_width
        power = np.sqrt(np.clip(self._phi(0.0) - np.sum((v @ self._inverse) * v, axis=1), 0, None))
        _, nearest = self._tree.query(x, k=self.neighbours)
        indicator = power * np.sqrt(np.mean(self.standardized[nearest.reshape(len(x), -1)], axis=1))
        m = self.stress.shape[1]
        return stress.reshape(shape + (m,)), tangent.reshape(shape + (m, n)), indicator.reshape(shape)

    def __repr__(self):
        return f"Surrogate({self.kernel}, {self.size} samples, {self.strain.shape[1]} -> {self.stress.shape[1]})"


def _quintic_hessian(x):
    """-H of Phi(x) = -|x|^5 at the differences x (..., n): 5 r (r^2 I + 3 x x^T), (..., n, n)."""
    r = np.linalg.norm(x, axis=-1)[..., None, None]
    return 5 * r * (r**2 * np.eye(x.shape[-1]) + 3 * x[..., :, None] * x[..., None, :])


class PotentialSurrogate:
    """The stress as the gradient of a potential, S(E) = dW/dE, fitted to the samples by Hermite
    (gradient) interpolation with the quintic kernel Phi = -|x|^5 and a quadratic polynomial, in the
    scaled strain x = (E - centre) / half_width:

        dW/dx(x) = sum_i -H_Phi(x - x_i) a_i + b + B x,   B symmetric,   sum_i a_i = 0,   sum_i (E_pq x_i) . a_i = 0

    (E_pq: the symmetric basis of B). The tangent d2W/dE2 is symmetric, the macro solver's SPD
    factorization takes it as it is, and a linear response S = C E with C symmetric is reproduced to
    round-off (W is then quadratic, a = 0). The indicator is the Hermite power function (the error
    covariance Sigma(x) = -V(x)^T M^-1 V(x) of a Gaussian process with this kernel) scaled by the
    local leave-one-out factor (block Rippa: z_i^2 = c_i^T (M^-1)_ii^-1 c_i / n, mean over the
    ``neighbours`` samples nearest x): ``indicator = sqrt(trace Sigma_E(x) sigma(x)^2)``, one standard
    deviation of the stress error. Same interface as :class:`Surrogate`.

    >>> E = np.array([[0., 0.], [1., 0.], [0., 1.], [1., 1.], [0.5, 0.2]])
    >>> s = PotentialSurrogate(E, E @ np.array([[2., 1.], [1., 3.]]))
    >>> stress, tangent, indicator = s.response(np.array([0.3, 0.7]))
    >>> np.allclose(stress, [1.3, 2.4]), np.allclose(tangent, [[2, 1], [1, 3]]), float(indicator) < 1e-10
    (True, True, True)
    """

    kernel = "potential"

    def __init__(self, strain, stress, *, centre=None, half_width=None, neighbours=8, **unused):
        strain, stress = np.atleast_2d(np.asarray(strain, dtype=float)), np.atleast_2d(np.asarray(stress, dtype=float))
        if stress.shape != strain.shape:
            raise ValueError(f"a potential surrogate needs one stress per strain component: strain {strain.shape}, "
                             f"stress {stress.shape}")
        N, n = _check_samples(strain, stress)
        self.strain, self.stress = strain, stress
        self.centre, self.half_width, self.x = _scaled(strain, centre, half_width)
        self.pairs = [(p, q) for p in range(n) for q in range(p, n)]
        size = N * n + n + len(self.pairs)
        M = np.zeros((size, size))
        M[:N * n, :N * n] = _quintic_hessian(self.x[:, None] - self.x[None]).transpose(0, 2, 1, 3).reshape(N * n, N * n)
        polynomial = self._polynomial(self.x).reshape(N * n, -1)
        M[:N * n, N * n:], M[N * n:, :N * n] = polynomial, polynomial.T
        try:
            self._inverse = np.linalg.inv(M)
        except np.linalg.LinAlgError:
            raise ValueError("the surrogate's samples are degenerate (repeated points, or too few apart)") from None
        rhs = np.zeros(size)
        rhs[:N * n] = (stress * self.half_width).ravel()          # dW/dx = half_width * dW/dE
        self.coefficients = np.linalg.solve(M, rhs)
        a = self.coefficients[:N * n].reshape(N, n)
        blocks = self._inverse[:N * n, :N * n].reshape(N, n, N, n)[np.arange(N), :, np.arange(N), :]   # (N, n, n)
        self.standardized = np.einsum("ij,ij->i", a, np.linalg.solve(blocks, a[..., None])[..., 0]) / n
        self.neighbours = min(N, neighbours)
        self._tree = cKDTree(self.x)

    def _polynomial(self, x):
        """The gradients of the polynomial basis at x (..., n): (..., n, n + pairs): I and E_pq x."""
        n = x.shape[-1]
        columns = [np.broadcast_to(np.eye(n), x.shape[:-1] + (n, n))]
        for p, q in self.pairs:
            g = np.zeros(x.shape)
            g[..., p] += x[..., q]
            if p != q:
                g[..., q] += x[..., p]
            columns.append(g[..., None])
        return np.concatenate(columns, axis=-1)

    size = property(lambda self: self.strain.shape[0], doc="The number of training samples.")

    def with_samples(self, strain, stress):
        """A new surrogate with the samples ``strain``, ``stress`` added (same scaling)."""
        return PotentialSurrogate(np.concatenate([self.strain, np.atleast_2d(strain)]),
                                  np.concatenate([self.stress, np.atleast_2d(stress)]), centre=self.centre,
                                  half_width=self.half_width, neighbours=self.neighbours)

    def response(self, strain):
        """(stress (..., n), symmetric tangent (..., n, n) = dstress/dstrain exactly, indicator (...,))."""
        strain = np.asarray(strain, dtype=float)
        N, n = self.strain.shape
        if strain.shape[-1:] != (n,):
            raise ValueError(f"the surrogate answers strains of {n} components, got shape {strain.shape}")
        shape = strain.shape[:-1]
        x = (strain.reshape(-1, n) - self.centre) / self.half_width
        d = x[:, None] - self.x[None]                                            # (q, N, n)
        V = np.concatenate([_quintic_hessian(d).reshape(len(x), N * n, n),
                            self._polynomial(x).transpose(0, 2, 1)], axis=1)      # (q, size, n)
        gradient = np.swapaxes(V, 1, 2) @ self.coefficients
        a = self.coefficients[:N * n].reshape(N, n)
        r = np.linalg.norm(d, axis=-1)[..., None, None]
        da = np.einsum("qij,ij->qi", d, a)[..., None, None]
        outer = lambda u, v: u[..., :, None] * v[..., None, :]               # noqa: E731
        # d/dx of 5 (r^3 a + 3 r d (d.a)), term by term (symmetric in its two indices)
        third = 5 * (3 * r * (outer(a[None], d) + outer(d, a[None]))
                     + 3 * np.where(r > 0, outer(d, d) * da / np.where(r > 0, r, 1), 0) + 3 * r * da * np.eye(n))
        hessian = third.sum(axis=1)
        B = np.zeros((n, n))
        for c, (p, q) in zip(self.coefficients[N * n + n:], self.pairs):
            B[p, q] += c
            if p != q:
                B[q, p] += c
        hessian = hessian + B
        stress = gradient / self.half_width
        tangent = hessian / np.outer(self.half_width, self.half_width)
        rows = np.swapaxes(V, 1, 2)                                              # (q, n, size)
        variance = np.clip(-np.sum((rows @ self._inverse) * rows / self.half_width[:, None] ** 2, axis=(1, 2)), 0, None)
        _, nearest = self._tree.query(x, k=self.neighbours)
        indicator = np.sqrt(variance * np.mean(self.standardized[nearest.reshape(len(x), -1)], axis=1))
        return stress.reshape(shape + (n,)), tangent.reshape(shape + (n, n)), indicator.reshape(shape)

    def __repr__(self):
        return f"PotentialSurrogate({self.size} samples, {self.strain.shape[1]} components)"


def fit(strain, stress, kernel="potential", **options):
    """A :class:`PotentialSurrogate` (``kernel="potential"``) or a componentwise :class:`Surrogate` with
    that kernel, fitted to the samples."""
    if kernel == "potential":
        return PotentialSurrogate(strain, stress, **options)
    return Surrogate(strain, stress, kernel=kernel, **options)
