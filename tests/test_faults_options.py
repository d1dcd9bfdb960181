"""Options misused or combined wrongly (datasets synthetic, config files, train's scoring options, evaluate's
--checkpoint): refused or warned in one line, never silently ignored or written into the wrong place."""

from __future__ import annotations

import json

import pytest

from cyclegan.cli import main


def _synthetic(out, *extra):
    return ["datasets", "synthetic", "--out", str(out), "--count", "2", "--test-count", "2", "--size", "16"] + [
        "--no-progress",
        *extra,
    ]


def test_synthetic_out_inside_a_dataset_folder_or_a_run_folder_is_refused(tmp_path, capsys):
    """Before: `--out syn/trainA` wrote trainA/trainA, trainA/trainB, ... (B images inside domain A's folder),
    and `--out RUN` wrote the dataset among a run's files."""
    syn = tmp_path / "syn"
    assert main(_synthetic(syn)) == 0
    capsys.readouterr()
    for out in (syn / "trainA", syn / "testB" / "more"):
        assert main(_synthetic(out)) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "option '--out'" in err and str(syn / out.relative_to(syn).parts[0]) in err
        assert "choose an --out outside it" in err
    assert sorted(p.name for p in (syn / "trainA").iterdir()) == ["00000.png", "00001.png"]
    assert not (syn / "testB" / "more").exists()
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(b"x")
    assert main(_synthetic(run)) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "training run folder" in err and "checkpoint.pt" in err
    assert sorted(p.name for p in run.iterdir()) == ["checkpoint.pt"]
    project = tmp_path / "test"  # a folder merely named like a split is no dataset: writing below it is fine
    assert main(_synthetic(project / "syn")) == 0
    code = tmp_path / "proj"  # a project's own train/ and test/ folders: a dataset deeper down is fine
    for name in ("train", "test"):
        (code / name).mkdir(parents=True)
    assert main(_synthetic(code / "test" / "data" / "syn")) == 0


def test_a_whole_float_in_a_config_file_is_accepted_for_an_int_option(tmp_path):
    """Before: `steps: 1e3` was refused as 'expected int | null, got 1000.0'; 1.5 is still refused."""
    from cyclegan.config import read_config_file, resolve
    from cyclegan.errors import CycleGANError

    f = tmp_path / "c.yaml"
    f.write_text("steps: 1e3\nngf: 16.0\n")
    flat = read_config_file(f)
    assert flat == {"steps": 1000, "ngf": 16} and all(type(v) is int for v in flat.values())
    cfg = resolve(flat)
    assert type(cfg.train.steps) is int and cfg.train.steps == 1000
    f.write_text("steps: 1.5\n")
    with pytest.raises(CycleGANError, match=r"option 'steps'.*got 1\.5"):
        read_config_file(f)


@pytest.mark.parametrize("size", ["1", "8", "15"])
def test_synthetic_refuses_a_size_too_small_to_show_a_scene_or_train(tmp_path, capsys, size):
    """Before: `--size 1` wrote 1-pixel images that no generator can take; 16 px is the least accepted."""
    argv = _synthetic(tmp_path / "s")
    argv[argv.index("--size") + 1] = size
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "option '--size'" in err and ">= 16" in err
    assert not (tmp_path / "s").exists()


def test_synthetic_refuses_paired_with_video(tmp_path, capsys):
    """Before: `--paired --video` wrote the clips and ignored --paired without a word."""
    assert main(_synthetic(tmp_path / "v", "--paired", "--video", "--clips", "1", "--frames", "2")) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "option '--paired'" in err and "--video" in err
    assert not (tmp_path / "v").exists()


def test_train_warns_that_scoring_options_do_nothing_without_eval_every(tmp_path, capsys, monkeypatch):
    """Before: `--best-by ssim` or `--eval-images N` without --eval-every were accepted without a word and did
    nothing. Now one warning line (not an error: a resumed run may turn scoring off and keep the rest)."""
    import cyclegan.train

    monkeypatch.setattr(cyclegan.train, "train", lambda cfg, **_: None)  # the options are what is checked
    base = ["train", "--data", str(tmp_path), "--out", str(tmp_path / "run"), "--steps", "1", "--no-progress"]
    for extra, named in (
        (["--best-by", "ssim"], "--best-by does"),
        (["--eval-images", "8"], "--eval-images does"),
        (["--no-eval-kid"], "--no-eval-kid does"),
    ):
        assert main([*base, *extra]) == 0
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and err.startswith(f"warning: {named} nothing without --eval-every"), err
    assert main([*base, "--best-by", "ssim", "--eval-images", "8"]) == 0
    assert "--best-by and --eval-images do nothing" in capsys.readouterr().err
    assert main([*base, "--best-by", "ssim", "--eval-every", "5"]) == 0
    assert main(base) == 0
    assert capsys.readouterr().err == ""
    # A run's config.json holds them at their defaults: given back as --config, they were named as doing nothing.
    from cyclegan.config import resolve

    saved = tmp_path / "config.json"
    saved.write_text(json.dumps(resolve({"data": str(tmp_path), "out": "elsewhere", "steps": 1}).to_dict()))
    assert main([*base, "--config", str(saved)]) == 0
    assert capsys.readouterr().err == ""
    # a file's keys named as the file's, the file once (they were named as flags nobody typed: --best-by)
    saved.write_text(json.dumps({"best_by": "ssim", "eval_images": 8}))
    assert main([*base, "--config", str(saved)]) == 0
    assert f"warning: 'best_by' and 'eval_images' in '{saved}' do nothing" in capsys.readouterr().err
    assert main([*base, "--config", str(saved), "--best-by", "psnr"]) == 0  # a flag over the file's key: the flag
    assert f"warning: --best-by and 'eval_images' in '{saved}' do nothing" in capsys.readouterr().err


