"""`cyclegan bench`: its figures are the medians of what it timed, each mode computes as it says it does,
`--task style` times both methods, and bad options are one-line errors (the same from Python and the CLI)."""

from __future__ import annotations

import json
import math
import re
import resource
import sys
import time

import pytest
import torch
from PIL import Image

from conftest import make_images
from cyclegan.bench import (
    BenchOptions,
    StyleBenchOptions,
    TileBenchOptions,
    bench,
    format_bench,
    gatys_estimate,
    time_train_step,
)
from cyclegan.cli import main
from cyclegan.errors import CycleGANError
from cyclegan.execution import Execution
from cyclegan.train import CycleGANTrainer
from helpers import cli_signalled_at, save_tiny_checkpoint

TINY_RUN = {"size": 32, "steps": 1, "warmup": 0, "translate_batches": 1, "device": "cpu", "compile": "off"}


class FakeClock:
    """Stands in for time.perf_counter: time moves only when a faked computation says it took so long."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_figures_are_the_medians_of_the_timed_steps_and_the_speedup_their_ratio(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(time, "perf_counter", clock)
    # Seconds each call takes, per precision: the warm-up first, then the timed ones.
    train_s = {"fp32": iter([5.0, 0.4, 0.8, 0.6, 0.5]), "bf16": iter([3.0, 0.2, 0.3, 0.1, 0.25])}
    translate_s = {"fp32": iter([2.0, 0.04, 0.01, 0.03, 0.02]), "bf16": iter([1.0, 0.01, 0.012, 0.008, 0.02])}
    calls = []

    def step(self, x, y):
        calls.append(("train", self.execution.precision))
        clock.now += next(train_s[self.execution.precision])
        return {}

    def translate(net, x, *, execution):
        calls.append(("translate", execution.precision))
        clock.now += next(translate_s[execution.precision])
        return x

    monkeypatch.setattr(CycleGANTrainer, "step", step)
    monkeypatch.setattr("cyclegan.inference.translate_tensor", translate)
    # the same lines on every CPU: where bf16 is native, eager bf16 would add the layer forms and lanes
    monkeypatch.setattr("cyclegan.execution.cpu_has_native_bf16", lambda: False)
    opts = BenchOptions(
        size=32, steps=4, warmup=1, translate_batches=4, mode="both", precision="bf16", compile="off", device="cpu"
    )
    r = bench(opts)

    ref, dflt = r["modes"]["reference"], r["modes"]["default"]
    assert ref["train_s_all"] == pytest.approx([0.4, 0.8, 0.6, 0.5])  # in the order they ran, warm-up left out
    assert ref["train_s_per_step"] == pytest.approx((0.5 + 0.6) / 2)  # the median of an even count
    assert dflt["train_s_per_step"] == pytest.approx((0.2 + 0.25) / 2)
    assert ref["translate_s_per_batch"] == pytest.approx(0.025) and dflt["translate_s_per_batch"] == pytest.approx(
        0.011
    )
    assert ref["train_img_per_s"] == pytest.approx(1 / 0.55, abs=1e-3)  # paper preset: batch 1
    # each mode records how it computed, on which instruction set, with its median s/step
    assert ref["execution"]["precision"] == "fp32" and dflt["execution"]["precision"] == "bf16"
    assert dflt["execution"]["s_per_step"] == pytest.approx(0.225, abs=1e-4)
    assert ref["execution"]["instruction_set"] == torch.backends.cpu.get_cpu_capability()
    assert ref["warmup_s"] == pytest.approx(5.0 + 2.0) and dflt["warmup_s"] == pytest.approx(3.0 + 1.0)
    # apart too: the line said the warm-up steps took 7.0 s, translation's first call included (with --warmup 0,
    # "0 warm-up step(s) that took 19.2 s": a compiled translation's first call)
    assert (ref["train_warmup_s"], ref["translate_warmup_s"]) == (pytest.approx(5.0), pytest.approx(2.0))
    assert r["speedup"] == {
        "train": pytest.approx(0.55 / 0.225, abs=1e-3),
        "translate": pytest.approx(0.025 / 0.011, abs=1e-3),
    }
    # Interleaved step for step, so both modes see the same machine load.
    assert calls == [("train", "fp32"), ("train", "bf16")] * 5 + [("translate", "fp32"), ("translate", "bf16")] * 5
    # The lines the docs quote, figure for figure.
    lines = format_bench(r).splitlines()
    assert lines[1:8] == [
        "reference (fp32, NCHW, eager):",
        "  train      0.5500 s/step (median of 4, after 1 warm-up step that took 5.0 s), 1.82 img/s per domain",
        "  translate  40.00 img/s (batch 1, median of 4, after a first call that took 2.0 s)",
        "default (bf16, NCHW, eager):",
        "  train      0.2250 s/step (median of 4, after 1 warm-up step that took 3.0 s), 4.44 img/s per domain",
        "  translate  90.91 img/s (batch 1, median of 4, after a first call that took 1.0 s)",
        "speed-up   train 2.44x, translate 2.27x (default over reference, medians of interleaved runs)",
    ]
    assert lines[0].startswith("bench paper preset, 32 px, batch 1, mode both on cpu (")


def _spy_on_generator_convs(monkeypatch) -> list[dict]:
    """Record, for every trainer built, what G's 3x3+ convolutions saw during training steps."""
    seen: list[dict] = []
    init = CycleGANTrainer.__init__

    def spying_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        record = {"dtypes": set(), "batches": set(), "channels_last_weights": set()}
        seen.append(record)

        def hook(conv, inputs, out):
            if conv.kernel_size[0] > 1 and conv.in_channels > 3 and self.G.training:
                record["dtypes"].add(out.dtype)
                record["batches"].add(inputs[0].shape[0])
                record["channels_last_weights"].add(not conv.weight.is_contiguous())

        for m in self.G.modules():
            if isinstance(m, torch.nn.Conv2d):
                m.register_forward_hook(hook)

    monkeypatch.setattr(CycleGANTrainer, "__init__", spying_init)
    return seen


