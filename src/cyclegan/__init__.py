"""cyclegan: unpaired image-to-image translation (CycleGAN) and neural style transfer in PyTorch.

For use in your own code:

    import cyclegan
    G = cyclegan.load_generator("runs/h2z", "AtoB")        # a run folder or a checkpoint file
    zebra = cyclegan.translate(G, PIL.Image.open("horse.jpg"))
    G = cyclegan.load_generator("pretrained:horse2zebra")  # a published generator (downloaded once)
    big = cyclegan.translate(G, PIL.Image.open("24mp.jpg"))  # in tiles when it would not fit 1.25 GB
    cyclegan.translate_video(G, "drive.mp4", "out/drive.mp4")  # a clip, less flicker (pip install -e ".[video]")
"""

from .version import __version__


def __getattr__(name: str):
    # Lazy, so `import cyclegan` (and the CLI's --help) does not pay for importing torch.
    if name == "load_generator":
        from .loading import load_generator

        return load_generator
    if name == "translate":
        from .inference import translate

        return translate
    if name == "translate_video":
        from .video import translate_video

        return translate_video
    raise AttributeError(f"module 'cyclegan' has no attribute {name!r}")


__all__ = ["__version__", "load_generator", "translate", "translate_video"]


def __dir__() -> list[str]:
    # The lazy names too, so dir() and tab completion show the API before its first use.
    return sorted({*globals(), *__all__})
