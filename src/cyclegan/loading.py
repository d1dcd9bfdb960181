"""A generator from whatever a user names: a run folder, a checkpoint file, a generator file of the reference
implementation or the CUT code, or `pretrained:NAME` (a published generator, fetched once by `cyclegan.zoo`).

Every command that reads a generator (translate, evaluate, export, compare, bench, serve) and
`cyclegan.load_generator` come through here. Files are read with `torch.load(..., weights_only=True)`
(`cyclegan.safeload`); our own checkpoints are checked (`checkpoint.check_checkpoint`) before use.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from pathlib import Path
from typing import Any, Literal, get_args

import torch
from torch import nn

from . import zoo
from .checkpoint import check_checkpoint, load_state, of_this_package, run_checkpoint, save_atomic
from .config import config_from_dict
from .errors import CycleGANError, check_flag
from .execution import resolve_device
from .families import GENERATOR_FOR, directions_of, family, generator_for
from .files import home_expanded, training_file
from .interop.foreign import holds_both, load_foreign_generator
from .models import build_generator
from .progress import print_warning
from .run_files import CHECKPOINT_NAME, FORMAT, GENERATORS_ONLY
from .safeload import first_non_finite, load_weights_only
from .shared_options import Direction
from .version import __version__

EMAChoice = Literal["auto", "on", "off"]


@dataclasses.dataclass(frozen=True)
class Origin:
    """Where a generator `generator_from` built came from: its checkpoint's stored config, its network's name
    there (G or F) and the step; no config for another project's file. Kept on the module (copied with it by
    `copy.deepcopy`), so that `save_generator` writes a file `load_generator` rebuilds it from."""

    config: dict | None
    name: str = "G"
    step: int = 0
    resumable: str | None = None  # the file it came from, where that holds a run's whole training state
    averaged: bool = False  # the weights' average (--ema-decay), not the last raw ones: `export` records which
    pair: bool = False  # another project's file holding a generator for each direction by name (`holds_both`)


def model_label(config: dict | None, checkpoint: str, *, pair: bool = False) -> str:
    """How a comparison (`compare`, the web page's Compare tab) and `bench --task style` name the model that
    translates, from its checkpoint's stored config (None: a generator file of another project) and the checkpoint
    as given or its file: its family's title (CycleGAN, pix2pix, CUT, FastCUT); a published model (`pretrained:NAME`,
    or its cached file, which the web page names) is a CycleGAN, as is another project's file whose keys name a
    generator for each direction (`pair`: G_A and G_B, netG_A and netG_B; pix2pix and CUT train one generator);
    another project's file of one generator, whose family its tensors do not tell, a "generator". Every pix2pix or
    CUT model's column (and bench's row) was labelled "CycleGAN"; a CycleGAN pair of another project's, "generator"."""
    if config is not None:
        return family(config_from_dict(config, source=checkpoint).model.family).label
    published = zoo.is_spec(checkpoint) or zoo.cached_name(checkpoint) in zoo.MODELS
    return "CycleGAN" if published or pair else "generator"


def checkpoint_path(path: str | Path, *, progress: bool = True) -> Path:
    """A run folder means its `checkpoint.pt`; a file means itself; `pretrained:NAME` the cached published
    generator NAME, downloaded first if needed (`cyclegan.zoo`), with its progress unless not `progress`."""
    if zoo.is_spec(path):
        return zoo.resolve(path, progress=progress)
    folder = Path(path)
    if folder.is_dir() and not (folder / CHECKPOINT_NAME).is_file():  # the reference's (or CUT's) run folder?
        found = sorted(p.name for p in folder.glob("*net_G*.pth"))
        if found:
            pick = next((n for n in ("latest_net_G_A.pth", "latest_net_G.pth") if n in found), found[0])
            more = ", ..." if len(found) > 3 else ""
            raise CycleGANError(
                f"{folder} holds no {CHECKPOINT_NAME} but generator files of the reference implementation or the "
                f"CUT code ({', '.join(found[:3])}{more}): give one as the checkpoint, e.g. {folder / pick} "
                "(G_A translates A to B, G_B B to A)"
            )
    return run_checkpoint(path)


