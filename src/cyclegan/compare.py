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

Every number is labelled with the backbone that produced it. The metrics live in `cyclegan.evaluate`, the
pages and tables in `cyclegan.report`; this module runs the comparison.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import random
import signal
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F_
from torch import nn

from .clipio import VIDEO_FORMATS, print_warning
from .compare_options import GRID_CELL_MOST, SIZE_MOST, CompareOptions
from .config import config_from_dict
from .data.io import (
    MAX_PIXELS,
    alpha_of,
    as_rgb,
    frame_count,
    long_side_shape,
    read_image,
    resize_long_side,
    save_image,
)
from .errors import CycleGANError, counted
from .evaluate.distances import feature_distance, feature_distances, kid_input, lite0_features
from .evaluate.features import load_lite0
from .evaluate.metrics import ssim_y
from .evaluate.runner import working_size
from .execution import resolve_device, synchronize
from .files import (
    check_out_folder,
    check_outputs,
    claim_folder,
    remove_stale_temporaries_of,
    removed_on_failure,
    unique_stems,
    write_atomic,
    written_through_a_stop,
)
from .inference import frames_left_out_of, is_out_of_memory, keyword_names, on_white_warning, translate_tensor
from .interop.foreign import holds_both
from .loading import (
    checkpoint_path,
    generator_from,
    is_ours,
    load_file,
    model_label,
    own_direction,
    picks_nothing,
    translated_direction,
    warn_direction_unused,
    weights_record,
)
from .pretrained import lite0_model
from .process import Terminated
from .progress import progress_bar
from .report import METHODS, CompareReport, Row, render_compare_html, save_cell_grid, write_json
from .shared_options import Direction
from .style import (
    GatysOptions,
    build_backbone,
    default_backbone,
    gram_distance,
    gram_matrix,
    load_image_01,
    stylize,
    to_pil_01,
)
from .style.backbones import DEFAULTS, Lite0Backbone
from .style.gatys import too_thin
from .translation import expand_inputs, refuse_named_clips, still_images, unread_warnings

METRICS_BACKBONE = "lite0"  # always available offline, so reports from any machine are comparable


# --- the steps -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Inputs:
    """The images a comparison reads: content files, the pool of style references, the KID target."""

    content: list[Path]
    references: list[Path]
    style_folders: list[Path]  # the folders among --style (references were drawn from them)
    target: Path | None
    content_folders: list[Path] = field(default_factory=list)  # the folders among --content
    clips: list[Path] = field(default_factory=list)  # video files among them: left out, and named
    reference_clips: list[Path] = field(default_factory=list)  # those only --style's folders or globs hold
    stems: list[str] = field(default_factory=list)  # each content image's name in out/images (`image_stems`)


def gather_inputs(opts: CompareOptions) -> Inputs:
    """Expand --content and --style; the KID target is --target, else the first --style folder (if any)."""
    # Folders hold clips for `translate`: a video is no image, and as a drawn reference it skipped the content
    # image it was drawn for ("not a JPEG, PNG, ..."). Left out and named.
    content = still_images(opts.content, "--content", "compare")
    style = still_images(opts.style, "--style", "compare")
    # a clip named as a reference: not left out of the pool as a folder's is (a skipped "image", exit 1, after minutes
    # of Gatys)
    refuse_named_clips(style, opts.style, "--style")
    clips = list(dict.fromkeys([*content.clips, *style.clips]))
    folders = [Path(s) for s in opts.style if Path(s).is_dir()]
    target = Path(opts.target) if opts.target else (folders[0] if folders else None)
    if target is not None and not target.is_dir():
        raise CycleGANError(f"option '--target': {target} is not a folder of target-domain images")
    unread = [*content.unread, *style.unread]
    if target is not None:
        if (found := expand_inputs([str(target)])).errors:  # not after the work, losing it
            raise CycleGANError(f"option '--target': {found.errors[0]}")
        unread += unread_warnings(found, "images compare reads")  # what KID leaves out of the target
    stems = image_stems(content.files, warn=True)  # named before any work, as translate names them
    for line in dict.fromkeys(unread):  # a folder given twice (the first --style folder, KID's target) named once
        print_warning(line)
    references_only = [clip for clip in style.clips if clip not in content.clips]
    return Inputs(content.files, style.files, folders, target, content.folders, clips, references_only, stems)


