"""Patches on a periodic box and their coupling by interpolation of the coarse data.

Geometry. The box [0, L_1) x ... x [0, L_d) (d = 1 or 2) is cut into N_1 x ... x N_d coarse cells
of size H_k = L_k / N_k; patch i sits at the cell centre X_i = (i + 1/2) H. It is a segment (1D)
or a square (2D) of width w = h + 2 L_b: a core of width h (where the coarse value is averaged)
and a buffer of width L_b on every side, meshed with P1 elements of size dx (segments in 1D,
quadrilaterals or triangles of a tensor grid in 2D). Patches are numbered in C order (the last
index runs fastest). Every patch has the same mesh, shifted to its centre.

Coupling. The coarse data V_j near patch i are interpolated onto the patch's nodes X_i + s,
direction by direction (a tensor product in 2D):

    P_i(X_i + s) = sum_m W[s, m] V[i + o_m]

* ``order`` 2, 4 or 6: Lagrange interpolation over the order + 1 nearest coarse points
  o_m = -order/2 .. order/2 (periodic wrap);
* ``order="spectral"``: the trigonometric interpolant of all N values (the Nyquist mode as a cosine).

The data are core averages. ``data`` says how they are read:

* ``"average"``: as averages over the cores (the polynomial, or trigonometric series, whose core
  averages are the data: moments of the Lagrange basis, or each Fourier mode divided by its
  averaging factor sin(k h/2)/(k h/2)). Consistent at every order;
* ``"corrected"``: as point values after the gap-tooth consistency correction
  V = U - h²/24 Δ_H U (:func:`fe2.equation_free.lifting.consistency`), O(h⁴) accurate;
* ``"point"``: as point values. The O(h²) difference between a core average and the point value
  is then an error of the coupling.
"""

import math

import numpy as np
import skfem

ORDERS = (2, 4, 6, "spectral")
DATA = ("average", "corrected", "point")


