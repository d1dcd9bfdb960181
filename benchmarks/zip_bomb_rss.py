"""Peak memory of `cyclegan translate` given a zip-bomb checkpoint, against the same command given a valid one
(docs/reliability.md, "Round two"): python benchmarks/zip_bomb_rss.py [--inflate-gib 1] [--folder DIR].

The bomb is a tiny valid checkpoint (ngf 4, one block) whose data.pkl is followed by zeros up to
--inflate-gib GiB, deflated: about 1 MB on disk. Each command runs in a fresh process that prints its own
peak RSS (ru_maxrss), so the figures do not mix.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from cyclegan.config import resolve
from cyclegan.models import build_models
from cyclegan.run_files import FORMAT
from helpers import zip_bomb  # the tests' bomb, so the benchmark measures the file they refuse

CHILD = (
    "import resource, sys; from cyclegan.cli import main; rc = main(sys.argv[1:]); "
    "print(f'rc={rc} peak_rss_mb={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}', file=sys.stderr)"
)


def valid_checkpoint(path: Path) -> Path:
    cfg = resolve({"ngf": 4, "ndf": 4, "n_blocks": 1, "size": 32})
    torch.manual_seed(0)
    models = build_models(cfg.model)
    torch.save(
        {
            "format": FORMAT,
            "config": cfg.to_dict(),
            "step": 1,
            "models": {k: m.state_dict() for k, m in models.items()},
        },
        path,
    )
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--inflate-gib", type=float, default=1.0)
    p.add_argument("--folder", type=Path, default=None, help="where the files go (default: a temporary folder)")
    a = p.parse_args()
    folder = a.folder or Path(tempfile.mkdtemp(prefix="zip-bomb-"))
    folder.mkdir(parents=True, exist_ok=True)
    valid = valid_checkpoint(folder / "valid.pth")
    bomb = zip_bomb(valid, folder / "bomb.pth", inflate=int(a.inflate_gib * 2**30))
    image = folder / "in.png"
    Image.new("RGB", (64, 64), (120, 80, 40)).save(image)
    with zipfile.ZipFile(bomb) as zf:
        expands = sum(i.file_size for i in zf.infolist())
    print(f"valid: {valid.stat().st_size} bytes; bomb: {bomb.stat().st_size} bytes, expands to {expands} bytes")
    for name, ckpt in (("valid", valid), ("bomb", bomb)):
        out = folder / f"out_{name}"
        cmd = [sys.executable, "-c", CHILD, "translate", "--checkpoint", str(ckpt), "--out", str(out), "--no-progress"]
        r = subprocess.run([*cmd, "--overwrite", str(image)], capture_output=True, text=True)
        lines = r.stderr.strip().splitlines()
        print(f"{name}: {lines[-1]}; {len(lines) - 1} line(s) before it: {lines[:-1]}")


if __name__ == "__main__":
    main()
