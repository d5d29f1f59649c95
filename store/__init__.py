"""The results database: one Database (engine, migrations, transactions) and what is built over it: scan
results (results.py) and the review state by concern (accounts, audit, allowlist, decisions, queue).
See docs/architecture.md."""
