"""A worker's 随手拍 meeting a store outage (issue 16, fault tests): the phone is told in
Chinese that nothing took effect (503, Retry-After), nothing half-done is left behind — no
hazard, no photo file, no submit claim that would block the retry — and the retry once the
stores are back stores the report exactly once, however often it is repeated."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from app.accounts.domain import Role
from app.accounts.models import Membership, User
from app.enterprises.domain import Industry, Scale
from app.enterprises.models import Enterprise, Site, Town
from app.extensions import db, redis_client
from app.hazard_reporting.hazards.models import Hazard, HazardEvent, HazardPhoto
from tests.fixtures.csrf import FormClient
from tests.fixtures.hazard_pages import h5_login, photo_file

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def reporter(stores):
    """A worker of an enterprise with one site, committed in the fault database."""
    stores.restore()
    tag = secrets.token_hex(4)
    with stores.app.app_context():
        redis_client().flushdb()
        with db.new_session() as session:
            town = Town(code=f"F{tag}", name=f"故障镇{tag}")
            session.add(town)
            session.flush()
            enterprise = Enterprise(
                uscc=f"91410100FA{tag.upper()}", name=f"故障测试企业{tag}", address="测试路1号", town_id=town.id,
                industry=Industry.MACHINERY, scale=Scale.ABOVE,
            )
            session.add(enterprise)
            session.flush()
            site = Site(enterprise_id=enterprise.id, name="配电室", token=secrets.token_hex(8))
            worker = User(display_name="李工", openid=f"oFAULTH5{tag}")
            session.add_all([site, worker])
            session.flush()
            session.add(Membership(user_id=worker.id, enterprise_id=enterprise.id, role=Role.WORKER))
            session.commit()
            ids = (enterprise.id, site.id, worker.id, town.id)
    yield ids
    stores.restore()
    enterprise_id, _site_id, worker_id, town_id = ids
    with stores.app.app_context(), db.new_session() as session:
        hazard_ids = select(Hazard.id).where(Hazard.enterprise_id == enterprise_id)
        session.execute(delete(HazardPhoto).where(HazardPhoto.hazard_id.in_(hazard_ids)))
        session.execute(delete(HazardEvent).where(HazardEvent.hazard_id.in_(hazard_ids)))
        session.execute(delete(Hazard).where(Hazard.enterprise_id == enterprise_id))
        session.execute(delete(Membership).where(Membership.user_id == worker_id))
        session.execute(delete(User).where(User.id == worker_id))
        session.execute(delete(Enterprise).where(Enterprise.id == enterprise_id))
        session.execute(delete(Town).where(Town.id == town_id))
        session.commit()


def _report(client, enterprise_id: int, site_id: int, key: str):
    return client.post(
        "/h5/report",
        data={
            "idempotency_key": key,
            "enterprise_id": str(enterprise_id),
            "site_id": str(site_id),
            "description": "配电柜门未关，柜前堆放纸箱",
            "location": "东墙配电柜",
            "level": "general",
            "category": "unsafe_condition",
            "photo": photo_file(),
        },
        content_type="multipart/form-data",
    )


def _stored(stores, enterprise_id: int) -> tuple[int, int]:
    """(hazards, photos) of the enterprise, read on a fresh connection."""
    with stores.app.app_context(), db.new_session() as session:
        hazards = session.scalar(select(func.count()).select_from(Hazard).where(Hazard.enterprise_id == enterprise_id))
        photos = session.scalar(
            select(func.count())
            .select_from(HazardPhoto)
            .join(Hazard, Hazard.id == HazardPhoto.hazard_id)
            .where(Hazard.enterprise_id == enterprise_id)
        )
        return hazards, photos


def _media_files(stores) -> set[Path]:
    root = Path(stores.app.config["SETTINGS"].MEDIA_ROOT)
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


@pytest.mark.parametrize("store", ["redis", "postgres"])
def test_a_report_meeting_an_outage_is_refused_whole_and_the_retry_stores_it_once(stores, reporter, store):
    enterprise_id, site_id, worker_id, _ = reporter
    client = FormClient(stores.app.test_client())
    with stores.app.app_context(), db.new_session() as session:
        h5_login(client, session.get(User, worker_id))
    key = secrets.token_hex(12)
    files_before = _media_files(stores)

    getattr(stores, store).cut()
    refused = _report(client, enterprise_id, site_id, key)
    stores.restore()
    assert refused.status_code == 503, refused.get_data(as_text=True)[:300]
    assert refused.headers["Retry-After"] == "30"
    assert "没有生效" in refused.get_data(as_text=True)
    assert _stored(stores, enterprise_id) == (0, 0)
    assert _media_files(stores) == files_before, "no orphan photo file"

    stored = _report(client, enterprise_id, site_id, key)  # the worker taps 提交 again
    assert stored.status_code == 303, stored.get_data(as_text=True)[:300]
    again = _report(client, enterprise_id, site_id, key)  # and once more, impatient
    assert again.status_code == 200 and "该隐患已上报" in again.get_data(as_text=True)
    assert _stored(stores, enterprise_id) == (1, 1)
