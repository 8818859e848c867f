"""GET|POST /wechat/callback end to end: authentication, hostile bodies, modes, dedup."""

from __future__ import annotations

import secrets
import threading
import time
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from app.accounts.domain import Role
from app.accounts.models import Invite, Membership, User
from app.accounts.service import create_invite
from app.clock import utcnow
from app.enterprises.models import Town
from app.extensions import db
from app.wechat.crypto import MessageCrypto, check_msg_signature, sign
from app.wechat.parsing import MAX_BODY_BYTES, parse_xml
from app.wechat_inbound import callback as callback_module
from app.wechat_inbound.router import Router
from tests.unit.test_wechat_parsing import BILLION_LAUGHS, EXTERNAL_ENTITY

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
NEWCOMER = "oNEWCOMER0000000000000000000"
URL = "/wechat/callback"


@pytest.fixture
def safe_mode(app, monkeypatch):
    """The account configured with an EncodingAESKey (compatible/safe mode accepted)."""
    configured = app.config["SETTINGS"].model_copy(update={"WECHAT_ENCODING_AES_KEY": AES_KEY})
    monkeypatch.setitem(app.config, "SETTINGS", configured)
    return MessageCrypto(configured.wechat_token, AES_KEY, configured.wechat_app_id)


def query(token: str, *, timestamp: str | None = None, nonce: str | None = None, **extra: str) -> str:
    """A signed callback URL; like WeChat, a fresh nonce for every delivery unless given."""
    timestamp = timestamp or str(int(time.time()))
    nonce = nonce or f"n-{secrets.token_hex(6)}"
    params = {"signature": sign(token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce, **extra}
    return f"{URL}?{urlencode(params)}"


def message(openid: str, msg_type: str, body: str = "", **fields: str) -> str:
    base = {"ToUserName": "gh_ancha", "FromUserName": openid, "CreateTime": str(int(time.time())), "MsgType": msg_type}
    inner = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in {**base, **fields}.items())
    return f"<xml>{inner}{body}</xml>"


def post(client, settings, body: str | bytes, **params: str):
    return client.post(query(settings.wechat_token, **params), data=body, content_type="text/xml")


def encrypted_post(client, crypto: MessageCrypto, plaintext: str, *, compatible: bool = False, **overrides):
    timestamp, nonce = str(int(time.time())), overrides.pop("nonce", None) or f"n-{secrets.token_hex(6)}"
    encrypted = crypto.encrypt(plaintext)
    body = f"<xml><ToUserName><![CDATA[gh_ancha]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    if compatible:
        body = plaintext.replace("</xml>", f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>")
    params = {
        "signature": sign(crypto.token, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
        "encrypt_type": "aes",
        "msg_signature": sign(crypto.token, timestamp, nonce, encrypted),
        **overrides,
    }
    return client.post(f"{URL}?{urlencode(params)}", data=body, content_type="text/xml")


def reply_content(response, crypto: MessageCrypto | None = None) -> str:
    assert response.status_code == 200 and response.mimetype == "application/xml"
    fields = parse_xml(response.get_data(as_text=True))
    if crypto is not None:
        check_msg_signature(crypto.token, fields["MsgSignature"], fields["TimeStamp"], fields["Nonce"], fields["Encrypt"])
        fields = parse_xml(crypto.decrypt(fields["Encrypt"]))
    assert fields["MsgType"] == "text"
    return fields["Content"]


def assert_success(response):
    assert response.status_code == 200
    assert response.get_data() == b"success" and response.mimetype == "text/plain"


@pytest.fixture
def invite(build, db_session):
    """A fresh invite for an unbound worker; returns (invite, worker)."""
    enterprise = build.enterprise()
    admin = build.member(enterprise, Role.ENTERPRISE_ADMIN)
    worker = build.member(enterprise, Role.WORKER, user=build.user(openid=None, subscribed=False))
    membership = db_session.scalar(select(Membership).where(Membership.user_id == worker.id))
    return create_invite(db_session, build.actor(admin), utcnow(), membership.id, ttl=timedelta(hours=1)), worker


def assert_nothing_stored(db_session, redis, invite_row, worker):
    db_session.expire_all()
    assert db_session.get(Invite, invite_row.id).used_at is None
    assert db_session.get(User, worker.id).openid is None
    assert redis.keys("wechat:*") == []


# --- URL verification ----------------------------------------------------------------------


def test_url_verification_echoes_echostr(client, settings):
    response = client.get(query(settings.wechat_token, echostr="4375120948345356249"))
    assert response.status_code == 200 and response.get_data() == b"4375120948345356249"
    assert response.mimetype == "text/plain"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda q: q.replace("signature=", "signature=0"),
        lambda q: q.replace("nonce=n-123", "nonce=n-124"),
        lambda q: q.split("?")[0] + "?echostr=1",
    ],
)
def test_url_verification_refuses_bad_signatures(client, settings, mutate):
    response = client.get(mutate(query(settings.wechat_token, nonce="n-123", echostr="1")))
    assert response.status_code == 403 and b"1" not in response.get_data()


