"""Pure rules of the 一企一档 page: who may open it, the state of a standardization
certificate, the rectification rate, and how the timeline merges its sources. Standard
library and other domain modules only.

Who sees the page: the bureau in scope (its admin: the district; its staff: their towns), and
inside the enterprise its principal (经理), safety officer and enterprise admin — the people
who answer for the enterprise's safety file. Workers, team leaders and department heads keep
the basic 企业档案 page (enterprises/console.py): the dossier lists everyone's binding state,
the credit status and enforcement history, which are not theirs to browse.

Certificate state on a local day (`certificate_state`), on top of enterprises.domain's rules
(`standardization_expires_on`, `standardization_valid_on`, never re-implemented here):
  - 未达标: no level;
  - 日期未登记: a level without a certificate date (it does not count towards the target);
  - 尚未生效: certified after that day;
  - 已过期: the last valid day has passed;
  - 即将到期: valid, and at most 90 days from that day to the last valid day (the last valid
    day itself is 0 days away);
  - 有效: valid with more than 90 days left.

Rectification rate (整改率) of the hazards found in a window: found = hazards reported in it,
less those rejected (judged not a hazard); rectified = those of them closed (销号: verified,
or accepted for a major one). A hazard fixed but not yet verified (待复查验收) is not yet
rectified. No rate ("—") when nothing was found. The SQL of the same rule is
dossier/queries.rectification_clauses (tests/integration/test_dossier.py keeps them equal).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from fractions import Fraction
from typing import Any

from app.accounts.domain import Action, Actor, EnterpriseRef, Role
from app.enterprises.domain import StandardizationLevel, standardization_expires_on, standardization_valid_on
from app.hazard_reporting.hazards.domain import HazardStatus

# --- who may open the page --------------------------------------------------------------------

DOSSIER_ROLES = frozenset({Role.MANAGER, Role.SAFETY_OFFICER, Role.ENTERPRISE_ADMIN})
NOT_FOUND = "企业不存在或您无权查看。"
REFUSED = "一企一档仅供本企业经理、安全管理员、企业管理员和安监局查看。如需查看，请联系企业管理员。"


def may_view_dossier(actor: Actor, enterprise: EnterpriseRef) -> bool:
    """The bureau in scope, or one of DOSSIER_ROLES in this enterprise."""
    if actor.is_bureau and actor.can(Action.VIEW_ENTERPRISE, enterprise):
        return True
    return bool(actor.roles.get(enterprise.id, frozenset()) & DOSSIER_ROLES)


# --- standardization certificate ----------------------------------------------------------------

EXPIRING_WITHIN_DAYS = 90


class CertificateState(StrEnum):
    VALID = "valid"
    EXPIRING = "expiring"
    EXPIRED = "expired"
    NOT_YET = "not_yet"
    UNDATED = "undated"
    NONE = "none"


CERTIFICATE_STATE_LABELS = {
    CertificateState.VALID: "有效",
    CertificateState.EXPIRING: "即将到期",
    CertificateState.EXPIRED: "已过期",
    CertificateState.NOT_YET: "尚未生效",
    CertificateState.UNDATED: "日期未登记",
    CertificateState.NONE: "未达标",
}
# The tag class of each state on the page.
CERTIFICATE_STATE_TAGS = {
    CertificateState.VALID: "",
    CertificateState.EXPIRING: "warn",
    CertificateState.EXPIRED: "bad",
    CertificateState.NOT_YET: "warn",
    CertificateState.UNDATED: "warn",
    CertificateState.NONE: "bad",
}


@dataclass(frozen=True)
class Certificate:
    level: StandardizationLevel
    certified_on: date | None
    expires_on: date | None
    state: CertificateState
    days_left: int | None  # to the last valid day; negative once expired

    @property
    def counts(self) -> bool:
        """Does it count towards the 70 % target today (enterprises.domain's rule)?"""
        return self.state in (CertificateState.VALID, CertificateState.EXPIRING)


def certificate_state(level: StandardizationLevel | str, certified_on: date | None, today: date) -> Certificate:
    """The certificate of an enterprise as the page shows it on `today` (module docstring)."""
    level = StandardizationLevel(level)
    if level is StandardizationLevel.NONE:
        return Certificate(level, certified_on, None, CertificateState.NONE, None)
    if certified_on is None:
        return Certificate(level, None, None, CertificateState.UNDATED, None)
    expires_on = standardization_expires_on(certified_on)
    days_left = (expires_on - today).days
    if standardization_valid_on(level, certified_on, today):
        state = CertificateState.EXPIRING if days_left <= EXPIRING_WITHIN_DAYS else CertificateState.VALID
    elif today < certified_on:
        state = CertificateState.NOT_YET
    else:
        state = CertificateState.EXPIRED
    return Certificate(level, certified_on, expires_on, state, days_left)


# --- rectification rate ---------------------------------------------------------------------------

HAZARD_WINDOW = timedelta(days=90)
RECTIFIED_STATUSES = frozenset({HazardStatus.CLOSED})
NOT_FOUND_STATUSES = frozenset({HazardStatus.REJECTED})


def rectification_counts(
    status: str, created_at: datetime, now: datetime, window: timedelta | None = None
) -> tuple[int, int]:
    """(found, rectified) one hazard adds at `now`: within (now − window, now] when a window
    is given, at any time before `now` otherwise; rejected hazards add nothing."""
    if created_at > now or (window is not None and created_at <= now - window):
        return 0, 0
    status = HazardStatus(status)
    if status in NOT_FOUND_STATUSES:
        return 0, 0
    return 1, int(status in RECTIFIED_STATUSES)


@dataclass(frozen=True)
class RectificationRate:
    found: int
    rectified: int

    @property
    def rate(self) -> Fraction | None:
        if self.found < 0 or not 0 <= self.rectified <= self.found:
            raise ValueError(f"rectified {self.rectified} of {self.found} is not a rate")
        return Fraction(self.rectified, self.found) if self.found else None

    @property
    def percent(self) -> str:
        rate = self.rate
        return "—" if rate is None else f"{float(rate) * 100:.0f}%"


# --- the timeline --------------------------------------------------------------------------------

TIMELINE_PAGE = 30  # entries shown first; 更多 adds as many again
TIMELINE_MAX = 480


class TimelineKind(StrEnum):
    """Where a timeline entry comes from (its tag on the page)."""

    FILE = "file"  # 建档, standardization certificate
    MEMBER = "member"
    SITE = "site"
    SCHEDULE = "schedule"
    HAZARD = "hazard"
    ENFORCEMENT = "enforcement"
    CHECK = "check"
    TIP = "tip"
    CREDIT = "credit"


TIMELINE_KIND_LABELS = {
    TimelineKind.FILE: "档案",
    TimelineKind.MEMBER: "人员",
    TimelineKind.SITE: "点位",
    TimelineKind.SCHEDULE: "排查计划",
    TimelineKind.HAZARD: "隐患",
    TimelineKind.ENFORCEMENT: "执法",
    TimelineKind.CHECK: "排查",
    TimelineKind.TIP: "安全提示",
    TimelineKind.CREDIT: "信用",
}


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: TimelineKind
    title: str
    detail: str = ""
    # (endpoint, url arguments) of the page the entry is about; None when there is none.
    link: tuple[str, Mapping[str, Any]] | None = None
    # Breaks ties between entries of the same instant: the source's own order (its row id).
    key: tuple[int, ...] = field(default=())


def timeline_limit(raw: str | None) -> int:
    """How many entries to show from the page's `timeline` argument: TIMELINE_PAGE by
    default, rounded up to a whole number of pages, at most TIMELINE_MAX; a bad value is
    the default."""
    try:
        wanted = int(raw or TIMELINE_PAGE)
    except ValueError:
        return TIMELINE_PAGE
    pages = max(1, -(-wanted // TIMELINE_PAGE))
    return min(pages * TIMELINE_PAGE, TIMELINE_MAX)


def merge_timeline(sources: Iterable[Iterable[TimelineEntry]], limit: int) -> tuple[list[TimelineEntry], bool]:
    """The newest `limit` entries of all sources, newest first (ties: by source key, later
    first), and whether there were more. Each source must already be cut to its newest
    `limit + 1` entries: then the merge is exact, and the extra entry tells whether more exist."""
    entries = sorted(
        (entry for source in sources for entry in source), key=lambda e: (e.at, e.key), reverse=True
    )
    return entries[:limit], len(entries) > limit
