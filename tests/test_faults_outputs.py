"""Nothing lost, nothing crashes: outputs never overwrite files (inputs never), one bad image never costs the
others, symlinked folders are searched without looping, and the ONNX export pads as `translate` does.

Tiny models and images made here; every refusal is checked to happen before any work (a missing checkpoint
would fail later, so seeing the refusal instead shows it came first).
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import make_images
from cyclegan.cli import main
from cyclegan.errors import CycleGANError
from helpers import evaluate_args, save_tiny_checkpoint, tiny_evaluation


def _no_model(tmp_path: Path) -> Path:
    """A run folder that is there but holds no checkpoint: loading it fails, so a refusal said instead comes before
    the model is read (a checkpoint that is not there at all is refused earlier still, before torch's import)."""
    (run := tmp_path / "no-such-run").mkdir(exist_ok=True)
    return run


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (relative name -> bytes)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def one_line_error(capsys) -> str:
    """The stderr of a refused command: exactly one line, `error: ...`, no traceback."""
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def translate(run: Path | str, out: Path, *inputs: Path | str, extra: tuple[str, ...] = ()) -> int:
    args = ["translate", "--checkpoint", str(run), "--out", str(out), "--no-progress", *extra]
    return main([*args, *map(str, inputs)])


# --- no overwrite: translate --------------------------------------------------------------------------------


def test_translate_into_its_own_input_folder_is_refused_and_inputs_stay(run, tmp_path, capsys):
    photos = tmp_path / "photos"
    make_images(photos, 2, seed=3)
    make_images(photos / "sub", 1, seed=4, size=(24, 16))
    before = snapshot(photos)
    for out, inputs, flags in [
        (photos, [photos], ()),  # the case: it used to replace the sources, exit 0
        (photos, [photos], ("--overwrite",)),  # sources are never replaced, even when asked
        (photos / "sub", [photos], ()),  # inside an input folder
        (photos, [photos / "*.png"], ("--overwrite",)),  # onto input files named by a glob
        (photos / "sub", [photos / "sub" / "img_000.png"], ("--overwrite",)),  # onto an input file
    ]:
        assert translate(run, out, *inputs, extra=flags) == 2
        err = one_line_error(capsys)
        assert "input" in err and "--overwrite" in err
    assert snapshot(photos) == before  # byte for byte, and nothing added


def test_existing_output_is_refused_before_any_work_and_replaced_with_overwrite(run, tmp_path, capsys):
    make_images(tmp_path / "in", 2, seed=3)
    out = tmp_path / "out"
    out.mkdir()
    (out / "img_001.png").write_bytes(b"mine")
    # A missing checkpoint would fail at loading: the refusal must come first, and write nothing.
    assert translate(_no_model(tmp_path), out, tmp_path / "in") == 2
    err = one_line_error(capsys)
    assert f"{out / 'img_001.png'} already exists" in err and "--overwrite" in err
    assert snapshot(out) == {"img_001.png": b"mine"}
    assert translate(run, out, tmp_path / "in", extra=("--overwrite",)) == 0
    assert sorted(snapshot(out)) == ["img_000.png", "img_001.png"]
    assert Image.open(out / "img_001.png").size == (48, 40)  # replaced by the translation


def test_no_command_but_training_replaces_a_runs_checkpoint_or_best(run, tmp_path, capsys, monkeypatch):
    """`bench --json RUN/checkpoint.pt --overwrite` replaced a run's checkpoint with a JSON, and the run could
    neither resume nor translate: now every command's outputs are refused on a run folder's checkpoint.pt and
    best.pt, even with --overwrite, before any work, through a link too (stylize, translate and compare write only
    image names)."""
    import shutil

    from cyclegan.bench import runner

    def measured(opts, device):
        raise AssertionError("measured before its outputs were checked")

    monkeypatch.setitem(runner.TASKS, "style", (measured, runner.TASKS["style"][1]))
    shutil.copytree(run, copy := tmp_path / "run")
    (copy / "best.pt").write_bytes((copy / "checkpoint.pt").read_bytes())
    (tmp_path / "link.pt").symlink_to(copy / "checkpoint.pt")
    before = snapshot(copy)
    photo = make_images(tmp_path / "photos", 1, seed=0)[0]
    checkpoint, data = tiny_evaluation(tmp_path)
    cases = [
        (["bench", "--task", "style", "--content", str(photo), "--style", str(photo), "--json"], "--json", "ckpt"),
        (["export", "--checkpoint", str(checkpoint), "--out"], "--out", "best"),
        (["export", "--checkpoint", str(checkpoint), "--out"], "--out", "link"),
        ([*evaluate_args(checkpoint, data), "--out"], "--out", "ckpt"),
    ]
    where = {"ckpt": copy / "checkpoint.pt", "best": copy / "best.pt", "link": tmp_path / "link.pt"}
    for flags, option, target in cases:
        assert main([*flags, str(where[target]), "--overwrite"]) == 2, flags
        err = one_line_error(capsys)
        assert f"option '{option}': {where[target]} is the training run's " in err and "only `cyclegan train`" in err
    assert snapshot(copy) == before
    outside = tmp_path / "elsewhere" / "checkpoint.pt"  # the name alone is no run's: written as before
    assert main(["export", "--checkpoint", str(checkpoint), "--out", str(outside)]) == 0 and outside.is_file()


def test_no_command_but_training_replaces_a_runs_config_or_log(run, tmp_path, capsys, monkeypatch):
    """`bench --json RUN/log.jsonl --overwrite` (or RUN/config.json) replaced a run's log or config with a JSON: the
    run could then neither resume nor report. Refused now as its checkpoint is, even with --overwrite, before any
    work; what a command writes into a run folder by design (evaluate's --out RUN/eval.json) is still written."""
    import shutil

    from cyclegan.bench import runner

    def measured(opts, device):
        raise AssertionError("measured before its outputs were checked")

    monkeypatch.setitem(runner.TASKS, "style", (measured, runner.TASKS["style"][1]))
    shutil.copytree(run, copy := tmp_path / "run")
    assert (copy / "log.jsonl").is_file() and (copy / "config.json").is_file()
    before = snapshot(copy)
    photo = make_images(tmp_path / "photos", 1, seed=0)[0]
    checkpoint, data = tiny_evaluation(tmp_path)
    bench = ["bench", "--task", "style", "--content", str(photo), "--style", str(photo), "--json"]
    for flags, name in [
        (bench, "log.jsonl"),
        (bench, "config.json"),
        ([*evaluate_args(checkpoint, data), "--out"], "log.jsonl"),
    ]:
        assert main([*flags, str(copy / name), "--overwrite"]) == 2, (flags, name)
        err = one_line_error(capsys)
        assert f"{copy / name} is the training run's {name} (only `cyclegan train` writes it" in err
    assert snapshot(copy) == before
    assert main([*evaluate_args(checkpoint, data), "--out", str(copy / "eval.json")]) == 0
    assert json.loads((copy / "eval.json").read_text())


def test_save_generator_replaces_no_runs_best(run, tmp_path):
    """`save_generator(G, "RUN/best.pt", overwrite=True)` replaced a run's best.pt (CycleGAN's two generators at
    their best score, which `evaluate RUN` and the web page read as the run's) with one fine-tuned generator; and
    without a best.pt yet, one was made there. Refused now, as every command's output is; another name is written."""
    import shutil

    import cyclegan

    shutil.copytree(run, copy := tmp_path / "run")
    G = cyclegan.load_generator(copy, "AtoB")
    with pytest.raises(CycleGANError, match=r"best.pt is a training run's best.pt \(only `cyclegan train` writes"):
        cyclegan.save_generator(G, copy / "best.pt")  # none yet: it would read as the run's best
    assert not (copy / "best.pt").exists()
    (copy / "best.pt").write_bytes(before := (copy / "checkpoint.pt").read_bytes())
    with pytest.raises(CycleGANError, match=r"best.pt is a training run's best.pt"):
        cyclegan.save_generator(G, copy / "best.pt", overwrite=True)
    assert (copy / "best.pt").read_bytes() == before
    assert cyclegan.save_generator(G, copy / "tuned.pt") == copy / "tuned.pt"


def test_a_run_folder_is_one_training_started_not_a_models_folder(run, tmp_path, capsys):
    """A run folder is what `cyclegan train` writes before its first step, config.json and log.jsonl
    (`run_files.is_run_folder`). A run before its first checkpoint was not guarded: `export --out RUN/checkpoint.pt`
    or `save_generator(G, "RUN/best.pt")` wrote the files training then took for its own. A model's folder in
    Hugging Face's layout (checkpoint.pt beside its config.json, no log) counted as a run: a generator saved into
    it as best.pt was refused."""
    import shutil

    import cyclegan

    G = cyclegan.load_generator(run, "AtoB")
    early = tmp_path / "early"  # a run that has logged, not yet saved
    early.mkdir()
    for name in ("config.json", "log.jsonl"):
        shutil.copy(run / name, early / name)
    checkpoint, _ = tiny_evaluation(tmp_path)
    for name in ("checkpoint.pt", "best.pt"):
        assert main(["export", "--checkpoint", str(checkpoint), "--out", str(early / name)]) == 2
        assert f"{early / name} is the training run's {name} (only `cyclegan train` writes it" in one_line_error(capsys)
    with pytest.raises(CycleGANError, match=r"best.pt is a training run's best.pt"):
        cyclegan.save_generator(G, early / "best.pt")
    assert sorted(p.name for p in early.iterdir()) == ["config.json", "log.jsonl"]
    hub = tmp_path / "hub"  # a model's files, as a Hugging Face repository holds them
    hub.mkdir()
    for name in ("config.json", "checkpoint.pt"):
        shutil.copy(run / name, hub / name)
    assert cyclegan.save_generator(G, hub / "best.pt") == hub / "best.pt"
    assert cyclegan.load_generator(hub / "best.pt", "AtoB") is not None


def test_an_interrupted_translation_is_finished_with_skip_existing(run, tmp_path, capsys, monkeypatch):
    make_images(tmp_path / "in", 3, seed=3)
    Image.open(tmp_path / "in" / "img_000.png").save(tmp_path / "in" / "img_000.jpg")  # same stem: img_000-2
    out = tmp_path / "out"
    import cyclegan.translation as tr

    real, calls = tr.translate_plan, []

    def stop_after_two(net, plan, out_dir, **kw):  # Ctrl-C once two outputs are written
        calls.append(sorted(p.name for p in plan.files))
        done = real(net, dataclasses.replace(plan, files=plan.files[:2]), out_dir, **kw)
        if len(calls) == 1:
            raise KeyboardInterrupt
        return done

    monkeypatch.setattr(tr, "translate_plan", stop_after_two)
    assert translate(run, out, tmp_path / "in") == 130
    captured = capsys.readouterr()
    assert "--skip-existing translates the rest" in captured.err
    assert captured.err.count("will be written as") == 1  # the suffixed name is announced once, not twice
    first = snapshot(out)
    assert len(first) == 2
    assert translate(run, out, tmp_path / "in") == 2  # without the flag: refused, as before
    assert "already exists" in one_line_error(capsys)
    assert translate(run, out, tmp_path / "in", extra=("--skip-existing",)) == 0
    assert "2 inputs already translated" in capsys.readouterr().out
    assert len(calls[-1]) == 2 and snapshot(out).items() >= first.items()  # the rest only; the first kept
    assert sorted(snapshot(out)) == ["img_000-2.png", "img_000.png", "img_001.png", "img_002.png"]
    assert translate(run, out, tmp_path / "in", extra=("--skip-existing", "--overwrite")) == 2
    assert "contradict" in one_line_error(capsys)
    calls.clear()  # interrupted with --overwrite: the hint says to swap the flag, not to add one
    assert translate(run, tmp_path / "out2", tmp_path / "in", extra=("--overwrite",)) == 130
    err = capsys.readouterr().err
    assert "--skip-existing instead of --overwrite" in err
    # ... and that the older files --overwrite had not replaced yet would be kept as done (it said nothing of them)
    assert "translates the rest, but keeps the older outputs this run had not replaced yet" in err


def test_a_glob_over_its_own_out_folder_is_finished_without_translating_its_outputs(run, tmp_path, capsys):
    """`translate 'photos/**/*' --out photos/out`: before, the glob matched the run's own lock file
    (`photos/out/.lock`, named as an unreadable image, exit 1), and run again with --skip-existing it matched
    the outputs too and translated them again, as img_000-2.png beside img_000.png."""
    photos = tmp_path / "photos"
    make_images(photos, 2, seed=3)
    make_images(photos / "sub", 1, seed=4, size=(24, 16))
    out = photos / "out"
    assert translate(run, out, photos / "**" / "*") == 0
    assert ".lock" not in capsys.readouterr().err
    names = ["img_000-2.png", "img_000.png", "img_001.png"]  # sub/img_000.png is the second img_000
    assert sorted(snapshot(out)) == names
    (out / "img_001.png").unlink()  # as if interrupted
    assert translate(run, out, photos / "**" / "*", extra=("--skip-existing",)) == 0
    captured = capsys.readouterr()
    assert "left out 2 files the patterns match inside --out" in captured.err
    assert "2 inputs already translated" in captured.out and sorted(snapshot(out)) == names


def test_out_naming_a_file_is_one_line(run, tmp_path, capsys):
    make_images(tmp_path / "in", 1, seed=3)
    (tmp_path / "out.png").write_bytes(b"x")
    assert translate(run, tmp_path / "out.png", tmp_path / "in") == 2
    assert "is a file; give a folder" in one_line_error(capsys)
    assert (tmp_path / "out.png").read_bytes() == b"x"


def test_out_named_as_a_file_not_there_is_refused_not_made_a_folder(run, tmp_path, capsys):
    """`--out result.png photo.png` made a folder named result.png holding result.png/photo.png, without a word."""
    make_images(tmp_path / "in", 1, seed=3)
    assert translate(run, tmp_path / "result.png", tmp_path / "in") == 2
    assert one_line_error(capsys) == (
        f"error: --out {tmp_path / 'result.png'} names a .png file, but --out is the folder the translations are "
        f"written into, each named as its input; give a folder, e.g. --out {tmp_path / 'result'}\n"
    )
    assert not (tmp_path / "result.png").exists()
    (tmp_path / "kept.png").mkdir()  # a folder of that name that is there is a folder
    assert translate(run, tmp_path / "kept.png", tmp_path / "in") == 0


def test_translate_files_api_refuses_alike(run, tmp_path):
    from cyclegan.loading import load_generator
    from cyclegan.translation import translate_files

    make_images(tmp_path / "in", 1, seed=3)
    net = load_generator(run, "AtoB")
    assert translate_files(net, [str(tmp_path / "in")], tmp_path / "out", progress=False)[0]
    with pytest.raises(CycleGANError, match="already exists"):
        translate_files(net, [str(tmp_path / "in")], tmp_path / "out", progress=False)
    with pytest.raises(CycleGANError, match="is the input folder"):
        translate_files(net, [str(tmp_path / "in")], tmp_path / "in", progress=False, overwrite=True)


# --- no overwrite: the other commands that write ------------------------------------------------------------


def test_stylize_refuses_an_existing_output_and_an_input(tmp_path, capsys):
    content, style = (make_images(tmp_path / n, 1, seed=i)[0] for i, n in enumerate(("c", "s")))
    out = tmp_path / "x.png"
    out.write_bytes(b"mine")
    args = [
        "stylize",
        "--content",
        str(content),
        "--style",
        str(style),
        "--size",
        "16",
        "--steps",
        "1",
        "--backbone",
        "vgg19",
        "--weights",
        str(tmp_path / "missing.pth"),
        "--no-progress",
    ]
    assert main([*args, "--out", str(out)]) == 2  # refused before the (missing) weights are looked for
    assert "already exists" in one_line_error(capsys) and out.read_bytes() == b"mine"
    before = content.read_bytes()
    assert main([*args, "--out", str(content), "--overwrite"]) == 2
    assert "would replace the input" in one_line_error(capsys) and content.read_bytes() == before


def test_compare_refuses_an_existing_output_and_an_input_folder(tmp_path, capsys):
    content = make_images(tmp_path / "content", 2, seed=1)
    style = tmp_path / "style"
    make_images(style, 2, seed=2)
    out = tmp_path / "cmp"
    (out / "images").mkdir(parents=True)
    (out / "images" / "img_001_gatys.png").write_bytes(b"mine")
    args = [
        "compare",
        "--checkpoint",
        str(_no_model(tmp_path)),
        "--direction",
        "AtoB",
        "--content",
        *map(str, content),
        "--style",
        str(style),
        "--no-progress",
    ]
    assert main([*args, "--out", str(out)]) == 2
    assert "img_001_gatys.png already exists" in one_line_error(capsys)
    assert snapshot(out) == {"images/img_001_gatys.png": b"mine"}
    before = snapshot(style)
    assert main([*args, "--out", str(style / "cmp"), "--overwrite"]) == 2  # into the reference folder
    assert "inside the input folder" in one_line_error(capsys) and snapshot(style) == before
    # an --out named as an image (the grid the user expected): it was made a folder of that name, as translate's was
    assert main([*args, "--out", str(tmp_path / "grid.png")]) == 2
    assert one_line_error(capsys) == (
        f"error: --out {tmp_path / 'grid.png'} names a .png file, but --out is the folder the comparison is written "
        f"into (grid.png, report.html, report.json, images/); give a folder, e.g. --out {tmp_path / 'grid'}\n"
    )
    assert not (tmp_path / "grid.png").exists()


def test_compare_refuses_an_out_among_input_images_named_as_files_or_by_a_glob(dataset, tmp_path, capsys):
    """`compare --content DATA/testA/x.png --out DATA/testA` wrote its report and images into the dataset (a
    hostile probe): only folders named as folders were input folders. A glob's folder counts as named; the
    folder of an image named alone counts as --out itself only (`--content photo.jpg --out cmp` is fine)."""
    test_a = dataset / "testA"
    image = sorted(test_a.iterdir())[0]
    missing = str(_no_model(tmp_path))  # a refusal that comes first never reaches the checkpoint
    args = ["compare", "--checkpoint", missing, "--direction", "AtoB", "--no-progress"]
    before = snapshot(dataset)
    for content, style, out in [
        (image, dataset / "trainB", test_a),  # the probe's case: a content file's own folder
        (dataset / "trainB", image, test_a),  # a style reference's
        (test_a / "*.png", dataset / "trainB", test_a / "cmp"),  # inside the folder a glob searches
    ]:
        assert main([*args, "--content", str(content), "--style", str(style), "--out", str(out), "--overwrite"]) == 2
        err = one_line_error(capsys)
        assert f"option '--out': {out} is" in err and f"input folder {test_a}" in err, err
    assert snapshot(dataset) == before and not (test_a / "cmp").exists()
    assert main([*args, "--content", str(image), "--style", str(image), "--out", str(test_a / "cmp")]) == 2
    assert "no-such-run" in one_line_error(capsys)  # beside an image named alone: past the check


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated")
def test_export_refuses_an_existing_file_and_its_checkpoint(run, tmp_path, capsys):
    out = tmp_path / "g.pt"
    out.write_bytes(b"mine")
    args = ["export", "--format", "torchscript", "--no-check"]
    assert main([*args, "--checkpoint", str(_no_model(tmp_path)), "--out", str(out)]) == 2
    assert "already exists" in one_line_error(capsys) and out.read_bytes() == b"mine"
    ckpt = run / "checkpoint.pt"
    before = ckpt.read_bytes()
    assert main([*args, "--checkpoint", str(ckpt), "--out", str(ckpt), "--overwrite"]) == 2
    assert "would replace the input" in one_line_error(capsys) and ckpt.read_bytes() == before
    assert main([*args, "--checkpoint", str(run), "--out", str(out), "--overwrite"]) == 0
    assert torch.jit.load(str(out))(torch.zeros(1, 3, 16, 16)).shape == (1, 3, 16, 16)


def test_evaluate_refuses_existing_outputs_and_images_into_the_split(run, dataset, tmp_path, capsys):
    args = ["evaluate", "--checkpoint", str(_no_model(tmp_path)), "--data", str(dataset), "--no-progress"]
    report = tmp_path / "eval.json"
    report.write_text("{}")
    assert main([*args, "--out", str(report)]) == 2
    assert "eval.json already exists" in one_line_error(capsys) and report.read_text() == "{}"
    # a report that could not be written (its folder is a file) is refused before the work, not after it
    assert main([*args, "--out", str(report / "e.json"), "--overwrite"]) == 2
    assert "eval.json is a file, not a folder" in one_line_error(capsys)
    saved = tmp_path / "imgs" / "AtoB"
    saved.mkdir(parents=True)
    (saved / "img_002.png").write_bytes(b"mine")
    # the images a checkpoint would save depend on the directions it is scored in: read from a real one first
    args[2] = str(run)
    assert main([*args, "--save-images", str(tmp_path / "imgs")]) == 2
    assert "img_002.png already exists" in one_line_error(capsys)
    before = snapshot(dataset)
    assert main([*args, "--save-images", str(dataset / "testA" / "translated"), "--overwrite"]) == 2
    assert "inside the input folder" in one_line_error(capsys) and snapshot(dataset) == before


def test_evaluate_save_images_named_as_an_image_is_refused_not_made_a_folder(run, dataset, tmp_path, capsys):
    """`evaluate --save-images grid.png` made a folder named grid.png holding AtoB/ and the grids, without a word
    (`translate --out x.png` and `compare --out grid.png` were refused for that)."""
    args = ["evaluate", "--checkpoint", str(run), "--data", str(dataset), "--no-progress"]
    assert main([*args, "--save-images", str(tmp_path / "grid.png")]) == 2
    assert one_line_error(capsys) == (
        f"error: --save-images {tmp_path / 'grid.png'} names a .png file, but --save-images is the folder the "
        f"translations and sample grids are written into; give a folder, e.g. --save-images {tmp_path / 'grid'}\n"
    )
    assert not (tmp_path / "grid.png").exists()


def test_synthetic_out_named_as_an_image_is_refused_not_made_a_folder(tmp_path, capsys):
    """`datasets synthetic --out d.png` rendered a dataset into a folder named d.png, without a word."""
    args = ["datasets", "synthetic", "--out", str(tmp_path / "d.png"), "--size", "16", "--count", "1"]
    assert main([*args, "--test-count", "1", "--no-progress"]) == 2
    assert one_line_error(capsys) == (
        f"error: --out {tmp_path / 'd.png'} names a .png file, but --out is the folder the dataset's folders are "
        f"written into; give a folder, e.g. --out {tmp_path / 'd'}\n"
    )
    assert not (tmp_path / "d.png").exists()


def test_a_download_root_named_as_an_image_is_refused_not_made_a_folder(tmp_path, capsys):
    """`datasets download --root x.png` made a folder named x.png and downloaded into it, without a word."""
    args = ["datasets", "download", "horse2zebra", "--root", str(tmp_path / "x.png")]
    assert main([*args, "--base-url", "http://127.0.0.1:9", "--no-progress"]) == 2
    assert one_line_error(capsys) == (
        f"error: --root {tmp_path / 'x.png'} names a .png file, but --root is the folder horse2zebra/ is downloaded "
        f"into; give a folder, e.g. --root {tmp_path / 'x'}\n"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["horse2zebra.zip", "horse2zebra.tar.gz"])
def test_a_download_root_named_as_an_archive_is_refused_unless_it_is_a_folder(tmp_path, capsys, name):
    """`datasets download --root horse2zebra.zip` (the archive's name, for the folder to extract into) made a folder
    named horse2zebra.zip, without a word; a folder of that name already there is still taken."""
    args = ["datasets", "download", "horse2zebra", "--root", str(tmp_path / name), "--base-url", "http://127.0.0.1:9"]
    assert main([*args, "--no-progress"]) == 2
    suffix = name.removeprefix("horse2zebra")
    assert one_line_error(capsys) == (
        f"error: --root {tmp_path / name} names a {suffix} file, but --root is the folder horse2zebra/ is downloaded "
        f"into; give a folder, e.g. --root {tmp_path / 'horse2zebra'}\n"
    )
    assert list(tmp_path.iterdir()) == []
    (tmp_path / name).mkdir()
    assert main([*args, "--no-progress", "--max-minutes", "0.05"]) != 0
    assert "names a" not in capsys.readouterr().err


def test_an_output_folder_named_as_a_file_with_a_trailing_slash_is_the_folder_asked_for(tmp_path, capsys):
    """`--out d.png/`: the slash says a folder, but Path dropped it before the check, which refused the name as a
    .png file's ("give a folder", as the user had). Taken as the folder written."""
    args = ["datasets", "synthetic", "--out", f"{tmp_path / 'd.png'}/", "--size", "16", "--count", "1"]
    assert main([*args, "--test-count", "1", "--no-progress"]) == 0, capsys.readouterr().err
    assert (tmp_path / "d.png" / "trainA").is_dir()
    args = [
        "datasets",
        "download",
        "horse2zebra",
        "--root",
        f"{tmp_path / 'h.zip'}/",
        "--base-url",
        "http://127.0.0.1:9",
    ]
    assert main([*args, "--no-progress", "--max-minutes", "0.05"]) != 0
    assert "cannot reach http://127.0.0.1:9/horse2zebra.zip" in capsys.readouterr().err


def test_compare_and_evaluate_stop_on_a_busy_output_folder_before_work(dataset, tmp_path, capsys):
    # As translate: one run writes into a folder at a time, so two never interleave their images there. Before,
    # two compares (or evaluates with --save-images) into one folder both passed the check for existing outputs.
    from cyclegan.files import FolderLock

    content = make_images(tmp_path / "content", 1, seed=1)
    make_images(tmp_path / "style", 1, seed=2)
    missing = str(_no_model(tmp_path))  # a refusal that comes first never reaches the checkpoint
    runs = {
        "--out": ["compare", "--checkpoint", missing, "--direction", "AtoB", "--content", str(content[0]),
                  "--style", str(tmp_path / "style"), "--no-progress"],
        "--save-images": ["evaluate", "--checkpoint", missing, "--data", str(dataset), "--no-progress"],
    }  # fmt: skip
    for option, args in runs.items():
        folder = tmp_path / f"busy{option}"
        held = FolderLock(folder)
        assert held.acquire()
        try:  # a lock is per open file: this process's own second lock is refused as another process's would be
            assert main([*args, option, str(folder)]) == 2
            err = one_line_error(capsys)
            assert f"option '{option}': {folder} is in use by another run writing there (PID {os.getpid()})" in err
            assert [p.name for p in folder.iterdir()] == [".lock"]  # ours: nothing written
        finally:
            held.release()


def test_demo_overwrite_replaces_only_a_demo_run(tmp_path, capsys):
    from cyclegan.demo import remove_demo_run

    other = tmp_path / "other"  # a real training run's folder: --overwrite must not touch it
    other.mkdir()
    (other / "checkpoint.pt").write_bytes(b"weights")
    (other / "config.json").write_text(json.dumps({"data": {"data": "datasets/horse2zebra"}}))
    assert main(["demo", "--out", str(other), "--overwrite"]) == 2
    assert "not a demo's" in one_line_error(capsys) and (other / "checkpoint.pt").read_bytes() == b"weights"

    demo = tmp_path / "demo"  # a previous demo: its files go, the user's own file stays
    (demo / "data" / "trainA").mkdir(parents=True)
    (demo / "checkpoint.pt").write_bytes(b"old")
    (demo / "config.json").write_text(json.dumps({"data": {"data": str(demo / "data")}}))
    (demo / "report.json").write_text("{}")
    (demo / "notes.txt").write_text("mine")
    remove_demo_run(demo)
    assert sorted(p.name for p in demo.iterdir()) == ["notes.txt"]


@pytest.mark.slow
def test_demo_overwrite_runs_again_in_its_folder(tmp_path, capsys):
    from cyclegan.demo import DemoOptions, DemoSettings, run_demo

    settings = DemoSettings(
        train_count=4, test_count=2, grid_rows=2, options={"size": 32, "batch_size": 2, "steps": 2, "ngf": 8, "ndf": 8}
    )
    opts = DemoOptions(str(tmp_path / "demo"), minutes=None, device="cpu", progress=False)
    run_demo(opts, settings=settings)
    (tmp_path / "demo" / "notes.txt").write_text("mine")
    with pytest.raises(CycleGANError, match="already holds a demo run: pass --overwrite"):
        run_demo(opts, settings=settings)
    report = run_demo(dataclasses.replace(opts, overwrite=True), settings=settings)
    assert f"replacing the previous demo run in {tmp_path / 'demo'}" in capsys.readouterr().out
    assert json.loads((tmp_path / "demo" / "report.json").read_text())["ground_truth"] == report["ground_truth"]
    assert (tmp_path / "demo" / "notes.txt").read_text() == "mine"


# --- per-image isolation ------------------------------------------------------------------------------------


def huge_png(path: Path) -> Path:
    """A PNG of a few KB that declares 13000 x 13000 pixels (169 MP, under PIL's own bomb limit)."""
    Image.new("1", (13000, 13000)).save(path)
    assert path.stat().st_size < 200_000
    return path


def test_an_image_over_the_decode_cap_is_named_and_the_others_written(run, tmp_path, capsys):
    src = tmp_path / "in"
    make_images(src, 2, seed=3)
    huge_png(src / "huge.png")
    out = tmp_path / "out"
    assert translate(run, out, src) == 1
    err = capsys.readouterr().err
    assert "huge.png" in err and "13000x13000" in err and "decode cap" in err and "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == ["img_000.png", "img_001.png"]
    # --max-pixels sets the cap: 48 x 40 = 1920 pixels pass at 1920 and are refused at 1919.
    assert translate(run, tmp_path / "o2", src / "img_000.png", extra=("--max-pixels", "1920")) == 0
    assert translate(run, tmp_path / "o3", src / "img_000.png", extra=("--max-pixels", "1919")) == 1
    assert "img_000.png" in capsys.readouterr().err and not list((tmp_path / "o3").iterdir())


def test_the_cap_is_checked_before_decoding(tmp_path, monkeypatch):
    from PIL import ImageFile

    from cyclegan.data.io import check_images, read_image

    path = huge_png(tmp_path / "huge.png")
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: pytest.fail("decoded"))
    with pytest.raises(CycleGANError, match="decode cap"):
        read_image(path)
    good, bad = check_images([path], skip_bad=True, desc="x", progress=False)
    assert good == [] and "decode cap" in bad[0]
    # nor when translate orders its inputs by size (reading a PNG's EXIF decoded it whole: 0.5 GB here)
    from cyclegan.translation import _batches

    errors: list[str] = []
    assert list(_batches([path], size=None, batch_size=1, errors=errors)) == [] and "decode cap" in errors[0]


