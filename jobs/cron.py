"""Recurring crawls of listing pages, on RQ's cron scheduler (one per Redis):

    python -m jobs.cron [--url redis://...]     # Redis: QQSCAN_REDIS_URL, else RQ_REDIS_URL, by default

Targets, one of:
- QQSCAN_CRAWL_FILE: a TOML file with one [[target]] table per page:
      [[target]]
      url = "https://shop.example.com/list?page=1"
      shop_id = "12345"                 # optional, stored with every image found
      cron = "0 */6 * * *"              # optional; or interval = 3600 (seconds)
- QQSCAN_CRAWL_URLS: page URLs separated by commas or whitespace, all on the default schedule.

Default schedule: QQSCAN_CRAWL_CRON (a cron expression, local time) if set, else every
QQSCAN_CRAWL_INTERVAL seconds (default 3600). Each run queues one `jobs.tasks.crawl_page` job on the crawl
queue; the crawl queues each image's scan with a URL-derived id, so an image still waiting from the last
run is not queued twice.

Not `rq cron jobs.cron`: rq 3.0's CronJob queues with RQ's default serializer (pickle) and takes no other,
and qqscan workers refuse pickled jobs (jobs.queueing). CrawlCron is RQ's CronScheduler with jobs that
queue through jobs.queueing.job_queue (JSON); imported by `rq cron`, this module stops with a line saying
what to run instead.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis import Redis
from rq import cron_job_registry
from rq.cron import CronJob, CronScheduler
from rq.defaults import DEFAULT_CRON_JOB_HISTORY_LIMIT, DEFAULT_CRON_JOB_HISTORY_TTL
from rq.job import Job

from ground.errors import UsageError
from ground.settings import DEFAULTS, SettingError, Settings
from jobs.queueing import Policy, QueueUnavailable, connect, crawl_kwargs, job_queue, redis_url
from jobs.tasks import crawl_page


def _loaded_by_rq_cron() -> bool:
    """This module is being imported by RQ's own cron loader (`rq cron jobs.cron`)."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "load_config_from_file" and frame.f_globals.get("__name__") == "rq.cron":
            return True
        frame = frame.f_back
    return False


if _loaded_by_rq_cron():  # its jobs would be pickles, which the workers refuse
    raise SystemExit(
        "qqscan cron: `rq cron` queues pickled jobs, which qqscan workers refuse; "
        "run `python -m jobs.cron` instead (same settings, `--url` optional)"
    )


@dataclass(frozen=True)
class Target:
    url: str
    listing_id: str | None = None
    shop_id: str | None = None
    cron: str | None = None
    interval: int | None = None


class CronConfigError(UsageError, ValueError):
    """QQSCAN_CRAWL_* names no target, or a target that cannot be read."""


def load_targets(settings: Settings = DEFAULTS) -> list[Target]:
    default_cron = settings["QQSCAN_CRAWL_CRON"]
    default_interval = None if default_cron else settings["QQSCAN_CRAWL_INTERVAL"]
    path = settings["QQSCAN_CRAWL_FILE"]
    targets: list[Target] = []
    if path:
        try:
            with open(path, "rb") as f:
                doc = tomllib.load(f)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise CronConfigError(f"QQSCAN_CRAWL_FILE={path}: {exc}") from exc
        for i, t in enumerate(doc.get("target", []), start=1):
            if not isinstance(t, dict) or not str(t.get("url", "")).startswith(("http://", "https://")):
                raise CronConfigError(f'{path}: [[target]] #{i} needs url = "http(s)://..."')
            own_cron, own_interval = t.get("cron"), t.get("interval")
            targets.append(
                Target(
                    url=t["url"],
                    listing_id=t.get("listing_id"),
                    shop_id=t.get("shop_id"),
                    cron=own_cron or (None if own_interval else default_cron),
                    interval=int(own_interval) if own_interval else (None if own_cron else default_interval),
                )
            )
    for url in settings["QQSCAN_CRAWL_URLS"]:
        targets.append(Target(url=url, cron=default_cron, interval=default_interval))
    if not targets:
        raise CronConfigError(
            "no crawl targets: set QQSCAN_CRAWL_URLS (page URLs) "
            "or QQSCAN_CRAWL_FILE (a TOML file of [[target]] tables)"
        )
    return targets


class CrawlCronJob(CronJob):
    """RQ's CronJob, queueing its job through jobs.queueing.job_queue (JSON) instead of RQ's default."""

    def enqueue(self, connection: Redis) -> Job:
        # CronJob.enqueue of rq 3.0 with only the queue changed: the same job options, history and registry.
        if not self.func:
            raise ValueError(f"cron job {self.name} has no function to queue")
        queue = job_queue(self.queue_name, connection)
        with connection.pipeline() as pipeline:
            job = queue.enqueue(
                self.func, args=self.args, kwargs=self.kwargs, **self.job_options, pipeline=pipeline
            )
            assert job.enqueued_at is not None
            stamp = job.enqueued_at.timestamp()
            pipeline.zadd(self.job_history_key, {job.id: stamp})
            pipeline.zremrangebyrank(self.job_history_key, 0, -(DEFAULT_CRON_JOB_HISTORY_LIMIT + 1))
            pipeline.expire(self.job_history_key, DEFAULT_CRON_JOB_HISTORY_TTL)
            cron_job_registry.add(self.name, pipeline, enqueue_timestamp=stamp)
            pipeline.execute()
        return job


class CrawlCron(CronScheduler):
    """RQ's cron scheduler whose jobs are CrawlCronJobs."""

    def register(self, func: Callable[..., Any], queue_name: str, **options: Any) -> CronJob:
        job = CrawlCronJob(queue_name=queue_name, func=func, **options)
        self._cron_jobs.append(job)  # what CronScheduler.register does with the CronJob it builds
        every = f"every {job.interval} s" if job.interval else f"on '{job.cron}'"
        self.log.info("registered %s %s on %s", job.name, every, queue_name)
        return job


def register_all(targets: list[Target], scheduler: CronScheduler, policy: Policy | None = None) -> list[Any]:
    policy = policy or Policy()
    registered = []
    for t in targets:
        # `or None`: an empty listing_id/shop_id in the file is left out, as it always was.
        kwargs = crawl_kwargs(t.url, t.listing_id or None, t.shop_id or None)
        registered.append(
            scheduler.register(
                crawl_page,
                queue_name=policy.crawl_queue,
                kwargs=kwargs,
                interval=t.interval,
                cron=t.cron,
                job_timeout=policy.job_timeout,
                name=f"crawl {t.url}",
            )
        )
    return registered


def parser() -> argparse.ArgumentParser:
    """The command line of `python -m jobs.cron`."""
    p = argparse.ArgumentParser(
        prog="python -m jobs.cron",
        description="Queue the crawls of QQSCAN_CRAWL_FILE / QQSCAN_CRAWL_URLS on their schedules. "
        "Run one per Redis.",
    )
    p.add_argument("--url", "-u", help="Redis URL (default: QQSCAN_REDIS_URL, else RQ_REDIS_URL)")
    p.add_argument(
        "--logging-level", "-l", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = Settings.load()  # this command's edge
        targets = load_targets(settings)
        conn = connect(args.url or redis_url(settings))
    except (CronConfigError, QueueUnavailable, SettingError) as exc:  # one line: what to set
        print(f"qqscan cron: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    scheduler = CrawlCron(connection=conn, logging_level=args.logging_level)
    register_all(targets, scheduler, Policy.from_settings(settings))
    scheduler.start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
