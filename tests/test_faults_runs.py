"""Fault injection on training runs and checkpoints: what a crash, a second run, a damaged file, a bad option
or a diverging loss may and may not do (docs/reliability.md). Tiny models, no network, seconds each.

- kill -9 of `cyclegan train` at random moments and inside a checkpoint write, then `--resume`;
- two trainings on one run folder;
- malformed checkpoints through translate, export, evaluate and --resume;
- NaN, inf and out-of-range values of every numeric option of every command;
- a loss that turns NaN;
- zip bombs, and leftovers of crashed writes and extractions.
"""

from __future__ import annotations

import dataclasses
import errno
import io
import json
import math
import os
import random
import signal
import subprocess
import sys
import time
import typing
import warnings
import zipfile
from dataclasses import MISSING, fields
from pathlib import Path

import pytest
import torch

from conftest import TINY, make_images
from cyclegan.checkpoint import MAX_PARAMETERS, load_checkpoint
from cyclegan.cli import COMMANDS, main
from cyclegan.errors import CycleGANError
from cyclegan.files import FolderLock, is_atomic_temporary
from cyclegan.loading import load_generator
from cyclegan.options import _base, named_as_flags, option_name
from helpers import joined

POSIX = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and file locks")


def flags(options: dict) -> list[str]:
    return [x for k, v in options.items() for x in (f"--{k.replace('_', '-')}", str(v))]


def tiny_flags(dataset: Path, out: Path, **extra) -> list[str]:
    opts = {k: v for k, v in TINY.items() if k != "preset"}
    return ["--data", str(dataset), "--out", str(out), *flags({**opts, "device": "cpu", **extra}), "--no-progress"]


def strict_records(log: Path) -> list[dict]:
    """log.jsonl's records, parsed as strict JSON (NaN or Infinity fail)."""

    def refuse(name):
        raise AssertionError(f"{log}: {name} is not JSON")

    return [json.loads(line, parse_constant=refuse) for line in log.read_text().splitlines()]


def leftovers(folder: Path) -> list[str]:
    """Temporary files of atomic writes, and lock files, anywhere under `folder`."""
    return [str(p) for p in folder.rglob("*") if is_atomic_temporary(p.name) or p.name.endswith(".lock")]


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    assert err.startswith("error: ") and err.strip().count("\n") == 0, err
    return err.strip()


def cyclegan_process(args: list[str], *, script: Path | None = None, env: dict | None = None) -> subprocess.Popen:
    launcher = [str(script)] if script else ["-m", "cyclegan"]
    return subprocess.Popen(
        [sys.executable, *launcher, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
    )


def wait_for_records(proc: subprocess.Popen, log: Path, n: int, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while not (log.exists() and log.read_text().count("\n") >= n):
        if proc.poll() is not None:
            raise AssertionError(f"the run ended early ({proc.returncode}): {proc.stderr.read()[-2000:]}")
        assert time.time() < deadline, "the run did not start training in time"
        time.sleep(0.05)


def resume(out: Path, steps: int) -> int:
    return main(["train", "--out", str(out), "--resume", "--steps", str(steps), "--no-progress"])


def assert_resumed_cleanly(out: Path, steps: int) -> None:
    assert load_checkpoint(out)["step"] == steps
    assert [r["step"] for r in strict_records(out / "log.jsonl")] == list(range(1, steps + 1))  # each step once
    assert leftovers(out) == []


# --- kill -9 -----------------------------------------------------------------------------------------------


@pytest.mark.slow
@POSIX
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kill_9_at_a_random_moment_then_resume(dataset, tmp_path, seed):
    """A checkpoint every step, so the kill often lands inside a checkpoint write; whatever it hits, the
    checkpoint left is whole and --resume finishes the run without temporaries or repeated log records."""
    out = tmp_path / "run"
    proc = cyclegan_process(["train", *tiny_flags(dataset, out, steps=100_000, checkpoint_every=1)])
    try:
        wait_for_records(proc, out / "log.jsonl", 2)  # step 1's checkpoint is on disk
        time.sleep(random.Random(seed).uniform(0.0, 0.6))
    finally:
        proc.kill()
        proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    step = load_checkpoint(out)["step"]
    assert step >= 1
    assert resume(out, step + 2) == 0
    assert_resumed_cleanly(out, step + 2)


@pytest.mark.slow
@POSIX
@pytest.mark.parametrize("signum", [signal.SIGTERM, getattr(signal, "SIGHUP", signal.SIGTERM)])
def test_a_signal_to_the_whole_process_group_saves_while_the_loader_reads(tmp_path, signum):
    """A batch scheduler (Slurm) or `kill -- -PGID` sends SIGTERM to the loader's processes too: they died, and
    the main process, waiting for a batch (large images: reading is the slow part), ended in a RuntimeError
    traceback with the steps since the last checkpoint lost. Now the main process alone stops, and saves. A
    hang-up (the terminal closed, an ssh session dropped; not under nohup) killed the run, unsaved: it saves too."""
    data = tmp_path / "data"
    make_images(data / "trainA", 3, seed=1, size=(700, 700))
    make_images(data / "trainB", 3, seed=2, size=(700, 700))
    out = tmp_path / "run"
    args = ["train", *tiny_flags(data, out, steps=100_000, num_workers=2, num_samples=0), "--checkpoint-every", "0"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "cyclegan", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        start_new_session=True,
    )
    try:
        wait_for_records(proc, out / "log.jsonl", 3)
    finally:
        os.killpg(proc.pid, signum)
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signum, err
    assert "Traceback" not in err and "stopped at step" in err
    assert load_checkpoint(out)["step"] == strict_records(out / "log.jsonl")[-1]["step"]  # nothing lost


def signal_script(owner: str, name: str, signum: int, *, when: str = "True") -> str:
    """A `python -m cyclegan` whose function `name` of `owner` (an import naming it `owner`: `import
    cyclegan.train.loop as owner`) sends the process `signum` when called, where `when` (over its `args`) holds,
    then does its work."""
    return f"""
import os
import sys

{owner}

real = owner.{name}


def patched(*args, **kwargs):
    if {when}:
        os.kill(os.getpid(), {int(signum)})
    return real(*args, **kwargs)


owner.{name} = patched
from cyclegan.cli import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
"""


# SIGTERM while it writes its final checkpoint (the step that ends the run: `Run.save(self, trainer, step)`)
SIGNAL_IN_THE_LAST_SAVE = signal_script(
    "from cyclegan.train.run_folder import Run as owner", "save", signal.SIGTERM, when="args[2] == args[0].total"
)


@pytest.mark.slow
@POSIX
def test_a_stop_while_the_final_checkpoint_is_written_lets_the_write_finish(dataset, tmp_path):
    """SIGTERM while `_finish` wrote the last checkpoint killed the process (its handler was gone): the file stayed
    whole, but the steps since the previous checkpoint were lost. Now the write finishes, then the run stops."""
    script, out = tmp_path / "late.py", tmp_path / "run"
    script.write_text(SIGNAL_IN_THE_LAST_SAVE)
    proc = cyclegan_process(["train", *tiny_flags(dataset, out, steps=3, checkpoint_every=2)], script=script)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err and "SIGTERM received" in err
    assert load_checkpoint(out)["step"] == 3  # the steps since the checkpoint of step 2 kept


# Ctrl-C while it draws the last sample grid, after its final checkpoint
CTRL_C_IN_THE_LAST_GRID = signal_script("import cyclegan.train.loop as owner", "write_samples", signal.SIGINT)


@pytest.mark.slow
@POSIX
def test_a_ctrl_c_after_the_final_checkpoint_finishes_the_last_grid_and_loses_nothing(dataset, tmp_path):
    """A Ctrl-C while the last sample grid was drawn (after the final checkpoint) cut the grid and said "the steps
    since the last checkpoint are lost", that checkpoint holding every step. Now the grid is finished, the run says
    how it ended, and exits 130."""
    script, out = tmp_path / "grid.py", tmp_path / "run"
    script.write_text(CTRL_C_IN_THE_LAST_GRID)
    proc = cyclegan_process(["train", *tiny_flags(dataset, out, steps=2)], script=script)
    stdout, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "lost" not in err and "the checkpoint is saved" in err, err
    assert "done: 2 steps" in stdout
    assert load_checkpoint(out)["step"] == 2 and (out / "samples" / "step_0000002.png").is_file()


@POSIX
@pytest.mark.parametrize("stopped_early", [False, True])
def test_a_second_ctrl_c_after_the_final_checkpoint_says_nothing_is_lost(
    dataset, tmp_path, monkeypatch, capsys, stopped_early
):
    """Two Ctrl-Cs while the last sample grid was drawn, after the final checkpoint, said "the steps since the last
    checkpoint are lost", that checkpoint holding every step. Now: nothing is lost; and how to go on only for a
    run that a first Ctrl-C stopped before its end."""
    import cyclegan.train.loop as loop
    from cyclegan.train.cyclegan import CycleGANTrainer

    real_write, real_step, out = loop.write_samples, CycleGANTrainer.step, tmp_path / "run"

    def write_stopped_twice(*args, **kwargs):  # both Ctrl-Cs while the last grid is drawn
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)
        return real_write(*args, **kwargs)

    def step_stopped(self, *args, **kwargs):  # a first Ctrl-C in step 1: the run stops there, saving
        os.kill(os.getpid(), signal.SIGINT)
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(loop, "write_samples", write_stopped_twice)
    if stopped_early:
        monkeypatch.setattr(CycleGANTrainer, "step", step_stopped)
    with pytest.raises(SystemExit) as stop:
        main(["train", *tiny_flags(dataset, out, steps=3)])
    err = capsys.readouterr().err
    assert stop.value.code == 130 and "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("stopped at once after the final checkpoint: nothing is lost;"), err
    assert ("Continue with: cyclegan train --out" in last) == stopped_early, err
    assert load_checkpoint(out)["step"] == (1 if stopped_early else 3)


@pytest.mark.slow
@POSIX
@pytest.mark.parametrize("signum", [signal.SIGTERM, getattr(signal, "SIGHUP", signal.SIGTERM)])
def test_a_stop_before_the_first_step_ends_in_one_line_as_ctrl_c_does(dataset, tmp_path, signum):
    """A scheduler's SIGTERM or a closed terminal's SIGHUP while the images were checked (minutes, for a large
    set) killed the run without a word, its new folder left with a `.lock`. Now it stops as Ctrl-C does there: one
    line, the signal's exit status, no folder left; the same command then starts the run."""
    script, out = tmp_path / "early.py", tmp_path / "run"
    # the signal while it checks the images, before the run's first step
    script.write_text(signal_script("import cyclegan.train.loop as owner", "training_images", signum))
    args = ["train", *tiny_flags(dataset, out, steps=2)]
    proc = cyclegan_process(args, script=script)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signum, err
    assert err.strip() == f"stopped at once, before the run's first checkpoint: nothing to resume in {out}"
    assert not out.exists()
    assert main(args) == 0 and load_checkpoint(out)["step"] == 2


@POSIX
def test_the_loop_takes_a_hangup_over_from_a_command_that_stops_on_it():
    """`cyclegan demo` (and `train`, before its steps) turn SIGHUP into a stop at once (`terminate_as_interrupt`):
    the loop's handler then left SIGHUP to it, as not at its default, and a closed terminal stopped the demo's
    training mid-step, the steps since its last checkpoint lost. The loop takes it over and saves first; a SIGHUP
    ignored (nohup) stays ignored."""
    from cyclegan.process import Terminated, terminate_as_interrupt
    from cyclegan.train.signals import StopRequest

    try:
        with terminate_as_interrupt(hangup=True), StopRequest() as stop:
            os.kill(os.getpid(), signal.SIGHUP)
    except Terminated:
        pytest.fail("SIGHUP stopped the run at once instead of asking the loop to save and stop")
    assert stop.signum == signal.SIGHUP
    old = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with StopRequest():
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, old)


