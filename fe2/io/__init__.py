"""Output: VTU/PVD files for ParaView, the macro writer, the run record and report, checkpoints."""

from . import checkpoint, record, report
from .vtu import (array_unit, array_units, cell_fields, nodal_average, read_pvd, read_units, save_vtu, vtu_mesh,
                  write_comparison, write_homogenization, write_pvd, write_vtu)
from .writer import MacroWriter, gather, most_strained, placement
