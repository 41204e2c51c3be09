"""The multiscale finite element method: coarse basis functions from local fine-scale solves."""

from .method import Errors, MsFEM, Solution
from .partition import NestingError, Partition, shape_functions
