"""Round two of the hostile probe, inputs and outputs: a file that changes while it is read costs only itself;
two runs into one folder never write the same file; no output lands on a resolved input, inside a test
split, or through a symbolic link; `--max-memory` bounds the process; wrong reasons given their right ones.

Tiny images and generators made here. Processes are started only where the attack needs one (a signal that
kills, two runs at once, a peak RSS); those tests are marked slow.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import make_images
from cyclegan.cli import main
from cyclegan.errors import counted
from helpers import save_tiny_checkpoint

POSIX = pytest.mark.skipif(os.name != "posix", reason="signals, FIFOs and flock are POSIX")


def one_line_error(capsys) -> str:
    """The stderr of a refused command: exactly one line, `error: ...`, no traceback."""
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def python(script: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `script` (Python source) in a fresh interpreter with one thread; returns the finished process."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args], capture_output=True, text=True, env=env, timeout=timeout
    )


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    return save_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


# --- a file that changes while it is read --------------------------------------------------------------------

# Shrinks bad.tif to its header once PIL has read that far: just after PIL maps the file (how PIL reads an
# uncompressed TIFF opened by name: the pages beyond the new end then fault with SIGBUS), or, where the
# file is read through a file object, just before the pixels are read.
SHRINK_WHILE_READING = """
    import mmap, os, sys
    import PIL.ImageFile as IF
    from cyclegan.cli import main

    victim = sys.argv[1]
    def shrink():
        with open(victim, "rb+") as f:
            f.truncate(256)

    real_mmap, real_load = mmap.mmap, IF.ImageFile.load
    def mapped(fileno, *args, **kwargs):
        m = real_mmap(fileno, *args, **kwargs)
        if os.path.samestat(os.fstat(fileno), os.stat(victim)):
            shrink()
        return m
    def load(self):
        if not self.filename and self.fp and os.path.samestat(os.fstat(self.fp.fileno()), os.stat(victim)):
            shrink()
        return real_load(self)
    mmap.mmap, IF.ImageFile.load = mapped, load  # PIL imports mmap where it maps
    sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.slow
@POSIX
def test_a_file_that_shrinks_while_it_is_read_costs_only_itself(ckpt, tmp_path):
    """The probe's SIGBUS (exit 135, nothing written): now the shrunk TIFF is named, the PNG written, exit 1."""
    src = tmp_path / "in"
    make_images(src, 1, seed=1)
    bad = src / "bad.tif"
    Image.fromarray(np.full((64, 64), 128, np.uint8)).save(bad)  # uncompressed greyscale, as in the probe
    out = tmp_path / "out"
    args = ["translate", "--checkpoint", str(ckpt), "--out", str(out), "--no-progress", str(src)]
    done = python(SHRINK_WHILE_READING, str(bad), *args)
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])  # -7 (SIGBUS) before the fix
    assert sorted(p.name for p in out.iterdir()) == ["img_000.png"], done.stderr
    named = [x for x in done.stderr.splitlines() if "bad.tif" in x]
    assert len(named) == 1 and named[0].startswith("error: cannot read image") and "Traceback" not in done.stderr


# --- --max-memory bounds the process ---------------------------------------------------------------------

