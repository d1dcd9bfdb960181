"""CycleGAN next to Gatys style transfer on the same content images: a grid, per-image figures, a report.

For each content image (resized to long side `size`): translate it with a trained generator, stylise it
with Gatys using reference images of the target domain, and measure, for the input and both outputs:

- seconds per image (CycleGAN: one forward pass after a warm-up; Gatys: the whole optimisation);
- content preservation: SSIM of the luminance against the input (1 = unchanged) and a deep-feature
  distance to the input (relative L2 at the metrics backbone's content layer, 0 = unchanged);
- style match: Gram distance to the blended Gram matrices of the references that Gatys used (relative
  Frobenius norm averaged over the metrics backbone's style layers, 0 = the references' statistics);
- given a folder of target-domain images: KID between each set of outputs and that folder, over
  EfficientNet-Lite0 pooled features (a stand-in for Inception features: not comparable with published KID).

Every number is labelled with the backbone that produced it.
"""

from __future__ import annotations

import html
import json
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F_
from PIL import Image
from torch import nn

from .data.io import read_image
from .errors import CycleGANError
from .inference import expand_inputs, resize_long_side, translate_tensor
from .pretrained import lite0_model
from .report.grid import save_grid
from .style import build_backbone, default_backbone, gram_distance, gram_matrix, load_image_01, stylize
from .style.backbones import DEFAULTS, Lite0Backbone

METHODS = ("input", "cyclegan", "gatys")
METRICS_BACKBONE = "lite0"  # always available offline, so reports from any machine are comparable


# --- metrics: small pure functions ---------------------------------------------------------------------


