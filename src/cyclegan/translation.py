"""`cyclegan translate`: files, folders and globs in, one translated file per input out.

Every output is named and checked before any work (`plan_outputs`: nothing existing is replaced without
`--overwrite`, no input ever), under a lock on the output folder (`claimed_outputs`: one run writes there
at a time); each file is written whole, replacing a symbolic link rather than following it, and without
`--overwrite` created only if no other program made it meanwhile. Images are read lazily and batched by
size (`translate_plan`); an image that cannot be read, is over the decode cap or runs out of memory is
named and skipped while the others are written. The translation itself is `cyclegan.inference`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import itertools
import math
import os
from collections import Counter
from collections.abc import Container, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from . import zoo
from .clipio import VIDEO_FORMATS, find_clips, is_clip_file, print_warning, unread_video
from .data.io import (
    MAX_PIXELS,
    alpha_of,
    as_rgb,
    find_images,
    glob_files,
    header_size,
    long_side_shape,
    megapixels,
    not_a_file_reason,
    open_image,
    phone_photos,
    read_image,
    resize_long_side,
    save_image,
    size_keeping,
    to_bytes,
    to_pil,
    unopened,
    walk_files,
)
from .errors import CycleGANError, counted, escape
from .execution import REFERENCE, Execution, choose_execution, compile_pays_for_translation, resolve_device
from .files import (
    check_out_folder,
    check_outputs,
    claim_folder,
    inside,
    output_claimed,
    remove_stale_temporaries_of,
    unique_stems,
)
from .inference import (
    check_size,
    frames_left_out_of,
    is_out_of_memory,
    on_white_warning,
    still_frames,
    translate_batch,
    uncompiled,
)
from .loading import checkpoint_file, load_generator, warn_direction_unused
from .models.unet import UnetGenerator
from .options import option_name
from .progress import print_out, progress_bar
from .tiling import activation_bytes, check_budget, least_size
from .translate_options import TemporalOptions, TilingOptions, TranslateOptions, nothing_to_translate

# --- files ----------------------------------------------------------------------------------------------


@dataclass
class Inputs:
    files: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    folders: list[Path] = field(default_factory=list)  # the folders among the inputs (searched recursively)
    searched: dict[Path, Path] = field(default_factory=dict)  # a file only a glob names -> the folder it searched
    unread: dict[Path, list[Path]] = field(default_factory=dict)  # an input folder -> its files of no kind read
    videos: list[Path] = field(default_factory=list)  # videos of a kind not read (`unread_video`), in errors too


def expand_inputs(inputs: Sequence[str]) -> Inputs:
    """Files, folders (recursively, symlinked sub-folders too) and glob patterns -> image files, in order,
    without duplicates."""
    found = Inputs()
    seen: set[Path] = set()

    def add(p: Path, *, searched: Path | None = None) -> None:
        if reason := unread_video(p):  # named as the video it is (a folder's are named with its other files)
            found.errors.append(reason)
            found.videos.append(p)
            return
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            found.files.append(p)
            if searched is not None:
                found.searched[p] = searched

    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found.folders.append(path)
            images = sorted(
                set(find_images(path, skipped=found.errors)) | set(find_clips(path, stills=True))
            )  # clips and still GIFs too; a FIFO or device named there is named here
            if not images:
                found.errors.append(f"{item}: folder holds no images")
            visible = (f for f in walk_files(path) if not any(s.startswith(".") for s in f.relative_to(path).parts))
            found.unread[path] = sorted(set(visible) - set(images))
            for p in images:
                add(p)
        elif path.is_file():
            add(path)
        elif glob.has_magic(item):
            matches = glob_files(item)
            if not matches:
                found.errors.append(f"{item}: no file matches this pattern")
            head = Path(*[part for part in itertools.takewhile(lambda s: not glob.has_magic(s), path.parts)])
            for p in matches:
                add(p, searched=head)
        else:  # missing, or there but no file to read (/dev/zero, a FIFO): say which
            found.errors.append(f"{item}: {not_a_file_reason(path)}")
    return found


def unread_warnings(found: Inputs, reads: str) -> list[str]:
    """A warning per input folder holding files of no kind read (`Inputs.unread`), up to three of them named:
    a HEIC photo or a RAW file among JPEGs was left out without a word. `reads`: what the command reads."""
    lines = []
    for folder, unread in found.unread.items():
        if unread:
            names = ", ".join(p.name for p in unread[:3]) + (", ..." if len(unread) > 3 else "")
            left = counted(len(unread), "file")
            lines.append(f"warning: {folder}: {left} left out, not {reads}: {names}{phone_photos(unread)}")
    return lines


@dataclass(frozen=True)
class Stills:
    """The still images an option's files, folders and globs name (`still_images`), the clips among them left out."""

    files: list[Path]  # in order; a folder's sorted by name
    folders: list[Path]  # the folders among them (searched recursively)
    clips: list[Path]  # video files met: left out, to be named
    unread: list[str] = field(default_factory=list)  # warnings of a folder's files of no kind read (`unread_warnings`)


