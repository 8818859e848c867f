"""Message kinds: every kind the code enqueues exists, keyword fields obey the 2023 template
rules (≤ 20 characters, one line), deep links, the customer-service text, template ids."""

from __future__ import annotations

import os

import pytest

import app.notices  # noqa: F401  (registers the features' kinds)
from app.hazard_reporting.hazards.domain import NOTICES
from app.notifications.domain import Channel
from app.notifications.kinds import (
    ELLIPSIS,
    KINDS,
    MISSING,
    Family,
    get_kind,
    is_urgent,
    keyword,
    render,
)
from app.tips.domain import TIP_BROADCAST_KIND
from config.settings import TEMPLATE_SETTING_PREFIX, load_settings, sandbox_template_id

BASE = "http://ancha.test"
# The 2023 rule (docs/WECHAT.md §2.4), spelled out rather than imported from the code under test.
WECHAT_KEYWORD_LIMIT = 20
LONG = "郑州市金水区某某精密机械制造有限公司第一分公司冲压车间\n三号线\r\n安全防护罩缺失\t存在机械伤害风险" * 3

HAZARD_PAYLOAD = {
    "hazard_id": 42,
    "enterprise_id": 3,
    "enterprise_name": LONG,
    "level": "general",
    "status": "assigned",
    "description": LONG,
    "location": LONG,
    "deadline": "2026-11-28T15:59:59+00:00",
    "new_deadline": "2026-11-30T10:00:00+00:00",
    "action": "assign",
    "actor_id": 1,
    "actor_name": "张经理",
    "note": LONG,
    "at": "2026-11-28T02:00:00+00:00",
}
CHECK_PAYLOAD = {
    "task_id": 9,
    "enterprise_id": 3,
    "enterprise_name": LONG,
    "schedule_name": LONG,
    "level": "daily",
    "period_start": "2026-11-28",
    "due_at": "2026-11-28T10:00:00+00:00",
    "responsible": LONG,
}
TIP_PAYLOAD = {"broadcast_id": 5, "tip_id": 12, "tip_code": "TIP-19", "title": LONG, "summary": LONG,
               "at": "2026-11-28T01:00:00+00:00", "path": "/h5/tips/12"}
DIGEST_PAYLOAD = {"date": "2026-11-28", "overdue_checks": 3, "open_hazards": 12, "overdue_hazards": 2,
                  "folded_notices": 123456}
PAYLOADS = {Family.HAZARD: HAZARD_PAYLOAD, Family.CHECK: CHECK_PAYLOAD, Family.TIP: TIP_PAYLOAD,
            Family.DIGEST: DIGEST_PAYLOAD, Family.CALENDAR: {"year": 2027, "years": [2027], "at": "2026-12-07T01:00:00+00:00"}}
# Bulletins (oversight/bulletins/notices.py): a long title and name are cut like any keyword.
PAYLOADS[Family.BULLETIN] = {"bulletin_id": 3, "bulletin_title": LONG, "enterprise_id": 7, "enterprise_name": LONG,
                             "verdict": "warned", "deadline": "2026-12-15", "at": "2026-12-01T02:00:00+00:00"}
# The delayed answer to a spooled callback (wechat_inbound/notices.py): a long reply is cut too.
PAYLOADS[Family.SERVICE] = {"action": "扫码", "result": LONG + "\n" + LONG, "link": "/h5/scan/abc",
                            "received_at": "2026-12-01T02:00:00+00:00"}


def test_every_kind_the_hazards_service_enqueues_is_registered():
    assert {notice.kind for notice in NOTICES.values()} <= set(KINDS)


def test_the_tip_broadcasts_kind_is_registered():
    assert get_kind(TIP_BROADCAST_KIND).family is Family.TIP


def test_the_brief_s_kinds_exist_with_one_kind_per_check_escalation_level():
    for name in ("hazard_assigned", "hazard_due_soon", "major_hazard_registered", "hazard_rectified",
                 "tip_broadcast", "daily_digest"):
        assert name in KINDS
    levels = [name for name in KINDS if name.startswith("check_overdue_")]
    assert len(levels) >= 3 and all(KINDS[name].family is Family.CHECK for name in levels)
    overdue = [name for name in KINDS if name.startswith("hazard_overdue_")]
    assert len(overdue) >= 3 and all(KINDS[name].family is Family.HAZARD for name in overdue)


