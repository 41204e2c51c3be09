"""Tests of the lattice and random cells of fe2.geometry: hexagonal fibre array, sphere,
random inclusions (circles, ellipses) and random spheres."""
import itertools
import math

import numpy as np
import pytest
from scipy.spatial import cKDTree

import skfem

import fe2
from fe2.geometry import (hexagonal, hexagonal_lattice, inclusion, random_centres,
                          random_inclusions, random_spheres, sphere)


# ---------------------------------------------------------------- helpers

def phase_measures(mesh):
    """Area (2D) / volume (3D) of each named phase, and of the whole mesh."""
    dim = mesh.p.shape[0]
    x = mesh.p[:, mesh.t]
    jac = x[:, 1:, :] - x[:, :1, :]
    vol = np.abs(np.linalg.det(np.moveaxis(jac, -1, 0))) / math.factorial(dim)
    return {k: vol[v].sum() for k, v in mesh.subdomains.items()}, vol.sum()


def periodic_mismatch(mesh, lattice):
    """Largest distance from a node with fractional coordinate s_k = 1 to its nearest node
    after translation by -a_k, over all lattice vectors; also checks the counts match."""
    s = lattice.fractional(mesh.p)
    tree = cKDTree(mesh.p.T)
    worst = 0.0
    for k in range(lattice.dim):
        plus = np.abs(s[:, k] - 1) < 1e-9
        minus = np.abs(s[:, k]) < 1e-9
        assert plus.sum() == minus.sum() > 0
        d, _ = tree.query(mesh.p[:, plus].T - lattice.vectors[k])
        worst = max(worst, d.max())
    return worst


def assert_partition(mesh, names):
    assert set(mesh.subdomains) == set(names)
    count = np.zeros(mesh.t.shape[1], dtype=int)
    for v in mesh.subdomains.values():
        np.add.at(count, v, 1)
    assert np.all(count == 1)


def min_image(d, size):
    return d - size * np.round(d / size)


def pair_distances(centres, size):
    """Minimum-image centre distances of all pairs (i < j)."""
    i, j = np.triu_indices(len(centres), 1)
    return np.linalg.norm(min_image(centres[i] - centres[j], size), axis=1)


def ellipse_points(centre, angle, a, b, n=2000):
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    u = np.array([np.cos(angle), np.sin(angle)])
    v = np.array([-np.sin(angle), np.cos(angle)])
    return centre + np.outer(a * np.cos(t), u) + np.outer(b * np.sin(t), v)


def inside_ellipse(x, centre, angle, a, b, size):
    """x (k, 2) inside the ellipse or one of its periodic images."""
    d = min_image(x - centre, size)
    u = d @ np.array([np.cos(angle), np.sin(angle)])
    v = d @ np.array([-np.sin(angle), np.cos(angle)])
    return (u / a) ** 2 + (v / b) ** 2 < 1


def conduction(mesh, names, lattice=None):
    cell = fe2.Cell(mesh, {names[0]: fe2.Conductor(1.0), names[1]: fe2.Conductor(10.0)},
                    lattice=lattice)
    return fe2.homogenize(cell, "periodic")


def elasticity(mesh, names, lattice=None):
    cell = fe2.Cell(mesh, {names[0]: fe2.Isotropic(E=1.0, nu=0.3), names[1]: fe2.Isotropic(E=10.0, nu=0.2)},
                    lattice=lattice)
    return fe2.homogenize(cell, "periodic")


def hs_lower_2d(f, km=1.0, ki=10.0):
    """Hashin-Shtrikman lower bound (= Maxwell-Garnett) of 2D conduction, ki > km."""
    return km * (ki + km + f * (ki - km)) / (ki + km - f * (ki - km))


# -------------------------------------------------------------- hexagonal

@pytest.fixture(scope="module")
def hex_mesh():
    return hexagonal(0.5, h=0.04)


def test_hexagonal_lattice():
    lat = hexagonal_lattice(2.0)
    assert np.allclose(lat.vectors, [[2.0, 0.0], [1.0, math.sqrt(3)]])
    assert np.allclose(lat.origin, 0) and abs(lat.volume - 2 * math.sqrt(3)) < 1e-12


