"""Whoever can write to the queues' Redis must not run code on the workers (issue #23 item 3).

Forged jobs are written the way an attacker with Redis access (or an older qqscan) writes them, through
RQ's own API: a pickle whose loading runs `touch`, JSON naming `os.system`, `subprocess.call`, a project
function that is not a job, a callback that is not ours. They go on the real queues of a redis-server of
our own ahead of a legitimate job; the real worker (in-process, sharing the session's OCR engine) and the
real `qqscan status` read them. Each forged job must leave no marker file, be recorded as refused (failed
registry, a reason naming its id, a log line, the `refused` counter), and the legitimate job after it must
run. Redis with a password and with an ACL user limited to the queue keys runs the whole path.
"""

# ruff: noqa: F811  (pytest fixtures imported from tests.test_batch are parameters here)
from __future__ import annotations

import ast
import json
import logging
import os
import shlex
import time
import zlib
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from redis import Redis
from rq import Callback, Queue
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer, PickleSerializer

from jobs.queueing import job_id, reconcile
from tests.databases import enqueue_scans
from tests.test_batch import (  # noqa: F401  (fixtures)
    REPO,
    cli,
    env,
    images,
    reap_workers,
    restore_signals,
    run_worker_inprocess,
    sqlite_db,
    store_for,
)
from tests.test_layers import python_files

pytest_plugins = ("tests.redis_server",)


class TouchOnUnpickle:
    """Loading this object runs `touch PATH`: what pickle lets a job's bytes do to whoever reads them."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, (f"touch {shlex.quote(str(self.path))}",))


def leave_marker(job: Any, *rest: Any) -> None:
    """Stands for code no qqscan job may name: called as a job's callback, it writes the file named by the
    job's description (a plain hash field, read alike whatever the serializer)."""
    Path(job.description).write_text("ran")


def pickled_queue(conn: Redis) -> Queue:
    """The scan queue as RQ's defaults write it: pickle, what qqscan queued before JSON jobs."""
    return Queue("scan", connection=conn, serializer=PickleSerializer)


def json_queue(conn: Redis) -> Queue:
    return Queue("scan", connection=conn, serializer=JSONSerializer)


def refused_count() -> float:
    return REGISTRY.get_sample_value("qqscan_jobs_total", {"outcome": "refused"}) or 0.0


def refusal(conn: Redis, jid: str) -> str:
    """The reason RQ recorded for job `jid`, which must be FAILED and in the scan queue's failed registry."""
    job = Job.fetch(jid, connection=conn, serializer=JSONSerializer)
    assert job.get_status() == JobStatus.FAILED, (jid, job.get_status())
    assert jid in json_queue(conn).failed_job_registry.get_job_ids(), jid
    result = job.latest_result()
    assert result is not None, jid
    return result.exc_string or ""


def finished(conn: Redis, jid: str) -> dict[str, Any]:
    job = Job.fetch(jid, connection=conn, serializer=JSONSerializer)
    assert job.get_status() == JobStatus.FINISHED, (jid, job.get_status())
    return job.return_value()


def logged(caplog: pytest.LogCaptureFixture, *words: str) -> bool:
    return any(all(w in r.getMessage() for w in words) for r in caplog.records)


@pytest.fixture
def image_url(http_server: Any, images: dict[str, bytes]) -> str:
    http_server.route("/qq.png", body=images["qq"], content_type="image/png")
    return http_server.url("/qq.png")


# --- forged jobs on the queue ---------------------------------------------------------------------------


