"""QR codes of the sites (QR points): the permanent WeChat parametric QR and the plain-URL QR.

Two kinds of code can lead a worker to a site's check:

- the **WeChat parametric QR** (QR_LIMIT_STR_SCENE, scene `site:<token>`): scanning it
  follows the account if needed and sends a subscribe/SCAN event carrying the scene, so the
  callback can greet the worker and reply with the check link. An account may hold at most
  100 000 permanent codes in its life, so a site's code is obtained once, stored on the
  site, and never re-created (docs/wechat.md §2.2).
- the **plain-URL QR** encoding `{PUBLIC_BASE_URL}/h5/scan/<token>`: opens the H5 check entry
  directly. Always available; the only code when the account may not create parametric
  codes (errcode 48001, or switched off by the operator) or has used up its permanent codes
  (errcode 40053).

WeChat's own QR image encodes exactly the `url` that qrcode/create returns, so both kinds are
drawn locally with the `qrcode` library; no image is downloaded from WeChat.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import qrcode
from PIL import Image
from qrcode.constants import ERROR_CORRECT_Q
from sqlalchemy import select
from sqlalchemy.orm import Session
from wechatpy.exceptions import WeChatClientException

from app.enterprises.domain import site_entry_url, site_scene
from app.enterprises.models import Site

PERMANENT_STR_SCENE = "QR_LIMIT_STR_SCENE"
MAX_SCENE_LENGTH = 64
# errcodes of qrcode/create that mean "no parametric code for this site now" (docs/wechat.md
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


def permanent_qr_request(token: str) -> dict[str, Any]:
    """The qrcode/create body of a site's permanent code. Raises ValueError if the scene
    string is outside WeChat's 1–64 characters."""
    scene = site_scene(token)
    if not 1 <= len(scene) <= MAX_SCENE_LENGTH:
        raise ValueError(f"scene_str must be 1–{MAX_SCENE_LENGTH} characters, got {len(scene)}: {scene!r}")
    return {"action_name": PERMANENT_STR_SCENE, "action_info": {"scene": {"scene_str": scene}}}


def ensure_site_wechat_qr(session: Session, client: QrCodeClient, site: Site, now: datetime) -> bool:
    """Give `site` its permanent WeChat QR unless it already has one; returns True if a code
    was created now (the caller should commit at once: the code has used up quota).

    The site row is locked first, so two concurrent runs cannot both spend a permanent code
    on the same site. Raises WeChatQrUnavailable for 40053 / 48001; any other
    WeChatClientException (and network errors) propagate unchanged.
    """
    if site.wx_qr_url:
        return False  # a stored code never changes, so no lock is needed to reuse it
    locked = session.scalars(
        select(Site).where(Site.id == site.id).with_for_update().execution_options(populate_existing=True)
    ).one()
    if locked.wx_qr_url:
        return False
    try:
        result = client.qrcode.create(permanent_qr_request(locked.token))
    except WeChatClientException as exc:
        code = _errcode(exc)
        if code == ERRCODE_PERMANENT_QR_EXHAUSTED:
            raise WeChatQrUnavailable(
                code, "公众号的永久二维码额度（10 万个）已用完（错误码 40053），无法再生成微信带参数二维码"
            ) from exc
        if code == ERRCODE_API_UNAUTHORIZED:
            raise WeChatQrUnavailable(
                code, "公众号没有生成带参数二维码的接口权限（错误码 48001）"
            ) from exc
        raise
    ticket, url = result.get("ticket"), result.get("url")
    if not ticket or not url:
        raise WeChatClientException(-1, f"qrcode/create returned no ticket/url: {result!r}")
    locked.wx_qr_ticket = ticket
    locked.wx_qr_url = url
    locked.wx_qr_created_at = now
    session.flush()
    return True


@dataclass(frozen=True)
class SiteCodes:
    """What the poster of one site carries: the plain-URL target, and the WeChat QR url when
    the site has one and it may be used."""

    site: Site
    entry_url: str
    wechat_url: str | None = None


@dataclass
class QrPlan:
    """The codes of a set of sites, and what happened while obtaining them."""

    codes: list[SiteCodes] = field(default_factory=list)
    created: int = 0  # permanent codes obtained from WeChat in this run
    reused: int = 0  # stored codes used again (no API call)
    notice: str | None = None  # why some or all posters carry only the plain-URL QR (Chinese)

    @property
    def url_only(self) -> int:
        return sum(1 for code in self.codes if code.wechat_url is None)


def plan_site_codes(
    session: Session,
    sites: Iterable[Site],
    *,
    base_url: str,
    now: datetime,
    client: QrCodeClient | None = None,
    on_created: Callable[[Site], None] | None = None,
) -> QrPlan:
    """Decide each site's codes, obtaining and storing missing permanent WeChat QRs.

    `client=None` means parametric codes are switched off: every site gets the plain-URL QR
    only and WeChat is not called. A stored code is reused, never re-created. On 40053 the
    sites without a stored code fall back to the plain-URL QR (stored codes stay valid); on
    48001 the account may not use parametric codes, so every site gets the plain-URL QR only.
    Either way WeChat is not called again in this run and `QrPlan.notice` says why.
    `on_created(site)` runs right after a code was stored, so the caller can commit it.
    Raises what `ensure_site_wechat_qr` raises for other WeChat errors.
    """
    sites = list(sites)
    plan = QrPlan()
    if client is None:
        plan.codes = [SiteCodes(site, site_entry_url(base_url, site.token)) for site in sites]
        return plan
    unavailable: WeChatQrUnavailable | None = None
    for site in sites:
        if unavailable is not None:
            plan.reused += 1 if site.wx_qr_url else 0
        else:
            try:
                created = ensure_site_wechat_qr(session, client, site, now)
            except WeChatQrUnavailable as exc:
                unavailable = exc
            else:
                if created:
                    plan.created += 1
                    if on_created is not None:
                        on_created(site)
                else:
                    plan.reused += 1
        plan.codes.append(SiteCodes(site, site_entry_url(base_url, site.token), site.wx_qr_url))
    if unavailable is not None:
        if unavailable.errcode == ERRCODE_API_UNAUTHORIZED:
            plan.codes = [SiteCodes(code.site, code.entry_url) for code in plan.codes]
            plan.reused = 0  # stored codes stay on the sites but are not printed this time
        plan.notice = f"{unavailable.message}；{plan.url_only} 个点位的海报只印网址二维码（扫码直接打开排查页面）。"
    return plan


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


def _errcode(exc: WeChatClientException) -> int | None:
    try:
        return int(exc.errcode)
    except (TypeError, ValueError):
        return None


TEMPORARY_STR_SCENE = "QR_STR_SCENE"
# A temporary parametric QR lives at most 30 days (docs/wechat.md §2.2).
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
