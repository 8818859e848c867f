"""What the fake WeChat posts to the callback after the fact: the MASSSENDJOBFINISH event of a
mass send, as WeChat pushes it once the job is done (FromUserName `mphelper`, the account's
mass-send assistant, as the documentation has it; MsgID, Status `send success`, TotalCount,
FilterCount — followers left after WeChat's filters, the 4-a-month limit among them —,
SentCount, ErrorCount).

`schedule_mass_report` posts it a few seconds later from a timer thread (the app's
`SANDBOX_MASS_REPORT_DELAY`, default 2 s; never under TESTING, where tests post it themselves
through `POST /sandbox/api/mass/<msg_id>/report`)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from flask import Flask

from app.sandbox.simulator import Delivery, deliver, original_id
from app.sandbox.store import SandboxStore

log = logging.getLogger(__name__)

MASS_HELPER = "mphelper"
DEFAULT_DELAY_SECONDS = 2.0


def mass_report_fields(app_id: str, job: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    """The event's fields, in WeChat's order and types (numbers bare)."""
    return {
        "ToUserName": original_id(app_id),
        "FromUserName": MASS_HELPER,
        "CreateTime": int(now if now is not None else time.time()),
        "MsgType": "event",
        "Event": "MASSSENDJOBFINISH",
        "MsgID": int(job["msg_id"]),
        "Status": job.get("status", "send success"),
        "TotalCount": int(job["total"]),
        "FilterCount": int(job["filter_count"]),
        "SentCount": int(job["sent"]),
        "ErrorCount": int(job["errors"]),
    }


def post_mass_report(app: Flask, store: SandboxStore, msg_id: int) -> Delivery | None:
    """Post the MASSSENDJOBFINISH of `msg_id` to the callback now; None for an unknown job."""
    job = store.mass_job(msg_id)
    if job is None:
        return None
    settings = app.config["SETTINGS"]
    return deliver(app, settings, MASS_HELPER, mass_report_fields(settings.wechat_app_id, job))


def schedule_mass_report(app: Flask, store: SandboxStore, msg_id: int) -> bool:
    """Post the report from a timer thread after the configured delay. False (nothing
    scheduled) under TESTING or with the delay set to None."""
    delay = app.config.get("SANDBOX_MASS_REPORT_DELAY", DEFAULT_DELAY_SECONDS)
    if app.testing or delay is None:
        return False

    def run() -> None:
        try:
            delivery = post_mass_report(app, store, msg_id)
            if delivery is not None and delivery.failure:
                log.warning("sandbox: MASSSENDJOBFINISH %s not accepted: %s", msg_id, delivery.failure)
        except Exception:  # a timer thread has nobody to raise to
            log.exception("sandbox: MASSSENDJOBFINISH %s could not be posted", msg_id)

    timer = threading.Timer(float(delay), run)
    timer.daemon = True
    timer.start()
    return True
