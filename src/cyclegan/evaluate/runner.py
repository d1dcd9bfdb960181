"""`cyclegan evaluate`: translate a test split and score it.

Per direction (AtoB uses G: A -> B and F to come back; BtoA the reverse):
- distribution distance between the translated images and the real images of the target domain
  (FD and KID over backbone features: `fid`/`kid` with the FID Inception, `fd_lite0`/`kid_lite0` with
  Lite0), and the same distance before translation (`*_untranslated`: source vs target), the gap the
  translation should close;
- cycle reconstruction x vs F(G(x)): L1 (in [-1, 1] units, as the training loss), PSNR, SSIM;
- identity G(y) vs y on the target domain: L1;
- when the split is aligned (testA and testB hold the same file names, e.g. synthetic data rendered in
  both domains, or pix2pix's A|B images; where only some do, over those pairs, `partners`): translated vs true
  image, PSNR / SSIM / L1, and the local colour
  error (`truth_local_colour`: the worst patch's mean colour off the truth's over all the images, in grey levels;
  `truth_local_colour_at`: the image and the patch, x and y its top-left pixel at the evaluated size; both None
  where a translation is not finite).

Images are read from ROOT/{split}A and ROOT/{split}B, or, when neither exists, from ROOT/{split} of A|B
images side by side (pix2pix's aligned layout, as `train --model pix2pix` reads it: each file's left half is
its A image, its right half its B image, under the file's name), and resized to size x size (the
checkpoint's training size unless given), as the training samples are.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import math
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .. import zoo
from ..config import config_from_dict
from ..data.dataset import eval_transform, not_halvable, split_aligned, unlike_aligned, unlike_pairs
from ..data.io import (
    check_images,
    check_separate,
    copies_between,
    first_frames_only,
    left_out,
    list_images,
    read_image,
    save_image,
    to_pil,
)
from ..errors import CycleGANError, counted, escape
from ..execution import resolve_device
from ..families import GENERATOR_FOR
from ..files import (
    check_out_folder,
    check_outputs,
    claim_folder,
    remove_stale_temporaries_of,
    removed_on_failure,
    unique_stems,
)
from ..inference import is_out_of_memory, translate_tensor
from ..interop.foreign import holds_both, load_foreign_generator
from ..loading import checkpoint_file, checkpoint_path, generator_from, held_directions, load_file, model_label
from ..progress import print_warning, progress_bar
from ..report import METRIC_NAMES
from ..report.grid import save_grid
from ..run_files import CONFIG_NAME, FORMAT
from .best import best_alone, best_missing, expand_runs, run_data
from .distances import Distances, feature_distances, kid_subset_size
from .features import find_inception_weights, load_backbone, load_fid_inception, weights_not_published
from .held_out import rebuilt_aside
from .metrics import colour_patch, l1, local_colour, psnr, ssim
from .options import (
    EvalOptions,
    check_folders_there,
    check_two_per_domain,
    holds_split,
    pair_key,
    split_folders,
    too_few_images,
)

GRID_ROWS = 6  # examples per sample grid written with --save-images
FOREIGN_SIZE = 256  # evaluation size for plain generator files, which do not record their training size

BACKBONE_NOTES = {
    "inception": "FID/KID with the standard FID Inception-v3 (pt_inception-2015-12-05), 2048-d pool3, 299 px",
    "lite0": "FD/KID over EfficientNet-Lite0 ImageNet features (1280-d, 224 px): NOT FID, comparable only "
    "with other fd_lite0/kid_lite0 figures",
}


# The files evaluated were checked against --max-pixels once (`_drop_bad_images`); reads after that take them.
CHECKED = 2**62


def _load(files: list[Path], size: int, half: str | None) -> torch.Tensor:
    """Images (N, 3, size, size) in [-1, 1]: each file whole, or (`half` "A" or "B", the aligned layout) its
    left or right half."""
    images = [read_image(p, max_pixels=CHECKED) for p in files]
    if half is not None:
        images = [split_aligned(im)["AB".index(half)] for im in images]
    return torch.stack([eval_transform(im, size=size) for im in images])


def _batches(
    files: list[Path], size: int, batch_size: int, half: str | None
) -> Iterator[tuple[list[Path], torch.Tensor]]:
    """(paths, images (B, 3, size, size) in [-1, 1]) in file order; `half` as `_load`."""

    for i in range(0, len(files), batch_size):
        chunk = files[i : i + batch_size]
        yield chunk, _load(chunk, size, half)


def _mean(values: list[float]) -> float:
    return float(sum(values) / len(values)) if values else math.nan


def partners(source: list[Path], target: list[Path], *, folders: tuple[Path, Path]) -> list[Path | None]:
    """The target file of each source file's name (`pair_key`, each under its own of `folders`: the source's and
    the target's), None where it has none. Two target files of one name that a source file needs (x.jpg and x.png)
    are a one-line error, as they are for paired training (`find_pairs`): the later one was taken as the truth
    without a word."""
    by_key: dict[Path, Path] = {}
    twins: dict[Path, Path] = {}
    for p in target:
        key = pair_key(p, folders[1])
        if key in by_key:
            twins[key] = p
        else:
            by_key[key] = p
    keys = [pair_key(p, folders[0]) for p in source]
    if clash := next((k for k in keys if k in twins), None):
        raise CycleGANError(
            f"{by_key[clash]} and {twins[clash].name} beside it have one name: the truth of a test image is the "
            "file of its name without the extension, so rename or remove one"
        )
    return [by_key.get(k) for k in keys]


def aligned_truth(source: list[Path], target: list[Path], *, folders: tuple[Path, Path]) -> list[Path] | None:
    """The target file of each source file when every source file has one of its name (`partners`), else None."""
    found = partners(source, target, folders=folders) if source else []
    return found if found and None not in found else None  # type: ignore[return-value]


def _features(
    files: list[Path], backbone: nn.Module, *, half: str | None, size: int, batch_size: int, device: torch.device, bar
) -> torch.Tensor:
    """Backbone features (N, D) of real images resized to size x size."""
    feats = []
    for _, y in _batches(files, size, batch_size, half):
        feats.append(backbone(y.to(device)).cpu())
        bar.update(len(y))
    return torch.cat(feats)


def _identity_l1(
    files: list[Path], net: nn.Module, *, half: str | None, size: int, batch_size: int, device: torch.device, bar
) -> list[float]:
    """Per-image L1 between net(y) and y for the target domain's images y (net should leave them alone)."""

    out: list[float] = []
    for _, y in _batches(files, size, batch_size, half):
        y = y.to(device)
        out += l1(translate_tensor(net, y), y).tolist()
        bar.update(len(y))
    return out


