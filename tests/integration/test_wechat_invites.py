"""Binding a WeChat openid to a member through a single-use invite."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.accounts.domain import (
    INVITE_ALREADY_YOURS,
    INVITE_EXPIRED,
    INVITE_MEMBER_HAS_OTHER_WECHAT,
    INVITE_USED,
    MAX_SCENE_LENGTH,
    Role,
    invite_scene,
)
from app.accounts.models import Invite, Membership, User
from app.accounts.service import create_invite, redeem_invite
from app.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tests.fixtures.builders import NOW

OPENID = "oNEWWORKER0000000000000000a1"


@pytest.fixture
def setup(build, db_session):
    enterprise = build.enterprise()
    admin = build.member(enterprise, Role.ENTERPRISE_ADMIN)
    worker = build.member(enterprise, Role.WORKER, user=build.user(openid=None, subscribed=False))
    membership = db_session.scalar(select(Membership).where(Membership.user_id == worker.id))
    return enterprise, build.actor(admin), worker, membership


def test_admin_creates_an_invite_whose_scene_fits_a_qr(setup, db_session):
    _, admin, _, membership = setup
    invite = create_invite(db_session, admin, NOW, membership.id, ttl=timedelta(days=3))
    assert invite.id is not None and invite.created_by_id == admin.user_id
    assert invite.expires_at == NOW + timedelta(days=3) and invite.used_at is None
    scene = invite_scene(invite.token)
    assert scene == f"bind:{invite.token}" and len(scene) <= MAX_SCENE_LENGTH
    assert len(invite.token) >= 32  # ≥ 192 random bits


def test_tokens_are_unique(setup, db_session):
    _, admin, _, membership = setup
    tokens = {create_invite(db_session, admin, NOW, membership.id).token for _ in range(5)}
    assert len(tokens) == 5


def test_only_member_managers_may_invite(build, setup, db_session):
    enterprise, _, _, membership = setup
    worker_actor = build.actor(build.member(enterprise, Role.WORKER))
    with pytest.raises(PermissionDenied):
        create_invite(db_session, worker_actor, NOW, membership.id)
    staff = build.actor(build.bureau_user("bureau_staff", towns=[enterprise.town]))
    with pytest.raises(PermissionDenied):  # may see the enterprise, may not manage its people
        create_invite(db_session, staff, NOW, membership.id)
    stranger = build.actor(build.member(build.enterprise(), Role.ENTERPRISE_ADMIN))
    with pytest.raises(NotFound):
        create_invite(db_session, stranger, NOW, membership.id)
    with pytest.raises(NotFound):
        create_invite(db_session, stranger, NOW, 10**9)


@pytest.mark.parametrize("ttl", [timedelta(minutes=1), timedelta(days=31), timedelta(0), timedelta(days=-1)])
def test_invite_lifetime_is_bounded(setup, db_session, ttl):
    _, admin, _, membership = setup
    with pytest.raises(ValidationFailed):
        create_invite(db_session, admin, NOW, membership.id, ttl=ttl)


def test_no_invite_for_an_already_bound_or_inactive_member(build, setup, db_session):
    enterprise, admin, _, _ = setup
    bound = build.member(enterprise, Role.WORKER)  # builder users have an openid
    bound_membership = db_session.scalar(select(Membership).where(Membership.user_id == bound.id))
    with pytest.raises(ValidationFailed, match="已绑定微信"):
        create_invite(db_session, admin, NOW, bound_membership.id)
    gone = build.member(enterprise, Role.WORKER, user=build.user(openid=None), active=False)
    gone_membership = db_session.scalar(select(Membership).where(Membership.user_id == gone.id))
    with pytest.raises(ValidationFailed, match="停用"):
        create_invite(db_session, admin, NOW, gone_membership.id)


def test_redeem_binds_the_openid(setup, db_session):
    _, admin, worker, membership = setup
    invite = create_invite(db_session, admin, NOW, membership.id)
    later = NOW + timedelta(hours=1)
    assert redeem_invite(db_session, later, invite.token, OPENID).id == membership.id
    # The conditional UPDATEs keep the objects already in the session in step …
    assert (worker.openid, worker.subscribed, invite.used_by_openid) == (OPENID, True, OPENID)
    # … and the rows say the same.
    db_session.expire_all()
    user = db_session.get(User, worker.id)
    assert user.openid == OPENID and user.subscribed is True
    invite = db_session.get(Invite, invite.id)
    assert invite.used_at == later and invite.used_by_openid == OPENID


def test_expired_invite_is_refused(setup, db_session):
    _, admin, worker, membership = setup
    invite = create_invite(db_session, admin, NOW, membership.id, ttl=timedelta(hours=1))
    with pytest.raises(Conflict) as refused:
        redeem_invite(db_session, NOW + timedelta(hours=1), invite.token, OPENID)
    assert refused.value.message == INVITE_EXPIRED
    assert db_session.get(User, worker.id).openid is None


def test_invite_is_single_use(setup, db_session):
    _, admin, _, membership = setup
    invite = create_invite(db_session, admin, NOW, membership.id)
    redeem_invite(db_session, NOW, invite.token, OPENID)
    with pytest.raises(Conflict) as again:
        redeem_invite(db_session, NOW, invite.token, OPENID)
    assert again.value.message == INVITE_ALREADY_YOURS
    with pytest.raises(Conflict) as other:
        redeem_invite(db_session, NOW, invite.token, "oSOMEONEELSE000000000000000b")
    assert other.value.message == INVITE_USED


def test_the_conditional_update_holds_when_the_row_changed_behind_our_back(setup, db_session):
    """The Python-side check sees a stale `used_at IS NULL`; the UPDATE … WHERE used_at IS
    NULL still refuses, as it would when another transaction won the race."""
    _, admin, worker, membership = setup
    invite = create_invite(db_session, admin, NOW, membership.id)
    db_session.execute(
        update(Invite.__table__).where(Invite.__table__.c.id == invite.id).values(used_at=NOW, used_by_openid="oX")
    )
    assert invite.used_at is None  # the identity map still holds the stale row
    with pytest.raises(Conflict) as refused:
        redeem_invite(db_session, NOW, invite.token, OPENID)
    assert refused.value.message == INVITE_USED


def test_an_openid_bound_to_someone_else_cannot_be_rebound(build, setup, db_session):
    _, admin, worker, membership = setup
    existing = build.user(openid=OPENID, display_name="张三")
    invite = create_invite(db_session, admin, NOW, membership.id)
    with pytest.raises(Conflict, match="张三") as refused:
        redeem_invite(db_session, NOW, invite.token, OPENID)
    assert "不能再绑定" in refused.value.message
    db_session.expire_all()
    assert db_session.get(Invite, invite.id).used_at is None
    assert db_session.get(User, worker.id).openid is None
    assert db_session.get(User, existing.id).openid == OPENID


def test_a_member_already_bound_to_another_wechat_is_refused(setup, db_session):
    _, admin, worker, membership = setup
    first = create_invite(db_session, admin, NOW, membership.id)
    second = create_invite(db_session, admin, NOW, membership.id)
    redeem_invite(db_session, NOW, first.token, OPENID)
    with pytest.raises(Conflict) as refused:
        redeem_invite(db_session, NOW, second.token, "oANOTHERPHONE000000000000000c")
    assert refused.value.message == INVITE_MEMBER_HAS_OTHER_WECHAT
    assert db_session.get(Invite, second.id).used_at is None


def test_unknown_token_is_not_found(setup, db_session):
    with pytest.raises(NotFound):
        redeem_invite(db_session, NOW, "no-such-token-000000000000000000", OPENID)
    with pytest.raises(NotFound):
        redeem_invite(db_session, NOW, "", OPENID)


@pytest.mark.postgres_only
def test_two_concurrent_redemptions_bind_exactly_once(app):
    """Two transactions on two connections: the second's conditional UPDATE waits for the
    first's row lock, then finds used_at set and refuses."""
    from app.extensions import db
    from tests.fixtures.builders import Builders

    engine = db.engine
    with Session(engine) as seed:
        build = Builders(seed)
        enterprise = build.enterprise()
        admin = build.member(enterprise, Role.ENTERPRISE_ADMIN)
        worker = build.member(enterprise, Role.WORKER, user=build.user(openid=None))
        membership = seed.scalar(select(Membership).where(Membership.user_id == worker.id))
        token = create_invite(seed, build.actor(admin), NOW, membership.id).token
        seed.commit()
        ids = {"town": enterprise.town_id, "enterprise": enterprise.id, "users": [admin.id, worker.id]}

    first_updated = threading.Event()
    results: dict[str, object] = {}

    def first():
        with Session(engine) as session:
            redeem_invite(session, NOW, token, "oFIRST00000000000000000000000")
            first_updated.set()
            time.sleep(0.3)  # hold the row lock while the second one tries
            session.commit()
            results["first"] = "bound"

    def second():
        first_updated.wait(5)
        with Session(engine) as session:
            try:
                redeem_invite(session, NOW, token, "oSECOND0000000000000000000000")
                session.commit()
                results["second"] = "bound"
            except Conflict as exc:
                session.rollback()
                results["second"] = exc.message

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert results == {"first": "bound", "second": INVITE_USED}
        with Session(engine) as check:
            assert check.get(User, ids["users"][1]).openid == "oFIRST00000000000000000000000"
    finally:
        from app.enterprises.models import Enterprise, Town

        with Session(engine) as cleanup:
            cleanup.execute(Invite.__table__.delete().where(Invite.token == token))
            cleanup.execute(Membership.__table__.delete().where(Membership.user_id.in_(ids["users"])))
            cleanup.execute(User.__table__.delete().where(User.id.in_(ids["users"])))
            cleanup.execute(Enterprise.__table__.delete().where(Enterprise.id == ids["enterprise"]))
            cleanup.execute(Town.__table__.delete().where(Town.id == ids["town"]))
            cleanup.commit()
