"""Prototype: the demo's world with every training scene holding a house (test scenes unchanged).

    python benchmarks/results/house_rich_world_prototype.py WORK/data64 MIN_HOUSES   (1 in docs/results.md)

then `benchmarks/ablate.py ... --work WORK` trains on it (its `.complete` marks a 400-scene world).
"""

import sys
from pathlib import Path

from PIL import Image

from cyclegan.data.synthetic import SyntheticOptions, render, scene_for, write_dataset

if len(sys.argv) != 3:
    sys.exit(__doc__)
root, min_houses = Path(sys.argv[1]), int(sys.argv[2])
write_dataset(SyntheticOptions(str(root), size=64, count=400, test_count=40, seed=0, paired=False, progress=False))
for split in ("trainA", "trainB"):
    for f in (root / split).glob("*.png"):
        f.unlink()
index, counts = 2000, {"trainA": 0, "trainB": 0}
houses = 0
for split, style in (("trainA", "summer"), ("trainB", "winter")):
    while counts[split] < 400:
        s = scene_for(0, index)
        index += 1
        if len(s.houses) >= min_houses:
            Image.fromarray(render(s, style, 64)).save(root / split / f"{index:05d}.png")
            counts[split] += 1
            houses += len(s.houses)
(root / ".complete").write_text("400")
print("houses per scene", houses / 800, "last index", index)
