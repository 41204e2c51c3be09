"""Voids (pores) in a cell: the phases given no material (``None``) leave the mesh, and a mesh that
leaves part of its lattice cell Y empty is a porous cell.

Averages over a porous cell are over the whole lattice cell, the voids included (docs/porous.md):

* <sigma> = (1/|Y|) int_solid sigma dx: the voids carry no stress;
* <eps> = (1/|Y|) int_dY u (x)_s n ds, the average-strain theorem: the strain average of the whole cell,
  the voids holding the strain of any displacement that extends u into them. Hole surfaces inside the
  cell are traction-free (flux-free) and do not enter. Where voids cut the outer boundary (pores
  wrapped periodically), each pair of opposite faces k enters scaled by |face_k| / |solid part of face_k|:
  for a periodic field u = E x + w the solid parts of faces k give (E a_k) (x) n_k |solid part|, so the
  scaled sum is |Y| E, the macro strain, whatever the voids on the faces.

The nodal operator of that boundary integral is :attr:`OuterBoundary.operator`; without voids on the
faces it is the load of the unit uniform tractions, :attr:`OuterBoundary.load` (SUBC).
"""

from dataclasses import dataclass, replace

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree
from skfem import FacetBasis

from .. import notation
from .physics import lagrange


def remove_voids(mesh, materials):
    """(mesh, materials, voids): the mesh without the elements of the phases whose material is None,
    the materials of the other phases, and the names of the void phases (a tuple, empty if none)."""
    if not isinstance(materials, dict):
        return mesh, materials, ()
    voids = tuple(name for name, law in materials.items() if law is None)
    if not voids:
        return mesh, materials, ()
    solid = {name: law for name, law in materials.items() if law is not None}
    if not solid:
        raise ValueError(f"every phase of the cell is void ({list(voids)} have material None): a cell needs a "
                         "solid phase")
    subdomains = {k: np.asarray(v) for k, v in (mesh.subdomains or {}).items() if not k.startswith("gmsh:")}
    unknown = [name for name in voids if name not in subdomains]
    if unknown:
        raise ValueError(f"unknown phase name(s) {unknown} given as voids: the mesh has phases {sorted(subdomains)}")
    void = np.zeros(mesh.t.shape[1], dtype=bool)
    for name in voids:
        void[subdomains[name]] = True
    if void.all():
        raise ValueError(f"the void phase(s) {list(voids)} fill the whole mesh: a cell needs a solid phase")
    kept = mesh.restrict(np.flatnonzero(~void))
    kept = replace(kept, _subdomains={k: v for k, v in kept.subdomains.items() if k not in voids})
    return kept, solid, voids


@dataclass(frozen=True, eq=False)
class OuterBoundary:
    """The mesh facets on the faces of a cell's lattice cell, and the boundary integrals over them.

    facets, axis, side : the facets (mesh facet indices) on the faces s_axis = side (0 or 1).
    matched : per facet, whether its periodic image (translated by the lattice vector) is a facet of the
        mesh too. An unmatched facet faces a pore across the periodic wrap: for the periodic medium it is
        a hole surface (as in a voxel image whose pores differ on opposite faces).
    face_area : (dim,) the area (length in 2D) of each face s_k = const of the lattice cell.
    solid_area : (dim, 2) the part of each face covered by mesh facets (by solid).
    load : (ndofs, n) F, column m the nodal forces int_{dY cap solid} N (S_m n) ds of the unit uniform
        stress S_m (Mandel unit m; for conduction the unit flux m): the SUBC load, and F^T u = int u (x)_s n.
    operator : (ndofs, n) H with <eps>(u) = H^T u / |Y|: F where the voids do not cut the faces; where they
        do, F over the matched facets with each face pair k scaled by 2 |face_k| / (their area) (the module
        docstring); None if some face pair has no matched facet (no periodic strain average).
    """

    facets: np.ndarray
    axis: np.ndarray
    side: np.ndarray
    matched: np.ndarray
    face_area: np.ndarray
    solid_area: np.ndarray
    load: np.ndarray
    operator: object

    @property
    def void_fraction(self):
        """The fraction of the lattice cell's boundary lying in voids."""
        return float(1 - self.solid_area.sum() / (2 * self.face_area.sum()))

    @property
    def cut(self):
        """True where voids cut the outer boundary (more than 1e-8 of it)."""
        return self.void_fraction > 1e-8