def checkpoint_file(path: str | Path) -> Path:
    """The file a checkpoint argument reads, found without downloading or reading anything: `pretrained:NAME`
    its file in the cache, a run folder its `checkpoint.pt`, a file itself. For the checks that no output
    lands on an input (`files.check_outputs`). A leading `~` is the home folder, as `load_generator` reads it: `export
    --checkpoint '~/g.pt' --out ~/g.pt --overwrite` compared the unexpanded path, and wrote over the file it loaded."""
    if zoo.is_spec(path):
        return zoo.cached_path(os.fspath(path)[len(zoo.PREFIX) :])
    path = Path(home_expanded(path))
    return path / CHECKPOINT_NAME if path.is_dir() else path


def load_file(path: str | Path) -> Any:
    """Load a .pt/.pth file with weights_only=True (tensors and plain data only), on the CPU. A cyclegan
    checkpoint is also checked (`check_checkpoint`); other files (e.g. foreign generators) are returned as
    they are."""
    path = checkpoint_path(path)
    obj = load_weights_only(path)
    if of_this_package(obj):  # another version's format too: refused as such, not read as another project's file
        check_checkpoint(obj, source=str(path))
    return obj


def load_generator(
    path: str | Path,
    direction: Direction | None = None,
    *,
    device: str | torch.device = "cpu",
    ema: EMAChoice = "auto",
    progress: bool = True,
) -> nn.Module:
    """The generator for `direction` from a run folder or checkpoint file (a run's checkpoint.pt, or its best.pt:
    the generators at the best `--eval-every` score), in eval mode on `device`, in fp32 (whatever torch's default
    dtype), its parameters frozen (`requires_grad_(True)` to fine-tune it).

    ema: "auto" takes the average of the generator's weights when the run kept one (`--ema-decay`), else
    the raw weights; "on" requires the average; "off" takes the raw weights of the last step.

    A CycleGAN run holds both directions (AtoB: G, BtoA: F); pix2pix, CUT and FastCUT hold one generator, for
    the direction they were trained in: the other is refused in one line. `direction` None (the default): the
    model's own (`own_direction`: AtoB of a CycleGAN), as `translate` and `export` take it without `--direction`; a
    one-way run trained BtoA was refused as AtoB unless the caller named the one direction it has.

    Also reads a plain generator state dict saved by the reference implementation (ResNet or U-Net,
    architecture inferred from the tensors; one generator, used whatever `direction` says) or by the CUT
    code (its anti-aliased ResNet).

    The module maps (B, 3, H, W) in [-1, 1] to the same shape in [-1, 1], any H and W (padded to its
    `size_multiple` inside and cropped back; `cyclegan.translate` adds tiles, PIL images, files and one image (3, H,
    W)); a tensor of another shape is refused (CycleGANError).
    `device`: "cpu", "cuda", "cuda:N", "mps" or "auto" (as `--device`). Torch's global random state is left
    as it was: the network's initial weights, overwritten by the file's, are drawn from a fork of it, one
    loading thread at a time (another thread drawing random numbers meanwhile is not held back: its draws in
    that moment are undone).

    `progress`: a `pretrained:NAME` not cached yet shows its download's progress on stderr (a bar on a terminal,
    plain lines of sizes elsewhere); False: none, as a command's --no-progress (its "downloaded" line stays).
    """
    return load_generator_and_direction(path, direction, device=device, ema=ema, progress=progress)[0]


def load_generator_and_direction(
    path: str | Path,
    direction: Direction | None = None,
    *,
    device: str | torch.device = "cpu",
    ema: EMAChoice = "auto",
    option: str | None = None,
    progress: bool = True,
) -> tuple[nn.Module, Direction | None]:
    """`load_generator`, and the direction its generator translates (`translated_direction`): what `export`
    records in the file it writes. `option`: the flag that gave `direction`, named in a warning where it picks
    nothing (a file of one generator not ours, used as it is); None: no warning. `progress`: `load_generator`'s."""
    if direction is not None and direction not in GENERATOR_FOR:
        raise CycleGANError(f"direction must be AtoB or BtoA, got {direction!r}")
    if ema not in get_args(EMAChoice):
        raise CycleGANError(f"ema must be auto, on or off, got {ema!r}")
    check_flag("progress", progress)  # "no" showed the download's progress
    if not isinstance(path, (str, os.PathLike)):
        raise CycleGANError(
            f"path: expected a run folder, a checkpoint file or pretrained:NAME, got {type(path).__name__}"
        )
    device = resolve_device(str(device))  # a bad or absent device: one line before any file is read
    path = home_expanded(path)  # a Python caller's "~/runs/h2z" (no shell expands it) was "not found"
    given, path = path, checkpoint_path(path, progress=progress)
    ckpt = load_file(path)  # a cyclegan checkpoint is checked there, tensors' shapes included
    translated = translated_direction(ckpt, direction, source=str(path))
    net = generator_from(ckpt, translated or "AtoB", source=str(path), ema=ema)  # the caller's random state kept
    if option is not None and direction is not None and picks_nothing(ckpt):
        warn_direction_unused(option, direction, given=str(given), source=str(path))
    return net.to(device).eval().requires_grad_(False), translated


