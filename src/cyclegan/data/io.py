"""Reading images of any common format and mode into RGB, and finding them in folders."""

from __future__ import annotations

import collections
import contextlib
import ctypes
import functools
import glob
import hashlib
import io
import math
import os
import re
import stat
import threading
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePath
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from ..errors import CycleGANError, counted
from ..files import (  # walk_files: read from here too, as the image finders' walk
    IMAGE_EXTENSIONS,
    IMAGE_FORMATS,
    PILLOW_FORMATS,
    holds,
    image_not_found,
    inside,
    no_image_folder,
    no_images,
    unfinished,
    walk_files,
    write_atomic,
)
from ..options import given_as
from ..progress import progress_bar
from ..shared_options import MAX_PIXELS


def megapixels(n: int) -> str:
    """`n` pixels as the messages say it: '169 MP', '0.0019 MP' (never '0 MP' for a small cap)."""
    return f"{n / 1e6:.0f} MP" if n >= 10**7 else f"{n / 1e6:.2g} MP"


CAP_OPTION = "--max-pixels"  # the commands' flag for the decode cap (`shared_options.max_pixels_option`)


def raise_cap(option: str | None) -> str:
    """What a refusal over the decode cap says to do: give a larger `option` (the caller's flag, or its keyword in
    Python: `inference.keyword_names`), or, where the caller has none (`bench`: --photo, --content, --style), make
    the image smaller. The refusal named neither, so a user met a cap without learning that `--max-pixels` lifts it."""
    return f"give a larger {option} to read it" if option else "resize it to read it"


def check_pixels(
    path: Path, size: tuple[int, int], max_pixels: int, kind: str = "image", *, cap_option: str | None = CAP_OPTION
) -> None:
    """Refuse an image (or a clip's frames: `kind`) whose declared W x H exceeds `max_pixels`, in one line
    naming the file and what to do (`raise_cap` of `cap_option`)."""
    w, h = size
    if w * h > max_pixels:
        what = "it declares" if kind == "image" else "its frames declare"
        raise CycleGANError(
            f"cannot read {kind} {path}: {what} {w}x{h} pixels ({megapixels(w * h)}), over the decode cap "
            f"of {max_pixels} pixels; {raise_cap(cap_option)}"
        )


def grey_to_bytes(a: np.ndarray, mode: str) -> np.ndarray:
    """16/32-bit or float greyscale values -> uint8, by the range they use: 16 bits for I;16, else [0, 1] (float),
    [0, 255], [0, 65535], or past those the image's own (a 32-bit or float image of larger or negative values was
    clipped to two levels). NaN is black and the range is that of the finite values: one NaN pixel of a [0, 1]
    float image made all of it black, and printed numpy's cast warning. A float image of [0, 1] with highlights
    above 1 (an HDR render, most of its values at most 1: `mostly_unit`) is [0, 1], its highlights white: a few
    values over 1 made all of it read as [0, 255], black."""
    finite = np.isfinite(a)  # a mask, not a copy of the finite values: a float image may be 100 MP
    lo, hi = float(a.min(where=finite, initial=np.inf)), float(a.max(where=finite, initial=-np.inf))
    lo, hi = (lo, hi) if lo <= hi else (0.0, 0.0)  # no finite value at all
    if mode.startswith("I;16"):
        a = a / 257.0  # 16-bit range to 8-bit
    elif mode == "F" and lo >= 0 and (hi <= 1 or mostly_unit(a, finite)):
        a = a * 255.0  # values over 1 clipped to white below
    elif lo >= 0 and 255 < hi <= 65535:
        a = a / 257.0
    elif lo < 0 or hi > 255:
        a = (a - lo) * (255.0 / (hi - lo) if hi > lo else 0.0)  # a flat image of one such value: black
    return np.nan_to_num(np.clip(np.rint(a), 0, 255), nan=0.0).astype(np.uint8)


def mostly_unit(a: np.ndarray, finite: np.ndarray) -> bool:
    """Whether at least half the finite values of a float image are in [0, 1]: an image of [0, 1] and its HDR
    highlights, not one of [0, 255] (whose values at most 1 are the darkest 1/255 of its range: mostly black)."""
    return 2 * np.count_nonzero((a > 1) & finite) <= np.count_nonzero(finite)


def is_deep_grey(im: Image.Image) -> bool:
    """Whether `im` is 16/32-bit or float greyscale (I;16, I, F): its values are rescaled by `grey_to_bytes`."""
    return im.mode.startswith("I;16") or im.mode in ("I", "F")


def deep_grey_to_l(im: Image.Image) -> Image.Image:
    """A 16/32-bit or float greyscale image as 8-bit L (`grey_to_bytes`)."""
    return Image.fromarray(grey_to_bytes(np.asarray(im, dtype=np.float64), im.mode), "L")


def to_rgb(im: Image.Image) -> Image.Image:
    """Any PIL mode to 8-bit RGB: 16/32-bit and float greyscale rescaled (`grey_to_bytes`), alpha composited on
    white."""
    if is_deep_grey(im):
        return deep_grey_to_l(im).convert("RGB")
    # "transparency": a palette's transparent entry, or a PNG's one transparent grey or colour (its tRNS chunk)
    # La and RGBa: alpha premultiplied (a notebook's `convert`); Pillow took La to nothing ("conversion from La to
    # L not supported") and RGBa to RGB with its transparency dropped, not on white
    if im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (im.mode in ("P", "L", "RGB") and "transparency" in im.info):
        im = (im.convert("LA") if im.mode == "La" else im).convert("RGBA")
        background = Image.new("RGBA", im.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, im).convert("RGB")
    return im.convert("RGB")


def as_rgb(im: Image.Image) -> Image.Image:
    """`to_rgb` where it changes something: an RGB image without a transparent colour is returned as it is, no
    copy. Not `im.mode == "RGB"` alone: a PNG's colour key (its tRNS chunk) is an RGB image too, composited on
    white as any transparency."""
    return to_rgb(im) if im.mode != "RGB" or "transparency" in im.info else im


