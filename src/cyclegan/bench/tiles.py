"""`cyclegan bench --task tiles`: tiled translation against the whole image (the seams, with the thumbnail's
InstanceNorm statistics at several sizes and without), and a large photo's peak memory and speed when
`cyclegan translate` runs on it with its default options, in a subprocess of its own."""

from __future__ import annotations

import dataclasses
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter
from torch import nn

from ..config import ModelConfig
from ..data.io import read_image, to_pil, to_tensor
from ..errors import CycleGANError
from ..execution import REFERENCE, total_memory
from ..files import write_atomic
from ..inference import size_multiple, translate_batch
from ..loading import load_generator_and_direction
from ..models import build_generator
from ..tiling import activation_bytes, plan_for, tile_starts
from ..translate_options import DEFAULT_OVERLAP, MIN_TILE, TilingOptions
from .measure import environment
from .options import BenchOptions, TileBenchOptions


def _tiles_generator(
    t: TileBenchOptions, device: torch.device, *, progress: bool = True
) -> tuple[nn.Module, str, TileBenchOptions]:
    """The generator, its label, and `t` with the direction it translates (--tile-direction, else the model's
    own), which the large photo's `cyclegan translate` is given too. `progress`: a `pretrained:NAME`'s download's."""
    if t.tile_checkpoint:
        try:
            net, direction = load_generator_and_direction(
                t.tile_checkpoint, t.tile_direction, device=device, option="--tile-direction", progress=progress
            )
        except CycleGANError as e:  # a direction the model lacks: "use --direction AtoB", bench's is --tile-direction
            raise CycleGANError(str(e).replace("--direction", "--tile-direction")) from None
        label = f"{t.tile_checkpoint} {direction}" if direction else t.tile_checkpoint  # another project's: one
        return net, label, dataclasses.replace(t, tile_direction=direction)
    torch.manual_seed(0)
    net = build_generator(ModelConfig(n_blocks=9)).eval().to(device)
    return net, "paper generator, random weights", t


def _tiles_photo(t: TileBenchOptions, width: int, height: int):
    """The photo (or a synthetic image: smooth colour fields and edges) as an RGB PIL image of width x height."""
    if t.photo:
        return read_image(t.photo, cap_option=None).resize((width, height), Image.Resampling.BICUBIC)  # bench: no flag
    g = torch.Generator().manual_seed(0)
    small = (torch.rand(3, 6, 8, generator=g) * 255).byte().permute(1, 2, 0).numpy()
    im = Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(im)
    for i in range(12):  # edges for the convolutions to see
        x0, y0 = (torch.rand(2, generator=g) * torch.tensor([width, height])).tolist()
        draw.ellipse([x0, y0, x0 + width / 6, y0 + height / 6], outline=(255 - 20 * i, 20 * i, 128), width=6)
    return im.filter(ImageFilter.GaussianBlur(1))


def _grey_levels(y: torch.Tensor):
    return np.asarray(to_pil(y[0])).astype(np.int16)


