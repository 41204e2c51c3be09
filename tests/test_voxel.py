"""Cells from labelled images (fe2.voxel): axis convention, exact laminates, volumes, convergence to
a body-fitted mesh, periodicity checks, file reading and the case script."""

import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
import skfem

import fe2
from fe2 import voxel

ROOT = Path(__file__).resolve().parent.parent
K1, K2 = 1.0, 10.0
CONDUCTORS = {"phase0": fe2.Conductor(K1), "phase1": fe2.Conductor(K2)}


def layered(shape, axis, ones):
    """Label 1 in the layers ``ones`` (indices along ``axis``), 0 elsewhere."""
    labels = np.zeros(shape, dtype=np.int32)
    index = [slice(None)] * len(shape)
    index[axis] = ones
    labels[tuple(index)] = 1
    return labels


# --- axis convention and exact laminates -------------------------------------------------------
@pytest.mark.parametrize("kind", ["quad", "tri"])
@pytest.mark.parametrize("axis", [0, 1])
def test_laminate_2d(kind, axis):
    # 10 x 6 voxels of size 0.5 x 2 (a 5 x 12 box): a transposed convention gives another box and
    # layers normal to the other axis, so both the tensor and the coordinates would fail
    shape, spacing = (10, 6), (0.5, 2.0)
    labels = layered(shape, axis, [0, 3, 4] if axis == 0 else [1])
    mesh = voxel.voxel_mesh(labels, spacing=spacing, kind=kind)
    assert type(mesh) is {"quad": skfem.MeshQuad1, "tri": skfem.MeshTri1}[kind]
    np.testing.assert_allclose(mesh.p.max(axis=1), [5.0, 12.0])
    f2 = 3 / 10 if axis == 0 else 1 / 6
    K = fe2.homogenize(fe2.Cell(mesh, CONDUCTORS), "periodic").tensor
    exact = fe2.analytic.laminate_conductivity([K1 * np.eye(2), K2 * np.eye(2)], [1 - f2, f2], normal=axis)
    np.testing.assert_allclose(K, exact, atol=1e-12)
    assert not np.allclose(exact, exact[::-1, ::-1])  # the test can tell x from y


@pytest.mark.parametrize("kind", ["hex", "tet"])
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_laminate_3d(kind, axis):
    shape = (4, 5, 6)
    labels = layered(shape, axis, [1])
    mesh = voxel.voxel_mesh(labels, spacing=(1.0, 0.5, 0.25), kind=kind)
    assert type(mesh) is {"hex": skfem.MeshHex1, "tet": skfem.MeshTet1}[kind]
    f2 = 1 / shape[axis]
    K = fe2.homogenize(fe2.Cell(mesh, CONDUCTORS), "periodic").tensor
    exact = fe2.analytic.laminate_conductivity([K1 * np.eye(3), K2 * np.eye(3)], [1 - f2, f2], normal=axis)
    np.testing.assert_allclose(K, exact, atol=1e-12)


@pytest.mark.parametrize("kind", ["hex", "tet"])
def test_laminate_elasticity_3d(kind):
    soft, stiff = fe2.Isotropic(E=1.0, nu=0.3), fe2.Isotropic(E=10.0, nu=0.2)
    labels = layered((3, 4, 5), 2, [0, 1])
    cell = fe2.Cell(voxel.voxel_mesh(labels, kind=kind), {"phase0": soft, "phase1": stiff})
    C = fe2.homogenize(cell, "periodic").tensor
    exact = fe2.analytic.laminate_stiffness([soft.tensor(3), stiff.tensor(3)], [0.6, 0.4], normal=2)
    np.testing.assert_allclose(C, exact, atol=1e-11 * np.abs(exact).max())


def test_tets_are_conforming_and_positive():
    mesh = voxel.voxel_mesh(np.zeros((3, 4, 2), int), kind="tet")
    assert mesh.t.shape[1] == 6 * 24
    volumes = np.asarray(skfem.Basis(mesh, skfem.ElementTetP0()).dx).sum(axis=1)
    np.testing.assert_allclose(volumes, 1 / 6)
    # conforming: every interior facet is shared by exactly two tets
    assert mesh.boundary_facets().size == 2 * (3 * 4 + 4 * 2 + 3 * 2) * 2


