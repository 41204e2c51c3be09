"""Homogenization against theory: laminates, identical phases, Hill-Mandel, Huet's ordering, bounds,
finite-difference tangents."""

import numpy as np
import pytest

import fe2
from fe2.cell.analytic import laminate_conductivity, laminate_stiffness

from conftest import SOFT, STIFF, materials, structured

BCS = [fe2.Periodic(), fe2.Kubc(), fe2.Subc()]


# --- laminates: the periodic solution is exact for P1 -------------------------------------------
@pytest.mark.parametrize("normal", [0, 1])
def test_laminate_conductivity_2d(normal):
    mesh = fe2.geometry.laminate(0.3, h=0.1, normal=normal)
    cell = fe2.Cell(mesh, {"a": fe2.Conductor(1.0), "b": fe2.Conductor(10.0)})
    K = fe2.homogenize(cell, "periodic").tensor
    harmonic = 1 / (0.3 / 1.0 + 0.7 / 10.0)
    arithmetic = 0.3 * 1.0 + 0.7 * 10.0
    along = 1 - normal
    assert K[normal, normal] == pytest.approx(harmonic, rel=1e-10)
    assert K[along, along] == pytest.approx(arithmetic, rel=1e-10)
    assert abs(K[0, 1]) < 1e-10


def test_laminate_conductivity_3d_anisotropic_phases():
    mesh = structured(3, 4, a=lambda x: x[2] < 0.5, b=lambda x: x[2] >= 0.5)
    Ka = np.array([[2.0, 0.5, 0.1], [0.5, 1.0, 0.2], [0.1, 0.2, 3.0]])
    Kb = np.diag([10.0, 20.0, 5.0])
    cell = fe2.Cell(mesh, {"a": fe2.Conductor(Ka), "b": fe2.Conductor(Kb)})
    K = fe2.homogenize(cell, fe2.Periodic()).tensor
    np.testing.assert_allclose(K, laminate_conductivity([Ka, Kb], [0.5, 0.5], normal=2), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("order", [1, 2])
def test_laminate_elasticity_2d(order):
    mesh = fe2.geometry.laminate(0.4, h=0.1, normal=1)
    cell = fe2.Cell(mesh, {"a": SOFT, "b": STIFF}, order=order)
    C = fe2.homogenize(cell, fe2.Periodic()).tensor
    exact = laminate_stiffness([SOFT.tensor(2), STIFF.tensor(2)], [0.4, 0.6], normal=1)
    np.testing.assert_allclose(C, exact, rtol=1e-10, atol=1e-10 * np.abs(exact).max())


def test_laminate_elasticity_3d_anisotropic():
    """Layers normal to y; one phase a general anisotropic (triclinic) stiffness."""
    rng = np.random.default_rng(0)
    A = rng.normal(size=(6, 6))
    Ca = A @ A.T + 6 * np.eye(6)
    mesh = fe2.geometry.laminate(0.5, dim=3, h=0.35, normal=1)
    cell = fe2.Cell(mesh, {"a": fe2.Anisotropic(Ca), "b": STIFF})
    C = fe2.homogenize(cell, fe2.Periodic()).tensor
    exact = laminate_stiffness([Ca, STIFF.tensor(3)], [0.5, 0.5], normal=1)
    np.testing.assert_allclose(C, exact, rtol=1e-9, atol=1e-9 * np.abs(exact).max())


def test_laminate_on_sheared_lattice():
    """A parallelogram cell: layers along the lattice vector (0.5, 1); periodicity through the lattice."""
    shear = 0.5
    mesh = structured(2, 8, a=lambda x: x[0] < 0.5, b=lambda x: x[0] >= 0.5)
    mesh = mesh.__class__(np.vstack([mesh.p[0] + shear * mesh.p[1], mesh.p[1]]), mesh.t, _subdomains=mesh.subdomains)
    lattice = fe2.Lattice([[1.0, 0.0], [shear, 1.0]])
    cell = fe2.Cell(mesh, {"a": fe2.Conductor(1.0), "b": fe2.Conductor(10.0)}, lattice=lattice)
    n = np.array([1.0, -shear]) / np.hypot(1.0, shear)  # layer normal
    exact = 1 / (0.5 / 1 + 0.5 / 10) * np.outer(n, n) + 5.5 * (np.eye(2) - np.outer(n, n))
    np.testing.assert_allclose(fe2.homogenize(cell, "periodic").tensor, exact, rtol=1e-10)


# --- identical phases -----------------------------------------------------------------------------
@pytest.mark.parametrize("bc", BCS, ids=lambda bc: bc.name)
@pytest.mark.parametrize("dim,physics", [(2, "elasticity"), (2, "conduction"), (3, "elasticity"), (3, "conduction")])
def test_identical_phases_give_that_material(bc, dim, physics):
    mesh = structured(dim, 4, a=lambda x: x[0] < 0.5, b=lambda x: x[0] >= 0.5)
    law = fe2.Isotropic(E=3.0, nu=0.25) if physics == "elasticity" else fe2.Conductor(np.diag([2.0, 3.0, 4.0][:dim]))
    cell = fe2.Cell(mesh, {"a": law, "b": law})
    np.testing.assert_allclose(fe2.homogenize(cell, bc).tensor, law.tensor(dim), rtol=1e-10, atol=1e-10)


# --- Hill-Mandel, symmetry, ordering --------------------------------------------------------------
def _cells(inclusion_mesh, sphere_mesh, sphere_tet_mesh):
    for physics in ("elasticity", "conduction"):
        yield fe2.Cell(inclusion_mesh, materials(physics))
        yield fe2.Cell(sphere_mesh, materials(physics))
        yield fe2.Cell(sphere_tet_mesh, materials(physics))
    yield fe2.Cell(inclusion_mesh, materials("elasticity"), order=2)


def test_hill_mandel_symmetry_and_ordering(inclusion_mesh, sphere_mesh, sphere_tet_mesh):
    for cell in _cells(inclusion_mesh, sphere_mesh, sphere_tet_mesh):
        comparison = fe2.compare(cell)
        for result in comparison.results.values():
            assert result.hill_mandel <= 1e-10, (cell, result.bc, result.hill_mandel)
            assert result.symmetry_error <= 1e-10, (cell, result.bc)
            assert result.positive_definite
            # averaged strain of each unit case is that unit strain, and <sigma> = C <eps>
            for k, case in enumerate(result.cases):
                np.testing.assert_allclose(case.strain, np.eye(len(result.cases))[k], atol=1e-10)
                np.testing.assert_allclose(case.stress, result.tensor[:, k], rtol=1e-10, atol=1e-10)
        gaps = comparison.gaps()
        assert comparison.ordered, (cell, {k: v.min() for k, v in gaps.items()})
        # the ordering is strict for a real inclusion: each gap has a clearly positive eigenvalue
        assert all(eig.max() > 1e-3 for eig in gaps.values())


def test_hill_mandel_detects_a_non_admissible_field(inclusion_mesh):
    """The residual is not trivially zero: a field not in equilibrium violates Hill-Mandel."""
    cell = fe2.Cell(inclusion_mesh, materials("elasticity"))
    u = cell.affine @ np.array([1.0, 0.0, 0.0])
    u = u + 0.05 * np.sin(2 * np.pi * cell.doflocs[1]) * (cell.components == 0)
    assert fe2.hill_mandel(cell, u) > 1e-3


def test_circular_inclusion_inside_hashin_shtrikman():
    """Square array of discs: the transverse conductivity (isotropic by symmetry) lies between the HS
    bounds, close to the lower one (HS lower is the coated-cylinder value for a stiff inclusion)."""
    mesh = fe2.geometry.inclusion(0.4, h=0.04)
    cell = fe2.Cell(mesh, materials("conduction"))
    K = fe2.homogenize(cell, "periodic").tensor
    lower, upper = fe2.bounds.hashin_shtrikman(cell)
    assert K[0, 0] == pytest.approx(K[1, 1], rel=1e-3)
    assert lower[0, 0] < K[0, 0] < upper[0, 0]
    assert (K[0, 0] - lower[0, 0]) < 0.1 * (upper[0, 0] - lower[0, 0])


def test_checkerboard_conductivity_is_geometric_mean():
    """Keller-Dykhne: a 2D checkerboard of k1, k2 has K* = sqrt(k1 k2) I (corner singularities make
    convergence slow, so the tolerance is a few percent)."""
    cell = fe2.Cell(fe2.geometry.checkerboard(2, h=0.02), {"a": fe2.Conductor(1.0), "b": fe2.Conductor(4.0)})
    K = fe2.homogenize(cell, "periodic").tensor
    np.testing.assert_allclose(K, 2.0 * np.eye(2), rtol=0.02, atol=1e-4)


def test_hashin_shtrikman_formulas_match_known_cases():
    """HS lower bound = coated-cylinder (2D) / coated-sphere (3D) closed forms for a two-phase mixture."""
    mesh = structured(2, 4, m=lambda x: x[0] < 0.75, i=lambda x: x[0] >= 0.75)
    cell = fe2.Cell(mesh, {"m": fe2.Conductor(1.0), "i": fe2.Conductor(10.0)})
    f = 0.25
    lower, upper = fe2.bounds.hashin_shtrikman(cell)
    assert lower[0, 0] == pytest.approx(1 + f / (1 / 9 + (1 - f) / 2))            # Maxwell-Garnett 2D
    assert upper[0, 0] == pytest.approx(10 + (1 - f) / (1 / (1 - 10) + f / 20))
    mesh3 = structured(3, 4, m=lambda x: x[0] < 0.75, i=lambda x: x[0] >= 0.75)
    cell3 = fe2.Cell(mesh3, {"m": SOFT, "i": STIFF})
    lower3, _ = fe2.bounds.hashin_shtrikman(cell3)
    Km, Ki, Gm = SOFT.bulk, STIFF.bulk, SOFT.mu
    bulk = Km + f / (1 / (Ki - Km) + 3 * (1 - f) / (3 * Km + 4 * Gm))                # HS 1963
    assert np.linalg.eigvalsh(lower3)[-1] == pytest.approx(3 * bulk)


# --- FE² entry point ------------------------------------------------------------------------------
@pytest.mark.parametrize("bc", BCS, ids=lambda bc: bc.name)
def test_tangent_equals_central_differences(inclusion_mesh, bc):
    cell = fe2.Cell(inclusion_mesh, materials("elasticity"))
    E = np.array([0.01, -0.004, 0.003])
    stress, C = fe2.response(cell, E, bc)
    np.testing.assert_allclose(stress, C @ E, rtol=1e-9)
    h = 1e-4
    fd = np.column_stack([(fe2.response(cell, E + h * e, bc)[0] - fe2.response(cell, E - h * e, bc)[0]) / (2 * h)
                          for e in np.eye(3)])
    np.testing.assert_allclose(fd, C, rtol=1e-7, atol=1e-7 * np.abs(C).max())


def test_factorization_is_reused(inclusion_mesh, monkeypatch):
    cell = fe2.Cell(inclusion_mesh, materials("conduction"))
    calls = []
    original = fe2.cell.linalg.SymbolicFactorization.factorize
    monkeypatch.setattr(fe2.cell.linalg.SymbolicFactorization, "factorize",
                        lambda self, data: calls.append(data.shape) or original(self, data))
    fe2.homogenize(cell, "periodic")
    for E in ([1.0, 0.0], [0.3, 0.2], [0.0, -1.0]):
        fe2.response(cell, E, "periodic")
    fe2.homogenize(cell, fe2.Periodic())
    assert len(calls) == 1


def test_strain_as_tensor_or_mandel_vector(inclusion_mesh):
    cell = fe2.Cell(inclusion_mesh, materials("elasticity"))
    eps = np.array([[0.01, 0.002], [0.002, -0.003]])
    s1, _ = fe2.response(cell, eps, "periodic")
    s2, _ = fe2.response(cell, fe2.notation.to_mandel(eps), "periodic")
    np.testing.assert_allclose(s1, s2, rtol=1e-12)


# --- lattices, caches and formulas that a regression could break silently ------------------------
def _sheared(shear, n=8):
    """A structured mesh of the parallelogram with lattice vectors (1, 0), (shear, 1); layers x' < 0.5."""
    mesh = structured(2, n, a=lambda x: x[0] < 0.5, b=lambda x: x[0] >= 0.5)
    return mesh.__class__(np.vstack([mesh.p[0] + shear * mesh.p[1], mesh.p[1]]), mesh.t, _subdomains=mesh.subdomains)


@pytest.mark.parametrize("shear", [0.5, -0.5])
def test_elastic_laminate_on_sheared_lattice(shear):
    """Layers along the lattice vector (shear, 1): the periodic tensor is the laminate tensor rotated to
    the layer normal; the lattice is given as an array, the cell placed around the mesh."""
    cell = fe2.Cell(_sheared(shear), {"a": SOFT, "b": STIFF}, lattice=[[1.0, 0.0], [shear, 1.0]])
    n = np.array([1.0, -shear]) / np.hypot(1.0, shear)
    angle = np.arctan2(n[1], n[0])
    c, s = np.cos(angle), np.sin(angle)
    Q = np.array([[c, -s], [s, c]])
    # Mandel form of A -> Q A Q^T: column k is the image of the k-th unit Mandel tensor
    R = fe2.notation.to_mandel(np.einsum("ai,kij,bj->kab", Q, fe2.notation.from_mandel(np.eye(3)), Q)).T
    exact = R @ laminate_stiffness([SOFT.tensor(2), STIFF.tensor(2)], [0.5, 0.5], normal=0) @ R.T
    np.testing.assert_allclose(fe2.homogenize(cell, "periodic").tensor, exact, rtol=1e-10, atol=1e-10)
    comparison = fe2.compare(cell)
    assert comparison.ordered and max(r.hill_mandel for r in comparison.results.values()) < 1e-10


def test_a_linearization_at_another_tangent_leaves_the_cell_unchanged(inclusion_mesh):
    """Homogenizing the cell linearized at twice its tangent doubles the tensor, and the cell itself
    (its homogenization, bounds and response) answers as before."""
    cell = fe2.Cell(inclusion_mesh, materials("elasticity"))
    C0 = fe2.homogenize(cell, "periodic").tensor
    stress0, tangent0 = fe2.response(cell, [0.01, 0, 0], "kubc")
    voigt0 = fe2.bounds.voigt(cell)
    doubled = cell.linearize(2 * cell.phase_tangents())
    result = fe2.homogenize(doubled, "periodic")
    np.testing.assert_allclose(result.tensor, 2 * C0, rtol=1e-12, atol=1e-12 * np.abs(C0).max())
    np.testing.assert_allclose(result.cases[0].stress, 2 * C0[:, 0], rtol=1e-10, atol=1e-12 * np.abs(C0).max())
    np.testing.assert_allclose(fe2.bounds.voigt(doubled), 2 * voigt0, rtol=1e-14)
    np.testing.assert_array_equal(fe2.homogenize(cell, "periodic").tensor, C0)
    np.testing.assert_array_equal(fe2.bounds.voigt(cell), voigt0)
    stress, tangent = fe2.response(cell, [0.01, 0, 0], "kubc")
    np.testing.assert_array_equal(stress, stress0)
    np.testing.assert_array_equal(tangent, tangent0)
    np.testing.assert_allclose(stress, tangent @ [0.01, 0, 0], rtol=1e-10)


def test_periodic_wrap_inside_one_element_layer():
    """A periodic cell one element thick along y: elements whose DOFs wrap onto the same reduced DOF
    must still assemble the exact laminate (the diagonal then receives both halves)."""
    mesh = fe2.voxel.voxel_mesh(np.repeat((np.arange(8) < 4)[:, None], 1, axis=1).astype(int), spacing=(1 / 8, 1.0),
                                names={0: "b", 1: "a"}, kind="tri")
    cell = fe2.Cell(mesh, {"a": SOFT, "b": STIFF})
    exact = laminate_stiffness([SOFT.tensor(2), STIFF.tensor(2)], [0.5, 0.5], normal=0)
    np.testing.assert_allclose(fe2.homogenize(cell, "periodic").tensor, exact, rtol=1e-10, atol=1e-10)


def test_hashin_shtrikman_shear_bounds_match_closed_forms():
    """Two-phase HS shear bounds: Hashin (1965) transverse shear in 2D, Hashin-Shtrikman (1963) in 3D."""
    f = 0.25
    for dim in (2, 3):
        mesh = structured(dim, 4, m=lambda x: x[0] < 0.75, i=lambda x: x[0] >= 0.75)
        cell = fe2.Cell(mesh, {"m": SOFT, "i": STIFF})
        lower, upper = fe2.bounds.hashin_shtrikman(cell)
        shear = lambda C: C[-1, -1] / 2  # noqa: E731  (Mandel shear entry = 2 mu)
        m1, m2 = SOFT.mu, STIFF.mu
        if dim == 2:
            k1, k2 = SOFT.plane_strain_bulk, STIFF.plane_strain_bulk
            lo = m1 + f / (1 / (m2 - m1) + (1 - f) * (k1 + 2 * m1) / (2 * m1 * (k1 + m1)))
            hi = m2 + (1 - f) / (1 / (m1 - m2) + f * (k2 + 2 * m2) / (2 * m2 * (k2 + m2)))
        else:
            k1, k2 = SOFT.bulk, STIFF.bulk
            lo = m1 + f / (1 / (m2 - m1) + 6 * (1 - f) * (k1 + 2 * m1) / (5 * m1 * (3 * k1 + 4 * m1)))
            hi = m2 + (1 - f) / (1 / (m1 - m2) + 6 * f * (k2 + 2 * m2) / (5 * m2 * (3 * k2 + 4 * m2)))
        assert shear(lower) == pytest.approx(lo, rel=1e-12) and shear(upper) == pytest.approx(hi, rel=1e-12)
