"""CUT's projection head H (Park et al. 2020): per encoder layer, a two-layer MLP applied to features sampled
at the same patch positions of the generator's input and output, then L2-normalised (PatchNCE compares them).

Layer `i` of `nce_layers` is the output of the resnet generator's `model[i]` (`ResnetGenerator.forward_features`);
its channel count follows from the modules before it, so H is built from the config alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def layer_channels(generator: nn.Module, layers: Sequence[int]) -> list[int]:
    """Channels of the output of `generator.model[i]` for each i in `layers`: the last conv's at or before i
    (3, the image's, before the first conv)."""
    out = []
    for i in layers:
        c = 3
        for layer in list(generator.model)[: i + 1]:
            if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
                c = layer.out_channels
        out.append(c)
    return out


class PatchSampleMLP(nn.Module):
    """H: for each layer's features (B, C_l, H_l, W_l), the features at `num_patches` random positions (the
    same positions in every image of the batch) through Linear(C_l, dim), ReLU, Linear(dim, dim), then
    L2-normalised: (B * P_l, dim) per layer, P_l = min(num_patches, H_l W_l)."""

    def __init__(self, channels: Sequence[int], *, dim: int = 256, init_gain: float = 0.02):
        super().__init__()
        self.mlps = nn.ModuleList(
            nn.Sequential(nn.Linear(c, dim), nn.ReLU(True), nn.Linear(dim, dim)) for c in channels
        )
        for m in self.modules():  # as the CUT code initialises its heads: N(0, 0.02), zero biases
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, init_gain)
                nn.init.zeros_(m.bias)

    def forward(
        self, feats: Sequence[torch.Tensor], num_patches: int, patch_ids: Sequence[torch.Tensor] | None = None
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """(the projected samples per layer, the patch positions used). Positions are drawn from torch's global
        CPU generator (saved in checkpoints) unless `patch_ids` gives them (the output's, matching the input's)."""
        out, ids = [], []
        for i, (feat, mlp) in enumerate(zip(feats, self.mlps)):
            flat = feat.permute(0, 2, 3, 1).flatten(1, 2)  # (B, H*W, C)
            if patch_ids is None:
                idx = torch.randperm(flat.shape[1])[: min(num_patches, flat.shape[1])].to(feat.device)
            else:
                idx = patch_ids[i]
            sample = mlp(flat[:, idx, :].flatten(0, 1)).float()  # (B * P, dim)
            out.append(sample / (sample.norm(dim=1, keepdim=True) + 1e-7))
            ids.append(idx)
        return out, ids
