"""`cyclegan demo`: from nothing to a scored summer <-> winter model in a few minutes on a CPU.

Renders the built-in synthetic world (see `cyclegan.data.synthetic`), trains the `seed` preset at a small
size, translates the paired test split both ways and scores each translation against its true rendering
(PSNR and SSIM), next to the do-nothing baseline (the untranslated input against the truth).
"""

from __future__ import annotations

import dataclasses
import html
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .errors import CycleGANError

# Training options on top of the preset (names as in `cyclegan train --help`); they finish in under
# 5 minutes on a 2-core CPU.
DEMO_OPTIONS: dict[str, Any] = {
    "preset": "seed",
    "size": 64,
    "batch_size": 4,  # more, smaller steps beat fewer large ones here (tried: 8 x 400)
    "steps": 800,
    "ngf": 32,
    "ndf": 32,
    # BatchNorm's running statistics average over real and generated inputs (G sees both during
    # training), so eval-mode translations with them are poor; InstanceNorm has no running statistics.
    "norm": "instance",
    "lr": 4e-4,
    "lr_decay_fraction": 0.5,  # annealing the LR at the end removes much of the GAN noise
    "lambda_identity": 0.5,  # keeps the sky and walls where the seasons agree
    "compile": "off",  # a minute of compiling does not pay back within a few minutes of training
    "seed": 0,
}


@dataclass(frozen=True)
class DemoSettings:
    """The demo's data and training options."""

    train_count: int = 400  # images per domain (unpaired scenes)
    test_count: int = 40  # paired test scenes
    grid_rows: int = 6
    options: dict[str, Any] = field(default_factory=lambda: dict(DEMO_OPTIONS))


def _read_all(files: list[Path]) -> torch.Tensor:
    """Images of equal size -> (N, 3, H, W) in [-1, 1]."""
    from .data.io import read_image, to_tensor

    return torch.stack([to_tensor(read_image(p)) for p in files])


def _translate_all(net, xs: torch.Tensor, batch: int = 16) -> torch.Tensor:
    """(N, 3, H, W) in [-1, 1] -> translations, same shape, on the CPU."""
    from .inference import translate_tensor

    return torch.cat([translate_tensor(net, xs[i : i + batch]).cpu() for i in range(0, len(xs), batch)])


