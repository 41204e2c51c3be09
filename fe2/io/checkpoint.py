"""Checkpoints of a macro run: the committed load, field, histories and step size after each step,
and a fingerprint of the run's inputs.

    fe2.checkpoint.save("out/checkpoint.npz", load=0.5, u=u, states=states)
    saved = fe2.checkpoint.load("out/checkpoint.npz")   # the same dict; CheckpointError if damaged

A checkpoint runs no code when it is read. It is a zip file in NumPy's ``.npz`` layout: every array
is an ``.npy`` member written and read without pickles, and ``header.json`` holds the format and its
version, the fe2 version, the nesting of the data (dicts, lists, tuples, object arrays of micro
histories, None, numbers, strings; arrays by reference) and the SHA-256 of all of it, checked on
reading. It is written atomically and synced to disk (:func:`fe2.io.files.replaced`), so a run
killed at any moment leaves the last complete checkpoint. A damaged file, or a pickled checkpoint
of an earlier fe2, is refused with one line naming it.

:meth:`fe2.macro.Problem.solve` with ``restart=True`` continues from a checkpoint and reaches the
same results as an uninterrupted run, once :func:`check_restart` has found the run's inputs
(:func:`inputs`: macro mesh, materials and their parameters, cells of the cell-backed laws,
boundary conditions, load schedule, fe2 version) equal to those recorded in the checkpoint and the
recorded run unfinished.
"""

import contextlib
import hashlib
import json
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .files import replaced, run_lock

__all__ = ["CheckpointError", "FORMAT", "VERSION", "add_run_options", "check_restart", "inputs", "load", "run_folder",
           "save"]

FORMAT, VERSION = "fe2 checkpoint", 1
HEADER = "header.json"


class CheckpointError(ValueError):
    """A checkpoint that cannot be read (damaged, pickled, another format) or continued by this run."""