@pytest.mark.slow
@pytest.mark.parametrize(
    ("mode", "dtype", "channels_last", "batches", "reported"),
    [
        # fp32, NCHW, one call per output, whatever was asked for the default mode
        ("reference", torch.float32, False, {1}, ("fp32", False, False)),
        # as asked; G on [x; y] at once for G(x) and the identity G(y)
        ("default", torch.bfloat16, True, {1, 2}, ("bf16", True, True)),
    ],
)
def test_each_mode_computes_as_it_says(monkeypatch, mode, dtype, channels_last, batches, reported):
    seen = _spy_on_generator_convs(monkeypatch)
    r = bench(BenchOptions(**{**TINY_RUN, "mode": mode, "precision": "bf16", "channels_last": "on"}))
    assert seen == [{"dtypes": {dtype}, "batches": batches, "channels_last_weights": {channels_last}}]
    settings = r["settings"]
    assert (settings["precision"], settings["channels_last"], settings["batch_generator_calls"]) == reported
    assert settings["compile"] is False


class Stop(Exception):
    pass


@pytest.mark.parametrize(("preset", "norm"), [("paper", "instance"), ("seed", "batch")])
def test_default_mode_is_what_a_training_run_chooses(monkeypatch, tiny_cfg, preset, norm):
    chosen: list[Execution] = []

    def capture(self, cfg, *, execution, **kwargs):
        chosen.append(execution)
        raise Stop

    monkeypatch.setattr(CycleGANTrainer, "__init__", capture)
    from cyclegan.train import train

    with pytest.raises(Stop):
        train(tiny_cfg(steps=1, norm=norm), progress=False)
    with pytest.raises(Stop):
        bench(BenchOptions(preset=preset, size=32, device="cpu"))  # every execution option on auto
    assert chosen[1] == chosen[0]
    assert chosen[0].batch_generator_calls == (norm != "batch")


def test_time_train_step_is_the_median_step_of_a_short_run_and_leaves_the_rng_alone(monkeypatch, tiny_cfg):
    clock = FakeClock()
    monkeypatch.setattr(time, "perf_counter", clock)
    durations = iter([9.0, 9.0, 0.3, 0.1, 0.2, 0.5, 0.4])  # two warm-up steps, then five
    compiled = []

    def step(self, x, y):
        compiled.append(self.execution.compile)
        clock.now += next(durations)
        return {}

    monkeypatch.setattr(CycleGANTrainer, "step", step)
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    seconds = time_train_step(tiny_cfg(), torch.device("cpu"))
    assert seconds == pytest.approx(0.3)
    assert compiled == [False] * 7  # training is never compiled under `--compile auto`
    assert torch.equal(torch.rand(3), expected_next)  # a run started next draws what it would have drawn


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss in KiB and /proc/self/statm are Linux's")
def test_memory_is_this_process_in_mib():
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with open("/proc/self/status") as f:
        rss_now = next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024
    r = bench(BenchOptions(**TINY_RUN))
    peak_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    mem = r["memory"]
    assert peak_before - 0.1 <= mem["peak_rss_mib"] <= peak_after + 0.1
    assert mem["rss_at_start_mib"] == pytest.approx(rss_now, abs=50)  # what the process held before the models
    # (current RSS from /proc in pages, the peak from getrusage in KiB: they may differ by a rounding)
    assert 50 < mem["rss_at_start_mib"] <= mem["peak_rss_mib"] + 1 < 64 * 1024


def test_gatys_estimate_is_setup_plus_steps_times_the_median_step():
    # 10 s in all for three timed steps of 1, 3 and 2 s: 4 s of setup; 300 steps of the median 2 s.
    assert gatys_estimate(10.0, [1.0, 3.0, 2.0], 300) == pytest.approx(4.0 + 300 * 2.0)


@pytest.mark.slow
def test_style_task_times_gatys_and_cyclegan_per_image(tmp_path, monkeypatch, tiny_cfg, capsys):
    from cyclegan.train import train

    monkeypatch.setattr("cyclegan.pretrained.vgg19_available", lambda weights=None: False)  # no 548 MB load
    content = make_images(tmp_path / "content", 1, seed=5)[0]
    style = make_images(tmp_path / "style", 1, seed=6, tint=(60, 0, 0))[0]
    run = train(tiny_cfg(steps=1), progress=False).checkpoint.parent
    s = StyleBenchOptions(
        content=str(content),
        style=str(style),
        checkpoint=str(run),
        gatys_steps=4,
        probe_steps=3,
        repeat=2,
        style_sizes=(32, 48),
    )
    r = bench(BenchOptions(task="style", device="cpu", style_task=s))
    whats = [row["what"] for row in r["rows"]]
    assert whats == [
        "Gatys lite0 32 px, 4 lbfgs steps",  # run in full, twice
        "Gatys lite0 32 px, 4 adam steps",
        "Gatys lite0 48 px, 4 lbfgs steps",  # estimated from 3 steps
        "Gatys vgg19 (random weights) 32 px, 4 lbfgs steps",
        "Gatys vgg19 (random weights) 48 px, 4 lbfgs steps",
        "CycleGAN run generator, 32 px, one image",
        "CycleGAN run generator, 48 px, one image",
        "CycleGAN paper generator (9 blocks, random weights), 32 px, one image",
        "CycleGAN paper generator (9 blocks, random weights), 48 px, one image",
    ]
    assert [row["method"] for row in r["rows"]] == ["gatys"] * 5 + ["cyclegan"] * 4
    assert all(0 < row["seconds"] < 60 and math.isfinite(row["seconds"]) for row in r["rows"])
    assert r["rows"][0]["how"].startswith("median of 2 runs")
    assert [row["relative"] for row in r["rows"]] == pytest.approx(
        [row["seconds"] / r["rows"][0]["seconds"] for row in r["rows"]], abs=1e-4
    )
    text = format_bench(r)
    assert all(what in text for what in whats)
    json.dumps(r)  # JSON-ready


def test_style_task_names_an_animated_image_whose_first_frame_it_times(tmp_path, monkeypatch, capsys):
    """stylize and compare name the frames left out of an animated GIF; bench --task style timed its first frame
    without a word."""
    from cyclegan.bench import style as style_task

    def stop(*args, **kwargs):
        raise CycleGANError("stopped before the timing")

    monkeypatch.setattr(style_task, "_generators", stop)
    content = make_images(tmp_path / "content", 1, seed=5)[0]
    frames = [Image.new("RGB", (24, 24), (60 * i, 0, 0)) for i in range(3)]
    frames[0].save(tmp_path / "style.gif", save_all=True, append_images=frames[1:])
    s = StyleBenchOptions(content=str(content), style=str(tmp_path / "style.gif"))
    with pytest.raises(CycleGANError, match="stopped before the timing"):
        bench(BenchOptions(task="style", device="cpu", style_task=s))
    err = capsys.readouterr().err
    assert f"warning: {tmp_path / 'style.gif'} holds 3 frames; only the first is timed" in err
    assert str(content) not in err


