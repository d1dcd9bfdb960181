"""Generator files of the reference implementation: inferred, loaded and run to the same output.

The reference networks (`reference_nets.py`) are written from the reference implementation's architecture,
independently of our models, so the state dicts they save are the layout users' files have.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from cyclegan.cli import main
from cyclegan.errors import CycleGANError
from cyclegan.interop.foreign import ForeignArchitecture, infer_architecture
from cyclegan.loading import load_generator
from reference_nets import RefResnetGenerator, RefUnetGenerator, ref_norm, ref_resnet, ref_translate_8bit, ref_unet


def save(obj, path: Path) -> Path:
    torch.save(obj, path)
    return path


def gradient_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    """(H, W, 3) uint8."""
    rng = np.random.default_rng(seed)
    # A smooth gradient plus noise: structure for the convs, full range for the 8-bit conversion.
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx / w, yy / h, (xx + yy) / (h + w)], -1) * 200
    return np.clip(base + rng.integers(0, 56, (h, w, 3)), 0, 255).astype(np.uint8)


# --- architecture inference ------------------------------------------------------------------------------

RESNETS = [
    # (ngf, blocks, dropout, norm, affine): the pretrained files' layout first, then the variants.
    (64, 9, False, "instance", False),
    (8, 6, False, "instance", False),
    (8, 6, True, "instance", False),
    (12, 9, False, "instance", True),
    (8, 9, True, "instance", True),
    (8, 6, False, "batch", False),
]


@pytest.mark.parametrize("ngf, n_blocks, dropout, norm, affine", RESNETS)
def test_resnet_architecture_is_inferred(ngf, n_blocks, dropout, norm, affine):
    sd = ref_resnet(ngf, n_blocks, dropout=dropout, norm=norm, affine=affine).state_dict()
    arch = infer_architecture(sd)
    assert arch == ForeignArchitecture("resnet", ngf, n_blocks, norm, affine, dropout)


def test_a_file_of_one_residual_block_is_described_as_one_block(tmp_path):
    """A one-block generator whose tensor does not fit was described as 'a ResNet generator, 1 blocks, ...'."""
    sd = ref_resnet(8, 1).state_dict()
    sd["model.10.conv_block.5.weight"] = sd["model.10.conv_block.5.weight"][:4]
    with pytest.raises(CycleGANError, match=r"expected 32x32x3x3 for a ResNet generator, 1 block, ngf 8, Instance"):
        load_generator(save(sd, tmp_path / "g.pth"))


def test_pretrained_layout_keys():
    # REFERENCE.md: 9 blocks at model.10..18, transposed convs model.19 and model.22, conv out model.26,
    # weights and biases only.
    sd = ref_resnet(64, 9).state_dict()
    assert {k.rsplit(".", 1)[0] for k in sd if k.split(".")[1] not in map(str, range(10, 19))} == {
        "model.1",
        "model.4",
        "model.7",
        "model.19",
        "model.22",
        "model.26",
    }
    assert "model.10.conv_block.5.weight" in sd and len(sd) == 6 * 2 + 9 * 4


@pytest.mark.parametrize(
    "num_downs, norm, affine", [(5, "batch", False), (6, "instance", True), (7, "instance", False)]
)
def test_unet_architecture_is_inferred(num_downs, norm, affine):
    arch = infer_architecture(ref_unet(num_downs, 4, norm=norm, affine=affine).state_dict())
    assert arch == ForeignArchitecture("unet", 4, num_downs, norm, affine)


# --- same output as the reference ------------------------------------------------------------------------


@pytest.mark.parametrize("ngf, n_blocks, dropout, norm, affine", RESNETS)
def test_resnet_output_equals_reference(tmp_path, ngf, n_blocks, dropout, norm, affine):
    ref = ref_resnet(ngf, n_blocks, dropout=dropout, norm=norm, affine=affine, seed=ngf + n_blocks)
    net = load_generator(save(ref.state_dict(), tmp_path / "latest_net_G_A.pth"))
    x = torch.rand(2, 3, 36, 44) * 2 - 1
    with torch.no_grad():
        expected, got = ref(x), net(x)
    assert expected.std() > 0.05  # a real signal, not a saturated constant
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("case", ["resnet9", "resnet6-dropout-affine", "unet-batch"])
def test_translate_command_within_2_grey_levels_of_reference(tmp_path, case):
    """The whole user path: a .pth file in, PNG in, PNG out, against the reference's own 8-bit output."""
    ref = {
        "resnet9": lambda: ref_resnet(16, 9, seed=1),
        "resnet6-dropout-affine": lambda: ref_resnet(8, 6, dropout=True, affine=True, seed=2),
        "unet-batch": lambda: ref_unet(6, 4, norm="batch", seed=3),
    }[case]()
    ckpt = save(ref.state_dict(), tmp_path / "horse2zebra.pth")
    h, w = (64, 128) if case.startswith("unet") else (40, 52)  # multiples of 4 (U-Net: of 2**levels)
    image = gradient_image(h, w)
    Image.fromarray(image).save(tmp_path / "in.png")
    args = ["--checkpoint", str(ckpt), "--out", str(tmp_path / "out"), "--no-progress", "--device", "cpu"]
    # fp32 is the reference's arithmetic; the default (bf16 where the CPU has it) is checked loosely below.
    rc = main(["translate", str(tmp_path / "in.png"), *args, "--precision", "fp32"])
    assert rc == 0
    ours = np.asarray(Image.open(tmp_path / "out" / "in.png")).astype(int)
    theirs = ref_translate_8bit(ref, image).astype(int)
    assert ours.shape == theirs.shape == (h, w, 3)
    assert theirs.std() > 5  # the comparison means something
    # We round, the reference truncates: at most 1 level apart, 2 allowed.
    assert np.abs(ours - theirs).max() <= 2
    # Default precision: bf16 rounding moves pixels by about one grey level on average.
    assert main(["translate", str(tmp_path / "in.png"), *args[:3], str(tmp_path / "auto"), *args[4:]]) == 0
    default = np.asarray(Image.open(tmp_path / "auto" / "in.png")).astype(int)
    assert np.abs(default - theirs).mean() <= 2.5


