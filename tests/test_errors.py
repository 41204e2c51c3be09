"""Bad input raises a clear error before any work is done, naming what is wrong and where."""

import numpy as np
import pytest
import skfem

import fe2

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
    with pytest.raises(ValueError, match="all elastic or all conductors"):
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
