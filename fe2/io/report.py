"""The report of a macro (FE²) run: ``report.md`` built from the run's output folder.

    fe2.io.report.write_report("output/plate_with_hole")      # or: fe2 report output/plate_with_hole

It reads ``run.json`` (:mod:`fe2.io.record`, written by :class:`fe2.io.MacroWriter` step by step)
and the step VTU files, and writes a Markdown report with relative image links:

- the inputs: mesh, materials per phase (with the cell behind an RVELaw), boundary conditions,
  solver settings and backend, executor;
- figures (in ``figures/``): the macro field and a micro cell of the last step, the macro and micro
  Newton histories, the Hill-Mandel residuals of the step holding the worst one (histogram and map);
- the convergence table: per step the load, Newton iterations, final residual, the observed rate
  r_k / r_(k-1)^2 of the last iterations (bounded for quadratic convergence), cut-backs, micro
  iterations and wall time; then every step's residuals with all their ratios r_k / r_(k-1)^2, and
  each cut-back with its reason (the element and quadrature point of a failed material point);
- at finite strain, the stability of the macro tangent: the least ellipticity per step and where,
  and the first point and load at which it vanished (or that it never did);
- the worst Hill-Mandel residual of the run and where (step, element, position);
- the wall-time split (material points, assembly, linear solve, other) per step and in total.
"""

import datetime
import os
from pathlib import Path

import numpy as np

from .record import FILE, load


def write_report(run_dir, out=None, figures=True):
    """Write the report of the run in ``run_dir`` to ``out`` (default run_dir/report.md), its figures
    to run_dir/figures/ (unless ``figures`` is False); returns the report's path. FileNotFoundError
    for a missing folder or a folder without run.json."""
    run_dir = Path(run_dir)
    record = load(run_dir)
    steps = record.get("steps") or []
    if not steps:
        raise ValueError(f"{run_dir / FILE} records no converged step")
    out = Path(out) if out is not None else run_dir / "report.md"
    inputs = record["inputs"]
    cells = any(law["law"] == "RVELaw" and not law.get("linear") for law in inputs["materials"].values())
    hill = _hill_mandel(run_dir, steps) if cells else {}  # only cell-backed points have a Hill-Mandel residual
    lines = [f"# FE² run report: {run_dir.resolve().name}", ""]
    last = steps[-1]
    finite = inputs["mesh"].get("physics") == "finite strain"
    lines += [f"Kinematics: **{inputs.get('kinematics') or 'small strain'}**.", ""]
    lines += [f"{len(steps)} converged step{'s' * (len(steps) != 1)} to load factor {last['load']:.4g}, "
              f"{sum(s['iterations'] for s in steps)} macro Newton iterations, {sum(s['cutbacks'] for s in steps)} cut-backs, "
              f"{sum(s['seconds'] for s in steps):.2f} s of solving. Run folder `{run_dir}`, written by fe2 "
              f"{record.get('fe2_version', '?')} (record created {record.get('created', '?')}; report "
              f"{datetime.datetime.now().isoformat(timespec='seconds')}).", ""]
    lines += _inputs(inputs)
    if figures:
        lines += _figures(run_dir, out, record, steps, hill)
    lines += _convergence(steps, inputs)
    lines += _residuals(steps)
    if finite:
        lines += _stability(record, steps)
    lines += _hill_mandel_section(hill, steps)
    lines += _time_split(steps)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    return out


