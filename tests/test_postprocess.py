"""Plots and off-screen renderings: valid, non-blank PNGs of the expected size, the numbers behind
them, and clear errors for missing files, missing arrays and bad input."""

import json
import struct

import numpy as np
import pytest

import fe2
from fe2.macro import Step
from fe2.io import MacroWriter

from conftest import plate

pv = pytest.importorskip("pyvista")
from postprocess import plots, render  # noqa: E402
from postprocess.cell_figure import render as cell_figure  # noqa: E402
from postprocess.fe2_figure import render as fe2_figure  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def png(path, size=None):
    """Check a PNG: signature, header size (width, height) and that the picture is not blank; the pixels."""
    import matplotlib.image

    data = path.read_bytes()
    assert data[:8] == PNG, f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])  # IHDR
    if size is not None:
        assert (width, height) == size
    pixels = matplotlib.image.imread(path)[..., :3]
    assert pixels.shape[:2] == (height, width)
    assert pixels.std() > 0.02, f"{path} looks blank"
    rgb = (pixels * 255).round().astype(np.uint32)
    assert len(np.unique(rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2])) > 50  # lines, text, colour maps: many colours
    return pixels


@pytest.fixture(scope="module")
def step_folder(tmp_path_factory):
    """One yielded step of a tiny FE² plate, with units and micro fields of two elements."""
    folder = tmp_path_factory.mktemp("fe2_step")
    problem = plate()
    problem.solve(1, callback=MacroWriter(folder, micro_points=[0, 5], units={"length": "mm", "stress": "GPa"}))
    return folder / "step_001"


@pytest.fixture(scope="module")
def cell_vtu(tmp_path_factory):
    cell = fe2.Cell(fe2.geometry.inclusion(0.4, h=0.3), {"matrix": fe2.Isotropic(E=1.0, nu=0.3),
                                                          "inclusion": fe2.Isotropic(E=10.0, nu=0.2)})
    return fe2.io.write_homogenization(fe2.homogenize(cell), tmp_path_factory.mktemp("cell"))[0]


# ---------------------------------------------------------------- plots

def test_newton_history(tmp_path):
    steps = [Step(k, k / 3, np.zeros(2), [1.0, 3e-2, 1e-4 / k, 2e-9, 0.0]) for k in (1, 2, 3)]
    path = plots.newton_history(steps, tmp_path / "newton.png", tol=1e-8)
    png(path, (768, 552))
    micro = {"element 4": [1.0, 1e-3, 1e-8, 1e-13], "element 9": [1.0, 1e-2, 1e-6, 1e-12]}
    both = plots.newton_history([{"number": 1, "residuals": [1, 1e-3, 1e-9]}], tmp_path / "both.png", micro=micro,
                                title="run", tol=1e-8, micro_tol=1e-10)
    png(both, (1536, 552))  # two panels
    many = plots.newton_history([{"number": k, "residuals": [1, 0.1, 0.01]} for k in range(1, 30)], tmp_path / "many.png")
    png(many, (768, 552))
    with pytest.raises(ValueError, match="no steps"):
        plots.newton_history([], tmp_path / "x.png")
    with pytest.raises(ValueError, match="'number' and 'residuals'"):
        plots.newton_history([{"number": 1}], tmp_path / "x.png")
    with pytest.raises(ValueError, match="residuals of step 1 is empty"):
        plots.newton_history([{"number": 1, "residuals": []}], tmp_path / "x.png")
    with pytest.raises(ValueError, match="micro must be"):
        plots.newton_history(steps, tmp_path / "x.png", micro={})
    with pytest.raises(ValueError, match="ending in .png"):
        plots.newton_history(steps, tmp_path / "x.pdf")
    assert not list(tmp_path.glob("x.*"))


def test_hill_mandel(tmp_path):
    rng = np.random.default_rng(1)
    residuals = 10 ** rng.uniform(-15, -11, 120)
    residuals[[3, 7]] = 0.0  # exact zeros are drawn at the floor, not lost
    residuals[42] = 3e-9
    points = rng.random((120, 2))
    path = plots.hill_mandel(residuals, tmp_path / "hm.png", centroids=points, title="step 2")
    pixels = png(path, (1536, 552))
    red = (pixels[..., 0] > 0.7) & (pixels[..., 1] < 0.3) & (pixels[..., 2] < 0.3)
    assert red[:, 768:].sum() > 50  # the worst point is circled in red on the map
    png(plots.hill_mandel(residuals, tmp_path / "hist.png"), (768, 552))
    with pytest.raises(ValueError, match="non-negative"):
        plots.hill_mandel([1e-12, -1e-12], tmp_path / "x.png")
    with pytest.raises(ValueError, match="empty"):
        plots.hill_mandel([], tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"centroids must be \(120, 2\)"):
        plots.hill_mandel(residuals, tmp_path / "x.png", centroids=points[:10])


