"""Model families (--model): pix2pix on pairs, CUT and FastCUT one-sided; each resumes exactly, translates,
exports, loads its reference implementation's generator files, and is refused options of another family."""

from __future__ import annotations

import json
import os
import signal
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F_
from PIL import Image
from torch import nn

from conftest import TINY, make_images
from cyclegan.checkpoint import load_checkpoint
from cyclegan.cli import main
from cyclegan.config import resolve
from cyclegan.errors import CycleGANError
from cyclegan.loading import load_generator
from cyclegan.options import named_as_flags
from cyclegan.train import prepare_config, train, trainer_class
from helpers import flags, run_cyclegan
from reference_nets import RefResnetBlock, randomize, ref_norm, ref_unet

FAMILIES = ("pix2pix", "cut", "fastcut")
# Tiny networks for each family; the U-Net at 32 px has 5 levels (no dropout level), so 64 px exercises one.
TINY_FAMILY = {
    "pix2pix": {"family": "pix2pix", "size": 64, "dropout": 0.5},
    "cut": {"family": "cut", "n_blocks": 2, "nce_num_patches": 16, "nce_mlp_dim": 8, "pool_size": 2},
    "fastcut": {"family": "fastcut", "n_blocks": 2, "nce_num_patches": 16, "nce_mlp_dim": 8},
}


def family_cfg(family: str, data: Path, out: Path, **extra):
    base = {k: v for k, v in TINY.items() if k != "preset" and not (family == "pix2pix" and k == "pool_size")}
    return resolve({**base, **TINY_FAMILY[family], "data": str(data), "out": str(out), **extra})


@pytest.fixture
def paired(tmp_path: Path) -> Path:
    """ROOT/trainA, trainB (5 pairs: the same names, B a recoloured A), testA, testB (2 pairs)."""
    root = tmp_path / "paired"
    for split, n, seed in (("train", 5, 1), ("test", 2, 2)):
        for p in make_images(root / f"{split}A", n, seed=seed, size=(40, 40)):
            arr = np.asarray(Image.open(p))
            (root / f"{split}B").mkdir(parents=True, exist_ok=True)
            Image.fromarray(255 - arr).save(root / f"{split}B" / p.name)
    return root


# --- the option, presets and refusals ------------------------------------------------------------------------


def test_model_alone_brings_its_family_defaults():
    cut, fast, p2p = resolve({"family": "cut"}), resolve({"family": "fastcut"}), resolve({"family": "pix2pix"})
    assert cut.preset == "paper" and cut.model.downsample == cut.model.upsample == "antialias"
    assert (cut.cut.lambda_nce, cut.cut.nce_idt, cut.cut.flip_equivariance) == (1.0, True, False)
    assert (fast.cut.lambda_nce, fast.cut.nce_idt, fast.cut.flip_equivariance) == (10.0, False, True)
    assert cut.train.pool_size == 0 and cut.train.gan_loss == "lsgan"
    # the CUT paper's layers 0 4 8 12 16 on its 9-block anti-aliased generator, mapped onto ours
    assert cut.model.n_blocks == 9 and cut.cut.nce_layers == (0, 4, 8, 12, 16)
    assert resolve({"family": "cut", "downsample": "stride", "n_blocks": 4}).cut.nce_layers == (0, 4, 7, 10, 12)
    assert p2p.preset == "paper" and p2p.model.generator == "unet" and p2p.model.unet_levels == 8  # unet_256
    assert p2p.train.gan_loss == "vanilla" and p2p.pix2pix.lambda_l1 == 100 and p2p.model.dropout == 0.5
    assert resolve({"family": "pix2pix", "size": 128}).model.unet_levels == 7  # unet_128
    assert resolve({"family": "pix2pix", "size": 32}).model.unet_levels == 5
    assert resolve({"family": "cut", "preset": "fast"}).model.ngf == 24  # a preset with a family: both apply
    assert resolve({}).model.family == "cyclegan" and resolve({}).preset == "paper"
    legacy = resolve({"preset": "cut"})  # a family's name as --preset: the paper's recipe with --model cut
    assert (legacy.preset, legacy.model.family, legacy.cut.lambda_nce) == ("paper", "cut", 1.0)


def test_preset_and_model_compose_with_one_precedence(dataset, tmp_path):
    """field default < family defaults < preset < config file < flags."""
    fast_cut = resolve({"family": "cut", "preset": "fast"})
    assert fast_cut.train.pool_size == 0  # CUT's own value: the fast preset does not set the pool
    assert fast_cut.model.upsample == "resize" and fast_cut.model.downsample == "antialias"  # preset over family
    assert (fast_cut.model.ngf, fast_cut.train.batch_size, fast_cut.train.ema_decay) == (24, 2, 0.99)
    assert resolve({"family": "fastcut", "preset": "seed", "generator": "resnet"}).train.lr_decay_fraction == 0.0
    assert resolve({"family": "cut", "preset": "fast", "pool_size": 3}).train.pool_size == 3  # flags win
    assert resolve({"preset": "fast"}).train.pool_size == 50  # CycleGAN keeps the paper's pool
    (tmp_path / "more.yaml").write_text("n_blocks: 2\nnce_num_patches: 16\nnce_mlp_dim: 8\nngf: 4\n")
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--model",
                "cut",
                "--preset",
                "fast",
                "--config",
                str(tmp_path / "more.yaml"),
                "--data",
                str(dataset),
                "--out",
                str(run),
                "--steps",
                "1",
                "--size",
                "32",
                "--ngf",
                "8",
                "--num-workers",
                "0",
                "--no-progress",
            ]
        )
        == 0
    )
    saved = json.loads((run / "config.json").read_text())
    assert saved["preset"] == "fast" and saved["model"]["family"] == "cut" and saved["train"]["pool_size"] == 0
    assert saved["model"]["n_blocks"] == 2 and saved["model"]["ngf"] == 8  # the file over the preset, flags over it
    assert saved["model"]["upsample"] == "resize" and saved["model"]["downsample"] == "antialias"
    with pytest.raises(CycleGANError, match="names a model family"):
        resolve({"preset": "cut", "family": "pix2pix"})


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lambda-nce", "2"], "option '--lambda-nce' applies to --model cut or fastcut, not to --model cyclegan"),
        (["--model", "pix2pix", "--lambda-cycle", "5"], "option '--lambda-cycle' applies to --model cyclegan, not"),
        (["--model", "cut", "--lambda-l1", "5"], "option '--lambda-l1' applies to --model pix2pix, not to --model cut"),
        (["--direction", "BtoA"], "option '--direction' applies to --model pix2pix or cut or fastcut"),
        # typed at their defaults they do nothing either: they passed without a word (a config file's may: its
        # config.json holds every option)
        (["--model", "cut", "--lambda-cycle", "10"], "option '--lambda-cycle' applies to --model cyclegan, not"),
        # the error alone, not also config.resolve's warning that --best-by does nothing without --eval-every
        (["--model", "cut", "--lambda-cycle", "10", "--best-by", "ssim"], "option '--lambda-cycle' applies to"),
        (["--direction", "AtoB"], "option '--direction' applies to --model pix2pix or cut or fastcut"),
        (["--model", "cut", "--generator", "unet"], "--model cut needs the resnet generator"),
        (["--model", "cut", "--nce-layers", "0", "99"], "option '--nce-layers': 0 99: give distinct increasing"),
        # out of order: a matrix-shape RuntimeError traceback at the first step
        (["--model", "cut", "--nce-layers", "4", "0"], "option '--nce-layers': 4 0: give distinct increasing"),
        (["--model", "pix2pix", "--size", "16"], "the unet generator needs >= 32 px"),
    ],
)
def test_wrong_option_for_the_family_is_refused_in_one_line(args, message, tmp_path, capsys):
    assert main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "run"), "--steps", "1", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert not (tmp_path / "run").exists()


