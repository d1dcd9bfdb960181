"""Evaluation: metrics on known inputs, FD/KID on synthetic domains, the FID Inception loader, the runner."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from cyclegan.errors import CycleGANError
from cyclegan.evaluate import PSNR_MAX, l1, psnr, ssim
from helpers import save_tiny_checkpoint, smooth_image, stripe_image, write_split

# --- synthetic domains (their images: helpers.py) ---------------------------------------------------------


def as_tensor(images: list[np.ndarray]) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) in [-1, 1]."""
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 127.5 - 1


def domain(kind: str, n: int, *, seed: int, size: int = 48) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    make = smooth_image if kind == "smooth" else stripe_image
    return as_tensor([make(rng, size) for _ in range(n)])


# --- PSNR / SSIM / L1 -------------------------------------------------------------------------------------


def test_psnr_known_values():
    a = torch.zeros(2, 3, 16, 16)  # mid grey in [-1, 1]
    assert torch.allclose(psnr(a, a), torch.full((2,), PSNR_MAX))  # identical: capped, not inf
    # 0.2 in [-1, 1] units is 0.1 on [0, 1]: MSE 0.01 -> exactly 20 dB
    assert torch.allclose(psnr(a, a + 0.2), torch.full((2,), 20.0), atol=1e-4)
    # the same images given in [0, 1]
    assert torch.allclose(psnr(a + 0.5, a + 0.6, value_range=(0.0, 1.0)), torch.full((2,), 20.0), atol=1e-4)
    # one 8-bit grey level everywhere is 48.13 dB
    assert psnr(a[0], a[0] + 2 / 255).item() == pytest.approx(20 * math.log10(255), abs=1e-3)
    assert psnr(a[0], a[0]).dim() == 0


