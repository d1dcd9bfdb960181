"""The one checkpoint file: atomic save, safe load, validation, and rebuilding the generators from it.

A checkpoint is a dict of tensors and plain Python values only, so it loads with
`torch.load(..., weights_only=True)`: a file crafted to run code when unpickled is refused. Our own
checkpoints are then checked before anything uses them (`check_checkpoint`): the keys and their types, the
stored config, the size of the networks it describes (before any allocation) and every tensor's shape
against those networks, so a damaged or edited file gives one line naming what is wrong.
Inference imports nothing from training.
"""

from __future__ import annotations

import io
import pickle
import pickletools
import warnings
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch
from torch import nn

from .errors import CycleGANError
from .files import write_atomic

if TYPE_CHECKING:
    from .config import Config, ModelConfig

FORMAT = "cyclegan-checkpoint"
CHECKPOINT_NAME = "checkpoint.pt"
Direction = Literal["AtoB", "BtoA"]
EMAChoice = Literal["auto", "on", "off"]
GENERATOR_FOR = {"AtoB": "G", "BtoA": "F"}  # CycleGAN's G: X -> Y (A -> B), F: Y -> X
NETWORKS = ("G", "F", "D_X", "D_Y")  # CycleGAN's; each family's: `models.NETWORKS`
# What a resumed run restores besides the networks (`Trainer.state_dict`), per family: name -> entries.
TRAINING_STATE = {"optimizers": ("G", "D_X", "D_Y"), "schedulers": ("G", "D_X", "D_Y"), "pools": ("X", "Y")}
FAMILY_TRAINING_STATE = {
    "cyclegan": TRAINING_STATE,
    "pix2pix": {"optimizers": ("G", "D"), "schedulers": ("G", "D"), "pools": ()},
    "cut": {"optimizers": ("G", "D"), "schedulers": ("G", "D"), "pools": ("Y",)},
    "fastcut": {"optimizers": ("G", "D"), "schedulers": ("G", "D"), "pools": ("Y",)},
}
# Per network: far above any CycleGAN (the paper's generator has 11.4 M), far below what a machine can hold
# (8 GB of fp32 weights). A stored config beyond it is damage or a hostile file, refused before allocating.
MAX_PARAMETERS = 2_000_000_000


def save_atomic(obj: Any, path: str | Path) -> None:
    """torch.save `obj` to `path` atomically: a crash or Ctrl-C mid-write leaves the previous file intact."""
    write_atomic(path, lambda tmp: torch.save(obj, tmp))


def checkpoint_path(path: str | Path) -> Path:
    """A run folder means its `checkpoint.pt`; a file means itself; `pretrained:NAME` the cached published
    generator NAME, downloaded first if needed (`cyclegan.zoo`)."""
    from . import zoo

    if zoo.is_spec(path):
        return zoo.resolve(path)
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise CycleGANError(f"checkpoint not found: {path} (give a run folder or a checkpoint file)")
    return path


def load_file(path: str | Path) -> Any:
    """Load a .pt/.pth file with weights_only=True (tensors and plain data only), on the CPU. A cyclegan
    checkpoint is also checked (`check_checkpoint`); other files (e.g. foreign generators) are returned as
    they are."""
    path = checkpoint_path(path)
    obj = _load_weights_only(path)
    if isinstance(obj, dict) and obj.get("format") == FORMAT:
        check_checkpoint(obj, source=str(path))
    return obj


def _load_weights_only(path: Path) -> Any:
    try:
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": noise next to our one-line errors
            warnings.simplefilter("ignore", UserWarning)
            mmap = zipfile.is_zipfile(path)  # mmap needs the zip format (torch >= 1.6 files)
            return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError:
        call = code_in_pickle(path)
        if call is not None:
            raise CycleGANError(
                f"refusing to load {path}: it holds objects other than tensors and plain data, which could run "
                f"code when loaded (it would call {call}); only load checkpoints you trust the origin of"
            ) from None
        raise _unreadable(path) from None
    except OSError as e:  # the file system's error (permission, I/O), or a zip torch cannot read
        if e.strerror:
            raise CycleGANError(f"cannot read checkpoint {path}: {e.strerror}") from None
        raise _unreadable(path) from None
    except Exception:  # noqa: BLE001 - damaged bytes make torch's reader fail in any way (KeyError, IndexError...)
        raise _unreadable(path) from None


