"""Every case script runs, at a reduced size, and its printed checks hold (cases/voxel_image.py: tests/test_voxel.py)."""

import json
import runpy
from pathlib import Path

import numpy as np
import pytest

CASES = Path(__file__).resolve().parent.parent / "cases"


def run_case(name, *args):
    """Run cases/<name> as its command line would, returning what its main() returns."""
    return runpy.run_path(str(CASES / name), run_name="case")["main"](list(args))


def test_fiber_composite(tmp_path, capsys):
    comparison = run_case("fiber_composite.py", "--out", str(tmp_path), "--h", "0.08", "--order", "1")
    out = capsys.readouterr().out
    assert "reuss <= subc <= periodic <= kubc <= voigt: holds" in out
    assert len(list(tmp_path.glob("*.vtu"))) == 9
    png = tmp_path / "periodic_xx.png"
    assert png.stat().st_size > 10_000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["ordered"] and max(summary["hill_mandel"].values()) < 1e-10
    C = np.array(summary["tensors"]["periodic"])
    assert abs(C[0, 0] - C[1, 1]) < 1e-3 * C[0, 0]  # square symmetry of the cell


def test_fiber_composite_shipped_mesh(tmp_path):
    comparison = run_case("fiber_composite.py", "--out", str(tmp_path), "--order", "1")
    assert comparison.ordered


def test_hexagonal_fibers(tmp_path):
    comparison, C_square = run_case("hexagonal_fibers.py", "--out", str(tmp_path), "--h", "0.08", "--order", "1")
    C = comparison.results["periodic"].tensor
    assert comparison.ordered
    assert abs(C[2, 2] / (C[0, 0] - C[0, 1]) - 1) < 1e-2           # in-plane isotropic
    assert abs(C_square[2, 2] / (C_square[0, 0] - C_square[0, 1]) - 1) > 0.1  # the square array is not
    assert (tmp_path / "periodic_xx.png").stat().st_size > 10_000


@pytest.mark.parametrize("dim", ["2", "3"])
def test_random_particles(tmp_path, dim):
    extra = ["--n", "4", "--h", "0.12"] if dim == "3" else ["--n", "6"]
    comparison = run_case("random_particles.py", "--dim", dim, "--out", str(tmp_path), *extra)
    assert comparison.ordered
    assert max(r.hill_mandel for r in comparison.results.values()) < 1e-10


def test_rve_size(tmp_path):
    study = run_case("rve_size.py", "--sizes", "2", "3", "--realizations", "3", "--h", "0.3", "--executor", "serial",
                     "--out", str(tmp_path))
    assert study.ordered()
    assert (tmp_path / "rve_size.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((tmp_path / "rve_size.json").read_text())["realizations"] == 3


def test_oscillating_coefficient(tmp_path, capsys):
    comparison = run_case("oscillating_coefficient.py", "--n", "16", "--out", str(tmp_path))
    assert comparison.ordered
    assert "mesh convergence" in capsys.readouterr().out


def test_plate_with_hole(tmp_path, capsys):
    problem, steps, hill_mandel = run_case("plate_with_hole.py", "--out", str(tmp_path), "--h", "0.3", "--cell-h", "0.3",
                                           "--steps", "2", "--executor", "serial")
    assert [s.number for s in steps] == [1, 2] and hill_mandel.max() < 1e-8
    assert (tmp_path / "macro.pvd").is_file() and (tmp_path / "plate_with_hole.png").stat().st_size > 10_000
    assert "Hill-Mandel: worst residual" in capsys.readouterr().out


@pytest.mark.parametrize("physics", ["conduction", "elasticity"])
def test_fe2_converges_to_dns_as_the_cell_shrinks(physics):
    """||u_DNS - u_FE2|| = O(eps): the error halves with the cell size."""
    errors, rate = run_case("fe2_vs_dns.py", "--physics", physics, "--cells", "2", "4", "8", "--cell-h", "0.15")
    assert np.all(np.diff(errors) < 0)
    assert 0.8 < rate < 1.3, (errors, rate)


def test_thermal(tmp_path):
    problem, steps, hill_mandel = run_case("thermal.py", "--out", str(tmp_path), "--h", "0.3", "--cell-h", "0.3",
                                           "--steps", "2", "--dT", "1.0")
    assert len(steps) == 2 and hill_mandel.max() < 1e-8
    assert (tmp_path / "step_002" / "micro_0.vtu").is_file()