def test_an_upscale_by_size_is_held_to_the_cap_before_it_is_made(run, tmp_path, capsys):
    """`--size 100000` on a small photo made a 100000 x 83333 image (the process killed at 23 GB)."""
    src = tmp_path / "in"
    make_images(src, 1, seed=3)  # 48 x 40
    assert translate(run, tmp_path / "o1", src, extra=("--size", "100000")) == 1
    err = capsys.readouterr().err
    assert "--size 100000: 100000x83333 pixels" in err and "--max-pixels" in err and "Traceback" not in err
    assert not list((tmp_path / "o1").iterdir())
    # the cap counts the resized pixels: 96 x 80 = 7680 pass at 7680 and are refused at 7679
    assert translate(run, tmp_path / "o2", src, extra=("--size", "96", "--max-pixels", "7680")) == 0
    assert translate(run, tmp_path / "o3", src, extra=("--size", "96", "--max-pixels", "7679")) == 1


def test_out_of_memory_on_one_image_skips_only_that_image(run, tmp_path, monkeypatch, capsys):
    import cyclegan.translation
    from cyclegan.loading import load_generator

    net = load_generator(run, "AtoB")
    forward = net.forward
    calls: list[int] = []

    def failing_forward(x):  # (B, 3, H, W), padded: a batch runs out of memory, and so does one size alone
        calls.append(x.shape[0])
        if x.shape[0] > 1 or x.shape[-2:] == (24, 32):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return forward(x)

    monkeypatch.setattr(net, "forward", failing_forward)
    monkeypatch.setattr(cyclegan.translation, "load_generator", lambda *a, **k: net)
    src = tmp_path / "in"
    make_images(src, 3, seed=3)  # 48 x 40: one batch of 3, which fails, then one at a time
    make_images(src / "big", 1, seed=4, size=(30, 22))[0].rename(src / "big" / "big.png")  # padded to 32 x 24
    out = tmp_path / "out"
    assert translate(run, out, src, extra=("--batch-size", "4")) == 1
    err = capsys.readouterr().err
    assert "big/big.png: out of memory" in err and "1 input could not be translated" in err
    assert "Traceback" not in err and calls.count(3) == 1
    assert sorted(p.name for p in out.iterdir()) == ["img_000.png", "img_001.png", "img_002.png"]


