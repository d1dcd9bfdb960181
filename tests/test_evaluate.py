"""Evaluation: metrics on known inputs, FD/KID on synthetic domains, the FID Inception loader, the runner."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cyclegan.errors import CycleGANError
from cyclegan.evaluate import PSNR_MAX, l1, local_colour, psnr, ssim
from helpers import evaluate_args, save_tiny_checkpoint, smooth_image, stripe_image, tiny_evaluation, write_split

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


def test_local_colour_is_a_blobs_colour_in_grey_levels_where_psnr_barely_moves():
    """Issue #23: a house wall painted the sky's colour, a few percent of the pixels, left PSNR at 25-27 dB and the
    tint at 0: no number showed it. The worst 8 x 8 px window's mean colour off the truth's does, where it is."""
    rng = torch.Generator().manual_seed(0)
    truth = torch.rand(2, 3, 64, 64, generator=rng) - 0.5  # room for the blobs within [-1, 1]
    noise = (torch.rand(2, 3, 64, 64, generator=rng) - 0.5) * 0.1  # +-6 grey levels a pixel: no blob
    fake = truth + noise
    fake[0, 0, 10:18, 20:28] += 0.4  # an 8 x 8 px blob, red 0.4 in [-1, 1] units off: 51 grey levels
    fake[1, 2, 40:44, 4:8] -= 0.4  # a 4 x 4 px one: a quarter of the window
    errors, where = local_colour(fake, truth)
    # the blob's 51 grey levels, give or take the noise's mean over its 64 pixels (at most 3 grey levels)
    assert errors[0].item() == pytest.approx(51.0, abs=1.5) and where[0].tolist() == [20, 10]  # x, y
    assert errors[1].item() == pytest.approx(51.0 / 4, abs=2.5)  # its window holds a 4 x 4 blob and noise
    assert psnr(fake[0], truth[0]).item() > 28  # what PSNR said of it
    assert local_colour(truth, truth)[0].tolist() == [0.0, 0.0]
    # the window scales with the image: 16 px at 128 px, so a 16 x 16 px blob there is the same 51 grey levels
    big = torch.zeros(3, 128, 128)
    blob = big.clone()
    blob[1, 100:116, 60:76] = 0.4
    error, at = local_colour(blob, big)
    assert error.item() == pytest.approx(51.0) and at.tolist() == [60, 100]
    assert local_colour(blob, big, patch=32)[0].item() == pytest.approx(51.0 / 4)
    assert local_colour(blob + 0.5, big + 0.5)[0].item() == pytest.approx(51.0, abs=1e-3)  # a lighter pair: the same


def test_local_colour_refuses_a_patch_that_is_not_a_whole_number_in_one_line():
    """local_colour(a, b, patch=2.5) raised "TypeError: slice indices must be integers" from its window tables."""
    a = torch.zeros(3, 16, 16)
    for patch in (2.5, "4", True):
        with pytest.raises(CycleGANError, match=f"local_colour's patch is a whole number of pixels .*got {patch!r}"):
            local_colour(a, a, patch=patch)
    assert local_colour(a, a, patch=4)[0].item() == 0.0


def test_local_colour_builds_one_images_tables_at_a_time(monkeypatch):
    """Its float64 summed-area tables were built for the whole batch at once, 5x the batch's float32 bytes: with
    --eval-images 10000 at 256 px, 40 GB on top of the images while a training run scored them. Now one image's
    at a time, each image's numbers as they were."""
    from cyclegan.evaluate import metrics

    batches, tables = [], metrics._window_means
    monkeypatch.setattr(metrics, "_window_means", lambda x, k: batches.append(len(x)) or tables(x, k))
    rng = torch.Generator().manual_seed(0)
    a, b = torch.rand(2, 5, 3, 20, 13, generator=rng) * 2 - 1  # odd sides: x and y told apart
    errors, where = local_colour(a, b)
    assert batches == [1] * 5
    for i in range(5):
        error, at = local_colour(a[i], b[i])
        assert error.item() == errors[i].item() and at.tolist() == where[i].tolist()


class _NoFloat64(torch.Tensor):
    """A tensor of a device without float64, as Apple's MPS: any float64 result on it raises MPS's TypeError;
    `.cpu()` gives a plain CPU tensor."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", None) == "cpu":  # off the device: a plain tensor
            with torch._C.DisableTorchFunctionSubclass():
                return func(*args, **(kwargs or {})).as_subclass(torch.Tensor)
        out = super().__torch_function__(func, types, args, kwargs)  # results stay on the device (split's too)
        if any(
            isinstance(t, torch.Tensor) and t.dtype == torch.float64 for t in (out if isinstance(out, tuple) else [out])
        ):
            raise TypeError("Cannot convert a MPS Tensor to float64 dtype as the MPS framework doesn't support float64")
        return out


def test_local_colour_scores_tensors_of_a_device_without_float64():
    """`local_colour` built its tables with `.double()`, which Apple's MPS refuses: the public function failed on
    MPS tensors. Now the tables of such a device's tensors are built on the CPU: the same numbers as on the CPU."""
    rng = torch.Generator().manual_seed(0)
    a, b = torch.rand(2, 2, 3, 20, 13, generator=rng) * 2 - 1
    with pytest.raises(TypeError, match="float64"):  # the stand-in refuses float64, as MPS does
        a.as_subclass(_NoFloat64).double()
    errors, where = local_colour(a.as_subclass(_NoFloat64), b.as_subclass(_NoFloat64))
    expected, at = local_colour(a, b)
    assert errors.tolist() == expected.tolist() and where.tolist() == at.tolist()


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


def test_metrics_refuse_numpy_arrays_uint8_in_the_default_range_and_a_malformed_range_in_one_line():
    """A numpy array was "'numpy.ndarray' object has no attribute 'dim'", value_range=None or (0,) a raw unpacking
    error, and uint8 images in the default [-1, 1] were clamped to it: scored as near white, without a word."""
    a = torch.rand(1, 3, 8, 8)
    u = (a * 255).to(torch.uint8)
    for metric in (psnr, ssim, l1):
        with pytest.raises(CycleGANError, match=r"^a: expected an image tensor, got ndarray: .*torch.from_numpy"):
            metric(a.numpy(), a)
        with pytest.raises(CycleGANError, match=r"^b: torch.uint8 pixels .*give value_range=\(0, 255\)"):
            metric(a, u)
        for bad in (None, (0,), ("low", 1)):
            with pytest.raises(CycleGANError, match=r"^value_range must be \(low, high\), two numbers"):
                metric(a, a, value_range=bad)
        assert torch.allclose(metric(u, u, value_range=(0, 255)), metric(a, a, value_range=(0, 1)), atol=1e-4)


def test_evaluate_from_python_refuses_options_that_are_no_evaloptions_in_one_line():
    """evaluate({"checkpoint": ...}) or evaluate("runs/h2z") was "'dict' object has no attribute 'checkpoint'"."""
    from cyclegan.evaluate.runner import evaluate, evaluate_checkpoints

    for call in (evaluate, evaluate_checkpoints):
        for opts in ({"checkpoint": "runs/h2z"}, "runs/h2z"):
            with pytest.raises(
                CycleGANError, match=r"^opts: expected an EvalOptions, got (dict|str); give .*EvalOptions"
            ):
                call(opts)


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
    assert abs(same.kid) < 0.05 * far.kid  # negative (the same images fall in both subsets), small next to far
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


@pytest.mark.slow
def test_inception_weights_of_other_values_or_nan_are_named(tmp_path, inception_file):
    """A value that is no tensor ended in "AttributeError: 'int' object has no attribute 'shape'"; NaN weights made
    every fid and kid NaN without a word (and oneMKL's errors on stderr)."""
    from cyclegan.evaluate.features import load_fid_inception

    state = torch.load(inception_file, weights_only=True)
    first = next(iter(state))
    torch.save({**state, first: 1}, tmp_path / "int.pth")
    with pytest.raises(CycleGANError, match=rf"do not fit the FID Inception \(not tensors: \['{first}'\]\)"):
        load_fid_inception(tmp_path / "int.pth")
    torch.save({**state, first: torch.full_like(state[first], math.nan)}, tmp_path / "nan.pth")
    with pytest.raises(CycleGANError, match=rf"nan.pth hold NaN or infinite values \(\['{first}'\]\): a damaged"):
        load_fid_inception(tmp_path / "nan.pth")


# --- the evaluate command ---------------------------------------------------------------------------------


def test_evaluate_cli_both_directions_paired(tmp_path, capsys):
    from cyclegan.cli import main

    ckpt, data = tiny_evaluation(tmp_path, 6)
    out = tmp_path / "eval.json"
    rc = main(
        evaluate_args(ckpt, data, "--out", str(out), "--save-images", str(tmp_path / "imgs"), "--kid-subsets", "10")
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
    # the local colour error: the worst image's, recomputed from the translations saved (8-bit: half a grey level)
    from cyclegan.data.dataset import eval_transform
    from cyclegan.data.io import read_image

    for d, (s, t) in {"AtoB": ("A", "B"), "BtoA": ("B", "A")}.items():
        row, names = report["directions"][d], sorted(p.name for p in (data / f"test{s}").iterdir())
        fake = torch.stack([eval_transform(read_image(tmp_path / "imgs" / d / n), size=32) for n in names])
        truth = torch.stack([eval_transform(read_image(data / f"test{t}" / n), size=32) for n in names])
        errors, where = local_colour(fake, truth)
        worst = int(errors.argmax())
        assert row["truth_local_colour"] == pytest.approx(errors[worst].item(), abs=0.5)
        at = row["truth_local_colour_at"]  # which image, and where: that window's error is the worst
        assert at["image"] == str(data / f"test{s}" / names[worst]) and at["patch"] == 4  # an eighth of 32 px
        window = (slice(None), slice(at["y"], at["y"] + 4), slice(at["x"], at["x"] + 4))
        there = local_colour(fake[worst][window], truth[worst][window], patch=4)[0].item()
        assert there == pytest.approx(row["truth_local_colour"], abs=0.5)
    table = capsys.readouterr().out
    assert re.search(r"\nlocal colour vs truth +\d+\.\d\d +\d+\.\d\d +\(grey levels, the worst patch", table)
    assert f"local colour BtoA: the worst 4x4 px patch's mean colour off the truth's is in {at['image']} at x" in table
    assert "fd_lite0" in table and "PSNR vs truth" in table
    assert "columns: input | translated | reconstructed | truth)" in table  # the grids have no captions
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
    folders = (Path("a"), Path("b"))
    assert aligned_truth([Path("a/x.png")], [Path("b/x.jpg"), Path("b/y.jpg")], folders=folders) == [Path("b/x.jpg")]
    assert aligned_truth([Path("a/x.png"), Path("a/z.png")], [Path("b/x.jpg")], folders=folders) is None


def test_two_truth_files_of_one_name_are_refused_not_one_taken(tmp_path):
    """testB holding x.jpg and x.png beside each other: the test image x.png was scored against the later of the
    two without a word (training's paired folders refuse the same)."""
    from cyclegan.evaluate.runner import aligned_truth

    folders = (Path("a"), Path("b"))
    with pytest.raises(CycleGANError, match=r"^b/x\.jpg and x\.png beside it have one name: .* rename or remove one$"):
        aligned_truth([Path("a/x.png")], [Path("b/x.jpg"), Path("b/x.png")], folders=folders)
    # twins no test image needs, or a split without truth, change nothing
    assert aligned_truth([Path("a/y.png")], [Path("b/x.jpg"), Path("b/x.png"), Path("b/y.jpg")], folders=folders) == [
        Path("b/y.jpg")
    ]
    assert aligned_truth([Path("a/z.png")], [Path("b/x.jpg"), Path("b/x.png")], folders=folders) is None


def test_pairs_in_sub_folders_are_paired_by_their_path_not_their_stem(tmp_path):
    """testA/x/s.png and testA/y/s.png: both were scored against the same truth (the last testB/*/s.png), and an
    unreadable testA/x/s.png left out every s.png of both domains. Pairs are named by their path under the
    folder, as training pairs them."""
    from cyclegan.evaluate.runner import EvalOptions, _drop_bad_images, _list_domains, aligned_truth

    root = tmp_path / "data"
    rng = np.random.default_rng(0)
    for letter in "AB":
        for sub in "xy":
            (root / f"test{letter}" / sub).mkdir(parents=True)
            Image.fromarray(smooth_image(rng, 16)).save(root / f"test{letter}" / sub / "s.png")
    a, b = root / "testA", root / "testB"
    files_a, files_b = sorted(a.rglob("*.png")), sorted(b.rglob("*.png"))
    assert aligned_truth(files_a, files_b, folders=(a, b)) == [b / "x" / "s.png", b / "y" / "s.png"]
    (a / "x" / "s.png").write_bytes(b"not an image")
    opts = EvalOptions(checkpoint=("unused",), data=str(root), progress=False)
    images, skipped = _drop_bad_images(opts, _list_domains(opts))
    assert images.domains == {"A": [a / "y" / "s.png"], "B": [b / "y" / "s.png"]}
    assert len(skipped) == 2 and "left out because its pair" in skipped[1] and str(b / "x" / "s.png") in skipped[1]


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
    for p in sorted((split / "testA").iterdir()):  # the same pairs side by side, 80x40
        a, b = (np.asarray(Image.open(split / f"test{k}" / p.name)) for k in "AB")
        Image.fromarray(np.concatenate([a, b], 1)).save(root / "test" / p.name)
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
        CycleGANError, match=r"^no image of --data test folder could be read: .*00.png: it declares 80x40"
    ):
        evaluate(dataclasses.replace(opts, data=str(root), max_pixels=3000))  # the whole file's size, undecoded
    shutil.copytree(split / "testA", root / "testA")  # one of the two folders: that layout, the other one named
    with pytest.raises(CycleGANError, match=r"--data testB folder \S*testB does not exist"):
        evaluate(dataclasses.replace(opts, data=str(root)))


