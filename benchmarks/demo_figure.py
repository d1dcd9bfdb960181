"""The README's demo figure: a demo run's two grids side by side, enlarged.

python benchmarks/demo_figure.py runs/demo docs/images/demo_grids.png
"""

import argparse
from pathlib import Path

from PIL import Image

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("run", type=Path, help="a demo's --out folder (its grid_AtoB.png and grid_BtoA.png)")
parser.add_argument("out", type=Path, help="the figure to write (PNG)")
args = parser.parse_args()
run, out = args.run, args.out
grids = [Image.open(run / f"grid_{d}.png").convert("RGB") for d in ("AtoB", "BtoA")]
scale, gap = 2, 24
w, h = grids[0].size
figure = Image.new("RGB", (2 * w * scale + gap, h * scale), "white")
for i, grid in enumerate(grids):
    figure.paste(grid.resize((w * scale, h * scale), Image.Resampling.NEAREST), (i * (w * scale + gap), 0))
figure.save(out, optimize=True)
print(f"wrote {out}")
