import io
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cyclegan.cli import main
from cyclegan.config import resolve
from cyclegan.errors import CycleGANError
from cyclegan.inference import translate, translate_tensor
from cyclegan.loading import load_generator
from cyclegan.models import build_generator
from cyclegan.models.layers import pad_to_multiple
from helpers import joined, save_tiny_checkpoint, tiny_published_generator
from reference_nets import ref_resnet, ref_unet


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """An untrained tiny paper-preset checkpoint (no training: cheap)."""
    return save_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "g.pt")


def translate_cli(ckpt, out, *inputs, extra=()) -> int:
    return main(["translate", "--checkpoint", str(ckpt), "--out", str(out), "--no-progress", *extra, *map(str, inputs)])


@pytest.mark.parametrize("hw", [(97, 61), (61, 97), (5, 3), (1, 1), (64, 64), (33, 250)])
def test_any_size_comes_back_at_its_size(hw):
    torch.manual_seed(0)
    for preset in ("paper", "seed"):
        G = build_generator(resolve({"preset": preset, "ngf": 4, "n_blocks": 1}).model).eval()
        x = torch.rand(2, 3, *hw) * 2 - 1
        assert translate_tensor(G, x).shape == x.shape


def test_padding_reaches_the_multiple_and_keeps_content():
    x = torch.rand(1, 3, 97, 61)
    padded, (h, w) = pad_to_multiple(x, 4)
    assert padded.shape[-2:] == (100, 64) and (h, w) == (97, 61)
    assert torch.equal(padded[..., :97, :61], x)


def test_tensor_and_pil_apis_agree(run):
    G = load_generator(run, "AtoB")
    im = Image.fromarray(np.random.default_rng(0).integers(0, 255, (61, 97, 3), np.uint8))
    out = translate(G, im)
    assert isinstance(out, Image.Image) and out.size == (97, 61)
    x = torch.from_numpy(np.array(im)).permute(2, 0, 1).float() / 127.5 - 1
    y = translate(G, x)
    assert y.shape == x.shape
    expected = ((y.clamp(-1, 1) + 1) / 2 * 255).round().byte().permute(1, 2, 0).numpy()
    assert np.abs(np.asarray(out).astype(int) - expected).max() <= 1
    assert translate(G, [im, im])[1].size == (97, 61)
    assert translate(G, im, size=50).size == (50, 31)  # --size: the long side


def test_the_api_takes_a_path_and_refuses_what_it_cannot_translate_in_one_line(run, tmp_path):
    """`translate(G, "horse.jpg")` raised AttributeError: 'str' object has no attribute 'mode'; size=0 was
    ignored, and a 1-channel tensor failed deep in a conv (a user's probe)."""
    from cyclegan.errors import CycleGANError

    G = load_generator(run, "AtoB")
    im = Image.fromarray(np.random.default_rng(0).integers(0, 255, (61, 97, 3), np.uint8))
    im.save(tmp_path / "horse.png")
    assert np.array_equal(np.asarray(translate(G, str(tmp_path / "horse.png"))), np.asarray(translate(G, im)))
    assert translate(G, tmp_path / "horse.png", size=50).size == (50, 31)
    with pytest.raises(CycleGANError, match="size must be a positive number"):
        translate(G, im, size=0)
    for size in (True, 64.5, "64"):  # True was "size True is under the smallest side", 64.5 was taken
        with pytest.raises(CycleGANError, match=r"^size must be a whole number of pixels \(the long side\), got "):
            translate(G, im, size=size)
    with pytest.raises(CycleGANError, match=r"expected a tensor \(3, H, W\) .* got \(1, 1, 8, 8\)"):
        translate(G, torch.zeros(1, 1, 8, 8))


def test_the_api_refuses_tensors_and_objects_it_would_misread_in_one_line(run):
    """An int64 or uint16 tensor of pixel values was read as [-1, 1] (a saturated result, no word); `size`
    with a tensor was ignored; an empty side, a numpy array, None or a list of tensors failed deep inside
    (RuntimeError, AttributeError, TypeError)."""
    from cyclegan.errors import CycleGANError

    G = load_generator(run, "AtoB")
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    for bad, match in [
        ((x * 127).long(), "expected a float tensor in \\[-1, 1\\] or uint8 .* got torch.int64"),
        (torch.zeros(1, 3, 0, 5), "empty side"),
        (np.zeros((16, 16, 3), np.uint8), "images: expected a PIL image, a path, .* got ndarray"),
        (None, "got NoneType"),
        ([x[0]], r"images\[0\]: expected a PIL image or a path, got Tensor .*: give torch.stack\(images\)$"),
        (
            x.to_sparse(),
            r"^images: a torch.sparse_coo tensor; give a dense one: x.to_dense\(\)$",
        ),  # NotImplementedError
        ([Image.new("RGB", (0, 0))], r"images\[0\]: an image of 0x0 pixels"),
    ]:
        with pytest.raises(CycleGANError, match=match):
            translate(G, bad)
    with pytest.raises(CycleGANError, match="size resizes PIL images and files, not tensors"):
        translate(G, x, size=32)
    with pytest.raises(CycleGANError, match=r"expected a generator .* got PosixPath; load one first"):
        translate(run, x)  # the run's path where its loaded generator belongs: a TypeError about weak references
    assert translate(G, (x[0] + 1).mul(127.5).round().byte()).dtype == torch.uint8  # uint8 in, uint8 out
    im = Image.new("RGB", (40, 30))  # size=10**6 upscaled it until the process died: held to max_pixels now
    with pytest.raises(CycleGANError, match=r"size 200 would make images\[0\] 200x150 pixels .* over max_pixels 10000"):
        translate(G, im, size=200, max_pixels=10_000)


def test_the_api_refuses_an_animated_gif_as_the_clip_it_is_and_takes_a_still_one(run, tmp_path):
    """`translate(G, "anim.gif")` translated the first frame alone and said nothing, where `cyclegan translate`,
    whose reading the docstring promises, writes the whole animation."""
    from cyclegan.errors import CycleGANError

    G = load_generator(run, "AtoB")
    frames = [Image.new("RGB", (24, 16), (40 * i, 90, 200 - 40 * i)) for i in range(3)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=80)
    frames[0].save(tmp_path / "still.gif")
    with pytest.raises(CycleGANError, match=r"anim.gif is an animated image of 3 frames, .* cyclegan.translate_video"):
        translate(G, tmp_path / "anim.gif")
    assert translate(G, tmp_path / "still.gif").size == (24, 16)

    class Where:  # an os.PathLike that is not a pathlib.Path (a DirEntry, a cloud path) was refused as no image
        def __fspath__(self):
            return str(tmp_path / "still.gif")

    assert translate(G, Where()).size == translate(G, [Where()])[0].size == (24, 16)


def test_a_pil_image_with_exif_orientation_is_translated_upright_as_its_file_is(tiny, tmp_path):
    """A phone photo opened with Image.open (EXIF orientation 6: turn it a quarter) came out lying on its side
    from cyclegan.translate, and upright given as a path (and from stylize either way); the caller's image is
    left as it was."""
    G = load_generator(tiny, "AtoB")
    path = tmp_path / "phone.jpg"
    im = Image.fromarray(np.random.default_rng(0).integers(0, 255, (16, 24, 3), dtype=np.uint8))
    exif = im.getexif()
    exif[0x0112] = 6
    im.save(path, exif=exif)
    opened = Image.open(path)
    assert translate(G, opened).size == translate(G, path).size == (16, 24)
    assert opened.size == (24, 16) and opened.getexif().get(0x0112) == 6


def test_a_pil_image_with_a_colour_key_is_translated_on_white_as_its_file_is(tiny, tmp_path):
    """An RGB PNG whose tRNS chunk makes black transparent reads with white there from a path, but the same image
    opened with Image.open and given to cyclegan.translate was translated with its transparent pixels black."""
    G = load_generator(tiny, "AtoB")
    a = np.zeros((16, 24, 3), dtype=np.uint8)
    a[:, :12] = (200, 40, 40)
    path = tmp_path / "keyed.png"
    Image.fromarray(a).save(path, transparency=(0, 0, 0))
    opened = Image.open(path)
    assert opened.mode == "RGB" and opened.info["transparency"] == (0, 0, 0)
    assert np.array_equal(np.asarray(translate(G, opened)), np.asarray(translate(G, path)))


def test_load_generator_names_its_keyword_not_the_commands_flag(tmp_path):
    """`cyclegan.load_generator(run, "BtoA")` of a one-way run said "use --direction AtoB", a flag a Python caller
    never typed; the commands keep their flag."""
    import cyclegan
    from cyclegan.checkpoint import FORMAT
    from cyclegan.errors import CycleGANError
    from cyclegan.models import build_networks

    cfg = resolve({"family": "pix2pix", "ngf": 4, "ndf": 4, "size": 32})
    models = {k: m.state_dict() for k, m in build_networks(cfg).items()}
    ckpt = tmp_path / "p2p.pt"
    torch.save({"format": FORMAT, "config": cfg.to_dict(), "step": 0, "models": models}, ckpt)
    with pytest.raises(CycleGANError, match=r"translates A to B only; use direction='AtoB'$"):
        cyclegan.load_generator(ckpt, "BtoA")
    with pytest.raises(
        CycleGANError, match=r"holds no averaged weights \(train with --ema-decay\); use ema='off' or 'auto'$"
    ):
        cyclegan.load_generator(ckpt, "AtoB", ema="on")
    with pytest.raises(CycleGANError, match=r"use --direction AtoB$"):
        load_generator(ckpt, "BtoA")  # what the commands and the web page reword for themselves


def test_save_generator_writes_a_fine_tuned_generator_that_load_generator_and_translate_read_back(tiny, tmp_path):
    """A generator fine-tuned from `load_generator` had no way back: `torch.save(G.state_dict())` gave a file
    `load_generator` could not rebuild. `save_generator` writes the generators-only kind (as best.pt), one
    direction, that the API and `cyclegan translate` read without being told the direction."""
    import copy

    import cyclegan
    from cyclegan.errors import CycleGANError

    x = torch.rand(1, 3, 16, 16) * 2 - 1
    for direction in ("AtoB", "BtoA"):
        tuned = copy.deepcopy(cyclegan.load_generator(tiny, direction)).requires_grad_(True)
        with torch.no_grad():
            for p in tuned.parameters():
                p.add_(0.01)  # a fine-tuning step
        path = cyclegan.save_generator(tuned, tmp_path / f"{direction}.pt")
        assert torch.equal(cyclegan.load_generator(path)(x), tuned(x))
        other = "BtoA" if direction == "AtoB" else "AtoB"
        with pytest.raises(CycleGANError, match=f"holds the {direction} generator alone; use direction='{direction}'$"):
            cyclegan.load_generator(path, other)
    assert translate_cli(path, tmp_path / "out", tiny_image(tmp_path)) == 0  # BtoA, its own direction
    with pytest.raises(CycleGANError, match="exists; give another path, or overwrite=True to replace it$"):
        cyclegan.save_generator(tuned, path)
    assert cyclegan.save_generator(tuned, path, overwrite=True) == path
    with pytest.raises(CycleGANError, match="is a training run's resumable checkpoint; save the generator under"):
        cyclegan.save_generator(tuned, tiny, overwrite=True)  # the file it came from: the run's training state
    (tmp_path / "a_file").write_text("")
    with pytest.raises(CycleGANError, match=r"^cannot write .*a_file/g.pt: .*; nothing written$"):
        cyclegan.save_generator(tuned, tmp_path / "a_file" / "g.pt")
    with pytest.raises(CycleGANError, match="got a Conv2d of unknown origin"):
        cyclegan.save_generator(torch.nn.Conv2d(3, 3, 1), tmp_path / "conv.pt")
    tuned.model[1] = torch.nn.Conv2d(3, 8, 3)  # its layers changed: refused before writing
    with pytest.raises(CycleGANError, match="no longer fits the architecture it was loaded with"):
        cyclegan.save_generator(tuned, tmp_path / "changed.pt")
    assert not (tmp_path / "changed.pt").exists()
    for ref in (ref_resnet(), ref_unet()):  # another project's generator: its state dict, read back by shapes
        torch.save(ref.state_dict(), tmp_path / "ref.pth")
        G = cyclegan.load_generator(tmp_path / "ref.pth")
        path = cyclegan.save_generator(G, tmp_path / "ref_saved.pth", overwrite=True)
        assert torch.equal(cyclegan.load_generator(path)(x), G(x))


