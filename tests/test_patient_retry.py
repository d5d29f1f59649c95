"""The worker's patient Redis retry: survives hours of outage, and its stop predicate stays in the worker."""

from __future__ import annotations

import pickle

from jobs.queueing import PatientRetry


def test_backoff_survives_thousands_of_failed_attempts() -> None:
    # redis-py's own backoff computes base * 2**failures before capping: OverflowError after ~1000 failures.
    retry = PatientRetry(cap=10.0)
    assert 0 <= retry._backoff.compute(5000) <= 10.0


def test_the_stop_predicate_stays_in_the_worker_process() -> None:
    """The scheduler process gets the retry pickled with the connection's arguments; the predicate (a
    closure over the worker object) must not travel, or spawning the scheduler fails."""
    retry = PatientRetry(stop_requested=lambda: True)
    copy = pickle.loads(pickle.dumps(retry))
    assert copy.stop_requested is None and retry.stop_requested is not None
