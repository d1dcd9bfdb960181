"""The architecture recipes (`--preset`): each a set of option values, the other axis from the model family
(`--model`, `cyclegan.families`). Precedence: field default < family < preset < config file < flags."""

from __future__ import annotations

from typing import Any

from . import families
from .errors import CycleGANError, nearest
from .options import Choices

# The architecture recipes (`--preset`). A model family's own values come from its entry in `cyclegan.families`.
PRESETS: dict[str, dict[str, Any]] = {
    # The CycleGAN paper / the widely used reference implementation.
    "paper": {},
    # The classic tutorial's small model: 128 px, batch 16, BatchNorm, no pool, no decay, no identity.
    "seed": {
        "generator": "seed",
        "discriminator": "seed",
        "n_blocks": 6,
        "d_layers": 4,
        "norm": "batch",
        "init": "default",
        "size": 128,
        "load_scale": 1.0,
        "batch_size": 16,
        "lambda_identity": 0.0,
        "d_loss_weight": 1.0,
        "pool_size": 0,
        "lr_decay_fraction": 0.0,
    },
    # The best quality per CPU-minute we measured on ground truth (docs/results.md, "The fast recipe"): a
    # narrow, shallow ResNet generator (more steps in the same minutes beat a wider one) without transposed
    # convolutions (no checkerboards), a spectrally normalised PatchGAN, batch 2, a higher learning rate, and
    # an average of the generators' weights.
    "fast": {
        "ngf": 24,
        "n_blocks": 4,
        "ndf": 32,
        "size": 128,
        "upsample": "resize",
        "spectral_norm": True,
        "batch_size": 2,
        "lr": 4e-4,
        "ema_decay": 0.99,
    },
}


def preset_choices() -> Choices:
    """What `--preset` takes: an architecture recipe, or (not listed) a family's name: the paper's recipe with
    --model NAME, as the family presets of earlier versions did."""
    return Choices(tuple(PRESETS), aliases=families.names())


def check_preset(name: str | None) -> None:
    if name is not None and name not in preset_choices():
        close = nearest(name, PRESETS)
        hint = f"did you mean '{close}'? " if close else ""
        raise CycleGANError(f"unknown preset '{name}'; {hint}choose one of: {', '.join(PRESETS)}")


def split_preset(name: str) -> tuple[str, str | None]:
    """(the architecture recipe, the family it names or None): a family's name as a preset means `paper`."""
    check_preset(name)
    return (name, None) if name in PRESETS else ("paper", name)
