"""The district's working calendar: festival dates, the statutory rule (全国年节及纪念日放假办法,
2024) with its substitute days (补假), the official data of chinese-calendar, the bureau's
overrides and confirmations, retroactive changes and the arrangement file."""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar
import chinese_calendar.constants
import holidays
import pytest

from app.errors import ValidationFailed
from app.hazard_reporting.work_calendar import sources
from app.hazard_reporting.work_calendar.domain import (
    ArrangementFileError,
    ArrangementRow,
    DayMark,
    DaySource,
    WorkCalendar,
    YearBasis,
    changed_days,
    read_arrangement_csv,
    refuse_retroactive_workdays,
    statutory_rest_days,
    years_to_confirm,
)


def calendar(overrides=None, confirmed=None) -> WorkCalendar:
    """The calendar as `CalendarState(overrides, confirmed).calendar()` builds it."""
    return WorkCalendar(
        overrides=overrides or {},
        official=sources.official_mark,
        official_years=sources.official_years(),
        rule=sources.rule_rest_days,
        confirmed=confirmed or {},
    )


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


# --- festival dates (lunar-python) --------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "spring", "qingming", "dragon_boat", "mid_autumn"),
    [
        (2027, date(2027, 2, 6), date(2027, 4, 5), date(2027, 6, 9), date(2027, 9, 15)),
        (2026, date(2026, 2, 17), date(2026, 4, 5), date(2026, 6, 19), date(2026, 9, 25)),
    ],
)
def test_festival_dates(year, spring, qingming, dragon_boat, mid_autumn):
    festivals = sources.festival_dates(year)
    assert festivals.spring_festival == spring
    assert festivals.qingming == qingming
    assert festivals.dragon_boat == dragon_boat
    assert festivals.mid_autumn == mid_autumn


# --- the statutory rule -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2027, 1, 1), "元旦"),
        (date(2027, 2, 5), "春节"),  # 除夕
        (date(2027, 2, 6), "春节"),
        (date(2027, 2, 7), "春节"),
        (date(2027, 2, 8), "春节"),
        (date(2027, 4, 5), "清明节"),
        (date(2027, 5, 1), "劳动节"),
        (date(2027, 5, 2), "劳动节"),
        (date(2027, 6, 9), "端午节"),
        (date(2027, 9, 15), "中秋节"),
        (date(2027, 10, 1), "国庆节"),
        (date(2027, 10, 2), "国庆节"),
        (date(2027, 10, 3), "国庆节"),
    ],
)
def test_rule_holidays_of_2027(day, name):
    assert sources.rule_rest_days(2027)[day] == name


@pytest.mark.parametrize(
    ("day", "holiday"),
    [
        # 春节 2027-02-05..08: Saturday 6th and Sunday 7th are owed → Tuesday 9th, Wednesday 10th.
        (date(2027, 2, 9), "春节"),
        (date(2027, 2, 10), "春节"),
        # 劳动节 Saturday 1 and Sunday 2 May → Monday 3rd, Tuesday 4th.
        (date(2027, 5, 3), "劳动节"),
        (date(2027, 5, 4), "劳动节"),
        # 国庆节 Friday 1 Oct, Saturday 2nd and Sunday 3rd → Monday 4th, Tuesday 5th.
        (date(2027, 10, 4), "国庆节"),
        (date(2027, 10, 5), "国庆节"),
    ],
)
def test_rule_substitute_days_of_2027(day, holiday):
    name = sources.rule_rest_days(2027)[day]
    assert name == f"{holiday}（补假）"
    assert name.endswith("（补假）")


def test_rule_owes_exactly_the_weekend_days_of_2027():
    rest = sources.rule_rest_days(2027)
    assert date(2027, 2, 11) not in rest  # only two days owed for 春节
    assert date(2027, 5, 5) not in rest
    assert date(2027, 10, 6) not in rest
    assert date(2027, 1, 2) not in rest  # a plain Saturday is not a holiday of the rule
    substitutes = sorted(day for day, name in rest.items() if name.endswith("（补假）"))
    assert substitutes == [
        date(2027, 2, 9),
        date(2027, 2, 10),
        date(2027, 5, 3),
        date(2027, 5, 4),
        date(2027, 10, 4),
        date(2027, 10, 5),
    ]
    assert len(rest) == 19  # 13 statutory days + 6 substitutes


def test_rule_rest_days_is_the_statutory_rule_with_lunar_dates():
    assert sources.rule_rest_days(2027) == statutory_rest_days(2027, sources.festival_dates(2027))


