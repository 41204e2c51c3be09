"""The run record of a macro (FE²) run: ``run.json`` beside the VTU output, one entry per converged step.

    record_step(folder, step, problem, states, plastic_strain, hill_mandel, micro_points)

is called by :class:`fe2.io.MacroWriter` after it wrote a step. The first step creates the file
with the inputs of the run (mesh, materials per phase, boundary conditions, solver settings and
backend, executor; "kinematics": small or finite strain); every step appends its load, Newton
residuals and their ratios r_k / r_(k-1)^2, the reactions on the Dirichlet boundaries, cut-backs with the reason of each (the element and
quadrature point of a failed material point, e.g. det F <= 0), wall time and its split,
micro Newton iterations, the micro residual histories of the written micro points, the worst
Hill-Mandel residual (element and centroid), the largest plastic strain and, per phase whose law
reports on its state (``law.record(state)``, e.g. :class:`fe2.surrogate.AdaptiveRVELaw`: the active
fraction and the measured error), that report; at finite strain the least ellipticity of the macro
tangent and where (:func:`fe2.io.writer.ellipticity_fields`), and on the first step where it is
<= 0, "ellipticity loss" (also the record's top-level "stability"); with cells, the least over
their micro points, "micro ellipticity" (:func:`fe2.io.writer.micro_ellipticity_fields`). A restarted run (a step
number that does not follow the last recorded one) drops the recorded steps from that number on,
as the PVD series does. The file is replaced atomically, so a killed run leaves a readable record.
:func:`fe2.io.report.write_report` turns it into a report.
"""

import datetime
import json
from pathlib import Path

import numpy as np

from ..cell import linalg
from ..macro.problem import newton_ratios
from ..macro.rve_law import RVELaw
from .files import atomic_write

FILE = "run.json"


def record_step(folder, step, problem, states, plastic_strain, hill_mandel, micro_points, stability=None, loss=None,
                micro_stability=None):
    """Append ``step`` (a :class:`fe2.macro.Step`) to ``folder/run.json``; ``states``: gathered
    histories per phase; ``plastic_strain``, ``hill_mandel``: per macro element (as written to the
    VTU); ``micro_points``: the macro elements whose micro fields were written; ``stability``: the
    step's ellipticity summary, ``loss``: the first loss of ellipticity of the run so far (finite
    strain; see :class:`fe2.io.MacroWriter`). Returns the path."""
    path = Path(folder) / FILE
    record = None
    if step.number > 1 and path.is_file():
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            record = None
    if record is None or step.number == 1:
        record = {"fe2_version": _version(), "created": datetime.datetime.now().isoformat(timespec="seconds"),
                  "inputs": inputs(problem), "steps": []}
    record["steps"] = [s for s in record["steps"] if s["number"] < step.number]  # a restart: drop what follows
    entry = step_entry(step, problem, states, plastic_strain, hill_mandel, micro_points)
    if stability is not None:
        entry["ellipticity"] = stability
    if micro_stability is not None:   # the least ellipticity over the micro points of every cell
        entry["micro ellipticity"] = micro_stability
    if loss is not None and loss["step"] == step.number:
        entry["ellipticity loss"] = loss
    record["steps"].append(entry)
    record["stability"] = next((s["ellipticity loss"] for s in record["steps"] if s.get("ellipticity loss")), None)
    record["inputs"]["solver"].update(_settings(problem))  # the settings of the run that wrote the last step
    atomic_write(path, json.dumps(record, indent=1, default=_jsonable))
    return path


