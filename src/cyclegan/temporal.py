"""Temporal consistency for clips translated frame by frame: the two causes of flicker, each an option.

(a) **Shared normalisation statistics.** Every InstanceNorm normalises a frame by that frame's own mean and
variance, so a cloud entering the view re-tones the whole frame (the cause of tile seams, see
`cyclegan.tiling`). `SharedNormStats` swaps each per-instance InstanceNorm's forward for one that
normalises with a running estimate over the clip (an exponential moving average, weight `momentum` for the
newest frame, started at the first frame's own statistics, and again at each scene cut, `SceneCuts`) instead;
frames in a batch are taken in order, so a batch computes what frame-at-a-time would.

(b) **A flow-guided blend.** Small changes of the input are amplified by the generator. `FlowBlend` warps
the previous *output* onto the current frame by the optical flow of the *inputs* (OpenCV's DIS flow, a CPU
real-time method) and blends it in with weight `alpha` where the flow is reliable: forward and backward
flow agree (Sundaram et al. 2010) and the warped previous input matches the current one (so new content,
a moving sun or disocclusions take the current output; a frame most of whose pixels changed, a scene cut,
takes it whole and starts afresh).

`TemporalOptions` (in `translate_options`) holds both (flattened into `translate`'s flags); the defaults are
what the measurements on the synthetic clips favour (docs/results.md, "Video").
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from .errors import CycleGANError, install_extra

if TYPE_CHECKING:  # torch on use: the web page reads TemporalOptions without it
    import torch
    from torch import nn

    from .translate_options import TemporalOptions

# Where the warped previous input differs from the current one by this many grey levels (mean over RGB)
# or more, the flow is not trusted: new content takes the current output alone (linear ramp from 0).
PHOTOMETRIC_TOLERANCE = 24.0


class SharedNormStats:
    """A running estimate of each per-instance InstanceNorm layer's input statistics over a clip.

    Within `active()`, `net`'s InstanceNorm layers normalise with the running estimate; while `update` is
    True each forward pass first folds its inputs' statistics (frame by frame, in batch order) into it, when
    False (the tiles of a large frame after its thumbnail pass) they use it unchanged. `restart`: for each
    frame of the next passes, whether the estimate starts again at its own statistics (a scene cut: the last
    scene's tones stayed for 10-20 frames at the default momentum)."""

    def __init__(self, net: nn.Module, momentum: float):
        self.net, self.momentum, self.update = net, momentum, True
        self.stats: dict[nn.Module, tuple[torch.Tensor, torch.Tensor]] = {}  # layer -> (mean (C,), var (C,))
        self.restart: list[bool] = []

    def _normalise(self, m: nn.Module, x: torch.Tensor) -> torch.Tensor:
        import torch

        from .tiling import _fixed_norm

        if not self.update:
            if m not in self.stats:
                raise CycleGANError("shared statistics were used before any frame was seen")
            mean, var = self.stats[m]
            return _fixed_norm(m, mean[None], var[None], x)
        var_x, mean_x = torch.var_mean(x.float(), dim=(2, 3), unbiased=False)  # (B, C)
        state, means, vars_ = self.stats.get(m), [], []
        k = self.momentum
        for i, (mb, vb) in enumerate(zip(mean_x, var_x)):
            if state is None or (i < len(self.restart) and self.restart[i]):
                state = (mb, vb)
            else:
                state = ((1 - k) * state[0] + k * mb, (1 - k) * state[1] + k * vb)
            means.append(state[0])
            vars_.append(state[1])
        self.stats[m] = state
        return _fixed_norm(m, torch.stack(means), torch.stack(vars_), x)

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        from .tiling import per_instance_norms

        swapped = []
        try:
            for m in per_instance_norms(self.net):
                m.forward = lambda x, m=m: self._normalise(m, x)  # instance attribute, removed below
                swapped.append(m)
            yield
        finally:
            for m in swapped:
                del m.forward


# The flow blend's peak memory, bytes a pixel of a frame (its state, two flows, the warp and the blend): 63-73
# measured (resident, 1080p to 8K; `--max-memory` holds it). A bound, so that a clip's frames are refused before
# work, not after the memory ran out.
BLEND_BYTES = 80


def blend_gb(width: int, height: int) -> float:
    """GB the flow blend takes for frames of `width` x `height` (`BLEND_BYTES` a pixel)."""
    return BLEND_BYTES * width * height / 1e9


def check_blend_memory(src: object, width: int, height: int, max_memory: float) -> None:
    """Refuse (one line naming clip `src`) frames of `width` x `height` whose flow blend would take more than
    `max_memory` GB (`--max-memory`, which bounds the generator's activations: the blend runs after them)."""
    need = blend_gb(width, height)
    if need > max_memory:
        raise CycleGANError(
            f"cannot translate clip {src}: the flow blend of its {width}x{height} frames takes about {need:.2g} GB, "
            f"over --max-memory {max_memory:g}; give --max-memory {math.ceil(need * 10) / 10:g}, a smaller --size, "
            "or --flow-blend 0"
        )


FLOW_MAX_SIDE = 32767  # OpenCV's remap (and DIS, which uses it) takes sides below SHRT_MAX


def check_flow_sides(width: int, height: int) -> None:
    """Refuse (one line) frames of `width` x `height` for the flow blend where a side is `FLOW_MAX_SIDE` or more:
    OpenCV's remap raised a raw cv2.error after a frame. Callers pass a clip's frames as they are shown
    (`clipio.shown_size`: a phone's portrait clip, not its stored landscape); `FlowBlend` its frames as given."""
    if max(width, height) >= FLOW_MAX_SIDE:
        raise CycleGANError(
            f"the flow blend takes frames under {FLOW_MAX_SIDE} px a side (OpenCV's limit), not {width}x{height}: "
            "pass --flow-blend 0, or --size to scale them"
        )


def import_cv2():
    """`import cv2` (ImportError where OpenCV is not installed), the process's environment left as it was: OpenCV's
    loader prepends its library folder to LD_LIBRARY_PATH on first import, for the subprocesses started after it,
    so a Python caller's `translate_video` set a variable in that caller's environment behind its back."""
    before = os.environ.copy()
    try:
        import cv2  # on use: optional dependency
    finally:
        for name in os.environ.keys() - before.keys():
            del os.environ[name]
        os.environ.update({name: value for name, value in before.items() if os.environ.get(name) != value})
    return cv2


def _cv2(user: str = "the flow blend", fix: str = "--flow-blend 0"):
    try:
        cv2 = import_cv2()
    except ImportError:
        raise CycleGANError(f"{user} needs OpenCV: {install_extra('video')} (or {fix})") from None
    return cv2


def check_opencv(temporal: TemporalOptions, *, shared: bool) -> None:
    """Refuse in one line, before any clip, options of `temporal` that need OpenCV where it is not installed:
    what needs it and each option that does without (`shared`: the shared statistics apply, so their
    scene-cut test runs). Before, each clip failed alone with the scene-cut test's fix, and with both on the
    blend's was the next run's error."""
    blend = temporal.flow_blend > 0
    users = ["the flow blend"] * blend + ["the scene-cut test of --norm-stats shared"] * shared
    if not users:
        return
    try:
        import_cv2()
    except ImportError:
        fixes = " and ".join(["--flow-blend 0"] * blend + ["--norm-stats frame"] * shared)
        need = "needs" if len(users) == 1 else "need"
        raise CycleGANError(f"{' and '.join(users)} {need} OpenCV: {install_extra('video')} (or {fixes})") from None


def _dis() -> object:
    """OpenCV's DIS flow at its fast preset (one per user: it keeps its buffers from call to call)."""
    cv2 = _cv2()
    return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)


