import json
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cyclegan.cli import main
from cyclegan.data.synthetic import SyntheticOptions, render, scene_for, write_dataset
from cyclegan.demo import DemoOptions, DemoSettings, few_steps_note, run_demo, score
from cyclegan.report import format_demo

# the smallest demo that runs every phase: one training step on two scenes per domain, one test scene
ONE_STEP = DemoSettings(
    train_count=2, test_count=1, grid_rows=1, options={"size": 32, "steps": 1, "ngf": 8, "ndf": 8, "eval_every": 0}
)


def one_step_demo(monkeypatch, run: Path) -> list[str]:
    """`cyclegan demo --out run` as ONE_STEP (the demo's settings for this test); returns its command line."""
    import cyclegan.demo as demo

    monkeypatch.setattr(demo.run_demo, "__kwdefaults__", {"settings": ONE_STEP})
    return ["demo", "--out", str(run), "--device", "cpu", "--no-progress"]


def test_the_demos_own_step_cap_is_named_as_the_demos_not_as_a_flag(tmp_path, capsys, monkeypatch):
    """On a fast machine the demo's minutes fit more than its 5000 steps, and training said "(capped by
    --steps)", a flag the demo's user never gave: the cap is the demo's, said so (here a tiny one)."""
    import dataclasses

    import cyclegan.demo as demo

    capped = dataclasses.replace(ONE_STEP, options={**ONE_STEP.options, "steps": 12})  # the first fit: step 10
    monkeypatch.setattr(demo.run_demo, "__kwdefaults__", {"settings": capped})
    assert main(["demo", "--out", str(tmp_path / "demo"), "--device", "cpu", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "12 steps (capped by the demo's 12-step cap)" in out and "--steps" not in out


def test_renderer_is_deterministic_and_styles_differ_by_region():
    a = render(scene_for(7, 3), "summer", 48)
    assert np.array_equal(a, render(scene_for(7, 3), "summer", 48))
    assert not np.array_equal(a, render(scene_for(7, 4), "summer", 48))
    w = render(scene_for(7, 3), "winter", 48).astype(int)
    diff = np.abs(w - a.astype(int)).sum(-1)
    # Not a global colour transform: the bottom (ground) changes far more than the top of the sky.
    assert diff[-4:].mean() > 2 * diff[:4].mean()
    # Green summer ground becomes near-white snow.
    assert a[-2, :, 1].mean() > a[-2, :, 0].mean() + 30 and w[-2].mean() > 200


def test_dataset_layout_and_aligned_test_pairs(tmp_path):
    root = write_dataset(SyntheticOptions(str(tmp_path / "d"), size=32, count=5, test_count=3, seed=1, progress=False))
    names = {
        split: sorted(p.name for p in (root / split).iterdir()) for split in ("trainA", "trainB", "testA", "testB")
    }
    assert len(names["trainA"]) == len(names["trainB"]) == 5 and names["testA"] == names["testB"]
    assert set(names["trainA"]).isdisjoint(names["trainB"])  # unpaired: different scenes
    for name in names["testA"]:
        index = 2 * 5 + int(name[:-4])
        assert np.array_equal(np.asarray(Image.open(root / "testA" / name)), render(scene_for(1, index), "summer", 32))
        assert np.array_equal(np.asarray(Image.open(root / "testB" / name)), render(scene_for(1, index), "winter", 32))


def test_scores_on_known_inputs():
    truth = torch.zeros(2, 3, 16, 16)
    s = score(truth.clone(), truth + 0.5, truth)
    assert s["psnr"] == 100.0 and s["ssim"] == pytest.approx(1.0)  # identical: the 100 dB cap
    # A constant error of 0.5 in [-1, 1] is 0.25 on [0, 1]: PSNR = -10 log10(0.0625) = 12.04 dB.
    assert s["psnr_identity"] == pytest.approx(-10 * math.log10(0.25**2), abs=1e-3)
    gen = torch.Generator().manual_seed(0)
    noisy = truth + torch.randn(2, 3, 16, 16, generator=gen) * 0.02  # sigma 0.01 on [0, 1]
    assert score(noisy, truth, truth)["psnr"] == pytest.approx(40.0, abs=0.3)


def test_fast_demo_end_to_end(tmp_path, capsys, monkeypatch):
    import cyclegan.train.scoring as scoring

    # Lite0 stands in for a pooled colour grid (seconds to load otherwise); scores at every step
    monkeypatch.setattr(
        scoring, "_lite0", lambda: torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(4), torch.nn.Flatten())
    )
    options = {"size": 32, "steps": 4, "ngf": 8, "ndf": 8, "eval_every": 1}  # the rest: the demo's preset
    settings = DemoSettings(train_count=6, test_count=3, grid_rows=2, options=options)
    report = run_demo(
        DemoOptions(str(tmp_path / "demo"), minutes=None, device="cpu", precision="fp32", progress=False),
        settings=settings,
    )
    saved = json.loads((tmp_path / "demo" / "report.json").read_text())
    assert saved["ground_truth"] == report["ground_truth"]
    # The do-nothing baseline, recomputed here from the test files the demo wrote: summer vs winter truth.
    from cyclegan.data.io import read_image, to_tensor

    data = tmp_path / "demo" / "data"
    names = sorted(p.name for p in (data / "testA").iterdir())
    a, b = (torch.stack([to_tensor(read_image(data / s / n)) for n in names]) for s in ("testA", "testB"))
    baseline = score(a, a, b)  # (translated, input, truth): the input scored as its own translation
    for direction in ("AtoB", "BtoA"):
        r = saved["ground_truth"][direction]
        assert r["psnr_identity"] == pytest.approx(baseline["psnr"], abs=1e-3)
        assert r["ssim_identity"] == pytest.approx(baseline["ssim"], abs=1e-4)
        assert 0 < r["psnr"] < 100 and -1 <= r["ssim"] <= 1  # a real translation: neither identical nor NaN
        # the local colour error (issue #23's blobs): the input's recomputed here, the translation's worst scene named
        assert r["local_colour_identity"] == pytest.approx(baseline["local_colour"], abs=0.05)
        assert 0 < r["local_colour"] <= 255 and r["local_colour_at"]["scene"] in names
        assert r["local_colour_at"]["patch"] == 4  # an eighth of the 32 px scenes
        with Image.open(tmp_path / "demo" / f"grid_{direction}.png") as im:
            assert im.size == (3 * (32 + 2) + 2, 2 * (32 + 2) + 2)  # input | translated | truth, 2 rows, 2 px pad
    html = (tmp_path / "demo" / "report.html").read_text()
    assert "grid_AtoB.png" in html and "PSNR" in html
    assert "untranslated (psnr_identity" in html  # the note names the table's columns, not only report.json's keys
    at = saved["ground_truth"]["BtoA"]["local_colour_at"]
    assert f"BtoA {saved['ground_truth']['BtoA']['local_colour']:.1f} (scene {at['scene']} at x {at['x']}" in html
    assert "\nlocal colour: the worst 4x4 px patch's mean colour off the truth" in format_demo(saved)  # the terminal's
    assert saved["settings"]["steps_trained"] == 4
    # how it computed: the asked precision, this CPU's instruction set, a measured s/step (steps 3 and 4)
    ex = saved["execution"]
    assert (ex["precision"], ex["memory_format"], ex["compile"]) == ("fp32", "nchw", False)
    assert ex["instruction_set"] == torch.backends.cpu.get_cpu_capability() and ex["s_per_step"] > 0
    assert saved["config"]["train"]["precision"] == "fp32" and "fp32, NCHW, eager" in html and "on cpu (" in html
    # the scores while training: logged, in the report and its curve, their time inside the training time
    assert [r["step"] for r in saved["scores_while_training"]] == [1, 2, 3, 4]
    last = saved["scores_while_training"][-1]  # the generators the report scores, on the same scenes
    for direction in ("AtoB", "BtoA"):
        logged = last[f"eval/{direction}/local_colour"]
        assert logged == pytest.approx(saved["ground_truth"][direction]["local_colour"], abs=0.1), direction
    assert saved["verdict"]["metric"] == "psnr" and (tmp_path / "demo" / "best.pt").is_file()
    assert 0 < saved["seconds"]["evaluation"] < saved["seconds"]["train"]
    assert "Scores while training" in html and "<polyline" in html
    # to the ms in report.json, the caption said "Evaluation took 6.375 s": now to the tenth, as the training's
    from cyclegan.report.html import render_demo_html

    saved["seconds"] |= {"evaluation": 6.375, "train": 88.0}
    assert "Evaluation took 6.4 s of the 88.0 s of training." in render_demo_html(saved)
    assert "Failure warnings: none." in html  # the watcher's count, named as `train`'s verdict names it
    # the page shows the options' floats to 6 digits (the demo's 5/3 read 1.6666666666666667); report.json exact
    options = html.split("Options: <code>")[1].split("</code>")[0].replace("&quot;", '"')
    assert saved["settings"]["options"]["lambda_identity"] == 5 / 3 and '"lambda_identity": 1.66667,' in options
    assert '"lr_d": 0.0001,' in options and '"lambda_cycle": 3.0,' in options
    # the demo's own options on top of the preset reach the trained run's config
    assert saved["config"]["model"]["d_layers"] == 2 and saved["config"]["train"]["pool_size"] == 0


def test_the_score_curves_best_is_printed_as_the_reports_table_prints_it():
    """report.html's curve labelled a best PSNR of 22.04 dB "best 22" (3 significant digits) beside the other
    direction's "23.9" and the table's 22.04: its digits are the table's now."""
    from cyclegan.report.html import score_curve_svg

    records = [
        {"step": 200, "eval/AtoB/psnr": 21.3, "eval/BtoA/psnr": 20.0},
        {"step": 533, "eval/AtoB/psnr": 23.87, "eval/BtoA/psnr": 22.04},
    ]
    svg = score_curve_svg(records, "psnr")
    assert "AtoB: best 23.87 at step 533" in svg and "BtoA: best 22.04 at step 533" in svg
    ssim = score_curve_svg([{"step": 4, "eval/AtoB/ssim": 0.8, "eval/BtoA/ssim": 0.75}], "ssim")
    assert "AtoB: best 0.800 at step 4" in ssim and "BtoA: best 0.750 at step 4" in ssim


def test_demo_cli_refuses_to_overwrite(tmp_path, capsys):
    run = tmp_path / "demo"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(b"")
    (run / "config.json").write_text(json.dumps({"data": {"data": str(run / "data")}}))  # a demo's: its own data
    assert main(["demo", "--out", str(run)]) == 2
    assert "already holds a demo run" in capsys.readouterr().err


def test_demo_does_not_offer_overwrite_for_a_run_it_would_not_replace(tmp_path, capsys):
    run = tmp_path / "horse2zebra"  # a training run on other data: --overwrite refuses it, so no advice to pass it
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(b"weights")
    (run / "config.json").write_text(json.dumps({"data": {"data": str(tmp_path / "horses")}}))
    for more in ([], ["--overwrite"]):
        assert main(["demo", "--out", str(run), "--steps", "2", *more]) == 2
        err = capsys.readouterr().err
        assert "holds a training run that is not a demo's" in err and "--overwrite" not in err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert sorted(os.listdir(run)) == ["checkpoint.pt", "config.json"]


def test_demo_never_writes_into_a_folder_of_something_else(tmp_path, capsys):
    site = tmp_path / "mysite"
    site.mkdir()
    (site / "report.html").write_text("<h1>my page</h1>")  # names the demo writes, in a folder it did not make
    (site / "config.json").write_text('{"mine": 1}')
    assert main(["demo", "--out", str(site), "--steps", "2"]) == 2
    err = capsys.readouterr().err
    assert "holds files that are not a demo run's (config.json, report.html)" in err and "Traceback" not in err
    assert (site / "report.html").read_text() == "<h1>my page</h1>"
    assert sorted(os.listdir(site)) == ["config.json", "report.html"]
    (tmp_path / "file").write_text("x")
    assert main(["demo", "--out", str(tmp_path / "file"), "--steps", "2"]) == 2
    assert "is a file; give a folder" in capsys.readouterr().err
    assert main(["demo", "--out", str(tmp_path / "demo.png"), "--steps", "2"]) == 2  # was made a folder demo.png
    assert "--out is the folder the demo's run is written into; give a folder" in capsys.readouterr().err
    assert not (tmp_path / "demo.png").exists()
    assert main(["demo", "--out", str(tmp_path / "d"), "--steps", "2", "--device", "meta"]) == 2
    assert not (tmp_path / "d").exists()  # the device is refused before the data is rendered
    if not torch.cuda.is_available():  # and so is a precision this machine cannot compute in
        assert main(["demo", "--out", str(tmp_path / "d"), "--steps", "2", "--precision", "fp16"]) == 2
        assert "fp16 needs a CUDA GPU" in capsys.readouterr().err and not (tmp_path / "d").exists()


@pytest.mark.parametrize("lock", [".demo.lock", ".lock"])
def test_a_demo_at_work_is_never_overwritten_by_a_second_one(tmp_path, capsys, lock):
    """A second demo on a folder where a demo (.demo.lock) or the training of one (.lock: the demo's own, or a
    `cyclegan train --resume` of it) is at work: --overwrite deleted its checkpoint, log and data under it."""
    from cyclegan.files import FolderLock

    run = tmp_path / "demo"
    (run / "data" / "testA").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"data": {"data": str(run / "data")}}))
    for name in ("checkpoint.pt", "log.jsonl", "data/testA/0000.png"):
        (run / name).write_bytes(b"at work")
    held = FolderLock(run, lock)
    assert held.acquire()  # as the other process would: an flock is per open file, so this process is refused too
    try:
        for more in ([], ["--overwrite"]):
            assert main(["demo", "--out", str(run), "--steps", "2", "--no-progress", *more]) == 2
            err = capsys.readouterr().err
            assert f"{run} is in use by" in err and f"(PID {os.getpid()})" in err and "Traceback" not in err
        assert (run / "checkpoint.pt").read_bytes() == (run / "data/testA/0000.png").read_bytes() == b"at work"
        assert sorted(os.listdir(run)) == sorted([lock, "checkpoint.pt", "config.json", "data", "log.jsonl"])
    finally:
        held.release()