def alpha_of(im: Image.Image) -> Image.Image | None:
    """The transparency of a PIL image as mode L (an alpha channel, a palette's transparent entry, a PNG's colour
    key: what `to_rgb` composites on white), or None where every pixel is opaque."""
    if is_deep_grey(im) or not (im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in im.info):
        return None  # a 16-bit or float grey image's colour key: `to_rgb` takes its values alone too
    if im.mode in ("RGBA", "LA", "PA"):
        alpha = im.getchannel("A")  # no RGBA copy of a photo-sized image
    else:  # premultiplied, or a palette's or colour key's transparency
        alpha = (im.convert("LA") if im.mode == "La" else im).convert("RGBA").getchannel("A")
    return None if alpha.getextrema() == (255, 255) else alpha


@functools.cache
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def to_srgb(im: Image.Image) -> Image.Image:
    """An RGB, RGBA, CMYK, palette or 8-bit greyscale (L, LA) image whose embedded ICC profile is not sRGB,
    converted to sRGB (relative colorimetric): the networks, and any viewer of an output without a profile, take
    pixels as sRGB, so a phone's Display P3 or an Adobe RGB photo read as it was came out dull, a CMYK print file
    off-colour, and a grey scan with a linear or gamma-1.8 grey profile too dark or too light. A grey image comes
    out RGB (RGBA with its alpha), a 16-bit or float one too (its values to 8 bits first, as `to_rgb` takes them:
    its profile was dropped, a linear 16-bit scan read far too dark). No profile, an sRGB one, another mode or a
    profile lcms cannot read: unchanged, as a viewer that ignores profiles shows it."""
    icc = im.info.get("icc_profile")
    if not icc or not (im.mode in ("RGB", "RGBA", "CMYK", "P", "L", "LA") or is_deep_grey(im)):
        return im
    try:
        if is_deep_grey(im):
            return _grey_to_srgb(deep_grey_to_l(im), bytes(icc)) or im
        if im.mode == "P":  # a palette's colours are in the profile's space too
            im = im.convert("RGBA" if "transparency" in im.info else "RGB")
        if im.mode == "LA":  # lcms converts the grey alone: the alpha is put back after
            rgb = _grey_to_srgb(im.getchannel("L"), bytes(icc))
            if rgb is not None:
                rgb.putalpha(im.getchannel("A"))
            return rgb or im
        if im.mode == "L":
            return _grey_to_srgb(im, bytes(icc)) or im
        transform = _to_srgb_transform(bytes(icc), im.mode)
        return im if transform is None else ImageCms.applyTransform(im, transform) or im
    except (ImageCms.PyCMSError, OSError, ValueError):
        return im


def _grey_to_srgb(im: Image.Image, icc: bytes) -> Image.Image | None:
    """An L image converted to sRGB (mode RGB) by its grey profile `icc`; None for an sRGB one. A PNG's grey
    transparent value (its tRNS chunk) is lost in RGB: such an image keeps its pixels as stored (`to_rgb`)."""
    if "transparency" in im.info:
        return None
    transform = _to_srgb_transform(icc, "L")
    return None if transform is None else ImageCms.applyTransform(im, transform)


@functools.lru_cache(maxsize=32)
def _to_srgb_transform(icc: bytes, mode: str) -> ImageCms.ImageCmsTransform | None:
    """The transform from profile `icc` to sRGB for images of `mode`, or None for an sRGB profile. Cached: a
    dataset's images share a few profiles, and training reads each every epoch (building a transform costs
    more than applying it to a training image). No one-pixel cache: the web server's threads share it."""
    profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    if "srgb" in ImageCms.getProfileDescription(profile).lower():  # the usual tag of a plain image: no work
        return None
    out = "RGBA" if mode == "RGBA" else "RGB"  # a grey profile's L becomes RGB
    intent, flags = ImageCms.Intent.RELATIVE_COLORIMETRIC, ImageCms.Flags.NOCACHE
    return ImageCms.buildTransform(profile, _srgb(), mode, out, renderingIntent=intent, flags=flags)


EXIF_ORIENTATION = 0x0112


def ignore_metadata_warnings() -> None:
    """In a `warnings.catch_warnings()` block: Pillow's warnings of a damaged EXIF block or TIFF directory ignored
    ("Corrupt EXIF data", "Truncated File Read" for an entry past the block's end, "Possibly corrupt EXIF data",
    "Metadata Warning, tag 282 had too many entries"), all from its TIFF directory reader. The image is read as
    viewers show it (a damaged EXIF as none: no rotation); each warning was two raw lines naming Pillow's own
    source file, per image."""
    warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.TiffImagePlugin")


def as_read(im: Image.Image) -> Image.Image:
    """A PIL image a Python caller opened, as `read_image` reads a file: turned upright by its EXIF orientation
    and converted to sRGB from its colour profile (`to_srgb`), each on a copy and only where needed; the
    caller's image is left as it was. A phone photo from `Image.open` came out lying on its side."""
    with warnings.catch_warnings():  # a damaged EXIF block reads as none, without Pillow's lines (as `open_image`)
        ignore_metadata_warnings()
        if _mapped_turned_tiff(im):  # read again through a file object, which Pillow turns upright itself
            with contextlib.suppress(OSError, EOFError), open_image(im.filename) as fresh:  # gone: as it is
                fresh.seek(im.tell())
                fresh.load()
                im = fresh
        if im.getexif().get(EXIF_ORIENTATION, 1) != 1:
            im = ImageOps.exif_transpose(im)
    return to_srgb(im)


def _mapped_turned_tiff(im: Image.Image) -> bool:
    """Whether `im` is a TIFF opened by name, not loaded yet, that its EXIF orientation turns a quarter. Pillow
    maps an uncompressed one (16-bit or 8-bit grey, RGBA, CMYK) into memory at the size it already turned, so
    its pixels came out scrambled and unturned (a 16-bit scan from `Image.open` lost its rotation; `read_image`
    reads through a file object and was upright)."""
    return im.format == "TIFF" and bool(getattr(im, "filename", "")) and bool(im.tile) and _stored_turned(im)


