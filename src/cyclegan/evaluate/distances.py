"""Distances between features: Fréchet distance and kernel distance (KID) between two sets, with
torchmetrics, and the relative L2 distance between two feature maps.

torchmetrics' FrechetInceptionDistance and KernelInceptionDistance accept any feature module; we give
them a pass-through so the features of each image set are computed once (by `features.py`) and shared
between both metrics, between directions and between checkpoints. The numbers are torchmetrics' (FD's rounding
below 0 read as 0).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.kid import KernelInceptionDistance
from torchvision.transforms.v2 import functional as TF

from ..errors import CycleGANError
from .metrics import MetricInputError

KID_SUBSET_CAP = 100  # default KID subset size: fits small test sets (horse2zebra test: 120 / 140)


class _Passthrough(nn.Module):
    """The 'feature extractor' torchmetrics calls: its inputs already are (B, D) features."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return f


@dataclass(frozen=True)
class Distances:
    """FD and KID between two feature sets; `kid_std` is the std over the random subsets."""

    fd: float
    kid: float
    kid_std: float
    kid_subset_size: int
    kid_subsets: int
    n_real: int
    n_fake: int

    def named(self, fd_name: str, kid_name: str) -> dict[str, float | int]:
        """The figures under the backbone's names, e.g. fd_lite0 / kid_lite0 / kid_lite0_std."""
        d = asdict(self)
        return {
            fd_name: d["fd"],
            kid_name: d["kid"],
            f"{kid_name}_std": d["kid_std"],
            "kid_subset_size": d["kid_subset_size"],
            "kid_subsets": d["kid_subsets"],
        }


