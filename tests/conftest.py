import os

import numpy as np
import pytest
import skfem

import fe2

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

SOFT, STIFF = fe2.Isotropic(E=1.0, nu=0.3), fe2.Isotropic(E=10.0, nu=0.2)


def structured(dim, n, kind="simplex", **phases):
    """Structured unit-cell mesh (periodic by construction) with phases given by element midpoints."""
    x = np.linspace(0, 1, n + 1)
    if dim == 2:
        mesh = (skfem.MeshTri if kind == "simplex" else skfem.MeshQuad).init_tensor(x, x)
    else:
        mesh = (skfem.MeshTet if kind == "simplex" else skfem.MeshHex).init_tensor(x, x, x)
    return mesh.with_subdomains(phases) if phases else mesh


def materials(physics, soft="matrix", stiff="inclusion"):
    if physics == "conduction":
        return {soft: fe2.Conductor(1.0), stiff: fe2.Conductor(10.0)}
    return {soft: SOFT, stiff: STIFF}


def plate(cell_h=0.3, pull=0.005):
    """The flagship FE² problem at test size: a quarter plate with a hole (h = 0.3) whose points are
    J2 cells (aluminium around a ceramic fiber, cell mesh ``cell_h``), pulled by ``pull`` on the right."""
    from fe2.macro import Dirichlet, Problem
    cell = fe2.Cell(fe2.geometry.inclusion(0.4, h=cell_h, phases=("matrix", "fiber")),
                    {"matrix": fe2.J2Plasticity(E=70.0, nu=0.33, yield_stress=0.2, hardening=1.0),
                     "fiber": fe2.Isotropic(E=400.0, nu=0.2)})
    mesh = fe2.geometry.plate_with_hole(width=1.0, radius=0.3, h=0.3)
    return Problem(mesh, {"plate": fe2.RVELaw(cell, "periodic")}, dirichlet=[
        Dirichlet("left", 0.0, components=(0,)), Dirichlet("bottom", 0.0, components=(1,)),
        Dirichlet("right", pull, components=(0,))])


@pytest.fixture(scope="session")
def inclusion_mesh():
    return fe2.geometry.inclusion(0.3, h=0.08)


@pytest.fixture(scope="session")
def sphere_mesh():
    """3D cube with a blocky 'sphere' of radius 0.35 at the centre (hex voxels, P1)."""
    return structured(3, 6, kind="hex",
                      matrix=lambda x: np.linalg.norm(x - 0.5, axis=0) >= 0.35,
                      inclusion=lambda x: np.linalg.norm(x - 0.5, axis=0) < 0.35)


@pytest.fixture(scope="session")
def sphere_tet_mesh():
    return structured(3, 5,
                      matrix=lambda x: np.linalg.norm(x - 0.5, axis=0) >= 0.3,
                      inclusion=lambda x: np.linalg.norm(x - 0.5, axis=0) < 0.3)
