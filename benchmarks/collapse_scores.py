"""The watcher's collapse scores, measured on trained runs: `spread` (the outputs' mean pairwise L1 over the inputs')
and `follows` (`cyclegan.train.scoring.follows`: whether each output departs from the outputs' mean where its own
input departs from the inputs') of each run's last checkpoint, on the first --eval-images of its own test split at
its training size, as `--eval-every` scores them; with the true translations' `follows` where the split is paired.

    python benchmarks/collapse_scores.py RUN [RUN ...]

Each line names the run's step and the options that set it apart (preset, size, lr, norm), from its config.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from cyclegan.loading import load_generator
from cyclegan.train.inputs import sample_batch
from cyclegan.train.scoring import _mean_pairwise_l1, follows


def scores(run: Path) -> str:
    config = json.loads((run / "config.json").read_text())
    data = Path(config["data"]["data"])
    data = data if data.is_absolute() else run.parent / data  # as the run was started, beside it
    size, n = config["data"]["size"], config["train"]["eval_images"]
    step = json.loads((run / "log.jsonl").read_text().splitlines()[-1])["step"]
    t = config["train"]
    line = [f"{run.name}: step {step}, {config['preset']}, {size} px, lr {t['lr']}, {config['model']['norm']}"]
    for d, src, tgt in (("AtoB", "A", "B"), ("BtoA", "B", "A")):
        files = sorted((data / f"test{src}").glob("*.png"))[:n]
        x = sample_batch(files, len(files), size)  # (N, 3, S, S) in [-1, 1]
        with torch.no_grad():
            fake = load_generator(run / "checkpoint.pt", d, progress=False)(x)
        truths = [data / f"test{tgt}" / f.name for f in files]
        truth = follows(x, sample_batch(truths, len(truths), size)) if all(p.is_file() for p in truths) else None
        line.append(
            f"{d} ({len(files)} images) spread {_mean_pairwise_l1(fake) / _mean_pairwise_l1(x):.2f} follows "
            f"{follows(x, fake):.3f}" + ("" if truth is None else f" (truth {truth:.3f})")
        )
    return " | ".join(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    for run in parser.parse_args().runs:
        print(scores(run), flush=True)


if __name__ == "__main__":
    main()
