"""Figures of patch dynamics (fe2.equation_free): the coarse solution against its references, and the
error against the number of patches. Matplotlib on the Agg canvas, one PNG per call, as
:mod:`postprocess.plots` (whose fitted rate it reuses).

    summary(x, solutions, counts, errors, path, floor=None)     coarse solution | error vs patches
"""

from pathlib import Path

import numpy as np

from . import plots


def summary(x, solutions, counts, errors, path, floor=None, fine=None, xlabel="x", title=None):
    """Two panels. Left: the coarse solutions {label: values at x} (the first one, the patch scheme,
    as markers at the patch centres; the others as lines), and ``fine`` = (x, u) the full fine field
    if given. Right: the errors {label: values per entry of ``counts``} against the number of
    patches on log-log axes, each labelled with its fitted order in the patch spacing, and a dashed
    line at ``floor`` (the error floor the scheme levels off at) if given. Returns the PNG path."""
    from matplotlib.figure import Figure

    x = np.asarray(x, dtype=float)
    counts = np.asarray(counts, dtype=float)
    if not solutions or not errors:
        raise ValueError("give at least one solution and one error series")
    for label, values in solutions.items():
        if np.shape(values) != x.shape:
            raise ValueError(f"solution {label!r} has shape {np.shape(values)}, x has {x.shape}")
    figure = Figure(figsize=(12.8, 4.6), layout="constrained")
    left, right = figure.subplots(1, 2)
    if fine is not None:
        order = np.argsort(fine[0])
        left.plot(np.asarray(fine[0])[order], np.asarray(fine[1])[order], color="0.75", lw=0.8, label="full fine field")
    for k, (label, values) in enumerate(solutions.items()):
        if k == 0:
            left.plot(x, values, "o", ms=5, color="tab:red", label=label, zorder=3)
        else:
            left.plot(x, values, ["-", "--", ":"][(k - 1) % 3], color=["black", "tab:blue", "tab:green"][(k - 1) % 3],
                      lw=1.2, label=label)
    left.set_xlabel(xlabel)
    left.set_ylabel("u")
    left.grid(True, alpha=0.3)
    left.legend(fontsize=8)
    for label, values in errors.items():
        values = np.asarray(values, dtype=float)
        if values.shape != counts.shape:
            raise ValueError(f"errors {label!r} have {values.size} values for {counts.size} patch counts")
        order = plots.rate(1 / counts, values)
        right.loglog(counts, np.where(values > 0, values, np.nan), "o-", ms=4, label=f"{label} (order {order:.2f} in H)")
    if floor is not None:
        right.axhline(floor, color="gray", ls="--", lw=1, label=f"floor {floor:.2g}")
    right.set_xlabel("number of patches per direction")
    right.set_ylabel("relative error")
    right.grid(True, which="both", alpha=0.3)
    right.legend(fontsize=8)
    if title:
        figure.suptitle(title)
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"plots are written as PNG: give a path ending in .png, got {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=plots.DPI)
    return path
