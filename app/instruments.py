"""The process's own Prometheus instruments: what is counted as it happens (the callback's
latency, refused logins). What can be read from the stores instead (outbox depth, overdue
tasks, the scheduler's heartbeat) is measured at scrape time by `app/metrics.py`.

Under gunicorn each worker counts for itself; with PROMETHEUS_MULTIPROC_DIR set (deploy/
systemd/ancha-web.service) prometheus_client keeps the counts in memory-mapped files there
and `/metrics` adds up every worker's (docs/OPERATIONS.md §Metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

# WeChat gives up on a callback after 5 s; the budget we watch is well under 1 s.
CALLBACK_SECONDS = Histogram(
    "ancha_callback_seconds",
    "Time to answer a request to /wechat/callback, by HTTP status.",
    ["status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
LOGIN_FAILURES = Counter(
    "ancha_login_failures",
    "Refused console logins: wrong name or password (password), or refused while locked (locked).",
    ["reason"],
)
