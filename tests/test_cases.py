"""Every case script runs, at a reduced size, its printed checks hold and its figures are real pictures
(cases/voxel_image.py's checks: tests/test_voxel.py; its figure: here). MsFEM cases are tested by their author."""

import json
import runpy
from pathlib import Path

import numpy as np
import pytest

CASES = Path(__file__).resolve().parent.parent / "cases"


def run_case(name, *args):
    """Run cases/<name> as its command line would, returning what its main() returns."""
    return runpy.run_path(str(CASES / name), run_name="case")["main"](list(args))


def assert_picture(path, min_bytes=10_000):
    """``path`` is a PNG that shows something: not one flat colour, with a fair share of drawn pixels."""
    from matplotlib.image import imread
    path = Path(path)
    assert path.is_file(), f"no figure {path}"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert path.stat().st_size > min_bytes, f"{path} is suspiciously small ({path.stat().st_size} bytes)"
    rgb = imread(path)[..., :3]
    background = rgb[0, 0]
    drawn = np.any(np.abs(rgb - background) > 0.05, axis=-1).mean()
    assert rgb.std() > 0.02 and drawn > 0.03, f"{path} looks blank (std {rgb.std():.3f}, {100 * drawn:.1f} % drawn)"


def test_fiber_composite(tmp_path, capsys):
    run_case("fiber_composite.py", "--out", str(tmp_path), "--h", "0.08", "--order", "1")
    out = capsys.readouterr().out
    assert "reuss <= subc <= periodic <= kubc <= voigt: holds" in out
    assert len(list(tmp_path.glob("*.vtu"))) == 9
    assert_picture(tmp_path / "periodic_xx.png")
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
    assert_picture(tmp_path / "periodic_xx.png")


@pytest.mark.parametrize("dim", ["2", "3"])
def test_random_particles(tmp_path, dim):
    extra = ["--n", "4", "--h", "0.12"] if dim == "3" else ["--n", "6"]
    comparison = run_case("random_particles.py", "--dim", dim, "--out", str(tmp_path), *extra)
    assert comparison.ordered
    assert max(r.hill_mandel for r in comparison.results.values()) < 1e-10
    assert_picture(tmp_path / "periodic_xx.png")


def test_rve_size(tmp_path):
    study = run_case("rve_size.py", "--sizes", "2", "3", "--realizations", "3", "--h", "0.3", "--executor", "serial",
                     "--out", str(tmp_path))
    assert study.ordered()
    assert_picture(tmp_path / "rve_size.png")
    assert_picture(tmp_path / "rve_size_bounds.png")
    assert json.loads((tmp_path / "rve_size.json").read_text())["realizations"] == 3


def test_oscillating_coefficient(tmp_path, capsys):
    comparison = run_case("oscillating_coefficient.py", "--n", "16", "--out", str(tmp_path))
    assert comparison.ordered
    assert "mesh convergence" in capsys.readouterr().out
    assert_picture(tmp_path / "convergence.png")


def test_plate_with_hole(tmp_path, capsys):
    problem, steps, hill_mandel = run_case("plate_with_hole.py", "--out", str(tmp_path), "--h", "0.3", "--cell-h", "0.3",
                                           "--steps", "2", "--executor", "serial")
    assert [s.number for s in steps] == [1, 2] and hill_mandel.max() < 1e-8
    assert (tmp_path / "macro.pvd").is_file()
    assert_picture(tmp_path / "plate_with_hole.png")
    assert "Hill-Mandel: worst residual" in capsys.readouterr().out
    report = (tmp_path / "report.md").read_text()  # the report of the run, with its figures
    assert "| 2 | 1 |" in report
    for name in ("macro_micro.png", "newton.png", "hill_mandel.png"):
        assert f"(figures/{name})" in report
        assert_picture(tmp_path / "figures" / name)


def test_adaptive_j2_plate(tmp_path, capsys):
    summary = run_case("adaptive_j2_plate.py", "--quick", "--out", str(tmp_path))
    out = capsys.readouterr().out
    assert "surrogate: refused" in out and "within the tolerance: yes" in out
    full, adaptive = summary["rows"]
    assert full["cell_solves"] > 1.5 * adaptive["cell_solves"] and adaptive["active_fraction"] < 0.6
    assert max(adaptive["reaction_error"], adaptive["field_error"]) < adaptive["tol"]
    assert "| adaptive, tol 0.05 |" in (tmp_path / "table.md").read_text()
    assert (tmp_path / "table.csv").read_text().count("\n") == 3
    for run in ("full", "adaptive_tol0.05"):
        assert (tmp_path / run / "macro.pvd").is_file()
    record = json.loads((tmp_path / "adaptive_tol0.05" / "run.json").read_text())   # the law's record per step
    assert [s["laws"]["plate"]["active_fraction"] for s in record["steps"]] == summary["curves"]["adaptive, tol 0.05"]["active_fraction"]
    assert_picture(tmp_path / "adaptive_j2_plate.png")


@pytest.mark.parametrize("physics", ["conduction", "elasticity"])
def test_fe2_converges_to_dns_as_the_cell_shrinks(physics, tmp_path):
    """||u_DNS - u_FE2|| = O(eps): the error halves with the cell size."""
    errors, rate = run_case("fe2_vs_dns.py", "--physics", physics, "--cells", "2", "4", "8", "--cell-h", "0.15",
                            "--out", str(tmp_path))
    assert np.all(np.diff(errors) < 0)
    assert 0.8 < rate < 1.3, (errors, rate)
    assert_picture(tmp_path / "fe2_vs_dns.png")


