"""Bad input raises a clear error before any work is done, naming what is wrong and where."""

import re
import shlex
import warnings
from pathlib import Path

import meshio
import numpy as np
import pytest
import skfem

import fe2
from fe2.cli import main

from conftest import materials, structured


def test_periodic_on_a_non_periodic_mesh_names_the_worst_node():
    mesh = structured(2, 6, matrix=lambda x: x[0] < 0.5, inclusion=lambda x: x[0] >= 0.5)
    p = mesh.p.copy()
    right_middle = np.flatnonzero((np.abs(p[0] - 1) < 1e-12) & (np.abs(p[1] - 0.5) < 1e-12))[0]
    p[1, right_middle] += 0.02  # move one node on the right edge along the edge
    cell = fe2.Cell(skfem.MeshTri(p, mesh.t, _subdomains=mesh.subdomains), materials("elasticity"))
    with pytest.raises(fe2.PeriodicityError) as error:
        fe2.homogenize(cell, "periodic")
    message = str(error.value)
    assert f"node {right_middle} at" in message
    assert "2.000e-02" in message  # the distance to the nearest candidate partner
    assert "[1.0, 0.52]" in message  # where the offending node is
    # the same mesh is fine for KUBC and SUBC
    assert fe2.homogenize(cell, "kubc").positive_definite


def test_periodic_with_wrong_lattice_vectors():
    mesh = structured(2, 4, matrix=lambda x: x[0] < 0.5, inclusion=lambda x: x[0] >= 0.5)
    with pytest.raises(ValueError, match=r"does not fill its lattice cell: along lattice vector 1 \[0.0, 2.0\] it spans fractional coordinates \[0, 0.5\]"):
        fe2.Cell(mesh, materials("conduction"), lattice=[[1.0, 0.0], [0.0, 2.0]])


@pytest.mark.parametrize("kwargs,match", [
    (dict(E=1.0, nu=0.5), "nu=0.5"),
    (dict(E=1.0, nu=0.7), "nu=0.7"),
    (dict(E=1.0, nu=-1.0), "nu=-1.0"),
    (dict(E=0.0, nu=0.3), "E=0.0"),
    (dict(E=-2.0, nu=0.3), "E=-2.0"),
    (dict(E=float("nan"), nu=0.3), "finite"),
])
def test_non_physical_isotropic_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fe2.Isotropic(**kwargs)


def test_non_physical_lame_anisotropic_and_conductivity():
    with pytest.raises(ValueError, match="mu=-1"):
        fe2.Isotropic.from_lame(1.0, -1.0)
    with pytest.raises(ValueError, match="bulk"):
        fe2.Isotropic.from_lame(-2.0, 1.0)
    with pytest.raises(ValueError, match="positive definite"):
        fe2.Anisotropic(np.diag([1.0, 1.0, -1.0]))
    with pytest.raises(ValueError, match="symmetric"):
        fe2.Anisotropic(np.array([[1.0, 0.5, 0], [0, 1.0, 0], [0, 0, 1.0]]))
    with pytest.raises(ValueError, match="3x3.*6x6"):
        fe2.Anisotropic(np.eye(4))
    with pytest.raises(ValueError, match="k=0.0"):
        fe2.Conductor(0.0)
    with pytest.raises(ValueError, match="positive definite"):
        fe2.Conductor(np.array([[1.0, 2.0], [2.0, 1.0]]))


def test_unknown_phase_name(inclusion_mesh):
    with pytest.raises(ValueError, match=r"unknown phase name\(s\) \['fibre'\].*\['inclusion', 'matrix'\]"):
        fe2.Cell(inclusion_mesh, {"matrix": fe2.Conductor(1.0), "fibre": fe2.Conductor(2.0)})


def test_missing_material_for_a_phase(inclusion_mesh):
    with pytest.raises(ValueError, match=r"phase\(s\) \['inclusion'\] of the mesh have no material"):
        fe2.Cell(inclusion_mesh, {"matrix": fe2.Conductor(1.0)})


def test_empty_phase():
    mesh = structured(2, 4, matrix=lambda x: x[0] < 2.0, inclusion=lambda x: x[0] > 2.0)
    with pytest.raises(ValueError, match="phase 'inclusion' is empty"):
        fe2.Cell(mesh, materials("conduction"))


