"""The multiscale finite element method and localized orthogonal decomposition: coarse bases from
local fine-scale solves."""

from .lod import LOD
from .method import MsFEM
from .partition import NestingError, Partition, shape_functions
from .space import Errors, Solution