# --- inputs ----------------------------------------------------------------------------------------
def _inputs(inputs):
    mesh = inputs["mesh"]
    lines = ["## Inputs", "", "**Macro mesh**", "", "| | |", "| --- | --- |"]
    size = mesh.get("size") or {}
    rows = [("elements", f"{mesh['elements']} {mesh['cell type']}"), ("vertices", mesh["vertices"]),
            ("dimension, physics", f"{mesh['dim']}D {mesh.get('physics', '')}"
                                   + (f", plane {mesh['plane']}" if mesh.get("plane") else "")), ("element order", f"P{mesh['order']}"),
            ("DOFs (free)", f"{mesh['dofs']} ({mesh['free dofs']})"),
            ("quadrature points", mesh.get("quadrature points", "")),
            ("edge length (mean / max)", f"{size['mean edge']:.3g} / {size['max edge']:.3g}" if size else "?"),
            ("named boundaries", ", ".join(mesh["boundaries"]))]
    lines += [f"| {k} | {v} |" for k, v in rows]
    lines += ["", "**Materials**", "", "| phase | law | details |", "| --- | --- | --- |"]
    for phase, law in inputs["materials"].items():
        if law["law"] == "RVELaw":
            cell = law["cell"]
            csize = cell.get("size") or {}
            micro = "; ".join(f"{name} ({cell['fractions'].get(name, 0):.3f}): `{sub['repr']}`"
                              for name, sub in cell["phases"].items())
            detail = (f"cell: {cell['elements']} {cell['cell type']} elements, P{cell['order']}, {cell['dofs']} DOFs, "
                      + (f"plane {cell['plane']}, " if cell.get("plane") else "")
                      + (f"edge length {csize['mean edge']:.3g} (max {csize['max edge']:.3g}), " if csize else "")
                      + f"{law['bc']} condition, {'linear (one effective tensor)' if law['linear'] else 'nonlinear'}, "
                      f"micro Newton tol {law['tol']:g} / {law['max_iterations']} iterations, "
                      f"solver {cell['linear solver']}; phases: {micro}")
            lines.append(f"| {phase} | RVELaw (FE²) | {detail} |")
        else:
            lines.append(f"| {phase} | {law['law']} | `{law['repr']}` |")
    lines += ["", "**Boundary conditions**", "", "| kind | boundary | value at full load | components |",
              "| --- | --- | --- | --- |"]
    for bc in inputs.get("dirichlet", []):
        lines.append(f"| Dirichlet | {bc['boundary']} | {_short(bc['value'])} | "
                     f"{'all' if bc['components'] is None else bc['components']} |")
    for bc in inputs.get("neumann", []):
        lines.append(f"| traction | {bc['boundary']} | {_short(bc['value'])} | |")
    if inputs.get("body_force") is not None:
        lines.append(f"| body force | (volume) | {_short(inputs['body_force'])} | |")
    solver = inputs.get("solver", {})
    lines += ["", "**Solver**", "", "| | |", "| --- | --- |"]
    names = {"tol": "macro Newton tolerance (relative residual)", "max_iterations": "max. Newton iterations per step",
             "max_cutbacks": "max. cut-backs in a row", "min_increment": "smallest load increment",
             "schedule": "load schedule", "linear solver": "macro linear solver"}
    for key, value in solver.items():
        lines.append(f"| {names.get(key, key)} | {_short(value)} |")
    executor = inputs.get("executor", "serial")
    lines += [f"| executor (cell solves) | {executor if isinstance(executor, str) else ', '.join(executor)} |", ""]
    return lines


def _short(value):
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        flat = np.asarray(value, dtype=float).ravel() if all(not isinstance(v, str) for v in value) else None
        if flat is not None:
            return "[" + ", ".join(f"{v:.4g}" for v in flat[:12]) + (", ..." if flat.size > 12 else "") + "]"
    return str(value)