def test_a_root_without_the_split_names_the_splits_it_has(tmp_path):
    # pix2pix's maps holds train and val, A|B side by side: "testA folder does not exist" hid --split val, the
    # split training had scored on
    from cyclegan.evaluate.runner import EvalOptions, _list_domains

    root = tmp_path / "maps"
    for split in ("train", "val"):
        (root / split).mkdir(parents=True)
        Image.fromarray(np.zeros((8, 16, 3), np.uint8)).save(root / split / "1.png")
    opts = EvalOptions(checkpoint=("unused",), data=str(root), progress=False)
    with pytest.raises(CycleGANError, match=r"has no test split .*; it has val and train: give --split val$"):
        _list_domains(opts)
    assert _list_domains(EvalOptions(checkpoint=("unused",), data=str(root), split="val", progress=False)).aligned


def test_a_root_with_only_a_train_split_says_its_scores_flatter_the_model(tmp_path):
    """A dataset of trainA and trainB alone (a run scored training images it set aside): evaluate suggested
    --split train as if it were held out, and its scores read as a test split's."""
    from cyclegan.evaluate.runner import EvalOptions, _list_domains

    root = tmp_path / "mine"
    for letter in "AB":
        (root / f"train{letter}").mkdir(parents=True)
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / f"train{letter}" / "1.png")
    opts = EvalOptions(checkpoint=("unused",), data=str(root), progress=False)
    with pytest.raises(CycleGANError, match=r"it has train: give --split train \(the images training learnt from"):
        _list_domains(opts)


def test_a_run_without_a_test_split_is_scored_on_exactly_the_images_it_set_aside(tmp_path, capsys):
    """`evaluate RUN` of a run whose data has no test split, which set training images aside for its scores, could
    not score those: it offered --split train, every training image, the ones trained on too. It scores exactly the
    images training set aside now, chosen again as training chose them and checked against the checkpoint; where
    one was edited since, or another added, one line says so and the refusal with its caution follows. A --split
    train given scores every training image, with that caution."""
    from conftest import TINY, make_images
    from cyclegan.cli import main
    from cyclegan.config import resolve
    from cyclegan.train import scoring, train
    from cyclegan.train.inputs import training_images

    root, run = tmp_path / "data", tmp_path / "run"
    make_images(root / "trainA", 10, seed=1, tint=(40, 0, 0))
    make_images(root / "trainB", 10, seed=2, tint=(0, 0, 40))
    scored_by_cycle = {"eval_every": 2, "eval_kid": False, "best_by": "cycle_psnr"}
    cfg = resolve({**TINY, "data": str(root), "out": str(run), "steps": 2, **scored_by_cycle})
    train(cfg, progress=False)
    _, held = scoring.set_aside(cfg, training_images(cfg, progress=False, main=True))  # training's own choice
    assert held.from_training
    saved, report = tmp_path / "saved", tmp_path / "report.json"
    args = ["evaluate", "--checkpoint", str(run / "checkpoint.pt"), "--kid-subsets", "2", "--no-progress"]
    capsys.readouterr()
    assert main([*args, "--save-images", str(saved), "--out", str(report)]) == 0
    out, err = capsys.readouterr()
    assert "warning" not in err
    assert f"dataset {root}: the training images {run} set aside for its scores" in out
    assert sorted(p.name for p in (saved / "AtoB").iterdir()) == [p.name for p in held.a]
    assert sorted(p.name for p in (saved / "BtoA").iterdir()) == [p.name for p in held.b]
    scores = json.loads(report.read_text())
    assert (scores["split"], scores["set_aside_by"]) == ("train", str(run))
    assert [scores["directions"][d]["n_source"] for d in ("AtoB", "BtoA")] == [len(held.a), len(held.b)]
    assert main([*args, "--split", "train", "--out", str(report), "--overwrite"]) == 0  # asked for: all, cautioned
    assert capsys.readouterr().err == (
        f"warning: --split train scores every training image, those {run} trained on with those it set aside for its "
        "scores: their scores flatter the model; leave --split out to score those it set aside alone\n"
    )
    assert json.loads(report.read_text())["directions"]["AtoB"]["n_source"] == 10

    edited = held.a[-1]
    Image.fromarray(np.full((40, 48, 3), 128, np.uint8)).save(edited)
    assert main(args) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"warning: {run} set training images aside for its scores, but they cannot be scored ")
    assert lines[0].endswith("hold other contents than those it scored (edited since)") and str(edited) in lines[0]
    assert lines[1].startswith(f"error: --data {root} has no test split")
    assert lines[1].endswith("give --split train (the images training learnt from: their scores flatter the model)")
    make_images(root / "trainA" / "more", 1, seed=5)  # another image, last by name: another would be set aside
    assert main(args) == 2
    said = capsys.readouterr().err
    assert "cannot be scored exactly: the images it would set aside now are others (images added, removed" in said
    (run / "checkpoint.pt").unlink()  # best.pt alone holds no digests, nor whether images were set aside
    assert main(["evaluate", "--checkpoint", str(run), "--no-progress"]) == 2
    said = capsys.readouterr().err
    assert f"warning: {run} has no checkpoint.pt, which says which training images it set aside for its scores" in said


def test_a_root_with_no_split_at_all_says_what_evaluate_reads(tmp_path):
    # a student's own two folders (horses/, zebras/; trained with --domain-a/--domain-b) said "--data testA folder
    # ROOT/testA does not exist or is not a folder", not what to make
    from cyclegan.evaluate.runner import EvalOptions, _list_domains

    for name in ("horses", "zebras"):
        (tmp_path / name).mkdir()
    opts = EvalOptions(checkpoint=("unused",), data=str(tmp_path), progress=False)
    with pytest.raises(CycleGANError, match=r"has no test split: evaluate reads testA and testB .*put held-out"):
        _list_domains(opts)


def test_a_domain_folder_that_is_a_file_or_a_broken_link_is_named_as_one(tmp_path):
    """ROOT/testA a file (or a link to nothing) beside a folder testB: "ROOT/testA does not exist or is not a
    folder", which left the file to be found by hand."""
    from cyclegan.evaluate.options import EvalOptions, check_folders_there

    write_split(tmp_path / "data", 2, paired=False)
    test_a = tmp_path / "data" / "testA"
    for f in test_a.iterdir():
        f.unlink()
    test_a.rmdir()
    test_a.write_text("notes")
    opts = EvalOptions(checkpoint=("unused",), data=str(tmp_path / "data"), progress=False)
    with pytest.raises(CycleGANError, match=r"^--data testA folder .*testA is a file, not a folder$"):
        check_folders_there(opts)
    test_a.unlink()
    test_a.symlink_to(tmp_path / "nowhere")
    with pytest.raises(CycleGANError, match=r"^--data testA folder .*testA is a broken link$"):
        check_folders_there(opts)


def test_evaluate_scores_the_one_direction_save_generator_wrote(tmp_path):
    """A generator saved by `cyclegan.save_generator` (one of a CycleGAN's two) was refused without --direction
    ("use --direction BtoA"), and with it too: the cycle's other generator was asked for."""
    import cyclegan
    from cyclegan.cli import main

    saved = cyclegan.save_generator(
        cyclegan.load_generator(save_tiny_checkpoint(tmp_path / "c.pt"), "BtoA"), tmp_path / "g.pt"
    )
    write_split(tmp_path / "data", 3, paired=True)
    for extra in ([], ["--direction", "BtoA"]):
        out = tmp_path / f"eval{len(extra)}.json"
        args = ["evaluate", "--checkpoint", str(saved), "--data", str(tmp_path / "data"), "--out", str(out)]
        assert main([*args, "--no-progress", *extra]) == 0
        assert set(json.loads(out.read_text())["directions"]) == {"BtoA"}


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
    assert f"checkpoint not found: {tmp_path / 'nonexist'} (give a run folder" in err and "--data" not in err


def test_the_table_gives_no_spread_where_one_subset_holds_both_sets_whole():
    from cyclegan.report.text import _kid

    row = {"kid_lite0": 0.2751, "kid_lite0_std": 0.0, "kid_subsets": 1}
    assert _kid(row, "kid_lite0") == "0.2751"  # not "0.2751 ± 0.0000" from a hundred identical subsets
    assert _kid({**row, "kid_subsets": 100, "kid_lite0_std": 0.0123}, "kid_lite0") == "0.2751 ± 0.0123"


def test_kid_heading_shows_a_std_only_where_there_is_one():
    """With one KID subset (sets smaller than the subset size) the cells show the bare mean (no "± 0.0000"),
    but the row was still headed "kid_lite0 (± std)", promising a spread the table did not show."""
    from cyclegan.report import format_table

    def report(std: float, subsets: int) -> dict:
        row = {"fd_lite0": 12.5, "kid_lite0": 0.0123, "kid_lite0_std": std, "kid_subsets": subsets}
        row["kid_subset_size"] = 8
        head = {"checkpoint": "run/best.pt", "step": 10, "preset": "fast", "train_size": 64, "eval_size": 64}
        more = {"data": "data", "split": "test", "backbone": "lite0", "backbone_note": "Lite0"}
        return {**head, **more, "directions": {"AtoB": row, "BtoA": dict(row)}}

    one = format_table(report(0.0, 1)).splitlines()
    kid_line = next(line for line in one if line.startswith("kid_lite0"))
    assert "±" not in kid_line and "0.0123" in kid_line
    many = format_table(report(0.002, 10)).splitlines()
    kid_line = next(line for line in many if line.startswith("kid_lite0"))
    assert kid_line.startswith("kid_lite0 (± std)") and "0.0123 ± 0.0020" in kid_line


def test_the_table_says_where_the_truth_comes_from():
    """Truth rows pair files by name; folders that merely share names (1.jpg, 2.jpg, ... in both) pair as well,
    and the table printed "PSNR vs truth" without a word of what it compared with."""
    from cyclegan.report import format_table

    row = {"fd_lite0": 12.5, "kid_lite0": 0.01, "kid_lite0_std": 0.0, "kid_subsets": 1, "kid_subset_size": 8}
    head = {"checkpoint": "run/best.pt", "step": 10, "preset": "fast", "train_size": 64, "eval_size": 64}
    more = {"data": "data", "split": "test", "backbone": "lite0", "backbone_note": "Lite0"}
    paired = {"AtoB": {**row, "n_target": 40, "n_pairs": 40, "truth_psnr": 25.0}, "BtoA": {**row, "n_target": 60}}
    paired["BtoA"].update(n_pairs=40, truth_psnr=24.0)
    lines = format_table({**head, **more, "directions": paired}).splitlines()
    truth = [line for line in lines if line.startswith("truth:")]
    assert len(truth) == 1 and "same name" in truth[0] and "AtoB 40 pairs," in truth[0]
    assert "BtoA 40 pairs of 60 targets" in truth[0] and "unpaired" in truth[0]
    unpaired = format_table({**head, **more, "directions": {"AtoB": dict(row)}})
    assert "truth:" not in unpaired
    # pix2pix's A|B files are true pairs, of no other folder: the line called them files of the other domain's
    # folder, "meaningless for unpaired folders"
    layout = {"layout": "aligned A|B images from data/test (A the left half of each, B the right half)"}
    lines = format_table({**head, **more, **layout, "directions": paired}).splitlines()
    truth = [line for line in lines if line.startswith("truth:")]
    assert truth == ["truth: the other half of each test image's A|B file (AtoB 40 pairs, BtoA 40 pairs of 60 targets)"]


def test_the_table_names_a_checkpoint_with_a_newline_on_one_line_and_the_domain_folders_it_read():
    """`evaluate --checkpoint $'ti\\nny.pt'` printed the table's heading over two lines (a second line it did not
    write, as a hostile name can spoof), and a --domain-a/-b evaluation's heading read "data None split 'test'"."""
    from cyclegan.report import format_curve, format_table

    row = {"fd_lite0": 12.5, "kid_lite0": 0.01, "kid_lite0_std": 0.0, "kid_subsets": 1, "kid_subset_size": 8}
    head = {"checkpoint": "ti\nny.pt", "step": 10, "preset": "fast", "train_size": 64, "eval_size": 64}
    more = {"data": None, "split": None, "domain_a": "held\nout/a", "domain_b": "held out/b", "backbone": "lite0"}
    report = {**head, **more, "backbone_note": "Lite0", "directions": {"AtoB": row}}
    lines = format_table(report).splitlines()
    assert lines[0] == "checkpoint ti\\nny.pt (step 10, fast preset, trained at 64 px), evaluated at 64 px"
    assert lines[1].startswith("--domain-a held\\nout/a --domain-b held out/b; KID on all 8 images")
    assert format_curve([report, report]).splitlines()[1].endswith("  ti\\nny.pt")


def test_the_heading_names_a_dataset_folder_named_data_once_with_its_split():
    """A run's own data, a folder named data, was headed "data data split 'test'"."""
    from cyclegan.report import format_table

    row = {"fd_lite0": 12.5, "kid_lite0": 0.01, "kid_lite0_std": 0.0, "kid_subsets": 1, "kid_subset_size": 8}
    head = {"checkpoint": "runs/x/checkpoint.pt", "step": 10, "preset": "fast", "train_size": 64, "eval_size": 64}
    report = {**head, "data": "data", "split": "test", "backbone": "lite0", "backbone_note": "Lite0"}
    lines = format_table({**report, "directions": {"AtoB": row}}).splitlines()
    assert lines[1].startswith("dataset data, split 'test'; KID on all 8 images")


