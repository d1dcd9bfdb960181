"""Typed configuration: one definition per option, presets, config files and flag overrides.

Every option is a field of one of three frozen dataclasses, with its help text in the field's metadata.
The command line (`cyclegan train --help`), `--config FILE` and the `config.json` saved in each run are
all generated from, and checked against, these fields. Precedence: field default < preset < file < flags.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, Literal

from .errors import CycleGANError
from .options import MAX_SEED, Options, coerce, opt

Precision = Literal["auto", "fp32", "bf16", "fp16"]
OnOff = Literal["auto", "on", "off"]
Family = Literal["cyclegan", "pix2pix", "cut", "fastcut"]
ONE_GENERATOR: tuple[Family, ...] = ("pix2pix", "cut", "fastcut")  # families that learn one direction
UNPAIRED_ONE_SIDED: tuple[Family, ...] = ("cut", "fastcut")


# Options shared with other subcommands (translate, bench): one definition each, as field factories.
def device_option() -> Any:
    return opt("auto", "auto, cpu, cuda, cuda:N or mps (auto: CUDA, then MPS, then CPU)", metavar="DEVICE")


def precision_option() -> Any:
    return opt("auto", "autocast precision (auto: bf16 on CPUs with native bf16 and on bf16 GPUs, else fp32)")


def channels_last_option() -> Any:
    return opt("auto", "channels-last memory format (auto: off; measured slower with InstanceNorm)")


def compile_option() -> Any:
    return opt("auto", "torch.compile the networks (auto: for long bf16 CPU work when a C++ compiler is present)")


def checkpoint_option(**kwargs: Any) -> Any:
    return opt(
        help="a run folder, a checkpoint file, a generator .pth of the reference implementation, or "
        "pretrained:NAME (a published generator, downloaded on first use: `cyclegan pretrained list`)",
        metavar="RUN_OR_FILE", **kwargs,
    )  # fmt: skip


def direction_option(default: str = "AtoB") -> Any:
    return opt(default, "AtoB translates A -> B with G, BtoA translates B -> A with F")


def ema_option() -> Any:
    return opt("auto", "the generator's averaged weights (--ema-decay) or its last raw ones (auto: the average "
               "when the checkpoint has one)")  # fmt: skip


def progress_option() -> Any:
    return opt(True, "progress bars (--no-progress for none)")


@dataclass(frozen=True)
class ExecutionOptions(Options):
    """How the networks compute (see `cyclegan.execution.choose_execution`); `auto` picks per device."""

    precision: Precision = precision_option()
    channels_last: OnOff = channels_last_option()
    compile: OnOff = compile_option()


class Section(Options):
    naming: ClassVar[str] = "key"  # errors say 'batch_size', the name used in config files


@dataclass(frozen=True)
class ModelConfig(Section):
    family: Family = opt(
        "cyclegan", "model family: cyclegan (two generators, unpaired), pix2pix (paired data), cut or fastcut (one "
        "generator, unpaired, contrastive); without --preset it also picks the family's preset", flag="--model",
    )  # fmt: skip
    direction: Literal["AtoB", "BtoA"] = opt(
        "AtoB",
        "the direction a one-generator family learns: AtoB maps A to B, BtoA maps B to A",
        families=ONE_GENERATOR,
    )
    generator: Literal["resnet", "seed", "unet"] = opt(
        "resnet", "generator architecture (unet: the pix2pix U-Net, unet_256 at 256 px)"
    )
    discriminator: Literal["patchgan", "seed", "projected", "patchgan+projected"] = opt(
        "patchgan", "discriminator architecture (projected: heads on a frozen ImageNet EfficientNet-Lite0)"
    )
    ngf: int = opt(64, "base channels of the generators", gt=0, le=4096)
    ndf: int = opt(64, "base channels of the discriminators", gt=0, le=4096)
    n_blocks: int | None = opt(
        None, "residual blocks per generator", ge=0, le=1000, default_text="the paper's: 9 at >= 256 px, else 6"
    )
    unet_levels: int | None = opt(
        None, "stride-2 levels of the unet generator", ge=5, le=16,
        default_text="log2(size): 8 at 256 px (unet_256), 7 at 128 px (unet_128), 5 at 32 px",
    )  # fmt: skip
    d_layers: int = opt(3, "stride-2 conv layers per discriminator (3 gives the 70x70 PatchGAN)", gt=0, le=12)
    norm: Literal["instance", "batch", "none"] = opt("instance", "normalisation layers")
    dropout: float = opt(0.0, "dropout probability inside the residual blocks", ge=0, lt=1)
    downsample: Literal["stride", "antialias"] = opt(
        "stride", "resnet generator's x2 downsampling: strided conv, or conv then a fixed blur with stride 2"
    )
    upsample: Literal["transpose", "resize", "antialias"] = opt(
        "transpose", "resnet generator's x2 upsampling: transposed conv (checkerboards), nearest resize + conv, "
        "or a fixed low-pass transposed filter + conv",
    )  # fmt: skip
    residual_output: bool = opt(False, "resnet generator outputs tanh(atanh(input) + change), starting at the input")
    spectral_norm: bool = opt(False, "spectral normalisation in the patchgan discriminator (always in projected heads)")
    init: Literal["normal", "default"] = opt("normal", "weight init: normal N(0, init_gain) or PyTorch's default")
    init_gain: float = opt(0.02, "standard deviation of the normal init", gt=0)


@dataclass(frozen=True)
class DataConfig(Section):
    data: str | None = opt(None, "dataset root holding trainA, trainB (and testA, testB for samples)")
    domain_a: str | None = opt(None, "folder of domain A (X) training images, instead of --data")
    domain_b: str | None = opt(None, "folder of domain B (Y) training images, instead of --data")
    size: int = opt(256, "training crop size in pixels", gt=0, le=8192)
    load_scale: float = opt(286 / 256, "images are resized to size * load_scale before the random crop", ge=1, le=8)
    flip: bool = opt(True, "random horizontal flips")
    skip_bad_images: bool = opt(False, "skip unreadable images with a warning instead of stopping")
    num_workers: int = opt(-1, "data loading processes (-1: choose from the CPU count)", ge=-1)


DIFFAUG_POLICIES = ("color", "translation", "cutout")


@dataclass(frozen=True)
class TrainConfig(Section):
    out: str | None = opt(None, "run folder: checkpoint, config, logs and samples go here")
    steps: int | None = opt(None, "total training steps (iterations), counting steps already done", gt=0)
    epochs: int | None = opt(None, "total epochs (passes over the larger domain), instead of --steps", gt=0)
    batch_size: int = opt(1, "images per domain per step", gt=0)
    lr: float = opt(2e-4, "Adam learning rate", gt=0, le=1)
    beta1: float = opt(0.5, "Adam beta1", ge=0, lt=1)
    beta2: float = opt(0.999, "Adam beta2", ge=0, lt=1)
    gan_loss: Literal["lsgan", "vanilla", "hinge"] = opt(
        "lsgan", "adversarial loss: least squares, cross-entropy or hinge"
    )
    lambda_cycle: float = opt(10.0, "weight of the cycle-consistency L1 loss", ge=0, families=("cyclegan",))
    lambda_identity: float = opt(
        0.5, "identity loss weight, relative to lambda_cycle (0 turns it off)", ge=0, families=("cyclegan",)
    )
    d_loss_weight: float = opt(0.5, "factor on the discriminator loss (the paper halves it)", ge=0)
    diffaug: str = opt(
        "", "differentiable augmentation of every discriminator input, a comma list of color, translation, "
        "cutout (Zhao et al. 2020); never of the cycle or identity targets", default_text="none",
        families=("cyclegan", *UNPAIRED_ONE_SIDED),
    )  # fmt: skip
    ema_decay: float = opt(
        0.0, "exponential moving average of the generators' weights (e.g. 0.999; 0: off); translation, "
        "evaluation, samples and export use the average", ge=0, lt=1,
    )  # fmt: skip
    r1_gamma: float = opt(0.0, "R1 penalty weight: gamma/2 * |grad D(real)|^2 (0: off)", ge=0)
    pool_size: int = opt(
        50, "generated images kept per discriminator (0: no pool)", ge=0, families=("cyclegan", *UNPAIRED_ONE_SIDED)
    )
    lr_decay_fraction: float = opt(
        0.5, "final fraction of the steps over which the LR decays linearly to 0", ge=0, le=1
    )
    seed: int = opt(0, "random seed for init, data order, augmentation and the image pool", ge=0, le=MAX_SEED)
    device: str = device_option()
    precision: Precision = precision_option()
    channels_last: OnOff = channels_last_option()
    compile: OnOff = compile_option()
    log_every: int = opt(50, "log losses every N steps", gt=0)
    sample_every: int = opt(500, "write a sample grid every N steps (0: only at the end)", ge=0)
    checkpoint_every: int = opt(500, "write the checkpoint every N steps (0: only at the end)", ge=0)
    num_samples: int = opt(4, "fixed test images per direction in the sample grids", ge=0)
    time_limit: float | None = opt(None, "stop (and save, resumable) after this many minutes of training", gt=0)
    fit_steps: bool = opt(
        False, "with --time-limit: while the LR is still constant, re-fit the total steps to the time left at the "
        "speed measured so far, so the LR schedule reaches 0 as the time runs out (--steps/--epochs: the most)",
    )  # fmt: skip

    def __post_init__(self) -> None:
        super().__post_init__()
        unknown = [p for p in self.diffaug.split(",") if p and p not in DIFFAUG_POLICIES]
        if unknown:
            raise CycleGANError(f"option 'diffaug': unknown policy {unknown[0]!r} (use {', '.join(DIFFAUG_POLICIES)})")
        if self.fit_steps and not self.time_limit:
            raise CycleGANError("option '--fit-steps' fits the steps to a time budget: give it with --time-limit M")


@dataclass(frozen=True)
class Pix2PixConfig(Section):
    """pix2pix (Isola et al. 2017): G learns x -> y from pairs, with a conditional PatchGAN on (x, y)."""

    lambda_l1: float = opt(100.0, "weight of the L1 loss between G(x) and its true pair y", ge=0, families=("pix2pix",))


@dataclass(frozen=True)
class CUTConfig(Section):
    """CUT and FastCUT (Park et al. 2020): one generator, PatchNCE between its input's and its output's encoder
    features in place of the cycle. None: the family's value (the CUT paper's CUT / FastCUT settings)."""

    lambda_nce: float | None = opt(
        None, "weight of the PatchNCE loss", ge=0, default_text="1 for cut, 10 for fastcut", families=UNPAIRED_ONE_SIDED
    )
    nce_idt: bool | None = opt(
        None, "identity PatchNCE on G(y) against y, averaged with the main term", default_text="on for cut, off for "
        "fastcut", families=UNPAIRED_ONE_SIDED,
    )  # fmt: skip
    flip_equivariance: bool | None = opt(
        None, "flip the generator's input at random and its output features back (FastCUT's regulariser)",
        default_text="off for cut, on for fastcut", families=UNPAIRED_ONE_SIDED,
    )  # fmt: skip
    nce_layers: tuple[int, ...] | None = opt(
        None, "indices into the resnet generator's layers whose outputs PatchNCE compares",
        default_text="the CUT paper's: the input, both downsampling convs, the first and middle residual blocks "
        "(its 0 4 8 12 16)", families=UNPAIRED_ONE_SIDED, ge=0,
    )  # fmt: skip
    nce_num_patches: int = opt(256, "patches sampled per layer and image", gt=0, le=65536, families=UNPAIRED_ONE_SIDED)
    nce_temperature: float = opt(0.07, "temperature of the PatchNCE softmax", gt=0, families=UNPAIRED_ONE_SIDED)
    nce_mlp_dim: int = opt(
        256, "units of the two-layer MLP head H applied to each layer's features", gt=0, le=65536,
        families=UNPAIRED_ONE_SIDED,
    )  # fmt: skip


SECTIONS: dict[str, type] = {
    "model": ModelConfig, "data": DataConfig, "train": TrainConfig, "pix2pix": Pix2PixConfig, "cut": CUTConfig,
}  # fmt: skip


@dataclass(frozen=True)
class Config:
    """The whole resolved configuration of a run, saved as `config.json` and inside the checkpoint."""

    preset: str = "paper"
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    pix2pix: Pix2PixConfig = field(default_factory=Pix2PixConfig)
    cut: CUTConfig = field(default_factory=CUTConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


PRESETS: dict[str, dict[str, Any]] = {
    # The CycleGAN paper / the widely used reference implementation.
    "paper": {},
    # The classic tutorial's small model: 128 px, batch 16, BatchNorm, no pool, no decay, no identity.
    "seed": {
        "generator": "seed",
        "discriminator": "seed",
        "n_blocks": 6,
        "d_layers": 4,
        "norm": "batch",
        "init": "default",
        "size": 128,
        "load_scale": 1.0,
        "batch_size": 16,
        "lambda_identity": 0.0,
        "d_loss_weight": 1.0,
        "pool_size": 0,
        "lr_decay_fraction": 0.0,
    },
    # The best quality per CPU-minute we measured on ground truth (docs/results.md, "The fast recipe"): a
    # narrow, shallow ResNet generator (more steps in the same minutes beat a wider one) without transposed
    # convolutions (no checkerboards), a spectrally normalised PatchGAN, batch 2, a higher learning rate, and
    # an average of the generators' weights.
    "fast": {
        "ngf": 24,
        "n_blocks": 4,
        "ndf": 32,
        "size": 128,
        "upsample": "resize",
        "spectral_norm": True,
        "batch_size": 2,
        "lr": 4e-4,
        "ema_decay": 0.99,
    },
    # pix2pix as its authors train it: U-Net generator with dropout, conditional 70x70 PatchGAN, vanilla GAN
    # loss, L1 weight 100 (the pix2pix section's default), batch 1, 100 + 100 epochs. InstanceNorm where the
    # reference uses BatchNorm at batch 1: the same normalisation in training, without running statistics that
    # eval mode would use instead.
    "pix2pix": {"family": "pix2pix", "generator": "unet", "dropout": 0.5, "gan_loss": "vanilla"},
    # CUT and FastCUT as the CUT paper trains them: the 9-block resnet generator (6 below 256 px) with the
    # anti-aliased resampling of its code, the 70x70 PatchGAN, LSGAN, no image pool, batch 1, the LR decaying
    # over the last half (FastCUT: quarter) of the steps.
    "cut": {"family": "cut", "downsample": "antialias", "upsample": "antialias", "pool_size": 0},
    "fastcut": {
        "family": "fastcut",
        "downsample": "antialias",
        "upsample": "antialias",
        "pool_size": 0,
        "lr_decay_fraction": 0.25,
    },  # fmt: skip
}
FAMILY_PRESET = {"cyclegan": "paper", "pix2pix": "pix2pix", "cut": "cut", "fastcut": "fastcut"}
# The CUT section's values per family, where not given (the CUT paper: --CUT_mode CUT / FastCUT).
CUT_DEFAULTS: dict[str, dict[str, Any]] = {
    "cut": {"lambda_nce": 1.0, "nce_idt": True, "flip_equivariance": False},
    "fastcut": {"lambda_nce": 10.0, "nce_idt": False, "flip_equivariance": True},
}


@dataclass(frozen=True)
class TrainCommand(Options):
    """`cyclegan train`'s own options; the run's options (`Config`) come from the preset, file and flags."""

    preset: str | None = opt(
        None, "architecture and training defaults", default_text="paper, or the --model family's",
        choices=lambda: tuple(PRESETS),
    )  # fmt: skip
    config: str | None = opt(None, "YAML or JSON file of options (flat names or sections)", metavar="FILE")
    resume: bool = opt(False, "continue the run in --out from its checkpoint")
    progress: bool = opt(True, "progress bar (--no-progress: none; logs still go to log.jsonl)")

    def __post_init__(self) -> None:
        super().__post_init__()
        check_preset(self.preset)


def check_preset(name: str | None) -> None:
    if name is not None and name not in PRESETS:
        raise CycleGANError(f"unknown preset '{name}'; choose one of: {', '.join(PRESETS)}")


# Options that may change when a run is resumed; the rest would make the checkpoint a different model.
RESUMABLE = {
    "data", "domain_a", "domain_b", "skip_bad_images", "num_workers", "out", "steps", "epochs", "device",
    "precision", "channels_last", "compile",
    "log_every", "sample_every", "checkpoint_every", "time_limit", "fit_steps",
}  # fmt: skip


def option_fields() -> dict[str, tuple[str, dataclasses.Field]]:
    """Every option by its flat name: name -> (section, field). Names are unique across sections."""
    out: dict[str, tuple[str, dataclasses.Field]] = {}
    for section, cls in SECTIONS.items():
        for f in fields(cls):
            out[f.name] = (section, f)
    return out


def _field_types() -> dict[str, Any]:
    hints: dict[str, Any] = {}
    for cls in SECTIONS.values():
        hints.update(typing.get_type_hints(cls))
    return hints


def flatten(d: dict[str, Any], *, source: str) -> dict[str, Any]:
    """Accept flat keys (`lr: 1e-4`) or sections (`train: {lr: 1e-4}`); reject unknown keys by name."""
    known = option_fields()
    flat: dict[str, Any] = {}
    for key, value in d.items():
        if key in SECTIONS and isinstance(value, dict):
            for k, v in value.items():
                if k not in known or known[k][0] != key:
                    raise CycleGANError(f"{source}: unknown option '{key}.{k}'")
                flat[k] = v
        elif key == "preset":
            flat[key] = value
        elif key in known:
            flat[key] = value
        else:
            raise CycleGANError(f"{source}: unknown option '{key}' (see `cyclegan train --help`)")
    return flat


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON config file into flat options (not yet type-checked)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise CycleGANError(f"cannot read config file {path}: {e.strerror}") from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as e:  # both parsers' errors carry the line number
        reason = " ".join(str(e).split())  # one line
        raise CycleGANError(f"config file {path} is not valid {path.suffix[1:].upper() or 'YAML'}: {reason}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise CycleGANError(f"config file {path}: expected a mapping of option names to values")
    flat = flatten(data, source=str(path))
    hints = _field_types()
    for key, value in flat.items():  # checked here too, so a flag that overrides a bad value does not hide it
        if key != "preset":
            coerce(f"{key}' in '{path}", value, hints[key])
    return flat


def resolve(
    overrides: dict[str, Any] | None = None,
    *,
    preset: str | None = None,
    base: Config | None = None,
    source: str = "option",
    explicit: bool = True,
) -> Config:
    """Build a checked `Config`: `base` (or the preset's defaults), then `overrides` (flat option names).

    Without `preset` (or `base`), `family` in `overrides` picks its family's preset (`FAMILY_PRESET`).
    `explicit`: the overrides are what a user chose, so one that does not apply to the family is refused
    (`check_family_options`); a stored config (`config_from_dict`) holds every option and is not."""
    overrides = dict(overrides or {})
    family = overrides.get("family")
    default_preset = FAMILY_PRESET.get(family, "paper") if isinstance(family, str) else "paper"
    preset = overrides.pop("preset", None) or preset or (base.preset if base else default_preset)
    check_preset(preset)
    values: dict[str, Any] = {}
    if base is None:
        values.update(PRESETS[preset])
    else:
        for section in SECTIONS:
            values.update(dataclasses.asdict(getattr(base, section)))
    hints = _field_types()
    known = option_fields()
    for key, value in overrides.items():
        if key not in known:
            raise CycleGANError(f"unknown {source} '{key}'")
        values[key] = coerce(key, value, hints[key])
    sections = {
        name: cls(**{f.name: values[f.name] for f in fields(cls) if f.name in values}) for name, cls in SECTIONS.items()
    }
    cfg = Config(preset=preset, **sections)
    if explicit:
        check_family_options(overrides, cfg.model.family)
    return validate(cfg)


def check_family_options(given: dict[str, Any], family: str) -> None:
    """Refuse, in one line, an option given for a family it does not apply to (`--lambda-nce` with cyclegan)."""
    known = option_fields()
    for key in given:
        if key in known and (families := known[key][1].metadata.get("families")) and family not in families:
            flag = "--" + key.replace("_", "-")
            raise CycleGANError(f"option '{flag}' applies to --model {' or '.join(families)}, not to --model {family}")


def validate(cfg: Config) -> Config:
    """Fill derived defaults and reject values that are well-typed but unusable."""
    m, d = cfg.model, cfg.data
    if m.n_blocks is None:  # the paper: 9 blocks at 256 px and above, 6 below
        m = dataclasses.replace(m, n_blocks=9 if d.size >= 256 else 6)
    if m.generator == "unet" and m.unet_levels is None:  # unet_256 at 256 px, unet_128 at 128 px
        if d.size < 32:
            raise CycleGANError(f"option 'size': the unet generator needs >= 32 px (5 levels), got {d.size}")
        m = dataclasses.replace(m, unet_levels=min(16, d.size.bit_length() - 1))
    cfg = _validate_family(dataclasses.replace(cfg, model=m))
    m = cfg.model
    # The discriminator's last normalised feature map must keep more than one pixel (InstanceNorm fails
    # on 1x1): floor(size / 2**d_layers) - 1 >= 2 for the PatchGAN, >= 1 (+ the final conv) for the seed D.
    need = 3 if m.discriminator.startswith("patchgan") else 2
    if m.discriminator != "projected" and d.size // 2**m.d_layers < need:
        raise CycleGANError(
            f"option 'size': {d.size} px is too small for a {m.discriminator} discriminator with d_layers="
            f"{m.d_layers} (needs >= {need * 2**m.d_layers} px); raise --size or lower --d-layers"
        )
    if "projected" in m.discriminator and d.size < 32:
        raise CycleGANError(
            f"option 'size': the projected discriminator needs >= 32 px (its deepest map is 1/32), got {d.size}"
        )
    if m.generator in ("seed", "unet"):
        for name, default in (("downsample", "stride"), ("upsample", "transpose"), ("residual_output", False)):
            if getattr(m, name) != default:
                raise CycleGANError(f"option '{name}' applies to the resnet generator only (--generator resnet)")
    multiple = {"seed": 8, "resnet": 4, "unet": 1}[m.generator]  # the U-Net pads itself
    if d.size % multiple:
        raise CycleGANError(f"option 'size' must be a multiple of {multiple} for the {m.generator} generator")
    return dataclasses.replace(cfg, model=m)


def _validate_family(cfg: Config) -> Config:
    """What a family needs of the networks, and the CUT section's values filled in for cut and fastcut."""
    m = cfg.model
    if m.family == "pix2pix" and m.discriminator != "patchgan":
        raise CycleGANError("option 'discriminator': pix2pix conditions a patchgan discriminator on its input "
                            f"(6 channels); {m.discriminator!r} is not supported with --model pix2pix")  # fmt: skip
    if m.family not in UNPAIRED_ONE_SIDED:
        return cfg
    if m.generator != "resnet":
        raise CycleGANError(f"option 'generator': --model {m.family} needs the resnet generator (PatchNCE compares "
                            f"its encoder's layers), got {m.generator!r}")  # fmt: skip
    c = cfg.cut
    fill = {k: v for k, v in CUT_DEFAULTS[m.family].items() if getattr(c, k) is None}
    if c.nce_layers is None:
        fill["nce_layers"] = default_nce_layers(m)
    c = dataclasses.replace(c, **fill)
    encoder = encoder_length(m)
    bad = [i for i in c.nce_layers if i >= encoder]
    if bad or not c.nce_layers or len(set(c.nce_layers)) != len(c.nce_layers):
        raise CycleGANError(
            f"option 'nce_layers': {' '.join(map(str, c.nce_layers)) or 'none'}: give distinct indices of the "
            f"generator's encoder layers, 0 to {encoder - 1} (with n_blocks {m.n_blocks}, downsample {m.downsample})"
        )
    return dataclasses.replace(cfg, cut=c)


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


def config_from_dict(d: dict[str, Any], *, source: str) -> Config:
    """Rebuild a Config saved with `Config.to_dict()` (as in a checkpoint), checking every key."""
    flat = flatten(d, source=source)
    return resolve(flat, source=f"{source} option", explicit=False)
