"""A run's last and best checkpoints in `cyclegan evaluate RUN`: a run folder holding best.pt (kept by
`--eval-every`) stands for both, its training data is the default `--data`, and the report says which of the
two scores better, by the score that chose best.pt."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from ..errors import CycleGANError
from ..report import METRIC_NAMES
from ..run_files import BEST_NAME, CHECKPOINT_NAME, CONFIG_NAME, started_in
from ..shared_options import checkpoint_not_found
from ..zoo import is_spec

HIGHER_IS_BETTER = {"truth_psnr": True, "truth_ssim": True, "cycle_psnr": True, "kid": False, "kid_lite0": False}
# --eval-every's scores (`--best-by`) under the report's names: its kid is Lite0's
REPORT_KEY = {"psnr": "truth_psnr", "ssim": "truth_ssim", "cycle_psnr": "cycle_psnr", "kid": "kid_lite0"}


def expand_runs(checkpoints: tuple[str, ...]) -> tuple[str, ...]:
    """Each run folder that holds best.pt as its checkpoint.pt and its best.pt (best.pt alone where checkpoint.pt is
    gone: `best_alone`); the rest as given; a file named twice (`RUN RUN/best.pt`, `RUN RUN/checkpoint.pt`) scored
    once, where it first comes."""
    out: list[str] = []
    for c in checkpoints:
        run = Path(c)
        if run.is_dir() and (run / BEST_NAME).is_file():
            last = [str(run / CHECKPOINT_NAME)] if (run / CHECKPOINT_NAME).is_file() else []
            out += [*last, str(run / BEST_NAME)]
        else:
            out.append(c)
    seen: set[Path] = set()
    kept = []
    for c in out:
        path = Path(c) / CHECKPOINT_NAME if Path(c).is_dir() else Path(c)  # a run folder is read as its checkpoint
        if path.resolve() not in seen:
            seen.add(path.resolve())
            kept.append(c)
    return tuple(kept)


def best_missing(checkpoints: tuple[str, ...]) -> list[str]:
    """A line for each run folder among `checkpoints` whose config.json scores it (`--eval-every`) but that holds no
    best.pt (deleted, or the run stopped before its first evaluation): `evaluate RUN` scored its checkpoint.pt alone,
    without a word of the best step it was asked for."""
    lines = []
    for c in checkpoints:
        run = Path(c)
        if not run.is_dir() or (run / BEST_NAME).exists() or not (run / CHECKPOINT_NAME).is_file():
            continue
        try:
            every = json.loads((run / CONFIG_NAME).read_text())["train"]["eval_every"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if isinstance(every, int) and every > 0:
            lines.append(
                f"{run} has no {BEST_NAME}, though it scores every {every} steps (deleted, or the run stopped before "
                f"its first evaluation): only its {CHECKPOINT_NAME} is scored; resuming the run writes {BEST_NAME} "
                "again at its next evaluation"
            )
    return lines


def best_alone(checkpoints: tuple[str, ...]) -> list[str]:
    """A line for each run folder among `checkpoints` that holds best.pt but no checkpoint.pt (deleted to save space,
    or the run copied without it): `evaluate RUN` refused it, where a truncated checkpoint.pt left best.pt scored."""
    return [
        f"{run} has no {CHECKPOINT_NAME} (deleted, or the run copied without it): only its {BEST_NAME}, the best "
        "scored step, is scored"
        for run in map(Path, checkpoints)
        if run.is_dir() and (run / BEST_NAME).is_file() and not (run / CHECKPOINT_NAME).is_file()
    ]


def run_data(checkpoint: str) -> str:
    """The training data root of the run that `checkpoint` (a run folder or a file in one) belongs to, from its
    config.json: the default --data of `cyclegan evaluate RUN`."""
    if is_spec(checkpoint):  # a published generator has no run, so no training data to default to
        raise CycleGANError(f"option '--data' is needed: {checkpoint} records no data root (give --data ROOT)")
    path = Path(checkpoint)
    if not path.exists():  # say so first: "no config.json naming --data" would send the user the wrong way
        raise CycleGANError(checkpoint_not_found(path))
    folder = path if path.is_dir() else path.parent
    try:
        config = json.loads((folder / CONFIG_NAME).read_text())
        data, out = config["data"]["data"], config["train"].get("out")
        domains = config["data"].get("domain_a")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        data = out = domains = None
    if domains and not data:  # "has no config.json" while it has one: it names two folders, no root to test on
        raise CycleGANError(
            f"option '--data' is needed: {folder} was trained on --domain-a/--domain-b folders, not a --data root "
            "(give --domain-a DIR --domain-b DIR of test images, or --data ROOT holding testA and testB)"
        )
    if not isinstance(data, str) or not data:
        raise CycleGANError(
            f"option '--data' is needed: {folder} has no {CONFIG_NAME} naming its --data root (give --data ROOT)"
        )
    return str(_from_training_folder(data, out, folder))


def _from_training_folder(data: str, out: object, run: Path) -> Path:
    """The run's --data, as train was given it (relative to the folder train ran in), named from here. (Read from
    the current folder, `evaluate RUN` elsewhere found no data, or another folder of the same name.) Named as the
    run was: relative to the current folder where `run` is (`evaluate runs/x` scores `data`), else absolute; it was
    absolute always, in a heading whose checkpoint stood as given."""
    given = Path(data)
    start = None if given.is_absolute() else started_in(run, out, holding=data)
    if start is None:
        return given
    return start / given if run.is_absolute() else Path(os.path.relpath(start / given))


def _score_key(metric: str, reports: tuple[dict[str, Any], dict[str, Any]]) -> str | None:
    """The report's key for the score that chose best.pt (psnr -> truth_psnr, ...), else the first of kid,
    truth_psnr and cycle_psnr that both `reports` give: kid when the split has no truth for psnr/ssim, or the family
    no way back for cycle_psnr; truth_psnr when FD and KID are left out (a paired split of one image: a best.pt
    chosen by kid was compared by its null kid, and no line said which was better). None when none is given."""
    kid = METRIC_NAMES[reports[0]["backbone"]][1]
    for key in (REPORT_KEY.get(metric, kid), kid, "truth_psnr", "cycle_psnr"):
        if all(math.isfinite(_mean(r, key)) for r in reports):
            return key
    return None


def _mean(report: dict[str, Any], key: str) -> float:
    values = [row[key] for row in report["directions"].values() if isinstance(row.get(key), (int, float))]
    return sum(values) / len(values) if values else math.nan


def which_is_better(reports: list[dict[str, Any]]) -> list[str]:
    """One line per run scored with both its checkpoint.pt and its best.pt: which scores better, and by how
    much, on the score that chose best.pt (its mean over the directions scored)."""
    lines = []
    by_path = {Path(r["checkpoint"]).resolve(): r for r in reports}
    done: set[Path] = set()  # `--checkpoint RUN RUN/best.pt` scores best.pt twice: one line per run all the same
    for best in reports:
        metric = best.get("chosen_by")
        here = Path(best["checkpoint"]).resolve()
        last = by_path.get(here.parent / CHECKPOINT_NAME)
        if not metric or last is None or not best["directions"] or here in done:
            continue
        done.add(here)
        if best.get("same_generators_as") or last.get("same_generators_as"):  # one scoring of both files
            lines.append(
                f"{Path(best['checkpoint']).parent}: {BEST_NAME} (step {best['step']}) holds the same generators as "
                f"{CHECKPOINT_NAME} (step {last['step']}): the best evaluation was the last; scored once"
            )
            continue
        key = _score_key(metric, (best, last))
        if key is None:  # NaN translations: no score to tell them apart
            lines.append(
                f"{Path(best['checkpoint']).parent}: {BEST_NAME} and {CHECKPOINT_NAME} not compared: neither gives "
                f"a finite {metric} nor another score to compare by"
            )
            continue
        b, a = _mean(best, key), _mean(last, key)
        higher = HIGHER_IS_BETTER.get(key, False)
        scored = [d for d, row in best["directions"].items() if key in row]  # `--direction AtoB`: that one
        over = "mean over directions" if len(scored) > 1 else f"{scored[0]} only"
        other = ""  # "by kid" of the Inception read as the Lite0 kid that chose best.pt; "by kid_lite0" as the psnr
        if key != REPORT_KEY.get(metric):
            lite0 = " (over Lite0 features)" if metric == "kid" else ""
            why = " (FD and KID left out: one image a domain)" if best.get("fd_kid_note") else ""
            other = (
                f"; {BEST_NAME} was chosen by --eval-every's {metric}{lite0}, which this evaluation does not give{why}"
            )
        if f"{a:.4f}" == f"{b:.4f}":  # as printed: 'checkpoint.pt is better ... 7.8432, 7.8432' named a winner by noise
            verdict = "score the same"
        else:
            winner = BEST_NAME if (b > a) == higher else CHECKPOINT_NAME
            verdict = f"{winner} is better"
        lines.append(
            f"{Path(best['checkpoint']).parent}: {verdict} by {key} ({over}, "
            f"{'higher' if higher else 'lower'} is better): {BEST_NAME} (step {best['step']}) {b:.4f}, "
            f"{CHECKPOINT_NAME} (step {last['step']}) {a:.4f}{other}"
        )
    return lines
