"""Training: the CycleGAN trainer (its updates, saving and restoring), the image pool, the LR schedule, the
loop and the torchrun set-up."""

from .cyclegan import CycleGANTrainer, linear_decay
from .loop import prepare_config, train
from .pool import ImagePool

__all__ = ["CycleGANTrainer", "ImagePool", "linear_decay", "prepare_config", "train"]
