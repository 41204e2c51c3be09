"""Plots of fe2 runs and studies: matplotlib on the Agg canvas (no display), one PNG per call.

Every function writes ``path`` (folders are created), returns it as a :class:`pathlib.Path`, and
raises ValueError for empty input or lengths that do not match. Figures are built with
:class:`matplotlib.figure.Figure` directly (no pyplot state), so they are safe in scripts, tests and
worker processes alike.

    newton_history(steps, path, micro=None, title=None, tol=None)   macro (and micro) Newton residuals
    hill_mandel(residuals, path, centroids=None, title=None)         Hill-Mandel residuals: histogram and map
    stability(curves, path, critical=None, ...)                      least eigenvalues against a load, and where they vanish
    bc_comparison(sizes, moduli, path, bounds=None, ...)             SUBC / periodic / KUBC against cell size
    msfem_error(H, errors, path, eps=None, ...)                      MsFEM error against the coarse size H
    convergence(h, errors, path, rates=(1, 2), ...)                  error against mesh size, reference slopes
    reaction_stretch(stretch, reaction, path, ...)                   a finite-strain load curve and its stability
"""

from pathlib import Path

import numpy as np

FLOOR = 1e-17  # residuals of exactly zero are drawn here on logarithmic axes
DPI = 120

# one colour per boundary condition in every figure (Huet's order: SUBC <= periodic <= KUBC)
CONDITIONS = {"subc": ("SUBC", "tab:blue", "v"), "periodic": ("periodic", "tab:green", "o"),
              "kubc": ("KUBC", "tab:red", "^")}
BOUNDS = {"voigt": ("Voigt", "black", "-"), "reuss": ("Reuss", "black", "--"),
          "hs_upper": ("HS upper", "tab:gray", "-."), "hs_lower": ("HS lower", "tab:gray", ":")}


def _figure(ncols=1, width=6.4, height=4.6):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width * ncols, height), layout="constrained")
    axes = figure.subplots(1, ncols, squeeze=False)[0]
    return figure, axes


def _finish_loglog(figure, ax, x, path, xlabel, ylabel, title):
    """Labels, a log grid and the legend of a log-log error plot over the sizes x, saved to path."""
    _tidy_log_axis(ax.xaxis, x)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return _save(figure, path)


def _finish(figure, ax, path, xlabel, ylabel, title=None):
    """Axis labels, a light grid, the legend and the title, then :func:`_save`."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return _save(figure, path)


def _save(figure, path):
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"plots are written as PNG: give a path ending in .png, got {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI)
    return path


def _vector(name, values, positive=False, nonnegative=False):
    """A finite 1D float array, checked."""
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numbers, got {values!r}") from None
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty: nothing to plot")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} has non-finite values: {array}")
    if positive and np.any(array <= 0):
        raise ValueError(f"{name} must be positive (logarithmic axis), got {array}")
    if nonnegative and np.any(array < 0):
        raise ValueError(f"{name} must be non-negative, got min {array.min():.3g}")
    return array


def _series(name, series, n):
    """{label: 1D array of length n} from a dict (or one array, labelled ``name``)."""
    if not isinstance(series, dict):
        series = {name: series}
    if not series:
        raise ValueError(f"{name} is empty: nothing to plot")
    out = {}
    for label, values in series.items():
        values = _vector(f"{name}[{label!r}]", values, nonnegative=True)
        if len(values) != n:
            raise ValueError(f"{name}[{label!r}] has {len(values)} values for {n} sizes")
        out[str(label)] = values
    return out


def _tidy_log_axis(axis, values):
    """Ticks of a logarithmic axis at the data values when there are few (labelled as plain
    numbers), else the default decades; never the overlapping minor labels."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    values = np.unique(np.asarray(values, dtype=float))
    axis.set_minor_formatter(NullFormatter())
    if len(values) <= 8:
        axis.set_major_locator(FixedLocator(values))
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.4g}"))


def _field(item, name):
    return item[name] if isinstance(item, dict) else getattr(item, name)


def _log_lines(ax, histories, labels, cmap="viridis"):
    """One line per residual history, coloured along ``cmap``; a legend up to 12 lines, else a colour bar."""
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    colours = colormaps[cmap](np.linspace(0.0, 0.9, len(histories)))
    for values, label, colour in zip(histories, labels, colours):
        ax.semilogy(np.arange(len(values)), np.maximum(values, FLOOR), "o-", color=colour, ms=4, lw=1.4, label=label)
    ax.set_xlabel("Newton iteration")
    ax.grid(True, which="major", alpha=0.3)
    ax.xaxis.get_major_locator().set_params(integer=True)
    if len(histories) <= 12:
        ax.legend(fontsize=8)
    else:
        mappable = ScalarMappable(Normalize(0, len(histories) - 1), colormaps[cmap].resampled(256))
        ax.figure.colorbar(mappable, ax=ax, label="history (first to last)")