@pytest.mark.parametrize("a, h", [(1.0, 0.04), (2.5, 0.1)])
def test_hexagonal_geometry(a, h):
    f = 0.4
    m = hexagonal(f, a=a, h=h)
    assert isinstance(m, skfem.MeshTri1) and m.p.shape[0] == 2
    assert_partition(m, ("matrix", "fiber"))
    assert set(m.boundaries) == {"left", "right", "bottom", "top"}
    lat = hexagonal_lattice(a)
    areas, total = phase_measures(m)
    assert abs(total - lat.volume) < 1e-12 * lat.volume
    r = math.sqrt(f * lat.volume / math.pi)
    deficit = (f - areas["fiber"] / total) / f
    assert 0 < deficit < 1.2 * (h / r) ** 2 / 6          # inscribed polygon
    assert periodic_mismatch(m, lat) < 1e-12 * a
    # all nodes inside the rhombus; the fibre is split over its four corners
    s = lat.fractional(m.p)
    assert s.min() > -1e-12 and s.max() < 1 + 1e-12
    corners = np.array([[0, 0], [a, 0], [1.5 * a, 0.5 * math.sqrt(3) * a], [0.5 * a, 0.5 * math.sqrt(3) * a]])
    xc = m.p[:, m.t].mean(axis=1).T
    dist, nearest = cKDTree(corners).query(xc)
    fib = m.subdomains["fiber"]
    assert dist[fib].max() < r
    assert dist[m.subdomains["matrix"]].min() > r - h
    assert set(nearest[fib]) == {0, 1, 2, 3}
    # each corner carries its share of the fibre: 60, 120, 60, 120 degree sectors
    vol = np.abs(np.linalg.det(np.moveaxis(m.p[:, m.t][:, 1:] - m.p[:, m.t][:, :1], -1, 0))) / 2
    share = np.bincount(nearest[fib], weights=vol[fib], minlength=4) / vol[fib].sum()
    assert np.allclose(share, [1 / 6, 1 / 3, 1 / 6, 1 / 3], atol=5e-3)


def test_hexagonal_conduction_is_isotropic_and_near_hashin_shtrikman(hex_mesh):
    result = conduction(hex_mesh, ("matrix", "fiber"), hexagonal_lattice())
    K = result.tensor
    assert result.hill_mandel < 1e-10
    assert abs(K[0, 0] - K[1, 1]) < 1e-3 * K[0, 0]
    assert abs(K[0, 1]) < 1e-3 * K[0, 0]
    # P1 conduction is an energy upper bound of its (polygonal) geometry, itself above HS-lower
    areas, total = phase_measures(hex_mesh)
    hs = hs_lower_2d(areas["fiber"] / total)
    assert K[0, 0] >= hs
    # the hexagonal array sits much closer to HS-lower (Maxwell-Garnett) than the square one
    square = inclusion(0.5, h=0.04, phases=("matrix", "fiber"))
    Ks = conduction(square, ("matrix", "fiber")).tensor
    areas_s, total_s = phase_measures(square)
    gap_square = Ks[0, 0] - hs_lower_2d(areas_s["fiber"] / total_s)
    assert K[0, 0] - hs < 0.25 * gap_square            # 0.0055 vs 0.034 at h = 0.04
    assert gap_square > 0.02


def test_hexagonal_elasticity_is_isotropic_square_is_not(hex_mesh):
    result = elasticity(hex_mesh, ("matrix", "fiber"), hexagonal_lattice())
    C = result.tensor                                  # Mandel (xx, yy, sqrt2 xy)
    assert result.hill_mandel < 1e-10
    assert abs(C[0, 0] - C[1, 1]) < 1e-3 * C[0, 0]
    assert abs(C[2, 2] - (C[0, 0] - C[0, 1])) < 1e-3 * C[0, 0]
    assert np.abs(C[:2, 2]).max() < 1e-3 * C[0, 0]
    square = inclusion(0.5, h=0.04, phases=("matrix", "fiber"))
    Cs = elasticity(square, ("matrix", "fiber")).tensor
    assert abs(Cs[0, 0] - Cs[1, 1]) < 1e-3 * Cs[0, 0]      # cubic symmetry ...
    assert Cs[2, 2] / (Cs[0, 0] - Cs[0, 1]) < 0.85         # ... but anisotropic in shear
    assert abs(C[2, 2] / (C[0, 0] - C[0, 1]) - 1) < 1e-3


