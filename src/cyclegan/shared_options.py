"""Option fields shared by several commands, one definition each: where a run computes (device, precision,
memory format, compilation), which checkpoint and generator it reads, and progress bars.

Each is a field factory (`device: str = device_option()`) or a nested options group (`ExecutionOptions`),
so `train`, `translate`, `bench`, `evaluate`, `serve`... spell, check and document them the same way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal

from .errors import CycleGANError
from .options import Options, opt

PRETRAINED_PREFIX = "pretrained:"  # a checkpoint argument naming a published generator (`cyclegan.zoo`)

Precision = Literal["auto", "fp32", "bf16", "fp16"]
OnOff = Literal["auto", "on", "off"]
Direction = Literal["AtoB", "BtoA"]


def device_option() -> Any:
    return opt("auto", "auto, cpu, cuda, cuda:N or mps (auto: CUDA, then MPS, then CPU)", metavar="DEVICE")


def precision_option() -> Any:
    return opt(
        "auto",
        "autocast precision (auto: bf16 on CPUs with native bf16 and on bf16 GPUs, else fp32; on a GPU a U-Net "
        "(pix2pix) and translation batches under 512k pixels in fp32)",
    )


def channels_last_option() -> Any:
    return opt("auto", "channels-last memory format (auto: off; measured slower with InstanceNorm)")


def compile_option() -> Any:
    return opt(
        "auto",
        "torch.compile the networks (auto: translation of 64+ images in bf16 on a CPU with a C++ compiler; "
        "training eager, measured as fast)",
    )


def checkpoint_option(**kwargs: Any) -> Any:
    return opt(
        help="a run folder, a checkpoint file, a generator .pth of the reference implementation, or "
        "pretrained:NAME (a published generator, downloaded on first use: `cyclegan pretrained list`)",
        metavar="RUN_OR_FILE",
        nonempty="a run folder, a checkpoint file or pretrained:NAME",
        **kwargs,
    )


def checkpoint_not_found(path: object) -> str:
    return f"checkpoint not found: {path} (give a run folder or a checkpoint file)"


def check_checkpoints_there(checkpoints: tuple[str, ...]) -> None:
    """Refuse a checkpoint argument that names nothing there (a path, not `pretrained:NAME`), torch-free: `translate
    --checkpoint MISSING` waited 5-15 s for torch's import to be told so (`checkpoint.run_checkpoint` says it to a
    Python caller)."""
    for path in checkpoints:
        if not str(path).startswith(PRETRAINED_PREFIX) and not os.path.lexists(path):
            raise CycleGANError(checkpoint_not_found(path))


def direction_option(default: str | None = "AtoB") -> Any:
    """`default` None: the model's own direction (`loading.load_generator`), said so in `--help`."""
    return opt(
        default,
        "AtoB translates A -> B with G, BtoA translates B -> A with F (a CycleGAN); a pix2pix, CUT or FastCUT "
        "model has one generator, G, for the one direction it was trained in",
        default_text="the model's own: AtoB for a CycleGAN, the trained one for pix2pix, CUT or FastCUT"
        if default is None
        else None,
    )


def domain_folder_option(letter: str, images: str, instead: str) -> Any:
    """--domain-a/--domain-b: a folder of one domain's `images` ("training images"), in place of `instead` (the
    dataset root's folder of them); train's and evaluate's, spelled the same."""
    return opt(
        None,
        f"folder of domain {letter} ({'X' if letter == 'A' else 'Y'}) {images}, instead of {instead}",
        metavar="DIR",
        nonempty="a folder of images",
    )


def ema_option() -> Any:
    help_text = (
        "the generator's averaged weights (--ema-decay) or its last raw ones (auto: the average when the "
        "checkpoint has one)"
    )
    return opt("auto", help_text)


def max_minutes_option(default: float) -> Any:
    return opt(
        default,
        "give up a download that has not finished after this many minutes, all attempts together (what "
        "arrived is kept: run again to resume)",
        gt=0,
        le=1e5,
        metavar="MIN",
    )


def progress_option() -> Any:
    return opt(True, "progress bars (--no-progress for none)")


@dataclass(frozen=True)
class ExecutionOptions(Options):
    """How the networks compute (see `cyclegan.execution.choose_execution`); `auto` picks per device."""

    precision: Precision = precision_option()
    channels_last: OnOff = channels_last_option()
    compile: OnOff = compile_option()


# The decode cap: an image whose header declares more pixels is refused before it is decoded (a 24-megapixel
# photo passes; a 13000 x 13000 PNG of a few KB, which would need gigabytes once decoded, does not).
MAX_PIXELS = 100_000_000


def max_pixels_option(action: str = "skip (and name)") -> Any:
    """The `--max-pixels` field of the commands that read images given by the user (one definition). `action`:
    what the command does with such an image (`stylize` stops: its help said "skip")."""
    return opt(MAX_PIXELS, f"{action} an image whose header declares more pixels than N, before decoding it", gt=0)
