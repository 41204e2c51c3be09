"""An FE² run end to end: ParaView output read back through VTK, checkpoints and restart."""

import logging

import numpy as np
import pytest

import fe2
from fe2.macro import Dirichlet, Problem
from fe2.io import MacroWriter, most_strained

from conftest import plate

pv = pytest.importorskip("pyvista")


class Kill(Exception):
    pass


def test_kill_and_restart_reproduces_an_uninterrupted_run(tmp_path, caplog):
    whole = plate().solve(4, checkpoint=tmp_path / "whole.npz")

    def die_at_step_3(step, u, states, problem):
        if step.number == 3:
            raise Kill  # killed after step 2's checkpoint, while step 3 was being written
    with pytest.raises(Kill):
        plate().solve(4, callback=die_at_step_3, checkpoint=tmp_path / "run.npz")
    assert fe2.checkpoint.load(tmp_path / "run.npz")["number"] == 2
    problem = plate()
    caplog.set_level(logging.INFO, logger="fe2")
    rest = problem.solve(4, checkpoint=tmp_path / "run.npz", restart=True)
    assert "restarting from" in caplog.text and [s.number for s in rest] == [3, 4]
    np.testing.assert_array_equal(rest[-1].field, whole[-1].field)
    for a, b in zip(problem.states["plate"].ravel(), fe2.checkpoint.load(tmp_path / "whole.npz")["states"]["plate"].ravel()):
        np.testing.assert_array_equal(a["micro"]["matrix"]["p"], b["micro"]["matrix"]["p"])


def test_restart_without_checkpoint_or_from_another_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        plate().solve(2, checkpoint=tmp_path / "none.npz", restart=True)
    fe2.checkpoint.save(tmp_path / "other.npz", ndofs=3)
    with pytest.raises(fe2.checkpoint.CheckpointError, match="other.npz: it records no inputs to check this run against"):
        plate().solve(2, checkpoint=tmp_path / "other.npz", restart=True)


def test_pvd_series_and_micro_fields_read_back(tmp_path):
    problem = plate()
    writer = MacroWriter(tmp_path, micro_points=most_strained)
    steps = problem.solve(3, callback=writer)
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


def plate_on(executor, cell_h=0.3):
    problem = plate(cell_h)
    law = problem.body.materials["plate"]
    problem.body.materials["plate"] = fe2.RVELaw(law.cell, law.bc, executor=executor)
    return problem


@pytest.mark.parametrize("spec", ["serial", "processes", "dask"])
def test_executors_agree_and_keep_histories_on_the_workers(tmp_path, spec):
    """Solved to 1e-12 (macro and micro), the runs agree to 1e-12 of the field: workers run their
    linear algebra on one thread, so round-off differs, but no more than that."""
    reference = plate().solve(2, tol=1e-12)[-1].field
    with fe2.parallel.executor(spec, workers=2) as ex:
        problem = plate_on(ex)
        writer = MacroWriter(tmp_path, micro_points=most_strained)
        steps = problem.solve(2, tol=1e-12, callback=writer, checkpoint=tmp_path / "run.npz")
        assert isinstance(problem.states["plate"], fe2.macro.rve_law.Histories)   # only a token on this side
        np.testing.assert_allclose(steps[-1].field, reference, rtol=0, atol=1e-12 * np.abs(reference).max())
        assert len(list((tmp_path / "step_002").glob("micro_*.vtu"))) == 1
        saved = fe2.checkpoint.load(tmp_path / "run.npz")
        assert saved["states"]["plate"].dtype == object and saved["states"]["plate"][0, 0]["micro"]["matrix"]["p"].size


