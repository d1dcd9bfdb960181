"""What `--eval-every` costs: one evaluation against one training step of the demo's recipe, timed interleaved in
one process (a busy shared machine slows both alike), and the share of a run's time at an interval.

    python benchmarks/eval_cost.py --data DIR [--rounds 5] [--steps 20] [--every 200] [--kid]

DIR: a synthetic world at 64 px (`cyclegan datasets synthetic --out DIR --test-count 40`). Prints the median
seconds per training step and per evaluation (40 + 40 paired test scenes, both directions), their ratio, and
the share of the training time the evaluations take at `--every`: ratio / (every + ratio). The demo scores
without kid (`--no-eval-kid`); `--kid` times the evaluation with it (Lite0's features of the translations).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from cyclegan.config import resolve
from cyclegan.demo import DEMO_OPTIONS
from cyclegan.execution import choose_execution, resolve_device
from cyclegan.train import trainer_class
from cyclegan.train.inputs import sample_batch, training_images
from cyclegan.train.scoring import Scorer, set_aside


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=20, help="training steps timed per round")
    p.add_argument("--every", type=int, default=DEMO_OPTIONS["eval_every"])
    p.add_argument(
        "--kid", action=argparse.BooleanOptionalAction, default=DEMO_OPTIONS["eval_kid"], help="score kid (Lite0)"
    )
    a = p.parse_args()
    options = {"data": a.data, "out": "/tmp/unused", "num_workers": 0, "eval_every": a.every, "eval_kid": a.kid}
    cfg = resolve({**DEMO_OPTIONS, **options})
    device = resolve_device("cpu")
    images, held = set_aside(cfg, training_images(cfg, progress=False, main=True))
    ex = choose_execution("auto", "auto", "off", device=device, compile_pays=False, batch_norm=False)
    trainer = trainer_class(cfg.model.family)(cfg, total_steps=10_000, device=device, execution=ex)
    b = cfg.train.batch_size
    xs, ys = sample_batch(images.train_a, 8 * b, cfg.data.size), sample_batch(images.train_b, 8 * b, cfg.data.size)
    scorer = Scorer(cfg, held, device)
    first = time.perf_counter()
    scorer(trainer.scored_generators())  # Lite0 loaded, the targets' features: once per run
    first = time.perf_counter() - first
    step_s, eval_s = [], []
    for r in range(a.rounds):
        t0 = time.perf_counter()
        for i in range(a.steps):
            k = (r * a.steps + i) % 8
            trainer.step(xs[k * b : (k + 1) * b], ys[k * b : (k + 1) * b])
        step_s.append((time.perf_counter() - t0) / a.steps)
        t0 = time.perf_counter()
        scorer(trainer.scored_generators())
        eval_s.append(time.perf_counter() - t0)
    s, e = statistics.median(step_s), statistics.median(eval_s)
    ratio = e / s
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {ex.describe()}")
    print(f"kid {'on' if a.kid else 'off'}; first evaluation (with kid: Lite0 loaded, target features): {first:.2f} s")
    print(f"median s/step {s:.4f} (rounds: {', '.join(f'{v:.4f}' for v in step_s)})")
    print(f"median s/evaluation {e:.3f} (rounds: {', '.join(f'{v:.3f}' for v in eval_s)})")
    print(f"one evaluation = {ratio:.1f} training steps; at --eval-every {a.every}: {ratio / (a.every + ratio):.1%}")


if __name__ == "__main__":
    main()
