"""H5 scan-to-check pages: the scan entry (OAuth, who owes what at a point), the check form
(only after a scan), submitting with and without JavaScript, staged photos (files and
WeChat media), once-only submission, the result page and my tasks."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from app.accounts.h5_login import SESSION_USER_ID
from app.hazard_reporting.checklists import service as checklist_service
from app.hazard_reporting.checks import h5 as check_h5
from app.hazard_reporting.checks import service
from app.hazard_reporting.checks.domain import CheckLevel, CheckTaskStatus, SubmissionStatus
from app.hazard_reporting.checks.models import CheckSubmission
from app.hazard_reporting.checks.queries import task_items
from app.hazard_reporting.hazards.domain import HazardSource, PhotoKind
from app.hazard_reporting.hazards.models import Hazard, HazardPhoto
from app.hazard_reporting.schedules import service as schedule_service
from app.sandbox.store import sandbox_store
from tests.fixtures.checks import KEY, MONDAY, CheckOrg, counts, jpeg
from tests.fixtures.csrf import FormClient


@pytest.fixture
def client(client):
    """Posts carry the session's CSRF token, as the pages' forms and scripts do."""
    return FormClient(client)

JSON = {"Accept": "application/json"}


@pytest.fixture
def clock(monkeypatch):
    """The pages' clock, settable: Monday 10:00 local unless a test moves it."""

    class Clock:
        now = MONDAY

        def set(self, moment):
            self.now = moment

    clock = Clock()
    monkeypatch.setattr(check_h5, "utcnow", lambda: clock.now)
    return clock


@pytest.fixture
def org(build, db_session, clock) -> CheckOrg:
    checklist_service.load_standard_checklists(db_session, MONDAY)
    org = CheckOrg(build)
    org.generate()
    return org


def login(client, user) -> None:
    with client.session_transaction() as session:
        session[SESSION_USER_ID] = user.id


def text(response) -> str:
    return response.get_data(as_text=True)


def scan(client, org, user, site=None) -> str:
    login(client, user)
    response = client.get(f"/h5/scan/{(site or org.s1).token}")
    assert response.status_code == 200, text(response)
    return text(response)


def form_data(db_session, task, site, **results) -> dict:
    """A plain (no JavaScript) form: every item 符合 unless `results` says otherwise."""
    data = {"site_token": site.token, "idempotency_key": KEY}
    for resolved in task_items(db_session, task):
        code = resolved.item.code
        data[f"result-{code}"] = results.get(code, "ok")
    return data


def stage(client, task, data: bytes | None = None, **form):
    body = {"photo": (io.BytesIO(data if data is not None else jpeg()), "photo.jpg")} if not form else form
    return client.post(f"/h5/checks/{task.id}/photos", data=body, headers=JSON)


# --- the scan entry -------------------------------------------------------------------------------


def test_an_unknown_or_revoked_code_is_a_chinese_404_before_any_login(client, org, db_session):
    missing = client.get("/h5/scan/not-a-token")
    assert missing.status_code == 404 and "二维码无效或已停用" in text(missing)
    org.s1.active = False
    db_session.flush()
    revoked = client.get(f"/h5/scan/{org.s1.token}")
    assert revoked.status_code == 404 and f"排查点位“{org.s1.name}”已停用" in text(revoked)


def test_a_scan_signs_the_member_in_through_wechat_and_comes_back(client, org):
    to_authorize = client.get(f"/h5/scan/{org.s1.token}")
    assert to_authorize.status_code == 302
    authorize = urlsplit(to_authorize.headers["Location"])
    assert authorize.path == "/sandbox/connect/oauth2/authorize"
    to_callback = client.get(f"{authorize.path}?{authorize.query}&openid={org.leader.openid}")
    callback = urlsplit(to_callback.headers["Location"])
    assert callback.path == "/h5/oauth/callback"
    back = client.get(f"{callback.path}?{callback.query}")
    assert back.status_code == 302 and back.headers["Location"] == f"/h5/scan/{org.s1.token}"
    page = text(client.get(f"/h5/scan/{org.s1.token}"))
    assert "<h1>熔炼车间配电室</h1>" in page and "班组日排查" in page


