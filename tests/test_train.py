import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

from conftest import TINY
from cyclegan.checkpoint import load_checkpoint
from cyclegan.cli import main
from cyclegan.config import resolve
from cyclegan.errors import CycleGANError
from cyclegan.options import named_as_flags
from cyclegan.train import CycleGANTrainer, ImagePool, linear_decay, prepare_config, train
from helpers import flags


def weights(run):
    return load_checkpoint(run)["models"]


def assert_same_weights(a, b):
    for net in ("G", "F", "D_X", "D_Y"):
        for k in a[net]:
            assert torch.equal(a[net][k], b[net][k]), f"{net}.{k} differs"


FAST_PARTS = {
    "upsample": "resize",
    "spectral_norm": True,
    "ema_decay": 0.9,
    "diffaug": "color,translation,cutout",
    "gan_loss": "hinge",
    "r1_gamma": 0.1,
}


VANILLA = {"dropout": 0.5, "flip": True, "gan_loss": "vanilla"}
RESUME_CASES = [{}, VANILLA, pytest.param(FAST_PARTS, marks=pytest.mark.slow)]  # FAST_PARTS: over 3 s


@pytest.mark.parametrize("extra", RESUME_CASES)
def test_resume_gives_identical_weights(tiny_cfg, tmp_path, extra):
    """2N steps in one run == N steps, resume, N more (optimizers, schedules, pools, RNG, data order)."""
    N = 4
    one = tiny_cfg(out=str(tmp_path / "one"), steps=2 * N, lr_decay_fraction=0.5, **extra)
    train(one, progress=False)
    two = tiny_cfg(out=str(tmp_path / "two"), steps=2 * N, lr_decay_fraction=0.5, **extra)
    _train_steps(two, N)  # interrupted after N steps
    cfg, ckpt = prepare_config({"steps": 2 * N}, resume=True, out=str(tmp_path / "two"))
    assert ckpt["step"] == N
    train(cfg, ckpt=ckpt, progress=False)
    assert load_checkpoint(tmp_path / "two")["step"] == 2 * N
    assert_same_weights(weights(tmp_path / "one"), weights(tmp_path / "two"))
    if extra.get("ema_decay"):  # the averaged generators too
        a, b = load_checkpoint(tmp_path / "one")["ema"], load_checkpoint(tmp_path / "two")["ema"]
        assert all(torch.equal(a[n][k], b[n][k]) for n in ("G", "F") for k in a[n])
    lr = [json.loads(line)["lr"] for line in (tmp_path / "two" / "log.jsonl").read_text().splitlines()]
    assert lr == [json.loads(line)["lr"] for line in (tmp_path / "one" / "log.jsonl").read_text().splitlines()]


def _train_steps(cfg, n):
    """Run `cfg` (total steps as configured) but stop after n steps, as Ctrl-C would."""
    import cyclegan.train.loop as loop

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
        with pytest.raises(SystemExit) as e:
            loop.train(cfg, progress=False)
        assert e.value.code == 128 + signal.SIGTERM
    finally:
        CycleGANTrainer.step = real_step


