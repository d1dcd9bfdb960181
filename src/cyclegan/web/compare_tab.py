"""The Compare tab of `cyclegan serve`: one photo through a CycleGAN generator and through Gatys, measured as
`cyclegan compare` measures them."""

from __future__ import annotations

from collections.abc import Sequence

import gradio as gr

from ..errors import counted
from .engine import BACKBONES, Cancelled, Engine, Stop, Stops, upload_box, user_errors
from .options import STYLE_SIZE_MIN, STYLE_SIZE_STEP, STYLE_STEPS_MIN


class CompareTab:
    """The Compare tab: its layout and its handler, over the server's `Engine`."""

    def __init__(self, engine: Engine):
        self.engine = engine
        # Gatys runs minutes: a comparison had no Cancel, and ran on after its page was closed
        self.stops = Stops("Compare")

    def layout(self, choices: list[tuple[str, str]]) -> gr.Dropdown:
        """Lay the tab out (inside the page's `gr.Tabs`) and wire its button; returns its model dropdown,
        which the page refreshes."""
        opts = self.engine.opts
        first = choices[0][1] if choices else None
        with gr.Tab("Compare", id="compare"):
            with gr.Row():
                with gr.Column(scale=1):
                    c_photo = upload_box(f"photo ({self.engine.upload_note})", "compare-photo")
                    c_model = gr.Dropdown(choices, value=first, label="model", elem_id="compare-model")  # any family
                    c_dir = self.engine.direction_radio(first, "direction")
                    c_styles = upload_box(
                        "style references for Gatys (images of the target domain)", "compare-styles", multiple=True
                    )
                    c_backbone = gr.Radio(BACKBONES, value="auto", label="Gatys backbone")
                    c_size = gr.Slider(
                        STYLE_SIZE_MIN,
                        opts.max_style_size,
                        value=min(256, opts.max_style_size),
                        step=STYLE_SIZE_STEP,
                        label="long side (px)",
                    )
                    c_steps = gr.Slider(
                        STYLE_STEPS_MIN,
                        opts.max_style_steps,
                        value=min(200, opts.max_style_steps),
                        step=STYLE_STEPS_MIN,
                        label="Gatys steps",
                    )
                    with gr.Row():
                        c_go = gr.Button("Compare", variant="primary", elem_id="compare-go")
                        c_cancel = gr.Button("Cancel", variant="stop", elem_id="compare-cancel")
                with gr.Column(scale=2):
                    c_gallery = gr.Gallery(
                        label="input | CycleGAN | Gatys",
                        columns=3,
                        format="png",
                        height="auto",
                        elem_id="compare-gallery",
                    )
                    c_table = gr.Markdown(elem_id="compare-table")
            self.engine.follow_direction(c_model, c_dir)  # a one-way model's own direction
            c_event = c_go.click(
                user_errors(
                    self.compare,
                    {
                        "--content": c_photo,
                        "--checkpoint": c_model,
                        "--direction": c_dir,
                        "--style": c_styles,
                        "--backbone": c_backbone,
                        "--size": c_size,
                        "--style-size": c_size,  # the style images are scaled to it too
                        "--optimizer": None,  # L-BFGS: the page has no choice of optimiser
                        "--weights": None,  # VGG19 from torchvision's cache only
                        "--steps": c_steps,
                    },
                ),
                [c_photo, c_model, c_dir, c_styles, c_backbone, c_size, c_steps],
                [c_gallery, c_table],
                **self.engine.heavy_events,
            )
            self.stops.wire(c_cancel, c_event, c_table)
            self.stops.clear_on_failure(c_event, [c_gallery, c_table], c_table)
        return c_model

    def compare(
        self,
        photo: str | None,
        key: str | None,
        direction: str,
        styles: Sequence[str] | None,
        backbone: str,
        size: int,
        steps: int,
        request: gr.Request | None = None,
        progress=gr.Progress(),  # noqa: B008 - how Gradio asks for a progress bar
    ):
        """One photo through the model (CycleGAN, pix2pix, CUT or FastCUT) and through Gatys (style from the uploaded
        references), measured as `cyclegan compare` measures: seconds, SSIM (Y) and feature distance to the input,
        Gram distance to the references. Returns (gallery input | model | Gatys, a table of the figures). Cancel,
        or closing the page, stops Gatys at its next step: an empty gallery, and the table's place says so."""
        with self.stops.flag(request, said="cancelled before Gatys began: nothing compared") as stop:
            return self._compare(photo, key, direction, styles, backbone, size, steps, stop, progress)

    def _compare(self, photo, key, direction, styles, backbone, size, steps, stop: Stop, progress):
        # on first use (torch): the page is up before these load
        from ..compare import METRICS_BACKBONE, check_measurable, measure, translate_timed
        from ..data.io import resize_long_side, save_image
        from ..loading import model_label
        from ..style import GatysOptions, load_image_01, stylize, to_pil_01

        engine = self.engine
        if not photo:
            raise engine.nothing_uploaded("upload a photo first")
        if not styles:
            raise engine.nothing_uploaded(
                "upload at least one style reference (an image of the target domain) for Gatys"
            )
        size, steps = int(size), int(steps)
        photo_im, transparent = engine.image_on_white(photo)
        im = resize_long_side(photo_im, size)
        # before Gatys' minutes, not after; as thin at the slider's largest long side: crop it
        check_measurable("the photo", size, source=photo_im.size, largest=engine.opts.max_style_size)
        refs = engine.references(styles, size)  # at the size Gatys and the Gram distance scale them to
        engine.name_first_frames([photo, *styles], "used")
        G, _, changed = engine.ready(key, direction)
        origin = getattr(G, "_cyclegan_origin", None)  # `loading.Origin`: the file's config; a pix2pix or CUT model
        config, pair = (origin.config, origin.pair) if origin else (None, False)
        label = model_label(config, engine.model_path(key) or "", pair=pair)  # was "CycleGAN"
        name, gatys_net, metrics_net = engine.style_backbones(backbone)
        device = engine.device()
        x = load_image_01(im, None).to(device)  # (1, 3, H, W) in [0, 1]

        done = [0]  # Gatys steps run, for a cancelled comparison's line

        def callback(step: int, _x) -> None:
            if stop.is_set():
                raise Cancelled
            done[0] = step
            stop.said = (
                f"cancelled after {step} of {counted(steps, 'Gatys step')}: nothing compared"  # as the job says it
            )
            progress((step, steps), desc=f"Gatys ({name})")

        # Gatys first, as `cyclegan compare` runs it: its memory check must see the device before the generator's
        # pass took (and the allocator kept) memory, or it let through a run that then failed out of memory.
        progress((0, steps), desc=f"Gatys ({name})")
        options = GatysOptions(backbone=name, size=None, style_size=size, steps=steps)
        try:
            with engine.using(gatys_net):  # shared with the Style tab's jobs (`Engine.using`)
                res = stylize(im, refs, options, net=gatys_net, device=device, progress=False, callback=callback)
        except Cancelled:  # said in the tab, as Style transfer says it: it was an Error pop-up, as if it had failed
            return [], f"cancelled after {done[0]} of {counted(steps, 'Gatys step')}: nothing compared"
        with engine.using(G):
            y_cyc, t_cyc = translate_timed(G, x, warm_up=True)
        images = {"input": x, "cyclegan": y_cyc, "gatys": res.tensor.to(device)}
        m = measure(images, refs, metrics_net, size=size)
        seconds = {"input": None, "cyclegan": t_cyc, "gatys": res.seconds}
        out = engine.folder()
        gallery = []
        for method, caption in (
            ("input", "input"),
            ("cyclegan", f"{label} ({direction})"),
            ("gatys", f"Gatys ({name}, {counted(steps, 'step')})"),
        ):
            target = out / f"{method}.png"
            save_image(to_pil_01(images[method].detach().cpu()), target)
            gallery.append((str(target), caption))
        table = [
            "| method | seconds | SSIM (Y) to input | content distance | style distance |",
            "|---|---|---|---|---|",
        ]
        for method in ("input", "cyclegan", "gatys"):
            s = "" if seconds[method] is None else f"{seconds[method]:.3f}"
            # the rows as `cyclegan compare` names them (`report.text`); not `name`, the Gatys backbone's, read below
            row = {"cyclegan": label, "gatys": "Gatys"}.get(method, method)
            table.append(
                f"| {row} | {s} | {m['ssim_y'][method]:.3f} | {m['content_distance'][method]:.3f} | "
                f"{m['style_distance'][method]:.3f} |"
            )
        table.append(
            f"\nContent: SSIM of the luminance (1 = unchanged) and relative feature distance (0 = unchanged) to "
            f"the input; style: Gram distance to the references (0 = their statistics); all on "
            f"{METRICS_BACKBONE} features, as `cyclegan compare` reports them. {label}: one forward pass after "
            "a warm-up; Gatys: the whole optimisation."
        )
        if changed:  # a run that saved since: said here, not in a pop-up per job
            table.append(f"\n{changed[0].upper()}{changed[1:]}.")
        if transparent:  # a cut-out lost it without a word
            table.append("\nThe photo's transparency was put on white, as `cyclegan compare` reads it.")
        if name == METRICS_BACKBONE:
            table.append("\nGatys optimised the same Lite0 features that measure it, so the distances favour it.")
        return gallery, "\n".join(table)