BAD_OPTIONS = [
    ({"steps": 0}, ["--steps", "0"], "option '--steps' must be positive, got 0"),
    ({"warmup": -1}, ["--warmup", "-1"], "option '--warmup' must be >= 0, got -1"),
    ({"translate_batches": 0}, ["--translate-batches", "0"], "option '--translate-batches' must be positive, got 0"),
    ({"threads": 0}, ["--threads", "0"], "option '--threads' must be > 0 and <= 1024, got 0"),
    ({"threads": 10000}, ["--threads", "10000"], "option '--threads' must be > 0 and <= 1024, got 10000"),
    ({"size": -32}, ["--size", "-32"], "option '--size' must be positive, got -32"),
    ({"task": "style"}, ["--task", "style"], "option '--content' is required with --task style"),
    (
        {"task": "style", "style_task": StyleBenchOptions(content="c.png")},
        ["--task", "style", "--content", "c.png"],
        "option '--style' is required with --task style",
    ),
]


@pytest.mark.parametrize(("kwargs", "flags", "message"), BAD_OPTIONS)
def test_bad_options_are_the_same_one_line_error_from_python_and_the_cli(capsys, kwargs, flags, message):
    with pytest.raises(CycleGANError) as e:
        BenchOptions(**kwargs)
    assert str(e.value) == message
    assert main(["bench", *flags]) == 2
    assert capsys.readouterr().err == f"error: {message}\n"


def test_a_seam_tile_under_the_smallest_tile_is_refused_up_front_by_its_own_name(capsys):
    # the tiling's check came after the whole image was measured, and named '--tile', which bench does not have
    message = "option '--seam-tile' must be >= 32, got 8"
    with pytest.raises(CycleGANError, match=f"^{message}$"):
        TileBenchOptions(seam_tile=8)
    assert main(["bench", "--task", "tiles", "--seam-tile", "8"]) == 2
    assert capsys.readouterr().err == f"error: {message}\n"


def _header_of_30000_by_30000(path):
    """A PNG of a few bytes whose header declares 30000 x 30000 pixels, over the 100 MP decode cap."""
    import struct
    import zlib

    chunks = [(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)), (b"IDAT", zlib.compress(bytes(9)))]
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + b"".join(struct.pack(">I", len(d)) + k + d + struct.pack(">I", zlib.crc32(k + d)) for k, d in chunks)
    )
    return path


def test_a_photo_over_the_decode_cap_is_not_told_to_raise_a_flag_bench_lacks(tmp_path):
    """`--photo` over 100 MP was refused with "give a larger --max-pixels", a flag `bench` does not have."""
    from cyclegan.bench.tiles import _tiles_photo

    photo = _header_of_30000_by_30000(tmp_path / "big.png")
    with pytest.raises(CycleGANError, match=r"over the decode cap of 100000000 pixels; resize it to read it$"):
        _tiles_photo(TileBenchOptions(photo=str(photo)), 64, 64)


def test_a_style_image_over_the_decode_cap_is_not_told_to_raise_a_flag_bench_lacks(tmp_path):
    """`--task style`'s --content and --style over 100 MP: "give a larger --max-pixels", as --photo was."""
    from cyclegan.bench.style import check_style_sides

    big = str(_header_of_30000_by_30000(tmp_path / "big.png"))
    ok = str(make_images(tmp_path / "ok", 1, seed=0)[0])
    for content, style, flag in ((big, ok, "--content"), (ok, big, "--style")):
        s = StyleBenchOptions(content=content, style=style, style_sizes=(32,))
        with pytest.raises(CycleGANError, match=rf"^option '{flag}': .* pixels; resize it to read it$"):
            check_style_sides(s, {"vgg19": (torch.nn.Identity(), False)})


def test_a_large_photo_with_one_side_zero_is_refused_not_skipped(capsys):
    # all(large) was the test for the run, so '--large 0 4000' skipped it as '0 0' does, without a word
    message = "option '--large' 0 4000: give a width and a height above 0, or 0 0 to skip"
    with pytest.raises(CycleGANError, match=f"^{message}$"):
        TileBenchOptions(large=(0, 4000))
    assert main(["bench", "--task", "tiles", "--large", "0", "4000"]) == 2
    assert capsys.readouterr().err == f"error: {message}\n"
    assert TileBenchOptions(large=(0, 0)).large == (0, 0)


@pytest.mark.parametrize(
    ("large", "message"),
    [
        # saved as a JPEG after the seams were measured: a Pillow traceback
        ((70000, 2), "option '--large' 70000 2: the photo is written as a JPEG, which holds at most 65500 px a side"),
        # built and saved, then skipped by translate's decode cap: an error of two lines joined by a literal \n
        ((20000, 6000), "option '--large' 20000 6000: 120 MP is over `cyclegan translate`'s default decode cap"),
    ],
)
def test_a_large_photo_that_cannot_be_written_or_translated_is_refused_up_front(large, message):
    with pytest.raises(CycleGANError, match=f"^{re.escape(message)}"):
        TileBenchOptions(large=large)
    assert TileBenchOptions(large=(10000, 10000)).large == (10000, 10000)  # 100 MP and 65500 px: the limits


def test_bad_values_from_python_name_the_option():
    from cyclegan.config import PRESETS

    names = r" \| ".join(f"'{name}'" for name in PRESETS)
    with pytest.raises(CycleGANError, match=rf"^option '--preset': expected {names} \| null, got 'cezanne'$"):
        BenchOptions(preset="cezanne")
    with pytest.raises(CycleGANError, match=r"^option '--mode': expected .*, got 'fast'$"):
        BenchOptions(mode="fast")
    with pytest.raises(CycleGANError, match=r"^option '--probe-steps' must be >= 2, got 1$"):
        StyleBenchOptions(probe_steps=1)
    with pytest.raises(
        CycleGANError, match=r"^option 'size': .* px is not a multiple of 8, as the seed generator needs$"
    ):
        bench(BenchOptions(preset="seed", size=36, device="cpu"))


