"""Every console and API route that names a row is closed to another enterprise's people.

The sweep walks the app's URL map: each GET route whose parameters are ids is called by
enterprise B's admin (console session, and API token) with enterprise A's rows. Whatever
the route, the answer is a refusal (403/404) — never A's data. A route added later is swept
too; a route whose parameter this file cannot fill fails the sweep until it is taught here.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from app.accounts.domain import Role
from app.accounts.models import Invite, Membership
from app.accounts.service import issue_api_token
from app.clock import local_today, utcnow
from app.hazard_reporting.checklists import service as checklist_service
from app.hazard_reporting.risks import service as risk_service
from app.hazard_reporting.schedules import service as schedule_service
from app.oversight.campaigns import service as campaign_service
from app.oversight.credit.models import CreditRecord
from app.oversight.training import service as training_service

# Parameters that are not rows of an enterprise: the sweep leaves these routes alone.
NOT_ENTERPRISE_ROWS = {"year", "filename", "media_id", "token", "slug", "kind", "name", "path", "figure"}


@pytest.fixture
def rows(db_session, build, tmp_path):
    """Enterprise A with one of each row a console route can name; B's admin."""
    now = utcnow()
    a = build.enterprise(name="甲企业")
    department = build.department(a)
    team = build.team(department)
    post = build.post(a)
    site = build.site(a)
    member = build.member(a, Role.WORKER, department_id=department.id, team_id=team.id)
    membership = db_session.query(Membership).filter_by(user_id=member.id).one()
    checklist_service.load_standard_checklists(db_session, now)
    schedule = schedule_service.ensure_default_schedules(db_session, now, a.id)[0]
    invite = Invite(
        token="sweep0000000000000000000000000000"[:32], membership_id=membership.id, created_at=now,
        expires_at=now + timedelta(days=7),
    )
    db_session.add(invite)
    credit_record = CreditRecord(
        enterprise_id=a.id, list_kind="watchlist", reason="扫描", basis="扫描", listed_on=now.date(),
        review_on=now.date() + timedelta(days=365), created_at=now,
    )
    db_session.add(credit_record)
    training = training_service.record_session(
        db_session, build.actor(build.member(a, Role.SAFETY_OFFICER)), now, a.id,
        {"topic": "三级安全教育", "kind": "three_level", "held_on": now.date().isoformat(), "trainer": "王老师",
         "hours": "2", "attendees": [{"membership_id": membership.id}]},
    )
    admin_a = build.actor(build.member(a, Role.ENTERPRISE_ADMIN))
    point = risk_service.add_point(db_session, admin_a, now, a.id, {"name": "熔炼炉", "kind": "equipment", "site_id": site.id})
    source = risk_service.add_source(
        db_session, admin_a, now, point.id, {"name": "钢水喷溅", "likelihood": "6", "exposure": "6", "consequence": "15"}
    )
    control = risk_service.add_control(
        db_session, admin_a, now, source.id,
        {"text": "浇注前检查", "kind": "management", "control_level": "team", "team_id": team.id},
    )
    b = build.enterprise(name="乙企业")
    outsider = build.member(b, Role.ENTERPRISE_ADMIN)
    # A special campaign (专项整治) whose only target is A.
    a.dust_explosion = True
    bureau_admin = build.actor(build.bureau_user("bureau_admin"))
    deadline = (local_today(now) + timedelta(days=7)).isoformat()
    campaign = campaign_service.create(db_session, bureau_admin, now, {"topic": "dust_explosion", "title": "粉尘防爆", "starts_on": deadline, "deadline": deadline})
    campaign_service.launch(db_session, bureau_admin, now, campaign.id)
    db_session.flush()
    inspection = _signed_inspection(db_session, build, a, tmp_path)
    ids = {
        "enterprise_id": a.id,
        "department_id": department.id,
        "team_id": team.id,
        "post_id": post.id,
        "site_id": site.id,
        "membership_id": membership.id,
        "member_id": membership.id,
        "user_id": member.id,
        "schedule_id": schedule.id,
        "invite_id": invite.id,
        "credit_record_id": credit_record.id,
        "campaign_id": campaign.id,
        "target_id": campaign_service.queries.target_of(db_session, campaign.id, a.id).id,
        "training_session_id": training.id,
        "inspection_id": inspection.id,
        "point_id": point.id,
        "source_id": source.id,
        "control_id": control.id,
        # The bureau's own rows: an enterprise user is refused whether or not one exists.
        **{name: 1 for name in BUREAU_ROWS},
    }
    _, token = issue_api_token(db_session, outsider, now, "scope sweep")
    return ids, outsider, token


