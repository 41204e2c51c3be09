"""ParaView output of a macro run: one VTU per converged step, a PVD series, micro fields of chosen points.

    writer = fe2.io.MacroWriter("out/plate", micro_points=[12])
    problem.solve(steps=8, callback=writer)

Step k writes ``step_k/macro.vtu`` and, for each chosen macro point (element index, first quadrature
point) of a cell-backed phase, ``step_k/micro_<element>.vtu`` (in the cell's own coordinates) and
``step_k/placed_micro_<element>.vtu`` (the same cell moved beside its macro point, see below).
``macro.pvd`` lists the macro files against the load factor (the physical time of a transient run,
:mod:`fe2.macro.transient`), ``micro.pvd`` the placed micro files (one part per micro point, same
time values); both are rewritten after every step, so opening the two series in one ParaView
session animates the macro field with the cells at their places.

Macro fields (names as written):
    point data  displacement (temperature), strain and stress (gradient and flux) averaged to the nodes
    cell data   strain, stress (gradient, flux), von_mises, phase, plastic_strain (equivalent plastic strain p,
                averaged over the cell for cell-backed points), hill_mandel (the Hill-Mandel residual
                of each point's last cell solve, cell-backed phases; 0 elsewhere)
Finite strain (total Lagrangian; all in the reference configuration: warp by ``displacement`` at
scale 1 for the deformed shape):
    point data  displacement, cauchy_stress averaged to the nodes
    cell data   deformation_gradient F, jacobian J = det F, first_piola_kirchhoff P (9 components, not
                symmetric), cauchy_stress sigma = P F^T / J, von_mises (of sigma), phase, hill_mandel,
                plastic_strain, and the stability fields ellipticity (the least value of the acoustic
                tensor of the macro tangent, :func:`fe2.stability.ellipticity`, over the element's
                quadrature points; for a cell-backed point the condensed cell tangent: the
                homogenized ellipticity) and ellipticity_normal (the normal n of the weakest band);
                2D plane strain: P_zz of each point's law (the cell average of the micro P_zz).
    The ellipticity costs about 0.2 ms per point in 2D, 5 ms in 3D (bench/ellipticity.py), so it is computed
    at output steps only, from the tangent the step hands to its callback; the first converged
    step where it is <= 0 somewhere is logged (WARNING, logger "fe2.io.writer") and recorded with
    its element, quadrature point, position and load (see :mod:`fe2.io.record`).
Micro fields: see :mod:`fe2.io` (displacement, fluctuation, strain, stress, von_mises, plastic_strain, phase);
finite strain: those of :func:`fe2.io.vtu.finite_strain_fields` and the micro ellipticity.
Tensors are full 3x3 (9 components, row-major xx xy xz yx yy yz zx zy zz; tensor shear, not Voigt).
In plane strain the strain's zz is 0 and the stress's zz is sigma_zz of each point's law
(:meth:`fe2.cell.body.Body.out_of_plane_stress`): lambda (eps_xx + eps_yy) for an isotropic phase,
[C_e (eps - eps_p)]_zz for J2 plasticity, the cell average of the micro sigma_zz for a cell-backed
point; NaN only for a law known only in 2D (then no von_mises).

Placement of a micro cell: x = scale * y + translation for every cell point y, with
    scale       = micro_scale * d_element / d_cell (d: bounding-box diagonal; micro_scale 0.8 by default)
    translation = c_element - scale * c_cell (c_element: centroid of the macro element's nodes,
                  c_cell: centre of the cell's bounding box)
so the cell's centre sits on the macro point and the cell spans 80 % of its element. The values are
in each placed file's field data: placement_scale, placement_translation, placement_centre,
macro_element. Only the points move: the arrays are those of micro_<element>.vtu (displacements of
the cell in its own length scale, stresses in the macro stress unit).

Units (``MacroWriter(..., units={"length": "mm", "stress": "GPa"})``) go with each array of each
VTU as VTK's ``UNITS_LABEL`` (and with the coordinates for "length"; "-" for dimensionless arrays;
see :func:`fe2.io.array_units`, :func:`fe2.io.read_units`), read by VTK and ParaView and skipped by
meshio, and into ``units.json`` beside macro.pvd ({"quantities": given, "macro": {array: unit},
"micro": {array: unit}}), which any reader can use. Micro files carry units only for the arrays
that do not depend on the cell's length scale (strain, stress, flux, ...).
"""

