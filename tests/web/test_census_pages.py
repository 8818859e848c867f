"""普查导入/导出 on the web: the console page (bureau only, reached from the enterprise list),
export and template, the dry run with its report, 确认导入 of the kept file, CSRF, files too
large (15 MB over the census limit, 50 MB over the app's), a text file renamed .xlsx, staff
outside their towns; and the API (export, dry run, import, 422 with the report, problem+json,
the OpenAPI document)."""

from __future__ import annotations

import io
import re
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.accounts.service import issue_api_token
from app.enterprises.models import Enterprise
from app.oversight.census import domain, uploads
from tests.fixtures.builders import NOW, valid_uscc
from tests.fixtures.census import census_row, census_xlsx
from tests.fixtures.csrf import session_token

MB = 1024 * 1024


def login(client, user) -> None:
    with client.session_transaction() as session:
        session["user_id"] = user.id


def text(response) -> str:
    return response.get_data(as_text=True)


class Scene:
    def __init__(self, build):
        self.town = build.town(name="花园口镇")
        self.other = build.town(name="古荥镇")
        self.on_file = build.enterprise(
            town=self.town, name="郑州已登记机械有限公司", uscc=valid_uscc(9_400_001),
            standardization_level="level3", standardization_date=date(2024, 6, 18),
        )
        self.far = build.enterprise(town=self.other, name="=HYPERLINK(\"x\")古荥建材", uscc=valid_uscc(9_400_002))
        self.admin = build.bureau_user("bureau_admin", user=build.user(display_name="区局管理员"))
        self.staff = build.bureau_user("bureau_staff", towns=[self.town])
        self.member = build.member(self.on_file, "enterprise_admin")


@pytest.fixture
def scene(build) -> Scene:
    return Scene(build)


def count(db_session) -> int:
    return db_session.scalar(select(func.count()).select_from(Enterprise))


def upload(client, data: bytes, token: str, name: str = "普查.xlsx"):
    return client.post(
        "/console/census/preview",
        data={"csrf_token": token, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def upload_token(page: str) -> str:
    match = re.search(r'name="upload" value="([^"]+)"', page)
    assert match, "the report offers 确认导入"
    return match.group(1)


def new_row(n: int, **overrides) -> dict:
    return census_row(f"郑州普查新{n}有限公司", "花园口镇", 9_400_100 + n, **overrides)


# --- the console --------------------------------------------------------------------------------


def test_the_bureau_reaches_the_page_from_the_enterprise_list(client, scene):
    login(client, scene.admin)
    listing = text(client.get("/console/"))
    assert 'href="/console/census"' in listing and "普查导入/导出" in listing
    page = client.get("/console/census")
    assert page.status_code == 200
    assert "导出普查表" in text(page) and "下载导入模板" in text(page) and "上传并预览" in text(page)


def test_enterprise_people_see_no_button_and_are_refused(client, scene):
    login(client, scene.member)
    assert "普查导入/导出" not in text(client.get(f"/console/enterprises/{scene.on_file.id}"))
    for url in ("/console/census", "/console/census/export.xlsx", "/console/census/template.xlsx"):
        assert client.get(url).status_code == 403, url


def test_the_export_is_every_enterprise_in_scope_with_formulas_neutralised(client, scene):
    login(client, scene.admin)
    response = client.get("/console/census/export.xlsx")
    assert response.status_code == 200 and response.mimetype == domain.XLSX_MIME
    assert "attachment" in response.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.data))[domain.SHEET_TITLE]
    names = [row[0].value for row in sheet.iter_rows(min_row=2) if row[0].value]
    assert "郑州已登记机械有限公司" in names and "'=HYPERLINK(\"x\")古荥建材" in names
    login(client, scene.staff)
    staff_sheet = load_workbook(io.BytesIO(client.get("/console/census/export.xlsx").data))[domain.SHEET_TITLE]
    assert [row[0].value for row in staff_sheet.iter_rows(min_row=2) if row[0].value] == ["郑州已登记机械有限公司"]
    template = load_workbook(io.BytesIO(client.get("/console/census/template.xlsx").data))
    assert [c.value for c in template[domain.SHEET_TITLE][1]] == list(domain.LABELS)
    assert template[domain.SHEET_TITLE].max_row >= 1 and not any(
        row[0].value for row in template[domain.SHEET_TITLE].iter_rows(min_row=2)
    )


