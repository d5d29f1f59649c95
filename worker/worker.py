"""ScanWorker: an RQ SimpleWorker that builds the OCR engine once per process and never forks after.

Why these pieces (RQ 3's SimpleWorker, scheduler and Retry; rq#1088 for a model built once per process):
- SimpleWorker runs jobs in the worker process: RQ's default Worker forks a work horse per job, and Paddle's
  OpenMP/oneDNN threads do not survive a fork, so the engine would be rebuilt (~3 s) for every image.
- The engine is built and warmed in `work()` before the first dequeue, so a broken model install fails
  the worker at start, not a job.
- RQ runs its scheduler (which fires Retry intervals and enqueue_in/at) in a *forked* process, started
  at boot or later by a maintenance pass. We start it with the `spawn` start method instead: a fresh
  interpreter, no copy of a process with Paddle threads. It dies with the worker: PR_SET_PDEATHSIG, and a
  check of its parent right after setting it (a worker killed while the child was still starting up
  would otherwise leave it running under PID 1, renewing the scheduler lock). A lock left by a scheduler
  of this host that is gone (SIGKILL, OOM) is taken over at once rather than after its 61 s TTL. It also
  queues the reconciler (jobs.queueing.reconcile) every QQSCAN_RECONCILE_INTERVAL.
- Redis outages: the worker's connection retries forever with backoff (jobs.queueing.PatientRetry),
  so a Redis restart blocks Redis calls until it is back, in the middle of a job too; the job in hand is
  then finished normally. A registration Redis lost is written again.
- Abandoned jobs: a heartbeat thread renews the running job's started-registry entry every
  QQSCAN_JOB_HEARTBEAT seconds (default 15) with a TTL of 3 beats, so a worker killed mid-job leaves an
  entry that expires within 45 s; idle workers wake for maintenance every QQSCAN_MAINTENANCE_INTERVAL
  (default 30) instead of blocking 405 s in BLPOP. See docs/batch.md for the arithmetic.
- A fixed `--name` whose registration belongs to a dead process on this host is taken over.
- Recycling: RQ's own `max_jobs`, plus an RSS ceiling checked after each job; both end `work()` cleanly so
  a supervisor (systemd, `rq worker-pool`) starts a fresh process. Paddle's memory creeps over 100k images.
- SIGTERM is RQ's warm shutdown: the current job finishes, then the worker exits.
- Job timeouts: RQ's SIGALRM death penalty only fires between Python bytecodes; a job stuck inside a native
  call (Paddle inference, a C library) never sees it. A watchdog thread hard-exits the process when a job
  overruns its timeout + grace. The job stays in the started registry; when its entry expires (3 beats
  after the last heartbeat) RQ's registry cleanup, run by any worker's maintenance, retries it or moves it
  to the failed registry (AbandonedJobError). Nothing is lost, nothing is half-stored: the store writes
  are idempotent and transactional.
- Watching it: one log line per job with its outcome and a summary when it ends; Prometheus metrics on
  QQSCAN_METRICS_PORT (worker.metrics).
- Jobs that cannot run code (issue #23 item 3): the worker reads every job as JSON through
  jobs.queueing.GuardedJob, whatever serializer or job class `rq worker` / `rq worker-pool` pass in. Each
  dequeued job is checked against the allow-list before RQ imports anything it names; one that fails is
  not run but recorded (failed registry with the reason, a log line, the `refused` outcome) and the
  worker takes the next.

Settings (flags of `qqscan worker` override; defaults and help in ground/settings.py):
QQSCAN_WORKER_MAX_JOBS, QQSCAN_WORKER_MAX_RSS_MB, QQSCAN_WATCHDOG_GRACE, QQSCAN_MAINTENANCE_INTERVAL,
QQSCAN_JOB_HEARTBEAT, QQSCAN_REDIS_RETRY_CAP, QQSCAN_METRICS_PORT (0 = off), QQSCAN_METRICS_HOST. The worker
is an edge: `qqscan worker` hands it the settings it read; built by `rq worker-pool`, it reads them itself.
It builds one Scanner (jobs.scanner) from them and hands it to the jobs it runs (jobs.tasks.use).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from multiprocessing import get_context
from typing import Any

from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import RedisError
from redis.retry import Retry as RedisRetry
from rq import worker_registration
from rq.job import Job
from rq.job_lifecycle import call_exception_handlers, record_job_failure
from rq.queue import Queue
from rq.scheduler import SCHEDULER_KEY_TEMPLATE, RQScheduler
from rq.scripts import release_lock
from rq.utils import ensure_job_list, now, utcformat
from rq.worker import SimpleWorker, WorkerStatus

from ground.settings import Settings
from jobs.memory import rss_mb
from jobs.presence import LAST_JOB_FIELD, RSS_FIELD, pid_alive
from jobs.queueing import SERIALIZER, GuardedJob, Policy, enqueue_reconcile, patient, reconcile_due
from jobs.scanner import Scanner
from worker import logs, metrics

log = logging.getLogger("qqscan.worker")

WATCHDOG_EXIT = 70  # EX_SOFTWARE: the watchdog killed a stuck job; a supervisor restarts us
BEATS_PER_TTL = 3  # a job's started-registry entry outlives this many missed heartbeats
SCHEDULER_STOP_GRACE = 10  # seconds a scheduler asked to stop may take (Redis down) before SIGALRM ends it


def _die_with_parent(parent_pid: int) -> bool:
    """Ask Linux to SIGTERM this process when the worker that started it dies (even by SIGKILL). False if
    the worker is already gone: it died while this child was starting, before the request took effect."""
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    return os.getppid() == parent_pid


def _run_scheduler(scheduler: SpawnedScheduler, level: int, parent_pid: int) -> None:
    from rq.scheduler import run

    if not _die_with_parent(parent_pid):
        return  # orphaned at birth: exit before taking the scheduler lock
    logs.configure(level, scheduler.log_kind)
    scheduler.reconcile_policy = scheduler.policy  # set here: a burst worker's inline pass does not queue it
    run(scheduler)


_fork_hook = False


def _forking() -> None:
    # Nothing in a worker should fork once Paddle's threads exist; say so loudly.
    log.error("qqscan worker pid %d: os.fork() called after the OCR engine was built", os.getpid())


class SpawnedScheduler(RQScheduler):
    """RQ's scheduler, started as a spawned process rather than a fork of a process with Paddle threads.
    In that process it also queues the reconciler when it is due (one run per interval per Redis)."""

    # Set in the spawned process only (a burst worker's inline pass does not queue the reconciler).
    reconcile_policy: Policy | None = None
    policy: Policy = Policy()  # the worker's, pickled with the scheduler into its process
    log_kind: str = "text"  # the worker's log format (worker.logs), for the scheduler's process

    def start(self) -> Any:
        self._status = self.Status.STARTED
        self._connection = None  # rebuilt from the pool kwargs in the child, as RQ does
        level = self.log.getEffectiveLevel()
        proc = get_context("spawn").Process(
            target=_run_scheduler, args=(self, level, os.getpid()), name="Scheduler"
        )
        self._process = None  # not part of what is pickled for the child
        proc.start()
        self._process = proc
        return proc

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_process"] = None  # a Process handle cannot cross to the child (nor should it)
        return state

    def acquire_locks(self, auto_start: bool = False) -> set[str]:
        self._release_dead_holders()
        return super().acquire_locks(auto_start)

    def _release_dead_holders(self) -> None:
        """A lock held by a scheduler that ran on this host in a process that is gone (SIGKILLed with its
        worker, OOM-killed: it could not release it) is released here, so this scheduler takes over now
        instead of every retry waiting until the lock expires (61 s)."""
        for queue_name in self._queue_names:
            key = self.get_locking_key(queue_name)
            raw = self.connection.get(key)
            holder = raw.decode(errors="replace") if raw else None
            if holder is None or holder == self.name:
                continue
            data = self.connection.hgetall(SCHEDULER_KEY_TEMPLATE % holder)
            pid = int(data.get(b"pid") or 0)
            host = (data.get(b"hostname") or b"").decode(errors="replace")
            if (
                pid
                and host == self.hostname
                and not pid_alive(pid)
                and release_lock(self.connection, key, holder)
            ):
                log.warning("scheduler lock for %s taken over from dead scheduler pid %d", queue_name, pid)

    def _install_signal_handlers(self) -> None:
        """RQ's stop-at-the-next-tick, plus an alarm: a scheduler blocked on an unreachable Redis (its
        connection retries forever) still ends SCHEDULER_STOP_GRACE seconds after SIGTERM."""

        def stop(signum: int, frame: Any) -> None:
            self.request_stop()
            signal.alarm(SCHEDULER_STOP_GRACE)  # SIGALRM's default action ends the process

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)

    def enqueue_scheduled_jobs(self) -> None:
        super().enqueue_scheduled_jobs()
        policy = self.reconcile_policy
        if policy is not None and self._acquired_locks and reconcile_due(self.connection, policy):
            enqueue_reconcile(self.connection, policy)


class JobHeartbeat:
    """Renews the running job's started-registry entry (RQ's maintain_heartbeats) every `interval`
    seconds from a thread: a SimpleWorker has no monitoring loop, and without renewals the entry must
    outlive the longest job, which is how long a killed worker's job waits. One thread per worker."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._cond = threading.Condition()
        self._beat: Any = None
        self._busy = threading.Lock()  # held while a renewal is in flight
        threading.Thread(target=self._run, name="job-heartbeat", daemon=True).start()

    def start(self, beat: Any) -> None:
        with self._cond:
            self._beat = beat
            self._cond.notify()

    def stop(self) -> None:
        """No renewal after this returns (one in flight is waited for): RQ may now end the job."""
        with self._cond:
            self._beat = None
            self._cond.notify()
        with self._busy:
            pass

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._beat is None:
                    self._cond.wait()
                beat = self._beat
                self._cond.wait(self.interval)
                if self._beat is not beat:  # stopped, or another job started meanwhile
                    continue
                self._busy.acquire()
            try:
                beat()
            except Exception:  # a missed beat costs nothing but an earlier expiry; never end the thread
                log.exception("job heartbeat failed")
            finally:
                self._busy.release()


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

    job_class = GuardedJob

    def __init__(
        self,
        queues: Any,
        *args: Any,
        settings: Settings | None = None,
        max_rss_mb: float | None = None,
        watchdog_grace: float | None = None,
        metrics_port: int | None = None,
        metrics_host: str | None = None,
        **kwargs: Any,
    ) -> None:
        settings = settings if settings is not None else Settings.load()  # rq worker-pool: its edge
        logs.demote_rq()  # one line per job at INFO, whoever configured the log
        self.log_kind = settings["QQSCAN_LOG_FORMAT"]
        self.scanner = Scanner(settings)
        self.policy = Policy.from_settings(settings)
        if "maintenance_interval" not in kwargs:
            # RQ's default (10 min) is how late an abandoned job is noticed; half a minute is cheap.
            kwargs["maintenance_interval"] = settings["QQSCAN_MAINTENANCE_INTERVAL"]
        if "job_monitoring_interval" not in kwargs:
            kwargs["job_monitoring_interval"] = settings["QQSCAN_JOB_HEARTBEAT"]
        # rq's CLI and worker pool pass their defaults (pickle, rq.job.Job) and queues built with them: jobs
        # are read as JSON GuardedJobs whatever comes in (a GuardedJob subclass is kept, as tests use).
        kwargs["serializer"] = SERIALIZER
        if not (isinstance(kwargs.get("job_class"), type) and issubclass(kwargs["job_class"], GuardedJob)):
            kwargs.pop("job_class", None)
        queues = [q.name if isinstance(q, Queue) else q for q in ensure_job_list(queues)]
        super().__init__(queues, *args, **kwargs)
        # Ride out Redis restarts: every Redis call (also the scheduler's, which copies these settings)
        # retries with backoff until Redis answers, instead of RQ's loop quitting mid-job.
        patient(
            self.connection,
            cap=settings["QQSCAN_REDIS_RETRY_CAP"],
            # A busy worker keeps waiting (its job is finished, then it leaves); an idle one leaves.
            stop_requested=lambda: (
                self._shutdown_requested_date is not None and self.get_state() != WorkerStatus.BUSY
            ),
        )
        self.max_rss_mb = max_rss_mb if max_rss_mb is not None else settings["QQSCAN_WORKER_MAX_RSS_MB"]
        # 0 is a real choice here (kill a stuck job right at its timeout), so it is not replaced.
        self.watchdog_grace = (
            watchdog_grace if watchdog_grace is not None else settings["QQSCAN_WATCHDOG_GRACE"]
        )
        self.recycle_reason: str | None = None
        self._watchdog: Watchdog | None = None
        self._heartbeat: JobHeartbeat | None = None
        self.metrics_port = (  # 0: no metrics endpoint
            metrics_port if metrics_port is not None else settings["QQSCAN_METRICS_PORT"]
        )
        self._metrics_from_env = metrics_port is None  # `rq worker-pool`: every worker sees the same port
        self.metrics_host = metrics_host or settings["QQSCAN_METRICS_HOST"]
        self.max_jobs_setting = settings["QQSCAN_WORKER_MAX_JOBS"]
        self.summary = metrics.Summary()
        self._job_exc: BaseException | None = None

    @property
    def dequeue_timeout(self) -> int:
        """RQ blocks in BLPOP for worker_ttl - 15 = 405 s and runs maintenance only between dequeues: an
        idle worker would notice abandoned jobs and a dead scheduler 7 minutes late. Wake up in time."""
        return max(1, min(self.worker_ttl - 15, int(self.maintenance_interval)))

    def register_birth(self) -> None:
        """RQ refuses a name whose registration has not expired (worker_ttl + 60 = 480 s after a SIGKILL).
        A registration from a process of this host that no longer runs (or from this very pid, as in a
        restarted container) is dead: mark it so and take the name over."""
        data = self.connection.hgetall(self.key)
        if data and b"death" not in data:
            pid = int(data.get(b"pid") or 0)
            host = (data.get(b"hostname") or b"").decode(errors="replace")
            if pid and host == self.hostname and (pid == os.getpid() or not pid_alive(pid)):
                log.warning(
                    "worker name %s: registration of dead pid %d on %s taken over", self.name, pid, host
                )
                with self.connection.pipeline() as pipe:
                    pipe.hset(self.key, "death", utcformat(now()))
                    pipe.delete(self.executions_key)
                    pipe.execute()
        super().register_birth()

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        """RQ's heartbeat; when the registration is gone (Redis restarted without its data, or it expired),
        write it again so `qqscan status` and RQ's worker registry see this worker."""
        if pipeline is not None:
            super().heartbeat(timeout, pipeline)
            return
        with self.connection.pipeline() as pipe:
            super().heartbeat(timeout, pipe)
            created = pipe.execute()[0]  # HSET returns 1 when it had to create the field
        if created and self.birth_date is not None:
            log.warning("worker %s: registration missing in Redis (restarted?); registering again", self.name)
            with self.connection.pipeline() as pipe:
                pipe.hset(self.key, mapping={**self.serialize(), "state": self.get_state()})
                worker_registration.register(self, pipe)
                pipe.expire(self.key, (timeout or self.worker_ttl + 60))
                pipe.execute()

    # --- start: engine first, then RQ's loop -----------------------------------------------------------

    def warm_up(self) -> None:
        """Build and warm the OCR engine and the detector in this process, once, before any job is taken."""
        import jobs.tasks
        import ocr.engine

        t0 = time.perf_counter()
        engine = self.scanner.warm_up()
        jobs.tasks.use(self.scanner)
        self.log.info(  # RQ's logger: configured by `qqscan worker`, `rq worker` and `rq worker-pool` alike
            "qqscan worker pid %d: OCR engine %s ready in %.1f s (builds in this process: %d, rss %.0f MiB)",
            os.getpid(),
            engine.version,
            time.perf_counter() - t0,
            ocr.engine.builds,
            rss_mb(),
        )
        global _fork_hook
        if not _fork_hook:  # once per process, however many workers a test builds
            os.register_at_fork(before=_forking)
            _fork_hook = True

    def work(self, *args: Any, max_jobs: int | None = None, **kwargs: Any) -> bool:  # type: ignore[override]
        if max_jobs is None:  # `rq worker-pool` cannot pass it: take it from the environment
            max_jobs = self.max_jobs_setting or None  # 0 means no limit, as unset does
        if self.metrics_port:  # before the engine build, so queue depth is scrapeable while it loads
            try:
                metrics.serve(
                    self.metrics_port,
                    self.metrics_host,
                    self.connection,
                    self.queue_names(),
                    settings=self.scanner.settings,
                )
            except metrics.MetricsPortError as exc:
                if not self._metrics_from_env:
                    raise  # asked for on the command line: say so and stop
                # A pool's workers share the environment's port: the first serves, the others carry on
                # without (failing would make the pool restart them forever).
                log.error("%s; this worker runs without a metrics endpoint", exc)
        t0 = time.monotonic()
        self.warm_up()
        self._watchdog = Watchdog(self._watchdog_expired)
        self._heartbeat = JobHeartbeat(self.job_monitoring_interval)
        try:
            return super().work(*args, max_jobs=max_jobs, **kwargs)
        finally:
            burst = kwargs.get("burst", args[0] if args else False)
            self.log.info(
                "qqscan worker %s %s: %s",
                self.name,
                "burst done" if burst else "stopped",
                self.summary.line(time.monotonic() - t0),
            )

    def _start_scheduler(
        self,
        burst: bool = False,
        logging_level: str | None = "INFO",
        date_format: str = logs.DATE_FORMAT,
        log_format: str = logs.TEXT_FORMAT,
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
        self.scheduler.policy = self.policy
        self.scheduler.log_kind = self.log_kind
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

    def teardown(self) -> None:
        """Leaving: Redis gets a few attempts, not the patience of a running worker, so a worker told to
        stop while Redis is away still exits (its registration then expires by itself)."""
        self.connection.set_retry(RedisRetry(ExponentialWithJitterBackoff(base=0.25, cap=1.0), 3))
        try:
            super().teardown()
        except RedisError as exc:
            log.warning("worker %s: left without unregistering (Redis unreachable: %s)", self.name, exc)

    # --- each dequeued job: run only if it is one of ours ---------------------------------------------

    def dequeue_job_and_maintain_ttl(
        self, timeout: int | None, max_idle_time: int | None = None
    ) -> tuple[Job, Queue] | None:
        """RQ's dequeue, through which every job a worker runs arrives; RQ has read the job's hash but
        imported nothing yet. A job that is not one of ours is refused here and the next one taken."""
        while True:
            result = super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
            if result is None:
                return None
            job, queue = result
            reason = job.refusal() if isinstance(job, GuardedJob) else "not read as a GuardedJob"
            if reason is None:
                return result
            self.refuse(job, queue, reason)

    def refuse(self, job: Job, queue: Queue, reason: str) -> None:
        """Record a job that will not run, with RQ's own failure record (FAILED, the queue's failed
        registry, a failure result with the reason) and nothing else of RQ's failure path: no callback,
        no retry, no dependents. Then a warning and the `refused` outcome."""
        t0 = time.perf_counter()
        message = f"job {job.id} refused by worker {self.name}, not run: {reason}"
        job.origin = queue.name  # the queue it was taken from, whatever its hash says
        job.failure_ttl = None  # RQ's default keeps the record, not a TTL the hash chose
        job.ended_at = now()
        with self.connection.pipeline() as pipe:
            record_job_failure(job, message, pipe)
            pipe.lrem(queue.intermediate_queue_key, 1, job.id)  # where LMOVE put it (one-queue workers)
            pipe.execute()
        self.log.warning(message)
        outcome = metrics.Outcome("refused", reason)
        self.summary.add(outcome)
        metrics.count(outcome, None, time.perf_counter() - t0)

    # --- each job: watchdog around it, memory check after it -------------------------------------------

    def job_deadline(self, job: Job) -> float:
        timeout = job.timeout if job.timeout and job.timeout > 0 else self.queue_class.DEFAULT_TIMEOUT
        return float(timeout) + self.watchdog_grace

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        """How long the job's started-registry entry lives without a renewal: BEATS_PER_TTL heartbeats.
        The heartbeat thread renews it for as long as the job runs (the watchdog bounds that), so a job
        is taken for abandoned only when its worker is gone."""
        return int(self.job_monitoring_interval * BEATS_PER_TTL)

    def execute_job(self, job: Job, queue: Queue) -> None:
        """SimpleWorker.execute_job with the watchdog and the heartbeat around the job."""
        watchdog, beats = self._watchdog, self._heartbeat
        if watchdog is not None and job.timeout != -1:
            watchdog.arm(job.id, self.job_deadline(job))
        t0, retries_left, self._job_exc = time.perf_counter(), int(job.retries_left or 0), None
        try:
            execution = self.prepare_execution(job)
            if beats is not None:
                beats.start(lambda: self.maintain_heartbeats(job, execution))
            ok = self.perform_job(job, queue, execution)
            self.set_state(WorkerStatus.IDLE)
        finally:
            if beats is not None:
                beats.stop()
            if watchdog is not None:
                watchdog.disarm()
        self._report(job, ok, retries_left, time.perf_counter() - t0)
        self._check_memory()

    def handle_exception(self, job: Job, *exc_info: Any) -> None:
        from fetch.client import TransientFetchError

        self._job_exc = exc_info[1]  # for the outcome line: RQ keeps only the formatted traceback
        if isinstance(exc_info[1], TransientFetchError):
            # The image host's outage (503, timeout), said by the outcome line: no traceback in the log
            # (RQ's failed registry still keeps it). Exception handlers (Sentry...) still see it.
            call_exception_handlers(self._exc_handlers, job, *exc_info)
            return
        super().handle_exception(job, *exc_info)

    def _report(self, job: Job, ok: bool, retries_left: int, seconds: float) -> None:
        """One line per job with its outcome (RQ says "Job OK" for a 404 stored as failed), and metrics."""
        value = getattr(job, "_result", None) if ok else None
        outcome = metrics.of_return(value) if ok else metrics.of_exception(self._job_exc, retries_left)
        self.summary.add(outcome)
        metrics.count(outcome, value, seconds)
        what = job.kwargs.get("url") or (job.args[0] if job.args else "")
        level = logging.WARNING if outcome.label in ("failed", "retrying", "gave_up") else logging.INFO
        self.log.log(
            level,
            "job %s %s %s: %s%s (%d ms)",
            job.id,
            job.func_name.rsplit(".", 1)[-1],
            what,
            outcome.label,
            f" {outcome.detail}" if outcome.detail else "",
            seconds * 1000,
            # the outcome's fields for `--log-format json`; also what `-q` keeps (worker.logs)
            extra={"job": {"job_id": job.id, "function": job.func_name, "target": what,
                           "outcome": outcome.label, "ms": int(seconds * 1000)}},
        )
        # the dashboard's "last job" and RSS per worker, beside RQ's own fields of this worker's registration
        last = {"id": job.id, "outcome": outcome.label, "target": str(what)[:300], "at": utcformat(now())}
        fields = {LAST_JOB_FIELD: json.dumps(last), RSS_FIELD: f"{rss_mb():.0f}"}
        self.connection.hset(self.key, mapping=fields)

    def handle_execution_ended(self, job: Job, queue: Queue, heartbeat_ttl: int) -> None:
        # The job body is over: no renewal may race RQ's bookkeeping that ends it.
        if self._heartbeat is not None:
            self._heartbeat.stop()
        super().handle_execution_ended(job, queue, heartbeat_ttl)

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
        if self.scheduler is not None and self.scheduler._process is not None:
            self.scheduler._process.terminate()

        def unregister() -> None:  # so `rq info` does not show a busy ghost until its TTL runs out
            try:
                self.register_death()
            except Exception:
                log.exception("cleanup before watchdog exit failed")

        # Best effort and bounded: Redis may be what is stuck, and its calls retry forever.
        cleanup = threading.Thread(target=unregister, daemon=True)
        cleanup.start()
        cleanup.join(5)
        for h in logging.getLogger().handlers + log.handlers:
            h.flush()
        os._exit(WATCHDOG_EXIT)
