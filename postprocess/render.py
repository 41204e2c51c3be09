"""Off-screen pyvista renderings of fe2 VTU output (no display needed; EGL).

    macro_field(vtu, png, field, component=None, units="", warp=0.0, title=None)
    macro_and_micro(step_folder, png, field="plastic_strain", micro_field=None, element=None, warp=20.0, units="")
    cell_field(vtu, png, field="stress", component="xx", warp=0.0, units="")

Tensor arrays are the 9-component row-major 3x3 arrays of :mod:`fe2.io` (component "xx", "xy", ...;
tensor shear, not Voigt), vectors have 3 components ("x", "y", "z" or "magnitude"). Cell data are
drawn where an array is both point and cell data (the element values are the computed ones, the
point values nodal averages). Units: the ``units`` argument (with or without brackets), else the
array's own unit in the file (VTK's ``UNITS_LABEL``, written by :class:`fe2.io.MacroWriter` with
``units``), else ``units.json`` of the run, else none. ``warp`` scales the displacement of a deformed view; it is ignored for output without
a displacement (conduction). Errors: a missing file raises FileNotFoundError naming
it, a missing array ValueError listing the arrays present, a folder without macro.vtu
FileNotFoundError saying that it is not a step folder.
"""

import json
import os
import re
import warnings
from pathlib import Path

import numpy as np

COMPONENTS = {"xx": 0, "yy": 4, "zz": 8, "xy": 1, "yz": 5, "xz": 2, "x": 0, "y": 1, "z": 2}
WINDOW = (1400, 620)


def _pyvista():
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    import pyvista as pv

    return pv


def read(vtu):
    """The VTU file as a pyvista grid; FileNotFoundError naming it if there is none."""
    path = Path(vtu)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    return _pyvista().read(path)


def arrays(grid):
    """'name (point, 3 components), ...': what a grid holds, for error messages."""
    def describe(data, where):
        return [f"{name} ({where}{', %d components' % data[name].shape[1] if data[name].ndim == 2 else ''})"
                for name in data.keys()]
    return ", ".join(describe(grid.cell_data, "cell") + describe(grid.point_data, "point")) or "no arrays"


def values(grid, field, component=None, source="", scalar_component="error"):
    """(values, label, 'cell' | 'point') of ``field`` (cell data first), a scalar per cell or point:
    the ``component`` of a tensor (xx, yy, zz, xy, yz, xz) or vector (x, y, z, magnitude; vectors
    default to the magnitude). A component given for a scalar array is an error, or ignored with
    ``scalar_component="ignore"``."""
    if field in grid.cell_data.keys():
        data, where = np.asarray(grid.cell_data[field]), "cell"
    elif field in grid.point_data.keys():
        data, where = np.asarray(grid.point_data[field]), "point"
    else:
        raise ValueError(f"{source or 'the grid'} has no array {field!r}; it has {arrays(grid)}")
    label = field
    if data.ndim == 2 and data.shape[1] == 1:
        data = data[:, 0]
    if data.ndim == 2:
        kind = "tensor" if data.shape[1] == 9 else "vector"
        choices = ["xx", "yy", "zz", "xy", "yz", "xz"] if kind == "tensor" else ["x", "y", "z", "magnitude"]
        if component is None and kind == "vector":
            component = "magnitude"
        if component not in choices:
            raise ValueError(f"{field!r} is a {kind} ({data.shape[1]} components): give component one of {choices}, "
                             f"got {component!r}")
        data = np.linalg.norm(data, axis=1) if component == "magnitude" else data[:, COMPONENTS[component]]
        label = f"{field} {component}"
    elif component not in (None, "", "magnitude") and scalar_component != "ignore":
        raise ValueError(f"{field!r} is a scalar: it has no component {component!r}")
    data = np.asarray(data, dtype=float)
    if not np.isfinite(data).any():
        raise ValueError(f"{label} of {source or 'the grid'} is not known (no finite values), e.g. sigma_zz of a "
                         f"law known only in 2D")
    return data, label, where


def file_units(grid, field, path=None):
    """The unit of ``field``: the unit of the grid's array of that name (cell data first; VTK's
    ``UNITS_LABEL``), else ``units.json`` of the run (beside macro.pvd, the step folder's parent), else ""."""
    from vtkmodules.vtkCommonCore import vtkDataArray

    key = vtkDataArray.UNITS_LABEL()
    for data in (grid.GetCellData(), grid.GetPointData()):
        array = data.GetAbstractArray(field)
        if array is not None and array.GetInformation().Has(key):
            return str(array.GetInformation().Get(key)).strip()
    if path is not None:
        path = Path(path)
        for folder in (path.parent, path.parent.parent):
            if (folder / "units.json").is_file():
                try:
                    table = json.loads((folder / "units.json").read_text(encoding="utf-8"))
                except ValueError:
                    return ""
                scale = "micro" if path.name.startswith(("micro_", "placed_micro_")) else "macro"
                return str(table.get(scale, {}).get(field, ""))
    return ""


