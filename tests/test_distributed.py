"""Training under torchrun with 2 CPU processes (gloo): ranks stay equal, match one process, and resume."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import TINY
from cyclegan.checkpoint import load_checkpoint
from cyclegan.train.distributed import Dist, StepSampler, weights_digest
from helpers import flags, run_cyclegan

pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed not built")


def weights(run: Path) -> dict:
    return load_checkpoint(run)["models"]


def assert_same_weights(a: dict, b: dict, *, atol: float = 0.0) -> None:
    for net in ("G", "F", "D_X", "D_Y"):
        for k in a[net]:
            torch.testing.assert_close(a[net][k], b[net][k], atol=atol, rtol=0, msg=f"{net}.{k} differs")


def options(dataset: Path, **extra) -> dict:
    opts = {k: v for k, v in TINY.items() if k != "preset"}
    return {**opts, "data": dataset, "device": "cpu", "compile": "off", **extra}


def test_step_sampler_splits_each_global_batch():
    d0, d1 = Dist(rank=0, world_size=2), Dist(rank=1, world_size=2)
    assert list(StepSampler(3, 5, 4, d0)) == [12, 13, 16, 17]
    assert list(StepSampler(3, 5, 4, d1)) == [14, 15, 18, 19]
    assert len(StepSampler(3, 5, 4, d1)) == 4
    assert list(StepSampler(3, 5, 4, Dist())) == list(range(12, 20))  # one process: every sample in order


def test_batch_must_split_over_processes():
    from cyclegan.errors import CycleGANError

    with pytest.raises(CycleGANError, match="batch_size"):
        StepSampler(0, 5, 3, Dist(rank=0, world_size=2))
    # a resumed run keeps its batch (`--batch-size` cannot change on resume): the process count is what to change
    said = r"batch 2 \(its --batch-size, kept on resume\) .* over 3 processes; resume it on 1 or 2 processes"
    with pytest.raises(CycleGANError, match=said):
        StepSampler(4, 5, 2, Dist(rank=0, world_size=3), resumed=True)


def test_more_processes_than_gpus_counts_the_gpus_in_words(monkeypatch):
    """torchrun with more processes than GPUs said "it has 1 GPU(s)": the count now takes its noun as counted."""
    from cyclegan.errors import CycleGANError
    from cyclegan.train import distributed

    env = {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)  # checked before any GPU is touched
    with pytest.raises(CycleGANError) as e:
        distributed.setup(torch.device("cuda"))
    assert str(e.value) == (
        "torchrun started 2 processes on this machine but it has 1 GPU: use --nproc_per_node <= the GPU count"
    )


@pytest.mark.slow
def test_two_processes_keep_equal_weights_and_match_one_process(dataset, tmp_path):
    """DDP averages the gradients of two half batches: the same update as one process on the whole batch
    (per-sample InstanceNorm, no pool so both see the same fakes, fp32 so only summation order differs)."""
    opts = options(dataset, steps=3, batch_size=2, pool_size=0, precision="fp32")
    p = run_cyclegan(["train", "--out", str(tmp_path / "ddp"), *flags(opts)], nproc=2)
    assert "training on 2 processes (cpu), global batch 2 = 1 per process" in p.stdout
    ckpt = load_checkpoint(tmp_path / "ddp")
    assert ckpt["step"] == 3 and len(ckpt["ranks"]) == 2
    digests = {r["weights_sha256"] for r in ckpt["ranks"]}
    assert len(digests) == 1  # both ranks hold bit-identical weights and buffers
    from cyclegan.config import config_from_dict
    from cyclegan.models import build_models

    nets = build_models(config_from_dict(ckpt["config"], source="test").model)
    for k, net in nets.items():
        net.load_state_dict(ckpt["models"][k])
    assert weights_digest(nets) in digests  # ... and they are what rank 0 saved

    run_cyclegan(["train", "--out", str(tmp_path / "one"), *flags(opts)], nproc=1)
    a, b = weights(tmp_path / "ddp"), weights(tmp_path / "one")
    # Conv biases in front of InstanceNorm get only rounding noise as gradient, which Adam scales up to
    # lr-sized steps either way; they cannot change any output. Compare the weights and the outputs.
    assert_same_weights({n: {k: v for k, v in a[n].items() if k.endswith("weight")} for n in a}, b, atol=1e-5)
    one = build_models(config_from_dict(load_checkpoint(tmp_path / "one")["config"], source="test").model)
    for k, net in one.items():
        net.load_state_dict(b[k])
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        for k in nets:
            torch.testing.assert_close(nets[k].eval()(x), one[k].eval()(x), atol=1e-4, rtol=0)
    # rank 0 alone writes the run's sample grid: the final one, once
    assert [p.name for p in (tmp_path / "ddp" / "samples").iterdir()] == ["step_0000003.png"]


TIME_UP_AFTER_ONE_STEP = '''
"""`python -m cyclegan` whose training clock jumps past any time limit once the first step is logged."""
import sys
import time

import cyclegan.train.loop as loop
from cyclegan.cli import main

steps, real_add = [0], loop.LossLog.add


class Clock:
    def __getattr__(self, name):
        return getattr(time, name)

    def monotonic(self):
        return time.monotonic() + (1e9 if steps[0] else 0)


def add(self, *args, **kwargs):
    steps[0] += 1
    return real_add(self, *args, **kwargs)


loop.time, loop.LossLog.add = Clock(), add
sys.exit(main(sys.argv[1:]))
'''


@pytest.mark.slow
def test_resume_under_torchrun_is_exact(dataset, tmp_path):
    """Stopped after 1 step (time limit) and resumed with 2 processes == 4 uninterrupted steps: per-rank
    RNG (dropout) and image pools come back from the checkpoint; the default bf16 path."""
    opts = options(dataset, steps=4, batch_size=2, dropout=0.5)
    run_cyclegan(["train", "--out", str(tmp_path / "whole"), *flags(opts)], nproc=2)
    # the limit passes after the first step (a clock that jumps): a limit shorter than the first wait for a batch
    # stops at step 0, as one process does
    script = tmp_path / "time_up_after_one_step.py"
    script.write_text(TIME_UP_AFTER_ONE_STEP)
    p = run_cyclegan(
        ["train", "--out", str(tmp_path / "parts"), *flags({**opts, "time_limit": 60})], nproc=2, script=script
    )
    assert "time limit" in p.stdout
    # launched as it was: `cyclegan train --resume` alone resumed on one process, not exactly
    resume = f"torchrun --standalone --nproc_per_node 2 -m cyclegan train --out {tmp_path / 'parts'} --resume"
    assert f"(continue with: {resume}, for another " in p.stdout  # the time limit kept on resume, said after it
    assert load_checkpoint(tmp_path / "parts")["step"] == 1
    p = run_cyclegan(["train", "--out", str(tmp_path / "parts"), "--resume", "--time-limit", "60"], nproc=2)
    ckpt = load_checkpoint(tmp_path / "parts")
    assert ckpt["step"] == 4
    assert ckpt["ranks"][0]["weights_sha256"] == load_checkpoint(tmp_path / "whole")["ranks"][0]["weights_sha256"]
    assert_same_weights(weights(tmp_path / "whole"), weights(tmp_path / "parts"))
    logged = (tmp_path / "parts" / "log.jsonl").read_text().splitlines()
    assert [line.split(",")[0] for line in logged] == [f'{{"step": {s}' for s in (1, 2, 3, 4)]  # rank 0 alone logs


@pytest.mark.slow
def test_batchnorm_on_two_cpu_processes_keeps_equal_weights(dataset, tmp_path):
    """BatchNorm without SyncBatchNorm (CPU): each rank normalises its own slice, so the running statistics
    differ between ranks, but the weights DDP averages stay equal, and no false alarm is raised."""
    opts = options(dataset, steps=2, batch_size=2, norm="batch")
    p = run_cyclegan(["train", "--out", str(tmp_path / "bn"), *flags(opts)], nproc=2)
    assert "SyncBatchNorm needs GPUs" in p.stderr
    assert "weights differ" not in p.stderr
    assert len({r["weights_sha256"] for r in load_checkpoint(tmp_path / "bn")["ranks"]}) == 1


@pytest.mark.slow
def test_a_failure_on_rank_0_alone_stops_every_rank(dataset, tmp_path):
    """Only rank 0 checks and writes the run folder; when it refuses, the other rank must not wait for it forever.
    (An --out under a file is refused by every rank now, before the folder is claimed: a best.pt without a
    checkpoint is rank 0's alone to find.)"""
    out = tmp_path / "run"
    out.mkdir()
    (out / "best.pt").write_bytes(b"an earlier run's")
    p = run_cyclegan(["train", "--out", str(out), *flags(options(dataset, steps=2, batch_size=2))], nproc=2, ok=False)
    assert p.returncode != 0
    assert f"{out} holds best.pt" in p.stderr
    assert "rank 0 could not prepare the run" in p.stderr  # rank 1's own one-line error


@pytest.mark.slow
def test_a_busy_run_folder_stops_every_rank(dataset, tmp_path):
    """Only rank 0 takes the run folder's lock; its refusal must stop rank 1 too instead of leaving it waiting
    in a collective, and nothing is written."""
    from cyclegan.files import FolderLock

    out = tmp_path / "run"
    lock = FolderLock(out)
    assert lock.acquire()
    try:
        p = run_cyclegan(
            ["train", "--out", str(out), *flags(options(dataset, steps=2, batch_size=2))], nproc=2, ok=False
        )
        assert p.returncode != 0
        assert f"{out} is in use by another training run (PID {os.getpid()})" in p.stderr
        assert "rank 0 could not prepare the run folder" in p.stderr  # rank 1's own line
        assert [q.name for q in out.iterdir()] == [".lock"]  # ours; the refused run wrote nothing
    finally:
        lock.release()


NAN_ON_RANK_1 = '''
"""`python -m cyclegan` in which, from step 3 on, rank 1 alone gets a NaN loss and NaN generator weights."""
import math
import os
import sys

import torch

from cyclegan.cli import main
from cyclegan.train import CycleGANTrainer

real_step = CycleGANTrainer.step


def step(self, x, y):
    losses = real_step(self, x, y)
    if os.environ.get("RANK") == "1" and self.schedulers["G"].last_epoch >= 3:
        with torch.no_grad():
            for p in self.G.parameters():
                p.fill_(math.nan)
        losses = {**losses, "cycle_x": torch.tensor(math.nan)}
    return losses


CycleGANTrainer.step = step
sys.exit(main(sys.argv[1:]))
'''


@pytest.mark.slow
def test_a_nan_loss_on_one_rank_stops_every_rank_and_rank_0_names_it(dataset, tmp_path):
    """Rank 0 gathers the first non-finite loss of every rank at its next log record: it names rank 1's loss
    and step, every rank stops, and the checkpoint of step 2 stays as it was."""
    script = tmp_path / "nan_on_rank_1.py"
    script.write_text(NAN_ON_RANK_1)
    out = tmp_path / "run"
    opts = options(dataset, steps=10, batch_size=2, checkpoint_every=2, log_every=3)
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            str(script),
            "train",
            "--out",
            str(out),
            *flags(opts),
        ],
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode != 0
    assert "loss cycle_x became NaN at step 3; the last checkpoint, step 2, is kept" in p.stderr, p.stderr[-3000:]
    assert "stopping: a loss became non-finite (rank 0 names it)" in p.stderr
    ckpt = load_checkpoint(out)
    assert ckpt["step"] == 2
    assert all(torch.isfinite(t).all() for net in ckpt["models"].values() for t in net.values())


