"""Shapes of the working calendar in the API (CONTRACT.md: GET /api/v1/calendar)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class CalendarQuery(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from", description="first day, YYYY-MM-DD")
    to: date = Field(description="last day, YYYY-MM-DD (at most 732 days in all, `from` and `to` included)")


class CalendarDayOut(BaseModel):
    date: date
    workday: bool
    name: str = Field(description="holiday or adjusted working day (春节, 春节调休上班 …); empty for a plain day")
    source: Literal["official", "statutory_rule", "override", "weekday"]
    provisional: bool = Field(description="true while the year is neither published nor confirmed by the bureau")
    note: str = ""


class CalendarOut(BaseModel):
    days: list[CalendarDayOut]