def seam_figure(images: dict[str, Any], corner: tuple[int, int], path: str, *, crop: int = 128, zoom: int = 2) -> None:
    """A `crop`-px square of each image (H, W, 3) centred on `corner` (y, x: where four tiles meet), side by
    side, enlarged `zoom` times (nearest), labelled."""
    panels = []
    for label, arr in images.items():
        y0, x0 = max(0, corner[0] - crop // 2), max(0, corner[1] - crop // 2)
        im = Image.fromarray(arr[y0 : y0 + crop, x0 : x0 + crop].clip(0, 255).astype("uint8"))
        im = im.resize((crop * zoom, crop * zoom), Image.Resampling.NEAREST)
        panel = Image.new("RGB", (crop * zoom, crop * zoom + 18), "white")
        panel.paste(im, (0, 18))
        ImageDraw.Draw(panel).text((4, 3), label, fill="black")
        panels.append(panel)
    out = Image.new("RGB", (sum(p.width for p in panels) + 8 * (len(panels) - 1), panels[0].height), "white")
    for i, p in enumerate(panels):
        out.paste(p, (i * (p.width + 8), 0))
    write_atomic(path, lambda tmp: out.save(tmp, format="PNG"))


def _large_run(t: TileBenchOptions, device: torch.device, gen_label: str) -> dict[str, Any]:
    """`cyclegan translate` with default options on a t.large photo in a subprocess: its peak RSS (wait4's
    rusage of that process alone), wall time and output size."""
    width, height = t.large
    with tempfile.TemporaryDirectory(prefix="cyclegan-bench-tiles-") as tmp:
        photo = Path(tmp) / "large.jpg"
        _tiles_photo(t, width, height).save(photo, quality=95)
        ckpt = t.tile_checkpoint
        if ckpt is None:  # the random paper generator, as a reference-layout file
            ckpt = str(Path(tmp) / "paper.pth")
            torch.save(_tiles_generator(t, torch.device("cpu"))[0].state_dict(), ckpt)
        cmd = [
            sys.executable,
            "-m",
            "cyclegan",
            "translate",
            str(photo),
            "--checkpoint",
            ckpt,
            "--out",
            str(Path(tmp) / "out"),
            "--no-progress",
            "--device",
            str(device),
            *(["--direction", t.tile_direction] if t.tile_direction else []),
        ]
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:  # Ctrl-C: the translation went on alone, minutes, into the folder removed below
            proc.kill()
            proc.wait()
            raise
        seconds = time.perf_counter() - t0
        out, err = proc.stdout.read(), proc.stderr.read()
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:  # its first error line says why; the next only counts the skipped inputs
            errors = [line.removeprefix("error: ") for line in err.splitlines() if line.startswith("error: ")]
            why = errors[0] if errors else err.strip()[-300:] or out.strip() or f"exit status {proc.returncode}"
            raise CycleGANError(f"the translation of the {width}x{height} photo failed: {why}")
        with Image.open(Path(tmp) / "out" / "large.png") as im:
            size = im.size
    peak = usage.ru_maxrss / 2**20 if sys.platform == "darwin" else usage.ru_maxrss / 2**10
    mp = width * height / 1e6
    return {
        "size": [width, height],
        "output_size": list(size),
        "peak_rss_mib": round(peak, 1),
        "seconds": round(seconds, 1),
        "s_per_megapixel": round(seconds / mp, 2),
        "command": shlex.join(["cyclegan", *cmd[3:]]),
        "generator": gen_label,
    }


def check_seam_size(net: nn.Module, size: int, device: torch.device) -> None:
    """Refuse a --seam-size whose whole image (translated untiled, the reference the tiles are measured against)
    needs more memory than `device` has: 100000 px allocated until the process was killed."""
    need, have = activation_bytes(net, size, size), total_memory(device)
    if have is not None and need > have:
        raise CycleGANError(
            f"option '--seam-size' {size}: the whole {size}x{size} image, translated untiled, needs about "
            f"{need / 2**30:.1f} GiB, more than the {have / 2**30:.1f} GiB of {device}; give a smaller --seam-size"
        )


def check_seam_tile(net: nn.Module, t: TileBenchOptions) -> None:
    """Refuse a --seam-tile that the network's multiple rounds up to --seam-size or more (`tiling.plan_tiles`):
    --seam-tile 99 of a 100 px image was one 100 px tile, the whole image, and "0.00 grey levels" measured no seam
    (the options refuse only a --seam-tile not under --seam-size; the multiple is the generator's)."""
    m = size_multiple(net)
    tile = max(2 * m, -(-t.seam_tile // m) * m)  # as plan_tiles rounds it
    if tile >= t.seam_size:
        raise CycleGANError(
            f"option '--seam-tile' {t.seam_tile} is rounded up to {tile} px (a multiple of the generator's {m}), not "
            f"smaller than --seam-size {t.seam_size}: nothing would be tiled; give a smaller --seam-tile or a larger "
            "--seam-size"
        )


def bench_tiles(opts: BenchOptions, device: torch.device) -> dict[str, Any]:
    """Tiled against whole-image translation in fp32 (mean absolute difference in grey levels, with the
    thumbnail's statistics at several sizes and without), and a large photo's peak memory and speed."""
    t = opts.tiles_task
    overlap = min(DEFAULT_OVERLAP, t.seam_tile // 4)  # the default, unless the tiles are small
    env = environment(device)
    net, label, t = _tiles_generator(t, device, progress=opts.progress)
    check_seam_size(net, t.seam_size, device)
    check_seam_tile(net, t)
    x = to_tensor(_tiles_photo(t, t.seam_size, t.seam_size))[None]  # (1, 3, S, S) in [-1, 1]
    t0 = time.perf_counter()
    whole = _grey_levels(translate_batch(net, x, tiling=TilingOptions(tile=0)))
    whole_s = time.perf_counter() - t0
    rows, images = [], {"whole image": whole}
    sizes = {1024, t.seam_size // 2, t.seam_size // 4, 0}
    for thumbnail in sorted((s for s in sizes if not 0 < s < MIN_TILE), reverse=True):  # --thumbnail's range
        t0 = time.perf_counter()
        options = TilingOptions(tile=t.seam_tile, tile_overlap=overlap, thumbnail=thumbnail)
        used = plan_for(options, net, t.seam_size, t.seam_size).thumbnail  # capped by --max-memory
        y = translate_batch(net, x, tiling=options)
        seconds = time.perf_counter() - t0
        tiled = _grey_levels(y)
        diff = np.abs(tiled - whole)
        rows.append(
            {
                "thumbnail": thumbnail,
                "thumbnail_used": used,
                "mean_abs_grey_levels": round(float(diff.mean()), 3),
                "p99_abs_grey_levels": float(np.percentile(diff, 99)),
                "max_abs_grey_levels": int(diff.max()),
                "seconds": round(seconds, 2),
            }
        )
        if thumbnail == 1024:
            images["tiled, thumbnail 1024"] = tiled
            images["|tiled - whole| x 8"] = diff * 8
        if thumbnail == 0:
            images["tiled, each tile its own statistics"] = tiled
    if t.figure:  # the meeting point of four tiles where the whole image has the most detail
        starts = tile_starts(t.seam_size, t.seam_tile, overlap, 4)
        seams = [(s + e) // 2 for s, e in zip(starts[1:], [s + t.seam_tile for s in starts])] or [t.seam_size // 2]
        detail = lambda c: whole[max(0, c[0] - 64) : c[0] + 64, max(0, c[1] - 64) : c[1] + 64].std()  # noqa: E731
        corner = max(((y, x) for y in seams for x in seams), key=detail)
        try:  # before the large photo's run: a disk that filled since the checks costs only the seams
            seam_figure(images, corner, t.figure)
        except OSError as e:
            raise CycleGANError(f"option '--figure': cannot write {t.figure} ({e.strerror or e})") from None
    result: dict[str, Any] = {
        "task": "tiles",
        "what": f"{t.seam_size}x{t.seam_size} image, {t.seam_tile} px tiles (overlap {overlap}) against the "
        "whole image, fp32, mean |difference| of the 8-bit outputs; thumbnail 0: each tile its own InstanceNorm "
        "statistics",
        "generator": label,
        "photo": t.photo or "synthetic",
        "device": str(device),
        "whole_seconds": round(whole_s, 2),
        "seams": rows,
        "figure": t.figure,
    }
    if all(t.large):
        result["large"] = _large_run(t, device, label)
    result["execution"] = REFERENCE.record(device)  # tiles are translated in plain fp32
    result["env"] = env
    return result


def format_tiles(r: dict[str, Any]) -> str:
    """A few readable lines of a `--task tiles` result."""
    lines = [f"bench tiles on {r['device']}: {r['generator']}, photo {r['photo']}", r["what"]]
    for row in r["seams"]:
        used = "" if row["thumbnail_used"] == row["thumbnail"] else f" (capped at {row['thumbnail_used']})"
        lines.append(
            f"  thumbnail {row['thumbnail']:>5}{used}: mean {row['mean_abs_grey_levels']:.2f} grey levels, "
            f"99th percentile {row['p99_abs_grey_levels']:.0f}, max {row['max_abs_grey_levels']} "
            f"({row['seconds']:.1f} s; whole image {r['whole_seconds']:.1f} s)"
        )
    if "large" in r:
        g = r["large"]
        lines += [
            f"large: {g['size'][0]}x{g['size'][1]} -> {g['output_size'][0]}x{g['output_size'][1]}, peak RSS "
            f"{g['peak_rss_mib']:.0f} MiB, {g['seconds']:.0f} s ({g['s_per_megapixel']:.2f} s per megapixel)",
            f"  {g['command']}",
        ]
    if r.get("figure"):
        lines.append(f"figure: {r['figure']}")
    return "\n".join(lines)
