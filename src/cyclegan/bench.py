"""`cyclegan bench`: how fast training, translation and style transfer run here, and the memory they need.

`--task train` (the default) times CycleGAN on synthetic tensors (uniform in [-1, 1]) of the configured
shape, so disk and JPEG decoding are not measured: this is the cost of the computation. Each training step
is one full CycleGAN iteration (`CycleGANTrainer.step`: D_X, D_Y, then G and F with adversarial + cycle
(+ identity) losses and three Adam updates); the figure is the median over the timed steps after untimed
warm-up steps. Translation is the generator in eval mode through `cyclegan translate`'s own function.
Modes:
- `reference`: the plain computation of the widely used reference implementation: fp32, contiguous
  NCHW tensors, eager execution, one generator call per output, same architecture and losses (identity
  0.5 for `paper`); batch 1 unless `--batch-size` is given.
- `default`: what `cyclegan train` and `cyclegan translate` run with by default on this device
  (`cyclegan.execution.choose_execution`: bf16 autocast, compile, ... where they pay).
- `both`: the two, step for step in one process (reference step, default step, ...), at the same batch
  size, and their speed-up: the fairest comparison on a shared, noisy machine.

`--task style` times Gatys style transfer against CycleGAN translation of the same image, in one process,
in seconds per image. Gatys costs `--gatys-steps` forward+backward passes of the backbone, so the first
backbone at the first size is run in full (L-BFGS and Adam, interleaved, `--repeat` times) and every other
(backbone, size) is estimated as setup + steps x the median step time over `--probe-steps` steps (the
per-step cost is constant: both optimisers spend their time in the backbone). VGG19 is timed with random
weights when the real ones are not cached (the cost is the same). CycleGAN: one generator forward pass
per image (median of 5 after a warm-up), for `--checkpoint`'s generator if given and the paper's ResNet
generator (9 blocks, 64 filters, random weights).
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
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from . import families
from .errors import CycleGANError
from .execution import REFERENCE, Execution, choose_execution
from .options import MAX_SEED, Options, opt
from .presets import preset_choices
from .shared_options import (
    OnOff,
    Precision,
    channels_last_option,
    checkpoint_option,
    compile_option,
    device_option,
    direction_option,
    precision_option,
)
from .style.backbones import BackboneName

Task = Literal["train", "style", "tiles"]
Mode = Literal["reference", "default", "both"]
# A translation call is short (~0.3 s for the paper model at 256 px here): a median of a few is at the
# mercy of one noisy moment on a shared machine, and ten more cost seconds next to the training steps.
TRANSLATE_MIN_BATCHES = 10
GENERATOR_REPEAT = 5  # timed forward passes per generator and size in the style task


@dataclass(frozen=True)
class StyleBenchOptions(Options):
    """The options of `--task style` (flattened into `cyclegan bench`'s flags)."""

    content: str | None = opt(None, "content image file (--task style; required there)", metavar="FILE")
    style: str | None = opt(None, "style image file (--task style; required there)", metavar="FILE")
    checkpoint: str | None = checkpoint_option(default=None)
    direction: Literal["AtoB", "BtoA"] = direction_option("BtoA")
    gatys_steps: int = opt(300, "Gatys steps per image (forward+backward passes of the backbone)", gt=0)
    probe_steps: int = opt(20, "steps timed per estimated Gatys case (setup + steps x their median)", ge=2)
    repeat: int = opt(3, "repeats of the full Gatys run (first backbone, first size)", gt=0)
    style_sizes: tuple[int, ...] = opt((256, 512), "long sides in pixels to time Gatys and CycleGAN at", gt=0)
    backbones: tuple[BackboneName, ...] = opt(("lite0", "vgg19"), "Gatys feature networks to time")


@dataclass(frozen=True)
class TileBenchOptions(Options):
    """The options of `--task tiles` (flattened into `cyclegan bench`'s flags)."""

    tile_checkpoint: str | None = opt(
        None, "generator to measure with --task tiles (run folder, file or pretrained:NAME)", metavar="RUN_OR_FILE",
        default_text="the paper generator with random weights",
    )  # fmt: skip
    tile_direction: Literal["AtoB", "BtoA"] = opt("AtoB", "direction of --tile-checkpoint")
    photo: str | None = opt(None, "photo for --task tiles, resized to each size", metavar="FILE",
                            default_text="a synthetic image")  # fmt: skip
    seam_size: int = opt(1024, "side of the square image tiled against the whole image (fp32)", gt=0)
    seam_tile: int = opt(256, "tile size for the seam measurement (default overlap)", gt=0)
    large: tuple[int, ...] = opt(
        (6000, 4000), "width and height of the image translated with `cyclegan translate`'s default options in a "
        "subprocess, for its peak memory and speed (0 0: skip)", ge=0,
    )  # fmt: skip
    figure: str | None = opt(None, "write a crop across a tile corner (whole | tiled | tiled without thumbnail "
                             "statistics) here", metavar="PNG")  # fmt: skip

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.large) != 2:
            raise CycleGANError(f"option '--large' takes a width and a height, got {len(self.large)} number(s)")


