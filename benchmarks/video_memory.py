"""Peak memory of `cyclegan translate` on a 1080p clip, for several clip lengths (memory must not grow with
the length: frames stream through in batches).

Makes /tmp/video_memory/pan1080_N.mp4 (a camera panning over an enlarged scene of the synthetic world, 12
frames/s, H.264) for each N, then runs `cyclegan translate --checkpoint RUN --out ... CLIP` in a child
process per clip and reports its peak resident memory (GNU time's %M), wall time and frames/s:

    python benchmarks/video_memory.py RUN --frames 24 96 [--json benchmarks/results/video_memory.json]

With --trace N, one clip of N frames is translated in this process (the same `clipio.transcode` and
`video.ClipTranslator` as `translate` uses) and the resident memory is recorded after every batch: flat
once the codecs' buffers are full (x264 looks ahead up to 30 frames) if nothing grows with the length.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from cyclegan.clipio import write_clip
from cyclegan.data.synthetic import render, scene_for

W, H, STEP = 1920, 1080, 4  # frame size; the camera moves STEP px a frame


def make_clip(path: Path, frames: int) -> Path:
    if path.exists():
        return path
    scene = render(scene_for(0, 3), "summer", 540)
    world = np.asarray(Image.fromarray(scene).resize((W + STEP * frames, H + 200), Image.Resampling.BICUBIC))
    write_clip(path, (world[100 : 100 + H, STEP * t : STEP * t + W] for t in range(frames)), rate=12)
    return path


def rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize() / 2**20


def trace(run: str, frames: int, path: str) -> None:
    from cyclegan.clipio import transcode
    from cyclegan.loading import load_generator
    from cyclegan.video import ClipTranslator

    clip = make_clip(Path(f"/tmp/video_memory/pan1080_{frames}.mp4"), frames)
    translator = ClipTranslator(load_generator(run, "AtoB"))
    samples = []

    def process(batch):
        out = translator(batch)
        samples.append((len(samples) * len(batch) + len(batch), rss_mb()))
        return out

    start = time.perf_counter()
    transcode(clip, Path("/tmp/video_memory/trace_out.mp4"), process, batch=4, progress=False)
    seconds = time.perf_counter() - start
    for n, mb in samples[:: max(1, len(samples) // 12)] + samples[-1:]:
        print(f"after frame {n:4d}: {mb:7.0f} MB resident")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {"frames": frames, "peak_rss_mb": peak, "seconds": seconds, "samples": samples}
    print(json.dumps({k: v for k, v in result.items() if k != "samples"}))
    Path(path).write_text(json.dumps({"command": sys.argv, **result}, indent=1))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run")
    p.add_argument("--frames", type=int, nargs="+", default=[24, 96])
    p.add_argument("--json", default="benchmarks/results/video_memory.json")
    p.add_argument("--trace", type=int, default=0, help="one clip of N frames in this process, memory per batch")
    p.add_argument("extra", nargs="*", help="more flags for cyclegan translate (after --)")
    args = p.parse_args()
    if args.trace:
        Path("/tmp/video_memory").mkdir(exist_ok=True)
        return trace(args.run, args.trace, args.json)
    folder = Path("/tmp/video_memory")
    folder.mkdir(exist_ok=True)
    rows = []
    for n in args.frames:
        clip = make_clip(folder / f"pan1080_{n}.mp4", n)
        out = folder / f"out_{n}"
        cmd = [sys.executable, "-m", "cyclegan", "translate", "--checkpoint", args.run, "--out", str(out)]
        cmd += ["--overwrite", "--no-progress", *args.extra, str(clip)]
        start = time.perf_counter()
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(folder / "rss.txt"), *cmd], check=True)
        seconds = time.perf_counter() - start
        peak_kib = int((folder / "rss.txt").read_text().split()[-1])  # GNU time: the child's peak RSS
        row = {"frames": n, "peak_rss_mb": peak_kib / 1024, "seconds": seconds, "frames_per_s": n / seconds}
        rows.append(row)
        print(" ".join(cmd))
        print(json.dumps(row), flush=True)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"command": sys.argv, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
