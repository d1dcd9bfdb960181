"""Export a generator to ONNX or TorchScript, runnable without this package.

The exported graph takes (B, 3, H, W) float32 in [-1, 1] with any batch, height and width (it pads to
the multiple the network needs and crops back, as `cyclegan.translate` does) and returns the same shape
in [-1, 1]. Convert to 8 bits as `round((y + 1) / 2 * 255)`.

ONNX uses torch's TorchScript-based exporter (`torch.onnx.export(..., dynamo=False)`): it works offline
with `onnx` alone, while the newer `dynamo=True` exporter also needs `onnxscript`. Every export is checked
against PyTorch at two sizes other than the traced one before it is reported as written.
"""

from __future__ import annotations

import copy
import functools
import os
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import zoo
from .errors import CycleGANError, install_extra
from .export_options import FORMATS, MIN_OPSET, OPSET, ExportFormat, ExportOptions, format_for
from .files import check_outputs, claim_file, temporary_stem, write_atomic
from .inference import check_output, least_size, pad_for_generator, size_multiple, uncompiled
from .loading import checkpoint_file, load_generator_and_direction, weights_record
from .models.fused import plain_layers

TOLERANCE = 1e-4  # max abs difference from PyTorch accepted for an export, on outputs in [-1, 1]
INPUT, OUTPUT = "input", "output"
Verify = Callable[[str], None]  # checks the written temporary file; raises to keep it from being published
DYNAMIC_AXES = {INPUT: {0: "batch", 2: "height", 3: "width"}, OUTPUT: {0: "batch", 2: "height", 3: "width"}}


class PadToMultiple(nn.Module):
    """Wrap a generator so it accepts any H and W: pad bottom and right exactly as `cyclegan translate` does
    (`inference.pad_for_generator`: to a multiple of `multiple`, at least `least` px, reflect then
    replicate), run, crop back. (B, 3, H, W) in [-1, 1] -> (B, 3, H, W) in [-1, 1].

    The pad amounts are computed from the input's shape, so tracing records them as shape arithmetic and
    the exported graph stays dynamic in H and W.
    """

    def __init__(self, net: nn.Module, multiple: int, least: int | None = None):
        super().__init__()
        self.net = net
        self.multiple = multiple
        self.least = 2 * multiple if least is None else least

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padded, (h, w) = pad_for_generator(x, self.multiple, self.least)
        return self.net(padded)[:, :, :h, :w]


@dataclass(frozen=True)
class ExportResult:
    """What was written and how closely it reproduces PyTorch (max abs difference over `checked_sizes`)."""

    path: Path
    format: ExportFormat
    checked_sizes: tuple[tuple[int, int], ...]
    max_abs_diff: float | None  # None when the check was skipped


def wrap_for_export(net: nn.Module) -> nn.Module:
    """A copy of the generator, wrapped to take any size (see `PadToMultiple`), on the CPU in float32, eval mode.
    A copy: `Module.to` and `requires_grad_` work in place, so the caller's generator (on a GPU, or training)
    was left on the CPU with its gradients off. Layers training made faster (`models.fused`) are plain again in
    the copy: their forms do not trace (pages of torch's graph, then an error naming none of this); so is the module
    under a `torch.compile` wrapper, which torch.jit.trace refuses."""
    net = plain_layers(copy.deepcopy(uncompiled(net))).to("cpu", torch.float32).eval().requires_grad_(False)
    multiple = size_multiple(net)
    return (PadToMultiple(net, multiple, least_size(net)) if multiple > 1 else net).eval()


def _example(multiple: int, size: int, *, batch: int = 1, seed: int = 0) -> torch.Tensor:
    side = max(size, multiple)
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, side, side, generator=g) * 2 - 1  # (B, 3, side, side) in [-1, 1]


def _check_sizes(multiple: int) -> tuple[tuple[int, int], ...]:
    # Two sizes unlike the traced square one: a batch of 2 and sides that are not multiples of 4.
    base = max(multiple, 16)
    return ((base + 3, 2 * base + 1), (2 * base, base + 6))