import json
import logging
import re
import time
from pathlib import Path

import numpy as np

from .. import stability
from ..macro.rve_law import RVELaw
from ..notation import from_mandel
from .files import atomic_write, run_lock
from .record import FILE, micro_history, record_step
from .vtu import (array_units, element_average, nodal_average, pad, pad_tensor, read_pvd, save_vtu, vtu_mesh,
                  write_pvd)

logger = logging.getLogger(__name__)


def gather(problem, states):
    """The histories of every phase as arrays on this side (gathered from workers where they live)."""
    return {name: (problem.body.materials[name].histories(state) if isinstance(problem.body.materials[name], RVELaw)
                   else state) for name, state in states.items()}


def most_strained(problem, u, states):
    """The macro element with the largest equivalent plastic strain (or, before yield, the largest
    strain norm): where the micro fields are most worth a look."""
    p, _ = MacroWriter.point_summaries(problem, states)
    if p.max() > 0:
        return [int(np.argmax(p))]
    strain = problem.body.strain(u)
    return [int(np.argmax(np.linalg.norm(strain, axis=-1).max(axis=1)))]


class MacroWriter:
    """A callback for :meth:`fe2.macro.Problem.solve` that writes each converged step.
    ``micro_points``: macro element indices, or a function (problem, u, states) -> indices, such as
    :func:`most_strained`, whose micro fields are written beside the macro file. ``units``:
    {quantity or array name: unit}, e.g. {"length": "mm", "stress": "GPa"}, written as field data
    and to units.json. ``micro_scale``: the diameter of a placed micro cell as a fraction of its
    macro element's diameter (default 0.8)."""

    def __init__(self, folder, micro_points=(), units=None, micro_scale=None):
        self.folder = Path(folder)
        self._lock = run_lock(self.folder)  # the folder is this run's: another process writing to it is refused
        self.micro_points = micro_points
        self.units = {str(k): str(v) for k, v in dict(units).items()} if units else None
        self.micro_scale = 0.8 if micro_scale is None else float(micro_scale)
        if not self.micro_scale > 0:
            raise ValueError(f"micro_scale must be a positive fraction of the macro element size, got {micro_scale!r}")
        self.entries = []        # (load, macro file) of macro.pvd
        self.micro_entries = []  # (load, placed micro file, part) of micro.pvd
        self.loss = None         # finite strain: where and when the ellipticity first vanished (a dict)
        self.micro_loss = None   # the same in some cell's micro points
        self._previous = None    # (load, least ellipticity) of the last step written

    def __call__(self, step, u, states, problem):
        body = problem.body
        folder = self.folder / f"step_{step.number:03d}"
        if step.number == 1:  # a new run: no micro series or units of an earlier run in this folder may remain
            for stale in ("micro.pvd", "units.json"):
                (self.folder / stale).unlink(missing_ok=True)
        if len(self.entries) != step.number - 1:  # a restarted run: the series up to the checkpoint
            self.entries = [(load, f"step_{k + 1:03d}/macro.vtu") for k, load in enumerate(_series_loads(self.folder))][:step.number - 1]
            self.micro_entries = [entry for entry in read_pvd(self.folder / "micro.pvd") if _step_of(entry[1]) < step.number]
            self.loss, self._previous = _earlier_stability(self.folder, step.number)
        states = gather(problem, states)  # histories kept on workers come over once per step
        strain = body.strain(u)
        stress = step.stress if step.stress is not None else body.respond(strain, states)[0]
        strain_e, stress_e = element_average(body, strain), element_average(body, stress)
        p, hill_mandel = self.point_summaries(problem, states)
        point, cell, stress_zz, summary = {}, {"plastic_strain": p, "hill_mandel": hill_mandel}, None, None
        micro = None   # finite strain with cells: the least micro ellipticity of the step
        if body.physics.name == "finite strain":
            if body.dim == 2:  # plane strain: P_zz of each point's law or cell
                stress_zz = element_average(body, body.out_of_plane_stress(strain, states))
            if getattr(step, "tangent", None) is not None:
                least, normal, summary = ellipticity_fields(problem, step.tangent)
                cell["ellipticity"], cell["ellipticity_normal"] = least, pad(normal)
                self._check_stability(step, summary)
            micro_least, micro = micro_ellipticity_fields(problem, states)
            if micro is not None:
                cell["micro_ellipticity"] = micro_least
                self._check_micro_stability(step, micro)
        elif body.physics.name == "elasticity":
            full = pad_tensor(from_mandel(stress_e)).reshape(-1, 3, 3)
            if body.dim == 2:  # plane strain: sigma_zz of each point's law or cell
                full[:, 2, 2] = stress_zz = element_average(body, body.out_of_plane_stress(strain, states))
            point["strain"] = pad_tensor(from_mandel(nodal_average(body, strain_e)))
            point["stress"] = nodal_average(body, full.reshape(-1, 9))
        else:
            point["gradient"] = pad(nodal_average(body, strain_e))
            point["flux"] = pad(-nodal_average(body, stress_e))
        macro = vtu_mesh(body, u, stress=stress, point_data=point, cell_data=cell, stress_zz=stress_zz)
        if body.physics.name == "finite strain":
            macro.point_data["cauchy_stress"] = nodal_average(body, macro.cell_data["cauchy_stress"][0])
        macro_units = array_units(self.units, macro, body.physics.name)
        save_vtu(macro, folder / "macro.vtu", units=macro_units)
        points = self.micro_points(problem, u, states) if callable(self.micro_points) else self.micro_points
        moment = getattr(step, "time", step.load)   # the series' time: the physical time of a transient run
        micro_units = {}
        for part, element in enumerate(points):
            placed, units = self.write_micro(problem, states, element, folder / f"micro_{element}.vtu", u,
                                             units=self.units, micro_scale=self.micro_scale)
            micro_units.update(units)
            self.micro_entries.append((moment, f"{folder.name}/{placed.name}", part))
        self.entries.append((moment, f"{folder.name}/macro.vtu"))
        write_pvd(self.folder / "macro.pvd", self.entries)
        if self.micro_entries:
            write_pvd(self.folder / "micro.pvd", self.micro_entries)
        if self.units:
            _write_units(self.folder / "units.json", self.units, macro_units, micro_units)
        record_step(self.folder, step, problem, states, p, hill_mandel, points, stability=summary, loss=self.loss,
                    micro_stability=micro)

    def _check_stability(self, step, summary):
        """Keep the first loss of ellipticity (logged as a WARNING once): the step, its load, the point
        and the load interpolated linearly between the last positive least value and this one."""
        previous, self._previous = self._previous, (float(step.load), summary["min"])
        if self.loss is not None or summary["min"] > 0:
            return
        load = float(step.load)
        if previous is not None and previous[1] > 0:
            (l0, v0), v1 = previous, summary["min"]
            estimate = l0 + (load - l0) * v0 / (v0 - v1)
        else:
            estimate = None
        self.loss = {"step": int(step.number), "load": load, "previous load": None if previous is None else previous[0],
                     "interpolated load": estimate, **{k: summary[k] for k in
                                                       ("min", "element", "quadrature point", "position", "normal")}}
        where = ", ".join(f"{x:.4g}" for x in summary["position"])
        logger.warning("ellipticity lost at step %d, load %.4g%s: least acoustic-tensor value %.3g <= 0 at element %d, "
                       "quadrature point %d, position (%s), band normal (%s)", step.number, load,
                       "" if estimate is None else f" (vanishing at load ~{estimate:.4g} by interpolation)",
                       summary["min"], summary["element"], summary["quadrature point"], where,
                       ", ".join(f"{x:.3f}" for x in summary["normal"]))

    def _check_micro_stability(self, step, micro):
        """Log (WARNING, once per run) the first step where a micro point of some cell loses ellipticity."""
        if self.micro_loss is not None or not micro["min"] <= 0:
            return
        self.micro_loss = {"step": int(step.number), "load": float(step.load), **micro}
        logger.warning("micro ellipticity lost at step %d, load %.4g: least acoustic-tensor value %.3g <= 0 in the cell "
                       "of element %d, quadrature point %d (micro element %d)", step.number, step.load, micro["min"],
                       micro["element"], micro["quadrature point"], micro["micro element"])

    @staticmethod
    def point_summaries(problem, states):
        """Per element: mean equivalent plastic strain and the worst Hill-Mandel residual of its points."""
        body = problem.body
        p = np.zeros(body.mesh.t.shape[1])
        hm = np.zeros(body.mesh.t.shape[1])
        for index, name in enumerate(body.phases):
            law, state = body.materials[name], states.get(name)
            elements = np.flatnonzero(body.phase == index)
            if state is None:
                continue
            if callable(getattr(law, "summaries", None)):    # cell-backed: RVELaw, AdaptiveRVELaw
                law_p, law_hm = law.summaries(state)
                p[elements], hm[elements] = law_p.mean(axis=1), law_hm.max(axis=1)
            elif isinstance(state, dict) and "p" in state:
                p[elements] = state["p"].mean(axis=1)
        return p, hm

    @staticmethod
    def write_micro(problem, states, element, path, u, units=None, micro_scale=0.8):
        """The micro fields of the cell at the first quadrature point of macro ``element``, written to
        ``path`` (cell coordinates) and to ``placed_<name>`` beside it (moved to the element's
        centroid, scaled to ``micro_scale`` of its size; see the module notes). Returns the placed
        file's path and the {array: unit} written."""
        body = problem.body
        name = body.phases[body.phase[element]]
        law = body.materials[name]
        if not isinstance(law, RVELaw):
            raise ValueError(f"macro element {element} is in phase {name!r}, which is not cell-backed")
        cell = law.cell
        if law.linear:  # no history: the cell's field for the macro strain at that point
            E = body.strain(u)[element, 0]
            return _write_micro_files(body, element, cell, vtu_mesh(cell, cell.linearize().bind(law.bc).field(E), E), path, units, micro_scale)
        history = micro_history(problem, states, element)
        p = np.zeros(cell.mesh.t.shape[1])
        for index, phase in enumerate(cell.phases):
            micro = history["micro"].get(phase)
            if isinstance(micro, dict) and "p" in micro:
                p[cell.phase == index] = micro["p"].mean(axis=1)
        plane_strain = cell.dim == 2 and cell.physics.name == "elasticity"
        stress_zz = (element_average(cell, cell.out_of_plane_stress(cell.strain(history["field"]), history["micro"]))
                     if plane_strain else None)
        extra = {"plastic_strain": p}
        if cell.physics.name == "finite strain":   # the micro P_zz and the ellipticity of the micro tangent
            H = cell.strain(history["field"])
            tangent = cell.respond(H, history["micro"])[1]
            extra["ellipticity"] = stability.ellipticity(tangent)[0].min(axis=1)
            if cell.dim == 2:
                stress_zz = element_average(cell, cell.out_of_plane_stress(H, history["micro"]))
        mesh = vtu_mesh(cell, history["field"], history["strain"], stress=law.micro_stress(history),
                        cell_data=extra, stress_zz=stress_zz)
        return _write_micro_files(body, element, cell, mesh, path, units, micro_scale)