def test_ssim_matches_scikit_image_and_orders_quality():
    skm = pytest.importorskip("skimage.metrics")
    rng = np.random.default_rng(0)
    x = smooth_image(rng, 128).astype(np.float32) / 255
    noisy = np.clip(x + rng.normal(0, 0.1, x.shape).astype(np.float32), 0, 1)
    expected = skm.structural_similarity(
        x, noisy, channel_axis=2, data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    t = lambda a: torch.from_numpy(a).permute(2, 0, 1)  # noqa: E731
    got = ssim(t(x), t(noisy), value_range=(0.0, 1.0)).item()
    assert got == pytest.approx(expected, abs=0.005)  # border handling differs slightly
    assert ssim(t(x), t(x), value_range=(0.0, 1.0)).item() == pytest.approx(1.0, abs=1e-5)
    less_noisy = np.clip(x + rng.normal(0, 0.02, x.shape).astype(np.float32), 0, 1)
    assert ssim(t(x), t(less_noisy), value_range=(0.0, 1.0)) > got


def test_metrics_shapes_and_errors():
    a, b = torch.rand(3, 3, 8, 8) * 2 - 1, torch.rand(3, 3, 8, 8) * 2 - 1
    assert l1(a, b).shape == psnr(a, b).shape == ssim(a, b).shape == (3,)  # 8 px: the window shrinks to 7
    assert l1(a, b)[0].item() == pytest.approx((a[0] - b[0]).abs().mean().item())
    with pytest.raises(ValueError, match="same shape"):
        psnr(a, b[:, :, :4])


def test_metrics_refuse_an_empty_value_range_and_take_an_empty_batch():
    """value_range=(1, 1) divided by zero and scored every pair PSNR_MAX (identical images, it said); an
    inverted range did the same; ssim of an empty batch was an IndexError where psnr and l1 give (0,)."""
    a, b = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    for value_range in [(1.0, 1.0), (1.0, -1.0), (0.0, math.inf)]:
        for metric in (psnr, ssim, l1):
            with pytest.raises(ValueError, match="value_range must be"):
                metric(a, b, value_range=value_range)
    assert l1(a[:0], b[:0]).shape == psnr(a[:0], b[:0]).shape == ssim(a[:0], b[:0]).shape == (0,)


# --- FD / KID on synthetic domains ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lite0():
    from cyclegan.evaluate.features import load_lite0

    return load_lite0()


def test_lite0_features_in_channels_last_are_the_plain_layout_features(lite0):
    import torch.nn.functional as F_

    from cyclegan.pretrained import lite0_normalize

    x = torch.rand(2, 3, 40, 48, generator=torch.Generator().manual_seed(4)) * 2 - 1
    fast = lite0(x)
    plain = copy.deepcopy(lite0.net).to(memory_format=torch.contiguous_format)
    with torch.no_grad():
        y = F_.interpolate((x + 1) / 2, size=(224, 224), mode="bilinear", align_corners=False, antialias=True)
        torch.testing.assert_close(fast, plain(lite0_normalize(y)), rtol=0, atol=1e-4 * fast.abs().max().item())
    assert fast.shape == (2, 1280) and fast.is_contiguous()


@pytest.mark.slow
def test_fd_kid_identical_sets_zero_different_domains_large(lite0):
    from cyclegan.evaluate.distances import feature_distances

    smooth = lite0(domain("smooth", 20, seed=1))
    smooth2 = lite0(domain("smooth", 20, seed=2))
    stripes = lite0(domain("stripes", 20, seed=3))
    assert smooth.shape == (20, 1280)
    same = feature_distances(smooth, smooth, subsets=20)
    near = feature_distances(smooth, smooth2, subsets=20)
    far = feature_distances(smooth, stripes, subsets=20)
    assert abs(same.fd) < 1e-3 * far.fd
    assert abs(same.kid) < 0.05 * far.kid  # slightly negative: the same images fall in both subsets
    assert far.fd > 3 * near.fd and far.kid > 5 * max(near.kid, 1e-6)
    # subsets of 20 from 20 images are both sets whole: one subset, no spread (it printed "± 0.0000" from 20 alike)
    assert (far.kid_subset_size, far.kid_subsets, far.kid_std) == (20, 1, 0.0)
    halves = feature_distances(smooth, stripes, subsets=20, subset_size=10)
    assert halves.kid_subsets == 20 and halves.kid_std > 0 and halves.kid == pytest.approx(far.kid, rel=0.2)
    named = far.named("fd_lite0", "kid_lite0")
    assert set(named) >= {"fd_lite0", "kid_lite0", "kid_lite0_std"} and "fid" not in named


def test_fd_in_span_coordinates_equals_torchmetrics_on_full_features():
    from torchmetrics.image.fid import FrechetInceptionDistance

    from cyclegan.evaluate.distances import _Passthrough, feature_distances

    g = torch.Generator().manual_seed(0)
    real = torch.rand(15, 64, generator=g).double()
    fake = (torch.rand(18, 64, generator=g) * 1.3 + 0.1).double()
    direct = FrechetInceptionDistance(feature=_Passthrough(64))
    direct.update(real, real=True)
    direct.update(fake, real=False)
    assert feature_distances(real, fake, subsets=5).fd == pytest.approx(float(direct.compute()), rel=1e-6)


def test_kid_subset_size_fits_small_sets():
    from cyclegan.evaluate.distances import kid_subset_size

    assert kid_subset_size(120, 140) == 100  # horse2zebra test split
    assert kid_subset_size(42, 62) == 42
    with pytest.raises(CycleGANError, match="kid-subset-size"):
        kid_subset_size(42, 62, 50)


# --- FID Inception weights --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def inception_file(tmp_path_factory) -> Path:
    """A weights file in the layout of pt_inception-2015-12-05-6726825d.pth (random values, made here),
    saved without BatchNorm counters as older torch versions wrote it."""
    from cyclegan.evaluate.features import build_fid_inception

    torch.manual_seed(0)
    net = build_fid_inception()
    for m in net.modules():  # scale-keeping init, so the random network's features are not all ~0
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    state = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    path = tmp_path_factory.mktemp("weights") / "pt_inception-2015-12-05-6726825d.pth"
    torch.save(state, path)
    return path


def test_inception_loads_from_path_and_hub_cache(inception_file, tmp_path, monkeypatch):
    from cyclegan.evaluate.features import FID_WEIGHTS_NAME, find_inception_weights, load_fid_inception

    monkeypatch.delenv("CYCLEGAN_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(CycleGANError, match="--inception-weights FILE.*--backbone lite0"):
        find_inception_weights()
    cache = tmp_path / "torch" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    (cache / FID_WEIGHTS_NAME).symlink_to(inception_file)
    assert find_inception_weights() == cache / FID_WEIGHTS_NAME

    net = load_fid_inception(inception_file)
    state = torch.load(inception_file, weights_only=True)
    assert all(torch.equal(net.net.state_dict()[k], v) for k, v in state.items())
    x = torch.rand(2, 3, 40, 40) * 2 - 1
    f = net(x)
    assert f.shape == (2, 2048) and torch.isfinite(f).all()
    assert not torch.allclose(f[0], f[1])


def test_inception_rejects_files_that_do_not_fit(tmp_path):
    from cyclegan.evaluate.features import load_fid_inception

    bad = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(3)}, bad)
    with pytest.raises(CycleGANError, match="do not fit the FID Inception"):
        load_fid_inception(bad)
    with pytest.raises(CycleGANError, match="no such file"):
        load_fid_inception(tmp_path / "missing.pth")
    noise = tmp_path / "noise.pth"  # torch's message was cut mid-word at 160 characters
    noise.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(CycleGANError, match=r"^cannot read Inception weights file .*noise.pth: .* --backbone lite0$"):
        load_fid_inception(noise)


