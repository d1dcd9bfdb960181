"""Typed configuration: one definition per option, presets, config files and flag overrides.

Every option is a field of one of the sections: `model`, `data`, `train`, and each model family's own (e.g.
`cut`; see `cyclegan.families`). The command line (`cyclegan train --help`), `--config FILE` and the
`config.json` saved in each run are all generated from, and checked against, these fields.

Two axes: `--model` picks the model family (its losses and networks, and the option values it brings) and
`--preset` the architecture recipe (`paper`, `seed`, `fast`). Precedence, lowest first:
field default < the family's defaults < the preset < the config file < flags.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import math
import os
import re
import typing
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import yaml

from . import families
from .errors import CycleGANError, nearest
from .files import FolderLock
from .options import (
    MAX_SEED,
    Options,
    Section,
    check_choice,
    check_value,
    choice_hint,
    coerce,
    flag_of,
    given_as,
    given_as_any,
    opt,
)
from .presets import PRESETS, preset_choices, split_preset
from .progress import print_warning
from .run_files import BEST_NAME, CHECKPOINT_NAME, started_in
from .shared_options import (
    OnOff,
    Precision,
    channels_last_option,
    compile_option,
    device_option,
    domain_folder_option,
    max_pixels_option,
    precision_option,
)


@dataclass(frozen=True)
class ModelConfig(Section):
    family: str = opt(
        "cyclegan",
        "model family: cyclegan (two generators, unpaired), pix2pix (paired data), cut or fastcut (one generator, "
        "unpaired, contrastive); it brings its own option values, which --preset and flags override",
        flag="--model",
        choices=families.names,
    )
    direction: Literal["AtoB", "BtoA"] = opt(
        "AtoB", "the direction a one-generator family learns: AtoB maps A to B, BtoA maps B to A"
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
        None,
        "stride-2 levels of the unet generator",
        ge=5,
        le=16,
        default_text="log2(size): 8 at 256 px (unet_256), 7 at 128 px (unet_128), 5 at 32 px",
    )
    d_layers: int = opt(3, "stride-2 conv layers per discriminator (3 gives the 70x70 PatchGAN)", gt=0, le=12)
    norm: Literal["instance", "batch", "none"] = opt("instance", "normalisation layers")
    dropout: float = opt(0.0, "dropout probability inside the residual blocks", ge=0, lt=1)
    downsample: Literal["stride", "antialias"] = opt(
        "stride", "resnet generator's x2 downsampling: strided conv, or conv then a fixed blur with stride 2"
    )
    upsample: Literal["transpose", "resize", "antialias"] = opt(
        "transpose",
        "resnet generator's x2 upsampling: transposed conv (checkerboards), nearest resize + conv, or a fixed "
        "low-pass transposed filter + conv",
    )
    residual_output: bool = opt(False, "resnet generator outputs tanh(atanh(input) + change), starting at the input")
    padding: Literal["reflect", "zeros"] = opt(
        "reflect", "resnet generator's padding before each stride-1 conv: reflection (the paper's) or zeros"
    )
    block_dilation: int = opt(
        1,
        "dilation of the resnet generator's residual-block 3x3 convs: 2 spreads each conv over 5x5 pixels, so "
        "the blocks see twice as far with the same parameters and arithmetic (not in the Winograd form fp32 CPUs "
        "use for wide plain 3x3 convs; at the demo's size the step costs the same)",
        ge=1,
        le=8,
    )
    spectral_norm: bool = opt(False, "spectral normalisation in the patchgan discriminator (always in projected heads)")
    init: Literal["normal", "default"] = opt("normal", "weight init: normal N(0, init_gain) or PyTorch's default")
    init_gain: float = opt(0.02, "standard deviation of the normal init", gt=0)


@dataclass(frozen=True)
class DataConfig(Section):
    data: str | None = opt(
        None,
        "dataset root holding trainA, trainB (and testA, testB for samples)",
        metavar="ROOT",
        nonempty="the dataset root holding trainA and trainB",
    )
    domain_a: str | None = domain_folder_option("A", "training images", "--data")
    domain_b: str | None = domain_folder_option("B", "training images", "--data")
    size: int = opt(256, "training crop size in pixels", gt=0, le=8192)
    load_scale: float = opt(286 / 256, "images are resized to size * load_scale before the random crop", ge=1, le=8)
    flip: bool = opt(True, "random horizontal flips")
    skip_bad_images: bool = opt(False, "skip unreadable images with a warning instead of stopping")
    # the readers' decode cap, as translate's and evaluate's: a 108 MP camera's photos were refused, no way round it
    max_pixels: int = max_pixels_option("refuse (with --skip-bad-images: skip and name)")
    # at most 128: `--num-workers 10000` forked that many copies of the process before the first step
    num_workers: int = opt(-1, "data loading processes (-1: choose from the CPU count)", ge=-1, le=128)


DIFFAUG_POLICIES = ("color", "translation", "cutout")
_NO_POLICY = ("off", "none", "no", "false", "0")  # words for none: `diffaug: off` (YAML's false, read as the text)
_ALL_POLICIES = ("on", "all", "yes", "true", "1")


def diffaug_problem(diffaug: str) -> str | None:
    """What is wrong with a --diffaug list, and what to write: `diffaug: off` said "unknown policy 'off' (use color,
    translation, cutout)", with no word of how to turn it off (leave it out: none is the default)."""
    listed = ", ".join(DIFFAUG_POLICIES)
    for word in filter(None, diffaug.split(",")):
        if word in DIFFAUG_POLICIES:
            continue
        if word.strip().lower() in _NO_POLICY:
            return f"{word!r} is no policy: for no augmentation (the default) leave it out or give it '' (empty)"
        if word.strip().lower() in _ALL_POLICIES:
            return f"{word!r} is no policy: for all of them give {','.join(DIFFAUG_POLICIES)}"
        if word.strip() in DIFFAUG_POLICIES:
            return f"{diffaug!r} has spaces: write the policies without them ({diffaug.replace(' ', '')})"
        hint = choice_hint(word, DIFFAUG_POLICIES)
        return f"unknown policy {word!r} (give one or more of {listed}, joined by commas{hint})"
    return None


BestBy = Literal["auto", "psnr", "ssim", "kid", "cycle_psnr"]


