"""GET|POST /wechat/callback — the Official Account's server URL (wechat.md §1, CONTRACT.md).

GET: URL verification, `signature` checked, `echostr` returned unchanged (plaintext in all
modes for Official Accounts). POST: plaintext, compatible and safe mode; `encrypt_type=aes`
means the body is authenticated by `msg_signature` and decrypted, and the reply encrypted.

Order of work, so that nothing hostile is stored: signature and timestamp (403), body size
and XML safety (4xx), decryption (403/400), dedup claim, handler, commit, cache, reply.
The view owns the transaction. Whatever goes wrong after authentication is logged and
answered with the literal `success` (text/plain, never encrypted): WeChat then shows the
user nothing and does not retry, where a 5xx would show "该公众号暂时无法提供服务".
"""

from __future__ import annotations

import logging
from datetime import datetime

from flask import Blueprint, Response, current_app, request

from app.clock import utcnow
from app.extensions import db, redis_client
from app.notifications.channels import note_interaction
from app.wechat.crypto import (
    CallbackAuthError,
    MessageCrypto,
    check_signature,
    check_timestamp,
    new_nonce,
)
from app.wechat.dedup import CachedReply, Claim, Deduplicator
from app.wechat.handlers import router
from app.wechat.parsing import (
    MAX_BODY_BYTES,
    Inbound,
    InboundError,
    check_size,
    decode_body,
    encrypted_field,
    parse_inbound,
    parse_xml,
)
from app.wechat.router import HandlerContext
from config import Settings

log = logging.getLogger(__name__)

bp = Blueprint("wechat_callback", __name__, url_prefix="/wechat")

SUCCESS = CachedReply("success", "text/plain; charset=utf-8")
XML = "application/xml; charset=utf-8"
# WeChat's echostr is a decimal string of ~19 digits; anything much longer is not from it.
MAX_ECHOSTR = 128


def _plain(body: str, status: int = 200) -> Response:
    return Response(body, status=status, content_type="text/plain; charset=utf-8")


def _send(reply: CachedReply) -> Response:
    return Response(reply.body, status=200, content_type=reply.content_type)


@bp.route("/callback", methods=["GET", "POST"])
def callback() -> Response:
    settings = current_app.config["SETTINGS"]
    args = request.args
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    try:
        check_signature(settings.wechat_token, args.get("signature"), timestamp, nonce)
        check_timestamp(timestamp, utcnow().timestamp(), settings.WECHAT_TIMESTAMP_WINDOW)
    except CallbackAuthError as exc:
        log.warning("wechat callback refused: %s", exc)
        return _plain("forbidden", 403)
    if request.method == "GET":
        echostr = args.get("echostr", "")
        if not echostr or len(echostr) > MAX_ECHOSTR:
            return _plain("bad request", 400)
        return _plain(echostr)
    try:
        return _post(settings, timestamp, nonce)
    except Exception:
        # Last line of defence: never a 500 to WeChat.
        log.exception("wechat callback failed")
        db.rollback_request_session()
        return _send(SUCCESS)


def _post(settings: Settings, timestamp: str, nonce: str) -> Response:
    mode = (request.args.get("encrypt_type") or "raw").lower()
    if mode not in ("raw", "aes"):
        return _plain("unsupported encrypt_type", 400)
    crypto: MessageCrypto | None = None
    try:
        check_size(request.content_length)
        # Read one byte past the cap so a chunked body without Content-Length is caught too.
        text = decode_body(request.stream.read(MAX_BODY_BYTES + 1))
        if mode == "aes":
            if not settings.WECHAT_ENCODING_AES_KEY:
                log.error("encrypted callback received but WECHAT_ENCODING_AES_KEY is not set")
                return _plain("encryption not configured", 400)
            crypto = MessageCrypto(settings.wechat_token, settings.WECHAT_ENCODING_AES_KEY, settings.wechat_app_id)
            encrypted = encrypted_field(parse_xml(text))
            text = crypto.decrypt_checked(encrypted, request.args.get("msg_signature"), timestamp, nonce)
        inbound = parse_inbound(text)
    except CallbackAuthError as exc:
        log.warning("wechat callback refused: %s", exc)
        return _plain("forbidden" if exc.http_status == 403 else "bad request", exc.http_status)
    except InboundError as exc:
        log.warning("wechat callback body refused: %s", exc)
        return _plain("bad request", exc.http_status)

    dedup = Deduplicator(redis_client())
    claimed = dedup.acquire(inbound.dedup_key)
    if isinstance(claimed, CachedReply):
        log.info("wechat retry %s answered from cache", inbound.dedup_key[:12])
        return _send(claimed)
    if claimed is None:
        # The first delivery is still running; `success` stops WeChat from retrying again.
        log.warning("wechat retry %s still pending; answered success", inbound.dedup_key[:12])
        return _send(SUCCESS)
    reply = _process(claimed, dedup, inbound, crypto, settings.PUBLIC_BASE_URL)
    dedup.store(claimed, reply)
    return _send(reply)


def _process(
    claim: Claim, dedup: Deduplicator, inbound: Inbound, crypto: MessageCrypto | None, base_url: str
) -> CachedReply:
    """Run the handler and commit its unit of work; on any failure give the claim back so a
    retry can do the work, and re-raise."""
    now = utcnow()
    session = db.session
    try:
        note_interaction(redis_client(), inbound.openid, inbound.msg_type, inbound.event, now)
        ctx = HandlerContext(session=session, redis=redis_client(), now=now, base_url=base_url, inbound=inbound)
        outcome = router.dispatch(ctx)
        if outcome.failed:
            session.rollback()
        else:
            session.commit()
        if outcome.reply is None:
            return SUCCESS
        return _render_text(outcome.reply, inbound, crypto, now)
    except BaseException:
        session.rollback()
        dedup.release(claim)
        raise


def _cdata(value: str) -> str:
    # "]]>" cannot appear inside CDATA; split it across two sections.
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _render_text(content: str, inbound: Inbound, crypto: MessageCrypto | None, now: datetime) -> CachedReply:
    """A passive text reply to `inbound`, encrypted when the request was."""
    created = str(int(now.timestamp()))
    xml = (
        "<xml>"
        f"<ToUserName>{_cdata(inbound.fields['FromUserName'])}</ToUserName>"
        f"<FromUserName>{_cdata(inbound.fields['ToUserName'])}</FromUserName>"
        f"<CreateTime>{created}</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{_cdata(content)}</Content>"
        "</xml>"
    )
    if crypto is not None:
        xml = crypto.encrypted_reply(xml, created, new_nonce())
    return CachedReply(xml, XML)
