"""Plain-text renderings of the commands' reports (for the terminal) and the JSON file writer.

Each function takes the report a library function returned (`evaluate.runner.evaluate_checkpoints`,
`compare.compare`, `demo.run_demo`) and returns text; none of them computes a figure.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ..errors import escape
from ..execution import describe_settings
from ..files import write_atomic
from .types import METRIC_NAMES, CompareReport

_LOWER, _HIGHER = "lower is better", "higher is better"


def write_json(report: dict[str, Any], path: str | Path) -> Path:
    """Write `report` as indented JSON, atomically (creating the folder); returns the path. A figure that is NaN
    or infinite (a generator that outputs NaN, a mean of nothing) is written as null: strict JSON, as log.jsonl,
    which every reader parses (Python wrote the token NaN, which JSON has not)."""
    text = json.dumps(_finite(report), indent=2, allow_nan=False) + "\n"
    return write_atomic(path, lambda tmp: Path(tmp).write_text(text))


def _finite(value: Any) -> Any:
    """`value` with every NaN or infinite float, in dicts and lists at any depth, as None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _trained(report: dict[str, Any]) -> str:
    """What the table says of a checkpoint: its family, step, preset and training size (a CUT run read as "fast
    preset" alone, as a CycleGAN's), or, for a generator file of another project, that it records none (not "step
    None, foreign preset, trained at None px")."""
    if report["step"] is None and report["train_size"] is None:
        return "a generator file of another project: no step or training size recorded"
    model = f"{report['model']}, " if report.get("model") else ""  # reports written before it was recorded: none
    return f"step {report['step']}, {model}{report['preset']} preset, trained at {report['train_size']} px"


# --- cyclegan evaluate -------------------------------------------------------------------------------------


def _rows(backbone: str, spread: bool = True) -> list[tuple[str, str, str]]:
    """(key, label, hint) of the evaluation table's rows, in order; `spread`: KID's row shows a std."""
    fd, kid = METRIC_NAMES[backbone]
    return [
        (fd, fd, _LOWER),
        (kid, f"{kid} (± std)" if spread else kid, _LOWER),
        (f"{fd}_untranslated", f"{fd} before translation", "source vs target"),
        (f"{kid}_untranslated", f"{kid} before translation", "source vs target"),
        ("cycle_l1", "cycle L1", _LOWER),
        ("cycle_psnr", "cycle PSNR dB", _HIGHER),
        ("cycle_ssim", "cycle SSIM", _HIGHER),
        ("identity_l1", "identity L1", _LOWER),
        ("truth_psnr", "PSNR vs truth dB", _HIGHER),
        ("truth_ssim", "SSIM vs truth", _HIGHER),
        ("truth_l1", "L1 vs truth", _LOWER),
        ("truth_local_colour", "local colour vs truth", "grey levels, the worst patch; " + _LOWER),
    ]


def kid_text(mean: float, std: float) -> str:
    """KID ± its std over the subsets; the mean alone when there is no spread (one subset: both sets whole,
    `evaluate.distances.feature_distances`), not "± 0.0000" from identical subsets."""
    return f"{mean:.4f}" if std == 0 else f"{mean:.4f} ± {std:.4f}"


def _kid(row: dict[str, Any], kid_name: str) -> str:
    return kid_text(row[kid_name], row[f"{kid_name}_std"])


def _fmt(row: dict[str, Any], key: str, kid_name: str) -> str:
    if key not in row:
        return "-"
    v = row[key]
    if key == kid_name:
        return _kid(row, kid_name)
    if "kid" in key or "ssim" in key or key.endswith("l1"):
        return f"{v:.4f}"
    return f"{v:.2f}"


def _of_files(row: dict[str, Any]) -> str:
    """Of how many source and target files a direction's pairs are, where either holds more (` of 3 sources and 4
    targets`): a source file without a partner is scored without a truth (`runner.partners`), a target without one
    is no source's truth."""
    more = [f"{row[f'n_{k}']} {k}s" for k in ("source", "target") if row.get(f"n_{k}", 0) > row["n_pairs"]]
    return f" of {' and '.join(more)}" if more else ""