@pytest.mark.parametrize("spec", ["processes", "dask"])
def test_restart_on_workers_continues_exactly(tmp_path, spec):
    """Restart from the checkpoint of step 1: the workers are seeded from the gathered histories and
    step 2 gives the uninterrupted run's field."""
    import shutil

    def keep_step_1(step, u, states, problem):
        if step.number == 2:  # the checkpoint file still holds step 1 while step 2 is written
            shutil.copy(tmp_path / "run.npz", tmp_path / "step1.npz")
    with fe2.parallel.executor(spec, workers=2) as ex:
        whole = plate_on(ex).solve(2, tol=1e-12, callback=keep_step_1, checkpoint=tmp_path / "run.npz")
    with fe2.parallel.executor(spec, workers=2) as ex:
        rest = plate_on(ex).solve(2, tol=1e-12, checkpoint=tmp_path / "step1.npz", restart=True)
    assert [s.number for s in rest] == [2]
    np.testing.assert_allclose(rest[-1].field, whole[-1].field, rtol=0, atol=1e-12 * np.abs(whole[-1].field).max())


def bar_problem(law, nx=4, ny=2, pull=0.08):
    import skfem
    x = np.linspace(0, 4.0, nx + 1)
    mesh = skfem.MeshTri.init_tensor(x, np.linspace(0, 1, ny + 1)).with_defaults()
    return Problem(mesh, law, dirichlet=[Dirichlet("left", 0.0, components=0), Dirichlet("bottom", 0.0, components=1),
                                         Dirichlet("right", pull, components=0)])


def test_worker_failures_are_cut_back_like_serial_ones():
    """Micro solves that fail on the workers: every answer is read, the cut-backs retry from the
    committed histories, and the run equals the serial one step for step."""
    cell = plate().body.materials["plate"].cell
    serial = bar_problem(fe2.RVELaw(cell, max_iterations=2), pull=0.005).solve(1, max_cutbacks=8)
    assert sum(s.cutbacks for s in serial) >= 4 and len(serial) >= 5
    with fe2.parallel.executor("processes", workers=2) as ex:
        parallel = bar_problem(fe2.RVELaw(cell, max_iterations=2, executor=ex), pull=0.005).solve(1, max_cutbacks=8)
    assert [s.load for s in parallel] == [s.load for s in serial]
    np.testing.assert_allclose(parallel[-1].field, serial[-1].field, rtol=0, atol=1e-9 * np.abs(serial[-1].field).max())


def test_fewer_points_than_workers(tmp_path):
    cell = plate().body.materials["plate"].cell
    with fe2.parallel.executor("processes", workers=3) as ex:
        problem = bar_problem(fe2.RVELaw(cell, executor=ex), nx=1, ny=1, pull=0.004)  # 2 points, 3 workers
        steps = problem.solve(2, callback=MacroWriter(tmp_path, micro_points=[0]), checkpoint=tmp_path / "c.npz")
    assert len(steps) == 2 and (tmp_path / "step_002" / "micro_0.vtu").is_file()


def test_micro_fields_of_a_linear_cell(tmp_path):
    cell = fe2.Cell(fe2.geometry.inclusion(0.4, h=0.3, phases=("matrix", "fiber")),
                    {"matrix": fe2.Isotropic(70.0, 0.33), "fiber": fe2.Isotropic(400.0, 0.2)})
    problem = bar_problem(fe2.RVELaw(cell), pull=0.004)
    problem.solve(1, callback=MacroWriter(tmp_path, micro_points=[3]))
    micro = pv.read(tmp_path / "step_001" / "micro_3.vtu")
    strain = problem.body.strain(problem.solve(1)[-1].field)[3, 0]
    volumes = micro.compute_cell_sizes(length=False, volume=False)["Area"]
    mean = volumes @ micro.cell_data["strain"].reshape(-1, 9) / volumes.sum()
    np.testing.assert_allclose(fe2.notation.to_mandel(mean.reshape(3, 3)[:2, :2]), strain, rtol=1e-10, atol=1e-14)


