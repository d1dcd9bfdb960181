"""Neural style transfer by optimisation (Gatys, Ecker and Bethge, 2016).

The pixels of an image x in [0, 1] are optimised so that its features match the content image at the
content layers and its Gram matrices match the (blended) style images at the style layers:

    loss = content_weight * L_content + style_weight * L_style + tv_weight * L_tv

One optimisation per image: it costs `steps` forward+backward passes of the backbone at the image's size.
`GatysOptions` holds its knobs, `stylize` runs it; `StylizeOptions` and `run_stylize` are `cyclegan stylize`.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from PIL import Image
from torch import nn
from tqdm import tqdm

from ..data.io import (
    CAP_OPTION,
    MAX_PIXELS,
    alpha_of,
    as_read,
    as_rgb,
    frame_count,
    long_side_shape,
    read_image,
    resize_long_side,
    save_image,
    size_keeping,
    to_pil,
    to_tensor,
)
from ..errors import CycleGANError, counted, escape
from ..evaluate.metrics import LUMA_BT601, luminance
from ..execution import available_memory, resolve_device
from ..files import check_outputs, claim_file, removed_on_failure, written_through_a_stop
from ..inference import decode
from ..progress import Lines, print_out, print_warning, progress_bar
from ..translation import refuse_named_clips, still_images
from .backbones import DEFAULTS, LAYER_NAMES, build_backbone, default_backbone
from .losses import blend_grams, content_loss, gram_matrix, style_loss, tv_loss
from .options import SIZE_MOST, GatysOptions, Init, StylizeOptions

ImageLike = Image.Image | str | Path
LBFGS_HISTORY = 50  # the gradient pairs L-BFGS keeps: two image-sized vectors each
ALPHA_EXTENSIONS = (".png", ".webp", ".tif", ".tiff")  # the --out formats that keep the content's transparency


# --- images ----------------------------------------------------------------------------------------------


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
    interrupted: bool = False  # a Ctrl-C (`keep_on_interrupt`) ended it after len(losses) of its steps
    alpha: Image.Image | None = None  # the content's transparency (mode L) at the image's size; None: opaque

    @property
    def transparent(self) -> Image.Image:
        """`image` with the content's transparency put back (RGBA), or `image` itself for an opaque content. The
        optimisation sees the content on white, as every command reads a transparent image."""
        if self.alpha is None:
            return self.image
        rgba = self.image.convert("RGBA")
        rgba.putalpha(self.alpha)
        return rgba


def load_image_01(
    image: ImageLike,
    size: int | None,
    *,
    max_pixels: int = MAX_PIXELS,
    cap_option: str | None = CAP_OPTION,
    name: str = "image",
    thin: tuple[str, str] | None = None,
) -> torch.Tensor:
    """A PIL image of any mode or an image file -> (1, 3, H, W) in [0, 1], long side scaled to `size` (aspect
    ratio kept; `thin`: (what, flag), an image too thin at `size` refused naming it and the flag: `too_thin`).
    A file declaring more than `max_pixels` pixels is refused before decoding (`data.io.read_image`: the refusal
    names `cap_option`, the caller's flag that raises the cap, None where it has none).
    A PIL image is converted as a file is read (`to_rgb`: 16-bit greyscale rescaled, not clipped
    to white as `convert("RGB")` clips it; transparency on white; upright by its EXIF orientation and in sRGB:
    `as_read`, on a copy). A PIL image whose file was closed is refused in one line naming `name` (`decode`)."""
    return read_01(image, size, max_pixels=max_pixels, cap_option=cap_option, name=name, thin=thin)[0]


def read_01(
    image: ImageLike,
    size: int | None,
    *,
    max_pixels: int = MAX_PIXELS,
    cap_option: str | None = CAP_OPTION,
    name: str = "image",
    thin: tuple[str, str] | None = None,
) -> tuple[torch.Tensor, Image.Image | None]:
    """`load_image_01`'s tensor, and the image's transparency at the same size (`alpha_of`)."""
    if not isinstance(image, (Image.Image, str, os.PathLike)):
        raise CycleGANError(f"{name}: expected a PIL image or an image file's path, got {type(image).__name__}")
    if isinstance(image, Image.Image):
        decode(image, name, use="stylise")  # a closed one was Pillow's bare AssertionError
    im = (
        as_read(image)
        if isinstance(image, Image.Image)
        else read_image(image, max_pixels=max_pixels, cap_option=cap_option, keep_mode=True)
    )
    if 0 in im.size:
        raise CycleGANError(f"an image of {im.width}x{im.height} pixels has nothing to stylise")
    if size and thin and (why := too_thin(thin[0], im.width, im.height, size, flag=thin[1], most=SIZE_MOST)):
        raise CycleGANError(why)
    alpha = alpha_of(im)
    im = as_rgb(im)  # no copy of an RGB image (without a colour key)
    if size:
        im = resize_long_side(im, size)
        alpha = alpha if alpha is None else resize_long_side(alpha, size)
    return ((to_tensor(im).unsqueeze(0) + 1) / 2).contiguous(), alpha  # L-BFGS needs contiguous grads


# The least short side an image is stylised at: a 3x3 neighbourhood, which a style's strokes need (a 20000x20 px strip
# at long side 256 was stylised at 256x1 px without a word); the floor of Compare's SSIM too
# (`compare.check_measurable`), so that the Style and Compare tabs refuse the same photos in the same words
MIN_STYLISED_SIDE = 3


def too_thin(
    what: str, w: int, h: int, size: int, *, flag: str, most: int | None = None, verb: str = "stylise"
) -> str | None:
    """Why an image of w x h px is not stylised at long side `size` (its short side under `MIN_STYLISED_SIDE`),
    naming it as `what` and the long side's `flag`, with the least long side that keeps it, or, past `most` (the
    largest a caller offers: the web page's slider), that it be cropped; None when it is thick enough. `verb`: what
    the image is too thin for (compare's SSIM "measure": `compare.check_measurable`, the one rule in its words)."""
    sh, sw = long_side_shape(h, w, size)
    if min(sh, sw) >= MIN_STYLISED_SIDE:
        return None
    need = size_keeping(h, w, MIN_STYLISED_SIDE)
    under = f"its short side under {MIN_STYLISED_SIDE} px"
    if most is not None and need > most:  # no long side offered keeps it: cropping is the way
        return (
            f"{what} is {w}x{h} px, too thin to {verb} at any long side up to {most} px ({under}); crop it to a "
            "less thin shape"
        )
    return (
        f"{what} is {w}x{h} px, {sw}x{sh} px at {flag} {size}: too thin to {verb} ({under}); give {flag} {need} or "
        "more, or crop it to a less thin shape"
    )


def to_pil_01(x: torch.Tensor) -> Image.Image:
    """(1, 3, H, W) or (3, H, W) in [0, 1] -> RGB PIL image (a batch of two gave its last image silently)."""
    return to_pil((x[0] if x.dim() == 4 and len(x) == 1 else x) * 2 - 1)


def rgb_to_ycbcr(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB in [0, 1] -> YCbCr (ITU-R BT.601, full range), all channels in [0, 1]."""
    kr, _, kb = LUMA_BT601
    r, _, b = x.unbind(1)
    y = luminance(x)[:, 0]
    cb = 0.5 + (b - y) / (2 * (1 - kb))  # scaled so Cb spans [0, 1]: 1 / 1.772
    cr = 0.5 + (r - y) / (2 * (1 - kr))  # 1 / 1.402
    return torch.stack([y, cb, cr], 1)


def ycbcr_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """Inverse of `rgb_to_ycbcr`; the result is clamped to [0, 1]."""
    kr, kg, kb = LUMA_BT601
    y, cb, cr = x.unbind(1)
    r = y + 2 * (1 - kr) * (cr - 0.5)
    b = y + 2 * (1 - kb) * (cb - 0.5)
    g = (y - kr * r - kb * b) / kg
    return torch.stack([r, g, b], 1).clamp(0, 1)


def keep_content_colors(stylised: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Luminance of `stylised` with the chroma (Cb, Cr) of `content`; both (B, 3, H, W) in [0, 1].

    The colour-preserving variant of Gatys et al. ("Preserving color in neural artistic style transfer"):
    the style's brush strokes, the photo's colours.
    """
    ycc = rgb_to_ycbcr(stylised)
    return ycbcr_to_rgb(torch.cat([ycc[:, :1], rgb_to_ycbcr(content)[:, 1:]], 1))


# --- the objective ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Objective:
    """The loss of one optimisation: the options' layers and weights with the backbone's defaults filled in."""

    backbone: str
    content_layers: tuple[str, ...]
    style_layers: tuple[str, ...]
    content_weight: float
    style_weight: float
    tv_weight: float


def resolve_objective(o: GatysOptions, net: nn.Module | None = None) -> Objective:
    """The backbone ("auto": `net`'s, else vgg19 if --weights is given or its weights are cached, else lite0) and
    its defaults; a layer the backbone does not have is refused naming its option."""
    name = o.backbone if o.backbone != "auto" else (getattr(net, "name", None) or default_backbone(o.weights))
    if name not in DEFAULTS:
        raise CycleGANError(f"option '--backbone': use vgg19, lite0 or auto, got {name!r}")
    known = LAYER_NAMES[name]()
    for option, layers in (("--content-layers", o.content_layers), ("--style-layers", o.style_layers)):
        unknown = [repr(layer) for layer in layers or () if layer not in known]
        if unknown:
            raise CycleGANError(
                f"option '{option}': {name} has no layer {', '.join(unknown)}; its layers: {', '.join(known)}"
            )
    d = DEFAULTS[name]
    return Objective(
        backbone=name,
        content_layers=tuple(o.content_layers or d.content_layers),
        style_layers=tuple(o.style_layers or d.style_layers),
        content_weight=d.content_weight if o.content_weight is None else o.content_weight,
        style_weight=d.style_weight if o.style_weight is None else o.style_weight,
        tv_weight=d.tv_weight if o.tv_weight is None else o.tv_weight,
    )


def _blend_weights(n_styles: int, style_blend: Sequence[float] | None) -> list[float]:
    """One weight per style image, summing to 1 (equal by default). The field checks that each is >= 0."""
    if style_blend is None:
        return [1.0 / n_styles] * n_styles
    if len(style_blend) != n_styles:
        raise CycleGANError(
            f"option '--style-blend': {counted(len(style_blend), 'weight')} for {counted(n_styles, 'style image')}"
        )
    if max(style_blend) <= 0:
        raise CycleGANError("option '--style-blend': weights must be >= 0 and not all 0")
    # scaled by the largest first: 1e308 1e308 summed to inf, and every weight became 0 (no style at all)
    scaled = [w / max(style_blend) for w in style_blend]
    return [w / sum(scaled) for w in scaled]


def check_float32(net: nn.Module) -> None:
    """Refuse, in one line, a backbone the caller moved to another dtype (`net.half()` to save memory): the image
    optimised is float32, and the first layer said "expected scalar type Float but found Half" in a traceback."""
    p = next(net.parameters(), None)
    if p is not None and p.dtype != torch.float32:
        raise CycleGANError(f"net: a backbone in {p.dtype}; stylize optimises in float32: give net.float()")


def check_sides(
    net: nn.Module, content: torch.Tensor, styles: Mapping[str, torch.Tensor], *, weights: str | None = None
) -> None:
    """Refuse, in one line before the work, an image (1, 3, H, W) whose short side leaves the backbone's deepest
    layer empty (vgg19's pools halve it: 16 px to relu5_1); torch stopped in a traceback ("Output size is too
    small"). styles: name -> image; weights: the --weights file given, which --backbone lite0 refuses."""
    least = getattr(net, "min_side", 1)
    named = [
        ("the content image", content, "--size"),
        *((f"style image {k}", v, "--style-size or --size") for k, v in styles.items()),
    ]
    for what, image, raise_ in named:
        h, w = image.shape[-2:]
        if min(h, w) < least:
            raise CycleGANError(
                f"{what} is {w}x{h} px once resized; the {net.name} backbone's layers need {least} px a side: "
                f"a larger {raise_}, or --backbone lite0" + (" without --weights" if weights else "")
            )


def feature_targets(
    net: nn.Module, content: torch.Tensor, styles: Sequence[torch.Tensor], obj: Objective, blend: Sequence[float]
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """What the image is pulled towards: the content's feature maps at the content layers, and the styles'
    Gram matrices (B, C, C) at the style layers, blended. Images (1, 3, H, W) in [0, 1], any sizes."""
    with torch.no_grad():
        content_target = {k: v for k, v in net(content).items() if k in obj.content_layers}
        grams = []
        for s in styles:
            feats = net(s.to(content.device))
            grams.append({k: gram_matrix(feats[k]) for k in obj.style_layers})
    return content_target, blend_grams(grams, blend)


def check_features_finite(unweighted: Mapping[str, torch.Tensor], backbone: str, weights: str | None) -> None:
    """Refuse, naming the backbone, loss terms not finite before their weights (`unweighted_terms`): the backbone's
    features of these images overflow float32 (a --weights file of values far from VGG19's: scaled, or another
    network's). The line said "lower --style-weight", a flag `compare` does not have, whatever the weight, where the
    file was the cause. Checked once the weighted loss is not finite (`check_finite` names the weights if this
    passes)."""
    bad = [k for k, v in unweighted.items() if not math.isfinite(float(v))]
    if not bad:
        return
    features = f"the {backbone} backbone's features" + (f" (its weights read from {weights})" if weights else "")
    fix = "give VGG19's ImageNet weights in torchvision's format" if weights else "give a backbone of finite features"
    raise CycleGANError(
        f"the Gatys {' and '.join(bad)} loss is not finite, whatever its weight: {features} of these images overflow "
        f"float32; {fix}"
    )


def unweighted_terms(
    net: nn.Module,
    x: torch.Tensor,
    content_target: Mapping[str, torch.Tensor],
    style_target: Mapping[str, torch.Tensor],
) -> dict[str, torch.Tensor]:
    """The content and style terms of Gatys et al.'s loss for the image x (1, 3, H, W) in [0, 1], before weights."""
    feats = net(x)
    return {"content": content_loss(feats, content_target), "style": style_loss(feats, style_target)}


def loss_terms(
    net: nn.Module,
    x: torch.Tensor,
    content_target: Mapping[str, torch.Tensor],
    style_target: Mapping[str, torch.Tensor],
    obj: Objective,
) -> dict[str, torch.Tensor]:
    """The weighted terms of Gatys et al.'s loss for the image x (1, 3, H, W) in [0, 1], and their total."""
    raw = unweighted_terms(net, x, content_target, style_target)
    terms = {
        "content": obj.content_weight * raw["content"],
        "style": obj.style_weight * raw["style"],
        "tv": obj.tv_weight * tv_loss(x),
    }
    terms["total"] = terms["content"] + terms["style"] + terms["tv"]
    return terms


def check_finite(terms: Mapping[str, float], step: int) -> None:
    """Stop, naming the weights to lower, at a loss that is not finite: a weight so large that its term overflows
    (--style-weight 1e308) made Adam's pixels NaN, written as a black image, and L-BFGS end in a traceback."""
    if math.isfinite(terms["total"]):
        return
    bad = [k for k in ("content", "style", "tv") if not math.isfinite(terms[k])] or ["content", "style", "tv"]
    values = ", ".join(f"{k} {v:.3g}" for k, v in terms.items())
    flags = " or ".join(f"--{k}-weight" for k in bad)
    raise CycleGANError(f"the Gatys loss is not finite at step {step} ({values}): lower {flags}")


# --- memory ----------------------------------------------------------------------------------------------

# Peak CPU memory of a few steps against the tensors one forward pass saves for the backward (fp32), for a net
# without its own `activation_factor` (the backbones hold theirs: 2.0 vgg19, 1.45 lite0): the larger
ACTIVATION_FACTOR = 2.0
PROBE_SIDE = 64


def feature_bytes_per_pixel(net: nn.Module) -> tuple[float, float]:
    """Bytes per input pixel of `net` (a backbone, on its device): those one forward pass keeps for the backward
    (parameters not counted), and its largest feature map (what a pass without gradients holds at most), from a
    pass over a small probe image."""
    side = max(PROBE_SIDE, 4 * getattr(net, "min_side", 1))
    p = next(net.parameters(), None)
    x = torch.zeros(1, 3, side, side, device=p.device if p is not None else "cpu", requires_grad=True)
    params = {q.untyped_storage().data_ptr() for q in net.parameters()}
    saved: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()  # views of one tensor share it: counted once
        if storage.data_ptr() not in params:
            saved[storage.data_ptr()] = storage.nbytes()
        return t

    largest, probing = 0, threading.get_ident()

    def hook(_module, _inputs, output) -> None:
        nonlocal largest
        # A module's hooks fire for every thread's pass: on the web page another job's pass through the same Lite0
        # layers (the Compare tab's measures share them) was counted as the probe's (saved_tensors_hooks, above,
        # are the thread's own already)
        if isinstance(output, torch.Tensor) and threading.get_ident() == probing:
            largest = max(largest, output.numel() * output.element_size())

    handles = [m.register_forward_hook(hook) for m in net.modules() if not list(m.children())]
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            net(x)
    finally:
        for h in handles:
            h.remove()
    return sum(saved.values()) / side**2, largest / side**2


def optimisation_bytes(
    saved: float, height: int, width: int, *, optimizer: str, steps: int, factor: float = ACTIVATION_FACTOR
) -> float:
    """Estimated peak bytes of optimising an image of height x width px with a backbone that keeps `saved` bytes
    per pixel for the backward (`feature_bytes_per_pixel`): those activations times `factor` (the backbone's
    `activation_factor`), and the optimiser's image-sized tensors (pixels, gradient, content, best image; Adam's
    two moments, L-BFGS's up to LBFGS_HISTORY pairs)."""
    copies = 2 * min(LBFGS_HISTORY, steps) + 8 if optimizer == "lbfgs" else 6
    return height * width * (factor * saved + copies * 3 * 4)


def check_memory(net: nn.Module, content: torch.Tensor, styles: Mapping[str, torch.Tensor], o: GatysOptions) -> None:
    """Refuse, in one line before the work, an optimisation whose estimated memory exceeds what the device has
    free: at --size 4096 it took tens of GB, and the system killed it without a word (or a GPU's traceback).
    content (1, 3, H, W), styles: name -> image, on the net's device."""
    device = content.device
    free = available_memory(device)
    if free is None:
        return
    gb, where = 1e9, "this machine" if device.type == "cpu" else str(device)
    saved, largest = feature_bytes_per_pixel(net)
    factor = getattr(net, "activation_factor", ACTIVATION_FACTOR)
    h, w = content.shape[-2:]
    need = optimisation_bytes(saved, h, w, optimizer=o.optimizer, steps=o.steps, factor=factor)
    if need > free:
        fits = int(max(h, w) * math.sqrt(free / need))
        other = ""
        if o.optimizer == "lbfgs":
            adam = optimisation_bytes(saved, h, w, optimizer="adam", steps=o.steps, factor=factor)
            other = f", or --optimizer adam (about {adam / gb:.1f} GB here)"
        raise CycleGANError(
            f"stylising {w}x{h} px needs about {need / gb:.1f} GB ({getattr(net, 'name', 'this')} backbone, "
            f"{o.optimizer}) and {where} has {free / gb:.1f} GB free: a smaller --size (about {fits} px fits){other}"
        )
    for name, image in styles.items():
        sh, sw = image.shape[-2:]
        need = 3 * largest * sh * sw  # a layer's input, its output and a kept copy
        if need > free:
            fits = int(max(sh, sw) * math.sqrt(free / need))
            raise CycleGANError(
                f"style image {name} is {sw}x{sh} px once resized; its features need about {need / gb:.1f} GB and "
                f"{where} has {free / gb:.1f} GB free: a smaller --style-size (about {fits} px fits)"
            )


# --- the optimisation ------------------------------------------------------------------------------------


def step_progress(total: int, desc: str, *, enabled: bool, nested: bool = False) -> tqdm | Lines:
    """A bar on a terminal (nested under a caller's bar, it is removed when done), lines elsewhere, or nothing.
    `nested`: under a caller's bar (compare's images), where in a log file a line a minute is enough: ten lines per
    image, each tenth of its steps, buried compare's own line per image."""
    return progress_bar(
        total,
        desc,
        unit="step",
        enabled=enabled,
        shown={"total": "loss"},
        nested=nested,
        dynamic_ncols=True,
        leave=None,
    )


def initial_image(content: torch.Tensor, init: Init, seed: int) -> torch.Tensor:
    """The pixels to optimise, (1, 3, H, W) in [0, 1] on the content's device: the content or uniform noise."""
    if init == "content":
        x0 = content.clone(memory_format=torch.contiguous_format)
    else:
        x0 = torch.rand(content.shape, generator=torch.Generator().manual_seed(seed)).to(content.device)
    return x0.requires_grad_(True)


def _run_adam(
    x: torch.Tensor,
    objective: Callable[[], tuple[torch.Tensor, float]],
    *,
    steps: int,
    lr: float,
    on_step: Callable[[], None],
) -> None:
    """`steps` Adam updates of the pixels x, kept in [0, 1]; `on_step` after each. `objective`: the loss of x and
    its value, read from the device once. Stopped by a KeyboardInterrupt
    (Ctrl-C, the web page's Cancel), x ends as the evaluated image with the lowest loss, as L-BFGS's does: it was the
    latest, whose loss is not known yet (and, at a high --lr, often higher), said to be "the best so far"."""
    optim = torch.optim.Adam([x], lr=lr)
    best, lowest = torch.empty_like(x, requires_grad=False), math.inf  # an image-sized copy: `optimisation_bytes`
    try:
        for _ in range(steps):
            optim.zero_grad(set_to_none=True)
            loss, value = objective()
            if value < lowest:  # the loss of x as it is now, before this step moves it
                lowest = value
                best.copy_(x.detach())
            loss.backward()
            optim.step()
            with torch.no_grad():
                x.clamp_(0, 1)  # stay a valid image; the backbones never saw pixels outside [0, 1]
            on_step()
    except KeyboardInterrupt:
        if lowest < math.inf:
            with torch.no_grad():
                x.copy_(best)
        raise


class _BudgetSpent(Exception):
    """L-BFGS asked for an evaluation past `steps`: the optimisation ends there."""


def _run_lbfgs(
    x: torch.Tensor, objective: Callable[[], tuple[torch.Tensor, float]], *, steps: int, on_step: Callable[[], None]
) -> None:
    """L-BFGS on the pixels x for `steps` evaluations of the objective, each clamped to [0, 1] first;
    `on_step` after each evaluation. x ends as the evaluated image with the lowest loss."""
    if steps == 0:
        return
    # One L-BFGS call with max_eval = steps, so `steps` counts forward+backward passes as for Adam;
    # negative tolerances stop it from ending early on a flat stretch. The strong Wolfe line search: with a
    # fixed step of 1 a short run overshot and ended at 4x its starting loss, as coloured noise (a user's probe).
    optim = torch.optim.LBFGS(
        [x],
        lr=1.0,
        max_iter=steps,
        max_eval=steps,
        history_size=LBFGS_HISTORY,
        tolerance_grad=-1.0,
        tolerance_change=-1.0,
        line_search_fn="strong_wolfe",
    )
    best: list = [math.inf, None]  # the lowest loss evaluated, and its pixels
    evaluated = [0]

    def closure() -> torch.Tensor:
        # max_eval is checked only between iterations: a line search that began inside the budget went past it
        # (--steps 1 made 2 passes, 30 made 31), so the evaluation after the last is refused here
        if evaluated[0] == steps:
            raise _BudgetSpent
        evaluated[0] += 1
        with torch.no_grad():
            x.clamp_(0, 1)
        optim.zero_grad(set_to_none=True)
        loss, value = objective()
        loss.backward()
        if value < best[0]:
            best[:] = [value, x.detach().clone()]
        on_step()
        return loss

    try:
        optim.step(closure)
    except _BudgetSpent:
        pass
    finally:  # a Ctrl-C too: x holds the best image so far, not one halfway through a line search
        if best[1] is not None:
            with torch.no_grad():
                x.copy_(best[1])


# The pixels are optimised by their gradients whatever the caller's mode: under torch.no_grad() Adam stopped in
# autograd's traceback (L-BFGS's step enables gradients itself), and under inference_mode both did
@torch.inference_mode(False)
@torch.enable_grad()
def stylize(
    content: ImageLike,
    styles: ImageLike | Sequence[ImageLike],
    options: GatysOptions = GatysOptions(),
    *,
    net: nn.Module | None = None,
    device: str | torch.device = "cpu",
    progress: bool = True,
    nested: bool = False,
    callback: Callable[[int, torch.Tensor], None] | None = None,
    max_pixels: int = MAX_PIXELS,
    keep_on_interrupt: bool = False,
) -> StyleResult:
    """Stylise `content` with the Gram statistics of `styles` (Gatys et al.).

    content: a PIL image or an image file; resized so its longer side is `options.size` (None: kept).
    styles: one or several PIL images or files, resized to long side `options.style_size` (default: `size`);
        their Gram matrices are blended with `options.style_blend` (default: equal weights).
    options: the optimisation's knobs (see `GatysOptions` and `cyclegan stylize --help`).
    net: a backbone from `build_backbone` to reuse across calls (it must return all requested layers).
    progress: the steps on stderr (a bar on a terminal, a line each tenth of them in a log file); `nested`: under
        a caller's bar (compare's images), so a line a minute in a log file, for a slow image only.
    callback: called after each step as callback(step, x), step counting from 1 and x the current pixels
        (1, 3, H, W) in [0, 1] (the live tensor: copy what you keep); raising in it stops the optimisation
        (the web page's live preview and cancel button use this).
    max_pixels: an image file declaring more pixels is refused before it is decoded (`--max-pixels`).
    keep_on_interrupt: a KeyboardInterrupt (Ctrl-C; SIGTERM under `process.terminate_as_interrupt`) after the
        first step ends the optimisation and returns its best image so far, with `interrupted` set; without it,
        or before the first step, the KeyboardInterrupt goes on.

    Returns a `StyleResult` whose image has the resized content's size.
    """
    if not isinstance(options, GatysOptions):
        raise CycleGANError(f"options: expected a GatysOptions, got {type(options).__name__}")
    device = resolve_device(str(device))  # "gpu" or an absent CUDA: one line before any work, not a traceback
    o = options
    style_list = [styles] if isinstance(styles, (Image.Image, str, os.PathLike)) else list(styles)
    if not style_list:
        raise CycleGANError("give at least one style image")
    blend = _blend_weights(len(style_list), o.style_blend)

    start = time.perf_counter()
    # Read every image first: a wrong path should fail before a backbone is loaded.
    thin = ("the content image", "--size")  # as `check_sides` names them
    c, alpha = read_01(content, o.size, max_pixels=max_pixels, name="content", thin=thin)  # (1, 3, H, W) in [0, 1]
    style_images = [
        load_image_01(
            s,
            o.style_size or o.size,
            max_pixels=max_pixels,
            name=f"styles[{i}]",
            thin=(f"style image {os.fspath(s) if isinstance(s, (str, os.PathLike)) else i + 1}", "--style-size"),
        )
        for i, s in enumerate(style_list)
    ]
    obj = resolve_objective(o, net)
    if net is None:
        net = build_backbone(obj.backbone, [*obj.content_layers, *obj.style_layers], weights=o.weights)
    check_float32(net)
    net = net.to(device)
    c = c.to(device)
    names = [os.fspath(s) if isinstance(s, (str, os.PathLike)) else f"{i + 1}" for i, s in enumerate(style_list)]
    named_styles = dict(zip(map(str, names), style_images, strict=True))
    check_sides(net, c, named_styles, weights=o.weights)
    check_memory(net, c, named_styles, o)
    content_target, style_target = feature_targets(net, c, style_images, obj, blend)

    x = initial_image(c, o.init, o.seed)
    history: list[dict[str, float]] = []

    def objective() -> tuple[torch.Tensor, float]:
        terms = loss_terms(net, x, content_target, style_target, obj)
        # the terms read back together: one wait for the device per step (on a GPU), not one per term
        history.append(dict(zip(terms, torch.stack([v.detach() for v in terms.values()]).tolist(), strict=True)))
        if not math.isfinite(history[-1]["total"]):  # the backbone's overflow named, not a weight to lower
            with torch.no_grad():
                check_features_finite(unweighted_terms(net, x, content_target, style_target), obj.backbone, o.weights)
        check_finite(history[-1], len(history))
        return terms["total"], history[-1]["total"]

    with step_progress(o.steps, f"stylize ({obj.backbone})", enabled=progress, nested=nested) as bar:
        done = 0  # steps completed: an interrupted one has its loss in `history` already

        def on_step() -> None:
            nonlocal done
            done += 1
            bar.set_postfix({k: f"{v:.3g}" for k, v in history[-1].items()}, refresh=False)
            bar.update(1)  # after the postfix: a log line (`StepLines`) shows this step's loss
            if callback is not None:
                callback(len(history), x.detach())

        try:
            if o.optimizer == "adam":
                _run_adam(x, objective, steps=o.steps, lr=o.lr, on_step=on_step)
            else:
                _run_lbfgs(x, objective, steps=o.steps, on_step=on_step)
        except KeyboardInterrupt:
            # minutes of optimisation were lost to a Ctrl-C: the caller (`cyclegan stylize`) keeps the best so far
            if not keep_on_interrupt or done == 0:
                raise
            interrupted = True
        else:
            interrupted = False

    with torch.no_grad():
        out = x.detach().clamp(0, 1)
        if o.preserve_color:
            out = keep_content_colors(out, c)
    return StyleResult(
        image=to_pil_01(out.cpu()),
        tensor=out.cpu(),
        backbone=obj.backbone,
        content_layers=obj.content_layers,
        style_layers=obj.style_layers,
        seconds=time.perf_counter() - start,
        losses=history[:done],
        interrupted=interrupted,
        alpha=alpha,
    )


def run_stylize(opts: StylizeOptions) -> StyleResult:
    """`cyclegan stylize`: stylise `opts.content` with `opts.style` on `opts.device` ("auto" resolved) and
    save the image to `opts.out` (folders created). Returns the `StyleResult`.

    An existing `opts.out` is refused before any work unless `opts.overwrite`; an input file always. A Ctrl-C
    after the first step writes the best image so far (`result.interrupted`)."""

    # --style DIR was refused ("not a regular file (a folder)") while compare takes folders: the same rules here
    styles = still_images(opts.style, "--style", "stylize")
    refuse_named_clips(styles, opts.style, "--style")  # was warned of and left out, as a folder's clip is
    # a --style-blend of another count than a folder gave was refused after "style: N images from DIR, blended by
    # --style-blend" was said, as if the work had begun; and before the --out folder is made
    _blend_weights(len(styles.files), opts.gatys.style_blend)
    for clip in styles.clips:
        print_warning(f"warning: {escape(str(clip))}: a video clip, not an image (left out)")
    for line in styles.unread:
        print_warning(line)
    inputs = [opts.content, *styles.files]
    check_outputs([opts.out], overwrite=opts.overwrite, inputs=inputs, input_folders=styles.folders)
    device = resolve_device(opts.device)
    for path in dict.fromkeys(map(Path, inputs)):  # the first frame was taken without a word; each file once
        if (n := frame_count(path)) > 1:
            print_warning(f"warning: {escape(path)} holds {n} frames; only the first is stylised")
    with removed_on_failure([opts.out]):  # a folder made for --out goes again if the work fails
        # one stylize of --out at a time (two wrote minutes of work each, the last one kept), and a killed one's
        # temporary (`.NAME.XXXXXXXX.tmp`, hidden beside --out) removed, as translate, compare and export do
        with claim_file(opts.out, "--out"):
            # again: one that just ended wrote it
            check_outputs([opts.out], overwrite=opts.overwrite, inputs=inputs, input_folders=styles.folders)
            if styles.folders:  # how many a folder gave, before minutes of work (not before a refusal)
                folders = ", ".join(escape(str(f)) for f in styles.folders)
                how = "equally" if opts.gatys.style_blend is None else "by --style-blend"
                print_out(
                    f"style: {counted(len(styles.files), 'image')} from {folders} (sorted by name), blended {how}"
                )
            result = stylize(
                opts.content,
                styles.files,
                opts.gatys,
                device=device,
                progress=opts.progress,
                max_pixels=opts.max_pixels,
                keep_on_interrupt=True,  # the best image so far is written, and `result.interrupted` says so
            )
            image = result.image
            if result.alpha is not None and Path(opts.out).suffix.lower() in ALPHA_EXTENSIONS:
                image = result.transparent  # a cut-out stays one: its transparency was put on white for good
            elif result.alpha is not None:
                print_warning(
                    f"warning: a {Path(opts.out).suffix} file keeps no transparency: the content's transparent "
                    "pixels are on white (write a .png, .webp or .tif to keep them)"
                )
            try:  # whole or not at all; a symlink at --out is replaced, not followed
                # a stop while it is written writes it again, then goes on: it removed the finished optimisation
                _, stop = written_through_a_stop(lambda: save_image(image, opts.out))
            except OSError as e:  # a full disk, a folder made read-only meanwhile: one line, not a traceback
                raise CycleGANError(f"option '--out': cannot write {opts.out}: {e.strerror or e}") from None
    # the command exits with the stop's status, saying the image is the best of the steps done
    return result if stop is None else replace(result, interrupted=True)
