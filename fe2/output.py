"""ParaView output of a macro run: one VTU per converged step, a PVD series, micro fields of chosen points.

    writer = fe2.output.MacroWriter("out/plate", micro_points=[12])
    problem.solve(steps=8, callback=writer)

Step k writes ``step_k/macro.vtu`` and, for each chosen macro point (element index, first quadrature
point) of a cell-backed phase, ``step_k/micro_<element>.vtu``; ``macro.pvd`` lists the macro files
against the load factor and is rewritten after every step. Macro fields:
    point data  displacement (temperature), strain and stress averaged to the nodes
    cell data   strain, stress, phase, equivalent plastic strain p (averaged over the cell for
                cell-backed points), Hill-Mandel residual of each point's cell solve (cell-backed)
"""

from pathlib import Path

import numpy as np

from .io import _out_of_plane_row, _pad, _pad_tensor, nodal_average, write_pvd, write_vtu
from .notation import from_mandel
from .rve_law import RVELaw


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
    :func:`most_strained`, whose micro fields are written beside the macro file."""

    def __init__(self, folder, micro_points=()):
        self.folder = Path(folder)
        self.micro_points = micro_points
        self.entries = []

    def __call__(self, step, u, states, problem):
        body = problem.body
        folder = self.folder / f"step_{step.number:03d}"
        if len(self.entries) != step.number - 1:  # a restarted run: the series up to the checkpoint
            self.entries = [(load, f"step_{k + 1:03d}/macro.vtu") for k, load in enumerate(_series_loads(self.folder))][:step.number - 1]
        states = gather(problem, states)  # histories kept on workers come over once per step
        strain = body.strain(u)
        stress = step.stress if step.stress is not None else body.respond(strain, states)[0]
        volume = body.dx.sum(axis=1)[:, None]
        strain_e = np.einsum("eq,eqk->ek", body.dx, strain) / volume
        stress_e = np.einsum("eq,eqk->ek", body.dx, stress) / volume
        p, hill_mandel = self.point_summaries(problem, states)
        point, cell = {}, {"plastic_strain": p, "hill_mandel": hill_mandel}
        if body.physics.name == "elasticity":
            point["strain"] = _pad_tensor(from_mandel(nodal_average(body, strain_e)))
            point["stress"] = _pad_tensor(from_mandel(nodal_average(body, stress_e)))
        else:
            point["gradient"] = _pad(nodal_average(body, strain_e))
            point["flux"] = _pad(-nodal_average(body, stress_e))
        write_vtu(body, folder / "macro.vtu", u, stress=stress, point_data=point, cell_data=cell)
        points = self.micro_points(problem, u, states) if callable(self.micro_points) else self.micro_points
        for element in points:
            self.write_micro(problem, states, element, folder / f"micro_{element}.vtu", u)
        self.entries.append((step.load, f"{folder.name}/macro.vtu"))
        write_pvd(self.folder / "macro.pvd", self.entries)

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
            if isinstance(law, RVELaw):
                law_p, law_hm = law.summaries(state)
                p[elements], hm[elements] = law_p.mean(axis=1), law_hm.max(axis=1)
            elif isinstance(state, dict) and "p" in state:
                p[elements] = state["p"].mean(axis=1)
        return p, hm

    @staticmethod
    def write_micro(problem, states, element, path, u):
        """The micro fields of the cell at the first quadrature point of macro ``element``."""
        body = problem.body
        name = body.phases[body.phase[element]]
        law = body.materials[name]
        if not isinstance(law, RVELaw):
            raise ValueError(f"macro element {element} is in phase {name!r}, which is not cell-backed")
        cell = law.cell
        if law.linear:  # no history: the cell's field for the macro strain at that point
            E = body.strain(u)[element, 0]
            return write_vtu(cell, path, cell.bind(law.bc).field(E), E)
        history = law.histories(states[name])[np.flatnonzero(np.flatnonzero(body.phase == body.phase[element]) == element)[0], 0]
        p = np.zeros(cell.mesh.t.shape[1])
        for index, phase in enumerate(cell.phases):
            micro = history["micro"].get(phase)
            if isinstance(micro, dict) and "p" in micro:
                p[cell.phase == index] = micro["p"].mean(axis=1)
        write_vtu(cell, path, history["field"], history["strain"], stress=law.micro_stress(history),
                  cell_data={"plastic_strain": p},
                  stress_zz=_plane_strain_szz(cell, history) if cell.dim == 2 and cell.physics.name == "elasticity" else None)


def _plane_strain_szz(cell, history):
    """Element-averaged sigma_zz of a plane-strain cell: C (eps - eps_p)_zz from each phase's 3D law."""
    strain = cell.strain(history["field"])
    szz = np.zeros(cell.dx.shape)
    rows = None
    for index, phase in enumerate(cell.phases):
        elements = cell.phase == index
        material, micro = cell.materials[phase], history["micro"].get(phase)
        if hasattr(material, "stress_3d"):
            szz[elements] = material.stress_3d(strain[elements], micro)[..., 2]
        else:
            rows = _out_of_plane_row(cell) if rows is None else rows
            szz[elements] = np.einsum("ek,eqk->eq", rows[elements], strain[elements])
    return np.einsum("eq,eq->e", cell.dx, szz) / cell.dx.sum(axis=1)


def _series_loads(folder):
    """The load factors of the steps already listed in folder/macro.pvd."""
    import re
    path = Path(folder) / "macro.pvd"
    return [float(t) for t in re.findall(r'timestep="([^"]+)"', path.read_text())] if path.is_file() else []
