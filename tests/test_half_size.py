"""--half-size-fraction: the first steps train on batches averaged down to half the size, the rest at full
size; the run resumes exactly; --fit-steps times the two sizes apart and follows the speed of the recent steps."""

import types

import pytest
import torch

from cyclegan.checkpoint import load_checkpoint
from cyclegan.errors import CycleGANError
from cyclegan.train import CycleGANTrainer, prepare_config, train
from cyclegan.train.budget import StepFitter
from cyclegan.train.inputs import at_step_size, half_size_steps

CPU = torch.device("cpu")


def test_the_first_steps_see_each_2x2_block_averaged():
    batch = torch.rand(2, 3, 8, 8) * 2 - 1
    half = half_size_steps(10, 0.5)
    assert half == 5
    small = at_step_size(batch, 5, half)
    assert small.shape == (2, 3, 4, 4)
    assert torch.allclose(small[0, 0, 0, 0], batch[0, 0, :2, :2].mean())  # range kept: a mean of [-1, 1]
    assert at_step_size(batch, 6, half) is batch
    assert half_size_steps(10, 0.0) == 0


def _sizes_seen(monkeypatch) -> list[int]:
    seen: list[int] = []
    real = CycleGANTrainer.step

    def step(self, x, y):
        seen.append(x.shape[-1])
        assert y.shape == x.shape
        return real(self, x, y)

    monkeypatch.setattr(CycleGANTrainer, "step", step)
    return seen


def test_a_half_size_run_trains_both_sizes_and_resumes_exactly(tiny_cfg, tmp_path, monkeypatch):
    from test_train import _train_steps, assert_same_weights, weights

    opts = {"steps": 8, "d_layers": 2, "half_size_fraction": 0.5, "lr_decay_fraction": 0.5}
    seen = _sizes_seen(monkeypatch)
    train(tiny_cfg(out=str(tmp_path / "one"), **opts), progress=False)
    assert seen == [16] * 4 + [32] * 4  # 32 px training size: steps 1-4 at 16 px
    monkeypatch.undo()
    _train_steps(tiny_cfg(out=str(tmp_path / "two"), **opts), 3)  # stopped inside the half-size steps
    cfg, ckpt = prepare_config({}, resume=True, out=str(tmp_path / "two"))
    assert ckpt["step"] == 3 and cfg.train.half_size_fraction == 0.5
    seen = _sizes_seen(monkeypatch)
    train(cfg, ckpt=ckpt, progress=False)
    assert seen == [16] + [32] * 4
    assert load_checkpoint(tmp_path / "two")["step"] == 8
    assert_same_weights(weights(tmp_path / "one"), weights(tmp_path / "two"))


@pytest.mark.parametrize(
    "overrides, message",
    [
        # from Python: its keywords (it was told to "raise --size or lower --d-layers", flags it never typed)
        ({"size": 32, "d_layers": 3}, "half of size, 16 px, is too small .*; raise size or lower d_layers$"),
        ({"size": 36, "d_layers": 2}, "half of size, 18 px, is not a multiple of 4"),
        ({"size": 32, "generator": "unet"}, "option 'half_size_fraction' applies to the resnet and seed generators"),
    ],
)
def test_a_half_size_the_networks_cannot_take_is_refused(tiny_cfg, overrides, message):
    with pytest.raises(CycleGANError, match=message):
        tiny_cfg(half_size_fraction=0.5, **overrides)


class _Trainer:  # what StepFitter reads of a trainer
    def __init__(self, total):
        self.total_steps = total
        self.cfg = types.SimpleNamespace(train=types.SimpleNamespace(lr_decay_fraction=0.5))


@pytest.mark.parametrize("fraction", [0.4, 0.8])  # switching before and after the LR starts to decay
def test_fit_steps_times_the_two_sizes_apart(monkeypatch, fraction):
    """Half-size steps take 1 s and full-size ones 2.5 s (the fitter guesses 3x until it has timed them): both
    are measured apart, the run ends inside the time limit, and once past the switch a refit never moves the
    switch beyond steps already trained at full size (so the run may end early: at least 80 % of the time)."""
    import cyclegan.train.budget as budget

    clock = types.SimpleNamespace(now=0.0)
    monkeypatch.setattr(budget, "time", types.SimpleNamespace(monotonic=lambda: clock.now))
    limit, cap = 3000.0, 100_000
    fitter = StepFitter(start=0, cap=cap, deadline=limit, half_fraction=fraction, device=CPU)
    trainer, total, step, sizes = _Trainer(cap), cap, 0, []
    while step < total:
        step += 1
        sizes.append("half" if step <= half_size_steps(total, fraction) else "full")
        clock.now += 1.0 if sizes[-1] == "half" else 2.5
        fitter.tick(step, total)
        if fitter.due(step):
            total = trainer.total_steps = fitter.total(step, trainer)
    assert fitter.rates == pytest.approx((1.0, 2.5))
    assert 0.8 * limit <= clock.now <= limit
    assert sizes == sorted(sizes, key=["half", "full"].index)  # never back to half size
    assert sizes.count("half") == half_size_steps(total, fraction)


