"""Assembly into a pattern computed once and the compiled element kernels: the same matrix as summing the element matrices, from the
compiled kernel and from numpy, on triangles, quads, tets, P1 and P2, per-element and
per-quadrature-point tangents, and a periodic wrap inside one element layer."""

import numpy as np
import pytest
import scipy.sparse as sp
import skfem

import fe2
from fe2.cell.assembly import Pattern


def reference(body, tangent, dof_map, n):
    """T^T K T summed element by element with scipy (duplicates added), K_e = sum_q w B^T C B."""
    K = np.einsum("eqia,eqij,eqjb,eq->eab", body.B, np.broadcast_to(tangent, body.dx.shape + tangent.shape[2:]),
                  body.B, body.dx)
    rows = np.asarray(dof_map)[body.dofs]
    I = np.repeat(rows[:, :, None], rows.shape[1], axis=2)
    J = np.repeat(rows[:, None, :], rows.shape[1], axis=1)
    keep = (I >= 0) & (J >= 0)
    return sp.csr_matrix((K[keep], (I[keep], J[keep])), shape=(n, n)).toarray()


def assert_periodic_stiffness(cell, tangent):
    """The periodic stiffness of ``tangent`` assembled on the cell's pattern (the compiled kernel, from the
    virgin values where it can) equals the sum of the element matrices (:func:`reference`) to round-off."""
    dof_map, n = cell.constraint("periodic")
    expected = reference(cell, tangent, dof_map, n)
    pattern = cell.pattern("periodic")
    upper = pattern.matrix(cell.linearize(tangent).stiffness(pattern)).toarray()
    np.testing.assert_allclose(upper + np.triu(upper, 1).T, expected, rtol=0, atol=1e-13 * np.abs(expected).max())


def random_tangents(body, per_point, seed=0):
    """Symmetric positive definite tangents (nel, 1 or nqp, n, n), different everywhere."""
    rng = np.random.default_rng(seed)
    n = body.physics.size
    shape = (body.dx.shape[0], body.dx.shape[1] if per_point else 1, n, n)
    A = rng.normal(size=shape)
    return A @ np.swapaxes(A, -1, -2) + n * np.eye(n)


CELLS = {
    "tri P1": lambda: fe2.geometry.inclusion(0.3, h=0.2),
    "tri P2": lambda: fe2.geometry.inclusion(0.3, h=0.25),
    "quad": lambda: fe2.geometry.voxel.voxel_mesh(np.eye(4, dtype=int), names={0: "matrix", 1: "inclusion"}),
    "tet": lambda: fe2.geometry.voxel.voxel_mesh(np.eye(3, dtype=int)[:, :, None].repeat(3, axis=2),
                                                 names={0: "matrix", 1: "inclusion"}, kind="tet"),
}


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("per_point", [False, True], ids=["per element", "per point"])
@pytest.mark.parametrize("bc", ["periodic", "kubc"])
def test_pattern_assembly_equals_the_sum_of_element_matrices(name, per_point, bc):
    order = 2 if name.endswith("P2") else 1
    law = fe2.Isotropic(E=1.0, nu=0.3)
    cell = fe2.Cell(CELLS[name](), {"matrix": law, "inclusion": law}, order=order)
    dof_map, n = cell.constraint(bc)
    tangent = random_tangents(cell, per_point)
    expected = reference(cell, tangent, dof_map, n)
    pattern = cell.pattern(bc)
    linearization = cell.linearize(tangent)
    from_tangent = pattern.matrix(linearization.stiffness(pattern)).toarray()          # compiled kernel (or numpy)
    from_elements = pattern.matrix(pattern.data(linearization.element_matrices)).toarray()   # numpy reference
    scale = np.abs(expected).max()
    for upper in (from_tangent, from_elements):
        np.testing.assert_allclose(upper + np.triu(upper, 1).T, expected, rtol=0, atol=1e-13 * scale)
    np.testing.assert_allclose(linearization.assemble(dof_map, n).toarray(), from_elements, rtol=0, atol=1e-13 * scale)


def test_periodic_wrap_inside_one_element_layer_doubles_the_diagonal_pair():
    """A cell one element thick: the pair (a, b) of an element whose DOFs are periodic images lands on
    one diagonal entry twice (once for (a, b), once for (b, a))."""
    mesh = fe2.geometry.voxel.voxel_mesh((np.arange(6) < 3)[:, None].astype(int), spacing=(1 / 6, 1.0),
                                         names={0: "b", 1: "a"}, kind="tri")
    cell = fe2.Cell(mesh, {"a": fe2.Isotropic(E=1.0, nu=0.3), "b": fe2.Isotropic(E=10.0, nu=0.2)})
    assert_periodic_stiffness(cell, random_tangents(cell, per_point=False, seed=3))


def test_a_free_dof_that_no_element_couples_is_refused():
    mesh = skfem.MeshTri.init_tensor(np.linspace(0, 1, 3), np.linspace(0, 1, 3))
    body = fe2.cell.body.Body(mesh, fe2.Isotropic(E=1.0, nu=0.3))
    dof_map = np.arange(body.ndofs)
    with pytest.raises(ValueError, match="reduced DOF 18 belongs to no element"):
        Pattern(body.dofs, dof_map, body.ndofs + 1)