def test_a_pickled_job_does_not_run_and_the_job_queued_after_it_does(
    tmp_path, env, image_url, sqlite_db, redis_url, restore_signals, caplog
):
    marker = tmp_path / "pickle-ran"
    conn = Redis.from_url(redis_url)
    pickled_queue(conn).enqueue("jobs.tasks.scan_url", TouchOnUnpickle(marker), job_id="forged-pickle")
    enqueue_scans(conn, [image_url])
    before = refused_count()

    with caplog.at_level(logging.WARNING):
        run_worker_inprocess(redis_url)

    assert not marker.exists(), "the worker unpickled the job: its __reduce__ ran"
    reason = refusal(conn, "forged-pickle")
    assert "job forged-pickle refused" in reason and "not JSON" in reason, reason
    assert logged(caplog, "forged-pickle", "refused")
    assert refused_count() == before + 1
    assert finished(conn, job_id("scan", image_url))["flagged"]
    assert store_for(sqlite_db).count("scans") == 1


def test_json_jobs_naming_code_off_the_allow_list_do_not_run(
    tmp_path, env, image_url, sqlite_db, redis_url, restore_signals, caplog
):
    """One worker listening on one queue (RQ then moves each job to an intermediate list with LMOVE: a
    refused job must leave it too). Before JSON jobs, a job that was not a pickle ended the worker's loop."""
    from worker.worker import ScanWorker

    marks = {k: tmp_path / f"{k}-ran" for k in ("os", "subprocess", "project", "callback")}
    conn = Redis.from_url(redis_url)
    q = json_queue(conn)
    q.enqueue("os.system", f"touch {shlex.quote(str(marks['os']))}", job_id="forged-os-system")
    q.enqueue("subprocess.call", ["touch", str(marks["subprocess"])], job_id="forged-subprocess")
    # A project function that is not a job: opening a store creates its SQLite file.
    q.enqueue("store.results.get_store", f"sqlite:///{marks['project']}", job_id="forged-project-function")
    # A job function on the list with a callback that is not.
    q.enqueue(
        "jobs.tasks.reconcile_requests",
        job_id="forged-callback",
        on_success=Callback(f"{__name__}.leave_marker"),
        description=str(marks["callback"]),
    )
    # A hash written by hand, not through RQ, with a field RQ cannot parse.
    data = zlib.compress(json.dumps(["jobs.tasks.reconcile_requests", None, [], {}]).encode())
    conn.hset("rq:job:forged-unreadable", mapping={"data": data, "status": "pwned", "origin": "scan"})
    conn.rpush(q.key, "forged-unreadable")
    enqueue_scans(conn, [image_url])
    before = refused_count()

    with caplog.at_level(logging.WARNING):
        ScanWorker(["scan"], connection=conn).work(burst=True)

    assert [k for k, m in marks.items() if m.exists()] == []
    expected = {
        "forged-os-system": "function 'os.system' is not one of qqscan's job functions",
        "forged-subprocess": "function 'subprocess.call' is not one of qqscan's job functions",
        "forged-project-function": "function 'store.results.get_store' is not one of qqscan's job functions",
        "forged-callback": f"success callback '{__name__}.leave_marker' is not one of qqscan's callbacks",
        "forged-unreadable": "its hash cannot be read (ValueError: 'pwned' is not a valid JobStatus)",
    }
    for jid, why in expected.items():
        reason = refusal(conn, jid)
        assert f"job {jid} refused" in reason and why in reason, reason
        assert logged(caplog, jid, "refused", why)
    assert refused_count() == before + len(expected)
    assert conn.llen(q.intermediate_queue_key) == 0
    assert finished(conn, job_id("scan", image_url))["flagged"]


def test_a_worker_built_by_rqs_cli_reads_json_whatever_it_is_handed(
    tmp_path, env, image_url, sqlite_db, redis_url, restore_signals
):
    """`rq worker -w worker.worker.ScanWorker` and `rq worker-pool` build the worker with RQ's defaults:
    pickle and rq.job.Job, and queues made with them."""
    from worker.worker import ScanWorker

    marker = tmp_path / "pickle-ran"
    conn = Redis.from_url(redis_url)
    pickled_queue(conn).enqueue("jobs.tasks.scan_url", TouchOnUnpickle(marker), job_id="forged-pickle")
    enqueue_scans(conn, [image_url])
    w = ScanWorker(
        [Queue("scan", connection=conn, job_class=Job, serializer=None)],
        connection=conn,
        job_class=Job,
        queue_class=Queue,
        serializer=None,
    )
    assert w.serializer is JSONSerializer and all(q.serializer is JSONSerializer for q in w.queues)
    w.work(burst=True)
    assert not marker.exists()
    assert "not JSON" in refusal(conn, "forged-pickle")
    assert finished(conn, job_id("scan", image_url))["flagged"]


