"""Neural style transfer (Gatys et al.): feature backbones, Gram matrices and the pixel optimisation.

from cyclegan.style import GatysOptions, stylize
result = stylize("tubingen.jpg", ["starry_night.jpg"], GatysOptions(backbone="lite0", size=256, steps=300))
result.image.save("tubingen_starry.png")
"""

from ..lazy import lazy_dir, lazy_exports

_EXPORTS = {
    ".backbones": (
        "DEFAULTS",
        "BackboneDefaults",
        "Lite0Backbone",
        "VGG19Backbone",
        "build_backbone",
        "default_backbone",
        "lite0_layer_names",
        "vgg19_layer_names",
    ),
    ".options": ("GatysOptions", "StylizeOptions"),
    ".gatys": ("StyleResult", "keep_content_colors", "load_image_01", "run_stylize", "stylize", "to_pil_01"),
    ".losses": ("blend_grams", "content_loss", "gram_distance", "gram_matrix", "style_loss", "tv_loss"),
}
__getattr__ = lazy_exports(__name__, _EXPORTS)
__dir__ = lazy_dir(__name__, _EXPORTS)
__all__ = [name for names in _EXPORTS.values() for name in names]