def _truth_lines(directions: dict[str, dict[str, Any]], *, aligned: bool) -> list[str]:
    """What the truth rows compare with: the file of the same name in the other folder, or of an `aligned` A|B
    file its other half. Said because folders that merely share names (unpaired photos numbered 1.jpg, 2.jpg, ...
    in both) pair just the same, and the table gave "PSNR vs truth" for them without a word of where the truth
    came from; an aligned split's pairs are true ones (the line called them "the file of the same name in the
    other domain's folder", a folder it does not have, "meaningless for unpaired folders")."""
    paired = {d: row for d, row in directions.items() if "n_pairs" in row}
    if not paired:
        return []
    counts = ", ".join(f"{d} {row['n_pairs']} pairs{_of_files(row)}" for d, row in paired.items())
    where = [
        f"local colour {d}: the worst {at['patch']}x{at['patch']} px patch's mean colour off the truth's is in "
        f"{escape(at['image'])} at x {at['x']}, y {at['y']}"
        for d, row in paired.items()
        if (at := row.get("truth_local_colour_at"))
    ]
    truth = (
        f"truth: the other half of each test image's A|B file ({counts})"
        if aligned
        else f"truth: each test image's file of the same name in the other domain's folder ({counts}); "
        "meaningless for unpaired folders whose files merely share names"
    )
    return [truth, *where]


def _data_read(report: dict[str, Any]) -> str:
    """What the table's heading says was read: the --data root and its split, or the --domain-a/-b folders (it
    said "data None split 'test'" for them, and "data data split 'test'" for a root named data)."""
    if report.get("domain_a") is not None:
        return f"--domain-a {escape(report['domain_a'])} --domain-b {escape(report.get('domain_b'))}"
    if run := report.get("set_aside_by"):  # no test split: the images the run scored as it trained
        return f"dataset {escape(report['data'])}: the training images {escape(run)} set aside for its scores"
    return f"dataset {escape(report['data'])}, split {escape(repr(report['split']))}"


def format_table(report: dict[str, Any]) -> str:
    """An evaluation report as a plain-text table: one row per metric, one column per direction."""
    dirs = list(report["directions"])
    fd_name, kid_name = METRIC_NAMES[report["backbone"]]
    # one subset (sets smaller than KID's subset size) has no spread: no "± std" heading over bare means
    spread = any(report["directions"][d].get(f"{kid_name}_std", 0) != 0 for d in dirs)
    note = report.get("fd_kid_note")  # a paired split of one image: no FD/KID rows of "nan"
    rows = [
        (label, [_fmt(report["directions"][d], key, kid_name) for d in dirs], hint)
        for key, label, hint in _rows(report["backbone"], spread and not note)
        if any(key in report["directions"][d] for d in dirs) and not (note and key.startswith((fd_name, kid_name)))
    ]
    w0 = max(len(r[0]) for r in rows)
    wc = [max(len(d), *(len(r[1][i]) for r in rows)) for i, d in enumerate(dirs)]
    first = report["directions"][dirs[0]]
    aligned = report.get("layout", "").startswith("aligned")  # pix2pix's A|B files: `runner.SplitImages.aligned`
    # names escaped: a checkpoint or folder named with a newline broke the heading into a spoofable second line
    lines = [
        f"checkpoint {escape(report['checkpoint'])} ({_trained(report)}), evaluated at {report['eval_size']} px",
        *(
            [f"the same generators as {escape(same)}: scored once, its figures"]
            if (same := report.get("same_generators_as"))
            else []
        ),
        f"{_data_read(report)}; "
        + (
            note
            if note
            else f"KID on all {first['kid_subset_size']} images of each set (no subsets to spread over: give more "
            "images)"
            if first["kid_subsets"] == 1
            else f"KID subsets {first['kid_subsets']} x {first['kid_subset_size']} images"
        ),
        f"backbone {report['backbone']}: {report['backbone_note']}",
        *([f"read {report['layout']}"] if aligned else []),
        *_truth_lines(report["directions"], aligned=aligned),
        "",
        "  ".join([f"{'metric':<{w0}}", *(f"{d:>{w}}" for d, w in zip(dirs, wc, strict=True))]),
    ]
    for label, cells, hint in rows:
        cols = (f"{c:>{w}}" for c, w in zip(cells, wc, strict=True))
        lines.append("  ".join([f"{label:<{w0}}", *cols, f"  ({hint})"]))
    return "\n".join(lines + _fd_above_before(report, fd_name))