def still_images(items: Sequence[str], flag: str, command: str) -> Stills:
    """The still images `items` (files, folders, glob patterns: `expand_inputs`) name, as `compare` and `stylize`
    take --content and --style: the first that names nothing, or a folder of no image, refused naming `flag`; a
    video clip (a folder may hold clips for `translate`) left out, to be named, as a file or as a folder's, and
    refused where it is all there is; an animated GIF gives its first frame; a folder's files of no image kind (a
    phone's HEIC photo, a text file) left out, to be named as `translate` names them (they went without a word)."""
    found = expand_inputs(items)
    # an AVI among the matches is a clip as an MP4 is (below), not the error `translate` makes of it
    if errors := [e for e in found.errors if e not in {unread_video(p) for p in found.videos}]:
        raise CycleGANError(f"option '{flag}': {errors[0]}")
    videos = [p for p in found.files if p.suffix.lower() in VIDEO_FORMATS]
    clips = list(dict.fromkeys([*videos, *found.videos]))
    files = [p for p in found.files if p not in clips]
    if not files:
        raise CycleGANError(f"option '{flag}': no still image, only video clips ({clips[0]}): {command} takes images")
    return Stills(files, found.folders, clips, unread_warnings(found, f"images {command} reads"))


def refuse_named_clips(stills: Stills, items: Sequence[str], flag: str) -> None:
    """Refuse a clip `items` name by itself (not a folder's or a glob's, left out and named): it was asked for by
    name, and leaving it out skipped what it was given for (a style reference, after minutes of work); a frame of
    it is the user's to choose. `compare` and `stylize` refuse it the same way, before any work."""
    if named := [clip for clip in stills.clips if clip in map(Path, items)]:
        raise CycleGANError(
            f"option '{flag}': {named[0]} is a video clip, not an image: give a still image (a frame of it saved as "
            "a PNG) or a folder of images"
        )


