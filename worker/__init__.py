"""The RQ runtime on top of jobs/: the worker class (engine built once, heartbeats, watchdog, recycling,
scheduler lifetime) and its Prometheus metrics. See docs/architecture.md."""
