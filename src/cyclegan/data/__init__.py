"""Image reading, the unpaired dataset and its transforms, and the synthetic summer/winter domains."""

from ..lazy import lazy_dir, lazy_exports

_EXPORTS = {
    ".dataset": ("PairedTrainSet", "UnpairedTrainSet", "eval_transform", "find_pairs", "read_pair", "train_transform"),
    ".io": ("IMAGE_EXTENSIONS", "check_images", "list_images", "read_image", "to_pil", "to_tensor"),
}
__getattr__ = lazy_exports(__name__, _EXPORTS)
__dir__ = lazy_dir(__name__, _EXPORTS)
__all__ = [name for names in _EXPORTS.values() for name in names]
