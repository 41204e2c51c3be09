"""Material-point laws: linear elastic and conducting phases, J2 plasticity, nonlinear conduction,
viscoelasticity with memory (Prony series), and phases read from a TOML file. Elastic laws are
small-strain: StrainRangeWarning marks strains beyond |eps| = SMALL_STRAIN."""

from .law import SMALL_STRAIN, Law, StrainRangeWarning
from .linear import Anisotropic, Conductor, Isotropic
from .plasticity import J2Plasticity, NonlinearConductor, ReturnMappingError
from .viscoelastic import Prony