def _max_opset() -> int | None:
    # The highest opset torch's exporter writes: ONNX_MAX_OPSET (23 in torch 2.14). The TorchScript-based
    # exporter names a lower one (20) in a warning, yet writes up to this one, and each file is checked anyway.
    return getattr(getattr(torch.onnx, "_constants", None), "ONNX_MAX_OPSET", None)


def _opset_refused(opset: int, top: int | None) -> CycleGANError:
    most = f" (at most {top})" if top else ""
    return CycleGANError(
        f"option '--opset': torch {torch.__version__} cannot export opset {opset}{most}; give a lower --opset"
    )


@functools.cache
def _register_missing_symbolics() -> None:
    """ONNX forms the TorchScript-based exporter lacks for ops our generators use: `atanh` (the ResNet's
    `--residual-output`), ONNX's Atanh since opset 9. Without it such a run's export stopped in torch's
    UnsupportedOperatorError, after printing the whole traced graph."""
    torch.onnx.register_custom_op_symbolic("aten::atanh", lambda g, x: g.op("Atanh", x), 9)


def _export_onnx(
    model: nn.Module, example: torch.Tensor, path: Path, *, opset: int, metadata: dict[str, str], verify: Verify
) -> None:
    try:
        import onnx
    except ImportError:
        raise CycleGANError("ONNX export needs the onnx package: " + install_extra("export")) from None

    top = _max_opset()
    if top is not None and opset > top:  # before tracing: torch's own refusal prints the whole traced graph first
        raise _opset_refused(opset, top)

    _register_missing_symbolics()

    def write(tmp: str) -> None:
        with warnings.catch_warnings():
            # The TorchScript-based exporter is deprecated in favour of dynamo=True (which needs onnxscript)
            # and warns about InstanceNorm's train flag, which is how instance norm always runs.
            warnings.simplefilter("ignore")
            try:
                torch.onnx.export(
                    model,
                    (example,),
                    tmp,
                    dynamo=False,
                    opset_version=opset,
                    input_names=[INPUT],
                    output_names=[OUTPUT],
                    dynamic_axes=DYNAMIC_AXES,
                )
            except torch.onnx.errors.UnsupportedOperatorError as e:  # says "opset" too: not one to lower
                raise CycleGANError(
                    f"cannot export to ONNX {path}: {str(e).splitlines()[0]} by torch {torch.__version__}'s exporter; "
                    "--format torchscript writes this generator"
                ) from None
            except RuntimeError as e:
                if "opset" not in str(e).lower() or (top is not None and opset <= top):
                    raise
                raise _opset_refused(opset, top) from None
        proto = onnx.load(tmp)
        for key, value in metadata.items():
            proto.metadata_props.add(key=key, value=value)
        onnx.checker.check_model(proto)
        onnx.save(proto, tmp)
        verify(tmp)

    write_atomic(path, write)


def _export_torchscript(
    model: nn.Module, example: torch.Tensor, path: Path, *, metadata: dict[str, str], verify: Verify
) -> None:
    _register_missing_symbolics()

    def write(tmp: str) -> None:
        with warnings.catch_warnings():
            # TracerWarnings about shape arithmetic (which is what we want recorded), and TorchScript's
            # deprecation in favour of torch.export (whose files need a recent torch to load).
            warnings.simplefilter("ignore")
            traced = torch.jit.trace(model, example, check_trace=False)
            _save_as(traced, tmp, path.name, extra_files={f"{k}.txt": v for k, v in metadata.items()})
        verify(tmp)

    write_atomic(path, write)


