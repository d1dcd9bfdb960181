"""Each convolution of the demo's networks (generator and discriminator, 64 px, batch 4 as the lanes call them),
forward and backward on one thread, on NCHW input against a channels-last copy of it (its output converted
back), in fp32 or under bf16 autocast: which layers oneDNN computes faster channels-last (docs/results.md, "fp32
on AVX2 CPUs"). The networks are the plain ones (no layer forms).

    python benchmarks/conv_layouts.py --bf16                                               # native bf16 CPUs
    ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 python benchmarks/conv_layouts.py    # the AVX2 class
"""

from __future__ import annotations

import argparse
import statistics

import torch
from torch import nn

from cyclegan.bench.measure import time_calls
from cyclegan.config import resolve
from cyclegan.models import build_discriminator, build_generator

CPU = torch.device("cpu")


def _median_ms(fn, repeat: int) -> float:
    time_calls(fn, 3, CPU)  # warm-up
    return statistics.median(time_calls(fn, repeat, CPU)) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bf16", action="store_true", help="under CPU bf16 autocast (else fp32)")
    ap.add_argument("--n-blocks", type=int, default=1, help="the generator's residual blocks (the demo's: 1)")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=15)
    a = ap.parse_args()
    torch.set_num_threads(1)
    model = resolve({"size": 64, "d_layers": 2, "pool_size": 0, "n_blocks": a.n_blocks}, preset="fast").model
    nets = {"G": build_generator(model), "D": build_discriminator(model)}
    inputs: list[tuple[str, nn.Conv2d, torch.Tensor]] = []
    hooks = [
        m.register_forward_hook(lambda m, i, o, name=f"{k}.{n}": inputs.append((name, m, i[0].detach())))
        for k, net in nets.items()
        for n, m in net.named_modules()
        if isinstance(m, nn.Conv2d)
    ]
    x = torch.rand(a.batch, 3, 64, 64) * 2 - 1
    for net in nets.values():
        net(x)
    for h in hooks:
        h.remove()
    print(f"{torch.backends.cpu.get_cpu_capability()}, {'bf16 autocast' if a.bf16 else 'fp32'}, one thread, ms")
    for name, conv, inp in inputs:
        leaf = inp.clone().requires_grad_(True)

        def run(channels_last: bool, conv=conv, leaf=leaf) -> None:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.bf16):
                x = leaf.contiguous(memory_format=torch.channels_last) if channels_last else leaf
                y = conv(x).contiguous()
            y.float().sum().backward()

        nchw, cl = _median_ms(lambda: run(False), a.repeat), _median_ms(lambda: run(True), a.repeat)
        shape = "x".join(map(str, inp.shape))
        print(
            f"{name:24s} {shape:14s} -> {conv.out_channels:4d} k{conv.kernel_size[0]} s{conv.stride[0]}"
            f"  NCHW {nchw:6.2f}  channels-last {cl:6.2f}  {nchw / cl:4.2f}x"
        )


if __name__ == "__main__":
    main()