def _batches(
    files: list[Path],
    *,
    size: int | None,
    batch_size: int,
    errors: list[str],
    max_pixels: int = MAX_PIXELS,
    batch_pixels: float = math.inf,
    least: int = 0,
    frames: dict[Path, int] | None = None,
    on_white: list[Path] | None = None,
) -> Iterator[list]:
    """Yield lists of (path, image (3, H, W) uint8) whose tensors share one shape, reading files lazily in order of
    size so equal shapes are neighbours, at most `batch_size` of them and, past the first, `batch_pixels`
    pixels in all (large images one at a time). Unreadable files, and files over the decode cap
    `max_pixels`, are reported in `errors` and skipped; a file whose short side `size` takes under `least`
    px (the generator's smallest) is named in a warning and translated. `frames` gets each image read's frame
    (page) count; `on_white` each image whose transparency was put on white."""
    frames = {} if frames is None else frames
    on_white = [] if on_white is None else on_white

    def shape_of(p: Path) -> tuple[int, int]:
        try:
            with open_image(p) as im:  # the header only; a huge one is read_image's to report, in one line
                w, h = header_size(im)  # EXIF rotation swaps the sides
                return (h, w)
        except Exception:
            return (0, 0)  # read_image will report it properly

    batch: list = []
    for p in sorted(files, key=shape_of):
        try:
            im = read_image(p, max_pixels=max_pixels, keep_mode=True)
        except CycleGANError as e:
            errors.append(str(e))
            continue
        if alpha_of(im) is not None:  # the generators take RGB: said once after the images (`on_white_warning`)
            on_white.append(p)
        im = as_rgb(im)
        frames[p] = still_frames(p)  # the pages left out: said in one line after the images (`frames_left_out_of`)
        h, w = long_side_shape(im.height, im.width, size) if size else (im.height, im.width)
        if size and h * w > max_pixels:  # an upscale is a decode too: held to the same cap, before it is made
            errors.append(
                f"cannot translate {p} at --size {size}: {w}x{h} pixels ({megapixels(w * h)}) would be over the "
                f"cap of {max_pixels} pixels (--max-pixels); give a smaller --size"
            )
            continue
        if warning := thin_warning(p, (im.height, im.width), (h, w), least, size=size):
            print_warning(warning)
        if size:
            im = resize_long_side(im, size)
        x = to_bytes(im)  # uint8: a large image is never held in float whole (inference.translate_batch)
        del im
        full = len(batch) == batch_size or (len(batch) + 1) * x.shape[-1] * x.shape[-2] > batch_pixels
        if batch and (full or batch[0][1].shape != x.shape):
            yield batch
            batch = []
        batch.append((p, x))
    if batch:
        yield batch


def thin_warning(
    name: object, shape: tuple[int, int], resized: tuple[int, int], least: int, *, size: int | None
) -> str | None:
    """A warning naming an image the generator gets thinner than `least` px, its smallest side: padded to it, little
    of the image is left in what it translates. Where --size made it so thin, the --size that keeps its short side;
    an image already that thin (a 40x1 strip) was translated as badly without a word. `shape`: its (H, W);
    `resized`: at --size."""
    (h, w), (rh, rw) = shape, resized
    if min(rh, rw) >= least:
        return None
    said = f"under the {least} px the generator takes (padded, little of it left)"
    if size and min(rh, rw) < min(h, w):  # --size, not the image, made it this thin
        need = size_keeping(h, w, least)
        return f"warning: {name} at --size {size} is {rw}x{rh} px, {said}; --size {need} keeps its short side"
    return f"warning: {name} is {w}x{h} px, {said}"


def output_names(
    files: list[Path], out_dir: Path, ext: str, *, warn: bool = True, quiet: Container[Path] = ()
) -> dict[Path, Path]:
    """OUT/STEM.ext per input, in input order (a clip keeps its own extension: the same kind of clip); a stem
    seen before gets -2, -3... (with a warning if `warn`, except for the inputs in `quiet`)."""
    suffixes = {p: p.suffix.lower() if is_clip_file(p) else f".{ext}" for p in files}
    stems = unique_stems(files, warn=warn, suffix_of=suffixes.__getitem__, quiet=quiet)
    return {p: out_dir / (stem + suffixes[p]) for p, stem in zip(files, stems)}


@dataclass(frozen=True)
class Plan:
    """What a translation reads and writes, decided and checked before any image is read or network loaded."""

    files: list[Path]  # the input images, in order
    targets: dict[Path, Path]  # input -> output file
    errors: list[str]  # inputs that name nothing (missing files, empty folders, globs matching nothing)
    overwrite: bool = False  # whether an output may replace a file (else it is created only where none is)
    skipped: int = 0  # inputs left out because their output exists (--skip-existing)


