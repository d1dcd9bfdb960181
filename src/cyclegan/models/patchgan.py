"""The paper's 70x70 PatchGAN discriminator."""

import torch
from torch import nn

from .layers import Norm, norm_layer, spectral, uses_bias


class PatchGANDiscriminator(nn.Module):
    """C64 (no norm) - C128 - C256 (stride 2) - C512 (stride 1) - conv to 1; LeakyReLU 0.2, padding 1.

    `n_layers` counts the stride-2 convs (3 gives the 70x70 receptive field). Input (B, 3, H, W) in
    [-1, 1]; output (B, 1, H', W') raw patch scores (no sigmoid): 256 px gives 30x30. `spectral_norm`:
    every conv's weight spectrally normalised (a 1-Lipschitz layer; steadier early training). `in_channels`
    6: pix2pix's conditional discriminator, on the input and the (real or generated) output concatenated.
    """

    def __init__(
        self,
        *,
        ndf: int = 64,
        n_layers: int = 3,
        norm: Norm = "instance",
        spectral_norm: bool = False,
        in_channels: int = 3,
    ):
        super().__init__()
        bias = uses_bias(norm)
        sn = spectral_norm
        first = spectral(nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1), sn)
        layers: list[nn.Module] = [first, nn.LeakyReLU(0.2, True)]
        c = ndf
        for n in range(1, n_layers + 1):
            c_out = ndf * min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers += [
                spectral(nn.Conv2d(c, c_out, 4, stride=stride, padding=1, bias=bias), sn),
                norm_layer(norm, c_out),
                nn.LeakyReLU(0.2, True),
            ]
            c = c_out
        layers.append(spectral(nn.Conv2d(c, 1, 4, stride=1, padding=1), sn))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)