# --- phases, volumes, spacing --------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["hex", "tet"])
def test_volumes_names_spacing(kind):
    rng = np.random.default_rng(1)
    labels = rng.integers(3, 6, size=(5, 4, 3))
    h = (0.5, 1.0, 2.0)
    mesh = voxel.voxel_mesh(labels, spacing=h, kind=kind)
    assert sorted(mesh.subdomains) == ["phase3", "phase4", "phase5"]
    np.testing.assert_allclose(mesh.p.min(axis=1), 0.0)
    np.testing.assert_allclose(mesh.p.max(axis=1), [2.5, 4.0, 6.0])
    cell = fe2.Cell(mesh, {f"phase{v}": fe2.Conductor(1.0) for v in (3, 4, 5)})
    assert cell.volume == pytest.approx(60 * np.prod(h))
    for v in (3, 4, 5):
        assert cell.fractions[f"phase{v}"] * cell.volume == pytest.approx(np.sum(labels == v) * np.prod(h))
    # the element containing the centre of voxel (i, j, k) is in the phase of labels[i, j, k]
    phase_of = np.empty(mesh.t.shape[1], dtype=object)
    for name, elements in mesh.subdomains.items():
        phase_of[elements] = name
    centres = np.array([[0.5 * 0.5, 2.5 * 1.0, 1.5 * 2.0]]).T  # voxel (0, 2, 1)
    element = mesh.element_finder()(*centres)[0]
    assert phase_of[element] == f"phase{labels[0, 2, 1]}"


def test_names_merge_and_extra_labels():
    labels = np.array([[0, 1, 2], [2, 1, 0]])
    mesh = voxel.voxel_mesh(labels, names={0: "pore", 2: "pore", 1: "solid", 7: "unused"}, spacing=0.1)
    assert sorted(mesh.subdomains) == ["pore", "solid"]
    assert len(mesh.subdomains["pore"]) == 4 and len(mesh.subdomains["solid"]) == 2
    assert np.sort(np.concatenate(list(mesh.subdomains.values()))).tolist() == list(range(6))
    assert voxel.voxel_mesh(labels.astype(bool)).subdomains.keys() == {"phase0", "phase1"}


# --- convergence to a body-fitted mesh ---------------------------------------------------------
def test_voxel_disc_converges_to_gmsh():
    """A disc (f = 0.3, contrast 10) voxelized at N pixels vs the gmsh cell: error O(1/N)."""
    mats = {"matrix": fe2.Conductor(1.0), "inclusion": fe2.Conductor(10.0)}
    coarse, fine = (fe2.homogenize(fe2.Cell(fe2.geometry.inclusion(0.3, h=h), mats, order=2), "periodic").tensor[0, 0]
                    for h in (0.04, 0.02))
    reference = fine + (fine - coarse) / 3  # Richardson: P2 on polygons converges at O(h^2)
    radius = np.sqrt(0.3 / np.pi)
    errors = []
    for N in (16, 32, 64, 128):
        x = (np.arange(N) + 0.5) / N
        labels = np.hypot(*np.meshgrid(x - 0.5, x - 0.5, indexing="ij")) < radius
        cell = voxel.voxel_cell(labels, mats, spacing=1 / N, names={False: "matrix", True: "inclusion"})
        K = fe2.homogenize(cell, "periodic").tensor
        assert abs(K[0, 0] - K[1, 1]) < 1e-10 and abs(K[0, 1]) < 1e-10  # square symmetry of the image
        errors.append(K[0, 0] - reference)
    errors = np.array(errors)
    assert np.all(errors > 0) and np.all(np.diff(errors) < 0), errors  # staircases conduct more, less so when finer
    assert np.all((0.3 < errors * [16, 32, 64, 128]) & (errors * [16, 32, 64, 128] < 1.0)), errors  # O(1/N)
    assert errors[-1] / errors[0] < 0.2 and errors[-1] / reference < 4e-3, errors


# --- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize("labels, message", [
    (np.zeros((3, 3)), "must hold integer labels, got dtype float64 (its values are whole numbers"),
    (np.full((3, 3), 0.5), "must hold integer labels, got dtype float64; segment"),
    (np.zeros(4, int), "2D or 3D array (x, y[, z]), got ndim=1"),
    (np.zeros((2, 2, 2, 2), int), "got ndim=4"),
    (np.zeros((0, 3), int), "empty: shape (0, 3)"),
])
def test_label_errors(labels, message):
    with pytest.raises(ValueError) as err:
        voxel.voxel_mesh(labels)
    assert message in str(err.value)


