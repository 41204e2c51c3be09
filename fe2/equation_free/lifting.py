"""Lifting and restriction: between the coarse state (one core average per patch) and fine fields.

* **Restriction** R: the average of the fine field over the patch's core, R(u)_i = ∫_core u_i / |core|,
  exact for the P1 field: R(u)_i = w · u_i with w_n = ∫_core φ_n / |core| (:func:`restriction_weights`).
* **Lifting** L: from the coarse data, the interpolant P_i of the coupling (a polynomial of the
  neighbouring data, or the trigonometric interpolant) shifted so that its core average is U_i:

      L(U)_i = U_i + P_i - R(P_i),

  so that R(L(U)) = U to round-off whatever the interpolant (the shift is the discrete core average).
  The smooth lifting carries no microscale corrector; the burst's healing time forms it.
* **Minimal polynomial lifting** (:func:`minimal_lifting`, 1D): from an average U, gradient G and
  curvature C, u(s) = U + G (s - s³/(3ℓ²)) + C (s²/2 - s⁴/(4ℓ²) - m), whose slope vanishes at the
  patch edges s = ±ℓ; m, the core average of the curvature term, makes R(L(U)) = U exact.
* **Consistency correction** (:func:`consistency`): an average over width a converted to the average
  over width b, ū^b = ū^a + (b² - a²)/24 Δ_H ū^a + O(H⁴) (b = H: the cell average of the gap-tooth
  scheme; b = 0: the point value).
"""

import numpy as np
import skfem


def restriction_weights(patches):
    """w (n_nodes,) with R(u)_i = w · u_i: the core average of the P1 field of one patch."""
    mesh = patches.reference
    element = skfem.ElementLineP1() if patches.dim == 1 else (skfem.ElementQuad1() if patches.cells == "quad"
                                                               else skfem.ElementTriP1())
    basis = skfem.Basis(mesh, element, intorder=2)
    core = np.broadcast_to(patches.core_elements[:, None], basis.dx.shape).astype(float)
    w = skfem.LinearForm(lambda v, p: v * p.core).assemble(basis, core=core)
    volume = patches.core ** patches.dim
    if abs(w.sum() - volume) > 1e-10 * volume:
        raise RuntimeError(f"the core elements of the patch measure {w.sum():.12g}, not h^d = {volume:.12g}")
    w = w / volume
    w.flags.writeable = False
    return w


def restrict(fields, weights):
    """Core averages (n_patches,) of fine fields (n_patches, n_nodes)."""
    return np.asarray(fields) @ weights


def lift(U, interpolant, weights):
    """L(U)_i = U_i + P_i - R(P_i): the fine fields (n_patches, n_nodes) of the coarse state U with
    the interpolants P (n_patches, n_nodes) at the nodes; R(L(U)) = U to round-off."""
    U = np.asarray(U, dtype=float).ravel()
    return U[:, None] + interpolant - (interpolant @ weights)[:, None]


def minimal_lifting(U, G, C, s, ell, weights):
    """The minimal polynomial lifting of averages U, gradients G and curvatures C (n_patches,) at the
    node offsets s (n_nodes,) of patches of half-width ``ell``:

        u(s) = U + G (s - s³/(3ℓ²)) + C (s²/2 - s⁴/(4ℓ²) - m),   du/ds(±ℓ) = 0,

    m = R(s²/2 - s⁴/(4ℓ²)) (and the gradient term's core average, zero for a symmetric core, is
    subtracted too), so that R(L(U)) = U to round-off.

    >>> s = np.linspace(-1, 1, 201); w = np.full(201, 1 / 201)
    >>> u = minimal_lifting(np.array([2.0]), np.array([1.0]), np.array([3.0]), s, 1.0, w)
    >>> bool(abs(u @ w - 2.0) < 1e-14)
    True
    """
    s = np.asarray(s, dtype=float)
    odd = s - s**3 / (3 * ell**2)
    even = s**2 / 2 - s**4 / (4 * ell**2)
    odd, even = odd - odd @ weights, even - even @ weights
    return (np.asarray(U, dtype=float)[:, None] + np.asarray(G, dtype=float)[:, None] * odd
            + np.asarray(C, dtype=float)[:, None] * even)


def laplacian(U, spacing):
    """The periodic 3-point (1D) or 5-point (2D) Laplacian Δ_H of coarse data U shaped (N,) or (N1, N2)."""
    U = np.asarray(U, dtype=float)
    return sum((np.roll(U, 1, axis) - 2 * U + np.roll(U, -1, axis)) / H**2 for axis, H in enumerate(spacing))


def consistency(U, spacing, source, target):
    """Averages over width ``source`` converted to averages over width ``target`` (per direction),
    ū^target = ū^source + (target² - source²)/24 Δ_H ū^source, on the periodic coarse grid of
    ``spacing`` (H per direction); U shaped like the grid. Exact for quadratics.

    >>> x = (np.arange(8) + 0.5) / 8; h = 0.05
    >>> core = x**2 + h**2 / 12                     # averages of x² over [x - h/2, x + h/2]
    >>> point = consistency(core, [1 / 8], h, 0.0)  # the point values, at the interior points
    >>> bool(np.allclose(point[1:-1], x[1:-1] ** 2))
    True
    """
    return np.asarray(U, dtype=float) + (target**2 - source**2) / 24 * laplacian(U, spacing)
