"""How the networks compute: numeric precision, memory format and compilation, chosen per device.

`choose_execution` turns the user's `--precision/--channels-last/--compile` (each possibly `auto`) into an
`Execution` for one device. The `auto` choices come from measurements (docs/results.md, "Speed"):

- CPU with native bf16 (AVX512-BF16 or AMX): bf16 autocast (about 1.7x on the paper model's convolutions),
  NCHW (channels-last was 7% slower per step: reflection padding and InstanceNorm convert layouts);
  translation of 64+ images compiled when a C++ compiler is present; training eager, a CycleGAN's with the
  fused layer forms in two lanes (below): against those a compiled step was 0.66-0.77x as fast for the `fast`
  model at 64-128 px and 1.03-1.04x for `paper` at 256 px and CUT, after 100 s of compiling (docs/results.md,
  "Compiled training on the CPU").
- CPU without native bf16: fp32 (bf16 is emulated there and slower), and for a CycleGAN's training the fused
  layer forms (`models.fused`) and the two lanes (`train.lanes`).
- CUDA: bf16 autocast on GPUs with bf16 in hardware (compute capability 8.0+), else fp32, except for a
  U-Net generator's model (pix2pix), small enough to be bound by kernel launches, where autocast's casts made
  it slower (H200: 0.84-0.89x training, 0.76-1.01x translation) and `auto` keeps fp32; translation autocasts
  only large batches (below). NCHW and eager: channels-last gained nothing there (bf16 1.42x the reference, NCHW
  1.47x in another run) and compile stays opt-in (about 1.16x the `paper` step, after 71-87 s of compiling;
  docs/results.md). Training autotunes cuDNN's convolutions (`cudnn_benchmark`: fixed shapes; unmeasured).
- MPS: fp32, NCHW, eager.

On Linux with glibc, `cyclegan translate` keeps freed memory for reuse (`process.keep_freed_memory`) instead of
handing it back to the OS after each large tensor and faulting it in again (1.05-1.16x at 256-512 px on the CPU).

Whatever the precision, losses are computed in fp32 (`cyclegan.losses`), the generators' tanh output is
fp32 (`models.layers.FloatTanh`), and normalisation layers accumulate their statistics in fp32 (PyTorch's
kernels do so for bf16/fp16 inputs). fp16 trains with a gradient scaler.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import shutil
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from . import process
from .errors import CycleGANError, counted

Precision = Literal["fp32", "bf16", "fp16"]
_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class Execution:
    """Resolved execution settings for one device."""

    precision: Precision = "fp32"
    channels_last: bool = False
    compile: bool = False
    # Call each generator once on [x; y] for G(x) and the identity G(y) (and likewise F) instead of twice:
    # the same numbers for per-sample normalisation (InstanceNorm, none); never used with BatchNorm.
    batch_generator_calls: bool = False
    # Score a discriminator's real and fake batches in one call on [real; fake] instead of two (as BigGAN does):
    # one set of small convolutions at twice the batch: the demo's step 1.05x on the AVX2 class, 1.04x with native
    # bf16 (docs/results.md, "The discriminators' real and fake batches in one call"). The same numbers for
    # per-sample normalisation, except spectral normalisation's power iteration, which then runs once per update
    # instead of twice; never with BatchNorm (the trainer checks the network itself: `train.trainer.RealFake`).
    # A compiled discriminator traces a second input shape (the doubled batch) once.
    batch_discriminator_calls: bool = False
    # CPU fp32 without native bf16 (AVX2): CycleGAN's networks' layers in faster forms with the same numbers and
    # state_dict (`models.fused`, wide 3x3 convs by Winograd), and CycleGAN's two generator chains and two
    # discriminator updates on two threads of one core each (`train.lanes`): at demo size one thread per chain
    # uses the cores better than two threads per convolution. Training only.
    fused_layers: bool = False
    parallel_chains: bool = False
    # bf16/fp16 autocast only for forward passes over at least this many pixels (batch x height x width); 0:
    # always. `auto` on a CUDA GPU sets it for translation: smaller work is bound by kernel launches there, and
    # autocast's cast kernels made it slower than fp32 (one H200: 0.76-0.86x at 32k-65k px, 1.28-1.40x at 512k+).
    autocast_min_pixels: int = 0
    # cuDNN's autotuner (`torch.backends.cudnn.benchmark`) while training on a CUDA GPU: its shapes are fixed, so
    # each convolution's fastest algorithm is timed once (and once more at a new shape: --half-size-fraction's
    # switch) instead of taken from heuristics; never for translation, where each new image size would tune anew.
    cudnn_benchmark: bool = False

    @property
    def dtype(self) -> torch.dtype:
        return _DTYPES[self.precision]

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def autocast(self, device: torch.device, *, pixels: int | None = None) -> contextlib.AbstractContextManager:
        """The autocast region for forward passes (a no-op for fp32, and for work of fewer than
        `autocast_min_pixels` pixels when `pixels`, batch x height x width, is given)."""
        if self.precision == "fp32" or (pixels is not None and pixels < self.autocast_min_pixels):
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=self.dtype)

    @contextlib.contextmanager
    def backends(self):
        """The backends' process-wide settings of this execution (`cudnn_benchmark`) while the work runs, as they
        were after it: a notebook's translation of other sizes after `train()` would otherwise tune each size."""
        if not self.cudnn_benchmark:
            yield
            return
        before = torch.backends.cudnn.benchmark
        torch.backends.cudnn.benchmark = True
        try:
            yield
        finally:
            torch.backends.cudnn.benchmark = before

    def compiled(self, module: nn.Module, *, dynamic: bool | None = False) -> nn.Module:
        """`module` itself, or a compiled wrapper sharing its parameters. `dynamic=False`: one graph per
        input shape (training: fixed shapes); None: a shape-generic graph once a second shape is seen."""
        if not self.compile:
            return module
        # torch's C++ build helper warns "No CUDA runtime is found" on every CPU-only compile: not our concern
        logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
        return torch.compile(module, dynamic=dynamic)

    def describe(self) -> str:
        return describe_settings(self.settings())

    def settings(self) -> dict:
        """These settings as a record holds them (`record`): what `describe_settings` words."""
        return {
            "precision": self.precision,
            "memory_format": "channels_last" if self.channels_last else "nchw",
            "compile": self.compile,
            "batch_generator_calls": self.batch_generator_calls,
            "batch_discriminator_calls": self.batch_discriminator_calls,
            "fused_layers": self.fused_layers,
            "parallel_chains": self.parallel_chains,
            "autocast_min_pixels": self.autocast_min_pixels,
            "cudnn_benchmark": self.cudnn_benchmark,
        }

    def record(self, device: torch.device, *, seconds_per_step: float | None = None) -> dict:
        """What a report or bench JSON says about how it computed: these settings, the CPU's instruction set,
        whether it has native bf16, whether its fp32 convolutions are TF32 (a GPU's), the threads, and the measured
        seconds per training step (if any)."""
        return self.settings() | {
            "device": str(device),
            "instruction_set": torch.backends.cpu.get_cpu_capability(),
            "bf16_native": has_native_bf16(device),
            "tf32_convolutions": tf32_convolutions(device),
            "threads": torch.get_num_threads(),
            "freed_memory_kept": process.freed_memory_kept(),
            "s_per_step": None if seconds_per_step is None else round(seconds_per_step, 4),
        }