def test_argument_errors():
    labels = np.array([[0, 1], [2, 3]])
    with pytest.raises(ValueError, match=r"no phase name for label\(s\) \[1, 3\] present in the image"):
        voxel.voxel_mesh(labels, names={0: "a", 2: "b"})
    with pytest.raises(ValueError, match="names must be a dict"):
        voxel.voxel_mesh(labels, names=["a", "b", "c", "d"])
    with pytest.raises(ValueError, match="phase name of label 0 must be a non-empty string"):
        voxel.voxel_mesh(labels, names={0: "", 1: "a", 2: "b", 3: "c"})
    with pytest.raises(ValueError, match=r"kind must be one of \['quad', 'tri'\] for a 2D image, got 'hex'"):
        voxel.voxel_mesh(labels, kind="hex")
    with pytest.raises(ValueError, match="spacing must be a positive number or 2 positive numbers"):
        voxel.voxel_mesh(labels, spacing=(1.0, -1.0))
    with pytest.raises(ValueError, match="spacing"):
        voxel.voxel_mesh(labels, spacing=(1.0, 1.0, 1.0))


# --- periodicity -------------------------------------------------------------------------------
def half_disc(n=40, radius=8):
    """A disc centred on the face x = 0: cut by the crop, so the image is not periodic along x only."""
    i, j = np.meshgrid(np.arange(n) + 0.5, np.arange(n) + 0.5, indexing="ij")
    return (np.hypot(i, j - n / 2) < radius).astype(np.int16)


def test_periodicity_check_names_axis_and_place():
    labels = half_disc()
    x, y = voxel.periodicity_report(labels)
    assert x.wrap == pytest.approx(16 / 40) and x.box == ((12, 27),)
    assert x.interior_max == pytest.approx(6 / 40) and x.interior_layer == 7  # the flat end of the disc
    assert x.centroid == pytest.approx((19.5,))
    assert y.wrap == 0.0 and y.box is None
    with pytest.raises(fe2.PeriodicityError) as err:
        voxel.check_periodic(labels)
    message = str(err.value)
    assert isinstance(err.value, ValueError)
    assert "not periodic along x " in message and "axis 0 (x): 40.0% of the voxel pairs" in message
    assert "at most 15.0% across interior planes (layers 7|8)" in message
    assert "y in [12, 27] (centroid y=19.5)" in message and "axis 1" not in message
    voxel.check_periodic(labels, tolerance=0.5)  # a tolerance larger than the mismatch passes


def test_periodic_images_pass():
    voxel.check_periodic(np.load(ROOT / "meshes" / "voxel_sample.npy"))
    voxel.check_periodic(layered((10, 6), 0, [0, 3, 4]))  # a laminate wraps like its interior planes
    mirrored = voxel.make_periodic(half_disc())
    assert mirrored.shape == (80, 80)
    assert max(r.wrap for r in voxel.check_periodic(mirrored)) == 0.0


def test_make_periodic():
    labels = np.arange(6).reshape(2, 3)
    np.testing.assert_array_equal(voxel.make_periodic(labels, axis=1), [[0, 1, 2, 2, 1, 0], [3, 4, 5, 5, 4, 3]])
    assert voxel.make_periodic(labels).shape == (4, 6)
    assert voxel.make_periodic(np.zeros((2, 3, 4), int), axis=(0, 2)).shape == (4, 3, 8)
    with pytest.raises(ValueError, match="axis must be in"):
        voxel.make_periodic(labels, axis=2)


def test_voxel_cell_checks_before_meshing(monkeypatch):
    labels = half_disc(20, 5)
    mats = {"phase0": fe2.Conductor(1.0), "phase1": fe2.Conductor(5.0)}
    assert voxel.voxel_cell(labels, mats, periodic_check=False).mesh.t.shape[1] == 400
    monkeypatch.setattr(voxel, "voxel_mesh", lambda *a, **k: pytest.fail("meshed a non-periodic image"))
    with pytest.raises(fe2.PeriodicityError, match="not periodic along x"):
        voxel.voxel_cell(labels, mats)


