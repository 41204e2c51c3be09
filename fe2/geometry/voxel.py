"""Cells from labelled images (micro-CT segmentations, voxel models, pixel drawings).

Conventions (every function of this module):

* A label image is an integer (or boolean) array of ndim 2 or 3; each distinct value is a phase.
* Axis order is x, y(, z) (``numpy.indexing="ij"``): ``labels[i, j, k]`` is the voxel
  ``[i hx, (i+1) hx] x [j hy, (j+1) hy] x [k hz, (k+1) hz]``. The image origin (the corner of voxel
  (0, 0, 0)) is at 0, so an image of shape (nx, ny, nz) fills the box ``[0, nx hx] x [0, ny hy] x
  [0, nz hz]``. The voxel size ``spacing = (hx, hy, hz)`` may be one number for cubic voxels.
  Mind that image viewers draw ``a[row, col]`` with rows going down: a 2D array shown by
  ``plt.imshow(labels)`` appears transposed; ``plt.imshow(labels.T, origin="lower")`` shows it
  the way the mesh lies.
* TIFF files store (pages, rows, columns) = (z, y, x); :func:`read_labels` transposes them into
  the (x, y, z) order above. ``.npy`` files are taken as already in (x, y, z) order.
* Phase names come from ``names``, a dict label -> name, default ``f"phase{label}"``. Two labels may
  map to the same name: their voxels form one phase (merging, e.g. several pore labels).

Periodicity. A periodic condition identifies opposite faces of the cell. Crops of real images are
generally not periodic, and the periodic condition then glues unrelated material together across
the faces. :func:`periodicity_report` measures, per axis, the fraction of voxel pairs with different
labels across the periodic wrap (last layer against first) and across every interior pair of
neighbouring layers; :func:`check_periodic` raises when the wrap is worse than the worst interior
plane by more than a tolerance. :func:`make_periodic` mirrors an image so that it becomes periodic.
:func:`voxel_mesh` only builds a mesh (KUBC and SUBC need no periodicity), :func:`voxel_cell` builds
the cell and runs the check by default, as its result is typically homogenized under all three
conditions (:func:`fe2.compare`).
"""

from dataclasses import dataclass
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import skfem

from ..cell.lattice import PeriodicityError

__all__ = ["voxel_mesh", "voxel_cell", "read_labels", "periodicity_report", "check_periodic", "make_periodic",
           "AxisPeriodicity"]

AXES = "xyz"
KINDS = {2: {"quad": skfem.MeshQuad1, "tri": skfem.MeshTri1}, 3: {"hex": skfem.MeshHex1, "tet": skfem.MeshTet1}}