def _bar(title):
    """Colour-bar settings: horizontal, below the panel, four labels in 3 significant digits."""
    return {"title": title, "vertical": False, "fmt": "%.3g", "n_labels": 4, "position_x": 0.2, "width": 0.6,
            "title_font_size": 16, "label_font_size": 14}


def bar_title(label, units):
    """The colour-bar title ``label [units]`` (``units`` with or without brackets; just ``label``
    when there are none)."""
    units = str(units or "").strip().strip("[]").strip()
    return f"{label} [{units}]" if units else label


def _is_planar(grid):
    bounds = np.asarray(grid.bounds)
    return bool(np.isclose(bounds[4], bounds[5]))


def _view(plotter, grid):
    if _is_planar(grid):
        plotter.view_xy()
    else:
        plotter.view_isometric()


def _outline(pv, grid):
    """The boundary edges of a 2D grid (the surface edges of a 3D one)."""
    with warnings.catch_warnings():  # pyvista >= 0.47 announces a new default algorithm, same result here
        warnings.simplefilter("ignore")
        surface = grid.extract_surface()
    if _is_planar(grid):
        return surface.extract_feature_edges(boundary_edges=True, feature_edges=False, manifold_edges=False,
                                             non_manifold_edges=False)
    return surface.extract_feature_edges()


def _warp_of(grid, warp):
    """The warp factor that applies: none for output without displacement (conduction)."""
    return float(warp) if warp and "displacement" in grid.point_data.keys() else 0.0


def _warped(grid, warp):
    if not _warp_of(grid, warp):
        return grid.copy()
    out = grid.copy()
    out.points = out.points + warp * np.asarray(grid.point_data["displacement"])
    return out


def _scalars(grid, data, label, where):
    (grid.cell_data if where == "cell" else grid.point_data)[label] = data
    return label


def _screenshot(plotter, png):
    png = Path(png)
    png.parent.mkdir(parents=True, exist_ok=True)
    plotter.screenshot(str(png))
    plotter.close()
    return png


def _draw_macro(plotter, pv, grid, path, field, component, units, warp, prefix=""):
    """The macro field on the (warped) mesh with edges, the undeformed outline faintly; the warped grid."""
    data, label, where = values(grid, field, component, path)
    units = units or file_units(grid, field, path)
    warp = _warp_of(grid, warp)
    shown = _warped(grid, warp)
    name = _scalars(shown, data, label, where)
    plotter.add_mesh(shown, scalars=name, preference=where, cmap="viridis", show_edges=True, edge_color="gray",
                     scalar_bar_args=_bar(bar_title(prefix + label, units)))
    if warp:
        plotter.add_mesh(_outline(pv, grid), color="black", opacity=0.35, line_width=1)
    return shown


def macro_field(vtu, png, field, component=None, units="", warp=0.0, title=None):
    """Render ``field`` (its ``component`` for tensors/vectors) of a macro VTU on its mesh with
    edges into ``png``; with ``warp`` > 0 on the mesh displaced by warp x displacement, the
    undeformed outline drawn faintly. The colour bar is titled with field, component and units.
    Returns the PNG path."""
    pv = _pyvista()
    grid = read(vtu)
    plotter = pv.Plotter(off_screen=True, window_size=(900, 760))
    shown = _draw_macro(plotter, pv, grid, vtu, field, component, units, warp)
    warp = _warp_of(grid, warp)
    plotter.add_text(title or (Path(vtu).stem + (f" (displacement x{warp:g})" if warp else "")), font_size=10)
    _view(plotter, shown)
    return _screenshot(plotter, png)


def micro_files(step_folder):
    """{macro element: micro_<element>.vtu} of a step folder, by element number."""
    found = {}
    for path in Path(step_folder).glob("micro_*.vtu"):
        match = re.fullmatch(r"micro_(\d+)", path.stem)
        if match:
            found[int(match.group(1))] = path
    return dict(sorted(found.items()))


def check_step_folder(folder):
    """The step folder (step_k of an fe2 run) with its macro.vtu, checked."""
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"no such step folder: {folder}")
    if not folder.is_dir() or not (folder / "macro.vtu").is_file():
        raise FileNotFoundError(f"{folder} is not a step folder of an fe2 run: it has no macro.vtu "
                                f"(give a step_* folder written by fe2.io.MacroWriter)")
    return folder


def _default_micro_field(grid, field):
    for name in (field, "von_mises", "plastic_strain", "flux", "stress"):
        if name in grid.array_names:
            return name
    return grid.array_names[0]