def test_elements_without_phase_and_mesh_without_phases():
    mesh = structured(2, 4, matrix=lambda x: x[0] < 0.5, inclusion=lambda x: (x[0] > 0.5) & (x[1] < 0.5))
    with pytest.raises(ValueError, match="8 elements belong to no phase"):
        fe2.Cell(mesh, materials("conduction"))
    with pytest.raises(ValueError, match="no named subdomains"):
        fe2.Cell(structured(2, 2), materials("conduction"))


def test_mixed_physics():
    mesh = structured(2, 4, matrix=lambda x: x[0] < 0.5, inclusion=lambda x: x[0] >= 0.5)
    with pytest.raises(ValueError, match="must all be of one physics .* conduction: .* elasticity: "):
        fe2.Cell(mesh, {"matrix": fe2.Conductor(1.0), "inclusion": fe2.Isotropic(1.0, 0.3)})


@pytest.mark.parametrize("strain,match", [
    ([0.01, 0.0], r"shape \(3,\) for 2D elasticity, got shape \(2,\)"),
    ([[0.01, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]], r"got shape \(3, 3\)"),
    ([[0.01, 0.02], [0.0, 0.0]], "symmetric"),
    ([0.01, np.nan, 0.0], "not finite"),
])
def test_strain_of_the_wrong_shape(inclusion_mesh, strain, match):
    cell = fe2.Cell(inclusion_mesh, materials("elasticity"))
    with pytest.raises(ValueError, match=match):
        fe2.response(cell, strain, "periodic")


def test_gradient_of_the_wrong_shape(inclusion_mesh):
    cell = fe2.Cell(inclusion_mesh, materials("conduction"))
    with pytest.raises(ValueError, match=r"gradient must be a vector \(x, y\) of shape \(2,\)"):
        fe2.response(cell, [1.0, 0.0, 0.0], "kubc")


def test_unknown_boundary_condition(inclusion_mesh):
    cell = fe2.Cell(inclusion_mesh, materials("conduction"))
    with pytest.raises(ValueError, match="unknown boundary condition 'dirichlet'"):
        fe2.homogenize(cell, "dirichlet")


def test_bad_element_order(inclusion_mesh):
    with pytest.raises(ValueError, match="order must be 1 or 2, got 3"):
        fe2.Cell(inclusion_mesh, materials("conduction"), order=3)


def test_lattice_origin_that_misses_the_mesh():
    mesh = structured(2, 4, matrix=lambda x: x[0] < 0.5, inclusion=lambda x: x[0] >= 0.5)
    with pytest.raises(ValueError, match=r"does not fill its lattice cell: along lattice vector 0 .* \[-0.5, 0.5\]"):
        fe2.Cell(mesh, materials("conduction"), lattice=fe2.Lattice(np.eye(2), origin=[0.5, 0.0]))
    with pytest.raises(ValueError, match="2D cell needs 2 lattice vectors of length 2"):
        fe2.Cell(mesh, materials("conduction"), lattice=np.eye(3))


def test_strain_shape_is_checked_before_any_factorization(inclusion_mesh):
    cell = fe2.Cell(inclusion_mesh, materials("elasticity"))
    with pytest.raises(ValueError, match="shape"):
        fe2.response(cell, [1.0, 0.0], "periodic")
    assert "virgin" not in vars(cell) and not cell._maps   # nothing was linearized, constrained or factorized


def test_boundary_condition_forms_and_tolerance():
    mesh = structured(2, 4, matrix=lambda x: x[0] < 0.5, inclusion=lambda x: x[0] >= 0.5)
    cell = fe2.Cell(mesh, materials("conduction"))
    np.testing.assert_allclose(fe2.homogenize(cell, fe2.Kubc).tensor, fe2.homogenize(cell, "KUBC").tensor)
    with pytest.raises(ValueError, match="unknown boundary condition None"):
        fe2.homogenize(cell, None)
    for tol in (-1, 0.3):
        with pytest.raises(ValueError, match=f"0 < tol < 1e-3; got {tol}"):
            fe2.Periodic(tol=tol)
    with pytest.raises(ValueError, match="order must be 1 or 2, got '2'"):
        fe2.Cell(mesh, materials("conduction"), order="2")


