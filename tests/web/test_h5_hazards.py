"""H5 hazard pages: 随手拍 (multipart, staged photos, chat media, idempotent), my hazards,
one hazard with the actions its viewer may take, every action through the page, scope, and
the photo limits."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import select

from app.clock import utcnow
from app.extensions import redis_client
from app.hazard_reporting.hazards import major_hazards, service
from app.hazard_reporting.hazards import queries as hazard_queries
from app.hazard_reporting.hazards.domain import (
    ExtensionStatus,
    HazardAction,
    HazardLevel,
    HazardSource,
    HazardStatus,
    PhotoKind,
)
from app.hazard_reporting.hazards.models import DeadlineExtension, Hazard, HazardPhoto
from app.hazard_reporting.uploads import media_page_key
from app.sandbox.store import sandbox_store
from tests.fixtures.csrf import FormClient
from tests.fixtures.hazard_pages import (
    action_forms,
    events_of,
    fresh,
    h5_login,
    hazard_count,
    hazard_id_from,
    jpeg,
    make_cast,
    photo_file,
    text,
)


@pytest.fixture
def client(client):
    """Posts carry the session's CSRF token, as the pages' forms and scripts do."""
    return FormClient(client)

S = HazardStatus
A = HazardAction
KEY = "k" * 24


@pytest.fixture
def cast(build):
    return make_cast(build)


@pytest.fixture
def media_root(app) -> Path:
    return Path(app.config["SETTINGS"].MEDIA_ROOT)


def report_form(cast, **overrides):
    form = {
        "idempotency_key": KEY,
        "enterprise_id": str(cast.enterprise.id),
        "site_id": str(cast.site.id),
        "description": "配电柜门未关，柜前堆放纸箱",
        "location": "东墙配电柜",
        "level": "general",
        "category": "unsafe_condition",
        "photo": photo_file(),
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


def post_report(client, cast, **overrides):
    return client.post("/h5/report", data=report_form(cast, **overrides), content_type="multipart/form-data")


@pytest.fixture
def reported(db_session, cast, media_root):
    """Report a hazard (with before photos) through the service, as the 随手拍 page would."""

    def make(*, level="general", photos=1, reporter=None, **data):
        now = utcnow()
        actor = cast.build.actor(reporter or cast.worker)
        hazard = service.report_hazard(
            db_session,
            actor,
            now,
            {
                "enterprise_id": cast.enterprise.id,
                "description": "二号车间安全出口被货物堵塞",
                "location": "二号车间东门",
                "category": "unsafe_condition",
                "level": level,
                **data,
            },
        )
        for _ in range(photos):
            service.add_photo(db_session, actor, now, hazard.id, PhotoKind.BEFORE, jpeg(), media_root)
        db_session.flush()
        return hazard

    return make


# --- login ------------------------------------------------------------------------------------


def test_pages_need_a_wechat_login(client):
    page = client.get("/h5/hazards")
    assert page.status_code == 302 and "/sandbox/connect/oauth2/authorize" in page.headers["Location"]
    post = client.post("/h5/report", data={"description": "x"})
    assert post.status_code == 401 and "登录已失效" in text(post)


def test_errors_on_h5_pages_use_the_phone_layout(client):
    page = client.get("/h5/no-such-page")
    assert page.status_code == 404
    assert "vendor/weui.min.css" in text(page) and "页面不存在" in text(page)


# --- 随手拍 -----------------------------------------------------------------------------------


def test_report_form_offers_the_members_sites_and_a_fresh_key(client, cast):
    h5_login(client, cast.worker)
    page = client.get("/h5/report")
    html = text(page)
    assert page.status_code == 200
    assert "随手拍" in html and "熔炼车间配电室" in html and "可能重大" in html
    assert 'name="idempotency_key"' in html
    assert "vendor/weui.min.css" in html  # the H5 layout loads WeUI
    assert "郑州永昌食品有限公司" not in html


def test_someone_without_an_enterprise_cannot_report(client, cast):
    h5_login(client, cast.bureau)
    page = client.get("/h5/report")
    assert page.status_code == 403 and "暂不能上报隐患" in text(page)


def test_report_with_a_photo_creates_the_hazard_with_its_before_photo(client, db_session, cast, media_root):
    h5_login(client, cast.worker)
    response = post_report(client, cast)
    assert response.status_code == 303
    assert "done=report" in response.headers["Location"]
    hazard = fresh(db_session, hazard_id_from(response.headers["Location"]))
    assert (hazard.enterprise_id, hazard.site_id, hazard.reporter_id) == (
        cast.enterprise.id,
        cast.site.id,
        cast.worker.id,
    )
    assert hazard.source is HazardSource.ADHOC and hazard.level is HazardLevel.GENERAL
    assert hazard.status is S.REPORTED and hazard.deadline is not None  # 不过夜
    assert hazard.description == "配电柜门未关，柜前堆放纸箱" and hazard.location == "东墙配电柜"
    [photo] = hazard.photos
    assert photo.kind is PhotoKind.BEFORE and (media_root / photo.path).is_file()
    assert [e.action for e in events_of(db_session, hazard.id)] == [A.REPORT, A.ADD_BEFORE_PHOTO]
    page = client.get(response.headers["Location"])
    assert "隐患已上报" in text(page)


def test_the_same_key_twice_gives_the_same_hazard(client, db_session, cast):
    h5_login(client, cast.worker)
    first = post_report(client, cast)
    second = post_report(client, cast, photo=photo_file())
    assert first.status_code == 303 and second.status_code == 200
    hazard_id = hazard_id_from(first.headers["Location"])
    assert "该隐患已上报" in text(second) and f"/h5/hazards/{hazard_id}" in text(second)
    again = client.post(
        "/h5/report",
        data=report_form(cast),
        content_type="multipart/form-data",
        headers={"Accept": "application/json"},
    )
    assert again.get_json()["hazard_id"] == hazard_id_from(first.headers["Location"])
    assert hazard_count(db_session) == 1
    other_key = post_report(client, cast, idempotency_key="z" * 24)
    assert other_key.headers["Location"] != first.headers["Location"]
    assert hazard_count(db_session) == 2


def test_a_repeat_while_the_first_is_still_being_stored_is_told_to_wait(client, db_session, cast, redis):
    h5_login(client, cast.worker)
    redis.set(f"ancha:h5:report:{cast.worker.id}:{KEY}", b"pending:another-request")
    busy = post_report(client, cast)
    assert busy.status_code == 409 and "上一次提交仍在处理中" in text(busy)
    assert hazard_count(db_session) == 0
    assert (
        redis.get(f"ancha:h5:report:{cast.worker.id}:{KEY}") == b"pending:another-request"
    )  # not ours to free


def test_a_report_without_a_photo_is_refused_and_the_key_can_be_used_again(client, db_session, cast):
    h5_login(client, cast.worker)
    refused = post_report(client, cast, photo=None)
    assert refused.status_code == 422
    html = text(refused)
    assert "请至少拍摄或选择一张隐患照片" in html
    assert "配电柜门未关，柜前堆放纸箱" in html  # what was typed comes back
    assert hazard_count(db_session) == 0
    accepted = post_report(client, cast)  # same key, now with a photo
    assert accepted.status_code == 303 and hazard_count(db_session) == 1


def test_a_missing_description_is_named_in_chinese(client, db_session, cast):
    h5_login(client, cast.worker)
    refused = post_report(client, cast, description="")
    assert refused.status_code == 422
    assert "隐患描述：必填" in text(refused)
    assert "description" not in text(refused).split("隐患描述：必填")[0][-40:]
    assert hazard_count(db_session) == 0


def test_a_non_image_is_refused_in_chinese_and_nothing_is_stored(client, db_session, cast, media_root):
    h5_login(client, cast.worker)
    before = sorted(media_root.rglob("*.jpg"))
    refused = post_report(client, cast, photo=(io.BytesIO(b"%PDF-1.4 not a photo"), "report.pdf"))
    assert refused.status_code == 422
    assert "无法识别的图片，请上传 JPEG、PNG 或 WebP 格式的照片" in text(refused)
    assert hazard_count(db_session) == 0
    assert sorted(media_root.rglob("*.jpg")) == before
    staged = client.post(
        "/h5/report/photos",
        data={"photo": (io.BytesIO(b"hello"), "a.txt")},
        headers={"Accept": "application/json"},
    )
    assert staged.status_code == 422 and "无法识别的图片" in staged.get_json()["message"]


def test_an_upload_over_the_request_limit_gets_a_friendly_chinese_page(client, db_session, cast):
    h5_login(client, cast.worker)
    big = post_report(
        client, cast, photo=(io.BytesIO(b"\xff\xd8\xff" + b"\0" * (21 * 1024 * 1024)), "big.jpg")
    )
    assert big.status_code == 413
    html = text(big)
    assert "照片太大" in html and "一次最多 20 MB" in html and "weui" in html
    assert hazard_count(db_session) == 0


def test_a_description_of_megabytes_is_refused_as_too_long_not_as_a_photo(client, db_session, cast):
    h5_login(client, cast.worker)
    response = post_report(client, cast, description="漏" * (5 * 1024 * 1024 // 3))
    assert response.status_code == 413
    html = text(response)
    assert "填写的文字太长" in html and "内容太长" in html and "照片太大" not in html
    assert hazard_count(db_session) == 0


class _Unread(io.RawIOBase):
    """A 200 MB request body that must never be read: the limit is enforced on the
    declared Content-Length before any of it is parsed."""

    SIZE = 200 * 1024 * 1024
    read_calls = 0

    def __init__(self):
        self.position = 0

    def readable(self):
        return True

    def seekable(self):
        return True

    def seek(self, offset, whence=io.SEEK_SET):
        self.position = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.SIZE}[whence] + offset
        return self.position

    def tell(self):
        return self.position

    def readinto(self, buffer):
        type(self).read_calls += 1
        raise AssertionError("the 200 MB body was read")


def test_a_200_mb_upload_is_refused_without_reading_it(client, cast):
    h5_login(client, cast.worker)
    response = client.post(
        "/h5/report/photos",
        input_stream=_Unread(),
        content_type="multipart/form-data; boundary=x",
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 413
    assert "上传的照片太大" in response.get_json()["message"]
    assert _Unread.read_calls == 0


def test_a_photo_over_10_mb_is_refused_in_chinese(client, cast):
    h5_login(client, cast.worker)
    response = client.post(
        "/h5/report/photos",
        data={"photo": (io.BytesIO(b"\xff\xd8\xff" + b"\0" * (11 * 1024 * 1024)), "big.jpg")},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 422
    assert response.get_json()["message"] == "照片不能超过 10 MB，请压缩后再上传。"


def test_staged_photos_are_previewed_to_their_owner_and_used_by_the_report(client, db_session, cast):
    h5_login(client, cast.worker)
    staged = client.post(
        "/h5/report/photos", data={"photo": photo_file()}, headers={"Accept": "application/json"}
    )
    assert staged.status_code == 201
    token, thumb_url = staged.get_json()["token"], staged.get_json()["thumb_url"]
    thumb = client.get(thumb_url)
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    h5_login(client, cast.fixer)
    assert client.get(thumb_url).status_code == 404  # someone else's staged photo
    h5_login(client, cast.worker)
    done = post_report(client, cast, photo=None, staged=[token])
    assert done.status_code == 303
    hazard = fresh(db_session, hazard_id_from(done.headers["Location"]))
    assert len(hazard.photos) == 1
    assert client.get(thumb_url).status_code == 404  # used up
    expired = post_report(client, cast, photo=None, staged=["x" * 24], idempotency_key="e" * 24)
    assert expired.status_code == 422 and "有照片已过期" in text(expired)


def test_a_photo_sent_in_chat_is_fetched_and_attached(client, db_session, cast):
    meta = sandbox_store().put_media(
        jpeg(), media_type="image", filename="chat.jpg", content_type="image/jpeg"
    )
    h5_login(client, cast.worker)
    page = client.get(f"/h5/report?media_id={meta['media_id']}")
    html = text(page)
    assert page.status_code == 200 and "过期" not in html
    token = html.split('name="staged" value="')[1].split('"')[0]
    reloaded = text(client.get(f"/h5/report?media_id={meta['media_id']}"))
    assert f'name="staged" value="{token}"' in reloaded  # not downloaded twice
    done = post_report(client, cast, photo=None, staged=[token])
    hazard = fresh(db_session, hazard_id_from(done.headers["Location"]))
    assert [p.kind for p in hazard.photos] == [PhotoKind.BEFORE]


def test_a_chat_photo_link_reports_once_however_often_it_is_opened(client, db_session, cast):
    """Issue 12: reopening the reply link and submitting again created a second hazard."""
    meta = sandbox_store().put_media(jpeg(), media_type="image", filename="chat.jpg", content_type="image/jpeg")
    h5_login(client, cast.worker)
    link = f"/h5/report?media_id={meta['media_id']}"

    def submit_from_link():
        html = text(client.get(link))
        key = html.split('name="idempotency_key" value="')[1].split('"')[0]
        token = html.split('name="staged" value="')[1].split('"')[0]
        return post_report(client, cast, photo=None, staged=[token], idempotency_key=key)

    first = submit_from_link()
    assert first.status_code == 303
    hazard_id = hazard_id_from(first.headers["Location"])
    # The link opened again: the page says so at once and offers no second report.
    reopened = client.get(link)
    assert reopened.status_code == 200 and "该隐患已上报" in text(reopened)
    assert f"/h5/hazards/{hazard_id}" in text(reopened)
    # An old tab of the link submitted again, with the Redis memory of the claim gone.
    html_key = media_page_key(meta["media_id"])
    redis_client().delete(f"ancha:h5:report:{cast.worker.id}:{html_key}")
    again = post_report(client, cast, idempotency_key=html_key)
    assert again.status_code == 200 and "该隐患已上报" in text(again)
    assert hazard_count(db_session) == 1
    assert fresh(db_session, hazard_id).report_key == f"{cast.worker.id}:{html_key}"


def test_the_database_refuses_a_second_hazard_with_the_same_report_key(client, db_session, cast, monkeypatch):
    """Two requests racing past the checks: the unique report_key lets one of them store."""
    h5_login(client, cast.worker)
    assert post_report(client, cast).status_code == 303
    redis_client().delete(f"ancha:h5:report:{cast.worker.id}:{KEY}")
    # The second request does not see the first one's row before it inserts (the race).
    monkeypatch.setattr(hazard_queries, "reported_with_key", _blind_until_integrity_error())
    raced = post_report(client, cast)
    assert raced.status_code == 200 and "该隐患已上报" in text(raced)
    assert hazard_count(db_session) == 1


def _blind_until_integrity_error():
    original = hazard_queries.reported_with_key
    calls = {"n": 0}

    def lookup(session, actor, key):
        calls["n"] += 1
        return None if calls["n"] == 1 else original(session, actor, key)

    return lookup


def test_an_expired_chat_photo_is_explained(client, cast):
    h5_login(client, cast.worker)
    page = client.get("/h5/report?media_id=expired-or-unknown-media-id")
    assert page.status_code == 200
    assert "聊天中发送的照片已过期（微信只保留 3 天）" in text(page)


def test_the_js_sdk_server_id_is_fetched_like_a_chat_photo(client, cast):
    meta = sandbox_store().put_media(jpeg(), media_type="image", filename="wx.jpg", content_type="image/jpeg")
    h5_login(client, cast.worker)
    staged = client.post(
        "/h5/report/photos", data={"media_id": meta["media_id"]}, headers={"Accept": "application/json"}
    )
    assert staged.status_code == 201 and staged.get_json()["token"]


def test_a_member_may_claim_a_major_hazard(client, db_session, cast):
    h5_login(client, cast.worker)
    response = post_report(client, cast, level="major")
    hazard = fresh(db_session, hazard_id_from(response.headers["Location"]))
    assert hazard.level is HazardLevel.MAJOR and hazard.deadline is None
    page = text(client.get(response.headers["Location"]))
    assert "重大隐患" in page and "评估认定" in page


# --- lists ------------------------------------------------------------------------------------


def test_my_hazards_tabs(client, db_session, cast, reported):
    hazard = reported()
    h5_login(client, cast.worker)
    mine = text(client.get("/h5/hazards?tab=mine"))
    assert "二号车间安全出口被货物堵塞" in mine
    assert "没有等您处理的隐患" in text(client.get("/h5/hazards?tab=todo"))
    h5_login(client, cast.officer)
    todo = text(client.get("/h5/hazards"))  # the officer lands on 待我处理
    assert f"/h5/hazards/{hazard.id}" in todo and "weui-bar__item_on" in todo
    service.assign(
        db_session,
        cast.build.actor(cast.officer),
        hazard.created_at,
        hazard.id,
        {"assignee_id": cast.fixer.id},
    )
    db_session.flush()
    h5_login(client, cast.fixer)
    assert f"/h5/hazards/{hazard.id}" in text(client.get("/h5/hazards?tab=assigned"))
    h5_login(client, cast.officer)
    assert f"/h5/hazards/{hazard.id}" not in text(
        client.get("/h5/hazards?tab=todo")
    )  # assigned: nothing to decide


def test_the_bureau_waits_only_for_what_it_decides(client, db_session, cast, reported):
    general = reported()
    major = reported(level="major")
    now = utcnow()
    officer, manager = cast.build.actor(cast.officer), cast.build.actor(cast.manager)
    major_hazards.assess(
        db_session, officer, now, major.id, {"criteria_code": "M23-FC-3", "assessor": "王", "opinion": "属实"}
    )
    major_hazards.register(db_session, officer, now, major.id)
    plan = {
        "measures": "加装泄爆片",
        "owner_org": "设备部",
        "owner_person": "赵师傅",
        "fund_amount": "1000",
        "fund_source": "安全生产费用",
        "deadline": "2099-01-31",
        "contingency": "停用除尘系统",
    }
    major_hazards.save_plan(db_session, officer, now, major.id, plan)
    major_hazards.approve_plan(db_session, manager, now, major.id)
    db_session.flush()
    h5_login(client, cast.bureau)
    todo = text(client.get("/h5/hazards"))
    assert f"/h5/hazards/{major.id}" in todo and f"/h5/hazards/{general.id}" not in todo
    assert "随手拍" not in todo.split("</section>")[-1]  # no report button without a membership
    h5_login(client, cast.outsider)
    assert f"/h5/hazards/{major.id}" not in text(client.get("/h5/hazards?tab=todo"))


# --- one hazard: who sees which actions --------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("worker", {"add_before_photo"}),
        ("fixer", set()),
        # Assigners may also ask for more time on the fixer's behalf (the transition table).
        ("officer", {"assign", "reject", "upgrade_to_major", "add_before_photo", "request_extension"}),
        ("manager", {"assign", "reject", "upgrade_to_major", "add_before_photo", "request_extension"}),
        ("bureau", set()),
    ],
)
def test_a_reported_general_hazard_offers_each_role_its_actions(
    client, db_session, cast, who, expected, reported
):
    hazard = reported()
    h5_login(client, getattr(cast, who))
    page = client.get(f"/h5/hazards/{hazard.id}")
    assert page.status_code == 200
    assert action_forms(text(page)) == expected


def test_the_assignee_sees_start_and_extension_only(client, db_session, cast, reported):
    hazard = reported()
    service.assign(
        db_session,
        cast.build.actor(cast.officer),
        hazard.created_at,
        hazard.id,
        {"assignee_id": cast.fixer.id},
    )
    db_session.flush()
    h5_login(client, cast.fixer)
    assert action_forms(text(client.get(f"/h5/hazards/{hazard.id}"))) == {
        "start_rectification",
        "request_extension",
    }


def test_a_member_of_another_enterprise_gets_404(client, db_session, cast, reported):
    hazard = reported()
    photo = hazard.photos[0]
    h5_login(client, cast.outsider)
    assert client.get(f"/h5/hazards/{hazard.id}").status_code == 404
    assert client.get(f"/h5/hazards/{hazard.id}/photos/{photo.id}").status_code == 404
    refused = client.post(f"/h5/hazards/{hazard.id}/actions/reject", data={"reason": "不是隐患"})
    assert refused.status_code == 404 and "隐患不存在或您无权查看" in text(refused)
    assert fresh(db_session, hazard.id).status is S.REPORTED


def test_photos_are_served_through_the_scoped_view(client, db_session, cast, media_root, reported):
    hazard = reported()
    photo = hazard.photos[0]
    h5_login(client, cast.worker)
    original = client.get(f"/h5/hazards/{hazard.id}/photos/{photo.id}")
    thumb = client.get(f"/h5/hazards/{hazard.id}/photos/{photo.id}?size=thumb")
    assert original.status_code == thumb.status_code == 200
    assert original.data == (media_root / photo.path).read_bytes()
    assert thumb.data == (media_root / photo.thumb_path).read_bytes()
    assert "private" in original.headers["Cache-Control"]
    assert client.get(f"/h5/hazards/{hazard.id}/photos/{photo.id + 999}").status_code == 404


# --- every action through the page ---------------------------------------------------------------


def act(client, hazard_id, slug, data=None):
    return client.post(
        f"/h5/hazards/{hazard_id}/actions/{slug}", data=data or {}, content_type="multipart/form-data"
    )


def test_the_general_path_through_the_pages(client, db_session, cast, reported):
    hazard = reported()
    hid = hazard.id

    h5_login(client, cast.officer)
    assigned = act(client, hid, "assign", {"assignee_id": str(cast.fixer.id)})
    assert assigned.status_code == 303 and "done=assign" in assigned.headers["Location"]
    assert fresh(db_session, hid).status is S.ASSIGNED and fresh(db_session, hid).assignee_id == cast.fixer.id
    assert "已指派整改责任人" in text(client.get(assigned.headers["Location"]))

    h5_login(client, cast.fixer)
    assert act(client, hid, "start_rectification").status_code == 303
    assert fresh(db_session, hid).status is S.RECTIFYING

    count = len(events_of(db_session, hid))
    no_photo = act(client, hid, "submit_rectification", {"note": "已清理"})
    assert no_photo.status_code == 422 and "照片：请至少上传一张整改后的照片" in text(no_photo)
    assert fresh(db_session, hid).status is S.RECTIFYING and len(events_of(db_session, hid)) == count

    submitted = act(client, hid, "submit_rectification", {"note": "已清理通道", "photo": photo_file()})
    assert submitted.status_code == 303
    hazard = fresh(db_session, hid)
    assert hazard.status is S.RECTIFIED and [p.kind for p in hazard.photos].count(PhotoKind.AFTER) == 1

    h5_login(client, cast.officer)
    assert action_forms(text(client.get(f"/h5/hazards/{hid}"))) == {"verify", "add_before_photo"}
    no_reason = act(client, hid, "verify", {"passed": "0"})
    assert no_reason.status_code == 422 and "复查不通过须说明原因" in text(no_reason)
    assert fresh(db_session, hid).status is S.RECTIFIED
    failed = act(client, hid, "verify", {"passed": "0", "note": "通道仍有杂物"})
    assert "done=verify_failed" in failed.headers["Location"]
    assert fresh(db_session, hid).status is S.RECTIFYING

    h5_login(client, cast.fixer)
    act(client, hid, "submit_rectification", {"note": "已全部清理", "photo": photo_file()})
    h5_login(client, cast.officer)
    passed = act(client, hid, "verify", {"passed": "1", "note": "合格"})
    assert "done=verify_passed" in passed.headers["Location"]
    hazard = fresh(db_session, hid)
    assert hazard.status is S.CLOSED and hazard.closed_at is not None
    steps = [(e.action, e.from_status, e.to_status) for e in events_of(db_session, hid)]
    assert (A.ASSIGN, S.REPORTED, S.ASSIGNED) in steps
    assert (A.REOPEN, S.RECTIFIED, S.RECTIFYING) in steps
    assert steps[-1] == (A.VERIFY, S.RECTIFIED, S.CLOSED)
    history = text(client.get(f"/h5/hazards/{hid}"))
    assert "通道仍有杂物" in history and "待复查验收 → 已销号" in history


def test_a_worker_cannot_assign_and_nothing_changes(client, db_session, cast, reported):
    hazard = reported()
    h5_login(client, cast.worker)
    refused = act(client, hazard.id, "assign", {"assignee_id": str(cast.fixer.id)})
    assert refused.status_code == 403
    assert "您没有权限对该隐患进行“指派整改人”操作" in text(refused)
    assert fresh(db_session, hazard.id).assignee_id is None
    assert len(events_of(db_session, hazard.id)) == 2


def test_reject_needs_a_reason(client, db_session, cast, reported):
    hazard = reported()
    h5_login(client, cast.officer)
    refused = act(client, hazard.id, "reject", {"reason": "  "})
    assert refused.status_code == 422 and "驳回理由：必填" in text(refused)
    rejected = act(client, hazard.id, "reject", {"reason": "系正常堆放区"})
    assert rejected.status_code == 303
    hazard = fresh(db_session, hazard.id)
    assert hazard.status is S.REJECTED and hazard.rejected_reason == "系正常堆放区"


def test_an_extension_is_asked_and_decided_on_the_pages(client, db_session, cast, reported):
    hazard = reported()
    service.assign(
        db_session,
        cast.build.actor(cast.officer),
        hazard.created_at,
        hazard.id,
        {"assignee_id": cast.fixer.id},
    )
    db_session.flush()
    old_deadline = fresh(db_session, hazard.id).deadline
    h5_login(client, cast.fixer)
    asked = act(
        client, hazard.id, "request_extension", {"new_deadline": "2099-12-31", "reason": "配件 3 天后到货"}
    )
    assert asked.status_code == 303
    assert "request_extension" not in action_forms(
        text(client.get(f"/h5/hazards/{hazard.id}"))
    )  # one at a time

    h5_login(client, cast.officer)
    page = text(client.get(f"/h5/hazards/{hazard.id}"))
    assert "decide_extension" in action_forms(page) and "配件 3 天后到货" in page
    decided = act(client, hazard.id, "decide_extension", {"approved": "1"})
    assert "done=extension_approved" in decided.headers["Location"]
    extension = db_session.scalar(select(DeadlineExtension).where(DeadlineExtension.hazard_id == hazard.id))
    assert extension.status is ExtensionStatus.APPROVED
    assert fresh(db_session, hazard.id).deadline > old_deadline


def test_an_unknown_action_is_404(client, db_session, cast, reported):
    hazard = reported()
    h5_login(client, cast.officer)
    assert act(client, hazard.id, "report").status_code == 404
    assert act(client, hazard.id, "no_such_action").status_code == 404


def test_the_major_duties_on_the_pages(client, db_session, cast, reported):
    hazard = reported(level="major")
    hid = hazard.id
    h5_login(client, cast.officer)
    page = text(client.get(f"/h5/hazards/{hid}"))
    assert "五到位" in page and "五项职责" in page
    assert {"assess", "save_plan", "assign"} <= action_forms(page)

    bad_code = act(client, hid, "assess", {"criteria_code": "FC3", "assessor": "王安全", "opinion": "属实"})
    assert bad_code.status_code == 422 and "判定依据：判定依据条目代码格式不正确" in text(bad_code)
    assessed = act(
        client,
        hid,
        "assess",
        {"criteria_code": "M23-FC-3", "assessor": "王安全", "opinion": "干式除尘器无泄爆"},
    )
    assert assessed.status_code == 303 and fresh(db_session, hid).status is S.ASSESSED
    assert act(client, hid, "register").status_code == 303
    assert fresh(db_session, hid).status is S.REGISTERED
    saved = act(
        client,
        hid,
        "save_plan",
        {
            "measures": "更换泄爆片，加装隔爆阀",
            "owner_org": "设备部",
            "owner_person": "赵师傅",
            "fund_amount": "150000",
            "fund_source": "安全生产费用",
            "deadline": "2099-06-30",
            "milestones": "2099-05-01 完成设计\n2099-06-15 完成安装",
            "contingency": "治理期间停用除尘系统并局部停产",
        },
    )
    assert saved.status_code == 303
    plan = fresh(db_session, hid).plan
    assert plan.fund_amount == 150000 and [m["title"] for m in plan.milestones] == ["完成设计", "完成安装"]

    assert "approve_plan" not in action_forms(text(client.get(f"/h5/hazards/{hid}")))  # the principal's
    h5_login(client, cast.manager)
    approved = act(client, hid, "approve_plan", {"note": "同意立项"})
    assert approved.status_code == 303
    hazard = fresh(db_session, hid)
    assert hazard.status is S.PLAN_APPROVED and hazard.deadline == hazard.plan.deadline
    page = text(client.get(f"/h5/hazards/{hid}"))
    assert "登记编号" in page and "同意立项" in page and "王安全" in page


def test_approving_an_incomplete_plan_shows_what_is_missing(client, db_session, cast, reported):
    hazard = reported(level="major")
    officer = cast.build.actor(cast.officer)
    major_hazards.assess(
        db_session,
        officer,
        hazard.created_at,
        hazard.id,
        {"criteria_code": "M23-FC-3", "assessor": "王", "opinion": "属实"},
    )
    major_hazards.register(db_session, officer, hazard.created_at, hazard.id)
    db_session.flush()
    h5_login(client, cast.manager)
    refused = act(client, hazard.id, "approve_plan")
    assert refused.status_code == 422
    assert "五到位未落实，缺少：整改措施、整改责任、整改资金、整改时限、应急预案。" in text(refused)
    assert fresh(db_session, hazard.id).status is S.REGISTERED


def test_a_bad_milestone_line_is_named(client, db_session, cast, reported):
    hazard = reported(level="major")
    h5_login(client, cast.officer)
    refused = act(client, hazard.id, "save_plan", {"measures": "x", "milestones": "下周 完成"})
    assert refused.status_code == 422 and "节点计划：第 1 行应为“YYYY-MM-DD 节点内容”" in text(refused)
    assert fresh(db_session, hazard.id).plan is None or fresh(db_session, hazard.id).plan.measures is None


def test_more_before_photos_can_be_added_by_the_reporter(client, db_session, cast, reported):
    hazard = reported()
    h5_login(client, cast.worker)
    added = act(client, hazard.id, "add_before_photo", {"photo": photo_file()})
    assert added.status_code == 303
    photos = db_session.scalars(select(HazardPhoto).where(HazardPhoto.hazard_id == hazard.id)).all()
    assert len(photos) == 2


def test_the_detail_shows_an_overdue_deadline_in_red(client, db_session, cast, reported):
    from datetime import timedelta

    hazard = reported()
    db_session.get(Hazard, hazard.id).deadline = hazard.created_at - timedelta(hours=1)
    db_session.flush()
    h5_login(client, cast.officer)
    page = text(client.get(f"/h5/hazards/{hazard.id}"))
    assert "h5-deadline--overdue" in page and "已逾期" in page
    assert "已逾期" in text(client.get("/h5/hazards?tab=todo"))