def test_cli_prints_the_figures_and_writes_the_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    flags = ["--size", "32", "--steps", "1", "--warmup", "0", "--device", "cpu", "--compile", "off", "--json", str(out)]
    assert main(["bench", *flags]) == 0
    r = json.loads(out.read_text())
    assert (r["task"], r["preset"], r["size"], r["batch_size"], r["mode"]) == ("train", "paper", 32, 1, "default")
    assert r["command"].startswith("cyclegan bench") and "--size 32" in r["command"]
    ex = r["execution"]
    assert (
        ex["s_per_step"] == pytest.approx(r["train_s_per_step"], abs=1e-4) and ex["threads"] == torch.get_num_threads()
    )
    assert {"precision", "memory_format", "compile", "instruction_set", "bf16_native"} <= set(ex)
    printed = capsys.readouterr().out
    assert f"{r['train_s_per_step']:.4f} s/step (median of 1" in printed
    # --translate-batches unset: as many as --steps, but at least 10 (one short call is too noisy a median)
    assert r["translate_batches"] == 10 == len(r["translate_s_all"])
    # the file is not replaced without --overwrite, and a --json that cannot be written is refused: both before
    # anything is measured (nothing printed)
    assert main(["bench", *flags]) == 2
    err = capsys.readouterr()
    assert "already exists: pass --overwrite" in err.err and "s/step" not in err.out
    assert main(["bench", *flags[:-1], str(tmp_path)]) == 2
    assert "is a folder, where a file would be written" in capsys.readouterr().err
    assert main(["bench", *flags[:-1], str(out / "b.json")]) == 2
    assert "bench.json is a file, not a folder" in capsys.readouterr().err
    assert main(["bench", *flags, "--overwrite"]) == 0


def test_the_json_records_the_execution_the_trainer_applied(monkeypatch):
    """CUT takes no CPU layer forms or lanes: where `auto` asks for them (fp32 without native bf16), the bench
    JSON says the plain computation it timed."""
    from cyclegan.train.cut import CUTTrainer

    monkeypatch.setattr("cyclegan.execution.cpu_has_native_bf16", lambda: False)
    monkeypatch.setattr(CUTTrainer, "step", lambda self, x, y: {})
    monkeypatch.setattr("cyclegan.inference.translate_tensor", lambda net, x, *, execution: x)
    opts = BenchOptions(model="cut", preset="fast", size=32, steps=2, warmup=1, translate_batches=2, compile="off")
    r = bench(opts)
    ex = r["execution"]
    assert ex["precision"] == "fp32" and not ex["fused_layers"] and not ex["parallel_chains"]


def test_a_one_way_familys_training_rate_is_not_said_per_domain(monkeypatch):
    """`bench --model cut` said "img/s per domain", CycleGAN's words for a step that translates each domain's batch
    both ways, of a model that translates one way."""
    from cyclegan.train.cut import CUTTrainer

    monkeypatch.setattr(CUTTrainer, "step", lambda self, x, y: {})
    monkeypatch.setattr("cyclegan.inference.translate_tensor", lambda net, x, *, execution: x)
    opts = BenchOptions(model="cut", preset="fast", size=32, steps=2, warmup=1, translate_batches=2, compile="off")
    r = bench(opts)
    train_line = format_bench(r).splitlines()[2]
    assert train_line.startswith("  train ") and train_line.endswith(
        f", {r['train_img_per_s']:.2f} img/s one way (one generator)"
    )


def test_translation_is_recorded_as_the_plain_layers_it_ran(monkeypatch):
    """Translation builds plain layers and runs one generator, but its line and `translate_execution` said
    "fused layers, two lanes" where training took them (a CycleGAN), and even where no trainer did (pix2pix)."""
    monkeypatch.setattr("cyclegan.execution.cpu_has_native_bf16", lambda: False)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)  # two lanes wherever the forms are taken
    models = {"cyclegan": "fast", "pix2pix": "paper"}  # (a U-Net takes the paper preset)
    runs = {m: bench(BenchOptions(model=m, preset=p, precision="fp32", **TINY_RUN)) for m, p in models.items()}
    for model, r in runs.items():
        assert r["translate_execution"] == "fp32, NCHW, eager", model
        translate_line = format_bench(r).splitlines()[3]
        assert "lanes" not in translate_line and "fused" not in translate_line, model
    assert runs["cyclegan"]["execution"]["parallel_chains"]  # training's forms and lanes, still recorded
    assert not runs["pix2pix"]["execution"]["fused_layers"]  # pix2pix's U-Net takes none in training either


def test_json_and_figure_that_would_lose_a_file_are_refused_before_measuring(tmp_path, capsys, monkeypatch):
    """--figure (tiles) was written after the measuring with no check: over an existing file without --overwrite,
    over the --photo it read, or as a traceback where it named a folder; --json could replace an input too."""
    from cyclegan.bench import runner

    def measured(opts, device):
        raise AssertionError("measured before its outputs were checked")

    monkeypatch.setitem(runner.TASKS, "tiles", (measured, runner.TASKS["tiles"][1]))
    monkeypatch.setitem(runner.TASKS, "style", (measured, runner.TASKS["style"][1]))
    photo, taken = tmp_path / "photo.png", tmp_path / "taken.png"
    make_images(tmp_path, 1, seed=0)[0].rename(photo)
    taken.write_bytes(b"keep")
    tiles = ["bench", "--task", "tiles", "--photo", str(photo), "--large", "0", "0", "--figure"]
    cases = [
        (
            [*tiles, str(taken)],
            f"error: {taken} already exists: pass --overwrite to replace, or choose another --figure",
        ),
        ([*tiles, str(photo), "--overwrite"], f"error: option '--figure': writing {photo} would replace the input"),
        ([*tiles, str(tmp_path)], f"error: option '--figure': {tmp_path} is a folder, where a file would be written"),
        (
            [*tiles, str(tmp_path / "f.png"), "--json", str(tmp_path / "f.png")],
            "error: options '--json' and '--figure'",
        ),
        (
            [
                "bench",
                "--task",
                "style",
                "--content",
                str(photo),
                "--style",
                str(taken),
                "--json",
                str(taken),
                "--overwrite",
            ],
            f"error: option '--json': writing {taken} would replace the input",
        ),
    ]
    for flags, message in cases:
        assert main(flags) == 2
        err = capsys.readouterr().err
        assert err.startswith(message) and err.count("\n") == 1, err
    assert taken.read_bytes() == b"keep" and not (tmp_path / "f.png").exists()


