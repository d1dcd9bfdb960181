"""`cyclegan demo`: from nothing to a scored summer <-> winter model in a few minutes on a CPU.

Renders the built-in synthetic world (see `cyclegan.data.synthetic`), trains the `fast` preset at a small
size, translates the paired test split both ways and scores each translation against its true rendering
(PSNR and SSIM), next to the do-nothing baseline (the untranslated input against the truth).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import re
import shlex
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .config import SCORING_OPTIONS
from .data.io import read_image, to_tensor
from .data.synthetic import SyntheticOptions, is_dataset_folder, write_dataset
from .demo_options import DemoOptions
from .errors import CycleGANError, escape, reworded
from .evaluate.metrics import colour_patch, local_colour, psnr, ssim
from .execution import choose_execution, resolve_device
from .files import (
    FolderLock,
    broken_link,
    check_not_a_file,
    check_out_folder,
    is_atomic_temporary,
    link_note,
    remove_stale_temporaries,
    write_atomic,
)
from .inference import translate_tensor
from .loading import load_generator
from .progress import print_line, print_out
from .report import render_demo_html, save_grid
from .run_files import BEST_NAME, CHECKPOINT_NAME, CONFIG_NAME, LOG_NAME, SAMPLES_DIR, TENSORBOARD_DIR
from .train import prepare_config, train
from .train.distributed import launched_by_torchrun
from .train.monitor import stored_verdict

# Training options on top of the preset (names as in `cyclegan train --help`). The step count is a cap:
# the demo fits the steps to its time budget on this machine (`--minutes`), so it ends in about 5 minutes.
DEMO_OPTIONS: dict[str, Any] = {
    "preset": "fast",
    "size": 64,
    # At 64 px, 2 stride-2 layers give the discriminator 34 px patches, about half the image (as 3 layers' 70 px
    # are of a 128 px image): it judges texture, not the layout, and costs less. Without the image pool it sees
    # today's fakes. Together +0.6 dB winter -> summer on the ground truth (docs/results.md, "The demo's margin").
    "d_layers": 2,
    "pool_size": 0,
    # One residual block instead of the preset's four: a step costs 0.64 of one with four in fp32 (0.86 of two),
    # and at the steps an fp32 laptop fits in the demo's minutes winter -> summer scores higher on every seed
    # measured (1 dB over four blocks, 0.3 over two: docs/results.md, "recipes for the fp32 budget" and "One
    # residual block"); three blocks redrew the scenes on one seed.
    "n_blocks": 1,
    # Zero padding, not the paper's reflection: reflection mirrors an object cut by the image's edge into a twin
    # (the red-fringed edge tree of the grids). At the AVX2 demo's 2100 fixed steps better both ways on each of
    # 5 seeds in fp32 (+1.17 / +0.35 dB on average) and in bf16 (+0.66 / +0.41), and the step is cheaper (the
    # pads fold into the convs: 1.05x in fp32, 1.09x in bf16) (docs/results.md, "Zero padding in the generators").
    "padding": "zeros",
    # The discriminators learn at a quarter of the generators' 4e-4 (`--lr-d`): at fixed steps summer -> winter
    # +0.64 dB at the fp32 budget (better on each of 4 seeds) and +0.94 at the bf16 one, winter -> summer unchanged
    # on average; faster discriminators (TTUR's usual 2-4x) lose 0.6-1 dB (docs/results.md, "The discriminators'
    # own learning rate").
    "lr_d": 1e-4,
    # A lighter cycle: weight 3 instead of 10, the identity term kept at 5 (lambda_identity is relative to
    # lambda_cycle: 5/3 x 3). At the fp32 budget's fixed steps +0.6-1.2 dB winter -> summer and +0.5-1.0 summer ->
    # winter on each of 4 seeds; a cycle of 5 gave about half that, 2 less on one seed and as much on another
    # (docs/results.md, "A lighter cycle").
    "lambda_cycle": 3.0,
    "lambda_identity": 5 / 3,
    # Adam's second moments over about 100 steps instead of 1000 (beta2 0.99, as StyleGAN2 and most short GAN
    # recipes), likely so that the step sizes follow the gradients' scale as it falls early on. At the fp32
    # budget's fixed steps +0.45 dB summer -> winter and +0.49 winter -> summer on average over 5 seeds, higher on
    # 4 of them each way (docs/results.md, "Adam's beta2 at the fp32 budget").
    "beta2": 0.99,
    "steps": 5000,
    "compile": "off",  # a minute of compiling does not pay back within a few minutes of training
    # Scores on the 40 paired test scenes every 200 steps (about 11 evaluations, inside the time budget: the
    # steps are fitted to the time left), best.pt by PSNR, and the failure warnings (README, "Scores while
    # training", for the cost).
    "eval_every": 200,
    # Without kid: the demo has the truth (PSNR/SSIM choose best.pt), and Lite0's features of 80 translations at
    # 224 px were most of each evaluation (README, "Scores while training"): those seconds go to training steps.
    "eval_kid": False,
}
# Fewer fitted steps than this are named after the scores: the README's figures took 2193-3451 steps, and a busy
# machine's 821 scored 2 dB lower (docs/results.md); a newcomer at 209 steps saw rough grids and no word of why.
FEW_STEPS = 1000
WORLD_SEED = 0  # the synthetic world (training and test scenes) is the same whatever --seed says


@dataclass(frozen=True)
class DemoSettings:
    """The demo's data and training options."""

    train_count: int = 400  # images per domain (unpaired scenes)
    test_count: int = 40  # paired test scenes
    grid_rows: int = 6
    options: dict[str, Any] = field(default_factory=lambda: dict(DEMO_OPTIONS))