def test_statutory_rule_is_undefined_before_2025():
    with pytest.raises(ValueError):
        statutory_rest_days(2024, sources.festival_dates(2024))
    assert sources.rule_rest_days(2024) == {}
    assert sources.rule_rest_days(2025)  # the first year of the revised rules


# --- the calendar as the service builds it -----------------------------------------------


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2027, 1, 1), "元旦"),
        (date(2027, 2, 5), "春节"),
        (date(2027, 2, 6), "春节"),
        (date(2027, 2, 7), "春节"),
        (date(2027, 2, 8), "春节"),
        (date(2027, 2, 9), "春节（补假）"),
    ],
)
def test_unpublished_year_rests_by_rule_provisionally(day, name):
    resolved = calendar().day(day)
    assert resolved.workday is False
    assert resolved.name == name
    assert resolved.source is DaySource.STATUTORY_RULE
    assert resolved.provisional is True


def test_unpublished_year_works_by_weekday_provisionally():
    monday = calendar().day(date(2027, 1, 4))
    assert (monday.workday, monday.source, monday.provisional) == (True, DaySource.WEEKDAY, True)
    saturday = calendar().day(date(2027, 1, 2))
    assert (saturday.workday, saturday.source, saturday.provisional) == (False, DaySource.WEEKDAY, True)
    assert calendar().is_workday(date(2027, 2, 11)) is True  # the day after the last 补假


def test_published_year_comes_from_the_official_data():
    cal = calendar()
    adjusted = cal.day(date(2026, 2, 14))  # a Saturday: 调休上班 for 春节
    assert adjusted.workday is True
    assert adjusted.source is DaySource.OFFICIAL
    assert adjusted.provisional is False
    assert "春节" in adjusted.name
    assert "调休上班" in adjusted.name
    holiday = cal.day(date(2026, 2, 20))  # a Friday of the 2026 春节 holiday (not in the rule)
    assert date(2026, 2, 20) not in sources.rule_rest_days(2026)
    assert (holiday.workday, holiday.source, holiday.provisional) == (False, DaySource.OFFICIAL, False)
    assert holiday.name == "春节"
    plain = cal.day(date(2026, 3, 10))  # a plain Tuesday
    assert (plain.workday, plain.source, plain.provisional, plain.name) == (
        True,
        DaySource.OFFICIAL,
        False,
        "",
    )


def test_days_lists_every_day_in_order():
    listed = calendar().days(date(2027, 2, 4), date(2027, 2, 11))
    assert [d.day for d in listed] == days_between(date(2027, 2, 4), date(2027, 2, 11))
    assert [d.workday for d in listed] == [True, False, False, False, False, False, False, True]


# --- the rule against the official data ---------------------------------------------------


@pytest.mark.parametrize("year", [2025, 2026])
def test_every_rule_rest_day_is_an_official_rest_day(year):
    assert year in sources.official_years()
    rest = statutory_rest_days(year, sources.festival_dates(year))
    assert rest
    working = sorted(day for day in rest if chinese_calendar.is_workday(day))
    assert working == []


# --- the rule against the independent `holidays` package ----------------------------------


@pytest.mark.parametrize("year", range(2025, 2061))
def test_rule_agrees_with_the_holidays_package(year):
    # "Day off (substituted from …)" days are the State Council's per-year 调休 in-lieu days:
    # they exist only for published years and no rule can foresee them.
    theirs = {day for day, name in holidays.China(years=year).items() if not name.startswith("Day off")}
    ours = set(sources.rule_rest_days(year))
    assert sorted(ours - theirs) == []
    assert sorted(theirs - ours) == []


# --- precedence: overrides, official data, confirmations ----------------------------------


def test_override_makes_a_saturday_a_working_day():
    saturday = date(2027, 2, 20)
    assert calendar().is_workday(saturday) is False
    cal = calendar(overrides={saturday: DayMark(True, "调休上班", "note")})
    resolved = cal.day(saturday)
    assert resolved.workday is True
    assert resolved.source is DaySource.OVERRIDE
    assert resolved.provisional is False
    assert (resolved.name, resolved.note) == ("调休上班", "note")
    assert cal.day(date(2027, 2, 21)).provisional is True  # only the overridden day is settled


