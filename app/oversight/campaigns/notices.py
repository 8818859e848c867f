"""The notice of a launched special campaign (专项整治), as a kind of the notification outbox:
one to each manager, safety officer and enterprise admin of every target enterprise (at
launch, or when the bureau adds the enterprise later), with the self-check deadline and a
link to the self-check in the console.

Payload (service.launch, service.add_target): campaign_id, campaign_title, enterprise_id,
enterprise_name, deadline (ISO date), at.

It asks the enterprise to act: a template message, never folded into a digest. It shares
the bureau's keyword layout (Family.BULLETIN: 事项 · 企业 · 名称 · 要求/期限 · 时间), so the
bulletins' template serves it."""

from __future__ import annotations

from app.notifications.kinds import Family, Field, Kind, Payload, constant, from_payload, local_date, time_of


def _link(payload: Payload) -> str:
    enterprise_id = int(payload.get("enterprise_id") or 0)
    campaign_id = int(payload.get("campaign_id") or 0)
    return f"/console/enterprises/{enterprise_id}/campaigns/{campaign_id}"


def _deadline(payload: Payload) -> str:
    return local_date(payload.get("deadline")) or "见专项整治通知"


CAMPAIGN_LAUNCHED = "campaign_launched"

KINDS: tuple[Kind, ...] = (
    Kind(
        CAMPAIGN_LAUNCHED,
        "专项整治待自查",
        Family.BULLETIN,
        (
            Field("thing1", "通知事项", constant("专项整治请按期自查")),
            Field("thing2", "企业名称", from_payload("enterprise_name")),
            Field("thing3", "专项名称", from_payload("campaign_title")),
            Field("thing4", "自查截止", _deadline),
            Field("time5", "启动时间", time_of("at")),
        ),
        _link,
        foldable=False,
    ),
)