@pytest.mark.parametrize(
    ("who", "site", "label", "due"),
    [
        ("leader", "s1", "班组日排查", "今天 17:00 截止"),
        ("head", "s1", "部门周排查", "11-27 周五 17:00 截止"),
        ("manager", "s2", "经理月排查", "11-30 周一 17:00 截止"),
    ],
)
def test_each_role_is_offered_its_check_at_the_point(client, org, who, site, label, due):
    task = {
        "leader": org.daily,
        "head": lambda: org.task(CheckLevel.WEEKLY, unit_id=org.d1.id),
        "manager": lambda: org.task(CheckLevel.MONTHLY),
    }[who]()
    point = getattr(org, site)
    page = scan(client, org, getattr(org, who), point)
    assert label in page and "开始检查" in page
    assert f'href="/h5/checks/{task.id}?site={point.token}"' in page
    assert page.count("开始检查") == 1  # only their own check
    assert due in page


def test_a_worker_is_told_there_is_nothing_to_check_here(client, org):
    page = scan(client, org, org.worker)
    assert "<h1>熔炼车间配电室</h1>" in page and "暂无需要完成的排查" in page
    assert "开始检查" not in page and 'href="/h5/report"' in page


def test_after_the_check_the_point_shows_it_done_and_the_next_one_due(client, db_session, org):
    login(client, org.leader)
    unscanned = client.post(f"/h5/checks/{org.daily().id}", data=form_data(db_session, org.daily(), org.s1))
    assert unscanned.status_code == 422 and "请在现场扫描点位二维码后再开始检查" in text(unscanned)
    scan(client, org, org.leader)
    done = client.post(f"/h5/checks/{org.daily().id}", data=form_data(db_session, org.daily(), org.s1))
    assert done.status_code == 303
    page = text(client.get(f"/h5/scan/{org.s1.token}"))
    assert "暂无需要完成的排查" in page and "本期已完成" in page and "按时完成" in page
    assert "下次：<b>班组日排查</b> · 明天 17:00 截止" in page


def test_a_member_of_another_enterprise_is_refused_at_the_point(client, build, org):
    other = CheckOrg(build, name="郑州永昌食品有限公司")
    login(client, other.leader)
    page = client.get(f"/h5/scan/{org.s1.token}")
    assert page.status_code == 403 and "您不是「郑州恒达铸造有限公司」的在册人员" in text(page)
    form = client.get(f"/h5/checks/{org.daily().id}?site={org.s1.token}")
    assert form.status_code == 403 and "在册人员" in text(form)


# --- the form ------------------------------------------------------------------------------------


def test_the_form_needs_a_scan_of_the_point(client, db_session, org):
    task = org.daily()
    login(client, org.leader)
    no_site = client.get(f"/h5/checks/{task.id}")
    assert no_site.status_code == 400 and "请在现场扫描点位二维码" in text(no_site)
    not_scanned = client.get(f"/h5/checks/{task.id}?site={org.s1.token}")
    assert not_scanned.status_code == 403 and "请在现场扫描点位二维码" in text(not_scanned)
    client.get(f"/h5/scan/{org.s1.token}")
    page = text(client.get(f"/h5/checks/{task.id}?site={org.s1.token}"))
    assert "<h1>班组日排查</h1>" in page and "熔炼车间配电室" in page
    items = task_items(db_session, task)
    assert page.count('<section class="ck-item') == len(items)
    for group in ("场所环境", "设备设施", "作业行为"):
        assert f'<div class="ck-group">{group}</div>' in page
    assert 'name="result-GEN-01" value="ok"' in page and 'name="result-GEN-01" value="hazard"' in page
    assert 'name="file-GEN-01" accept="image/*" capture="environment"' in page
    assert "不符合即重大隐患" in page  # DUST-09
    assert 'data-draft-key="ancha.check.draft.' in page


def test_the_form_of_a_check_owed_by_someone_else_is_refused(client, org):
    scan(client, org, org.head)
    page = client.get(f"/h5/checks/{org.daily().id}?site={org.s1.token}")
    assert page.status_code == 403 and "不由您负责" in text(page)