def test_url_verification_refuses_stale_timestamps(client, settings):
    stale = str(int(time.time()) - settings.WECHAT_TIMESTAMP_WINDOW - 5)
    assert client.get(query(settings.wechat_token, timestamp=stale, echostr="1")).status_code == 403


def test_url_verification_without_echostr(client, settings):
    assert client.get(query(settings.wechat_token)).status_code == 400


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_methods_are_refused_with_the_allowed_ones(client, settings, method):
    response = client.open(query(settings.wechat_token), method=method, data="<xml/>")
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "POST"}


def test_the_delivery_session_is_closed_when_the_request_ends(client, settings, invite, monkeypatch):
    """The endpoint runs ahead of Flask's views; its application context still closes the
    database session a handler opened."""
    closed = []

    def close_and_note(exc=None):
        closed.append(db.opened_request_session())
        db.close_request_session(exc)

    monkeypatch.setattr(client.application, "teardown_appcontext_funcs", [close_and_note])
    invite_row, _worker = invite
    post(client, settings, message(NEWCOMER, "event", Event="SCAN", EventKey=f"bind:{invite_row.token}"))
    assert len(closed) == 1 and closed[0] is not None
    assert client.get("/healthz").status_code == 200  # every other path is Flask's


# --- plaintext mode ------------------------------------------------------------------------


def test_plaintext_text_message_gets_a_text_reply(client, settings):
    response = post(client, settings, message(NEWCOMER, "text", Content="帮助", MsgId="1001"))
    assert "使用说明" in reply_content(response)
    fields = parse_xml(response.get_data(as_text=True))
    assert fields["ToUserName"] == NEWCOMER and fields["FromUserName"] == "gh_ancha"


def test_nothing_to_say_is_the_literal_success(client, settings):
    assert_success(post(client, settings, message(NEWCOMER, "event", Event="unsubscribe")))


def test_bad_signature_is_refused_and_nothing_is_stored(client, settings, invite, db_session, redis):
    invite_row, worker = invite
    body = message(NEWCOMER, "event", Event="SCAN", EventKey=f"bind:{invite_row.token}")
    timestamp = str(int(time.time()))
    forged = f"{URL}?{urlencode({'signature': sign('wrong-token', timestamp, 'n'), 'timestamp': timestamp, 'nonce': 'n'})}"
    assert client.post(forged, data=body, content_type="text/xml").status_code == 403
    assert client.post(URL, data=body, content_type="text/xml").status_code == 403  # unsigned
    assert_nothing_stored(db_session, redis, invite_row, worker)


