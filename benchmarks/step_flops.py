"""Floating-point operations of one training step (torch.utils.flop_counter: convolutions and matrix
products, forward and backward), in total and per network call, and the share of the hardware's peak a
measured s/step reaches (docs/results.md, "fp32 on AVX2 CPUs").

    python benchmarks/step_flops.py                                # the demo's step (fast, 64 px, batch 2)
    python benchmarks/step_flops.py --preset paper --size 256 --batch 1
    python benchmarks/step_flops.py --s-per-step 0.215 --peak-gflops 186
"""

from __future__ import annotations

import argparse

import torch
from torch.utils.flop_counter import FlopCounterMode

from cyclegan.bench import trainer_and_inputs
from cyclegan.config import resolve
from cyclegan.execution import Execution


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--s-per-step", type=float, help="a measured step time: print the GFLOP/s it means")
    ap.add_argument(
        "--peak-gflops",
        type=float,
        default=186.0,
        help="the CPU's fp32 peak (default: 2 AVX2 cores x 2 FMA units x 8 lanes x 2 FLOP x 2.9 GHz)",
    )
    a = ap.parse_args()
    overrides = {"size": a.size, "batch_size": a.batch}
    if a.preset == "fast":  # the demo's options on top of the preset (cyclegan.demo.DEMO_OPTIONS)
        overrides |= {"d_layers": 2, "pool_size": 0}
    cfg = resolve(overrides, preset=a.preset)
    trainer, x, y = trainer_and_inputs(cfg, Execution(batch_generator_calls=True), torch.device("cpu"), total_steps=4)
    for name, net in (("G", trainer.G), ("D_Y", trainer.D_Y)):
        with FlopCounterMode(display=False) as fc:
            net(x).float().mean().backward()
        print(f"{name} on a batch of {a.batch}, forward + backward: {fc.get_total_flops() / 1e9:.2f} GFLOP")
    with FlopCounterMode(display=False) as fc:
        trainer.step(x, y)
    total = fc.get_total_flops() / 1e9
    print(f"one training step ({cfg.preset}, {a.size} px, batch {a.batch}): {total:.2f} GFLOP")
    if a.s_per_step:
        rate = total / a.s_per_step
        print(f"at {a.s_per_step} s/step: {rate:.0f} GFLOP/s, {100 * rate / a.peak_gflops:.0f} % of {a.peak_gflops:g}")


if __name__ == "__main__":
    main()