def _signed_inspection(db_session, build, enterprise, media_root):
    """An enforcement inspection of A, signed (its signature image on disk), by the bureau."""
    from app.oversight.enforcement import service as enforcement_service
    from tests.fixtures.enforcement import signature_png

    now = utcnow()
    inspector = build.actor(build.bureau_user("bureau_admin"))
    inspection = enforcement_service.create(
        db_session, inspector, now,
        {"enterprise_id": str(enterprise.id), "inspected_on": "2026-01-05", "inspectors": "执法人员", "responsible_name": "甲",
         "no_problems": "1"},
    )
    enforcement_service.edit(
        db_session, inspector, now, inspection.id,
        {"inspected_on": "2026-01-05", "inspectors": "执法人员", "responsible_name": "甲", "no_problems": "1"},
    )
    enforcement_service.set_directive(db_session, inspector, now, inspection.id, {"penalty_kind": "none"})
    return enforcement_service.sign(db_session, inspector, now, inspection.id, signature_png(), "甲", media_root)


def _routes(app, prefix: str):
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(prefix) or "GET" not in rule.methods or not rule.arguments:
            continue
        if rule.arguments & NOT_ENTERPRISE_ROWS:
            continue
        yield rule


def _fill(rule, ids) -> str | None:
    if not rule.arguments <= ids.keys():
        return None
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: str(ids[m.group(1)]), rule.rule)


def test_console_routes_refuse_another_enterprises_rows(app, client, rows):
    ids, outsider, _ = rows
    with client.session_transaction() as session:
        session["user_id"] = outsider.id
    swept, unknown, leaked = [], [], []
    for rule in _routes(app, "/console/"):
        url = _fill(rule, ids)
        if url is None:
            unknown.append(rule.rule)
            continue
        status = client.get(url).status_code
        swept.append(url)
        if status not in (403, 404):
            leaked.append((url, status))
    assert leaked == []
    assert len(swept) >= 20, swept
    # Routes naming rows of other kinds (hazards, photos, tasks, jobs) have their own tests;
    # these are listed so that a new kind of id is a decision, not an accident.
    assert {re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", r) for r in unknown} <= KNOWN_ELSEWHERE, unknown


def test_api_routes_refuse_another_enterprises_rows(app, client, rows):
    ids, _, token = rows
    headers = {"Authorization": f"Bearer {token}"}
    leaked, swept = [], []
    for rule in _routes(app, "/api/v1/"):
        url = _fill(rule, ids)
        if url is None:
            continue
        status = client.get(url, headers=headers).status_code
        swept.append(url)
        if status not in (403, 404):
            leaked.append((url, status))
    assert leaked == []
    assert len(swept) >= 4, swept


# Console routes whose ids are of rows this sweep does not build; each has scope tests in
# the feature's own test file (test_console_hazards*, test_console_checks, test_tips_pages).
KNOWN_ELSEWHERE = {
    "/console/hazards/{hazard_id}",
    "/console/hazards/{hazard_id}/photos/{photo_id}",
    "/console/enterprises/{enterprise_id}/checks/jobs/{job_id}",
}
BUREAU_ROWS = {"tip_id", "broadcast_id", "bulletin_id", "entry_id"}