def _dis_flow(dis, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """DIS flow (H, W, 2) from grey `a` to `b` (`dis`: from `_dis`). Where a frame's pyramid is shallower than
    the preset's finest level (a side under 32 px, or the long side under 91), OpenCV picks other scales by the
    width alone, which crashed the process (a segmentation fault: an 88x31 GIF, a 100x16 clip) where the height
    cannot hold them; there the levels are chosen from the pyramid that fits, and a frame too small for any
    pyramid (a side under 12 px) is padded by its edges."""
    cv2 = _cv2()
    h, w = a.shape
    if min(h, w) >= 32 and max(h, w) >= 91:
        return dis.calc(a, b, None)
    ph, pw = max(0, 12 - h), max(0, 12 - w)
    if ph or pw:
        a, b = (cv2.copyMakeBorder(g, 0, ph, 0, pw, cv2.BORDER_REPLICATE) for g in (a, b))
    hh, ww = a.shape  # OpenCV's coarsest level, as it computes it (C casts truncate toward 0)
    coarsest = min(int(np.log2(max(hh, ww) / 32) + 0.5), int(np.log2(min(hh, ww) / 8)))
    small = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
    small.setFinestScale(max(0, coarsest - 2))  # as OpenCV's own choice there, on a pyramid that fits
    return small.calc(a, b, None)[:h, :w]


def _remapper(back: np.ndarray):
    """(x map, y map, remap): an image of the previous frame warped onto the current one by `back`, the flow
    from the current frame to the previous (current pixel x is at x + back(x) there)."""
    cv2 = _cv2()
    h, w = back.shape[:2]
    mx, my = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    mx += back[..., 0]
    my += back[..., 1]
    return mx, my, lambda a: cv2.remap(a, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _change(prev_frame: np.ndarray, frame: np.ndarray, remap) -> np.ndarray:
    """Per pixel, how far the warped previous RGB frame is from the current one (mean over RGB, grey levels)."""
    return np.abs(remap(prev_frame.astype(np.float32)) - frame).mean(-1)


def is_cut(change: np.ndarray) -> bool:
    """A scene cut: most pixels differ from the warped previous frame by the tolerance or more."""
    return bool(np.median(change) >= PHOTOMETRIC_TOLERANCE)


class SceneCuts:
    """Tells, frame by frame, where a new scene starts as `FlowBlend` tells it: call with consecutive uint8
    (H, W, 3) frames; True for a cut (and for a first frame, or one of another size than the previous).
    `keep`: each call's backward flow (None where none was computed) is kept in `flows`, in order, for a
    `FlowBlend` over the same frames (`take`): the flow, the costly part, is then computed once a frame."""

    def __init__(self, *, keep: bool = False):
        _cv2("shared statistics across scene cuts", "--norm-stats frame")
        self.dis = _dis()
        self.prev: tuple[np.ndarray, np.ndarray] | None = None  # grey, RGB
        self.keep, self.flows = keep, []

    def __call__(self, frame: np.ndarray) -> bool:
        cv2 = _cv2()
        grey, prev = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), self.prev
        self.prev = (grey, frame)
        back = None
        try:
            if prev is None or prev[0].shape != grey.shape:
                return True
            if max(grey.shape) >= FLOW_MAX_SIDE:  # OpenCV's remap cannot: frames that large keep one estimate
                return False
            back = _dis_flow(self.dis, grey, prev[0])
            return is_cut(_change(prev[1], frame, _remapper(back)[2]))
        finally:
            if self.keep:
                self.flows.append(back)

    def take(self) -> list[np.ndarray | None]:
        """The backward flows kept since the last `take` (`keep`), one per frame, in order."""
        flows, self.flows = self.flows, []
        return flows


class FlowBlend:
    """Blend each output frame with the previous (blended) output, warped by the inputs' optical flow.

    Call with consecutive frames: `blend(input (H, W, 3) uint8, output (H, W, 3) uint8)` -> the blended
    output, uint8. A frame of another size than the previous one starts afresh. `back`: the flow from this
    input to the previous one where it was already computed (`SceneCuts(keep=True)` over the same frames)."""

    def __init__(self, alpha: float):
        self.dis = _dis()
        self.alpha = alpha
        self.prev: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # grey input, RGB input, output

    def __call__(self, frame: np.ndarray, out: np.ndarray, back: np.ndarray | None = None) -> np.ndarray:
        cv2 = _cv2()
        if self.alpha:  # `translate_clip` said it before the work, at the size the clip is shown at
            check_flow_sides(frame.shape[1], frame.shape[0])
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        if self.prev is None or self.prev[0].shape != grey.shape or self.alpha == 0:
            self.prev = (grey, frame, out.astype(np.float32))
            return out
        prev_grey, prev_frame, prev_out = self.prev
        # float32 throughout, temporaries dropped as soon as used: `BLEND_BYTES` per pixel at the peak (float64
        # products made it 155).
        if back is None:  # current pixel x is at x + back(x) in the previous frame
            back = _dis_flow(self.dis, grey, prev_grey)
        h, w = grey.shape
        mx, my, remap = _remapper(back)
        fwd_back = remap(_dis_flow(self.dis, prev_grey, grey))
        # Forward-backward consistency: following the flow there and back returns to the start.
        reliable = ((back + fwd_back) ** 2).sum(-1) < 0.01 * ((back**2).sum(-1) + (fwd_back**2).sum(-1)) + 0.5
        del back, fwd_back
        reliable &= (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)
        change = _change(prev_frame, frame, remap)
        if is_cut(change):  # a scene cut: the pixels that matched by chance (up to
            self.prev = (grey, frame, out.astype(np.float32))  # 2%) brought the last scene's colours into this one
            return out
        weight = np.clip(1 - change / np.float32(PHOTOMETRIC_TOLERANCE), 0, 1, out=change)
        weight *= np.float32(self.alpha) * reliable
        blended = remap(prev_out)  # out + weight * (previous - out)
        blended -= out
        blended *= weight[..., None]
        blended += out
        self.prev = (grey, frame, blended)
        return np.clip(blended.round(), 0, 255).astype(np.uint8)