STALLED_READ = '''
"""`python -m cyclegan` whose loader workers hang in their next read once the file STALL exists: a stalled network
file (the main process's own reads, the check before training and the sample grids, stay fine)."""
import os
import sys
import time

import cyclegan.data.dataset as dataset

MAIN, real_read = os.getpid(), dataset.read_image


def read(path, **kwargs):
    while os.getpid() != MAIN and os.path.exists(os.environ["STALL"]):
        time.sleep(1)
    return real_read(path, **kwargs)


dataset.read_image = read
from cyclegan.cli import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
'''


@pytest.mark.slow
@POSIX
def test_a_stop_while_a_loader_worker_hangs_in_a_read_saves_and_exits(dataset, tmp_path):
    """The stop request was only read between steps: with a worker stuck in a read the main process waited for
    its batch forever after SIGTERM (a scheduler's SIGKILL then lost the steps since the last checkpoint). Now the
    request ends the wait: the steps done are saved, the workers are killed, the process ends at once."""
    script, stall, out = tmp_path / "stalled.py", tmp_path / "stall", tmp_path / "run"
    script.write_text(STALLED_READ)
    args = ["train", *tiny_flags(dataset, out, steps=100_000, num_workers=1, num_samples=0)]
    proc = cyclegan_process(args, script=script, env={"STALL": str(stall)})
    try:
        wait_for_records(proc, out / "log.jsonl", 2)
        stall.touch()
        records = -1
        while records != (records := (out / "log.jsonl").read_text().count("\n")):  # the prefetched batches used
            time.sleep(2)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        stall.unlink(missing_ok=True)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err and "stopped at step" in err
    assert load_checkpoint(out)["step"] == strict_records(out / "log.jsonl")[-1]["step"] >= 2  # nothing lost


@POSIX
def test_the_time_limit_ends_a_wait_for_a_batch_whose_read_hangs(dataset, tmp_path, capsys, monkeypatch):
    """--time-limit was only checked between steps: a read that hung (a stalled network file) kept the run waiting for
    its batch forever, the limit never honoured. Now the limit ends the wait: the steps done are saved, resumable."""
    import cyclegan.data.dataset as data_module

    real_read, reads = data_module.read_image, []

    def read(path, **kwargs):
        reads.append(path)
        if len(reads) > 12:  # after a few batches, the file system stalls (a bound, so the old code fails, not hangs)
            time.sleep(60)
            raise AssertionError("the time limit did not end the wait for a batch")
        return real_read(path, **kwargs)

    monkeypatch.setattr(data_module, "read_image", read)
    out = tmp_path / "run"
    assert main(["train", *tiny_flags(dataset, out, steps=1000, time_limit=0.05)]) == 0
    captured = capsys.readouterr()
    assert "time limit of 0.05 min reached at step 3/1000" in captured.out, captured
    assert load_checkpoint(out)["step"] == 3
    monkeypatch.setattr(data_module, "read_image", real_read)
    assert resume(out, 4) == 0


@POSIX
def test_the_time_limit_ends_a_hung_read_of_the_first_batch(dataset, tmp_path, capsys, monkeypatch):
    """The first wait for a batch had no deadline: a read that hung there kept the run past --time-limit for ever.
    Now it ends at the limit, as later waits do: the run stops at step 0, its checkpoint resumable."""
    import cyclegan.data.dataset as data_module

    real_read = data_module.read_image

    def read(path, **kwargs):
        time.sleep(30)  # a bound, so that the old code fails, not hangs
        raise AssertionError("the time limit did not end the first wait for a batch")

    monkeypatch.setattr(data_module, "read_image", read)
    out = tmp_path / "run"
    started = time.monotonic()
    assert main(["train", *tiny_flags(dataset, out, steps=1000, time_limit=0.02)]) == 0
    assert time.monotonic() - started < 20
    assert "time limit of 0.02 min reached at step 0/1000" in capsys.readouterr().out
    assert load_checkpoint(out)["step"] == 0
    monkeypatch.setattr(data_module, "read_image", real_read)
    assert resume(out, 2) == 0 and load_checkpoint(out)["step"] == 2


@POSIX
@pytest.mark.parametrize(
    "module, name, limit, during",
    [
        ("cyclegan.data.io", "open_image", 0.02, "checking the images"),
        ("cyclegan.train.inputs", "file_digest", 0.05, "reading the training files' contents"),
    ],
)
def test_the_time_limit_ends_a_hung_read_before_training(
    dataset, tmp_path, capsys, monkeypatch, module, name, limit, during
):
    """The reads before training had no deadline: the check of the images, and (since a resume compares contents)
    the read of a training file's bytes for its record (`inputs.files_record`): on a new run, of a file the check
    did not hash, over `DIGESTED_IN_MEMORY`. A read that hung there (a stalled network folder) kept the run past
    --time-limit for ever. Now the limit ends it in one line."""
    import importlib

    import cyclegan.data.io as io_module

    def stalled(path, *args, **kwargs):
        time.sleep(30)  # a bound, so that the old code fails, not hangs
        raise AssertionError("the time limit did not end the read")

    monkeypatch.setattr(io_module, "DIGESTED_IN_MEMORY", 0)  # every file read for its record, none hashed in the check
    monkeypatch.setattr(importlib.import_module(module), name, stalled)
    started = time.monotonic()
    assert main(["train", *tiny_flags(dataset, tmp_path / "run", steps=10, time_limit=limit)]) == 2
    assert time.monotonic() - started < 20
    err = capsys.readouterr().err
    assert f"time limit of {limit:g} min reached while {during}" in err and "nothing trained" in err, err
    assert signal.getsignal(signal.SIGALRM) is signal.SIG_DFL and signal.getitimer(signal.ITIMER_REAL)[0] == 0


