"""Delivery and consent facts WeChat pushes to the callback, kept in Redis for notifications.

- TEMPLATESENDJOBFINISH: the final status of a template message, keyed by its MsgID
  (`success`, `failed:user block`, `failed: system failed`).
- subscription notifications (订阅通知): each user's latest accept/reject per template, and
  the delivery result of each bizsend message by MsgID.

These are facts about WeChat, not business records, so they live in Redis with a TTL where
they are only useful for a while; the consent hash is bounded (≤ 25 templates per user).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import redis as redis_lib

# Long enough for the dispatcher to fold a delivery result into its outbox row.
DELIVERY_TTL_SECONDS = 7 * 24 * 3600

_TEMPLATE_JOB = "wechat:template_job:"
_SUBSCRIPTION = "wechat:subscription:"
_SUBSCRIPTION_SENT = "wechat:subscription_sent:"


def _dump(**values: Any) -> str:
    return json.dumps(values, ensure_ascii=False)


def record_template_job(client: redis_lib.Redis, msg_id: str, status: str, openid: str, now: datetime) -> None:
    """Keep the delivery status of template message `msg_id`."""
    client.set(
        _TEMPLATE_JOB + msg_id,
        _dump(status=status, openid=openid, at=now.isoformat()),
        ex=DELIVERY_TTL_SECONDS,
    )


def template_job(client: redis_lib.Redis, msg_id: str) -> dict[str, Any] | None:
    """The recorded status of template message `msg_id` ({status, openid, at}), if any."""
    raw = client.get(_TEMPLATE_JOB + msg_id)
    return json.loads(raw) if raw else None


def template_jobs(client: redis_lib.Redis, msg_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The recorded statuses of several template messages, in one round trip: msg_id →
    {status, openid, at} for those that have one."""
    if not msg_ids:
        return {}
    raws = client.mget([_TEMPLATE_JOB + msg_id for msg_id in msg_ids])
    return {msg_id: json.loads(raw) for msg_id, raw in zip(msg_ids, raws, strict=True) if raw}


def record_subscription_choice(
    client: redis_lib.Redis, openid: str, template_id: str, status: str, now: datetime, popup_scene: str = ""
) -> None:
    """Keep the user's latest accept/reject for subscription template `template_id`."""
    client.hset(
        _SUBSCRIPTION + openid,
        template_id,
        _dump(status=status, popup_scene=popup_scene, at=now.isoformat()),
    )


def subscription_choices(client: redis_lib.Redis, openid: str) -> dict[str, dict[str, Any]]:
    """template_id → {status, popup_scene, at} for one user."""
    raw = client.hgetall(_SUBSCRIPTION + openid)
    return {key.decode(): json.loads(value) for key, value in raw.items()}


def record_subscription_sent(
    client: redis_lib.Redis,
    msg_id: str,
    openid: str,
    template_id: str,
    error_code: str,
    error_status: str,
    now: datetime,
) -> None:
    """Keep the delivery result of subscription message `msg_id` (ErrorCode 0 = delivered)."""
    client.set(
        _SUBSCRIPTION_SENT + msg_id,
        _dump(
            openid=openid,
            template_id=template_id,
            error_code=error_code,
            error_status=error_status,
            at=now.isoformat(),
        ),
        ex=DELIVERY_TTL_SECONDS,
    )


def subscription_sent(client: redis_lib.Redis, msg_id: str) -> dict[str, Any] | None:
    """The recorded delivery result of subscription message `msg_id`, if any."""
    raw = client.get(_SUBSCRIPTION_SENT + msg_id)
    return json.loads(raw) if raw else None
