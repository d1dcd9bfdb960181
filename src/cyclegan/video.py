"""Clips through a generator: `translate_video` (the Python API) and `translate_clips` (what `cyclegan
translate` calls for the clips among its inputs).

Frames stream from `cyclegan.clipio` in batches, are translated as images are (`cyclegan.inference`: padded
to the network's multiple; a frame whose activations exceed `--max-memory` goes in tiles with thumbnail
statistics), and are kept consistent in time by `cyclegan.temporal` (shared InstanceNorm statistics, a
flow-guided blend). Memory: one batch of frames and the generator's activations for them, bounded by
`--max-memory`, whatever the clip's length.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F_
from torch import nn

from .clipio import ANIMATED_IMAGES, check_clip_output, print_warning, probe, shown_size, size_steps, transcode
from .data.io import MAX_PIXELS, long_side_shape, megapixels, size_keeping
from .errors import CycleGANError, check_flag, counted, escape
from .execution import REFERENCE, Execution
from .files import IMAGE_EXTENSIONS, check_outputs, claim_file, home_expanded, output_claimed
from .inference import (
    TILING_KEYWORDS,
    as_int,
    check_net,
    check_size,
    check_whole,
    in_use,
    keyword_names,
    on_device,
    translate_batch,
    translate_tensor,
    uncompiled,
)
from .progress import on_terminal
from .temporal import FlowBlend, SceneCuts, SharedNormStats, check_blend_memory, check_flow_sides, check_opencv
from .tiling import activation_bytes, as_bytes, least_size, per_instance_norms, plan_for, thumbnail_of, translate_tiled
from .translate_options import DEFAULT_THUMBNAIL, TemporalOptions, TilingOptions

DEFAULT_BATCH = 4  # frames decoded and translated at once (fewer where --max-memory says so)


def to_frames(x: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) in [-1, 1], or uint8, -> uint8 (N, H, W, 3) on the CPU, rounding as `data.io.to_pil`; made
    bytes where `x` is, so a GPU's frames cross its PCIe link as bytes (in float, 4x as many)."""
    if x.dtype != torch.uint8:
        x = ((x.detach().float().clamp(-1, 1) + 1) / 2 * 255).round().to(torch.uint8)
    return x.cpu().permute(0, 2, 3, 1).numpy()


