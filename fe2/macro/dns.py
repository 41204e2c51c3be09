"""Fully resolved (DNS) reference: the cell tiled over a box-shaped macro domain.

    mesh = fe2.dns.tile(cell_mesh, (8, 4), size=0.25)       # 8 x 4 cells of side 0.25
    reference = fe2.macro.Problem(mesh, micro_materials, dirichlet=..., neumann=...)

The tiles are copies of the periodic cell mesh translated by its lattice vectors (a box), with the
nodes shared by neighbouring tiles merged, so the mesh is conforming. Phases keep their names, and
the outer boundaries are named left/right (x), bottom/top (y) and, in 3D, back/front (z), as in the
macro meshes of fe2.geometry. FE² against DNS for shrinking cells is the test of scale separation:
||u_DNS - u_FE2|| = O(eps) for a smooth macro problem.
"""

import numpy as np
from scipy.spatial import cKDTree

NAMES = (("left", "right"), ("bottom", "top"), ("back", "front"))


def tile(cell_mesh, counts, size=None):
    """The cell mesh repeated counts[k] times along axis k, scaled so that a cell has side ``size``
    (default: unchanged). Returns a scikit-fem mesh of the same type with phases and boundaries."""
    p, t = cell_mesh.p, cell_mesh.t
    dim = p.shape[0]
    counts = tuple(int(c) for c in counts)
    if len(counts) != dim or min(counts) < 1:
        raise ValueError(f"counts must be {dim} positive integers, got {counts}")
    lo, hi = p.min(axis=1), p.max(axis=1)
    extent = hi - lo
    scale = 1.0 if size is None else float(size) / extent[0]  # the cell's first side becomes ``size``
    shifts = np.stack(np.meshgrid(*[np.arange(c) for c in counts], indexing="ij"), axis=-1).reshape(-1, dim)
    points = ((p - lo[:, None])[None] + (shifts * extent)[:, :, None]).transpose(1, 0, 2).reshape(dim, -1) * scale
    elements = (t[None] + (np.arange(len(shifts)) * p.shape[1])[:, None, None]).transpose(1, 0, 2).reshape(t.shape[0], -1)
    # merge the nodes that neighbouring tiles share (periodic cells: matched to round-off)
    tree = cKDTree(points.T)
    pairs = tree.query_pairs(1e-9 * scale * extent.max(), output_type="ndarray")
    parent = np.arange(points.shape[1])
    for _ in range(dim + 1):  # corners are shared by up to 2^dim tiles: a few sweeps settle them
        np.minimum.at(parent, pairs[:, 1], parent[pairs[:, 0]])
        np.minimum.at(parent, pairs[:, 0], parent[pairs[:, 1]])
        parent = parent[parent]
    keep, index = np.unique(parent, return_inverse=True)
    mesh = type(cell_mesh)(np.ascontiguousarray(points[:, keep]), np.ascontiguousarray(index[elements]))
    nel = t.shape[1]
    subdomains = {name: (np.asarray(cells)[None] + (np.arange(len(shifts)) * nel)[:, None]).ravel()
                  for name, cells in (cell_mesh.subdomains or {}).items() if not name.startswith("gmsh:")}
    box = points.max(axis=1)
    boundaries = {}
    for axis in range(dim):
        for side, name in enumerate(NAMES[axis]):
            value = 0.0 if side == 0 else box[axis]
            boundaries[name] = lambda x, a=axis, v=value: np.abs(x[a] - v) < 1e-9 * box.max()
    mesh = mesh.with_boundaries(boundaries)
    return type(mesh)(mesh.p, mesh.t, _boundaries=mesh.boundaries, _subdomains=subdomains)


def error(reference, fe2_problem, fe2_field, reference_field):
    """Relative RMS difference, over the reference's DOFs, between the DNS field and the FE² macro
    field evaluated at the same points."""
    probe = fe2_problem.body.basis.probes(reference.body.basis.doflocs)
    ncomp = reference.body.physics.ncomp
    macro = np.stack([probe @ fe2_field[c::ncomp] for c in range(ncomp)], axis=1).ravel()
    return np.sqrt(np.mean((reference_field - macro) ** 2) / np.mean(reference_field**2))
