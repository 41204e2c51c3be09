"""Material-point laws: linear elastic and conducting phases, J2 plasticity, nonlinear conduction,
and phases read from a TOML file."""

from .law import Law
from .linear import Anisotropic, Conductor, Isotropic
from .plasticity import J2Plasticity, NonlinearConductor, ReturnMappingError