def test_python_api_warns_that_scoring_options_do_nothing_without_eval_every(tmp_path, capsys):
    """Before: only `cyclegan train` warned; `resolve({..., "best_by": "ssim"})` then `train(cfg)` scored nothing
    and wrote no best.pt without a word. The check is now in `resolve`, where the CLI and the API meet."""
    from cyclegan.config import resolve

    base = {"data": str(tmp_path), "out": str(tmp_path / "run"), "steps": 1}
    resolve({**base, "best_by": "ssim", "eval_kid": False})
    err = capsys.readouterr().err.strip()
    assert err == "warning: best_by and eval_kid=False do nothing without eval_every=N (no scores, no best.pt this run)"
    resolve({**base, "best_by": "ssim", "eval_every": 5})  # scoring: they do something
    resolve({**resolve(base).flat(), "eval_every": 0})  # a whole config's values at their defaults: nothing said
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("fmt, suffix, kind", [("torchscript", ".pt", "TorchScript"), ("onnx", ".onnx", "ONNX")])
def test_evaluate_names_an_exported_model_given_as_checkpoint(tmp_path, capsys, fmt, suffix, kind):
    """Before: 'cannot read checkpoint g.pt: not a file saved by torch.save, or an incomplete one'."""
    from helpers import save_tiny_checkpoint

    if fmt == "onnx":
        pytest.importorskip("onnx")
    ckpt = save_tiny_checkpoint(tmp_path / "checkpoint.pt")
    exported = tmp_path / f"g{suffix}"
    assert main(["export", "--checkpoint", str(ckpt), "--format", fmt, "--out", str(exported), "--no-check"]) == 0
    data = tmp_path / "d"
    assert main(_synthetic(data)) == 0
    capsys.readouterr()
    assert main(["evaluate", "--checkpoint", str(exported), "--data", str(data), "--no-progress"]) != 0
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"it is an exported model ({kind}" in err and "checkpoint.pt" in err, err
    assert "not a file saved by torch.save" not in err


def test_a_runs_best_given_twice_gets_one_which_is_better_line(tmp_path):
    """Before: `evaluate --checkpoint RUN OTHER RUN/best.pt` scored RUN/best.pt twice and printed its
    'score the same' (or 'is better') line twice."""
    from cyclegan.evaluate.best import which_is_better

    run = tmp_path / "re"

    def report(name, step, psnr, chosen_by=None):
        row = {"truth_psnr": psnr, "truth_ssim": 0.5}
        return {"checkpoint": str(run / name), "step": step, "chosen_by": chosen_by, "backbone": "lite0"} | {
            "directions": {"AtoB": row, "BtoA": row}
        }

    other = report("x", 2, 9.0) | {"checkpoint": str(tmp_path / "r1" / "checkpoint.pt")}
    last, best = report("checkpoint.pt", 4, 10.0), report("best.pt", 4, 10.0, "psnr")
    (line,) = which_is_better([last, best, other, report("best.pt", 4, 10.0, "psnr")])
    assert line.startswith(f"{run}: score the same by truth_psnr")
    (line,) = which_is_better([last, best, report("best.pt", 4, 10.0, "psnr") | {"checkpoint": f"{run}/./best.pt"}])


def test_which_is_better_says_which_directions_its_score_is_over(tmp_path):
    """Before: `evaluate --direction AtoB` said "mean over directions" of the one direction it scored."""
    from cyclegan.evaluate.best import which_is_better

    def report(name, psnrs, chosen_by=None):
        rows = {d: {"truth_psnr": v} for d, v in psnrs.items()}
        return {"checkpoint": str(tmp_path / name), "step": 4, "chosen_by": chosen_by, "backbone": "lite0"} | {
            "directions": rows
        }

    (line,) = which_is_better([report("checkpoint.pt", {"AtoB": 9.0}), report("best.pt", {"AtoB": 10.0}, "psnr")])
    assert "best.pt is better by truth_psnr (AtoB only, higher is better)" in line
    both = {"AtoB": 10.0, "BtoA": 12.0}
    (line,) = which_is_better([report("checkpoint.pt", both), report("best.pt", both, "psnr")])
    assert "score the same by truth_psnr (mean over directions, higher is better)" in line


