"""A side-by-side grid of several runs' translations of the synthetic world's first test scenes.

    python benchmarks/grid.py --data /tmp/ablate/data64 --direction BtoA --rows 4 --out grid.png RUN [RUN ...]

Columns: input | each run's translation (its averaged generator when it kept one) | the truth.
"""

import argparse
import importlib.util
from pathlib import Path

from PIL import Image

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
p.add_argument("--out", type=Path, required=True)
a = p.parse_args()
src, dst = ("A", "B") if a.direction == "AtoB" else ("B", "A")
names = sorted(q.name for q in (a.data / "testA").glob("*.png"))[: a.rows]
inputs, truth = (_read_all([a.data / f"test{s}" / n for n in names]) for s in (src, dst))
columns = [inputs, *(_translate_all(ablate.generator(run, a.direction, "cpu"), inputs) for run in a.runs), truth]
save_grid(columns, a.out)
with Image.open(a.out) as im:
    im.resize((im.width * a.scale, im.height * a.scale), Image.Resampling.NEAREST).save(a.out)
print(f"wrote {a.out}")
