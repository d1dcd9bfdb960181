"""Image reading, the unpaired dataset and its transforms, and the synthetic summer/winter domains."""

from .dataset import PairedTrainSet, UnpairedTrainSet, eval_transform, find_pairs, read_pair, train_transform
from .io import IMAGE_EXTENSIONS, check_images, list_images, read_image, to_pil, to_tensor

__all__ = [
    "IMAGE_EXTENSIONS",
    "PairedTrainSet",
    "find_pairs",
    "read_pair",
    "UnpairedTrainSet",
    "check_images",
    "eval_transform",
    "list_images",
    "read_image",
    "to_pil",
    "to_tensor",
    "train_transform",
]
