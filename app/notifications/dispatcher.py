"""The dispatcher: sends the outbox through the WeChat API, each message once.

One batch is three short steps, none of which holds a transaction open across the network:

1. **claim** (one transaction): due rows are picked — `FOR UPDATE SKIP LOCKED` on PostgreSQL
   so concurrent dispatchers never pick the same row, a plain SELECT on SQLite (one process
   writes at a time) — then a conditional UPDATE stamps `claimed_by`, counts the attempt and
   moves `next_attempt_at` (= `claimed_until`) one lease ahead, and commits;
2. **send**, outside any transaction, on a small thread pool: hold (quiet hours), fold into
   the digest, drop (nobody to reach), or send — as a customer-service text inside the
   user's window, else as a template message carrying a stable `client_msg_id`;
3. **record**: each row's result as soon as its send returns (the sends that returned
   together share a transaction), only where the claim is still ours.

While it sends, the dispatcher renews its batch's claims every CLAIM_HEARTBEAT, so a slow
batch keeps its rows however long it takes. A dispatcher that dies mid-batch leaves its
unsent and in-flight rows claimed: when the lease (a minute) runs out they are due again and
the next claimer sends them. Only the sends in flight when it died (at most `concurrency`)
can go out twice; the claimer logs each and keeps it in `last_error`, and WeChat drops it by
`client_msg_id`.

Retryable failures (-1, network, timeouts, HTTP errors) wait an exponential backoff with
jitter and end `dead` after MAX_ATTEMPTS; quota answers (45009/45011) pause the channel for
every dispatcher without using up an attempt; recipient refusals end `failed` (43004 also
marks the user unfollowed and fails their other queued messages); bad template or data
ends `failed` and alerts the operator.

`flask --app app notifications dispatch` runs the loop; `start_background_dispatcher`
runs it in a thread of the embedded default's web process.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import redis as redis_lib
from requests.adapters import HTTPAdapter
from sqlalchemy import bindparam, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from app.clock import utcnow
from app.notifications import channels, queries
from app.notifications.domain import (
    CLAIM_HEARTBEAT,
    CLAIM_LEASE,
    MAX_ATTEMPTS,
    Channel,
    OutboxStatus,
    Plan,
    Recipient,
    Verdict,
    backoff,
    classify,
    plan_delivery,
    quota_pause_until,
    truncate_error,
)
from app.notifications.kinds import KINDS, Kind, Rendered, render
from app.notifications.models import OutboxMessage
from app.notifications.service import mark_unfollowed, record_template_result
from app.wechat import records
from app.wechat.client import WeChatAPIError

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger(__name__)

_outbox = OutboxMessage.__table__
# The status as a literal, not a parameter: PostgreSQL can only use the partial due index
# when the query's own text implies its predicate (a prepared statement's generic plan with
# `status = $1` cannot, and would scan the whole history).
_QUEUED = text(f"outbox_messages.status = '{OutboxStatus.QUEUED.value}'")
# Idle wait of the loop when nothing was due, and after an unexpected error.
IDLE_INTERVAL = 1.0
ERROR_INTERVAL = 5.0
# --once stops after this many batches even if rows keep coming due (a safety net).
MAX_DRAIN_BATCHES = 100_000


@dataclass(frozen=True)
class Claimed:
    """A row as this dispatcher claimed it (`attempts` already counts this attempt)."""

    id: int
    kind: str
    recipient_user_id: int | None
    recipient_openid: str | None
    payload: dict[str, Any]
    urgent: bool
    attempts: int
    last_errcode: int | None
    last_error: str | None
    previous_claimer: str | None


@dataclass
class Result:
    """What to write back for one claimed row."""

    id: int
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime | None = None
    hold_until: datetime | None = None
    channel: Channel | None = None
    last_errcode: int | None = None
    last_error: str | None = None
    wx_msgid: int | None = None
    sent_at: datetime | None = None
    finished_at: datetime | None = None
    unfollowed: tuple[int | None, str | None] | None = None


@dataclass(frozen=True)
class SendJob:
    """One message to send, prepared in the dispatcher's thread."""

    claimed: Claimed
    openid: str
    channel: Channel
    message: Rendered
    template_id: str | None  # the template to use (or fall back to)


