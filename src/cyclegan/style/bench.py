"""Speed of Gatys style transfer against CycleGAN translation of the same image, measured in one process.

    python -m cyclegan.style.bench --content tubingen.jpg --style starry_night.jpg [--checkpoint RUN]

Gatys costs `steps` forward+backward passes of the backbone, so the seconds for 300 steps are measured
directly where cheap (--full, repeated --repeat times) and otherwise as setup + 300 x the median step time
over --probe-steps steps (the per-step cost is constant: both optimisers spend their time in the backbone).
VGG19 is timed with random weights when the real ones are not cached (the cost is the same).
CycleGAN: one generator forward pass per image (median of 5 after a warm-up), for the checkpoint's
generator if given and the paper's ResNet generator (9 blocks, 64 filters, random weights).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch
from torch import nn


def _vgg(layers: list[str]) -> tuple[nn.Module, bool]:
    """The vgg19 backbone with ImageNet weights if cached, else with random weights; (net, pretrained)."""
    from torchvision.models.vgg import cfgs, make_layers

    from ..pretrained import vgg19_available
    from .backbones import VGG19Backbone

    if vgg19_available():
        return VGG19Backbone(layers), True
    return VGG19Backbone(layers, features=make_layers(cfgs["E"])), False


def time_gatys(content: str, style: str, *, net: nn.Module, backbone: str, size: int, steps: int, optimizer: str):
    """(wall seconds of the call, per-step wall seconds, CPU seconds of this process) for one `stylize` run.

    With one torch thread the CPU seconds approximate the wall time on an idle core."""
    from .gatys import stylize

    stamps: list[float] = []
    orig = net.forward

    def timed(x):  # a time stamp per forward pass of the image being optimised
        stamps.append(time.perf_counter())
        return orig(x)

    net.forward = timed  # type: ignore[method-assign]
    cpu0 = time.process_time()
    try:
        r = stylize(content, style, backbone=backbone, net=net, size=size, steps=steps, optimizer=optimizer,
                    progress=False)  # fmt: skip
    finally:
        del net.forward
    cpu = time.process_time() - cpu0
    per_step = [b - a for a, b in zip(stamps[2:], stamps[3:], strict=False)]  # skip content/style passes
    return r.seconds, per_step, cpu


def time_generator(net: nn.Module, content: str, size: int, repeat: int = 5) -> float:
    from ..inference import translate_tensor
    from .gatys import load_image_01

    x = load_image_01(content, size) * 2 - 1
    translate_tensor(net, x)  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        translate_tensor(net, x)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--content", required=True)
    p.add_argument("--style", required=True)
    p.add_argument("--checkpoint", help="a cyclegan run whose generator is timed too")
    p.add_argument("--direction", default="BtoA")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--repeat", type=int, default=3, help="repeats of the full lite0 256 px run")
    p.add_argument("--probe-steps", type=int, default=20)
    p.add_argument("--json", help="write the figures here")
    args = p.parse_args(argv)

    from .backbones import DEFAULTS, Lite0Backbone

    d = DEFAULTS["lite0"]
    lite0 = Lite0Backbone([*d.content_layers, *d.style_layers])
    v = DEFAULTS["vgg19"]
    vgg, pretrained = _vgg([*v.content_layers, *v.style_layers])
    rows = []
    # The target case, run in full and repeated; the optimisers side by side, interleaved.
    full: dict[str, list[float]] = {"lbfgs": [], "adam": []}
    cpu: dict[str, list[float]] = {"lbfgs": [], "adam": []}
    for _ in range(args.repeat):
        for opt in full:
            s, _, c = time_gatys(
                args.content,
                args.style,
                net=lite0,
                backbone="lite0",
                size=256,
                steps=args.steps,
                optimizer=opt,
            )
            full[opt].append(s)
            cpu[opt].append(c)
    for opt, times in full.items():
        what = f"Gatys lite0 256 px, {args.steps} {opt} steps"
        how = f"median of {len(times)} runs; CPU time {statistics.median(cpu[opt]):.1f} s"
        rows.append({"what": what, "seconds": statistics.median(times), "how": how})
    for name, net in (("lite0", lite0), ("vgg19", vgg)):
        for size in (256, 512):
            if name == "lite0" and size == 256:
                continue
            total, per_step, _ = time_gatys(args.content, args.style, net=net, backbone=name, size=size,
                                         steps=args.probe_steps, optimizer="lbfgs")  # fmt: skip
            step = statistics.median(per_step)
            setup = total - sum(per_step)
            weights = "" if name == "lite0" or pretrained else " (random weights)"
            how = f"setup + {args.steps} x median step {step:.3f} s over {args.probe_steps} steps"
            what = f"Gatys {name}{weights} {size} px, {args.steps} lbfgs steps"
            rows.append({"what": what, "seconds": setup + args.steps * step, "how": how})
    from ..models import build_generator

    gens = {}
    if args.checkpoint:
        from ..checkpoint import load_generator

        gens[f"CycleGAN {Path(args.checkpoint).name} generator"] = load_generator(args.checkpoint, args.direction)
    from ..config import ModelConfig

    gens["CycleGAN paper generator (9 blocks, random weights)"] = build_generator(ModelConfig(n_blocks=9)).eval()
    for label, g in gens.items():
        for size in (256, 512):
            with torch.no_grad():
                s = time_generator(g, args.content, size)
            rows.append({"what": f"{label}, {size} px, one image", "seconds": s, "how": "median of 5 after warm-up"})
    base = rows[0]["seconds"]
    machine = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads"
    info = {"machine": machine, "torch": torch.__version__, "rows": rows}
    for r in rows:
        print(f"{r['what']:<62} {r['seconds']:>9.3f} s  ({r['seconds'] / base:6.3f} x)  {r['how']}")
    if args.json:
        Path(args.json).write_text(json.dumps(info, indent=2) + "\n")


if __name__ == "__main__":
    main()
