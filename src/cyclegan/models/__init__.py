"""Generators and discriminators by name. Pure `nn.Module`s: no devices, files or optimizers here."""

from collections.abc import Callable

import torch
from torch import nn
from torch.nn.utils import parametrize

from ..config import Config, ModelConfig
from ..families import family
from .cut import PatchSampleMLP, layer_channels
from .patchgan import PatchGANDiscriminator
from .projected import MultiDiscriminator, ProjectedDiscriminator
from .resnet import ResnetGenerator
from .seed import SeedDiscriminator, SeedGenerator
from .unet import UnetGenerator

# Per network: far above any CycleGAN (the paper's generator has 11.4 M), far below what a machine can hold
# (8 GB of fp32 weights). A network a file describes beyond it (a stored config, a foreign file's tensors'
# shapes) is damage or a hostile file, refused before allocating.
MAX_PARAMETERS = 2_000_000_000

GENERATORS: dict[str, Callable[[ModelConfig], nn.Module]] = {
    "resnet": lambda c: ResnetGenerator(
        ngf=c.ngf,
        n_blocks=c.n_blocks,
        norm=c.norm,
        dropout=c.dropout,
        downsample=c.downsample,
        upsample=c.upsample,
        residual_output=c.residual_output,
        padding=c.padding,
        block_dilation=c.block_dilation,
    ),
    "seed": lambda c: SeedGenerator(ngf=c.ngf, n_blocks=c.n_blocks, norm=c.norm, dropout=c.dropout),
    "unet": lambda c: UnetGenerator(num_downs=c.unet_levels, ngf=c.ngf, norm=c.norm, dropout=c.dropout),
}


def _patchgan(c: ModelConfig, in_channels: int = 3) -> nn.Module:
    return PatchGANDiscriminator(
        ndf=c.ndf, n_layers=c.d_layers, norm=c.norm, spectral_norm=c.spectral_norm, in_channels=in_channels
    )


def _projected(c: ModelConfig) -> nn.Module:
    return ProjectedDiscriminator(width=c.ndf, ndf=c.ndf, spectral_norm=True)


DISCRIMINATORS: dict[str, Callable[[ModelConfig], nn.Module]] = {
    "patchgan": _patchgan,
    "seed": lambda c: SeedDiscriminator(ndf=c.ndf, n_layers=c.d_layers, norm=c.norm),
    "projected": _projected,
    "patchgan+projected": lambda c: MultiDiscriminator(_patchgan(c), _projected(c)),
}


def _raw_weight(m: nn.Module) -> torch.Tensor:
    """The stored weight (under spectral normalisation, the one before normalising)."""
    if parametrize.is_parametrized(m, "weight"):
        return m.parametrizations.weight.original
    return m.weight


def init_weights(net: nn.Module, *, kind: str, gain: float) -> nn.Module:
    """`normal`: conv weights N(0, gain), norm weights N(1, gain), biases 0 (the paper); `default`: PyTorch's."""
    if kind == "default":
        return net
    if kind != "normal":
        raise ValueError(f"unknown init {kind!r}")
    for m in net.modules():
        if getattr(m, "skip_init", False):  # a layer that must start where its module put it (e.g. at zero)
            continue
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(_raw_weight(m), 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)
    return net


def build_generator(cfg: ModelConfig) -> nn.Module:
    """A generator (B, 3, H, W) -> (B, 3, H, W), values in [-1, 1], any H and W (padded to `size_multiple` inside)."""
    return init_weights(GENERATORS[cfg.generator](cfg), kind=cfg.init, gain=cfg.init_gain)


def build_discriminator(cfg: ModelConfig) -> nn.Module:
    """A patch discriminator (B, 3, H, W) in [-1, 1] -> (B, 1, h, w) raw scores."""
    return init_weights(DISCRIMINATORS[cfg.discriminator](cfg), kind=cfg.init, gain=cfg.init_gain)


def build_models(cfg: ModelConfig) -> dict[str, nn.Module]:
    """The four networks of CycleGAN: G (X -> Y, i.e. A -> B), F (Y -> X), D_X (judges X), D_Y (judges Y)."""
    return {
        "G": build_generator(cfg),
        "F": build_generator(cfg),
        "D_X": build_discriminator(cfg),
        "D_Y": build_discriminator(cfg),
    }


def build_conditional_discriminator(cfg: ModelConfig) -> nn.Module:
    """pix2pix's discriminator: (B, 6, H, W), the input and an output concatenated -> (B, 1, h, w) scores."""
    return init_weights(_patchgan(cfg, in_channels=6), kind=cfg.init, gain=cfg.init_gain)


def build_head(cfg: Config, generator: nn.Module | None = None) -> nn.Module:
    """CUT's projection head H for the layers `cfg.cut.nce_layers` of `generator` (default: the config's
    generator, built on the meta device for its layer shapes only: no weights, no random numbers drawn)."""
    if generator is None:
        with torch.device("meta"):
            generator = GENERATORS[cfg.model.generator](cfg.model)
    channels = layer_channels(generator, cfg.cut.nce_layers)
    return PatchSampleMLP(channels, dim=cfg.cut.nce_mlp_dim, init_gain=cfg.model.init_gain)


# The kinds of network a model family is made of (`families.Family.networks`), each built from the whole
# config and the networks built before it in the family's order (CUT's head takes its generator's layers).
NETWORK_KINDS: dict[str, Callable[[Config, dict[str, nn.Module]], nn.Module]] = {
    "generator": lambda cfg, built: build_generator(cfg.model),
    "discriminator": lambda cfg, built: build_discriminator(cfg.model),
    "conditional_discriminator": lambda cfg, built: build_conditional_discriminator(cfg.model),
    "nce_head": lambda cfg, built: build_head(cfg, built.get("G")),
}


def build_networks(cfg: Config) -> dict[str, nn.Module]:
    """The networks of `cfg`'s model family, named and built in the order of its `families` entry."""
    built: dict[str, nn.Module] = {}
    for name, kind in family(cfg.model.family).networks.items():
        built[name] = NETWORK_KINDS[kind](cfg, built)
    return built


def network_builder(cfg: Config, name: str) -> Callable[[], nn.Module]:
    """A function building network `name` of `cfg`'s family alone (for checking a checkpoint's shapes)."""
    kind = family(cfg.model.family).networks[name]
    return lambda: NETWORK_KINDS[kind](cfg, {})


__all__ = [
    "NETWORK_KINDS",
    "build_networks",
    "network_builder",
    "UnetGenerator",
    "PatchSampleMLP",
    "GENERATORS",
    "DISCRIMINATORS",
    "build_generator",
    "build_discriminator",
    "build_models",
    "init_weights",
    "ResnetGenerator",
    "PatchGANDiscriminator",
    "ProjectedDiscriminator",
    "MultiDiscriminator",
    "SeedGenerator",
    "SeedDiscriminator",
]