@pytest.mark.parametrize("value", ["no", "False", 0, 1, None])
def test_save_generator_and_load_generator_refuse_an_on_off_keyword_that_is_not_a_bool(tiny, tmp_path, value):
    """save_generator(G, path, overwrite="no") replaced the existing file at path (a string is truthy), and
    load_generator(..., progress="no") showed a download's progress, where translate_video refuses both."""
    import cyclegan

    G = cyclegan.load_generator(tiny, "AtoB")
    (tmp_path / "mine.pt").write_bytes(b"mine")
    with pytest.raises(CycleGANError, match=rf"^overwrite must be True or False, got {re.escape(repr(value))}$"):
        cyclegan.save_generator(G, tmp_path / "mine.pt", overwrite=value)
    assert (tmp_path / "mine.pt").read_bytes() == b"mine"
    with pytest.raises(CycleGANError, match=rf"^progress must be True or False, got {re.escape(repr(value))}$"):
        cyclegan.load_generator(tiny, "AtoB", progress=value)


def test_translate_computes_in_eval_mode_and_leaves_each_layers_mode_as_it_found_it():
    """A generator left in train mode (fine-tuning) kept a U-Net's dropout on in `translate`: the same image gave
    another result each call; a BatchNorm generator's running statistics moved with every image translated."""
    import cyclegan

    torch.manual_seed(0)
    unet = build_generator(
        resolve({"preset": "paper", "generator": "unet", "ngf": 4, "unet_levels": 7, "dropout": 0.5}).model
    )
    x = torch.rand(1, 3, 128, 128) * 2 - 1
    unet.train()
    assert torch.equal(cyclegan.translate(unet, x), cyclegan.translate(unet, x))
    assert torch.equal(cyclegan.translate(unet, x), unet.eval()(x))
    bn = build_generator(resolve({"preset": "seed", "ngf": 4, "n_blocks": 1}).model).train()
    bn.model[1].eval()  # a mixed mode is put back layer by layer
    before = {k: v.clone() for k, v in bn.state_dict().items()}
    cyclegan.translate(bn, x[..., :32, :32])
    assert all(torch.equal(before[k], v) for k, v in bn.state_dict().items())
    assert bn.training and not bn.model[1].training and all(m.training for m in bn.model[2:])


def tiny_image(folder: Path) -> Path:
    Image.new("RGB", (12, 10), (200, 30, 30)).save(folder / "im.png")
    return folder / "im.png"


def test_the_api_refuses_a_float_tensor_far_outside_minus_one_to_one(tiny):
    """A float tensor of [0, 255] pixel values (or NaN) was translated into saturated noise without a word."""
    from cyclegan.errors import CycleGANError

    G = load_generator(tiny, "AtoB")
    x = torch.rand(2, 3, 16, 16)
    with pytest.raises(CycleGANError, match=r"its values span \[.*, 2.*\]: from \[0, 255\] give x / 127.5 - 1"):
        translate(G, x * 255)
    with pytest.raises(CycleGANError, match="NaN or infinite"):
        translate(G, torch.full((3, 8, 8), float("nan")))
    overshoot = (x * 2.4 - 1.2).clamp(-1.2, 1.2)  # a bicubic resize's overshoot past [-1, 1] is taken
    assert translate(G, overshoot).shape == x.shape and translate(G, x[0].double()).dtype == torch.float32


def test_the_api_reads_a_pil_image_of_any_mode_as_the_same_file_is_read(run, tmp_path):
    """A 16-bit greyscale PIL image went through `im.convert("RGB")`, which clips it to white, and a
    transparent one lost its white background: the same image given as a file came out different."""
    G = load_generator(run, "AtoB")
    grey16 = Image.fromarray(np.linspace(0, 65535, 24 * 32).reshape(24, 32).astype(np.uint16))
    clear = Image.fromarray(np.dstack([np.full((24, 32, 3), 200, np.uint8), np.zeros((24, 32), np.uint8)]), "RGBA")
    for i, im in enumerate([grey16, clear]):
        im.save(tmp_path / f"{i}.png")
        from_file = translate(G, tmp_path / f"{i}.png")
        assert np.array_equal(np.asarray(translate(G, im)), np.asarray(from_file))
        assert np.array_equal(np.asarray(translate(G, [tmp_path / f"{i}.png"])[0]), np.asarray(from_file))


def test_load_generator_keeps_the_callers_random_state_and_refuses_bad_arguments_in_one_line(run):
    """Loading drew the network's initial weights from torch's global generator, so a seeded script's random
    numbers changed once it loaded a model; device="gpu", a missing CUDA and ema=False were tracebacks or
    silently taken."""
    from cyclegan.errors import CycleGANError

    torch.manual_seed(0)
    expected = torch.rand(4)
    torch.manual_seed(0)
    load_generator(run, "AtoB")
    assert torch.equal(torch.rand(4), expected)
    for kwargs, match in [
        ({"device": "gpu"}, "option 'device': unknown device 'gpu'"),
        ({"device": "meta"}, "not a device this program computes on"),
        ({"ema": False}, "ema must be auto, on or off, got False"),
    ]:
        with pytest.raises(CycleGANError, match=match):
            load_generator(run, "AtoB", **kwargs)
    with pytest.raises(CycleGANError, match="path: expected a run folder"):
        load_generator(None)


def test_load_generator_keeps_the_callers_random_state_with_two_threads_loading_at_once(tiny, monkeypatch):
    """Each load put back the global random state it found when it began: a second thread that began while the
    first was building found the first's draws, and put them back after the first had restored the caller's."""
    import threading
    import time

    import cyclegan
    import cyclegan.loading

    built, second_in = threading.Event(), threading.Event()
    real = cyclegan.loading.build_generator

    def build(m):
        net = real(m)  # draws the initial weights from the global generator
        if not built.is_set():  # the first thread: builds, then waits (at most a second) for the second to be in
            built.set()
            second_in.wait(timeout=1)
        else:  # the second: in while the first builds, it ends after the first
            second_in.set()
            while first.is_alive():
                time.sleep(0.01)
        return net

    monkeypatch.setattr(cyclegan.loading, "build_generator", build)
    torch.manual_seed(0)
    expected = torch.rand(4)
    torch.manual_seed(0)
    first = threading.Thread(target=cyclegan.load_generator, args=(tiny,), daemon=True)
    second = threading.Thread(target=cyclegan.load_generator, args=(tiny,), daemon=True)
    first.start()
    assert built.wait(timeout=10)
    second.start()
    joined(first, second)
    assert torch.equal(torch.rand(4), expected)


