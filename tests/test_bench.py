"""`cyclegan bench` on tiny sizes: it runs, times what it says, and writes the JSON."""

from __future__ import annotations

import json

import pytest

from cyclegan.cli import main


@pytest.mark.parametrize(
    ("args", "preset", "batch", "identity"),
    [
        (["--preset", "seed", "--size", "32", "--batch-size", "2", "--mode", "default"], "seed", 2, 0.0),
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
    assert len(r["train_s_all"]) == 1 and r["translate_batches"] == 2
    assert r["translate_img_per_s"] == pytest.approx(batch / r["translate_s_per_batch"], rel=1e-2)
    assert r["settings"] == {**r["settings"], "precision": "fp32", "channels_last": False, "compile": False}
    assert r["memory"]["peak_rss_mib"] >= r["memory"]["rss_at_start_mib"] > 0
    assert r["command"].startswith("cyclegan bench")
    assert "s/step" in capsys.readouterr().out


def test_bench_rejects_bad_options(capsys):
    assert main(["bench", "--steps", "0"]) == 2
    assert "--steps" in capsys.readouterr().err
    assert main(["bench", "--preset", "seed", "--size", "30"]) == 2  # not a multiple of 8
    assert "size" in capsys.readouterr().err
