"""Precision, memory format and compilation: the choices, and that the fast paths compute the same thing."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys

import pytest
import torch

from cyclegan import execution as ex
from cyclegan.cli import main
from cyclegan.config import resolve
from cyclegan.errors import CycleGANError
from cyclegan.execution import REFERENCE, Execution, choose_execution
from cyclegan.inference import translate_tensor
from cyclegan.models import build_conditional_discriminator, build_discriminator, build_generator
from cyclegan.train.cyclegan import CycleGANTrainer, GeneratorPair

CPU = torch.device("cpu")
SMALL = {"ngf": 8, "ndf": 8, "n_blocks": 1, "size": 32, "batch_size": 2, "pool_size": 0}


def test_auto_on_cpu_follows_native_bf16(monkeypatch):
    monkeypatch.setattr(ex, "cpu_compiler", lambda: "g++")
    for native in (True, False):
        monkeypatch.setattr(ex, "cpu_has_native_bf16", lambda native=native: native)
        e = choose_execution(device=CPU)
        assert e.precision == ("bf16" if native else "fp32")
        assert e.channels_last is False  # measured slower on CPU
        assert e.compile is native  # compiles only the measured case: bf16 on CPU, long work
        assert choose_execution(device=CPU, compile_pays=False).compile is False
    assert choose_execution(device=CPU, batch_norm=True).batch_generator_calls is False
    assert choose_execution(device=CPU).batch_discriminator_calls is True
    assert choose_execution(device=CPU, batch_norm=True).batch_discriminator_calls is False


@pytest.mark.parametrize("native", [True, False])
def test_auto_trains_eager_with_the_forms_and_lanes_however_long_the_run(monkeypatch, tiny_cfg, native):
    """A compiled step was 0.66-1.04x the eager forms and lanes' (docs/results.md, "Compiled training on the
    CPU"), so `--compile auto` never compiles training, even 100 000 steps with a compiler; a large translation
    still compiles where bf16 is native."""
    from cyclegan.train.loop import _choose_execution

    monkeypatch.setattr(ex, "cpu_compiler", lambda: "g++")
    monkeypatch.setattr(ex, "cpu_has_native_bf16", lambda: native)
    e = _choose_execution(tiny_cfg(steps=100_000), CPU)
    assert (e.compile, e.fused_layers) == (False, True)
    assert choose_execution(device=CPU, compile_pays=ex.compile_pays_for_translation(64)).compile is native
    assert not choose_execution(device=CPU, compile_pays=ex.compile_pays_for_translation(63)).compile


def test_auto_on_cuda_uses_bf16_only_where_the_gpu_has_it(monkeypatch):
    # torch.cuda.is_bf16_supported() also says yes for emulated bf16 (V100, T4): slower than fp32 there.
    cuda = torch.device("cuda", 1)
    for capability, expected in (((7, 0), "fp32"), ((8, 0), "bf16"), ((9, 0), "bf16")):
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda d, c=capability: c)
        e = choose_execution(device=cuda)
        assert (e.precision, e.channels_last, e.compile) == (expected, False, False)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda d: (7, 5))
    with pytest.raises(CycleGANError, match="no native bf16"):
        choose_execution("bf16", device=cuda)
    monkeypatch.setattr(ex, "has_triton", lambda: False)
    with pytest.raises(CycleGANError, match="'compile'.*Triton"):
        choose_execution("fp32", compile="on", device=cuda)


def test_the_record_says_whether_a_gpus_fp32_convolutions_were_tf32(monkeypatch):
    """cuDNN computes fp32 convolutions in TF32 by default on GPUs of compute capability 8.0+ (A100, H100/H200): a
    bench JSON or report of `--precision fp32` there said "fp32" of TF32 convolutions without a word."""
    fp32 = ex.Execution()
    for capability, expected in (((9, 0), True), ((7, 5), False)):
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda d, c=capability: c)
        assert fp32.record(torch.device("cuda", 0))["tf32_convolutions"] is expected
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda d: (9, 0))
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)  # strict fp32, asked for
    assert fp32.record(torch.device("cuda", 0))["tf32_convolutions"] is False
    assert fp32.record(CPU)["tf32_convolutions"] is False


def test_training_on_a_gpu_autotunes_cudnn_and_translation_does_not(monkeypatch, tiny_cfg):
    """cuDNN's autotuner was never on: training's fixed shapes took heuristic algorithms. Now training on CUDA
    (faked here) turns it on, said in the record; translation of any size and the CPU do not."""
    from cyclegan.report.text import describe_record
    from cyclegan.train.loop import _choose_execution

    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda d: (9, 0))
    cuda = torch.device("cuda", 0)
    trains = _choose_execution(tiny_cfg(), cuda)
    assert trains.cudnn_benchmark and "cuDNN autotuned" in trains.describe()
    assert trains.record(cuda)["cudnn_benchmark"] is True and "cuDNN autotuned" in describe_record(trains.record(cuda))
    assert not choose_execution(device=cuda, translation=True).cudnn_benchmark
    assert not _choose_execution(tiny_cfg(), CPU).cudnn_benchmark

    # a process-wide flag: on while the work runs, as it was after (a notebook's next translation, of other sizes)
    before = torch.backends.cudnn.benchmark
    with pytest.raises(RuntimeError), trains.backends():
        assert torch.backends.cudnn.benchmark is True
        raise RuntimeError
    assert torch.backends.cudnn.benchmark is before


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"channels_last": True, "compile": True},
        {"precision": "bf16", "fused_layers": True, "parallel_chains": True, "autocast_min_pixels": 2**19},
    ],
)
def test_the_report_words_the_execution_as_training_first_says_it(settings):
    """The demo printed "computing in bf16, NCHW, ..." at its start and "computed: bf16, nchw, ..." at its end:
    two wordings of one thing. Now the record's line begins with training's own words."""
    from cyclegan.report.text import describe_record

    e = Execution(**settings)
    assert describe_record(e.record(CPU)).startswith(f"{e.describe()} on cpu (")


def test_training_steps_run_with_the_executions_backend_settings(tiny_cfg, monkeypatch):
    """`train` applies the execution's cuDNN setting around its steps (forced on here, on the CPU) and leaves the
    process as it found it."""
    import dataclasses

    import cyclegan.train.loop as loop

    choose = loop._choose_execution
    monkeypatch.setattr(loop, "_choose_execution", lambda *a: dataclasses.replace(choose(*a), cudnn_benchmark=True))
    seen = []
    step = CycleGANTrainer.step
    monkeypatch.setattr(
        CycleGANTrainer, "step", lambda self, x, y: seen.append(torch.backends.cudnn.benchmark) or step(self, x, y)
    )
    before = torch.backends.cudnn.benchmark
    loop.train(tiny_cfg(steps=2), progress=False)
    assert seen == [True, True] and torch.backends.cudnn.benchmark is before


def test_auto_translation_on_cuda_autocasts_only_large_batches(monkeypatch):
    # Measured on an H200: bf16 translation 0.76-0.86x fp32 at 32k-65k px per batch (launch-bound), 1.28-1.40x
    # at 512k+ px. `auto` translates smaller batches in fp32 there; an explicit --precision bf16 always autocasts.
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda d: (9, 0))
    cuda = torch.device("cuda", 0)
    auto = choose_execution(device=cuda, translation=True)
    assert auto.precision == "bf16" and auto.autocast_min_pixels == ex.TRANSLATION_AUTOCAST_MIN_PIXELS == 8 * 256**2
    assert "fp32 below 0.5 Mpx per batch" in auto.describe()
    assert choose_execution(device=cuda).autocast_min_pixels == 0  # training: always bf16
    assert choose_execution("bf16", device=cuda, translation=True).autocast_min_pixels == 0  # asked for
    assert choose_execution(device=CPU, translation=True).autocast_min_pixels == 0  # CPUs: by instruction set
    # A U-Net generator (pix2pix) is launch-bound there: bf16 trained at 0.84-0.89x and translated at 0.76-1.01x.
    for translation in (False, True):
        unet = choose_execution(device=cuda, translation=translation, unet=True)
        assert unet.precision == "fp32" and unet.autocast_min_pixels == 0
        assert choose_execution("bf16", device=cuda, translation=translation, unet=True).precision == "bf16"

    # The rule itself, on the CPU's autocast: a small batch computes in fp32 (bit for bit), a large one in bf16.
    net = build_generator(resolve(SMALL).model).eval()
    rule = Execution(precision="bf16", autocast_min_pixels=2 * 32 * 32)
    small, large = torch.rand(1, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    assert torch.equal(translate_tensor(net, small, execution=rule), translate_tensor(net, small))
    in_bf16 = translate_tensor(net, large, execution=Execution(precision="bf16"))
    assert torch.equal(translate_tensor(net, large, execution=rule), in_bf16)
    assert not torch.equal(in_bf16, translate_tensor(net, large))


def test_impossible_choices_are_one_line_errors(monkeypatch):
    with pytest.raises(CycleGANError, match="'precision': fp16 needs a CUDA GPU"):
        choose_execution("fp16", device=CPU)
    with pytest.raises(CycleGANError, match="'channels_last' must be auto, on or off"):
        choose_execution(channels_last="yes", device=CPU)
    monkeypatch.setattr(ex, "cpu_compiler", lambda: None)
    with pytest.raises(CycleGANError, match="'compile'.*C\\+\\+ compiler"):
        choose_execution(compile="on", device=CPU)
    assert choose_execution("bf16", compile="auto", device=CPU).compile is False  # auto: no compiler, no compile


def test_train_rejects_fp16_on_cpu(tmp_path, dataset, capsys):
    args = [
        "train",
        "--data",
        str(dataset),
        "--out",
        str(tmp_path / "r"),
        "--steps",
        "1",
        "--size",
        "32",
        "--device",
        "cpu",
        "--precision",
        "fp16",
    ]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "fp16 needs a CUDA GPU" in err


@pytest.mark.parametrize("generator", ["resnet", "seed"])
def test_generator_output_is_fp32_under_bf16_autocast(generator):
    cfg = resolve({**SMALL, "generator": generator, "norm": "instance"})
    G = build_generator(cfg.model)
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = G(x)
    assert y.dtype == torch.float32 and y.abs().max() <= 1
    assert translate_tensor(G, x, execution=Execution(precision="bf16")).dtype == torch.float32


def test_bf16_activations_stay_bf16_through_reflection_padding():
    # CPU autocast pads in fp32; our pad keeps bf16 so residual blocks do not cast back and forth.
    G = build_generator(resolve({**SMALL, "n_blocks": 2}).model)
    seen = []
    for m in G.modules():
        if isinstance(m, torch.nn.ReflectionPad2d):
            m.register_forward_hook(lambda _m, inp, out: seen.append((inp[0].dtype, out.dtype)))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        G(torch.rand(1, 3, 32, 32) * 2 - 1)
    assert (torch.float32, torch.float32) in seen  # the input image's pad
    assert (torch.bfloat16, torch.bfloat16) in seen  # inside the blocks, after the first conv
    assert all(i == o for i, o in seen)


def test_batched_generator_calls_compute_the_same_outputs():
    """G on [x; y] once == G(x) and G(y) separately, for per-sample normalisation."""
    cfg = resolve(SMALL)
    torch.manual_seed(0)
    G, F = build_generator(cfg.model), build_generator(cfg.model)
    x, y = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        batched = GeneratorPair(G, F, identity=True, batch_calls=True)(x, y)
        separate = GeneratorPair(G, F, identity=True, batch_calls=False)(x, y)
    for a, b in zip(batched, separate):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


def _calls(net: torch.nn.Module) -> list[int]:
    """The batch size of each call of `net`, recorded from now on."""
    sizes: list[int] = []
    net.register_forward_hook(lambda m, args, out: sizes.append(len(args[0])))
    return sizes


@pytest.mark.parametrize("norm", ["instance", "batch"])
def test_discriminator_scores_real_and_fake_in_one_call(norm):
    """[real; fake] in one call gives each batch's own scores; with BatchNorm (statistics over the batch) the
    two batches stay apart whatever the execution asks."""
    from cyclegan.train.pix2pix import ConditionalRealFake
    from cyclegan.train.trainer import RealFake

    D = build_discriminator(resolve({**SMALL, "norm": norm}).model)
    real, fake = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    sizes = _calls(D)
    together, apart = RealFake(D, together=True), RealFake(D)
    with torch.no_grad():
        one, two = together(real, fake), apart(real, fake)
    assert sizes == ([4] if norm == "instance" else [2, 2]) + [2, 2]
    if norm == "instance":
        for a, b in zip(one, two):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
        # pix2pix's conditional form: the input beside each batch, then the same single call
        D6 = build_conditional_discriminator(resolve({**SMALL, "norm": norm}).model)
        sizes = _calls(D6)
        with torch.no_grad():
            one = ConditionalRealFake(D6, together=True)(real, real, fake)
            two = ConditionalRealFake(D6)(real, real, fake)
        assert sizes == [4, 2, 2]
        for a, b in zip(one, two):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


def test_training_step_scores_each_discriminator_batch_once():
    """The default CPU execution: each discriminator update scores real and fake in one call (then the
    generators' loss scores the fakes once more); the reference computation calls it per batch."""
    for execution, expected in ((choose_execution(device=CPU), [4, 2]), (REFERENCE, [2, 2, 2])):
        cfg = resolve({**SMALL, "lambda_identity": 0.5})
        trainer = CycleGANTrainer(cfg, total_steps=10, device=CPU, execution=execution)
        sizes = _calls(trainer.D_X)
        x, y = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
        losses = trainer.step(x, y)
        assert sizes == expected and all(torch.isfinite(v) for v in losses.values())


def _steps(execution: Execution, n: int = 3) -> tuple[list[dict], CycleGANTrainer]:
    cfg = resolve({**SMALL, "lambda_identity": 0.5})
    trainer = CycleGANTrainer(cfg, total_steps=10, device=CPU, execution=execution)
    gen = torch.Generator().manual_seed(1)
    out = []
    for _ in range(n):
        x, y = (torch.rand(2, 3, 32, 32, generator=gen) * 2 - 1 for _ in range(2))
        out.append({k: float(v) for k, v in trainer.step(x, y).items()})
    return out, trainer


def test_fast_paths_train_like_fp32():
    """bf16 autocast and channels-last give the fp32 losses (first step: same weights, same inputs)."""
    ref, _ = _steps(REFERENCE)
    cl, _ = _steps(Execution(channels_last=True, batch_generator_calls=True))
    bf, trainer = _steps(Execution(precision="bf16", batch_generator_calls=True))
    for k in ref[0]:
        assert cl[0][k] == pytest.approx(ref[0][k], rel=1e-4, abs=1e-5), k
        assert bf[0][k] == pytest.approx(ref[0][k], rel=0.03, abs=0.01), k
    assert all(p.dtype == torch.float32 for p in trainer.G.parameters())  # master weights stay fp32
    assert trainer.opt_G.defaults.get("fused") is True


class _FlatDiscriminator(torch.nn.Module):
    """A discriminator late in training, flat around the real images: its scores' gradient there is
    1e-4 * 1e-4 = 1e-8 per pixel, below fp16's smallest subnormal (6e-8). Its hinge losses are 0 (real scored
    about 2, fake -2), so the update's loss is the R1 penalty alone (gamma 1e4: the penalty's backward, gamma *
    1e-8, within fp16's range once scaled)."""

    def __init__(self):
        super().__init__()
        self.D = torch.nn.Sequential(torch.nn.Conv2d(3, 1, 1, bias=False), torch.nn.Conv2d(1, 1, 1, bias=False))
        for conv in self.D:
            torch.nn.init.constant_(conv.weight, 1e-4)

    def forward(self, real, fake):
        return 2 + self.D(real), torch.full_like(self.D(fake), -2.0)


def _r1_update(execution: Execution) -> tuple[CycleGANTrainer, float, list[torch.Tensor]]:
    """One discriminator update of `_FlatDiscriminator` with R1 under `execution`: the trainer, the logged loss
    (the penalty) and the discriminator's gradients as its optimizer stepped on them (unscaled)."""
    cfg = resolve({**SMALL, "gan_loss": "hinge", "r1_gamma": 1e4})
    trainer = CycleGANTrainer(cfg, total_steps=10, device=CPU, execution=execution)
    D = _FlatDiscriminator()
    loss = trainer._update_D(
        D, torch.optim.SGD(D.parameters(), lr=1.0), torch.ones(2, 3, 4, 4), torch.zeros(2, 3, 4, 4)
    )
    return trainer, loss.item(), [p.grad for p in D.parameters()]


def test_r1_under_fp16_takes_its_gradients_through_the_gradient_scaler():
    """Unscaled, fp16's backward flushed a flat discriminator's gradient at the images to 0, and R1 with it (its
    value and its gradients). Now the penalty and what it gives the discriminator are fp32's. (fp16 autocast and an
    enabled GradScaler compute on the CPU as on a GPU.)"""
    _, penalty, grads = _r1_update(Execution())
    assert penalty == pytest.approx(1e4 / 2 * 48 * 1e-16, rel=1e-3, abs=0)  # gamma/2 * (1e-8)^2 over 3 x 4 x 4 values
    trainer, penalty16, grads16 = _r1_update(Execution(precision="fp16"))
    assert trainer.scaler.is_enabled() and trainer.scaler.get_scale() == 2.0**16
    assert penalty16 == pytest.approx(penalty, rel=0.05, abs=0)  # unscaled: 0.0
    for g16, g in zip(grads16, grads):
        torch.testing.assert_close(g16, g, rtol=0.1, atol=0)


def test_an_overflowed_r1_under_fp16_is_a_skipped_step_not_a_diverged_run():
    """At too high a scale the scaled gradient overflows fp16: the penalty is not finite, and so are the gradients,
    so the scaler skips the step and lowers its scale, as for any overflow. The logged loss leaves the penalty
    out: a non-finite loss stops a run as diverged."""
    cfg = resolve({**SMALL, "gan_loss": "hinge", "r1_gamma": 1.0})
    trainer = CycleGANTrainer(cfg, total_steps=10, device=CPU, execution=Execution(precision="fp16"))
    trainer.scaler = torch.amp.GradScaler("cpu", init_scale=2.0**40)  # its root, 2^20, over fp16's largest (65504)
    D = _FlatDiscriminator()
    before = [p.detach().clone() for p in D.parameters()]
    loss = trainer._update_D(
        D, torch.optim.SGD(D.parameters(), lr=1.0), torch.ones(2, 3, 4, 4), torch.zeros(2, 3, 4, 4)
    )
    assert loss.item() == 0.0  # the hinge losses; the penalty left out
    assert not all(p.grad.isfinite().all() for p in D.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, D.parameters()))  # skipped
    trainer.scaler.update()
    assert trainer.scaler.get_scale() == 2.0**39


