"""Cell geometry by lattice vectors, and the periodic pairing of degrees of freedom.

A cell is the parallelepiped {origin + s @ vectors : s in [0, 1]^dim}; ``vectors`` holds one lattice
vector per row, so a rectangle of sides (a, b) is ``diag(a, b)`` and a hexagonal cell is
``[[a, 0], [a/2, a*sqrt(3)/2]]``.
"""

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree


class PeriodicityError(ValueError):
    """Opposite boundaries of a cell do not match under its lattice vectors."""


class Lattice:
    """Lattice vectors (rows of ``vectors``) and the origin of one cell."""

    def __init__(self, vectors, origin=None):
        vectors = np.atleast_2d(np.asarray(vectors, dtype=float))
        dim = vectors.shape[0]
        if vectors.shape != (dim, dim) or dim not in (2, 3):
            raise ValueError(f"lattice vectors must be a 2x2 or 3x3 array (one vector per row), got shape {vectors.shape}")
        if not np.all(np.isfinite(vectors)) or abs(np.linalg.det(vectors)) <= 1e-14 * np.abs(vectors).max() ** dim:
            raise ValueError(f"lattice vectors are degenerate or not finite: {vectors.tolist()}")
        self.vectors = vectors
        self.origin = np.zeros(dim) if origin is None else np.asarray(origin, dtype=float)
        self.dim = dim

    @classmethod
    def box(cls, points):
        """The axis-aligned box bounding ``points`` (shape (dim, n))."""
        lo, hi = points.min(axis=1), points.max(axis=1)
        return cls(np.diag(hi - lo), origin=lo)

    @classmethod
    def around(cls, vectors, points):
        """The cell with these lattice vectors placed so that it holds ``points`` (dim, n): its
        origin is where every fractional coordinate of the points is smallest."""
        lattice = cls(vectors)
        lattice.origin = lattice.fractional(points).min(axis=0) @ lattice.vectors
        return lattice

    @property
    def volume(self):
        return abs(np.linalg.det(self.vectors))

    @property
    def heights(self):
        """Distance between each pair of opposite faces (1 / |grad s_k|)."""
        return 1.0 / np.linalg.norm(np.linalg.inv(self.vectors), axis=0)

    @property
    def diameter(self):
        """The longest diagonal of the cell."""
        signs = np.array(np.meshgrid(*[[-1.0, 1.0]] * self.dim)).reshape(self.dim, -1).T
        return np.linalg.norm(signs @ self.vectors, axis=1).max()

    def fractional(self, points):
        """Coordinates s of ``points`` (dim, n) in the lattice basis: x = origin + s @ vectors; shape (n, dim)."""
        return np.linalg.solve(self.vectors.T, points - self.origin[:, None]).T

    def check_holds(self, points, tol):
        """Raise unless the points (dim, n) span exactly this cell: fractional coordinates from 0 to 1."""
        if points.shape[0] != self.dim:
            raise ValueError(f"a {self.dim}D lattice cannot hold a {points.shape[0]}D mesh")
        s = self.fractional(points)
        tol_s = tol / self.heights
        lo, hi = s.min(axis=0), s.max(axis=0)
        bad = (np.abs(lo) > tol_s) | (np.abs(hi - 1) > tol_s)
        if np.any(bad):
            k = int(np.argmax(bad))
            raise ValueError(
                f"the mesh does not fill its lattice cell: along lattice vector {k} {self.vectors[k].tolist()} it spans "
                f"fractional coordinates [{lo[k]:.6g}, {hi[k]:.6g}] instead of [0, 1] (cell origin {self.origin.tolist()})")

    def periodic_masters(self, points, tol, partial=False):
        """For each point (node), the index of the point it is identified with under periodicity.

        Points on a "plus" face (fractional coordinate 1) are mapped through -vectors[k] onto their
        partner on the "minus" face (coordinate 0); corners and edges wrap in one step. Raises
        PeriodicityError, naming the worst node and its distance, unless every boundary node has a
        partner within ``tol``.

        ``partial`` (a porous cell whose voids cut the faces): a node whose image is in a void has no
        partner and stays its own master; the others are identified through every lattice vector
        they have a partner along (an edge or corner node through whichever images exist).
        """
        if partial:
            return self._partial_masters(np.asarray(points, dtype=float), tol)
        points = np.asarray(points, dtype=float)
        n = points.shape[1]
        s = self.fractional(points)
        tol_s = tol / self.heights
        plus = np.abs(s - 1) < tol_s
        minus = np.abs(s) < tol_s
        tree = cKDTree(points.T)

        def partners(which, shift):
            return tree.query(points[:, which].T + shift)

        worst = (0.0, None, None)
        for k in range(self.dim):
            for side, sign in ((plus, -1), (minus, +1)):
                which = np.flatnonzero(side[:, k])
                if which.size == 0:
                    continue
                distance, _ = partners(which, sign * self.vectors[k])
                i = np.argmax(distance)
                if distance[i] > worst[0]:
                    worst = (distance[i], which[i], k)
        if plus.any() != minus.any() or not plus.any():
            raise PeriodicityError("the mesh has no nodes on opposite faces of its lattice cell; check the lattice vectors")
        if worst[0] > tol:
            distance, i, k = worst
            raise PeriodicityError(
                f"opposite boundaries do not match under lattice vector {k} {self.vectors[k].tolist()}: "
                f"node {i} at {np.round(points[:, i], 12).tolist()} has no partner; the nearest is "
                f"{distance:.3e} away (tolerance {tol:.1e}). Mesh the cell with matching opposite "
                "boundaries (gmsh: setPeriodic) or give the right lattice vectors."
            )

        master = np.arange(n)
        slave = np.flatnonzero(plus.any(axis=1))
        shift = -(plus[slave].astype(float) @ self.vectors)
        _, master[slave] = partners(slave, shift)
        if np.any(plus[master[slave]].any(axis=1)):
            raise PeriodicityError("periodic pairing did not close: a wrapped node still lies on a plus face")
        return master

    def _partial_masters(self, points, tol):
        n = points.shape[1]
        plus = np.abs(self.fractional(points) - 1) < tol / self.heights
        tree = cKDTree(points.T)
        rows, cols = [], []
        for k in range(self.dim):
            which = np.flatnonzero(plus[:, k])
            distance, partner = tree.query(points[:, which].T - self.vectors[k])
            rows.append(which[distance <= tol])
            cols.append(partner[distance <= tol])
        rows, cols = np.concatenate(rows), np.concatenate(cols)
        _, label = connected_components(coo_matrix((np.ones(rows.size), (rows, cols)), shape=(n, n)), directed=False)
        first = np.full(label.max() + 1, n)
        np.minimum.at(first, label, np.arange(n))
        return first[label]
