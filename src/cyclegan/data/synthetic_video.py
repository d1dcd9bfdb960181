"""The summer/winter world as clips with ground truth: a camera panning and zooming over a scene wider than
its frame while the sun and the clouds move, rendered in both seasons, so every frame has its true
translation and the camera's motion between frames is known exactly.

A camera is (ox, oy, s) per frame: the frame's pixel (x, y) (centres at integers) shows the world's point
(ox + s (x + 0.5) - 0.5, oy + s (y + 0.5) - 0.5) in world pixels (`frame_to_world`); frames are sampled
from the world bilinearly (`sample`). `cyclegan.evaluate.video` undoes this motion to measure flicker.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..errors import CycleGANError
from ..files import marked_unfinished, write_atomic
from ..progress import progress_bar
from .synthetic import Style, render, scene_for

# The world's side and the frame's, in units of SIZE: things look about twice as large as in the images of
# `datasets synthetic` at the same SIZE (what a model trained on those has seen).
WORLD = 2.0
FRAME_W, FRAME_H = 1.5, 1.125
ZOOM = (1.1, 0.9)  # world pixels per frame pixel at the first and last frame (the camera zooms in)
SUN_DRIFT = (0.003, 0.001)  # world widths per frame
CLOUD_DRIFT = 0.0025


def camera_path(frames: int, size: int, seed: int, index: int) -> list[tuple[float, float, float]]:
    """(ox, oy, s) per frame: a pan across the world at the height of the horizon, zooming in."""
    rng = np.random.default_rng([seed, index, 7])
    world, fw, fh = round(WORLD * size), round(FRAME_W * size), round(FRAME_H * size)
    horizon = scene_for(seed, index).horizon * world
    left_to_right = rng.random() < 0.5
    path = []
    for t in range(frames):
        u = t / max(1, frames - 1)
        s = ZOOM[0] + (ZOOM[1] - ZOOM[0]) * u
        span = world - s * fw
        ox = span * (u if left_to_right else 1 - u)
        oy = float(np.clip(horizon - 0.68 * s * fh, 0, world - s * fh))
        path.append((float(ox), oy, float(s)))
    return path


def frame_to_world(camera: tuple[float, float, float], width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """World coordinates (X, Y), each (height, width), of every pixel of a frame seen by `camera`."""
    ox, oy, s = camera
    gx, gy = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
    return ox + s * (gx + 0.5) - 0.5, oy + s * (gy + 0.5) - 0.5


def world_to_frame(camera: tuple[float, float, float], X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ox, oy, s = camera
    return (X + 0.5 - ox) / s - 0.5, (Y + 0.5 - oy) / s - 0.5


def sample(img: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear samples of img (H, W, C) at float pixel coordinates x, y (edges clamped) -> float32."""
    h, w = img.shape[:2]
    x, y = np.clip(x, 0, w - 1), np.clip(y, 0, h - 1)
    x0, y0 = np.minimum(x.astype(np.int64), w - 2).clip(0), np.minimum(y.astype(np.int64), h - 2).clip(0)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    a = img.astype(np.float32)
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    top = a[y0, x0] * (1 - fx) + a[y0, x1] * fx
    bottom = a[y1, x0] * (1 - fx) + a[y1, x1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32)


def clip_frames(seed: int, index: int, frames: int, size: int, style: Style) -> Iterator[np.ndarray]:
    """Clip `index` of the world `seed` in `style`, frame by frame: uint8 (1.125 SIZE, 1.5 SIZE, 3), one at a
    time, so a clip of any length is encoded in the memory of one frame (and one rendered world)."""
    rng = np.random.default_rng([seed, index, 11])
    scene = scene_for(seed, index)
    world, fw, fh = round(WORLD * size), round(FRAME_W * size), round(FRAME_H * size)
    sky = max(0.12, scene.horizon - 0.14)
    clouds0 = [(rng.uniform(0, 1), rng.uniform(0.1, sky), rng.uniform(0.03, 0.05)) for _ in range(rng.integers(2, 5))]
    for t, cam in enumerate(camera_path(frames, size, seed, index)):
        sx, sy, sr = scene.sun
        moved = dataclasses.replace(scene, sun=(sx + SUN_DRIFT[0] * t, sy + SUN_DRIFT[1] * t, sr))
        clouds = tuple((x + CLOUD_DRIFT * t, y, r) for x, y, r in clouds0)
        X, Y = frame_to_world(cam, fw, fh)
        full = render(moved, style, world, clouds=clouds)
        yield np.clip(sample(full, X, Y).round(), 0, 255).astype(np.uint8)


def render_clip(
    seed: int, index: int, frames: int, size: int
) -> tuple[np.ndarray, np.ndarray, list[tuple[float, float, float]]]:
    """Clip `index` of the world `seed`: (summer, winter, cameras), the clips uint8 (frames, 1.125 SIZE,
    1.5 SIZE, 3), frame t of winter the true rendering of frame t of summer. Held whole: for short clips
    (tests, benchmarks); `write_clips` encodes `clip_frames` as they come."""
    summer, winter = (np.stack(list(clip_frames(seed, index, frames, size, style))) for style in ("summer", "winter"))
    return summer, winter, camera_path(frames, size, seed, index)


def write_clips(
    root: str | Path, *, write_clip, count: int, frames: int, size: int, seed: int, rate: int = 12, progress=True
) -> Path:
    """OUT/videoA/clip_NNN.mp4 (summer), OUT/videoB/clip_NNN.mp4 (its true winter) and
    OUT/cameras/clip_NNN.json (the camera per frame, for `cyclegan.evaluate.video`). `write_clip(path,
    frames, rate=...)` encodes a clip (`cyclegan.clipio.write_clip`: passed in, as clipio is a layer above)."""
    root = Path(root)
    try:
        folders = [root / d for d in ("videoA", "videoB", "cameras")]
        for d in folders:
            d.mkdir(parents=True, exist_ok=True)
        with marked_unfinished(folders):  # a killed rendering's part is named as one, as `write_dataset`'s
            for i in progress_bar(
                iterable=range(count), desc="rendering summer/winter clips", unit="clip", enabled=progress
            ):
                name = f"clip_{i:03d}"
                # frame by frame into the encoder: the whole clip held in memory was --frames x 21 MB at --size 2048
                write_clip(root / "videoA" / f"{name}.mp4", clip_frames(seed, i, frames, size, "summer"), rate=rate)
                write_clip(root / "videoB" / f"{name}.mp4", clip_frames(seed, i, frames, size, "winter"), rate=rate)
                cameras = camera_path(frames, size, seed, i)
                meta = {"seed": seed, "index": i, "size": size, "cameras": cameras, "camera": __doc__.split("\n\n")[1]}
                text = json.dumps(meta, indent=1)  # written whole, as the clips are: a half file is no camera
                write_atomic(root / "cameras" / f"{name}.json", lambda tmp, text=text: Path(tmp).write_text(text))
    except OSError as e:  # read-only, full, or a file where a folder should be: one line, as write_dataset says it
        raise CycleGANError(f"cannot write the dataset in {root}: {e.filename or root}: {e.strerror or e}") from None
    return root
