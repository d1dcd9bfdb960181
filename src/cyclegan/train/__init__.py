"""Training: the trainers of the model families (CycleGAN, pix2pix, CUT/FastCUT: their updates, saving and
restoring), the image pool, the LR schedule, the loop and the torchrun set-up."""

from .cut import CUTTrainer
from .cyclegan import CycleGANTrainer
from .loop import train
from .pix2pix import Pix2PixTrainer
from .pool import ImagePool
from .run_folder import prepare_config
from .trainer import Trainer, linear_decay, trainer_class

__all__ = [
    "CUTTrainer",
    "CycleGANTrainer",
    "ImagePool",
    "Pix2PixTrainer",
    "Trainer",
    "linear_decay",
    "prepare_config",
    "train",
    "trainer_class",
]
