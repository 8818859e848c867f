"""WeChat QR codes: the permanent parametric QR of a scene (requested once, kept by the
caller), temporary QRs (cached in Redis), and drawing any QR payload as an image. The sites'
codes that use them are app/enterprises/site_codes.py.

Two kinds of code can lead a worker to a site's check:

- the **WeChat parametric QR** (QR_LIMIT_STR_SCENE, scene `site:<token>`): scanning it
  follows the account if needed and sends a subscribe/SCAN event carrying the scene, so the
  callback can greet the worker and reply with the check link. An account may hold at most
  100 000 permanent codes in its life, so a site's code is obtained once, stored on the
  site, and never re-created (docs/WECHAT.md §2.2).
- the **plain-URL QR** encoding `{PUBLIC_BASE_URL}/h5/scan/<token>`: opens the H5 check entry
  directly. Always available; the only code when the account may not create parametric
  codes (errcode 48001, or switched off by the operator) or has used up its permanent codes
  (errcode 40053).

WeChat's own QR image encodes exactly the `url` that qrcode/create returns, so both kinds are
drawn locally with the `qrcode` library; no image is downloaded from WeChat.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

import qrcode
from PIL import Image
from qrcode.constants import ERROR_CORRECT_Q
from wechatpy.exceptions import WeChatClientException

PERMANENT_STR_SCENE = "QR_LIMIT_STR_SCENE"
MAX_SCENE_LENGTH = 64
# errcodes of qrcode/create that mean "no parametric code for this site now" (docs/WECHAT.md
# §2.2, §2.12): 40053 — the account's 100 000 permanent codes are used up; 48001 — the
# account has no permission for the API (e.g. an uncertified or subscription account).
ERRCODE_PERMANENT_QR_EXHAUSTED = 40053
ERRCODE_API_UNAUTHORIZED = 48001
# Quiet zone the QR standard requires around the symbol, in modules.
QUIET_ZONE_MODULES = 4


class QrCodeClient(Protocol):
    """What this module needs from a wechatpy `WeChatClient`: its `qrcode` sub-API."""

    @property
    def qrcode(self) -> Any: ...


class WeChatQrUnavailable(Exception):
    """WeChat will not issue a parametric QR (errcode 40053 or 48001); `message` says why in
    Chinese for the operator."""

    def __init__(self, errcode: int, message: str):
        super().__init__(message)
        self.errcode = errcode
        self.message = message


def permanent_qr_request(scene: str) -> dict[str, Any]:
    """The qrcode/create body of a permanent code carrying `scene`. Raises ValueError if the
    scene string is outside WeChat's 1–64 characters."""
    if not 1 <= len(scene) <= MAX_SCENE_LENGTH:
        raise ValueError(f"scene_str must be 1–{MAX_SCENE_LENGTH} characters, got {len(scene)}: {scene!r}")
    return {"action_name": PERMANENT_STR_SCENE, "action_info": {"scene": {"scene_str": scene}}}


def render_qr(payload: str, max_size: int) -> Image.Image:
    """A QR symbol of `payload`, quiet zone included, as a 1-bit image no larger than
    `max_size` pixels square, with every module the same whole number of pixels (so print
    and scan stay sharp). Error correction Q (25 %): posters hang in dusty, oily workshops.
    Raises ValueError if `max_size` cannot give each module at least one pixel."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_Q, border=QUIET_ZONE_MODULES)
    code.add_data(payload)
    code.make(fit=True)
    matrix = code.get_matrix()
    modules = len(matrix)
    module_px = max_size // modules
    if module_px < 1:
        raise ValueError(f"{max_size}px is too small for a {modules}-module QR code")
    symbol = Image.new("1", (modules, modules), 1)
    symbol.putdata([0 if dark else 1 for row in matrix for dark in row])
    return symbol.resize((modules * module_px, modules * module_px), Image.Resampling.NEAREST)


def errcode_of(exc: WeChatClientException) -> int | None:
    """The errcode of a WeChat API failure as an int; None for a transport failure."""
    try:
        return int(exc.errcode)
    except (TypeError, ValueError):
        return None


TEMPORARY_STR_SCENE = "QR_STR_SCENE"
# A temporary parametric QR lives at most 30 days (docs/WECHAT.md §2.2).
MAX_TEMPORARY_SECONDS = 2_592_000


def temporary_qr_url(client: QrCodeClient, redis: Any, scene: str, expires_at: datetime, now: datetime) -> str:
    """WeChat's URL of a temporary parametric QR for `scene`, valid until `expires_at`.

    The URL is cached in Redis until then, so showing the same invite again does not ask
    WeChat for another ticket. Raises ValueError for a scene WeChat would refuse or an
    instant already past; WeChatClientException when WeChat refuses.
    """
    if not 1 <= len(scene) <= MAX_SCENE_LENGTH:
        raise ValueError(f"QR scene must be 1–{MAX_SCENE_LENGTH} characters: {scene!r}")
    seconds = min(int((expires_at - now).total_seconds()), MAX_TEMPORARY_SECONDS)
    if seconds <= 0:
        raise ValueError("the QR would already be expired")
    key = f"qr:temporary:{scene}"
    cached = redis.get(key)
    if cached:
        return cached.decode() if isinstance(cached, bytes) else cached
    result = client.qrcode.create(
        {
            "expire_seconds": seconds,
            "action_name": TEMPORARY_STR_SCENE,
            "action_info": {"scene": {"scene_str": scene}},
        }
    )
    redis.set(key, result["url"], ex=seconds)
    # The menu's scanner reports the QR's URL, not its scene: keep the way back.
    redis.set(temporary_qr_scene_key(result["url"]), scene, ex=seconds)
    return result["url"]


def temporary_qr_scene_key(url: str) -> str:
    return f"qr:scene-of:{url}"


def scene_of_temporary_qr(redis: Any, url: str) -> str | None:
    """The scene of a temporary QR this service issued, from its URL (None when unknown or expired)."""
    scene = redis.get(temporary_qr_scene_key(url))
    return scene.decode() if isinstance(scene, bytes) else scene