def test_evaluate_skips_a_broken_image_and_its_pair(tmp_path, capsys):
    ckpt, data = tiny_evaluation(tmp_path, 4)
    (data / "testB" / "scene_01.png").write_bytes(b"\x89PNG broken")
    out = tmp_path / "eval.json"
    rc = main(evaluate_args(ckpt, data, "--out", str(out), "--kid-subsets", "5"))
    err = capsys.readouterr().err
    assert rc == 1 and "Traceback" not in err
    assert "testB/scene_01.png" in err and "testA/scene_01.png: left out because its pair" in err
    report = json.loads(out.read_text())
    assert len(report["skipped"]) == 2
    for row in report["directions"].values():
        assert row["n_source"] == 3 and row["n_pairs"] == 3  # the other pairs keep their truth figures


def test_compare_skips_an_unreadable_content_image(run, tmp_path, capsys):
    content = make_images(tmp_path / "content", 2, seed=1, size=(24, 24))
    (tmp_path / "content" / "broken.png").write_bytes(b"\x89PNG broken")
    style = make_images(tmp_path / "style", 1, seed=2, size=(24, 24))
    out = tmp_path / "cmp"
    rc = main(
        [
            "compare",
            "--checkpoint",
            str(run),
            "--direction",
            "AtoB",
            "--content",
            str(tmp_path / "content"),
            "--style",
            str(style[0]),
            "--out",
            str(out),
            "--size",
            "16",
            "--steps",
            "1",
            "--backbone",
            "lite0",
            "--no-progress",
        ]
    )
    err = capsys.readouterr().err
    assert rc == 1 and "broken.png" in err and "1 image skipped" in err and "Traceback" not in err
    report = json.loads((out / "report.json").read_text())
    assert [r["content"] for r in report["rows"]] == list(map(str, content)) and len(report["skipped"]) == 1
    assert "could not be used" in (out / "report.html").read_text()


