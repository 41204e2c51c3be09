"""Materials from a TOML file: one table per phase, named as the mesh's phases.

    # materials.toml (moduli in any consistent unit, e.g. GPa)
    [matrix]
    law = "isotropic"          # E, nu
    E = 3.5
    nu = 0.35

    [fiber]
    law = "anisotropic"        # C (3x3 in 2D or 6x6), convention = "mandel" (default) or "voigt"
    C = [[80.0, 20.0, 0.0], [20.0, 80.0, 0.0], [0.0, 0.0, 60.0]]
    convention = "voigt"

Other laws: ``"conductor"`` (k: a number or a matrix), ``"j2"`` (E, nu, yield_stress, and optionally
hardening and saturation = [sigma_sat, delta]; see :class:`fe2.J2Plasticity`) and
``"nonlinear_conductor"`` (k0, and optionally g0 and m; see :class:`fe2.NonlinearConductor`).
``law = "void"`` (no parameters) marks a phase as pore space: its material is None, and
:class:`fe2.Cell` leaves it out (docs/porous.md).

A ``[lattice]`` table is not a phase: ``vectors = [[a1x, a1y], [a2x, a2y]]`` (one lattice vector per
row, 3 x 3 in 3D) gives the cell's lattice vectors to ``fe2 homogenize`` (:func:`load_lattice`).

The elastic laws take ``plane = "stress"`` for 2D plane stress (every elastic phase alike; the
default is plane strain).

    materials = fe2.materials.file.load_materials("materials.toml", phases=cell_mesh_phase_names)

Every error is a ValueError naming the file, the phase and what is wrong: a TOML syntax error (with
its line), an unknown law, a missing or unexpected parameter, a value of the wrong type, a value the
law rejects (its own message), a mix of elastic and conduction laws, and, when the mesh's ``phases``
are given, a phase without a material or a material for a phase the mesh does not have.
"""

from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

from .linear import Anisotropic, Conductor, Isotropic
from .plasticity import J2Plasticity, NonlinearConductor

# law name -> (class, required parameters, optional parameters), parameters as (name, kind)
LAWS = {
    "isotropic": (Isotropic, {"E": "number", "nu": "number"}, {"plane": "text"}),
    "anisotropic": (Anisotropic, {"C": "matrix"}, {"convention": "text", "plane": "text"}),
    "conductor": (Conductor, {"k": "number or matrix"}, {}),
    "j2": (J2Plasticity, {"E": "number", "nu": "number", "yield_stress": "number"},
           {"hardening": "number", "saturation": "pair", "plane": "text"}),
    "nonlinear_conductor": (NonlinearConductor, {"k0": "number"}, {"g0": "number", "m": "number"}),
}
ALIASES = {"elastic": "isotropic", "j2plasticity": "j2", "nonlinearconductor": "nonlinear_conductor"}
ARGUMENTS = {"C": "stiffness"}  # TOML key -> constructor argument, where they differ
VOID = "void"                   # law of a pore phase: no material
LATTICE = "lattice"             # the table of lattice vectors, not a phase


