"""Off-screen picture of one FE² step: the macro field beside the micro fields of a chosen point.

    python -m postprocess.fe2_figure output/plate_with_hole/step_005 --field plastic_strain
"""

import argparse
import os
from pathlib import Path

import numpy as np


def render(step, png=None, field="plastic_strain", warp=20.0):
    """Render ``field`` on step/macro.vtu (warped by ``warp`` x displacement) beside the first
    step/micro_*.vtu, whose position is marked on the macro mesh. Returns the PNG path."""
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    import pyvista as pv

    step = Path(step)
    macro_path = step / "macro.vtu"
    if not macro_path.is_file():
        raise FileNotFoundError(f"no macro.vtu in {step}: give a step folder of an fe2 run (step_*)")
    micro_paths = sorted(step.glob("micro_*.vtu"))
    macro = pv.read(macro_path)
    if field not in macro.array_names:
        raise ValueError(f"{macro_path} has no array {field!r}; it has {macro.array_names}")
    warped = macro.copy()
    warped.points = warped.points + warp * np.asarray(macro.point_data["displacement"])
    plotter = pv.Plotter(off_screen=True, shape=(1, 2 if micro_paths else 1), window_size=(1400, 620))
    plotter.add_mesh(warped, scalars=field, cmap="inferno", show_edges=True, edge_color="gray",
                     scalar_bar_args={"title": f"macro {field}", "vertical": False})
    plotter.add_text(f"{step.name}: macro (displacement x{warp:g})", font_size=10)
    if micro_paths:
        element = int(micro_paths[0].stem.split("_")[1])
        centre = warped.cell_centers().points[element]
        plotter.add_mesh(pv.PolyData(centre[None, :]), color="cyan", point_size=14, render_points_as_spheres=True)
        plotter.view_xy()
        plotter.subplot(0, 1)
        micro = pv.read(micro_paths[0])
        name = field if field in micro.array_names else "von_mises"
        plotter.add_mesh(micro, scalars=name, cmap="inferno", scalar_bar_args={"title": f"micro {name}", "vertical": False})
        plotter.add_text(f"cell at macro element {element} (cyan)", font_size=10)
    plotter.view_xy()
    png = Path(png) if png else step / f"{field}.png"
    plotter.screenshot(str(png))
    plotter.close()
    return png


def main(argv=None):
    parser = argparse.ArgumentParser(description="Render a macro field and the micro fields of an fe2 step, off-screen.")
    parser.add_argument("step", type=Path, help="a step folder of an fe2 run (step_*)")
    parser.add_argument("--field", default="plastic_strain")
    parser.add_argument("--warp", type=float, default=20.0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    print(f"wrote {render(args.step, args.out, args.field, args.warp)}")


if __name__ == "__main__":
    main()
