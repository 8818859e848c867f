"""The 一企一档's pure rules: who may open it, the certificate state around its boundaries,
the rectification counts, and the timeline's merge and cap."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

import pytest

from app.accounts.domain import Actor, BureauRole, EnterpriseRef, Role
from app.enterprises.domain import StandardizationLevel
from app.hazard_reporting.hazards.domain import HazardStatus
from app.oversight.dossier.domain import (
    TIMELINE_MAX,
    TIMELINE_PAGE,
    CertificateState,
    RectificationRate,
    TimelineEntry,
    TimelineKind,
    certificate_state,
    may_view_dossier,
    merge_timeline,
    rectification_counts,
    timeline_limit,
)

L3 = StandardizationLevel.LEVEL3
CERTIFIED = date(2023, 11, 28)  # valid to 2026-11-27


@pytest.mark.parametrize(
    ("today", "state", "days_left"),
    [
        (date(2023, 11, 27), CertificateState.NOT_YET, 1096),
        (date(2023, 11, 28), CertificateState.VALID, 1095),
        (date(2026, 8, 28), CertificateState.VALID, 91),
        (date(2026, 8, 29), CertificateState.EXPIRING, 90),
        (date(2026, 11, 27), CertificateState.EXPIRING, 0),  # the last valid day
        (date(2026, 11, 28), CertificateState.EXPIRED, -1),  # the third anniversary
    ],
)
def test_certificate_state_around_its_boundaries(today, state, days_left):
    cert = certificate_state(L3, CERTIFIED, today)
    assert (cert.state, cert.days_left, cert.expires_on) == (state, days_left, date(2026, 11, 27))
    assert cert.counts is (state in (CertificateState.VALID, CertificateState.EXPIRING))


def test_certificate_without_level_or_date_does_not_count():
    none = certificate_state(StandardizationLevel.NONE, CERTIFIED, date(2024, 1, 1))
    undated = certificate_state(StandardizationLevel.LEVEL2, None, date(2024, 1, 1))
    assert (none.state, none.counts, none.expires_on) == (CertificateState.NONE, False, None)
    assert (undated.state, undated.counts) == (CertificateState.UNDATED, False)


def test_leap_day_certificate_follows_standardization_expires_on():
    # enterprises.domain takes 1 March as the anniversary in a common year: valid to 28 February.
    cert = certificate_state("level1", date(2024, 2, 29), date(2027, 2, 28))
    assert (cert.expires_on, cert.state, cert.days_left) == (date(2027, 2, 28), CertificateState.EXPIRING, 0)
    assert certificate_state("level1", date(2024, 2, 29), date(2027, 3, 1)).state is CertificateState.EXPIRED


NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
W = timedelta(days=90)


@pytest.mark.parametrize(
    ("status", "age", "window", "expected"),
    [
        (HazardStatus.CLOSED, timedelta(days=1), W, (1, 1)),
        (HazardStatus.RECTIFIED, timedelta(days=1), W, (1, 0)),  # waiting for verification
        (HazardStatus.RECTIFYING, timedelta(days=1), W, (1, 0)),
        (HazardStatus.REJECTED, timedelta(days=1), W, (0, 0)),  # not a hazard
        (HazardStatus.CLOSED, W, W, (0, 0)),  # exactly 90 days ago: outside (now − 90 d, now]
        (HazardStatus.CLOSED, W - timedelta(seconds=1), W, (1, 1)),
        (HazardStatus.CLOSED, timedelta(0), W, (1, 1)),
        (HazardStatus.REPORTED, -timedelta(seconds=1), W, (0, 0)),  # after now
        (HazardStatus.CLOSED, timedelta(days=900), None, (1, 1)),  # all time
        (HazardStatus.REPORTED, timedelta(days=900), None, (1, 0)),
    ],
)
def test_rectification_counts(status, age, window, expected):
    assert rectification_counts(status, NOW - age, NOW, window) == expected


def test_rectification_rate():
    assert RectificationRate(4, 3).rate == Fraction(3, 4) and RectificationRate(4, 3).percent == "75%"
    assert RectificationRate(0, 0).rate is None and RectificationRate(0, 0).percent == "—"
    with pytest.raises(ValueError):
        _ = RectificationRate(2, 3).rate


@pytest.mark.parametrize(
    ("raw", "limit"),
    [(None, TIMELINE_PAGE), ("", TIMELINE_PAGE), ("abc", TIMELINE_PAGE), ("-5", TIMELINE_PAGE), ("31", 60),
     ("60", 60), ("99999999", TIMELINE_MAX)],
)
def test_timeline_limit(raw, limit):
    assert timeline_limit(raw) == limit


def entry(minutes: int, key: int, kind=TimelineKind.HAZARD) -> TimelineEntry:
    return TimelineEntry(at=NOW - timedelta(minutes=minutes), kind=kind, title=f"{minutes}-{key}", key=(key,))


def test_merge_timeline_newest_first_capped_and_tells_whether_more():
    a = [entry(1, 1), entry(5, 2), entry(9, 3)]
    b = [entry(2, 4, TimelineKind.MEMBER), entry(5, 5, TimelineKind.MEMBER)]
    merged, more = merge_timeline([a, b], 4)
    # Same instant (5 minutes ago): the later key first.
    assert [e.title for e in merged] == ["1-1", "2-4", "5-5", "5-2"] and more is True
    merged, more = merge_timeline([a, b], 5)
    assert len(merged) == 5 and more is False
    assert merge_timeline([[], []], 3) == ([], False)


def test_who_may_view_the_dossier():
    ref = EnterpriseRef(id=7, town_id=3)
    def member(role: Role) -> Actor:
        return Actor(user_id=1, roles={7: frozenset({role})})
    assert all(may_view_dossier(member(r), ref) for r in (Role.MANAGER, Role.SAFETY_OFFICER, Role.ENTERPRISE_ADMIN))
    assert not any(
        may_view_dossier(member(r), ref) for r in (Role.WORKER, Role.TEAM_LEADER, Role.DEPARTMENT_HEAD)
    )
    assert not may_view_dossier(Actor(user_id=1, roles={8: frozenset({Role.ENTERPRISE_ADMIN})}), ref)
    assert may_view_dossier(Actor(user_id=1, bureau_role=BureauRole.ADMIN), ref)
    assert may_view_dossier(Actor(user_id=1, bureau_role=BureauRole.STAFF, bureau_town_ids=frozenset({3})), ref)
    assert not may_view_dossier(Actor(user_id=1, bureau_role=BureauRole.STAFF, bureau_town_ids=frozenset({4})), ref)
