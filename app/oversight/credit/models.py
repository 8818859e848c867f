"""The credit list's table: one row per listing of an enterprise (失信名单 / 黑名单), kept
after it is lifted (delisted_on, the reason and who did it), so an enterprise's file shows
its whole credit history."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.database import Base, str_enum
from app.enterprises.domain import CreditStatus
from app.oversight.credit.domain import FLAGS, MAX_BASIS, MAX_DECISION_NO, MAX_REASON

ACTIVE = "delisted_on IS NULL"


class CreditRecord(Base):
    """An enterprise on the 重点关注 or the 严重失信主体 list: why (reason), on what basis
    (basis, decision_no), from when (listed_on) until its review (review_on), with the
    四个一律 flags the bureau decided. Delisting fills delisted_on, delist_reason and
    delisted_by_id; the row stays. At most one active (not delisted) row per enterprise."""

    __tablename__ = "credit_records"
    __table_args__ = (
        CheckConstraint("list_kind <> 'normal'", name="list_kind_is_a_list"),
        CheckConstraint("review_on > listed_on", name="review_after_listing"),
        CheckConstraint(
            "(delisted_on IS NULL AND delist_reason IS NULL AND delisted_at IS NULL)"
            " OR (delisted_on IS NOT NULL AND delist_reason IS NOT NULL AND delisted_at IS NOT NULL"
            " AND delisted_on >= listed_on)",
            name="delisting_is_complete",
        ),
        Index(
            "uq_credit_records_one_active",
            "enterprise_id",
            unique=True,
            postgresql_where=text(ACTIVE),
            sqlite_where=text(ACTIVE),
        ),
        Index("ix_credit_records_listed_on", "listed_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # RESTRICT: a listing is a public record and outlives any clean-up of the enterprise.
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="RESTRICT"), index=True)
    list_kind: Mapped[CreditStatus] = mapped_column(str_enum(CreditStatus, "credit_list_kind"))
    reason: Mapped[str] = mapped_column(String(MAX_REASON))  # 事由
    basis: Mapped[str] = mapped_column(String(MAX_BASIS))  # 依据
    decision_no: Mapped[str | None] = mapped_column(String(MAX_DECISION_NO))  # 决定书文号
    listed_on: Mapped[date] = mapped_column(Date)
    review_on: Mapped[date] = mapped_column(Date)  # 复核（到期）日期
    # 四个一律 (domain.FLAGS)
    restrict_market: Mapped[bool] = mapped_column(default=False)
    publicize: Mapped[bool] = mapped_column(default=False)
    occupational_ban: Mapped[bool] = mapped_column(default=False)
    industry_ban: Mapped[bool] = mapped_column(default=False)
    listed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime]
    delisted_on: Mapped[date | None] = mapped_column(Date)
    delist_reason: Mapped[str | None] = mapped_column(String(MAX_REASON))
    delisted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    delisted_at: Mapped[datetime | None]

    @property
    def active(self) -> bool:
        return self.delisted_on is None

    @property
    def flags(self) -> dict[str, bool]:
        return {name: bool(getattr(self, name)) for name, _label in FLAGS}
