"""The paper's ResNet generator (Johnson et al. layout, as in the CycleGAN paper)."""

import torch
from torch import nn

from .layers import FloatTanh, Norm, ReflectionPad2d, norm_layer, uses_bias


class ResnetBlock(nn.Module):
    """reflect-pad, conv3x3, norm, ReLU, [dropout], reflect-pad, conv3x3, norm; plus the input."""

    def __init__(self, channels: int, *, norm: Norm, dropout: float):
        super().__init__()
        bias = uses_bias(norm)
        layers: list[nn.Module] = [
            ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=bias),
            norm_layer(norm, channels),
            nn.ReLU(True),
        ]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers += [ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias), norm_layer(norm, channels)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """c7s1-64, d128, d256, R256 x n_blocks, u128, u64, c7s1-3, tanh.

    Input (B, 3, H, W) in [-1, 1] with H and W multiples of 4; output the same shape in [-1, 1].
    """

    size_multiple = 4  # two stride-2 convs

    def __init__(self, *, ngf: int = 64, n_blocks: int = 9, norm: Norm = "instance", dropout: float = 0.0):
        super().__init__()
        bias = uses_bias(norm)
        layers: list[nn.Module] = [
            ReflectionPad2d(3),
            nn.Conv2d(3, ngf, 7, bias=bias),
            norm_layer(norm, ngf),
            nn.ReLU(True),
        ]
        for mult in (1, 2):  # downsample: ngf -> 2 ngf -> 4 ngf
            c = ngf * mult
            layers += [nn.Conv2d(c, 2 * c, 3, stride=2, padding=1, bias=bias), norm_layer(norm, 2 * c), nn.ReLU(True)]
        layers += [ResnetBlock(4 * ngf, norm=norm, dropout=dropout) for _ in range(n_blocks)]
        for mult in (4, 2):  # upsample: 4 ngf -> 2 ngf -> ngf
            c = ngf * mult
            layers += [
                nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1, bias=bias),
                norm_layer(norm, c // 2),
                nn.ReLU(True),
            ]
        layers += [ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), FloatTanh()]
        # Same indices as the reference implementation's `model.N` keys, so its files map one-to-one.
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)
