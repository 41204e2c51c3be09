"""Periodic unit cells meshed with gmsh, with named phases.

Conventions shared by every generator in this module:

* The cell is the cube ``[0, size]^dim`` with its origin at 0, except
  :func:`hexagonal`, whose cell is the rhombus spanned by the lattice vectors
  of :func:`hexagonal_lattice` (pass that lattice to :class:`fe2.Cell`).
* Meshes are first order: :class:`skfem.MeshTri1` in 2D (``mesh.p`` has shape
  ``(2, N)``), :class:`skfem.MeshTet1` in 3D.  Higher-order fields are obtained
  later by choosing a higher-order element on the same mesh (gmsh order-2
  meshes lose their tags on the way into scikit-fem).
* The mesh is periodic: gmsh ``setPeriodic`` with a pure translation by
  ``size`` along each axis, so every node on ``x_i = size`` has a partner on
  ``x_i = 0`` with identical other coordinates (to round-off).
* Phases are gmsh physical groups of the cell's dimension named after
  ``phases``; the returned mesh has ``mesh.subdomains == {name: element
  indices}`` for exactly those names, and every element is in exactly one.
* Porous cells: an inclusion phase named ``None`` (``phases=("matrix",
  None)``) is a void, left out of the mesh: :func:`inclusion` gives a cell
  with a hole, :func:`random_inclusions` random pores (wrapped periodically
  where they cut a face), :func:`sphere` and :func:`random_spheres` spherical
  pores in 3D; :class:`fe2.Cell` takes such a mesh as a porous cell
  (docs/porous.md).
* Boundary physical groups are also written and come back as
  ``mesh.boundaries``: ``left`` (x=0), ``right`` (x=size), ``bottom`` (y=0),
  ``top`` (y=size) and, in 3D, ``back`` (z=0), ``front`` (z=size).  For a
  lattice cell the faces are named by lattice vector: ``left``/``right`` are
  the faces of fractional coordinate s_1 = 0/1, ``bottom``/``top`` s_2 = 0/1.
* Random cells (:func:`random_inclusions`, :func:`random_spheres`) place their
  inclusions with :func:`random_centres` (pure numpy, seeded) and wrap every
  inclusion cut by a face periodically onto the opposite face(s).
* The file format is gmsh MSH 4.1 ASCII, which meshio 5.3 and scikit-fem read
  with the named subdomains intact.
"""

import contextlib
import io
import itertools
import math
import os
import signal
import tempfile
import threading
from typing import NamedTuple

import numpy as np

from ..cell.lattice import Lattice

__all__ = ["laminate", "inclusion", "checkerboard", "hexagonal",
           "hexagonal_lattice", "sphere", "random_inclusions",
           "random_spheres", "random_centres", "Packing", "load_mesh"]

_MSH_VERSION = 4.1
_BOUNDARY_NAMES = (("left", "right"), ("bottom", "top"), ("back", "front"))


# --------------------------------------------------------------------------
# input validation (all of it happens before gmsh is touched)
# --------------------------------------------------------------------------

def _is_number(x):
    return (isinstance(x, (int, float, np.number)) and not isinstance(x, bool)
            and np.isfinite(x))


def _is_int(x):
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _check_positive(name, value):
    if not (_is_number(value) and value > 0):
        raise ValueError(f"{name} must be a positive number, got {name}={value!r}")


def _check_size_h(size, h, name="size"):
    """The cell size (called ``name`` in messages) and an element size 0 < h < size."""
    _check_positive(name, size)
    if not _is_number(h):
        raise ValueError(f"h must be a number, got h={h!r}")
    if h <= 0 or h >= size:
        raise ValueError(
            f"h must satisfy 0 < h < {name}={size!r}, got h={h!r}")


def _check_h_below(h, radius, what):
    """An element size below the radius of the inclusion ``what``."""
    if h >= radius:
        raise ValueError(
            f"h must be smaller than the {what} radius {radius:.6g}, got h={h!r}")


def _check_fraction(fraction):
    if not (isinstance(fraction, (int, float, np.number))
            and np.isfinite(fraction) and 0.0 < fraction < 1.0):
        raise ValueError(
            f"fraction must lie strictly between 0 and 1, "
            f"got fraction={fraction!r}")


def _check_phases(phases):
    """Two distinct phase names; the second may be None: a void (pores left out of the mesh)."""
    ok = (isinstance(phases, (tuple, list)) and len(phases) == 2
          and all(isinstance(p, str) and p.strip() for p in phases if p is not None)
          and phases[0] is not None and phases[0] != phases[1]
          and not any(p.startswith("gmsh:") for p in phases if p is not None))
    if not ok:
        raise ValueError(
            "phases must be two distinct non-empty strings (not starting "
            f"with 'gmsh:'), the second possibly None for voids, got phases={phases!r}")
    return tuple(phases)


def _check_path(path):
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"path must be a str/PathLike or None, got path={path!r}")
    if path is not None and not os.fspath(path).endswith(".msh"):
        # gmsh chooses the format from the extension
        raise ValueError(f"path must end with '.msh', got path={os.fspath(path)!r}")


# --------------------------------------------------------------------------
# gmsh session handling
# --------------------------------------------------------------------------

