"""A run's folder: the config of a new or resumed run (`prepare_config`), the lock that keeps a second run
out, the clean-up after a crash (stale temporary files, log records after the checkpoint's step), and
`Run`, what the steps of one run share (its config, folder, processes, step budget, where it saves)."""

from __future__ import annotations

import errno
import json
import os
import re
import shlex
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from ..checkpoint import load_checkpoint
from ..config import (
    ALTERNATIVES,
    RESUMABLE,
    Config,
    check_family_options,
    check_resumable,
    config_from_dict,
    option_fields,
    option_value,
    resolve,
)
from ..errors import CycleGANError, escape
from ..files import FolderLock, broken_link, link_note, remove_stale_temporaries, write_atomic
from ..options import flag_of, given_as, given_together
from ..presets import split_preset
from ..progress import print_line
from ..run_files import BEST_NAME, CHECKPOINT_NAME, CONFIG_NAME, LOG_NAME, SAMPLES_DIR, SET_ASIDE_KEY
from . import distributed as ddp
from .trainer import Trainer

TRAIN_DIGEST_KEY = "train_digest"  # checkpoint.pt: the training files' names and sizes (`Run.train_digest`)
TRAIN_STAMPS_KEY = "train_stamps"  # checkpoint.pt: each training file's name, size, time, contents (`Run.train_stamps`)


class ReadCheckpoint(dict):
    """A checkpoint as `prepare_config` read it, with its file and the file's identity (inode, size, mtime) at
    that moment: a resume refuses a file that another run rewrote between that read and taking the lock. `began`:
    when its read began (`time.monotonic`), where a resume's --time-limit counts from (`train.loop`)."""

    def __init__(self, ckpt: dict, *, file: Path, stamp: tuple[int, int, int], began: float):
        super().__init__(ckpt)
        self.file, self.stamp, self.began = file.resolve(), stamp, began

    def rewritten(self, file: Path) -> bool:
        """Whether `file`, the checkpoint this was read from, has changed since."""
        return file.resolve() == self.file and _stamp(file) != self.stamp