def test_a_bad_row_is_reported_then_the_fixed_file_is_confirmed_without_uploading_again(app, client, db_session, scene):
    login(client, scene.admin)
    token = session_token(app, client)
    before = count(db_session)
    bad = upload(client, census_xlsx([new_row(1), new_row(2, 所属镇街="大河村", 从业人员=-4)]), token)
    page = text(bad)
    assert bad.status_code == 422
    assert "错误<strong>1</strong>" in page and "新增<strong>1</strong>" in page
    assert "所属镇街：「大河村」不是本区的镇（街道）" in page and "从业人员：不能为负数（填的是 -4）" in page
    assert page.index("大河村") < page.index("郑州普查新1有限公司")  # errors first
    assert "确认导入</button>" not in page
    assert count(db_session) == before

    good = upload(client, census_xlsx([new_row(1), new_row(2)]), token)
    assert good.status_code == 200 and "新增<strong>2</strong>" in text(good)
    assert count(db_session) == before  # a dry run writes nothing
    kept = upload_token(text(good))
    confirm = client.post("/console/census/confirm", data={"csrf_token": token, "upload": kept})
    assert confirm.status_code == 302
    assert "普查表已导入：新增 2 家，更新 0 家，无变化 0 家。" in text(client.get(confirm.headers["Location"]))
    assert count(db_session) == before + 2
    assert "郑州普查新2有限公司" in text(client.get("/console/"))
    # The kept file is gone once imported; the same file again is all unchanged.
    again = client.post("/console/census/confirm", data={"csrf_token": token, "upload": kept})
    assert again.status_code == 410 and "已过期" in text(again)
    second = upload(client, census_xlsx([new_row(1), new_row(2)]), token)
    assert "无变化<strong>2</strong>" in text(second) and "新增<strong>0</strong>" in text(second)


def test_confirm_refuses_an_expired_or_someone_elses_upload(app, client, db_session, scene, redis):
    login(client, scene.admin)
    token = session_token(app, client)
    mine = upload_token(text(upload(client, census_xlsx([new_row(3)]), token)))
    login(client, scene.staff)
    other_token = session_token(app, client)
    stolen = client.post("/console/census/confirm", data={"csrf_token": other_token, "upload": mine})
    assert stolen.status_code == 410 and "请重新上传普查文件" in text(stolen)
    login(client, scene.admin)
    token = session_token(app, client)
    redis.delete(f"ancha:census:upload:{scene.admin.id}:{mine}")  # 30 minutes have passed
    expired = client.post("/console/census/confirm", data={"csrf_token": token, "upload": mine})
    assert expired.status_code == 410 and "超过 30 分钟" in text(expired)
    assert db_session.scalar(select(Enterprise).where(Enterprise.uscc == valid_uscc(9_400_103))) is None
    assert uploads.UPLOAD_TTL_SECONDS == 30 * 60


def test_the_upload_is_kept_thirty_minutes(app, client, scene, redis):
    login(client, scene.admin)
    token = session_token(app, client)
    kept = upload_token(text(upload(client, census_xlsx([new_row(4)]), token)))
    ttl = redis.ttl(f"ancha:census:upload:{scene.admin.id}:{kept}")
    assert 29 * 60 < ttl <= 30 * 60


def test_both_forms_need_the_csrf_token(app, client, db_session, scene):
    login(client, scene.admin)
    token = session_token(app, client)
    kept = upload_token(text(upload(client, census_xlsx([new_row(5)]), token)))
    forged = client.post(
        "/console/census/preview", data={"file": (io.BytesIO(census_xlsx([new_row(5)])), "a.xlsx")},
        content_type="multipart/form-data",
    )
    assert forged.status_code == 400 and "表单令牌" in text(forged)
    forged_confirm = client.post("/console/census/confirm", data={"upload": kept})
    assert forged_confirm.status_code == 400
    assert db_session.scalar(select(Enterprise).where(Enterprise.uscc == valid_uscc(9_400_105))) is None


