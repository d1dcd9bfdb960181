"""Image grids and reports."""

from .grid import save_grid

__all__ = ["save_grid"]
