"""The `cyclegan` command: thin subcommands that parse, call the library and print.

Heavy imports (torch) happen inside the subcommands, so `cyclegan --help` is instant.
"""

from __future__ import annotations

import argparse
import os
import sys
import types
import typing
from collections.abc import Callable

from . import __version__
from .errors import CycleGANError

# --- shared option helpers -----------------------------------------------------------------------------


def add_config_options(p: argparse.ArgumentParser) -> None:
    """One flag per config field (see cyclegan.config), defaulting to 'not given' so presets can apply."""
    from .config import PRESETS, SECTIONS

    for section, cls in SECTIONS.items():
        group = p.add_argument_group(f"{section} options")
        hints = typing.get_type_hints(cls)
        for f in cls.__dataclass_fields__.values():
            tp = hints[f.name]
            flag = "--" + f.name.replace("_", "-")
            per_preset = {name: pre[f.name] for name, pre in PRESETS.items() if f.name in pre}
            default = f"default: {f.default}" + "".join(f", {n}: {v}" for n, v in per_preset.items())
            help_text = f"{f.metadata['help']} ({default})"
            if tp is bool:
                group.add_argument(
                    flag, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS, help=help_text
                )
                continue
            kwargs: dict = {"default": argparse.SUPPRESS, "help": help_text, "dest": f.name}
            optional = typing.get_origin(tp) in (typing.Union, types.UnionType)
            base = next(a for a in typing.get_args(tp) if a is not type(None)) if optional else tp
            if typing.get_origin(base) is typing.Literal:
                kwargs["choices"] = typing.get_args(base)
            elif base in (int, float):
                kwargs["type"] = base
                kwargs["metavar"] = "N" if base is int else "X"
            else:
                kwargs["metavar"] = "PATH" if f.name in ("data", "domain_a", "domain_b", "out") else "S"
            group.add_argument(flag, **kwargs)


def add_execution_options(p: argparse.ArgumentParser, *, what: str = "") -> None:
    """--precision, --channels-last, --compile, as the training options of the same names."""
    from .config import TrainConfig

    for name in ("precision", "channels_last", "compile"):
        f = TrainConfig.__dataclass_fields__[name]
        choices = typing.get_args(typing.get_type_hints(TrainConfig)[name])
        p.add_argument("--" + name.replace("_", "-"), choices=choices, default="auto",
                       help=f"{what}{f.metadata['help']} (default: auto)")  # fmt: skip


def add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default: auto)")


# --- train ----------------------------------------------------------------------------------------------


def register_train(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a CycleGAN on two folders of images",
        description="Train CycleGAN. Options come from the preset, then --config FILE, then flags. "
        "Example: cyclegan train --data ROOT --out runs/h2z --preset paper --epochs 200",
    )
    p.add_argument("--preset", choices=["paper", "seed"], help="architecture and training defaults (default: paper)")
    p.add_argument("--config", metavar="FILE", help="YAML or JSON file of options (flat names or sections)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs still go to log.jsonl)")
    add_config_options(p)
    p.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    from .config import option_fields, read_config_file
    from .train import prepare_config, train

    overrides = read_config_file(args.config) if args.config else {}
    overrides.update({k: v for k, v in vars(args).items() if k in option_fields()})
    if args.preset:
        overrides["preset"] = args.preset
    cfg, ckpt = prepare_config(overrides, resume=args.resume, out=overrides.get("out"))
    train(cfg, ckpt=ckpt, progress=not args.no_progress)
    return 0


# --- translate ------------------------------------------------------------------------------------------