class _GmshSession:
    """Initialize gmsh if needed, work in a fresh model, clean up afterwards.

    If gmsh was already initialized by the caller, we leave it initialized,
    restore the caller's current model and the options we changed.
    """

    _OPTIONS = ("General.Terminal", "General.Verbosity", "General.NumThreads",
                "Mesh.MeshSizeMin", "Mesh.MeshSizeMax",
                "Mesh.MeshSizeFromPoints", "Mesh.MeshSizeFromCurvature",
                "Mesh.MeshSizeExtendFromBoundary", "Mesh.Algorithm",
                "Mesh.Algorithm3D", "Mesh.ElementOrder", "Mesh.MshFileVersion",
                "Mesh.Binary", "Mesh.SaveAll", "Mesh.RandomSeed",
                "Geometry.OCCBooleanPreserveNumbering")

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        import gmsh
        self.gmsh = gmsh
        self.owner = not gmsh.isInitialized()
        if self.owner:
            gmsh.initialize(argv=["fe2"], readConfigFiles=False,
                            interruptible=False)
            if hasattr(signal, "SIGPIPE") and threading.current_thread() is threading.main_thread():
                # gmsh resets SIGPIPE to its default, which kills the process on a write to a closed
                # pipe (a dead worker's); Python ignores it and raises BrokenPipeError instead
                signal.signal(signal.SIGPIPE, signal.getsignal(signal.SIGPIPE))
            self.saved = {}
            self.previous_model = None
        else:
            self.saved = {}
            for key in self._OPTIONS:
                try:
                    self.saved[key] = gmsh.option.getNumber(key)
                except Exception:  # pragma: no cover - option missing
                    pass
            try:
                self.previous_model = gmsh.model.getCurrent()
            except Exception:  # pragma: no cover
                self.previous_model = None
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.option.setNumber("General.Verbosity", 1)
        gmsh.option.setNumber("General.NumThreads", 1)  # determinism
        gmsh.model.add(self.name)
        return gmsh

    def __exit__(self, *exc):
        gmsh = self.gmsh
        if self.owner:
            gmsh.finalize()
            return False
        try:
            gmsh.model.setCurrent(self.name)
            gmsh.model.remove()
            if self.previous_model:
                gmsh.model.setCurrent(self.previous_model)
        finally:
            for key, value in self.saved.items():
                gmsh.option.setNumber(key, value)
        return False


def _set_mesh_options(gmsh, h):
    gmsh.option.setNumber("Mesh.MeshSizeMin", h)
    gmsh.option.setNumber("Mesh.MeshSizeMax", h)
    gmsh.option.setNumber("Mesh.MeshSizeFromPoints", 0)
    gmsh.option.setNumber("Mesh.MeshSizeFromCurvature", 0)
    gmsh.option.setNumber("Mesh.MeshSizeExtendFromBoundary", 0)
    gmsh.option.setNumber("Mesh.Algorithm", 6)    # Frontal-Delaunay (2D)
    gmsh.option.setNumber("Mesh.Algorithm3D", 1)  # Delaunay (3D)
    gmsh.option.setNumber("Mesh.ElementOrder", 1)
    gmsh.option.setNumber("Mesh.RandomSeed", 1)
    gmsh.option.setNumber("Mesh.MshFileVersion", _MSH_VERSION)
    gmsh.option.setNumber("Mesh.Binary", 0)
    gmsh.option.setNumber("Mesh.SaveAll", 0)


def _entities_on_plane(gmsh, dim, axis, value, size, eps):
    """Entities of dimension ``dim`` lying in the plane x_axis = value."""
    lo = [-eps] * 3
    hi = [size + eps] * 3
    lo[axis] = value - eps
    hi[axis] = value + eps
    return [t for _, t in gmsh.model.getEntitiesInBoundingBox(*lo, *hi, dim)]


def _pair_periodic(gmsh, bdim, masters, slaves, shift, tol, what):
    """setPeriodic of every slave entity (dimension ``bdim``) onto the master whose bounding box,
    translated by ``shift`` (3,), coincides with its own within ``tol``; ``what`` names the
    direction in errors (which are geometry bugs)."""
    affine = [1, 0, 0, shift[0],
              0, 1, 0, shift[1],
              0, 0, 1, shift[2],
              0, 0, 0, 1]
    mboxes = {m: np.array(gmsh.model.getBoundingBox(bdim, m))
              for m in masters}
    step = np.concatenate([shift, shift])
    used = set()
    for s in sorted(slaves):
        sbox = np.array(gmsh.model.getBoundingBox(bdim, s))
        match = [m for m, b in mboxes.items()
                 if np.max(np.abs(b + step - sbox)) < tol]
        if len(match) != 1:  # pragma: no cover - geometry bug
            raise RuntimeError(
                f"periodic matching failed along {what} "
                f"for entity {s}: candidates {match}")
        used.add(match[0])
        gmsh.model.mesh.setPeriodic(bdim, [s], [match[0]], affine)
    if len(used) != len(masters) or not masters:  # pragma: no cover
        raise RuntimeError(f"unmatched master entities along {what}")


def _make_periodic(gmsh, dim, size):
    """Translate-periodic pairing of the faces x_i=0 -> x_i=size, i < dim."""
    eps = 1e-5 * size  # > OCC bounding-box padding (~1e-7)
    for axis in range(dim):
        shift = np.zeros(3)
        shift[axis] = size
        _pair_periodic(gmsh, dim - 1,
                       _entities_on_plane(gmsh, dim - 1, axis, 0.0, size, eps),
                       _entities_on_plane(gmsh, dim - 1, axis, size, size, eps),
                       shift, eps, f"axis {axis}")


def _add_boundary_groups(gmsh, dim, size):
    eps = 1e-5 * size  # > OCC bounding-box padding (~1e-7)
    for axis in range(dim):
        for side, value in zip(_BOUNDARY_NAMES[axis], (0.0, size)):
            tags = _entities_on_plane(gmsh, dim - 1, axis, value, size, eps)
            gmsh.model.addPhysicalGroup(dim - 1, sorted(tags), name=side)


def _finish(gmsh, dim, size, h, phase_tags, phases, path, vectors=None):
    """Physical groups, periodicity, meshing, writing and loading.

    ``vectors`` (rows = lattice vectors, origin 0) selects a general lattice
    cell; by default the cell is the cube ``[0, size]^dim``.
    """
    gmsh.model.occ.synchronize()
    for name, tags in zip(phases, phase_tags):
        if not tags:  # pragma: no cover - geometry bug
            raise RuntimeError(f"phase {name!r} ended up with no entities")
        if name is not None:  # a void (None) has no physical group: its elements are not written
            gmsh.model.addPhysicalGroup(dim, sorted(tags), name=name)
    if vectors is None:
        _add_boundary_groups(gmsh, dim, size)
        _make_periodic(gmsh, dim, size)
    else:
        faces = _lattice_faces(gmsh, dim, vectors)
        for axis in range(dim):
            for side, name in enumerate(_BOUNDARY_NAMES[axis]):
                gmsh.model.addPhysicalGroup(dim - 1, sorted(faces[axis][side]),
                                            name=name)
        _make_periodic_lattice(gmsh, dim, vectors, faces)
    _set_mesh_options(gmsh, h)
    gmsh.model.mesh.generate(dim)
    return _write_and_load(gmsh, path)


