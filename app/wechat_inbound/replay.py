"""Replay of the callback's spool (spool.py) once PostgreSQL and Redis answer again.

Each spooled delivery goes, oldest first and in its own unit of work, through the very path
a live one takes (callback.answer_delivery: dedup, handler, commit), at the time it arrived — so a
delivery that also reached us another way (a WeChat retry after the stores came back, a
second copy in the spool) is done once. Before that, its signed (timestamp, nonce) is
checked against the body as the live callback does: a captured URL replayed with another
body during the outage is rejected, not run. The handler's reply goes to the user as the
DELAYED_REPLY notice through the outbox, in the same transaction as the effects.

Stops at the first delivery that meets an outage again (the rest wait for the next run);
a delivery that can never run is moved to the spool's `rejected/` folder and logged."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy.orm import Session

from app.extensions import db, redis_client
from app.notifications.service import enqueue
from app.outages import is_store_outage
from app.wechat.crypto import CallbackAuthError
from app.wechat.dedup import check_fresh_nonce
from app.wechat.parsing import InboundError, parse_inbound
from app.wechat_inbound import callback
from app.wechat_inbound.notices import DELAYED_REPLY, payload_for
from app.wechat_inbound.spool import Spool, Spooled, tells_user

log = logging.getLogger(__name__)


@dataclass
class ReplayReport:
    replayed: int = 0
    rejected: int = 0
    waiting: int = 0  # left in the spool: the stores are still out

    def as_dict(self) -> dict[str, int]:
        return {"replayed": self.replayed, "rejected": self.rejected, "waiting": self.waiting}


def replay_spool(session: Session | None = None, now: datetime | None = None) -> ReplayReport:
    """The scheduler job and `flask wechat replay-spool`: replay every spooled delivery.
    `session` and `now` are the job signature's; each delivery runs in its own unit of work
    at the time it arrived."""
    settings = current_app.config["SETTINGS"]
    spool = Spool(settings.WECHAT_SPOOL_DIR)
    report = ReplayReport()
    pending = spool.pending()
    for index, path in enumerate(pending):
        try:
            item = spool.load(path)
        except ValueError as exc:
            spool.reject(path, str(exc))
            report.rejected += 1
            continue
        outcome = _replay_one(item, settings)
        if outcome == "waiting":
            report.waiting = len(pending) - index
            break
        if outcome == "done":
            spool.done(path)
            report.replayed += 1
        else:
            spool.reject(path, outcome)
            report.rejected += 1
            log.warning("spooled wechat delivery %s rejected: %s", path.name, outcome)
    if report.replayed or report.rejected:
        log.info("wechat spool replay: %s", report.as_dict())
    return report


def _replay_one(item: Spooled, settings: Any) -> str:
    """"done", "waiting" (a store is still out) or the reason it must not run."""
    with current_app.app_context():
        try:
            check_fresh_nonce(
                redis_client.dedicated(), item.timestamp, item.nonce, item.raw, settings.WECHAT_TIMESTAMP_WINDOW
            )
            inbound = parse_inbound(item.text)
        except (CallbackAuthError, InboundError) as exc:
            return f"refused: {exc}"
        except Exception as exc:
            if is_store_outage(exc):
                return "waiting"
            raise

        def delayed_answer(sent: dict[str, Any] | None) -> None:
            if sent is None or not tells_user(inbound):
                return
            payload = payload_for(
                inbound.msg_type, inbound.event, sent["Content"], item.received_at.isoformat(),
                settings.PUBLIC_BASE_URL,
            )
            key = "delayed-reply:" + hashlib.sha256(item.raw).hexdigest()[:40]
            enqueue(db.session, kind=DELAYED_REPLY, recipient_user_id=None, recipient_openid=inbound.openid,
                    payload=payload, dedupe_key=key, now=item.received_at)

        try:
            callback.answer_delivery(
                inbound, None, settings.PUBLIC_BASE_URL, item.received_at, also=delayed_answer, observed=False
            )
        except Exception as exc:
            callback.rollback_quietly()
            if is_store_outage(exc):
                return "waiting"
            log.exception("spooled wechat delivery failed")
            return f"failed: {exc.__class__.__name__}: {exc}"
    return "done"