def load_materials(path, phases=None):
    """The laws of ``path`` (a TOML file) as {phase: law}, in the file's order. ``phases``: the mesh's
    phase names; if given, every one needs a material and no other may be defined."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"materials file not found: {path}")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path}: TOML syntax error: {error}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a text (TOML) file") from None
    if not data:
        raise ValueError(f"{path} defines no material: give one table per phase, e.g. [matrix] law = \"isotropic\" ...")
    data.pop(LATTICE, None)
    if not data:
        raise ValueError(f"{path} defines no material, only a [{LATTICE}] table")
    materials = {}
    for name, table in data.items():
        if not isinstance(table, dict):
            raise ValueError(f"{path}: {name!r} = {table!r} is not a phase table; write [{name}] followed by "
                             f"law = ... and the law's parameters")
        materials[name] = _law(path, name, table)
    physics = {name: law.physics for name, law in materials.items() if law is not None}
    if len(set(physics.values())) > 1:
        raise ValueError(f"{path} mixes elastic and conduction laws: {physics}; a cell has one physics")
    if phases is not None:
        phases = [str(p) for p in phases]
        missing = [p for p in phases if p not in materials]
        if missing:
            which = f"phase {missing[0]!r}" if len(missing) == 1 else f"phases {missing}"
            raise ValueError(f"{path} has no material for {which}; it defines {list(materials)}")
        extra = [p for p in materials if p not in phases]
        if extra:
            raise ValueError(f"{path} defines {'phase' if len(extra) == 1 else 'phases'} {extra} that the mesh does "
                             f"not have; the mesh's phases are {phases}")
    return materials


def load_lattice(path):
    """The lattice vectors (rows) of the ``[lattice]`` table of the TOML file ``path``, or None without one."""
    path = Path(path)
    try:
        table = tomllib.loads(path.read_text()).get(LATTICE)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None  # reported by load_materials
    if table is None:
        return None
    vectors = table.get("vectors") if isinstance(table, dict) else None
    if (not isinstance(table, dict) or set(table) != {"vectors"} or _check(vectors, "matrix")
            or len(vectors) not in (2, 3) or any(len(row) != len(vectors) for row in vectors)):
        raise ValueError(f"{path}: [{LATTICE}] takes one key, vectors = [[a1x, a1y], [a2x, a2y]] (2D) or three rows of "
                         f"three numbers (3D), one lattice vector per row; got {table!r}")
    return [[float(v) for v in row] for row in vectors]


def _law(path, phase, table):
    where = f"{path}: phase {phase!r}"
    if "law" not in table:
        raise ValueError(f"{where}: no 'law' given; use law = one of {sorted(LAWS) + [VOID]}")
    name = table["law"]
    if isinstance(name, str) and name.lower() == VOID:
        if set(table) != {"law"}:
            raise ValueError(f"{where}: a void takes no parameters, got {sorted(set(table) - {'law'})}")
        return None
    key = ALIASES.get(str(name).lower(), str(name).lower()) if isinstance(name, str) else None
    if key not in LAWS:
        raise ValueError(f"{where}: unknown law {name!r}; use one of {sorted(LAWS) + [VOID]}")
    cls, required, optional = LAWS[key]
    given = {k: v for k, v in table.items() if k != "law"}
    missing = [k for k in required if k not in given]
    if missing:
        raise ValueError(f"{where}: law {key!r} needs {_names(missing)}; it takes {_names(list(required))}"
                         + (f" and optionally {_names(list(optional))}" if optional else ""))
    extra = [k for k in given if k not in required and k not in optional]
    if extra:
        raise ValueError(f"{where}: law {key!r} takes no {_names(extra)}; its parameters are "
                         f"{_names(list(required) + list(optional))}")
    kinds = {**required, **optional}
    for k, v in given.items():
        problem = _check(v, kinds[k])
        if problem:
            raise ValueError(f"{where}: {k} must be {problem}, got {v!r}")
    try:
        return cls(**{ARGUMENTS.get(k, k): v for k, v in given.items()})
    except (ValueError, TypeError) as error:
        raise ValueError(f"{where}: {error}") from None


def _check(value, kind):
    """None if value is of the kind, else what it should be."""
    number = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)  # noqa: E731
    matrix = (isinstance(value, list) and value and all(isinstance(r, list) and r and all(map(number, r)) for r in value)
              and len({len(r) for r in value}) == 1)
    if kind == "number":
        return None if number(value) else "a number"
    if kind == "matrix":
        return None if matrix else "a matrix (a list of rows of numbers)"
    if kind == "number or matrix":
        return None if number(value) or matrix else "a number or a matrix (a list of rows of numbers)"
    if kind == "pair":
        return None if isinstance(value, list) and len(value) == 2 and all(map(number, value)) else "a pair [a, b] of numbers"
    if kind == "text":
        return None if isinstance(value, str) else "a string"
    raise AssertionError(kind)


def _names(keys):
    return ", ".join(repr(k) for k in keys)