def _write_and_load(gmsh, path):
    if path is None:
        fd, tmp = tempfile.mkstemp(suffix=".msh", prefix="fe2_")
        os.close(fd)
        try:
            gmsh.write(tmp)
            return load_mesh(tmp)
        finally:
            os.remove(tmp)
    path = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    if not path.endswith(".msh"):
        # gmsh chooses the format from the extension
        raise ValueError(f"path must end with '.msh', got path={path!r}")
    gmsh.write(path)
    return load_mesh(path)


def _sample_entity(gmsh, dim, tag, n=5):
    """Points (k, 3) on the geometric support of a curve/surface entity."""
    lo, hi = gmsh.model.getParametrizationBounds(dim, tag)
    if dim == 1:
        u = np.linspace(lo[0], hi[0], n)
    else:
        uu, vv = np.meshgrid(np.linspace(lo[0], hi[0], n),
                             np.linspace(lo[1], hi[1], n))
        u = np.column_stack([uu.ravel(), vv.ravel()]).ravel()
    return np.reshape(gmsh.model.getValue(dim, tag, u), (-1, 3))


def _lattice_faces(gmsh, dim, vectors):
    """Boundary entities of a lattice cell: faces[k][side], side 0 (s_k=0) or 1 (s_k=1).

    An entity of dimension dim-1 belongs to a face when all its sample points
    have fractional coordinate s_k equal to 0 (or 1) within 1e-7.
    """
    vectors = np.asarray(vectors, dtype=float)
    faces = [([], []) for _ in range(dim)]
    for _, tag in gmsh.model.getEntities(dim - 1):
        x = _sample_entity(gmsh, dim - 1, tag)[:, :dim]
        s = np.linalg.solve(vectors.T, x.T)             # (dim, k)
        for k in range(dim):
            for side in (0, 1):
                if np.all(np.abs(s[k] - side) < 1e-7):
                    faces[k][side].append(tag)
    return faces


def _make_periodic_lattice(gmsh, dim, vectors, faces):
    """setPeriodic of each face s_k=1 onto s_k=0 by translation by vectors[k]."""
    vectors = np.asarray(vectors, dtype=float)
    tol = 1e-5 * np.linalg.norm(vectors.sum(axis=0))
    for k in range(dim):
        shift = np.zeros(3)
        shift[:dim] = vectors[k]
        masters, slaves = faces[k]
        _pair_periodic(gmsh, dim - 1, masters, slaves, shift, tol, f"lattice vector {k}")


def _fragment(gmsh, pieces):
    """Fragment OCC entities; return the list of output tags for each input."""
    occ = gmsh.model.occ
    _, out_map = occ.fragment(pieces[:1], pieces[1:])
    return [[t for _, t in m] for m in out_map]


def _matrix_and_inclusions(gmsh, dim, cell, inclusions):
    """Fragment the cell entity (tag ``cell``) with the ``inclusions`` ((dim, tag) pairs, all inside
    it); return the phase tags [matrix, inclusions] for :func:`_finish`."""
    out = _fragment(gmsh, [(dim, cell)] + inclusions)
    inc = sorted({t for m in out[1:] for t in m})
    return [[t for t in out[0] if t not in inc], inc]


# --------------------------------------------------------------------------
# public generators
# --------------------------------------------------------------------------

def laminate(fraction=0.5, *, dim=2, size=1.0, h=0.05, normal=0,
             phases=("a", "b"), path=None):
    """Periodic laminate cell ``[0, size]^dim``.

    Layer ``phases[0]`` occupies ``0 <= x_normal < fraction*size`` and
    ``phases[1]`` the rest, so the interface is the plane
    ``x_normal = fraction*size``. ``dim`` is 2 (MeshTri1) or 3 (MeshTet1),
    ``normal`` the axis index (0=x, 1=y, 2=z) of the layer normal, ``h`` the
    target element size. Writes MSH 4.1 to ``path`` if given.
    """
    if dim not in (2, 3) or isinstance(dim, bool):
        raise ValueError(f"dim must be 2 or 3, got dim={dim!r}")
    _check_fraction(fraction)
    _check_size_h(size, h)
    if isinstance(normal, bool) or normal not in range(dim):
        raise ValueError(
            f"normal must be an axis index in range({dim}), got normal={normal!r}")
    phases = _check_phases(phases)
    _check_path(path)

    with _GmshSession("fe2_laminate") as gmsh:
        occ = gmsh.model.occ
        t = fraction * size
        origin_a = [0.0, 0.0, 0.0]
        extent_a = [size, size, size]
        origin_b = [0.0, 0.0, 0.0]
        extent_b = [size, size, size]
        extent_a[normal] = t
        origin_b[normal] = t
        extent_b[normal] = size - t
        if dim == 2:
            a = occ.addRectangle(*origin_a, *extent_a[:2])
            b = occ.addRectangle(*origin_b, *extent_b[:2])
        else:
            a = occ.addBox(*origin_a, *extent_a)
            b = occ.addBox(*origin_b, *extent_b)
        out = _fragment(gmsh, [(dim, a), (dim, b)])
        return _finish(gmsh, dim, size, h, out, phases, path)


def inclusion(fraction=0.3, *, size=1.0, h=0.05,
              phases=("matrix", "inclusion"), path=None):
    """2D periodic cell ``[0, size]^2`` with one centred circular inclusion.

    The radius follows from the area fraction of the exact circle,
    ``pi r^2 = fraction * size^2``; the meshed (polygonal) inclusion is
    slightly smaller, with a relative area deficit of about ``(h/r)^2/6``.
    ``phases = (matrix name, inclusion name)``. The circle must stay strictly
    inside the cell (``r < size/2``, i.e. ``fraction < pi/4``).
    """
    _check_fraction(fraction)
    _check_size_h(size, h)
    radius = size * math.sqrt(fraction / math.pi)
    if radius >= 0.5 * size * (1 - 1e-12):
        raise ValueError(
            f"fraction={fraction!r} gives an inclusion radius {radius:.6g} "
            f">= size/2={0.5 * size:.6g}: the circle would touch or cross the "
            f"cell edges (need fraction < pi/4 = {math.pi / 4:.6f})")
    phases = _check_phases(phases)
    _check_path(path)

    with _GmshSession("fe2_inclusion") as gmsh:
        occ = gmsh.model.occ
        square = occ.addRectangle(0.0, 0.0, 0.0, size, size)
        disk = occ.addDisk(0.5 * size, 0.5 * size, 0.0, radius, radius)
        return _finish(gmsh, 2, size, h, _matrix_and_inclusions(gmsh, 2, square, [(2, disk)]), phases, path)


