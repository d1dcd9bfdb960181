"""EfficientNet-Lite0 features (`cyclegan.evaluate.features.Lite0Features`: KID/FD with `--backbone lite0` and the
scores while training) in channels-last, as they are computed now, against the plain NCHW layout: 80 images
of 64 px (one demo evaluation's translations, both directions) in batches of 16, alternating, medians of 5.

    ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 python benchmarks/lite0_layout.py   # AVX2 class, fp32
    python benchmarks/lite0_layout.py                                                   # this machine's own
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F_

from cyclegan.evaluate.features import load_lite0
from cyclegan.pretrained import lite0_normalize


def main() -> None:
    fast = load_lite0()  # channels-last
    plain = load_lite0().net.to(memory_format=torch.contiguous_format)

    def nchw(x: torch.Tensor) -> torch.Tensor:  # Lite0Features.forward before the change
        x = F_.interpolate((x.float() + 1) / 2, size=(224, 224), mode="bilinear", align_corners=False, antialias=True)
        return plain(lite0_normalize(x))

    x = torch.rand(80, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    times: dict[str, list[float]] = {"nchw": [], "channels_last": []}
    with torch.no_grad():
        nchw(x[:16]), fast(x[:16])  # warm-up
        for _ in range(5):
            for name, f in (("nchw", nchw), ("channels_last", fast)):
                t0 = time.perf_counter()
                torch.cat([f(c) for c in x.split(16)])
                times[name].append(time.perf_counter() - t0)
    a, b = statistics.median(times["nchw"]), statistics.median(times["channels_last"])
    print(f"{torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} threads, fp32, 80 images")
    print(f"NCHW {a:.2f} s, channels-last {b:.2f} s: {a / b:.2f}x")


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    main()
