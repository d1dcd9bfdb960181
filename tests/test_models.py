import re

import pytest
import torch

from cyclegan.config import resolve
from cyclegan.errors import CycleGANError
from cyclegan.models import GENERATORS, build_discriminator, build_generator


def n_params(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def test_paper_preset_parameter_counts():
    cfg = resolve({"preset": "paper"})  # 256 px: 9 residual blocks
    assert cfg.model.n_blocks == 9
    assert round(n_params(build_generator(cfg.model)) / 1e6, 3) == 11.378
    assert round(n_params(build_discriminator(cfg.model)) / 1e6, 3) == 2.765


def test_paper_preset_uses_six_blocks_below_256px():
    assert resolve({"preset": "paper", "size": 128}).model.n_blocks == 6
    assert resolve({"preset": "paper", "size": 128, "n_blocks": 9}).model.n_blocks == 9


def test_seed_preset_is_the_tutorial_model():
    cfg = resolve({"preset": "seed"})
    G, D = build_generator(cfg.model), build_discriminator(cfg.model)
    assert cfg.data.size == 128 and cfg.train.batch_size == 16 and cfg.train.pool_size == 0
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in G.modules()) == 3 + 2 * 6 + 2
    convs = [m for m in D.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.stride[0]) for c in convs] == [
        (3, 64, 2),
        (64, 128, 2),
        (128, 256, 2),
        (256, 512, 2),
        (512, 1, 1),
    ]
    assert D(torch.zeros(1, 3, 128, 128)).shape == (1, 1, 7, 7)


# every generator variant whose input check differs in where a wrong tensor used to fail
GENERATOR_VARIANTS = [
    {"generator": "resnet"},
    {"generator": "resnet", "upsample": "resize"},
    {"generator": "unet"},
    {"generator": "seed"},
    {"generator": "resnet", "downsample": "antialias", "upsample": "antialias"},
]


@pytest.mark.parametrize("options", GENERATOR_VARIANTS)
def test_a_generator_called_on_one_image_without_its_batch_says_so_in_one_line(options):
    """`G(x)` on a (3, H, W) tensor, as `cyclegan.translate` takes it: a resize-upsampling ResNet returned (3, H / 4,
    W) without a word, the U-Net, the seed and the anti-aliased ResNet raised torch's errors from deep inside."""
    G = build_generator(resolve({**options, "ngf": 8, "n_blocks": 1, "size": 32}).model).eval()
    with pytest.raises(
        CycleGANError, match=r"takes a batch \(B, 3, H, W\), got .* \(3, 32, 32\): give x.unsqueeze\(0\)"
    ):
        G(torch.zeros(3, 32, 32))
    with pytest.raises(CycleGANError, match=r"got a tensor of shape \(1, 1, 3, 32, 32\)$"):
        G(torch.zeros(1, 1, 3, 32, 32))
    assert G(torch.zeros(1, 3, 32, 32)).shape == (1, 3, 32, 32)


@pytest.mark.parametrize("options", GENERATOR_VARIANTS)
def test_a_generator_called_on_a_batch_of_other_than_3_channels_says_so_in_one_line(options):
    """`G(x)` on RGBA, greyscale or channels-last batches raised torch's conv error from inside the network
    ("expected input[1, 4, 32, 32] to have 3 channels"); now the same line as for a tensor that is not 4-D, with
    what `cyclegan.translate` says to do of such a tensor."""
    G = build_generator(resolve({**options, "ngf": 8, "n_blocks": 1, "size": 32}).model).eval()
    for shape, hint in [
        ((1, 4, 32, 32), r": RGBA\? give x\[:, :3\]"),
        ((2, 1, 32, 32), r": greyscale\? give x.expand\(-1, 3, -1, -1\)"),
        ((1, 32, 32, 3), r": channels last\? give x.permute\(0, 3, 1, 2\)"),
        ((1, 2, 32, 32), r"$"),
    ]:
        shown = re.escape(str(shape))
        with pytest.raises(CycleGANError, match=rf"^a generator takes a batch \(B, 3, H, W\), got .* {shown}{hint}"):
            G(torch.zeros(shape))