# --- writing and reading -----------------------------------------------------------------------------
def save(path, **data):
    """Write ``data`` (the keyword arguments: arrays, numbers, strings, None, and dicts, lists, tuples
    and object arrays of them) to ``path``, atomically and synced to disk. Returns the path."""
    path = Path(path)
    arrays = []
    tree = _encode(data, arrays, "")
    header = {"format": FORMAT, "version": VERSION, "fe2": _version(), "arrays": len(arrays),
              "sha256": _digest(tree, arrays), "data": tree}
    with replaced(path, sync=True) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        archive.writestr(HEADER, json.dumps(header, ensure_ascii=False))
        for index, array in enumerate(arrays):
            with archive.open(f"a{index}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)
    return path


def load(path):
    """The dict saved by :func:`save` at ``path``. FileNotFoundError if there is none; CheckpointError
    (one line naming the file) if it is damaged, not a checkpoint, of a later format version, or a
    pickled checkpoint of an earlier fe2 (never opened: loading a pickle runs code from the file)."""
    path = Path(path)
    if not path.is_file():
        pickled = path.with_suffix(".pkl")
        if path.suffix != ".pkl" and pickled.is_file():
            raise CheckpointError(f"no checkpoint at {path}, only {pickled}, {_PICKLED}")
        raise FileNotFoundError(f"no checkpoint at {path}")
    with open(path, "rb") as f:
        start = f.read(4)
    if start[:1] == b"\x80":
        raise CheckpointError(f"{path} is {_PICKLED}")
    if start != b"PK\x03\x04":
        raise CheckpointError(f"{path} is not an fe2 checkpoint (it is not a zip file); {_AGAIN}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            header = json.loads(npz[HEADER].decode("utf-8"))
            if not isinstance(header, dict) or header.get("format") != FORMAT:
                raise CheckpointError(f"{path} is not an fe2 checkpoint (its {HEADER} names no {FORMAT!r} format)")
            if header.get("version") != VERSION:
                raise CheckpointError(f"{path} is an fe2 checkpoint of format version {header.get('version')} "
                                      f"(written by fe2 {header.get('fe2')}); this fe2 reads version {VERSION}")
            arrays = [npz[f"a{index}"] for index in range(int(header["arrays"]))]
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError, TypeError, ValueError) as error:
        reason = " ".join(str(error).split()) or type(error).__name__
        raise CheckpointError(f"{path} is damaged and cannot be read ({type(error).__name__}: {reason}); "
                              f"{_AGAIN}") from None
    if _digest(header["data"], arrays) != header.get("sha256"):
        raise CheckpointError(f"{path} is damaged: its content does not match its SHA-256 checksum; {_AGAIN}")
    return _decode(header["data"], arrays)


_AGAIN = "start the run again without restarting from it"
_PICKLED = ("a pickled checkpoint of an earlier fe2, which is not opened because loading a pickle runs code "
            f"from the file; {_AGAIN}")


def _encode(value, arrays, where):
    """``value`` as JSON data, its arrays appended to ``arrays`` and referred to by index."""
    if isinstance(value, np.ndarray) and value.dtype == object:
        return {"objects": list(value.shape),
                "items": [_encode(item, arrays, f"{where}[{i}]") for i, item in enumerate(value.reshape(-1))]}
    if isinstance(value, np.generic) and value.dtype.kind in "biuf" and value.dtype.itemsize <= 8:
        return {"scalar": value.dtype.str, "value": value.item()}   # exact: float repr round-trips
    if isinstance(value, (np.ndarray, np.generic)):
        if value.dtype.hasobject:
            raise TypeError(f"a checkpoint cannot store the structured array with objects at {where or 'the top'}")
        arrays.append(np.asarray(value))
        return {"array": len(arrays) - 1, **({} if isinstance(value, np.ndarray) else {"0d": True})}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [_encode(item, arrays, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, tuple):
        return {"tuple": [_encode(item, arrays, f"{where}[{i}]") for i, item in enumerate(value)]}
    if isinstance(value, dict):
        keys = [key for key in value if not isinstance(key, str)]
        if keys:
            raise TypeError(f"a checkpoint stores dicts with string keys; {where or 'the data'} has the key "
                            f"{keys[0]!r}")
        return {"dict": {key: _encode(item, arrays, f"{where}/{key}" if where else key) for key, item in value.items()}}
    raise TypeError(f"a checkpoint stores arrays, numbers, strings, None, and dicts, lists and tuples of them; "
                    f"{where or 'the data'} is a {type(value).__name__}")


def _decode(tree, arrays):
    """The inverse of :func:`_encode`."""
    if isinstance(tree, list):
        return [_decode(item, arrays) for item in tree]
    if not isinstance(tree, dict):
        return tree
    if "array" in tree:
        return arrays[tree["array"]][()] if tree.get("0d") else arrays[tree["array"]]
    if "scalar" in tree:
        return np.dtype(tree["scalar"]).type(tree["value"])
    if "tuple" in tree:
        return tuple(_decode(item, arrays) for item in tree["tuple"])
    if "dict" in tree:
        return {key: _decode(item, arrays) for key, item in tree["dict"].items()}
    objects = np.empty(int(np.prod(tree["objects"])), dtype=object)
    for i, item in enumerate(tree["items"]):
        objects[i] = _decode(item, arrays)
    return objects.reshape(tree["objects"])


def _digest(tree, arrays):
    """SHA-256 of the nesting and of every array (type, shape and bytes)."""
    digest = hashlib.sha256(json.dumps(tree, sort_keys=True).encode("utf-8"))
    for array in arrays:
        digest.update(f"{array.dtype.str}{array.shape}".encode("ascii"))
        digest.update(np.ascontiguousarray(array).view(np.uint8).reshape(-1) if array.size else b"")
    return digest.hexdigest()


# --- what a restart must share with the checkpoint ---------------------------------------------------
def inputs(problem, schedule):
    """The fingerprint of a macro run's inputs as plain data, one item per input: fe2 version, macro
    mesh and elements, the law of each phase with its parameters (for a cell-backed law, its cell's
    mesh, phases, laws and condition), each boundary condition with its values, the body force and
    the load schedule. Large arrays appear as SHA-256 digests."""
    body = problem.body
    items = {"fe2 version": _version(), "macro mesh": _body(body)}
    for name in body.phases:
        items[f"material {name!r}"] = _law(body.materials[name])
    items.update(_conditions("Dirichlet condition", problem.dirichlet, lambda bc: _dirichlet(problem, bc)))
    items.update(_conditions("traction", problem.neumann, lambda bc: {"value": _plain(bc.value)}))
    items["body force"] = _plain(problem.body_force)
    items["load schedule"] = [float(x) for x in np.asarray(schedule, dtype=float)]
    return items


def check_restart(saved, path, inputs=None):
    """Raise :class:`CheckpointError` if the run of checkpoint ``saved`` (read from ``path``) cannot be
    continued: it is finished, or, given the ``inputs`` of this run (see :func:`inputs`), it records
    none or other ones (the first differing item named, with both values where they are short)."""
    if inputs is not None:
        recorded = saved.get("inputs")
        if not isinstance(recorded, dict):
            raise CheckpointError(f"cannot restart from {path}: it records no inputs to check this run against; "
                                  f"{_AGAIN}")
        difference = _difference(inputs, recorded, ())
        if difference is not None:
            raise CheckpointError(f"cannot restart from {path}: {difference}; restart with the inputs of the "
                                  "checkpoint, or start a new run")
    if saved.get("load", 0.0) >= 1 - 1e-12:
        raise CheckpointError(f"cannot restart from {path}: its run is finished (step {saved.get('number')} reached "
                              f"load {saved.get('load'):.4g}, the full load); nothing is left to continue")


_MISSING = object()


def _difference(here, there, where):
    """The first difference of plain data ``here`` (this run) and ``there`` (the checkpoint), in words."""
    if isinstance(here, dict) and isinstance(there, dict):
        for key in [*here, *(k for k in there if k not in here)]:
            found = _difference(here.get(key, _MISSING), there.get(key, _MISSING), (*where, key))
            if found is not None:
                return found
        return None
    if here is _MISSING or there is _MISSING:
        name, parent = where[-1], " / ".join(where[:-1])
        owner = "this run" if here is _MISSING else "the checkpoint"
        return f"{owner} has no {name}" + (f" in {parent}" if parent else "")
    if _text(here) == _text(there):
        return None
    what = " / ".join(where)
    if _digests(here) or _digests(there) or max(len(_text(here)), len(_text(there))) > 120:
        return f"{what} differs from the checkpoint's"
    return f"{what} is {_text(here)} in this run but {_text(there)} in the checkpoint"


def _text(value):
    return json.dumps(value, sort_keys=True)


def _digests(value):
    return isinstance(value, str) and value.startswith("sha256:")


def _conditions(kind, conditions, describe):
    """One item per condition, named by its kind and boundary (numbered when a boundary has several)."""
    names = [f"{kind} on {bc.boundary!r}" for bc in conditions]
    return {(name if names.count(name) == 1 else f"{name} #{names[:i + 1].count(name)}"): describe(bc)
            for i, (name, bc) in enumerate(zip(names, conditions))}


def _dirichlet(problem, bc):
    entry = {"components": None if bc.components is None else np.atleast_1d(bc.components).tolist(),
             "value": _plain(bc.value)}
    if callable(bc.value):  # a function: its values where it applies
        from ..macro.boundary import dirichlet_dofs
        body = problem.body
        _, values = dirichlet_dofs([bc], body.mesh, body.physics.ncomp, physics=body.physics.name, basis=body.basis)
        entry["values"] = _hash(values)
    return entry


def _body(body):
    """A body (macro problem or cell) as plain data: mesh, element order, quadrature, phases."""
    mesh = body.mesh
    return {"type": type(mesh).__name__, "vertices": int(mesh.p.shape[1]), "elements": int(mesh.t.shape[1]),
            "vertex coordinates": _hash(mesh.p), "element vertices": _hash(mesh.t),
            "boundaries": {str(k): _hash(v) for k, v in sorted((mesh.boundaries or {}).items())},
            "order": int(body.order), "quadrature points per element": int(body.dx.shape[1]),
            "phases": list(body.phases), "phase of each element": _hash(body.phase)}


def _law(law):
    """A law as plain data: its class and public attributes; for a cell-backed law, its cell."""
    kind = type(law).__qualname__   # not its module: a script's is "__main__" or another name, by how it runs
    if hasattr(law, "cell") and hasattr(law, "bc"):   # fe2.RVELaw (its executor does not change the results)
        cell = law.cell
        lattice = getattr(cell, "lattice", None)
        return {"law": kind, "tol": _plain(law.tol), "max_iterations": _plain(law.max_iterations),
                "condition": _plain(law.bc.key() if hasattr(law.bc, "key") else law.bc),
                "cell": {**_body(cell), "lattice vectors": _plain(getattr(lattice, "vectors", None))},
                "cell laws": {name: _law(cell.materials[name]) for name in cell.phases}}
    return {"law": kind, **{key: _plain(value) for key, value in getattr(law, "__dict__", {}).items()
                            if not key.startswith("_")}}


def _plain(value, depth=0):
    """A parameter as plain data: numbers, strings, short arrays as lists, long ones as digests,
    functions by name and code, laws by their parameters, other objects by their type."""
    if depth > 4:
        return f"<{type(value).__name__}>"
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float, np.integer, np.floating)):
        return value.item() if isinstance(value, np.generic) else value
    if isinstance(value, type):
        return value.__qualname__
    if isinstance(value, (list, tuple, np.ndarray)):
        try:
            array = np.asarray(value)
        except ValueError:  # ragged
            array = np.empty(0, dtype=object)
        if array.dtype != object:
            return _hash(array) if array.size > 9 else array.tolist()
        return [_plain(item, depth + 1) for item in (value.reshape(-1) if isinstance(value, np.ndarray) else value)]
    if isinstance(value, dict):
        return {str(key): _plain(item, depth + 1) for key, item in value.items()}
    if callable(value) and hasattr(value, "__code__"):
        return _function(value, depth)
    from ..materials.law import Law
    if isinstance(value, Law):
        return _law(value)
    return f"<{type(value).__qualname__}>"