def span_coordinates(real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Both feature sets (N, D) and (M, D) in an orthonormal basis of the span of all N + M vectors.

    When N + M < D (test sets of ~100 images, 1280- or 2048-d features) the features lie in a subspace
    of dimension <= N + M. Expressing them in an orthonormal basis of it is a rotation restricted to where
    the data are, so means' distances, covariance traces and tr sqrt(S1 S2), i.e. the Fréchet distance,
    are unchanged, while the eigenvalue problem shrinks from D x D to (N + M) x (N + M).
    (KID is NOT computed on these: its kernel depends on D.)
    """
    n = real.shape[0]
    both = torch.cat([real, fake]).double()  # (N + M, D)
    if both.shape[0] >= both.shape[1]:
        return real.double(), fake.double()
    q, _ = torch.linalg.qr(both.T)  # (D, N + M), orthonormal columns spanning every feature vector
    coords = both @ q  # (N + M, N + M)
    return coords[:n], coords[n:]


def kid_subset_size(n_real: int, n_fake: int, requested: int | None = None) -> int:
    """The KID subset size: `requested`, else min(100, n_real, n_fake). Must not exceed either set: refused in
    the `option '--kid-subset-size'` words of the option's other refusals (`must be > 1, got 1`)."""
    size = min(KID_SUBSET_CAP, n_real, n_fake) if requested is None else requested
    if size < 2 or size > min(n_real, n_fake):
        raise CycleGANError(
            f"option '--kid-subset-size' must be between 2 and the smaller set ({min(n_real, n_fake)} images), "
            f"got {size}"
        )
    return size


def feature_distances(
    real: torch.Tensor, fake: torch.Tensor, *, subset_size: int | None = None, subsets: int = 100, seed: int = 0
) -> Distances:
    """FD and KID (polynomial kernel, degree 3) between features real (N, D) and fake (M, D).

    Both are torchmetrics' computations; FD runs on the features' span coordinates (`span_coordinates`),
    which gives the same value much faster for small sets.

    KID draws `subsets` random subsets of `subset_size` from each set (seeded: repeatable) and reports
    their mean and std (one subset, std 0, when the subsets would be both sets whole). FD of a set with
    itself is 0 up to rounding (never below 0). KID of a set with itself is negative: the same images land in both
    subsets, and the unbiased estimator assumes independent draws. With both sets whole (one subset of m) it is
    exactly -2 (mean k(x, x) - mean k(x, x')) / m. On Lite0 features of one synthetic domain: -0.035 at 4
    images, -0.007 at 20, -0.0015 at 100; small next to the ~1.0 between two domains, but below the KID of
    a second sample of the same domain (-0.012, -0.002, 0.000), so not "about 0" at the scale that tells
    good translations apart.
    """

    if real.dim() != 2 or fake.dim() != 2 or real.shape[1] != fake.shape[1]:
        shapes = f"{tuple(real.shape)} and {tuple(fake.shape)}"
        raise MetricInputError(f"expected features (N, D) and (M, D), got {shapes}")
    n, m = real.shape[0], fake.shape[0]
    if min(n, m) < 2:
        raise CycleGANError(f"FD/KID need at least 2 images per set, got {n} real and {m} translated")
    size = kid_subset_size(n, m, subset_size)
    if size == n == m:  # every subset would be both sets whole: one is the estimate, and no spread is known
        subsets = 1
    dim = real.shape[1]
    real, fake = real.double().cpu(), fake.double().cpu()
    if not (real.isfinite().all() and fake.isfinite().all()):  # a generator that outputs NaN: oneMKL printed
        nan = math.nan  # "Parameter 3 was incorrect on entry to DGEBAL" on the way to the same NaN
        return Distances(fd=nan, kid=nan, kid_std=nan, kid_subset_size=size, kid_subsets=subsets, n_real=n, n_fake=m)

    real_c, fake_c = span_coordinates(real, fake)
    fid = FrechetInceptionDistance(feature=_Passthrough(real_c.shape[1]))
    fid.update(real_c, real=True)
    fid.update(fake_c, real=False)
    # a squared distance: rounding made a set's FD with itself -1e-6 to -1e-13, a report's "-0.00"
    fd = max(float(fid.compute()), 0.0)

    with warnings.catch_warnings():  # "will save all extracted features": that is what we hand it
        warnings.simplefilter("ignore", UserWarning)
        kid = KernelInceptionDistance(feature=_Passthrough(dim), subsets=subsets, subset_size=size)
    kid.update(real, real=True)
    kid.update(fake, real=False)
    with torch.random.fork_rng(devices=[]):  # torchmetrics draws the subsets from the global RNG
        torch.manual_seed(seed)
        kid_mean, kid_std = kid.compute()
    return Distances(
        fd=fd,
        kid=float(kid_mean),
        kid_std=float(kid_std),
        kid_subset_size=size,
        kid_subsets=subsets,
        n_real=n,
        n_fake=m,
    )


def feature_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Relative L2 distance ||a - b|| / ||b|| of two feature maps of equal shape (0 = equal)."""
    return float((a - b).norm() / b.norm().clamp_min(1e-12))


def kid_input(x: torch.Tensor) -> torch.Tensor:
    """(1, 3, H, W) in [0, 1] -> (3, 224, 224): short side to 224 and a centre crop, as for ImageNet."""

    x = TF.resize(x, 224, antialias=True)
    return TF.center_crop(x, [224, 224])[0].clamp(0, 1)


def kid_lite0(
    fake: Sequence[torch.Tensor], real: Sequence[torch.Tensor], *, extractor: nn.Module, seed: int = 0
) -> tuple[float, float, int]:
    """KID over Lite0 pooled features between two image sets, each a list of (3, 224, 224) in [0, 1]
    (see `kid_input`).

    extractor: `features.load_lite0()`, on the device to run on; it takes images in [-1, 1].
    The same features and KID as `cyclegan evaluate` (subsets of min(100, both set sizes), seeded).
    Returns (mean, std over subsets, subset size).
    """
    if min(len(fake), len(real)) < 2:
        raise CycleGANError("KID needs at least 2 images on each side; give more content or target images")
    d = feature_distances(
        lite0_features(real, extractor=extractor), lite0_features(fake, extractor=extractor), seed=seed
    )
    return d.kid, d.kid_std, d.kid_subset_size


def lite0_features(images: Sequence[torch.Tensor], *, extractor: nn.Module) -> torch.Tensor:
    """(N, D) Lite0 pooled features, on the CPU, of a list of (3, 224, 224) in [0, 1] (`kid_input`), 16 images per
    forward pass on the extractor's device: what `kid_lite0` compares, kept by a caller in place of the images."""
    device = next(extractor.parameters()).device
    return torch.cat(
        [extractor(torch.stack(list(images[i : i + 16])).to(device) * 2 - 1).cpu() for i in range(0, len(images), 16)]
    )