def _save_as(module: torch.jit.ScriptModule, tmp: str, name: str, *, extra_files: dict[str, str]) -> None:
    """`torch.jit.save` into `tmp`, its archive named as a file called `name` names it. torch names the zip's top
    folder after the file it writes (the stem; a buffer's is "archive") and has no option for it: saved at `tmp`,
    every entry sat under `.g.pt.k3j2h1x9/`, the atomic write's temporary, in the published g.pt. So it is saved
    under `name` in a private folder beside `tmp` (the same disk) and moved onto `tmp`."""
    with tempfile.TemporaryDirectory(prefix=f".{temporary_stem(name)}.", dir=Path(tmp).parent) as folder:
        named = Path(folder) / name
        torch.jit.save(module, str(named), _extra_files=extra_files)
        os.replace(named, tmp)


def _run_exported(path: Path, fmt: ExportFormat) -> Callable[[torch.Tensor], torch.Tensor] | None:
    if fmt == "torchscript":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = torch.jit.load(str(path), map_location="cpu")
        return lambda x: module(x)
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001 - onnxruntime's own types (Fail, InvalidGraph, ...): an opset it lacks
        why = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise CycleGANError(
            f"onnxruntime {ort.__version__} cannot load the exported file to check it ({why}); give a lower "
            "--opset, update onnxruntime, or --no-check to skip the check"
        ) from None
    return lambda x: torch.from_numpy(session.run(None, {INPUT: np.ascontiguousarray(x.numpy())})[0])


def export_generator(
    net: nn.Module,
    out: str | Path,
    *,
    format: ExportFormat,
    opset: int | None = None,
    metadata: dict[str, str] | None = None,
    check: bool = True,
    option: str = "out",
) -> ExportResult:
    """Write `net` (a generator from `cyclegan.load_generator`) to `out` as ONNX or TorchScript.

    The file is written atomically. With `check`, it is run (onnxruntime for ONNX, when installed) at two
    sizes and compared with PyTorch before it takes the name `out`: the largest absolute difference is
    returned, and one above `TOLERANCE` is a CycleGANError with nothing written (an existing `out` kept).
    `opset`: ONNX's (default `OPSET`); refused for TorchScript, which has none. `metadata`: text stored in the
    file (ONNX `metadata_props`, TorchScript extra files `KEY.txt`) beside the value ranges. `option`: how errors
    name `out` (`--out` for the command line).
    """
    # what ExportOptions checks, for Python callers: an unknown format was written as TorchScript and then run as
    # ONNX ("give a lower --opset"); an opset under 11, torch's pages-long SymbolicValueError
    if format not in FORMATS:
        raise CycleGANError(f"format: expected onnx or torchscript, got {format!r}")
    if format == "torchscript" and opset is not None:  # ignored without a word, as --opset was
        raise CycleGANError(f"opset: is for ONNX files, not TorchScript ({out}); leave it out")
    opset = OPSET if opset is None else opset
    if format == "onnx" and opset < MIN_OPSET:
        raise CycleGANError(f"opset: the generators' reflection padding needs opset {MIN_OPSET} or later, got {opset}")
    # ONNX's metadata_props and TorchScript's extra files hold text: a number was torch's or protobuf's TypeError,
    # after the generator was traced
    for key, value in (metadata or {}).items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise CycleGANError(
                f"metadata: keys and values must be strings, got {key!r}: {value!r}; write {key!r}: {str(value)!r}"
            )
    out = Path(out)
    # a folder, an unwritable place or a name too long: said before the seconds of tracing, as the command says it
    check_outputs([out], overwrite=True, option=option)
    model = wrap_for_export(net)
    multiple = getattr(model, "multiple", 1) if isinstance(model, PadToMultiple) else getattr(net, "multiple", 1)
    example = _example(multiple, 64)
    with torch.no_grad():  # a discriminator was traced and written, then failed in onnxruntime or TorchScript's check
        check_output(net, model(example), example)
    meta = {"input": "float32 (B, 3, H, W) in [-1, 1], RGB", "output": "float32 (B, 3, H, W) in [-1, 1]"}
    meta.update(metadata or {})
    sizes = _check_sizes(multiple)
    diffs: list[float] = []

    def verify(tmp: str) -> None:  # the temporary file, before it takes the name: a failed one never does
        if not check or (run := _run_exported(Path(tmp), format)) is None:
            return
        with torch.no_grad():
            for i, (h, w) in enumerate(sizes):
                x = torch.rand(i + 1, 3, h, w, generator=torch.Generator().manual_seed(i)) * 2 - 1
                diffs.append((run(x) - model(x)).abs().max().item())
        if max(diffs) > TOLERANCE:
            raise CycleGANError(
                f"the exported file differs from PyTorch by {max(diffs):.1e} at "
                f"{', '.join(f'{h}x{w}' for h, w in sizes)}, more than {TOLERANCE}; {out} was not written"
            )

    try:
        with claim_file(out, option):  # the temporary lives while the export is traced and checked: seconds to minutes
            if format == "onnx":
                _export_onnx(model, example, out, opset=opset, metadata=meta, verify=verify)
            else:
                _export_torchscript(model, example, out, metadata=meta, verify=verify)
    except CycleGANError:
        raise
    except OSError as e:
        raise CycleGANError(f"cannot write {out}: {e.strerror}") from None
    return ExportResult(out, format, sizes, max(diffs)) if diffs else ExportResult(out, format, (), None)