def test_which_is_better_names_no_winner_between_scores_equal_as_printed(tmp_path):
    """Before: a run of --lr 1e-9 printed 'checkpoint.pt is better by truth_psnr ...: best.pt (step 20) 7.8432,
    checkpoint.pt (step 60) 7.8432', a winner by a difference below the figures it shows."""
    from cyclegan.evaluate.best import which_is_better

    def report(name, psnr, chosen_by=None):
        row = {"truth_psnr": psnr}
        return {"checkpoint": str(tmp_path / name), "step": 4, "chosen_by": chosen_by, "backbone": "lite0"} | {
            "directions": {"AtoB": row}
        }

    (line,) = which_is_better([report("checkpoint.pt", 7.84321), report("best.pt", 7.84318, "psnr")])
    assert "score the same by truth_psnr" in line and "7.8432" in line
    (line,) = which_is_better([report("checkpoint.pt", 7.8431), report("best.pt", 7.8435, "psnr")])
    assert "best.pt is better by truth_psnr" in line


def test_a_checkpoint_named_twice_is_scored_once(tmp_path):
    """Before: `evaluate --checkpoint RUN OTHER RUN/best.pt` scored RUN/best.pt twice (two table rows)."""
    from cyclegan.evaluate.best import expand_runs

    run, other = tmp_path / "re", tmp_path / "r1"
    for folder, names in ((run, ("checkpoint.pt", "best.pt")), (other, ("checkpoint.pt",))):
        folder.mkdir()
        for name in names:
            (folder / name).write_bytes(b"x")
    given = (str(run), str(other), str(run / "best.pt"), f"{other}/./checkpoint.pt", str(other))
    assert expand_runs(given) == (str(run / "checkpoint.pt"), str(run / "best.pt"), str(other))


def test_synthetic_refuses_options_the_other_kind_of_dataset_reads(tmp_path, capsys):
    """Before: `--count` / `--test-count` with --video, and `--clips` / `--frames` without it, were ignored
    without a word."""
    video = ["datasets", "synthetic", "--video", "--clips", "1", "--frames", "2", "--size", "16", "--no-progress"]
    for extra, flag in ((["--count", "9"], "--count"), (["--test-count", "3"], "--test-count")):
        assert main([*video, "--out", str(tmp_path / "v"), *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and f"option '{flag}' does not apply with --video" in err, err
    for extra, flag in ((["--clips", "2"], "--clips"), (["--frames", "5"], "--frames")):
        assert main([*_synthetic(tmp_path / "i"), *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and f"option '{flag}' does not apply without --video" in err, err
    assert not (tmp_path / "v").exists() and not (tmp_path / "i").exists()


def test_a_large_whole_bound_is_written_exactly(capsys):
    """`--seed -1` said "must be >= 0 and <= 9.22337e+18": the bound rounded, in a float's notation."""
    assert main(["train", "--data", "x", "--seed", "-1"]) == 2
    assert "option '--seed' must be >= 0 and <= 9223372036854775807, got -1" in capsys.readouterr().err


def test_a_huge_whole_value_is_said_back_in_exponent_notation(capsys):
    """`--steps 1e308` (a whole number, so an int) was said back in 309 digits; `--seed 2**63` is still exact."""
    assert main(["train", "--data", "x", "--out", "r", "--steps=-1e308"]) == 2
    assert capsys.readouterr().err == "error: option '--steps' must be positive, got -1e+308\n"
    assert main(["train", "--data", "x", "--out", "r", "--steps", "9", "--seed", str(2**63)]) == 2
    assert capsys.readouterr().err.endswith(", got 9223372036854775808\n")


def test_a_one_value_option_given_twice_is_said_with_the_value_kept(tmp_path, capsys, monkeypatch):
    """`--lr 1e-3 ... --lr 2e-4` took 2e-4 without a word (argparse keeps the last): one line names both and the
    one kept, as typed (converted, `--minutes 1 --minutes 2` was said "1.0"); the same value twice says nothing
    (`--steps 1` and `--steps 1e0`), and a list option given twice adds up (no warning)."""
    monkeypatch.chdir(tmp_path)
    argv = ["train", "--lr", "1e-3", "--steps", "1", "--lr", "2e-4", "--out", "o", "--data", "missing"]
    assert main([*argv, "--steps", "1e0", "--time-limit", "1", "--time-limit=2", "--eval-kid", "--no-eval-kid"]) == 2
    err = capsys.readouterr().err.splitlines()
    warned = [line for line in err if "both given" in line]
    assert warned == [
        "warning: --lr 1e-3 and --lr 2e-4 both given: --lr 2e-4 kept (the last)",
        "warning: --time-limit 1 and --time-limit 2 both given: --time-limit 2 kept (the last)",
        "warning: --eval-kid and --no-eval-kid both given: --no-eval-kid kept (the last)",
    ]
    assert err[-1].startswith("error: option '--data': missing does not exist")
    assert main(["train", "--nce-layers", "0", "4", "--nce-layers", "8", "--out", "o", "--data", "missing"]) == 2
    assert "both given" not in capsys.readouterr().err