def register_translate(sub) -> None:
    p = sub.add_parser(
        "translate",
        help="translate images with a trained generator",
        description="Translate files, folders and globs. Each output keeps the input's file stem and size. "
        "Example: cyclegan translate --checkpoint runs/h2z --direction AtoB --out out/ photos/ more/*.jpg",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders (searched recursively) or globs")
    p.add_argument(
        "--checkpoint",
        required=True,
        metavar="RUN_OR_FILE",
        help="a run folder, a checkpoint file, or a generator .pth of the reference implementation",
    )
    p.add_argument(
        "--direction", choices=["AtoB", "BtoA"], default="AtoB", help="AtoB uses G, BtoA uses F (default: AtoB)"
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created if missing)")
    p.add_argument("--size", type=int, metavar="N", help="resize so the longer side is N first (default: keep size)")
    p.add_argument("--batch-size", type=int, default=4, metavar="N", help="images of equal size per batch (default: 4)")
    p.add_argument("--ext", default="png", choices=["png", "jpg", "webp", "tif"], help="output format (default: png)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_execution_options(p)
    add_device(p)
    p.set_defaults(func=run_translate)


# `--compile auto` compiles translate only for this many images or more (compiling takes ~5-10 s here).
TRANSLATE_COMPILE_MIN_IMAGES = 64


def run_translate(args: argparse.Namespace) -> int:
    from .checkpoint import load_generator
    from .execution import choose_execution, resolve_device
    from .inference import expand_inputs, translate_files

    if args.size is not None and args.size <= 0:
        raise CycleGANError("option '--size' must be positive")
    if args.batch_size <= 0:
        raise CycleGANError("option '--batch-size' must be positive")
    device = resolve_device(args.device)
    net = load_generator(args.checkpoint, args.direction, device=device)
    n_images = len(expand_inputs(args.inputs).files)
    execution = choose_execution(
        args.precision, args.channels_last, args.compile, device=device,
        compile_pays=n_images >= TRANSLATE_COMPILE_MIN_IMAGES,
    )  # fmt: skip
    written, errors = translate_files(
        net, args.inputs, args.out, size=args.size, batch_size=args.batch_size, ext=args.ext,
        progress=not args.no_progress, execution=execution,
    )  # fmt: skip
    for line in errors:
        print(f"error: {line}", file=sys.stderr)
    print(f"wrote {len(written)} image(s) to {args.out}")
    if errors:
        print(f"error: {len(errors)} input(s) could not be translated (listed above)", file=sys.stderr)
        return 1
    return 0


# --- export ---------------------------------------------------------------------------------------------


def register_export(sub) -> None:
    p = sub.add_parser(
        "export",
        help="export a generator to ONNX or TorchScript",
        description="Write one generator as a file that runs without this package: input and output "
        "float32 (B, 3, H, W) in [-1, 1], any batch, height and width. The file is checked against PyTorch "
        "at two sizes. Example: cyclegan export --checkpoint runs/h2z --direction AtoB --out h2z.onnx",
    )
    p.add_argument(
        "--checkpoint", required=True, metavar="RUN_OR_FILE",
        help="a run folder, a checkpoint file, or a generator .pth of the reference implementation",
    )  # fmt: skip
    p.add_argument("--direction", choices=["AtoB", "BtoA"], default="AtoB", help="AtoB: G, BtoA: F")
    p.add_argument("--format", choices=["onnx", "torchscript"], help="default: from the --out suffix")
    p.add_argument("--out", required=True, metavar="FILE", help="the file to write")
    p.add_argument("--opset", type=int, default=17, metavar="N", help="ONNX opset version (default: 17)")
    p.add_argument("--no-check", action="store_true", help="do not run the exported file against PyTorch")
    p.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    from .checkpoint import load_generator
    from .interop.export import TOLERANCE, export_generator, format_for

    fmt = format_for(args.out, args.format)
    net = load_generator(args.checkpoint, args.direction)
    meta = {"direction": args.direction, "checkpoint": str(args.checkpoint)}
    check = not args.no_check
    result = export_generator(net, args.out, format=fmt, opset=args.opset, metadata=meta, check=check)
    print(f"wrote {result.path} ({fmt}): float32 (B, 3, H, W) in [-1, 1] -> same shape in [-1, 1]")
    if result.max_abs_diff is not None:
        sizes = ", ".join(f"{h}x{w}" for h, w in result.checked_sizes)
        print(f"checked against PyTorch at {sizes}: max abs difference {result.max_abs_diff:.1e}")
        if result.max_abs_diff > TOLERANCE:
            print(f"error: the exported file differs from PyTorch by more than {TOLERANCE}", file=sys.stderr)
            return 1
    elif not args.no_check:
        print("not checked: onnxruntime is not installed (pip install 'cyclegan[export]')")
    return 0


# --- datasets -------------------------------------------------------------------------------------------


def run_datasets_list(args: argparse.Namespace) -> int:
    from .data.download import CATALOGUE, DEFAULT_BASE_URL

    width = max(map(len, CATALOGUE))
    for info in CATALOGUE.values():
        note = "" if info.downloadable else f"  (not downloadable: {info.note.split(':')[0]})"
        print(f"{info.name:<{width}}  {info.domains} ({info.source}){note}")
    print(f"\nfrom {DEFAULT_BASE_URL}/NAME.zip; `cyclegan datasets download NAME --root DIR`")
    return 0


def run_datasets_download(args: argparse.Namespace) -> int:
    from .data.download import download

    result = download(args.name, args.root, base_url=args.base_url, sha256=args.sha256, progress=not args.no_progress)
    counts = ", ".join(f"{split} {n}" for split, n in result.files.items()) or "no trainA/trainB/testA/testB"
    if not result.downloaded:
        print(f"{result.path} is already there ({counts}); delete it to download again")
    else:
        resumed = f", resumed at byte {result.resumed_from}" if result.resumed_from else ""
        print(f"extracted {args.name} to {result.path} ({counts}{resumed})")
    return 0


def register_datasets(sub) -> None:
    p = sub.add_parser("datasets", help="standard and synthetic datasets", description="Datasets by name.")
    ds = p.add_subparsers(dest="datasets_command", metavar="ACTION")
    ds.required = True
    # Each action adds its own parser here (synthetic: the demo data; list/download: standard sets).
    ls = ds.add_parser("list", help="the standard unpaired datasets", description="Standard unpaired sets.")
    ls.set_defaults(func=run_datasets_list)
    dl = ds.add_parser(
        "download",
        help="download and extract a standard dataset to ROOT/NAME",
        description="Download BASE/NAME.zip (resuming an interrupted download), verify it and extract it "
        "safely to ROOT/NAME (trainA, trainB, testA, testB). "
        "Example: cyclegan datasets download horse2zebra --root data",
    )
    dl.add_argument("name", metavar="NAME", help="a name from `cyclegan datasets list`")
    dl.add_argument("--root", required=True, metavar="DIR", help="where NAME/ goes (created if missing)")
    dl.add_argument("--base-url", metavar="URL", help="a mirror serving URL/NAME.zip (default: public)")
    dl.add_argument("--sha256", metavar="HEX", help="expected SHA-256 of the zip file")
    dl.add_argument("--no-progress", action="store_true", help="no progress bar")
    dl.set_defaults(func=run_datasets_download)
    syn = ds.add_parser(
        "synthetic",
        help="render the built-in summer/winter world to ROOT/trainA, trainB, testA, testB",
        description="Procedural landscapes in a summer (A) and a winter (B) style. Training scenes are "
        "unpaired; testA/NAME.png and testB/NAME.png are one scene in both styles (the ground truth).",
    )
    syn.add_argument("--out", required=True, metavar="DIR", help="dataset root to write")
    syn.add_argument("--size", type=int, default=64, metavar="N", help="image size in pixels (default: 64)")
    syn.add_argument("--count", type=int, default=400, metavar="N", help="training images per domain (default: 400)")
    syn.add_argument("--test-count", type=int, default=50, metavar="N", help="paired test scenes (default: 50)")
    syn.add_argument("--seed", type=int, default=0, help="world seed (default: 0)")
    syn.set_defaults(func=run_datasets_synthetic)


def run_datasets_synthetic(args: argparse.Namespace) -> int:
    from .data.synthetic import write_dataset

    for name in ("size", "count", "test_count"):
        if getattr(args, name) <= 0:
            raise CycleGANError(f"option '--{name.replace('_', '-')}' must be positive")
    root = write_dataset(args.out, size=args.size, count=args.count, test_count=args.test_count, seed=args.seed)
    print(f"wrote {2 * (args.count + args.test_count)} images to {root}/trainA, trainB, testA, testB")
    return 0


# --- demo -----------------------------------------------------------------------------------------------


def register_demo(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="train and score a summer <-> winter model on built-in data, in minutes, offline",
        description="Render the built-in summer/winter world, train the seed preset on it, translate the "
        "paired test scenes both ways and score them against the truth (report.html, report.json).",
    )
    p.add_argument("--out", default="runs/demo", metavar="RUN", help="run folder (default: runs/demo)")
    p.add_argument(
        "--minutes", type=float, default=4.0, metavar="M",
        help="cap the training time, so a slow machine still finishes in about M + 1 minutes (default: 4)",
    )  # fmt: skip
    p.add_argument("--steps", type=int, metavar="N", help="training steps (default: 800)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_device(p)
    p.set_defaults(func=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from .demo import DemoSettings, run_demo

    settings = DemoSettings()
    if args.steps is not None:
        if args.steps <= 0:
            raise CycleGANError("option '--steps' must be positive")
        settings = replace(settings, options={**settings.options, "steps": args.steps})
    if args.minutes is not None and args.minutes <= 0:
        raise CycleGANError("option '--minutes' must be positive")
    report = run_demo(
        args.out, device=args.device, minutes=args.minutes, settings=settings, progress=not args.no_progress
    )
    print(f"\n{'direction':<10}{'PSNR':>8}{'untranslated':>14}{'SSIM':>8}{'untranslated':>14}")
    for d, r in report["ground_truth"].items():
        print(f"{d:<10}{r['psnr']:>8.2f}{r['psnr_identity']:>14.2f}{r['ssim']:>8.3f}{r['ssim_identity']:>14.3f}")
    print(f"\nreport: {args.out}/report.html (scores in {args.out}/report.json)")
    return 0


# --- evaluate -------------------------------------------------------------------------------------------


def command_line(name: str, args: argparse.Namespace) -> str:
    """The subcommand with every option it ran with (defaults included), for reports to name their command."""
    parts = ["cyclegan", name]
    for key, value in vars(args).items():
        if key in ("func", "command") or value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            parts.append(flag)
        else:
            parts += [flag, *map(str, value if isinstance(value, list) else [value])]
    return " ".join(parts)


def register_evaluate(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="score a trained checkpoint on a test split (FD/KID, cycle and identity, truth if paired)",
        description="Translate ROOT/{split}A and ROOT/{split}B and report per direction: FD and KID "
        "against the target domain (fid/kid with the FID Inception; fd_lite0/kid_lite0 with Lite0, which is "
        "not FID), cycle L1/PSNR/SSIM, identity L1, and PSNR/SSIM against the truth when testA and testB "
        "hold the same file names. "
        "Example: cyclegan evaluate --checkpoint runs/h2z --data data/horse2zebra --out eval.json",
    )
    p.add_argument(
        "--checkpoint",
        required=True,
        nargs="+",
        metavar="RUN_OR_FILE",
        help="run folder or checkpoint file; several (e.g. milestones) are scored in one pass",
    )
    p.add_argument("--data", required=True, metavar="ROOT", help="dataset root holding {split}A and {split}B")
    p.add_argument("--split", default="test", help="folder prefix under ROOT (default: test)")
    p.add_argument(
        "--direction",
        choices=["AtoB", "BtoA", "both"],
        default="both",
        help="AtoB scores G (and F for the cycle), BtoA the reverse, both: each (default: both)",
    )
    p.add_argument("--backbone", choices=["inception", "lite0"], default="lite0",
                   help="feature network: inception (FID; needs its weights file) or lite0 (offline; "
                   "reported as fd_lite0/kid_lite0) (default: lite0)")  # fmt: skip
    p.add_argument("--inception-weights", metavar="FILE",
                   help="pt_inception-2015-12-05-6726825d.pth (default: $CYCLEGAN_INCEPTION_WEIGHTS, then "
                   "the torch hub cache)")  # fmt: skip
    p.add_argument("--out", metavar="FILE.json", help="write the report as JSON here")
    p.add_argument("--save-images", metavar="DIR", help="write translations (DIR/AtoB/*.png) and grids")
    p.add_argument("--size", type=int, metavar="N", help="evaluate at N x N px (default: the training size)")
    p.add_argument("--batch-size", type=int, default=8, metavar="N", help="images per forward pass (default: 8)")
    p.add_argument("--limit", type=int, metavar="N", help="first N images per domain (sorted names)")
    p.add_argument("--kid-subset-size", type=int, metavar="N", help="(default: min(100, both set sizes))")
    p.add_argument("--kid-subsets", type=int, default=100, metavar="N", help="(default: 100)")
    p.add_argument("--seed", type=int, default=0, help="seed of the KID subsets (default: 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_device(p)
    p.set_defaults(func=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    from .evaluate.runner import EvalOptions, evaluate_checkpoints, format_curve, format_table, write_json

    opts = EvalOptions(
        checkpoint=args.checkpoint[0], data=args.data, split=args.split, direction=args.direction,
        backbone=args.backbone, size=args.size, batch_size=args.batch_size, device=args.device,
        kid_subset_size=args.kid_subset_size, kid_subsets=args.kid_subsets,
        inception_weights=args.inception_weights, save_images=args.save_images, limit=args.limit,
        seed=args.seed, progress=not args.no_progress,
    )  # fmt: skip
    reports = evaluate_checkpoints(args.checkpoint, opts)
    command = command_line("evaluate", args)
    for report in reports:
        report["command"] = command
        print(format_table(report) + "\n")
    if len(reports) > 1:
        print(format_curve(reports))
    if args.out:  # one checkpoint: its report; several: {"command", "reports": [...]}
        out = reports[0] if len(reports) == 1 else {"command": command, "reports": reports}
        print(f"\nreport: {write_json(out, args.out)}")
    if args.save_images:
        print(f"images and grids: {args.save_images}")
    return 0


# --- bench ----------------------------------------------------------------------------------------------


def register_bench(sub) -> None:
    p = sub.add_parser(
        "bench",
        help="time training steps and translation, record peak memory",
        description="Times training steps (median after warm-up) and translation throughput on synthetic "
        "tensors, and records peak memory. --mode reference is the reference implementation's plain "
        "computation (fp32, NCHW, eager). Example: cyclegan bench --preset paper --size 256 --steps 4",
    )
    p.add_argument(
        "--preset",
        choices=["paper", "seed"],
        default="paper",
        help="architecture and training defaults to time (default: paper)",
    )
    p.add_argument("--size", type=int, metavar="N", help="image size (default: the preset's)")
    p.add_argument("--batch-size", type=int, metavar="N", help="training batch (default: the preset's)")
    p.add_argument("--steps", type=int, default=5, metavar="N", help="timed training steps (default: 5)")
    p.add_argument("--warmup", type=int, default=1, metavar="N", help="untimed steps first (default: 1)")
    p.add_argument("--translate-batches", type=int, metavar="N",
                   help="timed translation batches (default: as --steps, at least 10)")  # fmt: skip
    p.add_argument("--mode", choices=["reference", "default", "both"], default="default",
                   help="reference: fp32, NCHW, eager, as the reference implementation; default: what train and "
                   "translate use by default here; both: the two interleaved step by step, with the speed-up "
                   "(default: default)")  # fmt: skip
    add_execution_options(p, what="default mode's ")
    p.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="CPU threads (default: torch's, one per core; on a busy shared machine 1 is steadier)",
    )
    p.add_argument("--json", metavar="FILE", help="write the measurements as JSON here")
    add_device(p)
    p.set_defaults(func=run_bench)


def run_bench(args: argparse.Namespace) -> int:
    from .evaluate.bench import BenchOptions, bench, format_bench

    opts = BenchOptions(
        preset=args.preset, size=args.size, batch_size=args.batch_size, steps=args.steps, warmup=args.warmup,
        translate_batches=args.translate_batches, mode=args.mode, device=args.device, threads=args.threads,
        precision=args.precision, channels_last=args.channels_last, compile=args.compile,
    )  # fmt: skip
    result = bench(opts)
    result["command"] = command_line("bench", args)
    print(format_bench(result))
    if args.json:
        from .evaluate.runner import write_json

        print(f"\nmeasurements: {write_json(result, args.json)}")
    return 0


# --- stylize (Gatys neural style transfer) ----------------------------------------------------------------


def add_style_backbone(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--backbone", choices=["auto", "vgg19", "lite0"], default="auto",
        help="feature network: vgg19 (torchvision's ImageNet weights, cached or --weights) or lite0 "
        "(EfficientNet-Lite0, weights shipped, offline); auto: vgg19 if its weights are at hand, else lite0",
    )  # fmt: skip
    p.add_argument("--weights", metavar="PATH", help="VGG19 weights file in torchvision's key format (vgg19 only)")
    p.add_argument("--steps", type=int, default=300, metavar="N", help="forward+backward passes (default: 300)")
    p.add_argument("--optimizer", choices=["lbfgs", "adam"], default="lbfgs", help="pixel optimiser (default: lbfgs)")


def register_stylize(sub) -> None:
    p = sub.add_parser(
        "stylize",
        help="neural style transfer (Gatys et al.): one image in the style of others",
        description="Optimise the pixels of the content image so its deep features keep the content and its "
        "Gram matrices match the style image(s). Example: cyclegan stylize --content tubingen.jpg "
        "--style starry_night.jpg --size 256 --out tubingen_starry.png",
    )
    p.add_argument("--content", required=True, metavar="IMG", help="the image whose content is kept")
    p.add_argument("--style", required=True, nargs="+", metavar="IMG", help="style image(s), blended")
    p.add_argument("--style-blend", type=float, nargs="+", metavar="W", help="one weight per style (default: equal)")
    p.add_argument("--out", required=True, metavar="FILE", help="output image (png, jpg, ...)")
    add_style_backbone(p)
    p.add_argument("--size", type=int, default=512, metavar="N", help="long side of the output in px (default: 512)")
    p.add_argument("--style-size", type=int, metavar="N", help="long side of the style images (default: --size)")
    p.add_argument("--content-weight", type=float, metavar="X", help="content loss weight (default: per backbone)")
    p.add_argument("--style-weight", type=float, metavar="X", help="style loss weight (default: per backbone)")
    p.add_argument("--tv-weight", type=float, metavar="X", help="total variation weight (default: per backbone)")
    p.add_argument("--content-layers", nargs="+", metavar="L", help="layer names (default: per backbone)")
    p.add_argument("--style-layers", nargs="+", metavar="L", help="layer names (default: per backbone)")
    p.add_argument("--init", choices=["content", "noise"], default="content", help="start image (default: content)")
    p.add_argument("--preserve-color", action="store_true", help="keep the content's colours (luminance transfer)")
    p.add_argument(
        "--lr", type=float, default=0.02, metavar="X", help="Adam learning rate, pixels in [0, 1] (default: 0.02)"
    )
    p.add_argument("--seed", type=int, default=0, metavar="N", help="seed for --init noise (default: 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_device(p)
    p.set_defaults(func=run_stylize)


def run_stylize(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .execution import resolve_device
    from .style import stylize

    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"):
        raise CycleGANError(f"option '--out': {out} needs an image extension (.png, .jpg, ...)")
    result = stylize(
        args.content, args.style, style_blend=args.style_blend, backbone=args.backbone, weights=args.weights,
        size=args.size, style_size=args.style_size, steps=args.steps, optimizer=args.optimizer,
        content_weight=args.content_weight, style_weight=args.style_weight, tv_weight=args.tv_weight,
        content_layers=args.content_layers, style_layers=args.style_layers, init=args.init,
        preserve_color=args.preserve_color, lr=args.lr, device=resolve_device(args.device), seed=args.seed,
        progress=not args.no_progress,
    )  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    result.image.save(out)
    w, h = result.image.size
    print(f"wrote {out} ({w}x{h}, backbone {result.backbone}, {len(result.losses)} steps, {result.seconds:.1f} s)")
    return 0


# --- compare (CycleGAN vs Gatys) ------------------------------------------------------------------------


def register_compare(sub) -> None:
    p = sub.add_parser(
        "compare",
        help="CycleGAN next to Gatys style transfer on the same images: grid and HTML report",
        description="Translate the content images with a trained generator and stylise them with Gatys, then "
        "write DIR/grid.png (input | CycleGAN | Gatys), DIR/report.html and DIR/report.json with seconds per "
        "image, content preservation, style match and (given a target-domain folder) KID over Lite0 "
        "features. "
        "Example: cyclegan compare --checkpoint runs/monet --direction BtoA --content photos/ "
        "--style monet/trainA --target monet/testA --out cmp/",
    )
    p.add_argument(
        "--checkpoint",
        required=True,
        metavar="RUN_OR_FILE",
        help="a run folder, a checkpoint file, or a generator .pth of the reference implementation",
    )
    p.add_argument("--direction", choices=["AtoB", "BtoA"], required=True, help="AtoB uses G, BtoA uses F")
    p.add_argument("--content", required=True, nargs="+", metavar="IMG", help="content images, folders or globs")
    p.add_argument(
        "--style", required=True, nargs="+", metavar="IMG",
        help="style reference images and/or folders of target-domain images to draw references from",
    )  # fmt: skip
    p.add_argument("--target", metavar="DIR", help="target-domain folder for KID (default: the first --style folder)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created if missing)")
    p.add_argument("--size", type=int, default=256, metavar="N", help="long side of the images in px (default: 256)")
    p.add_argument("--refs-per-image", type=int, default=1, metavar="N", help="style references per image (1)")
    p.add_argument("--grid-cell", type=int, metavar="N", help="pixels per grid cell (default: --size)")
    p.add_argument("--grid-palette", action="store_true", help="256-colour grid PNG, ~3x smaller (for web pages)")
    add_style_backbone(p)
    p.add_argument("--seed", type=int, default=0, metavar="N", help="seed for drawing references (default: 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_device(p)
    p.set_defaults(func=run_compare)


def run_compare(args: argparse.Namespace) -> int:
    from .compare import compare, summary_lines
    from .execution import resolve_device

    report = compare(
        args.checkpoint, args.direction, args.content, args.style, args.out, target=args.target,
        size=args.size, backbone=args.backbone, weights=args.weights, steps=args.steps,
        optimizer=args.optimizer, refs_per_image=args.refs_per_image, grid_cell=args.grid_cell,
        grid_palette=args.grid_palette, seed=args.seed,
        device=resolve_device(args.device), progress=not args.no_progress,
    )  # fmt: skip
    print("\n".join(summary_lines(report)))
    print(f"wrote {report.html} and {report.grid}")
    return 0


# --- entry point ----------------------------------------------------------------------------------------

# Subcommand name -> function adding its parser. Explicit, so a missing one fails loudly.
COMMANDS: dict[str, Callable] = {
    "train": register_train,
    "translate": register_translate,
    "export": register_export,
    "datasets": register_datasets,
    "demo": register_demo,
    "evaluate": register_evaluate,
    "bench": register_bench,
    "stylize": register_stylize,
    "compare": register_compare,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cyclegan",
        description="Unpaired image-to-image translation (CycleGAN) and neural style transfer.",
    )
    parser.add_argument("--version", action="version", version=f"cyclegan {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in COMMANDS.values():
        register(sub)
    return parser


def set_openmp_wait_policy() -> None:
    """On a busy CPU, let idle OpenMP threads sleep instead of spin; on an idle one, keep spinning.

    Spinning threads steal the core from the thread they wait for when other processes are running: at
    load 4 on 2 cores a demo step took 1.12 s spinning and 0.46 s passive (stylize: 227 s vs 28 s at load
    8). On an idle machine passive waits cost instead: stylize 21.0 s vs 12.7 s. Decided from the load
    average; an OMP_WAIT_POLICY already set wins. Takes effect only before torch is imported (the commands
    import it lazily).
    """
    try:
        busy = os.getloadavg()[0] > (os.cpu_count() or 1)  # more runnable processes than cores
    except OSError:  # not available on this platform
        busy = False
    if busy:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def main(argv: list[str] | None = None) -> int:
    set_openmp_wait_policy()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args) or 0
    except CycleGANError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