def _stored_turned(im: Image.Image) -> bool:
    """Whether an opened image's EXIF orientation turns its stored pixels a quarter."""
    with warnings.catch_warnings():  # a damaged EXIF block reads as none, as `read_image` reads it
        ignore_metadata_warnings()
        return im.getexif().get(EXIF_ORIENTATION, 1) in QUARTER_TURNS


# EXIF orientations that turn the picture a quarter: its stored width is the height a viewer shows
QUARTER_TURNS = (5, 6, 7, 8)
TIFF_WIDTH, TIFF_LENGTH = 256, 257  # a TIFF's stored ImageWidth and ImageLength tags


def upright_size(im: Image.Image) -> tuple[int, int]:
    """(W, H) of an opened image as `read_image` returns it, turned upright by its EXIF orientation, from the
    header alone (`im.size` is the stored size: a phone's portrait A|B pair was halved across the wrong side)."""
    w, h = im.size
    if im.format == "TIFF" and (w, h) != (im.tag_v2.get(TIFF_WIDTH, w), im.tag_v2.get(TIFF_LENGTH, h)):
        return (w, h)  # Pillow gives a TIFF's size already turned (and turns its pixels as it loads them)
    return (h, w) if _stored_turned(im) else (w, h)


def file_kind(mode: int) -> str:
    """What a file that is not a regular file is, from its `st_mode`: "a FIFO", "a character device"..."""
    for test, kind in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "not a regular file"


@functools.cache
def quiet_libtiff() -> None:
    """Turn off libtiff's printing of its errors and warnings, once: its default handlers wrote "Using code not
    yet in table." or "ZIPDecode: Decoding error at scanline 0" straight to stderr, twice, around the one line
    that names the file (Pillow raises an OSError for the same error, which the readers report). Done on the
    libtiff Pillow loaded, found among the process's mapped libraries (Linux) or Pillow's own (macOS); never
    loads another; elsewhere, or if none is found, nothing changes."""
    found: set[str] = set()
    with contextlib.suppress(OSError):
        with open("/proc/self/maps") as maps:
            found = {line.split()[-1] for line in maps if "/libtiff" in line}
    found |= set(glob.glob(os.path.join(os.path.dirname(Image.__file__), ".dylibs", "libtiff*.dylib")))
    for path in sorted(found):
        try:
            lib = ctypes.CDLL(path, mode=getattr(os, "RTLD_NOLOAD", 0))  # only one already loaded
        except OSError:
            continue
        for name in ("TIFFSetErrorHandler", "TIFFSetWarningHandler"):
            if (handler := getattr(lib, name, None)) is not None:
                handler.restype, handler.argtypes = ctypes.c_void_p, [ctypes.c_void_p]
                handler(None)


_PILLOW_CAP = threading.Lock()  # Image.MAX_IMAGE_PIXELS is Pillow's global: raised for one open at a time


@contextlib.contextmanager
def _pillow_allows(max_pixels: int | None) -> Iterator[None]:
    """Let Pillow open, within the block, headers of up to `max_pixels` pixels. Its own check refuses more than
    twice `Image.MAX_IMAGE_PIXELS` (179 MP) while opening, before the decode cap (`check_pixels`) is asked, so
    `--max-pixels 500000000` could not read a 20000 x 20000 image. Put back after the open: other readers keep
    Pillow's cap (a thread opening meanwhile may see the raised one; every reader here checks the size itself)."""
    if max_pixels is None or Image.MAX_IMAGE_PIXELS is None or max_pixels <= Image.MAX_IMAGE_PIXELS:
        yield
        return
    with _PILLOW_CAP:
        before, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, max_pixels
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = before


def over_the_cap(
    path: Path, max_pixels: int, error: BaseException | None = None, *, cap_option: str | None = CAP_OPTION
) -> CycleGANError:
    """The error for a header Pillow refused as a decompression bomb: one that declares more than twice
    Pillow's cap or `max_pixels` (`_pillow_allows`), whichever is larger, so over the decode cap. The pixels it
    declares are read from Pillow's `error` where it says them (a 30000 x 30000 PNG was "over 200 MP")."""
    if found := re.search(r"\((\d+) pixels\)", str(error or "")):
        declared = f"{megapixels(int(found[1]))} ({found[1]} pixels)"
    else:
        declared = f"over {megapixels(2 * max(Image.MAX_IMAGE_PIXELS or 0, max_pixels))}"
    return CycleGANError(
        f"cannot read image {path}: it declares {declared}, over the decode cap of {max_pixels} pixels; "
        f"{raise_cap(cap_option)}"
    )


class Digested(NamedTuple):
    """A file's `file_digest`, taken from the bytes the image check decoded (`check_images(digests=...)`), with the
    size and modification time (ns) the file had once they were read: a later stat that differs means other bytes."""

    size: int
    mtime_ns: int
    digest: bytes


# The largest file the image check reads whole into memory to hash as it decodes it: a bigger one (a scan of
# hundreds of MB) is decoded from the file as any other and hashed by a read of its own (`train.inputs.files_record`)
DIGESTED_IN_MEMORY = 256 << 20