def ellipticity_fields(problem, tangent):
    """The stability fields of a finite-strain macro step from its material tangent (nel, nqp, n, n):
    per element the least value of the acoustic tensor over its quadrature points
    (:func:`fe2.stability.ellipticity`) and its band normal (nel, dim), and a summary of the whole
    body: the least value ("min"), "relative" to the least value at F = I of that point's law (its
    ``tensor``: for a cell-backed point, the virgin cell's condensed tangent), where ("element",
    "quadrature point", "position", "normal"), how many points are at or below 0 ("lost",
    of "points") and the "seconds" it took."""
    body = problem.body
    clock = time.perf_counter()
    values, normals, _ = stability.ellipticity(np.asarray(tangent))
    seconds = time.perf_counter() - clock
    q = np.argmin(values, axis=1)
    elements = np.arange(values.shape[0])
    least, normal = values[elements, q], normals[elements, q]
    reference = stability.ellipticity(np.stack([body.materials[name].tensor(body.dim) for name in body.phases]))[0]
    element = int(np.argmin(least))
    position = body.basis.mapping.F(body.basis.X)[:, element, q[element]]
    summary = {"min": float(least[element]), "relative": float(least[element] / reference[body.phase[element]]),
               "element": element, "quadrature point": int(q[element]), "position": np.asarray(position).tolist(),
               "normal": normal[element].tolist(), "lost": int(np.sum(values <= 0)), "points": int(values.size),
               "seconds": seconds}
    return least, normal, summary


