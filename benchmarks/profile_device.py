"""Where the time of one training step goes, from torch.profiler: on a GPU, the kernels' time against the
step's wall time (the rest is launch overhead and host work), the number of kernel launches and of host-device
synchronisations, and the ops that cost most; on a CPU, the ops by self CPU time.

    python benchmarks/profile_device.py --device cuda --size 256 --json profile.json   # paper, batch 1
    python benchmarks/profile_device.py --device cpu --size 64 --preset fast --option d_layers=2 pool_size=0

Figures: docs/results.md, "On a GPU" (and "fp32 on AVX2 CPUs" for the CPU).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter

import torch
from torch.profiler import ProfilerActivity, profile

from cyclegan.bench import trainer_and_inputs
from cyclegan.config import resolve
from cyclegan.execution import REFERENCE, choose_execution, resolve_device


def parse_value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--preset", default="paper")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--mode", choices=("default", "reference"), default="default")
    p.add_argument("--option", nargs="*", default=[], metavar="KEY=VALUE", help="more training options")
    p.add_argument("--steps", type=int, default=5, help="profiled steps (after 3 warm-up steps)")
    p.add_argument("--json", default=None)
    args = p.parse_args()

    device = resolve_device(args.device)
    extra = dict(kv.split("=", 1) for kv in args.option)
    overrides = {"size": args.size, "batch_size": args.batch_size, **{k: parse_value(v) for k, v in extra.items()}}
    cfg = resolve(overrides, preset=args.preset)
    ex = (
        REFERENCE
        if args.mode == "reference"
        else choose_execution(
            device=device, compile_pays=False, batch_norm=cfg.model.norm == "batch", unet=cfg.model.generator == "unet"
        )
    )
    trainer, x, y = trainer_and_inputs(cfg, ex, device, total_steps=100)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(3):
        trainer.step(x, y)
    sync()
    walls = []
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        for _ in range(args.steps):
            t = time.perf_counter()
            trainer.step(x, y)
            sync()
            walls.append(time.perf_counter() - t)
    events = prof.key_averages()
    wall_ms = statistics.median(walls) * 1e3
    result = {
        "device": str(device),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "torch": torch.__version__,
        "preset": args.preset,
        "size": args.size,
        "batch_size": args.batch_size,
        "options": extra,
        "execution": ex.describe(),
        "step_wall_ms_median": round(wall_ms, 3),
    }
    if device.type == "cuda":
        kernels = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
        kernel_ms = sum(e.device_time for e in kernels) / 1e3 / args.steps
        calls = Counter(e.name for e in prof.events() if e.device_type == torch.autograd.DeviceType.CPU)
        launches = sum(n for name, n in calls.items() if "LaunchKernel" in name or "cuLaunch" in name) / args.steps
        syncs = sum(n for name, n in calls.items() if "Synchronize" in name or name == "aten::item") / args.steps
        result |= {
            "kernel_ms_per_step": round(kernel_ms, 3),
            "kernel_share_of_wall": round(kernel_ms / wall_ms, 3),
            "kernel_launches_per_step": launches,
            "syncs_per_step": syncs,
            "host_ms_per_launch": round((wall_ms - kernel_ms) / max(launches, 1), 4),
            "top_ops_by_device_ms": [
                (e.key, round(e.device_time_total / 1e3 / args.steps, 3))
                for e in sorted(events, key=lambda e: -e.device_time_total)[:12]
            ],
        }
    top = sorted(events, key=lambda e: -e.self_cpu_time_total)[:15]
    total_cpu = sum(e.self_cpu_time_total for e in events)
    result["top_ops_by_self_cpu"] = [
        (e.key, round(e.self_cpu_time_total / 1e3 / args.steps, 3), round(e.self_cpu_time_total / total_cpu, 3))
        for e in top
    ]
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