def test_demo_never_writes_into_a_data_folder_of_someone_else(tmp_path, capsys):
    """Only a rendering stopped early (trainA..testB of numbered PNGs) may be in data/: a project's own data/
    was taken for one, the scenes written among its images (0000.png replaced), and --overwrite deleted it."""
    project = tmp_path / "project"
    (project / "data" / "photos").mkdir(parents=True)
    (project / "data" / "photos" / "mine.jpg").write_bytes(b"my photo")
    (project / "data" / "testA").mkdir()
    (project / "data" / "testA" / "0000.png").write_bytes(b"my png")
    assert main(["demo", "--out", str(project), "--steps", "2", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"{project} holds files that are not a demo run's (data)" in err and "Traceback" not in err
    assert sorted(str(p.relative_to(project)) for p in project.rglob("*")) == [
        "data",
        "data/photos",
        "data/photos/mine.jpg",
        "data/testA",
        "data/testA/0000.png",
    ]
    assert (project / "data" / "testA" / "0000.png").read_bytes() == b"my png"
    # a demo's rendering stopped early (a half-written last PNG included) is rendered again, and the demo runs
    stopped = tmp_path / "stopped"
    (stopped / "data" / "trainA").mkdir(parents=True)
    (stopped / "data" / "trainA" / "00000.png").write_bytes(b"\x89PNG half")
    run_demo(DemoOptions(str(stopped), minutes=None, device="cpu", precision="fp32", progress=False), settings=ONE_STEP)
    assert (stopped / "report.json").is_file()


def demo_stopped_at_step_3(monkeypatch, run, *, steps: int) -> list[str]:
    """A tiny demo (`steps` steps, scored every 2) into `run`, stopped by a Ctrl-C during its step 3 (after its
    checkpoint there); returns its command line, to run it again."""
    import signal

    import cyclegan.demo as demo
    from cyclegan.train.losslog import LossLog

    real_add = LossLog.add

    def add(self, losses, *, step):
        real_add(self, losses, step=step)
        if step == 3:
            os.kill(os.getpid(), signal.SIGINT)

    options = {"size": 32, "steps": steps, "ngf": 8, "ndf": 8, "eval_every": 2}
    settings = DemoSettings(train_count=2, test_count=2, grid_rows=1, options=options)
    monkeypatch.setattr(demo.run_demo, "__kwdefaults__", {"settings": settings})
    args = ["demo", "--out", str(run), "--device", "cpu", "--precision", "fp32", "--no-progress"]
    with monkeypatch.context() as m:
        m.setattr(LossLog, "add", add)
        with pytest.raises(SystemExit):
            main(args)
    return args


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_demo_stopped_while_training_goes_on_from_its_checkpoint_when_run_again(tmp_path, capsys, monkeypatch):
    """Ctrl-C in the demo's training saved a checkpoint, but the demo asked for --overwrite (its training from the
    start), and train's own hint (cyclegan train --resume) gave a model the demo then would not report on. The same
    command goes on from the checkpoint and reports; it is printed quoted, to run as printed (`--out my demo`), with
    the training options given (without them the printed command was refused: "trained with other options")."""
    import shlex

    run = tmp_path / "my demo"
    args = demo_stopped_at_step_3(monkeypatch, run, steps=6)
    again = f"cyclegan demo --out {shlex.quote(str(run))} --device cpu --precision fp32"
    err = capsys.readouterr().err  # one instruction: training's own (cyclegan train --resume) was printed above it
    assert f"checkpoint saved to {run / 'checkpoint.pt'}. Continue with: {again}\n" in err
    # stopped before the steps were fitted to --minutes: 6 is only their cap ("3/5000" read as 5000 steps to go)
    assert "stopped at step 3 (of at most 6, not yet fitted to the time limit); checkpoint saved" in err
    assert "cyclegan train" not in err and err.count("cyclegan demo") == 1
    assert main([*args, "--seed", "3"]) == 2  # other training options: that run is not theirs
    assert "trained with other options (--seed 0) that stopped before its report" in capsys.readouterr().err
    assert main([*args, "--steps", "9"]) == 2
    assert "trained with other options (no --steps) that stopped" in capsys.readouterr().err
    assert main([*shlex.split(again)[1:], "--no-progress"]) == 0  # the command as printed
    assert "the demo stopped while training; going on from its checkpoint" in capsys.readouterr().out
    saved = json.loads((run / "report.json").read_text())
    assert (saved["settings"]["steps_trained"], saved["settings"]["resumed_at_step"]) == (6, 3)
    assert [r["step"] for r in saved["scores_while_training"]] == [2, 4, 6]  # the run's, before the stop and after
    assert saved["verdict"]["evaluations"] == 3 and saved["execution"]["precision"] == "fp32"
    # the seconds are the resumed part's, the evaluation's among them
    after = [r["eval_s"] for r in saved["scores_while_training"] if r["step"] > 3]
    assert saved["seconds"]["evaluation"] == round(sum(after), 3) < saved["seconds"]["train"]
    assert "on from step 3 after a stop" in (run / "report.html").read_text()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_stopped_demo_finished_by_train_resume_is_reported_with_its_verdict(tmp_path, capsys, monkeypatch):
    """train's own hint after a stop (cyclegan train --resume) ends the demo's training outside the demo: run
    again, the demo said it went on, train said 'raise --steps', and the report had no verdict and 'computed: no
    training step ran'."""
    run = tmp_path / "demo"
    args = demo_stopped_at_step_3(monkeypatch, run, steps=4)
    assert main(["train", "--out", str(run), "--resume", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "training was ended outside the demo (cyclegan train --resume); reporting on it" in out
    assert "raise --steps" not in out and "computed: not recorded" in out
    saved = json.loads((run / "report.json").read_text())
    assert saved["settings"]["steps_trained"] == 4 and saved["execution"] is None
    assert saved["verdict"]["best_step"] in (2, 4) and saved["verdict"]["evaluations"] == 2
    page = (run / "report.html").read_text()
    assert "How it computed is not recorded" in page and "(its training not timed by the demo)" in page
    assert saved["seconds"]["train"] is None  # it said 0.0 s


def demo_stopped_before_training(monkeypatch, run) -> tuple[list[str], Callable]:
    """A tiny demo (1 step, not scored) into `run` whose training stops at once, before its first checkpoint (and
    config.json), as a signal there does; returns its command line and the real `train`, to let it train."""
    import cyclegan.demo as demo

    def stopped(cfg, *, ckpt, progress, resume_with, capped_by):
        raise SystemExit(130)

    real_train = demo.train
    monkeypatch.setattr(demo, "train", stopped)
    return one_step_demo(monkeypatch, run), real_train


def test_a_demo_stopped_before_its_first_checkpoint_runs_again_without_overwrite(tmp_path, capsys, monkeypatch):
    """Stopped before training wrote anything, the folder holds the rendering and the demo's record (demo.json):
    the same command runs the demo again (its record is not someone else's file)."""
    import cyclegan.demo as demo

    run = tmp_path / "demo"
    args, real_train = demo_stopped_before_training(monkeypatch, run)
    with pytest.raises(SystemExit):
        main(args)
    err = capsys.readouterr().err
    assert f"the demo stopped before its report: cyclegan demo --out {run} --device cpu runs it again" in err
    assert sorted(p.name for p in run.iterdir() if not p.name.startswith(".")) == ["data", "demo.json"]
    monkeypatch.setattr(demo, "train", real_train)
    assert main(args) == 0 and (run / "report.json").is_file()
    (run / "demo.json").write_text("{}")  # someone's own demo.json is not the demo's: not written into
    for name in ("report.json", "report.html", "checkpoint.pt", "config.json"):
        (run / name).unlink()
    assert main(args) == 2
    assert "holds files that are not a demo run's (demo.json" in capsys.readouterr().err


def test_the_demos_lines_name_its_folder_on_one_line(tmp_path, capsys, monkeypatch):
    """`demo --out $'x\\nerror: fake'`: its "reusing the demo's rendered scenes" line (and the others naming its
    folder: replacing, going on, reporting) printed a second line "error: fake" the demo did not write; its report
    line was escaped already."""
    args, _ = demo_stopped_before_training(monkeypatch, tmp_path / "x\nerror: fake")
    for _ in range(2):
        with pytest.raises(SystemExit):
            main(args)
    out = capsys.readouterr().out
    assert "x\\nerror: fake: reusing the demo's rendered scenes" in out
    assert not any(line.startswith("error: fake") for line in out.splitlines())


def test_a_demo_stopped_before_its_first_checkpoint_reuses_its_whole_rendering(tmp_path, capsys, monkeypatch):
    """Run again, a demo stopped before its first checkpoint rendered its whole world again (~35 s) although data/
    was complete: it is reused when it is the recorded rendering, unchanged; changed, it is rendered again."""
    import cyclegan.demo as demo

    rendered = []

    def write_dataset(opts, **kw):
        rendered.append(opts.out)
        return real_write(opts, **kw)

    run = tmp_path / "demo"
    args, real_train = demo_stopped_before_training(monkeypatch, run)
    real_write = demo.write_dataset
    monkeypatch.setattr(demo, "write_dataset", write_dataset)
    for _ in range(2):
        with pytest.raises(SystemExit):
            main(args)
    assert len(rendered) == 1 and "reusing the demo's rendered scenes" in capsys.readouterr().out
    (run / "data" / "trainB" / "00003.png").unlink()  # no longer whole: rendered again
    with pytest.raises(SystemExit):
        main(args)
    assert len(rendered) == 2 and (run / "data" / "trainB" / "00003.png").is_file()
    monkeypatch.setattr(demo, "train", real_train)
    assert main(args) == 0 and len(rendered) == 2 and (run / "report.json").is_file()


def test_a_demo_whose_rendering_was_stopped_halfway_keeps_the_scenes_it_wrote(tmp_path, capsys, monkeypatch):
    """Stopped while rendering (Ctrl-C), the demo rendered its whole world again when run again (~35 s), and killed
    there (kill -9: a write's temporary file left in data/), it refused its own folder as someone else's files."""
    import cyclegan.data.synthetic as synthetic

    rendered = []

    def render(*a, **k):
        if stop_at and len(rendered) == stop_at:
            raise KeyboardInterrupt
        rendered.append(a[1])
        return real_render(*a, **k)

    real_render, stop_at = synthetic.render, 3
    monkeypatch.setattr(synthetic, "render", render)
    run = tmp_path / "demo"
    args = one_step_demo(monkeypatch, run)
    assert main(args) == 130
    assert f"the demo stopped while rendering: cyclegan demo --out {run} --device cpu keeps" in capsys.readouterr().err
    assert len(list((run / "data").rglob("*.png"))) == 3
    (run / "data" / "trainB" / ".00003.png.abcd1234.tmp").write_bytes(b"\x89PNG cut short")  # a killed write's
    rendered.clear()
    stop_at = 0
    capsys.readouterr()
    assert main(args) == 0 and (run / "report.json").is_file()
    assert "the demo's rendering was stopped halfway; keeping its 3 whole scenes" in capsys.readouterr().out
    assert len(rendered) == 3  # of 6: 2 scenes per domain and one test scene in both
    assert not (run / "data" / "trainB" / ".00003.png.abcd1234.tmp").exists()
    # the scenes kept and rendered are the world's, as a rendering at once writes it
    whole = synthetic.write_dataset(SyntheticOptions(str(tmp_path / "whole"), size=32, count=2, test_count=1))
    assert sorted(p.relative_to(whole) for p in whole.rglob("*")) == sorted(
        p.relative_to(run / "data") for p in (run / "data").rglob("*")
    )
    assert all(p.read_bytes() == (run / "data" / p.relative_to(whole)).read_bytes() for p in whole.rglob("*.png"))


def test_a_stopped_demo_of_other_minutes_names_them_as_given(tmp_path):
    # "trained with other options (--minutes 5.0)" for a demo run with --minutes 5
    from cyclegan.errors import CycleGANError

    run = tmp_path / "demo"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(b"")  # a demo stopped while training: its files, as far as this check reads
    (run / "config.json").write_text(json.dumps({"data": {"data": str(run / "data")}}))
    given = {"minutes": 5.0, "steps": None, "seed": 0, "device": "cpu", "precision": "auto"}
    (run / "demo.json").write_text(json.dumps({"demo": given, "options": {}, "fit_steps": True}))
    with pytest.raises(CycleGANError, match=r"trained with other options \(--minutes 5\) that stopped"):
        run_demo(DemoOptions(str(run), minutes=4.5, device="cpu", progress=False))


def test_a_demo_stopped_after_its_training_reports_when_run_again_without_training(tmp_path, capsys, monkeypatch):
    """Ctrl-C while the demo scored its trained run (or a full disk at its report) asked for --overwrite: minutes of
    training again for a report. Run again with the same options, it reports on the trained run."""
    import cyclegan.demo as demo

    options = {"size": 32, "steps": 2, "ngf": 8, "ndf": 8, "eval_every": 1}
    settings = DemoSettings(train_count=2, test_count=2, grid_rows=1, options=options)
    monkeypatch.setattr(demo.run_demo, "__kwdefaults__", {"settings": settings})
    real_load = demo.load_generator

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(demo, "load_generator", interrupted)
    run = tmp_path / "demo"
    args = ["demo", "--out", str(run), "--device", "cpu", "--precision", "fp32", "--no-progress"]
    assert main(args) == 130
    err = capsys.readouterr().err
    again = f"cyclegan demo --out {run} --device cpu --precision fp32"
    assert f"the demo stopped before its report: {again} reports on its trained run" in err
    assert (run / "checkpoint.pt").is_file() and not (run / "report.json").exists()
    monkeypatch.setattr(demo, "load_generator", real_load)
    monkeypatch.setattr(demo, "train", lambda *a, **k: pytest.fail("trained again"))
    # other training options: that run is not theirs
    assert main([*args, "--seed", "3"]) == 2
    assert "trained with other options (--seed 0) that stopped before its report" in capsys.readouterr().err
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "the demo's training ended before its report; reporting on it" in out and "report: " in out
    saved = json.loads((run / "report.json").read_text())
    assert saved["settings"]["steps_trained"] == 2 and saved["execution"]["precision"] == "fp32"
    assert saved["verdict"]["metric"] == "psnr" and [r["step"] for r in saved["scores_while_training"]] == [1, 2]
    assert (run / "grid_AtoB.png").is_file() and "PSNR" in (run / "report.html").read_text()
    assert main(args) == 2  # reported: a third run asks for --overwrite, as before
    assert "already holds a demo run: pass --overwrite" in capsys.readouterr().err


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("name, said", [("SIGTERM", "terminated"), ("SIGHUP", "hung up")])
def test_a_sigterm_while_the_demo_scores_keeps_its_trained_run_and_names_the_command(
    tmp_path, capsys, monkeypatch, name, said
):
    """A batch scheduler's SIGTERM after training, while the demo scored: it ended the process at once, without a
    word of the trained run kept nor of the command that reports on it. A closed terminal's SIGHUP too (exit 129)."""
    import signal

    import cyclegan.demo as demo

    signum = getattr(signal, name)
    previous = signal.signal(signum, signal.SIG_DFL)  # as in a terminal, even where this test runs under nohup
    run = tmp_path / "demo"
    args = one_step_demo(monkeypatch, run)
    real_load = demo.load_generator

    def terminated(*a, **k):
        if signal.getsignal(signum) == signal.SIG_DFL:
            pytest.fail(f"a {name} here ends the demo at once, without a word")
        os.kill(os.getpid(), signum)
        return real_load(*a, **k)

    monkeypatch.setattr(demo, "load_generator", terminated)
    try:
        assert main(args) == 128 + signum
        err = capsys.readouterr().err
        assert f"the demo stopped before its report: cyclegan demo --out {run} --device cpu reports on its" in err
        assert err.strip().endswith(said) and "Traceback" not in err
        assert (run / "checkpoint.pt").is_file() and not (run / "report.json").exists()
        assert signal.getsignal(signum) == signal.SIG_DFL  # the handler is the command's alone
        monkeypatch.setattr(demo, "train", lambda *a, **k: pytest.fail("trained again"))
        assert main(args) == 128 + signum  # stopped again while it reports on the trained run: the same line
        assert f"cyclegan demo --out {run} --device cpu reports on its trained run" in capsys.readouterr().err
    finally:
        signal.signal(signum, previous)
    monkeypatch.setattr(demo, "load_generator", real_load)
    assert main(args) == 0 and (run / "report.json").is_file()


def test_a_stopped_demo_whose_files_went_is_one_line_when_reported_again(tmp_path, capsys, monkeypatch):
    """Reported when run again, a demo reads its log and test scenes anew: gone since, they were a traceback
    (FileNotFoundError, torch.stack of no image)."""
    import shutil

    run = tmp_path / "demo"
    args = one_step_demo(monkeypatch, run)
    assert main(args) == 0
    (run / "report.json").unlink()  # as a demo stopped after its training: reported when run again
    capsys.readouterr()
    (run / "log.jsonl").rename(tmp_path / "log.jsonl")
    assert main(args) == 2
    err = capsys.readouterr().err
    gone = f"{run / 'log.jsonl'}: No such file or directory; pass --overwrite"
    assert f"cannot read the demo's run in {run}: {gone}" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    (tmp_path / "log.jsonl").rename(run / "log.jsonl")
    shutil.rmtree(run / "data" / "testA")
    assert main(args) == 2
    assert f"{run / 'data' / 'testA'}: the demo's test scenes are gone; pass --overwrite" in capsys.readouterr().err


def test_a_full_disk_at_the_demos_record_before_training_names_the_record(tmp_path, capsys, monkeypatch):
    """demo.json is written before training: a full disk there said it could not write the demo's report."""
    import errno

    import cyclegan.demo as demo

    real = demo.write_atomic

    def write_atomic(path, write):
        if Path(path).name == "demo.json":
            raise OSError(errno.ENOSPC, "No space left on device", str(path) + ".tmp")
        return real(path, write)

    monkeypatch.setattr(demo, "write_atomic", write_atomic)
    monkeypatch.setattr(demo, "train", lambda *a, **k: pytest.fail("trained without its record"))
    settings = DemoSettings(train_count=2, test_count=1, grid_rows=1, options={"size": 32, "steps": 1})
    monkeypatch.setattr(demo.run_demo, "__kwdefaults__", {"settings": settings})
    run = tmp_path / "demo"
    assert main(["demo", "--out", str(run), "--device", "cpu", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: cannot write the demo's record {run / 'demo.json'}: No space left on device"


def test_an_overwrite_stopped_halfway_leaves_a_folder_the_demo_still_takes(tmp_path, capsys, monkeypatch):
    """--overwrite removed config.json third: stopped after it (Ctrl-C), the folder's grids and samples read as
    someone else's files, and the demo refused it even with --overwrite."""
    import cyclegan.demo as demo

    run = tmp_path / "demo"
    args = one_step_demo(monkeypatch, run)
    assert main(args) == 0
    real_rmtree = demo.shutil.rmtree

    def stopped(path, *a, **k):  # Ctrl-C while the rendered data goes
        raise KeyboardInterrupt

    monkeypatch.setattr(demo.shutil, "rmtree", stopped)
    assert main([*args, "--overwrite"]) == 130
    monkeypatch.setattr(demo.shutil, "rmtree", real_rmtree)
    assert not (run / "report.json").exists() and (run / "config.json").is_file()
    capsys.readouterr()
    assert main([*args, "--overwrite"]) == 0 and (run / "report.json").is_file()


def test_report_json_is_written_last_as_the_mark_of_a_finished_demo(tmp_path, monkeypatch):
    """A demo stopped between its report's two files must read as stopped before its report (no report.json)."""
    import cyclegan.demo as demo

    written = []

    def write_atomic(path, write):
        written.append(Path(path).name)
        return real(path, write)

    real = demo.write_atomic
    monkeypatch.setattr(demo, "write_atomic", write_atomic)
    opts = DemoOptions(str(tmp_path / "demo"), minutes=None, device="cpu", precision="fp32", progress=False)
    run_demo(opts, settings=ONE_STEP)
    assert written[-2:] == ["report.html", "report.json"]


def test_a_full_disk_at_the_report_is_one_line_naming_the_file(tmp_path, capsys, monkeypatch):
    import errno

    import cyclegan.demo as demo

    def full(columns, path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    real = demo.save_grid
    monkeypatch.setattr(demo, "save_grid", full)
    options = {"size": 32, "steps": 1, "ngf": 8, "ndf": 8, "eval_every": 0, "num_samples": 1}
    settings = DemoSettings(train_count=2, test_count=1, grid_rows=1, options=options)
    monkeypatch.setattr(demo.run_demo, "__kwdefaults__", {"settings": settings})
    run = tmp_path / "demo"
    assert main(["demo", "--out", str(run), "--device", "cpu", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"cannot write the demo's report in {run}: {run / 'grid_AtoB.png'}: No space left on device" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert (run / "checkpoint.pt").is_file() and not (run / "report.json").exists()
    assert err.strip().endswith("(the trained run is kept: run the demo again to report on it)")
    monkeypatch.setattr(demo, "save_grid", real)  # room again: the same command reports, without training
    monkeypatch.setattr(demo, "train", lambda *a, **k: pytest.fail("trained again"))
    assert main(["demo", "--out", str(run), "--device", "cpu", "--no-progress"]) == 0
    assert (run / "report.json").is_file() and (run / "grid_AtoB.png").is_file()


def test_overwrite_never_deletes_someones_own_images_in_run_data(tmp_path, capsys, monkeypatch):
    """A run trained by `cyclegan train --data RUN/data --out RUN` on one's own images looked like a demo's (its config
    trains on RUN/data): `cyclegan demo --out RUN --overwrite` deleted those images with the run."""
    run = tmp_path / "run"
    for split in ("trainA", "trainB"):
        (run / "data" / split).mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(run / "data" / split / "my_photo.png")
    (run / "config.json").write_text(json.dumps({"data": {"data": str(run / "data")}}))
    (run / "checkpoint.pt").write_bytes(b"someone's run")
    assert main([*one_step_demo(monkeypatch, run), "--overwrite"]) == 2
    assert "holds a training run that is not a demo's" in capsys.readouterr().err
    assert sorted(p.name for p in (run / "data" / "trainA").iterdir()) == ["my_photo.png"]
    assert (run / "checkpoint.pt").read_bytes() == b"someone's run"


def test_demo_out_a_broken_link_is_named_as_one(tmp_path, capsys):
    """--out a symbolic link to nothing (an unmounted disk) said "cannot create or lock RUN (No such file or
    directory)", though the path was there: it is named as the broken link it is, as translate's --out is."""
    run, target = tmp_path / "demo", tmp_path / "unmounted" / "demo"
    run.symlink_to(target)
    assert main(["demo", "--out", str(run), "--device", "cpu", "--no-progress"]) == 2
    assert f"option '--out': {run} is a broken symbolic link (to {target})" in capsys.readouterr().err
    assert not (tmp_path / "unmounted").exists()


def test_a_demo_under_torchrun_is_refused_before_any_file(tmp_path, capsys, monkeypatch):
    """`torchrun -m cyclegan demo`: each process ran its own demo; the second was refused the folder, the first
    waited for it in the process group's start until torchrun killed it, its rendering left behind."""
    for name, value in {"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0", "LOCAL_WORLD_SIZE": "2"}.items():
        monkeypatch.setenv(name, value)  # as torchrun sets them for its first process
    monkeypatch.delenv("MASTER_ADDR", raising=False)  # the old code's process group start then failed, not waited
    run = tmp_path / "demo"
    assert main(one_step_demo(monkeypatch, run)) == 2
    assert "error: cyclegan demo runs in one process: run it without torchrun" in capsys.readouterr().err
    assert not run.exists()


def test_demo_out_inside_a_dataset_folder_is_refused(tmp_path, capsys):
    """Image folders are read recursively: a demo in syn/trainA/demo put 880 scenes, grids and samples among
    the dataset's training images."""
    for split in ("trainA", "trainB"):
        (tmp_path / "syn" / split).mkdir(parents=True)
    out = tmp_path / "syn" / "trainA" / "demo"
    assert main(["demo", "--out", str(out), "--steps", "2", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"{out} is inside the dataset folder {tmp_path / 'syn' / 'trainA'}" in err and "Traceback" not in err
    assert not out.exists()


def test_a_folder_of_something_else_is_refused_without_writing_in_it(tmp_path, capsys, monkeypatch):
    """Read only, as someone else's folder may be: refused for what it holds, before the demo's lock is taken."""
    from cyclegan.files import FolderLock

    def read_only(self):
        raise PermissionError(13, "Permission denied", str(self.path))

    monkeypatch.setattr(FolderLock, "acquire", read_only)
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("mine")
    assert main(["demo", "--out", str(site), "--steps", "2", "--no-progress"]) == 2
    assert "holds files that are not a demo run's (index.html)" in capsys.readouterr().err


def synthetic(out, *more):
    return main(
        ["datasets", "synthetic", "--out", str(out), "--count", "2", "--test-count", "2", "--no-progress", *more]
    )


def test_datasets_synthetic_cli(tmp_path, capsys):
    assert synthetic(tmp_path / "s", "--size", "24") == 0
    assert len(list((tmp_path / "s" / "testB").iterdir())) == 2
    # again over it: refused (a second world would mix with the first), replaced whole with --overwrite
    assert synthetic(tmp_path / "s", "--size", "32", "--count", "1") == 2
    assert "already holds files: pass --overwrite" in capsys.readouterr().err
    assert synthetic(tmp_path / "s", "--size", "32", "--overwrite") == 0
    sizes = {Image.open(f).size for f in (tmp_path / "s").rglob("*.png")}
    assert sizes == {(32, 32)} and len(list((tmp_path / "s" / "trainA").iterdir())) == 2  # no stale 24 px file
    (tmp_path / "f").write_text("x")
    assert synthetic(tmp_path / "f") == 2 and "is a file; give a folder" in capsys.readouterr().err


def test_demo_cli_prints_how_it_computed(tmp_path, capsys, monkeypatch):
    record = {"precision": "fp32", "memory_format": "nchw", "compile": False, "device": "cpu"}
    record |= {"instruction_set": "AVX2", "bf16_native": False, "threads": 2, "s_per_step": 0.2345}
    scores = {"psnr": 20.0, "psnr_identity": 10.0, "ssim": 0.5, "ssim_identity": 0.25}
    seen = []

    def fake_demo(opts):
        seen.append(opts.precision)
        return {"ground_truth": {"AtoB": scores}, "execution": record}

    monkeypatch.setattr("cyclegan.demo.run_demo", fake_demo)
    assert main(["demo", "--out", str(tmp_path / "d"), "--precision", "fp32"]) == 0
    assert seen == ["fp32"]
    assert (
        "computed: fp32, NCHW, eager on cpu (AVX2, no native bf16, 2 threads), 0.234 s/step" in capsys.readouterr().out
    )
    out = tmp_path / "d"
    assert main(["demo", "--out", f"{out}/"]) == 0  # as a shell completes a folder's name
    assert f"report: {out / 'report.html'} (scores in {out / 'report.json'})" in capsys.readouterr().out


@pytest.mark.parametrize("trained, fixed", [(209, False), (2300, False), (209, True)])
def test_a_demo_that_fitted_few_steps_says_why_it_scores_low(tmp_path, capsys, monkeypatch, trained, fixed):
    """A newcomer's demo on a busy machine fitted 209 steps (1.31 s/step) and scored 21.9 / 19.9 dB with rough
    grids against the README's 27.5 / 25.6: nothing said why. Steps fixed by --steps are the user's choice."""
    record = {"precision": "bf16", "memory_format": "nchw", "compile": False, "device": "cpu"}
    record |= {"instruction_set": "AVX512", "bf16_native": True, "threads": 2, "s_per_step": 1.3115}
    settings = {"steps_trained": trained, "steps_planned": trained} | ({} if fixed else {"steps_cap": 5000})
    note = few_steps_note(settings, record, 4.5)
    assert (note is not None) == (trained == 209 and not fixed)
    scores = {"psnr": 20.0, "psnr_identity": 10.0, "ssim": 0.5, "ssim_identity": 0.25}
    report = {"ground_truth": {"AtoB": scores}, "execution": record, "settings": settings, "note": note}
    monkeypatch.setattr("cyclegan.demo.run_demo", lambda opts: report)
    assert main(["demo", "--out", str(tmp_path / "d")]) == 0
    said = "note: 209 steps fitted in 4.5 minutes at 1.312 s/step, a slow or busy machine: the README's scores"
    assert (said in capsys.readouterr().out) == (note is not None)


def half_a_second_a_step(monkeypatch) -> None:
    """A fake clock for training's loop and its time budget: each reading 0.5 s later than the last."""
    import time
    import types

    import cyclegan.train.budget as budget
    import cyclegan.train.loop as loop

    now = [0.0]

    def monotonic():
        now[0] += 0.5
        return now[0]

    fake_time = types.SimpleNamespace(**{k: getattr(time, k) for k in dir(time) if not k.startswith("_")})
    fake_time.monotonic = monotonic
    monkeypatch.setattr(loop, "time", fake_time)
    monkeypatch.setattr(budget, "time", fake_time)


@pytest.mark.slow
def test_a_demo_fitted_to_its_minutes_reports_the_steps_it_trained_not_the_cap(tmp_path, monkeypatch):
    """The demo's `steps` (5000) only caps the fit: its report, its config and the run's config.json all say
    the fitted steps. A fake clock makes each step about 0.5 s, so 0.5 minutes fit 20-60 steps."""
    half_a_second_a_step(monkeypatch)
    options = {"size": 32, "steps": 500, "ngf": 8, "ndf": 8, "eval_every": 0}
    settings = DemoSettings(train_count=6, test_count=3, grid_rows=2, options=options)
    run_demo(
        DemoOptions(str(tmp_path / "demo"), minutes=0.5, device="cpu", precision="fp32", progress=False),
        settings=settings,
    )
    saved = json.loads((tmp_path / "demo" / "report.json").read_text())
    trained = saved["settings"]["steps_trained"]
    assert 20 < trained < 60 and saved["settings"]["steps_cap"] == 500
    assert saved["settings"]["options"]["steps"] == trained == saved["config"]["train"]["steps"]
    assert json.loads((tmp_path / "demo" / "config.json").read_text())["train"]["steps"] == trained
    assert f"trained {trained} steps" in (tmp_path / "demo" / "report.html").read_text()
    # fitted to few steps (a slow machine's, here the fake clock's): said in the report as under the table
    assert f"<b>Note:</b> {trained} steps fitted in 0.5 minutes at " in (tmp_path / "demo" / "report.html").read_text()


def test_a_demo_whose_time_ran_out_before_the_steps_were_fitted_says_so(tmp_path, capsys, monkeypatch):
    """Too few minutes to fit the steps (a slow machine, a small --minutes): the time limit stops the 500-step
    schedule early. The report said it planned the steps it trained, and nothing that the LR never decayed."""
    import cyclegan.demo as demo

    half_a_second_a_step(monkeypatch)
    options = {"size": 32, "steps": 500, "ngf": 8, "ndf": 8, "eval_every": 0}
    settings = DemoSettings(train_count=6, test_count=3, grid_rows=2, options=options)
    monkeypatch.setattr(demo.run_demo, "__kwdefaults__", {"settings": settings})
    run = tmp_path / "demo"
    assert main(["demo", "--out", str(run), "--minutes", "0.05", "--device", "cpu", "--no-progress"]) == 0
    saved = json.loads((run / "report.json").read_text())
    trained = saved["settings"]["steps_trained"]
    assert 0 < trained < 20 and saved["config"]["train"]["steps"] == 500  # not fitted: the cap ran the schedule
    assert saved["settings"]["steps_planned"] == saved["settings"]["options"]["steps"] == 500
    assert f"at step {trained} of the 500 its learning rate schedule planned" in (run / "report.html").read_text()
    out = capsys.readouterr().out
    assert f"stopped by the time limit at step {trained} of 500" in out
    assert "give more --minutes (with --overwrite: the demo trains anew)" in out  # without, the demo refuses the folder
    assert main(["demo", "--out", str(run), "--minutes", "0.1", "--device", "cpu", "--no-progress"]) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    # one instruction (more --minutes): training's own "continue with: cyclegan train --resume" left the report stale
    assert f"time limit of 0.05 min reached at step {trained}/500; checkpoint" in out and "cyclegan train" not in out


def test_a_full_or_read_only_disk_while_rendering_is_one_line_naming_the_file(tmp_path, capsys, monkeypatch):
    import errno

    def full(self, fp, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(fp))

    monkeypatch.setattr(Image.Image, "save", full)
    for args in (["datasets", "synthetic", "--out", str(tmp_path / "d")], ["demo", "--out", str(tmp_path / "r")]):
        assert main([*args, "--no-progress"]) != 0
        err = capsys.readouterr().err
        assert "cannot write the dataset in" in err and "00000.png: No space left on device" in err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_time_limit_reached_before_the_first_step_names_the_demos_minutes(tmp_path, capsys, monkeypatch):
    """`cyclegan demo --minutes 1e-9` stopped while checking its images with "give more --time-limit", a flag the
    demo has not: its time limit is --minutes, named so."""
    args = one_step_demo(monkeypatch, tmp_path / "demo")
    assert main([*args, "--minutes", "1e-9"]) == 2
    err = capsys.readouterr().err
    assert "allow more time with --minutes M" in err and "--time-limit" not in err


@pytest.mark.slow
def test_a_demo_under_an_ascii_locale_writes_its_report(tmp_path):
    """Under LC_ALL=C without Python's UTF-8 mode (PYTHONUTF8=0: the locale's encoding is ASCII), the demo trained and
    then stopped on a UnicodeEncodeError traceback writing report.html ("summer ↔ winter"): no report. It is
    written in UTF-8, the charset the page declares."""
    import dataclasses
    import subprocess

    script = (
        "from cyclegan.demo import DemoOptions, DemoSettings, run_demo\n"
        f"settings = DemoSettings(**{dataclasses.asdict(ONE_STEP)!r})\n"
        "opts = DemoOptions('run', minutes=None, device='cpu', precision='fp32', progress=False)\n"
        "run_demo(opts, settings=settings)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONIOENCODING", "LANG", "LC_CTYPE")}
    env.update(PYTHONUTF8="0", LC_ALL="C", LANG="C")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    html = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    assert '<meta charset="utf-8">' in html and "summer ↔ winter" in html