def test_a_failed_compare_removes_only_what_it_made(tmp_path, capsys, monkeypatch):
    """A compare that failed left an empty OUT/images behind (a hostile probe): now what it made goes, before
    and after it wrote images, and what it found stays (a file its --overwrite replaced included)."""
    ckpt = save_tiny_checkpoint(tmp_path / "tiny.pt")
    (tmp_path / "bad.png").write_bytes(b"not an image")
    style = make_images(tmp_path / "style", 1, seed=2, size=(24, 24))
    args = ["compare", "--checkpoint", str(ckpt), "--direction", "AtoB", "--style", str(style[0])]
    args += ["--size", "16", "--steps", "1", "--backbone", "lite0", "--no-progress"]
    new = tmp_path / "new" / "cmp"
    assert main([*args, "--content", str(tmp_path / "bad.png"), "--out", str(new)]) == 2
    assert "no content image could be compared" in one_line_error(capsys) and not (tmp_path / "new").exists()
    mine = tmp_path / "mine"
    (mine / "images").mkdir(parents=True)
    (mine / "notes.txt").write_text("mine")
    (mine / "images" / "img_000_input.png").write_bytes(b"mine")
    assert main([*args, "--content", str(tmp_path / "bad.png"), "--out", str(mine)]) == 2
    one_line_error(capsys)
    assert set(snapshot(mine)) == {"notes.txt", "images/img_000_input.png"}

    def fail(*_args, **_kwargs):
        raise CycleGANError("the grid could not be written")

    monkeypatch.setattr("cyclegan.compare.save_comparison_grid", fail)  # after every image was written
    content = make_images(tmp_path / "content", 2, seed=1, size=(24, 24))
    assert main([*args, "--content", *map(str, content), "--out", str(mine), "--overwrite"]) == 2
    assert "the grid could not be written" in one_line_error(capsys)
    assert set(snapshot(mine)) == {"notes.txt", "images/img_000_input.png"}  # replaced, so left: it was there


