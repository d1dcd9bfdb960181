"""Peak memory of `cyclegan translate` on a 1080p clip, for several clip lengths (memory must not grow with
the length: frames stream through in batches).

Makes /tmp/video_memory/pan1080_N.mp4 (a camera panning over an enlarged scene of the synthetic world, 12
frames/s, H.264) for each N, then runs `cyclegan translate --checkpoint RUN --out ... CLIP` in a child
process per clip and reports its peak resident memory (GNU time's %M), wall time and frames/s:

    python benchmarks/video_memory.py RUN --frames 24 96 [--json benchmarks/results/video_memory.json]
"""

from __future__ import annotations

import argparse
import json
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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run")
    p.add_argument("--frames", type=int, nargs="+", default=[24, 96])
    p.add_argument("--json", default="benchmarks/results/video_memory.json")
    p.add_argument("extra", nargs="*", help="more flags for cyclegan translate (after --)")
    args = p.parse_args()
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
