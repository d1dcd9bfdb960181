"""A run's two sample grids side by side (AtoB left, BtoA right): the README's demo figure, enlarged, and
docs/results.md's evaluation grids.

python benchmarks/demo_figure.py runs/demo docs/images/demo_grids.png
python benchmarks/demo_figure.py --scale 1 --gap 8 EVAL/02_step300 docs/results/h2z_paper_step300.png

FOLDER is a demo's --out (grid_AtoB.png, grid_BtoA.png) or a folder `cyclegan evaluate --save-images` wrote
(AtoB_grid.png, BtoA_grid.png; with several checkpoints, one NN_stepS/ folder each).
"""

import argparse
from pathlib import Path

from PIL import Image

DIRECTIONS = ("AtoB", "BtoA")


def grid_files(folder: Path) -> list[Path]:
    """The two grids of a demo's folder, or of an evaluation's --save-images folder."""
    for names in ([f"grid_{d}.png" for d in DIRECTIONS], [f"{d}_grid.png" for d in DIRECTIONS]):
        if all((folder / n).is_file() for n in names):
            return [folder / n for n in names]
    raise SystemExit(f"{folder}: no grid_AtoB.png and grid_BtoA.png (a demo's) nor AtoB_grid.png and BtoA_grid.png")


def side_by_side(grids: list[Image.Image], *, scale: int, gap: int) -> Image.Image:
    """The grids enlarged `scale` times (nearest neighbour: pixels stay pixels), `gap` white pixels apart."""
    w, h = grids[0].size
    figure = Image.new("RGB", (2 * w * scale + gap, h * scale), "white")
    for i, grid in enumerate(grids):
        figure.paste(grid.resize((w * scale, h * scale), Image.Resampling.NEAREST), (i * (w * scale + gap), 0))
    return figure


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="a demo's --out folder, or an evaluate --save-images folder")
    parser.add_argument("out", type=Path, help="the figure to write (PNG)")
    parser.add_argument("--scale", type=int, default=2, help="enlargement (default 2: the demo's 64 px cells)")
    parser.add_argument("--gap", type=int, default=24, help="white pixels between the two grids (default 24)")
    args = parser.parse_args()
    grids = [Image.open(f).convert("RGB") for f in grid_files(args.run)]
    side_by_side(grids, scale=args.scale, gap=args.gap).save(args.out, optimize=True)
    print(f"wrote {args.out}")