LOST_ON_RANK_1 = '''
"""`python -m cyclegan` in which rank 1 alone can no longer read its images after its first few (a file gone)."""
import os
import sys

import cyclegan.data.dataset as dataset
from cyclegan.cli import main
from cyclegan.errors import CycleGANError

real_read, reads = dataset.read_image, [0]


def read(path, **kwargs):
    reads[0] += 1
    if os.environ.get("RANK") == "1" and reads[0] > 6:
        raise CycleGANError(f"{path}: gone")
    return real_read(path, **kwargs)


dataset.read_image = read
sys.exit(main(sys.argv[1:]))
'''


@pytest.mark.slow
def test_an_image_lost_on_one_rank_stops_every_rank(dataset, tmp_path):
    """Rank 1 stopped with the lost image's error but waited in the process group's last barrier, while rank 0
    waited in the step's gradient all-reduce: both for ever. Now rank 1 leaves and rank 0's collective fails, which
    rank 0 names in one line with the checkpoint kept."""
    script = tmp_path / "lost_on_rank_1.py"
    script.write_text(LOST_ON_RANK_1)
    out = tmp_path / "run"
    opts = options(dataset, steps=50, batch_size=2, checkpoint_every=2, num_samples=0)
    code, _, err = torchrun_bounded(script, ["train", "--out", str(out), *flags(opts)])
    assert code != 0
    step = load_checkpoint(out)["step"]
    assert f": gone; the run stopped, its checkpoint of step {step} kept" in err, err[-3000:]
    # rank 0, whose collective failed, says so in one line (it was torch's traceback of a gloo "Connection reset")
    assert "error: rank 0: another process of the run ended (" in err, err[-3000:]
    assert f"the checkpoint {out / 'checkpoint.pt'} is kept. Continue with: " in err
    assert "[rank0]: Traceback" not in err