@dataclass(frozen=True)
class SendOutcome:
    channel: Channel
    msgid: int | None = None
    error: WeChatAPIError | None = None
    unexpected: str | None = None  # an exception that is not a WeChat answer (a bug)


@dataclass
class DispatchStats:
    """What one batch (or a whole drain) did."""

    claimed: int = 0
    sent: int = 0
    held: int = 0  # quiet hours
    folded: int = 0  # into the daily digest
    deferred: int = 0  # quota or channel pause
    retried: int = 0
    failed: int = 0
    dead: int = 0
    possible_duplicates: int = 0  # re-claimed after a claim ran out without a result
    lost_claims: int = 0  # results not written: the lease ran out and another claimer took over
    claim_renewals: int = 0  # heartbeats that renewed a slow batch's claims

    def add(self, other: DispatchStats) -> None:
        for name in self.as_dict():
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def worker_name() -> str:
    """A name for this dispatcher unique across hosts and processes (stored in claimed_by)."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Dispatcher:
    """Claims, sends and records outbox messages (see the module docstring).

    Thread use: `dispatch_batch` runs in one thread at a time; it fans the network calls
    out to its own pool of `concurrency` threads, which never touch the database."""

    def __init__(
        self,
        *,
        session_factory: sessionmaker[Session],
        client: Any,
        redis: redis_lib.Redis,
        quota: channels.SendQuota,
        base_url: str,
        template_id: Callable[[Kind], str | None],
        batch_size: int = 50,
        concurrency: int = 4,
        lease: timedelta = CLAIM_LEASE,
        heartbeat: timedelta = CLAIM_HEARTBEAT,
        max_attempts: int = MAX_ATTEMPTS,
        name: str | None = None,
        rand: Callable[[], float] = random.random,
        timer: Callable[[], float] = time.monotonic,
    ):
        if batch_size < 1 or concurrency < 1 or max_attempts < 1:
            raise ValueError("batch_size, concurrency and max_attempts must be positive")
        if not timedelta(0) < heartbeat < lease / 2:
            raise ValueError("the claim heartbeat must be shorter than half the lease")
        self._sessions = session_factory
        self._client = client
        self._redis = redis
        self._quota = quota
        self._base_url = base_url
        self._template_id = template_id
        self._template_ids: dict[str, str | None] = {}
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.lease = lease
        self.heartbeat = heartbeat
        self.max_attempts = max_attempts
        self._timer = timer
        self._keeper: _ClaimKeeper | None = None
        self.name = name or worker_name()
        self._rand = rand
        self._pool: ThreadPoolExecutor | None = None
        self._mark = (
            update(_outbox)
            .where(_outbox.c.id == bindparam("b_id"), _outbox.c.claimed_by == bindparam("b_claimer"))
            .values(
                status=bindparam("b_status"),
                attempts=bindparam("b_attempts"),
                next_attempt_at=bindparam("b_next_attempt_at"),
                hold_until=bindparam("b_hold_until"),
                channel=bindparam("b_channel"),
                last_errcode=bindparam("b_last_errcode"),
                last_error=bindparam("b_last_error"),
                wx_msgid=bindparam("b_wx_msgid"),
                sent_at=bindparam("b_sent_at"),
                finished_at=bindparam("b_finished_at"),
                claimed_by=None,
                claimed_until=None,
            )
        )

    @classmethod
    def for_app(cls, app: Flask, **overrides: Any) -> Dispatcher:
        """A dispatcher configured from `app`'s settings: its WeChat client, Redis, the shared
        send quota and the template ids; `overrides` replace any constructor argument."""
        from app.extensions import db, redis_client
        from app.wechat.client import get_wechat_client

        settings = app.config["SETTINGS"]
        options: dict[str, Any] = {
            "session_factory": db.session_factory,
            "client": get_wechat_client(app),
            "redis": redis_client(),
            "quota": app_quota(app),
            "base_url": settings.PUBLIC_BASE_URL,
            "template_id": lambda kind: settings.wechat_template_id(kind.name, kind.family.value),
            "batch_size": settings.NOTIFY_BATCH_SIZE,
            "concurrency": settings.NOTIFY_CONCURRENCY,
        }
        options.update(overrides)
        dispatcher = cls(**options)
        fit_connection_pool(options["client"], dispatcher.concurrency)
        missing = [kind.setting for kind in KINDS.values() if dispatcher.template_for(kind) is None]
        if missing:
            log.error("no WeChat template configured for: %s (those notices will fail)", ", ".join(missing))
        return dispatcher

    def template_for(self, kind: Kind) -> str | None:
        """The template id of `kind` (looked up once)."""
        if kind.name not in self._template_ids:
            self._template_ids[kind.name] = self._template_id(kind)
        return self._template_ids[kind.name]

    def close(self) -> None:
        """Stop the send pool (waits for sends in flight)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    # -- the loop ----------------------------------------------------------------------

    def drain(self, clock: Callable[[], datetime] = utcnow, max_batches: int = MAX_DRAIN_BATCHES) -> DispatchStats:
        """Dispatch batches until one finds nothing due (`--once`)."""
        total = DispatchStats()
        for _ in range(max_batches):
            stats = self.dispatch_batch(clock())
            total.add(stats)
            if stats.claimed == 0:
                break
        return total

    def run(self, stop: threading.Event, clock: Callable[[], datetime] = utcnow,
            idle_interval: float = IDLE_INTERVAL) -> DispatchStats:
        """Dispatch until `stop` is set; the batch in hand is always finished and recorded
        first. A full batch is followed at once by the next; otherwise the loop waits
        `idle_interval`. Errors (database or Redis down) are logged and retried."""
        total = DispatchStats()
        log.info("dispatcher %s started (batch %s, concurrency %s)", self.name, self.batch_size, self.concurrency)
        while not stop.is_set():
            try:
                stats = self.dispatch_batch(clock())
            except Exception:
                log.exception("dispatcher %s: batch failed; retrying in %.0f s", self.name, ERROR_INTERVAL)
                stop.wait(ERROR_INTERVAL)
                continue
            total.add(stats)
            if stats.claimed < self.batch_size:
                stop.wait(idle_interval)
        log.info("dispatcher %s stopped: %s", self.name, total.as_dict())
        return total

    # -- one batch ---------------------------------------------------------------------

    def dispatch_batch(self, now: datetime) -> DispatchStats:
        """Claim up to `batch_size` due rows at `now`, send them, record the results."""
        stats = DispatchStats()
        with self._session() as session:
            batch, recipients = self._claim(session, now)
        stats.claimed = len(batch)
        if not batch:
            return stats
        results: list[Result] = []
        jobs: list[SendJob] = []
        try:
            for claimed in batch:
                prepared = self._prepare(claimed, recipients, now, stats)
                if isinstance(prepared, Result):
                    results.append(prepared)
                else:
                    jobs.append(prepared)
            admitted, waiting = self._admit(self._route(jobs, now), now, stats)
        except Exception:
            # Nothing was sent yet (Redis down, say): give the rows back at once rather than
            # leave them to a lease that would make their next send look like a duplicate.
            self._record([self._later(c, now, hold=False) for c in batch], now, DispatchStats())
            raise
        results.extend(waiting)
        if results:
            self._record(results, now, stats)
        self._keeper = _ClaimKeeper(self, [c.id for c in batch], now, stats)
        try:
            # Results are written while the batch is still sending (see _send_all), so a
            # dispatcher killed mid-batch leaves unrecorded only what was in flight or had
            # just returned: only those can go out twice.
            for done in self._send_all(admitted):
                self._record([self._judge(job, outcome, now, stats) for job, outcome in done], now, stats)
        finally:
            self._keeper = None
        return stats

    @contextmanager
    def _session(self) -> Iterator[Session]:
        session = self._sessions()
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def _claim(self, session: Session, now: datetime) -> tuple[list[Claimed], dict[int, Recipient]]:
        """Claim due rows and load their recipients; commits."""
        due = (
            select(_outbox.c.id, _outbox.c.claimed_by)
            .where(_QUEUED, _outbox.c.next_attempt_at <= now)
            # The partial due index yields rows in this order: no sort, whatever the backlog.
            .order_by(_outbox.c.next_attempt_at)
            .limit(self.batch_size)
        )
        if session.get_bind().dialect.name == "postgresql":
            # Rows another dispatcher is claiming right now are skipped, not waited for.
            due = due.with_for_update(skip_locked=True)
        picked = dict(session.execute(due).all())
        if not picked:
            session.rollback()
            return [], {}
        until = now + self.lease
        # Conditional: a row someone else claimed since (SQLite) is no longer due and is left.
        rows = session.execute(
            update(_outbox)
            .where(_outbox.c.id.in_(sorted(picked)), _QUEUED, _outbox.c.next_attempt_at <= now)
            .values(
                claimed_by=self.name,
                claimed_until=until,
                next_attempt_at=until,
                attempts=_outbox.c.attempts + 1,
            )
            .returning(
                _outbox.c.id,
                _outbox.c.kind,
                _outbox.c.recipient_user_id,
                _outbox.c.recipient_openid,
                _outbox.c.payload,
                _outbox.c.urgent,
                _outbox.c.attempts,
                _outbox.c.last_errcode,
                _outbox.c.last_error,
            )
        ).all()
        batch = [
            Claimed(
                id=row.id,
                kind=row.kind,
                recipient_user_id=row.recipient_user_id,
                recipient_openid=row.recipient_openid,
                payload=row.payload or {},
                urgent=row.urgent,
                attempts=row.attempts,
                last_errcode=row.last_errcode,
                last_error=row.last_error,
                previous_claimer=picked.get(row.id),
            )
            for row in sorted(rows, key=lambda r: r.id)
        ]
        found = queries.recipients(session, (c.recipient_user_id for c in batch if c.recipient_user_id))
        session.commit()
        return batch, found

    def _prepare(self, claimed: Claimed, recipients: dict[int, Recipient], now: datetime,
                 stats: DispatchStats) -> Result | SendJob:
        """Hold, fold or drop the row, or make it a send job (rendered, channel not chosen)."""
        if claimed.previous_claimer is not None:
            # The previous claim ran out without a result: that dispatcher died mid-send.
            stats.possible_duplicates += 1
            note = f"上次由 {claimed.previous_claimer} 认领后未记录结果，本次重发可能重复"
            log.warning("outbox %s: claim of %s expired without a result; sending again (possible duplicate)",
                        claimed.id, claimed.previous_claimer)
            channels.raise_alert(self._redis, now, "possible_duplicate", message_id=claimed.id,
                                 kind=claimed.kind, detail=claimed.previous_claimer)
            claimed = replace(claimed, last_errcode=None, last_error=note)
        kind = KINDS.get(claimed.kind)
        if kind is None:
            stats.failed += 1
            channels.raise_alert(self._redis, now, "unknown_kind", message_id=claimed.id, kind=claimed.kind)
            return self._final(claimed, OutboxStatus.FAILED, now, error=f"未知的通知类型 {claimed.kind}")
        recipient = self._recipient(claimed, recipients)
        decision = plan_delivery(recipient, urgent=claimed.urgent, foldable=kind.foldable, now=now)
        if decision.plan is Plan.DROP:
            stats.failed += 1
            return self._final(claimed, OutboxStatus.FAILED, now, error=decision.reason, uncount=True)
        if decision.plan is Plan.FOLD:
            stats.folded += 1
            return self._final(claimed, OutboxStatus.DIGESTED, now, error=None, uncount=True)
        if decision.plan is Plan.HOLD:
            stats.held += 1
            return self._later(claimed, decision.hold_until, hold=True)
        try:
            message = render(kind, claimed.payload, self._base_url)
        except Exception as exc:  # a payload the kind cannot lay out: a bug upstream
            stats.failed += 1
            log.exception("outbox %s: cannot render %s", claimed.id, claimed.kind)
            channels.raise_alert(self._redis, now, "render_failed", message_id=claimed.id, kind=claimed.kind,
                                 detail=repr(exc))
            return self._final(claimed, OutboxStatus.FAILED, now, error=f"无法生成消息内容：{exc!r}")
        template_id = self.template_for(kind)
        channel = kind.channels[0]
        if channel is Channel.TEMPLATE and template_id is None:
            stats.failed += 1
            channels.raise_alert(self._redis, now, "template_not_configured", message_id=claimed.id,
                                 kind=claimed.kind, detail=kind.setting)
            return self._final(claimed, OutboxStatus.FAILED, now, error=f"未配置模板 {kind.setting}")
        return SendJob(claimed, recipient.openid or "", channel, message, template_id)

    @staticmethod
    def _recipient(claimed: Claimed, recipients: dict[int, Recipient]) -> Recipient:
        if claimed.recipient_user_id is None:
            # An openid-only message: nothing known beyond the openid; default quiet hours.
            return Recipient(openid=claimed.recipient_openid)
        found = recipients.get(claimed.recipient_user_id)
        if found is None:
            return Recipient(openid=None)
        if not found.openid and claimed.recipient_openid:
            return replace(found, openid=claimed.recipient_openid)
        return found

    def _route(self, jobs: list[SendJob], now: datetime) -> list[SendJob]:
        """Customer-service first where the kind prefers it and the window is open; else the
        template (when the kind has no template configured the CS text is still tried)."""
        wanting = [job.openid for job in jobs if job.channel is Channel.CUSTOM]
        open_now = channels.open_windows(self._redis, wanting, now) if wanting else set()
        routed = []
        for job in jobs:
            if job.channel is Channel.CUSTOM and job.openid not in open_now and job.template_id is not None:
                job = replace(job, channel=Channel.TEMPLATE)
            routed.append(job)
        return routed

    def _admit(self, jobs: list[SendJob], now: datetime,
               stats: DispatchStats) -> tuple[list[SendJob], list[Result]]:
        """Apply channel pauses and the shared quota: (jobs to send now, results of the rows
        that must wait — back to the queue, their attempt not counted)."""
        if not jobs:
            return [], []
        paused = channels.paused_until(self._redis, {job.channel for job in jobs}, now)
        admitted, waiting = [], []
        for channel in dict.fromkeys(job.channel for job in jobs):
            group = [job for job in jobs if job.channel is channel]
            until = paused.get(channel)
            if until is None:
                granted, wait = self._quota.acquire(channel, len(group))
                admitted.extend(group[:granted])
                group = group[granted:]
                until = now + wait if wait is not None else None
            for job in group:
                stats.deferred += 1
                waiting.append(self._later(job.claimed, until + self._jitter(), hold=False))
        return admitted, waiting

    def _jitter(self) -> timedelta:
        # Rows released together must not all come back in the same instant.
        return timedelta(seconds=5 * self._rand())

    def _send_all(self, jobs: list[SendJob]) -> Iterator[list[tuple[SendJob, SendOutcome]]]:
        """Send `jobs` (on the pool when there are several at once) and yield the returned
        sends in groups to be recorded: a group is handed over as soon as no further send
        returns within RECORD_AFTER, or when it reaches RECORD_GROUP, or at the end. A slow API so gets each result written while
        the next send is on the wire; a fast one shares a transaction among many. The
        batch's claims are renewed at least every heartbeat meanwhile."""
        if not jobs:
            return
        if self.concurrency == 1 or len(jobs) == 1:
            # One send at a time, here: a send that took RECORD_AFTER or longer is written
            # before the next starts; quick ones are grouped.
            returned = []
            for job in jobs:
                started = time.monotonic()
                returned.append((job, self._send(job)))
                self._keep_claims()
                if time.monotonic() - started >= RECORD_AFTER or len(returned) >= RECORD_GROUP:
                    yield returned
                    returned = []
            if returned:
                yield returned
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="outbox-send")
        futures: dict[Future[SendOutcome], SendJob] = {self._pool.submit(self._send, job): job for job in jobs}
        running, returned = set(futures), []
        while running:
            # Wake on a returned send, after a heartbeat (a send stuck for the client's whole
            # timeout must not let the claims run out), or soon when results are waiting.
            timeout = RECORD_AFTER if returned else self.heartbeat.total_seconds()
            done, running = wait(running, timeout=timeout, return_when=FIRST_COMPLETED)
            self._keep_claims()
            returned += [(futures[future], future.result()) for future in done]
            if returned and (not done or len(returned) >= RECORD_GROUP):
                yield returned
                returned = []
        if returned:
            yield returned

    def _keep_claims(self) -> None:
        if self._keeper is not None:
            self._keeper.beat()

    def _send(self, job: SendJob) -> SendOutcome:
        """The network part (pool thread): send, falling back from a closed customer-service
        window to the template. Never raises."""
        channel = job.channel
        try:
            if channel is Channel.CUSTOM:
                try:
                    channels.send_custom(self._client, job.openid, job.message)
                    return SendOutcome(channel)
                except WeChatAPIError as exc:
                    if classify(exc.category, exc.errcode) is not Verdict.FALLBACK or job.template_id is None:
                        raise
                    log.info("outbox %s: customer-service window closed (%s); sending the template",
                             job.claimed.id, exc.errcode)
                    channel = Channel.TEMPLATE
            msgid = channels.send_template(
                self._client, job.openid, job.template_id, job.message, client_msg_id=f"ancha-outbox-{job.claimed.id}"
            )
            return SendOutcome(channel, msgid=msgid)
        except WeChatAPIError as exc:
            return SendOutcome(channel, error=exc)
        except Exception as exc:
            log.exception("outbox %s: unexpected error while sending", job.claimed.id)
            return SendOutcome(channel, unexpected=f"{exc.__class__.__name__}: {exc}")

    def _judge(self, job: SendJob, outcome: SendOutcome, now: datetime, stats: DispatchStats) -> Result:
        """The row's result from WeChat's answer (docs/WECHAT.md §2.12)."""
        claimed = job.claimed
        if outcome.error is None and outcome.unexpected is None:
            stats.sent += 1
            return self._sent(claimed, outcome.channel, outcome.msgid, now)
        if outcome.error is not None:
            error = outcome.error
            verdict = classify(error.category, error.errcode)
            text = truncate_error(f"{error.errcode}: {error.errmsg}" if error.errcode is not None else str(error.errmsg))
            errcode = error.errcode
        else:
            verdict, text, errcode = Verdict.RETRY, truncate_error(outcome.unexpected or ""), None
        if verdict is Verdict.DUPLICATE:
            # WeChat already took this client_msg_id: the message went out on an earlier try.
            stats.sent += 1
            return self._sent(claimed, outcome.channel, None, now, note="微信提示重复发送（45065），此前已发出")
        if verdict is Verdict.DEFER:
            stats.deferred += 1
            until = quota_pause_until(errcode, now)
            channels.pause_channel(self._redis, outcome.channel, until, now)
            result = self._later(claimed, until + self._jitter(), hold=False)
            result.last_errcode, result.last_error, result.channel = errcode, text, outcome.channel
            return result
        if verdict in (Verdict.FAIL, Verdict.UNFOLLOWED, Verdict.REJECTED, Verdict.FALLBACK):
            stats.failed += 1
            result = self._final(claimed, OutboxStatus.FAILED, now, error=text, errcode=errcode)
            result.channel = outcome.channel
            if verdict is Verdict.UNFOLLOWED:
                result.unfollowed = (claimed.recipient_user_id, job.openid)
            if verdict is Verdict.REJECTED:
                channels.raise_alert(self._redis, now, "bad_request", message_id=claimed.id, kind=claimed.kind,
                                     errcode=errcode, detail=text)
            return result
        if verdict is Verdict.RETRY_ALERT:
            channels.raise_alert(self._redis, now, "account", message_id=claimed.id, kind=claimed.kind,
                                 errcode=errcode, detail=text)
        if claimed.attempts >= self.max_attempts:
            stats.dead += 1
            log.warning("outbox %s: giving up after %s attempts (%s)", claimed.id, claimed.attempts, text)
            result = self._final(claimed, OutboxStatus.DEAD, now, error=text, errcode=errcode)
        else:
            stats.retried += 1
            result = Result(
                id=claimed.id,
                status=OutboxStatus.QUEUED,
                attempts=claimed.attempts,
                next_attempt_at=now + backoff(claimed.attempts, self._rand),
                last_errcode=errcode,
                last_error=text,
            )
        result.channel = outcome.channel
        return result

    # -- results -----------------------------------------------------------------------

    @staticmethod
    def _sent(claimed: Claimed, channel: Channel, msgid: int | None, now: datetime, note: str | None = None) -> Result:
        return Result(
            id=claimed.id,
            status=OutboxStatus.SENT,
            attempts=claimed.attempts,
            channel=channel,
            wx_msgid=msgid,
            sent_at=now,
            # A customer-service message has no delivery report: sent is as far as it gets.
            finished_at=now if channel is Channel.CUSTOM else None,
            last_errcode=claimed.last_errcode,
            last_error=note or claimed.last_error,
        )

    @staticmethod
    def _final(claimed: Claimed, status: OutboxStatus, now: datetime, *, error: str | None,
               errcode: int | None = None, uncount: bool = False) -> Result:
        """A final status; `uncount` when nothing was sent (the claim counted an attempt)."""
        return Result(
            id=claimed.id,
            status=status,
            attempts=claimed.attempts - 1 if uncount else claimed.attempts,
            finished_at=now,
            last_errcode=errcode if error else claimed.last_errcode,
            last_error=truncate_error(error) if error else claimed.last_error,
        )

    @staticmethod
    def _later(claimed: Claimed, at: datetime | None, *, hold: bool) -> Result:
        """Back to the queue until `at` without counting an attempt (quiet hours, quotas)."""
        return Result(
            id=claimed.id,
            status=OutboxStatus.QUEUED,
            attempts=claimed.attempts - 1,
            next_attempt_at=at,
            hold_until=at if hold else None,
            last_errcode=claimed.last_errcode,
            last_error=claimed.last_error,
        )

    def _record(self, results: list[Result], now: datetime, stats: DispatchStats) -> None:
        """Write every result (only where the claim is still ours) and what follows from
        them, in one transaction; then fold in delivery reports that came before it."""
        if not results:
            return
        params = [
            {
                "b_id": r.id,
                "b_claimer": self.name,
                "b_status": r.status,
                "b_attempts": max(r.attempts, 0),
                "b_next_attempt_at": r.next_attempt_at,
                "b_hold_until": r.hold_until,
                "b_channel": r.channel,
                "b_last_errcode": r.last_errcode,
                "b_last_error": r.last_error,
                "b_wx_msgid": r.wx_msgid,
                "b_sent_at": r.sent_at,
                "b_finished_at": r.finished_at,
            }
            for r in results
        ]
        with self._session() as session:
            written = session.execute(self._mark, params).rowcount
            for result in results:
                if result.unfollowed is not None:
                    user_id, openid = result.unfollowed
                    failed = mark_unfollowed(session, now, user_id=user_id, openid=openid)
                    log.warning("outbox %s: recipient unfollowed (43004); %s queued messages to them failed",
                                result.id, failed)
            session.commit()
        if written is not None and written >= 0 and written < len(results):
            # Our lease ran out and another dispatcher claimed rows first: its result wins.
            stats.lost_claims += len(results) - written
            log.warning("dispatcher %s: %s results not recorded (claims expired)", self.name, len(results) - written)
        self._apply_early_reports([r for r in results if r.wx_msgid is not None], now)

    def _apply_early_reports(self, sent: list[Result], now: datetime) -> None:
        """A TEMPLATESENDJOBFINISH can arrive before its row is recorded as sent; the
        callback keeps every report in Redis, so look there (one round trip) once the rows
        are committed."""
        if not sent:
            return
        found = records.template_jobs(self._redis, [str(result.wx_msgid) for result in sent])
        if not found:
            return
        with self._session() as session:
            for msgid, report in found.items():
                record_template_result(session, msgid, report["status"], now)
            session.commit()