@POSIX
@pytest.mark.parametrize("skip_bad", [False, True])
def test_a_time_limit_lost_in_a_files_close_during_the_check_still_stops_it(
    dataset, tmp_path, capsys, monkeypatch, skip_bad
):
    """The alarm of a limit that ran out during the check, ringing inside a file's close, had its TimeUp turned
    into that file's "[Errno 9] Bad file descriptor" (1 in 20 such limits, measured): "cannot read image ...:
    remove it", a good image; under --skip-bad-images the image was skipped and training started past the limit."""
    import contextlib

    import cyclegan.data.io as io_module
    from cyclegan.train.signals import TimeUp

    real_open, calls = io_module.open_image, []

    @contextlib.contextmanager
    def closed_late(path, *args, **kwargs):
        with real_open(path, *args, **kwargs) as im:
            yield im
        calls.append(path)
        if len(calls) == 1:
            try:
                time.sleep(30)  # the alarm rings in the close; a bound, so that the old code fails, not hangs
            except TimeUp:
                raise OSError(errno.EBADF, os.strerror(errno.EBADF)) from None

    monkeypatch.setattr(io_module, "open_image", closed_late)
    extra = ["--skip-bad-images"] if skip_bad else []
    assert main(["train", *tiny_flags(dataset, tmp_path / "run", steps=10, time_limit=0.005), *extra]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith("error: time limit of 0.005 min reached while checking the images"), err
    assert not [line for line in err if line.startswith("error: cannot read image")], err  # (a skip's warning stays)


@POSIX
def test_the_time_limit_leaves_a_callers_alarm_alone(tiny_cfg):
    """The time limit's alarm (the wait for a batch ended at the deadline) took SIGALRM over: a caller's watchdog
    timer around train() (signal.alarm, pytest-timeout) was cancelled at the first wait. Now it is left alone."""
    from cyclegan.train import train

    fired = []

    def watchdog(*_):
        fired.append(1)

    old = signal.signal(signal.SIGALRM, watchdog)
    try:
        signal.setitimer(signal.ITIMER_REAL, 600)
        train(tiny_cfg(steps=2, time_limit=5), progress=False)
        assert signal.getitimer(signal.ITIMER_REAL)[0] > 0  # still counting down
        assert signal.getsignal(signal.SIGALRM) is watchdog and not fired
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@POSIX
def test_a_time_limit_past_any_wait_sets_no_alarm():
    """`--time-limit 1e300` (minutes) set an alarm past time_t's range at the second wait for a batch: an
    OverflowError traceback. A deadline that far ends no wait: none is set, and the run goes on."""
    from cyclegan.train.signals import StopRequest

    with StopRequest() as stop:
        for within in (1e300 * 60, 1e12):
            with stop.waiting(within=within):
                assert signal.getitimer(signal.ITIMER_REAL)[0] == 0
        with stop.waiting(within=60):  # a deadline within reach still sets its alarm
            assert 0 < signal.getitimer(signal.ITIMER_REAL)[0] <= 60
    assert signal.getitimer(signal.ITIMER_REAL)[0] == 0


@POSIX
def test_the_deadline_cutting_a_read_in_this_process_ends_the_batches_not_as_a_lost_image():
    """Without loader workers the read is the main process's, and the time limit's alarm can ring inside it: the
    reader turned what it raised into its own error ("cannot read image ...: [Errno 9] Bad file descriptor", its
    file closed under it), and the run stopped as if the image were lost (CI caught it, at random, in a test of the
    time limit). A read cut short by our own alarm ends the batches as the time limit does."""
    from cyclegan.train.loop import _batches
    from cyclegan.train.signals import StopRequest

    def reads():  # a reader that takes what interrupted it for a broken file, as PIL's close under it did
        yield 0
        try:
            time.sleep(5)
        except BaseException:
            raise CycleGANError("cannot read image x.png: [Errno 9] Bad file descriptor") from None
        yield 1

    class Loader:
        def __iter__(self):
            return reads()

    with StopRequest() as stop:
        batches = _batches(Loader(), lambda why: CycleGANError(f"lost: {why}"), stop=stop, time_left=lambda: 0.05)
        assert list(batches) == [0]  # the second wait's deadline ended it: no "lost" error
    # a reader's own error with no alarm rung is still a lost image
    with StopRequest() as stop, pytest.raises(CycleGANError, match="^lost: cannot read image"):

        def broken():
            raise CycleGANError("cannot read image x.png: truncated")
            yield

        class Broken:
            def __iter__(self):
                return broken()

        list(_batches(Broken(), lambda why: CycleGANError(f"lost: {why}"), stop=stop, time_left=lambda: 60))


class _HangsFromTwo(torch.utils.data.Dataset):
    """Items 0 and 1, then a read that hangs (a stalled network file), bounded so that a test cannot hang."""

    def __len__(self):
        return 100

    def __getitem__(self, i):
        if i >= 2:
            time.sleep(60)
        return torch.zeros(1)


@POSIX
def test_the_loader_is_ended_at_once_when_the_loop_leaves_it_while_a_worker_hangs(monkeypatch):
    """A stop during a step (or the run's last step) leaves the loader with a worker stuck prefetching in a read:
    torch's shutdown waited 5 s for it, sent it a SIGTERM it ignores (`worker_init`), waited 5 s more, and left it
    alive. Now leaving the batches (the loop's break closes them) kills the workers at once."""
    import multiprocessing

    from torch.utils.data import DataLoader

    from cyclegan.train.loop import _batches
    from cyclegan.train.signals import worker_init

    loader = DataLoader(_HangsFromTwo(), batch_size=1, num_workers=1, worker_init_fn=worker_init)
    batches = _batches(loader, lambda why: CycleGANError(why))
    next(batches), next(batches)
    workers = [child for child in multiprocessing.active_children() if child.daemon]
    try:
        assert workers and all(w.is_alive() for w in workers)
        batches.close()  # what the loop's break does
        assert not any(w.is_alive() for w in workers)
    finally:
        for w in workers:
            w.kill()


@POSIX
def test_the_loader_is_ended_outside_the_main_thread_too():
    """A run in a thread of its own (a notebook's, a script's): leaving the batches set SIGCHLD's handler, which only
    the main thread may, so the run ended in "ValueError: signal only works in main thread", its workers alive."""
    import multiprocessing
    import threading

    from torch.utils.data import DataLoader

    from cyclegan.train.loop import _batches
    from cyclegan.train.signals import worker_init

    loader = DataLoader(_HangsFromTwo(), batch_size=1, num_workers=1, worker_init_fn=worker_init)
    errors, workers = [], []

    def run() -> None:
        batches = _batches(loader, lambda why: CycleGANError(why))
        next(batches)
        workers.extend(child for child in multiprocessing.active_children() if child.daemon)
        try:
            batches.throw(RuntimeError("a step's error"))  # what leaves the loop with an error
        except Exception as e:  # noqa: BLE001 - the test reads what came out
            errors.append(e)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    joined(thread)
    try:
        assert [str(e) for e in errors] == ["a step's error"]
        assert workers and not any(w.is_alive() for w in workers)
    finally:
        for w in workers:
            w.kill()


def test_a_loader_worker_shows_no_traceback_when_the_main_process_leaves_mid_batch():
    """A stop request that ends the main process's wait for a batch in the middle of receiving its shared memory
    left the worker's resource-sharer thread printing a ConnectionResetError traceback before the worker was killed
    (test_a_signal_to_the_whole_process_group_saves_while_the_loader_reads failed now and then). Other errors show."""
    code = (
        "import sys\n"
        "from cyclegan.train.signals import worker_init\n"
        "worker_init(0)\n"
        "sys.excepthook(ConnectionResetError, ConnectionResetError(104, 'Connection reset by peer'), None)\n"
        "sys.excepthook(ValueError, ValueError('still shown'), None)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "ConnectionResetError" not in proc.stderr, proc.stderr
    assert "ValueError: still shown" in proc.stderr


KILL_IN_WRITE = '''
"""`python -m cyclegan` whose KILL_AT-th torch.save writes half the checkpoint into write_atomic's temporary
file and then kills its own process (SIGKILL): a crash in the middle of a checkpoint write."""
import io
import os
import signal
import sys

import torch

real_save = torch.save
saves = 0


def save_half_then_die(obj, f, *args, **kwargs):
    global saves
    saves += 1
    if saves < int(os.environ["KILL_AT"]):
        return real_save(obj, f, *args, **kwargs)
    buf = io.BytesIO()
    real_save(obj, buf)
    out = f if hasattr(f, "write") else open(f, "wb")  # the open temporary file, or its name
    out.write(buf.getvalue()[: len(buf.getvalue()) // 2])
    out.flush()
    os.fsync(out.fileno())
    os.kill(os.getpid(), signal.SIGKILL)


torch.save = save_half_then_die
from cyclegan.cli import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
'''


@pytest.mark.slow
@POSIX
def test_kill_9_inside_a_checkpoint_write_then_resume(dataset, tmp_path):
    script = tmp_path / "kill_in_write.py"
    script.write_text(KILL_IN_WRITE)
    out = tmp_path / "run"
    proc = cyclegan_process(
        ["train", *tiny_flags(dataset, out, steps=50, checkpoint_every=1)], script=script, env={"KILL_AT": "3"}
    )
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, err
    stale = [p for p in out.iterdir() if is_atomic_temporary(p.name)]
    assert [p.name.startswith(".checkpoint.pt.") for p in stale] == [True]  # the half-written third checkpoint
    assert load_checkpoint(out)["step"] == 2  # the second, whole
    assert [r["step"] for r in strict_records(out / "log.jsonl")] == [1, 2, 3]  # step 3 logged, not saved
    assert resume(out, 5) == 0
    assert_resumed_cleanly(out, 5)


# --- one run per folder ----------------------------------------------------------------------------------


@pytest.mark.slow
@POSIX
def test_a_second_training_on_a_busy_folder_is_refused_and_the_lock_dies_with_kill_9(dataset, tmp_path, capsys):
    out = tmp_path / "run"
    first = cyclegan_process(["train", *tiny_flags(dataset, out, steps=100_000, checkpoint_every=1)])
    try:
        wait_for_records(first, out / "log.jsonl", 2)
        assert main(["train", *tiny_flags(dataset, out, steps=5)]) == 2
        assert one_line_error(capsys) == (
            f"error: {out} is in use by another training run (PID {first.pid}); wait for it to end or choose "
            "another --out"
        )
        assert resume(out, 5) == 2  # a second --resume too
        assert f"(PID {first.pid})" in one_line_error(capsys)
    finally:
        first.kill()
        first.communicate(timeout=60)
    step = load_checkpoint(out)["step"]
    assert resume(out, step + 1) == 0  # no stale lock: the OS dropped it with the killed process
    assert leftovers(out) == []


def test_a_locked_folder_refuses_a_new_run_and_a_resume(dataset, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *tiny_flags(dataset, out, steps=2)]) == 0
    lock = FolderLock(out)
    assert lock.acquire()
    try:
        for args in (tiny_flags(dataset, tmp_path / "run", steps=3), ["--out", str(out), "--resume", "--steps", "3"]):
            assert main(["train", *args]) == 2
            assert f"{out} is in use by another training run (PID {os.getpid()})" in one_line_error(capsys)
        assert load_checkpoint(out)["step"] == 2
    finally:
        lock.release()
    assert resume(out, 3) == 0


def test_resume_refuses_a_checkpoint_rewritten_after_it_was_read(tiny_cfg, tmp_path):
    from cyclegan.checkpoint import save_atomic
    from cyclegan.train import prepare_config, train

    train(tiny_cfg(steps=2), progress=False)
    run = Path(tiny_cfg().train.out)
    cfg, ckpt = prepare_config({"steps": 4}, resume=True, out=str(run))
    save_atomic({**load_checkpoint(run), "step": 3}, run / "checkpoint.pt")  # another run, meanwhile
    with pytest.raises(CycleGANError, match="was rewritten by another run after this one read it"):
        train(cfg, ckpt=ckpt, progress=False)


# --- leftovers of crashes ------------------------------------------------------------------------------------


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="names a file descriptor's file through /proc")
def test_the_log_is_on_disk_before_each_checkpoint(tiny_cfg, monkeypatch):
    """A checkpoint's write is synced (`files.write_atomic`), log.jsonl's records were only flushed: after a power cut
    the checkpoint of step N could stand while the records before it, still in the page cache, were lost for good (the
    resumed run logs from step N on). Now the log is synced before each checkpoint, the final one included."""
    from cyclegan.train import train

    synced, real_fsync = [], os.fsync

    def fsync(fd):
        synced.append(Path(os.readlink(f"/proc/self/fd/{fd}")).name)
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    train(tiny_cfg(steps=3, checkpoint_every=1), progress=False)
    checkpoints = [i for i, name in enumerate(synced) if name.startswith(".checkpoint.pt.")]
    assert len(checkpoints) == 3  # steps 1 and 2, and the final one of step 3
    for before, at in zip([-1, *checkpoints], checkpoints):
        assert "log.jsonl" in synced[before + 1 : at], synced


