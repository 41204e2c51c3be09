"""ParaView-ready output read back through VTK's own readers (pyvista): the macro series against the
load factor, the macro and micro arrays and their values, the full plane-strain stress, micro cells
placed beside their macro point (micro.pvd), units, and the single-cell output of homogenize."""

import json
import shutil

import numpy as np
import pytest

import fe2
from fe2.io import read_pvd
from fe2.notation import from_mandel, to_mandel
from fe2.io import MacroWriter

from conftest import plate

pv = pytest.importorskip("pyvista")

UNITS = {"length": "mm", "stress": "GPa"}
MICRO = [0, 7]




@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny FE² run (2 steps, serial) written with units and two micro points."""
    folder = tmp_path_factory.mktemp("fe2_run")
    problem = plate()
    writer = MacroWriter(folder, micro_points=MICRO, units=UNITS)
    steps = problem.solve(2, tol=1e-10, callback=writer)
    return folder, problem, steps, writer


def centroid_and_diameter(mesh, element):
    corners = mesh.p[:, mesh.t[:, element]]
    return corners.mean(axis=1), np.linalg.norm(np.ptp(corners, axis=1))


def test_macro_series_reads_back_with_the_steps_fields(run):
    folder, problem, steps, _ = run
    body = problem.body
    series = pv.get_reader(str(folder / "macro.pvd"))
    np.testing.assert_allclose(series.time_values, [s.load for s in steps], rtol=1e-12)
    assert series.time_values == [0.5, 1.0]
    volume = body.dx.sum(axis=1)
    for step, time in zip(steps, series.time_values):
        series.set_active_time_value(time)
        macro = series.read()[0]
        assert macro.n_points == body.mesh.p.shape[1] and macro.n_cells == body.mesh.t.shape[1]
        assert macro.point_data["displacement"].shape == (macro.n_points, 3)
        assert macro.point_data["stress"].shape == (macro.n_points, 9)
        for name in ("plastic_strain", "hill_mandel", "phase", "stress", "strain"):
            assert name in macro.cell_data.keys(), name
        # the displacement is the step's field, vertex by vertex, in the plane (z = 0)
        u = macro.point_data["displacement"]
        np.testing.assert_allclose(u[:, :2], step.field[body.vertex_dofs], rtol=0, atol=1e-12)
        np.testing.assert_array_equal(u[:, 2], 0.0)
        np.testing.assert_allclose(macro.points[:, :2], body.mesh.p.T, atol=1e-15)
        # the element stress is the volume average of the converged quadrature-point stress
        stress = macro.cell_data["stress"].reshape(-1, 3, 3)
        expected = from_mandel(np.einsum("eq,eqk->ek", body.dx, step.stress) / volume[:, None])
        np.testing.assert_allclose(stress[:, :2, :2], expected, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(stress, stress.transpose(0, 2, 1), atol=1e-14)
        nodal = macro.point_data["stress"].reshape(-1, 3, 3)
        np.testing.assert_allclose(nodal, nodal.transpose(0, 2, 1), atol=1e-14)
        assert np.isfinite(stress).all() and np.isfinite(nodal).all() and np.isfinite(macro.cell_data["von_mises"]).all()
        assert 0 < macro.cell_data["hill_mandel"].max() < 1e-8
        np.testing.assert_array_equal(macro.cell_data["phase"], 0)
    p = macro.cell_data["plastic_strain"]
    assert p.min() >= 0 and p.max() > 1e-3  # the plate yielded at the last step


def test_placed_micro_cells_sit_on_their_macro_points(run):
    folder, problem, steps, _ = run
    mesh = problem.body.mesh
    for element in MICRO:
        micro = pv.read(folder / "step_002" / f"micro_{element}.vtu")
        placed = pv.read(folder / "step_002" / f"placed_micro_{element}.vtu")
        centre, diameter = centroid_and_diameter(mesh, element)
        low, high = np.reshape(placed.bounds, (3, 2)).T
        np.testing.assert_allclose((low + high)[:2] / 2, centre, atol=1e-9)
        assert np.linalg.norm(high - low) == pytest.approx(0.8 * diameter, rel=1e-12)
        micro_low, micro_high = np.reshape(micro.bounds, (3, 2)).T
        scale = float(placed.field_data["placement_scale"][0])
        assert scale == pytest.approx(0.8 * diameter / np.linalg.norm(micro_high - micro_low), rel=1e-12)
        translation = placed.field_data["placement_translation"][0]
        np.testing.assert_allclose(placed.points, scale * micro.points + translation, atol=1e-14)
        np.testing.assert_allclose(placed.field_data["placement_centre"][0][:2], centre, atol=1e-15)
        assert int(placed.field_data["macro_element"][0]) == element
        for name in micro.cell_data.keys():  # only the points move
            np.testing.assert_array_equal(placed.cell_data[name], micro.cell_data[name])
        np.testing.assert_array_equal(placed.point_data["displacement"], micro.point_data["displacement"])


def test_micro_series_lists_the_placed_files_at_the_macro_times(run):
    folder, _, steps, _ = run
    entries = read_pvd(folder / "micro.pvd")
    assert entries == [(s.load, f"step_{s.number:03d}/placed_micro_{e}.vtu", part)
                       for s in steps for part, e in enumerate(MICRO)]
    series = pv.get_reader(str(folder / "micro.pvd"))
    assert series.time_values == pv.get_reader(str(folder / "macro.pvd")).time_values
    series.set_active_time_value(series.time_values[-1])
    blocks = series.read()
    assert blocks.n_blocks == len(MICRO)
    elements = sorted(int(block.field_data["macro_element"][0]) for block in blocks)
    assert elements == MICRO
    # the unplaced micro files do not enter the series, and globbing micro_*.vtu finds only them
    assert sorted(p.name for p in (folder / "step_002").glob("micro_*.vtu")) == [f"micro_{e}.vtu" for e in MICRO]


def vtk_unit(grid, name):
    """The unit VTK loaded with the array ``name`` (cell data first; "length": the points), "" if none."""
    if name == "length":
        return fe2.io.array_unit(grid.GetPoints().GetData())
    array = grid.GetCellData().GetAbstractArray(name) or grid.GetPointData().GetAbstractArray(name)
    return fe2.io.array_unit(array)


def test_units_read_back(run):
    """Units go with each array (VTK's UNITS_LABEL): VTK loads them, fe2.io.read_units reads them
    without VTK, meshio reads the same files (it skips them), and units.json lists them all."""
    import meshio

    folder, *_ = run
    path = folder / "step_001" / "macro.vtu"
    macro = pv.read(path)
    assert (vtk_unit(macro, "length"), vtk_unit(macro, "displacement"), vtk_unit(macro, "stress")) == ("mm", "mm", "GPa")
    assert vtk_unit(macro, "plastic_strain") == vtk_unit(macro, "hill_mandel") == vtk_unit(macro, "strain") == "-"
    assert vtk_unit(macro, "phase") == ""
    assert fe2.io.read_units(path) == {"length": "mm", "displacement": "mm", "strain": "-", "stress": "GPa",
                                       "von_mises": "GPa", "plastic_strain": "-", "hill_mandel": "-"}
    micro = pv.read(folder / "step_001" / "micro_0.vtu")
    assert vtk_unit(micro, "stress") == vtk_unit(micro, "von_mises") == "GPa"
    # micro displacements are in the cell's own length scale: no unit claimed, nor for the coordinates
    assert vtk_unit(micro, "displacement") == vtk_unit(micro, "length") == ""
    assert set(fe2.io.read_units(folder / "step_001" / "micro_0.vtu")) == {"strain", "stress", "von_mises", "plastic_strain"}
    placed = pv.read(folder / "step_001" / "placed_micro_0.vtu")
    assert vtk_unit(placed, "length") == "mm"  # placed in macro coordinates
    np.testing.assert_array_equal(micro.field_data["matrix"], [0, 2])
    np.testing.assert_array_equal(micro.field_data["fiber"], [1, 2])
    assert list(micro.field_data.keys()) == ["matrix", "fiber"]  # numeric field data only
    table = json.loads((folder / "units.json").read_text())
    assert table["quantities"] == UNITS and table["macro"]["stress"] == "GPa" and table["micro"]["von_mises"] == "GPa"
    for name in ("macro.vtu", "micro_0.vtu", "placed_micro_0.vtu"):
        mesh = meshio.read(folder / "step_001" / name)
        assert "stress" in mesh.cell_data and mesh.field_data["matrix" if "micro" in name else "plate"].tolist()[1] == 2


def test_macro_stress_zz_is_the_cell_average_of_the_micro_stress_zz(run):
    """Plane strain: sigma_zz of an FE² point (cell data) is the cell average of the micro sigma_zz,
    here computed from the histories by hand: lambda (eps_xx + eps_yy) - 2 mu eps_p,zz in the J2
    matrix (eps_p is deviatoric), lambda (eps_xx + eps_yy) in the elastic fiber. Point data: the
    area-weighted average of the elements around each vertex, zz included."""
    folder, problem, steps, _ = run
    body = problem.body
    cell = body.materials["plate"].cell
    histories = problem.states["plate"]          # after the last step
    expected = np.empty(body.dx.shape)
    for (e, q), history in np.ndenumerate(histories):
        eps = cell.strain(history["field"])
        szz = np.empty(cell.dx.shape)
        for index, name in enumerate(cell.phases):
            law, mine = cell.materials[name], cell.phase == index
            szz[mine] = law.lam * (eps[mine, :, 0] + eps[mine, :, 1])
            if name == "matrix":
                szz[mine] -= 2 * law.mu * history["micro"]["matrix"]["plastic_strain"][..., 2]
        expected[e, q] = np.sum(cell.dx * szz) / cell.dx.sum()
    expected = np.sum(body.dx * expected, axis=1) / body.dx.sum(axis=1)
    macro = pv.read(folder / f"step_{steps[-1].number:03d}" / "macro.vtu")
    stress = macro.cell_data["stress"].reshape(-1, 3, 3)
    np.testing.assert_allclose(stress[:, 2, 2], expected, rtol=1e-10, atol=1e-14)
    assert expected.max() > 0.1 and np.ptp(expected) > 0.1  # far from zero, and varying over the plate
    assert np.all(stress[:, 2, :2] == 0) and np.all(stress[:, :2, 2] == 0)
    nodal = macro.point_data["stress"].reshape(-1, 3, 3)
    area = body.dx.sum(axis=1)
    for vertex in (0, body.mesh.p.shape[1] // 2, body.mesh.p.shape[1] - 1):
        around = np.flatnonzero((body.mesh.t == vertex).any(axis=0))
        assert nodal[vertex, 2, 2] == pytest.approx(area[around] @ expected[around] / area[around].sum(), rel=1e-10)
    s = stress[0]
    dev = s - np.trace(s) / 3 * np.eye(3)
    assert macro.cell_data["von_mises"][0] == pytest.approx(np.sqrt(1.5 * np.sum(dev * dev)), rel=1e-12)


def test_elastic_plate_has_the_plane_strain_stress_zz(tmp_path):
    """A homogeneous elastic plate: sigma_zz = nu (sigma_xx + sigma_yy) in cell and point data."""
    from fe2.macro import Dirichlet, Problem

    law = fe2.Isotropic(E=3.0, nu=0.3)
    problem = Problem(fe2.geometry.plate_with_hole(width=1.0, radius=0.3, h=0.3), {"plate": law}, dirichlet=[
        Dirichlet("left", 0.0, components=(0,)), Dirichlet("bottom", 0.0, components=(1,)),
        Dirichlet("right", 0.01, components=(0,))])
    problem.solve(1, callback=MacroWriter(tmp_path))
    macro = pv.read(tmp_path / "step_001" / "macro.vtu")
    for data in (macro.cell_data, macro.point_data):
        stress = data["stress"].reshape(-1, 3, 3)
        assert np.abs(stress[:, 0, 0]).max() > 1e-3
        np.testing.assert_allclose(stress[:, 2, 2], law.nu * (stress[:, 0, 0] + stress[:, 1, 1]), rtol=1e-10, atol=1e-14)


def test_micro_newton_histories_are_kept(run):
    _, problem, _, _ = run
    histories = problem.states["plate"].ravel()
    for history in histories:
        residuals = history["residuals"]
        assert len(residuals) == history["iterations"] + 1 and residuals[-1] < 1e-10
        # an increment that stays elastic is equilibrated by the elastic predictor: no iteration
        assert residuals[0] >= 1e-10 or (history["iterations"] == 0 and history["elastic"])
    assert any(not history["elastic"] and history["iterations"] >= 2 for history in histories)


def test_restarted_writer_rebuilds_both_series(run, tmp_path):
    """A new writer that sees step 2 first (a restart from step 1's checkpoint) keeps step 1's
    entries of both series and rewrites step 2's."""
    folder, problem, steps, writer = run
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    before = read_pvd(copy / "micro.pvd"), read_pvd(copy / "macro.pvd")
    again = MacroWriter(copy, micro_points=MICRO, units=UNITS)
    again(steps[-1], steps[-1].field, problem.states, problem)
    assert (read_pvd(copy / "micro.pvd"), read_pvd(copy / "macro.pvd")) == before
    assert again.micro_entries == writer.micro_entries


def test_micro_scale_is_a_positive_fraction(run, tmp_path):
    with pytest.raises(ValueError, match="micro_scale"):
        MacroWriter(tmp_path, micro_scale=0)
    _, problem, steps, _ = run
    (tmp_path / "units.json").write_text('{"macro": {"stress": "GPa"}}')  # of an earlier run in the folder
    MacroWriter(tmp_path, micro_points=[3], micro_scale=0.5)(steps[0], steps[0].field, problem.states, problem)
    placed = pv.read(tmp_path / "step_001" / "placed_micro_3.vtu")
    low, high = np.reshape(placed.bounds, (3, 2)).T
    assert np.linalg.norm(high - low) == pytest.approx(0.5 * centroid_and_diameter(problem.body.mesh, 3)[1], rel=1e-12)
    assert not (tmp_path / "units.json").exists()


def test_homogenize_output_reads_back(tmp_path):
    """The cell's VTU: expected arrays, phases as field data, and the area-weighted element
    averages of stress and strain equal the homogenized ones (exact for element averages)."""
    import meshio

    cell = fe2.Cell(fe2.geometry.inclusion(0.4, h=0.3), {"matrix": fe2.Isotropic(E=1.0, nu=0.3), "inclusion": fe2.Isotropic(E=10.0, nu=0.2)})
    result = fe2.homogenize(cell, "periodic")
    paths = fe2.io.write_homogenization(result, tmp_path)
    for path, case in zip(paths, result.cases):
        grid = pv.read(path)
        assert set(grid.point_data.keys()) == {"displacement", "fluctuation"}
        assert set(grid.cell_data.keys()) == {"phase", "strain", "stress", "von_mises"}
        np.testing.assert_array_equal(grid.field_data["inclusion"], [cell.phases.index("inclusion"), 2])
        area = grid.compute_cell_sizes(length=False, volume=False)["Area"]
        assert area.sum() == pytest.approx(1.0, rel=1e-12)
        stress = np.einsum("e,eij->ij", area, grid.cell_data["stress"].reshape(-1, 3, 3)) / area.sum()
        strain = np.einsum("e,eij->ij", area, grid.cell_data["strain"].reshape(-1, 3, 3)) / area.sum()
        np.testing.assert_allclose(to_mandel(stress[:2, :2]), case.stress, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(to_mandel(strain[:2, :2]), case.strain, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(stress, stress.T, atol=1e-14)
        assert len(meshio.read(path).points) == grid.n_points
    # units on a cell's output; non-ASCII units survive, and meshio reads the file as well
    case = result.cases[0]
    path = fe2.io.write_vtu(cell, tmp_path / "units.vtu", case.field, case.strain, units={"length": "µm", "stress": "MPa"})
    grid = pv.read(path)
    assert vtk_unit(grid, "displacement") == "µm" and vtk_unit(grid, "von_mises") == "MPa"
    assert fe2.io.read_units(path)["length"] == "µm"
    mesh = meshio.read(path)
    np.testing.assert_array_equal(mesh.cell_data["stress"][0], grid.cell_data["stress"])
    np.testing.assert_array_equal(mesh.field_data["inclusion"], [cell.phases.index("inclusion"), 2])
