"""Off-screen picture of one micro field of a cell, beside the deformed (or phase) view.

    python -m postprocess.cell_figure output/fiber_composite/periodic_xx.vtu --field stress --component xx
"""

import argparse
import os
from pathlib import Path

import numpy as np

COMPONENTS = {"xx": 0, "yy": 4, "zz": 8, "xy": 1, "yz": 5, "xz": 2, "x": 0, "y": 1, "z": 2}


def render(vtu, png, field="stress", component="xx", warp=0.0, units=""):
    """Render ``field`` (component ``component`` of a tensor/vector, or a scalar) of the .vtu file
    ``vtu`` into ``png``: the field on the left, the phases on the (optionally warped) mesh on the right."""
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    import pyvista as pv

    grid = pv.read(vtu)
    if field not in grid.array_names:
        raise ValueError(f"{vtu} has no array {field!r}; it has {grid.array_names}")
    values = np.asarray(grid[field])
    label = field
    if values.ndim == 2:
        if component not in COMPONENTS:
            raise ValueError(f"unknown component {component!r}; use one of {sorted(COMPONENTS)}")
        values = values[:, COMPONENTS[component]]
        label = f"{field} {component}"
    grid[label] = values
    deformed = grid.copy()
    displacement = "displacement" if "displacement" in grid.point_data else None
    if displacement and warp:
        deformed.points = deformed.points + warp * np.asarray(grid.point_data[displacement])

    plotter = pv.Plotter(off_screen=True, shape=(1, 2), window_size=(1400, 620))
    plotter.subplot(0, 0)
    plotter.add_mesh(grid, scalars=label, cmap="viridis",
                     scalar_bar_args={"title": f"{label} {units}".strip(), "vertical": False})
    plotter.add_text(Path(vtu).stem, font_size=10)
    plotter.view_xy()
    plotter.subplot(0, 1)
    plotter.add_mesh(deformed, scalars="phase", show_edges=True, cmap="coolwarm", show_scalar_bar=False)
    plotter.add_text("phases" + (f", displacement x{warp:g}" if displacement and warp else ""), font_size=10)
    plotter.view_xy()
    Path(png).parent.mkdir(parents=True, exist_ok=True)
    plotter.screenshot(str(png))
    plotter.close()
    return Path(png)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Render a cell field of an fe2 .vtu file to PNG, off-screen.")
    parser.add_argument("vtu", type=Path)
    parser.add_argument("--field", default="stress")
    parser.add_argument("--component", default="xx")
    parser.add_argument("--warp", type=float, default=0.0, help="displacement scale of the right panel")
    parser.add_argument("--out", type=Path, default=None, help="PNG path (default: beside the .vtu)")
    args = parser.parse_args(argv)
    if not args.vtu.is_file():
        parser.error(f"no such file: {args.vtu}")
    png = render(args.vtu, args.out or args.vtu.with_suffix(".png"), args.field, args.component, args.warp)
    print(f"wrote {png}")


if __name__ == "__main__":
    main()
