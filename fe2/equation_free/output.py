"""ParaView output of patch dynamics: the patches' fine fields in their places and the coarse field,
as VTU files gathered in PVD series over time (written through meshio and :mod:`fe2.io.vtu`).

* ``patches_NNNN.vtu``: every patch's mesh at its place, point data ``u`` (the fine field at the end
  of the step's first burst), cell data ``patch`` (its index) and ``core`` (1 in the core, 0 in the
  buffer);
* ``coarse_NNNN.vtu``: the coarse grid (patch centres; segments in 1D, quadrilaterals in 2D, the
  periodic wrap left out) with point data ``U`` (the core averages) and, if given, ``reference``.

``patches.pvd`` and ``coarse.pvd`` list them with their times.
"""

from pathlib import Path

import meshio
import numpy as np

from ..io.vtu import pad, save_vtu, write_pvd

CELLS = {1: "line", 2: "quad"}


def patch_mesh(patches, fields):
    """The meshio mesh of all patches in their places with the fine ``fields`` (n_patches, n_nodes)."""
    mesh = patches.mesh()
    kind = {"MeshLine1": "line", "MeshQuad1": "quad", "MeshTri1": "triangle"}[type(mesh).__name__]
    per_patch = patches.reference.t.shape[1]
    return meshio.Mesh(pad(mesh.p.T), [(kind, mesh.t.T)],
                       point_data={"u": np.asarray(fields, dtype=float).ravel()},
                       cell_data={"patch": [np.repeat(np.arange(patches.n_patches), per_patch).astype(np.int32)],
                                  "core": [np.tile(patches.core_elements, patches.n_patches).astype(np.int32)]})


def coarse_mesh(patches, U, reference=None):
    """The meshio mesh of the coarse grid (the patch centres) with the coarse state U (and a reference)."""
    count = patches.count
    index = np.arange(patches.n_patches).reshape(count)
    if patches.dim == 1:
        cells = np.stack([index[:-1], index[1:]], axis=1)
    else:
        cells = np.stack([index[:-1, :-1], index[1:, :-1], index[1:, 1:], index[:-1, 1:]], axis=-1).reshape(-1, 4)
    data = {"U": np.asarray(U, dtype=float).ravel()}
    if reference is not None:
        data["reference"] = np.asarray(reference, dtype=float).ravel()
    return meshio.Mesh(pad(patches.centres), [(CELLS[patches.dim], cells)], point_data=data)


def write(folder, scheme, trajectory, references=None):
    """Write the trajectory (:class:`fe2.equation_free.Trajectory`, run with ``keep=True`` for the
    patch fields) of ``scheme`` to ``folder``: the VTU files of every step and the two PVD series.
    ``references``: coarse reference states like ``trajectory.states`` (or None). Returns the PVD paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    coarse, fine = [], []
    for k, (t, U) in enumerate(zip(trajectory.times, trajectory.states)):
        name = f"coarse_{k:04d}.vtu"
        save_vtu(coarse_mesh(scheme.patches, U, None if references is None else references[k]), folder / name,
                 field_data={"time": [float(t)]})
        coarse.append((t, name))
    for k, fields in enumerate(trajectory.fields):   # the fields of step k's first burst, at t_k + δt
        t = trajectory.times[k] + scheme.burst_time
        name = f"patches_{k:04d}.vtu"
        save_vtu(patch_mesh(scheme.patches, fields), folder / name, field_data={"time": [float(t)]})
        fine.append((t, name))
    paths = [write_pvd(folder / "coarse.pvd", coarse)]
    if fine:
        paths.append(write_pvd(folder / "patches.pvd", fine))
    return paths