def luminance(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB in [0, 1] -> (B, 1, H, W) luma (ITU-R BT.601) in [0, 1]."""
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * weights).sum(1, keepdim=True)


def ssim_y(a: torch.Tensor, b: torch.Tensor) -> float:
    """SSIM of the luminance of two RGB images (1, 3, H, W) in [0, 1]; 1 = identical structure."""
    from .evaluate.metrics import ssim

    return float(ssim(luminance(a), luminance(b), value_range=(0.0, 1.0)))


def feature_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Relative L2 distance ||a - b|| / ||b|| of two feature maps of equal shape (0 = equal)."""
    return float((a - b).norm() / b.norm().clamp_min(1e-12))


def kid_lite0(
    fake: Sequence[torch.Tensor], real: Sequence[torch.Tensor], *, extractor: nn.Module, seed: int = 0
) -> tuple[float, float, int]:
    """KID over Lite0 pooled features between two image sets, each a list of (3, 224, 224) in [0, 1].

    The same features and KID as `cyclegan evaluate` (`evaluate.features.Lite0Features`,
    `evaluate.distances.feature_distances`: subsets of min(100, both set sizes), seeded).
    Returns (mean, std over subsets, subset size).
    """
    from .evaluate.distances import feature_distances

    if min(len(fake), len(real)) < 2:
        raise CycleGANError("KID needs at least 2 images on each side; give more content or target images")
    device = next(extractor.parameters()).device

    def features(images: Sequence[torch.Tensor]) -> torch.Tensor:  # extractor takes [-1, 1]
        return torch.cat([extractor(torch.stack(list(images[i : i + 16])).to(device) * 2 - 1).cpu()
                          for i in range(0, len(images), 16)])  # fmt: skip

    d = feature_distances(features(real), features(fake), seed=seed)
    return d.kid, d.kid_std, d.kid_subset_size


def kid_input(x: torch.Tensor) -> torch.Tensor:
    """(1, 3, H, W) in [0, 1] -> (3, 224, 224): short side to 224 and a centre crop, as for ImageNet."""
    from torchvision.transforms.v2 import functional as TF

    x = TF.resize(x, 224, antialias=True)
    return TF.center_crop(x, [224, 224])[0].clamp(0, 1)


# --- the comparison ------------------------------------------------------------------------------------


@dataclass
class Row:
    """Figures for one content image. Metric dicts map a method (input, cyclegan, gatys) to a value."""

    name: str
    content: str
    references: list[str]
    seconds: dict[str, float]
    ssim_y: dict[str, float]
    content_distance: dict[str, float]
    style_distance: dict[str, float]
    images: dict[str, str] = field(default_factory=dict)


@dataclass
class CompareReport:
    checkpoint: str
    direction: str
    size: int
    gatys: dict
    metrics_backbone: dict
    rows: list[Row]
    kid: dict | None
    grid: str
    html: str
    notes: list[str] = field(default_factory=list)


def _style_pool(style: Sequence[str]) -> tuple[list[Path], list[Path]]:
    """--style items -> (reference image files, the folders among them)."""
    found = expand_inputs(style)
    if found.errors:
        raise CycleGANError(f"option '--style': {found.errors[0]}")
    folders = [Path(s) for s in style if Path(s).is_dir()]
    return found.files, folders


def _shrink(x: torch.Tensor, cell: int) -> torch.Tensor:
    """(1, 3, h, w) in [0, 1] -> long side `cell` (antialiased), aspect ratio kept."""
    h, w = x.shape[-2:]
    if max(h, w) == cell:
        return x
    scale = cell / max(h, w)
    new = [max(1, round(h * scale)), max(1, round(w * scale))]
    return F_.interpolate(x, size=new, mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)


def _fit_square(x: torch.Tensor, cell: int) -> torch.Tensor:
    """(1, 3, h, w) in [0, 1] with max(h, w) == cell -> (3, cell, cell), centred on white (for the grid)."""
    h, w = x.shape[-2:]
    top, left = (cell - h) // 2, (cell - w) // 2
    return F_.pad(x[0], (left, cell - w - left, top, cell - h - top), value=1.0)


def compare(
    checkpoint: str | Path,
    direction: str,
    content: Sequence[str],
    style: Sequence[str],
    out: str | Path,
    *,
    target: str | Path | None = None,
    size: int = 256,
    backbone: str = "auto",
    weights: str | None = None,
    steps: int = 300,
    optimizer: str = "lbfgs",
    refs_per_image: int = 1,
    grid_cell: int | None = None,
    grid_palette: bool = False,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> CompareReport:
    """Run CycleGAN (`checkpoint`, `direction`) and Gatys on the same `content` images; write
    `out/grid.png` (input | CycleGAN | Gatys, one row per image), `out/report.html`, `out/report.json` and
    the single images under `out/images/`.

    style: reference images and/or folders of target-domain images; each content image gets
        `refs_per_image` references drawn from them (seeded), whose Gram matrices Gatys blends.
    target: a folder of target-domain images for KID; default: the first folder given in `style`.
    grid_cell: pixels per grid cell (default: `size`); grid_palette: save the grid with a 256-colour
        palette (about 3x smaller, for web pages; the single images stay full colour).
    """
    from tqdm import tqdm

    from .checkpoint import load_generator

    if size <= 0:
        raise CycleGANError(f"option '--size' must be positive, got {size}")
    if grid_cell is not None and grid_cell <= 0:
        raise CycleGANError(f"option '--grid-cell' must be positive, got {grid_cell}")
    if refs_per_image <= 0:
        raise CycleGANError(f"option '--refs-per-image' must be positive, got {refs_per_image}")
    found = expand_inputs(content)
    if found.errors:
        raise CycleGANError(f"option '--content': {found.errors[0]}")
    refs_pool, style_folders = _style_pool(style)
    target_dir = Path(target) if target else (style_folders[0] if style_folders else None)
    if target_dir is not None and not target_dir.is_dir():
        raise CycleGANError(f"option '--target': {target_dir} is not a folder of target-domain images")

    device = torch.device(device)
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    G = load_generator(checkpoint, direction, device=device)  # type: ignore[arg-type]
    name = backbone if backbone != "auto" else default_backbone(weights)
    d = DEFAULTS[name]
    m = DEFAULTS[METRICS_BACKBONE]
    lite0 = lite0_model()  # loaded once, shared by the metrics and (if chosen) Gatys
    metrics_net = Lite0Backbone([*m.content_layers, *m.style_layers], model=lite0).to(device)
    gatys_layers = [*d.content_layers, *d.style_layers]
    if name == "lite0":
        gatys_net = Lite0Backbone(gatys_layers, model=lite0).to(device)
    else:
        gatys_net = build_backbone(name, gatys_layers, weights=weights).to(device)
    rng = random.Random(seed)

    rows: list[Row] = []
    outputs: dict[str, list[torch.Tensor]] = {k: [] for k in METHODS}
    used: set[str] = set()
    warm = False
    for path in tqdm(found.files, desc="compare", unit="img", disable=not progress):
        im = resize_long_side(read_image(path), size)
        x = load_image_01(im, None).to(device)  # (1, 3, H, W) in [0, 1]
        refs = refs_pool if len(refs_pool) <= refs_per_image else rng.sample(refs_pool, refs_per_image)

        if not warm:  # the first call pays for allocation and kernel choice: keep it out of the timing
            translate_tensor(G, x * 2 - 1)
            warm = True
        t0 = time.perf_counter()
        y_cyc = (translate_tensor(G, x * 2 - 1).clamp(-1, 1) + 1) / 2
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t_cyc = time.perf_counter() - t0

        res = stylize(
            im, refs, backbone=name, net=gatys_net, size=None, style_size=size, steps=steps,
            optimizer=optimizer, device=device, seed=seed, progress=False,
        )  # fmt: skip
        images = {"input": x, "cyclegan": y_cyc, "gatys": res.tensor.to(device)}

        with torch.no_grad():
            feats = {k: metrics_net(v) for k, v in images.items()}
            ref_grams = [
                {layer: gram_matrix(f[layer]) for layer in m.style_layers}
                for f in (metrics_net(load_image_01(r, size).to(device)) for r in refs)
            ]
            target_grams = {k: sum(g[k] for g in ref_grams) / len(ref_grams) for k in m.style_layers}
            c_layer = m.content_layers[0]
            base = feats["input"][c_layer]
            row = Row(
                name=path.stem, content=str(path), references=[str(r) for r in refs],
                seconds={"cyclegan": t_cyc, "gatys": res.seconds},
                ssim_y={k: ssim_y(v, x) for k, v in images.items()},
                content_distance={k: feature_distance(f[c_layer], base) for k, f in feats.items()},
                style_distance={k: gram_distance(f, target_grams) for k, f in feats.items()},
            )  # fmt: skip
        stem = path.stem
        n = 2
        while stem in used:
            stem, n = f"{path.stem}-{n}", n + 1
        used.add(stem)
        for k, v in images.items():
            file = out / "images" / f"{stem}_{k}.png"
            load_pil(v).save(file)
            row.images[k] = str(file.relative_to(out))
            outputs[k].append(v.cpu())
        rows.append(row)

    cell = grid_cell or size
    columns = [torch.stack([_fit_square(_shrink(v, cell), cell) for v in outputs[k]]) for k in METHODS]
    grid = save_grid([c * 2 - 1 for c in columns], out / "grid.png")
    if grid_palette:
        with Image.open(grid) as im:
            im.load()
        im.convert("RGB").quantize(256).save(grid, optimize=True)

    notes: list[str] = []
    if name == METRICS_BACKBONE:
        notes.append(
            "Gatys ran on the same Lite0 layers that measure content and style distance: it optimised "
            "those numbers directly, so they favour it."
        )
    kid = None
    if target_dir is not None:
        real_files = sorted(p for p in expand_inputs([str(target_dir)]).files)
        real = [kid_input(load_image_01(p, None)) for p in real_files]
        from .evaluate.features import load_lite0

        extractor = load_lite0().to(device)
        kid = {
            "target": str(target_dir),
            "n_target": len(real),
            "features": "EfficientNet-Lite0 pooled (1280-d)",
        }
        for k in METHODS:
            mean, std, subset = kid_lite0([kid_input(v) for v in outputs[k]], real, extractor=extractor, seed=seed)
            kid[k] = {"mean": mean, "std": std}
            kid["subset_size"] = subset
        if target_dir in style_folders:
            notes.append(
                f"Gatys drew its references from {target_dir}, the folder KID compares with: give --target "
                "a held-out folder (e.g. testA) for an unbiased domain score."
            )
        if len(rows) < 20:
            notes.append(f"KID over {len(rows)} images is very noisy: read the std, compare large gaps only.")

    report = CompareReport(
        checkpoint=str(checkpoint), direction=direction, size=size,
        gatys={"backbone": name, "content_layers": list(d.content_layers),
               "style_layers": list(d.style_layers), "steps": steps, "optimizer": optimizer,
               "refs_per_image": refs_per_image},
        metrics_backbone={"name": METRICS_BACKBONE, "content_layer": m.content_layers[0],
                          "style_layers": list(m.style_layers)},
        rows=rows, kid=kid, grid=str(grid), html=str(out / "report.html"), notes=notes,
    )  # fmt: skip
    (out / "report.json").write_text(json.dumps(asdict(report), indent=2) + "\n")
    (out / "report.html").write_text(render_html(report))
    return report


def load_pil(x: torch.Tensor) -> Image.Image:
    from .style import to_pil_01

    return to_pil_01(x.detach().cpu())


# --- the HTML report -----------------------------------------------------------------------------------


def _mean(rows: list[Row], attr: str, method: str) -> float:
    values = [getattr(r, attr)[method] for r in rows if method in getattr(r, attr)]
    return sum(values) / len(values) if values else float("nan")


def render_html(r: CompareReport) -> str:
    """A self-contained page (images by relative path): the grid, a summary table, one row per image."""
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
    for k in METHODS:
        sec = _mean(r.rows, "seconds", k)
        kid = f"<td>{r.kid[k]['mean']:.4f} ± {r.kid[k]['std']:.4f}</td>" if r.kid else ""
        head.append(
            f"<tr><th>{k}</th><td>{'' if k == 'input' else f'{sec:.3f}'}</td>"
            f"<td>{_mean(r.rows, 'ssim_y', k):.3f}</td><td>{_mean(r.rows, 'content_distance', k):.3f}</td>"
            f"<td>{_mean(r.rows, 'style_distance', k):.3f}</td>{kid}</tr>"
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
        imgs = "".join(f"<td><img class='t' src='{e(row.images[k])}'></td>" for k in METHODS)
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


def summary_lines(r: CompareReport) -> list[str]:
    """A short plain-text summary for the terminal."""
    lines = [
        f"{'method':<9} {'s/img':>7} {'SSIM(Y)':>8} {'content':>8} {'style':>7}" + ("  KID(Lite0)" if r.kid else "")
    ]
    for k in METHODS:
        sec = "" if k == "input" else f"{_mean(r.rows, 'seconds', k):.3f}"
        kid = f"  {r.kid[k]['mean']:.4f}±{r.kid[k]['std']:.4f}" if r.kid else ""
        lines.append(
            f"{k:<9} {sec:>7} {_mean(r.rows, 'ssim_y', k):>8.3f} "
            f"{_mean(r.rows, 'content_distance', k):>8.3f} "
            f"{_mean(r.rows, 'style_distance', k):>7.3f}{kid}"
        )
    lines.append(
        f"Gatys backbone: {r.gatys['backbone']}; content/style distances: Lite0 "
        f"{r.metrics_backbone['content_layer']} / Gram {','.join(r.metrics_backbone['style_layers'])}"
    )
    lines += [f"note: {n}" for n in r.notes]
    return lines
