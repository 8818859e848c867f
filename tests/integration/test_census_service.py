"""The census import and export against the database: scope, every refusal, idempotence,
all-or-nothing (and, on PostgreSQL, a failure in the middle of applying leaves the database
exactly as it was)."""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import create_engine, delete, func, select
from sqlalchemy.orm import Session

from app.accounts.models import BureauMembership, User
from app.enterprises import service as enterprise_service
from app.enterprises.models import Enterprise, Town
from app.errors import Conflict, PermissionDenied
from app.oversight.census import domain, queries, service
from app.oversight.census.domain import CREATE, ERROR, UNCHANGED, UPDATE, CensusFileRefused
from tests.fixtures.builders import NOW, Builders, valid_uscc
from tests.fixtures.census import census_row, census_xlsx


class District:
    def __init__(self, build):
        self.town = build.town(name="花园口镇")
        self.other = build.town(name="古荥镇")
        self.on_file = build.enterprise(
            town=self.town, name="郑州已登记机械有限公司", uscc=valid_uscc(9_200_001), employee_count=50,
            principal_name="李四", standardization_level="level3", standardization_date=date(2024, 6, 18),
            three_simultaneous="complete", dust_explosion=True, dust_worker_count=12,
        )
        self.far = build.enterprise(town=self.other, name="郑州古荥建材有限公司", uscc=valid_uscc(9_200_002))
        self.admin = build.actor(build.bureau_user("bureau_admin"))
        self.staff = build.actor(build.bureau_user("bureau_staff", towns=[self.town]))
        self.member = build.actor(build.member(self.on_file, "enterprise_admin"))


@pytest.fixture
def district(build) -> District:
    return District(build)


def count(session) -> int:
    return session.scalar(select(func.count()).select_from(Enterprise))


def _export_rows(content: bytes) -> list[list]:
    sheet = load_workbook(io.BytesIO(content))[domain.SHEET_TITLE]
    return [[c.value for c in row] for row in sheet.iter_rows(min_row=2) if any(c.value for c in row)]


# --- export -----------------------------------------------------------------------------------


def test_the_export_holds_every_enterprise_in_scope_and_reimports_unchanged(db_session, district):
    file = queries.census_export(db_session, district.admin, NOW)
    rows = _export_rows(file.content)
    names = [r[0] for r in rows]
    assert "郑州已登记机械有限公司" in names and "郑州古荥建材有限公司" in names
    mine = next(r for r in rows if r[0] == "郑州已登记机械有限公司")
    assert mine[1:6] == [district.on_file.uscc, district.on_file.address, "花园口镇", "机械", "规上"]
    assert mine[10:15] == ["三级", mine[11], "手续齐全", "是", 12]
    assert file.filename == "企业普查-2026-11-28.xlsx"
    report = service.import_census(db_session, district.admin, NOW, file.content, apply=True)
    assert report.counts[UNCHANGED] == len(rows) and report.counts[CREATE] == report.counts[UPDATE] == 0


def test_staff_export_their_towns_only_and_the_template_is_empty(db_session, district):
    rows = _export_rows(queries.census_export(db_session, district.staff, NOW).content)
    assert [r[0] for r in rows] == ["郑州已登记机械有限公司"]
    template = queries.census_export(db_session, district.staff, NOW, template=True)
    assert _export_rows(template.content) == []
    notes = load_workbook(io.BytesIO(template.content))[domain.NOTES_TITLE]
    town_cell = next(r[3].value for r in notes.iter_rows(min_row=2) if r[0].value == "所属镇街")
    assert town_cell == "花园口镇"  # the towns this user may file enterprises in


def test_enterprise_people_may_neither_export_nor_import(db_session, district):
    with pytest.raises(PermissionDenied):
        queries.census_export(db_session, district.member, NOW)
    with pytest.raises(PermissionDenied):
        service.import_census(db_session, district.member, NOW, census_xlsx([census_row("甲", "花园口镇", 9_200_100)]),
                              apply=False)


# --- import -----------------------------------------------------------------------------------


def test_an_import_creates_and_updates_through_the_enterprise_file_and_twice_changes_nothing(db_session, district):
    before = count(db_session)
    exported = {r[1]: r for r in _export_rows(queries.census_export(db_session, district.admin, NOW).content)}
    changed = dict(zip(domain.LABELS, exported[district.on_file.uscc], strict=True))
    changed.update({"从业人员": 64, "主要负责人": "王五", "达标日期": "2025-01-02"})
    new = census_row("郑州新普查食品有限公司", "古荥镇", 9_200_003, 行业="轻工", 规模="规下")
    data = census_xlsx([changed, new])

    dry = service.import_census(db_session, district.admin, NOW, data, apply=False)
    assert [(r.row, r.action) for r in dry.rows] == [(2, UPDATE), (3, CREATE)]
    assert dry.rows[0].changes == ["从业人员：50 → 64", "主要负责人：李四 → 王五", "达标日期：2024-06-18 → 2025-01-02"]
    assert not dry.applied and count(db_session) == before

    done = service.import_census(db_session, district.admin, NOW, data, apply=True)
    assert done.applied and done.counts == {CREATE: 1, UPDATE: 1, UNCHANGED: 0, ERROR: 0}
    db_session.expire_all()
    assert count(db_session) == before + 1
    assert district.on_file.employee_count == 64 and district.on_file.principal_name == "王五"
    assert district.on_file.credit_status == "normal"
    created = db_session.scalar(select(Enterprise).where(Enterprise.uscc == valid_uscc(9_200_003)))
    assert created.town_id == district.other.id and created.industry == "light_industry"
    assert created.dust_explosion and created.dust_worker_count == 12

    again = service.import_census(db_session, district.admin, NOW, data, apply=True)
    assert again.counts == {CREATE: 0, UPDATE: 0, UNCHANGED: 2, ERROR: 0}
    assert not db_session.dirty and not db_session.new