def test_an_abandoned_forged_jobs_callback_runs_neither_in_status_nor_in_a_worker(
    tmp_path, sqlite_db, redis_url, restore_signals, monkeypatch
):
    """A job found abandoned in the started registry gets its failure callback called by RQ's clean-up,
    which runs wherever a registry is counted: `qqscan status` too, not only workers."""
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the named callback is importable: only the guard stops it
    monkeypatch.setenv("QQSCAN_RECONCILE_INTERVAL", "0")
    conn = Redis.from_url(redis_url)
    q = json_queue(conn)

    def abandon(jid: str, marker: Path) -> Job:
        """As if a worker had started the job and died: off the queue, STARTED, its entry expired."""
        job = q.enqueue(
            "jobs.tasks.scan_url",
            "https://img.test/a.png",
            job_id=jid,
            on_failure=Callback(f"{__name__}.leave_marker"),
            description=str(marker),
        )
        conn.lrem(q.key, 0, jid)
        job.set_status(JobStatus.STARTED)
        conn.zadd(q.started_job_registry.key, {f"{jid}:dead-worker": time.time() - 60})
        return job

    by_status = abandon("forged-abandoned-1", tmp_path / "status-ran")
    r = cli("status")
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / "status-ran").exists(), "qqscan status imported and called the forged callback"
    assert by_status.get_status() == JobStatus.FAILED  # RQ's clean-up still failed it as abandoned

    by_worker = abandon("forged-abandoned-2", tmp_path / "worker-ran")
    run_worker_inprocess(redis_url)  # its first maintenance pass cleans the started registry
    assert not (tmp_path / "worker-ran").exists(), "the worker imported and called the forged callback"
    assert by_worker.get_status() == JobStatus.FAILED


def test_a_job_queued_by_an_older_qqscan_is_refused_then_queued_again_by_the_reconciler(
    env, image_url, sqlite_db, redis_url, restore_signals
):
    """Upgrading: jobs an older qqscan queued are pickles. The store holds the request, so the reconciler
    queues the URL again as a JSON job and nothing is lost."""
    conn = Redis.from_url(redis_url)
    store = store_for(sqlite_db)
    jid = job_id("scan", image_url)
    store.record_requests("scan", [image_url])
    pickled_queue(conn).enqueue(  # what enqueue_scans wrote before JSON jobs
        "jobs.tasks.scan_url",
        kwargs={"url": image_url},
        job_id=jid,
        on_failure=Callback("jobs.tasks.record_give_up"),
        meta={"max_attempts": 5},
    )

    run_worker_inprocess(redis_url)
    assert "not JSON" in refusal(conn, jid)
    assert store.count("scans") == 0 and store.source(image_url) is None  # still an open request

    assert reconcile(conn, store)["requeued"] == 1
    run_worker_inprocess(redis_url)
    assert finished(conn, jid)["flagged"]
    assert store.count("scans") == 1 and store.count("sources") == 1


# --- Redis with a password, or an ACL user limited to the queue keys ----------------------------------------

# The ACL docs/batch.md gives: RQ's keys and channels (rq:) and qqscan's own (qqscan:), no dangerous commands.
QUEUE_ACL = ("~rq:*", "~qqscan:*", "&rq:*", "+@all", "-@dangerous")


