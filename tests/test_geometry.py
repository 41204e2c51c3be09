"""Tests of fe2.geometry: periodic gmsh cells with named phases."""
import math

import numpy as np
import pytest
from scipy.spatial import cKDTree

import skfem
from fe2.geometry import checkerboard, inclusion, laminate, load_mesh


def phase_measures(mesh):
    """Area (2D) / volume (3D) of each named phase, and of the whole mesh."""
    dim = mesh.p.shape[0]
    x = mesh.p[:, mesh.t]                       # (dim, nverts, nelems)
    jac = x[:, 1:, :] - x[:, :1, :]             # (dim, dim, nelems)
    vol = np.abs(np.linalg.det(np.moveaxis(jac, -1, 0))) / math.factorial(dim)
    return {k: vol[v].sum() for k, v in mesh.subdomains.items()}, vol.sum()


def max_periodic_mismatch(mesh, size=1.0):
    """Largest distance from a node on x_i=size to its partner on x_i=0."""
    p = mesh.p
    worst = 0.0
    for axis in range(p.shape[0]):
        hi = p[:, np.abs(p[axis] - size) < 1e-9 * size]
        lo = p[:, np.abs(p[axis]) < 1e-9 * size]
        assert hi.shape[1] == lo.shape[1] > 0
        other = [i for i in range(p.shape[0]) if i != axis]
        d, _ = cKDTree(lo[other].T).query(hi[other].T)
        worst = max(worst, d.max())
    return worst


def assert_partition(mesh, names):
    assert set(mesh.subdomains) == set(names)
    assert not any(k.startswith("gmsh:") for k in mesh.subdomains)
    count = np.zeros(mesh.t.shape[1], dtype=int)
    for v in mesh.subdomains.values():
        np.add.at(count, v, 1)
    assert np.all(count == 1)


# ---------------------------------------------------------------- laminate

@pytest.mark.parametrize("normal", [0, 1])
def test_laminate_2d(normal):
    m = laminate(0.3, h=0.1, normal=normal, phases=("soft", "hard"))
    assert isinstance(m, skfem.MeshTri1) and m.p.shape[0] == 2
    assert_partition(m, ("soft", "hard"))
    areas, total = phase_measures(m)
    assert abs(areas["soft"] - 0.3) < 1e-12 and abs(areas["hard"] - 0.7) < 1e-12
    assert abs(total - 1.0) < 1e-12
    # layer geometry: phase 0 lies in x_normal <= 0.3, phase 1 in >= 0.3
    xc = m.p[normal, m.t].mean(axis=0)
    assert xc[m.subdomains["soft"]].max() < 0.3
    assert xc[m.subdomains["hard"]].min() > 0.3
    assert max_periodic_mismatch(m) < 1e-10
    assert np.all(m.p >= -1e-14) and np.all(m.p <= 1 + 1e-14)


@pytest.mark.parametrize("normal", [0, 2])
def test_laminate_3d(normal):
    m = laminate(0.25, dim=3, size=2.0, h=0.4, normal=normal)
    assert isinstance(m, skfem.MeshTet1) and m.p.shape[0] == 3
    assert_partition(m, ("a", "b"))
    vols, total = phase_measures(m)
    assert abs(vols["a"] - 0.25 * 8) < 1e-12 and abs(vols["b"] - 0.75 * 8) < 1e-12
    assert abs(total - 8.0) < 1e-12
    assert max_periodic_mismatch(m, size=2.0) < 1e-10
    assert set(m.boundaries) == {"left", "right", "bottom", "top", "back", "front"}


def test_deterministic():
    m1 = laminate(0.4, dim=3, h=0.3)
    m2 = laminate(0.4, dim=3, h=0.3)
    assert np.array_equal(m1.p, m2.p) and np.array_equal(m1.t, m2.t)
    for k in m1.subdomains:
        assert np.array_equal(m1.subdomains[k], m2.subdomains[k])


# --------------------------------------------------------------- inclusion

def test_inclusion_area_converges():
    f = 0.4
    r = math.sqrt(f / math.pi)
    errors = []
    for h in (0.06, 0.03):
        m = inclusion(f, h=h, phases=("matrix", "fiber"))
        assert isinstance(m, skfem.MeshTri1) and m.p.shape[0] == 2
        assert_partition(m, ("matrix", "fiber"))
        areas, total = phase_measures(m)
        assert abs(total - 1.0) < 1e-12
        err = (f - areas["fiber"]) / f
        # inscribed polygon: deficit ~ (h/r)^2 / 6, never an excess
        assert 0 < err < 1.2 * (h / r) ** 2 / 6
        errors.append(err)
        assert max_periodic_mismatch(m) < 1e-10
        # the fibre is the disc around the centre
        xc = m.p[:, m.t].mean(axis=1)
        dist = np.linalg.norm(xc - 0.5, axis=0)
        assert dist[m.subdomains["fiber"]].max() < r
        assert dist[m.subdomains["matrix"]].min() > r - h
    assert errors[1] < 2e-3
    assert errors[1] < 0.4 * errors[0]   # ~ h^2