def image_stems(content: Sequence[Path], *, warn: bool = False) -> list[str]:
    """The stem of each content image's files `out/images/{stem}_{method}.png`: its own, STEM-2... for a name
    taken before, its end cut where the longest of them would pass 255 bytes (a 251-byte stem's `_cyclegan.png`
    was refused as too long a name); `warn`: each one renamed named on stderr (`files.unique_stems`)."""
    longest = max((f"_{k}.png" for k in METHODS), key=lambda tail: len(tail.encode()))
    return unique_stems(content, warn=warn, suffix_of=lambda _: longest)


def output_files(inputs: Inputs, out: Path) -> list[Path]:
    """Every file a comparison of `inputs` writes under `out` (see `compare`)."""
    images = [out / "images" / f"{stem}_{k}.png" for stem in inputs.stems for k in METHODS]
    return [out / "grid.png", out / "report.html", out / "report.json", *images]


def glob_root(pattern: str) -> Path:
    """The folder a glob pattern searches: its leading parts without a wildcard (DATA/testA/*.png: DATA/testA)."""
    parts = Path(pattern).parts
    fixed = next((i for i, part in enumerate(parts) if glob.has_magic(part)), len(parts))
    return Path(*parts[:fixed]) if fixed else Path(".")


def input_folders(opts: CompareOptions, inputs: Inputs) -> list[Path]:
    """The folders an --out must not be in nor inside: those named (--content, --style, --target) and those
    a glob searches (`--content 'DATA/testA/*.png'` reads DATA/testA as `--content DATA/testA` does), as
    `train` refuses for its data; and the folder holding an image named alone, as --out itself only (its
    images would land among the inputs; `--content photo.jpg --out cmp/` beside it is fine)."""
    named = [*inputs.content_folders, *inputs.style_folders, *([inputs.target] if inputs.target else [])]
    named += [glob_root(p) for p in (*opts.content, *opts.style) if glob.has_magic(p) and not Path(p).exists()]
    out = Path(opts.out).resolve()
    holding = [d for d in dict.fromkeys(p.parent for p in [*inputs.content, *inputs.references]) if d.resolve() == out]
    return [*named, *holding]


def check_output_folder(opts: CompareOptions, inputs: Inputs) -> None:
    """Refuse (one line, before any work) an --out named as an image or clip (`check_out_folder`), in or inside a
    folder of input images, outputs onto the inputs and, without --overwrite, outputs that exist."""
    check_out_folder(opts.out, holds="the comparison is written into (grid.png, report.html, report.json, images/)")
    check_outputs(
        output_files(inputs, Path(opts.out)),
        overwrite=opts.overwrite,
        out_folder=opts.out,
        inputs=[*inputs.content, *inputs.references],
        input_folders=input_folders(opts, inputs),
    )


def load_backbones(backbone: str, weights: str | None, device: torch.device) -> tuple[str, nn.Module, nn.Module]:
    """(Gatys' backbone name, Gatys' backbone, the metrics backbone), on `device`.

    Lite0's weights are loaded once and shared by the metrics and, if chosen, Gatys.
    """
    name = backbone if backbone != "auto" else default_backbone(weights)
    d, m = DEFAULTS[name], DEFAULTS[METRICS_BACKBONE]
    lite0 = lite0_model()
    metrics_net = Lite0Backbone([*m.content_layers, *m.style_layers], model=lite0)
    layers = [*d.content_layers, *d.style_layers]
    gatys_net = Lite0Backbone(layers, model=lite0) if name == "lite0" else build_backbone(name, layers, weights=weights)
    return name, gatys_net.to(device), metrics_net.to(device)


def draw_references(pool: list[Path], n: int, rng: random.Random) -> list[Path]:
    """`n` references drawn without replacement from the pool (seeded by `rng`), or the whole pool if smaller."""
    return pool if len(pool) <= n else rng.sample(pool, n)