def test_resume_removes_stale_temporaries_and_log_records_after_the_checkpoint(tiny_cfg):
    from cyclegan.files import claim_file
    from cyclegan.train import train

    train(tiny_cfg(steps=3), progress=False)
    run = Path(tiny_cfg().train.out)
    planted = [run / ".checkpoint.pt.ab_c12z9.tmp", run / ".config.json.k2j4h5g6.tmp"]
    (run / "samples").mkdir(exist_ok=True)
    planted.append(run / "samples" / ".step_0000004.png.q1w2e3r4.tmp")
    for p in planted:
        p.write_bytes(b"half of something")
    mine = run / ".notes.tmp"  # not write_atomic's: left alone
    mine.write_text("keep")
    # nor those of another command at work in a folder of its own inside the run's (evaluate --save-images RUN/eval):
    # they were deleted under it, and its next write failed
    live = run / "eval" / "AtoB" / ".img.png.a1b2c3d4.tmp"
    live.parent.mkdir(parents=True)
    live.write_bytes(b"being written")
    with (run / "log.jsonl").open("a") as f:  # what a run killed after step 3's checkpoint had logged
        f.write('{"step": 4, "G_total": 1.0}\n{"step": 5, "G_total": NaN}\n{"step": 6, "G_to')
    # nor an export's into the run folder at work (`export --out RUN/g.onnx`, its name held): deleted, it failed
    exporting = run / ".g.onnx.z9y8x7w6.tmp"
    with claim_file(run / "g.onnx", "--out"):
        exporting.write_bytes(b"being exported")
        assert resume(run, 5) == 0
    assert not any(p.exists() for p in planted) and mine.read_text() == "keep" and live.exists()
    assert exporting.exists()
    assert [r["step"] for r in strict_records(run / "log.jsonl")] == [1, 2, 3, 4, 5]


def test_resume_removes_the_sample_grids_after_the_checkpoint(tiny_cfg):
    """A run killed after its last checkpoint left the grids of its later steps in samples/: after a resume that is
    not exact they showed the killed run's steps as this one's, and for good where the resumed run stopped before
    them. Now a resume removes the grids after its checkpoint's step; the earlier ones and other files stay."""
    from cyclegan.train import train

    train(tiny_cfg(steps=3), progress=False)
    samples = Path(tiny_cfg().train.out) / "samples"
    samples.mkdir(exist_ok=True)
    earlier, mine = samples / "step_0000002.png", samples / "notes.png"
    for p in (earlier, mine, *(samples / f"step_{s:07d}.png" for s in (4, 9))):
        p.write_bytes(b"a grid")
    assert resume(Path(tiny_cfg().train.out), 5) == 0
    assert not (samples / "step_0000009.png").exists()  # after the checkpoint (3), beyond this run's end (5)
    four = samples / "step_0000004.png"  # removed, or written again by the resumed run
    assert not four.exists() or four.read_bytes() != b"a grid"
    assert earlier.read_bytes() == mine.read_bytes() == b"a grid"


def test_a_last_log_record_without_its_newline_is_ended_before_the_resume_appends(tiny_cfg):
    # a power cut can keep a record whole but for its newline: the resumed run's first record was appended to its
    # line, two records on a line that is not JSON (and both dropped at the next resume)
    from cyclegan.train import train

    train(tiny_cfg(steps=3, log_every=1), progress=False)
    log = Path(tiny_cfg().train.out) / "log.jsonl"
    log.write_text(log.read_text().rstrip("\n"))
    assert resume(log.parent, 5) == 0
    assert [r["step"] for r in strict_records(log)] == [1, 2, 3, 4, 5]


# --- malformed checkpoints -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def good_run(tmp_path_factory) -> tuple[Path, Path]:
    """(dataset root, run folder) of a 2-step tiny run, shared by the malformed-checkpoint cases."""
    from cyclegan.config import resolve
    from cyclegan.train import train

    root = tmp_path_factory.mktemp("good")
    data = root / "data"
    for split, seed in (("trainA", 1), ("trainB", 2), ("testA", 3), ("testB", 4)):
        make_images(data / split, 3, seed=seed)
    train(resolve({**TINY, "data": str(data), "out": str(root / "run"), "steps": 2}), progress=False)
    return data, root / "run"


def _without_g(ckpt):
    ckpt["ema"] = {"G": ckpt["models"]["G"], "F": ckpt["models"]["F"]}  # averaged weights must not stand in
    del ckpt["models"]["G"]


def _set_model(**values):
    def change(ckpt):
        ckpt["config"]["model"].update(values)

    return change


MALFORMED = {  # name: (change to the loaded checkpoint, or bytes for the file; what the one line must say)
    "models.G missing": (_without_g, "'models' has no 'G' network"),
    "config missing": (lambda c: c.pop("config"), "it has no 'config'"),
    "models a string": (lambda c: c.update(models="weights"), "'models' is a str, not a dict of networks"),
    "config not matching the tensors": (_set_model(ngf=16), "has shape (8, 3, 7, 7) where the stored config (resnet"),
    "a tensor missing": (lambda c: c["models"]["F"].popitem(), "'models.F' lacks the tensor"),
    "step a string": (lambda c: c.update(step="7"), "'step' is '7', not a whole number >= 0"),
    "ngf 10^6": (_set_model(ngf=10**6), "its stored config is not valid: option 'ngf' must be > 0 and <= 4096"),
    "n_blocks 10^7": (_set_model(n_blocks=10**7), "option 'n_blocks' must be >= 0 and <= 1000, got 10000000"),
    "sizes beyond the bound": (_set_model(ngf=4096, n_blocks=1000), f"beyond the {MAX_PARAMETERS:.0e} this program"),
    "a list": (["not", "a", "checkpoint"], "found a list"),
    "random bytes": (random.Random(0).randbytes(4096), "not a file saved by torch.save, or an incomplete one"),
    "truncated": ("half", "not a file saved by torch.save, or an incomplete one (is the file complete?)"),
}


