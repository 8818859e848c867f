"""Use cases of checklists. Take (session, actor, now, …) — or (session, now, …) for system
jobs and the CLI — flush, never commit.

Load the standard templates from the data file (new versions for changed templates), keep
each enterprise's copy-on-write list current with the templates that apply to it, and let
an enterprise add / reword / disable its own lines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Select, and_, select, update
from sqlalchemy.orm import Session

from app.accounts.domain import Action, Actor, require
from app.database import chunks, insert_ignoring_conflicts
from app.enterprises.domain import Industry, Topic
from app.enterprises.models import Enterprise
from app.enterprises.service import get_enterprise
from app.errors import NotFound, ValidationFailed
from app.hazard_reporting.checklists.domain import (
    ENTERPRISE_CHECKLIST_NAME,
    ChecklistKind,
    ItemOrigin,
    ItemSpec,
    OverrideItem,
    ResolvedItem,
    TemplateSpec,
    check_item_text,
    enterprise_signature,
    next_added_code,
    normalize_levels,
    parse_templates,
    template_applies,
)
from app.hazard_reporting.checklists.models import (
    Checklist,
    ChecklistItem,
    ChecklistVersion,
    ChecklistVersionBase,
)
from app.hazard_reporting.checklists.queries import current_enterprise_items
from app.hazard_reporting.checklists.schemas import ChecklistItemIn
from app.library_load import LoadResult
from app.validation import parse

DATA_FILE = Path(__file__).parent / "data" / "checklists.yaml"


# --- Standard checklists -----------------------------------------------------------------


def read_standard_templates(path: Path | None = None) -> list[TemplateSpec]:
    """Parse and validate the checklist data file. Raises ValueError naming what is wrong."""
    with open(path or DATA_FILE, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    if not isinstance(data, dict):
        raise ValueError("checklist data: expected a mapping with `templates`")
    return parse_templates(data)


def _item_row(item: ItemSpec, position: int, origin: ItemOrigin, enabled: bool = True) -> ChecklistItem:
    return ChecklistItem(
        position=position,
        code=item.code,
        text=item.text,
        category=item.category,
        levels=item.levels,
        on_fail=item.on_fail,
        refs=list(item.refs),
        note=item.note,
        origin=origin,
        enabled=enabled,
    )


def load_standard_checklists(session: Session, now: datetime, path: Path | None = None) -> LoadResult:
    """Store the standard templates of the data file, idempotently.

    A new template is created at version 1; one whose content changed gets the next version
    (old versions stay: tasks refer to them); an unchanged one is left alone; a template no
    longer in the file is retired (inactive, no longer chosen for enterprises). Enterprise
    lists move onto new standard versions at the next `sync_enterprise_checklists`.
    Raises ValueError when the data file is invalid."""
    specs = read_standard_templates(path)
    result = LoadResult()
    existing = {
        c.code: c
        for c in session.scalars(
            select(Checklist)
            .where(Checklist.enterprise_id.is_(None))
            .order_by(Checklist.id)
            .with_for_update()
        )
    }
    for position, spec in enumerate(specs):
        signature = spec.signature()
        checklist = existing.get(spec.code)
        if checklist is None:
            checklist = Checklist(code=spec.code, kind=spec.kind, name=spec.name, version=0, active=True)
            session.add(checklist)
            session.flush()
            result.created.append(spec.code)
        current = session.scalar(
            select(ChecklistVersion.signature).where(
                ChecklistVersion.checklist_id == checklist.id, ChecklistVersion.version == checklist.version
            )
        )
        checklist.position = position
        checklist.active = True
        if current == signature:
            result.unchanged.append(spec.code)
            continue
        if spec.code not in result.created:
            result.updated.append(spec.code)
        checklist.kind = spec.kind
        checklist.name = spec.name
        checklist.applies_industries = sorted(i.value for i in spec.industries)
        checklist.applies_topics = sorted(t.value for t in spec.topics)
        checklist.version += 1
        version = ChecklistVersion(
            checklist_id=checklist.id,
            version=checklist.version,
            signature=signature,
            note="标准清单导入" if checklist.version == 1 else "标准清单更新",
            created_at=now,
        )
        version.items = [_item_row(item, n, ItemOrigin.STANDARD) for n, item in enumerate(spec.items)]
        session.add(version)
    wanted = {spec.code for spec in specs}
    for code, checklist in existing.items():
        if code not in wanted and checklist.active:
            checklist.active = False
            result.retired.append(code or "")
    session.flush()
    return result


@dataclass(frozen=True)
class _StandardRef:
    checklist_id: int
    code: str
    version_id: int
    version: int
    industries: frozenset[Industry]
    topics: frozenset[Topic]


def _current_standards(session: Session, kind: ChecklistKind) -> list[_StandardRef]:
    rows = session.execute(
        select(Checklist, ChecklistVersion.id)
        .join(
            ChecklistVersion,
            and_(
                ChecklistVersion.checklist_id == Checklist.id, ChecklistVersion.version == Checklist.version
            ),
        )
        .where(Checklist.enterprise_id.is_(None), Checklist.kind == kind, Checklist.active.is_(True))
        .order_by(Checklist.position, Checklist.id)
    ).all()
    return [
        _StandardRef(
            checklist_id=c.id,
            code=c.code or "",
            version_id=version_id,
            version=c.version,
            industries=frozenset(Industry(i) for i in c.applies_industries or ()),
            topics=frozenset(Topic(t) for t in c.applies_topics or ()),
        )
        for c, version_id in rows
    ]


def standard_checklist(session: Session, code: str) -> Checklist:
    """The active standard template with this code. Raises NotFound."""
    checklist = session.scalar(
        select(Checklist).where(
            Checklist.code == code, Checklist.enterprise_id.is_(None), Checklist.active.is_(True)
        )
    )
    if checklist is None or checklist.version == 0:
        raise NotFound(f"标准清单 {code} 尚未导入。")
    return checklist


_TOPIC_COLUMNS = [getattr(Enterprise, topic.value) for topic in Topic]


def sync_enterprise_checklists(
    session: Session, now: datetime, enterprise_ids: Iterable[int] | Select[tuple[int]]
) -> int:
    """Make each enterprise's own inspection list build on the standard templates that apply
    to it now (industry + topic flags), at their current versions. Returns how many new
    enterprise versions were written.

    Covers the given enterprises: a list of ids, or a SELECT of ids (task generation passes
    those with an active schedule). A list is created (empty of own lines: copy-on-write) when missing; a list whose bases changed (new
    standard version, a topic flag set or cleared) gets the next version carrying its own
    lines over. Safe to run concurrently: rows are created with ON CONFLICT DO NOTHING, then
    locked in id order and re-checked before a version is written."""
    kind = ChecklistKind.INSPECTION
    standards = _current_standards(session, kind)
    # One pass: each enterprise's industry and flags with its list's current signature.
    query = (
        select(Enterprise.id, Enterprise.industry, ChecklistVersion.signature, *_TOPIC_COLUMNS)
        .outerjoin(Checklist, and_(Checklist.enterprise_id == Enterprise.id, Checklist.kind == kind))
        .outerjoin(
            ChecklistVersion,
            and_(
                ChecklistVersion.checklist_id == Checklist.id, ChecklistVersion.version == Checklist.version
            ),
        )
    )
    if isinstance(enterprise_ids, Select):
        query = query.where(Enterprise.id.in_(enterprise_ids))
    else:
        ids = sorted(set(enterprise_ids))
        if not ids:
            return 0
        query = query.where(Enterprise.id.in_(ids))
    wanted: dict[int, list[int]] = {}
    stale: list[int] = []
    for row in session.execute(query.order_by(Enterprise.id)):
        flags = frozenset(topic for topic, flag in zip(Topic, row[3:], strict=True) if flag)
        bases = [
            s.version_id
            for s in standards
            if template_applies(s.industries, s.topics, Industry(row.industry), flags)
        ]
        wanted[row.id] = bases
        if row.signature != enterprise_signature(bases):
            stale.append(row.id)
    if not stale:
        return 0
    session.execute(
        insert_ignoring_conflicts(session, Checklist).on_conflict_do_nothing(
            index_elements=["enterprise_id", "kind"]
        ),
        [
            {
                "enterprise_id": eid,
                "kind": kind,
                "name": ENTERPRISE_CHECKLIST_NAME[kind],
                "applies_industries": [],
                "applies_topics": [],
                "position": 0,
                "version": 0,
                "active": True,
            }
            for eid in stale
        ],
    )
    written = 0
    for chunk in chunks(stale):
        # Lock in a fixed order so concurrent generators never deadlock; re-check under lock.
        locked = session.execute(
            select(Checklist.id, Checklist.enterprise_id, Checklist.version)
            .where(Checklist.enterprise_id.in_(chunk), Checklist.kind == kind)
            .order_by(Checklist.enterprise_id)
            .with_for_update()
        ).all()
        signatures = _enterprise_signatures(session, [r.enterprise_id for r in locked], kind)
        bumps = [
            (r.id, r.version, wanted[r.enterprise_id])
            for r in locked
            if signatures.get(r.enterprise_id) != enterprise_signature(wanted[r.enterprise_id])
        ]
        written += _write_enterprise_versions(session, now, bumps, note="随标准清单或企业专项标签更新")
    return written


def _enterprise_signatures(
    session: Session, enterprise_ids: Sequence[int], kind: ChecklistKind
) -> dict[int, str | None]:
    """enterprise id → signature of its current list version (None: no list or no version)."""
    found: dict[int, str | None] = dict.fromkeys(enterprise_ids)
    for chunk in chunks(list(enterprise_ids)):
        rows = session.execute(
            select(Checklist.enterprise_id, ChecklistVersion.signature)
            .join(
                ChecklistVersion,
                and_(
                    ChecklistVersion.checklist_id == Checklist.id,
                    ChecklistVersion.version == Checklist.version,
                ),
            )
            .where(Checklist.enterprise_id.in_(chunk), Checklist.kind == kind)
        )
        found.update({eid: sig for eid, sig in rows})
    return found


def _write_enterprise_versions(
    session: Session, now: datetime, bumps: Sequence[tuple[int, int, list[int]]], note: str
) -> int:
    """Write version n+1 of each (checklist id, n, base version ids), carrying the own
    lines of version n over. The caller holds the checklist rows locked."""
    if not bumps:
        return 0
    new_ids = session.execute(
        ChecklistVersion.__table__.insert().returning(
            ChecklistVersion.id, ChecklistVersion.checklist_id, sort_by_parameter_order=True
        ),
        [
            {
                "checklist_id": checklist_id,
                "version": version + 1,
                "signature": enterprise_signature(bases),
                "note": note,
                "created_at": now,
            }
            for checklist_id, version, bases in bumps
        ],
    ).all()
    new_by_checklist = {checklist_id: version_id for version_id, checklist_id in new_ids}
    base_rows = [
        {"version_id": new_by_checklist[checklist_id], "base_version_id": base_id, "position": n}
        for checklist_id, _version, bases in bumps
        for n, base_id in enumerate(bases)
    ]
    if base_rows:
        session.execute(ChecklistVersionBase.__table__.insert(), base_rows)
    # Carry each list's own lines (rewordings, disabled and added items) to the new version.
    previous = {checklist_id: version for checklist_id, version, _ in bumps if version > 0}
    old_ids = {
        version_id: checklist_id
        for chunk in chunks(list(previous))
        for version_id, checklist_id, version in session.execute(
            select(ChecklistVersion.id, ChecklistVersion.checklist_id, ChecklistVersion.version).where(
                ChecklistVersion.checklist_id.in_(chunk)
            )
        )
        if previous[checklist_id] == version
    }
    for chunk in chunks(list(old_ids)):
        for line in session.scalars(select(ChecklistItem).where(ChecklistItem.version_id.in_(chunk))):
            session.add(
                ChecklistItem(
                    version_id=new_by_checklist[old_ids[line.version_id]],
                    position=line.position,
                    code=line.code,
                    text=line.text,
                    category=line.category,
                    levels=line.levels,
                    on_fail=line.on_fail,
                    refs=list(line.refs or ()),
                    note=line.note,
                    origin=line.origin,
                    enabled=line.enabled,
                )
            )
    session.execute(
        update(Checklist)
        .where(Checklist.id.in_([checklist_id for checklist_id, _, _ in bumps]))
        .values(version=Checklist.version + 1)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    # Rows loaded earlier in this session must not keep the old version number.
    for checklist in session.identity_map.values():
        if isinstance(checklist, Checklist) and checklist.id in new_by_checklist:
            session.expire(checklist, ["version"])
    return len(bumps)


def _edit_own_list(
    session: Session,
    actor: Actor,
    now: datetime,
    enterprise_id: int,
    note: str,
    change: Callable[[list[OverrideItem], list[ResolvedItem]], list[OverrideItem]],
) -> ChecklistVersion:
    """Copy-on-write edit of an enterprise's inspection list: the next version holds the
    changed own lines; the standard templates are never touched."""
    enterprise = get_enterprise(session, actor, enterprise_id)
    require(actor, Action.MANAGE_STRUCTURE, enterprise.ref)
    sync_enterprise_checklists(session, now, [enterprise.id])
    checklist = session.scalar(
        select(Checklist)
        .where(Checklist.enterprise_id == enterprise.id, Checklist.kind == ChecklistKind.INSPECTION)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if checklist is None:  # pragma: no cover - sync just created it
        raise NotFound("本企业排查清单不存在。")
    current = session.scalar(
        select(ChecklistVersion).where(
            ChecklistVersion.checklist_id == checklist.id, ChecklistVersion.version == checklist.version
        )
    )
    own = [
        OverrideItem(
            ItemSpec(i.code, i.text, i.category, i.levels, i.on_fail, tuple(i.refs or ()), i.note),
            i.origin,
            i.enabled,
        )
        for i in current.items
    ]
    _, resolved = current_enterprise_items(session, enterprise.id)
    new_own = change(own, resolved)
    bases = session.scalars(
        select(ChecklistVersionBase.base_version_id)
        .where(ChecklistVersionBase.version_id == current.id)
        .order_by(ChecklistVersionBase.position)
    ).all()
    checklist.version += 1
    version = ChecklistVersion(
        checklist_id=checklist.id,
        version=checklist.version,
        signature=current.signature,
        note=note[:256],
        created_by_id=actor.user_id,
        created_at=now,
    )
    version.items = [_item_row(o.item, n, o.origin, o.enabled) for n, o in enumerate(new_own)]
    session.add(version)
    session.flush()
    session.add_all(
        ChecklistVersionBase(version_id=version.id, base_version_id=base_id, position=n)
        for n, base_id in enumerate(bases)
    )
    session.flush()
    return version


def _find_line(resolved: list[ResolvedItem], code: str) -> ResolvedItem:
    for line in resolved:
        if line.item.code == code:
            return line
    raise NotFound(f"本企业排查清单中没有条目 {code}。")


def _replace_own(own: list[OverrideItem], new: OverrideItem) -> list[OverrideItem]:
    kept = [o for o in own if o.item.code != new.item.code]
    position = next((n for n, o in enumerate(own) if o.item.code == new.item.code), len(kept))
    return kept[:position] + [new] + kept[position:]


def add_checklist_item(
    session: Session, actor: Actor, now: datetime, enterprise_id: int, data: Any
) -> ChecklistVersion:
    """Add an item of the enterprise's own (coded ENT-nn) to its list; returns the new
    version. Raises NotFound, PermissionDenied, ValidationFailed."""
    payload = parse(ChecklistItemIn, data)
    text = check_item_text(payload.text)

    def change(own: list[OverrideItem], resolved: list[ResolvedItem]) -> list[OverrideItem]:
        code = next_added_code([o.item.code for o in own])
        item = ItemSpec(
            code, text, payload.category, normalize_levels(payload.levels), payload.on_fail, (), payload.note
        )
        return [*own, OverrideItem(item, ItemOrigin.ADDED, True)]

    return _edit_own_list(session, actor, now, enterprise_id, f"新增条目：{text[:60]}", change)


def reword_checklist_item(
    session: Session, actor: Actor, now: datetime, enterprise_id: int, code: str, text: str
) -> ChecklistVersion:
    """Reword one line of the enterprise's list (its own copy of a standard item, or its
    own item); category, levels and on_fail stay. Raises NotFound, PermissionDenied,
    ValidationFailed."""
    new_text = check_item_text(text)

    def change(own: list[OverrideItem], resolved: list[ResolvedItem]) -> list[OverrideItem]:
        line = _find_line(resolved, code)
        item = ItemSpec(
            line.item.code,
            new_text,
            line.item.category,
            line.item.levels,
            line.item.on_fail,
            line.item.refs,
            line.item.note,
        )
        origin = ItemOrigin.ADDED if line.origin is ItemOrigin.ADDED else ItemOrigin.OVERRIDE
        return _replace_own(own, OverrideItem(item, origin, line.enabled))

    return _edit_own_list(session, actor, now, enterprise_id, f"修改条目 {code} 表述", change)


def set_checklist_item_enabled(
    session: Session,
    actor: Actor,
    now: datetime,
    enterprise_id: int,
    code: str,
    enabled: bool,
    reason: str = "",
) -> ChecklistVersion:
    """Disable (with a reason) or re-enable one line of the enterprise's list. Raises
    NotFound, PermissionDenied, ValidationFailed (no reason given for disabling)."""
    why = (reason or "").strip()
    if not enabled and not why:
        raise ValidationFailed.for_field("reason", "停用条目须说明原因（如：本企业不涉及）")

    def change(own: list[OverrideItem], resolved: list[ResolvedItem]) -> list[OverrideItem]:
        line = _find_line(resolved, code)
        origin = ItemOrigin.ADDED if line.origin is ItemOrigin.ADDED else ItemOrigin.OVERRIDE
        return _replace_own(own, OverrideItem(line.item, origin, enabled))

    note = f"停用条目 {code}：{why}" if not enabled else f"启用条目 {code}"
    return _edit_own_list(session, actor, now, enterprise_id, note, change)
