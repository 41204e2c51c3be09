"""Porous cells (voids): closed forms, limits and identities (docs/porous.md).

* a porous laminate: zero across the layers, f_s times the free-surface stiffness along them (exact);
* a solid phase of vanishing stiffness converges to the void, linearly in the stiffness (conduction and
  elasticity, on a voxel image whose pores cut the cell boundary);
* Keller's reciprocity K(0) R K(inf) R^T = I between holes and perfect conductors (square array of discs);
* the dilute circular hole: the exact first-order formulas, the error of second order in the porosity;
* bounds, Huet's ordering and Hill-Mandel on porous cells in 2D and 3D; the average-strain theorem;
* bad input: an all-void cell, voids cutting the boundary under KUBC and SUBC, a mesh that is not porous
  but given the wrong lattice;
* `fe2 homogenize meshes/hexagonal.msh --lattice ...` (and a [lattice] table) equals the library call.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import skfem

import fe2
from fe2 import voxel
from fe2.cell import bounds
from fe2.cell.voids import outer_boundary
from fe2.cli import main

ROOT = Path(__file__).resolve().parent.parent
S3 = repr(float(np.sqrt(3) / 2))   # the second lattice vector's y of the hexagonal cell, as typed


def layered(n, void):
    """A unit square of n x n quads with the phases "solid" and "pore" (pore where void(x, y))."""
    x = np.linspace(0, 1, n + 1)
    mesh = skfem.MeshQuad.init_tensor(x, x)
    mid = mesh.p[:, mesh.t].mean(axis=1)
    pore = void(*mid)
    return mesh.with_subdomains({"solid": np.flatnonzero(~pore), "pore": np.flatnonzero(pore)})


def pore_image(n, dim=2, shift=0.0):
    """A periodic label image (1 solid, 0 pore): a disc (ball) of pores at the corners and a smaller one
    at the centre, so pores cut every face of the cell. With ``shift`` the pattern moves by that
    fraction of the cell along every axis: the pores on the first and last layers then differ."""
    x = (np.arange(n) + 0.5) / n - shift
    grids = np.meshgrid(*[x] * dim, indexing="ij")
    corner = np.sqrt(sum(np.minimum(g % 1, 1 - g % 1) ** 2 for g in grids))
    centre = np.sqrt(sum(np.minimum((g - 0.5) % 1, 1 - (g - 0.5) % 1) ** 2 for g in grids))
    return ((corner > 0.3) & (centre > 0.2)).astype(int)


# --- closed forms ----------------------------------------------------------------------------------
def test_porous_laminate_matches_its_closed_form():
    """Void layers 0.25 < x < 0.5 (solid fraction 0.75, connected through the periodic wrap): across the
    layers nothing carries load, along them the solid layer with free faces: K = diag(0, f k),
    C* = diag(0, f E/(1 - nu^2), 0) (plane strain, Mandel xx, yy, xy), exactly on any mesh."""
    mesh = layered(8, lambda x, y: (x > 0.25) & (x < 0.5))
    k, E, nu = 2.0, 1.0, 0.3
    conduction = fe2.Cell(mesh, {"solid": fe2.Conductor(k), "pore": None})
    assert conduction.voids == ("pore",) and conduction.porosity == pytest.approx(0.25, abs=1e-14)
    assert conduction.outer_boundary.cut       # the void layer cuts the faces y = 0 and 1
    result = fe2.homogenize(conduction, "periodic")
    assert np.allclose(result.tensor, np.diag([0.0, 0.75 * k]), atol=1e-12)
    np.testing.assert_allclose([case.strain for case in result.cases], np.eye(2), atol=1e-13)  # <eps> = E
    assert result.cases[1].hill_mandel < 1e-12   # (across the layers: no energy, a ratio of round-offs)

    elastic = fe2.Cell(mesh, {"solid": fe2.Isotropic(E=E, nu=nu), "pore": None})
    result = fe2.homogenize(elastic, "periodic")
    assert np.allclose(result.tensor, np.diag([0.0, 0.75 * E / (1 - nu**2), 0.0]), atol=1e-12)
    np.testing.assert_allclose([case.strain for case in result.cases], np.eye(3), atol=1e-13)
    np.testing.assert_allclose([case.stress for case in result.cases], result.tensor, atol=1e-12)  # <sigma> = C <eps>


@pytest.mark.parametrize("physics, shift", [("conduction", 0.0), ("elasticity", 0.0), ("conduction", 0.13),
                                            ("elasticity", 0.13)])
def test_vanishing_stiffness_converges_to_the_void(physics, shift):
    """A voxel image whose pores cut every face: the pores as a phase of stiffness delta * (solid's) give
    a tensor that converges to the void cell's as delta -> 0, the error linear in delta (fitted order 1).
    Shifted, the pores differ on opposite faces: face nodes facing a pore across the wrap stay unpaired,
    and the strain average uses the matched facets; the limit checks both."""
    labels = pore_image(16, shift=shift)
    names = {0: "pore", 1: "solid"}
    law = (lambda s: fe2.Conductor(s)) if physics == "conduction" else (lambda s: fe2.Isotropic(E=s, nu=0.3))
    void = voxel.voxel_cell(labels, {"solid": law(1.0), "pore": None}, names=names)
    assert void.outer_boundary.cut and 0.3 < void.porosity < 0.5
    assert void.outer_boundary.matched.all() == (shift == 0)
    result = fe2.homogenize(void)
    np.testing.assert_allclose([case.strain for case in result.cases], np.eye(void.physics.size), atol=1e-12)
    assert result.hill_mandel < 1e-10
    C0 = result.tensor
    deltas = np.array([1e-2, 1e-3, 1e-4])
    errors = [np.linalg.norm(fe2.homogenize(voxel.voxel_cell(labels, {"solid": law(1.0), "pore": law(d)},
                                                              names=names)).tensor - C0) / np.linalg.norm(C0)
              for d in deltas]
    order = np.polyfit(np.log(deltas), np.log(errors), 1)[0]
    assert abs(order - 1) < 0.05, (errors, order)
    assert errors[-1] < 1e-3


def rotation():
    return np.array([[0.0, -1.0], [1.0, 0.0]])


def test_keller_reciprocity_holes_and_perfect_conductors():
    """Keller (1964): in 2D, K(k1, k2) R K(k2, k1) R^T = k1 k2 I. With the matrix k = 1 and discs of
    k = 0 (holes) or infinity (perfect conductors; here 1e7): K(0) R K(inf) R^T = I. The FE error of
    the product falls with h (P2)."""
    errors = []
    for h in (0.1, 0.05):
        mesh = fe2.geometry.inclusion(0.3, h=h, phases=("matrix", "disc"))
        holes = fe2.homogenize(fe2.Cell(mesh, {"matrix": fe2.Conductor(1.0), "disc": None}, order=2)).tensor
        perfect = fe2.homogenize(fe2.Cell(mesh, {"matrix": fe2.Conductor(1.0), "disc": fe2.Conductor(1e7)}, order=2)).tensor
        errors.append(np.abs(holes @ rotation() @ perfect @ rotation().T - np.eye(2)).max())
        assert holes[0, 0] * perfect[1, 1] == pytest.approx(1.0, abs=2e-3)
    assert errors[1] < 2e-4 and errors[1] < errors[0] / 4, errors   # measured 9.6e-4 -> 1.3e-4


def dilute(km, mu, f):
    """The exact dilute (first-order) 2D plane-strain moduli of circular holes at porosity f: bulk
    k (1 - f (1 + k/mu)), shear mu (1 - 2 f (k + mu)/k) (k = lambda + mu); conductivity 1 - 2 f."""
    return km * (1 - f * (1 + km / mu)), mu * (1 - 2 * f * (km + mu) / km)


def test_dilute_circular_hole():
    """A small circular hole (porosity 1 %, 3 %): the cell's tensor minus the exact first-order one is
    of second order in the porosity: (k - (1 - 2f))/f^2 is Rayleigh's 2 - 2f, and for the stiffness
    |C - C_dilute| / (f |C_m - C_dilute|) keeps one value (measured 2.43 and 2.30) as f triples."""
    E, nu = 1.0, 0.3
    law = fe2.Isotropic(E=E, nu=nu)
    km, mu = law.lam + law.mu, law.mu
    ratios = []
    for f, h in ((0.01, 0.012), (0.03, 0.02)):
        mesh = fe2.geometry.inclusion(f, h=h, phases=("matrix", "hole"))
        k = fe2.homogenize(fe2.Cell(mesh, {"matrix": fe2.Conductor(1.0), "hole": None}, order=2)).tensor
        cell = fe2.Cell(mesh, {"matrix": law, "hole": None}, order=2)
        phi = cell.porosity   # the meshed (polygonal) hole
        C = fe2.homogenize(cell).tensor
        C_dilute = bounds.isotropic_tensor(2, *dilute(km, mu, phi))
        first_order = np.linalg.norm(bounds.isotropic_tensor(2, km, mu) - C_dilute)
        ratios.append(((k[0, 0] - (1 - 2 * phi)) / phi**2, np.linalg.norm(C - C_dilute) / first_order / phi))
        np.testing.assert_allclose(k, k[0, 0] * np.eye(2), atol=1e-6)
    for (conduction, elasticity), f in zip(ratios, (0.01, 0.03)):
        assert abs(conduction - (2 - 2 * f)) < 0.02, ratios   # Rayleigh: k = 1 - 2f + 2f^2 - 2f^3 + O(f^4)
        assert 2.0 < elasticity < 2.8, ratios                 # the next order: |C - C_dilute| ~ 2.4 f |C_m - C_dilute|
    # of second order: the ratio holds its value from f = 1 % to 3 % (a wrong first order would triple it)
    assert abs(ratios[0][1] / ratios[1][1] - 1) < 0.1, ratios


# --- bounds, ordering, Hill-Mandel -----------------------------------------------------------------
@pytest.mark.parametrize("physics", ["conduction", "elasticity"])
def test_porous_cell_bounds_ordering_and_hill_mandel(physics):
    """A hole inside the cell: Reuss = HS lower = 0 <= SUBC <= periodic <= KUBC <= Voigt = (1 - f) C;
    the HS upper bound is Maxwell's (1 - f)/(1 + f) for conduction; Hill-Mandel to round-off under all three;
    SUBC's <eps> of the unit fields is the inverse of its tangent's columns; KUBC leaves the hole free."""
    law = fe2.Conductor(1.0) if physics == "conduction" else fe2.Isotropic(E=1.0, nu=0.3)
    cell = fe2.Cell(fe2.geometry.inclusion(0.2, h=0.08, phases=("matrix", "hole")), {"matrix": law, "hole": None})
    f = cell.porosity
    assert 0.18 < f < 0.2 and not cell.outer_boundary.cut
    assert cell.fractions["matrix"] == pytest.approx(1 - f, abs=1e-14)
    comparison = fe2.compare(cell)
    assert comparison.ordered
    assert not comparison.bounds["reuss"].any() and not comparison.bounds["hs_lower"].any()
    np.testing.assert_allclose(comparison.bounds["voigt"], (1 - f) * law.tensor(2), rtol=1e-12)
    if physics == "conduction":   # Maxwell's formula, the upper bound for voids
        np.testing.assert_allclose(comparison.bounds["hs_upper"], (1 - f) / (1 + f) * np.eye(2), rtol=1e-12)
    for result in comparison.results.values():
        assert result.hill_mandel < 1e-10, (result.bc, result.hill_mandel)
        stress = np.array([case.stress for case in result.cases])
        strain = np.array([case.strain for case in result.cases])
        np.testing.assert_allclose(stress, strain @ result.tensor.T, atol=1e-10 * np.abs(result.tensor).max())
    # KUBC fixes only the outer faces: the nodes on the hole stay free
    index, _ = cell.constraint("kubc")
    hole = np.setdiff1d(cell.mesh.boundary_nodes(), cell.basis.get_dofs(cell.outer_boundary.facets).all())
    assert hole.size > 10 and np.all(index[hole * cell.physics.ncomp] >= 0)


def test_outer_boundary_of_a_solid_cell_is_the_volume_form():
    """Without voids, int_dY N (S n) ds = int_Y B^T S dx (divergence theorem) to round-off."""
    cell = fe2.Cell(fe2.geometry.inclusion(0.3, h=0.1), {"matrix": fe2.Isotropic(E=1.0, nu=0.3),
                                                          "inclusion": fe2.Isotropic(E=5.0, nu=0.2)}, order=2)
    assert cell.outer_boundary is None and cell.porosity == 0.0
    boundary = outer_boundary(cell)
    volume_form = cell.traction_load(np.arange(cell.ndofs), cell.ndofs)
    np.testing.assert_allclose(boundary.load, volume_form, atol=1e-14)
    np.testing.assert_allclose(boundary.operator, volume_form, atol=1e-14)


def test_porous_3d_cells():
    """3D: a spherical pore inside the cube (Huet's ordering, Hill-Mandel, the HS upper bound
    k (1 - f) / (1 + f/2)) and a voxel image whose pores cut the faces (<eps> = E by the theorem,
    Hill-Mandel, <sigma> = C E)."""
    cell = fe2.Cell(fe2.geometry.sphere(0.15, h=0.2, phases=("matrix", "pore")), {"matrix": fe2.Conductor(1.0), "pore": None})
    f = cell.porosity
    comparison = fe2.compare(cell)
    assert comparison.ordered and max(r.hill_mandel for r in comparison.results.values()) < 1e-10
    np.testing.assert_allclose(comparison.bounds["hs_upper"], (1 - f) / (1 + f / 2) * np.eye(3), rtol=1e-12)

    image = voxel.voxel_cell(pore_image(6, dim=3), {"solid": fe2.Isotropic(E=1.0, nu=0.3), "pore": None},
                             names={0: "pore", 1: "solid"})
    assert image.outer_boundary.cut
    result = fe2.homogenize(image)
    np.testing.assert_allclose([case.strain for case in result.cases], np.eye(6), atol=1e-12)
    np.testing.assert_allclose([case.stress for case in result.cases], result.tensor, atol=1e-12)
    assert result.hill_mandel < 1e-10 and result.positive_definite


def test_nonlinear_porous_cell():
    """J2 matrix around a hole: in the elastic range the micro Newton gives the linear cell's stress; past
    yield, Hill-Mandel holds and the consistent tangent matches central differences of <sigma> (under
    periodic, with pores cutting the faces, and SUBC on a hole inside)."""
    j2 = fe2.J2Plasticity(E=1.0, nu=0.3, yield_stress=2e-3, hardening=0.1)
    cells = {"periodic": voxel.voxel_cell(pore_image(8), {"solid": j2, "pore": None}, names={0: "pore", 1: "solid"}),
             "subc": fe2.Cell(fe2.geometry.inclusion(0.2, h=0.15, phases=("matrix", "hole")), {"matrix": j2, "hole": None})}
    for bc, cell in cells.items():
        small = np.array([1e-4, -2e-5, 3e-5])
        linear = fe2.homogenize(cell, bc).tensor
        np.testing.assert_allclose(fe2.nonlinear.solve(cell, small, bc).stress, linear @ small, rtol=1e-8)
        E = np.array([6e-3, -1e-3, 2e-3])
        solution = fe2.nonlinear.solve(cell, E, bc)
        assert solution.hill_mandel < 1e-8 and solution.iterations > 1
        step = 1e-7
        fd = np.stack([(fe2.nonlinear.solve(cell, E + step * e, bc).stress - fe2.nonlinear.solve(cell, E - step * e, bc).stress)
                       / (2 * step) for e in np.eye(3)], axis=1)
        np.testing.assert_allclose(solution.tangent, fd, atol=1e-5 * np.abs(linear).max())


# --- bad input -------------------------------------------------------------------------------------
def test_bad_input():
    mesh = layered(4, lambda x, y: x > 2)   # "pore" empty: every element solid
    with pytest.raises(ValueError, match="every phase of the cell is void"):
        fe2.Cell(mesh, {"solid": None, "pore": None})
    with pytest.raises(ValueError, match=r"unknown phase name\(s\) \['hole'\] given as voids"):
        fe2.Cell(mesh, {"solid": fe2.Conductor(1.0), "hole": None})
    all_pore = np.zeros((4, 4), dtype=int)
    with pytest.raises(ValueError, match="every phase of the cell is void"):
        voxel.voxel_cell(all_pore, {"pore": None}, names={0: "pore"})

    island = np.ones((8, 8), dtype=int)
    island[2:7, 2:7], island[4, 4] = 0, 1   # a solid pixel inside a square pore
    for law in (fe2.Conductor(1.0), fe2.Isotropic(E=1.0, nu=0.3)):
        with pytest.raises(ValueError, match=r"1 piece\(s\) of solid float inside the voids.* 1 element around \[4.5, 4.5\]"):
            voxel.voxel_cell(island, {"solid": law, "pore": None}, names={0: "pore", 1: "solid"})
    cut = voxel.voxel_cell(pore_image(8), {"solid": fe2.Conductor(1.0), "pore": None}, names={0: "pore", 1: "solid"})
    for bc, what in (("kubc", "KUBC prescribes u = E x"), ("subc", "SUBC prescribes the traction")):
        with pytest.raises(ValueError, match=f"voids cut the outer boundary of the cell .*{what}"):
            fe2.homogenize(cut, bc)
    # a mesh without voids on the wrong lattice (the hexagonal rhombus in its bounding box) is named
    hexagonal = fe2.geometry.load_mesh(ROOT / "meshes" / "hexagonal.msh")
    with pytest.raises(ValueError, match="the solid does not reach the faces s_0 = 0 and 1 .* give the lattice vectors"):
        fe2.Cell(hexagonal, {"matrix": fe2.Conductor(1.0), "fiber": fe2.Conductor(2.0)})
    with pytest.raises(ValueError, match="phases must be two distinct"):
        fe2.geometry.inclusion(0.2, phases=(None, "pore"))


# --- the command line ------------------------------------------------------------------------------
def test_cli_lattice_equals_the_library(tmp_path, capsys):
    """`fe2 homogenize meshes/hexagonal.msh --lattice 1,0,0.5,sqrt(3)/2` and the same lattice as a [lattice]
    table give the tensor of fe2.Cell(mesh, materials, lattice=hexagonal_lattice()); with a void phase too."""
    toml = '[matrix]\nlaw = "conductor"\nk = 1.0\n\n[fiber]\nlaw = "conductor"\nk = 10.0\n'
    (tmp_path / "m.toml").write_text(toml)
    (tmp_path / "lattice.toml").write_text(toml + f"\n[lattice]\nvectors = [[1.0, 0.0], [0.5, {S3}]]\n")
    (tmp_path / "void.toml").write_text(toml.replace('law = "conductor"\nk = 10.0', 'law = "void"'))
    mesh_path = ROOT / "meshes" / "hexagonal.msh"
    mesh = fe2.geometry.load_mesh(mesh_path)
    lattice = fe2.geometry.hexagonal_lattice()
    runs = {"option": (["--materials", str(tmp_path / "m.toml"), "--lattice", f"1,0,0.5,{S3}"],
                       {"matrix": fe2.Conductor(1.0), "fiber": fe2.Conductor(10.0)}),
            "table": (["--materials", str(tmp_path / "lattice.toml")], {"matrix": fe2.Conductor(1.0), "fiber": fe2.Conductor(10.0)}),
            "void": (["--materials", str(tmp_path / "void.toml"), "--lattice", f"1,0,0.5,{S3}"],
                     {"matrix": fe2.Conductor(1.0), "fiber": None})}
    for name, (args, materials) in runs.items():
        out = tmp_path / name
        assert main(["homogenize", str(mesh_path), *args, "--out", str(out), "-q"]) == 0, capsys.readouterr().err
        summary = json.loads((out / "summary.json").read_text())
        expected = fe2.homogenize(fe2.Cell(mesh, materials, lattice=lattice)).tensor
        np.testing.assert_array_equal(summary["tensors"]["periodic"], expected)
        np.testing.assert_allclose(summary["lattice"], lattice.vectors)
    # the hexagonal cell is isotropic in the plane: K = k I
    assert np.ptp(np.diag(expected)) < 1e-3 * expected[0, 0]
    # without a lattice, a one-line error naming the remedy; bad --lattice values and two lattices refused
    assert main(["homogenize", str(mesh_path), "--materials", str(tmp_path / "m.toml"), "--out", str(tmp_path / "x")]) == 2
    assert "give the lattice vectors" in capsys.readouterr().err
    assert main(["homogenize", str(mesh_path), "--materials", str(tmp_path / "m.toml"), "--lattice", "1,0,0.5"]) == 2
    assert "--lattice: must be 4 numbers" in capsys.readouterr().err
    assert main(["homogenize", str(mesh_path), "--materials", str(tmp_path / "lattice.toml"), "--lattice", "1,0,0,1"]) == 2
    assert "two lattices" in capsys.readouterr().err


# --- the case --------------------------------------------------------------------------------------
def test_porous_cell_case(tmp_path):
    """cases/porous_cell.py at a reduced size: its checks hold (it raises otherwise), the FE² plate of
    porous J2 cells yields and keeps Hill-Mandel, and its figure is a picture."""
    from test_cases import assert_picture, run_case
    out = run_case("porous_cell.py", "--out", str(tmp_path), "--h", "0.1", "--h3d", "0.3", "--coarsen", "3",
                   "--macro-h", "0.5", "--steps", "2", "--strain", "0.01")
    problem, steps, hill_mandel = out["fe2"]
    assert len(steps) == 2 and hill_mandel.max() < 1e-8
    assert out["hole"].ordered and out["sphere"].ordered
    assert_picture(tmp_path / "porous_cell.png")