# How a drawn reference that cannot be read is named among the skipped: another is drawn in its place, so the
# comparison asked for is made and the command says it in a warning (exit 0), not as a content image that failed
LEFT_OUT_OF_REFERENCES = "(left out of the style references)"


def draw_readable(pool: list[Path], n: int, rng: random.Random, *, max_pixels: int, skipped: list[str]) -> list[Path]:
    """`draw_references` of images that can be read: one that cannot is named in `skipped`, taken out of `pool`
    (changed in place) and another drawn, so a bad reference costs only itself; it skipped the content image it
    was drawn for (every one, when the pool was no larger than --refs-per-image)."""
    while True:
        refs = draw_references(pool, n, rng)
        for r in refs:
            try:
                read_image(r, max_pixels=max_pixels)
            except CycleGANError as e:
                pool.remove(r)
                skipped.append(f"{e} {LEFT_OUT_OF_REFERENCES}")
                if not pool:
                    raise CycleGANError(f"option '--style': no style reference could be read: {e}") from None
                break
        else:
            return refs


def translate_timed(G: nn.Module, x: torch.Tensor, *, warm_up: bool) -> tuple[torch.Tensor, float]:
    """G's translation of x (1, 3, H, W) in [0, 1], also in [0, 1], and the seconds of the forward pass.

    warm_up: run G once untimed first; the first call pays for allocation and kernel choice.
    """
    if warm_up:
        translate_tensor(G, x * 2 - 1)
    t0 = time.perf_counter()
    y = (translate_tensor(G, x * 2 - 1).clamp(-1, 1) + 1) / 2
    synchronize(x.device)  # the forward pass done, not launched (an MPS device's too)
    return y, time.perf_counter() - t0


def reference_grams(
    net: nn.Module,
    references: Sequence[Path],
    layers: Sequence[str],
    *,
    size: int,
    device: torch.device,
    max_pixels: int = MAX_PIXELS,
) -> dict[str, torch.Tensor]:
    """Mean Gram matrix (1, C, C) per layer of the references at long side `size`: the style that Gatys was
    asked to match (its equal-weight blend)."""
    grams = [
        {layer: gram_matrix(f[layer]) for layer in layers}
        for f in (net(load_image_01(r, size, max_pixels=max_pixels).to(device)) for r in references)
    ]
    return {k: sum(g[k] for g in grams) / len(grams) for k in layers}


def measure(
    images: dict[str, torch.Tensor],
    references: Sequence[Path],
    net: nn.Module,
    *,
    size: int,
    max_pixels: int = MAX_PIXELS,
) -> dict:
    """Per method: SSIM (Y) and feature distance to the input (content kept), Gram distance to the references
    (style taken). images: method -> (1, 3, H, W) in [0, 1], "input" among them; net: the metrics backbone;
    max_pixels: the references' decode cap (`--max-pixels`)."""
    m = DEFAULTS[METRICS_BACKBONE]
    c_layer = m.content_layers[0]
    x = images["input"]
    with torch.no_grad():
        feats = {k: net(v) for k, v in images.items()}
        target_grams = reference_grams(
            net, references, m.style_layers, size=size, device=x.device, max_pixels=max_pixels
        )
        return {
            "ssim_y": {k: ssim_y(v, x) for k, v in images.items()},
            "content_distance": {k: feature_distance(f[c_layer], feats["input"][c_layer]) for k, f in feats.items()},
            "style_distance": {k: gram_distance(f, target_grams) for k, f in feats.items()},
        }


def save_images(images: dict[str, torch.Tensor], out: Path, stem: str) -> dict[str, str]:
    """Write out/images/{stem}_{method}.png; returns method -> path relative to `out` (for the report)."""
    paths = {}
    for k, v in images.items():
        file = out / "images" / f"{stem}_{k}.png"
        save_image(to_pil_01(v.detach().cpu()), file)  # a symlink there is replaced, never followed
        paths[k] = str(file.relative_to(out))
    return paths


def _shrink(x: torch.Tensor, cell: int) -> torch.Tensor:
    """(1, 3, h, w) in [0, 1] -> long side `cell` (antialiased), aspect ratio kept."""
    h, w = x.shape[-2:]
    if max(h, w) == cell:
        return x
    new = list(long_side_shape(h, w, cell))
    return F_.interpolate(x, size=new, mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)