# --- files -------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(5, 7), (5, 6, 7)])
def test_read_npy(tmp_path, shape):
    labels = np.random.default_rng(0).integers(0, 4, size=shape).astype(np.uint8)
    np.save(tmp_path / "a.npy", labels)
    out = voxel.read_labels(tmp_path / "a.npy")
    np.testing.assert_array_equal(out, labels)
    assert out.dtype == np.uint8


@pytest.mark.parametrize("shape", [(5, 7), (5, 6, 7)])
def test_read_tif(tmp_path, shape):
    tifffile = pytest.importorskip("tifffile")
    labels = np.random.default_rng(0).integers(0, 4, size=shape).astype(np.uint16)
    tifffile.imwrite(tmp_path / "a.tif", labels.T, photometric="minisblack")  # on disk (z, y, x)
    np.testing.assert_array_equal(voxel.read_labels(tmp_path / "a.tif"), labels)
    if len(shape) == 3:  # a stack written page by page, as scanners and Fiji do
        with tifffile.TiffWriter(tmp_path / "pages.tiff") as tif:
            for page in labels.T:
                tif.write(page, contiguous=False, photometric="minisblack")
        np.testing.assert_array_equal(voxel.read_labels(tmp_path / "pages.tiff"), labels)


def test_read_errors(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="missing.npy' does not exist"):
        voxel.read_labels(tmp_path / "missing.npy")
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    with pytest.raises(ValueError, match=r"cannot read '.*bad.npy' as a .npy array"):
        voxel.read_labels(tmp_path / "bad.npy")
    np.save(tmp_path / "grey.npy", np.linspace(0, 1, 12).reshape(3, 4))
    with pytest.raises(ValueError, match=r"the label image '.*grey.npy' must hold integer labels"):
        voxel.read_labels(tmp_path / "grey.npy")
    (tmp_path / "a.png").write_bytes(b"")
    with pytest.raises(ValueError, match=r"unknown label image format '.png'"):
        voxel.read_labels(tmp_path / "a.png")
    (tmp_path / "bad.tif").write_bytes(b"garbage")
    try:
        import tifffile  # noqa: F401
    except ImportError:
        pass
    else:
        with pytest.raises(ValueError, match=r"cannot read '.*bad.tif' as a TIFF image"):
            voxel.read_labels(tmp_path / "bad.tif")
    monkeypatch.setitem(sys.modules, "tifffile", None)  # as if not installed
    with pytest.raises(ImportError, match="needs the 'tifffile' package: pip install tifffile"):
        voxel.read_labels(tmp_path / "bad.tif")


# --- the case script ---------------------------------------------------------------------------
def run_case(*args):
    return runpy.run_path(str(ROOT / "cases" / "voxel_image.py"), run_name="case")["main"](list(args))


def test_case_reduced(tmp_path, capsys):
    comparison = run_case("--out", str(tmp_path), "--coarsen", "2")
    out = capsys.readouterr().out
    assert "reuss <= subc <= periodic <= kubc <= voigt: holds" in out and comparison.ordered
    assert comparison.results["periodic"].tensor.shape == (3, 3)
    assert max(r.hill_mandel for r in comparison.results.values()) < 1e-10
    assert len(list(tmp_path.glob("*.vtu"))) == 9 and (tmp_path / "summary.json").exists()
    assert str(tmp_path.resolve()) in out


def test_case_rejects_a_crop_unless_mirrored(tmp_path, capsys):
    with pytest.raises(SystemExit):
        run_case("--out", str(tmp_path), "--crop", "12")
    assert "not periodic along x, y" in capsys.readouterr().err
    comparison = run_case("--out", str(tmp_path), "--crop", "12", "--coarsen", "2", "--mirror")
    K = comparison.results["periodic"].tensor
    assert comparison.ordered and np.abs(K - np.diag(np.diag(K))).max() < 1e-10  # mirror symmetry: orthotropic


def test_labels_with_no_material():
    """An image label whose phase is missing from the materials: the error names the phase."""
    labels = np.zeros((4, 4), dtype=int)
    labels[1, 1], labels[2, 2] = 1, 2
    with pytest.raises(ValueError, match=r"phase\(s\) \['phase2'\] of the mesh have no material"):
        voxel.voxel_cell(labels, {"phase0": fe2.Conductor(1.0), "phase1": fe2.Conductor(2.0)}, periodic_check=False)