def plan_outputs(
    inputs: Sequence[str],
    out_dir: str | Path,
    *,
    ext: str,
    overwrite: bool,
    skip_existing: bool = False,
    warn: bool = True,
) -> Plan:
    """Expand `inputs`, name every output, and refuse (one line, `files.check_outputs`) an `out_dir` that is
    a file or an input folder (or inside one), an output that would replace an input, and, unless
    `overwrite`, an output that exists. `skip_existing`: leave out the inputs whose output exists (outputs are
    written whole, so one that exists is complete); the names are those of the whole list."""
    if skip_existing and overwrite:
        raise CycleGANError("options '--skip-existing' and '--overwrite' contradict each other: give one of them")
    found = expand_inputs(inputs)
    check_out_folder(out_dir)
    out_dir = Path(out_dir)
    files, outputs = without_outputs(found, out_dir)
    if warn:
        for msg in unread_warnings(found, "images or clips translate reads"):
            print_warning(msg)
    if warn and outputs:
        names = ", ".join(p.name for p in outputs[:3]) + (", ..." if len(outputs) > 3 else "")
        msg = f"warning: left out {counted(len(outputs), 'file')} the patterns match inside --out {out_dir}: {names}"
        print_warning(msg)
    targets = output_names(files, out_dir, ext, warn=False)
    if skip_existing:
        # Only a file (or a link to one) is a translation. A folder, or a link to one, check_outputs names; a
        # link to nothing (its file moved or deleted) was taken as done and its input never translated again.
        done = {f for f, t in targets.items() if t.is_file()}
        if dangling := next(
            (t for f, t in targets.items() if f not in done and t.is_symlink() and not t.exists()), None
        ):
            raise CycleGANError(
                f"option '--skip-existing': {dangling} is a symbolic link to {os.readlink(dangling)}, which does not "
                "exist: remove the link to translate its input again (or give --overwrite instead, which translates "
                "every input again)"
            )
        # Ours are written whole: an empty one is some other program's (a copy cut short), not a translation.
        if empty := [targets[f] for f in files if f in done and targets[f].stat().st_size == 0]:
            more = f" (and {len(empty) - 1} more)" if len(empty) > 1 else ""
            raise CycleGANError(
                f"option '--skip-existing': {empty[0]} is empty (0 bytes){more}, not a translation: remove it to "
                "translate its input again (or give --overwrite instead, which translates every input again)"
            )
        ambiguous = done & sharing_a_name(targets)
        if warn and (shared := [targets[f].name for f in files if f in ambiguous]):
            names = ", ".join(shared[:3]) + (", ..." if len(shared) > 3 else "")
            msg = (
                f"warning: --skip-existing takes {counted(len(shared), 'existing output')} of inputs that share a "
                f"name as translated ({names}); which input a -2, -3... name belongs to follows the order of the "
                "inputs: if they changed since, give --overwrite instead"
            )
            print_warning(msg)
        targets = {f: t for f, t in targets.items() if f not in done}
    check_outputs(
        targets.values(), overwrite=overwrite, out_folder=out_dir, inputs=found.files, input_folders=found.folders
    )
    if warn:  # refused or not, now say which inputs get suffixed names (not those skipped: nothing is written)
        output_names(files, out_dir, ext, warn=True, quiet=set(files) - set(targets))
    return Plan(list(targets), targets, list(found.errors), overwrite, skipped=len(files) - len(targets))


def sharing_a_name(targets: dict[Path, Path]) -> set[Path]:
    """The inputs whose output name another input's shares before `unique_stems` tells them apart (the
    -2, -3... names): the output an input gets depends on their order."""
    names = Counter((f.stem + t.suffix).casefold() for f, t in targets.items())
    return {f for f, t in targets.items() if names[(f.stem + t.suffix).casefold()] > 1}