def _translate_pass(
    files: list[Path],
    there: nn.Module,
    back: nn.Module | None,
    backbone: nn.Module,
    *,
    truth: list[Path | None] | None,
    halves: tuple[str | None, str | None],
    size: int,
    batch_size: int,
    device: torch.device,
    save_dir: Path | None,
    bar,
) -> tuple[torch.Tensor, dict[str, list[float]], list[torch.Tensor], dict[str, Any] | None]:
    """Translate `files` with `there`, come back with `back`; features of the translations, per-image scores,
    the first GRID_ROWS (real, translated, reconstructed[, truth]) for a sample grid, and with a truth the worst local
    colour error (`local_colour`: its value, image and patch; None without a truth). Translations go to
    save_dir/STEM.png (equal stems from different sub-folders: STEM-2.png, as `translate` names them).
    `truth`: each file's truth (`partners`), None where it has none: the truth figures are over the files that
    have one, and the grid's truth column is grey where a row has none. `halves`: the half (`_load`) of `files`
    and of `truth`'s files to read."""

    feats: list[torch.Tensor] = []
    scores: dict[str, list[float]] = {"cycle_l1": [], "cycle_psnr": [], "cycle_ssim": []} if back else {}
    if truth is not None:
        scores.update(truth_l1=[], truth_psnr=[], truth_ssim=[])
    grid: list[list[torch.Tensor]] = []
    local: dict[str, Any] | None = None  # the worst patch so far
    names = dict(zip(files, unique_stems(files, ext="png"), strict=True))  # as `_saved_names` names them
    done = 0
    for paths, x in _batches(files, size, batch_size, halves[0]):
        x = x.to(device)
        fake = translate_tensor(there, x)  # (B, 3, S, S) in [-1, 1]
        feats.append(backbone(fake).cpu())
        cols = [x.cpu(), fake.cpu()]
        if back is not None:  # a plain generator file has no way back: no cycle figures
            rec = translate_tensor(back, fake)
            scores["cycle_l1"] += l1(rec, x).tolist()
            scores["cycle_psnr"] += psnr(rec, x).tolist()
            scores["cycle_ssim"] += ssim(rec, x).tolist()
            cols.append(rec.cpu())
        if truth is not None:
            # (B, 3, S, S): each file's truth, 0 (grey, as the grid shows it) where it has none
            real = torch.zeros_like(x, device="cpu")
            have = [i for i, t in enumerate(truth[done : done + len(x)]) if t is not None]
            if have:
                real[have] = _load([truth[done + i] for i in have], size, halves[1])  # type: ignore[misc]
                fake_cpu = fake.cpu()[have]
                scores["truth_l1"] += l1(fake_cpu, real[have]).tolist()
                scores["truth_psnr"] += psnr(fake_cpu, real[have]).tolist()
                scores["truth_ssim"] += ssim(fake_cpu, real[have]).tolist()
                local = _worse_patch(local, fake_cpu, real[have], [paths[i] for i in have])
            cols.append(real)
        if len(grid) < GRID_ROWS:
            grid += [[c[i] for c in cols] for i in range(min(len(x), GRID_ROWS - len(grid)))]
        if save_dir is not None:
            for p, y in zip(paths, fake, strict=True):
                save_image(to_pil(y), save_dir / f"{names[p]}.png")  # replaces a symlink, never follows it
        done += len(x)
        bar.update(len(x))
    columns = [torch.stack([row[k] for row in grid]) for k in range(len(grid[0]))] if grid else []
    return torch.cat(feats), scores, columns, local


def _lost_on_the_way_back(fake_feats: torch.Tensor, scores: dict[str, list[float]]) -> int:
    """How many finite translations (`fake_feats` (N, D) finite) came back through the other generator not finite
    (`scores["cycle_l1"]`, one per image in the same order, NaN): that generator's NaN made a direction's cycle
    figures nan without a word, as the warning of the translations themselves names only theirs."""
    if "cycle_l1" not in scores:  # no way back (a plain generator file): no cycle
        return 0
    sound = fake_feats.isfinite().all(1).tolist()
    return sum(ok and not math.isfinite(c) for ok, c in zip(sound, scores["cycle_l1"], strict=True))


def _worse_patch(
    local: dict[str, Any] | None, fake: torch.Tensor, truth: torch.Tensor, paths: list[Path]
) -> dict[str, Any] | None:
    """The worst local colour error so far (`local`: value, image, x, y, patch; None: none yet) after the batch of
    translations `fake` of `paths` against `truth` (B, 3, S, S) in [-1, 1]. A translation that is not finite
    makes the figure NaN for good, as it makes the means (a later finite batch had replaced it), with no place."""
    errors, where = local_colour(fake, truth)
    if not len(errors):
        return local
    i = int(errors.argmax())  # a NaN error's index, where there is one
    worst = errors[i].item()
    if local is not None and (math.isnan(local["value"]) or worst <= local["value"]):
        return local
    if math.isnan(worst):  # no worst window to point at: the text line named the image's corner, x 0, y 0
        return {"value": worst}
    x, y = where[i].tolist()
    return {"value": worst, "image": str(paths[i]), "x": x, "y": y, "patch": colour_patch(*truth.shape[-2:])}


def _check_generator_file(obj: Any, *, source: str) -> None:
    """Refuse a loaded file that holds no generator for either direction (a discriminator, another module's
    state dict), with the line that says what it holds and what was expected: asking such a file for its
    --direction would send the user the wrong way."""
    errors = []
    for direction in GENERATOR_FOR:
        try:
            load_foreign_generator(obj, direction, source=source)
            return
        except CycleGANError as e:
            errors.append(e)
    raise errors[0]


class _RealCache:
    """Features of the real test images per (domain, size) and the untranslated distances per direction:
    the same for every checkpoint evaluated in one process, so computed once."""

    def __init__(self) -> None:
        self.features: dict[tuple[str, int], torch.Tensor] = {}
        self.untranslated: dict[tuple[str, int], Any] = {}


@dataclasses.dataclass(frozen=True)
class SplitImages:
    """The test split's image files per domain ("A", "B"), listed, not yet read, and the folders they are in.
    `aligned`: pix2pix's layout, one folder of A|B images side by side: both domains list its files, A read
    from each file's left half and B from its right half (`_load`), so each file is a pair of one name."""

    domains: dict[str, list[Path]]
    folders: list[Path]  # ROOT/{split}A and ROOT/{split}B, or the one folder of A|B images
    aligned: bool = False
    # per domain, the files after the first --limit: read in order only to stand in for unreadable ones, so that
    # --limit N scores N readable images where the folder holds them (it scored fewer, the bad ones left out)
    rest: dict[str, list[Path]] = dataclasses.field(default_factory=dict)
    aside_of: Path | None = None  # the run whose training images these are, set aside for its scores (no test split)

    def folder(self, letter: str) -> Path:
        """The folder domain `letter`'s files are in."""
        return self.folders[0] if self.aligned else self.folders["AB".index(letter)]

    def half(self, letter: str) -> str | None:
        """Which half of its files domain `letter` reads (`_load`): None for whole files."""
        return letter if self.aligned else None

    @property
    def layout(self) -> str:
        """What was read, for the report."""
        if self.aligned:
            return f"aligned A|B images from {self.folders[0]} (A the left half of each, B the right half)"
        return f"{self.folders[0]} and {self.folders[1]}"


def _list_domains(opts: EvalOptions) -> SplitImages:
    """The image files of ROOT/{split}A and ROOT/{split}B, or of --domain-a and --domain-b (the first --limit of
    each), not yet read; when neither exists, those of ROOT/{split} of A|B images (the layout `train --model
    pix2pix` reads)."""

    if opts.domain_a is not None and opts.domain_b is not None:
        return _list_folders(opts, {"A": Path(opts.domain_a), "B": Path(opts.domain_b)})
    folders = split_folders(Path(opts.data), opts.split)  # the layout refused in its words, as the command's check
    if isinstance(folders, Path):
        files = list_images(folders, what=f"--data {opts.split} folder of A|B images")
        first, rest = _split_at_limit(files, opts.limit)
        return SplitImages({"A": first, "B": first}, [folders], aligned=True, rest={"A": rest, "B": rest})
    return _list_folders(opts, folders)


