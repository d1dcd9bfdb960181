"""The paper's ResNet generator (Johnson et al. layout, as in the CycleGAN paper)."""

import torch
from torch import nn

from .layers import (
    Downsample,
    FloatTanh,
    Norm,
    Padding,
    Upsample,
    at_any_size,
    downsample_layers,
    norm_layer,
    pad_layer,
    upsample_layers,
    uses_bias,
)


class ResnetBlock(nn.Module):
    """pad, conv3x3, norm, ReLU, [dropout], pad, conv3x3, norm; plus the input (padding: reflect or zeros).
    `dilation`: of both convs, padded by as much, so the block keeps its input's size."""

    def __init__(self, channels: int, *, norm: Norm, dropout: float, padding: Padding = "reflect", dilation: int = 1):
        super().__init__()
        bias = uses_bias(norm)
        d = dilation
        layers: list[nn.Module] = [
            pad_layer(padding, d),
            nn.Conv2d(channels, channels, 3, bias=bias, dilation=d),
            norm_layer(norm, channels),
            nn.ReLU(True),
        ]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers += [
            pad_layer(padding, d),
            nn.Conv2d(channels, channels, 3, bias=bias, dilation=d),
            norm_layer(norm, channels),
        ]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """c7s1-64, d128, d256, R256 x n_blocks, u128, u64, c7s1-3, tanh.

    Input (B, 3, H, W) in [-1, 1], any H and W; output the same shape in [-1, 1]. The layers need sides that
    are multiples of 4 (two stride-2 steps; a 65 px side came out 68) and at least `least` px (8, more with
    reflection pads wider than the 1/4-size map): another size is padded (reflect, bottom and right) and the
    output cropped back, as `cyclegan.translate` does; at such sizes, training's, nothing is padded.
    `downsample`/`upsample`: how the d and u layers resample (see `models.layers`); the paper's
    stride/transpose keep the reference implementation's layer indices, so its files load one-to-one.
    `residual_output`: the output is tanh(atanh(x) + last conv), the last conv starting at zero, so an
    untrained generator returns its input (the photo, not noise) and training learns the change.
    `padding`: before each stride-1 conv, reflection (the paper's) or zeros; the same layer indices either way.
    `block_dilation`: of the residual blocks' convs (1, the paper's); the same parameters whatever it is.
    """

    size_multiple = 4  # two x2 resamplings

    def __init__(
        self,
        *,
        ngf: int = 64,
        n_blocks: int = 9,
        norm: Norm = "instance",
        dropout: float = 0.0,
        downsample: Downsample = "stride",
        upsample: Upsample = "transpose",
        residual_output: bool = False,
        padding: Padding = "reflect",
        block_dilation: int = 1,
    ):
        super().__init__()
        bias = uses_bias(norm)
        if padding == "reflect":  # the blocks' reflection pads need a 1/4-size map wider than the dilation
            self.min_size = self.size_multiple * (block_dilation + 1)
        # The smallest side it takes (`tiling.least_size`): a 1-pixel bottleneck fails instance norm.
        self.least = max(2 * self.size_multiple, getattr(self, "min_size", 0))
        layers: list[nn.Module] = [
            pad_layer(padding, 3),
            nn.Conv2d(3, ngf, 7, bias=bias),
            norm_layer(norm, ngf),
            nn.ReLU(True),
        ]
        for mult in (1, 2):  # downsample: ngf -> 2 ngf -> 4 ngf
            layers += downsample_layers(ngf * mult, ngf * mult * 2, kind=downsample, norm=norm)
        layers += [
            ResnetBlock(4 * ngf, norm=norm, dropout=dropout, padding=padding, dilation=block_dilation)
            for _ in range(n_blocks)
        ]
        for mult in (4, 2):  # upsample: 4 ngf -> 2 ngf -> ngf
            layers += upsample_layers(ngf * mult, ngf * mult // 2, kind=upsample, norm=norm, padding=padding)
        last = nn.Conv2d(ngf, 3, 7)
        self.residual_output = residual_output
        if residual_output:
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
            last.skip_init = True  # `models.init_weights` leaves it at zero
        layers += [pad_layer(padding, 3), last]
        if not residual_output:
            layers.append(FloatTanh())
        # Same indices as the reference implementation's `model.N` keys, so its files map one-to-one.
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return at_any_size(lambda t: self._output(t, self.model(t)), x, self.size_multiple, self.least)

    def _output(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        if not self.residual_output:
            return h
        # atanh of the input (kept inside (-1, 1)) plus the change, squashed back: identity at start.
        base = torch.atanh(x.float().clamp(-0.999, 0.999))
        return torch.tanh(base + h.float())

    def forward_features(
        self, x: torch.Tensor, layers: tuple[int, ...], *, encode_only: bool = False
    ) -> tuple[torch.Tensor | None, list[torch.Tensor]]:
        """(the output or, with `encode_only`, None; the outputs of `self.model[i]` for i in `layers`, in
        order): what CUT's PatchNCE compares. `encode_only` stops after the last of `layers`. Unpadded: H and
        W as training gives them (multiples of 4, at least `least`)."""
        feats, h, last = [], x, max(layers)
        for i, layer in enumerate(self.model):
            h = layer(h)
            if i in layers:
                feats.append(h)
            if encode_only and i == last:
                return None, feats
        return self._output(x, h), feats
