"""`cyclegan bench`: how long a training step takes, how fast translation is, how much memory it needs.

Timing uses synthetic tensors (uniform in [-1, 1]) of the configured shape, so disk and JPEG decoding are
not measured: this is the cost of the computation. Each training step is one full CycleGAN iteration
(`CycleGANTrainer.step`: D_X, D_Y, then G and F with adversarial + cycle (+ identity) losses and three
Adam updates); the figure is the median over the timed steps after untimed warm-up steps.

Modes:
- `reference`: the plain computation of the widely used reference implementation: fp32, contiguous
  NCHW tensors, eager execution, one generator call per output, same architecture and losses (identity
  0.5 for `paper`); batch 1 unless `--batch-size` is given.
- `default`: what `cyclegan train` and `cyclegan translate` run with by default on this device
  (`cyclegan.execution.choose_execution`: bf16 autocast, compile, ... where they pay).
- `both`: the two, step for step in one process (reference step, default step, ...), at the same batch
  size, and their speed-up: the fairest comparison on a shared, noisy machine.
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
from ..execution import REFERENCE, Execution, choose_execution

Mode = Literal["reference", "default", "both"]
# A translation call is short (~0.3 s for the paper model at 256 px here): a median of a few is at the
# mercy of one noisy moment on a shared machine, and ten more cost seconds next to the training steps.
TRANSLATE_MIN_BATCHES = 10


def mode_execution(mode: str, device: torch.device, *, batch_norm: bool, opts: BenchOptions) -> Execution:
    """The execution settings `mode` times on `device` (default mode: the same choice as `train`)."""
    if mode == "reference":
        return REFERENCE
    return choose_execution(
        opts.precision, opts.channels_last, opts.compile, device=device, compile_pays=True, batch_norm=batch_norm
    )


@dataclass(frozen=True)
class BenchOptions:
    preset: str = "paper"
    size: int | None = None  # None: the preset's size
    batch_size: int | None = None  # None: the preset's batch size
    steps: int = 5
    warmup: int = 1
    translate_batches: int | None = None  # None: as many as `steps`, at least TRANSLATE_MIN_BATCHES
    mode: Mode = "default"
    device: str = "auto"
    threads: int | None = None  # CPU threads for torch (None: torch's default, one per core)
    seed: int = 0
    # default mode only (reference is always fp32, NCHW, eager): as `cyclegan train`'s options
    precision: str = "auto"
    channels_last: str = "auto"
    compile: str = "auto"


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


def _trainer_and_inputs(cfg, ex: Execution, device: torch.device, total: int, seed: int):
    from ..train.cyclegan import CycleGANTrainer

    bs, size = cfg.train.batch_size, cfg.data.size
    gen = torch.Generator().manual_seed(seed)
    x = (torch.rand(bs, 3, size, size, generator=gen) * 2 - 1).to(device)  # (B, 3, S, S) in [-1, 1]
    y = (torch.rand(bs, 3, size, size, generator=gen) * 2 - 1).to(device)
    return CycleGANTrainer(cfg, total_steps=total, device=device, execution=ex), x, y


def _summary(train_times: list[float], translate_times: list[float], warmup_s: float, bs: int) -> dict[str, Any]:
    train_s, translate_s = _median(train_times), _median(translate_times)
    return {
        "warmup_s": round(warmup_s, 3),  # includes torch.compile's one-off compilation
        "train_s_per_step": round(train_s, 5),
        "train_steps_per_s": round(1 / train_s, 4),
        "train_img_per_s": round(bs / train_s, 3),  # images per domain per second
        "train_s_all": [round(t, 5) for t in train_times],
        "translate_s_per_batch": round(translate_s, 5),
        "translate_img_per_s": round(bs / translate_s, 3),
        "translate_s_all": [round(t, 5) for t in translate_times],
    }


def bench(opts: BenchOptions) -> dict[str, Any]:
    """Measure training and translation per `opts`; returns the JSON-ready result."""
    from ..config import resolve
    from ..execution import resolve_device
    from ..inference import translate_tensor

    if opts.mode not in ("reference", "default", "both"):
        raise CycleGANError(f"option '--mode' must be reference, default or both, got {opts.mode!r}")
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
    modes = ["reference", "default"] if opts.mode == "both" else [opts.mode]
    batch_norm = cfg.model.norm == "batch"
    executions = {m: mode_execution(m, device, batch_norm=batch_norm, opts=opts) for m in modes}
    env = environment(device)
    size, bs = cfg.data.size, cfg.train.batch_size
    rss_start = _rss_now_mib()

    total = opts.warmup + opts.steps
    runs = {m: _trainer_and_inputs(cfg, ex, device, total, opts.seed) for m, ex in executions.items()}
    trainer0 = runs[modes[0]][0]
    params = {k: sum(p.numel() for p in net.parameters()) for k, net in trainer0.networks.items()}

    # --- training steps; with two modes, one step of each in turn so both see the same machine load
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    warmup_s = {m: sum(time_calls(lambda r=r: r[0].step(r[1], r[2]), opts.warmup, device)) for m, r in runs.items()}
    train_times: dict[str, list[float]] = {m: [] for m in modes}
    for _ in range(opts.steps):
        for m, r in runs.items():
            train_times[m] += time_calls(lambda r=r: r[0].step(r[1], r[2]), 1, device)
    memory: dict[str, float] = {"rss_at_start_mib": round(rss_start, 1)}
    if device.type == "cuda":
        memory["cuda_train_max_allocated_mib"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
        torch.cuda.reset_peak_memory_stats(device)

    # --- translation: G in eval mode through `cyclegan translate`'s own function, batches of the training size
    n_translate = opts.translate_batches or max(TRANSLATE_MIN_BATCHES, opts.steps)
    nets = {}
    for m, (trainer, x, _) in runs.items():
        nets[m] = executions[m].compiled(trainer.G.eval())
        t0 = time.perf_counter()
        translate_tensor(nets[m], x, execution=executions[m])  # warm-up (and compilation)
        warmup_s[m] += time.perf_counter() - t0
    translate_times: dict[str, list[float]] = {m: [] for m in modes}
    for _ in range(n_translate):
        for m, (_, x, _) in runs.items():
            call = lambda net=nets[m], x=x, e=executions[m]: translate_tensor(net, x, execution=e)  # noqa: E731
            translate_times[m] += time_calls(call, 1, device)
    if device.type == "cuda":
        memory["cuda_translate_max_allocated_mib"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    memory["peak_rss_mib"] = round(_rss_peak_mib(), 1)  # whole process, includes Python and torch themselves

    result: dict[str, Any] = {
        "synthetic_data": True,
        "what": "median wall time of full CycleGAN training iterations (D_X, D_Y, G+F; Adam) and of "
        "generator forward passes (eval, no grad, as `cyclegan translate`), on random tensors in [-1, 1]: "
        "no data loading",
        "preset": cfg.preset, "size": size, "batch_size": bs, "mode": opts.mode, "device": str(device),
        "steps": opts.steps, "warmup": opts.warmup,
        "model": {"generator": cfg.model.generator, "n_blocks": cfg.model.n_blocks, "norm": cfg.model.norm,
                  "lambda_identity": cfg.train.lambda_identity, "params": params},
        "translate_batch_size": bs,
        "translate_batches": n_translate,
    }  # fmt: skip
    per_mode = {
        m: {"settings": asdict(executions[m]), **_summary(train_times[m], translate_times[m], warmup_s[m], bs)}
        for m in modes
    }
    if opts.mode == "both":
        result["modes"] = per_mode
        ref, dflt = per_mode["reference"], per_mode["default"]
        result["speedup"] = {
            "train": round(ref["train_s_per_step"] / dflt["train_s_per_step"], 3),
            "translate": round(ref["translate_s_per_batch"] / dflt["translate_s_per_batch"], 3),
        }
    else:
        result.update(per_mode[opts.mode])
    result["memory"] = memory
    result["env"] = env
    return result


def _describe(settings: dict[str, Any]) -> str:
    return Execution(**settings).describe()


def format_bench(r: dict[str, Any]) -> str:
    """A few readable lines of a bench result."""
    mem = r["memory"]
    if "cuda_train_max_allocated_mib" in mem:
        peak = (f"CUDA max allocated {mem['cuda_train_max_allocated_mib']:.0f} MiB (train), "
                f"{mem['cuda_translate_max_allocated_mib']:.0f} MiB (translate)")  # fmt: skip
    else:
        peak = (f"peak RSS {mem['peak_rss_mib']:.0f} MiB (whole process; "
                f"{mem['rss_at_start_mib']:.0f} MiB before the models)")  # fmt: skip
    if r["mode"] == "both":
        peak += "; both modes' models in one process"
    hw = r["env"].get("gpu", r["env"]["cpu"])
    lines = [
        f"bench {r['preset']} preset, {r['size']} px, batch {r['batch_size']}, mode {r['mode']} on {r['device']} "
        f"({hw}, {r['env']['torch_threads']} threads); synthetic tensors",
    ]
    modes = r["modes"] if r["mode"] == "both" else {r["mode"]: r}
    for m, x in modes.items():
        lines += [
            f"{m} ({_describe(x['settings'])}):",
            f"  train      {x['train_s_per_step']:.4f} s/step (median of {r['steps']}, after {r['warmup']} warm-up "
            f"step(s) that took {x['warmup_s']:.1f} s), {x['train_img_per_s']:.2f} img/s per domain",
            f"  translate  {x['translate_img_per_s']:.2f} img/s (batch {r['translate_batch_size']}, median of "
            f"{r['translate_batches']})",
        ]
    if "speedup" in r:
        lines.append(f"speed-up   train {r['speedup']['train']:.2f}x, translate {r['speedup']['translate']:.2f}x "
                     "(default over reference, medians of interleaved runs)")  # fmt: skip
    lines.append(f"memory     {peak}")
    return "\n".join(lines)