def _list_folders(opts: EvalOptions, folders: dict[str, Path]) -> SplitImages:
    """The image files of the two domain folders `folders` (the first --limit of each, the rest kept to stand in
    for unreadable ones), not yet read."""
    domains, rest = {}, {}
    for letter, folder in folders.items():
        files = list_images(folder, what=_folder_name(opts, letter))
        domains[letter], rest[letter] = _split_at_limit(files, opts.limit)
    # testA a link to testB (or nested): each set was scored against itself, without a word
    if opts.domain_a is not None:
        check_separate(folders["A"], folders["B"], "option '--domain-b':", "--domain-a ")
    else:
        check_separate(folders["A"], folders["B"], "option '--data':", "")
    # testB a copy of testA: the same, by its files' bytes
    if (found := copies_between(folders["A"], folders["B"], domains["A"], domains["B"])) and found[1]:
        raise CycleGANError(
            f"{escape(found[0])}: each set would be scored against itself; give each domain its own images"
        )
    return SplitImages(domains, list(folders.values()), rest=rest)


def _set_aside_split(opts: EvalOptions, checkpoints: tuple[str, ...]) -> tuple[EvalOptions, SplitImages | None]:
    """`evaluate RUN` on the run's own --data where it has no test split: the training images the run set aside for
    its scores (never trained on), chosen again as training chose them and checked against its checkpoint's digests
    (`held_out.rebuilt_aside`), and the options with --split train, whose folders they are in. (opts, None) where the
    split is there or no run set images aside; also where they cannot be scored exactly, said in one line: then the
    refusal that offers --split train, every training image, whose scores flatter the model (it was the one way to
    score such a run, the images it trained on with those it never saw). A --split train given is scored so, with
    that caution where the run's own images set aside could have been scored instead."""
    root = Path(opts.data)
    if opts.split not in ("test", "train") or holds_split(root, "test"):
        return opts, None
    runs = list(dict.fromkeys(run for c in checkpoints if (run := _run_folder(c)) is not None))
    found = {run: rebuilt_aside(run, root) for run in runs}
    held = {run: chosen for run, (chosen, _) in found.items() if chosen is not None}
    if opts.split == "train":  # asked for: every training image, scored with the caution the refusal gave it
        for run in held:
            print_warning(
                f"warning: --split train scores every training image, those {escape(run)} trained on with those it "
                "set aside for its scores: their scores flatter the model; leave --split out to score those it set "
                "aside alone"
            )
        return opts, None
    lines = [f"{run} {why}" for run, (_, why) in found.items() if why]
    if held and not lines and (len(held) < len(runs) or len({tuple(h.files()) for h in held.values()}) > 1):
        lines = ["the runs set other training images aside for their scores (or one none): evaluate them apart"]
    for line in lines:
        print_warning(f"warning: {escape(line)}")
    if lines or not held:
        return opts, None
    (run, chosen), *_ = held.items()
    if chosen.pairs is not None and chosen.pairs[0][1] is None:  # pix2pix's A|B images: a pair each
        first, rest = _split_at_limit(chosen.a, opts.limit)
        return dataclasses.replace(opts, split="train"), SplitImages(
            {"A": first, "B": first}, [root / "train"], aligned=True, rest={"A": rest, "B": rest}, aside_of=run
        )
    b = chosen.b if chosen.pairs is None else [p for _, p in chosen.pairs]  # pix2pix's trainB: the truths
    (first_a, rest_a), (first_b, rest_b) = _split_at_limit(chosen.a, opts.limit), _split_at_limit(b, opts.limit)
    folders = [root / "trainA", root / "trainB"]
    return dataclasses.replace(opts, split="train"), SplitImages(
        {"A": first_a, "B": first_b}, folders, rest={"A": rest_a, "B": rest_b}, aside_of=run
    )


def _run_folder(checkpoint: str) -> Path | None:
    """The run folder `checkpoint` is or is in (a folder holding config.json), None for a file outside any run."""
    path = Path(checkpoint)
    folder = path if path.is_dir() else path.parent
    return folder if not zoo.is_spec(checkpoint) and (folder / CONFIG_NAME).is_file() else None


def _split_at_limit(files: list[Path], limit: int | None) -> tuple[list[Path], list[Path]]:
    """The first `limit` files (all without one) and those after them."""
    return (files[:limit], files[limit:]) if limit else (files, [])


def _folder_name(opts: EvalOptions, letter: str) -> str:
    """How messages name domain `letter`'s folder: "--data testA folder", or "--domain-a folder"."""
    return f"--domain-{letter.lower()} folder" if opts.domain_a is not None else f"--data {opts.split}{letter} folder"


def _halvable(files: list[Path]) -> tuple[list[Path], list[str]]:
    """The A|B files that halve into an A and a B of one size as they are read (upright), and a line naming each
    other one, as training names it (`not_halvable`: under 2 px wide, or of an odd width)."""
    unhalved = {path: line for path in files if (line := not_halvable(path))}
    return [p for p in files if p not in unhalved], list(unhalved.values())


def _drop_bad_images(opts: EvalOptions, images: SplitImages) -> tuple[SplitImages, list[str]]:
    """`_drop_unreadable`, then under --limit the next files of a domain (`SplitImages.rest`, in order) in place of
    those left out, checked as they were, until each domain has --limit readable images or none is left. A paired
    split draws the next files of both domains together, so that its pairs stay pairs. The images of several pages
    of every round are named in one warning (each round's stand-ins had a line of their own)."""
    frames: dict[Path, int] = {}  # an image of several pages is scored by its first, as training reads it: said
    images, skipped = _drop_unreadable(opts, images, frames, at_least=0 if any(images.rest.values()) else 1)
    while any(images.rest.values()):
        limit = opts.limit or 0
        short = {k: limit - len(files) for k, files in images.domains.items()}
        if images.aligned or _paired(images):  # both domains one pair at a time
            short = dict.fromkeys(short, max(short.values()))
        draw = {k: images.rest[k][: short[k]] for k in short}
        if not any(draw.values()):
            break
        drawn, more = _drop_unreadable(opts, dataclasses.replace(images, domains=draw, rest={}), frames, at_least=0)
        images = dataclasses.replace(
            images,
            domains={k: images.domains[k] + drawn.domains[k] for k in draw},
            rest={k: images.rest[k][short[k] :] for k in draw},
        )
        skipped += more
    if line := first_frames_only(frames, reader="evaluate"):
        print_warning(f"warning: {escape(line)}")
    for letter, files in images.domains.items():
        if not files:  # the whole folder tried
            folder = f"--data {opts.split} folder" if images.aligned else _folder_name(opts, letter)
            raise CycleGANError(f"no image of {folder} could be read: {skipped[0]}")
    return dataclasses.replace(images, rest={}), skipped


def _paired(images: SplitImages) -> bool:
    """Whether each domain's files have partners of the same names in the other (the truth of each other's)."""
    a, b = images.domains["A"], images.domains["B"]
    fa, fb = images.folder("A"), images.folder("B")
    return aligned_truth(a, b, folders=(fa, fb)) is not None and aligned_truth(b, a, folders=(fb, fa)) is not None


