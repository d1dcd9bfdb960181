"""What a training run's folder holds, by name, the tag of the checkpoint format, and `exported_kind` (a file
`cyclegan export` wrote, told from a checkpoint): no torch, so the web page's run list and its --checkpoint
check, the demo and the trainer read the same names."""

import os
import zipfile
from pathlib import Path

FORMAT = "cyclegan-checkpoint"  # the "format" entry of every checkpoint `cyclegan train` writes
CHECKPOINT_NAME = "checkpoint.pt"  # the resumable checkpoint (networks, optimizers, schedules, RNG, ...)
BEST_NAME = "best.pt"  # the generators at the best --eval-every score (--best-by), with that step and score
GENERATORS_ONLY = "generators"  # "contents" of a checkpoint of generators alone: best.pt, save_generator's (one)
CONFIG_NAME = "config.json"  # the run's resolved configuration
LOG_NAME = "log.jsonl"  # one JSON record per logged step
SAMPLES_DIR = "samples"  # sample grids, samples/step_NNNNNNN.png
TENSORBOARD_DIR = "tensorboard"
# Any one of them: a folder holding a run's files or a model's (the page lists it; no dataset is rendered into it)
RUN_FILES = (CONFIG_NAME, LOG_NAME, CHECKPOINT_NAME)
STARTED_WITH = (CONFIG_NAME, LOG_NAME)  # what `cyclegan train` writes before its first step: both, a run folder
# checkpoint.pt's entries that `cyclegan evaluate RUN` reads too (without training's modules): the watcher's state,
# which holds the held-out images' digests (`train.watch.Watch.state_dict`), and whether the run set training images
# aside for its scores (`train.run_folder.Run.set_aside`), kept aside while scoring is off
WATCH_KEY = "watch"
SET_ASIDE_KEY = "set_aside"


def is_run_folder(folder: Path) -> bool:
    """Whether `folder` is a training run's: it holds the config.json and the log.jsonl that `cyclegan train` writes
    before its first step (STARTED_WITH), so a run is one from its start, before its first checkpoint. A model's
    folder in Hugging Face's layout (a checkpoint.pt beside its config.json, no log) is none: no training writes
    there."""
    return all((folder / name).is_file() for name in STARTED_WITH)


def started_in(run: Path, out: object, holding: str | None = None) -> Path | None:
    """The folder `train` was started in to write run folder `run` with `--out out` (its config.json's `out`):
    `run` less its --out, where --out was relative and still ends the run's path; None where it cannot be told (an
    absolute --out or one through '..', the run moved). A run's relative --data was read from there.

    `run` is taken as named first (made absolute, not resolved), then with its links followed: `runs` a link to a
    bigger disk, the resolved path's folder above `runs/x` was the disk's, not the one train ran in (and its data
    not found). Of the two, the first where `holding` (a relative path, the run's --data) is there, else the first
    that ends with --out."""
    if not isinstance(out, str) or Path(out).is_absolute():
        return None
    parts = Path(out).parts
    if not parts or ".." in parts:
        return None
    starts = []
    for here in (Path(os.path.abspath(run)).parts, run.resolve().parts):
        if len(parts) < len(here) and here[-len(parts) :] == parts and Path(*here[: -len(parts)]) not in starts:
            starts.append(Path(*here[: -len(parts)]))
    there = [start for start in starts if holding is not None and os.path.exists(start / holding)]
    return (there or starts or [None])[0]


def exported_kind(path: str | Path) -> str | None:
    """'TorchScript' or 'ONNX' where `path` holds an exported model (torch.jit.save's zip, with its
    constants.pkl or code/; an ONNX protobuf: ir_version then producer_name, or a .onnx name), else None.
    Read where a file failed to load as a checkpoint, and for `serve --checkpoint` (whose models load later)."""
    path = Path(path)
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                parts = [name.split("/")[1:2] for name in zf.namelist()]
            return "TorchScript" if any(p in (["constants.pkl"], ["code"]) for p in parts) else None
        with open(path, "rb") as f:
            head = f.read(4)
    except (OSError, zipfile.BadZipFile, EOFError, ValueError):
        return None
    # ModelProto: field 1 (ir_version, a one-byte varint) then field 2 (producer_name, a string)
    onnx_head = len(head) == 4 and head[0] == 0x08 and head[1] < 0x80 and head[2] == 0x12
    return "ONNX" if onnx_head or (path.suffix.lower() == ".onnx" and head) else None