def _fit_square(x: torch.Tensor, cell: int) -> torch.Tensor:
    """(1, 3, h, w) in [0, 1] with max(h, w) == cell -> (3, cell, cell), centred on white (for the grid)."""
    h, w = x.shape[-2:]
    top, left = (cell - h) // 2, (cell - w) // 2
    return F_.pad(x[0], (left, cell - w - left, top, cell - h - top), value=1.0)


def grid_cell(x: torch.Tensor, cell: int) -> torch.Tensor:
    """(1, 3, H, W) in [0, 1] -> its square of the grid, (3, cell, cell) uint8 (rounded as the PNG writer rounds):
    what the grid keeps of an output until it is written. The outputs themselves, kept at full --size until
    then, held gigabytes for many images at large sizes."""
    return _fit_square(_shrink(x, cell), cell).mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8)


def save_comparison_grid(cells: dict[str, list[torch.Tensor]], path: Path, *, palette: bool) -> Path:
    """input | CycleGAN | Gatys, one row per image; cells: method -> list of (3, cell, cell) uint8 (`grid_cell`).
    palette: 256 colours, about 3x smaller (the single images stay full colour)."""
    return save_cell_grid([list(row) for row in zip(*(cells[k] for k in METHODS))], path, palette=palette)


def kid_against_target(
    features: dict[str, list[torch.Tensor]],
    target: Path,
    *,
    seed: int,
    extractor: nn.Module,
    max_pixels: int = MAX_PIXELS,
    skipped: list[str] | None = None,
) -> dict | None:
    """KID (Lite0 features) of each method's outputs against the images in `target`, for report.json; None when
    fewer than 2 of them can be read. `features`: method -> each output's (1, D) Lite0 features (`lite0_features`
    of its `kid_input`), kept in place of the outputs; `extractor`: Lite0 on the device. A target image that cannot
    be read (or is over `max_pixels`) is left out and named in `skipped`."""

    skipped = [] if skipped is None else skipped
    real = []
    for p in sorted(p for p in expand_inputs([str(target)]).files if p.suffix.lower() not in VIDEO_FORMATS):
        try:
            real.append(kid_input(load_image_01(read_image(p, max_pixels=max_pixels), None)))
        except CycleGANError as e:
            skipped.append(f"{e} (left out of the KID target)")
    if len(real) < 2:  # KID has no spread to measure: a note, not an error that loses the comparison's work
        return None
    kid: dict = {"target": str(target), "n_target": len(real), "features": "EfficientNet-Lite0 pooled (1280-d)"}
    real_features = lite0_features(real, extractor=extractor)
    for k in METHODS:  # as `evaluate.distances.kid_lite0` computes it
        d = feature_distances(real_features, torch.cat(features[k]), seed=seed)
        kid[k] = {"mean": d.kid, "std": d.kid_std}
        kid["subset_size"] = d.kid_subset_size
    return kid


