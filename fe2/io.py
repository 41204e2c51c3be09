"""ParaView output of cell fields: one .vtu per field, written through meshio.

Point data are the values at the mesh vertices (P2 mid-side values are not written); cell data are
element averages over the quadrature points. Tensors are written as full 3x3 arrays (9 components,
row-major), vectors with 3 components, so ParaView shows them in 2D and 3D alike. In 2D (plane
strain) the stress carries sigma_zz from the phase's 3D law (or as given for a nonlinear stress),
and ``von_mises`` is that of the full 3D stress; both are left out where sigma_zz is not known.
"""

from pathlib import Path

import meshio
import numpy as np
from skfem.io.meshio import to_meshio

from .notation import from_mandel


def _pad(vectors):
    """(n, dim) -> (n, 3)."""
    return np.hstack([vectors, np.zeros((vectors.shape[0], 3 - vectors.shape[1]))])


def _pad_tensor(tensors):
    """(n, dim, dim) -> (n, 9)."""
    out = np.zeros((tensors.shape[0], 3, 3))
    d = tensors.shape[1]
    out[:, :d, :d] = tensors
    return out.reshape(-1, 9)


def cell_fields(cell, u, macro_strain=None, stress=None, stress_zz=None):
    """Point and cell data of the field u (DOF vector) on ``cell`` (any body), named for ParaView;
    ``stress`` the quadrature-point stress of a nonlinear law (default: tangent times strain) and,
    in plane strain, ``stress_zz`` its out-of-plane stress per element (unknown if not given for a
    nonlinear stress: then sigma_zz and von Mises are left out)."""
    nodal = u[cell.vertex_dofs]                                        # (nvertices, ncomp)
    volume = cell.dx.sum(axis=1)[:, None]
    strain = np.einsum("eq,eqk->ek", cell.dx, cell.strain(u)) / volume
    explicit = stress
    stress = np.einsum("eq,eqk->ek", cell.dx, cell.stress(u) if stress is None else stress) / volume
    point, cells = {}, {"phase": cell.phase.astype(np.int32)}
    fluct = None if macro_strain is None else nodal - cell.affine[cell.vertex_dofs] @ macro_strain
    if cell.physics.name == "elasticity":
        point["displacement"] = _pad(nodal)
        if fluct is not None:
            point["fluctuation"] = _pad(fluct)
        cells["strain"] = _pad_tensor(from_mandel(strain))
        s = np.zeros((len(stress), 3, 3))
        s[:, :cell.dim, :cell.dim] = from_mandel(stress)
        if cell.dim == 2:
            zz = _out_of_plane_row(cell) if stress_zz is None and explicit is None else None
            s[:, 2, 2] = stress_zz if stress_zz is not None else (np.nan if zz is None else np.einsum("ek,ek->e", zz, strain))
        cells["stress"] = s.reshape(-1, 9)
        if not np.isnan(s[:, 2, 2]).any():
            dev = s - np.trace(s, axis1=1, axis2=2)[:, None, None] / 3 * np.eye(3)
            cells["von_mises"] = np.sqrt(1.5 * np.einsum("eij,eij->e", dev, dev))
    else:
        point["temperature"] = nodal[:, 0]
        if fluct is not None:
            point["fluctuation"] = fluct[:, 0]
        cells["gradient"] = _pad(strain)
        cells["flux"] = _pad(-stress)
    return point, cells


def _out_of_plane_row(cell):
    """Plane strain: sigma_zz = C[zz, (xx, yy, xy)] . eps per element, from each phase's 3D law
    (at the element centroid for coefficient fields); None when a law is only known in 2D."""
    rows = np.empty((cell.mesh.t.shape[1], 3))
    centroids = cell.mesh.p[:, cell.mesh.t].mean(axis=1)
    for index, name in enumerate(cell.phases):
        law = cell.materials[name]
        elements = cell.phase == index
        try:
            C = law.tensor_at(3, centroids[:, elements])                   # (nel_phase, 6, 6)
        except ValueError:
            return None
        rows[elements] = C[:, 2, [0, 1, 5]]
    return rows


def write_vtu(cell, path, u, macro_strain=None, stress=None, point_data=None, cell_data=None, stress_zz=None):
    """Write the field u of ``cell`` (with its fluctuation if macro_strain is given) to ``path``;
    extra ``point_data``/``cell_data`` arrays are added as they are (see :func:`cell_fields`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    point, cells = cell_fields(cell, u, macro_strain, stress, stress_zz)
    point.update(point_data or {})
    cells.update(cell_data or {})
    mesh = to_meshio(cell.mesh, encode_cell_data=False)
    mesh.points = _pad(cell.mesh.p.T)
    mesh.point_data = point
    mesh.cell_data = {name: [value] for name, value in cells.items()}
    mesh.field_data = {name: np.array([index, cell.dim]) for index, name in enumerate(cell.phases)}
    meshio.write(path, mesh)
    return path


def nodal_average(body, values):
    """Element values (nel, ...) -> vertex values by volume-weighted averaging over the elements
    around each vertex (a projection to nodes for ParaView)."""
    t = body.mesh.t
    weight = body.dx.sum(axis=1)
    out = np.zeros((body.mesh.p.shape[1],) + values.shape[1:])
    total = np.zeros(body.mesh.p.shape[1])
    for corner in t:
        np.add.at(out, corner, values * weight.reshape((-1,) + (1,) * (values.ndim - 1)))
        np.add.at(total, corner, weight)
    return out / total.reshape((-1,) + (1,) * (values.ndim - 1))


def write_pvd(path, entries):
    """A ParaView collection of (time, file) entries; files relative to the .pvd's folder."""
    path = Path(path)
    lines = ['<?xml version="1.0"?>', '<VTKFile type="Collection" version="0.1" byte_order="LittleEndian">', "  <Collection>"]
    lines += [f'    <DataSet timestep="{t:.12g}" part="0" file="{f}"/>' for t, f in entries]
    lines += ["  </Collection>", "</VTKFile>", ""]
    tmp = path.with_suffix(".pvd.tmp")
    tmp.write_text("\n".join(lines))
    tmp.replace(path)  # atomic: a crash never leaves a half-written series
    return path