def test_hexagonal_default_lattice_is_not_the_cell(hex_mesh):
    """The bounding box is not the rhombus: fe2.Cell must be told the lattice."""
    with pytest.raises(ValueError, match="lattice"):
        fe2.Cell(hex_mesh, {"matrix": fe2.Conductor(1.0), "fiber": fe2.Conductor(10.0)})


def test_hexagonal_path_roundtrip(tmp_path):
    path = tmp_path / "hex.msh"
    m = hexagonal(0.3, h=0.08, phases=("m", "f"), path=path)
    again = fe2.geometry.load_mesh(path)
    assert np.array_equal(m.p, again.p) and np.array_equal(m.t, again.t)
    assert set(again.subdomains) == {"m", "f"}
    # faces named by lattice vector: 'left' is s1 = 0, 'top' is s2 = 1
    s = hexagonal_lattice().fractional(again.p)
    assert np.allclose(s[again.facets[:, again.boundaries["left"]].ravel(), 0], 0, atol=1e-12)
    assert np.allclose(s[again.facets[:, again.boundaries["top"]].ravel(), 1], 1, atol=1e-12)


# ------------------------------------------------------- random centres (numpy)

def test_random_centres_circles():
    f, gap = 0.4, 0.01
    P = random_centres(f, n=20, gap=gap, seed=7)
    r = P.axes[0]
    assert P.centres.shape == (20, 2) and P.shape == "circle"
    assert abs(20 * math.pi * r * r - f) < 1e-12
    assert np.all((P.centres >= 0) & (P.centres < 1))
    assert pair_distances(P.centres, 1.0).min() >= 2 * r + gap
    # the same seed gives the same centres, another seed others
    assert np.array_equal(P.centres, random_centres(f, n=20, gap=gap, seed=7).centres)
    assert not np.allclose(P.centres, random_centres(f, n=20, gap=gap, seed=8).centres)


def test_random_centres_default_n():
    # equivalent diameter ~ size/5 in 2D, size/4 in 3D
    P = random_centres(0.3, size=2.0)
    assert len(P.centres) == round(100 * 0.3 / math.pi) == 10
    assert abs(2 * P.axes[0] / 2.0 - 0.2) < 0.01
    P3 = random_centres(0.2, dim=3, clearance=0.0)
    assert len(P3.centres) == round(384 * 0.2 / math.pi) == 24
    assert abs(2 * P3.axes[0] - 0.25) < 0.005


def test_random_centres_edge_rule_circles():
    e = 0.02
    P = random_centres(0.35, n=15, clearance=e, seed=3)
    r, c = P.axes[0], P.centres
    for d in (c, 1 - c):                                   # faces
        assert np.all(np.abs(d - r) >= e)
    for dx, dy in itertools.product((c[:, 0], 1 - c[:, 0]), (c[:, 1], 1 - c[:, 1])):
        assert np.all(np.abs(np.hypot(dx, dy) - r) >= e)   # corners


def test_random_centres_ellipses_gap_and_edge_rule():
    f, gap, e, aspect = 0.35, 0.01, 0.01, 3.0
    P = random_centres(f, n=12, shape="ellipse", aspect=aspect, gap=gap, clearance=e, seed=2)
    a, b = P.axes
    assert abs(a / b - aspect) < 1e-12 and abs(12 * math.pi * a * b - f) < 1e-12
    assert np.ptp(P.angles) > 1.0                          # random orientations
    pts = [ellipse_points(c, th, a, b) for c, th in zip(P.centres, P.angles)]
    shifts = np.array(list(itertools.product((-1, 0, 1), repeat=2)), dtype=float)
    worst = np.inf
    for i, j in itertools.combinations(range(len(pts)), 2):
        tree = cKDTree(pts[j])
        for s in shifts:                                   # all periodic images
            worst = min(worst, tree.query(pts[i] + s)[0].min())
    sampling = a * (2 * np.pi / 2000) ** 2                 # polygon vs. ellipse, generous
    assert worst >= gap - sampling
    # edge rule: the boundary is at least e from tangency to every edge, and from every corner
    for c, th, x in zip(P.centres, P.angles, pts):
        for k in range(2):
            support = np.ptp(x[:, k]) / 2
            assert min(abs(c[k] - support), abs(1 - c[k] - support)) >= e - sampling
        for corner in itertools.product((0.0, 1.0), repeat=2):
            assert np.linalg.norm(x - corner, axis=1).min() >= e - sampling


