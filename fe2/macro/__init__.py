"""The macro problem (FE² when its points are cells), the cell-backed material law, and DNS by tiling."""

from . import boundary, dns
from .boundary import Dirichlet, Traction
from .problem import CURABLE, DivergenceError, Problem, Step
from .rve_law import Histories, MicroWorker, RVELaw