def test_bc_comparison(tmp_path):
    sizes = [1, 2, 4]
    moduli = {"subc": [1.0, 1.2, 1.3], "kubc": [1.9, 1.7, 1.5],
              "periodic": [[1.40, 1.46, 1.43], [1.42, 1.44], [1.43]]}  # realizations per size
    bounds = {"voigt": 2.2, "reuss": 0.9, "hs_upper": 1.95, "hs_lower": 1.05}
    pixels = png(plots.bc_comparison(sizes, moduli, tmp_path / "bc.png", bounds=bounds, ylabel="E* [GPa]"), (768, 552))
    green = np.isclose(pixels, np.array([44, 160, 44]) / 255, atol=0.02).all(axis=-1)  # tab:green: periodic
    blue = np.isclose(pixels, np.array([31, 119, 180]) / 255, atol=0.02).all(axis=-1)  # tab:blue: SUBC
    assert green.sum() > 100 and blue.sum() > 100
    with pytest.raises(ValueError, match=r"moduli\['kubc'\] has 2 entries for 3 sizes"):
        plots.bc_comparison(sizes, {"kubc": [1, 2]}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="non-empty dict"):
        plots.bc_comparison(sizes, {}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="sizes is empty"):
        plots.bc_comparison([], {"kubc": []}, tmp_path / "x.png")


def test_msfem_error(tmp_path):
    H = 2.0 ** -np.arange(1, 6)
    errors = {"linear": [0.05, 0.1, 0.3, 0.2, 0.1], "oversampled": [0.04, 0.03, 0.02, 0.015, 0.0]}
    png(plots.msfem_error(H, errors, tmp_path / "msfem.png", eps=1 / 16), (768, 552))
    png(plots.msfem_error(H, errors["linear"], tmp_path / "one.png"), (768, 552))
    with pytest.raises(ValueError, match=r"errors\['linear'\] has 4 values for 5 sizes"):
        plots.msfem_error(H, {"linear": [1, 2, 3, 4]}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="H must be positive"):
        plots.msfem_error([0.0, 0.5], {"a": [1, 2]}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="eps must be positive"):
        plots.msfem_error(H, errors, tmp_path / "x.png", eps=0)


def test_convergence_and_observed_rate(tmp_path):
    h = 2.0 ** -np.arange(2, 7)
    errors = {"L2": 3 * h ** 2, "energy": 0.7 * h}
    assert plots.rate(h, errors["L2"]) == pytest.approx(2.0, abs=1e-12)
    assert plots.rate(h, errors["energy"]) == pytest.approx(1.0, abs=1e-12)
    assert np.isnan(plots.rate([0.1], [1.0]))
    png(plots.convergence(h, errors, tmp_path / "conv.png", rates=(1, 2)), (768, 552))
    with pytest.raises(ValueError, match="h is empty"):
        plots.convergence([], {"a": []}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="non-finite"):
        plots.convergence(h, {"a": [1, 2, np.nan, 4, 5]}, tmp_path / "x.png")


# ---------------------------------------------------------------- renderings

def test_macro_field(step_folder, tmp_path):
    vtu = step_folder / "macro.vtu"
    flat = png(render.macro_field(vtu, tmp_path / "sxx.png", "stress", "xx"), (900, 760))
    warped = png(render.macro_field(vtu, tmp_path / "warped.png", "stress", "xx", warp=20.0, title="deformed"), (900, 760))
    assert np.abs(flat - warped).max() > 0.5  # the deformed view differs
    png(render.macro_field(vtu, tmp_path / "p.png", "plastic_strain"), (900, 760))
    png(render.macro_field(vtu, tmp_path / "u.png", "displacement"), (900, 760))  # a vector: its magnitude
    with pytest.raises(FileNotFoundError, match="nothing.vtu"):
        render.macro_field(tmp_path / "nothing.vtu", tmp_path / "x.png", "stress", "xx")
    with pytest.raises(ValueError, match=r"no array 'pressure'; it has .*plastic_strain \(cell\)"):
        render.macro_field(vtu, tmp_path / "x.png", "pressure")
    with pytest.raises(ValueError, match="is a tensor"):
        render.macro_field(vtu, tmp_path / "x.png", "stress")
    szz, label, where = render.values(pv.read(vtu), "stress", "zz")  # plane strain: sigma_zz of every cell
    assert (label, where) == ("stress zz", "cell") and np.isfinite(szz).all() and np.abs(szz).max() > 0
    unknown = pv.read(vtu)
    unknown.cell_data["stress"][:, 8] = np.nan  # as written for a law known only in 2D
    with pytest.raises(ValueError, match="not known"):
        render.values(unknown, "stress", "zz")
    assert not (tmp_path / "x.png").exists()


