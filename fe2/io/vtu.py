"""ParaView output of cell fields: one .vtu per field, written through meshio.

Point data are the values at the mesh vertices (P2 mid-side values are not written); cell data are
element averages over the quadrature points. Tensors are written as full 3x3 arrays (9 components,
row-major), vectors with 3 components, so ParaView shows them in 2D and 3D alike. In 2D (plane
strain) the stress carries sigma_zz (:meth:`fe2.cell.body.Body.out_of_plane_stress`: from each
phase's 3D law, or as given for a nonlinear stress), and ``von_mises`` is that of the full 3D
stress; sigma_zz is NaN and von Mises left out where a law is known only in 2D. A finite-strain
body writes the deformation gradient, J, the first Piola-Kirchhoff and the Cauchy stress
(:func:`finite_strain_fields`) in the reference configuration, with the displacement to warp by.

Field data (``grid.field_data`` in VTK/ParaView/pyvista, ``mesh.field_data`` in meshio): one integer
array per phase name, ``[phase index, dimension]``; ``plane_stress = [1]`` for a 2D body in plane
stress (sigma_zz = 0 written; without it, 2D elasticity is plane strain), and extra numeric ``field_data`` as given (e.g.
the placement of a micro cell beside its macro point). meshio does not write VTU field data, so it
is added to the XML after meshio wrote the file. Field data stay numeric: meshio cannot read VTU
string arrays (it exits the process).

Units (``units``: a dict of quantities such as ``{"length": "mm", "stress": "GPa"}``) are stored
with each array whose unit is known (see :func:`array_units`) and with the coordinates, under VTK's
own key for the unit of an array, ``UNITS_LABEL`` (an ``<InformationKey>`` element of the array:
VTK and ParaView load it with the array, meshio skips it). :func:`read_units` reads them back from
any such file without VTK; :func:`array_unit` reads one from a VTK array.
"""

import json
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from xml.sax.saxutils import quoteattr, unescape

import meshio
import numpy as np
from skfem.io.meshio import to_meshio

from .. import kinematics
from ..notation import from_mandel
from .files import atomic_write, replaced


def pad(vectors):
    """(n, dim) -> (n, 3): points and vectors as VTK wants them, zero beyond the body's dimension."""
    return np.hstack([vectors, np.zeros((vectors.shape[0], 3 - vectors.shape[1]))])


def pad_tensor(tensors):
    """(n, dim, dim) -> (n, 9): tensors as full row-major 3x3 arrays, zero beyond the body's dimension."""
    out = np.zeros((tensors.shape[0], 3, 3))
    d = tensors.shape[1]
    out[:, :d, :d] = tensors
    return out.reshape(-1, 9)


def cell_fields(cell, u, macro_strain=None, stress=None, stress_zz=None):
    """Point and cell data of the field u (DOF vector) on ``cell`` (any body), named for ParaView;
    ``stress`` the quadrature-point stress of a nonlinear law (default: tangent times strain; at
    finite strain, the laws' P at the gradients of u) and, in plane strain, ``stress_zz`` its
    out-of-plane stress per element (default for the default stress:
    :meth:`fe2.cell.body.Body.out_of_plane_stress` of the virgin laws; for a given stress without it
    sigma_zz is not known: NaN, and no von Mises). Finite strain: see :func:`finite_strain_fields`."""
    nodal = u[cell.vertex_dofs]                                        # (nvertices, ncomp)
    strain_qp = cell.strain(u)
    strain = element_average(cell, strain_qp)
    explicit = stress
    point, cells = {}, {"phase": cell.phase.astype(np.int32)}
    fluct = None if macro_strain is None else nodal - cell.affine[cell.vertex_dofs] @ macro_strain
    if cell.physics.name == "finite strain":
        if stress is None:   # history-free laws: P at the gradients of u
            stress = cell.respond(strain_qp)[0]
            if cell.dim == 2 and stress_zz is None:
                stress_zz = element_average(cell, cell.out_of_plane_stress(strain_qp))
        point["displacement"] = pad(nodal)
        if fluct is not None:
            point["fluctuation"] = pad(fluct)
        stretch = element_average(cell, cell.thickness_stretch(strain_qp)) if cell.plane == "stress" else None
        cells.update(finite_strain_fields(strain, element_average(cell, stress), stress_zz, stretch))
        return point, cells
    stress = element_average(cell, cell.linearize().stress(u) if stress is None else stress)
    if cell.physics.name == "elasticity":
        point["displacement"] = pad(nodal)
        if fluct is not None:
            point["fluctuation"] = pad(fluct)
        cells["strain"] = pad_tensor(from_mandel(strain))
        s = pad_tensor(from_mandel(stress)).reshape(-1, 3, 3)
        if cell.dim == 2:
            if stress_zz is None and explicit is None:
                stress_zz = element_average(cell, cell.out_of_plane_stress(strain_qp))
            s[:, 2, 2] = np.nan if stress_zz is None else stress_zz
        cells["stress"] = s.reshape(-1, 9)
        if not np.isnan(s[:, 2, 2]).any():
            cells["von_mises"] = von_mises(s)
    else:
        point["temperature"] = nodal[:, 0]
        if fluct is not None:
            point["fluctuation"] = fluct[:, 0]
        cells["gradient"] = pad(strain)
        cells["flux"] = pad(-stress)
    return point, cells