@pytest.mark.parametrize("offset", [-1, 1])
def test_stale_timestamp_is_refused_and_nothing_is_stored(client, settings, invite, db_session, redis, offset):
    invite_row, worker = invite
    body = message(NEWCOMER, "event", Event="SCAN", EventKey=f"bind:{invite_row.token}")
    stale = str(int(time.time()) + offset * (settings.WECHAT_TIMESTAMP_WINDOW + 5))
    assert post(client, settings, body, timestamp=stale).status_code == 403
    assert_nothing_stored(db_session, redis, invite_row, worker)


@pytest.mark.parametrize("document", [BILLION_LAUGHS, EXTERNAL_ENTITY])
def test_entity_attacks_are_refused_quickly(client, settings, redis, document):
    started = time.perf_counter()
    response = post(client, settings, document)
    assert response.status_code == 400
    assert time.perf_counter() - started < 0.5
    assert redis.keys("wechat:*") == []


def test_oversize_body_is_refused(client, settings, redis):
    body = message(NEWCOMER, "text", Content="隐" * (MAX_BODY_BYTES // 3 + 10), MsgId="1002")
    assert post(client, settings, body).status_code == 413
    assert redis.keys("wechat:*") == []


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<xml>",
        b'{"MsgType": "text"}',
        b"<xml><ToUserName>gh</ToUserName></xml>",
        b"\xff\xfe\x00garbage",
        b"<xml><MsgType>event</MsgType><FromUserName>o</FromUserName><ToUserName>g</ToUserName><CreateTime>1</CreateTime></xml>",
    ],
)
def test_malformed_bodies_never_cause_a_500(client, settings, redis, body):
    response = post(client, settings, body)
    assert 400 <= response.status_code < 500
    assert redis.keys("wechat:*") == []


def test_unknown_encrypt_type_is_refused(client, settings):
    body = message(NEWCOMER, "text", Content="帮助", MsgId="1003")
    assert post(client, settings, body, encrypt_type="rot13").status_code == 400


def test_handler_crash_is_answered_with_success(client, settings, monkeypatch):
    broken = Router()

    @broken.message("text")
    def crash(ctx, msg):
        raise RuntimeError("bug")

    monkeypatch.setattr(callback_module, "router", broken)
    assert_success(post(client, settings, message(NEWCOMER, "text", Content="x", MsgId="1004")))


def test_failed_commit_gives_the_delivery_back_for_a_retry(client, settings, monkeypatch, redis):
    calls = []
    counting = Router()

    @counting.message("text")
    def count(ctx, msg):
        calls.append(1)
        ctx.session.add(Town(code=f"T-{len(calls)}", name=f"测试镇{len(calls)}"))  # an effect to commit
        return "收到"

    monkeypatch.setattr(callback_module, "router", counting)
    body = message(NEWCOMER, "text", Content="x", MsgId="1005")
    def commit_fails(self):
        raise RuntimeError("database went away")

    with monkeypatch.context() as patch:
        patch.setattr(Session, "commit", commit_fails)
        assert_success(post(client, settings, body))
    assert redis.keys("wechat:dedup:*") == []  # claim released, no reply cached
    assert reply_content(post(client, settings, body)) == "收到"
    assert len(calls) == 2


# --- unsubscribe and binding through the callback ------------------------------------------


def test_unsubscribe_keeps_records(client, settings, build, db_session):
    enterprise = build.enterprise()
    worker = build.member(enterprise, Role.WORKER)
    assert_success(post(client, settings, message(worker.openid, "event", Event="unsubscribe")))
    db_session.expire_all()
    user = db_session.get(User, worker.id)
    assert user.subscribed is False and user.openid is not None
    assert db_session.scalar(select(Membership).where(Membership.user_id == worker.id)).active is True


