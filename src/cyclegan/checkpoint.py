"""The one checkpoint file: atomic save, validation, and loading a training checkpoint.

A checkpoint is a dict of tensors and plain Python values only, so it loads with
`torch.load(..., weights_only=True)` (`cyclegan.safeload`): a file crafted to run code when unpickled is
refused. Our own checkpoints are then checked before anything uses them (`check_checkpoint`): the keys and
their types, the stored config, the size of the networks it describes (before any allocation) and every
tensor's shape against those networks, so a damaged or edited file gives one line naming what is wrong.
Which networks, optimizers and pools a checkpoint holds comes from its model family (`cyclegan.families`).
Loading a generator for translation (and `pretrained:NAME`, foreign `.pth` files) is `cyclegan.loading`.
"""

from __future__ import annotations

import dataclasses
import errno
import shutil
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .config import Config, ModelConfig, config_from_dict
from .errors import CycleGANError, byte_size, escape
from .families import FAMILIES, family
from .files import write_atomic
from .models import MAX_PARAMETERS, network_builder
from .run_files import BEST_NAME, CHECKPOINT_NAME, FORMAT, GENERATORS_ONLY
from .safeload import load_weights_only
from .shared_options import checkpoint_not_found
from .version import __version__

KIND_NAMES = {"nce_head": "projection head"}  # how errors name a kind of network (`models.NETWORK_KINDS`)


def save_atomic(obj: Any, path: str | Path) -> None:
    """torch.save `obj` to `path` atomically: a crash or Ctrl-C mid-write leaves the previous file intact. A
    failed write raises its OSError, which torch.save turns into a RuntimeError of its own; a full disk's (or
    quota's) says in its `strerror` the room the file needs and, for a disk, the room there is (`_no_room`)."""

    def save(tmp: str) -> None:
        with open(tmp, "wb") as f:  # a Python file: torch keeps the write's OSError as the context of its error
            try:
                torch.save(obj, f)
            except RuntimeError as e:
                if isinstance(e.__context__, OSError):
                    raise e.__context__ from None
                raise

    try:
        write_atomic(path, save)
    except OSError as e:
        if e.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise _no_room(e, obj, Path(path)) from None


def _no_room(e: OSError, obj: Any, path: Path) -> OSError:
    """`e` (a full disk or quota) with the room `obj` needs: "No space left on device" alone left the user to guess
    how much to free. The size is `obj` serialized again, to a counter (no memory, no disk: a failure's cost); the
    temporary is gone by then, so the free space is what there is beside the previous file, which stays until the
    new one replaces it."""

    class Counter:
        n = 0

        def write(self, b) -> int:
            self.n += memoryview(b).nbytes
            return memoryview(b).nbytes

        def flush(self) -> None:
            pass

    counter = Counter()
    try:
        torch.save(obj, counter)
    except Exception:  # the size is a help: the disk's own reason stands without it
        return e
    room = f"it needs {byte_size(counter.n)}"
    if e.errno == errno.ENOSPC:
        try:
            room += f", the disk has {byte_size(shutil.disk_usage(path.parent).free)} free"
        except OSError:
            pass
    return OSError(e.errno, f"{e.strerror} ({room})", e.filename)


def run_checkpoint(path: str | Path) -> Path:
    """A run folder means its `checkpoint.pt`; a file means itself; anything else is a one-line error."""
    path = Path(path)
    if path.is_dir():
        if not (path / CHECKPOINT_NAME).is_file() and (path / BEST_NAME).is_file():  # checkpoint.pt deleted
            raise CycleGANError(
                f"checkpoint not found: {path / CHECKPOINT_NAME}; the run keeps {path / BEST_NAME} (its best "
                "generators): give that file"
            )
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise CycleGANError(checkpoint_not_found(path))
    return path


# --- what a checkpoint must hold ---------------------------------------------------------------------------


def _fail(source: str, what: str) -> CycleGANError:
    return CycleGANError(f"{source}: {what}; the file is damaged or was not written by `cyclegan train`")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_state_dict(value: Any, where: str, source: str) -> None:
    if not isinstance(value, Mapping):
        raise _fail(source, f"'{where}' is a {type(value).__name__}, not a dict of tensors")
    if not value:
        raise _fail(source, f"'{where}' holds no tensors")
    for key, t in value.items():
        if not isinstance(key, str) or not isinstance(t, torch.Tensor):
            raise _fail(source, f"'{where}' holds {key!r}: {type(t).__name__}, not a named tensor")


