"""`cyclegan serve`: what the page reads of runs, the upload checks, the page's handlers, and the real page in
headless Chromium (Playwright). No network: the browser test blocks and records every request that would
leave 127.0.0.1. The browser test skips when Chromium or Playwright is missing (`apt-get install chromium`,
`pip install playwright`); the browser helpers are in tests/browser.py (benchmarks/web_screenshots.py
uses them too)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
import warnings
from dataclasses import fields
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from browser import (
    find_chromium,
    free_port,
    open_page,
    server_env,
    start_server,
    stop_server,
    translate_in_page,
    wait_for_new_downloads,
)
from cyclegan.errors import CycleGANError
from cyclegan.run_files import CHECKPOINT_NAME, FORMAT
from cyclegan.web.runs import (
    find_models,
    find_runs,
    latest_samples,
    loss_rows,
    read_config,
    read_log,
    run_summary,
    score_rows,
)
from cyclegan.web.uploads import check_upload
from helpers import joined, tiny_published_generator, unwritable_stderrs


def _png(path: Path, w: int, h: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path)
    return path


def _tiny_checkpoint(path: Path, **config):
    """A checkpoint of tiny networks (ngf 8, one block, 32 px; `config` over that, e.g. family="cut") at `path`;
    returns its config."""
    import torch

    from cyclegan.config import resolve
    from cyclegan.models import build_networks
    from cyclegan.run_files import FORMAT

    cfg = resolve({"ngf": 8, "ndf": 8, "n_blocks": 1, "size": 32, **config})
    models = {k: m.state_dict() for k, m in build_networks(cfg).items()}
    torch.save({"format": FORMAT, "config": cfg.to_dict(), "step": 1, "models": models}, path)
    return cfg


def _handler(app, name: str):
    """The function of `app`'s event handler `name` (`stylize_live`, `compare`), to call as the page does."""
    return next(f for f in app.fns.values() if f.name == name).fn


def _refusal(call) -> str:
    """The message of the gr.Error (the page's pop-up) that `call()` raises."""
    import gradio as gr

    with pytest.raises(gr.Error) as e:
        call()
    return str(e.value.message)


# --- runs and models --------------------------------------------------------------------------------------