def recorded_checkpoint(checkpoint: str, out: str) -> str:
    """The checkpoint's path as an export records it: relative to the exported file's folder, so that it leads
    there from wherever the two are read, and names no folder above them; its name alone where they share none
    below the home folder (`/tmp/g.onnx` of `/home/ann/runs/h2z`: `../home/ann/...` would name the home folder). It
    was the absolute path, a home folder's name in a file handed to others; as typed, it led nowhere elsewhere."""
    # `~` expanded as the loader expands it: "~/g.pt" was taken as a folder named ~ in the working folder
    checkpoint, folder = os.path.abspath(os.path.expanduser(checkpoint)), os.path.dirname(os.path.abspath(out))
    try:
        shared = os.path.commonpath([checkpoint, folder])
        home = os.path.abspath(os.path.expanduser("~"))
        above_home = os.path.commonpath([shared, home]) == shared != home
    except ValueError:  # Windows: on two drives
        return os.path.basename(checkpoint)
    if shared == os.path.dirname(shared) or above_home:  # the root, or /home above ~
        return os.path.basename(checkpoint)
    return os.path.relpath(checkpoint, folder)


def export_checkpoint(opts: ExportOptions) -> ExportResult:
    """Load the generator of `opts` and export it (see `export_generator`). An existing `opts.out` is refused
    before anything is loaded, unless `opts.overwrite`; the checkpoint itself always."""

    check_outputs([opts.out], overwrite=opts.overwrite, inputs=[checkpoint_file(opts.checkpoint)])
    # a published generator translates its own direction whatever --direction says: that one is recorded (BtoA
    # was written beside "AtoB of horse2zebra"); another project's file says neither: "AtoB" was recorded for any
    net, direction = load_generator_and_direction(
        opts.checkpoint, opts.direction, ema=opts.ema, option="--direction", progress=opts.progress
    )
    # where the weights came from, from the exported file's folder; a published generator by its name, as the
    # cached file's place is this machine's
    source = opts.checkpoint if zoo.is_spec(opts.checkpoint) else recorded_checkpoint(opts.checkpoint, opts.out)
    meta = {"direction": direction or "unknown", "checkpoint": source}
    meta |= weights_record(net)  # which weights of which step (none for another project's file)
    if (published := zoo.MODELS.get(zoo.cached_name(checkpoint_file(opts.checkpoint)) or "")) is not None:
        meta["translates"] = f"{published.does} ({published.direction} of {published.dataset})"
    fmt = format_for(opts.out, opts.format)
    return export_generator(
        net, opts.out, format=fmt, opset=opts.opset, metadata=meta, check=opts.check, option="--out"
    )
