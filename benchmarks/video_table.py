"""The Video table of docs/results.md: flicker and fidelity of clip translation on the synthetic clips.

Renders clips of the summer/winter world in memory (`cyclegan.data.synthetic_video`: a camera panning and
zooming, the sun and clouds moving; no codec in the way), translates them both ways with a trained run's
generators frame by frame, with (a) shared InstanceNorm statistics, (b) the flow blend, and both, and scores
each against the true clip (`cyclegan.evaluate.video`): PSNR and SSIM per frame, temporal error and its
excess over the truth's.

    python benchmarks/video_table.py RUN [--clips 6] [--frames 48] [--json FILE [--overwrite]]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from cyclegan.data.synthetic_video import render_clip
from cyclegan.evaluate.video import score_clip, temporal_difference
from cyclegan.loading import load_generator
from cyclegan.translate_options import TemporalOptions
from cyclegan.video import ClipTranslator

# name -> options; the first is the baseline the others are compared with.
SETTINGS = {
    "frame by frame": TemporalOptions(norm_stats="frame", flow_blend=0),
    "(a) shared statistics": TemporalOptions(norm_stats="shared", flow_blend=0),
    "(b) flow blend": TemporalOptions(norm_stats="frame", flow_blend=0.8),
    "(a) + (b)": TemporalOptions(norm_stats="shared", flow_blend=0.8),
}
EXTRA = {  # the neighbours of the chosen values, with --sweep
    "(a) momentum 0.03": TemporalOptions(norm_stats="shared", norm_momentum=0.03, flow_blend=0),
    "(a) momentum 0.3": TemporalOptions(norm_stats="shared", norm_momentum=0.3, flow_blend=0),
    "(b) alpha 0.5": TemporalOptions(norm_stats="frame", flow_blend=0.5),
    "(b) alpha 0.9": TemporalOptions(norm_stats="frame", flow_blend=0.9),
}


def translate_clip(G, frames: np.ndarray, options: TemporalOptions, batch: int = 4) -> np.ndarray:
    translator = ClipTranslator(G, temporal=options)
    with torch.no_grad():
        return np.concatenate([translator(frames[i : i + batch]) for i in range(0, len(frames), batch)])


STRIP_FRAMES = (4, 12, 20, 28)  # the frames of docs/images/video_synthetic.png


def save_strip(path: str, clip, outputs: dict[str, np.ndarray], picks=STRIP_FRAMES, scale: int = 2) -> None:
    """Rows: input, truth, frame by frame, the default; then each one's temporal change (|frame t - frame
    t-1 moved by the camera|, x4) for frame by frame and the default: flicker shows as light patches."""
    summer, winter, cameras = clip
    default = next(n for n, o in SETTINGS.items() if o == TemporalOptions())
    rows = [summer, winter, outputs["frame by frame"], outputs[default]]
    strip = [np.concatenate([r[i] for i in picks], 1) for r in rows]
    for frames in (outputs["frame by frame"], outputs[default]):
        changes = [np.clip(4 * temporal_difference(frames, cameras, i)[0], 0, 255).astype(np.uint8) for i in picks]
        strip.append(np.concatenate(changes, 1))
    im = Image.fromarray(np.concatenate(strip, 0))
    im.resize((im.width * scale, im.height * scale), Image.Resampling.NEAREST).save(path)


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, checked before any clip is rendered (minutes of work)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", help="a run folder (e.g. one `cyclegan demo` trained)")
    p.add_argument("--clips", type=int, default=6)
    p.add_argument("--frames", type=int, default=48)
    p.add_argument("--size", type=int, default=64, help="the world's SIZE (frames 1.5 SIZE x 1.125 SIZE)")
    p.add_argument("--seed", type=int, default=1, help="world seed of the clips")
    p.add_argument("--sweep", action="store_true", help="also the neighbours of the default values")
    # no default: it was benchmarks/results/video_table.json, so any run wrote over the committed figures
    p.add_argument("--json", default=None, help="write the rows to this file (default: printed only)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    p.add_argument("--strip", default=None, help="PNG: frames of the first clip (A to B), see save_strip")
    args = p.parse_args(argv)
    if args.strip and args.frames <= max(STRIP_FRAMES):  # else an IndexError after all the clips' work
        p.error(
            f"--strip shows frames {', '.join(map(str, STRIP_FRAMES))}: give --frames {max(STRIP_FRAMES) + 1} or more"
        )
    if args.json and Path(args.json).exists() and not args.overwrite:
        p.error(f"--json {args.json} exists: give another file, or --overwrite to replace it")
    return args


def main() -> None:
    args = arguments()
    torch.set_num_threads(2)
    settings = SETTINGS | (EXTRA if args.sweep else {})
    clips = [render_clip(args.seed, i, args.frames, args.size) for i in range(args.clips)]
    rows: dict[str, dict[str, list]] = {}
    firsts: dict[str, np.ndarray] = {}  # setting -> its output of the first clip, A to B
    for direction in ("AtoB", "BtoA"):
        G = load_generator(args.run, direction)
        for name, options in settings.items():
            scores, seconds = [], 0.0
            for k, (summer, winter, cameras) in enumerate(clips):
                src, truth = (summer, winter) if direction == "AtoB" else (winter, summer)
                start = time.perf_counter()
                out = translate_clip(G, src, options)
                seconds += time.perf_counter() - start
                scores.append(score_clip(out, truth, cameras).as_dict())
                if k == 0 and direction == "AtoB":
                    firsts[name] = out
            row = {k: float(np.mean([s[k] for s in scores])) for k in scores[0]}
            row["ms_per_frame"] = 1000 * seconds / (len(clips) * args.frames)
            rows.setdefault(name, {})[direction] = row
            print(direction, name, {k: round(v, 3) for k, v in row.items()}, flush=True)
    base = rows["frame by frame"]
    lines = [
        "| setting | temporal error excess (A→B / B→A) | vs frame by frame | PSNR dB (A→B / B→A) | SSIM | ms/frame |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        a, b = r["AtoB"], r["BtoA"]
        ratio = (a["excess"] + b["excess"]) / (base["AtoB"]["excess"] + base["BtoA"]["excess"])
        lines.append(
            f"| {name} | {a['excess']:.2f} / {b['excess']:.2f} | {ratio:.2f}x | {a['psnr']:.2f} / {b['psnr']:.2f} "
            f"| {a['ssim']:.3f} / {b['ssim']:.3f} | {(a['ms_per_frame'] + b['ms_per_frame']) / 2:.1f} |"
        )
    truth = f"true clips' own temporal error: {base['AtoB']['temporal_truth']:.2f} (winter) / "
    truth += f"{base['BtoA']['temporal_truth']:.2f} (summer) grey levels"
    print("\n".join(lines) + "\n\n" + truth)
    if args.strip:
        save_strip(args.strip, clips[0], firsts)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
