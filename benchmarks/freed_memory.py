"""glibc keeping freed memory for the next tensor (`cyclegan.process.keep_freed_memory`) against its default
(handing large freed blocks back to the OS, whose pages the next tensor faults in again): fresh processes, one
of each in turn per round, each timing a generator's forward pass as `cyclegan translate` runs it
(eval, no grad, this CPU's default execution) or a training step (docs/results.md, "Translation and freed
memory"). Process-wide, so the two cannot share one process.

Run (AVX2 held on a newer CPU, as a laptop without AVX-512 computes):
  ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 python benchmarks/freed_memory.py --task translate --size 512
  ... --task train --size 256 --rounds 4
  ... --task train --preset fast --size 64 --rounds 8 --repeats 20   (the demo's step)
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

import torch
from winograd import _median_ms  # the same timing as the other measurements (run from benchmarks/)


def _child(task: str, preset: str, size: int, keep: bool, repeats: int) -> float:
    from cyclegan import process

    if keep and not process.keep_freed_memory():
        raise SystemExit("glibc's allocator cannot be set here (not Linux with glibc, or MALLOC_* set)")
    from cyclegan.bench import trainer_and_inputs
    from cyclegan.config import resolve
    from cyclegan.execution import choose_execution
    from cyclegan.inference import translate_tensor
    from cyclegan.models import build_generator

    if preset == "fast":  # the demo's options (cyclegan.demo.DEMO_OPTIONS) at the 4 blocks, batch 2
        cfg = resolve({"size": size, "batch_size": 2, "d_layers": 2, "pool_size": 0}, preset="fast")
    else:
        cfg = resolve({"size": size, "batch_size": 1}, preset="paper")
    cpu = torch.device("cpu")
    if task == "translate":
        G = build_generator(cfg.model).eval()
        x = torch.rand(1, 3, size, size) * 2 - 1
        work = lambda: translate_tensor(G, x)  # noqa: E731
    else:
        trainer, x, y = trainer_and_inputs(cfg, choose_execution(device=cpu), cpu, total_steps=repeats + 10)
        work = lambda: trainer.step(x, y)  # noqa: E731
    return _median_ms(work, repeats) / 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", choices=("translate", "train"), default="translate")
    ap.add_argument("--preset", choices=("paper", "fast"), default="paper", help="fast: the demo's options")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=5, help="timed passes or steps per process (median)")
    ap.add_argument("--json", default=None)
    ap.add_argument("--child", choices=("kept", "default"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(_child(a.task, a.preset, a.size, a.child == "kept", a.repeats))
        return
    times: dict[str, list[float]] = {"default": [], "kept": []}
    for r in range(a.rounds):
        for v in ("default", "kept") if r % 2 == 0 else ("kept", "default"):
            cmd = [sys.executable, __file__, "--child", v, "--task", a.task, "--preset", a.preset]
            cmd += ["--size", str(a.size), "--repeats", str(a.repeats)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True)
            times[v].append(float(out.stdout.split()[-1]))
        print(f"round {r + 1}: default {times['default'][-1]:.4f} s, kept {times['kept'][-1]:.4f} s", flush=True)
    med = {v: statistics.median(t) for v, t in times.items()}
    result = {
        "task": a.task,
        "preset": a.preset,
        "size": a.size,
        "instruction_set": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
        "s_default": round(med["default"], 4),
        "s_kept": round(med["kept"], 4),
        "speed_up": round(med["default"] / med["kept"], 3),
        "speed_up_per_round_median": round(
            statistics.median(d / k for d, k in zip(times["default"], times["kept"])), 3
        ),
        "s_all": {v: [round(t, 4) for t in ts] for v, ts in times.items()},
    }
    print(json.dumps({k: v for k, v in result.items() if k != "s_all"}))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