def test_style_task_refuses_an_unreadable_checkpoint_before_timing_gatys(tmp_path, monkeypatch):
    # the generator was loaded after every Gatys run: minutes (300 steps x repeats) before the one-line error
    def gatys(*args, **kwargs):
        raise AssertionError("Gatys timed before the checkpoint was read")

    monkeypatch.setattr("cyclegan.bench.style.time_gatys", gatys)
    content = make_images(tmp_path, 1, seed=0)[0]
    style = StyleBenchOptions(content=str(content), style=str(content), checkpoint=str(tmp_path / "missing"))
    with pytest.raises(CycleGANError, match="^checkpoint not found: .*missing"):
        bench(BenchOptions(task="style", device="cpu", style_task=style))


def test_style_task_times_a_one_way_generator_file_in_its_own_direction_without_direction(tmp_path):
    """--direction defaulted to BtoA, where translate, compare and --tile-direction take the model's own: a file
    `save_generator` wrote of a CycleGAN's G (AtoB alone) was refused unless its one direction was typed."""
    import cyclegan
    from cyclegan.bench.style import _generators

    G = cyclegan.load_generator(save_tiny_checkpoint(tmp_path / "run.pt"), "AtoB")
    cyclegan.save_generator(G, tmp_path / "g.pt")
    content = str(make_images(tmp_path / "content", 1, seed=0)[0])
    style = StyleBenchOptions(content=content, style=content, checkpoint=str(tmp_path / "g.pt"))
    (label, net), _paper = _generators(style, torch.device("cpu")).items()
    assert label == "CycleGAN g.pt generator" and torch.equal(net(torch.zeros(1, 3, 8, 8)), G(torch.zeros(1, 3, 8, 8)))


def test_the_style_task_names_a_checkpoints_family_as_compare_does(tmp_path):
    """Any --checkpoint's row said "CycleGAN X generator", a pix2pix or CUT file's too: now its family, as `compare`'s
    column (`loading.model_label`); another project's file, whose family its tensors do not tell, no family."""
    from cyclegan.bench.style import _generators
    from cyclegan.checkpoint import FORMAT
    from cyclegan.config import resolve
    from cyclegan.interop.unet import UnetGenerator
    from cyclegan.models import build_networks

    content = str(make_images(tmp_path / "content", 1, seed=0)[0])
    torch.save(UnetGenerator(num_downs=5, ngf=4).state_dict(), tmp_path / "plain.pth")  # the reference's layout
    labels = []
    for fam in ("pix2pix", "cut"):
        cfg = resolve({"family": fam, "ngf": 4, "ndf": 4, "n_blocks": 1, "size": 32})
        models = {k: m.state_dict() for k, m in build_networks(cfg).items()}
        torch.save({"format": FORMAT, "config": cfg.to_dict(), "step": 0, "models": models}, tmp_path / f"{fam}.pt")
    for name in ("pix2pix.pt", "cut.pt", "plain.pth"):
        style = StyleBenchOptions(content=content, style=content, checkpoint=str(tmp_path / name))
        labels.append(next(iter(_generators(style, torch.device("cpu")))))
    assert labels == ["pix2pix pix2pix.pt generator", "CUT cut.pt generator", "plain.pth generator"]


def test_the_style_task_names_another_projects_cyclegan_pair_a_cyclegan(tmp_path):
    """A file of another project holding G_A and G_B: its row said "pair.pth generator", no family, though its keys
    say it is a CycleGAN (as `compare`'s column now does)."""
    from cyclegan.bench.style import _generators
    from cyclegan.interop.unet import UnetGenerator

    content = str(make_images(tmp_path / "content", 1, seed=0)[0])
    sd = UnetGenerator(num_downs=5, ngf=4).state_dict()
    torch.save({"G_A": sd, "G_B": sd}, tmp_path / "pair.pth")
    style = StyleBenchOptions(content=content, style=content, checkpoint=str(tmp_path / "pair.pth"))
    assert next(iter(_generators(style, torch.device("cpu")))) == "CycleGAN pair.pth generator"


def test_the_recorded_command_quotes_a_path_with_a_space(tmp_path, monkeypatch):
    # joined with plain spaces, '--json /x/a b.json' ran again as two arguments
    import shlex

    from cyclegan.bench import runner

    monkeypatch.setitem(runner.TASKS, "train", (lambda opts, device: {"task": "train"}, lambda r: "measured"))
    out = tmp_path / "a b.json"
    assert main(["bench", "--device", "cpu", "--json", str(out)]) == 0
    words = shlex.split(json.loads(out.read_text())["command"])
    assert words[:2] == ["cyclegan", "bench"] and words[words.index("--json") + 1] == str(out)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--checkpoint", "run"], "option '--checkpoint' is for --task style, not train; give --task style or drop it"),
        (["--figure", "f.png"], "option '--figure' is for --task tiles, not train; give --task tiles or drop it"),
        (
            ["--task", "style", "--content", "c.png", "--style", "s.png", "--size", "64"],
            "option '--size' is for --task train, not style; give --task train or drop it",
        ),
        (
            ["--task", "tiles", "--content", "c.png"],
            "option '--content' is for --task style, not tiles; give --task style or drop it",
        ),
    ],
)
def test_an_option_of_another_task_is_refused_not_ignored(capsys, monkeypatch, flags, message):
    # the tasks' flags are flattened into one command: `bench --checkpoint RUN` timed the paper preset, not RUN
    from cyclegan.bench import runner

    for task in runner.TASKS:
        monkeypatch.setitem(runner.TASKS, task, (lambda opts, device: {"task": "train"}, lambda r: "measured"))
    assert main(["bench", "--device", "cpu", *flags]) == 2
    assert capsys.readouterr().err == f"error: {message}\n"


def test_running_out_of_memory_is_one_line_naming_what_to_lower(capsys, monkeypatch):
    # the CPU allocator's RuntimeError went up as a traceback
    from cyclegan.bench import runner

    def out_of_memory(opts, device):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:127] DefaultCPUAllocator: can't allocate memory")

    monkeypatch.setitem(runner.TASKS, "train", (out_of_memory, runner.TASKS["train"][1]))
    assert main(["bench", "--device", "cpu", "--size", "1024"]) == 2
    assert capsys.readouterr().err == "error: out of memory on cpu (--task train): lower --size or --batch-size\n"