def test_all_ok_without_javascript_closes_the_task(client, db_session, org):
    task = org.daily()
    scan(client, org, org.leader)
    response = client.post(
        f"/h5/checks/{task.id}",
        data={
            **form_data(db_session, task, org.s1),
            "latitude": "34.81",
            "longitude": "113.62",
            "location_accuracy": "12",
        },
    )
    assert response.status_code == 303 and response.headers["Location"] == f"/h5/checks/{task.id}/result"
    db_session.expire_all()
    submission = db_session.scalar(select(CheckSubmission).where(CheckSubmission.task_id == task.id))
    assert submission.status is SubmissionStatus.ON_TIME and submission.scanned_at == MONDAY
    assert submission.site_token == org.s1.token and submission.location_accuracy == 12
    assert task.status is CheckTaskStatus.DONE
    page = text(client.get(response.headers["Location"]))
    assert "班组日排查已提交" in page and "按时完成" in page and "本次检查未发现隐患" in page
    assert "王班长" in page and "±12 米" in page


def test_a_hazard_with_a_staged_photo_reports_a_hazard_with_its_before_photo(client, db_session, org):
    task = org.daily()
    scan(client, org, org.leader)
    staged = stage(client, task)
    assert staged.status_code == 201
    token = staged.get_json()["token"]
    thumb = client.get(staged.get_json()["thumb_url"])
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    data = form_data(db_session, task, org.s1, **{"GEN-04": "hazard"})
    data |= {"note-GEN-04": "2号冲床皮带防护罩缺失", "photo-GEN-04": token}
    response = client.post(f"/h5/checks/{task.id}", data=data, headers=JSON)
    assert response.status_code == 200, text(response)
    assert response.get_json()["url"] == f"/h5/checks/{task.id}/result"
    hazard = db_session.scalar(select(Hazard).where(Hazard.source_task_id == task.id))
    assert hazard.source is HazardSource.CHECK and hazard.item_code == "GEN-04"
    photos = db_session.scalars(select(HazardPhoto).where(HazardPhoto.hazard_id == hazard.id)).all()
    assert [p.kind for p in photos] == [PhotoKind.BEFORE]
    # The staged photo is used up.
    assert client.get(staged.get_json()["thumb_url"]).status_code == 404
    page = text(client.get(f"/h5/checks/{task.id}/result"))
    assert f'href="/h5/hazards/{hazard.id}"' in page and "2号冲床皮带防护罩缺失" in page
    assert "本次发现的隐患" in page and ">1</b><span>隐患" in page


def test_a_hazard_without_photo_or_description_is_refused_and_nothing_stored(client, db_session, org):
    task = org.daily()
    scan(client, org, org.leader)
    data = form_data(db_session, task, org.s1, **{"GEN-04": "hazard", "GEN-07": "hazard"})
    data |= {"note-GEN-04": "防护罩缺失", "photo-GEN-07": stage(client, task).get_json()["token"]}
    response = client.post(f"/h5/checks/{task.id}", data=data, headers=JSON)
    assert response.status_code == 422
    body = response.get_json()
    assert body["fields"] == {
        "answers.GEN-04": "请至少拍摄一张隐患照片",
        "answers.GEN-07": "请简要描述发现的隐患",
    }
    assert body["message"].startswith("还有 2 项需要处理。")
    assert counts(db_session) == (0, 0, 0, 0) and task.status is CheckTaskStatus.PENDING
    # Without JavaScript the form comes back as it was filled in, items marked.
    page = client.post(f"/h5/checks/{task.id}", data=data)
    html = text(page)
    assert page.status_code == 422 and "还有 2 项需要处理" in html
    assert (
        'id="item-GEN-04" data-item="GEN-04"' in html
        and 'class="ck-item ck-item--problem" id="item-GEN-04"' in html
    )
    assert re.search(r'name="result-GEN-04" value="hazard" checked', html)
    assert ">防护罩缺失</textarea>" in html
    assert f'name="photo-GEN-07" value="{data["photo-GEN-07"]}"' in html  # still staged
    assert f'name="idempotency_key" value="{KEY}"' in html