def _malformed(good: Path, case: str, folder: Path) -> Path:
    change, _ = MALFORMED[case]
    folder.mkdir()
    path = folder / "checkpoint.pt"
    if isinstance(change, bytes):
        path.write_bytes(change)
    elif isinstance(change, list):
        torch.save(change, path)
    elif change == "half":
        data = (good / "checkpoint.pt").read_bytes()
        path.write_bytes(data[: len(data) // 2])
    else:
        ckpt = torch.load(good / "checkpoint.pt", weights_only=True)
        change(ckpt)
        torch.save(ckpt, path)
    return folder


@pytest.mark.parametrize("command", ["translate", "export", "evaluate", "resume"])
@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_malformed_checkpoint_is_one_line_in_every_command(good_run, tmp_path, capsys, case, command):
    data, good = good_run
    run = _malformed(good, case, tmp_path / "run")
    args = {
        "translate": ["translate", "--checkpoint", str(run), "--out", str(tmp_path / "o"), str(data / "testA")],
        "export": ["export", "--checkpoint", str(run), "--out", str(tmp_path / "g.pt"), "--no-check"],
        "evaluate": ["evaluate", "--checkpoint", str(run), "--data", str(data), "--no-progress"],
        "resume": ["train", "--out", str(run), "--resume", "--steps", "4", "--no-progress"],
    }[command]
    assert main(args) == 2
    err = one_line_error(capsys)
    assert MALFORMED[case][1] in err and str(run) in err
    assert "could run code" not in err
    if command == "resume":  # the line said what was wrong, not what to do: the run keeps no earlier checkpoint
        assert err.endswith(
            "--resume cannot go on from it: restore the file from a copy, or start a new run with another --out"
        )
    assert not (tmp_path / "o").exists() and not (tmp_path / "g.pt").exists()


def test_the_size_bound_is_checked_before_anything_is_allocated(good_run, tmp_path, monkeypatch):
    """n_blocks 1000 at ngf 4096 would be 4.8e12 weights: refused from an estimate on the meta device, in
    well under a second (building it, even on meta, takes seconds)."""
    import cyclegan.models as models

    built = []
    real = models.build_generator
    monkeypatch.setattr(models, "build_generator", lambda m: built.append(m.n_blocks) or real(m))
    run = _malformed(good_run[1], "sizes beyond the bound", tmp_path / "run")
    t0 = time.perf_counter()
    with pytest.raises(CycleGANError, match=r"a G \(resnet generator, ngf 4096, n_blocks 1000\) of 4.83e\+12"):
        load_generator(run)
    assert time.perf_counter() - t0 < 1.0 and set(built) <= {0, 1}


def test_only_code_is_called_code(tmp_path):
    """A pickle that would call a function is refused as code; random bytes, a truncated file, or a plain
    pickle of data are 'cannot read'."""
    import pickle

    class Call:
        def __reduce__(self):
            return (os.getcwd, ())

    cases = {
        "code.pt": pickle.dumps({"x": Call()}, protocol=4),
        "random.pt": random.Random(1).randbytes(2000),
        "data.pt": pickle.dumps({"x": [1, 2.0, "three"]}, protocol=4),
    }
    buf = io.BytesIO()
    torch.save({"models": {"G": torch.ones(3)}}, buf)
    cases["cut.pt"] = buf.getvalue()[:200]
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    with pytest.raises(CycleGANError, match=r"could run code when loaded \(it would call posix.getcwd\)"):
        load_generator(tmp_path / "code.pt")
    for name in ("random.pt", "data.pt", "cut.pt"):
        with pytest.raises(CycleGANError, match=r"cannot read checkpoint .*\(is the file complete\?\)") as e:
            load_generator(tmp_path / name)
        assert "could run code" not in str(e.value)


# --- every numeric option ----------------------------------------------------------------------------------


def option_classes() -> list[type]:
    """Every options dataclass of every command (cli.COMMANDS, nested ones included) and the config sections."""
    from cyclegan.config import all_sections

    found: list[type] = []

    def add(cls: type) -> None:
        if cls not in found:
            found.append(cls)
            hints = typing.get_type_hints(cls)
            for f in fields(cls):
                if isinstance(hints[f.name], type) and dataclasses.is_dataclass(hints[f.name]):
                    add(hints[f.name])

    for entry in COMMANDS.values():
        for cmd in entry.values() if isinstance(entry, dict) else [entry]:
            if (cls := cmd.options_class()) is not None:
                add(cls)
    for cls in all_sections().values():
        add(cls)
    return found


# Values that a required option of a few classes needs to pass their own checks (a file suffix, a choice).
BASELINE = {"ExportOptions": {"out": "g.onnx"}, "StylizeOptions": {"out": "x.png"}}
# Numeric options with no range at all. Seeds take any integer today, but torch refuses seeds beyond 64 bits
# and numpy negative ones (a traceback): they want ge=0, le=2**63 - 1, in files this module's author did not
# own; remove a name here once its field has a range.
UNBOUNDED: set[str] = set()


def _dummy(tp):
    b = _base(tp)
    if typing.get_origin(b) is typing.Literal:
        return typing.get_args(b)[0]
    if typing.get_origin(b) is tuple:
        return ("x",)
    if isinstance(b, type) and dataclasses.is_dataclass(b):
        return b()
    return "x"


def _numeric(tp) -> type | None:
    b = _base(tp)
    b = typing.get_args(b)[0] if typing.get_origin(b) is tuple else b
    return b if b in (int, float) else None


def _out_of_range(meta: dict, kind: type) -> list:
    step = 1 if kind is int else 0.5
    out = []
    if meta.get("ge") is not None:
        out.append(meta["ge"] - step)
    if meta.get("gt") is not None:
        out.append(meta["gt"])
    if meta.get("le") is not None:
        out.append(meta["le"] + step)
    if meta.get("lt") is not None:
        out.append(meta["lt"])
    return [kind(v) if kind is int else v for v in out]


NUMERIC_FIELDS = [
    (cls, f) for cls in option_classes() for f in fields(cls) if _numeric(typing.get_type_hints(cls)[f.name])
]


def test_every_numeric_option_has_a_range():
    assert len(NUMERIC_FIELDS) > 40  # the walk found the commands' options
    missing = [
        f"{cls.__name__}.{f.name}"
        for cls, f in NUMERIC_FIELDS
        if all(f.metadata.get(k) is None for k in ("ge", "gt", "le", "lt")) and f.name not in UNBOUNDED
    ]
    assert missing == []


@pytest.mark.parametrize("cls, f", NUMERIC_FIELDS, ids=[f"{c.__name__}.{f.name}" for c, f in NUMERIC_FIELDS])
def test_nan_inf_and_out_of_range_values_are_refused(cls, f):
    hints = typing.get_type_hints(cls)
    required = {
        g.name: _dummy(hints[g.name]) for g in fields(cls) if g.default is MISSING and g.default_factory is MISSING
    }
    required.update(BASELINE.get(cls.__name__, {}))
    cls(**required)  # the baseline is valid
    kind = _numeric(hints[f.name])
    tuple_field = typing.get_origin(_base(hints[f.name])) is tuple
    bad = [math.nan, math.inf, -math.inf, *_out_of_range(f.metadata, kind)]
    name = option_name(cls, f.name)
    for value in bad:
        given = {**required, f.name: (value,) if tuple_field else value}
        with named_as_flags(), pytest.raises(CycleGANError) as e:  # as a command line builds it
            cls(**given)
        assert f"option '{name}'" in str(e.value) and "\n" not in str(e.value), (value, str(e.value))
        if cls.naming == "keyword":  # built by hand from Python: the keyword, not the flag
            with pytest.raises(CycleGANError) as e:
                cls(**given)
            assert str(e.value).startswith(f.name) and "--" not in str(e.value), (value, str(e.value))


@pytest.mark.parametrize(
    "args, says",
    [
        (["--lr", "inf"], "option '--lr' must be a finite number, got inf"),
        (["--lambda-cycle", "nan"], "option '--lambda-cycle' must be a finite number, got nan"),
        (["--time-limit", "nan"], "option '--time-limit' must be a finite number"),
        (["--init-gain", "-1"], "option '--init-gain' must be positive, got -1"),
        (["--beta1", "5"], "option '--beta1' must be >= 0 and < 1, got 5"),
        (["--load-scale", "nan"], "option '--load-scale' must be a finite number"),
        (["--size", "100000"], "option '--size' must be > 0 and <= 8192, got 100000"),
        (["--device", "meta"], "option '--device': 'meta' is not a device this program computes on"),
        (["--batch-size", "100000"], "option '--batch-size': 100000 is more than the"),  # was an OOM kill
        (["--num-workers", "10000"], "option '--num-workers' must be >= -1 and <= 128, got 10000"),  # forked 10000
    ],
)
def test_bad_train_options_are_one_line_and_leave_no_run_folder(dataset, tmp_path, capsys, args, says):
    out = tmp_path / "run"
    given = {flag[2:].replace("-", "_"): value for flag, value in zip(args[::2], args[1::2])}  # over the tiny ones
    assert main(["train", *tiny_flags(dataset, out, steps=2, **given)]) == 2
    assert says in one_line_error(capsys)
    assert not out.exists()


def test_more_workers_than_cores_is_one_warning_line(tiny_cfg, capsys, monkeypatch):
    # torch's two-line warning, printed twice (the loader built, then iterated), named no option
    from cyclegan.train import train

    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)  # what torch counts
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(tiny_cfg(steps=1, num_workers=2), progress=False)
    assert [str(w.message) for w in caught if "worker" in str(w.message)] == []
    warned = [line for line in capsys.readouterr().err.splitlines() if "num_workers" in line]
    assert warned == [  # from Python: its key
        "warning: num_workers=2 is more than the 1 CPU core of this process: the loading processes share them "
        "(faster only when reading waits on a slow disk)"
    ]


def test_a_resumed_run_keeps_its_batch_when_the_images_became_fewer(tmp_path, capsys):
    # the batch check is for new runs: a run's batch cannot change on resume, so refusing it there would strand it
    data = tmp_path / "data"
    for domain, seed in (("trainA", 1), ("trainB", 2)):
        make_images(data / domain, 3, seed=seed)
    out = tmp_path / "run"
    assert main(["train", *tiny_flags(data, out, steps=1, batch_size=3)]) == 0
    for domain in ("trainA", "trainB"):
        for f in sorted((data / domain).iterdir())[1:]:
            f.unlink()  # one image left per domain, under the run's batch of 3
    assert main(["train", "--out", str(out), "--resume", "--steps", "2", "--no-progress"]) == 0
    assert main(["train", *tiny_flags(data, tmp_path / "new", steps=1, batch_size=3)]) == 2
    assert "'--batch-size': 3 is more than the 1 training image" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, says",
    [
        (["translate", "--checkpoint", "r", "--out", "o", "--batch-size", "0", "x.png"], "'--batch-size' must be"),
        (["translate", "--checkpoint", "r", "--out", "o", "--size", "-3", "x.png"], "'--size' must be positive"),
        (["stylize", "--content", "c.png", "--style", "s.png", "--out", "o.png", "--lr", "nan"], "'--lr' must be"),
        (["evaluate", "--checkpoint", "r", "--data", "d", "--kid-subsets", "0"], "'--kid-subsets' must be"),
        (["datasets", "download", "horse2zebra", "--root", "r", "--max-ratio", "inf"], "'--max-ratio' must be"),
    ],
)
def test_bad_options_of_other_commands_are_one_line(tmp_path, capsys, monkeypatch, args, says):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    assert says in one_line_error(capsys)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "args",
    [
        ["translate", "--checkpoint", "", "--out", "o", "x.png"],
        ["export", "--checkpoint", "", "--out", "g.onnx"],
        ["evaluate", "--checkpoint", "", "--data", "d"],
        ["evaluate", "--checkpoint", "r", "", "--data", "d"],
        ["compare", "--checkpoint", "", "--direction", "AtoB", "--content", "c.png", "--style", "s.png", "--out", "o"],
        ["bench", "--task", "style", "--content", "c.png", "--style", "s.png", "--checkpoint", ""],
        ["train", "--config", "", "--data", "d", "--out", "o", "--steps", "1"],
        ["train", "--data", "", "--out", "o", "--steps", "1"],  # "no training data: give --data ROOT", as if unset
        ["compare", "--checkpoint", "r", "--content", "", "--style", "s.png", "--out", "o"],  # ": no such file"
        # bench's outputs were '. is a folder', its inputs 'cannot read .'; stylize's --weights taken as not given
        ["bench", "--json", "", "--size", "32"],
        ["bench", "--task", "style", "--content", "", "--style", "s.png"],
        ["bench", "--task", "style", "--content", "c.png", "--style", ""],
        ["bench", "--task", "tiles", "--photo", ""],
        ["bench", "--task", "tiles", "--figure", ""],
        ["stylize", "--content", "c.png", "--style", "s.png", "--out", "o.png", "--weights", ""],
    ],
)
def test_an_empty_checkpoint_or_config_path_is_refused_naming_the_option(tmp_path, capsys, monkeypatch, args):
    # `--checkpoint "$RUN"` with RUN unset: an empty path is the working folder, so ./checkpoint.pt was translated,
    # exported or scored without a word; `train --config ""` trained on the defaults
    flag = args[args.index("") - 1] if args[args.index("") - 1].startswith("--") else "--checkpoint"
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    assert f"option '{flag}' is empty (an unset variable?): give " in one_line_error(capsys)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "args",
    [
        ["evaluate", "--checkpoint", "-", "--data", "d"],
        ["evaluate", "--checkpoint", "r", "--data", "-"],
        ["train", "--data", "-", "--out", "o", "--steps", "1"],  # "- does not exist": train's alone
        # "-: no such file or folder", where stylize's same flags refused it
        ["compare", "--checkpoint", "r", "--content", "-", "--style", "s.png", "--out", "o"],
        ["compare", "--checkpoint", "r", "--content", "c.png", "--style", "-", "--out", "o"],
        ["translate", "--checkpoint", "-", "--out", "o", "x.png"],
        ["stylize", "--content", "-", "--style", "s.png", "--out", "o"],
        ["stylize", "--content", "c.png", "--style", "s.png", "-", "--out", "o"],
        ["serve", "--checkpoint", "-"],
    ],
)
def test_a_dash_for_a_file_read_is_refused_as_no_standard_input(tmp_path, capsys, monkeypatch, args):
    """`--checkpoint -` or `--content -` (standard input, as a shell user writes it) was "no such file" or, for a
    folder option, "does not exist": a file named '-' looked for. Every option naming a file or folder read refuses
    it at once (one written, `--out -`, in test_config's test of outputs)."""
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    flag = next(a for a in reversed(args[: args.index("-")]) if a.startswith("--"))
    assert f"option '{flag}': - is not standard input here; give " in one_line_error(capsys)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("inputs", [["-"], ["a.png", "-"]])