@dataclass(frozen=True)
class BenchOptions(Options):
    """What `cyclegan bench` measures; see `cyclegan bench --help` for each option."""

    task: Task = opt("train", "train: training steps and translation; style: Gatys against CycleGAN per image; "
                     "tiles: tiled against whole-image translation, and a large photo's memory and speed")  # fmt: skip
    preset: str | None = opt(
        None, "architecture recipe to time (paper, seed, fast)", default_text="paper", choices=preset_choices
    )
    model: str | None = opt(
        None, "model family to time: cyclegan, pix2pix, cut or fastcut", flag="--model", choices=families.names,
        default_text="cyclegan",
    )
    size: int | None = opt(None, "image size", gt=0, default_text="the preset's")
    batch_size: int | None = opt(None, "training batch", gt=0, default_text="the preset's; 1 in reference mode")
    steps: int = opt(5, "timed training steps", gt=0)
    warmup: int = opt(1, "untimed steps first", ge=0)
    translate_batches: int | None = opt(None, "timed translation batches", gt=0, default_text="as --steps, at least 10")
    mode: Mode = opt(
        "default",
        "reference: fp32, NCHW, eager, as the reference implementation; default: what train and translate use "
        "by default here; both: the two interleaved step by step, with the speed-up",
    )
    # default mode only (reference is always fp32, NCHW, eager): as `cyclegan train`'s options
    precision: Precision = precision_option()
    channels_last: OnOff = channels_last_option()
    compile: OnOff = compile_option()
    device: str = device_option()
    threads: int | None = opt(
        None, "CPU threads (on a busy shared machine 1 is steadier)", gt=0, default_text="torch's, one per core"
    )
    seed: int = opt(0, "seed of the synthetic input tensors", ge=0, le=MAX_SEED)
    json: str | None = opt(None, "write the measurements as JSON here", metavar="FILE")
    style_task: StyleBenchOptions = opt(factory=StyleBenchOptions)
    tiles_task: TileBenchOptions = opt(factory=TileBenchOptions)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.task == "style":
            for name in ("content", "style"):
                if getattr(self.style_task, name) is None:
                    raise CycleGANError(f"option '--{name}' is required with --task style")


# --- measuring -------------------------------------------------------------------------------------------


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


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


def _median(xs: list[float]) -> float:
    return float(statistics.median(xs)) if xs else float("nan")


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


# --- task train: training steps and translation ----------------------------------------------------------


def trainer_and_inputs(cfg, execution: Execution, device: torch.device, *, total_steps: int, seed: int = 0):
    """A fresh trainer of `cfg`'s family for `cfg` and one synthetic batch per domain: (trainer, x, y).

    x, y: (batch_size, 3, size, size) uniform in [-1, 1] on `device`, drawn from their own generator
    seeded with `seed` (torch's global RNG is left to the trainer, which seeds it for the weight init).
    """
    from .train import trainer_class

    bs, size = cfg.train.batch_size, cfg.data.size
    gen = torch.Generator().manual_seed(seed)
    x = (torch.rand(bs, 3, size, size, generator=gen) * 2 - 1).to(device)  # (B, 3, S, S) in [-1, 1]
    y = (torch.rand(bs, 3, size, size, generator=gen) * 2 - 1).to(device)
    trainer = trainer_class(cfg.model.family)(cfg, total_steps=total_steps, device=device, execution=execution)
    return trainer, x, y


