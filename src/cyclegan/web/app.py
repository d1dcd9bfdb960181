"""The web page of `cyclegan serve`: four tabs (Translate, Style transfer, Compare, Runs) over the library.

`Engine` holds what the page may use and what it has loaded: the models the server was started with (found
anew on each request, loaded on first use and again when their file changes), the style backbones and a
private working folder. The tab handlers are its methods; `build_app` lays the page out and wires them.

Every handler turns a `CycleGANError` into a message in the page (`gr.Error`, or `gr.Warning` when only
some of several images failed) and any other exception into one line pointing at the server's log, where
the traceback goes: nothing the page shows is a traceback, and the server keeps serving.
"""

from __future__ import annotations

import functools
import inspect
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gradio as gr

from ..errors import CycleGANError
from ..run_files import CHECKPOINT_NAME, CONFIG_NAME, LOG_NAME
from .runs import (
    Model,
    find_models,
    find_runs,
    latest_samples,
    loss_rows,
    read_config,
    read_log,
    run_label,
    run_summary,
)
from .serve import ServeOptions
from .uploads import MB, check_upload, display_name

DIRECTIONS = ["AtoB", "BtoA"]
BACKBONES = ["auto", "lite0", "vgg19"]
HEAVY = "heavy"  # the concurrency group of every job that runs a network: one queue, --concurrency at once
SAMPLES_SHOWN = 4


class Cancelled(Exception):
    """Raised inside the Gatys loop when the user pressed Cancel."""


def _internal(e: BaseException) -> gr.Error:
    traceback.print_exception(e, file=sys.stderr)
    return gr.Error(f"internal error ({type(e).__name__}); the details are in the server's log", print_exception=False)


def _refusal(e: CycleGANError) -> gr.Error:
    print(f"refused: {e}", file=sys.stderr)  # one line in the server's log too; no traceback: it is no bug
    return gr.Error(str(e), print_exception=False)