@dataclass(frozen=True)
class TrainConfig(Section):
    out: str | None = opt(
        None,
        "run folder: checkpoint, config, logs and samples go here",
        metavar="DIR",
        nonempty="the run folder",
        writes=True,
    )
    steps: int | None = opt(None, "total training steps (iterations), counting steps already done", gt=0)
    epochs: int | None = opt(None, "total epochs (passes over the larger domain), instead of --steps", gt=0)
    batch_size: int = opt(1, "images per domain per step", gt=0)
    lr: float = opt(2e-4, "Adam learning rate", gt=0, le=1)
    lr_d: float | None = opt(
        None,
        "the discriminators' Adam learning rate, when it differs from the generators' (the two time-scale update "
        "rule, Heusel et al. 2017)",
        gt=0,
        le=1,
        default_text="--lr",
    )
    beta1: float = opt(0.5, "Adam beta1", ge=0, lt=1)
    beta2: float = opt(0.999, "Adam beta2", ge=0, lt=1)
    gan_loss: Literal["lsgan", "vanilla", "hinge"] = opt(
        "lsgan", "adversarial loss: least squares, cross-entropy or hinge"
    )
    lambda_cycle: float = opt(10.0, "weight of the cycle-consistency L1 loss", ge=0)
    lambda_identity: float = opt(0.5, "identity loss weight, relative to lambda_cycle (0 turns it off)", ge=0)
    d_loss_weight: float = opt(0.5, "factor on the discriminator loss (the paper halves it)", ge=0)
    diffaug: str = opt(
        "",
        "differentiable augmentation of every discriminator input, a comma list of color, translation, cutout "
        "(Zhao et al. 2020); never of the cycle or identity targets",
        default_text="none",
        metavar="LIST",
    )
    ema_decay: float = opt(
        0.0,
        "exponential moving average of the generators' weights (e.g. 0.999; 0: off); translation, evaluation, "
        "samples and export use the average",
        ge=0,
        lt=1,
    )
    r1_gamma: float = opt(0.0, "R1 penalty weight: gamma/2 * |grad D(real)|^2 (0: off)", ge=0)
    pool_size: int = opt(50, "generated images kept per discriminator (0: no pool)", ge=0)
    lr_decay_fraction: float = opt(
        0.5, "final fraction of the steps over which the LR decays linearly to 0", ge=0, le=1
    )
    half_size_fraction: float = opt(
        0.0,
        "first fraction of the steps trained on the batches shrunk to half the size (2x2 average pooling: a "
        "quarter of the pixels, about a third of the step's cost), the rest at full size",
        ge=0,
        lt=1,
    )
    seed: int = opt(0, "random seed for init, data order, augmentation and the image pool", ge=0, le=MAX_SEED)
    device: str = device_option()
    precision: Precision = precision_option()
    channels_last: OnOff = channels_last_option()
    compile: OnOff = compile_option()
    log_every: int = opt(50, "log losses every N steps", gt=0)
    sample_every: int = opt(500, "write a sample grid every N steps (0: only at the end)", ge=0)
    checkpoint_every: int = opt(500, "write the checkpoint every N steps (0: only at the end)", ge=0)
    checkpoint_minutes: float = opt(
        10.0,
        "also write the checkpoint when MIN minutes have passed since the last one, so a crash or kill -9 loses at "
        "most about that much (0: by steps only)",
        ge=0,
        metavar="MIN",
    )
    num_samples: int = opt(4, "fixed test images per direction in the sample grids (0: no grids)", ge=0)
    eval_every: int = opt(
        0,
        "score a fixed held-out set every N steps and at the last: PSNR/SSIM against the truth (paired test "
        "split), kid_lite0 to the target domain, cycle PSNR, change from the input; into log.jsonl, best.pt and the "
        "failure warnings (0: off; "
        "at 200 in the demo with kid about 8 percent of the time on an AVX2 CPU in fp32, 2 without kid, as the demo "
        "scores)",
        ge=0,
    )
    eval_images: int = opt(
        40,
        "held-out images per domain that --eval-every scores: the test split's first N, else up to N training "
        "images set aside (a fifth at most) and never trained on",
        ge=2,
        le=10000,
    )
    eval_kid: bool = opt(
        True,
        "with --eval-every: score kid_lite0 too (EfficientNet-Lite0 features at 224 px of the translations: most of "
        "an evaluation's time on a CPU); --no-eval-kid: psnr/ssim/local colour, cycle PSNR, change, spread, follows "
        "and tint only",
    )
    best_by: BestBy = opt(
        "auto",
        "the score that chooses best.pt: psnr or ssim against the truth (a paired test split), kid (kid_lite0 to "
        "the target domain), cycle_psnr (two-way families); auto: psnr when the held-out set is paired, else kid",
    )
    stop_when_worse: int = opt(
        0,
        "stop (saved, resumable) after K evaluations in a row without a better --best-by score (0: never)",
        ge=0,
        metavar="K",
    )
    time_limit: float | None = opt(
        None,
        "stop (and save, resumable) after this many minutes of training (0: none, for a resumed run)",
        ge=0,
        metavar="MIN",
    )
    fit_steps: bool = opt(
        False,
        "with --time-limit: re-fit the total steps to the time left at the speed of the recent steps (inside the LR "
        "decay only when the speed moved), so the LR schedule reaches 0 as the time runs out (--steps/--epochs: "
        "the most)",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if problem := diffaug_problem(self.diffaug):
            raise CycleGANError(f"option 'diffaug': {problem}")
        # named as the caller gives them (`given_as`): the flags on a command line, `time_limit=M` in Python
        if self.fit_steps and not self.time_limit:
            raise CycleGANError(
                f"option '{given_as('fit_steps')}' fits the steps to a time budget: give it with "
                f"{given_as('time_limit', 'M')}"
            )
        if self.stop_when_worse and not self.eval_every:
            raise CycleGANError(
                f"option '{given_as('stop_when_worse')}' counts evaluations: give it with {given_as('eval_every', 'N')}"
            )
        # scoring off chooses no best.pt: both named as doing nothing (`idle_scoring_options`), as README says, not
        # refused (a kid run resumed with --eval-every 0 --no-eval-kid was)
        if self.eval_every and self.best_by == "kid" and not self.eval_kid:
            raise no_kid_error(given_as("best_by", "kid"))


def no_kid_error(why: str) -> CycleGANError:
    """--no-eval-kid where best.pt would be chosen by kid (`why`: the options that make it so)."""
    off = given_as("eval_kid", False)
    # a resumed run's config may hold it, never typed this time: "drop --no-eval-kid" alone left nothing to drop
    return CycleGANError(
        f"option {off!r}: best.pt is chosen by kid here ({why}); drop {off} (or give {given_as('eval_kid', True)} "
        f"where the run's config holds it), or give {given_as('best_by')} another score (psnr and ssim need a paired "
        "test split)"
    )


BASE_SECTIONS: dict[str, type[Section]] = {"model": ModelConfig, "data": DataConfig, "train": TrainConfig}


def all_sections() -> dict[str, type[Section]]:
    """Every config section by key: model, data, train, then the model families' own (`families.sections`)."""
    return {**BASE_SECTIONS, **families.sections()}


def _default_sections() -> dict[str, Section]:
    return {key: cls() for key, cls in families.sections().items()}


@dataclass(frozen=True)
class Config:
    """The whole resolved configuration of a run, saved as `config.json` and inside the checkpoint.

    Besides `model`, `data` and `train` it holds every model family's own section (`sections`), read as an
    attribute by its key: `cfg.cut.lambda_nce`."""

    preset: str = "paper"
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    sections: Mapping[str, Section] = field(default_factory=_default_sections)

    def __getattr__(self, name: str) -> Section:
        sections = self.__dict__.get("sections") or {}
        if name in sections:
            return sections[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def section(self, key: str) -> Section:
        return getattr(self, key)

    def with_section(self, key: str, value: Section) -> Config:
        """This config with its section `key` replaced."""
        if key in BASE_SECTIONS:
            return dataclasses.replace(self, **{key: value})
        return dataclasses.replace(self, sections={**self.sections, key: value})

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"preset": self.preset}
        for key in (*BASE_SECTIONS, *self.sections):
            out[key] = dataclasses.asdict(self.section(key))
        return out

    def flat(self) -> dict[str, Any]:
        """Every option by its flat name."""
        return {k: v for key in (*BASE_SECTIONS, *self.sections) for k, v in self.section(key).__dict__.items()}


@dataclass(frozen=True)
class TrainCommand(Options):
    """`cyclegan train`'s own options; the run's options (`Config`) come from the preset, file and flags."""

    preset: str | None = opt(
        None,
        "architecture recipe: paper, seed or fast (a model family's name X stands for --model X)",
        default_text="paper",
        choices=preset_choices,
    )
    config: str | None = opt(
        None, "YAML or JSON file of options (flat names or sections)", metavar="FILE", nonempty="a YAML or JSON file"
    )
    resume: bool = opt(False, "continue the run in --out from its checkpoint")
    progress: bool = opt(True, "progress bar (--no-progress: none; logs still go to log.jsonl)")


# Options that may change when a run is resumed; the rest would make the checkpoint a different model.
RESUMABLE = {
    "data",
    "domain_a",
    "domain_b",
    "skip_bad_images",
    "max_pixels",
    "num_workers",
    "out",
    "steps",
    "epochs",
    "device",
    "precision",
    "channels_last",
    "compile",
    "log_every",
    "sample_every",
    "checkpoint_every",
    "checkpoint_minutes",
    "time_limit",
    "fit_steps",
    "stop_when_worse",
    "eval_every",  # on, off or another N; the held-out set stays what it was (train.scoring.held_out_set)
    "best_by",  # best.pt follows the new score from the next evaluation on (train.watch.Watch.load_state_dict)
    "eval_kid",
}


def option_fields() -> dict[str, tuple[str, dataclasses.Field]]:
    """Every option by its flat name: name -> (section, field). Names are unique across sections."""
    out: dict[str, tuple[str, dataclasses.Field]] = {}
    for section, cls in all_sections().items():
        for f in fields(cls):
            out[f.name] = (section, f)
    return out


def _field_types() -> dict[str, Any]:
    hints: dict[str, Any] = {}
    for cls in all_sections().values():
        hints.update(typing.get_type_hints(cls))
    return hints


def option_value(key: str, value: Any) -> Any:
    """`value` as the option `key` holds it (a flag's list as a tuple, a whole float as an int), to compare it
    with a stored config's; as given where it is no value of the option (`resolve` then refuses it in one line)."""
    try:
        return coerce(key, value, _field_types()[key])
    except (KeyError, CycleGANError):
        return value


def flatten(d: dict[str, Any], *, source: str, elsewhere: Callable[[str], list[str]] | None = None) -> dict[str, Any]:
    """Accept flat keys (`lr: 1e-4`) or sections (`train: {lr: 1e-4}`); reject unknown keys by name. `elsewhere`:
    the other commands that have an option of that key (`commands.other_commands_with`), to say so."""
    known = option_fields()
    sections = all_sections()
    flat: dict[str, Any] = {}
    for key, value in d.items():
        if key in sections and isinstance(value, dict):
            for k, v in value.items():
                if of := _other_commands(k, elsewhere):  # as a flat key of theirs says
                    raise CycleGANError(f"{source}: '{key}.{k}' is {of}")
                if k in {f.name for f in fields(TrainCommand)}:  # `train: {progress: false}`: "unknown", no more
                    raise _flag_not_key(source, f"{key}.{k}", k, v)
                if k not in known or known[k][0] != key:
                    raise _unknown_option(source, k, v, section=key)
                if k in flat:  # flat and in its section: one would be dropped
                    raise CycleGANError(f"{source}: option '{k}' is given twice (flat and in section '{key}')")
                flat[k] = v
        elif key == "preset":
            flat[key] = value
        elif key in known:
            if key in flat:
                raise CycleGANError(f"{source}: option '{key}' is given twice (flat and in section '{known[key][0]}')")
            flat[key] = value
        elif key in {f.name for f in fields(TrainCommand)}:  # said "unknown option", or as the flag typed beside it
            raise _flag_not_key(source, key, key, value)
        elif _key_of_flag(key) is None and (of := _other_commands(key, elsewhere)):
            raise CycleGANError(f"{source}: '{key}' is {of}")
        else:
            raise _unknown_option(source, key, value)
    return flat


def _unknown_option(source: str, key: str, value: Any, *, section: str | None = None) -> CycleGANError:
    """A config file's (or a checkpoint's) unknown key, flat or in `section`, in one wording: the likely meaning
    (`_key_hint`), and a value given under a flag's spelling checked as its key checks it (`_value_hint`).
    `train: {batch-size: 2}` was "the config key of --batch-size is 'batch_size'", `batch-size: 2` "it is
    'batch_size' (see `cyclegan train --help`)", that pointer given to flat keys only."""
    hint = _key_hint(key, section)
    if (of_flag := _key_of_flag(key)) is not None and not isinstance(value, dict):
        hint += _value_hint(of_flag, value)
    return CycleGANError(f"{source}: unknown option '{f'{section}.{key}' if section else key}'{hint}")


def _flag_not_key(source: str, written: str, name: str, value: Any) -> CycleGANError:
    """A train command's flag (`progress`, `resume`) given as a config file's key, `written` as the file has it."""
    flag = f"--no-{name}" if value is False else f"--{name}"  # `progress: false` is --no-progress
    return CycleGANError(f"{source}: '{written}' is a command-line flag of train, not a config file's key: give {flag}")


def _other_commands(key: str, elsewhere: Callable[[str], list[str]] | None) -> str | None:
    """Where `key` is no option of train but one of other commands' (`elsewhere`: as `flatten`'s), the words "an
    option of cyclegan translate, ..., not of cyclegan train": `checkpoint:` in a train config was "did you mean
    'checkpoint_every'?", an unrelated option. None where no other command has it, and where `key` spells one of
    train's options or flags (`batch-size:` was said to be translate's, evaluate's and bench's only)."""
    name = str(key).replace("-", "_")
    if name in option_fields() or name in {f.name for f in fields(TrainCommand)} or _key_of_flag(name) is not None:
        return None
    commands = elsewhere(name) if elsewhere else []
    if not commands:
        return None
    of = f"{', '.join(commands[:-1])} and {commands[-1]}" if len(commands) > 1 else commands[0]
    return f"an option of cyclegan {of}, not of cyclegan train (see `cyclegan train --help`)"


def _key_of_flag(key: str) -> str | None:
    """The config key of the flag spelled `key` (`model` for --model: 'family'), where the two differ by more than
    dashes for underscores (`batch-size` is `_key_hint`'s)."""
    name = str(key).replace("-", "_")
    flags = {flag_of(f)[2:].replace("-", "_"): n for n, (_, f) in option_fields().items()}
    return of_flag if (of_flag := flags.get(name)) != name else None


def _value_hint(key: str, value: Any) -> str:
    """`model: cyclgan` written as the flag is typed: the value checked as the option `key` checks it, so that a
    misspelt one is named as `--model cyclgan` names it ("did you mean 'cyclegan'?"; the file's line said only
    that the key is 'family'), and a good one is shown under its key."""
    try:
        read_config_values({key: value}, source="")
    except CycleGANError as e:
        reason = str(e).removeprefix(f"option '{key}' in ''").lstrip(": ")
        return f" ({reason})"
    return f": write {key}: {value}"


def _key_hint(key: str, section: str | None = None, *, sections: bool = True) -> str:
    """What a config file's unknown key was likely meant to be: the option in another section, the key of a
    flag spelled as on the command line (`batch-size`, `model` for `--model`), or a near spelling (of a
    section's name too where `sections`: flat options have none)."""
    known = option_fields()
    name = str(key).replace("-", "_")
    if name in known and (name != key or known[name][0] != section):  # spelled as its flag, or in another section
        return f": it is '{name}'{_section_note(name, section)}"
    if (of_flag := _key_of_flag(name)) is not None:
        return f": the config key of --{name.replace('_', '-')} is '{of_flag}'{_section_note(of_flag, section)}"
    close = nearest(name, [*known, *(all_sections() if sections else ())])
    return f": did you mean '{close}'?" if close else ""


def _section_note(name: str, section: str | None) -> str:
    """Where an option written in the wrong section belongs: " (section 'model')"; nothing for a flat key."""
    home = option_fields()[name][0]
    return f" (section '{home}')" if section not in (None, home) else ""


class _ConfigLoader(yaml.SafeLoader):
    """PyYAML's safe loader, reading numbers as YAML 1.2 (and JSON, and Python) do: `1e-3` and `5E-4` are floats,
    where YAML 1.1 reads them as strings (its floats need a dot: `1.0e-3`), and `010` is ten, where YAML 1.1 reads
    eight (octal; 1.2 writes it `0o10`) and `1:30` as ninety (base 60; a string in 1.2, refused); and refusing a
    key given twice in one mapping, as YAML does, where PyYAML kept the last (a second `train:` section dropped
    the first's options)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:  # as written: a merge's (`<<: *base`) keys may be overridden
            key = key_node.value if key_node.tag == "tag:yaml.org,2002:str" else None
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"key '{key}' is given twice", key_node.start_mark)
            if key is not None:
                seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_object(self, node, deep=False):
        # an explicit tag's value its constructor cannot read (`!!int 0b11`, `!!float abc`, `!!bool maybe`) raised
        # Python's own error, which said no line: "not valid YAML: invalid literal for int() with base 10: '0b11'"
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, TypeError, KeyError, AttributeError) as e:
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            value = node.value if isinstance(node, yaml.ScalarNode) else node.id
            why = f" ({' '.join(str(e).split())})" if isinstance(e, ValueError) else ""  # a KeyError's is the value
            problem = f"cannot read {value!r} as {tag}{why}"
            raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark) from None


_NUMBERS_1_1 = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
_ConfigLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _NUMBERS_1_1]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
# YAML 1.2's core schema: decimal (leading zeros too), 0o octal, 0x hex; a float has a dot or an exponent. Digits
# may be grouped by `_` (`1_000`, `2.000_5e-4`), as the flags take them (Python's int and float)
_DIGITS = r"[0-9]+(?:_[0-9]+)*"
_ConfigLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(rf"^(?:[-+]?{_DIGITS}|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789")
)
_ConfigLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        rf"^(?:[-+]?(?:\.{_DIGITS}|{_DIGITS}\.(?:{_DIGITS})?)(?:[eE][-+]?{_DIGITS})?|[-+]?{_DIGITS}[eE][-+]?{_DIGITS}"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+.0123456789"),
)


def _int_1_2(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = loader.construct_scalar(node)
    base = {"0o": 8, "0x": 16}.get(text[:2], 10)
    return int(text if base == 10 else text[2:], base)  # PyYAML's own reads `010` as octal


def _float_1_2(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> float:
    text = loader.construct_scalar(node).replace("_", "")
    special = {".inf": math.inf, "+.inf": math.inf, "-.inf": -math.inf, ".nan": math.nan}
    return special[text.lower()] if text.lower() in special else float(text)  # PyYAML's own reads `1:30` as 90.0


_ConfigLoader.add_constructor("tag:yaml.org,2002:int", _int_1_2)
_ConfigLoader.add_constructor("tag:yaml.org,2002:float", _float_1_2)


def _load_yaml(text: str) -> Any:
    """A YAML config file's data (`_ConfigLoader`: a SafeLoader, no objects built), with an unquoted number or
    boolean under a text option's key read as the text it is (`_as_text`)."""
    loader = _ConfigLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _as_text(node, section=None)
        return loader.construct_document(node)
    finally:
        loader.dispose()


_SCALARS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool")


def _as_text(node: yaml.Node, *, section: str | None) -> None:
    """Retag as text each plain number or boolean given to an option that takes text (a folder, a device, ...):
    `data: 007` was read as the number 7 and refused ("expected str | null, got 7"), where `--data 007` is the
    folder 007. Sections' mappings too; only where a key names such an option, so that `steps: 007` stays 7."""
    if not isinstance(node, yaml.MappingNode):
        return
    sections, text = all_sections(), _text_options()
    for key_node, value in node.value:
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
        if section is None and key in sections and isinstance(value, yaml.MappingNode):  # `data:` is both
            _as_text(value, section=key)
        elif key in text and isinstance(value, yaml.ScalarNode) and value.style is None and value.tag in _SCALARS:
            value.tag = "tag:yaml.org,2002:str"


def _text_options() -> set[str]:
    """The options whose values are text: typed `str` or `str | None`."""
    hints = _field_types()
    typed = {k: typing.get_args(hints[k]) or (hints[k],) for k in option_fields()}
    return {k for k, args in typed.items() if str in args and set(args) <= {str, type(None)}}


def _on_off(value: Any, tp: Any) -> Any:
    """YAML 1.1 reads `on`/`off` (and `yes`/`no`) as booleans: for an option whose choices are 'on' and 'off'
    (`compile`, `channels_last`), a boolean is the word the file said."""
    if isinstance(value, bool) and typing.get_origin(tp) is Literal and {"on", "off"} <= set(typing.get_args(tp)):
        return "on" if value else "off"
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refusing a key given twice (json keeps the last, silently)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key '{key}' is given twice")
        out[key] = value
    return out


def _where_and_why(e: Exception) -> str:
    """A parser's error as one line, its line and column first: YAML's was its whole text on one line, `in "<unicode
    string>"` and the `^` of its excerpt included."""
    if isinstance(e, json.JSONDecodeError):
        return f"line {e.lineno}, column {e.colno}: {e.msg}"
    mark = getattr(e, "problem_mark", None)
    if isinstance(e, yaml.MarkedYAMLError) and mark is not None:
        said = f"line {mark.line + 1}, column {mark.column + 1}: {e.problem}"
        if e.context and (start := e.context_mark) is not None:  # what the parser was in, and where that began
            said += f" ({e.context} at line {start.line + 1}, column {start.column + 1})"
        if "'\\t'" in str(e.problem):  # a tab-indented file: the one fix, which the parser does not say
            said += " (YAML indents with spaces, not tabs)"
        return " ".join(said.split())
    return " ".join(str(e).split())


MAX_CONFIG_BYTES = 2**20  # a file of every option is under 4 KB


def read_config_file(path: str | Path, *, elsewhere: Callable[[str], list[str]] | None = None) -> dict[str, Any]:
    """Read a YAML or JSON config file into flat options, each checked on its own (type, range, choice: the
    error names the file); the checks across options come with `resolve`. `elsewhere`: as `flatten`'s."""
    path = Path(path)
    try:
        with path.open("rb") as f:  # not read_text(): `--config /dev/zero` was read until the memory ran out
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as e:
        raise CycleGANError(f"cannot read config file {path}: {e.strerror}") from None
    not_options = f"config file {path} is %s (give a YAML or JSON file of options)"
    if len(raw) > MAX_CONFIG_BYTES:
        raise CycleGANError(not_options % f"over {MAX_CONFIG_BYTES // 2**20} MiB, which no file of options is")
    try:
        text = raw.decode("utf-8-sig")  # a Windows editor's BOM: YAML took it, JSON refused it ("Unexpected BOM")
    except UnicodeDecodeError:
        raise CycleGANError(not_options % "not a text file") from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text, object_pairs_hook=_unique_keys)
        else:
            data = _load_yaml(text)
    except Exception as e:  # both parsers' errors carry the line number
        reason = _where_and_why(e)
        raise CycleGANError(f"config file {path} is not valid {path.suffix[1:].upper() or 'YAML'}: {reason}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        # a list (`- steps: 3`) or a lone word: say which, so the fix (drop the dashes) is in sight
        got = {list: "a list", str: "a single text"}.get(type(data), f"a single {type(data).__name__}")
        raise CycleGANError(
            f"config file {path}: expected a mapping of option names to values (`steps: 3`, one a line), got {got}"
        )
    return read_config_values(flatten(data, source=str(path), elsewhere=elsewhere), source=str(path))


def read_config_values(flat: dict[str, Any], *, source: str) -> dict[str, Any]:
    """A config file's flat options, each checked on its own (type, range, choice), as read: the errors name the
    file, `source`. Checked here too, so that a flag that overrides a bad value does not hide it."""
    hints, known = _field_types(), option_fields()
    for key, value in flat.items():
        if key != "preset":
            name, meta = f"{key}' in '{source}", known[key][1].metadata
            if key == "diffaug" and isinstance(value, list):  # `[color, cutout]`: "expected str, got [...]"
                joined = ",".join(map(str, value))
                raise CycleGANError(f"option '{name}': the policies are one text joined by commas: write {joined}")
            value = flat[key] = _on_off(value, hints[key])
            value = flat[key] = coerce(name, value, hints[key])
            if value is not None:
                check_value(name, value, meta)
                check_choice(name, value, meta)
            if meta.get("writes") and isinstance(value, str) and value.startswith("~"):  # no shell read the file
                raise CycleGANError(
                    f"option '{name}': {value} starts with ~, which a config file does not expand: write the whole path"
                )
    return flat


def resolve(
    overrides: dict[str, Any] | None = None,
    *,
    preset: str | None = None,
    base: Config | None = None,
    source: str = "option",
    explicit: bool = True,
    names: Mapping[str, str] | None = None,
    typed: Collection[str] = (),
) -> Config:
    """Build a checked `Config` from `base` (a stored config), or from the field defaults, the family's
    defaults (`families.Family.defaults`) and the preset's; then `overrides` (flat option names) on top.

    `explicit`: the overrides are what a user chose, so one that does not apply to the family is refused
    (`check_family_options`, naming each as `names` says); a stored config (`config_from_dict`) holds every
    option and is not. `typed`: the keys typed as flags, refused for another family (`check_family_options`) and
    named as doing nothing (`idle_scoring_options`) at their default too."""
    if overrides is not None and not isinstance(overrides, Mapping):  # resolve("paper") was dict()'s ValueError
        preset_hint = f"; a preset: resolve(preset={overrides!r})" if isinstance(overrides, str) else ""
        raise CycleGANError(
            f"overrides: expected a dict of option names to values, e.g. {{'size': 128}}, got "
            f"{type(overrides).__name__}{preset_hint}"
        )
    overrides = dict(overrides or {})
    given = overrides.pop("preset", None)
    if given is not None and given not in preset_choices():  # a config file's `preset: 3` named neither file nor key
        name = (names or {}).get("preset", "preset")
        hint = choice_hint(given, PRESETS)
        raise CycleGANError(f"option '{name}': expected {' | '.join(map(repr, PRESETS))}, got {given!r}{hint}")
    preset, named_family = split_preset(given or preset or (base.preset if base else "paper"))
    if named_family is not None:  # `--preset cut`: the paper's recipe for --model cut
        given = overrides.setdefault("family", named_family)
        if given != named_family:  # a config file's family is named as the file's key: no --model was typed
            # as the caller gave them: a Python caller's `preset='cut'` was told of '--preset cut' and --model
            in_file = names is not None and "family" in names
            model = given_as("family", given, flag="--model")
            source = f"{given} (option '{names['family']}')" if in_file else model
            named, recipes = given_as("preset", named_family), given_as_any("preset", tuple(PRESETS))
            raise CycleGANError(
                f"{named} names a model family, not {source}; give {named} alone, or the recipe {recipes} with "
                f"{'that family' if in_file else model}"
            )
    values: dict[str, Any] = {}
    if base is None:
        chosen = families.FAMILIES.get(overrides.get("family", "cyclegan"))  # unknown: ModelConfig says so
        values.update(chosen.defaults if chosen else {})
        values.update(PRESETS[preset])
    else:
        values.update(base.flat())
    hints = _field_types()
    known = option_fields()
    for key, value in overrides.items():
        if key not in known:
            raise CycleGANError(f"unknown {source} '{key}'{_key_hint(key, sections=False)}")
        values[key] = coerce(key, value, hints[key])
    try:
        built = {
            key: cls(**{f.name: values[f.name] for f in fields(cls) if f.name in values})
            for key, cls in all_sections().items()
        }
        cfg = Config(preset=preset, **{k: built.pop(k) for k in BASE_SECTIONS}, sections=built)
        if explicit:
            check_family_options(overrides, cfg.model.family, names=names)
            # a typed flag is refused at its default too, before the warnings below (one line: the error)
            typed_given = {k: overrides[k] for k in typed if k in overrides}
            check_family_options(typed_given, cfg.model.family, typed=True, names=names)
            check_alternatives(overrides, names=names)
        cfg = validate(cfg)
    except CycleGANError as e:
        # an option the preset set, not the user, that the chosen family cannot take: name the real clash
        named = re.match(r"option '([a-z_]+)'", str(e))
        clash = base is None and "family" in overrides and named and named[1] in PRESETS[preset]
        if clash and named[1] not in overrides and _resolves(overrides):
            family = overrides["family"]
            model = given_as("family", family, flag="--model")
            raise CycleGANError(
                f"{given_as('preset', preset)} does not combine with {model}: the preset sets {named[1]} "
                f"{PRESETS[preset][named[1]]!r}, and {e}; use {given_as('preset', 'paper')} with {model}"
            ) from None
        renamed = named_as_given(str(e), names)
        if renamed != str(e):
            raise CycleGANError(renamed) from None
        raise
    idle = idle_scoring_options(overrides, cfg, typed=typed, names=names) if explicit else []
    if idle and os.environ.get("RANK", "0") == "0":  # not refused: a resumed run may switch scoring off with
        print_warning(
            f"warning: {said_once(idle)} {'does' if len(idle) == 1 else 'do'} nothing without "
            f"{given_as('eval_every', 'N')} "
            "(no scores, no best.pt this run)"
        )
    return cfg


SCORING_OPTIONS = ("best_by", "eval_images", "eval_kid")  # what --eval-every's scoring reads: nothing without it


def idle_scoring_options(
    given: Mapping[str, Any], cfg: Config, *, typed: Collection[str] = (), names: Mapping[str, str] | None = None
) -> list[str]:
    """The scoring options among `given` that do nothing because `cfg` does not score (`eval_every` 0), as the user
    wrote them (--no-eval-kid for eval_kid False; a config file's key as `names` says, `'best_by' in 'c.yaml'`):
    those off their default, and those `typed` as flags (a config file's or a saved config's key at its default
    changes nothing)."""
    if cfg.train.eval_every:
        return []
    return [
        f"'{names[key]}'" if names and key in names else given_as(key, False) if given[key] is False else given_as(key)
        for key in SCORING_OPTIONS
        if key in given and (key in typed or not at_default(key, given[key]))
    ]


_IN_FILE = re.compile(r"'([a-z][a-z0-9_]*)' in ('.+')")


def said_once(named: list[str]) -> str:
    """Options listed ("a, b and c"), a config file named once where all are its keys: `'steps' and 'epochs' in
    'c.yaml'`, not `'steps' in 'c.yaml' and 'epochs' in 'c.yaml'`."""
    keys = [_IN_FILE.fullmatch(n) for n in named]
    suffix = ""
    if len(named) > 1 and all(keys) and len({m[2] for m in keys}) == 1:
        named, suffix = [f"'{m[1]}'" for m in keys], f" in {keys[0][2]}"
    return (" and ".join(named) if len(named) < 3 else f"{', '.join(named[:-1])} and {named[-1]}") + suffix


def named_as_given(message: str, names: Mapping[str, str] | None) -> str:
    """`message` of a check across options (the family's `finalize`, `validate`) with each `option 'KEY'` named as
    `names` says: a config file's `key' in 'FILE` (a pix2pix run's config.json given with --model cut was refused
    as "option 'generator'", the file unnamed). Other keys are left to the CLI, which names them as its flags."""
    if not names:
        return message
    return re.sub(
        r"option '([a-z][a-z0-9_]*)'(?! in ')", lambda m: f"option '{names[m[1]]}'" if m[1] in names else m[0], message
    )


def _resolves(overrides: dict[str, Any]) -> bool:
    """Whether `overrides` make a valid config with the paper preset (the fix a preset clash message offers)."""
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # a trial: its warnings are not the run's
            resolve(overrides, preset="paper")
    except CycleGANError:
        return False
    return True


# Options that replace each other (each with what it replaces): given together from one source, one would be
# silently ignored; a flag replaces the config file's alternative to it (`commands.run_train`).
ALTERNATIVES: dict[str, tuple[str, ...]] = {
    "steps": ("epochs",),
    "epochs": ("steps",),
    "data": ("domain_a", "domain_b"),
    "domain_a": ("data",),
    "domain_b": ("data",),
}


def check_alternatives(given: dict[str, Any], *, names: Mapping[str, str] | None = None) -> None:
    """Refuse, in one line, two options given where each replaces the other (see ALTERNATIVES). `names`: as in
    `check_family_options` (both in a config file: named as its keys, not as flags nobody typed)."""
    if not any(
        given.get(k) is not None and any(given.get(r) is not None for r in rs) for k, rs in ALTERNATIVES.items()
    ):
        return
    length = given.get("steps") is not None and given.get("epochs") is not None
    if names and given.keys() & names.keys() & ALTERNATIVES.keys():
        keys = (
            ("steps", "epochs") if length else ("data", "domain_a" if given.get("domain_a") is not None else "domain_b")
        )
        both = said_once([f"'{names[k]}'" if k in names else given_as(k) for k in keys])
        what = "set the training length" if length else "name the training images"
        raise CycleGANError(f"options {both} each {what}: give one of them")
    # as the caller gave them: a Python caller's `resolve({"steps": 5, "epochs": 2})` was told of '--steps'
    if length:
        steps, epochs = given_as("steps"), given_as("epochs")
        raise CycleGANError(f"options '{steps}' and '{epochs}' each set the training length: give one of them")
    data, domains = given_as("data"), f"{given_as('domain_a')}/{given_as('domain_b')}"
    raise CycleGANError(
        f"options '{data}' and '{domains}' each name the training images: give the dataset root ({data}) or the two "
        "folders, not both"
    )


def check_family_options(
    given: dict[str, Any], family: str, *, typed: bool = False, names: Mapping[str, str] | None = None
) -> None:
    """Refuse, in one line, an option given for a family it does not apply to (`--lambda-nce` with cyclegan).
    One at its field's default changes nothing and passes: a run's config.json holds every option, so it can be
    given back as `--config` (its `direction: AtoB` was refused for a CycleGAN, `lambda_cycle: 10.0` for CUT).
    `typed`: flags typed on the command line, refused at their default too (`--model cut --lambda-cycle 10` passed
    without a word that it does nothing). `names`: how the error names an option, by key (a config file's
    `key' in 'FILE`: its flag, which the user never typed, hid where it came from); its flag otherwise."""
    known = option_fields()
    for key, value in given.items():
        if key not in known:
            continue
        accepting = families.accepting(key, known[key][0])
        # a run's config.json given as --config holds every option: one of another family at its default says nothing
        if family not in accepting and (typed or not at_default(key, value)):
            name = (names or {}).get(key) or given_as(key)  # a Python caller's keyword: it typed no flag
            # a config file's family named as its key (`--model cut` was never typed), the file once
            chosen = given_as("family", family, flag="--model")
            if names and "family" in names:
                in_file = _IN_FILE.fullmatch(f"'{names['family']}'")
                same = in_file and f"'{name}'".endswith(f" in {in_file[2]}")
                chosen = f"its 'family' {family}" if same else f"{family} (option '{names['family']}')"
            applies = given_as_any("family", accepting, flag="--model")
            raise CycleGANError(f"option '{name}' applies to {applies}, not to {chosen}")


def at_default(key: str, value: Any) -> bool:
    """Whether `value`, as option `key` holds it (`option_value`: a file's list as a tuple), is its default."""
    f = option_fields()[key][1]
    default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
    return option_value(key, value) == default


def check_startable(cfg: Config) -> Config:
    """`cfg` if it names what `train` needs beyond valid options, its run folder and its budget; torch-free, so
    that `cyclegan train` says so before torch's import (it waited 5-15 s for it)."""
    if not cfg.train.out:
        example = given_as("out", "runs/horse2zebra")
        raise CycleGANError(f"option 'out' is required: the run folder (e.g. {example})")
    if cfg.train.steps is None and cfg.train.epochs is None:
        budget = f"{given_as('steps', 'N')} (total steps) or {given_as('epochs', 'N')}"
        raise CycleGANError(f"give the training budget: {budget}")
    check_data_root(cfg.data)
    return cfg


def check_data_root(d: DataConfig) -> None:
    """Refuse a --data ROOT that is no folder (the domain folders under it are `train.inputs`'s to check), before
    torch's import: `train --data MISSING` waited 5-15 s for it."""
    # os.path's checks, not Path's: a name over the file system's 255 bytes is no folder, not an OSError's traceback
    if d.data and not (d.domain_a or d.domain_b) and not os.path.isdir(d.data):
        what = "is a file, not a dataset folder" if os.path.exists(d.data) else "does not exist"
        # a run's config.json names its --data as train was given it: taken back elsewhere, it is not found
        where = "" if Path(d.data).is_absolute() else f"relative paths are read from the current folder, {Path.cwd()}; "
        if d.data.startswith("~"):  # `--data "~/h2z"` or `--data=~/h2z`: no shell expands a quoted or glued ~
            where = "a shell leaves ~ as it is when quoted or after --data=, and nothing expands it here: write the "
            where += "whole path; "
        raise CycleGANError(f"option 'data': {d.data} {what} ({where}give the folder holding trainA and trainB)")


def check_file_folders(file: Mapping[str, Any], path: str | Path, flags: Collection[str]) -> None:
    """Refuse, naming both places, a relative folder (`data`, `domain_a`, `domain_b`) that config file `path` names
    and that is not in the current folder. Relative paths stay read from the current folder, not the file's: a
    run's config.json records `--data` as train was given it, and `--config runs/x/config.json` takes it back from
    the folder train ran in (read from runs/x, `data/h2z` would be runs/x/data/h2z). Started from another folder,
    it said only "does not exist (... read from the current folder)"; a flag that replaces the value is not
    checked."""
    for key in ("data", "domain_a", "domain_b"):
        value = file.get(key)
        if key in flags or not isinstance(value, str) or not value or os.path.lexists(value):
            continue
        if value.startswith("~"):
            raise CycleGANError(
                f"option '{key}' in '{path}': {value} does not exist (a config file's ~ is not expanded: write the "
                "folder's whole path)"
            )
        if Path(value).is_absolute():
            continue  # check_data_root and train's own checks say it
        folder, flag = Path(path).parent, "--" + key.replace("_", "-")
        if folder.resolve() == Path.cwd().resolve():  # one place, not two: `check_data_root` (or train's) says it
            continue
        beside, start = folder / value, started_in(folder, file.get("out"), holding=value)
        # os.path.exists: False for a name too long to look up (Path.exists raised: a traceback)
        if os.path.exists(beside):
            what = f"where it is: give {flag} {beside}"
        elif start is not None and os.path.exists(start / value):  # the run's own, as evaluate RUN finds it
            what = f"where it is not either; it is in {start}, where the run was started: give {flag} {start / value}"
        else:
            what = f"where it is not either: run train from the folder the run was started in, or give {flag} DIR"
        raise CycleGANError(
            f"option '{key}' in '{path}': {value} is not in the current folder, {Path.cwd()}; a config file's relative "
            f"folders are read from the folder train runs in (as the run that wrote config.json was given them), not "
            f"from the file's own, {folder}, {what}"
        )


def check_resumable(out: str | None) -> Path:
    """The checkpoint file `train --resume` reads in run folder `out`, if one is there; torch-free, so that a run
    that is not there is said before torch's import (it waited 5-15 s for it)."""
    # named as the caller gives them: `prepare_config(..., resume=True, out=...)` from Python
    resume, drop = given_as("resume", True), f"drop {given_as('resume', True)}"
    if not out:
        raise CycleGANError(f"{resume} needs {given_as('out', 'RUN')} (the run folder to continue)")
    if Path(out).is_file():  # `--out runs/x/checkpoint.pt`: the file, where the run's folder is meant
        raise CycleGANError(
            f"option '{given_as('out')}': {out} is a file; {resume} continues the run folder that holds "
            f"checkpoint.pt: give {given_as('out', str(Path(out).parent))}"
        )
    ckpt_file = Path(out) / CHECKPOINT_NAME
    if ckpt_file.is_file():
        return ckpt_file
    busy = FolderLock(out)
    if busy.held_elsewhere():  # a run that has not saved its first checkpoint yet
        raise CycleGANError(
            f"{out} is in use by another training run ({busy.holder_text}), which has saved no checkpoint yet; "
            f"wait for it to end or choose another {given_as('out')}"
        )
    if (Path(out) / BEST_NAME).is_file():  # a new run there is refused too while best.pt is alone in it
        raise CycleGANError(
            f"nothing to resume: {ckpt_file} does not exist, and {BEST_NAME} beside it holds generators alone, "
            f"which cannot resume a run: move it elsewhere to keep it and {drop} to start a new run here, or "
            f"choose another {given_as('out')}"
        )
    raise CycleGANError(f"nothing to resume: {ckpt_file} does not exist ({drop} to start a new run)")


def validate(cfg: Config) -> Config:
    """Fill derived defaults and reject values that are well-typed but unusable."""
    m, d = cfg.model, cfg.data
    if m.n_blocks is None:  # the paper: 9 blocks at 256 px and above, 6 below
        m = dataclasses.replace(m, n_blocks=9 if d.size >= 256 else 6)
    if m.generator == "unet" and m.unet_levels is None:  # unet_256 at 256 px, unet_128 at 128 px
        if d.size < 32:
            raise CycleGANError(f"option 'size': the unet generator needs >= 32 px (5 levels), got {d.size}")
        m = dataclasses.replace(m, unet_levels=min(16, d.size.bit_length() - 1))
    cfg = dataclasses.replace(cfg, model=m)
    finalize = families.family(m.family).finalize
    if finalize is not None:
        cfg = finalize(cfg)
    m = cfg.model
    if m.generator in ("seed", "unet"):
        only_resnet = (
            ("downsample", "stride"),
            ("upsample", "transpose"),
            ("residual_output", False),
            ("padding", "reflect"),
            ("block_dilation", 1),
        )
        for name, default in only_resnet:
            if getattr(m, name) != default:
                resnet = given_as("generator", "resnet")  # a Python caller's keyword: it typed no flag
                raise CycleGANError(f"option '{name}' applies to the resnet generator only ({resnet})")
    check_size(cfg, d.size)
    if cfg.train.half_size_fraction:
        if m.generator == "unet":  # its depth is set for the full size
            half = given_as("half_size_fraction")
            raise CycleGANError(f"option '{half}' applies to the resnet and seed generators, not unet")
        check_size(cfg, d.size // 2, half=True)
    return cfg


def check_size(cfg: Config, size: int, *, half: bool = False) -> None:
    """Refuse a training size the networks cannot take; `half`: the size --half-size-fraction trains at."""
    m = cfg.model
    # the options as the caller gave them (`given_as`): a Python caller was told to "raise --size"
    size_option = given_as("size")
    what = (
        f"option '{given_as('half_size_fraction')}': half of {size_option}, {size} px,"
        if half
        else f"option 'size': {size} px"
    )
    # The discriminator's last normalised feature map must keep more than one pixel (InstanceNorm fails
    # on 1x1): floor(size / 2**d_layers) - 1 >= 2 for the PatchGAN, >= 1 (+ the final conv) for the seed D.
    need = 3 if m.discriminator.startswith("patchgan") else 2
    if m.discriminator != "projected" and size // 2**m.d_layers < need:
        raise CycleGANError(
            f"{what} is too small for a {m.discriminator} discriminator with {given_as('d_layers', m.d_layers)} "
            f"(needs >= {need * 2**m.d_layers} px); raise {size_option} or lower {given_as('d_layers')}"
        )
    if "projected" in m.discriminator and size < 32:
        raise CycleGANError(
            f"{what} is too small for the projected discriminator (needs >= 32 px: its deepest map is 1/32)"
        )
    if m.generator == "resnet":
        # Its 1/4-size map needs 2 px (instance norm refuses 1) and, with reflection, more than the blocks' pads:
        # the generator's `min_size` and `tiling.least_size`, restated here without torch (a test ties the two).
        d = m.block_dilation
        need = 4 * max(2, d + 1) if m.padding == "reflect" else 8
        if size < need:
            why = f"its reflection pads with {given_as('block_dilation', d)}" if need > 8 else "its 1/4-size map"
            lower = f", lower {given_as('block_dilation')} or give {given_as('padding', 'zeros')}" if need > 8 else ""
            hint = f"raise {size_option}{lower}"
            raise CycleGANError(f"{what} is too small for the resnet generator (needs >= {need} px for {why}); {hint}")
    multiple = {"seed": 8, "resnet": 4, "unet": 1}[m.generator]  # the U-Net pads itself
    if size % multiple or (half and cfg.data.size % 2):
        raise CycleGANError(f"{what} is not a multiple of {multiple}, as the {m.generator} generator needs")


def config_from_dict(d: dict[str, Any], *, source: str) -> Config:
    """Rebuild a Config saved with `Config.to_dict()` (as in a checkpoint), checking every key."""
    flat = flatten(d, source=source)
    return resolve(flat, source=f"{source} option", explicit=False)