def _check_positive(name, value):
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, got {value!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return value


def _count(name, value, size):
    """``value`` (an integer multiple of 1) of a length ``size`` in elements of size dx, or an error."""
    n = value / size
    if abs(n - round(n)) > 1e-9 * max(1.0, n) or round(n) < 1:
        raise ValueError(f"the {name} {value:g} is not a whole number of fine elements of size dx = {size:g} "
                         f"({n:.6g} elements): choose dx dividing it")
    return int(round(n))


class Patches:
    """Equispaced patches with core and buffer on the periodic box of side ``length`` (a number, or
    one per direction), ``count`` patches (an int in 1D, a pair in 2D), a core of width ``core``, a
    buffer of width ``buffer`` on every side, fine elements of size ``dx`` (``cells``: "quad" or
    "tri" in 2D). Immutable."""

    def __init__(self, length, count, core, buffer, dx, cells="quad"):
        count = (count,) if np.ndim(count) == 0 else tuple(count)
        if len(count) not in (1, 2) or not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 1
                                               for n in count):
            raise ValueError(f"count must be a whole number of patches >= 1 (1D) or a pair of them (2D), got {count!r}")
        self.dim = len(count)
        lengths = (length,) * self.dim if np.ndim(length) == 0 else tuple(length)
        if len(lengths) != self.dim:
            raise ValueError(f"give one length per direction: {self.dim} for count={count}, got {length!r}")
        self.length = np.array([_check_positive("the domain length", v) for v in lengths])
        self.count = tuple(int(n) for n in count)
        self.core = _check_positive("the core width h", core)
        self.buffer = _check_positive("the buffer width L_b", buffer)
        self.dx = _check_positive("the fine element size dx", dx)
        if cells not in ("quad", "tri"):
            raise ValueError(f"cells must be 'quad' or 'tri', got {cells!r}")
        self.cells = cells
        self.spacing = self.length / np.array(self.count)                 # H per direction
        self.width = self.core + 2 * self.buffer
        n_core, n_buffer = _count("core width h", self.core, self.dx), _count("buffer width L_b", self.buffer, self.dx)
        self.elements_across = n_core + 2 * n_buffer
        s = np.linspace(-self.width / 2, self.width / 2, self.elements_across + 1)
        if self.dim == 1:
            self.reference = skfem.MeshLine1(s[None, :], np.vstack([np.arange(s.size - 1), np.arange(1, s.size)]))
        else:
            self.reference = (skfem.MeshQuad1 if cells == "quad" else skfem.MeshTri1).init_tensor(s, s)
        grid = np.meshgrid(*[(np.arange(n) + 0.5) * H for n, H in zip(self.count, self.spacing)], indexing="ij")
        self.centres = np.stack([g.ravel() for g in grid], axis=1)          # (n_patches, dim)
        self.offsets = self.reference.p.T.copy()                            # node offsets s, (n_nodes, dim)
        centroids = self.reference.p[:, self.reference.t].mean(axis=1)      # (dim, n_elements)
        self.core_elements = np.all(np.abs(centroids) < self.core / 2, axis=0)
        self.boundary = self.reference.boundary_nodes()
        for array in (self.centres, self.offsets, self.core_elements, self.boundary, self.length, self.spacing):
            array.flags.writeable = False

    @property
    def n_patches(self):
        return len(self.centres)

    @property
    def n_nodes(self):
        """Fine nodes per patch."""
        return self.reference.p.shape[1]

    @property
    def fraction(self):
        """The fraction of the domain the patches cover, (w/H)^d."""
        return float(np.prod(self.width / self.spacing))

    def mesh(self, patches=None):
        """The fine mesh of the ``patches`` (indices; default all) side by side, disconnected: node
        k of patch p (p-th of the list) is node p * n_nodes + k."""
        patches = np.arange(self.n_patches) if patches is None else np.asarray(patches)
        p = (self.reference.p[:, None, :] + self.centres[patches].T[:, :, None]).reshape(self.dim, -1)
        t = (self.reference.t[:, None, :] + self.n_nodes * np.arange(len(patches))[None, :, None]).reshape(
            self.reference.t.shape[0], -1)
        return type(self.reference)(p, t)

    def __repr__(self):
        counts = " x ".join(map(str, self.count))
        return (f"Patches({counts} on a periodic box of side {self.length.tolist()}, H = {self.spacing.tolist()}, "
                f"core h = {self.core:g}, buffer L_b = {self.buffer:g}, dx = {self.dx:g}, {self.n_nodes} nodes each)")


def lagrange_weights(stencil, points, spacing, derivative=0, box=None):
    """Weights W (n_points, n_stencil) of the degree len(stencil) - 1 polynomial P through the data at
    the coarse offsets ``stencil`` * ``spacing``: the ``derivative``-th derivative of P at ``points``
    is W @ data. With ``box`` (a width), the data are averages of P over boxes of that width
    centred on the coarse points, instead of values.

    >>> w = lagrange_weights([-1, 0, 1], np.array([0.0]), 1.0, derivative=2)
    >>> w.tolist()
    [[1.0, -2.0, 1.0]]
    """
    stencil = np.asarray(stencil, dtype=float) * spacing
    degree = stencil.size
    m = np.arange(degree)
    scale = spacing  # monomials in s / H: well conditioned
    if box is None:
        V = (stencil[:, None] / scale) ** m                                     # V[j, m] = (x_j / H)^m
    else:
        a, b = (stencil - box / 2) / scale, (stencil + box / 2) / scale
        V = (b[:, None] ** (m + 1) - a[:, None] ** (m + 1)) / ((m + 1) * box / scale)
    points = np.asarray(points, dtype=float) / scale
    falling = np.array([math.prod(range(k - derivative + 1, k + 1)) if k >= derivative else 0 for k in m], dtype=float)
    rhs = falling * np.where(m >= derivative, points[:, None] ** np.maximum(m - derivative, 0), 0.0) / scale**derivative
    return np.linalg.solve(V.T, rhs.T).T