# --- figures ---------------------------------------------------------------------------------------
def _figures(run_dir, out, record, steps, hill):
    folder = run_dir / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["## Figures", ""]
    made = []

    def figure(title, make, caption):
        try:
            path = make()
        except Exception as error:  # noqa: BLE001 - a figure that cannot be made is named, the report goes on
            lines.extend([f"*{title}: not drawn ({type(error).__name__}: {' '.join(str(error).split())})*", ""])
            return
        made.append(path)
        link = Path(os.path.relpath(path, out.resolve().parent)).as_posix()
        lines.extend([f"![{title}]({link})", "", f"*{caption}*", ""])

    from postprocess import plots, render

    last = steps[-1]
    step_folder = run_dir / f"step_{last['number']:03d}"
    physics = record["inputs"]["mesh"].get("physics", "elasticity")
    elastic = physics == "elasticity"
    plastic = max((s.get("plastic_strain") or {}).get("max", 0.0) for s in steps) > 0
    micro_warp = 0.0
    if physics == "finite strain":  # the deformed shapes as they are
        field, component, warp, micro_warp = "von_mises", None, 1.0, 1.0
    elif elastic:
        field, component, warp = ("plastic_strain", None, _warp(step_folder)) if plastic else ("stress", "xx", _warp(step_folder))
    else:
        field, component, warp = "temperature", None, 0.0
    micro_elements = list(last.get("micro points") or {})
    figure("macro and micro fields of the last step",
           lambda: render.macro_and_micro(step_folder, folder / "macro_micro.png", field=field, component=component,
                                          element=int(micro_elements[0]) if micro_elements else None, warp=warp,
                                          micro_warp=micro_warp),
           f"Step {last['number']} (load {last['load']:.4g}): macro {field}{' ' + component if component else ''}"
           + (f" on the mesh displaced x{warp:.3g}" if warp else "")
           + ("; right: the micro field of the cell at the marked macro point (micro_<element>.vtu)"
              + (", deformed" if micro_warp else "") + "." if micro_elements else "."))
    micro = {}
    for s in steps:
        for element, entry in (s.get("micro points") or {}).items():
            if entry.get("residuals"):
                micro[f"step {s['number']}, element {element}"] = entry["residuals"]
    tol = record["inputs"].get("solver", {}).get("tol")
    micro_tol = next((law["tol"] for law in record["inputs"]["materials"].values() if law["law"] == "RVELaw"), None)
    figure("Newton histories",
           lambda: plots.newton_history(steps, folder / "newton.png", micro=micro or None, tol=tol,
                                        micro_tol=micro_tol if micro else None),
           "Relative residual norm per Newton iteration: macro steps" + (" (left) and the micro Newton of the "
           "cells whose fields were written, at the converged macro iteration (right)" if micro else "")
           + ". Quadratic convergence: each residual about the square of the one before.")
    per_step = hill.get("per_step") or {}
    if per_step:  # the worst step's VTU may be gone (its value then comes from run.json): the worst step read
        number = hill["step"] if hill["step"] in per_step else max(per_step, key=lambda n: per_step[n][0].max())
        values, centroids = per_step[number]
        figure("Hill-Mandel residuals",
               lambda: plots.hill_mandel(values, folder / "hill_mandel.png",
                                         centroids=centroids[:, :2] if centroids is not None else None,
                                         title=f"Hill-Mandel residuals, step {number}"),
               f"Relative Hill-Mandel residual |<s:e> - <s>:<e>| / |<s>:<e>| of every macro element's cell at step "
               f"{number}, " + ("the step holding the worst one" if number == hill["step"] else
                                "the worst step whose VTU file could be read") + ": histogram and map.")
    return lines


def _warp(step_folder):
    """A displacement scale that makes the largest displacement 5 % of the macro mesh's extent."""
    try:
        grid = _read(step_folder / "macro.vtu")
        u = np.asarray(grid.point_data["displacement"])
        extent = np.ptp(np.asarray(grid.points), axis=0).max()
        largest = np.linalg.norm(u, axis=1).max()
        return float(f"{0.05 * extent / largest:.1g}") if largest > 0 else 0.0
    except Exception:  # noqa: BLE001
        return 20.0


def _read(path):
    """A VTU file through VTK (pyvista), which also loads the arrays' units (``UNITS_LABEL``)."""
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    import pyvista as pv
    return pv.read(path)


# --- tables ----------------------------------------------------------------------------------------
def _rates(residuals, count=2):
    """r_k / r_(k-1)^2 of the last ``count`` iterations."""
    r = np.asarray(residuals, dtype=float)
    rates = [r[k] / r[k - 1] ** 2 for k in range(max(1, len(r) - count), len(r)) if r[k - 1] > 0]
    return rates


def observed_order(residuals, floor=1e-12):
    """The observed order of convergence of the last Newton iterations,
    q = log(r_k / r_(k-1)) / log(r_(k-1) / r_(k-2)), from the last three residuals above ``floor``
    (residuals at round-off say nothing about the rate): 2 for quadratic, 1 for linear convergence;
    NaN when fewer than three residuals are above the floor."""
    r = np.asarray([v for v in residuals if v > floor], dtype=float)
    if len(r) < 3 or r[-2] == r[-3]:
        return float("nan")
    return float(np.log(r[-1] / r[-2]) / np.log(r[-2] / r[-3]))