def _read_all(files: list[Path]) -> torch.Tensor:
    """Images of equal size -> (N, 3, H, W) in [-1, 1]."""

    return torch.stack([to_tensor(read_image(p)) for p in files])


def _translate_all(net, xs: torch.Tensor, batch: int = 16) -> torch.Tensor:
    """(N, 3, H, W) in [-1, 1] -> translations, same shape, on the CPU."""

    return torch.cat([translate_tensor(net, xs[i : i + batch]).cpu() for i in range(0, len(xs), batch)])


def score(
    translated: torch.Tensor, inputs: torch.Tensor, truth: torch.Tensor, names: list[str] | None = None
) -> dict[str, Any]:
    """Mean PSNR (dB) and SSIM of translation vs truth and of the untranslated input vs truth, and the local colour
    error (`local_colour`: the worst patch of all the scenes, in grey levels) of each, with where the translation's
    worst is (`local_colour_at`: the scene's name from `names`, its index without them, and the patch).

    All tensors (N, 3, H, W) in [-1, 1].
    """

    errors, where = local_colour(translated, truth)
    worst = int(errors.argmax())
    x, y = where[worst].tolist()
    return {
        "psnr": round(psnr(translated, truth).mean().item(), 3),
        "psnr_identity": round(psnr(inputs, truth).mean().item(), 3),
        "ssim": round(ssim(translated, truth).mean().item(), 4),
        "ssim_identity": round(ssim(inputs, truth).mean().item(), 4),
        "local_colour": round(errors[worst].item(), 1),
        "local_colour_identity": round(local_colour(inputs, truth)[0].max().item(), 1),
        "local_colour_at": {
            "scene": names[worst] if names else worst,
            "x": x,
            "y": y,
            "patch": colour_patch(*truth.shape[-2:]),
        },
    }


SPLITS = ("trainA", "trainB", "testA", "testB")  # the folders of the rendered data (`write_dataset`)
# The demo's record: its training options (written before training: a demo stopped while training goes on from its
# checkpoint when run again), then how the training ended (written before the scores: a demo stopped after its
# training, by Ctrl-C or a full disk at the report, reports on the trained run when run again).
RECORD_NAME = "demo.json"