# --- the evaluate command ---------------------------------------------------------------------------------


def test_evaluate_cli_both_directions_paired(tmp_path, capsys):
    from cyclegan.cli import main

    ckpt = save_tiny_checkpoint(tmp_path / "tiny.pt")
    write_split(tmp_path / "data", 6, paired=True)
    out = tmp_path / "eval.json"
    rc = main(
        [
            "evaluate",
            "--checkpoint",
            str(ckpt),
            "--data",
            str(tmp_path / "data"),
            "--out",
            str(out),
            "--save-images",
            str(tmp_path / "imgs"),
            "--kid-subsets",
            "10",
            "--no-progress",
        ]
    )
    assert rc == 0
    report = json.loads(out.read_text())
    assert report["step"] == 7 and report["backbone"] == "lite0" and report["eval_size"] == 32
    assert set(report["directions"]) == {"AtoB", "BtoA"}
    for row in report["directions"].values():
        for key in (
            "fd_lite0",
            "kid_lite0",
            "kid_lite0_std",
            "fd_lite0_untranslated",
            "cycle_l1",
            "cycle_psnr",
            "cycle_ssim",
            "identity_l1",
            "truth_psnr",
            "truth_ssim",
        ):
            assert math.isfinite(row[key]), key
        assert row["kid_subset_size"] == 6 and row["n_pairs"] == 6
        assert row["fd_lite0"] > 0 and 0 < row["cycle_psnr"] < PSNR_MAX
    assert "fid" not in out.read_text().replace("fid_inception", "")  # a Lite0 figure is never FID
    table = capsys.readouterr().out
    assert "fd_lite0" in table and "PSNR vs truth" in table
    assert not any(line.lower().startswith(("fid", "kid ")) for line in table.splitlines())
    assert report["command"].startswith("cyclegan evaluate --checkpoint")
    assert len(list((tmp_path / "imgs" / "AtoB").glob("*.png"))) == 6
    assert (tmp_path / "imgs" / "BtoA_grid.png").is_file()


