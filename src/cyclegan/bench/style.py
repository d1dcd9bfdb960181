"""`cyclegan bench --task style`: Gatys style transfer against CycleGAN translation of the same image, in one
process, in seconds per image.

Gatys costs `--gatys-steps` forward+backward passes of the backbone, so the first backbone at the first size
is run in full (L-BFGS and Adam, interleaved, `--repeat` times) and every other (backbone, size) is
estimated as setup + steps x the median step time over `--probe-steps` steps (the per-step cost is
constant: both optimisers spend their time in the backbone). VGG19 is timed with random weights when the
real ones are not cached (the cost is the same). CycleGAN: one generator forward pass per image (median of
5 after a warm-up), for `--checkpoint`'s generator if given and the paper's ResNet generator (9 blocks, 64
filters, random weights).
"""

from __future__ import annotations

import platform
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torchvision.models.vgg import cfgs, make_layers

from .. import pretrained  # called as pretrained.vgg19_available, so a test can say the weights are missing
from ..config import ModelConfig
from ..data.io import frame_count
from ..errors import CycleGANError, counted, escape
from ..execution import REFERENCE
from ..inference import keyword_names, translate_tensor
from ..loading import load_generator, model_label
from ..models import build_generator
from ..progress import print_warning
from ..style.backbones import DEFAULTS, Lite0Backbone, VGG19Backbone
from ..style.gatys import GatysOptions, check_memory, load_image_01, stylize
from .measure import environment, median, time_calls
from .options import BenchOptions, StyleBenchOptions

GENERATOR_REPEAT = 5  # timed forward passes per generator and size


def style_backbone(name: str) -> tuple[nn.Module, bool]:
    """The backbone `name` with its default layers: (net, pretrained). VGG19 has its ImageNet weights when
    they are cached, else random ones: the cost of a step is the same, and timing must not download."""
    d = DEFAULTS[name]
    layers = [*d.content_layers, *d.style_layers]
    if name == "lite0":
        return Lite0Backbone(layers), True
    if pretrained.vgg19_available():
        return VGG19Backbone(layers), True
    return VGG19Backbone(layers, features=make_layers(cfgs["E"])), False


# `stylize` names its own --size; here the sizes are --style-sizes, the styles scaled alike, both optimisers timed
BENCH_FLAGS = {"--size": "--style-sizes", "--style-size": "--style-sizes", "--optimizer": None}


@keyword_names(BENCH_FLAGS)
def time_gatys(
    content: str, style: str, *, net: nn.Module, backbone: str, size: int, steps: int, optimizer: str, device
) -> tuple[float, list[float], float]:
    """(wall seconds of the call, per-step wall seconds, CPU seconds of this process) for one `stylize` run.

    With one torch thread the CPU seconds approximate the wall time on an idle core."""
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
    # the last `steps` passes are the steps: those before (the memory probe's, the content's, the style's) are not
    steps_at = stamps[len(stamps) - steps :]
    per_step = [b - a for a, b in zip(steps_at, steps_at[1:], strict=False)]
    return r.seconds, per_step, cpu


def gatys_estimate(total_s: float, step_s: list[float], steps: int) -> float:
    """Seconds of a `steps`-step run from a short probe run: its setup (all but the timed steps) plus
    `steps` times the median step."""
    return total_s - sum(step_s) + steps * median(step_s)


def time_generator(
    net: nn.Module, content: str, size: int, device: torch.device, repeat: int = GENERATOR_REPEAT
) -> float:
    """Median seconds of one translation of `content` (long side `size`) by `net`, after a warm-up."""
    x = load_image_01(content, size, cap_option=None) * 2 - 1  # (1, 3, H, W) in [-1, 1]; bench has no --max-pixels
    with torch.no_grad():
        translate_tensor(net, x)  # warm-up
        return median(time_calls(lambda: translate_tensor(net, x), repeat, device))


@keyword_names(BENCH_FLAGS)
def check_style_sides(s: StyleBenchOptions, nets: dict[str, tuple[nn.Module, bool]], device=None) -> None:
    """Refuse, before any timing, a --style-sizes value at which --content or --style is too small for a backbone's
    deepest layer, or its optimisation larger than the memory free on `device` (`gatys.check_memory`): `stylize`
    refused these only when that case came, minutes in (the first case's full runs lost), naming `stylize`'s
    --size and --backbone, options bench does not have. An image that cannot be read is refused naming its option."""
    first, size0 = s.backbones[0], s.style_sizes[0]
    for name, (net, _) in nets.items():
        least = getattr(net, "min_side", 1)
        for size in s.style_sizes:
            images = {}
            for flag, path in (("--content", s.content), ("--style", s.style)):
                try:
                    # as `stylize` resizes it: the long side to `size`; over the decode cap: "resize it" (no flag)
                    images[flag] = load_image_01(path, size, cap_option=None)
                except CycleGANError as e:  # it named the file alone ("image not found: x.png")
                    raise CycleGANError(f"option '{flag}': {e}") from None
                h, w = images[flag].shape[-2:]
                if min(h, w) < least:
                    raise CycleGANError(
                        f"option '--style-sizes' {size}: {flag} {path} is {w}x{h} px once resized, and the {name} "
                        f"backbone's layers need {least} px a side; give larger --style-sizes or drop {name} from "
                        "--backbones"
                    )
            steps = s.gatys_steps if (name, size) == (first, size0) else s.probe_steps  # as `_gatys_rows` runs it
            content, style = (images[f].to(device) for f in ("--content", "--style"))
            check_memory(net.to(device), content, {s.style: style}, GatysOptions(backbone=name, size=size, steps=steps))


