"""Neural style transfer by optimisation (Gatys, Ecker and Bethge, 2016).

The pixels of an image x in [0, 1] are optimised so that its features match the content image at the
content layers and its Gram matrices match the (blended) style images at the style layers:

    loss = content_weight * L_content + style_weight * L_style + tv_weight * L_tv

One optimisation per image: it costs `steps` forward+backward passes of the backbone at the image's size.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
from PIL import Image
from torch import nn

from ..data.io import read_image, to_pil, to_tensor
from ..errors import CycleGANError
from ..inference import resize_long_side
from .backbones import DEFAULTS, BackboneName, build_backbone, default_backbone
from .losses import blend_grams, content_loss, gram_matrix, style_loss, tv_loss

Optimizer = Literal["lbfgs", "adam"]
Init = Literal["content", "noise"]
ImageLike = Image.Image | str | Path

ADAM_LR = 0.02  # in [0, 1] pixel units: 300 steps move a pixel far enough to take on the style


@dataclass
class StyleResult:
    """What `stylize` returns.

    image: the stylised RGB image, same size as the resized content image (aspect ratio kept).
    tensor: the same as (1, 3, H, W) in [0, 1].
    losses: the weighted loss terms at each step, [{"content": .., "style": .., "tv": .., "total": ..}].
    """

    image: Image.Image
    tensor: torch.Tensor
    backbone: str
    content_layers: tuple[str, ...]
    style_layers: tuple[str, ...]
    seconds: float
    losses: list[dict[str, float]] = field(default_factory=list)


def load_image_01(image: ImageLike, size: int | None) -> torch.Tensor:
    """A PIL image or file -> (1, 3, H, W) in [0, 1], long side scaled to `size` (aspect ratio kept)."""
    im = image if isinstance(image, Image.Image) else read_image(image)
    im = im.convert("RGB") if im.mode != "RGB" else im
    if size:
        im = resize_long_side(im, size)
    return ((to_tensor(im).unsqueeze(0) + 1) / 2).contiguous()  # L-BFGS needs contiguous grads


def to_pil_01(x: torch.Tensor) -> Image.Image:
    """(1, 3, H, W) or (3, H, W) in [0, 1] -> RGB PIL image."""
    return to_pil(x.reshape(-1, *x.shape[-2:])[-3:] * 2 - 1)


def rgb_to_ycbcr(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB in [0, 1] -> YCbCr (ITU-R BT.601, full range), all channels in [0, 1]."""
    r, g, b = x.unbind(1)
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = 0.5 + (b - y) / 1.772
    cr = 0.5 + (r - y) / 1.402
    return torch.stack([y, cb, cr], 1)


def ycbcr_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """Inverse of `rgb_to_ycbcr`; the result is clamped to [0, 1]."""
    y, cb, cr = x.unbind(1)
    r = y + 1.402 * (cr - 0.5)
    b = y + 1.772 * (cb - 0.5)
    g = (y - 0.299 * r - 0.114 * b) / 0.587
    return torch.stack([r, g, b], 1).clamp(0, 1)


