"""Reports: image grids, HTML pages and plain-text tables of what the commands measured.

The renderers take a command's report (a dataclass or a JSON-ready dict) and only format it.
"""

from .grid import save_cell_grid, save_grid
from .html import render_compare_html, render_demo_html
from .text import describe_record, format_curve, format_demo, format_table, summary_lines, write_json
from .types import METHODS, METRIC_NAMES, CompareReport, Row

__all__ = [
    "METHODS",
    "METRIC_NAMES",
    "CompareReport",
    "Row",
    "save_cell_grid",
    "save_grid",
    "render_compare_html",
    "render_demo_html",
    "describe_record",
    "format_curve",
    "format_demo",
    "format_table",
    "summary_lines",
    "write_json",
]