def check_checkpoint(ckpt: Any, *, source: str, training: bool = False) -> Config:
    """Check that `ckpt` (loaded from `source`) is a usable cyclegan checkpoint; return its config.

    Checked, each failure one line naming the key or tensor: `format`, `step` (an int >= 0), `config` (a
    dict that passes every option's check), `models` holding the state dicts of G, F, D_X and D_Y (a
    network it declares must be there: an `ema` copy never stands in for a missing one), the size of the
    networks the config describes (at most MAX_PARAMETERS each, estimated without allocating), and every
    tensor's name and shape against those networks built on the `meta` device. `training` (a resume): also
    the optimizers, LR schedules, image pools and random state. A file another version of this package wrote
    (`package_version`) is named as one in each refusal: a newer one's format or options are unknown here, and
    "damaged" alone would send the user the wrong way.
    """
    try:
        return _check_checkpoint(ckpt, source=source, training=training)
    except CycleGANError as e:
        note = _version_note(ckpt)
        if not note:
            raise
        raise CycleGANError(f"{e}{note}") from None


def of_this_package(obj: Any) -> bool:
    """Whether a loaded file is a checkpoint this package wrote, in any version: this version's format, or a dict
    stamped with the writer's `package_version` (another version's format, which only the checks name rightly)."""
    return isinstance(obj, dict) and (obj.get("format") == FORMAT or isinstance(obj.get("package_version"), str))


def _check_checkpoint(ckpt: Any, *, source: str, training: bool) -> Config:
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        found = "" if isinstance(ckpt, dict) else f" (found a {type(ckpt).__name__})"
        if isinstance(ckpt, dict) and isinstance(ckpt.get("package_version"), str):
            found = f" of this version's format {FORMAT!r} (its format is {ckpt.get('format')!r})"
        elif isinstance(ckpt, dict) and ckpt and all(isinstance(v, torch.Tensor) for v in ckpt.values()):
            # `--resume` on a run folder holding another project's generator as checkpoint.pt
            found = " (it holds a network's weights alone, as another project saves a generator: translate reads it)"
        raise CycleGANError(f"{source} is not a cyclegan training checkpoint{found}")
    for key in ("config", "step", "models"):
        if key not in ckpt:
            raise _fail(source, f"it has no '{key}'")
    step = ckpt["step"]
    if not _is_int(step) or step < 0:
        raise _fail(source, f"'step' is {step!r}, not a whole number >= 0")
    if not isinstance(ckpt["config"], dict):
        raise _fail(source, f"'config' is a {type(ckpt['config']).__name__}, not a dict")
    models = ckpt["models"]
    if not isinstance(models, Mapping):
        raise _fail(source, f"'models' is a {type(models).__name__}, not a dict of networks")
    generators_only = ckpt.get("contents") == GENERATORS_ONLY
    if generators_only and training:
        raise CycleGANError(
            f"{source} holds the generators alone (best.pt) and cannot resume a run; resume from the run's "
            f"{CHECKPOINT_NAME}"
        )
    generators = _family_networks(ckpt["config"], generators_only=True)
    if generators_only and generators and not any(name in models for name in generators):
        held = ", ".join(map(str, models)) or "none"
        raise _fail(source, f"'models' has no generator ({' or '.join(generators)}; it holds: {held})")
    for name in _held_networks(ckpt):
        if name not in models:
            raise _fail(source, f"'models' has no '{name}' network (it holds: {', '.join(map(str, models)) or 'none'})")
        _check_state_dict(models[name], f"models.{name}", source)
    ema = ckpt.get("ema")
    if ema is not None:
        if not isinstance(ema, Mapping):
            raise _fail(source, f"'ema' is a {type(ema).__name__}, not a dict of networks")
        for name, state in ema.items():
            _check_state_dict(state, f"ema.{name}", source)
    try:
        cfg = config_from_dict(ckpt["config"], source=source)
    except CycleGANError as e:
        reason = str(e).removeprefix(f"{escape(source)}: ")
        raise CycleGANError(f"{source}: its stored config is not valid: {reason}") from None
    except (TypeError, ValueError, AttributeError, KeyError) as e:
        raise _fail(source, f"its stored config cannot be read ({type(e).__name__}: {e})") from None
    _check_networks(ckpt, cfg, source)
    if training:
        _check_training_state(ckpt, cfg, source)
    return cfg


def _version_note(ckpt: Any) -> str:
    """Where a checkpoint another version wrote fails a check: which version wrote it."""
    written = ckpt.get("package_version") if isinstance(ckpt, dict) else None
    if not isinstance(written, str) or written == __version__:
        return ""
    return f" (written by cyclegan {written}, this is {__version__}: a file of another version may need that version)"