def test_cli_translates_files_folders_globs_and_reports_broken_ones(run, tmp_path, capsys):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    Image.fromarray(np.full((61, 97), 90, np.uint8), "L").save(src / "grey.png")  # greyscale 97x61
    Image.fromarray(np.zeros((40, 30, 4), np.uint8), "RGBA").save(src / "sub" / "alpha.png")
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(src / "sub" / "grey.jpg")  # same stem as grey.png
    (src / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 nope")
    other = tmp_path / "other"
    other.mkdir()
    for i in range(5):  # same size: batched together
        Image.fromarray(np.full((32, 48, 3), i * 40, np.uint8)).save(other / f"b{i}.bmp")
    out = tmp_path / "out"
    code = main(
        [
            "translate",
            "--checkpoint",
            str(run),
            "--direction",
            "BtoA",
            "--out",
            str(out),
            "--batch-size",
            "2",
            "--no-progress",
            str(src),
            str(other / "*.bmp"),
            str(tmp_path / "missing.png"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "broken.jpg" in err and "missing.png" in err and "2 inputs could not be translated" in err
    assert "Traceback" not in err
    sizes = {p.name: Image.open(p).size for p in out.iterdir()}
    assert sizes["grey.png"] == (97, 61) and sizes["alpha.png"] == (30, 40) and sizes["grey-2.png"] == (20, 20)
    assert all(sizes[f"b{i}.png"] == (48, 32) for i in range(5))
    assert len(sizes) == 8


def test_cli_size_option_and_clean_exit(run, tmp_path, capsys):
    img = tmp_path / "a.png"
    Image.fromarray(np.zeros((60, 120, 3), np.uint8)).save(img)
    assert (
        main(
            [
                "translate",
                "--checkpoint",
                str(run),
                "--out",
                str(tmp_path / "o"),
                "--size",
                "64",
                "--ext",
                "jpg",
                str(img),
            ]
        )
        == 0
    )
    assert Image.open(tmp_path / "o" / "a.jpg").size == (64, 32)


def test_package_level_api_survives_submodule_imports(run):
    import cyclegan
    import cyclegan.compare  # noqa: F401  (imports the inference module and more)
    import cyclegan.inference

    assert cyclegan.translate is cyclegan.inference.translate
    assert cyclegan.load_generator is cyclegan.api.load_generator  # load_generator in a Python caller's words
    G = cyclegan.load_generator(run, "BtoA")
    x = torch.rand(1, 3, 20, 28) * 2 - 1
    assert torch.equal(cyclegan.translate(G, x), translate_tensor(G, x))


def test_the_one_error_of_the_api_is_catchable_from_the_package_itself(tiny):
    """Each function of the Python API refuses bad input with a CycleGANError, which the package did not export
    and README never named: a caller had to find `cyclegan.errors` to catch it."""
    import os
    import subprocess

    import cyclegan
    import cyclegan.errors

    assert cyclegan.CycleGANError is cyclegan.errors.CycleGANError and "CycleGANError" in cyclegan.__all__
    with pytest.raises(cyclegan.CycleGANError, match=r"^direction must be AtoB or BtoA, got 'AB'$"):
        cyclegan.load_generator(tiny, "AB")
    code = "import sys, cyclegan; cyclegan.CycleGANError; print('torch' in sys.modules)"  # torch-free: on use
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "False", proc.stderr


def test_dir_shows_the_public_names_before_their_first_use():
    """`dir(cyclegan)` listed none of load_generator, translate, translate_video (nor `dir(cyclegan.style)`
    its stylize...): they load on first use, so tab completion in a notebook offered nothing."""
    import cyclegan
    import cyclegan.data
    import cyclegan.evaluate
    import cyclegan.style

    for package in (cyclegan, cyclegan.data, cyclegan.evaluate, cyclegan.style):
        assert set(package.__all__) <= set(dir(package)), package.__name__


@pytest.mark.slow
@pytest.mark.parametrize(
    "code",
    [
        "import cyclegan.inference, cyclegan.translation, cyclegan.loading, cyclegan.export, cyclegan.evaluate.runner",
        "from cyclegan.cli import main; main(['translate', '--checkpoint', RUN, '--out', OUT, '--no-progress', IMG])",
    ],
)
def test_inference_never_imports_training(run, tmp_path, code):
    import subprocess
    import sys

    img = tmp_path / "a.png"
    Image.fromarray(np.zeros((20, 24, 3), np.uint8)).save(img)
    check = "import sys; assert not [m for m in sys.modules if m.startswith('cyclegan.train')], 'train imported'"
    script = f"RUN, OUT, IMG = {str(run)!r}, {str(tmp_path / 'o')!r}, {str(img)!r}\n{code}\n{check}"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "train imported" not in done.stderr


@pytest.mark.slow
def test_translating_a_runs_best_pt_never_imports_training(run, tmp_path):
    """`translate --checkpoint RUN/best.pt` notes the step and score best.pt holds: for the score's wording that note
    imported the whole of `cyclegan.train` (its loop, trainers, loader), which translation never loads."""
    import subprocess

    import cyclegan

    best = cyclegan.save_generator(cyclegan.load_generator(run), tmp_path / "best.pt")  # as training keeps it
    torch.save({**torch.load(best, weights_only=True), "best": {"metric": "psnr", "value": 20.0, "step": 2}}, best)
    img = tmp_path / "a.png"
    Image.fromarray(np.zeros((20, 24, 3), np.uint8)).save(img)
    argv = ["translate", "--checkpoint", str(best), "--out", str(tmp_path / "o"), str(img)]
    script = (
        f"import sys\nfrom cyclegan.cli import main\nassert main({argv!r}) == 0\n"
        "print(sorted(m for m in sys.modules if m.startswith('cyclegan.train')))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"note: {best} holds step 2, the best psnr (20.00 dB)\n" in done.stderr  # the note itself was said
    assert done.stdout.splitlines()[-1] == "[]"


def test_options_refuse_bad_values_alike_in_cli_and_api(run, tmp_path, capsys):
    from cyclegan.errors import CycleGANError
    from cyclegan.translation import TranslateOptions

    for flag, value, message in (("--batch-size", "0", "must be positive"), ("--size", "-3", "must be positive")):
        args = ["translate", "--checkpoint", str(run), "--out", str(tmp_path / "o"), flag, value, str(tmp_path)]
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        with pytest.raises(CycleGANError) as e:
            TranslateOptions(
                inputs=(str(tmp_path),),
                checkpoint=str(run),
                out=str(tmp_path / "o"),
                **{flag[2:].replace("-", "_"): int(value)},
            )
        assert err == f"error: {e.value}" and f"option '{flag}' {message}" in err
    assert not (tmp_path / "o").exists()  # refused before any work


@pytest.mark.parametrize(
    "kwargs, flag, said, cli_said",
    [
        ({"tile": 5}, "--tile 5", "tile 5 is under", "option '--tile' 5 is under"),
        (
            {"tile_overlap": -1},
            "--tile-overlap -1",
            "tile_overlap must be >= 0",
            "option '--tile-overlap' must be >= 0",
        ),
        (
            {"tile": 64},
            "--tile 64",
            "tile_overlap 64 (the default) must be less than half of tile 64: give a tile over",
            "option '--tile-overlap' 64 (the default) must be less than half of --tile 64: give a --tile over",
        ),
        (
            {"norm_momentum": 0.5},
            "--norm-momentum 0.5",
            "norm_momentum 0.5 takes effect only with norm_stats shared",
            "option '--norm-momentum' 0.5 takes effect only with --norm-stats shared",
        ),
        (
            {"flow_blend": 1},
            "--flow-blend 1",
            "flow_blend must be >= 0 and < 1",
            "option '--flow-blend' must be >= 0 and < 1",
        ),
    ],
)
def test_tiling_and_temporal_options_built_by_hand_name_their_keywords(
    tiny, tmp_path, capsys, kwargs, flag, said, cli_said
):
    """`translate_video(G, src, dst, tiling=TilingOptions(tile=5))` said "option '--tile' 5 ...", a flag the
    Python caller never typed; the command line keeps its flags."""
    from cyclegan.errors import CycleGANError
    from cyclegan.translate_options import TemporalOptions, TilingOptions

    cls = TilingOptions if {"tile", "tile_overlap"} & set(kwargs) else TemporalOptions
    with pytest.raises(CycleGANError) as e:
        cls(**kwargs)
    assert str(e.value).startswith(said) and "--" not in str(e.value)
    assert translate_cli(tiny, tmp_path / "o", tiny_image(tmp_path), extra=flag.split()) == 2
    assert capsys.readouterr().err.startswith(f"error: {cli_said}")


def test_bf16_translation_matches_fp32(run, tmp_path):
    """`--precision bf16` (the default on CPUs with native bf16) writes nearly the fp32 images."""
    img = tmp_path / "in.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (40, 52, 3), dtype=np.uint8)).save(img)
    outs = {}
    for p in ("fp32", "bf16"):
        args = ["translate", "--checkpoint", str(run), "--out", str(tmp_path / p), "--precision", p, str(img)]
        assert main([*args, "--device", "cpu", "--compile", "off", "--no-progress"]) == 0
        outs[p] = np.asarray(Image.open(tmp_path / p / "in.png")).astype(int)
    diff = np.abs(outs["fp32"] - outs["bf16"])
    assert outs["fp32"].shape == (40, 52, 3) and diff.mean() < 2 and diff.max() <= 16


def test_a_still_gif_is_an_image_written_as_ext_says(tiny, tmp_path, capsys):
    """Before: a one-frame GIF went the clips' way, out as still.gif whatever --ext said, and an unreadable
    image's message listed the formats read without GIF."""
    rng = np.random.default_rng(0)
    (tmp_path / "in").mkdir()
    Image.fromarray(rng.integers(0, 255, (20, 30, 3), np.uint8)).save(tmp_path / "still.gif")
    Image.fromarray(rng.integers(0, 255, (12, 16, 3), np.uint8)).save(tmp_path / "in" / "inner.gif")  # in a folder
    (tmp_path / "broken.gif").write_bytes(b"not an image")
    out = tmp_path / "out"
    assert (
        translate_cli(
            tiny, out, tmp_path / "still.gif", tmp_path / "in", tmp_path / "broken.gif", extra=["--ext", "jpg"]
        )
        == 1
    )
    assert sorted(p.name for p in out.iterdir()) == ["inner.jpg", "still.jpg"]
    with Image.open(out / "still.jpg") as im:
        assert im.format == "JPEG" and im.size == (30, 20)
    err = capsys.readouterr().err
    assert f"cannot read image {tmp_path / 'broken.gif'}: not a JPEG, PNG, BMP, GIF, WebP or TIFF image" in err


@pytest.mark.parametrize(("ext", "settings"), [("jpg", {"quality": 95, "subsampling": 0}), ("webp", {"quality": 95})])
def test_lossy_outputs_are_written_at_a_photo_tools_quality(tiny, tmp_path, ext, settings, capsys):
    """A translation written as JPEG took Pillow's defaults, quality 75 with its colour halved each way (4:2:0), and
    WebP 80: the file is now the lossless translation re-encoded at quality 95 (JPEG: its full colour, 4:4:4)."""
    from PIL import JpegImagePlugin

    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (40, 56, 3), np.uint8)).save(tmp_path / "photo.png")
    assert translate_cli(tiny, tmp_path / "png", tmp_path / "photo.png") == 0
    assert translate_cli(tiny, tmp_path / ext, tmp_path / "photo.png", extra=["--ext", ext]) == 0
    again = io.BytesIO()
    with Image.open(tmp_path / "png" / "photo.png") as lossless:
        lossless.save(again, format=Image.registered_extensions()[f".{ext}"], **settings)
    assert (tmp_path / ext / f"photo.{ext}").read_bytes() == again.getvalue()
    if ext == "jpg":  # as Pillow reads it back: the tables of quality 95, no chroma subsampling
        with Image.open(tmp_path / ext / "photo.jpg") as written, Image.open(again) as expected:
            assert written.quantization == expected.quantization and JpegImagePlugin.get_sampling(written) == 0
        with pytest.raises(SystemExit):
            main(["translate", "--help"])
        assert "jpg and webp at quality 95, jpg's colour at full resolution" in " ".join(
            capsys.readouterr().out.split()
        )


def test_a_tif_output_is_compressed_losslessly_and_reads_back_as_the_png(tiny, tmp_path):
    """`--ext tif` wrote Pillow's default, an uncompressed TIFF (3 bytes a pixel, several times the PNG of the same
    pixels); now deflate-compressed, lossless: it reads back equal to the PNG translation."""
    a = np.zeros((48, 64, 3), np.uint8)
    a[:, 32:] = (200, 30, 30)
    Image.fromarray(a).save(tmp_path / "photo.png")
    assert translate_cli(tiny, tmp_path / "png", tmp_path / "photo.png") == 0
    assert translate_cli(tiny, tmp_path / "tif", tmp_path / "photo.png", extra=["--ext", "tif"]) == 0
    written = tmp_path / "tif" / "photo.tif"
    with Image.open(written) as tif, Image.open(tmp_path / "png" / "photo.png") as png:
        assert tif.info["compression"] == "tiff_adobe_deflate"  # Pillow's name for deflate as it reads it back
        assert np.array_equal(np.asarray(tif), np.asarray(png))


def test_inputs_that_name_nothing_are_refused_before_the_output_folder_is_made(tiny, tmp_path, capsys):
    """Before: `--out OUT` with only a missing input made OUT (empty), then named the input (exit 1)."""
    (tmp_path / "empty").mkdir()
    out = tmp_path / "out"
    inputs = [tmp_path / "missing.png", tmp_path / "empty", tmp_path / "*.jpg"]
    assert translate_cli(tiny, out, *inputs) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: nothing to translate: ")
    assert f"{tmp_path / 'missing.png'}: no such file or folder" in lines[0] and "holds no images" in lines[0]
    assert not out.exists()
    Image.new("RGB", (16, 16)).save(tmp_path / "a.png")  # with one input to read, the others are named, not fatal
    assert translate_cli(tiny, out, tmp_path / "a.png", tmp_path / "missing.png") == 1
    assert [p.name for p in out.iterdir()] == ["a.png"]
    assert translate_cli(tiny, out, tmp_path / "a.png", extra=["--skip-existing"]) == 0  # all done: not refused
    (out / "a.png").unlink()
    (out / "a.png").mkdir()  # a folder under the output's name is no translation: it was skipped as one
    assert translate_cli(tiny, out, tmp_path / "a.png", extra=["--skip-existing"]) == 2
    assert "a.png is a folder, where a file would be written" in capsys.readouterr().err


def test_inputs_none_of_which_opens_are_refused_before_the_model_loads_and_the_folder_is_made(
    tiny, tmp_path, monkeypatch, capsys
):
    """Before: `translate X.heic` (one input, a format not read here) loaded the model, made an empty --out, said
    "wrote 0 file(s)" and only then named the HEIC (exit 1). Now one line names each, before any of that."""
    import cyclegan.translation

    (tmp_path / "IMG_1.heic").write_bytes(b"\0\0\0\x18ftypheic" + bytes(12))  # a phone's HEIC header
    (tmp_path / "notes.png").write_text("not an image")
    out = tmp_path / "out"
    with monkeypatch.context() as m:
        m.setattr(cyclegan.translation, "load_generator", lambda *a, **k: pytest.fail("loaded for nothing"))
        assert translate_cli(tiny, out, tmp_path / "IMG_1.heic", tmp_path / "notes.png") == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: nothing to translate: "), lines
    assert f"{tmp_path / 'IMG_1.heic'}: a HEIC image, a format not read here: convert it to JPEG or PNG" in lines[0]
    assert f"{tmp_path / 'notes.png'}: not a JPEG, PNG" in lines[0] and not out.exists()
    Image.new("RGB", (16, 16)).save(tmp_path / "a.png")  # with one that opens, the others are named, not fatal
    assert translate_cli(tiny, out, tmp_path / "IMG_1.heic", tmp_path / "a.png") == 1
    assert [p.name for p in out.iterdir()] == ["a.png"]


def test_an_input_over_pillows_own_cap_is_named_over_the_decode_cap_not_as_nothing_to_translate(tiny, tmp_path, capsys):
    """A photo declaring over 179 MP (Pillow's own cap), given alone, was "nothing to translate: big.png: Image size
    (400000000 pixels) exceeds limit of 178956970 pixels, could be decompression bomb DOS attack.; give existing
    images", exit 2, with or without a larger --max-pixels; given with another image it was named over the decode
    cap. Now it is named so alone too, the option that reads it said, and the exit status is 1 as for any bad image."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    big = tmp_path / "big.png"  # the header of a 20000 x 20000 greyscale PNG: 400 MP, a few bytes
    header = chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0))
    big.write_bytes(b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(bytes(9))) + chunk(b"IEND", b""))
    assert translate_cli(tiny, tmp_path / "out", big) == 1
    err = capsys.readouterr().err
    assert "nothing to translate" not in err and "decompression bomb" not in err, err
    assert (
        f"error: cannot read image {big}: it declares 400 MP (400000000 pixels), over the decode cap of 100000000"
        in err
    )
    assert "give a larger --max-pixels to read it" in err


def test_skip_existing_with_everything_done_loads_no_generator(tiny, tmp_path, monkeypatch, capsys):
    """Every output there: the generator was still loaded (a pretrained one downloaded) and compiled, for nothing."""
    import cyclegan.translation

    Image.new("RGB", (16, 16)).save(tmp_path / "a.png")
    assert translate_cli(tiny, tmp_path / "out", tmp_path / "a.png") == 0
    monkeypatch.setattr(cyclegan.translation, "load_generator", lambda *a, **k: pytest.fail("loaded for nothing"))
    assert translate_cli(tiny, tmp_path / "out", tmp_path / "a.png", extra=["--skip-existing"]) == 0
    assert "1 input already translated" in capsys.readouterr().out


def test_skip_existing_says_when_it_takes_a_numbered_name_as_translated(tiny, tmp_path, capsys):
    """Inputs sharing a name get img.png, img-2.png in the order given: run again with a new input sorted
    before them, --skip-existing took another input's output as translated and left one out, without a word."""
    for folder in ("a", "c"):
        (tmp_path / folder).mkdir()
        Image.new("RGB", (16, 16), "red").save(tmp_path / folder / "img.png")
    Image.new("RGB", (16, 16), "blue").save(tmp_path / "other.png")
    out = tmp_path / "out"
    assert translate_cli(tiny, out, tmp_path / "a", tmp_path / "c", tmp_path / "other.png") == 0
    capsys.readouterr()
    assert translate_cli(tiny, out, tmp_path / "other.png", extra=["--skip-existing"]) == 0
    assert "warning: --skip-existing" not in capsys.readouterr().err  # no shared name: nothing to say
    assert translate_cli(tiny, out, tmp_path / "a", tmp_path / "c", extra=["--skip-existing"]) == 0
    err = capsys.readouterr().err
    assert "--skip-existing takes 2 existing outputs of inputs that share a name as translated (img.png, " in err
    assert "if they changed since, give --overwrite instead" in err


def test_skip_existing_does_not_announce_a_numbered_name_for_an_input_it_skips(tiny, tmp_path, capsys):
    """`c/img.png will be written as img-2.png` was printed for an input --skip-existing left out (written before)."""
    for folder in ("a", "c"):
        (tmp_path / folder).mkdir()
        Image.new("RGB", (16, 16), "red").save(tmp_path / folder / "img.png")
    out = tmp_path / "out"
    assert translate_cli(tiny, out, tmp_path / "a", tmp_path / "c") == 0
    assert "will be written as img-2.png" in capsys.readouterr().err
    assert translate_cli(tiny, out, tmp_path / "a", tmp_path / "c", extra=["--skip-existing"]) == 0
    assert "will be written as" not in capsys.readouterr().err
    (out / "img-2.png").unlink()  # to be written again: said again
    assert translate_cli(tiny, out, tmp_path / "a", tmp_path / "c", extra=["--skip-existing"]) == 0
    assert "will be written as img-2.png" in capsys.readouterr().err


def test_skip_existing_takes_no_link_to_nothing_or_to_a_folder_as_a_translation(tiny, tmp_path, capsys):
    """A symbolic link under an output's name whose file was moved away (or a link to a folder) counted as
    translated: `--skip-existing` left its input out for good, saying "1 input(s) already translated"."""
    Image.new("RGB", (16, 16)).save(tmp_path / "a.png")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").symlink_to(tmp_path / "moved.png")
    assert translate_cli(tiny, out, tmp_path / "a.png", extra=["--skip-existing"]) == 2
    err = capsys.readouterr().err
    assert f"{out / 'a.png'} is a symbolic link to {tmp_path / 'moved.png'}, which does not exist" in err
    (out / "a.png").unlink()
    (tmp_path / "folder").mkdir()
    (out / "a.png").symlink_to(tmp_path / "folder")
    assert translate_cli(tiny, out, tmp_path / "a.png", extra=["--skip-existing"]) == 2
    assert "a.png is a folder, where a file would be written" in capsys.readouterr().err
    (out / "a.png").unlink()
    Image.new("RGB", (16, 16)).save(tmp_path / "elsewhere.png")
    (out / "a.png").symlink_to(tmp_path / "elsewhere.png")  # a link to a file: done, as before
    assert translate_cli(tiny, out, tmp_path / "a.png", extra=["--skip-existing"]) == 0
    assert "1 input already translated" in capsys.readouterr().out


def test_skip_existing_takes_no_empty_file_as_a_translation(tiny, tmp_path, capsys):
    """An output of 0 bytes (a copy of the folder cut short, a program that died writing it: ours are written whole)
    counted as translated: `--skip-existing` left its input out for good."""
    for name in ("a", "b", "c"):
        Image.new("RGB", (16, 16)).save(tmp_path / f"{name}.png")
    out = tmp_path / "out"
    assert translate_cli(tiny, out, tmp_path / "a.png") == 0
    (out / "b.png").touch()
    (out / "c.png").touch()
    inputs = [tmp_path / f"{name}.png" for name in ("a", "b", "c")]
    assert translate_cli(tiny, out, *inputs, extra=["--skip-existing"]) == 2
    err = capsys.readouterr().err
    assert f"{out / 'b.png'} is empty (0 bytes) (and 1 more), not a translation: remove it" in err
    (out / "b.png").unlink()
    (out / "c.png").unlink()
    assert translate_cli(tiny, out, *inputs, extra=["--skip-existing"]) == 0
    assert (out / "b.png").stat().st_size > 0


@pytest.mark.parametrize("signum, status, said", [("SIGTERM", 143, "terminated"), ("SIGHUP", 129, "hung up")])
def test_sigterm_stops_translate_as_ctrl_c_does_with_the_skip_existing_hint(tiny, tmp_path, signum, status, said):
    """A batch scheduler's SIGTERM ended `cyclegan translate` at once without a word (Ctrl-C gets a hint), the
    image being written left as a hidden temporary. Now the same hint, nothing half-written, exit 143. A closed
    terminal's SIGHUP (an ssh session dropped) killed it the same way: now as SIGTERM, exit 129."""
    import subprocess
    import sys

    for name in ("a", "b"):
        Image.new("RGB", (16, 16), "red").save(tmp_path / f"{name}.png")
    out = tmp_path / "out"
    script = f"""
import os, signal, sys
import cyclegan.translation as t
from cyclegan.cli import main
from cyclegan.errors import CycleGANError
signal.signal(signal.SIGHUP, signal.SIG_DFL)  # as in a terminal, even where this test runs under nohup
real, calls = t.save_image, []
def save_image(*a, **k):
    calls.append(1)
    if len(calls) == 2:
        os.kill(os.getpid(), signal.{signum})  # while the second image is written
    return real(*a, **k)
t.save_image = save_image
sys.exit(main(["translate", "--checkpoint", {str(tiny)!r}, "--out", {str(out)!r}, "--no-progress",
               "--batch-size", "1", {str(tmp_path / "a.png")!r}, {str(tmp_path / "b.png")!r}]))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == status, done.stderr[-2000:]
    assert f"{said}: the outputs in {out} so far are complete; the same command with --skip-existing" in done.stderr
    assert "Traceback" not in done.stderr
    assert [p.name for p in out.iterdir() if p.suffix == ".png" or p.name.endswith(".tmp")] == ["a.png"]


def test_an_input_with_a_name_near_the_file_systems_limit_is_translated(tiny, tmp_path):
    """A name of 242 to 255 bytes, which the file system takes, could not be written: its hidden temporary
    (`.NAME.XXXXXXXX.tmp`) was 14 bytes longer ("File name too long"). A killed run's temporary of it is removed
    as any other."""
    name = "é" * 100 + "a" * 45 + ".png"  # 249 bytes in UTF-8
    Image.new("RGB", (16, 16), "red").save(tmp_path / name)
    out = tmp_path / "out"
    out.mkdir()
    stale = out / f".{name[:-8]}.k3x_9q2z.tmp"  # the start of the name that leaves room: 241 bytes
    stale.write_bytes(b"half a file")
    assert translate_cli(tiny, out, tmp_path / name) == 0
    assert [p.name for p in out.iterdir()] == [name]


def test_a_killed_runs_temporary_beside_an_output_is_removed_when_it_is_written_again(tiny, tmp_path):
    """kill -9 while a clip or image was written left its hidden temporary (a clip's: gigabytes) beside the
    output through every later run; only training cleaned its folder. Others' files are left alone."""
    Image.new("RGB", (16, 16), "red").save(tmp_path / "a.png")
    out = tmp_path / "out"
    out.mkdir()
    stale, other = out / ".a.png.k3x_9q2z.tmp", out / ".b.png.k3x_9q2z.tmp"  # write_atomic's names (mkstemp)
    stale.write_bytes(b"half a file")
    other.write_bytes(b"not this run's output")
    assert translate_cli(tiny, out, tmp_path / "a.png") == 0
    assert sorted(p.name for p in out.iterdir()) == [other.name, "a.png"]


def test_stale_temporaries_are_looked_for_with_one_listing_of_the_output_folder(tmp_path, monkeypatch):
    """Each output's temporaries were globbed for, a listing of the whole folder per output: a folder of 100 000
    translations was listed 100 000 times before the first image. Now once; the stale ones still go."""
    import os

    from cyclegan import translation

    out = tmp_path / "out"
    out.mkdir()
    outputs = [out / f"{i:05d}.png" for i in range(200)]
    for o in outputs:
        o.write_bytes(b"done")
    (out / ".00007.png.k3x_9q2z.tmp").write_bytes(b"half a file")
    (out / ".other.png.k3x_9q2z.tmp").write_bytes(b"not an output of this run")
    listings = []
    real = os.scandir
    monkeypatch.setattr(os, "scandir", lambda *a: listings.append(a) or real(*a))
    translation.remove_stale_temporaries_of(outputs)
    assert len(listings) <= 1
    assert not (out / ".00007.png.k3x_9q2z.tmp").exists() and (out / ".other.png.k3x_9q2z.tmp").exists()


def test_a_memory_budget_too_small_for_any_tile_is_refused_before_any_image(tiny, tmp_path, capsys):
    """--max-memory whose tiles would be under 32 px stopped the command (exit 2, "option '--max-memory'") at
    the first image that needed tiles, after the smaller images had been written."""
    Image.new("RGB", (2, 2), "red").save(tmp_path / "dot.png")  # fits whole under any budget; read first
    Image.new("RGB", (200, 150), "blue").save(tmp_path / "photo.png")
    out = tmp_path / "out"
    assert translate_cli(tiny, out, tmp_path / "dot.png", tmp_path / "photo.png", extra=["--max-memory", "1e-5"]) == 2
    assert "option '--max-memory' 1e-05: this generator's activations would fit tiles of" in capsys.readouterr().err
    assert not out.exists()


def test_a_size_under_the_generators_smallest_side_is_refused_and_a_thin_result_named(tiny, tmp_path, capsys):
    """Before: --size 3 on a 37x201 image wrote a 3x1 image without a word (and so did translate(size=3))."""
    from cyclegan.errors import CycleGANError

    wide = tmp_path / "wide.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (37, 201, 3), np.uint8)).save(wide)
    out = tmp_path / "out"
    assert translate_cli(tiny, out, wide, extra=["--size", "3"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["error: option '--size' 3 is under the smallest side this generator takes, 8 px; give 8 or more"]
    assert not out.exists()
    with pytest.raises(CycleGANError, match="size 3 is under the smallest side this generator takes, 8 px"):
        translate(load_generator(str(tiny), "AtoB"), wide, size=3)
    # Above it, an image so thin that its short side ends under 8 px is translated, named with the size that keeps it.
    assert translate_cli(tiny, out, wide, extra=["--size", "16"]) == 0
    err = capsys.readouterr().err
    assert f"warning: {wide} at --size 16 is 16x3 px, under the 8 px the generator takes" in err
    assert "--size 41 keeps its short side" in err and Image.open(out / "wide.png").size == (16, 3)
    assert translate_cli(tiny, out, wide, extra=["--size", "41", "--overwrite"]) == 0
    assert "warning" not in capsys.readouterr().err and Image.open(out / "wide.png").size == (41, 8)


def test_an_image_already_thinner_than_the_generator_takes_is_named_as_one_size_made_thin(tiny, tmp_path, capsys):
    """The warning for an image thinner than the generator's smallest side (padded to it, little of it left) fired
    only where --size made it thin: a 40x1 strip, as badly off, was translated without a word, with or without
    --size. Now named in one line; one 8 px or more is not."""
    strip, square = tmp_path / "strip.png", tmp_path / "square.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (1, 40, 3), np.uint8)).save(strip)
    Image.new("RGB", (8, 8), (20, 90, 30)).save(square)
    said = f"warning: {strip} is 40x1 px, under the 8 px the generator takes (padded, little of it left)\n"
    for extra, written in (([], (40, 1)), (["--size", "40"], (40, 1)), (["--size", "80"], (80, 2))):
        out = tmp_path / f"out{len(tuple(tmp_path.glob('out*')))}"
        assert translate_cli(tiny, out, strip, square, extra=extra) == 0
        assert capsys.readouterr().err == said
        assert Image.open(out / "strip.png").size == written


def test_an_animated_png_or_multi_page_tiff_says_its_other_frames_are_left_out(tiny, tmp_path, capsys):
    """Before: an animated PNG and a 3-page TIFF were written as their first frame alone, exit 0, without a word."""
    rng = np.random.default_rng(0)
    pages = [Image.fromarray(rng.integers(0, 255, (16, 24, 3), np.uint8)) for _ in range(3)]
    pages[0].save(tmp_path / "anim.png", save_all=True, append_images=pages[1:], duration=100)
    pages[0].save(tmp_path / "scan.tif", save_all=True, append_images=pages[1:])
    pages[0].save(tmp_path / "one.tif")
    pages[0].save(tmp_path / "phone.jpg", format="MPO", save_all=True, append_images=pages[1:2])  # photo + depth
    out = tmp_path / "out"
    inputs = [tmp_path / name for name in ("anim.png", "scan.tif", "one.tif", "phone.jpg")]
    assert translate_cli(tiny, out, *inputs) == 0
    err = capsys.readouterr().err
    assert "warning: 2 files hold several frames (pages); only the first of each is translated" in err
    assert f"{tmp_path / 'anim.png'} (3 frames), {tmp_path / 'scan.tif'} (3 frames)" in err
    assert "one.tif" not in err and "phone.jpg" not in err
    assert sorted(p.name for p in out.iterdir()) == ["anim.png", "one.png", "phone.png", "scan.png"]


def test_a_folder_of_multi_page_files_says_its_left_out_pages_in_one_line(tiny, tmp_path, capsys):
    """A folder of multi-page scans warned once per file (300 scans, 300 lines); now one line counts them and names
    the first few."""
    pages = [Image.new("RGB", (24, 16), (60 * i, 90, 30)) for i in range(3)]
    scans = tmp_path / "scans"
    scans.mkdir()
    for i in range(5):
        pages[0].save(scans / f"scan{i}.tif", save_all=True, append_images=pages[1 : 2 + i % 2])
    pages[0].save(scans / "one.png")
    assert translate_cli(tiny, tmp_path / "out", scans) == 0
    warned = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warned) == 1 and warned[0].startswith("warning: 5 files hold several frames (pages); only the first"), (
        warned
    )
    assert (
        f"{scans / 'scan0.tif'} (2 frames), {scans / 'scan1.tif'} (3 frames)" in warned[0]
        and "one.png" not in warned[0]
    )
    assert len(list((tmp_path / "out").iterdir())) == 6


def test_inputs_may_come_on_both_sides_of_the_options(tiny, tmp_path):
    """`translate a.png --out o b.png`, as `cp` and `git add` take files: b.png was refused as "unrecognized
    arguments" (exit 2, nothing written)."""
    for name in ("a", "b", "c"):
        Image.new("RGB", (16, 16)).save(tmp_path / f"{name}.png")
    a, b, c, out = (str(tmp_path / n) for n in ("a.png", "b.png", "c.png", "out"))
    assert main(["translate", "--checkpoint", str(tiny), a, "--out", out, b, "--no-progress", c]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.png", "c.png"]


def test_an_output_folder_the_console_cannot_encode_is_named_in_escapes_not_a_traceback(tiny, tmp_path, monkeypatch):
    """On a console whose code page lacks a name's letters (Windows cp1252 and a Japanese name; here ASCII),
    `wrote 1 file(s) to ausgabe_é` was a UnicodeEncodeError traceback and exit 1, after the work was done."""
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    monkeypatch.setattr(sys, "stdout", stdout)
    Image.new("RGB", (16, 16)).save(tmp_path / "a.png")
    out = tmp_path / "ausgabe_\u00e9"
    assert (
        main(["translate", "--checkpoint", str(tiny), "--out", str(out), "--no-progress", str(tmp_path / "a.png")]) == 0
    )
    stdout.flush()
    assert "ausgabe_\\xe9" in stdout.buffer.getvalue().decode() and (out / "a.png").is_file()
    assert stdout.errors == "strict"  # the caller's stream as it was


def test_a_warning_under_the_progress_bar_starts_its_own_line(tiny, tmp_path, capsys):
    """With the bar on (the default), the left-out pages' warning went on the bar's line: `translate:   0%|   | 0/2
    [00:00<?, ?img/s]warning: ...scan.tif holds 3 frames`, in a log and on a terminal."""
    pages = [Image.new("RGB", (24, 16), (60 * i, 90, 30)) for i in range(3)]
    pages[0].save(tmp_path / "scan.tif", save_all=True, append_images=pages[1:])
    pages[0].save(tmp_path / "one.png")
    argv = ["translate", "--checkpoint", str(tiny), "--out", str(tmp_path / "out")]
    assert main([*argv, str(tmp_path / "scan.tif"), str(tmp_path / "one.png")]) == 0
    err = capsys.readouterr().err
    warned = [line for line in re.split(r"[\r\n]", err) if "warning" in line]
    assert len(warned) == 1 and warned[0].startswith(f"warning: {tmp_path / 'scan.tif'} holds 3 frames"), err


def test_the_api_names_an_animated_pngs_left_out_frames_and_points_a_video_to_translate_video(tiny, tmp_path, capsys):
    """`translate(G, "anim.png")` took the first frame without a word (the CLI warns), and `translate(G,
    "clip.mp4")` said "not a JPEG, PNG, ... image" with no hint of `translate_video`."""
    from cyclegan.errors import CycleGANError

    G = load_generator(tiny, "AtoB")
    pages = [Image.new("RGB", (24, 16), (60 * i, 90, 30)) for i in range(3)]
    pages[0].save(tmp_path / "anim.png", save_all=True, append_images=pages[1:], duration=100)
    assert translate(G, tmp_path / "anim.png").size == (24, 16)
    assert f"warning: {tmp_path / 'anim.png'} holds 3 frames (pages); only the first" in capsys.readouterr().err
    with Image.open(tmp_path / "anim.png") as im:  # opened by the caller: one frame of it, said too
        assert translate(G, im).size == (24, 16)
    assert "warning: images[0] holds 3 frames (pages); only its current one is translated" in capsys.readouterr().err
    exif = Image.Exif()
    exif[0x0112] = 6  # turned: translate works on an upright copy, which is not animated itself
    pages[0].save(tmp_path / "turned.webp", save_all=True, append_images=pages[1:], duration=100, exif=exif)
    with Image.open(tmp_path / "turned.webp") as im:
        assert translate(G, im).size == (16, 24)
    assert "warning: images[0] is animated: only its current frame is translated" in capsys.readouterr().err
    (tmp_path / "clip.mp4").write_bytes(b"\0\0\0\x18ftypisom" + bytes(64))
    with pytest.raises(CycleGANError, match=r"clip.mp4 is a video clip, not an image: .* cyclegan.translate_video"):
        translate(G, [tmp_path / "clip.mp4"])


def test_a_multi_page_tiff_s_left_out_pages_are_said_once_and_not_as_a_clip(tiny, tmp_path, capsys):
    """A multi-page TIFF's path was said twice, the second time as "images[0] is animated: ... (a clip:
    translate_video)", which takes no TIFF: `read_image` gave the file's object, still "animated" (the page's
    server log got that line for each such upload). Now its path is said once, and a TIFF the caller opened is
    said as pages; an animated GIF opened by the caller is still pointed to translate_video."""
    from cyclegan.data.io import read_image

    first_of_3 = "only the first is translated, the other 2 are left out"
    G = load_generator(tiny, "AtoB")
    pages = [Image.new("RGB", (24, 16), (60 * i, 90, 30)) for i in range(3)]
    pages[0].save(tmp_path / "scan.tif", save_all=True, append_images=pages[1:])
    pages[0].save(tmp_path / "walk.gif", save_all=True, append_images=pages[1:], duration=100)
    assert translate(G, tmp_path / "scan.tif").size == (24, 16)
    warned = capsys.readouterr().err.splitlines()
    assert warned == [f"warning: {tmp_path / 'scan.tif'} holds 3 frames (pages); {first_of_3}"]
    first = read_image(tmp_path / "scan.tif")
    assert np.asarray(first).tolist() == np.asarray(pages[0]).tolist()  # the first page, as a still
    translate(G, first)
    assert capsys.readouterr().err == ""
    with Image.open(tmp_path / "scan.tif") as im:
        translate(G, im)
    assert capsys.readouterr().err == "warning: images[0] holds 3 frames (pages); only its current one is translated\n"
    with Image.open(tmp_path / "walk.gif") as im:
        translate(G, im)
    assert (
        "images[0] is animated: only its current frame is translated (a clip: translate_video)"
        in capsys.readouterr().err
    )


def test_a_camera_jpeg_with_a_preview_is_read_without_a_copy_and_translated_without_a_word(
    tiny, tmp_path, capsys, monkeypatch
):
    """A camera's JPEG holding a preview (an MPO) opens as "animated", as a multi-page TIFF does: `read_image` copied
    its pixels once more on every read to drop that, a memcpy of the whole photo per sample of a training run on
    such photos, though its previews are no pages and `translate` names none. Read as any RGB JPEG is: no copy."""
    from cyclegan.data.io import read_image

    photo = Image.fromarray(np.random.default_rng(0).integers(0, 255, (16, 24, 3), np.uint8))
    photo.save(tmp_path / "phone.jpg", format="MPO", save_all=True, append_images=[photo.resize((12, 8))])
    copies, real_copy = [], Image.Image.copy
    with monkeypatch.context() as m:
        m.setattr(Image.Image, "copy", lambda im: copies.append(im.size) or real_copy(im))
        read = read_image(tmp_path / "phone.jpg")
    assert copies == [] and read.size == (24, 16) and read.mode == "RGB"
    with Image.open(tmp_path / "phone.jpg") as im:
        assert np.asarray(read).tolist() == np.asarray(im.convert("RGB")).tolist()  # the photo, not its preview
    assert translate(load_generator(tiny, "AtoB"), tmp_path / "phone.jpg").size == (24, 16)
    assert capsys.readouterr().err == ""  # no frames, pages nor clip named


def test_a_double_star_glob_leaves_hidden_files_out_as_the_glob_module_does(tiny, tmp_path, capsys):
    """Before: `in/**/*` matched `in/.cache/notes.txt` and `in/.x.png` (Path.match takes hidden names, which
    glob's `*` and folder inputs leave out): each named as an unreadable image, exit 1."""
    from cyclegan.data.io import glob_files

    (tmp_path / "in").mkdir()
    Image.new("RGB", (16, 16)).save(tmp_path / "in" / "a.png")
    (tmp_path / "in" / ".cache").mkdir()
    (tmp_path / "in" / ".cache" / "notes.txt").write_text("not an image")
    (tmp_path / "in" / ".x.png").write_bytes(b"not an image")
    assert translate_cli(tiny, tmp_path / "out", tmp_path / "in" / "**" / "*") == 0
    assert "error" not in capsys.readouterr().err and [p.name for p in (tmp_path / "out").iterdir()] == ["a.png"]
    assert glob_files(str(tmp_path / "in" / "**" / ".*")) == [tmp_path / "in" / ".x.png"]  # named with a dot: taken


def test_inputs_whose_names_differ_only_in_case_get_outputs_that_differ_otherwise(tiny, tmp_path, capsys):
    """Before: Photo.png and photo.PNG were written as Photo.png and photo.png, one file on macOS and Windows:
    the second was refused there as made by another program while the run worked, and left out."""
    (tmp_path / "in").mkdir()
    for name in ("Photo.png", "photo.PNG"):
        Image.new("RGB", (16, 16)).save(tmp_path / "in" / name, format="PNG")
    assert translate_cli(tiny, tmp_path / "out", tmp_path / "in") == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["Photo.png", "photo-2.png"]
    assert "photo.PNG will be written as photo-2.png (Photo.png is taken)" in capsys.readouterr().err


def test_an_empty_out_or_input_is_refused_not_read_as_the_working_folder(tiny, tmp_path, capsys, monkeypatch):
    """Before: `--out "$DIR"` with DIR unset wrote into the working folder (exit 0), and an empty INPUT
    translated every image under it, recursively."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in").mkdir()
    Image.new("RGB", (16, 16)).save(tmp_path / "in" / "a.png")
    assert translate_cli(tiny, "", tmp_path / "in" / "a.png") == 2
    said = capsys.readouterr().err
    assert said == "error: option '--out' is empty (an unset variable?): give the folder to write into\n"
    assert translate_cli(tiny, tmp_path / "out", "") == 2
    assert "error: an INPUT is empty" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_a_damaged_exif_block_is_read_as_none_without_pillows_raw_warnings(tiny, tmp_path, recwarn):
    """Before: each image with a damaged EXIF block printed Pillow's `TiffImagePlugin.py:950: UserWarning:
    Corrupt EXIF data...` and its source line, twice (sorting by size, then reading)."""
    im = Image.fromarray(np.random.default_rng(0).integers(0, 255, (20, 30, 3), np.uint8))
    im.save(tmp_path / "a.jpg", exif=b"Exif\x00\x00II*\x00\x08\x00\x00\x00\xff\xff")
    assert translate_cli(tiny, tmp_path / "out", tmp_path / "a.jpg") == 0
    assert not [w for w in recwarn if "EXIF" in str(w.message)]
    assert Image.open(tmp_path / "out" / "a.png").size == (30, 20)  # as stored, as viewers show it
    G = load_generator(tiny, "AtoB")  # the API, given the path or the image opened (a PNG's EXIF is read on use)
    im.save(tmp_path / "a.png", exif=b"Exif\x00\x00II*\x00\x08\x00\x00\x00\xff\xff")
    assert translate(G, tmp_path / "a.png").size == translate(G, Image.open(tmp_path / "a.png")).size == (30, 20)
    assert not [w for w in recwarn if "EXIF" in str(w.message)]


def test_an_image_over_the_output_formats_limit_is_named_and_the_others_written(tiny, tmp_path, capsys):
    """Before: --ext webp on a 16400 px wide image (WebP takes 16383 a side) was Pillow's ValueError as a
    traceback that ended the run: the inputs after it were not translated."""
    rng = np.random.default_rng(0)
    (tmp_path / "in").mkdir()
    Image.fromarray(rng.integers(0, 255, (3, 16400, 3), np.uint8)).save(tmp_path / "in" / "long.png")
    Image.fromarray(rng.integers(0, 255, (16, 16, 3), np.uint8)).save(tmp_path / "in" / "ok.png")
    out = tmp_path / "out"
    assert translate_cli(tiny, out, tmp_path / "in", extra=["--ext", "webp"]) == 1
    err = capsys.readouterr().err
    assert f"cannot write {out / 'long.webp'}: encoding error" in err and "another --ext may take it" in err
    assert [p.name for p in out.iterdir()] == ["ok.webp"]  # no temporary file left either


def test_files_of_a_folder_that_translate_does_not_read_are_named_in_one_warning(tiny, tmp_path, capsys):
    """Before: an iPhone's HEIC photo or a RAW file among the JPEGs of an input folder was left out without a
    word (training's folders say so); hidden files and folders stay unmentioned."""
    (tmp_path / "in" / ".git").mkdir(parents=True)
    Image.new("RGB", (16, 16)).save(tmp_path / "in" / "a.jpg")
    for name in ("IMG_0001.HEIC", "notes.txt", ".DS_Store", ".git/HEAD"):
        (tmp_path / "in" / name).write_bytes(b"x")
    assert translate_cli(tiny, tmp_path / "out", tmp_path / "in") == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [  # the HEIC photo counted with what to do (it was named alone)
        f"warning: {tmp_path / 'in'}: 2 files left out, not images or clips translate reads: IMG_0001.HEIC, notes.txt"
        "; 1 HEIC or AVIF photo among them: convert them to JPEG or PNG"
    ]


def test_an_output_name_over_255_bytes_is_cut_at_its_stem_not_a_traceback(tiny, tmp_path, capsys):
    """Two inputs of a 251-byte stem (the longest a .png takes): the second one's `-2` made a 257-byte name, and
    a .png of that stem as --ext webp 256 bytes; both were "File name too long" as a traceback before any work."""
    stem = "é" * 125 + "x"  # 251 bytes: the cut keeps whole characters
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        Image.new("RGB", (16, 16)).save(tmp_path / folder / f"{stem}.png")
    out = tmp_path / "out"
    assert translate_cli(tiny, out, tmp_path / "a", tmp_path / "b") == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([f"{stem}.png", f"{stem[:-2]}-2.png"]), names  # 254 bytes: an é is 2
    assert f"will be written as {stem[:-2]}-2.png ({stem}.png is taken)" in capsys.readouterr().err
    assert translate_cli(tiny, tmp_path / "webp", tmp_path / "a", extra=["--ext", "webp"]) == 0
    assert [p.name for p in (tmp_path / "webp").iterdir()] == [f"{stem[:-1]}.webp"]
    err = capsys.readouterr().err
    assert f"will be written as {stem[:-1]}.webp (a name takes 255 bytes)" in err and "Traceback" not in err


def test_a_run_trained_btoa_only_is_translated_in_its_direction_without_direction(tmp_path, capsys):
    """`--direction` defaulted to AtoB, so a pix2pix (or CUT) run trained BtoA was refused unless the user typed
    the one direction it has; an explicit direction is kept, and the one it lacks still refused."""
    from cyclegan.checkpoint import FORMAT
    from cyclegan.models import build_networks

    cfg = resolve({"family": "pix2pix", "direction": "BtoA", "ngf": 4, "ndf": 4, "size": 32})
    models = {k: m.state_dict() for k, m in build_networks(cfg).items()}
    ckpt = tmp_path / "p2p.pt"
    torch.save({"format": FORMAT, "config": cfg.to_dict(), "step": 0, "models": models}, ckpt)
    Image.new("RGB", (16, 16), (200, 40, 40)).save(tmp_path / "a.png")
    assert translate_cli(ckpt, tmp_path / "own", tmp_path / "a.png") == 0
    assert translate_cli(ckpt, tmp_path / "asked", tmp_path / "a.png", extra=["--direction", "BtoA"]) == 0
    own, asked = (np.asarray(Image.open(tmp_path / d / "a.png")) for d in ("own", "asked"))
    assert np.array_equal(own, asked)
    assert translate_cli(ckpt, tmp_path / "other", tmp_path / "a.png", extra=["--direction", "AtoB"]) == 2
    assert "translates B to A only; use --direction BtoA" in capsys.readouterr().err
    # the Python API as the command: load_generator without a direction was AtoB, refused for this run
    import cyclegan
    from cyclegan.errors import CycleGANError

    x = torch.rand(1, 3, 16, 16) * 2 - 1
    assert torch.equal(translate(cyclegan.load_generator(ckpt), x), translate(load_generator(ckpt, "BtoA"), x))
    with pytest.raises(CycleGANError, match=r"use direction='BtoA'"):
        cyclegan.load_generator(ckpt, "AtoB")


def test_one_generator_translating_in_two_threads_gives_each_its_own_result(tiny):
    """A tiled translation swaps the generator's InstanceNorm layers for its thumbnail's statistics; another
    thread's whole image translated meanwhile took them, silently other colours (a user's probe)."""
    import threading

    from torch import nn

    G = load_generator(tiny, "AtoB")
    torch.manual_seed(0)
    big, small = torch.rand(1, 3, 96, 96) * 2 - 1, torch.rand(1, 3, 32, 32) * 2 - 1
    want_big, want_small = translate(G, big, tile=64, tile_overlap=8), translate(G, small)
    norms = [m for m in G.modules() if isinstance(m, nn.InstanceNorm2d)]
    tiling, other_done = threading.Event(), threading.Event()

    def stall_inside_a_tile(module, inputs, output):  # the first tile's pass waits for the other thread
        if "forward" in vars(norms[0]) and not tiling.is_set():
            tiling.set()
            other_done.wait(timeout=2)  # with the fix the other thread waits for this one: no deadlock

    handle = G.register_forward_hook(stall_inside_a_tile)
    got = {}
    tiled = threading.Thread(target=lambda: got.update(big=translate(G, big, tile=64, tile_overlap=8)))
    tiled.start()
    assert tiling.wait(timeout=30)

    def whole():
        got["small"] = translate(G, small)
        other_done.set()

    other = threading.Thread(target=whole)
    other.start()
    tiled.join(timeout=60)
    other.join(timeout=60)
    handle.remove()
    assert torch.equal(got["small"], want_small) and torch.equal(got["big"], want_big)


def test_the_api_refuses_a_max_pixels_that_is_not_a_positive_whole_number_in_one_line(tiny, tmp_path):
    """translate(G, path, max_pixels=0) said the image was "over the decode cap of 0 pixels", True and 1.5 the
    same, and None or "1e6" raised a TypeError from a comparison (translate_video refused them already)."""
    from cyclegan.errors import CycleGANError

    G = load_generator(tiny, "AtoB")
    Image.new("RGB", (16, 16)).save(tmp_path / "a.png")
    for value in (0, -1, True, 1.5, None, "1e6"):
        for images in (tmp_path / "a.png", Image.new("RGB", (16, 16))):
            with pytest.raises(CycleGANError, match=rf"^max_pixels must be a positive whole number, got {value!r}$"):
                translate(G, images, max_pixels=value, size=None if isinstance(images, Path) else 32)


def test_the_api_refuses_meta_tensors_and_generators_without_weights_in_one_line(tiny):
    """A meta tensor was "Tensor.item() cannot be called on meta tensors", a generator built on the meta device
    "unsupported scalarType" and a module without weights a bare StopIteration (a user's probe)."""
    from cyclegan.errors import CycleGANError

    G = load_generator(tiny, "AtoB")
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    with pytest.raises(CycleGANError, match=r"^images: a tensor on the meta device holds no values"):
        translate(G, x.to("meta"))
    with pytest.raises(CycleGANError, match=r"^the generator \(ResnetGenerator\) has weights on the meta device"):
        translate(load_generator(tiny, "AtoB").to("meta"), x)
    with pytest.raises(CycleGANError, match=r"^the generator \(Identity\) has no weights; load one"):
        translate(torch.nn.Identity(), x)


def test_a_tensor_of_another_layout_is_refused_naming_images_and_how_to_turn_it(tiny):
    """Channels last (numpy's and PIL's order), greyscale and RGBA tensors were refused with only their shape and
    without the argument's name, a numpy array without the way to a tensor or an image (a user's probe)."""
    from cyclegan.errors import CycleGANError

    G = load_generator(tiny, "AtoB")
    for shape, hint, turned in [
        ((2, 16, 16, 3), "channels last? give x.permute(0, 3, 1, 2)", lambda x: x.permute(0, 3, 1, 2)),
        ((16, 16, 3), "channels last? give x.permute(2, 0, 1)", lambda x: x.permute(2, 0, 1)),
        ((2, 1, 16, 16), "greyscale? give x.expand(-1, 3, -1, -1)", lambda x: x.expand(-1, 3, -1, -1)),
        ((16, 16), "greyscale? give x.expand(3, -1, -1)", lambda x: x.expand(3, -1, -1)),
        ((4, 16, 16), "RGBA? give x[:3]", lambda x: x[:3]),
    ]:
        x = torch.zeros(shape)
        with pytest.raises(CycleGANError, match=r"^images: expected a tensor .*, got \(") as e:
            translate(G, x)
        assert str(e.value).startswith(f"images: expected a tensor (3, H, W) or (B, 3, H, W) in [-1, 1], got {shape}")
        assert f"{shape}: {hint}" in str(e.value)
        assert translate(G, turned(x)).shape[-3] == 3  # the hint, as given, works
    with pytest.raises(CycleGANError, match=r"got ndarray of shape \(16, 16, 3\); from numpy: Image.fromarray\(a\)"):
        translate(G, np.zeros((16, 16, 3), np.uint8))


def test_a_file_object_or_encoded_bytes_are_refused_naming_image_open_and_the_file_is_not_read(tiny, tmp_path):
    """An open file (`open(p, "rb")`, a BytesIO) was iterated as a list of images: the caller's file read to its
    end as "lines", then refused as "images[0]: ... got bytes", naming neither the file object nor Image.open."""
    G = load_generator(tiny, "AtoB")
    Image.new("RGB", (16, 16), "red").save(tmp_path / "a.png")
    data = (tmp_path / "a.png").read_bytes()
    with open(tmp_path / "a.png", "rb") as f:
        with pytest.raises(
            CycleGANError, match=r"^images: .* got BufferedReader; a file object: give Image.open\(f\)$"
        ):
            translate(G, f)
        assert f.tell() == 0  # not read: the caller's file as it gave it
        assert translate(G, Image.open(f)).size == (16, 16)  # the hint, as given, works
    with pytest.raises(CycleGANError, match=r"^images: .* got BytesIO; a file object: give Image.open\(f\)$"):
        translate(G, io.BytesIO(data))
    with pytest.raises(CycleGANError, match=r"^images\[0\]: .* got bytes; an encoded image's bytes: give Image.ope"):
        translate(G, [data])
    assert translate(G, Image.open(io.BytesIO(data))).size == (16, 16)


def test_a_pil_image_over_max_pixels_is_refused_before_it_is_decoded_as_its_path_is(tiny, tmp_path):
    """translate(G, "big.png") refused a file declaring more than max_pixels, but translate(G, Image.open("big.png"))
    (lazy: nothing decoded yet) decoded it and went on: 144 MP ran for minutes where its path took one line."""
    G = load_generator(tiny, "AtoB")
    Image.new("RGB", (40, 30), "red").save(tmp_path / "a.png")
    with pytest.raises(CycleGANError, match=r"^cannot read image .*a\.png: it declares 40x30 pixels"):
        translate(G, tmp_path / "a.png", max_pixels=1000)
    with pytest.raises(
        CycleGANError, match=r"^images\[1\]: the PIL image is 40x30 pixels .*, over max_pixels 1000; give a larger"
    ):
        translate(G, [Image.new("RGB", (8, 8)), Image.open(tmp_path / "a.png")], max_pixels=1000)
    assert translate(G, Image.open(tmp_path / "a.png"), max_pixels=1200).size == (40, 30)


@pytest.mark.parametrize(
    "last, keywords, said",
    [
        ("big.png", {"max_pixels": 1000}, r"^cannot read image .*big\.png: it declares 40x30 pixels"),
        ("big", {"max_pixels": 1000}, r"^images\[1\]: the PIL image is 40x30 pixels .*, over max_pixels 1000"),
        ("big", {"size": 200, "max_pixels": 25_000}, r"^size 200 would make images\[1\] 200x150 pixels .* over max_p"),
        ("missing.png", {}, r"^image not found: .*missing\.png"),
        ("clip.mp4", {}, r"clip\.mp4 is a video clip, not an image: translate it with cyclegan\.translate_video"),
    ],
)
def test_a_list_is_checked_whole_before_any_image_is_translated(tiny, tmp_path, last, keywords, said):
    """translate(G, [small, big]) translated `small`, then refused `big` (over max_pixels, or at `size`), and the
    work on `small` was lost with the refusal. Now every input's kind and size is checked from its header first:
    the refusal comes before the generator runs once."""
    G = load_generator(tiny, "AtoB")
    Image.new("RGB", (40, 30), "red").save(tmp_path / "big.png")
    (tmp_path / "clip.mp4").write_bytes(b"never decoded")
    inputs = {"big": Image.new("RGB", (40, 30))}
    calls = []
    hook = G.register_forward_hook(lambda *_: calls.append(1))
    try:
        with pytest.raises(CycleGANError, match=said):
            translate(G, [Image.new("RGB", (16, 8)), inputs.get(last, tmp_path / last)], **keywords)
        assert calls == []
        translate(G, [Image.new("RGB", (16, 8))], **keywords)  # the hook sees a translation
        assert calls
    finally:
        hook.remove()


def test_a_closed_or_truncated_pil_image_is_refused_in_one_line_naming_its_file(tiny, tmp_path):
    """`with Image.open(p) as im: ...` left before translate(G, im) was Pillow's bare AssertionError, and a
    truncated file opened by the caller an OSError from its pixels (a user's probe)."""
    from cyclegan.errors import CycleGANError

    G = load_generator(tiny, "AtoB")
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 48, 3), np.uint8)).save(tmp_path / "a.png")
    with Image.open(tmp_path / "a.png") as closed:
        pass
    with pytest.raises(CycleGANError, match=r"^images\[0\]: the PIL image \(of .*a\.png\) is closed, and its pix"):
        translate(G, closed)
    data = (tmp_path / "a.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(CycleGANError, match=r"^images\[1\]: cannot decode the PIL image \(of .*cut\.png\): image fi"):
        translate(G, [Image.new("RGB", (8, 8)), Image.open(tmp_path / "cut.png")])


def test_under_a_float64_default_dtype_the_generator_and_every_result_stay_float32(tiny):
    """Under torch.set_default_dtype(torch.float64) (a scientific notebook's habit) load_generator built a float64
    generator, and a tiled image came back float64 while a whole one was float32, as documented (a user's probe)."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        G = load_generator(tiny, "AtoB")
        x = torch.rand(1, 3, 96, 96, dtype=torch.float32) * 2 - 1
        whole, tiled = translate(G, x, tile=0), translate(G, x, tile=64, tile_overlap=8)
    finally:
        torch.set_default_dtype(before)
    assert {p.dtype for p in G.parameters()} == {torch.float32}
    assert whole.dtype == tiled.dtype == torch.float32


def test_a_network_that_is_no_image_to_image_generator_is_refused_in_one_line(tiny):
    """translate(D, x) with a discriminator (patch scores at half the size, one channel) returned them as a
    "translation" of another shape than the input's, without a word; a PIL image an error about a tensor."""
    from cyclegan.errors import CycleGANError

    D = torch.nn.Sequential(torch.nn.Conv2d(3, 1, 4, stride=2, padding=1))
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    for net, images in [(D, x), (D, Image.new("RGB", (32, 32))), (torch.nn.Conv2d(3, 3, (1, 3)), x)]:
        with pytest.raises(CycleGANError, match=r"^\w+ gave \(1, \d, \d+, \d+\) for images \(1, 3, 32, 32\): not an"):
            translate(net, images)
    assert translate(load_generator(tiny, "AtoB"), x).shape == x.shape


def test_a_torchscript_module_is_refused_in_one_line_naming_how_it_runs(tiny):
    """A TorchScript module (`cyclegan export`'s file, torch.jit.load) was "register_forward_hook is not supported
    on ScriptModules"; a traced generator gave no hooks' figures, so a large image was a ZeroDivisionError."""
    import warnings

    from cyclegan.errors import CycleGANError

    G = load_generator(tiny, "AtoB")
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with warnings.catch_warnings():  # torch's own: tracing and scripting are deprecated, a traced norm's branch
        warnings.simplefilter("ignore")
        traced, scripted = torch.jit.trace(G, x), torch.jit.script(torch.nn.Conv2d(3, 3, 3, padding=1))
    for net in (traced, scripted):
        with pytest.raises(CycleGANError, match=r"^a TorchScript module \(as `cyclegan export` writes\) runs as it is"):
            translate(net, x)
    assert torch.equal(traced(x), translate_tensor(G, x))  # what the message says: run it as it is


def test_a_published_generator_asked_the_other_way_is_said_to_translate_its_own(tmp_path, monkeypatch, capsys):
    """`translate --checkpoint pretrained:horse2zebra --direction BtoA` turned horses into zebras without a word: the
    file holds one generator, used whatever is asked. Now a warning says so; asked its own way, nothing is said."""
    monkeypatch.setenv("CYCLEGAN_HOME", str(tmp_path / "home"))
    (tmp_path / "home" / "pretrained").mkdir(parents=True)
    torch.save(tiny_published_generator().state_dict(), tmp_path / "home" / "pretrained" / "horse2zebra.pth")
    Image.new("RGB", (40, 32), (90, 120, 60)).save(tmp_path / "horse.png")
    for asked in ("BtoA", "AtoB"):
        out = tmp_path / asked
        args = ["translate", "--checkpoint", "pretrained:horse2zebra", "--direction", asked, "--out", str(out)]
        assert main([*args, "--no-progress", str(tmp_path / "horse.png")]) == 0
        assert (out / "horse.png").is_file()
        warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
        if asked == "BtoA":
            assert len(warnings) == 1 and "--direction BtoA changes nothing here" in warnings[0], warnings
            assert "horse photos -> zebras" in warnings[0]
        else:
            assert warnings == []


def test_translate_takes_numpy_integers_as_the_whole_numbers_they_are(tiny):
    """A notebook's `size=a.shape[0] // 2` or `tile=np.int64(32)` is a numpy integer: translate refused it
    ("size must be a whole number ..., got np.int64(16)", "tile: expected int | null, got np.int64(32)")."""
    G = load_generator(tiny)
    im = Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 70, 3), np.uint8))
    whole = dict(size=48, tile=32, tile_overlap=8, max_pixels=10**6)
    want = np.asarray(translate(G, im, **whole))
    got = translate(G, im, **{k: np.int64(v) for k, v in whole.items()})
    assert got.size == (48, 27) and np.array_equal(np.asarray(got), want)


def test_translate_takes_a_generator_of_images_as_their_list(tiny, tmp_path):
    """`translate(G, map(Image.open, paths))` or a generator expression was refused ("got generator"), where a
    list of the same images is translated; a dict or bytes is still refused in one line."""
    G = load_generator(tiny)
    ims = [Image.new("RGB", (20 + 4 * i, 16), (40 * i, 90, 200)) for i in range(3)]
    want = [np.asarray(im) for im in translate(G, ims)]
    got = translate(G, (im for im in ims))
    assert isinstance(got, list) and all(np.array_equal(np.asarray(a), b) for a, b in zip(got, want, strict=True))
    assert translate(G, iter([])) == []
    for other in ({"a": ims[0]}, b"horse.png"):
        with pytest.raises(CycleGANError, match=r"^images: expected a PIL image, a path, a list of them"):
            translate(G, other)


@pytest.mark.parametrize("tiling", [{"tile": 0}, {"tile": 32, "tile_overlap": 8, "thumbnail": 0}])
def test_uint8_images_cross_to_the_device_as_bytes_and_translate_the_same(monkeypatch, tiling):
    """uint8 batches were made float32 on the CPU before their move to the device: 4x the bytes over a GPU's
    PCIe link. They move as uint8 now (what `.to(device)` is handed, recorded on the CPU) and are converted
    there, with the same result as the float images."""
    from cyclegan.inference import translate_batch
    from cyclegan.tiling import as_bytes, as_unit
    from cyclegan.translate_options import TilingOptions

    torch.manual_seed(0)
    G = build_generator(resolve({"preset": "paper", "ngf": 4, "n_blocks": 1}).model).eval()
    x = torch.randint(0, 256, (2, 3, 40, 56), dtype=torch.uint8)
    options = TilingOptions(**tiling)
    expected = translate_batch(G, as_unit(x.clone()), tiling=options)
    moved, to = [], torch.Tensor.to

    def recording_to(self, *args, **kwargs):
        if any(isinstance(a, torch.device) for a in (*args, *kwargs.values())):
            moved.append(self.dtype)
        return to(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "to", recording_to)
    out = translate_batch(G, x, tiling=options)
    assert moved and set(moved) == {torch.uint8}
    assert torch.equal(out, as_bytes(expected))


@pytest.mark.slow
@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize(
    "stream, fault, status, said",
    [
        (1, "full", 1, "error: cannot write to standard output (No space left on device)\n"),
        (1, "closed", 1, "error: cannot write to standard output (it is closed)\n"),
        (2, "full", 0, None),
        (2, "closed", 0, None),
    ],
)
def test_a_full_or_closed_stdout_or_stderr_stops_no_translation(tmp_path, stream, fault, status, said):
    """With stderr closed (`2>&-`) or full (`2>/dev/full`), the progress bar's first write raised out of
    translate: no image written, exit 1, a traceback nobody saw. Closed stdout (`>&-`) was an AttributeError
    traceback, and a full one stopped the work at the bar's flush of stdout. Now the images are written;
    a stdout that took nothing is said in one line."""
    import os
    import subprocess

    ckpt = save_tiny_checkpoint(tmp_path / "tiny.pt")
    Image.new("RGB", (24, 24), "red").save(tmp_path / "in.png")
    argv = [
        "translate",
        "--checkpoint",
        str(ckpt),
        "--out",
        str(tmp_path / "out"),
        "--progress",
        str(tmp_path / "in.png"),
    ]
    other = 3 - stream  # the stream that works, read here

    def fault_in() -> None:  # in the child, before Python starts: its stream as the shell leaves it
        if fault == "closed":
            os.close(stream)
        else:
            os.dup2(os.open("/dev/full", os.O_WRONLY), stream)

    pipes = {"stdout": subprocess.PIPE} if other == 1 else {"stderr": subprocess.PIPE}
    done = subprocess.run(
        [sys.executable, "-m", "cyclegan", *argv], preexec_fn=fault_in, text=True, timeout=300, **pipes
    )
    assert (tmp_path / "out" / "in.png").is_file()
    assert done.returncode == status, (done.stdout, done.stderr)
    if said is not None:
        assert "Traceback" not in done.stderr and done.stderr.splitlines()[-1] + "\n" == said


def test_transparent_images_are_said_once_to_be_put_on_white(tiny, tmp_path, capsys):
    """`translate` put a cut-out's transparency on white without a word, where `compare` and the web page say it:
    now one line for all of them after the images, in compare's words, and none for opaque images."""
    folder = tmp_path / "in"
    folder.mkdir()
    Image.new("RGB", (24, 16), (20, 120, 40)).save(folder / "opaque.png")
    cut_outs = [folder / f"cut{i}.png" for i in range(4)]
    for path in cut_outs:
        im = Image.new("RGBA", (24, 16), (200, 30, 30, 255))
        im.paste((0, 0, 0, 0), (0, 0, 12, 16))  # half transparent
        im.save(path)
    assert translate_cli(tiny, tmp_path / "out", folder) == 0
    err = capsys.readouterr().err
    assert err.count("transparency was put on white") == 1
    shown = ", ".join(map(str, sorted(cut_outs)[:3]))
    assert f"warning: 4 images' transparency was put on white, as translate reads it: {shown}, ..." in err
    assert len(list((tmp_path / "out").iterdir())) == 5
    assert translate_cli(tiny, tmp_path / "out2", folder / "opaque.png", cut_outs[0]) == 0
    err = capsys.readouterr().err
    assert f"warning: {cut_outs[0]}'s transparency was put on white, as translate reads it" in err
    assert translate_cli(tiny, tmp_path / "out3", folder / "opaque.png") == 0
    assert "transparency" not in capsys.readouterr().err
