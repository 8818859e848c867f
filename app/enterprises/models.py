"""Tables of the enterprise file (一企一档)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.domain import EnterpriseRef
from app.database import Base, TimestampMixin, str_enum
from app.enterprises.domain import (
    CreditStatus,
    Industry,
    Scale,
    StandardizationLevel,
    ThreeSimultaneous,
    Topic,
    is_dust_key_enterprise,
)


class Town(Base):
    """镇/街道: the unit the bureau's statistics and staff scopes are cut by."""

    __tablename__ = "towns"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)

    enterprises: Mapped[list[Enterprise]] = relationship(back_populates="town")


class Enterprise(TimestampMixin, Base):
    """One file per enterprise (一企一档)."""

    __tablename__ = "enterprises"
    __table_args__ = (
        CheckConstraint("employee_count >= 0", name="employee_count_nonnegative"),
        CheckConstraint("dust_worker_count >= 0", name="dust_worker_count_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uscc: Mapped[str] = mapped_column(String(18), unique=True)  # 统一社会信用代码
    name: Mapped[str] = mapped_column(String(128))
    address: Mapped[str] = mapped_column(String(256))
    town_id: Mapped[int] = mapped_column(ForeignKey("towns.id", ondelete="RESTRICT"), index=True)
    industry: Mapped[Industry] = mapped_column(str_enum(Industry, "industry"))
    scale: Mapped[Scale] = mapped_column(str_enum(Scale, "scale"))
    employee_count: Mapped[int] = mapped_column(default=0)
    main_processes: Mapped[str] = mapped_column(Text, default="")
    principal_name: Mapped[str] = mapped_column(String(64), default="")  # 主要负责人
    principal_phone: Mapped[str] = mapped_column(String(32), default="")
    standardization_level: Mapped[StandardizationLevel] = mapped_column(
        str_enum(StandardizationLevel, "standardization_level"), default=StandardizationLevel.NONE
    )
    standardization_date: Mapped[date | None]
    dust_explosion: Mapped[bool] = mapped_column(default=False)
    confined_space: Mapped[bool] = mapped_column(default=False)
    ammonia_refrigeration: Mapped[bool] = mapped_column(default=False)
    metallurgical_gas: Mapped[bool] = mapped_column(default=False)
    molten_metal: Mapped[bool] = mapped_column(default=False)
    dust_worker_count: Mapped[int] = mapped_column(default=0)
    three_simultaneous: Mapped[ThreeSimultaneous] = mapped_column(
        str_enum(ThreeSimultaneous, "three_simultaneous"), default=ThreeSimultaneous.NOT_APPLICABLE
    )
    credit_status: Mapped[CreditStatus] = mapped_column(
        str_enum(CreditStatus, "credit_status"), default=CreditStatus.NORMAL
    )

    town: Mapped[Town] = relationship(back_populates="enterprises")
    departments: Mapped[list[Department]] = relationship(
        back_populates="enterprise", order_by="Department.id"
    )
    sites: Mapped[list[Site]] = relationship(back_populates="enterprise", order_by="Site.id")
    posts: Mapped[list[Post]] = relationship(back_populates="enterprise", order_by="Post.id")

    @property
    def topics(self) -> frozenset[Topic]:
        return frozenset(t for t in Topic if getattr(self, t.value))

    @property
    def dust_key(self) -> bool:
        return is_dust_key_enterprise(self.dust_explosion, self.dust_worker_count)

    @property
    def ref(self) -> EnterpriseRef:
        """What access rules need to know of this enterprise (accounts.domain)."""
        return EnterpriseRef(id=self.id, town_id=self.town_id)


class Department(Base):
    __tablename__ = "departments"
    __table_args__ = (UniqueConstraint("enterprise_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))

    enterprise: Mapped[Enterprise] = relationship(back_populates="departments")
    teams: Mapped[list[Team]] = relationship(back_populates="department", order_by="Team.id")


class Team(Base):
    """班组: the unit of the daily check."""

    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("department_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))

    department: Mapped[Department] = relationship(back_populates="teams")


class Post(Base):
    """岗位 with its risk card (岗位风险告知卡): every worker must know these three texts."""

    __tablename__ = "posts"
    __table_args__ = (UniqueConstraint("enterprise_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"))
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))
    risks: Mapped[str] = mapped_column(Text)
    precautions: Mapped[str] = mapped_column(Text)
    emergency_measures: Mapped[str] = mapped_column(Text)

    enterprise: Mapped[Enterprise] = relationship(back_populates="posts")
    department: Mapped[Department | None] = relationship()
    hazard_factors: Mapped[list[PostHazardFactor]] = relationship(
        back_populates="post",
        order_by="PostHazardFactor.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class PostHazardFactor(Base):
    """A 较大危险因素 identified for a post, with its 管控措施; part of the post's risk card,
    listed in `position` order."""

    __tablename__ = "post_hazard_factors"
    __table_args__ = (
        UniqueConstraint("post_id", "name"),
        CheckConstraint("position >= 0", name="position_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    measures: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(default=0)

    post: Mapped[Post] = relationship(back_populates="hazard_factors")


_ACTIVE = text("active")


class Site(TimestampMixin, Base):
    """A QR point inside an enterprise (a work area, a machine room, a gate). A retired site
    (`active` false) keeps its row, token and WeChat QR (its history and a reactivation need
    them); its name may be given to a new site, so names are unique among active sites only."""

    __tablename__ = "sites"
    __table_args__ = (
        Index(
            "ux_sites_enterprise_id_name_active",
            "enterprise_id",
            "name",
            unique=True,
            postgresql_where=_ACTIVE,
            sqlite_where=_ACTIVE,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Indexed on its own: the partial unique index below serves active sites only.
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))
    area: Mapped[str] = mapped_column(String(128), default="")
    token: Mapped[str] = mapped_column(String(32), unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    # The site's permanent WeChat parametric QR (QR_LIMIT_STR_SCENE), obtained once: the
    # account may hold at most 100 000 permanent codes, so a stored code is never re-created.
    # `wx_qr_url` is what the printed code encodes (a menu scan returns it): unique per site.
    wx_qr_ticket: Mapped[str | None] = mapped_column(String(256))
    wx_qr_url: Mapped[str | None] = mapped_column(String(256), unique=True)
    wx_qr_created_at: Mapped[datetime | None]

    enterprise: Mapped[Enterprise] = relationship(back_populates="sites")
    department: Mapped[Department | None] = relationship()
