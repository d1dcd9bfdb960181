"""Inference: translate images of any size and shape with a loaded generator.

Images are padded (reflect) to what the network needs and cropped back, so the output has the input's
size. Nothing here imports training code.
"""

from __future__ import annotations

import contextlib
import functools
import math
import numbers
import os
import threading
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import torch
from PIL import Image
from torch import nn

from .clipio import ANIMATED_IMAGES, OTHER_VIDEO, VIDEO_FORMATS, print_warning
from .data.io import (
    MAX_PIXELS,
    as_read,
    as_rgb,
    frame_count,
    frames_of,
    header_size,
    image_size,
    long_side_shape,
    megapixels,
    read_image,
    resize_long_side,
    to_pil,
    to_tensor,
)
from .errors import CycleGANError, escape, flags_as_keywords, reworded
from .execution import REFERENCE, Execution
from .files import home_expanded
from .models.layers import layout_hint, pad_for_generator  # padding here too: the export's and the API's
from .tiling import activation_bytes, as_bytes, as_unit, least_size, plan_for, size_multiple, translate_tiled
from .translate_options import DEFAULT_MAX_MEMORY_GB, DEFAULT_OVERLAP, DEFAULT_THUMBNAIL, TilingOptions

_IN_USE_GUARD = threading.Lock()
_IN_USE: weakref.WeakKeyDictionary[nn.Module, threading.RLock] = weakref.WeakKeyDictionary()


@contextlib.contextmanager
def in_use(net: nn.Module) -> Iterator[None]:
    """Run `net` in the block, one thread at a time (re-entrant), in eval mode. Translation changes a network's
    layers while it runs (a tiled image's InstanceNorm layers take its thumbnail's statistics, a clip's take
    shared ones), so one generator used from two threads gave each other's colours without a word. A network
    left in train mode (fine-tuning) kept a U-Net's dropout on, every translation a different draw, and its
    BatchNorm layers' running statistics moved with each image: each layer's mode is put back after."""
    base = uncompiled(net)
    with _IN_USE_GUARD:
        lock = _IN_USE.setdefault(base, threading.RLock())
    with lock:
        modes = {m: m.training for m in net.modules()}
        net.eval()
        try:
            yield
        finally:
            for m, training in modes.items():
                m.training = training


@torch.no_grad()
def translate_tensor(net: nn.Module, x: torch.Tensor, *, execution: Execution = REFERENCE) -> torch.Tensor:
    """x (B, 3, H, W) in [-1, 1] (or uint8 in [0, 255]), any H and W -> net's output (B, 3, H, W) in [-1, 1], fp32.

    `execution` (precision, memory format) as chosen by `cyclegan.execution.choose_execution`; compile the
    net beforehand with `execution.compiled(net)` if wanted. One thread at a time per network (`in_use`).
    """
    p = next(net.parameters())
    padded, (h, w) = pad_for_generator(on_device(x, p), size_multiple(net), least_size(net))
    with in_use(net), execution.autocast(p.device, pixels=padded.shape[0] * padded.shape[-2] * padded.shape[-1]):
        out = net(padded.contiguous(memory_format=execution.memory_format))
    check_output(net, out, padded)
    return out.float()[..., :h, :w]


