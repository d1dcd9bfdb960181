"""Reading images of any common format and mode into RGB, and finding them in folders."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from torchvision.transforms.v2 import functional as TF

from ..errors import CycleGANError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def _to_rgb(im: Image.Image) -> Image.Image:
    """Any PIL mode to 8-bit RGB: 16/32-bit and float greyscale rescaled, alpha composited on white."""
    if im.mode.startswith("I;16") or im.mode in ("I", "F"):
        a = np.asarray(im, dtype=np.float64)
        if im.mode.startswith("I;16") or (im.mode == "I" and a.max(initial=0) > 255):
            a = a / 257.0  # 16-bit range to 8-bit
        elif im.mode == "F" and a.max(initial=0) <= 1.0:
            a = a * 255.0
        return Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8), "L").convert("RGB")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        background = Image.new("RGBA", im.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, im).convert("RGB")
    return im.convert("RGB")


def read_image(path: str | Path) -> Image.Image:
    """Open an image file as an RGB PIL image, honouring EXIF orientation.

    Reads JPEG, PNG, BMP, WebP and TIFF in modes 1, L, LA, P, RGB, RGBA, I, I;16, F, CMYK, YCbCr.
    Raises CycleGANError naming the file when it cannot be read.
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                im.load()
                im = ImageOps.exif_transpose(im)
                return _to_rgb(im)
    except FileNotFoundError:
        raise CycleGANError(f"image not found: {path}") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        reason = str(e).split("\n")[0] or type(e).__name__
        raise CycleGANError(f"cannot read image {path}: {reason}") from None


def to_tensor(im: Image.Image) -> torch.Tensor:
    """RGB PIL image -> float tensor (3, H, W) in [-1, 1]."""
    return TF.to_dtype(TF.pil_to_tensor(im), torch.float32, scale=True) * 2 - 1


def to_pil(x: torch.Tensor) -> Image.Image:
    """Tensor (3, H, W) in [-1, 1] -> RGB PIL image, rounding as (x + 1) / 2 * 255."""
    x = ((x.detach().float().cpu().clamp(-1, 1) + 1) / 2 * 255).round().to(torch.uint8)
    return TF.to_pil_image(x)


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def list_images(folder: str | Path, *, what: str = "image folder") -> list[Path]:
    """All image files under `folder` (recursively), sorted; a one-line error if there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CycleGANError(f"{what} {folder} does not exist or is not a folder")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and is_image_file(p))
    if not files:
        exts = ", ".join(IMAGE_EXTENSIONS)
        raise CycleGANError(f"{what} {folder} holds no images ({exts})")
    return files


def check_images(
    files: Iterable[Path], *, skip_bad: bool, desc: str, progress: bool = True
) -> tuple[list[Path], list[str]]:
    """Decode every file once so a broken one fails now, by name, not hours into training.

    Returns (readable files, messages about skipped ones). Without `skip_bad` the first bad file raises.
    """
    from tqdm import tqdm

    good: list[Path] = []
    bad: list[str] = []
    files = list(files)
    for path in tqdm(files, desc=desc, unit="img", leave=False, disable=not progress or len(files) < 200):
        try:
            with Image.open(path) as im:
                im.draft("RGB", (64, 64))  # JPEG: decode at reduced scale, enough to find corruption
                im.load()
            good.append(path)
        except Exception as e:
            msg = f"cannot read image {path}: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
            if not skip_bad:
                raise CycleGANError(msg + " (remove it, or pass --skip-bad-images)") from None
            bad.append(msg)
    return good, bad


def long_side_shape(h: int, w: int, size: int) -> tuple[int, int]:
    """(H, W) scaled so the longer side is `size`, keeping the aspect ratio (each side at least 1)."""
    scale = size / max(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


def resize_long_side(im: Image.Image, size: int) -> Image.Image:
    """Scale a PIL image (bicubic, antialiased) so its longer side is `size`, keeping the aspect ratio."""
    from torchvision.transforms.v2 import InterpolationMode

    w, h = im.size
    return TF.resize(im, list(long_side_shape(h, w, size)), interpolation=InterpolationMode.BICUBIC, antialias=True)
