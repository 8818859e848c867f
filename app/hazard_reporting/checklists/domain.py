"""Pure rules of checklists (隐患排查标准清单). Standard library and other domain modules only.

- The standard templates: parsing and validating the data file, content signatures.
- Which templates apply to an enterprise (industry and topic flags).
- An enterprise's copy-on-write list: resolving its own lines over the standard items,
  item text limits, the codes of added items.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from app.enterprises.domain import INDUSTRY_LABELS, TOPIC_LABELS, Industry, Topic
from app.errors import ValidationFailed


class ChecklistKind(StrEnum):
    INSPECTION = "inspection"  # 隐患排查清单: used by the scheduled checks
    WORK_CONFIRMATION = "work_confirmation"  # 作业条件确认: signed before each confined-space job


CHECKLIST_KIND_LABELS = {
    ChecklistKind.INSPECTION: "隐患排查清单",
    ChecklistKind.WORK_CONFIRMATION: "作业条件确认单",
}


class ItemCategory(StrEnum):
    SITE = "SITE"  # 场所环境
    EQUIP = "EQUIP"  # 设备设施
    BEHAV = "BEHAV"  # 作业行为
    MGMT = "MGMT"  # 基础管理
    EMERG = "EMERG"  # 应急


ITEM_CATEGORY_LABELS = {
    ItemCategory.SITE: "场所环境",
    ItemCategory.EQUIP: "设备设施",
    ItemCategory.BEHAV: "作业行为",
    ItemCategory.MGMT: "基础管理",
    ItemCategory.EMERG: "应急管理",
}


class OnFail(StrEnum):
    """The hazard level a failed item suggests (docs/DOMAIN.md §8)."""

    GENERAL = "general"  # 一般隐患: fixed the same day (不过夜)
    MAJOR = "major"  # matches a major-hazard criterion: 五到位 workflow
    REVIEW = "review"  # a safety officer decides; general until escalated


class ItemOrigin(StrEnum):
    STANDARD = "standard"  # an item of a standard template
    OVERRIDE = "override"  # an enterprise's reworded or disabled copy of a standard item
    ADDED = "added"  # an item the enterprise added to its own list


# D 班组日排查, W 部门周排查, M 经理月排查.
ITEM_LEVELS = ("D", "W", "M")
# An enterprise's own items are coded ENT-01, ENT-02, … (never clashing with template prefixes).
ADDED_ITEM_PREFIX = "ENT-"
MAX_ITEM_TEXT = 200
ENTERPRISE_CHECKLIST_NAME = {
    ChecklistKind.INSPECTION: "本企业隐患排查标准清单",
    ChecklistKind.WORK_CONFIRMATION: "本企业作业条件确认单",
}

_INDUSTRY_BY_LABEL = {label: industry for industry, label in INDUSTRY_LABELS.items()}
_TOPIC_BY_LABEL = {label: topic for topic, label in TOPIC_LABELS.items()}


@dataclass(frozen=True)
class ItemSpec:
    """One line of a checklist."""

    code: str
    text: str
    category: ItemCategory
    levels: str  # subset of "DWM" in that order; "" for confirmation items
    on_fail: OnFail
    refs: tuple[str, ...] = ()
    note: str = ""

    def at_level(self, level: str) -> bool:
        return level in self.levels


@dataclass(frozen=True)
class TemplateSpec:
    """A standard template as the data file states it."""

    code: str
    name: str
    kind: ChecklistKind
    industries: frozenset[Industry]
    topics: frozenset[Topic]
    items: tuple[ItemSpec, ...]

    def signature(self) -> str:
        """A content hash: a template whose hash changed needs a new version."""
        return content_signature(
            {
                "code": self.code,
                "name": self.name,
                "kind": self.kind.value,
                "industries": sorted(i.value for i in self.industries),
                "topics": sorted(t.value for t in self.topics),
                "items": [_item_dict(i) for i in self.items],
            }
        )


def _item_dict(item: ItemSpec) -> dict[str, Any]:
    return {
        "code": item.code,
        "text": item.text,
        "category": item.category.value,
        "levels": item.levels,
        "on_fail": item.on_fail.value,
        "refs": list(item.refs),
        "note": item.note,
    }


def content_signature(payload: Any) -> str:
    """SHA-256 of the canonical JSON of `payload` (64 hex characters)."""
    canonical = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def normalize_levels(levels: Iterable[str]) -> str:
    """Levels as a string in D, W, M order. Raises ValueError on an unknown level."""
    chosen = set(levels)
    unknown = chosen - set(ITEM_LEVELS)
    if unknown:
        raise ValueError(f"unknown level(s) {sorted(unknown)}; use D, W, M")
    return "".join(level for level in ITEM_LEVELS if level in chosen)


def parse_templates(data: Mapping[str, Any]) -> list[TemplateSpec]:
    """Validate the checklist data file (already parsed) into specs.

    Raises ValueError naming the template/item at fault: unknown industry/topic/category/
    level/on_fail, a missing field, or a duplicate template or item code (item codes are
    unique across all templates, so an item is identified by its code alone)."""
    templates = data.get("templates")
    if not isinstance(templates, list) or not templates:
        raise ValueError("checklist data: `templates` must be a non-empty list")
    specs: list[TemplateSpec] = []
    seen_templates: set[str] = set()
    seen_items: set[str] = set()
    for raw in templates:
        code = str(raw.get("code", "")).strip()
        where = f"template {code or '?'}"
        if not code or code in seen_templates:
            raise ValueError(f"{where}: missing or duplicate template code")
        seen_templates.add(code)
        name = str(raw.get("name", "")).strip()
        if not name:
            raise ValueError(f"{where}: missing name")
        try:
            kind = ChecklistKind(raw.get("kind", ChecklistKind.INSPECTION.value))
        except ValueError:
            raise ValueError(f"{where}: unknown kind {raw.get('kind')!r}") from None
        applies = raw.get("applies_to") or {}
        try:
            industries = frozenset(_INDUSTRY_BY_LABEL[label] for label in applies.get("industries", []))
            topics = frozenset(_TOPIC_BY_LABEL[label] for label in applies.get("topics", []))
        except KeyError as exc:
            raise ValueError(f"{where}: unknown industry or topic {exc.args[0]!r}") from None
        if not industries and not topics:
            raise ValueError(f"{where}: applies_to names no industry and no topic")
        items: list[ItemSpec] = []
        for raw_item in raw.get("items") or []:
            item = _parse_item(raw_item, where)
            if item.code in seen_items:
                raise ValueError(f"{where}: duplicate item code {item.code}")
            if kind is ChecklistKind.INSPECTION and not item.levels:
                raise ValueError(f"{where}: item {item.code} has no level")
            seen_items.add(item.code)
            items.append(item)
        if not items:
            raise ValueError(f"{where}: no items")
        specs.append(TemplateSpec(code, name, kind, industries, topics, tuple(items)))
    return specs


def _parse_item(raw: Mapping[str, Any], where: str) -> ItemSpec:
    code = str(raw.get("code", "")).strip()
    text = str(raw.get("text", "")).strip()
    if not code or not text:
        raise ValueError(f"{where}: an item lacks code or text")
    try:
        return ItemSpec(
            code=code,
            text=text,
            category=ItemCategory(raw["category"]),
            levels=normalize_levels(raw.get("levels") or []),
            on_fail=OnFail(raw["on_fail"]),
            refs=tuple(str(r) for r in raw.get("ref") or ()),
            note=str(raw.get("note") or ""),
        )
    except (KeyError, ValueError) as exc:
        raise ValueError(f"{where}: item {code}: {exc}") from None


def template_applies(
    industries: frozenset[Industry], topics: frozenset[Topic], industry: Industry, flags: frozenset[Topic]
) -> bool:
    """Does a template with these `applies_to` lists apply to an enterprise?

    Industries only: the enterprise's industry must be listed. Topics only: the enterprise
    must carry one of the topic flags. Both (GAS, MM): both conditions — the major-hazard
    criteria those templates cite are industry articles (行业类, "仅适用于对应行业"), so a
    topic flag outside those industries does not make them apply."""
    industry_ok = not industries or industry in industries
    topic_ok = not topics or bool(topics & flags)
    return industry_ok and topic_ok


def select_templates(
    templates: Sequence[TemplateSpec],
    industry: Industry,
    flags: frozenset[Topic],
    kind: ChecklistKind = ChecklistKind.INSPECTION,
) -> list[TemplateSpec]:
    """The standard templates of `kind` that apply to an enterprise, in data-file order."""
    return [
        t for t in templates if t.kind is kind and template_applies(t.industries, t.topics, industry, flags)
    ]


@dataclass(frozen=True)
class OverrideItem:
    """An enterprise's own line: a reworded/disabled copy of a standard item, or an added one."""

    item: ItemSpec
    origin: ItemOrigin
    enabled: bool = True