def _family_networks(config: dict, *, generators_only: bool = False) -> tuple[str, ...]:
    """The networks a checkpoint of this (not yet checked) stored config's family holds (`generators_only`:
    best.pt, its generators); none when the family is unknown: the config check then names it (CycleGAN's
    networks were asked for, so a CUT-like plug-in family's file was "damaged": "'models' has no 'F' network")."""
    model = config.get("model")
    name = model.get("family", "cyclegan") if isinstance(model, Mapping) else "cyclegan"
    f = FAMILIES.get(name) if isinstance(name, str) else None
    if f is None:
        return ()
    return f.generators if generators_only else tuple(f.networks)


def _held_networks(ckpt: dict) -> tuple[str, ...]:
    """The networks a checkpoint must hold: its family's, or of a generators-only file (best.pt, or one generator
    written by `loading.save_generator`) the generators it holds, at least one."""
    if ckpt.get("contents") != GENERATORS_ONLY:
        return _family_networks(ckpt["config"])
    return tuple(n for n in _family_networks(ckpt["config"], generators_only=True) if n in ckpt["models"])


def _builders(cfg: Config) -> dict[str, Callable[[ModelConfig], nn.Module]]:
    """Network name -> a function building it from a (possibly altered) `cfg.model`."""

    def builder(name: str) -> Callable[[ModelConfig], nn.Module]:
        return lambda m: network_builder(dataclasses.replace(cfg, model=m), name)()

    return {name: builder(name) for name in family(cfg.model.family).networks}


def _on_meta(build: Callable[[], nn.Module]) -> nn.Module | None:
    """`build()` with every tensor on the `meta` device (shapes only, nothing allocated); None for a network
    that cannot be built that way (its tensors are then checked by `load_state_dict`)."""
    try:
        with torch.device("meta"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. pretrained weights copied into meta tensors: a no-op, said loudly
            return build()
    except Exception:  # noqa: BLE001 - any network code may fail on meta; the check then falls back
        return None


def _numel(net: nn.Module) -> int:
    return sum(t.numel() for t in net.state_dict().values())


def estimate_parameters(cfg: Config, name: str) -> int | None:
    """The number of weights (parameters and buffers) of network `name` as config `m` describes it, without
    allocating; None if it cannot be built on the meta device. A generator is built with 0 and 1 residual
    blocks and extrapolated (its blocks are alike), so an absurd `n_blocks` costs nothing to estimate."""
    m = cfg.model
    build = _builders(cfg)[name]
    if name in family(m.family).generators and m.n_blocks and m.n_blocks > 1:
        nets = [_on_meta(lambda n=n: build(dataclasses.replace(m, n_blocks=n))) for n in (0, 1)]
        if nets[0] is None or nets[1] is None:
            return None
        c0, c1 = _numel(nets[0]), _numel(nets[1])
        return c0 + m.n_blocks * (c1 - c0)
    net = _on_meta(lambda: build(m))
    return None if net is None else _numel(net)


def _meta_network(cfg: Config, name: str, source: str) -> nn.Module | None:
    """Network `name` of config `cfg` on the meta device, once its size is known to be within bounds (an
    estimate first where building it whole could take long: a generator of many blocks)."""
    m = cfg.model
    build = _builders(cfg)[name]
    if name in family(m.family).generators and m.n_blocks and m.n_blocks > 1:
        n = estimate_parameters(cfg, name)
        if n is not None and n > MAX_PARAMETERS:
            raise _too_big(m, name, n, source)
    net = _on_meta(lambda: build(m))
    if net is not None and (n := _numel(net)) > MAX_PARAMETERS:
        raise _too_big(m, name, n, source)
    return net


def _too_big(m: ModelConfig, name: str, n: int, source: str) -> CycleGANError:
    return _fail(
        source,
        f"its stored config describes a {name} ({_describe(m, name)}) of {n:.3g} weights "
        f"({4 * n / 1e9:.3g} GB), beyond the {MAX_PARAMETERS:.0e} this program loads",
    )


def _describe(m: ModelConfig, name: str) -> str:
    kind = family(m.family).networks[name]
    if kind == "generator":
        if m.generator == "unet":
            return f"unet generator, ngf {m.ngf}, unet_levels {m.unet_levels}"
        return f"{m.generator} generator, ngf {m.ngf}, n_blocks {m.n_blocks}"
    if kind.endswith("discriminator"):
        return f"{m.discriminator} discriminator, ndf {m.ndf}, d_layers {m.d_layers}"
    return f"{m.family} {KIND_NAMES.get(kind, kind)}"


def _check_networks(ckpt: dict, cfg: Config, source: str) -> None:
    """Size first (no allocation), then every tensor's name and shape against the config's networks: one
    meta network per kind (G and F, and their averages, are alike; so are D_X and D_Y)."""
    m = cfg.model
    f = family(m.family)
    names = _held_networks(ckpt)
    kind_of = dict(f.networks)
    kinds = dict.fromkeys(kind_of[n] for n in names)  # the generator first: its size is checked before H
    first = {kind: next(n for n in names if kind_of[n] == kind) for kind in kinds}
    expected = {}
    for kind in kinds:
        net = _meta_network(cfg, first[kind], source)
        expected[kind] = None if net is None else net.state_dict()
    tensors = {f"models.{k}": ckpt["models"][k] for k in names}
    tensors.update({f"ema.{k}": v for k, v in (ckpt.get("ema") or {}).items() if k in f.generators})
    for where, state in tensors.items():
        name = where.split(".", 1)[1]
        kind = kind_of[name]
        if expected[kind] is not None:
            compare_state_dict(state, expected[kind], where=where, source=source, config=_describe(m, name))


def compare_state_dict(
    state: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor], *, where: str, source: str, config: str
) -> None:
    """One line naming the first tensor of `state` missing from, extra to, or shaped unlike `expected`."""
    for key, t in expected.items():
        if key not in state:
            raise _fail(source, f"'{where}' lacks the tensor '{key}' that the stored config ({config}) needs")
        if tuple(state[key].shape) != tuple(t.shape):
            raise _fail(
                source,
                f"tensor '{where}.{key}' has shape {tuple(state[key].shape)} where the stored config "
                f"({config}) needs {tuple(t.shape)}: the config does not match the weights",
            )
        if state[key].is_floating_point() != t.is_floating_point():  # load_state_dict casts without a word
            raise _fail(source, f"tensor '{where}.{key}' is {state[key].dtype} where the network has {t.dtype}")
    extra = next((k for k in state if k not in expected), None)
    if extra is not None:
        raise _fail(source, f"'{where}' holds a tensor '{extra}' that the stored config ({config}) does not have")