# Returned sends wait at most this long (or for this many more) before their results are
# written: the longer, the more a crash can send twice; the shorter, the more transactions.
RECORD_AFTER = 0.05
RECORD_GROUP = 25


class _ClaimKeeper:
    """Renews the claims of one batch while it is being sent: every `heartbeat` (by the
    dispatcher's timer) the rows still claimed by this dispatcher get `claimed_until` =
    the batch's `now` + the time elapsed + one lease. A renewal that fails (database away)
    is logged; the claims then simply run out as if the dispatcher had died."""

    def __init__(self, dispatcher: Dispatcher, ids: list[int], now: datetime, stats: DispatchStats):
        self.dispatcher = dispatcher
        self.ids = ids
        self.now = now
        self.stats = stats
        self.started = self.last = dispatcher._timer()

    def beat(self) -> None:
        d = self.dispatcher
        at = d._timer()
        if at - self.last < d.heartbeat.total_seconds():
            return
        self.last = at
        until = self.now + timedelta(seconds=at - self.started) + d.lease
        try:
            with d._session() as session:
                session.execute(
                    update(_outbox)
                    .where(_outbox.c.id.in_(self.ids), _outbox.c.claimed_by == d.name, _QUEUED)
                    .values(claimed_until=until, next_attempt_at=until)
                )
                session.commit()
            self.stats.claim_renewals += 1
        except Exception:
            log.exception("dispatcher %s could not renew its claims; they run out at the lease", d.name)


