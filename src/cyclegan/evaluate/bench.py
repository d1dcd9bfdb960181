"""`cyclegan bench`: how long a training step takes, how fast translation is, how much memory it needs.

Timing uses synthetic tensors (uniform in [-1, 1]) of the configured shape, so disk and JPEG decoding are
not measured: this is the cost of the computation. Each training step is one full CycleGAN iteration
(`CycleGANTrainer.step`: D_X, D_Y, then G and F with adversarial + cycle (+ identity) losses and three
Adam updates); the figure is the median over the timed steps after untimed warm-up steps.

Modes:
- `reference`: the plain computation of the widely used reference implementation: fp32, contiguous
  NCHW tensors, eager execution, same architecture and losses (identity 0.5 for `paper`); batch 1
  unless `--batch-size` is given.
- `default`: our fastest correct path. `mode_settings` is the one place that chooses precision,
  memory format and compilation per device; today it returns the same fp32 NCHW eager settings as
  `reference` (the JSON says so), and the speed work switches them there.
"""

from __future__ import annotations

import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch

from ..errors import CycleGANError

Mode = Literal["reference", "default"]


@dataclass(frozen=True)
class ModeSettings:
    """How a mode computes. Everything but fp32 / NCHW / eager is for the speed work to enable."""

    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    channels_last: bool = False
    compile: bool = False
    note: str = ""


def mode_settings(mode: Mode, device: torch.device) -> ModeSettings:
    """The settings `mode` runs with on `device`."""
    if mode == "reference":
        return ModeSettings(note="the reference implementation's computation: fp32, NCHW, eager")
    if mode == "default":
        return ModeSettings(
            note="default mode currently runs the same fp32 NCHW eager path as reference: no faster path "
            "has landed yet (mixed precision, channels-last and compile come with the speed work)"
        )
    raise CycleGANError(f"--mode must be reference or default, got {mode!r}")


def _check_supported(s: ModeSettings) -> None:
    if s.precision != "fp32" or s.channels_last or s.compile:
        raise NotImplementedError(f"bench cannot run {s} yet: only fp32, NCHW, eager is implemented")


@dataclass(frozen=True)
class BenchOptions:
    preset: str = "paper"
    size: int | None = None  # None: the preset's size
    batch_size: int | None = None  # None: the preset's batch size
    steps: int = 5
    warmup: int = 1
    translate_batches: int | None = None  # None: as many as `steps` (at least 2)
    mode: Mode = "default"
    device: str = "auto"
    threads: int | None = None  # CPU threads for torch (None: torch's default, one per core)
    seed: int = 0


# --- measuring -------------------------------------------------------------------------------------------


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_calls(fn: Callable[[], object], n: int, device: torch.device) -> list[float]:
    """Wall seconds of each of `n` calls of `fn`, synchronising the device around each call."""
    times = []
    for _ in range(n):
        _sync(device)
        t = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t)
    return times