def checkerboard(n=2, *, size=1.0, h=0.05, phases=("a", "b"), path=None):
    """2D periodic checkerboard ``[0, size]^2`` of ``n x n`` equal squares.

    Square ``(i, j)`` = ``[i, i+1] x [j, j+1] * size/n`` (``i`` along x,
    ``j`` along y) gets ``phases[(i + j) % 2]``; square (0, 0) at the origin
    is ``phases[0]``. ``n`` must be even (and >= 2) for the pattern to be
    periodic.
    """
    if (isinstance(n, bool) or not isinstance(n, (int, np.integer))
            or n < 2 or n % 2):
        raise ValueError(f"n must be an even integer >= 2, got n={n!r}")
    _check_size_h(size, h)
    phases = _check_phases(phases)
    _check_path(path)

    with _GmshSession("fe2_checkerboard") as gmsh:
        occ = gmsh.model.occ
        d = size / n
        squares, which = [], []
        for j in range(n):
            for i in range(n):
                squares.append((2, occ.addRectangle(i * d, j * d, 0.0, d, d)))
                which.append((i + j) % 2)
        out = _fragment(gmsh, squares)
        groups = [[], []]
        for k, tags in enumerate(out):
            groups[which[k]].extend(tags)
        return _finish(gmsh, 2, size, h, groups, phases, path)


# --------------------------------------------------------------------------
# hexagonal fibre array and single sphere
# --------------------------------------------------------------------------

_HEX_PACKING = math.pi / (2 * math.sqrt(3))   # 0.9069, touching fibres
_SPHERE_LIMIT = math.pi / 6                   # 0.5236, sphere touching faces


def hexagonal_lattice(a=1.0):
    """Lattice of :func:`hexagonal`: a1 = (a, 0), a2 = (a/2, a*sqrt(3)/2), origin 0."""
    _check_positive("a", a)
    return Lattice([[a, 0.0], [0.5 * a, 0.5 * math.sqrt(3) * a]],
                   origin=np.zeros(2))


def hexagonal(fraction=0.5, *, a=1.0, h=0.05, phases=("matrix", "fiber"),
              path=None):
    """Primitive cell of a hexagonal array of circular fibres (2D, MeshTri1).

    The cell is the rhombus {s1*a1 + s2*a2, s in [0,1]^2} with a1 = (a, 0),
    a2 = (a/2, a*sqrt(3)/2) (60 degree angle at the origin, area
    a^2*sqrt(3)/2); homogenize it with ``lattice=hexagonal_lattice(a)`` (the
    default bounding-box lattice of :class:`fe2.Cell` is wrong here). One fibre
    of radius r, pi r^2 = fraction * area, is centred on the lattice points, so
    it appears as four pieces at the corners (60, 120, 60 and 120 degree
    sectors at 0, a1, a1+a2, a2). Neighbouring fibres are a apart, so
    ``fraction`` must stay below the hexagonal packing limit
    pi/(2*sqrt(3)) = 0.9069 (2r < a). ``phases = (matrix, fibre)``. Opposite
    sides are node-matched by translation by a1 (``left`` s1=0 -> ``right``
    s1=1) and a2 (``bottom`` -> ``top``). The meshed fibre is an inscribed
    polygon, slightly smaller than the circle (relative deficit ~(h/r)^2/6).
    """
    _check_fraction(fraction)
    _check_size_h(a, h, name="a")
    area = a * a * math.sqrt(3) / 2
    radius = math.sqrt(fraction * area / math.pi)
    if 2 * radius >= a * (1 - 1e-12):
        raise ValueError(
            f"fraction={fraction!r} gives a fibre diameter {2 * radius:.6g} >= "
            f"a={a!r}: the fibre would overlap its periodic images (the "
            f"hexagonal packing limit is fraction < pi/(2*sqrt(3)) = "
            f"{_HEX_PACKING:.6f})")
    _check_h_below(h, radius, "fibre")
    phases = _check_phases(phases)
    _check_path(path)

    vectors = hexagonal_lattice(a).vectors
    corners = [np.zeros(2), vectors[0], vectors[0] + vectors[1], vectors[1]]
    with _GmshSession("fe2_hexagonal") as gmsh:
        occ = gmsh.model.occ
        pts = [occ.addPoint(x, y, 0.0) for x, y in corners]
        lines = [occ.addLine(pts[i], pts[(i + 1) % 4]) for i in range(4)]
        rhombus = occ.addPlaneSurface([occ.addCurveLoop(lines)])
        disks = [(2, occ.addDisk(x, y, 0.0, radius, radius)) for x, y in corners]
        pieces, _ = occ.intersect(disks, [(2, rhombus)], removeObject=True,
                                  removeTool=False)
        return _finish(gmsh, 2, a, h, _matrix_and_inclusions(gmsh, 2, rhombus, pieces), phases, path,
                       vectors=vectors)


def sphere(fraction=0.2, *, size=1.0, h=0.1, phases=("matrix", "inclusion"),
           path=None):
    """3D periodic cube ``[0, size]^3`` with one centred spherical inclusion (MeshTet1).

    The radius follows from the exact sphere, 4/3 pi r^3 = fraction * size^3;
    the meshed (polyhedral) sphere is slightly smaller. The sphere must stay
    strictly inside the cube (r < size/2, fraction < pi/6 = 0.5236), and
    ``h`` must be smaller than r. ``phases = (matrix, inclusion)``; the three
    face pairs are node-matched by translation by ``size``.
    """
    _check_fraction(fraction)
    _check_size_h(size, h)
    radius = size * (3 * fraction / (4 * math.pi)) ** (1 / 3)
    if radius >= 0.5 * size * (1 - 1e-12):
        raise ValueError(
            f"fraction={fraction!r} gives a sphere radius {radius:.6g} >= "
            f"size/2={0.5 * size:.6g}: the sphere would touch or cross the cell "
            f"faces (need fraction < pi/6 = {_SPHERE_LIMIT:.6f})")
    _check_h_below(h, radius, "sphere")
    phases = _check_phases(phases)
    _check_path(path)

    with _GmshSession("fe2_sphere") as gmsh:
        occ = gmsh.model.occ
        box = occ.addBox(0.0, 0.0, 0.0, size, size, size)
        ball = occ.addSphere(*(3 * [0.5 * size]), radius)
        return _finish(gmsh, 3, size, h, _matrix_and_inclusions(gmsh, 3, box, [(3, ball)]), phases, path)


