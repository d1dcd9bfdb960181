"""Self-contained HTML pages of the commands' reports (images by relative path, no scripts).

Each function takes the report a library function returned (`compare.compare`, `demo.run_demo`) and
returns the page; none of them computes a figure.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..errors import counted
from .text import describe_record, kid_text, local_colour_text
from .types import CompareReport

# --- cyclegan compare --------------------------------------------------------------------------------------


def shown(text: str) -> str:
    """`text` escaped for the page, a file name's bytes that are not UTF-8 (`os.fsdecode` keeps them as lone
    surrogates: 'caf\\udce9' from a Latin-1 'café') as U+FFFD: UTF-8 has no code for them, and the page of a
    comparison of such a file stopped in a traceback after all its Gatys runs, which were removed with it."""
    return html.escape(text.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))


def image_url(path: str) -> str:
    """A relative image path as the page links it: the file name's own bytes, percent-encoded (`os.fsencode`:
    a Latin-1 name's 0xE9 as %E9), so the browser asks for the file that is on disk."""
    return html.escape(quote(os.fsencode(path)))


def render_compare_html(r: CompareReport) -> str:
    """The comparison page: the grid, a summary table (means over images), one row per image."""
    e = shown
    g, mb = r.gatys, r.metrics_backbone
    model = e(r.model)  # the translation's column: CycleGAN, pix2pix, CUT or FastCUT
    mlabel = f"Lite0 {mb['content_layer']}"
    slabel = f"Lite0 Gram {', '.join(mb['style_layers'])}"
    head = [
        f"<!doctype html><meta charset='utf-8'><title>{model} vs Gatys</title>",
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:4px 8px;text-align:right}"
        "th{background:#eee}img.t{max-width:160px}</style>",
        f"<h1>{model} vs Gatys style transfer</h1>",
        f"<p>{model}: <code>{e(r.checkpoint)}</code>, {e(r.model_details())}. "
        f"Gatys: backbone <b>{e(r.gatys_backbone())}</b>"
        f" (content {e(', '.join(g['content_layers']))}; style {e(', '.join(g['style_layers']))}), "
        f"{counted(g['steps'], e(g['optimizer']) + ' step')}, {counted(g['refs_per_image'], 'reference')} per image. "
        f"Images at long side {r.size} px"
        + (f"; seconds measured on {e(r.device)}, fp32" if r.device else "")
        + ".</p>",
        f"<p>Content distance: relative L2 at {e(mlabel)}. Style distance: relative Gram distance over "
        f"{e(slabel)} to the references Gatys used. SSIM: on luminance against the input. "
        "Metrics backbone: EfficientNet-Lite0 (ImageNet weights), for every method.</p>",
        *[f"<p><b>Note:</b> {e(n)}</p>" for n in r.notes],
        *(
            [f"<p><b>Skipped:</b> {counted(len(r.skipped), 'image')} could not be used:</p><ul>"]
            + [f"<li>{e(line)}</li>" for line in r.skipped]
            + ["</ul>"]
            if r.skipped
            else []
        ),
        f"<img src='grid.png' alt='input | {model} | Gatys' style='max-width:100%'>",
        "<h2>Summary (mean over images)</h2><table><tr><th>method</th><th>s / image</th><th>SSIM (Y)</th>"
        f"<th>content dist. ({e(mlabel)})</th><th>style dist. (Lite0 Gram)</th>"
        + ("<th>KID (Lite0 features)</th>" if r.kid else "")
        + "</tr>",
    ]
    for k in r.methods:
        sec = r.mean("seconds", k)
        kid = f"<td>{kid_text(r.kid[k]['mean'], r.kid[k]['std'])}</td>" if r.kid else ""
        head.append(
            f"<tr><th>{e(r.label(k))}</th><td>{'' if k == 'input' else f'{sec:.3f}'}</td>"
            f"<td>{r.mean('ssim_y', k):.3f}</td><td>{r.mean('content_distance', k):.3f}</td>"
            f"<td>{r.mean('style_distance', k):.3f}</td>{kid}</tr>"
        )
    head.append("</table>")
    if r.kid:
        head.append(
            f"<p>KID: {e(r.kid['features'])} of each set against {r.kid['n_target']} images of "
            f"<code>{e(r.kid['target'])}</code>, subsets of {r.kid['subset_size']}; "
            "lower is closer to the domain. "
            "Not comparable with KID over Inception features.</p>"
        )
    head.append(
        f"<h2>Per image</h2><table><tr><th>image</th><th>input</th><th>{model}</th><th>Gatys</th>"
        f"<th>{'reference' if g['refs_per_image'] == 1 else 'references'}</th><th>s {model} / Gatys</th>"
        "<th>SSIM (Y) C / G</th><th>content dist. C / G</th>"
        "<th>style dist. in / C / G</th></tr>"
    )
    for row in r.rows:
        # a URL, not a name: 'a#1_input.png' was a link to 'a' and '50%25.png' to '50%.png', shown broken
        imgs = "".join(f"<td><img class='t' src='{image_url(row.images[k])}'></td>" for k in r.methods)
        head.append(
            f"<tr><td>{e(row.name)}</td>{imgs}<td style='text-align:left'>"
            + "<br>".join(e(Path(p).name) for p in row.references)
            + f"</td><td>{row.seconds['cyclegan']:.3f} / {row.seconds['gatys']:.2f}</td>"
            f"<td>{row.ssim_y['cyclegan']:.3f} / {row.ssim_y['gatys']:.3f}</td>"
            f"<td>{row.content_distance['cyclegan']:.3f} / {row.content_distance['gatys']:.3f}</td>"
            f"<td>{row.style_distance['input']:.3f} / {row.style_distance['cyclegan']:.3f} / "
            f"{row.style_distance['gatys']:.3f}</td></tr>"
        )
    head.append("</table>")
    # with a target given, a note says why KID is missing: "give a folder" contradicted it
    if r.kid is None and r.target is None:
        head.append("<p>No KID: give a folder of target-domain images (--style DIR or --target DIR).</p>")
    return "\n".join(head) + "\n"


