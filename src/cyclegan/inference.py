"""Inference: translate images of any size and shape with a loaded generator.

Images are padded (reflect) to what the network needs and cropped back, so the output has the input's
size. Nothing here imports training code.
"""

from __future__ import annotations

import glob
import math
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F_
from PIL import Image
from torch import nn

from .checkpoint import Direction
from .config import ExecutionOptions, checkpoint_option, device_option, direction_option, ema_option, progress_option
from .data.io import (
    MAX_PIXELS,
    find_images,
    glob_files,
    max_pixels_option,
    read_image,
    resize_long_side,
    to_pil,
    to_tensor,
)
from .errors import CycleGANError
from .execution import REFERENCE, Execution
from .files import check_outputs, overwrite_option, unique_stems
from .options import Options, opt
from .tiling import (
    DEFAULT_MAX_MEMORY_GB,
    DEFAULT_OVERLAP,
    DEFAULT_THUMBNAIL,
    TilingOptions,
    activation_bytes,
    size_multiple,
    translate_tiled,
)


def _max(a, b):
    """max(a, b) as arithmetic (no comparison turned into a Python bool): ints when run, 0-dim tensors when
    traced, so an exported graph computes it for each input's shape instead of fixing it at trace time."""
    d = b - a
    return a + d * (d > 0)