def fit_connection_pool(client: Any, size: int) -> None:
    """Let the client keep `size` connections to the WeChat API open: requests keeps 10 per
    host, so more concurrent sends would open (and drop) a new connection each time. Left
    alone when the base URL is served by another transport (the in-process sandbox)."""
    http = getattr(client, "_http", None)
    base_url = getattr(client, "base_url", None)
    if http is None or base_url is None:
        return
    adapter = http.get_adapter(f"{base_url}/")
    if isinstance(adapter, HTTPAdapter) and adapter._pool_maxsize < size:
        http.mount(f"{base_url}/", HTTPAdapter(pool_connections=1, pool_maxsize=size))


# --- the shared quota and the background thread --------------------------------------------

_QUOTA_KEY = "ancha.notify_quota"
_BACKGROUND_KEY = "ancha.notify_background"
# Re-entrant: start_background_dispatcher builds the quota while holding it.
_lock = threading.RLock()


def app_quota(app: Flask) -> channels.SendQuota:
    """The send quota of `app`'s WeChat account, built once per app: counted in Redis when
    REDIS_URL is set (shared by every dispatcher), in process memory otherwise."""
    with _lock:
        quota = app.extensions.get(_QUOTA_KEY)
        if quota is None:
            settings = app.config["SETTINGS"]
            uri = settings.REDIS_URL or "memory://"
            quota = channels.SendQuota(
                uri,
                {Channel.TEMPLATE: settings.NOTIFY_RATE_TEMPLATE, Channel.CUSTOM: settings.NOTIFY_RATE_CUSTOM},
                identity=settings.wechat_app_id,
            )
            app.extensions[_QUOTA_KEY] = quota
        return quota