def outer_boundary(cell, tol=1e-8):
    """The :class:`OuterBoundary` of ``cell`` (a :class:`fe2.Cell`); facets within tol * diameter of a
    face. Raises ValueError when the solid reaches neither face of some pair (no strain average along
    that lattice vector, and no load path)."""
    mesh, lattice, dim = cell.mesh, cell.lattice, cell.dim
    boundary = mesh.boundary_facets()
    vertices = mesh.p[:, mesh.facets[:, boundary]]                         # (dim, nvf, nf)
    s = lattice.fractional(vertices.reshape(dim, -1)).reshape(vertices.shape[1], -1, dim)
    tol_s = tol * lattice.diameter / lattice.heights
    on = np.stack([np.all(np.abs(s) < tol_s, axis=0), np.all(np.abs(s - 1) < tol_s, axis=0)])  # (2, nf, dim)
    outer = on.any(axis=(0, 2))
    facets = boundary[outer]
    axis = np.argmax(on[:, outer].any(axis=0), axis=1)
    side = on[1][outer][np.arange(facets.size), axis].astype(int)

    basis = FacetBasis(mesh, lagrange(mesh, cell.order), facets=facets, intorder=cell.order, dofs=cell.basis.dofs)
    values = np.stack([np.asarray(phi) for (phi,) in basis.basis])          # (nloc, nf, nqp)
    dx = np.asarray(basis.dx)                                               # (nf, nqp)
    normals = np.asarray(basis.normals)                                     # (dim, nf, nqp), outward
    g = np.einsum("ifq,jfq,fq->fij", values, normals, dx)                   # int N_i n_j ds per facet
    face_area = lattice.volume / lattice.heights
    area = dx.sum(axis=1)
    solid_area = np.zeros((dim, 2))
    np.add.at(solid_area, (axis, side), area)
    pair = solid_area.sum(axis=1)
    if np.any(pair <= 1e-12 * face_area):
        k = int(np.argmin(pair))
        raise ValueError(
            f"the solid does not reach the faces s_{k} = 0 and 1 of its lattice cell (lattice vector {k} "
            f"{lattice.vectors[k].tolist()}): the mesh fills {cell.solid_volume / lattice.volume:.1%} of the cell; "
            "give the lattice vectors of the cell if it has no voids, and a porous cell needs solid on every face pair")

    ncomp, n = cell.physics.ncomp, cell.physics.size
    units = np.eye(dim)[:, None, :] if ncomp == 1 else notation.from_mandel(np.eye(n))   # (n, ncomp, dim)
    forces = np.einsum("fij,mcj->ficm", g, units)                           # (nf, nloc, ncomp, n)
    rows = (basis.element_dofs.T[:, :, None] * ncomp + np.arange(ncomp)).ravel()

    def scattered(weights):
        out = np.zeros((cell.ndofs, n))
        np.add.at(out, rows, (forces * weights[:, None, None, None]).reshape(-1, n))
        out.flags.writeable = False
        return out

    load = scattered(np.ones(facets.size))
    matched = _matched(mesh.p[:, mesh.facets[:, facets]].mean(axis=1), axis, side, lattice, tol * lattice.diameter)
    boundary = OuterBoundary(facets, axis, side, matched, face_area, solid_area, load, load)
    if boundary.cut:   # the periodic strain average: matched facets, each face pair scaled up to the whole face
        paired = np.bincount(axis[matched], weights=area[matched], minlength=dim)
        operator = None if np.any(paired <= 1e-12 * face_area) else scattered(matched * (2 * face_area / paired)[axis])
        boundary = replace(boundary, operator=operator)
    return boundary


def _matched(centres, axis, side, lattice, tol):
    """Per face facet (centroids (dim, nf)), whether a facet of the opposite face lies at its periodic image."""
    matched = np.zeros(axis.size, dtype=bool)
    for k in range(lattice.dim):
        for s, sign in ((1, -1), (0, 1)):
            mine, theirs = np.flatnonzero((axis == k) & (side == s)), np.flatnonzero((axis == k) & (side != s))
            if mine.size and theirs.size:
                distance, _ = cKDTree(centres[:, theirs].T).query(centres[:, mine].T + sign * lattice.vectors[k])
                matched[mine] = distance <= tol
    return matched


def check_connected(cell):
    """Raise ValueError if a piece of the solid floats inside the voids: it touches no face of the lattice
    cell (no face it is held on across the periodic wrap, where voids cut the faces) and no other solid
    (so every cell problem would be singular). Pieces are joined through shared
    nodes for conduction, through shared facets for elasticity (a node or an edge is a hinge)."""
    mesh = cell.mesh
    nel, nverts = mesh.t.shape[1], mesh.p.shape[1]
    if cell.physics.name == "conduction":   # elements and vertices, joined where a vertex is an element's
        rows, cols = np.repeat(np.arange(nel), mesh.t.shape[0]), nel + mesh.t.T.ravel()
        size = nel + nverts
    else:                                   # elements joined where they share a facet
        inner = np.all(mesh.f2t >= 0, axis=0)
        rows, cols = mesh.f2t[0, inner], mesh.f2t[1, inner]
        size = nel
    graph = coo_matrix((np.ones(rows.size), (rows, cols)), shape=(size, size))
    count, label = connected_components(graph, directed=False)
    if count == 1:
        return
    label = label[:nel]
    boundary = cell.outer_boundary   # where voids cut the faces, a piece is held through matched facets only
    on_face = np.zeros(nverts, dtype=bool)
    on_face[mesh.facets[:, boundary.facets[boundary.matched] if boundary.cut else boundary.facets]] = True
    touches = np.zeros(count, dtype=bool)
    touches[label[np.any(on_face[mesh.t], axis=0)]] = True
    floating = np.flatnonzero(~touches)
    if floating.size:
        piece = np.flatnonzero(label == floating[0])
        centre = mesh.p[:, mesh.t[:, piece]].mean(axis=(1, 2))
        raise ValueError(
            f"{floating.size} piece(s) of solid float inside the voids, touching no face of the cell and no other "
            f"solid (the first: {piece.size} element{'s' * (piece.size > 1)} around {np.round(centre, 6).tolist()}); every cell problem "
            "would be singular. Make them void too, or join them to the solid")
