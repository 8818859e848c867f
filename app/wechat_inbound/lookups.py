"""What a scan needs to know, from the process-local cache (app/cache.py) when it can be.

A SCAN reply depends on the site behind the token (active, name, enterprise and its name)
and on the scanner's standing (bound user, active, member of that enterprise). Those rows
change rarely and are read on every scan, so they are cached per process under the
generation the process last saw, which the callback's dedup offer then checks (a reply
read under a generation that has moved is never stored or sent); the attributes below are
the ones whose change moves the generation.
"""

from __future__ import annotations

from app.accounts import queries as account_queries
from app.accounts.models import Membership, User
from app.cache import LocalCache, can_cache_from, watch
from app.enterprises.models import Enterprise, Site
from app.enterprises.queries import ScannedSite, scanned_site
from app.errors import NotFound
from app.wechat_inbound.router import HandlerContext

watch(Site, "token", "name", "active", "enterprise_id")
watch(Enterprise, "name")
watch(User, "openid", "is_active")
watch(Membership, "user_id", "enterprise_id", "active")

_sites: LocalCache[ScannedSite | str] = LocalCache()
_standings: LocalCache[tuple[int | None, bool, bool]] = LocalCache()


def site_for_scan(ctx: HandlerContext, token: str) -> ScannedSite:
    """The active site behind `token` (see enterprises.queries.scanned_site).
    Raises NotFound with the same messages for an unknown token or a retired site."""

    def load() -> ScannedSite | str:
        try:
            return scanned_site(ctx.session, token)
        except NotFound as exc:
            return exc.message  # cached too: a mistyped or retired poster is scanned again and again

    site = _sites.get(ctx.generation, token, load, keep=lambda: _cacheable(ctx))
    if isinstance(site, str):
        raise NotFound(site)
    return site


def scanner_standing(ctx: HandlerContext, enterprise_id: int) -> tuple[int | None, bool, bool]:
    """(user id, active, member of `enterprise_id`) of the sender, as
    accounts.queries.scanner_standing."""
    return _standings.get(
        ctx.generation,
        (ctx.openid, enterprise_id),
        lambda: account_queries.scanner_standing(ctx.session, ctx.openid, enterprise_id),
        keep=lambda: _cacheable(ctx),
    )


def _cacheable(ctx: HandlerContext) -> bool:
    # Without a generation there is nothing to keep the cache true by (callers outside
    # the callback, or tests that build a context by hand): read through.
    return ctx.generation is not None and can_cache_from(ctx.session)