@pytest.mark.slow
def test_compiled_generator_translates_like_eager():
    pytest.importorskip("torch._inductor")
    if ex.cpu_compiler() is None:
        pytest.skip("no C++ compiler for torch.compile on CPU")
    cfg = resolve(SMALL)
    G = build_generator(cfg.model).eval()
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    e = Execution(precision="bf16", compile=True)
    compiled = e.compiled(G)
    assert compiled is not G
    torch.testing.assert_close(translate_tensor(compiled, x, execution=e), translate_tensor(G, x), atol=0.05, rtol=0)


_FREED_BYTES = """
import ctypes, sys, torch
from cyclegan import process
kept = process.keep_freed_memory() if sys.argv[1] == "keep" else False
class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                "fsmblks", "uordblks", "fordblks", "keepcost")]
mallinfo2 = ctypes.CDLL("libc.so.6").mallinfo2
mallinfo2.restype = MallInfo2
t = torch.empty(5 << 20).fill_(1.0)  # 20 MiB, as a layer's activations
del t
print(kept, mallinfo2().fordblks)  # bytes free in the heap, kept for the next tensor
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator on Linux only")
def test_translate_keeps_freed_memory_for_the_next_tensor(tmp_path, monkeypatch):
    """glibc hands a freed 20 MiB tensor back to the OS by default (the next one faults its pages in again);
    with `keep_freed_memory` it stays in the heap. A MALLOC_*_ setting of the user's wins."""
    try:
        has_mallinfo2 = hasattr(ctypes.CDLL("libc.so.6"), "mallinfo2")
    except OSError:  # another C library (musl)
        has_mallinfo2 = False
    if not has_mallinfo2:
        pytest.skip("not glibc >= 2.33")

    def run(mode: str, **env: str) -> tuple[str, int]:
        out = subprocess.run(
            [sys.executable, "-c", _FREED_BYTES, mode],
            capture_output=True,
            text=True,
            check=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")} | env,
        )
        kept, free = out.stdout.split()
        return kept, int(free)

    kept, free = run("keep")
    assert kept == "True" and free >= 20 << 20
    assert run("plain")[1] < 20 << 20  # returned to the OS
    kept, free = run("keep", MALLOC_CHECK_="0")  # the user's setting: left alone
    assert kept == "False" and free < 20 << 20

    from cyclegan import process, translation

    calls = []
    monkeypatch.setattr(process, "keep_freed_memory", lambda: calls.append(1) or True)
    monkeypatch.setattr(translation, "translate_paths", lambda opts: ([], []))
    (tmp_path / "in").mkdir()
    (tmp_path / "run").mkdir()  # there: a missing one is refused before any of translate's set-up
    main(["translate", "--checkpoint", str(tmp_path / "run"), "--out", str(tmp_path), str(tmp_path / "in")])
    assert calls == [1]