def mode_execution(mode: str, device: torch.device, *, batch_norm: bool, opts: BenchOptions) -> Execution:
    """The execution settings `mode` times on `device` (default mode: what a long `train` run chooses)."""
    if mode == "reference":
        return REFERENCE
    return choose_execution(
        opts.precision, opts.channels_last, opts.compile, device=device, compile_pays=True, batch_norm=batch_norm
    )


def time_train_step(cfg, device: torch.device, *, warmup: int = 2, repeat: int = 5, quantile: float = 0.5) -> float:
    """Seconds of one training step of `cfg` on `device` (the `quantile` of `repeat` timed steps: the median
    by default), computed as a short `cyclegan train` run would (no compilation), on synthetic tensors; the
    trainer is thrown away and torch's global RNG is restored, so a run started afterwards is the same as
    without this measurement."""
    rng_state = torch.get_rng_state()
    t = cfg.train
    execution = choose_execution(t.precision, t.channels_last, t.compile, device=device, compile_pays=False,
                                 batch_norm=cfg.model.norm == "batch")  # fmt: skip
    trainer, x, y = trainer_and_inputs(cfg, execution, device, total_steps=1)
    step = lambda: trainer.step(x, y)  # noqa: E731
    time_calls(step, warmup, device)
    times = sorted(time_calls(step, repeat, device))
    torch.set_rng_state(rng_state)
    return _median(times) if quantile == 0.5 else times[round(quantile * (len(times) - 1))]


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


def bench_train(opts: BenchOptions, device: torch.device) -> dict[str, Any]:
    """Training steps and translation per `opts` (task train); the JSON-ready result."""
    from .config import resolve
    from .inference import translate_tensor

    overrides: dict[str, Any] = {}
    if opts.size is not None:
        overrides["size"] = opts.size
    if opts.batch_size is not None:
        overrides["batch_size"] = opts.batch_size
    elif opts.mode == "reference":
        overrides["batch_size"] = 1  # the reference implementation's default, for every preset
    if opts.model is not None:
        overrides["family"] = opts.model
    cfg = resolve(overrides, preset=opts.preset)
    modes = ["reference", "default"] if opts.mode == "both" else [opts.mode]
    batch_norm = cfg.model.norm == "batch"
    executions = {m: mode_execution(m, device, batch_norm=batch_norm, opts=opts) for m in modes}
    env = environment(device)
    size, bs = cfg.data.size, cfg.train.batch_size
    rss_start = _rss_now_mib()

    total = opts.warmup + opts.steps
    runs = {m: trainer_and_inputs(cfg, ex, device, total_steps=total, seed=opts.seed) for m, ex in executions.items()}
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
        "task": "train",
        "synthetic_data": True,
        "what": f"median wall time of full {cfg.model.family} training iterations (every discriminator and "
        "generator update, Adam) and of generator forward passes (eval, no grad, as `cyclegan translate`), on "
        "random tensors in [-1, 1]: no data loading",
        "preset": cfg.preset, "size": size, "batch_size": bs, "mode": opts.mode, "device": str(device),
        "steps": opts.steps, "warmup": opts.warmup,
        "model": {"family": cfg.model.family, "generator": cfg.model.generator, "n_blocks": cfg.model.n_blocks,
                  "norm": cfg.model.norm, "lambda_identity": cfg.train.lambda_identity, "params": params},
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


# --- task style: Gatys against CycleGAN, seconds per image ---------------------------------------------


def style_backbone(name: str) -> tuple[nn.Module, bool]:
    """The backbone `name` with its default layers: (net, pretrained). VGG19 has its ImageNet weights when
    they are cached, else random ones: the cost of a step is the same, and timing must not download."""
    from . import pretrained
    from .style.backbones import DEFAULTS, Lite0Backbone, VGG19Backbone

    d = DEFAULTS[name]
    layers = [*d.content_layers, *d.style_layers]
    if name == "lite0":
        return Lite0Backbone(layers), True
    if pretrained.vgg19_available():
        return VGG19Backbone(layers), True
    from torchvision.models.vgg import cfgs, make_layers

    return VGG19Backbone(layers, features=make_layers(cfgs["E"])), False