def test_override_wins_over_the_official_data():
    national_day = date(2026, 10, 1)
    assert calendar().day(national_day).source is DaySource.OFFICIAL
    assert calendar().is_workday(national_day) is False
    resolved = calendar(overrides={national_day: DayMark(True, "区级上班", "")}).day(national_day)
    assert (resolved.workday, resolved.source) == (True, DaySource.OVERRIDE)


def test_override_wins_over_the_rule():
    resolved = calendar(overrides={date(2027, 2, 9): DayMark(True, "上班")}).day(date(2027, 2, 9))
    assert (resolved.workday, resolved.source) == (True, DaySource.OVERRIDE)


def test_year_confirmed_as_rule_keeps_the_rule_but_is_no_longer_provisional():
    cal = calendar(confirmed={2027: YearBasis.RULE})
    assert cal.provisional_year(2027) is False
    for day in (date(2027, 1, 1), date(2027, 2, 9)):
        resolved = cal.day(day)
        assert (resolved.workday, resolved.source, resolved.provisional) == (
            False,
            DaySource.STATUTORY_RULE,
            False,
        )
    monday = cal.day(date(2027, 1, 4))
    assert (monday.workday, monday.source, monday.provisional) == (True, DaySource.WEEKDAY, False)
    assert cal.day(date(2028, 1, 3)).provisional is True  # other years are untouched


def test_year_confirmed_by_arrangement_ignores_the_rule():
    imported = {date(2027, 1, 1): DayMark(False, "元旦")}
    cal = calendar(overrides=imported, confirmed={2027: YearBasis.ARRANGEMENT})
    substitute = cal.day(date(2027, 2, 9))  # a rule 补假 the arrangement does not list
    assert substitute.workday is True
    assert substitute.source is DaySource.WEEKDAY
    assert substitute.provisional is False
    assert substitute.name == ""
    assert cal.day(date(2027, 1, 1)).source is DaySource.OVERRIDE
    assert cal.is_workday(date(2027, 2, 6)) is False  # a Saturday by weekday


# --- years to confirm ---------------------------------------------------------------------


def test_years_to_confirm():
    assert years_to_confirm(calendar(), date(2026, 11, 30)) == []  # 2026 is official
    assert years_to_confirm(calendar(), date(2026, 12, 1)) == [2027]
    assert years_to_confirm(calendar(), date(2026, 12, 31)) == [2027]
    assert years_to_confirm(calendar(confirmed={2027: YearBasis.RULE}), date(2026, 12, 1)) == []
    assert years_to_confirm(calendar(confirmed={2027: YearBasis.ARRANGEMENT}), date(2026, 12, 1)) == []
    assert years_to_confirm(calendar(), date(2027, 1, 5)) == [2027]
    assert years_to_confirm(calendar(confirmed={2027: YearBasis.RULE}), date(2027, 1, 5)) == []
    assert years_to_confirm(calendar(), date(2027, 12, 1)) == [2027, 2028]


# --- the official years come from the library's data --------------------------------------


def test_official_years_come_from_the_library():
    known = list(chinese_calendar.constants.holidays)
    expected = range(min(known).year, max(known).year + 1)
    assert sources.official_years() == expected
    assert 2026 in sources.official_years()


@pytest.fixture
def patched_official_data():
    """A MonkeyPatch on chinese-calendar's data, with official_years' cache cleared around it
    (after the data is restored, so no later test sees the patched range)."""
    sources.official_years.cache_clear()
    try:
        with pytest.MonkeyPatch.context() as mp:
            yield mp
    finally:
        sources.official_years.cache_clear()


def test_a_newer_library_release_extends_the_official_years(patched_official_data):
    data = chinese_calendar.constants.holidays
    assert 2027 not in sources.official_years()  # precondition: the installed data stops earlier
    sources.official_years.cache_clear()
    new_years_value = data[date(2026, 1, 1)]  # the library's own value for 元旦
    patched_official_data.setitem(data, date(2027, 1, 1), new_years_value)
    assert 2027 in sources.official_years()
    assert sources.official_years().start == min(data).year
    assert sources.official_mark(date(2027, 1, 1)) == DayMark(False, "元旦")
    assert sources.official_mark(date(2027, 1, 4)) == DayMark(True)  # a plain Monday
    resolved = calendar().day(date(2027, 1, 1))
    assert (resolved.source, resolved.provisional, resolved.name) == (DaySource.OFFICIAL, False, "元旦")


def test_the_patched_official_years_do_not_leak():
    assert 2027 not in sources.official_years()
    assert sources.official_mark(date(2027, 1, 1)) is None


# --- changes and retroactive working days -------------------------------------------------