@pytest.mark.parametrize("auth", ["requirepass", "acl-user"])
def test_the_batch_path_runs_on_a_redis_that_needs_credentials(
    auth, env, image_url, sqlite_db, redis_factory, restore_signals, monkeypatch
):
    from jobs.queueing import QueueUnavailable, connect, enqueue_reconcile

    if auth == "requirepass":
        server = redis_factory(args=("--requirepass", "s3cret-pw"), userinfo=":s3cret-pw")
    else:
        server = redis_factory(
            args=("--user", "default", "off", "--user", "qqscan", "on", ">s3cret-pw", *QUEUE_ACL),
            userinfo="qqscan:s3cret-pw",
        )
    monkeypatch.setenv("QQSCAN_REDIS_URL", server.url)
    bare = f"redis://127.0.0.1:{server.port}/0"
    with pytest.raises(QueueUnavailable) as refused:
        connect(bare)
    assert "127.0.0.1" in str(refused.value) and "QQSCAN_REDIS_URL" in str(refused.value)

    conn = connect(server.url)
    enqueue_scans(conn, [image_url])
    enqueue_reconcile(conn)
    w = run_worker_inprocess(server.url)  # with its spawned scheduler, which rebuilds the connection
    assert dict(w.summary.outcomes) == {"flagged": 1, "done": 1}
    assert finished(conn, job_id("scan", image_url))["flagged"]
    r = cli("status", "--json")
    assert r.returncode == 0 and "s3cret" not in r.stdout + r.stderr, r.stderr
    if auth == "acl-user":  # the user reaches nothing outside the queue keys
        from redis.exceptions import NoPermissionError

        with pytest.raises(NoPermissionError):
            conn.set("not-a-queue-key", 1)


# --- the rules the code follows --------------------------------------------------------------------------

# RQ classes and calls that read or write jobs: each takes the serializer (RQ's default is pickle).
SERIALIZED_CALLS = {"Queue", "Job", "RQScheduler", "SpawnedScheduler", "Worker"}
SERIALIZED_METHODS = {"fetch", "fetch_many", "create", "all"}
PRODUCT = ("qqscan", "jobs", "worker", "review", "store", "fetch", "ocr", "detectors")


def test_every_queue_job_and_scheduler_the_product_builds_names_the_serializer():
    """jobs.queueing.job_queue / fetch_job carry SERIALIZER; anything built by hand must pass it too."""
    missing = []
    for pkg in PRODUCT:
        for path in python_files(REPO / pkg):
            for node in ast.walk(ast.parse(path.read_text("utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                f = node.func
                name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
                owner = f.value.id if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) else ""
                builds = (
                    name in SERIALIZED_CALLS
                    or name.endswith("Registry")
                    or (name in SERIALIZED_METHODS and owner in SERIALIZED_CALLS | {"GuardedJob"})
                )
                if builds and not any(k.arg in ("serializer", None) for k in node.keywords):
                    missing.append(f"{path.relative_to(REPO)}:{node.lineno} {ast.unparse(f)}(...)")
    assert missing == [], (
        "build it with jobs.queueing.job_queue/fetch_job or pass serializer=:\n" + "\n".join(missing)
    )


def test_the_allow_list_is_what_qqscan_queues_and_names_real_functions():
    import importlib

    from jobs import cron, queueing

    names = queueing.JOB_FUNCTIONS | queueing.JOB_CALLBACKS
    for name in names:
        module, _, attr = name.rpartition(".")
        assert module == "jobs.tasks" and callable(getattr(importlib.import_module(module), attr)), name
    assert set(queueing.TASKS.values()) | {queueing.RECONCILE_TASK} == queueing.JOB_FUNCTIONS
    assert queueing.GIVE_UP_CALLBACK in queueing.JOB_CALLBACKS
    assert f"{cron.crawl_page.__module__}.{cron.crawl_page.__name__}" in queueing.JOB_FUNCTIONS