def load(folder):
    """The run record of ``folder`` (a dict). FileNotFoundError naming the folder or the file."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"run folder not found: {folder}")
    path = folder / FILE
    if not path.is_file():
        raise FileNotFoundError(f"{folder} is not an fe2 run folder: it has no {FILE} (written by "
                                "fe2.io.MacroWriter after each converged step of a macro run)")
    try:
        return json.loads(path.read_text())
    except ValueError as error:
        raise ValueError(f"{path} is not a valid run record: {error}") from None


# --- the inputs ------------------------------------------------------------------------------------
KINEMATICS = {"elasticity": "small strain", "finite strain": "finite strain (total Lagrangian: F = I + grad u, "
                                                             "first Piola-Kirchhoff stress P, tangent A = dP/dF)"}


def inputs(problem):
    """Mesh, materials, boundary conditions, solver and executor of a macro problem, as plain data."""
    body = problem.body
    mesh = body.mesh
    laws = [body.materials[name] for name in body.phases]
    executors = sorted({repr(law.executor) if law.executor is not None else "serial"
                        for law in laws if isinstance(law, RVELaw)}) or ["serial"]
    return {
        "kinematics": KINEMATICS.get(body.physics.name, "-"),
        "mesh": {"cell type": type(mesh).__name__, "elements": int(mesh.t.shape[1]), "vertices": int(mesh.p.shape[1]),
                 "dim": int(body.dim), "order": int(body.order), "dofs": int(body.ndofs), "free dofs": int(problem.n),
                 "quadrature points": int(body.dx.size), "size": mesh_size(mesh),
                 "boundaries": sorted(str(b) for b in (mesh.boundaries or {})),
                 "physics": body.physics.name, "plane": body.plane},
        "materials": {name: describe_law(body.materials[name]) for name in body.phases},
        "dirichlet": [{"boundary": bc.boundary, "value": _value(bc.value),
                       "components": None if bc.components is None else np.atleast_1d(bc.components).tolist()}
                      for bc in problem.dirichlet],
        "neumann": [{"boundary": bc.boundary, "value": _value(bc.value)} for bc in problem.neumann],
        "body_force": None if problem.body_force is None else _value(problem.body_force),
        "solver": {"linear solver": backend(), **_settings(problem)},
        "executor": executors[0] if len(executors) == 1 else executors,
    }


def backend():
    """The sparse direct solver of the repeated factorizations (macro tangents and cell Newton
    iterations: :class:`fe2.cell.linalg.SymbolicFactorization`)."""
    return "pardiso (analysis reused)" if linalg.pypardiso is not None else "superlu"


def mesh_size(mesh):
    """Mean and largest edge length of a scikit-fem mesh."""
    try:
        pairs = mesh.facets if mesh.dim() == 2 else mesh.edges if mesh.dim() == 3 else mesh.t
        edges = mesh.p[:, pairs]
        lengths = np.linalg.norm(edges[:, 1] - edges[:, 0], axis=0)
        return {"mean edge": float(lengths.mean()), "max edge": float(lengths.max())}
    except Exception:  # noqa: BLE001 - a mesh type without edges: leave the size out
        return None


def describe_law(law):
    """A law as plain data: its class, repr and parameters; an RVELaw with its cell, phases and condition."""
    entry = {"law": type(law).__name__, "repr": repr(law)}
    if isinstance(law, RVELaw):
        cell = law.cell
        entry.update({
            "bc": law.bc.name, "linear": bool(law.linear), "tol": law.tol, "max_iterations": law.max_iterations,
            "executor": repr(law.executor) if law.executor is not None else "serial",
            "cell": {"cell type": type(cell.mesh).__name__, "elements": int(cell.mesh.t.shape[1]),
                     "dofs": int(cell.ndofs), "order": int(cell.order), "dim": int(cell.dim), "plane": cell.plane,
                     "size": mesh_size(cell.mesh), "linear solver": backend(),
                     "fractions": {k: float(v) for k, v in cell.fractions.items()},
                     "phases": {name: describe_law(cell.materials[name]) for name in cell.phases}},
        })
    else:
        entry["parameters"] = parameters(law)
    return entry


def parameters(law):
    """The public numeric or text attributes of a law (arrays as lists, functions as '<field>')."""
    found = {}
    for key, value in vars(law).items():
        if key.startswith("_"):
            continue
        if callable(value):
            found[key] = "<field>"
        elif isinstance(value, (bool, int, float, str, np.floating, np.integer)) or value is None:
            found[key] = value.item() if isinstance(value, np.generic) else value
        elif isinstance(value, (tuple, list, np.ndarray)) and np.size(value) <= 36:
            try:
                found[key] = np.asarray(value, dtype=float).tolist()
            except (TypeError, ValueError):
                continue
    return found


def _settings(problem):
    return dict(getattr(problem, "settings", None) or {})


def _value(value):
    if callable(value):
        return f"<function {getattr(value, '__name__', type(value).__name__)}>"
    return np.asarray(value, dtype=float).tolist()


# --- the steps -------------------------------------------------------------------------------------
def step_entry(step, problem, states, plastic_strain, hill_mandel, micro_points):
    """One step of the record (see :func:`record_step`)."""
    body = problem.body
    mesh = body.mesh
    hill_mandel = np.asarray(hill_mandel, dtype=float)
    plastic_strain = np.asarray(plastic_strain, dtype=float)
    worst = int(np.argmax(hill_mandel)) if hill_mandel.size else None
    iterations = []
    for index, name in enumerate(body.phases):
        if isinstance(body.materials[name], RVELaw) and states.get(name) is not None:
            iterations += [h["iterations"] for h in np.asarray(states[name], dtype=object).ravel()
                           if isinstance(h, dict) and "iterations" in h]
    micro = {}
    for element in micro_points:
        history = micro_history(problem, states, int(element))
        if history is not None:
            micro[str(int(element))] = {"iterations": history.get("iterations"),
                                        "residuals": [float(r) for r in history.get("residuals", [])],
                                        "hill_mandel": float(history.get("hill_mandel", 0.0))}
    return {
        "number": int(step.number), "load": float(step.load),
        "residuals": [float(r) for r in step.residuals], "iterations": len(step.residuals) - 1,
        "ratios": [None if np.isnan(v) else v for v in newton_ratios(step.residuals)],
        "reactions": reactions(problem, step),
        "cutbacks": int(step.cutbacks), "failures": list(getattr(step, "failures", None) or []),
        "seconds": float(getattr(step, "seconds", 0.0) or 0.0),
        "timings": {k: float(v) for k, v in (getattr(step, "timings", None) or {}).items()},
        "micro iterations": ({"max": int(max(iterations)), "mean": float(np.mean(iterations)), "points": len(iterations)}
                             if iterations else None),
        "cell solves": ({k: int(v) for k, v in step.cell_solves.items()}
                        if getattr(step, "cell_solves", None) and sum(step.cell_solves.values()) else None),
        "micro points": micro,
        "hill_mandel": None if worst is None else {
            "max": float(hill_mandel[worst]), "element": worst,
            "centroid": mesh.p[:, mesh.t[:, worst]].mean(axis=1).tolist()},
        "plastic_strain": {"max": float(plastic_strain.max()) if plastic_strain.size else 0.0,
                           "element": int(np.argmax(plastic_strain)) if plastic_strain.size else None},
        "laws": {name: {key: None if isinstance(value, float) and np.isnan(value) else value   # NaN is not JSON
                        for key, value in body.materials[name].record(states[name]).items()}
                 for name in body.phases if callable(getattr(body.materials[name], "record", None))
                 and states.get(name) is not None} or None,
    }


def reactions(problem, step):
    """{boundary: [reaction per component]} on every boundary with a Dirichlet condition: the sums of
    the internal nodal forces of the step's stress over its DOFs (:meth:`fe2.macro.Problem.reaction`;
    at finite strain, nominal forces). None for a step without its stress."""
    if getattr(step, "stress", None) is None:
        return None
    return {bc.boundary: [problem.reaction(step.stress, bc.boundary, c) for c in range(problem.body.physics.ncomp)]
            for bc in problem.dirichlet}


def micro_history(problem, states, element):
    """The micro history (a dict) of the first quadrature point of macro ``element``, or None for a
    point without one (an analytic law, or a linear cell). ``states``: per phase, as a solve gives
    them to its callback (histories kept on workers are fetched) or gathered."""
    body = problem.body
    name = body.phases[body.phase[element]]
    law = body.materials[name]
    if not isinstance(law, RVELaw) or states.get(name) is None:
        return None
    local = np.flatnonzero(np.flatnonzero(body.phase == body.phase[element]) == element)[0]
    history = np.asarray(law.histories(states[name]), dtype=object)[local, 0]
    return history if isinstance(history, dict) else None


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return repr(value)


def _version():
    from .. import __version__
    return __version__
