"""Ablation of training recipes on the synthetic summer/winter world, scored against the truth.

Each variant is a set of training options on top of a base; each run trains on the demo's data (400 scenes
per domain at 64 px, or --size) for the same wall-clock budget on this machine (its seconds per step
measured first, as `cyclegan demo` does, so the LR schedule still ends at 0), then translates the paired
test scenes both ways and scores PSNR/SSIM against the true renderings (`cyclegan.demo.score`).

    python benchmarks/ablate.py --variants fast fast-no-ema paper --seeds 0 1 2 --budget 240 --out ablation.jsonl

--steps-from FILE.json ({variant: seconds per step}) fixes the step counts from figures measured on
another machine (e.g. a 2-core CPU) instead of timing here: the same runs, faster, on a GPU.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

# Options on top of a preset, by variant name.
VARIANTS: dict[str, dict] = {
    "demo-old": {
        "preset": "seed",
        "size": 64,
        "batch_size": 4,
        "ngf": 32,
        "ndf": 32,
        "norm": "instance",
        "lr": 4e-4,
        "lr_decay_fraction": 0.5,
        "lambda_identity": 0.5,
    },
    "paper": {"preset": "paper", "size": 64},
    "plain": {
        "preset": "paper",
        "size": 64,
        "ngf": 32,
        "ndf": 32,
        "n_blocks": 6,
        "batch_size": 4,
        "lr": 4e-4,
        "spectral_norm": True,
        "pool_size": 50,
    },
    "fast": {"preset": "fast"},  # the preset as it is now
}
# The first `fast` (what the first ablations varied): the ablations below are written against it, so their
# figures stay reproducible whatever the preset becomes. The preset today is fast-b2-ngf24-b4.
FAST_V1 = {
    "preset": "paper",
    "ngf": 32,
    "ndf": 32,
    "n_blocks": 6,
    "upsample": "resize",
    "spectral_norm": True,
    "batch_size": 4,
    "lr": 4e-4,
    "ema_decay": 0.999,
}
VARIANTS["fast-v1"] = FAST_V1
ABLATIONS: dict[str, dict] = {  # the first fast, minus (or plus, or changing) one thing
    "fast-transpose": {"upsample": "transpose", "downsample": "stride"},
    "fast-resize": {"upsample": "resize", "downsample": "stride"},
    "fast-antialias": {"upsample": "antialias", "downsample": "antialias"},
    "fast-no-ema": {"ema_decay": 0.0},
    "fast-ema-0.99": {"ema_decay": 0.99},
    "fast-ema-0.995": {"ema_decay": 0.995},
    "fast-ema-0.9995": {"ema_decay": 0.9995},
    "fast-patchgan": {"discriminator": "patchgan"},
    "fast-projected": {"discriminator": "projected"},
    "fast-both": {"discriminator": "patchgan+projected"},
    "fast-no-sn": {"spectral_norm": False},
    "fast-diffaug": {"diffaug": "color,translation,cutout"},
    "fast-diffaug-ct": {"diffaug": "color,translation"},
    "fast-no-diffaug": {"diffaug": ""},
    "fast-hinge": {"gan_loss": "hinge"},
    "fast-lsgan": {"gan_loss": "lsgan"},
    "fast-residual": {"residual_output": True},
    "fast-r1": {"r1_gamma": 0.1},
    "fast-lr2e-4": {"lr": 2e-4},
    "fast-lr8e-4": {"lr": 8e-4},
    "fast-batch2": {"batch_size": 2},
    "fast-batch8": {"batch_size": 8},
    "fast-ngf48": {"ngf": 48},
    "fast-ngf24": {"ngf": 24},
    "fast-blocks4": {"n_blocks": 4},
    "fast-blocks9": {"n_blocks": 9},
    "fast-no-pool": {"pool_size": 0},
    "fast-idt0": {"lambda_identity": 0.0},
    "fast-idt1": {"lambda_identity": 1.0},
    "fast-cycle5": {"lambda_cycle": 5.0},
    "fast-decay0.3": {"lr_decay_fraction": 0.3},
    "fast-decay0.8": {"lr_decay_fraction": 0.8},
    "fast-b2-ema0.99": {"batch_size": 2, "ema_decay": 0.99},
    "fast-b1-ema0.99": {"batch_size": 1, "ema_decay": 0.99},
    "fast-b2-transpose": {"batch_size": 2, "upsample": "transpose"},
    "fast-b2-transpose-ema0.99": {"batch_size": 2, "upsample": "transpose", "ema_decay": 0.99},
    "fast-b2-ngf24": {"batch_size": 2, "ema_decay": 0.99, "ngf": 24},
    "fast-b2-decay0.8": {"batch_size": 2, "ema_decay": 0.99, "lr_decay_fraction": 0.8},
    "fast-b2-idt1": {"batch_size": 2, "ema_decay": 0.99, "lambda_identity": 1.0},
    "fast-b2-ema0.995": {"batch_size": 2, "ema_decay": 0.995},
    "fast-b2-ngf16": {"batch_size": 2, "ema_decay": 0.99, "ngf": 16},
    "fast-b2-ngf24-b4": {"batch_size": 2, "ema_decay": 0.99, "ngf": 24, "n_blocks": 4},
}
VARIANTS.update({k: {**FAST_V1, **v} for k, v in ABLATIONS.items()})
# The preset as it is now, with one thing changed (the final ablation table): "fast+X".
FAST_NOW: dict[str, dict] = {
    "fast+transpose": {"upsample": "transpose"},
    "fast+no-ema": {"ema_decay": 0.0},
    "fast+no-sn": {"spectral_norm": False},
    "fast+batch4": {"batch_size": 4},
    "fast+r6-32": {"ngf": 32, "n_blocks": 6},
    "fast+lr2e-4": {"lr": 2e-4},
    "fast+projected": {"discriminator": "patchgan+projected"},
    "fast+diffaug": {"diffaug": "color,translation,cutout"},
    "fast+hinge": {"gan_loss": "hinge"},
    "fast+idt1": {"lambda_identity": 1.0},
    "fast+ndf16": {"ndf": 16},
    "fast+ngf16": {"ngf": 16},
    "fast+cycle5": {"lambda_cycle": 5.0},
    "fast+decay0.3": {"lr_decay_fraction": 0.3},
    "fast+residual": {"residual_output": True},
    "fast+residual-idt0": {"residual_output": True, "lambda_identity": 0.0},
    # margin candidates for winter -> summer (issue 12): a discriminator whose patches (34 px) are smaller than
    # the 64 px image, so it judges texture and not the layout; the same with narrower generators
    "fast+dl2": {"d_layers": 2},
    "fast+dl2-ngf16": {"d_layers": 2, "ngf": 16},
    "fast+lr6e-4": {"lr": 6e-4},
    "fast+no-pool": {"pool_size": 0},
    "fast+cycle15": {"lambda_cycle": 15.0},
    "fast+dl2-no-pool": {"d_layers": 2, "pool_size": 0},
    "fast+dl2-no-pool-lr6e-4": {"d_layers": 2, "pool_size": 0, "lr": 6e-4},
    "fast+dl2-no-pool-beta2": {"d_layers": 2, "pool_size": 0, "beta2": 0.99},
}
VARIANTS.update({k: {"preset": "fast", **v} for k, v in FAST_NOW.items()})
# The demo's recipe (DEMO_OPTIONS) and candidates for an fp32 CPU's budget (issue 23): the first fraction of
# the steps at half size (32 px), where a step costs about 0.4 of a 64 px one.
DEMO_NOW = {"preset": "fast", "d_layers": 2, "pool_size": 0}
VARIANTS.update(
    {
        "demo": DEMO_NOW,
        "demo+half50": {**DEMO_NOW, "half_size_fraction": 0.5},
        "demo+half67": {**DEMO_NOW, "half_size_fraction": 0.67},
        "demo+half80": {**DEMO_NOW, "half_size_fraction": 0.8},
        "demo+idt0": {**DEMO_NOW, "lambda_identity": 0.0},
        "demo+idt0.2": {**DEMO_NOW, "lambda_identity": 0.2},
        "demo+idt0+half50": {**DEMO_NOW, "lambda_identity": 0.0, "half_size_fraction": 0.5},
        "demo+decay1": {**DEMO_NOW, "lr_decay_fraction": 1.0},
        "demo+decay1-lr6e-4": {**DEMO_NOW, "lr_decay_fraction": 1.0, "lr": 6e-4},
        "demo+decay1+half67": {**DEMO_NOW, "lr_decay_fraction": 1.0, "half_size_fraction": 0.67},
        "demo+decay1-lr8e-4": {**DEMO_NOW, "lr_decay_fraction": 1.0, "lr": 8e-4},
        "demo+decay1-lr1e-3": {**DEMO_NOW, "lr_decay_fraction": 1.0, "lr": 1e-3},
        "demo+decay1-lr6e-4+half67": {**DEMO_NOW, "lr_decay_fraction": 1.0, "lr": 6e-4, "half_size_fraction": 0.67},
        "demo+decay1-lr6e-4+ls1": {**DEMO_NOW, "lr_decay_fraction": 1.0, "lr": 6e-4, "load_scale": 1.0},
        "demo+nb3": {**DEMO_NOW, "n_blocks": 3},
        "demo+nb1": {**DEMO_NOW, "n_blocks": 1},
        "demo+nb2-ngf32": {**DEMO_NOW, "n_blocks": 2, "ngf": 32},
        "demo+nb3-decay1-lr6e-4": {**DEMO_NOW, "n_blocks": 3, "lr_decay_fraction": 1.0, "lr": 6e-4},
        "demo+nb2": {**DEMO_NOW, "n_blocks": 2},
        "demo+nb2-bs1": {**DEMO_NOW, "n_blocks": 2, "batch_size": 1},  # the paper's batch: more, cheaper steps
        "demo+nb2-bs1-lr2e-4": {**DEMO_NOW, "n_blocks": 2, "batch_size": 1, "lr": 2e-4},
        "demo+nb2-bs1-lr6e-4": {**DEMO_NOW, "n_blocks": 2, "batch_size": 1, "lr": 6e-4},
        "demo+nb1-bs1": {**DEMO_NOW, "n_blocks": 1, "batch_size": 1},
        "demo+nb2-ema0.995": {**DEMO_NOW, "n_blocks": 2, "ema_decay": 0.995},  # the generators' weight average
        "demo+nb2-ema0.98": {**DEMO_NOW, "n_blocks": 2, "ema_decay": 0.98},
        # the two time-scale update rule: the discriminators' LR apart from the generators' 4e-4
        "demo+nb2-lrd8e-4": {**DEMO_NOW, "n_blocks": 2, "lr_d": 8e-4},
        "demo+nb2-lrd1.6e-3": {**DEMO_NOW, "n_blocks": 2, "lr_d": 1.6e-3},
        "demo+nb2-lrd2e-4": {**DEMO_NOW, "n_blocks": 2, "lr_d": 2e-4},
        "demo+nb2-lrd1e-4": {**DEMO_NOW, "n_blocks": 2, "lr_d": 1e-4},
        "demo+nb2-lrd5e-5": {**DEMO_NOW, "n_blocks": 2, "lr_d": 5e-5},
        # the pix2pix U-Net as both generators (6 levels at 64 px, transposed convs up): 0.73 of the 2-block step
        "demo+unet": {**DEMO_NOW, "generator": "unet", "upsample": "transpose"},
        "demo+unet-ngf32": {**DEMO_NOW, "generator": "unet", "upsample": "transpose", "ngf": 32},
        "demo+decay1-lr6e-4+cyc5": {**DEMO_NOW, "lr_decay_fraction": 1.0, "lr": 6e-4, "lambda_cycle": 5.0},
    }
)
# The demo's recipe since --lr-d (DEMO_OPTIONS: 2 blocks, discriminators at 1e-4) and candidates on top of it.
DEMO_LRD = {**DEMO_NOW, "n_blocks": 2, "lr_d": 1e-4}
VARIANTS.update(
    {
        "demo2": DEMO_LRD,
        "demo2+init-default": {**DEMO_LRD, "init": "default"},  # PyTorch's init instead of N(0, 0.02)
        "demo2+lr6e-4": {**DEMO_LRD, "lr": 6e-4},  # faster generators, now that the discriminators are slower
        "demo2+lr8e-4-lrd2e-4": {**DEMO_LRD, "lr": 8e-4, "lr_d": 2e-4},
        "demo2+beta1-0.9": {**DEMO_LRD, "beta1": 0.9},
        "demo2+nb1": {**DEMO_LRD, "n_blocks": 1},  # 0.86 of the 2-block step (8 rounds, AVX2): more steps
        # training on random crops of the 64 px scenes at their own scale (48 or 56 px windows: `train_size`),
        # not on 64 px crops of the scenes enlarged 1.12x: cheaper steps, and the test's scale; scored at 64 px
        "demo2+crop48": {**DEMO_LRD, "train_size": 48, "load_scale": 64 / 48},
        "demo2+crop56": {**DEMO_LRD, "train_size": 56, "load_scale": 64 / 56},
    }
)
# The demo's recipe since one residual block (DEMO_OPTIONS) and loss weights on top of it: the identity term is
# lambda_identity x lambda_cycle (5 in the demo), so each variant says both.
DEMO_NB1 = {**DEMO_LRD, "n_blocks": 1}
VARIANTS.update(
    {
        "demo3": DEMO_NB1,
        "demo3+idt1": {**DEMO_NB1, "lambda_identity": 1.0},  # identity 10, cycle 10
        "demo3+cyc5-idt1": {**DEMO_NB1, "lambda_cycle": 5.0, "lambda_identity": 1.0},  # identity 5, cycle 5
        "demo3+cyc20-idt0.25": {**DEMO_NB1, "lambda_cycle": 20.0, "lambda_identity": 0.25},  # identity 5, cycle 20
        "demo3+lr6e-4": {**DEMO_NB1, "lr": 6e-4},
        "demo3+cyc5": {**DEMO_NB1, "lambda_cycle": 5.0},  # identity 2.5, cycle 5
        "demo3+cyc3-idt1.67": {**DEMO_NB1, "lambda_cycle": 3.0, "lambda_identity": 5 / 3},  # identity 5, cycle 3
        "demo3+cyc2-idt2.5": {**DEMO_NB1, "lambda_cycle": 2.0, "lambda_identity": 2.5},  # identity 5, cycle 2
    }
)
# The demo's recipe since the lighter cycle (DEMO_OPTIONS), and what might learn the grids' rarer objects (the
# snow-roofed house) in the AVX2 class's steps: the learning rates, a shorter decay, the adversarial loss, Adam's betas.
DEMO4 = {**DEMO_NB1, "lambda_cycle": 3.0, "lambda_identity": 5 / 3}
VARIANTS.update(
    {
        "demo4": DEMO4,
        "demo4+lr6e-4": {**DEMO4, "lr": 6e-4},
        "demo4+decay0.3": {**DEMO4, "lr_decay_fraction": 0.3},
        "demo4+lrd2e-4": {**DEMO4, "lr_d": 2e-4},  # the discriminators at half the generators' rate, not a quarter
        "demo4+hinge": {**DEMO4, "gan_loss": "hinge"},  # the hinge adversarial loss instead of least squares
        "demo4+beta2-0.99": {**DEMO4, "beta2": 0.99},  # Adam's second moment over ~100 steps, not ~1000
        "demo4+beta2-0.95": {**DEMO4, "beta2": 0.95},  # over ~20 steps
        "demo4+beta1-0-beta2-0.99": {**DEMO4, "beta1": 0.0, "beta2": 0.99},  # StyleGAN2's Adam: no first moment
    }
)
# The demo's recipe since Adam's beta2 0.99 (DEMO_OPTIONS), and faster generators with it: might the snow-roofed
# house come sooner than the ~3500 steps it needs (docs/results.md, "How many steps the house needs")?
DEMO5 = {**DEMO4, "beta2": 0.99}  # the same options as "demo4+beta2-0.99" above, under the name later screens use
VARIANTS.update(
    {
        "demo5": DEMO5,
        "demo5+lr6e-4": {**DEMO5, "lr": 6e-4},
        "demo5+lr6e-4-lrd1.5e-4": {**DEMO5, "lr": 6e-4, "lr_d": 1.5e-4},  # the discriminators still at a quarter
        "demo5+zeros": {**DEMO5, "padding": "zeros"},  # no mirrored twin of an object cut by the edge
        "demo5+fp32": {**DEMO5, "precision": "fp32"},  # the same two computed as the AVX2 class computes
        "demo5+zeros+fp32": {**DEMO5, "padding": "zeros", "precision": "fp32"},
    }
)
# The demo's recipe since zero padding (DEMO_OPTIONS), and what might draw the blue-grey house of the grids' last
# row, which the generators paint as a green blob (docs/results.md, "What the last house blob follows", and "The last
# house: recipes screened for it" for what these measured): the cycle's and the identity term's weights, more context
# per pixel (a dilated block), more blocks, wider generators.
DEMO6 = {**DEMO5, "padding": "zeros"}  # "demo5+zeros" under the name later screens use
VARIANTS.update(
    {
        "demo6": DEMO6,
        "demo6+fp32": {**DEMO6, "precision": "fp32"},
        "demo6+cyc10+fp32": {**DEMO6, "lambda_cycle": 10.0, "lambda_identity": 0.5, "precision": "fp32"},
        "demo6+nb2+fp32": {**DEMO6, "n_blocks": 2, "precision": "fp32"},
        "demo6+dil2+fp32": {**DEMO6, "block_dilation": 2, "precision": "fp32"},  # the block reaches 2x as far
        # the identity term at 10 (cycle 3): what keeps the colours a summer picture already has, the walls'
        "demo6+idt10+fp32": {**DEMO6, "lambda_identity": 10 / 3, "precision": "fp32"},
        "demo6+cyc2+fp32": {**DEMO6, "lambda_cycle": 2.0, "lambda_identity": 2.5, "precision": "fp32"},  # idt 5
        # more capacity at the same steps (costlier steps): is the house a matter of the generators' size?
        "demo6+ngf32+fp32": {**DEMO6, "ngf": 32, "precision": "fp32"},
        "demo6+nb3+fp32": {**DEMO6, "n_blocks": 3, "precision": "fp32"},
        # one image per domain per step (the paper's batch): 1.63x the steps in the AVX2 demo's minutes
        "demo6+bs1+fp32": {**DEMO6, "batch_size": 1, "precision": "fp32"},
        # the schedule: the LR held for 75 % of the steps, not half (more steps at the full rate), and the
        # discriminators at half the generators' rate, not a quarter (blobs judged sooner)
        "demo6+decay0.25+fp32": {**DEMO6, "lr_decay_fraction": 0.25, "precision": "fp32"},
        "demo6+lrd2e-4+fp32": {**DEMO6, "lr_d": 2e-4, "precision": "fp32"},
        # discriminators of 3 stride-2 layers (70 px patches: the whole image, the house with its surroundings)
        "demo6+dl3+fp32": {**DEMO6, "d_layers": 3, "precision": "fp32"},
        # the schedule the other way: the LR decaying over the last 75 % of the steps (a longer fine phase), and
        # Adam without momentum (beta1 0, as StyleGAN2: the generators follow the discriminators' latest verdict)
        "demo6+decay0.75+fp32": {**DEMO6, "lr_decay_fraction": 0.75, "precision": "fp32"},
        "demo6+beta1-0+fp32": {**DEMO6, "beta1": 0.0, "precision": "fp32"},
        # the discriminators without spectral norm (they learn faster, and `fast+no-sn` scored within noise), and
        # the CUT code's anti-aliased upsampling (a fixed low-pass before the 3x3 conv, not a nearest resize)
        "demo6+no-sn+fp32": {**DEMO6, "spectral_norm": False, "precision": "fp32"},
        "demo6+upaa+fp32": {**DEMO6, "upsample": "antialias", "precision": "fp32"},
        # the generators first taught to return their input (300 steps, no discriminators): the house's walls kept
        # from the start rather than carved out of a green field later. Not an option of the package: it needs
        # `git apply benchmarks/results/identity_warmup_prototype.patch` (docs/results.md, "The last house")
        "demo6+wu300+fp32": {**DEMO6, "identity_warmup": 300, "precision": "fp32"},
        # a wider discriminator (48 filters, not 32: a judge with room to learn that a green wall under a red roof
        # is no summer house) and the CUT code's anti-aliased downsampling (a blur before each stride-2 conv)
        "demo6+ndf48+fp32": {**DEMO6, "ndf": 48, "precision": "fp32"},
        "demo6+downaa+fp32": {**DEMO6, "downsample": "antialias", "precision": "fp32"},
        # the first half or two thirds of the steps at half size (32 px: a step about 0.4 of a 64 px one), the wall's
        # colour learnt on many more cheap steps before the house's shape at full size
        "demo6+half50+fp32": {**DEMO6, "half_size_fraction": 0.5, "precision": "fp32"},
        "demo6+half67+fp32": {**DEMO6, "half_size_fraction": 0.67, "precision": "fp32"},
        # no instance norm in the generators: each image's mean colour kept, so the blue-grey wall is not read relative
        # to a snowy scene's statistics (it is nearly the winter sky's colour)
        "demo6+norm-none+fp32": {**DEMO6, "norm": "none", "precision": "fp32"},
    }
)
# The model families (issue 15) at the fast preset's scale: CUT and FastCUT with its networks and optimiser,
# pix2pix (on the paired training scenes: the upper bound) with a U-Net of similar width.
FAMILIES: dict[str, dict] = {
    "cut-fast": {"preset": "fast", "family": "cut"},
    "fastcut-fast": {"preset": "fast", "family": "fastcut"},
    # FastCUT's diagnosis: its PatchNCE weight (10) or its flip-equivariance as the reason it does not translate
    "fastcut-fast-nce1": {"preset": "fast", "family": "fastcut", "lambda_nce": 1.0},
    "fastcut-fast-noflip": {"preset": "fast", "family": "fastcut", "flip_equivariance": False},
    "cut": {"preset": "cut", "size": 64},  # the CUT paper's networks (6 blocks at 64 px, ngf 64)
    "pix2pix-fast": {
        "preset": "pix2pix",
        "size": 64,
        "ngf": 24,
        "ndf": 32,
        "batch_size": 2,
        "lr": 4e-4,
        "ema_decay": 0.99,
        "spectral_norm": True,
    },
    "pix2pix": {"preset": "pix2pix", "size": 64},
}
VARIANTS.update(FAMILIES)
# The demo as two one-sided FastCUT models (`--lambda-nce 1`), one per direction, each in half the demo's minutes: a
# FastCUT step costs under half a CycleGAN one, and PatchNCE ties each output patch to its own input patch, the
# argument for the blue-grey wall that only the cycle makes in CycleGAN ("The last house" in docs/results.md).
# The demo's data options (34 px discriminators, no pool, zero padding, Adam's beta2 0.99), 1 or 4 blocks.
FC_DEMO = {
    "preset": "fast",
    "family": "fastcut",
    "lambda_nce": 1.0,
    "d_layers": 2,
    "pool_size": 0,
    "padding": "zeros",
    "beta2": 0.99,
    "precision": "fp32",
}
VARIANTS.update(
    {
        "fc-demo+nb1+AtoB+fp32": {**FC_DEMO, "n_blocks": 1},
        "fc-demo+nb1+BtoA+fp32": {**FC_DEMO, "n_blocks": 1, "direction": "BtoA"},
        "fc-demo+AtoB+fp32": FC_DEMO,
        "fc-demo+BtoA+fp32": {**FC_DEMO, "direction": "BtoA"},
    }
)


def trained_directions(options: dict) -> list[str]:
    """The directions a variant's model translates: both for CycleGAN, the trained one for the one-generator
    families."""
    from cyclegan.config import resolve
    from cyclegan.families import directions_of

    return list(directions_of(resolve(training_options(options)).model))


def data_folder(work: Path, options: dict, size: int) -> Path:
    """The synthetic world at `size` px: paired training scenes for pix2pix, unpaired for the others (the same
    test scenes either way)."""
    paired = options.get("family") == "pix2pix" or options.get("preset") == "pix2pix"
    return work / f"data{size}{'-paired' if paired else ''}"


def train_size(options: dict) -> dict:
    """A variant's `train_size` (crops of the world's scenes smaller than the scenes) as the `size` option; the
    world, the data folder and the scoring stay at --size."""
    return {"size": options["train_size"]} if "train_size" in options else {}


def training_options(options: dict) -> dict:
    """A variant's options as `cyclegan train` takes them (without the screen's own `train_size`)."""
    return {k: v for k, v in options.items() if k != "train_size"}


def parse_variant(name: str, size: int) -> tuple[str, int]:
    """A variant name, NAME or NAME@SIZE (at another image size than --size) -> (NAME, SIZE)."""
    base, _, at = name.partition("@")
    return base, int(at) if at else size


def make_data(root: Path, size: int, seed: int, scenes: int = 400) -> Path:
    """The demo's world (400 training scenes per domain, 40 paired test scenes) in `root`; with `scenes` other
    than 400, the same test scenes and the first `scenes` training scenes of each domain, or all 400 and more
    (A: scenes 2000 on, B: after A's), disjoint from the test scenes and from each other."""
    from PIL import Image

    from cyclegan.data.synthetic import SyntheticOptions, render, scene_for, write_dataset

    done = root / ".complete"  # written last: an interrupted rendering is redone, not reused
    if done.exists():
        if (made := int(done.read_text() or 400)) != scenes:
            sys.exit(f"{root} holds a world of {made} scenes per domain, not {scenes}: use another --work")
        return root
    paired = root.name.endswith("-paired")
    if paired and scenes != 400:
        sys.exit("--scenes: the paired world (pix2pix) has its 400 scenes only")
    write_dataset(
        SyntheticOptions(str(root), size=size, count=400, test_count=40, seed=seed, paired=paired, progress=False)
    )
    for split, style, first in (("trainA", "summer", 2000), ("trainB", "winter", 2000 + max(0, scenes - 400))):
        for f in sorted((root / split).glob("*.png"))[scenes:]:
            f.unlink()
        for index in range(first, first + scenes - 400):
            Image.fromarray(render(scene_for(seed, index), style, size)).save(root / split / f"{index:05d}.png")
    done.write_text(str(scenes))
    return root


def run_one(
    variant: str,
    seed: int,
    *,
    budget: float,
    fill: float,
    s_per_step: float | None,
    data: Path,
    out: Path,
    size: int,
    workers: int,
    device: str,
    threads: int | None,
) -> dict:
    import dataclasses

    import torch

    from cyclegan.bench import time_train_step
    from cyclegan.demo import _read_all, _translate_all, score
    from cyclegan.execution import resolve_device
    from cyclegan.train import prepare_config, train

    if threads:
        torch.set_num_threads(threads)
    run = out / f"{variant}_s{seed}"
    name, size = parse_variant(variant, size)
    data = data_folder(data.parent, VARIANTS[name], size)
    overrides = {
        "steps": 100_000,
        **training_options(VARIANTS[name]),
        "size": size,
        **train_size(VARIANTS[name]),
        "data": str(data),
        "out": str(run),
        "seed": seed,
        "device": device,
        "sample_every": 0,
        "checkpoint_every": 0,
        "log_every": 50,
        "compile": "off",
        "num_workers": workers,
    }
    cfg, _ = prepare_config(overrides, resume=False, out=str(run))
    dev = resolve_device(device)
    measured = time_train_step(cfg, dev) if s_per_step is None else s_per_step
    steps = max(1, int(budget * fill / measured))
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, steps=steps))
    t0 = time.perf_counter()
    train(cfg, progress=False)
    seconds = time.perf_counter() - t0
    names = sorted(p.name for p in (data / "testA").glob("*.png"))
    test = {s: _read_all([data / f"test{s}" / n for n in names]) for s in "AB"}
    result = {
        "variant": variant,
        "seed": seed,
        "steps": steps,
        "s_per_step": round(measured, 4),
        "train_seconds": round(seconds, 1),
        "size": size,
        "options": VARIANTS[name],
    }
    for direction in trained_directions(training_options(VARIANTS[name])):
        src, dst = direction[0], direction[-1]
        fake = _translate_all(generator(run, direction, dev), test[src])
        result[direction] = score(fake, test[src], test[dst])
    return result