def test_unet_pads_other_sizes_itself(tmp_path):
    ref = ref_unet(5, 4, norm="instance", affine=True)
    net = load_generator(save(ref.state_dict(), tmp_path / "unet.pth"))
    x = torch.rand(1, 3, 64, 96) * 2 - 1
    torch.testing.assert_close(net(x), ref(x), atol=1e-5, rtol=0)  # a multiple: no padding, same numbers
    assert net(torch.rand(1, 3, 50, 70) * 2 - 1).shape == (1, 3, 50, 70)


# --- variants of the file --------------------------------------------------------------------------------


def test_legacy_instance_norm_statistics_are_dropped_as_the_reference_does(tmp_path):
    # Files from PyTorch < 0.4 carry running stats in InstanceNorm; the reference deletes them on load.
    ref = ref_resnet(8, 6)
    sd = ref.state_dict()
    norms = [(name, m.num_features) for name, m in ref.named_modules() if isinstance(m, nn.InstanceNorm2d)]
    assert len(norms) == 5 + 2 * 6
    for name, c in norms:
        sd[f"{name}.running_mean"], sd[f"{name}.running_var"] = torch.randn(c), torch.rand(c) + 0.5
    net = load_generator(save(sd, tmp_path / "old.pth"))
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    torch.testing.assert_close(net(x), ref(x), atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "make", [lambda: ref_resnet(8, 6, norm="batch"), lambda: ref_unet(6, 4)], ids=["resnet", "unet"]
)
def test_batch_norm_files_without_the_batch_count_load_as_the_reference_loads_them(tmp_path, make):
    """Files from PyTorch < 0.4.1 hold no `num_batches_tracked`: the reference's load_state_dict fills it in, and a
    BatchNorm ResNet or U-Net of such a file was refused here as "missing ...num_batches_tracked"."""
    ref = make().eval()
    sd = {k: v for k, v in ref.state_dict().items() if not k.endswith("num_batches_tracked")}
    net = load_generator(save(sd, tmp_path / "old.pth"))
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    torch.testing.assert_close(net(x), ref(x), atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "make", [lambda: ref_resnet(8, 6, norm="batch"), lambda: ref_unet(6, 4)], ids=["resnet", "unet"]
)
def test_batch_norm_files_with_every_tensor_in_half_precision_load(tmp_path, make):
    """A file whose every tensor was converted (`{k: v.half() for k, v in sd.items()}`, where `net.half()` keeps
    BatchNorm's batch count an integer) was refused as "num_batches_tracked is a torch.float16 tensor": a count,
    unused in eval, read as the integer it holds. A count that is no whole number is still named."""
    ref = make().eval()
    half = {k: v.half() for k, v in ref.state_dict().items()}
    # the reference computing with the same fp16-rounded weights, in fp32
    ref.load_state_dict({k: v.to(t.dtype) for (k, v), t in zip(half.items(), ref.state_dict().values())})
    net = load_generator(save(half, tmp_path / "half.pth"))
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    torch.testing.assert_close(net(x), ref(x), atol=1e-5, rtol=0)
    count = next(k for k in half if k.endswith("num_batches_tracked"))
    with pytest.raises(CycleGANError, match=f"{count} is a torch.float16 tensor"):
        load_generator(save({**half, count: torch.tensor(0.5, dtype=torch.float16)}, tmp_path / "odd.pth"))


