"""GET /healthz: checks the database and Redis for real (CONTRACT.md)."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify, redirect, url_for

from app.extensions import db, redis_client

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz():
    result = {"status": "ok", "database": "ok", "redis": "ok"}
    try:
        # A raw DBAPI round trip: no SQLAlchemy transaction, so on SQLite the probe never
        # queues behind a writer for the write lock (transactions there BEGIN IMMEDIATE).
        raw = db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("SELECT 1")
            cursor.fetchall()
            cursor.close()
        finally:
            raw.close()
    except Exception as exc:  # any driver error means "not healthy", never a 500
        log.warning("healthz: database failed: %s", exc)
        result["database"] = f"error: {type(exc).__name__}"
    try:
        redis_client().ping()
    except Exception as exc:
        log.warning("healthz: redis failed: %s", exc)
        result["redis"] = f"error: {type(exc).__name__}"
    failing = [part for part in ("database", "redis") if result[part] != "ok"]
    if failing:
        result["status"] = "error"
        result["failing"] = failing
        return jsonify(result), 503
    return jsonify(result), 200


@bp.get("/")
def index():
    return redirect(url_for("enterprises.console_home"))