def without_outputs(found: Inputs, out_dir: Path) -> tuple[list[Path], list[Path]]:
    """(inputs, left out): the files a glob matches inside `out_dir` where `out_dir` is a sub-folder of the
    folder the glob searches, left out as outputs (an input folder holding it is refused for the same reason:
    outputs must not become the next run's inputs). `translate 'photos/**/*' --out photos/out` run again
    with --skip-existing translated its own outputs again, as img-2.png beside img.png. A glob of files in
    `out_dir` itself (`'photos/*.jpg' --out photos`, beside their sources) still names inputs."""
    out = out_dir.resolve()
    left = [
        f
        for f, head in found.searched.items()
        if out != head.resolve() and inside(out, head.resolve()) and inside(f.resolve(), out)
    ]
    return [f for f in found.files if f not in left], left


def check_some_input(plan: Plan) -> None:
    """Refuse (one line) a plan whose inputs name no file at all, saying why each is empty, or only files of
    which none opens as an image or clip (`translate X.heic` loaded the model and made --out to write nothing);
    a plan with something to read, or whose inputs are all translated already (--skip-existing), passes. Headers
    are read up to the first that opens: one, as a rule."""
    if plan.skipped or not (plan.files or plan.errors):
        return
    unread = []
    for p in plan.files:
        if is_clip_file(p) or (why := unopened(p)) is None:
            return
        unread.append(f"{p}: {why}")
    raise nothing_to_translate([*plan.errors, *unread])


@contextlib.contextmanager
def claimed_outputs(
    inputs: Sequence[str], out_dir: str | Path, *, ext: str, overwrite: bool, skip_existing: bool = False
) -> Iterator[Plan]:
    """`plan_outputs`, checked again under a lock on `out_dir` held for the block (`files.FolderLock`): one
    run writes into a folder at a time, so two runs never write the same files; a second one stops in one
    line before any work. A refusal (an input folder, an existing output) comes first, before the folder
    is touched; the check under the lock then sees what a run that just ended wrote. Inputs of which none
    names a file (all missing, empty folders, globs matching nothing) are refused before `out_dir` is made."""
    check_some_input(plan_outputs(inputs, out_dir, ext=ext, overwrite=overwrite, skip_existing=skip_existing))
    with claim_folder(out_dir, "--out"):
        plan = plan_outputs(inputs, out_dir, ext=ext, overwrite=overwrite, skip_existing=skip_existing, warn=False)
        # not one a `translate_video` or export of that name writes now: it holds the name, not the folder
        remove_stale_temporaries_of(plan.targets.values(), keep_claimed=True)
        yield plan


def _translate_batch(
    net: nn.Module,
    batch: list,
    execution: Execution,
    errors: list[str],
    tiling: TilingOptions | None = None,
    progress: bool = False,
) -> list:
    """[(path, x (3, H, W) uint8)] -> [(path, y (3, H, W) uint8)], in tiles where `tiling` says so. When the device runs
    out of memory the batch is retried one image at a time, and an image that fails alone is named in
    `errors` and left out. `progress`: a bar counting a tiled image's tiles."""
    try:
        x = batch[0][1][None] if len(batch) == 1 else torch.stack([x for _, x in batch])  # no copy for one
        ys = translate_batch(net, x, tiling=tiling, execution=execution, progress=progress)
        return [(p, y) for (p, _), y in zip(batch, ys)]
    except Exception as e:  # only an allocation failure is handled; anything else is re-raised
        if not is_out_of_memory(e):
            raise
    # Outside the handler, so the failed attempt's tensors (held by the traceback) are freed first.
    device = next(net.parameters()).device
    if device.type == "cuda":
        torch.cuda.empty_cache()
    if len(batch) > 1:
        return [r for item in batch for r in _translate_batch(net, [item], execution, errors, tiling, progress)]
    path, x = batch[0]
    errors.append(
        f"{path}: out of memory on {device} at {x.shape[-1]}x{x.shape[-2]} px (a smaller --max-memory or --tile fits)"
    )
    return []


