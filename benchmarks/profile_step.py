"""Share of convolutions in one eager bf16 training step (paper, 256 px), and one residual conv's speed.

Run: python benchmarks/profile_step.py (about a minute on 2 CPU cores). Figures: docs/results.md, "Speed".
"""

import argparse
import time

import torch
from torch.profiler import ProfilerActivity, profile

from cyclegan.bench import trainer_and_inputs
from cyclegan.config import resolve
from cyclegan.execution import Execution

argparse.ArgumentParser(description=__doc__).parse_args()  # --help answers before the minute of work
cfg = resolve({"size": 256, "batch_size": 1}, preset="paper")
ex = Execution(precision="bf16", batch_generator_calls=True)
trainer, x, y = trainer_and_inputs(cfg, ex, torch.device("cpu"), total_steps=3)
trainer.step(x, y)
with profile(activities=[ProfilerActivity.CPU]) as prof:
    trainer.step(x, y)
ops = {e.key: e.self_cpu_time_total for e in prof.key_averages()}
conv = sum(t for k, t in ops.items() if "convolution" in k)
print(f"convolutions: {conv / sum(ops.values()):.0%} of the step's CPU time")

for dtype in ("fp32", "bf16"):
    for fmt in (torch.contiguous_format, torch.channels_last):
        conv3 = torch.nn.Conv2d(256, 256, 3).to(memory_format=fmt)
        inp = torch.randn(2, 256, 66, 66).contiguous(memory_format=fmt).requires_grad_()
        times = []
        for _ in range(8):
            t = time.perf_counter()
            with torch.autocast("cpu", torch.bfloat16, enabled=dtype == "bf16"):
                out = conv3(inp)
            out.float().sum().backward()
            times.append(time.perf_counter() - t)
        t = sorted(times[2:])[3]
        flops = 3 * 2 * 2 * 256 * 256 * 9 * 64 * 64  # forward + two backward convolutions, batch 2
        print(f"{dtype} {fmt}: {t * 1e3:.0f} ms, {flops / t / 1e9:.0f} GFLOP/s (forward + backward)")
