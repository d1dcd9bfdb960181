"""What the parts of the demo's training step cost: the step as `auto` computes it, beside the same step without
the discriminators' updates, without the identity term, with one or four images per domain, and with the
discriminators' real and fake batches in two calls; interleaved in one process, medians over rounds
(docs/results.md, "The last house"). An upper bound on what updating the discriminators less often, or dropping or
thinning the identity term, could buy per step: the parts are skipped, not replaced.

    ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 python benchmarks/step_parts.py --rounds 8   (the AVX2 class)
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import replace

import torch

from cyclegan.bench import trainer_and_inputs
from cyclegan.config import resolve
from cyclegan.demo import DEMO_OPTIONS
from cyclegan.execution import choose_execution

PARTS = ("default", "no-D-update", "no-identity", "batch-1", "batch-4", "D-calls-apart")


def build(part: str, precision: str):
    """(trainer, x, y) of the demo's options with `part` changed."""
    training = {k: v for k, v in DEMO_OPTIONS.items() if k not in ("preset", "steps", "eval_every", "eval_kid")}
    cfg = resolve(training | {"precision": precision}, preset=DEMO_OPTIONS["preset"])
    if part == "no-identity":
        cfg = replace(cfg, train=replace(cfg.train, lambda_identity=0.0))
    if part in ("batch-1", "batch-4"):
        cfg = replace(cfg, train=replace(cfg.train, batch_size=int(part[-1])))
    ex = choose_execution(precision, "auto", "off", device=torch.device("cpu"), compile_pays=False)
    if part == "D-calls-apart":
        ex = replace(ex, batch_discriminator_calls=False)
    trainer, x, y = trainer_and_inputs(cfg, ex, torch.device("cpu"), total_steps=10_000)
    if part == "no-D-update":
        trainer._update_D = lambda *args, **kwargs: torch.zeros(())
    return trainer, x, y


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--parts", nargs="+", default=list(PARTS), choices=PARTS)
    p.add_argument("--precision", default="fp32", help="fp32 (the AVX2 class), bf16 or auto")
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--steps", type=int, default=3, help="steps per part per round")
    p.add_argument("--json", default=None)
    a = p.parse_args()
    runs = {part: build(part, a.precision) for part in a.parts}
    for trainer, x, y in runs.values():  # warm-up
        for _ in range(3):
            trainer.step(x, y)
    times: dict[str, list[float]] = {part: [] for part in a.parts}
    for r in range(a.rounds):
        for part in a.parts if r % 2 == 0 else a.parts[::-1]:
            trainer, x, y = runs[part]
            t0 = time.perf_counter()
            for _ in range(a.steps):
                trainer.step(x, y)
            times[part].append((time.perf_counter() - t0) / a.steps)
    first = a.parts[0]
    result = {"instruction_set": torch.backends.cpu.get_cpu_capability(), "precision": a.precision, "parts": {}}
    print(f"the demo's step, {a.precision}, {result['instruction_set']}, {a.rounds} rounds x {a.steps} steps")
    for part in a.parts:
        med = statistics.median(times[part])
        per_round = statistics.median(b / t for b, t in zip(times[first], times[part]))
        result["parts"][part] = {"s_per_step": round(med, 4), "speed_vs_first": round(per_round, 3)}
        print(f"{part:<14} {med:.4f} s/step  {per_round:.2f}x the speed of {first} (per-round median)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