def from_frames(frames: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> uint8 (N, 3, H, W), a view: converted to float on the device (`inference.on_device`),
    as float32 on the CPU it was 4x the bytes over a GPU's PCIe link."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)


def resize_frame(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """(N, 3, H, W) float in [-1, 1], or uint8 on the CPU, -> the same at (N, 3, h, w), bilinear and antialiased
    (uint8 rounded by the kernel: within a level of the float's values, rounded)."""
    y = F_.interpolate(x, size=(h, w), mode="bilinear", antialias=True, align_corners=False)
    return y if x.dtype == torch.uint8 else y.clamp(-1, 1)


class ClipTranslator:
    """Translates one clip's frames in order, carrying its temporal state from call to call: `__call__`
    takes uint8 (N, H, W, 3) frames and returns the translated frames, uint8 (N, H', W', 3)."""

    def __init__(
        self,
        net: nn.Module,
        *,
        temporal: TemporalOptions | None = None,
        tiling: TilingOptions | None = None,
        execution: Execution = REFERENCE,
        size: int | None = None,
        steps: tuple[int, int] = (2, 2),
    ):
        self.net, self.base = net, uncompiled(net)
        self.temporal = temporal or TemporalOptions()
        self.tiling = tiling or TilingOptions()
        self.execution, self.size, self.steps = execution, size, steps
        shared = self.temporal.norm_stats == "shared" and per_instance_norms(self.base)
        self.shared = SharedNormStats(self.base, self.temporal.norm_momentum) if shared else None
        self.blend = FlowBlend(self.temporal.flow_blend) if self.temporal.flow_blend > 0 else None
        # where the shared statistics start again; its flows kept for the blend, which needs the same
        self.cuts = SceneCuts(keep=self.blend is not None) if shared else None

    def out_size(self, width: int, height: int) -> tuple[int, int]:
        """(W, H) of the output frames for input frames of width x height (`size`: long side; sides rounded up
        to multiples of `steps`, what the output's pixel format takes: `clipio.size_steps`, even in 4:2:0)."""
        if not self.size:
            return width, height
        h, w = long_side_shape(height, width, self.size)
        return w + -w % self.steps[0], h + -h % self.steps[1]

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        x = from_frames(frames)
        if self.size:  # resized where the generator is, and kept there: a frame in tiles was copied back, in float
            w, h = self.out_size(x.shape[-1], x.shape[-2])
            p = next(self.base.parameters())
            # frame by frame: the batch in float at its source size was 4x its bytes at once (95 MiB for 4 frames of
            # 1080p made 256 px wide: measured, the peak over a batch 127 MiB above a frame's); the same values.
            # On the CPU in uint8, as an image is resized: a frame made float first was 4x its bytes again (a 4K
            # frame's 100 MB); CUDA's antialiased resize takes no uint8, so on a GPU in float there.
            on_cpu = p.device.type == "cpu"
            x = torch.cat([resize_frame(f[None] if on_cpu else on_device(f[None], p), h, w) for f in x])
            if self.cuts is not None or self.blend is not None:  # what they compare, as bytes
                frames = to_frames(x)
        flows = [None] * len(x)
        if self.cuts is not None:
            self.shared.restart = [self.cuts(f) for f in frames]
            flows = self.cuts.take() or flows  # (H, W, 2) float32 per frame of the batch: 8 bytes a pixel
        out = to_frames(self._translate(x))  # uint8 for uint8 frames; float for frames resized in float
        if self.blend is not None:
            out = np.stack([self.blend(f, o, b) for f, o, b in zip(frames, out, flows)])
        return out

    def _translate(self, x: torch.Tensor) -> torch.Tensor:
        with in_use(self.net):  # the shared statistics swap the net's InstanceNorm layers: one thread at a time
            return self._translate_frames(x)

    def _translate_frames(self, x: torch.Tensor) -> torch.Tensor:
        if self.shared is None:
            return translate_batch(self.net, x, tiling=self.tiling, execution=self.execution)
        h, w = x.shape[-2:]
        plan = plan_for(self.tiling, self.base, h, w)
        run = lambda t: translate_tensor(self.base, t, execution=self.execution)  # noqa: E731 - eager: layers swapped
        with self.shared.active():
            restart, outs = self.shared.restart, []
            if plan.whole:  # as many frames at once as fit the memory budget, in order
                n = max(1, int(self.tiling.max_memory * 1e9 // activation_bytes(self.base, h, w)))
                for i in range(0, len(x), n):
                    self.shared.restart = restart[i : i + n]
                    y = run(x[i : i + n])
                    outs.append(as_bytes(y).cpu())  # rounded as frame by frame; bytes, from a GPU too
                return torch.cat(outs)
            # --thumbnail 0 (each tile its own statistics) still needs one here, within --max-memory: the whole
            # frame (what it took) is what did not fit.
            thumb = (
                plan.thumbnail
                or plan_for(dataclasses.replace(self.tiling, thumbnail=DEFAULT_THUMBNAIL), self.base, h, w).thumbnail
            )
            for i, xi in enumerate(x):  # a large frame: its thumbnail updates the statistics, its tiles use them
                self.shared.update, self.shared.restart = True, restart[i : i + 1]
                run(thumbnail_of(xi[None], thumb, device=next(self.base.parameters()).device))
                self.shared.update = False
                outs.append(translate_tiled(self.base, xi[None], dataclasses.replace(plan, thumbnail=0), run=run))
            self.shared.update = True
            return torch.cat(outs)


def translate_clip(
    net: nn.Module,
    src: str | Path,
    dst: str | Path,
    *,
    temporal: TemporalOptions | None = None,
    tiling: TilingOptions | None = None,
    execution: Execution = REFERENCE,
    size: int | None = None,
    batch_size: int = DEFAULT_BATCH,
    max_pixels: int = MAX_PIXELS,
    progress: bool = True,
    replace: bool = True,
    size_name: str = "--size",
    data_left_out: list[Path] | None = None,
    warn: Callable[[str], None] | None = None,
    keep_location: bool = False,
) -> int:
    """Translate the clip `src` into `dst` (no checks of `dst`: see `translate_video`); returns its frame
    count. Raises CycleGANError naming `src` in one line if it cannot be read; nothing is then left at `dst`.
    `replace` False: refused in one line, and left alone, if a file appeared at `dst` while it was translated.
    `size_name`: what a warning calls `size` (`translate_video`'s caller typed no `--size`); `data_left_out`:
    `warn` (where its warnings go: stderr by default) and `keep_location` as `clipio.transcode`'s."""
    check_size(net, size)
    info = probe(src)
    # sides rounded only as far as the output's pixel format needs: a GIF of 33 px was stretched to 34, a 4:4:4 clip too
    steps = size_steps(src, dst, long_side_shape(info.height, info.width, size)[::-1]) if size else (1, 1)
    translator = ClipTranslator(net, temporal=temporal, tiling=tiling, execution=execution, size=size, steps=steps)
    out_size = None
    w, h = translator.out_size(info.width, info.height)
    if size:
        out_size = w, h
        shown = "x".join(map(str, shown_size(src, w, h)))  # a portrait phone clip's, not its stored landscape
        if w * h > max_pixels:  # frames resized up are held to the decode cap too
            raise CycleGANError(
                f"cannot translate clip {src} at size {size}: its frames would be {shown} pixels "
                f"({megapixels(w * h)}), over the cap of {max_pixels} pixels (--max-pixels); give a smaller size"
            )
        least = least_size(uncompiled(net))
        if min(w, h) < min(least, info.width, info.height):  # as for an image: size, not the clip, made it thin
            need = size_keeping(info.height, info.width, least)
            msg = f"warning: {src} at {size_name} {size} is {shown} px, under the {least} px the generator takes"
            (warn or print_warning)(f"{msg} (padded, little of it left); {size_name} {need} keeps its short side")
    if translator.blend is not None and w * h <= max_pixels:  # over the cap: named as such by `transcode`
        # before any work, not once out of memory or after a frame; a phone's portrait clip said as it plays
        shown_wh = shown_size(src, w, h)
        check_flow_sides(*shown_wh)
        check_blend_memory(src, *shown_wh, translator.tiling.max_memory)
    with torch.no_grad():
        return transcode(
            src,
            dst,
            translator,
            out_size=out_size,
            batch=batch_size,
            max_pixels=max_pixels,
            progress=progress,
            replace=replace,
            data_left_out=data_left_out,
            warn=warn,
            keep_location=keep_location,
        )


def shares_nothing(net: nn.Module, temporal: TemporalOptions | None) -> bool:
    """Whether `temporal` asks for shared statistics that change nothing for `net`: a generator without
    per-instance normalisation (batch norm, none), whose clip is translated frame by frame all the same."""
    return temporal is not None and temporal.norm_stats == "shared" and not per_instance_norms(uncompiled(net))


def warn_if_nothing_shared(
    net: nn.Module, temporal: TemporalOptions | None, asked: str = "--norm-stats shared"
) -> None:
    """Say (a warning) that `asked` changes nothing (`shares_nothing`): it was taken without a word."""
    if shares_nothing(net, temporal):
        print_warning(
            f"warning: {asked} changes nothing here: this generator has no InstanceNorm layers whose statistics it "
            "would share (its normalisation is the same for every frame already)"
        )


def check_temporal_needs(net: nn.Module, temporal: TemporalOptions | None) -> None:
    """Refuse in one line, before any clip, `temporal` options whose OpenCV is not installed (`check_opencv`)."""
    temporal = temporal or TemporalOptions()
    shared = temporal.norm_stats == "shared" and bool(per_instance_norms(uncompiled(net)))
    check_opencv(temporal, shared=shared)


def check_clip_arguments(
    *,
    temporal: TemporalOptions | None = None,
    tiling: TilingOptions | None = None,
    batch_size: int = DEFAULT_BATCH,
    max_pixels: int = MAX_PIXELS,
    execution: Execution = REFERENCE,
    progress: bool = True,
    overwrite: bool = False,
    **_,
) -> None:
    """Refuse, in one line naming the argument, what `translate_clip` would take wrongly from a Python caller
    (the CLI's options check their own): a batch under 1 held the whole clip's frames in memory, a
    `max_pixels` of 0 capped nothing, a dict for `temporal` failed deep inside, and `execution="fp32"` was an
    AttributeError traceback once the first frames were decoded; overwrite="no" replaced dst."""
    for name, value, kind in (("temporal", temporal, TemporalOptions), ("tiling", tiling, TilingOptions)):
        if value is not None and not isinstance(value, kind):
            raise CycleGANError(f"{name}: expected a {kind.__name__} or None, got {type(value).__name__}")
    if not isinstance(execution, Execution):
        raise CycleGANError(
            f"execution: expected an Execution (cyclegan.execution.choose_execution), got {type(execution).__name__}"
        )
    for name, flag in (("progress", progress), ("overwrite", overwrite)):
        check_flag(name, flag)  # "no" was taken as True: overwrite="no" replaced the file
    check_whole("batch_size", batch_size)
    check_whole("max_pixels", max_pixels)


# The flags the clip's messages name, as this function's caller sets them ("(or --flow-blend 0)" without OpenCV)
VIDEO_KEYWORDS = {"--out": "dst", "--overwrite": "overwrite=True", "--size": "size", "--max-pixels": "max_pixels"}
VIDEO_KEYWORDS |= {"--flow-blend 0": "temporal=TemporalOptions(flow_blend=0)"}
VIDEO_KEYWORDS |= {"--norm-stats frame": 'temporal=TemporalOptions(norm_stats="frame")'}
# without OpenCV: what needs it, and both fixes as one keyword (temporal= cannot be given twice)
VIDEO_KEYWORDS |= {"--norm-stats shared": 'TemporalOptions(norm_stats="shared")'}
VIDEO_KEYWORDS |= {
    "--flow-blend 0 and --norm-stats frame": 'temporal=TemporalOptions(flow_blend=0, norm_stats="frame")'
}


@keyword_names(TILING_KEYWORDS | VIDEO_KEYWORDS)
def translate_video(
    G: nn.Module,
    src: str | Path,
    dst: str | Path,
    *,
    temporal: TemporalOptions | None = None,
    tiling: TilingOptions | None = None,
    size: int | None = None,
    batch_size: int = DEFAULT_BATCH,
    max_pixels: int = MAX_PIXELS,
    execution: Execution = REFERENCE,
    progress: bool | None = None,
    overwrite: bool = False,
    keep_location: bool = False,
) -> int:
    """Translate a clip with a generator from `cyclegan.load_generator`; returns its frame count.

    `src`: MP4, MOV, MKV, WebM, or an animated GIF/WebP; `dst`: the output file, whose extension names the
    container (.mp4, .m4v, .mov, .mkv, .webm; .gif or .webp, from a video too, through the writer `cyclegan
    translate` uses for GIFs, without sound): the same frame count, timing and size, the audio streams (and the
    subtitles the container takes) copied into a video (the picture in the source's codec where the container
    takes it, else H.264, VP9 in WebM, named in a warning).
    Refuses (CycleGANError, one line, before any work) an extension it cannot write (a GIF or WebP source is
    written as GIF or WebP only), to replace `src`, or an existing `dst` unless `overwrite`; and, in one line
    with nothing left at `dst`, a sound the output's container does not take (AAC into WebM).
    `temporal`: shared normalisation statistics and the flow blend (`cyclegan.translate_options.TemporalOptions`,
    defaults as measured); `tiling`: when and how large frames go in tiles (`TilingOptions`: `translate`'s
    tile, tile_overlap, max_memory, thumbnail); `size`: the frames' long side; `batch_size` frames at once;
    `max_pixels`: the decode cap; `execution`: as `cyclegan.execution.choose_execution` picks (fp32 if not
    given); `progress`: a bar of frames on stderr (default: when stderr is a terminal, as a download's bar);
    `keep_location`: copy the source's tags of where it was shot too (left out by default).
    Each is checked in one line before any work.
    """
    check_net(G)
    progress = on_terminal() if progress is None else progress  # a notebook's or a log's stderr: no bar
    size, batch_size, max_pixels = as_int(size), as_int(batch_size), as_int(max_pixels)
    kwargs = dict(tiling=tiling, size=size, batch_size=batch_size, max_pixels=max_pixels, execution=execution)
    check_clip_arguments(temporal=temporal, progress=progress, overwrite=overwrite, **kwargs)
    check_flag("keep_location", keep_location)  # "no" would have kept it
    for name, path in (("src", src), ("dst", dst)):
        if not isinstance(path, (str, os.PathLike)) or isinstance(os.fspath(path), bytes):
            raise CycleGANError(f"{name}: expected a file's path (str or pathlib.Path), got {type(path).__name__}")
    src, dst = Path(home_expanded(src)), Path(home_expanded(dst))  # a Python caller's ~ (no shell expands it)
    if src.is_dir():  # it said "clip not found" of a folder that is there
        raise CycleGANError(f"{src} is a folder: give a clip file (`cyclegan translate` takes folders of clips)")
    if not src.is_file():
        raise CycleGANError(f"clip not found: {src}")
    if src.suffix.lower() in set(IMAGE_EXTENSIONS) - set(ANIMATED_IMAGES):  # a PNG became an MP4 of one frame
        raise CycleGANError(f"{src} is a still image, not a clip: translate it with cyclegan.translate(G, path)")
    check_clip_output(src, dst)
    check_outputs([dst], overwrite=overwrite, inputs=[src])
    warn_if_nothing_shared(G, temporal, 'TemporalOptions(norm_stats="shared")')
    check_temporal_needs(G, temporal)
    # one writer of dst at a time, which removes a killed one's hidden `.NAME.XXXXXXXX.tmp` (a clip's can be gigabytes;
    # `cyclegan translate` removed it, this call left it beside its output for ever)
    with claim_file(dst, "dst"):
        return translate_clip(
            G,
            src,
            dst,
            temporal=temporal,
            progress=progress,
            replace=overwrite,
            size_name="size",
            keep_location=keep_location,
            **kwargs,
        )


def translate_clips(
    net: nn.Module,
    targets: dict[Path, Path],
    errors: list[str],
    *,
    on_done: Callable[[Path], None] | None = None,
    **kwargs,
) -> list[Path]:
    """Translate each clip in `targets` (input -> checked output) with `translate_clip`; a clip that cannot
    be read is named in `errors` and the next one still translated. Returns the files written."""
    written, data = [], []  # data: the clips whose data streams alone were left out
    warn_if_nothing_shared(net, kwargs.get("temporal"))
    for src, dst in targets.items():
        try:
            with output_claimed(dst):  # one writer of the name: a `translate_video` of it keeps its temporary
                try:
                    translate_clip(net, src, dst, data_left_out=data, **kwargs)
                except CycleGANError as e:
                    named = escape(str(src)) in str(e)  # as the message writes it: a name's control characters escaped
                    errors.append(str(e) if named else f"{src}: {e}")  # each line names its clip, once
                    continue
        except CycleGANError as e:  # its name held by another run: "walk.mp4" is in "out/walk.mp4", yet unnamed
            errors.append(f"{src}: {e}")
            continue
        written.append(dst)
        if on_done:
            on_done(src)
    if data:  # one line for all: a line per clip for every phone clip's metadata track buried the errors
        names = ", ".join(p.name for p in data[:3]) + (", ..." if len(data) > 3 else "")
        msg = (
            f"warning: {counted(len(data), 'clip')} {'holds' if len(data) == 1 else 'hold'} data streams (timed "
            f"metadata, a timecode), left out of their translations: {names}"
        )
        print_warning(msg)
    return written