def _unreadable(path: Path) -> CycleGANError:
    return CycleGANError(
        f"cannot read checkpoint {path}: not a file saved by torch.save, or an incomplete one (is the file complete?)"
    )


# --- is it code? ---------------------------------------------------------------------------------------------

_SCAN_LIMIT = 64 << 20  # bytes of pickle read when looking for code (a checkpoint's data.pkl is far smaller)
_STRING_OPS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING", "BINSTRING", "STRING"}
_CALL_OPS = {"REDUCE", "NEWOBJ", "NEWOBJ_EX", "BUILD", "OBJ", "INST"}
_PUT_OPS = {"PUT", "BINPUT", "LONG_BINPUT"}
_GET_OPS = {"GET", "BINGET", "LONG_BINGET"}


def _allowed_globals() -> set[str]:
    """What `torch.load(weights_only=True)` may import: tensors' rebuild functions, dtypes, OrderedDict..."""
    try:
        from torch._weights_only_unpickler import _get_allowed_globals  # private: a fallback below

        allowed = set(_get_allowed_globals())
    except (ImportError, AttributeError):
        allowed = {"collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter"}
    return allowed


def code_in_pickle(path: str | Path) -> str | None:
    """The first function or class outside torch's weights-only allow-list that a pickle in `path` would
    import and call when loaded (e.g. 'posix.system'), or None: found by reading the pickle's opcodes,
    never by running them. For a torch zip file the pickle is its `data.pkl`; random bytes or a truncated
    file give None (their opcodes stop making sense before any call)."""
    path = Path(path)
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                info = next((i for i in zf.infolist() if i.filename.endswith("data.pkl")), None)
                if info is None or info.file_size > _SCAN_LIMIT:
                    return None
                data = zf.read(info)
        else:
            with path.open("rb") as f:
                data = f.read(_SCAN_LIMIT)
    except (OSError, zipfile.BadZipFile, EOFError, ValueError):
        return None
    return _first_unsafe_call(data, _allowed_globals())