def finite_strain_fields(H, P, P_zz=None, F_zz=None):
    """The cell data of a finite-strain field from element values of the displacement gradient H and
    the first Piola-Kirchhoff stress P (nel, dim^2, row-major, :mod:`fe2.kinematics`) and, in 2D,
    P_zz (nel,) (plane strain; None: not known, NaN) and F_zz (nel,) (plane stress, the thickness
    stretch; None: 1, plane strain): full 3x3 row-major arrays (9 components, 2D padded)

        deformation_gradient   F = I + H
        jacobian               J = det F
        first_piola_kirchhoff  P (not symmetric)
        cauchy_stress          sigma = P F^T / J (symmetric)
        von_mises              sqrt(3/2 s:s) of sigma's deviator s (left out where P_zz is not known)

    An element's sigma is that of its averaged P and F (exact for one quadrature point)."""
    H, P = np.asarray(H, dtype=float), np.asarray(P, dtype=float)
    dim = kinematics.dimension(H.shape[-1])
    F = pad_tensor(kinematics.from_vector(H)).reshape(-1, 3, 3) + np.eye(3)
    P3 = pad_tensor(kinematics.from_vector(P)).reshape(-1, 3, 3)
    if dim == 2:
        P3[:, 2, 2] = np.nan if P_zz is None else P_zz
        if F_zz is not None:
            F[:, 2, 2] = F_zz
    J = np.linalg.det(F)
    sigma = kinematics.cauchy(P3, F)
    fields = {"deformation_gradient": F.reshape(-1, 9), "jacobian": J, "first_piola_kirchhoff": P3.reshape(-1, 9),
              "cauchy_stress": sigma.reshape(-1, 9)}
    if not np.isnan(sigma).any():
        fields["von_mises"] = von_mises(sigma)
    return fields


def von_mises(stress):
    """The von Mises stress sqrt(3/2 s:s) of full 3x3 stresses (n, 3, 3), s the deviator."""
    dev = stress - np.trace(stress, axis1=1, axis2=2)[:, None, None] / 3 * np.eye(3)
    return np.sqrt(1.5 * np.einsum("eij,eij->e", dev, dev))


def vtu_mesh(cell, u, macro_strain=None, stress=None, point_data=None, cell_data=None, stress_zz=None):
    """The meshio mesh of :func:`write_vtu` (not written): fields of u on ``cell`` plus the extra arrays."""
    point, cells = cell_fields(cell, u, macro_strain, stress, stress_zz)
    point.update(point_data or {})
    cells.update(cell_data or {})
    mesh = to_meshio(cell.mesh, encode_cell_data=False)
    mesh.points = pad(cell.mesh.p.T)
    mesh.point_data = point
    mesh.cell_data = {name: [value] for name, value in cells.items()}
    mesh.field_data = {name: np.array([index, cell.dim]) for index, name in enumerate(cell.phases)}
    if getattr(cell, "plane", None) == "stress":
        mesh.field_data["plane_stress"] = np.array([1])
    return mesh


def write_vtu(cell, path, u, macro_strain=None, stress=None, point_data=None, cell_data=None, stress_zz=None,
              units=None, field_data=None):
    """Write the field u of ``cell`` (with its fluctuation if macro_strain is given) to ``path``;
    extra ``point_data``/``cell_data`` arrays are added as they are (see :func:`cell_fields`);
    ``units`` {quantity: unit} and extra numeric ``field_data`` go into the VTU's field data."""
    mesh = vtu_mesh(cell, u, macro_strain, stress, point_data, cell_data, stress_zz)
    return save_vtu(mesh, path, units=array_units(units, mesh, cell.physics.name), field_data=field_data)


