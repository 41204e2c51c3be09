"""Cell and macro geometries: periodic gmsh cells, random packings, voxel images, mesh reading."""

from . import voxel
from .gmsh_cells import (Packing, checkerboard, hexagonal, hexagonal_lattice, inclusion, laminate, load_mesh,
                         plate_with_hole, random_centres, random_inclusions, random_spheres, sphere)