def is_ours(ckpt: Any) -> bool:
    """Whether a file read by `load_file` is a checkpoint of this package (else another project's generator)."""
    return isinstance(ckpt, dict) and ckpt.get("format") == FORMAT


def picks_nothing(ckpt: Any) -> bool:
    """Whether a direction asked picks nothing of a file read by `load_file`: another project's file of one
    generator, used as it is (`warn_direction_unused`); one holding G_A and G_B is chosen in by it."""
    return not is_ours(ckpt) and not holds_both(ckpt)


def translated_direction(ckpt: Any, asked: Direction | None, *, source: str) -> Direction | None:
    """The direction the generator `generator_from` builds for `asked` translates: `asked` of a checkpoint of
    ours (else its own), a published generator's own whatever is asked (it holds one: `pretrained:horse2zebra`
    asked BtoA still turns horses into zebras), and for another project's file, which says nothing, `asked`:
    the caller's word (None where not asked)."""
    if is_ours(ckpt) or holds_both(ckpt):  # G_A and G_B by name: `asked` chooses between them
        return asked or own_direction(ckpt, source=source)
    return stated_direction(ckpt, source=source) or asked


def warn_direction_unused(option: str, asked: Direction, *, given: str, source: str) -> None:
    """Say (a warning) that `option` picked nothing of `source`, a file of one generator not ours (`given` as the
    user named it): it is used as it is."""
    if (published := zoo.MODELS.get(zoo.cached_name(source) or "")) is not None:
        if asked == published.direction:  # the way it goes: nothing to say
            return
        what = f"{given} is one generator, {published.does} ({published.direction} of {published.dataset})"
    else:  # another project's file says neither direction: the one asked is the caller's word for its way
        what = f"{given} is one generator of another project, used as it is; {asked} is taken as the way it translates"
    print_warning(f"warning: {option} {asked} changes nothing here: {what}")


def own_direction(ckpt: Any, *, source: str) -> Direction:
    """The direction a file read by `load_file` translates when none is asked: `stated_direction`, else AtoB
    (another project's generator: one, used for either)."""
    return stated_direction(ckpt, source=source) or "AtoB"


def stated_direction(ckpt: Any, *, source: str) -> Direction | None:
    """The direction a file read by `load_file` says it translates: the trained one of a one-way model
    (pix2pix, CUT, FastCUT), AtoB of a CycleGAN (both), the catalogue's of a published generator
    (`pretrained:zebra2horse`: BtoA of horse2zebra), AtoB of another project's file holding G_A and G_B by name (its
    export recorded 'unknown' for the G_A it wrote); None for another project's file of one generator, which says
    nothing."""
    if is_ours(ckpt):
        return held_directions(ckpt, source=source)[0]
    if holds_both(ckpt):
        return "AtoB"
    published = zoo.MODELS.get(zoo.cached_name(source) or "")
    return published.direction if published else None


def held_directions(ckpt: dict, *, source: str) -> tuple[Direction, ...]:
    """The directions a checkpoint of ours (checked by `load_file`) translates: its family's (`directions_of`),
    less the one a generators-only file of one generator (`save_generator`'s) does not hold."""
    model = config_from_dict(ckpt["config"], source=source).model
    held = (d for d in directions_of(model) if generator_for(model, d, source=source) in ckpt["models"])
    return tuple(held)  # type: ignore[return-value] - checked: a file holds one generator at least