@pytest.mark.parametrize("generator", sorted(GENERATORS))
@pytest.mark.parametrize("norm", ["instance", "batch", "none"])
@pytest.mark.parametrize("hw", [(32, 32), (64, 48), (40, 72)])
def test_generator_keeps_shape_and_follows_its_input(generator, norm, hw):
    options = {"generator": generator, "norm": norm, "ngf": 8, "n_blocks": 2, "dropout": 0.5, "size": 32}
    G = build_generator(resolve(options).model).eval()  # dropout off, BatchNorm on its running statistics
    x = torch.rand(2, 3, *hw) * 1.8 - 0.9  # (2, 3, H, W) inside (-1, 1)
    other = x.clone()
    other[1] = torch.rand(3, *hw) * 1.8 - 0.9  # the second image replaced, the first kept
    with torch.no_grad():
        y, y_other = G(x), G(other)
    assert y.shape == x.shape
    # Each output follows its own input: the replaced image's output changes by a good part of the outputs'
    # spread (which the initial weights keep small without InstanceNorm), the kept one's not at all.
    spread = y.std().item()
    assert (y_other[1] - y[1]).abs().mean().item() > 0.2 * spread
    assert (y_other[0] - y[0]).abs().max().item() <= 1e-3 * spread
    if generator == "resnet":  # the residual-output variant starts at its input: an untrained G returns it
        G = build_generator(resolve({**options, "residual_output": True}).model).eval()
        with torch.no_grad():
            torch.testing.assert_close(G(x), x, atol=1e-5, rtol=0)


@pytest.mark.parametrize("discriminator", ["patchgan", "seed"])  # the projected ones: tests/test_fast.py
@pytest.mark.parametrize("size", [32, 64, 256])
def test_discriminator_gives_a_patch_map(discriminator, size):
    layers = 3 if discriminator == "patchgan" else 4
    cfg = resolve({"discriminator": discriminator, "ndf": 8, "d_layers": layers})
    out = build_discriminator(cfg.model)(torch.zeros(2, 3, size, size))
    expected = size // 8 - 2 if discriminator == "patchgan" else size // 16 - 1
    assert out.shape == (2, 1, expected, expected)


def test_sizes_are_configurable():
    cfg = resolve({"ngf": 16, "n_blocks": 3, "ndf": 16, "d_layers": 2, "norm": "batch"})
    G, D = build_generator(cfg.model), build_discriminator(cfg.model)
    blocks = [m for m in G.modules() if type(m).__name__ == "ResnetBlock"]
    assert len(blocks) == 3 and blocks[0].conv_block[1].in_channels == 64
    assert sum(isinstance(m, torch.nn.Conv2d) for m in D.modules()) == 4


def test_normal_init_uses_the_paper_std():
    torch.manual_seed(0)
    G = build_generator(resolve({"ngf": 16, "n_blocks": 2}).model)
    w = torch.cat([m.weight.flatten() for m in G.modules() if isinstance(m, torch.nn.Conv2d)])
    assert abs(w.std().item() - 0.02) < 0.002 and abs(w.mean().item()) < 0.002


def test_zero_padding_keeps_the_layers_and_their_weights_and_changes_only_the_edges():
    """--padding zeros: the same layer indices and state_dict (a checkpoint of either loads into the other's
    network), zero pads where reflection pads were, and different outputs from the same weights."""
    options = {"ngf": 8, "n_blocks": 1, "upsample": "resize", "size": 32}
    reflect = build_generator(resolve(options).model).eval()
    zeros = build_generator(resolve({**options, "padding": "zeros"}).model).eval()
    zeros.load_state_dict(reflect.state_dict())
    pairs = [(type(a).__name__, type(b).__name__) for a, b in zip(reflect.modules(), zeros.modules())]
    pads = [p for p in pairs if "Pad" in p[0]]
    assert len(pads) == 6 and all(p == ("ReflectionPad2d", "ZeroPad2d") for p in pads)  # 7x7 x2, block x2, up x2
    with torch.no_grad():
        x = torch.rand(1, 3, 32, 32) * 2 - 1
        diff = (reflect(x) - zeros(x)).abs()
    assert diff[..., 0, :].mean() > 1e-3  # the top row sees the padding
    with pytest.raises(Exception, match="resnet generator only"):
        resolve({"generator": "unet", "padding": "zeros", "size": 32})