def describe_settings(record: dict) -> str:
    """How a run computes, in the one wording of training's first line ("computing in bf16, NCHW, eager, ...")
    and of the report's ("computed: ..."), from `Execution.settings` or a record (one written before a setting
    was recorded lacks it: off)."""
    precision = record["precision"]
    if record.get("autocast_min_pixels") and precision != "fp32":
        precision += f" (fp32 below {record['autocast_min_pixels'] / 2**20:g} Mpx per batch)"
    layout = "channels-last" if record["memory_format"] == "channels_last" else "NCHW"
    how = f"{precision}, {layout}, {'compiled' if record['compile'] else 'eager'}"
    how += ", fused layers" * bool(record.get("fused_layers")) + ", two lanes" * bool(record.get("parallel_chains"))
    return how + ", cuDNN autotuned" * bool(record.get("cudnn_benchmark"))


REFERENCE = Execution()  # the reference implementation's computation: fp32, NCHW, eager, one call per output


COMPUTE_DEVICES = ("cpu", "cuda", "mps")


def resolve_device(name: str) -> torch.device:
    """auto: CUDA if present, else MPS, else CPU; an unavailable explicit device, or a device type other than
    cpu, cuda and mps (e.g. meta), is a one-line error. Nothing is written before this check."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError, ValueError):
        raise CycleGANError(f"option 'device': unknown device {name!r} (use auto, cpu, cuda, cuda:N or mps)") from None
    if device.type not in COMPUTE_DEVICES:  # e.g. meta (shapes only, no data) or a backend we never tested
        raise CycleGANError(
            f"option 'device': {name!r} is not a device this program computes on (use auto, cpu, cuda, cuda:N or mps)"
        )
    if device.type == "cuda" and not torch.cuda.is_available():
        raise CycleGANError("option 'device': CUDA was asked for but this PyTorch sees no CUDA GPU")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise CycleGANError(
            f"option 'device': {name} does not exist: this machine has "
            f"{counted(torch.cuda.device_count(), 'CUDA GPU')}, cuda:0 to cuda:{torch.cuda.device_count() - 1}"
        )
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise CycleGANError("option 'device': MPS was asked for but is not available here")
    return device


def synchronize(device: torch.device) -> None:
    """Wait for the work queued on `device` (CUDA, MPS; nothing on the CPU): a GPU's kernels run after their launch
    returns, so a clock read without this times launches, not steps."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


