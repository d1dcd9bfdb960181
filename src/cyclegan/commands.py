"""The subcommands of `cyclegan`: a table of `Command`s, each its options dataclass (named "module:Class",
imported only for the command being run) and a runner that calls the library and prints.

Each runner imports the library module it calls when it runs (the `# on use` imports): `cyclegan --help` and
every other command then start without importing torch.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from . import process
from .config import (
    ALTERNATIVES,
    BASE_SECTIONS,
    all_sections,
    check_file_folders,
    check_resumable,
    check_startable,
    option_fields,
    option_value,
    read_config_file,
    resolve,
)
from .errors import CycleGANError, counted, escape, install_extra, shown_score
from .families import FAMILIES, accepting, names, section_titles
from .files import ARCHIVES, check_flags_there
from .options import add_arguments, shown_value, to_flags
from .presets import PRESETS
from .progress import print_warning
from .run_files import BEST_NAME, CHECKPOINT_NAME


@dataclass(frozen=True)
class Command:
    """One subcommand: its help, its options dataclass ("module:Class", imported on use) and its runner."""

    help: str
    description: str
    options: str | None  # None: a command without options
    run: Callable[[Any, argparse.Namespace], int]
    more_arguments: Callable[[argparse.ArgumentParser], None] | None = None  # flags beyond the dataclass's

    def options_class(self) -> type | None:
        if self.options is None:
            return None
        module, name = self.options.split(":")
        return getattr(importlib.import_module(module, __package__), name)


def command_line(name: str, opts: Any, *, skip: tuple[str, ...] = ()) -> str:
    """The subcommand with every option it ran with (defaults included), for reports to name their command;
    quoted as a shell reads it (a path with a space is one argument when the line is run again)."""
    return shlex.join(["cyclegan", name, *to_flags(opts, skip=skip)])


def _checkpoints_there(checkpoints: tuple[str, ...]) -> None:
    """Refuse, before torch's import, a checkpoint argument that names no file or folder
    (`shared_options.check_checkpoints_there`) or an unknown published model (`zoo.check_spec`). A leading `~` is
    the home folder, as the loader reads it (`files.home_expanded`, its one line where none is known): a quoted
    `--checkpoint '~/g.pt'` was "not found" here though the loader would read $HOME/g.pt."""
    from . import zoo  # torch-free
    from .files import home_expanded
    from .shared_options import check_checkpoints_there

    check_checkpoints_there(tuple(c if zoo.is_spec(c) else home_expanded(c) for c in checkpoints))
    for spec in filter(zoo.is_spec, checkpoints):
        zoo.check_spec(spec)


# --- train ----------------------------------------------------------------------------------------------


def _default_texts(cls: type) -> dict[str, str]:
    """What `--help` shows as each option's default: the field's, then each preset's and family's own value."""
    texts = {}
    for f in fields(cls):
        others = [f"{n}: {shown_value(p[f.name])}" for n, p in PRESETS.items() if f.name in p]
        if f.default is not None or not f.metadata.get("default_text"):  # else its text says the families' values
            others += [
                f"--model {n}: {shown_value(fam.defaults[f.name])}"
                for n, fam in FAMILIES.items()
                if f.name in fam.defaults
            ]
        if others:
            texts[f.name] = ", ".join([f.metadata.get("default_text") or shown_value(f.default), *others])
    return texts


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    """The run's options: one flag per config field, defaulting to 'not given' so presets and files apply;
    a model family's own options in a group of their own, an option that some families do not use marked
    with the families that do."""
    titles = section_titles()
    for section, cls in all_sections().items():
        notes = {}
        if section in BASE_SECTIONS:
            for f in fields(cls):
                if (families := accepting(f.name, section)) != names():
                    notes[f.name] = f"[--model {', '.join(families)}]"
        group = p.add_argument_group(titles.get(section, f"{section} options"))
        add_arguments(group, cls, suppress_defaults=True, default_texts=_default_texts(cls), notes=notes)


def replaced_family_values(file: dict[str, Any], flags: dict[str, Any]) -> list[str]:
    """The values of `--model`'s family (`Family.defaults`, else the fields' defaults where the file's family has
    values of its own) that a config file of another family replaces, as `key value`: `--config runs/cut/config.json
    --model fastcut` trained CUT's PatchNCE weight, identity term and decay under FastCUT's name, without a word (the
    file is over the family, as any option)."""
    theirs, ours = file.get("family"), flags.get("family")
    if not theirs or theirs == ours or ours not in FAMILIES:
        return []
    own, known = FAMILIES[ours].defaults, option_fields()
    # their family's values too, where ours keeps the fields' defaults: a pix2pix config.json's U-Net, dropout and
    # vanilla loss trained `--model cyclegan` (no values of its own) without a word
    keys = dict.fromkeys([*own, *(FAMILIES[theirs].defaults if theirs in FAMILIES else {})])
    return [
        f"{key} {file[key]!r}"
        for key in keys
        if key in file
        and key not in flags
        and file[key] is not None  # None: the family's value (a CycleGAN config.json's `cut` section)
        and ours in accepting(key, known[key][0])  # one ours does not take is refused, in a line of its own
        and option_value(key, file[key]) != option_value(key, own.get(key, known[key][1].default))
    ]


def commands_taking(flag: str) -> list[str]:
    """The commands (`train`, `datasets synthetic`) that take `flag`: each command's options built into a parser of
    its own, only on an error's path (their modules are torch-free): a flag of another command (`translate --steps
    3`), a flag before its command, another command's key in a train config."""

    def takes(cmd: Command) -> bool:
        if (cls := cmd.options_class()) is None:
            return False
        p = argparse.ArgumentParser(add_help=False)
        add_arguments(p, cls)
        if cmd.more_arguments is not None:
            cmd.more_arguments(p)
        return any(flag in a.option_strings for a in p._actions)

    named = [(name, entry) for name, entry in COMMANDS.items() if isinstance(entry, Command)]
    named += [(f"{g} {a}", c) for g, e in COMMANDS.items() if not isinstance(e, Command) for a, c in e.items()]
    return [name for name, cmd in named if takes(cmd)]


def other_commands_with(key: str) -> list[str]:
    """The commands other than train with an option of config key `key` (`checkpoint`: translate, export, ...)."""
    return [name for name in commands_taking(f"--{key.replace('_', '-')}") if name != "train"]


def run_train(opts, args: argparse.Namespace) -> int:
    overrides = read_config_file(opts.config, elsewhere=other_commands_with) if opts.config else {}
    flags = {k: v for k, v in vars(args).items() if k in option_fields()}
    replaced = ""
    if values := replaced_family_values(overrides, flags):
        replaced = (
            f"warning: {escape(str(opts.config))} is a {overrides['family']} config: its {', '.join(values)} "
            f"replace --model {flags['family']}'s values (give them as flags to keep the family's)"
        )
    if opts.config:
        check_file_folders(overrides, opts.config, flags.keys())
    # a file's option is named as the file's key, not as a flag the user never typed
    names = {key: f"{key}' in '{opts.config}" for key in overrides.keys() - flags.keys()}
    for key in flags.keys() & ALTERNATIVES.keys():  # a flag replaces the file's alternative (--epochs: its steps)
        overrides = {k: v for k, v in overrides.items() if k not in ALTERNATIVES[key]}
    overrides.update(flags)
    if opts.preset:
        overrides["preset"] = opts.preset
    # checked before torch's import (`--steps -3`, `--data MISSING`, `--resume` of no run waited 5-15 s for it)
    if not opts.resume:
        cfg, ckpt = check_startable(resolve(overrides, names=names, typed=flags.keys())), None
    else:
        check_resumable(overrides.get("out"))
    # after the checks: a config refused (--model cut of a pix2pix config's U-Net) says its one error line alone
    if replaced and os.environ.get("RANK", "0") == "0":
        print_warning(replaced)
    # A scheduler's SIGTERM or a closed terminal's SIGHUP before the steps (torch's import, the check of the images,
    # the networks' building) stops as Ctrl-C does there (`train.loop.train`: one line, exit 143 or 129; it killed the
    # run without a word, its new folder left with a `.lock`); during the steps the loop takes both over and saves
    # first (`train.signals.StopRequest`)
    with process.terminate_as_interrupt(hangup=True):
        from .train import prepare_config, train  # on use

        if opts.resume:
            cfg, ckpt = prepare_config(
                overrides, resume=True, out=overrides.get("out"), names=names, typed=flags.keys()
            )
        # (both: flags of another family refused, scoring options that do nothing without --eval-every warned of)
        train(cfg, ckpt=ckpt, progress=opts.progress)
    return 0


# --- translate, export ----------------------------------------------------------------------------------


def run_translate(opts, _: argparse.Namespace) -> int:
    from .translate_options import check_inputs_there  # torch-free: said before torch's import

    check_inputs_there(opts.inputs)  # first, as `translate_paths` checks them
    _checkpoints_there((opts.checkpoint,))
    from .translation import translate_paths  # on use

    # Translation's forward passes free each layer's activations as they go: glibc keeping that memory for the next
    # tensor made them 1.05-1.16x faster at 256-512 px (AVX2, fp32). Not for training: 1.00x there.
    process.keep_freed_memory()

    try:
        # A batch scheduler's SIGTERM, or a closed terminal's SIGHUP (it killed the run, a clip's temporary left):
        # the same hint, exit 143 or 129
        with process.terminate_as_interrupt(hangup=True):
            written, errors = translate_paths(opts)
    except KeyboardInterrupt as e:  # every output is written whole: what exists is done, and can be kept
        # With --overwrite, an output not reached yet is the previous run's file: --skip-existing would keep it.
        stale = ", but keeps the older outputs this run had not replaced yet" if opts.overwrite else ""
        term = isinstance(e, process.Terminated)
        how = e.word if term else "interrupted"
        with contextlib.suppress(OSError):  # a terminal that hung up takes no line: the exit status says it
            print(
                f"{how}: the outputs in {opts.out} so far are complete; the same command with "
                f"--skip-existing{' instead of --overwrite' if opts.overwrite else ''} translates the rest{stale}",
                file=sys.stderr,
            )
        return e.status if term else 130
    print(f"wrote {counted(len(written), 'file')} to {escape(opts.out)}")  # a name: one line
    if written:  # (none: every input was there already, and the checkpoint was not read)
        _say_last_not_best(opts.checkpoint)
    return _report_skipped(errors, "input", "could not be translated")


def _say_last_not_best(checkpoint: str) -> None:
    """A run folder as --checkpoint is its checkpoint.pt, the last step: where --eval-every kept a best.pt beside it,
    say so (a user who asked for scores while training took the folder for its best model), with the two steps. A
    run's best.pt itself: its step and score, which nothing said (`evaluate` alone named the step). Said after the
    work: said first, a refused command (an existing output, a wrong --direction) printed it above its error line."""
    run = Path(checkpoint)
    if run.is_file() and run.name == BEST_NAME:
        _say_best_step(run)
        return
    if run.is_dir() and (run / CHECKPOINT_NAME).is_file() and (run / BEST_NAME).is_file():
        last, best = _saved_step(run / CHECKPOINT_NAME), _saved_step(run / BEST_NAME)
        # the best evaluation was the last step (a demo's, mostly): "holds the best-scored step" sent users to a
        # file of the same generators
        same = last is not None and last == best
        held = f"the same step ({last}), the best scored" if same else f"the best-scored step{_in_brackets(best)}"
        print(
            f"note: {escape(run)} is read as its {CHECKPOINT_NAME}, the last step{'' if same else _in_brackets(last)}; "
            f"{BEST_NAME} beside it holds {held} (--checkpoint {escape(run / BEST_NAME)})",
            file=sys.stderr,
        )


def _in_brackets(step: int | None) -> str:
    return "" if step is None else f" ({step})"


def _say_best_step(path: Path) -> None:
    """best.pt given as --checkpoint: the step it holds, the score that chose it and, beside it, the last
    checkpoint's step; nothing where it holds no score (a generators-only file `save_generator` wrote)."""
    best = _saved(path).get("best")
    if not isinstance(best, dict) or not isinstance(best.get("step"), int):
        return
    metric, value = best.get("metric"), best.get("value")
    score = ""
    if isinstance(metric, str) and isinstance(value, float):
        score = f", the best {metric} ({shown_score(metric, value)})"
    step, beside = best["step"], ""
    last = _saved_step(path.parent / CHECKPOINT_NAME) if (path.parent / CHECKPOINT_NAME).is_file() else None
    if last == step:
        beside = f"; the last step too, as the {CHECKPOINT_NAME} beside it"
    elif last is not None:
        beside = f"; the {CHECKPOINT_NAME} beside it holds step {last}, the last"
    print(f"note: {escape(path)} holds step {step}{score}{beside}", file=sys.stderr)


def _saved(path: Path) -> dict:
    """A checkpoint or best.pt as read (memory-mapped: its tensors not read), or {} where it cannot be read: the
    loading that follows names the problem."""
    from .safeload import load_weights_only  # on use: torch is imported by then

    try:
        saved = load_weights_only(path)
    except CycleGANError:
        return {}
    return saved if isinstance(saved, dict) else {}


def _saved_step(path: Path) -> int | None:
    """The step a checkpoint or best.pt was saved at, or None where it cannot be read."""
    step = _saved(path).get("step")
    return step if isinstance(step, int) else None


def run_export(opts, _: argparse.Namespace) -> int:
    _checkpoints_there((opts.checkpoint,))  # before torch's import
    from .export import export_checkpoint  # on use

    # a scheduler's SIGTERM, a closed terminal's SIGHUP: the temporary removed as on Ctrl-C (both killed the export,
    # leaving it), exit 143 or 129 with one line (`cli.main`)
    with process.terminate_as_interrupt(hangup=True):
        result = export_checkpoint(opts)  # a file that fails the check is an error, and not written
    print(f"wrote {escape(result.path)} ({result.format}): float32 (B, 3, H, W) in [-1, 1] -> same shape in [-1, 1]")
    if result.max_abs_diff is not None:
        sizes = ", ".join(f"{h}x{w}" for h, w in result.checked_sizes)
        print(f"checked against PyTorch at {sizes}: max abs difference {result.max_abs_diff:.1e}")
    elif opts.check:
        print(f"not checked: onnxruntime is not installed ({install_extra('export')})")
    _say_last_not_best(opts.checkpoint)
    return 0


# --- datasets -------------------------------------------------------------------------------------------


def run_datasets_list(_opts, _args: argparse.Namespace) -> int:
    from .data.download import CATALOGUE, DEFAULT_BASE_URL  # on use

    width = max(map(len, CATALOGUE))
    for info in CATALOGUE.values():
        note = "" if info.downloadable else f"  (not downloadable: {info.note.split(':')[0]})"
        print(f"{info.name:<{width}}  {info.domains} ({info.source}){note}")
    print(f"\nfrom {DEFAULT_BASE_URL}/NAME.zip; `cyclegan datasets download NAME --root DIR`")
    return 0


def _download_stopped(e: KeyboardInterrupt, part: Path) -> int:
    """A download stopped by Ctrl-C, SIGTERM or a closed terminal's SIGHUP (which killed it without a word): its
    `.part` kept to resume, said in one line; exit 130, 143 or 129 as the other commands."""
    term = isinstance(e, process.Terminated)
    kept = f"{part.stat().st_size} bytes are kept in {part}" if part.is_file() else "nothing was kept"
    with contextlib.suppress(OSError):  # a terminal that hung up takes no line: the exit status says it
        print(escape(f"{e.word if term else 'interrupted'}: {kept}; the same command resumes"), file=sys.stderr)
    return e.status if term else 130


def run_datasets_download(opts, _: argparse.Namespace) -> int:
    from .data.download import download, part_path  # on use

    try:
        with process.terminate_as_interrupt(hangup=True):
            result = download(opts)
    except KeyboardInterrupt as e:
        return _download_stopped(e, part_path(opts.root, opts.name))
    if not result.files:  # a mirror's archive of something else: kept, but `train --data` would not find its images
        held = sorted(p.name for p in result.path.iterdir() if not p.name.startswith("."))
        if inner := [n for n in held if n.lower().endswith(ARCHIVES)]:  # a mirror's zip of the zip
            raise CycleGANError(
                f"{result.path} holds another archive, {inner[0]}, not trainA, trainB, testA, testB: it was not "
                f"opened; extract it into {result.path} yourself for `cyclegan train --data {result.path}`"
            )
        raise CycleGANError(
            f"{result.path} holds none of trainA, trainB, testA, testB (nor pix2pix's train, test) but "
            f"{', '.join(held[:4]) + (', ...' if len(held) > 4 else '') or 'nothing'}: move its images into them "
            f"for `cyclegan train --data {result.path}`"
        )
    counts = "images: " + ", ".join(f"{split} {n}" for split, n in result.files.items())
    if not result.downloaded:
        print(f"{escape(result.path)} is already there ({counts}); delete it to download again")
    else:
        resumed = f", resumed at byte {result.resumed_from}" if result.resumed_from else ""
        print(f"extracted {opts.name} to {escape(result.path)} ({counts}{resumed})")
    return 0


def run_datasets_synthetic(opts, _: argparse.Namespace) -> int:
    from .data.synthetic import check_applicable  # on use

    check_applicable(opts)  # an option the other kind of dataset reads is refused, not ignored
    folders = ("videoA", "videoB", "cameras") if opts.video else ("trainA", "trainB", "testA", "testB")
    try:
        # a scheduler's SIGTERM, a closed terminal's SIGHUP: stopped as Ctrl-C (both killed it, its lock left)
        with process.terminate_as_interrupt(hangup=True):
            return _render_synthetic(opts, folders)
    except KeyboardInterrupt as e:  # the folders hold part of a dataset, which `train --data` would take whole
        term = isinstance(e, process.Terminated)
        started = any((Path(opts.out) / f).is_dir() and any((Path(opts.out) / f).iterdir()) for f in folders)
        held = f": {opts.out} holds part of the dataset; the same command with --overwrite renders it whole"
        with contextlib.suppress(OSError):  # a terminal that hung up takes no line: the exit status says it
            print(escape(f"{e.word if term else 'interrupted'}{held if started else ''}"), file=sys.stderr)
        return e.status if term else 130


def _render_synthetic(opts, folders: tuple[str, ...]) -> int:
    from .data.synthetic import dataset_root_claimed  # on use

    with dataset_root_claimed(opts.out, folders, overwrite=opts.overwrite):  # one writer per --out
        if opts.video:
            from .clipio import write_clip  # on use
            from .data.synthetic_video import write_clips

            root = write_clips(
                opts.out,
                write_clip=write_clip,
                count=opts.clips,
                frames=opts.frames,
                size=opts.size,
                seed=opts.seed,
                progress=opts.progress,
            )
        else:
            from .data.synthetic import write_dataset  # on use

            root = write_dataset(opts)
    if opts.video:
        print(
            f"wrote {counted(opts.clips, 'clip pair')} to {escape(root)}/videoA (summer), videoB (true winter), cameras"
        )
        return 0
    paired = "paired" if opts.paired else "unpaired"
    print(
        f"wrote {2 * (opts.count + opts.test_count)} images to {escape(root)}/trainA, trainB ({paired}), testA, testB"
    )
    return 0


# --- published generators -------------------------------------------------------------------------------


def run_pretrained_list(_opts, _args: argparse.Namespace) -> int:
    from .zoo import list_lines  # on use

    print("\n".join(list_lines()))
    return 0


def run_pretrained_download(opts, _: argparse.Namespace) -> int:
    from .data.fetch import shown_address
    from .zoo import digest_line, download, part_path  # on use

    try:
        with process.terminate_as_interrupt(hangup=True):
            r = download(opts)
    except KeyboardInterrupt as e:
        return _download_stopped(e, part_path(opts.name))
    if not r.downloaded:
        checked = f"; {digest_line(r)}" if r.pinned else ""
        print(f"{escape(r.path)} is already cached{checked}; delete it to download again")
    else:
        resumed = f", resumed at byte {r.resumed_from}" if r.resumed_from else ""
        print(f"downloaded {escape(shown_address(r.url))} to {escape(r.path)}{resumed}")
        print(digest_line(r))
    print(f"use it as --checkpoint pretrained:{opts.name}")
    return 0


# --- demo, evaluate, bench ------------------------------------------------------------------------------


def run_demo(opts, _: argparse.Namespace) -> int:
    from .demo import run_demo as demo  # on use
    from .report import describe_record, format_demo  # on use

    # a scheduler's SIGTERM, or a closed terminal's SIGHUP, while it renders or scores (training saves and stops on
    # its own): the trained run kept, the same command named, exit 143 or 129; it ended the demo at once, without a word
    with process.terminate_as_interrupt(hangup=True):
        report = demo(opts)
    ex = report["execution"]  # None: the run's training was ended by `cyclegan train --resume`, not timed by the demo
    computed = describe_record(ex) if ex else "not recorded (its training was ended outside the demo)"
    print(f"\ncomputed: {computed}")
    print(f"\n{format_demo(report)}")  # the table, and the local colour error under it
    st = report.get("settings", {})
    if st.get("steps_planned", 0) > st.get("steps_trained", 0):
        print(
            f"\nstopped by the time limit at step {st['steps_trained']} of {st['steps_planned']}: the learning rate "
            "had not decayed to 0, so these scores are not the recipe's; give more --minutes (with --overwrite: the "
            "demo trains anew)"
        )
    if report.get("note"):  # a slow or busy machine's few steps (`demo.few_steps_note`)
        print(f"\nnote: {report['note']}")
    run = os.path.normpath(opts.out)  # runs/demo/ prints runs/demo/report.html, not runs/demo//report.html
    print(
        f"\nreport: {escape(os.path.join(run, 'report.html'))} (scores in {escape(os.path.join(run, 'report.json'))})"
    )
    return 0


def run_evaluate(opts, _: argparse.Namespace) -> int:
    from .evaluate.options import check_folders_there  # torch-free: said before torch's import

    _checkpoints_there(opts.checkpoint)
    check_folders_there(opts)
    from .evaluate.best import which_is_better  # on use
    from .evaluate.runner import evaluate_checkpoints  # on use
    from .report import format_curve, format_table  # on use

    # a scheduler's SIGTERM, a closed terminal's SIGHUP: the new images removed as on Ctrl-C, exit 143 or 129
    with process.terminate_as_interrupt(hangup=True):
        reports = evaluate_checkpoints(opts)
    command = command_line("evaluate", opts)
    for report in reports:
        report["command"] = command
        print(format_table(report) + "\n")
    if len(reports) > 1:
        print(format_curve(reports))
    if rough := reports[0].get("fd_kid_rough"):  # one split for every checkpoint: said once
        print(f"note: {rough}")
    for line in which_is_better(reports):  # a run's last and best checkpoints
        print(line)
    if opts.out:  # one checkpoint: its report; several: {"command", "reports": [...]}
        out = reports[0] if len(reports) == 1 else {"command": command, "reports": reports}
        print(f"\nreport: {escape(_written_last(out, opts.out, '--out', 'the scores'))}")
    if opts.save_images:  # the grids have no captions: their columns said here
        row = next(iter(reports[0]["directions"].values()), {})
        # a file without a partner of its name is scored without a truth (`runner.partners`): its tile is grey
        alone = any(r.get("n_pairs", r["n_source"]) < r["n_source"] for r in reports[0]["directions"].values())
        truth = "truth (grey: none of its name)" if alone else "truth"
        columns = ["input", "translated"] + ["reconstructed"] * ("cycle_l1" in row) + [truth] * ("n_pairs" in row)
        rows = "the first test images"
        print(
            f"images and grids: {escape(opts.save_images)} (each grid's rows: {rows}; columns: {' | '.join(columns)})"
        )
        if len(reports) > 1:  # a folder a checkpoint, named by index and step: a run's two files may share the step
            print("  " + ", ".join(f"{os.path.basename(r['images'])}: {escape(r['checkpoint'])}" for r in reports))
    status = _report_skipped(reports[0]["skipped"], "image", "left out of the evaluation")
    if left_out := reports[0].get("checkpoints_left_out"):  # a partial result, as a skipped image's: exit status 1
        print(f"error: {counted(len(left_out), 'checkpoint')} could not be read (named above)", file=sys.stderr)
        return 1
    return status


def _report_skipped(skipped: list[str], noun: str, what: str) -> int:
    """Each input a command skipped, on stderr, then how many (`noun` counted, then `what`: "2 images skipped"),
    and exit status 1 if there was any."""
    for line in skipped:
        print(f"error: {escape(line)}", file=sys.stderr)  # lines built around names: one line each
    if skipped:
        print(f"error: {counted(len(skipped), noun)} {what} (listed above)", file=sys.stderr)
        return 1
    return 0


def run_bench(opts, _: argparse.Namespace) -> int:
    from .bench import bench, check_bench_outputs, format_bench  # on use

    check_bench_outputs(opts)  # before the measuring: --json and --figure that would lose a file are refused
    # a scheduler's SIGTERM, a closed terminal's SIGHUP: stopped as Ctrl-C stops it, nothing written, exit 143 or 129
    # with one line (`cli.main`); both killed it without a word
    with process.terminate_as_interrupt(hangup=True):
        result = bench(opts)
    other_tasks = tuple(f"{task}_task" for task in ("style", "tiles") if task != opts.task)
    result["command"] = command_line("bench", opts, skip=other_tasks)
    print(format_bench(result))
    if opts.json:
        print(f"\nmeasurements: {escape(_written_last(result, opts.json, '--json', 'the figures'))}")
    return 0


def _written_last(result: dict, path: str, flag: str, what: str) -> Path:
    """`report.write_json(result, path)` after minutes of work: a disk that filled, or a folder made read-only
    meanwhile, is one line naming the option (the checks before the work passed), not an OSError traceback."""
    from . import report  # on use (read at call time: the tests replace write_json)

    try:
        return report.write_json(result, path)
    except OSError as e:
        raise CycleGANError(
            f"option '{flag}': cannot write {path} ({e.strerror or e}); {what} are printed above"
        ) from None


# --- style transfer and the comparison ------------------------------------------------------------------


def run_stylize(opts, _: argparse.Namespace) -> int:
    check_flags_there((("--content", (opts.content,)), ("--style", opts.style)))  # before torch's import
    from .style import run_stylize as stylize  # on use

    # a scheduler's SIGTERM, a closed terminal's SIGHUP: nothing half-written, exit 143 or 129
    with process.terminate_as_interrupt(hangup=True) as stop:
        result = stylize(opts)
    w, h = result.image.size
    n = len(result.losses)
    steps = f"{counted(n, 'step')}, {result.seconds:.1f} s"  # `--steps 1` said "1 steps"
    # a --weights file named: an image over one's own (or untrained) VGG19 weights read as one over ImageNet's
    backbone = f"{result.backbone} from {opts.gatys.weights}" if opts.gatys.weights else result.backbone
    print(f"wrote {escape(opts.out)} ({w}x{h}, backbone {escape(backbone)}, {steps})")  # a name: one line
    if result.interrupted:  # the best image so far was written; the status says it is not the whole run
        with contextlib.suppress(OSError):  # a terminal that hung up takes no line: the exit status says it
            print(f"{stop.word} at step {n} of {opts.gatys.steps}: the image is the best so far", file=sys.stderr)
        return stop.status
    return 0


def run_compare(opts, _: argparse.Namespace) -> int:
    from .compare_options import check_inputs_there  # torch-free: said before torch's import

    _checkpoints_there((opts.checkpoint,))
    check_inputs_there(opts)
    from .compare import LEFT_OUT_OF_REFERENCES, compare  # on use
    from .report import summary_lines  # on use

    # a batch scheduler's SIGTERM, a closed terminal's SIGHUP: the report kept, as Ctrl-C does (exit 143 or 129)
    with process.terminate_as_interrupt(hangup=True) as stop:
        report = compare(opts)
    print("\n".join(summary_lines(report)))
    # the grid has no captions: its columns said here, as the README says them
    columns = f"input | {report.model} | Gatys"
    print(f"wrote {escape(report.html)} and {escape(report.grid)} (columns: {columns}, a row per image)")
    if report.interrupted:
        with contextlib.suppress(OSError):  # a terminal that hung up takes no line: the exit status says it
            print(
                f"{stop.word}: the report covers the {counted(len(report.rows), 'image')} compared before it",
                file=sys.stderr,
            )
        return stop.status
    # an unreadable reference had another drawn in its place: the comparison is whole ("1 image skipped", exit 1)
    references = [line for line in report.skipped if line.endswith(LEFT_OUT_OF_REFERENCES)]
    for line in references:
        print_warning(f"warning: {escape(line)}")
    return _report_skipped([line for line in report.skipped if line not in references], "image", "skipped")


# --- the web page --------------------------------------------------------------------------------------


def run_serve(opts, _: argparse.Namespace) -> int:
    import os
    import threading

    from .web import serve  # on use

    status = 0
    try:
        # stopped by Ctrl-C, SIGTERM or a closed terminal's SIGHUP (taken by `serve` from its start: any error after
        # one is its stop) once its folder is removed
        serve(opts)
    except KeyboardInterrupt as e:  # said and exited as the other commands do (it was status 0 and Gradio's line)
        stop = e if isinstance(e, process.Terminated) else process.Termination()  # a Ctrl-C
        status = stop.status
        with contextlib.suppress(OSError):  # a terminal that hung up takes no line: the exit status says it
            print(f"{stop.word}: the server stopped", file=sys.stderr)
    # A visitor's job still running in one of the server's worker threads would be torn down mid-call by the
    # interpreter's exit (torch's C++ aborts: "terminate called without an active exception", status 134): leave
    # at once instead; nothing is left to save.
    if any(t.is_alive() for t in threading.enumerate() if t is not threading.main_thread()):
        with contextlib.suppress(OSError):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(status)
    return status


# --- the table of subcommands ---------------------------------------------------------------------------

# Name -> Command (or, for `datasets`, action -> Command). Explicit, so a missing one fails loudly.
COMMANDS: dict[str, Command | dict[str, Command]] = {
    "train": Command(
        "train a CycleGAN (or pix2pix, CUT, FastCUT: --model) on two folders of images",
        "Train CycleGAN, or another model family with --model pix2pix|cut|fastcut; --preset picks the architecture "
        "recipe. Options come from the family, then the preset, then --config FILE, then flags. "
        "Example: cyclegan train --data ROOT --out runs/h2z --preset paper --epochs 200",
        ".config:TrainCommand",
        run_train,
        add_train_arguments,
    ),
    "translate": Command(
        "translate images and clips with a trained generator",
        "Translate files, folders and globs. Each output keeps the input's file stem and size (or long side "
        "--size), a clip its kind. "
        "Example: cyclegan translate --checkpoint runs/h2z --direction AtoB --out out/ photos/ more/*.jpg",
        ".translate_options:TranslateOptions",
        run_translate,
    ),
    "export": Command(
        "export a generator to ONNX or TorchScript",
        "Write one generator as a file that runs without this package: input and output float32 (B, 3, H, W) "
        "in [-1, 1], any batch, height and width. The file is checked against PyTorch at two sizes. "
        "Example: cyclegan export --checkpoint runs/h2z --direction AtoB --out h2z.onnx",
        ".export_options:ExportOptions",
        run_export,
    ),
    "datasets": {
        "list": Command("the standard unpaired datasets", "Standard unpaired sets.", None, run_datasets_list),
        "download": Command(
            "download and extract a standard dataset to ROOT/NAME",
            "Download BASE/NAME.zip (resuming an interrupted download), verify it and extract it safely to "
            "ROOT/NAME (trainA, trainB, testA, testB). Example: cyclegan datasets download horse2zebra --root data",
            ".data.download:DownloadOptions",
            run_datasets_download,
        ),
        "synthetic": Command(
            "render the built-in summer/winter world to DIR/trainA, trainB, testA, testB (or clips: --video)",
            "Procedural landscapes in a summer (A) and a winter (B) style. Training scenes are unpaired (with "
            "--paired, pairs for pix2pix); testA/NAME.png and testB/NAME.png are one scene in both styles (the "
            "ground truth).",
            ".data.synthetic:SyntheticOptions",
            run_datasets_synthetic,
        ),
    },
    "pretrained": {
        "list": Command(
            "the published generators (name, translation, size)", "Published generators.", None, run_pretrained_list
        ),
        "download": Command(
            "download a published generator into the cache ($CYCLEGAN_HOME/pretrained)",
            "Download BASE/NAME.pth (resuming an interrupted download), check its SHA-256 if one is given, "
            "check that it is a generator (weights-only load) and cache it. Any checkpoint option also takes "
            "pretrained:NAME and downloads on first use. Example: cyclegan pretrained download horse2zebra",
            ".zoo:PretrainedDownloadOptions",
            run_pretrained_download,
        ),
    },
    "demo": Command(
        "train and score a summer <-> winter model on built-in data, in minutes, offline",
        "Render the built-in summer/winter world, train a small model on it, translate the paired test scenes "
        "both ways and score them against the truth (report.html, report.json).",
        ".demo_options:DemoOptions",
        run_demo,
    ),
    "evaluate": Command(
        "score a trained checkpoint on a test split (FD/KID, cycle and identity, truth if paired)",
        "Translate ROOT/{split}A and ROOT/{split}B (or the A|B pairs of ROOT/{split}) and report per direction: "
        "FD and KID against the target domain (fid/kid with the FID Inception; fd_lite0/kid_lite0 with Lite0, "
        "which is not FID), cycle L1/PSNR/SSIM, identity L1, and PSNR/SSIM against the truth when {split}A and "
        "{split}B hold the same file names (or pairs are read). "
        "Example: cyclegan evaluate --checkpoint runs/h2z --data data/horse2zebra --out eval.json",
        ".evaluate.options:EvalOptions",
        run_evaluate,
    ),
    "bench": Command(
        "time training steps, translation, style transfer and tiling; record peak memory",
        "--task train (default): training steps (median after warm-up) and translation throughput on "
        "synthetic tensors, and peak memory; --mode reference is the reference implementation's plain "
        "computation (fp32, NCHW, eager). --task style: Gatys against CycleGAN, seconds per image. --task "
        "tiles: tiled against whole-image translation, and a large photo's memory and speed. An option of "
        "another task than the one run is refused. Example: cyclegan bench --preset paper --size 256 --steps 4",
        ".bench.options:BenchOptions",
        run_bench,
    ),
    "stylize": Command(
        "neural style transfer (Gatys et al.): one image in the style of others",
        "Optimise the pixels of the content image so its deep features keep the content and its Gram "
        "matrices match those of the style images (one or more, blended). Example: cyclegan stylize "
        "--content tubingen.jpg "
        "--style starry_night.jpg --size 256 --out tubingen_starry.png",
        ".style.options:StylizeOptions",
        run_stylize,
    ),
    "compare": Command(
        "CycleGAN next to Gatys style transfer on the same images: grid and HTML report",
        "Translate the content images with a trained generator and stylise them with Gatys, then write "
        "DIR/grid.png (input | CycleGAN | Gatys), DIR/report.html and DIR/report.json with seconds per image, "
        "content preservation, style match and (given a target-domain folder) KID over Lite0 features. "
        "Example: cyclegan compare --checkpoint runs/monet --direction BtoA --content photos/ "
        "--style monet/trainA --target monet/testA --out cmp/",
        ".compare_options:CompareOptions",
        run_compare,
    ),
    "serve": Command(
        "a web page to translate images and clips, stylise, compare and watch training runs (needs the web extra)",
        "Serve a Gradio page on http://HOST:PORT/ with the models under --runs and --checkpoint only (no path "
        "can be typed in the page); Runs shows each run's losses and samples while it trains. "
        "Example: cyclegan serve --runs runs/ --checkpoint horse2zebra.pth",
        ".web.serve:ServeOptions",
        run_serve,
    ),
}
