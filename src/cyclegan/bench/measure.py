"""What every bench task measures with: wall time around device-synchronised calls, this process's memory,
and the environment the figures depend on."""

from __future__ import annotations

import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import torch

from ..execution import synchronize


def time_calls(fn: Callable[[], object], n: int, device: torch.device) -> list[float]:
    """Wall seconds of each of `n` calls of `fn`, synchronising the device around each call."""
    times = []
    for _ in range(n):
        synchronize(device)
        t = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - t)
    return times


def median(xs: list[float]) -> float:
    return float(statistics.median(xs)) if xs else float("nan")


def rss_now_mib() -> float:
    """Current resident set size of this process (Linux /proc; else the peak so far)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return rss_peak_mib()


def rss_peak_mib() -> float:
    """Peak resident set size of this process so far (getrusage: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(device: torch.device) -> dict[str, Any]:
    """What the figures depend on: hardware, threads, versions, and how busy the machine was."""
    env: dict[str, Any] = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "instruction_set": torch.backends.cpu.get_cpu_capability(),  # AVX2, AVX512, ... (ATen's kernels)
    }
    if hasattr(os, "getloadavg"):
        env["load_average_1min_at_start"] = round(os.getloadavg()[0], 2)
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
    return env