PEAK_OF_A_TRANSLATION = """
    import resource, sys
    import torch
    from cyclegan.loading import load_generator
    from cyclegan.translate_options import TilingOptions
    from cyclegan.translation import translate_files

    ckpt, small, big, out = sys.argv[1:5]
    net = load_generator(ckpt)
    tiling = TilingOptions(max_memory=float(sys.argv[5]))
    translate_files(net, [small], out + "-warm", progress=False, tiling=tiling)  # allocator, threads, caches
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    written, errors = translate_files(net, [big], out, progress=False, tiling=tiling)
    assert written and not errors, errors
    print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024)  # bytes (Linux: KiB)
"""


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss in KiB is Linux's")
def test_peak_memory_follows_max_memory_not_the_image_size(ckpt, tmp_path):
    """A 3000 x 2400 photo (7.2 MP) under --max-memory 0.03: the process grows by the image's bytes (decoded,
    input and output at 3-4 bytes a pixel) and the budget, not by float copies of the whole image (12 bytes
    a pixel each: 415 MB here before the fix)."""
    w, h = 3000, 2400
    rng = np.random.default_rng(0)
    coarse = Image.fromarray(rng.integers(0, 255, (h // 50, w // 50, 3), dtype=np.uint8))
    coarse.resize((w, h), Image.Resampling.BILINEAR).save(tmp_path / "big.png", compress_level=1)
    make_images(tmp_path / "small", 1, seed=0)
    budget = 0.03
    done = python(
        PEAK_OF_A_TRANSLATION,
        str(ckpt),
        str(tmp_path / "small"),
        str(tmp_path / "big.png"),
        str(tmp_path / "out"),
        str(budget),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    grown = int(done.stdout.split()[-1])
    assert Image.open(tmp_path / "out" / "big.png").size == (w, h)
    # after the fix 112 MB; before it 415 MB
    assert grown < 24 * w * h + 2 * budget * 1e9, f"{grown / 1e6:.0f} MB"


def test_tiles_too_small_to_be_useful_are_refused_naming_the_option(ckpt, tmp_path, capsys):
    make_images(tmp_path / "in", 1, seed=0, size=(64, 64))
    args = ["translate", "--out", str(tmp_path / "out"), "--no-progress", str(tmp_path / "in")]
    # At option-check time, before the model loads: a missing checkpoint would fail later.
    assert main([*args, "--checkpoint", str(tmp_path / "missing.pt"), "--tile", "9", "--tile-overlap", "4"]) == 2
    assert "option '--tile' 9 is under the smallest useful tile" in one_line_error(capsys)
    # A budget whose tiles would be 24 px: refused in one line (it silently used 8 px tiles before).
    assert main([*args, "--checkpoint", str(ckpt), "--max-memory", "0.0001"]) == 2
    err = one_line_error(capsys)
    assert "option '--max-memory' 0.0001" in err and "give at least" in err
    assert not (tmp_path / "out" / "img_000.png").exists()


# --- two runs into one folder never write the same file --------------------------------------------------------

# Saving is slowed down (20 ms an image), so the two runs' writing overlaps whatever their start-up times.
SLOW_SAVES = """
    import sys, time
    from PIL import Image
    from cyclegan.cli import main

    save = Image.Image.save
    def slow_save(self, *args, **kwargs):
        time.sleep(0.02)
        return save(self, *args, **kwargs)
    Image.Image.save = slow_save
    sys.exit(main(sys.argv[1:]))
"""


def _run_claims(rc: int, stdout: str, stderr: str, targets: list[Path]) -> list[Path]:
    """The outputs a finished run says it wrote: none if it was refused, else its targets less those named."""
    if rc == 2:
        assert "wrote" not in stdout and stderr.startswith("error: ") and stderr.count("\n") == 1, stderr
        return []
    assert f"wrote {counted(len(targets) - stderr.count(' left alone'), 'file')}" in stdout, (stdout, stderr)
    return [t for t in targets if str(t) not in stderr]


@pytest.mark.slow
@POSIX
def test_two_translate_runs_into_one_folder_lose_no_output(ckpt, tmp_path):
    """The probe: both runs said "wrote 50", and 12 files were one run's, 38 the other's. Now every output a
    run claims is there and is its own (the runs' inputs differ in size, so the files tell who wrote them)."""
    n, sides = 100, {"a": 16, "b": 20}
    for name, side in sides.items():
        make_images(tmp_path / name, n, seed=0, size=(side, side))
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    runs = {
        name: subprocess.Popen(
            [
                sys.executable,
                "-c",
                textwrap.dedent(SLOW_SAVES),
                "translate",
                str(tmp_path / name),
                "--checkpoint",
                str(ckpt),
                "--out",
                str(out),
                "--no-progress",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for name in sides
    }
    targets = [out / f"img_{i:03d}.png" for i in range(n)]
    results = {name: (p.wait(timeout=300), p.stdout.read(), p.stderr.read()) for name, p in runs.items()}
    assert 0 in [rc for rc, _, _ in results.values()], results  # at least one run succeeds
    for name, (rc, stdout, stderr) in results.items():
        for target in _run_claims(rc, stdout, stderr, targets):
            assert Image.open(target).size == (sides[name],) * 2, (name, target, stdout)  # its own file
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no lock or temporary file left


def test_a_file_another_program_creates_meanwhile_is_left_alone(ckpt, tmp_path, monkeypatch, capsys):
    """Outputs are created exclusively: a file that appears at an output's name after the check (here, while
    the model loads) is not replaced; it is named, the other outputs written, exit 1."""
    import cyclegan.translation as translation

    make_images(tmp_path / "in", 2, seed=0)
    out = tmp_path / "out"
    load = translation.load_generator

    def load_while_another_program_writes(*args, **kwargs):
        out.mkdir(exist_ok=True)
        (out / "img_001.png").write_bytes(b"theirs")
        return load(*args, **kwargs)

    monkeypatch.setattr(translation, "load_generator", load_while_another_program_writes)
    args = ["translate", str(tmp_path / "in"), "--checkpoint", str(ckpt), "--out", str(out), "--no-progress"]
    assert main(args) == 1  # 0 before the fix, with "theirs" overwritten
    err = capsys.readouterr().err
    assert f"{out / 'img_001.png'} was created by another program while this run worked; left alone" in err
    assert (out / "img_001.png").read_bytes() == b"theirs" and Image.open(out / "img_000.png").size == (48, 40)


def test_a_second_run_on_a_busy_output_folder_stops_before_work(ckpt, tmp_path, capsys):
    from cyclegan.files import FolderLock

    make_images(tmp_path / "in", 1, seed=0)
    out = tmp_path / "out"
    held = FolderLock(out)
    assert held.acquire()
    try:  # a lock is per open file: this process's own second lock is refused as another process's would be
        args = ["translate", str(tmp_path / "in"), "--checkpoint", str(ckpt), "--out", str(out), "--no-progress"]
        assert main(args) == 2
        assert f"option '--out': {out} is in use by another run writing there (PID {os.getpid()})" in one_line_error(
            capsys
        )
    finally:
        held.release()
    assert not (out / "img_000.png").exists()


# --- writing never follows a symbolic link -----------------------------------------------------------------------


@POSIX
def test_overwrite_replaces_a_symbolic_link_and_never_writes_through_it(ckpt, dataset, tmp_path, capsys):
    victim = tmp_path / "elsewhere" / "victim.png"
    victim.parent.mkdir()
    victim.write_bytes(b"not yours")
    make_images(tmp_path / "in", 1, seed=0)
    out = tmp_path / "out"
    out.mkdir()
    (out / "img_000.png").symlink_to(victim)
    args = ["translate", str(tmp_path / "in"), "--checkpoint", str(ckpt), "--out", str(out), "--no-progress"]
    assert main([*args, "--overwrite"]) == 0
    assert victim.read_bytes() == b"not yours"  # the translation went into the link's target before the fix
    assert not (out / "img_000.png").is_symlink() and Image.open(out / "img_000.png").size == (48, 40)
    # evaluate --save-images alike
    saved = tmp_path / "saved"
    (saved / "AtoB").mkdir(parents=True)
    (saved / "AtoB" / "img_000.png").symlink_to(victim)
    args = ["evaluate", "--checkpoint", str(ckpt), "--data", str(dataset), "--direction", "AtoB", "--no-progress"]
    assert main([*args, "--save-images", str(saved), "--overwrite", "--kid-subsets", "2"]) == 0
    assert victim.read_bytes() == b"not yours" and not (saved / "AtoB" / "img_000.png").is_symlink()


# --- never onto the inputs, compared as files ----------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated")
def test_export_onto_the_file_behind_its_checkpoint_is_refused(ckpt, tmp_path, monkeypatch, capsys):
    """The probe's `export --checkpoint pretrained:NAME --out $CYCLEGAN_HOME/pretrained/NAME.pth --overwrite`
    replaced the cached generator; a symlink or a hard link to the checkpoint is the same file too."""
    monkeypatch.setenv("CYCLEGAN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CYCLEGAN_PRETRAINED_URL", "http://127.0.0.1:9/")  # a mirror: any name; never reached
    cached = tmp_path / "home" / "pretrained" / "tiny.pth"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(ckpt.read_bytes())
    before = cached.read_bytes()
    (tmp_path / "link.pt").symlink_to(ckpt)
    os.link(ckpt, tmp_path / "hard.pt")
    args = ["export", "--format", "torchscript", "--no-check", "--overwrite"]
    for checkpoint, out in [
        ("pretrained:tiny", cached),  # exit 0 and the cache replaced before the fix
        (str(ckpt), tmp_path / "link.pt"),
        (str(ckpt), tmp_path / "hard.pt"),
    ]:
        assert main([*args, "--checkpoint", checkpoint, "--out", str(out)]) == 2
        assert "would replace the input" in one_line_error(capsys)
    assert cached.read_bytes() == before and ckpt.read_bytes() == before
    assert main([*args, "--checkpoint", "pretrained:tiny", "--out", str(tmp_path / "g.pt")]) == 0  # elsewhere: fine


def test_evaluate_out_inside_the_test_split_is_refused(ckpt, dataset, tmp_path, capsys):
    """`evaluate --out data/testA/eval.json` was accepted (and as zzz.png broke the next evaluate)."""
    args = ["evaluate", "--checkpoint", str(ckpt), "--data", str(dataset), "--no-progress"]
    for out in [dataset / "testA" / "eval.json", dataset / "testB" / "sub" / "zzz.png", ckpt]:
        assert main([*args, "--out", str(out), "--overwrite"]) == 2
        err = one_line_error(capsys)
        assert ("inside the input folder" in err or "would replace the input" in err) and str(out) in err
    assert not (dataset / "testA" / "eval.json").exists() and not (dataset / "testB" / "sub").exists()


# --- the right reasons ---------------------------------------------------------------------------------------


@POSIX
def test_a_device_or_fifo_given_or_found_is_named_for_what_it_is(ckpt, tmp_path, capsys):
    src = tmp_path / "in"
    make_images(src, 1, seed=0)
    os.mkfifo(src / "pipe.png")  # opened, it would wait for a writer forever
    args = ["translate", "--checkpoint", str(ckpt), "--out", str(tmp_path / "out"), "--no-progress"]
    assert main([*args, str(src), "/dev/zero"]) == 1
    err = capsys.readouterr().err
    assert f"error: {src / 'pipe.png'}: not a regular file (a FIFO), skipped" in err  # silently skipped before
    assert "error: /dev/zero: not a regular file (a character device)" in err  # "no such file or folder" before
    assert [p.name for p in (tmp_path / "out").iterdir() if not p.name.startswith(".")] == ["img_000.png"]


@POSIX
def test_resume_on_a_busy_run_folder_names_the_running_pid(tmp_path, capsys):
    """A run that has not saved its first checkpoint yet holds the folder: a second `--resume` used to say
    "nothing to resume"."""
    from cyclegan.files import FolderLock

    run = tmp_path / "run"
    held = FolderLock(run)
    assert held.acquire()
    try:  # a lock is per open file: this process's own second look sees it as another process's
        assert main(["train", "--out", str(run), "--resume", "--no-progress"]) == 2
        err = one_line_error(capsys)
        assert f"{run} is in use by another training run (PID {os.getpid()})" in err
    finally:
        held.release()
    assert main(["train", "--out", str(run), "--resume", "--no-progress"]) == 2
    assert "nothing to resume" in one_line_error(capsys)  # once it has ended, with nothing saved
