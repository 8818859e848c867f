"""The demo's credit list (失信名单), written through the credit service as the bureau admin
would: 郑州绿源纺织 on the 重点关注 list with two of the 四个一律 measures (限制, 公示), 郑州华新建材 listed last
year and delisted after its review (the history), and every enterprise of the generated
district whose plan marks it (district.py) listed with a reason fitting its list, so that the
marks and the list agree. Their notices are marked delivered: the listings are past events.
Idempotent: an enterprise with a record is left alone."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.accounts.queries import load_actor
from app.demo import data
from app.demo.history import last_outbox_id, mark_delivered_since
from app.enterprises.domain import CreditStatus
from app.enterprises.models import Enterprise
from app.enterprises.schemas import uscc_check_digit
from app.oversight.credit import service
from app.oversight.credit.models import CreditRecord

ADMIN = "admin"

WATCHED = {
    "key": "lvyuan",
    "list_kind": CreditStatus.WATCHLIST.value,
    "reason": "定型机热媒炉重大事故隐患逾期未整改，三同时手续未办理",
    "basis": "《安全生产法》第一百零二条；惠应急责改〔2026〕31号责令限期整改指令书",
    "decision_no": "惠应急罚〔2026〕18号",
    "restrict_market": True,
    "publicize": True,
    "days_ago": 40,
}
HISTORY = {
    "key": "huaxin",
    "list_kind": CreditStatus.WATCHLIST.value,
    "reason": "煤磨系统粉尘爆炸危险场所未按规定设置防爆设施，经责令整改逾期未改正",
    "basis": "《工贸企业粉尘防爆安全规定》第二十二条；惠应急罚〔2025〕7号行政处罚决定书",
    "decision_no": "惠应急罚〔2025〕7号",
    "publicize": True,
    "days_ago": 420,
    "delisted_days_ago": 50,
    "delist_reason": "管理期满复核：防爆设施已整改并经复查验收，一年内未再发生失信行为",
}
DISTRICT_REASONS = {
    CreditStatus.WATCHLIST: (
        "隐患排查治理台账长期缺失，当月漏检率超过 20%",
        "《安全生产法》第四十一条；属地镇（街道）督导通报",
        {"publicize": False},
    ),
    CreditStatus.SERIOUS_DISCREDIT: (
        "重大事故隐患拒不整改，被责令停产整顿后仍不具备安全生产条件",
        "《安全生产严重失信主体名单管理办法》第六条",
        {"restrict_market": True, "publicize": True},
    ),
}


def _uscc(key: str) -> str:
    spec = next(s for s in data.ENTERPRISES if s["key"] == key)
    return spec["uscc17"] + uscc_check_digit(spec["uscc17"])


def _has_record(session: Session, enterprise_id: int) -> bool:
    return bool(session.scalar(select(exists().where(CreditRecord.enterprise_id == enterprise_id))))


def _list(session: Session, actor, now: datetime, enterprise: Enterprise, spec: dict, days_ago: int) -> CreditRecord:
    listed_at = now - timedelta(days=days_ago)
    fields = {k: v for k, v in spec.items() if k not in ("key", "days_ago", "delisted_days_ago", "delist_reason")}
    return service.list_enterprise(session, actor, listed_at, {**fields, "enterprise_id": enterprise.id})


def seed_credit(session: Session, now: datetime) -> int:
    """List and delist as above; returns how many records were written."""
    admin_user = session.scalar(select(User).where(User.username == ADMIN))
    if admin_user is None:
        return 0
    admin = load_actor(session, admin_user)
    outbox_before = last_outbox_id(session)
    written = 0
    history = session.scalar(select(Enterprise).where(Enterprise.uscc == _uscc(HISTORY["key"])))
    if history is not None and not _has_record(session, history.id):
        record = _list(session, admin, now, history, HISTORY, HISTORY["days_ago"])
        service.delist(
            session, admin, now - timedelta(days=HISTORY["delisted_days_ago"]), record.id,
            {"delist_reason": HISTORY["delist_reason"]},
        )
        written += 1
    watched = session.scalar(select(Enterprise).where(Enterprise.uscc == _uscc(WATCHED["key"])))
    if watched is not None and not _has_record(session, watched.id):
        _list(session, admin, now, watched, WATCHED, WATCHED["days_ago"])
        written += 1
    # The district's marked enterprises (their plan set credit_status when they were created).
    marked = session.scalars(
        select(Enterprise)
        .where(Enterprise.credit_status != CreditStatus.NORMAL, ~exists().where(CreditRecord.enterprise_id == Enterprise.id))
        .order_by(Enterprise.id)
    ).all()
    for index, enterprise in enumerate(marked):
        kind = CreditStatus(enterprise.credit_status)
        reason, basis, flags = DISTRICT_REASONS[kind]
        spec = {"list_kind": kind.value, "reason": reason, "basis": basis, **flags}
        _list(session, admin, now, enterprise, spec, 60 + 45 * index)
        written += 1
    session.flush()
    # These listings are past events: their notices reached the enterprises long ago, as the
    # history's do (demo/history.py marks its outbox the same way).
    mark_delivered_since(session, outbox_before)
    return written