@pytest.mark.parametrize(
    "make, lost",
    [
        (lambda: ref_resnet(8, 6), "model.1.bias"),
        (lambda: ref_unet(6, 4, norm="instance"), "model.model.1.model.1.bias"),
    ],
    ids=["resnet", "unet"],
)
def test_a_file_missing_its_first_norm_convs_bias_names_it(tmp_path, make, lost):
    """An InstanceNorm file that lost the bias the norm is read from was refused as the reference's norm 'none' ("has
    no bias and ... no BatchNorm statistics"), its other convs' biases aside: now the missing tensor is named."""
    sd = {k: v for k, v in make().state_dict().items() if k != lost}
    with pytest.raises(
        CycleGANError, match=rf"missing {re.escape(lost)} for a (ResNet|U-Net) generator, .*InstanceNorm"
    ):
        load_generator(save(sd, tmp_path / "damaged.pth"))


def test_wrapped_and_prefixed_files(tmp_path):
    g_a, g_b = ref_resnet(8, 6, seed=1), ref_resnet(8, 6, seed=2)
    both = {
        "G_A": {f"module.{k}": v for k, v in g_a.state_dict().items()},  # saved from DataParallel
        "G_B": g_b.state_dict(),
    }
    path = save(both, tmp_path / "both.pth")
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    torch.testing.assert_close(load_generator(path, "AtoB")(x), g_a(x), atol=1e-5, rtol=0)
    torch.testing.assert_close(load_generator(path, "BtoA")(x), g_b(x), atol=1e-5, rtol=0)


def test_files_wrapped_under_model_load_and_a_wrapper_of_something_else_is_named(tmp_path):
    # `{"model": state_dict, "epoch": N}` is how many projects save; it was refused as "no AtoB generator among
    # the entries model, epoch"
    g_a, g_b = ref_resnet(8, 6, seed=1), ref_resnet(8, 6, seed=2)
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    plain = save({"model": g_a.state_dict(), "epoch": 3, "optimizer": {"lr": 0.1}}, tmp_path / "plain.pth")
    torch.testing.assert_close(load_generator(plain)(x), g_a(x), atol=1e-5, rtol=0)
    net = save({"net": {f"module.{k}": v for k, v in g_a.state_dict().items()}}, tmp_path / "net.pth")
    torch.testing.assert_close(load_generator(net)(x), g_a(x), atol=1e-5, rtol=0)
    pair = save({"model": {"G_A": g_a.state_dict(), "G_B": g_b.state_dict()}}, tmp_path / "pair.pth")
    torch.testing.assert_close(load_generator(pair, "AtoB")(x), g_a(x), atol=1e-5, rtol=0)
    torch.testing.assert_close(load_generator(pair, "BtoA")(x), g_b(x), atol=1e-5, rtol=0)
    other = save({"model": {"step": 7}, "epoch": 3}, tmp_path / "other.pth")
    with pytest.raises(CycleGANError, match=r"other\.pth \(entry 'model'\): no AtoB generator among the entries step;"):
        load_generator(other)


def test_a_whole_models_state_dict_gives_the_generator_of_the_direction(tmp_path):
    """A module holding netG_A, netG_B and the discriminators, saved whole (a Lightning checkpoint's
    `state_dict`): it was read as one generator of 15 blocks and refused as a shape mismatch."""
    g_a, g_b = ref_resnet(8, 6, seed=1), ref_resnet(8, 6, seed=2)
    sd = {
        **{f"model.netG_A.{k}": v for k, v in g_a.state_dict().items()},
        **{f"model.netG_B.{k}": v for k, v in g_b.state_dict().items()},
        "model.netD_A.model.0.weight": torch.zeros(8, 3, 4, 4),
    }
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    for path in (save(sd, tmp_path / "flat.pth"), save({"state_dict": sd, "epoch": 3}, tmp_path / "lightning.ckpt")):
        torch.testing.assert_close(load_generator(path, "AtoB")(x), g_a(x), atol=1e-5, rtol=0)
        torch.testing.assert_close(load_generator(path, "BtoA")(x), g_b(x), atol=1e-5, rtol=0)
    one = save({k: v for k, v in sd.items() if "netG_B" not in k}, tmp_path / "one.pth")
    with pytest.raises(CycleGANError, match="no BtoA generator among the entries netG_A \\(it holds netG_A, the other"):
        load_generator(one, "BtoA")


