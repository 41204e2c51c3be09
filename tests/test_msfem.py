"""MsFEM against theory: 1D-reducible problems exact at the coarse nodes, standard FEM for a constant
coefficient, partition of unity, convergence to an exact solution, oversampling against resonance,
rigid motions in elasticity, and the errors for bad input."""

import sys
from pathlib import Path

import numpy as np
import pytest
import skfem

import fe2
from fe2.macro import Dirichlet, Problem
from fe2.msfem import MsFEM, NestingError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "cases"))
from msfem_resonance import HouWu  # noqa: E402  (the Hou-Wu coefficient of the resonance study)

SIDES = ("left", "right", "bottom", "top")


def grid(n, tri=False):
    x = np.linspace(0, 1, n + 1)
    return (skfem.MeshTri if tri else skfem.MeshQuad).init_tensor(x, x).with_defaults()


def layered(x):
    """A piecewise-constant conductivity of x1 only, constant on each of 32 layers (aligned with
    the fine grids below), with a 100:1 contrast."""
    values = np.random.default_rng(3).uniform(0.01, 1.0, 32)
    return values[np.minimum((x[0] * 32).astype(int), 31)]


def smooth_layers(x, d=0.6, k=3):
    """a(x1) = 1 / (1 + d cos(2 pi k x1)): -div(a grad u) = 0, u(0) = 0, u(1) = 1 has the exact
    solution u = x1 + d / (2 pi k) sin(2 pi k x1) (a u' = 1)."""
    return 1 / (1 + d * np.cos(2 * np.pi * k * x[0]))


resonant = HouWu(1 / 16)   # the oscillating coefficient of Hou & Wu (1997), P = 1.8


def wavy(x):
    return 1.5 + np.sin(20 * x[0]) * np.cos(13 * x[1])


@pytest.mark.parametrize("tri", [False, True])
def test_one_dimensional_problem_is_exact_at_the_coarse_nodes(tri):
    """a(x1) with u = 0 on the left, 1 on the right and no flux across top and bottom: u is 1D,
    u(x1) = R(x1) / R(1) with R(x1) = int_0^x1 ds / a. The oscillatory boundary data are that
    profile, so MsFEM holds the exact solution and reproduces it at the coarse nodes."""
    law = fe2.Conductor(layered)
    bcs = [Dirichlet("left", 0.0), Dirichlet("right", 1.0)]
    values = layered(np.array([(np.arange(32) + 0.5) / 32]))
    resistance = np.concatenate([[0.0], np.cumsum(1 / values)]) / 32

    def exact(x):
        return np.interp(x[0], np.arange(33) / 32, resistance) / resistance[-1]

    space = MsFEM(grid(4, tri), grid(64, tri), law, boundary="oscillatory")
    solution = space.solve(bcs)
    np.testing.assert_allclose(solution.coarse, exact(space.coarse.p), atol=1e-12)
    fine = space.conforming(solution)
    np.testing.assert_allclose(fine, exact(space.fine.p), atol=1e-12)  # and everywhere inside
    linear = MsFEM(grid(4, tri), grid(64, tri), law, boundary="linear")
    assert np.abs(linear.solve(bcs).coarse - exact(space.coarse.p)).max() > 1e-3  # linear data are not exact


@pytest.mark.parametrize("tri", [False, True])
def test_constant_coefficient_gives_standard_fem(tri):
    """With a constant coefficient the local solutions are the coarse nodal functions themselves
    (affine on triangles, bilinear on rectangles), so MsFEM is the coarse FEM."""
    coarse, fine = grid(4, tri), grid(32, tri)
    law = fe2.Conductor(2.5)
    bcs = [Dirichlet(name, 0.0) for name in SIDES]
    fem = Problem(coarse, law, dirichlet=bcs, body_force=1.0).solve(1)[-1].field
    for boundary, petrov_galerkin in (("linear", False), ("oversampling", False), ("oversampling", True)):
        space = MsFEM(coarse, fine, law, boundary=boundary, petrov_galerkin=petrov_galerkin)
        np.testing.assert_allclose(space.solve(bcs, body_force=1.0).coarse, fem, atol=1e-13 * np.abs(fem).max())


def test_constant_elasticity_gives_standard_fem():
    coarse, fine = grid(3, tri=True), grid(24, tri=True)
    law = fe2.Isotropic(E=10.0, nu=0.3)
    bcs = [Dirichlet("left", 0.0), Dirichlet("right", [0.01, 0.0])]
    fem = Problem(coarse, law, dirichlet=bcs, body_force=[0.0, -1.0]).solve(1)[-1].field
    space = MsFEM(coarse, fine, law, boundary="oversampling")
    np.testing.assert_allclose(space.solve(bcs, body_force=[0.0, -1.0]).coarse, fem, atol=1e-12 * np.abs(fem).max())


