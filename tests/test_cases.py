"""Every case script runs, at a reduced size, and its printed checks hold."""

import json
import runpy
from pathlib import Path

import numpy as np

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
