"""Training across processes and machines with torchrun: process group, roles, and the loop's collectives.

`torchrun --nproc_per_node N -m cyclegan train ...` starts N copies of the command with RANK, WORLD_SIZE,
LOCAL_RANK (and the rendezvous) in their environment. Each process takes its slice of every global batch
(`StepSampler`), the networks are wrapped in DistributedDataParallel (gradients averaged over all
processes), rank 0 alone logs, writes samples and writes the checkpoint, into which every rank puts its
own RNG and image pools, and every rank resumes from the checkpoint.
Backends: NCCL for CUDA, gloo for CPU; under NCCL a second, gloo group carries the small CPU-side flags
(stop requests, per-rank states) so they never wait on the GPU.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import Sampler

from ..errors import CycleGANError, counted


@dataclass(frozen=True)
class Dist:
    """This process's place in the run (rank 0 of 1 without torchrun)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1
    control: Any = None  # gloo process group for CPU-side collectives

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


ONE_PROCESS = Dist()  # a run without torchrun


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


def setup(device: torch.device) -> tuple[Dist, torch.device]:
    """Join the process group torchrun prepared (if any); returns the context and this rank's device."""
    if not launched_by_torchrun():
        return ONE_PROCESS, device
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    if device.type == "cuda":
        if device.index is not None and device.index != local_rank:
            raise CycleGANError(
                f"option 'device': under torchrun each process uses cuda:LOCAL_RANK; pass --device "
                f"cuda or auto instead of {device}"
            )
        if local_rank >= torch.cuda.device_count():
            n = torch.cuda.device_count()
            raise CycleGANError(
                f"torchrun started {local_world} processes on this machine but it has {counted(n, 'GPU')}: use "
                "--nproc_per_node <= the GPU count"
            )
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    elif device.type != "cpu":
        raise CycleGANError(f"option 'device': training across processes supports cuda and cpu, not {device.type}")
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    control = dist.new_group(backend="gloo") if dist.get_backend() != "gloo" else dist.group.WORLD
    return Dist(rank, world, local_rank, local_world, control), device


def shutdown(d: Dist, *, barrier: bool = True) -> None:
    """Leave the process group, after every rank got here (`barrier`). Not after an error: one raised on this rank
    alone (an image lost under torchrun) waited in the barrier while the others waited in the step's gradient
    all-reduce, for ever; leaving, it ends their collective with an error, and torchrun stops them."""
    if d.enabled and dist.is_initialized():
        if barrier:
            dist.barrier(group=d.control)
        dist.destroy_process_group()


# what gloo (and NCCL, as a DistError) say in a collective whose peer process has ended: killed (the kernel's
# out-of-memory killer, SIGKILL), or stopped by its own error (an image lost on that rank alone)
PEER_GONE = ("Connection reset by peer", "Connection closed by peer", "Broken pipe")


def peer_gone(e: BaseException, d: Dist) -> str | None:
    """What torch said, in short, when a collective failed because another process of the run ended; None for
    any other error. Each surviving rank ended in a traceback of torch's internals."""
    if not d.enabled or not isinstance(e, RuntimeError):
        return None
    text = (str(e).strip().splitlines() or [""])[0]
    if not (isinstance(e, dist.DistError) or any(s in text for s in PEER_GONE)):
        return None
    text = re.sub(r"^\[[^\]]*\]\s*", "", text)  # gloo's source file and line
    return text.split(". ", 1)[0][:200]  # before its advice ("This is typically caused by ...")


def any_rank(flag: bool, d: Dist) -> bool:
    """True on every rank if `flag` is true on any (so all ranks stop at the same step)."""
    if not d.enabled:
        return flag
    t = torch.tensor([int(flag)])
    dist.all_reduce(t, op=dist.ReduceOp.MAX, group=d.control)
    return bool(t.item())