@pytest.mark.slow
def test_evaluate_unpaired_inception_one_direction(tmp_path, inception_file):
    from cyclegan.evaluate.runner import EvalOptions, evaluate
    from cyclegan.report import format_table

    ckpt = save_tiny_checkpoint(tmp_path / "tiny.pt")
    write_split(tmp_path / "data", 4, paired=False)
    report = evaluate(
        EvalOptions(
            checkpoint=str(ckpt),
            data=str(tmp_path / "data"),
            direction="AtoB",
            backbone="inception",
            inception_weights=str(inception_file),
            kid_subsets=5,
            progress=False,
        )
    )
    row = report["directions"]["AtoB"]
    assert list(report["directions"]) == ["AtoB"]
    assert {"fid", "kid", "kid_std"} <= set(row) and "truth_psnr" not in row  # names differ: no pairs
    assert "fid" in format_table(report)


def test_evaluate_errors_name_the_option(tmp_path):
    from cyclegan.cli import main
    from cyclegan.evaluate.runner import aligned_truth

    ckpt = save_tiny_checkpoint(tmp_path / "tiny.pt")
    (tmp_path / "empty").mkdir()
    assert main(["evaluate", "--checkpoint", str(ckpt), "--data", str(tmp_path / "empty"), "--no-progress"]) == 2
    with pytest.raises(CycleGANError, match="testA"):
        from cyclegan.evaluate.runner import EvalOptions, evaluate

        evaluate(EvalOptions(checkpoint=str(ckpt), data=str(tmp_path / "empty"), progress=False))
    assert aligned_truth([Path("a/x.png")], [Path("b/x.jpg"), Path("b/y.jpg")]) == [Path("b/x.jpg")]
    assert aligned_truth([Path("a/x.png"), Path("a/z.png")], [Path("b/x.jpg")]) is None


def test_an_aligned_test_folder_is_read_as_pairs(tmp_path):
    # pix2pix's ROOT/test of A|B images: evaluate read testA/testB only, and told the user to split the images
    import dataclasses
    import shutil

    from PIL import Image

    from cyclegan.evaluate.runner import EvalOptions, evaluate

    ckpt = save_tiny_checkpoint(tmp_path / "tiny.pt")
    split, root = tmp_path / "split", tmp_path / "facades"
    write_split(split, 3, paired=True)
    (root / "test").mkdir(parents=True)
    for p in sorted((split / "testA").iterdir()):  # the same pairs side by side, 81 px: training drops the odd column
        a, b = (np.asarray(Image.open(split / f"test{k}" / p.name)) for k in "AB")
        Image.fromarray(np.concatenate([a, b, a[:, :1]], 1)).save(root / "test" / p.name)
    opts = EvalOptions(checkpoint=str(ckpt), kid_subset_size=2, progress=False)
    aligned = evaluate(dataclasses.replace(opts, data=str(root)))
    separate = evaluate(dataclasses.replace(opts, data=str(split)))
    assert aligned["layout"] == f"aligned A|B images from {root / 'test'} (A the left half of each, B the right half)"
    assert separate["layout"] == f"{split / 'testA'} and {split / 'testB'}"
    for d in ("AtoB", "BtoA"):  # each half read as its domain's image: the scores of the same pairs as files
        assert aligned["directions"][d]["n_pairs"] == 3
        for key in ("truth_l1", "truth_psnr", "truth_ssim", "cycle_l1", "identity_l1", "fd_lite0", "kid_lite0"):
            assert aligned["directions"][d][key] == pytest.approx(separate["directions"][d][key], abs=1e-5)
    with pytest.raises(
        CycleGANError, match=r"^no image of --data test folder could be read: .*00.png: it declares 81x40"
    ):
        evaluate(dataclasses.replace(opts, data=str(root), max_pixels=3000))  # the whole file's size, undecoded
    shutil.copytree(split / "testA", root / "testA")  # one of the two folders: that layout, the other one named
    with pytest.raises(CycleGANError, match=r"--data testB folder \S*testB does not exist"):
        evaluate(dataclasses.replace(opts, data=str(root)))


