"""A run's inputs: the two domains' folders (or pix2pix's pairs), each image decoded once before training (a
broken file stops the run, or is skipped and named), the training set, its loader, and the fixed sample
images of the sample grids."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from ..config import Config, DataConfig, check_data_root
from ..data import (
    PairedTrainSet,
    UnpairedTrainSet,
    check_images,
    eval_transform,
    find_pairs,
    list_images,
    read_image,
    read_pair,
)
from ..data.dataset import not_halvable, unlike_aligned, unlike_pairs
from ..data.io import (
    Digested,
    check_separate,
    copies_between,
    copies_within,
    file_digest,
    first_frames_only,
    identical_files,
    left_out,
)
from ..errors import CycleGANError, counted, escape
from ..families import family
from ..options import given_as, given_together
from ..progress import print_warning
from ..shared_options import MAX_PIXELS
from . import distributed as ddp
from .signals import worker_init


def data_folders(d: DataConfig) -> list[Path]:
    """The folders a run may read images from: --domain-a and --domain-b, or ROOT's trainA, trainB, testA and
    testB (train and test: pix2pix's aligned pairs). Not ROOT itself: `--data . --out runs/x` is fine."""
    if d.domain_a or d.domain_b:
        return [Path(f) for f in (d.domain_a, d.domain_b) if f]
    return [Path(d.data) / split for split in ("trainA", "trainB", "testA", "testB", "train", "test")] if d.data else []


def domain_folders(cfg: Config) -> tuple[Path, Path, Path | None, Path | None]:
    """(trainA, trainB, testA or None, testB or None) from --data ROOT or --domain-a/--domain-b."""
    d = cfg.data
    if d.domain_a or d.domain_b:
        if not (d.domain_a and d.domain_b):
            domains = f"{given_as('domain_a')} and {given_as('domain_b')}"
            raise CycleGANError(f"give both {domains} (or {given_as('data', 'ROOT')})")
        a, b = Path(d.domain_a), Path(d.domain_b)
        check_separate(a, b, f"option '{given_as('domain_b')}':", f"{given_as('domain_a')} ")
        return a, b, None, None
    if not d.data:
        raise CycleGANError(
            f"no training data: give {given_as('data', 'ROOT')} (with trainA, trainB) or {given_as('domain_a')} and "
            f"{given_as('domain_b')}"
        )
    check_data_root(d)
    root = Path(d.data)
    if (root / "train").is_dir() and not ((root / "trainA").is_dir() or (root / "trainB").is_dir()):
        # pix2pix's layout: "trainA does not exist" left the user to find that the family reads another one
        raise CycleGANError(
            f"option 'data': {root} holds train/ (pix2pix's pairs, A|B side by side), not trainA and trainB: "
            f"{given_as('family', cfg.model.family, flag='--model')} trains on two folders of unpaired images; give "
            f"{given_as('family', 'pix2pix', flag='--model')}, or put "
            "the A and B images into ROOT/trainA and ROOT/trainB"
        )
    missing = [name for name in ("trainA", "trainB") if not (root / name).is_dir()]
    if files := [name for name in missing if os.path.lexists(root / name)]:  # "holds no trainA" of a file trainA
        what = "a file" if (root / files[0]).exists() else "a broken link"
        raise CycleGANError(
            f"option 'data': {root / files[0]} is {what}, not a folder of images: make it the folder of domain "
            f"{files[0][-1]}'s training images"
        )
    if missing:  # two folders of one's own (ROOT/horses, ROOT/zebras) said only "ROOT/trainA does not exist"
        raise CycleGANError(
            f"option 'data': {root} holds no {' and no '.join(missing)} ({given_as('data', 'ROOT')} reads ROOT/trainA "
            "and ROOT/trainB): give the folder holding them, or name two folders of images with "
            f"{given_together(given_as('domain_a', 'DIR'), given_as('domain_b', 'DIR'))}"
        )
    test_a, test_b = root / "testA", root / "testB"
    # a link makes two splits one folder (trainA -> trainB): the same images in both domains
    check_separate(root / "trainA", root / "trainB", "option 'data':", "")
    if test_a.is_dir() and test_b.is_dir():
        check_separate(test_a, test_b, "option 'data':", "")
    return root / "trainA", root / "trainB", test_a if test_a.is_dir() else None, test_b if test_b.is_dir() else None


@dataclass(frozen=True)
class Images:
    """The readable training images of each domain, the test folders (if any) and what was skipped."""

    train_a: list[Path]
    train_b: list[Path]
    test_a: Path | None
    test_b: Path | None
    skipped: list[str]  # one message per unreadable image
    # a paired family (pix2pix): train_a[i] and train_b[i] are a pair (train_b None: each train_a file holds A|B
    # side by side), and the sample grids show the first test pairs (else the first training pairs)
    paired: bool = False
    aligned: bool = False
    test_pairs: list[tuple[Path, Path | None]] | None = None
    # the readable images of test_a and test_b (decoded once, as the training images are)
    test_files_a: list[Path] | None = None
    test_files_b: list[Path] | None = None
    # the training files' digests from the check's read of them (`check_images(digests=...)`), on the process that
    # records them (`files_record(checked=...)`): a new run reads each file once
    digests: dict[Path, Digested] | None = None


def _warn_left_out(folders: list[Path | None], main: bool) -> None:
    for line in [line for folder in folders for line in left_out(folder)] if main else []:
        print_warning(f"warning: {escape(line)}")


def _warn_frames(frames: dict[Path, int], main: bool) -> None:
    if main and (line := first_frames_only(frames, reader="training")):
        print_warning(f"warning: {escape(line)}")


def training_images(cfg: Config, *, progress: bool, main: bool) -> Images:
    """Both domains' images, each decoded once now: a broken file stops here (or is skipped and named)."""
    if family(cfg.model.family).paired:
        return _paired_images(cfg, progress=progress, main=main)
    dir_a, dir_b, test_a, test_b = domain_folders(cfg)
    _warn_left_out([dir_a, dir_b, test_a, test_b], main)
    skipped: list[str] = []
    frames: dict[Path, int] = {}  # images of several pages, read by their first: named (`first_frames_only`)
    digests: dict[Path, Digested] | None = {} if main else None
    files = []
    for folder, what in ((dir_a, "domain A folder"), (dir_b, "domain B folder")):
        good, bad = check_images(
            list_images(folder, what=what),
            skip_bad=cfg.data.skip_bad_images,
            max_pixels=cfg.data.max_pixels,
            cap_option=given_as("max_pixels"),
            desc=f"checking {folder}",
            progress=progress,
            frames=frames,
            digests=digests,
        )
        if not good:
            raise CycleGANError(f"{what} {folder}: no readable images")
        files.append(good)
        skipped += bad
    tests: list[list[Path] | None] = []
    for folder in (test_a, test_b):  # the sample grids' and --eval-every's images: checked as the training ones
        if folder is None:
            tests.append(None)
            continue
        remedy = f"the sample grids and {given_as('eval_every')} read it: add images, or remove the folder"
        try:
            found = list_images(folder, what="test folder")
        except CycleGANError as e:  # optional, but there and empty: say what to do
            raise CycleGANError(f"{e} ({remedy})") from None
        good, bad = check_images(
            found,
            skip_bad=cfg.data.skip_bad_images,
            max_pixels=cfg.data.max_pixels,
            cap_option=given_as("max_pixels"),
            desc=f"checking {folder}",
            progress=progress,
            frames=frames,
        )
        if not good:
            raise CycleGANError(f"test folder {folder}: no readable images ({remedy})")
        tests.append(good)
        skipped += bad
    for msg in skipped if main else []:
        print_warning(f"warning: skipping {escape(msg)}")
    _warn_frames(frames, main)
    _check_copies(
        [
            (dir_a, dir_b, files[0], files[1], "is drawn as often as another image", digests),
            # the test split is not drawn from: scored (--eval-every, evaluate), its copies weigh twice there
            (test_a, test_b, tests[0], tests[1], "weighs in the scores as much as another image", None),
        ],
        main,
    )
    return Images(
        files[0], files[1], test_a, test_b, skipped, test_files_a=tests[0], test_files_b=tests[1], digests=digests
    )


def _check_copies(
    splits: list[
        tuple[Path | None, Path | None, list[Path] | None, list[Path] | None, str, dict[Path, Digested] | None]
    ],
    main: bool,
) -> None:
    """Refuse a domain folder whose images are all the other's copies (each image in both domains: the generators
    learn to change nothing, and the run said nothing); warn of a few shared ones (`copies_between`), and of copies
    within one folder (`copies_within`: an image saved twice weighed twice without a word), from one pass over the
    files' bytes; each split's fifth item says what a copy within one folder does there, its last holds the check's
    digests of its files, where it took them (`identical_files(digests=...)`: the files not read again)."""
    for a, b, files_a, files_b, does, digests in splits:
        if not (a and b and files_a and files_b):
            continue
        groups = identical_files(files_a, files_b, digests=digests)
        if (found := copies_between(a, b, files_a, files_b, groups=groups)) is not None:
            line, whole = found
            if whole:
                raise CycleGANError(
                    f"{escape(line)}: the same images in both domains teach the generators to change nothing; give "
                    "each domain its own images"
                )
            if main:
                print_warning(f"warning: {escape(line)}: these images are in both domains")
        for stream, (folder, files) in enumerate(((a, files_a), (b, files_b))):
            if main and (line := copies_within(folder, files, groups, stream)):
                print_warning(f"warning: {escape(line)}: each copy {does}")


def _aligned_layout(root: Path) -> bool:
    """Whether ROOT is read as pix2pix's aligned layout (ROOT/train of A|B images): train/ is a folder, or it is a
    file or a broken link where no trainA or trainB folder is, which `list_images` then names as such (it was
    reported as "holds no trainA and no trainB")."""
    train = root / "train"
    if train.is_dir():
        return True
    return os.path.lexists(train) and not any((root / split).is_dir() for split in ("trainA", "trainB"))


def _paired_images(cfg: Config, *, progress: bool, main: bool) -> Images:
    """A paired family's (pix2pix's) pairs: ROOT/train of aligned A|B images (test pairs from ROOT/test or
    ROOT/val), or files of the same name in trainA and trainB (testA and testB; or --domain-a and --domain-b),
    each decoded once now."""
    d = cfg.data
    aligned = bool(d.data) and not (d.domain_a or d.domain_b) and _aligned_layout(Path(d.data))
    test_pairs: list[tuple[Path, Path | None]] | None = None
    if aligned:
        root = Path(d.data)
        pairs: list[tuple[Path, Path | None]] = [
            (p, None) for p in list_images(root / "train", what=f"{given_as('data')} aligned folder")
        ]
        test = next((root / s for s in ("test", "val") if (root / s).is_dir()), None)
        _warn_left_out([root / "train", test], main)
        test_pairs = [(p, None) for p in list_images(test)] if test else None
        if main and (root / "trainA").is_dir() and (root / "trainB").is_dir():  # two layouts: which one trains?
            print_warning(f"warning: {escape(_both_layouts(root, test))}")
    else:
        dir_a, dir_b, test_a, test_b = domain_folders(cfg)
        _warn_left_out([dir_a, dir_b, test_a, test_b], main)
        pairs = list(find_pairs(dir_a, dir_b))
        test_pairs = list(find_pairs(test_a, test_b)) if test_a and test_b else None
    files = [p for pair in pairs for p in pair if p is not None]
    frames: dict[Path, int] = {}
    check = functools.partial(
        check_images,
        skip_bad=d.skip_bad_images,
        max_pixels=d.max_pixels,
        cap_option=given_as("max_pixels"),
        progress=progress,
        frames=frames,
    )
    digests: dict[Path, Digested] | None = {} if main else None
    good, skipped = check(files, desc="checking the pairs", digests=digests)
    if test_pairs:  # the sample grids' and --eval-every's pairs: checked as the training ones
        test_files = [p for pair in test_pairs for p in pair if p is not None]
        test_good, test_bad = check(test_files, desc="checking the test pairs")
        readable = set(test_good)
        test_pairs = [pair for pair in test_pairs if all(p is None or p in readable for p in pair)] or None
        skipped += test_bad
    if aligned:
        good, unhalved = _halvable(good, skip_bad=d.skip_bad_images)
        skipped += unhalved
        if test_pairs:
            halved, unhalved = _halvable([a for a, _ in test_pairs], skip_bad=d.skip_bad_images)
            test_pairs, skipped = [(a, None) for a in halved] or None, skipped + unhalved
    good_set = set(good)
    pairs = [pair for pair in pairs if all(p is None or p in good_set for p in pair)]
    if not pairs:
        raise CycleGANError("no readable training pairs")
    for msg in skipped if main else []:
        print_warning(f"warning: skipping {escape(msg)}{'' if aligned else ' (and its pair)'}")
    if main and not aligned and (line := unlike_pairs([*pairs, *(test_pairs or [])])):
        print_warning(f"warning: {escape(line)}")
    if main and aligned and (line := unlike_aligned([a for a, _ in [*pairs, *(test_pairs or [])]])):
        print_warning(f"warning: {escape(line)}")
    _warn_frames(frames, main)
    train_b = [b for _, b in pairs] if not aligned else []
    return Images(
        [a for a, _ in pairs],
        train_b,
        None,
        None,
        skipped,
        paired=True,
        aligned=aligned,  # type: ignore[misc]
        test_pairs=test_pairs,
        digests=digests,
    )


def _both_layouts(root: Path, test: Path | None) -> str:
    """ROOT holds pix2pix's two layouts: train/ (A|B side by side) is read; how to read trainA and trainB."""
    tests = f" and {test.name}/" if test else ""
    return (
        f"{root} holds both train/ (A|B side by side) and trainA + trainB: training reads train/{tests}; to read "
        f"trainA and trainB instead, give {given_as('domain_a', str(root / 'trainA'))} "
        f"{given_as('domain_b', str(root / 'trainB'))} in place of {given_as('data')}"
    )


def _halvable(files: list[Path], *, skip_bad: bool) -> tuple[list[Path], list[str]]:
    """The aligned files (A and B side by side) that halve into an A and a B of one size: at least 2 px wide, of an
    even width (`not_halvable`). Another stops the run in one line naming it, or with `skip_bad` is left out:
    (kept, messages)."""
    good: list[Path] = []
    bad: list[str] = []
    for path in files:
        msg = not_halvable(path)  # by its upright width, the header alone
        if msg is None:
            good.append(path)
            continue
        if not skip_bad:
            raise CycleGANError(f"{msg} (remove it, or pass {given_as('skip_bad_images', True)})")
        bad.append(msg)
    return good, bad


def dataset(
    cfg: Config, images: Images, *, new_run: bool = True, held_out: bool = False
) -> UnpairedTrainSet | PairedTrainSet:
    """The training set. A new run's batch may not exceed the images per domain (each step would repeat images,
    and a huge batch exhausts the memory first); a resumed run keeps the batch it was started with."""
    d, t = cfg.data, cfg.train
    n = max(len(images.train_a), len(images.train_b))
    if new_run and t.batch_size > n:
        after = f" left after {given_as('eval_every')} set some aside" if held_out else ""
        raise CycleGANError(
            f"option '{given_as('batch_size')}': {t.batch_size} is more than the {counted(n, 'training image')} per "
            f"domain{after}; give at most {n}"
        )
    if images.paired:
        return PairedTrainSet(
            images.train_a,
            None if images.aligned else images.train_b,
            size=d.size,
            load_size=round(d.size * d.load_scale),
            flip=d.flip,
            seed=t.seed,
            batch_size=t.batch_size,
            max_pixels=d.max_pixels,
        )
    return UnpairedTrainSet(
        images.train_a,
        images.train_b,
        size=d.size,
        load_size=round(d.size * d.load_scale),
        flip=d.flip,
        seed=t.seed,
        batch_size=t.batch_size,
        max_pixels=d.max_pixels,
    )


def loader(
    cfg: Config,
    device: torch.device,
    d_ctx: ddp.Dist,
    data: UnpairedTrainSet | PairedTrainSet,
    sampler: ddp.StepSampler,
) -> DataLoader:
    d = cfg.data
    cores = (os.cpu_count() or 1) // d_ctx.local_world_size  # the processes on this machine share its cores
    workers = d.num_workers if d.num_workers >= 0 else min(4, max(0, cores - 1))
    if workers > max(cores, 1) and d_ctx.is_main:
        print_warning(
            f"warning: {given_as('num_workers', workers)} is more than the {counted(max(cores, 1), 'CPU core')} of "
            "this process: the loading processes share them (faster only when reading waits on a slow disk)"
        )
    with quiet_worker_count():
        return DataLoader(
            data,
            batch_size=sampler.per_rank,
            sampler=sampler,
            num_workers=workers,
            pin_memory=device.type == "cuda",
            worker_init_fn=worker_init,
            prefetch_factor=4 if workers else None,
            generator=torch.Generator(),  # its own: drawing worker seeds must not move the global RNG (dropout)
        )


@contextlib.contextmanager
def quiet_worker_count() -> Iterator[None]:
    """Without torch's two-line warning, repeated at each `iter`, of more workers than cores (`loader` says it in one
    line)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "This DataLoader will create", UserWarning)
        yield


def sample_batch(files: list[Path], n: int, size: int, *, max_pixels: int = MAX_PIXELS) -> torch.Tensor:
    """The first n images (sorted names) resized to size x size: the same every time."""
    return torch.stack([eval_transform(read_image(p, max_pixels=max_pixels), size=size) for p in files[:n]])


def sample_pairs(
    pairs: list[tuple[Path, Path | None]], n: int, size: int, *, max_pixels: int = MAX_PIXELS
) -> tuple[torch.Tensor, torch.Tensor]:
    """The first n pairs resized to size x size: (A images, B images)."""
    read = [read_pair(a, b, max_pixels=max_pixels) for a, b in pairs[:n]]
    return tuple(torch.stack([eval_transform(p[i], size=size) for p in read]) for i in (0, 1))  # type: ignore[return-value]


_Listed = list[list[tuple[Path, str, os.stat_result | None]]]


def _stat_streams(streams: tuple[list[Path] | None, ...]) -> _Listed:
    """Each stream's files, in order, as (the file; its name relative to the stream's folder, so that a dataset moved
    elsewhere matches; its stat, None where it is gone since the check: the loader names it when it reads it). One
    stat per file, which a digest and the stamps share (`files_record`)."""
    listed = []
    for files in streams:
        root = os.path.commonpath([p.parent for p in files]) if files else ""
        rows = []
        for p in files or []:
            try:
                st = p.stat()
            except OSError:
                st = None
            rows.append((p, str(p.relative_to(root) if root else p), st))
        listed.append(rows)
    return listed


def _digest(listed: _Listed) -> str:
    h = hashlib.sha256()
    for rows in listed:
        for _, name, st in rows:
            h.update(f"{name}\0{st.st_size if st else -1}\n".encode("utf-8", "surrogateescape"))
        h.update(b"\1")  # the end of a stream: A's last file is not B's first
    return h.hexdigest()[:16]


# a file gone since the check, or one that cannot be read: no size, no time, no contents
_GONE = (-1, -1, 0)


def _stamps(listed: _Listed, before: torch.Tensor | None, checked: dict[Path, Digested]) -> torch.Tensor:
    """(N, 4) int64: each file's name (its stream's too) hashed, its size, its modification time in ns and its contents
    hashed. The contents are the digest the image check took of the bytes it decoded (`checked`) at this size and
    time, else those `before` (a checkpoint's stamps) holds for this name, size and time (a file the check did not
    hash: one over `DIGESTED_IN_MEMORY`), else a read of the file here. The check's digest comes first: one taken
    from `before` at the same size and time hid an edit whose size and time were set back (`touch -r`, a sync
    keeping times)."""
    known = {(n, size, ns): contents for n, size, ns, contents in before.tolist()} if _is_stamps(before) else {}
    rows = []
    for i, stream in enumerate(listed):
        for path, name, st in stream:
            key = _hash64(f"{i}\0{name}")
            size, ns, contents = (st.st_size, st.st_mtime_ns, None) if st else _GONE
            if st and (seen := checked.get(path)) is not None and (seen.size, seen.mtime_ns) == (size, ns):
                contents = _hash64(seen.digest)
            elif st and (contents := known.get((key, size, ns))) is None:
                read = file_digest(path)
                size, ns, contents = (size, ns, _hash64(read)) if read is not None else _GONE
            rows.append([key, size, ns, contents])
    return torch.tensor(rows, dtype=torch.int64).reshape(-1, 4)


def _is_stamps(stamps: object) -> bool:
    """Whether a checkpoint's `train_stamps` is a record `_stamps` wrote (not an older one's, nor one damaged)."""
    return (
        isinstance(stamps, torch.Tensor) and stamps.dtype == torch.int64 and stamps.dim() == 2 and stamps.shape[1] == 4
    )


def files_digest(*streams: list[Path] | None) -> str:
    """A digest of each stream's files, in order: their names (relative to the stream's folder) and sizes. Cheap, a
    stat each, no image read: a resume compares it with its checkpoint's, and so notices files swapped for others of
    the same count (under torchrun, every process's with rank 0's)."""
    return _digest(_stat_streams(streams))


def files_record(
    *streams: list[Path] | None, before: torch.Tensor | None = None, checked: dict[Path, Digested] | None = None
) -> tuple[str, torch.Tensor]:
    """`files_digest` of the streams, and their stamps (`_stamps`): each file, in order, as a row of (N, 4) int64, its
    name, size, modification time and contents. From one stat per file (two passes stat'ed each file twice: 20000
    calls for a folder of 10000 images, each a round trip on a network disk), and a read of the files neither
    `before` (the checkpoint's stamps, on a resume) nor `checked` (the image check's digests, `Images.digests`: a
    second pass over a big folder's bytes on a new run) holds at this size and time. A resume compares them with its
    checkpoint's (`changed_in_place`), and so notices an image edited in place, which keeps its name and often its
    size (a re-save of a PNG at the same settings, a retouched BMP), not its contents; a dataset copied without its
    files' times (`cp -r`, an archive unpacked again) keeps the contents, and is no change."""
    listed = _stat_streams(streams)
    return _digest(listed), _stamps(listed, before, checked or {})


def _hash64(data: str | bytes) -> int:
    raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "little", signed=True)


