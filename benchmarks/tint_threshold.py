"""The watcher's tint threshold, measured: `tint` (`cyclegan.train.scoring.tint`) at each evaluation of healthy
runs and of the same runs with every scored translation cast pink (red +CAST, green and blue -CAST/2).

    python benchmarks/tint_threshold.py tiny --out DIR [--seeds 0 1 2] [--cast 0.2]
    python benchmarks/tint_threshold.py sweep --data W --run RUN

`tiny`: the tests' set-up (`tests/conftest.py`: 5 + 7 training images and 3 + 3 held-out ones, random colours
tinted red and blue, 32 px, the paper's model at its smallest), 40 steps scored every 2, per seed a healthy run and
a tinted one; prints each evaluation's tint (AtoB, BtoA). `sweep`: a trained run's generators on the test split of
W (a synthetic world at 64 px: `cyclegan datasets synthetic --out W --test-count 20`), their tint as they are, cast
by 0.05 to 0.2, and the untranslated input's.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from cyclegan.config import resolve
from cyclegan.loading import load_generator
from cyclegan.train import Trainer, train
from cyclegan.train.inputs import sample_batch
from cyclegan.train.scoring import colour_casts, tint

TINY = {"preset": "paper", "ngf": 8, "ndf": 8, "n_blocks": 1, "size": 32, "batch_size": 2, "pool_size": 3}
TINY |= {"num_workers": 0, "log_every": 1, "sample_every": 0, "checkpoint_every": 0, "num_samples": 2}


def cast_of(c: float) -> torch.Tensor:
    return torch.tensor([c, -c / 2, -c / 2]).view(1, 3, 1, 1)  # (1, 3, 1, 1): pink


class Tinted(nn.Module):
    def __init__(self, net: nn.Module, cast: torch.Tensor):
        super().__init__()
        self.net, self.cast = net, cast

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.net(x) + self.cast.to(x)).clamp(-1, 1)


def images(folder: Path, n: int, *, seed: int, tint: tuple[int, int, int]) -> None:
    """As tests/conftest.py's make_images: n smooth random 48 x 40 PNGs with a colour tint."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        base = Image.fromarray(rng.integers(0, 200, (6, 7, 3)).astype(np.uint8)).resize((48, 40), Image.BILINEAR)
        arr = np.clip(np.asarray(base).astype(int) + np.array(tint), 0, 255).astype(np.uint8)
        Image.fromarray(arr).save(folder / f"img_{i:03d}.png")


def tiny(out: Path, seeds: list[int], cast: float) -> None:
    root = out / "data"
    for name, n, seed, colour in (("trainA", 5, 1, (40, 0, 0)), ("trainB", 7, 2, (0, 0, 40))):
        images(root / name, n, seed=seed, tint=colour)
    for name, n, seed, colour in (("testA", 3, 3, (40, 0, 0)), ("testB", 3, 4, (0, 0, 40))):
        images(root / name, n, seed=seed, tint=colour)
    real = Trainer.scored_generators
    for seed in seeds:
        for tinted in (False, True):
            Trainer.scored_generators = (
                (lambda self: {n: Tinted(g, cast_of(cast)) for n, g in real(self).items()}) if tinted else real
            )
            run = out / f"{'tinted' if tinted else 'healthy'}_{seed}"
            cfg = {**TINY, "data": str(root), "out": str(run), "steps": 40, "eval_every": 2, "lr": 2e-3}
            train(resolve({**cfg, "seed": seed, "eval_kid": False}), progress=False)
            records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
            tints = [(r["eval/AtoB/tint"], r["eval/BtoA/tint"]) for r in records if "eval_s" in r]
            print(run.name, " ".join(f"{a:.3f}/{b:.3f}" for a, b in tints))
    Trainer.scored_generators = real


def sweep(data: Path, run: Path) -> None:
    x = {k: sample_batch(sorted((data / f"test{k}").iterdir()), 20, 64, max_pixels=10**8) for k in "AB"}
    for d in ("AtoB", "BtoA"):
        with torch.no_grad():
            fake = load_generator(str(run), direction=d).eval()(x[d[0]]).float()
        target = colour_casts(x[d[-1]])
        row = [f"untranslated {tint(colour_casts(x[d[0]]), target):.3f}"]
        row += [
            f"cast {c}: {tint(colour_casts((fake + cast_of(c)).clamp(-1, 1)), target):.3f}"
            for c in (0, 0.05, 0.1, 0.15, 0.2)
        ]
        print(d, "; ".join(row))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=["tiny", "sweep"])
    p.add_argument("--out", type=Path)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--cast", type=float, default=0.2)
    p.add_argument("--data", type=Path)
    p.add_argument("--run", type=Path)
    a = p.parse_args()
    torch.set_num_threads(1)
    if a.what == "tiny":
        tiny(a.out, a.seeds, a.cast)
    else:
        sweep(a.data, a.run)


if __name__ == "__main__":
    main()