@contextlib.contextmanager
def open_image(
    path: str | Path,
    max_pixels: int | None = None,
    *,
    formats: tuple[str, ...] = PILLOW_FORMATS,
    digests: dict[Path, Digested] | None = None,
) -> Iterator[Image.Image]:
    """`PIL.Image.open` on a regular file, read through a file object: never memory-mapped.

    PIL maps uncompressed images (TIFF, BMP...) that it opens by name, so a file that shrinks while it is
    decoded kills the process with SIGBUS; read through a file object it decodes into PIL's own memory and
    a short read is an error for that file alone. A FIFO or device is refused without blocking on it.
    Only `formats` are tried (by default `files.PILLOW_FORMATS`, what the package reads: an EPS named `.png` is
    not handed to Ghostscript): another format raises UnidentifiedImageError, an OSError.
    Raises OSError (FileNotFoundError when missing); the bomb warning is silenced (callers check the size).
    `max_pixels`: the caller's decode cap, which Pillow's own (179 MP) does not stop short of. `formats`: Pillow's
    names of the formats tried, as `Image.open` takes them. `digests`: where given, the file (up to
    `DIGESTED_IN_MEMORY` bytes) is read whole, once, and decoded from memory, its `Digested` put there under `path`:
    a training run's record of its files' contents reads no file a second time.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        st = os.fstat(fd)
        mode = st.st_mode
        if not stat.S_ISREG(mode):
            raise OSError(f"not a regular file ({file_kind(mode)})")
        if st.st_size == 0:  # an interrupted copy or download: said so, not "not an image or damaged"
            raise OSError("the file is empty (0 bytes)")
        if hasattr(os, "O_NONBLOCK"):
            os.set_blocking(fd, True)
        quiet_libtiff()
        f = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with f, warnings.catch_warnings():  # the file is ours to close; the image stays usable once loaded (read_image)
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        ignore_metadata_warnings()
        digested = digests is not None and st.st_size <= DIGESTED_IN_MEMORY
        source = _digested(f, Path(path), digests, st) if digested else f
        with _pillow_allows(max_pixels):
            im = Image.open(source, formats=formats)
        yield im


def _digested(f: io.BufferedReader, path: Path, digests: dict[Path, Digested], before: os.stat_result) -> io.BytesIO:
    """The open file's bytes, read whole, as a file object to decode from, their `file_digest` put into `digests`
    with the size and time the file has after the read (a write since then gives it another time), where it had
    that time `before` the read too: one written while read (saved in place) had its new time kept with a digest
    of the bytes before, which the record of contents trusted (`files_record`); such a file is left to its read."""
    data = f.read()
    st = os.fstat(f.fileno())
    if (st.st_size, st.st_mtime_ns) == (len(data), before.st_mtime_ns):
        digests[path] = Digested(len(data), st.st_mtime_ns, hashlib.blake2b(data).digest())  # as `file_digest` hashes
    return io.BytesIO(data)


def frame_count(path: str | Path, *, formats: tuple[str, ...] = PILLOW_FORMATS) -> int:
    """The frames (pages) of an image file of `formats`: an animated GIF, WebP or PNG, a multi-page TIFF; 1 for a
    JPEG (an MPO's further pictures are a phone's previews, no part of the photo) and for a file that does not open
    as one of `formats` (`read_image` names what is wrong with it)."""
    try:
        with open_image(path, formats=formats) as im:
            return frames_of(im)
    except Exception:  # noqa: BLE001 - a damaged header fails in many ways, named where the file is read
        return 1


# formats whose frames after the first are a camera's previews (an MPO's, a phone's or a DSLR's JPEG), not pages
PREVIEW_FORMATS = ("JPEG", "MPO")


def frames_of(im: Image.Image) -> int:
    """The frames (pages) of an opened image (`frame_count`)."""
    return 1 if im.format in PREVIEW_FORMATS else getattr(im, "n_frames", 1)


def first_frames_only(frames: dict[Path, int], *, reader: str) -> str | None:
    """One warning line for the images of several frames (pages) among those `reader` ("training", "evaluate")
    reads, by their frame count (`check_images(frames=...)`): it reads the first of each, as `translate` and
    `stylize` name it; the others went without a word. None when there are none."""
    if not frames:
        return None
    shown = ", ".join(f"{p} ({n} frames)" for p, n in list(frames.items())[:3]) + (", ..." if len(frames) > 3 else "")
    return (
        f"{counted(len(frames), 'image')} {'holds' if len(frames) == 1 else 'hold'} several frames (pages: a "
        f"multi-page TIFF, an animated PNG or WebP); {reader} "
        f"reads only the first of each, the others are left out: {shown}"
    )


def read_image(
    path: str | Path, *, max_pixels: int = MAX_PIXELS, cap_option: str | None = CAP_OPTION, keep_mode: bool = False
) -> Image.Image:
    """Open an image file as an RGB PIL image, honouring EXIF orientation and an embedded ICC profile
    (converted to sRGB: `to_srgb`).

    Reads JPEG, PNG, BMP, GIF (its first frame), WebP and TIFF in modes 1, L, LA, P, RGB, RGBA, I, I;16, F, CMYK, YCbCr.
    Raises CycleGANError naming the file when it cannot be read (a FIFO or device included, and a file that
    changes while it is read), or when its header declares more than `max_pixels` pixels (checked before
    decoding, so a tiny file that declares a huge image costs nothing; the refusal names `cap_option`, the
    caller's flag that raises the cap, None for none: `raise_cap`). The file is read, never mapped
    (`open_image`), and an RGB image without EXIF rotation is returned without a copy. `keep_mode`: in the mode
    it has once upright and in sRGB (its alpha kept; `as_rgb` makes it RGB), for a caller that puts the
    transparency back (`stylize`).
    """
    path = Path(path)
    with _read_refusals(path, max_pixels, cap_option), open_image(path, max_pixels) as im:
        check_pixels(path, im.size, max_pixels, cap_option=cap_option)
        im.load()
        im = ImageOps.exif_transpose(im, in_place=True) or im  # no copy when nothing turns
        im = to_srgb(im)  # after turning: its copy keeps no EXIF
        # the file's object still said "animated" (a multi-page TIFF, an APNG): `translate` named it a clip, a
        # second line worded for the API. Not an MPO's: its previews are no pages, and a copy of each camera JPEG
        # at each training read cost a memcpy of its pixels per sample
        if im.format not in PREVIEW_FORMATS and getattr(im, "is_animated", False):
            im = im.copy()
        return im if keep_mode else as_rgb(im)


EXIF_IN_HEADER = ("JPEG", "MPO", "TIFF", "WEBP")  # formats whose EXIF Pillow reads with the header


def header_size(im: Image.Image) -> tuple[int, int]:
    """(W, H) of an opened, undecoded image as `read_image` returns it, upright (`upright_size`) where the header
    holds the EXIF: for a PNG without an eXIf chunk before its pixels, getexif() decodes the whole image to look for
    one after them."""
    return upright_size(im) if im.format in EXIF_IN_HEADER or "exif" in im.info else im.size


def image_size(
    path: str | Path, *, max_pixels: int = MAX_PIXELS, cap_option: str | None = CAP_OPTION
) -> tuple[int, int]:
    """(W, H) of an image file from its header alone (`header_size`), refused in `read_image`'s words where
    `read_image` would refuse it from its header (missing, no image, over `max_pixels`): a caller checks every file
    before working on the first (`inference.translate` of a list)."""
    path = Path(path)
    with _read_refusals(path, max_pixels, cap_option), open_image(path, max_pixels) as im:
        check_pixels(path, im.size, max_pixels, cap_option=cap_option)
        return header_size(im)


@contextlib.contextmanager
def _read_refusals(path: Path, max_pixels: int, cap_option: str | None) -> Iterator[None]:
    """An error reading `path` as one line naming it (`read_image`'s and `image_size`'s)."""
    try:
        yield
    except FileNotFoundError:
        raise CycleGANError(image_not_found(path)) from None
    except MemoryError:
        raise CycleGANError(f"cannot read image {path}: not enough memory to decode it") from None
    except Image.DecompressionBombError as e:
        raise over_the_cap(path, max_pixels, e, cap_option=cap_option) from None
    except (OSError, ValueError, SyntaxError) as e:
        raise CycleGANError(f"cannot read image {path}: {_reason(e, path)}") from None


def unopened(path: Path) -> str | None:
    """Why `path` does not open as an image of the formats read here, in `read_image`'s words ("not a JPEG, ...
    image", "a HEIC image, a format not read here"); None when its header opens. Only the header is read. A header
    over Pillow's own cap (179 MP) opens too: its size is the decode cap's to name (`read_image`), which a larger
    `--max-pixels` lifts; it was refused as nothing to translate in Pillow's words, whatever the cap."""
    try:
        with open_image(path):
            return None
    except Image.DecompressionBombError:
        return None
    except Exception as e:  # noqa: BLE001 - a damaged header fails in many ways; `read_image` names them alike
        return _reason(e, path)


# The brands of an ISO media file's `ftyp` box that are photo formats not read here (a phone's HEIC, AVIF)
UNREAD_BRANDS = dict.fromkeys((b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"miaf"), "HEIC")
UNREAD_BRANDS |= dict.fromkeys((b"avif", b"avis", b"avio"), "AVIF")
# a Canon camera's raw photo (.CR3) opens with an `ftyp` box too: it was named "an MP4 video" (`video_kind`)
UNREAD_BRANDS[b"crx "] = "Canon CR3 raw"
PHONE_FORMATS = (".heic", ".heif", ".hif", ".avif")  # their extensions, for a folder's left-out files (`left_out`)


def phone_photos(left_out: Iterable[Path]) -> str:
    """What a warning of a folder's left-out files adds when some are a phone's HEIC or AVIF photos (by their
    extension): how many, and what to do; "" when none is."""
    n = sum(p.suffix.lower() in PHONE_FORMATS for p in left_out)
    return f"; {counted(n, 'HEIC or AVIF photo')} among them: convert them to JPEG or PNG" if n else ""


def ftyp_brands(head: bytes) -> tuple[bytes, ...]:
    """The brands of an ISO media file's `ftyp` box, the major one first, then the compatible ones `head` (its first
    bytes) holds; () where it opens with no such box."""
    if head[4:8] != b"ftyp":
        return ()
    end = min(len(head), int.from_bytes(head[:4], "big"))
    return (head[8:12], *(head[i : i + 4] for i in range(16, end - 3, 4)))


def unread_format(path: Path) -> str | None:
    """The format, "HEIC" or "AVIF" (or a Canon CR3), that the file's first bytes say it is (whatever its extension),
    else None. A compatible brand says it too: HEIF lists `mif1` (or `msf1`) there whatever its codec's major brand
    (JPEG 2000's `j2ki`, VVC's `vvic`), and such a photo was named an MP4 video (`video_kind`)."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError:
        return None
    return next((UNREAD_BRANDS[b] for b in ftyp_brands(head) if b in UNREAD_BRANDS), None)


def not_read_here(fmt: str) -> str:
    """What an image of a format not read here (`unread_format`) is, and what to do: "an AVIF image, a format not
    read here: convert it to JPEG or PNG" (AVIF as it is said, "ay-vif": "a AVIF image" before)."""
    return f"{'an' if fmt == 'AVIF' else 'a'} {fmt} image, a format not read here: convert it to JPEG or PNG"


def ftyp_brand(path: Path) -> bytes:
    """The brand of the ISO media `ftyp` box a file opens with (b"heic", b"M4A ", b"isom"), else b"" (or unreadable)."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError:
        return b""
    return head[8:12] if head[4:8] == b"ftyp" else b""


# A video container's first bytes -> (its kind as messages name it, the extension `translate` reads it by): an MP4
# named clip.gif or clip.png was "not a JPEG, PNG, ... image, or one too damaged to recognise". MP4 and MOV open with
# an `ftyp` box (its brand tells them apart; a HEIC's or AVIF's brands are photos: `UNREAD_BRANDS`), MKV and WebM
# with an EBML header (its DocType tells them apart), AVI with a RIFF header.
MOV_BRANDS = (b"qt  ",)
# The brands of an `ftyp` box that hold sound alone (iTunes' M4A, an audiobook's M4B, a protected M4P): an M4A named
# song.png was "an MP4 video, not an image; rename it song.mp4", which then held no video to translate either.
SOUND_BRANDS = {b"M4A ": "M4A", b"M4B ": "M4B", b"M4P ": "M4P"}


def sound_kind(path: Path) -> str | None:
    """ "M4A" ("M4B", "M4P") where the file's first bytes say it is sound alone, whatever its extension; else None."""
    return SOUND_BRANDS.get(ftyp_brand(path))


def video_kind(path: Path) -> tuple[str, str] | None:
    """("an MP4", ".mp4"), ("a MOV", ".mov"), ("an MKV", ".mkv"), ("a WebM", ".webm") or ("an AVI", ".avi") where the
    file's first bytes say it is that video, whatever its extension; else None (an M4A too: `sound_kind`). Only the
    first 64 bytes are read."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError:
        return None
    brands = ftyp_brands(head)
    if brands and not any(b in UNREAD_BRANDS for b in brands) and brands[0] not in SOUND_BRANDS:
        return ("a MOV", ".mov") if head[8:12] in MOV_BRANDS else ("an MP4", ".mp4")
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML; its DocType ("webm" or "matroska") within its first bytes
        return ("a WebM", ".webm") if b"webm" in head else ("an MKV", ".mkv")
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return ("an AVI", ".avi")
    return None


def video_not_image(path: Path) -> str | None:
    """Why `path` is not read as an image when its content is a video (`video_kind`), in the words of
    `clipio._still_as_clip`, its mirror: "it is an MP4 video, not an image; rename it clip.mp4 ..."; else None."""
    if (video := video_kind(path)) is None:
        return None
    kind, ext = video
    if ext == ".avi":  # not read as a clip either (`clipio.unread_video`): remuxed, it is
        return f"it is {kind} video, not an image; remux it first, e.g. ffmpeg -i {path.name} -c copy {path.stem}.mkv"
    return f"it is {kind} video, not an image; rename it {path.stem}{ext} to translate it as a video"


# Pillow's words for damaged image data, which do not say so: "decoder error -2" (a TIFF), "could not create decoder
# object" (a WebP cut short)
DECODER_WORDS = ("decoder error", "could not create decoder object")


def _reason(e: BaseException, path: Path | None = None) -> str:
    """A decoding error in a user's words: PIL names an unknown format by its file object ('cannot identify
    image file <_io.BufferedReader name=3>'), so that one is said as what it means, a HEIC or AVIF photo by its
    format (it was "too damaged to recognise")."""
    if isinstance(e, UnidentifiedImageError):
        if path is not None and (fmt := unread_format(path)):
            return not_read_here(fmt)
        if path is not None and (video := video_not_image(path)):
            return video
        if path is not None and (sound := sound_kind(path)):
            return f"it is {sound} sound alone, not an image: no picture to translate"
        return f"not a {IMAGE_FORMATS} image, or one too damaged to recognise"
    reason = str(e).split("\n")[0] or type(e).__name__
    return f"its image data is damaged ({reason})" if reason.startswith(DECODER_WORDS) else reason


def to_tensor(im: Image.Image) -> torch.Tensor:
    """PIL image -> float tensor (3, H, W) in [-1, 1]; a mode other than RGB converted first as `read_image`
    converts it (`to_rgb`), not left with 1 or 4 channels or 16-bit values scaled as if 8-bit."""
    im = as_rgb(im)
    return TF.to_dtype(TF.pil_to_tensor(im), torch.float32, scale=True) * 2 - 1


def to_bytes(im: Image.Image) -> torch.Tensor:
    """RGB PIL image -> uint8 tensor (3, H, W) in [0, 255], a view of one (H, W, 3) copy of its pixels: a
    quarter of `to_tensor`'s memory, for images that may be large (`inference.translate_batch` takes it)."""
    return torch.from_numpy(np.array(im, dtype=np.uint8)).permute(2, 0, 1)


def to_pil(x: torch.Tensor) -> Image.Image:
    """Tensor (3, H, W) in [-1, 1] (rounding as (x + 1) / 2 * 255), or uint8, -> RGB PIL image. Another shape
    is refused in one line (a batch was torchvision's ValueError, one channel a greyscale image)."""
    if x.dim() != 3 or x.shape[0] != 3:
        raise CycleGANError(f"expected an image tensor (3, H, W), got {tuple(x.shape)}")
    if x.dtype != torch.uint8:
        x = ((x.detach().float().cpu().clamp(-1, 1) + 1) / 2 * 255).round().to(torch.uint8)
    return TF.to_pil_image(x.cpu())


# The lossy formats at the quality a photo tool writes, not Pillow's defaults: JPEG at 75 with its colour halved each
# way (4:2:0) lost fine detail and colour edges a translation drew; WebP's default is 80.
LOSSY_SETTINGS: dict[str, dict[str, int]] = {"JPEG": {"quality": 95, "subsampling": 0}, "WEBP": {"quality": 95}}
# TIFF losslessly compressed (deflate, as a photo tool writes it): Pillow's default is uncompressed, 3 bytes a pixel, a
# --ext tif folder several times a PNG one's size for the same pixels.
LOSSLESS_SETTINGS: dict[str, dict[str, str]] = {"TIFF": {"compression": "tiff_deflate"}}


def save_image(im: Image.Image, path: str | Path, *, replace: bool = True) -> Path:
    """Write `im` to `path` in the format its suffix names (.png, .jpg, .webp, .tif...; JPEG and WebP at
    `LOSSY_SETTINGS`, TIFF deflated: `LOSSLESS_SETTINGS`) through `files.write_atomic`: whole or not at all,
    replacing a symbolic link at `path` rather than writing through it; `replace` False: FileExistsError if another
    writer created `path` meanwhile, which is left alone. Every command's images (translate, compare, stylize,
    evaluate) and the web page's are written here."""
    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise CycleGANError(f"cannot write {path}: no image format is known for '{path.suffix}'")
    settings = {**LOSSY_SETTINGS, **LOSSLESS_SETTINGS}.get(fmt, {})
    return write_atomic(path, lambda tmp: im.save(tmp, format=fmt, **settings), replace=replace)


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def not_a_file_reason(path: str | Path) -> str:
    """Why `path`, which is no regular file (or a folder that cannot be listed), cannot be read: "not a regular
    file (a FIFO)", "a broken symbolic link", "no such file or folder", or a link to a folder above it, which
    `walk_files` does not enter."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "a broken symbolic link" if os.path.islink(path) else "no such file or folder"
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"
    if stat.S_ISDIR(mode) and os.path.islink(path) and holds(Path(path).resolve(), Path(path).parent.resolve()):
        return f"a link to {Path(path).resolve()}, a folder above it (a loop): not entered"  # `walk_files`
    if stat.S_ISDIR(mode):  # `walk_files` could not list it
        return "a folder that cannot be read (its permissions?)"
    return f"not a regular file ({file_kind(mode)})"


def glob_files(pattern: str) -> list[Path]:
    """The files matching a glob pattern, sorted. `**` (a whole path component) matches any depth through
    `walk_files`, so it follows symlinked folders without looping (the `glob` module's `**` follows them
    too, but a folder holding two links to itself keeps it busy for 2**40 paths)."""

    parts = Path(pattern).parts
    if "**" not in parts:
        return sorted(Path(m) for m in glob.glob(pattern) if Path(m).is_file())
    i = parts.index("**")
    head, tail = str(Path(*parts[:i])) if i else ".", str(PurePath(*parts[i + 1 :])) if parts[i + 1 :] else "*"
    bases = [Path(m) for m in glob.glob(head)] if glob.has_magic(head) else [Path(head)]
    found = set()
    for base in (b for b in bases if b.is_dir()):
        prefix = Path() if i == 0 else base  # a pattern that starts with ** names files relative to "."
        found |= {
            prefix / f.relative_to(base) for f in walk_files(base, hidden=True) if _matches(f.relative_to(base), tail)
        }
    return sorted(found)


def _matches(relative: Path, tail: str) -> bool:
    """Whether a file under a `**` matches the rest of the pattern, hidden names left out as the glob module
    leaves them out (`Path.match("*")` takes them: `translate 'in/**/*' --out in/out` read its own lock file
    `in/out/.lock` as an image) unless the pattern names them with a dot."""
    hidden = any(part.startswith(".") for part in relative.parts)
    return relative.match(tail) and (not hidden or any(p.startswith(".") for p in Path(tail).parts))


def find_images(folder: str | Path, *, skipped: list[str] | None = None) -> list[Path]:
    """The image files under `folder` (see `walk_files`: symlinked sub-folders followed), sorted. `skipped`
    collects a line for each entry with an image's name that is not a regular file (a FIFO, a device, a
    dangling link: never opened, so never waited on) and for each sub-folder that cannot be listed."""
    others: list[Path] = []
    found = sorted(p for p in walk_files(folder, others=others) if is_image_file(p))
    if skipped is not None:
        skipped += [f"{p}: {not_a_file_reason(p)}, skipped" for p in sorted(others) if is_image_file(p) or p.is_dir()]
    return found


def left_out(folder: Path | None, *, reader: str = "training") -> list[str]:
    """Warnings for what under `folder` is not read although it is there: files of a type `reader` ("training",
    "evaluate") does not read (a GIF, a text file; hidden files aside), one line for all of them, and an image's
    name that is no regular file (a broken link) or a sub-folder that cannot be listed, one line each. Nothing is
    dropped without a word. And a folder that holds part of a synthetic dataset, its rendering killed
    (`files.unfinished`): taken as the whole without a word."""
    if folder is None or not folder.is_dir():
        return []
    others: list[Path] = []
    files = [p for p in walk_files(folder, others=others) if not p.name.startswith(".")]
    lines = [part] if (part := unfinished(folder)) else []
    lines += [f"skipping {p}: {not_a_file_reason(p)}" for p in sorted(others) if is_image_file(p) or p.is_dir()]
    skipped = sorted(p for p in files if not is_image_file(p))
    if skipped:
        names = ", ".join(p.name for p in skipped[:3]) + (", ..." if len(skipped) > 3 else "")
        lines.append(
            f"{folder}: {counted(len(skipped), 'file')} left out, not of a type {reader} reads "
            f"({', '.join(IMAGE_EXTENSIONS)}): "
            f"{names}{phone_photos(skipped)}"
        )
    return lines


def check_separate(a: Path, b: Path, option: str, a_named: str) -> None:
    """Refuse domain folders `a` and `b` that are one folder or nested (links followed): folders are read with their
    sub-folders, so each domain's images would be read as the other's too, silently (training's --data and
    --domain-a/-b, evaluate's split). `option` starts the line; `a_named` names `a`'s option."""
    ra, rb = a.resolve(), b.resolve()
    nested = {(True, True): "the same folder as", (True, False): "inside", (False, True): "a folder holding"}
    how = nested.get((inside(rb, ra), inside(ra, rb)))
    if how:
        linked = " (through a link)" if (ra, rb) != (a.absolute(), b.absolute()) else ""
        raise CycleGANError(
            f"{option} {b} is {how} {a_named}{a}{linked}: each domain's images would be read as the other's too; "
            "give two separate folders"
        )


def identical_files(*streams: list[Path], digests: dict[Path, Digested] | None = None) -> list[list[tuple[int, Path]]]:
    """The groups of files that are byte for byte the same, within a stream or across streams: each group as (the
    stream's index, the file), in the streams' order. Compared by size, then by the digest of their first 64 KiB,
    then by their whole digest, each only among the files whose previous key another file has: a folder of distinct
    photos costs a stat each, and of same-sized BMPs a read of their first bytes. One pass serves the copies between
    two domains (`same_files`) and within one (`copies_within`). A file that cannot be read counts as no copy (the
    image check names it). `digests`: the whole digests the image check took (`check_images(digests=...)`), compared
    after the size with no read (a file it holds none of is read whole): training's folders are read once."""
    files = [(i, p) for i, stream in enumerate(streams) for p in stream]
    keys: dict[tuple[int, Path], object] = {}
    prefix = functools.partial(file_digest, limit=1 << 16)
    for key in (_size, prefix, file_digest) if digests is None else (_size, functools.partial(_checked, digests)):
        keys = {f: k for f in files if (k := key(f[1])) is not None}
        shared = collections.Counter(keys.values())
        files = [f for f in keys if shared[keys[f]] > 1]
    groups: dict[object, list[tuple[int, Path]]] = {}
    for f in files:
        groups.setdefault(keys[f], []).append(f)
    return list(groups.values())


def _checked(digests: dict[Path, Digested], path: Path) -> bytes | None:
    """The image check's digest of `path`, a moment ago (a copy's warning needs no fresher), else a read of its own."""
    return seen.digest if (seen := digests.get(path)) is not None else file_digest(path)


def same_files(
    a: list[Path], b: list[Path], *, groups: list[list[tuple[int, Path]]] | None = None
) -> list[tuple[Path, Path]]:
    """The files of `b` that are byte for byte a file of `a`, each with the first such file of `a`, in `b`'s order.
    `groups`: `identical_files(a, b)` where the caller has it already."""
    pairs = []
    for group in identical_files(a, b) if groups is None else groups:
        if first := next((p for i, p in group if i == 0), None):
            pairs += [(first, p) for i, p in group if i == 1]
    order = {p: n for n, p in enumerate(b)}
    return sorted(pairs, key=lambda pair: order[pair[1]])


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def file_digest(path: Path, *, limit: int | None = None) -> bytes | None:
    """The BLAKE2b digest of the file's bytes (its first `limit` bytes), None when it cannot be read: copies told apart
    (`identical_files`), a training file's contents recorded for a resume (`train.inputs.files_record`)."""
    h = hashlib.blake2b()
    left = limit if limit is not None else math.inf
    try:
        with open(path, "rb") as f:
            while left > 0 and (chunk := f.read(int(min(1 << 20, left)))):
                h.update(chunk)
                left -= len(chunk)
    except OSError:
        return None
    return h.digest()


def copies_between(
    a: Path, b: Path, files_a: list[Path], files_b: list[Path], *, groups: list[list[tuple[int, Path]]] | None = None
) -> tuple[str, bool] | None:
    """Folder `b`'s images that are copies of folder `a`'s, in one line, and whether they are all of one of the
    two folders (a domain copied as the other: trainB made with `cp -r trainA trainB`, trained on, learns to
    change nothing; evaluated, scores each set against itself): None when no image is in both. `check_separate`
    names one folder linked as the other; a copy went without a word. `groups`: as `same_files`'."""
    shared = same_files(files_a, files_b, groups=groups)
    if not shared:
        return None
    shown = f"{shared[0][1]} = {shared[0][0]}" + (", ..." if len(shared) > 1 else "")
    whole = len(shared) == len(files_b) or len({p for p, _ in shared}) == len(files_a)
    are = "is a copy" if len(shared) == 1 else "are copies"
    return f"{len(shared)} of {b}'s {len(files_b)} images {are} of {a}'s ({len(files_a)}): {shown}", whole


def copies_within(folder: Path, files: list[Path], groups: list[list[tuple[int, Path]]], stream: int) -> str | None:
    """Folder `folder`'s images that are copies of another of its own, in one line (a copy is drawn as often as any
    image, so its picture weighs twice), None when there is none. `groups`: `identical_files`' over the streams,
    `files` being stream `stream`."""
    repeats = [[p for i, p in group if i == stream] for group in groups]
    repeats = [same for same in repeats if len(same) > 1]
    if not repeats:
        return None
    count = sum(len(same) - 1 for same in repeats)
    shown = f"{repeats[0][1]} = {repeats[0][0]}" + (", ..." if count > 1 else "")
    are = "is a copy" if count == 1 else "are copies"
    return f"{count} of {folder}'s {len(files)} images {are} of another there: {shown}"


def list_images(folder: str | Path, *, what: str = "image folder") -> list[Path]:
    """All image files under `folder` (recursively, symlinked sub-folders too), sorted; a one-line error
    if there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise no_image_folder(folder, what)
    files = find_images(folder)
    if not files:
        raise no_images(folder, what)
    return files


def check_images(
    files: Iterable[Path],
    *,
    skip_bad: bool,
    desc: str,
    progress: bool = True,
    max_pixels: int = MAX_PIXELS,
    cap_option: str | None = CAP_OPTION,
    frames: dict[Path, int] | None = None,
    digests: dict[Path, Digested] | None = None,
) -> tuple[list[Path], list[str]]:
    """Decode every file once so a broken one fails now, by name, not hours into training.

    Returns (readable files, messages about skipped ones). Without `skip_bad` the first bad file raises.
    A file whose header declares more than `max_pixels` pixels counts as bad (it is not decoded; its line names
    `cap_option`, as `read_image`'s). `frames` collects the frame count of each readable file of several
    (`first_frames_only` words them: the first alone is read). `digests` collects each file's digest from the bytes
    decoded (`open_image`'s): training's record of its files' contents; other commands leave it out, and hash nothing.
    """

    good: list[Path] = []
    bad: list[str] = []
    files = list(files)
    skip = given_as("skip_bad_images", True)  # the command's flag, or a Python caller's keyword
    # nested: in a log file a line a minute for a long scan, no more (the command's own progress follows)
    scan = progress_bar(
        iterable=files, desc=desc, unit="img", enabled=progress and len(files) >= 200, nested=True, leave=False
    )
    for path in scan:
        try:
            # PIL's bomb warning silenced: the cap decides, in its words
            with open_image(path, max_pixels, digests=digests) as im:
                check_pixels(path, im.size, max_pixels, cap_option=cap_option)
                im.draft("RGB", (64, 64))  # JPEG: decode at reduced scale, enough to find corruption
                im.load()
                n = frames_of(im) if frames is not None else 1
            good.append(path)
            if n > 1:
                frames[path] = n
        except (CycleGANError, Image.DecompressionBombError) as e:
            if isinstance(e, Image.DecompressionBombError):
                e = over_the_cap(path, max_pixels, e, cap_option=cap_option)
            if not skip_bad:
                raise CycleGANError(f"{e} (remove it, or pass {skip})") from None
            bad.append(str(e))
        except Exception as e:
            msg = f"cannot read image {path}: {_reason(e, path)}"
            if not skip_bad:
                raise CycleGANError(f"{msg} (remove it, or pass {skip})") from None
            bad.append(msg)
    return good, bad


def long_side_shape(h: int, w: int, size: int) -> tuple[int, int]:
    """(H, W) scaled so the longer side is `size`, keeping the aspect ratio (each side at least 1)."""
    scale = size / max(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


def size_keeping(h: int, w: int, least: int) -> int:
    """The smallest long side (--size) at which an image of h x w px keeps a short side of `least` px."""
    size = max(least, math.ceil((least - 0.5) * max(h, w) / min(h, w)))
    while min(long_side_shape(h, w, size)) < least:  # rounding: at most a step or two
        size += 1
    return size


def resize_long_side(im: Image.Image, size: int) -> Image.Image:
    """Scale a PIL image (bicubic, antialiased) so its longer side is `size`, keeping the aspect ratio."""

    w, h = im.size
    return TF.resize(im, list(long_side_shape(h, w, size)), interpolation=InterpolationMode.BICUBIC, antialias=True)