def on_device(x: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """x in [-1, 1] on the device and in the dtype of the weight `p`. uint8 crosses as bytes and is converted
    there: float32 first was 4x the bytes over a GPU's PCIe link."""
    return as_unit(x.to(p.device)).to(p.dtype) if x.dtype == torch.uint8 else x.to(p.device, p.dtype)


def check_size(net: nn.Module, size: int | None, *, name: str = "size") -> None:
    """Refuse (one line naming `name`) a long side `size` under the smallest side `net` takes
    (`tiling.least_size`: 8 px for the ResNet generator): every image would come out that small or smaller, its
    short side padded up to what the network needs. An image that is itself that small is still translated."""
    if size is None:
        return
    if isinstance(size, bool) or not isinstance(size, numbers.Integral):  # True was "size True is under ..."
        raise CycleGANError(f"{name} must be a whole number of pixels (the long side), got {size!r}")
    least = least_size(uncompiled(net))
    if size <= 0:
        raise CycleGANError(f"{name} must be a positive number of pixels (the long side), got {size}")
    if size < least:
        raise CycleGANError(
            f"{name} {size} is under the smallest side this generator takes, {least} px; give {least} or more"
        )


def check_output(net: nn.Module, out: object, x: torch.Tensor) -> None:
    """Refuse, in one line, what a network that is no image-to-image generator gave for `x` (B, 3, H, W): a
    discriminator's patch scores, or a network that crops, came back as a smaller "translation" of the same
    shape as asked, without a word (a PIL image: "expected an image tensor (3, H, W)")."""
    if isinstance(out, torch.Tensor) and out.shape[:-2] == x.shape[:-2]:
        if out.shape[-2] >= x.shape[-2] and out.shape[-1] >= x.shape[-1]:
            return
    got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
    raise CycleGANError(
        f"{type(uncompiled(net)).__name__} gave {got} for images {tuple(x.shape)}: not an image-to-image "
        "generator (3 channels in and out, the input's size); load one: G = cyclegan.load_generator(RUN_OR_FILE)"
    )


def check_whole(name: str, value: object) -> None:
    """Refuse, in one line naming `name`, a count that is not a positive whole number (True, 1.5, 0, None)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:  # np.int64 passes
        raise CycleGANError(f"{name} must be a positive whole number, got {value!r}")


def as_int(value: object) -> object:
    """A numpy integer (a notebook's `size=a.shape[0] // 2`) as the int it is; anything else as it came, for the
    checks to name. Downstream sizes stay Python ints: int64 arithmetic wraps where an int grows."""
    return int(value) if isinstance(value, numbers.Integral) and not isinstance(value, bool) else value


def uncompiled(net: nn.Module) -> nn.Module:
    """The module itself under a `torch.compile` wrapper (hooks and swapped layers act on it)."""
    return getattr(net, "_orig_mod", net)


def translate_batch(
    net: nn.Module,
    x: torch.Tensor,
    *,
    tiling: TilingOptions | None = None,
    execution: Execution = REFERENCE,
    progress: bool = False,
) -> torch.Tensor:
    """x (B, 3, H, W) in [-1, 1] -> (B, 3, H, W) in [-1, 1], fp32; or x uint8 in [0, 255] -> uint8 (rounded as
    `data.io.to_pil` does). At once when the activations fit `tiling.max_memory` (or `tiling.tile` is 0),
    else image by image, in tiles where one image does not fit (`cyclegan.tiling`: overlapping tiles,
    thumbnail InstanceNorm statistics; cut where `x` is). Tiled results are on the CPU; a tiled uint8 image is never
    converted to float whole, so its memory is the input and output bytes plus one tile's work. `progress`:
    a bar counting a tiled image's tiles. One thread at a time per network (`in_use`)."""
    with in_use(net):
        return _translate_batch(net, x, tiling or TilingOptions(), execution, progress)


def _translate_batch(
    net: nn.Module, x: torch.Tensor, tiling: TilingOptions, execution: Execution, progress: bool
) -> torch.Tensor:
    base = uncompiled(net)
    h, w = x.shape[-2:]
    plan = plan_for(tiling, base, h, w)
    fits = len(x) == 1 or tiling.tile == 0 or activation_bytes(base, h, w, len(x)) <= tiling.max_memory * 1e9
    if plan.whole:
        whole = lambda t: _like(x, translate_tensor(net, t, execution=execution))  # noqa: E731
        return whole(x) if fits else torch.cat([whole(xi[None]).cpu() for xi in x])  # else: one image fits
    run = lambda t: translate_tensor(base, t, execution=execution)  # noqa: E731 - eager: layers are swapped
    # tiles cut where the image is: a frame resized on the GPU was copied back whole, in float, for its tiles to cross
    return torch.cat([translate_tiled(base, xi[None], plan, run=run, progress=progress) for xi in x])


def _like(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The translation y (float, [-1, 1]) in the kind of its input x: uint8 for uint8."""
    return as_bytes(y) if x.dtype == torch.uint8 else y


def keyword_names(names: dict[str, str | None]):
    """A decorator: the function's one-line errors with a Python caller's keyword for each flag of `names`
    (flag -> keyword) they name. The options' checks name `cyclegan translate`'s flags, so
    `translate(G, im, tile=5)` answered "option '--tile' 5 is under ...", a flag the caller never typed.
    A flag mapped to None is one the caller has no way to set: an alternative naming it is dropped
    (`errors.without_alternatives`). A command whose own flag sets `stylize`'s maps that flag to its own the
    same way (`compare`: --style-size to --size; `bench --task style`: --size to --style-sizes)."""
    return reworded(functools.partial(flags_as_keywords, names=names))


TILING_KEYWORDS = {f"--{k.replace('_', '-')}": k for k in ("tile", "tile_overlap", "max_memory", "thumbnail")}


@keyword_names(TILING_KEYWORDS | {"--max-pixels": "max_pixels"})
def translate(
    net: nn.Module,
    images,
    *,
    size: int | None = None,
    tile: int | None = None,
    tile_overlap: int = DEFAULT_OVERLAP,
    max_memory: float = DEFAULT_MAX_MEMORY_GB,
    thumbnail: int = DEFAULT_THUMBNAIL,
    max_pixels: int = MAX_PIXELS,
):
    """Translate PIL image(s) or a tensor with a generator from `cyclegan.load_generator`.

    - a PIL image of any mode, or an image file's path -> an RGB PIL image of the same size (or long side
      `size`); a mode other than RGB is converted as `cyclegan translate` converts it (16-bit and float
      greyscale rescaled, transparency on white), and a PIL image is turned upright by its EXIF orientation
      and converted to sRGB from its colour profile as a file is (`data.io.as_read`; the caller's is unchanged);
    - a list (tuple, generator, any iterable) of PIL images or paths -> a list;
    - a tensor (3, H, W) or (B, 3, H, W), float in [-1, 1] -> a float32 tensor of the same shape in [-1, 1];
      uint8 in [0, 255] -> uint8. Tensors are translated at their size (`size` is refused: resize them first).
      A float tensor well outside [-1, 1] ([0, 255] values) is refused; one in [0, 1] (torchvision's
      `to_tensor`) cannot be told from a bright image: give `x * 2 - 1`. The result is on the input's device;
      the work on the generator's (`load_generator(..., device=)`), in its dtype. It carries no gradient, even from
      a generator being fine-tuned (`requires_grad_(True)`): to backpropagate, call `G(x)` on a batch.

    One generator may serve several threads: each call runs it one thread at a time (`in_use`), since a tiled
    image swaps its InstanceNorm layers while it runs; `G(x)` called directly beside it is not held back. It
    computes in eval mode whatever mode `net` is in (a U-Net's dropout off, BatchNorm's running statistics used
    and left as they were), each layer's mode put back after: a training step in another thread meanwhile
    would run in eval mode.

    Images of any resolution: an image whose activations would take more than `max_memory` GB is
    translated in tiles (`tile` px to force a tile size, 0 to never tile) overlapping by `tile_overlap`
    px, with InstanceNorm statistics from a thumbnail of long side `thumbnail` (see `cyclegan.tiling`).
    `size` under the generator's smallest side (`check_size`) is refused, and so is an image it would make
    larger than `max_pixels` (as `cyclegan translate --size` holds an upscale to `--max-pixels`); a file, or a
    PIL image, declaring more is not decoded.
    """
    check_net(net)
    size, max_pixels = as_int(size), as_int(max_pixels)
    check_size(net, size)
    check_whole("max_pixels", max_pixels)  # 0 or None was "over the decode cap of 0 pixels", or a TypeError
    if isinstance(images, (str, os.PathLike)):  # read as `cyclegan translate` reads it: any format, mode, EXIF
        images = read_still(images, max_pixels=max_pixels)
    tiling = TilingOptions(tile=tile, tile_overlap=tile_overlap, max_memory=max_memory, thumbnail=thumbnail)
    if isinstance(images, torch.Tensor):
        check_tensor(images, size=size)
        batched = images if images.dim() == 4 else images.unsqueeze(0)
        out = translate_batch(net, batched, tiling=tiling).to(images.device)
        return out if images.dim() == 4 else out[0]
    single = isinstance(images, Image.Image)
    if single:
        images = [images]
    elif is_sequence_source(images):  # a generator or map of images (`map(Image.open, paths)`): was refused
        images = list(images)
    if not isinstance(images, (list, tuple)):
        raise CycleGANError(
            f"images: expected a PIL image, a path, a list of them or a tensor, got {_kind(images)}{_hint(images)}"
        )
    for i, im in enumerate(images):  # each one's kind and size before any is translated: that work was lost
        _check_input(i, im, size=size, max_pixels=max_pixels)
    results = []
    for i, im in enumerate(images):
        im = read_still(im, max_pixels=max_pixels) if isinstance(im, (str, os.PathLike)) else im
        decode(im, f"images[{i}]")
        # asked first: as_read's copy (turned, converted) has none. A clip (GIF, WebP) is translate_video's; a TIFF's
        # pages or an APNG's frames it does not take (they were named a clip); an MPO's previews are no part of it
        animated, clip = getattr(im, "is_animated", False), im.format in ("GIF", "WEBP")
        frames = pages_of(im) if animated and not clip else 0
        im = as_read(im)  # a PIL image the caller opened: upright and in sRGB, as a file is read (no copy if it is)
        if animated and frames != 1:  # an opened GIF, WebP or PNG animation, a multi-page TIFF: one frame, said
            msg = f"warning: images[{i}] is animated: only its current frame is translated (a clip: translate_video)"
            if not clip:
                held = f"holds {frames or 'several'} frames (pages)"
                msg = f"warning: images[{i}] {held}; only its current one is translated"
            print_warning(msg)
        im = as_rgb(im)  # not convert("RGB"): it clips 16-bit greyscale to white, keeps a colour key's pixels
        if size:
            im = resize_long_side(im, size)
        results.append(to_pil(translate_batch(net, to_tensor(im).unsqueeze(0), tiling=tiling)[0]))
    return results[0] if single else results


def _check_input(i: int, im: object, *, size: int | None, max_pixels: int) -> None:
    """Refuse `translate`'s images[i] from its header alone, before any image is translated (as `cyclegan
    translate` plans its outputs first): one of no image kind, a clip, or one over `max_pixels` as it is or at
    `size`. A list's last such input was refused after the others were translated, and their work lost."""
    if isinstance(im, (str, os.PathLike)):
        w, h = image_size(still_path(im), max_pixels=max_pixels)
    elif isinstance(im, Image.Image):
        if im.width * im.height > max_pixels:  # Image.open is lazy: decoded later, what a path's file is refused
            raise CycleGANError(
                f"images[{i}]: the PIL image is {im.width}x{im.height} pixels ({megapixels(im.width * im.height)}), "
                f"over max_pixels {max_pixels}; give a larger max_pixels to translate it"
            )
        w, h = header_size(im)  # as `as_read` turns it upright
    else:
        stack = "; tensors of one size: give torch.stack(images)" if isinstance(im, torch.Tensor) else _hint(im)
        raise CycleGANError(f"images[{i}]: expected a PIL image or a path, got {_kind(im)}{stack}")
    if 0 in (w, h):
        raise CycleGANError(f"images[{i}]: an image of {w}x{h} pixels has nothing to translate")
    if size:
        h, w = long_side_shape(h, w, size)
        if h * w > max_pixels:  # an upscale is a decode too: size=10**6 allocated until the process died
            raise CycleGANError(
                f"size {size} would make images[{i}] {w}x{h} pixels ({megapixels(w * h)}), over max_pixels "
                f"{max_pixels}; give a smaller size"
            )


def pages_of(im: Image.Image) -> int:
    """The frames (pages) of a caller's opened image (`frames_of`); 0 where its file, closed, cannot say."""
    try:
        return frames_of(im)
    except (OSError, ValueError):  # Pillow seeks its file to count them
        return 0


def is_sequence_source(obj: object) -> bool:
    """An iterable of images other than a list or tuple (a generator, `map`, `glob`'s iterator): taken as their
    list. Not a string, bytes or mapping (iterable, not images), nor an array or tensor (one image, or a batch)."""
    if isinstance(obj, (list, tuple, str, bytes, Mapping, torch.Tensor)) or hasattr(obj, "__array__"):
        return False
    # nor a file object: iterated, an open PNG was read to its end as "lines", refused as "images[0]: got bytes"
    return isinstance(obj, Iterable) and not hasattr(obj, "read")


def decode(im: Image.Image, name: str, *, use: str = "translate") -> None:
    """Decode a caller's PIL image now (a no-op if it is), naming `name` in one line where it cannot be: one whose
    file was closed first (`with Image.open(p) as im: ...` left before translating) was Pillow's bare
    AssertionError or ValueError, a truncated file's pixels an OSError. `use`: what the caller does with it."""
    of = f" (of {escape(im.filename)})" if getattr(im, "filename", "") else ""
    try:
        im.load()
    except (AssertionError, ValueError) as e:  # Pillow's closed image: an assert, or "Operation on closed image"
        if isinstance(e, ValueError) and "closed" not in str(e):
            raise CycleGANError(f"{name}: cannot decode the PIL image{of}: {escape(str(e))}") from None
        raise CycleGANError(
            f"{name}: the PIL image{of} is closed, and its pixels with it: {use} it before it is closed "
            "(inside its `with Image.open(...)` block, or call im.load() there), or give its path"
        ) from None
    except (OSError, SyntaxError) as e:  # a damaged or truncated file, decoded only now
        raise CycleGANError(f"{name}: cannot decode the PIL image{of}: {escape(str(e))}") from None


def read_still(path: str | Path, *, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """`read_image`, refusing a clip in one line that names `translate_video`: an animated GIF or WebP
    (`cyclegan translate` reads it as a clip, so its first frame alone was not what the command does) or a
    video file (it was "not a JPEG, PNG, ... image"). The frames of an animated PNG or a multi-page TIFF left
    out are named in a warning, as `cyclegan translate` names them (the first was taken without a word)."""
    path = still_path(path)
    image = read_image(path, max_pixels=max_pixels)
    if warning := frames_left_out(Path(path)):
        print_warning(warning)
    return image


def still_path(path: str | os.PathLike[str]) -> str:
    """`path` with its `~` expanded, refused in one line naming `translate_video` where it is a clip (`read_still`)."""
    clip = "cyclegan.translate_video(G, src, dst)"
    path = home_expanded(path)  # a Python caller's "~/horse.jpg" (no shell expands it) was "not found"
    if Path(path).suffix.lower() in (*VIDEO_FORMATS, *OTHER_VIDEO) and Path(path).is_file():  # .avi: "not a JPEG"
        raise CycleGANError(f"{path} is a video clip, not an image: translate it with {clip}")
    if Path(path).suffix.lower() in ANIMATED_IMAGES:
        if (frames := frame_count(path)) > 1:
            raise CycleGANError(f"{path} is an animated image of {frames} frames, a clip: translate it with {clip}")
    return path


def frames_left_out(path: Path) -> str | None:
    """A warning for an image file that holds more frames than the one translated (an animated PNG, a
    multi-page TIFF: `read_image` gives the first; an animated GIF or WebP is a clip), else None. A JPEG's
    further pictures (MPO: a phone's depth map or preview) are no part of the photo: not named."""
    return frames_left_out_of({path: still_frames(path)})


def still_frames(path: Path) -> int:
    """The frames (pages) of an image file translated as a still: an animated PNG, a multi-page TIFF (an animated
    GIF or WebP is a clip); 1 for any other."""
    return frame_count(path, formats=("PNG", "TIFF"))


def frames_left_out_of(frames: dict[Path, int], *, done: str = "translated") -> str | None:
    """One warning line for the still images of several frames among `frames` (path -> its frame count), of which
    the first alone is `done` (translated, compared); None when there are none. A folder of 300 scans was 300
    lines, one a file."""
    several = {p: n for p, n in frames.items() if n > 1}
    if len(several) == 1:
        ((path, n),) = several.items()
        return f"warning: {path} holds {n} frames (pages); only the first is {done}, the other {n - 1} are left out"
    if not several:
        return None
    shown = ", ".join(f"{p} ({n} frames)" for p, n in list(several.items())[:3]) + (", ..." if len(several) > 3 else "")
    return (
        f"warning: {len(several)} files hold several frames (pages); only the first of each is {done}, the others "
        f"are left out: {shown}"
    )


def on_white_warning(paths: Sequence[Path], *, what: str = "images", command: str = "translate") -> str | None:
    """One warning line for the images (`what`: "content images") whose transparency `command` put on white as it
    read them (its networks take RGB); None for none. A cut-out lost its transparency without a word on the command
    line, where the web page's tabs say it; a line an image would bury a folder of cut-outs' other lines."""
    if not paths:
        return None
    if len(paths) == 1:
        return f"warning: {paths[0]}'s transparency was put on white, as {command} reads it"
    shown = ", ".join(map(str, paths[:3])) + (", ..." if len(paths) > 3 else "")
    return f"warning: {len(paths)} {what}' transparency was put on white, as {command} reads it: {shown}"


def check_net(net: object) -> None:
    """Refuse, in one line, a first argument that is not a network: `translate("runs/h2z", im)` (the run's
    path where its loaded generator belongs) was a TypeError about weak references."""
    if not isinstance(net, nn.Module):
        raise CycleGANError(
            f"expected a generator (an nn.Module) first, got {type(net).__name__}; load one first: "
            "G = cyclegan.load_generator(RUN_OR_FILE, direction)"
        )
    if isinstance(net, torch.jit.ScriptModule):  # hooks (the memory probe, tiles) fail on it: a raw RuntimeError
        raise CycleGANError(
            "a TorchScript module (as `cyclegan export` writes) runs as it is: S(x) with x (B, 3, H, W) in [-1, 1]; "
            "translate takes the generator itself: G = cyclegan.load_generator(RUN_OR_FILE)"
        )
    # translate_tensor puts the input where the first weight is: none was a StopIteration, a meta one (a
    # network built without memory) "unsupported scalarType"
    p = next(net.parameters(), None)
    if p is None or p.is_meta:
        holds = "no weights" if p is None else "weights on the meta device, which hold no values"
        raise CycleGANError(
            f"the generator ({type(net).__name__}) has {holds}; load one: G = cyclegan.load_generator(RUN_OR_FILE)"
        )


# How far past [-1, 1] a float tensor's values may go: a bicubic resize's overshoot passes, while [0, 255] pixel
# values or an ImageNet normalisation (about [-2.1, 2.6]) are refused. A [0, 1] tensor cannot be told apart.
FLOAT_SLACK = 1.5


def check_tensor(x: torch.Tensor, *, size: int | None = None) -> None:
    """Refuse, in one line, a tensor `translate` would misread: not (3, H, W) or (B, 3, H, W), an empty side,
    a dtype other than float (in [-1, 1]) or uint8 (int64 or uint16 pixel values would be read as [-1, 1] and
    saturate), float values well outside [-1, 1] (`FLOAT_SLACK`) or not finite, or a `size` (it resizes PIL
    images, not tensors)."""
    if x.dim() not in (3, 4) or x.shape[-3] != 3:
        shape = tuple(x.shape)
        expected = "a tensor (3, H, W) or (B, 3, H, W) in [-1, 1]"
        raise CycleGANError(f"images: expected {expected}, got {shape}{layout_hint(shape)}")
    if 0 in x.shape[-2:]:
        raise CycleGANError(f"images: a tensor of shape {tuple(x.shape)} has an empty side: nothing to translate")
    if x.layout != torch.strided:  # a sparse tensor's range check was a raw NotImplementedError ('aten::aminmax')
        raise CycleGANError(f"images: a {x.layout} tensor; give a dense one: x.to_dense()")
    if x.is_meta:  # its values were read for the range check: "Tensor.item() cannot be called on meta tensors"
        raise CycleGANError("images: a tensor on the meta device holds no values: give one on the CPU or a GPU")
    if not (x.is_floating_point() or x.dtype == torch.uint8):
        raise CycleGANError(f"images: expected a float tensor in [-1, 1] or uint8 in [0, 255], got {x.dtype}")
    if size is not None:
        raise CycleGANError(
            "size resizes PIL images and files, not tensors: resize the tensor first, or leave size out"
        )
    if x.is_floating_point() and x.numel():
        lo, hi = (float(v) for v in torch.aminmax(x.detach().float()))
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise CycleGANError("images: the tensor holds NaN or infinite values")
        if lo < -FLOAT_SLACK or hi > FLOAT_SLACK:  # [0, 255] floats came out as saturated noise, without a word
            raise CycleGANError(
                f"images: a float tensor in [-1, 1] expected, its values span [{lo:.4g}, {hi:.4g}]: from [0, 255] "
                "give x / 127.5 - 1 (or a uint8 tensor), from [0, 1] x * 2 - 1"
            )


def _hint(obj: object) -> str:
    """How to turn `obj`, refused as an image, into one: an array, a file object or an encoded image's bytes."""
    if hasattr(obj, "__array__"):
        return "; from numpy: Image.fromarray(a) or torch.from_numpy(a)"
    if hasattr(obj, "read"):
        return "; a file object: give Image.open(f)"
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return "; an encoded image's bytes: give Image.open(io.BytesIO(data))"
    return ""


def _kind(obj: object) -> str:
    return type(obj).__name__ if not hasattr(obj, "shape") else f"{type(obj).__name__} of shape {tuple(obj.shape)}"


def is_out_of_memory(e: BaseException) -> bool:
    """An allocation failure on any device: CUDA/MPS out of memory, the CPU allocator, Python's MemoryError."""
    if isinstance(e, (torch.OutOfMemoryError, MemoryError)):
        return True
    text = str(e)
    return isinstance(e, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)
