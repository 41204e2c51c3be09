"""Mesh convergence of a circular inclusion (square array of discs, f = 0.3, contrast 10).

With straight-sided triangles the disc is an inscribed polygon, so both P1 and P2 carry an O(h^2)
geometric error besides the discretization error (O(h^2) in energy for P1, O(h^4) for P2). The
effective tensor therefore converges at order 2 for P2, and P1 and P2 approach each other.
"""

import numpy as np
import pytest

import fe2

from conftest import materials

SIZES = (0.1, 0.05, 0.025)


@pytest.fixture(scope="module")
def meshes():
    return [fe2.geometry.inclusion(0.3, h=h) for h in SIZES]


def effective(mesh, physics, order):
    return fe2.homogenize(fe2.Cell(mesh, materials(physics), order=order), "periodic").tensor[0, 0]


@pytest.mark.parametrize("physics", ["conduction", "elasticity"])
def test_p2_converges_at_order_two(meshes, physics):
    values = np.array([effective(mesh, physics, 2) for mesh in meshes])
    d = np.abs(np.diff(values))
    rate = np.log2(d[0] / d[1])
    assert 1.6 < rate < 2.4, (values, rate)
    # converging from below: the inscribed polygon holds less of the stiff phase
    assert np.all(np.diff(values) > 0)


@pytest.mark.parametrize("physics", ["conduction", "elasticity"])
def test_p1_and_p2_agree_in_the_limit(meshes, physics):
    gaps = np.array([abs(effective(mesh, physics, 1) - effective(mesh, physics, 2)) for mesh in meshes])
    reference = effective(meshes[-1], physics, 2)
    assert np.all(gaps[:-1] / gaps[1:] > 2.5), gaps       # the gap shrinks like h^2
    assert gaps[-1] / reference < 1e-3, gaps