def _drop_unreadable(
    opts: EvalOptions, images: SplitImages, frames: dict[Path, int], *, at_least: int = 1
) -> tuple[SplitImages, list[str]]:
    """Decode every image once; one that cannot be read or declares more than --max-pixels is left out and
    named. In an aligned split (the same stems in both domains) its partner is left out too, so the other
    pairs keep their truth figures; an A|B image is one pair, left out whole, and so is one that does not halve
    into an A and a B of one size (named as training names it). Returns (the readable images, one line per image
    left out); `frames` collects the frame count of each image of several."""
    if images.aligned:  # one file per pair: checked once
        files, skipped = check_images(
            images.domains["A"],
            skip_bad=True,
            desc=f"checking {opts.split}",
            progress=opts.progress,
            max_pixels=opts.max_pixels,
            frames=frames,
        )
        files, unhalved = _halvable(files)
        skipped += unhalved
        if len(files) < at_least:
            raise CycleGANError(f"no image of --data {opts.split} folder could be read: {skipped[0]}")
        return dataclasses.replace(images, domains={"A": files, "B": files}), skipped
    domains = images.domains
    skipped: list[str] = []
    bad: set[Path] = set()
    for letter, files in domains.items():
        good, messages = check_images(
            files,
            skip_bad=True,
            desc=f"checking {images.folder(letter).name}",
            progress=opts.progress,
            max_pixels=opts.max_pixels,
            frames=frames,
        )
        bad |= set(files) - set(good)
        skipped += messages
    if not bad:
        return images, skipped
    if _paired(images):
        keyed = [(pair_key(p, images.folder(k)), p) for k in "AB" for p in domains[k]]  # pairs: drop whole pairs
        bad_keys = {key for key, p in keyed if p in bad}
        partners = [p for key, p in keyed if key in bad_keys and p not in bad]
        skipped += [f"{p}: left out because its pair could not be read" for p in partners]
        bad |= set(partners)
    kept = {k: [p for p in files if p not in bad] for k, files in domains.items()}
    for letter, files in kept.items():
        if len(files) < at_least:
            raise CycleGANError(f"no image of {_folder_name(opts, letter)} could be read: {skipped[0]}")
    return dataclasses.replace(images, domains=kept), skipped


def _check_counts(opts: EvalOptions, images: SplitImages) -> str | None:
    """FD and KID need 2 images a domain, and --kid-subset-size no more than the smaller domain holds: said
    before any work (it was said once every image had been translated). A paired split of one image is scored
    against its truth without them: the note saying why FD and KID are left out, else None."""
    counts = {k: len(files) for k, files in images.domains.items()}
    fewest = min(counts, key=counts.__getitem__)
    if counts[fewest] == 1 and _paired(images):  # it was refused, though PSNR/SSIM to the truth need one pair
        return (
            f"FD and KID left out (null): {images.folder(fewest)} holds 1 usable image and they need at least 2 "
            "per domain; the scores against the truth stand"
        )
    if counts[fewest] < 2:  # said before torch's import where the folders' names tell (`check_folders_there`)
        raise too_few_images(images.folder(fewest), counts[fewest], opts.limit)
    kid_subset_size(counts["A"], counts["B"], opts.kid_subset_size)  # one line naming --kid-subset-size
    return None


# Under it FD and KID are rough (benchmarks/fd_kid_small_sets.py, Lite0 over the synthetic seasons, 8 draws): FD's
# small-set bias, two samples of one domain, is 64 at 20 images a domain, 41 at 50, 18 at 200 (summer to winter:
# 176, 166, 147), so figures of other set sizes do not compare; KID's spread between draws of one domain is 0.009 at
# 20 and 0.002 at 50. (The FID paper asks 10,000 images; the standard test splits hold 100-300.)
FEW_FOR_FD_KID = 50


def _small_sets(images: SplitImages) -> str | None:
    """A note that FD and KID over the smaller domain's images, fewer than `FEW_FOR_FD_KID`, are rough; else None."""
    n = min(len(files) for files in images.domains.values())
    if n >= FEW_FOR_FD_KID:
        return None
    return (
        f"FD and KID over {counted(n, 'image')} a domain (under {FEW_FOR_FD_KID}) are rough: FD grows as the sets "
        "shrink (two samples of one domain: 64 at 20 images, 18 at 200, over Lite0) and KID varies between draws; "
        "compare them only at equal set sizes, and add test images where you can"
    )


def _left_out(real: torch.Tensor, fake: torch.Tensor, **_: Any) -> Distances:
    """FD and KID not computed (`_check_counts`' note): NaN, null in the report."""
    nan = math.nan
    return Distances(fd=nan, kid=nan, kid_std=nan, kid_subset_size=0, kid_subsets=0, n_real=len(real), n_fake=len(fake))


def _partial_pairs(opts: EvalOptions, images: SplitImages) -> list[str]:
    """A line per direction whose source files have a target file of the same name (`pair_key`) only in part:
    the truth figures are over the pairs there are, and the files without a partner are counted and the first
    few named (the truth figures were left out of the report whole, for one file renamed)."""
    lines = []
    for s, t in ("AB", "BA") if opts.direction == "both" else [(opts.direction[0], opts.direction[-1])]:
        source, folder_t = images.domains[s], images.folder(t)
        keys = {pair_key(p, folder_t) for p in images.domains[t]}
        alone = [p for p in source if pair_key(p, images.folder(s)) not in keys]
        if 0 < len(alone) < len(source):
            names = ", ".join(p.name for p in alone[:3]) + (", ..." if len(alone) > 3 else "")
            limit = f" (--limit {opts.limit} takes the first of each folder by name)" if opts.limit else ""
            lines.append(
                f"{s}to{t}'s PSNR/SSIM to the truth are over {counted(len(source) - len(alone), 'pair')}: "
                f"{len(alone)} of {len(source)} files of {images.folder(s)} have no file of the same name in "
                f"{folder_t}{limit} ({names}), and are scored without a truth (an unpaired split whose files "
                "merely share names: ignore the truth rows)"
            )
    return lines


def _unlike_truth(opts: EvalOptions, images: SplitImages) -> list[str]:
    """A line naming the test images whose truth (the file of their name in the other domain) is of another shape:
    the truth figures stretched each to the square --size, unlike each other, without a word (training names such
    pairs: `unlike_pairs`); in an aligned split, the A|B files not of the shape most are (`unlike_aligned`)."""
    if images.aligned:  # a file not of the shape most are: is it an A|B pair? (`unlike_aligned`)
        return [line] if (line := unlike_aligned(images.domains["A"])) else []
    pairs = set()
    for s, t in ("AB", "BA") if opts.direction == "both" else [(opts.direction[0], opts.direction[-1])]:
        source, target = images.domains[s], images.domains[t]
        truth = partners(source, target, folders=(images.folder(s), images.folder(t)))
        pairs |= {(a, b) if s == "A" else (b, a) for a, b in zip(source, truth, strict=True) if b is not None}
    line = unlike_pairs(
        sorted(pairs), why="PSNR/SSIM to the truth compare them pixel for pixel, each stretched to one square"
    )
    return [line] if line else []