def test_a_size_below_ssims_window_is_refused_by_its_option(tmp_path, capsys):
    """--size 2 ran the whole evaluation, then ended in a ValueError traceback from SSIM (at least 3x3)."""
    from cyclegan.cli import main

    ckpt = save_tiny_checkpoint(tmp_path / "tiny.pt")
    write_split(tmp_path / "data", 2, paired=True)
    args = ["evaluate", "--checkpoint", str(ckpt), "--data", str(tmp_path / "data"), "--no-progress"]
    assert main([*args, "--size", "2"]) == 2
    assert "option '--size' must be >= 3, got 2" in capsys.readouterr().err


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="a folder no file can be made in: Linux's /proc")
def test_an_out_that_cannot_be_written_is_refused_before_any_scoring(tmp_path, monkeypatch, capsys):
    """As root (whose rights every folder's mode grants), `evaluate --out /proc/self/fd/9/x.json` with fd 9 not open
    printed the scores, then said it could not write them. Refused now before the work, in one line naming --out, as
    a --out under a regular file is."""
    import os

    from cyclegan.cli import main
    from cyclegan.evaluate import runner

    ckpt, data = tiny_evaluation(tmp_path)
    (tmp_path / "some_file.txt").write_text("mine")
    closed = next(n for n in range(900, 1000) if not os.path.lexists(f"/proc/self/fd/{n}"))
    monkeypatch.setattr(runner, "load_backbone", lambda *a, **k: pytest.fail("the work started"))
    for out in (f"/proc/self/fd/{closed}/x.json", str(tmp_path / "some_file.txt" / "x.json")):
        assert main(evaluate_args(ckpt, data, "--out", out)) == 2
        captured = capsys.readouterr()
        assert captured.err.startswith(f"error: option '--out': cannot write {out}: ") and not captured.out
        assert captured.err.count("\n") == 1
    assert (tmp_path / "some_file.txt").read_text() == "mine"


def test_what_cannot_be_scored_is_said_before_any_work(tmp_path, monkeypatch):
    """A damaged second checkpoint, --limit 1 or a --kid-subset-size larger than a domain were refused only after
    the first checkpoints were translated and scored (minutes on a real test split), and their scores lost."""
    from cyclegan.evaluate import runner

    good = save_tiny_checkpoint(tmp_path / "good.pt")
    damaged = tmp_path / "damaged.pt"
    damaged.write_bytes(good.read_bytes()[:1000])
    write_split(tmp_path / "data", 3, paired=False)  # a paired one of 1 image is scored against its truth
    monkeypatch.setattr(runner, "load_backbone", lambda *a, **k: pytest.fail("the work started"))
    opts = runner.EvalOptions(checkpoint=(str(good), str(damaged)), data=str(tmp_path / "data"), progress=False)
    with pytest.raises(CycleGANError, match="cannot read checkpoint .*damaged.pt"):
        runner.evaluate_checkpoints(opts)
    opts = runner.EvalOptions(checkpoint=(str(good),), data=str(tmp_path / "data"), progress=False)
    with pytest.raises(CycleGANError, match=r"testA holds 1 usable image \(--limit 1\): FD and KID need at least 2"):
        runner.evaluate_checkpoints(dataclasses.replace(opts, limit=1))
    # in the words of the option's other refusals ("option '--kid-subset-size' must be > 1, got 1"): it began
    # "--kid-subset-size 4 must be ..."
    too_many = r"^option '--kid-subset-size' must be between 2 and the smaller set \(3 images\), got 4$"
    with pytest.raises(CycleGANError, match=too_many):
        runner.evaluate_checkpoints(dataclasses.replace(opts, kid_subset_size=4))


def test_every_generator_of_a_checkpoint_comes_from_one_read_of_it(tmp_path, monkeypatch):
    """Evaluating a run that is still training: its checkpoint.pt replaced between the read that gave the step and
    the reads that gave G and F made a report of one step's number with another step's generators."""
    from cyclegan.evaluate import runner

    ckpt = save_tiny_checkpoint(tmp_path / "checkpoint.pt")
    later = torch.load(ckpt, weights_only=True)
    later["step"] = 8
    for state in later["models"].values():
        for t in state.values():
            if t.is_floating_point():
                t.mul_(1.5)
    torch.save(later, tmp_path / "later.pt")
    write_split(tmp_path / "data", 3, paired=True)
    opts = runner.EvalOptions(checkpoint=(str(ckpt),), data=str(tmp_path / "data"), progress=False)
    scores = {}
    for path in (ckpt, tmp_path / "later.pt"):
        report = runner.evaluate(dataclasses.replace(opts, checkpoint=(str(path),)))
        scores[report["step"]] = report["directions"]["AtoB"]["cycle_l1"]
    real_load, reads = runner.load_file, []

    def load_then_replaced(path):  # the training writes its next checkpoint just after a read
        obj = real_load(path)
        reads.append(path)
        if len(reads) == 1:
            (tmp_path / "later.pt").replace(ckpt)
        return obj

    monkeypatch.setattr(runner, "load_file", load_then_replaced)
    report = runner.evaluate(opts)
    assert report["directions"]["AtoB"]["cycle_l1"] == pytest.approx(scores[report["step"]], abs=1e-6)


def test_the_report_is_not_written_over_a_saved_image(tmp_path, monkeypatch):
    """--out DIR/AtoB_grid.png with --save-images DIR: the grid was written, then the JSON report over it (or a
    translation, DIR/AtoB/NAME.png), and the command said both were written."""
    from cyclegan.evaluate import runner

    ckpt, second = save_tiny_checkpoint(tmp_path / "tiny.pt"), save_tiny_checkpoint(tmp_path / "second.pt")
    write_split(tmp_path / "data", 2, paired=True)
    monkeypatch.setattr(runner, "load_backbone", lambda *a, **k: pytest.fail("the work started"))
    saved = tmp_path / "saved"
    opts = runner.EvalOptions(checkpoint=(str(ckpt),), data=str(tmp_path / "data"), progress=False)
    clashes = {
        (str(ckpt),): [saved / "AtoB_grid.png", saved / "BtoA" / "scene_01.png", saved / "x" / ".." / "AtoB_grid.png"],
        (str(ckpt), str(second)): [saved / "01_step7" / "report.json"],  # DIR/NN_stepS/ is the images'
    }
    # one file on the file systems of macOS and Windows: the grid was written, then the report over it
    clashes[(str(ckpt),)] += [saved / "atob_grid.png", saved / "btoa" / "Scene_01.PNG"]
    clashes[(str(ckpt), str(second))] += [saved / "01_STEP7" / "report.json"]
    for checkpoints, outs in clashes.items():
        for out in outs:
            clash = dataclasses.replace(opts, checkpoint=checkpoints, save_images=str(saved), out=str(out))
            with pytest.raises(CycleGANError, match=r"^option '--out': .* is where --save-images writes an image"):
                runner.evaluate_checkpoints(clash)
    beside = dataclasses.replace(opts, save_images=str(saved), out=str(saved / "report.json"))
    with pytest.raises(pytest.fail.Exception, match="the work started"):  # a name of its own is fine
        runner.evaluate_checkpoints(beside)


def test_a_published_generator_without_data_asks_for_data(tmp_path, capsys, monkeypatch):
    """`evaluate --checkpoint pretrained:horse2zebra` without --data said 'pretrained:horse2zebra does not exist
    (give a run folder or a checkpoint file)': the model name was right, --data was missing."""
    from cyclegan.cli import main

    monkeypatch.setenv("CYCLEGAN_HOME", str(tmp_path))
    assert main(["evaluate", "--checkpoint", "pretrained:horse2zebra", "--direction", "AtoB"]) == 2
    err = capsys.readouterr().err
    assert "option '--data' is needed: pretrained:horse2zebra records no data root" in err and "exist" not in err


def test_a_report_with_figures_that_are_not_finite_is_strict_json(tmp_path):
    """A generator that outputs NaN (a run that diverged): the report held the token NaN, which JSON has not,
    so a strict reader (a browser's JSON.parse, jq) refused the whole file."""
    from cyclegan.report import write_json

    def refuse(token):
        raise ValueError(f"not JSON: {token}")

    report = {"directions": {"AtoB": {"fd_lite0": math.nan, "kid_lite0": math.inf, "n_source": 3}}, "steps": [1.5]}
    text = write_json(report, tmp_path / "eval.json").read_text()
    assert json.loads(text, parse_constant=refuse) == {
        "directions": {"AtoB": {"fd_lite0": None, "kid_lite0": None, "n_source": 3}},
        "steps": [1.5],
    }


def test_inception_weights_without_the_inception_backbone_are_refused(tmp_path, capsys):
    """`--inception-weights FILE` without `--backbone inception` computed Lite0 figures and never read FILE: a user
    who asked for FID got fd_lite0 without a word about the file."""
    from cyclegan.cli import main

    args = ["evaluate", "--checkpoint", str(tmp_path / "run"), "--inception-weights", str(tmp_path / "w.pth")]
    assert main(args) == 2
    assert "option '--inception-weights' is for --backbone inception, not lite0" in capsys.readouterr().err


def test_files_of_other_types_in_the_split_are_named_as_training_names_them(tmp_path, capsys, monkeypatch):
    """A GIF (or a text file) in testA was left out of the evaluation without a word; training names such files."""
    from cyclegan.evaluate import runner

    ckpt, data = tiny_evaluation(tmp_path)
    Image.new("RGB", (40, 40)).save(tmp_path / "data" / "testA" / "scene_02.gif")
    (tmp_path / "data" / "testA" / "notes.txt").write_text("the scenes")
    (tmp_path / "data" / "testB" / "scene_03.png").symlink_to(tmp_path / "gone.png")  # a broken link: never read
    monkeypatch.setattr(runner, "load_backbone", lambda *a, **k: pytest.fail("the work started"))
    opts = runner.EvalOptions(checkpoint=(str(ckpt),), data=str(data), progress=False)
    with pytest.raises(pytest.fail.Exception, match="the work started"):
        runner.evaluate_checkpoints(opts)
    err = capsys.readouterr().err
    assert "testA: 2 files left out, not of a type evaluate reads (.jpg" in err and "notes.txt, scene_02.gif" in err
    assert "skipping " in err and "scene_03.png: a broken symbolic link" in err


def test_a_truth_of_another_shape_is_named_as_training_names_such_pairs(tmp_path, capsys, monkeypatch):
    """testA/x.png at 40x40 with testB/x.png at 64x30: its PSNR/SSIM to the truth stretched each to one square,
    unlike the other, without a word (training names such pairs)."""
    from cyclegan.evaluate import runner

    ckpt, data = tiny_evaluation(tmp_path)
    Image.new("RGB", (64, 30)).save(data / "testB" / "scene_01.png")  # a 16-bit grey or CMYK B: the same line
    monkeypatch.setattr(runner, "load_backbone", lambda *a, **k: pytest.fail("the work started"))
    opts = runner.EvalOptions(checkpoint=(str(ckpt),), data=str(data), progress=False)
    with pytest.raises(pytest.fail.Exception, match="the work started"):
        runner.evaluate_checkpoints(opts)
    err = capsys.readouterr().err
    assert err.count("different shapes") == 1, err  # one pair, named once for both directions
    assert f"warning: 1 pair of A and B of different shapes ({data / 'testA' / 'scene_01.png'} is 40x40, its B " in err
    assert "scene_01.png 64x30): PSNR/SSIM to the truth compare them pixel for pixel" in err


def test_the_pages_of_a_multi_page_tiff_left_out_of_the_evaluation_are_named(tmp_path, capsys, monkeypatch):
    """A multi-page TIFF in testA was scored by its first page without a word, as training read it."""
    from cyclegan.evaluate import runner

    ckpt, data = tiny_evaluation(tmp_path, paired=False)
    pages = [Image.new("RGB", (40, 40), c) for c in ("red", "green")]
    pages[0].save(tmp_path / "data" / "testA" / "scan.tif", save_all=True, append_images=pages[1:])
    monkeypatch.setattr(runner, "load_backbone", lambda *a, **k: torch.nn.Identity())
    monkeypatch.setattr(runner, "_check_counts", lambda *a, **k: pytest.fail("the work started"))
    opts = runner.EvalOptions(checkpoint=(str(ckpt),), data=str(data), progress=False)
    with pytest.raises(pytest.fail.Exception, match="the work started"):
        runner.evaluate_checkpoints(opts)
    err = capsys.readouterr().err
    assert "warning: 1 image holds several frames" in err and "evaluate reads only the first of each" in err
    assert f"{tmp_path / 'data' / 'testA' / 'scan.tif'} (2 frames)" in err


def test_the_pages_left_out_are_named_in_one_line_with_limit_s_stand_ins(tmp_path, capsys, monkeypatch):
    """Under --limit, an unreadable image's stand-in drawn in a later round was named in a warning of its own: a
    line per round. All the images of several pages are named in one line."""
    from cyclegan.evaluate import runner

    ckpt = save_tiny_checkpoint(tmp_path / "tiny.pt")
    write_split(tmp_path / "data", 3, paired=False)
    test_a = tmp_path / "data" / "testA"
    (test_a / "a_00.png").write_bytes(b"not an image")  # its stand-in is a_02.tif, drawn in a second round
    pages = [Image.new("RGB", (40, 40), c) for c in ("red", "green")]
    for name in ("a_01", "a_02"):
        (test_a / f"{name}.png").unlink()
        pages[0].save(test_a / f"{name}.tif", save_all=True, append_images=pages[1:])
    monkeypatch.setattr(runner, "load_backbone", lambda *a, **k: torch.nn.Identity())
    monkeypatch.setattr(runner, "_check_counts", lambda *a, **k: pytest.fail("the work started"))
    opts = runner.EvalOptions(checkpoint=(str(ckpt),), data=str(tmp_path / "data"), limit=2, progress=False)
    with pytest.raises(pytest.fail.Exception, match="the work started"):
        runner.evaluate_checkpoints(opts)
    err = capsys.readouterr().err
    assert err.count("hold several frames") == 1 and "warning: 2 images hold several frames" in err
    assert f"{test_a / 'a_01.tif'} (2 frames), {test_a / 'a_02.tif'} (2 frames)" in err


