"""The binding time and the history a redeemed invite and an unbinding leave."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.accounts.models import MemberEvent, Membership
from app.accounts.service import create_invite, redeem_invite, unbind_member
from app.errors import Conflict, ValidationFailed
from tests.fixtures.builders import NOW


def test_binding_records_the_time_and_unbinding_lets_a_new_wechat_bind(build, db_session):
    enterprise = build.enterprise()
    admin = build.actor(build.member(enterprise, "enterprise_admin"))
    worker = build.member(enterprise, "worker", user=build.user(openid=None))
    membership = db_session.scalar(select(Membership).where(Membership.user_id == worker.id))
    first = create_invite(db_session, admin, NOW, membership.id)
    redeem_invite(db_session, NOW + timedelta(hours=1), first.token, "o-old-phone")
    assert worker.wechat_bound_at == NOW + timedelta(hours=1) and worker.openid == "o-old-phone"
    with pytest.raises(Conflict):  # an invite is used once
        redeem_invite(db_session, NOW + timedelta(hours=2), first.token, "o-someone-else")
    with pytest.raises(ValidationFailed):
        unbind_member(db_session, admin, NOW, membership.id, "")
    unbind_member(db_session, admin, NOW + timedelta(days=1), membership.id, "手机丢失")
    assert worker.openid is None and worker.wechat_bound_at is None
    second = create_invite(db_session, admin, NOW + timedelta(days=1), membership.id)
    redeem_invite(db_session, NOW + timedelta(days=2), second.token, "o-new-phone")
    assert worker.openid == "o-new-phone" and worker.wechat_bound_at == NOW + timedelta(days=2)
    events = db_session.scalars(select(MemberEvent).where(MemberEvent.membership_id == membership.id).order_by(MemberEvent.id)).all()
    assert [(e.kind.value, e.reason) for e in events] == [
        ("invited", ""), ("bound", ""), ("unbound", "手机丢失"), ("invited", ""), ("bound", ""),
    ]
    assert events[1].actor_id == worker.id and events[2].actor_id == admin.user_id