def _reach(G: torch.nn.Module, size: int = 128) -> int:
    """How far (px) from the centre an input pixel can still change the centre output pixel."""
    x = (torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(1)) * 2 - 1).requires_grad_()
    G(x)[0, :, size // 2, size // 2].sum().backward()
    rows = x.grad.abs().sum((0, 1, 3)).nonzero().flatten()
    return int(max(size // 2 - rows.min(), rows.max() - size // 2))


@pytest.mark.parametrize("padding", ["reflect", "zeros"])
def test_block_dilation_widens_what_the_blocks_see_with_the_same_weights(padding):
    """--block-dilation 2: each block conv reaches 2 cells of the 1/4-size map instead of 1 (4 px more per conv),
    with the same state_dict, the output's shape kept."""
    options = {"ngf": 8, "n_blocks": 2, "upsample": "resize", "norm": "none", "size": 64, "padding": padding}
    torch.manual_seed(0)
    plain = build_generator(resolve(options).model)
    wide = build_generator(resolve({**options, "block_dilation": 2}).model)
    wide.load_state_dict(plain.state_dict())  # strict: the same keys and shapes
    assert _reach(wide) == _reach(plain) + 2 * 2 * 4  # 2 blocks x 2 convs x 1 more cell of 4 px
    assert wide(torch.rand(1, 3, 48, 40)).shape == (1, 3, 48, 40)
    with pytest.raises(Exception, match="resnet generator only"):
        resolve({"generator": "unet", "block_dilation": 2, "size": 32})


def test_a_dilated_reflection_generator_takes_tiny_images_and_refuses_a_tiny_training_size():
    """Reflection pads 2 px wide need a 1/4-size map of 3 px: translation pads a 7x6 photo up to 12 px (not
    the usual 8) and crops back; training at 8 px is refused in one line naming the options."""
    from cyclegan.errors import CycleGANError
    from cyclegan.inference import translate_tensor

    G = build_generator(resolve({"ngf": 8, "n_blocks": 1, "size": 32, "block_dilation": 2}).model).eval()
    assert translate_tensor(G, torch.rand(1, 3, 7, 6) * 2 - 1).shape == (1, 3, 7, 6)
    # from Python: its keywords ("with --block-dilation 2 ... give --padding zeros" named flags it never typed)
    with pytest.raises(CycleGANError, match="needs >= 12 px for its reflection pads with block_dilation=2.*'zeros'$"):
        resolve({"size": 8, "block_dilation": 2, "d_layers": 1, "discriminator": "seed"})
    resolve({"size": 8, "block_dilation": 2, "d_layers": 1, "discriminator": "seed", "padding": "zeros"})  # fine
    for padding in ("reflect", "zeros"):  # a 1 px bottleneck, which instance norm refuses, whatever the padding
        with pytest.raises(CycleGANError, match="size': 4 px is too small for the resnet generator"):
            resolve({"size": 4, "d_layers": 1, "discriminator": "seed", "padding": padding})


@pytest.mark.parametrize("padding", ["reflect", "zeros"])
def test_the_training_size_check_and_the_generators_least_side_agree(padding):
    """config.check_size (no torch) restates the resnet generator's least side (`tiling.least_size`): the smallest
    training size it accepts is that side, for every dilation."""
    from cyclegan.errors import CycleGANError
    from cyclegan.tiling import least_size

    for d in (1, 2, 3, 4):
        opts = {
            "ngf": 8,
            "n_blocks": 1,
            "block_dilation": d,
            "padding": padding,
            "d_layers": 1,
            "discriminator": "seed",
        }
        least = least_size(build_generator(resolve({**opts, "size": 64}).model))
        resolve({**opts, "size": least})
        with pytest.raises(CycleGANError, match="too small for the resnet generator"):
            resolve({**opts, "size": least - 4})


@pytest.mark.parametrize(
    "options",
    [
        {"preset": "paper"},
        {"preset": "paper", "residual_output": True, "block_dilation": 2},
        {"preset": "fast"},
        {"family": "cut"},
        {"preset": "seed"},
        {"generator": "unet"},
    ],
)
def test_a_generator_called_directly_returns_its_inputs_size_as_translate_does(options):
    """Before: the resnet generator took a 65x65 input to 68x68 (the seed one to 64x64) while `translate` padded
    and cropped; now the module pads and crops itself, exactly as `translate` does, and at training's sizes
    (multiples, at least its least side) runs its layers on the input untouched."""
    from cyclegan.inference import translate_tensor
    from cyclegan.models.resnet import ResnetGenerator
    from cyclegan.tiling import least_size

    torch.manual_seed(0)
    G = build_generator(resolve({**options, "ngf": 4, "n_blocks": 1}).model).eval()
    for hw in [(65, 65), (33, 250), (5, 3), (1, 1)]:
        x = torch.rand(2, 3, *hw) * 2 - 1  # (2, 3, H, W) in [-1, 1]
        with torch.no_grad():
            y = G(x)
            assert y.shape == x.shape
            assert torch.equal(y, translate_tensor(G, x))
    if isinstance(G, ResnetGenerator):
        assert G.least == least_size(G)  # what it pads to is what translation pads to
    if options.get("generator") != "unet":  # (the U-Net's own multiple is 2**num_downs)
        x = torch.rand(1, 3, 32, 24) * 2 - 1  # a training size: nothing padded, nothing cropped
        with torch.no_grad():
            h = G.model(x)
            assert torch.equal(G(x), G._output(x, h) if isinstance(G, ResnetGenerator) else h)
