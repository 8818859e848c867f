"""What a scanned code means: QR scene strings and scan results. Pure; standard library only.

Scenes: `site:<token>` (a site's check QR, enterprises.domain.site_scene) and `bind:<token>`
(an invite, accounts.domain.invite_scene). A menu scan (scancode_*) hands us whatever the
code encoded: one of those scenes, or a printed site QR's URL `…/h5/scan/<token>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from app.accounts.domain import INVITE_SCENE_PREFIX
from app.enterprises.domain import site_scene

SITE_SCENE_PREFIX = site_scene("")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{8,64}")
_SITE_URL = re.compile(r"/h5/scan/([A-Za-z0-9_-]{8,64})(?:[/?#]|$)")


class SceneKind(StrEnum):
    SITE = "site"
    BIND = "bind"


@dataclass(frozen=True)
class Scene:
    kind: SceneKind
    token: str


def parse_scene(value: str | None) -> Scene | None:
    """The scene behind a QR scene string, or None when it is not one of ours."""
    value = (value or "").strip()
    for prefix, kind in ((SITE_SCENE_PREFIX, SceneKind.SITE), (INVITE_SCENE_PREFIX, SceneKind.BIND)):
        if value.startswith(prefix):
            token = value[len(prefix) :]
            return Scene(kind, token) if _TOKEN.fullmatch(token) else None
    return None


def scene_from_scan_result(result: str | None) -> Scene | None:
    """The scene behind a menu scan's ScanResult: a scene string or a site entry URL."""
    result = (result or "").strip()
    scene = parse_scene(result)
    if scene is not None:
        return scene
    match = _SITE_URL.search(result)
    return Scene(SceneKind.SITE, match.group(1)) if match else None