def test_a_split_paired_but_for_a_few_names_is_scored_against_the_truth_of_the_pairs_it_has(tmp_path, capsys):
    """testA and testB with the same names but one (renamed, or cut off by --limit): the report dropped every
    PSNR/SSIM to the truth, which needed every pair. Now the pairs there are are scored, as a split of them alone
    scores them, the files without a partner named, and the table says how many pairs."""
    from cyclegan.cli import main

    ckpt, data = tiny_evaluation(tmp_path, 3)
    test_a, test_b = data / "testA", data / "testB"
    (test_b / "scene_02.png").rename(test_b / "other.png")
    assert (
        main(evaluate_args(ckpt, data, "--out", str(tmp_path / "r.json"), "--save-images", str(tmp_path / "ev"))) == 0
    )
    printed = capsys.readouterr()
    assert "columns: input | translated | reconstructed | truth (grey: none of its name))" in printed.out
    for s, t, alone in (("A", "B", "scene_02.png"), ("B", "A", "other.png")):
        assert (
            f"warning: {s}to{t}'s PSNR/SSIM to the truth are over 2 pairs: 1 of 3 files of {data / f'test{s}'} have "
            f"no file of the same name in {data / f'test{t}'} ({alone}), and are scored without a truth (an "
            "unpaired split whose files merely share names: ignore the truth rows)"
        ) in printed.err.splitlines()
    assert "AtoB 2 pairs of 3 sources and 3 targets, BtoA 2 pairs of 3 sources and 3 targets" in printed.out
    partial = json.loads((tmp_path / "r.json").read_text())["directions"]
    (test_a / "scene_02.png").unlink()
    (test_b / "other.png").unlink()
    assert main(evaluate_args(ckpt, data, "--out", str(tmp_path / "pairs.json"))) == 0
    pairs = json.loads((tmp_path / "pairs.json").read_text())["directions"]
    for d in ("AtoB", "BtoA"):
        assert partial[d]["n_source"] == 3 and partial[d]["n_pairs"] == pairs[d]["n_pairs"] == 2
        for key in ("truth_l1", "truth_psnr", "truth_ssim", "truth_local_colour"):
            assert partial[d][key] == pytest.approx(pairs[d][key], rel=1e-4, abs=1e-5), (d, key)


@pytest.mark.parametrize("best", [{"step": 7}, {"metric": ["psnr"], "step": 7}])
def test_a_best_record_without_a_metric_name_is_scored_as_a_plain_checkpoint(tmp_path, capsys, best):
    """A best.pt whose `best` record has no metric name (damaged, hand-made) ended a run's evaluation, after the
    scoring, in a KeyError or TypeError traceback."""
    from cyclegan.cli import main

    run = tmp_path / "run"
    run.mkdir()
    save_tiny_checkpoint(run / "checkpoint.pt")
    ckpt = torch.load(save_tiny_checkpoint(run / "best.pt"), weights_only=True)
    torch.save({**ckpt, "best": best}, run / "best.pt")
    write_split(tmp_path / "data", 2, paired=True)
    args = ["evaluate", "--checkpoint", str(run), "--data", str(tmp_path / "data"), "--kid-subsets", "2"]
    assert main([*args, "--no-progress"]) == 0
    assert f"{run}: " not in capsys.readouterr().out  # no line on which is better: no score chose it