@pytest.mark.parametrize("boundary,tri", [("linear", False), ("linear", True), ("oversampling", False),
                                          ("oversampling", True), ("oscillatory", False)])
def test_partition_of_unity(boundary, tri):
    """Constants solve every local problem, so sum_i phi_i = 1 on every element, oversampled too."""
    space = MsFEM(grid(4, tri), grid(32, tri), fe2.Conductor(wavy), boundary=boundary)
    for basis in space.bases:
        np.testing.assert_allclose(basis.sum(axis=1), 1.0, atol=1e-12)
    # and the nodal property at the coarse vertices of each element
    K = 5
    corners = np.searchsorted(space.nodes[K], space.partition.vertex_nodes[space.coarse.t[:, K]])
    np.testing.assert_allclose(space.bases[K][corners], np.eye(space.m), atol=1e-12)


def test_elastic_partition_of_unity():
    space = MsFEM(grid(3), grid(24), fe2.Isotropic(E=lambda x: 2 + np.sin(9 * x[0]), nu=0.3), boundary="oversampling")
    for basis in space.bases:
        np.testing.assert_allclose(basis[:, 0::2].sum(axis=1), np.tile([1.0, 0.0], len(basis) // 2), atol=1e-12)
        np.testing.assert_allclose(basis[:, 1::2].sum(axis=1), np.tile([0.0, 1.0], len(basis) // 2), atol=1e-12)


@pytest.mark.parametrize("tri", [False, True])
def test_error_against_exact_solution_falls_with_the_fine_mesh(tri):
    """A smooth 1D-reducible coefficient with an exact solution: with oscillatory data MsFEM holds
    the solution up to the fine discretization, so on a fixed coarse mesh its error falls like h^2
    in L2 and h in H1 as the fine mesh is refined; with linear data the resonance error stays."""
    law = fe2.Conductor(smooth_layers)
    d, k = 0.6, 3
    exact = (lambda x: x[0] + d / (2 * np.pi * k) * np.sin(2 * np.pi * k * x[0]),
             lambda x: np.stack([1 + d * np.cos(2 * np.pi * k * x[0]), 0 * x[1]]))
    bcs = [Dirichlet("left", 0.0), Dirichlet("right", 1.0)]
    errors = {}
    for boundary in ("oscillatory", "linear"):
        errors[boundary] = [MsFEM(grid(4, tri), grid(n, tri), law, boundary=boundary).errors(
            MsFEM(grid(4, tri), grid(n, tri), law, boundary=boundary).solve(bcs), exact=exact) for n in (16, 32, 64)]
    e = errors["oscillatory"]
    l2 = np.log2([a.l2 / b.l2 for a, b in zip(e, e[1:])])
    h1 = np.log2([a.h1 / b.h1 for a, b in zip(e, e[1:])])
    assert np.all(np.abs(l2 - 2) < 0.1) and np.all(np.abs(h1 - 1) < 0.05), (l2, h1)
    stalled = errors["linear"]
    assert stalled[-1].l2 > 0.9 * stalled[0].l2 and stalled[-1].l2 > 50 * e[-1].l2


def test_oversampling_cuts_the_resonance_error():
    """H = eps on the Hou-Wu coefficient: the boundary layers of linear data make the error large;
    oversampling (patch 2H) cuts the L2 error by more than 3x (Hou, Wu & Cai 1999)."""
    fine, coarse = grid(256), grid(16)
    law = fe2.Conductor(resonant)
    bcs = [Dirichlet(name, 0.0) for name in SIDES]
    reference = Problem(fine, law, dirichlet=bcs, body_force=1.0).solve(1)[-1].field
    errors = {}
    for boundary in ("linear", "oversampling"):
        space = MsFEM(coarse, fine, law, boundary=boundary)   # oversampling: patch 2H (the default)
        errors[boundary] = space.errors(space.solve(bcs, body_force=1.0), reference=reference)
    assert errors["linear"].l2 > 3 * errors["oversampling"].l2, errors
    assert errors["linear"].energy > 2 * errors["oversampling"].energy, errors


@pytest.mark.parametrize("boundary", ["linear", "oversampling"])
def test_elasticity_reproduces_rigid_motions(boundary):
    """A rigid motion on the boundary and no load: the reconstruction is that motion everywhere,
    whatever the heterogeneity (it is stress-free, so it solves every local problem)."""
    cell = fe2.geometry.inclusion(0.4, h=0.25)
    fine = fe2.dns.tile(cell, (4, 4), size=0.25)
    x = np.linspace(0, 1, 5)
    coarse = skfem.MeshQuad.init_tensor(x, x).with_defaults()
    materials = {"matrix": fe2.Isotropic(1.0, 0.3), "inclusion": fe2.Isotropic(20.0, 0.2)}

    def motion(x):
        return np.stack([0.3 - 0.02 * x[1], -0.1 + 0.02 * x[0]])

    space = MsFEM(coarse, fine, materials, boundary=boundary)
    solution = space.solve([Dirichlet(name, motion) for name in SIDES])
    np.testing.assert_allclose(space.conforming(solution), motion(fine.p).T.ravel(), atol=1e-12)
    for K in (0, 7):
        np.testing.assert_allclose(space.local_field(solution, K), motion(fine.p[:, space.nodes[K]]).T.ravel(), atol=1e-12)


def test_petrov_galerkin_tests_with_the_coarse_nodal_functions():
    """a(phi_j, N_i) and (f, N_i), checked against the fine stiffness and the coarse FEM load: with
    linear data the matrix is the Galerkin one (phi_j is a-harmonic in K and N_i - phi_i vanishes
    on its boundary); with oversampled data it is not symmetric, and the solve satisfies it."""
    from fe2.cell.body import Body
    from fe2.msfem.partition import shape_functions

    coarse, fine, law = grid(4), grid(32), fe2.Conductor(wavy)
    bcs = [Dirichlet(name, 0.0) for name in SIDES]
    load = skfem.asm(skfem.LinearForm(lambda v, w: v), skfem.Basis(coarse, skfem.ElementQuad1()))  # int N_i
    body = Body(fine, law)
    galerkin = MsFEM(coarse, fine, law, boundary="linear")
    for boundary in ("linear", "oversampling"):
        space = MsFEM(coarse, fine, law, boundary=boundary, petrov_galerkin=True)
        expected = np.zeros((space.ndofs, space.ndofs))
        for K, nodes in enumerate(space.nodes):
            members = space.partition.members(K)
            local = np.searchsorted(nodes, fine.t[:, members]).T
            stiffness = np.zeros((nodes.size, nodes.size))
            np.add.at(stiffness, (local[:, :, None], local[:, None, :]), body.linearize().element_matrices[members])
            N = shape_functions(space.partition.vertices[K], fine.p[:, nodes])
            expected[np.ix_(coarse.t[:, K], coarse.t[:, K])] += N @ stiffness @ space.bases[K]
        np.testing.assert_allclose(space.matrix.toarray(), expected, atol=1e-12 * np.abs(expected).max())
        U = space.solve(bcs, body_force=1.0).coarse
        free = np.setdiff1d(np.arange(space.ndofs), np.unique(coarse.facets[:, coarse.boundary_facets()]))
        np.testing.assert_allclose(expected[np.ix_(free, free)] @ U[free], load[free], rtol=1e-10)
        if boundary == "linear":
            assert abs(space.matrix - galerkin.matrix).max() < 1e-12 * abs(galerkin.matrix).max()
        else:
            assert abs(space.matrix - space.matrix.T).max() > 1e-3 * abs(space.matrix).max()


def test_energy_error_weighs_the_gradient_with_the_coefficient():
    """For a constant conductivity k the energy error is sqrt(k) times the H1-seminorm error, and
    an exact solution and its fine interpolant as reference give nearly the same errors."""
    law = fe2.Conductor(2.5)
    space = MsFEM(grid(4), grid(32), law, boundary="oversampling")
    solution = space.solve([Dirichlet(name, 0.0) for name in SIDES], body_force=1.0)
    exact = (lambda x: np.sin(np.pi * x[0]) * np.sin(np.pi * x[1]),
             lambda x: np.pi * np.stack([np.cos(np.pi * x[0]) * np.sin(np.pi * x[1]),
                                         np.sin(np.pi * x[0]) * np.cos(np.pi * x[1])]))
    e = space.errors(solution, exact=exact)
    np.testing.assert_allclose(e.absolute["energy"], np.sqrt(2.5) * e.absolute["h1"], rtol=1e-12)
    np.testing.assert_allclose(e.energy, e.h1, rtol=1e-12)
    interpolated = space.errors(solution, reference=exact[0](space.fine.p))
    np.testing.assert_allclose([interpolated.l2, interpolated.h1], [e.l2, e.h1], rtol=0.05)


def test_bilinear_functions_of_distorted_quadrilaterals():
    """The inverse bilinear map of convex, distorted quadrilaterals of any orientation, size and
    place: the nodal functions at x(s, t) are those of (s, t), also a little outside the element."""
    from fe2.msfem.partition import shape_functions

    rng = np.random.default_rng(1)
    square = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=float)
    tested = 0
    while tested < 300:
        V = square + rng.uniform(-0.3, 0.3, (4, 2))
        edges = np.roll(V, -1, axis=0) - V
        turns = edges[:, 0] * np.roll(edges, -1, axis=0)[:, 1] - edges[:, 1] * np.roll(edges, -1, axis=0)[:, 0]
        if not (np.all(turns > 0) or np.all(turns < 0)):
            continue
        V = (V[::-1] if tested % 2 else V) * rng.uniform(0.01, 100) + rng.uniform(-1e3, 1e3, 2)
        s, t = rng.uniform(-0.05, 1.05, (2, 50))
        N = np.stack([(1 - s) * (1 - t), s * (1 - t), s * t, (1 - s) * t])
        np.testing.assert_allclose(shape_functions(V, V.T @ N), N, atol=1e-9)
        tested += 1


def test_vtu_output_reads_back(tmp_path):
    import meshio

    space = MsFEM(grid(4), grid(16), fe2.Conductor(wavy), boundary="oversampling")
    solution = space.solve([Dirichlet(name, 0.0) for name in SIDES], body_force=1.0)
    coarse_path, fine_path = space.write_vtu(tmp_path, solution)
    coarse = meshio.read(coarse_path)
    np.testing.assert_allclose(coarse.point_data["temperature"], solution.coarse)
    fine = meshio.read(fine_path)
    assert len(fine.points) == sum(len(n) for n in space.nodes)  # nodes on coarse edges once per element
    np.testing.assert_allclose(fine.point_data["temperature"][:len(space.nodes[0])], space.local_field(solution, 0))
    assert set(fine.cell_data) >= {"phase", "coarse_element"}


# --- bad input ---------------------------------------------------------------------------------------
def test_fine_mesh_that_does_not_nest():
    with pytest.raises(NestingError, match="crosses the edge of coarse element"):
        MsFEM(grid(3), grid(8), fe2.Conductor(1.0))


def test_fine_mesh_with_a_gap():
    """Fine elements that nest but leave a hole in a coarse element (its vertices still fine nodes,
    one only as a node of no element) are refused, not given Dirichlet data on the hole."""
    fine = grid(8)
    centroids = fine.p[:, fine.t].mean(axis=1)
    for hole in ((centroids[0] < 0.1) & (centroids[1] < 0.1), np.abs(centroids - 0.25).max(axis=0) < 0.13):
        with pytest.raises(NestingError, match="coarse element 0 cover an area of"):
            MsFEM(grid(2), skfem.MeshQuad(fine.p, fine.t[:, ~hole]), fe2.Conductor(1.0))


def test_coarse_vertex_missing_from_the_fine_mesh():
    x = np.linspace(0, 1, 3)
    fine = skfem.MeshQuad.init_tensor(np.linspace(0, 1, 9), np.linspace(0, 1, 9))
    coarse = skfem.MeshTri.init_tensor(x, x)
    coarse = skfem.MeshTri(coarse.p + np.where((coarse.p > 0) & (coarse.p < 1), 0.01, 0.0), coarse.t)
    with pytest.raises(NestingError):
        MsFEM(coarse, fine, fe2.Conductor(1.0))


@pytest.mark.parametrize("factor", [0.5, float("nan")])
def test_oversampling_factor_below_one(factor):
    with pytest.raises(ValueError, match="oversampling factor must be at least 1"):
        MsFEM(grid(2), grid(8), fe2.Conductor(1.0), boundary="oversampling", oversampling=factor)


def test_non_positive_coefficient_is_located():
    def bad(x):
        return np.where((x[0] > 0.6) & (x[1] < 0.2), -1.0, 1.0)

    with pytest.raises(ValueError, match=r"conductivity k must be positive.*x = \[0\.6"):
        MsFEM(grid(2), grid(8), fe2.Conductor(bad))


def test_other_bad_input():
    with pytest.raises(ValueError, match="unknown MsFEM boundary"):
        MsFEM(grid(2), grid(8), fe2.Conductor(1.0), boundary="periodic")
    with pytest.raises(ValueError, match="oscillatory boundary conditions"):
        MsFEM(grid(2), grid(8), fe2.Isotropic(1.0, 0.3), boundary="oscillatory")
    space = MsFEM(grid(2), grid(8), fe2.Conductor(1.0))
    with pytest.raises(ValueError, match="no boundary named 'east'"):
        space.solve([Dirichlet("east", 0.0)])
    with pytest.raises(ValueError, match="at least one Dirichlet"):
        space.solve([], body_force=1.0)


def test_non_convex_coarse_element():
    x = np.linspace(0, 1, 3)
    coarse = skfem.MeshQuad.init_tensor(x, x)
    p = coarse.p.copy()
    centre = np.argmin(np.linalg.norm(p - 0.5, axis=0))
    p[:, centre] = [0.9, 0.9]                                   # pulls the middle node past the diagonals
    with pytest.raises(ValueError, match="is not convex"):
        MsFEM(skfem.MeshQuad(p, coarse.t), grid(8), fe2.Conductor(1.0))


def test_bad_dirichlet_values():
    space = MsFEM(grid(2), grid(8), fe2.Isotropic(1.0, 0.3))
    with pytest.raises(ValueError, match="Dirichlet on 'left': got shape \\(3,\\)"):
        space.solve([Dirichlet("left", [0.0, 0.0, 0.0])])
    with pytest.raises(ValueError, match="the function returned shape"):
        space.solve([Dirichlet("left", lambda x: np.zeros((3, x.shape[1])))])
    with pytest.raises(ValueError, match="component 2 does not exist"):
        space.solve([Dirichlet("left", 0.0, components=(2,))])
    with pytest.raises(ValueError, match="Dirichlet on 'left': the value must be finite, got nan"):
        space.solve([Dirichlet("left", float("nan"))])


def test_factorization_is_reused_across_loads():
    """Online solves with the same fixed DOFs reuse one coarse factorization and stay exact."""
    space = MsFEM(grid(4), grid(16), fe2.Conductor(wavy), boundary="oversampling")
    bcs = [Dirichlet(name, 0.0) for name in SIDES]
    first = space.solve(bcs, body_force=1.0).coarse
    factorization = next(iter(space._factorizations.values()))
    second = space.solve(bcs, body_force=2.0).coarse
    assert next(iter(space._factorizations.values())) is factorization
    np.testing.assert_allclose(second, 2 * first, rtol=1e-12)
    third = space.solve([Dirichlet("left", 1.0), Dirichlet("right", 0.0)]).coarse  # other fixed DOFs: refactorized
    x = space.coarse.p[0]
    np.testing.assert_allclose(third[x == 0], 1.0)
    np.testing.assert_allclose(third[x == 1], 0.0)
    assert np.all((third > -1e-12) & (third < 1 + 1e-12))  # no source: the maximum principle holds at the nodes


def test_oscillatory_data_follow_the_edge_conductivity_of_an_anisotropic_laminate():
    """Layers of anisotropic conductors K = diag(a, b): the 1D solution depends on a = t.K.t along
    the horizontal edges only. The oscillatory data use that tangential conductivity (with b they
    would miss the profile), so MsFEM is exact at the coarse nodes."""
    a, b = [0.05, 1.0, 0.3], [3.0, 0.1, 0.02]
    layers = lambda x: (np.floor(x[0] * 16).astype(int) % 3)  # noqa: E731  16 layers, 3 phases in turn
    fine = grid(64).with_subdomains({f"p{k}": (lambda x, k=k: layers(x) == k) for k in range(3)})
    materials = {f"p{k}": fe2.Conductor(np.diag([a[k], b[k]])) for k in range(3)}
    resistance = np.concatenate([[0.0], np.cumsum([1 / a[k % 3] for k in range(16)])]) / 16

    def exact(x):
        return np.interp(x[0], np.arange(17) / 16, resistance) / resistance[-1]

    space = MsFEM(grid(4), fine, materials, boundary="oscillatory")
    solution = space.solve([Dirichlet("left", 0.0), Dirichlet("right", 1.0)])
    np.testing.assert_allclose(solution.coarse, exact(space.coarse.p), atol=1e-12)
    np.testing.assert_allclose(space.conforming(solution), exact(fine.p), atol=1e-12)


@pytest.mark.parametrize("kind", ["processes", "dask"])
def test_executors_agree_with_serial(kind):
    coarse, fine = grid(4), grid(32)
    serial = MsFEM(coarse, fine, fe2.Conductor(wavy), boundary="oversampling")
    with fe2.parallel.executor(kind, workers=2) as executor:
        parallel = MsFEM(coarse, fine, fe2.Conductor(wavy), boundary="oversampling", executor=executor)
    assert abs(serial.matrix - parallel.matrix).max() < 1e-13
    for a, b in zip(serial.bases, parallel.bases):
        np.testing.assert_allclose(a, b, atol=1e-13)