def test_another_familys_option_in_a_config_file_is_named_as_the_files_key(tmp_path, capsys):
    # It was named '--lambda-nce', a flag the user never typed, and the file went unnamed.
    config = tmp_path / "cut.yaml"
    config.write_text("cut:\n  lambda_nce: 2\n")
    args = ["train", "--config", str(config), "--data", str(tmp_path), "--out", str(tmp_path / "run"), "--steps", "1"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert f"option 'lambda_nce' in '{config}' applies to --model cut or fastcut, not to --model cyclegan" in err
    assert main([*args, "--lambda-nce", "3"]) == 2  # the flag over the file's key: named as the flag
    assert "option '--lambda-nce' applies to --model cut or fastcut" in capsys.readouterr().err


def test_a_check_across_options_names_a_config_files_key_as_the_files(tmp_path, capsys):
    # A pix2pix run's config.json given with --model cut was refused as "option 'generator'": the file went unnamed
    config = tmp_path / "config.json"
    config.write_text(json.dumps(resolve({"family": "pix2pix", "size": 32}).to_dict()))
    args = ["train", "--config", str(config), "--model", "cut", "--data", str(tmp_path), "--out", str(tmp_path / "r")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"error: option 'generator' in '{config}': --model cut needs the resnet generator" in err, err
    assert main([*args, "--generator", "unet"]) == 2  # the flag over the file's key: named as the flag
    assert "error: option '--generator': --model cut needs the resnet generator" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_help_groups_each_familys_options(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    p2p, cut = out.index("pix2pix options (--model pix2pix"), out.index("CUT options (--model cut or fastcut)")
    help_part = out[out.index("options:") :]  # past the usage line
    assert help_part.count("--lambda-nce X") == 1  # in its family's group only
    assert p2p < out.index("--lambda-l1 X", p2p) < cut < out.index("--lambda-nce X", cut) < out.index("--nce-temp", cut)
    assert "--model {cyclegan,pix2pix,cut,fastcut}" in out
    assert "[--model cyclegan]" in " ".join(help_part[help_part.index("--lambda-cycle X") :].split()[:30])


def test_a_family_preset_against_a_config_files_family_names_the_file(tmp_path, capsys):
    # `--config cut.yaml --preset fastcut` said "names a model family, not --model cut": no --model was typed
    config = tmp_path / "cut.yaml"
    config.write_text("family: cut\n")
    args = ["train", "--config", str(config), "--preset", "fastcut", "--data", str(tmp_path), "--out", str(tmp_path)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: --preset fastcut names a model family, not cut (option 'family' in '{config}'); give --preset fastcut "
        f"alone, or the recipe --preset paper or seed or fast with that family\n"
    )


def test_a_config_file_of_another_family_says_which_of_its_values_replace_the_models(paired, tmp_path, capsys):
    # `--config runs/cut/config.json --model fastcut` trained CUT's PatchNCE weight and identity term as "fastcut"
    cfg = resolve({"family": "cut", "size": 32, "ngf": 8, "n_blocks": 1, "nce_num_patches": 8, "nce_mlp_dim": 8})
    config = tmp_path / "config.json"
    config.write_text(json.dumps(cfg.to_dict()))
    args = ["train", "--config", str(config), "--data", str(paired), "--steps", "1", "--num-workers", "0"]
    assert main([*args, "--out", str(tmp_path / "a"), "--model", "fastcut", "--lambda-nce", "10", "--no-progress"]) == 0
    assert (
        f"warning: {config} is a cut config: its lr_decay_fraction 0.5, nce_idt True, flip_equivariance False "
        "replace --model fastcut's values (give them as flags to keep the family's)"
    ) in capsys.readouterr().err
    assert main([*args, "--out", str(tmp_path / "b"), "--model", "cut", "--no-progress"]) == 0
    assert "config:" not in capsys.readouterr().err  # its own family


def test_a_config_files_own_family_values_are_named_where_the_model_keeps_the_fields_defaults(paired, tmp_path, capsys):
    # A pix2pix run's config.json given with --model cyclegan trained a CycleGAN of pix2pix's U-Net, dropout and
    # vanilla loss without a word (CycleGAN has no values of its own to compare with); a FastCUT one with --model cut,
    # FastCUT's quarter decay. And a config the model refuses said the warning above its one error line.
    p2p = resolve({"family": "pix2pix", "size": 32, "ngf": 8, "unet_levels": 5})
    fast = resolve({"family": "fastcut", "size": 32, "ngf": 8, "n_blocks": 1, "nce_num_patches": 8, "nce_mlp_dim": 8})
    for cfg in (p2p, fast):
        (tmp_path / f"{cfg.model.family}.json").write_text(json.dumps(cfg.to_dict()))
    args = ["--data", str(paired), "--steps", "1", "--num-workers", "0", "--no-progress"]

    def train_with(family: str, model: str) -> tuple[int, str]:
        config = tmp_path / f"{family}.json"
        argv = ["train", "--config", str(config), "--model", model, "--out", str(tmp_path / f"{family}-{model}")]
        return main([*argv, *args]), capsys.readouterr().err

    status, err = train_with("pix2pix", "cyclegan")
    assert status == 0
    assert (
        f"warning: {tmp_path / 'pix2pix.json'} is a pix2pix config: its generator 'unet', dropout 0.5, gan_loss "
        "'vanilla' replace --model cyclegan's values (give them as flags to keep the family's)\n"
    ) in err
    status, err = train_with("fastcut", "cut")
    assert status == 0 and "flip_equivariance True, lr_decay_fraction 0.25 replace --model cut's values" in err
    status, err = train_with("pix2pix", "cut")  # the U-Net refused: that line alone
    assert status == 2 and err.startswith("error: option 'generator' in ") and err.count("\n") == 1, err


def test_a_cyclegan_config_given_with_model_cut_trains_with_cuts_own_patchnce_values(paired, tmp_path, capsys):
    # A CycleGAN run's config.json holds a `cut` section of None ("the family's value"): with --model cut those
    # None replaced CUT's values, a warning named "lambda_nce None", and the first step was a TypeError traceback
    cfg = resolve({"size": 32, "ngf": 8, "n_blocks": 1})
    assert cfg.cut.lambda_nce is None
    config = tmp_path / "config.json"
    config.write_text(json.dumps(cfg.to_dict()))
    args = ["train", "--config", str(config), "--data", str(paired), "--steps", "1", "--num-workers", "0"]
    small = ["--nce-num-patches", "8", "--nce-mlp-dim", "8", "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "r"), "--model", "cut", *small]) == 0
    err = capsys.readouterr().err
    assert "replace --model cut's values" in err and "None" not in err, err  # the file's pool and resampling
    cut = json.loads((tmp_path / "r" / "config.json").read_text())["cut"]
    assert (cut["lambda_nce"], cut["nce_idt"], cut["flip_equivariance"]) == (1.0, True, False)


@pytest.mark.parametrize("command", ["translate", "export"])
def test_direction_help_says_a_one_generator_model_translates_its_trained_direction(command, capsys):
    # It said "BtoA translates B -> A with F", which a pix2pix or CUT run, one generator, does not have.
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "a pix2pix, CUT or FastCUT model has one generator, G, for the one direction it was trained in" in text


# --- paired data --------------------------------------------------------------------------------------------


def test_synthetic_paired_writes_the_same_scenes_in_both_styles(tmp_path):
    from cyclegan.data.synthetic import render, scene_for

    assert (
        main(
            [
                "datasets",
                "synthetic",
                "--out",
                str(tmp_path / "s"),
                "--size",
                "16",
                "--count",
                "3",
                "--test-count",
                "2",
                "--paired",
                "--no-progress",
            ]
        )
        == 0
    )
    a, b = sorted((tmp_path / "s/trainA").iterdir()), sorted((tmp_path / "s/trainB").iterdir())
    assert [p.name for p in a] == [p.name for p in b] == ["00000.png", "00001.png", "00002.png"]
    assert np.array_equal(np.asarray(Image.open(b[1])), render(scene_for(0, 1), "winter", 16))
    assert np.array_equal(np.asarray(Image.open(a[1])), render(scene_for(0, 1), "summer", 16))
    main(
        [
            "datasets",
            "synthetic",
            "--out",
            str(tmp_path / "u"),
            "--size",
            "16",
            "--count",
            "3",
            "--test-count",
            "2",
            "--no-progress",
        ]
    )
    for split in ("testA", "testB"):  # the same test scenes, paired or not
        for p in (tmp_path / "u" / split).iterdir():
            assert np.array_equal(np.asarray(Image.open(p)), np.asarray(Image.open(tmp_path / "s" / split / p.name)))


def test_pairs_get_the_same_crop_and_flip(tmp_path):
    from cyclegan.data import PairedTrainSet

    rng = np.random.default_rng(0)
    half = rng.integers(0, 255, (20, 20, 3)).astype(np.uint8)
    (tmp_path / "train").mkdir()
    paths = []
    for i in range(3):  # aligned: A | B with B == A, so any difference would be a different crop or flip
        path = tmp_path / "train" / f"{i}.png"
        Image.fromarray(np.concatenate([half, half], 1)).save(path)
        paths.append(path)
    data = PairedTrainSet(paths, None, size=16, load_size=24, flip=True, seed=0, batch_size=1)
    crops = [data[g] for g in range(8)]
    assert all(torch.equal(x, y) for x, y in crops)
    assert len({tuple(x.flatten()[:8].tolist()) for x, _ in crops}) > 1  # the crops do vary
    assert all(torch.equal(a[0], b[0]) for a, b in zip(crops, (data[g] for g in range(8))))  # pure in (seed, g)


def test_unpaired_names_are_refused(paired, tmp_path):
    """Both sides' misses, in one line: the count of A files without a B and of B files without an A, with
    a few names each. Before, only A's count and first name: a renamed B file's new name went unsaid."""
    (paired / "trainB" / "img_002.png").rename(paired / "trainB" / "other.png")
    cfg = family_cfg("pix2pix", paired, tmp_path / "run", steps=1)
    with pytest.raises(CycleGANError) as e:
        train(cfg, progress=False)
    assert str(e.value) == (
        f"{paired / 'trainA'} and {paired / 'trainB'} do not pair up: 1 A file has no B file of the same name "
        "(img_002.png), 1 B file has no A file of the same name (other.png); paired data (family='pix2pix') needs "
        "the same names in both folders (the extension may differ), or ROOT/train of A|B images side by side"
    )


def test_pairs_of_different_shapes_are_named_in_a_warning(paired, tmp_path, capsys):
    """A B file of another shape than its A (80x20 for a 40x40 scene: another scene, or a label map of another
    aspect) was stretched to the square unlike its A and trained on without a word: a warning names the count
    and the first pairs; a pair of one shape at another scale is no warning, and the run trains."""
    Image.fromarray(np.zeros((20, 80, 3), np.uint8)).save(paired / "trainB" / "img_001.png")
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(paired / "trainB" / "img_002.png")  # half scale: fine
    Image.fromarray(np.zeros((50, 40, 3), np.uint8)).save(paired / "testB" / "img_000.png")
    assert train(family_cfg("pix2pix", paired, tmp_path / "run", steps=1), progress=False).step == 1
    err = capsys.readouterr().err
    assert (
        f"warning: 2 pairs of A and B of different shapes ({paired / 'trainA' / 'img_001.png'} is 40x40, its B "
        f"img_001.png 80x20; {paired / 'testA' / 'img_000.png'} is 40x40, its B img_000.png 40x50): pix2pix learns "
        "pixel for pixel, and stretches both to one square; check that each is the same scene, aligned\n"
    ) in err


def test_unpaired_names_count_both_sides_and_name_a_few(tmp_path):
    from cyclegan.data import find_pairs

    for name in ("a/1.png", "a/2.png", "a/3.png", "a/sub/4.png", "b/1.jpg", "b/sub/4.png", "b/x.png"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (4, 4)).save(tmp_path / name)
    with pytest.raises(CycleGANError) as e:
        find_pairs(tmp_path / "a", tmp_path / "b")
    assert "\n" not in str(e.value) and ": 2 A files have no B file of the same name (2.png, 3.png), " in str(e.value)
    assert ", 1 B file has no A file of the same name (x.png); " in str(e.value)
    (tmp_path / "a" / "5.png").write_bytes((tmp_path / "a" / "1.png").read_bytes())
    (tmp_path / "b" / "x.png").unlink()
    with pytest.raises(
        CycleGANError, match=r": 3 A files have no B .* \(2.png, 3.png, \.\.\.\), every B file has its A; "
    ):
        find_pairs(tmp_path / "a", tmp_path / "b")
    for name in ("2", "3", "5"):
        (tmp_path / "a" / f"{name}.png").unlink()
    assert find_pairs(tmp_path / "a", tmp_path / "b") == [  # a different extension still pairs
        (tmp_path / "a" / "1.png", tmp_path / "b" / "1.jpg"),
        (tmp_path / "a" / "sub" / "4.png", tmp_path / "b" / "sub" / "4.png"),
    ]


def test_two_files_of_one_name_in_a_paired_folder_are_refused_not_one_dropped(tmp_path):
    """a/x.jpg and a/x.png with b/x.png: one of the two A files was left out without a word (the last in name
    order won), and which of them is b/x.png's pair is anyone's guess."""
    from cyclegan.data import find_pairs

    for name in ("a/x.jpg", "a/x.png", "b/x.png", "a/y.png", "b/y.png"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (4, 4)).save(tmp_path / name)
    for as_flags, family in ((False, "family='pix2pix'"), (True, "--model pix2pix")):  # Python's words, a command's
        with named_as_flags() if as_flags else nullcontext(), pytest.raises(CycleGANError) as e:
            find_pairs(tmp_path / "a", tmp_path / "b")
        assert str(e.value) == (
            f"{tmp_path / 'a' / 'x.jpg'} and x.png beside it have one name: paired data ({family}) pairs files by "
            "name without the extension, so rename or remove one"
        )


def aligned_layout(paired: Path, root: Path) -> Path:
    """The paired set as pix2pix's aligned layout: ROOT/train and ROOT/test of A|B images side by side."""
    for split in ("train", "test"):
        (root / split).mkdir(parents=True)
        for p in sorted((paired / f"{split}A").iterdir()):
            a, b = np.asarray(Image.open(p)), np.asarray(Image.open(paired / f"{split}B" / p.name))
            Image.fromarray(np.concatenate([a, b], 1)).save(root / split / p.name)
    return root


def test_pix2pix_reads_the_aligned_layout(paired, tmp_path):
    root = aligned_layout(paired, tmp_path / "aligned")
    result = train(family_cfg("pix2pix", root, tmp_path / "run", steps=2), progress=False)
    assert result.step == 2 and (tmp_path / "run" / "samples" / "step_0000002.png").is_file()


@pytest.mark.parametrize("kind", ["file", "broken link"])
def test_pix2pix_names_a_train_that_is_a_file_or_a_broken_link(kind, tmp_path):
    """ROOT/train a file (or a link to nothing) was reported as "ROOT holds no trainA and no trainB"; it is named as
    the unpaired layout's trainA is (`files.no_image_folder`)."""
    root = tmp_path / "aligned"
    root.mkdir()
    if kind == "file":
        (root / "train").write_text("notes")
    else:
        (root / "train").symlink_to(tmp_path / "gone")
    why = "is a file, not a folder" if kind == "file" else "is a broken link"
    with pytest.raises(CycleGANError) as e:
        train(family_cfg("pix2pix", root, tmp_path / "run", steps=1), progress=False)
    assert str(e.value) == f"data aligned folder {root / 'train'} {why}"  # from Python: its key


def test_pix2pix_on_a_root_with_both_layouts_says_which_it_reads(paired, tmp_path, capsys):
    # ROOT/train (A|B side by side) beside ROOT/trainA + trainB: train/ was read without a word
    root = aligned_layout(paired, paired)
    result = train(family_cfg("pix2pix", root, tmp_path / "run", steps=1), progress=False)
    assert result.step == 1
    warnings = [line for line in capsys.readouterr().err.splitlines() if "both train/" in line]
    assert warnings == [
        f"warning: {root} holds both train/ (A|B side by side) and trainA + trainB: training reads train/ and test/; "
        f"to read trainA and trainB instead, give domain_a={str(root / 'trainA')!r} domain_b={str(root / 'trainB')!r} "
        "in place of data"
    ]


@pytest.mark.parametrize("family", ["cut", "fastcut"])
def test_an_unpaired_family_on_the_aligned_layout_names_it(family, paired, tmp_path):
    # It said "domain A folder ROOT/trainA does not exist", not that ROOT/train is a layout only pix2pix reads
    root = aligned_layout(paired, tmp_path / "aligned")
    with pytest.raises(CycleGANError, match=r"holds train/ \(pix2pix's pairs, A\|B side by side\), not trainA and"):
        train(family_cfg(family, root, tmp_path / "run", steps=1), progress=False)


def test_an_aligned_image_too_narrow_to_halve_is_named_or_skipped(paired, tmp_path, capsys):
    # a 1 px wide A|B image has no half for A: it crashed the run with PIL's "height and width must be > 0"
    root = aligned_layout(paired, tmp_path / "aligned")
    for split in ("train", "test"):
        Image.fromarray(np.zeros((40, 1, 3), np.uint8)).save(root / split / "0_thin.png")
    with pytest.raises(CycleGANError, match=r"train/0_thin.png: 1 px wide, but an aligned pair .* skip_bad_images"):
        train(family_cfg("pix2pix", root, tmp_path / "run", steps=1), progress=False)
    result = train(family_cfg("pix2pix", root, tmp_path / "run2", steps=1, skip_bad_images=True), progress=False)
    assert result.step == 1
    err = capsys.readouterr().err
    assert "skipping " in err and "train/0_thin.png: 1 px wide" in err and "test/0_thin.png: 1 px wide" in err


def test_an_aligned_file_that_is_no_a_b_pair_is_refused_or_named(paired, tmp_path, capsys):
    # The reference splits any file at w/2: a file of odd width (no A and B of one size make one) or a square photo
    # among 2:1 pairs trained as two halves of one scene, without a word
    root = aligned_layout(paired, tmp_path / "aligned")  # 80x40 files: A and B of 40x40
    Image.fromarray(np.zeros((40, 81, 3), np.uint8)).save(root / "train" / "odd.png")
    expected = r"80x40 or 82x40 here; 512x256 for two 256x256 images\): is it an A\|B pair\? \(remove it, or pass"
    with pytest.raises(CycleGANError, match=r"train/odd.png: 81x40, an odd width, .*" + expected):
        train(family_cfg("pix2pix", root, tmp_path / "run", steps=1), progress=False)
    (root / "train" / "odd.png").unlink()
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(root / "train" / "photo.png")  # even, but a photo
    capsys.readouterr()
    assert train(family_cfg("pix2pix", root, tmp_path / "run2", steps=1), progress=False).step == 1
    assert (
        "warning: 1 of 8 aligned A|B files is not of the shape most are, 80x40 (an A and a B of 40x40 side by "
        f"side): {root / 'train' / 'photo.png'} is 40x40; each is split at its middle into A and B all the same: "
        "check that it is an A|B pair"
    ) in capsys.readouterr().err.splitlines()


# --- training: exact resume, checkpoints ----------------------------------------------------------------------


def _train_steps(cfg, n):
    """Run `cfg` but stop after n steps, as SIGTERM would (the trainer saves and the loop exits 143)."""
    import cyclegan.train.loop as loop

    cls = trainer_class(cfg.model.family)
    real_step = cls.step
    count = {"n": 0}

    def step(self, x, y):
        out = real_step(self, x, y)
        count["n"] += 1
        if count["n"] == n:
            os.kill(os.getpid(), signal.SIGTERM)
        return out

    cls.step = step
    try:
        with pytest.raises(SystemExit):
            loop.train(cfg, progress=False)
    finally:
        cls.step = real_step


@pytest.mark.parametrize("family", FAMILIES)
def test_resume_gives_identical_weights(family, paired, dataset, tmp_path):
    """2N steps in one run == N steps, resume, N more: every network (H too), the averaged generator, the LR."""
    N = 3
    data = paired if family == "pix2pix" else dataset
    extra = {"steps": 2 * N, "lr_decay_fraction": 0.5, "ema_decay": 0.9, "precision": "fp32"}
    train(family_cfg(family, data, tmp_path / "one", **extra), progress=False)
    _train_steps(family_cfg(family, data, tmp_path / "two", **extra), N)
    cfg, ckpt = prepare_config({"steps": 2 * N}, resume=True, out=str(tmp_path / "two"))
    assert ckpt["step"] == N
    train(cfg, ckpt=ckpt, progress=False)
    a, b = load_checkpoint(tmp_path / "one"), load_checkpoint(tmp_path / "two")
    names = {"pix2pix": {"G", "D"}}.get(family, {"G", "D", "H"})
    assert set(a["models"]) == names and a["family"] == family and set(a["ema"]) == {"G"}
    for part in ("models", "ema"):
        for net in a[part]:
            for k in a[part][net]:
                assert torch.equal(a[part][net][k], b[part][net][k]), f"{part}.{net}.{k} differs"
    log = lambda run: [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]  # noqa: E731
    assert [r["lr"] for r in log(tmp_path / "one")] == [r["lr"] for r in log(tmp_path / "two")]
    losses = {"pix2pix": {"D", "G_adv", "L1"}, "cut": {"D", "G_adv", "NCE", "NCE_idt"}, "fastcut": {"NCE"}}
    assert losses[family] <= set(log(tmp_path / "one")[0])


def test_a_checkpoint_of_another_family_shape_is_refused(paired, tmp_path):
    train(family_cfg("pix2pix", paired, tmp_path / "run", steps=1), progress=False)
    ckpt = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    del ckpt["models"]["D"]
    torch.save(ckpt, tmp_path / "bad.pt")
    with pytest.raises(CycleGANError, match="'models' has no 'D' network"):
        load_checkpoint(tmp_path / "bad.pt")


class _MirrorSymmetricG(nn.Module):
    """A stand-in generator whose every layer commutes with a left-right mirror (kernels symmetric in x):
    G(flip(x)) == flip(G(x)), so flip-equivariance must leave FastCUT's PatchNCE exactly unchanged."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 3, 3, padding=1))
        with torch.no_grad():
            for m in self.model:
                if isinstance(m, nn.Conv2d):
                    m.weight.copy_((m.weight + m.weight.flip(3)) / 2)

    def forward_features(self, x, layers, *, encode_only=False):
        feats, h = [], x
        for i, layer in enumerate(self.model):
            h = layer(h)
            if i in layers:
                feats.append(h)
        return (None if encode_only else h), feats


def test_flip_equivariance_compares_each_output_patch_with_its_own_input_patch():
    """FastCUT mirrors G's input at random; the output's features must be mirrored back before PatchNCE, so
    that each patch is compared with the input patch it came from. With a mirror-symmetric G the loss (and
    the output, mirrored back) must then be what the unmirrored step gives; a missing or misplaced mirror
    compares patch (i, j) with (i, W-1-j) and changes it."""
    from cyclegan.models.cut import PatchSampleMLP
    from cyclegan.train.cut import CUTGenerator

    G = _MirrorSymmetricG()
    H = PatchSampleMLP([4, 3], dim=8)
    gen = CUTGenerator(G, H, layers=(0, 2), num_patches=16, temperature=0.07, identity=False)
    x = torch.rand(2, 3, 8, 8) * 2 - 1
    y = torch.rand(2, 3, 8, 8) * 2 - 1
    x[..., :4] += 0.5  # not mirror-symmetric itself, so a wrong pairing of patches shows
    torch.manual_seed(1)
    fake, _, nce, _ = gen(x, y, False)
    torch.manual_seed(1)
    fake_f, _, nce_f, _ = gen(x, y, True)
    torch.testing.assert_close(fake_f.flip(3), fake, atol=1e-5, rtol=0)
    torch.testing.assert_close(nce_f, nce, atol=1e-5, rtol=0)
    # and the test can fail: comparing unmirrored output features with the input's pairs the wrong patches
    torch.manual_seed(1)
    _, feats = G.forward_features(x, (0, 2))
    _, out_feats = G.forward_features(fake_f, (0, 2))
    keys, ids = H(feats, 16)
    queries, _ = H(out_feats, 16, ids)
    from cyclegan.losses import patch_nce_loss

    wrong = torch.stack([patch_nce_loss(q, k, batch_size=2, temperature=0.07) for q, k in zip(queries, keys)]).mean()
    assert (wrong - nce).abs() > 1e-3


@pytest.mark.parametrize("family", ["cut", "fastcut"])
def test_lambda_nce_0_trains_without_computing_patchnce(family, dataset, tmp_path, monkeypatch):
    """`--lambda-nce 0` computed PatchNCE (features, the MLP, the contrastive loss) every step, then multiplied it
    by 0. Now it is not computed: G learns from the adversarial loss alone, H keeps its weights."""
    import cyclegan.train.cut as cut
    from cyclegan.execution import Execution

    monkeypatch.setattr(cut, "patch_nce_loss", lambda *a, **k: pytest.fail("PatchNCE computed at weight 0"))
    cfg = family_cfg(family, dataset, tmp_path / "run", lambda_nce=0.0, precision="fp32")
    trainer = trainer_class(family)(cfg, total_steps=4, device=torch.device("cpu"), execution=Execution())
    before = {n: {k: v.clone() for k, v in trainer.nets[n].state_dict().items()} for n in ("G", "H")}
    x, y = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    losses = [trainer.step(x, y) for _ in range(2)]
    assert all("NCE" not in s and torch.isfinite(s["G_total"]) for s in losses)
    changed = lambda n: any(not torch.equal(v, before[n][k]) for k, v in trainer.nets[n].state_dict().items())  # noqa: E731
    assert changed("G") and not changed("H")
    train(family_cfg(family, dataset, tmp_path / "run", lambda_nce=0.0, steps=2), progress=False)  # the whole run
    assert load_checkpoint(tmp_path / "run")["step"] == 2


# --- translate, evaluate, export -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def family_runs(tmp_path_factory) -> dict[str, Path]:
    """A run of each family, 2 steps; pix2pix learns BtoA (its pairs: B a recoloured A)."""
    root = tmp_path_factory.mktemp("famdata")
    for split, n in (("trainA", 3), ("testA", 2)):
        for p in make_images(root / split, n, seed=len(split) + n, size=(40, 40)):
            (root / split.replace("A", "B")).mkdir(exist_ok=True)
            Image.fromarray(255 - np.asarray(Image.open(p))).save(root / split.replace("A", "B") / p.name)
    runs = {}
    torch.set_num_threads(1)
    for family in FAMILIES:
        out = tmp_path_factory.mktemp(family)
        extra = {"direction": "BtoA"} if family == "pix2pix" else {}
        train(family_cfg(family, root, out, steps=2, **extra), progress=False)
        runs[family] = out
    runs["data"] = root
    return runs


@pytest.mark.parametrize("family", FAMILIES)
def test_translate_offers_the_trained_direction_only(family, family_runs, tmp_path, capsys):
    run, data = family_runs[family], family_runs["data"]
    trained, other = ("BtoA", "AtoB") if family == "pix2pix" else ("AtoB", "BtoA")
    src = data / f"test{trained[0]}"
    assert (
        main(
            [
                "translate",
                "--checkpoint",
                str(run),
                "--direction",
                trained,
                "--out",
                str(tmp_path / "o"),
                "--no-progress",
                str(src),
            ]
        )
        == 0
    )
    outs = sorted(p.name for p in (tmp_path / "o").iterdir())
    assert outs == sorted(p.name for p in src.iterdir())
    assert Image.open(tmp_path / "o" / outs[0]).size == Image.open(src / outs[0]).size
    capsys.readouterr()
    assert (
        main(
            [
                "translate",
                "--checkpoint",
                str(run),
                "--direction",
                other,
                "--out",
                str(tmp_path / "x"),
                "--no-progress",
                str(src),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip()
    a, b = trained[0], trained[-1]
    assert f"this {family} model translates {a} to {b} only; use --direction {trained}" in err and "\n" not in err


def test_evaluate_scores_the_trained_direction(family_runs, tmp_path):
    from cyclegan.data.dataset import eval_transform
    from cyclegan.data.io import read_image
    from cyclegan.evaluate.runner import EvalOptions, evaluate
    from cyclegan.inference import translate_tensor

    run, data = family_runs["cut"], family_runs["data"]
    opts = EvalOptions(checkpoint=(str(run),), data=str(data), backbone="lite0", kid_subset_size=2, progress=False)
    report = evaluate(opts)
    assert list(report["directions"]) == ["AtoB"]  # CUT's one generator translates A to B only
    row = report["directions"]["AtoB"]
    assert (row["n_source"], row["n_target"], row["n_pairs"]) == (2, 2, 2)  # testB: testA's scenes, recoloured
    assert "cycle_l1" not in row  # no generator back to A

    # The truth figures compare G's translations of testA with testB, image by image.
    def images(split: str) -> torch.Tensor:  # (N, 3, S, S) in [-1, 1], in file order
        files = sorted((data / split).iterdir())
        return torch.stack([eval_transform(read_image(p), size=report["eval_size"]) for p in files])

    with torch.no_grad():
        fake = translate_tensor(load_generator(run, "AtoB"), images("testA"))
    assert row["truth_l1"] == pytest.approx((fake - images("testB")).abs().mean().item(), abs=1e-5)


def test_evaluate_names_each_runs_family(family_runs):
    # Its report named a run by its preset alone: a CUT, a FastCUT and a CycleGAN run of the fast preset each read
    # "(step N, fast preset, trained at ...)", in the table and in --out's JSON
    from cyclegan.evaluate.runner import EvalOptions, evaluate_checkpoints
    from cyclegan.report import format_table

    runs = tuple(str(family_runs[f]) for f in FAMILIES)
    data = str(family_runs["data"])
    reports = evaluate_checkpoints(EvalOptions(checkpoint=runs, data=data, backbone="lite0", kid_subset_size=2))
    assert [r["model"] for r in reports] == ["pix2pix", "CUT", "FastCUT"]
    for report in reports:
        assert f"(step 2, {report['model']}, paper preset, trained at " in format_table(report).splitlines()[0]


@pytest.fixture(scope="module")
def aligned_run(tmp_path_factory) -> tuple[Path, Path, Path]:
    """A pix2pix run (2 steps, BtoA) trained on the aligned layout, ROOT/train (4) and ROOT/test (3) of A|B
    images 32x16 (B a recoloured A): (the run, ROOT, the same pairs as testA/testB files)."""
    pairs = tmp_path_factory.mktemp("pairs")
    for split, n in (("train", 4), ("test", 3)):
        for p in make_images(pairs / f"{split}A", n, seed=n, size=(16, 16)):
            (pairs / f"{split}B").mkdir(exist_ok=True)
            Image.fromarray(255 - np.asarray(Image.open(p))).save(pairs / f"{split}B" / p.name)
    root = aligned_layout(pairs, tmp_path_factory.mktemp("aligned"))
    run = tmp_path_factory.mktemp("run")
    train(family_cfg("pix2pix", root, run, steps=2, size=32, direction="BtoA"), progress=False)
    return run, root, pairs


def test_evaluate_scores_a_run_trained_on_the_aligned_layout(aligned_run, tmp_path):
    # evaluate read ROOT/testA and ROOT/testB only: a run trained on ROOT/train of A|B images could not be scored
    from cyclegan.data.dataset import eval_transform
    from cyclegan.data.io import read_image
    from cyclegan.evaluate.metrics import psnr
    from cyclegan.evaluate.runner import EvalOptions, evaluate
    from cyclegan.inference import translate_tensor

    run, root, pairs = aligned_run
    opts = EvalOptions(checkpoint=(str(run),), kid_subset_size=2, save_images=str(tmp_path / "ev"), progress=False)
    report = evaluate(opts)  # on the run's own --data
    assert report["data"] == str(root) and report["skipped"] == []
    assert report["layout"].startswith(f"aligned A|B images from {root / 'test'} ")
    assert list(report["directions"]) == ["BtoA"]  # the direction the run learned
    row = report["directions"]["BtoA"]
    assert (row["n_source"], row["n_target"], row["n_pairs"]) == (3, 3, 3)

    # B (each file's right half) translated and scored against A (its left half): as the pairs' own files
    def images(folder: Path) -> torch.Tensor:  # (N, 3, S, S) in [-1, 1], in file order
        return torch.stack([eval_transform(read_image(p), size=report["eval_size"]) for p in sorted(folder.iterdir())])

    with torch.no_grad():
        fake = translate_tensor(load_generator(run, "BtoA"), images(pairs / "testB"))
    truth = images(pairs / "testA")
    assert row["truth_l1"] == pytest.approx((fake - truth).abs().mean().item(), abs=1e-5)
    assert row["truth_psnr"] == pytest.approx(psnr(fake, truth).mean().item(), abs=1e-3)
    assert 0 < row["truth_psnr"] < 100 and -1 <= row["truth_ssim"] <= 1 and 0 < row["identity_l1"] < 2
    saved = sorted(p.name for p in (tmp_path / "ev" / "BtoA").iterdir())
    assert saved == ["img_000.png", "img_001.png", "img_002.png"]  # named after the A|B files


def test_evaluate_names_an_aligned_test_image_too_narrow_to_halve(aligned_run, tmp_path, capsys):
    # 1 px wide: no half for A or for B; named in one line as training names it, the other pairs scored
    import shutil

    run, root, _ = aligned_run
    data = tmp_path / "data"
    shutil.copytree(root / "test", data / "test")
    Image.fromarray(np.zeros((16, 1, 3), np.uint8)).save(data / "test" / "0_thin.png")
    out = tmp_path / "eval.json"
    capsys.readouterr()
    assert main(["evaluate", "--checkpoint", str(run), "--data", str(data), "--out", str(out), "--no-progress"]) == 1
    line = (
        f"{data / 'test' / '0_thin.png'}: 1 px wide, but an aligned pair holds A and B side by side, so it needs at "
        "least 2 px"
    )
    printed = capsys.readouterr()
    assert f"error: {line}" in printed.err.splitlines()
    assert f"read aligned A|B images from {data / 'test'} " in printed.out  # the table says what it scored
    report = json.loads(out.read_text())
    assert report["skipped"] == [line] and report["directions"]["BtoA"]["n_pairs"] == 3


def test_evaluate_names_aligned_test_files_that_are_no_a_b_pairs(aligned_run, tmp_path, capsys):
    # an odd width is left out and named as training names it; a square photo among the 2:1 pairs is scored as
    # two halves, and named in a warning (it was scored without a word)
    import shutil

    run, root, _ = aligned_run
    data = tmp_path / "data"
    shutil.copytree(root / "test", data / "test")  # 3 files of 32x16
    Image.fromarray(np.zeros((16, 33, 3), np.uint8)).save(data / "test" / "odd.png")
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(data / "test" / "photo.png")
    out = tmp_path / "eval.json"
    capsys.readouterr()
    assert main(["evaluate", "--checkpoint", str(run), "--data", str(data), "--out", str(out), "--no-progress"]) == 1
    err = capsys.readouterr().err.splitlines()
    odd = data / "test" / "odd.png"
    assert f"error: {odd}: 33x16, an odd width, but an aligned file holds an A and a B of one size side by side " in (
        "\n".join(err)
    )
    assert (
        "warning: 1 of 4 aligned A|B files is not of the shape most are, 32x16 (an A and a B of 16x16 side by "
        f"side): {data / 'test' / 'photo.png'} is 16x16; each is split at its middle into A and B all the same: "
        "check that it is an A|B pair"
    ) in err
    assert json.loads(out.read_text())["directions"]["BtoA"]["n_pairs"] == 4


@pytest.mark.parametrize("family", FAMILIES)
def test_export_matches_pytorch(family, family_runs, tmp_path):
    from cyclegan.export import ExportOptions, export_checkpoint

    direction = "BtoA" if family == "pix2pix" else "AtoB"
    result = export_checkpoint(
        ExportOptions(checkpoint=str(family_runs[family]), out=str(tmp_path / "g.pt"), direction=direction)
    )
    assert result.max_abs_diff is not None and result.max_abs_diff < 1e-4
    net = load_generator(family_runs[family], direction)
    exported = torch.jit.load(str(tmp_path / "g.pt"))
    x = torch.rand(1, 3, 45, 37) * 2 - 1
    from cyclegan.inference import translate_tensor

    with torch.no_grad():
        torch.testing.assert_close(exported(x), translate_tensor(net, x), atol=1e-4, rtol=0)


def test_bench_times_a_family(tmp_path, capsys):
    out = tmp_path / "bench.json"
    args = ["--model", "cut", "--size", "32", "--steps", "1", "--warmup", "0", "--translate-batches", "1"]
    assert main(["bench", *args, "--precision", "fp32", "--compile", "off", "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    # CUT's own trainer was timed: its networks G, D and H (no F, no second discriminator)
    assert r["model"]["family"] == "cut" and sorted(r["model"]["params"]) == ["D", "G", "H"]
    assert all(n > 0 for n in r["model"]["params"].values()) and r["train_s_per_step"] > 0
    assert f"train      {r['train_s_per_step']:.4f} s/step" in capsys.readouterr().out


def test_web_lists_a_one_generator_run_with_its_direction(family_runs):
    from cyclegan.web.runs import find_models

    models = {Path(m.path).parent.name: m for m in find_models([family_runs["cut"].parent], [])}
    cut = models[family_runs["cut"].name]
    assert cut.directions == ("AtoB",) and cut.label.endswith("(AtoB only)")
    assert models[family_runs["pix2pix"].name].directions == ("BtoA",)


# --- generator files of the reference implementations -------------------------------------------------------


class RefBlur(nn.Module):
    """The CUT code's anti-aliasing layers, written from its description: a fixed binomial filter kept as a
    (saved) `filt` buffer; down: reflect pad 1, [1 2 1] stride 2; up: replicate pad 1, [1 3 3 1] x 4
    transposed with stride 2, padding 2, then the first row and column and the last ones dropped."""

    def __init__(self, channels: int, up: bool):
        super().__init__()
        a = torch.tensor([1.0, 3.0, 3.0, 1.0] if up else [1.0, 2.0, 1.0])
        filt = a[:, None] * a[None, :]
        filt = filt / filt.sum() * (4 if up else 1)
        self.up = up
        self.register_buffer("filt", filt[None, None].repeat(channels, 1, 1, 1))

    def forward(self, x):
        if self.up:
            y = F_.conv_transpose2d(
                F_.pad(x, [1, 1, 1, 1], mode="replicate"), self.filt, stride=2, padding=2, groups=x.shape[1]
            )
            return y[:, :, 1:, 1:][:, :, :-1, :-1]
        return F_.conv2d(F_.pad(x, [1, 1, 1, 1], mode="reflect"), self.filt, stride=2, groups=x.shape[1])


class RefCUTGenerator(nn.Module):
    """The CUT code's resnet generator with its default anti-aliased layers (`model.N` as in its files)."""

    def __init__(self, ngf: int = 8, n_blocks: int = 3):
        super().__init__()
        norm = ref_norm("instance")
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(3, ngf, 7), norm(ngf), nn.ReLU(True)]
        for mult in (1, 2):
            c = ngf * mult
            layers += [nn.Conv2d(c, 2 * c, 3, padding=1), norm(2 * c), nn.ReLU(True), RefBlur(2 * c, up=False)]
        layers += [RefResnetBlock(4 * ngf, norm, False, True) for _ in range(n_blocks)]
        for mult in (4, 2):
            c = ngf * mult
            layers += [RefBlur(c, up=True), nn.Conv2d(c, c // 2, 3, padding=1), norm(c // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


def test_loads_a_cut_generator_file(tmp_path):
    ref = randomize(RefCUTGenerator(ngf=8, n_blocks=3), 0)
    sd = ref.state_dict()
    assert {"model.7.filt", "model.11.filt", "model.12.conv_block.1.weight", "model.15.filt", "model.16.weight"} <= set(
        sd
    )
    torch.save(sd, tmp_path / "latest_net_G.pth")
    net = load_generator(tmp_path / "latest_net_G.pth")
    x = torch.rand(2, 3, 24, 32) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(net(x), ref(x), atol=1e-5, rtol=0)
    # a filter of another size is named, not silently replaced by ours
    sd["model.7.filt"] = torch.ones_like(sd["model.7.filt"]) / 9
    torch.save(sd, tmp_path / "other.pth")
    with pytest.raises(CycleGANError, match="model.7.filt has shape .* values unlike the anti-aliasing filter"):
        load_generator(tmp_path / "other.pth")


def test_loads_a_pix2pix_unet_file_and_trains_the_same_layout(tmp_path):
    from cyclegan.models import build_generator

    ref = ref_unet(num_downs=6, ngf=4, dropout=True, norm="instance")
    torch.save(ref.state_dict(), tmp_path / "latest_net_G.pth")
    net = load_generator(tmp_path / "latest_net_G.pth")
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(net(x), ref(x), atol=1e-5, rtol=0)
    # our pix2pix U-Net (64 px: 6 levels) has the same keys and shapes as the reference's
    ours = build_generator(resolve({"family": "pix2pix", "size": 64, "ngf": 4}).model)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in ref.state_dict().items()}


# --- torchrun ------------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed not built")
@pytest.mark.parametrize("family", FAMILIES)
def test_torchrun_two_processes_keep_equal_weights(family, paired, tmp_path):
    """Two CPU processes (gloo): DistributedDataParallel keeps every network equal across ranks, and a resumed
    run goes on from each rank's own random state."""
    opts = {k: v for k, v in TINY.items() if k not in ("preset", "pool_size")}
    opts.update({k: v for k, v in TINY_FAMILY[family].items() if k != "family"})
    opts.update({"data": paired, "device": "cpu", "compile": "off", "steps": 2, "model": family})
    p = run_cyclegan(["train", "--out", str(tmp_path / "ddp"), *flags(opts)], nproc=2)
    assert "training on 2 processes (cpu), global batch 2 = 1 per process" in p.stdout
    ckpt = load_checkpoint(tmp_path / "ddp")
    assert ckpt["step"] == 2 and len(ckpt["ranks"]) == 2
    assert len({r["weights_sha256"] for r in ckpt["ranks"]}) == 1
    run_cyclegan(["train", "--out", str(tmp_path / "ddp"), "--resume", "--steps", "3", "--no-progress"], nproc=2)
    assert load_checkpoint(tmp_path / "ddp")["step"] == 3


def test_auto_keeps_a_unet_in_fp32_on_a_gpu(family_runs, tmp_path, monkeypatch):
    # A U-Net generator is launch-bound on a GPU, where bf16 trained and translated it slower (H200: 0.84-0.89x):
    # both `train` and `translate` tell choose_execution what the generator is.
    import cyclegan.translation as translation
    from cyclegan.train.loop import _choose_execution

    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda d: (9, 0))
    cuda = torch.device("cuda", 0)
    assert _choose_execution(resolve({"family": "pix2pix"}), cuda).precision == "fp32"
    assert _choose_execution(resolve({"family": "cyclegan"}), cuda).precision == "bf16"

    seen = []
    real = translation.choose_execution
    monkeypatch.setattr(translation, "choose_execution", lambda *a, **k: seen.append(k["unet"]) or real(*a, **k))
    for family, direction in (("pix2pix", "BtoA"), ("cut", "AtoB")):
        src = family_runs["data"] / f"test{direction[0]}"
        args = ["translate", "--checkpoint", str(family_runs[family]), "--direction", direction]
        assert main([*args, "--out", str(tmp_path / family), "--no-progress", str(src)]) == 0
    assert seen == [True, False]


@pytest.mark.parametrize(
    "family, extra",
    [
        ("cyclegan", {"dropout": 0.5, "diffaug": "color,translation,cutout", "ema_decay": 0.9, "r1_gamma": 1.0}),
        *((family, {"ema_decay": 0.9}) for family in FAMILIES),
    ],
)
def test_a_training_step_never_reads_the_device_back(family, extra, tmp_path, monkeypatch):
    """Every family's step runs with its networks and batches on the meta device, which holds no values: a loss read
    back (`.item()`, `bool(t)`, `float(t)`) or a tensor made on the CPU beside the model fails there. On a GPU each
    was a wait for the device per step; the losses are read back every --log-every steps only (`train.losslog`).
    (autocast has no meta kind: the fp32 tanh's region is left out there.)"""
    autocast = torch.autocast
    monkeypatch.setattr(torch, "autocast", lambda kind, **k: autocast(kind, **k) if kind != "meta" else nullcontext())
    cfg = (
        resolve({**TINY, "data": str(tmp_path), "out": str(tmp_path / "run"), **extra})
        if family == "cyclegan"
        else family_cfg(family, tmp_path, tmp_path / "run", **extra)
    )
    meta = torch.device("meta")
    trainer = trainer_class(family)(cfg, total_steps=4, device=meta)
    x, y = (torch.empty(cfg.train.batch_size, 3, cfg.data.size, cfg.data.size, device=meta) for _ in range(2))
    for _ in range(2):
        losses = trainer.step(x, y)
    assert losses and all(v.is_meta and v.dim() == 0 for v in losses.values())
