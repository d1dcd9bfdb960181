"""Training: the CycleGAN updates, the image pool, the LR schedule and the loop."""

from .cyclegan import CycleGANTrainer, linear_decay
from .loop import prepare_config, train
from .pool import ImagePool

__all__ = ["CycleGANTrainer", "ImagePool", "linear_decay", "prepare_config", "train"]