def test_thermal(tmp_path):
    problem, steps, hill_mandel = run_case("thermal.py", "--out", str(tmp_path), "--h", "0.3", "--cell-h", "0.3",
                                           "--steps", "2", "--dT", "1.0")
    assert len(steps) == 2 and hill_mandel.max() < 1e-8
    gradient = np.linalg.norm(problem.body.strain(steps[-1].field), axis=-1).max(axis=1)
    assert (tmp_path / "step_002" / f"micro_{int(np.argmax(gradient))}.vtu").is_file()  # the steepest point's cell
    assert_picture(tmp_path / "thermal.png")


def test_rubber_particle_cell(tmp_path, capsys):
    """The quick run: its checks hold (Hill-Mandel, SUBC < periodic < KUBC, the small-strain slope), the VTU
    series opens with the finite-strain arrays, whose element values average to the cell's <P> and give
    J = det F and sigma = P F^T / J, and the figures are real pictures."""
    import meshio
    runs = run_case("rubber_particle_cell.py", "--quick", "--out", str(tmp_path))
    out = capsys.readouterr().out
    assert out.count("holds") == 6 and "FAILS" not in out
    assert len(list(tmp_path.glob("*.vtu"))) == 12 and len(list(tmp_path.glob("*.pvd"))) == 3
    last = runs["subc"][-1]
    assert last.deformation[0, 0] == pytest.approx(1.6) and np.abs(last.stress[2:]).max() < 1e-9   # P_yx = P_yy = 0
    mesh = meshio.read(tmp_path / "subc_004.vtu")
    data = {name: values[0] for name, values in mesh.cell_data.items()}
    assert {"displacement", "fluctuation"} <= set(mesh.point_data)
    area = np.abs(np.linalg.det(mesh.points[mesh.cells[0].data][:, 1:, :2] - mesh.points[mesh.cells[0].data][:, :1, :2])) / 2
    P = data["first_piola_kirchhoff"].reshape(-1, 3, 3)[:, :2, :2]
    np.testing.assert_allclose(np.einsum("e,eij->ij", area, P).ravel() / area.sum(), last.stress, atol=1e-12)
    F = data["deformation_gradient"].reshape(-1, 3, 3)[:, :2, :2]
    J = data["jacobian"]
    np.testing.assert_allclose(J, np.linalg.det(F), rtol=1e-12)
    sigma = data["cauchy_stress"].reshape(-1, 3, 3)
    np.testing.assert_allclose(sigma[:, :2, :2], P @ np.swapaxes(F, 1, 2) / J[:, None, None], rtol=1e-10, atol=1e-12)
    assert np.all(np.isfinite(sigma)) and "von_mises" in data
    assert_picture(tmp_path / "stress_stretch.png")
    assert_picture(tmp_path / "rubber_particle_cell.png")


def test_voxel_image_figure(tmp_path):
    """The voxel case's picture (its checks are in tests/test_voxel.py), on a coarser image."""
    comparison = run_case("voxel_image.py", "--out", str(tmp_path), "--coarsen", "3")
    assert comparison.ordered
    assert_picture(tmp_path / "periodic_x.png")


def test_crystal_strip_case(tmp_path):
    """cases/cauchy_born_strip.py --quick: the homogeneous prediction is the closed-form stretch of
    tests/test_cauchy_born.py (uniaxial_loss); the first point to lose ellipticity is in the weak band,
    at its own stretch within 1e-3 of the prediction (the band is not exactly in uniaxial stress and
    the steps are 0.01), below it in the macro stretch; the figure; the VTU of the last stable step."""
    from fe2.materials.cauchy_born import Bravais, CauchyBorn, LennardJones
    from test_cauchy_born import uniaxial_loss
    summary = run_case("cauchy_born_strip.py", "--quick", "--out", str(tmp_path))
    critical = uniaxial_loss(CauchyBorn(LennardJones(), Bravais.triangular()))[1]
    assert summary["homogeneous_ellipticity_loss"] == pytest.approx(critical, abs=1e-10)
    assert summary["homogeneous_lattice_loss"] == pytest.approx(critical, abs=1e-10)
    first = summary["ellipticity"]
    assert first["phase"] == "band" and first["how"] == "interpolated"
    assert abs(first["local_stretch"] - critical) < 1e-3
    assert summary["last_stable_stretch"] < first["macro_stretch"] < critical
    assert "lambda_min of the tangent reached zero" in summary["reason"]
    assert json.loads((tmp_path / "summary.json").read_text())["ellipticity"]["point"] == first["point"]
    import meshio
    vtu = meshio.read(tmp_path / "last_stable.vtu")
    ellipticity = vtu.cell_data["lambda_min"][0]
    assert ellipticity.min() > 0 and vtu.cell_data["jacobian"][0].min() > 1.0
    np.testing.assert_array_equal(vtu.cell_data["first_piola_kirchhoff"][0].reshape(-1, 3, 3)[:, 2], 0.0)
    assert_picture(tmp_path / "cauchy_born_strip.png")