def _gatys_rows(s: StyleBenchOptions, device: torch.device) -> list[dict[str, Any]]:
    rows = []
    nets = {name: style_backbone(name) for name in s.backbones}
    check_style_sides(s, nets, device)
    first, size0 = s.backbones[0], s.style_sizes[0]
    net = nets[first][0]
    weights = lambda name: "" if nets[name][1] else " (random weights)"  # noqa: E731
    # The first case run in full and repeated; the optimisers side by side, interleaved.
    full: dict[str, list[float]] = {"lbfgs": [], "adam": []}
    cpu: dict[str, list[float]] = {"lbfgs": [], "adam": []}
    for _ in range(s.repeat):
        for optimizer in full:
            seconds, _, c = time_gatys(
                s.content,
                s.style,
                net=net,
                backbone=first,
                size=size0,
                steps=s.gatys_steps,
                optimizer=optimizer,
                device=device,
            )
            full[optimizer].append(seconds)
            cpu[optimizer].append(c)
    for optimizer, times in full.items():
        rows.append(
            {
                "method": "gatys",
                "size": size0,
                "seconds": median(times),
                "what": f"Gatys {first}{weights(first)} {size0} px, {counted(s.gatys_steps, f'{optimizer} step')}",
                "how": f"median of {len(times)} runs; CPU time {median(cpu[optimizer]):.1f} s",
            }
        )
    for name, (net, _) in nets.items():
        for size in s.style_sizes:
            if (name, size) == (first, size0):
                continue
            total, per_step, _ = time_gatys(
                s.content,
                s.style,
                net=net,
                backbone=name,
                size=size,
                steps=s.probe_steps,
                optimizer="lbfgs",
                device=device,
            )
            rows.append(
                {
                    "method": "gatys",
                    "size": size,
                    "seconds": gatys_estimate(total, per_step, s.gatys_steps),
                    "what": f"Gatys {name}{weights(name)} {size} px, {counted(s.gatys_steps, 'lbfgs step')}",
                    "how": f"setup + {s.gatys_steps} x median step {median(per_step):.3f} s over {s.probe_steps} steps",
                }
            )
    return rows


def _generators(s: StyleBenchOptions, device: torch.device, *, progress: bool = True) -> dict[str, nn.Module]:
    gens = {}
    if s.checkpoint:  # `progress`: a `pretrained:NAME`'s download's
        G = load_generator(s.checkpoint, s.direction, device=device, progress=progress)
        origin = getattr(G, "_cyclegan_origin", None)  # `loading.Origin`: a pix2pix or CUT file was called CycleGAN
        config, pair = (origin.config, origin.pair) if origin else (None, False)
        title = model_label(config, s.checkpoint, pair=pair)
        name = f"{Path(s.checkpoint).name} generator"
        gens[name if title == "generator" else f"{title} {name}"] = G
    gens["CycleGAN paper generator (9 blocks, random weights)"] = (
        build_generator(ModelConfig(n_blocks=9)).eval().to(device)
    )
    return gens


def _generator_rows(s: StyleBenchOptions, gens: dict[str, nn.Module], device: torch.device) -> list[dict[str, Any]]:
    rows = []
    for label, g in gens.items():
        for size in s.style_sizes:
            rows.append(
                {
                    "method": "cyclegan",
                    "size": size,
                    "seconds": time_generator(g, s.content, size, device, GENERATOR_REPEAT),
                    "what": f"{label}, {size} px, one image",
                    "how": f"median of {GENERATOR_REPEAT} after warm-up",
                }
            )
    return rows


def bench_style(opts: BenchOptions, device: torch.device) -> dict[str, Any]:
    """Gatys and CycleGAN seconds per image per `opts` (task style); the JSON-ready result."""
    s = opts.style_task
    for path in dict.fromkeys([s.content, s.style]):  # the first frame was timed without a word
        if (n := frame_count(path)) > 1:
            print_warning(f"warning: {escape(path)} holds {n} frames; only the first is timed")
    env = environment(device)
    # first: a --checkpoint that cannot be read is refused before Gatys' minutes
    gens = _generators(s, device, progress=opts.progress)
    rows = _gatys_rows(s, device) + _generator_rows(s, gens, device)
    base = rows[0]["seconds"]
    for r in rows:
        r["relative"] = round(r["seconds"] / base, 4)
    return {
        "task": "style",
        "what": "seconds per image: Gatys style transfer (one optimisation per image) against one CycleGAN "
        "generator forward pass, relative to the first row",
        "device": str(device),
        "machine": f"{platform.processor() or platform.machine()}, {counted(torch.get_num_threads(), 'torch thread')}",
        "torch": torch.__version__,
        "content": s.content,
        "style": s.style,
        "rows": rows,
        "execution": REFERENCE.record(device),  # both methods compute in plain fp32
        "env": env,
    }


def format_style(r: dict[str, Any]) -> str:
    """A few readable lines of a `--task style` result."""
    hw = r["env"].get("gpu", r["env"]["cpu"])
    lines = [f"bench style on {r['device']} ({hw}, {counted(r['env']['torch_threads'], 'thread')}); seconds per image"]
    for row in r["rows"]:
        lines.append(f"{row['what']:<62} {row['seconds']:>9.3f} s  ({row['relative']:6.3f} x)  {row['how']}")
    return "\n".join(lines)