# --- symlinked folders --------------------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks here")
def test_symlinked_sub_folders_are_followed_and_loops_end(run, tmp_path):
    from cyclegan.data.io import list_images

    src, elsewhere = tmp_path / "in", tmp_path / "elsewhere"
    make_images(src, 1, seed=3)
    make_images(elsewhere, 2, seed=4, size=(24, 16))
    (elsewhere / "img_000.png").rename(elsewhere / "far.png")
    (src / "linked").symlink_to(elsewhere, target_is_directory=True)
    (src / "linked-again").symlink_to(elsewhere, target_is_directory=True)  # the same folder: listed once
    (elsewhere / "loop").symlink_to(src, target_is_directory=True)  # back to an ancestor
    (src / "self").symlink_to(".", target_is_directory=True)
    files = list_images(src)
    assert [p.name for p in files] == ["img_000.png", "far.png", "img_001.png"]
    for i, inputs in enumerate([src, src / "**" / "*.png"]):  # a folder, and a recursive glob
        out = tmp_path / f"out{i}"
        assert translate(run, out, inputs) == 0
        assert sorted(p.name for p in out.iterdir()) == ["far.png", "img_000.png", "img_001.png"]


# --- the ONNX export pads as translate does -----------------------------------------------------------------


@pytest.mark.parametrize("hw", [(8, 8), (8, 13)])
def test_onnx_export_of_a_seed_generator_equals_translate_from_8_px(tmp_path, hw):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from cyclegan.config import resolve
    from cyclegan.export import TOLERANCE, export_generator
    from cyclegan.inference import translate_tensor
    from cyclegan.models import build_generator

    torch.manual_seed(0)
    G = build_generator(resolve({"preset": "seed", "ngf": 8, "n_blocks": 1}).model).eval()
    export_generator(G, tmp_path / "seed.onnx", format="onnx")
    session = ort.InferenceSession(str(tmp_path / "seed.onnx"), providers=["CPUExecutionProvider"])
    x = torch.rand(2, 3, *hw, generator=torch.Generator().manual_seed(1)) * 2 - 1
    y = session.run(None, {"input": x.numpy()})[0]
    assert y.shape == (2, 3, *hw)
    assert np.abs(y - translate_tensor(G, x).numpy()).max() < TOLERANCE


