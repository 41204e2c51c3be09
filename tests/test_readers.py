"""Every file `make demo` writes for ParaView (cases/plate_with_hole.py with the Makefile's arguments,
about a minute on 2 cores), read completely through meshio and through VTK (pyvista): each
.vtu on its own, each .pvd series through VTK's PVD reader and entry by entry through meshio. Both
readers see the same arrays with the expected names, shapes and values, finite everywhere, and the
units VTK loads with the arrays are those of units.json."""

import json
import runpy
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
import pytest

import fe2

pv = pytest.importorskip("pyvista")
meshio = pytest.importorskip("meshio")

CASE = Path(__file__).resolve().parent.parent / "cases" / "plate_with_hole.py"
STEPS = 5   # the case's default load steps, as make demo runs it

# array -> number of components (1: a scalar) of every file kind; field data -> shape
MACRO = {"point": {"displacement": 3, "strain": 9, "stress": 9},
         "cell": {"phase": 1, "strain": 9, "stress": 9, "von_mises": 1, "plastic_strain": 1, "hill_mandel": 1},
         "field": {"plate": (2,)}}
MICRO = {"point": {"displacement": 3, "fluctuation": 3},
         "cell": {"phase": 1, "strain": 9, "stress": 9, "von_mises": 1, "plastic_strain": 1},
         "field": {"matrix": (2,), "fiber": (2,)}}
PLACED = {**MICRO, "field": {**MICRO["field"], "placement_scale": (1,), "placement_translation": (1, 3),
                             "placement_centre": (1, 3), "macro_element": (1,)}}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The output folder of the flagship case run as `make demo` runs it, and its run record."""
    makefile = (CASE.parent.parent / "Makefile").read_text().splitlines()
    demo = makefile[makefile.index(next(line for line in makefile if line.startswith("demo:"))) + 1].split()
    assert demo[1:] == ["cases/plate_with_hole.py", "--out", "$(OUT)/plate_with_hole", "--overwrite"], demo
    folder = tmp_path_factory.mktemp("flagship")
    runpy.run_path(str(CASE), run_name="case")["main"](["--out", str(folder), "--overwrite"])
    return folder, json.loads((folder / "run.json").read_text())


def read_meshio(path):
    """meshio.read, with meshio's exit on a file it cannot read turned into a test failure."""
    try:
        return meshio.read(path)
    except SystemExit:
        pytest.fail(f"meshio could not read {path} and exited")


def kind(path):
    return PLACED if path.name.startswith("placed_micro_") else MICRO if path.name.startswith("micro_") else MACRO


def vtk_unit(data, name):
    return fe2.io.array_unit(data.GetAbstractArray(name))


def check_vtu(path, table):
    """Read ``path`` through both readers; the arrays agree, have the expected shapes and are finite."""
    expected = kind(path)
    mesh, grid = read_meshio(path), pv.read(path)
    assert len(mesh.points) == grid.n_points > 0 and sum(len(block.data) for block in mesh.cells) == grid.n_cells > 0
    np.testing.assert_array_equal(mesh.points, grid.points)
    for where, ours, theirs, n in (("point", mesh.point_data, grid.point_data, grid.n_points),
                                   ("cell", {k: v[0] for k, v in mesh.cell_data.items()}, grid.cell_data, grid.n_cells)):
        assert set(ours) == set(theirs.keys()) == set(expected[where]), (path, where)
        for name, components in expected[where].items():
            shape = (n,) if components == 1 else (n, components)
            assert ours[name].shape == theirs[name].shape == shape, (path, name)
            np.testing.assert_array_equal(ours[name], theirs[name])
            assert np.isfinite(ours[name]).all(), f"{name} of {path} is not finite everywhere"
    assert set(mesh.field_data) == set(grid.field_data.keys()) == set(expected["field"])
    for name, shape in expected["field"].items():
        assert mesh.field_data[name].reshape(shape).tolist() == np.reshape(grid.field_data[name], shape).tolist()
    # plane strain: full symmetric stress tensors with sigma_zz, in-plane displacements
    stress = grid.cell_data["stress"].reshape(-1, 3, 3)
    np.testing.assert_allclose(stress, stress.transpose(0, 2, 1), atol=1e-12)
    assert np.abs(stress[:, 2, 2]).max() > 0 and np.all(stress[:, 2, :2] == 0)
    assert np.all(grid.point_data["displacement"][:, 2] == 0)
    # units: what VTK loads with each array = fe2.io.read_units (no VTK) = units.json of the run
    units = fe2.io.read_units(path)
    scale = table["macro"] if expected is MACRO else table["micro"]
    for name in [*expected["point"], *expected["cell"]]:
        data = grid.GetCellData() if name in expected["cell"] else grid.GetPointData()
        assert vtk_unit(data, name) == units.get(name, "") == scale.get(name, ""), (path, name)
    return grid


def read_pvd_xml(path):
    """(time, file, part) of a .pvd as any XML reader sees it."""
    return [(float(d.get("timestep")), d.get("file"), int(d.get("part")))
            for d in ElementTree.parse(path).getroot().iter("DataSet")]


def test_every_file_of_a_run_reads_through_meshio_and_vtk(run):
    folder, record = run
    loads = [step["load"] for step in record["steps"]]
    assert len(loads) == STEPS
    table = json.loads((folder / "units.json").read_text())
    assert table["macro"]["stress"] == table["micro"]["stress"] == "GPa"
    vtus = sorted(folder.rglob("*.vtu"))
    assert len(vtus) == 3 * STEPS  # macro, micro and placed micro of each step
    grids = {path: check_vtu(path, table) for path in vtus}
    macro = [grids[folder / f"step_{k:03d}" / "macro.vtu"] for k in range(1, STEPS + 1)]
    assert macro[-1].cell_data["hill_mandel"].max() < 1e-8 and macro[-1].cell_data["plastic_strain"].max() > 0
    listed = set()
    for name, blocks in (("macro.pvd", 1), ("micro.pvd", 1)):
        entries = read_pvd_xml(folder / name)
        assert sorted({t for t, _, _ in entries}) == pytest.approx(loads, rel=1e-12)
        for t, file, part in entries:  # through meshio, entry by entry
            path = folder / file
            listed.add(path)
            assert len(read_meshio(path).points) == grids[path].n_points
        series = pv.get_reader(str(folder / name))  # through VTK's PVD reader, step by step
        assert series.time_values == pytest.approx(loads, rel=1e-12)
        for t in series.time_values:
            series.set_active_time_value(t)
            read = series.read()
            assert read.n_blocks == blocks
            files = [folder / f for time, f, _ in entries if time == pytest.approx(t, rel=1e-12)]
            for block, path in zip(read, files):
                assert block.n_cells == grids[path].n_cells
                np.testing.assert_array_equal(block.cell_data["stress"], grids[path].cell_data["stress"])
    # the unplaced micro files are the only ones outside the series
    assert set(vtus) - listed == set(folder.glob("step_*/micro_*.vtu")) and len(set(vtus) - listed) == STEPS
