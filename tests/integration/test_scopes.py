"""visible_enterprises applies the actor's scope in SQL, on the real database."""

from __future__ import annotations

from app.accounts.queries import visible_enterprises


def ids(session, actor):
    return {e.id for e in session.scalars(visible_enterprises(actor))}


def test_each_kind_of_actor_sees_exactly_its_scope(db_session, build):
    north, south = build.town(), build.town()
    a, b = build.enterprise(town=north), build.enterprise(town=north)
    c = build.enterprise(town=south)

    worker = build.actor(build.member(a, "worker"))
    assert ids(db_session, worker) == {a.id}

    both = build.user()
    build.member(a, "manager", user=both)
    build.member(c, "safety_officer", user=both)
    assert ids(db_session, build.actor(both)) == {a.id, c.id}

    staff = build.actor(build.bureau_user("bureau_staff", towns=[north]))
    assert ids(db_session, staff) == {a.id, b.id}

    admin = build.actor(build.bureau_user("bureau_admin"))
    assert {a.id, b.id, c.id} <= ids(db_session, admin)

    nobody = build.actor(build.user())
    assert ids(db_session, nobody) == set()


def test_inactive_memberships_grant_nothing(db_session, build):
    enterprise = build.enterprise()
    user = build.member(enterprise, "manager", active=False)
    assert ids(db_session, build.actor(user)) == set()