def time_gatys(
    content: str, style: str, *, net: nn.Module, backbone: str, size: int, steps: int, optimizer: str, device
) -> tuple[float, list[float], float]:
    """(wall seconds of the call, per-step wall seconds, CPU seconds of this process) for one `stylize` run.

    With one torch thread the CPU seconds approximate the wall time on an idle core."""
    from .style.gatys import GatysOptions, stylize

    stamps: list[float] = []
    orig = net.forward

    def timed(x):  # a time stamp per forward pass of the image being optimised
        stamps.append(time.perf_counter())
        return orig(x)

    net.forward = timed  # type: ignore[method-assign]
    cpu0 = time.process_time()
    try:
        options = GatysOptions(backbone=backbone, size=size, steps=steps, optimizer=optimizer)
        r = stylize(content, style, options, net=net, device=device, progress=False)
    finally:
        del net.forward
    cpu = time.process_time() - cpu0
    per_step = [b - a for a, b in zip(stamps[2:], stamps[3:], strict=False)]  # skip content/style passes
    return r.seconds, per_step, cpu


def gatys_estimate(total_s: float, step_s: list[float], steps: int) -> float:
    """Seconds of a `steps`-step run from a short probe run: its setup (all but the timed steps) plus
    `steps` times the median step."""
    return total_s - sum(step_s) + steps * _median(step_s)


def time_generator(
    net: nn.Module, content: str, size: int, device: torch.device, repeat: int = GENERATOR_REPEAT
) -> float:
    """Median seconds of one translation of `content` (long side `size`) by `net`, after a warm-up."""
    from .inference import translate_tensor
    from .style.gatys import load_image_01

    x = load_image_01(content, size) * 2 - 1  # (1, 3, H, W) in [-1, 1]
    with torch.no_grad():
        translate_tensor(net, x)  # warm-up
        return _median(time_calls(lambda: translate_tensor(net, x), repeat, device))


def _gatys_rows(s: StyleBenchOptions, device: torch.device) -> list[dict[str, Any]]:
    rows = []
    nets = {name: style_backbone(name) for name in s.backbones}
    first, size0 = s.backbones[0], s.style_sizes[0]
    net = nets[first][0]
    weights = lambda name: "" if nets[name][1] else " (random weights)"  # noqa: E731
    # The first case run in full and repeated; the optimisers side by side, interleaved.
    full: dict[str, list[float]] = {"lbfgs": [], "adam": []}
    cpu: dict[str, list[float]] = {"lbfgs": [], "adam": []}
    for _ in range(s.repeat):
        for optimizer in full:
            seconds, _, c = time_gatys(s.content, s.style, net=net, backbone=first, size=size0, steps=s.gatys_steps,
                                       optimizer=optimizer, device=device)  # fmt: skip
            full[optimizer].append(seconds)
            cpu[optimizer].append(c)
    for optimizer, times in full.items():
        rows.append({
            "method": "gatys", "size": size0, "seconds": _median(times),
            "what": f"Gatys {first}{weights(first)} {size0} px, {s.gatys_steps} {optimizer} steps",
            "how": f"median of {len(times)} runs; CPU time {_median(cpu[optimizer]):.1f} s",
        })  # fmt: skip
    for name, (net, _) in nets.items():
        for size in s.style_sizes:
            if (name, size) == (first, size0):
                continue
            total, per_step, _ = time_gatys(s.content, s.style, net=net, backbone=name, size=size,
                                            steps=s.probe_steps, optimizer="lbfgs", device=device)  # fmt: skip
            rows.append({
                "method": "gatys", "size": size, "seconds": gatys_estimate(total, per_step, s.gatys_steps),
                "what": f"Gatys {name}{weights(name)} {size} px, {s.gatys_steps} lbfgs steps",
                "how": f"setup + {s.gatys_steps} x median step {_median(per_step):.3f} s over {s.probe_steps} steps",
            })  # fmt: skip
    return rows


