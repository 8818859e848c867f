"""Fixtures the web tests share."""

from __future__ import annotations

import pytest


@pytest.fixture
def settings(app):
    """The running app's settings (what a request sees)."""
    return app.config["SETTINGS"]
