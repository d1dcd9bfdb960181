"""The trainer of each model family (`--model`)."""

from __future__ import annotations

from .cut import CUTTrainer, FastCUTTrainer
from .cyclegan import CycleGANTrainer, Trainer
from .pix2pix import Pix2PixTrainer

TRAINERS: dict[str, type[Trainer]] = {
    "cyclegan": CycleGANTrainer, "pix2pix": Pix2PixTrainer, "cut": CUTTrainer, "fastcut": FastCUTTrainer,
}  # fmt: skip


def trainer_class(family: str) -> type[Trainer]:
    return TRAINERS[family]
