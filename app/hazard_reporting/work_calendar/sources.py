"""The working calendar's outside knowledge, read from libraries (no database, no Flask):

- the State Council's published arrangements, as shipped in `chinese-calendar`; the years it
  covers are read from its data, so a newer release extends them without a code change;
- the Gregorian dates of the lunar and solar-term festivals, from `lunar-python`.
"""

from __future__ import annotations

from datetime import date
from functools import cache

import chinese_calendar.constants as official_data
from lunar_python import Lunar, Solar

from app.hazard_reporting.work_calendar.domain import DayMark, FestivalDates, statutory_rest_days

# chinese-calendar names holidays in English; what the bureau and workers read is Chinese.
_OFFICIAL_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利70周年纪念日",
}


@cache
def official_years() -> range:
    """The years chinese-calendar has the State Council's arrangement for, from its data
    (it raises NotImplementedError outside the same range). Read once per process."""
    known = [*official_data.holidays, *official_data.workdays]
    return range(min(known).year, max(known).year + 1)


def _chinese_name(holiday: object) -> str:
    english = getattr(holiday, "value", holiday)
    if isinstance(english, tuple):  # older releases: (english, chinese, days)
        english = english[0]
    return _OFFICIAL_NAMES.get(str(english), str(english))


def official_mark(day: date) -> DayMark | None:
    """The published arrangement of `day`: a holiday with its name, an adjusted working day
    (调休上班) named after its holiday, or a plain day by weekday; None outside the data."""
    if day.year not in official_years():
        return None
    if day in official_data.holidays:
        return DayMark(False, _chinese_name(official_data.holidays[day]))
    if day in official_data.workdays:
        return DayMark(True, f"{_chinese_name(official_data.workdays[day])}调休上班")
    return DayMark(day.isoweekday() <= 5)


def festival_dates(year: int) -> FestivalDates:
    """正月初一, 清明 (the solar term), 五月初五 and 八月十五 of `year`, as Gregorian dates."""

    def solar(lunar: Lunar) -> date:
        s = lunar.getSolar()
        return date(s.getYear(), s.getMonth(), s.getDay())

    # The solar-term table of a lunar year around April always holds that April's 清明.
    qingming = Solar.fromYmd(year, 4, 1).getLunar().getJieQiTable()["清明"]
    return FestivalDates(
        spring_festival=solar(Lunar.fromYmd(year, 1, 1)),
        qingming=date(qingming.getYear(), qingming.getMonth(), qingming.getDay()),
        dragon_boat=solar(Lunar.fromYmd(year, 5, 5)),
        mid_autumn=solar(Lunar.fromYmd(year, 8, 15)),
    )


@cache
def rule_rest_days(year: int) -> dict[date, str]:
    """The statutory rest days of `year` by rule (empty before the rule applies)."""
    try:
        return statutory_rest_days(year, festival_dates(year))
    except ValueError:
        return {}
