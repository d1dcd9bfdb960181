"""Self-contained HTML pages of the commands' reports (images by relative path, no scripts).

Each function takes the report a library function returned (`compare.compare`, `demo.run_demo`) and
returns the page; none of them computes a figure.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from .text import describe_record
from .types import CompareReport

# --- cyclegan compare --------------------------------------------------------------------------------------


def render_compare_html(r: CompareReport) -> str:
    """The comparison page: the grid, a summary table (means over images), one row per image."""
    e = html.escape
    g, mb = r.gatys, r.metrics_backbone
    mlabel = f"Lite0 {mb['content_layer']}"
    slabel = f"Lite0 Gram {', '.join(mb['style_layers'])}"
    head = [
        "<!doctype html><meta charset='utf-8'><title>CycleGAN vs Gatys</title>",
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:4px 8px;text-align:right}"
        "th{background:#eee}img.t{max-width:160px}</style>",
        "<h1>CycleGAN vs Gatys style transfer</h1>",
        f"<p>CycleGAN: <code>{e(r.checkpoint)}</code>, {e(r.direction)}. "
        f"Gatys: backbone <b>{e(g['backbone'])}</b>"
        f" (content {e(', '.join(g['content_layers']))}; style {e(', '.join(g['style_layers']))}), "
        f"{g['steps']} {e(g['optimizer'])} steps, {g['refs_per_image']} reference(s) per image. "
        f"Images at long side {r.size} px.</p>",
        f"<p>Content distance: relative L2 at {e(mlabel)}. Style distance: relative Gram distance over "
        f"{e(slabel)} to the references Gatys used. SSIM: on luminance against the input. "
        "Metrics backbone: EfficientNet-Lite0 (ImageNet weights), for every method.</p>",
        *[f"<p><b>Note:</b> {e(n)}</p>" for n in r.notes],
        "<img src='grid.png' alt='input | CycleGAN | Gatys' style='max-width:100%'>",
        "<h2>Summary (mean over images)</h2><table><tr><th>method</th><th>s / image</th><th>SSIM (Y)</th>"
        f"<th>content dist. ({e(mlabel)})</th><th>style dist. (Lite0 Gram)</th>"
        + ("<th>KID (Lite0 features)</th>" if r.kid else "")
        + "</tr>",
    ]
    for k in r.methods:
        sec = r.mean("seconds", k)
        kid = f"<td>{r.kid[k]['mean']:.4f} ± {r.kid[k]['std']:.4f}</td>" if r.kid else ""
        head.append(
            f"<tr><th>{k}</th><td>{'' if k == 'input' else f'{sec:.3f}'}</td>"
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
        "<h2>Per image</h2><table><tr><th>image</th><th>input</th><th>CycleGAN</th><th>Gatys</th>"
        "<th>reference(s)</th><th>s CycleGAN / Gatys</th><th>SSIM (Y) C / G</th><th>content dist. C / G</th>"
        "<th>style dist. in / C / G</th></tr>"
    )
    for row in r.rows:
        imgs = "".join(f"<td><img class='t' src='{e(row.images[k])}'></td>" for k in r.methods)
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
    if r.kid is None:
        head.append("<p>No KID: give a folder of target-domain images (--style DIR or --target DIR).</p>")
    return "\n".join(head) + "\n"


# --- cyclegan demo -----------------------------------------------------------------------------------------


def render_demo_html(report: dict[str, Any]) -> str:
    """The demo's page: the scores table and the grids (input | translated | truth)."""
    rows = "".join(
        f"<tr><td>{d}</td><td>{r['psnr']:.2f}</td><td>{r['psnr_identity']:.2f}</td>"
        f"<td><b>{r['psnr'] - r['psnr_identity']:+.2f}</b></td><td>{r['ssim']:.3f}</td>"
        f"<td>{r['ssim_identity']:.3f}</td></tr>"
        for d, r in report["ground_truth"].items()
    )
    names = {"AtoB": "summer → winter (G)", "BtoA": "winter → summer (F)"}
    figures = "".join(
        f"<figure><img src='{html.escape(f)}'><figcaption>{names[d]}: input | translated | truth</figcaption></figure>"
        for d, f in report["grids"].items()
    )
    st = report["settings"]
    m, t, d = (report["config"][k] for k in ("model", "train", "data"))
    opts = st["options"]
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>cyclegan demo report</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.3em .7em;text-align:right}}img{{image-rendering:pixelated;width:24em}}
figure{{display:inline-block;margin:1em}}</style></head><body>
<h1>cyclegan demo: summer ↔ winter</h1>
<p>{html.escape(report["task"])}. A {m["generator"]} generator ({m["ngf"]} base channels, {m["n_blocks"]} blocks,
{m["norm"]} norm; the {html.escape(report["config"]["preset"])} preset) trained {st["steps_trained"]} steps of batch
{t["batch_size"]} at {d["size"]} px
on {st["device"]} in {report["seconds"]["train"]} s ({report["seconds"]["total"]} s in all). Scores are means over
{st["test_count"]} paired test scenes. Options: <code>{html.escape(json.dumps(opts))}</code>.
Computed in {html.escape(describe_record(report.get("execution")))}.</p>
<table><tr><th>direction</th><th>PSNR (dB)</th><th>PSNR untranslated</th><th>gain</th><th>SSIM</th>
<th>SSIM untranslated</th></tr>{rows}</table>
<p>{html.escape(report["metrics"])}.</p>
{figures}
</body></html>
"""
