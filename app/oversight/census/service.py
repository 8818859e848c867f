"""The census import: plan every row of an uploaded sheet against the enterprise file, and,
when asked and no row has an error, create and update the enterprises through the
enterprise file's own use cases, all in one transaction or not at all. Takes (session,
actor, now, …); flushes, never commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.accounts.domain import Action, Actor, require
from app.enterprises import service as enterprise_service
from app.errors import Conflict, DomainError, PermissionDenied, ValidationFailed
from app.oversight.census import domain, queries
from app.oversight.census.workbook import read_census

APPLY_FAILED = (
    "第 {row} 行（统一社会信用代码 {uscc}）无法写入：{reason}。导入已全部取消，没有写入任何企业；"
    "请重新上传文件预览后再确认。"
)
TAKEN_MEANWHILE = "该代码的企业刚被他人登记"


@dataclass
class CensusReport:
    rows: list[domain.RowPlan]
    counts: dict[str, int]
    applied: bool = False

    @property
    def ok(self) -> bool:
        return self.counts[domain.ERROR] == 0

    @property
    def ordered(self) -> list[domain.RowPlan]:
        """Error rows first, then new, updated and unchanged ones."""
        return domain.errors_first(self.rows)


def plan(session: Session, actor: Actor, rows: list[domain.CensusRow]) -> CensusReport:
    """Each row's verdict against the enterprises on file now; nothing is written."""
    require(actor, Action.CREATE_ENTERPRISE)
    if len(rows) > domain.MAX_ROWS:
        raise domain.CensusFileRefused(domain.TOO_MANY_ROWS)
    codes = [code for code in (domain.normal_uscc(raw.text("uscc")) for raw in rows) if code]
    plans = domain.plan_census(
        rows, queries.towns(session, actor), queries.existing_by_uscc(session, actor, codes)
    )
    return CensusReport(plans, domain.summary(plans))


def import_census(session: Session, actor: Actor, now: datetime, data: bytes, *, apply: bool) -> CensusReport:
    """Read an uploaded census file and plan every row; with `apply` and no error row, create
    the new enterprises (enterprises.service.create_enterprise) and update the changed ones
    (update_enterprise, only the changed fields), in file order, inside one savepoint: a
    failure on any row (a code registered by someone else meanwhile, a refusal of the
    enterprise file's rules) undoes every row and raises Conflict naming the row. With any
    error row nothing is written and the report says why, row by row. The same file twice →
    all unchanged. Raises PermissionDenied (CREATE_ENTERPRISE), CensusFileRefused (the whole
    file: too large, not an .xlsx, wrong columns, too many or no rows), Conflict."""
    require(actor, Action.CREATE_ENTERPRISE)
    report = plan(session, actor, read_census(data))
    if not apply or not report.ok:
        return report
    # Held while applying: the session's identity map keeps rows only while referenced, and
    # each create looks its town up again (5 000 rows, 5 000 needless queries otherwise).
    _held_towns = queries.town_rows(session)
    current: domain.RowPlan | None = None
    try:
        with session.begin_nested():
            for current in report.rows:
                _apply_row(session, actor, now, current)
            session.flush()
    except PermissionDenied:
        raise
    except DomainError as exc:
        reason = "；".join(exc.fields.values()) if isinstance(exc, ValidationFailed) and exc.fields else exc.message
        raise Conflict(_failed(current, reason)) from exc
    except IntegrityError as exc:
        raise Conflict(_failed(current, TAKEN_MEANWHILE)) from exc
    report.applied = True
    return report


def _apply_row(session: Session, actor: Actor, now: datetime, row: domain.RowPlan) -> None:
    if row.action == domain.CREATE:
        enterprise_service.create_enterprise(session, actor, now, row.values)
    elif row.action == domain.UPDATE:
        enterprise = enterprise_service.get_enterprise(session, actor, row.enterprise_id)
        changes = domain.changed_fields(queries.census_values(enterprise), row.values)
        enterprise_service.update_enterprise(session, actor, now, enterprise.id, changes)


def _failed(row: domain.RowPlan | None, reason: str) -> str:
    reason = reason.rstrip("。")
    if row is None:
        return APPLY_FAILED.format(row="?", uscc="", reason=reason)
    return APPLY_FAILED.format(row=row.row, uscc=row.uscc, reason=reason)
