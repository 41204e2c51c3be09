"""Off-screen picture of one FE² step: the macro field beside the micro fields of a chosen point.

    python -m postprocess.fe2_figure output/plate_with_hole/step_005 --field plastic_strain
"""

import argparse
from pathlib import Path

from .render import macro_and_micro


def render(step, png=None, field="plastic_strain", warp=20.0):
    """Render ``field`` on step/macro.vtu (warped by ``warp`` x displacement) beside the first
    step/micro_*.vtu, whose position is marked on the macro mesh (default PNG: step/<field>.png);
    see :func:`postprocess.render.macro_and_micro`. Returns the PNG path."""
    return macro_and_micro(step, Path(png) if png else Path(step) / f"{field}.png", field=field, warp=warp)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Render a macro field and the micro fields of an fe2 step, off-screen.")
    parser.add_argument("step", type=Path, help="a step folder of an fe2 run (step_*)")
    parser.add_argument("--field", default="plastic_strain")
    parser.add_argument("--micro-field", default=None, help="field of the micro panel (default: as the macro, else von Mises)")
    parser.add_argument("--element", type=int, default=None, help="macro element of the micro panel (default: the first written)")
    parser.add_argument("--warp", type=float, default=20.0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    png = args.out or args.step / f"{args.field}.png"
    print(f"wrote {macro_and_micro(args.step, png, args.field, args.micro_field, args.element, args.warp)}")


if __name__ == "__main__":
    main()