def _fd_above_before(report: dict[str, Any], fd_name: str) -> list[str]:
    """A note under the table where a direction's FD after translation is above its value before: a short demo
    (500 steps on a busy machine) showed it, and a newcomer read the translation as failed. The number stays; the
    note says what it measures at such a budget."""
    above = [
        f"{d} {row[fd_name]:.2f} against {row[key]:.2f}"
        for d, row in report["directions"].items()
        if isinstance(after := row.get(fd_name), float)
        and isinstance(before := row.get(key := f"{fd_name}_untranslated"), float)
        and after > before  # False for a NaN: a paired split of one image has none (fd_kid_note)
    ]
    if not above:
        return []
    truth = any("truth_psnr" in row for row in report["directions"].values())
    step = "" if report["step"] is None else f" (this checkpoint: step {report['step']})"
    return [
        "",
        f"note: {fd_name} after translation is above its value before ({', '.join(above)}): the translations' "
        "features are further from the target images' than the untranslated inputs' are. FD weighs texture as much "
        f"as colour: early in training{step} a generator's blur and mottling can put its outputs further from the "
        "target photos than its inputs even where the season is right"
        + ("; the truth rows say how near they are to the true renderings" if truth else "")
        + "; a longer-trained checkpoint's FD is the one to judge the model by",
    ]


def format_curve(reports: list[dict[str, Any]]) -> str:
    """One line per checkpoint (e.g. training milestones): distance, KID, cycle PSNR and, where the split has
    the truth, PSNR against it per direction, and the checkpoint's file (a run's checkpoint.pt and best.pt can be
    at the same step)."""
    fd_name, kid_name = METRIC_NAMES[reports[0]["backbone"]]
    # every direction any checkpoint scored (a CycleGAN's two beside a CUT run's one), "-" where one has none
    dirs = list(dict.fromkeys(d for r in reports for d in r["directions"]))
    # pix2pix's curve showed a column of "-" for the cycle it has not, and not the truth PSNR that chose its best.pt
    truth = any("truth_psnr" in row for r in reports for row in r["directions"].values())
    titles = (
        f"{d + ' ' + fd_name:>15} {d + ' ' + kid_name:>22} {d + ' cycle PSNR':>15}"
        + (f" {d + ' truth PSNR':>15}" if truth else "")
        for d in dirs
    )
    head = f"{'step':>7}  " + "  ".join(titles) + "  checkpoint"
    lines = [head]
    for r in reports:
        cells = []
        for d in dirs:
            row = r["directions"].get(d)
            if row is None:
                cells.append(f"{'-':>15} {'-':>22} {'-':>15}" + (f" {'-':>15}" if truth else ""))
                continue
            left_out = r.get("fd_kid_note")  # a paired split of one image: "-" as in the table, not "nan"
            kid, fd = ("-", "-") if left_out else (_kid(row, kid_name), f"{row[fd_name]:.2f}")
            # no way back (CUT, pix2pix, a plain generator file): "-" as in the table; "nan" read as a NaN output
            cycle, vs_truth = (f"{row[k]:.2f}" if k in row else "-" for k in ("cycle_psnr", "truth_psnr"))
            cells.append(f"{fd:>15} {kid:>22} {cycle:>15}" + (f" {vs_truth:>15}" if truth else ""))
        step = "-" if r["step"] is None else r["step"]  # a generator file of another project records none
        lines.append(f"{step!s:>7}  " + "  ".join(cells) + f"  {escape(r.get('checkpoint', '-'))}")
    return "\n".join(lines)