def test_evaluate_a_plain_generator_file_one_direction(tmp_path, capsys):
    """A reference-implementation state dict holds one generator: that direction, no cycle figures."""
    from cyclegan.cli import main
    from cyclegan.config import resolve
    from cyclegan.models import build_generator

    torch.manual_seed(0)
    plain = tmp_path / "latest_net_G_A.pth"
    torch.save(build_generator(resolve({"ngf": 8, "n_blocks": 2}).model).state_dict(), plain)
    write_split(tmp_path / "data", 4, paired=True)
    data = str(tmp_path / "data")
    assert main(["evaluate", "--checkpoint", str(plain), "--data", data, "--no-progress"]) == 2
    assert "single generator" in capsys.readouterr().err
    out = tmp_path / "eval.json"
    rc = main(
        [
            "evaluate",
            "--checkpoint",
            str(plain),
            "--data",
            data,
            "--direction",
            "AtoB",
            "--size",
            "32",
            "--kid-subsets",
            "5",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert rc == 0
    report = json.loads(out.read_text())
    row = report["directions"]["AtoB"]
    assert report["preset"] == "foreign" and report["eval_size"] == 32
    assert math.isfinite(row["fd_lite0"]) and math.isfinite(row["truth_psnr"]) and "cycle_psnr" not in row


def test_a_file_that_holds_no_generator_is_named_before_a_direction_is_asked_for(tmp_path, capsys):
    """A discriminator's or another module's state dict was asked for --direction, as if it were a generator
    (a hostile probe): the line says what the file holds and what was expected."""
    from cyclegan.cli import main
    from cyclegan.config import resolve
    from cyclegan.models import build_discriminator

    write_split(tmp_path / "data", 2, paired=True)
    discriminator = tmp_path / "latest_net_D_A.pth"
    torch.save(build_discriminator(resolve({"ndf": 8}).model).state_dict(), discriminator)
    linear = tmp_path / "linear.pth"
    torch.save(torch.nn.Linear(3, 4).state_dict(), linear)
    said = {  # a reference discriminator is named for what it is (interop), another module by its tensors
        discriminator: f"{discriminator}: a discriminator, not a generator",
        linear: f"{linear}: found tensors weight, bias",
    }
    for path, line in said.items():
        assert main(["evaluate", "--checkpoint", str(path), "--data", str(tmp_path / "data"), "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert line in err and len(err.strip().splitlines()) == 1, err
        assert "--direction" not in err


def test_a_missing_checkpoint_is_named_before_its_data_is_looked_for(tmp_path, capsys):
    """Without --data, evaluate reads the run's config.json for it: a mistyped run folder said "option '--data' is
    needed: ... has no config.json", sending the user the wrong way (a user's walk)."""
    from cyclegan.cli import main

    assert main(["evaluate", "--checkpoint", str(tmp_path / "nonexist")]) == 2
    err = capsys.readouterr().err
    assert f"option '--checkpoint': {tmp_path / 'nonexist'} does not exist" in err and "--data" not in err


def test_the_table_gives_no_spread_where_one_subset_holds_both_sets_whole():
    from cyclegan.report.text import _kid

    row = {"kid_lite0": 0.2751, "kid_lite0_std": 0.0, "kid_subsets": 1}
    assert _kid(row, "kid_lite0") == "0.2751"  # not "0.2751 ± 0.0000" from a hundred identical subsets
    assert _kid({**row, "kid_subsets": 100, "kid_lite0_std": 0.0123}, "kid_lite0") == "0.2751 ± 0.0123"


def test_a_size_past_the_pixel_cap_is_refused_before_any_work(tmp_path, capsys):
    """`--size 100000` resized every test image to 10 gigapixels: an out-of-memory message where the allocator
    refused, the machine's memory where it did not. Held to --max-pixels, as translate holds --size."""
    from cyclegan.cli import main

    assert main(["evaluate", "--checkpoint", str(tmp_path / "none"), "--size", "200", "--max-pixels", "10000"]) == 2
    err = capsys.readouterr().err
    assert "option '--size' 200 makes each image 200x200 pixels, over --max-pixels 10000" in err