def test_a_photo_that_is_not_an_image_is_refused_when_picked(client, org):
    task = org.daily()
    scan(client, org, org.leader)
    refused = stage(client, task, b"%PDF-1.4 a document")
    assert refused.status_code == 422 and "无法识别的图片" in refused.get_json()["message"]
    nothing = stage(client, task, note="no photo here")
    assert nothing.status_code == 422 and nothing.get_json()["message"] == "请选择照片"


def test_a_form_over_the_request_limit_gets_a_chinese_page_back_to_the_form(client, db_session, org):
    task = org.daily()
    scan(client, org, org.leader)
    form_url = f"http://localhost/h5/checks/{task.id}"
    fields = form_data(db_session, task, org.s1)

    def post(referrer: str):
        data = {**fields, "photo": (io.BytesIO(b"\0" * (21 * 1024 * 1024)), "a.jpg")}
        return client.post(f"/h5/checks/{task.id}", data=data, headers={"Referer": referrer})

    refused = post(form_url)
    html = text(refused)
    assert refused.status_code == 413 and "照片太大" in html and "一次最多 20 MB" in html
    assert f'href="{form_url}"' in html  # back to the form, not a dead end
    assert db_session.get(type(task), task.id).status is CheckTaskStatus.PENDING
    # From elsewhere (no referrer of ours), the way back is the task list.
    assert 'href="/h5/tasks"' in text(post("https://evil.example/"))


def test_a_wechat_photo_is_fetched_with_media_get(client, org):
    task = org.daily()
    scan(client, org, org.leader)
    meta = sandbox_store().put_media(jpeg(), media_type="image", filename="wx.jpg", content_type="image/jpeg")
    staged = stage(client, task, media_id=meta["media_id"])
    assert staged.status_code == 201
    assert client.get(staged.get_json()["thumb_url"]).status_code == 200
    expired = stage(client, task, media_id="expired-or-unknown-media-id")
    assert expired.status_code == 422 and "无法从微信获取这张照片" in expired.get_json()["message"]


def test_staged_photos_are_private_to_their_user(client, org):
    task = org.daily()
    scan(client, org, org.leader)
    url = stage(client, task).get_json()["thumb_url"]
    login(client, org.leader_b)
    assert client.get(url).status_code == 404


# --- once only -------------------------------------------------------------------------------------


def test_a_repeated_submission_shows_the_first_one(client, db_session, org):
    task = org.daily()
    scan(client, org, org.leader)
    data = form_data(db_session, task, org.s1)
    first = client.post(f"/h5/checks/{task.id}", data=data, headers=JSON)
    again = client.post(f"/h5/checks/{task.id}", data=data, headers=JSON)
    assert first.get_json() == again.get_json()
    other_key = client.post(
        f"/h5/checks/{task.id}", data={**data, "idempotency_key": "another-key-0123456789"}
    )
    assert other_key.status_code == 303 and other_key.headers["Location"].endswith("/result?again=1")
    assert "这项检查已经提交过" in text(client.get(other_key.headers["Location"]))
    assert counts(db_session)[0] == 1
    # Opening the form again goes to the result.
    reopened = client.get(f"/h5/checks/{task.id}?site={org.s1.token}")
    assert reopened.status_code == 302 and reopened.headers["Location"] == f"/h5/checks/{task.id}/result"
    # The co-leader is told who did it.
    scan(client, org, org.leader_b)
    page = client.post(f"/h5/checks/{task.id}", data={**data, "idempotency_key": "co-leader-key-0123456789"})
    assert page.status_code == 409 and "该检查已由王班长于 11-23 10:00 提交" in text(page)


# --- time ---------------------------------------------------------------------------------------------


def test_late_within_grace_is_done_late_and_red_before(client, db_session, org, clock):
    task = org.daily()
    clock.set(task.due_at + timedelta(minutes=30))
    login(client, org.leader)
    tasks = text(client.get("/h5/tasks"))
    assert "班组日排查" in tasks and "已逾期" in tasks and 'class="ck-red"' in tasks
    assert "请在 今天 19:00 前完成" in tasks
    scan(client, org, org.leader)
    response = client.post(f"/h5/checks/{task.id}", data=form_data(db_session, task, org.s1))
    assert response.status_code == 303
    db_session.expire_all()
    assert task.status is CheckTaskStatus.DONE_LATE
    assert "逾期完成" in text(client.get(f"/h5/checks/{task.id}/result"))