def test_numpy_path_without_numba_gives_the_same_stiffness(monkeypatch):
    cell = fe2.Cell(CELLS["tri P1"](), {"matrix": fe2.Isotropic(E=1.0, nu=0.3), "inclusion": fe2.Isotropic(E=5.0, nu=0.2)})
    tangent = random_tangents(cell, per_point=False, seed=1)
    pattern = cell.pattern("periodic")
    compiled = cell.linearize(tangent).stiffness(pattern)
    monkeypatch.setattr(fe2.cell.compiled, "AVAILABLE", False)
    numpy = cell.linearize(tangent).stiffness(pattern)
    np.testing.assert_allclose(numpy, compiled, rtol=0, atol=1e-13 * np.abs(compiled).max())


@pytest.mark.parametrize("name", ["tri P1", "tri P2", "tet"])
def test_stiffness_from_the_virgin_values_plus_the_changed_elements(name):
    """The compiled kernel starts from the virgin values and adds the elements whose tangent changed:
    the same matrix as the sum of element matrices, whether none, some or all elements changed."""
    order = 2 if name.endswith("P2") else 1
    cell = fe2.Cell(CELLS[name](), {"matrix": fe2.Isotropic(E=1.0, nu=0.3), "inclusion": fe2.Isotropic(E=7.0, nu=0.2)},
                    order=order)
    rng = np.random.default_rng(4)
    for fraction in (0.0, 0.1, 1.0):
        tangent = np.array(np.broadcast_to(cell.elastic_tangent, cell.dx.shape[:1] + cell.elastic_tangent.shape[1:]))
        changed = rng.random(tangent.shape[0]) < fraction
        tangent[changed] = random_tangents(cell, per_point=False, seed=5)[changed]
        assert_periodic_stiffness(cell, tangent)


@pytest.mark.parametrize("name", CELLS)
def test_compiled_strain_and_nodal_forces_equal_numpy(name, monkeypatch):
    order = 2 if name.endswith("P2") else 1
    law = fe2.Isotropic(E=1.0, nu=0.3)
    cell = fe2.Cell(CELLS[name](), {"matrix": law, "inclusion": law}, order=order)
    rng = np.random.default_rng(6)
    u = rng.normal(size=cell.ndofs)
    stress = rng.normal(size=cell.dx.shape + (cell.physics.size,))
    compiled = cell.strain(u), cell.nodal_forces(stress)
    monkeypatch.setattr(fe2.cell.compiled, "AVAILABLE", False)
    numpy = cell.strain(u), cell.nodal_forces(stress)
    # the numpy forces, element by element: f = sum_e sum_q w B^T sigma
    by_element = np.zeros(cell.ndofs)
    np.add.at(by_element, cell.dofs, np.einsum("eqka,eqk,eq->ea", cell.B, stress, cell.dx))
    for got, want in zip(compiled + (numpy[1],), numpy + (by_element,)):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-13 * np.abs(want).max())


def test_phases_whose_elements_are_not_consecutive_respond_like_their_laws():
    """Interleaved phases (a checkerboard of voxels) are gathered by index, consecutive ones by slice:
    both give each element its own phase's stress and tangent."""
    labels = np.indices((4, 4)).sum(axis=0) % 2
    mesh = fe2.geometry.voxel.voxel_mesh(labels, names={0: "soft", 1: "stiff"})
    laws = {"soft": fe2.J2Plasticity(E=1.0, nu=0.3, yield_stress=1e-3, hardening=0.1), "stiff": fe2.Isotropic(E=9.0, nu=0.2)}
    cell = fe2.Cell(mesh, laws)
    assert not isinstance(cell._phase_index[0], slice)
    strain = np.random.default_rng(7).normal(scale=0.01, size=cell.dx.shape + (3,))
    stress, tangent, _ = cell.respond(strain, cell.initial_states())
    for index, name in enumerate(cell.phases):
        elements = cell.phase_elements[index]
        s, C = laws[name].response(strain[elements], None)[:2] if name == "soft" else \
            ((laws[name].tensor(2) @ strain[elements][..., None])[..., 0], np.broadcast_to(laws[name].tensor(2), tangent[elements].shape))
        np.testing.assert_array_equal(stress[elements], s)
        np.testing.assert_array_equal(tangent[elements], C)


@pytest.mark.parametrize("law", [fe2.Conductor(1.0), fe2.Isotropic(E=1.0, nu=0.3), fe2.NeoHookean(E=1.0, nu=0.3)],
                         ids=lambda law: law.physics)
@pytest.mark.parametrize("name", ["tri P2", "tet"])
def test_the_structure_of_b_and_the_assembly_that_skips_its_zeros(law, name):
    """Body.rows names every row where a column of B is nonzero (the others are zero in every element and
    quadrature point), and the compiled assembly that multiplies only those rows gives the sum of the
    element matrices, for the three physics."""
    cell = fe2.Cell(CELLS[name](), {"matrix": law, "inclusion": law}, order=2 if name.endswith("P2") else 1)
    outside = np.ones(cell.B.shape[2:], dtype=bool)      # (n, nloc)
    outside[cell.rows, np.arange(cell.B.shape[3])[:, None]] = False
    assert not np.any(cell.B[:, :, outside]) and np.all(np.any(cell.B != 0, axis=(0, 1))[~outside])
    assert_periodic_stiffness(cell, random_tangents(cell, per_point=True, seed=2))
