"""The run record and report of an FE² run: what the report says equals what the run computed and
wrote (steps, iterations, worst Hill-Mandel residual read back from the VTU files, time split within
the wall time), its figures exist, `fe2 report` rebuilds it, and a restart truncates the record."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fe2
from fe2.io import MacroWriter, most_strained
from fe2.io.record import record_step
from fe2.io.report import write_report

from conftest import plate


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The flagship problem at its test size: plate with a hole (h = 0.3), J2 cell (h = 0.3), 2 steps, serial."""
    folder = tmp_path_factory.mktemp("plate")
    problem = plate(pull=0.004)
    steps = problem.solve(2, callback=MacroWriter(folder, micro_points=most_strained))
    return folder, problem, steps, write_report(folder)


def section(text, title):
    """The lines of the report section ``## title``."""
    return text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0].splitlines()


def table(lines):
    """The data rows of the first Markdown table in ``lines`` (after its header and rule)."""
    rows = [line for line in lines if line.startswith("|")]
    return [[cell.strip().strip("*") for cell in row.strip("|").split("|")] for row in rows[2:]]


def assert_picture(path):
    from matplotlib.image import imread
    assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rgb = imread(path)[..., :3]
    assert rgb.std() > 0.02, f"{path} looks blank"


def test_steps_and_iterations(run):
    folder, problem, steps, report = run
    text = report.read_text()
    rows = table(section(text, "Convergence"))
    assert [int(r[0]) for r in rows] == [s.number for s in steps] == [1, 2]
    assert [float(r[1]) for r in rows] == pytest.approx([s.load for s in steps])
    assert [int(r[2]) for r in rows] == [len(s.residuals) - 1 for s in steps]
    assert [float(r[3]) for r in rows] == pytest.approx([s.residuals[-1] for s in steps], rel=1e-2)
    assert all(float(r[3]) <= problem.settings["tol"] for r in rows)
    record = json.loads((folder / "run.json").read_text())
    assert [s["iterations"] for s in record["steps"]] == [len(s.residuals) - 1 for s in steps]
    assert record["steps"][-1]["micro iterations"]["points"] == problem.body.mesh.t.shape[1]
    # every residual evaluation solves every cell: by micro Newton, or as an elastic increment
    points = problem.body.mesh.t.shape[1] * problem.body.dx.shape[1]
    for row, step, entry in zip(rows, steps, record["steps"]):
        assert entry["cell solves"] == step.cell_solves
        assert step.cutbacks or sum(step.cell_solves.values()) == points * len(step.residuals)
        assert row[-2] == f"{step.cell_solves['newton']} / {step.cell_solves['elastic']}"
    assert steps[0].cell_solves["newton"] > 0
    assert f"{sum(s.cell_solves['elastic'] for s in steps)} elastic increments" in text


def test_worst_hill_mandel_is_that_of_the_vtu_files(run):
    import pyvista as pv
    folder, problem, steps, report = run
    worst = max(float(np.max(pv.read(folder / f"step_{s.number:03d}" / "macro.vtu").cell_data["hill_mandel"]))
                for s in steps)
    line = next(line for line in section(report.read_text(), "Hill-Mandel") if line.startswith("Worst"))
    value = float(re.search(r"\*\*([0-9.e+-]+)\*\*", line).group(1))
    assert value == pytest.approx(worst, rel=1e-6) and 0 < worst < 1e-8
    step, element = map(int, re.search(r"at step (\d+), macro element (\d+)", line).groups())
    hm = pv.read(folder / f"step_{step:03d}" / "macro.vtu").cell_data["hill_mandel"]
    assert int(np.argmax(hm)) == element and hm[element] == pytest.approx(worst, rel=1e-12)


def test_time_split_within_the_wall_time(run):
    folder, problem, steps, report = run
    for step in steps:
        assert set(step.timings) == {"material points", "assembly", "linear solve"}
        assert 0 < sum(step.timings.values()) <= step.seconds
    rows = table(section(report.read_text(), "Wall time"))
    assert [r[0] for r in rows] == ["1", "2", "total"]
    for r, step in zip(rows, steps):
        parts, other, total = [float(v) for v in r[1:4]], float(r[4]), float(r[5])
        assert total == pytest.approx(step.seconds, abs=1e-3)
        assert sum(parts) <= total + 2e-3 and sum(parts) + other == pytest.approx(total, abs=3e-3)
    assert problem.settings == {"tol": 1e-8, "max_iterations": 12, "max_cutbacks": 6, "min_increment": 1e-6,
                                "schedule": [0.5, 1.0]}


