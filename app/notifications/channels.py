"""The ways out to WeChat and the shared state around them, kept in Redis:

- the customer-service window of each user (opened by what they send us, see
  `note_interaction`), which decides whether a free-text message may be used;
- the account's send quotas (per minute and per day, for every dispatcher at once, through
  the `limits` library) and channel pauses after WeChat itself said 45009/45011;
- operator alerts (bad template or data, misconfigured account, possible duplicates) for
  the console;
- the two sends: template messages (with `client_msg_id`, so WeChat can drop a repeat) and
  customer-service text messages.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import redis as redis_lib
from limits import parse_many
from limits.storage import storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

from app.notifications.domain import WINDOW_LENGTHS, Channel, service_window
from app.notifications.kinds import Rendered

log = logging.getLogger(__name__)

_LAST_INTERACTION = "ancha:wechat:last_interaction:"
_WINDOW = "ancha:wechat:cs_window:"
_PAUSE = "ancha:notify:pause:"
ALERTS_KEY = "ancha:notify:alerts"
ALERT_COUNTS_KEY = "ancha:notify:alert_counts"
MAX_ALERTS = 200
LAST_INTERACTION_TTL = 30 * 24 * 3600


# --- the customer-service window ---------------------------------------------------------


def note_interaction(redis: redis_lib.Redis, openid: str, msg_type: str, event: str, now: datetime) -> None:
    """Record that `openid` just reached us (last_interaction_at), and extend their
    customer-service window by what this inbound message allows (48 h after a message, a
    minute after a follow/scan/click). One round trip."""
    with redis.pipeline(transaction=False) as pipe:
        for key, value, ttl in interaction_writes(openid, msg_type, event, now):
            pipe.set(key, value, ex=ttl)
        pipe.execute()


def interaction_writes(openid: str, msg_type: str, event: str, now: datetime) -> list[tuple[str, str, int]]:
    """The (key, value, ttl) SETs that `note_interaction` makes, for a caller that batches
    them with its own commands (the callback does, in its one round trip).

    Writes only, no read: each window length has its own key, so a minute after a scan
    never overwrites the 48 hours after a message, and within one length a later write
    always ends later."""
    if not openid:
        return []
    at = now.timestamp()
    writes = [(_LAST_INTERACTION + openid, f"{at:.3f}", LAST_INTERACTION_TTL)]
    length = service_window(msg_type, event)
    if length is not None:
        seconds = int(length.total_seconds())
        writes.append((_window_key(seconds, openid), f"{at + seconds:.3f}", max(seconds, 1)))
    return writes


def _window_key(seconds: int, openid: str) -> str:
    return f"{_WINDOW}{seconds}:{openid}"


def last_interaction_at(redis: redis_lib.Redis, openid: str) -> datetime | None:
    """When `openid` last sent us anything (None: not within 30 days)."""
    raw = redis.get(_LAST_INTERACTION + openid)
    return datetime.fromtimestamp(float(raw), UTC) if raw else None


def open_windows(redis: redis_lib.Redis, openids: Iterable[str], now: datetime) -> set[str]:
    """The openids whose customer-service window is open at `now` (one round trip)."""
    ids = sorted(set(openids))
    if not ids:
        return set()
    lengths = [int(length.total_seconds()) for length in WINDOW_LENGTHS]
    values = redis.mget([_window_key(seconds, openid) for openid in ids for seconds in lengths])
    at = now.timestamp()
    per_user = len(lengths)
    return {
        openid
        for i, openid in enumerate(ids)
        if any(raw is not None and float(raw) > at for raw in values[i * per_user : (i + 1) * per_user])
    }


# --- quotas and pauses -------------------------------------------------------------------


class SendQuota:
    """The account's send quotas per channel ("3000/minute;100000/day"), counted for every
    dispatcher together in Redis (`storage_uri`; "memory://" for a single process, e.g. the
    embedded default's in-process Redis, which cannot run the library's Lua scripts).

    Sliding-window counters: no burst of twice the limit at a window boundary, which is what
    makes WeChat answer 45011."""

    def __init__(self, storage_uri: str, rates: dict[Channel, str], *, identity: str = "wechat"):
        self._storage = storage_from_string(storage_uri)
        self._limiter = SlidingWindowCounterRateLimiter(self._storage)
        # Shortest window first: that is the one that usually runs out.
        self._items = {
            channel: sorted(parse_many(rate), key=lambda item: item.get_expiry())
            for channel, rate in rates.items()
        }
        self._identity = identity

    def acquire(self, channel: Channel, count: int = 1) -> tuple[int, timedelta | None]:
        """Count up to `count` sends on `channel` at once (one round trip per window):
        (how many may go now, how long the rest must wait — None when all may go).

        When a window has less room than asked, what it has left is taken; the wider windows
        checked before it may then count a few sends that did not happen (conservative)."""
        granted, wait = count, None
        for item in self._items.get(channel, ()):
            if granted <= 0:
                break
            if self._limiter.hit(item, self._identity, channel.value, cost=granted):
                continue
            stats = self._limiter.get_window_stats(item, self._identity, channel.value)
            wait = timedelta(seconds=max(stats.reset_time - time.time(), 1.0))
            room = min(granted, max(int(stats.remaining), 0))
            if room and self._limiter.hit(item, self._identity, channel.value, cost=room):
                granted = room
            else:
                granted = 0
        return max(granted, 0), wait

    def reset(self) -> None:
        """Forget every count (tests, benchmarks)."""
        self._storage.reset()


def pause_channel(redis: redis_lib.Redis, channel: Channel, until: datetime, now: datetime) -> None:
    """Stop every dispatcher from sending on `channel` until `until` (WeChat said its quota
    or rate limit is reached). A later pause never shortens an earlier one."""
    key = _PAUSE + channel.value
    current = redis.get(key)
    if current is not None and float(current) >= until.timestamp():
        return
    seconds = max(int((until - now).total_seconds()), 1)
    redis.set(key, f"{until.timestamp():.3f}", ex=seconds)


def paused_until(redis: redis_lib.Redis, channels: Iterable[Channel], now: datetime) -> dict[Channel, datetime]:
    """The channels paused at `now`, with the end of each pause."""
    wanted = list(channels)
    values = redis.mget([_PAUSE + channel.value for channel in wanted])
    found = {}
    for channel, raw in zip(wanted, values, strict=True):
        if raw is not None and float(raw) > now.timestamp():
            found[channel] = datetime.fromtimestamp(float(raw), UTC)
    return found


# --- operator alerts ---------------------------------------------------------------------


def raise_alert(
    redis: redis_lib.Redis,
    now: datetime,
    reason: str,
    *,
    message_id: int | None = None,
    kind: str | None = None,
    errcode: int | None = None,
    detail: str = "",
) -> None:
    """Tell the operator: logged at ERROR, counted per reason and kept (newest first, the
    last MAX_ALERTS) for the console. Never raises on a Redis failure: an alert must not
    stop the dispatcher from recording the result that caused it."""
    log.error(
        "notification alert %s: message %s kind %s errcode %s %s", reason, message_id, kind, errcode, detail
    )
    entry = {
        "at": now.isoformat(),
        "reason": reason,
        "message_id": message_id,
        "kind": kind,
        "errcode": errcode,
        "detail": detail,
    }
    try:
        with redis.pipeline() as pipe:
            pipe.lpush(ALERTS_KEY, json.dumps(entry, ensure_ascii=False))
            pipe.ltrim(ALERTS_KEY, 0, MAX_ALERTS - 1)
            pipe.hincrby(ALERT_COUNTS_KEY, reason, 1)
            pipe.execute()
    except redis_lib.RedisError:
        log.exception("could not store notification alert %s", reason)


def recent_alerts(redis: redis_lib.Redis, limit: int = 50) -> list[dict[str, Any]]:
    """The newest alerts first."""
    return [json.loads(raw) for raw in redis.lrange(ALERTS_KEY, 0, max(limit, 1) - 1)]


def alert_counts(redis: redis_lib.Redis) -> dict[str, int]:
    """How many alerts of each reason were raised."""
    return {key.decode(): int(value) for key, value in redis.hgetall(ALERT_COUNTS_KEY).items()}


# --- sending -----------------------------------------------------------------------------


def send_template(client: Any, openid: str, template_id: str, message: Rendered, client_msg_id: str) -> int | None:
    """Send a template message; WeChat's msgid (for the delivery report) or None.
    `client_msg_id` is the same on every attempt of one outbox row, so WeChat can refuse a
    repeat (45065) instead of showing it twice. Raises WeChatAPIError subclasses."""
    result = client.post(
        "message/template/send",
        data={
            "touser": openid,
            "template_id": template_id,
            "url": message.url,
            "client_msg_id": client_msg_id,
            "data": message.data,
        },
    )
    msgid = result.get("msgid") if isinstance(result, dict) else None
    return int(msgid) if msgid is not None else None


def send_custom(client: Any, openid: str, message: Rendered) -> None:
    """Send a customer-service text message. Raises WeChatAPIError subclasses
    (ServiceWindowClosed outside the 48 h window or over its quota)."""
    client.post(
        "message/custom/send",
        data={"touser": openid, "msgtype": "text", "text": {"content": message.text}},
    )
