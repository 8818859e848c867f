"""The QR codes of the sites (QR points): each site's permanent WeChat parametric QR
(scene `site:<token>`, obtained once and stored on the site) and its plain-URL QR, decided
for a set of sites at once for the posters (see app/wechat/qrcodes.py for the WeChat side)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from wechatpy.exceptions import WeChatClientException

from app.enterprises.domain import site_entry_url, site_scene
from app.enterprises.models import Site
from app.wechat.qrcodes import (
    ERRCODE_API_UNAUTHORIZED,
    ERRCODE_PERMANENT_QR_EXHAUSTED,
    QrCodeClient,
    WeChatQrUnavailable,
    errcode_of,
    permanent_qr_request,
)


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
        result = client.qrcode.create(permanent_qr_request(site_scene(locked.token)))
    except WeChatClientException as exc:
        code = errcode_of(exc)
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