def test_every_kind_the_escalation_job_enqueues_is_registered():
    from app.hazard_reporting.escalation.domain import HAZARD_KINDS, TASK_KINDS

    assert set(TASK_KINDS.values()) | set(HAZARD_KINDS.values()) <= set(KINDS)


def test_an_unknown_kind_is_refused_with_a_hint():
    with pytest.raises(KeyError, match="notices.py"):
        get_kind("hazard_exploded")


@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_keyword_of_every_kind_is_one_line_of_at_most_20_characters(name):
    kind = KINDS[name]
    rendered = render(kind, PAYLOADS[kind.family], BASE)
    assert rendered.data, "a template message needs keyword data"
    for key, item in rendered.data.items():
        value = item["value"]
        assert 0 < len(value) <= WECHAT_KEYWORD_LIMIT, (key, value)
        assert "\n" not in value and "\r" not in value and "\t" not in value, (key, value)
    # Nothing relies on the fields WeChat no longer shows.
    assert not {"first", "remark"} & set(rendered.data)


@pytest.mark.parametrize("name", sorted(KINDS))
def test_kinds_of_one_family_share_their_keyword_keys(name):
    kind = KINDS[name]
    siblings = [k for k in KINDS.values() if k.family is kind.family]
    assert {tuple(f.key for f in k.fields) for k in siblings} == {tuple(f.key for f in kind.fields)}


def test_keyword_truncates_with_an_ellipsis_and_strips_line_breaks():
    assert keyword("一二三四五六七八九十一二三四五六七八九十") == "一二三四五六七八九十一二三四五六七八九十"
    cut = keyword("一二三四五六七八九十一二三四五六七八九十一")
    assert len(cut) == WECHAT_KEYWORD_LIMIT and cut.endswith(ELLIPSIS) and cut.startswith("一二三四五六七八九十")
    assert keyword("冲压车间\n三号线\r\n  防护罩\u2028缺失") == "冲压车间 三号线 防护罩 缺失"
    assert keyword(None) == keyword("") == keyword(" \n ") == MISSING
    assert keyword(42) == "42"


def test_hazard_notice_shows_its_facts_and_links_to_the_hazard():
    rendered = render(get_kind("hazard_assigned"), {**HAZARD_PAYLOAD, "enterprise_name": "安查机械",
                                                    "description": "防护罩缺失", "location": "冲压车间"}, BASE)
    assert rendered.data == {
        "thing1": {"value": "隐患待您整改"},
        "thing2": {"value": "安查机械"},
        "thing3": {"value": "防护罩缺失"},
        "thing4": {"value": "冲压车间"},
        "time5": {"value": "2026-11-28 23:59"},  # local time of the UTC deadline
    }
    assert rendered.url == "http://ancha.test/h5/hazards/42"


def test_a_notice_without_deadline_says_so():
    rendered = render(get_kind("major_hazard_registered"), {**HAZARD_PAYLOAD, "deadline": None}, BASE)
    assert rendered.data["time5"] == {"value": "未定"}


def test_extension_notices_show_the_requested_deadline():
    rendered = render(get_kind("deadline_extension_requested"), HAZARD_PAYLOAD, BASE)
    assert rendered.data["time5"] == {"value": "2026-11-30 18:00"}


def test_links_of_checks_tips_and_digests():
    assert render(get_kind("check_overdue_l2"), CHECK_PAYLOAD, BASE + "/").url == "http://ancha.test/h5/tasks"
    assert render(get_kind("tip_broadcast"), TIP_PAYLOAD, BASE).url == "http://ancha.test/h5/tips/12"
    assert render(get_kind("daily_digest"), DIGEST_PAYLOAD, BASE).url == "http://ancha.test/h5/hazards"


def test_check_notice_names_the_task_and_its_day():
    rendered = render(get_kind("check_overdue_l1"), {**CHECK_PAYLOAD, "schedule_name": None}, BASE)
    assert rendered.data["thing3"] == {"value": "班组日排查 11月28日"}
    assert rendered.data["time4"] == {"value": "2026-11-28 18:00"}