def user_errors(fn: Callable) -> Callable:
    """Wrap a handler (function or generator) so a CycleGANError reaches the page as its one line and any
    other exception as one line too (its traceback printed on the server). gr.Error passes through."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def gen(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except gr.Error:
                raise
            except CycleGANError as e:
                raise _refusal(e) from None
            except Exception as e:  # noqa: BLE001 - the page gets one line, the log the traceback
                raise _internal(e) from None

        return gen

    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except CycleGANError as e:
            raise _refusal(e) from None
        except Exception as e:  # noqa: BLE001
            raise _internal(e) from None

    return call


class Engine:
    """The server's state: its options, the models it was given, what it has loaded, its working folder."""

    def __init__(self, opts: ServeOptions, files: Sequence[Path], work: Path):
        self.opts = opts
        self.roots = [str(r) for r in opts.runs or ()]
        self.files = list(files)
        self.work = work
        self._lock = threading.Lock()
        self._generators: dict[tuple[str, str], tuple[tuple[int, int], Any]] = {}
        self._backbones: dict[str, Any] = {}
        self._device = None
        self.cancel: dict[str, threading.Event] = {}  # session -> its running Gatys job's stop flag

    # --- what the page may use ---------------------------------------------------------------------------

    def models(self) -> list[Model]:
        return find_models(self.roots, self.files)

    def model_choices(self) -> list[tuple[str, str]]:
        return [(m.label, m.key) for m in self.models()]

    def runs(self) -> dict[str, Path]:
        return {run_label(r, self.roots): r for r in find_runs(self.roots)}

    def device(self):
        if self._device is None:
            from ..execution import resolve_device

            self._device = resolve_device(self.opts.device)
        return self._device

    def generator(self, key: str | None, direction: str):
        """The generator of model `key` (a dropdown value) for `direction`, loaded on first use and again
        when its file has been replaced (a run that saved a newer checkpoint). Only a key among `models()`
        is loaded: the page cannot name a file."""
        if not key:
            raise CycleGANError("choose a model first (the server has none yet: no run has saved a checkpoint)")
        if key not in {m.key for m in self.models()}:
            raise CycleGANError("that model is not offered any more; choose one from the list")
        if direction not in DIRECTIONS:
            raise CycleGANError(f"direction must be AtoB or BtoA, got {direction!r}")
        from ..loading import load_generator

        with self._lock:
            st = os.stat(key)
            version = (st.st_mtime_ns, st.st_size)
            cached = self._generators.get((key, direction))
            if cached is None or cached[0] != version:
                net = load_generator(key, direction, device=self.device())  # weights_only, averaged weights
                self._generators[(key, direction)] = (version, net)
            return self._generators[(key, direction)][1]

    def style_backbones(self, backbone: str) -> tuple[str, Any, Any]:
        """(name, Gatys' backbone, the comparison's metrics backbone), built once per name."""
        if backbone not in BACKBONES:
            raise CycleGANError(f"backbone must be one of {', '.join(BACKBONES)}, got {backbone!r}")
        from ..compare import load_backbones

        with self._lock:
            if backbone not in self._backbones:
                self._backbones[backbone] = load_backbones(backbone, None, self.device())
            return self._backbones[backbone]

    def image(self, path: str | Path):
        """An upload as an RGB PIL image, checked against the server's limits (`uploads.check_upload`)."""
        return check_upload(path, max_bytes=int(self.opts.max_upload_mb * MB), max_pixels=self.opts.max_pixels)

    def folder(self) -> Path:
        """A fresh folder for one request's outputs (Gradio copies what a handler returns into its cache)."""
        d = self.work / "out" / uuid.uuid4().hex
        d.mkdir(parents=True)
        return d

    # --- Translate ---------------------------------------------------------------------------------------

    def translate(self, uploads: Sequence[str] | None, key: str | None, direction: str):
        """Translate each upload at full size. Returns (gallery: input, output per image; files to download;
        a table of sizes and seconds). An upload that is not a usable image is named in a warning and the
        rest are translated; if none is usable, the page shows the error."""
        from ..inference import translate

        if not uploads:
            raise CycleGANError("upload one or more images (or pick an example) first")
        images, problems = [], []
        for path in uploads:
            try:
                images.append((display_name(path), self.image(path)))
            except CycleGANError as e:
                problems.append(str(e))
        if not images:
            raise CycleGANError(problems[0] if len(problems) == 1 else "; ".join(problems))
        t0 = time.perf_counter()
        G = self.generator(key, direction)
        load_s = time.perf_counter() - t0
        out = self.folder()
        gallery, downloads, rows = [], [], []
        for name, im in images:
            t = time.perf_counter()
            y = translate(G, im)
            seconds = time.perf_counter() - t
            target = out / f"{Path(name).stem}_{direction}.png"
            y.save(target)
            gallery += [(im, f"{name} ({im.width}x{im.height})"), (str(target), f"{direction}: {seconds:.2f} s")]
            downloads.append(str(target))
            rows.append(f"| {name} | {im.width}x{im.height} | {seconds:.2f} |")
        for p in problems:
            gr.Warning(p)
        info = "| image | size | seconds |\n|---|---|---|\n" + "\n".join(rows)
        info += f"\n\nmodel ready in {load_s:.2f} s" + (" (loaded now)" if load_s > 0.05 else " (already loaded)")
        return gallery, downloads, info

    # --- Style transfer ------------------------------------------------------------------------------------

    def stylize_live(self, content: str | None, styles: Sequence[str] | None, backbone: str, size: int, steps: int,
                     request: gr.Request, progress=gr.Progress()):  # noqa: B008 - how Gradio asks for a progress bar  # fmt: skip
        """Gatys style transfer, yielding (image, status, download) every few steps while it optimises.
        Runs in a thread of its own so the page gets each update as it comes; Cancel (or leaving the page)
        sets its stop flag and the optimisation stops at its next step."""
        from ..style import GatysOptions, stylize, to_pil_01

        if not content:
            raise CycleGANError("upload a content image first")
        if not styles:
            raise CycleGANError("upload at least one style image")
        content_im = self.image(content)
        style_ims = [self.image(s) for s in styles]
        size, steps = int(size), int(steps)
        name, net, _ = self.style_backbones(backbone)
        options = GatysOptions(backbone=name, size=size, steps=steps)  # the resolved name: the net's layers
        stop = threading.Event()
        session = getattr(request, "session_hash", None) or uuid.uuid4().hex
        self.cancel[session] = stop
        updates: queue.Queue = queue.Queue()
        every = max(1, steps // 25)  # about 25 updates per run: enough to watch, few enough to keep up

        def callback(step: int, x) -> None:
            if stop.is_set():
                raise Cancelled
            if step % every == 0 or step == steps:
                updates.put(("step", step, x.detach().clamp(0, 1).cpu().clone()))

        def work() -> None:
            try:
                result = stylize(content_im, style_ims, options, net=net, device=self.device(), progress=False,
                                 callback=callback)  # fmt: skip
                updates.put(("done", result))
            except Cancelled:
                updates.put(("cancelled",))
            except BaseException as e:  # noqa: BLE001 - reported by the handler, in the page
                updates.put(("error", e))

        worker = threading.Thread(target=work, name="gatys", daemon=True)
        t0 = time.perf_counter()
        worker.start()
        try:
            progress((0, steps), desc=f"Gatys ({name})")
            while True:
                item = updates.get()
                if item[0] == "step":
                    _, step, x = item
                    progress((step, steps), desc=f"Gatys ({name})")
                    elapsed = time.perf_counter() - t0
                    yield to_pil_01(x), f"step {step} of {steps}, {elapsed:.1f} s", None
                elif item[0] == "done":
                    result = item[1]
                    target = self.folder() / f"{Path(display_name(content)).stem}_stylised.png"
                    result.image.save(target)
                    w, h = result.image.size
                    yield (str(target), f"done: {steps} steps in {result.seconds:.1f} s, {w}x{h} px, backbone "
                           f"{result.backbone}", str(target))  # fmt: skip
                    return
                elif item[0] == "cancelled":
                    yield gr.skip(), f"cancelled after {time.perf_counter() - t0:.1f} s", None
                    return
                else:
                    raise item[1]
        finally:
            stop.set()  # also when Gradio closes this generator (the page left or the job was cancelled)
            if self.cancel.get(session) is stop:
                del self.cancel[session]

    def cancel_style(self, request: gr.Request) -> None:
        stop = self.cancel.get(getattr(request, "session_hash", None) or "")
        if stop is not None:
            stop.set()

    # --- Compare -------------------------------------------------------------------------------------------

    def compare(self, photo: str | None, key: str | None, direction: str, styles: Sequence[str] | None,
                backbone: str, size: int, steps: int, progress=gr.Progress()):  # noqa: B008  # fmt: skip
        """One photo through the CycleGAN and through Gatys (style from the uploaded references), measured as
        `cyclegan compare` measures: seconds, SSIM (Y) and feature distance to the input, Gram distance to
        the references. Returns (gallery input | CycleGAN | Gatys, a table of the figures)."""
        from ..compare import METRICS_BACKBONE, measure, translate_timed
        from ..data.io import resize_long_side
        from ..style import GatysOptions, load_image_01, stylize, to_pil_01

        if not photo:
            raise CycleGANError("upload a photo first")
        if not styles:
            raise CycleGANError("upload at least one style reference (an image of the target domain) for Gatys")
        size, steps = int(size), int(steps)
        im = resize_long_side(self.image(photo), size)
        refs = [self.image(s) for s in styles]
        G = self.generator(key, direction)
        name, gatys_net, metrics_net = self.style_backbones(backbone)
        device = self.device()
        x = load_image_01(im, None).to(device)  # (1, 3, H, W) in [0, 1]
        progress((0, steps), desc="CycleGAN")
        y_cyc, t_cyc = translate_timed(G, x, warm_up=True)

        def callback(step: int, _x) -> None:
            progress((step, steps), desc=f"Gatys ({name})")

        options = GatysOptions(backbone=name, size=None, style_size=size, steps=steps)
        res = stylize(im, refs, options, net=gatys_net, device=device, progress=False, callback=callback)
        images = {"input": x, "cyclegan": y_cyc, "gatys": res.tensor.to(device)}
        m = measure(images, refs, metrics_net, size=size)
        seconds = {"input": None, "cyclegan": t_cyc, "gatys": res.seconds}
        out = self.folder()
        gallery = []
        for method, caption in (("input", "input"), ("cyclegan", f"CycleGAN ({direction})"),
                                ("gatys", f"Gatys ({name}, {steps} steps)")):  # fmt: skip
            target = out / f"{method}.png"
            to_pil_01(images[method].detach().cpu()).save(target)
            gallery.append((str(target), caption))
        table = [
            "| method | seconds | SSIM (Y) to input | content distance | style distance |",
            "|---|---|---|---|---|",
        ]
        for method in ("input", "cyclegan", "gatys"):
            s = "" if seconds[method] is None else f"{seconds[method]:.3f}"
            table.append(f"| {method} | {s} | {m['ssim_y'][method]:.3f} | {m['content_distance'][method]:.3f} | "
                         f"{m['style_distance'][method]:.3f} |")  # fmt: skip
        table.append(
            f"\nContent: SSIM of the luminance (1 = unchanged) and relative feature distance (0 = unchanged) to "
            f"the input; style: Gram distance to the references (0 = their statistics); all on "
            f"{METRICS_BACKBONE} features, as `cyclegan compare` reports them. CycleGAN: one forward pass after "
            "a warm-up; Gatys: the whole optimisation."
        )
        if name == METRICS_BACKBONE:
            table.append("\nGatys optimised the same Lite0 features that measure it, so the distances favour it.")
        return gallery, "\n".join(table)

    # --- Runs ----------------------------------------------------------------------------------------------

    def run_view(self, label: str | None, shown: Any):
        """What the Runs tab shows of run `label`: (config, loss terms, weighted sums, sample grids, summary),
        or gr.skip()
        for each when nothing changed since `shown` (the files' sizes and times), so the page does not redraw
        every few seconds. Returns the new `shown` last."""
        import pandas as pd

        runs = self.runs()
        run = runs.get(label or "")
        if run is None:
            return None, None, None, [], "no run selected" if runs else "no run found under --runs yet", None
        log = run / LOG_NAME
        samples = latest_samples(run, SAMPLES_SHOWN)
        signature = (
            str(run),
            _stat(log),
            _stat(run / CONFIG_NAME),
            _stat(run / CHECKPOINT_NAME),
            [str(p) for _, p in samples],
            int(time.time() // 30),
        )  # the summary's ages: every 30 s
        if signature == shown:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), shown
        records = read_log(log)
        columns = ["step", "loss", "value"]
        terms = pd.DataFrame(loss_rows(records), columns=columns)
        totals = pd.DataFrame(loss_rows(records, totals=True), columns=columns)
        copies = []
        for step, path in samples:  # copies: the page is never handed a path inside a run
            target = self.work / "samples" / f"{abs(hash(str(run)))}_{path.name}"
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
            copies.append((str(target), f"step {step}"))
        return read_config(run), terms, totals, copies, f"**{label}**: {run_summary(run, records)}", signature

    def refresh_lists(self, known: Any, translate_key: str | None, compare_key: str | None, run: str | None):
        """New models for the two model dropdowns and new runs for the Runs dropdown, when they changed."""
        choices = self.model_choices()
        runs = list(self.runs())
        if (choices, runs) == known:
            return gr.skip(), gr.skip(), gr.skip(), known
        keys = [k for _, k in choices]

        def pick(current: str | None) -> str | None:
            return current if current in keys else (keys[0] if keys else None)

        return (
            gr.update(choices=choices, value=pick(translate_key)),
            gr.update(choices=choices, value=pick(compare_key)),
            gr.update(choices=runs, value=run if run in runs else (runs[0] if runs else None)),
            (choices, runs),
        )


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


EXAMPLES = Path(__file__).parent / "examples"  # four scenes of the built-in world (data.synthetic, seed 1234)


def example_images(opts: ServeOptions) -> list[str]:
    """The example images of Translate: --examples (files, and up to 8 images per folder), or else two
    summer and two winter scenes of the built-in world, shipped as PNGs (rendering them here would import
    torch and slow the start; a test checks they are what `data.synthetic` renders)."""
    if not opts.examples:
        return sorted(str(p) for p in EXAMPLES.glob("*.png"))
    found: list[str] = []
    for item in opts.examples:
        p = Path(item)
        if p.is_dir():
            found += sorted(str(f) for f in p.iterdir() if f.suffix.lower() in _IMAGE_SUFFIXES)[:8]
        elif p.is_file():
            found.append(str(p))
        else:
            raise CycleGANError(f"option '--examples': {item} is not a file or a folder")
    return found


_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def theme() -> gr.themes.Base:
    """Gradio's default look with system fonts only: nothing is fetched from a font service."""
    return gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                             font_mono=["ui-monospace", "Consolas", "monospace"])  # fmt: skip


