"""VTU output reads back through VTK's own reader (pyvista) with the expected arrays and values."""

import numpy as np
import pytest

import fe2

from conftest import materials

pv = pytest.importorskip("pyvista")


@pytest.mark.parametrize("physics", ["elasticity", "conduction"])
def test_vtu_round_trip(tmp_path, inclusion_mesh, physics):
    cell = fe2.Cell(inclusion_mesh, materials(physics))
    result = fe2.homogenize(cell, "periodic")
    paths = fe2.io.write_homogenization(result, tmp_path)
    assert [p.name for p in paths] == [f"periodic_{label}.vtu" for label in cell.physics.labels]
    grid = pv.read(paths[0])
    assert grid.n_points == cell.mesh.p.shape[1] and grid.n_cells == cell.mesh.t.shape[1]
    np.testing.assert_array_equal(grid.cell_data["phase"], cell.phase)
    case = result.cases[0]
    volumes = grid.compute_cell_sizes(length=False, volume=False)["Area"]
    if physics == "elasticity":
        assert {"displacement", "fluctuation"} <= set(grid.point_data.keys())
        stress = grid.cell_data["stress"].reshape(-1, 3, 3)
        # the area-weighted average of the written element stress is the effective stress
        mean = np.einsum("e,eij->ij", volumes, stress) / volumes.sum()
        np.testing.assert_allclose(fe2.notation.to_mandel(mean[:2, :2]), case.stress, rtol=1e-10, atol=1e-12)
        # the fluctuation is periodic: equal on x=0 and x=1 at matching heights
        p, w = grid.points, grid.point_data["fluctuation"]
        left, right = np.flatnonzero(np.isclose(p[:, 0], 0)), np.flatnonzero(np.isclose(p[:, 0], 1))
        left, right = left[np.argsort(p[left, 1])], right[np.argsort(p[right, 1])]
        np.testing.assert_allclose(w[left], w[right], atol=1e-12)
    else:
        flux = grid.cell_data["flux"]
        mean = volumes @ flux / volumes.sum()
        np.testing.assert_allclose(mean[:2], -case.stress, rtol=1e-10, atol=1e-12)
        assert "temperature" in grid.point_data.keys()


def test_plane_strain_stress_and_von_mises(tmp_path):
    """Uniform unit strain e_xx in one material: sigma = (lam + 2 mu, lam, lam) with sigma_zz = lam
    (plane strain), and von Mises of the full 3D stress."""
    from conftest import structured
    law = fe2.Isotropic(E=2.0, nu=0.25)
    cell = fe2.Cell(structured(2, 3), law)
    result = fe2.homogenize(cell, "periodic")
    grid = pv.read(fe2.io.write_homogenization(result, tmp_path)[0])
    stress = grid.cell_data["stress"].reshape(-1, 3, 3)
    expected = np.diag([law.lam + 2 * law.mu, law.lam, law.lam])
    np.testing.assert_allclose(stress, np.broadcast_to(expected, stress.shape), atol=1e-12)
    np.testing.assert_allclose(grid.cell_data["von_mises"], 2 * law.mu, rtol=1e-12)  # |s1 - s2| = 2 mu
    # a law known only in 2D: no sigma_zz, so no von Mises
    cell2 = fe2.Cell(structured(2, 3), fe2.Anisotropic(law.tensor(2)))
    grid2 = pv.read(fe2.io.write_homogenization(fe2.homogenize(cell2), tmp_path / "2d")[0])
    assert "von_mises" not in grid2.cell_data.keys()


def test_atomic_writer_keeps_the_last_complete_file(tmp_path):
    """One writer for every file fe2 replaces (VTU, PVD, run.json, units.json, checkpoints): a write
    that fails half-way leaves the previous file and no temporary file."""
    from fe2.io.files import atomic_write, replaced

    path = tmp_path / "deep" / "out.json"
    assert atomic_write(path, "first ü") == path and path.read_text(encoding="utf-8") == "first ü"
    atomic_write(path, b"second", sync=True)
    assert path.read_bytes() == b"second"
    with pytest.raises(RuntimeError, match="killed"):
        with replaced(path) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert path.read_bytes() == b"second" and sorted(p.name for p in path.parent.iterdir()) == ["out.json"]
    fe2.io.checkpoint.save(tmp_path / "run.pkl", number=3)
    assert fe2.io.checkpoint.load(tmp_path / "run.pkl") == {"number": 3}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep", "run.pkl"]