def stored_stamps(stamps: object) -> torch.Tensor | None:
    """A checkpoint's `train_stamps` that `changed_in_place` reads: this version's (N, 4), or an older checkpoint's
    (N, 2) of names and a hash of sizes and times; None for anything else (a tensor of another shape, an edited file:
    the names and sizes' digest stands in for it)."""
    older = isinstance(stamps, torch.Tensor) and stamps.dim() == 2 and stamps.shape[1] == 2
    return stamps if _is_stamps(stamps) or older else None  # type: ignore[return-value]


def changed_in_place(before: torch.Tensor, now: torch.Tensor) -> tuple[int, int]:
    """From two `files_record` stamps, `before` perhaps an older checkpoint's (`stored_stamps`): (the files of the same
    name whose size or contents changed, the files whose name `before` does not hold). Against an older checkpoint's,
    which held no contents, a change of the time counts too."""
    if before.shape[1] == 2:
        now_rows = [(n, _hash64(f"{size}\0{ns}" if size >= 0 else "gone")) for n, size, ns, _ in now.tolist()]
        was_rows = before.tolist()
    else:
        now_rows = [(n, size, contents) for n, size, _, contents in now.tolist()]
        was_rows = [(n, size, contents) for n, size, _, contents in before.tolist()]
    was = {n: stamp for n, *stamp in was_rows}
    stamps = {n: stamp for n, *stamp in now_rows}
    changed = sum(1 for name, stamp in stamps.items() if name in was and was[name] != stamp)
    return changed, sum(1 for name in stamps if name not in was)


def half_size_steps(total: int, fraction: float) -> int:
    """How many of `total` steps train at half size (`--half-size-fraction`): steps 1 .. this number."""
    return round(fraction * total)


def at_step_size(batch: torch.Tensor, step: int, half_size_until: int) -> torch.Tensor:
    """The batch (B, 3, H, W) in [-1, 1] as step `step` (counted from 1) trains on it: 2x2-averaged to
    (B, 3, H/2, W/2) up to step `half_size_until`, else as it is. A pure function of the step, so a resumed run
    sees the sizes the uninterrupted one did."""
    return torch.nn.functional.avg_pool2d(batch, 2) if step <= half_size_until else batch
