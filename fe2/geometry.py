"""Periodic unit cells meshed with gmsh, with named phases.

Conventions shared by every generator in this module:

* The cell is the cube ``[0, size]^dim`` with its origin at 0.
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
* Boundary physical groups are also written and come back as
  ``mesh.boundaries``: ``left`` (x=0), ``right`` (x=size), ``bottom`` (y=0),
  ``top`` (y=size) and, in 3D, ``back`` (z=0), ``front`` (z=size).
* The file format is gmsh MSH 4.1 ASCII, which meshio 5.3 and scikit-fem read
  with the named subdomains intact.
"""

import contextlib
import io
import math
import os
import tempfile

import numpy as np

__all__ = ["laminate", "inclusion", "checkerboard", "load_mesh"]

_MSH_VERSION = 4.1
_BOUNDARY_NAMES = (("left", "right"), ("bottom", "top"), ("back", "front"))


# --------------------------------------------------------------------------
# input validation (all of it happens before gmsh is touched)
# --------------------------------------------------------------------------

def _check_size_h(size, h):
    if not (isinstance(size, (int, float, np.number)) and np.isfinite(size)
            and size > 0):
        raise ValueError(f"size must be a positive number, got size={size!r}")
    if not (isinstance(h, (int, float, np.number)) and np.isfinite(h)):
        raise ValueError(f"h must be a number, got h={h!r}")
    if h <= 0 or h >= size:
        raise ValueError(
            f"h must satisfy 0 < h < size={size!r}, got h={h!r}")


def _check_fraction(fraction):
    if not (isinstance(fraction, (int, float, np.number))
            and np.isfinite(fraction) and 0.0 < fraction < 1.0):
        raise ValueError(
            f"fraction must lie strictly between 0 and 1, "
            f"got fraction={fraction!r}")


def _check_phases(phases):
    ok = (isinstance(phases, (tuple, list)) and len(phases) == 2
          and all(isinstance(p, str) and p.strip() for p in phases)
          and phases[0] != phases[1]
          and not any(p.startswith("gmsh:") for p in phases))
    if not ok:
        raise ValueError(
            "phases must be two distinct non-empty strings (not starting "
            f"with 'gmsh:'), got phases={phases!r}")
    return tuple(phases)


def _check_path(path):
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"path must be a str/PathLike or None, got path={path!r}")


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


def _make_periodic(gmsh, dim, size):
    """Translate-periodic pairing of the faces x_i=0 -> x_i=size, i < dim."""
    eps = 1e-5 * size  # > OCC bounding-box padding (~1e-7)
    bdim = dim - 1
    for axis in range(dim):
        masters = _entities_on_plane(gmsh, bdim, axis, 0.0, size, eps)
        slaves = _entities_on_plane(gmsh, bdim, axis, size, size, eps)
        shift = [0.0, 0.0, 0.0]
        shift[axis] = size
        affine = [1, 0, 0, shift[0],
                  0, 1, 0, shift[1],
                  0, 0, 1, shift[2],
                  0, 0, 0, 1]
        # Match every slave entity to the master whose bounding box,
        # translated by `shift`, coincides with it.
        mboxes = {m: np.array(gmsh.model.getBoundingBox(bdim, m))
                  for m in masters}
        step = np.array(shift + shift)
        used = set()
        for s in sorted(slaves):
            sbox = np.array(gmsh.model.getBoundingBox(bdim, s))
            match = [m for m, b in mboxes.items()
                     if np.max(np.abs(b + step - sbox)) < 1e-5 * size]
            if len(match) != 1:  # pragma: no cover - geometry bug
                raise RuntimeError(
                    f"periodic matching failed on axis {axis} "
                    f"for entity {s}: candidates {match}")
            used.add(match[0])
            gmsh.model.mesh.setPeriodic(bdim, [s], [match[0]], affine)
        if len(used) != len(masters):  # pragma: no cover
            raise RuntimeError(f"unmatched master entities on axis {axis}")
    return


def _add_boundary_groups(gmsh, dim, size):
    eps = 1e-5 * size  # > OCC bounding-box padding (~1e-7)
    for axis in range(dim):
        for side, value in zip(_BOUNDARY_NAMES[axis], (0.0, size)):
            tags = _entities_on_plane(gmsh, dim - 1, axis, value, size, eps)
            gmsh.model.addPhysicalGroup(dim - 1, sorted(tags), name=side)


def _finish(gmsh, dim, size, h, phase_tags, phases, path):
    """Physical groups, periodicity, meshing, writing and loading."""
    gmsh.model.occ.synchronize()
    for name, tags in zip(phases, phase_tags):
        if not tags:  # pragma: no cover - geometry bug
            raise RuntimeError(f"phase {name!r} ended up with no entities")
        gmsh.model.addPhysicalGroup(dim, sorted(tags), name=name)
    _add_boundary_groups(gmsh, dim, size)
    _make_periodic(gmsh, dim, size)
    _set_mesh_options(gmsh, h)
    gmsh.model.mesh.generate(dim)
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


def _fragment(gmsh, pieces):
    """Fragment OCC entities; return the list of output tags for each input."""
    occ = gmsh.model.occ
    _, out_map = occ.fragment(pieces[:1], pieces[1:])
    return [[t for _, t in m] for m in out_map]


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
        out = _fragment(gmsh, [(2, square), (2, disk)])
        inc = out[1]
        mat = [t for t in out[0] if t not in inc]
        return _finish(gmsh, 2, size, h, [mat, inc], phases, path)


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
    import skfem
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