def _first_unsafe_call(data: bytes, allowed: set[str]) -> str | None:
    stream = io.BytesIO(data)
    while stream.tell() < len(data):  # the legacy format is several pickles in a row
        start = stream.tell()
        pushed: list[Any] = []  # recent values pushed, as far as a string tells (else None)
        memo: dict[Any, Any] = {}
        unsafe: str | None = None
        try:
            for op, arg, _ in pickletools.genops(stream):
                name = op.name
                if name in _STRING_OPS:
                    pushed.append(arg if isinstance(arg, str) else None)
                    continue
                if name in _PUT_OPS or name == "MEMOIZE":  # these leave the stack as it is
                    memo[arg if name in _PUT_OPS else len(memo)] = pushed[-1] if pushed else None
                    continue
                if name in ("FRAME", "PROTO"):
                    continue
                if name in _GET_OPS:
                    pushed.append(memo.get(arg))
                    continue
                if name in ("GLOBAL", "INST"):
                    module, _, qualname = str(arg).partition(" ")
                    if f"{module}.{qualname}" not in allowed:
                        unsafe = unsafe or f"{module}.{qualname}"
                elif name == "STACK_GLOBAL" and len(pushed) >= 2:
                    module, qualname = pushed[-2], pushed[-1]
                    if not (isinstance(module, str) and isinstance(qualname, str)):
                        module, qualname = "?", "?"
                    if f"{module}.{qualname}" not in allowed:
                        unsafe = unsafe or f"{module}.{qualname}"
                if unsafe is not None and name in _CALL_OPS:
                    return unsafe
                pushed.append(None)
        except (ValueError, EOFError, UnicodeDecodeError, KeyError, IndexError, TypeError):
            return None  # not (or no longer) a pickle: data, random bytes, a truncated file
        if stream.tell() == start:
            return None
    return None


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
    the optimizers, LR schedules, image pools and random state.
    """
    from .config import config_from_dict

    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CycleGANError(f"{source} is not a cyclegan training checkpoint")
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
    for name in _family_networks(ckpt["config"]):
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
        reason = str(e).removeprefix(f"{source}: ")
        raise CycleGANError(f"{source}: its stored config is not valid: {reason}") from None
    except (TypeError, ValueError, AttributeError, KeyError) as e:
        raise _fail(source, f"its stored config cannot be read ({type(e).__name__}: {e})") from None
    _check_networks(ckpt, cfg, source)
    if training:
        _check_training_state(ckpt, cfg, source)
    return cfg


def _family_networks(config: dict) -> tuple[str, ...]:
    """The networks a checkpoint of this (not yet checked) stored config's family holds; CycleGAN's when the
    family is unknown (the config check then names what is wrong)."""
    from .models import NETWORKS as FAMILY_NETWORKS

    model = config.get("model")
    family = model.get("family", "cyclegan") if isinstance(model, Mapping) else "cyclegan"
    return FAMILY_NETWORKS.get(family, NETWORKS) if isinstance(family, str) else NETWORKS


def _builders(cfg: Config) -> dict[str, Callable[[ModelConfig], nn.Module]]:
    """Network name -> a function building it from a (possibly altered) `cfg.model`."""
    import dataclasses

    from .models import NETWORKS as FAMILY_NETWORKS
    from .models import network_builder

    def builder(name: str) -> Callable[[ModelConfig], nn.Module]:
        return lambda m: network_builder(dataclasses.replace(cfg, model=m), name)()

    return {name: builder(name) for name in FAMILY_NETWORKS[cfg.model.family]}


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
    import dataclasses

    m = cfg.model
    build = _builders(cfg)[name]
    if name in ("G", "F") and m.n_blocks and m.n_blocks > 1:
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
    if name in ("G", "F") and m.n_blocks and m.n_blocks > 1:
        n = estimate_parameters(cfg, name)
        if n is not None and n > MAX_PARAMETERS:
            raise _too_big(m, name, n, source)
    net = _on_meta(lambda: build(m))
    if net is not None and (n := _numel(net)) > MAX_PARAMETERS:
        raise _too_big(m, name, n, source)
    return net


def _too_big(m: ModelConfig, name: str, n: int, source: str) -> CycleGANError:
    return _fail(
        source, f"its stored config describes a {name} ({_describe(m, name)}) of {n:.3g} weights "
        f"({4 * n / 1e9:.3g} GB), beyond the {MAX_PARAMETERS:.0e} this program loads",
    )  # fmt: skip


def _describe(m: ModelConfig, name: str) -> str:
    if name in ("G", "F"):
        if m.generator == "unet":
            return f"unet generator, ngf {m.ngf}, unet_levels {m.unet_levels}"
        return f"{m.generator} generator, ngf {m.ngf}, n_blocks {m.n_blocks}"
    if name == "H":
        return f"{m.family} projection head"
    return f"{m.discriminator} discriminator, ndf {m.ndf}, d_layers {m.d_layers}"


def _check_networks(ckpt: dict, cfg: Config, source: str) -> None:
    """Size first (no allocation), then every tensor's name and shape against the config's networks: one
    meta network per kind (G and F, and their averages, are alike; so are D_X and D_Y)."""
    from .models import NETWORKS as FAMILY_NETWORKS

    m = cfg.model
    names = FAMILY_NETWORKS[m.family]
    kind_of = {name: "D" if name.startswith("D") else name for name in names}
    kind_of.update({"G": "G", "F": "G"})
    kinds = dict.fromkeys(kind_of[n] for n in names)  # G first: its size is checked before H is built
    first = {kind: next(n for n in names if kind_of[n] == kind) for kind in kinds}
    expected = {}
    for kind in kinds:
        net = _meta_network(cfg, first[kind], source)
        expected[kind] = None if net is None else net.state_dict()
    tensors = {f"models.{k}": ckpt["models"][k] for k in names}
    tensors.update({f"ema.{k}": v for k, v in (ckpt.get("ema") or {}).items() if k in ("G", "F") and k in names})
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
                source, f"tensor '{where}.{key}' has shape {tuple(state[key].shape)} where the stored config "
                f"({config}) needs {tuple(t.shape)}: the config does not match the weights",
            )  # fmt: skip
    extra = next((k for k in state if k not in expected), None)
    if extra is not None:
        raise _fail(source, f"'{where}' holds a tensor '{extra}' that the stored config ({config}) does not have")


def _check_training_state(ckpt: dict, cfg: Config, source: str) -> None:
    for key, entries in FAMILY_TRAINING_STATE[cfg.model.family].items():
        value = ckpt.get(key)
        if not isinstance(value, Mapping):
            raise _fail(source, f"'{key}' is {'missing' if value is None else 'a ' + type(value).__name__}, "
                                "which a resumed run needs")  # fmt: skip
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
        for name in ("G", "F") if cfg.model.family == "cyclegan" else ("G",):
            if not isinstance(ema, Mapping) or name not in ema:
                raise _fail(source, f"its config averages the generators (ema_decay) but it has no 'ema.{name}'")


# --- loading -----------------------------------------------------------------------------------------------


def load_checkpoint(path: str | Path, *, training: bool = False) -> dict[str, Any]:
    """A full training checkpoint written by `cyclegan train`, checked to be one (`check_checkpoint`;
    `training`: with everything a resumed run restores)."""
    path = checkpoint_path(path)
    ckpt = _load_weights_only(path)
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


def directions_of(cfg: Config) -> tuple[str, ...]:
    """The directions a checkpoint of `cfg` translates: both for CycleGAN, the trained one otherwise."""
    return tuple(GENERATOR_FOR) if cfg.model.family == "cyclegan" else (cfg.model.direction,)


def generator_for(cfg: Config, direction: str, *, source: str) -> str:
    """The network of a `cfg` checkpoint that translates `direction`; one line if it has none."""
    if cfg.model.family == "cyclegan":
        return GENERATOR_FOR[direction]
    trained = cfg.model.direction
    if direction != trained:
        a, b = trained[0], trained[-1]
        raise CycleGANError(f"{source}: this {cfg.model.family} model translates {a} to {b} only; use --direction "
                            f"{trained}")  # fmt: skip
    return "G"


def load_generator(
    path: str | Path, direction: Direction = "AtoB", *, device: str | torch.device = "cpu", ema: EMAChoice = "auto"
) -> nn.Module:
    """The generator for `direction` from a run folder or checkpoint file, in eval mode on `device`.

    ema: "auto" takes the average of the generator's weights when the run kept one (`--ema-decay`), else
    the raw weights; "on" requires the average; "off" takes the raw weights of the last step.

    A CycleGAN run holds both directions (AtoB: G, BtoA: F); pix2pix, CUT and FastCUT hold one generator, for
    the direction they were trained in: the other is refused in one line.

    Also reads a plain generator state dict saved by the reference implementation (ResNet or U-Net,
    architecture inferred from the tensors; one generator, used whatever `direction` says) or by the CUT
    code (its anti-aliased ResNet).

    The module maps (B, 3, H, W) in [-1, 1] to the same shape in [-1, 1]; H and W must be multiples of
    its `size_multiple` attribute (`cyclegan.translate` pads and crops for you).
    """
    from .config import config_from_dict
    from .models import build_generator

    if direction not in GENERATOR_FOR:
        raise CycleGANError(f"direction must be AtoB or BtoA, got {direction!r}")
    ckpt = load_file(path)  # a cyclegan checkpoint is checked there, tensors' shapes included
    if isinstance(ckpt, dict) and ckpt.get("format") == FORMAT:
        source = str(checkpoint_path(path))
        cfg = config_from_dict(ckpt["config"], source=source)
        net = build_generator(cfg.model)
        name = generator_for(cfg, direction, source=source)
        averaged = ckpt.get("ema") or {}
        if ema == "on" and name not in averaged:
            raise CycleGANError(f"{source} holds no averaged weights (train with --ema-decay); use --ema off or auto")
        if ema != "off" and name in averaged:
            load_state(net, averaged[name], where=f"ema.{name}", source=source)
        else:
            load_state(net, ckpt["models"][name], where=f"models.{name}", source=source)
    else:  # a generator saved by the reference implementation (or in its layout): see cyclegan.interop
        from .interop.foreign import load_foreign_generator

        net = load_foreign_generator(ckpt, direction, source=str(checkpoint_path(path)))
    return net.to(device).eval().requires_grad_(False)