@pytest.mark.parametrize("window", [StepFitter.WINDOW, 10**9])  # 10**9: the speed since the start, as before
def test_fit_steps_measures_the_speed_now_so_a_passed_slowdown_does_not_shorten_the_run(monkeypatch, window):
    """Steps take 1 s, but 3 s for a while early on (another program busy): the fit follows the recent speed, so
    the LR schedule still ends near the time limit; measured since the start, the run ended a fifth early (now
    the refits inside the decay make up for part of it, at a speed still off)."""
    import cyclegan.train.budget as budget

    clock = types.SimpleNamespace(now=0.0)
    monkeypatch.setattr(budget, "time", types.SimpleNamespace(monotonic=lambda: clock.now))
    limit, cap = 2000.0, 100_000
    fitter = StepFitter(start=0, cap=cap, deadline=limit, window=window, device=CPU)
    trainer, total, step = _Trainer(cap), cap, 0
    while step < total:
        step += 1
        clock.now += 3.0 if 50 <= step < 250 else 1.0
        fitter.tick(step, total)
        if fitter.due(step):
            total = trainer.total_steps = fitter.total(step, trainer)
    if window == StepFitter.WINDOW:
        assert 0.95 * limit <= clock.now <= limit and fitter.rates[1] == pytest.approx(1.0)
    else:
        assert fitter.rates[1] > 1.2  # the slow spell still in the measure


@pytest.mark.parametrize(
    "seconds",
    [
        lambda step: 3.0 if 200 <= step < 600 else 1.0,  # busy until the decay has begun, then quiet: ended at 80 %
        lambda step: 1.5 if step >= 600 else 1.0,  # slower from inside the decay: cut off with the LR still up
    ],
    ids=["busy-until-the-decay", "slower-in-the-decay"],
)
def test_fit_steps_refits_inside_the_decay_when_the_speed_moved(monkeypatch, seconds):
    """The total was fixed when the LR began to decay, so a machine busy until then ended its run a fifth of
    the time limit early (the AVX2 demo: 1816 steps, done at 223 s of 270), and one that slowed inside the decay
    was cut off by the limit before its schedule's end. Now a total off by more than the noise is refitted inside
    the decay too: the schedule ends at 0, inside the limit and near it."""
    import cyclegan.train.budget as budget

    clock = types.SimpleNamespace(now=0.0)
    monkeypatch.setattr(budget, "time", types.SimpleNamespace(monotonic=lambda: clock.now))
    limit, cap = 2000.0, 100_000
    fitter = StepFitter(start=0, cap=cap, deadline=limit, device=CPU)
    trainer, total, step = _Trainer(cap), cap, 0
    while step < total and clock.now < limit:
        step += 1
        clock.now += seconds(step)
        fitter.tick(step, total)
        if fitter.due(step):
            total = trainer.total_steps = fitter.total(step, trainer)
    assert step == total and 0.95 * limit <= clock.now <= limit


def test_fit_steps_leaves_a_steady_run_s_decay_alone(monkeypatch):
    """At a steady speed the total is not moved once the LR decays (each fit creeps up by the reserve's share of
    the time gone), so a fitted run stays exactly a plain run of the length it settled on."""
    import cyclegan.train.budget as budget

    clock = types.SimpleNamespace(now=0.0)
    monkeypatch.setattr(budget, "time", types.SimpleNamespace(monotonic=lambda: clock.now))
    fitter = StepFitter(start=0, cap=100_000, deadline=2000.0, device=CPU)
    trainer, total, step, moved = _Trainer(100_000), 100_000, 0, []
    while step < total:
        step += 1
        clock.now += 1.0
        fitter.tick(step, total)
        if fitter.due(step):
            new = fitter.total(step, trainer)
            if new != total:
                moved.append(step)
            total = trainer.total_steps = new
    assert moved and max(moved) < total - round(total * 0.5)  # every refit before the decay began


def test_fit_steps_reads_its_clock_once_a_gpus_steps_are_done(monkeypatch):
    """A CUDA step returns once its kernels are launched, not run: the fitter read the clock without a sync, so
    its first fit, 10 steps in, could time queued launches and fit too many steps. Every reading now follows a
    synchronisation of the training GPU (torch.cuda.synchronize faked here), the fits inside the decay's too."""
    import cyclegan.train.budget as budget

    events: list = []
    clock = types.SimpleNamespace(now=0.0)

    def monotonic():
        events.append("clock")
        return clock.now

    monkeypatch.setattr(budget, "time", types.SimpleNamespace(monotonic=monotonic))
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: events.append(("synchronize", device)))
    gpu = torch.device("cuda", 1)
    fitter = StepFitter(start=0, cap=1000, deadline=100.0, device=gpu)
    trainer, total, step = _Trainer(1000), 1000, 0
    while step < total:
        step += 1
        clock.now += 1.0
        fitter.tick(step, total)
        if fitter.due(step):
            total = trainer.total_steps = fitter.total(step, trainer)
    reads = [i for i, e in enumerate(events) if e == "clock"]
    assert total < 100 and len(reads) > 5  # the timing's start and the fits, into the decay
    assert all(i > 0 and events[i - 1] == ("synchronize", gpu) for i in reads)