def measure(variants: list[str], size: int, work: Path, device: str, rounds: int = 3) -> dict[str, float]:
    """Seconds per training step of each variant on this machine (as the demo times it): the median of
    `rounds` medians, the variants taking turns, so a slow spell of a shared machine hits them alike."""
    import statistics

    from cyclegan.bench import time_train_step
    from cyclegan.execution import resolve_device
    from cyclegan.train import prepare_config

    cfgs = {}
    for v in variants:
        name, px = parse_variant(v, size)
        data = data_folder(work, VARIANTS[name], px)
        overrides = {
            "steps": 1,
            **training_options(VARIANTS[name]),
            "size": px,
            **train_size(VARIANTS[name]),
            "data": str(data),
            "out": "/tmp/unused",
            "compile": "off",
        }
        cfgs[v] = prepare_config(overrides, resume=False, out=None)[0]
    times: dict[str, list[float]] = {v: [] for v in variants}
    for _ in range(rounds):
        for v in variants:
            times[v].append(time_train_step(cfgs[v], resolve_device(device), repeat=5))
    out = {v: round(statistics.median(t), 4) for v, t in times.items()}
    for v, t in out.items():
        print(f"{v:<18} {t:.3f} s/step  (rounds: {', '.join(f'{x:.3f}' for x in times[v])})", flush=True)
    return out