def test_ctrl_c_during_the_large_photo_stops_its_translation_too(monkeypatch):
    # only bench saw the Ctrl-C (kill -INT PID, or a signal to it alone): its translate process went on
    from cyclegan.bench import tiles

    killed = []

    class Translation:
        pid = -1
        stdout = stderr = None

        def __init__(self, cmd, **kwargs):
            pass

        def kill(self):
            killed.append("kill")

        def wait(self):
            killed.append("wait")

    def interrupted(pid, options):
        raise KeyboardInterrupt

    monkeypatch.setattr(tiles.subprocess, "Popen", Translation)
    monkeypatch.setattr(tiles.os, "wait4", interrupted)
    t = TileBenchOptions(tile_checkpoint="g.pth", large=(40, 30))
    with pytest.raises(KeyboardInterrupt):
        tiles._large_run(t, torch.device("cpu"), "g.pth AtoB")
    assert killed == ["kill", "wait"]


def test_help_says_what_each_option_applies_to(capsys):
    # `--mode reference --compile on` timed eager fp32 without a word, and --help did not say so
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "reference: fp32, NCHW, eager, as the reference implementation, whatever --precision," in text
    # --checkpoint and --direction are --task style's: the shared help said neither that nor what happens without
    assert "--checkpoint RUN_OR_FILE generator to time beside the paper's with --task style" in text
    assert "--direction {AtoB,BtoA} direction of --checkpoint (--task style)" in text


def test_a_seam_tile_as_large_as_the_image_is_refused(capsys):
    # the image went through whole as one tile, and the seams printed "mean 0.00 grey levels": no seam measured
    message = "option '--seam-tile' 256 is not smaller than --seam-size 200: nothing would be tiled"
    with pytest.raises(CycleGANError, match=f"^{message}"):
        TileBenchOptions(seam_size=200)
    assert main(["bench", "--task", "tiles", "--seam-size", "256"]) == 2
    assert capsys.readouterr().err.startswith("error: option '--seam-tile' 256 is not smaller than --seam-size 256")
    assert TileBenchOptions(seam_size=257).seam_tile == 256