def micro_ellipticity_fields(problem, states):
    """Finite strain: per macro element the least ellipticity over the micro points of the cells at its
    quadrature points (:meth:`fe2.RVELaw.micro_ellipticity`; NaN where no phase has cells), and a
    summary ("min", "element", "quadrature point", "micro element", "seconds"), or (None, None) when no
    phase is cell-backed."""
    body = problem.body
    clock = time.perf_counter()
    values = np.full(body.dx.shape, np.nan)
    micro = np.full(body.dx.shape, -1)
    found = False
    for index, name in enumerate(body.phases):
        law, state = body.materials[name], states.get(name)
        if state is None or not callable(getattr(law, "micro_ellipticity", None)):
            continue
        elements = body.phase_elements[index]
        values[elements], micro[elements] = law.micro_ellipticity(state)
        found = True
    if not found or np.all(np.isnan(values)):
        return None, None
    element, q = np.unravel_index(np.nanargmin(values), values.shape)
    summary = {"min": float(values[element, q]), "element": int(element), "quadrature point": int(q),
               "micro element": int(micro[element, q]), "seconds": time.perf_counter() - clock}
    return np.fmin.reduce(values, axis=1), summary   # NaN where no point has a cell


def _earlier_stability(folder, number):
    """The first loss of ellipticity and the (load, least value) of the last step before step ``number``
    in the run record of ``folder`` (a restarted writer carries them on), or (None, None)."""
    try:
        steps = [s for s in json.loads((Path(folder) / FILE).read_text()).get("steps", []) if s["number"] < number]
    except (OSError, ValueError):
        return None, None
    loss = next((s.get("ellipticity loss") for s in steps if s.get("ellipticity loss")), None)
    last = steps[-1] if steps else None
    previous = ((last["load"], last["ellipticity"]["min"]) if last and last.get("ellipticity") else None)
    return loss, previous


