"""The bulletin rules (oversight/bulletins/domain.py): who is praised and who is warned,
each threshold at its boundary, the reasons in Chinese, the months, and the life cycle."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from app.accounts.domain import Actor, BureauRole, Role
from app.errors import InvalidTransition, PermissionDenied, ValidationFailed
from app.oversight.bulletins.domain import (
    PRAISE_ON_TIME_RATE,
    WARN_GENERAL_OVERDUE,
    WARN_MAJOR_OVERDUE,
    WARN_MISSED_RATE,
    BulletinAction,
    BulletinStatus,
    Figures,
    Month,
    MonthFacts,
    Verdict,
    check_transition,
    figures,
    judge,
    monthly_body,
    monthly_title,
    paragraphs,
    percent,
    require_bulletin_action,
)

NOV = Month(2026, 11)
# A level-3 certificate of 2025-03-20: valid to 2028-03-19, so valid all of November 2026.
GOOD = MonthFacts(
    enterprise_id=1, name="郑州恒达铸造有限公司", town_id=1, above_scale=True,
    due_checks=100, on_time_checks=100, standardization_level="level3", certified_on=date(2025, 3, 20),
)


def checks(due: int, on_time: int, late: int = 0, missed: int | None = None) -> MonthFacts:
    missed = due - on_time - late if missed is None else missed
    return replace(GOOD, due_checks=due, on_time_checks=on_time, late_checks=late, missed_checks=missed)


def test_the_thresholds_are_the_ones_the_notice_text_states():
    assert PRAISE_ON_TIME_RATE == pytest.approx(0.98)
    assert WARN_MISSED_RATE == pytest.approx(0.20)
    assert (WARN_GENERAL_OVERDUE, WARN_MAJOR_OVERDUE) == (3, 1)


# --- praise ---------------------------------------------------------------------------------


def test_all_checks_on_time_no_overdue_and_a_valid_certificate_is_praised():
    judgement = judge(GOOD, NOV)
    assert judgement.verdict is Verdict.PRAISED
    assert judgement.reasons[0] == "本月应开展隐患排查 100 次，按时完成 100 次（100%）"
    assert "安全生产标准化三级证书在有效期内" in judgement.reasons


def test_praise_needs_98_percent_on_time_exactly_at_the_boundary():
    assert judge(checks(100, 98, late=2), NOV).verdict is Verdict.PRAISED  # 98 % on time
    assert judge(checks(100, 97, late=3), NOV).verdict is None  # 97 %: neither
    assert judge(checks(50, 49, late=1), NOV).verdict is Verdict.PRAISED  # 98 %


def test_a_rate_just_under_98_percent_is_not_rounded_up():
    facts = checks(49, 48, late=1)
    assert facts.on_time_rate < PRAISE_ON_TIME_RATE
    assert judge(facts, NOV).verdict is None


def test_done_late_is_not_on_time():
    assert judge(checks(10, 9, late=1), NOV).verdict is None  # 90 % on time, nothing missed


def test_no_due_checks_is_neither_praised_nor_warned_for_checks():
    facts = checks(0, 0, missed=0)
    assert facts.on_time_rate is None and facts.missed_rate is None
    assert judge(facts, NOV).verdict is None


def test_any_overdue_hazard_stops_praise():
    assert judge(replace(GOOD, overdue_general=1), NOV).verdict is None
    assert judge(replace(GOOD, overdue_general=2), NOV).verdict is None


def test_above_scale_without_a_valid_certificate_is_not_praised_below_scale_may_be():
    expired = replace(GOOD, certified_on=date(2023, 1, 10))  # valid to 2026-01-09
    assert judge(expired, NOV).verdict is None
    none = replace(GOOD, standardization_level="none", certified_on=None)
    assert judge(none, NOV).verdict is None
    small = replace(none, above_scale=False)
    judgement = judge(small, NOV)
    assert judgement.verdict is Verdict.PRAISED
    assert not any("标准化" in r for r in judgement.reasons)


# --- warnings -------------------------------------------------------------------------------


def test_missed_checks_warn_from_20_percent_exactly():
    at = judge(checks(100, 80, missed=20), NOV)
    assert at.verdict is Verdict.WARNED
    assert at.reasons == ("本月应开展隐患排查 100 次，漏检 20 次（20%，达到 20% 预警线）",)
    assert judge(checks(100, 81, missed=19), NOV).verdict is None  # 19 %
    assert judge(checks(5, 4, missed=1), NOV).verdict is Verdict.WARNED  # 1 of 5 = 20 %
    assert judge(checks(6, 5, missed=1), NOV).verdict is None  # 16.7 %


def test_no_check_at_all_says_so():
    judgement = judge(checks(12, 0, missed=12), NOV)
    assert judgement.verdict is Verdict.WARNED
    assert judgement.reasons == ("本月应开展隐患排查 12 次，一次也未开展",)


def test_one_overdue_major_hazard_warns():
    judgement = judge(replace(GOOD, overdue_major=1), NOV)
    assert judgement.verdict is Verdict.WARNED
    assert judgement.reasons == ("重大事故隐患逾期未整改 1 项",)
    assert judge(replace(GOOD, overdue_major=0), NOV).verdict is Verdict.PRAISED


def test_general_overdue_hazards_warn_from_three():
    assert judge(replace(GOOD, overdue_general=2), NOV).verdict is None
    judgement = judge(replace(GOOD, overdue_general=3), NOV)
    assert judgement.verdict is Verdict.WARNED
    assert judgement.reasons == ("一般隐患逾期未整改 3 项（达到 3 项预警线）",)


def test_a_certificate_whose_last_valid_day_falls_in_the_month_lapsed_in_it():
    # certified 2023-11-01 → valid to 2026-10-31: lapsed in October, not November.
    october_end = replace(GOOD, certified_on=date(2023, 11, 1))
    assert october_end.lapsed_in(Month(2026, 10)) and not october_end.lapsed_in(NOV)
    # certified 2023-11-02 → valid to 2026-11-01: lapsed in November (first day).
    first = replace(GOOD, certified_on=date(2023, 11, 2))
    judgement = judge(first, NOV)
    assert judgement.verdict is Verdict.WARNED
    assert judgement.reasons == ("安全生产标准化三级证书已于2026年11月1日到期失效，未见复评",)
    # certified 2023-12-01 → valid to 2026-11-30: lapsed on the month's last day.
    assert replace(GOOD, certified_on=date(2023, 12, 1)).lapsed_in(NOV)
    # certified 2023-12-02 → valid to 2026-12-01: still valid all November.
    later = replace(GOOD, certified_on=date(2023, 12, 2))
    assert not later.lapsed_in(NOV) and judge(later, NOV).verdict is Verdict.PRAISED


def test_a_lapse_warns_below_scale_too_and_no_certificate_is_no_lapse():
    small = replace(GOOD, above_scale=False, certified_on=date(2023, 11, 15))
    assert judge(small, NOV).verdict is Verdict.WARNED
    none = replace(GOOD, standardization_level="none", certified_on=date(2023, 11, 15))
    assert not none.lapsed_in(NOV)


def test_every_reason_is_listed_and_warning_wins_over_praise():
    facts = replace(
        GOOD, due_checks=10, on_time_checks=5, missed_checks=5, overdue_general=4, overdue_major=2,
        certified_on=date(2023, 11, 20),
    )
    judgement = judge(facts, NOV)
    assert judgement.verdict is Verdict.WARNED
    assert len(judgement.reasons) == 4
    assert [r[:4] for r in judgement.reasons] == ["本月应开", "重大事故", "一般隐患", "安全生产"]


# --- figures and text --------------------------------------------------------------------------


def test_figures_add_up_and_the_default_text_states_them():
    rows = [GOOD, replace(GOOD, enterprise_id=2, overdue_major=1), replace(GOOD, enterprise_id=3, due_checks=0, on_time_checks=0)]
    judgements = {f.enterprise_id: judge(f, NOV) for f in rows}
    totals = figures(rows, NOV, judgements)
    assert totals == Figures(
        enterprises=3, with_due_checks=2, due_checks=200, on_time_checks=200, overdue_major=1, praised=1, warned=1,
    )
    assert Figures.from_json(totals.as_json()) == totals
    assert monthly_title(NOV, None) == "惠济区工贸行业隐患排查治理情况通报（2026年11月）"
    assert monthly_title(NOV, "花园口镇") == "惠济区花园口镇工贸行业隐患排查治理情况通报（2026年11月）"
    body = monthly_body(NOV, None, totals)
    assert len(paragraphs(body)) == 4
    assert "共应排查 200 次，按时完成 200 次（100%）" in body
    assert "予以表扬" in body and "1 家企业予以通报预警" in body


def test_percent_is_written_as_people_write_it():
    from fractions import Fraction

    assert percent(Fraction(1, 5)) == "20%"
    assert percent(Fraction(13, 51)) == "25.5%"
    assert percent(Fraction(1, 3)) == "33.3%"


def test_months_parse_and_refuse_nonsense():
    assert Month.parse("2026-11") == NOV and NOV.first_day == date(2026, 11, 1) and NOV.last_day == date(2026, 11, 30)
    assert Month(2026, 1).previous() == Month(2025, 12) and NOV.label == "2026年11月" and NOV.key == "2026-11"
    for bad in ("", "2026-13", "2026/11", "26-11", "2026-00"):
        with pytest.raises(ValidationFailed):
            Month.parse(bad)


# --- life cycle and who may ---------------------------------------------------------------------


def test_only_a_draft_is_edited_or_published_and_only_once():
    assert check_transition(BulletinAction.PUBLISH, BulletinStatus.DRAFT) is BulletinStatus.PUBLISHED
    assert check_transition(BulletinAction.EDIT, BulletinStatus.DRAFT) is BulletinStatus.DRAFT
    with pytest.raises(InvalidTransition, match="已发布"):
        check_transition(BulletinAction.PUBLISH, BulletinStatus.PUBLISHED)
    with pytest.raises(InvalidTransition):
        check_transition(BulletinAction.REMOVE_ENTRY, BulletinStatus.PUBLISHED)
    with pytest.raises(InvalidTransition, match="更正"):
        check_transition(BulletinAction.EDIT, BulletinStatus.SUPERSEDED)
    assert check_transition(BulletinAction.SUPERSEDE, BulletinStatus.PUBLISHED) is BulletinStatus.SUPERSEDED
    with pytest.raises(InvalidTransition):
        check_transition(BulletinAction.SUPERSEDE, BulletinStatus.DRAFT)


def test_staff_draft_for_their_towns_and_the_admin_publishes():
    admin = Actor(user_id=1, bureau_role=BureauRole.ADMIN)
    staff = Actor(user_id=2, bureau_role=BureauRole.STAFF, bureau_town_ids=frozenset({7}))
    manager = Actor(user_id=3, roles={5: frozenset({Role.MANAGER})})
    require_bulletin_action(admin, BulletinAction.PUBLISH, None)
    require_bulletin_action(admin, BulletinAction.DRAFT, 7)
    require_bulletin_action(staff, BulletinAction.DRAFT, 7)
    with pytest.raises(PermissionDenied, match="所辖"):
        require_bulletin_action(staff, BulletinAction.DRAFT, 8)
    with pytest.raises(PermissionDenied, match="所辖"):
        require_bulletin_action(staff, BulletinAction.DRAFT, None)  # district-wide: the admin's
    with pytest.raises(PermissionDenied, match="管理员发布"):
        require_bulletin_action(staff, BulletinAction.PUBLISH, 7)
    with pytest.raises(PermissionDenied):
        require_bulletin_action(manager, BulletinAction.DRAFT, 7)