def time_train_step(cfg, device: torch.device, *, warmup: int = 2, repeat: int = 5) -> float:
    """Median seconds of one training step of `cfg` on random tensors (the state is thrown away)."""
    from .execution import choose_execution
    from .train import CycleGANTrainer

    rng_state = torch.get_rng_state()
    t = cfg.train
    execution = choose_execution(t.precision, t.channels_last, t.compile, device=device, compile_pays=False,
                                 batch_norm=cfg.model.norm == "batch")  # as `train` will run it  # fmt: skip
    trainer = CycleGANTrainer(cfg, total_steps=1, device=device, execution=execution)
    shape = (cfg.train.batch_size, 3, cfg.data.size, cfg.data.size)
    x, y = torch.rand(shape, device=device) * 2 - 1, torch.rand(shape, device=device) * 2 - 1
    times = []
    for i in range(warmup + repeat):
        t = time.perf_counter()
        trainer.step(x, y)["G_total"].item()  # .item(): wait for the device
        if i >= warmup:
            times.append(time.perf_counter() - t)
    torch.set_rng_state(rng_state)
    return sorted(times)[len(times) // 2]


def score(translated: torch.Tensor, inputs: torch.Tensor, truth: torch.Tensor) -> dict[str, float]:
    """Mean PSNR (dB) and SSIM of translation vs truth and of the untranslated input vs truth.

    All tensors (N, 3, H, W) in [-1, 1].
    """
    from .evaluate.metrics import psnr, ssim

    return {
        "psnr": round(psnr(translated, truth).mean().item(), 3),
        "psnr_identity": round(psnr(inputs, truth).mean().item(), 3),
        "ssim": round(ssim(translated, truth).mean().item(), 4),
        "ssim_identity": round(ssim(inputs, truth).mean().item(), 4),
    }


def run_demo(
    out: str | Path = "runs/demo",
    *,
    device: str = "auto",
    minutes: float | None = None,
    settings: DemoSettings = DemoSettings(),
    progress: bool = True,
) -> dict:
    """Generate data, train, translate, score and write `report.json` and `report.html` in `out`.

    `minutes` caps the training time (the step budget is cut short, and the report says so).
    """
    from .checkpoint import load_generator
    from .data.synthetic import write_dataset
    from .execution import resolve_device
    from .report import save_grid
    from .train import prepare_config, train

    s = settings
    run = Path(out)
    if (run / "checkpoint.pt").exists():
        raise CycleGANError(f"{run} already holds a demo run: choose another --out or delete it")
    t0 = time.perf_counter()
    opts = {**DEMO_OPTIONS, **settings.options}
    size, seed = opts["size"], opts["seed"]
    data = write_dataset(run / "data", size=size, count=s.train_count, test_count=s.test_count, seed=seed,
                         progress=progress)  # fmt: skip
    overrides = {
        **opts, "data": str(data), "out": str(run), "device": device, "sample_every": 0,
        "checkpoint_every": 100, "log_every": 20, "time_limit": minutes,
    }  # fmt: skip
    cfg, _ = prepare_config(overrides, resume=False, out=str(run))
    device_ = resolve_device(device)
    if minutes:  # fit the step budget to this machine, so the LR schedule still ends at 0
        seconds_per_step = time_train_step(cfg, device_)
        steps = max(1, min(cfg.train.steps, int(minutes * 60 * 0.9 / seconds_per_step)))
        if steps < cfg.train.steps:
            print(f"this machine does {seconds_per_step:.2f} s/step: training {steps} steps to fit {minutes} min")
            cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, steps=steps))
    t_train = time.perf_counter()
    trained_steps = train(cfg, progress=progress).step
    train_seconds = time.perf_counter() - t_train

    names = sorted(p.name for p in (data / "testA").glob("*.png"))  # testA/NAME and testB/NAME: one scene
    test = {"A": _read_all([data / "testA" / n for n in names]), "B": _read_all([data / "testB" / n for n in names])}
    results: dict[str, dict[str, float]] = {}
    grids: dict[str, str] = {}
    for direction, src, dst in (("AtoB", "A", "B"), ("BtoA", "B", "A")):
        real, truth = test[src], test[dst]
        fake = _translate_all(load_generator(run, direction, device=device_), real)
        results[direction] = score(fake, real, truth)
        n = s.grid_rows
        grids[direction] = save_grid([real[:n], fake[:n], truth[:n]], run / f"grid_{direction}.png").name
    report = {
        "ground_truth": results,
        "task": "summer (A) <-> winter (B), synthetic scenes with true renderings",
        "metrics": "PSNR in dB (capped at 100 for identical images) and SSIM, against the true rendering; "
        "*_identity: the untranslated input against the same truth (the do-nothing baseline)",
        "settings": dataclasses.asdict(s) | {"options": opts, "steps_trained": trained_steps, "device": str(device_)},
        "config": cfg.to_dict(),
        "seconds": {"total": round(time.perf_counter() - t0, 1), "train": round(train_seconds, 1)},
        "grids": grids,
    }
    (run / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (run / "report.html").write_text(render_html(report))
    return report


def render_html(report: dict) -> str:
    """A self-contained page: the scores table and the grids (input | translated | truth)."""
    rows = "".join(
        f"<tr><td>{d}</td><td>{r['psnr']:.2f}</td><td>{r['psnr_identity']:.2f}</td>"
        f"<td><b>{r['psnr'] - r['psnr_identity']:+.2f}</b></td><td>{r['ssim']:.3f}</td>"
        f"<td>{r['ssim_identity']:.3f}</td></tr>"
        for d, r in report["ground_truth"].items()
    )
    names = {"AtoB": "summer → winter (G)", "BtoA": "winter → summer (F)"}
    figures = "".join(
        f"<figure><img src='{html.escape(f)}'><figcaption>{names[d]}: input | translated | truth</figcaption></figure>"
        for d, f in report["grids"].items()
    )
    st = report["settings"]
    m = report["config"]["model"]
    opts = st["options"]
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>cyclegan demo report</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.3em .7em;text-align:right}}img{{image-rendering:pixelated;width:24em}}
figure{{display:inline-block;margin:1em}}</style></head><body>
<h1>cyclegan demo: summer ↔ winter</h1>
<p>{html.escape(report["task"])}. A {m["generator"]} generator ({m["ngf"]} base channels, {m["n_blocks"]} blocks,
{m["norm"]} norm) trained {st["steps_trained"]} steps of batch {opts["batch_size"]} at {opts["size"]} px
on {st["device"]} in {report["seconds"]["train"]} s ({report["seconds"]["total"]} s in all). Scores are means over
{st["test_count"]} paired test scenes. Options: <code>{html.escape(json.dumps(opts))}</code>.</p>
<table><tr><th>direction</th><th>PSNR (dB)</th><th>PSNR untranslated</th><th>gain</th><th>SSIM</th>
<th>SSIM untranslated</th></tr>{rows}</table>
<p>{html.escape(report["metrics"])}.</p>
{figures}
</body></html>
"""