# --------------------------------------------------------------------------
# random sequential addition (pure numpy)
# --------------------------------------------------------------------------

class Packing(NamedTuple):
    """Inclusions placed by :func:`random_centres`.

    ``centres`` (n, dim) in [0, size)^dim; ``angles`` (n,) angle of the major
    axis to the x axis in [0, pi) (zeros for circles/spheres); ``axes`` the
    semi-axes (a, b) of an ellipse, (r, r) of a circle, (r, r, r) of a sphere;
    ``size`` the cell edge; ``shape`` "circle", "ellipse" or "sphere";
    ``attempts`` the number of random candidates drawn.
    """

    centres: np.ndarray
    angles: np.ndarray
    axes: tuple
    size: float
    shape: str
    attempts: int


_RSA_BATCH = 1024          # candidates drawn per vectorized batch
_ELLIPSE_SAMPLES = 720     # boundary points for ellipse-to-corner distances
_PW_LAMBDAS = np.linspace(0.0, 1.0, 129)[1:-1]


def _packing_spec(dim, fraction, n, size, shape, aspect, gap, seed,
                  max_attempts):
    """Validate the RSA input; return (n, shape, semi-axes)."""
    _check_fraction(fraction)
    _check_positive("size", size)
    shapes = ("circle", "ellipse") if dim == 2 else ("sphere",)
    if shape is None:
        shape = shapes[0]
    if shape not in shapes:
        raise ValueError(f"shape must be one of {shapes} in {dim}D, got shape={shape!r}")
    if not (_is_number(aspect) and aspect >= 1):
        raise ValueError(f"aspect must be a number >= 1 (major/minor axis), got aspect={aspect!r}")
    if shape != "ellipse" and aspect != 1:
        raise ValueError(f"aspect={aspect!r} needs shape='ellipse' (got shape={shape!r})")
    if not (_is_number(gap) and gap >= 0):
        raise ValueError(f"gap must be a number >= 0, got gap={gap!r}")
    if not (_is_int(seed) and seed >= 0):
        raise ValueError(f"seed must be a non-negative integer, got seed={seed!r}")
    if not (_is_int(max_attempts) and max_attempts >= 1):
        raise ValueError(f"max_attempts must be a positive integer, got max_attempts={max_attempts!r}")
    if n is None:
        # equivalent diameter about size/5 in 2D, size/4 in 3D
        d = size / (5 if dim == 2 else 4)
        unit = math.pi * d * d / 4 if dim == 2 else math.pi * d ** 3 / 6
        n = max(1, int(round(fraction * size ** dim / unit)))
    elif not (_is_int(n) and n >= 1):
        raise ValueError(f"n must be a positive integer or None, got n={n!r}")
    n = int(n)
    if dim == 2:
        r = size * math.sqrt(fraction / (n * math.pi))
        axes = (r * math.sqrt(aspect), r / math.sqrt(aspect))
    else:
        r = size * (3 * fraction / (4 * math.pi * n)) ** (1 / 3)
        axes = (r, r, r)
    if 2 * axes[0] + gap >= size:
        raise ValueError(
            f"n={n} inclusions at fraction={fraction!r} have a (major) "
            f"diameter {2 * axes[0]:.6g}; with gap={gap!r} this is >= "
            f"size={size!r}, so an inclusion would overlap its own periodic "
            "image: raise n or lower fraction/aspect/gap")
    return n, shape, axes


def _min_image(d, size):
    return d - size * np.round(d / size)


def _ellipse_matrices(angles, a, b):
    """M with x^T M^-1 x <= 1 inside an ellipse of semi-axes a, b at angles."""
    c, s = np.cos(angles), np.sin(angles)
    m = np.empty(angles.shape + (2, 2))
    m[..., 0, 0] = a * a * c * c + b * b * s * s
    m[..., 1, 1] = a * a * s * s + b * b * c * c
    m[..., 0, 1] = m[..., 1, 0] = (a * a - b * b) * c * s
    return m


def _ellipses_separated(r, ma, mb):
    """Perram-Wertheim test: True where ellipses (M_A, M_B) at offset r are disjoint.

    F(lam) = lam (1-lam) r^T [(1-lam) M_A + lam M_B]^-1 r; the ellipses
    overlap iff max F < 1. The maximum is taken over a grid of lam, which
    can only underestimate it: the test never accepts an overlapping pair.
    """
    lam = _PW_LAMBDAS[:, None, None, None]
    c = (1 - lam) * ma[None] + lam * mb[None]            # (L, P, 2, 2)
    det = c[..., 0, 0] * c[..., 1, 1] - c[..., 0, 1] * c[..., 1, 0]
    x, y = r[:, 0], r[:, 1]
    q = (c[..., 1, 1] * x * x - 2 * c[..., 0, 1] * x * y + c[..., 0, 0] * y * y) / det
    f = _PW_LAMBDAS[:, None] * (1 - _PW_LAMBDAS[:, None]) * q
    return f.max(axis=0) >= 1.0


def _conflicts(cand, cang, others, oang, size, shape, axes, gap):
    """Boolean (len(cand),): candidate too close to any of ``others`` (periodic)."""
    if len(others) == 0:
        return np.zeros(len(cand), dtype=bool)
    d = _min_image(cand[:, None, :] - others[None, :, :], size)   # (B, P, dim)
    if shape != "ellipse":
        return np.any(np.linalg.norm(d, axis=-1) < 2 * axes[0] + gap, axis=1)
    # ellipses, each grown by the factor (1 + gap/(2b)): the grown ellipse
    # contains the gap/2 neighbourhood of the original (support function
    # h*(1 + g/2b) >= h + g/2 since h >= b), so disjoint grown ellipses are
    # at least `gap` apart.
    grow = 1 + 0.5 * gap / axes[1]
    a, b = axes[0] * grow, axes[1] * grow
    shifts = size * np.array(list(itertools.product((-1, 0, 1), repeat=2)))
    dd = d[:, :, None, :] + shifts[None, None]                        # (B, P, 9, 2)
    dist = np.linalg.norm(dd, axis=-1)
    hit = np.any(dist < 2 * b, axis=2)                                # inscribed circles overlap
    maybe = (dist < 2 * a) & ~hit[:, :, None]
    if np.any(maybe):
        i, j, k = np.nonzero(maybe)
        sep = _ellipses_separated(dd[i, j, k], _ellipse_matrices(cang[i], a, b),
                                  _ellipse_matrices(oang[j], a, b))
        bad = np.zeros(hit.shape, dtype=bool)
        np.logical_or.at(bad, (i[~sep], j[~sep]), True)
        hit |= bad
    return np.any(hit, axis=1)