def test_duplicate_delivery_gets_the_identical_cached_reply_and_one_effect(client, settings, invite, db_session):
    invite_row, worker = invite
    body = message(NEWCOMER, "event", Event="SCAN", EventKey=f"bind:{invite_row.token}")
    first = post(client, settings, body)
    retry = post(client, settings, body, nonce="n-retry")
    assert "绑定成功" in reply_content(first)
    # Re-running the handler would answer "已通过此邀请完成绑定"; the retry gets the original.
    assert retry.get_data() == first.get_data()
    db_session.expire_all()
    assert db_session.get(User, worker.id).openid == NEWCOMER


def test_concurrent_duplicate_delivery_has_one_effect_and_one_reply(app, settings, redis, monkeypatch):
    """Two threads post the same MsgId at the same time against the app, real Redis and the
    real database (each request its own session, committing for real); both run the
    handler, one commits its effect, both answer with the same bytes."""
    calls = []
    slow = Router()

    @slow.message("text")
    def handle(ctx, msg):
        calls.append(threading.get_ident())
        ctx.session.add(Town(code=f"CONCURRENT-{secrets.token_hex(4)}", name=f"并发镇{secrets.token_hex(4)}"))
        ctx.session.flush()
        time.sleep(0.5)  # still running when the duplicate arrives
        return f"已受理{len(calls)}"

    monkeypatch.setattr(callback_module, "router", slow)
    monkeypatch.setattr(db, "session_factory", sessionmaker(bind=db.engine, expire_on_commit=False))
    body = message(NEWCOMER, "text", Content="并发", MsgId="1006")
    url = query(settings.wechat_token)
    barrier = threading.Barrier(2)
    responses = []

    def deliver():
        client = app.test_client()
        barrier.wait()
        responses.append(client.post(url, data=body, content_type="text/xml"))

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    started = time.monotonic()
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        with db.engine.connect() as connection:
            codes = connection.scalars(select(Town.code).where(Town.code.like("CONCURRENT-%"))).all()
    finally:
        with db.engine.begin() as connection:
            connection.execute(delete(Town).where(Town.code.like("CONCURRENT-%")))
    assert len(calls) == 2 and len(codes) == 1
    assert [r.status_code for r in responses] == [200, 200]
    assert responses[0].get_data() == responses[1].get_data()
    assert reply_content(responses[0]).startswith("已受理")
    assert time.monotonic() - started < 5


# --- compatible and safe mode --------------------------------------------------------------


def test_safe_mode_message_is_decrypted_and_the_reply_encrypted(client, safe_mode):
    response = encrypted_post(client, safe_mode, message(NEWCOMER, "text", Content="帮助", MsgId="2001"))
    assert "<Encrypt>" in response.get_data(as_text=True)
    assert "使用说明" in reply_content(response, safe_mode)


def test_compatible_mode_uses_the_ciphertext_and_encrypts_the_reply(client, safe_mode):
    plaintext = message(NEWCOMER, "text", Content="提示", MsgId="2002")
    response = encrypted_post(client, safe_mode, plaintext, compatible=True)
    assert "安全提示" in reply_content(response, safe_mode)


def test_safe_mode_success_is_plain(client, safe_mode):
    assert_success(encrypted_post(client, safe_mode, message(NEWCOMER, "event", Event="unsubscribe")))


def test_safe_mode_duplicate_gets_the_identical_encrypted_reply(client, safe_mode):
    plaintext = message(NEWCOMER, "text", Content="帮助", MsgId="2003")
    first = encrypted_post(client, safe_mode, plaintext)
    retry = encrypted_post(client, safe_mode, plaintext)
    assert first.get_data() == retry.get_data()


def test_safe_mode_bad_msg_signature_is_refused(client, safe_mode, invite, db_session, redis):
    invite_row, worker = invite
    plaintext = message(NEWCOMER, "event", Event="SCAN", EventKey=f"bind:{invite_row.token}")
    assert encrypted_post(client, safe_mode, plaintext, msg_signature="0" * 40).status_code == 403
    assert encrypted_post(client, safe_mode, plaintext, msg_signature="").status_code == 403
    assert_nothing_stored(db_session, redis, invite_row, worker)


