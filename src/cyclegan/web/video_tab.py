"""The Video tab of `cyclegan serve`: an uploaded clip (MP4, MOV, MKV, WebM, animated GIF/WebP) through a
chosen model's generator, with the temporal-consistency options of `cyclegan translate`."""

from __future__ import annotations

import time
from pathlib import Path

import gradio as gr
from PIL import Image

from ..errors import CycleGANError, counted, flags_as_keywords
from ..options import named_as_flags
from .engine import (
    Cancelled,
    Engine,
    Stop,
    Stops,
    alert_text,
    literal,
    stopping,
    upload_box,
    user_errors,
    without_paths,
)
from .options import MB
from .uploads import display_name, output_name

CLIP_TYPES = [".mp4", ".mov", ".m4v", ".mkv", ".webm", ".gif", ".webp"]
ANIMATED = (".gif", ".webp")  # read by Pillow (`clipio`), which opens some forty formats by their content
SHARED_BOX = "(a) normalisation statistics shared across the clip"
BLEND_SLIDER = "(b) flow blend (0: off)"
# The temporal options as `check_opencv` names them, in the tab's words: its box and its slider
OPENCV_ON_PAGE = {
    "--flow-blend 0": f'"{BLEND_SLIDER}": 0',
    "--norm-stats frame": f'"{SHARED_BOX}" unticked',
    "--norm-stats shared": f'"{SHARED_BOX}"',
}


def check_held_on_page(name: str, suffix: str, frames: int, width: int, height: int, max_pixels: int) -> None:
    """Refuse, in the page's words, a GIF or WebP whose frames in all are more than Pillow's writer may hold until
    it writes (`clipio.check_held`: a WebP's to --max-pixels, a GIF's to 3x, at 1 byte a pixel). The library's
    refusal advised "write an MP4 ... or give a smaller --size": the page writes a clip in its own kind and has no
    size; a WebP was found out after translating the frames under the limit."""
    from ..clipio import ANIMATED_NAMES, HELD_BYTES  # on first use (PyAV)

    if suffix not in HELD_BYTES:
        return
    total, limit = frames * width * height, 3 * max_pixels // HELD_BYTES[suffix]
    if total > limit:
        kind = ANIMATED_NAMES[suffix]
        times = "" if limit == max_pixels else f"{limit // max_pixels} x "
        other = " or GIF" if suffix == ".webp" else ""
        raise CycleGANError(
            f"{name}: an animated {kind} is written whole at the end, and its {frames} frames of {width}x{height} "
            f"are {total / 1e6:.3g} MP, over this server's limit of {times}{max_pixels / 1e6:g} MP (cyclegan serve "
            f"--max-pixels); convert it to MP4{other} and upload that"
        )


def check_blend(name: str, width: int, height: int, flow_blend: float, limit: float) -> None:
    """Refuse, in the page's words, frames whose flow blend would take more than `limit` GB (`serve
    --max-memory`): the library's line said "give --max-memory 1.6, a smaller --size", neither of which the page
    has nor its visitor can set."""
    from ..temporal import BLEND_BYTES, blend_gb  # on use, as the tab's other imports

    if flow_blend and (need := blend_gb(width, height)) > limit:
        raise CycleGANError(
            f"{name}'s frames of {width}x{height} need about {need:.2g} GB for the flow blend, over the {limit:g} GB "
            f"this server gives it (frames of up to {limit * 1e9 / BLEND_BYTES / 1e6:.3g} MP; cyclegan serve "
            "--max-memory): set --flow-blend 0, or upload the clip at a smaller size"
        )


def check_opencv_on_page(G, temporal) -> None:
    """Refuse, in the page's words and before the clip, the tab's options that need OpenCV where the server has
    none (`video.check_temporal_needs`). The tab went straight to the clip, which failed on one need at a time
    (with both on, the flow blend's alone), naming the command line's `--norm-stats frame` ("(a) ..." frame)."""
    from ..video import check_temporal_needs  # on use, as the tab's other imports

    try:
        check_temporal_needs(G, temporal)
    except CycleGANError as e:
        raise CycleGANError(flags_as_keywords(str(e), OPENCV_ON_PAGE)) from None


