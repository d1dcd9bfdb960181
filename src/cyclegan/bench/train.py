"""`cyclegan bench --task train` (the default): how fast training steps and translation run here, and their
memory.

It times a model family on synthetic tensors (uniform in [-1, 1]) of the configured shape, so disk and JPEG
decoding are not measured: this is the cost of the computation. Each training step is one full iteration
of the family's trainer (for CycleGAN, `CycleGANTrainer.step`: D_X, D_Y, then G and F with adversarial +
cycle (+ identity) losses and three Adam updates); the figure is the median over the timed steps after
untimed warm-up steps. Translation is the generator in eval mode through `cyclegan translate`'s own
function. Modes:
- `reference`: the plain computation of the widely used reference implementation: fp32, contiguous
  NCHW tensors, eager execution, one generator call per output, same architecture and losses (identity
  0.5 for `paper`); batch 1 unless `--batch-size` is given.
- `default`: what `cyclegan train` and `cyclegan translate` run with by default on this device
  (`cyclegan.execution.choose_execution`: bf16 autocast, compile, ... where they pay).
- `both`: the two, step for step in one process (reference step, default step, ...), at the same batch
  size, and their speed-up: the fairest comparison on a shared, noisy machine.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

import torch

from .. import families, inference  # called as inference.translate_tensor, so a test can stand in for it
from ..config import Config, resolve
from ..errors import CycleGANError, counted
from ..execution import REFERENCE, Execution, choose_execution, total_memory
from ..models import build_generator
from ..train import trainer_class
from .measure import environment, median, rss_now_mib, rss_peak_mib, time_calls
from .options import BenchOptions

# A translation call is short (~0.3 s for the paper model at 256 px here): a median of a few is at the
# mercy of one noisy moment on a shared machine, and ten more cost seconds next to the training steps.
TRANSLATE_MIN_BATCHES = 10


def trainer_and_inputs(cfg, execution: Execution, device: torch.device, *, total_steps: int, seed: int = 0):
    """A fresh trainer of `cfg`'s family for `cfg` and one synthetic batch per domain: (trainer, x, y).

    x, y: (batch_size, 3, size, size) uniform in [-1, 1] on `device`, drawn from their own generator
    seeded with `seed` (torch's global RNG is left to the trainer, which seeds it for the weight init).
    """
    bs, size = cfg.train.batch_size, cfg.data.size
    gen = torch.Generator().manual_seed(seed)
    x = (torch.rand(bs, 3, size, size, generator=gen) * 2 - 1).to(device)  # (B, 3, S, S) in [-1, 1]
    y = (torch.rand(bs, 3, size, size, generator=gen) * 2 - 1).to(device)
    trainer = trainer_class(cfg.model.family)(cfg, total_steps=total_steps, device=device, execution=execution)
    return trainer, x, y


def mode_execution(
    mode: str,
    device: torch.device,
    *,
    batch_norm: bool,
    opts: BenchOptions,
    translation: bool = False,
    unet: bool = False,
) -> Execution:
    """The execution settings `mode` times on `device` (default mode: what `train` chooses, or with
    `translation` what `translate` of a large folder chooses)."""
    if mode == "reference":
        return REFERENCE
    return choose_execution(
        opts.precision,
        opts.channels_last,
        opts.compile,
        device=device,
        compile_pays=translation,
        batch_norm=batch_norm,
        translation=translation,
        unet=unet,
        fixed_shapes=not translation,
    )


def _step_of(trainer, x, y):
    """One training step as `train` runs it: under the execution's backend settings (cuDNN's autotuner)."""

    def step():
        with trainer.execution.backends():
            return trainer.step(x, y)

    return step


def bench_config(overrides: dict[str, Any], *, preset: str | None) -> Config:
    """`config.resolve(overrides, preset=preset)`, with a size too small for the networks said in bench's terms:
    its hints name `train`'s options (`lower --d-layers`), which bench does not have; bench's one lever is
    --size, so the error gives the smallest size these networks take."""
    try:
        return resolve(overrides, preset=preset)
    except CycleGANError:
        size = overrides.get("size")
        if size is None:
            raise
        rest = {k: v for k, v in overrides.items() if k != "size"}
        default = _resolves(rest, preset)  # the recipe's own size: when it fails too, the size is not the cause
        if default is None:
            raise
        least = next((s for s in range(1, default.data.size) if _resolves({**rest, "size": s}, preset)), None)
        if least is None or size >= least:
            raise
        raise CycleGANError(
            f"option '--size' {size} px is too small for the {default.preset} preset's {default.model.family} "
            f"networks: the smallest size they take is {least} px"
        ) from None


def generator_pass_bytes(cfg: Config) -> int | None:
    """Bytes of every layer's output in one forward pass of `cfg`'s generator at its training size and batch, 2
    bytes each (bf16, the narrowest any mode computes in; an in-place layer's output counted once): what the
    generators' update holds for that generator's backward, so a lower bound of a training step's memory. On
    fake tensors (shapes only, nothing allocated, a fraction of a second even at 8192 px); None where this
    torch cannot (a private API)."""
    total = 0

    def add(_module, inputs, output) -> None:
        nonlocal total
        if isinstance(output, torch.Tensor) and not any(output is x for x in inputs):
            total += output.numel() * 2

    try:
        from torch._subclasses.fake_tensor import FakeTensorMode

        with FakeTensorMode():
            net = build_generator(cfg.model)
            for m in net.modules():
                if not list(m.children()):
                    m.register_forward_hook(add)
            net(torch.empty(cfg.train.batch_size, 3, cfg.data.size, cfg.data.size))
    except Exception:  # noqa: BLE001 - no estimate rather than no bench
        return None
    return total


def held_generator_passes(cfg: Config) -> int:
    """The generator forward passes whose activations the generators' update holds at once, for its backward: a
    two-way family's two chains, G(x) then F(G(x)) and F(y) then G(F(y)), with the identity passes G(y) and F(x)
    where `lambda_identity` is on (both chains at once, also as `train.lanes`: a step at 256 px held 7.8 passes'
    worth in bf16, 14.3 in fp32); a one-way family's G(x), and G(y) where CUT's identity (`nce_idt`) is on."""
    family = families.family(cfg.model.family)
    if family.two_way:
        return 4 + (2 if cfg.train.lambda_identity > 0 else 0)
    return 1 + (family.section == "cut" and bool(cfg.section("cut").nce_idt))


def check_train_memory(cfg: Config, device: torch.device, executions: Iterable[Execution]) -> None:
    """Refuse a --size and --batch-size whose training steps cannot fit `device` (its memory in all): --size 8192
    allocated until the process was killed, and --size 2048 passed a bound of two passes in bf16 (21 of 23 GiB) and
    was killed too. The bound is low (the held generator passes' outputs alone, in each mode's precision; the step
    holds the discriminators' and more, 1.2-1.3 times that for CycleGAN at 256 px), so nothing that fits is refused."""
    one, have = generator_pass_bytes(cfg), total_memory(device)
    if one is None or have is None:
        return
    passes = held_generator_passes(cfg)
    # one step at a time, also with --mode both (its steps interleave: one's activations are freed before the next)
    width = max(4 if ex.precision == "fp32" else 2 for ex in executions)  # generator_pass_bytes counts 2 each
    need = passes * one * width // 2
    if need > have:
        raise CycleGANError(
            f"option '--size' {cfg.data.size} with batch {cfg.train.batch_size}: the training step holds at least "
            f"{need / 2**30:.1f} GiB of activations ({passes} generator passes, {'fp32' if width == 4 else 'bf16'}), "
            f"more than the {have / 2**30:.1f} GiB of {device}; lower --size or --batch-size"
        )


def _resolves(overrides: dict[str, Any], preset: str | None) -> Config | None:
    try:
        return resolve(overrides, preset=preset)
    except CycleGANError:
        return None


def time_train_step(cfg, device: torch.device, *, warmup: int = 2, repeat: int = 5, quantile: float = 0.5) -> float:
    """Seconds of one training step of `cfg` on `device` (the `quantile` of `repeat` timed steps: the median
    by default), computed as a short `cyclegan train` run would (no compilation), on synthetic tensors; the
    trainer is thrown away and torch's global RNG is restored, so a run started afterwards is the same as
    without this measurement."""
    rng_state = torch.get_rng_state()
    t = cfg.train
    execution = choose_execution(
        t.precision,
        t.channels_last,
        t.compile,
        device=device,
        compile_pays=False,
        batch_norm=cfg.model.norm == "batch",
        unet=cfg.model.generator == "unet",
        fixed_shapes=True,
    )
    trainer, x, y = trainer_and_inputs(cfg, execution, device, total_steps=1)
    step = _step_of(trainer, x, y)
    time_calls(step, warmup, device)
    times = sorted(time_calls(step, repeat, device))
    torch.set_rng_state(rng_state)
    return median(times) if quantile == 0.5 else times[round(quantile * (len(times) - 1))]


def _as_translate_loads(G: torch.nn.Module, cfg, device: torch.device, execution: Execution) -> torch.nn.Module:
    """The generator as `cyclegan translate` builds it (plain layers, not training's fused forms) with G's
    weights, so the figure is what translation runs."""
    plain = build_generator(cfg.model).to(device, memory_format=execution.memory_format)
    plain.load_state_dict(G.state_dict())
    return plain


def train_rate(family_name: str) -> str:
    """What `train_img_per_s` counts, as the lines say it: a two-way family (CycleGAN) translates a batch of each
    domain per step, each both ways; a one-way family (pix2pix, CUT) its source batch alone, one way, which "img/s
    per domain" misdescribed."""
    return "img/s per domain" if families.family(family_name).two_way else "img/s one way (one generator)"


def _summary(
    train_times: list[float], translate_times: list[float], warmup_s: float, translate_warmup_s: float, bs: int
) -> dict[str, Any]:
    train_s, translate_s = median(train_times), median(translate_times)
    return {
        "warmup_s": round(warmup_s + translate_warmup_s, 3),  # both, with torch.compile's one-off compilation
        "train_warmup_s": round(warmup_s, 3),  # the untimed training steps (--warmup; 0 of them: 0)
        "translate_warmup_s": round(translate_warmup_s, 3),  # translation's untimed first call
        "train_s_per_step": round(train_s, 5),
        "train_steps_per_s": round(1 / train_s, 4),
        "train_img_per_s": round(bs / train_s, 3),  # images per second: per domain, or one way (`train_rate`)
        "train_s_all": [round(t, 5) for t in train_times],
        "translate_s_per_batch": round(translate_s, 5),
        "translate_img_per_s": round(bs / translate_s, 3),
        "translate_s_all": [round(t, 5) for t in translate_times],
    }


def bench_train(opts: BenchOptions, device: torch.device) -> dict[str, Any]:
    """Training steps and translation per `opts` (task train); the JSON-ready result."""
    overrides: dict[str, Any] = {}
    if opts.size is not None:
        overrides["size"] = opts.size
    if opts.batch_size is not None:
        overrides["batch_size"] = opts.batch_size
    elif opts.mode == "reference":
        overrides["batch_size"] = 1  # the reference implementation's default, for every preset
    if opts.model is not None:
        overrides["family"] = opts.model
    cfg = bench_config(overrides, preset=opts.preset)
    modes = ["reference", "default"] if opts.mode == "both" else [opts.mode]
    batch_norm = cfg.model.norm == "batch"
    unet = cfg.model.generator == "unet"
    executions = {m: mode_execution(m, device, batch_norm=batch_norm, opts=opts, unet=unet) for m in modes}
    check_train_memory(cfg, device, executions.values())  # before the trainers: built, they allocate
    env = environment(device)
    size, bs = cfg.data.size, cfg.train.batch_size
    rss_start = rss_now_mib()

    total = opts.warmup + opts.steps
    runs = {m: trainer_and_inputs(cfg, ex, device, total_steps=total, seed=opts.seed) for m, ex in executions.items()}
    trainer0 = runs[modes[0]][0]
    params = {k: sum(p.numel() for p in net.parameters()) for k, net in trainer0.networks.items()}

    # --- training steps; with two modes, one step of each in turn so both see the same machine load
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    steps = {m: _step_of(*r) for m, r in runs.items()}
    warmup_s = {m: sum(time_calls(step, opts.warmup, device)) for m, step in steps.items()}
    train_times: dict[str, list[float]] = {m: [] for m in modes}
    for _ in range(opts.steps):
        for m, step in steps.items():
            train_times[m] += time_calls(step, 1, device)
    memory: dict[str, float] = {"rss_at_start_mib": round(rss_start, 1)}
    if device.type == "cuda":
        memory["cuda_train_max_allocated_mib"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
        torch.cuda.reset_peak_memory_stats(device)

    # --- translation: G in eval mode through `cyclegan translate`'s own function, batches of the training size
    n_translate = opts.translate_batches or max(TRANSLATE_MIN_BATCHES, opts.steps)
    nets, translate_warmup_s = {}, {}
    tr = {m: mode_execution(m, device, batch_norm=batch_norm, opts=opts, translation=True, unet=unet) for m in modes}
    for m, (trainer, x, _) in runs.items():
        nets[m] = tr[m].compiled(_as_translate_loads(trainer.G, cfg, device, tr[m]).eval())
        t0 = time.perf_counter()
        inference.translate_tensor(nets[m], x, execution=tr[m])  # warm-up (and compilation)
        translate_warmup_s[m] = time.perf_counter() - t0
    translate_times: dict[str, list[float]] = {m: [] for m in modes}
    for _ in range(n_translate):
        for m, (_, x, _) in runs.items():
            call = functools.partial(inference.translate_tensor, nets[m], x, execution=tr[m])
            translate_times[m] += time_calls(call, 1, device)
    if device.type == "cuda":
        memory["cuda_translate_max_allocated_mib"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    memory["peak_rss_mib"] = round(rss_peak_mib(), 1)  # whole process, includes Python and torch themselves

    result: dict[str, Any] = {
        "task": "train",
        "synthetic_data": True,
        "what": f"median wall time of full {cfg.model.family} training iterations (every discriminator and "
        "generator update, Adam) and of generator forward passes (eval, no grad, as `cyclegan translate`), on "
        "random tensors in [-1, 1]: no data loading",
        "preset": cfg.preset,
        "size": size,
        "batch_size": bs,
        "mode": opts.mode,
        "device": str(device),
        "steps": opts.steps,
        "warmup": opts.warmup,
        "model": {
            "family": cfg.model.family,
            "generator": cfg.model.generator,
            "n_blocks": cfg.model.n_blocks,
            "norm": cfg.model.norm,
            "lambda_identity": cfg.train.lambda_identity,
            "params": params,
        },
        "translate_batch_size": bs,
        "translate_batches": n_translate,
    }
    per_mode = {
        m: {
            "settings": asdict(runs[m][0].execution),  # as the trainer applied it (its family's CPU forms)
            "execution": runs[m][0].execution.record(device, seconds_per_step=median(train_times[m])),
            "translate_execution": tr[m].describe(),  # as `translate` chooses it (on a GPU: by the batch's size)
            **_summary(train_times[m], translate_times[m], warmup_s[m], translate_warmup_s[m], bs),
        }
        for m in modes
    }
    if opts.mode == "both":
        result["modes"] = per_mode
        ref, dflt = per_mode["reference"], per_mode["default"]
        result["speedup"] = {
            "train": round(ref["train_s_per_step"] / dflt["train_s_per_step"], 3),
            "translate": round(ref["translate_s_per_batch"] / dflt["translate_s_per_batch"], 3),
        }
    else:
        result.update(per_mode[opts.mode])
    result["memory"] = memory
    result["env"] = env
    return result


def _translated_as(x: dict[str, Any]) -> str:
    """How translation computed, where it differs from training (`translate` on a GPU: by the batch's size)."""
    how = x.get("translate_execution")
    return f", as {how}" if how and how != _describe(x["settings"]) else ""


def _describe(settings: dict[str, Any]) -> str:
    return Execution(**settings).describe()


def format_train(r: dict[str, Any]) -> str:
    """A few readable lines of a `--task train` result."""
    mem = r["memory"]
    if "cuda_train_max_allocated_mib" in mem:
        peak = (
            f"CUDA max allocated {mem['cuda_train_max_allocated_mib']:.0f} MiB (train), "
            f"{mem['cuda_translate_max_allocated_mib']:.0f} MiB (translate)"
        )
    else:
        peak = (
            f"peak RSS {mem['peak_rss_mib']:.0f} MiB (whole process; "
            f"{mem['rss_at_start_mib']:.0f} MiB before the models)"
        )
    if r["mode"] == "both":
        peak += "; both modes' models in one process"
    hw = r["env"].get("gpu", r["env"]["cpu"])
    lines = [
        f"bench {r['preset']} preset, {r['size']} px, batch {r['batch_size']}, mode {r['mode']} on {r['device']} "
        f"({hw}, {counted(r['env']['torch_threads'], 'thread')}, {r['env'].get('instruction_set', '?')}); "
        f"synthetic tensors; --model {r['model']['family']}"
    ]
    modes = r["modes"] if r["mode"] == "both" else {r["mode"]: r}
    for m, x in modes.items():
        lines += [
            f"{m} ({_describe(x['settings'])}):",
            f"  train      {x['train_s_per_step']:.4f} s/step (median of {r['steps']}, after "
            f"{counted(r['warmup'], 'warm-up step')} that took {x['train_warmup_s']:.1f} s), "
            f"{x['train_img_per_s']:.2f} {train_rate(r['model']['family'])}",
            f"  translate  {x['translate_img_per_s']:.2f} img/s (batch {r['translate_batch_size']}, median of "
            f"{r['translate_batches']}, after a first call that took {x['translate_warmup_s']:.1f} s)"
            f"{_translated_as(x)}",
        ]
    if "speedup" in r:
        lines.append(
            f"speed-up   train {r['speedup']['train']:.2f}x, translate {r['speedup']['translate']:.2f}x "
            "(default over reference, medians of interleaved runs)"
        )
    lines.append(f"memory     {peak}")
    return "\n".join(lines)