def test_a_dash_for_translates_input_is_refused_as_no_standard_input(tmp_path, capsys, monkeypatch, inputs):
    """`translate -` said "nothing to translate: -: no such file or folder" (and beside another input, `-` was
    left out unsaid), where every other file read refuses it as standard input, in the same words."""
    monkeypatch.chdir(tmp_path)
    assert main(["translate", "--checkpoint", "r", "--out", "o", *inputs]) == 2
    assert one_line_error(capsys) == (
        "error: INPUT: - is not standard input here; give image or clip files, folders or globs"
    )
    assert list(tmp_path.iterdir()) == []


def test_an_empty_checkpoint_is_refused_by_serve_and_bench_tiles():
    from cyclegan.bench.options import TileBenchOptions
    from cyclegan.web.options import ServeOptions

    with pytest.raises(CycleGANError, match="option '--checkpoint' is empty"):
        ServeOptions(checkpoint=("",))  # `serve` offered ./checkpoint.pt
    with pytest.raises(CycleGANError, match="option '--tile-checkpoint' is empty"):
        TileBenchOptions(tile_checkpoint="")


_COMPARE = {"checkpoint": "r", "direction": "AtoB", "content": ("c.png",), "style": ("s.png",), "out": "o"}


@pytest.mark.parametrize(
    "options, given, flag",
    [
        ("web.options.ServeOptions", {"runs": ("",)}, "--runs"),  # served the working folder's runs
        ("web.options.ServeOptions", {"examples": ("",)}, "--examples"),  # showed its images to every visitor
        ("evaluate.options.EvalOptions", {"checkpoint": ("r",), "data": ""}, "--data"),  # the run's data, unsaid
        ("evaluate.options.EvalOptions", {"checkpoint": ("r",), "out": ""}, "--out"),  # no report, unsaid
        ("evaluate.options.EvalOptions", {"checkpoint": ("r",), "save_images": ""}, "--save-images"),  # no images
        ("evaluate.options.EvalOptions", {"checkpoint": ("r",), "inception_weights": ""}, "--inception-weights"),
        ("compare_options.CompareOptions", {**_COMPARE, "target": ""}, "--target"),  # the first --style folder
        ("style.options.StylizeOptions", {"content": "c.png", "style": ("s.png",), "out": ""}, "--out"),
        ("style.options.StylizeOptions", {"content": "", "style": ("s.png",), "out": "o.png"}, "--content"),
        # and (a probe of the CLI): the dataset downloaded into the working folder, its files called not a demo's,
        # an empty --weights taken as not given (Lite0 used without a word)
        ("data.download.DownloadOptions", {"name": "horse2zebra", "root": ""}, "--root"),
        ("demo_options.DemoOptions", {"out": ""}, "--out"),
        ("compare_options.CompareOptions", {**_COMPARE, "weights": ""}, "--weights"),
    ],
)
def test_an_empty_path_of_other_options_is_refused_naming_the_option(options, given, flag):
    # the unset variable of --checkpoint "": an empty path was taken as "not given", or as the working folder
    import importlib

    module, name = options.rsplit(".", 1)
    with pytest.raises(CycleGANError, match=f"option '{flag}' is empty \\(an unset variable\\?\\): give "):
        getattr(importlib.import_module(f"cyclegan.{module}"), name)(**given)