@pytest.mark.parametrize("size_mb", [15, 50])
def test_files_over_the_limit_get_the_census_page_with_a_chinese_refusal(app, client, scene, size_mb):
    """15 MB is over the census's 10 MB, 50 MB over the app's 20 MB: the same page and words."""
    login(client, scene.admin)
    token = session_token(app, client)
    response = upload(client, domain.ZIP_MAGIC + b"\0" * (size_mb * MB), token)
    page = text(response)
    assert response.status_code == 413
    assert "文件太大：普查文件不超过 10 MB" in page and "上传并预览" in page


def test_a_text_file_renamed_xlsx_and_wrong_columns_are_refused_with_the_reason(app, client, scene):
    login(client, scene.admin)
    token = session_token(app, client)
    renamed = upload(client, "企业名称,统一社会信用代码\n甲,123\n".encode(), token, name="普查.xlsx")
    assert renamed.status_code == 422 and "文件不是 Excel 工作簿（.xlsx）" in text(renamed)
    header = [label for label in domain.LABELS if label not in ("行业", "规模")]
    wrong = upload(client, census_xlsx([new_row(6)], header=header), token)
    assert wrong.status_code == 422 and "缺少列：「行业」、「规模」" in text(wrong)
    empty = upload(client, census_xlsx([]), token)
    assert empty.status_code == 422 and "没有企业数据行" in text(empty)


def test_staff_are_told_which_rows_lie_outside_their_towns(app, client, db_session, scene):
    login(client, scene.staff)
    token = session_token(app, client)
    before = count(db_session)
    response = upload(client, census_xlsx([new_row(7), new_row(8, 所属镇街="古荥镇")]), token)
    assert response.status_code == 422
    assert "所属镇街：「古荥镇」不在您负责的镇（街道）范围内" in text(response)
    assert count(db_session) == before


# --- the API --------------------------------------------------------------------------------------


def bearer(db_session, user) -> dict[str, str]:
    _, token = issue_api_token(db_session, user, NOW, "census test")
    return {"Authorization": f"Bearer {token}"}


