"""The Runs tab of `cyclegan serve`: a run's loss curves, score curves (`--eval-every`), latest sample grids
and config, redrawn while it trains (read by `web.runs`, without torch)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd  # a dependency of gradio's

from ..files import write_atomic
from ..run_files import BEST_NAME, CHECKPOINT_NAME, CONFIG_NAME, LOG_NAME
from ..warning_levels import (  # the watcher's (`train.watch`), without training
    COLLAPSED,
    FOLLOWED,
    STILL,
    TINTED,
    UNFOLLOWED,
)
from .engine import LIGHT_EVENTS, Engine, literal, user_errors
from .runs import LogReader, latest_samples, loss_rows, read_config, run_summary, score_rows, shown_config

SAMPLES_SHOWN = 4
# A grid has a row per fixed image, A's above B's, and the family's columns (`sample_columns` of its trainer).
SAMPLES_LABEL = (
    "latest sample grids, newest first: a row per fixed image, A's above B's; CycleGAN: real | translated | "
    "reconstructed; CUT, FastCUT: real | translated (B's rows: identity); pix2pix: source | translated | truth"
)


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


class RunsTab:
    """The Runs tab: its layout and its handler, over the server's `Engine`."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.logs = LogReader()  # each redraw parses only what training appended since the last

    def layout(self, runs: list[str]) -> gr.Dropdown:
        """Lay the tab out (inside the page's `gr.Tabs`) and draw the chosen run when the choice changes;
        returns its run dropdown, which the page refreshes. `redraw_on` keeps the drawing current."""
        with gr.Tab("Runs", id="runs"):
            r_run = gr.Dropdown(runs, value=runs[0] if runs else None, label="run", elem_id="runs-run")
            r_summary = gr.Markdown(elem_id="runs-summary")
            with gr.Row():
                r_plot = gr.LinePlot(
                    x="step", y="value", color="loss", label="losses (log.jsonl)", elem_id="runs-plot", scale=3
                )
                r_total = gr.LinePlot(
                    x="step", y="value", color="loss", label="weighted sums", elem_id="runs-total", scale=1
                )
            # Empty until the run scores (--eval-every). A plot's legend is one line that is cut at its edge, not
            # wrapped: three plots in a row cut the dB plot's last entry and half the unitless plot's (its BtoA
            # scores). The two plots of at most 4 entries share a row; the unitless one (up to 10) has its own.
            with gr.Row():
                r_psnr = gr.LinePlot(
                    x="step",
                    y="value",
                    color="score",
                    label="scores in dB (--eval-every): PSNR to the truth, cycle PSNR; higher is better",
                    elem_id="runs-scores-db",
                    scale=1,
                )
                r_grey = gr.LinePlot(
                    x="step",
                    y="value",
                    color="score",
                    # not "on a paired test split" alone: pix2pix scores it on training pairs set aside too
                    label="local colour in grey levels (0-255; --eval-every where each held-out image has its truth: "
                    "a paired test split, pix2pix's pairs): the worst patch's mean colour off the truth (a side an "
                    "eighth of the image's); lower is better",
                    elem_id="runs-scores-grey",
                    scale=1,
                )
            r_scores = gr.LinePlot(
                x="step",
                y="value",
                color="score",
                # not "0-1 scales": change reaches 2 and spread passes 1 (1.38 on the demo's runs)
                label="scores without units: SSIM (0-1, higher is better), kid (lower), change from the input "
                f"(under {STILL:g}: a warning), spread of the outputs (under {COLLAPSED:g}: a warning), whether they "
                f"follow their inputs (follows, under {UNFOLLOWED:g} after reaching {FOLLOWED:g}: a warning), tint "
                f"(over {TINTED:g}: a warning)",
                elem_id="runs-scores",
            )
            with gr.Row():
                with gr.Column(scale=2):
                    r_samples = gr.Gallery(
                        label=SAMPLES_LABEL,
                        columns=4,
                        format="png",
                        preview=True,
                        height=560,
                        object_fit="contain",
                        elem_id="runs-samples",
                    )
                with gr.Column(scale=1):
                    r_config = gr.JSON(label="config.json (folders by their last part)", elem_id="runs-config")
            self._shown = gr.State(None)
            self._view = user_errors(self.run_view)
            self._outputs = [r_config, r_plot, r_total, r_psnr, r_scores, r_grey, r_samples, r_summary, self._shown]
            view = self._view
            r_run.change(lambda label: view(label, None), [r_run], self._outputs, **LIGHT_EVENTS)
        self._run = r_run
        return r_run

    def redraw_on(self, timer: gr.Timer, app: gr.Blocks) -> None:
        """Redraw the run at each tick of `timer` (only what changed) and whenever the page is loaded."""
        view = self._view
        timer.tick(view, [self._run, self._shown], self._outputs, **LIGHT_EVENTS)
        app.load(lambda label: view(label, None), [self._run], self._outputs, **LIGHT_EVENTS)

    def run_view(self, label: str | None, shown: Any):
        """What the Runs tab shows of run `label`: (config, loss terms, weighted sums, scores in dB, scores
        without units, scores in grey levels, sample grids, summary), or gr.skip() for each when nothing changed
        since `shown` (the files' sizes and times), so the page does not redraw every few seconds. Returns the new
        `shown` last."""
        runs = self.engine.runs()
        run = runs.get(label or "")
        if run is None:
            empty = "no run selected" if runs else "no run found under --runs yet"
            return None, None, None, None, None, None, [], empty, None
        log = run / LOG_NAME
        samples = [(step, path, _stat(path)) for step, path in latest_samples(run, SAMPLES_SHOWN)]
        signature = (
            str(run),
            _stat(log),
            _stat(run / CONFIG_NAME),
            _stat(run / CHECKPOINT_NAME),
            _stat(run / BEST_NAME),
            [(str(p), st) for _, p, st in samples],
            int(time.time() // 30),
        )  # the summary's ages: every 30 s
        if signature == shown:
            return (*[gr.skip()] * 8, shown)
        records = self.logs.read(log)
        columns = ["step", "loss", "value"]
        terms = pd.DataFrame(loss_rows(records), columns=columns)
        totals = pd.DataFrame(loss_rows(records, totals=True), columns=columns)
        score_columns = ["step", "score", "value"]
        decibels, scores, greys = (
            pd.DataFrame(score_rows(records, unit=unit), columns=score_columns) for unit in ("dB", None, "grey levels")
        )
        copies = []
        for step, path, st in samples:  # copies: the page is never handed a path inside a run
            if st is None:  # removed since it was listed (the run deleted while the page shows it)
                continue
            # Named by the file's time and size too: a run deleted and trained again under its name has new
            # grids of the old names, and a copy named by the name alone showed the old run's.
            # In Gradio's folder, which serves it as it is and deletes it an hour after it was made (a later
            # redraw copies it again): kept in the server's own folder, a copy of every grid shown stayed for
            # the server's life, beside Gradio's own copy of it.
            target = self.engine.outputs / "samples" / f"{abs(hash(str(run)))}_{st[0]}_{st[1]}_{path.name}"
            try:
                if not target.exists():  # whole or absent: two refreshes at once never show a half copy
                    write_atomic(target, lambda tmp, src=path: shutil.copyfile(src, tmp))
            except FileNotFoundError:  # removed since: the next refresh shows what is there then
                continue
            copies.append((str(target), f"step {step}"))
        summary = f"**{literal(label)}**: {run_summary(run, records)}"
        return shown_config(read_config(run)), terms, totals, decibels, scores, greys, copies, summary, signature