# --- a diverging run -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("log_every", [1, 100])
def test_a_loss_turning_nan_stops_the_run_and_keeps_the_last_good_checkpoint(
    dataset, tmp_path, capsys, monkeypatch, log_every
):
    """From step 5 on, G's weights are poisoned and G_total is NaN: the run stops at the next log record
    (log_every 1) or checkpoint (step 6, log_every 100), names the loss and the step, saves nothing more,
    and logs no NaN."""
    from cyclegan.train import CycleGANTrainer

    real = CycleGANTrainer.step

    def step(self, x, y):
        losses = real(self, x, y)
        if self.schedulers["G"].last_epoch >= 5:  # the steps done, this one included
            with torch.no_grad():
                for p in self.G.parameters():
                    p.fill_(math.nan)
            losses = {**losses, "G_total": torch.tensor(math.nan)}
        return losses

    monkeypatch.setattr(CycleGANTrainer, "step", step)
    out = tmp_path / "run"
    assert main(["train", *tiny_flags(dataset, out, steps=20, checkpoint_every=2, log_every=log_every)]) == 2
    err = one_line_error(capsys)
    assert f"loss G_total became NaN at step 5; the last checkpoint, step 4, is kept ({out / 'checkpoint.pt'})" in err
    ckpt = load_checkpoint(out)
    assert ckpt["step"] == 4
    assert all(torch.isfinite(t).all() for net in ckpt["models"].values() for t in net.values())
    records = strict_records(out / "log.jsonl")
    assert [r["step"] for r in records] == ([1, 2, 3, 4] if log_every == 1 else [])
    assert leftovers(out) == []


def test_an_infinite_loss_before_any_checkpoint_is_named(tiny_cfg, monkeypatch):
    from cyclegan.train import CycleGANTrainer, train

    real = CycleGANTrainer.step
    monkeypatch.setattr(CycleGANTrainer, "step", lambda self, x, y: {**real(self, x, y), "D_Y": torch.tensor(math.inf)})
    with pytest.raises(CycleGANError, match="^loss D_Y became inf at step 1; no checkpoint was saved"):
        train(tiny_cfg(steps=3), progress=False)
    assert not (Path(tiny_cfg().train.out) / "checkpoint.pt").exists()


# --- archives ------------------------------------------------------------------------------------------------


def _zip(entries: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_a_zip_bomb_is_refused_before_extracting(tmp_path):
    from cyclegan.data.archive import ArchiveLimits, extract_safely, verify_archive

    root = tmp_path / "root"
    root.mkdir()
    bomb = tmp_path / "bomb.zip"
    bomb.write_bytes(_zip({"horse2zebra/trainA/a.jpg": b"\0" * (16 << 20)}))  # 16 MiB in about 16 KiB
    assert bomb.stat().st_size < 100_000
    with pytest.raises(CycleGANError, match=r"entry 'horse2zebra/trainA/a.jpg' expands \d+ times .* '--max-ratio'"):
        extract_safely(bomb, root, "horse2zebra", source="bomb.zip")
    assert list(root.iterdir()) == []
    with pytest.raises(CycleGANError, match="a zip bomb"):
        verify_archive(bomb, url="bomb.zip", total=None, sha256=None)
    assert not bomb.exists()  # a bad archive is deleted: fetching it again cannot help

    many = tmp_path / "many.zip"  # each entry small, the whole compressed 1000:1
    many.write_bytes(_zip({f"x/{i}.jpg": b"\0" * (512 << 10) for i in range(8)}))
    with pytest.raises(CycleGANError, match=r"refusing to extract many.zip: it expands \d+ times"):
        extract_safely(many, root, "x", source="many.zip")

    plain = tmp_path / "plain.zip"  # incompressible, but larger than allowed
    plain.write_bytes(_zip({"x/a.jpg": os.urandom(50_000)}, zipfile.ZIP_STORED))
    with pytest.raises(CycleGANError, match=r"expands to 5e-05 GB, more than the 1e-05 GB allowed"):
        extract_safely(plain, root, "x", source="plain.zip", limits=ArchiveLimits(max_bytes=10_000))
    assert list(root.iterdir()) == []


def test_an_archive_whose_directory_lies_is_refused_while_extracting(tmp_path):
    """The central directory says 100 bytes for an entry that holds 4096: the bytes written are counted
    against what the directory declared, and the entry fails; nothing is left behind."""
    from cyclegan.data.archive import extract_safely

    data = bytearray(_zip({"x/a.jpg": os.urandom(4096)}, zipfile.ZIP_STORED))
    cd = data.rfind(b"PK\x01\x02")  # the central directory record: uncompressed size at offset 24
    data[cd + 24 : cd + 28] = (100).to_bytes(4, "little")
    archive = tmp_path / "lies.zip"
    archive.write_bytes(bytes(data))
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(CycleGANError, match="^refusing to extract lies.zip: entry 'x/a.jpg'") as e:
        extract_safely(archive, root, "x", source="lies.zip")
    assert "\n" not in str(e.value)
    assert list(root.iterdir()) == []


def test_a_failed_checkpoint_write_stops_the_run_and_keeps_the_previous(dataset, tmp_path, capsys, monkeypatch):
    """The disk fills up during the second checkpoint write: one line, the first checkpoint kept whole, no
    temporary file left."""
    real = torch.save
    saves = []

    def save(obj, f, *args, **kwargs):
        saves.append(f)
        if len(saves) == 2:
            (f.write if hasattr(f, "write") else Path(f).write_bytes)(b"part of a checkpoint")
            raise OSError(28, "No space left on device")
        return real(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)
    out = tmp_path / "run"
    assert main(["train", *tiny_flags(dataset, out, steps=10, checkpoint_every=2)]) == 2
    err = one_line_error(capsys)
    assert f"cannot write the checkpoint {out / 'checkpoint.pt'} at step 4: No space left on device" in err
    assert err.endswith(f"the previous checkpoint is kept (once there is room: cyclegan train --out {out} --resume)")
    monkeypatch.undo()
    assert load_checkpoint(out)["step"] == 2 and leftovers(out) == []


@pytest.mark.parametrize(
    ("code", "strerror", "when"),
    [
        (errno.EROFS, "Read-only file system", "once the file system of {out} is writable again (mounted read-write)"),
        (errno.EACCES, "Permission denied", "once you may write in {out} (its permissions, or its owner's)"),
        (errno.EIO, "Input/output error", "once the disk or its connection is checked"),
    ],
)
def test_a_checkpoint_write_failing_for_another_cause_than_room_says_what_lifts_it(
    dataset, tmp_path, capsys, monkeypatch, code, strerror, when
):
    """A read-only disk, a refused permission or a failing disk said "once there is room" as a full one does,
    sending the user to free space that was never short: the line names what lifts the cause instead."""
    real = torch.save
    saves = []

    def save(obj, f, *args, **kwargs):
        saves.append(f)
        if len(saves) == 2:
            raise OSError(code, strerror)
        return real(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)
    out = tmp_path / "run"
    assert main(["train", *tiny_flags(dataset, out, steps=10, checkpoint_every=2)]) == 2
    err = one_line_error(capsys)
    assert err.endswith(
        f"at step 4: {strerror}; the previous checkpoint is kept ({when.format(out=out)}: cyclegan train --out {out} "
        "--resume)"
    )
    assert "room" not in err


def test_a_disk_that_fills_during_a_checkpoint_says_the_room_it_needs(dataset, tmp_path, capsys, monkeypatch):
    """The disk fills halfway through the second checkpoint: "No space left on device" alone left the user to guess
    how much to free; the line says what the checkpoint needs and what the disk has, the first one kept whole."""
    import shutil

    from cyclegan.errors import byte_size

    real, files = torch.save, []

    def save(obj, f, *args, **kwargs):
        if hasattr(f, "fileno"):  # a file on the disk (not the counter that sizes the checkpoint)
            files.append(f)
            if len(files) == 2:
                f.write(b"part of a checkpoint")
                raise OSError(errno.ENOSPC, "No space left on device")
        return real(obj, f, *args, **kwargs)

    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(torch, "save", save)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage._replace(free=300 * 1024))
    out = tmp_path / "run"
    assert main(["train", *tiny_flags(dataset, out, steps=10, checkpoint_every=2)]) == 2
    monkeypatch.undo()
    needs = byte_size((out / "checkpoint.pt").stat().st_size)  # the step-2 checkpoint: the same networks
    assert one_line_error(capsys) == (
        f"error: cannot write the checkpoint {out / 'checkpoint.pt'} at step 4: No space left on device (it needs "
        f"{needs}, the disk has 300 KiB free); the previous checkpoint is kept (once there is room: cyclegan train "
        f"--out {out} --resume)"
    )
    assert load_checkpoint(out)["step"] == 2 and leftovers(out) == []


