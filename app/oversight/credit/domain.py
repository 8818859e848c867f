"""Pure rules of the credit list (失信名单 / 黑名单): the two lists an enterprise can be put on,
the dates of a listing, the 四个一律 flags, the texts a listing and a delisting need, and who
may act. Standard library and other domain modules only.

Readings the issue leaves open, decided here:
- The two lists are the two non-normal values of enterprises.domain.CreditStatus: 重点关注名单
  (WATCHLIST) and 严重失信主体名单 (SERIOUS_DISCREDIT, 应急管理部令第11号). Listing sets
  `Enterprise.credit_status` to the list's value, delisting back to NORMAL; nothing else
  changes it (enterprises.service refuses it in the enterprise form and API).
- `review_on` (复核/到期日) is required and after `listed_on`. Left empty it is filled in:
  严重失信 listed_on + 3 years (the management period of 令第11号), 重点关注 + 1 year (the
  bureau's usual yearly review). At most 5 years after listing: a longer term is a typo.
  A listing is never lifted by the calendar: once `review_on` has come the list shows it as
  due for review, and a person delists it with a reason (or leaves it listed).
- `listed_on` is not in the future (a listing records a decision already taken) and not more
  than 10 years back. The delisting date is the local day it is done, never before
  `listed_on`.
- At most one active (not delisted) record per enterprise (a partial unique index backs this
  up). To move an enterprise from one list to the other, delist it with the reason and list
  it again: both steps stay in the history.
- The four flags are the 四个一律 of the bureau's own notice for the 黑名单 (notice-2017 §七,
  the joint punishment measures: 一律给予限制 in finance, tax, procurement, tenders and land;
  一律上网公示并通报上级公司; 一律职业禁入 for operators held criminally liable; 一律行业禁入 for
  intermediaries responsible for an accident), not the 打非治违 four of domain.md §1.7
  (关闭取缔/上限处罚/停产整顿/追究责任), which are enforcement measures, not list measures.
  They are recorded as the bureau decides them; none implies another and none is required.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from app.accounts.domain import BUREAU_PERMISSIONS, Action, Actor, EnterpriseRef
from app.enterprises.domain import CreditStatus
from app.errors import PermissionDenied, ValidationFailed

# The lists an enterprise can be put on (the non-normal credit statuses).
LIST_KINDS = (CreditStatus.WATCHLIST, CreditStatus.SERIOUS_DISCREDIT)

LIST_KIND_LABELS = {
    CreditStatus.WATCHLIST: "重点关注名单",
    CreditStatus.SERIOUS_DISCREDIT: "严重失信主体名单",
}
# The short tag shown beside an enterprise's name wherever the bureau looks.
TAG_LABELS = {CreditStatus.WATCHLIST: "重点关注", CreditStatus.SERIOUS_DISCREDIT: "失信"}

# Years from listing to the review date when the form leaves it empty.
DEFAULT_TERM_YEARS = {CreditStatus.WATCHLIST: 1, CreditStatus.SERIOUS_DISCREDIT: 3}
MAX_TERM_YEARS = 5
MAX_BACKDATE_YEARS = 10

MAX_REASON = 500
MAX_BASIS = 300
MAX_DECISION_NO = 64

# 四个一律: (attribute of CreditRecord, label), in the order the bureau's notice states them
# for the 黑名单 (notice-2017 §七, after 发改财金〔2016〕1001号's joint punishment memorandum).
FLAGS: tuple[tuple[str, str], ...] = (
    ("restrict_market", "一律给予限制"),
    ("publicize", "一律上网公示"),
    ("occupational_ban", "一律职业禁入"),
    ("industry_ban", "一律行业禁入"),
)
# What each measure covers, in the notice's words (shown beside the form's checkboxes).
FLAG_HINTS = {
    "restrict_market": "在投融资、保险税收、政府采购、招标投标、土地出让等方面",
    "publicize": "发生事故、受到行政处罚或存在重大隐患的，上网公示并通报上级公司",
    "occupational_ban": "对被追究刑事责任的生产经营者",
    "industry_ban": "对事故发生负有重大责任的中介机构",
}
FLAG_NAMES = tuple(name for name, _ in FLAGS)
FLAG_LABELS = dict(FLAGS)

MANAGE_REFUSED = "失信名单由安监局管理员列入和移出；如需调整，请联系安监局管理员。"
VIEW_REFUSED = "失信名单仅供安监局查看。"


def invalid(field_name: str, problem: str) -> ValidationFailed:
    """A refusal of one form field, worded for the person who filled it in."""
    return ValidationFailed(problem, fields={field_name: problem})


def chinese_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def add_years(day: date, years: int) -> date:
    """The same day `years` later (29 February → 28 February in a common year)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def parse_kind(value: object) -> CreditStatus:
    """The list a form names (its CreditStatus value). Raises ValidationFailed."""
    try:
        kind = CreditStatus(str(value or ""))
    except ValueError:
        raise invalid("list_kind", "请选择“重点关注名单”或“严重失信主体名单”") from None
    if kind not in LIST_KINDS:
        raise invalid("list_kind", "请选择“重点关注名单”或“严重失信主体名单”")
    return kind


