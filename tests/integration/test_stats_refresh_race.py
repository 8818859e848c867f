"""Two rollup refreshes of the same month at once (the ten-minute job and the nightly year
job, caught up together at a scheduler's start): the second waits for the first and then
rebuilds the month from its result, instead of failing on the rows the first inserted
(UniqueViolation on stats_refreshes, seen in the shift-start bench). PostgreSQL only: SQLite
lets one writer at a time in anyway."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import delete, func, select

from app.clock import utcnow
from app.extensions import Database
from app.oversight.stats.domain import Month
from app.oversight.stats.models import RollupRefresh
from app.oversight.stats.service import refresh_rollups

pytestmark = pytest.mark.postgres_only

# A month of no other test's concern: its rollups are empty, its refresh row is the only row.
FAR = Month.of(date(2031, 7, 1))


def test_a_second_refresh_of_the_same_month_waits_instead_of_failing(app, database_url):
    own = Database()
    own.init(database_url)
    failures: list[BaseException] = []
    try:
        first = own.new_session()
        refresh_rollups(first, utcnow(), [FAR])  # holds its rows (and the lock) uncommitted

        def second_refresh():
            try:
                with own.new_session() as session:
                    refresh_rollups(session, utcnow(), [FAR])
                    session.commit()
            except BaseException as exc:  # noqa: BLE001 - the assertion below reports it
                failures.append(exc)

        racer = threading.Thread(target=second_refresh)
        racer.start()
        racer.join(timeout=1.0)
        assert racer.is_alive(), "the second refresh waits while the first is open"
        first.commit()
        first.close()
        racer.join(timeout=10)
        assert not racer.is_alive() and failures == []
        with own.new_session() as session:
            assert session.scalar(
                select(func.count()).select_from(RollupRefresh).where(RollupRefresh.month == FAR.first_day)
            ) == 1
    finally:
        with own.new_session() as session:
            session.execute(delete(RollupRefresh).where(RollupRefresh.month == FAR.first_day))
            session.commit()
        own.engine.dispose()