def generator(run: Path, direction: str, device):
    """The run's generator for `direction`: its weight average when it kept one, else the raw weights."""
    from cyclegan.loading import load_generator

    return load_generator(run, direction, device=device)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--variants",
        nargs="+",
        default=["fast"],
        help=f"any of: {', '.join(VARIANTS)}; NAME@SIZE: at SIZE px instead of --size",
    )
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument(
        "--budget", type=float, default=240.0, help="seconds as the demo's --minutes counts them (240: the demo's)"
    )
    p.add_argument("--fill", type=float, default=0.85, help="share of the budget the steps fill (the demo's: 0.85)")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--steps-from", metavar="FILE.json", help="{variant: s/step} measured elsewhere")
    p.add_argument("--measure", metavar="FILE.json", help="only time each variant's step here and write FILE")
    p.add_argument("--rounds", type=int, default=3, help="--measure: rounds of interleaved timings (median)")
    p.add_argument("--jobs", type=int, default=1, help="runs at once (GPU only: on a CPU, timings need one)")
    p.add_argument("--threads", type=int, help="torch threads per run")
    p.add_argument("--workers", type=int, default=-1, help="data loading processes per run (-1: auto)")
    p.add_argument("--device", default="auto")
    p.add_argument("--work", default="/tmp/ablate", help="data and run folders")
    p.add_argument(
        "--scenes", type=int, default=400, help="training scenes per domain (the demo's 400; another --work each)"
    )
    p.add_argument("--out", default="ablation.jsonl", help="one JSON line per run, appended")
    a = p.parse_args()
    unknown = [v for v in a.variants if parse_variant(v, a.size)[0] not in VARIANTS]
    if unknown:
        sys.exit(f"unknown variant(s): {unknown}")
    work = Path(a.work)
    for v in a.variants:
        name, px = parse_variant(v, a.size)
        make_data(data_folder(work, VARIANTS[name], px), px, seed=0, scenes=a.scenes)
    data = work / f"data{a.size}"
    if a.measure:
        timed = measure(a.variants, a.size, work, a.device, rounds=a.rounds)
        Path(a.measure).write_text(json.dumps(timed, indent=1) + "\n")
        return
    per_step = json.loads(Path(a.steps_from).read_text()) if a.steps_from else {}
    jobs = [(v, s) for s in a.seeds for v in a.variants]
    kw = {
        "budget": a.budget,
        "fill": a.fill,
        "size": a.size,
        "workers": a.workers,
        "data": data,
        "out": work / "runs",
        "device": a.device,
        "threads": a.threads,
    }
    pool_ = (
        ProcessPoolExecutor(
            a.jobs,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_end_with_parent,
            initargs=(os.getpid(),),
        )
        if a.jobs > 1
        else _Inline()
    )
    with open(a.out, "a") as log, pool_ as pool:
        futures = [pool.submit(run_one, v, s, s_per_step=per_step.get(v), **kw) for v, s in jobs]
        # as each run ends: a run stopped by a time limit must not hold back the others' results
        for f in as_completed(futures) if a.jobs > 1 else futures:
            try:
                r = f.result()
            except Exception as e:  # one failed variant must not lose the others' results
                print(f"failed: {e!r}", flush=True)
                continue
            log.write(json.dumps(r) + "\n")
            log.flush()
            scores = "  ".join(f"{d} {r[d]['psnr']:.2f} dB {r[d]['ssim']:.3f}" for d in ("AtoB", "BtoA") if d in r)
            print(f"{r['variant']:<18} seed {r['seed']}  {r['steps']:>5} steps  {scores}", flush=True)


def _end_with_parent(parent: int) -> None:
    """A worker's initializer: end the worker when the ablation's own process is gone. A killed parent (kill,
    `pkill -f ablate.py`) otherwise leaves its workers training on, and they take the CPU from the next timed run."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(2)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="end-with-parent").start()


class _Inline:
    """A stand-in for a process pool that runs each job in this process, one at a time, when its result is
    asked for: results are then written as each run ends, and one run's failure does not lose the others."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def submit(self, fn, *args, **kwargs):
        class Lazy:
            def result(self):
                return fn(*args, **kwargs)

        return Lazy()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
