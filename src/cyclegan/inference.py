"""Inference: translate images of any size and shape with a loaded generator.

Images are padded (reflect) to what the network needs and cropped back, so the output has the input's
size. Nothing here imports training code.
"""

from __future__ import annotations

import glob
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
from PIL import Image
from torch import nn

from .checkpoint import Direction
from .config import ExecutionOptions, checkpoint_option, device_option, direction_option, progress_option
from .data.io import is_image_file, read_image, resize_long_side, to_pil, to_tensor
from .errors import CycleGANError
from .execution import REFERENCE, Execution
from .files import unique_stems
from .models.layers import pad_to_multiple
from .options import Options, opt


def size_multiple(net: nn.Module) -> int:
    """How many pixels H and W must be a multiple of for `net` (4 for the ResNet generator)."""
    return int(getattr(net, "size_multiple", 4))


@torch.no_grad()
def translate_tensor(net: nn.Module, x: torch.Tensor, *, execution: Execution = REFERENCE) -> torch.Tensor:
    """x (B, 3, H, W) in [-1, 1], any H and W -> net's output (B, 3, H, W) in [-1, 1], fp32.

    `execution` (precision, memory format) as chosen by `cyclegan.execution.choose_execution`; compile the
    net beforehand with `execution.compiled(net)` if wanted.
    """
    p = next(net.parameters())
    multiple = size_multiple(net)
    padded, (h, w) = pad_to_multiple(x.to(p.device, p.dtype), multiple, min_size=2 * multiple)
    with execution.autocast(p.device):
        out = net(padded.contiguous(memory_format=execution.memory_format))
    return out.float()[..., :h, :w]


def translate(net: nn.Module, images, *, size: int | None = None):
    """Translate PIL image(s) or a tensor with a generator from `cyclegan.load_generator`.

    - a PIL image -> a PIL image of the same size (or long side `size`);
    - a list of PIL images -> a list;
    - a tensor (3, H, W) or (B, 3, H, W) in [-1, 1] -> a tensor of the same shape in [-1, 1].
    """
    if isinstance(images, torch.Tensor):
        batched = images if images.dim() == 4 else images.unsqueeze(0)
        out = translate_tensor(net, batched).to(images.device)
        return out if images.dim() == 4 else out[0]
    if isinstance(images, Image.Image):
        return translate(net, [images], size=size)[0]
    results = []
    for im in images:
        im = im.convert("RGB") if im.mode != "RGB" else im
        if size:
            im = resize_long_side(im, size)
        results.append(to_pil(translate_tensor(net, to_tensor(im).unsqueeze(0))[0]))
    return results


# --- files ----------------------------------------------------------------------------------------------


@dataclass
class Inputs:
    files: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def expand_inputs(inputs: Sequence[str]) -> Inputs:
    """Files, folders (recursively) and glob patterns -> image files, in order, without duplicates."""
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
            images = sorted(p for p in path.rglob("*") if p.is_file() and is_image_file(p))
            if not images:
                found.errors.append(f"{item}: folder holds no images")
            for p in images:
                add(p)
        elif path.is_file():
            add(path)
        elif glob.has_magic(item):
            matches = sorted(Path(m) for m in glob.glob(item, recursive=True) if Path(m).is_file())
            if not matches:
                found.errors.append(f"{item}: no file matches this pattern")
            for p in matches:
                add(p)
        else:
            found.errors.append(f"{item}: no such file or folder")
    return found


def _batches(files: list[Path], *, size: int | None, batch_size: int, errors: list[str]) -> Iterator[list]:
    """Yield lists of (path, image tensor) whose tensors share one shape, reading files lazily in order of
    size so equal shapes are neighbours. Unreadable files are reported in `errors` and skipped."""

    def shape_of(p: Path) -> tuple[int, int]:
        try:
            with Image.open(p) as im:
                w, h = im.size
                if im.getexif().get(0x0112, 1) in (5, 6, 7, 8):  # EXIF rotation swaps the sides
                    w, h = h, w
                return (h, w)
        except Exception:
            return (0, 0)  # read_image will report it properly

    batch: list = []
    for p in sorted(files, key=shape_of):
        try:
            im = read_image(p)
        except CycleGANError as e:
            errors.append(str(e))
            continue
        if size:
            im = resize_long_side(im, size)
        x = to_tensor(im)
        if batch and (len(batch) == batch_size or batch[0][1].shape != x.shape):
            yield batch
            batch = []
        batch.append((p, x))
    if batch:
        yield batch


def output_names(files: list[Path], out_dir: Path, ext: str) -> dict[Path, Path]:
    """OUT/STEM.ext per input, in input order; a stem seen before gets -2, -3... (with a warning)."""
    return {p: out_dir / f"{stem}.{ext}" for p, stem in zip(files, unique_stems(files, ext=ext, warn=True))}


@dataclass(frozen=True)
class TranslateOptions(Options):
    """`cyclegan translate`: image files, folders and globs through one generator, into a folder."""

    inputs: tuple[str, ...] = opt(help="image files, folders (searched recursively) or globs", metavar="INPUT",
                                  positional=True)  # fmt: skip
    checkpoint: str = checkpoint_option()
    out: str = opt(help="output folder (created if missing)", metavar="DIR")
    direction: Direction = direction_option()
    size: int | None = opt(None, "resize so the longer side is N first (default: keep the size)", gt=0)
    batch_size: int = opt(4, "images of equal size per batch", gt=0)
    ext: Literal["png", "jpg", "webp", "tif"] = opt("png", "output format")
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
) -> tuple[list[Path], list[str]]:
    """Translate files/folders/globs into `out_dir` as STEM.ext; returns (written files, error lines).

    `execution`: precision, memory format and compilation (see `cyclegan.execution.choose_execution`).
    """
    from tqdm import tqdm

    found = expand_inputs(inputs)
    errors = list(found.errors)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    targets = output_names(found.files, out_dir, ext)
    written: list[Path] = []
    net = net.to(memory_format=execution.memory_format)  # weights in the activations' layout (no per-conv copies)
    net = execution.compiled(net, dynamic=None)  # images of many sizes: shape-generic after the second
    with tqdm(total=len(found.files), desc="translate", unit="img", disable=not progress) as bar:
        for batch in _batches(found.files, size=size, batch_size=batch_size, errors=errors):
            ys = translate_tensor(net, torch.stack([x for _, x in batch]), execution=execution)
            for (path, _), y in zip(batch, ys):
                to_pil(y).save(targets[path])
                written.append(targets[path])
            bar.update(len(batch))
        bar.update(bar.total - bar.n)
    return written, errors


def translate_paths(opts: TranslateOptions) -> tuple[list[Path], list[str]]:
    """Load the generator of `opts`, choose how it computes on the device, translate every input into
    `opts.out`; returns (written files, one error line per input that could not be translated)."""
    from .checkpoint import load_generator
    from .execution import choose_execution, compile_pays_for_translation, resolve_device

    device = resolve_device(opts.device)
    net = load_generator(opts.checkpoint, opts.direction, device=device)
    e = opts.execution
    execution = choose_execution(
        e.precision, e.channels_last, e.compile, device=device,
        compile_pays=compile_pays_for_translation(len(expand_inputs(opts.inputs).files)),
    )  # fmt: skip
    return translate_files(
        net, opts.inputs, opts.out, size=opts.size, batch_size=opts.batch_size, ext=opts.ext,
        progress=opts.progress, execution=execution,
    )  # fmt: skip