def _edge_violations(cand, cang, size, shape, axes, clearance):
    """Boolean (B,): candidate boundary within ``clearance`` of being tangent
    to a cell face, edge line or corner (measured for every periodic image)."""
    if clearance <= 0:
        return np.zeros(len(cand), dtype=bool)
    dims = cand.shape[1]
    near = [cand, size - cand]            # distances to the planes x_k = 0, size
    if shape != "ellipse":
        r = axes[0]
        bad = np.zeros(len(cand), dtype=bool)
        # faces, edge lines (3D) and corners: the distance from the centre to
        # the flat is sqrt(sum of d_k^2 over the flat's fixed axes)
        for m in range(1, dims + 1):
            for fixed in itertools.combinations(range(dims), m):
                for sides in itertools.product((0, 1), repeat=m):
                    dist = np.sqrt(sum(near[s][:, k] ** 2
                                       for k, s in zip(fixed, sides)))
                    bad |= np.abs(dist - r) < clearance
        return bad
    a, b = axes
    c, s = np.cos(cang), np.sin(cang)
    support = np.stack([np.sqrt(a * a * c * c + b * b * s * s),
                        np.sqrt(a * a * s * s + b * b * c * c)], axis=1)
    bad = np.any((np.abs(near[0] - support) < clearance)
                 | (np.abs(near[1] - support) < clearance), axis=1)
    # corners: distance from each cell corner to the (densely sampled) ellipse
    t = np.linspace(0, 2 * np.pi, _ELLIPSE_SAMPLES, endpoint=False)
    for corner in itertools.product((0.0, size), repeat=2):
        rel = np.asarray(corner) - cand
        close = np.flatnonzero(np.linalg.norm(rel, axis=1) < a + clearance)
        if close.size == 0:
            continue
        cc, ss = c[close, None], s[close, None]
        px = a * np.cos(t) * cc - b * np.sin(t) * ss
        py = a * np.cos(t) * ss + b * np.sin(t) * cc
        dist = np.hypot(px - rel[close, :1], py - rel[close, 1:]).min(axis=1)
        bad[close] |= dist < clearance
    return bad


def random_centres(fraction, *, dim=2, n=None, size=1.0, shape=None,
                   aspect=1.0, gap=0.0, clearance=0.0, seed=0,
                   max_attempts=100000):
    """Random sequential addition of ``n`` equal inclusions in the periodic cell ``[0, size]^dim``.

    Pure numpy; :func:`random_inclusions` and :func:`random_spheres` mesh the
    result. Candidates are drawn uniformly (centres in [0, size)^dim and, for
    ellipses, major-axis angles in [0, pi)) from
    ``numpy.random.default_rng(seed)`` and kept when

    * no overlap: the surface-to-surface distance to every inclusion placed
      so far, over all periodic images, is at least ``gap``. Circles and
      spheres: exact, minimum-image centre distance >= 2r + gap. Ellipses:
      conservative, both ellipses grown about their centres by the factor
      1 + gap/(2b) must be disjoint by the Perram-Wertheim contact function
      (evaluated on a grid of its parameter, which never accepts an overlap);
      the enforced gap is exact across the minor axis and up to a*gap/b along
      the major one.
    * edge rule (only if ``clearance`` > 0): the inclusion boundary is not
      within ``clearance`` of tangency to any cell face, edge line (3D) or
      corner, i.e. |dist(centre, flat) - r| >= clearance for circles and
      spheres (for ellipses the support function replaces r on faces, and the
      distance from each corner to the ellipse, sampled at 720 boundary
      points, must be >= clearance). An inclusion is then either clear of a
      face or cuts it by at least ``clearance``, which avoids slivers.

    ``shape`` is "circle" (default) or "ellipse" in 2D and "sphere" in 3D.
    The inclusions have equal size from ``fraction``: n pi a b = fraction *
    size^2 with a/b = ``aspect`` (2D), n 4/3 pi r^3 = fraction * size^3 (3D).
    The default ``n`` makes the equivalent diameter about size/5 in 2D
    (n = round(100 fraction / pi)) and size/4 in 3D (n = round(384 fraction /
    pi)), at least 1. Raises ValueError naming the numbers when ``n``
    inclusions cannot be placed within ``max_attempts`` candidates.
    """
    if dim not in (2, 3) or isinstance(dim, bool):
        raise ValueError(f"dim must be 2 or 3, got dim={dim!r}")
    n, shape, axes = _packing_spec(dim, fraction, n, size, shape, aspect, gap,
                                   seed, max_attempts)
    if not (_is_number(clearance) and clearance >= 0):
        raise ValueError(f"clearance must be a number >= 0, got clearance={clearance!r}")
    rng = np.random.default_rng(seed)
    centres = np.empty((0, dim))
    angles = np.empty(0)
    attempts = 0
    while len(centres) < n and attempts < max_attempts:
        batch = min(_RSA_BATCH, max_attempts - attempts)
        cand = rng.uniform(0.0, size, (batch, dim))
        cang = (rng.uniform(0.0, np.pi, batch) if shape == "ellipse"
                else np.zeros(batch))
        ok = ~_edge_violations(cand, cang, size, shape, axes, clearance)
        ok[ok] = ~_conflicts(cand[ok], cang[ok], centres, angles, size, shape,
                             axes, gap)
        start = len(centres)
        used = batch
        for j in np.flatnonzero(ok):
            if _conflicts(cand[j:j + 1], cang[j:j + 1], centres[start:],
                          angles[start:], size, shape, axes, gap)[0]:
                continue
            centres = np.vstack([centres, cand[j]])
            angles = np.append(angles, cang[j])
            if len(centres) == n:
                used = j + 1
                break
        attempts += used
    if len(centres) < n:
        k = len(centres)
        raise ValueError(
            f"random sequential addition could not reach fraction={fraction!r} "
            f"with n={n} inclusions (gap={gap:.4g}, clearance={clearance:.4g}): "
            f"only {k} placed after max_attempts={max_attempts} attempts, "
            f"fraction reached {fraction * k / n:.4f}; lower fraction or gap, "
            "change n, or raise max_attempts")
    return Packing(centres, angles, tuple(float(x) for x in axes), float(size),
                   shape, attempts)


