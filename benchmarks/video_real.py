"""A real clip: a camera panning across four horse2zebra test photos, translated by a horse -> zebra model
frame by frame and with the temporal options, through the file path a user takes (an MP4 in, an MP4 out).

The camera's motion is known (whole pixels, no zoom), so the temporal error is measured as on the synthetic
clips; with no true zebra clip, the reference is the decoded input clip itself (its own temporal error is
the codec's noise). Writes a strip of frames (rows: input, frame by frame, each setting) to --strip.

    python benchmarks/video_real.py RUN --photos /work/shared/data/horse2zebra/testA --strip docs/images/video_h2z.png
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image

from cyclegan.clipio import iter_frames, write_clip
from cyclegan.evaluate.video import temporal_error
from cyclegan.loading import load_generator
from cyclegan.translate_options import TemporalOptions
from cyclegan.video import translate_video

SETTINGS = {
    "frame by frame": TemporalOptions(norm_stats="frame", flow_blend=0),
    "(a) shared statistics": TemporalOptions(norm_stats="shared", flow_blend=0),
    "(b) flow blend": TemporalOptions(norm_stats="frame", flow_blend=0.8),
    "(a) + (b)": TemporalOptions(norm_stats="shared", flow_blend=0.8),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", help="a horse -> zebra run folder or generator (AtoB)")
    p.add_argument("--photos", default="/work/shared/data/horse2zebra/testA")
    p.add_argument("--names", nargs="+", default=None, help="four photo file names (default: the first four)")
    p.add_argument("--frames", type=int, default=64)
    p.add_argument("--step", type=int, default=12, help="pixels the camera moves per frame")
    p.add_argument("--strip", default="docs/images/video_h2z.png")
    p.add_argument("--json", default="benchmarks/results/video_real.json")
    args = p.parse_args()
    folder = Path(args.photos)
    if not folder.is_dir():
        raise SystemExit(f"{folder} is not here (the shared data): nothing to measure")
    names = args.names or sorted(f.name for f in folder.iterdir())[:4]
    photos = [np.asarray(Image.open(folder / n).convert("RGB").resize((256, 256))) for n in names]
    world = np.concatenate(photos, 1)  # 1024 x 256
    cams = [(float(args.step * t), 0.0, 1.0) for t in range(args.frames)]
    work = Path("/tmp/video_real")
    work.mkdir(exist_ok=True)
    clip = write_clip(work / "h2z_pan.mp4", [world[:, int(ox) : int(ox) + 256] for ox, _, _ in cams], rate=12)
    source = np.stack(list(iter_frames(clip)))
    G = load_generator(args.run, "AtoB")
    rows, outputs = {}, {}
    for name, options in SETTINGS.items():
        dst = work / f"out_{len(outputs)}.mp4"
        start = time.perf_counter()
        translate_video(G, clip, dst, temporal=options, overwrite=True, progress=False)
        seconds = time.perf_counter() - start
        outputs[name] = np.stack(list(iter_frames(dst)))
        error = temporal_error(outputs[name], cams)
        rows[name] = {"temporal": error, "excess": error - temporal_error(source, cams), "seconds": seconds}
        print(name, {k: round(v, 3) for k, v in rows[name].items()}, flush=True)
    print(f"input clip's own temporal error (codec noise): {temporal_error(source, cams):.2f} grey levels")
    picks = np.linspace(0, args.frames - 1, 4).round().astype(int)
    strip = [np.concatenate([source[i] for i in picks], 1)]
    strip += [np.concatenate([outputs[k][i] for i in picks], 1) for k in ("frame by frame", "(b) flow blend")]
    Image.fromarray(np.concatenate(strip, 0)).save(args.strip)
    Path(args.json).write_text(json.dumps({"args": vars(args), "photos": names, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