def test_a_truncated_best_pt_leaves_the_runs_checkpoint_scored(tmp_path, capsys):
    """`evaluate RUN` with a truncated RUN/best.pt refused everything, the intact checkpoint.pt too: now that one is
    scored, the damaged file named in one warning line, and the exit status says the result is partial."""
    from cyclegan.cli import main

    run = tmp_path / "run"
    run.mkdir()
    save_tiny_checkpoint(run / "checkpoint.pt")
    whole = save_tiny_checkpoint(run / "best.pt").read_bytes()
    (run / "best.pt").write_bytes(whole[: len(whole) // 2])
    write_split(tmp_path / "data", 2, paired=True)
    report = tmp_path / "report.json"
    args = ["--data", str(tmp_path / "data"), "--kid-subsets", "2", "--no-progress"]
    assert main(["evaluate", "--checkpoint", str(run), *args, "--out", str(report)]) == 1
    out, err = capsys.readouterr()
    assert f"checkpoint {run / 'checkpoint.pt'} (step 7" in out
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and warnings[0].startswith(f"warning: cannot read checkpoint {run / 'best.pt'}: ")
    assert warnings[0].endswith("; left out of the evaluation")
    assert "error: 1 checkpoint could not be read (named above)" in err
    assert json.loads(report.read_text())["checkpoint"] == str(run / "checkpoint.pt")
    # named on the command line, the damaged file is still refused, before any work
    assert main(["evaluate", "--checkpoint", str(run / "checkpoint.pt"), str(run / "best.pt"), *args]) == 2
    assert f"error: cannot read checkpoint {run / 'best.pt'}" in capsys.readouterr().err


def test_a_run_folder_with_best_pt_alone_has_best_pt_scored(tmp_path, capsys):
    """`evaluate RUN` on a run whose checkpoint.pt was deleted to save space (best.pt kept) refused the run ('give
    that file'), where a truncated checkpoint.pt left best.pt scored: now best.pt is scored, with a warning."""
    from cyclegan.cli import main

    run = tmp_path / "run"
    run.mkdir()
    save_tiny_checkpoint(run / "best.pt")
    write_split(tmp_path / "data", 2, paired=True)
    report = tmp_path / "report.json"
    args = ["--data", str(tmp_path / "data"), "--kid-subsets", "2", "--no-progress", "--out", str(report)]
    assert main(["evaluate", "--checkpoint", str(run), *args]) == 0
    out, err = capsys.readouterr()
    assert f"checkpoint {run / 'best.pt'} (step 7" in out
    assert f"warning: {run} has no checkpoint.pt (deleted, or the run copied without it): only its best.pt" in err
    assert json.loads(report.read_text())["checkpoint"] == str(run / "best.pt")


def test_the_saved_images_of_a_runs_two_files_at_one_step_say_whose_they_are(tmp_path, capsys):
    """`evaluate RUN --save-images DIR` of a run whose best.pt is its last step wrote DIR/00_step7 and DIR/01_step7,
    and neither the output nor the report said which folder was best.pt's."""
    from cyclegan.cli import main

    run = tmp_path / "run"
    run.mkdir()
    save_tiny_checkpoint(run / "checkpoint.pt")
    save_tiny_checkpoint(run / "best.pt")
    write_split(tmp_path / "data", 2, paired=True)
    report, images = tmp_path / "report.json", tmp_path / "images"
    args = ["--data", str(tmp_path / "data"), "--kid-subsets", "2", "--no-progress", "--out", str(report)]
    assert main(["evaluate", "--checkpoint", str(run), *args, "--save-images", str(images)]) == 0
    out = capsys.readouterr().out
    assert f"  00_step7: {run / 'checkpoint.pt'}, 01_step7: {run / 'best.pt'}\n" in out
    saved = {r["checkpoint"]: r["images"] for r in json.loads(report.read_text())["reports"]}
    assert saved == {
        str(run / "checkpoint.pt"): str(images / "00_step7"),
        str(run / "best.pt"): str(images / "01_step7"),
    }
    assert all((Path(folder) / "AtoB_grid.png").is_file() for folder in saved.values())


def test_saved_images_of_an_earlier_evaluation_left_beside_the_new_ones_are_named(tmp_path, capsys, monkeypatch):
    """--save-images DIR --overwrite after an evaluation of other test images: DIR/AtoB held the earlier
    translations beside the new ones, without a word, as if this checkpoint had made them all."""
    from cyclegan.evaluate import runner

    ckpt = save_tiny_checkpoint(tmp_path / "tiny.pt")
    write_split(tmp_path / "data", 2, paired=True)
    saved = tmp_path / "saved"
    (saved / "AtoB").mkdir(parents=True)
    for name in ("scene_00.png", "old_1.png", "old_2.png"):  # scene_00.png is written again: not named
        Image.new("RGB", (8, 8)).save(saved / "AtoB" / name)
    monkeypatch.setattr(runner, "load_backbone", lambda *a, **k: pytest.fail("the work started"))
    opts = runner.EvalOptions(
        checkpoint=(str(ckpt),), data=str(tmp_path / "data"), save_images=str(saved), overwrite=True, progress=False
    )
    with pytest.raises(pytest.fail.Exception, match="the work started"):
        runner.evaluate_checkpoints(opts)
    err = capsys.readouterr().err
    assert f"warning: {saved / 'AtoB'} holds 2 images this evaluation does not write (old_1.png, old_2.png)" in err
    assert "BtoA" not in err


def test_a_killed_evaluations_temporaries_beside_its_saved_images_are_removed_by_the_next(tmp_path, monkeypatch):
    """kill -9 while --save-images wrote left `.NAME.XXXXXXXX.tmp` files beside the images and grids, hidden, for
    ever; the next evaluation into the folder removes them (under its lock) before its work."""
    from cyclegan.evaluate import runner

    ckpt = save_tiny_checkpoint(tmp_path / "tiny.pt")
    write_split(tmp_path / "data", 2, paired=True)
    saved = tmp_path / "saved"
    killed = [saved / ".AtoB_grid.png.k3x_9q2z.tmp", saved / "AtoB" / ".scene_00.png.k3x_9q2z.tmp"]
    mine = saved / "AtoB" / ".notes.png.k3x_9q2z.tmp"  # named after no image it writes: left alone
    for f in [*killed, mine]:
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"half a file")
    monkeypatch.setattr(runner, "load_backbone", lambda *a, **k: pytest.fail("the work started"))
    opts = runner.EvalOptions(checkpoint=(str(ckpt),), data=str(tmp_path / "data"), save_images=str(saved))
    with pytest.raises(pytest.fail.Exception, match="the work started"):
        runner.evaluate_checkpoints(dataclasses.replace(opts, progress=False))
    assert not any(f.exists() for f in killed) and mine.exists()


def test_a_foreign_file_holding_both_generators_is_scored_both_ways(tmp_path):
    """A file of another project holding G_A and G_B was refused with '... holds a single generator: give
    --direction AtoB or BtoA'; it holds one for each, and the cycle between them."""
    from cyclegan.config import resolve
    from cyclegan.evaluate.runner import EvalOptions, evaluate
    from cyclegan.models import build_generator

    torch.manual_seed(0)
    model = resolve({"ngf": 8, "n_blocks": 2}).model
    both = tmp_path / "generators.pth"
    torch.save({"G_A": build_generator(model).state_dict(), "G_B": build_generator(model).state_dict()}, both)
    write_split(tmp_path / "data", 2, paired=True)
    opts = EvalOptions(checkpoint=(str(both),), data=str(tmp_path / "data"), size=32, progress=False)
    report = evaluate(opts)
    assert report["preset"] == "foreign" and set(report["directions"]) == {"AtoB", "BtoA"}
    assert all(math.isfinite(row["cycle_psnr"]) for row in report["directions"].values())


def test_a_runs_relative_data_is_read_from_where_train_ran(tmp_path, monkeypatch):
    """`cyclegan train --data data --out runs/x` in proj/, then `cyclegan evaluate --checkpoint proj/runs/x` from
    elsewhere: config.json's 'data' was read from the current folder, so no data was found, or another folder
    named data was scored without a word."""
    from cyclegan.evaluate.best import run_data

    proj = tmp_path / "proj"
    for run, out in ((proj / "runs" / "x", "runs/x"), (proj / "moved", "runs/y"), (proj / "abs", str(tmp_path / "a"))):
        run.mkdir(parents=True)
        (run / "config.json").write_text(json.dumps({"data": {"data": "data"}, "train": {"out": out}}))
    (tmp_path / "data").mkdir()  # another folder of that name, where evaluate runs
    monkeypatch.chdir(tmp_path)
    assert run_data(str(proj / "runs" / "x")) == str(proj / "data")
    (proj / "runs" / "x" / "best.pt").touch()
    assert run_data(str(proj / "runs" / "x" / "best.pt")) == str(proj / "data")  # a file of the run: the same
    assert run_data(str(proj / "moved")) == "data"  # not where train left it: as given
    assert run_data(str(proj / "abs")) == "data"


def test_a_run_in_a_linked_runs_folder_finds_its_data_where_train_ran(tmp_path, monkeypatch, capsys):
    """`runs` a link to a bigger disk (`ln -s /big/runs runs`), then `train --data data --out runs/x` in proj/:
    `evaluate --checkpoint runs/x` followed the link, took the disk's folder above runs/x for the one train ran in,
    and asked for --data ("trained on ../big/data, which is not there"); named absolute, the disk's data too."""
    from cyclegan.cli import main
    from cyclegan.evaluate.best import run_data

    proj, big = tmp_path / "proj", tmp_path / "big"
    write_split(proj / "data", 2, paired=True)
    (big / "runs" / "x").mkdir(parents=True)
    (proj / "runs").symlink_to(big / "runs", target_is_directory=True)
    save_tiny_checkpoint(big / "runs" / "x" / "checkpoint.pt")
    (big / "runs" / "x" / "config.json").write_text(json.dumps({"data": {"data": "data"}, "train": {"out": "runs/x"}}))
    (elsewhere := tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(elsewhere)
    assert run_data("../proj/runs/x") == "../proj/data"  # named through the link, as the checkpoint was given
    assert run_data(str(proj / "runs" / "x")) == str(proj / "data")
    monkeypatch.chdir(proj)
    assert main(["evaluate", "--checkpoint", "runs/x", "--backbone", "lite0", "--no-progress"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("dataset data, split 'test'; ")


def test_a_runs_data_is_named_as_its_checkpoint_was_given(tmp_path, monkeypatch, capsys):
    """`cyclegan evaluate --checkpoint runs/x` headed its table "checkpoint runs/x/checkpoint.pt" over "data
    /home/.../proj/data": the run's data named absolute beside a checkpoint named as given. A relative checkpoint's
    data is named from the current folder now, an absolute one's stays absolute
    (`test_a_runs_relative_data_is_read_from_where_train_ran`)."""
    from cyclegan.cli import main
    from cyclegan.evaluate.best import run_data

    proj = tmp_path / "proj"
    run = proj / "runs" / "x"
    write_split(proj / "data", 2, paired=True)
    run.mkdir(parents=True)
    save_tiny_checkpoint(run / "checkpoint.pt")
    (run / "config.json").write_text(json.dumps({"data": {"data": "data"}, "train": {"out": "runs/x"}}))
    (elsewhere := tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(elsewhere)
    assert run_data("../proj/runs/x") == "../proj/data"
    monkeypatch.chdir(proj)
    assert main(["evaluate", "--checkpoint", "runs/x", "--backbone", "lite0", "--no-progress"]) == 0
    heading = capsys.readouterr().out.splitlines()[:2]
    assert heading[0].startswith("checkpoint runs/x/checkpoint.pt (") and heading[1].startswith("dataset data, split")


def test_a_copied_run_whose_data_is_not_found_is_asked_for_data(tmp_path, monkeypatch, capsys):
    """`cp -r runs/demo elsewhere/` and `cyclegan evaluate --checkpoint elsewhere/demo`: its config.json's relative
    data can no longer be found, and the error named '--data testA folder runs/demo/data/testA', an option the user
    never gave, nor said to give one."""
    from cyclegan.cli import main

    run = tmp_path / "copy"
    run.mkdir()
    save_tiny_checkpoint(run / "checkpoint.pt")
    (run / "config.json").write_text(json.dumps({"data": {"data": "runs/demo/data"}, "train": {"out": "runs/demo"}}))
    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", "--checkpoint", "copy", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: option '--data' is needed: copy trained on runs/demo/data, which is not there")
    assert err.endswith("give --data ROOT holding testA and testB") and "\n" not in err


def test_a_run_trained_on_two_domain_folders_is_asked_for_data_as_such(tmp_path):
    # It said the run "has no config.json naming its --data root", beside its config.json
    from cyclegan.evaluate.best import run_data

    data = {"data": None, "domain_a": "photos/a", "domain_b": "photos/b"}
    (tmp_path / "config.json").write_text(json.dumps({"data": data, "train": {"out": "runs/x"}}))
    with pytest.raises(CycleGANError, match=r"was trained on --domain-a/--domain-b folders, not a --data root"):
        run_data(str(tmp_path))


def test_two_plain_folders_of_test_images_are_evaluated_with_domain_a_and_domain_b(tmp_path, capsys):
    """A run trained on `--domain-a DIR --domain-b DIR` could be evaluated only once its test images were laid
    out as ROOT/testA and ROOT/testB: evaluate had no --domain-a/--domain-b. The two folders are read as the
    split's (pairs by name give the truth), and the report names them."""
    from cyclegan.cli import main

    ckpt = save_tiny_checkpoint(tmp_path / "tiny.pt")
    write_split(tmp_path / "data", 3, paired=True)
    horses, zebras = tmp_path / "data" / "testA", tmp_path / "zebras held out"
    (tmp_path / "data" / "testB").rename(zebras)  # two plain folders, no dataset root
    args = ["evaluate", "--checkpoint", str(ckpt), "--no-progress", "--kid-subsets", "2"]
    out = tmp_path / "eval.json"
    assert main([*args, "--domain-a", str(horses), "--domain-b", str(zebras), "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert (report["domain_a"], report["domain_b"], report["data"]) == (str(horses), str(zebras), None)
    assert report["layout"] == f"{horses} and {zebras}" and report["directions"]["AtoB"]["n_pairs"] == 3
    capsys.readouterr()
    both = ["--domain-a", str(horses), "--domain-b", str(zebras)]
    refusals = [
        (both[:2], "option '--domain-a' needs --domain-b too: give both folders of test images"),
        ([*both, "--data", str(tmp_path / "data")], "options '--data' and '--domain-a/--domain-b' each name the test"),
        (
            [*both, "--split", "val"],
            "option '--split' val names folders under --data ROOT, which --domain-a/--domain-b",
        ),
        ([*both[:3], str(horses)], f"option '--domain-b': {horses} is the same folder as --domain-a {horses}"),
        ([*both[:3], ""], "option '--domain-b' is empty (an unset variable?): give a folder of images"),
    ]
    for flags, line in refusals:
        assert main([*args, *flags]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and line in err, (flags, err)


def test_runs_trained_on_different_data_are_not_scored_on_the_first_ones(tmp_path):
    """`evaluate --checkpoint RUN_A RUN_B` without --data scored both on RUN_A's data: RUN_B on a test split of
    another dataset, without a word."""
    from cyclegan.evaluate.runner import EvalOptions, evaluate_checkpoints

    runs = {}
    for name in ("a", "b"):
        run = tmp_path / name
        run.mkdir()
        save_tiny_checkpoint(run / "checkpoint.pt")
        (run / "config.json").write_text(json.dumps({"data": {"data": str(tmp_path / f"data_{name}")}, "train": {}}))
        runs[name] = str(run)
    opts = EvalOptions(checkpoint=(runs["a"], runs["b"]), progress=False)
    with pytest.raises(CycleGANError, match=r"option '--data' is needed: .*a trained on .*data_a and .*b on .*data_b"):
        evaluate_checkpoints(opts)


def test_the_curve_of_checkpoints_scored_in_different_directions_shows_each(tmp_path):
    """`evaluate --checkpoint CYCLEGAN_RUN CUT_RUN`: the curve took the first report's directions and ended, after
    all the scoring and before --out was written, in "KeyError: 'BtoA'" at the CUT run's row."""
    from cyclegan.report import format_curve

    row = {"fd_lite0": 1.0, "kid_lite0": 0.5, "kid_lite0_std": 0.0, "kid_subsets": 1, "cycle_psnr": 20.0}
    both = {"backbone": "lite0", "step": 6, "directions": {"AtoB": row, "BtoA": row}}
    one = {"backbone": "lite0", "step": 3, "directions": {"AtoB": row}}
    for reports in ([both, one], [one, both]):
        lines = format_curve(reports).splitlines()
        assert "BtoA fd_lite0" in lines[0] and len(lines) == 3
        assert lines[1 + reports.index(one)].split()[-4:] == ["-"] * 4  # no BtoA figures, and no checkpoint named


def test_the_curve_names_each_checkpoint_so_a_runs_last_and_best_at_one_step_are_told_apart():
    """`evaluate --checkpoint RUN` scores checkpoint.pt and best.pt; when best.pt is the last step, the curve printed
    two rows both labelled only by that step, with nothing to say which file each was."""
    from cyclegan.report import format_curve

    row = {"fd_lite0": 1.0, "kid_lite0": 0.5, "kid_lite0_std": 0.0, "kid_subsets": 1, "cycle_psnr": 20.0}
    last = {"backbone": "lite0", "step": 12, "directions": {"AtoB": row}, "checkpoint": "runs/r1/checkpoint.pt"}
    best = {"backbone": "lite0", "step": 12, "directions": {"AtoB": row}, "checkpoint": "runs/r1/best.pt"}
    lines = format_curve([last, best]).splitlines()
    assert lines[0].rstrip().endswith("checkpoint")
    assert lines[1].rstrip().endswith("runs/r1/checkpoint.pt") and lines[2].rstrip().endswith("runs/r1/best.pt")


def test_an_evaluation_that_fails_leaves_none_of_its_new_images(tmp_path, monkeypatch):
    """Interrupted (Ctrl-C, out of memory) after its first translations, an evaluation left them in --save-images:
    the next one stopped at 'exists', or, with --overwrite, mixed them with the earlier images."""
    from cyclegan.evaluate import runner

    ckpt = save_tiny_checkpoint(tmp_path / "tiny.pt")
    write_split(tmp_path / "data", 2, paired=True)
    saved = tmp_path / "saved"
    (saved / "AtoB").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(saved / "AtoB" / "scene_00.png")  # found there: replaced, never removed

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "_identity_l1", interrupted)  # after AtoB's translations were written
    opts = runner.EvalOptions(
        checkpoint=(str(ckpt),), data=str(tmp_path / "data"), save_images=str(saved), overwrite=True, progress=False
    )
    with pytest.raises(KeyboardInterrupt):
        runner.evaluate_checkpoints(opts)
    assert sorted(p.relative_to(saved).as_posix() for p in saved.rglob("*")) == ["AtoB", "AtoB/scene_00.png"]


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("signum, status, said", [("SIGTERM", 143, "terminated"), ("SIGHUP", 129, "hung up")])
def test_sigterm_stops_an_evaluation_as_ctrl_c_does(tmp_path, signum, status, said):
    """A batch scheduler's SIGTERM killed `cyclegan evaluate` at once: its --save-images folder was left half made
    (the next run stopped at 'exists'). Now it is removed as on Ctrl-C, and the command says so: exit 143. A closed
    terminal's SIGHUP the same, exit 129."""
    import subprocess

    ckpt = save_tiny_checkpoint(tmp_path / "tiny.pt")
    write_split(tmp_path / "data", 2, paired=True)
    saved = tmp_path / "saved"
    script = f"""
import os, signal, sys
import cyclegan.evaluate.runner as r
from cyclegan.cli import main
signal.signal(signal.SIGHUP, signal.SIG_DFL)  # as in a terminal, even where this test runs under nohup
real = r._identity_l1
def identity_l1(*a, **k):  # after the first direction's translations were saved
    os.kill(os.getpid(), signal.{signum})
    return real(*a, **k)
r._identity_l1 = identity_l1
sys.exit(main(["evaluate", "--checkpoint", {str(ckpt)!r}, "--data", {str(tmp_path / "data")!r},
               "--save-images", {str(saved)!r}, "--no-progress"]))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == status, done.stderr[-2000:]
    assert done.stderr.endswith(f"{said}\n") and "Traceback" not in done.stderr
    assert not saved.exists()


def test_one_direction_of_a_two_generator_file_needs_only_that_generator(tmp_path):
    """--direction AtoB of a file holding G_A and a G_B that does not load: scored without the cycle, not refused
    for the generator it was not asked for."""
    from cyclegan.config import resolve
    from cyclegan.evaluate.runner import EvalOptions, evaluate
    from cyclegan.models import build_generator

    state = build_generator(resolve({"ngf": 8, "n_blocks": 2}).model).state_dict()
    both = tmp_path / "generators.pth"
    torch.save({"G_A": state, "G_B": {"model.1.weight": torch.zeros(2, 2)}}, both)
    write_split(tmp_path / "data", 2, paired=True)
    opts = EvalOptions(checkpoint=(str(both),), data=str(tmp_path / "data"), size=32, direction="AtoB", progress=False)
    row = evaluate(opts)["directions"]["AtoB"]
    assert math.isfinite(row["truth_psnr"]) and "cycle_psnr" not in row


def test_the_table_of_a_foreign_file_says_what_it_does_not_record():
    """A generator file of another project was shown as 'step None, foreign preset, trained at None px'."""
    from cyclegan.report import format_table

    row = {"fd_lite0": 1.0, "kid_lite0": 0.5, "kid_lite0_std": 0.0, "kid_subsets": 1, "kid_subset_size": 2}
    report = {"checkpoint": "g.pth", "step": None, "preset": "foreign", "train_size": None, "eval_size": 256}
    report |= {"data": "d", "split": "test", "backbone": "lite0", "backbone_note": "", "directions": {"AtoB": row}}
    head = format_table(report).splitlines()[0]
    assert head == "checkpoint g.pth (a generator file of another project: no step or training size recorded), " + (
        "evaluated at 256 px"
    )


def test_a_size_past_the_pixel_cap_is_refused_before_any_work(tmp_path, capsys):
    """`--size 100000` resized every test image to 10 gigapixels: an out-of-memory message where the allocator
    refused, the machine's memory where it did not. Held to --max-pixels, as translate holds --size."""
    from cyclegan.cli import main

    assert main(["evaluate", "--checkpoint", str(tmp_path / "none"), "--size", "200", "--max-pixels", "10000"]) == 2
    err = capsys.readouterr().err
    assert "option '--size' 200 makes each image 200x200 pixels, over --max-pixels 10000" in err


def test_a_generator_file_listed_before_a_run_takes_the_runs_data(tmp_path):
    """`evaluate --checkpoint G.pth RUN` without --data asked for --data (the first checkpoint has no run), where
    `RUN G.pth` scored both on the run's data."""
    from cyclegan.evaluate.runner import _one_data_root

    run = tmp_path / "run"
    run.mkdir()
    save_tiny_checkpoint(run / "checkpoint.pt")
    (run / "config.json").write_text(json.dumps({"data": {"data": str(tmp_path / "data")}, "train": {}}))
    (tmp_path / "data").mkdir()  # the run's data, there: one that is not is asked for as --data
    (tmp_path / "loose").mkdir()
    loose = save_tiny_checkpoint(tmp_path / "loose" / "g.pt")
    assert _one_data_root((str(loose), str(run))) == _one_data_root((str(run), str(loose))) == str(tmp_path / "data")
    with pytest.raises(CycleGANError, match=r"option '--data' is needed: .*loose has no config.json"):
        _one_data_root((str(loose),))


def test_saved_images_of_a_file_without_a_step_are_not_in_a_step_none_folder(tmp_path, monkeypatch):
    """`evaluate --checkpoint G.pth RUN --save-images DIR`: a generator file of another project records no step,
    and its translations went to DIR/00_stepNone."""
    from cyclegan.config import resolve
    from cyclegan.evaluate import runner
    from cyclegan.models import build_generator

    torch.manual_seed(0)
    plain = tmp_path / "latest_net_G_A.pth"
    torch.save(build_generator(resolve({"ngf": 8, "n_blocks": 2}).model).state_dict(), plain)
    ckpt = save_tiny_checkpoint(tmp_path / "tiny.pt")
    write_split(tmp_path / "data", 2, paired=True)
    saved = tmp_path / "saved"
    monkeypatch.setattr(runner, "load_backbone", lambda *a, **k: PooledPixels())
    opts = runner.EvalOptions(
        checkpoint=(str(plain), str(ckpt)),
        data=str(tmp_path / "data"),
        direction="AtoB",
        size=32,
        kid_subsets=2,
        save_images=str(saved),
        progress=False,
    )
    runner.evaluate_checkpoints(opts)
    assert sorted(p.name for p in saved.iterdir()) == ["00_step_unknown", "01_step7"]
    with pytest.raises(CycleGANError, match="exists"):  # found by the output checks, as any NN_stepS folder is
        runner.evaluate_checkpoints(opts)


class PooledPixels(torch.nn.Module):
    """A stand-in feature network: (B, 3, H, W) -> (B, 12) pooled pixels, so a runner test needs no Lite0."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.adaptive_avg_pool2d(x.float(), 2).flatten(1)


def test_the_progress_bar_counts_the_images_evaluate_goes_through(tmp_path, monkeypatch):
    """With testB larger than testA, --direction AtoB's bar counted testA twice where the identity pass goes through
    testB: "26img" past a total of 21 (and ended short of its total when testB was the smaller)."""
    from cyclegan.evaluate import runner

    bars = []

    class Bar:
        def __init__(self, *, total, **_):
            self.total, self.n = total, 0
            bars.append(self)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def update(self, n):
            self.n += n

    ckpt = save_tiny_checkpoint(tmp_path / "tiny.pt")
    write_split(tmp_path / "data", 2, paired=False)
    for i in range(3):  # testB: 5 images, testA: 2
        Image.fromarray(stripe_image(np.random.default_rng(i), 40)).save(tmp_path / "data" / "testB" / f"x{i}.png")
    monkeypatch.setattr(runner, "load_backbone", lambda *a, **k: PooledPixels())
    monkeypatch.setattr(runner, "progress_bar", Bar)
    opts = runner.EvalOptions(checkpoint=(str(ckpt),), data=str(tmp_path / "data"), kid_subsets=2, progress=False)
    for direction in ("AtoB", "BtoA", "both"):
        bars.clear()
        runner.evaluate_checkpoints(dataclasses.replace(opts, direction=direction))
        # the test images' features under a bar of their own, then the checkpoint's translations and identity passes
        assert [(bar.n, bar.total) for bar in bars] == [(7, 7), (7 * (1 + (direction == "both")),) * 2]


def test_a_domain_of_one_image_asks_for_images_not_for_a_limit_never_given(tmp_path, monkeypatch):
    """testA of one image, no --limit: the refusal ended "add images or raise --limit", an option not given."""
    from cyclegan.evaluate import runner

    ckpt = save_tiny_checkpoint(tmp_path / "tiny.pt")
    write_split(tmp_path / "data", 2, paired=False)  # a paired one of 1 image is scored against its truth
    (tmp_path / "data" / "testA" / "a_01.png").unlink()
    monkeypatch.setattr(runner, "load_backbone", lambda *a, **k: pytest.fail("the work started"))
    opts = runner.EvalOptions(checkpoint=(str(ckpt),), data=str(tmp_path / "data"), progress=False)
    with pytest.raises(
        CycleGANError, match=r"testA holds 1 usable image: FD and KID need at least 2 per domain; add images$"
    ):
        runner.evaluate_checkpoints(opts)
    with pytest.raises(CycleGANError, match=r"\(--limit 1\): .*; raise --limit or add images$"):
        runner.evaluate_checkpoints(dataclasses.replace(opts, limit=1))


def test_an_unpaired_split_of_one_image_is_refused_before_torchs_work(tmp_path, monkeypatch):
    """testA and testB of one image each, of other names (or --limit 1 of such folders): refused only once torch
    was imported, the checkpoints read and every image decoded (15 s on a busy machine). Now by the torch-free
    folder check, and for a run's own --data before any image or checkpoint is read."""
    from cyclegan.evaluate import runner
    from cyclegan.evaluate.options import EvalOptions, check_folders_there

    ckpt, data = tiny_evaluation(tmp_path, 1, paired=False)
    opts = EvalOptions(checkpoint=(str(ckpt),), data=str(data), progress=False)
    with pytest.raises(CycleGANError, match=r"testA holds 1 usable image: FD and KID need at least 2 per domain"):
        check_folders_there(opts)
    (data / "testA" / "a_01.png").write_bytes((data / "testA" / "a_00.png").read_bytes())
    (data / "testB" / "b_01.png").write_bytes((data / "testB" / "b_00.png").read_bytes())
    check_folders_there(opts)  # two a domain: scored
    with pytest.raises(CycleGANError, match=r"testA holds 1 usable image \(--limit 1\): .*raise --limit"):
        check_folders_there(dataclasses.replace(opts, limit=1))
    paired = tmp_path / "paired"
    write_split(paired, 1, paired=True)
    check_folders_there(dataclasses.replace(opts, data=str(paired)))  # one pair: scored against its truth
    run = tmp_path / "run"  # a run whose config names the one-image split: its --data, read without torch's work
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(ckpt.read_bytes())
    (run / "config.json").write_text(json.dumps({"data": {"data": str(data)}, "train": {"out": str(run)}}))
    monkeypatch.setattr(runner, "_drop_bad_images", lambda *a, **k: pytest.fail("the images were decoded"))
    with pytest.raises(CycleGANError, match=r"testA holds 1 usable image \(--limit 1\)"):
        runner.evaluate_checkpoints(EvalOptions(checkpoint=(str(run),), limit=1, progress=False))


def test_a_paired_split_of_one_image_is_scored_against_its_truth_without_fd_and_kid(tmp_path, capsys):
    """One image per domain, paired: refused ("FD and KID need at least 2") though PSNR/SSIM to the truth need one."""
    from cyclegan.cli import main

    ckpt, data = tiny_evaluation(tmp_path, 1)
    assert main(evaluate_args(ckpt, data, "--out", str(tmp_path / "r.json"))) == 0
    out = capsys.readouterr().out
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["fd_kid_note"].startswith("FD and KID left out (null): ") and report["fd_kid_note"] in out
    for row in report["directions"].values():
        assert row["fd_lite0"] is None and row["kid_lite0"] is None and row["fd_lite0_untranslated"] is None
        assert math.isfinite(row["truth_psnr"]) and row["n_pairs"] == 1
    assert "nan" not in out and "PSNR vs truth dB" in out
    copy = tmp_path / "copy.pt"
    copy.write_bytes(ckpt.read_bytes())
    assert main(["evaluate", "--checkpoint", str(ckpt), str(copy), "--data", str(data), "--no-progress"]) == 0
    assert "nan" not in capsys.readouterr().out


def test_a_translation_of_nan_leaves_no_worst_window_to_name(tmp_path, capsys, monkeypatch):
    """One NaN translation among finite ones: its truth PSNR was NaN (null) but its local colour error the next
    batch's finite worst; and where the NaN was last, the table's line named the image's corner, "at x 0, y 0"."""
    from cyclegan.cli import main
    from cyclegan.evaluate import runner

    ckpt, data = tiny_evaluation(tmp_path, 3)
    plain = runner.translate_tensor

    def nan_at(image: int):
        """translate_tensor, its output NaN at AtoB's `image` (AtoB's calls come first: G's, F's back, per image)."""
        calls = iter(range(100))
        return lambda net, x: torch.full_like(x, math.nan) if next(calls) == 2 * image else plain(net, x)

    for broken in (0, 2):  # the first translation of three (batches of one), then the last
        monkeypatch.setattr(runner, "translate_tensor", nan_at(broken))
        out = tmp_path / f"r{broken}.json"
        assert main(evaluate_args(ckpt, data, "--batch-size", "1", "--out", str(out))) == 0
        monkeypatch.undo()
        row = json.loads(out.read_text())["directions"]["AtoB"]
        assert row["truth_psnr"] is None and row["truth_local_colour"] is None, broken
        assert row["truth_local_colour_at"] is None, broken
        printed = capsys.readouterr().out
        assert "local colour AtoB" not in printed and "local colour BtoA: the worst" in printed, broken


def test_fd_and_kid_on_a_handful_of_images_are_said_to_be_rough_once(tmp_path, capsys):
    """FD and KID over 2 images a domain were printed as plainly as over 200, though FD's small-set bias alone is
    64 at 20 images (benchmarks/fd_kid_small_sets.py): one note now, under the tables of every checkpoint, and in
    each report; none from 50 images a domain."""
    from cyclegan.cli import main
    from cyclegan.evaluate.runner import FEW_FOR_FD_KID, SplitImages, _small_sets

    ckpt, data = tiny_evaluation(tmp_path, 2, paired=False)
    copy = tmp_path / "copy.pt"
    copy.write_bytes(ckpt.read_bytes())
    args = ["evaluate", "--checkpoint", str(ckpt), str(copy), "--data", str(data), "--kid-subsets", "2"]
    assert main([*args, "--out", str(tmp_path / "r.json"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert out.count("note: FD and KID over 2 images a domain (under 50) are rough: ") == 1
    for report in json.loads((tmp_path / "r.json").read_text())["reports"]:
        assert report["fd_kid_rough"].startswith("FD and KID over 2 images a domain (under 50) are rough")
    many = [Path(f"{i}.png") for i in range(FEW_FOR_FD_KID)]
    assert _small_sets(SplitImages({"A": many, "B": many[1:]}, [Path("a"), Path("b")])) is not None
    assert _small_sets(SplitImages({"A": many, "B": many}, [Path("a"), Path("b")])) is None


def test_kid_subsets_are_bounded_before_any_work(tmp_path, capsys):
    """`--kid-subsets 1000000000` (a slip for --kid-subset-size) was taken: the subsets were drawn one by one after
    every image had been translated, for days, each score held in memory."""
    from cyclegan.cli import main

    assert main(["evaluate", "--checkpoint", str(tmp_path / "none"), "--kid-subsets", "1000000000"]) == 2
    assert "option '--kid-subsets' must be > 0 and <= 10000, got 1000000000" in capsys.readouterr().err
    from cyclegan.evaluate.options import KID_SUBSETS_MAX, EvalOptions

    assert EvalOptions(checkpoint=("x",), kid_subsets=KID_SUBSETS_MAX).kid_subsets == 10_000


def test_an_evaluation_of_several_checkpoints_that_fails_leaves_none_of_their_images(tmp_path, monkeypatch):
    """Interrupted while scoring its second checkpoint, `evaluate --checkpoint A B --save-images DIR` left DIR/00_step7
    whole and DIR/01_step7 half-made (AtoB's translations, no grid), without the scores of either: the next run
    stopped at 'exists', and with --overwrite the half-made folder looked like a finished one until it was redone."""
    from cyclegan.evaluate import runner

    first = save_tiny_checkpoint(tmp_path / "first.pt")
    second = save_tiny_checkpoint(tmp_path / "second.pt")
    write_split(tmp_path / "data", 2, paired=True)
    saved = tmp_path / "saved"
    real_identity, calls = runner._identity_l1, []

    def interrupted_in_the_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # the second checkpoint's AtoB, after its translations were written
            raise KeyboardInterrupt
        return real_identity(*args, **kwargs)

    monkeypatch.setattr(runner, "load_backbone", lambda *a, **k: PooledPixels())
    monkeypatch.setattr(runner, "_identity_l1", interrupted_in_the_second)
    opts = runner.EvalOptions(
        checkpoint=(str(first), str(second)), data=str(tmp_path / "data"), save_images=str(saved), progress=False
    )
    with pytest.raises(KeyboardInterrupt):
        runner.evaluate_checkpoints(opts)
    assert not saved.exists()
    monkeypatch.setattr(runner, "_identity_l1", real_identity)
    assert len(runner.evaluate_checkpoints(opts)) == 2  # the same command again: not stopped at "exists"
    assert sorted(p.name for p in saved.iterdir()) == ["00_step7", "01_step7"]


def test_one_checkpoint_is_read_once(tmp_path, monkeypatch):
    """The checkpoint was read and its generators built twice, up front (to refuse a bad one before any work) and
    again to score it: for one checkpoint, twice the loading of a large file for nothing."""
    from cyclegan.evaluate import runner

    ckpt = save_tiny_checkpoint(tmp_path / "tiny.pt")
    write_split(tmp_path / "data", 2, paired=True)
    real_load, reads = runner.load_file, []
    monkeypatch.setattr(runner, "load_file", lambda path: reads.append(path) or real_load(path))
    monkeypatch.setattr(runner, "load_backbone", lambda *a, **k: PooledPixels())
    opts = runner.EvalOptions(checkpoint=(str(ckpt),), data=str(tmp_path / "data"), kid_subsets=2, progress=False)
    assert runner.evaluate_checkpoints(opts)[0]["step"] == 7
    assert reads == [ckpt]


@pytest.mark.parametrize("save", [False, True])
def test_saving_the_images_reads_no_checkpoint_once_more(tmp_path, monkeypatch, save):
    """--save-images with --direction both read every checkpoint once more, to plan the directions whose images it
    writes: two reads of one checkpoint, five of two. Planning's read is now the work's."""
    from cyclegan.evaluate import runner

    ckpts = [save_tiny_checkpoint(tmp_path / "a.pt"), save_tiny_checkpoint(tmp_path / "b.pt")]
    write_split(tmp_path / "data", 2, paired=True)
    real_load, reads = runner.load_file, []
    monkeypatch.setattr(runner, "load_file", lambda path: reads.append(path) or real_load(path))
    monkeypatch.setattr(runner, "load_backbone", lambda *a, **k: PooledPixels())
    kw = {"save_images": str(tmp_path / "saved")} if save else {}
    opts = runner.EvalOptions(checkpoint=(str(ckpts[0]),), data=str(tmp_path / "data"), kid_subsets=2, **kw)
    assert runner.evaluate_checkpoints(dataclasses.replace(opts, progress=False))[0]["step"] == 7
    assert reads == ckpts[:1]
    reads.clear()
    both = dataclasses.replace(opts, checkpoint=tuple(map(str, ckpts)), progress=False, overwrite=True)
    assert len(runner.evaluate_checkpoints(both)) == 2
    assert reads == [ckpts[0], ckpts[1], ckpts[1]]  # each up front (a bad one named before any work), b again
    assert (tmp_path / "saved" / "01_step7" / "BtoA_grid.png").is_file() == save


def test_a_split_that_is_no_split_folder_is_refused_not_read_as_pairs(tmp_path, monkeypatch):
    """`--split testA` (a domain's folder) was read as a folder of A|B pairs, each image halved into a source and
    its truth; `--split .` or `--split ''` read the whole dataset so; each scored without a word."""
    from cyclegan.evaluate import runner

    write_split(tmp_path / "data", 2, paired=True)
    ckpt = save_tiny_checkpoint(tmp_path / "tiny.pt")
    monkeypatch.setattr(runner, "load_backbone", lambda *a, **k: PooledPixels())
    opts = runner.EvalOptions(checkpoint=(str(ckpt),), data=str(tmp_path / "data"), kid_subsets=2, progress=False)
    for split, said in [
        ("testA", "option '--split' testA names a domain's folder, not a split: give --split test"),
        ("testB", "option '--split' testB names a domain's folder, not a split: give --split test"),
        (".", "option '--split' '.' names no folder under --data ROOT"),
        ("../data/test", "option '--split' '../data/test' names no folder under --data ROOT"),
        ("", "option '--split'"),
    ]:
        with pytest.raises(CycleGANError, match=re.escape(said)):
            runner.evaluate(dataclasses.replace(opts, split=split))


@pytest.mark.parametrize("paired", [False, True])
def test_a_limit_scores_that_many_readable_images(tmp_path, paired):
    """`--limit N` took the first N files, then left the unreadable ones out: fewer than N were scored (with
    `--limit 2` and a damaged first file, one, and FD/KID refused). Now the next files stand in for those left out
    (in a paired split the next pair, so that each keeps its truth), and the ones left out are named."""
    from cyclegan.evaluate import runner

    write_split(tmp_path / "data", 4, paired=paired)
    bad = tmp_path / "data" / "testA" / ("scene_00.png" if paired else "a_00.png")
    bad.write_text("not an image")
    opts = runner.EvalOptions(
        checkpoint=(str(save_tiny_checkpoint(tmp_path / "tiny.pt")),), data=str(tmp_path / "data"), limit=2
    )
    report = runner.evaluate(dataclasses.replace(opts, progress=False, kid_subsets=2))
    scored = report["directions"]["AtoB"]
    assert (scored["n_source"], scored["n_target"]) == (2, 2)
    assert scored.get("n_pairs", 0) == (2 if paired else 0)  # the pairs kept their truth
    assert any(str(bad) in line for line in report["skipped"])
    bad.with_name("other.png").write_text("not an image either")  # the whole folder tried before "no image"
    for p in (tmp_path / "data" / "testA").iterdir():
        p.write_text("not an image")
    with pytest.raises(CycleGANError, match=r"no image of --data testA folder could be read"):
        runner.evaluate(dataclasses.replace(opts, progress=False))
    folders = {"domain_a": str(tmp_path / "data" / "testA"), "domain_b": str(tmp_path / "data" / "testB")}
    with pytest.raises(CycleGANError, match=r"no image of --domain-a folder could be read"):  # named as given
        runner.evaluate(dataclasses.replace(opts, data=None, progress=False, **folders))


def test_a_limit_s_stand_in_is_not_saved_over_an_existing_image(tmp_path):
    """`--save-images --limit 2` with a damaged first file: the outputs were checked before the stand-ins were
    picked, so a file of the stand-in's name already in the folder was written over without --overwrite. Now it
    is refused like any other output that exists, and kept."""
    from cyclegan.evaluate import runner

    write_split(tmp_path / "data", 4, paired=False)
    (tmp_path / "data" / "testA" / "a_00.png").write_text("not an image")
    saved = tmp_path / "saved"
    (saved / "AtoB").mkdir(parents=True)
    (saved / "AtoB" / "a_02.png").write_bytes(b"an earlier image")  # a_02 stands in for a_00
    opts = runner.EvalOptions(
        checkpoint=(str(save_tiny_checkpoint(tmp_path / "tiny.pt")),),
        data=str(tmp_path / "data"),
        limit=2,
        direction="AtoB",
        save_images=str(saved),
        progress=False,
        kid_subsets=2,
    )
    with pytest.raises(CycleGANError, match=r"a_02.png already exists: pass --overwrite"):
        runner.evaluate_checkpoints(opts)
    assert (saved / "AtoB" / "a_02.png").read_bytes() == b"an earlier image"
    assert not (saved / "AtoB" / "a_01.png").exists()  # refused before any work
    runner.evaluate_checkpoints(dataclasses.replace(opts, overwrite=True))  # asked for: replaced
    assert sorted(p.name for p in (saved / "AtoB").iterdir()) == ["a_01.png", "a_02.png"]


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks")
def test_a_split_whose_two_domains_are_one_folder_through_a_link_is_refused(tmp_path):
    """testA a link to testB scored each set against itself (FD 0 before translation, every image its own truth)
    without a word; training refuses such a dataset, and evaluate now does too, before any work."""
    import shutil

    from cyclegan.evaluate import runner

    write_split(tmp_path / "data", 2, paired=True)
    shutil.rmtree(tmp_path / "data" / "testA")
    (tmp_path / "data" / "testA").symlink_to("testB", target_is_directory=True)
    opts = runner.EvalOptions(checkpoint=(str(save_tiny_checkpoint(tmp_path / "t.pt")),), data=str(tmp_path / "data"))
    with pytest.raises(CycleGANError, match=r"testB is the same folder as .*testA \(through a link\): .* separate"):
        runner.evaluate(dataclasses.replace(opts, progress=False))


def test_a_test_split_whose_two_domains_are_copies_is_refused(tmp_path):
    """testB made with `cp -r testA testB` scored each set against itself without a word, as a link did before it
    was refused; the copy is found by its files' bytes, before any work."""
    import shutil

    from cyclegan.evaluate import runner

    write_split(tmp_path / "data", 2, paired=True)
    shutil.rmtree(tmp_path / "data" / "testB")
    shutil.copytree(tmp_path / "data" / "testA", tmp_path / "data" / "testB")
    opts = runner.EvalOptions(checkpoint=(str(save_tiny_checkpoint(tmp_path / "t.pt")),), data=str(tmp_path / "data"))
    with pytest.raises(CycleGANError, match=r"2 of .*testB's 2 images are copies of .*testA's .*scored against itself"):
        runner.evaluate(dataclasses.replace(opts, progress=False))


def test_the_metrics_refuse_what_they_cannot_score_as_the_packages_api_does():
    """`psnr(a, b)` of two shapes raised a bare ValueError: a caller that catches CycleGANError, the one exception
    the package's API raises for a bad argument (`translate` does), let it through as a traceback."""
    from cyclegan.evaluate.distances import feature_distances
    from cyclegan.evaluate.video import score_clip, temporal_error

    a = torch.zeros(1, 3, 8, 8)
    for call in (
        lambda: psnr(a, a[:, :, :4]),
        lambda: ssim(a[:, :, :2, :2], a[:, :, :2, :2]),
        lambda: l1(a, a, value_range=(1.0, 1.0)),
        lambda: feature_distances(torch.zeros(3, 4), torch.zeros(3, 5)),
        lambda: score_clip(np.zeros((2, 8, 8, 3), np.uint8), np.zeros((2, 8, 4, 3), np.uint8), [(0, 0, 1)] * 2),
        lambda: score_clip(np.zeros((3, 8, 8, 3), np.uint8), np.zeros((3, 8, 8, 3), np.uint8), [(0, 0, 1)] * 2),
        lambda: score_clip(np.zeros((3, 8, 8, 3), np.uint8), np.zeros((3, 8, 8, 3), np.uint8), [(0, 0, 1)] * 4),
        lambda: temporal_error(np.zeros((3, 8, 8, 3), np.uint8), [(0, 0, 1)] * 2),
    ):
        with pytest.raises(CycleGANError) as caught:
            call()
        assert isinstance(caught.value, ValueError)  # what callers caught before


def test_kid_of_a_set_with_itself_is_the_negative_its_docstring_gives():
    """The docstring called KID of a set with itself "slightly negative": with both sets whole it is exactly
    -2 (mean k(x, x) - mean k(x, x')) / m, -1.8 here for 4 features, far beyond KID between two other sets."""
    from cyclegan.evaluate.distances import feature_distances

    f = torch.randn(4, 64, generator=torch.Generator().manual_seed(0)).abs().double()
    k = (f @ f.T / f.shape[1] + 1) ** 3  # torchmetrics' polynomial kernel, degree 3, gamma 1 / D, coef 1
    diagonal, off = k.diagonal().mean(), (k.sum() - k.diagonal().sum()) / (4 * 3)
    assert feature_distances(f, f).kid == pytest.approx(float(-2 * (diagonal - off) / 4), rel=1e-9)
    assert feature_distances(f, f).kid < -1.0


def test_checkpoints_evaluated_at_different_sizes_are_said_not_comparable(tmp_path, capsys, monkeypatch):
    """`evaluate --checkpoint G.pth RUN` scored the plain file at 256 px and the run at its 32, and the curve set their
    FD and KID side by side without a word: figures of images at two sizes, not comparable."""
    from cyclegan.config import resolve
    from cyclegan.evaluate import runner
    from cyclegan.models import build_generator

    ckpt = save_tiny_checkpoint(tmp_path / "tiny.pt")
    torch.manual_seed(0)
    torch.save(build_generator(resolve({"ngf": 8, "n_blocks": 1}).model).state_dict(), tmp_path / "g.pth")
    write_split(tmp_path / "data", 2, paired=True)
    monkeypatch.setattr(runner, "load_backbone", lambda *a, **k: PooledPixels())
    opts = runner.EvalOptions(
        checkpoint=(str(tmp_path / "g.pth"), str(ckpt)), data=str(tmp_path / "data"), direction="AtoB", progress=False
    )
    assert [r["eval_size"] for r in runner.evaluate_checkpoints(opts)] == [256, 32]
    err = capsys.readouterr().err
    assert (
        f"warning: the checkpoints are evaluated at different sizes ({tmp_path / 'g.pth'} at 256 px, {ckpt} at 32"
        in err
    )
    assert err.rstrip().endswith("their figures are not comparable; give --size N")
    assert [r["eval_size"] for r in runner.evaluate_checkpoints(dataclasses.replace(opts, size=32))] == [32, 32]
    assert "different sizes" not in capsys.readouterr().err


def test_the_curve_shows_a_dash_where_a_checkpoint_has_no_cycle_or_no_step():
    """A CUT run or a plain generator file has no way back: the curve printed "nan" as its cycle PSNR (what a
    generator that outputs NaN shows) where the table prints "-", and "None" as a plain file's step."""
    from cyclegan.report import format_curve

    row = {"fd_lite0": 1.0, "kid_lite0": 0.5, "kid_lite0_std": 0.0, "kid_subsets": 1}
    plain = {"backbone": "lite0", "step": None, "directions": {"AtoB": row}, "checkpoint": "g.pth"}
    nan = {
        "backbone": "lite0",
        "step": 4,
        "directions": {"AtoB": {**row, "cycle_psnr": math.nan}},
        "checkpoint": "n.pt",
    }
    lines = format_curve([plain, nan]).splitlines()
    assert lines[1].split() == ["-", "1.00", "0.5000", "-", "g.pth"]
    assert lines[2].split() == ["4", "1.00", "0.5000", "nan", "n.pt"]  # a NaN figure stays one


def test_the_curve_shows_the_truth_psnr_where_a_checkpoint_has_one():
    """A pix2pix run's milestones: the curve showed FD, KID and a column of "-" for the cycle it has not, but not the
    PSNR against the truth that its best.pt was chosen by (and that the tables above it give)."""
    from cyclegan.report import format_curve

    row = {"fd_lite0": 1.0, "kid_lite0": 0.5, "kid_lite0_std": 0.0, "kid_subsets": 1}
    paired = {"backbone": "lite0", "step": 4, "directions": {"BtoA": {**row, "truth_psnr": 21.5}}, "checkpoint": "p"}
    unpaired = {"backbone": "lite0", "step": 8, "directions": {"BtoA": row}, "checkpoint": "u"}
    lines = format_curve([paired, unpaired]).splitlines()
    assert lines[0].split()[-3:] == ["truth", "PSNR", "checkpoint"]
    assert lines[1].split() == ["4", "1.00", "0.5000", "-", "21.50", "p"]
    assert lines[2].split() == ["8", "1.00", "0.5000", "-", "-", "u"]
    assert "truth" not in format_curve([unpaired]).splitlines()[0]  # no column where no checkpoint has the truth


def test_which_is_better_says_when_it_compares_by_another_score_than_chose_best():
    """best.pt chosen by --eval-every's kid (over Lite0 features), scored with --backbone inception: "best.pt is
    better by kid" read as the score that chose it; chosen by psnr, on a split without truth: "by kid_lite0",
    without a word that psnr chose it."""
    from cyclegan.evaluate.best import which_is_better

    def reports(backbone, key, chosen_by):
        last, best = ({"truth_ssim": 0.5, key: value} for value in (0.2, 0.1))
        return [
            {"checkpoint": "run/checkpoint.pt", "step": 6, "backbone": backbone, "directions": {"AtoB": last}},
            {"checkpoint": "run/best.pt", "step": 2, "backbone": backbone, "directions": {"AtoB": best}}
            | {"chosen_by": chosen_by},
        ]

    (line,) = which_is_better(reports("inception", "kid", "kid"))
    assert line.startswith("run: best.pt is better by kid (AtoB only, lower is better)")
    assert line.endswith(
        "; best.pt was chosen by --eval-every's kid (over Lite0 features), which this evaluation does not give"
    )
    (line,) = which_is_better(reports("lite0", "kid_lite0", "psnr"))
    assert line.endswith("; best.pt was chosen by --eval-every's psnr, which this evaluation does not give")
    (line,) = which_is_better(reports("lite0", "kid_lite0", "kid"))  # the score that chose it: nothing to add
    assert line.endswith("checkpoint.pt (step 6) 0.2000")


def test_which_is_better_of_a_best_chosen_by_kid_on_one_pair_compares_by_psnr():
    """A run whose best.pt was chosen by kid, evaluated on a paired split of one image (FD and KID left out, NaN in
    the report, null in --out): no line said which checkpoint was better. Now by truth_psnr, saying why."""
    from cyclegan.evaluate.best import which_is_better

    def reports(kid):
        last, best = ({"kid_lite0": kid, "truth_psnr": value} for value in (20.0, 21.0))
        note = {"fd_kid_note": "FD and KID left out (null): ..."} if kid is None or math.isnan(kid) else {}
        return [
            {"checkpoint": "run/checkpoint.pt", "step": 6, "backbone": "lite0", "directions": {"AtoB": last}},
            {"checkpoint": "run/best.pt", "step": 2, "backbone": "lite0", "directions": {"AtoB": best}}
            | {"chosen_by": "kid", **note},
        ]

    for left_out in (math.nan, None):  # as the command holds it, as --out's JSON gives it back
        (line,) = which_is_better(reports(left_out))
        assert line.startswith("run: best.pt is better by truth_psnr (AtoB only, higher is better)")
        assert line.endswith("which this evaluation does not give (FD and KID left out: one image a domain)")
    (line,) = which_is_better(reports(0.5))  # kid given: compared by it
    assert line.startswith("run: score the same by kid_lite0") and "does not give" not in line
    nan_run = reports(math.nan)
    for r in nan_run:
        r["directions"]["AtoB"]["truth_psnr"] = math.nan
    (line,) = which_is_better(nan_run)
    assert (
        line
        == "run: best.pt and checkpoint.pt not compared: neither gives a finite kid nor another score to compare by"
    )


def test_translations_that_are_not_finite_are_named_not_left_to_onemkl(tmp_path, capfd, monkeypatch):
    """A generator that outputs NaN: the table was all nan, the only word on stderr oneMKL's "Parameter 3 was
    incorrect on entry to DGEBAL" from the Fréchet distance's eigenvalues."""
    from cyclegan.evaluate import runner

    ckpt = save_tiny_checkpoint(tmp_path / "tiny.pt")
    write_split(tmp_path / "data", 3, paired=True)
    monkeypatch.setattr(runner, "load_backbone", lambda *a, **k: PooledPixels())
    monkeypatch.setattr(runner, "translate_tensor", lambda net, x: torch.full_like(x, math.nan))
    opts = runner.EvalOptions(checkpoint=(str(ckpt),), data=str(tmp_path / "data"), direction="AtoB", progress=False)
    row = runner.evaluate(opts)["directions"]["AtoB"]
    assert math.isnan(row["fd_lite0"]) and math.isnan(row["kid_lite0"]) and math.isfinite(row["fd_lite0_untranslated"])
    out, err = capfd.readouterr()
    assert "MKL" not in out + err
    assert (
        f"warning: {ckpt}: 3 of 3 AtoB translations hold NaN or infinite values: its fd_lite0 and kid_lite0 are" in err
    )
    # not FD and KID alone: the cycle's and the truth's means are nan too, which the warning named none of
    assert math.isnan(row["cycle_psnr"]) and math.isnan(row["truth_psnr"])
    assert "nor is any mean over those translations (the cycle's, the truth's: null in --out)" in err


def test_a_way_back_that_is_not_finite_is_named_by_its_own_direction(tmp_path, capfd, monkeypatch):
    """A generator whose BtoA output is NaN made the AtoB row's cycle figures nan (A -> B -> A comes back through
    BtoA) without a word: the warning of non-finite translations names only a direction's own. Now a line names
    the way back."""
    from cyclegan.evaluate import runner

    ckpt = save_tiny_checkpoint(tmp_path / "tiny.pt")
    write_split(tmp_path / "data", 3, paired=True)
    monkeypatch.setattr(runner, "load_backbone", lambda *a, **k: PooledPixels())
    there: list[torch.nn.Module] = []  # the first generator called is AtoB's; the other, its way back, gives NaN
    real = runner.translate_tensor

    def translate(net, x):
        there.append(there[0] if there else net)
        return real(net, x) if net is there[0] else torch.full_like(x, math.nan)

    monkeypatch.setattr(runner, "translate_tensor", translate)
    opts = runner.EvalOptions(checkpoint=(str(ckpt),), data=str(tmp_path / "data"), direction="AtoB", progress=False)
    row = runner.evaluate(opts)["directions"]["AtoB"]
    assert math.isfinite(row["fd_lite0"]) and math.isfinite(row["truth_psnr"]) and math.isnan(row["cycle_psnr"])
    err = capfd.readouterr().err
    assert f"warning: {ckpt}: 3 of 3 AtoB translations come back through BtoA holding NaN or infinite values" in err
    assert "hold NaN" not in err  # the AtoB translations themselves are sound


def _inception_options(tmp_path: Path, weights: Path | None, *, paired: bool):
    """`evaluate --backbone inception` of a tiny checkpoint on a split of 2 images, with `weights` as its
    --inception-weights (None: not given)."""
    from cyclegan.evaluate import runner

    ckpt, data = tiny_evaluation(tmp_path, paired=paired)
    return runner.EvalOptions(
        checkpoint=(str(ckpt),),
        data=str(data),
        backbone="inception",
        inception_weights=None if weights is None else str(weights),
        progress=False,
    )


def test_a_missing_inception_weights_file_is_named_before_the_images_are_read(tmp_path, monkeypatch):
    """`--backbone inception` without the weights file: the line asking for it came after every test image had
    been decoded and every checkpoint read (minutes on a large split)."""
    from cyclegan.evaluate import runner

    monkeypatch.delenv("CYCLEGAN_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(runner, "_drop_bad_images", lambda *a, **k: pytest.fail("the images were read"))
    opts = _inception_options(tmp_path, None, paired=True)
    with pytest.raises(CycleGANError, match="the inception backbone needs the FID Inception weights"):
        runner.evaluate_checkpoints(opts)
    with pytest.raises(CycleGANError, match=r"--inception-weights .*missing.pth: no such file"):
        runner.evaluate_checkpoints(dataclasses.replace(opts, inception_weights=str(tmp_path / "missing.pth")))


def test_inception_weights_of_another_network_are_refused_before_the_images_are_read(tmp_path, monkeypatch):
    """A `--inception-weights` file that is not the FID Inception (another network's, damaged) was refused only
    after every test image had been decoded and every checkpoint read (minutes on a large split)."""
    from cyclegan.evaluate import runner

    other = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(3)}, other)
    monkeypatch.setattr(runner, "check_images", lambda *a, **k: pytest.fail("the images were read"))
    opts = _inception_options(tmp_path, other, paired=True)
    with pytest.raises(CycleGANError, match="other.pth do not fit the FID Inception"):
        runner.evaluate_checkpoints(opts)


def test_save_images_of_a_one_sided_cut_run_plans_its_one_direction(tmp_path, capsys, monkeypatch):
    """`evaluate --save-images DIR` of a CUT run (AtoB only) planned the images of both directions: an earlier
    CycleGAN evaluation's DIR/BtoA images, which this one never writes, were refused as outputs that exist
    (a hostile probe). Only AtoB is planned now, and the BtoA images are named as an earlier evaluation's."""
    from cyclegan.config import resolve
    from cyclegan.evaluate import runner
    from cyclegan.models import build_networks
    from cyclegan.run_files import FORMAT

    cfg = resolve({"family": "cut", "ngf": 8, "ndf": 8, "n_blocks": 1, "size": 32})
    cut = tmp_path / "cut.pt"
    models = {k: m.state_dict() for k, m in build_networks(cfg).items()}
    torch.save({"format": FORMAT, "config": cfg.to_dict(), "step": 3, "models": models}, cut)
    write_split(tmp_path / "data", 2, paired=True)
    saved = tmp_path / "saved"
    (saved / "BtoA").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(saved / "BtoA" / "scene_00.png")  # an earlier CycleGAN's translation
    monkeypatch.setattr(runner, "load_backbone", lambda *a, **k: pytest.fail("the work started"))
    opts = runner.EvalOptions(checkpoint=(str(cut),), data=str(tmp_path / "data"), save_images=str(saved))
    with pytest.raises(pytest.fail.Exception, match="the work started"):
        runner.evaluate_checkpoints(opts)
    with pytest.raises(pytest.fail.Exception, match="the work started"):
        runner.evaluate_checkpoints(dataclasses.replace(opts, overwrite=True, progress=False))
    assert f"warning: {saved / 'BtoA'} holds 1 image this evaluation does not write" in capsys.readouterr().err


def test_inception_weights_other_than_the_published_file_are_named(tmp_path, inception_file, capsys, monkeypatch):
    """Inception weights of the right layout but other values (random here, as a fine-tuned or wrong file would be)
    gave figures labelled fid and kid without a word (a hostile probe). The file's SHA-256 is checked against the
    published file's (6726825d..., in its name) and a warning says the figures compare only with this file's."""
    import hashlib

    from cyclegan.evaluate import features, runner

    monkeypatch.setattr(runner, "_drop_bad_images", lambda *a, **k: pytest.fail("the work started"))
    opts = _inception_options(tmp_path, inception_file, paired=False)
    with pytest.raises(pytest.fail.Exception, match="the work started"):
        runner.evaluate_checkpoints(opts)
    err = capsys.readouterr().err
    assert (
        err.startswith(f"warning: Inception weights {inception_file} are not the published ") and err.count("\n") == 1
    )
    assert "not 6726825d...): their fid and kid compare only with figures from this file" in err
    real = hashlib.sha256(inception_file.read_bytes()).hexdigest()[:8]  # as if it were the published file
    monkeypatch.setattr(features, "FID_WEIGHTS_SHA256", real)
    with pytest.raises(pytest.fail.Exception, match="the work started"):
        runner.evaluate_checkpoints(opts)
    assert capsys.readouterr().err == ""


def test_the_fd_of_a_set_with_itself_is_never_below_0():
    """FD is a squared distance, yet a set against itself came out at -1e-6 to -1e-13 (rounding in the matrix
    square root), which the report printed as "-0.00" (a hostile probe: testB a copy of testA)."""
    from cyclegan.evaluate.distances import feature_distances

    for seed in range(6):
        x = torch.rand(3, 1280, generator=torch.Generator().manual_seed(seed))
        fd = feature_distances(x, x).fd
        assert 0.0 <= fd < 1e-5, (seed, fd)


def test_saved_images_of_two_test_images_of_a_251_byte_name_stay_within_255_bytes(tmp_path, monkeypatch):
    """Two test images of one 251-byte stem (in two sub-folders): --save-images named the second STEM-2.png, 257
    bytes, and refused the evaluation as a name too long; the stem's end is cut as translate and compare cut it."""
    from cyclegan.evaluate import runner

    ckpt = save_tiny_checkpoint(tmp_path / "tiny.pt")
    write_split(tmp_path / "data", 2, paired=False)
    stem = "é" * 125 + "x"  # 251 bytes
    for sub in ("x", "y"):
        (tmp_path / "data" / "testA" / sub).mkdir()
        Image.new("RGB", (40, 40), (90, 140, 60)).save(tmp_path / "data" / "testA" / sub / f"{stem}.png")
    saved = tmp_path / "saved"
    monkeypatch.setattr(runner, "load_backbone", lambda *a, **k: pytest.fail("the work started"))
    opts = runner.EvalOptions(checkpoint=(str(ckpt),), data=str(tmp_path / "data"), save_images=str(saved))
    with pytest.raises(pytest.fail.Exception, match="the work started"):  # planned, and checked, without a refusal
        runner.evaluate_checkpoints(dataclasses.replace(opts, progress=False))
    names = runner._saved_names(["AtoB"], {"A": sorted((tmp_path / "data" / "testA").rglob(f"{stem}.png"))})
    assert [p.name for p in names] == ["AtoB_grid.png", f"{stem}.png", f"{stem[:-2]}-2.png"]  # 254 bytes: é is 2


def test_an_fd_above_its_value_before_translation_is_explained_under_the_table():
    """A 500-step demo on a busy machine, then `evaluate`, showed fd_lite0 higher after translation than before,
    with nothing said: a newcomer read the translation as failed. The figures stay; a note under the table says
    what they mean at that budget, and names the step. Nothing is said where FD fell."""
    from cyclegan.report import format_table

    def report(after: float) -> dict:
        row = {"fd_lite0": after, "fd_lite0_untranslated": 140.25, "kid_lite0": 0.01, "kid_lite0_std": 0.0}
        row |= {"kid_subsets": 1, "kid_subset_size": 40, "n_pairs": 40, "n_target": 40, "truth_psnr": 21.0}
        head = {"checkpoint": "runs/demo/checkpoint.pt", "step": 500, "preset": "fast", "train_size": 64}
        more = {"eval_size": 64, "data": "runs/demo/data", "split": "test", "backbone": "lite0", "backbone_note": ""}
        return {**head, **more, "directions": {"AtoB": row, "BtoA": {**row, "fd_lite0": 120.5}}}

    lines = format_table(report(156.75)).splitlines()
    assert next(line for line in lines if line.startswith("fd_lite0 ")).split()[1:3] == ["156.75", "120.50"]
    note = [line for line in lines if line.startswith("note:")]
    assert len(note) == 1 and "(AtoB 156.75 against 140.25)" in note[0] and "BtoA" not in note[0]
    assert "step 500" in note[0] and "truth rows" in note[0]
    assert not any(line.startswith("note:") for line in format_table(report(130.0)).splitlines())


@pytest.mark.parametrize("name", ["eval.json/", "results/"])
def test_an_out_ending_in_a_slash_is_refused_before_the_work(tmp_path, monkeypatch, capsys, name):
    """`evaluate --out eval.json/` wrote the file eval.json (Path drops the slash) and `--out results/` a file named
    results, after the whole evaluation: refused up front, as stylize and export refuse theirs."""
    from cyclegan.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", "--checkpoint", "run", "--data", "data", "--out", name]) == 2
    meant = "eval.json, or eval.json/eval.json" if name == "eval.json/" else "results/eval.json"
    said = "give the file to write" + ("" if name == "eval.json/" else " in it")
    assert capsys.readouterr().err == f"error: option '--out' {name} names a folder: {said} (e.g. {meant})\n"
    assert list(tmp_path.iterdir()) == []