def device_text(device: torch.device) -> str:
    """Where the seconds of a comparison were measured, for its report: the device and its threads or name."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    n = torch.get_num_threads()
    return f"{device} ({n} thread{'s' * (n != 1)})" if device.type == "cpu" else str(device)


def held_out_example(folder: Path) -> str:
    """The held-out folder of the style's domain, as the CycleGAN layout names it: trainB's is testB (the note named
    testA whatever the domain, the other domain's images for --style trainB)."""
    if folder.name.startswith("train") and len(folder.name) > len("train"):
        return f"e.g. {folder.with_name('test' + folder.name[len('train') :])}"
    return "e.g. the test split of its domain"


def caveats(
    gatys_backbone: str,
    inputs: Inputs,
    n_images: int,
    refs_per_image: int = 1,
    *,
    kid_spread: bool = True,
    kid_measured: bool = True,
    readable: Sequence[Path] | None = None,
) -> list[str]:
    """Notes for the reader where the set-up favours one method, the numbers are noisy or fewer references were
    drawn than asked for. `kid_spread`: whether KID has a std to read (not when both sets were whole subsets);
    `kid_measured`: whether KID was computed (a target of fewer than 2 readable images, a stop: a note of its own);
    `readable`: the references left once those that could not be read were left out (default: all of them)."""
    notes: list[str] = []
    # the unreadable ones counted too: "--style holds 3 images" where each content image had the 2 that read
    readable = inputs.references if readable is None else readable
    if refs_per_image > len(readable):  # the report said 100 references while each image had 4
        held = counted(len(readable), "image")
        held += " that could be read" if len(readable) < len(inputs.references) else ""
        notes.append(f"--refs-per-image {refs_per_image}, but --style holds {held}: each content image used them all")
    if gatys_backbone == METRICS_BACKBONE:
        notes.append(
            "Gatys ran on the same Lite0 layers that measure content and style distance: it optimised "
            "those numbers directly, so they favour it."
        )
    if inputs.target is not None:
        if inputs.target in inputs.style_folders:
            notes.append(
                f"Gatys drew its references from {inputs.target}, the folder KID compares with: give --target "
                f"a held-out folder ({held_out_example(inputs.target)}) for an unbiased domain score."
            )
        # not computed (under 2 images, an unreadable target, a stop): "very noisy" stood beside "not computed"
        if kid_measured and 2 <= n_images < 20:
            # 4 images against a target of 4: one subset, no std shown, and the note said "read the std"
            spread = "read the std" if kid_spread else "its one subset (both sets whole) gives it no std"
            notes.append(f"KID over {n_images} images is very noisy: {spread}, compare large gaps only.")
    return notes


# --- the comparison --------------------------------------------------------------------------------------


def check_measurable(name: object, size: int, *, source: tuple[int, int], largest: int) -> None:
    """Refuse, before the two methods' work, a content image of `source` (W, H) px too thin for SSIM at long side
    `size` (its window needs 3 px a side, Gatys' floor: `style.gatys.MIN_STYLISED_SIDE`): it raised a ValueError
    traceback (the web page's Compare tab a line saying nothing of its long side) after both ran. The least --size
    that keeps it is named, or, where it is as thin at `largest` (the largest --size, or the page's slider),
    cropping: "give a larger --size" sent a 20000x20 strip's user to a size out of reach. The Style tab's rule, in
    its words (`style.gatys.too_thin`)."""
    if why := too_thin(str(name), *source, size, flag="--size", most=largest, verb="measure"):
        raise CycleGANError(why)


@keyword_names({"--style-size": "--size"})  # `stylize`'s flag: here --size scales the references too
def _compare_one(
    path: Path,
    stem: str,
    refs: list[Path],
    opts: CompareOptions,
    G: nn.Module,
    gatys: GatysOptions,
    gatys_net: nn.Module,
    metrics_net: nn.Module,
    out: Path,
    device: torch.device,
    *,
    warm_up: bool,
) -> tuple[Row, dict[str, torch.Tensor], bool]:
    """CycleGAN and Gatys on one content image: its row of figures, its images (method -> (1, 3, H, W)
    in [0, 1]), written under out/images/, and whether it had transparency (put on white: both read RGB). Raises
    CycleGANError naming an image that cannot be read."""
    read = read_image(path, max_pixels=opts.max_pixels, keep_mode=True)
    transparent = alpha_of(read) is not None
    read = as_rgb(read)
    im = resize_long_side(read, opts.size)
    check_measurable(path, opts.size, source=read.size, largest=SIZE_MOST)
    x = load_image_01(im, None).to(device)  # (1, 3, H, W) in [0, 1]
    # Gatys first: its memory check refuses a size the device cannot hold (a generator's forward pass takes less)
    # before the generator runs at it; at --size 4096 the translation took the memory first, and was killed
    # its steps shown under the images' bar: minutes per image without a word (in a log file a line a minute, for a
    # slow image: ten per image buried the images' own lines)
    res = stylize(
        im, refs, gatys, net=gatys_net, device=device, progress=opts.progress, nested=True, max_pixels=opts.max_pixels
    )
    y_cyc, t_cyc = translate_timed(G, x, warm_up=warm_up)
    images = {"input": x, "cyclegan": y_cyc, "gatys": res.tensor.to(device)}
    row = Row(
        name=stem,  # its images' name: two a.png from two folders were two rows named "a" (a-2's images)
        content=str(path),
        references=[str(r) for r in refs],
        seconds={"cyclegan": t_cyc, "gatys": res.seconds},
        **measure(images, refs, metrics_net, size=opts.size, max_pixels=opts.max_pixels),
        images=save_images(images, out, stem),
    )
    return row, images, transparent


def compare(opts: CompareOptions) -> CompareReport:
    """Run CycleGAN (`opts.checkpoint`, `opts.direction`) and Gatys on the same `opts.content` images; write
    `out/grid.png` (input | CycleGAN | Gatys, one row per image), `out/report.html`, `out/report.json` and
    the single images under `out/images/`.

    Each content image gets `opts.refs_per_image` references drawn (seeded) from `opts.style` (images and/or
    folders of target-domain images), whose Gram matrices Gatys blends. KID is measured against
    `opts.target` (default: the first folder in `opts.style`) when there is one.
    """

    inputs = gather_inputs(opts)
    check_output_folder(opts, inputs)  # before any work
    with claim_folder(opts.out, "--out"):  # one run writes there at a time
        check_output_folder(opts, inputs)  # again, under the lock: what a run that just ended wrote
        earlier = earlier_images(Path(opts.out))  # --overwrite: read before this run's report replaces it
        files = output_files(inputs, Path(opts.out))
        remove_stale_temporaries_of(files)  # a killed comparison's, which stayed hidden beside its outputs for ever
        found = {p for p in files if p.exists() or p.is_symlink()}
        with removed_on_failure(files):  # a failure leaves no images/ behind
            try:
                report = _compare(opts, inputs)
            except OSError as e:  # a full disk, a folder made read-only meanwhile (reads fail as CycleGANError)
                raise CycleGANError(f"option '--out': cannot write in {opts.out}: {e.strerror or e}") from None
        kept = set(files)
        if report.interrupted:  # the images of the content image cut short, and of those not reached, are not shown
            out = Path(opts.out)
            kept = {p for p in files if p.parent == out} | {out / p for row in report.rows for p in row.images.values()}
            for extra in set(files) - found - kept:
                extra.unlink(missing_ok=True)
        for stale in earlier - kept:
            stale.unlink(missing_ok=True)
        return report


def stop_name(e: KeyboardInterrupt) -> str:
    """How the report names what stopped a comparison: SIGTERM, SIGHUP (`process.Terminated`: see run_compare), or
    Ctrl-C."""
    return signal.Signals(e.signum).name if isinstance(e, Terminated) else "Ctrl-C"


def earlier_images(out: Path) -> set[Path]:
    """The single images a previous comparison in `out` wrote (out/images/*, as its report.json lists them).
    Replaced with --overwrite by a comparison of fewer or other images, they stayed beside the new ones, which
    the new report does not show. Only files in out/images that report names are ever returned."""
    try:
        rows = json.loads((out / "report.json").read_text())["rows"]
        named = [out / p for row in rows for p in row["images"].values()]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):  # none, or not a comparison's: nothing
        return set()
    folder = (out / "images").resolve()
    return {p for p in named if p.parent.resolve() == folder and p.is_file()}


