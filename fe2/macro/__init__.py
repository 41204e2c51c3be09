"""The macro problem (FE² when its points are cells), the cell-backed material law, DNS by tiling,
transient problems, and the memory of viscoelastic cells fitted as a macro law."""

from . import boundary, dns, memory, transient
from .boundary import Dirichlet, Traction
from .problem import CURABLE, DivergenceError, Problem, Step
from .rve_law import Histories, MicroWorker, RVELaw, Stepped
from .transient import TimeStep, TimeStepError, Transient, averaged_capacity