# --- what does not fit: one clear line --------------------------------------------------------------------


def _without(sd: dict, key: str) -> dict:
    return {k: v for k, v in sd.items() if k != key}


def _renamed_block(sd: dict, old: int, new: int) -> dict:
    return {k.replace(f"model.{old}.", f"model.{new}.", 1): v for k, v in sd.items()}


def _resized(sd: dict, key: str) -> dict:
    return {**sd, key: torch.zeros(5, 5, 3, 3)}


def _resnet_sd(**kw) -> dict:
    return ref_resnet(8, 6, **kw).state_dict()


BAD = {
    "tensor": (lambda: torch.zeros(3), "found a Tensor"),
    "other network": (lambda: {"features.0.weight": torch.zeros(8, 3, 3, 3)}, "found tensors features.0."),
    "discriminator": (lambda: nn.Sequential(nn.Conv2d(3, 8, 4)).state_dict(), "found tensors 0.weight"),
    # the reference's latest_net_D_A.pth (a PatchGAN: 4x4 convs, the last to 1 channel) was 'found tensors
    # model.0.weight, ...; expected ... a generator state dict in the reference layout'
    "reference discriminator": (
        lambda: {
            f"model.{i}.{name}": torch.zeros(shape)
            for i, cout, cin in ((0, 8, 3), (2, 16, 8), (5, 32, 16), (8, 64, 32), (11, 1, 64))
            for name, shape in (("weight", (cout, cin, 4, 4)), ("bias", (cout,)))
        },
        "a discriminator, not a generator (its last conv model.11 gives 1 channel",
    ),
    # CUT's latest_net_F.pth, taken for the B-to-A generator (F here): 'found tensors mlp_0.0.weight, ...'
    "CUT's feature MLP": (
        lambda: {"mlp_0.0.weight": torch.zeros(256, 3), "mlp_0.0.bias": torch.zeros(256)},
        "the CUT code's patch-feature MLP (its net_F, tensors mlp_0.0.weight, ...), not a generator",
    ),
    "greyscale": (lambda: _resnet_sd(input_nc=1), "1 input channel, expected 3"),
    # the reference's --output_nc 1: refused as one tensor's shape, "1x8x7x7, expected 3x8x7x7"
    "greyscale output": (
        lambda: RefResnetGenerator(3, 1, 8, ref_norm("instance"), False, 6).state_dict(),
        "the generator gives 1 output channel, expected 3 (RGB)",
    ),
    "greyscale U-Net output": (
        lambda: RefUnetGenerator(3, 1, 5, 4, ref_norm("batch"), False).state_dict(),
        "the generator gives 1 output channel, expected 3 (RGB)",
    ),
    "missing tensor": (
        lambda: _without(_resnet_sd(), "model.12.conv_block.5.bias"),
        "missing model.12.conv_block.5.bias",
    ),
    "wrong shape": (
        lambda: _resized(_resnet_sd(), "model.16.weight"),
        "model.16.weight has shape 5x5x3x3, expected 32x16x3x3",
    ),
    "block gap": (lambda: _renamed_block(_resnet_sd(), 12, 30), "expected consecutive blocks from model.10"),
    "norm none": (lambda: _resnet_sd(norm="none"), "norm 'none'"),
    # its advice was "expected a cyclegan checkpoint or a generator state dict in the reference layout"
    "other direction only": (
        lambda: {"G_B": _resnet_sd()},
        "g.pth: no AtoB generator among the entries G_B (it holds G_B, the other direction); use --direction BtoA, or "
        "the file that holds the AtoB generator",
    ),
    # loaded without a word (integers, complex numbers cast to float) or with torch's traceback
    "integer weights": (
        lambda: {**_resnet_sd(), "model.1.weight": torch.zeros(8, 3, 7, 7, dtype=torch.int64)},
        "model.1.weight is a torch.int64 tensor (torch.strided), expected a dense torch.float32 one",
    ),
    "complex weights": (
        lambda: {**_resnet_sd(), "model.1.weight": torch.zeros(8, 3, 7, 7, dtype=torch.complex64)},
        "model.1.weight is a torch.complex64 tensor",
    ),
    "sparse weights": (
        lambda: {**_resnet_sd(), "model.1.weight": torch.zeros(8, 3, 7, 7).to_sparse()},
        "model.1.weight is a torch.float32 tensor (torch.sparse_coo)",
    ),
    "meta weights": (
        lambda: {**_resnet_sd(), "model.1.weight": torch.empty(8, 3, 7, 7, device="meta")},
        "model.1.weight is a meta tensor (no data)",
    ),
    "keys not names": (lambda: {0: torch.zeros(3)}, "no AtoB generator among the entries 0"),
    # a script's {**G.state_dict(), "epoch": 5}: "no AtoB generator among the entries model.1.weight, ..."
    "an epoch among the tensors": (
        lambda: {**_resnet_sd(), "epoch": 5},
        "a state dict with entries that are no tensors, epoch (int); save the generator's state_dict() alone",
    ),
    "an empty dict": (dict, "g.pth: found an empty dict, expected a cyclegan checkpoint or a generator state dict"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_files_that_do_not_fit_give_one_clear_line(tmp_path, case):
    make, expected = BAD[case]
    path = save(make(), tmp_path / "g.pth")
    with pytest.raises(CycleGANError) as info:
        load_generator(path, "AtoB")
    message = str(info.value)
    assert expected in message and str(path) in message and "\n" not in message


def test_the_reference_implementations_run_folder_names_its_generator_files(tmp_path, capsys):
    """Its checkpoints/NAME/ folder given as the checkpoint: 'checkpoint not found: .../checkpoint.pt (give a
    run folder or a checkpoint file)', to someone who had given a run folder."""
    run = tmp_path / "checkpoints" / "horse2zebra"
    run.mkdir(parents=True)
    for name in ("latest_net_G_A", "latest_net_G_B", "latest_net_D_A", "5_net_G_A"):
        save(ref_resnet(8, 6).state_dict(), run / f"{name}.pth")
    Image.fromarray(gradient_image(16, 16)).save(tmp_path / "in.png")
    rc = main(["translate", str(tmp_path / "in.png"), "--checkpoint", str(run), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "holds no checkpoint.pt but generator files" in err
    assert "(5_net_G_A.pth, latest_net_G_A.pth, latest_net_G_B.pth)" in err and f"e.g. {run}/latest_net_G_A.pth" in err


def test_cli_prints_the_error_without_traceback(tmp_path, capsys):
    path = save(_without(ref_resnet(8, 6).state_dict(), "model.23.bias"), tmp_path / "g.pth")  # 6 blocks: conv out
    Image.fromarray(gradient_image(16, 16)).save(tmp_path / "in.png")
    rc = main(["translate", str(tmp_path / "in.png"), "--checkpoint", str(path), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("error: ") and "missing model.23.bias" in err and "Traceback" not in err


# --- near-reference files: other names, matched by order and shape ------------------------------------------


def near_reference(sd: dict, *, prefix: str = "module.") -> dict:
    """Another project's save of the same network: residual blocks at `block`, a DataParallel prefix."""
    return {prefix + k.replace(".conv_block.", ".block."): v for k, v in sd.items()}


def save_as_if_on_gpu(obj, path: Path, monkeypatch) -> Path:
    """torch.save with every storage tagged `cuda:0`, as a file saved from a GPU is: loading it without
    map_location fails on a machine without CUDA."""
    import torch.serialization

    with monkeypatch.context() as m:
        m.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        torch.save(obj, path)
    return path


@pytest.mark.parametrize("dropout, affine", [(False, True), (True, True), (False, False)])
def test_near_reference_file_translates_exactly_as_the_reference_layout(tmp_path, monkeypatch, dropout, affine):
    ref = ref_resnet(8, 6, dropout=dropout, affine=affine, seed=5)
    reference_file = save(ref.state_dict(), tmp_path / "reference.pth")
    near_file = save_as_if_on_gpu(near_reference(ref.state_dict()), tmp_path / "near.pth", monkeypatch)
    if not torch.cuda.is_available():  # the file really is tagged for a GPU
        with pytest.raises(RuntimeError):
            torch.load(near_file, weights_only=True)
    x = torch.rand(2, 3, 36, 44) * 2 - 1
    with torch.no_grad():
        assert torch.equal(load_generator(near_file)(x), load_generator(reference_file)(x))
        torch.testing.assert_close(load_generator(near_file)(x), ref(x), atol=1e-5, rtol=0)
    Image.fromarray(gradient_image(40, 52)).save(tmp_path / "in.png")
    for name, ckpt in (("near", near_file), ("reference", reference_file)):
        rc = main(
            [
                "translate",
                str(tmp_path / "in.png"),
                "--checkpoint",
                str(ckpt),
                "--out",
                str(tmp_path / name),
                "--no-progress",
                "--device",
                "cpu",
                "--precision",
                "fp32",
            ]
        )
        assert rc == 0
    assert (tmp_path / "near" / "in.png").read_bytes() == (tmp_path / "reference" / "in.png").read_bytes()


def test_near_reference_sorted_keys_and_other_names(tmp_path):
    ref = ref_resnet(8, 6, affine=True, seed=6)
    sd = near_reference(ref.state_dict(), prefix="netG.")
    renamed = {k.replace("netG.model.", "generator.layers."): v for k, v in sd.items()}
    as_text = dict(sorted(renamed.items()))  # model.10 before model.2: natural order is tried too
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(load_generator(save(as_text, tmp_path / "g.pth"))(x), ref(x), atol=1e-5, rtol=0)


NEAR_BAD = {
    "wrong shape": (
        lambda sd: {**sd, "module.model.12.block.5.weight": torch.zeros(32, 32, 1, 1)},
        "tensor module.model.12.block.5.weight has shape 32x32x1x1 where a ResNet generator, 6 blocks",
    ),
    "missing bias": (
        lambda sd: _without(sd, "module.model.13.block.1.bias"),
        "layer module.model.13.block.1 has no 'bias' where",
    ),
    "extra layer": (
        lambda sd: {**sd, "module.model.27.scale": torch.ones(3)},
        "tensor module.model.27.scale is left over after the last layer",
    ),
    "extra tensor": (
        lambda sd: {**sd, "module.model.12.block.1.scale": torch.ones(32)},
        "tensor module.model.12.block.1.scale does not fit",
    ),
    "odd convs": (
        lambda sd: _without(_without(sd, "module.model.13.block.5.weight"), "module.model.13.block.5.bias"),
        "found 17 convolutions, expected a ResNet generator's 6 plus 2 per residual block",
    ),
}


@pytest.mark.parametrize("case", list(NEAR_BAD))
def test_near_reference_files_that_do_not_fit_name_the_first_tensor(tmp_path, case):
    make, expected = NEAR_BAD[case]
    path = save(make(near_reference(ref_resnet(8, 6).state_dict())), tmp_path / "g.pth")
    with pytest.raises(CycleGANError) as info:
        load_generator(path)
    message = str(info.value)
    assert expected in message and str(path) in message and "\n" not in message


@pytest.mark.parametrize("names", ["reference", "other"])
def test_a_small_file_declaring_a_huge_generator_is_refused_before_building_it(tmp_path, names):
    """A stride-0 tensor stores one value under any shape: a 0.5 MB file whose first conv declares 100,000 filters
    made load_generator allocate the network it implies (a 720 GB conv: a RuntimeError traceback, or, where the
    allocation succeeds, the machine's memory). The zip-bomb bound sees only the file's bytes."""
    sd = ref_resnet(ngf=8, n_blocks=6).state_dict()
    sd["model.1.weight"] = torch.zeros(1).as_strided((100_000, 3, 7, 7), (0, 0, 0, 0))
    if names == "other":  # matched by the tensors' order and shapes
        sd = {k.replace("model.", "net."): v for k, v in sd.items()}
    path = save(sd, tmp_path / "huge.pth")
    assert path.stat().st_size < 1_000_000
    with pytest.raises(CycleGANError, match=r"huge.pth: its tensors describe a ResNet .*ngf 100000.* beyond the 2e"):
        load_generator(path)


def test_averaged_weights_asked_of_a_foreign_file_are_refused(tmp_path):
    """`--ema on` requires the averaged weights (a run without them is refused); a reference .pth gave its raw
    weights without a word."""
    path = save(ref_resnet(ngf=8, n_blocks=2).state_dict(), tmp_path / "latest_net_G_A.pth")
    with pytest.raises(CycleGANError, match=r"latest_net_G_A.pth is a generator file of another project, which holds"):
        load_generator(path, ema="on")
    assert load_generator(path, ema="auto") is not None
