"""One 3x3 convolution, forward and backward (and forward alone), computed directly (oneDNN) and by Winograd's
F(2x2, 3x3) (`cyclegan.models.fused.winograd_conv3x3`), at the shapes of the models' residual blocks: the
measurements behind `fused.WINOGRAD_MIN_CHANNELS` and `WINOGRAD_MIN_PIXELS` (docs/results.md, "Winograd").
Each shape's two forms alternate in one process; medians over repeats.

Run (AVX2 held on a newer CPU, as a laptop without AVX-512 computes):
  ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 python benchmarks/winograd.py --threads 1 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

from cyclegan.models.fused import winograd_conv3x3

# (batch, channels, output size): paper model at 256 px (64x64 blocks), 128 px, 64 px; 128 channels; the
# demo's 96-channel blocks (batch 4: G on [x; y]); 64 channels at 128x128 (where it does not pay)
SHAPES = [(1, 256, 64), (1, 256, 32), (1, 256, 16), (1, 128, 64), (1, 128, 32), (4, 96, 16), (1, 64, 128)]


def _median_ms(fn, repeats: int) -> float:
    fn()
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def measure(n: int, c: int, h: int, repeats: int) -> dict:
    x = torch.randn(n, c, h + 2, h + 2, requires_grad=True)
    w = (torch.randn(c, c, 3, 3) * 0.05).requires_grad_()
    g = torch.randn(n, c, h, h)
    with torch.no_grad():
        ref = F.conv2d(x, w)
        err = ((winograd_conv3x3(x, w) - ref).abs().max() / ref.abs().max()).item()
    out = {"batch": n, "channels": c, "size": h, "max_rel_error": err}
    for name, conv in (("direct", F.conv2d), ("winograd", winograd_conv3x3)):
        out[f"{name}_train_ms"] = _median_ms(lambda conv=conv: conv(x, w).backward(g), repeats)
        with torch.no_grad():
            out[f"{name}_forward_ms"] = _median_ms(lambda conv=conv: conv(x, w), repeats)
    out["train_speedup"] = out["direct_train_ms"] / out["winograd_train_ms"]
    out["forward_speedup"] = out["direct_forward_ms"] / out["winograd_forward_ms"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    rows = []
    print(f"{torch.backends.cpu.get_cpu_capability()}, fp32; ms per conv (median of {a.repeats})")
    for threads in a.threads:
        torch.set_num_threads(threads)
        for n, c, h in SHAPES:
            r = {"threads": threads, **measure(n, c, h, a.repeats)}
            rows.append(r)
            print(
                f"{threads} thread(s) {n}x{c}ch {h}x{h}: forward+backward {r['direct_train_ms']:.2f} -> "
                f"{r['winograd_train_ms']:.2f} ms ({r['train_speedup']:.2f}x), forward {r['direct_forward_ms']:.2f}"
                f" -> {r['winograd_forward_ms']:.2f} ms ({r['forward_speedup']:.2f}x), error {r['max_rel_error']:.1e}",
                flush=True,
            )
    if a.json:
        env = {"instruction_set": torch.backends.cpu.get_cpu_capability(), "torch": torch.__version__}
        with open(a.json, "w") as f:
            json.dump({"env": env, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
