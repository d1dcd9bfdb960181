"""The options of `cyclegan export`, torch-free so that its `--help` starts at once: which generator, which
file and format. `cyclegan.export` does the export.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .errors import CycleGANError
from .files import check_names_a_file, overwrite_option
from .options import Options, opt
from .shared_options import checkpoint_option, direction_option, ema_option, progress_option

ExportFormat = Literal["onnx", "torchscript"]
FORMATS: tuple[ExportFormat, ...] = ("onnx", "torchscript")
SUFFIXES: dict[str, ExportFormat] = {
    ".onnx": "onnx",
    ".pt": "torchscript",
    ".ts": "torchscript",
    ".torchscript": "torchscript",
}
OPSET = 17
MIN_OPSET = 11  # the generators' padding to any size: ONNX Pad with amounts computed in the graph


def format_for(path: str | Path, fmt: str | None) -> ExportFormat:
    """The export format: `fmt` if given, else from the file suffix (.onnx; .pt, .ts, .torchscript)."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise CycleGANError(f"option '--format': expected onnx or torchscript, got {fmt!r}")
        implied = SUFFIXES.get(Path(path).suffix.lower())
        if implied is not None and implied != fmt:  # a TorchScript file named .onnx would fail its reader
            raise CycleGANError(
                f"option '--format': {fmt} does not match --out {path}, whose suffix means {implied}; "
                "rename the file or drop --format"
            )
        return fmt  # type: ignore[return-value]
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        # "cannot tell the format from 'no suffix'" quoted the words as if they were the file's suffix
        said = f"its suffix {suffix!r}" if suffix else "a name without a suffix"
        raise CycleGANError(
            f"option '--out' {path}: cannot tell the format from {said}; "
            "give --format onnx|torchscript or name the file .onnx or .pt"
        )
    return SUFFIXES[suffix]


@dataclass(frozen=True)
class ExportOptions(Options):
    """`cyclegan export`: one generator of a checkpoint as an ONNX or TorchScript file."""

    checkpoint: str = checkpoint_option()
    out: str = opt(
        help="the file to write (.onnx; .pt, .ts or .torchscript)",
        metavar="FILE",
        nonempty="the file to write (.onnx; .pt, .ts or .torchscript)",
        writes=True,
    )
    direction: Literal["AtoB", "BtoA"] | None = direction_option(None)
    ema: Literal["auto", "on", "off"] = ema_option()
    format: ExportFormat | None = opt(None, "onnx or torchscript", default_text="from the --out suffix")
    opset: int | None = opt(  # None: not given, so that a TorchScript --out refuses any --opset, 17 too
        None,
        "ONNX opset version (11+: the generators' reflection padding needs it); ONNX files only",
        ge=MIN_OPSET,
        default_text=str(OPSET),
    )
    check: bool = opt(True, "run the exported file against PyTorch at two sizes (--no-check: skip)")
    overwrite: bool = overwrite_option()
    progress: bool = progress_option()  # a `pretrained:NAME` checkpoint's download: a Python caller's progress=False

    def __post_init__(self) -> None:
        super().__post_init__()
        # `--out models/ --format onnx` wrote a file named models
        check_names_a_file(self.out, option="--out", example="g.onnx", suffixes=tuple(SUFFIXES))
        fmt = format_for(self.out, self.format)  # a name whose suffix tells no format is refused here, up front
        if fmt == "torchscript" and self.opset is not None:  # TorchScript has no opset: it was ignored without a word
            raise CycleGANError(f"option '--opset' is for ONNX files, not TorchScript ({self.out}); drop it")
