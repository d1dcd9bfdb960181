"""cyclegan: unpaired image-to-image translation (CycleGAN) and neural style transfer in PyTorch.

For use in your own code:

    import cyclegan
    G = cyclegan.load_generator("runs/h2z", "AtoB")        # a run folder or a checkpoint file
    zebra = cyclegan.translate(G, PIL.Image.open("horse.jpg"))
    cyclegan.save_generator(G, "g_tuned.pt")               # after fine-tuning: load_generator reads it back
    G = cyclegan.load_generator("pretrained:horse2zebra")  # a published generator (downloaded once)
    big = cyclegan.translate(G, PIL.Image.open("24mp.jpg"))  # in tiles when it would not fit 1.25 GB
    cyclegan.translate_video(G, "drive.mp4", "out/drive.mp4")  # a clip, less flicker (pip install -e ".[video]")

Bad input (an argument, a file, a device) raises `cyclegan.CycleGANError` with a one-line message naming it.
"""

from .lazy import lazy_dir, lazy_exports
from .version import __version__

# Lazy, so `import cyclegan` (and the CLI's --help) does not pay for importing torch.
_EXPORTS = {
    ".api": ("load_generator", "save_generator"),
    ".inference": ("translate",),
    ".video": ("translate_video",),
    ".errors": ("CycleGANError",),  # what each of them raises for bad input, one line (torch-free)
}
__getattr__ = lazy_exports(__name__, _EXPORTS)
__dir__ = lazy_dir(__name__, _EXPORTS)
__all__ = ["CycleGANError", "__version__", "load_generator", "save_generator", "translate", "translate_video"]
