"""Pure rules of safety tips: the library file, audiences, article text, broadcast
transitions, send times and the seasonal calendar's month."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from app.accounts.domain import Role
from app.clock import LOCAL_TZ
from app.enterprises.domain import Industry, Topic
from app.errors import InvalidTransition, ValidationFailed
from app.tips.domain import (
    BROADCAST_TRANSITIONS,
    Audience,
    Block,
    BroadcastAction,
    BroadcastStatus,
    TipKind,
    article_blocks,
    broadcast_key_prefix,
    broadcast_payload,
    broadcast_transition,
    check_send_at,
    parse_library,
    proposal_month,
    proposal_send_at,
    reminder_key_prefix,
    reminder_payload,
)

S, A = BroadcastStatus, BroadcastAction
DATA_FILE = Path(__file__).resolve().parents[2] / "app" / "tips" / "data" / "tips.yaml"


@pytest.fixture(scope="module")
def library() -> dict:
    return yaml.safe_load(DATA_FILE.read_text(encoding="utf-8"))


def local(y, m, d, hh, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=LOCAL_TZ).astimezone(UTC)


# --- the library file -------------------------------------------------------------------------------


def test_the_bundled_library_has_every_entry_of_domain_md(library):
    specs = parse_library(library)
    assert [s.code for s in specs] == [f"TIP-{n:02d}" for n in range(1, 29)] + [
        f"CSK-{n:02d}" for n in range(1, 13)
    ]
    by_code = {s.code: s for s in specs}
    assert by_code["TIP-01"].months == (2,) and by_code["TIP-01"].audience.everyone
    assert by_code["TIP-14"].audience == Audience(
        industries=frozenset({Industry.METALLURGY, Industry.NONFERROUS, Industry.MACHINERY}),
        topics=frozenset({Topic.MOLTEN_METAL}),
    )
    assert by_code["TIP-27"].audience == Audience(topics=frozenset({Topic.METALLURGICAL_GAS}))
    # The knowledge entries rotate one per month.
    assert [by_code[f"CSK-{n:02d}"].months for n in range(1, 13)] == [(n,) for n in range(1, 13)]
    assert {s.kind for s in specs if s.code.startswith("CSK")} == {TipKind.KNOWLEDGE}
    # Several paragraphs each, with practical headings.
    assert all(len(article_blocks(s.body)) >= 4 for s in specs)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d["tips"][1].update(code="TIP-01"), "tips TIP-01: missing, malformed or duplicate code"),
        (lambda d: d["tips"][0].update(code="TIP-1"), "malformed"),
        (lambda d: d["knowledge"][0].update(code="TIP-99"), "knowledge TIP-99: missing, malformed"),
        (lambda d: d["tips"][2].update(months=[0, 3]), "TIP-03: months"),
        (lambda d: d["tips"][2].update(months=[3, 3]), "TIP-03: months"),
        (lambda d: d["tips"][2].update(months=[]), "TIP-03: months"),
        (lambda d: d["tips"][3].update(title=""), "TIP-04: title"),
        (lambda d: d["tips"][3].update(summary="长" * 201), "TIP-04: summary"),
        (
            lambda d: d["tips"][4].update(audience={"topics": ["火山"]}),
            "TIP-05: unknown industry, topic or role '火山'",
        ),
        (
            lambda d: d["tips"][4].update(audience={"all": True, "topics": ["有限空间"]}),
            "TIP-05: audience must",
        ),
        (lambda d: d["tips"][4].update(audience={}), "TIP-05: audience must"),
        (lambda d: d["tips"][4].update(audience={"towns": ["北镇"]}), "TIP-05: unknown audience keys"),
        (lambda d: d.pop("knowledge"), "`knowledge` must be a non-empty list"),
    ],
)
def test_a_bad_library_file_is_refused_naming_the_entry(library, change, message):
    data = copy.deepcopy(library)
    change(data)
    with pytest.raises(ValueError, match=message):
        parse_library(data)


def test_roles_may_be_named_in_chinese_or_by_value(library):
    data = copy.deepcopy(library)
    data["tips"][0]["audience"] = {"roles": ["班组长", "manager"]}
    spec = parse_library(data)[0]
    assert spec.audience.roles == frozenset({Role.TEAM_LEADER, Role.MANAGER})


def test_the_signature_changes_with_the_content_only(library):
    spec = parse_library(library)[0]
    again = parse_library(copy.deepcopy(library))[0]
    assert spec.signature() == again.signature()
    data = copy.deepcopy(library)
    data["tips"][0]["body"] += "\n\n补充一段。"
    assert parse_library(data)[0].signature() != spec.signature()


# --- audience ---------------------------------------------------------------------------------------


def test_audience_round_trips_through_json_and_describes_itself():
    audience = Audience(
        town_ids=frozenset({3, 1}),
        industries=frozenset({Industry.TEXTILE, Industry.LIGHT_INDUSTRY}),
        topics=frozenset({Topic.CONFINED_SPACE}),
        roles=frozenset({Role.WORKER}),
    )
    stored = audience.to_json()
    assert stored == {
        "towns": [1, 3],
        "industries": ["light_industry", "textile"],
        "topics": ["confined_space"],
        "roles": ["worker"],
    }
    assert Audience.from_json(stored) == audience
    assert (
        audience.describe({1: "北镇", 3: "南镇"})
        == "镇街：北镇、南镇；专项：有限空间；行业：轻工、纺织；角色：岗位员工"
    )
    assert Audience().everyone and Audience().describe() == "全部企业"
    assert Audience.from_json(None) == Audience()
    with pytest.raises(ValueError):
        Audience.from_json({"topics": ["volcano"]})


# --- article text -----------------------------------------------------------------------------------


def test_article_blocks():
    body = "第一段第一行\n第一段第二行\n\n## 小标题\n- 一\n- 二\n紧接列表的说明\n\n\n最后一段"
    assert article_blocks(body) == [
        Block("paragraph", "第一段第一行第一段第二行"),
        Block("heading", "小标题"),
        Block("list", items=("一", "二")),
        Block("paragraph", "紧接列表的说明"),
        Block("paragraph", "最后一段"),
    ]
    assert article_blocks("  \n ") == []


# --- broadcasts -------------------------------------------------------------------------------------


def test_the_transition_table():
    assert broadcast_transition(S.DRAFT, A.SCHEDULE) is S.SCHEDULED
    assert broadcast_transition(S.SCHEDULED, A.SCHEDULE) is S.SCHEDULED
    assert broadcast_transition(S.SCHEDULED, A.RELEASE) is S.RELEASED
    assert broadcast_transition(S.DRAFT, A.CANCEL) is S.CANCELLED
    assert broadcast_transition(S.RELEASED, A.REMIND) is S.RELEASED
    allowed = set(BROADCAST_TRANSITIONS)
    for status in S:
        for action in A:
            if (status, action) in allowed:
                continue
            with pytest.raises(InvalidTransition):
                broadcast_transition(status, action)
    # A draft is never sent without approval; a released or cancelled one never changes again.
    assert (S.DRAFT, A.RELEASE) not in allowed
    assert not {(S.RELEASED, a) for a in A if a is not A.REMIND} & allowed
    assert not {(S.CANCELLED, a) for a in A} & allowed


def test_send_times():
    now = datetime(2027, 6, 10, 2, 0, tzinfo=UTC)
    check_send_at(now, now)
    check_send_at(now - timedelta(minutes=9), now)  # filled in while the form was open
    check_send_at(now + timedelta(days=366), now)
    with pytest.raises(ValidationFailed) as past:
        check_send_at(now - timedelta(minutes=11), now)
    assert past.value.fields == {"send_at": "发送时间不能早于当前时间"}
    with pytest.raises(ValidationFailed):
        check_send_at(now + timedelta(days=367), now)
    with pytest.raises(ValueError):
        check_send_at(datetime(2027, 6, 10, 10, 0), now)


def test_the_calendar_month_and_suggested_time_are_local():
    # 23:30 UTC on 31 May is already 1 June in Zhengzhou.
    assert proposal_month(datetime(2027, 5, 31, 23, 30, tzinfo=UTC)) == "2027-06"
    assert proposal_send_at(local(2027, 6, 1, 8)) == local(2027, 6, 3, 9, 30)
    assert proposal_send_at(local(2027, 6, 3, 9, 29)) == local(2027, 6, 3, 9, 30)
    assert proposal_send_at(local(2027, 6, 3, 9, 30)) == local(2027, 6, 4, 9, 30)
    assert proposal_send_at(local(2027, 6, 30, 22)) == local(2027, 7, 1, 9, 30)
    assert proposal_send_at(local(2027, 6, 1, 8)).tzinfo is UTC


def test_keys_and_payloads():
    assert broadcast_key_prefix(12) + "34" == "tip:12:34"
    assert reminder_key_prefix(12) + "34" == "tip-reminder:12:34"
    at = datetime(2027, 6, 3, 1, 30, tzinfo=UTC)
    payload = broadcast_payload(
        broadcast_id=12, tip_id=5, tip_code="TIP-07", title="防暑降温", summary="摘要", at=at
    )
    assert payload == {
        "broadcast_id": 12,
        "tip_id": 5,
        "tip_code": "TIP-07",
        "title": "防暑降温",
        "summary": "摘要",
        "at": "2027-06-03T01:30:00+00:00",
        "path": "/h5/tips/5",
    }
    reminder = reminder_payload(payload)
    assert reminder["reminder"] is True and reminder["title"] == "防暑降温" and reminder["summary"] != "摘要"
