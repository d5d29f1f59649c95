"""Job functions only the batch tests enqueue (RQ imports them by name in the worker process)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from jobs.queueing import GuardedJob


def stuck_in_native_code(seconds: float, marker: str) -> str:
    """Stand-in for a native call that never returns to the interpreter (a wedged Paddle inference).

    RQ's job timeout is SIGALRM raising an exception in the main thread; with SIGALRM blocked in this
    thread the alarm can never interrupt the sleep, exactly as it cannot interrupt a long C call. Writes
    `marker` only if it ever gets to the end."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    time.sleep(seconds)
    Path(marker).write_text("finished")
    return "finished"


class StuckJob(GuardedJob):
    """The job class of test workers that may also run stuck_in_native_code: the allow-list is a class
    attribute, so widening it takes code on the worker's side (`--job-class`), never a job in Redis."""

    functions = GuardedJob.functions | {"tests.batch_jobs.stuck_in_native_code"}