# --- cyclegan demo -----------------------------------------------------------------------------------------


CURVE_COLOURS = {"AtoB": "#1f77b4", "BtoA": "#d62728"}
# the best value's digits as the report's tables print the score (3 significant digits wrote 22.04 dB as "22")
CURVE_DIGITS = {"psnr": ".2f", "cycle_psnr": ".2f", "ssim": ".3f", "kid": ".4f"}


def score_curve_svg(records: list[dict[str, Any]], metric: str, *, width: int = 520, height: int = 220) -> str:
    """An inline SVG of score `metric` (e.g. psnr) against the step, one line per direction, from the records
    of log.jsonl that hold scores (eval/AtoB/psnr, ...); the best value of each line is marked. "" if none."""
    lines = {
        d: [(r["step"], r[f"eval/{d}/{metric}"]) for r in records if r.get(f"eval/{d}/{metric}") is not None]
        for d in CURVE_COLOURS
    }
    lines = {d: pts for d, pts in lines.items() if pts}
    if not lines:
        return ""
    pts = [p for line in lines.values() for p in line]
    (x0, x1), (y0, y1) = ((min(v), max(v)) for v in zip(*pts))
    x0, y1 = 0, y1 + (y1 - y0) * 0.05 + 1e-9
    pad, W, H = 44, width - 64, height - 56

    def xy(step: float, v: float) -> str:
        return f"{pad + (step - x0) / max(x1 - x0, 1) * W:.1f},{20 + (y1 - v) / max(y1 - y0, 1e-9) * H:.1f}"

    best = max if metric != "kid" else min
    fmt = CURVE_DIGITS.get(metric, ".3g")
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' font-size='11' "
        f"font-family='sans-serif'><rect x='{pad}' y='20' width='{W}' height='{H}' fill='none' stroke='#999'/>",
        f"<text x='{pad}' y='14'>{html.escape(metric)} (held-out test scenes) against the training step</text>",
        f"<text x='2' y='24'>{y1:.3g}</text><text x='2' y='{20 + H}'>{y0:.3g}</text>",
        f"<text x='{pad}' y='{height - 18}'>0</text><text x='{pad + W - 30}' y='{height - 18}'>{x1}</text>",
        f"<text x='{pad + W / 2 - 12}' y='{height - 18}'>step</text>",
    ]
    for i, (d, line) in enumerate(lines.items()):
        colour = CURVE_COLOURS[d]
        path = " ".join(xy(s, v) for s, v in line)
        parts.append(f"<polyline fill='none' stroke='{colour}' stroke-width='2' points='{path}'/>")
        bs, bv = best(line, key=lambda p: p[1])
        cx, cy = xy(bs, bv).split(",")
        parts.append(f"<circle cx='{cx}' cy='{cy}' r='4' fill='{colour}'/>")
        parts.append(
            f"<text x='{pad + 8 + i * 220}' y='{height - 4}' fill='{colour}'>{d}: best {bv:{fmt}} at step {bs}</text>"
        )
    return "".join(parts) + "</svg>"