def test_a_clip_and_an_image_of_one_stem_do_not_clash_and_the_warning_names_the_real_output(tmp_path, capsys):
    """anim.gif (a clip: kept as .gif) and anim.png / anim.jpg (images: .png): only the two images clash, and the
    warning names the file actually written (it said anim-2.png for a .webp clip written as anim-2.webp)."""
    from cyclegan.translation import output_names

    files = [tmp_path / n for n in ("anim.gif", "anim.png", "anim.jpg")]
    frames = [Image.new("RGB", (8, 8), c) for c in ("red", "blue")]  # a GIF is a clip when it is animated
    frames[0].save(files[0], save_all=True, append_images=frames[1:])
    names = output_names(files, tmp_path / "out", "png")
    assert [names[f].name for f in files] == ["anim.gif", "anim.png", "anim-2.png"]
    err = capsys.readouterr().err
    assert err.count("will be written as") == 1 and "anim.jpg will be written as anim-2.png (anim.png is taken)" in err


@pytest.mark.parametrize(
    "command",
    [
        ["demo", "--steps", "2", "--out"],
        ["datasets", "synthetic", "--size", "16", "--count", "1", "--test-count", "1", "--no-progress", "--out"],
        ["datasets", "download", "horse2zebra", "--base-url", "http://127.0.0.1:9", "--no-progress", "--root"],
    ],
    ids=["demo", "synthetic", "download"],
)
def test_an_output_folder_that_is_a_file_or_under_one_is_refused_in_the_words_of_every_command(
    tmp_path, capsys, command
):
    """`files.check_not_a_file`'s words from every command that writes a folder: demo and `datasets synthetic` said
    their own "is a file", and `--out notes/run` under a file "cannot create or lock notes/run (Not a directory)",
    download's `--root` its own "is a file, not a folder" and "cannot create it (Not a directory)"."""
    option = command[-1]
    notes = tmp_path / "notes"
    notes.write_text("mine")
    assert main([*command, str(notes)]) == 2
    assert one_line_error(capsys) == f"error: option '{option}': {notes} is a file; give a folder\n"
    assert main([*command, str(notes / "run")]) == 2
    assert (
        one_line_error(capsys)
        == f"error: option '{option}': cannot write {notes / 'run'}: {notes} is a file, not a folder\n"
    )
    if os.path.exists("/dev/null"):  # there, not a file: "is a file" was wrong
        assert main([*command, "/dev/null"]) == 2
        assert one_line_error(capsys) == f"error: option '{option}': /dev/null is not a folder; give a folder\n"
    assert notes.read_text() == "mine" and sorted(os.listdir(tmp_path)) == ["notes"]


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="a folder no file can be made in: Linux's /proc")
@pytest.mark.parametrize(
    "command",
    [
        ["train", "--steps", "1", "--no-progress", "--data", "DATA", "--out"],
        ["demo", "--steps", "2", "--out"],
        ["datasets", "synthetic", "--size", "16", "--count", "1", "--test-count", "1", "--no-progress", "--out"],
        ["datasets", "download", "horse2zebra", "--base-url", "http://127.0.0.1:9", "--no-progress", "--root"],
    ],
    ids=["train", "demo", "synthetic", "download"],
)
def test_an_output_folder_that_cannot_be_made_is_refused_in_the_words_of_every_command(tmp_path, capsys, command):
    """As root (whose rights every folder's mode grants), `train --out /proc/self/fd/9/run` with fd 9 not open said
    "cannot write the run folder ...", naming no option, demo and `datasets synthetic` "cannot create or lock ...",
    download "cannot create it": now `check_outputs`' words for a file there, naming the option, before any work."""
    make_images(tmp_path / "data" / "trainA", 2, seed=1)
    make_images(tmp_path / "data" / "trainB", 2, seed=2)
    command = [str(tmp_path / "data") if a == "DATA" else a for a in command]
    closed = next(n for n in range(900, 1000) if not os.path.lexists(f"/proc/self/fd/{n}"))
    out = f"/proc/self/fd/{closed}/run"
    assert main([*command, out]) == 2
    assert one_line_error(capsys) == (
        f"error: option '{command[-1]}': cannot write {out}: no file can be made in /proc/self/fd (No such file or "
        "directory)\n"
    )
    assert sorted(os.listdir(tmp_path)) == ["data"]


