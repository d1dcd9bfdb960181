"""`cyclegan bench`: how fast training, translation, style transfer and tiled translation run here, and the
memory they need.

Three tasks, a module each: `--task train` (the default; `bench.train`) times a model family's training
steps and its translation on synthetic tensors, in the reference implementation's plain computation, in
this device's default one, or in both interleaved; `--task style` (`bench.style`) times Gatys style transfer
against CycleGAN translation per image; `--task tiles` (`bench.tiles`) measures the seams of tiled
translation and a large photo's peak memory and speed. `bench.measure` holds what they measure with (timed
calls, memory, the environment), `bench.options` their options (torch-free, for `--help`), `bench.runner` the
dispatch to a task.
"""

from ..lazy import lazy_dir, lazy_exports

_EXPORTS = {
    ".runner": ("TASKS", "bench", "check_bench_outputs", "format_bench"),
    ".options": ("BenchOptions", "Mode", "StyleBenchOptions", "Task", "TileBenchOptions"),
    ".measure": ("environment", "time_calls"),
    ".style": ("bench_style", "gatys_estimate", "style_backbone", "time_gatys", "time_generator"),
    ".tiles": ("bench_tiles", "seam_figure"),
    ".train": ("bench_train", "mode_execution", "time_train_step", "trainer_and_inputs"),
}
__getattr__ = lazy_exports(__name__, _EXPORTS)
__dir__ = lazy_dir(__name__, _EXPORTS)
__all__ = [name for names in _EXPORTS.values() for name in names]
