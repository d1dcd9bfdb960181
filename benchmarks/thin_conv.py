"""The convs to and from the image's 3 channels, each way they can be computed in fp32: a generator's last conv
(many -> 3, 7x7) plain, as the channels-last transposed conv (the thin form before), and by rows
(`fused._RowsConv`); a generator's first conv (3 -> many, 7x7) plain and with its input gradient by rows
(`fused._EntryConv`). Forward, and forward with every gradient, one thread; the forms alternate in one
process; medians over repeats. The measurements behind `fused.ThinConv2d` and `fused.EntryConv2d`
(docs/results.md, "The thin convs by rows").

Run (AVX2 held on a newer CPU, as a laptop without AVX-512 computes):
  ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 python benchmarks/thin_conv.py --json FILE
"""

from __future__ import annotations

import argparse
import json

import torch
import torch.nn.functional as F
from winograd import _median_ms  # the same timing as the Winograd measurements (run as a script from benchmarks/)

from cyclegan.models.fused import _EntryConv, _RowsConv

# (batch, channels, output size): the demo's batch-4 and batch-2 calls at 64 px, the `paper` model at 128 and 256 px
SHAPES = [(4, 24, 64), (2, 24, 64), (1, 32, 128), (1, 64, 256)]


def _transposed(x, w, b):
    x = x.contiguous(memory_format=torch.channels_last)
    return F.conv_transpose2d(x, w.flip(2, 3).transpose(0, 1), b, padding=w.shape[-1] - 1).contiguous()


LAST = {
    "plain": lambda x, w, b: F.conv2d(x, w, b),
    "transposed, channels-last": _transposed,
    "rows": lambda x, w, b: _RowsConv.apply(x, w, b, (0, 0)),
}
ENTRY = {
    "plain": lambda x, w, b: F.conv2d(x, w, b),
    "input gradient by rows": lambda x, w, b: _EntryConv.apply(x, w, b, (0, 0)),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    torch.set_num_threads(1)
    rows = []
    for n, c, s in SHAPES:
        for layer, forms, c_in, c_out in (("last", LAST, c, 3), ("entry", ENTRY, 3, c)):
            x = torch.randn(n, c_in, s + 6, s + 6, requires_grad=True)
            w = torch.randn(c_out, c_in, 7, 7, requires_grad=True)
            b = torch.randn(c_out, requires_grad=True)
            g = torch.randn(n, c_out, s, s)
            for form, f in forms.items():
                with torch.no_grad():
                    fwd = _median_ms(lambda f=f, t=(x, w, b): f(*t), a.repeats)
                both = _median_ms(lambda f=f, t=(x, w, b), g=g: torch.autograd.grad(f(*t), t, g), a.repeats)
                rows.append(
                    {"layer": layer, "batch": n, "channels": c, "size": s, "form": form, "forward_ms": fwd,
                     "forward_backward_ms": both}
                )  # fmt: skip
                print(f"{layer:5} {n} x {c:2} ch, {s:3} px {form:26} forward {fwd:7.2f} ms, with grads {both:7.2f}")
    if a.json:
        cpu = torch.backends.cpu.get_cpu_capability()
        with open(a.json, "w") as f:
            json.dump({"cpu_capability": cpu, "threads": 1, "repeats": a.repeats, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
