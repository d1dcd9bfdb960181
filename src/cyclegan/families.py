"""The model families (`--model`): one entry each, the one place that says what a family is.

An entry names the family's networks (by kind: `models.NETWORK_KINDS` builds them), which generator
translates which direction, what a resumed run restores besides the networks (optimizers, LR schedules, image
pools), whether it trains on pairs, the option values it brings (`defaults`), the shared options that do not
apply to it, its own option section, a hook that completes and checks its config, and its trainer as
"module:Class" (imported only when training). Configuration, checkpoints, training, the CLI's help and the web
page all read this table; none of them branches on a family's name.

This module imports neither torch nor the rest of the package (but `options` and `errors`), so the command
line's help and the web page's run list can read it cheaply.

Adding a family: its networks (a kind in `models.NETWORK_KINDS` where it needs a new one), its trainer (a
subclass of `train.trainer.Trainer`), its entry here (or `register(Family(...))` from your own code), its tests.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import CycleGANError
from .options import Section, given_as, opt

# The configuration (`cyclegan.config.Config`, its `model` a `ModelConfig`) is built from this table, so this
# module does not import it: the functions below take it as it comes (`Config` / `ModelConfig` in their text).
Config = ModelConfig = Any

GENERATOR_FOR = {"AtoB": "G", "BtoA": "F"}  # a two-way family's G: A -> B (X -> Y), F: B -> A


@dataclass(frozen=True)
class Family:
    """One model family.

    networks: name -> kind, in the order they are built (the weight init follows it); the names are the
        checkpoint's. A two-way family has G (A -> B) and F (B -> A); a one-way family one generator G that
        translates `--direction`.
    optimizers: the optimizers (each with its LR schedule) a checkpoint holds; pools: its image pools.
    defaults: option values by flat name; precedence: field default < family < preset < file < flags.
    unused: shared options (of `model`, `data`, `train`) that do not apply: refused when given.
    section, section_class, section_title: the family's own options (a `Section` dataclass), their key in
        config files and `config.json`, and their `--help` group. Families may share a section.
    finalize: completes and checks a resolved config (`finalize(cfg) -> cfg`): derived defaults, and what
        the family needs of the networks; a one-line CycleGANError otherwise.
    trainer: "module:Class" of its trainer, imported when a run starts.
    title: how reports name it (`compare`'s translation column: CycleGAN, pix2pix, CUT, FastCUT); None: `name`.
    """

    name: str
    summary: str
    networks: Mapping[str, str]
    trainer: str
    two_way: bool = False
    paired: bool = False
    optimizers: tuple[str, ...] = ("G", "D")
    pools: tuple[str, ...] = ()
    defaults: Mapping[str, Any] = field(default_factory=dict)
    unused: tuple[str, ...] = ()
    section: str | None = None
    section_class: type[Section] | None = None
    section_title: str | None = None
    finalize: Callable[[Config], Config] | None = None
    title: str | None = None

    @property
    def label(self) -> str:
        """The family as reports name it: its `title`, else its `name`."""
        return self.title or self.name

    @property
    def generators(self) -> tuple[str, ...]:
        """The networks that are generators (translated with, averaged with --ema-decay, exported)."""
        return tuple(GENERATOR_FOR.values()) if self.two_way else ("G",)

    @property
    def training_state(self) -> dict[str, tuple[str, ...]]:
        """What a resumed run restores besides the networks, by checkpoint key."""
        return {"optimizers": self.optimizers, "schedulers": self.optimizers, "pools": self.pools}


FAMILIES: dict[str, Family] = {}


def register(family: Family) -> Family:
    """Add `family` to the table (from the family's module, a plug-in or a test); its name must be new."""
    if family.name in FAMILIES:
        raise CycleGANError(f"model family {family.name!r} is registered already")
    missing = [n for n in family.generators if n not in family.networks]
    if missing:
        what = f"generator{'s' * (len(missing) > 1)} {', '.join(missing)}"  # "generator(s) F" named one
        raise CycleGANError(f"model family {family.name!r}: its networks lack the {what}")
    FAMILIES[family.name] = family
    return family


def unregister(name: str) -> None:
    """Remove a family registered with `register` (tests)."""
    FAMILIES.pop(name, None)


def family(name: str) -> Family:
    """The family `name`, or a one-line error listing the known ones."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise CycleGANError(f"unknown model family {name!r}; choose one of: {', '.join(FAMILIES)}") from None


def names() -> tuple[str, ...]:
    return tuple(FAMILIES)


def sections() -> dict[str, type[Section]]:
    """The families' own option sections, by key, in the order of the table."""
    out: dict[str, type[Section]] = {}
    for f in FAMILIES.values():
        if f.section and f.section_class:
            out.setdefault(f.section, f.section_class)
    return out


def section_titles() -> dict[str, str]:
    return {f.section: f.section_title or f"{f.section} options" for f in FAMILIES.values() if f.section}


def accepting(option: str, section: str) -> tuple[str, ...]:
    """The families an option (by flat name, in config section `section`) applies to."""
    return tuple(
        f.name
        for f in FAMILIES.values()
        if option not in f.unused and (section in ("model", "data", "train") or f.section == section)
    )


def directions_of(m: ModelConfig) -> tuple[str, ...]:
    """The directions a model of config `m` translates: both for a two-way family, the trained one else."""
    return tuple(GENERATOR_FOR) if family(m.family).two_way else (m.direction,)


def generator_for(m: ModelConfig, direction: str, *, source: str) -> str:
    """The network of a checkpoint of config `m` that translates `direction`; one line if it has none."""
    if family(m.family).two_way:
        return GENERATOR_FOR[direction]
    if direction != m.direction:
        a, b = m.direction[0], m.direction[-1]
        raise CycleGANError(
            f"{source}: this {m.family} model translates {a} to {b} only; use --direction {m.direction}"
        )
    return "G"


def directions_in_stored_config(config: object, held: object = None) -> tuple[str, ...]:
    """`directions_of` for a config read from a run's `config.json` (not checked): both when it is unknown.
    `held`: the names of the networks a file holds (its "models"), where known: a direction whose generator it
    lacks is left out (`save_generator`'s file of one CycleGAN generator)."""
    model = config.get("model") if isinstance(config, dict) else None
    family = model.get("family") if isinstance(model, dict) else None
    f = FAMILIES.get(family) if isinstance(family, str) else None  # a list or dict there: unknown, not a crash
    if f is None:
        return tuple(GENERATOR_FOR)
    direction = model.get("direction", "AtoB")
    if f.two_way or not (isinstance(direction, str) and direction in GENERATOR_FOR):
        directions = tuple(GENERATOR_FOR)
    else:
        directions = (direction,)
    if not isinstance(held, (dict, list, tuple, set)):
        return directions
    kept = tuple(d for d in directions if (GENERATOR_FOR[d] if f.two_way else "G") in held)
    return kept or directions  # none held: the file is refused when it loads, in its own words


# --- the built-in families' own options ----------------------------------------------------------------------


@dataclass(frozen=True)
class Pix2PixConfig(Section):
    """pix2pix (Isola et al. 2017): G learns x -> y from pairs, with a conditional PatchGAN on (x, y)."""

    lambda_l1: float = opt(100.0, "weight of the L1 loss between G(x) and its true pair y", ge=0)


@dataclass(frozen=True)
class CUTConfig(Section):
    """CUT and FastCUT (Park et al. 2020): one generator, PatchNCE between its input's and its output's encoder
    features in place of the cycle. None: the family's value (the CUT paper's CUT / FastCUT settings)."""

    lambda_nce: float | None = opt(None, "weight of the PatchNCE loss", ge=0, default_text="1 for cut, 10 for fastcut")
    nce_idt: bool | None = opt(
        None,
        "identity PatchNCE on G(y) against y, averaged with the main term",
        default_text="on for cut, off for fastcut",
    )
    flip_equivariance: bool | None = opt(
        None,
        "flip the generator's input at random and its output features back (FastCUT's regulariser)",
        default_text="off for cut, on for fastcut",
    )
    nce_layers: tuple[int, ...] | None = opt(
        None,
        "indices into the resnet generator's layers whose outputs PatchNCE compares",
        default_text="the CUT paper's: the input, both downsampling convs, the first and middle residual blocks "
        "(its 0 4 8 12 16)",
        ge=0,
    )
    nce_num_patches: int = opt(256, "patches sampled per layer and image", gt=0, le=65536)
    nce_temperature: float = opt(0.07, "temperature of the PatchNCE softmax", gt=0)
    nce_mlp_dim: int = opt(256, "units of the two-layer MLP head H applied to each layer's features", gt=0, le=65536)


def encoder_length(m: ModelConfig) -> int:
    """Layers of the resnet generator's `model` before its first upsampling layer: the stem (pad, conv,
    norm, ReLU), two downsamplings (3 layers each; 4 anti-aliased) and the residual blocks."""
    return 4 + 2 * (4 if m.downsample == "antialias" else 3) + m.n_blocks


def default_nce_layers(m: ModelConfig) -> tuple[int, ...]:
    """The CUT paper's layers mapped onto this generator: the input (after the reflection pad), the conv of
    each downsampling, the first and the middle residual block (its 0, 4, 8, 12, 16 on 9 blocks)."""
    down = 4 if m.downsample == "antialias" else 3
    first_block = 4 + 2 * down
    layers = [0, 4, 4 + down]
    if m.n_blocks:
        layers += sorted({first_block, first_block + m.n_blocks // 2})
    return tuple(layers)


def _finalize_pix2pix(cfg: Config) -> Config:
    m = cfg.model
    if m.discriminator != "patchgan":
        raise CycleGANError(
            "option 'discriminator': pix2pix conditions a patchgan discriminator on its input (6 channels); "
            f"{m.discriminator!r} is not supported with {given_as('family', m.family, flag='--model')}"
        )
    return cfg


def _finalize_cut(cfg: Config) -> Config:
    """The family's values where the section holds None (its "the family's value"), and the PatchNCE layers
    filled in and checked against the generator's encoder."""
    m, c = cfg.model, cfg.cut
    # a CycleGAN run's config.json holds `cut` with None: given with --model cut, it crashed the first step
    own = {k: v for k, v in family(m.family).defaults.items() if getattr(c, k, 0) is None}
    c = dataclasses.replace(c, **own)
    if m.generator != "resnet":
        raise CycleGANError(
            f"option 'generator': {given_as('family', m.family, flag='--model')} needs the resnet generator (PatchNCE "
            f"compares its encoder's layers), got {m.generator!r}"
        )
    if c.nce_layers is None:
        c = dataclasses.replace(c, nce_layers=default_nce_layers(m))
    encoder = encoder_length(m)
    bad = [i for i in c.nce_layers if i >= encoder]
    # increasing: the encoder returns its features in its own order, which the heads are built in (4 0 was a
    # matrix-shape RuntimeError at the first step)
    if bad or not c.nce_layers or list(c.nce_layers) != sorted(set(c.nce_layers)):
        raise CycleGANError(
            f"option 'nce_layers': {' '.join(map(str, c.nce_layers)) or 'none'}: give distinct increasing indices of "
            f"the generator's encoder layers, 0 to {encoder - 1} (with n_blocks {m.n_blocks}, downsample "
            f"{m.downsample})"
        )
    return cfg.with_section("cut", c)


_ONE_SIDED_UNUSED = ("lambda_cycle", "lambda_identity")
# CUT and FastCUT as the CUT paper trains them: the 9-block resnet generator (6 below 256 px) with the
# anti-aliased resampling of its code, the 70x70 PatchGAN, LSGAN, no image pool, batch 1; CUT: PatchNCE weight
# 1 with the identity term, the LR decaying over the last half of the steps; FastCUT: weight 10, no identity
# term, flip-equivariance, decay over the last quarter.
_CUT_NETWORKS = {"G": "generator", "D": "discriminator", "H": "nce_head"}
_CUT_DEFAULTS = {"downsample": "antialias", "upsample": "antialias", "pool_size": 0}

for _family in (
    Family(
        "cyclegan",
        "two generators, unpaired (Zhu et al. 2017)",
        networks={"G": "generator", "F": "generator", "D_X": "discriminator", "D_Y": "discriminator"},
        trainer="cyclegan.train.cyclegan:CycleGANTrainer",
        two_way=True,
        optimizers=("G", "D_X", "D_Y"),  # one Adam over G and F (stored as "G"), one per discriminator
        pools=("X", "Y"),  # the history of F(y) for D_X, of G(x) for D_Y
        unused=("direction",),
        title="CycleGAN",
    ),
    # pix2pix as its authors train it: U-Net generator with dropout, conditional 70x70 PatchGAN, vanilla GAN
    # loss, L1 weight 100, batch 1. InstanceNorm where the reference uses BatchNorm at batch 1: the same
    # normalisation in training, without running statistics that eval mode would use instead.
    Family(
        "pix2pix",
        "paired data (Isola et al. 2017)",
        networks={"G": "generator", "D": "conditional_discriminator"},
        trainer="cyclegan.train.pix2pix:Pix2PixTrainer",
        paired=True,
        defaults={"generator": "unet", "dropout": 0.5, "gan_loss": "vanilla"},
        unused=(*_ONE_SIDED_UNUSED, "diffaug", "pool_size"),
        section="pix2pix",
        section_class=Pix2PixConfig,
        section_title="pix2pix options (--model pix2pix: paired data)",
        finalize=_finalize_pix2pix,
    ),
    Family(
        "cut",
        "one generator, unpaired, contrastive (Park et al. 2020)",
        networks=_CUT_NETWORKS,
        trainer="cyclegan.train.cut:CUTTrainer",
        pools=("Y",),  # the history of G(x) for D
        defaults={**_CUT_DEFAULTS, "lambda_nce": 1.0, "nce_idt": True, "flip_equivariance": False},
        unused=_ONE_SIDED_UNUSED,
        section="cut",
        section_class=CUTConfig,
        section_title="CUT options (--model cut or fastcut)",
        finalize=_finalize_cut,
        title="CUT",
    ),
    Family(
        "fastcut",
        "CUT without the identity term, with flip-equivariance (Park et al. 2020)",
        networks=_CUT_NETWORKS,
        trainer="cyclegan.train.cut:CUTTrainer",
        pools=("Y",),
        defaults={
            **_CUT_DEFAULTS,
            "lr_decay_fraction": 0.25,
            "lambda_nce": 10.0,
            "nce_idt": False,
            "flip_equivariance": True,
        },
        unused=_ONE_SIDED_UNUSED,
        section="cut",
        section_class=CUTConfig,
        section_title="CUT options (--model cut or fastcut)",
        finalize=_finalize_cut,
        title="FastCUT",
    ),
):
    register(_family)