def _convergence(steps, inputs):
    micro = any(s.get("micro iterations") for s in steps)
    counted = any(s.get("cell solves") for s in steps)
    lines = ["## Convergence", "",
             "Iterations: macro Newton updates (the residual list minus the initial residual); rate: "
             "r_k / r_(k-1)^2 of the last two iterations, bounded (not growing) when the convergence is quadratic; "
             "order: q = log(r_k/r_(k-1)) / log(r_(k-1)/r_(k-2)) over the last residuals above 1e-12 (2 = quadratic).", "",
             "| step | load | iterations | final residual | rate r_k/r_(k-1)^2 | order | cut-backs | "
             + ("micro iterations max / mean | " if micro else "")
             + ("cell solves by Newton / elastic | " if counted else "") + "seconds |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | " + ("---: | " if micro else "")
             + ("---: | " if counted else "") + "---: |"]
    for s in steps:
        rates = ", ".join(f"{v:.2g}" for v in _rates(s["residuals"])) or "-"
        mi = s.get("micro iterations")
        micro_cell = (f"{mi['max']} / {mi['mean']:.2f} | " if mi else "- | ") if micro else ""
        cs = s.get("cell solves")
        micro_cell += (f"{cs['newton']} / {cs['elastic']} | " if cs else "- | ") if counted else ""
        lines.append(f"| {s['number']} | {s['load']:.4g} | {s['iterations']} | {s['residuals'][-1]:.2e} | {rates} | "
                     f"{_format_order(observed_order(s['residuals']))} | {s['cutbacks']} | {micro_cell}{s['seconds']:.2f} |")
    if counted:
        newton, elastic = (sum((s.get("cell solves") or {}).get(k, 0) for s in steps) for k in ("newton", "elastic"))
        lines += ["", f"Cell solves: {newton + elastic} in all, {newton} by micro Newton and {elastic} elastic increments "
                      f"({elastic / max(newton + elastic, 1):.0%}), which the elastic predictor equilibrates without an "
                      "iteration or a factorization."]
    lines.append("")
    return lines


def _residuals(steps):
    """Every step's relative residuals and all their ratios r_k / r_(k-1)^2; the cut-backs and why."""
    lines = ["## Newton residuals", "",
             "Relative residual norm of each macro Newton iteration, and r_k / r_(k-1)^2 of each iteration: "
             "bounded (not growing) as the residual falls when the convergence is quadratic.", "",
             "| step | load | residuals r_0, r_1, ... | ratios r_k / r_(k-1)^2 |", "| ---: | ---: | --- | --- |"]
    for s in steps:
        ratios = s.get("ratios") or [None] * (len(s["residuals"]) - 1)
        lines.append(f"| {s['number']} | {s['load']:.4g} | " + ", ".join(f"{r:.2e}" for r in s["residuals"]) + " | "
                     + (", ".join("-" if v is None else f"{v:.2g}" for v in ratios) or "-") + " |")
    failures = [(s["number"], f) for s in steps for f in s.get("failures") or []]
    if failures:
        lines += ["", "Cut-backs (attempts that failed and were retried with half the increment):", "",
                  "| step | load tried | element | quadrature point | reason |", "| ---: | ---: | ---: | ---: | --- |"]
        for number, f in failures:
            reason = " ".join(str(f.get("reason", "")).split()).replace("|", "/")
            lines.append(f"| {number} | {f['load']:.4g} | {f.get('element', '-')} | {f.get('quadrature point', '-')} | "
                         f"{reason[:300]} |")
    lines.append("")
    return lines


def _stability(record, steps):
    """The least ellipticity of the macro tangent per step and the first loss of the run."""
    lines = ["## Stability", "",
             "Least value over unit m, n of the acoustic tensor of the macro tangent, A_iJkL m_i n_J m_k n_L "
             "(strong ellipticity; for a cell-backed point the condensed cell tangent), at every macro "
             "quadrature point of each written step; relative: to that point's value at F = I.", ""]
    rows = [s for s in steps if s.get("ellipticity")]
    if not rows:
        return lines + ["No ellipticity recorded (the steps carried no tangent).", ""]
    loss = record.get("stability")
    if loss:
        where = ", ".join(f"{x:.4g}" for x in loss["position"])
        estimate = loss.get("interpolated load")
        lines += [f"**Ellipticity lost** at step {loss['step']}, load {loss['load']:.4g}"
                  + (f" (vanishing at load ~{estimate:.4g}, interpolated from load {loss['previous load']:.4g})"
                     if estimate is not None else "")
                  + f": least value {loss['min']:.3g} at element {loss['element']}, quadrature point "
                  f"{loss['quadrature point']}, position ({where}), band normal "
                  f"({', '.join(f'{x:.3f}' for x in loss['normal'])}).", ""]
    else:
        low = min(rows, key=lambda s: s["ellipticity"]["relative"])
        lines += [f"Strongly elliptic throughout: the least value stayed positive, down to "
                  f"{low['ellipticity']['relative']:.3g} of its value at F = I (step {low['number']}).", ""]
    lines += _step_table(rows, "ellipticity", ("least value", "relative", "element", "quadrature point", "points <= 0",
                                               "seconds"),
                         lambda e: (f"{e['min']:.4g}", f"{e['relative']:.3g}", e["element"], e["quadrature point"],
                                    f"{e['lost']} / {e['points']}", f"{e['seconds']:.3f}"))
    micro = [s for s in steps if s.get("micro ellipticity")]
    if micro:
        lines += ["In the cells: the least value over every micro point of the cells of all macro points.", ""]
        lines += _step_table(micro, "micro ellipticity", ("least micro value", "element", "quadrature point",
                                                          "micro element", "seconds"),
                             lambda e: (f"{e['min']:.4g}", e["element"], e["quadrature point"], e["micro element"],
                                        f"{e['seconds']:.3f}"))
    return lines


