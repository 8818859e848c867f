"""我的 → 消息提醒设置 (/h5/me/notifications): 每日汇总 and quiet hours, stored through
`save_preference`; bad input is refused with a Chinese message and nothing stored."""

from __future__ import annotations

from datetime import time
from urllib.parse import urlsplit

import pytest

from app.accounts.domain import Role
from app.accounts.h5_login import SESSION_USER_ID
from app.notifications.models import NotificationPreference
from tests.fixtures.csrf import FormClient
from tests.web.test_h5_identity import sign_in


@pytest.fixture
def client(client):
    """Posts carry the session's CSRF token, as the pages' forms and scripts do."""
    return FormClient(client)

URL = "/h5/me/notifications"


@pytest.fixture
def manager(build):
    enterprise = build.enterprise(name="郑州恒达铸造有限公司")
    user = build.member(enterprise, Role.MANAGER)
    build.session.flush()
    return user


@pytest.fixture
def signed_in(client, manager):
    with client.session_transaction() as session:
        session[SESSION_USER_ID] = manager.id
    return client


def _stored(db_session, user) -> NotificationPreference | None:
    db_session.expire_all()
    return db_session.get(NotificationPreference, user.id)


def test_the_pages_need_an_h5_login(client, db_session, manager):
    page = client.get(URL)
    assert page.status_code == 302
    assert urlsplit(page.headers["Location"]).path == "/sandbox/connect/oauth2/authorize"
    post = client.post(URL, data={"digest_only": "1", "quiet_start": "23", "quiet_end": "6"})
    assert post.status_code == 401 and "登录已失效" in post.data.decode()
    assert _stored(db_session, manager) is None


def test_me_links_to_the_settings_and_the_form_shows_the_defaults(client, manager):
    sign_in(client, manager.openid)
    me = client.get("/h5/me").data.decode()
    assert "消息提醒设置" in me and f'href="{URL}"' in me
    page = client.get(URL)
    assert page.status_code == 200
    html = page.data.decode()
    for text in ("每日汇总", "逐条提醒改为每天早上一条汇总", "不设免打扰", "重大隐患提醒不受免打扰限制", 'class="weui-switch"'):
        assert text in html
    # No row yet: quiet hours 22:00–07:00, no digest.
    assert '<option value="22" selected>22:00</option>' in html
    assert '<option value="7" selected>07:00</option>' in html
    assert "checked" not in html.split('id="digest_only"')[1].split(">")[0]


def test_saving_digest_and_quiet_hours_stores_them(signed_in, db_session, manager):
    answer = signed_in.post(URL, data={"digest_only": "1", "quiet_start": "21", "quiet_end": "6"})
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith(f"{URL}?saved=1")
    preference = _stored(db_session, manager)
    assert preference is not None and preference.digest_only is True
    assert (preference.quiet_start, preference.quiet_end) == (time(21), time(6))
    page = signed_in.get(answer.headers["Location"]).data.decode()
    assert "已保存" in page
    assert '<option value="21" selected>21:00</option>' in page
    assert "checked" in page.split('id="digest_only"')[1].split(">")[0]


def test_clearing_quiet_hours_stores_nulls(signed_in, db_session, manager):
    signed_in.post(URL, data={"digest_only": "1", "quiet_start": "22", "quiet_end": "7"})
    answer = signed_in.post(URL, data={"quiet_start": "", "quiet_end": ""})
    assert answer.status_code == 302
    preference = _stored(db_session, manager)
    assert preference.digest_only is False  # unchecked switch: not sent
    assert preference.quiet_start is None and preference.quiet_end is None
    page = signed_in.get(URL).data.decode()
    assert '<option value="" selected>不设免打扰</option>' in page


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("8", "8", "免打扰开始和结束时间不能相同"),
        ("24", "7", "免打扰开始时间应为 0–23 点"),
        ("22", "-1", "免打扰结束时间应为 0–23 点"),
        ("abc", "7", "免打扰开始时间应为 0–23 点"),
        ("22", "", "免打扰开始和结束时间须同时填写或同时留空"),
    ],
)
def test_bad_input_is_refused_and_nothing_stored(signed_in, db_session, manager, start, end, message):
    answer = signed_in.post(URL, data={"digest_only": "1", "quiet_start": start, "quiet_end": end})
    assert answer.status_code == 422
    html = answer.data.decode()
    assert message in html and "已保存" not in html
    assert _stored(db_session, manager) is None


def test_bad_input_leaves_the_stored_settings_alone(signed_in, db_session, manager):
    signed_in.post(URL, data={"quiet_start": "23", "quiet_end": "6"})
    answer = signed_in.post(URL, data={"digest_only": "1", "quiet_start": "5", "quiet_end": "5"})
    assert answer.status_code == 422
    preference = _stored(db_session, manager)
    assert preference.digest_only is False
    assert (preference.quiet_start, preference.quiet_end) == (time(23), time(6))
