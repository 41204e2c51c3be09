"""Figures from fe2 output: off-screen pyvista renderings and matplotlib plots."""
