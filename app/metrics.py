"""GET /metrics: Prometheus text for the operator (docs/OPERATIONS.md §Metrics).

Two kinds of figures. What the process counts as it happens (callback latency, refused
logins: `app/instruments.py`), summed over every gunicorn worker when
PROMETHEUS_MULTIPROC_DIR is set. And what the stores already know, read at scrape time so
every web host reports the same truth and nothing has to keep a count in step: the outbox
(due depth, the oldest due message's wait, dead and failed rows), overdue check tasks and
hazards, the scheduler's heartbeat, and this host's callback spool.

Access: with METRICS_TOKEN set, only `Authorization: Bearer <METRICS_TOKEN>`; without it,
open in development and testing and absent (404) in production, so figures about the
district's enterprises never leak by default.
"""

from __future__ import annotations

import hmac
import logging
import math
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from flask import Blueprint, Response, abort, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from app.clock import utcnow
from app.extensions import db, redis_client
from app.hazard_reporting.checks.models import CheckTask
from app.hazard_reporting.checks.queries import task_overdue_clause
from app.hazard_reporting.hazards.models import Hazard
from app.hazard_reporting.hazards.queries import overdue_clause
from app.notifications.domain import OutboxStatus
from app.notifications.models import OutboxMessage
from app.scheduling.runner import HEARTBEAT_KEY
from app.wechat_inbound.spool import Spool

bp = Blueprint("metrics", __name__)
log = logging.getLogger(__name__)


@bp.get("/metrics")
def metrics() -> Response:
    settings = current_app.config["SETTINGS"]
    token = settings.METRICS_TOKEN
    if token:
        offered = request.headers.get("Authorization", "")
        if not hmac.compare_digest(offered.encode(), f"Bearer {token}".encode()):
            return Response("unauthorized\n", 401, {"WWW-Authenticate": "Bearer"}, mimetype="text/plain")
    elif settings.ANCHA_ENV == "production":
        abort(404)
    state = CollectorRegistry(auto_describe=False)
    state.register(StoreCollector(utcnow(), Spool(settings.WECHAT_SPOOL_DIR)))
    body = generate_latest(_process_registry()) + generate_latest(state)
    return Response(body, 200, mimetype=CONTENT_TYPE_LATEST.split(";")[0])


def _process_registry() -> CollectorRegistry:
    """Every worker's counts (multiprocess mode), or this process's own."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return registry
    return REGISTRY


class StoreCollector(Collector):
    """The figures the database, Redis and the spool hold, as of `now`. A store that cannot
    be read shows as `ancha_store_up{store=…} 0` and its figures are left out: a scrape
    must still answer while PostgreSQL or Redis is down, that is when it matters most."""

    def __init__(self, now: datetime, spool: Spool):
        self.now = now
        self.spool = spool

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("ancha_store_up", "Whether /metrics could read the store.", labels=["store"])
        try:
            yield from self._database()
            up.add_metric(["database"], 1)
        except Exception as exc:  # any driver error: report it as down, never a 500
            log.warning("metrics: database unreadable: %s", exc)
            db.session.rollback()
            up.add_metric(["database"], 0)
        try:
            yield from self._redis()
            up.add_metric(["redis"], 1)
        except Exception as exc:
            log.warning("metrics: redis unreadable: %s", exc)
            up.add_metric(["redis"], 0)
        yield up
        yield _gauge(
            "ancha_wechat_spool_pending",
            "Callback deliveries on this host's spool waiting to be replayed.",
            len(self.spool.pending()),
        )

    def _database(self) -> Iterator[GaugeMetricFamily]:
        session, now = db.session, self.now
        queued_due = (OutboxMessage.status == OutboxStatus.QUEUED) & (
            OutboxMessage.next_attempt_at.is_(None) | (OutboxMessage.next_attempt_at <= now)
        )
        due, oldest = session.execute(
            select(func.count(), func.min(func.coalesce(OutboxMessage.next_attempt_at, OutboxMessage.created_at))).where(
                queued_due
            )
        ).one()
        by_status = dict(
            session.execute(
                select(OutboxMessage.status, func.count())
                .where(OutboxMessage.status.in_([OutboxStatus.QUEUED, OutboxStatus.DEAD, OutboxStatus.FAILED]))
                .group_by(OutboxMessage.status)
            ).all()
        )
        overdue_tasks = session.scalar(select(func.count()).select_from(CheckTask).where(task_overdue_clause(now)))
        overdue_hazards = session.scalar(select(func.count()).select_from(Hazard).where(overdue_clause(now)))
        session.rollback()  # read only: end the transaction, hold no snapshot between scrapes

        yield _gauge("ancha_outbox_due", "Queued messages whose attempt is due now (the dispatcher's backlog).", due)
        yield _gauge(
            "ancha_outbox_oldest_due_age_seconds",
            "How long the oldest due message has waited past its attempt time (0 when none).",
            max(0.0, (now - _aware(oldest)).total_seconds()) if oldest else 0.0,
        )
        outbox = GaugeMetricFamily("ancha_outbox_messages", "Outbox rows by status.", labels=["status"])
        for status in (OutboxStatus.QUEUED, OutboxStatus.DEAD, OutboxStatus.FAILED):
            outbox.add_metric([status.value], by_status.get(status, 0))
        yield outbox
        yield _gauge("ancha_check_tasks_overdue", "Check tasks past their due time and still owed.", overdue_tasks)
        yield _gauge("ancha_hazards_overdue", "Hazards past their rectification deadline, not yet rectified.", overdue_hazards)

    def _redis(self) -> Iterator[GaugeMetricFamily]:
        beat = redis_client().get(HEARTBEAT_KEY)
        age = max(0.0, time.time() - float(beat)) if beat else math.inf
        yield _gauge(
            "ancha_scheduler_heartbeat_age_seconds",
            "Seconds since the active scheduler last renewed its lease (+Inf: none for a day).",
            age,
        )


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes (stored UTC); PostgreSQL aware ones.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
