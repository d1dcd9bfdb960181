"""`bench(opts)`: the task `opts` names, measured on its device; `format_bench`: its readable lines."""

from __future__ import annotations

from typing import Any

import torch

from ..execution import resolve_device
from .options import BenchOptions
from .style import bench_style, format_style
from .tiles import bench_tiles, format_tiles
from .train import bench_train, format_train

# Each task: its measurement (options, device) -> JSON-ready result, and the result's readable lines.
TASKS = {
    "train": (bench_train, format_train),
    "style": (bench_style, format_style),
    "tiles": (bench_tiles, format_tiles),
}


def bench(opts: BenchOptions) -> dict[str, Any]:
    """Measure per `opts` (`opts.task`: train, style or tiles); returns the JSON-ready result."""
    if opts.threads is not None:
        torch.set_num_threads(opts.threads)
    measure, _ = TASKS[opts.task]
    return measure(opts, resolve_device(opts.device))


def format_bench(r: dict[str, Any]) -> str:
    """A few readable lines of a bench result (of any task)."""
    _, format_result = TASKS[r.get("task", "train")]
    return format_result(r)