HANGS_ON_RANK_1 = '''
"""`python -m cyclegan` in which rank 1's image reads ({module}.{name}) hang (a stalled network file), bounded."""
import os
import sys
import time

import {module} as module
from cyclegan.cli import main

real_read = module.{name}


def read(path, *args, **kwargs):
    if os.environ.get("RANK") == "1":
        time.sleep(600)
    return real_read(path, *args, **kwargs)


module.{name} = read
sys.exit(main(sys.argv[1:]))
'''


def run_with_rank_1_hung(tmp_path: Path, args: list[str], *, module: str, name: str) -> tuple[int, str, str]:
    """torchrun of 2 processes whose rank 1 hangs in `module.name` (a read): its status, stdout and stderr."""
    script = tmp_path / "hangs_on_rank_1.py"
    script.write_text(HANGS_ON_RANK_1.format(module=module, name=name))
    return torchrun_bounded(script, args)


def torchrun_bounded(script: Path, args: list[str]) -> tuple[int, str, str]:
    """torchrun of 2 processes of `script` (a patched `python -m cyclegan`) with `args`, killed whole, ranks too, if
    it outlives 240 s (a run that should stop may hang): its status, stdout and stderr."""
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script)]
    p = subprocess.Popen(
        [*launcher, *args],
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its ranks too are killed below, should they hang
    )
    try:
        stdout, err = p.communicate(timeout=240)
    finally:
        with contextlib.suppress(ProcessLookupError):  # none left: the run ended as it should
            os.killpg(p.pid, signal.SIGKILL)
    return p.returncode, stdout, err


