"""GET|POST /wechat/callback — the Official Account's server URL (docs/WECHAT.md §1, CONTRACT.md).

GET: URL verification, `signature` checked, `echostr` returned unchanged (plaintext in all
modes for Official Accounts). POST: plaintext, compatible and safe mode; `encrypt_type=aes`
means the body is authenticated by `msg_signature` and decrypted, and the reply encrypted.

Order of work, so that nothing hostile is stored: signature and timestamp (403), body size
and XML safety (4xx), decryption (403/400), then the handler (flushing, not committing),
then one atomic round trip to Redis (wechat/dedup.py `offer`) that de-duplicates the
delivery, checks the cache generation the handler relied on and records the user's
interaction. A handler that changed nothing (a scan, a help text, a refusal) has its reply
stored by that same round trip; one with effects gets a claim, commits, and stores its
reply after. A retry — concurrent or late — gets the first delivery's reply byte for
byte and its own work is rolled back. The endpoint (a WSGI layer in front of
Flask, see CallbackEndpoint) owns the transaction.

Nothing acknowledged is lost: when PostgreSQL or Redis cannot be reached (app/outages.py),
the verified delivery is first written to the durable spool (spool.py), the user is told it
will be handled (BUSY_TEXT), and replay.py runs it through this same path once the stores are
back, sending the result as a customer-service message. When even the spool cannot be
written the answer is a 503: not acknowledged (WeChat shows its own error; the user tries
again) rather than a `success` that would make WeChat forget the message.

Anything else that goes wrong after authentication (a bug) is logged and answered with the
literal `success` (text/plain, never encrypted): WeChat then shows the user nothing and does
not retry, where a 5xx would show "该公众号暂时无法提供服务".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from flask import Flask, current_app
from werkzeug import Request, Response
from werkzeug.exceptions import MethodNotAllowed

from app import cache
from app.clock import utcnow
from app.database import has_writes
from app.extensions import db, redis_client
from app.instruments import CALLBACK_SECONDS
from app.notifications.channels import interaction_writes
from app.outages import is_store_outage
from app.wechat.crypto import (
    CallbackAuthError,
    MessageCrypto,
    check_signature,
    check_timestamp,
    new_nonce,
)
from app.wechat.dedup import CachedReply, Claim, Deduplicator, Guard, OfferStatus, check_fresh_nonce
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
from app.wechat_inbound.handlers import router
from app.wechat_inbound.router import HandlerContext
from app.wechat_inbound.spool import Spool, tells_user
from config import Settings

log = logging.getLogger(__name__)

PATH = "/wechat/callback"
SUCCESS = CachedReply("success", "text/plain; charset=utf-8")
# The passive answer to a spooled delivery: it was received and will be done, with a result later.
BUSY_TEXT = "系统正忙，您的操作已收到，恢复后会自动处理，处理结果将另行发消息告诉您。"
XML = "application/xml; charset=utf-8"
# WeChat's echostr is a decimal string of ~19 digits; anything much longer is not from it.
MAX_ECHOSTR = 128
# app.extensions key: callables (openid, message) told of every passive reply sent.
REPLY_OBSERVERS = "wechat_passive_reply_observers"

ReplyObserver = Callable[[str, dict[str, Any]], None]


def _plain(body: str, status: int = 200) -> Response:
    return Response(body, status=status, content_type="text/plain; charset=utf-8")


def _send(reply: CachedReply) -> Response:
    return Response(reply.body, status=200, content_type=reply.content_type)


class CallbackEndpoint:
    """WSGI middleware that serves PATH ahead of Flask's dispatch, inside an application
    context (so `db.session` and the teardown that closes it work as in a view).

    Why not a view: this is the one endpoint on WeChat's 5-second clock and it carries
    every follower's every message; Flask's request machinery around a view (routing over
    every rule, session, signals, response finalisation) is an eighth of its cost under
    load (docs/PERFORMANCE.md "WeChat callback"), and it uses none of it: no cookies, no
    templates, no url_for, its own error handling (never a 500 to WeChat)."""

    def __init__(self, app: Flask, wsgi_app: Callable[..., Iterable[bytes]]):
        self.app = app
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PATH:
            return self.wsgi_app(environ, start_response)
        request = Request(environ)
        started = time.perf_counter()
        with self.app.app_context():
            response = callback(request, self.app.config["SETTINGS"])
        CALLBACK_SECONDS.labels(status=str(response.status_code)).observe(time.perf_counter() - started)
        return response(environ, start_response)


def install(app: Flask) -> None:
    """Serve the callback at PATH in front of `app`."""
    app.wsgi_app = CallbackEndpoint(app, app.wsgi_app)  # type: ignore[method-assign]


def observe_replies(app: Flask, observer: ReplyObserver) -> None:
    """Have `observer(openid, message)` called with every passive reply the callback sends
    (its fields without ToUserName/FromUserName; not a retry answered from the cache, which
    WeChat does not show twice). The sandbox logs them this way, whoever posted the message.
    An observer that fails is logged and never changes the answer."""
    app.extensions.setdefault(REPLY_OBSERVERS, []).append(observer)


def _tell_observers(inbound: Inbound, sent: dict[str, Any] | None) -> None:
    if sent is None:
        return
    for observer in current_app.extensions.get(REPLY_OBSERVERS, ()):
        try:
            observer(inbound.openid, sent)
        except Exception:
            log.exception("passive reply observer failed")


def callback(request: Request, settings: Settings) -> Response:
    """Answer one request to the callback URL (GET verification, POST a message)."""
    if request.method not in ("GET", "HEAD", "POST"):
        return MethodNotAllowed(valid_methods=["GET", "HEAD", "POST"]).get_response()
    args = request.args
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    try:
        check_signature(settings.wechat_token, args.get("signature"), timestamp, nonce)
        check_timestamp(timestamp, utcnow().timestamp(), settings.WECHAT_TIMESTAMP_WINDOW)
    except CallbackAuthError as exc:
        log.warning("wechat callback refused: %s", exc)
        return _plain("forbidden", 403)
    if request.method != "POST":
        echostr = args.get("echostr", "")
        if not echostr or len(echostr) > MAX_ECHOSTR:
            return _plain("bad request", 400)
        return _plain(echostr)
    try:
        return _post(request, settings, timestamp, nonce)
    except Exception:
        # Last line of defence: never a 500 to WeChat.
        log.exception("wechat callback failed")
        db.rollback_request_session()
        return _send(SUCCESS)


def _post(request: Request, settings: Settings, timestamp: str, nonce: str) -> Response:
    mode = (request.args.get("encrypt_type") or "raw").lower()
    if mode not in ("raw", "aes"):
        return _plain("unsupported encrypt_type", 400)
    account_mode = settings.wechat_message_mode
    if mode == "raw" and account_mode != "plaintext":
        # Compatible and safe mode always come encrypted: a plaintext body is a downgrade.
        log.warning("plaintext callback refused in %s mode", account_mode)
        return _plain("forbidden", 403)
    crypto: MessageCrypto | None = None
    try:
        check_size(request.content_length)
        # Read one byte past the cap so a chunked body without Content-Length is caught too.
        raw = request.stream.read(MAX_BODY_BYTES + 1)
        text = decode_body(raw)
        try:
            check_fresh_nonce(redis_client.dedicated(), timestamp, nonce, raw, settings.WECHAT_TIMESTAMP_WINDOW)
        except Exception as exc:
            if not is_store_outage(exc):
                raise
            # Redis is down: the delivery will be spooled (its dedup needs Redis too), and the
            # replay checks the nonce before the handler runs.
            log.warning("nonce check skipped, Redis unreachable: %s", exc)
        if mode == "aes":
            if account_mode == "plaintext" or not settings.WECHAT_ENCODING_AES_KEY:
                log.error("encrypted callback received but the account is in plaintext mode (no EncodingAESKey)")
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

    now = utcnow()
    try:
        return answer_delivery(inbound, crypto, settings.PUBLIC_BASE_URL, now)
    except Exception as exc:
        if not is_store_outage(exc):
            raise
        log.warning("stores unreachable (%s); spooling wechat delivery %s", exc, inbound.dedup_key[:12])
        rollback_quietly()
        return _spool(settings, inbound, crypto, now, timestamp=timestamp, nonce=nonce, raw=raw, text=text)


def _spool(
    settings: Settings, inbound: Inbound, crypto: MessageCrypto | None, now: datetime, **delivery: Any
) -> Response:
    """Keep the delivery for the replay and tell the user; a 503 when it cannot be kept."""
    try:
        Spool(settings.WECHAT_SPOOL_DIR).put(received_at=now, **delivery)
    except OSError:
        log.exception("wechat delivery %s could not be spooled: not acknowledged", inbound.dedup_key[:12])
        return _plain("service unavailable", 503)
    if not tells_user(inbound):
        return _send(SUCCESS)
    return _send(_render_text(BUSY_TEXT, inbound, crypto, now))


def rollback_quietly() -> None:
    # The connection may be the thing that is gone; the spool must still be written.
    try:
        db.rollback_request_session()
    except Exception:
        log.warning("rollback after a store outage failed", exc_info=True)


# A generation that moves on every try must not keep a delivery from its answer: the last
# attempt reads through the caches and does not check it.
_ATTEMPTS = 3


def answer_delivery(
    inbound: Inbound,
    crypto: MessageCrypto | None,
    base_url: str,
    now: datetime,
    also: Callable[[dict[str, Any] | None], None] | None = None,
    observed: bool = True,
) -> Response:
    """Run the delivery once, whatever retries arrive; `also(sent)` adds rows to the same unit
    of work after the handler ran, and `observed=False` keeps the reply from the observers
    (the replay: its answer reaches the user as a notice, not as a passive reply). Raises what
    a store outage raises before the effects are committed; after that, an outage only costs
    the cached reply."""
    notify = _tell_observers if observed else (lambda _inbound, _sent: None)
    dedup = Deduplicator(redis_client.dedicated())
    writes = interaction_writes(inbound.openid, inbound.msg_type, inbound.event, now)
    for attempt in range(_ATTEMPTS):
        generation = cache.seen_generation() if attempt < _ATTEMPTS - 1 else None
        reply, effects, sent = _run(inbound, crypto, base_url, now, generation, also)
        guard = Guard(cache.GENERATION_KEY, generation, cache.new_generation())
        try:
            offer = dedup.offer(inbound.dedup_key, None if effects else reply, guard=guard, writes=writes)
        except BaseException:
            db.rollback_request_session()
            raise
        cache.note_generation(offer.guard_value)
        if offer.status is not OfferStatus.STALE:
            break
        db.rollback_request_session()  # read under a generation that has moved: run again
    if offer.status is OfferStatus.ANSWERED:
        db.rollback_request_session()  # nothing to commit; ends a read-only transaction
        notify(inbound, sent)
        return _send(reply)
    if offer.status is OfferStatus.CLAIMED:
        assert offer.claim is not None
        _commit(dedup, offer.claim)
        _store_reply(dedup, offer.claim, reply)
        notify(inbound, sent)
        return _send(reply)
    # HELD: another delivery of this message got there first; ours changes nothing.
    db.rollback_request_session()
    if offer.reply is not None:
        log.info("wechat retry %s answered from cache", inbound.dedup_key[:12])
        return _send(offer.reply)
    claimed = dedup.acquire(inbound.dedup_key)
    if isinstance(claimed, CachedReply):
        log.info("wechat retry %s answered after waiting", inbound.dedup_key[:12])
        return _send(claimed)
    if claimed is None:
        # The first delivery is still running; `success` stops WeChat from retrying again.
        log.warning("wechat retry %s still pending; answered success", inbound.dedup_key[:12])
        return _send(SUCCESS)
    # The first delivery failed and gave its claim back, which we now hold: do the work.
    reply, effects, sent = _run(inbound, crypto, base_url, now, None, also)
    if effects:
        _commit(dedup, claimed)
    _store_reply(dedup, claimed, reply)
    notify(inbound, sent)
    return _send(reply)


def _run(
    inbound: Inbound,
    crypto: MessageCrypto | None,
    base_url: str,
    now: datetime,
    generation: bytes | None,
    also: Callable[[dict[str, Any] | None], None] | None = None,
) -> tuple[CachedReply, bool, dict[str, Any] | None]:
    """Run the handler in the request's unit of work without committing: the reply, whether
    there are effects to commit (a failed handler's are rolled back at once), and the reply
    message for the observers (None when the answer is `success`)."""
    ctx = HandlerContext(
        open_session=lambda: db.session,
        redis=redis_client(),
        now=now,
        base_url=base_url,
        inbound=inbound,
        generation=generation,
    )
    outcome = router.dispatch(ctx)
    if outcome.failed:
        db.rollback_request_session()
    reply = SUCCESS if outcome.reply is None else _render_text(outcome.reply, inbound, crypto, now)
    sent = None
    if outcome.reply is not None:
        sent = {"CreateTime": str(int(now.timestamp())), "MsgType": "text", "Content": outcome.reply}
    if also is not None and not outcome.failed:
        also(sent)
    session = db.opened_request_session()
    return reply, not outcome.failed and session is not None and has_writes(session), sent


def _commit(dedup: Deduplicator, claim: Claim) -> None:
    """Commit the delivery's effects; on failure give the claim back so a retry can do the
    work, and re-raise."""
    try:
        db.session.commit()
    except BaseException:
        rollback_quietly()
        try:
            dedup.release(claim)
        except Exception:
            # Redis is gone too: the claim expires on its own (Deduplicator.claim_ttl).
            log.warning("claim not released", exc_info=True)
        raise


def _store_reply(dedup: Deduplicator, claim: Claim, reply: CachedReply) -> None:
    """Keep the reply for WeChat's retries; the effects are committed already, so Redis
    failing here must not turn the answer into a spooled (and later doubled) delivery."""
    try:
        dedup.store(claim, reply)
    except Exception as exc:
        if not is_store_outage(exc):
            raise
        log.warning("reply of a committed delivery not cached: %s", exc)


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