def test_any_error_row_writes_nothing(db_session, district):
    before = count(db_session)
    good = census_row("郑州好企业有限公司", "花园口镇", 9_200_010)
    bad = census_row("郑州坏企业有限公司", "花园口镇", 9_200_011, 从业人员=-5)
    report = service.import_census(db_session, district.admin, NOW, census_xlsx([good, bad]), apply=True)
    assert not report.applied and report.counts[ERROR] == 1 and report.counts[CREATE] == 1
    assert report.ordered[0].row == 3 and report.ordered[0].errors == ["从业人员：不能为负数（填的是 -5）"]
    db_session.expire_all()
    assert count(db_session) == before


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"所属镇街": "大河村"}, "所属镇街：「大河村」不是本区的镇（街道）"),
        ({"统一社会信用代码": "91410108MA0000000X"}, "统一社会信用代码：「91410108MA0000000X」"),
        ({"行业": "化工"}, "行业：「化工」不是可选值"),
        ({"粉尘作业人数": -1}, "粉尘作业人数：不能为负数"),
        ({"企业名称": None}, "企业名称：必填，不能为空"),
    ],
)
def test_each_refused_row_says_why(db_session, district, overrides, expected):
    row = census_row("郑州某企业有限公司", "花园口镇", 9_200_020, **overrides)
    report = service.import_census(db_session, district.admin, NOW, census_xlsx([row]), apply=True)
    assert report.counts[ERROR] == 1 and not report.applied
    assert any(e.startswith(expected) for e in report.rows[0].errors), report.rows[0].errors


def test_duplicated_credit_codes_in_the_file_are_refused(db_session, district):
    a = census_row("甲", "花园口镇", 9_200_030)
    b = census_row("乙", "花园口镇", 9_200_030)
    report = service.import_census(db_session, district.admin, NOW, census_xlsx([a, b]), apply=True)
    assert [r.errors for r in report.rows] == [
        ["统一社会信用代码：与第 3 行重复，同一企业只能填一行"],
        ["统一社会信用代码：与第 2 行重复，同一企业只能填一行"],
    ]


def test_staff_may_not_file_or_change_enterprises_outside_their_towns(db_session, district):
    before = count(db_session)
    new_far = census_row("郑州外镇企业有限公司", "古荥镇", 9_200_040)
    far = census_row(district.far.name, "花园口镇", 0, 统一社会信用代码=district.far.uscc, 达标创建="未达标",
                     达标日期=None)
    report = service.import_census(db_session, district.staff, NOW, census_xlsx([new_far, far]), apply=True)
    assert [r.action for r in report.rows] == [ERROR, ERROR]
    assert report.rows[0].errors == ["所属镇街：「古荥镇」不在您负责的镇（街道）范围内，不能登记或修改该镇街的企业"]
    assert "已登记在您负责范围以外" in report.rows[1].errors[0]
    db_session.expire_all()
    assert count(db_session) == before and district.far.town_id == district.other.id


def test_whole_file_refusals(db_session, district):
    with pytest.raises(CensusFileRefused, match="不是 Excel 工作簿"):
        service.import_census(db_session, district.admin, NOW, b"plain text, not a workbook", apply=True)
    with pytest.raises(CensusFileRefused, match="缺少列：「地址」"):
        header = [label for label in domain.LABELS if label != "地址"]
        service.import_census(db_session, district.admin, NOW, census_xlsx([{"企业名称": "甲"}], header=header),
                              apply=True)


def test_a_refusal_of_the_enterprise_file_while_applying_undoes_every_row(db_session, district, monkeypatch):
    """Rows 2 and 3 were written before row 4 fails: none of them stays."""
    before = count(db_session)
    rows = [census_row(f"郑州顺序{n}有限公司", "花园口镇", 9_200_050 + n) for n in range(3)]
    real = enterprise_service.create_enterprise
    calls = []

    def failing(session, actor, now, data):
        calls.append(data["uscc"])
        if len(calls) == 3:
            raise enterprise_service.ValidationFailed.for_field("uscc", "统一社会信用代码已被“别人”使用")
        return real(session, actor, now, data)

    monkeypatch.setattr(enterprise_service, "create_enterprise", failing)
    with pytest.raises(Conflict) as conflict:
        service.import_census(db_session, district.admin, NOW, census_xlsx(rows), apply=True)
    assert conflict.value.message.startswith(f"第 4 行（统一社会信用代码 {valid_uscc(9_200_052)}）无法写入：")
    assert "导入已全部取消，没有写入任何企业" in conflict.value.message
    assert count(db_session) == before
    assert db_session.scalar(select(Enterprise).where(Enterprise.uscc == valid_uscc(9_200_050))) is None


