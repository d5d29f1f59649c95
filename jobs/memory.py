"""This process's resident memory: reported by scan jobs (the worker benchmark) and checked by the worker
after each job (recycling)."""

from __future__ import annotations

import os

import psutil

_process: psutil.Process | None = None


def rss_mb() -> float:
    """Current resident set size of this process in MiB (not the peak: recycling needs the present).
    One psutil.Process per process, made again after a fork: it keeps the pid it was made for."""
    global _process
    if _process is None or _process.pid != os.getpid():
        _process = psutil.Process()
    return _process.memory_info().rss / 2**20