def api_import(client, headers, data: bytes, dry_run: str | None = "true", name: str = "census.xlsx"):
    url = "/api/v1/census/import" + (f"?dry_run={dry_run}" if dry_run is not None else "")
    return client.post(url, headers=headers, data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def test_api_export_is_the_import_format(client, db_session, scene):
    headers = bearer(db_session, scene.admin)
    response = client.get("/api/v1/census/export", headers=headers)
    assert response.status_code == 200 and response.mimetype == domain.XLSX_MIME
    dry = api_import(client, headers, response.data)
    body = dry.get_json()
    assert dry.status_code == 200 and body["created"] == body["updated"] == 0 and body["unchanged"] >= 2
    assert client.get("/api/v1/census/export", headers=bearer(db_session, scene.member)).status_code == 403
    assert client.get("/api/v1/census/export").status_code == 401


def test_api_dry_run_then_import_then_idempotent(client, db_session, scene):
    headers = bearer(db_session, scene.admin)
    before = count(db_session)
    data = census_xlsx([new_row(10), new_row(11)])
    dry = api_import(client, headers, data)
    assert dry.status_code == 200
    body = dry.get_json()
    assert {k: body[k] for k in ("created", "updated", "unchanged", "applied")} == {
        "created": 2, "updated": 0, "unchanged": 0, "applied": False,
    }
    assert body["rows"][0] == {
        "row": 2, "uscc": valid_uscc(9_400_110), "name": "郑州普查新10有限公司", "action": "create",
        "errors": [], "changes": [],
    }
    assert count(db_session) == before
    done = api_import(client, headers, data, dry_run="false")
    assert done.status_code == 200 and done.get_json()["applied"] is True and done.get_json()["created"] == 2
    assert count(db_session) == before + 2
    again = api_import(client, headers, data, dry_run="false").get_json()
    assert again["unchanged"] == 2 and again["created"] == 0 and again["updated"] == 0


def test_api_real_import_with_an_error_row_answers_422_with_the_report(client, db_session, scene):
    headers = bearer(db_session, scene.admin)
    before = count(db_session)
    data = census_xlsx([new_row(12), new_row(13, 行业="化工")])
    response = api_import(client, headers, data, dry_run="false")
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["created"] == 1 and body["applied"] is False and body["status"] == 422
    assert body["rows"][1]["action"] == "error" and body["rows"][1]["errors"][0].startswith("行业：「化工」")
    assert count(db_session) == before
    assert api_import(client, headers, data, dry_run="true").status_code == 200  # the dry run itself succeeded


@pytest.mark.parametrize("size_mb", [15, 50])
def test_api_refuses_files_over_the_limit_as_problem_json(client, db_session, scene, size_mb):
    headers = bearer(db_session, scene.admin)
    response = api_import(client, headers, domain.ZIP_MAGIC + b"\0" * (size_mb * MB), dry_run="false")
    assert response.status_code == 413 and response.mimetype == "application/problem+json"
    assert "不超过 10 MB" in response.get_json()["detail"]


def test_api_refuses_a_renamed_text_file_a_bad_flag_and_staff_outside_their_towns(client, db_session, scene):
    admin = bearer(db_session, scene.admin)
    renamed = api_import(client, admin, b"just text", dry_run="false")
    assert renamed.status_code == 422 and "不是 Excel 工作簿" in renamed.get_json()["detail"]
    assert renamed.get_json()["errors"]["file"]
    assert api_import(client, admin, census_xlsx([new_row(14)]), dry_run="maybe").status_code == 422
    staff = bearer(db_session, scene.staff)
    outside = api_import(client, staff, census_xlsx([new_row(15, 所属镇街="古荥镇")]), dry_run="false")
    assert outside.status_code == 422 and "不在您负责的镇（街道）范围内" in outside.get_json()["rows"][0]["errors"][0]
    member = bearer(db_session, scene.member)
    assert api_import(client, member, census_xlsx([new_row(16)])).status_code == 403


def test_the_census_routes_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "get" in paths["/api/v1/census/export"]
    post = paths["/api/v1/census/import"]["post"]
    assert {"200", "413", "422"} <= set(post["responses"])
    assert "multipart/form-data" in post["requestBody"]["content"]
    assert any(p["name"] == "dry_run" for p in post["parameters"])


def test_a_row_refused_while_confirming_is_shown_on_the_page_and_nothing_is_written(app, client, db_session, scene,
                                                                                   monkeypatch):
    from app.enterprises import service as enterprise_service
    from app.errors import ValidationFailed

    login(client, scene.admin)
    token = session_token(app, client)
    before = count(db_session)
    kept = upload_token(text(upload(client, census_xlsx([new_row(20), new_row(21)]), token)))
    real = enterprise_service.create_enterprise

    def refuse_the_second(session, actor, now, data):
        if data["uscc"] == valid_uscc(9_400_121):
            raise ValidationFailed.for_field("uscc", "统一社会信用代码已被“别的企业”使用")
        return real(session, actor, now, data)

    monkeypatch.setattr(enterprise_service, "create_enterprise", refuse_the_second)
    response = client.post("/console/census/confirm", data={"csrf_token": token, "upload": kept})
    page = text(response)
    assert response.status_code == 409
    assert f"第 3 行（统一社会信用代码 {valid_uscc(9_400_121)}）无法写入：统一社会信用代码已被“别的企业”使用" in page
    assert "导入已全部取消，没有写入任何企业" in page
    assert "确认导入</button>" in page  # the kept file may be confirmed again once resolved
    assert count(db_session) == before