def test_safe_mode_still_checks_signature(client, safe_mode, invite, db_session, redis):
    invite_row, worker = invite
    plaintext = message(NEWCOMER, "event", Event="SCAN", EventKey=f"bind:{invite_row.token}")
    assert encrypted_post(client, safe_mode, plaintext, signature="0" * 40).status_code == 403
    assert_nothing_stored(db_session, redis, invite_row, worker)


def test_ciphertext_for_another_app_id_is_refused(client, safe_mode, invite, db_session, redis):
    invite_row, worker = invite
    foreign = MessageCrypto(safe_mode.token, AES_KEY, "wx0ther0app0id0000")
    plaintext = message(NEWCOMER, "event", Event="SCAN", EventKey=f"bind:{invite_row.token}")
    assert encrypted_post(client, foreign, plaintext).status_code == 403
    assert_nothing_stored(db_session, redis, invite_row, worker)


def test_safe_mode_without_encrypt_element(client, safe_mode):
    timestamp, nonce = str(int(time.time())), "n"
    params = {
        "signature": sign(safe_mode.token, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
        "encrypt_type": "aes",
        "msg_signature": sign(safe_mode.token, timestamp, nonce, ""),
    }
    response = client.post(f"{URL}?{urlencode(params)}", data=message(NEWCOMER, "text", Content="x", MsgId="2004"))
    assert response.status_code == 400


def test_encrypted_callback_without_a_configured_key_is_refused(client, settings):
    crypto = MessageCrypto(settings.wechat_token, AES_KEY, settings.wechat_app_id)
    response = encrypted_post(client, crypto, message(NEWCOMER, "text", Content="帮助", MsgId="2005"))
    assert response.status_code == 400


# --- replays and downgrades (issue 16 §2) ----------------------------------------------------


def test_a_signed_url_replayed_with_another_body_is_refused(client, settings, invite, db_session, redis):
    invite_row, worker = invite
    fixed = {"timestamp": str(int(time.time())), "nonce": "n-replay"}
    help_text = message(NEWCOMER, "text", Content="帮助", MsgId="7001")
    first = post(client, settings, help_text, **fixed)
    assert first.status_code == 200
    # The same URL, another body (another openid's bind): refused, nothing written.
    forged = message(NEWCOMER, "event", Event="SCAN", EventKey=f"bind:{invite_row.token}")
    keys_before = sorted(redis.keys("wechat:*"))
    assert post(client, settings, forged, **fixed).status_code == 403
    db_session.expire_all()
    assert db_session.get(Invite, invite_row.id).used_at is None
    assert db_session.get(User, worker.id).openid is None
    assert sorted(redis.keys("wechat:*")) == keys_before
    # WeChat's own retry (same URL, same body) still gets the first answer.
    assert post(client, settings, help_text, **fixed).get_data() == first.get_data()


def test_safe_mode_refuses_a_plaintext_body(client, settings, safe_mode, invite, db_session, redis):
    invite_row, worker = invite
    plaintext = message(NEWCOMER, "event", Event="SCAN", EventKey=f"bind:{invite_row.token}")
    assert post(client, settings, plaintext).status_code == 403
    assert_nothing_stored(db_session, redis, invite_row, worker)


def test_plaintext_mode_refuses_an_encrypted_body(app, client, monkeypatch):
    configured = app.config["SETTINGS"].model_copy(
        update={"WECHAT_ENCODING_AES_KEY": AES_KEY, "WECHAT_MESSAGE_MODE": "plaintext"}
    )
    monkeypatch.setitem(app.config, "SETTINGS", configured)
    crypto = MessageCrypto(configured.wechat_token, AES_KEY, configured.wechat_app_id)
    assert encrypted_post(client, crypto, message(NEWCOMER, "text", Content="帮助")).status_code == 400
