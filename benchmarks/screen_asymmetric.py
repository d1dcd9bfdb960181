"""Screen: CycleGAN with more residual blocks in one generator than the other, at a fixed step count, on the
demo's synthetic world, scored against the truth (a one-off for issue #23, not a toolkit option: it swaps the
generator builder in this process only, and reads the weights back itself).

    python benchmarks/screen_asymmetric.py --split 1 3 --seeds 0 1 --steps 1587 --out asym.jsonl

--split G F: residual blocks of G (summer -> winter) and F (winter -> summer); the rest is the demo's recipe
(`ablate.py`'s `demo2`), computed as `ablate.py` does with --threads 1 --workers 0, two runs at a time.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import ablate  # noqa: E402


def run(g_blocks: int, f_blocks: int, seed: int, steps: int, work: str) -> dict:
    import torch

    import cyclegan.models as models
    from cyclegan.demo import _read_all, _translate_all, score
    from cyclegan.train import prepare_config, train

    torch.set_num_threads(1)

    def generator(cfg, built):  # G is built first, then F (the family's order)
        blocks = f_blocks if "G" in built else g_blocks
        return models.build_generator(dataclasses.replace(cfg.model, n_blocks=blocks))

    models.NETWORK_KINDS["generator"] = generator
    variant = f"demo2+g{g_blocks}f{f_blocks}"
    out, data = Path(work) / "runs" / f"{variant}_s{seed}", Path(work) / "data64"
    overrides = {
        **ablate.VARIANTS["demo2"],
        "steps": steps,
        "size": 64,
        "data": str(data),
        "out": str(out),
        "seed": seed,
        "device": "cpu",
        "sample_every": 0,
        "checkpoint_every": 0,
        "compile": "off",
        "num_workers": 0,
    }
    cfg, _ = prepare_config(overrides, resume=False, out=str(out))
    t0 = time.perf_counter()
    train(cfg, progress=False)
    result = {"variant": variant, "seed": seed, "steps": steps, "train_seconds": round(time.perf_counter() - t0, 1)}
    ckpt = torch.load(out / "checkpoint.pt", weights_only=True, map_location="cpu")
    names = sorted(p.name for p in (data / "testA").glob("*.png"))
    test = {s: _read_all([data / f"test{s}" / n for n in names]) for s in "AB"}
    for direction, name, blocks in (("AtoB", "G", g_blocks), ("BtoA", "F", f_blocks)):
        net = models.build_generator(dataclasses.replace(cfg.model, n_blocks=blocks))
        net.load_state_dict((ckpt.get("ema") or {}).get(name) or ckpt["models"][name])
        src, dst = direction[0], direction[-1]
        result[direction] = score(_translate_all(net.eval(), test[src]), test[src], test[dst])
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--split", nargs=2, type=int, default=[1, 3], metavar=("G", "F"))
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--steps", type=int, default=1587, help="the fp32 budget's steps for the 2-block recipe")
    p.add_argument("--work", default="/tmp/ablate")
    p.add_argument("--out", default="asymmetric.jsonl")
    a = p.parse_args()
    ablate.make_data(Path(a.work) / "data64", 64, seed=0)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool, open(a.out, "a") as log:
        futures = [pool.submit(run, *a.split, s, a.steps, a.work) for s in a.seeds]
        for f in as_completed(futures):
            r = f.result()
            log.write(json.dumps(r) + "\n")
            log.flush()
            print(r["variant"], "seed", r["seed"], r["AtoB"]["psnr"], r["BtoA"]["psnr"], flush=True)


if __name__ == "__main__":
    main()
