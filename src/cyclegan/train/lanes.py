"""Two lanes of work on two CPU cores: run two independent computations at once, each on one thread.

At the demo's size (64 px, 24-96 channels) one convolution split over two threads keeps the second core
only partly busy (2 threads give 1.4-1.7x one); CycleGAN's iteration has two chains of equal work that do
not touch each other's tensors until the generators' Adam step (G then F on x, F then G on y; D_X and D_Y),
so each runs on its own core, one thread each. PyTorch operators release the GIL, and autograd on the CPU
runs a backward on the thread that calls it, so two backwards run side by side.

Determinism: each lane computes single-threaded and in a fixed order, and the lanes share no tensor they
write (gradients are returned by `torch.autograd.grad`, not accumulated, and summed in lane order by the
caller), so a step's numbers do not depend on which lane finishes first: a resumed run continues exactly.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import torch


class Lanes:
    """A pool of two threads; `run(f, g)` returns (f(), g()) computed at once, one intra-op thread each."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="cyclegan-lane")

    def run(self, first: Callable[[], Any], second: Callable[[], Any]) -> tuple[Any, Any]:
        with _one_thread_per_op():
            a, b = self._pool.submit(first), self._pool.submit(second)
            return a.result(), b.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def __getstate__(self):  # a trainer deep-copied or pickled gets a fresh pool
        return {}

    def __setstate__(self, state) -> None:
        self.__init__()


@contextlib.contextmanager
def _one_thread_per_op():
    """torch's intra-op thread count is process-wide: 1 while the lanes run, as it was afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