# --- labels ------------------------------------------------------------------------------------
def _check_labels(labels, what="labels"):
    """The label image as an integer ndarray, or a ValueError naming ``what`` is wrong."""
    labels = np.asarray(labels)
    if labels.dtype == bool:
        labels = labels.astype(np.int8)
    if labels.ndim not in (2, 3):
        raise ValueError(f"{what} must be a 2D or 3D array (x, y[, z]), got ndim={labels.ndim} with shape {labels.shape}")
    if labels.size == 0:
        raise ValueError(f"{what} is empty: shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        hint = ""
        if np.issubdtype(labels.dtype, np.floating) and np.all(np.isfinite(labels)) and np.all(labels == np.round(labels)):
            hint = " (its values are whole numbers: pass labels.astype(int) if they are labels)"
        raise ValueError(f"{what} must hold integer labels, got dtype {labels.dtype}{hint}; "
                         "segment (threshold) a grey-level image into integer labels first")
    return labels


def _check_names(labels, names):
    """dict label -> phase name for every label present in the image."""
    present = [int(v) for v in np.unique(labels)]
    if names is None:
        return {v: f"phase{v}" for v in present}
    if not isinstance(names, dict):
        raise ValueError(f"names must be a dict label -> phase name, got {type(names).__name__}")
    missing = [v for v in present if v not in names]
    if missing:
        raise ValueError(f"names has no phase name for label(s) {missing} present in the image "
                         f"(the image holds labels {present}; names gives {sorted(names, key=repr)})")
    out = {}
    for v in present:
        name = names[v]
        if not isinstance(name, str) or not name.strip() or name.startswith("gmsh:"):
            raise ValueError(f"the phase name of label {v} must be a non-empty string not starting with 'gmsh:', got {name!r}")
        out[v] = name
    return out


def _check_spacing(spacing, dim):
    try:
        h = np.broadcast_to(np.asarray(spacing, dtype=float), (dim,)) if np.ndim(spacing) == 0 else np.asarray(spacing, dtype=float)
    except (TypeError, ValueError):
        h = np.zeros(0)
    if h.shape != (dim,) or not np.all(np.isfinite(h)) or np.any(h <= 0):
        raise ValueError(f"spacing must be a positive number or {dim} positive numbers (hx, hy{', hz' if dim == 3 else ''}), "
                         f"got {spacing!r}")
    return h


# --- meshes ------------------------------------------------------------------------------------
def voxel_mesh(labels, *, spacing=1.0, names=None, kind=None):
    """A structured, conforming mesh with the voxels of ``labels`` as its phases.

    Parameters
    ----------
    labels : integer array (nx, ny) or (nx, ny, nz); ``labels[i, j, k]`` is the voxel at x index i,
        y index j, z index k (see the module conventions). Booleans count as labels 0 and 1.
    spacing : voxel size, one number or one per axis; the mesh fills ``[0, n_a h_a]`` along axis a.
    names : dict label -> phase name (default ``f"phase{label}"``); labels sharing a name merge into
        one phase. Names for labels absent from the image are ignored.
    kind : "quad" (one element per pixel, default) or "tri" (two triangles per pixel) in 2D;
        "hex" (default) or "tet" (six tetrahedra per voxel, the same split in every voxel, so the
        mesh is conforming and its opposite faces match) in 3D.

    Returns a :class:`skfem.MeshQuad1`, ``MeshTri1``, ``MeshHex1`` or ``MeshTet1`` with
    ``mesh.subdomains = {name: element indices}``, every element in exactly one phase. The grid is
    periodic by construction (matching nodes on opposite faces); whether the *image* is periodic
    is checked by :func:`check_periodic`, not here.
    """
    labels = _check_labels(labels)
    dim = labels.ndim
    kind = {2: "quad", 3: "hex"}[dim] if kind is None else kind
    if kind not in KINDS[dim]:
        raise ValueError(f"kind must be one of {sorted(KINDS[dim])} for a {dim}D image, got {kind!r}")
    names = _check_names(labels, names)
    h = _check_spacing(spacing, dim)

    grids = [h[a] * np.arange(labels.shape[a] + 1) for a in range(dim)]
    mesh = KINDS[dim][kind].init_tensor(*grids)
    # element -> voxel through the element midpoints: independent of scikit-fem's node ordering
    midpoints = sum(mesh.p[:, vertices] for vertices in mesh.t) / mesh.t.shape[0]  # without a (dim, nverts, nel) temporary
    index = tuple(np.clip(np.floor(midpoints[a] / h[a]).astype(np.int64), 0, labels.shape[a] - 1) for a in range(dim))
    element_labels = labels[index]
    subdomains = {}
    for label, name in names.items():
        subdomains.setdefault(name, []).append(np.flatnonzero(element_labels == label))
    subdomains = {name: np.sort(np.concatenate(parts)) for name, parts in subdomains.items()}
    return mesh.with_subdomains(subdomains)


def voxel_cell(labels, materials, *, spacing=1.0, names=None, kind=None, order=1,
               periodic_check=True, tolerance=0.05):
    """An :class:`fe2.Cell` of the image ``labels``: :func:`voxel_mesh` plus the phase laws.

    ``materials`` is a dict phase name -> law, the names being those of ``names`` (default
    ``f"phase{label}"``). With ``periodic_check`` (the default), :func:`check_periodic` runs first
    and raises :class:`fe2.PeriodicityError` (a ValueError) before any mesh is built if the image
    is not periodic within ``tolerance``; pass ``periodic_check=False`` for KUBC/SUBC only, or mirror
    the image with :func:`make_periodic`.
    """
    from ..cell.cell import Cell

    labels = _check_labels(labels)
    if periodic_check:
        check_periodic(labels, tolerance=tolerance)
    return Cell(voxel_mesh(labels, spacing=spacing, names=names, kind=kind), materials, order=order)


# --- files -------------------------------------------------------------------------------------
def read_labels(path):
    """Read a label image: ``.npy`` (numpy, taken as (x, y[, z]) order) or ``.tif``/``.tiff``.

    A TIFF holds (pages, rows, columns) = (z, y, x) for a multi-page stack, (rows, columns) = (y, x)
    for one page; the array is transposed into (x, y[, z]) order, so column index -> x, row index
    -> y, page index -> z. TIFF needs the ``tifffile`` package (imported here only). Raises
    FileNotFoundError for a missing file and ValueError, naming the path, for an unknown suffix, an
    unreadable file, a colour (multi-sample) TIFF, or non-integer / non-2D/3D data.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"label image {str(path)!r} does not exist" + (" (it is a folder)" if path.is_dir() else ""))
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            labels = np.load(path, allow_pickle=False)
        except Exception as err:
            raise ValueError(f"cannot read {str(path)!r} as a .npy array: {err}") from err
    elif suffix in (".tif", ".tiff"):
        try:
            import tifffile
        except ImportError as err:
            raise ImportError(f"reading {str(path)!r} needs the 'tifffile' package: pip install tifffile") from err
        try:
            with tifffile.TiffFile(path) as tif:
                series = tif.series
                axes = series[0].axes
                if len(series) > 1 and len(axes) == 2 and all(s.axes == axes and s.shape == series[0].shape
                                                             and s.dtype == series[0].dtype for s in series):
                    labels = np.stack([s.asarray() for s in series])  # a stack of single pages
                else:
                    labels = series[0].asarray()
        except Exception as err:
            raise ValueError(f"cannot read {str(path)!r} as a TIFF image: {err}") from err
        if "S" in axes:
            raise ValueError(f"{str(path)!r} is a colour/multi-sample TIFF (axes {axes!r}, shape {labels.shape}); "
                             "save one integer label per voxel (tifffile.imwrite stores arrays with 3 or 4 pages or columns as "
                             "RGB unless given photometric='minisblack')")
        labels = np.asarray(labels)
        if labels.ndim in (2, 3):
            labels = labels.T  # (z, y, x) -> (x, y, z)
    else:
        raise ValueError(f"unknown label image format {path.suffix!r} of {str(path)!r}: use .npy, .tif or .tiff")
    return _check_labels(labels, what=f"the label image {str(path)!r}")


# --- periodicity -------------------------------------------------------------------------------
@dataclass
class AxisPeriodicity:
    """Label mismatch across the planes normal to one axis.

    wrap : fraction of voxel pairs (last layer, first layer) with different labels.
    interior_max : the largest such fraction over the pairs of neighbouring layers (i, i+1) inside
        the image; 0 if the axis has a single layer. ``interior_layer`` is the i where it occurs.
    excess : wrap - interior_max; the image is periodic along the axis when excess <= tolerance.
    box, centroid : bounding box ((lo, hi) per other axis, inclusive voxel indices) and centroid of
        the mismatched voxel pairs on the wrap face, in the indices of the other axes (None if none).
    """

    axis: int
    ndim: int
    wrap: float
    interior_max: float
    interior_layer: int
    box: tuple
    centroid: tuple

    @property
    def excess(self):
        return self.wrap - self.interior_max

    @property
    def others(self):
        """Names of the axes spanning the face."""
        return [AXES[a] for a in range(self.ndim) if a != self.axis]

    def where(self):
        if self.box is None:
            return "nowhere"
        box = ", ".join(f"{n} in [{lo}, {hi}]" for n, (lo, hi) in zip(self.others, self.box))
        centroid = ", ".join(f"{n}={c:.1f}" for n, c in zip(self.others, self.centroid))
        return f"{box} (centroid {centroid})"

    def __str__(self):
        return (f"axis {self.axis} ({AXES[self.axis]}): {100 * self.wrap:.1f}% of the voxel pairs across the periodic wrap "
                f"differ, at most {100 * self.interior_max:.1f}% across interior planes "
                f"(layers {self.interior_layer}|{self.interior_layer + 1}); mismatch on the wrap face: {self.where()}")


def periodicity_report(labels):
    """Per-axis label mismatch across the periodic wrap and across interior planes (list of
    :class:`AxisPeriodicity`, one per axis of ``labels``).

    Criterion: a periodic image continues across the wrap as it does inside, so the fraction of
    differing voxel pairs between its last and first layers should be no larger than between
    neighbouring interior layers. A crop of a random microstructure with features larger than a
    voxel has few differences between neighbouring layers but, across the wrap, about
    sum_i f_i (1 - f_i) (uncorrelated faces), which the check detects.
    """
    labels = _check_labels(labels)
    out = []
    for axis in range(labels.ndim):
        a = np.moveaxis(labels, axis, 0)
        interior = np.mean(a[1:] != a[:-1], axis=tuple(range(1, a.ndim))) if a.shape[0] > 1 else np.zeros(1)
        mismatch = a[-1] != a[0]
        where = np.nonzero(mismatch)
        box = tuple((int(w.min()), int(w.max())) for w in where) if mismatch.any() else None
        centroid = tuple(float(w.mean()) for w in where) if mismatch.any() else None
        i = int(np.argmax(interior))
        out.append(AxisPeriodicity(axis, labels.ndim, float(mismatch.mean()), float(interior[i]), i, box, centroid))
    return out


def check_periodic(labels, tolerance=0.05):
    """Raise :class:`fe2.PeriodicityError` (a ValueError) if ``labels`` is not periodic along some
    axis: its wrap mismatch exceeds the largest interior one by more than ``tolerance`` (absolute
    fraction of voxel pairs, default 0.05), see :func:`periodicity_report`. Returns the report."""
    if not (isinstance(tolerance, Real) and 0 <= tolerance <= 1):
        raise ValueError(f"tolerance must be a fraction in [0, 1], got {tolerance!r}")
    report = periodicity_report(labels)
    bad = [r for r in report if r.excess > tolerance]
    if bad:
        lines = "\n  ".join(str(r) for r in bad)
        names = ", ".join(AXES[r.axis] for r in bad)
        raise PeriodicityError(
            f"the image is not periodic along {names} (wrap mismatch exceeds the interior maximum by more than "
            f"{tolerance:g}):\n  {lines}\nA periodic condition would glue these faces together. Crop a periodic "
            "region, mirror the image with fe2.voxel.make_periodic, or use KUBC/SUBC only (periodic_check=False).")
    return report


def make_periodic(labels, axis=None):
    """Mirror ``labels`` along ``axis`` (an int, a sequence of ints, or None for all axes) so that it
    becomes periodic: along each axis the image is followed by its reflection, [a b c] -> [a b c c b a].

    This changes the microstructure: the image doubles in size along every mirrored axis and gains
    mirror symmetry planes, so the effective tensor becomes orthotropic in the image axes (the
    couplings between a mirrored axis and the others vanish) and inclusions cut by a face are joined
    to their mirror images. It is a way to use a periodic condition on a non-periodic crop, not a
    substitute for a periodic sample.
    """
    labels = _check_labels(labels)
    axes = range(labels.ndim) if axis is None else [axis] if isinstance(axis, Integral) else list(axis)
    for a in axes:
        if not isinstance(a, Integral) or not -labels.ndim <= a < labels.ndim:
            raise ValueError(f"axis must be in [{-labels.ndim}, {labels.ndim - 1}] for a {labels.ndim}D image, got {a!r}")
        labels = np.concatenate([labels, np.flip(labels, axis=a)], axis=a)
    return labels
