"""`bench(opts)`: the task `opts` names, measured on its device; `format_bench`: its readable lines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..errors import CycleGANError
from ..execution import resolve_device
from ..files import check_outputs
from ..inference import is_out_of_memory
from ..loading import checkpoint_file
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
# What makes each task's work smaller, for its out-of-memory error
SMALLER = {"train": "--size or --batch-size", "style": "--style-sizes", "tiles": "--seam-size"}


def check_bench_outputs(opts: BenchOptions) -> None:
    """Refuse, before measuring, a `--json` or `--figure` (tiles) that would replace a file without --overwrite,
    is a folder, is an input the task reads, or is the other one: measuring can take hours, and only then were
    they written (the figure over any file, with no --overwrite asked)."""
    inputs: list[str | Path] = []
    if opts.task == "style":
        s = opts.style_task
        inputs += [s.content, s.style, *([checkpoint_file(s.checkpoint)] if s.checkpoint else [])]
    elif opts.task == "tiles":
        t = opts.tiles_task
        inputs += [
            *([t.photo] if t.photo else []),
            *([checkpoint_file(t.tile_checkpoint)] if t.tile_checkpoint else []),
        ]
    outputs = {"--json": opts.json, "--figure": opts.tiles_task.figure if opts.task == "tiles" else None}
    written = {option: path for option, path in outputs.items() if path is not None}
    for option, path in written.items():
        check_outputs([path], overwrite=opts.overwrite, option=option, inputs=inputs)
    if len(written) == 2 and Path(written["--json"]).resolve() == Path(written["--figure"]).resolve():
        raise CycleGANError(f"options '--json' and '--figure' name the same file {opts.json}; give each its own")


def bench(opts: BenchOptions) -> dict[str, Any]:
    """Measure per `opts` (`opts.task`: train, style or tiles); returns the JSON-ready result."""
    if opts.threads is not None:
        torch.set_num_threads(opts.threads)
    measure, _ = TASKS[opts.task]
    device = resolve_device(opts.device)
    try:
        return measure(opts, device)
    except Exception as e:  # only running out of memory is handled here: the allocator's traceback otherwise
        if not is_out_of_memory(e):
            raise
        raise CycleGANError(f"out of memory on {device} (--task {opts.task}): lower {SMALLER[opts.task]}") from None


def format_bench(r: dict[str, Any]) -> str:
    """A few readable lines of a bench result (of any task)."""
    _, format_result = TASKS[r.get("task", "train")]
    return format_result(r)
