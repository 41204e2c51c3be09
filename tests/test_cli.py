"""The fe2 command: help of every command, `fe2 homogenize` equal to the library, exit codes and
one-line messages for bad input, `fe2 report` on a missing folder. The installed script is run as a
subprocess where that matters (help, version, a full homogenization, a missing run folder); the other
exit codes and messages through fe2.cli.main in this process (each start of fe2 imports ~2 s)."""

import json
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fe2
from fe2.cli import main
from fe2.materials.file import load_materials

ROOT = Path(__file__).resolve().parent.parent
FIBER_MESH = ROOT / "meshes" / "fiber.msh"  # phases "matrix" and "fiber"
FIBER_TOML = """
# epoxy and E-glass, GPa
[matrix]
law = "isotropic"
E = 3.5
nu = 0.35

[fiber]
law = "isotropic"
E = 72.0
nu = 0.22
"""


def command():
    """The installed console script of this interpreter's environment, else python -m fe2."""
    found = shutil.which("fe2", path=str(Path(sys.executable).parent)) or shutil.which("fe2")
    return [found] if found else [sys.executable, "-m", "fe2"]


def fe2_cli(*args, cwd=None):
    env = dict(os.environ, VTK_DEFAULT_OPENGL_WINDOW="vtkEGLRenderWindow")
    return subprocess.run([*command(), *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


@pytest.mark.parametrize("args", [[], ["homogenize"], ["run"], ["report"]])
def test_help(args):
    result = fe2_cli(*args, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(" ".join(["usage: fe2", *args])) and "--help" in result.stdout


def test_version_and_python_m_fe2():
    result = subprocess.run([sys.executable, "-m", "fe2", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == f"fe2 {fe2.__version__}"


def test_no_command_is_a_usage_error(capsys):
    assert main([]) == 2 and "usage: fe2" in capsys.readouterr().err


def printed_matrix(out, header, n):
    """The n x n matrix printed after the line starting with ``header``."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    return np.array([[float(v) for v in lines[start + 1 + k].split()] for k in range(n)])


def test_homogenize_equals_the_library(tmp_path):
    (tmp_path / "materials.toml").write_text(FIBER_TOML)
    out = tmp_path / "out"
    result = fe2_cli("homogenize", FIBER_MESH, "--materials", tmp_path / "materials.toml", "--bc", "all", "--out", out)
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert len(list(out.glob("*.vtu"))) == 9 and summary["ordered"] is True

    mesh = fe2.geometry.load_mesh(FIBER_MESH)
    cell = fe2.Cell(mesh, load_materials(tmp_path / "materials.toml", phases=list(mesh.subdomains)))
    for bc in ("subc", "periodic", "kubc"):
        expected = fe2.homogenize(cell, bc)
        C = np.array(summary["tensors"][bc])
        assert np.allclose(C, expected.tensor, rtol=1e-10, atol=1e-12 * np.abs(expected.tensor).max())
        assert np.allclose(summary["voigt"][bc], expected.voigt(), rtol=1e-10, atol=1e-12 * np.abs(C).max())
        printed = printed_matrix(result.stdout, f"{bc}: effective stiffness, Mandel", 3)
        assert np.allclose(printed, expected.tensor, rtol=1e-5, atol=1e-5 * np.abs(C).max())
        assert summary["hill_mandel"][bc] < 1e-10
    # laminate-style checks on the diagonal: Reuss <= SUBC <= periodic <= KUBC <= Voigt, HS brackets periodic
    bounds = {name: np.array(b) for name, b in summary["bounds"].items()}
    C11 = {bc: summary["tensors"][bc][0][0] for bc in ("subc", "periodic", "kubc")}
    assert bounds["reuss"][0, 0] <= C11["subc"] <= C11["periodic"] <= C11["kubc"] <= bounds["voigt"][0, 0]
    assert bounds["hs_lower"][0, 0] <= C11["periodic"] <= bounds["hs_upper"][0, 0]
    assert "reuss <= subc <= periodic <= kubc <= voigt: holds" in result.stdout


def test_homogenize_laminate_conduction_is_exact(tmp_path, capsys):
    """Layers normal to x (k = 1 | 10, half each): K_xx = harmonic mean, K_yy = arithmetic mean."""
    fe2.geometry.laminate(0.5, h=0.1, phases=("soft", "hard"), path=tmp_path / "laminate.msh")
    (tmp_path / "k.toml").write_text('[soft]\nlaw = "conductor"\nk = 1.0\n\n[hard]\nlaw = "conductor"\nk = 10.0\n')
    code = main(["homogenize", str(tmp_path / "laminate.msh"), "--materials", str(tmp_path / "k.toml"), "-q",
                 "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert code == 0 and captured.out == "", captured
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    K = np.array(summary["tensors"]["periodic"])
    assert K[0, 0] == pytest.approx(2 / (1 + 1 / 10), rel=1e-10)
    assert K[1, 1] == pytest.approx((1 + 10) / 2, rel=1e-10)
    assert np.array(summary["bounds"]["reuss"])[0, 0] == pytest.approx(K[0, 0], rel=1e-10)  # Reuss is exact across
    assert np.array(summary["bounds"]["voigt"])[1, 1] == pytest.approx(K[1, 1], rel=1e-10)  # Voigt along


def assert_input_error(result, *words):
    """Exit code 2, one line on stderr naming what is wrong, no traceback."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("fe2 error: ")
    for word in words:
        assert word in lines[0], (word, lines[0])


class Result:
    def __init__(self, returncode, captured):
        self.returncode, self.stdout, self.stderr = returncode, captured.out, captured.err


@pytest.fixture
def run_main(capsys):
    """fe2.cli.main in this process: (exit code, stdout, stderr) like a subprocess result."""
    def run(*args):
        capsys.readouterr()
        code = main([str(a) for a in args])
        return Result(code, capsys.readouterr())
    return run


def test_bad_input(tmp_path, run_main):
    (tmp_path / "materials.toml").write_text(FIBER_TOML)
    materials = ["--materials", tmp_path / "materials.toml"]
    assert_input_error(fe2_cli("homogenize", tmp_path / "missing.msh", *materials), "mesh file not found", "missing.msh")
    # the other checks in this process, faster
    (tmp_path / "notes.msh").write_text("these are not the nodes you are looking for\n")
    assert_input_error(run_main("homogenize", tmp_path / "notes.msh", *materials), "notes.msh", "not a usable mesh")

    (tmp_path / "matrix_only.toml").write_text('[matrix]\nlaw = "isotropic"\nE = 3.5\nnu = 0.35\n')
    assert_input_error(run_main("homogenize", FIBER_MESH, "--materials", tmp_path / "matrix_only.toml"),
                       "matrix_only.toml has no material for phase 'fiber'", "it defines ['matrix']")

    (tmp_path / "broken.toml").write_text('[matrix]\nlaw = "isotropic"\nE = 3.5\nnu = 0.35\n[fiber\nlaw = "isotropic"\n')
    assert_input_error(run_main("homogenize", FIBER_MESH, "--materials", tmp_path / "broken.toml"),
                       "broken.toml", "TOML syntax error", "line 5")

    (tmp_path / "soft.toml").write_text(FIBER_TOML.replace("nu = 0.22", "nu = 0.5"))
    assert_input_error(run_main("homogenize", FIBER_MESH, "--materials", tmp_path / "soft.toml"),
                       "phase 'fiber'", "Poisson's ratio")

    assert_input_error(run_main("homogenize", FIBER_MESH, *materials, "--bc", "dirichlet"),  # argparse, in one line
                       "fe2 homogenize: argument --bc: invalid choice: 'dirichlet'", "(see 'fe2 homogenize --help')")


def test_verbose_shows_the_traceback(tmp_path, run_main):
    result = run_main("homogenize", tmp_path / "missing.msh", "--materials", tmp_path / "m.toml", "-v")
    assert result.returncode == 2 and "Traceback" in result.stderr


def test_report_errors(tmp_path, run_main):
    assert_input_error(fe2_cli("report", tmp_path / "no_such_run"), "run folder not found", "no_such_run")
    assert_input_error(run_main("report", tmp_path), "is not an fe2 run folder", "run.json")
    for text, words in [("{oops", ["is not a valid run record"]), ('{"steps": []}', ["with converged steps"]),
                        ("[1, 2]", ["with converged steps"])]:
        (tmp_path / "run.json").write_text(text)
        assert_input_error(run_main("report", tmp_path), "run.json", *words)


def test_run_errors(tmp_path, run_main):
    assert_input_error(run_main("run", tmp_path / "nope.py"), "case script not found")
    (tmp_path / "script.py").write_text("print('no main here')\n")
    assert_input_error(run_main("run", tmp_path / "script.py"), "has no main(argv)")
    assert_input_error(run_main("run", ROOT / "cases" / "fiber_composite.py", "--no-such-option"),  # one line, no usage
                       "fiber_composite.py rejected its arguments: unrecognized arguments: --no-such-option")


def test_run_a_case(tmp_path, run_main):
    """fe2 run: the case runs with its arguments, its output goes to --out (no run record: no report)."""
    result = run_main("run", ROOT / "cases" / "oscillating_coefficient.py", "--n", "16", "--out", tmp_path / "osc")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "osc" / "summary.json").is_file() and (tmp_path / "osc" / "convergence.png").is_file()
    assert re.search(r"finished in [\d.]+ s; output in .*osc", result.stdout)
    assert not (tmp_path / "osc" / "report.md").exists()


def test_run_quietly(tmp_path, run_main):
    result = run_main("run", "-q", ROOT / "cases" / "oscillating_coefficient.py", "--n", "16", "--out", tmp_path)
    assert result.returncode == 0 and result.stdout == "" and result.stderr == ""
    assert (tmp_path / "summary.json").is_file()


def test_run_shows_the_newton_log_unless_quiet(tmp_path, run_main):
    """The library logs through logging; fe2 run shows its lines on stdout as the case script would,
    and -q shows none of them."""
    case = [ROOT / "cases" / "thermal.py", "--h", "0.3", "--cell-h", "0.3", "--steps", "1"]
    result = run_main("run", *case, "--out", tmp_path / "loud")
    assert result.returncode == 0, result.stderr
    assert re.search(r"^    newton 1: \|r\| = .*, r/r_prev\^2 = ", result.stdout, re.M)
    assert re.search(r"^step 1: load 1 converged in \d+ iterations", result.stdout, re.M)
    quiet = run_main("run", "-q", *case, "--out", tmp_path / "quiet")
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""
    assert [type(h) for h in logging.getLogger("fe2").handlers] == [logging.NullHandler]   # shown for the command only


def test_bad_case_arguments_exit_2_in_one_line_before_any_work(tmp_path):
    """The installed command: a case's refused argument is bad input (exit 2, one line), refused by
    its parser before any cell is built or any worker started, so no output folder is made."""
    for argument, words in [("--steps=0", "argument --steps: must be a whole number >= 1, got '0'"),
                            ("--workers=0", "argument --workers: must be a whole number >= 1, got '0'")]:
        result = fe2_cli("run", ROOT / "cases" / "plate_with_hole.py", argument, "--out", tmp_path / "out")
        assert_input_error(result, "plate_with_hole.py rejected its arguments", words)
    assert not (tmp_path / "out").exists()


CASE = """
import numpy as np
import skfem
import fe2
from fe2.macro import Dirichlet, Problem


def main(argv):
    \"\"\"A bar pulled by {pull} (length 2) in the load steps {steps}, or a failure of kind {fail}.\"\"\"
    mesh = skfem.MeshTri.init_tensor(np.linspace(0, 2, 3), np.linspace(0, 1, 2)).with_defaults()
    problem = Problem(mesh.with_subdomains({{"bar": lambda x: x[0] > -1}}), {{"bar": fe2.Isotropic(E=1.0, nu=0.3)}},
                      dirichlet=[Dirichlet("left", 0.0, components=(0,)), Dirichlet("bottom", 0.0, components=(1,)),
                                 Dirichlet("right", {pull}, components=(0,))])
    if "{fail}" == "singular":
        raise np.linalg.LinAlgError("Singular matrix")
    if "{fail}" == "diverged":
        raise fe2.macro.DivergenceError("load step 1 to 1 failed after 6 cut-backs")
    problem.solve({steps})
"""


def case(folder, name, pull=0.02, steps="1", fail="none"):
    path = folder / f"{name}.py"
    path.write_text(CASE.format(pull=pull, steps=steps, fail=fail))
    return path


def test_library_refusals_in_a_case_exit_2_and_failures_exit_1(tmp_path, run_main):
    """The exit code follows the exception: what the library refuses (ValueError, TypeError) is bad
    input, whichever case raised it; a computation that failed is exit code 1."""
    assert_input_error(run_main("run", case(tmp_path, "nan_steps", steps='float("nan")'), "--out", tmp_path / "a"),
                       "steps must be a positive whole number or a list of load factors, got nan")
    assert_input_error(run_main("run", case(tmp_path, "nan_pull", pull='float("nan")'), "--out", tmp_path / "b"),
                       "Dirichlet on 'right': the value must be finite, got nan")
    for fail, words in [("singular", "fe2 failed: LinAlgError: Singular matrix"),
                        ("diverged", "fe2 failed: DivergenceError: load step 1 to 1 failed after 6 cut-backs")]:
        result = run_main("run", case(tmp_path, fail, fail=fail), "--out", tmp_path / fail)
        assert result.returncode == 1 and result.stderr.strip() == words, result.stderr


def test_warnings_are_one_line_and_quiet_hides_them(tmp_path, run_main):
    """A bar pulled to 30 %: the run succeeds with the small-strain warning as one line on stderr;
    -q prints nothing."""
    stretched = case(tmp_path, "stretched", pull=0.6)
    result = run_main("run", stretched, "--out", tmp_path / "loud")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and re.fullmatch(r"fe2 warning: the macro strain leaves the small-strain range at load 1: "
                                            r"\|eps\| = 0\.3\d* > 0.1 at element .*\(StrainRangeWarning\)", lines[0]), lines
    quiet = run_main("run", "-q", stretched, "--out", tmp_path / "quiet")
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""
