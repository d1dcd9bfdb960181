"""How close the demo's step runs to the hardware: oneDNN's own timing of every primitive of a few training
steps (`ONEDNN_VERBOSE`), the convolutions' FLOP rate per core against the rate oneDNN and the BLAS reach on
large problems on one core of this machine (docs/results.md, "where the AVX2 step's time goes").

The steps run in a child process with oneDNN's verbose log on stdout; this process reads it back and sums the
convolutions (forward, backward data, backward weights; transposed ones too) by their problem sizes, and the
layout reorders apart. With the two lanes each convolution runs on one core, so the rate is per core.

Run (AVX2 held on a newer CPU, as a laptop without AVX-512 computes; MKL held too, for the matrix product):
  MKL_ENABLE_INSTRUCTIONS=AVX2 ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 python benchmarks/conv_pace.py
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections import defaultdict

import torch
from winograd import _median_ms  # the same timing as the other layer measurements (run from benchmarks/)

_SHAPE = re.compile(r"mb(\d+)_ic(\d+)oc(\d+)_ih(\d+)oh(\d+)kh(\d+)sh\d+dh\d+ph\d+_iw(\d+)ow(\d+)kw(\d+)")


def _steps(n_blocks: int | None, steps: int) -> None:
    """The child: the demo's options (`fast`, 64 px, batch 2, --d-layers 2 --pool-size 0), the default
    execution here, a few warm-up steps, then `steps` steps with oneDNN's verbose log on."""
    from cyclegan.bench import trainer_and_inputs
    from cyclegan.config import resolve
    from cyclegan.execution import choose_execution

    overrides = {"size": 64, "batch_size": 2, "d_layers": 2, "pool_size": 0}
    cfg = resolve(overrides | ({"n_blocks": n_blocks} if n_blocks else {}), preset="fast")
    ex = choose_execution(device=torch.device("cpu"))
    trainer, x, y = trainer_and_inputs(cfg, ex, torch.device("cpu"), total_steps=steps + 10)
    for _ in range(4):
        trainer.step(x, y)
    print(f"execution: {ex.describe()}", flush=True)
    with torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON):
        t0 = time.perf_counter()
        for _ in range(steps):
            trainer.step(x, y)
        print(f"wall: {(time.perf_counter() - t0) / steps}", flush=True)


def _flops(kind: str, shape: str) -> float:
    """Multiply-adds x 2 of one convolution call (the same for its forward and either backward)."""
    mb, ic, oc, ih, oh, kh, iw, ow, kw = map(int, _SHAPE.match(shape).groups())
    out_pixels = ih * iw if kind == "deconvolution" else oh * ow  # a transposed conv's "input" is its output
    return 2.0 * mb * ic * oc * out_pixels * kh * kw


def parse(log: str, steps: int) -> dict:
    """Per step: the convolutions' GFLOP and kernel ms, the reorders' ms, and the slowest problem sizes."""
    conv_flop, conv_ms, reorder_ms = 0.0, 0.0, 0.0
    by_shape: dict[tuple, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for line in log.splitlines():
        f = line.split(",")
        if not line.startswith("onednn_verbose,v1,primitive,exec") or len(f) < 10:
            continue
        kind, prop, shape, ms = f[5], f[7], f[-2], float(f[-1])
        if kind in ("convolution", "deconvolution") and _SHAPE.match(shape):
            flop = _flops(kind, shape)
            conv_flop, conv_ms = conv_flop + flop, conv_ms + ms
            by_shape[(kind, prop, shape)][0] += flop
            by_shape[(kind, prop, shape)][1] += ms
        elif kind == "reorder":
            reorder_ms += ms
    top = sorted(by_shape.items(), key=lambda kv: -kv[1][1])[:12]
    return {
        "conv_gflop_per_step": round(conv_flop / steps / 1e9, 2),
        "conv_kernel_ms_per_step": round(conv_ms / steps, 1),
        "conv_gflops_per_core": round(conv_flop / (conv_ms / 1e3) / 1e9, 1),
        "reorder_ms_per_step": round(reorder_ms / steps, 1),
        "largest": [
            {
                "primitive": f"{k[0]} {k[1]}",
                "shape": k[2],
                "ms_per_step": round(t / steps, 2),
                "gflops": round(fl / (t / 1e3) / 1e9, 1),
            }
            for k, (fl, t) in top
        ],
    }


def _rate(fn, flop: float, repeats: int = 15) -> float:
    return flop / (_median_ms(fn, repeats) / 1e3) / 1e9


def references() -> dict:
    """GFLOP/s on one core: a 1536^3 matrix product and a 3x3 conv, 128 -> 128 channels, 8 x 32 x 32."""
    torch.set_num_threads(1)
    a, b = torch.randn(1536, 1536), torch.randn(1536, 1536)
    x, w = torch.randn(8, 128, 32, 32), torch.randn(128, 128, 3, 3)
    return {
        "matmul_gflops_one_core": round(_rate(lambda: a @ b, 2 * 1536**3), 1),
        "large_conv_gflops_one_core": round(
            _rate(lambda: torch.nn.functional.conv2d(x, w, padding=1), 2 * 8 * 128 * 128 * 9 * 32 * 32), 1
        ),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-blocks", type=int, default=None, help="residual blocks (default: the preset's 4)")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--json", default=None)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        return _steps(a.n_blocks, a.steps)
    cmd = [sys.executable, __file__, "--child", "--steps", str(a.steps)]
    cmd += ["--n-blocks", str(a.n_blocks)] if a.n_blocks else []
    child = subprocess.run(cmd, capture_output=True, text=True, check=True, env=os.environ.copy())
    result = {
        "instruction_set": torch.backends.cpu.get_cpu_capability(),
        "execution": re.search(r"execution: (.*)", child.stdout).group(1),
        "s_per_step_while_logging": round(float(re.search(r"wall: (.*)", child.stdout).group(1)), 4),
        **parse(child.stdout, a.steps),
        **references(),
    }
    print(json.dumps(result, indent=2))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
