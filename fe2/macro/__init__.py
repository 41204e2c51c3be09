"""The macro problem (FE² when its points are cells), the cell-backed material law, and DNS by tiling."""

from . import dns
from .problem import CURABLE, Dirichlet, DivergenceError, Problem, Step, Traction
from .rve_law import Histories, MicroWorker, RVELaw