def placement(body, element, cell, micro_scale=0.8):
    """Where the micro cell of macro ``element`` is drawn: (scale, translation (3,), centre (3,)) with
    x = scale * y + translation, the cell's bounding-box centre on the element's centroid and its
    bounding-box diagonal ``micro_scale`` times the element's."""
    if body.mesh.p.shape[0] != cell.mesh.p.shape[0]:
        raise ValueError(f"a {cell.mesh.p.shape[0]}D cell cannot be placed in a {body.mesh.p.shape[0]}D macro mesh")
    corners = body.mesh.p[:, body.mesh.t[:, element]]
    centre = corners.mean(axis=1)
    low, high = cell.mesh.p.min(axis=1), cell.mesh.p.max(axis=1)
    scale = micro_scale * np.linalg.norm(np.ptp(corners, axis=1)) / np.linalg.norm(high - low)
    translation = centre - scale * (low + high) / 2
    return scale, pad(translation[None])[0], pad(centre[None])[0]


def _write_micro_files(body, element, cell, mesh, path, units, micro_scale):
    """micro_<e>.vtu in cell coordinates and placed_micro_<e>.vtu beside the macro point."""
    path = Path(path)
    micro_units = array_units(units, mesh, cell.physics.name, intensive_only=True)
    save_vtu(mesh, path, units=micro_units)
    scale, translation, centre = placement(body, element, cell, micro_scale)
    mesh.points = scale * mesh.points + translation
    placed_units = {**micro_units, **({"length": units["length"]} if units and "length" in units else {})}
    placed = save_vtu(mesh, path.with_name(f"placed_{path.name}"), units=placed_units, field_data={
        "placement_scale": np.array([scale]), "placement_translation": translation[None],
        "placement_centre": centre[None], "macro_element": np.array([element])})
    return placed, micro_units


def _write_units(path, quantities, macro, micro):
    """units.json: the given quantities and the unit of every macro and micro array written."""
    text = json.dumps({"quantities": quantities, "macro": macro, "micro": micro}, indent=1, ensure_ascii=False)
    atomic_write(path, text + "\n")


def _step_of(file):
    """The step number of a file ``step_k/...`` of the series."""
    match = re.match(r"step_(\d+)/", file)
    return int(match.group(1)) if match else 0


def _series_loads(folder):
    """The load factors of the steps already listed in folder/macro.pvd."""
    return [t for t, _, _ in read_pvd(Path(folder) / "macro.pvd")]