def test_digest_counts_and_a_tip_reminder():
    digest = render(get_kind("daily_digest"), DIGEST_PAYLOAD, BASE).data
    assert digest["thing1"] == {"value": "安全日报 11月28日"}
    assert digest["thing2"] == {"value": "逾期排查3项"}
    assert digest["thing5"] == {"value": "已汇总通知123456条"}
    reminder = render(get_kind("tip_broadcast"), {**TIP_PAYLOAD, "reminder": True}, BASE).data
    assert reminder["thing1"] == {"value": "待办提醒：请学习并确认"}
    task = render(get_kind("tip_broadcast"), TIP_PAYLOAD, BASE).data
    assert task["thing1"] == {"value": "待办：请学习并确认"}


def test_customer_service_text_carries_the_whole_facts_and_the_link_within_2048_bytes():
    short = render(get_kind("hazard_verified"), {**HAZARD_PAYLOAD, "description": "防护罩缺失"}, BASE).text
    assert short.startswith("【隐患已复查销号】\n") and "隐患内容：防护罩缺失" in short
    assert short.endswith('<a href="http://ancha.test/h5/hazards/42">查看详情</a>')
    huge = render(get_kind("hazard_verified"), {**HAZARD_PAYLOAD, "description": "很长" * 2000}, BASE).text
    assert len(huge.encode()) <= 2048 and huge.endswith("查看详情</a>")  # WeChat's limit (§2.6)


def test_major_hazards_are_urgent_whatever_the_kind():
    assert is_urgent(get_kind("major_hazard_registered"), {})
    assert is_urgent(get_kind("hazard_upgraded"), {})
    assert is_urgent(get_kind("hazard_assigned"), {"level": "major"})
    assert not is_urgent(get_kind("hazard_assigned"), {"level": "general"})
    assert not is_urgent(get_kind("daily_digest"), {})


def test_the_digest_is_never_folded_and_worker_facing_kinds_prefer_customer_service():
    assert get_kind("daily_digest").foldable is False
    assert get_kind("hazard_verified").channels == (Channel.CUSTOM, Channel.TEMPLATE)
    assert get_kind("major_hazard_registered").channels == (Channel.TEMPLATE,)


def test_template_ids_come_from_the_kind_then_the_family_setting(monkeypatch):
    for name in [n for n in os.environ if n.upper().startswith(TEMPLATE_SETTING_PREFIX)]:
        monkeypatch.delenv(name)
    monkeypatch.chdir("/")  # no .env here
    production_like = load_settings({"WECHAT_APP_ID": "wx0123456789abcdef", "WECHAT_SANDBOX": False})
    sandbox = load_settings({"WECHAT_SANDBOX": True})
    assert production_like.wechat_template_id("hazard_assigned", "hazard") is None
    assert sandbox.wechat_template_id("hazard_assigned", "hazard") == sandbox_template_id("hazard_assigned")
    monkeypatch.setenv("WECHAT_TEMPLATE_HAZARD", "family-template")
    assert production_like.wechat_template_id("hazard_assigned", "hazard") == "family-template"
    monkeypatch.setenv("wechat_template_hazard_assigned", "kind-template")
    assert production_like.wechat_template_id("hazard_assigned", "hazard") == "kind-template"
    assert production_like.wechat_template_id("hazard_reported", "hazard") == "family-template"


def test_sandbox_template_ids_are_stable_and_shaped_like_real_ones():
    first = sandbox_template_id("hazard_assigned")
    assert first == sandbox_template_id("hazard_assigned") != sandbox_template_id("hazard_reported")
    assert len(first) == 43 and all(c.isalnum() or c in "-_" for c in first)


def test_quota_settings_are_validated():
    from config.settings import ConfigError

    with pytest.raises(ConfigError, match="NOTIFY_RATE_TEMPLATE"):
        load_settings({"NOTIFY_RATE_TEMPLATE": "lots"})
    assert load_settings({"NOTIFY_RATE_CUSTOM": "10/second;100/day"}).NOTIFY_RATE_CUSTOM == "10/second;100/day"


def test_a_second_kind_under_a_taken_name_is_refused_and_the_same_kind_again_is_harmless():
    from dataclasses import replace

    from app.notifications.kinds import register

    known = get_kind("hazard_assigned")
    register(known)
    assert get_kind("hazard_assigned") is known
    with pytest.raises(ValueError, match="hazard_assigned"):
        register(replace(known, title="别的"))
    assert get_kind("hazard_assigned") is known
