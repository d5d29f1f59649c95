"""How a worker's log reads: one line per job at INFO (its outcome, worker.worker), RQ's own per-job lines at
DEBUG, and every line with an ISO-8601 time and its level; or one JSON object per line for log shippers.

`configure` sets up the process's handler (`qqscan worker`, the spawned scheduler); `demote_rq` is applied by
the worker class itself, so `rq worker-pool -w worker.worker.ScanWorker` gets the same one line per job.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
FORMATS = ("text", "json")
# RQ's loggers whose INFO lines (dequeued, "Job OK", result kept, registries cleaned ...) repeat what the
# outcome line says; lines the worker class writes through them keep their level.
RQ_LOGGERS = ("rq.worker", "rq.job", "rq.queue", "rq.scheduler", "rq.cron")
_OURS = str(Path(__file__).resolve().parent)
NOISY = ("httpx", "httpcore", "alembic")  # a line per request / per migration check drowns the job log


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (ISO-8601, UTC offset), level, logger, message, and the job's fields
    when the line is a job outcome."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "time": time.strftime(DATE_FORMAT, time.localtime(record.created)),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        doc.update(getattr(record, "job", None) or {})
        if record.exc_info:
            doc["traceback"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


class _DemoteRq(logging.Filter):
    """RQ's own INFO lines become DEBUG (shown only when the logger is at DEBUG)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or record.pathname.startswith(_OURS):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


class _OutcomesOnly(logging.Filter):
    """`-q`: job outcome lines and warnings/errors; the rest is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or getattr(record, "job", None) is not None


_demoter = _DemoteRq()


def demote_rq() -> None:
    # A line logged from a signal handler (RQ's warm-shutdown message) while the main thread is writing one
    # fails with "reentrant call"; logging's error report then writes to stderr again from the handler and
    # can fail the same way, ending the handler before it stops the worker (seen once: an idle worker with
    # Redis down took a second SIGTERM). Without the report, the handler goes on to its stop.
    logging.raiseExceptions = False
    for name in RQ_LOGGERS:
        logger = logging.getLogger(name)
        if _demoter not in logger.filters:
            logger.addFilter(_demoter)


def formatter(fmt: str) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT, DATE_FORMAT)


def configure(level: str | int, fmt: str = "text", *, quiet: bool = False) -> None:
    """This process's log: one stderr handler on the root logger at `level`, `fmt` text or json; quiet keeps
    job outcomes, warnings and errors. RQ's loggers hand their lines to it instead of their own handlers."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(fmt))
    if quiet:
        handler.addFilter(_OutcomesOnly())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in RQ_LOGGERS:  # RQ adds its own handlers only to a logger with none in its hierarchy
        logging.getLogger(name).setLevel(logging.NOTSET)
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    demote_rq()
