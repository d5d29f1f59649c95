"""Config module for RQ's cron scheduler: recurring crawls of listing pages.

    rq cron jobs.cron --url "$QQSCAN_REDIS_URL"

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
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rq import cron

from jobs.queueing import Policy, crawl_kwargs
from jobs.tasks import crawl_page
from qqscan.errors import UsageError
from qqscan.settings import setting


@dataclass(frozen=True)
class Target:
    url: str
    listing_id: str | None = None
    shop_id: str | None = None
    cron: str | None = None
    interval: int | None = None


class CronConfigError(UsageError, ValueError):
    """QQSCAN_CRAWL_* names no target, or a target that cannot be read."""


def load_targets(env: Mapping[str, str] | None = None) -> list[Target]:
    env = os.environ if env is None else env
    default_cron = setting("QQSCAN_CRAWL_CRON", env)
    default_interval = None if default_cron else setting("QQSCAN_CRAWL_INTERVAL", env)
    path = setting("QQSCAN_CRAWL_FILE", env)
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
    for url in setting("QQSCAN_CRAWL_URLS", env):
        targets.append(Target(url=url, cron=default_cron, interval=default_interval))
    if not targets:
        raise CronConfigError(
            "no crawl targets: set QQSCAN_CRAWL_URLS (page URLs) "
            "or QQSCAN_CRAWL_FILE (a TOML file of [[target]] tables)"
        )
    return targets


def register_all(targets: list[Target], policy: Policy | None = None) -> list[dict[str, Any]]:
    policy = policy or Policy.from_env()
    registered = []
    for t in targets:
        # `or None`: an empty listing_id/shop_id in the file is left out, as it always was.
        kwargs = crawl_kwargs(t.url, t.listing_id or None, t.shop_id or None)
        registered.append(
            cron.register(
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


# Importing this module (what `rq cron jobs.cron` does) registers every target. A configuration mistake
# ends the process with one line: rq's CLI would wrap an exception in a 50-line traceback, but lets
# SystemExit through.
try:
    register_all(load_targets())
except CronConfigError as exc:
    raise SystemExit(f"qqscan cron: {exc}") from None
