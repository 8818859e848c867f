"""Pure rules of a site's life: a site is retired (never deleted: its token, WeChat QR and
check history stay) and may be reactivated. Standard library and app.errors only."""

from __future__ import annotations

from app.errors import InvalidTransition

SITE_NAME_MAX = 64
SITE_AREA_MAX = 128

SITE_STATUS_LABELS = {True: "在用", False: "已停用"}


def check_retire(active: bool) -> None:
    """Raises InvalidTransition unless the site is in use."""
    if not active:
        raise InvalidTransition("该点位已停用，无需再次停用。")


def check_reactivate(active: bool) -> None:
    """Raises InvalidTransition unless the site is retired."""
    if active:
        raise InvalidTransition("该点位正在使用，无需启用。")


def name_taken_message(name: str) -> str:
    return f"“{name}”已有在用的同名点位"