# Building a network draws its initial weights from torch's global generator, which `fork_rng` puts back after.
# Two threads building at once each put back what they found: the second found the first's draws, and left them.
_BUILDING = threading.Lock()


def weights_record(net: nn.Module) -> dict[str, str]:
    """Which step and which weights of a run `net` holds, from its `Origin`: {"step": "N", "weights": "averaged
    (--ema-decay)" or "last (not averaged)"}; {} for another project's generator. `export` records them in the
    file, `compare` in its report: two of one checkpoint with --ema on and off were alike to their readers."""
    origin = getattr(net, "_cyclegan_origin", None)
    if origin is None or origin.config is None:
        return {}
    return {"step": str(origin.step), "weights": "averaged (--ema-decay)" if origin.averaged else "last (not averaged)"}


def generator_from(ckpt: Any, direction: Direction, *, source: str, ema: EMAChoice = "auto") -> nn.Module:
    """`load_generator` on a file already read by `load_file` (`source` names it): every generator of one
    evaluation comes from one read, so a checkpoint replaced meanwhile (a run still training) cannot mix
    steps. On the CPU, in eval mode. Torch's global random state is left as it was (`_BUILDING`)."""
    with _BUILDING, torch.random.fork_rng(devices=[]):
        return _generator_from(ckpt, direction, source=source, ema=ema)


def _generator_from(ckpt: Any, direction: Direction, *, source: str, ema: EMAChoice) -> nn.Module:
    if direction not in GENERATOR_FOR:
        raise CycleGANError(f"direction must be AtoB or BtoA, got {direction!r}")
    published = zoo.cached_name(source)  # a published name's file in the cache: refused with the way to refetch it
    fetch_again = f"delete {source} so that the next use of {zoo.PREFIX}{published} downloads it again"
    # cached (and recorded) before downloads were checked for it: a U-Net served as horse2zebra was used as one
    if published is not None and (mismatch := zoo.published_mismatch(published, ckpt, source=source)) is not None:
        raise CycleGANError(f"{source} is not the published {published}: {mismatch}; {fetch_again}")
    if isinstance(ckpt, dict) and ckpt.get("format") == FORMAT:
        cfg = config_from_dict(ckpt["config"], source=source)
        net = build_generator(cfg.model)
        name = generator_for(cfg.model, direction, source=source)
        if name not in ckpt["models"]:  # one generator of a CycleGAN, written by save_generator
            held = own_direction(ckpt, source=source)
            raise CycleGANError(f"{source} holds the {held} generator alone; use --direction {held}")
        averaged = ckpt.get("ema") or {}
        if ema == "on" and name not in averaged:
            raise CycleGANError(f"{source} holds no averaged weights (train with --ema-decay); use --ema off or auto")
        use_average = ema != "off" and name in averaged
        if use_average:
            load_state(net, averaged[name], where=f"ema.{name}", source=source)
        else:
            load_state(net, ckpt["models"][name], where=f"models.{name}", source=source)
        resumable = None if ckpt.get("contents") == GENERATORS_ONLY else os.path.abspath(source)
        # what save_generator writes
        net._cyclegan_origin = Origin(ckpt["config"], name, ckpt["step"], resumable, averaged=use_average)
    else:  # a generator saved by the reference implementation (or in its layout): see cyclegan.interop
        net = load_foreign_generator(ckpt, direction, source=source)
        # saved back as a plain state dict, read again by its tensors' shapes
        net._cyclegan_origin = Origin(None, pair=holds_both(ckpt))
        if ema == "on":  # asked for the average and given the raw weights: said, as for our runs without one
            raise CycleGANError(
                f"{source} is a generator file of another project, which holds no averaged weights; use --ema off "
                "or auto"
            )
    # Training never saves a non-finite weight; one here made every output NaN (black images, NaN scores).
    if (bad := first_non_finite(net.state_dict())) is not None:
        # a published generator cached (and recorded) before downloads were checked for NaN: the cache's record
        # matches it, so every use failed here and none fetched it again
        fix = "use another checkpoint" if published is None else fetch_again
        raise CycleGANError(
            f"{source}: the {direction} generator's {bad} holds NaN or infinite values (a damaged file, or weights "
            f"of a run that diverged); {fix}"
        )
    # fp32 whatever torch's default dtype: under set_default_dtype(torch.float64) it was built, and ran, in float64
    return net.float().eval().requires_grad_(False)


