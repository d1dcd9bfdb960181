"""Does a demo model's house blob follow the house or the wall colour? The synthetic world's test scene of the
grids' last row (test scene 5: a house at the right edge) re-rendered with its house in each of the world's wall
colours (`synthetic.WALLS`), and once with the blue-grey wall moved to the middle, translated winter -> summer by
each run; prints each run's mean |error| (grey levels) in a box around the house, writes the grid.

    python benchmarks/house_walls.py --out house_walls.png RUN [RUN ...]

Columns: the winter input | each run's translation (its last checkpoint, averaged weights when kept) | the truth.
"""

import argparse
import dataclasses
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from cyclegan.data.synthetic import WALLS, render, scene_for
from cyclegan.demo import WORLD_SEED, DemoSettings
from cyclegan.loading import load_generator

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("runs", nargs="+", type=Path)
p.add_argument("--out", type=Path, required=True)
p.add_argument("--size", type=int, default=64)
p.add_argument("--scale", type=int, default=3, help="nearest-neighbour enlargement, to see the pixels")
a = p.parse_args()

scene = scene_for(WORLD_SEED, 2 * DemoSettings().train_count + 5)  # test scenes follow the 2 x count training ones
(house,) = scene.houses
scenes = [dataclasses.replace(scene, houses=(dataclasses.replace(house, wall=w),)) for w in range(len(WALLS))]
scenes.append(dataclasses.replace(scene, houses=(dataclasses.replace(house, wall=len(WALLS) - 1, x=0.5),)))
winter = [render(s, "winter", a.size) for s in scenes]
truth = [render(s, "summer", a.size) for s in scenes]
x = torch.stack([torch.from_numpy(w.copy()).permute(2, 0, 1).float() / 127.5 - 1 for w in winter])
outs = []
for run in a.runs:
    G = load_generator(run / "checkpoint.pt" if run.is_dir() else run, "BtoA", device="cpu").eval()
    with torch.no_grad():
        outs.append(G(x).clamp(-1, 1).add(1).mul(127.5).round().byte().permute(0, 2, 3, 1).numpy())
print("mean |error| in a box around the house, grey levels; one column per run: " + " ".join(r.name for r in a.runs))
for i, s in enumerate(scenes):
    h = s.houses[0]
    x0, x1 = max(int((h.x - h.width / 2 - 0.03) * a.size), 0), int((h.x + h.width / 2 + 0.03) * a.size) + 1
    y0, y1 = int(0.44 * a.size), int(0.75 * a.size)
    errs = [np.abs(o[i, y0:y1, x0:x1].astype(int) - truth[i][y0:y1, x0:x1].astype(int)).mean() for o in outs]
    print(f"wall {h.wall} {WALLS[h.wall]} at x {h.x:.2f}: " + " ".join(f"{e:5.1f}" for e in errs))
cell = a.size + 2
canvas = Image.new("RGB", ((2 + len(outs)) * cell, len(scenes) * cell), "white")
for i in range(len(scenes)):
    for j, img in enumerate([winter[i], *(o[i] for o in outs), truth[i]]):
        canvas.paste(Image.fromarray(np.ascontiguousarray(img)), (j * cell, i * cell))
canvas.resize((canvas.width * a.scale, canvas.height * a.scale), Image.NEAREST).save(a.out)
print(f"wrote {a.out}")
