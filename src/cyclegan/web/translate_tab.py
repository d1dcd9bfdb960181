"""The Translate tab of `cyclegan serve`: uploaded images through a chosen model's generator, at full size."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import gradio as gr

from ..errors import CycleGANError, escape, replace_unsafe
from ..files import unique_stems
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
from .options import EXAMPLES_PER_FOLDER, ServeOptions
from .runs import sendable_text
from .uploads import animated_frames, display_name, output_name

EXAMPLES = Path(__file__).parent / "examples"  # four scenes of the built-in world (data.synthetic, seed 1234)
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
# An upload's transparency, in its row: put on white as `cyclegan translate` puts it (the generators take RGB), and
# the result has none; a cut-out lost it without a word
ON_WHITE = ", its transparency on white"


def example_images(opts: ServeOptions) -> list[str]:
    """The example images of Translate: --examples (files, and a folder's first EXAMPLES_PER_FOLDER images by
    name, as its help says), or else two summer and two winter scenes of the built-in world, shipped as PNGs
    (rendering them here would import torch and slow the start; a test checks they are what `data.synthetic`
    renders)."""
    if not opts.examples:
        return sorted(str(p) for p in EXAMPLES.glob("*.png"))
    found: list[str] = []
    for item in opts.examples:
        p = Path(item)
        if p.is_dir():
            found += sorted(str(f) for f in p.iterdir() if f.suffix.lower() in _IMAGE_SUFFIXES)[:EXAMPLES_PER_FOLDER]
        elif p.is_file():
            found.append(str(p))
        else:
            raise CycleGANError(f"option '--examples': {item} is not a file or a folder")
    for f in found:  # Gradio copies each into its cache under its name, which must be text: a traceback at start
        if sendable_text(f) != f:
            raise CycleGANError(f"option '--examples': {escape(f)} is named in bytes that are not UTF-8; rename it")
    return found


def cancelled_line(done: int, total: int, problems: Sequence[str]) -> str:
    """What a Cancel of a Translate job says in the tab (a Markdown line): the images translated by then, and the
    uploads left out so far, each with its reason. They were pop-ups at the job's end, which a Cancel never
    reaches (Gradio drops a cancelled job): the visitor was not told that an upload had been refused."""
    said = f"cancelled after {done} of {total} images" + ("; those are shown" if done else "")
    if problems:
        said += "; left out: " + "; ".join(literal(p) for p in problems)
    return said


def say_left_out(problems: Sequence[str]) -> None:
    """A pop-up for each upload a Translate job left out (each already without server paths)."""
    for p in problems:
        gr.Warning(alert_text(p))


def output_stems(names: Sequence[str], direction: str) -> list[str]:
    """The stem of each upload's `STEM_input.png` and `STEM_{direction}.png`, told apart as `output_name` writes
    them (hiding characters as "_", cut to fit the longer tail): told apart before, `x\u202e.png` and `x_.png`,
    or two long names differing at their ends, were one file, the second written over the first."""
    longest = max(("_input.png", f"_{direction}.png"), key=lambda tail: len(tail.encode()))
    return unique_stems([Path(replace_unsafe(Path(n).stem) + ".png") for n in names], suffix_of=lambda _: longest)


class TranslateTab:
    """The Translate tab: its layout and its handler, over the server's `Engine`."""

    def __init__(self, engine: Engine):
        self.engine = engine
        # 50 images of 25 MP take minutes: they had no Cancel, and ran on after the page closed
        self.stops = Stops("Translate")

    def layout(self, choices: list[tuple[str, str]]) -> gr.Dropdown:
        """Lay the tab out (inside the page's `gr.Tabs`) and wire its button; returns its model dropdown,
        which the page refreshes."""
        engine = self.engine
        first = choices[0][1] if choices else None
        with gr.Tab("Translate", id="translate"):
            with gr.Row():
                with gr.Column(scale=1):
                    t_files = upload_box(
                        f"images ({engine.upload_note}, {engine.opts.max_images} at once)",
                        "translate-upload",
                        multiple=True,
                    )
                    t_model = gr.Dropdown(choices, value=first, label="model", elem_id="translate-model")
                    t_dir = engine.direction_radio(first, "direction (AtoB uses G, BtoA uses F)")
                    with gr.Row():
                        t_go = gr.Button("Translate", variant="primary", elem_id="translate-go")
                        t_cancel = gr.Button("Cancel", variant="stop", elem_id="translate-cancel")
                    gr.Examples([[p] for p in example_images(engine.opts)], inputs=[t_files], label="examples")
                with gr.Column(scale=2):
                    t_gallery = gr.Gallery(
                        label="input | translated (full size)",
                        columns=2,
                        format="png",
                        elem_id="translate-gallery",
                        height="auto",
                    )
                    t_info = gr.Markdown(elem_id="translate-info")
                    t_download = gr.File(
                        label="download at full size",
                        file_count="multiple",
                        interactive=False,
                        elem_id="translate-download",
                    )
            self.engine.follow_direction(t_model, t_dir)  # a one-way model's own direction
            t_event = t_go.click(
                user_errors(self.translate_live, {"--checkpoint": t_model, "--direction": t_dir}),
                [t_files, t_model, t_dir],
                [t_gallery, t_download, t_info],
                **engine.heavy_events,
            )
            self.stops.wire(t_cancel, t_event, t_info)
            self.stops.clear_on_failure(t_event, [t_gallery, t_download, t_info], t_info)
        return t_model

    def translate_live(
        self, uploads: Sequence[str] | None, key: str | None, direction: str, request: gr.Request | None = None
    ):
        """`_translate`, yielding (gallery, downloads, info) after each image, so that a Cancel leaves the images
        done on the page (Gradio shows nothing of a job's answer once it is cancelled), and stopped by Cancel or
        the page closed: at the next image, or the next tile of a large one."""
        n = len(uploads or ())
        with self.stops.flag(request, said=f"cancelled before the first of {n} images") as stop:
            yield from self._translate(uploads, key, direction, stop)

    def translate(
        self, uploads: Sequence[str] | None, key: str | None, direction: str, request: gr.Request | None = None
    ):
        """`translate_live`'s final (gallery, downloads, info): the whole job's answer."""
        *_, last = self.translate_live(uploads, key, direction, request)
        return last

    def _translate(self, uploads: Sequence[str] | None, key: str | None, direction: str, stop: Stop):
        """Translate each upload at full size. Yields (gallery: input, output per image; files to download;
        a table of sizes and seconds) after each image, the whole at the end. An upload that is not a usable image
        is named in a warning and the rest are translated; if none is usable, the page shows the error. One upload
        is decoded at a time: decoded all first, 200 PNGs of 25 MP each (the per-image limit; a plain one is a few
        kB) were 15 GB of pixels at once."""
        from ..data.io import save_image  # on first use (torch), as the next
        from ..inference import frames_left_out, translate

        if not uploads:
            raise self.engine.nothing_uploaded("upload one or more images (or pick an example) first")
        self.engine.check_count(uploads, "images")
        names = [display_name(path) for path in uploads]
        G, out, load_s, loaded, changed, cancelled = None, None, 0.0, False, "", False
        gallery, downloads, rows, problems = [], [], [], []
        header = "| image | size | seconds |\n|---|---|---|\n"

        def leave_out(problem: str) -> None:
            """Name an upload left out: in the Cancel's line at once (a pop-up, at the end, a Cancel never reached),
            without server paths, as the page's errors say it (an OSError's reason names the upload's path in
            Gradio's folder)."""
            problems.append(without_paths(problem))
            stop.said = cancelled_line(len(rows), len(uploads), problems)

        try:
            for stem, path, name in zip(output_stems(names, direction), uploads, names, strict=True):
                if (frames := animated_frames(path)) > 1:  # its first frame alone was translated, without a word
                    leave_out(f"{name} is an animated image of {frames} frames, a clip: translate it in the Video tab")
                    continue
                try:
                    im, transparent = self.engine.image_on_white(path)
                except CycleGANError as e:
                    leave_out(str(e))
                    continue
                # an animated PNG, a multi-page TIFF: said, as the CLI says it
                if left_out := frames_left_out(Path(path)):
                    leave_out(left_out.removeprefix("warning: ").replace(str(path), name))
                if G is None:  # at the first usable image
                    t0 = time.perf_counter()
                    G, loaded, changed = self.engine.ready(key, direction)
                    load_s = time.perf_counter() - t0
                    out = self.engine.folder()  # this request's own: every image the page gets is a file in it
                try:
                    self.engine.check_cost(G, f"{name} is", im.width, im.height)
                except CycleGANError as e:
                    leave_out(str(e))
                    continue
                try:
                    with self.engine.using(G), stopping(G, stop):
                        t = time.perf_counter()
                        opts = self.engine.opts  # tiles past max_memory; the server's own max_pixels
                        y = translate(G, im, max_memory=opts.max_memory, max_pixels=opts.max_pixels)
                        seconds = time.perf_counter() - t
                except Cancelled:  # said in the tab with the images done, not an Error pop-up as if it had failed
                    cancelled = True
                    break
                shown = out / output_name(stem, "_input", ".png")
                target = out / output_name(stem, f"_{direction}", ".png")
                # every command's writer: whole or not at all (a full disk left half a PNG in the gallery)
                save_image(im, shown)  # the input as read (orientation, mode): a file, not a PIL image (see Engine)
                save_image(y, target)
                gallery += [
                    (str(shown), f"{escape(name)} ({im.width}x{im.height})"),  # a right-to-left override shown
                    (str(target), f"{direction}: {seconds:.2f} s"),
                ]
                downloads.append(str(target))
                size = f"{im.width}x{im.height}" + (ON_WHITE if transparent else "")
                rows.append(f"| {literal(name)} | {size} | {seconds:.2f} |")
                del im, y  # before the next upload is decoded
                stop.said = cancelled_line(len(rows), len(uploads), problems)
                done = f"{len(rows)} of {len(uploads)} images"
                yield list(gallery), list(downloads), f"translated {done} so far:\n\n{header}" + "\n".join(rows)
        except Exception:  # the job failed (its model, a later image): the uploads left out by then said before it
            say_left_out(problems)
            raise
        if not rows and not cancelled:  # no upload was usable
            raise CycleGANError(problems[0] if len(problems) == 1 else "; ".join(problems))
        info = header + "\n".join(rows)
        if cancelled:  # the uploads left out named in the line, as the Cancel says it
            done = cancelled_line(len(rows), len(uploads), problems)
            yield gallery, downloads, f"{done}\n\n{info}" if rows else done
            return
        say_left_out(problems)
        # the model named: one chosen while the job ran is the one the dropdown shows, not the one that made these
        info += f"\n\ntranslated {direction} by {literal(key)}; model ready in {load_s:.2f} s"
        info += " (loaded now)" if loaded else " (already loaded)"
        info += f"; {changed}" if changed else ""  # a run that saved since: said here, not in a pop-up per job
        yield gallery, downloads, info