def newton_history(steps, path, micro=None, title=None, tol=None, micro_tol=None):
    """Relative residual norm (log scale) against Newton iteration (0 = before the first update),
    one line per macro step (``steps``: objects or dicts with ``number`` and ``residuals``, e.g. the
    :class:`fe2.macro.Step` list of a solve); with ``micro`` = {label: residuals}, a second panel of
    micro Newton histories. ``tol``/``micro_tol`` are drawn as dashed lines. Returns the PNG path."""
    steps = list(steps)
    if not steps:
        raise ValueError("no steps: nothing to plot")
    histories, labels = [], []
    for item in steps:
        try:
            number, residuals = _field(item, "number"), _field(item, "residuals")
        except (KeyError, AttributeError):
            raise ValueError(f"each step needs 'number' and 'residuals', got {item!r}") from None
        histories.append(_vector(f"residuals of step {number}", residuals, nonnegative=True))
        labels.append(f"step {number}")
    if micro is not None:
        if not isinstance(micro, dict) or not micro:
            raise ValueError(f"micro must be a non-empty dict {{label: residuals}}, got {micro!r}")
        micro = {str(k): _vector(f"micro residuals {k!r}", v, nonnegative=True) for k, v in micro.items()}
    figure, axes = _figure(2 if micro else 1)
    _log_lines(axes[0], histories, labels)
    axes[0].set_ylabel("relative residual norm")
    axes[0].set_title("macro Newton" if micro else (title or "macro Newton"))
    if tol is not None:
        axes[0].axhline(tol, color="tab:red", ls="--", lw=1, label=f"tol {tol:.0e}")
        if len(histories) <= 12:
            axes[0].legend(fontsize=8)
    if micro:
        _log_lines(axes[1], list(micro.values()), list(micro), cmap="plasma")
        axes[1].set_ylabel("relative residual norm")
        axes[1].set_title("micro Newton (cells)")
        if micro_tol is not None:
            axes[1].axhline(micro_tol, color="tab:red", ls="--", lw=1, label=f"tol {micro_tol:.0e}")
            if len(micro) <= 12:
                axes[1].legend(fontsize=8)
        if title:
            figure.suptitle(title)
    return _save(figure, path)


def reaction_stretch(stretch, reaction, path, linear=None, ellipticity=None, loss=None, units="",
                     title="Reaction against stretch"):
    """A finite-strain load curve: the reaction (nominal force) against the applied stretch, with the
    small-strain line ``linear`` (its reaction per unit stretch, dashed) and, with ``ellipticity``
    (the least relative ellipticity at each stretch), a second panel of it with the stretch where it
    vanished (``loss``) marked on both. (0, 0) is drawn as the start. Returns the PNG path."""
    stretch = _vector("stretch", stretch)
    reaction = _vector("reaction", reaction)
    if stretch.size == 0 or reaction.size != stretch.size:
        raise ValueError(f"{stretch.size} stretches and {reaction.size} reactions: give one reaction per stretch")
    figure, axes = _figure(2 if ellipticity is not None else 1, width=5.4, height=4.2)
    x, y = np.concatenate([[0.0], stretch]), np.concatenate([[0.0], reaction])
    ax = axes[0]
    ax.plot(x, y, "o-", color="tab:blue", ms=4, label="finite strain FE²")
    if linear is not None:
        ax.plot(x, float(linear) * x, "--", color="tab:gray", label="small-strain FE² (linear cell)")
    ax.set_xlabel("stretch (right-edge displacement / width)")
    ax.set_ylabel(f"reaction{f' [{units}]' if units else ''}")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if ellipticity is not None:
        ellipticity = _vector("ellipticity", ellipticity)
        if ellipticity.size != stretch.size:
            raise ValueError(f"{ellipticity.size} ellipticity values for {stretch.size} stretches")
        axes[1].plot(x, np.concatenate([[1.0], ellipticity]), "o-", color="tab:purple", ms=4)
        axes[1].axhline(0.0, color="black", lw=0.8)
        axes[1].set_xlabel("stretch")
        axes[1].set_ylabel("least ellipticity / value at F = I")
        axes[1].set_title("stability of the macro tangent")
        axes[1].grid(True, alpha=0.3)
    if loss is not None:
        for axis in axes:
            axis.axvline(float(loss), color="tab:red", ls=":", lw=1.2, label=f"ellipticity lost ~{float(loss):.3g}")
    ax.legend(fontsize=8)
    return _save(figure, path)