def prepare_config(
    overrides: dict,
    *,
    resume: bool,
    out: str | None,
    names: Mapping[str, str] | None = None,
    typed: Collection[str] = (),
) -> tuple[Config, dict | None]:
    """The config of a new run (preset/file/flags) or of a resumed one (its checkpoint, plus allowed flags).
    `names`: how errors name an option, by key (`config.check_family_options`); `typed`: the keys typed as flags
    (`config.resolve`)."""
    if not resume:
        return resolve(overrides, names=names, typed=typed), None
    ckpt_file = check_resumable(out)
    stamp = _stamp(ckpt_file)
    # a resume's time limit counts this read too (a paper model's checkpoint and its optimizers: hundreds of MB, on a
    # slow or network disk minutes), as a new run's counts its set-up
    began = time.monotonic()
    # checked: keys, types, config, shapes, training state
    try:
        ckpt = ReadCheckpoint(load_checkpoint(ckpt_file, training=True), file=ckpt_file, stamp=stamp, began=began)
    except CycleGANError as e:  # the run keeps one checkpoint (each written whole): no earlier one to go back to
        raise CycleGANError(
            f"{e}; {given_as('resume', True)} cannot go on from it: restore the file from a copy, or start a new run "
            f"with another {given_as('out')}"
        ) from None
    stored = config_from_dict(ckpt["config"], source=str(ckpt_file))
    stored_flat = stored.flat()
    # the recipe and the family first: `--lambda-l1 5 --model pix2pix` on a CycleGAN run said "--lambda-l1 cannot
    # change (the run uses --lambda-l1 100.0)", a value the run never used, and the other order "--model cannot change"
    for key in sorted(overrides, key=lambda k: k not in ("preset", "family")):
        value = overrides[key]
        # `--preset cut`, as the run was started: the paper's recipe for --model cut, not a change
        if key == "preset" and split_preset(value) not in ((stored.preset, None), (stored.preset, stored.model.family)):
            uses = given_together(
                given_as("preset", stored.preset), given_as("family", stored.model.family, flag="--model")
            )
            name = (names or {}).get(key, key)  # a config file's key as the file's
            raise CycleGANError(f"option '{name}' cannot change on resume (the run uses {uses})")
        # as stored: `--nce-layers 0 4 8 12` (a list) is the run's (0, 4, 8, 12)
        # (a key that is no option is left to `resolve`, which names it: "the run uses None" sent the user astray)
        changed = key in stored_flat and stored_flat[key] != option_value(key, value)
        if key not in RESUMABLE and key != "preset" and changed:
            if key != "family" and overrides.get("family", stored.model.family) == stored.model.family:
                # `--lambda-l1 5` on a CycleGAN run means nothing to it: said as for a new run, not as a change
                check_family_options({key: value}, stored.model.family, typed=key in typed, names=names)
            # a config file's key as the file's (`key' in 'FILE`); --model: the one option whose flag is not its key
            name = (names or {}).get(key) or (given_as(key, flag="--model") if key == "family" else key)
            raise CycleGANError(
                f"option '{name}' cannot change on resume ({_as_typed(key, stored_flat.get(key))}); "
                f"start a new run with another {given_as('out')} instead"
            )
    for key in [k for k in ALTERNATIVES if overrides.get(k) is not None]:
        # the stored alternative goes (--steps: its --epochs; --domain-a/-b: its --data, which would stay and be
        # ignored, and then win over a later resume's --data)
        overrides = {**{other: None for other in ALTERNATIVES[key]}, **overrides}
    if overrides.get("eval_every") == 0 and "stop_when_worse" not in overrides:
        # scoring switched off: the stored --stop-when-worse has nothing to count (given with it, it is refused)
        overrides = {**overrides, "stop_when_worse": 0}
    if overrides.get("time_limit") == 0 and "fit_steps" not in overrides:
        # the time limit lifted: the stored --fit-steps has no time to fit to (given with it, it is refused)
        overrides = {**overrides, "fit_steps": False}
    cfg = resolve({k: v for k, v in overrides.items() if k != "preset"}, base=stored, names=names, typed=typed)
    return replace(cfg, train=replace(cfg.train, out=str(out), steps=_fitted_steps(cfg, stored, ckpt["step"]))), ckpt


def _as_typed(key: str, value: object) -> str:
    """What the run holds for option `key`, as its caller gives it (`given_as`): `the run uses --nce-layers 0 4 8 12`
    (not a Python tuple), `--no-flip`, or `leaves --n-blocks not set` on a command line; `nce_layers=(0, 4, 8, 12)`,
    `flip=False` in Python."""
    flag = flag_of(option_fields()[key][1])
    if value is None:
        return f"the run leaves {given_as(key, flag=flag)} not set"
    return f"the run uses {given_as(key, value, flag=flag)}"


def _fitted_steps(cfg: Config, stored: Config, step: int) -> int | None:
    """The total steps of the resumed run. A --fit-steps run whose LR has begun to decay keeps the total it was
    fitted to: its command line's --steps (the most, not the total) made the LR jump back up and decay anew."""
    t, s = cfg.train, stored.train
    if not (t.fit_steps and s.fit_steps and t.steps is not None and s.steps is not None):
        return t.steps
    # inside the decay the stored total is also the most (the cap): a refit may shorten it (`StepFitter.total`),
    # but the resumed run's fresh --time-limit would lengthen it and raise the LR again
    decaying = step >= s.steps - round(s.steps * s.lr_decay_fraction)
    return min(t.steps, s.steps) if decaying else t.steps


