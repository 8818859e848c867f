"""Read side of checklists: the lines of a checklist version (an enterprise version resolved
over its standard bases) and an enterprise's current list."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.hazard_reporting.checklists.domain import (
    ChecklistKind,
    ItemSpec,
    OverrideItem,
    ResolvedItem,
    resolve_items,
)
from app.hazard_reporting.checklists.models import (
    Checklist,
    ChecklistItem,
    ChecklistVersion,
    ChecklistVersionBase,
)


def item_spec(row: ChecklistItem) -> ItemSpec:
    return ItemSpec(
        code=row.code,
        text=row.text,
        category=row.category,
        levels=row.levels,
        on_fail=row.on_fail,
        refs=tuple(row.refs or ()),
        note=row.note,
    )


def version_items(session: Session, checklist_id: int, version: int) -> list[ResolvedItem]:
    """Every line of a checklist version, disabled ones included (marked), in order.

    A standard version lists its own items; an enterprise version resolves its bases with
    its own lines applied (copy-on-write, see domain.resolve_items)."""
    row = session.scalar(
        select(ChecklistVersion).where(
            ChecklistVersion.checklist_id == checklist_id, ChecklistVersion.version == version
        )
    )
    if row is None:
        return []
    checklist = session.get(Checklist, checklist_id)
    own = session.scalars(
        select(ChecklistItem).where(ChecklistItem.version_id == row.id).order_by(ChecklistItem.position)
    ).all()
    if checklist is not None and checklist.enterprise_id is None:
        return [ResolvedItem(item_spec(i), checklist.code or "", i.origin, i.enabled) for i in own]
    bases = session.execute(
        select(ChecklistVersionBase.base_version_id, Checklist.code)
        .join(ChecklistVersion, ChecklistVersion.id == ChecklistVersionBase.base_version_id)
        .join(Checklist, Checklist.id == ChecklistVersion.checklist_id)
        .where(ChecklistVersionBase.version_id == row.id)
        .order_by(ChecklistVersionBase.position)
    ).all()
    base_items: dict[int, list[ItemSpec]] = {base_id: [] for base_id, _ in bases}
    if base_items:
        for item in session.scalars(
            select(ChecklistItem)
            .where(ChecklistItem.version_id.in_(base_items))
            .order_by(ChecklistItem.version_id, ChecklistItem.position)
        ):
            base_items[item.version_id].append(item_spec(item))
    overrides = [OverrideItem(item_spec(i), i.origin, i.enabled) for i in own]
    return resolve_items([(code or "", base_items[base_id]) for base_id, code in bases], overrides)


def current_enterprise_items(
    session: Session, enterprise_id: int, kind: ChecklistKind = ChecklistKind.INSPECTION
) -> tuple[Checklist | None, list[ResolvedItem]]:
    """The enterprise's own list and its current lines (None, [] before it has one)."""
    checklist = session.scalar(
        select(Checklist).where(Checklist.enterprise_id == enterprise_id, Checklist.kind == kind)
    )
    if checklist is None or checklist.version == 0:
        return checklist, []
    return checklist, version_items(session, checklist.id, checklist.version)