# --- cyclegan compare --------------------------------------------------------------------------------------


def summary_lines(r: CompareReport) -> list[str]:
    """A comparison report's short summary for the terminal: one line per method, means over images."""
    lines = [
        f"{'method':<9} {'s/img':>7} {'SSIM(Y)':>8} {'content':>8} {'style':>7}" + ("  KID(Lite0)" if r.kid else "")
    ]
    for k in r.methods:
        sec = "" if k == "input" else f"{r.mean('seconds', k):.3f}"
        kid = f"  {kid_text(r.kid[k]['mean'], r.kid[k]['std'])}" if r.kid else ""
        lines.append(
            f"{r.label(k):<9} {sec:>7} {r.mean('ssim_y', k):>8.3f} "
            f"{r.mean('content_distance', k):>8.3f} "
            f"{r.mean('style_distance', k):>7.3f}{kid}"
        )
    lines.append(f"{r.model}: {escape(r.checkpoint)}, {r.model_details()}")  # the run, its direction, step, weights
    lines.append(
        f"Gatys backbone: {escape(r.gatys_backbone())}; content/style distances: Lite0 "
        f"{r.metrics_backbone['content_layer']} / Gram {','.join(r.metrics_backbone['style_layers'])}"
    )
    if r.device:
        lines.append(f"seconds measured on {r.device}, fp32")
    lines += [f"note: {n}" for n in r.notes]
    return lines


# --- cyclegan demo -----------------------------------------------------------------------------------------


def format_demo(report: dict[str, Any]) -> str:
    """The demo's ground-truth scores: PSNR and SSIM per direction, each next to the untranslated input's."""
    lines = [f"{'direction':<10}{'PSNR':>8}{'untranslated':>14}{'SSIM':>8}{'untranslated':>14}"]
    for d, r in report["ground_truth"].items():
        lines.append(f"{d:<10}{r['psnr']:>8.2f}{r['psnr_identity']:>14.2f}{r['ssim']:>8.3f}{r['ssim_identity']:>14.3f}")
    if local := local_colour_text(report["ground_truth"]):
        lines.append(f"local colour: {local}")
    return "\n".join(lines)


def local_colour_text(ground_truth: dict[str, dict[str, Any]]) -> str:
    """The demo's local colour errors in words: per direction the worst patch's error, where it is, and the
    untranslated input's; "" for a report without them (written before they were scored)."""
    said = [
        f"{d} {r['local_colour']:.1f} (scene {r['local_colour_at']['scene']} at x {r['local_colour_at']['x']}, y "
        f"{r['local_colour_at']['y']}; untranslated {r['local_colour_identity']:.1f})"
        for d, r in ground_truth.items()
        if "local_colour" in r
    ]
    if not said:
        return ""
    patch = next(r["local_colour_at"]["patch"] for r in ground_truth.values() if "local_colour" in r)
    return f"the worst {patch}x{patch} px patch's mean colour off the truth, in grey levels: " + ", ".join(said)


def describe_record(record: dict | None) -> str:
    """One line of an execution record (`cyclegan.execution.Execution.record`), e.g.
    "fp32, NCHW, eager on cpu (AVX2, no native bf16, 2 threads), 0.210 s/step"; its settings worded as training's
    "computing in" line words them (`describe_settings`)."""
    if not record:
        return "no training step ran"
    r = record
    bf16 = "native bf16" if r["bf16_native"] else "no native bf16"
    speed = f", {r['s_per_step']:.3f} s/step" if r.get("s_per_step") else ""
    return f"{describe_settings(r)} on {r['device']} ({r['instruction_set']}, {bf16}, {r['threads']} threads){speed}"
