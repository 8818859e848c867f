"""The credit list's pure rules (oversight/credit/domain.py): the two lists, the dates of a
listing and its default review date, the delisting date, the 四个一律 flags, the texts a
person must write, and who may act."""

from __future__ import annotations

from datetime import date

import pytest

from app.accounts.domain import Actor, BureauRole, EnterpriseRef, Role
from app.enterprises.domain import CreditStatus
from app.errors import PermissionDenied, ValidationFailed
from app.oversight.credit import domain
from app.oversight.credit.domain import (
    add_years,
    checked,
    clean_basis,
    clean_decision_no,
    clean_delist_reason,
    clean_reason,
    default_review_on,
    delisting_date,
    flag_labels,
    listing_dates,
    may_manage_any,
    may_view_list,
    parse_date,
    parse_kind,
    require_manage,
    review_due,
)

TODAY = date(2026, 12, 5)
TOWN = EnterpriseRef(id=7, town_id=3)


def test_the_two_lists_are_the_non_normal_credit_statuses():
    assert domain.LIST_KINDS == (CreditStatus.WATCHLIST, CreditStatus.SERIOUS_DISCREDIT)
    assert parse_kind("watchlist") is CreditStatus.WATCHLIST
    assert parse_kind("serious_discredit") is CreditStatus.SERIOUS_DISCREDIT
    for bad in ("normal", "", None, "blacklist"):
        with pytest.raises(ValidationFailed) as refused:
            parse_kind(bad)
        assert refused.value.fields == {"list_kind": "请选择“重点关注名单”或“严重失信主体名单”"}
    assert domain.TAG_LABELS == {CreditStatus.WATCHLIST: "重点关注", CreditStatus.SERIOUS_DISCREDIT: "失信"}


def test_default_review_dates_are_one_year_for_the_watchlist_and_three_for_serious_discredit():
    assert default_review_on(CreditStatus.WATCHLIST, date(2026, 3, 1)) == date(2027, 3, 1)
    assert default_review_on(CreditStatus.SERIOUS_DISCREDIT, date(2026, 3, 1)) == date(2029, 3, 1)
    # 29 February falls back to the 28th in a common year.
    assert add_years(date(2028, 2, 29), 1) == date(2029, 2, 28)
    assert default_review_on(CreditStatus.SERIOUS_DISCREDIT, date(2028, 2, 29)) == date(2031, 2, 28)


def test_listing_dates_default_to_today_and_the_term():
    dates = listing_dates(CreditStatus.SERIOUS_DISCREDIT, None, None, TODAY)
    assert (dates.listed_on, dates.review_on) == (TODAY, date(2029, 12, 5))
    dates = listing_dates(CreditStatus.WATCHLIST, date(2026, 11, 2), None, TODAY)
    assert (dates.listed_on, dates.review_on) == (date(2026, 11, 2), date(2027, 11, 2))
    dates = listing_dates(CreditStatus.WATCHLIST, date(2026, 11, 2), date(2027, 5, 2), TODAY)
    assert dates.review_on == date(2027, 5, 2)


@pytest.mark.parametrize(
    ("listed_on", "review_on", "field", "words"),
    [
        (date(2026, 12, 6), None, "listed_on", "不能晚于今天"),
        (date(2016, 12, 4), None, "listed_on", "10 年前"),
        (date(2026, 12, 1), date(2026, 12, 1), "review_on", "应晚于列入日期"),
        (date(2026, 12, 1), date(2026, 11, 30), "review_on", "应晚于列入日期"),
        (date(2026, 12, 1), date(2031, 12, 2), "review_on", "5 年"),
    ],
)
def test_listing_dates_refuse_what_cannot_be_right(listed_on, review_on, field, words):
    with pytest.raises(ValidationFailed) as refused:
        listing_dates(CreditStatus.WATCHLIST, listed_on, review_on, TODAY)
    assert list(refused.value.fields) == [field] and words in refused.value.message


def test_a_listing_comes_due_for_review_on_its_review_date_and_is_never_lifted_by_the_calendar():
    assert not review_due(date(2026, 12, 6), TODAY)
    assert review_due(TODAY, TODAY) and review_due(date(2026, 1, 1), TODAY)


def test_delisting_is_dated_today_and_never_before_the_listing():
    assert delisting_date(date(2026, 1, 1), TODAY) == TODAY
    assert delisting_date(TODAY, TODAY) == TODAY
    with pytest.raises(ValidationFailed, match="还没到"):
        delisting_date(date(2026, 12, 6), TODAY)


def test_dates_from_forms():
    assert parse_date("2026-12-01", "listed_on", "列入日期") == date(2026, 12, 1)
    assert parse_date("  ", "listed_on", "列入日期") is None and parse_date(None, "x", "y") is None
    assert parse_date(TODAY, "x", "y") is TODAY
    with pytest.raises(ValidationFailed) as refused:
        parse_date("2026/12/01", "review_on", "复核（到期）日期")
    assert "YYYY-MM-DD" in refused.value.fields["review_on"]


def test_reason_and_basis_are_required_and_bounded_the_decision_number_is_optional():
    assert clean_reason("  拒不执行\n停产整顿指令 ") == "拒不执行 停产整顿指令"
    for value in ("", "   ", None):
        with pytest.raises(ValidationFailed, match="请填写列入事由"):
            clean_reason(value)
        with pytest.raises(ValidationFailed, match="请填写列入依据"):
            clean_basis(value)
        with pytest.raises(ValidationFailed, match="请填写移出理由"):
            clean_delist_reason(value)
        assert clean_decision_no(value) is None
    with pytest.raises(ValidationFailed, match="最多 500 个字"):
        clean_reason("字" * 501)
    assert clean_reason("字" * 500) == "字" * 500
    with pytest.raises(ValidationFailed, match="最多 64 个字"):
        clean_decision_no("号" * 65)
    assert clean_decision_no(" 惠应急罚〔2026〕12号 ") == "惠应急罚〔2026〕12号"


def test_the_four_flags_in_the_policy_s_order():
    assert [label for _, label in domain.FLAGS] == [
        "一律给予限制", "一律上网公示", "一律职业禁入", "一律行业禁入",
    ]
    assert flag_labels({"industry_ban": True, "restrict_market": True, "publicize": False}) == [
        "一律给予限制", "一律行业禁入",
    ]
    assert flag_labels({}) == []
    assert [checked(v) for v in (True, "1", "on", "true", "yes")] == [True] * 5
    assert [checked(v) for v in (False, "", "0", "off", None, 1)] == [False] * 6


def _bureau(role: BureauRole, towns=frozenset()) -> Actor:
    return Actor(user_id=1, bureau_role=role, bureau_town_ids=frozenset(towns))


def test_the_bureau_admin_lists_staff_see_enterprises_never():
    admin = _bureau(BureauRole.ADMIN)
    staff = _bureau(BureauRole.STAFF, {3})
    manager = Actor(user_id=2, roles={7: frozenset({Role.MANAGER, Role.ENTERPRISE_ADMIN})})
    assert may_view_list(admin) and may_view_list(staff) and not may_view_list(manager)
    assert may_manage_any(admin) and not may_manage_any(staff) and not may_manage_any(manager)
    require_manage(admin, TOWN)
    for actor in (staff, manager):
        with pytest.raises(PermissionDenied, match="安监局管理员"):
            require_manage(actor, TOWN)
