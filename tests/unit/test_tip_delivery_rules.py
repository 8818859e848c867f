"""Pure rules of how a tip reaches people: mass message or task notice, the monthly mass
quota in Shanghai months, town tag names within WeChat's 30 bytes, the mass text within
2048 bytes, MASSSENDJOBFINISH statuses, openid chunks of 50."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.accounts.domain import Role
from app.enterprises.domain import Topic
from app.errors import ValidationFailed
from app.tips.domain import (
    Audience,
    Delivery,
    MassStatus,
    RecipientState,
    TipKind,
    check_mass_audience,
    default_requires_ack,
    delivery_for,
    mass_finish_status,
    mass_text,
    over_quota,
    quota_message,
    quota_month,
    recipient_state,
    town_tag_name,
)
from app.wechat.mass import BATCH_TAGGING_LIMIT, openid_chunks


def test_acknowledgement_tasks_are_task_notices_and_the_rest_mass():
    assert delivery_for(True) is Delivery.TASK
    assert delivery_for(False) is Delivery.MASS


@pytest.mark.parametrize(
    ("kind", "audience", "expected"),
    [
        (TipKind.KNOWLEDGE, Audience(), True),
        (TipKind.SEASONAL, Audience(), False),
        (TipKind.SEASONAL, Audience(town_ids=frozenset({1})), False),
        (TipKind.SEASONAL, Audience(topics=frozenset({Topic.CONFINED_SPACE})), True),
        (TipKind.CUSTOM, Audience(roles=frozenset({Role.MANAGER})), True),
        (TipKind.CUSTOM, Audience(), False),
    ],
)
def test_default_choice(kind, audience, expected):
    assert default_requires_ack(kind, audience) is expected


def test_a_mass_audience_is_towns_only():
    check_mass_audience(Audience(town_ids=frozenset({1, 2})))
    check_mass_audience(Audience())
    with pytest.raises(ValidationFailed) as refused:
        check_mass_audience(Audience(town_ids=frozenset({1}), roles=frozenset({Role.WORKER})))
    assert "需逐人确认" in refused.value.message and "requires_ack" in refused.value.fields


def test_quota_months_are_shanghai_calendar_months():
    assert quota_month(datetime(2027, 6, 30, 15, 59, tzinfo=UTC)) == "2027-06"  # 23:59 local
    assert quota_month(datetime(2027, 6, 30, 16, 0, tzinfo=UTC)) == "2027-07"  # 00:00 local
    assert quota_month(datetime(2027, 12, 31, 16, 0, tzinfo=UTC)) == "2028-01"
    assert [over_quota(n) for n in range(6)] == [False, False, False, False, True, True]
    assert "2 人本月已收到 4 条群发" in quota_message(2, 10) and "其余 8 人" in quota_message(2, 10)
    assert "均未达到" in quota_message(0, 10)


def test_town_tag_names_fit_30_bytes():
    assert town_tag_name("花园口镇") == "安查·花园口镇"
    long = town_tag_name("很长的街道办事处名称超过三十个字节")
    assert len(long.encode()) <= 30 and long.startswith("安查·很长")


def test_mass_text_keeps_the_link_within_2048_bytes():
    text = mass_text("防汛", "摘要", "http://ancha.test/h5/tips/3")
    assert text == '【安全提示】防汛\n摘要\n<a href="http://ancha.test/h5/tips/3">阅读全文</a>'
    huge = mass_text("防汛", "很长" * 2000, "http://ancha.test/h5/tips/3")
    assert len(huge.encode()) <= 2048 and huge.endswith("阅读全文</a>") and "…" in huge


def test_mass_finish_status_reads_both_spellings():
    assert mass_finish_status("sendsuccess") is MassStatus.FINISHED
    assert mass_finish_status("send success") is MassStatus.FINISHED
    assert mass_finish_status("sendfail") is MassStatus.FAILED
    assert mass_finish_status("err(30003)") is MassStatus.FAILED


def test_recipient_state():
    now = datetime(2027, 6, 1, tzinfo=UTC)
    assert recipient_state(None, None) is RecipientState.UNREAD
    assert recipient_state(now, None) is RecipientState.READ
    assert recipient_state(None, now) is RecipientState.ACKNOWLEDGED


def test_openids_go_50_per_tagging_call():
    chunks = list(openid_chunks([f"o{n}" for n in range(101)]))
    assert [len(c) for c in chunks] == [50, 50, 1] and BATCH_TAGGING_LIMIT == 50
    with pytest.raises(ValueError):
        list(openid_chunks(["a"], size=51))
