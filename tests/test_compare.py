"""`cyclegan compare`: CycleGAN and Gatys on the same images, the grid, the report and its metrics."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import make_images
from cyclegan.errors import CycleGANError
from cyclegan.evaluate.distances import feature_distance
from cyclegan.evaluate.metrics import luminance, ssim_y
from helpers import save_ema_checkpoint, tiny_published_generator


@pytest.mark.slow
def test_ssim_y_compares_structure_not_colour():
    x = torch.rand(1, 3, 32, 32)
    assert ssim_y(x, x) == pytest.approx(1.0)
    grey = luminance(x).expand(1, 3, 32, 32)
    assert ssim_y(grey, x) == pytest.approx(1.0, abs=1e-4)  # same luminance, colour dropped
    assert ssim_y(torch.rand(1, 3, 32, 32), x) < 0.2


def test_small_metrics():
    x = torch.rand(1, 3, 4, 4)
    assert luminance(x).shape == (1, 1, 4, 4)
    assert luminance(torch.ones(1, 3, 2, 2)).allclose(torch.ones(1, 1, 2, 2))
    assert feature_distance(x, x) == 0
    assert feature_distance(2 * x, x) == pytest.approx(1.0)


@pytest.fixture
def checkpoint(tiny_cfg) -> Path:
    from cyclegan.train import train

    cfg = tiny_cfg(steps=1)
    train(cfg, progress=False)
    return Path(cfg.train.out)


@pytest.mark.slow
def test_compare_writes_grid_and_report(checkpoint, dataset, tmp_path, capsys):
    from cyclegan.cli import main

    content = make_images(tmp_path / "content", 3, seed=7, size=(40, 30))
    out = tmp_path / "cmp"
    argv = [
        "compare",
        "--checkpoint",
        str(checkpoint),
        "--direction",
        "BtoA",
        "--content",
        *map(str, content),
        "--style",
        str(dataset / "trainA"),
        "--target",
        str(dataset / "testA"),
        "--out",
        str(out),
        "--size",
        "32",
        "--steps",
        "3",
        "--backbone",
        "lite0",
        "--no-progress",
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "KID(Lite0)" in printed and "report.html" in printed
    assert "grid.png (columns: input | CycleGAN | Gatys, a row per image)" in printed  # the grid has no captions
    lines = printed.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("method "))
    assert [line.split()[0] for line in lines[head + 1 : head + 4]] == ["input", "CycleGAN", "Gatys"]  # was "gatys"

    report = json.loads((out / "report.json").read_text())
    assert report["gatys"]["backbone"] == "lite0" and report["metrics_backbone"]["name"] == "lite0"
    assert len(report["rows"]) == 3
    for row in report["rows"]:
        assert row["ssim_y"]["input"] == pytest.approx(1.0)
        assert row["content_distance"]["input"] == 0
        assert row["seconds"]["cyclegan"] > 0 and row["seconds"]["gatys"] > 0
        assert len(row["references"]) == 1 and Path(row["references"][0]).parent == dataset / "trainA"
        for name in row["images"].values():
            assert Image.open(out / name).size == (32, 24)  # aspect ratio of the 40 x 30 input kept
    assert report["kid"]["subset_size"] == 3 and report["kid"]["n_target"] == 3
    assert set(report["kid"]) >= {"input", "cyclegan", "gatys"}
    # 3 images against 3: one subset, both sets whole, no std shown; the note said "read the std" of it
    assert report["kid"]["gatys"]["std"] == 0 and "± " not in printed
    assert (
        "KID over 3 images is very noisy: its one subset (both sets whole) gives it no std, compare large gaps only."
        in report["notes"]
    )

    grid = Image.open(out / "grid.png")
    assert grid.size == (3 * 32 + 4 * 2, 3 * 32 + 4 * 2)  # 3 columns x 3 rows of 32 px cells, 2 px padding
    page = (out / "report.html").read_text()
    assert "grid.png" in page and "Lite0" in page and "KID" in page and "FID" not in page


def test_compare_without_target_folder_has_no_kid(checkpoint, tmp_path):
    from cyclegan.compare import CompareOptions, compare

    content = make_images(tmp_path / "content", 1, seed=7, size=(30, 30))
    style = make_images(tmp_path / "style", 1, seed=8, size=(30, 30))
    report = compare(
        CompareOptions(
            str(checkpoint),
            [str(content[0])],
            [str(style[0])],
            str(tmp_path / "cmp"),
            size=24,
            steps=2,
            grid_cell=16,
            grid_palette=True,
            backbone="lite0",
            device="cpu",
            progress=False,
        )
    )
    assert report.kid is None
    grid = Image.open(tmp_path / "cmp" / "grid.png")
    assert grid.mode == "P" and grid.size == (3 * 16 + 4 * 2, 16 + 2 * 2)  # --grid-cell 16, --grid-palette
    assert "No KID" in (tmp_path / "cmp" / "report.html").read_text()
    with pytest.raises(CycleGANError, match="--content"):
        missing = [str(tmp_path / "nope.png")]
        compare(CompareOptions(str(checkpoint), missing, [str(style[0])], str(tmp_path / "x"), progress=False))


def test_in_a_log_file_compare_says_a_line_per_image_not_stylizes_steps(checkpoint, tmp_path, capsys):
    """With stderr in a log file, compare printed stylize's ten progress lines for every image, burying its own
    line per image; the steps are now said there only for a slow image (a line a minute)."""
    from cyclegan.compare import CompareOptions, compare

    content = make_images(tmp_path / "content", 2, seed=7, size=(30, 30))
    style = make_images(tmp_path / "style", 1, seed=8, size=(30, 30))
    opts = dict(size=24, steps=10, grid_cell=16, backbone="lite0", device="cpu", optimizer="adam")
    compare(CompareOptions(str(checkpoint), list(map(str, content)), [str(style[0])], str(tmp_path / "cmp"), **opts))
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(",")[0] for line in lines if line.startswith(("compare", "stylize"))] == [
        "compare: img 1/2",
        "compare: img 2/2",
    ], lines


def test_compare_defaults_to_the_runs_training_size_as_evaluate_does(checkpoint, tmp_path):
    """--size was 256 whatever the run was trained at: a 32 px run was compared at 256 (blurred, and Gatys 64x the
    work) without a word, where `evaluate` uses the training size. A generator file of another project: 256."""
    from cyclegan.compare import CompareOptions, compare

    content = make_images(tmp_path / "content", 1, seed=7, size=(40, 30))
    style = make_images(tmp_path / "style", 1, seed=8, size=(30, 30))
    opts = CompareOptions(
        str(checkpoint), [str(content[0])], [str(style[0])], str(tmp_path / "cmp"), steps=1, progress=False
    )
    opts = replace(opts, backbone="lite0", device="cpu")
    report = compare(opts)
    assert report.size == 32  # tiny_cfg's training size
    assert Image.open(tmp_path / "cmp" / report.rows[0].images["cyclegan"]).size == (32, 24)
    from cyclegan.compare import generator_and_size

    assert generator_and_size(replace(opts, size=48))[1] == 48  # --size wins
    state = torch.get_rng_state()
    G, *_ = generator_and_size(opts)
    assert torch.equal(torch.get_rng_state(), state)  # building G drew its initial weights from a fork
    torch.save(G.state_dict(), tmp_path / "plain.pth")  # the reference implementation's layout: no size in it
    assert generator_and_size(replace(opts, checkpoint=str(tmp_path / "plain.pth")))[1] == 256


@pytest.mark.slow
def test_a_cut_models_column_is_named_cut_not_cyclegan(tiny_cfg, tmp_path, capsys):
    """`compare --checkpoint` of a CUT run labelled its translations "CycleGAN" everywhere: the terminal's table and
    columns line, the page's title, headings and tables. Now the family (and the run) is named; report.json keeps
    the key "cyclegan" for the figures, and says the family in "model"."""
    from cyclegan.cli import main
    from cyclegan.train import train

    cfg = tiny_cfg(steps=1, family="cut", nce_num_patches=16, nce_mlp_dim=8)
    train(cfg, progress=False)
    content = make_images(tmp_path / "content", 1, seed=7, size=(30, 30))
    style = make_images(tmp_path / "style", 1, seed=8, size=(30, 30))
    out = tmp_path / "cmp"
    args = ["compare", "--checkpoint", cfg.train.out, "--content", str(content[0]), "--style", str(style[0])]
    assert main([*args, "--out", str(out), "--size", "24", "--steps", "1", "--backbone", "lite0", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "(columns: input | CUT | Gatys, a row per image)" in printed and "done: 1 step;" in printed  # not "1 steps"
    assert f"\nCUT: {cfg.train.out}, AtoB, step 1, " in printed and "\nCUT " in printed  # the run; the table's row
    page = (out / "report.html").read_text()
    assert "<h1>CUT vs Gatys style transfer</h1>" in page and "CycleGAN" not in page
    assert ", 1 lbfgs step, 1 reference per image." in page  # "1 lbfgs steps": one count's word, as every count's
    report = json.loads((out / "report.json").read_text())
    assert report["model"] == "CUT" and report["rows"][0]["seconds"]["cyclegan"] > 0


def test_a_published_generator_asked_the_other_way_is_reported_in_its_own(tmp_path, monkeypatch, capsys):
    """`compare --checkpoint pretrained:horse2zebra --direction BtoA` turned horses into zebras under a report that
    said BtoA, without a word (`translate` and `export` warn). Now the report says AtoB and a warning says that
    --direction changed nothing; asked its own way, nothing is said."""
    from cyclegan.compare import CompareOptions, generator_and_size

    monkeypatch.setenv("CYCLEGAN_HOME", str(tmp_path / "home"))
    (tmp_path / "home" / "pretrained").mkdir(parents=True)
    torch.save(tiny_published_generator().state_dict(), tmp_path / "home" / "pretrained" / "horse2zebra.pth")
    for asked in ("BtoA", "AtoB"):
        opts = CompareOptions("pretrained:horse2zebra", ("c.png",), ("s.png",), str(tmp_path / "cmp"), direction=asked)
        _, _, direction, model = generator_and_size(opts)
        assert (direction, model) == ("AtoB", "CycleGAN")
        warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
        if asked == "BtoA":
            assert warnings == [
                "warning: --direction BtoA changes nothing here: pretrained:horse2zebra is one generator, horse "
                "photos -> zebras (AtoB of horse2zebra)"
            ]
        else:
            assert warnings == []


def test_a_foreign_file_of_both_generators_is_compared_in_the_direction_asked_without_a_warning(tmp_path, capsys):
    """A file of another project holding G_A and G_B: --direction picks one of them, but `compare` warned that it
    "changes nothing here: ... is one generator of another project" (the published generators' warning, given to
    every file not ours)."""
    from cyclegan.compare import CompareOptions, generator_and_size
    from cyclegan.interop.unet import UnetGenerator

    torch.manual_seed(0)
    g_a, g_b = UnetGenerator(num_downs=5, ngf=4).eval(), UnetGenerator(num_downs=5, ngf=4).eval()
    torch.save({"G_A": g_a.state_dict(), "G_B": g_b.state_dict()}, tmp_path / "both.pth")
    opts = CompareOptions(str(tmp_path / "both.pth"), ("c.png",), ("s.png",), str(tmp_path / "cmp"), direction="BtoA")
    G, _, direction, _ = generator_and_size(opts)
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    assert direction == "BtoA" and torch.allclose(G.eval()(x), g_b(x), atol=1e-6)
    assert "warning" not in capsys.readouterr().err


def test_another_projects_cyclegan_pair_is_labelled_cyclegan(tmp_path):
    """A file of another project holding G_A and G_B (or a whole model's netG_A.* and netG_B.* keys) is a CycleGAN
    pair, but its column was labelled "generator" where a published name's said "CycleGAN". A file of one generator,
    whose family its tensors do not tell, stays "generator"."""
    from cyclegan.compare import CompareOptions, generator_and_size
    from cyclegan.interop.unet import UnetGenerator

    sd = UnetGenerator(num_downs=5, ngf=4).state_dict()
    files = {
        "pair.pth": {"G_A": sd, "G_B": sd},
        "model.pth": {f"netG_{d}.{k}": v for d in "AB" for k, v in sd.items()},
        "one.pth": sd,
    }
    labels = []
    for name, content in files.items():
        torch.save(content, tmp_path / name)
        opts = CompareOptions(str(tmp_path / name), ("c.png",), ("s.png",), str(tmp_path / "cmp"), direction="AtoB")
        labels.append(generator_and_size(opts)[3])
    assert labels == ["CycleGAN", "CycleGAN", "generator"]


def test_one_usable_image_against_a_style_folder_is_compared_and_the_skipped_named(checkpoint, tmp_path, capsys):
    """Three content images, two unreadable, and a style folder (KID's default target): it stopped with "KID needs
    at least 2 images" after writing the grid, naming neither bad file (a user's probe). Now the one image is
    compared, KID is left out with a note, and the skipped files are named (exit 1), once: they were listed on
    stderr and again in a note of the summary; the page and report.json keep them."""
    from cyclegan.cli import main

    good = make_images(tmp_path / "content", 1, seed=7, size=(30, 30))[0]
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.png").write_text("not an image")
    make_images(tmp_path / "style", 2, seed=8, size=(30, 30))
    args = ["--checkpoint", str(checkpoint), "--direction", "AtoB", "--style", str(tmp_path / "style")]
    args += ["--content", str(good), str(tmp_path / "empty.png"), str(tmp_path / "text.png")]
    args += ["--out", str(tmp_path / "cmp"), "--size", "24", "--steps", "2", "--backbone", "lite0", "--no-progress"]
    assert main(["compare", *args]) == 1
    printed = capsys.readouterr()
    err = printed.err
    assert "empty.png" in err and "text.png" in err and "KID needs" not in err
    assert (printed.out + err).count("text.png") == 1 and (printed.out + err).count("empty.png") == 1
    report = json.loads((tmp_path / "cmp" / "report.json").read_text())
    assert report["kid"] is None and any("KID against" in n and "got 1" in n for n in report["notes"])
    assert [line.split(": ")[0].endswith(("empty.png", "text.png")) for line in report["skipped"]] == [True, True]
    assert "text.png" in (tmp_path / "cmp" / "report.html").read_text()


def test_two_content_images_of_one_name_are_two_rows_named_as_their_images(checkpoint, tmp_path):
    """a.png from two folders: written as a_* and a-2_*, but both rows of the report's table were named "a", so
    a reader could not tell which figures were which file's."""
    from cyclegan.compare import CompareOptions, compare

    first = make_images(tmp_path / "one", 1, seed=7, size=(30, 30))[0].rename(tmp_path / "one" / "a.png")
    second = make_images(tmp_path / "two", 1, seed=9, size=(30, 30))[0].rename(tmp_path / "two" / "a.png")
    style = make_images(tmp_path / "style", 1, seed=8, size=(30, 30))
    opts = CompareOptions(str(checkpoint), [str(first), str(second)], [str(style[0])], str(tmp_path / "cmp"))
    report = compare(replace(opts, size=24, steps=2, backbone="lite0", device="cpu", progress=False))
    assert [row.name for row in report.rows] == ["a", "a-2"]
    assert [Path(row.images["gatys"]).name for row in report.rows] == ["a_gatys.png", "a-2_gatys.png"]
    assert "<td>a-2</td>" in (tmp_path / "cmp" / "report.html").read_text()


def test_a_target_kid_could_not_use_is_not_asked_for_again(checkpoint, tmp_path):
    """--target given, but one image compared: the page's note said KID needs 2, and its last line "No KID: give a
    folder of target-domain images (--style DIR or --target DIR)", as if none had been given."""
    from cyclegan.compare import CompareOptions, compare

    content = make_images(tmp_path / "content", 1, seed=7, size=(30, 30))
    style = make_images(tmp_path / "style", 1, seed=8, size=(30, 30))
    make_images(tmp_path / "target", 2, seed=9, size=(30, 30))
    opts = CompareOptions(str(checkpoint), [str(content[0])], [str(style[0])], str(tmp_path / "cmp"))
    report = compare(
        replace(opts, target=str(tmp_path / "target"), size=24, steps=2, backbone="lite0", device="cpu", progress=False)
    )
    page = (tmp_path / "cmp" / "report.html").read_text()
    assert "KID against" in page and "give a folder" not in page
    assert report.kid is None and report.target == str(tmp_path / "target")
    assert json.loads((tmp_path / "cmp" / "report.json").read_text())["target"] == str(tmp_path / "target")


def test_a_vgg19_weights_file_is_named_beside_the_backbone_in_the_terminal_page_and_json(checkpoint, tmp_path, capsys):
    """`compare --weights FILE` (one's own VGG19, here untrained) said "Gatys backbone: vgg19" in the terminal, the
    page and report.json alike, as for torchvision's ImageNet weights: the file is named in all three now."""
    from torchvision.models.vgg import cfgs, make_layers

    from cyclegan.cli import main

    torch.manual_seed(0)
    vgg = tmp_path / "my_vgg19.pth"  # torchvision's key format; read with weights_only
    torch.save({f"features.{k}": v for k, v in make_layers(cfgs["E"]).state_dict().items()}, vgg)
    content = make_images(tmp_path / "content", 1, seed=7, size=(32, 32))
    style = make_images(tmp_path / "style", 1, seed=8, size=(32, 32))
    out = tmp_path / "cmp"
    args = ["compare", "--checkpoint", str(checkpoint), "--content", str(content[0]), "--style", str(style[0])]
    args += ["--size", "32", "--steps", "1", "--weights", str(vgg), "--device", "cpu", "--no-progress"]
    assert main([*args, "--out", str(out)]) == 0
    assert f"Gatys backbone: vgg19 from {vgg}; " in capsys.readouterr().out
    assert f"Gatys: backbone <b>vgg19 from {vgg}</b>" in (out / "report.html").read_text()
    assert json.loads((out / "report.json").read_text())["gatys"]["weights"] == str(vgg)


def test_the_report_says_which_weights_of_which_step_translated(tmp_path, capsys):
    """`compare --ema on` and `--ema off` of a checkpoint keeping averaged weights (--ema-decay) gave two reports
    whose model line was the same, "CycleGAN: RUN, AtoB": which weights, of which step, was nowhere (export says)."""
    from cyclegan.cli import main

    ckpt = save_ema_checkpoint(tmp_path / "checkpoint.pt")
    content = make_images(tmp_path / "content", 1, seed=7, size=(32, 32))[0]
    args = ["compare", "--checkpoint", str(ckpt), "--content", str(content), "--style", str(content)]
    args += [*"--size 16 --steps 1 --backbone lite0 --device cpu --no-progress".split()]
    for choice, weights in (("on", "averaged (--ema-decay)"), ("off", "last (not averaged)")):
        out = tmp_path / f"cmp_{choice}"
        assert main([*args, "--ema", choice, "--out", str(out)]) == 0
        assert f"CycleGAN: {ckpt}, AtoB, step 120, {weights} weights\n" in capsys.readouterr().out
        assert f"</code>, AtoB, step 120, {weights} weights. Gatys" in (out / "report.html").read_text()
        assert json.loads((out / "report.json").read_text())["model_weights"] == {"step": "120", "weights": weights}


def test_an_image_too_thin_to_measure_is_named_and_skipped(checkpoint, tmp_path):
    """A 60x1 photo is 16x1 at --size 16: SSIM's window raised a ValueError traceback after both methods had run
    on it, and the images compared before it were removed (a hostile probe)."""
    from cyclegan.compare import CompareOptions, compare

    good = make_images(tmp_path / "content", 1, seed=7, size=(30, 30))[0]
    style = make_images(tmp_path / "style", 1, seed=8, size=(30, 30))[0]
    Image.new("RGB", (60, 1), (200, 120, 60)).save(tmp_path / "thin.png")
    # as thin at --size 4096, the most --size takes: "give a larger --size" was no way out (the web page's Compare
    # tab said so of its slider alone)
    Image.new("RGB", (5000, 1), (200, 120, 60)).save(tmp_path / "strip.png")
    content = [str(good), str(tmp_path / "thin.png"), str(tmp_path / "strip.png")]
    opts = CompareOptions(str(checkpoint), content, [str(style)], str(tmp_path / "cmp"), size=16, steps=1)
    report = compare(replace(opts, backbone="lite0", device="cpu", progress=False))
    assert [row.name for row in report.rows] == [good.stem]
    thin, strip = tmp_path / "thin.png", tmp_path / "strip.png"
    assert report.skipped == [
        f"{thin} is 60x1 px, 16x1 px at --size 16: too thin to measure (its short side under 3 px); give --size 151 or "
        "more, or crop it to a less thin shape",  # stylize's words (it said "a larger --size", not how large)
        f"{strip} is 5000x1 px, too thin to measure at any long side up to 4096 px (its short side under 3 px); crop "
        "it to a less thin shape",
    ]


def test_an_empty_target_folder_is_refused_before_any_work(tmp_path, monkeypatch):
    """`--target EMPTY` was found empty only at KID, after CycleGAN and Gatys had run on every image, and the
    failure then removed all their outputs."""
    import cyclegan.compare as cmp

    monkeypatch.setattr(cmp, "generator_and_size", lambda *args, **kwargs: pytest.fail("the work began"))
    make_images(tmp_path / "content", 2, seed=7, size=(30, 30))
    style = make_images(tmp_path / "style", 1, seed=8, size=(30, 30))[0]
    (tmp_path / "empty").mkdir()
    content, out = [str(tmp_path / "content")], str(tmp_path / "cmp")
    opts = cmp.CompareOptions("run", content, [str(style)], out, target=str(tmp_path / "empty"), progress=False)
    with pytest.raises(CycleGANError, match="^option '--target': .*empty: folder holds no images$"):
        cmp.compare(opts)
    assert not (tmp_path / "cmp").exists()


@pytest.mark.slow
def test_the_grid_cell_is_at_most_512_px_unless_asked(checkpoint, tmp_path):
    """Without --grid-cell the grid was built at full --size: 20 images at 1024 px made a 3078 x 20534 px grid
    (about 0.6 GB while written, growing as images x size^2). Its cells are now at most 512 px; the images
    themselves stay at full size, and --grid-cell asks for larger cells."""
    from cyclegan.cli import main

    content = make_images(tmp_path / "content", 1, seed=7, size=(520, 300))
    style = make_images(tmp_path / "style", 1, seed=8, size=(40, 40))
    args = ["compare", "--checkpoint", str(checkpoint), "--content", *map(str, content), "--style", *map(str, style)]
    args += ["--size", "520", "--steps", "1", "--backbone", "lite0", "--device", "cpu", "--no-progress"]
    for cell, out in ((512, tmp_path / "cmp"), (520, tmp_path / "full")):
        assert main([*args, "--out", str(out), *(["--grid-cell", "520"] if cell == 520 else [])]) == 0
        assert Image.open(out / "grid.png").size == (3 * cell + 4 * 2, cell + 2 * 2)
        assert Image.open(next((out / "images").glob("*cyclegan*"))).size == (520, 300)


def test_a_grid_cell_past_4096_is_refused():
    """A cell is scaled up to --grid-cell: 100000 asked for three 100000 px squares of floats (120 GB each)."""
    from cyclegan.compare_options import CompareOptions

    with pytest.raises(CycleGANError, match="^option '--grid-cell' must be > 0 and <= 4096, got 100000$"):
        CompareOptions("run", ["c.png"], ["s.png"], "cmp", grid_cell=100_000)


def test_a_palette_grid_past_pillows_bomb_limit_is_written(tmp_path, monkeypatch):
    """`--grid-palette` wrote the RGB grid, then opened it again to quantize it: past Pillow's decompression-bomb
    limit (179 MP: 60 images at --size 1024, 4 at 4096) that was a DecompressionBombError traceback after every
    image's work, and the images were removed. The grid is quantized in memory now (the limit lowered here)."""
    from cyclegan.compare import grid_cell, save_comparison_grid

    cells = {k: [grid_cell(torch.rand(1, 3, 24, 18), 24) for _ in range(3)] for k in ("input", "cyclegan", "gatys")}
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2000)  # the grid: 80 x 80 px, past twice it
    grid = save_comparison_grid(cells, tmp_path / "grid.png", palette=True)
    monkeypatch.undo()
    with Image.open(grid) as im:
        assert im.mode == "P" and im.size == (3 * 24 + 4 * 2, 3 * 24 + 4 * 2)
        assert im.convert("RGB").getpixel((0, 0)) == (255, 255, 255)  # the padding, white


def test_the_outputs_are_not_held_at_full_size_until_the_grid_is_written(checkpoint, tmp_path, monkeypatch):
    """Every output image was held at full --size until the grid and KID were done: many images at a large size
    held gigabytes. Now each keeps its grid cell (--grid-cell) and its KID features; the grid is as before."""
    import gc

    from cyclegan import compare as compare_module
    from cyclegan.cli import main

    held = []
    write = compare_module.save_comparison_grid

    def counting(*args, **kwargs):  # images (1, 3, H, W) at --size still alive when the grid is written
        gc.collect()
        images = [t for t in gc.get_objects() if type(t) is torch.Tensor and t.dim() == 4 and t.shape[:2] == (1, 3)]
        held.extend(t for t in images if max(t.shape[-2:]) == 48)
        return write(*args, **kwargs)

    monkeypatch.setattr(compare_module, "save_comparison_grid", counting)
    content = make_images(tmp_path / "content", 3, seed=7, size=(48, 36))
    style = make_images(tmp_path / "style", 1, seed=8, size=(30, 30))
    target = make_images(tmp_path / "target", 2, seed=9, size=(30, 30))[0].parent
    out = tmp_path / "cmp"
    args = ["--checkpoint", str(checkpoint), "--content", *map(str, content), "--style", str(style[0])]
    args += ["--target", str(target), "--out", str(out), "--size", "48", "--steps", "1", "--backbone", "lite0"]
    assert main(["compare", *args, "--grid-cell", "16", "--device", "cpu", "--no-progress"]) == 0
    assert held == []
    report = json.loads((out / "report.json").read_text())
    assert report["kid"]["n_target"] == 2 and set(report["kid"]) >= {"input", "cyclegan", "gatys"}
    with Image.open(out / "grid.png") as grid:  # 3 rows of 3 cells of 16 px, white padding of 2 px
        assert grid.size == (3 * 16 + 4 * 2, 3 * 16 + 4 * 2) and grid.getpixel((0, 0)) == (255, 255, 255)
        cell = np.asarray(grid)[2:18, 2:18]  # row 1's input: the content image at 16 x 12, centred on white
        assert (cell[:2] == 255).all() and not (cell[2:14] == 255).all()


def test_fewer_references_than_refs_per_image_is_a_note():
    """`--refs-per-image 100` with 4 style images used the 4, while the report said 100 without a word."""
    from cyclegan.compare import Inputs, caveats

    inputs = Inputs([Path("c.png")], [Path(f"s{i}.png") for i in range(4)], [], None)
    assert caveats("vgg19", inputs, 1, refs_per_image=4) == []
    assert caveats("vgg19", inputs, 1, refs_per_image=100) == [
        "--refs-per-image 100, but --style holds 4 images: each content image used them all"
    ]


def test_a_kid_of_one_subset_is_not_said_to_have_a_std_to_read():
    """4 images against a target of 4: KID's one subset is both sets whole, so no std is shown ("0.2423"), while the
    note said "read the std"."""
    from cyclegan.compare import Inputs, caveats

    inputs = Inputs([Path("c.png")], [Path("s.png")], [], Path("target"))
    assert caveats("vgg19", inputs, 4)[-1] == "KID over 4 images is very noisy: read the std, compare large gaps only."
    assert caveats("vgg19", inputs, 4, kid_spread=False)[-1] == (
        "KID over 4 images is very noisy: its one subset (both sets whole) gives it no std, compare large gaps only."
    )


def test_the_held_out_folder_suggested_is_the_style_domains_own():
    """`--style DATA/trainB` without --target: the note told to give `--target` "a held-out folder (e.g. testA)",
    the other domain's test images, whatever the domain of the style."""
    from cyclegan.compare import Inputs, caveats

    examples = {"data/trainB": "data/testB", "monet/trainA": "monet/testA", "winter": "the test split of its domain"}
    for style, example in examples.items():
        inputs = Inputs([Path("c.png")], [Path(style) / "s.png"], [Path(style)], Path(style))
        (note,) = caveats("vgg19", inputs, 1)
        assert f"give --target a held-out folder (e.g. {example})" in note


def test_an_output_that_cannot_be_written_is_one_line_and_nothing_is_left(checkpoint, tmp_path, monkeypatch):
    """A full disk while writing the images ended `compare` in an OSError traceback."""
    import errno

    from cyclegan.compare import CompareOptions, compare

    content = make_images(tmp_path / "content", 1, seed=7, size=(30, 30))[0]
    style = make_images(tmp_path / "style", 1, seed=8, size=(30, 30))[0]
    out = tmp_path / "cmp"

    def full(self, fp, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full)
    opts = CompareOptions(str(checkpoint), [str(content)], [str(style)], str(out), size=16, steps=1)
    with pytest.raises(CycleGANError, match=f"^option '--out': cannot write in {out}: No space left on device$"):
        compare(replace(opts, backbone="lite0", device="cpu", progress=False))
    assert not out.exists() or not any(out.rglob("*.png"))


def test_the_report_links_images_whose_names_hold_url_characters():
    """The page linked images/a#1_input.png as written: a browser asked for images/a (the rest a fragment), and
    '50%25' for '50%': broken images in the report (a hostile probe with such file names)."""
    from cyclegan.report import CompareReport, Row, render_compare_html

    figures = {k: {m: 0.5 for m in ("input", "cyclegan", "gatys")} for k in ("seconds", "ssim_y")}
    images = {m: f"images/a#1 50%25?_{m}.png" for m in ("input", "cyclegan", "gatys")}
    row = Row("a#1 50%25?", "a#1 50%25?.png", ["s.png"], **figures, content_distance=figures["ssim_y"],
              style_distance=figures["ssim_y"], images=images)  # fmt: skip
    gatys = {"backbone": "lite0", "content_layers": [], "style_layers": [], "steps": 1, "optimizer": "adam"}
    metrics = {"content_layer": "block3", "style_layers": ["stem"]}
    report = CompareReport("run", "AtoB", 16, {**gatys, "refs_per_image": 1}, metrics, [row], None, "g", "h")
    page = render_compare_html(report)
    assert "src='images/a%231%2050%2525%3F_input.png'" in page and "a#1 50%25?_" not in page.split("<table>")[-1]


def test_the_report_of_a_file_name_that_is_not_utf8_is_written_and_links_the_file(tmp_path):
    """A content file named in Latin-1 ('caf\\xe9.png', as an old camera or a Windows share names it) stopped the
    report in a traceback ("surrogates not allowed") after every Gatys run, and the comparison was removed."""
    import os

    from cyclegan.compare import write_report
    from cyclegan.report import CompareReport, Row

    name = os.fsdecode(b"caf\xe9 <b>\xe6\x9d\xb1")  # the undecodable byte kept as a lone surrogate, then CJK
    figures = {k: {m: 0.5 for m in ("input", "cyclegan", "gatys")} for k in ("seconds", "ssim_y")}
    images = {m: f"images/{name}_{m}.png" for m in ("input", "cyclegan", "gatys")}
    row = Row(name, f"{name}.png", ["s.png"], **figures, content_distance=figures["ssim_y"],
              style_distance=figures["ssim_y"], images=images)  # fmt: skip
    gatys = {"backbone": "lite0", "content_layers": [], "style_layers": [], "steps": 1, "optimizer": "adam"}
    metrics = {"content_layer": "block3", "style_layers": ["stem"]}
    report = CompareReport("run", "AtoB", 16, {**gatys, "refs_per_image": 1}, metrics, [row], None, "g", "h")
    write_report(report, tmp_path)
    page = (tmp_path / "report.html").read_bytes().decode("utf-8")  # as the page's charset says
    assert "<td>caf\ufffd &lt;b&gt;\u6771</td>" in page  # shown, escaped
    assert "src='images/caf%E9%20%3Cb%3E%E6%9D%B1_input.png'" in page  # the bytes of the file on disk
    assert json.loads((tmp_path / "report.json").read_text())["rows"][0]["name"] == name


def test_weights_with_the_lite0_backbone_is_refused_as_stylize_does():
    """`compare --backbone lite0 --weights FILE` ran Gatys on Lite0 and ignored the file without a word."""
    from cyclegan.compare_options import CompareOptions

    with pytest.raises(CycleGANError, match="^option '--weights' is for the vgg19 backbone"):
        CompareOptions("run", ["c.png"], ["s.png"], "cmp", backbone="lite0", weights="vgg.pth")


def test_video_clips_in_the_folders_are_left_out_and_named(tmp_path):
    """A folder's clips (which `translate` reads) were content and references to `compare`: each failed as "not a
    JPEG, PNG, ..." and, drawn as a reference, skipped the content image it was drawn for."""
    from cyclegan.compare import gather_inputs
    from cyclegan.compare_options import CompareOptions

    make_images(tmp_path / "d", 1, seed=7, size=(30, 30))
    (tmp_path / "d" / "clip.mp4").write_bytes(b"never decoded")
    folder = str(tmp_path / "d")
    inputs = gather_inputs(CompareOptions("run", [folder], [folder], str(tmp_path / "cmp")))
    assert inputs.clips == [tmp_path / "d" / "clip.mp4"]
    assert [p.suffix for p in [*inputs.content, *inputs.references]] == [".png", ".png"]
    only_clips = [str(tmp_path / "d" / "clip.mp4")]
    with pytest.raises(CycleGANError, match="^option '--content': no still image, only video clips"):
        gather_inputs(CompareOptions("run", only_clips, [folder], str(tmp_path / "cmp")))


def test_a_clip_named_as_style_is_refused_in_one_line_and_a_folders_is_a_warning(checkpoint, tmp_path, capsys):
    """A clip named as --style was left out as a skipped "image" (exit 1, after the work), and a --style folder's
    clip cost the comparison its exit status too, though no content image was skipped: now the named clip is
    refused before any work, naming it, and a folder's is left out of the references as an unreadable one is."""
    from cyclegan.cli import main

    content = make_images(tmp_path / "content", 1, seed=7, size=(30, 30))
    style = make_images(tmp_path / "style", 1, seed=8, size=(30, 30))
    clip = tmp_path / "style" / "clip.mp4"
    clip.write_bytes(b"never decoded")
    out = tmp_path / "cmp"
    argv = ["compare", "--checkpoint", str(checkpoint), "--content", str(content[0]), "--out", str(out), "--size"]
    argv += ["16", "--steps", "1", "--backbone", "lite0", "--device", "cpu", "--no-progress", "--style"]
    assert main([*argv, str(style[0]), str(clip)]) == 2
    err = capsys.readouterr().err
    assert (
        err == f"error: option '--style': {clip} is a video clip, not an image: give a still image (a frame of it "
        "saved as a PNG) or a folder of images\n"
    )
    assert not out.exists()
    assert main([*argv, str(tmp_path / "style")]) == 0
    err = capsys.readouterr().err
    assert f"warning: {clip}: a video clip, not an image (left out of the style references)" in err
    assert "skipped" not in err


def test_the_refs_per_image_note_counts_only_the_references_that_could_be_read(checkpoint, tmp_path):
    """`--refs-per-image 3` with a --style folder of three images, one unreadable: each content image used the
    two that read, and no note said so (3 is not over 3); with one more asked for, it said "holds 3 images"."""
    from cyclegan.compare import CompareOptions, compare

    content = make_images(tmp_path / "content", 1, seed=7, size=(30, 30))
    make_images(tmp_path / "style", 2, seed=8, size=(30, 30))
    (tmp_path / "style" / "broken.png").write_text("not an image")
    opts = CompareOptions(str(checkpoint), [str(content[0])], [str(tmp_path / "style")], str(tmp_path / "cmp"))
    report = compare(replace(opts, refs_per_image=3, size=16, steps=1, backbone="lite0", device="cpu", progress=False))
    assert len(report.rows[0].references) == 2
    assert report.notes[0] == (
        "--refs-per-image 3, but --style holds 2 images that could be read: each content image used them all"
    )


def test_a_folders_files_of_no_image_kind_are_named_as_translate_names_them(tmp_path, capsys):
    """A phone's HEIC photo or a text file in a --content or --style folder was left out of the comparison without a
    word, where `translate` names them: now one warning per folder, once for a folder given to both."""
    from cyclegan.compare import gather_inputs
    from cyclegan.compare_options import CompareOptions

    make_images(tmp_path / "d", 1, seed=7, size=(30, 30))
    (tmp_path / "d" / "IMG_0001.HEIC").write_bytes(b"never decoded")
    (tmp_path / "d" / "notes.txt").write_text("x")
    folder = str(tmp_path / "d")
    inputs = gather_inputs(CompareOptions("run", [folder], [folder], str(tmp_path / "cmp")))
    assert [p.suffix for p in [*inputs.content, *inputs.references]] == [".png", ".png"]
    err = capsys.readouterr().err
    assert err == (
        f"warning: {folder}: 2 files left out, not images compare reads: IMG_0001.HEIC, notes.txt; "
        "1 HEIC or AVIF photo among them: convert them to JPEG or PNG\n"
    )  # --style's folder is KID's target too: named once
    make_images(tmp_path / "t", 2, seed=8, size=(30, 30))
    (tmp_path / "t" / "scan.raw").write_bytes(b"never decoded")
    gather_inputs(CompareOptions("run", [folder], [folder], str(tmp_path / "cmp"), target=str(tmp_path / "t")))
    assert (
        f"warning: {tmp_path / 't'}: 1 file left out, not images compare reads: scan.raw\n" in capsys.readouterr().err
    )


def test_an_avi_a_glob_matches_is_left_out_as_a_clip_not_an_error(tmp_path):
    """`translate` names an AVI (MPEG-TS, 3GP...) as a video it does not read; `compare --content 'd/*'` took that
    line as its input error and refused the whole comparison, where an MP4 in the same glob is left out."""
    from cyclegan.compare import gather_inputs
    from cyclegan.compare_options import CompareOptions

    make_images(tmp_path / "d", 1, seed=7, size=(30, 30))
    (tmp_path / "d" / "clip.avi").write_bytes(b"never decoded")
    pattern, out = str(tmp_path / "d" / "*"), str(tmp_path / "cmp")
    inputs = gather_inputs(CompareOptions("run", [pattern], [pattern], out))
    assert inputs.clips == [tmp_path / "d" / "clip.avi"]
    assert [p.suffix for p in [*inputs.content, *inputs.references]] == [".png", ".png"]


def test_an_unreadable_reference_costs_only_itself(checkpoint, tmp_path):
    """A corrupt image in the --style pool skipped every content image it was drawn for: with two references and
    --refs-per-image 2, all of them ("no content image could be compared"). Now it is named and left out."""
    from cyclegan.compare import CompareOptions, compare

    content = make_images(tmp_path / "content", 2, seed=7, size=(30, 30))
    make_images(tmp_path / "style", 1, seed=8, size=(30, 30))
    (tmp_path / "style" / "broken.png").write_text("not an image")
    style, out = [str(tmp_path / "style")], str(tmp_path / "cmp")
    opts = CompareOptions(str(checkpoint), [str(p) for p in content], style, out, size=16, steps=1)
    report = compare(replace(opts, refs_per_image=2, backbone="lite0", device="cpu", progress=False))
    assert len(report.rows) == 2 and all(len(row.references) == 1 for row in report.rows)
    broken = f"cannot read image {tmp_path}/style/broken.png"
    assert [s.startswith(broken) for s in report.skipped] == [True, True]  # a reference, then KID's target
    assert report.skipped[0].endswith("(left out of the style references)")
    # the style folder is KID's default target: one readable image is a note, not an error after all the work
    assert report.kid is None and any("fewer than 2 of its images could be read" in n for n in report.notes)
    assert not any("very noisy" in n for n in report.notes)  # it stood beside "not computed"


def test_a_text_file_a_style_glob_matches_is_a_warning_and_the_whole_comparison_exits_0(checkpoint, tmp_path, capsys):
    """`--style 'd/*'` matched notes.txt: drawn, it was named and another reference drawn, every content image was
    compared, and the command still exited 1 ("1 image skipped") as if a content image had failed."""
    from cyclegan.cli import main

    content = make_images(tmp_path / "content", 2, seed=7, size=(30, 30))
    make_images(tmp_path / "style", 2, seed=8, size=(30, 30))
    (tmp_path / "style" / "notes.txt").write_text("not an image")
    out = tmp_path / "cmp"
    argv = ["compare", "--checkpoint", str(checkpoint), "--content", *map(str, content), "--style"]
    argv += [str(tmp_path / "style" / "*"), "--out", str(out), "--size", "16", "--steps", "1", "--refs-per-image", "3"]
    assert main([*argv, "--backbone", "lite0", "--device", "cpu", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert f"warning: cannot read image {tmp_path}/style/notes.txt" in err and "skipped" not in err
    report = json.loads((out / "report.json").read_text())
    assert len(report["rows"]) == 2 and report["skipped"][0].endswith("(left out of the style references)")


def test_transparent_content_images_are_said_once_to_be_put_on_white(checkpoint, tmp_path, capsys):
    """A cut-out's transparency was put on white without a word on the command line, where the web's Compare tab
    says "The photo's transparency was put on white": now one line for all of them, in those words."""
    from cyclegan.compare import CompareOptions, compare

    opaque = make_images(tmp_path / "content", 1, seed=7, size=(30, 30))
    cut_outs = [tmp_path / "content" / f"cut{i}.png" for i in range(2)]
    for path in cut_outs:
        im = Image.new("RGBA", (30, 30), (200, 30, 30, 255))
        im.paste((0, 0, 0, 0), (0, 0, 15, 30))  # half transparent
        im.save(path)
    style = make_images(tmp_path / "style", 1, seed=8, size=(30, 30))
    opts = CompareOptions(str(checkpoint), [*map(str, opaque + cut_outs)], [str(style[0])], str(tmp_path / "cmp"))
    report = compare(replace(opts, size=16, steps=1, backbone="lite0", device="cpu", progress=False))
    assert len(report.rows) == 3
    err = capsys.readouterr().err
    assert err.count("transparency was put on white") == 1
    assert f"2 content images' transparency was put on white, as compare reads it: {cut_outs[0]}, {cut_outs[1]}" in err


def test_overwrite_with_fewer_images_leaves_none_of_the_earlier_ones(checkpoint, tmp_path):
    """A comparison of two images, then with --overwrite of one: the other's three single images stayed in
    out/images beside the new ones, shown by no report. Files the earlier report did not write are kept."""
    from cyclegan.compare import CompareOptions, compare

    content = make_images(tmp_path / "content", 2, seed=7, size=(30, 30))
    style = make_images(tmp_path / "style", 1, seed=8, size=(30, 30))
    out = tmp_path / "cmp"

    def run(images, **kw):
        opts = CompareOptions(str(checkpoint), [str(p) for p in images], [str(style[0])], str(out), **kw)
        compare(replace(opts, size=24, steps=2, backbone="lite0", device="cpu", progress=False))

    run(content)
    (out / "images" / "mine.txt").write_text("a user's note")
    run(content[:1], overwrite=True)
    kept = sorted(p.name for p in (out / "images").iterdir())
    stem = content[0].stem
    assert kept == sorted([f"{stem}_input.png", f"{stem}_cyclegan.png", f"{stem}_gatys.png", "mine.txt"])


def test_a_killed_comparisons_temporaries_are_removed_by_the_next_one(checkpoint, tmp_path):
    """kill -9 during a comparison's writes left `.NAME.XXXXXXXX.tmp` files beside its outputs, hidden, for ever."""
    from cyclegan.compare import CompareOptions, compare

    content = make_images(tmp_path / "content", 1, seed=7, size=(30, 30))
    style = make_images(tmp_path / "style", 1, seed=8, size=(30, 30))
    out = tmp_path / "cmp"
    killed = [out / ".grid.png.k3x_9q2z.tmp", out / "images" / f".{content[0].stem}_gatys.png.k3x_9q2z.tmp"]
    mine = out / ".notes.txt.k3x_9q2z.tmp"  # named after no output of the comparison: left alone
    for f in [*killed, mine]:
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"half a file")
    opts = CompareOptions(str(checkpoint), [str(content[0])], [str(style[0])], str(out))
    compare(replace(opts, size=24, steps=2, backbone="lite0", device="cpu", progress=False))
    assert not any(f.exists() for f in killed) and mine.exists() and (out / "grid.png").is_file()


def test_ctrl_c_keeps_the_images_compared_so_far_and_their_report(checkpoint, tmp_path, monkeypatch, capsys):
    """Ctrl-C on the second of three images removed the first's, minutes of Gatys each: now the report covers the
    images compared before it, says it was interrupted, and the cut-short image's files are gone (exit 130)."""
    from cyclegan import compare as compare_module
    from cyclegan.cli import main

    content = make_images(tmp_path / "content", 3, seed=7, size=(30, 30))
    style = make_images(tmp_path / "style", 1, seed=8, size=(30, 30))
    out = tmp_path / "cmp"
    save_image, calls = compare_module.save_image, []

    def interrupted_on_the_second_image(image, path):
        calls.append(path)
        if len(calls) == 5:  # its input is written, its CycleGAN not
            raise KeyboardInterrupt
        return save_image(image, path)

    monkeypatch.setattr(compare_module, "save_image", interrupted_on_the_second_image)
    args = ["--checkpoint", str(checkpoint), "--direction", "AtoB", "--content", *map(str, content)]
    args += ["--style", str(style[0]), "--out", str(out), "--size", "24", "--steps", "1", "--backbone", "lite0"]
    assert main(["compare", *args, "--device", "cpu", "--no-progress"]) == 130
    assert "interrupted: the report covers the 1 image compared before it" in capsys.readouterr().err
    report = json.loads((out / "report.json").read_text())
    assert [r["content"] for r in report["rows"]] == [str(content[0])] and report["interrupted"]
    assert (
        report["notes"][0]
        == "interrupted (Ctrl-C) at content image 2 of 3: this report covers the 1 compared before it"
    )
    stem = content[0].stem
    assert sorted(p.name for p in (out / "images").iterdir()) == [
        f"{stem}_{k}.png" for k in ("cyclegan", "gatys", "input")
    ]
    assert (out / "grid.png").is_file() and (out / "report.html").is_file()


def test_ctrl_c_while_kid_reads_its_target_keeps_every_image_compared(checkpoint, tmp_path, monkeypatch, capsys):
    """After every content image, KID reads the whole --target folder: a Ctrl-C there removed all the images
    compared (minutes of Gatys each) and wrote no report. Now the report covers them all, without KID (exit 130)."""
    from cyclegan import compare as compare_module
    from cyclegan.cli import main

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(compare_module, "kid_against_target", interrupted)
    content = make_images(tmp_path / "content", 2, seed=7, size=(30, 30))
    style = make_images(tmp_path / "style", 1, seed=8, size=(30, 30))
    target = tmp_path / "target"
    make_images(target, 2, seed=9, size=(30, 30))
    out = tmp_path / "cmp"
    args = ["--checkpoint", str(checkpoint), "--content", *map(str, content), "--style", str(style[0])]
    args += ["--target", str(target), "--out", str(out), "--size", "24", "--steps", "1", "--backbone", "lite0"]
    assert main(["compare", *args, "--device", "cpu", "--no-progress"]) == 130
    assert "interrupted: the report covers the 2 images compared before it" in capsys.readouterr().err
    report = json.loads((out / "report.json").read_text())
    assert [r["content"] for r in report["rows"]] == list(map(str, content)) and report["kid"] is None
    assert report["notes"][0] == (
        f"interrupted (Ctrl-C) while KID read {target}, after the last content image: this report covers the 2 "
        "compared before it; KID was not computed"
    )
    assert len(list((out / "images").iterdir())) == 6 and (out / "grid.png").is_file()


@pytest.mark.parametrize(
    "writer, note",
    [
        ("save_comparison_grid", "while the grid was written, after the last content image: this report covers the 2"),
        ("write_json", "while this report was written, after the last content image"),
    ],
)
def test_ctrl_c_while_the_grid_or_report_is_written_keeps_every_image(
    checkpoint, tmp_path, monkeypatch, capsys, writer, note
):
    """Every image compared, a Ctrl-C while the grid (seconds, with --grid-palette at a large size) or the report
    was written removed them all, minutes of Gatys each, and wrote no report. Now the file cut short is written
    again, whole, and the report covers every image, saying where it was stopped (exit 130)."""
    from cyclegan import compare as compare_module
    from cyclegan.cli import main

    real, calls = getattr(compare_module, writer), []

    def stopped_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(compare_module, writer, stopped_once)
    content = make_images(tmp_path / "content", 2, seed=7, size=(30, 30))
    style = make_images(tmp_path / "style", 1, seed=8, size=(30, 30))
    out = tmp_path / "cmp"
    args = ["--checkpoint", str(checkpoint), "--content", *map(str, content), "--style", str(style[0])]
    args += ["--out", str(out), "--size", "24", "--steps", "1", "--backbone", "lite0", "--device", "cpu"]
    assert main(["compare", *args, "--no-progress"]) == 130
    assert "interrupted: the report covers the 2 images compared before it" in capsys.readouterr().err
    report = json.loads((out / "report.json").read_text())
    assert [r["content"] for r in report["rows"]] == list(map(str, content)) and report["interrupted"]
    assert report["notes"][0].startswith(f"interrupted (Ctrl-C) {note}")
    assert len(list((out / "images").iterdir())) == 6 and Image.open(out / "grid.png").size == (3 * 24 + 8, 2 * 24 + 6)
    assert "interrupted (Ctrl-C)" in (out / "report.html").read_text()


@pytest.mark.parametrize("signum, status, said", [("SIGTERM", 143, "terminated"), ("SIGHUP", 129, "hung up")])
def test_sigterm_keeps_the_images_compared_so_far_as_ctrl_c_does(checkpoint, tmp_path, signum, status, said):
    """A batch scheduler's SIGTERM ended `compare` at once: the images compared so far (minutes of Gatys each)
    had no report, and half of the cut-short one stayed. Now as Ctrl-C, said as SIGTERM, exit 143. A closed
    terminal's SIGHUP the same, said as SIGHUP, exit 129."""
    import subprocess
    import sys

    content = make_images(tmp_path / "content", 3, seed=7, size=(30, 30))
    style = make_images(tmp_path / "style", 1, seed=8, size=(30, 30))
    out = tmp_path / "cmp"
    args = ["compare", "--checkpoint", str(checkpoint), "--direction", "AtoB", "--content", *map(str, content)]
    args += ["--style", str(style[0]), "--out", str(out), "--size", "24", "--steps", "1", "--backbone", "lite0"]
    script = f"""
import os, signal, sys
import cyclegan.compare as c
from cyclegan.cli import main
signal.signal(signal.SIGHUP, signal.SIG_DFL)  # as in a terminal, even where this test runs under nohup
real, calls = c.save_image, []
def save_image(image, path):
    calls.append(path)
    if len(calls) == 5:  # the second image's input is written, its CycleGAN not
        os.kill(os.getpid(), signal.{signum})
    return real(image, path)
c.save_image = save_image
sys.exit(main({[*args, "--device", "cpu", "--no-progress"]!r}))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == status, done.stderr[-2000:]
    assert f"{said}: the report covers the 1 image compared before it" in done.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["notes"][0].startswith(f"interrupted ({signum}) at content image 2 of 3")
    assert len(list((out / "images").iterdir())) == 3


def test_the_report_says_where_its_seconds_were_measured(checkpoint, tmp_path, capsys):
    """Seconds per image, CycleGAN's forward pass against Gatys' optimisation, were reported without the device
    or the threads they were measured on."""
    from cyclegan.cli import main

    content = make_images(tmp_path / "content", 1, seed=7, size=(30, 30))
    out = tmp_path / "cmp"
    args = ["--checkpoint", str(checkpoint), "--direction", "AtoB", "--content", str(content[0])]
    args += ["--style", str(content[0]), "--out", str(out), "--size", "24", "--steps", "1", "--backbone", "lite0"]
    assert main(["compare", *args, "--device", "cpu", "--no-progress"]) == 0
    n = torch.get_num_threads()
    where = f"cpu ({n} thread{'s' * (n != 1)})"
    assert f"seconds measured on {where}, fp32" in capsys.readouterr().out
    assert json.loads((out / "report.json").read_text())["device"] == where
    assert f"seconds measured on {where}, fp32" in (out / "report.html").read_text()


def test_a_raised_max_pixels_reads_the_style_references_too(checkpoint, tmp_path):
    """`compare --max-pixels` was the cap of the content and of the reference drawn, but Gatys and the style
    distance read the reference again under the default cap: a 108 MP painting skipped every content image."""
    from cyclegan.compare import CompareOptions, compare

    content = make_images(tmp_path / "content", 1, seed=7, size=(30, 30))[0]
    big = tmp_path / "painting.png"
    Image.new("RGB", (12000, 9000), (200, 120, 40)).save(big)  # 108 MP
    opts = CompareOptions(str(checkpoint), [str(content)], [str(big)], str(tmp_path / "cmp"), size=16, steps=1)
    report = compare(replace(opts, backbone="lite0", device="cpu", progress=False, max_pixels=200_000_000))
    assert len(report.rows) == 1 and report.skipped == []


def test_a_size_the_device_cannot_hold_is_refused_before_the_generator_runs_at_it(checkpoint, tmp_path, monkeypatch):
    """`compare --size 4096` translated each image with the CycleGAN first, at the full size: the memory was gone
    (the process killed) before Gatys' memory check could refuse the size in one line."""
    from cyclegan import compare as compare_module
    from cyclegan.compare import CompareOptions, compare
    from cyclegan.style import gatys

    monkeypatch.setattr(gatys, "available_memory", lambda device: 1e6)
    translated = []
    monkeypatch.setattr(compare_module, "translate_timed", lambda *a, **k: translated.append(1))
    content = make_images(tmp_path / "content", 1, seed=7, size=(30, 30))[0]
    opts = CompareOptions(str(checkpoint), [str(content)], [str(content)], str(tmp_path / "cmp"), size=64)
    with pytest.raises(CycleGANError, match=r"no content image could be compared: .*stylising 64x64 px needs about"):
        compare(replace(opts, steps=1, backbone="lite0", device="cpu", progress=False))
    assert translated == []


def test_a_reference_too_thin_for_the_backbone_names_compares_size(checkpoint, tmp_path, monkeypatch):
    """`compare` passed on `stylize`'s "a larger --style-size or --size": compare has no --style-size (its
    --size scales the references too)."""
    from cyclegan.compare import CompareOptions, compare
    from cyclegan.style.backbones import Lite0Backbone

    monkeypatch.setattr(Lite0Backbone, "min_side", 16)  # as vgg19's pools need, without its weights
    content = make_images(tmp_path / "content", 1, seed=7, size=(30, 30))[0]
    thin = tmp_path / "thin.png"
    Image.new("RGB", (200, 30), (200, 120, 40)).save(thin)  # 32x5 px at --size 32: under 16, not too thin to stylise
    opts = CompareOptions(str(checkpoint), [str(content)], [str(thin)], str(tmp_path / "cmp"), size=32)
    with pytest.raises(CycleGANError) as e:
        compare(replace(opts, steps=1, backbone="lite0", device="cpu", progress=False))
    assert "need 16 px a side: a larger --size, or --backbone lite0" in str(e.value)


def test_sigterm_before_the_first_image_is_compared_exits_143(checkpoint, tmp_path, monkeypatch, capsys):
    """SIGTERM during the first image: nothing to keep, so the interrupt went on to the top level, which said
    "interrupted" and exited 130, as for Ctrl-C; a batch scheduler's stop is said as one, with status 143."""
    from cyclegan import compare as compare_module
    from cyclegan.cli import main
    from cyclegan.process import Terminated

    content = make_images(tmp_path / "content", 2, seed=7, size=(30, 30))
    style = make_images(tmp_path / "style", 1, seed=8, size=(30, 30))
    out = tmp_path / "cmp"

    def terminated(image, path):  # as `terminate_as_interrupt`'s handler raises it, at the first image's input
        raise Terminated

    monkeypatch.setattr(compare_module, "save_image", terminated)
    args = ["--checkpoint", str(checkpoint), "--direction", "AtoB", "--content", *map(str, content)]
    args += ["--style", str(style[0]), "--out", str(out), "--size", "24", "--steps", "1", "--backbone", "lite0"]
    assert main(["compare", *args, "--device", "cpu", "--no-progress"]) == 143
    assert capsys.readouterr().err.strip().splitlines()[-1] == "terminated"
    assert not (out / "report.json").exists()


def test_compare_shows_the_progress_of_each_gatys_optimisation(checkpoint, tmp_path, capsys, monkeypatch):
    """`compare` said nothing during each image's Gatys optimisation (minutes each at real sizes): its steps
    are now shown under the images' bar (in a log file, as here, a line a minute: each step for this slow one), and
    not with --no-progress."""
    from cyclegan import progress
    from cyclegan.compare import compare
    from cyclegan.compare_options import CompareOptions

    monkeypatch.setattr(progress, "LINE_EVERY_S", 0.0)  # every image slow

    content = make_images(tmp_path / "content", 1, seed=7, size=(40, 30))
    style = make_images(tmp_path / "style", 1, seed=8, size=(32, 32))
    opts = CompareOptions(
        checkpoint=str(checkpoint),
        direction="AtoB",
        content=tuple(map(str, content)),
        style=tuple(map(str, style)),
        out=str(tmp_path / "cmp"),
        size=32,
        steps=3,
        backbone="lite0",
    )
    compare(opts)
    assert "stylize (lite0): step 3/3, loss " in capsys.readouterr().err
    compare(replace(opts, progress=False, overwrite=True))
    assert "stylize" not in capsys.readouterr().err


def test_a_content_name_too_long_for_its_outputs_is_cut_at_its_stem_as_translate_does(checkpoint, tmp_path, capsys):
    """A 251-byte stem (the longest a .png takes): its `_cyclegan.png` made a 264-byte name, refused as too long
    where translate cuts the stem's end with a warning. One cut for the image's three files, so they stay a set."""
    from cyclegan.compare import CompareOptions, compare
    from cyclegan.report import METHODS

    stem = "é" * 125 + "x"  # 251 bytes: the cut keeps whole characters
    (tmp_path / "content").mkdir()
    Image.new("RGB", (30, 30), (90, 140, 60)).save(tmp_path / "content" / f"{stem}.png")
    style = make_images(tmp_path / "style", 1, seed=8, size=(30, 30))
    out = tmp_path / "cmp"
    opts = CompareOptions(str(checkpoint), [str(tmp_path / "content")], [str(style[0])], str(out))
    report = compare(replace(opts, size=24, steps=2, backbone="lite0", device="cpu", progress=False))
    cut = stem[:-5]  # 242 bytes: 255 with "_cyclegan.png", the longest of the three
    assert sorted(p.name for p in (out / "images").iterdir()) == sorted(f"{cut}_{k}.png" for k in METHODS)
    assert sorted(report.rows[0].images.values()) == sorted(f"images/{cut}_{k}.png" for k in METHODS)
    assert f"will be written as {cut}_cyclegan.png (a name takes 255 bytes)" in capsys.readouterr().err


def test_a_run_trained_btoa_only_is_compared_in_its_direction_without_direction(tmp_path, capsys):
    """`--direction` was required, where translate and export take the model's own: a pix2pix run trained BtoA
    needed its one direction typed. Now its own, named in the report; the one it lacks still refused."""
    from cyclegan.checkpoint import FORMAT
    from cyclegan.cli import main
    from cyclegan.config import resolve
    from cyclegan.models import build_networks

    cfg = resolve({"family": "pix2pix", "direction": "BtoA", "ngf": 4, "ndf": 4, "size": 32})
    ckpt = tmp_path / "p2p.pt"
    models = {k: m.state_dict() for k, m in build_networks(cfg).items()}
    torch.save({"format": FORMAT, "config": cfg.to_dict(), "step": 0, "models": models}, ckpt)
    content = make_images(tmp_path / "content", 1, seed=7, size=(30, 30))
    style = make_images(tmp_path / "style", 1, seed=8, size=(30, 30))
    args = ["compare", "--checkpoint", str(ckpt), "--content", str(content[0]), "--style", str(style[0])]
    args += ["--size", "24", "--steps", "1", "--backbone", "lite0", "--device", "cpu", "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "own")]) == 0
    assert json.loads((tmp_path / "own" / "report.json").read_text())["direction"] == "BtoA"
    assert main([*args, "--out", str(tmp_path / "other"), "--direction", "AtoB"]) == 2
    assert "translates B to A only; use --direction BtoA" in capsys.readouterr().err


def test_an_animated_content_or_style_image_names_the_frames_left_out(checkpoint, tmp_path, capsys):
    """An animated GIF given to compare was compared by its first frame without a word, where stylize names the
    frames it leaves out."""
    from cyclegan.compare import CompareOptions, compare

    frames = [Image.new("RGB", (30, 30), (60 * i, 90, 30)) for i in range(3)]
    clip = tmp_path / "anim.gif"
    frames[0].save(clip, save_all=True, append_images=frames[1:])
    style = make_images(tmp_path / "style", 1, seed=8, size=(30, 30))
    opts = CompareOptions(str(checkpoint), [str(clip)], [str(style[0]), str(clip)], str(tmp_path / "cmp"), size=16)
    compare(replace(opts, steps=1, backbone="lite0", device="cpu", progress=False))
    err = capsys.readouterr().err
    assert err.count(f"warning: {clip} holds 3 frames (pages); only the first is compared") == 1  # content and style
    # A --style folder of scans said each in its own line: now one line counts them
    (tmp_path / "scans").mkdir()
    for i in range(4):
        frames[0].save(tmp_path / "scans" / f"scan{i}.tif", save_all=True, append_images=frames[1:2])
    opts = replace(opts, style=[str(tmp_path / "scans")], out=str(tmp_path / "cmp2"), refs_per_image=4)
    compare(replace(opts, steps=1, backbone="lite0", device="cpu", progress=False))
    warned = [line for line in capsys.readouterr().err.splitlines() if "frames" in line]
    assert len(warned) == 1 and warned[0].startswith("warning: 5 files hold several frames (pages); only the first of")


def one_image_report(*, refs: int = 1, model: str = "CycleGAN"):
    """A `CompareReport` of one image "a.png" compared against `refs` references, every figure 0.5."""
    from cyclegan.report import CompareReport, Row

    figures = {k: {m: 0.5 for m in ("input", "cyclegan", "gatys")} for k in ("seconds", "ssim_y")}
    images = {m: f"images/a_{m}.png" for m in ("input", "cyclegan", "gatys")}
    row = Row("a", "a.png", ["s.png", "t.png"][:refs], **figures, content_distance=figures["ssim_y"],
              style_distance=figures["ssim_y"], images=images)  # fmt: skip
    gatys = {"backbone": "lite0", "content_layers": [], "style_layers": [], "steps": 1, "optimizer": "adam"}
    metrics = {"content_layer": "block3", "style_layers": ["stem"]}
    return CompareReport(
        "run", "AtoB", 16, {**gatys, "refs_per_image": refs}, metrics, [row], None, "g", "h", model=model
    )


@pytest.mark.parametrize("refs", [1, 2])
def test_the_report_s_reference_column_is_named_by_its_count(refs):
    """The per-image table's column read "reference(s)": "reference" with one per image, "references" with more."""
    from cyclegan.report import render_compare_html

    page = render_compare_html(one_image_report(refs=refs))
    assert f"<th>{'reference' if refs == 1 else 'references'}</th>" in page and "(s)" not in page


def test_the_page_s_summary_names_the_methods_as_the_terminal_does():
    """The page's summary table named its last row "gatys" beside the terminal's "Gatys" (and the page's own
    "Gatys" column of the per-image table): each method is named once, for both."""
    from cyclegan.report import render_compare_html
    from cyclegan.report.text import summary_lines

    report = one_image_report(model="CUT")
    summary = render_compare_html(report).split("<h2>Summary")[1].split("</table>")[0]
    rows = [line.split("</th>")[0] for line in summary.split("<tr><th>")[2:]]  # after the header row
    assert rows == ["input", "CUT", "Gatys"]
    assert [line.split()[0] for line in summary_lines(report)[1:4]] == rows