def _check_training_state(ckpt: dict, cfg: Config, source: str) -> None:
    f = family(cfg.model.family)
    for key, entries in f.training_state.items():
        value = ckpt.get(key)
        if not isinstance(value, Mapping):
            raise _fail(
                source,
                f"'{key}' is {'missing' if value is None else 'a ' + type(value).__name__}, which a resumed run needs",
            )
        for entry in entries:
            if not isinstance(value.get(entry), Mapping):
                raise _fail(source, f"'{key}' has no '{entry}' state, which a resumed run needs")
    rng = ckpt.get("rng")
    if not isinstance(rng, Mapping) or not isinstance(rng.get("torch"), torch.Tensor):
        raise _fail(source, "'rng' (the random state a resumed run continues from) is missing or not a tensor")
    ranks = ckpt.get("ranks")
    if ranks is not None and not (isinstance(ranks, list) and all(isinstance(r, Mapping) for r in ranks)):
        raise _fail(source, "'ranks' (each process's random state and pools) is not a list of dicts")
    if getattr(cfg.train, "ema_decay", 0) > 0:  # the averaged generators are part of the run's state
        ema = ckpt.get("ema")
        for name in f.generators:
            if not isinstance(ema, Mapping) or name not in ema:
                raise _fail(source, f"its config averages the generators (ema_decay) but it has no 'ema.{name}'")


# --- loading -----------------------------------------------------------------------------------------------


def load_checkpoint(path: str | Path, *, training: bool = False) -> dict[str, Any]:
    """A full training checkpoint written by `cyclegan train`, checked to be one (`check_checkpoint`;
    `training`: with everything a resumed run restores)."""
    path = run_checkpoint(path)
    ckpt = load_weights_only(path)
    check_checkpoint(ckpt, source=str(path), training=training)
    return ckpt


def load_state(net: nn.Module, state: Mapping[str, torch.Tensor], *, where: str, source: str) -> None:
    """`net.load_state_dict(state)` with torch's multi-line mismatch report turned into one line."""
    try:
        net.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError, ValueError) as e:
        first = str(e).strip().splitlines()
        detail = " ".join(line.strip() for line in first[:3])[:300] if first else type(e).__name__
        raise _fail(source, f"'{where}' does not fit the network its config describes ({detail})") from None