def translate_files(
    net: nn.Module,
    inputs: Sequence[str],
    out_dir: str | Path,
    *,
    size: int | None = None,
    batch_size: int = TranslateOptions.batch_size,
    ext: str = TranslateOptions.ext,
    progress: bool = True,
    execution: Execution = REFERENCE,
    overwrite: bool = TranslateOptions.overwrite,
    max_pixels: int = TranslateOptions.max_pixels,
    tiling: TilingOptions | None = None,
    temporal: TemporalOptions | None = None,
) -> tuple[list[Path], list[str]]:
    """Translate files/folders/globs into `out_dir` as STEM.ext; returns (written files, error lines).

    Refuses (CycleGANError, before reading any image) to write into an input folder or onto an input, and,
    unless `overwrite`, onto an existing file; and, before `out_dir` is made, inputs of which none names a
    file, and a `size` under the generator's smallest side. An input that cannot be read, declares more than
    `max_pixels` pixels, or runs out of device memory is named in the error lines and skipped.
    `execution`: precision, memory format and compilation (see `cyclegan.execution.choose_execution`);
    `tiling`: when and how large images are cut into tiles (`cyclegan.tiling`; default: when they would
    not fit 1.25 GB of activations).
    """
    with claimed_outputs(inputs, out_dir, ext=ext, overwrite=overwrite) as plan:
        return translate_plan(
            net,
            plan,
            out_dir,
            size=size,
            batch_size=batch_size,
            progress=progress,
            execution=execution,
            max_pixels=max_pixels,
            tiling=tiling,
            temporal=temporal,
        )


def warn_stills_only(temporal: TemporalOptions | None) -> None:
    """Say (a warning) which of `temporal`'s options, set away from their defaults, change nothing: every input
    is a still image (they were taken without a word)."""
    given = [
        f"{option_name(TemporalOptions, f.name)} {getattr(temporal, f.name)}"
        for f in dataclasses.fields(TemporalOptions)
        if temporal is not None and getattr(temporal, f.name) != f.default
    ]
    if given:
        verb = "changes nothing here: it keeps" if len(given) == 1 else "change nothing here: they keep"
        msg = f"warning: {' and '.join(given)} {verb} a clip's frames consistent in time, and every input is "
        print_warning(msg + "a still image")


