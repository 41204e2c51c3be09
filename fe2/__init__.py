"""fe2: two-scale finite-element homogenization of heterogeneous materials on scikit-fem."""

from . import analytic, bounds, checkpoint, dns, geometry, macro, nonlinear, notation, output, parallel, rve, voxel
from .boundary import Kubc, Periodic, Subc
from .cell import Cell
from .homogenization import Comparison, Homogenization, bind, compare, hill_mandel, homogenize, response, tangent
from .lattice import Lattice, PeriodicityError
from .materials import Anisotropic, Conductor, Isotropic
from .plasticity import J2Plasticity, NonlinearConductor
from .rve_law import RVELaw

__all__ = [
    "Anisotropic", "Cell", "Comparison", "Conductor", "Homogenization", "Isotropic", "J2Plasticity", "Kubc", "Lattice",
    "NonlinearConductor",
    "Periodic", "PeriodicityError", "RVELaw", "Subc", "analytic", "bind", "bounds", "checkpoint", "compare", "dns", "geometry", "hill_mandel",
    "homogenize", "macro", "nonlinear", "notation", "output", "parallel", "response", "rve", "tangent", "voxel",
]
__version__ = "0.1.0"
