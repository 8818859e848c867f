"""Pure rules of the outbox: the life of one message, what to do with a WeChat answer,
retry timing, quiet hours and digest folding. Standard library and clock only."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from app.clock import LOCAL_TZ


class OutboxStatus(StrEnum):
    """Where a message stands.

    queued → sent → delivered | failed; queued → failed (permanent refusal), dead (attempts
    used up) or digested (folded into the recipient's daily digest). Only queued is due."""

    QUEUED = "queued"  # waiting for its next attempt at next_attempt_at (claimed or not)
    SENT = "sent"  # WeChat accepted it (errcode 0); the delivery report may follow
    DELIVERED = "delivered"  # WeChat's delivery report said the user received it
    FAILED = "failed"  # permanent: refused by WeChat, undeliverable recipient, report failed
    DEAD = "dead"  # given up after MAX_ATTEMPTS transient failures
    DIGESTED = "digested"  # not sent alone: the recipient reads it in their daily digest


# The statuses a dispatcher still has to work on.
DUE_STATUSES = (OutboxStatus.QUEUED,)
TERMINAL_STATUSES = frozenset(
    {OutboxStatus.DELIVERED, OutboxStatus.FAILED, OutboxStatus.DEAD, OutboxStatus.DIGESTED}
)

MAX_DEDUPE_KEY_LENGTH = 200
MAX_ERROR_LENGTH = 500


class Channel(StrEnum):
    """How a message reaches WeChat."""

    TEMPLATE = "template"  # 模板消息: any follower, any time, fixed keyword fields
    CUSTOM = "custom"  # 客服消息: free text, only inside the user's service window


# A customer-service message may follow a user's message for 48 hours; a follow, a QR scan
# or a click / scancode menu event allows a few for one minute (docs/WECHAT.md §2.6).
WINDOW_AFTER_MESSAGE = timedelta(hours=48)
WINDOW_AFTER_EVENT = timedelta(minutes=1)
WINDOW_LENGTHS = (WINDOW_AFTER_MESSAGE, WINDOW_AFTER_EVENT)
_WINDOW_EVENTS = frozenset({"subscribe", "subscribe_scan", "scan", "click", "scancode_push", "scancode_waitmsg"})


def service_window(msg_type: str, event: str = "") -> timedelta | None:
    """How long the inbound message (`msg_type`, and `event` as wechatpy lower-cases it)
    opens the customer-service window; None when it opens none (VIEW, LOCATION reports,
    unsubscribe, delivery reports …)."""
    if msg_type != "event":
        return WINDOW_AFTER_MESSAGE
    return WINDOW_AFTER_EVENT if event in _WINDOW_EVENTS else None


# --- retries ---------------------------------------------------------------------------------

MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)
# How long a claim protects a row without a heartbeat, and how often a dispatcher that is
# still sending renews the claims of its batch. A live dispatcher renews every
# CLAIM_HEARTBEAT at the latest (it wakes at least that often while its sends run, and one
# send gives up after the client's 13 s), so the lease only has to outlast one heartbeat and
# a stuck send with room to spare; a crashed dispatcher's rows come due again a minute later,
# not after the slowest batch imaginable.
CLAIM_LEASE = timedelta(seconds=60)
CLAIM_HEARTBEAT = timedelta(seconds=15)


def backoff(attempts: int, rand: Callable[[], float] = random.random) -> timedelta:
    """The wait after the `attempts`-th failed attempt: 30 s doubling up to 1 h, with equal
    jitter (half fixed, half random) so messages that failed together spread out.
    Raises ValueError for attempts < 1."""
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * (2 ** min(attempts - 1, 20)))
    return ceiling / 2 + (ceiling / 2) * rand()


class Verdict(StrEnum):
    """What a WeChat refusal means for the message."""

    RETRY = "retry"  # transient: try again after backoff (counts as an attempt)
    RETRY_ALERT = "retry_alert"  # the account is misconfigured: retry, and tell the operator
    DEFER = "defer"  # quota or rate limit: wait for the window, not counted as an attempt
    FAIL = "fail"  # the recipient cannot receive it: give up
    UNFOLLOWED = "unfollowed"  # 43004: give up on this user until they follow again
    REJECTED = "rejected"  # bad template id or data: give up and alert the operator
    FALLBACK = "fallback"  # customer-service window closed: send it as a template instead
    DUPLICATE = "duplicate"  # WeChat already has this client_msg_id: it went out before


_VERDICT_BY_CATEGORY = {
    "transport": Verdict.RETRY,
    "busy": Verdict.RETRY,
    "token": Verdict.RETRY,
    "api": Verdict.RETRY,  # an unlisted errcode: bounded by MAX_ATTEMPTS
    "credentials": Verdict.RETRY_ALERT,
    "permission": Verdict.RETRY_ALERT,
    "quota": Verdict.DEFER,
    "rate_limit": Verdict.DEFER,
    "recipient": Verdict.FAIL,
    "service_window": Verdict.FALLBACK,
    "duplicate": Verdict.DUPLICATE,
    "request": Verdict.REJECTED,
    "oauth_code": Verdict.REJECTED,
}