def build_app(opts: ServeOptions, files: Sequence[Path], work: Path | None = None) -> gr.Blocks:
    """The page for `opts` (files: the checked --checkpoint files). `work`: the server's private folder
    (outputs, copies of sample grids, examples); a temporary one by default."""
    work = Path(work or tempfile.mkdtemp(prefix="cyclegan-serve-"))
    engine = Engine(opts, files, work)
    choices = engine.model_choices()
    first = choices[0][1] if choices else None
    runs = list(engine.runs())
    heavy = {"concurrency_id": HEAVY, "concurrency_limit": opts.concurrency}
    light = {"concurrency_id": "light", "concurrency_limit": 4, "show_progress": "hidden"}
    upload_note = f"up to {opts.max_upload_mb:g} MB and {opts.max_pixels / 1e6:g} MP per image"

    with gr.Blocks(title="cyclegan serve", analytics_enabled=False) as app:
        app.engine = engine  # for tests and tools
        gr.Markdown("# cyclegan\nUnpaired image-to-image translation and style transfer, on this machine.")
        with gr.Tabs():
            with gr.Tab("Translate", id="translate"):
                with gr.Row():
                    with gr.Column(scale=1):
                        t_files = gr.File(label=f"images ({upload_note})", file_count="multiple",
                                          file_types=["image"], elem_id="translate-upload")  # fmt: skip
                        t_model = gr.Dropdown(choices, value=first, label="model", elem_id="translate-model")
                        t_dir = gr.Radio(DIRECTIONS, value="AtoB", label="direction (AtoB uses G, BtoA uses F)")
                        t_go = gr.Button("Translate", variant="primary", elem_id="translate-go")
                        gr.Examples([[p] for p in example_images(opts)], inputs=[t_files],
                                    label="examples")  # fmt: skip
                    with gr.Column(scale=2):
                        t_gallery = gr.Gallery(label="input | translated (full size)", columns=2, format="png",
                                               elem_id="translate-gallery", height="auto")  # fmt: skip
                        t_info = gr.Markdown(elem_id="translate-info")
                        t_download = gr.File(label="download at full size", file_count="multiple",
                                             interactive=False, elem_id="translate-download")  # fmt: skip
                t_go.click(user_errors(engine.translate), [t_files, t_model, t_dir],
                           [t_gallery, t_download, t_info], **heavy)  # fmt: skip

            with gr.Tab("Style transfer", id="style"):
                with gr.Row():
                    with gr.Column(scale=1):
                        s_content = gr.File(label=f"content image ({upload_note})", file_types=["image"],
                                            elem_id="style-content")  # fmt: skip
                        s_styles = gr.File(label="style image(s), blended", file_count="multiple",
                                           file_types=["image"], elem_id="style-styles")  # fmt: skip
                        s_backbone = gr.Radio(BACKBONES, value="auto", label="backbone (auto: vgg19 if its "
                                              "weights are cached, else lite0, which is shipped)")  # fmt: skip
                        s_size = gr.Slider(64, opts.max_style_size, value=min(256, opts.max_style_size), step=32,
                                           label="long side (px)")  # fmt: skip
                        s_steps = gr.Slider(10, opts.max_style_steps, value=min(200, opts.max_style_steps),
                                            step=10, label="steps (L-BFGS evaluations)")  # fmt: skip
                        with gr.Row():
                            s_go = gr.Button("Stylise", variant="primary", elem_id="style-go")
                            s_cancel = gr.Button("Cancel", variant="stop", elem_id="style-cancel")
                    with gr.Column(scale=2):
                        s_image = gr.Image(label="result (updates while it optimises)", format="png",
                                           interactive=False, elem_id="style-image")  # fmt: skip
                        s_info = gr.Markdown(elem_id="style-info")
                        s_download = gr.File(label="download", interactive=False)
                s_event = s_go.click(user_errors(engine.stylize_live),
                                     [s_content, s_styles, s_backbone, s_size, s_steps],
                                     [s_image, s_info, s_download], **heavy)  # fmt: skip
                s_cancel.click(engine.cancel_style, None, None, cancels=[s_event], queue=False)

            with gr.Tab("Compare", id="compare"):
                with gr.Row():
                    with gr.Column(scale=1):
                        c_photo = gr.File(label=f"photo ({upload_note})", file_types=["image"],
                                          elem_id="compare-photo")  # fmt: skip
                        c_model = gr.Dropdown(choices, value=first, label="CycleGAN model")
                        c_dir = gr.Radio(DIRECTIONS, value="AtoB", label="direction")
                        c_styles = gr.File(label="style references for Gatys (images of the target domain)",
                                           file_count="multiple", file_types=["image"],
                                           elem_id="compare-styles")  # fmt: skip
                        c_backbone = gr.Radio(BACKBONES, value="auto", label="Gatys backbone")
                        c_size = gr.Slider(64, opts.max_style_size, value=min(256, opts.max_style_size), step=32,
                                           label="long side (px)")  # fmt: skip
                        c_steps = gr.Slider(10, opts.max_style_steps, value=min(200, opts.max_style_steps),
                                            step=10, label="Gatys steps")  # fmt: skip
                        c_go = gr.Button("Compare", variant="primary", elem_id="compare-go")
                    with gr.Column(scale=2):
                        c_gallery = gr.Gallery(label="input | CycleGAN | Gatys", columns=3, format="png",
                                               height="auto", elem_id="compare-gallery")  # fmt: skip
                        c_table = gr.Markdown(elem_id="compare-table")
                c_go.click(user_errors(engine.compare),
                           [c_photo, c_model, c_dir, c_styles, c_backbone, c_size, c_steps],
                           [c_gallery, c_table], **heavy)  # fmt: skip

            with gr.Tab("Runs", id="runs"):
                r_run = gr.Dropdown(runs, value=runs[0] if runs else None, label="run", elem_id="runs-run")
                r_summary = gr.Markdown(elem_id="runs-summary")
                with gr.Row():
                    r_plot = gr.LinePlot(x="step", y="value", color="loss", label="losses (log.jsonl)",
                                         elem_id="runs-plot", scale=3)  # fmt: skip
                    r_total = gr.LinePlot(x="step", y="value", color="loss", label="weighted sums",
                                          elem_id="runs-total", scale=1)  # fmt: skip
                with gr.Row():
                    with gr.Column(scale=2):
                        r_samples = gr.Gallery(label="latest sample grids, newest first: real | translated | "
                                               "reconstructed, A -> B (left) and B -> A (right)", columns=4,
                                               format="png", preview=True, height=560, object_fit="contain",
                                               elem_id="runs-samples")  # fmt: skip
                    with gr.Column(scale=1):
                        r_config = gr.JSON(label="config.json", elem_id="runs-config")
                shown = gr.State(None)
                view = user_errors(engine.run_view)
                r_outputs = [r_config, r_plot, r_total, r_samples, r_summary, shown]
                r_run.change(lambda label: view(label, None), [r_run], r_outputs, **light)

        known = gr.State((choices, runs))
        timer = gr.Timer(opts.refresh)
        timer.tick(user_errors(engine.refresh_lists), [known, t_model, c_model, r_run],
                   [t_model, c_model, r_run, known], **light)  # fmt: skip
        timer.tick(view, [r_run, shown], r_outputs, **light)
        app.load(lambda label: view(label, None), [r_run], r_outputs, **light)
    return app


def launch(app: gr.Blocks, opts: ServeOptions, *, block: bool = True):
    """Serve `app` on opts.host:opts.port with the queue's limits and nothing that needs the internet."""
    app.queue(default_concurrency_limit=opts.concurrency)
    app.launch(
        server_name=opts.host, server_port=opts.port, prevent_thread_lock=not block, share=False, quiet=False,
        inbrowser=False, show_error=False, max_file_size=int(opts.max_upload_mb * MB), allowed_paths=[],
        theme=theme(), footer_links=[], ssr_mode=False, mcp_server=False,
    )  # fmt: skip
    return app