# --- all or nothing on PostgreSQL, with real connections and commits --------------------------------


class Committed:
    """A town, an enterprise and a bureau admin committed in the test database (the import
    runs in its own session and transaction, another connection races it); removed after."""

    def __init__(self, engine):
        self.engine = engine
        with Session(engine) as session:
            build = Builders(session)
            self.town = build.town(name="普查测试镇")
            self.enterprise = build.enterprise(town=self.town, uscc=valid_uscc(9_300_000), employee_count=10)
            self.user = build.bureau_user("bureau_admin")
            session.commit()
            self.town_id, self.enterprise_id, self.user_id = self.town.id, self.enterprise.id, self.user.id

    def snapshot(self) -> list[tuple]:
        with Session(self.engine) as session:
            return [
                tuple(getattr(e, name) for name in ("id", *domain.FIELDS))
                for e in session.scalars(select(Enterprise).order_by(Enterprise.id))
            ]

    def cleanup(self) -> None:
        with Session(self.engine) as session:
            session.execute(delete(Enterprise).where(Enterprise.town_id == self.town_id))
            session.execute(delete(Town).where(Town.id == self.town_id))
            session.execute(delete(BureauMembership).where(BureauMembership.user_id == self.user_id))
            session.execute(delete(User).where(User.id == self.user_id))
            session.commit()


@pytest.fixture
def committed(app, database_url):
    engine = create_engine(database_url)
    data = Committed(engine)
    try:
        yield data
    finally:
        data.cleanup()
        engine.dispose()


def _rows(town: str) -> list[dict]:
    update = census_row("郑州普查已登记有限公司", town, 9_300_000, 从业人员=99)
    return [census_row(f"郑州普查新{n}有限公司", town, 9_300_001 + n) for n in range(2)] + [
        update, census_row("郑州普查新3有限公司", town, 9_300_003)
    ]


@pytest.mark.postgres_only
@pytest.mark.parametrize("checked", [True, False], ids=["seen-by-the-check", "caught-by-the-unique-index"])
def test_a_concurrent_registration_of_a_code_cancels_the_whole_import(committed, monkeypatch, checked):
    """Between the plan and the writes another connection commits an enterprise with the
    code of row 5: the import fails on it (found by the enterprise file's own check, or by
    the unique index when that check is passed), and rows 2–4 (two new, one update) are
    undone."""
    if not checked:
        monkeypatch.setattr(enterprise_service, "_check_uscc_free", lambda *args, **kwargs: None)
    before = committed.snapshot()
    rival_code = valid_uscc(9_300_003)
    real_plan = service.plan

    def plan_then_race(session, actor, rows):
        report = real_plan(session, actor, rows)
        with Session(committed.engine) as rival:
            rival.add(Enterprise(uscc=rival_code, name="抢先登记的企业", address="别处", town_id=committed.town_id,
                                 industry="machinery", scale="below"))
            rival.commit()
        return report

    monkeypatch.setattr(service, "plan", plan_then_race)
    with Session(committed.engine) as session:
        actor = Builders(session).actor(session.get(User, committed.user_id))
        with pytest.raises(Conflict) as conflict:
            service.import_census(session, actor, NOW, census_xlsx(_rows("普查测试镇")), apply=True)
        session.commit()  # even a caller that commits after the refusal writes nothing of the file
    assert conflict.value.message.startswith(f"第 5 行（统一社会信用代码 {rival_code}）无法写入")
    reason = "统一社会信用代码已被“抢先登记的企业”使用" if checked else service.TAKEN_MEANWHILE
    assert reason in conflict.value.message
    after = committed.snapshot()
    rival = [row for row in after if row[2] == rival_code]  # (id, name, uscc, …)
    assert len(rival) == 1 and rival[0][1] == "抢先登记的企业"
    assert [row for row in after if row[2] != rival_code] == before


@pytest.mark.postgres_only
def test_a_failure_on_row_3_leaves_the_database_exactly_as_before(committed, monkeypatch):
    before = committed.snapshot()
    real = enterprise_service.create_enterprise
    seen = []

    def failing(session, actor, now, data):
        seen.append(data["uscc"])
        if len(seen) == 2:  # the second new enterprise: row 3
            raise RuntimeError("disk full")
        return real(session, actor, now, data)

    monkeypatch.setattr(enterprise_service, "create_enterprise", failing)
    with Session(committed.engine) as session:
        actor = Builders(session).actor(session.get(User, committed.user_id))
        with pytest.raises(RuntimeError):
            service.import_census(session, actor, NOW, census_xlsx(_rows("普查测试镇")), apply=True)
        session.commit()  # the savepoint was undone: committing now writes nothing of the file
    assert committed.snapshot() == before