def options_text(options: dict[str, Any]) -> str:
    """The demo's training options as the page shows them: JSON, its floats to 6 significant digits (the demo's
    `lambda_identity` of 5/3 read 1.6666666666666667); report.json keeps them exact."""
    return json.dumps({k: float(f"{v:.6g}") if isinstance(v, float) else v for k, v in options.items()})


def render_demo_html(report: dict[str, Any]) -> str:
    """The demo's page: the scores table and the grids (input | translated | truth)."""
    rows = "".join(
        f"<tr><td>{d}</td><td>{r['psnr']:.2f}</td><td>{r['psnr_identity']:.2f}</td>"
        f"<td><b>{r['psnr'] - r['psnr_identity']:+.2f}</b></td><td>{r['ssim']:.3f}</td>"
        f"<td>{r['ssim_identity']:.3f}</td></tr>"
        for d, r in report["ground_truth"].items()
    )
    local = local_colour_text(report["ground_truth"])
    local = f"<p>Local colour: {html.escape(local)}.</p>" if local else ""
    names = {"AtoB": "summer → winter (G)", "BtoA": "winter → summer (F)"}
    figures = "".join(
        f"<figure><img src='{html.escape(f)}'><figcaption>{names[d]}: input | translated | truth</figcaption></figure>"
        for d, f in report["grids"].items()
    )
    st = report["settings"]
    m, t, d = (report["config"][k] for k in ("model", "train", "data"))
    verdict = report.get("verdict") or {}
    curve = score_curve_svg(report.get("scores_while_training") or [], verdict.get("metric") or "psnr")
    warnings = verdict.get("warnings") or []
    if curve:
        seconds = report["seconds"]
        of_training = "" if seconds["train"] is None else f" of the {seconds['train']} s of training"
        curve = (
            f"<h2>Scores while training</h2><figure>{curve}<figcaption>every {t['eval_every']} steps on the test "
            f"scenes (log.jsonl); best.pt holds step {verdict.get('best_step')}. Evaluation took "
            # report.json's evaluation seconds are to the ms; said to the tenth, as the training's
            f"{seconds.get('evaluation', 0):.1f} s{of_training}. Failure warnings: "  # the watcher's, as `train` says
            f"{html.escape('; '.join(warnings)) if warnings else 'none'}.</figcaption></figure>"
        )
    opts = st["options"]
    cut = ""
    if st.get("steps_planned", st["steps_trained"]) > st["steps_trained"]:  # else a few scores read as converged
        cut = (
            f"<p><b>Stopped by the time limit</b> ({t['time_limit']:g} min) at step {st['steps_trained']} of the "
            f"{st['steps_planned']} its learning rate schedule planned: the rate had not decayed to 0 and these "
            "scores are not the recipe's; give more --minutes (with --overwrite).</p>"
        )
    if report.get("note"):  # a slow or busy machine's few steps, as the command says under its table
        cut += f"<p><b>Note:</b> {html.escape(report['note'])}.</p>"
    blocks = counted(m["n_blocks"], "residual block")
    execution = report.get("execution")  # None: trained to its end by `cyclegan train --resume`, not timed here
    computed = (
        f"Computed in {html.escape(describe_record(execution))}."
        if execution
        else "How it computed is not recorded: its training was ended outside the demo."
    )
    resumed = st.get("resumed_at_step")  # a demo stopped while training, gone on when run again
    train_s, total_s = report["seconds"]["train"], report["seconds"]["total"]
    took = f"in {train_s} s ({total_s} s in all)" if train_s is not None else "(its training not timed by the demo)"
    resumed = f" (on from step {resumed} after a stop: the seconds are from there)" if resumed is not None else ""
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>cyclegan demo report</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.3em .7em;text-align:right}}img{{image-rendering:pixelated;width:24em}}
figure{{display:inline-block;margin:1em}}</style></head><body>
<h1>cyclegan demo: summer ↔ winter</h1>
<p>{html.escape(report["task"])}. A {m["generator"]} generator ({m["ngf"]} base channels, {blocks},
{m["norm"]} norm; the {html.escape(report["config"]["preset"])} preset) trained {st["steps_trained"]} steps of batch
{t["batch_size"]} at {d["size"]} px
on {st["device"]} {took}{resumed}. Scores are means
over {st["test_count"]} paired test scenes. Options: <code>{html.escape(options_text(opts))}</code>.
{computed}</p>
<table><tr><th>direction</th><th>PSNR (dB)</th><th>PSNR untranslated</th><th>gain</th><th>SSIM</th>
<th>SSIM untranslated</th></tr>{rows}</table>
{local}
{cut}
<p>{html.escape(report["metrics"])}.</p>
{figures}
{curve}
</body></html>
"""
