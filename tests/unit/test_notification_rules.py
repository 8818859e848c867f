"""Pure outbox rules: WeChat answers → verdicts, backoff, quota pauses, delivery reports,
quiet hours, the customer-service window, and what to do with each message."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from app.notifications.domain import (
    BACKOFF_CAP,
    WINDOW_AFTER_EVENT,
    WINDOW_AFTER_MESSAGE,
    OutboxStatus,
    Plan,
    Recipient,
    Verdict,
    backoff,
    classify,
    delivery_status,
    plan_delivery,
    quiet_until,
    quota_pause_until,
    service_window,
)
from app.wechat.client import (
    CredentialError,
    DuplicateRequest,
    InvalidOpenid,
    InvalidRequest,
    NotFollowing,
    QuotaExceeded,
    RateLimited,
    ServiceWindowClosed,
    SystemBusy,
    UserRefused,
    WeChatAPIError,
    WeChatHTTPError,
    WeChatTimeout,
    error_for,
)


def local(hour: int, minute: int = 0, day: int = 28) -> datetime:
    """A UTC instant at hour:minute Beijing time on 2026-11-`day`."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


@pytest.mark.parametrize(
    ("error", "verdict"),
    [
        (error_for(-1, "system error"), Verdict.RETRY),
        (WeChatHTTPError(502), Verdict.RETRY),
        (WeChatTimeout("timed out"), Verdict.RETRY),
        (error_for(45009, "quota"), Verdict.DEFER),
        (error_for(45011, "minute"), Verdict.DEFER),
        (error_for(43004, "require subscribe"), Verdict.UNFOLLOWED),
        (error_for(40003, "invalid openid"), Verdict.FAIL),
        (error_for(43101, "refuse"), Verdict.FAIL),
        (error_for(40037, "invalid template_id"), Verdict.REJECTED),
        (error_for(47003, "argument invalid"), Verdict.REJECTED),
        (error_for(45015, "out of time"), Verdict.FALLBACK),
        (error_for(45047, "out of limit"), Verdict.FALLBACK),
        (error_for(45065, "clientmsgid exist"), Verdict.DUPLICATE),
        (error_for(40164, "ip not in whitelist"), Verdict.RETRY_ALERT),
        (error_for(48001, "api unauthorized"), Verdict.RETRY_ALERT),
        (error_for(99999, "something new"), Verdict.RETRY),
    ],
)
def test_each_wechat_answer_has_its_verdict(error, verdict):
    assert classify(error.category, error.errcode) is verdict


def test_the_client_classes_behind_the_verdicts():
    # The dispatcher relies on these categories; a change in the client must show up here.
    assert (SystemBusy.category, QuotaExceeded.category, RateLimited.category) == ("busy", "quota", "rate_limit")
    assert NotFollowing.category == InvalidOpenid.category == UserRefused.category == "recipient"
    assert (InvalidRequest.category, ServiceWindowClosed.category) == ("request", "service_window")
    assert (DuplicateRequest.category, CredentialError.category) == ("duplicate", "credentials")
    assert WeChatAPIError.category == "api"


def test_backoff_doubles_with_jitter_and_is_capped():
    assert backoff(1, lambda: 0.0) == timedelta(seconds=15)
    assert backoff(1, lambda: 1.0) == timedelta(seconds=30)
    assert backoff(3, lambda: 1.0) == timedelta(seconds=120)
    assert backoff(30, lambda: 1.0) == BACKOFF_CAP
    assert backoff(30, lambda: 0.0) == BACKOFF_CAP / 2
    delays = [backoff(n, lambda: 0.5) for n in range(1, 9)]
    assert delays == sorted(delays)
    with pytest.raises(ValueError):
        backoff(0)


def test_a_daily_quota_pauses_until_beijing_midnight_a_minute_limit_for_a_minute():
    now = local(15, 30)
    assert quota_pause_until(45009, now) == local(0, 0, day=29)
    assert quota_pause_until(45011, now) == now + timedelta(seconds=60)


@pytest.mark.parametrize(
    ("report", "status"),
    [
        ("success", OutboxStatus.DELIVERED),
        (" Success ", OutboxStatus.DELIVERED),
        ("failed:user block", OutboxStatus.FAILED),
        ("failed: system failed", OutboxStatus.FAILED),
        ("mystery", None),
    ],
)
def test_template_job_reports(report, status):
    assert delivery_status(report) is status


DEFAULT = (time(22), time(7))


@pytest.mark.parametrize(
    ("now", "hours", "until"),
    [
        (local(21, 59), DEFAULT, None),
        (local(22, 0), DEFAULT, local(7, 0, day=29)),
        (local(23, 30), DEFAULT, local(7, 0, day=29)),
        (local(3, 0), DEFAULT, local(7, 0)),
        (local(6, 59), DEFAULT, local(7, 0)),
        (local(7, 0), DEFAULT, None),
        (local(13, 0), (time(12), time(14)), local(14, 0)),
        (local(14, 0), (time(12), time(14)), None),
        (local(23, 0), (None, None), None),
        (local(23, 0), (time(22), time(22)), None),
    ],
)
def test_quiet_hours(now, hours, until):
    assert quiet_until(now, *hours) == until


def test_quiet_hours_need_an_aware_time():
    with pytest.raises(ValueError):
        quiet_until(datetime(2026, 11, 28, 23), time(22), time(7))


def test_service_window_opened_by_messages_and_some_events():
    assert service_window("text") == service_window("image") == WINDOW_AFTER_MESSAGE
    for event in ("subscribe", "subscribe_scan", "scan", "click", "scancode_push", "scancode_waitmsg"):
        assert service_window("event", event) == WINDOW_AFTER_EVENT
    for event in ("view", "location", "unsubscribe", "templatesendjobfinish"):
        assert service_window("event", event) is None


FOLLOWER = Recipient(openid="o-1")


@pytest.mark.parametrize(
    ("recipient", "urgent", "foldable", "now", "plan"),
    [
        (FOLLOWER, False, True, local(10), Plan.SEND),
        (FOLLOWER, False, True, local(23), Plan.HOLD),
        (FOLLOWER, True, True, local(23), Plan.SEND),  # major hazards are never held
        (Recipient(openid="o-1", digest_only=True), False, True, local(10), Plan.FOLD),
        (Recipient(openid="o-1", digest_only=True), True, True, local(23), Plan.SEND),
        (Recipient(openid="o-1", digest_only=True), False, False, local(10), Plan.SEND),  # the digest itself
        (Recipient(openid="o-1", quiet_start=None, quiet_end=None), False, True, local(23), Plan.SEND),
        (Recipient(openid=None), True, True, local(10), Plan.DROP),
        (Recipient(openid="o-1", subscribed=False), True, True, local(10), Plan.DROP),
        (Recipient(openid="o-1", active=False), True, True, local(10), Plan.DROP),
    ],
)
def test_plan_delivery(recipient, urgent, foldable, now, plan):
    decision = plan_delivery(recipient, urgent=urgent, foldable=foldable, now=now)
    assert decision.plan is plan
    if plan is Plan.HOLD:
        assert decision.hold_until == local(7, 0, day=29)
    if plan is Plan.DROP:
        assert decision.reason
