"""Figures of the time-dependent cases: matplotlib on the Agg canvas, one PNG per call, as in
:mod:`postprocess.plots` (each function writes ``path``, creating its folder, and returns it).

    heating(x, profiles, eps, errors, path)   temperature profiles in time, FE² against DNS; error against eps
    memory(times, G, fitted, paths, path)     a cell's relaxation and its Prony fit; FE² against the macro law
"""

from pathlib import Path

import numpy as np

from .plots import rate


def _figure(ncols, width=5.2, height=4.2):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width * ncols, height), layout="constrained")
    return figure, figure.subplots(1, ncols, squeeze=False)[0]


def _save(figure, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    return path


def heating(x, profiles, eps, errors, path, title="Transient heating: FE² against DNS"):
    """Left: profiles {time: (T_FE2, T_DNS)} along x, FE² as lines, DNS (the finest) as dots; right:
    the error of FE² against DNS at the end time for the cell sizes ``eps`` on log-log axes, with its
    rate and O(eps)."""
    eps, errors = np.asarray(eps, dtype=float), np.asarray(errors, dtype=float)
    if not profiles or eps.shape != errors.shape or eps.size == 0:
        raise ValueError("heating needs profiles and one error per cell size")
    figure, (left, right) = _figure(2)
    colours = iter(["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"] * 4)
    for t, (macro, dns) in profiles.items():
        colour = next(colours)
        left.plot(x, macro, "-", color=colour, label=f"t = {t:.3g} FE²")
        left.plot(x, dns, ".", color=colour, ms=3, label=f"t = {t:.3g} DNS")
    left.set_xlabel("x (plate width 1)")
    left.set_ylabel("temperature T along y = 1/2")
    left.legend(fontsize=7, ncol=2)
    left.grid(alpha=0.3)
    right.loglog(eps, errors, "o-", label=f"FE² vs DNS (rate {rate(eps, errors):.2f})")
    right.loglog(eps, errors[-1] * eps / eps[-1] * 0.5, "--", color="gray", label="O(eps)")
    right.set_xlabel("cell size eps")
    right.set_ylabel("relative L2 error at the end time")
    right.legend()
    right.grid(alpha=0.3, which="both")
    figure.suptitle(title)
    return _save(figure, path)


def memory(times, G, fitted, paths, path, labels=("xx", "yy", "xy"),
           title="A viscoelastic cell's memory passed to the macro scale"):
    """Left: the cell's relaxation function G(t) (diagonal entries, dots) and its Prony fit (lines);
    then one panel per load path {name: (t, FE² values, macro-law values, ylabel)}."""
    times, G, fitted = np.asarray(times, dtype=float), np.asarray(G, dtype=float), np.asarray(fitted, dtype=float)
    if G.shape != fitted.shape or G.shape[0] != times.size:
        raise ValueError("G and its fit must have one (n, n) value per time")
    figure, axes = _figure(1 + len(paths))
    shown = times > 0
    for i in range(G.shape[1]):
        line, = axes[0].semilogx(times[shown], fitted[shown, i, i], ["-", "--", "-."][i % 3],
                                 label=f"fit {labels[i]}{labels[i]}")
        axes[0].semilogx(times[shown], G[shown, i, i], ".", color=line.get_color(),
                         label=f"cell {labels[i]}{labels[i]}")
    axes[0].set_xlabel("time t")
    axes[0].set_ylabel("relaxation function G_ii(t)")
    axes[0].legend(fontsize=7)
    axes[0].grid(alpha=0.3, which="both")
    for ax, (name, (t, concurrent, hierarchical, ylabel)) in zip(axes[1:], paths.items()):
        ax.plot(t, concurrent, "o", ms=3, label="FE² (cells at every point)")
        ax.plot(t, hierarchical, "-", label="fitted macro law")
        ax.set_title(name)
        ax.set_xlabel("time t")
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    figure.suptitle(title)
    return _save(figure, path)