def _step_table(steps, key, columns, row):
    """A table of the steps' entries ``key``: step, load, then the ``columns`` given by ``row(entry)``."""
    lines = ["| step | load | " + " | ".join(columns) + " |", "| ---: | ---: | " + "---: | " * len(columns)]
    lines += [f"| {s['number']} | {s['load']:.4g} | " + " | ".join(str(v) for v in row(s[key])) + " |" for s in steps]
    return lines + [""]


def _format_order(q):
    return "-" if np.isnan(q) else f"{q:.2f}"


def _hill_mandel(run_dir, steps):
    """The Hill-Mandel residuals per element of every step, read back from the step VTU files where
    they exist (else the record's worst value): worst value, step, element and centroid."""
    per_step, worst = {}, None
    for s in steps:
        path = run_dir / f"step_{s['number']:03d}" / "macro.vtu"
        values = centroids = None
        if path.is_file():
            try:
                grid = _read(path)
                values = np.asarray(grid.cell_data["hill_mandel"], dtype=float)
                centroids = np.asarray(grid.cell_centers().points)  # the record's centroids: means of the vertices
            except Exception:  # noqa: BLE001 - fall back to the record
                values = None
        if values is not None and values.size:
            per_step[s["number"]] = (values, centroids)
            element = int(np.argmax(values))
            candidate = (float(values[element]), s["number"], element, centroids[element].tolist(), "VTU")
        elif s.get("hill_mandel"):
            h = s["hill_mandel"]
            candidate = (h["max"], s["number"], h["element"], h["centroid"], "run.json")
        else:
            continue
        if worst is None or candidate[0] > worst[0]:
            worst = candidate
    if worst is None:
        return {}
    return {"max": worst[0], "step": worst[1], "element": worst[2], "centroid": worst[3], "source": worst[4],
            "per_step": per_step}


def _hill_mandel_section(hill, steps):
    lines = ["## Hill-Mandel", ""]
    if not hill:
        return lines + ["No cell-backed material point with a history: no Hill-Mandel residual to check "
                        "(the hill_mandel arrays of the VTU files are 0).", ""]
    where = ", ".join(f"{v:.4g}" for v in hill["centroid"][:3])
    lines += [f"Worst Hill-Mandel residual over the run: **{hill['max']:.6e}** at step {hill['step']}, macro element "
              f"{hill['element']}, centroid ({where}) (from the {hill['source']} files).", ""]
    per_step = [(s["number"], s["hill_mandel"]["max"], s["hill_mandel"]["element"]) for s in steps if s.get("hill_mandel")]
    if per_step:
        lines += ["| step | worst residual | element |", "| ---: | ---: | ---: |"]
        lines += [f"| {n} | {v:.2e} | {e} |" for n, v, e in per_step]
        lines.append("")
    return lines


def _time_split(steps):
    keys = ["material points", "assembly", "linear solve"]
    lines = ["## Wall time", "",
             "Seconds per step: material points (every law's response, the cell solves of FE² points included), "
             "assembly of the tangent stiffness, linear solve (factorization and solve) and the rest (convergence "
             "checks, bookkeeping, cut-back attempts' overhead); output and checkpoints are not counted.", "",
             "| step | " + " | ".join(keys) + " | other | total |", "| ---: |" + " ---: |" * (len(keys) + 2)]
    totals = np.zeros(len(keys) + 2)
    for s in steps:
        t = s.get("timings") or {}
        parts = [float(t.get(k, 0.0)) for k in keys]
        total = float(s["seconds"])
        row = parts + [max(total - sum(parts), 0.0), total]
        totals += row
        lines.append(f"| {s['number']} | " + " | ".join(f"{v:.3f}" for v in row) + " |")
    lines.append("| **total** | " + " | ".join(f"**{v:.3f}**" for v in totals) + " |")
    if totals[-1] > 0:
        lines += ["", "Share of the total: " + ", ".join(f"{name} {100 * v / totals[-1]:.0f} %"
                                                        for name, v in zip(keys + ["other"], totals[:-1])) + "."]
    lines.append("")
    return lines
