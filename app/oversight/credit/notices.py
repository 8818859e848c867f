"""The notices of the credit list, as kinds of the notification outbox: when an enterprise is
listed or delisted, each of its active managers (主要负责人) and enterprise admins hears of it.

Payload (service.list_enterprise / service.delist): record_id, enterprise_id,
enterprise_name, list_name (重点关注名单 | 严重失信主体名单), reason (the listing's reason, or
the delisting's), day (ISO date: listed_on or delisted_on), at.

They share the bulletin family's keyword keys (事项 · 企业 · 名单 · 事由 · 时间): a listing is
the bureau's word to the enterprise as a bulletin is, so one template serves both. The link
opens the enterprise's 一企一档 at its credit section, which its manager and admin may read."""

from __future__ import annotations

from app.notifications.kinds import Family, Field, Kind, Payload, from_payload, local_date

CREDIT_LISTED = "credit_listed"
CREDIT_DELISTED = "credit_delisted"


def _link(payload: Payload) -> str:
    return f"/console/enterprises/{int(payload.get('enterprise_id') or 0)}/dossier#credit"


def _day(payload: Payload) -> str:
    return local_date(payload.get("day")) or "—"


KINDS: tuple[Kind, ...] = (
    Kind(
        CREDIT_LISTED,
        "贵企业已被列入失信名单",
        Family.BULLETIN,
        (
            Field("thing1", "通知事项", lambda p: f"贵企业已被列入{p.get('list_name') or '名单'}"),
            Field("thing2", "企业名称", from_payload("enterprise_name")),
            Field("thing3", "名单", from_payload("list_name")),
            Field("thing4", "列入事由", from_payload("reason")),
            Field("time5", "列入日期", _day),
        ),
        _link,
        foldable=False,
    ),
    Kind(
        CREDIT_DELISTED,
        "贵企业已被移出失信名单",
        Family.BULLETIN,
        (
            Field("thing1", "通知事项", lambda p: f"贵企业已被移出{p.get('list_name') or '名单'}"),
            Field("thing2", "企业名称", from_payload("enterprise_name")),
            Field("thing3", "名单", from_payload("list_name")),
            Field("thing4", "移出理由", from_payload("reason")),
            Field("time5", "移出日期", _day),
        ),
        _link,
        foldable=False,
    ),
)
