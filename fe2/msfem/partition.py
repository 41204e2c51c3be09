"""A fine mesh nested in a coarse one: the fine elements of each coarse element, and patches.

MsFEM works on two meshes of one 2D domain: coarse triangles or quadrilaterals, and a fine mesh
whose elements each lie inside one coarse element (a refinement, or a phase mesh whose element
edges follow the coarse edges). ``Partition`` finds the coarse parent of every fine element,
checks that the fine mesh nests (every fine vertex inside its parent, every coarse vertex a fine
node, and the fine elements fill each coarse element: their areas add up to its area), and gives
the oversampling patch of a coarse element: the fine elements whose centroids lie in the element
scaled by a factor about its centroid, clipped to the domain.

Coarse nodal functions ``shape_functions(V, x)``: barycentric coordinates on a triangle; on a
quadrilateral the bilinear functions N = (1-s)(1-t), s(1-t), st, (1-s)t of the reference
coordinates (s, t) in [0, 1]^2 of the vertices in their mesh order, the bilinear map inverted in
closed form (the root of its quadratic nearest [0, 1]^2). Barycentric coordinates extend affinely
beyond the element; the bilinear ones only near a convex element (beyond a fold of the map they
are continued by the double root), so oversampled boundary data evaluate them at points scaled
back into the element.
"""

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree


class NestingError(ValueError):
    """The fine mesh does not nest in the coarse mesh."""


def _area(V):
    """Signed area per polygon (n, nv, 2) (vertices in cyclic order)."""
    x, y = V[..., 0], V[..., 1]
    return 0.5 * np.sum(x * np.roll(y, -1, axis=-1) - np.roll(x, -1, axis=-1) * y, axis=-1)


def _orientation(V):
    """+1 or -1 per polygon (n, nv, 2): the sign of its area."""
    return np.sign(_area(V))


def inside(V, x, tol):
    """Whether points x (n, 2) lie in the convex polygons V (n, nv, 2), to a distance ``tol``."""
    edge = np.roll(V, -1, axis=1) - V                                        # (n, nv, 2)
    rel = x[:, None, :] - V
    cross = edge[..., 0] * rel[..., 1] - edge[..., 1] * rel[..., 0]          # (n, nv)
    length = np.linalg.norm(edge, axis=-1)
    return np.all(cross * _orientation(V)[:, None] >= -tol * length, axis=1)


def shape_functions(V, x):
    """Coarse nodal functions of the element with vertices V (nv, 2) at points x (2, n): (nv, n)."""
    V = np.asarray(V, dtype=float)
    if len(V) == 3:
        T = np.array([V[1] - V[0], V[2] - V[0]]).T
        st = np.linalg.solve(T, x - V[0][:, None])
        return np.vstack([1 - st.sum(axis=0), st])
    # bilinear: x = V0 + b s + c t + d s t, inverted in closed form. With w = x - V0, crossing
    # w - b s = t (c + d s) with c + d s gives (b x d) s^2 + (b x c - w x d) s - w x c = 0; of its
    # two roots the one nearer [0, 1]^2 is taken (unique inside a convex element; Newton from an
    # affine guess can land on the other root even inside a distorted one)
    cross = lambda u, v: u[0] * v[1] - u[1] * v[0]  # noqa: E731
    a, b, c, d = V[0], V[1] - V[0], V[3] - V[0], V[2] - V[3] - V[1] + V[0]
    if np.abs(d).max() <= 1e-14 * np.abs(V).max():  # a parallelogram: the map is affine
        s, t = np.linalg.solve(np.array([b, c]).T, x - a[:, None])
        return np.vstack([(1 - s) * (1 - t), s * (1 - t), s * t, (1 - s) * t])
    w = x - a[:, None]
    A, B, C = cross(b, d), cross(b, c) - cross(w, d), -cross(w, c)
    q = -0.5 * (B + np.copysign(np.sqrt(np.maximum(B**2 - 4 * A * C, 0.0)), B))
    with np.errstate(divide="ignore", invalid="ignore"):
        roots = np.stack([C / q, q / A])                                                 # (2, n); C/q: the linear root if A = 0
        roots = np.where(np.isfinite(roots), roots, np.inf)
        g = c[:, None, None] + d[:, None, None] * roots                                 # c + d s, (2, 2, n)
        ts = np.sum((w[:, None] - b[:, None, None] * roots) * g, axis=0) / np.sum(g**2, axis=0)
    distance = np.maximum(np.abs(roots - 0.5), np.abs(np.nan_to_num(ts, nan=np.inf) - 0.5))
    pick = np.argmin(distance, axis=0)[None]
    st = np.vstack([np.take_along_axis(roots, pick, 0), np.take_along_axis(ts, pick, 0)])
    s, t = st
    # outside the element, beyond a fold of the map, there is no real root: the double root (where
    # the discriminant is clipped to 0) continues the functions continuously; inside, check the root
    size = np.ptp(V, axis=0).max()
    residual = np.abs(a[:, None] + np.outer(b, s) + np.outer(c, t) + np.outer(d, s * t) - x)[:, inside(
        np.broadcast_to(V, (x.shape[1],) + V.shape), x.T, 1e-9 * size)]
    if residual.size and not residual.max() <= 1e-9 * (size + np.abs(V).max()):
        raise ValueError(f"the bilinear map of the quadrilateral {V.tolist()} cannot be inverted inside it "
                         f"(residual {residual.max():.3g}): is it convex?")
    return np.vstack([(1 - s) * (1 - t), s * (1 - t), s * t, (1 - s) * t])