@dataclass(frozen=True)
class ResolvedItem:
    """A line of an enterprise's effective list."""

    item: ItemSpec
    template_code: str  # the standard template it comes from; "" for the enterprise's own
    origin: ItemOrigin
    enabled: bool


def resolve_items(
    bases: Sequence[tuple[str, Sequence[ItemSpec]]], overrides: Sequence[OverrideItem]
) -> list[ResolvedItem]:
    """The effective list: each base template's items in order, an enterprise override
    replacing the standard item of the same code, then the enterprise's added items.

    Overrides of items no base contains any more (a topic flag was dropped) are ignored."""
    by_code = {o.item.code: o for o in overrides}
    resolved: list[ResolvedItem] = []
    for template_code, items in bases:
        for item in items:
            override = by_code.get(item.code)
            if override is None:
                resolved.append(ResolvedItem(item, template_code, ItemOrigin.STANDARD, True))
            else:
                resolved.append(ResolvedItem(override.item, template_code, override.origin, override.enabled))
    resolved.extend(
        ResolvedItem(o.item, "", ItemOrigin.ADDED, o.enabled)
        for o in overrides
        if o.origin is ItemOrigin.ADDED
    )
    return resolved


def check_item_text(text: str, field_name: str = "text") -> str:
    """An item's text: 1–200 characters after trimming. Raises ValidationFailed."""
    cleaned = (text or "").strip()
    if not cleaned:
        raise ValidationFailed.for_field(field_name, "不能为空")
    if len(cleaned) > MAX_ITEM_TEXT:
        raise ValidationFailed.for_field(field_name, f"不能超过 {MAX_ITEM_TEXT} 个字符")
    return cleaned


def next_added_code(existing_codes: Iterable[str]) -> str:
    """The next free ENT-nn code (numbers are never reused, so history stays unambiguous)."""
    numbers = [
        int(code.removeprefix(ADDED_ITEM_PREFIX))
        for code in existing_codes
        if code.startswith(ADDED_ITEM_PREFIX) and code.removeprefix(ADDED_ITEM_PREFIX).isdigit()
    ]
    return f"{ADDED_ITEM_PREFIX}{max(numbers, default=0) + 1:02d}"


def enterprise_signature(base_version_ids: Iterable[int]) -> str:
    """What an enterprise list is built on; a changed signature means a new version."""
    return content_signature({"bases": sorted(base_version_ids)})
