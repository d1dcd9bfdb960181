"""A side-by-side grid of several runs' translations of a dataset's first test images.

    python benchmarks/grid.py --data /tmp/ablate/data64 --direction BtoA --rows 4 --out grid.png RUN [RUN ...]

Columns: input | each run's translation (its averaged generator when it kept one) | the truth, when the
dataset has one (the synthetic world: testA/NAME and testB/NAME are one scene). Any other dataset (e.g.
horse2zebra): input | each run, the inputs resized to --size.
"""

import argparse
import importlib.util
from pathlib import Path

import torch
from PIL import Image

from cyclegan.data.io import read_image, to_tensor
from cyclegan.demo import _read_all, _translate_all
from cyclegan.report import save_grid

spec = importlib.util.spec_from_file_location("ablate", Path(__file__).with_name("ablate.py"))
ablate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ablate)

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("runs", nargs="+", type=Path)
p.add_argument("--data", type=Path, required=True, help="the dataset root the runs trained on")
p.add_argument("--direction", choices=["AtoB", "BtoA"], default="BtoA")
p.add_argument("--rows", type=int, default=4)
p.add_argument("--scale", type=int, default=3, help="nearest-neighbour enlargement, to see the pixels")
p.add_argument("--size", type=int, help="resize the inputs to N x N px (datasets of other sizes)")
p.add_argument("--device", default="cpu")
p.add_argument("--out", type=Path, required=True)
a = p.parse_args()
src, dst = ("A", "B") if a.direction == "AtoB" else ("B", "A")
names = sorted(q.name for q in (a.data / f"test{src}").iterdir())[: a.rows]
paired = all((a.data / f"test{dst}" / n).exists() for n in names)
if a.size:
    inputs = torch.stack(
        [to_tensor(read_image(a.data / f"test{src}" / n).resize((a.size, a.size), Image.BICUBIC)) for n in names]
    )
else:
    inputs = _read_all([a.data / f"test{src}" / n for n in names])
columns = [inputs]
for run in a.runs:
    with torch.no_grad():
        columns.append(_translate_all(ablate.generator(run, a.direction, a.device), inputs.to(a.device)).cpu())
if paired and not a.size:
    columns.append(_read_all([a.data / f"test{dst}" / n for n in names]))
save_grid(columns, a.out)
with Image.open(a.out) as im:
    im.resize((im.width * a.scale, im.height * a.scale), Image.Resampling.NEAREST).save(a.out)
print(f"wrote {a.out}")
