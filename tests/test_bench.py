"""`cyclegan bench` on tiny sizes: it runs, times what it says, and writes the JSON."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from cyclegan.cli import main

CPU = torch.device("cpu")


@pytest.mark.parametrize(
    ("args", "preset", "batch", "identity"),
    [
        (["--preset", "seed", "--size", "32", "--batch-size", "2", "--compile", "off"], "seed", 2, 0.0),  # default mode
        (["--preset", "paper", "--size", "32", "--mode", "reference"], "paper", 1, 0.5),  # batch 1 from the preset
    ],
)
def test_bench_steps_1_writes_json(tmp_path, capsys, args, preset, batch, identity):
    out = tmp_path / "bench.json"
    assert main(["bench", *args, "--steps", "1", "--warmup", "0", "--device", "cpu", "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["synthetic_data"] is True
    assert (r["preset"], r["size"], r["batch_size"]) == (preset, 32, batch)
    assert r["model"]["lambda_identity"] == identity
    assert r["train_s_per_step"] > 0 and r["translate_img_per_s"] > 0
    assert len(r["train_s_all"]) == 1 and r["translate_batches"] == 10 == len(r["translate_s_all"])
    assert r["translate_img_per_s"] == pytest.approx(batch / r["translate_s_per_batch"], rel=1e-2)
    from cyclegan.execution import REFERENCE, choose_execution

    bn = preset == "seed"  # BatchNorm: no batched generator calls
    expected = REFERENCE if r["mode"] == "reference" else choose_execution(compile="off", device=CPU, batch_norm=bn)
    assert r["settings"] == dataclasses.asdict(expected)
    assert r["warmup_s"] >= 0
    assert r["memory"]["peak_rss_mib"] >= r["memory"]["rss_at_start_mib"] > 0
    assert r["command"].startswith("cyclegan bench")
    assert "s/step" in capsys.readouterr().out


def test_bench_rejects_bad_options(capsys):
    assert main(["bench", "--steps", "0"]) == 2
    assert "--steps" in capsys.readouterr().err
    assert main(["bench", "--preset", "seed", "--size", "30"]) == 2  # not a multiple of 8
    assert "size" in capsys.readouterr().err


def test_bench_both_interleaves_and_reports_the_speedup(tmp_path, capsys):
    out = tmp_path / "bench.json"
    args = ["bench", "--size", "32", "--steps", "2", "--warmup", "0", "--mode", "both", "--compile", "off",
            "--precision", "bf16", "--device", "cpu", "--json", str(out)]  # fmt: skip
    assert main(args) == 0
    r = json.loads(out.read_text())
    ref, dflt = r["modes"]["reference"], r["modes"]["default"]
    assert ref["settings"]["precision"] == "fp32" and dflt["settings"]["precision"] == "bf16"
    assert len(ref["train_s_all"]) == len(dflt["train_s_all"]) == 2
    assert r["speedup"]["train"] == pytest.approx(ref["train_s_per_step"] / dflt["train_s_per_step"], rel=1e-2)
    assert r["speedup"]["translate"] == pytest.approx(
        ref["translate_s_per_batch"] / dflt["translate_s_per_batch"], rel=1e-2
    )
    text = capsys.readouterr().out
    assert "speed-up" in text and "reference (fp32, NCHW, eager)" in text and "default (bf16, NCHW, eager)" in text
