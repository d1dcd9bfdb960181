"""`cyclegan bench`: how fast training, translation, style transfer and tiled translation run here, and the
memory they need.

Three tasks, a module each: `--task train` (the default; `bench.train`) times a model family's training
steps and its translation on synthetic tensors, in the reference implementation's plain computation, in
this device's default one, or in both interleaved; `--task style` (`bench.style`) times Gatys style transfer
against CycleGAN translation per image; `--task tiles` (`bench.tiles`) measures the seams of tiled
translation and a large photo's peak memory and speed. `bench.measure` holds what they measure with (timed
calls, memory, the environment), `bench.options` their options.
"""

from __future__ import annotations

from typing import Any

import torch

from ..execution import resolve_device
from .measure import environment, time_calls
from .options import BenchOptions, Mode, StyleBenchOptions, Task, TileBenchOptions
from .style import bench_style, format_style, gatys_estimate, style_backbone, time_gatys, time_generator
from .tiles import bench_tiles, format_tiles, seam_figure
from .train import bench_train, format_train, mode_execution, time_train_step, trainer_and_inputs

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


__all__ = [
    "TASKS",
    "BenchOptions",
    "Mode",
    "StyleBenchOptions",
    "Task",
    "TileBenchOptions",
    "bench",
    "bench_style",
    "bench_tiles",
    "bench_train",
    "environment",
    "format_bench",
    "gatys_estimate",
    "mode_execution",
    "seam_figure",
    "style_backbone",
    "time_calls",
    "time_gatys",
    "time_generator",
    "time_train_step",
    "trainer_and_inputs",
]