def hill_mandel(residuals, path, centroids=None, title=None):
    """Hill-Mandel residuals, one per macro element or point (>= 0, dimensionless): a histogram of
    log10 residual (zeros drawn at 1e-17) and, with ``centroids`` (n, 2), a map of the points
    coloured by log10 residual with the worst point circled and its value written. Returns the PNG path."""
    residuals = _vector("residuals", residuals, nonnegative=True)
    if centroids is not None:
        centroids = np.asarray(centroids, dtype=float)
        if centroids.ndim != 2 or centroids.shape[1] < 2 or len(centroids) != len(residuals):
            raise ValueError(f"centroids must be ({len(residuals)}, 2) for {len(residuals)} residuals, got {centroids.shape}")
    logs = np.log10(np.maximum(residuals, FLOOR))
    worst = int(np.argmax(residuals))
    figure, axes = _figure(2 if centroids is not None else 1)
    ax = axes[0]
    ax.hist(logs, bins=min(30, max(5, len(logs) // 4)), color="tab:blue", edgecolor="white")
    ax.axvline(logs[worst], color="tab:red", ls="--", lw=1, label=f"worst {residuals[worst]:.1e}")
    zeros = int(np.sum(residuals == 0))
    ax.set_xlabel("log10 Hill-Mandel residual" + (f" ({zeros} exact zero{'s' * (zeros != 1)} at {np.log10(FLOOR):.0f})" if zeros else ""))
    ax.set_ylabel("points")
    ax.legend(fontsize=8)
    ax.set_title(f"{len(residuals)} points, median {np.median(residuals):.1e}")
    if centroids is not None:
        ax = axes[1]
        size = float(np.clip(6000 / len(residuals), 4, 80))
        dots = ax.scatter(centroids[:, 0], centroids[:, 1], c=logs, s=size, cmap="viridis")
        figure.colorbar(dots, ax=ax, label="log10 Hill-Mandel residual")
        x, y = centroids[worst, :2]
        ax.scatter([x], [y], s=size * 4 + 40, facecolors="none", edgecolors="tab:red", linewidths=2)
        ax.annotate(f"worst {residuals[worst]:.1e}\n(point {worst})", (x, y), xytext=(8, 8), textcoords="offset points",
                    color="tab:red", fontsize=9)
        ax.set_aspect("equal")
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.set_title("where")
    if title:
        figure.suptitle(title)
    return _save(figure, path)


def stability(curves, path, critical=None, styles=None, xlabel="stretch", ylabel="least eigenvalue", title=None):
    """Stability measures against a load (e.g. the least eigenvalue of the acoustic tensor against the
    stretch): ``curves`` {label: (x, y)} (drawn with the matplotlib format ``styles[label]``, e.g. "o"
    or "--", default lines with markers), the zero line, and ``critical`` {label: x} as vertical
    dashed lines (where a measure vanishes). Returns the PNG path."""
    if not isinstance(curves, dict) or not curves:
        raise ValueError(f"curves must be a non-empty dict {{label: (x, y)}}, got {curves!r}")
    figure, axes = _figure()
    ax = axes[0]
    default = iter(["o-", "s--", "^:", "d-.", "v-"] * 4)
    for label, (x, y) in curves.items():
        x, y = _vector(f"x of {label!r}", x), _vector(f"y of {label!r}", y)
        if len(x) != len(y):
            raise ValueError(f"curve {label!r} has {len(x)} x values and {len(y)} y values")
        ax.plot(x, y, (styles or {}).get(label) or next(default), ms=4, lw=1.4, label=label)
    ax.axhline(0.0, color="black", lw=0.8)
    colours = iter(["tab:red", "tab:purple", "tab:brown", "tab:gray"] * 4)
    for label, x in (critical or {}).items():
        ax.axvline(float(x), color=next(colours), ls="--", lw=1, label=f"{label}: {float(x):.5g}")
    return _finish(figure, ax, path, xlabel, ylabel, title)


def bc_comparison(sizes, moduli, path, bounds=None, ylabel="effective modulus", xlabel="cell size", title=None):
    """An effective modulus against cell size for each boundary condition of ``moduli``
    {"subc" | "periodic" | "kubc" | other: values}, one value per size or, per size, the values of
    several realizations (drawn as mean with a one-standard-deviation error bar and the single
    values faintly); ``bounds`` {"voigt", "reuss", "hs_upper", "hs_lower": value} as horizontal
    lines. Colours: SUBC blue, periodic green, KUBC red. Returns the PNG path."""
    sizes = _vector("sizes", sizes)
    if not isinstance(moduli, dict) or not moduli:
        raise ValueError(f"moduli must be a non-empty dict {{condition: values}}, got {moduli!r}")
    figure, axes = _figure()
    ax = axes[0]
    spare = iter(["tab:purple", "tab:orange", "tab:brown", "tab:pink", "tab:olive", "tab:cyan"])
    for key, values in moduli.items():
        values = list(values) if isinstance(values, (list, tuple, np.ndarray)) else [values]  # may be ragged
        if len(values) != len(sizes):
            raise ValueError(f"moduli[{key!r}] has {len(values)} entries for {len(sizes)} sizes")
        samples = [_vector(f"moduli[{key!r}] at size {s:g}", np.atleast_1d(v)) for s, v in zip(sizes, values)]
        label, colour, marker = CONDITIONS.get(str(key).lower(), (str(key), next(spare, "black"), "s"))
        mean = np.array([v.mean() for v in samples])
        if any(len(v) > 1 for v in samples):
            std = np.array([v.std(ddof=1) if len(v) > 1 else 0.0 for v in samples])
            for s, v in zip(sizes, samples):
                ax.plot(np.full(len(v), s), v, marker, color=colour, alpha=0.25, ms=4)
            ax.errorbar(sizes, mean, yerr=std, fmt=marker + "-", color=colour, capsize=4, label=f"{label} (mean ± std)")
        else:
            ax.plot(sizes, mean, marker + "-", color=colour, label=label)
    for key, value in (bounds or {}).items():
        label, colour, style = BOUNDS.get(str(key).lower(), (str(key), "tab:gray", "-"))
        value = float(value)
        if not np.isfinite(value):
            raise ValueError(f"bound {key!r} is not finite: {value}")
        ax.axhline(value, color=colour, ls=style, lw=1, label=label)
    return _finish(figure, ax, path, xlabel, ylabel, title)


def msfem_error(H, errors, path, eps=None, xlabel="H", ylabel="relative error", title=None):
    """MsFEM errors against the coarse mesh size H on log-log axes, one line per entry of
    ``errors`` {label: values like H} (zeros are left out); with ``eps`` (the oscillation period),
    a dashed vertical line at H = eps and a second x axis in H/eps on top (the resonance regime
    H ~ eps is where the error peaks without oversampling). Returns the PNG path."""
    H = _vector("H", H, positive=True)
    errors = _series("errors", errors, len(H))
    if eps is not None and not float(eps) > 0:
        raise ValueError(f"eps must be positive, got {eps!r}")
    figure, axes = _figure()
    ax = axes[0]
    order = np.argsort(H)
    for label, values in errors.items():
        shown = np.where(values > 0, values, np.nan)
        ax.loglog(H[order], shown[order], "o-", ms=4, label=label)
    if eps is not None:
        eps = float(eps)
        ax.axvline(eps, color="gray", ls="--", lw=1, label=f"H = ε = {eps:g}")
        top = ax.secondary_xaxis("top", functions=(lambda h: h / eps, lambda r: r * eps))
        top.set_xlabel("H / ε")
        _tidy_log_axis(top.xaxis, H / eps)
    return _finish_loglog(figure, ax, H, path, xlabel, ylabel, title)


def rate(h, error):
    """Least-squares slope of log(error) against log(h): the observed convergence rate."""
    h, error = np.asarray(h, dtype=float), np.asarray(error, dtype=float)
    keep = (h > 0) & (error > 0)
    if keep.sum() < 2:
        return np.nan
    return float(np.polyfit(np.log(h[keep]), np.log(error[keep]), 1)[0])


def convergence(h, errors, path, rates=(1, 2), xlabel="mesh size h", ylabel="error", title=None):
    """Errors against mesh size on log-log axes, one line per entry of ``errors`` {label: values
    like h} (or one array), each labelled with its fitted rate, and reference slopes O(h^r) for r
    in ``rates`` through half the finest error of the first series. Returns the PNG path."""
    h = _vector("h", h, positive=True)
    errors = _series("error", errors, len(h))
    figure, axes = _figure()
    ax = axes[0]
    order = np.argsort(h)
    for label, values in errors.items():
        shown = np.where(values > 0, values, np.nan)
        ax.loglog(h[order], shown[order], "o-", ms=4, label=f"{label} (rate {rate(h, values):.2f})")
    first = next(iter(errors.values()))[order]
    anchor = np.flatnonzero(first > 0)
    if len(anchor):
        h0, e0 = h[order][anchor[0]], 0.5 * first[anchor[0]]  # below the data, so that both stay visible
        line = np.array([h.min(), h.max()])
        for r, style in zip(rates, [":", "--", "-.", (0, (1, 3))] * 4):
            ax.loglog(line, e0 * (line / h0) ** r, color="gray", ls=style, lw=1, label=f"O(h^{r:g})")
    return _finish_loglog(figure, ax, h, path, xlabel, ylabel, title)