@pytest.mark.slow
def test_the_time_limit_ends_a_hung_first_read_on_one_rank_on_every_rank(dataset, tmp_path):
    """Under torchrun the wait for a batch had no deadline: rank 1 hung in its first read, rank 0 in the step's
    gradient all-reduce, past --time-limit for ever, nothing saved. Now the limit ends rank 1's wait and the ranks
    agree to stop at the same step: the run ends in the time limit's line, its checkpoint resumable."""
    out = tmp_path / "run"
    args = ["train", "--out", str(out), *flags(options(dataset, steps=50, time_limit=0.05))]
    code, stdout, err = run_with_rank_1_hung(tmp_path, args, module="cyclegan.data.dataset", name="read_image")
    assert code == 0, err[-3000:]
    assert "time limit of 0.05 min reached at step 0/50" in stdout, stdout + err[-3000:]
    assert load_checkpoint(out)["step"] == 0


@pytest.mark.slow
def test_the_time_limit_ends_a_hung_check_of_the_images_on_one_rank_on_every_rank(dataset, tmp_path):
    """Under torchrun the check of the images before training had no deadline: rank 1 hung in a read there, rank 0
    waited for it to compare the images, both for ever. Now rank 1 stops at the limit in its one line, and rank 0
    says another process ended."""
    out = tmp_path / "run"
    args = ["train", "--out", str(out), *flags(options(dataset, steps=50, time_limit=0.1))]
    code, _, err = run_with_rank_1_hung(tmp_path, args, module="cyclegan.data.io", name="open_image")
    assert code != 0
    assert "error: time limit of 0.1 min reached while checking the images, before the first step" in err, err[-3000:]
    assert "error: rank 0: another process of the run ended (" in err, err[-3000:]


FEWER_ON_RANK_1 = '''
"""`python -m cyclegan` in which rank 1 sees one image fewer in each training folder (another copy of the data)."""
import os
import sys
from pathlib import Path

import cyclegan.train.inputs as inputs
from cyclegan.cli import main

real_list = inputs.list_images


def fewer(folder, **kwargs):
    files = real_list(folder, **kwargs)
    return files[:-1] if os.environ.get("RANK") == "1" and Path(folder).name.startswith("train") else files


inputs.list_images = fewer
sys.exit(main(sys.argv[1:]))
'''


@pytest.mark.slow
def test_processes_that_see_other_training_images_stop_before_the_first_step(dataset, tmp_path):
    """Each rank lists the images itself: one that saw fewer (another machine's copy of the data) trained on other
    images for the same sample index without a word (its counts further apart, the ranks' collectives mismatched and
    gloo aborted). Every rank stops before the first step, rank 0 naming both counts, and nothing is written."""
    script = tmp_path / "fewer_on_rank_1.py"
    script.write_text(FEWER_ON_RANK_1)
    out = tmp_path / "run"
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script)]
    p = subprocess.run(
        [*launcher, "train", "--out", str(out), *flags(options(dataset, steps=2, batch_size=2))],
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode != 0
    counts = "rank 0: 5 A and 7 B images, rank 1: 4 A and 6 B images"
    said = f"error: the processes see other training images ({counts}): every process must read the same images"
    assert said in p.stderr, p.stderr[-3000:]
    assert "error: rank 1: the processes see other training images (rank 0 names them)" in p.stderr
    assert not out.exists()
