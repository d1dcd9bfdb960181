"""Training: the trainers of the model families (CycleGAN, pix2pix, CUT/FastCUT: their updates, saving and
restoring), the image pool, the LR schedule, the loop and the torchrun set-up."""

from .cut import CUTTrainer, FastCUTTrainer
from .cyclegan import CycleGANTrainer, Trainer, linear_decay
from .families import TRAINERS, trainer_class
from .loop import prepare_config, train
from .pix2pix import Pix2PixTrainer
from .pool import ImagePool

__all__ = [
    "CUTTrainer", "CycleGANTrainer", "FastCUTTrainer", "ImagePool", "Pix2PixTrainer", "TRAINERS", "Trainer",
    "linear_decay", "prepare_config", "train", "trainer_class",
]  # fmt: skip
