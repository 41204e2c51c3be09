"""fe2: two-scale finite-element homogenization of heterogeneous materials on scikit-fem."""

import logging

from . import cell, equation_free, geometry, io, kinematics, logs, macro, materials, msfem, notation, parallel, rve_size
from .cell import (Cell, Comparison, Condition, Homogenization, Kubc, Lattice, Linearization, Periodic,
                   PeriodicityError, Subc, analytic, bind, bounds, compare, hill_mandel, homogenize, nonlinear,
                   response, tangent)
from .geometry import voxel
from .io import checkpoint
from .macro import RVELaw, dns
from .materials import (Anisotropic, Conductor, Isotropic, J2Plasticity, Law, NeoHookean, NonlinearConductor,
                        SaintVenantKirchhoff)

__all__ = [
    "Anisotropic", "Cell", "Comparison", "Condition", "Conductor", "Homogenization", "Isotropic", "J2Plasticity",
    "Kubc", "Lattice", "Law", "Linearization", "NeoHookean", "NonlinearConductor", "Periodic", "PeriodicityError", "RVELaw", "SaintVenantKirchhoff", "Subc",
    "analytic", "bind", "bounds", "cell", "checkpoint", "compare", "dns", "geometry", "hill_mandel", "homogenize",
    "io", "kinematics", "logs", "macro", "materials", "msfem", "nonlinear", "notation", "parallel", "response", "rve_size",
    "tangent", "voxel",
]
__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())   # silent unless shown (fe2.logs.show)