def pad_for_generator(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad (B, C, H, W) on the bottom and right to what a generator needs: H and W multiples of `multiple`
    and at least 2 x `multiple` (at 1 x `multiple` the bottleneck is a single pixel, which instance norm
    refuses). Returns the padded tensor and the original (H, W), to crop the output back with [..., :H, :W].

    Reflect padding, continued by replicating the edge where a side is too short to reflect that far (a
    side of s px reflects at most s - 1). Every amount is shape arithmetic, so `translate` and the exported
    graph (`interop.export`, traced) pad every size alike: equal outputs at any size.
    """
    h, w = x.shape[-2], x.shape[-1]
    pad_h = _max((multiple - h % multiple) % multiple, 2 * multiple - h)
    pad_w = _max((multiple - w % multiple) % multiple, 2 * multiple - w)
    tracing = torch.jit.is_tracing()
    if not tracing and pad_h == 0 and pad_w == 0:
        return x, (h, w)
    reflect_h, reflect_w = pad_h - _max(pad_h - (h - 1), 0), pad_w - _max(pad_w - (w - 1), 0)  # min(pad, side - 1)
    x = F_.pad(x, [0, reflect_w, 0, reflect_h], mode="reflect")
    if tracing or pad_h != reflect_h or pad_w != reflect_w:
        x = F_.pad(x, [0, pad_w - reflect_w, 0, pad_h - reflect_h], mode="replicate")
    return x, (h, w)


@torch.no_grad()
def translate_tensor(net: nn.Module, x: torch.Tensor, *, execution: Execution = REFERENCE) -> torch.Tensor:
    """x (B, 3, H, W) in [-1, 1], any H and W -> net's output (B, 3, H, W) in [-1, 1], fp32.

    `execution` (precision, memory format) as chosen by `cyclegan.execution.choose_execution`; compile the
    net beforehand with `execution.compiled(net)` if wanted.
    """
    p = next(net.parameters())
    padded, (h, w) = pad_for_generator(x.to(p.device, p.dtype), size_multiple(net))
    with execution.autocast(p.device):
        out = net(padded.contiguous(memory_format=execution.memory_format))
    return out.float()[..., :h, :w]


def _original(net: nn.Module) -> nn.Module:
    """The module itself under a `torch.compile` wrapper (hooks and swapped layers act on it)."""
    return getattr(net, "_orig_mod", net)


def translate_batch(
    net: nn.Module, x: torch.Tensor, *, tiling: TilingOptions | None = None, execution: Execution = REFERENCE
) -> torch.Tensor:
    """x (B, 3, H, W) in [-1, 1] -> (B, 3, H, W) in [-1, 1], fp32: at once when the activations fit
    `tiling.max_memory` (or `tiling.tile` is 0), else image by image, in tiles where one image does not fit
    (`cyclegan.tiling`: overlapping tiles, thumbnail InstanceNorm statistics). Tiled results are on the CPU."""
    tiling = tiling or TilingOptions()
    base = _original(net)
    h, w = x.shape[-2:]
    plan = tiling.plan(base, h, w)
    fits = len(x) == 1 or tiling.tile == 0 or activation_bytes(base, h, w, len(x)) <= tiling.max_memory * 1e9
    if plan.whole and fits:
        return translate_tensor(net, x, execution=execution)
    if plan.whole:  # one image fits, the batch does not
        return torch.cat([translate_tensor(net, xi[None], execution=execution).cpu() for xi in x])
    run = lambda t: translate_tensor(base, t, execution=execution)  # noqa: E731 - eager: layers are swapped
    return torch.cat([translate_tiled(base, xi[None].cpu(), plan, run=run) for xi in x])


def translate(
    net: nn.Module,
    images,
    *,
    size: int | None = None,
    tile: int | None = None,
    tile_overlap: int = DEFAULT_OVERLAP,
    max_memory: float = DEFAULT_MAX_MEMORY_GB,
    thumbnail: int = DEFAULT_THUMBNAIL,
):
    """Translate PIL image(s) or a tensor with a generator from `cyclegan.load_generator`.

    - a PIL image -> a PIL image of the same size (or long side `size`);
    - a list of PIL images -> a list;
    - a tensor (3, H, W) or (B, 3, H, W) in [-1, 1] -> a tensor of the same shape in [-1, 1].

    Images of any resolution: an image whose activations would take more than `max_memory` GB is
    translated in tiles (`tile` px to force a tile size, 0 to never tile) overlapping by `tile_overlap`
    px, with InstanceNorm statistics from a thumbnail of long side `thumbnail` (see `cyclegan.tiling`).
    """
    tiling = TilingOptions(tile=tile, tile_overlap=tile_overlap, max_memory=max_memory, thumbnail=thumbnail)
    if isinstance(images, torch.Tensor):
        batched = images if images.dim() == 4 else images.unsqueeze(0)
        out = translate_batch(net, batched, tiling=tiling).to(images.device)
        return out if images.dim() == 4 else out[0]
    if isinstance(images, Image.Image):
        return translate(net, [images], size=size, tile=tile, tile_overlap=tile_overlap, max_memory=max_memory,
                         thumbnail=thumbnail)[0]  # fmt: skip
    results = []
    for im in images:
        im = im.convert("RGB") if im.mode != "RGB" else im
        if size:
            im = resize_long_side(im, size)
        results.append(to_pil(translate_batch(net, to_tensor(im).unsqueeze(0), tiling=tiling)[0]))
    return results


# --- files ----------------------------------------------------------------------------------------------


@dataclass
class Inputs:
    files: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    folders: list[Path] = field(default_factory=list)  # the folders among the inputs (searched recursively)


def expand_inputs(inputs: Sequence[str]) -> Inputs:
    """Files, folders (recursively, symlinked sub-folders too) and glob patterns -> image files, in order,
    without duplicates."""
    found = Inputs()
    seen: set[Path] = set()

    def add(p: Path) -> None:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            found.files.append(p)

    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found.folders.append(path)
            images = find_images(path)
            if not images:
                found.errors.append(f"{item}: folder holds no images")
            for p in images:
                add(p)
        elif path.is_file():
            add(path)
        elif glob.has_magic(item):
            matches = glob_files(item)
            if not matches:
                found.errors.append(f"{item}: no file matches this pattern")
            for p in matches:
                add(p)
        else:
            found.errors.append(f"{item}: no such file or folder")
    return found


def _batches(
    files: list[Path],
    *,
    size: int | None,
    batch_size: int,
    errors: list[str],
    max_pixels: int = MAX_PIXELS,
    batch_pixels: float = math.inf,
) -> Iterator[list]:
    """Yield lists of (path, image tensor) whose tensors share one shape, reading files lazily in order of
    size so equal shapes are neighbours, at most `batch_size` of them and, past the first, `batch_pixels`
    pixels in all (large images one at a time). Unreadable files, and files over the decode cap
    `max_pixels`, are reported in `errors` and skipped."""

    def shape_of(p: Path) -> tuple[int, int]:
        try:
            with warnings.catch_warnings():  # a huge header is read_image's to report, once, in one line
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                im = Image.open(p)
            with im:
                w, h = im.size
                if im.getexif().get(0x0112, 1) in (5, 6, 7, 8):  # EXIF rotation swaps the sides
                    w, h = h, w
                return (h, w)
        except Exception:
            return (0, 0)  # read_image will report it properly

    batch: list = []
    for p in sorted(files, key=shape_of):
        try:
            im = read_image(p, max_pixels=max_pixels)
        except CycleGANError as e:
            errors.append(str(e))
            continue
        if size:
            im = resize_long_side(im, size)
        x = to_tensor(im)
        full = len(batch) == batch_size or (len(batch) + 1) * x.shape[-1] * x.shape[-2] > batch_pixels
        if batch and (full or batch[0][1].shape != x.shape):
            yield batch
            batch = []
        batch.append((p, x))
    if batch:
        yield batch


def output_names(files: list[Path], out_dir: Path, ext: str, *, warn: bool = True) -> dict[Path, Path]:
    """OUT/STEM.ext per input, in input order; a stem seen before gets -2, -3... (with a warning if `warn`)."""
    return {p: out_dir / f"{stem}.{ext}" for p, stem in zip(files, unique_stems(files, ext=ext, warn=warn))}


@dataclass(frozen=True)
class Plan:
    """What a translation reads and writes, decided and checked before any image is read or network loaded."""

    files: list[Path]  # the input images, in order
    targets: dict[Path, Path]  # input -> output file
    errors: list[str]  # inputs that name nothing (missing files, empty folders, globs matching nothing)


def plan_outputs(inputs: Sequence[str], out_dir: str | Path, *, ext: str, overwrite: bool) -> Plan:
    """Expand `inputs`, name every output, and refuse (one line, `files.check_outputs`) an `out_dir` that is
    a file or an input folder (or inside one), an output that would replace an input, and, unless
    `overwrite`, an output that exists."""
    found = expand_inputs(inputs)
    out_dir = Path(out_dir)
    targets = output_names(found.files, out_dir, ext, warn=False)
    check_outputs(targets.values(), overwrite=overwrite, out_folder=out_dir, inputs=found.files,
                  input_folders=found.folders)  # fmt: skip
    unique_stems(found.files, ext=ext, warn=True)  # refused or not, now say which inputs get suffixed names
    return Plan(found.files, targets, list(found.errors))


def is_out_of_memory(e: BaseException) -> bool:
    """An allocation failure on any device: CUDA/MPS out of memory, the CPU allocator, Python's MemoryError."""
    if isinstance(e, (torch.OutOfMemoryError, MemoryError)):
        return True
    text = str(e)
    return isinstance(e, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def _translate_batch(
    net: nn.Module, batch: list, execution: Execution, errors: list[str], tiling: TilingOptions | None = None
) -> list:
    """[(path, x (3, H, W))] -> [(path, y (3, H, W))], in tiles where `tiling` says so. When the device runs
    out of memory the batch is retried one image at a time, and an image that fails alone is named in
    `errors` and left out."""
    try:
        x = batch[0][1][None] if len(batch) == 1 else torch.stack([x for _, x in batch])  # no copy for one
        ys = translate_batch(net, x, tiling=tiling, execution=execution)
        return [(p, y) for (p, _), y in zip(batch, ys)]
    except Exception as e:  # only an allocation failure is handled; anything else is re-raised
        if not is_out_of_memory(e):
            raise
    # Outside the handler, so the failed attempt's tensors (held by the traceback) are freed first.
    device = next(net.parameters()).device
    if device.type == "cuda":
        torch.cuda.empty_cache()
    if len(batch) > 1:
        return [r for item in batch for r in _translate_batch(net, [item], execution, errors, tiling)]
    path, x = batch[0]
    errors.append(f"{path}: out of memory on {device} at {x.shape[-1]}x{x.shape[-2]} px (a smaller --max-memory "
                  "or --tile fits)")  # fmt: skip
    return []


@dataclass(frozen=True)
class TranslateOptions(Options):
    """`cyclegan translate`: image files, folders and globs through one generator, into a folder."""

    inputs: tuple[str, ...] = opt(help="image files, folders (searched recursively) or globs", metavar="INPUT",
                                  positional=True)  # fmt: skip
    checkpoint: str = checkpoint_option()
    out: str = opt(help="output folder (created if missing)", metavar="DIR")
    direction: Direction = direction_option()
    ema: Literal["auto", "on", "off"] = ema_option()
    size: int | None = opt(None, "resize so the longer side is N first (default: keep the size)", gt=0)
    batch_size: int = opt(4, "images of equal size per batch", gt=0)
    ext: Literal["png", "jpg", "webp", "tif"] = opt("png", "output format")
    overwrite: bool = overwrite_option()
    max_pixels: int = max_pixels_option()
    tiling: TilingOptions = opt(factory=TilingOptions)
    execution: ExecutionOptions = opt(factory=ExecutionOptions)
    device: str = device_option()
    progress: bool = progress_option()


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
) -> tuple[list[Path], list[str]]:
    """Translate files/folders/globs into `out_dir` as STEM.ext; returns (written files, error lines).

    Refuses (CycleGANError, before reading any image) to write into an input folder or onto an input, and,
    unless `overwrite`, onto an existing file. An input that cannot be read, declares more than
    `max_pixels` pixels, or runs out of device memory is named in the error lines and skipped.
    `execution`: precision, memory format and compilation (see `cyclegan.execution.choose_execution`);
    `tiling`: when and how large images are cut into tiles (`cyclegan.tiling`; default: when they would
    not fit 1.25 GB of activations).
    """
    plan = plan_outputs(inputs, out_dir, ext=ext, overwrite=overwrite)
    return translate_plan(net, plan, out_dir, size=size, batch_size=batch_size, progress=progress,
                          execution=execution, max_pixels=max_pixels, tiling=tiling)  # fmt: skip


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
) -> tuple[list[Path], list[str]]:
    """Translate the inputs of a checked `plan` (from `plan_outputs`) into their targets; returns
    (written files, one error line per input that was skipped)."""
    from tqdm import tqdm

    errors = list(plan.errors)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    net = net.to(memory_format=execution.memory_format)  # weights in the activations' layout (no per-conv copies)
    net = execution.compiled(net, dynamic=None)  # images of many sizes: shape-generic after the second
    tiling = tiling or TilingOptions()
    batch_pixels = tiling.max_memory * 1e9 / activation_bytes(_original(net), 1, 1)  # what fits at once
    batches = _batches(plan.files, size=size, batch_size=batch_size, errors=errors, max_pixels=max_pixels,
                       batch_pixels=batch_pixels)  # fmt: skip
    with tqdm(total=len(plan.files), desc="translate", unit="img", disable=not progress) as bar:
        for batch in batches:
            for path, y in _translate_batch(net, batch, execution, errors, tiling):
                target = plan.targets[path]
                try:
                    to_pil(y).save(target)
                except OSError as e:  # e.g. a full disk: named, and the next images still tried
                    target.unlink(missing_ok=True)
                    errors.append(f"{path}: cannot write {target}: {e.strerror or e}")
                    continue
                written.append(target)
            bar.update(len(batch))
        bar.update(bar.total - bar.n)
    return written, errors


def translate_paths(opts: TranslateOptions) -> tuple[list[Path], list[str]]:
    """Check where `opts` would write (see `plan_outputs`), load the generator, choose how it computes on the
    device, translate every input into `opts.out`; returns (written files, one error line per input that
    could not be translated)."""
    from .checkpoint import load_generator
    from .execution import choose_execution, compile_pays_for_translation, resolve_device

    plan = plan_outputs(opts.inputs, opts.out, ext=opts.ext, overwrite=opts.overwrite)  # before any work
    device = resolve_device(opts.device)
    net = load_generator(opts.checkpoint, opts.direction, device=device, ema=opts.ema)
    e = opts.execution
    execution = choose_execution(
        e.precision, e.channels_last, e.compile, device=device,
        compile_pays=compile_pays_for_translation(len(plan.files)),
    )  # fmt: skip
    return translate_plan(
        net, plan, opts.out, size=opts.size, batch_size=opts.batch_size, progress=opts.progress,
        execution=execution, max_pixels=opts.max_pixels, tiling=opts.tiling,
    )  # fmt: skip