def keep_content_colors(stylised: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Luminance of `stylised` with the chroma (Cb, Cr) of `content`; both (B, 3, H, W) in [0, 1].

    The colour-preserving variant of Gatys et al. ("Preserving color in neural artistic style transfer"):
    the style's brush strokes, the photo's colours.
    """
    ycc = rgb_to_ycbcr(stylised)
    return ycbcr_to_rgb(torch.cat([ycc[:, :1], rgb_to_ycbcr(content)[:, 1:]], 1))


def _blend_weights(n_styles: int, style_blend: Sequence[float] | None) -> list[float]:
    if style_blend is None:
        return [1.0 / n_styles] * n_styles
    if len(style_blend) != n_styles:
        raise CycleGANError(f"option '--style-blend': {len(style_blend)} weight(s) for {n_styles} style image(s)")
    if any(w < 0 for w in style_blend) or sum(style_blend) <= 0:
        raise CycleGANError("option '--style-blend': weights must be >= 0 and not all 0")
    total = float(sum(style_blend))
    return [w / total for w in style_blend]


def _check_positive(name: str, value: float, *, allow_zero: bool = True) -> None:
    if value < 0 or (value == 0 and not allow_zero):
        raise CycleGANError(f"option '--{name}' must be {'>= 0' if allow_zero else '> 0'}, got {value}")


def stylize(
    content: ImageLike,
    styles: ImageLike | Sequence[ImageLike],
    *,
    style_blend: Sequence[float] | None = None,
    backbone: BackboneName | Literal["auto"] = "auto",
    weights: str | None = None,
    size: int | None = 512,
    style_size: int | None = None,
    steps: int = 300,
    optimizer: Optimizer = "lbfgs",
    content_weight: float | None = None,
    style_weight: float | None = None,
    tv_weight: float | None = None,
    content_layers: Sequence[str] | None = None,
    style_layers: Sequence[str] | None = None,
    init: Init = "content",
    preserve_color: bool = False,
    lr: float = ADAM_LR,
    device: str | torch.device = "cpu",
    seed: int = 0,
    progress: bool = True,
    net: nn.Module | None = None,
) -> StyleResult:
    """Stylise `content` with the Gram statistics of `styles` (Gatys et al.).

    content: a PIL image or an image file; resized so its longer side is `size` (None: keep its size).
    styles: one or several PIL images or files, resized to long side `style_size` (default: `size`);
        their Gram matrices are blended with `style_blend` (default: equal weights; normalised to sum 1).
    backbone: "vgg19", "lite0" or "auto" (vgg19 when its weights are cached or given, else lite0).
    weights: a VGG19 state dict file in torchvision's key format (vgg19 only).
    steps: forward+backward passes of the backbone (for lbfgs: function evaluations).
    *_weight, *_layers: None takes the backbone's defaults (`cyclegan.style.DEFAULTS`).
    init: start from the content image or from uniform noise.
    preserve_color: keep the content's colours, take only the luminance from the result.
    net: a backbone from `build_backbone` to reuse across calls (it must return all requested layers).

    Returns a `StyleResult` whose image has the resized content's size.
    """
    if steps < 0:
        raise CycleGANError(f"option '--steps' must be >= 0, got {steps}")
    if size is not None and size <= 0:
        raise CycleGANError(f"option '--size' must be positive, got {size}")
    if optimizer not in ("lbfgs", "adam"):
        raise CycleGANError(f"option '--optimizer': use lbfgs or adam, got {optimizer!r}")
    if init not in ("content", "noise"):
        raise CycleGANError(f"option '--init': use content or noise, got {init!r}")
    style_list = [styles] if isinstance(styles, (Image.Image, str, Path)) else list(styles)
    if not style_list:
        raise CycleGANError("give at least one style image")
    blend = _blend_weights(len(style_list), style_blend)

    start = time.perf_counter()
    # Read every image first: a wrong path should fail before a backbone is loaded.
    c = load_image_01(content, size)  # (1, 3, H, W) in [0, 1]
    style_images = [load_image_01(s, style_size or size) for s in style_list]

    name = backbone if backbone != "auto" else (getattr(net, "name", None) or default_backbone(weights))
    if name not in DEFAULTS:
        raise CycleGANError(f"option '--backbone': use vgg19, lite0 or auto, got {name!r}")
    d = DEFAULTS[name]
    c_layers = tuple(content_layers or d.content_layers)
    s_layers = tuple(style_layers or d.style_layers)
    cw = d.content_weight if content_weight is None else content_weight
    sw = d.style_weight if style_weight is None else style_weight
    tw = d.tv_weight if tv_weight is None else tv_weight
    for opt_name, value in (("content-weight", cw), ("style-weight", sw), ("tv-weight", tw)):
        _check_positive(opt_name, value)

    device = torch.device(device)
    if net is None:
        net = build_backbone(name, list(c_layers) + list(s_layers), weights=weights)
    net = net.to(device)

    c = c.to(device)
    with torch.no_grad():
        content_target = {k: v for k, v in net(c).items() if k in c_layers}
        grams = []
        for s in style_images:
            feats = net(s.to(device))
            grams.append({k: gram_matrix(feats[k]) for k in s_layers})
        style_target = blend_grams(grams, blend)

    if init == "content":
        x0 = c.clone(memory_format=torch.contiguous_format)
    else:
        x0 = torch.rand(c.shape, generator=torch.Generator().manual_seed(seed)).to(device)
    x = x0.requires_grad_(True)
    history: list[dict[str, float]] = []

    def objective() -> torch.Tensor:
        feats = net(x)
        terms = {
            "content": cw * content_loss(feats, content_target),
            "style": sw * style_loss(feats, style_target),
            "tv": tw * tv_loss(x),
        }
        total = terms["content"] + terms["style"] + terms["tv"]
        history.append({k: float(v.detach()) for k, v in {**terms, "total": total}.items()})
        return total

    from tqdm import tqdm

    bar = tqdm(total=steps, desc=f"stylize ({name})", unit="step", disable=not progress, dynamic_ncols=True)

    def report() -> None:
        bar.update(1)
        bar.set_postfix({k: f"{v:.3g}" for k, v in history[-1].items()}, refresh=False)

    if optimizer == "adam":
        opt = torch.optim.Adam([x], lr=lr)
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            objective().backward()
            opt.step()
            with torch.no_grad():
                x.clamp_(0, 1)  # stay a valid image; the backbones never saw pixels outside [0, 1]
            report()
    elif steps > 0:
        # One L-BFGS call with max_eval = steps, so `steps` counts forward+backward passes as for Adam;
        # negative tolerances stop it from ending early on a flat stretch.
        opt = torch.optim.LBFGS(
            [x], lr=1.0, max_iter=steps, max_eval=steps, history_size=50,
            tolerance_grad=-1.0, tolerance_change=-1.0,
        )  # fmt: skip

        def closure() -> torch.Tensor:
            with torch.no_grad():
                x.clamp_(0, 1)
            opt.zero_grad(set_to_none=True)
            loss = objective()
            loss.backward()
            report()
            return loss

        opt.step(closure)
    bar.close()

    with torch.no_grad():
        out = x.detach().clamp(0, 1)
        if preserve_color:
            out = keep_content_colors(out, c)
    seconds = time.perf_counter() - start
    return StyleResult(
        image=to_pil_01(out.cpu()), tensor=out.cpu(), backbone=name, content_layers=c_layers,
        style_layers=s_layers, seconds=seconds, losses=history,
    )  # fmt: skip
