"""Off-screen picture of one micro field of a cell, beside the deformed (or phase) view.

    python -m postprocess.cell_figure output/fiber_composite/periodic_xx.vtu --field stress --component xx
"""

import argparse
from pathlib import Path

from .render import COMPONENTS, cell_field  # noqa: F401  (COMPONENTS: kept for callers)


def render(vtu, png, field="stress", component="xx", warp=0.0, units=""):
    """Render ``field`` (component ``component`` of a tensor/vector, or a scalar) of the .vtu file
    ``vtu`` into ``png``: the field on the left, the phases on the (optionally warped) mesh on the
    right; see :func:`postprocess.render.cell_field`. Returns the PNG path."""
    return cell_field(vtu, png, field, component, warp, units)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Render a cell field of an fe2 .vtu file to PNG, off-screen.")
    parser.add_argument("vtu", type=Path)
    parser.add_argument("--field", default="stress")
    parser.add_argument("--component", default="xx")
    parser.add_argument("--warp", type=float, default=0.0, help="displacement scale of the right panel")
    parser.add_argument("--units", default="", help="unit of the field (default: from the file, if written)")
    parser.add_argument("--out", type=Path, default=None, help="PNG path (default: beside the .vtu)")
    args = parser.parse_args(argv)
    if not args.vtu.is_file():
        parser.error(f"no such file: {args.vtu}")
    png = render(args.vtu, args.out or args.vtu.with_suffix(".png"), args.field, args.component, args.warp, args.units)
    print(f"wrote {png}")


if __name__ == "__main__":
    main()