def test_inclusion_size_scaling():
    m = inclusion(0.2, size=3.0, h=0.15)
    areas, total = phase_measures(m)
    assert abs(total - 9.0) < 1e-11
    assert abs(areas["inclusion"] / 9.0 - 0.2) < 5e-3
    assert m.p.min() >= -1e-12 and m.p.max() <= 3.0 + 1e-12
    assert max_periodic_mismatch(m, size=3.0) < 1e-10


# ------------------------------------------------------------ checkerboard

@pytest.mark.parametrize("n, h", [(4, 0.08), (6, 0.3)])
def test_checkerboard(n, h):
    m = checkerboard(n, h=h, phases=("x", "y"))
    assert_partition(m, ("x", "y"))
    areas, total = phase_measures(m)
    assert abs(areas["x"] - 0.5) < 1e-12 and abs(areas["y"] - 0.5) < 1e-12
    assert max_periodic_mismatch(m) < 1e-10
    # square (i, j) gets phases[(i + j) % 2]
    xc = m.p[:, m.t].mean(axis=1)
    ij = np.floor(xc * n).astype(int)
    parity = (ij[0] + ij[1]) % 2
    assert np.all(parity[m.subdomains["x"]] == 0)
    assert np.all(parity[m.subdomains["y"]] == 1)


# ---------------------------------------------------------------- load_mesh

def test_path_and_roundtrip(tmp_path):
    path = tmp_path / "cell.msh"
    m = inclusion(0.3, h=0.1, phases=("mat", "inc"), path=path)
    assert path.exists()
    again = load_mesh(path)
    assert np.array_equal(m.p, again.p) and np.array_equal(m.t, again.t)
    assert set(again.subdomains) == {"mat", "inc"}
    for k in m.subdomains:
        assert np.array_equal(m.subdomains[k], again.subdomains[k])
    assert again.p.shape[0] == 2
    assert set(again.boundaries) == {"left", "right", "bottom", "top"}
    left = again.p[0, again.facets[:, again.boundaries["left"]]]
    assert np.all(np.abs(left) < 1e-12)
    # same mesh as without a path
    m2 = inclusion(0.3, h=0.1, phases=("mat", "inc"))
    assert np.array_equal(m.p, m2.p) and np.array_equal(m.t, m2.t)


def test_load_mesh_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.msh"):
        load_mesh(tmp_path / "nowhere.msh")
    bad = tmp_path / "garbage.msh"
    bad.write_text("this is not a mesh\n")
    with pytest.raises(ValueError, match="garbage.msh"):
        load_mesh(bad)
    plain = tmp_path / "plain.msh"
    skfem.MeshTri().refined(1).save(str(plain))
    with pytest.raises(ValueError, match="plain.msh.*no named subdomains"):
        load_mesh(plain)


def test_shipped_fiber_mesh():
    import os
    path = os.path.join(os.path.dirname(__file__), "..", "meshes", "fiber.msh")
    m = load_mesh(path)
    assert set(m.subdomains) == {"matrix", "fiber"}
    areas, _ = phase_measures(m)
    assert abs(areas["fiber"] - 0.4) / 0.4 < 2e-3
    assert max_periodic_mismatch(m) < 1e-10


# ------------------------------------------------------------ bad arguments

@pytest.mark.parametrize("call, word", [
    (lambda: laminate(0.0), "fraction"),
    (lambda: laminate(1.0), "fraction"),
    (lambda: laminate(-0.2), "fraction"),
    (lambda: inclusion(1.5), "fraction"),
    (lambda: laminate(0.5, h=0.0), "h"),
    (lambda: laminate(0.5, h=-0.1), "h"),
    (lambda: inclusion(0.3, h=1.0), "h"),
    (lambda: checkerboard(2, h=2.0, size=2.0), "h"),
    (lambda: checkerboard(3), "n"),
    (lambda: checkerboard(1), "n"),
    (lambda: checkerboard(0), "n"),
    (lambda: laminate(0.5, normal=2), "normal"),
    (lambda: laminate(0.5, dim=3, normal=3), "normal"),
    (lambda: laminate(0.5, normal=-1), "normal"),
    (lambda: laminate(0.5, dim=1), "dim"),
    (lambda: laminate(0.5, dim=4), "dim"),
    (lambda: inclusion(math.pi / 4), "fraction"),      # touches the edges
    (lambda: inclusion(0.8), "fraction"),              # crosses them
    (lambda: laminate(0.5, phases=("a", "a")), "phases"),
    (lambda: laminate(0.5, phases=("a", "")), "phases"),
    (lambda: inclusion(0.3, phases=("a",)), "phases"),
    (lambda: checkerboard(2, phases=("a", 3)), "phases"),
    (lambda: checkerboard(2, phases="ab"), "phases"),
])
def test_bad_input(call, word):
    with pytest.raises(ValueError, match=rf"\b{word}="):
        call()