def _generator_rows(s: StyleBenchOptions, device: torch.device) -> list[dict[str, Any]]:
    from .config import ModelConfig
    from .loading import load_generator
    from .models import build_generator

    gens = {}
    if s.checkpoint:
        gens[f"CycleGAN {Path(s.checkpoint).name} generator"] = load_generator(s.checkpoint, s.direction, device=device)
    gens["CycleGAN paper generator (9 blocks, random weights)"] = (
        build_generator(ModelConfig(n_blocks=9)).eval().to(device)
    )
    rows = []
    for label, g in gens.items():
        for size in s.style_sizes:
            rows.append({
                "method": "cyclegan", "size": size,
                "seconds": time_generator(g, s.content, size, device, GENERATOR_REPEAT),
                "what": f"{label}, {size} px, one image", "how": f"median of {GENERATOR_REPEAT} after warm-up",
            })  # fmt: skip
    return rows


def bench_style(opts: BenchOptions, device: torch.device) -> dict[str, Any]:
    """Gatys and CycleGAN seconds per image per `opts` (task style); the JSON-ready result."""
    s = opts.style_task
    env = environment(device)
    rows = _gatys_rows(s, device) + _generator_rows(s, device)
    base = rows[0]["seconds"]
    for r in rows:
        r["relative"] = round(r["seconds"] / base, 4)
    return {
        "task": "style",
        "what": "seconds per image: Gatys style transfer (one optimisation per image) against one CycleGAN "
        "generator forward pass, relative to the first row",
        "device": str(device),
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads",
        "torch": torch.__version__,
        "content": s.content, "style": s.style,
        "rows": rows,
        "env": env,
    }  # fmt: skip


# --- task tiles: seams and memory of tiled translation ----------------------------------------------------


def _tiles_generator(t: TileBenchOptions, device: torch.device) -> tuple[nn.Module, str]:
    from .config import ModelConfig
    from .loading import load_generator
    from .models import build_generator

    if t.tile_checkpoint:
        return load_generator(
            t.tile_checkpoint, t.tile_direction, device=device
        ), f"{t.tile_checkpoint} {t.tile_direction}"
    torch.manual_seed(0)
    return build_generator(ModelConfig(n_blocks=9)).eval().to(device), "paper generator, random weights"


def _tiles_photo(t: TileBenchOptions, width: int, height: int):
    """The photo (or a synthetic image: smooth colour fields and edges) as an RGB PIL image of width x height."""
    from PIL import Image, ImageDraw, ImageFilter

    if t.photo:
        from .data.io import read_image

        return read_image(t.photo).resize((width, height), Image.Resampling.BICUBIC)
    g = torch.Generator().manual_seed(0)
    small = (torch.rand(3, 6, 8, generator=g) * 255).byte().permute(1, 2, 0).numpy()
    im = Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(im)
    for i in range(12):  # edges for the convolutions to see
        x0, y0 = (torch.rand(2, generator=g) * torch.tensor([width, height])).tolist()
        draw.ellipse([x0, y0, x0 + width / 6, y0 + height / 6], outline=(255 - 20 * i, 20 * i, 128), width=6)
    return im.filter(ImageFilter.GaussianBlur(1))


def _grey_levels(y: torch.Tensor):
    import numpy as np

    from .data.io import to_pil

    return np.asarray(to_pil(y[0])).astype(np.int16)