def min_over_ranks(value: int, d: Dist) -> int:
    """The smallest of every rank's `value` (a collective), so all ranks agree on a plan."""
    if not d.enabled:
        return value
    t = torch.tensor([value])
    dist.all_reduce(t, op=dist.ReduceOp.MIN, group=d.control)
    return int(t.item())


def raise_on_every_rank(error: CycleGANError | None, d: Dist, *, elsewhere: str) -> None:
    """Raise on every rank if any rank has an `error` (a collective: every rank must call it): the rank with
    the error raises it, the others a short line (`elsewhere`, e.g. "rank 0 could not ... (its error is
    above)"), so no rank waits forever in a later collective for one that stopped."""
    if any_rank(error is not None, d):
        raise error or CycleGANError(elsewhere)


def mean_over_ranks(values: dict[str, torch.Tensor], d: Dist) -> dict[str, torch.Tensor]:
    """Average 0-d tensors (same keys on every rank) over all ranks, on their device."""
    if not d.enabled or not values:
        return values
    keys = sorted(values)
    stacked = torch.stack([values[k].float() for k in keys])
    dist.all_reduce(stacked)
    return dict(zip(keys, stacked / d.world_size))


def every_rank(obj: Any, d: Dist) -> list[Any]:
    """Every rank's `obj` (picklable, CPU) as a list, on every rank (a collective)."""
    if not d.enabled:
        return [obj]
    out: list[Any] = [None] * d.world_size
    dist.all_gather_object(out, obj, group=d.control)
    return out


def gather_to_main(obj: Any, d: Dist) -> list[Any] | None:
    """Every rank's `obj` (picklable, CPU) as a list on rank 0; None elsewhere."""
    if not d.enabled:
        return [obj]
    out = [None] * d.world_size if d.is_main else None
    dist.gather_object(obj, out, dst=0, group=d.control)
    return out


def weights_digest(nets: dict[str, nn.Module]) -> str:
    """SHA-256 of every parameter, bit for bit: equal on all ranks when DDP keeps them in sync.

    Buffers are left out: BatchNorm's running statistics legitimately differ between CPU ranks (no
    SyncBatchNorm there) until DDP broadcasts rank 0's at the next forward."""
    h = hashlib.sha256()
    for name, net in nets.items():
        for key, t in net.named_parameters():
            h.update(f"{name}.{key}".encode())
            h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


class StepSampler(Sampler[int]):
    """Global sample indices for steps [start, total), this rank's slice of each global batch.

    Step s uses samples s*B ... s*B + B - 1 (B: the global batch); rank r of W takes the r-th of W equal
    slices. The dataset maps each index to its A and B images and augmentations, so every domain is split
    over the ranks exactly as a single process would walk it.
    """

    def __init__(self, start: int, total: int, batch_size: int, d: Dist, *, resumed: bool = False):
        if batch_size % d.world_size and resumed:  # the batch cannot change on resume: the process count can
            counts = [str(n) for n in range(1, batch_size + 1) if batch_size % n == 0]
            listed = f"{', '.join(counts[:-1])} or {counts[-1]} processes"
            on = listed if len(counts) <= 8 else "as many processes as divide it"
            raise CycleGANError(
                f"the run's global batch {batch_size} (its --batch-size, kept on resume) does not split evenly over "
                f"{d.world_size} processes; resume it on {on} (torchrun --nproc-per-node)"
            )
        if batch_size % d.world_size:
            raise CycleGANError(
                f"option 'batch_size': the global batch {batch_size} does not split evenly over "
                f"{d.world_size} processes; use a multiple of {d.world_size}"
            )
        self.start, self.total, self.batch_size = start, total, batch_size
        self.per_rank = batch_size // d.world_size
        self.offset = d.rank * self.per_rank

    def __iter__(self) -> Iterator[int]:
        for s in range(self.start, self.total):
            base = s * self.batch_size + self.offset
            yield from range(base, base + self.per_rank)

    def __len__(self) -> int:
        return (self.total - self.start) * self.per_rank