def macro_and_micro(step_folder, png, field="plastic_strain", micro_field=None, element=None, warp=20.0, units="",
                    component=None, micro_component=None, micro_warp=0.0):
    """One figure of an FE² step: left, the macro ``field`` on the mesh warped by ``warp`` x
    displacement with the chosen macro point marked (cyan); right, ``micro_field`` (default: the
    same field if the cell has it, else von Mises, else the flux magnitude; ``micro_component``
    default: ``component`` when the micro field is the macro one) on that point's cell
    (``micro_<element>.vtu``; ``element`` default: the first one written). Colour bars carry units
    (``units`` for the macro field, else from the files). ``micro_warp``: the cell drawn displaced by
    micro_warp x its displacement (1 at finite strain: the deformed cell). Without micro files only
    the macro panel is drawn. Returns the PNG path."""
    pv = _pyvista()
    folder = check_step_folder(step_folder)
    macro_path = folder / "macro.vtu"
    found = micro_files(folder)
    if element is not None:
        if int(element) not in found:
            raise FileNotFoundError(f"no micro_{int(element)}.vtu in {folder}; micro files there: "
                                    f"{[p.name for p in found.values()] or 'none'}")
        element = int(element)
    elif found:
        element = next(iter(found))
    macro = read(macro_path)
    micro = read(found[element]) if element is not None else None
    plotter = pv.Plotter(off_screen=True, shape=(1, 2 if micro is not None else 1), window_size=WINDOW)
    shown = _draw_macro(plotter, pv, macro, macro_path, field, component, units, warp, prefix="macro ")
    warp = _warp_of(macro, warp)
    plotter.add_text(f"{folder.name}: macro" + (f" (displacement x{warp:g})" if warp else ""), font_size=10)
    if micro is not None:
        if not 0 <= element < shown.n_cells:
            raise ValueError(f"micro_{element}.vtu names macro element {element}, but {macro_path} has {shown.n_cells} cells")
        centre = shown.cell_centers().points[element]
        plotter.add_mesh(pv.PolyData(centre[None, :]), color="cyan", point_size=16, render_points_as_spheres=True)
        _view(plotter, shown)
        plotter.subplot(0, 1)
        name = micro_field or _default_micro_field(micro, field)
        if micro_component is None and name == field:  # the macro field on the cell: the same component
            micro_component = component
        data, label, where = values(micro, name, micro_component, found[element])
        cell = _warped(micro, micro_warp)
        plotter.add_mesh(cell, scalars=_scalars(cell, data, label, where), preference=where, cmap="inferno",
                         show_edges=True, edge_color="gray", line_width=0.5,
                         scalar_bar_args=_bar(bar_title("micro " + label, file_units(micro, name, found[element]))))
        micro_warp = _warp_of(micro, micro_warp)
        plotter.add_text(f"cell at macro element {element} (cyan)" + (f", displacement x{micro_warp:g}" if micro_warp
                                                                       else ""), font_size=10)
        _view(plotter, cell)
    else:
        _view(plotter, shown)
    return _screenshot(plotter, png)


def cell_field(vtu, png, field="stress", component="xx", warp=0.0, units=""):
    """Render ``field`` (its ``component`` for tensors/vectors; ignored for scalars) of a cell VTU
    into ``png``: the field on the left, the phases on the mesh (warped by ``warp`` x displacement)
    on the right. Returns the PNG path."""
    pv = _pyvista()
    grid = read(vtu)
    data, label, where = values(grid, field, component, vtu, scalar_component="ignore")
    units = units or file_units(grid, field, vtu)
    shown = grid.copy()
    plotter = pv.Plotter(off_screen=True, shape=(1, 2), window_size=WINDOW)
    plotter.add_mesh(shown, scalars=_scalars(shown, data, label, where), preference=where, cmap="viridis",
                     scalar_bar_args=_bar(bar_title(label, units)))
    plotter.add_text(Path(vtu).stem, font_size=10)
    _view(plotter, shown)
    plotter.subplot(0, 1)
    warp = _warp_of(grid, warp)
    deformed = _warped(grid, warp)
    if "phase" in grid.cell_data.keys():
        plotter.add_mesh(deformed, scalars="phase", preference="cell", show_edges=True, cmap="coolwarm",
                         show_scalar_bar=False)
    else:
        plotter.add_mesh(deformed, color="lightgray", show_edges=True)
    if warp:
        plotter.add_mesh(_outline(pv, grid), color="black", opacity=0.35, line_width=1)
    plotter.add_text("phases" + (f", displacement x{warp:g}" if warp else ""), font_size=10)
    _view(plotter, deformed)
    return _screenshot(plotter, png)