class BackgroundDispatcher:
    """A dispatcher loop in a daemon thread of this process."""

    def __init__(self, app: Flask, dispatcher: Dispatcher, idle_interval: float):
        self.dispatcher = dispatcher
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(app, idle_interval), name="outbox-dispatcher", daemon=True
        )

    def _run(self, app: Flask, idle_interval: float) -> None:
        with app.app_context():
            try:
                self.dispatcher.run(self._stop, idle_interval=idle_interval)
            finally:
                self.dispatcher.close()

    def start(self) -> BackgroundDispatcher:
        self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Ask the loop to stop after the batch in hand and wait for it."""
        self._stop.set()
        self._thread.join(timeout)


def start_background_dispatcher(app: Flask, *, idle_interval: float = IDLE_INTERVAL,
                                **overrides: Any) -> BackgroundDispatcher:
    """Start the dispatcher loop in a daemon thread of this process (the embedded default
    runs web, scheduler and dispatcher in one process). Once per app: calling it again
    returns the running one. Stopped at interpreter exit after its current batch."""
    import atexit

    with _lock:
        running = app.extensions.get(_BACKGROUND_KEY)
        if running is not None and running.alive:
            return running
        background = BackgroundDispatcher(app, Dispatcher.for_app(app, **overrides), idle_interval).start()
        app.extensions[_BACKGROUND_KEY] = background
    atexit.register(background.stop, 10.0)
    return background
