"""ScanWorker: an RQ SimpleWorker that builds the OCR engine once per process and never forks after.

Why these pieces (see FACTS.md, RQ section):
- SimpleWorker runs jobs in the worker process: RQ's default Worker forks a work horse per job, and Paddle's
  OpenMP/oneDNN threads do not survive a fork, so the engine would be rebuilt (~3 s) for every image.
- The engine is built and warmed in `work()` before the first dequeue, so a broken model install fails
  the worker at start, not a job.
- RQ runs its scheduler (which fires Retry intervals and enqueue_in/at) in a *forked* process, started
  at boot or later by a maintenance pass. We start it with the `spawn` start method instead: a fresh
  interpreter, no copy of a process with Paddle threads, and it dies with the worker (PR_SET_PDEATHSIG).
- Recycling: RQ's own `max_jobs`, plus an RSS ceiling checked after each job; both end `work()` cleanly so
  a supervisor (systemd, `rq worker-pool`) starts a fresh process. Paddle's memory creeps over 100k images.
- SIGTERM is RQ's warm shutdown: the current job finishes, then the worker exits.
- Job timeouts: RQ's SIGALRM death penalty only fires between Python bytecodes; a job stuck inside a native
  call (Paddle inference, a C library) never sees it. A watchdog thread hard-exits the process when a job
  overruns its timeout + grace. The job stays in the started registry; when its entry expires (timeout +
  grace + margin, our heartbeat TTL) RQ's registry cleanup, run by any worker's maintenance, retries it or
  moves it to the failed registry (AbandonedJobError). Nothing is lost, nothing is half-stored: the store
  writes are idempotent and transactional.

Environment (flags of `qqscan worker` override): QQSCAN_WORKER_MAX_JOBS, QQSCAN_WORKER_MAX_RSS_MB,
QQSCAN_WATCHDOG_GRACE (seconds, default 30), QQSCAN_MAINTENANCE_INTERVAL (seconds, default 60).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from multiprocessing import get_context
from typing import Any

from rq.job import Job
from rq.queue import Queue
from rq.scheduler import RQScheduler
from rq.worker import SimpleWorker

log = logging.getLogger("qqscan.worker")

WATCHDOG_EXIT = 70  # EX_SOFTWARE: the watchdog killed a stuck job; a supervisor restarts us
ABANDON_MARGIN = 5  # seconds between the watchdog's deadline and RQ treating the job as abandoned
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_mb() -> float:
    """Current resident set size of this process in MiB (not the peak: recycling needs the present)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * PAGE / 2**20
    except OSError:  # not Linux: the peak is the best we have
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _env_num(name: str) -> float | None:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else None


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM this process when the worker that started it dies (even by SIGKILL)."""
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _run_scheduler(scheduler: RQScheduler, level: int) -> None:
    from rq.scheduler import run

    _die_with_parent()
    logging.basicConfig(level=level, format="%(asctime)s scheduler %(message)s", datefmt="%H:%M:%S")
    run(scheduler)


_fork_hook = False
forks_after_engine = 0


def _forking() -> None:
    # Nothing in a worker should fork once Paddle's threads exist; count it and say so loudly.
    global forks_after_engine
    forks_after_engine += 1
    log.error("qqscan worker pid %d: os.fork() called after the OCR engine was built", os.getpid())


class SpawnedScheduler(RQScheduler):
    """RQ's scheduler, started as a spawned process rather than a fork of a process with Paddle threads."""

    def start(self) -> Any:
        self._status = self.Status.STARTED
        self._connection = None  # rebuilt from the pool kwargs in the child, as RQ does
        level = self.log.getEffectiveLevel()
        proc = get_context("spawn").Process(target=_run_scheduler, args=(self, level), name="Scheduler")
        self._process = None  # not part of what is pickled for the child
        proc.start()
        self._process = proc
        return proc

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_process"] = None  # a Process handle cannot cross to the child (nor should it)
        return state


class Watchdog:
    """Hard-exits the process when one job runs past its deadline. One thread for the worker's lifetime."""

    def __init__(self, on_expire: Any) -> None:
        self._cond = threading.Condition()
        self._deadline: float | None = None
        self._job_id = ""
        self._on_expire = on_expire
        threading.Thread(target=self._run, name="job-watchdog", daemon=True).start()

    def arm(self, job_id: str, seconds: float) -> None:
        with self._cond:
            self._deadline, self._job_id = time.monotonic() + seconds, job_id
            self._cond.notify()

    def disarm(self) -> None:
        with self._cond:
            self._deadline = None
            self._cond.notify()

    def _run(self) -> None:
        with self._cond:
            while True:
                if self._deadline is None:
                    self._cond.wait()
                    continue
                left = self._deadline - time.monotonic()
                if left > 0:
                    self._cond.wait(left)
                    continue
                self._on_expire(self._job_id)
                self._deadline = None