def test_units_come_from_the_files(step_folder, cell_vtu, tmp_path):
    macro = pv.read(step_folder / "macro.vtu")
    assert render.file_units(macro, "stress") == "GPa" and render.file_units(macro, "displacement") == "mm"
    micro = pv.read(step_folder / "micro_0.vtu")
    assert render.file_units(micro, "von_mises") == "GPa" and render.file_units(micro, "displacement") == ""
    # a file without units in its field data: units.json of the run, else none
    grid = pv.read(cell_vtu)
    assert render.file_units(grid, "stress", cell_vtu) == ""
    (tmp_path / "step_001").mkdir()
    (tmp_path / "units.json").write_text(json.dumps({"macro": {"stress": "MPa"}, "micro": {"stress": "kPa"}}))
    assert render.file_units(grid, "stress", tmp_path / "step_001" / "macro.vtu") == "MPa"
    assert render.file_units(grid, "stress", tmp_path / "step_001" / "micro_3.vtu") == "kPa"
    assert render.bar_title("stress xx", "[GPa]") == render.bar_title("stress xx", "GPa") == "stress xx [GPa]"


def test_macro_and_micro(step_folder, tmp_path):
    assert list(render.micro_files(step_folder)) == [0, 5]  # placed_micro_* are not micro cells of the panel
    first = png(render.macro_and_micro(step_folder, tmp_path / "mm.png"), (1400, 620))
    other = png(render.macro_and_micro(step_folder, tmp_path / "mm5.png", field="stress", component="xy",
                                       micro_field="stress", micro_component="xy", element=5, warp=0.0), (1400, 620))
    assert np.abs(first - other).max() > 0.5
    # a tensor field on both panels: the micro component defaults to the macro one (the report of an elastic run)
    png(render.macro_and_micro(step_folder, tmp_path / "sxx.png", field="stress", component="xx"), (1400, 620))
    # the chosen macro point is marked in cyan on the left panel only
    cyan = (first[..., 0] < 0.3) & (first[..., 1] > 0.7) & (first[..., 2] > 0.7)
    assert cyan[:, :700].sum() > 20 and cyan[:, 700:].sum() == 0
    default = fe2_figure(step_folder)
    assert default == step_folder / "plastic_strain.png"
    png(default, (1400, 620))
    with pytest.raises(FileNotFoundError, match="no micro_3.vtu .*micro_0.vtu"):
        render.macro_and_micro(step_folder, tmp_path / "x.png", element=3)
    with pytest.raises(FileNotFoundError, match="not a step folder"):
        render.macro_and_micro(tmp_path, tmp_path / "x.png")
    with pytest.raises(FileNotFoundError, match="no such step folder"):
        render.macro_and_micro(tmp_path / "step_099", tmp_path / "x.png")
    with pytest.raises(ValueError, match="no array 'temperature'"):
        render.macro_and_micro(step_folder, tmp_path / "x.png", field="temperature")
    with pytest.raises(ValueError, match=r"micro_0.vtu has no array 'flux'"):
        render.macro_and_micro(step_folder, tmp_path / "x.png", micro_field="flux")


def test_cell_field(cell_vtu, tmp_path):
    pixels = png(cell_figure(cell_vtu, tmp_path / "cell.png", "stress", "xx", 0.3, "[GPa]"), (1400, 620))
    png(render.cell_field(cell_vtu, tmp_path / "vm.png", "von_mises"), (1400, 620))  # a scalar: component ignored
    png(render.cell_field(cell_vtu, tmp_path / "w.png", "fluctuation", "y"), (1400, 620))
    assert pixels[:, :700].std() > 0.05 and pixels[:, 700:].std() > 0.05  # both panels drawn
    with pytest.raises(ValueError, match="unknown|give component"):
        render.cell_field(cell_vtu, tmp_path / "x.png", "stress", "qq")
    # conduction output has no displacement: the warp is ignored, not an error
    cell = fe2.Cell(fe2.geometry.inclusion(0.4, h=0.3), {"matrix": fe2.Conductor(1.0), "inclusion": fe2.Conductor(10.0)})
    thermal = fe2.io.write_homogenization(fe2.homogenize(cell), tmp_path / "thermal")[0]
    png(render.cell_field(thermal, tmp_path / "flux.png", "flux", "magnitude", warp=0.5), (1400, 620))
    png(render.macro_field(thermal, tmp_path / "temperature.png", "temperature", warp=20.0), (900, 760))
    with pytest.raises(FileNotFoundError, match="no such file"):
        cell_figure(tmp_path / "none.vtu", tmp_path / "x.png")