def generator_and_size(opts: CompareOptions) -> tuple[nn.Module, int, Direction, str]:
    """The generator (on the CPU; torch's random state left as it was: `loading.generator_from`), the long side to
    compare at, chosen as `evaluate` chooses it (`working_size`: --size, else the run's training size, else 256),
    the direction it translates (--direction, else the model's own: `loading.own_direction`) and the model's name
    for the report (`model_label`). One read of the file."""
    path = checkpoint_path(opts.checkpoint, progress=opts.progress)
    ckpt = load_file(path)
    # a published generator's own way whatever is asked: `pretrained:horse2zebra --direction BtoA` turned horses into
    # zebras, without a word, under a report that said BtoA (as `translate` and `export` warn)
    source = str(path)
    direction = translated_direction(ckpt, opts.direction, source=source) or own_direction(ckpt, source=source)
    G = generator_from(ckpt, direction, source=source, ema=opts.ema)
    if opts.direction is not None and picks_nothing(ckpt):
        warn_direction_unused("--direction", opts.direction, given=opts.checkpoint, source=source)
    trained = config_from_dict(ckpt["config"], source=str(path)).data.size if is_ours(ckpt) else None
    label = model_label(ckpt["config"] if is_ours(ckpt) else None, opts.checkpoint, pair=holds_both(ckpt))
    return G, working_size(opts.size, trained), direction, label