def test_runs_and_models_are_found_and_new_checkpoints_appear(tmp_path, run):
    from cyclegan.web.runs import check_checkpoint_files

    root = tmp_path / "runs"
    (root / "starting").mkdir(parents=True)
    (root / "starting" / "config.json").write_text("{}")  # a run that has not saved a checkpoint yet
    shutil.copytree(run, root / "project" / "done")
    (root / "a" / "b" / "c" / "too_deep").mkdir(parents=True)
    (root / "a" / "b" / "c" / "too_deep" / "log.jsonl").write_text("")
    (root / ".hidden").mkdir()
    (root / ".hidden" / CHECKPOINT_NAME).write_bytes(b"x")

    assert find_runs([root]) == [root / "project" / "done", root / "starting"]
    assert find_runs([run]) == [run]  # a --runs folder may be a run itself
    models = find_models([root], [])
    assert [m.label for m in models] == ["runs/project/done"]
    assert models[0].path == str((root / "project" / "done" / CHECKPOINT_NAME).resolve())
    assert models[0].key == "runs/project/done"  # what the page holds: a name, never the server's path

    shutil.copy(run / CHECKPOINT_NAME, root / "starting" / CHECKPOINT_NAME)  # the run saves its first checkpoint
    extra = check_checkpoint_files([run])  # a run folder given to --checkpoint means its checkpoint.pt
    labels = [m.label for m in find_models([root], extra)]
    assert labels == ["runs/project/done", "runs/starting", run.name]

    # a missing file was "not a checkpoint file", where translate and evaluate say "not found"
    with pytest.raises(CycleGANError, match="option '--checkpoint': .*nope.pt does not exist; give a run folder or"):
        check_checkpoint_files([tmp_path / "nope.pt"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(CycleGANError, match=r"empty is a folder without a checkpoint.pt \(a folder of runs is --runs"):
        check_checkpoint_files([tmp_path / "empty"])


@pytest.mark.parametrize("name", ["g.pt", "g.onnx"])
def test_serve_refuses_an_exported_model_given_as_a_checkpoint_before_starting(tmp_path, capsys, monkeypatch, name):
    """`serve --checkpoint g.onnx` (or a TorchScript g.pt) started the page and offered the file as a model; every
    job with it then failed, for each visitor. Now one line at the start, as every other command refuses it."""
    import cyclegan.web.serve  # noqa: F401
    from cyclegan.cli import main
    from helpers import save_tiny_checkpoint

    if name.endswith(".onnx"):
        pytest.importorskip("onnx")
    ckpt = save_tiny_checkpoint(tmp_path / "checkpoint.pt")
    out = tmp_path / name
    assert main(["export", "--checkpoint", str(ckpt), "--out", str(out), "--no-check"]) == 0
    capsys.readouterr()

    def no_server(host, port):
        raise CycleGANError("the page was started")

    monkeypatch.setattr(sys.modules["cyclegan.web.serve"], "check_listen", no_server)  # the package's serve: a function
    assert main(["serve", "--checkpoint", str(ckpt), "--checkpoint", str(out)]) == 2
    kind = "ONNX" if name.endswith(".onnx") else "TorchScript"
    assert capsys.readouterr().err == (
        f"error: option '--checkpoint': {out} is an exported model ({kind}, as `cyclegan export` writes), which the "
        "page does not load; give the training run's folder or its checkpoint.pt\n"
    )


def test_a_runs_folder_given_with_dots_names_its_runs_by_the_folder(tmp_path, monkeypatch):
    """`--runs proj/..` showed its runs as "../NAME", and `--runs .` as bare names unlike every other
    folder's "runs/NAME". Now each is named after the folder it is."""
    from cyclegan.web.runs import named_runs

    (tmp_path / "runs" / "proj" / "r").mkdir(parents=True)
    (tmp_path / "runs" / "proj" / "r" / "config.json").write_text("{}")
    monkeypatch.chdir(tmp_path / "runs")
    assert list(named_runs(["proj/.."])) == list(named_runs(["."])) == ["runs/proj/r"]
    assert list(named_runs(["../runs/"])) == list(named_runs([tmp_path / "runs"])) == ["runs/proj/r"]


def test_log_with_a_half_written_last_line(tmp_path):
    log = tmp_path / "log.jsonl"
    records = [{"step": s, "epoch": 0, "lr": 2e-4, "s_per_step": 0.1, "D_X": 0.5 / s, "G_total": 9.0} for s in (1, 2)]
    text = "".join(json.dumps(r) + "\n" for r in records)
    log.write_text(text + '{"step": 3, "D_X": 0.1')  # training is writing step 3
    assert [r["step"] for r in read_log(log)] == [1, 2]
    log.write_text(text + '{"step": 3, "D_X": 0.1}\n' + "garbage\n" + '{"step": 4, "D_X": null}\n')
    assert [r["step"] for r in read_log(log)] == [1, 2, 3, 4]
    assert read_log(tmp_path / "missing.jsonl") == []

    rows = loss_rows(read_log(log))
    assert {"step": 1, "loss": "D_X", "value": 0.5} in rows
    assert {r["loss"] for r in rows} == {"D_X"}  # not step, epoch, lr, s_per_step; null skipped; totals apart
    assert {r["loss"] for r in loss_rows(read_log(log), totals=True)} == {"G_total"}
    many = [{"step": s, "D_X": 1.0} for s in range(1, 2001)]
    thinned = [r["step"] for r in loss_rows(many, max_points=100)]
    assert len(thinned) <= 101 and thinned[0] == 1 and thinned[-1] == 2000


def test_a_growing_log_is_parsed_once_per_line(tmp_path, monkeypatch):
    """The Runs tab read and parsed the whole log.jsonl at each redraw while training appended to it: a 69
    MB log (300,000 records, --log-every 1) took about 3 s of a core every few seconds. Now only the lines added
    since the last redraw are parsed; a log replaced (--resume trims it atomically) or rewritten in place
    is read anew, and a half-written last line waits for its newline."""
    import cyclegan.web.runs as runs

    parsed = []
    loads = json.loads
    monkeypatch.setattr(runs.json, "loads", lambda text, **kw: parsed.append(text) or loads(text, **kw))
    log, reader = tmp_path / "log.jsonl", runs.LogReader()
    log.write_text("".join(f'{{"step": {s}, "D_X": 0.5}}\n' for s in range(1, 101)))
    assert len(reader.read(log)) == 100 and len(parsed) == 100
    with log.open("a") as f:
        f.write('{"step": 101, "D_X": 0.4}\n{"step": 102, "D_')
    parsed.clear()
    assert [r["step"] for r in reader.read(log)[-2:]] == [100, 101] and len(parsed) == 1
    with log.open("a") as f:
        f.write('X": 0.3}\n')
    assert [r["step"] for r in reader.read(log)[-2:]] == [101, 102] and len(parsed) == 2
    assert reader.read(log) == read_log(log) and len(parsed) == 2 + 102  # read_log parses it all

    trimmed = tmp_path / "trimmed.jsonl"  # --resume: rewritten atomically, a new file
    trimmed.write_text('{"step": 1, "D_X": 0.9}\n')
    os.replace(trimmed, log)
    assert reader.read(log) == [{"step": 1, "D_X": 0.9}]
    log.write_text("".join(f'{{"step": {s}, "D_X": 0.1}}\n' for s in range(1, 5)))  # in place, longer
    assert [r["D_X"] for r in reader.read(log)] == [0.1] * 4
    log.unlink()
    assert reader.read(log) == []

    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.web.engine import Engine
    from cyclegan.web.runs_tab import RunsTab
    from cyclegan.web.serve import ServeOptions

    run = tmp_path / "runs" / "r"  # the Runs tab reads through one
    run.mkdir(parents=True)
    (run / "log.jsonl").write_text("".join(f'{{"step": {s}, "D_X": 0.5}}\n' for s in range(1, 101)))
    tab = RunsTab(Engine(ServeOptions(runs=(str(tmp_path / "runs"),), device="cpu"), [], tmp_path / "work"))
    parsed.clear()
    tab.run_view("runs/r", None)
    with (run / "log.jsonl").open("a") as f:
        f.write('{"step": 101, "D_X": 0.4}\n')
    assert "step 101" in tab.run_view("runs/r", None)[7] and len(parsed) == 101


def test_scores_are_curves_of_their_own_and_best_pt_is_offered_beside_the_last(tmp_path):
    records = [
        {"step": 10, "D_X": 0.3},
        {"step": 20, "D_X": 0.2, "eval/AtoB/psnr": 20.5, "eval/AtoB/kid": 0.05, "eval_s": 1.2},
        {"step": 30, "D_X": 0.1, "eval/AtoB/psnr": 21.5, "eval/AtoB/kid": None},
    ]
    assert {r["loss"] for r in loss_rows(records)} == {"D_X"}  # no score and no eval_s among the losses
    assert score_rows(records, unit="dB") == [
        {"step": 20, "score": "AtoB psnr", "value": 20.5},
        {"step": 30, "score": "AtoB psnr", "value": 21.5},
    ]
    assert score_rows(records, unit=None) == [{"step": 20, "score": "AtoB kid", "value": 0.05}]
    run = tmp_path / "runs" / "r"
    run.mkdir(parents=True)
    (run / "checkpoint.pt").write_bytes(b"x")
    assert [m.label for m in find_models([tmp_path / "runs"], [])] == ["runs/r"]
    (run / "best.pt").write_bytes(b"x")
    models = find_models([tmp_path / "runs"], [])
    assert [m.label for m in models] == ["runs/r", "runs/r · best.pt (best score)"]
    assert models[1].path == str((run / "best.pt").resolve())


def test_a_damaged_config_or_log_leaves_the_page_working(tmp_path):
    """Valid JSON of the wrong shape in a run's config.json (a list as the family, a list as the direction)
    raised TypeError from the model list, which every refresh and every job reads: one damaged run froze the
    page's lists and failed every translation. Nested too deep, it was a RecursionError. A 400-digit number
    in log.jsonl raised OverflowError in the Runs tab. Now each is read as unknown (both directions) or
    left out."""
    root = tmp_path / "runs"
    configs = {
        "family_list": {"model": {"family": ["cyclegan"]}},
        "family_dict": {"model": {"family": {"name": "cut"}}},
        "direction_list": {"model": {"family": "cut", "direction": ["BtoA"]}},
    }
    for name, config in configs.items():
        (root / name).mkdir(parents=True)
        (root / name / "config.json").write_text(json.dumps(config))
        (root / name / CHECKPOINT_NAME).write_bytes(b"x")
    (root / "deep").mkdir()
    (root / "deep" / "config.json").write_text("[" * 100_000)
    (root / "deep" / CHECKPOINT_NAME).write_bytes(b"x")
    models = find_models([root], [])
    assert sorted(m.label for m in models) == [f"runs/{n}" for n in ("deep", *sorted(configs))]
    assert all(m.directions == ("AtoB", "BtoA") for m in models)

    log = tmp_path / "log.jsonl"
    huge = "1" * 400
    log.write_text(
        '{"step": 1, "D_X": 0.5, "s_per_step": 0.1}\n'
        + "[" * 100_000
        + "\n"
        + f'{{"step": 2, "D_X": {huge}, "eval/AtoB/psnr": {huge}, "G_total": {huge}, "s_per_step": {huge}}}\n'
    )
    records = read_log(log)
    assert [r["step"] for r in records] == [1, 2]
    assert loss_rows(records) == [{"step": 1, "loss": "D_X", "value": 0.5}]
    assert loss_rows(records, totals=True) == [] and score_rows(records, unit="dB") == []
    assert run_summary(tmp_path, records).startswith("step 2, no checkpoint")


def test_what_the_runs_tab_sends_is_json_the_page_can_encode(tmp_path):
    """The page's JSON encoder (orjson, in Gradio) refuses integers beyond 64 bits and nesting over 255
    levels. A config.json holding either made every redraw of the Runs tab fail ("Error" in the page), and a
    step of 2**70 in log.jsonl reached the plots and ended the browser's event stream. Now such a config is
    read as damaged, and such a record left out."""
    orjson = pytest.importorskip("orjson", reason="orjson comes with gradio")
    for name, text in {
        "huge_int": json.dumps({"model": {"ngf": 2**64}}),
        "deep": json.dumps({"x": json.loads("[" * 300 + "]" * 300)}),
    }.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(text)
        config = read_config(tmp_path / name)
        assert config is None
        orjson.dumps(config)
    (tmp_path / "fine").mkdir()
    (tmp_path / "fine" / "config.json").write_text(json.dumps({"seed": 2**64 - 1, "x": [[[-(2**63)]]]}))
    assert orjson.dumps(read_config(tmp_path / "fine"))  # what orjson writes is kept

    log = tmp_path / "log.jsonl"
    log.write_text(f'{{"step": 1, "D_X": 0.5}}\n{{"step": {2**70}, "D_X": 0.4, "eval/AtoB/psnr": 20.0}}\n')
    records = read_log(log)
    assert [r["step"] for r in records] == [1]
    orjson.dumps([loss_rows(records), score_rows(records, unit="dB")])


def test_a_run_named_in_bytes_that_are_not_utf8_is_listed_in_text_the_page_can_send(tmp_path):
    """A run folder whose name is not UTF-8 (copied from a Latin-1 system: Python reads the byte as a lone
    surrogate) stopped `cyclegan serve` from starting: Gradio's encoder (orjson) refuses surrogates in the
    page's /config, and the launch failed with "When localhost is not accessible...". A `\\ud800` in a loss
    name or a config.json ended the page's event stream or failed the Runs tab. Now each lone surrogate
    is shown as U+FFFD, and such a config reads as damaged."""
    from cyclegan.web.runs import named_runs

    orjson = pytest.importorskip("orjson", reason="orjson comes with gradio")
    root = tmp_path / "runs"
    root.mkdir()
    try:
        run = root / os.fsdecode(b"caf\xe9")
        run.mkdir()
    except (OSError, UnicodeError):
        pytest.skip("this file system takes only UTF-8 names")
    (run / CHECKPOINT_NAME).write_bytes(b"x")
    (run / "config.json").write_text('{"model": {"family": "cyclegan"}, "note": "\\ud800"}')
    (run / "log.jsonl").write_text('{"step": 1, "D_\\ud800": 0.5, "eval/AtoB/\\udcff": 0.25}\n')
    models, runs = find_models([root], []), named_runs([root])
    assert [m.label for m in models] == ["runs/caf\ufffd"] and list(runs) == ["runs/caf\ufffd"]
    orjson.dumps([[(m.label, m.key) for m in models], list(runs)])
    assert read_config(run) is None
    records = read_log(run / "log.jsonl")
    assert loss_rows(records) == [{"step": 1, "loss": "D_\ufffd", "value": 0.5}]
    orjson.dumps([loss_rows(records), score_rows(records, unit=None)])


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_among_a_run_s_files_blocks_nothing(tmp_path):
    """A FIFO named config.json blocked the model list for good (every refresh, and every job, which looks
    its model up there), one named log.jsonl or samples/step_N.png the Runs tab's redraw. Now only regular
    files are read."""
    import threading

    run = tmp_path / "runs" / "r"
    (run / "samples").mkdir(parents=True)
    (run / CHECKPOINT_NAME).write_bytes(b"x")
    fifos = [run / "config.json", run / "log.jsonl", run / "samples" / "step_0000009.png"]
    for fifo in fifos:
        os.mkfifo(fifo)
    _png(run / "samples" / "step_0000001.png", 4, 4)
    answers = {}

    def read() -> None:
        answers["models"] = [m.label for m in find_models([tmp_path / "runs"], [])]
        answers["log"] = read_log(run / "log.jsonl")
        answers["samples"] = [s for s, _ in latest_samples(run, 2)]

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=20)
    for fifo in fifos:  # a writer that closes at once: a reader blocked on one sees its end
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:  # no reader waiting on it
            pass
    reader.join(timeout=20)
    assert answers == {"models": ["runs/r"], "log": [], "samples": [1]}
    assert not reader.is_alive()


def test_a_link_in_a_run_to_a_file_outside_it_is_neither_shown_nor_loaded(tmp_path):
    """A link in a run to a file outside it was read with the server's rights and put on the page: a sample grid
    linked to a private PNG was shown in Runs, a config.json linked to a file of secrets too, by anyone who could
    write in the runs folder; a checkpoint.pt linked elsewhere (into Gradio's folder: a visitor's upload) was
    offered as a model. Now a run's files are read only where they lead inside the run; a run folder that is
    itself a link is read as before."""
    outside = tmp_path / "private"
    outside.mkdir()
    secret_png = _png(outside / "holiday.png", 4, 4)
    (outside / "secrets.json").write_text('{"token": "SECRET"}')
    (outside / "log.jsonl").write_text('{"step": 3, "loss_secret": 1.0}\n')
    (outside / "weights.pt").write_bytes(b"x")
    real = tmp_path / "elsewhere" / "linked"  # a whole run elsewhere, linked into the runs folder: its own files
    (real / "samples").mkdir(parents=True)
    _png(real / "samples" / "step_0000001.png", 4, 4)
    (real / "config.json").write_text("{}")
    (real / "log.jsonl").write_text('{"step": 1, "loss_G": 1.0}\n')
    (real / CHECKPOINT_NAME).write_bytes(b"x")
    runs = tmp_path / "runs"
    run = runs / "r"
    (run / "samples").mkdir(parents=True)
    (runs / "linked").symlink_to(real)
    _png(run / "samples" / "step_0000001.png", 4, 4)
    (run / "samples" / "step_0000009.png").symlink_to(secret_png)
    (run / "config.json").symlink_to(outside / "secrets.json")
    (run / "log.jsonl").symlink_to(outside / "log.jsonl")
    (run / CHECKPOINT_NAME).symlink_to(outside / "weights.pt")
    (run / "best.pt").write_bytes(b"x")  # its own: offered

    assert [(s, p.name) for s, p in latest_samples(run, 2)] == [(1, "step_0000001.png")]
    assert read_config(run) is None and read_log(run / "log.jsonl") == []
    from cyclegan.web.runs import LogReader

    assert LogReader().read(run / "log.jsonl") == []
    assert [m.label for m in find_models([runs], [])] == ["linked", "runs/r · best.pt (best score)"]
    linked = runs / "linked"
    assert [s for s, _ in latest_samples(linked)] == [1] and read_config(linked) == {}
    assert [r["step"] for r in read_log(linked / "log.jsonl")] == [1]


def test_a_best_pt_saved_before_the_first_checkpoint_is_offered(tmp_path):
    """With --eval-every under --checkpoint-every (200 and 500 by default for a scoring run) a run writes
    best.pt before its first checkpoint.pt; best.pt was offered only beside a checkpoint.pt, so the page
    hid the run's best model until then (for good with --checkpoint-every 0 and a crash)."""
    run = tmp_path / "runs" / "r"
    run.mkdir(parents=True)
    (run / "config.json").write_text("{}")
    (run / "best.pt").write_bytes(b"x")
    models = find_models([tmp_path / "runs"], [])
    assert [(m.label, m.path) for m in models] == [("runs/r · best.pt (best score)", str((run / "best.pt").resolve()))]


def test_the_summary_of_a_run_with_only_best_pt_says_so(tmp_path):
    """The Runs summary said "no checkpoint yet" for a run that had saved only best.pt (offered as a model
    beside it). Now it says best.pt's age; with neither file, "no checkpoint yet" as before."""
    run = tmp_path / "r"
    run.mkdir()
    assert run_summary(run, []) == "no losses logged yet, no checkpoint yet"
    (run / "best.pt").write_bytes(b"x")
    os.utime(run / "best.pt", (time.time() - 150, time.time() - 150))
    assert run_summary(run, [{"step": 5}]) == "step 5, no checkpoint yet, best.pt saved 2 min ago"
    (run / CHECKPOINT_NAME).write_bytes(b"x")
    os.utime(run / CHECKPOINT_NAME, (time.time() - 3 * 3600, time.time() - 3 * 3600))
    assert run_summary(run, [{"step": 5}]) == "step 5, checkpoint saved 3.0 h ago"


def test_the_summary_shows_no_speed_a_damaged_log_gives_as_nan_infinite_or_negative(tmp_path):
    """A log line with `"s_per_step": -Infinity` (or NaN, or a negative number) was summed up in the Runs tab as
    "step 2, -inf s/step"; such a speed is left out, a real one kept."""
    run = tmp_path / "r"
    run.mkdir()
    for bad in (float("-inf"), float("inf"), float("nan"), -0.5, 0):
        assert run_summary(run, [{"step": 2, "s_per_step": bad}]) == "step 2, no checkpoint yet", bad
    assert run_summary(run, [{"step": 2, "s_per_step": 0.25}]) == "step 2, 0.25 s/step, no checkpoint yet"


def test_latest_samples_skip_a_damaged_grid(tmp_path):
    run = tmp_path / "run"
    (run / "samples").mkdir(parents=True)
    _png(run / "samples" / "step_0000002.png", 8, 8)
    _png(run / "samples" / "step_0000010.png", 8, 8)
    whole = (run / "samples" / "step_0000010.png").read_bytes()
    (run / "samples" / "step_0000011.png").write_bytes(whole[: len(whole) // 2])  # cut short
    assert [s for s, _ in latest_samples(run, 2)] == [10, 2]
    assert "no losses logged yet" in run_summary(run, []) and "no checkpoint yet" in run_summary(run, [])


# --- uploads ----------------------------------------------------------------------------------------------


def test_upload_checks_name_the_file_in_one_line(tmp_path):
    limits = {"max_bytes": 10_000, "max_pixels": 64 * 64}
    good = _png(tmp_path / "good.png", 30, 20)
    assert check_upload(good, **limits).size == (30, 20)
    deep = tmp_path / "deep.tif"
    Image.fromarray(np.full((6, 5), 40000, dtype=np.uint16)).save(deep)  # 16-bit greyscale TIFF
    assert check_upload(deep, **limits).mode == "RGB"

    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "notes.png").write_text("not an image at all")
    _png(tmp_path / "big.png", 200, 200, seed=1)  # noise does not compress: over 10,000 bytes
    Image.new("RGB", (100, 50), "white").save(tmp_path / "wide.png")  # small file, too many pixels
    whole = good.read_bytes()
    (tmp_path / "cut.png").write_bytes(whole[: len(whole) * 2 // 3])
    cases = {
        "empty.png": "empty.png is empty",
        "notes.png": "notes.png is not an image",
        "big.png": "big.png is 0.1 MB, over this server's limit of 0.01 MB",
        "wide.png": "wide.png is 100x50 pixels",
        "cut.png": "cut.png is truncated",
    }
    for name, says in cases.items():
        with pytest.raises(CycleGANError) as e:
            check_upload(tmp_path / name, **limits)
        assert says in str(e.value) and "\n" not in str(e.value) and str(tmp_path) not in str(e.value)


@pytest.mark.parametrize(("brand", "named"), [(b"heic", "a HEIC"), (b"avif", "an AVIF")])
def test_an_uploaded_heic_or_avif_photo_is_named_with_what_to_do(tmp_path, brand, named):
    """A phone's HEIC photo uploaded to the page was "not an image (JPEG, PNG, ...)", while the CLI names the
    format and says to convert it: the page now says the same."""
    p = tmp_path / "IMG_0001.HEIC"
    p.write_bytes(b"\0\0\0\x18ftyp" + brand + b"\0\0\0\0mif1heic" + bytes(100))
    with pytest.raises(CycleGANError) as e:
        check_upload(p, max_bytes=10_000, max_pixels=64 * 64)
    assert str(e.value) == f"IMG_0001.HEIC is {named} image, a format not read here: convert it to JPEG or PNG"


def test_an_uploaded_video_named_as_an_image_is_named_as_a_video(engine, tmp_path):
    """An MP4 uploaded as clip.png to the Translate tab was "not an image (JPEG, PNG, ...)", and as clip.gif to the
    Video tab "not a GIF or WebP clip, or its header is damaged": each now says it is a video and what to do."""
    av = pytest.importorskip("av", reason="PyAV is not installed (pip install -e '.[video]')")
    from cyclegan.web.video_tab import VideoTab

    clip = tmp_path / "clip.gif"
    with av.open(str(clip), "w", format="mp4") as c:
        v = c.add_stream("libx264", rate=10)
        v.width, v.height, v.pix_fmt = 16, 12, "yuv420p"
        for i in range(3):
            c.mux(v.encode(av.VideoFrame.from_ndarray(np.full((12, 16, 3), 60 * i, np.uint8), format="rgb24")))
        c.mux(v.encode(None))
    with pytest.raises(CycleGANError) as e:
        VideoTab(engine).translate(str(clip), engine.models()[0].key, "AtoB", False, 0.0)
    assert str(e.value) == "clip.gif is an MP4 video, not a GIF or WebP; rename it clip.mp4 and upload it again"
    still = shutil.copy(clip, tmp_path / "clip.png")
    with pytest.raises(CycleGANError) as e:
        check_upload(still, max_bytes=100_000, max_pixels=64 * 64)
    assert str(e.value) == "clip.png is an MP4 video, not an image: translate it in the Video tab (as clip.mp4)"


def test_an_uploaded_m4a_named_as_an_image_or_a_gif_is_named_as_sound(engine, tmp_path):
    """An M4A (sound alone in an MP4 container) uploaded as song.png was "an MP4 video, not an image: translate it in
    the Video tab", and as song.gif "an MP4 video, not a GIF or WebP; rename it song.mp4": it holds no picture."""
    from cyclegan.web.video_tab import VideoTab

    song = tmp_path / "song.png"
    song.write_bytes(b"\0\0\0\x1cftypM4A \0\0\x02\0M4A isomiso2" + bytes(100))  # as FFmpeg's ipod muxer writes it
    with pytest.raises(CycleGANError) as e:
        check_upload(song, max_bytes=100_000, max_pixels=64 * 64)
    assert str(e.value) == "song.png is M4A sound alone, not an image: no picture to translate"
    gif = shutil.copy(song, tmp_path / "song.gif")
    with pytest.raises(CycleGANError) as e:
        VideoTab(engine).translate(str(gif), engine.models()[0].key, "AtoB", False, 0.0)
    assert str(e.value) == "song.gif is M4A sound alone, not a GIF or WebP: no picture to translate"


def declared_png(path: Path, width: int, height: int) -> Path:
    """A 57-byte PNG whose header declares width x height pixels (no image data: only the header is read)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))
    return path


def test_an_upload_is_decoded_only_in_the_formats_the_page_names(tmp_path, monkeypatch):
    """check_upload opened any of Pillow's ~40 formats: an uploaded EPS went to Ghostscript (run on the
    visitor's PostScript where it is installed; "Unable to locate Ghostscript" where not), and TGA, PCX,
    SGI, ... were translated though the page names JPEG, PNG, BMP, GIF, WebP and TIFF. Now the others are
    refused before decoding, and Ghostscript is never called."""
    from PIL import EpsImagePlugin

    def ghostscript(*args, **kwargs):
        raise AssertionError("Ghostscript called on an upload")

    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", ghostscript)
    limits = {"max_bytes": 100_000, "max_pixels": 64 * 64}
    eps = tmp_path / "drawing.png"
    eps.write_text("%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    with pytest.raises(CycleGANError, match=r"^drawing.png is not an image \(JPEG, PNG"):
        check_upload(eps, **limits)
    for suffix in ("tga", "pcx", "sgi", "ppm"):
        other = tmp_path / f"scene.{suffix}"
        Image.new("RGB", (8, 6), "red").save(other)
        with pytest.raises(CycleGANError, match=f"^scene.{suffix} is not an image"):
            check_upload(other, **limits)
    for suffix in ("jpg", "png", "bmp", "gif", "webp", "tif"):  # what the page names, still taken
        Image.new("RGB", (8, 6), "red").save(tmp_path / f"scene.{suffix}")
        assert check_upload(tmp_path / f"scene.{suffix}", **limits).size == (8, 6)
    mpo = tmp_path / "camera.jpg"  # a JPEG of several pictures, as cameras write
    Image.new("RGB", (8, 6)).save(mpo, "MPO", save_all=True, append_images=[Image.new("RGB", (8, 6))])
    assert check_upload(mpo, **limits).size == (8, 6)


def test_a_clip_upload_named_gif_is_read_only_as_gif_or_webp(engine, tmp_path, monkeypatch):
    """The Video tab reads a .gif or .webp clip with Pillow, which opens any of its formats by content: an
    EPS uploaded as clip.gif went to Ghostscript. Now such an upload is refused before it is read."""
    pytest.importorskip("av", reason="PyAV is not installed (pip install -e '.[video]')")
    from PIL import EpsImagePlugin

    from cyclegan.web.video_tab import VideoTab

    def ghostscript(*args, **kwargs):
        raise AssertionError("Ghostscript called on an upload")

    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", ghostscript)
    clip = tmp_path / "clip.gif"
    clip.write_text("%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    key = engine.models()[0].key
    with pytest.raises(CycleGANError, match="^clip.gif is not a GIF or WebP clip"):
        VideoTab(engine).translate(str(clip), key, "AtoB", False, 0.0)
    frames = [Image.new("RGB", (16, 12), c) for c in ("red", "blue", "green")]
    frames[0].save(clip, save_all=True, append_images=frames[1:], duration=100)
    _, target, line = VideoTab(engine).translate(str(clip), key, "AtoB", False, 0.0)
    assert "3 frames of 16x12" in line and Path(target).name == "clip_AtoB.gif"


def test_the_video_tab_counts_one_frame_as_one(engine, tmp_path):
    """A still GIF (one frame) sent to Video was said as "one.gif: 1 frames of 1x1"; a frame, as errors.counted says."""
    pytest.importorskip("av", reason="PyAV is not installed (pip install -e '.[video]')")
    from cyclegan.web.video_tab import VideoTab

    Image.new("RGB", (1, 1), "red").save(still := tmp_path / "one.gif")
    _, _, line = VideoTab(engine).translate(str(still), engine.models()[0].key, "AtoB", False, 0.0)
    assert line.startswith("one\\.gif: 1 frame of 1x1 translated AtoB by ")


def test_shared_statistics_on_the_video_tab_with_a_batch_norm_model_are_named_as_changing_nothing(tmp_path):
    """`translate --norm-stats shared` names a generator without InstanceNorm as changing nothing; the Video tab's
    box "(a) normalisation statistics shared" was taken without a word for such a model."""
    pytest.importorskip("av", reason="PyAV is not installed (pip install -e '.[video]')")
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.web.engine import Engine
    from cyclegan.web.serve import ServeOptions
    from cyclegan.web.video_tab import VideoTab

    batch = tmp_path / "batch.pt"
    _tiny_checkpoint(batch, norm="batch")
    engine = Engine(ServeOptions(checkpoint=(str(batch),), device="cpu"), [batch], tmp_path / "work")
    clip = tmp_path / "clip.gif"
    frames = [Image.new("RGB", (16, 12), c) for c in ("red", "blue", "green")]
    frames[0].save(clip, save_all=True, append_images=frames[1:], duration=100)
    with pytest.warns(UserWarning, match=r"^\(a\) shared statistics change nothing for this model"):
        VideoTab(engine).translate(str(clip), "batch.pt", "AtoB", True, 0.0)


def test_a_clip_over_the_frame_limit_is_refused_before_any_translation(tmp_path, run, monkeypatch):
    """The Video tab took a clip of any length: a 25 MB clip of tiny frames holds hours of them and held the
    heavy-job queue that long (a hostile probe). Now a clip of more than --max-clip-frames is refused in
    one line, counted before a model is loaded: the count its header declares where that is over the limit,
    else (and for MKV and WebM, which declare none) its packets demuxed without decoding, up to the limit."""
    pytest.importorskip("av", reason="PyAV is not installed (pip install -e '.[video]')")
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.clipio import write_clip
    from cyclegan.web.engine import Engine
    from cyclegan.web.serve import ServeOptions
    from cyclegan.web.video_tab import VideoTab

    engine = Engine(ServeOptions(runs=(str(run),), device="cpu", max_clip_frames=4), [], tmp_path / "work")
    key = engine.models()[0].key
    frames = [np.full((8, 8, 3), 40 * i, np.uint8) for i in range(5)]
    tab = VideoTab(engine)
    monkeypatch.setattr(engine, "ready", lambda *a: pytest.fail("a model was loaded"))
    for kind, held in (("mp4", "5 frames"), ("gif", "5 frames"), ("mkv", "more than 4 frames")):
        clip = write_clip(tmp_path / f"long.{kind}", frames, rate=25)
        with pytest.raises(CycleGANError) as e:
            tab.translate(str(clip), key, "AtoB", False, 0.0)
        assert str(e.value) == (
            f"long.{kind} holds {held}, over this server's limit of 4 frames per clip "
            "(cyclegan serve --max-clip-frames)"
        )
    monkeypatch.undo()
    short = write_clip(tmp_path / "short.webm", frames[:4], rate=25)  # at the limit: translated
    _, target, line = tab.translate(str(short), key, "AtoB", False, 0.0)
    assert "4 frames of 8x8" in line and Path(target).name == "short_AtoB.webm"


def test_the_video_tab_says_a_rotated_clips_frames_as_they_play(engine, tmp_path, run, monkeypatch):
    """A phone's portrait clip (stored landscape, with a display rotation) was said by its stored size: "3 frames
    of 48x32" for frames shown 32 wide and 48 high, and so in the refusals over the server's limits."""
    av = pytest.importorskip("av", reason="PyAV is not installed (pip install -e '.[video]')")
    from cyclegan.web.video_tab import VideoTab

    clip = tmp_path / "phone.mp4"
    with av.open(str(clip), "w") as c:
        v = c.add_stream("libx264", rate=10)
        v.width, v.height, v.pix_fmt = 48, 32, "yuv420p"
        v.set_display_rotation(-90)  # shown turned a quarter: 32 wide, 48 high
        for i in range(3):
            c.mux(v.encode(av.VideoFrame.from_ndarray(np.full((32, 48, 3), 60 * i, np.uint8), format="rgb24")))
        c.mux(v.encode(None))
    key = engine.models()[0].key
    _, _, line = VideoTab(engine).translate(str(clip), key, "AtoB", False, 0.0)
    assert "3 frames of 32x48 translated" in line
    _, tab = _video_tab_loading_no_model(tmp_path, run, monkeypatch, max_pixels=1000)
    with pytest.raises(CycleGANError, match=r"^phone.mp4's frames are 32x48 pixels \(0.0 MP\), over"):
        tab.translate(str(clip), key, "AtoB", False, 0.0)


def test_a_clip_upload_deleted_before_its_job_runs_is_one_line(engine, tmp_path):
    """Gradio deletes uploads an hour after they came; a clip that waited longer in the heavy queue (behind
    long jobs) was gone when its job began, and the page said "internal error (FileNotFoundError)". Now it
    is a line saying so, as the image tabs say it."""
    from cyclegan.web.video_tab import VideoTab

    gone = tmp_path / "upload" / "walk.mp4"
    with pytest.raises(CycleGANError, match="walk.mp4: the upload is gone"):
        VideoTab(engine).translate(str(gone), engine.models()[0].key, "AtoB", False, 0.0)


def test_a_text_file_uploaded_as_a_clip_is_named_as_no_video_with_the_kinds_that_are(engine, tmp_path):
    """A text file named .mp4 in the Video tab got FFmpeg's "Invalid data found when processing input"."""
    from cyclegan.web.video_tab import VideoTab

    (tmp_path / "notes.mp4").write_text("hello")
    said = "^cannot read clip notes.mp4: it is not a video FFmpeg can read .MP4, MOV, MKV or WebM; or an animated GIF"
    with pytest.raises(CycleGANError, match=said):
        VideoTab(engine).translate(str(tmp_path / "notes.mp4"), engine.models()[0].key, "AtoB", False, 0.0)


def _animated(path: Path, n: int) -> Path:
    """An animated GIF or WebP (by `path`'s extension) of `n` 40x50 frames, 50 ms each."""
    frames = [Image.fromarray(np.full((50, 40, 3), 10 * i, np.uint8)) for i in range(n)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50)
    return path


def _video_tab_loading_no_model(tmp_path, run, monkeypatch, **serve):
    """The Video tab of a page on `run` (`serve`: more ServeOptions), whose loading of a model fails the test: a
    refusal must come before it. Returns (engine, tab); skips the test without PyAV or Gradio."""
    pytest.importorskip("av", reason="PyAV is not installed (pip install -e '.[video]')")
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.web.engine import Engine
    from cyclegan.web.serve import ServeOptions
    from cyclegan.web.video_tab import VideoTab

    engine = Engine(ServeOptions(runs=(str(run),), device="cpu", **serve), [], tmp_path / "work")
    monkeypatch.setattr(engine, "ready", lambda *a: pytest.fail("a model was loaded"))
    return engine, VideoTab(engine)


def test_a_webp_clip_over_the_pixel_limit_is_refused_before_translating(tmp_path, run, monkeypatch):
    """An animated WebP is written whole at the end, so its frames in all are held to --max-pixels: the Video
    tab found that out after translating the frames under the limit, and said "write an MP4 or a GIF, or give
    a smaller --size", which the page has no field for. Now it is refused before a model is loaded, saying
    what the visitor can do."""
    engine, tab = _video_tab_loading_no_model(tmp_path, run, monkeypatch, max_pixels=10_000)
    clip = _animated(tmp_path / "walk.webp", 6)
    with pytest.raises(CycleGANError) as e:
        tab.translate(str(clip), engine.models()[0].key, "AtoB", False, 0.0)
    assert "walk.webp: an animated WebP is written whole at the end, and its 6 frames of 40x50" in str(e.value)
    assert str(e.value).endswith("convert it to MP4 or GIF and upload that")


def test_a_gif_or_flow_blend_over_its_limit_is_refused_in_the_page_s_words(tmp_path, run, monkeypatch):
    """A GIF's frames in all are held to 3x --max-pixels as it is written: the Video tab passed on the library's
    refusal, "write an MP4 or a smaller --size, or give a smaller --size", none of which the page has (it writes a
    clip in its own kind); the flow blend's refusal in the page's words came once the model was loaded; frames over
    --max-pixels were refused once the model loaded, with a thin image's advice ("crop or resize it to a less thin
    shape") for a square clip. Now each is refused before a model is loaded, saying what the visitor can do."""
    engine, tab = _video_tab_loading_no_model(tmp_path, run, monkeypatch, max_pixels=10_000)
    from cyclegan.clipio import write_clip

    gif = _animated(tmp_path / "walk.gif", 20)
    with pytest.raises(CycleGANError) as e:
        tab.translate(str(gif), engine.models()[0].key, "AtoB", False, 0.0)
    assert str(e.value) == (
        "walk.gif: an animated GIF is written whole at the end, and its 20 frames of 40x50 are 0.04 MP, over this "
        "server's limit of 3 x 0.01 MP (cyclegan serve --max-pixels); convert it to MP4 and upload that"
    )
    wide = write_clip(tmp_path / "wide.mp4", [np.zeros((1024, 2048, 3), np.uint8)] * 2, rate=25)  # 2 MP a frame
    engine, tab = _video_tab_loading_no_model(tmp_path, run, monkeypatch, max_pixels=2_000_000)
    with pytest.raises(CycleGANError) as e:  # found once the model loaded, called "thin"
        tab.translate(str(wide), engine.models()[0].key, "AtoB", False, 0.0)
    assert str(e.value) == (
        "wide.mp4's frames are 2048x1024 pixels (2.1 MP), over this server's limit of 2 MP (cyclegan serve "
        "--max-pixels); upload a clip of smaller frames"
    )
    engine, tab = _video_tab_loading_no_model(tmp_path, run, monkeypatch)
    monkeypatch.setattr("cyclegan.temporal.BLEND_BYTES", 1000)  # as if the frames were 25 times as large
    with pytest.raises(CycleGANError) as e:
        tab.translate(str(wide), engine.models()[0].key, "AtoB", False, 0.8)
    assert str(e.value).startswith("wide.mp4's frames of 2048x1024 need about 2.1 GB for the flow blend")


def test_a_clip_whose_header_declares_fewer_frames_than_it_holds_is_counted(tmp_path, run, monkeypatch):
    """A fragmented MP4's header counts only the frames before its first fragment: one of 40 frames declared
    3 and passed a limit of 10 (2000 frames of 16x16 declared 3 in 134 kB, a hostile probe). Now a video's
    packets are counted, up to the limit, whatever its header says."""
    av = pytest.importorskip("av", reason="PyAV is not installed (pip install -e '.[video]')")
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.clipio import probe
    from cyclegan.web.engine import Engine
    from cyclegan.web.serve import ServeOptions
    from cyclegan.web.video_tab import VideoTab

    clip = tmp_path / "fragmented.mp4"
    with av.open(str(clip), "w", options={"movflags": "frag_keyframe"}) as out:
        stream = out.add_stream("libx264", rate=25, options={"g": "5"})
        stream.width, stream.height, stream.pix_fmt = 16, 16, "yuv420p"
        for i in range(40):
            frame = av.VideoFrame.from_ndarray(np.full((16, 16, 3), 6 * i, np.uint8), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    assert 0 < probe(clip).frames <= 10  # what the header declares

    engine = Engine(ServeOptions(runs=(str(run),), device="cpu", max_clip_frames=10), [], tmp_path / "work")
    monkeypatch.setattr(engine, "ready", lambda *a: pytest.fail("a model was loaded"))
    with pytest.raises(CycleGANError, match="fragmented.mp4 holds more than 10 frames, over this server's limit"):
        VideoTab(engine).translate(str(clip), engine.models()[0].key, "AtoB", False, 0.0)


def test_a_decompression_bomb_upload_is_called_one(tmp_path):
    """30000x30000 declared in a 57-byte file: PIL refuses it from the header. Before: 'not an image'."""
    bomb = declared_png(tmp_path / "bomb.png", 30000, 30000)
    with pytest.raises(CycleGANError) as e:
        check_upload(bomb, max_bytes=10_000, max_pixels=64 * 64)
    assert str(e.value) == (
        "bomb.png declares 900 MP, more than any image is decoded here: a decompression bomb? this server's "
        "limit is 0.004096 MP (cyclegan serve --max-pixels)"
    )


def test_an_upload_under_a_raised_pixel_limit_is_not_called_a_bomb(tmp_path, monkeypatch):
    """The upload check opened images with Pillow's own bomb check (twice its cap: 179 MP), so a server started
    with --max-pixels 300000000 refused a 200 MP upload as "a decompression bomb? this server's limit is 300
    MP". Now the check is raised to --max-pixels, as the CLI's reader raises it. (Pillow's cap is lowered
    here, so a small image stands for a large one.)"""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    photo = _png(tmp_path / "photo.png", 60, 50)  # 3000 pixels: over twice Pillow's cap, under the server's
    assert check_upload(photo, max_bytes=10**6, max_pixels=10_000).size == (60, 50)
    with pytest.raises(CycleGANError, match="photo.png is 60x50 pixels"):
        check_upload(photo, max_bytes=10**6, max_pixels=2_000)


def test_upload_names_are_shown_on_one_line(tmp_path):
    """A name with a newline and an escape sequence cannot add a line or colour to the page's message."""
    odd = tmp_path / "a.png\nerror: fake \x1b[31m.png"
    odd.write_text("not an image")
    with pytest.raises(CycleGANError) as e:
        check_upload(odd, max_bytes=10_000, max_pixels=64 * 64)
    assert str(e.value) == "a.png\\nerror: fake \\x1b[31m.png is not an image (JPEG, PNG, BMP, GIF, WebP or TIFF)"


# --- options and the command ------------------------------------------------------------------------------


def test_serve_refuses_bad_starts_in_one_line(tmp_path, capsys):
    from cyclegan.cli import main
    from cyclegan.web.serve import is_public

    assert main(["serve"]) == 2
    assert "give --runs DIR and/or --checkpoint FILE" in capsys.readouterr().err
    assert main(["serve", "--runs", str(tmp_path / "missing")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert main(["serve", "--checkpoint", str(tmp_path / "g.pth")]) == 2
    assert f"{tmp_path / 'g.pth'} does not exist; give a run folder or a checkpoint file" in capsys.readouterr().err
    assert main(["serve", "--runs", str(tmp_path), "--port", "0"]) == 2
    assert "option '--port' must be >= 1" in capsys.readouterr().err
    assert not is_public("127.0.0.1") and not is_public("localhost") and not is_public("::1")
    assert is_public("0.0.0.0") and is_public("192.168.1.5") and is_public("myhost.example")
    # an IPv6 address as a URL writes it is the same address (`[::1]` was called public); an empty one is refused
    # (Gradio listened on 127.0.0.1 after the warning that it was public)
    assert not is_public("[::1]") and is_public("[::]")
    assert main(["serve", "--runs", str(tmp_path), "--host", ""]) == 2
    assert "option '--host' is empty" in capsys.readouterr().err


def test_a_pretrained_model_that_cannot_be_fetched_names_what_serve_takes(tmp_path, capsys, monkeypatch):
    """`cyclegan serve --checkpoint pretrained:NAME` offline (or with its mirror down) said "give a mirror's
    address in --base-url or $CYCLEGAN_PRETRAINED_URL": serve has no --base-url (nor translate, evaluate).
    Now the hint names the one way a `pretrained:NAME` takes a mirror."""
    import socket

    from cyclegan.cli import main

    with socket.socket() as s:  # a port nothing listens on: the mirror is down
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("CYCLEGAN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CYCLEGAN_PRETRAINED_URL", f"http://127.0.0.1:{port}")
    assert main(["serve", "--checkpoint", "pretrained:horse2zebra"]) == 2
    err = capsys.readouterr().err
    assert "cannot reach" in err and "$CYCLEGAN_PRETRAINED_URL" in err and "--base-url" not in err


def never_launched(monkeypatch, tmp_path: Path) -> None:
    """Gradio quiet and offline (its files under tmp_path), and the page's launch a test failure: for checks that
    must refuse a start before any page is built or served."""
    from cyclegan.web import app as app_module

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    for name in ("GRADIO_ANALYTICS_ENABLED", "GRADIO_SSR_MODE", "GRADIO_MCP_SERVER"):
        monkeypatch.setenv(name, "False")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setattr(app_module, "launch", lambda *a, **k: pytest.fail("the page was started"))


def test_a_device_that_cannot_run_is_refused_when_the_server_starts(tmp_path, capsys, monkeypatch):
    """`cyclegan serve --device cuda` on a machine without CUDA (or `--device foo`) started the page, and every
    visitor's job then failed with "option 'device': ...", a line only the operator can act on. Now the
    device the operator names is checked before the page starts."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    import torch

    from cyclegan.cli import main

    never_launched(monkeypatch, tmp_path)
    devices = [("foo", "unknown device 'foo'")]
    if not torch.cuda.is_available():
        devices.append(("cuda", "CUDA was asked for but this PyTorch sees no CUDA GPU"))
    for device, said in devices:
        assert main(["serve", "--runs", str(tmp_path), "--device", device]) == 2
        assert f"option '--device': {said}" in capsys.readouterr().err


def test_style_limits_a_slider_cannot_show_are_refused_in_one_line(tmp_path, run, capsys):
    """`--max-style-steps 10` and `--max-style-size 64` were accepted, and the page's start ended in Gradio's
    traceback ("Slider minimum must be less than maximum"): the sliders start at 10 steps and 64 px. Now the
    options refuse them; the least each takes builds the page."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.cli import main
    from cyclegan.web.app import build_app
    from cyclegan.web.serve import ServeOptions

    for flag, value, least in (("--max-style-steps", "10", 20), ("--max-style-size", "64", 96)):
        assert main(["serve", "--runs", str(tmp_path), flag, value]) == 2
        assert f"option '{flag}' must be >= {least}, got {value}" in capsys.readouterr().err
    build_app(ServeOptions(runs=(str(run),), max_style_steps=20, max_style_size=96), [], tmp_path / "work")


def test_the_runs_tab_scores_plot_promises_no_range_its_curves_leave(tmp_path, run):
    """The plot of SSIM, kid, change and spread was titled "scores on 0-1 scales", with spread at 1.38 in it (the
    README's Runs screenshot): change reaches 2 and spread passes 1."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.web.app import build_app
    from cyclegan.web.serve import ServeOptions

    app = build_app(ServeOptions(runs=(str(run),)), [], tmp_path / "work")
    labels = {c["props"].get("elem_id"): c["props"].get("label") for c in app.get_config_file()["components"]}
    assert "spread" in labels["runs-scores"] and "0-1 scales" not in labels["runs-scores"]


def test_the_local_colour_in_grey_levels_has_a_plot_of_its_own(tmp_path, run):
    """eval/DIR/local_colour (50-170 grey levels on a young run) was drawn on the unitless plot, which squashed
    SSIM, change and tint (0-1) to a line at 0: it has its own plot now, labelled with its unit."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.web.app import build_app
    from cyclegan.web.serve import ServeOptions

    records = [{"step": 20, "eval/AtoB/ssim": 0.4, "eval/AtoB/local_colour": 120.0, "eval/AtoB/psnr": 12.0}]
    assert score_rows(records, unit=None) == [{"step": 20, "score": "AtoB ssim", "value": 0.4}]
    assert score_rows(records, unit="grey levels") == [{"step": 20, "score": "AtoB local_colour", "value": 120.0}]
    app = build_app(ServeOptions(runs=(str(run),)), [], tmp_path / "work")
    labels = {c["props"].get("elem_id"): c["props"].get("label") for c in app.get_config_file()["components"]}
    assert "local colour in grey levels" in labels["runs-scores-grey"]
    # pix2pix scores it on training pairs set aside as well: the label said "on a paired test split"
    assert "a paired test split, pix2pix's pairs" in labels["runs-scores-grey"]


def test_the_runs_tab_names_the_levels_the_watcher_warns_at(tmp_path, run):
    """The scores plot's label wrote the watcher's tint level as a copy ("over 0.1"), and the spread's as "near 0":
    a level changed in `train.watch` left the page saying the old one. Now the label names the watcher's own levels
    (`warning_levels`, which the page imports without training)."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.train import watch
    from cyclegan.web.app import build_app
    from cyclegan.web.serve import ServeOptions

    app = build_app(ServeOptions(runs=(str(run),)), [], tmp_path / "work")
    label = next(
        c["props"]["label"] for c in app.get_config_file()["components"] if c["props"].get("elem_id") == "runs-scores"
    )
    assert f"change from the input (under {watch.STILL:g}: a warning)" in label
    assert f"spread of the outputs (under {watch.COLLAPSED:g}: a warning)" in label
    assert f"tint (over {watch.TINTED:g}: a warning)" in label


def test_an_address_serve_cannot_listen_on_is_named_with_the_reason(tmp_path, capsys, monkeypatch):
    """`--host nonexistent.invalid` (or an address of another machine) got a line of Gradio's server log and
    then a guess: "the port is in use, or HOST is not an address of this machine". Now the address is tried
    before the page is built, and the one line says what is wrong with it."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.cli import main

    never_launched(monkeypatch, tmp_path)
    assert main(["serve", "--runs", str(tmp_path), "--host", "nonexistent.invalid"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: option '--host': cannot resolve nonexistent.invalid (") and err.count("\n") == 1


@pytest.mark.slow
def test_serve_on_a_port_in_use_says_so_in_one_line(tmp_path, capsys, monkeypatch):
    """A port already taken (another server, a second `cyclegan serve`) ended the start with Gradio's
    traceback, which tells a Python caller to pass `server_port` to `launch()`. Now it is one line naming
    --port and --host, and the exit status is 2."""
    import socket

    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.cli import main

    # what serve sets in this process's environment, undone after the test (Gradio's cache folder included:
    # later pages built in this process would write into the removed one)
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    for name in ("GRADIO_ANALYTICS_ENABLED", "GRADIO_SSR_MODE", "GRADIO_MCP_SERVER"):
        monkeypatch.setenv(name, "False")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--runs", str(tmp_path), "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}: the port is in use" in err and "Traceback" not in err


def _serve_launch_failed(tmp_path, monkeypatch, port: int) -> None:
    """`cyclegan serve --port PORT` through `cli.main`, with the real page and Gradio's launch in this process
    (what serve sets in its environment undone after the test), which fails: exit 2."""
    from cyclegan.cli import main

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    for name in ("GRADIO_ANALYTICS_ENABLED", "GRADIO_SSR_MODE", "GRADIO_MCP_SERVER"):
        monkeypatch.setenv(name, "False")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    assert main(["serve", "--runs", str(tmp_path), "--port", str(port)]) == 2


@pytest.mark.slow
def test_a_server_slow_to_start_is_said_as_such_not_as_a_port_in_use(tmp_path, capsys, monkeypatch):
    """Gradio gives its server 5 s to start, then says it cannot find an empty port: on a busy machine
    `cyclegan serve` said "the port is in use" of a free port. Now the port is checked again and the line says
    the server was slow to start and to try again. Gradio's clock is made to run fast (no 5 s wait), its server
    never starting until the test ends."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    import itertools
    import threading

    from gradio import http_server

    ends = threading.Event()
    monkeypatch.setattr(http_server.Server, "run", lambda self, sockets=None: ends.wait(30))
    clock = itertools.count(step=0.5)  # Gradio's 5 s pass in ten looks at its clock
    monkeypatch.setattr(http_server, "time", SimpleNamespace(time=lambda: next(clock), sleep=time.sleep))
    port = free_port()
    try:
        _serve_launch_failed(tmp_path, monkeypatch, port)
    finally:
        ends.set()
    err = capsys.readouterr().err
    assert err == (
        f"error: the server on 127.0.0.1:{port} did not start within Gradio's 5 seconds (the port is free: the "
        "machine is busy); try again\n"
    )


@pytest.mark.slow
def test_a_port_taken_while_the_page_is_built_is_said_in_use(tmp_path, capsys, monkeypatch):
    """The port is checked before the page is built; one taken in the seconds that takes (a second server
    started at once) fails Gradio's launch, which says the same as for a slow start: that one is still said to be
    in use, in the words of the check before."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    import socket

    from cyclegan.web import app as app_module

    port = free_port()
    build_app = app_module.build_app
    with socket.socket() as taken:

        def build_then_take(*args):
            page = build_app(*args)
            taken.bind(("127.0.0.1", port))
            taken.listen()
            return page

        monkeypatch.setattr(app_module, "build_app", build_then_take)
        _serve_launch_failed(tmp_path, monkeypatch, port)
    err = capsys.readouterr().err
    assert err == f"error: cannot listen on 127.0.0.1:{port}: the port is in use; choose another with --port\n"


@pytest.mark.slow
def test_serve_listens_on_an_ipv6_address_written_either_way(tmp_path, run, capsys, monkeypatch):
    """`--host ::1` ended the start in httpx's traceback (Gradio built the URL `http://::1:PORT`); only `[::1]`
    worked. Now both listen, and the page's address is written as a browser takes it."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    import socket
    import urllib.request

    from cyclegan.web import app as app_module
    from cyclegan.web.serve import ServeOptions

    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
            port = s.getsockname()[1]
    except OSError:
        pytest.skip("this machine has no IPv6 loopback")
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    for host in ("::1", "[::1]"):
        opts = ServeOptions(runs=(str(run),), device="cpu", host=host, port=port)
        page = app_module.build_app(opts, [], tmp_path / "work")
        try:
            app_module.launch(page, opts, block=False)
            assert f"the page is at http://[::1]:{port}/" in capsys.readouterr().out
            with urllib.request.urlopen(f"http://[::1]:{port}/", timeout=10) as r:
                assert r.status == 200
        finally:
            page.close()


@pytest.mark.slow
def test_serve_options_import_neither_torch_nor_gradio():
    code = "import sys, cyclegan.web.serve, cyclegan.web.runs; print('torch' in sys.modules, 'gradio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=server_env(), check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.slow
def test_the_page_never_imports_training_code():
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    code = "import sys, cyclegan.web.app, cyclegan.compare; print('cyclegan.train' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=server_env(), check=True)
    assert out.stdout.split() == ["False"]


def test_examples_from_a_folder_are_as_many_as_the_help_says(tmp_path):
    """A folder given to --examples offered its first 8 images and left the rest out, a cap `serve --help`
    did not mention ("files or folders"). Now the help names it."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.web.options import EXAMPLES_PER_FOLDER
    from cyclegan.web.serve import ServeOptions
    from cyclegan.web.translate_tab import example_images

    for i in range(EXAMPLES_PER_FOLDER + 3):
        _png(tmp_path / f"scene_{i:02d}.png", 4, 4)
    found = example_images(ServeOptions(examples=(str(tmp_path),)))
    assert [Path(f).name for f in found] == [f"scene_{i:02d}.png" for i in range(EXAMPLES_PER_FOLDER)]
    help_text = next(f.metadata["help"] for f in fields(ServeOptions) if f.name == "examples")
    assert f"their first {EXAMPLES_PER_FOLDER} images by name" in help_text


def test_an_example_named_in_bytes_that_are_not_utf8_is_refused_in_one_line(tmp_path):
    """An --examples image whose name is not UTF-8 stopped `cyclegan serve` with Gradio's traceback
    (UnicodeEncodeError as it copied the file into its cache). Now the start is refused in one line."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.web.serve import ServeOptions
    from cyclegan.web.translate_tab import example_images

    try:
        odd = _png(tmp_path / os.fsdecode(b"r\xe9d.png"), 4, 4)
    except (OSError, UnicodeError):
        pytest.skip("this file system takes only UTF-8 names")
    for given in (tmp_path, odd):
        with pytest.raises(CycleGANError, match=r"^option '--examples': .*r\\udce9d.png is named in bytes that"):
            example_images(ServeOptions(examples=(str(given),)))


def test_shipped_examples_are_the_built_in_world():
    from cyclegan.data.synthetic import render, scene_for
    from cyclegan.web.serve import ServeOptions

    gradio = pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    del gradio
    from cyclegan.web.translate_tab import example_images

    files = example_images(ServeOptions())
    assert [Path(f).name for f in files] == ["summer_0.png", "summer_1.png", "winter_2.png", "winter_3.png"]
    for f in files:
        i, style = int(Path(f).stem[-1]), Path(f).stem.split("_")[0]
        assert np.array_equal(np.asarray(Image.open(f).convert("RGB")), render(scene_for(1234, i), style, 128))


def test_stylize_calls_back_every_step_and_stops_when_the_callback_raises():
    from cyclegan.style import GatysOptions, stylize

    content = Image.fromarray(np.random.default_rng(0).integers(0, 255, (24, 32, 3), dtype=np.uint8))
    seen = []
    options = GatysOptions(backbone="lite0", size=32, steps=3, optimizer="adam")
    stylize(content, content, options, progress=False, callback=lambda step, x: seen.append((step, tuple(x.shape))))
    assert seen == [(1, (1, 3, 24, 32)), (2, (1, 3, 24, 32)), (3, (1, 3, 24, 32))]

    class Stop(Exception):
        pass

    def stop_at_two(step, _x):
        if step == 2:
            raise Stop

    with pytest.raises(Stop):
        stylize(
            content, content, GatysOptions(backbone="lite0", size=32, steps=50), progress=False, callback=stop_at_two
        )


# --- the page's handlers, without a browser ---------------------------------------------------------------


@pytest.fixture
def engine(tmp_path, run):
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.web.engine import Engine
    from cyclegan.web.serve import ServeOptions

    return Engine(ServeOptions(runs=(str(run),), device="cpu"), [], tmp_path / "work")


def test_translate_handler_keeps_sizes_and_reports_bad_uploads(engine, tmp_path, run):
    from cyclegan.web.translate_tab import TranslateTab

    tab = TranslateTab(engine)
    key = engine.models()[0].key
    good = _png(tmp_path / "photo.png", 45, 37)
    gallery, downloads, info = tab.translate([str(good)], key, "BtoA")
    assert Image.open(downloads[0]).size == (45, 37) and Path(downloads[0]).name == "photo_BtoA.png"
    assert len(gallery) == 2 and "45x37" in info

    (tmp_path / "notes.png").write_text("hello")
    with pytest.raises(CycleGANError, match="notes.png is not an image"):
        tab.translate([str(tmp_path / "notes.png")], key, "AtoB")
    _, downloads, _ = tab.translate([str(tmp_path / "notes.png"), str(good)], key, "AtoB")  # warned, rest done
    assert [Path(d).name for d in downloads] == ["photo_AtoB.png"]

    with pytest.raises(CycleGANError, match="not offered"):  # a forged dropdown value loads nothing
        tab.translate([str(good)], str(tmp_path / "elsewhere.pt"), "AtoB")
    with pytest.raises(CycleGANError, match="choose a model"):
        tab.translate([str(good)], None, "AtoB")


def test_the_pages_images_are_written_whole_or_not_at_all(engine, tmp_path, monkeypatch):
    """The page wrote its PNGs with Pillow's own save, outside every command's writer (`data.io.save_image`): a
    disk that filled up mid-write left half a PNG among the request's outputs. Now no file there is cut short."""
    import errno

    from cyclegan.web.translate_tab import TranslateTab

    save = Image.Image.save

    def full(im, fp, *args, **kwargs):  # the translation's file: half written, then the disk is full
        if "_BtoA" in Path(fp).name:
            save(im, fp, *args, **kwargs)
            Path(fp).write_bytes(Path(fp).read_bytes()[:50])
            raise OSError(errno.ENOSPC, "No space left on device")
        return save(im, fp, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", full)
    with pytest.raises(OSError, match="No space left"):
        TranslateTab(engine).translate([str(_png(tmp_path / "photo.png", 24, 20))], engine.models()[0].key, "BtoA")
    left = [p for p in engine.outputs.rglob("*") if p.is_file()]
    assert [p.name for p in left] == ["photo_input.png"]  # the input shown, whole; nothing of the translation
    Image.open(left[0]).load()


def test_translate_says_the_uploads_it_left_out_when_the_job_then_fails(engine, tmp_path):
    """The uploads Translate left out were pop-ups at the job's end: a job that then failed (its model gone, a
    later image's error) showed its error alone, and the visitor never learnt which uploads were skipped. Now they
    are said before the error."""
    from cyclegan.web.translate_tab import TranslateTab

    tab = TranslateTab(engine)
    (tmp_path / "notes.png").write_text("hello")
    good = _png(tmp_path / "photo.png", 24, 20)
    with (
        pytest.warns(UserWarning, match="^notes.png is not an image"),
        pytest.raises(CycleGANError, match="not offered"),
    ):
        tab.translate([str(tmp_path / "notes.png"), str(good)], "a model since deleted", "AtoB")


def test_translate_names_no_server_path_in_its_left_out_uploads(engine, tmp_path, monkeypatch):
    """An upload's reason may name its path in Gradio's folder (an OSError's, `[Errno 5] ...: '/tmp/.../x.png'`):
    the page's errors wrote it as its last part, while the Cancel's line and the end-of-job pop-ups showed the
    server's path. Now every line the visitor sees goes through the same scrubbing."""
    import errno

    import cyclegan.data.io as io
    from cyclegan.web.translate_tab import TranslateTab

    tab, key = TranslateTab(engine), engine.models()[0].key
    uploads = tmp_path / "gradio" / "0f3a9c"
    uploads.mkdir(parents=True)
    bad, good = _png(uploads / "disk.png", 24, 20), _png(uploads / "photo.png", 24, 20)
    to_srgb, calls = io.to_srgb, []

    def failing(im):  # the first upload's read fails as the OS names it: with the file's path
        calls.append(im)
        if len(calls) == 1:
            raise OSError(errno.EIO, "Input/output error", str(bad))
        return to_srgb(im)

    monkeypatch.setattr(io, "to_srgb", failing)
    live = tab.translate_live([str(bad), str(good)], key, "AtoB", SimpleNamespace(session_hash="s"))
    next(live)  # the photo done: the Cancel would say this line now
    said = tab.stops._flags["s"].said
    assert "disk\\.png cannot be decoded" in said and "Input\\/output error" in said  # Markdown, escaped
    assert uploads.name not in said and tmp_path.name not in said  # its folders: none of the path's parts
    with pytest.warns(UserWarning, match="disk.png cannot be decoded") as popped:
        list(live)
    assert str(uploads) not in str(popped[0].message)


def test_translate_and_compare_say_an_uploads_transparency_was_put_on_white(engine, tmp_path):
    """Translate and Compare put a transparent upload on white (the networks take RGB, as `cyclegan translate` and
    `cyclegan compare` read it) and said nothing: a cut-out came back on white with no word of its alpha. Now its
    row (Translate) and the table (Compare) say so; an opaque image with an alpha channel is not named."""
    from cyclegan.web.compare_tab import CompareTab
    from cyclegan.web.translate_tab import ON_WHITE, TranslateTab

    rgba = np.full((20, 24, 4), 200, np.uint8)
    rgba[:10, :, 3] = 0  # its top half transparent: a cut-out
    Image.fromarray(rgba).save(tmp_path / "cutout.png")
    rgba[..., 3] = 255
    Image.fromarray(rgba).save(tmp_path / "opaque.png")  # RGBA, every pixel opaque
    key = engine.models()[0].key
    *_, info = TranslateTab(engine).translate([str(tmp_path / "cutout.png"), str(tmp_path / "opaque.png")], key, "AtoB")
    assert f"| cutout\\.png | 24x20{ON_WHITE} |" in info and "| opaque\\.png | 24x20 |" in info
    style = str(_png(tmp_path / "style.png", 24, 24, seed=1))
    for photo, said in (("cutout.png", True), ("opaque.png", False)):
        _, table = CompareTab(engine).compare(str(tmp_path / photo), key, "AtoB", [style], "lite0", 32, 1)
        assert ("The photo's transparency was put on white" in table) is said


def test_outputs_named_after_long_or_right_to_left_upload_names_are_offered_as_they_read(engine, tmp_path):
    """An upload's name may take the file system's 255 bytes: Translate's `NAME_input.png` and Style's
    `NAME_stylised.png` were then an internal error ("File name too long"). A right-to-left override in a name
    reversed the download's name on the page (`x\u202e_AtoB.png` read `x_BotA.png`). Now each output's stem is cut
    to fit and such characters are "_" in it (the table and the captions write them as escapes)."""
    from cyclegan.web.style_tab import StyleTab
    from cyclegan.web.translate_tab import TranslateTab

    long, rtl = _png(tmp_path / ("y" * 246 + ".png"), 24, 20), _png(tmp_path / "x\u202e.png", 24, 20)
    gallery, downloads, _ = TranslateTab(engine).translate([str(long), str(rtl)], engine.models()[0].key, "AtoB")
    names = [Path(d).name for d in downloads]
    assert names[0].endswith("_AtoB.png") and names[0].startswith("y" * 200) and len(os.fsencode(names[0])) <= 255
    assert names[1] == "x__AtoB.png" and gallery[2][1] == "x\\u202e.png (24x20)"
    style = str(_png(tmp_path / "style.png", 24, 24, seed=1))
    *_, (image, line, download) = StyleTab(engine).stylize_live(str(long), [style], "lite0", 32, 2, None)
    assert line.startswith("done:") and Path(download).name.endswith("_stylised.png")


def test_uploads_whose_output_names_would_be_one_file_each_get_their_own(engine, tmp_path):
    """The outputs' stems were told apart (`unique_stems`) before the characters that hide a name became "_" and
    before the stem was cut to fit `_AtoB.png`: `x\u202e.png` and `x_.png`, or two 250-byte names differing at
    their ends, were both written as one file, the second over the first (both rows offered the second's)."""
    from cyclegan.web.translate_tab import TranslateTab

    uploads = [
        _png(tmp_path / "x\u202e.png", 24, 20, seed=1),
        _png(tmp_path / "x_.png", 24, 20, seed=2),
        _png(tmp_path / ("y" * 246 + "1.png"), 24, 20, seed=3),
        _png(tmp_path / ("y" * 246 + "2.png"), 24, 20, seed=4),
    ]
    gallery, downloads, _ = TranslateTab(engine).translate(list(map(str, uploads)), engine.models()[0].key, "AtoB")
    assert len(set(downloads)) == 4 and len({shown for shown, _ in gallery}) == 8
    assert all(len(os.fsencode(Path(d).name)) <= 255 for d in downloads)


def test_a_clip_named_to_the_file_systems_limit_is_translated_in_the_video_tab(engine, tmp_path):
    """Video named its output `NAME_AtoB.gif` after a clip whose name took the file system's 255 bytes, and refused
    the clip: "cannot write NAME_AtoB.gif: File name too long". Now the stem is cut to fit, as Translate's and
    Style's are."""
    pytest.importorskip("av", reason="PyAV is not installed (pip install -e '.[video]')")
    from cyclegan.web.video_tab import VideoTab

    clip = tmp_path / ("v" * 250 + ".gif")
    frames = [Image.fromarray(np.full((20, 24, 3), 60 * i, np.uint8)) for i in range(3)]
    frames[0].save(clip, save_all=True, append_images=frames[1:], duration=100)
    _, target, line = VideoTab(engine).translate(str(clip), engine.models()[0].key, "AtoB", False, 0.0)
    assert Path(target).name.endswith("v_AtoB.gif") and len(os.fsencode(Path(target).name)) == 255
    assert "3 frames of 24x20" in line


def test_an_animated_upload_in_translate_is_sent_to_the_video_tab(engine, tmp_path):
    """Translate took an animated GIF or WebP and translated its first frame alone, without a word (the
    Python API refuses one for that reason: it is a clip). Now Translate names it and points at the Video
    tab, and translates the other uploads."""
    from cyclegan.web.translate_tab import TranslateTab

    tab, key = TranslateTab(engine), engine.models()[0].key
    frames = [Image.fromarray(np.full((20, 24, 3), 60 * i, np.uint8)) for i in range(3)]
    for suffix in (".gif", ".webp"):
        clip = tmp_path / f"walk{suffix}"
        frames[0].save(clip, save_all=True, append_images=frames[1:], duration=100)
        with pytest.raises(CycleGANError, match=f"walk{suffix} is an animated image of 3 frames, a clip: translate"):
            tab.translate([str(clip)], key, "AtoB")
    still = tmp_path / "still.gif"
    frames[0].save(still)  # one frame: an image
    photo = _png(tmp_path / "photo.png", 24, 20)
    _, downloads, _ = tab.translate([str(tmp_path / "walk.gif"), str(still), str(photo)], key, "AtoB")
    assert [Path(d).name for d in downloads] == ["still_AtoB.png", "photo_AtoB.png"]

    # An animated PNG or a multi-page TIFF has no place in Video: its first frame is translated, and the others
    # are named as left out (they went without a word).
    frames[0].save(tmp_path / "walk.png", save_all=True, append_images=frames[1:], duration=100)
    with pytest.warns(UserWarning, match="^walk.png holds 3 frames .pages.; only the first is translated, the other 2"):
        _, downloads, _ = tab.translate([str(tmp_path / "walk.png")], key, "AtoB")
    assert [Path(d).name for d in downloads] == ["walk_AtoB.png"]


def test_a_multi_page_tiff_upload_is_said_in_the_page_and_not_in_the_api_s_words_in_the_log(engine, tmp_path, capsys):
    """A multi-page TIFF translated in the page wrote "warning: images[0] is animated: only its current frame is
    translated (a clip: translate_video)" to the server's log: the Python API's words, about a list the operator
    never made and a function the page does not offer, and a TIFF is no clip. The page's warning names it alone."""
    from cyclegan.web.translate_tab import TranslateTab

    pages = [Image.fromarray(np.full((20, 24, 3), 60 * i, np.uint8)) for i in range(3)]
    pages[0].save(tmp_path / "scan.tif", save_all=True, append_images=pages[1:])
    with pytest.warns(UserWarning, match="^scan.tif holds 3 frames .pages.; only the first is translated, the other 2"):
        _, downloads, _ = TranslateTab(engine).translate([str(tmp_path / "scan.tif")], engine.models()[0].key, "AtoB")
    assert [Path(d).name for d in downloads] == ["scan_AtoB.png"]
    assert "images[0]" not in capsys.readouterr().err


def test_a_thin_upload_is_bounded_by_the_work_its_padding_costs(tmp_path, run):
    """--max-pixels bounded an upload's pixels, not the work: the generator pads each side to its multiple and
    least size, so a 25,000,000 x 1 PNG (25 MP in a few kB) ran as 8 rows through a ResNet, 512 through a U-Net
    (a hostile probe). Now an image whose padded size is over the limit is named and the others translated; a
    clip of such frames is refused before any frame is translated."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.web.engine import Engine
    from cyclegan.web.serve import ServeOptions
    from cyclegan.web.translate_tab import TranslateTab

    engine = Engine(ServeOptions(runs=(str(run),), device="cpu", max_pixels=2000), [], tmp_path / "work")
    tab, key = TranslateTab(engine), engine.models()[0].key
    thin, square = _png(tmp_path / "thin.png", 1000, 1), _png(tmp_path / "square.png", 40, 40)  # 1000 and 1600 px
    with pytest.raises(CycleGANError, match=r"thin.png is 1000x1 pixels, which this model pads to 1000x8 \(0.0 MP\)"):
        tab.translate([str(thin)], key, "AtoB")
    _, downloads, _ = tab.translate([str(thin), str(square)], key, "AtoB")
    assert [Path(d).name for d in downloads] == ["square_AtoB.png"]
    from cyclegan.models.unet import UnetGenerator

    unet = UnetGenerator(num_downs=5, ngf=4)  # pads itself to multiples of 32, at least 32 px
    engine.check_cost(unet, "small.png is", 30, 30)  # 32 x 32 padded: 1024 px, under 2000
    with pytest.raises(CycleGANError, match="tall.png is 1x50 pixels, which this model pads to 32x64"):
        engine.check_cost(unet, "tall.png is", 1, 50)

    pytest.importorskip("av", reason="PyAV is not installed (pip install -e '.[video]')")
    from cyclegan.clipio import write_clip
    from cyclegan.web.video_tab import VideoTab

    clip = write_clip(tmp_path / "thin.gif", [np.full((1, 1000, 3), 40 * i, np.uint8) for i in range(2)], rate=25)
    with pytest.raises(CycleGANError, match="thin.gif's frames are 1000x1 pixels, which this model pads to 1000x8"):
        VideoTab(engine).translate(str(clip), key, "AtoB", False, 0.0)
    assert not (engine.outputs.exists() and any(engine.outputs.rglob("thin_AtoB.gif")))


def test_a_job_takes_at_most_max_images(tmp_path, run, monkeypatch):
    """A request may name one upload any number of times: 10,000 of a 25 MP image in one Translate job (or as
    style images) held the one heavy queue for hours (a hostile probe). Now a job of more than --max-images is
    refused in one line before any image is decoded."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    import re

    from cyclegan.web.engine import Engine
    from cyclegan.web.serve import ServeOptions
    from cyclegan.web.translate_tab import TranslateTab

    engine = Engine(ServeOptions(runs=(str(run),), device="cpu", max_images=2), [], tmp_path / "work")
    tab, key = TranslateTab(engine), engine.models()[0].key
    photo = str(_png(tmp_path / "photo.png", 16, 16))
    _, downloads, _ = tab.translate([photo, photo], key, "AtoB")
    assert len(downloads) == 2
    monkeypatch.setattr(engine, "image", lambda path: pytest.fail("an image was decoded"))
    limit = re.escape("over this server's limit of 2 (cyclegan serve --max-images); send them in several")
    with pytest.raises(CycleGANError, match=f"^3 images in one job, {limit}"):
        tab.translate([photo] * 3, key, "AtoB")
    with pytest.raises(CycleGANError, match=f"^3 style images in one job, {limit}"):
        engine.references([photo] * 3, 64)


def images_alive(engine, monkeypatch) -> tuple[list, list[int]]:
    """Count the images `engine.image` decodes: (a weak reference to each, how many were alive after each)."""
    import weakref

    decoded, most = [], []
    image = engine.image

    def counted(path, **kwargs):  # keep_mode: the Style tab's content keeps its alpha
        im = image(path, **kwargs)
        decoded.append(weakref.ref(im))
        most.append(sum(r() is not None for r in decoded))
        return im

    monkeypatch.setattr(engine, "image", counted)
    return decoded, most


def test_translate_decodes_one_upload_at_a_time(engine, tmp_path, monkeypatch):
    """Translate decoded every upload before translating the first: 200 PNGs of 25 MP (the per-image limit;
    a plain one is a few kB) were 15 GB of pixels at once. Now an upload is decoded when its turn comes,
    and at most the one before it is still alive."""
    from cyclegan.web.translate_tab import TranslateTab

    decoded, most = images_alive(engine, monkeypatch)
    uploads = [str(_png(tmp_path / f"photo_{i}.png", 24, 20, seed=i)) for i in range(5)]
    (tmp_path / "notes.png").write_text("hello")
    _, downloads, _ = TranslateTab(engine).translate(
        [*uploads[:2], str(tmp_path / "notes.png"), *uploads[2:]], engine.models()[0].key, "AtoB"
    )
    assert len(downloads) == 5 and len(decoded) == 5
    assert max(most) <= 2


def test_style_references_are_scaled_as_each_is_decoded(engine, tmp_path, monkeypatch):
    """Style transfer and Compare decoded every style upload at full size before scaling any: 100 uploads of
    25 MP were 7.5 GB of pixels at once. Now each is scaled to the tab's long side as it is decoded, which
    is what Gatys and the Gram distance do with it anyway: the tensors they use are the same."""
    import torch

    from cyclegan.style import load_image_01

    decoded, most = images_alive(engine, monkeypatch)
    uploads = [_png(tmp_path / f"style_{i}.png", 90, 60 + 7 * i, seed=i) for i in range(4)]
    refs = engine.references([str(u) for u in uploads], 64)
    assert max(most) <= 2 and [max(r.size) for r in refs] == [64] * 4
    for ref, upload in zip(refs, uploads, strict=True):
        assert torch.equal(load_image_01(ref, 64), load_image_01(Image.open(upload), 64))

    # and the two tabs use it: stopped where the backbone loads, after the references are read
    from cyclegan.web.compare_tab import CompareTab
    from cyclegan.web.style_tab import StyleTab

    def stop(backbone):
        raise CycleGANError("stopped here")

    monkeypatch.setattr(engine, "style_backbones", stop)
    styles, photo = [str(u) for u in uploads], str(_png(tmp_path / "photo.png", 40, 30))
    for tab_call in (
        lambda: next(StyleTab(engine).stylize_live(photo, styles, "lite0", 64, 10, None)),
        lambda: CompareTab(engine).compare(photo, engine.models()[0].key, "AtoB", styles, "lite0", 64, 10),
    ):
        decoded.clear(), most.clear()
        with pytest.raises(CycleGANError, match="stopped here"):
            tab_call()
        assert len(decoded) == 5 and max(most) <= 2


def test_concurrent_identical_translations_get_files_of_their_own(engine, tmp_path):
    """12 identical requests at once: every image the page is handed (input shown and output) is a file of
    that request's own, and all stay intact. Before: the input went to Gradio as a PIL image, saved into a
    cache file named by its content, so identical requests rewrote one file while others streamed it (30
    concurrent requests to `cyclegan serve`: 9 of 90 answers cut short)."""
    from concurrent.futures import ThreadPoolExecutor

    from cyclegan.web.translate_tab import TranslateTab

    tab = TranslateTab(engine)
    key = engine.models()[0].key
    upload = _png(tmp_path / "photo.png", 40, 30)
    (tmp_path / "other").mkdir()
    twin = _png(tmp_path / "other" / "photo.png", 40, 30, seed=1)  # same name, other image, same request
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: tab.translate([str(upload), str(twin)], key, "AtoB"), range(12)))
    files = [entry for gallery, _, _ in answers for entry, _ in gallery]
    assert all(isinstance(f, str) for f in files) and len(set(files)) == len(files) == 12 * 4
    assert len({Path(f).parent for f in files}) == 12  # one folder per request
    first = [np.asarray(Image.open(f)) for f, _ in answers[0][0]]
    assert np.array_equal(first[0], np.asarray(Image.open(upload)))  # the input as shown
    assert not np.array_equal(first[1], first[3])  # the twin's output is its own, not overwritten
    for gallery, downloads, _ in answers:
        assert downloads == [gallery[1][0], gallery[3][0]]
        for (f, _), expected in zip(gallery, first, strict=True):
            assert np.array_equal(np.asarray(Image.open(f)), expected)


def test_concurrent_jobs_on_one_model_do_not_mix_their_tiles(engine, tmp_path, monkeypatch):
    """Translation in tiles swaps the InstanceNorm layers of the loaded generator for the thumbnail's
    statistics while it runs: with --concurrency 2, two visitors' large images on one model took each
    other's statistics (outputs off by up to 255 grey levels) or failed with an AttributeError, as one job put
    back the layers the other had swapped (a hostile probe). Now a model runs one job at a time."""
    import functools
    import threading

    import cyclegan.inference as inference
    from cyclegan.web.translate_tab import TranslateTab

    tiled = functools.partial(inference.translate, tile=96, tile_overlap=16, thumbnail=64)  # as a large image
    monkeypatch.setattr(inference, "translate", tiled)
    tab, key = TranslateTab(engine), engine.models()[0].key
    rng = np.random.default_rng(0)
    uploads = [tmp_path / "noise.png", tmp_path / "red.png"]
    Image.fromarray(rng.integers(0, 255, (160, 160, 3), dtype=np.uint8)).save(uploads[0])
    Image.fromarray(np.full((160, 160, 3), (200, 30, 30), np.uint8)).save(uploads[1])
    alone = [np.asarray(Image.open(tab.translate([str(u)], key, "AtoB")[1][0])) for u in uploads]

    def job(i: int, answers: list) -> None:
        answers[i] = np.asarray(Image.open(tab.translate([str(uploads[i])], key, "AtoB")[1][0]))

    for _ in range(3):
        answers: list = [None, None]
        threads = [threading.Thread(target=job, args=(i, answers), daemon=True) for i in range(2)]
        for t in threads:
            t.start()
        joined(*threads)
        for answer, expected in zip(answers, alone, strict=True):
            assert answer is not None and np.array_equal(answer, expected)


def test_concurrent_gatys_jobs_on_one_backbone_do_not_count_each_other_s_features(engine, tmp_path, monkeypatch):
    """Gatys estimates its memory by hooking every layer of its backbone for a pass on a small probe; the Style
    and Compare tabs share one backbone, so with --concurrency 2 a job's probe also counted the feature maps of
    the job beside it (at its full size) and refused itself as needing many times its memory. Now one backbone
    runs one job at a time, as a generator does (`Engine.using`). Here `stylize` is its memory probe beside a
    job's forward passes, on a tiny backbone."""
    import threading
    from types import SimpleNamespace

    import torch

    from cyclegan import style
    from cyclegan.style.gatys import feature_bytes_per_pixel
    from cyclegan.web.style_tab import StyleTab

    class Slow(torch.nn.Module):  # a probe's pass that takes a while, as a real backbone's does
        def forward(self, x):
            if x.shape[-1] <= 64:
                time.sleep(0.05)
            return x

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), Slow(), torch.nn.ReLU())
    alone = feature_bytes_per_pixel(net)[1]
    monkeypatch.setattr(engine, "style_backbones", lambda name: ("lite0", net, None))
    running, probed, probes = threading.Event(), threading.Event(), []

    def stylize(content, styles, options, *, net, **_):
        if options.size == 96:  # the first job: full-size passes until the other has probed (or 300 of them)
            running.set()
            for _ in range(300):
                with torch.no_grad():
                    net(torch.zeros(1, 3, 256, 256))
                if probed.is_set():
                    break
        else:
            running.wait(10)
            probes.append(feature_bytes_per_pixel(net)[1])
            probed.set()
        image = Image.new("RGB", (8, 8))  # `transparent`: what the tab saves (the image itself, without an alpha)
        return SimpleNamespace(image=image, transparent=image, seconds=0.0, backbone="lite0", interrupted=False)

    monkeypatch.setattr(style, "stylize", stylize)
    tab = StyleTab(engine)
    content, ref = str(_png(tmp_path / "c.png", 16, 16)), str(_png(tmp_path / "s.png", 16, 16, seed=1))

    def job(size: int, session: str) -> None:
        list(tab.stylize_live(content, [ref], "lite0", size, 10, SimpleNamespace(session_hash=session)))

    first = threading.Thread(target=job, args=(96, "a"), daemon=True)
    first.start()
    assert running.wait(10)
    job(64, "b")
    joined(first)
    assert probes == [alone]


def test_a_model_loading_holds_up_no_other_job(engine, monkeypatch):
    """A model was loaded under the engine's one lock, so while one job loaded a checkpoint (seconds) every
    other job waited, on any model, with --concurrency 2: a job's start (`using`) and another model's load.
    Now a load holds up only the jobs waiting for that same model."""
    import threading

    from cyclegan import loading

    key = engine.models()[0].key
    G = engine.generator(key, "AtoB")  # loaded, as a running job's model is
    real, release, started = loading.load_generator, threading.Event(), threading.Event()

    def slow(path, direction, **kw):
        if direction == "BtoA":
            started.set()
            release.wait(30)
        return real(path, direction, **kw)

    monkeypatch.setattr(loading, "load_generator", slow)
    engine._generators.clear()  # the AtoB model to be loaded again, beside the slow one
    other = threading.Thread(target=engine.generator, args=(key, "BtoA"))
    other.start()
    try:
        assert started.wait(30)
        done = threading.Event()

        def job() -> None:
            with engine.using(G):
                engine.generator(key, "AtoB")
            done.set()

        threading.Thread(target=job, daemon=True).start()
        assert done.wait(20), "a job waited for another model's load"
    finally:
        release.set()
        joined(other)


def test_a_replaced_checkpoint_is_loaded_again(engine, run):
    key, path = engine.models()[0].key, engine.models()[0].path
    first = engine.generator(key, "AtoB")
    assert engine.generator(key, "AtoB") is first  # cached
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # as if training saved a newer one
    try:
        assert engine.generator(key, "AtoB") is not first
    finally:
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_translate_says_a_model_read_again_after_its_file_changed_was_loaded_now(engine, run, tmp_path):
    """Translate said "(already loaded)" when loading took under 0.05 s: a tiny model read again after its run saved a
    newer checkpoint was said to be already loaded. Now the engine says whether it loaded."""
    from cyclegan.web.translate_tab import TranslateTab

    tab, key, path = TranslateTab(engine), engine.models()[0].key, engine.models()[0].path
    photo = str(_png(tmp_path / "photo.png", 16, 16))
    assert tab.translate([photo], key, "AtoB")[2].endswith("(loaded now)")
    assert tab.translate([photo], key, "AtoB")[2].endswith("(already loaded)")
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # as if training saved a newer one
    try:
        assert "(loaded now)" in tab.translate([photo], key, "AtoB")[2]  # and said as changed: the file was touched
    finally:
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_a_result_names_the_model_that_made_it(tmp_path, run):
    """A visitor who chose another model while a job ran saw its result under the new choice, and nothing said which
    model made it (Translate's caption said "model ready in 0.00 s"; Video's line, the frames and seconds). Now
    Translate's caption and Video's line name the model and direction the job ran."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    pytest.importorskip("av", reason="PyAV is not installed (pip install -e '.[video]')")
    from cyclegan.web.engine import Engine
    from cyclegan.web.serve import ServeOptions
    from cyclegan.web.translate_tab import TranslateTab
    from cyclegan.web.video_tab import VideoTab

    for name in ("r", "s"):
        shutil.copytree(run, tmp_path / "runs" / name)
    engine = Engine(ServeOptions(runs=(str(tmp_path / "runs"),), device="cpu"), [], tmp_path / "work")
    photo, clip = str(_png(tmp_path / "photo.png", 16, 16)), str(_animated(tmp_path / "walk.gif", 2))
    for key, direction in (("runs/r", "AtoB"), ("runs/s", "BtoA")):
        said = rf"translated {direction} by runs\/{key[-1]}"  # as Markdown shows it: runs/r
        assert f"{said}; model ready in " in TranslateTab(engine).translate([photo], key, direction)[2]
        assert f"2 frames of 40x50 {said} in " in VideoTab(engine).translate(clip, key, direction, False, 0.0)[2]


def test_a_job_that_waited_for_another_jobs_load_of_its_model_says_it_was_loaded_now(engine, monkeypatch):
    """Of two jobs asking for a model not loaded yet, the second waited out the first's load (seconds), then was
    told the model was kept: Translate said "model ready in 2.30 s (already loaded)". Both were loaded for."""
    import threading

    from cyclegan import loading

    key = engine.models()[0].key
    real, second_waits, entered = loading.load_generator, threading.Event(), []

    class Counted:  # the model's load lock, which says when the second job waits on it
        def __init__(self):
            self.lock = threading.Lock()

        def __enter__(self):
            entered.append(1)
            if len(entered) == 2:
                second_waits.set()
            self.lock.acquire()

        def __exit__(self, *exc):
            self.lock.release()

    def slow(path, direction, **kw):
        assert second_waits.wait(30)
        return real(path, direction, **kw)

    monkeypatch.setattr(loading, "load_generator", slow)
    engine._loading[(engine.model_path(key), "AtoB")] = Counted()
    said = []
    jobs = [
        threading.Thread(target=lambda: said.append(engine.ready(key, "AtoB").loaded), daemon=True) for _ in range(2)
    ]
    for job in jobs:
        job.start()
    for job in jobs:
        joined(job)
    assert said == [True, True]
    assert engine.ready(key, "AtoB").loaded is False  # kept: found, not loaded


def test_a_checkpoint_caught_mid_rewrite_keeps_the_model_loaded_before(tmp_path, run):
    """A checkpoint caught mid-rewrite (a run saving while the page loads it, a copy still arriving) was refused with
    no fallback: the page lost a model it had served, at every job until the file was whole. Now the model loaded
    before serves on, said once for that file ("kept the model loaded at step N"), and the whole file is loaded."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.web.engine import Engine
    from cyclegan.web.serve import ServeOptions

    shutil.copytree(run, copy := tmp_path / "runs" / "r")
    engine = Engine(ServeOptions(runs=(str(copy.parent),), device="cpu"), [], tmp_path / "work")
    key, path = engine.models()[0].key, copy / "checkpoint.pt"
    first = engine.generator(key, "AtoB")
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])  # half written
    with pytest.warns(UserWarning, match=r"^cannot read checkpoint runs/r: .*; kept the model loaded at step 2$"):
        assert engine.ready(key, "AtoB") == (first, False, "")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once, not at each job
        assert engine.generator(key, "AtoB") is first
    path.write_bytes(whole)  # written whole: loaded
    assert engine.ready(key, "AtoB").loaded and engine.generator(key, "AtoB") is not first
    assert engine.generator(key, "BtoA") is not None
    path.write_bytes(b"")  # never loaded in this direction before: refused as before
    engine._generators.clear()
    with pytest.raises(CycleGANError, match="^cannot read checkpoint runs/r: "):
        engine.generator(key, "BtoA")


def test_a_checkpoint_replaced_by_another_whole_one_is_loaded_said_or_refused_not_kept(tmp_path, run, capsys):
    """A checkpoint replaced by a different whole one (another run's, copied over it) was loaded without a word, and
    where it held no generator for the direction asked (a CUT run's, one-way) the page said "kept the model loaded at
    step 2" and served on a model no file held any more. Now the change is said, and the missing direction refused."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.web.engine import Engine
    from cyclegan.web.serve import ServeOptions

    shutil.copytree(run, copy := tmp_path / "runs" / "r")
    engine = Engine(ServeOptions(runs=(str(copy.parent),), device="cpu"), [], tmp_path / "work")
    key, path = engine.models()[0].key, copy / "checkpoint.pt"
    first, back = engine.generator(key, "AtoB"), engine.generator(key, "BtoA")
    _tiny_checkpoint(other := tmp_path / "other.pt", ngf=16)  # another architecture, saved at step 1
    os.replace(other, path)
    capsys.readouterr()
    assert engine.ready(key, "AtoB").loaded and engine.generator(key, "AtoB") is not first
    assert "runs/r: its checkpoint changed since it was loaded (step 2); AtoB loaded again from it (step 1)" in (
        capsys.readouterr().err
    )
    _tiny_checkpoint(other, family="cut", nce_num_patches=16, nce_mlp_dim=8)  # A to B only
    os.replace(other, path)
    key = engine.models()[0].key  # listed anew as what the file holds: "runs/r (AtoB only)"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "kept the model loaded at step 2"
        with pytest.raises(CycleGANError, match=r"^runs/r \(AtoB only\): this cut model translates A to B only"):
            engine.generator(key, "BtoA")
    assert all(net is not back for _, net in engine._generators.values())  # not served on


def test_the_servers_log_lines_to_a_closed_or_missing_stderr_leave_each_jobs_answer_as_it_was(
    tmp_path, run, monkeypatch, capsys
):
    """The server's log lines (a page's refusal, an internal error's traceback, a served checkpoint that changed)
    were printed straight to sys.stderr: a server started from Python with its stderr closed answered a refusal
    with a ValueError in place of the page's one line, and failed the job that reloaded a changed checkpoint; with
    stderr None (pythonw) they went to stdout. Now they go through the one writer (`progress.print_line`): nothing
    is logged there and each job is answered as before; an open stderr still has them."""
    gr = pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.web.engine import Engine, user_errors
    from cyclegan.web.serve import ServeOptions

    def fails(kind):
        raise CycleGANError("x.png is empty (0 bytes)") if kind == "user" else KeyError("boom")

    shutil.copytree(run, copy := tmp_path / "runs" / "r")
    engine = Engine(ServeOptions(runs=(str(copy.parent),), device="cpu"), [], tmp_path / "work")
    key = engine.models()[0].key
    engine.generator(key, "AtoB")

    def jobs() -> None:
        with pytest.raises(gr.Error, match=r"x.png is empty \(0 bytes\)"):
            user_errors(fails)("user")
        with pytest.raises(gr.Error, match=r"internal error \(KeyError\); the details are in the server's log"):
            user_errors(fails)("bug")
        _tiny_checkpoint(other := tmp_path / "other.pt", ngf=16)  # another whole checkpoint, saved at step 1
        os.replace(other, copy / "checkpoint.pt")
        ready = engine.ready(key, "AtoB")
        assert ready.loaded and ready.changed.startswith("the model's checkpoint changed since it was loaded (step ")

    for stream in unwritable_stderrs():
        with monkeypatch.context() as m:
            m.setattr(sys, "stderr", stream)
            jobs()
    assert capsys.readouterr().out == ""
    jobs()
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "refused: x.png is empty (0 bytes)" and err[1] == "Traceback (most recent call last):", err
    assert "KeyError: 'boom'" in err
    assert err[-1] == "runs/r: its checkpoint changed since it was loaded (step 1); AtoB loaded again from it (step 1)"


def test_a_checkpoint_saved_again_while_served_is_said_in_the_result_not_in_a_pop_up_per_job(
    tmp_path, run, monkeypatch
):
    """A run still training and served saves a new checkpoint every --save-every steps: each job that found one said
    "its checkpoint changed since it was loaded" in a pop-up, with a small --save-every one per translation. Now
    the result's caption says it, for the job that loaded the new file only; no pop-up."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    import gradio as gr
    import torch

    from cyclegan.web.engine import Engine
    from cyclegan.web.serve import ServeOptions
    from cyclegan.web.translate_tab import TranslateTab
    from cyclegan.web.video_tab import VideoTab

    shutil.copytree(run, copy := tmp_path / "runs" / "r")
    engine = Engine(ServeOptions(runs=(str(copy.parent),), device="cpu"), [], tmp_path / "work")
    tab, key, photo = TranslateTab(engine), engine.models()[0].key, str(_png(tmp_path / "photo.png", 16, 16))
    pop_ups = []
    monkeypatch.setattr(gr, "Info", pop_ups.append)
    monkeypatch.setattr(gr, "Warning", pop_ups.append)
    assert tab.translate([photo], key, "AtoB")[2].endswith("(loaded now)")  # its first load: nothing changed
    for before, step in ((2, 7), (7, 8)):  # the run saves again between two jobs
        ckpt = torch.load(copy / CHECKPOINT_NAME, weights_only=True)
        torch.save({**ckpt, "step": step}, saving := tmp_path / "saving.pt")
        os.replace(saving, copy / CHECKPOINT_NAME)
        assert tab.translate([photo], key, "AtoB")[2].endswith(
            f"(loaded now); the model's checkpoint changed since it was loaded (step {before}); AtoB loaded again "
            f"from it (step {step})"
        )
    assert tab.translate([photo], key, "AtoB")[2].endswith("(already loaded)")  # said once per new checkpoint
    if importlib.util.find_spec("av") is not None:  # the Video tab's line says it too
        torch.save({**ckpt, "step": 9}, saving)
        os.replace(saving, copy / CHECKPOINT_NAME)
        line = VideoTab(engine).translate(str(_animated(tmp_path / "walk.gif", 2)), key, "AtoB", False, 0.0)[2]
        assert line.endswith(
            "frames/s); the model's checkpoint changed since it was loaded (step 8); AtoB loaded again from it (step 9)"
        )
    assert pop_ups == []


def test_a_runs_checkpoint_replaced_by_a_one_way_file_is_offered_in_its_one_direction(tmp_path, run):
    """A served run's checkpoint.pt replaced by a CUT run's (A to B only) was still listed both ways (directions read
    from the run's config.json), so the direction radio offered BtoA, which failed when chosen. Now it is listed
    from the file's own config, as "(AtoB only)", and only AtoB is offered for it. A page opened before, still
    holding "runs/r", was then asked to choose the model again: the old name now still means the run's file."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.web.engine import Engine
    from cyclegan.web.serve import ServeOptions

    shutil.copytree(run, copy := tmp_path / "runs" / "r")
    engine = Engine(ServeOptions(runs=(str(copy.parent),), device="cpu"), [], tmp_path / "work")
    key = engine.models()[0].key
    assert engine.directions(key) == ["AtoB", "BtoA"]
    known = (engine.model_choices(), list(engine.runs()))
    _tiny_checkpoint(other := tmp_path / "other.pt", family="cut", nce_num_patches=16, nce_mlp_dim=8)
    os.replace(other, copy / "checkpoint.pt")
    assert [(m.label, m.directions) for m in engine.models()] == [("runs/r (AtoB only)", ("AtoB",))]
    # a page not refreshed yet sends the old name: the same run, in its one direction
    assert engine.directions(key) == ["AtoB"]
    assert engine.ready(key, "AtoB").net is engine.generator("runs/r (AtoB only)", "AtoB")
    # the page's lists are refreshed: its choice moves to the run's new name (the direction radio follows it)
    update = engine.refresh_lists(known, key, None)[0]
    assert update["choices"] == [("runs/r (AtoB only)", "runs/r (AtoB only)")]
    assert update["value"] == "runs/r (AtoB only)"
    assert engine.directions("runs/r (AtoB only)") == ["AtoB"]
    shutil.rmtree(copy)  # the run deleted: neither name means anything any more
    with pytest.raises(CycleGANError, match="^that model is not offered any more; choose one from the list$"):
        engine.generator(key, "AtoB")
    assert engine.model("runs/r (AtoB only)") is None


def test_a_checkpoint_replaced_by_one_of_the_same_size_and_time_is_loaded_again(engine, run):
    """The page noticed a new checkpoint by its modification time and size only: one copied in with its times
    kept (`cp -p`, `rsync -t`) and renamed over the old, of the same size (a run's checkpoints of one
    architecture often are), left the old model in use. Now the file's identity and change time count too."""
    key, path = engine.models()[0].key, Path(engine.models()[0].path)
    first = engine.generator(key, "AtoB")
    st = os.stat(path)
    saved = path.read_bytes()
    copy = path.with_name("copy.tmp")
    copy.write_bytes(saved)
    os.utime(copy, ns=(st.st_atime_ns, st.st_mtime_ns))  # the times kept, as cp -p does
    os.replace(copy, path)
    assert (os.stat(path).st_mtime_ns, os.stat(path).st_size) == (st.st_mtime_ns, st.st_size)
    assert engine.generator(key, "AtoB") is not first


def test_loaded_models_are_bounded_and_the_least_recently_used_is_freed(tmp_path, run, monkeypatch):
    """The loaded-model cache was never emptied: a visitor could load every run's checkpoint.pt and best.pt in
    both directions (a hostile probe). Now the MODELS_KEPT generators used last stay loaded; the least
    recently used is freed, and loaded again when it is used again."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.web import engine as engine_module
    from cyclegan.web.serve import ServeOptions

    monkeypatch.setattr(engine_module, "MODELS_KEPT", 2, raising=False)
    root = tmp_path / "runs"
    for name in ("a", "b"):
        shutil.copytree(run, root / name)
    engine = engine_module.Engine(ServeOptions(runs=(str(root),), device="cpu"), [], tmp_path / "work")
    a = engine.generator("runs/a", "AtoB")
    b = engine.generator("runs/b", "AtoB")
    assert engine.generator("runs/a", "AtoB") is a  # used again: now the most recent
    engine.generator("runs/a", "BtoA")  # a third: b, the least recently used, is freed
    assert len(engine._generators) == 2
    assert engine.generator("runs/a", "AtoB") is a and engine.generator("runs/b", "AtoB") is not b


def test_a_model_deleted_between_listing_and_loading_is_one_line(engine, tmp_path, monkeypatch):
    """A checkpoint deleted after the model list was read and before it was loaded (its run removed while a
    visitor pressed Translate) raised FileNotFoundError: "internal error" in the page. Now it is the line a
    model no longer offered gets."""
    from cyclegan.web.runs import Model

    gone = Model("gone", "gone", str(tmp_path / "deleted" / CHECKPOINT_NAME))
    monkeypatch.setattr(engine, "models", lambda: [gone])
    with pytest.raises(CycleGANError, match="not offered any more"):
        engine.generator("gone", "AtoB")


def test_the_page_config_names_models_and_never_holds_a_server_path(tmp_path, run):
    """Gradio's /config (public: any visitor fetches it) held each checkpoint's absolute path as the model
    dropdowns' choices and value (a hostile probe). Now the page holds names; the server maps them to files."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.web.app import build_app
    from cyclegan.web.runs import check_checkpoint_files
    from cyclegan.web.serve import ServeOptions

    runs = tmp_path / "runs"
    shutil.copytree(run, runs / "a" / "same")
    shutil.copytree(run, runs / "b" / "same")
    given = tmp_path / "given"
    shutil.copytree(run, given)
    opts = ServeOptions(runs=(str(runs),), checkpoint=(str(given),), device="cpu")
    app = build_app(opts, check_checkpoint_files(opts.checkpoint), tmp_path / "work")
    config = json.dumps(app.get_config_file(), default=lambda o: type(o).__name__)
    for secret in (str(tmp_path), str(tmp_path.resolve()), str(run), str(run.resolve())):
        assert secret not in config
    choices = [c["props"]["choices"] for c in app.get_config_file()["components"] if c["type"] == "dropdown"]
    assert [key for _, key in choices[0]] == ["runs/a/same", "runs/b/same", "given"]
    engine = app.engine
    assert engine.generator("given", "AtoB") is not None  # the name loads the file behind it
    with pytest.raises(CycleGANError, match="not offered"):  # a path sent as a key loads nothing
        engine.generator(str(given / CHECKPOINT_NAME), "AtoB")
    (given / CHECKPOINT_NAME).write_bytes(b"damaged")  # its errors name the model as the page does, too
    with pytest.raises(CycleGANError, match=r"^cannot read checkpoint given: not a file saved by torch.save") as e:
        engine.generator("given", "BtoA")  # never loaded: no model to keep serving
    assert str(tmp_path) not in str(e.value)
    with pytest.warns(UserWarning, match=r"^cannot read checkpoint given: .*; kept the model loaded at step 2$") as w:
        engine.generator("given", "AtoB")
    assert str(tmp_path) not in str(w[0].message)


def test_a_name_keeps_its_file_when_a_run_of_the_same_name_appears(tmp_path, run):
    """Names were numbered in the order runs were found, on each listing: a new run under the first --runs
    folder with the name of one under the second ("runs/x") took "runs/x" and moved the old one to
    "runs/x (2)", so a page listed before (or the Video tab's list, made at start) loaded the other model;
    and a run folder given as --runs took the name of a --checkpoint file. Now a name keeps its file for
    the server's life, and the new one is numbered."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.web.engine import Engine
    from cyclegan.web.runs import check_checkpoint_files
    from cyclegan.web.serve import ServeOptions

    first, second, itself = tmp_path / "a" / "runs", tmp_path / "b" / "runs", tmp_path / "x"
    for folder in (first, itself):
        folder.mkdir(parents=True)
    shutil.copytree(run, second / "x")
    shutil.copytree(run, tmp_path / "given" / "x")
    opts = ServeOptions(
        runs=(str(first), str(second), str(itself)), checkpoint=(str(tmp_path / "given" / "x"),), device="cpu"
    )
    engine = Engine(opts, check_checkpoint_files(opts.checkpoint), tmp_path / "work")
    before = {m.key: m.path for m in engine.models()}
    assert before == {
        "runs/x": str((second / "x" / CHECKPOINT_NAME).resolve()),
        "x": str((tmp_path / "given" / "x" / CHECKPOINT_NAME).resolve()),
    }
    assert engine.runs() == {"runs/x": second / "x"}

    shutil.copytree(run, first / "x")  # new runs, found before the old ones, of the same names
    shutil.copy(run / CHECKPOINT_NAME, itself / CHECKPOINT_NAME)
    after = {m.key: m.path for m in engine.models()}
    assert {k: after[k] for k in before} == before  # the old names: the same files
    assert after["runs/x (2)"] == str((first / "x" / CHECKPOINT_NAME).resolve())
    assert after["x (2)"] == str((itself / CHECKPOINT_NAME).resolve())
    assert engine.runs() == {"runs/x": second / "x", "runs/x (2)": first / "x", "x": itself}  # none hidden
    assert [key for _, key in engine.model_choices()] == ["runs/x (2)", "runs/x", "x (2)", "x"]

    (first / "x" / CHECKPOINT_NAME).write_bytes(b"damaged")  # so loading the wrong file would fail
    (itself / CHECKPOINT_NAME).write_bytes(b"damaged")
    assert engine.generator("runs/x", "AtoB") is not None and engine.generator("x", "AtoB") is not None
    with pytest.raises(CycleGANError, match=r"^cannot read checkpoint runs/x \(2\): not a file saved by torch"):
        engine.generator("runs/x (2)", "AtoB")
    with pytest.raises(CycleGANError, match="not offered"):  # a forged value still loads nothing
        engine.generator(str(first / "x" / CHECKPOINT_NAME), "AtoB")


def test_user_errors_turn_exceptions_into_one_line_messages(capsys):
    gr = pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.web.engine import user_errors

    def fails(kind):
        raise CycleGANError("x.png is empty (0 bytes)") if kind == "user" else KeyError("boom")

    def streams(kind):
        yield 1
        fails(kind)

    with pytest.raises(gr.Error, match=r"x.png is empty \(0 bytes\)"):
        user_errors(fails)("user")
    with pytest.raises(gr.Error, match="internal error \\(KeyError\\); the details are in the server's log"):
        user_errors(fails)("bug")
    assert "Traceback" in capsys.readouterr().err  # the server's log has it
    with pytest.raises(gr.Error, match="x.png is empty"):
        list(user_errors(streams)("user"))


def test_a_cancel_no_tab_caught_is_one_line_not_an_interrupt_of_the_server(capsys):
    """`Cancelled` is a KeyboardInterrupt (so that Gatys keeps its best image), which `user_errors`' `except
    Exception` let through: out of a handler, Gradio's server thread ended on it (its event loop re-raises a
    KeyboardInterrupt) and the page stopped answering every visitor. A Cancelled that no tab says in its own words
    is now the job's one line, as any handler's error."""
    gr = pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.web.engine import Cancelled, user_errors

    def stops():
        raise Cancelled

    def streams():
        yield 1
        stops()

    for handler in (user_errors(stops), lambda: list(user_errors(streams)())):
        try:
            handler()
            raised = None
        except BaseException as e:  # noqa: BLE001 - a KeyboardInterrupt must not end the test run
            raised = e
        assert isinstance(raised, gr.Error), repr(raised)
        assert raised.message == "the job was cancelled"
    assert "Traceback" not in capsys.readouterr().err  # no bug: the log has its one line


def test_a_name_in_a_pop_up_is_shown_as_text_not_as_html(tmp_path, run):
    """Gradio puts a pop-up's message in the page as HTML: a run folder named `<b id=x>BOLD<img src=y>` with a
    damaged checkpoint drew bold text and an image in the error (a hostile probe, in Chromium). Now the
    message is escaped, and the browser shows the name letter for letter."""
    gr = pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.web.engine import Engine, user_errors
    from cyclegan.web.serve import ServeOptions
    from cyclegan.web.translate_tab import TranslateTab

    name = "<b id=x>BOLD & co<img src=y>"
    damaged = tmp_path / "runs" / name
    shutil.copytree(run, damaged)
    (damaged / CHECKPOINT_NAME).write_bytes((run / CHECKPOINT_NAME).read_bytes()[:5000])
    engine = Engine(ServeOptions(runs=(str(tmp_path / "runs"),), device="cpu"), [], tmp_path / "work")
    translate = user_errors(TranslateTab(engine).translate)
    with pytest.raises(gr.Error) as e:
        translate([str(_png(tmp_path / "photo.png", 32, 32))], engine.models()[0].key, "AtoB")
    assert "runs/&lt;b id=x&gt;BOLD &amp; co&lt;img src=y&gt;: not a file saved by torch.save" in e.value.message
    assert "<" not in e.value.message


def test_errors_on_the_page_name_its_controls_not_command_line_flags(tmp_path):
    """The page showed `use --direction AtoB` for a one-direction model (a hostile probe): a visitor has no
    command line. Every handler's errors go through `user_errors`, which writes the flags its tab's controls set
    as their labels; the server's own options stay flags."""
    gr = pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")

    from cyclegan.web.app import build_app
    from cyclegan.web.serve import ServeOptions

    cut = tmp_path / "cut.pt"
    _tiny_checkpoint(cut, family="cut")
    app = build_app(ServeOptions(checkpoint=(str(cut),), device="cpu"), [cut], tmp_path / "work")
    translate = _handler(app, "translate_live")
    with pytest.raises(gr.Error) as e:
        # the file is read for its one direction: named so (its key), the direction the visitor may still change
        list(translate([str(_png(tmp_path / "photo.png", 32, 32))], "cut.pt (AtoB only)", "BtoA"))
    assert (
        str(e.value.message)
        == 'cut.pt (AtoB only): this cut model translates A to B only; use "direction (AtoB uses G, BtoA uses F)": AtoB'
    )

    from cyclegan.web.engine import on_page  # the one mechanism, over any message

    controls = {"--size": "long side (px)", "--tile": "tile"}
    assert (
        on_page("option '--size' must be > 0 and <= 4096, got 9", controls)
        == '"long side (px)" must be > 0 and <= 4096, got 9'
    )
    assert on_page("option '--tile' 5 is under 64 px", controls) == '"tile": 5 is under 64 px'
    kept = "over this server's limit (cyclegan serve --max-pixels); --tile-overlap 8"
    assert on_page(kept, controls) == kept  # not a control of the page: as it was


def test_old_uploads_and_outputs_are_deleted_and_one_upload_is_bounded(tmp_path, run, monkeypatch):
    """Uploads (and the page's outputs) stayed in the server's work folder for its whole life, and Gradio's
    upload endpoint takes any number of them (a hostile probe). Now Gradio's delete_cache removes each an hour
    (CACHE_KEPT_S) after it was made; Gradio refuses an upload over --max-upload-mb before storing it."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from datetime import datetime, timedelta

    from gradio import route_utils

    from cyclegan.web import app as app_module
    from cyclegan.web.serve import ServeOptions

    opts = ServeOptions(runs=(str(run),), device="cpu", max_upload_mb=3)
    page = app_module.build_app(opts, [], tmp_path / "work")
    assert page.delete_cache == (app_module.CACHE_SWEEP_S, app_module.CACHE_KEPT_S) == (300, 3600)
    old, kept = _png(tmp_path / "old.png", 4, 4), _png(tmp_path / "example.png", 4, 4)
    page.upload_file_set.update({str(old), str(kept)})
    page.blocks[next(iter(page.blocks))].keep_in_cache.add(str(kept))  # as Gradio keeps the examples

    class Later(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.now(tz) + timedelta(seconds=app_module.CACHE_KEPT_S + 1)

    monkeypatch.setattr(route_utils, "datetime", Later)
    route_utils.delete_files_created_by_app(page, page.delete_cache[1])  # Gradio's sweep, as it runs it
    assert not old.exists() and kept.exists()

    launched = {}
    monkeypatch.setattr(page, "launch", lambda **kw: launched.update(kw))
    app_module.launch(page, opts, block=False)
    assert launched["max_file_size"] == 3 * 2**20  # Gradio's upload endpoint refuses more (413)
    assert page._queue.max_size == opts.max_queue == 100  # waiting jobs hold their requests: bounded too


def gradio_size(n: float) -> str:
    """A size as Gradio's page says it refusing a larger upload ("exceed the maximum allowed size of 23.8 Mb"): in
    units of 1024, one decimal, as its client's code formats it."""
    units = iter(["b", "Kb", "Mb", "Gb"])
    unit = next(units)
    while n >= 1024:
        n, unit = n / 1024, next(units)
    return f"{n:.1f} {unit}"


@pytest.mark.parametrize("limit", [25, 2.5])
def test_the_upload_label_and_gradios_refusal_name_the_same_limit(tmp_path, run, monkeypatch, limit):
    """The upload boxes said "up to 25 MB" while Gradio's own refusal of a larger file said "exceed the maximum
    allowed size of 23.8 Mb" (it counts 1024 x 1024 bytes a MB). Now --max-upload-mb counts so: both say 25."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.web import app as app_module
    from cyclegan.web.serve import ServeOptions

    opts = ServeOptions(runs=(str(run),), device="cpu", max_upload_mb=limit)
    page = app_module.build_app(opts, [], tmp_path / "work")
    launched = {}
    monkeypatch.setattr(page, "launch", lambda **kw: launched.update(kw))
    app_module.launch(page, opts, block=False)
    labels = [str(b.label) for b in page.blocks.values() if " MB" in str(getattr(b, "label", None))]
    assert len(labels) >= 4 and all(f"up to {limit:g} MB" in label for label in labels), labels  # Video's too
    assert gradio_size(launched["max_file_size"]) == f"{limit:.1f} Mb"


def _upload(
    port: int, name: str, data: bytes, *, cut: bool = False, chunked: bool = False, to: str = "upload files"
) -> int:
    """POST `data` to Gradio's upload endpoint (`to`: endpoint and field) as a file `name`: the status; `cut`:
    the connection closed half way through the body (a visitor who left), -1."""
    import socket

    endpoint, field = to.split()
    head = f'--B\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n\r\n'.encode()
    body = head + data + b"\r\n--B--\r\n"
    length = b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % len(body)
    request = b"POST /gradio_api/%s HTTP/1.1\r\nHost: x\r\n" % endpoint.encode()
    request += b"Content-Type: multipart/form-data; boundary=B\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        if cut:
            s.sendall(request + length + b"\r\n\r\n" + body[: len(body) // 2])
            time.sleep(0.5)
            return -1
        if chunked:
            body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        s.sendall(request + length + b"\r\nConnection: close\r\n\r\n" + body)
        return int(s.makefile("rb").readline().split()[1])


@pytest.mark.slow
def test_uploads_are_bounded_in_all_and_what_an_upload_cut_off_left_is_swept(tmp_path, run, monkeypatch):
    """Gradio bounds one upload and deletes it an hour later, but took any number within the hour (one visitor
    could fill the disk), and an upload cut off mid-way left its partial file for the server's life, in no list
    of Gradio's; empty folders stayed after the hourly clean-up too (a hostile probe). Now an upload is refused
    while the folder holds --max-disk-mb, one of undeclared length too, and the sweep deletes partial uploads
    and empty folders as Gradio's clean-up deletes the rest. Gradio's /process_recording, which kept each file
    it took in the system's temporary folder for good, answers 404."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    import socket

    from cyclegan.web import app as app_module
    from cyclegan.web.serve import ServeOptions

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    opts = ServeOptions(runs=(str(run),), device="cpu", port=port, max_upload_mb=0.3, max_disk_mb=0.5)
    page = app_module.build_app(opts, [], tmp_path / "work")
    folder = Path(page.GRADIO_CACHE)
    monkeypatch.setattr(app_module, "CACHE_SWEEP_S", 0.2)
    monkeypatch.setattr(app_module, "CACHE_KEPT_S", 1.5)
    try:
        app_module.launch(page, opts, block=False)
        assert _upload(port, "a.png", b"a" * 200_000) == 200
        assert _upload(port, "b.png", b"b" * 200_000) == 200
        assert _upload(port, "c.png", b"c" * 200_000) == 413  # 0.6 MB with the others: over 0.5
        assert _upload(port, "d.png", b"d" * 1000, chunked=True) == 411
        # Gradio's screen-recording endpoint, of no use to the page, kept each file in the system's temporary folder
        assert _upload(port, "r.mp4", b"r" * 1000, to="process_recording video") == 404
        stored = sorted(p.name for p in folder.rglob("*.png") if p.parent.parent == folder)
        assert stored[:2] == ["a.png", "b.png"] and "c.png" not in stored

        def leftovers() -> list[str]:  # partial uploads, and the folders of deleted uploads
            return [p.name for p in folder.iterdir() if p.name.startswith("tmp") or p.is_dir() and not any(p.iterdir())]

        for f in folder.rglob("[ab].png"):
            f.unlink()  # as Gradio's clean-up deletes them, leaving their folders
        assert len(leftovers()) == 2
        time.sleep(2.1)  # the folder measured anew (disk.WALK_EVERY_S): room again
        _upload(port, "cut.png", b"e" * 200_000, cut=True)
        assert any(name.startswith("tmp") for name in leftovers())
        deadline = time.monotonic() + 10
        while leftovers() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert leftovers() == [] and any(folder.rglob("summer_0.png"))  # an example Gradio keeps: kept
    finally:
        page.close()


def test_the_sweep_deletes_what_gradio_s_clean_up_leaves_and_nothing_else(tmp_path):
    """Gradio's hourly clean-up deletes the files it listed: not an upload cut off mid-way (its partial file),
    not the folders it made for each upload, not a page's output that a failed job never handed over (the first
    image of a Translate job that failed on the second). The sweep deletes these once an hour old."""
    from cyclegan.web.disk import sweep

    gradio, digest, job = tmp_path / "gradio", "a" * 64, "b" * 32
    own = gradio / "cyclegan-work"
    made = [
        gradio / "tmpcut",  # a partial upload
        gradio / digest / "photo.png",  # an upload Gradio lists: its own to delete
        own / job / "photo_AtoB.png",  # written by a job that failed before handing it over
        own / job / ".photo_BtoA.png.x1.tmp",  # being written (`files.write_atomic`)
        gradio / "notes.txt",
    ]
    for path in made:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    for name in ("c" * 64, "vibe_edit_history"):
        (gradio / name).mkdir()  # an upload's folder emptied by Gradio's clean-up, and one of Gradio's own
    (gradio / "tmpnew").write_bytes(b"x")
    for path in (*made, gradio / ("c" * 64), gradio / "vibe_edit_history"):
        os.utime(path, (time.time() - 7200, time.time() - 7200))
    sweep(gradio, 3600, own=own)
    left = sorted(str(p.relative_to(gradio)) for p in gradio.rglob("*"))
    assert left == sorted(
        [
            digest,
            f"{digest}/photo.png",
            "cyclegan-work",
            f"cyclegan-work/{job}",
            f"cyclegan-work/{job}/.photo_BtoA.png.x1.tmp",
            "notes.txt",
            "tmpnew",
            "vibe_edit_history",
        ]
    )


def test_a_request_naming_a_file_not_uploaded_is_one_line_in_the_log_and_said_in_the_page(tmp_path, run, capfd):
    """Gradio refuses a request that names as an input a file the page was not given (`/etc/hostname`), before any
    handler of ours: it logged a 30-line InvalidPathError traceback for each such request and the page showed an
    "Error" saying nothing. Now one line in the log, and the page says why."""
    gr = pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    import asyncio

    from gradio.state_holder import SessionState

    from cyclegan.web import app as app_module
    from cyclegan.web.serve import ServeOptions

    page = app_module.build_app(ServeOptions(runs=(str(run),), device="cpu"), [], tmp_path / "work")
    fn = next(f for f in page.fns.values() if f.name == "translate_live")
    named = _png(tmp_path / "elsewhere.png", 4, 4)
    inputs = [[{"path": str(named), "meta": {"_type": "gradio.FileData"}}], page.engine.model_choices()[0][1], "AtoB"]
    page.has_launched = True  # Gradio checks the paths of a launched page only

    async def request():  # as Gradio's queue runs it: through its process_api, which preprocesses the inputs
        return await page.process_api(fn, inputs, state=SessionState(page))

    capfd.readouterr()
    with pytest.raises(gr.Error) as e:
        asyncio.run(request())
    assert e.value.message == app_module.NOT_UPLOADED
    assert not e.value.print_exception  # Gradio's queue prints the traceback of any other exception
    log = capfd.readouterr().err
    assert log.count("\n") == 1 and log.startswith(f"refused: Cannot move {named} ")


def test_a_request_holding_a_value_the_page_does_not_offer_is_one_line_in_the_page_s_words(tmp_path, run, capfd):
    """A forged request (a direction "XtoY", a model given as a path, text for a slider) was refused in Python's
    words before any handler of ours: "Value: 'XtoY' (type: <class 'str'>) is not in the list of choices: ['AtoB',
    'BtoA']", and the text for a slider as a TypeError with its traceback in the log. Now the page's one line, and
    one line in the log naming what was sent."""
    gr = pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    import asyncio

    from gradio.state_holder import SessionState

    from cyclegan.web import app as app_module
    from cyclegan.web.serve import ServeOptions

    page = app_module.build_app(ServeOptions(runs=(str(run),), device="cpu"), [], tmp_path / "work")
    translate = next(f for f in page.fns.values() if f.name == "translate_live")
    compare = next(f for f in page.fns.values() if f.name == "compare")
    key = page.engine.model_choices()[0][1]
    for fn, inputs, logged in [
        (translate, [None, key, "XtoY"], "refused: Value: 'XtoY' (type: <class 'str'>) is not in the list of choices"),
        (translate, [None, "/etc/passwd", "AtoB"], "refused: Value: /etc/passwd is not in the list of choices"),
        (
            compare,
            [None, key, "AtoB", None, "lite0", "abc", 10],
            "refused: Could not preprocess input component at index 5 (a `slider` component)",
        ),
    ]:
        capfd.readouterr()
        with pytest.raises(gr.Error) as e:
            asyncio.run(page.process_api(fn, inputs, state=SessionState(page)))
        assert e.value.message == app_module.NOT_OFFERED and not e.value.print_exception
        log = capfd.readouterr().err
        assert log.count("\n") == 1 and log.startswith(logged), log


def test_a_request_naming_gradio_s_folder_as_a_file_leaves_its_clean_up_running(tmp_path, run, monkeypatch):
    """A request may name any path inside Gradio's folder as an upload, and the folder's own path is in every
    file URL the page holds: named as a file, it joined Gradio's list of files, the hourly clean-up raised
    IsADirectoryError on it and never ran again (nor did the server's shutdown finish; a hostile probe). Now a
    file input refuses a path that is not a file."""
    gr = pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    import asyncio

    from gradio import route_utils

    from cyclegan.web import app as app_module
    from cyclegan.web.serve import ServeOptions

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    page = app_module.build_app(ServeOptions(runs=(str(run),), device="cpu"), [], tmp_path / "work")
    upload = next(b for b in page.blocks.values() if getattr(b, "elem_id", None) == "translate-upload")
    folder = Path(page.GRADIO_CACHE)
    folder.mkdir(parents=True, exist_ok=True)
    with pytest.raises(gr.Error, match="that is not a file"):
        asyncio.run(upload.async_move_resource_to_block_cache(str(folder)))
    with pytest.raises(gr.Error, match="that is not a file"):
        upload.move_resource_to_block_cache(str(folder))
    photo = _png(folder / "photo.png", 4, 4)  # an upload, and one deleted before its job ran: both taken
    assert asyncio.run(upload.async_move_resource_to_block_cache(str(photo))) == str(photo)
    assert upload.move_resource_to_block_cache(str(folder / "gone.png")) == str(folder / "gone.png")
    route_utils.delete_files_created_by_app(page, None)  # Gradio's clean-up, as at the server's stop
    assert not photo.exists() and folder.is_dir()


def test_a_disk_limit_under_one_upload_is_refused_at_the_start(tmp_path, run, capsys, monkeypatch):
    """--max-disk-mb under --max-upload-mb would refuse every upload of the size the page offers."""
    from cyclegan.cli import main

    never_launched(monkeypatch, tmp_path)
    assert main(["serve", "--runs", str(run), "--max-upload-mb", "30", "--max-disk-mb", "20"]) == 2
    err = capsys.readouterr().err
    assert "option '--max-disk-mb' 20 is under --max-upload-mb 30: raise it, or lower --max-upload-mb" in err


@pytest.mark.parametrize("size", ["1e-9", "0.01"])
def test_an_upload_limit_no_photo_fits_is_refused_at_the_start(size, tmp_path, run, capsys, monkeypatch):
    """`serve --max-upload-mb 1e-9` started a page whose every upload was refused (Gradio's limit: 0 bytes)."""
    from cyclegan.cli import main

    never_launched(monkeypatch, tmp_path)
    assert main(["serve", "--runs", str(run), "--max-upload-mb", size]) == 2
    err = capsys.readouterr().err
    assert err == f"error: option '--max-upload-mb' must be >= 0.1, got {float(size)}\n"


@pytest.mark.parametrize("seconds", ["1e-3", "3e6"])
def test_a_refresh_period_a_browser_would_run_without_pause_is_refused(seconds, tmp_path, run, capsys, monkeypatch):
    """Gradio's Timer is setInterval(seconds * 1000): a period of a millisecond, or over 2**31 ms (which a browser
    runs at once), had every open page send a refresh every few milliseconds."""
    from cyclegan.cli import main

    never_launched(monkeypatch, tmp_path)
    assert main(["serve", "--runs", str(run), "--refresh", seconds]) == 2
    err = capsys.readouterr().err
    assert err == f"error: option '--refresh' must be >= 0.5 and <= 86400, got {float(seconds)}\n"


def test_a_disk_limit_under_one_upload_is_refused_by_the_options_from_python_too():
    """`build_app(ServeOptions(...))` never passes through `serve`: the options themselves refuse the pair."""
    from cyclegan.errors import CycleGANError
    from cyclegan.web.options import ServeOptions

    with pytest.raises(CycleGANError, match=r"option '--max-disk-mb' 20 is under --max-upload-mb 30"):
        ServeOptions(checkpoint=("x.pt",), max_upload_mb=30, max_disk_mb=20)
    assert ServeOptions(max_upload_mb=30, max_disk_mb=30).max_disk_mb == 30  # equal is enough for one upload


def test_a_new_run_reaches_the_video_tab_s_model_list_too(tmp_path, run):
    """The timer refreshed the model lists of Translate and Compare but not Video's, so a run that saved
    its first checkpoint after the start could not be used in Video without a restart (and a deleted one
    stayed offered). Now the Video tab's list is refreshed with the others."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.web.app import build_app
    from cyclegan.web.serve import ServeOptions

    root = tmp_path / "runs"
    shutil.copytree(run, root / "first")
    app = build_app(ServeOptions(runs=(str(root),), device="cpu"), [], tmp_path / "work")
    refresh = next(d for d in app.fns.values() if d.name == "refresh_lists")
    models = [getattr(b, "elem_id", None) for b in refresh.outputs if getattr(b, "label", None) == "model"]
    assert models == ["translate-model", "video-model", "compare-model"] and len(refresh.outputs) == 5

    engine = app.engine
    known = (engine.model_choices(), list(engine.runs()))
    shutil.copytree(run, root / "second")  # a run saves its first checkpoint
    *updates, _ = engine.refresh_lists(known, "runs/first", "runs/first", "runs/first", "runs/first")
    assert [[k for _, k in u["choices"]] for u in updates[:3]] == [["runs/first", "runs/second"]] * 3


def test_a_chosen_model_that_is_deleted_is_not_replaced_by_another(tmp_path, run):
    """When the model a visitor had chosen went away (its run deleted), the refresh chose the list's first
    model in its place, silently: the next Translate ran a model the visitor never picked (the page does not
    say which model a result came from). Now the choice is emptied and the next job asks for one."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.web.engine import Engine
    from cyclegan.web.serve import ServeOptions

    root = tmp_path / "runs"
    for name in ("a", "b"):
        shutil.copytree(run, root / name)
    engine = Engine(ServeOptions(runs=(str(root),), device="cpu"), [], tmp_path / "work")
    known = (engine.model_choices(), list(engine.runs()))
    shutil.rmtree(root / "b")
    translate, video, compare, _, _ = engine.refresh_lists(known, "runs/b", None, "runs/a", "runs/b")
    assert (translate["value"], video["value"], compare["value"]) == (None, "runs/a", "runs/a")
    with pytest.raises(CycleGANError, match="^choose a model first$"):  # the server has others
        engine.generator(translate["value"], "AtoB")


def test_the_sample_gallery_label_says_how_a_grid_is_laid_out(run):
    """The Runs tab's gallery said "real | translated | reconstructed, A -> B (left) and B -> A (right)", but
    a training grid has A's rows above B's (left and right is the demo's figure), and CUT's and pix2pix's
    columns differ. The label now says what the grid of the run fixture shows: 4 rows (2 A, 2 B) of 3."""
    from cyclegan.web.runs_tab import SAMPLES_LABEL

    grid = Image.open(sorted((run / "samples").glob("step_*.png"))[-1])
    assert (round(grid.width / 34), round(grid.height / 34)) == (3, 4)  # 32 px images, 2 px apart
    assert "A's above B's" in SAMPLES_LABEL and "left" not in SAMPLES_LABEL
    assert "CycleGAN: real | translated | reconstructed" in SAMPLES_LABEL and "pix2pix: source" in SAMPLES_LABEL


def test_runs_view_redraws_only_when_the_run_changes(engine, run):
    from cyclegan.web.runs_tab import RunsTab

    tab = RunsTab(engine)
    label = next(iter(engine.runs()))
    config, terms, totals, decibels, scores, greys, samples, summary, shown = tab.run_view(label, None)
    assert config["model"]["ngf"] == 8 and set(terms["loss"]) >= {"D_X", "cycle_x"} and "G_total" in set(totals["loss"])
    assert f"step {read_log(run / 'log.jsonl')[-1]['step']}" in summary
    again = tab.run_view(label, shown)
    assert again[-1] == shown and all(type(v).__name__ == "dict" or v is shown for v in again)  # gr.skip() each


def test_the_runs_tab_and_errors_show_no_server_path(engine, run):
    """The Runs tab's config panel showed config.json's `data` and `out` as training was given them: the
    server's absolute folders (a hostile probe), and errors named files by their server paths (the VGG19
    cache, a clip's output). Now a folder is shown by its last part, the name a visitor knows it by."""
    gr = pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.web.engine import user_errors
    from cyclegan.web.runs_tab import RunsTab

    stored = read_config(run)
    assert Path(stored["data"]["data"]).is_absolute() and stored["train"]["out"] == str(run)
    shown = RunsTab(engine).run_view(next(iter(engine.runs())), None)
    config = shown[0]
    assert config["data"]["data"] == Path(stored["data"]["data"]).name and config["train"]["out"] == run.name
    assert config["model"] == stored["model"] and config["data"]["domain_a"] is None  # the rest as it was
    sent = json.dumps([config, shown[7]])
    assert str(Path(stored["data"]["data"]).parent) not in sent and str(run.parent) not in sent

    def fails():
        raise CycleGANError(
            "VGG19 weights are not cached at /root/.cache/torch/hub/checkpoints/vgg19-dcbb9e9d.pth: download "
            "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth there; runs/x and 1/2 stay"
        )

    with pytest.raises(gr.Error) as e:
        user_errors(fails)()
    assert str(e.value.message) == (
        "VGG19 weights are not cached at vgg19-dcbb9e9d.pth: download "
        "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth there; runs/x and 1/2 stay"
    )


def test_names_are_shown_letter_for_letter_not_as_markdown(tmp_path, run):
    """A run's name and an upload's name went into the page's Markdown as they were: a run named
    `<img src=x>` was drawn as a (broken) image, `[x](javascript:...)` as a link, `**b**` as bold, and an
    upload named `a|b.png` split the Translate table's row. Rendered as CommonMark (what gr.Markdown
    does), each now reads as its name."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from markdown_it import MarkdownIt

    from cyclegan.web.engine import Engine
    from cyclegan.web.runs_tab import RunsTab
    from cyclegan.web.serve import ServeOptions
    from cyclegan.web.translate_tab import TranslateTab

    def shown(markdown: str) -> str:
        html = MarkdownIt("commonmark").enable("table").render(markdown)
        assert "<img" not in html and "<a" not in html and "<em" not in html, html
        return html

    name = "<img src=x> [x](javascript:alert(1)) **b** _c_ a|b"
    root = tmp_path / "runs"
    shutil.copytree(run, root / name)
    engine = Engine(ServeOptions(runs=(str(root),), device="cpu"), [], tmp_path / "work")
    summary = RunsTab(engine).run_view(f"runs/{name}", None)[7]
    assert f"<strong>runs/{name.replace('<', '&lt;').replace('>', '&gt;')}</strong>" in shown(summary)

    upload = _png(tmp_path / "a|<b>b*.png", 20, 16)
    _, _, info = TranslateTab(engine).translate([str(upload)], engine.models()[0].key, "AtoB")
    assert "<td>a|&lt;b&gt;b*.png</td>" in shown(info)


def test_a_name_between_dollar_pairs_is_not_drawn_as_maths(tmp_path, run):
    """gr.Markdown draws what stands between $$ and $$ as LaTeX: Gradio's front end looks for "$$" in the
    Markdown it is sent, before rendering it. `literal` already escapes each "$" (`\\$`), so a run or an
    upload named `$$x^2$$` is sent without one and shown as its name (checked once in Chromium too: the Runs
    summary read `runs/$$x^2$$`, no KaTeX). This keeps it so."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from markdown_it import MarkdownIt

    from cyclegan.web.engine import Engine, literal
    from cyclegan.web.runs_tab import RunsTab
    from cyclegan.web.serve import ServeOptions
    from cyclegan.web.translate_tab import TranslateTab

    name = "$$x^2$$"
    assert literal(name) == r"\$\$x\^2\$\$"
    root = tmp_path / "runs"
    shutil.copytree(run, root / name)
    engine = Engine(ServeOptions(runs=(str(root),), device="cpu"), [], tmp_path / "work")
    summary = RunsTab(engine).run_view(f"runs/{name}", None)[7]
    upload = _png(tmp_path / f"{name}.png", 8, 8)
    _, _, info = TranslateTab(engine).translate([str(upload)], engine.models()[0].key, "AtoB")
    for markdown in (summary, info):
        assert "$$" not in markdown and name in MarkdownIt("commonmark").enable("table").render(markdown)


def test_runs_view_shows_a_rerun_s_samples_and_survives_a_deleted_grid(tmp_path, run, monkeypatch):
    """The copies of sample grids were named by the run and the file's name alone, and made once: a run
    deleted and trained again under its name (its sample grids new) showed the old run's grid.
    A grid deleted between listing and copying (the run removed while the page shows it) raised
    FileNotFoundError, an internal error in the page. Now a new file is a new copy, and a vanished one is
    left for the next refresh."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.web import runs_tab
    from cyclegan.web.engine import Engine
    from cyclegan.web.serve import ServeOptions

    root = tmp_path / "runs"
    shutil.copytree(run, root / "r")
    (root / "r" / "samples").mkdir(exist_ok=True)
    grid = root / "r" / "samples" / "step_9999999.png"
    _png(grid, 12, 8, seed=1)
    tab = runs_tab.RunsTab(Engine(ServeOptions(runs=(str(root),), device="cpu"), [], tmp_path / "work"))
    (first, _), *_ = tab.run_view("runs/r", None)[6]
    assert np.array_equal(np.asarray(Image.open(first)), np.asarray(Image.open(grid)))

    shutil.rmtree(root / "r")  # deleted, and trained again under its name
    shutil.copytree(run, root / "r")
    (root / "r" / "samples").mkdir(exist_ok=True)
    _png(grid, 12, 8, seed=2)
    (again, _), *_ = tab.run_view("runs/r", None)[6]
    assert np.array_equal(np.asarray(Image.open(again)), np.asarray(Image.open(grid)))

    gone = root / "r" / "samples" / "step_0000005.png"  # listed, then deleted before it was copied
    monkeypatch.setattr(runs_tab, "latest_samples", lambda run, n: [(5, gone), (9999999, grid)])
    assert [caption for _, caption in tab.run_view("runs/r", None)[6]] == ["step 9999999"]


def test_copies_of_sample_grids_are_deleted_with_gradio_s_files(tmp_path, run, monkeypatch):
    """The Runs tab copied each grid it showed into the server's own folder, where the copy stayed for the
    server's life (Gradio then made and deleted its own copy): a run watched for days grew it by every grid
    it wrote. Now the copy is made in Gradio's folder, served as it is and deleted with the page's other files."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from gradio import processing_utils, route_utils

    from cyclegan.web import app as app_module
    from cyclegan.web.runs_tab import RunsTab
    from cyclegan.web.serve import ServeOptions

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    root = tmp_path / "runs"
    shutil.copytree(run, root / "r")
    (root / "r" / "samples").mkdir(exist_ok=True)
    grid = _png(root / "r" / "samples" / "step_9999999.png", 12, 8, seed=3)
    page = app_module.build_app(ServeOptions(runs=(str(root),), device="cpu"), [], tmp_path / "work")
    gallery = next(b for b in page.blocks.values() if getattr(b, "elem_id", None) == "runs-samples")
    copies = RunsTab(page.engine).run_view("runs/r", None)[6]
    processing_utils.move_files_to_cache(gallery.postprocess(copies), gallery, postprocess=True)  # as Gradio sends it
    route_utils.delete_files_created_by_app(page, None)  # Gradio's clean-up (of files over an hour old)
    same = [p for p in tmp_path.rglob("*.png") if p != grid and p.read_bytes() == grid.read_bytes()]
    assert same == []


# --- the real page in a browser -----------------------------------------------------------------------------


def _image_at(page, url: str) -> Image.Image:
    import io

    return Image.open(io.BytesIO(page.request.get(url).body()))


@pytest.mark.slow
def test_browser_translate_errors_and_runs(run, tmp_path):
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no Chromium installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")

    photo = _png(tmp_path / "photo.png", 45, 37)
    other = _png(tmp_path / "second.png", 33, 29, seed=1)
    (tmp_path / "notes.png").write_text("this is text, not a PNG")
    proc, url, seconds = start_server(["--runs", str(run), "--refresh", "1"])
    print(f"cyclegan serve answered after {seconds:.1f} s")
    try:
        with sync_api.sync_playwright() as p:
            browser, page, external = open_page(p, url)
            try:
                # Translate: a PNG in, a translated PNG of the same size out.
                before = translate_in_page(page, [str(photo)])
                links = wait_for_new_downloads(page, before)
                assert _image_at(page, links[0]).size == (45, 37)
                assert "45x37" in page.locator("#translate-info").inner_text()

                # A text file named .png: the page says so, and the next upload still works.
                translate_in_page(page, [str(tmp_path / "notes.png")])
                page.get_by_text("notes.png is not an image").first.wait_for(timeout=30_000)
                before = translate_in_page(page, [str(other)])
                links = wait_for_new_downloads(page, before)
                assert _image_at(page, links[0]).size == (33, 29)

                # Runs: the loss curve of the tiny run, drawn.
                page.get_by_role("tab", name="Runs").click()
                page.locator("#runs-plot .mark-line path").first.wait_for(timeout=30_000)
                assert "step 2" in page.locator("#runs-summary").inner_text()

                # Nothing of the run is served by path, and nothing was fetched from the internet.
                status = page.request.get(f"{url}gradio_api/file={run / CHECKPOINT_NAME}").status
                assert status == 403
                assert external == []
            finally:
                browser.close()
    finally:
        log = stop_server(proc)
    assert "Traceback" not in log, log


@pytest.mark.slow
def test_browser_runs_score_plots_show_every_legend_entry(tmp_path):
    """A plot's legend is one line, cut at the plot's edge: with three score plots in a row, the dB plot's last entry
    (BtoA cycle_psnr) was cut, and the unitless plot showed AtoB's four scores alone, BtoA's colours unnamed. Each
    legend entry now ends inside its plot, at the browser test's 1280 px."""
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no Chromium installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")

    run = tmp_path / "runs" / "scored"
    run.mkdir(parents=True)
    scores = ("psnr", "cycle_psnr", "ssim", "kid_lite0", "change", "spread", "tint", "local_colour")
    records = [
        {"step": step, "cycle": 1.0, **{f"eval/{d}/{k}": 1.0 + step for d in ("AtoB", "BtoA") for k in scores}}
        for step in (100, 200)
    ]
    (run / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (run / "config.json").write_text(json.dumps({"train": {"eval_every": 100}}))
    proc, url, _ = start_server(["--runs", str(run.parent)])
    try:
        with sync_api.sync_playwright() as p:
            browser, page, _ = open_page(p, url, width=1280)
            try:
                page.get_by_role("tab", name="Runs").click()
                cut = {}
                for plot, n in (("runs-scores-db", 4), ("runs-scores", 10), ("runs-scores-grey", 2)):
                    entries = page.locator(f"#{plot} g.role-legend-symbol ~ g text, #{plot} .role-legend-label text")
                    entries.nth(n - 1).wait_for(timeout=30_000)
                    right = page.locator(f"#{plot}").evaluate("el => el.getBoundingClientRect().right")
                    ends = entries.evaluate_all("els => els.map(e => [e.textContent, e.getBoundingClientRect().right])")
                    assert len(ends) == n, ends
                    cut[plot] = [name for name, end in ends if end > right]
                assert cut == {"runs-scores-db": [], "runs-scores": [], "runs-scores-grey": []}
            finally:
                browser.close()
    finally:
        stop_server(proc)


@pytest.mark.slow
def test_browser_an_uploads_name_is_never_drawn_as_html(run, tmp_path):
    """Gradio refused a file of another type than a file input's `file_types` in the browser, with a pop-up that put
    the file's name in the page as HTML: a file named `<img src=x onerror=...>.txt` drew an image (one named
    `<img src=https:HOST>` fetched it from another host) in every tab's upload box. The boxes take any file now, and
    the tab's own check names it as text at the job."""
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no Chromium installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")

    (named := tmp_path / "<img src=x onerror=alert(1)>.txt").write_text("not an image")
    proc, url, _ = start_server(["--runs", str(run)])
    try:
        with sync_api.sync_playwright() as p:
            browser, page, external = open_page(p, url)
            dialogs = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            try:
                for tab, box in [
                    ("Translate", "translate-upload"),
                    ("Video", "video-upload"),
                    ("Style transfer", "style-content"),
                    ("Style transfer", "style-styles"),
                    ("Compare", "compare-photo"),
                    ("Compare", "compare-styles"),
                ]:
                    page.get_by_role("tab", name=tab).click()
                    page.locator(f"#{box} input[type=file]").set_input_files([str(named)])
                    page.wait_for_timeout(500)
                    assert page.locator("img[src=x]").count() == 0, box
                page.get_by_role("tab", name="Translate").click()
                page.locator("#translate-go").click()
                page.get_by_text("onerror=alert(1).txt is not an image").first.wait_for(timeout=30_000)
                assert page.locator("img[src=x]").count() == 0 and dialogs == [] and external == []
            finally:
                browser.close()
    finally:
        stop_server(proc)


@pytest.mark.slow
def test_browser_an_oversized_uploads_name_is_never_drawn_as_html(run, tmp_path):
    """The page refused a file over --max-upload-mb itself, with Gradio's pop-up "File(s) exceed the maximum allowed
    size of 1.0 Mb: NAME", the file's name put in the page as HTML: a file named `<img src=x>.png` drew an image (one
    named `<img src=https:HOST>` fetched it from another host). Now the server refuses it, in the page's words."""
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no Chromium installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")

    (named := tmp_path / "<b>big<img src=x>.png").write_bytes(b"x" * (2 << 20))
    proc, url, _ = start_server(["--runs", str(run), "--max-upload-mb", "1"])
    try:
        with sync_api.sync_playwright() as p:
            browser, page, external = open_page(p, url)
            try:
                for tab, box in [("Translate", "translate-upload"), ("Video", "video-upload")]:
                    page.get_by_role("tab", name=tab).click()
                    page.locator(f"#{box} input[type=file]").set_input_files([str(named)])
                    said = page.locator(".toast-body", has_text="over this server's limit of 1 MB per upload")
                    said.first.wait_for(timeout=30_000)
                    assert page.locator(".toast-body img, .toast-body b").count() == 0, box
                    assert "cyclegan serve --max-upload-mb" in said.first.inner_text()
                    page.locator(".toast-close").first.click()
                assert external == []
            finally:
                browser.close()
    finally:
        stop_server(proc)


def test_an_upload_over_the_file_limit_is_refused_in_the_pages_words():
    """Gradio's server refused a file over --max-upload-mb as "File size exceeded maximum allowed size of 1048576
    bytes."; the page, which no longer refuses it itself, shows the server's line: it names the limit in MB and the
    option. Other answers of the upload endpoint pass as they are."""
    import asyncio

    from cyclegan.web.disk import UploadBudget

    async def gradio(status: int, body: bytes, scope, receive, send) -> None:
        await send(
            {"type": "http.response.start", "status": status, "headers": [(b"content-length", b"%d" % len(body))]}
        )
        await send({"type": "http.response.body", "body": body})

    def answer(status: int, body: bytes) -> list[dict]:
        sent = []

        async def send(message):
            sent.append(message)

        budget = UploadBudget(
            lambda *a: gradio(status, body, *a), folder="/nonexistent", limit=10 << 20, file_limit=1 << 20
        )
        scope = {"type": "http", "method": "POST", "path": "/gradio_api/upload", "headers": [(b"content-length", b"9")]}
        asyncio.run(budget(scope, None, send))
        return sent

    refused = answer(413, b"File size exceeded maximum allowed size of 1048576 bytes.")
    assert [m["type"] for m in refused] == ["http.response.start", "http.response.body"]
    assert refused[0]["status"] == 413 and refused[1]["body"].decode() == (
        "that file is over this server's limit of 1 MB per upload (cyclegan serve --max-upload-mb); upload a smaller "
        "one"
    )
    assert dict(refused[0]["headers"])[b"content-length"] == str(len(refused[1]["body"])).encode()
    taken = answer(200, b'["/tmp/gradio/abc/photo.png"]')
    assert taken[0]["status"] == 200 and taken[1]["body"] == b'["/tmp/gradio/abc/photo.png"]'


@pytest.mark.slow
def test_a_url_sent_as_an_upload_is_not_fetched_by_the_server(tmp_path, run, monkeypatch):
    """Gradio downloads a file input given as an http(s) URL instead of an upload path: a visitor's request
    named any public address and the server fetched it, whole into memory, with no --max-upload-mb (a hostile
    probe, by reading Gradio). Now the page's file inputs take uploads only, and nothing is fetched. Here a
    loopback server stands in for a public one (Gradio refuses private addresses by itself)."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    import socket
    import urllib.request

    import gradio.processing_utils as gradio_files

    from cyclegan.web import app as app_module
    from cyclegan.web.serve import ServeOptions
    from helpers import RangeServer, serving

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    monkeypatch.setattr(gradio_files, "PUBLIC_HOSTNAME_WHITELIST", ["127.0.0.1"])  # as if it were public
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    opts = ServeOptions(runs=(str(run),), device="cpu", port=port)
    page = app_module.build_app(opts, [], tmp_path / "work")
    with serving(RangeServer()) as remote:
        remote.files["/photo.png"] = _png(tmp_path / "photo.png", 24, 20).read_bytes()
        url = f"http://127.0.0.1:{remote.server_address[1]}/photo.png"
        try:
            app_module.launch(page, opts, block=False)
            file = {"path": url, "meta": {"_type": "gradio.FileData"}}
            body = json.dumps({"data": [[file], page.engine.models()[0].key, "AtoB"]}).encode()
            call = f"http://127.0.0.1:{port}/gradio_api/call/translate"
            request = urllib.request.Request(call, data=body, headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=30) as r:
                event = json.loads(r.read())["event_id"]
            with urllib.request.urlopen(f"{call}/{event}", timeout=60) as r:
                answer = r.read().decode()
        finally:
            page.close()
    assert remote.requests == [] and "event: error" in answer


@pytest.mark.slow
def test_the_server_names_its_address_without_gradio_s_share_advice(tmp_path, run, capsys, monkeypatch):
    """`cyclegan serve` printed Gradio's lines, among them "To create a public link, set `share=True` in
    `launch()`": advice for a Python caller that the command has no option for. Now one line of ours names the
    page's address, and blocking waits on the running server as before."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    import socket

    from cyclegan.web import app as app_module
    from cyclegan.web.serve import ServeOptions

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    opts = ServeOptions(runs=(str(run),), device="cpu", port=port)
    page = app_module.build_app(opts, [], tmp_path / "work")
    try:
        app_module.launch(page, opts, block=False)
        out = capsys.readouterr().out
        assert f"the page is at http://127.0.0.1:{port}/" in out and "share=True" not in out
        waited = []
        monkeypatch.setattr(app_module, "wait_while_running", lambda app: waited.append(app.is_running))
        app_module.launch(page, opts, block=True)  # Gradio relaunches the running page, then we wait on it
        assert waited == [True]
    finally:
        page.close()


def test_an_animated_upload_to_style_transfer_or_compare_is_named_as_its_first_frame(tmp_path, monkeypatch):
    """`cyclegan stylize` names an animated content or style image as its first frame; the Style and Compare tabs
    took that frame without a word."""
    gr = pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.web.app import build_app
    from cyclegan.web.engine import Engine
    from cyclegan.web.serve import ServeOptions

    def stop(*a, **k):  # right after the uploads are read: no Gatys, no generator
        raise CycleGANError("stopped here")

    monkeypatch.setattr(Engine, "style_backbones", stop)
    monkeypatch.setattr(Engine, "ready", stop)
    ckpt = tmp_path / "tiny.pt"
    _tiny_checkpoint(ckpt)
    app = build_app(ServeOptions(checkpoint=(str(ckpt),), device="cpu"), [ckpt], tmp_path / "work")
    frames = [Image.fromarray(np.full((40, 48, 3), 60 * i, np.uint8)) for i in range(3)]
    walk = tmp_path / "walk.gif"
    frames[0].save(walk, save_all=True, append_images=frames[1:], duration=100)
    photo = str(_png(tmp_path / "photo.png", 48, 40))
    stylise = _handler(app, "stylize_live")
    comparison = _handler(app, "compare")
    for call, used in (
        (lambda: list(stylise(photo, [str(walk)], "lite0", 32, 2, None)), "stylised"),
        (lambda: comparison(photo, "tiny.pt", "AtoB", [str(walk)], "lite0", 32, 2), "used"),
    ):
        with pytest.warns(UserWarning, match=f"^walk.gif holds 3 frames; only the first is {used}$"):
            with pytest.raises(gr.Error, match="stopped here"):
                call()


def test_a_gatys_memory_refusal_on_the_page_names_its_controls_and_comes_before_the_cyclegan(tmp_path, monkeypatch):
    """Style transfer and Compare showed `stylize`'s refusal as is, "a smaller "long side (px)" ..., or
    --optimizer adam": the page has no optimiser to choose. And Compare ran the CycleGAN first, so Gatys'
    memory check came after the generator had taken memory (`cyclegan compare` runs Gatys first)."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")

    from cyclegan import compare
    from cyclegan.style import gatys
    from cyclegan.web.app import build_app
    from cyclegan.web.serve import ServeOptions

    ckpt = tmp_path / "tiny.pt"
    _tiny_checkpoint(ckpt)
    app = build_app(ServeOptions(checkpoint=(str(ckpt),), device="cpu"), [ckpt], tmp_path / "work")
    monkeypatch.setattr(gatys, "available_memory", lambda device: 1e6)
    translated: list[int] = []
    monkeypatch.setattr(compare, "translate_timed", lambda *a, **k: translated.append(1))
    photo, style = str(_png(tmp_path / "photo.png", 64, 48)), str(_png(tmp_path / "style.png", 64, 64, seed=1))
    stylise = _handler(app, "stylize_live")
    comparison = _handler(app, "compare")
    for call in (
        lambda: list(stylise(photo, [style], "lite0", 64, 10, None)),
        lambda: comparison(photo, "tiny.pt", "AtoB", [style], "lite0", 64, 10),
    ):
        message = _refusal(call)
        assert 'a smaller "long side (px)" (about ' in message and message.endswith("px fits)"), message
        assert "--" not in message
    assert translated == []


def test_a_style_image_too_thin_for_the_backbone_is_named_once_on_the_page(tmp_path, monkeypatch):
    """The Style tab said `a larger --style-size or "long side (px)", or "backbone (...)" lite0`: --style-size
    is no control (the style images are scaled to the long side too), then the one slider twice."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.style.backbones import Lite0Backbone
    from cyclegan.web.app import build_app
    from cyclegan.web.serve import ServeOptions

    monkeypatch.setattr(Lite0Backbone, "min_side", 16)  # as vgg19's pools need, without its weights
    app = build_app(ServeOptions(device="cpu"), [], tmp_path / "work")
    stylise = _handler(app, "stylize_live")
    photo, thin = str(_png(tmp_path / "photo.png", 64, 48)), str(_png(tmp_path / "thin.png", 200, 10, seed=1))
    message = _refusal(lambda: list(stylise(photo, [thin], "lite0", 64, 10, None)))
    assert message.startswith("style image 1 is 64x3 px once resized;"), message
    assert message.endswith(
        'a larger "long side (px)", or "backbone (auto: vgg19 if its weights are cached, else '
        'lite0, which is shipped)": lite0'
    ), message


def _app_noting_gatys(tmp_path, monkeypatch):
    """(the page of a tiny model, a list that gets an item each time Gatys starts its work: `check_sides`)."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")

    from cyclegan.style import gatys
    from cyclegan.web.app import build_app
    from cyclegan.web.serve import ServeOptions

    ckpt = tmp_path / "tiny.pt"
    _tiny_checkpoint(ckpt)
    app = build_app(ServeOptions(checkpoint=(str(ckpt),), device="cpu"), [ckpt], tmp_path / "work")
    ran: list[int] = []
    monkeypatch.setattr(gatys, "check_sides", lambda *a: ran.append(1))
    return app, ran


def test_a_photo_too_thin_to_measure_is_refused_in_compare_before_gatys(tmp_path, monkeypatch):
    """The Compare tab ran Gatys and the CycleGAN on a photo of 64x2 px at the long side, then said "SSIM needs
    images of at least 3x3 pixels, got 2x64", naming neither the photo nor the slider (`cyclegan compare`
    names and skips such an image before its work). In the Style tab's words, with the long side that keeps it (it
    said "give a larger", not how large)."""
    app, ran = _app_noting_gatys(tmp_path, monkeypatch)
    comparison = _handler(app, "compare")
    thin, style = str(_png(tmp_path / "thin.png", 200, 5)), str(_png(tmp_path / "style.png", 64, 64, seed=1))
    assert (
        _refusal(lambda: comparison(thin, "tiny.pt", "AtoB", [style], "lite0", 64, 10))
        == 'the photo is 200x5 px, 64x2 px at "long side (px)": 64: too thin to measure (its short side under 3 px); '
        'give "long side (px)": 101 or more, or crop it to a less thin shape'
    )
    assert ran == []
    # as thin at the slider's largest long side (1024 px): the slider is no way out, cropping is
    strip = str(_png(tmp_path / "strip.png", 2000, 4))
    assert _refusal(lambda: comparison(strip, "tiny.pt", "AtoB", [style], "lite0", 64, 10)) == (
        "the photo is 2000x4 px, too thin to measure at any long side up to 1024 px (its short side under 3 px); "
        "crop it to a less thin shape"
    )
    assert ran == []


def test_an_image_too_thin_to_stylise_is_refused_in_the_style_tab_in_the_compare_tabs_words(tmp_path, monkeypatch):
    """The Style tab stylised a 2000x4 px strip at 64x1 px without a word (a style image as thin gave its Gram
    matrix from one row), where the Compare tab refuses such a photo: now Style refuses it too, before Gatys,
    with the long side that keeps it, or, where no long side of the slider does, Compare's words."""
    app, ran = _app_noting_gatys(tmp_path, monkeypatch)
    stylise = _handler(app, "stylize_live")
    thin, strip = str(_png(tmp_path / "thin.png", 200, 5)), str(_png(tmp_path / "strip.png", 2000, 4))
    style = str(_png(tmp_path / "style.png", 64, 64, seed=1))
    assert _refusal(lambda: next(stylise(thin, [style], "lite0", 64, 10, None))) == (
        'the content image is 200x5 px, 64x2 px at "long side (px)": 64: too thin to stylise (its short side under 3 '
        'px); give "long side (px)": 101 or more, or crop it to a less thin shape'
    )
    assert _refusal(lambda: next(stylise(strip, [style], "lite0", 64, 10, None))) == (
        "the content image is 2000x4 px, too thin to stylise at any long side up to 1024 px (its short side under 3 "
        "px); crop it to a less thin shape"
    )
    assert _refusal(lambda: next(stylise(style, [style, strip], "lite0", 64, 10, None))) == (
        "style image strip.png is 2000x4 px, too thin to stylise at any long side up to 1024 px (its short side "
        "under 3 px); crop it to a less thin shape"
    )
    assert ran == []


def test_compare_tab_names_a_cut_models_column_cut(tmp_path):
    """The Compare tab captioned a CUT model's translation "CycleGAN (AtoB)", and its table's row "cyclegan": the
    model's family names them now, as `cyclegan compare` names its column."""
    gr = pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")

    from cyclegan.web.app import build_app
    from cyclegan.web.serve import ServeOptions

    ckpt = tmp_path / "cut.pt"
    _tiny_checkpoint(ckpt, family="cut", nce_num_patches=16, nce_mlp_dim=8)
    app = build_app(ServeOptions(checkpoint=(str(ckpt),), device="cpu"), [ckpt], tmp_path / "work")
    photo, style = str(_png(tmp_path / "photo.png", 40, 30)), str(_png(tmp_path / "style.png", 40, 40, seed=1))
    gallery, table = _handler(app, "compare")(photo, "cut.pt (AtoB only)", "AtoB", [style], "lite0", 32, 1)
    assert [caption for _, caption in gallery] == ["input", "CUT (AtoB)", "Gatys (lite0, 1 step)"]
    assert "\n| CUT | " in table and "| cyclegan |" not in table and "CycleGAN" not in table
    # nor the tab's model list, which offered the CUT model as a "CycleGAN model"
    assert [b.label for b in app.blocks.values() if isinstance(b, gr.Dropdown) and "CycleGAN" in b.label] == []


def test_compare_tab_says_gatys_on_lite0_optimised_the_features_that_measure_it(tmp_path):
    """The tab's note that the distances favour a Gatys run on Lite0 (`cyclegan compare` prints it) was never
    shown: the table's loop reused the backbone's variable for each row's name, so the check after it read
    "gatys". Shown now for lite0, as the command's notes say it."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")

    from cyclegan.web.app import build_app
    from cyclegan.web.serve import ServeOptions

    ckpt = tmp_path / "cut.pt"
    _tiny_checkpoint(ckpt, family="cut", nce_num_patches=16, nce_mlp_dim=8)
    app = build_app(ServeOptions(checkpoint=(str(ckpt),), device="cpu"), [ckpt], tmp_path / "work")
    photo, style = str(_png(tmp_path / "photo.png", 40, 30)), str(_png(tmp_path / "style.png", 40, 40, seed=1))
    _, table = _handler(app, "compare")(photo, "cut.pt (AtoB only)", "AtoB", [style], "lite0", 32, 1)
    assert table.endswith("\nGatys optimised the same Lite0 features that measure it, so the distances favour it.")


def test_compare_tabs_rows_are_named_as_the_commands_table_names_them(tmp_path):
    """The tab's table read "input", "CycleGAN", "gatys" (the README's screenshot showed it): lower case beside its
    own caption "Gatys (lite0, 1 step)", where `cyclegan compare` prints the row "Gatys"."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")

    from cyclegan.web.app import build_app
    from cyclegan.web.serve import ServeOptions

    ckpt = tmp_path / "g.pt"
    _tiny_checkpoint(ckpt)
    app = build_app(ServeOptions(checkpoint=(str(ckpt),), device="cpu"), [ckpt], tmp_path / "work")
    photo, style = str(_png(tmp_path / "photo.png", 40, 30)), str(_png(tmp_path / "style.png", 40, 40, seed=1))
    _, table = _handler(app, "compare")(photo, "g.pt", "AtoB", [style], "lite0", 32, 1)
    rows = [line.split("|")[1].strip() for line in table.splitlines() if line.startswith("| ")][1:]
    assert rows == ["input", "CycleGAN", "Gatys"]


def _stoppers(app, cancel_id: str) -> dict:
    """How a visitor stops a job of `app`: its Cancel button's handler (elem_id `cancel_id`), and closing the page
    (every `unload` handler, as Gradio calls them), each called with the visitor's request."""
    unload = [f.fn for f in app.fns.values() if any(t[1] == "unload" for t in f.targets)]
    return {"Cancel": _cancel_of(app, cancel_id)[0], "closed": lambda request: [fn(request) for fn in unload]}


def _gatys_stopped_after_first_step(tmp_path, monkeypatch, cancel_id: str, how: str):
    """A page on a tiny checkpoint whose Gatys (monkeypatched) has its visitor stop the job (`cancel_id`'s button,
    or closing the page: `how`) after its first step, and fails the test if it runs on. Returns (app, the
    visitor's session, the steps run)."""
    from types import SimpleNamespace

    import torch

    from cyclegan.web.app import build_app
    from cyclegan.web.serve import ServeOptions

    ckpt = tmp_path / "tiny.pt"
    _tiny_checkpoint(ckpt)
    app = build_app(ServeOptions(checkpoint=(str(ckpt),), device="cpu"), [ckpt], tmp_path / "work")
    stop, session = _stoppers(app, cancel_id)[how], SimpleNamespace(session_hash="visitor")
    steps: list[int] = []

    def stylize(*args, callback, **kwargs):
        for step in range(1, 4):
            callback(step, torch.zeros(1, 3, 8, 8))
            steps.append(step)
            stop(session)
        pytest.fail("Gatys ran on after it was stopped")

    monkeypatch.setattr("cyclegan.style.stylize", stylize)
    return app, session, steps


@pytest.mark.parametrize("how", ["Cancel", "closed"])
def test_a_comparison_stops_on_cancel_and_when_its_page_is_closed(tmp_path, monkeypatch, how):
    """Compare runs minutes of Gatys in the one heavy queue, and had no Cancel: a comparison ran on after its page
    was closed (1000 steps: 78 s here before the next visitor's translation began). Now its Cancel, and closing or
    reloading its page (`unload`), stop Gatys at its next step, and the CycleGAN is not run after it; the tab says
    so where its table goes, not in an Error pop-up as if it had failed."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan import compare

    app, session, steps = _gatys_stopped_after_first_step(tmp_path, monkeypatch, "compare-cancel", how)
    comparison = _handler(app, "compare")
    monkeypatch.setattr(compare, "translate_timed", lambda *a, **k: pytest.fail("the CycleGAN ran after Cancel"))
    photo, style = str(_png(tmp_path / "photo.png", 64, 48)), str(_png(tmp_path / "style.png", 64, 64, seed=1))
    gallery, said = comparison(photo, "tiny.pt", "AtoB", [style], "lite0", 64, 10, session)
    # said in the tab, as Style transfer says it: it was an Error pop-up ("the comparison was cancelled")
    assert (gallery, said) == ([], "cancelled after 1 of 10 Gatys steps: nothing compared") and steps == [1]


def _stopped_after_first_pass(tmp_path, run, which: str, cancel: str, how: str):
    """The page on `run`, its handler `which` (Translate's `translate_live`, Video's `translate`) and a visitor who
    stops the job (`cancel`'s button, or by closing the page: `how`) once the generator's first pass (an image, a
    batch of frames) is through; returns (app, handler, model key, session, the passes seen)."""
    from types import SimpleNamespace

    from cyclegan.web.app import build_app
    from cyclegan.web.serve import ServeOptions

    app = build_app(ServeOptions(runs=(str(run),), device="cpu"), [], tmp_path / "work")
    handler = _handler(app, which)
    stop, session = _stoppers(app, cancel)[how], SimpleNamespace(session_hash="visitor")
    key = app.engine.models()[0].key
    passes: list[int] = []

    def visitor(_module, _inputs, _output) -> None:
        passes.append(1)
        stop(session)

    app.engine.generator(key, "AtoB").register_forward_hook(visitor)
    return app, handler, key, session, passes


@pytest.mark.parametrize("how", ["Cancel", "closed"])
def test_a_clip_stops_on_cancel_and_when_its_page_is_closed_leaving_no_output(tmp_path, run, how, capsys):
    """A clip may take minutes in the one heavy queue: the Video tab had no Cancel, and a clip ran on after its
    page was closed. Now both stop it before its next batch of frames, and no output is left. A page closed mid-job
    is said in the server's log, with how far the job got (it left no line at all)."""
    pytest.importorskip("av", reason="PyAV is not installed (pip install -e '.[video]')")
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.clipio import write_clip

    app, video, key, session, batches = _stopped_after_first_pass(tmp_path, run, "translate", "video-cancel", how)
    frames = [np.full((16, 16, 3), 9 * i, np.uint8) for i in range(24)]
    clip = write_clip(tmp_path / f"stopped_{how}.mp4", frames, rate=25)
    # said in the tab, not an Error pop-up ("stopped_Cancel.mp4: the translation was cancelled") as if it had failed
    assert video(str(clip), key, "AtoB", False, 0.0, session) == (
        None,
        None,
        f"stopped\\_{how}\\.mp4: cancelled; no clip written",
    )
    assert batches == [1] and list(app.engine.outputs.rglob(f"*stopped_{how}_AtoB*")) == []  # nor its temporary
    closed = "Video: a job stopped, its page closed or reloaded: stopped_closed.mp4: cancelled; no clip written"
    assert (closed in capsys.readouterr().err) == (how == "closed")


@pytest.mark.parametrize("how", ["Cancel", "closed"])
def test_translate_stops_on_cancel_and_when_its_page_is_closed(tmp_path, run, how, capsys):
    """Translate takes 50 images of 25 MP at once, minutes in the one heavy queue, and had no Cancel: the job ran on
    after its page was closed. Now both stop it at the generator's next call (the next image, or tile)."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from types import SimpleNamespace

    _, live, key, session, images = _stopped_after_first_pass(tmp_path, run, "translate_live", "translate-cancel", how)

    def translate(*args):  # the job's last answer
        *_, last = live(*args)
        return last

    photos = [str(_png(tmp_path / f"p{i}.png", 24, 20, seed=i)) for i in range(3)]
    # said in the tab with the images done, not an Error pop-up ("the translation was cancelled") as if it had failed
    gallery, downloads, said = translate(photos, key, "AtoB", session)
    assert said == "cancelled after 0 of 3 images" and gallery == downloads == [] and images == [1]
    closed = "Translate: a job stopped, its page closed or reloaded: cancelled before the first of 3 images\n"
    assert (closed in capsys.readouterr().err) == (how == "closed")  # the server's log: it said nothing
    # the next job is not stopped by the last one's Cancel; after the page closed, a new page's (a new session)
    after = session if how == "Cancel" else SimpleNamespace(session_hash="reloaded")
    assert translate(photos[:1], key, "AtoB", after)[1]


def _cancel_of(app, cancel_id: str):
    """(the handler of `app`'s Cancel button `cancel_id`, the elem_ids of the components it writes)."""
    button = next(b for b in app.blocks.values() if getattr(b, "elem_id", None) == cancel_id)
    dep = next(f for f in app.fns.values() if (button._id, "click") in f.targets)
    return dep.fn, [getattr(o, "elem_id", None) for o in dep.outputs]


def test_cancel_says_in_the_tab_what_it_stopped_and_translate_keeps_the_images_done(tmp_path, run, monkeypatch):
    """Gradio drops the answer of a job it cancels, so a job's own "cancelled ..." never reached the page: Cancel in
    Translate, Video and Compare left the tab blank, the images already translated gone too. Now the Cancel button
    writes the line itself in the tab (what the job had done by then), and Translate shows each image as it is
    done."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    pytest.importorskip("av", reason="PyAV is not installed (pip install -e '.[video]')")
    import torch

    from cyclegan.clipio import write_clip
    from cyclegan.web.app import build_app
    from cyclegan.web.serve import ServeOptions

    app = build_app(ServeOptions(runs=(str(run),), device="cpu"), [], tmp_path / "work")
    key, session, said = app.engine.models()[0].key, SimpleNamespace(session_hash="visitor"), []
    cancels = {tab: _cancel_of(app, f"{tab}-cancel") for tab in ("translate", "video", "compare")}
    assert {tab: writes for tab, (_, writes) in cancels.items()} == {
        "translate": ["translate-info"],
        "video": ["video-info"],
        "compare": ["compare-table"],
    }
    pressed = {"tab": "video", "at": 1}  # Cancel pressed while the generator's first pass runs
    passes = []

    def visitor(_module, _inputs, _output) -> None:
        passes.append(1)
        if len(passes) == pressed["at"]:
            said.append(cancels[pressed["tab"]][0](session))

    translate, video = (f.fn for f in app.fns.values() if f.name in ("translate_live", "translate"))
    photos = [str(_png(tmp_path / f"p{i}.png", 24, 20, seed=i)) for i in range(3)]
    job = translate(photos, key, "AtoB", session)
    first = next(job)  # the first image reaches the page at once; Cancel pressed on seeing it
    said.append(cancels["translate"][0](session))
    assert said == ["cancelled after 1 of 3 images; those are shown"]
    assert len(first[0]) == 2 and [len(gallery) for gallery, _, _ in job] == [2]  # input | translated, kept

    app.engine.generator(key, "AtoB").register_forward_hook(visitor)
    clip = write_clip(tmp_path / "walk.mp4", [np.full((16, 16, 3), 9 * i, np.uint8) for i in range(24)], rate=25)
    video(str(clip), key, "AtoB", False, 0.0, session)
    assert said[1:] == ["walk\\.mp4: cancelled; no clip written"]

    def stylize(*args, callback, **kwargs):  # Gatys, Cancel pressed after its first step
        callback(1, torch.zeros(1, 3, 8, 8))
        said.append(cancels["compare"][0](session))
        callback(2, torch.zeros(1, 3, 8, 8))
        pytest.fail("Gatys ran on after Cancel")

    monkeypatch.setattr("cyclegan.style.stylize", stylize)
    photo, style = str(_png(tmp_path / "photo.png", 64, 48)), str(_png(tmp_path / "style.png", 64, 64, seed=1))
    _handler(app, "compare")(photo, key, "AtoB", [style], "lite0", 64, 10, session)
    assert said[2:] == ["cancelled after 1 of 10 Gatys steps: nothing compared"]

    # with no job of the page running, a job still waiting in the queue is what Gradio drops: said so, as an "if
    # any" (a Cancel pressed on an idle page read "a job still waiting in the queue is dropped", as if one had been)
    assert (
        cancels["compare"][0](session)
        == "nothing of this page was running; its job waiting in the queue, if any, is dropped"
    )


def test_a_cancelled_translation_names_the_uploads_it_had_left_out(tmp_path, run):
    """Translate names an upload it leaves out (not an image, a clip) in a pop-up at the job's end, which a Cancel
    never reaches (Gradio drops a cancelled job): a visitor who cancelled after the first image never learnt that
    an upload had been refused. Now the Cancel's line names each upload left out by then, with its reason."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.web.app import build_app
    from cyclegan.web.serve import ServeOptions

    app = build_app(ServeOptions(runs=(str(run),), device="cpu"), [], tmp_path / "work")
    key, session = app.engine.models()[0].key, SimpleNamespace(session_hash="visitor")
    cancel, _ = _cancel_of(app, "translate-cancel")
    (tmp_path / "notes.png").write_text("text, not a PNG")
    uploads = [str(tmp_path / "notes.png"), *(str(_png(tmp_path / f"p{i}.png", 24, 20, seed=i)) for i in range(2))]
    job = _handler(app, "translate_live")(uploads, key, "AtoB", session)
    next(job)  # the first image on the page; Cancel pressed on seeing it
    said = cancel(session)
    assert said.startswith("cancelled after 1 of 3 images; those are shown; left out: notes\\.png is not an image")
    *_, (_, _, last) = job  # the job's own answer says it too (the Python caller's, and a closed page's)
    assert last.startswith(said + "\n\n| image |")


def test_with_two_visitors_running_jobs_each_cancel_stops_its_own(tmp_path):
    """With `--concurrency 2` two pages' jobs run at once; each page's Cancel stops its own job and says its own
    line, the other running on (the stop flags are per page session and per tab)."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.web.engine import Stops

    stops, a, b = Stops(), SimpleNamespace(session_hash="a"), SimpleNamespace(session_hash="b")
    with stops.flag(a, said="a's line") as stop_a, stops.flag(b, said="b's line") as stop_b:
        assert stops.cancel(b) == "b's line"
        assert stop_b.is_set() and not stop_a.is_set()
        assert stops.cancel(a) == "a's line" and stop_a.is_set()


def test_a_failed_job_clears_the_last_result_but_not_a_cancel_s_line(tmp_path, run):
    """Gradio left a tab's outputs as they were under a failed job's Error pop-up: the last job's images and table
    read as the new job's result. Now each heavy job's failure empties its tab's outputs and says so in its line;
    a Cancel's line is kept (Gradio reports a job cancelled before its first answer as failed), and so is a running
    job's result when the page's second job is refused (--max-jobs-per-visitor)."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.web.app import build_app
    from cyclegan.web.engine import FAILED, HEAVY, Stops
    from cyclegan.web.serve import ServeOptions

    app = build_app(ServeOptions(runs=(str(run),)), [], tmp_path / "work")
    jobs = {i: f for i, f in app.fns.items() if f.concurrency_id == HEAVY}
    assert len(jobs) == 4  # Translate, Video, Style transfer, Compare
    for index, job in jobs.items():
        (on_failure,) = [f for f in app.fns.values() if f.trigger_after == index and f.trigger_only_on_failure]
        assert on_failure.outputs == job.outputs
        page = SimpleNamespace(session_hash=f"page{index}")
        cleared = on_failure.fn(page)
        assert [v for v in cleared if v is not None] == [FAILED]  # the tab's line; images, files, clip emptied
        # the tab's Stops, as its Cancel button reaches it
        tab_stops = next(c.cell_contents for c in on_failure.fn.__closure__ if isinstance(c.cell_contents, Stops))
        tab_stops.cancel(page)
        assert all(v is not None and v is not FAILED for v in on_failure.fn(page))  # the Cancel's line stays
        assert on_failure.fn(page) == cleared  # once: the next job's failure clears again
        with tab_stops.flag(page):  # its own job running: a second one refused leaves its results
            assert all(v is not None and v is not FAILED for v in on_failure.fn(page))


def test_a_job_with_nothing_uploaded_says_that_an_upload_the_server_refused_was_not_kept(tmp_path, run):
    """An upload over --max-upload-mb gets the server's 413 line and leaves the box empty; pressing Translate then
    said only "upload one or more images ... first", as if nothing had been sent. Each tab's pop-up for an empty box
    now says that none came with the job and that an upload over the limit is refused and not kept (the server
    cannot tell which page sent it: an upload names no page)."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.web.app import build_app
    from cyclegan.web.serve import ServeOptions

    app = build_app(ServeOptions(runs=(str(run),), max_upload_mb=0.5), [], tmp_path / "work")
    key, page = app.engine.models()[0].key, SimpleNamespace(session_hash="page")
    photo = str(_png(tmp_path / "photo.png", 24, 20))
    translate, video = _handler(app, "translate_live"), _handler(app, "translate")
    stylise, comparison = _handler(app, "stylize_live"), _handler(app, "compare")
    said = [
        _refusal(lambda: list(translate(None, key, "AtoB", page))),
        _refusal(lambda: video(None, key, "AtoB", False, 0.0, page)),
        _refusal(lambda: list(stylise(None, [photo], "lite0", 32, 2, page))),
        _refusal(lambda: list(stylise(photo, None, "lite0", 32, 2, page))),
        _refusal(lambda: comparison(None, key, "AtoB", [photo], "lite0", 32, 2, page)),
        _refusal(lambda: comparison(photo, key, "AtoB", None, "lite0", 32, 2, page)),
    ]
    why = (
        ": none came with the job (a file over this server's limit of 0.5 MB per upload, or sent while its upload "
        "space was full, is refused and not kept)"
    )
    assert [s.removesuffix(why) for s in said] == [
        "upload one or more images (or pick an example) first",
        "upload a clip first",
        "upload a content image first",
        "upload at least one style image",
        "upload a photo first",
        "upload at least one style reference (an image of the target domain) for Gatys",
    ]
    assert all(s.endswith(why) for s in said)


def test_a_job_refused_at_the_queue_after_a_cancel_clears_the_cancelled_job_s_result(tmp_path, run):
    """A Cancel after a job's first answer (which Gradio does not report as failed) was remembered until the tab's
    next job began; a next job refused at the queue (--max-jobs-per-visitor, --max-queue) never begins, so its
    failure left the cancelled job's partial result under its error. Now the tab forgets the Cancel as its next job
    joins the queue or is refused there; another tab's job leaves it."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    import asyncio

    from cyclegan.web import app as app_module
    from cyclegan.web.app import build_app
    from cyclegan.web.engine import FAILED, HEAVY, Stops
    from cyclegan.web.serve import ServeOptions

    app = build_app(ServeOptions(runs=(str(run),)), [], tmp_path / "work")

    async def refused(body, request, username):  # as jobs_per_visitor or a full queue answers
        return False, "this page already has 3 jobs waiting or running", "error"

    app._queue.push = refused
    app_module.cancels_end_at_next_job(app)
    jobs = [i for i, f in app.fns.items() if f.concurrency_id == HEAVY]
    for index in jobs:
        (on_failure,) = [f for f in app.fns.values() if f.trigger_after == index and f.trigger_only_on_failure]
        tab_stops = next(c.cell_contents for c in on_failure.fn.__closure__ if isinstance(c.cell_contents, Stops))
        page = SimpleNamespace(session_hash=f"page{index}")

        def refuse(fn_index: int, page: SimpleNamespace = page) -> None:  # the page's next job of that tab
            asyncio.run(app._queue.push(SimpleNamespace(fn_index=fn_index, session_hash=page.session_hash), None, None))

        with tab_stops.flag(page):  # running, then cancelled before its first answer: reported failed
            tab_stops.cancel(page)
        for other in jobs:  # another tab's job of the page refused meanwhile: this tab's Cancel still stands
            if other != index:
                refuse(other)
        assert all(v is not None and v is not FAILED for v in on_failure.fn(page))  # the Cancel's line stays
        with tab_stops.flag(page):  # running, its first result shown, then cancelled: no failure reported
            tab_stops.cancel(page)
        refuse(index)
        assert [v for v in on_failure.fn(page) if v is not None] == [FAILED]  # the partial result emptied


def test_the_vgg19_weights_missing_on_the_page_offers_no_weights_option(tmp_path, monkeypatch):
    """The Style tab's vgg19 without cached weights said "(or pass --weights FILE)": the page has no such
    option (a hostile probe). The page's message offers the download and lite0 only; the CLI's keeps --weights."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    import torch

    from cyclegan import pretrained
    from cyclegan.web.app import build_app
    from cyclegan.web.serve import ServeOptions

    monkeypatch.setattr(pretrained, "vgg19_cached_path", lambda: tmp_path / "cache" / "vgg19-dcbb9e9d.pth")

    def offline(*a, **k):
        raise OSError("no network")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(CycleGANError, match="or give --weights FILE, or use --backbone lite0"):
        pretrained.vgg19_state_dict()
    app = build_app(ServeOptions(device="cpu"), [], tmp_path / "work")
    stylise = _handler(app, "stylize_live")
    photo, style = str(_png(tmp_path / "photo.png", 64, 48)), str(_png(tmp_path / "style.png", 64, 64, seed=1))
    message = _refusal(lambda: list(stylise(photo, [style], "vgg19", 64, 10, None)))
    assert message.startswith("VGG19 weights are not cached at vgg19-dcbb9e9d.pth: download https://"), message
    assert "--weights" not in message and message.endswith("(download failed: no network)"), message


def test_a_one_way_models_direction_is_chosen_with_it(tmp_path):
    """The direction stayed at AtoB when a BtoA-only model (pix2pix or CUT trained BtoA) was chosen, its label
    "(BtoA only)", so every job failed until the visitor changed it; it now follows the model, in each tab."""
    gr = pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")

    from cyclegan.web.app import build_app
    from cyclegan.web.engine import DIRECTIONS, Engine
    from cyclegan.web.serve import ServeOptions

    files = []
    for name, family, extra in (("a_cut", "cut", {"direction": "BtoA"}), ("both", "cyclegan", {})):
        run = tmp_path / "runs" / name
        run.mkdir(parents=True)
        cfg = _tiny_checkpoint(run / "checkpoint.pt", family=family, **extra)
        (run / "config.json").write_text(json.dumps(cfg.to_dict()))
        files.append(run)
    app = build_app(ServeOptions(runs=(str(tmp_path / "runs"),), device="cpu"), [], tmp_path / "work")
    radios = [b for b in app.blocks.values() if isinstance(b, gr.Radio) and b.label.startswith("direction")]
    # the first model listed, runs/a_cut: its one direction only (the other was offered, and failed when chosen)
    assert [([c[0] for c in r.choices], r.value) for r in radios] == [(["BtoA"], "BtoA")] * 3
    follow = [f for f in app.fns.values() if f.name == "chosen"]
    assert len(follow) == 3
    opts = ServeOptions(runs=(str(tmp_path / "runs"),), device="cpu")
    keys = {m.path: m.key for m in Engine(opts, [], tmp_path / "w").models()}
    cut, both = (keys[str(run / "checkpoint.pt")] for run in files)
    for f in follow:
        assert (f.fn(cut, "AtoB")["choices"], f.fn(cut, "AtoB")["value"]) == (["BtoA"], "BtoA")
        assert (f.fn(both, "BtoA")["choices"], f.fn(both, "BtoA")["value"]) == (DIRECTIONS, "BtoA")  # kept


def test_a_one_way_run_given_to_checkpoint_is_named_and_followed_as_under_runs(tmp_path):
    """A CUT run trained BtoA, given to --checkpoint (as its folder or its checkpoint.pt), was offered as two-way:
    no "(BtoA only)" and the direction left at AtoB, so each job failed until the visitor changed it; under --runs
    the same run was named and its direction followed. A copy outside the run is read for its config too."""
    gr = pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.web.app import build_app
    from cyclegan.web.runs import check_checkpoint_files
    from cyclegan.web.serve import ServeOptions

    run = tmp_path / "a_cut"
    run.mkdir()
    cfg = _tiny_checkpoint(run / "checkpoint.pt", family="cut", direction="BtoA")
    (run / "config.json").write_text(json.dumps(cfg.to_dict()))
    shutil.copy(run / "checkpoint.pt", tmp_path / "loose.pt")
    files = check_checkpoint_files([str(run), str(tmp_path / "loose.pt")])
    models = find_models([], files)
    offered = [(m.label, m.directions) for m in models]
    assert offered == [("a_cut (BtoA only)", ("BtoA",)), ("loose.pt (BtoA only)", ("BtoA",))]
    app = build_app(ServeOptions(checkpoint=(str(run),), device="cpu"), files[:1], tmp_path / "work")
    radios = [b for b in app.blocks.values() if isinstance(b, gr.Radio) and b.label.startswith("direction")]
    assert [([c[0] for c in r.choices], r.value) for r in radios] == [(["BtoA"], "BtoA")] * 3


def test_a_file_of_one_cyclegan_generator_is_offered_in_the_direction_it_holds(tmp_path):
    """The page took a --checkpoint file's directions from a run's config.json, so `cyclegan.save_generator`'s
    file of a CycleGAN's F alone was offered both ways, AtoB first: each job failed until the visitor changed
    it. Now the file's own config and generators are read (without torch, running nothing it names)."""
    import cyclegan
    from cyclegan.web.runs import checkpoint_outline

    cfg = _tiny_checkpoint(tmp_path / "both.pt")
    F = cyclegan.save_generator(cyclegan.load_generator(tmp_path / "both.pt", "BtoA"), tmp_path / "F.pt")
    G = cyclegan.save_generator(cyclegan.load_generator(tmp_path / "both.pt", "AtoB"), tmp_path / "G.pt")
    (tmp_path / "other.pth").write_bytes((tmp_path / "both.pt").read_bytes()[:100])  # damaged: unknown, both
    offered = [(m.label, m.directions) for m in find_models([], [F, G, tmp_path / "both.pt", tmp_path / "other.pth"])]
    assert offered == [
        ("F.pt (BtoA only)", ("BtoA",)),
        ("G.pt (AtoB only)", ("AtoB",)),
        ("both.pt", ("AtoB", "BtoA")),
        ("other.pth", ("AtoB", "BtoA")),
    ]
    assert checkpoint_outline(F)["config"] == cfg.to_dict()
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    import torch

    torch.save({"format": FORMAT, "models": {"G": Payload()}}, tmp_path / "evil.pt")
    assert checkpoint_outline(tmp_path / "evil.pt") is None and not marker.exists()


def test_a_checkpoint_in_torch_s_legacy_format_is_offered_in_the_direction_it_holds(tmp_path):
    """`checkpoint_outline` read zip-format files only: a checkpoint saved in torch's legacy (non-zip) format, as
    `torch.save(..., _use_new_zipfile_serialization=False)` and old tools write it, was taken for another project's
    file, so a one-way CUT was offered both ways, AtoB first, and each job failed until the visitor changed it.
    Now the legacy pickle is read too (without torch, running nothing it names); a damaged one is unknown, both."""
    import torch

    from cyclegan.web.runs import checkpoint_outline

    cfg = _tiny_checkpoint(tmp_path / "zip.pt", family="cut", direction="BtoA")
    legacy = tmp_path / "legacy.pt"
    torch.save(torch.load(tmp_path / "zip.pt", weights_only=True), legacy, _use_new_zipfile_serialization=False)
    assert checkpoint_outline(legacy)["config"] == cfg.to_dict()
    (tmp_path / "cut_short.pt").write_bytes(legacy.read_bytes()[:300])
    offered = [(m.label, m.directions) for m in find_models([], [legacy, tmp_path / "cut_short.pt"])]
    assert offered == [("legacy.pt (BtoA only)", ("BtoA",)), ("cut_short.pt", ("AtoB", "BtoA"))]
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    torch.save(
        {"format": FORMAT, "models": {"G": Payload()}}, tmp_path / "evil.pt", _use_new_zipfile_serialization=False
    )
    assert checkpoint_outline(tmp_path / "evil.pt") is None and not marker.exists()


def test_a_published_generator_is_offered_in_the_direction_it_translates(tmp_path, monkeypatch):
    """`serve --checkpoint pretrained:zebra2horse` was offered both ways with AtoB set: its one generator turned
    zebras into horses all the same, named AtoB in the output's name. Now it is "(BtoA only)", as the catalogue says,
    and BtoA is the one direction the page offers for it."""
    import torch

    from cyclegan.web.runs import check_checkpoint_files

    monkeypatch.setenv("CYCLEGAN_HOME", str(tmp_path / "home"))
    (tmp_path / "home" / "pretrained").mkdir(parents=True)
    torch.save(tiny_published_generator().state_dict(), tmp_path / "home" / "pretrained" / "zebra2horse.pth")
    files = check_checkpoint_files(["pretrained:zebra2horse"])  # in the cache: no download
    assert [(m.label, m.directions) for m in find_models([], files)] == [("zebra2horse.pth (BtoA only)", ("BtoA",))]
    # and the page's direction radios offer that one only: AtoB was offered, and failed when chosen
    gr = pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.web.app import build_app
    from cyclegan.web.serve import ServeOptions

    app = build_app(ServeOptions(checkpoint=("pretrained:zebra2horse",), device="cpu"), files, tmp_path / "work")
    radios = [b for b in app.blocks.values() if isinstance(b, gr.Radio) and b.label.startswith("direction")]
    assert [([c[0] for c in r.choices], r.value) for r in radios] == [(["BtoA"], "BtoA")] * 3


def test_compare_tab_names_a_published_generator_a_cyclegan_as_the_command_does(tmp_path, monkeypatch):
    """`compare --checkpoint pretrained:zebra2horse` named its column CycleGAN, but the page, which knows the model
    by its list's name (zebra2horse.pth (BtoA only)), captioned the same generator "generator" (another project's)."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    import torch

    from cyclegan.web.app import build_app
    from cyclegan.web.runs import check_checkpoint_files
    from cyclegan.web.serve import ServeOptions

    monkeypatch.setenv("CYCLEGAN_HOME", str(tmp_path / "home"))
    (tmp_path / "home" / "pretrained").mkdir(parents=True)
    torch.save(tiny_published_generator().state_dict(), tmp_path / "home" / "pretrained" / "zebra2horse.pth")
    files = check_checkpoint_files(["pretrained:zebra2horse"])  # in the cache: no download
    app = build_app(ServeOptions(checkpoint=("pretrained:zebra2horse",), device="cpu"), files, tmp_path / "work")
    photo, style = str(_png(tmp_path / "photo.png", 40, 30)), str(_png(tmp_path / "style.png", 40, 40, seed=1))
    key = "zebra2horse.pth (BtoA only)"
    gallery, table = _handler(app, "compare")(photo, key, "BtoA", [style], "lite0", 32, 1)
    assert [caption for _, caption in gallery][1] == "CycleGAN (BtoA)" and "\n| CycleGAN | " in table


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("signum, status, said", [("SIGHUP", 129, "hung up"), ("SIGTERM", 143, "terminated")])
def test_a_closed_terminal_stops_the_server_as_kill_does(tmp_path, signum, status, said):
    """A closed terminal's SIGHUP killed `cyclegan serve` where it stood: its folder of uploads and outputs stayed
    in the temporary folder, no word said. SIGTERM cleaned up but exited 0 after Gradio's "Keyboard interruption
    in main thread". Now both as the other commands stop: the folder removed, one line, exit 129 or 143."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    import signal
    import urllib.request

    port = free_port()
    temp = tmp_path / "tmp"
    temp.mkdir()
    script = f"""
import signal, sys
from cyclegan.cli import main
signal.signal(signal.SIGHUP, signal.SIG_DFL)  # as in a terminal, even where this test runs under nohup
sys.exit(main(["serve", "--runs", {str(tmp_path)!r}, "--port", "{port}"]))
"""
    env = {**server_env(), "TMPDIR": str(temp)}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for _ in range(900):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2):
                    break
            except OSError:
                assert proc.poll() is None, proc.communicate()
                time.sleep(0.1)
        assert any(temp.iterdir())  # the server's own folder
        proc.send_signal(getattr(signal, signum))
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == status, err
    assert err.decode().endswith(f"{said}: the server stopped\n") and b"Traceback" not in err
    assert b"Keyboard interruption" not in out
    assert not any(temp.iterdir())


def _serve_stopped_at(
    tmp_path, build: str, launch: str, call: str | None = None
) -> tuple[subprocess.CompletedProcess, Path]:
    """`cyclegan serve` through `cli.main` with the page's two steps stubbed (no gradio needed): `build` and
    `launch` are the bodies of `build_app(opts, files, work)` and `launch(app, opts, block)`, which put a
    SIGTERM at a chosen moment. `call`: the script's last lines instead, given RUNS and PORT. Returns the
    finished process and the TMPDIR its folder was made in."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    call = call or 'from cyclegan.cli import main\nsys.exit(main(["serve", "--runs", RUNS, "--port", str(PORT)]))'
    script = f"""
import os, signal, sys, time, types
sys.modules["gradio"] = types.ModuleType("gradio")
page = sys.modules["cyclegan.web.app"] = types.ModuleType("cyclegan.web.app")
def build_app(opts, files, work):
{build}
def launch(app, opts, block):
{launch}
page.build_app, page.launch = build_app, launch
RUNS, PORT = {str(tmp_path)!r}, {free_port()}
{call}
"""
    env = {**server_env(), "TMPDIR": str(temp)}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    return done, temp


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_sigterm_while_the_page_is_built_stops_the_server_with_its_line(tmp_path):
    """SIGTERM was turned into the stop only around Gradio's launch: one while gradio imported and the page was
    built (seconds) killed `cyclegan serve` without a word, its folder of uploads left in the temporary folder.
    Now the whole command stops as the other commands do: the folder removed, one line, exit 143."""
    build = "    signal.raise_signal(signal.SIGTERM)\n    time.sleep(5)"
    done, temp = _serve_stopped_at(tmp_path, build, "    raise AssertionError('launched')")
    assert (done.returncode, done.stderr) == (143, "terminated: the server stopped\n")
    assert not any(temp.iterdir())


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_serve_called_from_python_takes_a_sigterm_while_the_page_is_built_as_its_stop(tmp_path):
    """`serve(opts)` from Python (not the command line) turned SIGTERM into its stop only around Gradio's launch:
    one while gradio imported and the page was built killed the caller's process, its folder of uploads left in
    the temporary folder. Now `serve` holds it over its whole call: `Terminated` reaches the caller, the folder
    removed."""
    build = "    signal.raise_signal(signal.SIGTERM)\n    time.sleep(5)"
    call = (
        "from cyclegan.process import Terminated\n"
        "from cyclegan.web.serve import ServeOptions, serve\n"
        "try:\n"
        "    serve(ServeOptions(runs=(RUNS,), port=PORT))\n"
        "except Terminated as e:\n"
        "    sys.exit(f'stopped: {e.word}, {e.status}')"
    )
    done, temp = _serve_stopped_at(tmp_path, build, "    raise AssertionError('launched')", call)
    assert (done.returncode, done.stderr) == (1, "stopped: terminated, 143\n")
    assert not any(temp.iterdir())


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_sigterm_whose_stop_another_error_replaced_on_its_way_out_of_gradio_is_said_as_the_stop(tmp_path):
    """A SIGTERM after the page answered is raised wherever the main thread is in Gradio's launch or close; a
    clean-up there that fails as the stop unwinds (its error raised in a `finally`, the stop its context) carried
    that error, not the stop, out of `run_serve`: `cli.main` then said a bare `terminated` (seen once in CI, in
    `test_a_closed_terminal_stops_the_server_as_kill_does`). Now any error after the signal is the server's stop."""
    launch = (
        "    print('cyclegan serve: the page is at http://127.0.0.1:1/', flush=True)\n"
        "    try:\n"
        "        signal.raise_signal(signal.SIGTERM)\n"
        "        time.sleep(5)\n"
        "    finally:\n"
        "        raise RuntimeError('Event loop is closed')"
    )
    done, temp = _serve_stopped_at(tmp_path, "    return None", launch)
    assert (done.returncode, done.stderr) == (143, "terminated: the server stopped\n")
    assert not any(temp.iterdir())


def test_the_video_tab_without_opencv_names_both_needs_in_the_page_s_words_before_the_clip(
    engine, tmp_path, monkeypatch
):
    """Without OpenCV the Video tab went straight to the clip, which failed on the flow blend alone (the shared
    statistics' need was the next try's error), naming the command line's `--norm-stats frame`, which the page
    wrote as '"(a) ..." frame'. Now both needs, before the clip, in the words of the tab's box and slider."""
    pytest.importorskip("av", reason="PyAV is not installed (pip install -e '.[video]')")
    from cyclegan.web.engine import on_page
    from cyclegan.web.video_tab import BLEND_SLIDER, SHARED_BOX, VideoTab

    clip = tmp_path / "clip.gif"
    frames = [Image.new("RGB", (16, 12), c) for c in ("red", "blue", "green")]
    frames[0].save(clip, save_all=True, append_images=frames[1:], duration=100)
    monkeypatch.setitem(sys.modules, "cv2", None)  # `import cv2` raises ImportError
    key = engine.models()[0].key
    with pytest.raises(CycleGANError) as e:
        VideoTab(engine).translate(str(clip), key, "AtoB", True, 0.5)
    said = on_page(str(e.value), {"--norm-stats": SHARED_BOX, "--flow-blend": BLEND_SLIDER})
    assert said.startswith(f'the flow blend and the scene-cut test of "{SHARED_BOX}" need OpenCV: ')
    assert said.endswith(f'(or "{BLEND_SLIDER}": 0 and "{SHARED_BOX}" unticked)') and "--" not in said
    assert not list((tmp_path / "work").rglob("clip_AtoB*"))  # refused before the clip: nothing written
    _, target, line = VideoTab(engine).translate(str(clip), key, "AtoB", False, 0.0)  # both off: no OpenCV needed
    assert "3 frames of 16x12" in line


def test_a_flow_blend_over_its_memory_on_the_video_tab_says_what_the_visitor_can_do(tmp_path, run, monkeypatch):
    """Frames over about 15.6 MP with the flow blend on were refused naming "--max-memory 1.6, a smaller --size",
    neither of which the page has nor its visitor can set. Now the line names the blend's control and a smaller
    upload. The blend's bytes a pixel raised here stand for frames that large."""
    pytest.importorskip("av", reason="PyAV is not installed (pip install -e '.[video]')")
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan import temporal
    from cyclegan.web.engine import Engine, on_page
    from cyclegan.web.serve import ServeOptions
    from cyclegan.web.video_tab import VideoTab

    engine = Engine(ServeOptions(runs=(str(run),), device="cpu"), [], tmp_path / "work")
    key = engine.models()[0].key
    clip = tmp_path / "walk.gif"
    frames = [Image.new("RGB", (16, 12), c) for c in ("red", "blue", "green")]
    frames[0].save(clip, save_all=True, append_images=frames[1:], duration=100)
    monkeypatch.setattr(temporal, "BLEND_BYTES", 10**7)  # 16x12 frames: 1.9 GB, over the 1.25 GB the page allows
    with pytest.raises(CycleGANError) as e:
        VideoTab(engine).translate(str(clip), key, "AtoB", False, 0.5)
    said = on_page(str(e.value), {"--flow-blend": "(b) flow blend (0: off)"})
    assert said == (
        "walk.gif's frames of 16x12 need about 1.9 GB for the flow blend, over the 1.25 GB this server gives it "
        '(frames of up to 0.000125 MP; cyclegan serve --max-memory): set "(b) flow blend (0: off)": 0, or upload '
        "the clip at a smaller size"
    )
    _, target, line = VideoTab(engine).translate(str(clip), key, "AtoB", False, 0.0)  # the blend off: translated
    assert "3 frames of 16x12" in line


def test_serve_max_memory_holds_the_page_s_tiles_and_flow_blend(tmp_path, run, monkeypatch, capsys):
    """`serve` had no --max-memory: the page held the flow blend to translate's default 1.25 GB, so an operator
    could not allow it for frames between 15.6 MP and the 25 MP --max-pixels lets in, and Translate's tiles were
    that default's too. Now `serve --max-memory` (translate's option, one definition) holds both tabs' work."""
    pytest.importorskip("av", reason="PyAV is not installed (pip install -e '.[video]')")
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan import inference, temporal
    from cyclegan.cli import main
    from cyclegan.web.engine import Engine
    from cyclegan.web.serve import ServeOptions
    from cyclegan.web.translate_tab import TranslateTab
    from cyclegan.web.video_tab import VideoTab

    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    assert "--max-memory" in capsys.readouterr().out
    engine = Engine(ServeOptions(runs=(str(run),), device="cpu", max_memory=2.0), [], tmp_path / "work")
    key = engine.models()[0].key
    clip = _animated(tmp_path / "walk.gif", 3)  # 40x50 frames
    monkeypatch.setattr(temporal, "BLEND_BYTES", 8 * 10**5)  # 40x50 frames: 1.6 GB, over 1.25 GB, under 2 GB
    _, _, line = VideoTab(engine).translate(str(clip), key, "AtoB", False, 0.5)
    assert "3 frames of 40x50" in line
    asked = []
    real = inference.translate
    monkeypatch.setattr(inference, "translate", lambda *a, **k: asked.append(k) or real(*a, **k))
    TranslateTab(engine).translate([str(_png(tmp_path / "p.png", 24, 20))], key, "AtoB")
    assert asked == [{"max_memory": 2.0, "max_pixels": engine.opts.max_pixels}]  # the server's own limits


@pytest.mark.parametrize("how", ["Cancel", "closed"])
def test_a_style_transfer_stops_on_cancel_and_when_its_page_is_closed(tmp_path, monkeypatch, how):
    """The Style tab's Cancel stops Gatys at its next step; closing or reloading the page (`unload`) does too, as
    the other tabs' jobs (its own stop flags were a copy of `engine.Stops` that `unload` did not reach)."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    app, session, steps = _gatys_stopped_after_first_step(tmp_path, monkeypatch, "style-cancel", how)
    live = _handler(app, "stylize_live")
    photo, style = str(_png(tmp_path / "photo.png", 64, 48)), str(_png(tmp_path / "style.png", 64, 64, seed=1))
    said = [update[1] for update in live(photo, [style], "lite0", 64, 10, session)]
    assert said[-1].startswith("cancelled after") and steps == [1]


def test_a_job_whose_page_was_closed_while_it_waited_in_the_queue_is_dropped(tmp_path, run, monkeypatch):
    """Closing a page stopped its running job only: one still waiting in the queue ran when its turn came, for
    nobody, holding the one heavy queue as long. Now each tab drops it then, before it loads or decodes anything;
    the server's log says so in one line. Another page (a reloaded one is a new session) is not held back."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from types import SimpleNamespace

    from cyclegan.web.app import build_app
    from cyclegan.web.serve import ServeOptions

    app = build_app(ServeOptions(runs=(str(run),), device="cpu"), [], tmp_path / "work")
    key = app.engine.models()[0].key
    gone, other = SimpleNamespace(session_hash="gone"), SimpleNamespace(session_hash="other")
    _stoppers(app, "translate-cancel")["closed"](gone)
    monkeypatch.setattr(app.engine, "image", lambda *a: pytest.fail("a closed page's job ran"))
    photo = str(_png(tmp_path / "photo.png", 24, 20))
    translate, video = _handler(app, "translate_live"), _handler(app, "translate")
    dropped = "its page was closed while the job waited in the queue: dropped"
    jobs = {
        "Translate": lambda r: list(translate([photo], key, "AtoB", r)),
        "Video": lambda r: video(photo, key, "AtoB", False, 0.0, r),
        "Style": lambda r: list(_handler(app, "stylize_live")(photo, [photo], "lite0", 64, 10, r)),
        "Compare": lambda r: _handler(app, "compare")(photo, key, "AtoB", [photo], "lite0", 64, 10, r),
    }
    for tab, job in jobs.items():
        assert _refusal(lambda job=job: job(gone)) == dropped, tab
    assert (
        _refusal(lambda: jobs["Video"](other)) == "photo.png is not a clip (.mp4, .mov, .m4v, .mkv, .webm, .gif, .webp)"
    )


def test_the_style_tab_keeps_the_contents_colours_when_asked(tmp_path):
    """`cyclegan stylize --preserve-color` had no place on the page: an artist there always got the painting's
    palette. The tab's checkbox keeps the content's colours, in the steps shown and the result (a grey photo stays
    grey under red and blue stripes); unticked, the stripes' colours come through."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.web.app import build_app
    from cyclegan.web.serve import ServeOptions

    ckpt = tmp_path / "tiny.pt"
    _tiny_checkpoint(ckpt)
    app = build_app(ServeOptions(checkpoint=(str(ckpt),), device="cpu"), [ckpt], tmp_path / "work")
    grey = np.asarray(Image.open(_png(tmp_path / "c.png", 48, 48)).convert("L"))
    Image.fromarray(grey).convert("RGB").save(tmp_path / "grey.png")
    y, x = np.mgrid[:48, :48]
    stripes = np.where((((x + y) // 4) % 2 == 0)[..., None], [230, 30, 30], [20, 40, 220]).astype(np.uint8)
    Image.fromarray(stripes).save(tmp_path / "stripes.png")
    session = SimpleNamespace(session_hash="visitor")
    live = _handler(app, "stylize_live")

    def chroma(path: str) -> int:  # the largest gap between a pixel's channels
        a = np.asarray(Image.open(path).convert("RGB"), dtype=int)
        return int((a.max(-1) - a.min(-1)).max())

    kept = list(
        live(str(tmp_path / "grey.png"), [str(tmp_path / "stripes.png")], "lite0", 48, 10, session, preserve_color=True)
    )
    assert len(kept) > 1 and all(chroma(image) <= 2 for image, *_ in kept)  # every step shown, and the result
    painted = list(live(str(tmp_path / "grey.png"), [str(tmp_path / "stripes.png")], "lite0", 48, 10, session))
    assert chroma(painted[-1][0]) > 20


def test_the_style_tab_keeps_a_cut_outs_transparency_as_stylize_does(tmp_path):
    """`cyclegan stylize --out X.png` keeps a transparent content's alpha; the Style tab, whose result is a PNG too,
    read the upload as RGB and gave the cut-out back opaque on white, without a word. Now its PNG keeps it."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.web.app import build_app
    from cyclegan.web.serve import ServeOptions

    ckpt = tmp_path / "tiny.pt"
    _tiny_checkpoint(ckpt)
    app = build_app(ServeOptions(checkpoint=(str(ckpt),), device="cpu"), [ckpt], tmp_path / "work")
    rgba = np.zeros((30, 40, 4), dtype=np.uint8)
    rgba[..., :3] = 120
    rgba[5:25, 10:30, 3] = 255  # the figure; the rest fully transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "cut.png")
    session = SimpleNamespace(session_hash="visitor")
    *_, (image, said, download) = _handler(app, "stylize_live")(
        str(tmp_path / "cut.png"), [str(_png(tmp_path / "s.png", 32, 32))], "lite0", 40, 10, session
    )
    assert said.startswith("done:") and download == image
    out = Image.open(image)
    assert out.mode == "RGBA" and out.size == (40, 30)
    alpha = np.asarray(out.getchannel("A"))
    assert alpha[0, 0] == 0 and alpha[15, 20] == 255


def test_a_cancelled_style_transfer_offers_its_best_image_so_far(tmp_path, monkeypatch):
    """`cyclegan stylize` keeps its best image so far on Ctrl-C; the Style tab's Cancel threw the minutes of
    Gatys away ("cancelled after 41.0 s", nothing to download). Then the job offered it, but Gradio drops what a
    cancelled job yields: in the browser the tab still showed a last step, no line, nothing to download. Now the
    Cancel button's own answer is that image, its line and its download, as the CLI keeps it."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    import threading

    from cyclegan import style
    from cyclegan.web.app import build_app
    from cyclegan.web.serve import ServeOptions

    ckpt = tmp_path / "tiny.pt"
    _tiny_checkpoint(ckpt)
    app = build_app(ServeOptions(checkpoint=(str(ckpt),), device="cpu"), [ckpt], tmp_path / "work")
    (cancel, writes), session = _cancel_of(app, "style-cancel"), SimpleNamespace(session_hash="visitor")
    assert writes == ["style-info", "style-image", None]  # the line, the image, the download
    real, pressed = style.stylize, []

    def stylize(*args, callback, **kwargs):
        def visitor(step, x):
            callback(step, x)
            if not pressed:  # after the first step, from the page's thread: the next step stops
                pressed.append(threading.Thread(target=lambda: pressed.append(cancel(session)), daemon=True))
                pressed[0].start()
                time.sleep(0.2)

        return real(*args, callback=visitor, **kwargs)

    monkeypatch.setattr(style, "stylize", stylize)
    photo, ref = str(_png(tmp_path / "photo.png", 64, 48)), str(_png(tmp_path / "style.png", 64, 64, seed=1))
    *_, (image, said, download) = _handler(app, "stylize_live")(photo, [ref], "lite0", 64, 10, session)
    joined(pressed[0])
    assert pressed[1] == (said, image, download)  # what the page shows: the Cancel's answer
    assert said.startswith("cancelled: the best image of 2 of 10 steps in "), said
    assert download == image and Image.open(download).size == (64, 48)


def test_the_video_tab_shows_its_clip_s_warnings_to_the_visitor(tmp_path, run, capsys):
    """The Video tab's warnings (a stream left out of the translation, as `cyclegan translate` names it) went to
    the server's log alone: the visitor got a clip without its timed metadata, unsaid. Now each is a pop-up,
    naming the clip as the visitor named it (not by the server's temporary path)."""
    av = pytest.importorskip("av", reason="PyAV is not installed (pip install -e '.[video]')")
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from fractions import Fraction

    from cyclegan.web.engine import Engine
    from cyclegan.web.serve import ServeOptions
    from cyclegan.web.video_tab import VideoTab

    clip = tmp_path / "phone.mp4"
    with av.open(str(clip), "w") as c:  # a phone's clip: a timed-metadata track beside the video
        v = c.add_stream("libx264", rate=10)
        v.width, v.height, v.pix_fmt = 32, 24, "yuv420p"
        d = c.add_data_stream("bin_data")
        for i in range(3):
            c.mux(v.encode(av.VideoFrame.from_ndarray(np.full((24, 32, 3), 40 * i, np.uint8), format="rgb24")))
        meta = av.Packet(b"gps")
        meta.stream, meta.pts, meta.dts, meta.time_base = d, 0, 0, Fraction(1, 1000)
        c.mux(meta)
        c.mux(v.encode(None))
    engine = Engine(ServeOptions(runs=(str(run),), device="cpu"), [], tmp_path / "work")
    with pytest.warns(UserWarning) as said:
        VideoTab(engine).translate(str(clip), engine.models()[0].key, "AtoB", False, 0.0)
    # the tab's own (UserWarning): an event loop of another test collected meanwhile adds ResourceWarnings here
    assert [str(w.message) for w in said if w.category is UserWarning] == [
        "phone.mp4: left out of phone_AtoB.mp4: data (the first video stream is translated; the sound and subtitles "
        "a .mp4 takes are copied)"
    ]


@pytest.mark.slow
def test_one_page_holds_at_most_max_jobs_per_visitor_and_a_failed_or_cancelled_job_frees_its_place(tmp_path):
    """A script could queue --max-queue (100) heavy jobs from one page session and hold every other visitor up for
    hours. Now Gradio's queue takes at most --max-jobs-per-visitor of one session's heavy jobs, waiting or running,
    and refuses one more at once with a line saying what to do; a job that fails or is cancelled frees its place,
    and another page is not held up. Through Gradio's queue, as a page joins it."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    import threading

    import gradio as gr
    import httpx

    from cyclegan.web import app as app_module
    from cyclegan.web.engine import HEAVY
    from cyclegan.web.serve import ServeOptions

    go = threading.Event()

    def job(x: str) -> str:
        if x == "fail":
            raise ValueError("failed")
        go.wait(30)
        return x

    with gr.Blocks() as page:
        box, out, button = gr.Textbox(), gr.Textbox(), gr.Button()
        button.click(job, box, out, concurrency_id=HEAVY, concurrency_limit=1)
    page.engine = SimpleNamespace(outputs=tmp_path / "out")  # as `build_app` sets it: `launch` sweeps it
    app_module.launch(page, ServeOptions(checkpoint=("x",), port=free_port(), max_jobs_per_visitor=2), block=False)
    fn = next(iter(page.fns))
    try:
        with httpx.Client(base_url=page.local_url + "gradio_api/", timeout=30) as client:

            def join(session: str, x: str = "x") -> httpx.Response:
                return client.post("queue/join", json={"data": [x], "fn_index": fn, "session_hash": session})

            def jobs_of(session: str) -> int:  # waiting or running
                return sum(e.session_hash == session for e in sum(app_module.heavy_jobs(page._queue), []))

            def call() -> int:  # as curl calls the API: no session (Gradio gives each job one of its own)
                return client.post("call/job", json={"data": ["x"]}).status_code

            def wait_until(check) -> None:
                for _ in range(300):
                    if check():
                        return
                    time.sleep(0.05)
                raise AssertionError("the queue did not get there")

            first = join("a")
            assert first.status_code == 200
            wait_until(lambda: any(page._queue.active_jobs))  # running
            assert join("a").status_code == 200  # waiting behind it: a job still waiting counts too
            refused = join("a")
            assert refused.status_code == 400
            assert refused.json()["detail"] == (
                "this page already has 2 jobs waiting or running, the most one page may have (cyclegan serve "
                "--max-jobs-per-visitor 2); jobs waiting in the queue, from all pages: 1. Wait for one of yours to "
                "end, or cancel one, then try again"
            )
            assert join("b").status_code == 200  # another page is not held up
            # a cancelled job frees its place (the waiting one: Gradio's Cancel drops it from the queue)
            waiting = next(e for e in page._queue.event_queue_per_concurrency_id[HEAVY].queue if e.session_hash == "a")
            client.post("cancel", json={"event_id": waiting._id, "session_hash": "a", "fn_index": fn})
            wait_until(lambda: jobs_of("a") == 1)
            assert join("a", "fail").status_code == 200
            assert [call(), call(), call()] == [200, 200, 400]  # jobs with no session are one visitor together
            go.set()  # the running jobs end; the one that fails frees its place too
            wait_until(lambda: not any(page._queue.active_jobs) and not len(page._queue))
            assert all(join("a").status_code == 200 for _ in range(2)) and call() == call() == 200
    finally:
        go.set()
        page.close()


def test_the_page_s_labels_say_plurals_in_plain_words(tmp_path, run):
    """The Style tab's upload box read "style image(s), blended": every label now says it in words."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.web.app import build_app
    from cyclegan.web.serve import ServeOptions

    app = build_app(ServeOptions(runs=(str(run),)), [], tmp_path / "work")
    labels = {c["props"].get("elem_id"): c["props"].get("label") or "" for c in app.get_config_file()["components"]}
    assert labels["style-styles"].startswith("style images, one or more, blended (up to ")
    assert [label for label in labels.values() if "(s)" in label] == []
