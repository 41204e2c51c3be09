"""The MsFEM cases run at a reduced size, and the numbers they print hold against theory."""

import json
import runpy
from pathlib import Path

import numpy as np

CASES = Path(__file__).resolve().parent.parent / "cases"


def run_case(name, *args):
    return runpy.run_path(str(CASES / name), run_name="case")["main"](list(args))


def is_picture(path):
    from matplotlib.image import imread

    image = imread(path)
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and image.std() > 0.02


def test_msfem_exact(tmp_path):
    errors, rates = run_case("msfem_exact.py", "--fine", "16", "32", "64", "--out", str(tmp_path))
    assert abs(rates["l2"] - 2) < 0.1 and abs(rates["h1"] - 1) < 0.05
    assert errors["linear"][-1]["l2"] > 0.9 * errors["linear"][0]["l2"]  # linear data: the error stays
    assert is_picture(tmp_path / "msfem_exact.png")
    assert (tmp_path / "oscillatory_fine.vtu").is_file()
    assert json.loads((tmp_path / "msfem_exact.json").read_text())["fine"] == [16, 32, 64]


def test_msfem_resonance(tmp_path, capsys):
    """Affine data (the homogenized solution is in the coarse space): with linear data the energy
    error grows as H falls toward eps; oversampling cuts it by more than 3x at H = eps."""
    H, results = run_case("msfem_resonance.py", "--eps", "0.125", "--fine", "128", "--ratios", "1", "2", "4",
                          "--petrov-galerkin", "--out", str(tmp_path))
    linear = np.array(results["linear"]["energy"])
    over = np.array(results["oversampling x2"]["energy"])
    assert np.all(np.diff(linear) < 0), linear            # H = eps, 2 eps, 4 eps: falling as H grows
    assert linear[0] > 3 * over[0], (linear, over)
    pg = np.array(results["oversampling, Petrov-Galerkin"]["energy"])
    assert np.all(pg < over), (pg, over)                   # Petrov-Galerkin removes the remaining resonance term
    assert is_picture(tmp_path / "msfem_resonance.png")
    assert "energy: linear data, H >= eps: error ~ (eps/H)^" in capsys.readouterr().out


def test_msfem_elasticity(tmp_path):
    """FE², MsFEM and DNS side by side: FE² has no fine-scale strain (energy error of order 1),
    the MsFEM reconstructions carry it."""
    results = run_case("msfem_elasticity.py", "--cells", "8", "--coarse", "4", "--cell-h", "0.25", "--out", str(tmp_path))
    assert results["FE²"]["energy"] > 0.5
    for label in ("MsFEM linear", "MsFEM oversampling"):
        assert results[label]["energy"] < 0.5 * results["FE²"]["energy"]
        assert results[label]["l2"] < 0.2
    assert is_picture(tmp_path / "msfem_elasticity.png")
    for name in ("dns.vtu", "fe2.vtu", "oversampling_fine.vtu", "linear_coarse.vtu"):
        assert (tmp_path / name).is_file()
