"""Loading .pt/.pth files without running code: `torch.load(..., weights_only=True)`, and, when torch refuses a
file, what in its pickle would have run (read from the opcodes, never executed), so the refusal can say so.

A checkpoint is a dict of tensors and plain Python values only; a file crafted to run code when unpickled
(a `__reduce__` that calls `os.system`, say) is refused with one line naming the call. A file in torch's zip
format is also sized from its zip directory before torch reads a byte of it (`check_zip_sizes`): torch
stores tensors uncompressed, so a file that would expand far beyond its own size (a zip bomb) is refused
without inflating anything.
"""

from __future__ import annotations

import errno
import io
import pickle
import pickletools
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .errors import CycleGANError
from .run_files import exported_kind


@dataclass(frozen=True)
class ZipBounds:
    """What a checkpoint in torch's zip format may expand to, read from its zip directory before loading.

    torch.save stores every entry uncompressed, so a checkpoint's entries add up to less than its file.
    `expansion`: the entries together at most this many times the file's size (room for a file someone
    re-zipped with compression), or `floor_bytes` for a small file; `pickle_bytes`: the `data.pkl` entry
    (names, shapes and plain values, read whole into memory by torch) at most this (a real one is tens of
    KB).
    """

    expansion: float = 10.0
    floor_bytes: int = 16 << 20
    pickle_bytes: int = 8 << 20


def load_weights_only(path: str | Path, *, bounds: ZipBounds = ZipBounds(), what: str = "checkpoint") -> Any:
    """The object saved in `path`, loaded with weights_only=True on the CPU (memory-mapped when the file is in
    torch's zip format, after `check_zip_sizes` with `bounds`). A file that holds code, expands beyond
    `bounds`, is damaged or cannot be read: a one-line CycleGANError calling the file `what`."""
    path = Path(path)
    try:
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": noise next to our one-line errors
            warnings.simplefilter("ignore", UserWarning)
            mmap = zipfile.is_zipfile(path)  # mmap needs the zip format (torch >= 1.6 files)
            if mmap:
                check_zip_sizes(path, bounds)
            if _utf8(path):
                return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
            with open(path, "rb") as f:  # torch's reader takes UTF-8 names only: read, not mapped, through Python
                return torch.load(f, map_location="cpu", weights_only=True)
    except CycleGANError:
        raise
    except pickle.UnpicklingError:
        call = code_in_pickle(path)
        if call is not None and what == "checkpoint" and holds_module(path):  # torch.save(G): no way out was said
            raise CycleGANError(
                f"refusing to load {path}: it holds a whole network ({call}) saved by torch.save(net), which could "
                "run code when loaded; save a generator load_generator gave with cyclegan.save_generator(net, path), "
                "another network with torch.save(net.state_dict(), path)"
            ) from None
        if call is not None:
            raise CycleGANError(
                f"refusing to load {path}: it holds objects other than tensors and plain data, which could run "
                f"code when loaded (it would call {call}); only load {what}s you trust the origin of"
            ) from None
        raise _unreadable(path, what) from None
    except OSError as e:  # the file system's error (permission, I/O), or a zip torch cannot read
        if e.strerror and e.errno != errno.EINVAL:  # torch's zip reader says EINVAL of a truncated file
            raise CycleGANError(f"cannot read {what} {path}: {e.strerror}") from None
        raise _unreadable(path, what) from None
    except Exception:  # noqa: BLE001 - damaged bytes make torch's reader fail in any way (KeyError, IndexError...)
        raise _unreadable(path, what) from None


def first_non_finite(state: object, prefix: str = "") -> str | None:
    """The name (dotted through nested dicts) of the first floating-point tensor in `state` holding NaN or an
    infinity, or None. Training never saves one, so a generator's weights with one are a damaged file or a
    diverged run: every output would be NaN (black images)."""
    if isinstance(state, torch.Tensor):
        return prefix.rstrip(".") if state.is_floating_point() and not state.isfinite().all() else None
    if isinstance(state, dict):
        for key, value in state.items():
            if (bad := first_non_finite(value, f"{prefix}{key}.")) is not None:
                return bad
    return None


