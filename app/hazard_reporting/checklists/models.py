"""Tables of checklists: standard templates and enterprise lists, their immutable versions,
the standard versions an enterprise version builds on, and the items of each version."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import Base, TimestampMixin, str_enum
from app.hazard_reporting.checklists.domain import ChecklistKind, ItemCategory, ItemOrigin, OnFail


class Checklist(TimestampMixin, Base):
    """A checklist identity. Standard templates (GEN, DUST, …, CSC) have a code and no
    enterprise; an enterprise's own list (one per kind) has an enterprise and no code.

    `version` is the current version number; versions themselves are immutable rows."""

    __tablename__ = "checklists"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "kind"),
        CheckConstraint(
            "(enterprise_id IS NULL AND code IS NOT NULL) OR (enterprise_id IS NOT NULL AND code IS NULL)",
            name="standard_xor_enterprise",
        ),
        CheckConstraint("version >= 0", name="version_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"))
    code: Mapped[str | None] = mapped_column(String(16), unique=True)
    kind: Mapped[ChecklistKind] = mapped_column(str_enum(ChecklistKind, "checklist_kind"))
    name: Mapped[str] = mapped_column(String(128))
    # Standard templates only: applies_to of the data file, as Industry / Topic values.
    applies_industries: Mapped[list[str]] = mapped_column(JSON, default=list)
    applies_topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    position: Mapped[int] = mapped_column(default=0)  # order of standard templates
    version: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)

    versions: Mapped[list[ChecklistVersion]] = relationship(
        back_populates="checklist", order_by="ChecklistVersion.version"
    )


class ChecklistVersion(Base):
    """One immutable version of a checklist.

    A standard version holds all its items. An enterprise version is copy-on-write: it names
    the standard versions it builds on (`bases`) and holds only the enterprise's own lines
    (reworded or disabled copies of standard items, and added items)."""

    __tablename__ = "checklist_versions"
    __table_args__ = (
        UniqueConstraint("checklist_id", "version"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    checklist_id: Mapped[int] = mapped_column(ForeignKey("checklists.id", ondelete="CASCADE"))
    version: Mapped[int]
    # Content hash (standard) or hash of the base version ids (enterprise).
    signature: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(String(256), default="")  # what changed, for the record
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]

    checklist: Mapped[Checklist] = relationship(back_populates="versions")
    items: Mapped[list[ChecklistItem]] = relationship(
        back_populates="version_row", order_by="ChecklistItem.position", cascade="all, delete-orphan"
    )


class ChecklistVersionBase(Base):
    """An enterprise version builds on these standard versions, in this order."""

    __tablename__ = "checklist_version_bases"

    version_id: Mapped[int] = mapped_column(
        ForeignKey("checklist_versions.id", ondelete="CASCADE"), primary_key=True
    )
    base_version_id: Mapped[int] = mapped_column(
        ForeignKey("checklist_versions.id"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(default=0)


class ChecklistItem(Base):
    """A line of a checklist version."""

    __tablename__ = "checklist_items"
    __table_args__ = (UniqueConstraint("version_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("checklist_versions.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(default=0)
    code: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    category: Mapped[ItemCategory] = mapped_column(str_enum(ItemCategory, "checklist_item_category"))
    levels: Mapped[str] = mapped_column(String(3), default="")  # subset of "DWM"
    on_fail: Mapped[OnFail] = mapped_column(str_enum(OnFail, "checklist_item_on_fail"))
    refs: Mapped[list[str]] = mapped_column(JSON, default=list)  # major-hazard criteria codes
    note: Mapped[str] = mapped_column(Text, default="")
    origin: Mapped[ItemOrigin] = mapped_column(
        str_enum(ItemOrigin, "checklist_item_origin"), default=ItemOrigin.STANDARD
    )
    enabled: Mapped[bool] = mapped_column(default=True)

    version_row: Mapped[ChecklistVersion] = relationship(back_populates="items")