class ScanWorker(SimpleWorker):
    """`qqscan worker` and `rq worker-pool -w worker.worker.ScanWorker` both run this class."""

    def __init__(
        self,
        *args: Any,
        max_rss_mb: float | None = None,
        watchdog_grace: float | None = None,
        **kwargs: Any,
    ) -> None:
        if "maintenance_interval" not in kwargs:
            # RQ's default (10 min) is how late an abandoned job is noticed; a minute is cheap.
            kwargs["maintenance_interval"] = int(_env_num("QQSCAN_MAINTENANCE_INTERVAL") or 60)
        super().__init__(*args, **kwargs)
        self.max_rss_mb = max_rss_mb if max_rss_mb is not None else _env_num("QQSCAN_WORKER_MAX_RSS_MB")
        grace = watchdog_grace if watchdog_grace is not None else _env_num("QQSCAN_WATCHDOG_GRACE")
        self.watchdog_grace = 30.0 if grace is None else grace
        self.engine_builds = 0
        self.recycle_reason: str | None = None
        self._watchdog: Watchdog | None = None

    # --- start: engine first, then RQ's loop -----------------------------------------------------------

    def warm_up(self) -> None:
        """Build and warm the OCR engine in this process, once, before any job is taken."""
        import ocr.engine

        t0 = time.perf_counter()
        engine = ocr.engine.get_engine()
        self.engine_builds = ocr.engine.builds
        self.log.info(  # RQ's logger: configured by `qqscan worker`, `rq worker` and `rq worker-pool` alike
            "qqscan worker pid %d: OCR engine ready in %.1f s (builds in this process: %d, oneDNN: %s, "
            "rss %.0f MiB)",
            os.getpid(),
            time.perf_counter() - t0,
            ocr.engine.builds,
            engine.onednn,
            rss_mb(),
        )
        global _fork_hook
        if not _fork_hook:  # once per process, however many workers a test builds
            os.register_at_fork(before=_forking)
            _fork_hook = True

    def work(self, *args: Any, max_jobs: int | None = None, **kwargs: Any) -> bool:  # type: ignore[override]
        if max_jobs is None:  # `rq worker-pool` cannot pass it: take it from the environment
            env_jobs = _env_num("QQSCAN_WORKER_MAX_JOBS")
            max_jobs = int(env_jobs) if env_jobs else None
        self.warm_up()
        self._watchdog = Watchdog(self._watchdog_expired)
        return super().work(*args, max_jobs=max_jobs, **kwargs)

    def _start_scheduler(
        self,
        burst: bool = False,
        logging_level: str | None = "INFO",
        date_format: str = "%H:%M:%S",
        log_format: str = "%(asctime)s %(message)s",
    ) -> None:
        """RQ's _start_scheduler with SpawnedScheduler in place of RQScheduler (same lock and burst logic).
        Later restarts by maintenance go through the same object's start(), so they spawn too."""
        self.scheduler = SpawnedScheduler(
            self.queues,
            connection=self.connection,
            logging_level=logging_level if logging_level is not None else self.log.level,
            date_format=date_format,
            log_format=log_format,
            serializer=self.serializer,
        )
        self.scheduler.acquire_locks()
        if self.scheduler.acquired_locks:
            if burst:
                try:
                    self.scheduler.register_birth()
                    self.scheduler.enqueue_scheduled_jobs()
                finally:
                    self.scheduler.release_locks()
                    self.scheduler.register_death()
            else:
                self.scheduler.start()

    # --- each job: watchdog around it, memory check after it -------------------------------------------

    def job_deadline(self, job: Job) -> float:
        timeout = job.timeout if job.timeout and job.timeout > 0 else self.queue_class.DEFAULT_TIMEOUT
        return float(timeout) + self.watchdog_grace

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        """How long the job's started-registry entry lives without news: a SimpleWorker sends none during
        a job, so this is when RQ may call it abandoned. Just past the watchdog's deadline, so a job is
        never taken for abandoned while it can still be running."""
        if job.timeout == -1:
            return super().get_heartbeat_ttl(job, working_time)
        return int(self.job_deadline(job)) + ABANDON_MARGIN

    def execute_job(self, job: Job, queue: Queue) -> None:
        watchdog = self._watchdog
        if watchdog is not None and job.timeout != -1:
            watchdog.arm(job.id, self.job_deadline(job))
        try:
            super().execute_job(job, queue)
        finally:
            if watchdog is not None:
                watchdog.disarm()
        self._check_memory()

    def _check_memory(self) -> None:
        if self.max_rss_mb is None or self._stop_requested:
            return
        rss = rss_mb()
        if rss > self.max_rss_mb:
            self.recycle_reason = f"rss {rss:.0f} MiB over the {self.max_rss_mb:.0f} MiB ceiling"
            log.warning("qqscan worker pid %d: %s; stopping to be replaced", os.getpid(), self.recycle_reason)
            self._stop_requested = True  # RQ's loop checks this before the next dequeue

    def _watchdog_expired(self, job_id: str) -> None:
        """Runs on the watchdog thread while the main thread is stuck: leave the job to RQ and go."""
        log.critical(
            "qqscan worker pid %d: job %s overran its timeout + %.0f s grace and cannot be interrupted "
            "(stuck in native code); exiting so RQ's abandoned-job cleanup retries or fails it",
            os.getpid(),
            job_id,
            self.watchdog_grace,
        )
        try:
            if self.scheduler is not None and self.scheduler._process is not None:
                self.scheduler._process.terminate()
            self.register_death()  # so `rq info` does not show a busy ghost until its TTL runs out
        except Exception:  # best effort: Redis may be what is stuck
            log.exception("cleanup before watchdog exit failed")
        for h in logging.getLogger().handlers + log.handlers:
            h.flush()
        os._exit(WATCHDOG_EXIT)
