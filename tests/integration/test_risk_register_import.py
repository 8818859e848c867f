"""Import of the 风险辨识清单: every refusal with its Chinese reason, all-or-nothing, the file
replaces the register (matched by name, ids kept), a second import of the same file changes
nothing, the export is the import's template."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from app.errors import ValidationFailed
from app.hazard_reporting.risks import queries, service
from app.hazard_reporting.risks.models import RiskControl, RiskPoint, RiskRegister, RiskSource
from app.hazard_reporting.risks.workbook import COLUMNS, MAX_ROWS, read_register, register_workbook
from app.hazard_reporting.schedules.domain import RiskLevel
from app.hazard_reporting.schedules.models import SiteRiskProfile
from tests.fixtures.builders import NOW

GOOD = [
    ("熔炼炉", "设备设施", "熔炼车间", "熔炼炉平台", "钢水喷溅", "是", "灼烫、火灾", 6, 6, 15,
     "浇注前检查包衬干燥", "管理措施", "班组级", "熔炼车间", "熔炼班", ""),
    ("熔炼炉", "设备设施", "熔炼车间", "熔炼炉平台", "钢水喷溅", "是", "灼烫、火灾", 6, 6, 15,
     "佩戴防护面罩和隔热服", "个体防护", "岗位级", "", "", "炉前工"),
    ("熔炼炉", "设备设施", "熔炼车间", "熔炼炉平台", "冷却水泄漏", "否", "其它爆炸", 1, 6, 40,
     "每班检查冷却水压力", "工程技术", "部门级", "熔炼车间", "", ""),
    ("仓库", "场所/区域", "后勤区", "", "堆垛倒塌", "否", "物体打击", 1, 3, 3, "", "", "", "", "", ""),
]


def xlsx(rows, header=COLUMNS) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def plant(build):
    enterprise = build.enterprise()
    admin = build.actor(build.member(enterprise, "enterprise_admin"))
    department = build.department(enterprise, name="熔炼车间")
    team = build.team(department, name="熔炼班")
    build.post(enterprise, name="炉前工")
    site = build.site(enterprise, name="熔炼炉平台")
    return enterprise, admin, team, site


def _run(db_session, enterprise, admin, rows, dry_run=False):
    return service.import_register(db_session, admin, NOW, enterprise.id, read_register(xlsx(rows)), dry_run=dry_run)


def test_import_builds_the_register_and_colours_the_site(db_session, plant):
    enterprise, admin, team, site = plant
    report = _run(db_session, enterprise, admin, GOOD, dry_run=True)
    assert [r.action for r in report.rows] == ["create"] * 4 and not report.applied
    assert db_session.scalar(select(RiskPoint.id)) is None
    report = _run(db_session, enterprise, admin, GOOD)
    assert report.applied and report.version == 1
    points = db_session.scalars(select(RiskPoint).order_by(RiskPoint.name)).all()
    assert sorted(p.name for p in points) == ["仓库", "熔炼炉"]
    controls = db_session.scalars(select(RiskControl)).all()
    assert {c.control_level.value for c in controls} == {"team", "post", "department"}
    assert next(c for c in controls if c.control_level.value == "team").team_id == team.id
    profile = db_session.scalar(select(SiteRiskProfile).where(SiteRiskProfile.site_id == site.id))
    assert profile.risk_level == RiskLevel.RED and profile.is_major_risk_point


def test_same_file_twice_changes_nothing_and_a_smaller_file_retires(db_session, plant):
    enterprise, admin, _, _ = plant
    _run(db_session, enterprise, admin, GOOD)
    ids = sorted(db_session.scalars(select(RiskControl.id)).all())
    again = _run(db_session, enterprise, admin, GOOD)
    assert [r.action for r in again.rows] == ["unchanged"] * 4 and not again.applied
    assert db_session.get(RiskRegister, enterprise.id).version == 1
    changed = [GOOD[0][:9] + (3,) + GOOD[0][10:], GOOD[1][:9] + (3,) + GOOD[1][10:]]
    report = _run(db_session, enterprise, admin, changed)
    assert [r.action for r in report.rows] == ["update", "update"]  # both rows' source is re-assessed
    assert sorted(report.retired) == ["危险源「熔炼炉 / 冷却水泄漏」", "风险点「仓库」"]
    assert db_session.get(RiskRegister, enterprise.id).version == 2
    active = sorted(db_session.scalars(select(RiskControl.id).where(RiskControl.active.is_(True))).all())
    assert active == ids[:2]  # kept ids: hazards pointing at them still do
    source = db_session.scalar(select(RiskSource).where(RiskSource.name == "钢水喷溅"))
    assert (source.score, source.grade.value) == (108, "general")


@pytest.mark.parametrize(
    ("index", "value", "reason"),
    [
        (0, "", "风险点不能为空"),
        (1, "设备", "风险点类型应为"),
        (3, "不存在的点位", "排查点位「不存在的点位」不存在或已停用"),
        (5, "也许", "较大危险因素应填"),
        (6, "烫伤", "GB 6441"),
        (7, 7, "只能取"),
        (9, 50, "只能取"),
        (11, "其他", "措施类别应为"),
        (12, "车间级", "管控层级应为"),
        (13, "铸造车间", "责任部门「铸造车间」不是本企业的部门"),
        (14, "浇注班", "责任班组「浇注班」不是所填部门的班组"),
    ],
)
def test_every_refusal_names_its_reason_and_nothing_is_written(db_session, plant, index, value, reason):
    enterprise, admin, _, _ = plant
    bad = list(GOOD[0])
    bad[index] = value
    rows = [GOOD[3], tuple(bad)]
    report = _run(db_session, enterprise, admin, rows, dry_run=True)
    assert report.rows[0].action == "create"
    assert report.rows[1].action == "error" and any(reason in e for e in report.rows[1].errors), report.rows[1].errors
    with pytest.raises(service.ImportRefused) as refused:
        _run(db_session, enterprise, admin, rows)
    assert "未导入任何内容" in refused.value.message
    assert db_session.scalar(select(RiskPoint.id)) is None


def test_row_level_refusals(db_session, plant):
    enterprise, admin, _, _ = plant
    team_without = GOOD[0][:13] + ("", "", "")
    post_without = GOOD[1][:15] + ("",)
    inconsistent = ("熔炼炉", "作业活动") + GOOD[0][2:]
    duplicate = GOOD[0]
    no_source = ("熔炼炉", "设备设施", "熔炼车间", "熔炼炉平台", "", "", "", "", "", "", "检查", "管理措施", "公司级", "", "", "")
    report = _run(db_session, enterprise, admin, [GOOD[0], team_without, post_without, inconsistent, duplicate, no_source], dry_run=True)
    reasons = [" ".join(r.errors) for r in report.rows]
    assert "班组级管控措施须填写责任班组" in reasons[1]
    assert "岗位级管控措施须填写岗位" in reasons[2]
    assert "与第 2 行不一致" in reasons[3]
    assert "与第 2 行重复" in reasons[4]
    assert "没有填写危险源" in reasons[5]


def test_file_refusals():
    with pytest.raises(ValidationFailed, match="不是 Excel"):
        read_register(b"%PDF-1.4 not a workbook")
    with pytest.raises(ValidationFailed, match="不是 Excel"):
        read_register(b"PK\x03\x04 broken zip")
    with pytest.raises(ValidationFailed, match="不超过 10 MB"):
        read_register(b"PK\x03\x04" + b"0" * (10 * 1024 * 1024))
    with pytest.raises(ValidationFailed, match="表头"):
        read_register(xlsx(GOOD, header=("名称",)))
    with pytest.raises(ValidationFailed, match="没有数据行"):
        read_register(xlsx([]))
    with pytest.raises(ValidationFailed, match=f"最多 {MAX_ROWS} 行"):
        read_register(xlsx([GOOD[3]] * (MAX_ROWS + 1)))


def test_the_export_is_the_template(db_session, plant):
    enterprise, admin, _, _ = plant
    _run(db_session, enterprise, admin, GOOD)
    point = db_session.scalar(select(RiskPoint).where(RiskPoint.name == "仓库"))
    service.edit_point(db_session, admin, NOW, point.id, {"name": "=HYPERLINK(1)", "kind": "place", "area": "后勤区"})
    data = register_workbook(queries.export_rows(db_session, enterprise.id))
    rows = read_register(data)
    furnace = [r for r in rows if r.point == "熔炼炉"]
    assert len(rows) == 4 and furnace[0].level == "班组级" and furnace[0].team == "熔炼班" and furnace[1].post == "炉前工"
    assert any(r.point == "=HYPERLINK(1)" for r in rows)  # neutralised on export, read back as typed
    report = service.import_register(db_session, admin, NOW, enterprise.id, rows, dry_run=True)
    assert {r.action for r in report.rows} == {"unchanged"}


def test_a_failure_while_writing_leaves_nothing_behind(db_session, plant, monkeypatch):
    """All-or-nothing also when the writes themselves fail half-way (PostgreSQL in the
    default run): the import writes inside the caller's transaction, which rolls back."""
    enterprise, admin, _, site = plant

    def broken(*_args, **_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(service, "_record", broken)
    savepoint = db_session.begin_nested()
    with pytest.raises(RuntimeError):
        _run(db_session, enterprise, admin, GOOD)
    assert db_session.scalar(select(RiskPoint.id)) is not None  # half written before the failure
    savepoint.rollback()
    assert db_session.scalar(select(RiskPoint.id)) is None
    assert db_session.scalar(select(SiteRiskProfile).where(SiteRiskProfile.site_id == site.id)) is None
