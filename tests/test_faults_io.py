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
    from cyclegan.tiling import TilingOptions
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
    # after the fix 120 MB; before it 415 MB
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