def _compare(opts: CompareOptions, inputs: Inputs) -> CompareReport:
    """`compare`'s work, its outputs checked and its folder held."""
    device = resolve_device(opts.device)
    out = Path(opts.out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    G, size, direction, model = generator_and_size(opts)
    G = G.to(device)
    opts = dataclasses.replace(opts, size=size, direction=direction)  # the report names what was compared
    name, gatys_net, metrics_net = load_backbones(opts.backbone, opts.weights, device)
    gatys = GatysOptions(
        backbone=name,
        weights=opts.weights,
        size=None,
        style_size=opts.size,
        steps=opts.steps,
        optimizer=opts.optimizer,
        seed=opts.seed,
    )
    rng = random.Random(opts.seed)
    # the first frame was taken without a word; a --style folder of scans was then a line for each
    frames = {p: frame_count(p) for p in dict.fromkeys([*inputs.content, *inputs.references])}
    if warning := frames_left_out_of(frames, done="compared"):
        print_warning(warning)

    rows: list[Row] = []
    # a reference clip skipped no content image: said as an unreadable reference is (a warning, exit 0)
    skipped = [
        f"{p}: a video clip, not an image {LEFT_OUT_OF_REFERENCES if p in inputs.reference_clips else '(left out)'}"
        for p in inputs.clips
    ]
    # of each output only what the grid and KID take (its cell, its Lite0 features): per row, method -> tensor
    cell = opts.grid_cell or min(opts.size, GRID_CELL_MOST)
    extractor = load_lite0().to(device) if inputs.target else None
    kept: list[tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]] = []
    named = list(zip(inputs.content, inputs.stems, strict=True))
    pool = list(inputs.references)  # less the references found unreadable
    interrupted = None  # where a Ctrl-C stopped the comparison, as its note says it
    on_white: list[Path] = []  # the content images whose transparency was put on white
    at = 0
    try:
        for path, stem in progress_bar(iterable=named, desc="compare", unit="img", enabled=opts.progress):
            at += 1
            refs = draw_readable(pool, opts.refs_per_image, rng, max_pixels=opts.max_pixels, skipped=skipped)
            try:
                row, images, transparent = _compare_one(
                    path, stem, refs, opts, G, gatys, gatys_net, metrics_net, out, device, warm_up=not rows
                )
            except CycleGANError as e:  # an unreadable or too large content or reference image: named, skipped
                skipped.append(f"{path}: {e}" if str(path) not in str(e) else str(e))
                continue
            except Exception as e:  # only running out of memory is handled here
                if not is_out_of_memory(e):
                    raise
                skipped.append(f"{path}: out of memory on {device} (a smaller --size fits)")
                continue
            cells = {k: grid_cell(v.cpu(), cell) for k, v in images.items()}
            features = {
                k: lite0_features([kid_input(v.cpu())], extractor=extractor) if extractor else torch.empty(0)
                for k, v in images.items()
            }
            del images
            rows.append(row)
            kept.append((cells, features))
            if transparent:
                on_white.append(path)
    except KeyboardInterrupt as e:
        # Each image costs minutes of Gatys: Ctrl-C removed every image compared so far. The report of those is
        # written instead (a second Ctrl-C while it is still removes them all).
        n = min(len(rows), len(kept))  # a Ctrl-C between the appends: the row is left out
        del rows[n:], kept[n:]
        if not rows:
            raise
        interrupted, by = f"at content image {at} of {len(named)}", stop_name(e)
    if not rows:
        raise CycleGANError(f"no content image could be compared: {skipped[0]}")
    if warning := on_white_warning(on_white, what="content images", command="compare"):  # once, not a line an image
        print_warning(warning)

    def write_grid() -> Path:
        cells = {k: [c[k] for c, _ in kept] for k in METHODS}
        return save_comparison_grid(cells, out / "grid.png", palette=opts.grid_palette)

    if interrupted is None:
        grid, stop = written_through_a_stop(write_grid)  # a large palette grid takes seconds
        if stop is not None:
            interrupted, by = "while the grid was written, after the last content image", stop_name(stop)
    else:  # a second stop: the outputs go, as during the report's writing after a first
        grid = write_grid()
    kid = None
    if inputs.target and len(rows) >= 2 and interrupted is None:  # not a wait after the Ctrl-C
        try:
            features = {k: [f[k] for _, f in kept] for k in METHODS}
            kid = kid_against_target(
                features,
                inputs.target,
                seed=opts.seed,
                extractor=extractor,
                max_pixels=opts.max_pixels,
                skipped=skipped,
            )
        except KeyboardInterrupt as e:
            # reading a large target folder takes a while: a Ctrl-C there removed every image compared, all of them
            interrupted, by = f"while KID read {inputs.target}, after the last content image", stop_name(e)
    spread = kid is None or any(kid[k]["std"] != 0 for k in METHODS)  # as `report.kid_text` shows a std
    notes = caveats(
        name, inputs, len(rows), opts.refs_per_image, kid_spread=spread, kid_measured=kid is not None, readable=pool
    )
    if interrupted is not None:
        kid_note = "; KID was not computed" if inputs.target and len(rows) >= 2 else ""
        notes.insert(
            0, f"interrupted ({by}) {interrupted}: this report covers the {len(rows)} compared before it{kid_note}"
        )
    if inputs.target and len(rows) < 2:  # the comparison of one image stands; KID has no spread to measure
        notes.append(f"KID against {inputs.target} was not computed: it needs at least 2 compared images, got 1")
    elif inputs.target and kid is None and interrupted is None:
        # it stopped here, after all the work, and the outputs were removed
        notes.append(f"KID against {inputs.target} was not computed: fewer than 2 of its images could be read")
    # the skipped images are not a note: the command lists them on stderr, the page and report.json keep them
    d, m = DEFAULTS[name], DEFAULTS[METRICS_BACKBONE]
    report = CompareReport(
        checkpoint=opts.checkpoint,
        direction=opts.direction,
        model=model,
        size=opts.size,
        gatys={
            "backbone": name,
            "weights": opts.weights,  # None: the backbone's ImageNet weights (torchvision's, or Lite0's built in)
            "content_layers": list(d.content_layers),
            "style_layers": list(d.style_layers),
            "steps": opts.steps,
            "optimizer": opts.optimizer,
            "refs_per_image": opts.refs_per_image,
        },
        metrics_backbone={
            "name": METRICS_BACKBONE,
            "content_layer": m.content_layers[0],
            "style_layers": list(m.style_layers),
        },
        rows=rows,
        kid=kid,
        grid=str(grid),
        html=str(out / "report.html"),
        notes=notes,
        skipped=skipped,
        interrupted=interrupted is not None,
        device=device_text(device),
        target=str(inputs.target) if inputs.target else None,
        model_weights=weights_record(G),
    )
    if report.interrupted:
        write_report(report, out)
        return report
    _, stop = written_through_a_stop(lambda: write_report(report, out))  # report.json new, report.html old
    if stop is not None:  # said, and the status says it; the report, written whole, covers every image
        report.interrupted = True
        report.notes.insert(
            0, f"interrupted ({stop_name(stop)}) while this report was written, after the last content image"
        )
        write_report(report, out)
    return report


def write_report(report: CompareReport, out: Path) -> None:
    """out/report.json and out/report.html of `report`, each whole or not at all (a symlink there replaced)."""
    write_json(asdict(report), out / "report.json")
    html = render_compare_html(report)
    # UTF-8 as the page declares, whatever the locale's encoding (a Windows cp1252 one could not write a CJK name)
    write_atomic(out / "report.html", lambda tmp: Path(tmp).write_text(html, encoding="utf-8"))
