"""Scores of a translated clip against its true clip: per-frame PSNR and SSIM, and flicker.

Temporal error (Lai et al. 2018, "Learning Blind Video Temporal Consistency", with the true motion instead
of estimated flow): the mean absolute difference, in grey levels (0-255), between each frame and the
previous frame warped onto it by the camera's known motion (`data.synthetic_video`), over the pixels both
frames see. The true clip changes too (the sun and clouds move, resampling blurs), so the figure that
counts is the *excess*: the output's temporal error minus the true clip's. 0 means no flicker beyond the
truth's own change; a clip that only pans scores 0 when translated pixel by pixel, and flicker added to
it raises the excess in proportion.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..data.synthetic_video import frame_to_world, sample, world_to_frame
from .metrics import MetricInputError, psnr, ssim

Camera = tuple[float, float, float]


def temporal_difference(frames: np.ndarray, cameras: list[Camera], t: int) -> tuple[np.ndarray, np.ndarray]:
    """|frame t - frame t-1 moved onto frame t by the camera| per pixel and channel (H, W, 3), float32 grey
    levels, and where frame t-1 sees the pixel (H, W) bool."""
    h, w = frames.shape[1:3]
    X, Y = frame_to_world(cameras[t], w, h)
    x, y = world_to_frame(cameras[t - 1], X, Y)
    seen = (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)
    return np.abs(frames[t].astype(np.float32) - sample(frames[t - 1], x, y)), seen


def temporal_error(frames: np.ndarray, cameras: list[Camera]) -> float:
    """Mean |frame t - frame t-1 moved onto frame t by the camera| over t >= 1 and the pixels both frames
    see; frames uint8 or float (T, H, W, 3) in 0..255, one camera (ox, oy, s) per frame."""
    _check_cameras(frames, cameras)
    if len(frames) < 2:
        return 0.0
    errors = []
    for t in range(1, len(frames)):
        diff, seen = temporal_difference(frames, cameras, t)
        errors.append(float(diff[seen].mean()))
    return float(np.mean(errors))


def _check_cameras(frames: np.ndarray, cameras: list[Camera]) -> None:
    """One camera per frame: fewer was an IndexError mid-clip, more scored the frames without a word."""
    if len(cameras) != len(frames):
        raise MetricInputError(f"{len(frames)} frames but {len(cameras)} cameras: give the camera of each frame")


@dataclass(frozen=True)
class ClipScores:
    psnr: float  # dB, mean over frames, against the true clip
    ssim: float  # mean over frames
    temporal: float  # temporal error of the output (grey levels)
    temporal_truth: float  # the same for the true clip

    @property
    def excess(self) -> float:
        """The output's temporal error beyond the truth's: flicker (0: none)."""
        return self.temporal - self.temporal_truth

    def as_dict(self) -> dict:
        return {**asdict(self), "excess": self.excess}


def _unit(frames: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255


def score_clip(output: np.ndarray, truth: np.ndarray, cameras: list[Camera]) -> ClipScores:
    """Scores of `output` against `truth`, both uint8 (T, H, W, 3), with the camera of each frame."""
    if output.shape != truth.shape:
        raise MetricInputError(f"output {output.shape} and truth {truth.shape} differ in shape")
    _check_cameras(output, cameras)
    a, b = _unit(output), _unit(truth)
    return ClipScores(
        psnr=float(psnr(a, b, value_range=(0, 1)).mean()),
        ssim=float(ssim(a, b, value_range=(0, 1)).mean()),
        temporal=temporal_error(output, cameras),
        temporal_truth=temporal_error(truth, cameras),
    )