def save_generator(net: nn.Module, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write a generator `load_generator` gave (fine-tuned or not) to `path`, which `load_generator(path)` (and
    `cyclegan translate --checkpoint`, `evaluate`, `export`) reads back: the checkpoint format's generators-only
    kind, as best.pt, holding this one generator (its direction the one it was loaded for), its current weights
    in fp32 on the CPU and the stored config of the file it came from (a generator of another project's file: its
    state dict alone, which `load_generator` reads as it read that file). Written atomically (an interrupted save
    leaves any previous file whole); an existing file is replaced only with `overwrite=True`, a run's
    checkpoint.pt, best.pt, config.json or log.jsonl never (`files.training_file`).
    Returns the path."""
    base = getattr(net, "_orig_mod", net)  # under torch.compile
    origin = getattr(base, "_cyclegan_origin", None)
    if not isinstance(net, nn.Module) or not isinstance(origin, Origin):
        got = type(net).__name__ if not isinstance(net, nn.Module) else f"a {type(net).__name__} of unknown origin"
        raise CycleGANError(
            f"save_generator saves a generator that load_generator gave (its config is written with its weights), "
            f"got {got}; a network of another project: torch.save(net.state_dict(), path)"
        )
    if not isinstance(path, (str, os.PathLike)):
        raise CycleGANError(f"path: expected a file name, got {type(path).__name__}")
    path = Path(home_expanded(path))  # "~/g.pt" made a folder named ~ here (no shell expands a Python caller's ~)
    if path.is_dir():
        raise CycleGANError(f"{path} is a folder; give a file name, e.g. {path / 'generator.pt'}")
    # overwrite=True in a fine-tuning loop would end the run's resumability
    if path.exists() and (path.name == CHECKPOINT_NAME or os.path.abspath(path) == origin.resumable):
        raise CycleGANError(f"{path} is a training run's resumable checkpoint; save the generator under another name")
    # a run's best.pt is its generators (CycleGAN's two) at their best score, which `evaluate RUN` and the web page
    # read as the run's: one fine-tuned generator replaced it with overwrite=True, and `best.pt` without
    if (run_file := training_file(path)) is not None:
        raise CycleGANError(
            f"{path} is a training run's {run_file.name} (only `cyclegan train` writes it); save the generator under "
            "another name"
        )
    check_flag("overwrite", overwrite)  # "no" replaced the file it was meant to keep
    if path.exists() and not overwrite:
        raise CycleGANError(f"{path} exists; give another path, or overwrite=True to replace it")
    state = {
        k: (v.detach().float() if v.is_floating_point() else v.detach()).cpu() for k, v in base.state_dict().items()
    }
    if (bad := first_non_finite(state)) is not None:
        raise CycleGANError(f"the generator's {bad} holds NaN or infinite values; nothing written to {path}")
    if origin.config is None:
        return _written(state, path)
    ckpt = {
        "format": FORMAT,
        "contents": GENERATORS_ONLY,
        "package_version": __version__,
        "family": config_from_dict(origin.config, source=str(path)).model.family,
        "config": origin.config,
        "step": origin.step,
        "models": {origin.name: state},
        # loaded as the run's average (--ema-decay), they are kept as one, as best.pt keeps them: its export's
        # metadata said 'last (not averaged)' of the averaged weights (one copy in the file: the storages are shared)
        **({"ema": {origin.name: state}} if origin.averaged else {}),
    }
    try:  # the checks load_generator makes, before writing: a network whose layers were changed is named now
        check_checkpoint(ckpt, source=str(path))
    except CycleGANError as e:
        reason = str(e).removeprefix(f"{path}: ").split("; the file is damaged")[0]
        raise CycleGANError(
            f"the generator no longer fits the architecture it was loaded with ({reason}); nothing written to {path}"
        ) from None
    return _written(ckpt, path)


def _written(obj: Any, path: Path) -> Path:
    """`save_atomic(obj, path)`, a failed write (a read-only folder, a full disk) in one line."""
    try:
        save_atomic(obj, path)
    except OSError as e:
        raise CycleGANError(f"cannot write {path}: {e.strerror or e}; nothing written") from None
    return path
