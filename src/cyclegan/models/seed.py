"""The classic tutorial's small CycleGAN (the `seed` preset): 4x4 stride-2 convs, BatchNorm, ReLU."""

import torch
from torch import nn

from .layers import FloatTanh, Norm, at_any_size, norm_layer, uses_bias


def _conv(c_in: int, c_out: int, norm: Norm, *, stride: int = 2, transpose: bool = False) -> list[nn.Module]:
    bias = uses_bias(norm)
    conv = nn.ConvTranspose2d if transpose else nn.Conv2d
    return [conv(c_in, c_out, 4, stride=stride, padding=1, bias=bias), norm_layer(norm, c_out)]


class SeedResidualBlock(nn.Module):
    """conv3x3 + norm, ReLU, conv3x3 + norm, plus the input (zero padding, as the tutorial)."""

    def __init__(self, channels: int, *, norm: Norm, dropout: float):
        super().__init__()
        bias = uses_bias(norm)
        layers: list[nn.Module] = [
            nn.Conv2d(channels, channels, 3, padding=1, bias=bias),
            norm_layer(norm, channels),
            nn.ReLU(True),
        ]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers += [nn.Conv2d(channels, channels, 3, padding=1, bias=bias), norm_layer(norm, channels)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class SeedGenerator(nn.Module):
    """3 stride-2 convs (3 -> ngf -> 2 ngf -> 4 ngf), residual blocks, 3 transposed convs back, tanh.

    Input (B, 3, H, W) in [-1, 1], any H and W; output the same shape in [-1, 1]. The layers need sides that
    are multiples of 8 (three stride-2 steps; a 65 px side came out 64) and at least 16 px: another size is
    padded (reflect, bottom and right) and the output cropped back, as `cyclegan.translate` does; at such
    sizes, training's, nothing is padded.
    """

    size_multiple = 8

    def __init__(self, *, ngf: int = 64, n_blocks: int = 6, norm: Norm = "batch", dropout: float = 0.0):
        super().__init__()
        layers: list[nn.Module] = []
        for c_in, c_out in ((3, ngf), (ngf, 2 * ngf), (2 * ngf, 4 * ngf)):
            layers += [*_conv(c_in, c_out, norm), nn.ReLU(True)]
        layers += [SeedResidualBlock(4 * ngf, norm=norm, dropout=dropout) for _ in range(n_blocks)]
        for c_in, c_out in ((4 * ngf, 2 * ngf), (2 * ngf, ngf)):
            layers += [*_conv(c_in, c_out, norm, transpose=True), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(ngf, 3, 4, stride=2, padding=1), FloatTanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return at_any_size(self.model, x, self.size_multiple, 2 * self.size_multiple)  # as `tiling.least_size`


class SeedDiscriminator(nn.Module):
    """Stride-2 4x4 convs (3 -> ndf, no norm; then doubling, with norm), ReLU, a 4x4 stride-1 conv to 1.

    Input (B, 3, H, W) in [-1, 1]; output (B, 1, H / 2**n_layers - 1, W / 2**n_layers - 1) raw scores.
    """

    def __init__(self, *, ndf: int = 64, n_layers: int = 4, norm: Norm = "batch"):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, ndf, 4, stride=2, padding=1), nn.ReLU(True)]
        c = ndf
        for _ in range(n_layers - 1):
            layers += [*_conv(c, 2 * c, norm), nn.ReLU(True)]
            c *= 2
        layers.append(nn.Conv2d(c, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)