def test_inputs_and_figures(run):
    folder, problem, steps, report = run
    text = report.read_text()
    inputs = "\n".join(section(text, "Inputs"))
    for expected in ("57 MeshTri1", "RVELaw", "periodic condition", "J2Plasticity(E=70", "Isotropic(E=400",
                     "| Dirichlet | right | 0.004 | [0] |", "superlu" if fe2.cell.linalg.pypardiso is None else "pardiso (analysis reused)",
                     "[0.5, 1]", "serial"):
        assert expected in inputs, expected
    links = re.findall(r"!\[[^]]*\]\(([^)]+)\)", text)
    assert links == ["figures/macro_micro.png", "figures/newton.png", "figures/hill_mandel.png"]
    for link in links:
        assert_picture(folder / link)


def test_fe2_report_rebuilds_it(run, tmp_path):
    folder, problem, steps, report = run
    copy = tmp_path / "run"
    shutil.copytree(folder, copy)
    shutil.rmtree(copy / "figures")
    (copy / "report.md").unlink()
    script = shutil.which("fe2", path=str(Path(sys.executable).parent))
    command = [script] if script else [sys.executable, "-m", "fe2"]
    result = subprocess.run([*command, "report", str(copy)], capture_output=True, text=True,
                            env=dict(os.environ, VTK_DEFAULT_OPENGL_WINDOW="vtkEGLRenderWindow"))
    assert result.returncode == 0, result.stderr
    rebuilt = (copy / "report.md").read_text()
    original = report.read_text()
    for title in ("Convergence", "Hill-Mandel", "Wall time", "Inputs"):
        assert section(rebuilt, title) == section(original, title)
    assert all((copy / "figures" / name).is_file() for name in ("macro_micro.png", "newton.png", "hill_mandel.png"))


def test_worst_step_without_its_vtu_file(run, tmp_path):
    """The worst step's macro.vtu deleted: its residual comes from run.json, the report is still written
    with the Hill-Mandel figure of a step whose file is there."""
    folder, problem, steps, report = run
    line = next(line for line in section(report.read_text(), "Hill-Mandel") if line.startswith("Worst"))
    step = int(re.search(r"at step (\d+)", line).group(1))
    copy = tmp_path / "run"
    shutil.copytree(folder, copy)
    (copy / f"step_{step:03d}" / "macro.vtu").unlink()
    text = write_report(copy).read_text()
    again = next(line for line in section(text, "Hill-Mandel") if line.startswith("Worst"))
    assert again.split(", centroid")[0] == line.split(", centroid")[0] and "run.json" in again
    assert "figures/hill_mandel.png" in text and "Hill-Mandel residuals: not drawn" not in text


def test_restart_truncates_the_record(run, tmp_path):
    """A step number that does not follow the last recorded one (a restart from an earlier
    checkpoint) drops the recorded steps from there; step 1 starts a new record."""
    folder, problem, steps, report = run
    shutil.copy(folder / "run.json", tmp_path / "run.json")
    states = fe2.io.gather(problem, problem.states)
    p, hm = MacroWriter.point_summaries(problem, states)
    record_step(tmp_path, steps[1], problem, states, p, hm, [])
    assert [s["number"] for s in json.loads((tmp_path / "run.json").read_text())["steps"]] == [1, 2]
    record_step(tmp_path, steps[0], problem, states, p, hm, [])
    assert [s["number"] for s in json.loads((tmp_path / "run.json").read_text())["steps"]] == [1]
    assert not list(tmp_path.glob("*.tmp"))


def test_report_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="run folder not found: .*missing"):
        write_report(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="is not an fe2 run folder: it has no run.json"):
        write_report(tmp_path)


def test_observed_order():
    from fe2.io.report import observed_order
    assert observed_order([1.0, 1e-2, 1e-4, 1e-8, 1e-16]) == pytest.approx(2.0)    # quadratic, round-off ignored
    assert observed_order([1.0, 0.5, 0.25, 0.125]) == pytest.approx(1.0)          # linear
    assert np.isnan(observed_order([1.0, 1e-15]))