def _rss_now_mib() -> float:
    """Current resident set size of this process (Linux /proc; else the peak so far)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return _rss_peak_mib()


def _rss_peak_mib() -> float:
    """Peak resident set size of this process so far (getrusage: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(device: torch.device) -> dict[str, Any]:
    """What the figures depend on: hardware, threads, versions, and how busy the machine was."""
    env: dict[str, Any] = {
        "torch": torch.__version__, "python": platform.python_version(), "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
    }  # fmt: skip
    if hasattr(os, "getloadavg"):
        env["load_average_1min_at_start"] = round(os.getloadavg()[0], 2)
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
    return env


def _median(xs: list[float]) -> float:
    return float(statistics.median(xs)) if xs else float("nan")


def bench(opts: BenchOptions) -> dict[str, Any]:
    """Measure training and translation per `opts`; returns the JSON-ready result."""
    from ..config import resolve
    from ..train.cyclegan import CycleGANTrainer
    from ..train.loop import resolve_device

    if opts.steps <= 0 or opts.warmup < 0:
        raise CycleGANError("option '--steps' must be positive and '--warmup' >= 0")
    if opts.translate_batches is not None and opts.translate_batches <= 0:
        raise CycleGANError("option '--translate-batches' must be positive")
    if opts.threads is not None:
        if opts.threads <= 0:
            raise CycleGANError("option '--threads' must be positive")
        torch.set_num_threads(opts.threads)
    overrides: dict[str, Any] = {}
    if opts.size is not None:
        overrides["size"] = opts.size
    if opts.batch_size is not None:
        overrides["batch_size"] = opts.batch_size
    elif opts.mode == "reference":
        overrides["batch_size"] = 1  # the reference implementation's default, for every preset
    cfg = resolve(overrides, preset=opts.preset)
    device = resolve_device(opts.device)
    settings = mode_settings(opts.mode, device)
    _check_supported(settings)
    env = environment(device)
    size, bs = cfg.data.size, cfg.train.batch_size
    rss_start = _rss_now_mib()

    gen = torch.Generator().manual_seed(opts.seed)
    x = (torch.rand(bs, 3, size, size, generator=gen) * 2 - 1).to(device)  # (B, 3, S, S) in [-1, 1]
    y = (torch.rand(bs, 3, size, size, generator=gen) * 2 - 1).to(device)
    trainer = CycleGANTrainer(cfg, total_steps=opts.warmup + opts.steps, device=device)
    params = {k: sum(p.numel() for p in net.parameters()) for k, net in trainer.networks.items()}

    # --- training steps
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    for _ in range(opts.warmup):
        trainer.step(x, y)
    train_times = time_calls(lambda: trainer.step(x, y), opts.steps, device)
    memory: dict[str, float] = {"rss_at_start_mib": round(rss_start, 1)}
    if device.type == "cuda":
        memory["cuda_train_max_allocated_mib"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
        torch.cuda.reset_peak_memory_stats(device)

    # --- translation: G in eval mode, no grad, batches of the training batch size
    G = trainer.G.eval()
    n_translate = opts.translate_batches or max(2, opts.steps)
    with torch.no_grad():
        G(x)  # warm-up
        translate_times = time_calls(lambda: G(x), n_translate, device)
    if device.type == "cuda":
        memory["cuda_translate_max_allocated_mib"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    memory["peak_rss_mib"] = round(_rss_peak_mib(), 1)  # whole process, includes Python and torch themselves

    train_s = _median(train_times)
    translate_s = _median(translate_times)
    return {
        "synthetic_data": True,
        "what": "median wall time of full CycleGAN training iterations (D_X, D_Y, G+F; Adam) and of "
        "generator forward passes (eval, no grad), on random tensors in [-1, 1]: no data loading",
        "preset": cfg.preset, "size": size, "batch_size": bs, "mode": opts.mode, "settings": asdict(settings),
        "device": str(device), "steps": opts.steps, "warmup": opts.warmup,
        "model": {"generator": cfg.model.generator, "n_blocks": cfg.model.n_blocks, "norm": cfg.model.norm,
                  "lambda_identity": cfg.train.lambda_identity, "params": params},
        "train_s_per_step": round(train_s, 5),
        "train_steps_per_s": round(1 / train_s, 4),
        "train_img_per_s": round(bs / train_s, 3),  # images per domain per second
        "train_s_all": [round(t, 5) for t in train_times],
        "translate_batch_size": bs,
        "translate_batches": n_translate,
        "translate_s_per_batch": round(translate_s, 5),
        "translate_img_per_s": round(bs / translate_s, 3),
        "translate_s_all": [round(t, 5) for t in translate_times],
        "memory": memory,
        "env": env,
    }  # fmt: skip


def format_bench(r: dict[str, Any]) -> str:
    """A few readable lines of a bench result."""
    mem = r["memory"]
    if "cuda_train_max_allocated_mib" in mem:
        peak = (f"CUDA max allocated {mem['cuda_train_max_allocated_mib']:.0f} MiB (train), "
                f"{mem['cuda_translate_max_allocated_mib']:.0f} MiB (translate)")  # fmt: skip
    else:
        peak = (f"peak RSS {mem['peak_rss_mib']:.0f} MiB (whole process; "
                f"{mem['rss_at_start_mib']:.0f} MiB before the models)")  # fmt: skip
    s, hw = r["settings"], r["env"].get("gpu", r["env"]["cpu"])
    return "\n".join([
        f"bench {r['preset']} preset, {r['size']} px, batch {r['batch_size']}, mode {r['mode']} "
        f"({s['precision']}, {'channels-last' if s['channels_last'] else 'NCHW'}, "
        f"{'compiled' if s['compile'] else 'eager'}) on {r['device']} ({hw}, "
        f"{r['env']['torch_threads']} threads); synthetic tensors",
        f"train      {r['train_s_per_step']:.4f} s/step (median of {r['steps']}, {r['warmup']} warm-up), "
        f"{r['train_img_per_s']:.2f} img/s per domain",
        f"translate  {r['translate_img_per_s']:.2f} img/s (batch {r['translate_batch_size']}, median of "
        f"{r['translate_batches']})",
        f"memory     {peak}",
        f"note       {s['note']}",
    ])  # fmt: skip
