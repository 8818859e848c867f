"""Standard checklists: the data file, choosing lists by industry and topics, and resolving
an enterprise's copy-on-write list."""

from __future__ import annotations

import copy

import pytest
import yaml

from app.enterprises.domain import Industry, Topic
from app.hazard_reporting.checklists.domain import (
    ChecklistKind,
    ItemCategory,
    ItemOrigin,
    ItemSpec,
    OnFail,
    OverrideItem,
    enterprise_signature,
    next_added_code,
    parse_templates,
    resolve_items,
    select_templates,
)
from app.hazard_reporting.checklists.service import DATA_FILE, read_standard_templates

TEMPLATES = read_standard_templates()
BY_CODE = {t.code: t for t in TEMPLATES}


def raw_data() -> dict:
    with open(DATA_FILE, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def codes(templates) -> list[str]:
    return [t.code for t in templates]


def test_data_file_holds_every_template_and_item():
    counts = {t.code: len(t.items) for t in TEMPLATES}
    assert counts == {"GEN": 25, "DUST": 14, "CS": 12, "NH3": 12, "GAS": 10, "MM": 10, "CSC": 11}
    all_codes = [i.code for t in TEMPLATES for i in t.items]
    assert len(all_codes) == len(set(all_codes))
    assert [i.code for i in BY_CODE["CSC"].items] == [f"CSC-{n:02d}" for n in range(1, 12)]
    assert BY_CODE["CSC"].kind is ChecklistKind.WORK_CONFIRMATION
    assert all(t.kind is ChecklistKind.INSPECTION for t in TEMPLATES if t.code != "CSC")


def test_items_are_stored_verbatim_with_their_attributes():
    gen = {i.code: i for i in BY_CODE["GEN"].items}
    assert gen["GEN-01"] == ItemSpec(
        "GEN-01", "安全出口、疏散通道畅通无堵塞无上锁", ItemCategory.SITE, "DWM", OnFail.GENERAL
    )
    assert gen["GEN-09"].refs == ("H17-YJ-11", "M23-GL-2") and gen["GEN-09"].on_fail is OnFail.MAJOR
    assert gen["GEN-09"].levels == "WM"
    assert gen["GEN-13"].note == "属判定标准所列报警装置的，失效即重大(2023第十四条)"
    dust10 = {i.code: i for i in BY_CODE["DUST"].items}["DUST-10"]
    assert dust10.text == "每班清扫，设备、地面、梁架无明显积尘，清扫记录完整"
    assert dust10.refs == ("Z17-FC-10", "M23-FC-10") and dust10.on_fail is OnFail.REVIEW
    mm09 = {i.code: i for i in BY_CODE["MM"].items}["MM-09"]
    assert mm09.refs == ("M23-YS-6", "M23-YS-7", "M23-YS-8", "M23-YS-9", "M23-YS-10")
    csc07 = {i.code: i for i in BY_CODE["CSC"].items}["CSC-07"]
    assert csc07.text == "作业前气体检测合格并记录（氧、可燃、有毒），作业中持续或定时检测"
    assert csc07.levels == ""


def test_applies_to_maps_chinese_labels_to_industries_and_topics():
    assert BY_CODE["GEN"].industries == frozenset(Industry) and not BY_CODE["GEN"].topics
    assert BY_CODE["DUST"].topics == {Topic.DUST_EXPLOSION} and not BY_CODE["DUST"].industries
    assert BY_CODE["GAS"].industries == {
        Industry.METALLURGY,
        Industry.NONFERROUS,
        Industry.BUILDING_MATERIALS,
        Industry.MACHINERY,
        Industry.LIGHT_INDUSTRY,
    }
    assert BY_CODE["GAS"].topics == {Topic.METALLURGICAL_GAS}
    assert BY_CODE["MM"].topics == {Topic.MOLTEN_METAL}
    assert BY_CODE["CSC"].topics == {Topic.CONFINED_SPACE}


@pytest.mark.parametrize(
    ("industry", "topics", "expected"),
    [
        (Industry.MACHINERY, set(), ["GEN"]),
        (Industry.MACHINERY, {Topic.MOLTEN_METAL, Topic.DUST_EXPLOSION}, ["GEN", "DUST", "MM"]),
        (Industry.METALLURGY, {Topic.METALLURGICAL_GAS, Topic.MOLTEN_METAL}, ["GEN", "GAS", "MM"]),
        (Industry.LIGHT_INDUSTRY, {Topic.AMMONIA_REFRIGERATION, Topic.CONFINED_SPACE}, ["GEN", "CS", "NH3"]),
        # Industry-bound topic lists need both: a textile mill's molten-metal flag does not
        # bring the metallurgy/machinery criteria of MM; commerce has no GAS.
        (Industry.TEXTILE, {Topic.MOLTEN_METAL}, ["GEN"]),
        (Industry.COMMERCE, {Topic.METALLURGICAL_GAS, Topic.DUST_EXPLOSION}, ["GEN", "DUST"]),
        (Industry.BUILDING_MATERIALS, {Topic.MOLTEN_METAL, Topic.METALLURGICAL_GAS}, ["GEN", "GAS"]),
        (Industry.TOBACCO, set(Topic), ["GEN", "DUST", "CS", "NH3"]),
    ],
)
def test_inspection_lists_chosen_by_industry_and_topics(industry, topics, expected):
    assert codes(select_templates(TEMPLATES, industry, frozenset(topics))) == expected


def test_work_confirmation_list_only_with_confined_space():
    kind = ChecklistKind.WORK_CONFIRMATION
    assert codes(
        select_templates(TEMPLATES, Industry.MACHINERY, frozenset({Topic.CONFINED_SPACE}), kind)
    ) == ["CSC"]
    assert select_templates(TEMPLATES, Industry.MACHINERY, frozenset(), kind) == []


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda d: d["templates"][0]["applies_to"].update(industries=["采矿"]), "采矿"),
        (
            lambda d: d["templates"][1]["items"].append(dict(d["templates"][0]["items"][0])),
            "duplicate item code GEN-01",
        ),
        (lambda d: d["templates"].append(dict(d["templates"][0])), "duplicate template code"),
        (lambda d: d["templates"][0]["items"][0].update(levels=["D", "X"]), "GEN-01"),
        (lambda d: d["templates"][0]["items"][0].update(levels=[]), "GEN-01 has no level"),
        (lambda d: d["templates"][0]["items"][0].update(category="OTHER"), "GEN-01"),
        (lambda d: d["templates"][0]["items"][0].update(on_fail="minor"), "GEN-01"),
        (lambda d: d["templates"][0]["items"][0].pop("text"), "lacks code or text"),
        (lambda d: d["templates"][0].update(applies_to={}), "applies_to"),
        (lambda d: d["templates"][0].update(kind="survey"), "unknown kind"),
    ],
)
def test_invalid_data_is_refused_naming_the_culprit(mutate, fragment):
    data = copy.deepcopy(raw_data())
    mutate(data)
    with pytest.raises(ValueError, match=fragment):
        parse_templates(data)


