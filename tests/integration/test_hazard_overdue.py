"""One rule for "this hazard's rectification is overdue": hazards.domain.is_overdue and its
SQL mirror hazards.queries.overdue_clause agree on every status and deadline, and the
ledger, the console filter and the daily digest all count by it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.hazard_reporting.hazards.domain import (
    HazardCategory,
    HazardLevel,
    HazardSource,
    HazardStatus,
    is_overdue,
)
from app.hazard_reporting.hazards.models import Hazard
from app.hazard_reporting.hazards.queries import overdue_clause
from tests.fixtures.builders import NOW

DEADLINES = {
    "none": None,
    "long past": NOW - timedelta(days=3),
    "a second ago": NOW - timedelta(seconds=1),
    "exactly now": NOW,
    "ahead": NOW + timedelta(hours=2),
}


def test_the_rule_and_its_sql_agree_on_every_status_and_deadline(db_session, build):
    enterprise = build.enterprise()
    reporter = build.member(enterprise, "worker")
    cases = {}
    for status in HazardStatus:
        for label, deadline in DEADLINES.items():
            hazard = Hazard(
                enterprise_id=enterprise.id,
                source=HazardSource.ADHOC,
                level=HazardLevel.GENERAL,
                category=HazardCategory.UNSAFE_CONDITION,
                description=f"{status} {label}",
                reporter_id=reporter.id,
                deadline=deadline,
                status=status,
                created_at=NOW - timedelta(days=5),
                updated_at=NOW - timedelta(days=5),
            )
            db_session.add(hazard)
            cases[(status, label)] = hazard
    db_session.flush()
    in_sql = set(
        db_session.scalars(
            select(Hazard.id).where(Hazard.enterprise_id == enterprise.id, overdue_clause(NOW))
        )
    )
    by_rule = {h.id for h in cases.values() if is_overdue(h.status, h.deadline, NOW)}
    assert in_sql == by_rule
    # The rule itself, spelled out: not yet rectified, deadline strictly passed.
    assert (HazardStatus.ASSIGNED, "a second ago") in {k for k, h in cases.items() if h.id in by_rule}
    assert not any(h.id in by_rule for (s, _), h in cases.items() if s is HazardStatus.RECTIFIED)
    assert not any(h.id in by_rule for (_, label), h in cases.items() if label in ("none", "exactly now", "ahead"))


def test_the_daily_digest_counts_overdue_hazards_by_the_same_rule(db_session, build):
    from app.hazard_reporting.escalation.queries import digest_counts

    enterprise = build.enterprise()
    manager = build.member(enterprise, "manager")
    for status in (HazardStatus.ASSIGNED, HazardStatus.RECTIFIED, HazardStatus.RECTIFYING):
        db_session.add(
            Hazard(
                enterprise_id=enterprise.id, source=HazardSource.ADHOC, level=HazardLevel.GENERAL,
                category=HazardCategory.UNSAFE_CONDITION, description=str(status), reporter_id=manager.id,
                deadline=NOW - timedelta(hours=1), status=status,
                created_at=NOW - timedelta(days=1), updated_at=NOW - timedelta(days=1),
            )
        )
    db_session.flush()
    counts = digest_counts(db_session, build.actor(manager), NOW)
    # Three open, two of them late in their rectification; the rectified one waits for its
    # verifier, which is not an overdue rectification.
    assert (counts.open_hazards, counts.overdue_hazards) == (3, 2)
