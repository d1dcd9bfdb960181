"""Where a CycleGAN step's time goes, by knock-out: each layer kind of both generators replaced by a 1x1 conv
(the first and last 7x7 convs on the cropped input, the sub-pixel decoders followed by nearest upsampling), the
rest as it is, all variants timed interleaved in one process; prints each kind's share of the step.

    ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 python benchmarks/knockout.py --variant fused --threads 1
    ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 python benchmarks/knockout.py --n-blocks 1   (the demo's step)
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F_
from steps_interleaved import build
from torch import nn

from cyclegan.config import resolve
from cyclegan.models import fused


class _Cheap(nn.Module):
    """A 1x1 conv with the layer's weight's first tap: (B, C, H, W) -> (B, O, H - 2 crop, W - 2 crop), x2 if up."""

    def __init__(self, conv: nn.Module, crop: int, up: bool = False):
        super().__init__()
        self.conv, self.crop, self.up = conv, crop, up

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.crop:
            x = x[:, :, self.crop : -self.crop, self.crop : -self.crop]
        y = F_.conv2d(x, self.conv.weight[:, :, :1, :1], self.conv.bias)
        return F_.interpolate(y, scale_factor=2) if self.up else y


def knock_out(net: nn.Module, kind: str) -> None:
    for seq in [m for m in net.modules() if isinstance(m, nn.Sequential)]:
        for name, child in list(seq._modules.items()):
            if kind == "last" and isinstance(child, fused.ThinConv2d):
                seq._modules[name] = _Cheap(child, 3)
            elif kind == "first" and type(child) is nn.Conv2d and child.kernel_size == (7, 7) and child.in_channels < 4:
                seq._modules[name] = _Cheap(child, 3)
            elif kind == "subpixel" and isinstance(child, fused.SubpixelUpConv):
                seq._modules[name] = _Cheap(child, 0, up=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variant", default="default", help="an execution of steps_interleaved.py (with fused layers)")
    ap.add_argument("--n-blocks", type=int, default=None)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--rounds", type=int, default=6)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    options = {"size": 64, "batch_size": 2, "d_layers": 2, "pool_size": 0}  # the demo's options
    cfg = resolve(options | ({"n_blocks": a.n_blocks} if a.n_blocks else {}), preset="fast")
    kinds = ["none", "last", "first", "subpixel"]
    runs = {}
    for kind in kinds:
        trainer, x, y, _ = build(a.variant, cfg, 400)
        for net in (trainer.G, trainer.F):
            knock_out(net, kind)
        for _ in range(3):
            trainer.step(x, y)
        runs[kind] = (trainer, x, y)
    times: dict[str, list[float]] = {k: [] for k in kinds}
    for r in range(a.rounds):
        for kind in kinds if r % 2 == 0 else kinds[::-1]:
            trainer, x, y = runs[kind]
            t0 = time.perf_counter()
            for _ in range(3):
                trainer.step(x, y)
            times[kind].append((time.perf_counter() - t0) / 3)
    base = statistics.median(times["none"])
    print(f"{torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} threads, {a.variant}")
    for kind in kinds:
        m = statistics.median(times[kind])
        print(f"{kind:9s} {m:.4f} s/step  share of the step {1 - m / base:6.1%}")


if __name__ == "__main__":
    main()
