"""UTC timestamps round-trip as aware UTC on both backends; naive values are refused."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import StatementError

from app.accounts.models import ApiToken


def test_aware_timestamps_round_trip_as_utc(db_session, build):
    user = build.user()
    shanghai = timezone(timedelta(hours=8))
    created = datetime(2026, 3, 1, 8, 30, tzinfo=shanghai)
    token = ApiToken(user_id=user.id, name="t", token_hash="h" * 64, created_at=created)
    db_session.add(token)
    db_session.flush()
    db_session.expire(token)
    assert token.created_at == created
    assert token.created_at.utcoffset() == timedelta(0)
    assert token.created_at.hour == 0


def test_naive_timestamps_are_refused(db_session, build):
    user = build.user()
    db_session.add(ApiToken(user_id=user.id, name="t", token_hash="n" * 64, created_at=datetime(2026, 3, 1)))
    with pytest.raises(StatementError, match="naive datetime"):
        db_session.flush()
    db_session.rollback()


def test_server_default_timestamps_are_aware(db_session, build):
    user = build.user()
    db_session.expire(user)
    assert user.created_at.tzinfo is not None
