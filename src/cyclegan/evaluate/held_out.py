"""The images a run scores while it trains (`--eval-every`), as files: `HeldOut`, whose digests its checkpoint keeps,
and, where its data has no test split, the training images it sets aside (`aside_count`, `split_off`: training's
choice). Below `train/`, so that `cyclegan evaluate RUN` chooses them again as training did (`rebuilt_aside`),
checks them against the run's checkpoint, and scores exactly those, without importing training.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from ..config import config_from_dict
from ..data.dataset import find_pairs
from ..data.io import list_images
from ..errors import CycleGANError
from ..families import family
from ..run_files import CHECKPOINT_NAME, SET_ASIDE_KEY, WATCH_KEY
from ..safeload import load_weights_only

T = TypeVar("T")


@dataclass(frozen=True)
class HeldOut:
    """The held-out files: per domain (A, B), the images scored at each evaluation; `paired`: A[i] and B[i]
    are one scene (the truth of each other's translation). `where` says where they come from, for the log."""

    a: list[Path]
    b: list[Path]
    paired: bool
    where: str
    pairs: list[tuple[Path, Path | None]] | None = None  # pix2pix: (A, B) files, B None for an A|B image
    from_training: bool = False  # set aside from the training images (there is no test split)

    def digest(self) -> str:
        """Which images these are, by file name (not folder: --data may move on resume): scores compare only
        between evaluations of the same images (the watcher's best, best.pt)."""
        b = [p.name if p else "" for _, p in self.pairs] if self.pairs is not None else [p.name for p in self.b]
        names = "\n".join([p.name for p in self.a] + ["|"] + b)
        return hashlib.sha256(names.encode("utf-8", "surrogateescape")).hexdigest()[:16]

    def files(self) -> list[Path]:
        """Every file scored, A's then B's (a pair's two files together)."""
        return [p for pair in self.pairs for p in pair if p] if self.pairs is not None else [*self.a, *self.b]

    def files_digest(self) -> str:
        """The held-out files' names and bytes: an image edited in place, under its name, changes this and not
        `digest`, and its scores are not comparable with those before. By content, not by time: a dataset copied
        without its files' times scores the same images (at most `--eval-images` per domain: cheap to read)."""
        h = hashlib.sha256()
        for p in self.files():
            h.update(f"{p.name}\0".encode("utf-8", "surrogateescape"))
            try:
                h.update(hashlib.sha256(p.read_bytes()).digest())
            except OSError:  # gone since it was read: scored from memory, as read
                h.update(b"gone")
        return h.hexdigest()[:16]


def aside_count(n: int, available: int) -> int:
    """How many of a domain's `available` training images (or pairs) a run without a test split sets aside for its
    scores: `n` (--eval-images), a fifth at most (training refuses fewer than 2)."""
    return min(n, available // 5)


def split_off(files: list[T], k: int) -> tuple[list[T], list[T]]:
    """`files` (in name order) less their last `k`, and those `k`: the images set aside, never trained on."""
    return files[: len(files) - k], files[len(files) - k :]


def rebuilt_aside(run: Path, root: Path) -> tuple[HeldOut | None, str | None]:
    """The training images under `root` that run folder `run` set aside for its scores, chosen again as training
    chose them and checked against the digests its checkpoint.pt keeps: (those images, None); (None, None) where the
    run set none aside (it trained on all its images, or scored a test split); (None, why) where they cannot be
    scored exactly (its checkpoint gone or unread, its digests absent, or the files added, removed, renamed or
    edited since): `why` says so of the run, to follow its name."""
    path = run / CHECKPOINT_NAME
    if not path.is_file():  # best.pt alone: it holds neither whether images were set aside nor their digests
        return None, f"has no {CHECKPOINT_NAME}, which says which training images it set aside for its scores, if any"
    try:
        ckpt = load_weights_only(path)
        if not (isinstance(ckpt, dict) and ckpt.get(SET_ASIDE_KEY) is True):
            return None, None
        cfg = config_from_dict(ckpt["config"], source=str(path))
        watch = ckpt.get(WATCH_KEY) if isinstance(ckpt.get(WATCH_KEY), dict) else {}
        names, contents = watch.get("held_out"), watch.get("held_out_files")
    except (CycleGANError, OSError, KeyError, TypeError) as e:
        return None, _inexact(f"its {CHECKPOINT_NAME} cannot be read ({str(e) or type(e).__name__})")
    if not isinstance(names, str):  # scoring off since the run started, or a checkpoint of an older version
        return None, _inexact(f"its {CHECKPOINT_NAME} holds no digest of them")
    try:
        held = _chosen(root, cfg.train.eval_images, paired=family(cfg.model.family).paired)
    except CycleGANError as e:
        return None, _inexact(str(e))
    if held is None or held.digest() != names:
        return None, _inexact(
            f"the images it would set aside now are others (images added, removed or renamed under {root} since, or "
            "an unreadable one that training skipped)"
        )
    if isinstance(contents, str) and held.files_digest() != contents:  # older checkpoints keep names alone
        return None, _inexact(f"{_names(held.files())} hold other contents than those it scored (edited since)")
    return held, None


def _inexact(why: str) -> str:
    return f"set training images aside for its scores, but they cannot be scored exactly: {why}"


def _chosen(root: Path, n: int, *, paired: bool) -> HeldOut | None:
    """Training's choice over `root`'s training split as it lists now (`training_images`, `set_aside`), None where it
    would set fewer than 2 aside (training refused that)."""
    if not paired:
        a, b = (list_images(root / f"train{x}", what=f"training folder train{x}") for x in "AB")
        ka, kb = aside_count(n, len(a)), aside_count(n, len(b))
        if min(ka, kb) < 2:
            return None
        return HeldOut(split_off(a, ka)[1], split_off(b, kb)[1], False, "", from_training=True)
    if (root / "train").is_dir():  # pix2pix's A|B images side by side
        pairs: list[tuple[Path, Path | None]] = [(p, None) for p in list_images(root / "train")]
    else:
        pairs = list(find_pairs(root / "trainA", root / "trainB"))
    k = aside_count(n, len(pairs))
    if k < 2:
        return None
    aside = split_off(pairs, k)[1]
    return HeldOut([a for a, _ in aside], [], True, "", aside, True)


def _names(paths: list[Path], shown: int = 3) -> str:
    more = f" and {len(paths) - shown} more" if len(paths) > shown else ""
    return ", ".join(str(p) for p in paths[:shown]) + more