def parse_date(value: object, field_name: str, label: str) -> date | None:
    """A form's YYYY-MM-DD (a date passes through; empty → None). Raises ValidationFailed."""
    if isinstance(value, date):
        return value
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise invalid(field_name, f"{label}应为 YYYY-MM-DD 格式的日期，如 2026-12-01") from None


def default_review_on(kind: CreditStatus, listed_on: date) -> date:
    """The review date of a listing whose form left it empty."""
    return add_years(listed_on, DEFAULT_TERM_YEARS[kind])


@dataclass(frozen=True)
class ListingDates:
    listed_on: date
    review_on: date


def listing_dates(kind: CreditStatus, listed_on: date | None, review_on: date | None, today: date) -> ListingDates:
    """The dates of a new listing: listed today unless said otherwise, reviewed on the
    default term unless said otherwise. Raises ValidationFailed for a listing date in the
    future or too far back, a review date not after it or too far ahead."""
    listed = listed_on or today
    if listed > today:
        raise invalid("listed_on", "列入日期不能晚于今天：请填写作出列入决定的日期")
    if listed < add_years(today, -MAX_BACKDATE_YEARS):
        raise invalid("listed_on", f"列入日期不能早于 {MAX_BACKDATE_YEARS} 年前，请核对")
    review = review_on or default_review_on(kind, listed)
    if review <= listed:
        raise invalid("review_on", "复核（到期）日期应晚于列入日期")
    if review > add_years(listed, MAX_TERM_YEARS):
        raise invalid("review_on", f"复核（到期）日期不能晚于列入后 {MAX_TERM_YEARS} 年，请核对")
    return ListingDates(listed_on=listed, review_on=review)


def delisting_date(listed_on: date, today: date) -> date:
    """The day a listing is lifted: today, which may not come before the listing."""
    if today < listed_on:
        raise invalid("reason", f"该记录的列入日期（{chinese_date(listed_on)}）还没到，不能移出；请先核对列入日期")
    return today


def review_due(review_on: date, today: date) -> bool:
    """Has an active listing come to its review (or end) date?"""
    return today >= review_on


def _text(value: object, field_name: str, label: str, limit: int, *, required: bool) -> str | None:
    text = " ".join(value.split()) if isinstance(value, str) else ""
    if not text:
        if required:
            raise invalid(field_name, f"请填写{label}")
        return None
    if len(text) > limit:
        raise invalid(field_name, f"{label}最多 {limit} 个字（现有 {len(text)} 个）")
    return text


def clean_reason(value: object) -> str:
    """事由: why the enterprise is listed. Required."""
    return _text(value, "reason", "列入事由", MAX_REASON, required=True) or ""


def clean_basis(value: object) -> str:
    """依据: the article of the rules or the penalty decision the listing rests on. Required."""
    return _text(value, "basis", "列入依据（如《安全生产严重失信主体名单管理办法》第X条、处罚决定书文号）", MAX_BASIS, required=True) or ""


def clean_decision_no(value: object) -> str | None:
    """决定书文号, optional."""
    return _text(value, "decision_no", "决定书文号", MAX_DECISION_NO, required=False)


def clean_delist_reason(value: object) -> str:
    """Why a listing is lifted (信用修复、期满复核、撤销处罚…). Required."""
    return _text(value, "delist_reason", "移出理由", MAX_REASON, required=True) or ""


def checked(value: object) -> bool:
    """A checkbox or JSON boolean: on for true, "1", "on", "true", "yes"."""
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() in ("1", "on", "true", "yes", "y")


def flag_labels(flags: dict[str, bool]) -> list[str]:
    """The labels of the flags that are on, in the policy's order."""
    return [label for name, label in FLAGS if flags.get(name)]


def status_when_listed(kind: CreditStatus) -> CreditStatus:
    """Enterprise.credit_status while a listing of this kind is active."""
    return kind


STATUS_WHEN_DELISTED = CreditStatus.NORMAL


# --- who may act ---------------------------------------------------------------------------


def may_view_list(actor: Actor) -> bool:
    """The list page and API: bureau users with the district view (staff: their towns)."""
    return actor.is_bureau and actor.can(Action.VIEW_DISTRICT_STATS)


def may_manage(actor: Actor, enterprise: EnterpriseRef) -> bool:
    """Listing and delisting: the bureau admin (Action.SET_CREDIT_STATUS)."""
    return actor.can(Action.SET_CREDIT_STATUS, enterprise)


def may_manage_any(actor: Actor) -> bool:
    """Does `actor`'s bureau role list and delist at all (to show the forms and buttons)?"""
    if actor.bureau_role is None:
        return False
    on_enterprises, _district = BUREAU_PERMISSIONS[actor.bureau_role]
    return Action.SET_CREDIT_STATUS in on_enterprises


def require_manage(actor: Actor, enterprise: EnterpriseRef) -> None:
    """Raise PermissionDenied unless `actor` may list or delist this enterprise."""
    if not may_manage(actor, enterprise):
        raise PermissionDenied(MANAGE_REFUSED)