def test_hill_mandel_of_a_field_without_energy_is_zero(inclusion_mesh):
    cell = fe2.Cell(inclusion_mesh, materials("conduction"))
    assert fe2.hill_mandel(cell, np.zeros(cell.ndofs)) == 0.0


# --- the bad-input tables of docs/errors.md, run as written ------------------------------------------
ERRORS_DOC = Path(__file__).resolve().parents[1] / "docs" / "errors.md"
README_MATERIALS = '[matrix]\nlaw = "isotropic"\nE = 3.5\nnu = 0.35\n\n[fiber]\nlaw = "isotropic"\nE = 72.0\nnu = 0.22\n'


def doc_table(section):
    """The rows (lists of cells, code spans unquoted) of the table under the heading ``section``."""
    text = ERRORS_DOC.read_text().split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in text.splitlines() if line.startswith("|")][2:]   # past the header and the rule
    split = [[cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows]
    return [[cell[1:-1] if cell.startswith("`") and cell.endswith("`") else cell for cell in row] for row in split]


def message_pattern(message):
    """The table's message as a pattern of the whole line, "…" standing for any text."""
    return re.compile(".*".join(re.escape(part) for part in message.split("…")))


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """The folder the command-line table runs in, with the files docs/errors.md describes."""
    root = Path(__file__).resolve().parents[1]
    folder = tmp_path_factory.mktemp("errors")
    for name in ("cases", "meshes", "postprocess"):
        (folder / name).symlink_to(root / name)
    files = {
        "materials.toml": README_MATERIALS,
        "matrix_only.toml": README_MATERIALS.split("\n\n")[0] + "\n",
        "broken.toml": README_MATERIALS.replace("[fiber]", "[fiber"),
        "incompressible.toml": README_MATERIALS.replace("nu = 0.22", "nu = 0.5"),
        "notes.msh": "these are not the nodes you are looking for\n",
        "nomain.py": "print('no main here')\n",
        "earlier/run.json": '{"inputs": {}, "steps": []}',
        "garbage/run.json": "{oops",
    }
    for name, text in files.items():
        (folder / name).parent.mkdir(exist_ok=True)
        (folder / name).write_text(text)
    (folder / "empty").mkdir()
    mesh = meshio.read(root / "meshes" / "fiber.msh")       # one node of the right edge moved along it
    p = mesh.points
    right = np.flatnonzero(np.isclose(p[:, 0], p[:, 0].max()) & (p[:, 1] > p[:, 1].min() + 1e-9)
                           & (p[:, 1] < p[:, 1].max() - 1e-9))
    p[right[np.argmin(np.abs(p[right, 1] - 0.5))], 1] += 0.02
    meshio.write(folder / "skewed.msh", mesh, file_format="gmsh22", binary=False)
    return folder


def test_the_command_line_table_of_bad_input_is_what_fe2_does(scratch, monkeypatch, capsys):
    """Every row of docs/errors.md's command-line table, run through fe2's main in the scratch
    folder: its exit code, and its one line on stderr, are those of the table."""
    monkeypatch.chdir(scratch)
    rows = doc_table("On the command line")
    assert len(rows) >= 20
    wrong = []
    for what, command, code, message in rows:
        capsys.readouterr()
        got = main(shlex.split(command)[1:])
        err = capsys.readouterr().err.strip()
        if got != int(code) or "\n" in err or not message_pattern(message).fullmatch(err):
            wrong.append(f"{what}: {command} -> exit {got}, stderr {err!r}; the table says exit {code}, {message!r}")
    assert not wrong, "\n".join(wrong)


def test_the_library_table_of_bad_input_is_what_fe2_does():
    """Every row of docs/errors.md's library table: the call raises (or warns) what the table says,
    with the table's message."""
    mesh = skfem.MeshTri.init_tensor(np.linspace(0, 2, 3), np.linspace(0, 1, 2)).with_defaults()
    bar = fe2.macro.Problem(mesh.with_subdomains({"bar": lambda x: x[0] > -1}), {"bar": fe2.Isotropic(E=1.0, nu=0.3)},
                            dirichlet=[fe2.macro.Dirichlet("left", 0.0, components=(0,)),
                                       fe2.macro.Dirichlet("bottom", 0.0, components=(1,)),
                                       fe2.macro.Dirichlet("right", 0.6, components=(0,))])
    coarse = skfem.MeshTri.init_tensor(np.linspace(0, 1, 3), np.linspace(0, 1, 3)).with_defaults()
    rubber = fe2.Cell(coarse.with_subdomains({"rubber": lambda x: x[0] > -1}), {"rubber": fe2.NeoHookean(1.0, 0.45)})
    namespace = {"fe2": fe2, "bar": bar, "coarse": coarse, "fine": coarse.refined(2), "law": fe2.Conductor(1.0),
                 "rubber": rubber}
    kinds = {"ValueError": ValueError, "TypeError": TypeError, "StrainRangeWarning": fe2.materials.law.StrainRangeWarning,
             "DeformationError": fe2.materials.DeformationError}
    rows = doc_table("In the library")
    assert len(rows) >= 8
    for what, call, kind, message in rows:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if issubclass(kinds[kind], Warning):
                eval(call, namespace)
                assert [type(w.message) for w in caught] == [kinds[kind]], (what, caught)
                text = str(caught[0].message)
            else:
                with pytest.raises(kinds[kind]) as error:
                    eval(call, namespace)
                text = str(error.value)
        assert message_pattern(message).fullmatch(text), (what, call, text, message)


def test_every_class_of_bad_input_has_its_row():
    """The classes the tables must cover: those found by trying fe2 as a new user would."""
    commands = " ".join(row[1] for row in doc_table("On the command line"))
    calls = " ".join(row[1] for row in doc_table("In the library"))
    for needed in ("--steps 0", "--h -1", "--strain nan", "--executor", "--workers 0", "skewed.msh", "broken.toml",
                   "notes.msh", "fe2 report missing", "--restart", "--out earlier"):
        assert needed in commands, needed
    for needed in ('solve(float("nan"))', 'Dirichlet("right", float("nan"))', "Traction(", "workers=0",
                   'boundary="linear", oversampling=3.0', "bar.solve([0.1, 0.5, 1.0])",
                   '[[-1.0, 0.0], [0.0, 1.0]], "periodic"', "mixed.solve(", "cutoff=0.5", "NeoHookean(1.0, 0.3).response("):
        assert needed in calls, needed


def test_a_macro_strain_beyond_the_small_strain_range_given_to_a_cell_warns(inclusion_mesh):
    cell = fe2.Cell(inclusion_mesh, materials("elasticity"))
    with pytest.warns(fe2.materials.law.StrainRangeWarning,
                      match=r"the macro strain given to the cell is beyond the small-strain range: \|eps\| = 5 > 0.1 "
                            r"for \[5.0, 0.0, 0.0\]"):
        stress, _ = fe2.response(cell, [5.0, 0.0, 0.0], "periodic")
    assert np.all(np.isfinite(stress))   # a warning, not a refusal
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fe2.response(cell, [0.05, 0.0, 0.0], "periodic")
        fe2.response(fe2.Cell(inclusion_mesh, materials("conduction")), [5.0, 0.0], "periodic")   # gradients: no range


@pytest.mark.parametrize("workers", [0, -2, 1.5, True])
def test_executor_refuses_a_bad_worker_count(workers):
    with pytest.raises(ValueError,
                       match=f"workers must be a whole number >= 1 \\(or None: one per core\\), got workers={workers}"):
        fe2.parallel.executor("processes", workers=workers)


def test_msfem_refuses_oversampling_with_linear_boundaries():
    """An oversampling factor given with a boundary that ignores it is refused; the default patch of
    boundary="oversampling" is still 2H."""
    coarse = skfem.MeshTri.init_tensor(np.linspace(0, 1, 3), np.linspace(0, 1, 3)).with_defaults()
    for boundary in ("linear", "oscillatory"):
        with pytest.raises(ValueError,
                           match=f"oversampling=2.0 is only used with boundary='oversampling'; boundary='{boundary}'"):
            fe2.msfem.MsFEM(coarse, coarse.refined(2), fe2.Conductor(1.0), boundary=boundary, oversampling=2.0)
    assert fe2.msfem.MsFEM(coarse, coarse.refined(2), fe2.Conductor(1.0), boundary="oversampling").factor == 2.0
