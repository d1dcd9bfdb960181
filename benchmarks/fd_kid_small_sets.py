"""How rough FD and KID are on small test sets: Lite0 features of the synthetic world's scenes, two samples of one
season (summer against summer: what noise and small-set bias alone give) and summer against winter, at set sizes
from 2 to 200, each over `--draws` random draws; `cyclegan evaluate`'s note under FEW_FOR_FD_KID images comes from it.

    python benchmarks/fd_kid_small_sets.py [--scenes 400] [--size 64] [--draws 8] [--json OUT.json]

Prints per set size the mean and std over the draws of FD and KID (20 KID subsets a draw), same season and
across; about 3 minutes on 2 CPU cores, most of it Lite0's features.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from cyclegan.data.synthetic import render, scene_for
from cyclegan.evaluate.distances import feature_distances
from cyclegan.evaluate.features import load_lite0

SIZES = (2, 3, 5, 10, 20, 50, 100, 200)


def season_features(net: torch.nn.Module, season: str, scenes: int, size: int) -> torch.Tensor:
    """Lite0 features (scenes, 1280) of the world's first `scenes` scenes (seed 0) in `season`."""
    images = np.stack([render(scene_for(0, i), season, size) for i in range(scenes)])
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1  # (N, 3, size, size) in [-1, 1]
    return torch.cat([net(x[i : i + 50]) for i in range(0, scenes, 50)])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenes", type=int, default=400)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--draws", type=int, default=8)
    p.add_argument("--json")
    args = p.parse_args()
    torch.set_num_threads(1)
    net = load_lite0()
    summer, winter = (season_features(net, s, args.scenes, args.size) for s in ("summer", "winter"))
    rng = np.random.default_rng(0)
    out = {}
    for n in (n for n in SIZES if 2 * n <= args.scenes):
        rows: dict[str, list[float]] = {"cross_fd": [], "same_fd": [], "cross_kid": [], "same_kid": []}
        for _ in range(args.draws):
            i = rng.permutation(args.scenes)
            a, b, j = i[:n], i[n : 2 * n], rng.permutation(args.scenes)[:n]
            cross = feature_distances(summer[a], winter[j], subsets=20)
            same = feature_distances(summer[a], summer[b], subsets=20)
            rows["cross_fd"].append(cross.fd), rows["same_fd"].append(same.fd)
            rows["cross_kid"].append(cross.kid), rows["same_kid"].append(same.kid)
        out[n] = {k: (float(np.mean(v)), float(np.std(v))) for k, v in rows.items()}
        print(n, "  ".join(f"{k} {m:.3f} ± {sd:.3f}" for k, (m, sd) in out[n].items()), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"command": vars(args), "mean_std_by_size": out}, f, indent=1)


if __name__ == "__main__":
    main()