@pytest.mark.skipif(not os.path.isdir("/sys") or not os.access("/sys", os.W_OK), reason="needs root and Linux's /sys")
def test_a_folder_that_refuses_a_new_file_is_probed_once_not_as_windows_tempfile_retries(monkeypatch, tmp_path):
    """The outputs' check made its probe file with `tempfile`, which on Windows takes a refused name (its ACL's
    PermissionError, which `os.access` does not foresee there) for one already taken and tries another, up to
    TMP_MAX (2**31 there) times: `--out` into a folder the user may not write to hung before the work. Faked here:
    /sys refuses root's new file with that PermissionError, and tempfile is shown Windows' os.name and 50 names.
    Now one attempt, refused in one line with the system's reason; a folder that takes files keeps no probe, of no
    name (Linux's O_TMPFILE) or named."""
    import tempfile
    import types

    from cyclegan.files import check_outputs

    tried: list[str] = []
    real_open = os.open

    def counted_open(path, *args, **kwargs):
        if str(path).startswith("/sys/"):
            tried.append(str(path))
        return real_open(path, *args, **kwargs)

    windows_os = types.SimpleNamespace(**{k: getattr(os, k) for k in dir(os) if not k.startswith("__")})
    windows_os.name, windows_os.open = "nt", counted_open
    monkeypatch.setattr(tempfile, "_os", windows_os)
    monkeypatch.setattr(tempfile, "TMP_MAX", 50)
    monkeypatch.setattr(os, "open", counted_open)
    with pytest.raises(CycleGANError) as e:
        check_outputs([Path("/sys/x.png")], overwrite=False)
    assert str(e.value) == "option '--out': cannot write /sys/x.png: no file can be made in /sys (Permission denied)"
    assert len(tried) == 1, tried
    check_outputs([tmp_path / "x.png"], overwrite=False)
    monkeypatch.delattr(os, "O_TMPFILE", raising=False)  # as on macOS and Windows: a named probe
    check_outputs([tmp_path / "x.png"], overwrite=False)
    assert list(tmp_path.iterdir()) == []


def test_an_append_only_folder_keeps_no_probe_of_the_outputs_check(tmp_path):
    """A folder that takes new files but not their removal (`chattr +a`, as root): a named probe file made there
    could not be removed, and stayed among the user's outputs. Linux's probe has no name (O_TMPFILE)."""
    import shutil
    import subprocess

    from cyclegan.files import check_outputs

    folder = tmp_path / "append_only"
    folder.mkdir()
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+a", str(folder)], capture_output=True).returncode:
        pytest.skip("needs chattr +a (root, and a file system with attributes: ext4, xfs, btrfs)")
    try:
        check_outputs([folder / "x.png"], overwrite=False)
        assert list(folder.iterdir()) == []
    finally:
        subprocess.run(["chattr", "-a", str(folder)], check=True)
