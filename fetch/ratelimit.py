"""Per-host token buckets, in-process: keep one worker from hammering one seller's CDN.

A few lines of our own rather than a library: the need is one blocking `acquire(host)` per request, and
the rate-limit libraries on PyPI bring storage backends and async APIs we would not use. Limits across
processes are RQ's job (queue-level), not this module's.
"""

from __future__ import annotations

import threading
import time


class HostRateLimiter:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate  # tokens per second; <= 0 disables limiting
        self.burst = max(1, burst)
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # host -> (tokens, last refill time)

    def reserve(self, host: str) -> float:
        """Take a token for `host`; return how long the caller must wait before using it."""
        if self.rate <= 0:
            return 0.0
        with self._lock:
            now = time.monotonic()
            tokens, last = self._buckets.get(host, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate) - 1.0
            self._buckets[host] = (tokens, now)
            # A negative balance is a debt: later callers queue behind this one.
            return 0.0 if tokens >= 0 else -tokens / self.rate

    def acquire(self, host: str) -> float:
        """Block until a request to `host` is allowed; return the seconds waited."""
        wait = self.reserve(host)
        if wait > 0:
            time.sleep(wait)
        return wait


_shared: dict[tuple[float, int], HostRateLimiter] = {}
_shared_lock = threading.Lock()


def limiter_for(rate: float, burst: int) -> HostRateLimiter:
    """One limiter per (rate, burst) per process, so every fetch in a worker shares the buckets."""
    with _shared_lock:
        key = (rate, burst)
        if key not in _shared:
            _shared[key] = HostRateLimiter(rate, burst)
        return _shared[key]