# the quantity of each array fe2 writes, per physics: how its unit follows from the given ones
QUANTITIES = {
    "elasticity": {"displacement": "length", "fluctuation": "length", "strain": "-", "stress": "stress",
                   "von_mises": "stress", "plastic_strain": "-", "hill_mandel": "-", "phase": None},
    "conduction": {"temperature": "temperature", "fluctuation": "temperature", "gradient": "temperature/length",
                   "flux": "flux", "plastic_strain": "-", "hill_mandel": "-", "phase": None},
    "finite strain": {"displacement": "length", "fluctuation": "length", "deformation_gradient": "-", "jacobian": "-",
                      "first_piola_kirchhoff": "stress", "cauchy_stress": "stress", "von_mises": "stress",
                      "ellipticity": "stress", "ellipticity_normal": "-", "micro_ellipticity": "stress", "plastic_strain": "-",
                      "hill_mandel": "-",
                      "phase": None},
}


def array_units(units, mesh, physics, intensive_only=False):
    """{array: unit} of the arrays of ``mesh`` (a meshio mesh) from ``units`` {quantity or array:
    unit}, e.g. {"length": "mm", "stress": "GPa", "temperature": "K", "flux": "W/mm^2"}: an array's
    own name first, else its quantity (:data:`QUANTITIES`); "-" for dimensionless arrays, a
    temperature gradient as temperature/length. The coordinates are ``length``. With
    ``intensive_only`` (micro cells, whose coordinates are the cell's own), arrays that scale with
    the cell's size (displacement, temperature, fluctuation) and the coordinates get no unit."""
    if not units:
        return {}
    units = {str(k): str(v) for k, v in dict(units).items()}
    quantities = QUANTITIES.get(physics, {})
    out = {}
    if "length" in units and not intensive_only:
        out["length"] = units["length"]
    for name in [*mesh.point_data, *mesh.cell_data]:
        quantity = quantities.get(name)
        if intensive_only and quantity in ("length", "temperature"):
            continue
        if name in units:
            out[name] = units[name]
        elif quantity == "-":
            out[name] = "-"
        elif quantity == "temperature/length" and "temperature" in units and "length" in units:
            out[name] = f"{units['temperature']}/{units['length']}"
        elif quantity in units:
            out[name] = units[quantity]
    return out


UNITS_KEY = "UNITS_LABEL"  # VTK's information key for the unit of a data array (vtkDataArray::UNITS_LABEL)


def save_vtu(mesh, path, units=None, field_data=None):
    """Write a meshio ``mesh`` to ``path`` (a .vtu) with its field data: the mesh's own numeric
    ``field_data`` and the extra numeric ``field_data`` {name: array}; ``units`` {array: unit, and
    "length" for the coordinates} go with each named array as its ``UNITS_LABEL``. The file is
    replaced atomically (:func:`fe2.io.files.replaced`)."""
    path = Path(path)
    arrays = {**mesh.field_data, **(field_data or {})}
    xml = [_numeric_array(name, value) for name, value in arrays.items()]  # checked before anything is written
    units = {str(name): str(unit) for name, unit in (units or {}).items()}
    with replaced(path) as tmp:
        meshio.write(tmp, mesh, file_format="vtu")
        if xml or units:
            tree = ElementTree.parse(tmp)
            grid = tree.getroot().find("UnstructuredGrid")
            if grid is None:
                raise RuntimeError(f"unexpected VTU layout written by meshio for {path}: no UnstructuredGrid")
            if xml:
                grid.insert(0, ElementTree.fromstring("<FieldData>" + "".join(xml) + "</FieldData>"))
            for array, key in _data_arrays(grid):
                if key in units:
                    label = ElementTree.SubElement(array, "InformationKey", name=UNITS_KEY, location="vtkDataArray")
                    label.text = units[key]
            tree.write(tmp, encoding="utf-8", xml_declaration=True)
    return path


def _data_arrays(grid):
    """(DataArray element, unit key) of the points ("length") and of every point and cell data array (its name)."""
    for piece in grid.iter("Piece"):
        for section in piece:
            if section.tag in ("Points", "PointData", "CellData"):
                for array in section.iter("DataArray"):
                    yield array, "length" if section.tag == "Points" else array.get("Name")


