"""Shared fixtures: tiny image folders and a tiny, fast model configuration made in the test."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# Small enough that a training step takes milliseconds, big enough to exercise every layer type.
TINY = {
    "preset": "paper",
    "ngf": 8,
    "ndf": 8,
    "n_blocks": 1,
    "size": 32,
    "batch_size": 2,
    "pool_size": 3,
    "num_workers": 0,
    "log_every": 1,
    "sample_every": 0,
    "checkpoint_every": 0,
    "num_samples": 2,
}


# The catalogue's generators are the paper's ResNet of 9 blocks and 64 filters (45 MB each): the tests put tiny ones
# under its names (`helpers.tiny_published_generator`), which the check that a published name's file holds the
# network the catalogue says (`zoo.published_mismatch`) takes for the published architecture.
TINY_PUBLISHED = {"ngf": 8, "depth": 2}


@pytest.fixture(autouse=True)
def no_real_time_policy() -> None:
    """Each test under the normal scheduling policy. A CI run found its pytest process under SCHED_FIFO 99: SVT-AV1,
    the AV1 encoder reached through PyAV, run as root puts the thread that opens it there (a clip written as AV1 by a
    translation, or by a test's own source clip), and the threads it starts next inherit it; the Chromium and
    Playwright processes of a browser test did, and each spun a core at 100 %, starving the server they waited on: a
    livelock that held the suite for 17 minutes until they were killed. `clipio._not_real_time` now keeps a
    translation's encoder threads off it and `test_video.normal_policy` puts a test's writer back; this fixture
    still puts the policy back to SCHED_OTHER, and says so, before each test."""
    realtime = (getattr(os, "SCHED_FIFO", None), getattr(os, "SCHED_RR", None))
    if hasattr(os, "sched_getscheduler") and os.sched_getscheduler(0) in realtime:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
        warnings.warn("the test process ran under a real-time scheduling policy: put back to SCHED_OTHER", stacklevel=1)


@pytest.fixture(autouse=True)
def tiny_published_architecture(monkeypatch) -> dict:
    """The tiny architecture put in the catalogue's place; gives the catalogue's own, which a test of the real
    published files' layout puts back (a test that wrote it out again checked its own copy, not the code's)."""
    from cyclegan import zoo

    catalogues = zoo.PUBLISHED_ARCHITECTURE
    monkeypatch.setattr(zoo, "PUBLISHED_ARCHITECTURE", {**catalogues, **TINY_PUBLISHED})
    return catalogues


def make_images(folder: Path, n: int, *, seed: int, size=(48, 40), tint=(0, 0, 0)) -> list[Path]:
    """n smooth random RGB PNGs (W x H = size) with a colour tint, so two domains differ."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        base = rng.integers(0, 200, (size[1] // 8 + 1, size[0] // 8 + 1, 3)).astype(np.uint8)
        im = Image.fromarray(base).resize(size, Image.Resampling.BILINEAR)
        arr = np.clip(np.asarray(im).astype(int) + np.array(tint), 0, 255).astype(np.uint8)
        path = folder / f"img_{i:03d}.png"
        Image.fromarray(arr).save(path)
        paths.append(path)
    return paths


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """ROOT/trainA (5), trainB (7: a different size), testA (3), testB (3)."""
    root = tmp_path / "data"
    make_images(root / "trainA", 5, seed=1, tint=(40, 0, 0))
    make_images(root / "trainB", 7, seed=2, tint=(0, 0, 40))
    make_images(root / "testA", 3, seed=3, tint=(40, 0, 0))
    make_images(root / "testB", 3, seed=4, tint=(0, 0, 40))
    return root


@pytest.fixture
def tiny_cfg(dataset: Path, tmp_path: Path):
    from cyclegan.config import resolve

    def make(**overrides):
        return resolve({**TINY, "data": str(dataset), "out": str(tmp_path / "run"), **overrides})

    return make


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A run folder holding a tiny checkpoint trained for 2 steps (G and F), shared by a test module."""
    import torch

    from cyclegan.config import resolve
    from cyclegan.train import train

    root = tmp_path_factory.mktemp("data")
    make_images(root / "trainA", 3, seed=1)
    make_images(root / "trainB", 3, seed=2)
    out = tmp_path_factory.mktemp("run")
    torch.set_num_threads(1)
    train(resolve({**TINY, "data": str(root), "out": str(out), "steps": 2}), progress=False)
    return out


def _process_wide_locks() -> list[tuple[str, object]]:
    """The locks every thread of a process shares that a job takes (a tqdm bar's, even a disabled one's; a
    network's build and use), from the modules already imported: tests import torch only where they need it."""
    import sys

    locks = []
    if (tqdm_std := sys.modules.get("tqdm.std")) is not None:
        locks += [(f"tqdm's lock {i}", lock) for i, lock in enumerate(tqdm_std.tqdm.get_lock().locks)]
    if (inference := sys.modules.get("cyclegan.inference")) is not None:
        locks.append(("cyclegan.inference._IN_USE_GUARD", inference._IN_USE_GUARD))
    if (loading := sys.modules.get("cyclegan.loading")) is not None:
        locks.append(("cyclegan.loading._BUILDING", loading._BUILDING))
    return locks


@pytest.fixture(autouse=True)
def _no_lock_left_held():
    """A test that leaves a process-wide lock held (an exception between a lock's acquire and its block, a
    generator suspended inside one) fails here, by name: it was the next test that starts a thread that hung,
    without a word, as the CI's clean clone once did in tests/test_web.py (its main thread re-enters an RLock
    it holds; a worker thread waits for ever)."""
    import threading

    yield
    held = []

    def probe() -> None:
        for name, lock in _process_wide_locks():
            if lock.acquire(timeout=5):
                lock.release()
            else:
                held.append(name)

    other = threading.Thread(target=probe, name="lock probe")  # a lock the test's thread holds is re-entrant for it
    other.start()
    other.join()
    assert not held, f"this test left {', '.join(held)} held: any other thread taking it would wait for ever"


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny tensors run fastest on one thread, and a busy shared machine does not make threads spin."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