def seam_figure(images: dict[str, Any], corner: tuple[int, int], path: str, *, crop: int = 128, zoom: int = 2) -> None:
    """A `crop`-px square of each image (H, W, 3) centred on `corner` (y, x: where four tiles meet), side by
    side, enlarged `zoom` times (nearest), labelled."""
    from PIL import Image, ImageDraw

    from .files import write_atomic

    panels = []
    for label, arr in images.items():
        y0, x0 = max(0, corner[0] - crop // 2), max(0, corner[1] - crop // 2)
        im = Image.fromarray(arr[y0 : y0 + crop, x0 : x0 + crop].clip(0, 255).astype("uint8"))
        im = im.resize((crop * zoom, crop * zoom), Image.Resampling.NEAREST)
        panel = Image.new("RGB", (crop * zoom, crop * zoom + 18), "white")
        panel.paste(im, (0, 18))
        ImageDraw.Draw(panel).text((4, 3), label, fill="black")
        panels.append(panel)
    out = Image.new("RGB", (sum(p.width for p in panels) + 8 * (len(panels) - 1), panels[0].height), "white")
    for i, p in enumerate(panels):
        out.paste(p, (i * (p.width + 8), 0))
    write_atomic(path, lambda tmp: out.save(tmp, format="PNG"))


def _large_run(t: TileBenchOptions, device: torch.device, gen_label: str) -> dict[str, Any]:
    """`cyclegan translate` with default options on a t.large photo in a subprocess: its peak RSS (wait4's
    rusage of that process alone), wall time and output size."""
    import subprocess
    import tempfile

    from PIL import Image

    width, height = t.large
    with tempfile.TemporaryDirectory(prefix="cyclegan-bench-tiles-") as tmp:
        photo = Path(tmp) / "large.jpg"
        _tiles_photo(t, width, height).save(photo, quality=95)
        ckpt = t.tile_checkpoint
        if ckpt is None:  # the random paper generator, as a reference-layout file
            ckpt = str(Path(tmp) / "paper.pth")
            torch.save(_tiles_generator(t, torch.device("cpu"))[0].state_dict(), ckpt)
        cmd = [sys.executable, "-m", "cyclegan", "translate", str(photo), "--checkpoint", ckpt, "--direction",
               t.tile_direction, "--out", str(Path(tmp) / "out"), "--no-progress", "--device", str(device)]  # fmt: skip
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        out, err = proc.stdout.read(), proc.stderr.read()
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise CycleGANError(f"the translation of the {width}x{height} photo failed: {err.strip()[-300:] or out}")
        with Image.open(Path(tmp) / "out" / "large.png") as im:
            size = im.size
    peak = usage.ru_maxrss / 2**20 if sys.platform == "darwin" else usage.ru_maxrss / 2**10
    mp = width * height / 1e6
    return {"size": [width, height], "output_size": list(size), "peak_rss_mib": round(peak, 1),
            "seconds": round(seconds, 1), "s_per_megapixel": round(seconds / mp, 2),
            "command": " ".join(["cyclegan", *cmd[3:]]), "generator": gen_label}  # fmt: skip


def bench_tiles(opts: BenchOptions, device: torch.device) -> dict[str, Any]:
    """Tiled against whole-image translation in fp32 (mean absolute difference in grey levels, with the
    thumbnail's statistics at several sizes and without), and a large photo's peak memory and speed."""
    import numpy as np

    from .data.io import to_tensor
    from .inference import translate_batch
    from .tiling import DEFAULT_OVERLAP, TilingOptions, tile_starts

    t = opts.tiles_task
    overlap = min(DEFAULT_OVERLAP, t.seam_tile // 4)  # the default, unless the tiles are small
    env = environment(device)
    net, label = _tiles_generator(t, device)
    x = to_tensor(_tiles_photo(t, t.seam_size, t.seam_size))[None]  # (1, 3, S, S) in [-1, 1]
    t0 = time.perf_counter()
    whole = _grey_levels(translate_batch(net, x, tiling=TilingOptions(tile=0)))
    whole_s = time.perf_counter() - t0
    rows, images = [], {"whole image": whole}
    for thumbnail in sorted({1024, t.seam_size // 2, t.seam_size // 4, 0}, reverse=True):
        t0 = time.perf_counter()
        options = TilingOptions(tile=t.seam_tile, tile_overlap=overlap, thumbnail=thumbnail)
        used = options.plan(net, t.seam_size, t.seam_size).thumbnail  # capped by --max-memory
        y = translate_batch(net, x, tiling=options)
        seconds = time.perf_counter() - t0
        tiled = _grey_levels(y)
        diff = np.abs(tiled - whole)
        rows.append({"thumbnail": thumbnail, "thumbnail_used": used,
                     "mean_abs_grey_levels": round(float(diff.mean()), 3),
                     "p99_abs_grey_levels": float(np.percentile(diff, 99)), "max_abs_grey_levels": int(diff.max()),
                     "seconds": round(seconds, 2)})  # fmt: skip
        if thumbnail == 1024:
            images["tiled, thumbnail 1024"] = tiled
            images["|tiled - whole| x 8"] = diff * 8
        if thumbnail == 0:
            images["tiled, each tile its own statistics"] = tiled
    if t.figure:  # the meeting point of four tiles where the whole image has the most detail
        starts = tile_starts(t.seam_size, t.seam_tile, overlap, 4)
        seams = [(s + e) // 2 for s, e in zip(starts[1:], [s + t.seam_tile for s in starts])] or [t.seam_size // 2]
        detail = lambda c: whole[max(0, c[0] - 64) : c[0] + 64, max(0, c[1] - 64) : c[1] + 64].std()  # noqa: E731
        corner = max(((y, x) for y in seams for x in seams), key=detail)
        seam_figure(images, corner, t.figure)
    result: dict[str, Any] = {
        "task": "tiles",
        "what": f"{t.seam_size}x{t.seam_size} image, {t.seam_tile} px tiles (overlap {overlap}) against the "
        "whole image, fp32, mean |difference| of the 8-bit outputs; thumbnail 0: each tile its own InstanceNorm "
        "statistics",
        "generator": label, "photo": t.photo or "synthetic", "device": str(device),
        "whole_seconds": round(whole_s, 2), "seams": rows, "figure": t.figure,
    }  # fmt: skip
    if all(t.large):
        result["large"] = _large_run(t, device, label)
    result["env"] = env
    return result


def _format_tiles(r: dict[str, Any]) -> str:
    lines = [f"bench tiles on {r['device']}: {r['generator']}, photo {r['photo']}", r["what"]]
    for row in r["seams"]:
        used = "" if row["thumbnail_used"] == row["thumbnail"] else f" (capped at {row['thumbnail_used']})"
        lines.append(f"  thumbnail {row['thumbnail']:>5}{used}: mean {row['mean_abs_grey_levels']:.2f} grey levels, "
                     f"99th percentile {row['p99_abs_grey_levels']:.0f}, max {row['max_abs_grey_levels']} "
                     f"({row['seconds']:.1f} s; whole image {r['whole_seconds']:.1f} s)")  # fmt: skip
    if "large" in r:
        g = r["large"]
        lines += [
            f"large: {g['size'][0]}x{g['size'][1]} -> {g['output_size'][0]}x{g['output_size'][1]}, peak RSS "
            f"{g['peak_rss_mib']:.0f} MiB, {g['seconds']:.0f} s ({g['s_per_megapixel']:.2f} s per megapixel)",
            f"  {g['command']}",
        ]
    if r.get("figure"):
        lines.append(f"figure: {r['figure']}")
    return "\n".join(lines)


# --- both tasks ------------------------------------------------------------------------------------------


def bench(opts: BenchOptions) -> dict[str, Any]:
    """Measure per `opts` (`opts.task`: train or style); returns the JSON-ready result."""
    from .execution import resolve_device

    if opts.threads is not None:
        torch.set_num_threads(opts.threads)
    device = resolve_device(opts.device)
    if opts.task == "tiles":
        return bench_tiles(opts, device)
    return bench_style(opts, device) if opts.task == "style" else bench_train(opts, device)


def _describe(settings: dict[str, Any]) -> str:
    return Execution(**settings).describe()


def format_bench(r: dict[str, Any]) -> str:
    """A few readable lines of a bench result (of either task)."""
    if r.get("task") == "tiles":
        return _format_tiles(r)
    return _format_style(r) if r.get("task") == "style" else _format_train(r)


def _format_train(r: dict[str, Any]) -> str:
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
        f"({hw}, {r['env']['torch_threads']} threads); synthetic tensors; --model {r['model']['family']}",
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


def _format_style(r: dict[str, Any]) -> str:
    hw = r["env"].get("gpu", r["env"]["cpu"])
    lines = [f"bench style on {r['device']} ({hw}, {r['env']['torch_threads']} threads); seconds per image"]
    for row in r["rows"]:
        lines.append(f"{row['what']:<62} {row['seconds']:>9.3f} s  ({row['relative']:6.3f} x)  {row['how']}")
    return "\n".join(lines)