class Partition:
    """The fine elements of each coarse element of a nested pair of 2D meshes.

    ``parent[e]`` is the coarse element of fine element e, ``members(K)`` the fine elements of K (``counts[K]`` of them),
    ``vertex_nodes[v]`` the fine node at coarse vertex v. Raises :class:`NestingError` naming the
    first fine element (or coarse element with a gap, or coarse vertex) that does not nest."""

    CHUNK = 200_000

    def __init__(self, coarse, fine, tol=1e-9):
        if coarse.dim() != 2 or fine.dim() != 2:
            raise ValueError(f"MsFEM meshes must be 2D, got a {coarse.dim()}D coarse and a {fine.dim()}D fine mesh")
        if coarse.t.shape[0] not in (3, 4):
            raise ValueError(f"coarse elements must be triangles or quadrilaterals, got {type(coarse).__name__}")
        self.coarse, self.fine = coarse, fine
        self.scale = float(np.ptp(coarse.p, axis=1).max())
        self.tol = tol * self.scale
        self.vertices = np.ascontiguousarray(coarse.p[:, coarse.t].transpose(2, 1, 0))    # (nK, nv, 2)
        _check_convex(self.vertices)
        self.centroids = self.vertices.mean(axis=1)                                         # (nK, 2)
        self.radii = np.linalg.norm(self.vertices - self.centroids[:, None], axis=-1).max(axis=1)
        self._tree = cKDTree(self.centroids)
        self.parent = self._parents()
        order = np.argsort(self.parent, kind="stable")
        self._order = order
        self._offsets = np.searchsorted(self.parent[order], np.arange(coarse.t.shape[1] + 1))
        self.counts = np.diff(self._offsets)                                                 # fine elements per coarse element
        self.position = np.empty_like(order)                                                 # index of e in members(parent[e])
        self.position[order] = np.arange(order.size) - self._offsets[self.parent[order]]
        self.vertex_nodes = self._vertex_nodes()
        self.valence = np.bincount(coarse.t.ravel(), minlength=coarse.p.shape[1])           # coarse elements at each vertex

    def members(self, K):
        """The fine elements inside coarse element K."""
        return self._order[self._offsets[K]:self._offsets[K + 1]]

    def _parents(self):
        fine, nK = self.fine, self.coarse.t.shape[1]
        parent = np.full(fine.t.shape[1], -1)
        covered = np.zeros(nK)  # area of the fine elements of each coarse element
        k = min(nK, 12)
        for start in range(0, fine.t.shape[1], self.CHUNK):
            stop = min(start + self.CHUNK, fine.t.shape[1])
            centroids = fine.p[:, fine.t[:, start:stop]].mean(axis=1).T                    # (m, 2)
            _, candidates = self._tree.query(centroids, k=k)
            candidates = candidates.reshape(len(centroids), -1)
            found = np.full(len(centroids), -1)
            for column in candidates.T:
                open_ = found < 0
                hit = open_ & inside(self.vertices[column], centroids, self.tol)
                found[hit] = column[hit]
            for i in np.flatnonzero(found < 0):  # far from every near centroid: test all elements
                hits = np.flatnonzero(inside(self.vertices, np.repeat(centroids[i][None], nK, axis=0), self.tol))
                if hits.size:
                    found[i] = hits[0]
                else:
                    raise NestingError(f"fine element {start + i} (centroid {_at(centroids[i])}) lies in no coarse element: "
                                       "the fine mesh covers more than the coarse mesh")
            parent[start:stop] = found
            covered += np.bincount(found, np.abs(_area(fine.p[:, fine.t[:, start:stop]].transpose(2, 1, 0))), minlength=nK)
            # every vertex of a fine element must lie in its parent
            for corner in range(fine.t.shape[0]):
                points = fine.p[:, fine.t[corner, start:stop]].T
                bad = ~inside(self.vertices[found], points, self.tol)
                if bad.any():
                    i = int(np.argmax(bad))
                    raise NestingError(f"fine element {start + i} crosses the edge of coarse element {found[i]}: its vertex "
                                       f"{_at(points[i])} lies outside it. The fine mesh must nest in the coarse elements "
                                       "(refine the coarse mesh, or mesh the fine phases with the coarse edges as lines)")
        # nested elements inside each coarse element must also fill it: no gap, no overlap
        area = np.abs(_area(self.vertices))
        perimeter = np.linalg.norm(np.roll(self.vertices, -1, axis=1) - self.vertices, axis=-1).sum(axis=1)
        bad = np.abs(covered - area) > 1e-9 * area + self.tol * perimeter
        if bad.any():
            K = int(np.argmax(bad))
            raise NestingError(f"the fine elements of coarse element {K} cover an area of {covered[K]:.6g}, not its "
                               f"{area[K]:.6g}: the fine mesh has a gap (or overlapping elements) there; it must fill "
                               "the coarse mesh")
        return parent

    def _vertex_nodes(self):
        distance, nodes = cKDTree(self.fine.p.T).query(self.coarse.p.T)
        bad = distance > self.tol
        if bad.any():
            v = int(np.argmax(bad))
            raise NestingError(f"coarse vertex {v} at {_at(self.coarse.p[:, v])} is not a node of the fine mesh "
                               f"(nearest fine node {distance[v]:.3g} away)")
        return nodes

    def layers(self, k):
        """The k-layer patches of all coarse elements: U_0(K) = K, U_j(K) = the coarse elements that
        share a vertex with U_(j-1)(K). A sparse boolean matrix (nK, nK); row K holds U_k(K)."""
        nK = self.coarse.t.shape[1]
        incidence = sp.csr_matrix((np.ones(self.coarse.t.size), (np.repeat(np.arange(nK), self.coarse.t.shape[0]),
                                                                 self.coarse.t.T.ravel())), shape=(nK, self.coarse.p.shape[1]))
        neighbours = (incidence @ incidence.T).astype(bool).astype(np.int32)
        patches = sp.identity(nK, dtype=np.int32, format="csr")
        for _ in range(k):
            patches = (patches @ neighbours).astype(bool).astype(np.int32)
        patches.sort_indices()
        return patches

    def neighbourhood(self, K, factor):
        """The coarse elements (sorted) that may hold fine elements of the patch of K scaled by ``factor``."""
        if factor == 1:
            return np.array([K])
        return np.sort(self._tree.query_ball_point(self.centroids[K], factor * self.radii[K] + self.radii.max()))

    def patch(self, K, factor):
        """The fine elements of the oversampling patch of coarse element K: those whose centroids
        lie in K scaled by ``factor`` (>= 1) about its centroid, clipped to the domain."""
        if factor == 1:
            return self.members(K)
        candidates = np.concatenate([self.members(J) for J in self.neighbourhood(K, factor)])
        enlarged = self.centroids[K] + factor * (self.vertices[K] - self.centroids[K])
        centroids = self.fine.p[:, self.fine.t[:, candidates]].mean(axis=1).T
        keep = inside(np.broadcast_to(enlarged, (len(candidates),) + enlarged.shape), centroids, self.tol)
        return np.sort(candidates[keep])


def _check_convex(V):
    """Coarse elements must be convex with a non-zero area (the containment test and the nodal
    functions rely on it): raise naming the first that is not."""
    edge = np.roll(V, -1, axis=1) - V
    turn = edge[..., 0] * np.roll(edge, -1, axis=1)[..., 1] - edge[..., 1] * np.roll(edge, -1, axis=1)[..., 0]
    sign = _orientation(V)
    bad = (sign == 0) | np.any(turn * sign[:, None] <= 0, axis=1)
    if bad.any():
        K = int(np.argmax(bad))
        raise ValueError(f"coarse element {K} with vertices {', '.join(_at(v) for v in V[K])} is not convex "
                         "(or has no area): MsFEM needs convex coarse triangles and quadrilaterals")


def _at(x):
    return "(" + ", ".join(f"{v:.6g}" for v in x) + ")"