def test_signature_changes_with_content_only():
    again = parse_templates(raw_data())
    assert [t.signature() for t in again] == [t.signature() for t in TEMPLATES]
    data = raw_data()
    data["templates"][0]["items"][0]["text"] += "。"
    assert parse_templates(data)[0].signature() != TEMPLATES[0].signature()
    assert parse_templates(data)[1].signature() == TEMPLATES[1].signature()


# --- copy-on-write resolution -----------------------------------------------------------

A1 = ItemSpec("A-01", "甲一", ItemCategory.SITE, "DW", OnFail.GENERAL)
A2 = ItemSpec("A-02", "甲二", ItemCategory.EQUIP, "M", OnFail.MAJOR, ("Z17-FC-01",))
B1 = ItemSpec("B-01", "乙一", ItemCategory.BEHAV, "D", OnFail.REVIEW)


def test_resolution_without_own_lines_is_the_standard():
    resolved = resolve_items([("A", [A1, A2]), ("B", [B1])], [])
    assert [(r.item, r.template_code, r.origin, r.enabled) for r in resolved] == [
        (A1, "A", ItemOrigin.STANDARD, True),
        (A2, "A", ItemOrigin.STANDARD, True),
        (B1, "B", ItemOrigin.STANDARD, True),
    ]


def test_own_lines_reword_disable_and_add_in_place():
    reworded = ItemSpec("A-01", "甲一（本企业表述）", ItemCategory.SITE, "DW", OnFail.GENERAL)
    added = ItemSpec("ENT-01", "本企业新增", ItemCategory.MGMT, "W", OnFail.GENERAL)
    orphan = ItemSpec("C-01", "已不适用", ItemCategory.SITE, "D", OnFail.GENERAL)
    resolved = resolve_items(
        [("A", [A1, A2]), ("B", [B1])],
        [
            OverrideItem(reworded, ItemOrigin.OVERRIDE),
            OverrideItem(B1, ItemOrigin.OVERRIDE, enabled=False),
            OverrideItem(added, ItemOrigin.ADDED),
            OverrideItem(orphan, ItemOrigin.OVERRIDE),
        ],
    )
    assert [(r.item.code, r.item.text, r.origin, r.enabled) for r in resolved] == [
        ("A-01", "甲一（本企业表述）", ItemOrigin.OVERRIDE, True),
        ("A-02", "甲二", ItemOrigin.STANDARD, True),
        ("B-01", "乙一", ItemOrigin.OVERRIDE, False),
        ("ENT-01", "本企业新增", ItemOrigin.ADDED, True),
    ]


def test_added_codes_never_reuse_a_number():
    assert next_added_code([]) == "ENT-01"
    assert next_added_code(["GEN-01", "ENT-01", "ENT-07"]) == "ENT-08"


def test_enterprise_signature_ignores_base_order():
    assert enterprise_signature([3, 1, 2]) == enterprise_signature([1, 2, 3])
    assert enterprise_signature([1, 2]) != enterprise_signature([1, 2, 3])