# What a demo writes in its run folder (the training run's files included): all that --overwrite removes, in this
# order. An --overwrite stopped halfway leaves a folder the demo still takes: report.json, the mark of a finished
# demo, goes first, and config.json, by which the folder is known as a demo's (`_is_demo_run`), last.
DEMO_FILES = (
    "report.json",
    CHECKPOINT_NAME,
    BEST_NAME,
    LOG_NAME,
    "report.html",
    RECORD_NAME,
    "grid_AtoB.png",
    "grid_BtoA.png",
    "data",
    SAMPLES_DIR,
    TENSORBOARD_DIR,
    CONFIG_NAME,
)


def _is_demo_run(run: Path) -> bool:
    """Whether `run` holds a demo's training run: its config trains on the demo's own `run/data`, which holds the
    demo's rendering and nothing else (or is gone). Someone's run trained on images of their own kept in RUN/data is
    none: --overwrite deleted those images with it."""
    try:
        data = json.loads((run / CONFIG_NAME).read_text())["data"]["data"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    ours = run / "data"
    if not (isinstance(data, str) and Path(data).resolve() == ours.resolve()):
        return False
    return _only_a_rendering(ours) or not (ours.exists() or ours.is_symlink())


def _is_demo_record(path: Path) -> bool:
    """Whether `path` is a demo's demo.json (its training options), not someone's file of that name."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and {"demo", "options", "fit_steps"} <= record.keys()


def _only_a_rendering(data: Path) -> bool:
    """Whether `data` holds nothing but what the demo's rendering writes (trainA..testB of numbered PNGs), so
    that a demo stopped while rendering may render it again: someone's own `data` folder is not written into
    (its files mixed into the training set, then deleted with the run by --overwrite)."""
    if data.is_symlink() or not data.is_dir():
        return False
    for split in data.iterdir():
        if split.name.startswith("."):
            continue
        if split.name not in SPLITS or split.is_symlink() or not split.is_dir():
            return False
        if any(not _rendered_name(f.name) or not f.is_file() for f in split.iterdir()):
            return False
    return True


def _rendered_name(name: str) -> bool:
    """A rendered scene's name, or the temporary of one that a killed rendering left (removed before rendering)."""
    return re.fullmatch(r"\d+\.png", name) is not None or (
        is_atomic_temporary(name) and re.fullmatch(r"\.\d+\.png\..*", name) is not None
    )


def _rendering(data: Path) -> str | None:
    """SHA-256 of the rendering in `data` (every split's file names and bytes, in order); None if unreadable."""
    digest = hashlib.sha256()
    try:
        for split in SPLITS:
            for f in sorted((data / split).iterdir()):
                digest.update(f"{split}/{f.name}\0".encode())
                digest.update(f.read_bytes())
    except OSError:
        return None
    return digest.hexdigest()


def _rendered_before(run: Path, world: dict) -> str | None:
    """What `run/data` holds of a rendering of `world` (size, counts, seed), by demo.json (written before the
    rendering, then with its digest): "whole", the one a demo stopped before its first checkpoint recorded,
    unchanged since (its digest), not rendered again (half a minute); "part", one stopped halfway, whose whole
    files are kept (each is written whole, and the record says they are of this world); else None."""
    try:
        recorded = json.loads((run / RECORD_NAME).read_text()).get("data")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(recorded, dict) or {k: v for k, v in recorded.items() if k != "sha256"} != world:
        return None
    if recorded.get("sha256") is None:
        return "part" if _only_a_rendering(run / "data") else None
    return "whole" if recorded["sha256"] == _rendering(run / "data") else None


def remove_demo_run(run: Path) -> None:
    """Delete a previous demo's files from `run`, after making sure it is one: its training data must be the
    demo's own `run/data` (so --overwrite never deletes another run). Other files in `run` are kept."""

    if not _is_demo_run(run):
        raise CycleGANError(
            f"{run} holds a run that is not a demo's (its config does not train on {run / 'data'}); "
            "choose another --out"
        )
    for name in DEMO_FILES:
        path = run / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def scores_logged(log: Path) -> list[dict[str, Any]]:
    """The records of `log` (log.jsonl) that hold scores (--eval-every): step, the scores and eval_s."""
    records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return [
        {k: v for k, v in r.items() if k in ("step", "eval_s") or k.startswith("eval/")}
        for r in records
        if "eval_s" in r
    ]


def run_demo(opts: DemoOptions = DemoOptions(), *, settings: DemoSettings = DemoSettings()) -> dict:
    """Generate data, train, translate, score and write `report.json` and `report.html` in `opts.out`.

    `opts.minutes` caps the training time (the step budget is cut short, and the report says so).
    """

    if launched_by_torchrun():  # each process ran its own demo: the second was refused the folder, and the first
        # waited for it in the process group's start until torchrun killed it
        raise CycleGANError(
            "cyclegan demo runs in one process: run it without torchrun (torchrun -m cyclegan train trains a run "
            "across processes)"
        )
    run = Path(opts.out)
    if broken := broken_link(run, "--out"):  # said as "cannot create or lock ... (No such file or directory)"
        raise broken
    check_out_folder(opts.out, holds="the demo's run is written into")
    check_not_a_file(opts.out)  # a file, or a folder under one: not "cannot create or lock ... (Not a directory)"
    # a device this machine lacks, or a precision it cannot compute in (fp16 on a CPU), is refused before any
    # file is written: not after rendering the data
    choose_execution(opts.precision, compile=DEMO_OPTIONS["compile"], device=resolve_device(opts.device))
    here = run.resolve()
    for folder in (here, here.parent):  # as `datasets synthetic`: --out and its parent (image folders are walked)
        if is_dataset_folder(folder):
            raise CycleGANError(
                f"option '--out': {run} is {'' if folder == here else 'inside '}the dataset folder {folder}: the "
                "demo's scenes, grids and samples would be read as its images; choose an --out outside it"
            )
    # someone else's folder is refused before the lock: it is never written in, not even .demo.lock
    if run.is_dir() and not (run / CHECKPOINT_NAME).exists() and not _is_demo_run(run):
        # no demo run here: only the rendering of one that was stopped early may be (data/, its record demo.json, the
        # lock, temporaries)
        others = sorted(
            p.name
            for p in run.iterdir()
            if not p.name.startswith(".")  # .lock, .DS_Store
            and not (p.name == "data" and _only_a_rendering(p))
            and not (p.name == RECORD_NAME and _is_demo_record(p))
        )
        if others:  # a demo never writes into a folder of something else
            raise CycleGANError(
                f"option '--out': {run} holds files that are not a demo run's ({', '.join(others[:3])}"
                f"{', ...' if len(others) > 3 else ''}); choose a new or empty folder"
            )
    if (run / CHECKPOINT_NAME).exists() and not _is_demo_run(run):  # before any advice to --overwrite
        raise CycleGANError(
            f"option '--out': {run} holds a training run that is not a demo's (its config does not train on "
            f"{run / 'data'}); choose another --out"
        )
    with _claim_demo_folder(run):
        return _run_demo(opts, settings)


@contextlib.contextmanager
def _claim_demo_folder(run: Path) -> Iterator[None]:
    """Hold RUN/.demo.lock (the training run inside takes RUN/.lock) while the demo renders, trains, scores and
    reports: a second demo on the folder, with --overwrite or not, stops in one line instead of re-rendering or
    deleting the files of the one at work."""
    lock = FolderLock(run, ".demo.lock")
    try:
        if not lock.acquire():
            raise CycleGANError(
                f"option '--out': {run} is in use by another demo ({lock.holder_text}); wait for it to end or choose "
                "another --out"
            )
    except OSError as e:
        raise CycleGANError(f"option '--out': cannot create or lock {run} ({e.strerror or e})") from None
    try:
        yield
    finally:
        lock.release()  # and the folder, if it made it and nothing was written


@contextlib.contextmanager
def _writing_report(run: Path) -> Iterator[None]:
    """A full or read-only disk while the grids or the report are written: one line naming the file, not a
    traceback (the trained run stays in `run`, and the same command reports on it once there is room)."""
    try:
        yield
    except OSError as e:
        where = f"{e.filename or run}: {e.strerror or e}"
        kept = (run / CHECKPOINT_NAME).is_file() and (run / RECORD_NAME).is_file()
        again = " (the trained run is kept: run the demo again to report on it)" if kept else ""
        raise CycleGANError(f"cannot write the demo's report in {run}: {where}{again}") from None


def _training_options(opts: DemoOptions) -> dict[str, Any]:
    """The demo's options that shape its training: a stopped demo goes on (or reports) when run again with the
    same ones only (others train anew, with --overwrite)."""
    return {k: getattr(opts, k) for k in ("minutes", "steps", "seed", "device", "precision")}


def _stamp(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def _write_record(run: Path, record: dict) -> None:
    """demo.json, whole or not at all; a full or read-only disk is one line naming it (before training or after)."""
    text, path = json.dumps(record, indent=2) + "\n", run / RECORD_NAME
    try:
        write_atomic(path, lambda tmp: Path(tmp).write_text(text))
    except OSError as e:
        raise CycleGANError(f"cannot write the demo's record {path}: {e.strerror or e}") from None


def _stopped_demo(run: Path, opts: DemoOptions) -> dict | None:
    """The record (demo.json) of a demo in `run` stopped before its report, for the same training options; None if
    there is none. Run again with other training options, one line says which to give."""
    try:
        record = json.loads((run / RECORD_NAME).read_text())
        given = record["demo"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(given, dict):
        return None
    wanted = _training_options(opts)
    if given != wanted:
        flags = ", ".join(
            _flag(k, v) if v is not None else f"no --{k}" for k, v in given.items() if k in wanted and v != wanted[k]
        )
        raise CycleGANError(
            f"{run} holds a demo run trained with other options{f' ({flags})' if flags else ''} that stopped before "
            "its report: run the demo with them to go on with it, or pass --overwrite to train anew"
        )
    return record


def _flag(name: str, value: Any) -> str:
    """A training option as given on the command line: --minutes 5, not 5.0; a device quoted for the shell."""
    return f"--{name} {value:g}" if isinstance(value, float) else f"--{name} {shlex.quote(str(value))}"


def _demo_command(run: Path, opts: DemoOptions) -> str:
    """The demo's command on `run` with the training options it was given other than the defaults (a stopped demo
    goes on with the same ones only: without them the printed command was refused), quoted so that it runs as
    printed (a folder with a space)."""
    given, defaults = _training_options(opts), _training_options(DemoOptions())
    flags = "".join(f" {_flag(k, v)}" for k, v in given.items() if v != defaults[k] and v is not None)
    return escape(f"cyclegan demo --out {shlex.quote(str(run))}{flags}")


def _run_demo(opts: DemoOptions, s: DemoSettings) -> dict:
    """`run_demo`, holding the run folder: a new demo, or one stopped before its report, which goes on from its
    checkpoint (stopped while training) or reports (stopped after)."""

    run = Path(opts.out)
    busy = FolderLock(run)
    if busy.held_elsewhere():  # a `cyclegan train --resume` of this demo's run: --overwrite would delete its files
        raise CycleGANError(
            f"option '--out': {run} is in use by a training run ({busy.holder_text}); wait for it to end or choose "
            "another --out"
        )
    t0 = time.perf_counter()
    record = None
    if (run / CHECKPOINT_NAME).exists():
        reported = (run / "report.json").exists()
        record = None if opts.overwrite or reported else _stopped_demo(run, opts)
        if record is not None and record.get("checkpoint") == _stamp(run / CHECKPOINT_NAME):
            print_out(f"{escape(run)}: the demo's training ended before its report; reporting on it")
            return _report_or_say_how_to(run, opts, s, record)
        if record is None and not opts.overwrite:
            stopped = "" if reported else " that stopped before its report"
            raise CycleGANError(
                f"{run}{link_note(run)} already holds a demo run{stopped}: pass --overwrite to replace it, or choose "
                "another --out"
            )
        if opts.overwrite:
            remove_demo_run(run)
            # through a link: the run it leads to
            print_out(f"replacing the previous demo run in {escape(run)}{link_note(run)}")
    if record is None:
        options = {**DEMO_OPTIONS, "seed": opts.seed, **s.options, **({"steps": opts.steps} if opts.steps else {})}
        world = {"size": options["size"], "count": s.train_count, "test_count": s.test_count, "seed": WORLD_SEED}
        before = None if opts.overwrite else _rendered_before(run, world)
        record = {
            "demo": _training_options(opts),
            "options": options,
            # the steps follow this machine's measured speed, so the LR schedule still ends at 0 in the minutes
            "fit_steps": bool(opts.minutes) and not opts.steps,
            "device": str(resolve_device(opts.device)),
            "data": {**world, "sha256": None},  # the rendering's digest once whole: reused if stopped before training
        }
        if before == "whole":  # a demo stopped before its first checkpoint
            print_out(f"{escape(run)}: reusing the demo's rendered scenes in {escape(run / 'data')}")
        else:
            _write_record(run, record)  # before rendering: a rendering stopped halfway is known as this world's
            remove_stale_temporaries(run / "data")  # a killed rendering's (this process holds the folder)
            if before == "part":
                kept = sum(1 for split in SPLITS for _ in (run / "data" / split).glob("*.png"))
                print_out(f"{escape(run)}: the demo's rendering was stopped halfway; keeping its {kept} whole scenes")
            scenes = SyntheticOptions(str(run / "data"), **world, progress=opts.progress)
            try:
                write_dataset(scenes, keep=before == "part")
            except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the scenes written are kept for the same command
                again = _demo_command(run, opts)
                print_line(f"the demo stopped while rendering: {again} keeps the scenes written")
                raise
        record["data"]["sha256"] = _rendering(run / "data")
        _write_record(run, record)  # before training: a stopped demo goes on with the same options
        resumed = False
    else:
        resumed = True
    record = _train(run, opts, record, resumed=resumed, t0=t0)
    return _report_or_say_how_to(run, opts, s, record)


def _report_or_say_how_to(run: Path, opts: DemoOptions, s: DemoSettings, trained: dict) -> dict:
    """`_report`; stopped (Ctrl-C, SIGTERM) while it scores, the command that reports on the trained run is named."""
    try:
        return _report(run, opts, s, trained)
    except KeyboardInterrupt:
        again = _demo_command(run, opts)
        print_line(f"the demo stopped before its report: {again} reports on its trained run")
        raise


def _train(run: Path, opts: DemoOptions, record: dict, *, resumed: bool, t0: float) -> dict:
    """Train the demo's run (`resumed`: on from its checkpoint, as `cyclegan train --resume` does) and add how the
    training ended to `record`, written as demo.json before the scores."""
    if resumed:
        cfg, ckpt = prepare_config({}, resume=True, out=str(run))  # the run's own config: steps, time, seed
        if cfg.train.steps is not None and ckpt["step"] >= cfg.train.steps:  # `cyclegan train --resume` ended it
            print_out(
                f"{escape(run)}: the demo's training was ended outside the demo (cyclegan train --resume); "
                "reporting on it"
            )
            verdict = stored_verdict(ckpt)
            return {
                **record,
                "steps_trained": ckpt["step"],
                "execution": None,  # not timed by the demo
                "verdict": dataclasses.asdict(verdict) if verdict else None,
                "seconds": {"train": None, "before_report": time.perf_counter() - t0},  # not timed here
                "checkpoint": _stamp(run / CHECKPOINT_NAME),
            }
        print_out(f"{escape(run)}: the demo stopped while training; going on from its checkpoint")
    else:
        overrides = {
            **record["options"],
            "data": str(run / "data"),
            "out": str(run),
            "device": opts.device,
            "precision": opts.precision,
            "sample_every": 0,
            "checkpoint_every": 100,
            "log_every": 20,
            "time_limit": opts.minutes,
            "fit_steps": record["fit_steps"],
        }
        # settings that do not score (tests' tiny ones): their scoring options are the demo's, not the user's to be
        # warned of as doing nothing
        if not overrides.get("eval_every"):
            overrides = {k: v for k, v in overrides.items() if k not in SCORING_OPTIONS}
        cfg, ckpt = prepare_config(overrides, resume=False, out=str(run))
    t_train = time.perf_counter()
    try:
        # after a stop, train names the demo's command (`cyclegan train --resume` leads to a model, no report)
        # a new run's cap is the demo's own (the user gave no --steps); a resumed one's is its stored total, said so
        capped_by = None if resumed else f"the demo's {cfg.train.steps}-step cap"
        # train's --time-limit is the demo's --minutes: "give more --time-limit" named a flag the demo has not
        result = reworded(_in_demo_words)(train)(
            cfg, ckpt=ckpt, progress=opts.progress, resume_with=_demo_command(run, opts), capped_by=capped_by
        )
    except SystemExit:  # Ctrl-C or SIGTERM
        if not (run / CHECKPOINT_NAME).is_file():  # train said "nothing to resume": the demo runs anew
            print_line(f"the demo stopped before its report: {_demo_command(run, opts)} runs it again")
        raise
    record = {
        **record,
        "steps_trained": result.step,
        **({"resumed_at_step": ckpt["step"]} if resumed else {}),
        "execution": result.execution,
        "verdict": dataclasses.asdict(result.verdict) if result.verdict else None,
        # a resumed demo: the steps of this process (those before the stop are not timed)
        "seconds": {"train": time.perf_counter() - t_train, "before_report": time.perf_counter() - t0},
        "checkpoint": _stamp(run / CHECKPOINT_NAME),  # the run this record describes: reported on if stopped now
    }
    _write_record(run, record)
    return record


def _in_demo_words(message: str) -> str:
    """A training error with the demo's flag for the one training option it sets from its own (--minutes)."""
    return message.replace("--time-limit", "--minutes")


def few_steps_note(settings: dict[str, Any], execution: dict[str, Any] | None, minutes: float) -> str | None:
    """What the scores of a demo that fitted under FEW_STEPS steps into its minutes are (a slow or busy machine's),
    for its table and report.html; None for a demo of more, of steps fixed by --steps (the user's choice), or cut
    by the time limit (said apart)."""
    trained = settings["steps_trained"]
    if "steps_cap" not in settings or trained >= FEW_STEPS or settings["steps_planned"] > trained:
        return None
    speed = f" at {execution['s_per_step']:.3f} s/step" if execution and execution.get("s_per_step") else ""
    return (
        f"{trained} steps fitted in {minutes:g} minutes{speed}, a slow or busy machine: the README's scores and "
        "pictures took over 2000 steps, and fewer steps score lower; give more --minutes (with --overwrite: the demo "
        "trains anew)"
    )


def _report(run: Path, opts: DemoOptions, s: DemoSettings, trained: dict) -> dict:
    """Translate the test scenes both ways with the trained run, score them and write the grids and the report.
    `trained`: the demo's record (demo.json) with how its training ended."""
    t0 = time.perf_counter()
    data, device_ = run / "data", resolve_device(opts.device)
    anew = "pass --overwrite to run the demo anew"
    try:  # a demo reported when run again: its files may have gone since
        config = json.loads((run / CONFIG_NAME).read_text())  # as trained: the fitted steps, not the cap
        scores = scores_logged(run / LOG_NAME)
    except OSError as e:
        raise CycleGANError(f"cannot read the demo's run in {run}: {e.filename}: {e.strerror or e}; {anew}") from None
    except ValueError as e:
        raise CycleGANError(f"cannot read the demo's run in {run}: {e}; {anew}") from None
    planned = config["train"]["steps"]  # the LR schedule's end: more than trained when the time limit cut it
    options, fitted = trained["options"], trained["fit_steps"]
    names = sorted(p.name for p in (data / "testA").glob("*.png"))  # testA/NAME and testB/NAME: one scene
    if not names:
        raise CycleGANError(f"{data / 'testA'}: the demo's test scenes are gone; {anew}")
    test = {"A": _read_all([data / "testA" / n for n in names]), "B": _read_all([data / "testB" / n for n in names])}
    results: dict[str, dict[str, float]] = {}
    grids: dict[str, str] = {}
    for direction, src, dst in (("AtoB", "A", "B"), ("BtoA", "B", "A")):
        real, truth = test[src], test[dst]
        fake = _translate_all(load_generator(run, direction, device=device_), real)
        results[direction] = score(fake, real, truth, names)
        n = s.grid_rows
        with _writing_report(run):
            grids[direction] = save_grid([real[:n], fake[:n], truth[:n]], run / f"grid_{direction}.png").name
    report = {
        "ground_truth": results,
        "task": "summer (A) <-> winter (B), synthetic scenes with true renderings",
        "metrics": "PSNR in dB (capped at 100 for identical images) and SSIM, against the true rendering; "
        "untranslated (psnr_identity, ssim_identity): the input itself against the same truth (the do-nothing "
        "baseline); local colour (local_colour, local_colour_identity): the worst patch's mean colour off the truth's "
        "over all the test scenes, its largest channel, in grey levels (a blob of the wrong colour, which PSNR and "
        "SSIM average away), local_colour_at the scene and the patch (x, y: its top-left pixel)",
        # report.html shows this note under its table's 'untranslated' columns
        # fitted to the minutes, the options' steps (5000) were only a cap: the report shows the fitted steps (too
        # short a budget to fit them in, the cap), and the steps trained
        "settings": dataclasses.asdict(s)
        | {
            "options": {**options, "steps": planned} if fitted else options,
            "steps_trained": trained["steps_trained"],
            **({"resumed_at_step": trained["resumed_at_step"]} if "resumed_at_step" in trained else {}),
            "steps_planned": planned,
            **({"steps_cap": options["steps"]} if fitted else {}),
            "device": trained["device"],
        },
        "execution": trained["execution"],
        "config": config,
        "seconds": {
            # the rendering and training (of the process that trained, reported when run again), then the scoring
            "total": round(trained["seconds"]["before_report"] + time.perf_counter() - t0, 1),
            "train": None if trained["seconds"]["train"] is None else round(trained["seconds"]["train"], 1),
            # inside "train" (a resumed demo's: the evaluations after the stop); to the ms
            "evaluation": round(sum(r["eval_s"] for r in scores if r["step"] > trained.get("resumed_at_step", 0)), 3),
        },
        "grids": grids,
        "scores_while_training": scores,
        "verdict": trained["verdict"],
    }
    report["note"] = few_steps_note(report["settings"], trained["execution"], opts.minutes)
    text, html = json.dumps(report, indent=2) + "\n", render_demo_html(report)
    # each whole (a symlink is replaced); report.json last: it marks a finished demo (a stopped one has none)
    with _writing_report(run):
        # in the encoding its <meta charset> names: the locale's (ASCII under LC_ALL=C) failed on its "summer ↔ winter"
        write_atomic(run / "report.html", lambda tmp: Path(tmp).write_text(html, encoding="utf-8"))
        write_atomic(run / "report.json", lambda tmp: Path(tmp).write_text(text))
    return report