def classify(category: str, errcode: int | None) -> Verdict:
    """The verdict for a failed send, from the client error's `category` and `errcode`
    (docs/WECHAT.md §2.12). 43004 is singled out: the user unfollowed."""
    if errcode == 43004:
        return Verdict.UNFOLLOWED
    return _VERDICT_BY_CATEGORY.get(category, Verdict.RETRY)


# WeChat's daily quotas reset at midnight Beijing time; a per-minute limit after a minute.
RATE_LIMIT_PAUSE = timedelta(seconds=60)


def quota_pause_until(errcode: int | None, now: datetime) -> datetime:
    """Until when a channel that answered 45009 (daily quota) or 45011 (per-minute limit)
    should rest: the next local midnight for the daily quota, a minute otherwise."""
    if errcode == 45009:
        local = now.astimezone(LOCAL_TZ)
        midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=LOCAL_TZ)
        return midnight.astimezone(now.tzinfo)
    return now + RATE_LIMIT_PAUSE


# --- delivery reports (TEMPLATESENDJOBFINISH) ------------------------------------------------


def delivery_status(report: str) -> OutboxStatus | None:
    """The outbox status a TEMPLATESENDJOBFINISH `Status` stands for: `success` → delivered,
    `failed:user block` / `failed: system failed` (any `failed…`) → failed; None otherwise."""
    normalized = report.strip().lower()
    if normalized == "success":
        return OutboxStatus.DELIVERED
    if normalized.startswith("failed"):
        return OutboxStatus.FAILED
    return None


# --- quiet hours and digests -----------------------------------------------------------------

DEFAULT_QUIET_START = time(22, 0)
DEFAULT_QUIET_END = time(7, 0)


def quiet_until(
    now: datetime, start: time | None, end: time | None, tz: ZoneInfo = LOCAL_TZ
) -> datetime | None:
    """The end of the quiet period `now` falls in, or None outside quiet hours.

    Hours are local wall-clock times, start inclusive, end exclusive; start > end spans
    midnight (22:00–07:00). None or start == end means no quiet hours.
    Raises ValueError for a naive `now`."""
    if now.tzinfo is None:
        raise ValueError("naive datetime: pass an aware UTC datetime")
    if start is None or end is None or start == end:
        return None
    local = now.astimezone(tz)
    today, clock = local.date(), local.time().replace(tzinfo=None)
    if start < end:
        quiet, end_day = start <= clock < end, today
    elif clock >= start:
        quiet, end_day = True, today + timedelta(days=1)
    else:
        quiet, end_day = clock < end, today
    if not quiet:
        return None
    return datetime.combine(end_day, end, tzinfo=tz).astimezone(now.tzinfo)


@dataclass(frozen=True)
class Recipient:
    """What delivery rules need to know about whoever a message is for."""

    openid: str | None
    subscribed: bool = True
    active: bool = True
    digest_only: bool = False
    quiet_start: time | None = DEFAULT_QUIET_START
    quiet_end: time | None = DEFAULT_QUIET_END


class Plan(StrEnum):
    SEND = "send"
    HOLD = "hold"  # quiet hours: wait until they end
    FOLD = "fold"  # digest-only recipient: becomes digested
    DROP = "drop"  # undeliverable recipient: becomes failed


@dataclass(frozen=True)
class Decision:
    plan: Plan
    hold_until: datetime | None = None
    reason: str | None = None


def plan_delivery(recipient: Recipient, *, urgent: bool, foldable: bool, now: datetime) -> Decision:
    """Send now, hold, fold into the digest, or drop.

    Drop when there is nobody to reach (no openid, unfollowed, deactivated). Urgent notices
    (anything about a major hazard) are never folded nor held. Otherwise a digest-only
    recipient gets foldable notices in the digest, and quiet hours hold the rest."""
    if not recipient.openid:
        return Decision(Plan.DROP, reason="收件人未绑定微信")
    if not recipient.subscribed:
        return Decision(Plan.DROP, reason="收件人未关注公众号")
    if not recipient.active:
        return Decision(Plan.DROP, reason="收件人账号已停用")
    if urgent:
        return Decision(Plan.SEND)
    if recipient.digest_only and foldable:
        return Decision(Plan.FOLD, reason="已并入每日汇总")
    until = quiet_until(now, recipient.quiet_start, recipient.quiet_end)
    if until is not None:
        return Decision(Plan.HOLD, hold_until=until)
    return Decision(Plan.SEND)


def truncate_error(message: str) -> str:
    """An error text short enough for the last_error column."""
    return message if len(message) <= MAX_ERROR_LENGTH else message[: MAX_ERROR_LENGTH - 1] + "…"
