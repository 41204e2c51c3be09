"""Figures from fe2 output, off-screen: matplotlib plots (:mod:`postprocess.plots`) and pyvista
renderings of the VTU files (:mod:`postprocess.render`; the command-line wrappers
:mod:`postprocess.cell_figure` and :mod:`postprocess.fe2_figure`)."""
