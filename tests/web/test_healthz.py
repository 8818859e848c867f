"""/healthz checks the database and Redis for real and names the failing part."""

from __future__ import annotations

import pytest

from app import create_app
from app.extensions import db, redis_client


def test_healthy(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "redis": "ok"}


@pytest.fixture
def restore_extensions(app, settings_overrides):
    yield
    # The extensions are process singletons: point them back at the test services.
    db.init(settings_overrides["DATABASE_URL"])
    redis_client.init(settings_overrides["REDIS_URL"] or None)


@pytest.mark.postgres_only
def test_redis_down_is_named(settings_overrides, restore_extensions):
    broken = create_app({**settings_overrides, "REDIS_URL": "redis://127.0.0.1:1/0"})
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["database"] == "ok" and body["redis"].startswith("error")
    assert body["failing"] == ["redis"]


@pytest.mark.postgres_only
def test_database_down_is_named(settings_overrides, restore_extensions):
    broken = create_app(
        {**settings_overrides, "DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/none"}
    )
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["failing"] == ["database"]
