"""Declarative base, constraint naming convention, UTC timestamps and shared mixins."""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Enum, MetaData, Select, event, func, select
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    ORMExecuteState,
    Session,
    SessionTransaction,
    UOWTransaction,
    mapped_column,
)
from sqlalchemy.types import TypeDecorator

# Deterministic constraint names so migrations can drop/alter them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always aware UTC in Python.

    Naive values are refused on the way in (they are a bug: nobody knows their zone);
    SQLite returns naive values, which are UTC by construction and get tzinfo back.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused; pass an aware UTC datetime")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def str_enum(enum_cls: type[enum.Enum], name: str) -> Enum:
    """A portable enum column: VARCHAR + CHECK constraint storing the member *values*."""
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(m.value) for m in enum_cls),
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: dict[Any, Any] = {datetime: UTCDateTime()}


class TimestampMixin:
    """created_at / updated_at, set by the database on insert and by SQLAlchemy on update."""

    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


# --- dialect helpers ---------------------------------------------------------------------

CHUNK = 500  # values per IN list / rows per executemany batch


def insert_ignoring_conflicts(session: Session, model_or_table: Any) -> Any:
    """A Core INSERT on the model's table for the session's dialect (PostgreSQL or SQLite),
    with `.on_conflict_do_nothing(...)` available. Raises RuntimeError on another dialect."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - the project supports these two backends only
        raise RuntimeError(f"unsupported database dialect {dialect!r}")
    return insert(getattr(model_or_table, "__table__", model_or_table))


def count_rows(session: Session, query: Select) -> int:
    """How many rows `query` yields (its ORDER BY dropped): the total of a paginated list."""
    return session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0


def one_page(query: Select, page: int, per_page: int) -> Select:
    """`query` limited to page `page` (1-based) of `per_page` rows; order it first."""
    return query.limit(per_page).offset((page - 1) * per_page)


def chunks(values: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    """`values` in slices of at most `size` (IN lists and batches stay below driver limits)."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


# --- has this unit of work written anything? ------------------------------------------------

_WROTE = "ancha_wrote"  # Session.info flag: a flush or an ORM DML statement in this transaction


def has_writes(session: Session) -> bool:
    """Whether committing `session` would change anything: objects still pending, or a
    flush or ORM INSERT/UPDATE/DELETE in its open transaction (raw SQL text is not seen)."""
    return bool(session.info.get(_WROTE) or session.new or session.dirty or session.deleted)


@event.listens_for(Session, "after_flush")
def _note_flush(session: Session, _flush: UOWTransaction) -> None:
    session.info[_WROTE] = True


@event.listens_for(Session, "do_orm_execute")
def _note_dml(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[_WROTE] = True


@event.listens_for(Session, "after_transaction_end")
def _forget_writes(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_WROTE, None)