def _check_outputs(opts: EvalOptions, images: SplitImages, directions: list[str]) -> None:
    """Refuse (one line, before any work) a --save-images folder inside the test split, and, without
    --overwrite, a --out file or saved images (of `directions`: `_planned_directions`) that exist."""
    domains = images.domains
    inputs = [p for files in domains.values() for p in files] + [checkpoint_file(c) for c in opts.checkpoint]
    if opts.out:  # not onto an input (checkpoints included) nor inside the split, which the next run reads
        check_outputs([opts.out], overwrite=opts.overwrite, inputs=inputs, input_folders=images.folders)
    if opts.save_images:
        root = Path(opts.save_images)
        holds = "the translations and sample grids are written into"
        check_out_folder(opts.save_images, holds=holds, option="--save-images")
        many = len(opts.checkpoint) > 1
        if not many:
            folders = [root]
        else:  # DIR/NN_stepS/: the step is read from the checkpoint later; any folder of index NN may clash
            folders = [f for i in range(len(opts.checkpoint)) for f in sorted(root.glob(f"{i:02d}_step*"))]
        names = _saved_names(directions, domains)
        if opts.out:
            _check_out_apart(Path(opts.out), root, names, many=many)
        outputs = [folder / name for folder in folders for name in names]
        check_outputs(
            outputs,
            overwrite=opts.overwrite,
            option="--save-images",
            out_folder=root,
            inputs=inputs,
            input_folders=images.folders,
        )


def _earlier_images(opts: EvalOptions, images: SplitImages, directions: list[str]) -> list[str]:
    """With --save-images and --overwrite: a line per folder of translations that holds images this evaluation
    does not write (an earlier one's, of other test images), which stay beside the new ones as if they were
    this checkpoint's. Named, not deleted: no record says which files an earlier evaluation wrote."""
    if not (opts.save_images and opts.overwrite):
        return []
    root = Path(opts.save_images)
    names = set(_saved_names(directions, images.domains))
    folders = [root] if len(opts.checkpoint) == 1 else sorted(root.glob("[0-9][0-9]*_step*"))
    lines = []
    for folder in folders:
        for d in ("AtoB", "BtoA"):
            others = sorted(p for p in (folder / d).glob("*.png") if p.relative_to(folder) not in names)
            if others:
                shown = ", ".join(p.name for p in others[:3]) + (", ..." if len(others) > 3 else "")
                lines.append(
                    f"{folder / d} holds {counted(len(others), 'image')} this evaluation does not write ({shown}), "
                    "left from an earlier one beside the new translations: remove them, or give another --save-images"
                )
    return lines


def _saved_names(directions: list[str], domains: dict[str, list[Path]]) -> list[Path]:
    """What --save-images writes for one checkpoint scored in `directions`, relative to its folder: D_grid.png
    and D/STEM.png."""
    names: list[Path] = []
    for d in directions:
        names.append(Path(f"{d}_grid.png"))
        # with ".png" within 255 bytes: a 251-byte stem's "-2" passed them (refused as too long a name)
        names += [Path(d) / f"{stem}.png" for stem in unique_stems(domains[d[0]], ext="png")]
    return names


def _check_out_apart(out: Path, root: Path, names: list[Path], *, many: bool) -> None:
    """Refuse a --out that is one of the files --save-images writes (a grid or a translation, in DIR or, with
    several checkpoints, in any DIR/NN_stepS/): the report was written over it, or it over the report. Names
    are compared ignoring case, as `unique_stems` names them: on macOS and Windows atob_grid.png is AtoB_grid.png."""
    try:
        rel = out.resolve().relative_to(root.resolve())
    except ValueError:  # not under DIR
        return
    written = {n.as_posix().casefold() for n in names}
    in_a_checkpoints_folder = len(rel.parts) > 1 and re.fullmatch(r"\d+_step.*", rel.parts[0], re.IGNORECASE)
    if (many and in_a_checkpoints_folder) or (not many and rel.as_posix().casefold() in written):
        raise CycleGANError(
            f"option '--out': {out} is where --save-images writes an image; give the report another name"
        )


def _save_dir(opts: EvalOptions, index: int, many: bool, step: Any) -> Path | None:
    if not opts.save_images:
        return None
    root = Path(opts.save_images)
    return root / checkpoint_folder_name(index, step) if many else root


def checkpoint_folder_name(index: int, step: Any) -> str:
    """`NN_stepS`, the folder of the NN-th checkpoint's saved images; `NN_step_unknown` for a file that records
    no step (a generator file of another project, a published one), which was named `NN_stepNone`. Every name
    matches `NN_step*`, the pattern the output checks find these folders by."""
    return f"{index:02d}_step{step}" if isinstance(step, int) else f"{index:02d}_step_unknown"


def evaluate_checkpoints(opts: EvalOptions) -> list[dict[str, Any]]:
    """Evaluate each of `opts.checkpoint` (e.g. milestones of one run) on its split; one report each.

    The backbone and the real images' features are loaded and computed once for all of them. With
    several checkpoints, --save-images writes under DIR/NN_stepS/; an evaluation that fails leaves none of
    the images it saved, for any checkpoint (the reports are returned only at the end).
    """
    check_options(opts)

    check_folders_there(opts)
    checkpoints = expand_runs(opts.checkpoint)
    if not checkpoints:
        raise CycleGANError("give at least one --checkpoint")
    for line in best_missing(opts.checkpoint) + best_alone(opts.checkpoint):
        print_warning(f"warning: {escape(line)}")
    inception = None
    if opts.backbone == "inception":  # a missing weights file was named after every test image had been decoded
        weights = find_inception_weights(opts.inception_weights)
        if line := weights_not_published(weights):
            print_warning(f"warning: {escape(line)}")
        inception = load_fid_inception(weights)  # and another network's file (or a damaged one) too: read it now
    aside = None  # the training images a run set aside for its scores, where its data has no test split
    if opts.domain_a is None and opts.data is None:  # two folders of test images need no run's --data
        opts = dataclasses.replace(opts, data=_one_data_root(checkpoints))
        opts, aside = _set_aside_split(opts, checkpoints)
        if aside is None:
            check_two_per_domain(opts)  # before any checkpoint is read, as a --data given is before torch's import
    # a run folder's two files, read for `RUN`: one that cannot be read leaves the other scored (`_readable`)
    of_runs = frozenset(checkpoints) - frozenset(opts.checkpoint)
    opts = dataclasses.replace(opts, checkpoint=checkpoints)
    published = [c[len(zoo.PREFIX) :] for c in checkpoints if zoo.is_spec(c)] if opts.data else []
    for name in published:  # a published generator knows its dataset and direction: before any download
        if line := zoo.check_scored_on(name, opts.data, opts.direction):
            print_warning(f"warning: {escape(line)}")
    images = _list_domains(opts) if aside is None else aside
    for line in (line for folder in images.folders for line in left_out(folder, reader="evaluate")):
        print_warning(f"warning: {escape(line)}")  # a GIF in testA was left out without a word
    directions, read = _planned_directions(opts)
    _check_outputs(opts, images, directions)  # before any work
    for line in _earlier_images(opts, images, directions):
        print_warning(f"warning: {escape(line)}")
    if not opts.save_images:
        return _evaluate_all(opts, images, directions, read, inception, of_runs)
    with claim_folder(opts.save_images, "--save-images"):  # one run writes the images there at a time
        _check_outputs(opts, images, directions)  # again, under the lock: what a run that just ended wrote
        _remove_killed_writes(opts, images, directions)
        return _evaluate_all(opts, images, directions, read, inception, of_runs)


