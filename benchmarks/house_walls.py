"""Does a demo model's house blob follow the house or the wall colour? The synthetic world's test scene of the
grids' last row (test scene 5: a house at the right edge) re-rendered with its house in each of the world's wall
colours (`synthetic.WALLS`), and once with the blue-grey wall moved to the middle, translated winter -> summer by
each run; prints each run's mean |error| (grey levels) in a box around the house and on the wall's own pixels,
writes the grid.

    python benchmarks/house_walls.py --out house_walls.png RUN [RUN ...]

Columns: the winter input | each run's translation (its last checkpoint, averaged weights when kept) | the truth.
"""

import argparse
import dataclasses
from pathlib import Path

import torch
from PIL import Image

from cyclegan.data.io import to_tensor
from cyclegan.data.synthetic import WALLS, render, scene_for
from cyclegan.demo import WORLD_SEED, DemoSettings, _translate_all
from cyclegan.loading import load_generator
from cyclegan.report import save_grid

STYLES = ("winter", "summer")  # the input, the truth
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
winter, truth = (torch.stack([to_tensor(Image.fromarray(render(s, st, a.size))) for s in scenes]) for st in STYLES)
outs = []
for run in a.runs:
    with torch.no_grad():  # the run's averaged weights when it kept them, as translation uses
        outs.append(_translate_all(load_generator(run, "BtoA", device="cpu").eval(), winter))
print("mean |error| in a box around the house, grey levels; one column per run: " + " ".join(r.name for r in a.runs))
for i, s in enumerate(scenes):
    h = s.houses[0]
    x0, x1 = max(int((h.x - h.width / 2 - 0.03) * a.size), 0), int((h.x + h.width / 2 + 0.03) * a.size) + 1
    y0, y1 = int(0.44 * a.size), int(0.75 * a.size)
    errs = [(o[i, :, y0:y1, x0:x1] - truth[i, :, y0:y1, x0:x1]).abs().mean().item() * 127.5 for o in outs]
    # the wall's own pixels (the truth's wall colour, within 4 grey levels): a blob of the wrong colour shows there
    wall = ((truth[i] + 1) * 127.5 - torch.tensor(WALLS[h.wall]).view(3, 1, 1)).abs().amax(0) <= 4
    walls = [(o[i] - truth[i]).abs().mean(0)[wall].mean().item() * 127.5 for o in outs]
    print(f"wall {h.wall} {WALLS[h.wall]} at x {h.x:.2f}: " + " ".join(f"{e:5.1f}" for e in errs))
    print(f"  {int(wall.sum())} wall pixels only:        " + " ".join(f"{e:5.1f}" for e in walls))
save_grid([winter, *outs, truth], a.out)
with Image.open(a.out) as im:
    im.resize((im.width * a.scale, im.height * a.scale), Image.Resampling.NEAREST).save(a.out)
print(f"wrote {a.out}")