def _wrapped_images(packing):
    """(centre, angle) of every periodic image whose bounding box meets the cell."""
    size, (a, b) = packing.size, packing.axes[:2]
    dim = packing.centres.shape[1]
    out = []
    for c, th in zip(packing.centres, packing.angles):
        if packing.shape == "ellipse":
            co, si = math.cos(th), math.sin(th)
            ext = np.array([math.sqrt(a * a * co * co + b * b * si * si),
                            math.sqrt(a * a * si * si + b * b * co * co)])
        else:
            ext = np.full(dim, a)
        for shift in itertools.product((-1, 0, 1), repeat=dim):
            cc = c + size * np.asarray(shift, dtype=float)
            if np.all(cc - ext < size) and np.all(cc + ext > 0):
                out.append((cc, th))
    return out


def _mesh_packing(name, dim, packing, h, phases, path):
    size = packing.size
    with _GmshSession(name) as gmsh:
        occ = gmsh.model.occ
        if dim == 2:
            box = occ.addRectangle(0.0, 0.0, 0.0, size, size)
        else:
            box = occ.addBox(0.0, 0.0, 0.0, size, size, size)
        a, b = packing.axes[:2]
        shapes = []
        for c, th in _wrapped_images(packing):
            if dim == 3:
                shapes.append((3, occ.addSphere(*c, a)))
            elif packing.shape == "ellipse":
                shapes.append((2, occ.addDisk(c[0], c[1], 0.0, a, b,
                                              zAxis=[0.0, 0.0, 1.0],
                                              xAxis=[math.cos(th), math.sin(th), 0.0])))
            else:
                shapes.append((2, occ.addDisk(c[0], c[1], 0.0, a, a)))
        pieces, _ = occ.intersect(shapes, [(dim, box)], removeObject=True,
                                  removeTool=False)
        return _finish(gmsh, dim, size, h, _matrix_and_inclusions(gmsh, dim, box, pieces), phases, path)


def _random_mesh_args(dim, fraction, n, size, shape, aspect, gap, h, seed,
                      max_attempts, clearance, phases, path):
    n, shape, axes = _packing_spec(dim, fraction, n, size, shape, aspect, gap,
                                   seed, max_attempts)
    minor = axes[1]
    if h is None:
        h = minor / (4 if dim == 2 else 3)
    _check_size_h(size, h)
    _check_h_below(h, minor, "inclusion (minor)")
    if clearance is None:
        clearance = 0.5 * h
    if not (_is_number(clearance) and clearance >= 0):
        raise ValueError(f"clearance must be a number >= 0 or None, got clearance={clearance!r}")
    phases = _check_phases(phases)
    _check_path(path)
    try:
        packing = random_centres(fraction, dim=dim, n=n, size=size,
                                 shape=shape, aspect=aspect,
                                 gap=max(gap, clearance), clearance=clearance,
                                 seed=seed, max_attempts=max_attempts)
    except ValueError as err:
        if gap >= clearance:
            raise
        raise ValueError(
            f"{err} (the separation used is max(gap={gap!r}, "
            f"clearance={clearance:.4g}) with clearance = h/2 by default; "
            "pass a smaller h or clearance)") from None
    return packing, h, phases


def random_inclusions(fraction, *, n=None, size=1.0, shape="circle",
                      aspect=1.0, gap=0.0, h=None, seed=0,
                      phases=("matrix", "inclusion"), max_attempts=100000,
                      clearance=None, path=None):
    """2D periodic cell ``[0, size]^2`` with ``n`` random non-overlapping equal inclusions (MeshTri1).

    Circles, or with ``shape="ellipse"`` ellipses of axis ratio ``aspect`` =
    a/b >= 1 and uniformly random orientation, all of area fraction * size^2 / n,
    placed by :func:`random_centres` (random sequential addition with
    ``numpy.random.default_rng(seed)``; see there for the overlap and edge
    tests). An inclusion cut by a cell edge re-enters on the opposite edge
    (and corner), so the cell is periodic; the meshed area fraction is that
    of the inscribed polygons, slightly below ``fraction``.

    Defaults: ``n`` gives an equivalent diameter of about size/5
    (n = round(100 fraction / pi)); ``h`` = b/4 (a quarter of the minor
    semi-axis, i.e. diameter/8 for circles); ``clearance`` = h/2. For meshing,
    the separation actually enforced between inclusions is max(gap,
    clearance), and every inclusion boundary is kept at least ``clearance``
    from tangency with the cell edges and corners. Same arguments, same
    mesh. Raises ValueError before meshing if the fraction cannot be reached
    within ``max_attempts`` candidates.
    """
    packing, h, phases = _random_mesh_args(
        2, fraction, n, size, shape, aspect, gap, h, seed, max_attempts,
        clearance, phases, path)
    return _mesh_packing("fe2_random_inclusions", 2, packing, h, phases, path)


def random_spheres(fraction, *, n=None, size=1.0, gap=0.0, h=None, seed=0,
                   phases=("matrix", "inclusion"), max_attempts=100000,
                   clearance=None, path=None):
    """3D periodic cube ``[0, size]^3`` with ``n`` random non-overlapping equal spheres (MeshTet1).

    Same rules as :func:`random_inclusions` in 3D: n 4/3 pi r^3 = fraction *
    size^3; default ``n`` gives a diameter of about size/4 (n = round(384
    fraction / pi)); default ``h`` = r/3; ``clearance`` = h/2 is both the
    minimum separation used for meshing (max(gap, clearance)) and the distance
    from tangency kept to every face, edge line and corner of the cube. A
    sphere cut by a face, edge or corner re-enters on the opposite side(s)
    (up to 8 pieces). The three face pairs are node-matched.
    """
    packing, h, phases = _random_mesh_args(
        3, fraction, n, size, None, 1.0, gap, h, seed, max_attempts,
        clearance, phases, path)
    return _mesh_packing("fe2_random_spheres", 3, packing, h, phases, path)