def test_random_centres_ellipse_test_is_not_bounding_circles():
    """Perram-Wertheim lets elongated ellipses come closer than their bounding circles."""
    P = random_centres(0.35, n=12, shape="ellipse", aspect=4.0, seed=0)
    assert pair_distances(P.centres, 1.0).min() < 2 * P.axes[0]


def test_random_centres_spheres():
    gap, e = 0.02, 0.02
    P = random_centres(0.25, dim=3, n=12, gap=gap, clearance=e, seed=5)
    r, c = P.axes[0], P.centres
    assert P.centres.shape == (12, 3) and P.shape == "sphere"
    assert abs(12 * 4 / 3 * math.pi * r ** 3 - 0.25) < 1e-12
    assert pair_distances(c, 1.0).min() >= 2 * r + gap
    near = (c, 1 - c)
    for m in (1, 2, 3):                                    # faces, edge lines, corners
        for axes in itertools.combinations(range(3), m):
            for sides in itertools.product((0, 1), repeat=m):
                dist = np.sqrt(sum(near[s][:, k] ** 2 for k, s in zip(axes, sides)))
                assert np.all(np.abs(dist - r) >= e)


@pytest.mark.parametrize("kwargs", [
    dict(fraction=0.9, n=30, gap=0.01, max_attempts=20000),
    dict(fraction=0.6, dim=3, n=20, gap=0.01, max_attempts=20000),
])
def test_random_centres_unreachable(kwargs):
    with pytest.raises(ValueError) as err:
        random_centres(**kwargs)
    msg = str(err.value)
    assert f"fraction={kwargs['fraction']}" in msg and f"n={kwargs['n']}" in msg
    assert f"max_attempts={kwargs['max_attempts']}" in msg
    placed = int(msg.split("only ")[1].split(" placed")[0])
    assert 0 < placed < kwargs["n"]
    reached = float(msg.split("fraction reached ")[1].split(";")[0])
    assert abs(reached - kwargs["fraction"] * placed / kwargs["n"]) < 1e-4


# ------------------------------------------------------- random inclusions (mesh)

@pytest.fixture(scope="module")
def random_mesh():
    return random_inclusions(0.35, n=12, seed=1, phases=("matrix", "fiber"))


def test_random_inclusions_mesh(random_mesh):
    m, f = random_mesh, 0.35
    assert isinstance(m, skfem.MeshTri1) and m.p.shape[0] == 2
    assert_partition(m, ("matrix", "fiber"))
    areas, total = phase_measures(m)
    assert abs(total - 1) < 1e-12
    r = math.sqrt(f / (12 * math.pi))
    h = r / 4                                              # the default
    deficit = (f - areas["fiber"]) / f
    assert 0 < deficit < 1.2 * (h / r) ** 2 / 6
    assert periodic_mismatch(m, fe2.Lattice(np.eye(2))) < 1e-12
    # phases follow the placed circles, including the pieces wrapped across edges
    P = random_centres(f, n=12, seed=1, gap=h / 2, clearance=h / 2)
    xc = m.p[:, m.t].mean(axis=1).T
    d = np.linalg.norm(min_image(xc[:, None] - P.centres[None], 1.0), axis=2).min(axis=1)
    assert d[m.subdomains["fiber"]].max() < r
    assert d[m.subdomains["matrix"]].min() > r - h
    # at least one circle is cut by an edge (its wrapped pieces were checked above)
    cut = np.any((P.centres < r) | (P.centres > 1 - r), axis=1)
    assert cut.any()


def test_random_inclusions_reproducible(random_mesh):
    again = random_inclusions(0.35, n=12, seed=1, phases=("matrix", "fiber"))
    assert np.array_equal(random_mesh.p, again.p) and np.array_equal(random_mesh.t, again.t)
    other = random_inclusions(0.35, n=12, seed=2, phases=("matrix", "fiber"))
    assert other.p.shape != random_mesh.p.shape or not np.allclose(other.p, random_mesh.p)