def _stamp(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_ino, st.st_size, st.st_mtime_ns


def claim_run_folder(run: Path, lock: FolderLock, ckpt: dict | None, d_ctx: ddp.Dist, *, cfg: Config) -> None:
    """Rank 0 locks the run folder, checks that the run may start (or go on) there, and cleans up after a
    run that crashed in it: `write_atomic`'s stale temporary files, and the log records and sample grids after the
    checkpoint's step (a resumed run writes them again). A new run over the config.json of another one that stopped
    before its first checkpoint is refused (`_check_config_kept`). A refusal stops every rank."""
    error: CycleGANError | None = None
    if d_ctx.is_main:
        try:
            # said as "cannot write the run folder RUN: No such file ..." otherwise
            if broken := broken_link(run, given_as("out")):
                raise broken
            named = f"{run}{link_note(run)}"  # a run folder reached through a link says which folder it is
            if not lock.acquire():
                raise CycleGANError(
                    f"{named} is in use by another training run ({lock.holder_text}); wait for it to end or choose "
                    f"another {given_as('out')}"
                )
            ckpt_file = run / CHECKPOINT_NAME
            if ckpt is None and ckpt_file.exists():
                raise CycleGANError(
                    f"{named} already holds a run: add {given_as('resume', True)} to continue it, or choose another "
                    f"{given_as('out')}"
                )
            if ckpt is None and (run / BEST_NAME).exists():  # left by a scored run killed before its first checkpoint
                raise CycleGANError(
                    f"{named} holds best.pt (the best generators of an earlier run) but no checkpoint.pt: move best.pt "
                    f"elsewhere to keep it and start a new run here, or choose another {given_as('out')}"
                )
            if ckpt is None:
                _check_config_kept(run, cfg)
                _check_records_kept(run)
            if isinstance(ckpt, ReadCheckpoint) and ckpt.rewritten(ckpt_file):
                raise CycleGANError(
                    f"{ckpt_file} was rewritten by another run after this one read it; run the command again to "
                    "resume from the new checkpoint"
                )
            # the folders a run writes in, not their sub-folders: another command may be at work in one under its own
            # lock (`evaluate --save-images RUN/eval`), its temporaries live
            for folder in (run, run / SAMPLES_DIR):
                remove_stale_temporaries(folder, recursive=False)
            trim_log(run / LOG_NAME, ckpt["step"] if ckpt is not None else 0)
            trim_samples(run / SAMPLES_DIR, ckpt["step"] if ckpt is not None else 0)
            if link_note(run):  # said once a link is taken: the run's files, and a resume's, are in that folder
                print_line(f"note: {given_as('out')} {run}{link_note(run)}: the run is written there")
        except OSError as e:
            error = CycleGANError(f"cannot write the run folder {run}: {oserror_text(e)}")
        except CycleGANError as e:
            error = e
    ddp.raise_on_every_rank(error, d_ctx, elsewhere="rank 0 could not prepare the run folder (its error is above)")


def _check_config_kept(run: Path, cfg: Config) -> None:
    """A run that stopped before its first checkpoint leaves config.json as the one record of its options: a new run
    in its folder with other options (besides those a resume may change: steps, data, device...) would replace it
    without a word. The same command again (a restart) goes on. A config.json that is no run's (another tool's, in a
    folder given as --out) is refused too: it was replaced as well."""
    path = run / CONFIG_NAME
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:  # none (the usual case), or a folder there: the write names it
        return
    try:
        stored = config_from_dict(json.loads(text), source=str(path)).flat()
    except (ValueError, TypeError, AttributeError, CycleGANError):
        raise CycleGANError(
            f"{escape(run)} holds a config.json that this version does not read as a run's configuration (another "
            f"tool's, or an older run's), which this run would replace: choose another {given_as('out')} (a new or "
            "empty folder)"
        ) from None
    new = cfg.flat()
    key = next((k for k in new if k not in RESUMABLE and stored.get(k) != new[k]), None)
    if key is not None:
        raise CycleGANError(
            f"{escape(run)} holds the config.json of a run that stopped before its first checkpoint, with other "
            f"options ('{key}' {stored.get(key)!r}, not {new[key]!r}): choose another {given_as('out')}, or remove "
            f"{escape(path)} to start this run there"
        )


def _check_records_kept(run: Path) -> None:
    """A new run trims log.jsonl to its step 0 and removes the sample grids after it (`trim_log`, `trim_samples`):
    where no config.json says they are a run's that this one restarts (`_check_config_kept`), they are another's
    (a run whose config.json went, a folder of someone's, through a link too) and were emptied without a word."""
    if (run / CONFIG_NAME).exists():
        return
    found = [
        name
        for name, there in (
            (LOG_NAME, (run / LOG_NAME).is_file() and (run / LOG_NAME).stat().st_size > 0),
            (f"{SAMPLES_DIR}/step_*.png", (run / SAMPLES_DIR).is_dir() and _grids(run / SAMPLES_DIR)),
        )
        if there
    ]
    if found:
        raise CycleGANError(
            f"{escape(run)}{link_note(run)} holds {' and '.join(found)} but no config.json (another run's records, "
            "which a new run here would replace): move them elsewhere to keep them, or choose another "
            f"{given_as('out')}"
        )


def _grids(folder: Path) -> bool:
    """Whether `folder` holds a sample grid (`Run.sample_path`'s name)."""
    return any(_GRID.fullmatch(p.name) for p in folder.iterdir())


def oserror_text(e: OSError) -> str:
    """An OSError in words, with the file it names (a `.lock` or `log.jsonl` that is a folder, not the run's)."""
    name = e.filename2 or e.filename  # a rename's: where the file was going, not its temporary name
    return f"{e.strerror} ({name})" if e.strerror and name else str(e.strerror or e)


def once_fixed(e: OSError, folder: Path) -> str:
    """When a run stopped by the failed write `e` in `folder` can go on, as its line says it: a full disk or quota
    "once there is room"; another cause by what lifts it (a read-only file system's and a refused permission's
    lines said "once there is room" too, sending the user to free space that was never short)."""
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return "once there is room"
    if e.errno == errno.EROFS:
        return f"once the file system of {folder} is writable again (mounted read-write)"
    if e.errno in (errno.EACCES, errno.EPERM):
        return f"once you may write in {folder} (its permissions, or its owner's)"
    if e.errno == errno.EIO:  # the disk, or its connection (a network drive, a loose cable)
        return "once the disk or its connection is checked"
    return "once its cause is fixed"


def trim_log(path: Path, step: int) -> None:
    """Keep the records of log.jsonl up to `step` (the checkpoint's), each step once, in order; drop the rest
    (what a crashed or stopped run logged after its last checkpoint, a half-written last line, anything not
    strict JSON). Rewritten atomically, and only if something goes or its last line lacks its newline."""
    check_not_a_link(path)  # before the run: its target was read, and kept or appended to
    if not path.is_file():
        return
    text = path.read_bytes().decode("utf-8", errors="replace")
    lines = text.splitlines()
    kept, last = [], 0
    for line in lines:
        try:
            record = json.loads(line, parse_constant=_reject_constant)
        except ValueError:
            continue
        s = record.get("step") if isinstance(record, dict) else None
        if isinstance(s, int) and not isinstance(s, bool) and last < s <= step:
            kept.append(line)
            last = s
    # a last record whole but for its newline (a power cut) is ended too: the next record was appended to its line,
    # and the two, one line that is not JSON, were dropped at the next resume
    if len(kept) != len(lines) or (text and not text.endswith("\n")):
        write_atomic(path, lambda tmp: Path(tmp).write_text("".join(line + "\n" for line in kept)))


def trim_samples(folder: Path, step: int) -> None:
    """Remove the sample grids (`Run.sample_path`) of steps after `step` (the checkpoint's): a run killed or
    stopped after its last checkpoint left them, and after a resume that is not exact (other images, other options)
    they showed that run's steps as this one's until those steps came again, and for good where it stopped before.
    Other files in the folder are left alone."""
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        m = _GRID.fullmatch(path.name)
        if m and int(m.group(1)) > step and path.is_file():
            path.unlink()


_GRID = re.compile(r"step_(\d{7,})\.png")  # `Run.sample_path`'s names


def check_not_a_link(log: Path) -> None:
    """Refuse a log.jsonl that is a symbolic link: appended to through it, a run wrote its records outside its
    folder (another run's log, any file the user can write)."""
    if log.is_symlink():
        raise CycleGANError(
            f"cannot write the log {log}: it is a symbolic link (to {escape(os.readlink(log))}), and a run writes "
            f"inside its folder only; remove the link, or choose another {given_as('out')}"
        )


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def resume_command(folder: Path, d: ddp.Dist = ddp.ONE_PROCESS) -> str:
    """`cyclegan train --resume` of the run in `folder`, quoted so that it runs as printed (a folder with a space);
    under torchrun (`d`) launched as the run was: alone, it resumed on one process, each starting from rank 0's random
    state, not exactly (and on one GPU)."""
    train = f"cyclegan train --out {escape(shlex.quote(str(folder)))} --resume"
    if not d.enabled:
        return train
    if d.world_size == d.local_world_size:  # one machine
        return f"torchrun --standalone --nproc_per_node {d.world_size} -m {train}"
    return f"torchrun (with the run's rendezvous options, on each of its machines) -m {train}"


@dataclass(frozen=True)
class Run:
    """What the steps of one run share: its config, folder, processes and step budget."""

    cfg: Config
    folder: Path
    device: torch.device
    d_ctx: ddp.Dist
    steps_per_epoch: int
    total: int
    train_images: tuple[int, int] = (0, 0)  # the training set's images per stream (A, B; B 0 for aligned pairs)
    train_digest: str | None = None  # their names and sizes (`inputs.files_record`)
    # each one's name, size, modification time and contents (`inputs.files_record`): an image edited in place
    train_stamps: torch.Tensor | None = field(default=None, compare=False)
    set_aside: bool = False  # training images are set aside for scoring (kept aside while scoring is off)
    resume_with: str | None = None  # the command named after a stop halfway (None: `cyclegan train ... --resume`)

    @property
    def main(self) -> bool:
        return self.d_ctx.is_main

    def goes_on_with(self) -> str:
        """The command that goes on with this run after a stop: its caller's (`resume_with`), or train's own."""
        return self.resume_with or resume_command(self.folder, self.d_ctx)

    def sample_path(self, step: int) -> Path:
        return self.folder / SAMPLES_DIR / f"step_{step:07d}.png"

    def _kept(self, path: Path, e: OSError) -> str:
        """What is left to go on with after the checkpoint `path` could not be written (`e`): the previous one
        (written whole), or, at the first, nothing to resume (it said "the previous checkpoint is kept" there too)."""
        when = once_fixed(e, self.folder)
        if path.is_file():
            return f"the previous checkpoint is kept ({when}: {self.goes_on_with()})"
        best = self.folder / BEST_NAME  # a new run there refuses a best.pt without its checkpoint
        moved = f", after moving {best} away" if best.exists() else ""
        return f"it was the run's first: nothing to resume; {when}, start the run again{moved}"

    def save(self, trainer: Trainer, step: int, *, extra: dict | None = None) -> Path:
        """The checkpoint after `step` steps (every rank calls this; rank 0 writes; `extra`: more entries, the
        watcher's state). A write that fails (a full disk) stops every rank with one line; the previous
        checkpoint stays (atomic write)."""
        path = self.folder / CHECKPOINT_NAME
        error = None
        try:
            more = {
                **(extra or {}),
                "train_images": list(self.train_images),  # resume compares its own with it
                TRAIN_DIGEST_KEY: self.train_digest,  # and this: files swapped for others of the same count
                TRAIN_STAMPS_KEY: self.train_stamps,  # and these: files edited in place
                SET_ASIDE_KEY: self.set_aside,  # resume keeps them aside, scoring on or off
            }
            trainer.save(path, step=step, steps_per_epoch=self.steps_per_epoch, extra=more)
        except OSError as e:
            why = e.strerror or e
            error = CycleGANError(f"cannot write the checkpoint {path} at step {step}: {why}; {self._kept(path, e)}")
        elsewhere = "rank 0 could not write the checkpoint (its error is above)"
        ddp.raise_on_every_rank(error, self.d_ctx, elsewhere=elsewhere)
        return path