# --------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------

def load_mesh(path):
    """Read a mesh file (gmsh ``.msh`` or anything meshio reads) into skfem.

    Returns a first-order scikit-fem mesh whose ``subdomains`` are the named
    cell sets of the file (names starting with ``gmsh:`` and empty sets
    dropped); named boundaries are kept as ``mesh.boundaries``. 2D meshes come
    back with ``mesh.p`` of shape ``(2, N)``. Nodes not used by any element are
    removed.

    Raises FileNotFoundError for a missing file and ValueError naming the path
    if the file cannot be read as a mesh or has no named subdomains.
    """
    import meshio
    from skfem.io.meshio import from_meshio

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"mesh file not found: path={path!r}")
    # meshio 5.3 quirks: '.msh' is tried as ANSYS before gmsh (printing a
    # blank line on stdout), and an unreadable file ends in sys.exit(1) after
    # printing to stderr.  Name the format for .msh, silence the chatter and
    # turn SystemExit into a ValueError.
    file_format = "gmsh" if path.lower().endswith(".msh") else None
    sink = io.StringIO()
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            m = meshio.read(path, file_format=file_format)
    except (Exception, SystemExit) as err:
        detail = " ".join(sink.getvalue().split()) or f"{type(err).__name__}: {err}"
        raise ValueError(
            f"could not read a mesh from path={path!r}: {detail}") from None
    try:
        mesh = from_meshio(m)
    except Exception as err:
        raise ValueError(
            f"path={path!r} holds no mesh scikit-fem can use: "
            f"{type(err).__name__}: {err}") from err

    subdomains = {k: np.asarray(v, dtype=np.int64)
                  for k, v in (mesh.subdomains or {}).items()
                  if k is not None and not str(k).startswith("gmsh:")
                  and len(v) > 0}
    if not subdomains:
        raise ValueError(
            f"mesh file path={path!r} has no named subdomains "
            "(add physical groups of the cell's dimension with names)")
    boundaries = {k: v for k, v in (mesh.boundaries or {}).items()
                  if k is not None and not str(k).startswith("gmsh:")
                  and len(v) > 0}

    p, t = mesh.p, mesh.t
    used = np.unique(t)
    if used.size != p.shape[1]:
        # drop orphan nodes; a monotone renumbering keeps facet numbering
        # consistent, but rebuild the boundaries from node sets to be safe
        old_facets = {k: np.sort(mesh.facets[:, v], axis=0)
                      for k, v in boundaries.items()}
        new_index = -np.ones(p.shape[1], dtype=np.int64)
        new_index[used] = np.arange(used.size)
        p = p[:, used]
        t = new_index[t]
        tmp = type(mesh)(p, t, validate=False)
        lookup = {tuple(f): i for i, f in
                  enumerate(np.sort(tmp.facets, axis=0).T.tolist())}
        boundaries = {k: np.array([lookup[tuple(f)] for f in
                                   new_index[v].T.tolist()], dtype=np.int64)
                      for k, v in old_facets.items()}
    return type(mesh)(np.ascontiguousarray(p), np.ascontiguousarray(t),
                      _subdomains=subdomains,
                      _boundaries=boundaries or None)


# --------------------------------------------------------------------------
# macro domains
# --------------------------------------------------------------------------

def plate_with_hole(*, width=1.0, radius=0.3, h=0.08, h_hole=None, phase="plate", path=None):
    """Quarter of a square plate with a central circular hole, for tension along x with symmetry.

    The quarter is [0, width]^2 minus the disc of ``radius`` at the origin; boundaries are named
    ``left`` (x = 0, symmetry), ``bottom`` (y = 0, symmetry), ``right`` (x = width, loaded),
    ``top`` (y = width, free) and ``hole``. Elements are of size ``h``, graded to ``h_hole``
    (default h/3) at the hole, where the stress concentrates. One phase named ``phase``.
    """
    _check_size_h(width, h)
    if not 0 < radius < width:
        raise ValueError(f"radius must satisfy 0 < radius < width={width!r}, got radius={radius!r}")
    h_hole = h / 3 if h_hole is None else h_hole
    if not 0 < h_hole <= h:
        raise ValueError(f"h_hole must satisfy 0 < h_hole <= h={h!r}, got h_hole={h_hole!r}")
    _check_path(path)
    with _GmshSession("fe2_plate_with_hole") as gmsh:
        occ = gmsh.model.occ
        square = occ.addRectangle(0, 0, 0, width, width)
        disc = occ.addDisk(0, 0, 0, radius, radius)
        (surface,), _ = occ.cut([(2, square)], [(2, disc)])
        occ.synchronize()
        tol = 1e-6 * width  # OCC pads bounding boxes by about 1e-7
        named = {"left": [], "bottom": [], "right": [], "top": [], "hole": []}
        for _, curve in gmsh.model.getBoundary([surface], oriented=False):
            x0, y0, _, x1, y1, _ = gmsh.model.getBoundingBox(1, curve)
            if abs(x0) < tol and abs(x1) < tol:
                named["left"].append(curve)
            elif abs(y0) < tol and abs(y1) < tol:
                named["bottom"].append(curve)
            elif abs(x0 - width) < tol and abs(x1 - width) < tol:
                named["right"].append(curve)
            elif abs(y0 - width) < tol and abs(y1 - width) < tol:
                named["top"].append(curve)
            else:
                named["hole"].append(curve)
        for name, curves in named.items():
            gmsh.model.addPhysicalGroup(1, curves, name=name)
        gmsh.model.addPhysicalGroup(2, [surface[1]], name=phase)
        _set_mesh_options(gmsh, h)
        gmsh.option.setNumber("Mesh.MeshSizeMin", h_hole)
        distance = gmsh.model.mesh.field.add("Distance")
        gmsh.model.mesh.field.setNumbers(distance, "CurvesList", named["hole"])
        threshold = gmsh.model.mesh.field.add("Threshold")
        for key, value in (("InField", distance), ("SizeMin", h_hole), ("SizeMax", h),
                           ("DistMin", 0.0), ("DistMax", radius)):
            gmsh.model.mesh.field.setNumber(threshold, key, value)
        gmsh.model.mesh.field.setAsBackgroundMesh(threshold)
        gmsh.model.mesh.generate(2)
        return _write_and_load(gmsh, path)
