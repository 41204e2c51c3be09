"""Checkpoints that run no code when read, name the file when damaged, and refuse a restart whose
inputs differ from those they record."""

import json
import zipfile

import numpy as np
import pytest

import fe2
from fe2.io.checkpoint import CheckpointError
from fe2.macro import Dirichlet, Problem

from conftest import plate


def histories():
    """Micro histories as a solve gathers them: an object array of dicts, None for virgin points."""
    points = np.full((3, 2), None, dtype=object)
    points[0, 1] = {"micro": {"matrix": {"p": np.linspace(0, 1e-3, 6).reshape(2, 3), "eps_p": np.ones((2, 3, 4))},
                              "fiber": None},
                    "field": np.random.default_rng(0).normal(size=10), "strain": np.array([1e-3, 0.0, 2e-4]),
                    "hill_mandel": np.float64(1.2e-17), "iterations": 3, "residuals": [np.float64(0.1), 1e-9],
                    "elastic": np.bool_(False)}
    return points


def test_a_checkpoint_round_trips_exactly_through_arrays_and_json(tmp_path):
    data = {"load": np.float64(0.1) * 3, "u": np.random.default_rng(1).normal(size=50), "states": {"plate": histories()},
            "increment": 0.25, "number": 3, "nothing": None, "pair": (1, "two"), "nan": float("nan")}
    fe2.checkpoint.save(tmp_path / "c.npz", **data)
    back = fe2.checkpoint.load(tmp_path / "c.npz")
    assert back["load"] == data["load"] and type(back["load"]) is np.float64
    np.testing.assert_array_equal(back["u"], data["u"])
    assert back["number"] == 3 and back["nothing"] is None and back["pair"] == (1, "two") and np.isnan(back["nan"])
    states = back["states"]["plate"]
    assert states.dtype == object and states.shape == (3, 2) and states[0, 0] is None
    point, original = states[0, 1], data["states"]["plate"][0, 1]
    for key in ("field", "strain"):
        np.testing.assert_array_equal(point[key], original[key])
    np.testing.assert_array_equal(point["micro"]["matrix"]["eps_p"], original["micro"]["matrix"]["eps_p"])
    assert point["micro"]["fiber"] is None and point["residuals"] == [0.1, 1e-9] and point["iterations"] == 3
    # no pickles anywhere: every member is an .npy array NumPy reads with allow_pickle=False, or the JSON header
    with zipfile.ZipFile(tmp_path / "c.npz") as archive:
        names = archive.namelist()
        header = json.loads(archive.read("header.json"))
    assert all(name.endswith(".npy") for name in names if name != "header.json")
    assert header["format"] == "fe2 checkpoint" and header["version"] == 1 and len(header["sha256"]) == 64
    with np.load(tmp_path / "c.npz", allow_pickle=False) as npz:
        assert npz["a0"].shape == (50,)


