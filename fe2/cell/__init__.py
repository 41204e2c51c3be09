"""The cell kernel: a microstructure cell, its linearization at a micro tangent, the conditions of
homogenization bound to it, the micro Newton solve, averages, bounds and closed-form references.

A :class:`Cell` never changes after construction. Nothing here imports from :mod:`fe2.io`.
"""

from . import analytic, bounds, mixed, nonlinear
from .averages import hill_mandel
from .cell import Cell
from .conditions import CellProblem, Condition, KinematicProblem, Kubc, Periodic, StaticProblem, Subc, compress, condition
from .homogenization import Comparison, Homogenization, bind, compare, homogenize, response, tangent
from .lattice import Lattice, PeriodicityError
from .linearization import Linearization
