"""Pure rules of bulletins (通报): who a monthly bulletin praises (表扬) and who it warns
(通报预警), with the reasons in Chinese; the bulletin's life cycle; its default text.
Standard library and other domain modules only.

Readings the issue leaves open, decided here:
- A month's checks are the check tasks *due* in the month (local calendar), excused ones
  left out. On time = done by the due time (status `done`); missed = still owing at the
  cut-off (checks.domain.is_task_overdue); done late (within the grace) is neither.
- An enterprise with no due check in the month has no check record to judge: it is neither
  praised nor "all on time", nor warned for checks (most of the district's small firms have
  no schedules in AnCha yet); it can still be warned for hazards or a lapsed certificate.
- Standardization lapsed = the certificate's last valid day
  (enterprises.domain.standardization_expires_on) fell in the month: warned, whatever the
  scale. A 规上 enterprise that had no valid certificate before the month is not warned
  again every month (the 70 % table names those); it is never praised either.
  Praise asks a valid certificate of 规上 enterprises only (the target concerns them).
- Hazards overdue "in the month" = overdue at the cut-off (hazards.domain.is_overdue): the
  end of the month, or now while the month runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from fractions import Fraction

from app.accounts.domain import Action, Actor
from app.enterprises.domain import (
    STANDARDIZATION_LABELS,
    StandardizationLevel,
    standardization_expires_on,
    standardization_valid_on,
)
from app.errors import InvalidTransition, PermissionDenied, ValidationFailed

# The calendar month of the dashboard (Month.parse reads a bulletin form's "YYYY-MM").
from app.oversight.stats.domain import Month

DISTRICT_NAME = "惠济区"
BUREAU_NAME = "惠济区应急管理局"

# --- thresholds (named, pinned by tests/unit/test_bulletin_rules.py) ----------------------

# Praised: at least 98 % of the month's due checks done on time …
PRAISE_ON_TIME_RATE = Fraction(98, 100)
# Warned: 20 % or more of the due checks missed …
WARN_MISSED_RATE = Fraction(20, 100)
# … or this many general hazards overdue …
WARN_GENERAL_OVERDUE = 3
# … or this many major hazards overdue (any).
WARN_MAJOR_OVERDUE = 1


def invalid(field_name: str, problem: str) -> ValidationFailed:
    """A refusal of one form field, worded for the person who filled it in."""
    return ValidationFailed(problem, fields={field_name: problem})


# --- months -------------------------------------------------------------------------------

# --- the rule -------------------------------------------------------------------------------


class Verdict(StrEnum):
    PRAISED = "praised"  # 表扬
    WARNED = "warned"  # 通报预警
    VISITED = "visited"  # 督导检查 (supervision bulletins)


VERDICT_LABELS = {Verdict.PRAISED: "表扬", Verdict.WARNED: "通报预警", Verdict.VISITED: "督导检查"}


@dataclass(frozen=True)
class MonthFacts:
    """What the month says of one enterprise (queries.month_facts reads them)."""

    enterprise_id: int
    name: str
    town_id: int
    above_scale: bool
    due_checks: int = 0  # due in the month, excused ones left out
    on_time_checks: int = 0  # done by the due time
    late_checks: int = 0  # done after the due time, within the grace
    missed_checks: int = 0  # still owing at the cut-off
    overdue_general: int = 0  # general hazards overdue at the cut-off
    overdue_major: int = 0  # major hazards overdue at the cut-off
    standardization_level: str = StandardizationLevel.NONE.value
    certified_on: date | None = None

    @property
    def on_time_rate(self) -> Fraction | None:
        return Fraction(self.on_time_checks, self.due_checks) if self.due_checks else None

    @property
    def missed_rate(self) -> Fraction | None:
        return Fraction(self.missed_checks, self.due_checks) if self.due_checks else None

    def expiry(self) -> date | None:
        """The last valid day of the certificate on file, if it has a level and a date."""
        if self.standardization_level == StandardizationLevel.NONE or self.certified_on is None:
            return None
        return standardization_expires_on(self.certified_on)

    def lapsed_in(self, month: Month) -> bool:
        expiry = self.expiry()
        return expiry is not None and month.first_day <= expiry <= month.last_day

    def certified_at_end_of(self, month: Month) -> bool:
        return standardization_valid_on(self.standardization_level, self.certified_on, month.last_day)


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict | None  # None: neither praised nor warned
    reasons: tuple[str, ...] = ()


def chinese_date(day: date) -> str:
    """2026年11月1日."""
    return f"{day.year}年{day.month}月{day.day}日"


def percent(value: Fraction) -> str:
    """A rate as people write it: 75%, 83.3% (one decimal, trailing zero dropped)."""
    text = f"{float(value * 100):.1f}".rstrip("0").rstrip(".")
    return f"{text}%"


def warning_reasons(facts: MonthFacts, month: Month) -> list[str]:
    """Every reason to warn the enterprise this month, in Chinese (empty: not warned)."""
    reasons: list[str] = []
    if facts.due_checks:
        done = facts.on_time_checks + facts.late_checks
        if done == 0 and facts.missed_checks == facts.due_checks:
            reasons.append(f"本月应开展隐患排查 {facts.due_checks} 次，一次也未开展")
        elif facts.missed_rate is not None and facts.missed_rate >= WARN_MISSED_RATE:
            reasons.append(
                f"本月应开展隐患排查 {facts.due_checks} 次，漏检 {facts.missed_checks} 次"
                f"（{percent(facts.missed_rate)}，达到 {percent(WARN_MISSED_RATE)} 预警线）"
            )
    if facts.overdue_major >= WARN_MAJOR_OVERDUE:
        reasons.append(f"重大事故隐患逾期未整改 {facts.overdue_major} 项")
    if facts.overdue_general >= WARN_GENERAL_OVERDUE:
        reasons.append(
            f"一般隐患逾期未整改 {facts.overdue_general} 项（达到 {WARN_GENERAL_OVERDUE} 项预警线）"
        )
    if facts.lapsed_in(month):
        level = STANDARDIZATION_LABELS[StandardizationLevel(facts.standardization_level)]
        reasons.append(f"安全生产标准化{level}证书已于{chinese_date(facts.expiry())}到期失效，未见复评")
    return reasons


def praise_reasons(facts: MonthFacts, month: Month) -> list[str]:
    """Why the enterprise is praised, or [] when it is not: due checks exist and at least
    98 % were done on time, no hazard overdue, and (规上) a valid certificate at month end."""
    rate = facts.on_time_rate
    if rate is None or rate < PRAISE_ON_TIME_RATE:
        return []
    if facts.overdue_general or facts.overdue_major:
        return []
    if facts.above_scale and not facts.certified_at_end_of(month):
        return []
    reasons = [
        f"本月应开展隐患排查 {facts.due_checks} 次，按时完成 {facts.on_time_checks} 次（{percent(rate)}）",
        "无逾期未整改隐患",
    ]
    if facts.certified_at_end_of(month):
        level = STANDARDIZATION_LABELS[StandardizationLevel(facts.standardization_level)]
        reasons.append(f"安全生产标准化{level}证书在有效期内")
    return reasons


def judge(facts: MonthFacts, month: Month) -> Judgement:
    """Warned when any warning reason holds (warning wins over praise); praised when every
    praise condition holds; otherwise neither."""
    warned = warning_reasons(facts, month)
    if warned:
        return Judgement(Verdict.WARNED, tuple(warned))
    praised = praise_reasons(facts, month)
    if praised:
        return Judgement(Verdict.PRAISED, tuple(praised))
    return Judgement(None)


# --- the month in figures, and the default text ----------------------------------------------


@dataclass(frozen=True)
class Figures:
    """The totals of a scope's month, as the default text states them."""

    enterprises: int = 0
    with_due_checks: int = 0
    due_checks: int = 0
    on_time_checks: int = 0
    late_checks: int = 0
    missed_checks: int = 0
    overdue_general: int = 0
    overdue_major: int = 0
    lapsed: int = 0
    praised: int = 0
    warned: int = 0

    def as_json(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_json(cls, data: dict | None) -> Figures:
        data = data or {}
        return cls(**{name: int(data.get(name) or 0) for name in cls.__dataclass_fields__})


def figures(facts: Iterable[MonthFacts], month: Month, judgements: dict[int, Judgement]) -> Figures:
    rows = list(facts)
    return Figures(
        enterprises=len(rows),
        with_due_checks=sum(1 for f in rows if f.due_checks),
        due_checks=sum(f.due_checks for f in rows),
        on_time_checks=sum(f.on_time_checks for f in rows),
        late_checks=sum(f.late_checks for f in rows),
        missed_checks=sum(f.missed_checks for f in rows),
        overdue_general=sum(f.overdue_general for f in rows),
        overdue_major=sum(f.overdue_major for f in rows),
        lapsed=sum(1 for f in rows if f.lapsed_in(month)),
        praised=sum(1 for j in judgements.values() if j.verdict is Verdict.PRAISED),
        warned=sum(1 for j in judgements.values() if j.verdict is Verdict.WARNED),
    )


def scope_label(town_name: str | None) -> str:
    return f"{DISTRICT_NAME}{town_name}" if town_name else DISTRICT_NAME


def monthly_title(month: Month, town_name: str | None) -> str:
    """惠济区工贸行业隐患排查治理情况通报（2026年11月）; a town's: 惠济区花园口镇工贸行业…"""
    return f"{scope_label(town_name)}工贸行业隐患排查治理情况通报（{month.label}）"


def monthly_body(month: Month, town_name: str | None, totals: Figures) -> str:
    """The paragraphs above the lists (the admin edits them before publishing)."""
    scope = scope_label(town_name)
    on_time = (
        f"按时完成 {totals.on_time_checks} 次（{percent(Fraction(totals.on_time_checks, totals.due_checks))}），"
        if totals.due_checks
        else ""
    )
    paragraphs = [
        f"为落实工贸企业安全生产主体责任，推动隐患排查治理常态化，现将{month.label}{scope}"
        "工贸企业隐患排查治理情况通报如下。",
        f"一、总体情况。{scope}纳入统计的工贸企业 {totals.enterprises} 家，其中 {totals.with_due_checks} 家"
        f"本月有应开展的排查任务，共应排查 {totals.due_checks} 次，{on_time}"
        f"逾期完成 {totals.late_checks} 次，漏检 {totals.missed_checks} 次。"
        f"截至月末，逾期未整改一般隐患 {totals.overdue_general} 项、重大事故隐患 {totals.overdue_major} 项；"
        f"本月安全生产标准化证书到期失效 {totals.lapsed} 家。",
        f"二、表扬和通报预警。对排查按时完成率达到 {percent(PRAISE_ON_TIME_RATE)}、无逾期隐患、"
        f"标准化证书有效的 {totals.praised} 家企业予以表扬；对漏检率达到 {percent(WARN_MISSED_RATE)}、"
        f"存在逾期重大事故隐患、逾期一般隐患达到 {WARN_GENERAL_OVERDUE} 项或标准化证书到期失效的 "
        f"{totals.warned} 家企业予以通报预警（名单附后）。",
        "三、工作要求。被通报预警的企业要在收到通报后 7 日内查明原因、完成整改，"
        "并将整改情况报属地镇（街道）安全生产监管部门；各镇（街道）要加强督促指导，"
        "对连续两个月被通报预警的企业列为重点监管对象。",
    ]
    return "\n\n".join(paragraphs)


def supervision_title(visit_date: date, town_name: str | None) -> str:
    return f"{scope_label(town_name)}工贸企业安全生产督导检查情况通报（{chinese_date(visit_date)}）"


def supervision_body(visit_date: date, town_name: str | None, visited: int) -> str:
    scope = scope_label(town_name)
    return "\n\n".join(
        [
            f"{chinese_date(visit_date)}，{BUREAU_NAME}对{scope}"
            f" {visited} 家工贸企业开展了安全生产督导检查，现将检查情况通报如下。",
            "各被检查企业要对照发现的问题逐项整改，按期将整改情况报送属地镇（街道）"
            "安全生产监管部门。",
        ]
    )


def paragraphs(text: str) -> list[str]:
    """A bulletin's text as paragraphs (blank lines separate them)."""
    return [p.strip() for p in re.split(r"\n\s*\n", text or "") if p.strip()]


# --- input rules --------------------------------------------------------------------------------

MAX_TITLE = 120
MAX_BODY = 20_000
MAX_REASON = 200
MAX_FINDINGS = 4000
MAX_REQUIREMENTS = 4000


def clean_title(value: str | None) -> str:
    text = " ".join((value or "").split())
    if not text:
        raise invalid("title", "请填写通报标题")
    if len(text) > MAX_TITLE:
        raise invalid("title", f"标题不能超过 {MAX_TITLE} 个字")
    return text


def clean_body(value: str | None) -> str:
    text = (value or "").replace("\r\n", "\n").strip()
    if not text:
        raise invalid("body", "请填写通报正文")
    if len(text) > MAX_BODY:
        raise invalid("body", f"正文不能超过 {MAX_BODY} 个字")
    return text


def clean_reason(value: str | None, field_name: str = "reason") -> str:
    text = " ".join((value or "").split())
    if not text:
        raise invalid(field_name, "请填写理由（将随记录保存）")
    if len(text) > MAX_REASON:
        raise invalid(field_name, f"理由不能超过 {MAX_REASON} 个字")
    return text


def clean_lines(value: str | None, field_name: str, limit: int = MAX_FINDINGS) -> list[str]:
    """Non-empty lines of a textarea (findings: one per line)."""
    text = (value or "").replace("\r\n", "\n")
    if len(text) > limit:
        raise invalid(field_name, f"内容不能超过 {limit} 个字")
    return [line.strip() for line in text.split("\n") if line.strip()]


# --- life cycle ---------------------------------------------------------------------------------


class BulletinKind(StrEnum):
    MONTHLY = "monthly"  # 月度通报
    SUPERVISION = "supervision"  # 督导通报


KIND_LABELS = {BulletinKind.MONTHLY: "月度通报", BulletinKind.SUPERVISION: "督导通报"}


class BulletinStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    SUPERSEDED = "superseded"  # published, then corrected by a later bulletin


STATUS_LABELS = {
    BulletinStatus.DRAFT: "草稿",
    BulletinStatus.PUBLISHED: "已发布",
    BulletinStatus.SUPERSEDED: "已更正",
}


class BulletinAction(StrEnum):
    DRAFT = "draft"
    EDIT = "edit"
    REMOVE_ENTRY = "remove_entry"
    ADD_ENTRY = "add_entry"
    RESTORE_ENTRY = "restore_entry"
    PUBLISH = "publish"
    SUPERSEDE = "supersede"  # the correction that replaces it was published


ACTION_LABELS = {
    BulletinAction.DRAFT: "起草",
    BulletinAction.EDIT: "修改",
    BulletinAction.REMOVE_ENTRY: "移出名单",
    BulletinAction.ADD_ENTRY: "加入名单",
    BulletinAction.RESTORE_ENTRY: "恢复名单",
    BulletinAction.PUBLISH: "发布",
    BulletinAction.SUPERSEDE: "被更正通报替代",
}

# Which status each action needs; the status it leaves (None: unchanged).
TRANSITIONS: dict[BulletinAction, tuple[BulletinStatus, BulletinStatus | None]] = {
    BulletinAction.EDIT: (BulletinStatus.DRAFT, None),
    BulletinAction.REMOVE_ENTRY: (BulletinStatus.DRAFT, None),
    BulletinAction.ADD_ENTRY: (BulletinStatus.DRAFT, None),
    BulletinAction.RESTORE_ENTRY: (BulletinStatus.DRAFT, None),
    BulletinAction.PUBLISH: (BulletinStatus.DRAFT, BulletinStatus.PUBLISHED),
    BulletinAction.SUPERSEDE: (BulletinStatus.PUBLISHED, BulletinStatus.SUPERSEDED),
}

# Who may: drafting and editing needs the district figures (bureau admin and staff, staff
# for their own towns); publishing is the bureau admin's (Action.PUBLISH_BULLETIN).
ACTION_PERMISSIONS: dict[BulletinAction, Action] = {
    BulletinAction.DRAFT: Action.VIEW_DISTRICT_STATS,
    BulletinAction.EDIT: Action.VIEW_DISTRICT_STATS,
    BulletinAction.REMOVE_ENTRY: Action.VIEW_DISTRICT_STATS,
    BulletinAction.ADD_ENTRY: Action.VIEW_DISTRICT_STATS,
    BulletinAction.RESTORE_ENTRY: Action.VIEW_DISTRICT_STATS,
    BulletinAction.PUBLISH: Action.PUBLISH_BULLETIN,
    BulletinAction.SUPERSEDE: Action.PUBLISH_BULLETIN,
}

_REFUSALS = {
    BulletinStatus.PUBLISHED: "该通报已发布，不能再修改或重复发布；如需更正，请起草更正通报。",
    BulletinStatus.SUPERSEDED: "该通报已被更正通报替代，不能再修改或发布。",
    BulletinStatus.DRAFT: "该通报还是草稿，尚未发布。",
}


def check_transition(action: BulletinAction, status: BulletinStatus) -> BulletinStatus:
    """The status after `action`; raises InvalidTransition (Chinese) when the status forbids it."""
    needed, after = TRANSITIONS[action]
    if status is not needed:
        raise InvalidTransition(_REFUSALS[status])
    return after or status


def in_scope(actor: Actor, town_id: int | None) -> bool:
    """May `actor` work on bulletins of this scope: the bureau admin on any; bureau staff on
    their own towns only (a district-wide bulletin is the admin's)."""
    scope = actor.enterprise_scope()
    if scope.all:
        return True
    return actor.is_bureau and town_id is not None and town_id in actor.bureau_town_ids


def require_bulletin_action(actor: Actor, action: BulletinAction, town_id: int | None) -> None:
    """Raise PermissionDenied unless `actor` may take `action` on a bulletin of this scope."""
    if not actor.can(ACTION_PERMISSIONS[action]):
        if action in (BulletinAction.PUBLISH, BulletinAction.SUPERSEDE):
            raise PermissionDenied("通报由安监局管理员发布；请联系管理员审核发布。")
        raise PermissionDenied("您没有权限起草或修改通报。")
    if not in_scope(actor, town_id):
        raise PermissionDenied("您只能处理所辖镇（街道）的通报。")