def _utf8(path: Path) -> bool:
    """Whether `path` is UTF-8 text (a name of other bytes holds surrogates: Python's `surrogateescape`)."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_zip_sizes(path: str | Path, bounds: ZipBounds = ZipBounds()) -> None:
    """Refuse, from the zip's central directory alone (nothing is decompressed), a checkpoint whose entries
    expand beyond `bounds`: one line naming the file, the sizes and the bound. torch allocates each entry
    at the size this directory declares, so a directory that lies makes torch's read fail, not grow."""
    path = Path(path)
    size = path.stat().st_size
    try:
        with zipfile.ZipFile(path) as zf:
            members = zf.infolist()
    except (zipfile.BadZipFile, EOFError, ValueError):
        raise _unreadable(path) from None
    limit = max(int(bounds.expansion * size), bounds.floor_bytes)
    total = sum(i.file_size for i in members)
    if total > limit:
        raise CycleGANError(
            f"refusing to load {path}: its entries expand to {total} bytes, more than {limit} ({bounds.expansion:g} "
            f"times its {size} bytes; torch stores tensors uncompressed): a zip bomb? nothing was decompressed"
        )
    for info in members:
        if info.filename.endswith("data.pkl") and info.file_size > bounds.pickle_bytes:
            raise CycleGANError(
                f"refusing to load {path}: its '{info.filename}' expands to {info.file_size} bytes, more than the "
                f"{bounds.pickle_bytes} a checkpoint's pickle may have (a real one is a few KB per network): a zip "
                "bomb? nothing was decompressed"
            )


def _unreadable(path: Path, what: str = "checkpoint") -> CycleGANError:
    kind = exported_kind(path)
    if kind:  # `cyclegan export`'s output given back as a checkpoint: say what it is, not "damaged"
        if what != "checkpoint":  # the caller says what to give instead (a VGG19 or Inception weights file)
            return CycleGANError(f"cannot read {what} {path}: it is an exported model ({kind}), not a {what}")
        return CycleGANError(
            f"cannot read {what} {path}: it is an exported model ({kind}, as `cyclegan export` writes), which "
            "evaluate, translate and the other commands do not read; give the training run's folder or its "
            "checkpoint.pt"
        )
    if image := _image_kind(path):  # `--checkpoint photo.jpg`: it was "an incomplete one (is the file complete?)"
        return CycleGANError(
            f"cannot read {what} {path}: it is {image} image, not a {what}; give the training run's folder, its "
            "checkpoint.pt or a generator file"
            if what == "checkpoint"
            else f"cannot read {what} {path}: it is {image} image, not a {what}"
        )
    return CycleGANError(
        f"cannot read {what} {path}: not a file saved by torch.save, or an incomplete one (is the file complete?)"
    )


# An image's first bytes -> its format as messages name it (with its article)
IMAGE_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "a PNG"),
    (b"\xff\xd8\xff", "a JPEG"),
    (b"GIF8", "a GIF"),
    (b"BM", "a BMP"),
    (b"II*\x00", "a TIFF"),
    (b"MM\x00*", "a TIFF"),
)


def _image_kind(path: Path) -> str | None:
    """'a PNG', 'a JPEG', ... where `path`'s first bytes say it is that image (a WebP: RIFF....WEBP), else None."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError:
        return None
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "a WebP"
    return next((kind for magic, kind in IMAGE_SIGNATURES if head.startswith(magic)), None)


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
    data = _pickle_bytes(Path(path))
    return None if data is None else _first_unsafe_call(data, _allowed_globals())


def holds_module(path: str | Path) -> bool:
    """Whether the pickle in `path` holds a whole `torch.nn.Module` (`torch.save(net)`, not its state dict): a
    module's attributes `_parameters` and `_modules` among its strings, read from the opcodes, never run."""
    data = _pickle_bytes(Path(path)) or b""
    stream, strings = io.BytesIO(data), set()
    try:
        while stream.tell() < len(data):  # the legacy format is several pickles in a row
            start = stream.tell()
            strings |= {arg for _, arg, _ in pickletools.genops(stream) if isinstance(arg, str)}
            if stream.tell() == start:
                break
    except (ValueError, EOFError, UnicodeDecodeError, KeyError, IndexError, TypeError):
        pass  # not (or no longer) a pickle: the strings read before
    return {"_parameters", "_modules"} <= strings


def _pickle_bytes(path: Path) -> bytes | None:
    """The pickle of `path` (a torch zip file's `data.pkl`), up to `_SCAN_LIMIT` bytes; None where unreadable."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                info = next((i for i in zf.infolist() if i.filename.endswith("data.pkl")), None)
                if info is None or info.file_size > _SCAN_LIMIT:
                    return None
                return zf.read(info)
        with path.open("rb") as f:
            return f.read(_SCAN_LIMIT)
    except (OSError, zipfile.BadZipFile, EOFError, ValueError):
        return None


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
