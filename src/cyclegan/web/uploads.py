"""Checking what a browser uploads before anything is done with it.

An upload is only ever decoded as an image (`data.io.read_image`: the formats the page names, in any mode
the CLI accepts, the pixel cap checked from the header before decoding); it is never loaded as a checkpoint.
Each refusal is one line naming the file as the user called it (not the server's temporary path), for the
page to show.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from PIL import Image

from ..errors import CycleGANError, escape, replace_unsafe
from ..files import IMAGE_FORMATS, PILLOW_FORMATS, fitted_stem
from .options import MB

UPLOAD_FORMATS = PILLOW_FORMATS  # only these are opened (files.PILLOW_FORMATS: no EPS through Ghostscript)


def display_name(path: str | Path) -> str:
    """The name the user gave the file: Gradio keeps it as the last part of the upload's temporary path."""
    return Path(path).name


def output_name(stem: str, tail: str, suffix: str) -> str:
    """The file name of an output named after an upload's `stem` (`photo` + `_AtoB` + `.png`), as the page offers
    it to download: each character that could reorder or hide the name (a right-to-left override showed
    `x\u202e_AtoB.png` as `x_BotA.png`) as "_", and the stem cut so the name fits the file system's 255 bytes (an
    upload's own name may take all of them: `NAME_input.png` was an internal error, "File name too long")."""
    return fitted_stem(replace_unsafe(stem), tail, suffix) + suffix


def animated_frames(path: str | Path) -> int:
    """The frames of an animated GIF or WebP upload; 1 for any other file (`check_upload` names what is wrong
    with one that does not open)."""
    from ..data.io import frame_count  # torch with it: on the first upload, so the server starts fast

    return frame_count(path, formats=("GIF", "WEBP"))


def check_upload(path: str | Path, *, max_bytes: int, max_pixels: int, keep_mode: bool = False) -> Image.Image:
    """The uploaded file as an RGB PIL image (EXIF orientation applied; `keep_mode`: its transparency kept, as
    `data.io.read_image` keeps it), or a CycleGANError saying, in one line, that it is empty, larger than
    `max_bytes`, not an image, over `max_pixels`, or truncated/damaged."""
    # torch: on the first upload
    from ..data.io import not_read_here, open_image, read_image, sound_kind, unread_format, video_kind

    name = display_name(path)
    try:
        size = os.stat(path).st_size
    except OSError:
        raise CycleGANError(f"{name}: the upload did not arrive; try again") from None
    if size == 0:
        raise CycleGANError(f"{name} is empty (0 bytes)")
    if size > max_bytes:
        raise CycleGANError(
            f"{name} is {size / MB:.1f} MB, over this server's limit of {round(max_bytes / MB, 3):g} MB "
            "per image (cyclegan serve --max-upload-mb)"
        )
    try:  # open_image: Pillow's bomb check raised to `max_pixels` (--max-pixels 300000000 refused 200 MP as a bomb)
        with open_image(path, max_pixels, formats=UPLOAD_FORMATS) as im:
            w, h = im.size
    except Image.UnidentifiedImageError:
        if fmt := unread_format(Path(path)):  # a phone's HEIC or AVIF photo: named, as the CLI names it
            raise CycleGANError(f"{name} is {not_read_here(fmt)}") from None
        if video := video_kind(Path(path)):  # an MP4 named .png was "not an image (JPEG, ...)", as random bytes
            kind, ext = video
            raise CycleGANError(
                f"{name} is {kind} video, not an image: translate it in the Video tab (as {Path(name).stem}{ext})"
            ) from None
        if sound := sound_kind(Path(path)):  # an M4A named .png was "an MP4 video": sent to the Video tab for nothing
            raise CycleGANError(f"{name} is {sound} sound alone, not an image: no picture to translate") from None
        raise CycleGANError(f"{name} is not an image ({IMAGE_FORMATS})") from None
    except Image.DecompressionBombError as e:  # PIL's own refusal, from the header, of over ~179 MP
        declared = re.search(r"\((\d+) pixels\)", str(e))
        size = f"declares {int(declared.group(1)) / 1e6:.0f} MP, " if declared else ""
        raise CycleGANError(
            f"{name} {size}more than any image is decoded here: a decompression bomb? this server's limit is "
            f"{max_pixels / 1e6:g} MP (cyclegan serve --max-pixels)"
        ) from None
    except Exception:  # noqa: BLE001 - a damaged header fails in many ways
        raise CycleGANError(f"{name} is not an image, or its header is damaged") from None
    if w * h > max_pixels:
        raise CycleGANError(
            f"{name} is {w}x{h} pixels ({w * h / 1e6:.1f} MP), over this server's limit of "
            f"{max_pixels / 1e6:g} MP (cyclegan serve --max-pixels)"
        )
    try:
        return read_image(path, max_pixels=max_pixels, keep_mode=keep_mode)
    except CycleGANError as e:
        reason = str(e).replace(
            f"cannot read image {escape(path)}: ", ""
        )  # the temporary path means nothing to the user
        if "truncated" in reason:
            raise CycleGANError(f"{name} is truncated (the file ends before the image does)") from None
        raise CycleGANError(f"{name} cannot be decoded: {reason}") from None