def read_units(path):
    """{array: unit} of a VTU file written with units ("length": the coordinates'), read from its
    XML (no VTK needed; meshio ignores them). Arrays in both point and cell data have one unit."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    try:
        grid = ElementTree.parse(path).getroot().find("UnstructuredGrid")
    except ElementTree.ParseError as error:
        raise ValueError(f"{path} is not a VTU (XML) file: {error}") from None
    if grid is None:
        raise ValueError(f"{path} is not a VTU file: it has no UnstructuredGrid")
    found = {}
    for array, key in _data_arrays(grid):
        for label in array.iter("InformationKey"):
            if label.get("name") == UNITS_KEY:
                found[key] = (label.text or "").strip()
    return found


def array_unit(array):
    """The unit (``UNITS_LABEL``) of a VTK data array (e.g. ``grid.GetCellData().GetArray("stress")``
    of a file read by VTK or pyvista), "" if it has none."""
    from vtkmodules.vtkCommonCore import vtkDataArray  # only readers that use VTK need it

    information, key = array.GetInformation(), vtkDataArray.UNITS_LABEL()
    return str(information.Get(key)).strip() if information.Has(key) else ""


def _numeric_array(name, value):
    value = np.atleast_1d(np.asarray(value))
    if value.dtype.kind in "iub":
        kind, text = "Int64", " ".join(str(int(v)) for v in value.ravel())
    elif value.dtype.kind == "f":
        kind, text = "Float64", " ".join(repr(float(v)) for v in value.ravel())
    else:
        raise ValueError(f"field data {name!r} must be numeric, got {value.dtype}")
    shape = f'NumberOfTuples="{value.shape[0]}" NumberOfComponents="{value.shape[1]}"' if value.ndim == 2 else f'NumberOfTuples="{value.size}"'
    return f'<DataArray type="{kind}" Name={quoteattr(str(name))} {shape} format="ascii">{text}</DataArray>'


def element_average(body, values):
    """Quadrature-point values (nel, nqp, ...) -> element averages (nel, ...), weighted by the
    quadrature weights ``body.dx``."""
    weight = body.dx.sum(axis=1)
    return np.einsum("eq,eq...->e...", body.dx, values) / weight.reshape((-1,) + (1,) * (np.ndim(values) - 2))


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
    """A ParaView collection of (time, file) or (time, file, part) entries; files relative to the
    .pvd's folder. Entries of one time with different parts are shown together (one block each)."""
    lines = ['<?xml version="1.0"?>', '<VTKFile type="Collection" version="0.1" byte_order="LittleEndian">', "  <Collection>"]
    for entry in entries:
        t, f, part = (*entry, 0)[:3]
        lines.append(f'    <DataSet timestep="{t:.12g}" part="{int(part)}" file={quoteattr(str(f))}/>')
    lines += ["  </Collection>", "</VTKFile>", ""]
    return atomic_write(path, "\n".join(lines))  # a crash never leaves a half-written series


def read_pvd(path):
    """The (time, file, part) entries of a .pvd written by :func:`write_pvd` ([] if there is none)."""
    path = Path(path)
    if not path.is_file():
        return []
    entries = re.findall(r'<DataSet\s+timestep="([^"]*)"\s+part="([^"]*)"\s+file="([^"]*)"', path.read_text())
    return [(float(t), unescape(f, {"&quot;": '"'}), int(part)) for t, part, f in entries]


def write_homogenization(result, folder, prefix=""):
    """Write the field of every load case of ``result`` (a :class:`fe2.Homogenization`) to
    ``folder/{prefix}{bc}_{label}.vtu``; returns the paths."""
    return [write_vtu(result.cell, Path(folder) / f"{prefix}{result.bc}_{case.label}.vtu", case.field, case.strain)
            for case in result.cases]


def write_comparison(comparison, folder):
    """Write the micro fields of every condition and load case of ``comparison`` (a
    :class:`fe2.Comparison`) as VTU, and its summary as ``summary.json``; returns the VTU paths."""
    folder = Path(folder)
    paths = [path for result in comparison.results.values() for path in write_homogenization(result, folder)]
    (folder / "summary.json").write_text(json.dumps(comparison.summary(), indent=2))
    return paths