def test_linear_cell_backed_points_have_the_cell_average_stress_zz(tmp_path, inclusion_mesh):
    """A macro point backed by a linear cell: sigma_zz (cell data of macro.vtu) is the cell average of
    the micro lambda (eps_xx + eps_yy) at that point's macro strain, from homogenize's unit fields."""
    from fe2.io import MacroWriter
    from fe2.macro import Dirichlet, Problem
    from conftest import SOFT, STIFF

    cell = fe2.Cell(inclusion_mesh, {"matrix": SOFT, "inclusion": STIFF})
    unit = []  # <sigma_zz> of the cell's field for each unit macro strain (xx, yy, xy)
    for case in fe2.homogenize(cell, "periodic").cases:
        eps = cell.strain(case.field)
        lam = np.array([cell.materials[name].lam for name in cell.phases])[cell.phase][:, None]
        unit.append(np.sum(cell.dx * lam * (eps[..., 0] + eps[..., 1])) / cell.volume)
    problem = Problem(fe2.geometry.plate_with_hole(width=1.0, radius=0.3, h=0.3), {"plate": fe2.RVELaw(cell)},
                      dirichlet=[Dirichlet("left", 0.0, components=(0,)), Dirichlet("bottom", 0.0, components=(1,)),
                                 Dirichlet("right", 0.01, components=(0,))])
    steps = problem.solve(1, callback=MacroWriter(tmp_path))
    strain = problem.body.strain(steps[-1].field)
    expected = np.sum(problem.body.dx * (strain @ np.array(unit)), axis=1) / problem.body.dx.sum(axis=1)
    stress = pv.read(tmp_path / "step_001" / "macro.vtu").cell_data["stress"].reshape(-1, 3, 3)
    np.testing.assert_allclose(stress[:, 2, 2], expected, rtol=1e-9, atol=1e-14)
    assert np.abs(expected).max() > 1e-3


def test_units_are_array_metadata_that_meshio_reads_past(tmp_path):
    """Units go with the arrays (VTK's UNITS_LABEL), not into string field data: meshio reads the
    file (it would exit the process on a string array), VTK and fe2.io.read_units give the units."""
    import meshio

    from conftest import structured
    cell = fe2.Cell(structured(2, 3), fe2.Conductor(2.0))
    result = fe2.homogenize(cell)
    path = fe2.io.write_vtu(cell, tmp_path / "t.vtu", result.cases[0].field, result.cases[0].strain,
                            units={"length": "m", "temperature": "K", "flux": "W/m^2"}, field_data={"step": [3]})
    assert fe2.io.read_units(path) == {"length": "m", "temperature": "K", "fluctuation": "K", "gradient": "K/m",
                                       "flux": "W/m^2"}
    mesh = meshio.read(path)
    assert mesh.field_data["step"].tolist() == [3] and "gradient" in mesh.cell_data
    grid = pv.read(path)
    assert fe2.io.array_unit(grid.GetCellData().GetArray("gradient")) == "K/m"
    assert fe2.io.array_unit(grid.GetCellData().GetArray("phase")) == ""
    assert fe2.io.array_unit(grid.GetPoints().GetData()) == "m"
    assert list(grid.field_data.keys()) == ["all", "step"]  # the phase and the extra numbers, nothing else
    with pytest.raises(ValueError, match="field data 'name' must be numeric"):
        fe2.io.write_vtu(cell, tmp_path / "bad.vtu", result.cases[0].field, field_data={"name": ["text"]})
    assert not (tmp_path / "bad.vtu").exists()
    with pytest.raises(FileNotFoundError, match="none.vtu"):
        fe2.io.read_units(tmp_path / "none.vtu")
    (tmp_path / "junk.vtu").write_text("not xml")
    with pytest.raises(ValueError, match="junk.vtu is not a VTU"):
        fe2.io.read_units(tmp_path / "junk.vtu")
