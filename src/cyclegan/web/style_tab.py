"""The Style transfer tab of `cyclegan serve`: Gatys style transfer, shown live while it optimises and
cancellable."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import gradio as gr

from ..errors import CycleGANError, counted
from .engine import BACKBONES, Cancelled, Engine, Stop, Stops, upload_box, user_errors
from .options import STYLE_SIZE_MIN, STYLE_SIZE_STEP, STYLE_STEPS_MIN
from .uploads import display_name, output_name


class StyleTab:
    """The Style transfer tab: its layout and its handlers, over the server's `Engine`."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.stops = Stops("Style transfer")  # its running Gatys jobs' stop flags, one per page session

    def layout(self) -> None:
        """Lay the tab out (inside the page's `gr.Tabs`) and wire its buttons."""
        opts = self.engine.opts
        with gr.Tab("Style transfer", id="style"):
            with gr.Row():
                with gr.Column(scale=1):
                    s_content = upload_box(f"content image ({self.engine.upload_note})", "style-content")
                    s_styles = upload_box(
                        f"style images, one or more, blended (up to {opts.max_images})", "style-styles", multiple=True
                    )
                    s_backbone = gr.Radio(
                        BACKBONES,
                        value="auto",
                        label="backbone (auto: vgg19 if its weights are cached, else lite0, which is shipped)",
                    )
                    s_size = gr.Slider(
                        STYLE_SIZE_MIN,
                        opts.max_style_size,
                        value=min(256, opts.max_style_size),
                        step=STYLE_SIZE_STEP,
                        label="long side (px)",
                    )
                    s_steps = gr.Slider(
                        STYLE_STEPS_MIN,
                        opts.max_style_steps,
                        value=min(200, opts.max_style_steps),
                        step=STYLE_STEPS_MIN,
                        label="steps (L-BFGS evaluations)",
                    )
                    s_colour = gr.Checkbox(
                        False,
                        label="keep the content's colours (luminance transfer: the style's strokes, not its palette)",
                        elem_id="style-preserve-color",
                    )
                    with gr.Row():
                        s_go = gr.Button("Stylise", variant="primary", elem_id="style-go")
                        s_cancel = gr.Button("Cancel", variant="stop", elem_id="style-cancel")
                with gr.Column(scale=2):
                    s_image = gr.Image(
                        label="result (updates while it optimises)",
                        format="png",
                        interactive=False,
                        elem_id="style-image",
                    )
                    s_info = gr.Markdown(elem_id="style-info")
                    s_download = gr.File(label="download", interactive=False)
            s_event = s_go.click(
                user_errors(
                    self.stylize_live,
                    {
                        "--content": s_content,
                        "--style": s_styles,
                        "--backbone": s_backbone,
                        "--size": s_size,
                        "--style-size": s_size,  # the style images are scaled to it too
                        "--optimizer": None,  # L-BFGS: the page has no choice of optimiser
                        "--weights": None,  # VGG19 from torchvision's cache only
                        "--steps": s_steps,
                        "--preserve-color": s_colour,
                    },
                ),
                [s_content, s_styles, s_backbone, s_size, s_steps, s_colour],
                [s_image, s_info, s_download],
                **self.engine.heavy_events,
            )
            self.stops.wire(s_cancel, s_event, s_info, kept=[s_image, s_download])
            self.stops.clear_on_failure(s_event, [s_image, s_info, s_download], s_info)

    def stylize_live(
        self,
        content: str | None,
        styles: Sequence[str] | None,
        backbone: str,
        size: int,
        steps: int,
        request: gr.Request,
        progress=gr.Progress(),  # noqa: B008 - how Gradio asks for a progress bar
        preserve_color: bool = False,  # last, after Gradio's request and progress: the page's sixth input
    ):
        """Gatys style transfer, yielding (image, status, download) every few steps while it optimises.
        Runs in a thread of its own so the page gets each update as it comes; Cancel (or leaving the page)
        sets its stop flag and the optimisation stops at its next step, its best image so far offered."""
        with self.stops.flag(
            request, said="cancelled before the first step", kept=(gr.skip(), None)
        ) as stop:  # Cancel, or the page closed
            yield from self._stylize_live(content, styles, backbone, size, steps, bool(preserve_color), stop, progress)

    def _stylize_live(self, content, styles, backbone, size, steps, preserve_color: bool, stop: Stop, progress):
        from ..data.io import save_image  # on first use, as the next
        from ..style import GatysOptions, keep_content_colors, load_image_01, stylize, to_pil_01
        from ..style.gatys import too_thin

        engine = self.engine
        if not content:
            raise engine.nothing_uploaded("upload a content image first")
        if not styles:
            raise engine.nothing_uploaded("upload at least one style image")
        size, steps = int(size), int(steps)
        content_im = engine.image(content, keep_mode=True)  # a cut-out's transparency: put back in the result
        # a 20000x20 strip was stylised at 256x1 px without a word; at no long side the slider offers, it is told to
        # crop it, in the Compare tab's words
        w, h = content_im.size
        if why := too_thin("the content image", w, h, size, flag="--size", most=engine.opts.max_style_size):
            raise CycleGANError(why)
        style_ims = engine.references(styles, size, stylised=True)  # at the size Gatys scales them to
        engine.name_first_frames([content, *styles], "stylised")
        name, net, _ = engine.style_backbones(backbone)
        options = GatysOptions(backbone=name, size=size, steps=steps, preserve_color=preserve_color)  # resolved name
        # the steps shown as the result will be: in the content's colours when they are kept
        colours = load_image_01(content_im, size) if preserve_color else None
        updates: queue.Queue = queue.Queue()
        every = max(1, steps // 25)  # about 25 updates per run: enough to watch, few enough to keep up

        def callback(step: int, x) -> None:
            if stop.is_set():
                raise Cancelled
            if step % every == 0 or step == steps:
                shown = x.detach().clamp(0, 1).cpu()
                shown = shown.clone() if colours is None else keep_content_colors(shown, colours)
                updates.put(("step", step, shown))

        out = engine.folder()  # this request's own: the progress images and the result are files in it
        t0 = time.perf_counter()

        def answer(result) -> tuple[str, str, str]:
            """(image, line, download) of a finished or stopped run: its best image saved."""
            target = out / output_name(Path(display_name(content)).stem, "_stylised", ".png")
            save_image(result.transparent, target)  # a PNG: a cut-out stays one, as `stylize --out X.png` keeps it
            w, h = result.image.size
            ran = (
                counted(steps, "step")
                if not result.interrupted
                else f"{len(result.losses)} of {counted(steps, 'step')}"
            )
            said = "cancelled: the best image of" if result.interrupted else "done:"
            return (
                str(target),
                f"{said} {ran} in {result.seconds:.1f} s, {w}x{h} px, backbone {result.backbone}",
                str(target),
            )

        def work() -> None:
            """Gatys, then its answer, which Cancel shows too (`Stops.cancel` waits for it: Gradio drops what
            this generator yields once the job is cancelled, and the best image was never offered)."""
            try:
                with engine.using(net):  # the backbone, shared by the Style and Compare tabs (`Engine.using`)
                    result = stylize(
                        content_im,
                        style_ims,
                        options,
                        net=net,
                        device=engine.device(),
                        progress=False,
                        callback=callback,
                        keep_on_interrupt=True,  # Cancel after a step: its best image so far, as Ctrl-C's
                    )
                image, stop.said, download = answer(result)
                stop.kept = (image, download)
                updates.put(("done", (image, stop.said, download)))
            except Cancelled:
                stop.said = f"cancelled after {time.perf_counter() - t0:.1f} s"
                updates.put(("cancelled",))
            except BaseException as e:  # noqa: BLE001 - reported by the handler, in the page
                updates.put(("error", e))
            finally:
                stop.ended.set()

        worker = threading.Thread(target=work, name="gatys", daemon=True)
        worker.start()
        try:
            progress((0, steps), desc=f"Gatys ({name})")
            while True:
                item = updates.get()
                if item[0] == "step":
                    _, step, x = item
                    progress((step, steps), desc=f"Gatys ({name})")
                    elapsed = time.perf_counter() - t0
                    shown = out / f"step_{step:06d}.png"
                    save_image(to_pil_01(x), shown)
                    yield str(shown), f"step {step} of {steps}, {elapsed:.1f} s", None
                elif item[0] == "done":
                    yield item[1]
                    return
                elif item[0] == "cancelled":
                    yield gr.skip(), stop.said, None
                    return
                else:
                    raise item[1]
        finally:
            stop.set()  # also when Gradio closes this generator (the page left or the job was cancelled)