class VideoTab:
    """The Video tab: its layout and its handler, over the server's `Engine`."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.stops = Stops("Video")  # a clip may take minutes: it had no Cancel, and ran on after its page was closed

    def layout(self, choices: list[tuple[str, str]]) -> gr.Dropdown:
        """Lay the tab out (inside the page's `gr.Tabs`) and wire its buttons; returns its model dropdown."""
        from ..translate_options import TemporalOptions  # its defaults (no torch)

        defaults = TemporalOptions()
        opts = self.engine.opts
        first = choices[0][1] if choices else None
        with gr.Tab("Video", id="video"):
            with gr.Row():
                with gr.Column(scale=1):
                    v_file = upload_box(
                        f"a clip (up to {opts.max_upload_mb:g} MB and {opts.max_clip_frames} frames)", "video-upload"
                    )
                    v_model = gr.Dropdown(choices, value=first, label="model", elem_id="video-model")
                    v_dir = self.engine.direction_radio(first, "direction (AtoB uses G, BtoA uses F)")
                    v_shared = gr.Checkbox(defaults.norm_stats == "shared", label=SHARED_BOX)
                    v_blend = gr.Slider(0, 0.95, value=defaults.flow_blend, step=0.05, label=BLEND_SLIDER)
                    with gr.Row():
                        v_go = gr.Button("Translate clip", variant="primary", elem_id="video-go")
                        v_cancel = gr.Button("Cancel", variant="stop", elem_id="video-cancel")
                with gr.Column(scale=2):
                    v_out = gr.Video(label="translated", elem_id="video-out")
                    v_info = gr.Markdown(elem_id="video-info")
                    v_download = gr.File(label="download", interactive=False, elem_id="video-download")
            self.engine.follow_direction(v_model, v_dir)  # a one-way model's own direction
            v_event = v_go.click(
                user_errors(
                    self.translate,
                    {"--checkpoint": v_model, "--direction": v_dir, "--norm-stats": v_shared, "--flow-blend": v_blend},
                ),
                [v_file, v_model, v_dir, v_shared, v_blend],
                [v_out, v_download, v_info],
                **self.engine.heavy_events,
            )
            self.stops.wire(v_cancel, v_event, v_info)
            self.stops.clear_on_failure(v_event, [v_out, v_download, v_info], v_info)
        return v_model

    def translate(
        self,
        upload: str | None,
        key: str | None,
        direction: str,
        shared: bool,
        blend: float,
        request: gr.Request | None = None,
    ):
        """Translate one uploaded clip. Returns (the clip to show, or None for GIF/WebP; the file to download;
        a line with its frames, size and seconds). An upload that is not a readable clip, or over the
        server's size limits, raises CycleGANError naming it. Cancel, or closing the page, stops it at its next
        batch of frames, leaving no output."""
        with self.stops.flag(request, said="cancelled; no clip written") as stop:
            return self._translate(upload, key, direction, shared, blend, stop)

    def _translate(self, upload, key, direction, shared, blend, stop: Stop):
        from ..clipio import count_frames, probe, shown_size  # on first use (PyAV)
        from ..data.io import sound_kind, video_kind
        from ..translate_options import TemporalOptions, TilingOptions
        from ..video import shares_nothing, translate_clip

        if not upload:
            raise self.engine.nothing_uploaded("upload a clip first")
        src, name = Path(upload), display_name(upload)
        stop.said = f"{literal(name)}: cancelled; no clip written"  # as the job says it (below)
        if src.suffix.lower() not in CLIP_TYPES:
            raise CycleGANError(f"{name} is not a clip ({', '.join(CLIP_TYPES)})")
        opts = self.engine.opts
        try:
            size = src.stat().st_size
        except FileNotFoundError:  # deleted by Gradio's hourly sweep while the job waited in the queue
            raise CycleGANError(f"{name}: the upload is gone (uploads are kept an hour); upload it again") from None
        if size > opts.max_upload_mb * MB:
            raise CycleGANError(f"{name} is over this server's limit of {opts.max_upload_mb:g} MB")
        if src.suffix.lower() in ANIMATED:  # a GIF or WebP inside: an EPS named .gif went to Ghostscript
            try:
                Image.open(src, formats=("GIF", "WEBP")).close()
            except Exception:  # noqa: BLE001 - a damaged header fails in many ways
                if video := video_kind(src):  # an MP4 named .gif: "not a GIF or WebP clip" said not what it is
                    raise CycleGANError(
                        f"{name} is {video[0]} video, not a GIF or WebP; rename it {Path(name).stem}{video[1]} and "
                        "upload it again"
                    ) from None
                if sound := sound_kind(src):  # an M4A was "an MP4 video", to rename .mp4: it holds no video either
                    raise CycleGANError(
                        f"{name} is {sound} sound alone, not a GIF or WebP: no picture to translate"
                    ) from None
                raise CycleGANError(f"{name} is not a GIF or WebP clip, or its header is damaged") from None
        with named_as_flags():  # its errors name --flow-blend, which user_errors turns into the slider's label
            temporal = TemporalOptions(norm_stats="shared" if shared else "frame", flow_blend=float(blend))
        try:
            info = probe(src)
            # said as it plays: a phone's portrait clip, stored landscape, was "frames of 1920x1080"
            width, height = shown_size(src, info.width, info.height)
            frames = info.frames
            # A video's header may declare fewer frames than it holds: a fragmented MP4's counts only those
            # before its first fragment (3 of 2000 passed the limit). Its packets are counted unless the header
            # already says too many; a GIF's or WebP's count is Pillow's, read from every frame's header.
            if frames <= opts.max_clip_frames and src.suffix.lower() not in ANIMATED:
                frames = count_frames(src, opts.max_clip_frames + 1)
        except CycleGANError as e:  # named as the visitor named it, not by the server's temporary path
            raise CycleGANError(str(e).replace(str(src), name)) from None
        if frames > opts.max_clip_frames:  # a 25 MB clip of tiny frames held the heavy queue for hours
            held = (
                f"{frames} frames" if info.frames > opts.max_clip_frames else f"more than {opts.max_clip_frames} frames"
            )
            raise CycleGANError(
                f"{name} holds {held}, over this server's limit of {opts.max_clip_frames} frames per clip "
                "(cyclegan serve --max-clip-frames)"
            )
        if width * height > opts.max_pixels:  # as an image upload is refused (`uploads.check_upload`)
            raise CycleGANError(  # was found once the model loaded, with a thin image's advice: "a less thin shape"
                f"{name}'s frames are {width}x{height} pixels ({width * height / 1e6:.1f} MP), "
                f"over this server's limit of {opts.max_pixels / 1e6:g} MP (cyclegan serve --max-pixels); upload a "
                "clip of smaller frames"
            )
        check_held_on_page(name, src.suffix.lower(), frames, width, height, opts.max_pixels)
        check_blend(name, width, height, temporal.flow_blend, opts.max_memory)  # before a model loads
        G, _, changed = self.engine.ready(key, direction)
        self.engine.check_cost(G, f"{name}'s frames are", width, height)  # each side padded: either way round
        if shares_nothing(G, temporal):  # the box was taken without a word, as `--norm-stats shared` was
            gr.Warning(
                "(a) shared statistics change nothing for this model: it has no InstanceNorm layers whose "
                "statistics it would share; the clip is translated frame by frame"
            )
        check_opencv_on_page(G, temporal)
        target = self.engine.folder() / output_name(Path(name).stem, f"_{direction}", src.suffix.lower())
        warnings: list[str] = []

        try:
            with self.engine.using(G), stopping(G, stop):  # before each batch of frames
                t = time.perf_counter()
                frames = translate_clip(
                    G,
                    src,
                    target,
                    temporal=temporal,
                    tiling=TilingOptions(max_memory=opts.max_memory),  # tiles and the flow blend held to it
                    max_pixels=opts.max_pixels,
                    progress=False,
                    warn=warnings.append,  # streams left out, a GIF's rate: they went to the server's log alone
                )
        except Cancelled:  # said in the tab, not an Error pop-up as if it had failed
            return None, None, f"{literal(name)}: cancelled; no clip written"
        except CycleGANError as e:  # named as the visitor named it, not by the server's temporary path
            raise CycleGANError(str(e).replace(str(src), name)) from None
        seconds = time.perf_counter() - t
        for said in warnings:  # named as the visitor named the clip, as its errors are
            gr.Warning(alert_text(without_paths(said.removeprefix("warning: ").replace(str(src), name))))
        # the model named: one chosen while the job ran is the one the dropdown shows, not the one that made this
        clip, model = f"{counted(frames, 'frame')} of {width}x{height}", f"{direction} by {literal(key)}"
        line = f"{literal(name)}: {clip} translated {model} in {seconds:.1f} s ({frames / seconds:.1f} frames/s)"
        line += f"; {changed}" if changed else ""  # a run that saved since: said here, not in a pop-up per job
        shown = str(target) if target.suffix in (".mp4", ".webm") else None
        return shown, str(target), line