def test_a_seam_tile_that_rounds_up_to_the_image_is_refused_naming_the_rounding(capsys):
    """Tiles are rounded up to the generator's multiple (4): --seam-tile 99 of a 100 px image was one tile, the
    image went through whole, and the seams printed "mean 0.00 grey levels" as if there were none."""
    assert main(["bench", "--task", "tiles", "--seam-size", "100", "--seam-tile", "99", "--large", "0", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: option '--seam-tile' 99 is rounded up to 100 px") and "nothing would be tiled" in err


def test_a_failed_large_translation_is_named_by_its_first_error_line(monkeypatch):
    # its stderr went in whole: two lines joined by a literal \n, the second only "1 input(s) could not be translated"
    import io

    from cyclegan.bench import tiles

    class Translation:
        pid = -1

        def __init__(self, cmd, **kwargs):
            self.stdout = io.StringIO("")
            self.stderr = io.StringIO(
                "error: large.jpg: out of memory on cpu at 40x30 px\nerror: 1 input could not be translated\n"
            )

    monkeypatch.setattr(tiles.subprocess, "Popen", Translation)
    monkeypatch.setattr(tiles.os, "wait4", lambda pid, options: (pid, 1 << 8, None))  # exit status 1
    t = TileBenchOptions(tile_checkpoint="g.pth", large=(40, 30))
    with pytest.raises(CycleGANError) as e:
        tiles._large_run(t, torch.device("cpu"), "g.pth AtoB")
    assert str(e.value) == "the translation of the 40x30 photo failed: large.jpg: out of memory on cpu at 40x30 px"


def test_a_size_or_backbone_named_twice_is_refused(capsys):
    # --backbones lite0 lite0 timed lite0 once, without a word; --style-sizes 256 256 repeated rows
    with pytest.raises(CycleGANError, match="^option '--backbones' names lite0 twice; give each once$"):
        StyleBenchOptions(backbones=("lite0", "vgg19", "lite0"))
    with pytest.raises(CycleGANError, match="^option '--style-sizes' names 256 twice; give each once$"):
        StyleBenchOptions(style_sizes=(256, 512, 256))
    flags = ["bench", "--task", "style", "--content", "c.png", "--style", "s.png", "--style-sizes", "64", "64"]
    assert main(flags) == 2
    assert capsys.readouterr().err == "error: option '--style-sizes' names 64 twice; give each once\n"


def test_a_json_that_cannot_be_written_after_the_measuring_is_one_line(tmp_path, capsys, monkeypatch):
    """The checks before measuring passed, then the disk filled (or the folder went read-only): an OSError
    traceback after the figures were printed."""
    import errno

    import cyclegan.report as report

    def full(result, path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(report, "write_json", full)
    out = tmp_path / "bench.json"
    flags = ["--size", "32", "--steps", "1", "--warmup", "0", "--device", "cpu", "--compile", "off", "--json", str(out)]
    assert main(["bench", *flags]) == 2
    captured = capsys.readouterr()
    assert "s/step" in captured.out  # the figures, printed before
    assert captured.err.strip() == (
        f"error: option '--json': cannot write {out} (No space left on device); the figures are printed above"
    )


def test_a_figure_that_cannot_be_written_after_the_seams_is_one_line(tmp_path, capsys, monkeypatch):
    """The checks before measuring passed, then the disk filled (or the folder went read-only): an OSError
    traceback from writing the figure."""
    import errno

    from cyclegan.bench import tiles

    def full(path, write, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(tiles, "write_atomic", full)
    figure = tmp_path / "seams.png"
    flags = ["--task", "tiles", "--seam-size", "64", "--seam-tile", "32", "--large", "0", "0", "--figure", str(figure)]
    assert main(["bench", *flags]) == 2
    assert capsys.readouterr().err == f"error: option '--figure': cannot write {figure} (No space left on device)\n"


@pytest.mark.parametrize(
    "flags, least",
    [
        (["--size", "8"], "paper preset's cyclegan networks: the smallest size they take is 24 px"),
        (["--size", "16", "--preset", "seed"], "seed preset's cyclegan networks: the smallest size they take is 32 px"),
    ],
)
def test_a_size_too_small_names_the_least_size_not_options_bench_lacks(capsys, flags, least):
    """The hint was `train`'s: 'raise --size or lower --d-layers', and bench has no --d-layers."""
    assert main(["bench", *flags, "--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert err == f"error: option '--size' {flags[1]} px is too small for the {least}\n"
    assert main(["bench", "--size", "30", "--steps", "1"]) == 2  # not a multiple: that message, as it was
    assert (
        capsys.readouterr().err
        == "error: option '--size': 30 px is not a multiple of 4, as the resnet generator needs\n"
    )


def test_style_sizes_too_small_for_a_backbone_are_refused_before_timing_in_bench_terms(tmp_path, monkeypatch, capsys):
    """Refused by `stylize` when vgg19's turn came, after lite0's runs, naming `stylize`'s --size and --backbone,
    which bench does not have."""

    def gatys(*args, **kwargs):
        raise AssertionError("Gatys timed before the sizes were checked")

    monkeypatch.setattr("cyclegan.bench.style.time_gatys", gatys)
    monkeypatch.setattr("cyclegan.pretrained.vgg19_available", lambda weights=None: False)  # no 548 MB load
    from PIL import Image

    content, style = tmp_path / "c.png", tmp_path / "s.png"
    Image.new("RGB", (40, 30), (100, 150, 200)).save(content)
    Image.new("RGB", (32, 32), (200, 10, 10)).save(style)
    flags = [
        "--content",
        str(content),
        "--style",
        str(style),
        "--style-sizes",
        "32",
        "16",
        "--backbones",
        "lite0",
        "vgg19",
    ]
    assert main(["bench", "--task", "style", *flags]) == 2
    assert capsys.readouterr().err == (
        f"error: option '--style-sizes' 16: --content {content} is 16x12 px once resized, and the vgg19 backbone's "
        "layers need 16 px a side; give larger --style-sizes or drop vgg19 from --backbones\n"
    )


def test_a_direction_the_tiles_checkpoint_lacks_names_tile_direction(tmp_path, capsys):
    """The hint was translate's 'use --direction AtoB', an option --task tiles does not have."""
    from cyclegan.checkpoint import FORMAT
    from cyclegan.config import resolve
    from cyclegan.models import build_networks

    cfg = resolve({"family": "pix2pix", "ngf": 4, "ndf": 4, "size": 32})
    torch.manual_seed(0)
    models = {k: m.state_dict() for k, m in build_networks(cfg).items()}
    ckpt = tmp_path / "p2p.pt"
    torch.save({"format": FORMAT, "config": cfg.to_dict(), "step": 0, "models": models}, ckpt)
    flags = ["--tile-checkpoint", str(ckpt), "--tile-direction", "BtoA", "--large", "0", "0"]
    assert main(["bench", "--task", "tiles", *flags, "--seam-size", "64", "--seam-tile", "32"]) == 2
    assert capsys.readouterr().err.endswith("translates A to B only; use --tile-direction AtoB\n")


def test_the_tiles_checkpoint_of_a_run_trained_btoa_only_is_measured_in_its_direction_without_tile_direction(
    tmp_path, capsys
):
    """--tile-direction defaulted to AtoB, where translate takes the model's own: a pix2pix run trained BtoA was
    refused unless its one direction was typed."""
    from cyclegan.checkpoint import FORMAT
    from cyclegan.config import resolve
    from cyclegan.models import build_networks

    cfg = resolve({"family": "pix2pix", "direction": "BtoA", "ngf": 4, "ndf": 4, "size": 32})
    models = {k: m.state_dict() for k, m in build_networks(cfg).items()}
    ckpt = tmp_path / "p2p.pt"
    torch.save({"format": FORMAT, "config": cfg.to_dict(), "step": 0, "models": models}, ckpt)
    flags = ["--tile-checkpoint", str(ckpt), "--large", "0", "0", "--seam-size", "64", "--seam-tile", "32"]
    assert main(["bench", "--task", "tiles", *flags]) == 0
    assert f"bench tiles on cpu: {ckpt} BtoA, photo synthetic" in capsys.readouterr().out


def test_gatys_step_times_are_the_intervals_between_its_steps_only(tmp_path):
    """The step times were the intervals from the third forward pass on: with the memory probe's pass before the
    content's and the style's, the first "step" was the style's pass and the set-up."""
    from cyclegan.bench.style import style_backbone, time_gatys

    content = make_images(tmp_path / "content", 1, seed=5)[0]
    net, _ = style_backbone("lite0")
    for optimizer in ("lbfgs", "adam"):
        _, per_step, _ = time_gatys(
            str(content), str(content), net=net, backbone="lite0", size=24, steps=3, optimizer=optimizer, device="cpu"
        )
        assert len(per_step) == 2, optimizer


def test_style_sizes_beyond_stylize_bound_are_refused_up_front_by_their_own_flag(capsys):
    """Refused by `stylize` only when that size's case came, as "option '--size' must be ... <= 4096"."""
    with pytest.raises(CycleGANError, match=r"^option '--style-sizes' must be > 0 and <= 4096, got 5000$"):
        StyleBenchOptions(content="c.png", style="s.png", style_sizes=(256, 5000))
    assert main(["bench", "--task", "style", "--content", "c.png", "--style", "s.png", "--style-sizes", "5000"]) == 2
    assert capsys.readouterr().err == "error: option '--style-sizes' must be > 0 and <= 4096, got 5000\n"


def test_a_seam_size_beyond_the_devices_memory_is_refused_before_allocating(capsys, monkeypatch):
    """--seam-size 100000 allocated the whole image and its untiled translation until the process was killed."""
    from cyclegan.bench import tiles

    monkeypatch.setattr(tiles, "total_memory", lambda device: 2**20, raising=False)  # a 1 MiB device
    flags = ["--task", "tiles", "--seam-size", "128", "--seam-tile", "64", "--large", "0", "0", "--device", "cpu"]
    assert main(["bench", *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: option '--seam-size' 128: the whole 128x128 image, translated untiled, needs about")
    assert err.endswith("GiB, more than the 0.0 GiB of cpu; give a smaller --seam-size\n")


def test_a_training_size_beyond_the_devices_memory_is_refused_before_the_trainers(capsys, monkeypatch):
    """--size 8192 built the trainers and stepped until the process was killed for memory."""
    from cyclegan.bench import train as bench_train_module

    monkeypatch.setattr(bench_train_module, "total_memory", lambda device: 2**20, raising=False)  # 1 MiB

    def no_trainer(*args, **kwargs):
        raise AssertionError("a trainer was built")

    monkeypatch.setattr(bench_train_module, "trainer_and_inputs", no_trainer)
    assert main(["bench", "--size", "32", "--steps", "1", "--device", "cpu", "--mode", "both"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: option '--size' 32 with batch 1: the training step holds at least ")
    assert err.endswith(
        " GiB of activations (6 generator passes, fp32), more than the 0.0 GiB of cpu; lower --size or --batch-size\n"
    )
    # the bound is low: the paper preset at its own size, batch 1, is far below any machine's memory
    from cyclegan.config import resolve

    assert 0 < bench_train_module.generator_pass_bytes(resolve({"size": 256})) < 2**30


@pytest.mark.parametrize("model, passes", [("cyclegan", 6), ("cut", 2)])
@pytest.mark.parametrize("mode", ["default", "reference"])
def test_a_training_size_that_cannot_fit_its_held_passes_is_refused(capsys, monkeypatch, model, passes, mode):
    """`bench --size 2048` passed the check on a 23 GiB machine (two bf16 passes, 21 GiB) and was killed: a CycleGAN
    step holds its two chains and the identity passes, six (7.8 passes' worth measured at 256 px in bf16, 14.3 in
    fp32), CUT's G(x) and G(y). Here the device has room for fewer: the old bound (a pass per generator) passed."""
    from cyclegan.bench import train as bench_train_module

    cfg = bench_train_module.bench_config({"size": 64, "family": model}, preset=None)
    one = bench_train_module.generator_pass_bytes(cfg)  # bf16: the narrowest a mode computes in
    monkeypatch.setattr(bench_train_module, "total_memory", lambda device: int((passes - 0.5) * one))
    monkeypatch.setattr(bench_train_module, "trainer_and_inputs", lambda *a, **k: 1 / 0)  # refused before it
    assert main(["bench", "--size", "64", "--steps", "1", "--device", "cpu", "--model", model, "--mode", mode]) == 2
    assert f"({passes} generator passes, " in capsys.readouterr().err


def test_the_held_passes_follow_the_identity_terms():
    from cyclegan.bench import train as bench_train_module

    def passes(**overrides) -> int:
        return bench_train_module.held_generator_passes(bench_train_module.bench_config(overrides, preset=None))

    assert passes() == 6 and passes(lambda_identity=0) == 4
    assert passes(family="cut") == 2 and passes(family="fastcut") == 1 and passes(family="pix2pix") == 1


def test_a_gatys_memory_refusal_names_the_bench_flags(tmp_path, monkeypatch):
    """`bench --task style` passed on `stylize`'s refusal "a smaller --size ..., or --optimizer adam": bench has
    neither flag (its sizes are --style-sizes, and it times both optimisers)."""
    from cyclegan.bench.style import style_backbone, time_gatys
    from cyclegan.style import gatys

    monkeypatch.setattr(gatys, "available_memory", lambda device: 1e6)
    content = make_images(tmp_path / "content", 1, seed=5)[0]
    net, _ = style_backbone("lite0")
    with pytest.raises(CycleGANError) as e:
        time_gatys(
            str(content), str(content), net=net, backbone="lite0", size=64, steps=3, optimizer="lbfgs", device="cpu"
        )
    assert "a smaller --style-sizes (about " in str(e.value)
    assert "--size" not in str(e.value) and "--optimizer" not in str(e.value)


def test_an_unreadable_style_bench_image_names_its_option(tmp_path):
    """`bench --task style` said "image not found: x.png" or "cannot read image x.png", not which of --content
    and --style it was given as."""
    from PIL import Image

    from cyclegan.bench.style import check_style_sides, style_backbone

    good, bad = tmp_path / "c.png", tmp_path / "bad.png"
    Image.new("RGB", (40, 30), (100, 150, 200)).save(good)
    bad.write_text("hello")
    nets = {"lite0": style_backbone("lite0")}
    for content, style, flag in ((bad, good, "--content"), (good, tmp_path / "missing.png", "--style")):
        s = StyleBenchOptions(content=str(content), style=str(style), style_sizes=(32,), backbones=("lite0",))
        with pytest.raises(CycleGANError, match=rf"^option '{flag}': (cannot read image|image not found)"):
            check_style_sides(s, nets)


def test_a_style_size_the_device_cannot_hold_is_refused_before_any_timing(tmp_path, monkeypatch):
    """`bench --task style --style-sizes 256 4096` timed the first case's full runs, then `stylize` refused 4096
    for memory when its case came, minutes in and the runs lost, naming `stylize`'s --size."""
    from PIL import Image

    from cyclegan.bench.style import check_style_sides, style_backbone
    from cyclegan.style import gatys

    content = tmp_path / "c.png"
    Image.new("RGB", (40, 30), (100, 150, 200)).save(content)
    nets = {"lite0": style_backbone("lite0")}
    s = StyleBenchOptions(content=str(content), style=str(content), style_sizes=(32, 512), backbones=("lite0",))
    saved, _ = gatys.feature_bytes_per_pixel(nets["lite0"][0])
    fits_32 = gatys.optimisation_bytes(saved, 24, 32, optimizer="lbfgs", steps=s.gatys_steps) * 2
    monkeypatch.setattr(gatys, "available_memory", lambda device: fits_32)
    with pytest.raises(
        CycleGANError, match=r"^stylising 512x384 px needs about .* a smaller --style-sizes \(about \d+ px"
    ):
        check_style_sides(s, nets)  # on the CPU


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("signum, status, said", [("SIGHUP", 129, "hung up"), ("SIGTERM", 143, "terminated")])
def test_a_closed_terminal_stops_bench_as_ctrl_c_does(tmp_path, signum, status, said):
    """A closed terminal's SIGHUP or a scheduler's SIGTERM killed `cyclegan bench` without a word (status -1 to a
    caller), where the other commands stop with one line and exit 129 or 143. Now the same, --json not written."""
    out = tmp_path / "b.json"
    argv = ["bench", "--preset", "fast", "--size", "32", "--steps", "1", "--json", str(out)]
    done = cli_signalled_at("cyclegan.bench.train", "trainer_and_inputs", signum, argv)  # the measuring about to start
    assert done.returncode == status, done.stderr[-2000:]
    assert done.stderr == f"{said}\n" and not out.exists()


@pytest.mark.parametrize("name", ["bench.json/", "results/"])
def test_a_json_ending_in_a_slash_is_refused_before_the_work(tmp_path, monkeypatch, capsys, name):
    """`bench --json results/` wrote a file named results (Path drops the slash) after the measurement: refused up
    front, as stylize's --out is."""
    monkeypatch.chdir(tmp_path)
    assert main(["bench", "--json", name]) == 2
    meant = "bench.json, or bench.json/bench.json" if name == "bench.json/" else "results/bench.json"
    said = "give the file to write" + ("" if name == "bench.json/" else " in it")
    assert capsys.readouterr().err == f"error: option '--json' {name} names a folder: {said} (e.g. {meant})\n"
    assert list(tmp_path.iterdir()) == []
