"""A screen, not a feature: the generators' reflection padding as zero padding, in every Python process started
with this folder on PYTHONPATH and CYCLEGAN_ZEROPAD=1 (so `benchmarks/ablate.py`'s worker processes too; the
padding has no parameters, so checkpoints are unchanged, and translating them needs the same setting):

  CYCLEGAN_ZEROPAD=1 PYTHONPATH=benchmarks/zero_pad python benchmarks/ablate.py --variants demo5 ...

The sub-pixel decoder form (`fused.SubpixelUpConv`, which assumes reflection) is not applied to the zero-padded
decoders: they compute plainly, slower, which fixed step counts do not see. (docs/results.md, "Zero padding in the
generators: a lead for the edges".)
"""

import os

if os.environ.get("CYCLEGAN_ZEROPAD") == "1":
    from torch import nn

    import cyclegan.models.fused  # noqa: F401  (imported first: its pattern matching keeps the real class)
    import cyclegan.models.layers as _layers
    import cyclegan.models.resnet as _resnet

    class ZeroPad2d(nn.ZeroPad2d):
        """Where the generators had ReflectionPad2d."""

    _layers.ReflectionPad2d = ZeroPad2d
    _resnet.ReflectionPad2d = ZeroPad2d
