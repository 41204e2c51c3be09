"""Material-point laws: linear elastic and conducting phases, J2 plasticity, nonlinear conduction,
viscoelasticity with memory (Prony series), phases read from a TOML file, and hyperelastic laws for
finite strain, among them Cauchy-Born laws of pair potentials on Bravais lattices. The laws of physics
"elasticity" are small-strain: StrainRangeWarning marks strains beyond |eps| = SMALL_STRAIN; those of
physics "finite strain" take F = I + H."""

from .cauchy_born import Bravais, CauchyBorn, LennardJones, Morse, PairPotential
from .hyperelastic import NeoHookean, SaintVenantKirchhoff
from .law import SMALL_STRAIN, DeformationError, Law, StrainRangeWarning
from .linear import Anisotropic, Conductor, Isotropic
from .plasticity import J2Plasticity, NonlinearConductor, ReturnMappingError
from .viscoelastic import Prony