def test_past_rest_day_cannot_become_a_working_day():
    today = date(2027, 3, 1)
    saturday = date(2027, 2, 20)
    before = calendar()
    after = calendar(overrides={saturday: DayMark(True, "调休上班")})
    changes = changed_days(before, after, [saturday, date(2027, 2, 22)])
    assert [c.day for c in changes] == [saturday]
    assert changes[0].became_rest is False
    with pytest.raises(ValidationFailed) as raised:
        refuse_retroactive_workdays(changes, today)
    assert "2027-02-20" in raised.value.message


def test_past_working_day_may_become_a_rest_day():
    today = date(2027, 3, 1)
    tuesday = date(2027, 2, 23)
    changes = changed_days(calendar(), calendar(overrides={tuesday: DayMark(False, "停工")}), [tuesday])
    assert [c.day for c in changes] == [tuesday]
    assert changes[0].became_rest is True
    refuse_retroactive_workdays(changes, today)


def test_today_may_become_a_working_day():
    saturday = date(2027, 2, 20)
    changes = changed_days(calendar(), calendar(overrides={saturday: DayMark(True, "调休上班")}), [saturday])
    assert len(changes) == 1
    refuse_retroactive_workdays(changes, saturday)
    refuse_retroactive_workdays(changes, saturday - timedelta(days=1))  # and a future day


def test_changed_days_ignores_days_whose_status_stays():
    friday = date(2027, 2, 19)
    changes = changed_days(calendar(), calendar(overrides={friday: DayMark(True, "改名")}), [friday])
    assert changes == []


# --- the arrangement file -----------------------------------------------------------------

GOOD_ROWS = [
    ArrangementRow(2, date(2027, 1, 1), False, "元旦"),
    ArrangementRow(3, date(2027, 2, 20), True, "春节调休上班"),
]


@pytest.mark.parametrize(
    "text",
    [
        "date,workday,name\n2027-01-01,否,元旦\n2027-02-20,是,春节调休上班\n",
        "date,workday,name\n2027-01-01,休息,元旦\n2027-02-20,上班,春节调休上班\n",
        "date,workday,name\n2027-01-01,0,元旦\n2027-02-20,1,春节调休上班\n",
        "date,workday,name\n2027-01-01,false,元旦\n2027-02-20,TRUE,春节调休上班\n",
        "\ufeffdate,workday,name\r\n2027-01-01,否,元旦\r\n2027-02-20,是,春节调休上班\r\n",
        "日期,是否上班,名称\n2027-01-01,否,元旦\n2027-02-20,是,春节调休上班",
    ],
    ids=["yes-no", "rest-work", "0-1", "true-false", "bom-crlf", "chinese-header"],
)
def test_read_arrangement_csv(text):
    assert read_arrangement_csv(text) == GOOD_ROWS


def test_read_arrangement_csv_reports_every_problem_with_its_line():
    text = (
        "date,workday,name\n"  # 1
        "2027-01-01,否,元旦\n"  # 2
        "2027-13-01,否,坏日期\n"  # 3
        "2027-02-20,也许,坏标记\n"  # 4
        "2027-01-01,是,重复\n"  # 5
        "2027-02-21,是,多一列,多余\n"  # 6
        "2027-02-22,是,正常\n"  # 7
    )
    with pytest.raises(ArrangementFileError) as raised:
        read_arrangement_csv(text)
    problems = raised.value.problems
    assert [line for line, _ in problems] == [3, 4, 5, 6]
    messages = dict(problems)
    assert "2027-13-01" in messages[3]
    assert "也许" in messages[4]
    assert "重复" in messages[5]
    assert "第 2 行" in messages[5]  # the duplicate names the earlier line
    assert "4 列" in messages[6]
    assert isinstance(raised.value, ValidationFailed)


@pytest.mark.parametrize(
    "text",
    ["", "\ufeff", "date,workday,name\n", "date,workday,name\n\n  ,  ,\n"],
    ids=["empty", "bom-only", "header-only", "header-and-blank-lines"],
)
def test_read_arrangement_csv_refuses_a_file_without_days(text):
    with pytest.raises(ArrangementFileError) as raised:
        read_arrangement_csv(text)
    assert [line for line, _ in raised.value.problems] == [0]


def test_read_arrangement_csv_refuses_a_wrong_header():
    with pytest.raises(ArrangementFileError) as raised:
        read_arrangement_csv("day,status\n2027-01-01,否\n")
    assert [line for line, _ in raised.value.problems] == [1]