def test_an_old_scan_must_be_renewed(client, db_session, org, clock):
    task = org.daily()
    scan(client, org, org.leader)
    clock.set(MONDAY + timedelta(hours=4, minutes=1))
    form = client.get(f"/h5/checks/{task.id}?site={org.s1.token}")
    assert form.status_code == 403 and "扫码已超过 4 小时" in text(form)
    refused = client.post(f"/h5/checks/{task.id}", data=form_data(db_session, task, org.s1), headers=JSON)
    assert refused.status_code == 422 and "扫码已超过 4 小时" in refused.get_json()["message"]
    client.get(f"/h5/scan/{org.s1.token}")  # scanned again: fine
    assert client.post(f"/h5/checks/{task.id}", data=form_data(db_session, task, org.s1)).status_code == 303


# --- my tasks ------------------------------------------------------------------------------------------


def test_my_tasks_lists_owed_done_and_missed(client, db_session, org, clock):
    login(client, org.leader)
    page = text(client.get("/h5/tasks"))
    assert "待完成（1）" in page and "班组日排查" in page and "今天 17:00 截止" in page
    assert "在「熔炼车间」的任一排查点位扫码检查" in page and "已逾期" not in page
    scan(client, org, org.leader)
    client.post(f"/h5/checks/{org.daily().id}", data=form_data(db_session, org.daily(), org.s1))
    wednesday = MONDAY + timedelta(days=2)
    schedule_service.generate_tasks(db_session, wednesday)
    service.sweep_overdue(db_session, wednesday)
    clock.set(wednesday)
    page = text(client.get("/h5/tasks"))
    assert "最近完成" in page and f'href="/h5/checks/{org.daily().id}/result"' in page and "按时完成" in page
    assert "漏检" in page and "应于 昨天 17:00 前完成" in page
    assert "待完成（1）" in page


def test_a_missed_check_says_why_and_who_may_excuse_it(client, db_session, org, clock):
    login(client, org.leader)
    wednesday = MONDAY + timedelta(days=2)
    schedule_service.generate_tasks(db_session, wednesday)
    service.sweep_overdue(db_session, wednesday)
    clock.set(wednesday)
    page = text(client.get("/h5/tasks"))
    assert "已超过截止时间（截止 17:00，宽限 120 分钟）未提交；可由 部门负责人/经理/安全管理员 在管理后台批准免除" in page


def test_my_tasks_for_someone_without_an_enterprise(client, build, org):
    login(client, build.user(display_name="无企业用户"))
    assert "您还不是任何企业的成员" in text(client.get("/h5/tasks"))


def test_pages_need_a_wechat_login(client, org):
    task = org.daily()
    assert client.get("/h5/tasks").status_code == 302
    refused = client.post(f"/h5/checks/{task.id}", data={}, headers=JSON)
    assert refused.status_code == 401 and "登录已失效" in refused.get_json()["message"]
    query = parse_qs(urlsplit(client.get(f"/h5/checks/{task.id}/result").headers["Location"]).query)
    assert query["scope"] == ["snsapi_base"]


def test_the_check_forms_bottom_bar_is_opaque_and_clear_of_the_safe_areas(client):
    """Issue 12: the bottom bar was see-through (items showed through it and its buttons)."""
    import re

    css = client.get("/static/h5/check.css").get_data(as_text=True)
    rules = dict(re.findall(r"^(\.ck-bottom(?:[^{]*)?)\{([^}]*)\}", css, flags=re.M))
    bar = rules[".ck-bottom "]
    assert "background: #ededed" in bar and "rgba" not in bar
    for side in ("bottom", "left", "right"):
        assert f"env(safe-area-inset-{side})" in bar
    assert "background: #fff" in rules[".ck-bottom .ck-bottom__rest "]