# `--compile auto` compiles translation of enough images to repay the compilation (5-10 s); never training
# (see the module's docstring: the eager forms and lanes are as fast or faster).
COMPILE_AUTO_MIN_IMAGES = 64


def compile_pays_for_translation(n_images: int) -> bool:
    return n_images >= COMPILE_AUTO_MIN_IMAGES


def cpu_has_native_bf16() -> bool:
    """True where oneDNN runs bf16 convolutions natively (AVX512-BF16, AMX), i.e. faster than fp32."""
    try:
        return torch.backends.mkldnn.is_available() and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def cpu_compiler() -> str | None:
    """The C++ compiler torch.compile's CPU backend would use, or None."""
    for name in (os.environ.get("CXX"), "g++", "c++", "clang++"):
        if name and shutil.which(name):
            return name
    return None


def has_triton() -> bool:
    """Whether torch.compile's GPU backend (Triton) is installed."""
    return importlib.util.find_spec("triton") is not None


def _on_off(name: str, value: str) -> bool | None:
    if value not in ("auto", "on", "off"):
        raise CycleGANError(f"option '{name}' must be auto, on or off, got {value!r}")
    return None if value == "auto" else value == "on"


def cuda_has_native_bf16(device: torch.device) -> bool:
    """bf16 in hardware (Ampere, compute capability 8.0, and later); older GPUs only emulate it, slowly."""
    return torch.cuda.get_device_capability(device)[0] >= 8


def has_native_bf16(device: torch.device) -> bool:
    """Whether `device` computes bf16 in hardware (MPS: not used here, so False)."""
    if device.type == "cpu":
        return cpu_has_native_bf16()
    return device.type == "cuda" and cuda_has_native_bf16(device)


def tf32_convolutions(device: torch.device) -> bool:
    """Whether fp32 convolutions on `device` compute in TF32 (fp32's range, a 10-bit mantissa): cuDNN's default
    (`torch.backends.cudnn.allow_tf32`) on GPUs of compute capability 8.0+, the same as native bf16's. A GPU's
    "fp32" figures were TF32 convolutions there without a word in their record."""
    return device.type == "cuda" and cuda_has_native_bf16(device) and torch.backends.cudnn.allow_tf32


# The smallest translation batch (pixels) measured to gain from bf16 on a GPU: 8 x 256 x 256 (H200: 1.40x);
# one 256 x 256 image was 0.85x and two of 128 x 128 0.77x (docs/results.md, "On a GPU").
TRANSLATION_AUTOCAST_MIN_PIXELS = 8 * 256 * 256


