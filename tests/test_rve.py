"""RVE-size study: ordering at every size, variance falling with volume, conditions closing in."""

import numpy as np
import pytest

import fe2
from fe2.rve_size import CONDITIONS, RandomDiscs, size_study

CONDUCTORS = {"matrix": fe2.Conductor(1.0), "inclusion": fe2.Conductor(10.0)}


@pytest.fixture(scope="module")
def study():
    return size_study(RandomDiscs(0.3, h=0.25), [2.5, 4.0, 6.0], 8, CONDUCTORS, executor="processes", progress=False)


def test_ordering_holds_for_every_cell(study):
    assert study.ordered()
    means = {bc: s["mean"] for bc, s in study.statistics().items()}
    assert np.all(means["subc"] < means["periodic"]) and np.all(means["periodic"] < means["kubc"])


def test_variance_falls_with_volume(study):
    for bc in CONDITIONS:
        var = study.values[bc].var(axis=1, ddof=1)
        assert var[-1] < var[0], (bc, var)
    # a finite-range microstructure: variance ~ 1/V, so alpha is near one (few realizations: loose)
    assert 0.5 < study.variance_exponent("periodic") < 2.5


def test_conditions_close_in(study):
    statistics = study.statistics()
    spread = statistics["kubc"]["mean"] - statistics["subc"]["mean"]
    assert np.all(np.diff(spread) < 0), spread


def test_statistics_and_rve_size(study, tmp_path):
    statistics = study.statistics(confidence=0.95)
    periodic = statistics["periodic"]
    assert np.all(periodic["ci"] > 0) and np.all(periodic["ci"] < periodic["std"])  # t(0.975, 7) / sqrt(8) < 1
    coarse, fine = study.rve_size(0.02), study.rve_size(0.005)
    assert 0 < coarse < fine          # a tighter precision needs a larger cell
    assert study.rve_size(0.005, realizations=10) < fine  # or more realizations
    png = study.plot(tmp_path / "rve.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert "spread" in study.table()


def test_bad_input():
    with pytest.raises(ValueError, match="at least two increasing positive numbers"):
        size_study(RandomDiscs(0.3), [4.0, 2.0], 3, CONDUCTORS)
    with pytest.raises(ValueError, match="realizations must be at least 2"):
        size_study(RandomDiscs(0.3), [2.0, 4.0], 1, CONDUCTORS)
