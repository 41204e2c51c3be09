"""An FE² run end to end: ParaView output read back through VTK, checkpoints and restart."""

import io

import numpy as np
import pytest

import fe2
from fe2.macro import Dirichlet, Problem
from fe2.output import MacroWriter, most_strained

pv = pytest.importorskip("pyvista")


def plate(cell_h=0.3):
    cell = fe2.Cell(fe2.geometry.inclusion(0.4, h=cell_h, phases=("matrix", "fiber")),
                    {"matrix": fe2.J2Plasticity(E=70.0, nu=0.33, yield_stress=0.2, hardening=1.0),
                     "fiber": fe2.Isotropic(E=400.0, nu=0.2)})
    mesh = fe2.geometry.plate_with_hole(width=1.0, radius=0.3, h=0.3)
    return Problem(mesh, {"plate": fe2.RVELaw(cell)}, dirichlet=[
        Dirichlet("left", 0.0, components=(0,)), Dirichlet("bottom", 0.0, components=(1,)),
        Dirichlet("right", 0.005, components=(0,))])


class Kill(Exception):
    pass


def test_kill_and_restart_reproduces_an_uninterrupted_run(tmp_path):
    whole = plate().solve(4, log=None, checkpoint=tmp_path / "whole.pkl")

    def die_at_step_3(step, u, states, problem):
        if step.number == 3:
            raise Kill  # killed after step 2's checkpoint, while step 3 was being written
    with pytest.raises(Kill):
        plate().solve(4, log=None, callback=die_at_step_3, checkpoint=tmp_path / "run.pkl")
    assert fe2.checkpoint.load(tmp_path / "run.pkl")["number"] == 2
    log = io.StringIO()
    problem = plate()
    rest = problem.solve(4, log=log, checkpoint=tmp_path / "run.pkl", restart=True)
    assert "restarting from" in log.getvalue() and [s.number for s in rest] == [3, 4]
    np.testing.assert_array_equal(rest[-1].field, whole[-1].field)
    for a, b in zip(problem.states["plate"].ravel(), fe2.checkpoint.load(tmp_path / "whole.pkl")["states"]["plate"].ravel()):
        np.testing.assert_array_equal(a["micro"]["matrix"]["p"], b["micro"]["matrix"]["p"])


def test_restart_without_checkpoint_or_from_another_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        plate().solve(2, log=None, checkpoint=tmp_path / "none.pkl", restart=True)
    fe2.checkpoint.save(tmp_path / "other.pkl", ndofs=3)
    with pytest.raises(ValueError, match="is of a problem with 3 DOFs"):
        plate().solve(2, log=None, checkpoint=tmp_path / "other.pkl", restart=True)


def test_pvd_series_and_micro_fields_read_back(tmp_path):
    problem = plate()
    writer = MacroWriter(tmp_path, micro_points=most_strained)
    steps = problem.solve(3, log=None, callback=writer)
    series = pv.get_reader(str(tmp_path / "macro.pvd"))
    np.testing.assert_allclose(series.time_values, [s.load for s in steps])
    series.set_active_time_value(series.time_values[-1])
    macro = series.read()[0]
    for name in ("displacement", "stress", "strain"):
        assert name in macro.point_data.keys()
    for name in ("plastic_strain", "hill_mandel", "phase", "stress"):
        assert name in macro.cell_data.keys()
    np.testing.assert_allclose(macro.point_data["displacement"][:, :2], steps[-1].field[problem.body.vertex_dofs], atol=1e-15)
    assert macro.cell_data["hill_mandel"].max() < 1e-8
    p = macro.cell_data["plastic_strain"]
    micro_files = list((tmp_path / "step_003").glob("micro_*.vtu"))
    assert len(micro_files) == 1 and micro_files[0].stem == f"micro_{int(np.argmax(p))}"
    micro = pv.read(micro_files[0])
    cell_law = problem.body.materials["plate"]
    # the micro cell's averaged stress equals the macro stress at that point
    volumes = micro.compute_cell_sizes(length=False, volume=False)["Area"]
    mean = volumes @ micro.cell_data["stress"].reshape(-1, 9) / volumes.sum()
    np.testing.assert_allclose(mean.reshape(3, 3)[:2, :2], macro.cell_data["stress"].reshape(-1, 3, 3)[int(np.argmax(p))][:2, :2],
                               rtol=1e-8, atol=1e-10)
    assert micro.cell_data["plastic_strain"].max() > p.max()  # plastic flow is localized in the matrix
    assert isinstance(cell_law, fe2.RVELaw)