def test_random_inclusions_homogenize(random_mesh):
    result = conduction(random_mesh, ("matrix", "fiber"))
    assert result.hill_mandel < 1e-10 and result.positive_definite
    areas, _ = phase_measures(random_mesh)
    assert result.eigenvalues.min() >= hs_lower_2d(areas["fiber"]) - 1e-12
    result = elasticity(random_mesh, ("matrix", "fiber"))
    assert result.hill_mandel < 1e-10 and result.positive_definite


def test_random_ellipses_mesh():
    f, n, aspect, gap = 0.3, 8, 2.5, 0.01
    m = random_inclusions(f, n=n, shape="ellipse", aspect=aspect, gap=gap, seed=4, size=2.0)
    assert_partition(m, ("matrix", "inclusion"))
    areas, total = phase_measures(m)
    assert abs(total - 4) < 1e-12
    assert 0 < (f - areas["inclusion"] / total) / f < 0.02
    lattice = fe2.Lattice(2.0 * np.eye(2))
    assert periodic_mismatch(m, lattice) < 1e-12
    # the element phases follow the rotated, wrapped ellipses
    b = math.sqrt(f * 4 / (n * math.pi * aspect))
    h = b / 4
    P = random_centres(f, n=n, shape="ellipse", aspect=aspect, gap=max(gap, h / 2), clearance=h / 2,
                       seed=4, size=2.0)
    a = P.axes[0]
    xc = m.p[:, m.t].mean(axis=1).T
    inside = np.zeros(len(xc), dtype=bool)
    for c, th in zip(P.centres, P.angles):
        inside |= inside_ellipse(xc, c, th, a, b, 2.0)
    assert np.all(inside[m.subdomains["inclusion"]])
    matrix_in = inside[m.subdomains["matrix"]].mean()
    assert matrix_in < 0.01                                # only slivers at the interface
    result = elasticity(m, ("matrix", "inclusion"))
    assert result.hill_mandel < 1e-10 and result.positive_definite


# ---------------------------------------------------------------- 3D cells

def test_sphere():
    f, h = 0.2, 0.12
    m = sphere(f, h=h)
    assert isinstance(m, skfem.MeshTet1) and m.p.shape[0] == 3
    assert_partition(m, ("matrix", "inclusion"))
    assert set(m.boundaries) == {"left", "right", "bottom", "top", "back", "front"}
    vols, total = phase_measures(m)
    assert abs(total - 1) < 1e-12
    r = (3 * f / (4 * math.pi)) ** (1 / 3)
    assert 0 < (f - vols["inclusion"]) / f < 0.5 * (h / r) ** 2
    assert periodic_mismatch(m, fe2.Lattice(np.eye(3))) < 1e-12
    result = conduction(m, ("matrix", "inclusion"))
    assert result.hill_mandel < 1e-10
    K = np.diag(result.tensor)
    assert np.ptp(K) < 0.01 * K.mean()                     # cubic symmetry, to mesh error


@pytest.fixture(scope="module")
def sphere_pack():
    return random_spheres(0.2, n=5, h=0.09, seed=3)


def test_random_spheres(sphere_pack):
    m, f, n, h = sphere_pack, 0.2, 5, 0.09
    assert isinstance(m, skfem.MeshTet1)
    assert_partition(m, ("matrix", "inclusion"))
    vols, total = phase_measures(m)
    assert abs(total - 1) < 1e-12
    r = (3 * f / (4 * math.pi * n)) ** (1 / 3)
    assert 0 < (f - vols["inclusion"]) / f < 0.5 * (h / r) ** 2
    assert periodic_mismatch(m, fe2.Lattice(np.eye(3))) < 1e-12
    P = random_centres(f, dim=3, n=n, gap=h / 2, clearance=h / 2, seed=3)
    assert pair_distances(P.centres, 1.0).min() >= 2 * r + h / 2
    xc = m.p[:, m.t].mean(axis=1).T
    d = np.linalg.norm(min_image(xc[:, None] - P.centres[None], 1.0), axis=2).min(axis=1)
    assert d[m.subdomains["inclusion"]].max() < r
    assert d[m.subdomains["matrix"]].min() > r - h
    assert np.any((P.centres < r) | (P.centres > 1 - r))   # some sphere is wrapped
    result = conduction(m, ("matrix", "inclusion"))
    assert result.hill_mandel < 1e-10 and result.positive_definite


