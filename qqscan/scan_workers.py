"""Where `qqscan scan` runs OCR: in its own process (the default), or in `--jobs N` worker processes,
each with its own engine.

The engine is built on the first image that needs it, never before: a run whose sources all fail
answers without paying the engine's start-up (seconds). Paddle's threads do not survive a fork, so workers
are spawned, not forked, and build their engine in the process that uses it (PaddleOCR#14836: oneDNN wants
the thread that created the engine to run it).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ground.errors import UsageError

if TYPE_CHECKING:
    from detectors.allowlist import Allowed
    from ground.settings import Settings
    from jobs.pipeline import ScanResult
    from jobs.scanner import Scanner


class EngineFailed(UsageError, RuntimeError):
    """The OCR engine could not be built or a worker process died; the message says which."""


class InterruptWatch:
    """Remembers Ctrl-C even when a library swallows the KeyboardInterrupt. Seen here while the engine was
    being built: a broad `except` in an import ran on, or a config library turned it into its own error."""

    def __init__(self) -> None:
        self.seen = False
        self._previous: Any = None
        self._pid = os.getpid()

    def _handler(self, signum: int, frame: Any) -> None:
        if os.getpid() != self._pid:
            # A child forked by a library inherits this handler (OpenVINO's import forks one to send
            # telemetry): Ctrl-C reaches it too, and a KeyboardInterrupt there prints its traceback.
            return
        self.seen = True
        raise KeyboardInterrupt

    def check(self) -> None:
        if self.seen:
            raise KeyboardInterrupt

    def __enter__(self) -> InterruptWatch:
        if threading.current_thread() is threading.main_thread():  # signal handlers live there only
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


@dataclass(frozen=True)
class ScanOptions:
    """What every scan in a run shares (sent once to each worker process)."""

    settings: Settings  # the command's: each worker process builds its Scanner from them
    allow: Sequence[Allowed] = ()
    shop_id: str | None = None
    keep_evidence: bool = False
    verbose: bool = False


def scan_one(data: bytes, source: str, scanner: Scanner, opts: ScanOptions) -> ScanResult:
    """One image through the pipeline; an exception becomes that image's error, not the batch's end."""
    from jobs.pipeline import failed

    try:
        return scanner.scan(
            data, source, allow=opts.allow, shop_id=opts.shop_id, keep_evidence=opts.keep_evidence
        )
    except Exception as exc:
        if opts.verbose:
            traceback.print_exc(file=sys.stderr)
        return failed(source, f"scan failed: {type(exc).__name__}: {exc}")


class InlineScanner:
    """OCR in this process, one image at a time."""

    window = 0  # results are ready when submit returns

    def __init__(
        self,
        scanner: Scanner,
        opts: ScanOptions,
        on_loading: Callable[[str], None],
        watch: InterruptWatch,
    ) -> None:
        self.scanner = scanner
        self.opts = opts
        self.on_loading = on_loading
        self.watch = watch
        self.ready = False
        self.engine_seconds: float | None = None

    def submit(self, data: bytes, source: str) -> Future[ScanResult]:
        if not self.ready:
            self.on_loading("loading OCR engine…")
            t0 = time.monotonic()
            try:
                self.scanner.warm_up()  # the engine and the detector, so the first image pays for neither
                self.ready = True
            except Exception as exc:
                self.watch.check()  # Ctrl-C, turned into another error on its way out
                if self.opts.verbose:
                    raise
                raise EngineFailed(f"cannot build the OCR engine: {type(exc).__name__}: {exc}") from exc
            self.watch.check()  # Ctrl-C, swallowed on its way out
            self.engine_seconds = time.monotonic() - t0
        fut: Future[ScanResult] = Future()
        fut.set_result(scan_one(data, source, self.scanner, self.opts))
        return fut

    def close(self, *, interrupted: bool = False) -> None:
        pass


# --- worker processes -------------------------------------------------------------------------------------

_worker: dict[str, Any] = {}


def _init_worker(opts: ScanOptions, cpu_threads: int) -> None:
    from jobs.scanner import Scanner

    # Ctrl-C reaches the whole process group; the parent alone answers it and ends the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    settings = opts.settings
    if not settings.is_set("QQSCAN_CPU_THREADS"):  # N engines with all cores each thrash
        settings = settings.with_flags(QQSCAN_CPU_THREADS=cpu_threads)
    try:
        _worker["scanner"] = Scanner(settings)
        _worker["scanner"].warm_up()
    except Exception as exc:
        if opts.verbose:
            traceback.print_exc(file=sys.stderr)
        print(
            f"qqscan: worker {os.getpid()}: cannot build the OCR engine: {exc}", file=sys.stderr, flush=True
        )
        os._exit(3)  # an exception here would print the pool's own traceback; the parent reports it
    _worker["opts"] = opts


def _scan_in_worker(data: bytes, source: str) -> ScanResult:
    return scan_one(data, source, _worker["scanner"], _worker["opts"])


class PoolScanner:
    """OCR in `jobs` spawned worker processes, each with its own engine and a share of the cores."""

    def __init__(self, jobs: int, opts: ScanOptions, on_loading: Callable[[str], None]) -> None:
        self.jobs = jobs
        self.window = 2 * jobs  # images in flight: every worker busy, one more queued for each
        self.opts = opts
        self.on_loading = on_loading
        self.engine_seconds: float | None = None  # built inside the workers, in parallel with reading
        self._pool: ProcessPoolExecutor | None = None
        self._spawned = 0  # submits that may have started a worker process

    def submit(self, data: bytes, source: str) -> Future[ScanResult]:
        if self._pool is None:
            self.on_loading(f"loading OCR engine in {self.jobs} worker processes…")
            self._pool = ProcessPoolExecutor(
                max_workers=self.jobs,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(self.opts, max(1, (os.cpu_count() or 1) // self.jobs)),
            )
        if self._spawned >= self.jobs:
            return self._pool.submit(_scan_in_worker, data, source)
        # submit() may spawn a worker: it inherits an ignored SIGINT, so Ctrl-C during its start-up (before
        # its initializer runs) prints no traceback. A Ctrl-C within these few ms is lost to the parent too.
        self._spawned += 1
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            return self._pool.submit(_scan_in_worker, data, source)
        finally:
            signal.signal(signal.SIGINT, previous)

    def close(self, *, interrupted: bool = False) -> None:
        if self._pool is None:
            return
        if interrupted:  # do not wait for the images in hand (or an engine still loading)
            for proc in list(getattr(self._pool, "_processes", {}).values()):  # no public kill in 3.11
                proc.terminate()
        self._pool.shutdown(wait=not interrupted, cancel_futures=True)
        self._pool = None