def translate_plan(
    net: nn.Module,
    plan: Plan,
    out_dir: str | Path,
    *,
    size: int | None = None,
    batch_size: int = TranslateOptions.batch_size,
    progress: bool = True,
    execution: Execution = REFERENCE,
    max_pixels: int = TranslateOptions.max_pixels,
    tiling: TilingOptions | None = None,
    temporal: TemporalOptions | None = None,
    keep_location: bool = False,
) -> tuple[list[Path], list[str]]:
    """Translate the inputs of a checked `plan` (from `plan_outputs`) into their targets; returns
    (written files, one error line per input that was skipped)."""

    check_size(net, size, name="option '--size'")
    if any(is_clip_file(p) for p in plan.files):  # OpenCV missing: one line before any work, not one a clip
        from .video import check_temporal_needs  # on use

        check_temporal_needs(net, temporal)
    tiling = tiling or TilingOptions()
    if tiling.tile is None:  # tiles that fit --max-memory: refused before any image rather than at the first large one
        check_budget(uncompiled(net), tiling.max_memory)
    errors = list(plan.errors)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    net = net.to(memory_format=execution.memory_format)  # weights in the activations' layout (no per-conv copies)
    net = execution.compiled(net, dynamic=None)  # images of many sizes: shape-generic after the second
    batch_pixels = tiling.max_memory * 1e9 / activation_bytes(uncompiled(net), 1, 1)  # what fits at once
    clips = [p for p in plan.files if is_clip_file(p)]  # video: see cyclegan.video
    if plan.files and not clips:
        warn_stills_only(temporal)
    batches = _batches(
        [p for p in plan.files if p not in clips],
        size=size,
        batch_size=batch_size,
        errors=errors,
        max_pixels=max_pixels,
        batch_pixels=batch_pixels,
        least=least_size(uncompiled(net)),
        frames=(frames := {}),
        on_white=(on_white := []),
    )
    with progress_bar(
        total=len(plan.files) - len(clips),
        desc="translate",
        unit="img",
        enabled=progress and len(clips) < len(plan.files),
    ) as bar:
        for batch in batches:
            for path, y in _translate_batch(net, batch, execution, errors, tiling, not bar.disable):
                target = plan.targets[path]
                try:  # whole or nothing, never through a symbolic link, and without --overwrite only if still new
                    with output_claimed(target):  # one writer of the name: a `translate_video` or export of it
                        save_image(to_pil(y), target, replace=plan.overwrite)
                except CycleGANError as e:
                    errors.append(f"{path}: {e}")
                    continue
                except FileExistsError:
                    errors.append(f"{path}: {target} was created by another program while this run worked; left alone")
                    continue
                except OSError as e:  # e.g. a full disk: named, and the next images still tried
                    errors.append(f"{path}: cannot write {target}: {e.strerror or e}")
                    continue
                except ValueError as e:  # the format's own limit (WebP: 16383 px a side) was a traceback
                    errors.append(f"{path}: cannot write {target}: {e}; another --ext may take it")
                    continue
                written.append(target)
            bar.update(len(batch))
        bar.update(bar.total - bar.n)
    if warning := frames_left_out_of(frames):  # said, not silently dropped; once for a folder of scans
        print_warning(warning)
    if warning := on_white_warning(on_white):  # once, not a line an image
        print_warning(warning)
    if clips:
        from .video import translate_clips  # on use

        written += translate_clips(
            net,
            {p: plan.targets[p] for p in clips},
            errors,
            temporal=temporal,
            tiling=tiling,
            execution=execution,
            size=size,
            batch_size=batch_size,
            max_pixels=max_pixels,
            progress=progress,
            replace=plan.overwrite,  # without --overwrite, as images: a file made meanwhile is left alone
            keep_location=keep_location,
        )
    return written, errors


def translate_paths(opts: TranslateOptions) -> tuple[list[Path], list[str]]:
    """Check where `opts` would write (see `plan_outputs`), load the generator, choose how it computes on the
    device, translate every input into `opts.out`; returns (written files, one error line per input that
    could not be translated)."""

    with claimed_outputs(
        opts.inputs, opts.out, ext=opts.ext, overwrite=opts.overwrite, skip_existing=opts.skip_existing
    ) as plan:  # before work
        if plan.skipped:
            print_out(f"{counted(plan.skipped, 'input')} already translated in {escape(opts.out)}: left as they are")
        if not plan.files:  # all done: no generator to load (nor a pretrained one to download)
            return [], list(plan.errors)
        device = resolve_device(opts.device)
        net = load_generator(opts.checkpoint, opts.direction, device=device, ema=opts.ema, progress=opts.progress)
        if opts.direction is not None and zoo.is_spec(opts.checkpoint):  # (another project's file names none)
            # a published generator asked the other way still translates its own way (zebras where horses were
            # asked for): said, as export says it
            source = str(checkpoint_file(opts.checkpoint))
            warn_direction_unused("--direction", opts.direction, given=str(opts.checkpoint), source=source)
        e = opts.execution
        execution = choose_execution(
            e.precision,
            e.channels_last,
            e.compile,
            device=device,
            compile_pays=compile_pays_for_translation(len(plan.files)),
            translation=True,
            unet=isinstance(net, UnetGenerator),
        )
        return translate_plan(
            net,
            plan,
            opts.out,
            size=opts.size,
            batch_size=opts.batch_size,
            progress=opts.progress,
            execution=execution,
            max_pixels=opts.max_pixels,
            tiling=opts.tiling,
            temporal=opts.temporal,
            keep_location=opts.keep_location,
        )