def test_one_executor_law_per_phase():
    import skfem
    cell = plate().body.materials["plate"].cell
    mesh = skfem.MeshTri.init_tensor(np.linspace(0, 2, 3), np.linspace(0, 1, 2)).with_defaults().with_subdomains(
        {"a": lambda x: x[0] < 1, "b": lambda x: x[0] >= 1})
    with fe2.parallel.executor("serial") as ex:
        law = fe2.RVELaw(cell, executor=ex)
        with pytest.raises(ValueError, match=r"phases \['a', 'b'\] share one RVELaw with an executor"):
            Problem(mesh, {"a": law, "b": law}, dirichlet=[Dirichlet("left", 0.0)])


def test_a_killed_run_restarts_and_reaches_the_same_result(tmp_path):
    """SIGKILL the flagship case once its second step is checkpointed; --restart finishes it, and
    the final state equals an uninterrupted run's."""
    import os
    import runpy
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path
    case = Path(__file__).resolve().parent.parent / "cases" / "plate_with_hole.py"
    args = ["--h", "0.3", "--cell-h", "0.3", "--steps", "5", "--executor", "serial"]
    env = {**os.environ, "PYTHONPATH": str(case.parent.parent)}
    subprocess.run([sys.executable, str(case), "--out", str(tmp_path / "whole"), *args], check=True, env=env,
                   capture_output=True)
    run = subprocess.Popen([sys.executable, str(case), "--out", str(tmp_path / "killed"), *args], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoint = tmp_path / "killed" / "checkpoint.npz"
    deadline = time.time() + 120
    while time.time() < deadline:
        if checkpoint.is_file() and fe2.checkpoint.load(checkpoint)["number"] >= 2:
            break
        time.sleep(0.05)
    run.send_signal(signal.SIGKILL)
    run.wait()
    assert fe2.checkpoint.load(checkpoint)["number"] < 5  # it really was interrupted
    main = runpy.run_path(str(case), run_name="case")["main"]
    with pytest.raises(fe2.checkpoint.CheckpointError, match=r"Dirichlet condition on 'right' / value is 0\.008 in "
                                                             r"this run but 0\.004 in the checkpoint"):
        main(["--out", str(tmp_path / "killed"), "--restart", "--strain", "0.008", *args])   # other inputs: refused
    subprocess.run([sys.executable, str(case), "--out", str(tmp_path / "killed"), "--restart", *args], check=True,
                   env=env, capture_output=True)
    whole, resumed = fe2.checkpoint.load(tmp_path / "whole" / "checkpoint.npz"), fe2.checkpoint.load(checkpoint)
    assert resumed["number"] == whole["number"] == 5
    np.testing.assert_array_equal(resumed["u"], whole["u"])
    assert "step_005/macro.vtu" in (tmp_path / "killed" / "macro.pvd").read_text()
    with pytest.raises(fe2.checkpoint.CheckpointError, match=r"its run is finished \(step 5 reached load 1, the full"):
        main(["--out", str(tmp_path / "killed"), "--restart", *args])


def test_micro_output_has_the_plastic_plane_strain_stress(tmp_path):
    """sigma_zz of a plastic plane-strain cell is C (eps - eps_p)_zz, not the elastic row times eps:
    the written von Mises is that of the full stress the law returns."""
    problem = plate()
    problem.solve(2, callback=MacroWriter(tmp_path, micro_points=most_strained))
    micro = pv.read(next((tmp_path / "step_002").glob("micro_*.vtu")))
    law = problem.body.materials["plate"]
    stress = micro.cell_data["stress"].reshape(-1, 3, 3)
    J2 = law.cell.materials["matrix"]
    plastic = (micro.cell_data["plastic_strain"] > 0) & (micro.cell_data["phase"] == law.cell.phases.index("matrix"))
    assert plastic.any()
    # in the plastic elements the equivalent stress is at the (hardened) flow stress: sigma_y + H p
    flow = J2.flow_stress(micro.cell_data["plastic_strain"][plastic])
    np.testing.assert_allclose(micro.cell_data["von_mises"][plastic], flow, rtol=1e-6)
    assert np.all(np.isfinite(stress[:, 2, 2]))
