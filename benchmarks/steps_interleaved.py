"""Training steps per second of execution variants, interleaved in one process (docs/results.md, "fp32 on
AVX2 CPUs"): each round runs every variant for a few steps in turn, so all see the same machine load; the
figures are medians over rounds, and each variant's ratio is today's default's s/step over its own.

Run (the demo's step; AVX2 held on a newer CPU, as a laptop without AVX-512 computes):
  ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 python benchmarks/steps_interleaved.py --rounds 15
  ... --preset paper --size 256 --batch 1 --variants today,default --rounds 3 --steps 1   (the paper model)
  ... --n-blocks 1 --variants bf16:4,bf16+fused+lanes:1,bf16:1   (NAME:N: N residual blocks)
  ... --variants today,fused+lanes-rows,fused+lanes   (NAME-rows: NAME without the fp32 row forms)
  ... --variants today,fused+lanes,fused+lanes/zeros   (NAME/zeros: the generators padded by zeros)
  ... --variants fused+lanes-pad/zeros,fused+lanes/zeros   (NAME-pad: zero pads not folded into the convs)
  ... --n-blocks 1 --variants fused+lanes/zeros,fused+lanes+dcat/zeros   (NAME+dcat: D on [real; fake] at once)
  ... --n-blocks 1 --variants default/zeros,default/zeros@d2   (NAME@dD: the blocks' convs dilated by D)
  ... --profile          (the top operators of one step of today's default and of the new default)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from dataclasses import replace

import torch
from torch.profiler import ProfilerActivity, profile

from cyclegan.bench import trainer_and_inputs
from cyclegan.config import resolve
from cyclegan.execution import REFERENCE, Execution, choose_execution
from cyclegan.models import fused

TODAY = Execution(batch_generator_calls=True)  # the default on a CPU without native bf16 before #23
FUSED = Execution(batch_generator_calls=True, fused_layers=True)
VARIANTS = {
    "reference": REFERENCE,  # the reference implementation's computation: fp32, one generator call per output
    "today": TODAY,
    "norm": TODAY,  # today's step with one of the fused layer forms (FUSED_KINDS), for the ablation
    "subpixel": TODAY,
    "thin": TODAY,
    "winograd": TODAY,
    "fused": FUSED,
    "lanes": Execution(batch_generator_calls=True, parallel_chains=True),
    "fused+lanes": Execution(batch_generator_calls=True, fused_layers=True, parallel_chains=True),
    "fused+lanes-winograd": Execution(batch_generator_calls=True, parallel_chains=True),  # the default before
    # the Winograd form: the other three forms (FUSED_KINDS), applied after the trainer is built
    "channels_last": Execution(batch_generator_calls=True, channels_last=True),
    "compile": Execution(batch_generator_calls=True, compile=True),
    "default": None,  # what choose_execution picks here now
    # on a CPU with native bf16: its default (bf16 autocast, eager at the demo's length), and with the fp32
    # class's lanes and layer forms added (not chosen there by `auto`)
    "bf16": Execution(precision="bf16", batch_generator_calls=True),
    "bf16+lanes": Execution(precision="bf16", batch_generator_calls=True, parallel_chains=True),
    "bf16+fused+lanes": Execution(
        precision="bf16", batch_generator_calls=True, fused_layers=True, parallel_chains=True
    ),
}
# NAME+dcat: variant NAME with each discriminator's real and fake batches scored in one call (what `auto` adds)
VARIANTS |= {
    f"{n}+dcat": replace(VARIANTS[n], batch_discriminator_calls=True) for n in ("fused+lanes", "bf16+fused+lanes")
}
# NAME-entry: variant NAME with the generators' first convs plain (the bf16 channels-last entry form undone)
VARIANTS |= {f"{n}-entry": VARIANTS[n] for n in ("fused+lanes", "bf16+fused+lanes")}
# NAME-pad: variant NAME with its zero pads as layers of their own (not folded into the convs after them)
VARIANTS |= {f"{n}-pad": VARIANTS[n] for n in ("fused+lanes", "bf16+fused+lanes")}
# NAME-rows: variant NAME with the fp32 row forms undone (the thin conv as the channels-last transposed conv, the
# entry conv's input gradient oneDNN's): the default before them
VARIANTS |= {f"{n}-rows": VARIANTS[n] for n in ("fused", "fused+lanes")}


class _TransposedThin(fused.ThinConv2d):
    """The thin conv as it computed before the rows form, in every precision."""

    def _conv_forward(self, x, weight, bias):
        pad = [k - 1 - p for k, p in zip(self.kernel_size, self.padding)]
        x = x.contiguous(memory_format=torch.channels_last)
        out = torch.nn.functional.conv_transpose2d(x, weight.flip(2, 3).transpose(0, 1), bias, padding=pad)
        return out.contiguous()


class _PlainEntryFp32(fused.EntryConv2d):
    """The entry conv as it computed before its input gradient by rows: plain outside bf16 autocast."""

    def _conv_forward(self, x, weight, bias):
        if torch.is_autocast_enabled("cpu"):
            return super()._conv_forward(x, weight, bias)
        return torch.nn.Conv2d._conv_forward(self, x, weight, bias)


class _PaddedSubpixel(fused.SubpixelUpConv):
    """The sub-pixel form as it computed before the zero pad was left to the conv: a zero-padded copy first."""

    def forward(self, x):
        if not self.zeros:
            return super().forward(x)
        bias = None if self.bias is None else self.bias.repeat_interleave(4)
        y = torch.nn.functional.conv2d(
            torch.nn.functional.pad(x, [1, 1, 1, 1]), fused.subpixel_weight(self.weight), bias
        )
        return fused._InterleavePhases.apply(y)


FUSED_KINDS = {
    "norm": ("norm",),
    "subpixel": ("subpixel",),
    "thin": ("thin",),
    "winograd": ("winograd",),
    "fused+lanes-winograd": ("norm", "subpixel", "thin"),
}


def build(name: str, cfg, steps: int):
    """(trainer, x, y, execution) of variant `name`."""
    ex = VARIANTS[name] or choose_execution(device=torch.device("cpu"))
    fold = fused._is_foldable_zero_pad
    if name.endswith("-pad"):  # the zero pads kept as layers of their own
        fused._is_foldable_zero_pad = lambda pad, conv: False
    try:
        trainer, x, y = trainer_and_inputs(cfg, ex, torch.device("cpu"), total_steps=steps)
    finally:
        fused._is_foldable_zero_pad = fold
    for net in trainer.nets.values():  # in place, the same parameters: the optimizers stay valid
        fused.fuse_layers(net, FUSED_KINDS.get(name, ()))
        for m in net.modules() if name.endswith("-entry") else ():
            if type(m) is fused.EntryConv2d:
                m.__class__ = torch.nn.Conv2d
        undo = {fused.ThinConv2d: _TransposedThin, fused.EntryConv2d: _PlainEntryFp32}
        for m in net.modules() if name.endswith("-rows") else ():
            m.__class__ = undo.get(type(m), type(m))
        for m in net.modules() if name.endswith("-pad") else ():
            if type(m) is fused.SubpixelUpConv:
                m.__class__ = _PaddedSubpixel
    return trainer, x, y, ex


def variant_config(name: str, cfg):
    """(variant, config) of a name NAME[:N][/PADDING][@dD]: variant NAME with N residual blocks, the generators'
    PADDING and their blocks' convs dilated by D (two recipes' steps side by side, e.g. bf16:4,bf16+fused+lanes:1
    or fused+lanes,fused+lanes/zeros or fused+lanes/zeros,fused+lanes/zeros@d2)."""
    name, _, dilation = name.partition("@d")
    name, _, padding = name.partition("/")
    name, _, blocks = name.partition(":")
    changes = {"n_blocks": int(blocks)} if blocks else {}
    changes |= {"padding": padding} if padding else {}
    changes |= {"block_dilation": int(dilation)} if dilation else {}
    return name, replace(cfg, model=replace(cfg.model, **changes))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--n-blocks", type=int, default=None, help="residual blocks (default: the preset's)")
    ap.add_argument(
        "--variants",
        default="today,norm,subpixel,thin,fused,lanes,fused+lanes,channels_last",
        help="comma-separated; NAME:N runs NAME with N residual blocks",
    )
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--steps", type=int, default=3, help="steps per variant per round")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: one per core)")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--winograd-min-channels", type=int, default=None, help="override fused.WINOGRAD_MIN_CHANNELS")
    ap.add_argument("--winograd-min-pixels", type=int, default=None, help="override fused.WINOGRAD_MIN_PIXELS")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    if a.winograd_min_channels is not None:  # read when the layers are converted and at each call
        fused.WINOGRAD_MIN_CHANNELS = a.winograd_min_channels
    if a.winograd_min_pixels is not None:
        fused.WINOGRAD_MIN_PIXELS = a.winograd_min_pixels
    overrides = {"size": a.size, "batch_size": a.batch} | ({"n_blocks": a.n_blocks} if a.n_blocks else {})
    if a.preset == "fast":  # the demo's options on top of the preset (cyclegan.demo.DEMO_OPTIONS)
        overrides |= {"d_layers": 2, "pool_size": 0}
    cfg = resolve(overrides, preset=a.preset)
    names = a.variants.split(",")
    total = a.warmup + a.rounds * a.steps + 10
    runs = {n: build(*variant_config(n, cfg), total) for n in names}
    load0 = os.getloadavg()[0]
    warm = {}
    for n, (tr, x, y, _) in runs.items():
        t0 = time.perf_counter()
        for _ in range(a.warmup):
            tr.step(x, y)
        warm[n] = time.perf_counter() - t0
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(a.rounds):
        for n in names if r % 2 == 0 else names[::-1]:  # alternate the order: no variant always runs first
            tr, x, y, _ = runs[n]
            t0 = time.perf_counter()
            for _ in range(a.steps):
                tr.step(x, y)
            times[n].append((time.perf_counter() - t0) / a.steps)
        print(f"round {r + 1}: " + ", ".join(f"{n} {times[n][-1]:.3f}" for n in names), flush=True)
    base = statistics.median(times[names[0]])
    result = {
        "setup": {**overrides, "preset": a.preset, "rounds": a.rounds, "steps_per_round": a.steps},
        "instruction_set": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
        "load_average_1min": [round(load0, 2), round(os.getloadavg()[0], 2)],
        "variants": {},
    }
    print(
        f"{cfg.preset}, {a.size} px, batch {a.batch}; {result['instruction_set']}, {result['threads']} threads; "
        f"{a.rounds} rounds x {a.steps} steps, interleaved; load {load0:.1f} -> {os.getloadavg()[0]:.1f}"
    )
    for n in names:
        med = statistics.median(times[n])
        # the per-round ratio against the first variant, its median: robust to a slow round
        per_round = statistics.median(b / t for b, t in zip(times[names[0]], times[n]))
        result["variants"][n] = {
            "execution": runs[n][3].describe(),
            "s_per_step": round(med, 4),
            "ratio": round(base / med, 3),
            "ratio_per_round_median": round(per_round, 3),
            "warmup_s": round(warm[n], 1),
            "s_all": [round(t, 4) for t in times[n]],
        }
        print(
            f"{n:<14} {med:8.4f} s/step  {base / med:5.2f}x  (per-round median {per_round:.2f}x; "
            f"warm-up {warm[n]:.0f} s)  {runs[n][3].describe()}"
        )
    if a.profile:
        for n in names:
            tr, x, y, _ = runs[n]
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                for _ in range(3):
                    tr.step(x, y)
            print(f"\n{n}: top operators (self CPU time, 3 steps)")
            print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