def test_a_failed_first_checkpoint_write_says_there_is_nothing_to_resume(dataset, tmp_path, capsys, monkeypatch):
    # it said "the previous checkpoint is kept" where there was none: a --resume then found nothing to resume
    def save(obj, f, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", save)
    out = tmp_path / "run"
    assert main(["train", *tiny_flags(dataset, out, steps=4, checkpoint_every=2)]) == 2
    err = one_line_error(capsys)
    assert err.endswith(
        f"cannot write the checkpoint {out / 'checkpoint.pt'} at step 2: No space left on device; it was the run's "
        "first: nothing to resume; once there is room, start the run again"
    )
    monkeypatch.undo()
    assert main(["train", *tiny_flags(dataset, out, steps=4, checkpoint_every=2)]) == 0  # as it says


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (a disk always full)")
def test_a_full_disk_while_writing_the_log_is_one_line(dataset, tmp_path, capsys, monkeypatch):
    # a record that could not be written ended the run in an OSError traceback
    import builtins

    from cyclegan.train import losslog

    def full_disk(fd, mode):  # log.jsonl opened, and written on a full disk (a link to /dev/full is refused)
        os.close(fd)
        return builtins.open("/dev/full", mode)

    monkeypatch.setattr(losslog, "open", full_disk, raising=False)
    out = tmp_path / "run"
    out.mkdir()
    assert main(["train", *tiny_flags(dataset, out, steps=2)]) == 2
    err = one_line_error(capsys)
    assert f"cannot write the log {out / 'log.jsonl'} at step 1: No space left on device" in err


def test_a_log_that_is_a_symbolic_link_is_refused_not_appended_through(dataset, tmp_path, capsys):
    """log.jsonl was opened for appending through a link at that name: the run's records went to the link's target,
    outside the run folder (another run's log, any file the user can write)."""
    out, elsewhere = tmp_path / "run", tmp_path / "elsewhere.txt"
    out.mkdir()
    elsewhere.write_text("")  # empty, or JSON records, the clean-up at the claim kept the link: appended through
    (out / "log.jsonl").symlink_to(elsewhere)
    assert main(["train", *tiny_flags(dataset, out, steps=1)]) == 2
    assert (
        f"cannot write the log {out / 'log.jsonl'}: it is a symbolic link (to {elsewhere}), and a run writes inside "
        "its folder only; remove the link, or choose another --out"
    ) in one_line_error(capsys)
    assert elsewhere.read_text() == "" and (out / "log.jsonl").is_symlink()


def test_a_log_or_tensorboard_path_taken_by_another_kind_of_file_is_named(dataset, tmp_path, capsys):
    # log.jsonl a folder: an IsADirectoryError traceback; tensorboard a file: a FileExistsError traceback
    out = tmp_path / "run"
    (out / "log.jsonl").mkdir(parents=True)
    assert main(["train", *tiny_flags(dataset, out, steps=1)]) == 2
    assert f"cannot write the log {out / 'log.jsonl'}: Is a directory; move it away" in one_line_error(capsys)
    (out / "log.jsonl").rmdir()
    (out / "tensorboard").write_text("not a folder")
    assert main(["train", *tiny_flags(dataset, out, steps=1)]) == 0  # TensorBoard is optional: the run goes on
    assert f"warning: no TensorBoard events this run: File exists ({out / 'tensorboard'})" in capsys.readouterr().err
    assert load_checkpoint(out)["step"] == 1


def test_a_full_disk_under_tensorboard_warns_and_the_run_goes_on(dataset, tmp_path, capsys, monkeypatch):
    # TensorBoard writes on a thread of its own, which raised the disk's error again at the next add_scalar: the run
    # ended in two tracebacks (the thread's and the loop's), the steps since its last checkpoint lost
    record_writer = pytest.importorskip("tensorboard.summary.writer.record_writer")
    real, calls = record_writer.RecordWriter.write, []

    def write(self, data):
        calls.append(data)
        if len(calls) > 1:  # the file's header goes through, then the disk is full
            raise OSError(28, "No space left on device")
        return real(self, data)

    monkeypatch.setattr(record_writer.RecordWriter, "write", write)
    out = tmp_path / "run"
    assert main(["train", *tiny_flags(dataset, out, steps=4, log_every=1, checkpoint_every=2)]) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and "Exception in thread" not in err, err
    warned = [line for line in err.splitlines() if "TensorBoard" in line]
    assert warned == [
        f"warning: no more TensorBoard events this run: No space left on device ({out / 'tensorboard'}); log.jsonl "
        "holds every record"
    ]
    assert load_checkpoint(out)["step"] == 4 and [r["step"] for r in strict_records(out / "log.jsonl")] == [1, 2, 3, 4]


@pytest.mark.parametrize(
    "key, value, says",
    [
        ("watch", {"metric": None}, r"its 'watch' state cannot be read \(KeyError: 'losses'\)"),
        ("loss_sums", {"sums": "x", "n": 3}, r"its 'loss_sums' is not loss sums and a step count"),
    ],
)
def test_a_damaged_watcher_state_or_loss_sums_in_the_checkpoint_is_one_line(tiny_cfg, tmp_path, key, value, says):
    # the watcher's state and the loss sums carried to the next record were read unchecked: an edited one was a
    # KeyError, TypeError or AttributeError traceback
    from cyclegan.train import prepare_config, train

    out = tmp_path / "run"
    train(tiny_cfg(steps=1), progress=False)
    ckpt = torch.load(out / "checkpoint.pt", weights_only=True)
    ckpt[key] = value
    torch.save(ckpt, out / "checkpoint.pt")
    cfg, ckpt = prepare_config({"steps": 2}, resume=True, out=str(out))
    with pytest.raises(CycleGANError, match=f"checkpoint.pt: {says}"):
        train(cfg, ckpt=ckpt, progress=False)


def test_a_run_folder_that_is_a_broken_link_is_named_as_one(dataset, tmp_path, capsys):
    # "cannot write the run folder RUN: No such file or directory (RUN/.lock)": the path was there, a link to nothing
    out, target = tmp_path / "run", tmp_path / "unmounted" / "run"
    out.symlink_to(target)
    assert main(["train", *tiny_flags(dataset, out, steps=1)]) == 2
    assert f"option '--out': {out} is a broken symbolic link (to {target})" in one_line_error(capsys)
    assert not (tmp_path / "unmounted").exists()


def test_a_new_run_keeps_the_records_no_config_json_claims(dataset, tmp_path, capsys):
    """A new run trims log.jsonl to step 0 and removes the sample grids after it: in a folder holding another run's
    log and grids without its config.json (here reached through a link, as `--out runs/x -> /data/old`), the log
    was emptied and the grids deleted without a word."""
    other, out = tmp_path / "other", tmp_path / "run"
    (other / "samples").mkdir(parents=True)
    (other / "log.jsonl").write_text('{"step": 5, "D_X": 0.3}\n')
    (other / "samples" / "step_0000005.png").write_bytes(b"a grid")
    out.symlink_to(other)
    assert main(["train", *tiny_flags(dataset, out, steps=1)]) == 2
    assert one_line_error(capsys) == (
        f"error: {out} (a symbolic link to {other}) holds log.jsonl and samples/step_*.png but no config.json "
        "(another run's records, which a new run here would replace): move them elsewhere to keep them, or choose "
        "another --out"
    )
    assert (other / "log.jsonl").read_text() == '{"step": 5, "D_X": 0.3}\n'
    assert sorted(p.name for p in other.rglob("*")) == ["log.jsonl", "samples", "step_0000005.png"]


def test_a_run_folder_that_is_a_link_to_another_run_says_so(dataset, tmp_path, capsys):
    """`--out runs/latest`, a link to runs/a: "runs/latest already holds a run: add --resume" did not say that the
    resume would go on with runs/a; the refusal names the link's target, and a resume through it says where it
    writes. Both names are one run: its lock is in the folder, so one trains at a time."""
    run, link = tmp_path / "a", tmp_path / "latest"
    assert main(["train", *tiny_flags(dataset, run, steps=1)]) == 0
    link.symlink_to("a")
    capsys.readouterr()
    assert main(["train", *tiny_flags(dataset, link, steps=2)]) == 2
    assert one_line_error(capsys) == (
        f"error: {link} (a symbolic link to a) already holds a run: add --resume to continue it, or choose "
        "another --out"
    )
    lock = FolderLock(run)
    assert lock.acquire()
    try:
        assert main(["train", "--out", str(link), "--resume", "--no-progress"]) == 2
        assert f"error: {link} (a symbolic link to a) is in use by another training run" in one_line_error(capsys)
    finally:
        lock.release(keep_folder=True)
    assert main(["train", "--out", str(link), "--resume", "--steps", "2", "--no-progress"]) == 0
    assert f"note: --out {link} (a symbolic link to a): the run is written there\n" in capsys.readouterr().err
    assert load_checkpoint(run)["step"] == 2 and link.is_symlink()


@pytest.mark.parametrize("name", [".lock", "config.json"])
def test_a_run_file_taken_by_a_folder_is_named(dataset, tmp_path, capsys, name):
    # "cannot write the run folder RUN: Is a directory", without the file: the folder itself looked at fault
    out = tmp_path / "run"
    (out / name).mkdir(parents=True)
    assert main(["train", *tiny_flags(dataset, out, steps=1)]) == 2
    assert f"cannot write the run folder {out}: Is a directory ({out / name})" in one_line_error(capsys)


@pytest.mark.slow
def test_a_process_with_loader_workers_still_alive_exits(tmp_path):
    """Loader workers ignore SIGTERM (the whole process group's goes to the main process alone), but
    multiprocessing ends the workers still alive at exit with SIGTERM and waits for them: a process whose loader was
    not shut down (an error's traceback holding the training loop's frame, as pytest keeps it) never exited; the
    test suite hung after its last test. Now they are killed at exit, without torch's "worker killed" error."""
    script = tmp_path / "alive.py"
    script.write_text(
        "from torch.utils.data import DataLoader\n"
        "from cyclegan.train.signals import worker_init\n"
        "it = iter(DataLoader(list(range(100)), num_workers=1, worker_init_fn=worker_init))\n"
        "next(it)\n"
        "print('exiting', flush=True)\n"
    )
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout == "exiting\n" and "Error" not in proc.stderr, proc.stderr
