"""Standard checklists in the database (versioned, idempotent loading, CLI) and an
enterprise's copy-on-write list (reword, disable, add; the standard never changes)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import yaml
from sqlalchemy import func, select

from app.errors import NotFound, PermissionDenied, ValidationFailed
from app.hazard_reporting.checklists import service
from app.hazard_reporting.checklists.domain import ChecklistKind, ItemOrigin
from app.hazard_reporting.checklists.models import Checklist, ChecklistItem, ChecklistVersion
from app.hazard_reporting.checklists.queries import current_enterprise_items, version_items
from app.hazard_reporting.checks.domain import CheckLevel
from app.hazard_reporting.checks.models import CheckTask
from app.hazard_reporting.checks.queries import task_items
from app.hazard_reporting.schedules import service as schedule_service
from app.hazard_reporting.schedules.models import CheckSchedule

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 Asia/Shanghai


def standard(session, code) -> Checklist:
    return session.scalar(select(Checklist).where(Checklist.code == code))


def write_variant(tmp_path, mutate) -> object:
    with open(service.DATA_FILE, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    mutate(data)
    path = tmp_path / "checklists.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_loading_is_idempotent_and_versioned(db_session):
    first = service.load_standard_checklists(db_session, NOW)
    assert first.created == ["GEN", "DUST", "CS", "NH3", "GAS", "MM", "CSC"]
    second = service.load_standard_checklists(db_session, NOW + timedelta(hours=1))
    assert second.created == second.updated == [] and len(second.unchanged) == 7
    gen = standard(db_session, "GEN")
    assert (gen.version, gen.kind, gen.enterprise_id, gen.active) == (1, ChecklistKind.INSPECTION, None, True)
    assert gen.applies_industries == sorted(
        [
            "metallurgy",
            "nonferrous",
            "building_materials",
            "machinery",
            "light_industry",
            "textile",
            "tobacco",
            "commerce",
        ]
    )
    assert standard(db_session, "MM").applies_topics == ["molten_metal"]
    assert standard(db_session, "CSC").kind is ChecklistKind.WORK_CONFIRMATION
    items = version_items(db_session, gen.id, 1)
    assert len(items) == 25 and items[0].item.text == "安全出口、疏散通道畅通无堵塞无上锁"
    assert db_session.scalar(select(func.count()).select_from(ChecklistVersion)) == 7


def test_a_changed_template_gets_a_new_version_and_old_versions_stay(db_session, tmp_path):
    service.load_standard_checklists(db_session, NOW)

    def change(data):
        data["templates"][0]["items"][0]["text"] = "安全出口、疏散通道畅通，无堵塞、无上锁"
        data["templates"] = [t for t in data["templates"] if t["code"] != "NH3"]

    result = service.load_standard_checklists(db_session, NOW, write_variant(tmp_path, change))
    assert (result.updated, result.retired, result.created) == (["GEN"], ["NH3"], [])
    gen = standard(db_session, "GEN")
    assert gen.version == 2
    assert version_items(db_session, gen.id, 2)[0].item.text == "安全出口、疏散通道畅通，无堵塞、无上锁"
    assert version_items(db_session, gen.id, 1)[0].item.text == "安全出口、疏散通道畅通无堵塞无上锁"
    assert standard(db_session, "NH3").active is False
    # Loading the bundled file again restores NH3 (same content: no new version) and GEN v3.
    again = service.load_standard_checklists(db_session, NOW)
    assert again.updated == ["GEN"] and "NH3" in again.unchanged
    assert standard(db_session, "NH3").active is True and standard(db_session, "NH3").version == 1


def test_invalid_data_file_changes_nothing(db_session, tmp_path):
    path = write_variant(tmp_path, lambda d: d["templates"][0]["items"][0].update(category="OTHER"))
    with pytest.raises(ValueError, match="GEN-01"):
        service.load_standard_checklists(db_session, NOW, path)
    assert db_session.scalar(select(func.count()).select_from(Checklist)) == 0


def test_cli_loads_the_standard_checklists(app, db_session):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["checklists", "load"])
    assert result.exit_code == 0, result.output
    assert "created: GEN, DUST, CS, NH3, GAS, MM, CSC" in result.output
    result = runner.invoke(args=["checklists", "load"])
    assert result.exit_code == 0 and "unchanged: GEN" in result.output and "created" not in result.output


# --- an enterprise's own list ------------------------------------------------------------


@pytest.fixture
def setup(db_session, build):
    service.load_standard_checklists(db_session, NOW)
    enterprise = build.enterprise(industry="machinery", dust_explosion=True, confined_space=True)
    team = build.team(build.department(enterprise))
    admin = build.actor(build.member(enterprise, "enterprise_admin"))
    return enterprise, team, admin


def own_list(session, enterprise):
    return current_enterprise_items(session, enterprise.id)


def test_the_own_list_starts_as_the_chosen_standards(db_session, setup):
    enterprise, _, _ = setup
    assert service.sync_enterprise_checklists(db_session, NOW, [enterprise.id]) == 1
    checklist, items = own_list(db_session, enterprise)
    assert checklist.version == 1 and checklist.code is None
    assert [r.template_code for r in items].count("GEN") == 25
    assert {r.template_code for r in items} == {"GEN", "DUST", "CS"}
    assert all(r.origin is ItemOrigin.STANDARD and r.enabled for r in items)
    # Copy-on-write: nothing is copied until the enterprise writes.
    version = db_session.scalar(select(ChecklistVersion).where(ChecklistVersion.checklist_id == checklist.id))
    assert version.items == []
    assert service.sync_enterprise_checklists(db_session, NOW, [enterprise.id]) == 0


def test_rewording_disabling_and_adding_leave_the_standard_untouched(db_session, setup):
    enterprise, _, admin = setup
    gen = standard(db_session, "GEN")
    v2 = service.reword_checklist_item(
        db_session, admin, NOW, enterprise.id, "GEN-01", "各车间安全出口畅通、未上锁"
    )
    v3 = service.set_checklist_item_enabled(
        db_session, admin, NOW, enterprise.id, "DUST-09", False, "本企业无木制品加工"
    )
    v4 = service.add_checklist_item(
        db_session,
        admin,
        NOW,
        enterprise.id,
        {"text": "叉车每日点检记录完整", "category": "EQUIP", "levels": ["D", "W"], "on_fail": "general"},
    )
    assert (v2.version, v3.version, v4.version) == (2, 3, 4)
    assert v2.created_by_id == admin.user_id and v3.note == "停用条目 DUST-09：本企业无木制品加工"
    checklist, items = own_list(db_session, enterprise)
    by_code = {r.item.code: r for r in items}
    assert checklist.version == 4
    assert by_code["GEN-01"].item.text == "各车间安全出口畅通、未上锁"
    assert by_code["GEN-01"].origin is ItemOrigin.OVERRIDE and by_code["GEN-01"].item.levels == "DWM"
    assert by_code["DUST-09"].enabled is False
    assert (
        by_code["ENT-01"].item.text == "叉车每日点检记录完整" and by_code["ENT-01"].origin is ItemOrigin.ADDED
    )
    assert items[-1].item.code == "ENT-01"
    # The standard template is unchanged: same version, same text.
    db_session.refresh(gen)
    assert gen.version == 1
    assert version_items(db_session, gen.id, 1)[0].item.text == "安全出口、疏散通道畅通无堵塞无上锁"
    # Each version is a snapshot: version 2 had the rewording but not yet the disabled item.
    v2_items = {r.item.code: r for r in version_items(db_session, checklist.id, 2)}
    assert v2_items["GEN-01"].item.text == "各车间安全出口畅通、未上锁" and v2_items["DUST-09"].enabled
    # Only the enterprise's own lines are stored in its versions.
    assert db_session.scalars(
        select(ChecklistItem.code).where(ChecklistItem.version_id == v4.id).order_by(ChecklistItem.position)
    ).all() == [
        "GEN-01",
        "DUST-09",
        "ENT-01",
    ]
    # Re-enabling and re-wording an added item.
    service.set_checklist_item_enabled(db_session, admin, NOW, enterprise.id, "DUST-09", True)
    service.reword_checklist_item(db_session, admin, NOW, enterprise.id, "ENT-01", "叉车每班点检")
    _, items = own_list(db_session, enterprise)
    by_code = {r.item.code: r for r in items}
    assert by_code["DUST-09"].enabled and by_code["ENT-01"].item.text == "叉车每班点检"
    assert by_code["ENT-01"].origin is ItemOrigin.ADDED


def test_edits_need_manage_structure_a_reason_and_a_known_item(db_session, build, setup):
    enterprise, _, admin = setup
    worker = build.actor(build.member(enterprise, "worker"))
    with pytest.raises(PermissionDenied):
        service.reword_checklist_item(db_session, worker, NOW, enterprise.id, "GEN-01", "改")
    with pytest.raises(ValidationFailed) as caught:
        service.set_checklist_item_enabled(db_session, admin, NOW, enterprise.id, "GEN-01", False, " ")
    assert "reason" in caught.value.fields
    with pytest.raises(NotFound):
        service.reword_checklist_item(db_session, admin, NOW, enterprise.id, "NH3-01", "不属于本企业")
    with pytest.raises(ValidationFailed):
        service.reword_checklist_item(db_session, admin, NOW, enterprise.id, "GEN-01", "长" * 201)
    with pytest.raises(ValidationFailed) as caught:
        service.add_checklist_item(
            db_session, admin, NOW, enterprise.id, {"text": "x", "category": "EQUIP", "levels": []}
        )
    assert "levels" in caught.value.fields
    outsider = build.actor(build.member(build.enterprise(), "enterprise_admin"))
    with pytest.raises(NotFound):
        service.reword_checklist_item(db_session, outsider, NOW, enterprise.id, "GEN-01", "改")


def test_topic_flags_and_standard_updates_rebase_the_own_list_keeping_own_lines(db_session, setup, tmp_path):
    enterprise, _, admin = setup
    service.reword_checklist_item(db_session, admin, NOW, enterprise.id, "GEN-02", "灭火器在位有效")
    enterprise.molten_metal = True
    db_session.flush()
    assert service.sync_enterprise_checklists(db_session, NOW, [enterprise.id]) == 1
    checklist, items = own_list(db_session, enterprise)
    assert checklist.version == 3
    assert {r.template_code for r in items} == {"GEN", "DUST", "CS", "MM"}
    assert {r.item.code: r.item.text for r in items}["GEN-02"] == "灭火器在位有效"

    def change(data):
        data["templates"][0]["items"][2]["text"] = "作业现场整洁"

    service.load_standard_checklists(db_session, NOW, write_variant(tmp_path, change))
    assert service.sync_enterprise_checklists(db_session, NOW, [enterprise.id]) == 1
    checklist, items = own_list(db_session, enterprise)
    texts = {r.item.code: r.item.text for r in items}
    assert checklist.version == 4
    assert texts["GEN-03"] == "作业现场整洁" and texts["GEN-02"] == "灭火器在位有效"


def test_tasks_keep_the_checklist_version_they_were_generated_with(db_session, setup):
    enterprise, team, admin = setup
    schedule_service.ensure_default_schedules(db_session, NOW, enterprise.id)
    schedule_service.generate_tasks(db_session, NOW)
    monday = db_session.scalar(
        select(CheckTask)
        .where(CheckTask.period_start == date(2026, 11, 23), CheckTask.enterprise_id == enterprise.id)
        .join(CheckTask.schedule)
        .where(CheckSchedule.team_id == team.id)
    )
    service.reword_checklist_item(db_session, admin, NOW, enterprise.id, "GEN-01", "出口畅通")
    service.set_checklist_item_enabled(db_session, admin, NOW, enterprise.id, "GEN-06", False, "无配电箱")
    schedule_service.generate_tasks(db_session, NOW + timedelta(days=1))
    tuesday = db_session.scalar(
        select(CheckTask).where(
            CheckTask.period_start == date(2026, 11, 24), CheckTask.schedule_id == monday.schedule_id
        )
    )
    assert (monday.checklist_version, tuesday.checklist_version) == (1, 3)
    old = {r.item.code: r.item.text for r in task_items(db_session, monday)}
    new = {r.item.code: r.item.text for r in task_items(db_session, tuesday)}
    assert old["GEN-01"] == "安全出口、疏散通道畅通无堵塞无上锁" and "GEN-06" in old
    assert new["GEN-01"] == "出口畅通" and "GEN-06" not in new
    # A daily check goes through the D items only: GEN-09 (W, M) is not in it.
    assert "GEN-09" not in old and "GEN-07" in old
    assert monday.schedule.level is CheckLevel.DAILY