def _remove_killed_writes(opts: EvalOptions, images: SplitImages, directions: list[str]) -> None:
    """The temporaries a killed evaluation left beside the images and grids --save-images writes (in DIR, or in each
    DIR/NN_stepS/ with several checkpoints): they stayed hidden there for ever. Under the folder's lock."""
    root = Path(opts.save_images)
    folders = [root] if len(opts.checkpoint) == 1 else sorted(root.glob("[0-9][0-9]*_step*"))
    names = _saved_names(directions, images.domains)
    remove_stale_temporaries_of([folder / name for folder in folders for name in names])


@dataclasses.dataclass(frozen=True)
class _ReadAhead:
    """What reading every checkpoint before the work gave (`_planned_directions`): the first one's generators,
    scored from this read, and each one's evaluation size; the others are read again when scored (all kept, many
    milestones would hold gigabytes)."""

    first: _Generators
    sizes: dict[str, int]


def _planned_directions(opts: EvalOptions) -> tuple[list[str], _ReadAhead | None]:
    """The directions --save-images writes images of, for its checks before the work: --direction, or with "both"
    those the checkpoints are scored in (`scored_directions`). A one-sided CUT run was planned in both: an
    earlier evaluation's BtoA images, which this one never writes, were refused as outputs that exist. With
    "both" each checkpoint is read for it, once: that read is returned for the work (`_ReadAhead`; None where a
    checkpoint could not be read, then named when scored). It was one more read of every checkpoint."""
    both = ["AtoB", "BtoA"]
    if not opts.save_images or opts.direction != "both":
        return (both if opts.direction == "both" else [opts.direction]), None
    planned: set[str] = set()
    first, sizes = None, {}
    for c in opts.checkpoint:
        if zoo.is_spec(c):  # a published generator is one file of one generator: "both" is refused when scored
            return both, None
        try:
            loaded = _generators(checkpoint_path(c, progress=opts.progress), opts)
        except CycleGANError:  # missing, unreadable or not scored both ways: named when scored, as before
            return both, None
        first = first or loaded
        sizes[c] = _eval_size(opts, loaded)
        planned |= set(loaded.directions)
    return [d for d in both if d in planned], _ReadAhead(first, sizes)


def _one_data_root(checkpoints: tuple[str, ...]) -> str:
    """The --data of the runs `checkpoints` belong to, which must be one: scored on the first run's data, a second
    run trained on other data was scored on data it never saw, without a word. Checkpoints outside a run (no
    config.json: a generator file of another project, say) take the runs' data, wherever they stand in the list;
    with no run among them, the first one's error asks for --data."""
    roots: dict[str, str] = {}
    first_error: CycleGANError | None = None
    for c in checkpoints:
        try:
            roots[c] = run_data(c)
        except CycleGANError as e:
            first_error = first_error or e
    if not roots:
        raise first_error
    (first, data), *others = roots.items()
    for c, other in others:
        if Path(other).resolve() != Path(data).resolve():
            raise CycleGANError(
                f"option '--data' is needed: {first} trained on {data} and {c} on {other}; give --data ROOT "
                "to score them on one test split, or evaluate them apart"
            )
    if not Path(data).exists():  # else the check of the split named '--data', which the user never gave
        raise CycleGANError(
            f"option '--data' is needed: {first} trained on {data}, which is not there (a run copied or moved away "
            "from the folder train ran in, or its data deleted); give --data ROOT holding testA and testB"
        )
    return data


def _readable(opts: EvalOptions, of_runs: frozenset[str]) -> tuple[list[_Generators], dict[str, int], list[str]]:
    """Each checkpoint read and built up front: a bad one late in the list lost the others' work. The first is kept
    for its scoring (one checkpoint, one read of its file); the others are read again when scored (all kept, many
    milestones would hold gigabytes). A file of `of_runs` (a run folder's checkpoint.pt and best.pt, read for
    `RUN`) that cannot be read is left out, named in the lines returned: a truncated best.pt refused its run's
    intact checkpoint.pt too. (The first one's generators, each readable one's evaluation size, those lines.)"""
    first: list[_Generators] = []
    sizes: dict[str, int] = {}
    errors: list[CycleGANError] = []
    for c in opts.checkpoint:
        try:
            loaded = _generators(checkpoint_path(c, progress=opts.progress), opts)
        except CycleGANError as e:
            if c not in of_runs:  # named on the command line: refused, as before
                raise
            errors.append(e)
            continue
        first = first or [loaded]
        sizes[c] = _eval_size(opts, loaded)
    if not sizes:  # nothing left to score
        raise errors[0]
    return first, sizes, [f"{e}; left out of the evaluation" for e in errors]


def _evaluate_all(
    opts: EvalOptions,
    images: SplitImages,
    directions: list[str],
    read: _ReadAhead | None,
    inception: nn.Module | None,
    of_runs: frozenset[str] = frozenset(),
) -> list[dict[str, Any]]:
    """`evaluate_checkpoints`' work, its outputs (of `directions`) checked (and the --save-images folder held);
    `read`: the checkpoints already read to plan the outputs, None if they were not; `inception`: the FID
    Inception, read before the work (its file checked), None for another backbone; `of_runs`: the files read for
    a run folder (`_readable`)."""
    checkpoints = opts.checkpoint
    device = resolve_device(opts.device)
    images, skipped = _drop_bad_images(opts, images)
    if opts.save_images and skipped:
        # --limit's stand-ins for the images left out (`SplitImages.rest`) are picked only now: their outputs were
        # never checked (an existing file of a stand-in's name was written over without --overwrite)
        _check_outputs(opts, images, directions)
        _remove_killed_writes(opts, images, directions)
    first, sizes, left_out = ([read.first], read.sizes, []) if read is not None else _readable(opts, of_runs)
    for line in left_out:
        print_warning(f"warning: {escape(line)}")
    no_fd_kid = _check_counts(opts, images)
    rough = _small_sets(images) if no_fd_kid is None else None
    for line in [*_partial_pairs(opts, images), *_unlike_truth(opts, images), *_sizes_apart(sizes)]:
        print_warning(f"warning: {escape(line)}")
    backbone = (inception or load_backbone(opts.backbone)).to(device)
    cache = _RealCache()
    many = len(checkpoints) > 1
    reports = []
    scored: dict[str, dict[str, Any]] = {}  # reports by their generators' weights and size (`_weights_key`)
    # A failed or interrupted evaluation leaves none of the images it saved, for any checkpoint: its scores, printed
    # and written at the end, are lost, and the images made the next run stop at "exists" (or, with --overwrite,
    # a half-made folder sat beside whole ones). Each checkpoint's folder is named by its step, known once read.
    with contextlib.ExitStack() as saved:
        for i, c in enumerate(checkpoints):  # the folders of --save-images numbered as the checks numbered them
            if c not in sizes:
                continue
            ckpt_file = checkpoint_path(c, progress=opts.progress)
            loaded = first.pop() if first else _generators(ckpt_file, opts)
            save_root = _save_dir(opts, i, many, loaded.ckpt.get("step"))
            # which folder is whose: a run's checkpoint.pt and best.pt of one step were 00_stepS and 01_stepS alone
            saved_in = {"images": str(save_root)} if save_root is not None else {}
            if save_root is not None:
                names = _saved_names(loaded.directions, images.domains)
                saved.enter_context(removed_on_failure([save_root / n for n in names]))
            # a run's best.pt of its last step holds the generators its checkpoint.pt does: scored once (not with
            # --save-images, which writes each checkpoint's own folder of images)
            same = _weights_key(loaded, sizes[c]) if many and save_root is None else None
            if same in scored:
                report = _same_generators(scored[same], ckpt_file, loaded)
                reports.append(
                    {**report, "skipped": skipped, **({"checkpoints_left_out": left_out} if left_out else {})}
                )
                continue
            try:
                report = _evaluate_one(
                    ckpt_file,
                    loaded,
                    opts,
                    save_root,
                    images,
                    backbone,
                    cache,
                    device,
                    no_fd_kid=no_fd_kid,
                    rough=rough,
                )
            except Exception as e:  # only running out of memory is handled here
                if not is_out_of_memory(e):
                    raise
                raise CycleGANError(
                    f"out of memory on {device} evaluating {c} ({opts.batch_size} images per batch): lower "
                    "--batch-size or --size"
                ) from None
            if same is not None:
                scored[same] = report
            reports.append(
                {**report, **saved_in, "skipped": skipped, **({"checkpoints_left_out": left_out} if left_out else {})}
            )
    return reports