def test_steps_is_the_total_across_resumes(tiny_cfg, tmp_path, dataset, capsys):
    out = tmp_path / "run"
    args = [
        "--data",
        str(dataset),
        "--out",
        str(out),
        "--ngf",
        "4",
        "--ndf",
        "4",
        "--n-blocks",
        "1",
        "--size",
        "24",
        "--batch-size",
        "1",
        "--num-workers",
        "0",
        "--log-every",
        "1",
        "--no-progress",
    ]
    assert main(["train", *args, "--steps", "6"]) == 0
    assert main(["train", "--out", str(out), "--resume", "--steps", "10", "--no-progress"]) == 0
    steps = [json.loads(line)["step"] for line in (out / "log.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 11))
    assert load_checkpoint(out)["step"] == 10
    assert main(["train", "--out", str(out), "--resume", "--steps", "10", "--no-progress"]) == 0
    assert "already trained 10 steps" in capsys.readouterr().out
    # A new run must not silently overwrite, and model options cannot change on resume.
    assert main(["train", *args, "--steps", "6"]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(["train", "--out", str(out), "--resume", "--steps", "12", "--ngf", "8"]) == 2
    assert "option '--ngf' cannot change on resume" in capsys.readouterr().err
    config = tmp_path / "c.yaml"  # a config file's key: named as the file's (it was named 'ngf' alone)
    config.write_text("ngf: 8\n")
    assert main(["train", "--out", str(out), "--resume", "--steps", "12", "--config", str(config)]) == 2
    assert f"option 'ngf' in '{config}' cannot change on resume" in capsys.readouterr().err
    config.write_text("preset: fast\n")
    assert main(["train", "--out", str(out), "--resume", "--steps", "12", "--config", str(config)]) == 2
    assert f"option 'preset' in '{config}' cannot change on resume" in capsys.readouterr().err


def test_train_from_python_refuses_a_dict_in_one_line(tmp_path):
    """`train({"data": ..., "out": ...})`, as the README's pointer to `cyclegan.train.train` invites, was an
    AttributeError: 'dict' object has no attribute 'train'."""
    with pytest.raises(CycleGANError, match=r"expected a Config, got dict: build it with cyclegan.config.resolve"):
        train({"data": str(tmp_path), "out": str(tmp_path / "run"), "steps": 1})


def test_train_from_python_refuses_a_progress_that_is_not_a_bool_before_the_run_folder(tmp_path):
    """train(cfg, progress="no") drew the progress bars (a string is truthy), where translate_video refuses it."""
    cfg = resolve({"preset": "fast", "data": str(tmp_path), "out": str(tmp_path / "run"), "steps": 1})
    with pytest.raises(CycleGANError, match=r"^progress must be True or False, got 'no'$"):
        train(cfg, progress="no")
    assert not (tmp_path / "run").exists()


def _train_until_said(cfg_or_argv, capsys) -> str:
    """What training says (stdout and stderr, any error last) from Python (a Config) or the command line (argv)."""
    if isinstance(cfg_or_argv, list):
        main(["train", *cfg_or_argv])
        said = capsys.readouterr()
        return said.out + said.err
    try:
        train(cfg_or_argv(), progress=False)
        error = ""
    except CycleGANError as e:
        error = f"error: {e}\n"
    said = capsys.readouterr()
    return said.out + said.err + error


def test_train_from_python_names_the_keywords_it_was_given_and_the_command_line_its_flags(
    tiny_cfg, dataset, tmp_path, capsys
):
    """A Python caller of `cyclegan.train.train` was told "pass --skip-bad-images", "warning: --num-samples 9",
    "--best-by does nothing without --eval-every N", "choose another --out": flags it never typed. The command line's
    words stay its flags."""
    (dataset / "trainA" / "bad.png").write_bytes(b"not an image")
    argv = [*flags(TINY), "--data", str(dataset), "--device", "cpu", "--no-progress", "--steps", "1"]

    said = _train_until_said(lambda: tiny_cfg(steps=1), capsys)
    assert "(remove it, or pass skip_bad_images=True)" in said and "--" not in said
    assert "(remove it, or pass --skip-bad-images)" in _train_until_said([*argv, "--out", str(tmp_path / "c")], capsys)

    python = dict(steps=1, skip_bad_images=True, num_samples=9, best_by="kid")
    said = _train_until_said(lambda: tiny_cfg(**python), capsys)
    assert "warning: best_by does nothing without eval_every=N" in said
    assert "warning: num_samples=9: the sample grids show 3 A and 3 B images" in said
    assert "verdict: not scored (add eval_every=N for scores and best.pt)" in said
    assert "--" not in said
    cli = [*argv, "--out", str(tmp_path / "c"), "--skip-bad-images", "--num-samples", "9"]
    said = _train_until_said([*cli, "--best-by", "kid"], capsys)
    assert "warning: --best-by does nothing without --eval-every N" in said
    assert "warning: --num-samples 9: the sample grids show 3 A and 3 B images" in said
    assert "verdict: not scored (add --eval-every N for scores and best.pt)" in said

    said = _train_until_said(lambda: tiny_cfg(**python), capsys)  # the same run folder again
    assert said.endswith("already holds a run: add resume=True to continue it, or choose another out\n")
    said = _train_until_said(cli, capsys)
    assert said.endswith("already holds a run: add --resume to continue it, or choose another --out\n")

    for split in ("testA", "testB"):  # 5 A images: too few to set 2 aside for scoring
        shutil.rmtree(dataset / split)
    said = _train_until_said(
        lambda: tiny_cfg(steps=1, skip_bad_images=True, eval_every=1, out=str(tmp_path / "e")), capsys
    )
    assert "error: option 'eval_every': 5 domain A images are too few" in said
    assert said.endswith(", or train without eval_every\n") and "--" not in said
    said = _train_until_said([*argv, "--out", str(tmp_path / "e"), "--skip-bad-images", "--eval-every", "1"], capsys)
    assert "error: option '--eval-every': 5 domain A images are too few" in said
    assert said.endswith(", or train without --eval-every\n")


def test_a_resume_from_python_names_its_keywords_and_the_command_line_its_flags(tmp_path, capsys):
    """`prepare_config(..., resume=True)` said "--resume needs --out RUN" and "drop --resume" to a Python caller."""
    with pytest.raises(CycleGANError, match=r"^resume=True needs out=RUN \(the run folder to continue\)$"):
        prepare_config({}, resume=True, out=None)
    with pytest.raises(CycleGANError, match=r"checkpoint.pt does not exist \(drop resume=True to start a new run\)$"):
        prepare_config({}, resume=True, out=str(tmp_path))
    assert main(["train", "--resume"]) == 2
    assert capsys.readouterr().err == "error: --resume needs --out RUN (the run folder to continue)\n"
    assert main(["train", "--resume", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.endswith("checkpoint.pt does not exist (drop --resume to start a new run)\n")


def test_epochs_budget(tiny_cfg):
    result = train(tiny_cfg(epochs=2, batch_size=2), progress=False)
    assert result.step == 2 * 4  # the larger domain has 7 images: 4 steps of 2 per epoch


def test_checkpoint_contents(tiny_cfg):
    train(tiny_cfg(steps=2), progress=False)
    ckpt = load_checkpoint(tiny_cfg().train.out)
    assert {"models", "optimizers", "schedulers", "pools", "rng", "step", "epoch", "config", "package_version"} <= set(
        ckpt
    )
    assert set(ckpt["models"]) == {"G", "F", "D_X", "D_Y"}
    assert set(ckpt["optimizers"]) == {"G", "D_X", "D_Y"}
    assert ckpt["pools"]["X"]["images"].shape[0] == 3  # pool_size 3, filled by 2 steps of batch 2


def test_samples_logs_and_config_are_written(tiny_cfg):
    cfg = tiny_cfg(steps=3, sample_every=2, log_every=2)
    train(cfg, progress=False)
    run = tiny_cfg().train.out
    from pathlib import Path

    run = Path(run)
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step_0000002.png", "step_0000003.png"]
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 3]  # every 2 steps, and the last one
    assert {"D_X", "D_Y", "G_adv", "F_adv", "cycle_x", "cycle_y", "idt_x", "idt_y", "lr"} <= set(records[0])
    assert json.loads((run / "config.json").read_text())["train"]["steps"] == 3
    assert not list(run.glob(".*.tmp"))  # atomic writes leave no temporaries


def _minute_in_a_few_steps(monkeypatch) -> None:
    """The step loop's clock advanced 10 s per reading: --time-limit 1 ends a run within a few steps, and the reads
    before training (the check, the record of the files' contents: each bounded by a real alarm at the limit) are not
    cut short by a busy machine."""
    import types

    import cyclegan.train.loop as loop

    clock = _Clock(tick=10.0)
    monkeypatch.setattr(loop, "time", types.SimpleNamespace(monotonic=clock.monotonic, perf_counter=time.perf_counter))


def test_train_leaves_the_callers_random_state_as_it_was(tiny_cfg, monkeypatch):
    """train() seeded torch's global generator and left it so: a notebook's next torch.rand was the run's, not the
    notebook's. Now the caller's random state is as it was, whether the run returns or raises."""
    import cyclegan.train.loop as loop

    torch.manual_seed(123)
    expected = torch.rand(4)
    torch.manual_seed(123)
    train(tiny_cfg(steps=2), progress=False)
    assert torch.equal(torch.rand(4), expected)

    def refused(*args, **kwargs):  # after the trainer seeded the generator
        raise CycleGANError("refused")

    monkeypatch.setattr(loop, "_prepare_run_folder", refused)
    torch.manual_seed(123)
    with pytest.raises(CycleGANError, match="refused"):
        train(tiny_cfg(steps=4, out=str(tiny_cfg().train.out) + "2"), progress=False)
    assert torch.equal(torch.rand(4), expected)


def test_time_limit_stops_and_saves(tiny_cfg, monkeypatch):
    _minute_in_a_few_steps(monkeypatch)
    result = train(tiny_cfg(steps=10_000, time_limit=1), progress=False)
    assert 1 <= result.step < 10_000
    assert load_checkpoint(tiny_cfg().train.out)["step"] == result.step


def test_the_time_limit_counts_the_set_up_before_the_first_step(tiny_cfg, monkeypatch, capsys):
    """The time limit's clock started at the first step: the set-up before it (the check of the images, and with
    --eval-every timm's import for kid's features and the held-out images' reads, seconds to minutes on a slow disk)
    was not counted, and a run given a minute whose set-up took one trained a minute more. It counts now: here the
    set-up takes the whole limit, and the run stops at step 0, resumable."""
    import types

    import cyclegan.train.loop as loop

    now = [time.monotonic()]
    fake_time = types.SimpleNamespace(**{k: getattr(time, k) for k in dir(time) if not k.startswith("_")})
    fake_time.monotonic = lambda: now[0]
    monkeypatch.setattr(loop, "time", fake_time)
    real = loop.check_kid_features

    def slow(*args):  # a minute of scoring's set-up
        now[0] += 61
        return real(*args)

    monkeypatch.setattr(loop, "check_kid_features", slow)
    result = train(tiny_cfg(steps=3, eval_every=2, eval_kid=False, time_limit=1), progress=False)
    assert result.step == 0
    assert "time limit of 1 min reached at step 0/3" in capsys.readouterr().out
    assert load_checkpoint(tiny_cfg().train.out)["step"] == 0


def test_the_wait_for_a_batch_after_a_long_evaluation_gets_the_time_left_after_it(tiny_cfg, monkeypatch, capsys):
    """The wait for the next batch was bounded by the seconds left at the step's end, read before its evaluation: a
    read that hung after a 50-second evaluation could run 50 s past --time-limit (here the stale allowance let a step
    start after the limit). The seconds left are read at the wait now, after the evaluation. A fake clock: no sleep."""
    import types

    import cyclegan.train.loop as loop
    from cyclegan.train.monitor import Monitor
    from cyclegan.train.signals import StopRequest

    now = [time.monotonic()]
    deadline = now[0] + 60  # time_limit=1: the fake clock moves only where the evaluations take their time
    fake_time = types.SimpleNamespace(**{k: getattr(time, k) for k in dir(time) if not k.startswith("_")})
    fake_time.monotonic = lambda: now[0]
    monkeypatch.setattr(loop, "time", fake_time)
    evaluate, waiting = Monitor.evaluate, StopRequest.waiting
    allowed: list[tuple[float, float]] = []  # (the wait's allowance, the seconds the clock had left)

    def slow_evaluate(self):
        now[0] += 50
        return evaluate(self)

    def spied_waiting(self, *, within=None):
        allowed.append((within, deadline - now[0]))
        return waiting(self, within=within)

    monkeypatch.setattr(Monitor, "evaluate", slow_evaluate)
    monkeypatch.setattr(StopRequest, "waiting", spied_waiting)
    result = train(tiny_cfg(steps=3, eval_every=1, eval_kid=False, time_limit=1), progress=False)
    assert allowed == [(60, 60), (10, 10)]  # the third wait never began: the limit was spent in step 2's evaluation
    assert result.step == 2
    assert "time limit of 1 min reached at step 2/3" in capsys.readouterr().out
    assert load_checkpoint(tiny_cfg().train.out)["step"] == 2


def test_a_resumes_time_limit_counts_the_read_of_its_checkpoint(tiny_cfg, monkeypatch):
    """A resume's clock started after its checkpoint was read (`prepare_config`: a paper model's checkpoint with its
    optimizers is hundreds of MB, minutes on a network disk): a run given a minute whose read took one trained a
    minute more. It counts from before the read now, and a read that took the whole limit is said as such, not as
    "reached while checking the images", the checkpoint kept as it was."""
    import types

    import cyclegan.train.loop as loop
    import cyclegan.train.run_folder as run_folder

    out = tiny_cfg().train.out
    train(tiny_cfg(steps=2), progress=False)
    now = [time.monotonic()]
    fake_time = types.SimpleNamespace(**{k: getattr(time, k) for k in dir(time) if not k.startswith("_")})
    fake_time.monotonic = lambda: now[0]
    for module in (loop, run_folder):
        monkeypatch.setattr(module, "time", fake_time, raising=False)
    real = run_folder.load_checkpoint

    def slow(*args, **kwargs):  # a minute of reading
        now[0] += 61
        return real(*args, **kwargs)

    monkeypatch.setattr(run_folder, "load_checkpoint", slow)
    cfg, ckpt = prepare_config({"steps": 4, "time_limit": 1}, resume=True, out=out)
    with pytest.raises(CycleGANError) as e:
        train(cfg, ckpt=ckpt, progress=False)
    assert str(e.value).startswith(
        "time limit of 1 min reached while reading the checkpoint, before the first step; the checkpoint of step 2 "
        "is kept: allow more time with time_limit=M, or if a read hangs, check the run folder"  # Python's keyword
    )
    assert load_checkpoint(out)["step"] == 2


def test_time_limit_0_lifts_a_resumed_runs_limit(tiny_cfg, tmp_path, monkeypatch):
    # a resumed run keeps its stored --time-limit, and the option took only positive minutes: such a run stopped
    # after the same few minutes at every resume, for good (a --fit-steps run too)
    out = str(tmp_path / "run")
    with monkeypatch.context() as m:
        _minute_in_a_few_steps(m)
        train(tiny_cfg(steps=10_000, time_limit=1, fit_steps=True), progress=False)
    cfg, ckpt = prepare_config({"steps": ckpt_step(out) + 3, "time_limit": 0}, resume=True, out=out)
    assert not cfg.train.time_limit and not cfg.train.fit_steps
    assert train(cfg, ckpt=ckpt, progress=False).step == ckpt["step"] + 3  # to the end, not stopped by time


def test_the_time_limit_is_said_as_given(tiny_cfg, monkeypatch, capsys):
    # --time-limit 1 read "time limit of 1.0 min reached"
    _minute_in_a_few_steps(monkeypatch)
    result = train(tiny_cfg(steps=10_000, time_limit=1), progress=False)
    assert result.step < 10_000
    out = capsys.readouterr().out
    assert f"time limit of 1 min reached at step {result.step}/10000" in out
    # the resume it offers keeps the limit (another minute): the line says so, and how to lift it
    assert "--resume, for another 1 min; add --time-limit 0 to lift the limit)" in out


def test_the_verdict_counts_the_failure_warnings_by_that_name(tiny_cfg, dataset, capsys):
    # a run that warned of a left-out file ended with "warnings: 0": the count is the failure watcher's alone
    (dataset / "trainA" / "notes.txt").write_text("not an image")
    train(tiny_cfg(steps=1), progress=False)
    out, err = capsys.readouterr()
    assert "notes.txt" in err
    assert "\nfailure warnings: 0" in out and "\nwarnings: 0" not in out


def ckpt_step(run):
    return load_checkpoint(run)["step"]


class _Clock:
    """A monotonic clock that advances `tick` seconds per reading: timing-dependent code, deterministic."""

    def __init__(self, tick):
        self.now, self.tick = 1000.0, tick

    def monotonic(self):
        self.now += self.tick
        return self.now


@pytest.mark.slow
def test_fit_steps_ends_the_schedule_at_the_time_limit_as_a_plain_run_would(tiny_cfg, tmp_path, monkeypatch, capsys):
    """--fit-steps: the total is re-fitted to the time left while the LR is constant; the run is then exactly
    a plain run of the fitted length (same weights, LR reaching 0), and its checkpoint records that length."""
    import types

    import cyclegan.train.budget as budget
    import cyclegan.train.loop as loop

    clock = _Clock(tick=0.5)  # about one reading per step: ~0.5 s per step on this clock
    fake_time = types.SimpleNamespace(**{k: getattr(time, k) for k in dir(time) if not k.startswith("_")})
    fake_time.monotonic = clock.monotonic
    monkeypatch.setattr(loop, "time", fake_time)
    monkeypatch.setattr(budget, "time", fake_time)
    cap = 500
    fitted = tiny_cfg(out=str(tmp_path / "fit"), steps=cap, time_limit=0.5, fit_steps=True, log_every=1)
    result = train(fitted, progress=False)
    total = result.total_steps
    assert 20 < total < 60 and result.step == total  # 30 s at ~0.5 s/step, not the 500 configured
    assert f"fitting the steps to the 0.5-minute limit: {total} steps" in capsys.readouterr().out
    ckpt = load_checkpoint(tmp_path / "fit")
    assert ckpt["config"]["train"]["steps"] == total and ckpt["step"] == total
    assert json.loads((tmp_path / "fit" / "config.json").read_text())["train"]["steps"] == total  # not the cap
    lr = [json.loads(line)["lr"] for line in (tmp_path / "fit" / "log.jsonl").read_text().splitlines()]
    assert lr[-1] == 0.0 and lr[0] == fitted.train.lr
    monkeypatch.undo()
    plain = tiny_cfg(out=str(tmp_path / "plain"), steps=total, log_every=1)
    train(plain, progress=False)
    assert_same_weights(weights(tmp_path / "fit"), weights(tmp_path / "plain"))


def test_training_times_its_steps_once_the_device_has_done_them(tiny_cfg, monkeypatch):
    """On a GPU a step returns once launched: the clock of --fit-steps and of the execution record's s/step was read
    with the steps still queued. Each reading now follows a synchronisation of the run's device (recorded here)."""
    import types

    import cyclegan.train.budget as budget
    import cyclegan.train.loop as loop

    events: list = []
    sync = lambda device: events.append(("synchronize", device))  # noqa: E731
    monkeypatch.setattr(loop, "synchronize", sync)
    monkeypatch.setattr(budget, "synchronize", sync)
    fake_time = types.SimpleNamespace(**{k: getattr(time, k) for k in dir(time) if not k.startswith("_")})
    fake_time.perf_counter = lambda: events.append("clock") or time.perf_counter()
    monkeypatch.setattr(loop, "time", fake_time)
    monkeypatch.setattr(budget, "time", types.SimpleNamespace(monotonic=lambda: events.append("clock") or 0.0))
    result = train(tiny_cfg(steps=14, time_limit=10, fit_steps=True, log_every=100), progress=False)
    assert result.step == 14
    reads = [i for i, e in enumerate(events) if e == "clock"]
    assert len(reads) >= 4  # the s/step's start and end, the fit's timing and its fit at step 10
    assert all(i > 0 and events[i - 1] == ("synchronize", torch.device("cpu")) for i in reads)


@pytest.mark.slow
def test_fit_steps_is_capped_by_steps_and_needs_a_time_limit(tiny_cfg, tmp_path, capsys):
    result = train(tiny_cfg(out=str(tmp_path / "r"), steps=40, time_limit=10, fit_steps=True), progress=False)
    assert result.step == result.total_steps == 40  # ten minutes would fit far more: --steps is the most
    assert "40 steps (capped by steps)" in capsys.readouterr().out  # from Python: its keyword (`given_as`)
    with pytest.raises(CycleGANError, match="'fit_steps' .* time_limit=M"):
        tiny_cfg(out=str(tmp_path / "s"), steps=12, fit_steps=True)


def test_a_fitted_run_resumed_with_its_own_command_line_keeps_its_schedule(tiny_cfg, tmp_path):
    # the command line's --steps is the most a --fit-steps run may take: resumed with it once the LR had begun to
    # decay, the run's total became that cap, and the LR jumped back up and decayed anew
    out = str(tmp_path / "run")
    _train_steps(tiny_cfg(steps=8, time_limit=60, fit_steps=True), 6)  # as fitted to 8 steps; decays from step 4
    cfg, ckpt = prepare_config({"steps": 1000, "time_limit": 60, "fit_steps": True}, resume=True, out=out)
    assert cfg.train.steps == 8
    assert train(cfg, ckpt=ckpt, progress=False).step == 8
    lr = [json.loads(line)["lr"] for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert lr == sorted(lr, reverse=True) and lr[-1] == 0.0  # one decay, to 0
    cfg, _ = prepare_config({"steps": 1000, "fit_steps": False}, resume=True, out=out)
    assert cfg.train.steps == 1000  # without --fit-steps, --steps is the total


def test_a_resumed_fitted_run_names_its_stored_total_as_the_cap(tiny_cfg, tmp_path, capsys):
    # resumed without --steps, the cap is the total stored in the checkpoint: it said "capped by --steps"
    out = str(tmp_path / "run")
    _train_steps(tiny_cfg(steps=24, time_limit=60, fit_steps=True), 2)
    capsys.readouterr()
    cfg, ckpt = prepare_config({}, resume=True, out=out)
    assert train(cfg, ckpt=ckpt, progress=False).step == 24  # an hour fits far more: the stored total is the most
    said = capsys.readouterr().out
    assert "24 steps (capped by the total stored in its checkpoint)" in said and "--steps)" not in said


def test_a_fitted_run_of_epochs_names_epochs_as_its_cap(tiny_cfg, capsys):
    # it said "capped by --steps", an option not given (from Python: its key)
    result = train(tiny_cfg(epochs=4, time_limit=60, fit_steps=True), progress=False)
    assert result.step == result.total_steps >= 12  # an hour fits far more: the epochs are the most
    assert f"{result.step} steps (capped by epochs)" in capsys.readouterr().out


def test_a_finished_fitted_run_says_how_to_train_on(tiny_cfg, tmp_path, capsys):
    # it said "raise --steps or --epochs to go on", and resumed with a higher --steps it said the same again
    out = str(tmp_path / "run")
    train(tiny_cfg(steps=4, time_limit=60, fit_steps=True), progress=False)
    cfg, ckpt = prepare_config({"steps": 8}, resume=True, out=out)
    assert train(cfg, ckpt=ckpt, progress=False).step == 4
    assert "already trained 4 steps (total 4); give steps=N with fit_steps=False to go on" in capsys.readouterr().out
    cfg, ckpt = prepare_config({"steps": 8, "fit_steps": False}, resume=True, out=out)
    assert train(cfg, ckpt=ckpt, progress=False).step == 8  # as it said


def test_a_full_disk_names_the_command_that_goes_on_with_the_run(tiny_cfg, tmp_path, monkeypatch):
    # "resume with --resume once there is room": in the demo, which has no --resume, its own command goes on
    import errno
    import types

    import cyclegan.train.losslog as losslog

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(losslog, "json", types.SimpleNamespace(dumps=full))
    with pytest.raises(CycleGANError, match=r"log\.jsonl at step 1: No space .* \(once there is room: cyclegan demo "):
        train(tiny_cfg(steps=3), progress=False, resume_with="cyclegan demo --out x")
    with pytest.raises(CycleGANError, match=rf"once there is room: cyclegan train --out {tmp_path / 'run'} --resume\)"):
        train(tiny_cfg(steps=3), progress=False)


def test_a_full_disk_at_a_refits_config_json_is_one_line_and_keeps_the_checkpoint(tiny_cfg, tmp_path, monkeypatch):
    # --fit-steps rewrites config.json when it refits the total; a full disk there was an OSError traceback
    import errno
    import types

    import cyclegan.train.budget as budget
    import cyclegan.train.loop as loop

    clock = _Clock(tick=0.5)  # ~0.5 s a step: 500 steps do not fit in 30 s, so the first fit (step 10) refits
    fake_time = types.SimpleNamespace(**{k: getattr(time, k) for k in dir(time) if not k.startswith("_")})
    fake_time.monotonic = clock.monotonic
    monkeypatch.setattr(loop, "time", fake_time)
    monkeypatch.setattr(budget, "time", fake_time)
    real, writes = loop.write_atomic, []

    def write_atomic(path, write, **kwargs):
        writes.append(path)
        if len(writes) > 1:  # the run's first config.json, then a full disk
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, write, **kwargs)

    monkeypatch.setattr(loop, "write_atomic", write_atomic)
    out = tmp_path / "run"
    cfg = tiny_cfg(steps=500, time_limit=0.5, fit_steps=True, checkpoint_every=5)
    says = rf"cannot write {out / 'config.json'} at step 10: No space left on device; the checkpoint of step 5 is kept"
    with pytest.raises(CycleGANError, match=says):
        train(cfg, progress=False)
    assert load_checkpoint(out)["step"] == 5


def test_generator_outputs_are_computed_once_per_iteration(tiny_cfg, monkeypatch):
    trainer = CycleGANTrainer(tiny_cfg(), total_steps=4, device=torch.device("cpu"))
    before = {k: [p.clone() for p in net.parameters()] for k, net in trainer.networks.items()}
    calls = {"G": 0, "F": 0}
    for name in ("G", "F"):
        net = getattr(trainer, name)
        orig = net.forward

        def counted(x, _orig=orig, _name=name):
            calls[_name] += 1
            return _orig(x)

        monkeypatch.setattr(net, "forward", counted)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    losses = trainer.step(x, x.flip(0))
    assert calls == {"G": 3, "F": 3}  # G(x), G(F(y)), G(y) and the same for F: no recomputation
    assert all(torch.isfinite(v) for v in losses.values())
    for k, net in trainer.networks.items():  # one iteration updates all four networks
        assert any(not torch.equal(a, b) for a, b in zip(before[k], net.parameters())), f"{k} was not updated"
    assert all(p.requires_grad for p in trainer.D_X.parameters())  # update_G gives D back its gradients


def test_training_lowers_the_cycle_loss(tiny_cfg):
    """Ten iterations on one fixed pair of batches: G and F learn to reconstruct (fp32, seeded)."""
    trainer = CycleGANTrainer(tiny_cfg(), total_steps=100, device=torch.device("cpu"))
    g = torch.Generator().manual_seed(0)
    x, y = (torch.rand(2, 3, 32, 32, generator=g) * 2 - 1 for _ in range(2))
    cycle = []
    for _ in range(10):
        losses = trainer.step(x, y)
        cycle.append((losses["cycle_x"] + losses["cycle_y"]).item())
    assert cycle[-1] < 0.95 * cycle[0], cycle


def test_restored_trainer_continues_exactly(tiny_cfg, tmp_path):
    """The trainer saves its whole state and a fresh trainer restored from the file takes the next step as the
    original does: same losses, same weights (networks, optimizers, schedules, pools, dropout RNG)."""
    cpu = torch.device("cpu")
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    y = x.flip(0)
    a = CycleGANTrainer(tiny_cfg(dropout=0.5), total_steps=4, device=cpu)
    for _ in range(2):  # fills the pool (size 3): the next step draws from it
        a.step(x, y)
    path = a.save(tmp_path / "checkpoint.pt", step=2, steps_per_epoch=4)
    expected = a.step(x, y)
    b = CycleGANTrainer(tiny_cfg(dropout=0.5, seed=7), total_steps=4, device=cpu)  # other weights, pools, RNG
    ckpt = load_checkpoint(path)
    assert (ckpt["step"], ckpt["epoch"]) == (2, 0) and "ranks" not in ckpt  # one process: no per-rank states
    b.restore(ckpt)
    got = b.step(x, y)
    assert {k: v.item() for k, v in got.items()} == {k: v.item() for k, v in expected.items()}
    assert_same_weights(
        {k: n.state_dict() for k, n in a.networks.items()}, {k: n.state_dict() for k, n in b.networks.items()}
    )
    assert b.opt_G.param_groups[0]["lr"] == a.opt_G.param_groups[0]["lr"]


def test_a_checkpoint_holds_the_random_state_of_the_gpu_it_trains_on(tiny_cfg, monkeypatch):
    """The CUDA random state (dropout, DiffAugment) saved is the training GPU's, restored onto the GPU the run resumes
    on. Every GPU's (`get_rng_state_all`) stopped a run trained on cuda:1 and resumed where that GPU alone is visible
    (cuda:0 now) in torch's "tuple index out of range". The GPUs are faked: each one's state is a tensor here."""
    gpus = {0: torch.tensor([10], dtype=torch.uint8), 1: torch.tensor([11], dtype=torch.uint8)}

    def index(device) -> int:
        return device if isinstance(device, int) else torch.device(device).index

    def set_state(state, device="cuda:0"):
        if index(device) not in gpus:
            raise IndexError("tuple index out of range")
        gpus[index(device)] = state.clone()

    trainer = CycleGANTrainer(tiny_cfg(), total_steps=4, device=torch.device("cpu"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_rng_state", lambda device="cuda:0": gpus[index(device)].clone())
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: [gpus[i].clone() for i in sorted(gpus)])
    monkeypatch.setattr(torch.cuda, "set_rng_state", set_state)
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", lambda states: [set_state(s, i) for i, s in enumerate(states)])
    trainer.device = torch.device("cuda", 1)  # what is saved of the RNG follows the trainer's device alone
    ckpt = trainer.checkpoint(step=0, steps_per_epoch=4)
    gpus.clear()
    gpus[0] = torch.tensor([0], dtype=torch.uint8)  # resumed with CUDA_VISIBLE_DEVICES=1: that GPU is cuda:0 now
    trainer.device = torch.device("cuda", 0)
    trainer.restore(ckpt)
    assert list(gpus) == [0] and gpus[0].tolist() == [11]  # cuda:1's state, on the GPU that was cuda:1


def test_generator_update_leaves_discriminators_alone(tiny_cfg):
    trainer = CycleGANTrainer(tiny_cfg(), total_steps=4, device=torch.device("cpu"))
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    out = trainer.generate(x, -x)
    before = [p.clone() for p in trainer.D_Y.parameters()]
    trainer.update_G(x, -x, out)
    assert all(torch.equal(a, b) for a, b in zip(before, trainer.D_Y.parameters()))
    assert all(p.grad is None for p in trainer.D_Y.parameters())


def test_discriminators_can_learn_at_their_own_rate(tiny_cfg):
    """--lr-d (TTUR) sets the two discriminators' Adam LR; the generators keep --lr; the decay scales both alike."""
    t = CycleGANTrainer(tiny_cfg(lr=1e-4, lr_d=4e-4, lr_decay_fraction=1.0), total_steps=4, device=torch.device("cpu"))
    lrs = lambda: {k: o.param_groups[0]["lr"] for k, o in t.optimizers.items()}  # noqa: E731
    assert lrs() == {"G": 1e-4, "D_X": 4e-4, "D_Y": 4e-4}
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    t.step(x, -x)
    assert lrs() == pytest.approx({"G": 0.75e-4, "D_X": 3e-4, "D_Y": 3e-4})
    same = CycleGANTrainer(tiny_cfg(lr=1e-4), total_steps=4, device=torch.device("cpu"))
    assert {o.param_groups[0]["lr"] for o in same.optimizers.values()} == {1e-4}  # default: --lr for all


def test_linear_decay_schedule():
    f = linear_decay(10, 0.5)
    assert [f(s) for s in range(11)] == [1, 1, 1, 1, 1, 1.0, 0.8, 0.6, 0.4, 0.2, 0.0]
    assert linear_decay(10, 0.0)(9) == 1.0


def test_image_pool_returns_history_half_the_time():
    pool = ImagePool(4, seed=0)
    first = torch.arange(4.0).view(4, 1, 1, 1)
    assert torch.equal(pool.query(first), first)  # filling: returned as is
    new = torch.arange(100.0, 300.0).view(200, 1, 1, 1)
    out = pool.query(new)
    replaced = (out != new).sum().item()
    assert 70 < replaced < 130  # about half come from the stored history
    state = pool.state_dict()
    other = ImagePool(4, seed=99)
    other.load_state_dict(state)
    probe = torch.full((20, 1, 1, 1), 7.0)
    assert torch.equal(pool.query(probe), other.query(probe))


def test_missing_data_is_a_clear_error(tiny_cfg, tmp_path):
    # Two folders of one's own under --data (ROOT/horses, ROOT/zebras) said only "ROOT/trainA does not exist";
    # now the line says what --data reads and names --domain-a/--domain-b, the way to give such folders.
    (tmp_path / "horses").mkdir()
    (tmp_path / "zebras").mkdir()
    # from Python: its keywords, as a call writes them ("domain_a=DIR domain_b=DIR" read as no call does)
    with pytest.raises(CycleGANError, match="holds no trainA and no trainB .*domain_a=DIR, domain_b=DIR$"):
        train(tiny_cfg(data=str(tmp_path), steps=1), progress=False)
    (tmp_path / "trainA").mkdir()
    with pytest.raises(CycleGANError, match=r"holds no trainB \(data=ROOT reads"):
        train(tiny_cfg(data=str(tmp_path), steps=1), progress=False)
    (tmp_path / "trainB").touch()  # a file: "holds no trainB" while it holds one, a file
    with pytest.raises(
        CycleGANError, match=r"trainB is a file, not a folder of images: make it the folder of domain B"
    ):
        train(tiny_cfg(data=str(tmp_path), steps=1), progress=False)
    with pytest.raises(CycleGANError, match="training budget"):
        train(tiny_cfg(), progress=False)


def test_bad_image_stops_or_is_skipped_and_counted(tiny_cfg, dataset, capsys):
    bad = dataset / "trainA" / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff garbage")
    with pytest.raises(CycleGANError, match=f"cannot read image {bad}.*skip_bad_images=True"):
        train(tiny_cfg(steps=1), progress=False)
    train(tiny_cfg(steps=1, skip_bad_images=True), progress=False)
    err = capsys.readouterr().err
    assert "broken.jpg" in err and "1 unreadable image skipped" in err


def test_files_training_does_not_read_are_named_not_dropped_silently(tiny_cfg, dataset, capsys):
    # a GIF, a text file and a broken link in trainB were left out without a word
    from PIL import Image

    Image.new("RGB", (48, 40)).save(dataset / "trainB" / "frame.gif")
    (dataset / "trainB" / "notes.txt").write_text("x")
    (dataset / "trainB" / ".DS_Store").write_text("x")  # hidden: not named
    (dataset / "trainB" / "gone.png").symlink_to(dataset / "nowhere.png")
    train(tiny_cfg(steps=1), progress=False)
    err = capsys.readouterr().err
    assert "skipping " in err and "gone.png: a broken symbolic link" in err
    assert "trainB: 2 files left out, not of a type training reads" in err and "frame.gif, notes.txt" in err
    assert ".DS_Store" not in err


def test_a_resume_on_changed_training_images_says_it_is_not_exact(tiny_cfg, tmp_path, dataset, capsys):
    # data order is a function of (seed, sample index) and the image counts: a resume after images were added or
    # removed went on without a word, though it was no longer the run never stopped
    train(tiny_cfg(steps=2), progress=False)
    cfg, ckpt = prepare_config({"steps": 3}, resume=True, out=str(tmp_path / "run"))
    train(cfg, ckpt=ckpt, progress=False)
    assert "training images changed" not in capsys.readouterr().err  # the same folders: quiet
    (dataset / "trainA" / "img_004.png").unlink()
    cfg, ckpt = prepare_config({"steps": 4}, resume=True, out=str(tmp_path / "run"))
    train(cfg, ckpt=ckpt, progress=False)
    err = capsys.readouterr().err
    assert "warning: the training images changed since the checkpoint (A: 5 -> 4 images)" in err
    assert load_checkpoint(tmp_path / "run")["step"] == 4


def test_a_resume_on_files_swapped_for_as_many_others_says_it_is_not_exact(tiny_cfg, tmp_path, dataset, capsys):
    # the counts alone were compared: a folder whose files were replaced by as many others resumed without a word;
    # the dataset moved elsewhere (same names and sizes) stays quiet
    train(tiny_cfg(steps=1), progress=False)
    moved = tmp_path / "moved"
    dataset.rename(moved)
    cfg, ckpt = prepare_config({"steps": 2, "data": str(moved)}, resume=True, out=str(tmp_path / "run"))
    train(cfg, ckpt=ckpt, progress=False)
    assert "training images changed" not in capsys.readouterr().err
    (moved / "trainB" / "img_006.png").rename(moved / "trainB" / "other.png")
    cfg, ckpt = prepare_config({"steps": 3, "data": str(moved)}, resume=True, out=str(tmp_path / "run"))
    train(cfg, ckpt=ckpt, progress=False)
    err = capsys.readouterr().err
    assert "warning: the training images changed since the checkpoint (as many images, but other files" in err


def test_a_resume_on_images_edited_in_place_says_how_many_changed(tiny_cfg, tmp_path, dataset, capsys):
    # the names and sizes alone were compared: an image retouched and saved again at the same size (an uncompressed
    # PNG, a BMP) resumed without a word, though the run then trained on other pixels than the one never stopped
    import numpy as np
    from PIL import Image

    edited = [dataset / "trainA" / "img_001.png", dataset / "trainB" / "img_003.png"]
    for path in edited:  # stored: the file's size is its pixel count's
        Image.open(path).convert("RGB").save(path, compress_level=0)
    train(tiny_cfg(steps=1), progress=False)
    for path in edited:
        size = path.stat().st_size
        pixels = np.asarray(Image.open(path)).copy()
        pixels[0, 0] ^= 1
        Image.fromarray(pixels).save(path, compress_level=0)
        assert path.stat().st_size == size
    cfg, ckpt = prepare_config({"steps": 2}, resume=True, out=str(tmp_path / "run"))
    train(cfg, ckpt=ckpt, progress=False)
    err = capsys.readouterr().err
    assert (
        "warning: the training images changed since the checkpoint (2 files changed in place: the same name, another "
        "size or contents): the run goes on, but not exactly" in err
    )
    cfg, ckpt = prepare_config({"steps": 3}, resume=True, out=str(tmp_path / "run"))
    train(cfg, ckpt=ckpt, progress=False)
    assert "training images changed" not in capsys.readouterr().err  # its checkpoint holds the files as they are


def test_a_resume_on_a_copy_of_the_dataset_without_its_files_times_is_quiet(tiny_cfg, tmp_path, dataset, capsys):
    # `cp -r` without -p (or an archive unpacked again) gives every file a new time: the resume warned that every
    # file "changed in place", though each held the same bytes; an edit of the copy that kept its size is still said
    import shutil

    import numpy as np
    from PIL import Image

    edited = dataset / "trainA" / "img_002.png"
    Image.open(edited).convert("RGB").save(edited, compress_level=0)  # stored: its size is its pixel count's
    train(tiny_cfg(steps=1), progress=False)
    copy = tmp_path / "copy"
    shutil.copytree(dataset, copy, copy_function=shutil.copyfile)  # the bytes, not the times
    for path in copy.rglob("*.png"):
        os.utime(path, ns=(10**18, 10**18))  # however coarse the disk's clock: another time than the original's
    cfg, ckpt = prepare_config({"steps": 2, "data": str(copy)}, resume=True, out=str(tmp_path / "run"))
    train(cfg, ckpt=ckpt, progress=False)
    assert "training images changed" not in capsys.readouterr().err
    edited = copy / "trainA" / "img_002.png"
    pixels = np.asarray(Image.open(edited)).copy()
    pixels[0, 0] ^= 1
    Image.fromarray(pixels).save(edited, compress_level=0)
    cfg, ckpt = prepare_config({"steps": 3, "data": str(copy)}, resume=True, out=str(tmp_path / "run"))
    train(cfg, ckpt=ckpt, progress=False)
    assert "(1 file changed in place: the same name, another size or contents)" in capsys.readouterr().err


def test_a_checkpoint_whose_contents_were_read_apart_resumes_on_a_copy_without_a_word(
    tiny_cfg, tmp_path, dataset, capsys
):
    """A run's record of its files' contents came from a read of each file of its own (`files_record` without the
    check's digests); now it comes from the check's read. A checkpoint written the old way resumes on a copy of the
    dataset that lost its files' times, where every file's contents are compared, without the "changed" warning:
    the digest is the one it was."""
    import shutil

    from cyclegan.checkpoint import save_atomic
    from cyclegan.train.inputs import files_record

    train(tiny_cfg(steps=1), progress=False)
    run = tmp_path / "run"
    a, b = sorted((dataset / "trainA").iterdir()), sorted((dataset / "trainB").iterdir())
    ckpt = torch.load(run / "checkpoint.pt", weights_only=True)
    save_atomic({**ckpt, "train_stamps": files_record(a, b)[1]}, run / "checkpoint.pt")  # each file read apart
    copy = tmp_path / "copy"
    shutil.copytree(dataset, copy, copy_function=shutil.copyfile)  # the bytes, not the times
    for path in copy.rglob("*.png"):
        os.utime(path, ns=(10**18, 10**18))
    cfg, ckpt = prepare_config({"steps": 2, "data": str(copy)}, resume=True, out=str(run))
    train(cfg, ckpt=ckpt, progress=False)
    assert load_checkpoint(run)["step"] == 2 and "training images changed" not in capsys.readouterr().err


@pytest.mark.parametrize("set_back_to", ["the checkpoint's time", "an earlier time"])
def test_an_image_edited_in_place_with_its_time_set_back_is_said(tiny_cfg, tmp_path, dataset, capsys, set_back_to):
    """An image edited in place at the same size, its time then set back (`touch -r`, a sync keeping times): a resume
    took the contents its checkpoint holds for a file at that very size and time, so an edit given back the
    checkpoint's time went unsaid. The image check's digest of the bytes it decoded comes first now: said either
    way."""
    import numpy as np
    from PIL import Image

    edited = dataset / "trainA" / "img_002.png"
    Image.open(edited).convert("RGB").save(edited, compress_level=0)  # stored: its size is its pixel count's
    train(tiny_cfg(steps=1), progress=False)
    st = edited.stat()
    pixels = np.asarray(Image.open(edited)).copy()
    pixels[0, 0] ^= 1
    Image.fromarray(pixels).save(edited, compress_level=0)
    assert edited.stat().st_size == st.st_size
    ns = st.st_mtime_ns if set_back_to == "the checkpoint's time" else st.st_mtime_ns - 10**10
    os.utime(edited, ns=(ns, ns))
    cfg, ckpt = prepare_config({"steps": 2}, resume=True, out=str(tmp_path / "run"))
    train(cfg, ckpt=ckpt, progress=False)
    assert "(1 file changed in place: the same name, another size or contents)" in capsys.readouterr().err


def test_a_resume_reads_no_file_too_big_for_the_check_to_hash_at_its_checkpoint_s_size_and_time(
    tiny_cfg, tmp_path, dataset, monkeypatch
):
    """A file over `DIGESTED_IN_MEMORY` (a scan of hundreds of MB) is decoded from the file, not hashed by the check:
    a resume takes its contents from the checkpoint at the same size and time, and reads it again only where one of
    them changed."""
    import cyclegan.data.io as io_module
    import cyclegan.train.inputs as inputs

    monkeypatch.setattr(io_module, "DIGESTED_IN_MEMORY", 0)  # every file too big to hash in the check
    train(tiny_cfg(steps=1), progress=False)
    read, real_digest = [], inputs.file_digest
    monkeypatch.setattr(inputs, "file_digest", lambda path, **kw: read.append(path) or real_digest(path, **kw))
    touched = dataset / "trainB" / "img_003.png"
    os.utime(touched, ns=(10**18, 10**18))
    cfg, ckpt = prepare_config({"steps": 2}, resume=True, out=str(tmp_path / "run"))
    train(cfg, ckpt=ckpt, progress=False)
    assert read == [touched]


def test_one_stat_of_each_training_file_serves_the_resume_s_digest_and_stamps(dataset, monkeypatch):
    """The names-and-sizes digest (files swapped for others) and the stamps (files edited in place) each stat'ed every
    training file: a folder of 10000 images on a network disk paid 20000 round trips at each start. One listing feeds
    both now, each telling what it told before; the files' contents are read only where their size or time is not
    the checkpoint's."""
    from pathlib import Path

    import cyclegan.train.inputs as inputs
    from cyclegan.train.inputs import changed_in_place, files_digest, files_record

    a, b = sorted((dataset / "trainA").iterdir()), sorted((dataset / "trainB").iterdir())
    stat_of, real = [], Path.stat
    monkeypatch.setattr(Path, "stat", lambda self, **kw: stat_of.append(self) or real(self, **kw))
    digest, stamps = files_record(a, b)
    assert sorted(stat_of) == sorted(a + b)  # one stat a file
    monkeypatch.undo()
    assert digest == files_digest(a, b) and stamps.shape == (len(a) + len(b), 4)
    read, real_digest = [], inputs.file_digest
    monkeypatch.setattr(inputs, "file_digest", lambda path, **kw: read.append(path) or real_digest(path, **kw))
    assert changed_in_place(stamps, files_record(a, b, before=stamps)[1]) == (0, 0) and read == []  # none read again
    os.utime(a[1], ns=(10**18, 10**18))  # copied without its time: the same name, size and bytes
    digest_now, stamps_now = files_record(a, b, before=stamps)
    assert read == [a[1]]  # that file alone read
    assert digest_now == digest and changed_in_place(stamps, stamps_now) == (0, 0)
    data = bytearray(a[1].read_bytes())
    data[-20] ^= 1
    a[1].write_bytes(bytes(data))  # edited in place: the same name and size, other bytes
    assert changed_in_place(stamps, files_record(a, b, before=stamps_now)[1]) == (1, 0)
    a[2].write_bytes(a[2].read_bytes() + b"more")  # another size: the digest tells it
    assert files_record(a, b)[0] != digest


def _opened(monkeypatch, files: list) -> dict:
    """The opens of `files` from here on, counted per file, through `os.open` (the image check's) and `open` (any
    other read: a digest's, PIL's by name, `Path.read_bytes`)."""
    import builtins
    import io
    from pathlib import Path

    watched = {str(p.resolve()) for p in files}
    counts: dict = {}

    def counting(real):
        def opening(path, *args, **kwargs):
            if isinstance(path, (str, os.PathLike)) and (name := str(Path(path).resolve())) in watched:
                counts[name] = counts.get(name, 0) + 1
            return real(path, *args, **kwargs)

        return opening

    monkeypatch.setattr(os, "open", counting(os.open))
    monkeypatch.setattr(builtins, "open", counting(builtins.open))
    monkeypatch.setattr(io, "open", counting(io.open))
    return counts


@pytest.mark.parametrize("kind", ["png", "bmp"])
def test_a_new_run_reads_each_training_file_once_before_training(tiny_cfg, dataset, monkeypatch, kind):
    """A new run decoded each training file in the image check, then read its bytes again for the contents a resume
    compares (`files_record`): a second pass over the dataset before the first step, on a network disk or a big
    folder as long as the first; files of one size (BMPs) were read a third time, by the check for copies
    (`identical_files`). The check now hashes the bytes it decodes, and the others use its digests: each file is
    read once, and the record holds the contents a read of each file gives (as the old code wrote them, so its
    checkpoints still match)."""
    from PIL import Image

    import cyclegan.train.loop as loop
    from cyclegan.train.inputs import files_record

    for path in [*dataset.glob("train[AB]/*.png")] if kind == "bmp" else []:  # all of one size, as the check finds
        Image.open(path).save(path.with_suffix(".bmp"))
        path.unlink()
    a, b = sorted((dataset / "trainA").iterdir()), sorted((dataset / "trainB").iterdir())
    assert kind == "png" or len({p.stat().st_size for p in a + b}) == 1
    counts = _opened(monkeypatch, a + b)
    before_training, build = {}, loop._build_trainer
    monkeypatch.setattr(loop, "_build_trainer", lambda *x, **k: before_training.update(counts) or build(*x, **k))
    train(tiny_cfg(steps=1), progress=False)
    assert before_training == {str(p.resolve()): 1 for p in a + b}
    monkeypatch.undo()
    stamps = load_checkpoint(dataset.parent / "run")["train_stamps"]
    assert torch.equal(stamps, files_record(a, b)[1])  # the contents as each file's own read hashes them


def test_the_checks_digests_serve_the_record_only_at_the_size_and_time_they_were_read(dataset, monkeypatch):
    """The image check's digest of a file stands for its contents only while the file keeps the size and time it had
    then: one written since (the same size, another time) is read again, so the record holds its new contents."""
    import cyclegan.train.inputs as inputs
    from cyclegan.data import check_images
    from cyclegan.train.inputs import files_record

    a, b = sorted((dataset / "trainA").iterdir()), sorted((dataset / "trainB").iterdir())
    digests = {}
    check_images(a + b, skip_bad=False, desc="", progress=False, digests=digests)
    read, real_digest = [], inputs.file_digest
    monkeypatch.setattr(inputs, "file_digest", lambda path, **kw: read.append(path) or real_digest(path, **kw))
    _, stamps = files_record(a, b, checked=digests)
    assert read == [] and torch.equal(stamps, files_record(a, b)[1])
    read.clear()
    data = bytearray(a[1].read_bytes())
    data[-20] ^= 1
    a[1].write_bytes(bytes(data))  # the same size, other bytes, after the check
    os.utime(a[1], ns=(10**18, 10**18))  # however coarse the disk's clock: another time than the check saw
    _, stamps_now = files_record(a, b, checked=digests)
    assert read == [a[1]] and torch.equal(stamps_now, files_record(a, b)[1])
    assert not torch.equal(stamps_now[1], stamps[1])


def test_a_checkpoint_whose_file_stamps_are_damaged_still_resumes(tiny_cfg, tmp_path, capsys):
    # train_stamps shaped otherwise (an edited file) ended the resume in a ValueError from dict(); the names and sizes'
    # digest stands in for it
    from cyclegan.checkpoint import save_atomic

    run = tmp_path / "run"
    train(tiny_cfg(steps=1), progress=False)
    ckpt = torch.load(run / "checkpoint.pt", weights_only=True)
    save_atomic({**ckpt, "train_stamps": torch.zeros(3)}, run / "checkpoint.pt")
    cfg, ckpt = prepare_config({"steps": 2}, resume=True, out=str(run))
    train(cfg, ckpt=ckpt, progress=False)
    assert load_checkpoint(run)["step"] == 2 and "training images changed" not in capsys.readouterr().err


def test_train_max_pixels_sets_the_decode_cap_of_the_check_and_the_reads(dataset, tmp_path, capsys, monkeypatch):
    # training had no --max-pixels: an image over the readers' 100 MP cap (a 108 MP camera's) was refused with no
    # way round it; now the cap is the run's, in the check before training and in the training set's reads
    import cyclegan.data.dataset as data_module

    args = ["train", "--data", str(dataset), "--ngf", "8", "--ndf", "8", "--n-blocks", "1", "--size", "32"]
    args += ["--batch-size", "2", "--num-workers", "0", "--num-samples", "0", "--steps", "1", "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "a"), "--max-pixels", "1000"]) == 2  # the images are 48 x 40
    err = capsys.readouterr().err
    assert "img_000.png: it declares 48x40 pixels" in err
    assert "give a larger --max-pixels to read it (remove it, or pass --skip-bad-images)" in err
    real_read, caps = data_module.read_image, []

    def read(path, **kwargs):
        caps.append(kwargs.get("max_pixels"))
        return real_read(path, **kwargs)

    monkeypatch.setattr(data_module, "read_image", read)
    assert main([*args, "--out", str(tmp_path / "b"), "--max-pixels", "1920"]) == 0  # exactly the images' pixels
    assert caps and set(caps) == {1920}


def test_a_new_run_over_one_stopped_before_its_first_checkpoint_keeps_its_config(tiny_cfg, tmp_path, capsys):
    # its config.json, the one record of that run's options, was replaced without a word by a run with other options
    out = tmp_path / "run"
    train(tiny_cfg(steps=1), progress=False)
    (out / "checkpoint.pt").unlink()  # as a run killed before its first checkpoint leaves the folder
    kept = (out / "config.json").read_text()
    with pytest.raises(
        CycleGANError,
        match=r"holds the config.json of a run that stopped before its first checkpoint, "
        r"with other options \('ngf' 8, not 16\): choose another out, or remove",
    ):
        train(tiny_cfg(steps=1, ngf=16), progress=False)
    assert (out / "config.json").read_text() == kept
    train(tiny_cfg(steps=2), progress=False)  # the same run again (more steps): a restart, as before
    assert load_checkpoint(out)["step"] == 2


def test_a_new_run_into_a_folder_with_another_tools_config_json_is_refused(tiny_cfg, tmp_path):
    # `--out .` in a project folder replaced its config.json (another tool's) without a word
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text('{"editor.tabSize": 4}')
    with pytest.raises(
        CycleGANError, match="holds a config.json that this version does not read as a run's configuration"
    ):
        train(tiny_cfg(steps=1), progress=False)
    assert (out / "config.json").read_text() == '{"editor.tabSize": 4}'


def test_resume_with_out_naming_the_checkpoint_file_names_the_run_folder(tiny_cfg, tmp_path):
    # `--out runs/x/checkpoint.pt --resume` said "nothing to resume: runs/x/checkpoint.pt/checkpoint.pt does not exist"
    train(tiny_cfg(steps=1), progress=False)
    ckpt = tmp_path / "run" / "checkpoint.pt"
    with pytest.raises(CycleGANError, match=f"'out': {ckpt} is a file; .* give out='{tmp_path / 'run'}'$"):  # Python
        prepare_config({"steps": 2}, resume=True, out=str(ckpt))


def test_out_named_as_an_image_is_refused_not_made_a_run_folder(tiny_cfg, tmp_path):
    """`train --out run.png` made a run folder named run.png, without a word (as `translate --out x.png` did)."""
    out = tmp_path / "run.png"
    with pytest.raises(CycleGANError) as e:
        train(tiny_cfg(steps=1, out=str(out)), progress=False)
    assert str(e.value) == (
        f"out {out} names a .png file, but out is the folder the run's checkpoint, config, logs and samples "
        f"are written into; give a folder, e.g. out {tmp_path / 'run'}"
    )
    assert not out.exists()


def test_resume_with_an_unchanged_list_option_is_not_a_change(tiny_cfg, tmp_path):
    # the same --nce-layers as the run's was refused: the flag's list [0, 4, 8, 12] differed from the stored tuple
    train(tiny_cfg(steps=1, family="cut", pool_size=0), progress=False)
    layers = list(load_checkpoint(tmp_path / "run")["config"]["cut"]["nce_layers"])
    cfg, _ = prepare_config({"steps": 2, "nce_layers": layers}, resume=True, out=str(tmp_path / "run"))
    assert cfg.cut.nce_layers == tuple(layers)
    with pytest.raises(CycleGANError, match="option 'nce_layers' cannot change on resume"):
        prepare_config({"steps": 2, "nce_layers": layers[:-1]}, resume=True, out=str(tmp_path / "run"))


def test_resume_refusal_says_the_runs_value_as_the_option_is_typed(tiny_cfg, tmp_path):
    # "the run uses (0, 4, 8, 12, 16)", "the run uses True", "the run uses None": neither the flags nor the keys
    train(tiny_cfg(steps=1, family="cut", pool_size=0), progress=False)
    stored = load_checkpoint(tmp_path / "run")["config"]
    layers = tuple(stored["cut"]["nce_layers"])
    flip, norm = stored["data"]["flip"], stored["model"]["norm"]
    for key, other, typed, keyword in [
        ("nce_layers", [1], f"--nce-layers {' '.join(map(str, layers))}", f"nce_layers={layers}"),
        ("flip", not flip, "--flip" if flip else "--no-flip", f"flip={flip}"),
        ("unet_levels", 5, None, None),
        ("norm", "batch", f"--norm {norm}", f"norm={norm!r}"),
    ]:
        for as_flags, says in ((True, typed or "--unet-levels"), (False, keyword or "unet_levels")):
            says = f"(the run uses {says});" if typed else f"(the run leaves {says} not set);"
            with named_as_flags() if as_flags else contextlib.nullcontext():  # a command line's, or Python's
                with pytest.raises(CycleGANError, match=re.escape(f"option '{key}' cannot change on resume {says}")):
                    prepare_config({"steps": 2, key: other}, resume=True, out=str(tmp_path / "run"))
    # a key that is no option is named as one, not "cannot change on resume (the run uses None)"
    with pytest.raises(CycleGANError, match="^unknown option 'n_block'"):
        prepare_config({"steps": 2, "n_block": 3}, resume=True, out=str(tmp_path / "run"))


def test_resume_with_an_option_of_another_family_says_it_does_nothing_for_the_run(tiny_cfg, tmp_path):
    # `--resume --lambda-l1 5` on a CycleGAN run was refused as a change ("the run uses --lambda-l1 100.0"), as if
    # the run held a pix2pix weight to keep; a new run says the option is pix2pix's
    train(tiny_cfg(steps=1), progress=False)
    run = str(tmp_path / "run")
    says = "^option 'lambda_l1' applies to family='pix2pix', not to family='cyclegan'$"  # from Python: its keywords
    with pytest.raises(CycleGANError, match=says):
        prepare_config({"steps": 2, "lambda_l1": 5.0}, resume=True, out=run, typed=("lambda_l1",))
    with pytest.raises(CycleGANError, match="^option 'lambda_nce' applies to family='cut' or 'fastcut', not to"):
        prepare_config({"steps": 2, "lambda_nce": 2.0}, resume=True, out=run)
    # the family: a change, said first in either order (`--lambda-l1 5 --model pix2pix` said "--lambda-l1 cannot
    # change (the run uses --lambda-l1 100.0)", a weight the CycleGAN run never used)
    for overrides in ({"family": "pix2pix", "lambda_l1": 5.0}, {"lambda_l1": 5.0, "family": "pix2pix"}):
        with pytest.raises(CycleGANError, match="^option 'family' cannot change on resume"):
            prepare_config({"steps": 2, **overrides}, resume=True, out=run, typed=tuple(overrides))


def test_a_sample_grid_that_cannot_be_written_is_a_warning_not_the_end_of_the_run(tiny_cfg, tmp_path, capsys):
    # an OSError writing a grid (a full disk; here samples/ is a file) ended the run in a traceback, the steps
    # since the last checkpoint lost
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "samples").write_text("not a folder")
    result = train(tiny_cfg(steps=2, sample_every=1), progress=False)
    assert result.step == 2 and load_checkpoint(tmp_path / "run")["step"] == 2
    err = capsys.readouterr().err
    assert f"warning: cannot write the sample grid {tmp_path / 'run' / 'samples' / 'step_0000001.png'}" in err


def test_a_resume_naming_the_folders_another_way_drops_the_stored_way(tiny_cfg, tmp_path, dataset):
    # --domain-a/-b on resume kept the stored --data beside them, and the pair then won over a later --data,
    # which was silently ignored
    train(tiny_cfg(steps=1), progress=False)
    out = str(tmp_path / "run")
    folders = {"domain_a": str(dataset / "trainA"), "domain_b": str(dataset / "trainB")}
    cfg, ckpt = prepare_config({"steps": 2, **folders}, resume=True, out=out)
    assert cfg.data.data is None and cfg.data.domain_a == folders["domain_a"]
    train(cfg, ckpt=ckpt, progress=False)
    cfg, _ = prepare_config({"steps": 3, "data": str(dataset)}, resume=True, out=out)
    assert (cfg.data.data, cfg.data.domain_a, cfg.data.domain_b) == (str(dataset), None, None)


def test_the_resume_command_printed_after_a_stop_runs_as_printed(tiny_cfg, tmp_path, capsys):
    # "--out my run --resume": a folder with a space was printed unquoted, a command that names another folder
    _train_steps(tiny_cfg(out=str(tmp_path / "my run"), steps=3), 1)
    line = next(x for x in capsys.readouterr().err.splitlines() if "Continue with: " in x)
    command = shlex.split(line.split("Continue with: cyclegan ")[1])
    assert command[:3] == ["train", "--out", str(tmp_path / "my run")]
    assert main([*command, "--no-progress"]) == 0
    assert load_checkpoint(tmp_path / "my run")["step"] == 3


def test_a_new_run_hides_the_tensorboard_events_of_one_killed_before_its_first_checkpoint(tiny_cfg, tmp_path):
    # log.jsonl was trimmed for the new run, but TensorBoard showed the killed run's curves beside the new ones
    accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(tmp_path / "run" / "tensorboard")) as w:  # the killed run's events
        for step in (1, 2, 3):
            w.add_scalar("lr", 100.0, step)
    for f in (tmp_path / "run" / "tensorboard").iterdir():  # older than the new run's file
        f.rename(f.with_name("events.out.tfevents.0000000001.killed.1.0"))
    train(tiny_cfg(steps=2), progress=False)
    events = accumulator.EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    assert [(e.step, e.value < 1) for e in events.Scalars("lr")] == [(1, True), (2, True)]  # the new run's alone


def test_an_empty_test_folder_says_what_to_do(tiny_cfg, dataset):
    # testA is optional, but an empty one stopped the run with "holds no images" and no way out named
    for f in (dataset / "testA").iterdir():
        f.unlink()
    with pytest.raises(CycleGANError, match=r"test folder .*testA holds no images .*add images, or remove the folder"):
        train(tiny_cfg(steps=1), progress=False)


def test_a_run_folder_whose_name_is_not_utf8_trains_and_resumes(tiny_cfg, tmp_path, capsys):
    # TensorBoard's writer failed on the name (a UnicodeEncodeError traceback), and torch.load could not open
    # the checkpoint by it: a resume said the file was "not a file saved by torch.save"
    out = tmp_path / os.fsdecode(b"run\xff")
    try:
        out.mkdir()
    except (OSError, UnicodeError):
        pytest.skip("this file system takes UTF-8 names only")
    train(tiny_cfg(out=str(out), steps=1), progress=False)
    assert "TensorBoard takes UTF-8 folder names only" in capsys.readouterr().err
    cfg, ckpt = prepare_config({"steps": 2}, resume=True, out=str(out))
    assert train(cfg, ckpt=ckpt, progress=False).step == 2


@pytest.mark.parametrize("workers", [0, pytest.param(1, marks=pytest.mark.slow)])
def test_an_image_gone_while_training_stops_with_the_steps_saved(tiny_cfg, tmp_path, dataset, monkeypatch, workers):
    # an image moved or deleted after the check before training: a traceback (from a loader process, its whole
    # text on one line) and the steps since the last checkpoint lost
    real_step, moved = CycleGANTrainer.step, tmp_path / "moved"

    def step(self, x, y):
        out = real_step(self, x, y)
        if not moved.exists():
            (dataset / "trainA").rename(moved)
        return out

    monkeypatch.setattr(CycleGANTrainer, "step", step)
    with pytest.raises(CycleGANError) as e:
        train(tiny_cfg(steps=50, num_workers=workers), progress=False)
    saved = load_checkpoint(tmp_path / "run")["step"]
    assert 1 <= saved < 50
    assert str(e.value).startswith(f"image not found: {dataset / 'trainA'}")
    assert f"the run stopped, its checkpoint saved at step {saved}: put the image back and cyclegan" in str(e.value)
    assert "Traceback" not in str(e.value)
    monkeypatch.undo()
    moved.rename(dataset / "trainA")
    cfg, ckpt = prepare_config({"steps": saved + 1}, resume=True, out=str(tmp_path / "run"))
    assert train(cfg, ckpt=ckpt, progress=False).step == saved + 1


def test_resume_with_the_preset_naming_the_runs_family_is_not_a_change(tiny_cfg, tmp_path):
    # the run's own command line + --resume: `--preset cut` (the paper's recipe for --model cut) was refused, "the
    # run uses 'paper'"
    train(tiny_cfg(steps=1, preset="cut", pool_size=0), progress=False)
    out = str(tmp_path / "run")
    for same in ("cut", "paper"):
        assert prepare_config({"steps": 2, "preset": same}, resume=True, out=out)[0].model.family == "cut"
    for other in ("fastcut", "fast"):
        with pytest.raises(
            CycleGANError, match="'preset' cannot change on resume \\(the run uses preset='paper', family='cut'"
        ):
            prepare_config({"steps": 2, "preset": other}, resume=True, out=out)


@pytest.mark.parametrize(
    "a, b, how",
    [("trainA", "trainA", "the same folder as"), (".", "trainB", "inside"), ("trainB", ".", "a folder holding")],
)
def test_domain_folders_one_inside_the_other_are_refused(tiny_cfg, dataset, tmp_path, a, b, how):
    # folders are read with their sub-folders: --domain-a ROOT --domain-b ROOT/trainB trained B's images (and the
    # test images) as domain A too, and the same folder twice trained a domain to itself, without a word
    folders = {"data": None, "domain_a": str(dataset / a), "domain_b": str(dataset / b)}
    with pytest.raises(CycleGANError, match=f"option 'domain_b': .* is {how} domain_a .*give two separate folders"):
        train(tiny_cfg(steps=1, **folders), progress=False)
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks")
@pytest.mark.parametrize("split", ["train", "test"])
def test_a_dataset_whose_two_domains_are_one_folder_through_a_link_is_refused(tiny_cfg, dataset, tmp_path, split):
    """ROOT/trainA a link to ROOT/trainB (or testA to testB) trained each domain to itself without a word, as
    --domain-a and --domain-b naming one folder did before it was refused."""
    import shutil

    shutil.rmtree(dataset / f"{split}A")
    (dataset / f"{split}A").symlink_to(dataset / f"{split}B", target_is_directory=True)
    with pytest.raises(
        CycleGANError,
        match=f"option 'data': .*{split}B is the same folder as .*{split}A \\(through a link\\): .* separate folders",
    ):
        train(tiny_cfg(steps=1), progress=False)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("split", ["train", "test"])
def test_a_dataset_whose_two_domains_are_copies_of_one_folder_is_refused(tiny_cfg, dataset, tmp_path, split):
    """trainB made with `cp -r trainA trainB` (or testB from testA) trained each domain to itself without a word:
    the generators learn to change nothing. A link was refused; a copy is too, by its files' bytes."""
    import shutil

    shutil.rmtree(dataset / f"{split}B")
    shutil.copytree(dataset / f"{split}A", dataset / f"{split}B")
    n = {"train": 5, "test": 3}[split]
    with pytest.raises(
        CycleGANError, match=f"{n} of .*{split}B's {n} images are copies of .*{split}A's .*change nothing"
    ):
        train(tiny_cfg(steps=1), progress=False)
    assert not (tmp_path / "run").exists()


def test_a_few_images_in_both_domains_are_named(tiny_cfg, dataset, capsys):
    """Two images of trainA also in trainB (under other names): each is a target of its own translation. Named in
    one warning; the run goes on, and two distinct folders say nothing."""
    import shutil

    from cyclegan.train.inputs import training_images

    training_images(tiny_cfg(), progress=False, main=True)
    assert "copies" not in capsys.readouterr().err
    for i in range(2):
        shutil.copy(dataset / "trainA" / f"img_00{i}.png", dataset / "trainB" / f"z_{i}.png")
    training_images(tiny_cfg(), progress=False, main=True)
    err = capsys.readouterr().err
    assert f"warning: 2 of {dataset / 'trainB'}'s 9 images are copies of {dataset / 'trainA'}'s (5)" in err
    assert f"{dataset / 'trainB' / 'z_0.png'} = {dataset / 'trainA' / 'img_000.png'}, ..." in err


def test_copies_within_one_domain_are_named_once_per_folder_with_one_pair(tiny_cfg, dataset, capsys):
    """An image saved twice in trainA (the same bytes under two names) was drawn twice as often without a word; copies
    between the domains were already named. One warning per folder: the count and one pair, names escaped."""
    import shutil

    from cyclegan.train.inputs import training_images

    for name in ("dup_0.png", "dup_1.png"):
        shutil.copy(dataset / "trainA" / "img_000.png", dataset / "trainA" / name)
    shutil.copy(dataset / "trainB" / "img_001.png", dataset / "trainB" / "x\ny.png")
    training_images(tiny_cfg(), progress=False, main=True)
    lines = capsys.readouterr().err.splitlines()
    a, b = dataset / "trainA", dataset / "trainB"
    assert lines == [
        f"warning: 2 of {a}'s 7 images are copies of another there: {a / 'dup_1.png'} = {a / 'dup_0.png'}, ...: "
        "each copy is drawn as often as another image",
        f"warning: 1 of {b}'s 8 images is a copy of another there: {b / 'x'}\\ny.png = {b / 'img_001.png'}: "
        "each copy is drawn as often as another image",
    ], lines
    # in the test split, which is scored, not drawn from: said so (it said "drawn" there too)
    shutil.copy(dataset / "testA" / "img_000.png", dataset / "testA" / "dup.png")
    training_images(tiny_cfg(), progress=False, main=True)
    t = dataset / "testA"
    assert (
        f"warning: 1 of {t}'s 4 images is a copy of another there: {t / 'img_000.png'} = {t / 'dup.png'}: each copy "
        "weighs in the scores as much as another image"
    ) in capsys.readouterr().err.splitlines()


def test_an_image_gone_before_the_first_step_writes_no_checkpoint(tiny_cfg, tmp_path, dataset, monkeypatch):
    import cyclegan.train.loop as loop

    prepare = loop._prepare_run_folder

    def prepare_then_move(run, images):  # after the check, before the first batch
        out = prepare(run, images)
        (dataset / "trainA").rename(tmp_path / "moved")
        return out

    monkeypatch.setattr(loop, "_prepare_run_folder", prepare_then_move)
    with pytest.raises(CycleGANError, match="image not found: .*the run stopped before its first checkpoint"):
        train(tiny_cfg(steps=5), progress=False)
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_num_samples_0_trains_without_sample_grids(tiny_cfg, tmp_path, capsys):
    # --num-samples 0 passed the option's range (>= 0) and then crashed: "stack expects a non-empty TensorList"
    result = train(tiny_cfg(steps=2, num_samples=0, sample_every=1), progress=False)
    assert result.step == 2 and not (tmp_path / "run" / "samples").exists()
    assert "no samples (num_samples=0)" in capsys.readouterr().out


def test_a_bad_test_image_stops_before_training_or_is_skipped(tiny_cfg, dataset, tmp_path, capsys):
    # testA/testB give the sample grids and the --eval-every set: a broken one was read only there, after the
    # run folder was made, without the remedy, and --skip-bad-images did not skip it
    bad = dataset / "testA" / "img_000.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(CycleGANError, match=f"cannot read image {bad}.*skip_bad_images=True"):
        train(tiny_cfg(steps=1), progress=False)
    assert not (tmp_path / "run" / "config.json").exists()  # stopped before the run folder was written
    result = train(
        tiny_cfg(steps=1, skip_bad_images=True, eval_every=1, eval_kid=False, best_by="cycle_psnr"), progress=False
    )
    assert result.step == 1
    err = capsys.readouterr().err
    assert "testA/img_000.png" in err and "1 unreadable image skipped" in err


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_saves_a_resumable_checkpoint(tmp_path, dataset):
    """A real process gets SIGINT mid-run, saves, exits 130; --resume finishes the run."""
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "cyclegan",
        "train",
        "--data",
        str(dataset),
        "--out",
        str(out),
        "--ngf",
        "4",
        "--ndf",
        "4",
        "--n-blocks",
        "1",
        "--size",
        "24",
        "--batch-size",
        "1",
        "--steps",
        "100000",
        "--num-workers",
        "1",
        "--log-every",
        "1",
        "--no-progress",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = out / "log.jsonl"
    deadline = time.time() + 120
    while not (log.exists() and log.read_text().count("\n") >= 3) and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "--resume" in err
    step = load_checkpoint(out)["step"]
    assert step >= 3
    assert main(["train", "--out", str(out), "--resume", "--steps", str(step + 2), "--no-progress"]) == 0
    assert load_checkpoint(out)["step"] == step + 2


@pytest.mark.parametrize("cut", ["between steps", "inside a save"])
def test_a_second_ctrl_c_names_the_checkpoint_it_leaves(tiny_cfg, tmp_path, monkeypatch, capsys, cut):
    """The second Ctrl-C stops at once: it said "interrupted" (or, inside torch.save, gave torch's "unexpected pos"
    traceback) without naming the checkpoint kept, which the first Ctrl-C names."""
    from cyclegan.train.run_folder import Run

    real = Run.save

    def save(self, trainer, step, **kw):
        if step == 3 and cut == "inside a save":
            try:
                raise KeyboardInterrupt
            except KeyboardInterrupt:
                raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos") from None
        path = real(self, trainer, step, **kw)
        if step == 2 and cut == "between steps":
            raise KeyboardInterrupt
        return path

    monkeypatch.setattr(Run, "save", save)
    run = tmp_path / "run"
    with pytest.raises(SystemExit) as stop:
        train(tiny_cfg(steps=6, checkpoint_every=1), progress=False)
    assert stop.value.code == 130
    err = capsys.readouterr().err
    assert f"the checkpoint {run / 'checkpoint.pt'} is kept. Continue with: cyclegan train --out {run} --resume" in err
    monkeypatch.undo()
    assert load_checkpoint(run)["step"] == 2 and not [p for p in run.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("where", ["trainA", "trainB/runs/x", "testA"])
def test_a_run_folder_inside_its_image_folders_is_refused_before_anything_is_written(tiny_cfg, dataset, where):
    """Its sample grids would become training images of the next run (found by a user's walk); beside them in
    the dataset's root (`--data . --out runs/x`) is fine."""
    (dataset / "testA").mkdir(exist_ok=True)
    out = dataset / where
    before = sorted(p.relative_to(dataset) for p in dataset.rglob("*"))
    with pytest.raises(CycleGANError, match="option 'out': .* is inside the image folder .* training images"):
        train(tiny_cfg(out=str(out), steps=2), progress=False)
    assert sorted(p.relative_to(dataset) for p in dataset.rglob("*")) == before
    assert train(tiny_cfg(out=str(dataset / "runs" / "x"), steps=1), progress=False).step == 1


@pytest.mark.slow
def test_a_full_disk_stops_training_in_one_line_and_keeps_the_last_checkpoint(tiny_cfg, tmp_path, monkeypatch, capsys):
    """torch.save reports a failed write as a RuntimeError of its own ("unexpected pos"); the user gets the
    disk's own reason in one line, and the checkpoint of the step before stays whole (found by a user's walk)."""
    import errno

    import cyclegan.checkpoint as checkpoint

    class Full:
        """A file on a disk that fills up after `room` bytes."""

        def __init__(self, path, mode, room):
            self.f, self.room = open(path, mode), room

        def write(self, b):
            self.room -= len(b)
            if self.room < 0:
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.f.write(b)

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    saves = []

    def fake_open(path, mode="r", *args, **kwargs):
        saves.append(path)
        return Full(path, mode, room=10**12 if len(saves) == 1 else 1000)

    monkeypatch.setattr(checkpoint, "open", fake_open, raising=False)
    run = tmp_path / "run"
    with pytest.raises(CycleGANError, match=r"cannot write the checkpoint .* at step 2: No space left on device"):
        train(tiny_cfg(steps=4, checkpoint_every=1), progress=False)
    monkeypatch.undo()
    assert load_checkpoint(run)["step"] == 1 and not [p for p in run.iterdir() if p.name.endswith(".tmp")]
    assert main(["train", "--out", str(run), "--resume", "--no-progress"]) == 0  # room again: it goes on


@pytest.mark.slow
@pytest.mark.parametrize("log_every", [1, 100])
def test_checkpoint_minutes_saves_by_the_clock_between_the_step_checkpoints(tiny_cfg, tmp_path, monkeypatch, log_every):
    """A slow model (the paper's at several seconds a step) reaches `--checkpoint-every 500` after most of an hour:
    a kill -9 before it lost everything. On a clock of about 0.5 s a step, `--checkpoint-minutes 0.05` (3 s)
    saves every few steps; the saves change nothing in the training (the run equals one saving only at the end).
    Whatever --log-every: the clock was read at the log's steps only, so --log-every 100 saved at the end alone."""
    import types

    import cyclegan.train.loop as loop
    from cyclegan.train.run_folder import Run

    clock = _Clock(tick=0.5)
    fake_time = types.SimpleNamespace(**{k: getattr(time, k) for k in dir(time) if not k.startswith("_")})
    fake_time.monotonic = clock.monotonic
    monkeypatch.setattr(loop, "time", fake_time)
    saves, save = [], Run.save
    monkeypatch.setattr(
        Run, "save", lambda self, trainer, step, **kw: saves.append(step) or save(self, trainer, step, **kw)
    )
    cfg = tiny_cfg(
        out=str(tmp_path / "timed"), steps=20, checkpoint_every=0, checkpoint_minutes=0.05, log_every=log_every
    )
    train(cfg, progress=False)
    assert saves[-1] == 20 and len(saves) >= 3 and all(b - a <= 8 for a, b in zip([0, *saves], saves))
    monkeypatch.undo()
    train(tiny_cfg(out=str(tmp_path / "plain"), steps=20, checkpoint_every=0, log_every=log_every), progress=False)
    assert_same_weights(weights(tmp_path / "timed"), weights(tmp_path / "plain"))


def test_more_samples_than_the_split_holds_are_said_not_capped_silently(tiny_cfg, capsys):
    # --num-samples 8 with 3 test images per domain drew grids of 3 without a word
    train(tiny_cfg(steps=1, num_samples=8), progress=False)
    assert "warning: num_samples=8: the sample grids show 3 A and 3 B images" in capsys.readouterr().err
    train(tiny_cfg(steps=1, num_samples=2, out=tiny_cfg().train.out + "_other"), progress=False)
    assert "--num-samples" not in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["file", "device", "under a file"])
def test_an_out_that_is_no_folder_is_refused_as_such(tiny_cfg, tmp_path, kind):
    """`--out /proc/self/fd/1` (a device, a file or a folder under a file) said "cannot write the run folder ...: Not
    a directory", as if the disk were at fault: the line says what --out is instead, and the file stays as it was."""
    (tmp_path / "notes").write_text("kept")
    out = {"file": tmp_path / "notes", "device": os.devnull, "under a file": tmp_path / "notes" / "run"}[kind]
    why = {
        "file": f"{out} is a file; give a folder",
        "device": f"{out} is not a folder; give a folder",
        "under a file": f"cannot write {out}: {tmp_path / 'notes'} is a file, not a folder",
    }[kind]
    with pytest.raises(CycleGANError, match="^" + re.escape(f"option 'out': {why}") + "$"):
        train(tiny_cfg(steps=1, out=str(out)), progress=False)
    assert (tmp_path / "notes").read_text() == "kept"


def test_train_from_python_completes_with_stdout_closed_or_missing(tiny_cfg, tmp_path, monkeypatch, capsys):
    """A library caller's closed stdout (a service, a notebook kernel that closed it) made `train`'s own lines raise
    ValueError: "computing in ..." before the first step, "done: ...; checkpoint ..." after the save, the run's
    result lost to the caller. pythonw's None: nothing to say them on. Now they go unsaid there (through
    `progress.print_out`), and the run ends as it would with them: its checkpoint written and returned."""
    import io

    closed = io.StringIO()
    closed.close()
    for name, stream in (("closed", closed), ("none", None)):
        with monkeypatch.context() as m:
            m.setattr(sys, "stdout", stream)
            out = tmp_path / name
            result = train(tiny_cfg(steps=2, eval_every=2, out=str(out)), progress=True)
            assert result.step == 2 and result.checkpoint == out / "checkpoint.pt" and result.checkpoint.is_file()
            assert load_checkpoint(out)["step"] == 2
            cfg, ckpt = prepare_config({}, resume=True, out=str(out))  # "already trained": said on stdout too
            assert train(cfg, ckpt=ckpt, progress=False).step == 2
    train(tiny_cfg(steps=2, eval_every=2, out=str(tmp_path / "open")), progress=False)
    said = capsys.readouterr().out  # an open stdout still says them
    assert "computing in " in said and "scoring " in said and f"done: 2 steps; checkpoint {tmp_path}" in said