def _function(function, depth):
    """A function by its name and a digest of its code, defaults and closure values."""
    code = function.__code__
    closure = [cell.cell_contents for cell in (function.__closure__ or ()) if _filled(cell)]
    digest = hashlib.sha256(_code_bytes(code))
    digest.update(_text([_plain(v, depth + 1) for v in (*(function.__defaults__ or ()), *closure)]).encode("utf-8"))
    return {"function": function.__qualname__, "code": "sha256:" + digest.hexdigest()[:16]}


def _filled(cell):
    try:
        cell.cell_contents
    except ValueError:  # a closure variable not yet assigned
        return False
    return True


def _code_bytes(code):
    parts = [code.co_code, repr(code.co_names).encode("utf-8")]
    for const in code.co_consts:
        parts.append(_code_bytes(const) if hasattr(const, "co_code") else repr(const).encode("utf-8"))
    return b"\0".join(parts)


def _hash(array):
    """A short SHA-256 digest of an array's type, shape and values."""
    array = np.ascontiguousarray(array)
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode("ascii"))
    digest.update(array.view(np.uint8).reshape(-1) if array.size else b"")
    return "sha256:" + digest.hexdigest()[:16]


def _version():
    from .. import __version__
    return __version__


# --- a run folder as case scripts open it ------------------------------------------------------------------
def add_run_options(parser):
    """The options of a run folder on an argparse ``parser``: --restart or --overwrite (not both)."""
    earlier = parser.add_mutually_exclusive_group()
    earlier.add_argument("--restart", action="store_true", help="continue the run in --out from its checkpoint.npz")
    earlier.add_argument("--overwrite", action="store_true", help="replace the output of an earlier run in --out")


@contextlib.contextmanager
def run_folder(folder, restart=False, overwrite=False):
    """Hold the run folder ``folder`` for this process (:func:`fe2.io.files.run_lock`) and give the path
    of its checkpoint. A folder holding an earlier run is refused unless ``restart`` (continue it: a
    missing, damaged or finished checkpoint is refused here, before any work) or ``overwrite``
    (its run files are removed)."""
    if restart and overwrite:
        raise ValueError("restart and overwrite exclude each other: continue the earlier run or replace it")
    path = Path(folder) / "checkpoint.npz"
    with run_lock(folder, previous="keep" if restart else "remove" if overwrite else "refuse"):
        if restart:
            check_restart(load(path), path)
        yield path