def test_random_spheres_reproducible(sphere_pack):
    again = random_spheres(0.2, n=5, h=0.09, seed=3)
    assert np.array_equal(sphere_pack.p, again.p) and np.array_equal(sphere_pack.t, again.t)
    other = random_spheres(0.2, n=5, h=0.09, seed=4)
    assert other.p.shape != sphere_pack.p.shape or not np.allclose(other.p, sphere_pack.p)


def test_random_spheres_elasticity():
    m = random_spheres(0.15, n=3, h=0.12, seed=0, phases=("a", "b"))
    result = elasticity(m, ("a", "b"))
    assert result.hill_mandel < 1e-10 and result.positive_definite


# ------------------------------------------------------------ bad arguments

@pytest.mark.parametrize("call, word", [
    (lambda: hexagonal(0.95), "fraction"),                 # beyond hexagonal packing
    (lambda: hexagonal(0.0), "fraction"),
    (lambda: hexagonal(0.5, a=-1.0), "a"),
    (lambda: hexagonal(0.5, h=1.0), "h"),
    (lambda: hexagonal(0.01, h=0.1), "h"),                 # h above the fibre radius
    (lambda: hexagonal(0.5, phases=("m", "m")), "phases"),
    (lambda: hexagonal(0.5, path="cell.vtk"), "path"),
    (lambda: hexagonal_lattice(0.0), "a"),
    (lambda: sphere(0.6), "fraction"),                     # r > size/2
    (lambda: sphere(0.2, h=0.5), "h"),
    (lambda: sphere(0.2, size=-1.0), "size"),
    (lambda: random_inclusions(1.2), "fraction"),
    (lambda: random_inclusions(0.3, n=0), "n"),
    (lambda: random_inclusions(0.3, n=2.5), "n"),
    (lambda: random_inclusions(0.3, shape="square"), "shape"),
    (lambda: random_inclusions(0.3, aspect=2.0), "aspect"),   # aspect needs an ellipse
    (lambda: random_inclusions(0.3, shape="ellipse", aspect=0.5), "aspect"),
    (lambda: random_inclusions(0.3, gap=-0.1), "gap"),
    (lambda: random_inclusions(0.3, h=0.2), "h"),          # h above the radius
    (lambda: random_inclusions(0.3, seed=-1), "seed"),
    (lambda: random_inclusions(0.3, seed=1.5), "seed"),
    (lambda: random_inclusions(0.3, max_attempts=0), "max_attempts"),
    (lambda: random_inclusions(0.8, n=1), "n"),            # overlaps its own image
    (lambda: random_inclusions(0.3, phases=("a",)), "phases"),
    (lambda: random_inclusions(0.3, clearance=-1.0), "clearance"),
    (lambda: random_spheres(0.2, n=1, gap=0.5), "n"),
    (lambda: random_spheres(0.2, h=0.0), "h"),
    (lambda: random_centres(0.2, dim=1), "dim"),
    (lambda: random_centres(0.2, dim=3, shape="circle"), "shape"),
])
def test_bad_input(call, word):
    with pytest.raises(ValueError, match=rf"\b{word}="):
        call()


def test_unreachable_fraction_names_the_numbers():
    """Raised before gmsh runs; the message carries the numbers and the effective separation."""
    with pytest.raises(ValueError, match=r"only \d+ placed.*fraction reached 0\.\d+.*max\(gap=0.01"):
        random_inclusions(0.7, gap=0.01, max_attempts=5000)


@pytest.mark.parametrize("name, lattice", [("hexagonal.msh", hexagonal_lattice()),
                                           ("random_fibers.msh", fe2.Lattice(np.eye(2)))])
def test_shipped_meshes(name, lattice):
    import os
    m = fe2.geometry.load_mesh(os.path.join(os.path.dirname(__file__), "..", "meshes", name))
    assert_partition(m, ("matrix", "fiber"))
    areas, total = phase_measures(m)
    assert abs(total - lattice.volume) < 1e-12
    assert abs(areas["fiber"] / total - {"hexagonal.msh": 0.5, "random_fibers.msh": 0.4}[name]) < 5e-3
    assert periodic_mismatch(m, lattice) < 1e-12