def choose_execution(
    precision: str = "auto",
    channels_last: str = "auto",
    compile: str = "auto",
    *,
    device: torch.device,
    compile_pays: bool = True,
    batch_norm: bool = False,
    translation: bool = False,
    unet: bool = False,
    fixed_shapes: bool = False,
) -> Execution:
    """Resolve the three options for `device`; an impossible explicit choice is a one-line error.

    `compile_pays`: whether the work ahead is long enough for `auto` to compile (a training run or a large
    folder, not one image). `batch_norm`: the model has BatchNorm layers (no batched generator calls).
    `translation`: forward passes only (`translate`), where `auto` on a CUDA GPU autocasts only batches of
    `TRANSLATION_AUTOCAST_MIN_PIXELS` or more, and no layer forms or lanes (training's). `unet`: the generator is
    a U-Net (pix2pix), which `auto` computes in fp32 on a CUDA GPU. `fixed_shapes`: every input of the work has
    one shape (training), for which a CUDA GPU's convolutions are autotuned by cuDNN (`Execution.cudnn_benchmark`).
    """
    kind = device.type
    small_fp32 = 0
    if precision == "auto" and kind == "cuda" and translation:
        small_fp32 = TRANSLATION_AUTOCAST_MIN_PIXELS
    if precision == "auto":
        if kind == "cuda":
            precision = "bf16" if cuda_has_native_bf16(device) and not unet else "fp32"
        elif kind == "cpu":
            precision = "bf16" if cpu_has_native_bf16() else "fp32"
        else:
            precision = "fp32"
    if precision not in _DTYPES:
        raise CycleGANError(f"option 'precision' must be auto, fp32, bf16 or fp16, got {precision!r}")
    if precision == "fp16" and kind != "cuda":
        raise CycleGANError(f"option 'precision': fp16 needs a CUDA GPU (on {kind}, use bf16 or fp32)")
    if precision == "bf16" and kind == "cuda" and not cuda_has_native_bf16(device):
        raise CycleGANError(
            "option 'precision': this GPU has no native bf16 (it needs compute capability 8.0+, "
            "e.g. A100, RTX 30xx); use fp16 or fp32"
        )
    if precision == "bf16" and kind == "mps":
        raise CycleGANError("option 'precision': bf16 autocast is not supported on MPS here; use fp32")

    cl = _on_off("channels_last", channels_last)
    if cl is None:
        cl = False  # slower on the CPU (measured); on CUDA InstanceNorm converts layouts (unmeasured there)

    comp = _on_off("compile", compile)
    if comp and kind == "cpu" and cpu_compiler() is None:
        raise CycleGANError(
            "option 'compile': torch.compile on CPU needs a C++ compiler (g++ not found); "
            "install one or use --compile off"
        )
    if comp and kind == "cuda" and not has_triton():
        raise CycleGANError(
            "option 'compile': torch.compile on CUDA needs Triton (pip install triton); or use --compile off"
        )
    if comp and kind == "mps":
        raise CycleGANError("option 'compile': not supported on MPS; use --compile off")
    if comp is None:
        comp = kind == "cpu" and compile_pays and precision == "bf16" and cpu_compiler() is not None
    # The layer forms and two lanes where they were measured to pay (docs/results.md, "fp32 on AVX2 CPUs"):
    # fp32 on a CPU without native bf16 (the AVX2 class) and bf16 on one with it (1.3x the demo's step);
    # eager only (a compiled graph has its own fusions), two or more threads for two chains. Training's only:
    # translation builds plain layers and runs one generator, so its settings must not claim them.
    native = kind == "cpu" and cpu_has_native_bf16()
    forms = (
        kind == "cpu"
        and not translation
        and not comp
        and not cl
        and ((precision == "fp32" and not native) or (precision == "bf16" and native))
    )
    return Execution(
        precision=precision,  # type: ignore[arg-type]
        channels_last=cl,
        compile=comp,
        batch_generator_calls=not batch_norm,
        batch_discriminator_calls=not batch_norm,
        fused_layers=forms,
        parallel_chains=forms and torch.get_num_threads() >= 2,
        autocast_min_pixels=small_fp32 if precision != "fp32" else 0,
        cudnn_benchmark=kind == "cuda" and fixed_shapes,
    )


def total_memory(device: torch.device) -> int | None:
    """The memory `device` has in all (a GPU's, or this machine's RAM for the CPU), or None where unknown: work
    whose estimated need exceeds it cannot fit whatever else runs, so refusing it is never wrong (`bench`
    refuses sizes by it; `available_memory` is what is free now, for work that must fit at once)."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[1]
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") if device.type == "cpu" else None
    except (ValueError, OSError):  # a platform without these names
        return None


def available_memory(device: torch.device) -> int | None:
    """Bytes a new allocation on `device` can take now: the GPU's free memory, or on the CPU the kernel's
    MemAvailable within the process's cgroup limit (a container's, tighter than the machine's); None where it
    cannot be told (MPS, a system without /proc). On a GPU what PyTorch's allocator holds cached but unused counts
    as free: the driver counts it as used, so the second of two equal jobs in one process (compare's next image,
    the web page's next request) was told the first's memory was taken."""
    if device.type == "cuda":
        cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        return torch.cuda.mem_get_info(device)[0] + max(0, cached)
    if device.type != "cpu":
        return None
    try:
        with open("/proc/meminfo") as f:
            free = next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError, IndexError):
        return None
    try:  # cgroup v2: "max" when unlimited
        with open("/sys/fs/cgroup/memory.max") as f, open("/sys/fs/cgroup/memory.current") as g:
            limit, used = f.read().strip(), int(g.read())
        if limit != "max":
            free = min(free, max(0, int(limit) - used))
    except (OSError, ValueError):
        pass
    return free