def _weights_key(loaded: _Generators, size: int) -> str:
    """What decides a checkpoint's scores, as one string: its generators' weights (by digest), the directions scored
    and the size; equal keys score the same."""
    digest = hashlib.sha256(f"{loaded.directions} {size}".encode())
    for d in sorted(loaded.nets):
        for name, value in loaded.nets[d].state_dict().items():
            value = value.detach().cpu().contiguous().reshape(-1)
            digest.update(f"{d}/{name} {value.dtype} {value.numel()}".encode())
            digest.update(value.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _same_generators(earlier: dict[str, Any], ckpt_file: Path, loaded: _Generators) -> dict[str, Any]:
    """The report of `ckpt_file`, whose generators are those `earlier` scored (a best.pt of the run's last step,
    beside its checkpoint.pt): `earlier`'s figures under this file's name and step, saying so (`same_generators_as`)."""
    report = {k: v for k, v in earlier.items() if k not in ("chosen_by", "same_generators_as")}
    chosen_by = _chosen_by(loaded.ckpt)
    return {
        **report,
        "checkpoint": str(ckpt_file),
        "step": loaded.ckpt.get("step"),
        **({"chosen_by": chosen_by} if chosen_by else {}),
        "same_generators_as": earlier["checkpoint"],
        "seconds": 0.0,
    }


def _sizes_apart(sizes: dict[str, int]) -> list[str]:
    """A line when the checkpoints are scored at different sizes (each at its training size, a plain generator
    file at 256): FD and KID of images at 32 and at 256 px are not comparable, and the curve set them side by side."""
    if len(set(sizes.values())) < 2:
        return []
    each = ", ".join(f"{c} at {size} px" for c, size in sizes.items())
    return [
        f"the checkpoints are evaluated at different sizes ({each}): their figures are not comparable; give --size N"
    ]


@dataclasses.dataclass(frozen=True)
class _Generators:
    """What one checkpoint argument holds for the evaluation: its generators (on the CPU) by direction, the
    directions to score, and what the report says of it."""

    ckpt: dict[str, Any]  # our format's plain values (step, best); {} for a plain generator file
    nets: dict[str, nn.Module]
    directions: list[str]
    preset: str
    train_size: int | None
    model: str  # how the report names it: its family's title (`loading.model_label`)


def _generators(ckpt_file: Path, opts: EvalOptions) -> _Generators:
    """The generators of `ckpt_file` for --direction, all from one read of the file (`generator_from`); a
    file that holds no generator, or none for --direction, is one line."""
    ckpt = load_file(ckpt_file)
    source = str(ckpt_file)
    directions = scored_directions(ckpt, opts.direction, source=source)
    if isinstance(ckpt, dict) and ckpt.get("format") == FORMAT:
        cfg = config_from_dict(ckpt["config"], source=source)
        # CycleGAN: both (G, F), or the one save_generator wrote; pix2pix, CUT: the one it learned
        # (a direction it does not translate is refused by generator_from, in one line)
        trained = held_directions(ckpt, source=source)
        wanted = trained if len(trained) > 1 else directions
        nets = {d: generator_from(ckpt, d, source=source, ema=opts.ema) for d in wanted}
        return _Generators(ckpt, nets, directions, cfg.preset, cfg.data.size, model_label(ckpt["config"], source))
    # a generator file of another project: a plain state dict holds one generator, for one direction; a dict of
    # both (G_A and G_B, say) is scored as a CycleGAN run is, the cycle included
    if holds_both(ckpt):
        nets = {d: generator_from(ckpt, d, source=source, ema=opts.ema) for d in directions}
        if len(nets) == 1:  # the other generator only for the cycle: one that does not load costs only that
            back = "BtoA" if directions[0] == "AtoB" else "AtoB"
            with contextlib.suppress(CycleGANError):
                nets[back] = generator_from(ckpt, back, source=source, ema=opts.ema)
        return _Generators({}, nets, directions, "foreign", None, model_label(None, source, pair=True))
    if opts.direction == "both":
        _check_generator_file(ckpt, source=source)  # what the file is, before what to add to it
        raise CycleGANError(
            f"{ckpt_file} holds a single generator: give --direction AtoB or BtoA (the one it translates)"
        )
    nets = {opts.direction: generator_from(ckpt, opts.direction, source=source, ema=opts.ema)}
    return _Generators({}, nets, directions, "foreign", None, model_label(None, source))


def scored_directions(ckpt: Any, direction: str, *, source: str) -> list[str]:
    """The directions a loaded checkpoint file is scored in for --direction `direction`: with "both", ours in
    those its family translates (CycleGAN both, pix2pix and CUT the one they learned), another project's in
    both (a single generator is refused by `_generators`)."""
    if direction != "both":
        return [direction]
    if isinstance(ckpt, dict) and ckpt.get("format") == FORMAT:
        return list(held_directions(ckpt, source=source))
    return ["AtoB", "BtoA"]


def _eval_size(opts: EvalOptions, loaded: _Generators) -> int:
    """The size a checkpoint is evaluated at (`working_size`)."""
    return working_size(opts.size, loaded.train_size)


def working_size(size: int | None, train_size: int | None) -> int:
    """The long side a generator is evaluated at, and `compare`d at: `size` (--size) given, else the training size
    its checkpoint records, else FOREIGN_SIZE (a generator file of another project records none)."""
    return size or train_size or FOREIGN_SIZE


def _chosen_by(ckpt: dict[str, Any]) -> str | None:
    """The score that chose a best.pt, from its `best` record; None for a checkpoint.pt, or a record without a
    metric's name (a damaged or hand-made file: a KeyError or TypeError traceback once the run was scored)."""
    best = ckpt.get("best")
    metric = best.get("metric") if isinstance(best, dict) else None
    return metric if isinstance(metric, str) else None


def check_options(opts: object) -> None:
    """Refuse, in one line, options that are no `EvalOptions`: evaluate({"checkpoint": ...}) or
    evaluate("runs/h2z") from Python was "'dict' object has no attribute 'checkpoint'" in a traceback."""
    if not isinstance(opts, EvalOptions):
        raise CycleGANError(
            f"opts: expected an EvalOptions, got {type(opts).__name__}; "
            "give cyclegan.evaluate.options.EvalOptions(checkpoint=RUN_OR_FILE, data=ROOT)"
        )


def evaluate(opts: EvalOptions) -> dict[str, Any]:
    """Evaluate the first of `opts.checkpoint`; returns the JSON-ready report (see the module docstring)."""
    check_options(opts)
    return evaluate_checkpoints(dataclasses.replace(opts, checkpoint=expand_runs(opts.checkpoint)[:1]))[0]


def _real_features(
    images: SplitImages, backbone: nn.Module, cache: _RealCache, size: int, opts: EvalOptions, device: torch.device
) -> None:
    """The features of both domains' real test images at `size` (targets of one direction, sources of the other)
    into `cache`, where not there yet, under a bar of their own: done once for every checkpoint scored at that size,
    they were counted in the first checkpoint's bar alone (the demo's run: 240 images for its checkpoint.pt, 160 for
    its best.pt, the same work)."""
    todo = [k for k in "AB" if (k, size) not in cache.features]
    if not todo:
        return
    total = sum(len(images.domains[k]) for k in todo)
    desc = f"features of the test images at {size} px"
    with progress_bar(total=total, desc=desc, unit="img", enabled=opts.progress) as bar:
        for k in todo:
            cache.features[(k, size)] = _features(
                images.domains[k],
                backbone,
                half=images.half(k),
                size=size,
                batch_size=opts.batch_size,
                device=device,
                bar=bar,
            )


def _evaluate_one(
    ckpt_file: Path,
    loaded: _Generators,
    opts: EvalOptions,
    save_root: Path | None,
    images: SplitImages,
    backbone: nn.Module,
    cache: _RealCache,
    device: torch.device,
    *,
    no_fd_kid: str | None = None,
    rough: str | None = None,
) -> dict[str, Any]:
    """The report of the generators `loaded` from `ckpt_file`; their translations saved under `save_root`.
    `no_fd_kid`: why FD and KID are left out (`_check_counts`), None to compute them; `rough`: why they are rough
    (`_small_sets`), None where the sets are large enough."""

    t0 = time.perf_counter()
    domains = images.domains
    ckpt, directions, train_size = loaded.ckpt, loaded.directions, loaded.train_size
    nets = {d: net.to(device) for d, net in loaded.nets.items()}
    size = _eval_size(opts, loaded)
    fd_name, kid_name = METRIC_NAMES[opts.backbone]
    kw = {"subset_size": opts.kid_subset_size, "subsets": opts.kid_subsets, "seed": opts.seed}
    distances = feature_distances if no_fd_kid is None else _left_out

    _real_features(images, backbone, cache, size, opts, device)
    # per direction: its sources translated, then its targets through the same generator (identity)
    total = sum(len(domains[d[0]]) + len(domains[d[-1]]) for d in directions)
    results: dict[str, dict[str, Any]] = {}
    desc = f"evaluate {ckpt_file.name}"
    with progress_bar(total=total, desc=desc, unit="img", enabled=opts.progress) as bar:
        for d in directions:
            s, t = d[0], d[-1]  # source and target domain letters
            back = nets.get("BtoA" if d == "AtoB" else "AtoB")
            truth: list[Path | None] | None = partners(
                domains[s], domains[t], folders=(images.folder(s), images.folder(t))
            )
            if not any(truth):  # an unpaired split: no truth
                truth = None
            save_dir = None
            if save_root is not None:
                save_dir = save_root / d
                save_dir.mkdir(parents=True, exist_ok=True)
            fake_feats, scores, grid, local = _translate_pass(
                domains[s],
                nets[d],
                back,
                backbone,
                truth=truth,
                halves=(images.half(s), images.half(t)),
                size=size,
                batch_size=opts.batch_size,
                device=device,
                save_dir=save_dir,
                bar=bar,
            )
            # Identity: the generator into t applied to real t images (G on B for AtoB, F on A for BtoA).
            idt = _identity_l1(
                domains[t], nets[d], half=images.half(t), size=size, batch_size=opts.batch_size, device=device, bar=bar
            )
            real_t = cache.features[(t, size)]
            translated = distances(real_t, fake_feats, **kw)
            nonfinite = int((~fake_feats.isfinite()).any(1).sum())
            if nonfinite:  # a table of nan, and no word of why (it named FD and KID alone, above a column of nan)
                print_warning(
                    f"warning: {escape(ckpt_file)}: {nonfinite} of {len(fake_feats)} {d} translations hold NaN or "
                    f"infinite values: its {fd_name} and {kid_name} are not finite, nor is any mean over those "
                    "translations (the cycle's, the truth's: null in --out)"
                )
            if lost := _lost_on_the_way_back(fake_feats, scores):  # the other generator's NaN: said as its own
                back_d = "BtoA" if d == "AtoB" else "AtoB"
                print_warning(
                    f"warning: {escape(ckpt_file)}: {lost} of {len(fake_feats)} {d} translations come back through "
                    f"{back_d} holding NaN or infinite values: the {d} cycle figures (cycle_l1, cycle_psnr, "
                    "cycle_ssim) are not finite (null in --out)"
                )
            if (d, size) not in cache.untranslated:
                cache.untranslated[(d, size)] = distances(real_t, cache.features[(s, size)], **kw)
            untranslated = cache.untranslated[(d, size)]
            row: dict[str, Any] = {"n_source": len(domains[s]), "n_target": len(domains[t])}
            row.update(translated.named(fd_name, kid_name))
            row[f"{fd_name}_untranslated"] = untranslated.fd
            row[f"{kid_name}_untranslated"] = untranslated.kid
            row.update({k: _mean(v) for k, v in scores.items()})
            row["identity_l1"] = _mean(idt)
            if truth is not None:  # the pairs the truth figures are over: every source file, or those with a partner
                row["n_pairs"] = len(truth) - truth.count(None)
            if local is not None:  # the worst over the images, not a mean: a blob in one image is the failure
                row["truth_local_colour"] = local.pop("value")
                row["truth_local_colour_at"] = local or None  # null: not finite, no place
            results[d] = row
            if save_root is not None and grid:
                save_grid(grid, save_root / f"{d}_grid.png")
    return {
        "checkpoint": str(ckpt_file),
        "step": ckpt.get("step"),
        **({"chosen_by": chosen_by} if (chosen_by := _chosen_by(ckpt)) else {}),
        "model": loaded.model,
        "preset": loaded.preset,
        "train_size": train_size,
        "eval_size": size,
        "data": opts.data,
        "split": opts.split if opts.data else None,  # --domain-a/-b name their folders: no split of a root
        **({"set_aside_by": str(images.aside_of)} if images.aside_of is not None else {}),
        **({"domain_a": opts.domain_a, "domain_b": opts.domain_b} if opts.domain_a is not None else {}),
        "layout": images.layout,
        "backbone": opts.backbone,
        "backbone_note": BACKBONE_NOTES[opts.backbone],
        "device": str(device),
        "value_ranges": "L1 in [-1, 1] image units (as the training losses); PSNR in dB and SSIM on [0, 1] "
        "images; PSNR of identical images is capped at 100 dB",
        "directions": results,
        **({"fd_kid_note": no_fd_kid} if no_fd_kid else {}),
        **({"fd_kid_rough": rough} if rough else {}),
        "seconds": round(time.perf_counter() - t0, 1),
    }