def test_a_pickled_checkpoint_is_refused_without_running_it(tmp_path):
    """A pickle runs code when loaded; the checkpoint reader never loads one."""
    import pickle

    marker = tmp_path / "code ran"

    class Payload:
        def __reduce__(self):
            return (marker.write_text, ("yes",))

    for name in ("checkpoint.npz", "checkpoint.pkl"):
        (tmp_path / name).write_bytes(pickle.dumps({"load": 0.5, "payload": Payload()}, protocol=4))
    with pytest.raises(CheckpointError, match=r"checkpoint\.npz is a pickled checkpoint .* loading a pickle runs code"):
        fe2.checkpoint.load(tmp_path / "checkpoint.npz")
    assert not marker.exists()
    (tmp_path / "checkpoint.npz").unlink()   # the folder of an earlier fe2: only checkpoint.pkl
    with pytest.raises(CheckpointError, match=r"no checkpoint at .*checkpoint\.npz, only .*checkpoint\.pkl, a pickled"):
        fe2.checkpoint.load(tmp_path / "checkpoint.npz")
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["truncated", "garbage", "flipped byte", "empty"])
def test_a_damaged_checkpoint_is_named_in_one_line(tmp_path, damage):
    path = tmp_path / "checkpoint.npz"
    fe2.checkpoint.save(path, load=0.5, u=np.arange(2000.0), states={"plate": histories()})
    content = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(content[:len(content) // 2])
    elif damage == "garbage":
        path.write_bytes(np.random.default_rng(2).bytes(len(content)))
    elif damage == "empty":
        path.write_bytes(b"")
    else:  # one byte of the field's values, inside the zip
        at = content.index(np.arange(2000.0)[1000:1002].tobytes())
        path.write_bytes(content[:at] + bytes([content[at] ^ 0x10]) + content[at + 1:])
    with pytest.raises(CheckpointError) as error:
        fe2.checkpoint.load(path)
    message = str(error.value)
    assert str(path) in message and "\n" not in message
    assert ("damaged" in message) or ("not an fe2 checkpoint" in message)


def test_a_failed_save_leaves_the_last_checkpoint(tmp_path):
    path = tmp_path / "checkpoint.npz"
    fe2.checkpoint.save(path, number=1)
    with pytest.raises(TypeError, match=r"states/plate is a Histories"):
        fe2.checkpoint.save(path, number=2, states={"plate": fe2.macro.rve_law.Histories(3, (2, 1))})
    assert fe2.checkpoint.load(path) == {"number": 1} and sorted(p.name for p in tmp_path.iterdir()) == [path.name]


# --- restarts that check their inputs ------------------------------------------------------------------
class Stop(Exception):
    pass


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """The checkpoint of plate() (pull 0.005, 2 steps) stopped after step 1, and of the finished run."""
    folder = tmp_path_factory.mktemp("runs")

    def stop_at_step_2(step, u, states, problem):
        if step.number == 2:
            raise Stop
    with pytest.raises(Stop):
        plate().solve(2, callback=stop_at_step_2, checkpoint=folder / "stopped.npz")
    plate().solve(2, checkpoint=folder / "finished.npz")
    return folder


def other_cell_h(cell_h):
    return plate(cell_h=cell_h)


def other_yield_stress():
    problem = plate()
    cell = problem.body.materials["plate"].cell
    laws = dict(cell.materials, matrix=fe2.J2Plasticity(E=70.0, nu=0.33, yield_stress=0.25, hardening=1.0))
    return Problem(problem.body.mesh, {"plate": fe2.RVELaw(fe2.Cell(cell.mesh, laws), "periodic")},
                   dirichlet=problem.dirichlet)


def other_condition():
    problem = plate()
    return Problem(problem.body.mesh, {"plate": fe2.RVELaw(problem.body.materials["plate"].cell, "kubc")},
                   dirichlet=problem.dirichlet)


def extra_traction():
    problem = plate()
    return Problem(problem.body.mesh, problem.body.materials, dirichlet=problem.dirichlet,
                   neumann=[fe2.macro.Traction("top", [0.0, 0.01])])


@pytest.mark.parametrize("changed, steps, message", [
    (lambda: plate(pull=0.008), 2,
     r"Dirichlet condition on 'right' / value is 0\.008 in this run but 0\.005 in the checkpoint"),
    (lambda: other_cell_h(0.25), 2, r"material 'plate' / cell / vertices is \d+ in this run but \d+ in the checkpoint"),
    (other_yield_stress, 2,
     r"material 'plate' / cell laws / matrix / yield_stress is 0\.25 in this run but 0\.2 in the checkpoint"),
    (other_condition, 2, r"material 'plate' / condition is .*Kubc.* in this run but .*Periodic.* in the checkpoint"),
    (extra_traction, 2, r"the checkpoint has no traction on 'top'"),
    (plate, 4, r"load schedule is \[0\.25, 0\.5, 0\.75, 1\.0\] in this run but \[0\.5, 1\.0\] in the checkpoint"),
])
def test_a_restart_with_other_inputs_is_refused_naming_what_differs(interrupted, changed, steps, message):
    problem = changed()
    with pytest.raises(CheckpointError, match=rf"^cannot restart from .*stopped\.npz: {message}; restart with the"):
        problem.solve(steps, checkpoint=interrupted / "stopped.npz", restart=True)


def test_a_restart_of_another_fe2_version_is_refused(interrupted, monkeypatch):
    monkeypatch.setattr(fe2, "__version__", "9.9.9")
    with pytest.raises(CheckpointError, match=r'fe2 version is "9\.9\.9" in this run but "0\.1\.0" in the checkpoint'):
        plate().solve(2, checkpoint=interrupted / "stopped.npz", restart=True)


def test_a_restart_continues_with_the_same_inputs_and_refuses_a_finished_run(interrupted, tmp_path):
    import shutil
    shutil.copy(interrupted / "stopped.npz", tmp_path / "c.npz")
    steps = plate().solve(2, checkpoint=tmp_path / "c.npz", restart=True)
    assert [s.number for s in steps] == [2] and fe2.checkpoint.load(tmp_path / "c.npz")["load"] == 1
    for path in (tmp_path / "c.npz", interrupted / "finished.npz"):
        with pytest.raises(CheckpointError, match=rf"{path.name}: its run is finished \(step 2 reached load 1, the full"):
            plate().solve(2, checkpoint=path, restart=True)


def test_fingerprints_of_function_conditions_and_array_parameters():
    """Dirichlet values given by a function: its code and values where it applies are recorded; a
    law's parameters given as arrays (0-d included) are recorded by value."""
    import skfem
    mesh = skfem.MeshTri.init_tensor(np.linspace(0, 2, 3), np.linspace(0, 1, 2)).with_defaults()

    def problem(slope):
        return Problem(mesh, fe2.Isotropic(1.0, 0.3), dirichlet=[Dirichlet("left", 0.0),
                                                                 Dirichlet("right", lambda x: slope * x[1])])
    inputs = {slope: fe2.checkpoint.inputs(problem(slope), [1.0]) for slope in (0.1, 0.2)}
    assert inputs[0.1]["Dirichlet condition on 'right'"] != inputs[0.2]["Dirichlet condition on 'right'"]
    assert inputs[0.1] == fe2.checkpoint.inputs(problem(0.1), [1.0])
    conductors = Problem(mesh, fe2.Conductor(np.array(10.0)), dirichlet=[Dirichlet("left", 0.0)])
    assert fe2.checkpoint.inputs(conductors, [1.0])["material 'all'"]["k"] == 10.0
    assert inputs[0.1]["material 'all'"] == {"law": "Isotropic", "E": 1.0, "nu": 0.3, "lam": pytest.approx(0.5769, abs=1e-4),
                                             "mu": pytest.approx(0.3846, abs=1e-4)}
