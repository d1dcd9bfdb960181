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
