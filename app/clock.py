"""The only place that reads the wall clock.

Everything is stored in UTC; days, ISO weeks and months are computed in LOCAL_TZ.
Rules and services take `now` as a parameter; boundaries call `utcnow()`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    """The current instant, timezone-aware, in UTC."""
    return datetime.now(UTC)


def to_local(moment: datetime) -> datetime:
    """`moment` (aware) seen in Asia/Shanghai."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: store and pass times as aware UTC")
    return moment.astimezone(LOCAL_TZ)


def local_today(now: datetime) -> date:
    """The calendar date in Asia/Shanghai at instant `now`."""
    return to_local(now).date()