def trigonometric_weights(count, spacing, points, box=None):
    """Weights E (n_points, count) of the trigonometric interpolant of ``count`` equispaced values at
    the offsets 0, H, ..., (count - 1) H of a periodic domain of length count * H, evaluated at
    ``points`` (offsets from the first value). The Nyquist mode of an even count is a cosine. With
    ``box``, the data are averages over boxes of that width: each mode is divided by sin(k b/2)/(k b/2)."""
    L = count * spacing
    k = np.arange(-(count // 2), count // 2 + 1)
    weight = np.ones(k.size)
    if count % 2 == 0:
        weight[[0, -1]] = 0.5                                                # the Nyquist mode, split
    kappa = 2 * np.pi * k / L
    if box is not None:
        factor = np.sinc(kappa * box / (2 * np.pi))                          # sin(k b/2)/(k b/2)
        if np.any(np.abs(factor) < 1e-8):
            raise ValueError(f"a core of width {box:g} averages a resolved Fourier mode to zero: spectral coupling "
                             "of averaged data cannot invert it; use a narrower core or Lagrange coupling")
        weight = weight / factor
    x = np.asarray(points, dtype=float)[:, None, None] - spacing * np.arange(count)[None, :, None]
    return (weight * np.cos(kappa * x)).sum(axis=-1) / count


class Coupling:
    """The interpolation of coarse data onto the nodes of every patch of ``patches``, of ``order``
    2, 4, 6 or "spectral", reading the data as ``data`` ("average", "corrected" or "point"; see the
    module docstring). ``interpolate(V)`` gives P_i at every node of every patch."""

    def __init__(self, patches, order=2, data="average"):
        if order not in ORDERS:
            raise ValueError(f"coupling order must be one of {ORDERS}, got {order!r}")
        if data not in DATA:
            raise ValueError(f"coarse data must be read as one of {DATA}, got {data!r}")
        self.patches, self.order, self.data = patches, order, data
        box = patches.core if data == "average" else None
        self.stencils, self.weights = [], []
        for axis, (N, H) in enumerate(zip(patches.count, patches.spacing)):
            s = patches.offsets[:, axis]
            if order == "spectral":
                stencil = np.arange(N)
                W = trigonometric_weights(N, H, s, box)
            else:
                if N < order + 1:
                    raise ValueError(f"coupling of order {order} needs {order + 1} patches along axis {axis}, "
                                     f"there are {N}")
                stencil = np.arange(-(order // 2), order // 2 + 1)
                W = lagrange_weights(stencil, s, H, box=box)
            self.stencils.append(stencil)
            self.weights.append(W)

    def gather(self, V):
        """The coarse data of each patch's stencil: (n_patches, n_stencil) in 1D, (n_patches, n1, n2) in 2D."""
        count = self.patches.count
        V = np.asarray(V, dtype=float).reshape(count)
        if self.patches.dim == 1:
            i = np.arange(count[0])
            return V[(i[:, None] + self.stencils[0][None, :]) % count[0]]
        i, j = np.meshgrid(np.arange(count[0]), np.arange(count[1]), indexing="ij")
        rows = (i.ravel()[:, None, None] + self.stencils[0][None, :, None]) % count[0]
        cols = (j.ravel()[:, None, None] + self.stencils[1][None, None, :]) % count[1]
        return V[rows, cols]

    def interpolate(self, V):
        """P_i(X_i + s) at every node s of every patch i, (n_patches, n_nodes), from the coarse data V
        (one value per patch, as read by this coupling)."""
        G = self.gather(V)
        if self.patches.dim == 1:
            return G @ self.weights[0].T
        return np.einsum("nm,nl,pml->pn", self.weights[0], self.weights[1], G, optimize=True)
