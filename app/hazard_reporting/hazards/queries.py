"""Read side of hazards, always scoped by the actor: lists and one hazard with its history,
and what the hazard pages show of them (the rows of a list, everything of one hazard with
the actions its viewer may take now, 待我处理)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from app.accounts.domain import ROLE_LABELS, Action, Actor, EnterpriseRef, Role
from app.accounts.models import Membership, User
from app.accounts.queries import visible_enterprises
from app.clock import LOCAL_TZ, to_local
from app.enterprises.models import Enterprise, Site, Town
from app.errors import NotFound
from app.hazard_reporting.hazards.domain import (
    ACTION_LABELS,
    OPEN_STATUSES,
    OVERDUE_STATUSES,
    STATUS_LABELS,
    ExtensionStatus,
    HazardAction,
    HazardLevel,
    HazardStatus,
    PhotoKind,
    available_actions,
    awaited_rules,
    is_overdue,
    missing_five_in_place,
    place_label,
    possible_permissions,
    primary_action,
    waits_for_decision,
)
from app.hazard_reporting.hazards.models import DeadlineExtension, Hazard, HazardEvent, HazardPhoto
from app.hazard_reporting.hazards.schemas import FIELD_LABELS, PLAN_FIELDS
from app.hazard_reporting.risks.models import RiskControl, RiskPoint, RiskSource
from app.ids import parse_id

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
LIST_LIMIT = 100  # of each H5 list
CONSOLE_PAGE_SIZE = 50


def overdue_clause(now: datetime) -> ColumnElement[bool]:
    """domain.is_overdue in SQL: not yet rectified (nor closed or rejected), deadline passed."""
    return and_(Hazard.status.in_(sorted(OVERDUE_STATUSES)), Hazard.deadline.is_not(None), Hazard.deadline < now)


def report_key(user_id: int, page_key: str) -> str:
    """The value of hazards.report_key for a 随手拍 page key of this reporter."""
    return f"{user_id}:{page_key}"


def reported_with_key(session: Session, actor: Actor, page_key: str) -> Hazard | None:
    """The hazard this actor already reported from the 随手拍 page with `page_key`, if any."""
    return session.scalars(
        select(Hazard).where(Hazard.report_key == report_key(actor.user_id, page_key))
    ).one_or_none()


def visible_hazards(actor: Actor) -> Select[tuple[Hazard]]:
    """SELECT of the hazards of the enterprises `actor` may see (add filters on top)."""
    query = select(Hazard)
    if actor.enterprise_scope().all:
        return query
    enterprise_ids = visible_enterprises(actor).with_only_columns(Enterprise.id)
    return query.where(Hazard.enterprise_id.in_(enterprise_ids))


def get_hazard(session: Session, actor: Actor, hazard_id: int) -> Hazard:
    """One hazard with its photos, plan and extensions. Raises NotFound when the actor may
    not see it (no existence leak)."""
    hazard = session.scalar(
        visible_hazards(actor)
        .where(Hazard.id == hazard_id)
        .options(
            selectinload(Hazard.photos),
            selectinload(Hazard.plan),
            selectinload(Hazard.extensions),
        )
    )
    if hazard is None:
        raise NotFound("隐患不存在或您无权查看。")
    return hazard


def hazard_history(session: Session, actor: Actor, hazard_id: int) -> list[HazardEvent]:
    """The hazard's events, oldest first. Raises NotFound like get_hazard."""
    get_hazard(session, actor, hazard_id)
    return list(
        session.scalars(select(HazardEvent).where(HazardEvent.hazard_id == hazard_id).order_by(HazardEvent.id))
    )


def list_hazards(
    session: Session,
    actor: Actor,
    *,
    enterprise_id: int | None = None,
    assignee_id: int | None = None,
    reporter_id: int | None = None,
    statuses: Iterable[HazardStatus] | None = None,
    level: HazardLevel | None = None,
    open_only: bool = False,
    limit: int = DEFAULT_LIMIT,
    offset: int = 0,
) -> list[Hazard]:
    """Hazards the actor may see, newest first, filtered as asked."""
    query = visible_hazards(actor)
    if enterprise_id is not None:
        query = query.where(Hazard.enterprise_id == enterprise_id)
    if assignee_id is not None:
        query = query.where(Hazard.assignee_id == assignee_id)
    if reporter_id is not None:
        query = query.where(Hazard.reporter_id == reporter_id)
    if statuses is not None:
        query = query.where(Hazard.status.in_(sorted(statuses)))
    if open_only:
        query = query.where(Hazard.status.in_(sorted(OPEN_STATUSES)))
    if level is not None:
        query = query.where(Hazard.level == level)
    query = query.order_by(Hazard.created_at.desc(), Hazard.id.desc())
    limit = max(1, min(limit, MAX_LIMIT))
    return list(session.scalars(query.limit(limit).offset(max(0, offset))))


def hazards_of_enterprise(session: Session, actor: Actor, enterprise_id: int, **filters) -> list[Hazard]:
    """The enterprise's hazards. Raises NotFound when the actor may not see the enterprise."""
    enterprise = session.get(Enterprise, enterprise_id)
    if enterprise is None or not actor.can(
        Action.VIEW_ENTERPRISE, EnterpriseRef(id=enterprise.id, town_id=enterprise.town_id)
    ):
        raise NotFound("企业不存在或您无权查看。")
    return list_hazards(session, actor, enterprise_id=enterprise_id, **filters)


def hazards_of_assignee(session: Session, actor: Actor, user_id: int, **filters) -> list[Hazard]:
    """Hazards assigned to `user_id` that the actor may see (their own: 我的整改)."""
    return list_hazards(session, actor, assignee_id=user_id, **filters)


def hazards_of_reporter(session: Session, actor: Actor, user_id: int, **filters) -> list[Hazard]:
    """Hazards reported by `user_id` that the actor may see (their own: 我的上报)."""
    return list_hazards(session, actor, reporter_id=user_id, **filters)


def pending_extensions(session: Session, actor: Actor, enterprise_id: int | None = None) -> list[DeadlineExtension]:
    """Extension requests waiting for a decision, oldest first, in the actor's scope."""
    hazard_ids = visible_hazards(actor).with_only_columns(Hazard.id)
    if enterprise_id is not None:
        hazard_ids = hazard_ids.where(Hazard.enterprise_id == enterprise_id)
    query = (
        select(DeadlineExtension)
        .where(
            DeadlineExtension.status == ExtensionStatus.REQUESTED,
            DeadlineExtension.hazard_id.in_(hazard_ids),
        )
        .options(selectinload(DeadlineExtension.hazard))
        .order_by(DeadlineExtension.requested_at, DeadlineExtension.id)
    )
    return list(session.scalars(query))


def hazard_photo(session: Session, actor: Actor, hazard_id: int, photo_id: int) -> HazardPhoto:
    """A photo of a hazard, after the same scope check as the hazard itself.
    Raises NotFound (hazard hidden, or no such photo of it)."""
    get_hazard(session, actor, hazard_id)
    photo = session.get(HazardPhoto, photo_id)
    if photo is None or photo.hazard_id != hazard_id:
        raise NotFound("照片不存在或您无权查看。")
    return photo


# --- what the pages show -----------------------------------------------------------------------


def _names(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(session.execute(select(User.id, User.display_name).where(User.id.in_(wanted))).all())


def _members(session: Session, enterprise_id: int) -> list[dict[str, Any]]:
    """Active members of the enterprise (who may be named to fix a hazard), with roles."""
    rows = session.execute(
        select(User.id, User.display_name, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.enterprise_id == enterprise_id,
            Membership.active.is_(True),
            User.is_active.is_(True),
        )
        .order_by(User.display_name, User.id)
    ).all()
    people: dict[int, dict[str, Any]] = {}
    for user_id, name, role in rows:
        entry = people.setdefault(user_id, {"id": user_id, "name": name, "roles": []})
        entry["roles"].append(ROLE_LABELS[Role(role)])
    return list(people.values())


def _moment(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _local(moment: datetime | None) -> str:
    return to_local(moment).strftime("%Y-%m-%d %H:%M") if moment else ""


def _event_view(event: HazardEvent, names: dict[int, str]) -> dict[str, Any]:
    """One line of the history: who, when, what, from → to, note and the facts it carried."""
    data = event.data or {}
    details: list[str] = []
    action = event.action
    if action is HazardAction.ASSIGN and data.get("assignee_id"):
        details.append(f"整改责任人：{names.get(data['assignee_id'], '—')}")
    if data.get("criteria_code"):
        details.append(f"判定依据：{data['criteria_code']}")
    if data.get("assessor"):
        details.append(f"评估人：{data['assessor']}")
    if data.get("registration_no"):
        details.append(f"登记编号：{data['registration_no']}")
    if data.get("supervising_unit"):
        details.append(f"督办单位：{data['supervising_unit']}")
    if data.get("acceptor"):
        details.append(f"验收人：{data['acceptor']}")
    if action is HazardAction.SAVE_PLAN and data.get("fields"):
        details.append("修改：" + "、".join(FIELD_LABELS.get(f, f) for f in data["fields"]))
    if action is HazardAction.REQUEST_EXTENSION:
        details.append(f"申请延至：{_local(_moment(data.get('new_deadline')))}")
    if action is HazardAction.DECIDE_EXTENSION:
        verdict = (
            "同意延期至 " + _local(_moment(data.get("new_deadline")))
            if data.get("approved")
            else "不同意延期"
        )
        details.append(verdict)
    if action in (HazardAction.VERIFY, HazardAction.REOPEN) and "passed" in data:
        details.append("结论：通过" if data["passed"] else "结论：不通过")
    if data.get("cancelled_extension_id"):
        details.append("待审批的延期申请已作废")
    return {
        "at": event.at,
        "who": names.get(event.actor_id, "系统") if event.actor_id else "系统",
        "label": ACTION_LABELS[action],
        "from": STATUS_LABELS[event.from_status] if event.from_status else None,
        "to": STATUS_LABELS[event.to_status],
        "changed": event.from_status is not None and event.from_status != event.to_status,
        "note": event.note,
        "details": details,
    }


def _duty_steps(hazard: Hazard, names: dict[int, str]) -> list[dict[str, Any]]:
    """The five duties of a major hazard (docs/DOMAIN.md §1.5) with who did each and when."""
    plan = hazard.plan

    def step(title: str, at: datetime | None, by: int | None, *lines: str | None) -> dict[str, Any]:
        return {
            "title": title,
            "done": at is not None,
            "at": at,
            "who": names.get(by, "") if by else "",
            "lines": [line for line in lines if line],
        }

    if plan is None:
        return [step(t, None, None) for t in ("评估认定", "登记建档", "立项审核", "督导督办", "验收确认")]
    return [
        step(
            "评估认定",
            plan.assessed_at,
            plan.assessed_by_id,
            f"评估人：{plan.assessor}" if plan.assessor else None,
            plan.assessment_opinion,
        ),
        step(
            "登记建档",
            plan.registered_at,
            plan.registered_by_id,
            f"登记编号：{plan.registration_no}" if plan.registration_no else None,
        ),
        step("立项审核", plan.approved_at, plan.approved_by_id, plan.approval_note),
        step(
            "督导督办",
            plan.supervised_at,
            plan.supervised_by_id,
            f"督办单位：{plan.supervising_unit}" if plan.supervising_unit else None,
            plan.supervision_note,
        ),
        step(
            "验收确认",
            plan.accepted_at,
            plan.accepted_by_id,
            f"验收人：{plan.acceptor}" if plan.acceptor else None,
            plan.acceptance_opinion,
        ),
    ]


def _five_in_place(hazard: Hazard) -> dict[str, Any] | None:
    """The 五到位 plan as shown: each of the five with its text and whether it is in place."""
    if hazard.level is not HazardLevel.MAJOR:
        return None
    plan = hazard.plan
    if plan is None:
        missing = {label: [] for label in ("整改措施", "整改责任", "整改资金", "整改时限", "应急预案")}
        return {
            "items": [{"label": k, "text": "", "ok": False} for k in missing],
            "missing": list(missing),
            "milestones": [],
            "plan": None,
        }
    missing = missing_five_in_place(plan.five_in_place())
    fund = ""
    if plan.fund_amount is not None:
        fund = f"{plan.fund_amount:,.2f} 元"
    items = [
        ("整改措施", plan.measures or ""),
        ("整改责任", " · ".join(p for p in (plan.owner_org, plan.owner_person) if p)),
        ("整改资金", " · ".join(p for p in (fund, plan.fund_source) if p)),
        ("整改时限", _local(plan.deadline)),
        ("应急预案", plan.contingency or ""),
    ]
    return {
        "items": [{"label": label, "text": text, "ok": label not in missing} for label, text in items],
        "missing": list(missing),
        "milestones": plan.milestones or [],
        "plan": plan,
    }


def _plan_values(hazard: Hazard) -> dict[str, str]:
    """The plan form as filled in from the stored plan (empty without one)."""
    plan = hazard.plan
    if plan is None:
        return {}
    values = {name: getattr(plan, name) or "" for name in PLAN_FIELDS}
    values["deadline"] = to_local(plan.deadline).date().isoformat() if plan.deadline else ""
    values["fund_amount"] = f"{plan.fund_amount:.2f}" if plan.fund_amount is not None else ""
    values["milestones"] = "\n".join(f"{m['due']} {m['title']}" for m in plan.milestones or [])
    return values


@dataclass(frozen=True)
class ControlOrigin:
    """The risk register control a hazard was found at (a failed control item of a check,
    or a worker's 岗位自查): its risk point, source and wording."""

    control_id: int
    point_id: int
    point_name: str
    source_name: str
    control_text: str


def control_origin(session: Session, hazard: Hazard) -> ControlOrigin | None:
    """Where a hazard found at a control comes from (None for other hazards)."""
    if hazard.risk_control_id is None:
        return None
    row = session.execute(
        select(RiskControl.id, RiskPoint.id, RiskPoint.name, RiskSource.name, RiskControl.text)
        .join(RiskSource, RiskSource.id == RiskControl.source_id)
        .join(RiskPoint, RiskPoint.id == RiskSource.risk_point_id)
        .where(RiskControl.id == hazard.risk_control_id, RiskPoint.enterprise_id == hazard.enterprise_id)
    ).first()
    return ControlOrigin(*row) if row is not None else None


def detail_context(session: Session, actor: Actor, hazard_id: int, now: datetime) -> dict[str, Any]:
    """Everything a hazard page shows. Raises NotFound when the actor may not see it."""
    hazard = get_hazard(session, actor, hazard_id)
    enterprise = session.get(Enterprise, hazard.enterprise_id)
    site = session.get(Site, hazard.site_id) if hazard.site_id else None
    events = hazard_history(session, actor, hazard_id)
    pending = next((e for e in hazard.extensions if e.status is ExtensionStatus.REQUESTED), None)
    plan = hazard.plan
    ids: set[int | None] = {
        actor.user_id,
        hazard.reporter_id,
        hazard.assignee_id,
        *(e.actor_id for e in events),
    }
    ids |= {e.requested_by_id for e in hazard.extensions}
    if plan is not None:
        ids |= {
            plan.assessed_by_id,
            plan.registered_by_id,
            plan.approved_by_id,
            plan.supervised_by_id,
            plan.accepted_by_id,
        }
    for event in events:
        if event.action is HazardAction.ASSIGN:
            ids.add((event.data or {}).get("assignee_id"))
    names = _names(session, ids)
    actions = available_actions(actor, hazard, enterprise.ref, pending)
    local_today = to_local(now).date()
    return {
        "hazard": hazard,
        "enterprise": enterprise,
        "site": site,
        "control_origin": control_origin(session, hazard),
        "place": place_label(site.name if site else "", hazard.location),
        "names": names,
        "events": [_event_view(e, names) for e in reversed(events)],
        "before_photos": [p for p in hazard.photos if p.kind is PhotoKind.BEFORE],
        "after_photos": [p for p in hazard.photos if p.kind is PhotoKind.AFTER],
        "pending": pending,
        "actions": actions,
        "primary": primary_action(hazard, actions),
        "members": _members(session, enterprise.id) if HazardAction.ASSIGN in actions else [],
        "overdue": is_overdue(hazard.status, hazard.deadline, now),
        "five": _five_in_place(hazard),
        "steps": _duty_steps(hazard, names) if hazard.level is HazardLevel.MAJOR else [],
        "plan_values": _plan_values(hazard),
        "now": now,
        "min_date": (local_today + timedelta(days=1)).isoformat(),
        "today": local_today.isoformat(),
    }


def reportable(session: Session, actor: Actor) -> tuple[list[Enterprise], list[Site]]:
    """The enterprises the actor may report hazards in, and their active sites."""
    enterprises = [
        e
        for e in session.scalars(
            select(Enterprise).where(Enterprise.id.in_(list(actor.roles))).order_by(Enterprise.name)
        )
        if actor.can(Action.REPORT_HAZARD, e.ref)
    ]
    if not enterprises:
        return [], []
    sites = list(
        session.scalars(
            select(Site)
            .where(Site.enterprise_id.in_([e.id for e in enterprises]), Site.active.is_(True))
            .order_by(Site.enterprise_id, Site.name)
        )
    )
    return enterprises, sites


def _refs(session: Session, hazards: list[Hazard]) -> dict[int, Enterprise]:
    ids = {h.enterprise_id for h in hazards}
    if not ids:
        return {}
    return {e.id: e for e in session.scalars(select(Enterprise).where(Enterprise.id.in_(ids)))}


def waiting_for(session: Session, actor: Actor, limit: int = LIST_LIMIT) -> list[Hazard]:
    """Open hazards waiting for a decision `actor` may take now (assign, verify, accept,
    the major-hazard duties, an extension request), most urgent first."""
    pending = {e.hazard_id: e for e in pending_extensions(session, actor)}
    # Narrow in SQL to the (level, status) pairs of the decisions the actor's permissions
    # allow somewhere (a bureau admin must not wade through every general hazard of the
    # district); the exact check per hazard and enterprise follows in Python.
    wanted = []
    for rule in awaited_rules(possible_permissions(actor)):
        condition = and_(Hazard.level.in_(sorted(rule.levels)), Hazard.status.in_(sorted(rule.sources)))
        if rule.action is HazardAction.ASSIGN:  # only naming the first fixer is waited for
            condition = and_(condition, Hazard.assignee_id.is_(None))
        wanted.append(condition)
    if pending:
        wanted.append(Hazard.id.in_(list(pending)))
    if not wanted:
        return []
    query = (
        visible_hazards(actor)
        .where(or_(*wanted))
        .order_by(Hazard.deadline.is_(None), Hazard.deadline, Hazard.created_at)
        .limit(limit * 2)
    )
    candidates = list(session.scalars(query))
    enterprises = _refs(session, candidates)
    found = []
    for hazard in candidates:
        ref = enterprises[hazard.enterprise_id].ref
        actions = available_actions(actor, hazard, ref, pending.get(hazard.id))
        if waits_for_decision(hazard, actions):
            found.append(hazard)
        if len(found) >= limit:
            break
    return found


@dataclass(frozen=True)
class MyHazards:
    """我的隐患: the lists of one person's H5 page, keyed by tab."""

    lists: Mapping[str, list[Hazard]]

    @property
    def counts(self) -> dict[str, int]:
        """What each tab's badge says: everything waiting, the open ones of the others."""
        return {
            "todo": len(self.lists["todo"]),
            "assigned": sum(1 for h in self.lists["assigned"] if h.status in OPEN_STATUSES),
            "mine": sum(1 for h in self.lists["mine"] if h.status in OPEN_STATUSES),
        }

    @property
    def default_tab(self) -> str:
        """The tab shown when none is asked for: where there is something to do."""
        if self.lists["todo"]:
            return "todo"
        return "assigned" if any(h.status in OPEN_STATUSES for h in self.lists["assigned"]) else "mine"


def my_hazards(session: Session, actor: Actor, now: datetime) -> MyHazards:
    """Waiting for the actor (todo), assigned to them (assigned) and reported by them (mine)."""
    mine = hazards_of_reporter(session, actor, actor.user_id, limit=LIST_LIMIT)
    assigned = hazards_of_assignee(session, actor, actor.user_id, limit=LIST_LIMIT)
    # Open work first, the most urgent deadline first; closed ones after, newest first.
    assigned.sort(key=lambda h: (h.status not in OPEN_STATUSES, h.deadline is None, h.deadline or now))
    return MyHazards({"todo": waiting_for(session, actor), "assigned": assigned, "mine": mine})


def list_rows(session: Session, hazards: list[Hazard], now: datetime) -> list[dict[str, Any]]:
    """A list's rows: each hazard with its enterprise, place, people and whether overdue."""
    enterprises = _refs(session, hazards)
    site_ids = {h.site_id for h in hazards if h.site_id}
    sites = (
        dict(session.execute(select(Site.id, Site.name).where(Site.id.in_(site_ids))).all())
        if site_ids
        else {}
    )
    names = _names(session, {h.assignee_id for h in hazards} | {h.reporter_id for h in hazards})
    return [
        {
            "hazard": h,
            "enterprise": enterprises[h.enterprise_id].name,
            "place": place_label(sites.get(h.site_id, ""), h.location),
            "assignee": names.get(h.assignee_id, "") if h.assignee_id else "",
            "reporter": names.get(h.reporter_id, ""),
            "overdue": is_overdue(h.status, h.deadline, now),
        }
        for h in hazards
    ]


# --- the console list ----------------------------------------------------------------------------


def _int(value: str | None) -> int | None:
    # Ids and pages are positive and fit the database's integers.
    return parse_id(value)


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value.strip()) if value else None
    except ValueError:
        return None


MAX_SEARCH = 100  # characters of the text search


def _like_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, its own % and _ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass(frozen=True)
class ListFilters:
    """The console list's filters, from its URL arguments (a bad value is no filter): the
    enterprise, the town (bureau), status, level, overdue only, the local days the hazard
    was found between, and words of its description or location."""

    enterprise_id: int | None
    status: HazardStatus | None
    level: HazardLevel | None
    overdue: bool
    page: int
    town_id: int | None = None
    found_from: date | None = None
    found_to: date | None = None
    q: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> ListFilters:
        def choice(enum, value):
            try:
                return enum(value) if value else None
            except ValueError:
                return None

        return cls(
            enterprise_id=_int(args.get("enterprise_id")),
            status=choice(HazardStatus, args.get("status", "")),
            level=choice(HazardLevel, args.get("level", "")),
            overdue=args.get("overdue") == "1",
            page=_int(args.get("page", "1")) or 1,
            town_id=_int(args.get("town_id")),
            found_from=_day(args.get("found_from")),
            found_to=_day(args.get("found_to")),
            q=" ".join((args.get("q") or "").split())[:MAX_SEARCH],
        )

    def query_args(self, page: int = 1) -> dict[str, Any]:
        """URL arguments of these filters on `page` (for links), without the empty ones."""
        args = {
            "enterprise_id": self.enterprise_id,
            "town_id": self.town_id,
            "status": self.status.value if self.status else None,
            "level": self.level.value if self.level else None,
            "overdue": "1" if self.overdue else None,
            "found_from": self.found_from.isoformat() if self.found_from else None,
            "found_to": self.found_to.isoformat() if self.found_to else None,
            "q": self.q or None,
            "page": page if page > 1 else None,
        }
        return {k: v for k, v in args.items() if v is not None}


def filtered_hazards(actor: Actor, filters: ListFilters, now: datetime) -> Select[tuple[Hazard]]:
    """SELECT of the hazards the actor may see that pass `filters` (the page aside)."""
    query = visible_hazards(actor)
    if filters.enterprise_id is not None:
        query = query.where(Hazard.enterprise_id == filters.enterprise_id)
    if filters.town_id is not None:
        in_town = select(Enterprise.id).where(Enterprise.town_id == filters.town_id)
        query = query.where(Hazard.enterprise_id.in_(in_town))
    if filters.status is not None:
        query = query.where(Hazard.status == filters.status)
    if filters.level is not None:
        query = query.where(Hazard.level == filters.level)
    if filters.overdue:
        query = query.where(overdue_clause(now))
    if filters.found_from is not None:
        query = query.where(Hazard.created_at >= local_midnight(filters.found_from))
    if filters.found_to is not None:
        query = query.where(Hazard.created_at < local_midnight(filters.found_to + timedelta(days=1)))
    for word in filters.q.split():
        pattern = _like_pattern(word)
        query = query.where(
            or_(Hazard.description.ilike(pattern, escape="\\"), Hazard.location.ilike(pattern, escape="\\"))
        )
    return query


def local_midnight(day: date) -> datetime:
    """00:00 of `day` in Asia/Shanghai, as an aware UTC instant."""
    return datetime.combine(day, time(0), tzinfo=LOCAL_TZ).astimezone(UTC)


def console_hazards(
    session: Session, actor: Actor, filters: ListFilters, now: datetime
) -> tuple[list[Hazard], int]:
    """One page of the hazards the actor may see, filtered, newest first, and the total."""
    query = filtered_hazards(actor, filters, now)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    page = (
        query.order_by(Hazard.created_at.desc(), Hazard.id.desc())
        .limit(CONSOLE_PAGE_SIZE)
        .offset((filters.page - 1) * CONSOLE_PAGE_SIZE)
    )
    return list(session.scalars(page)), total or 0


def console_list_context(
    session: Session, actor: Actor, filters: ListFilters, now: datetime
) -> dict[str, Any]:
    """The console list page: one page of rows, the page count, the enterprises to filter
    by and those whose 台账 the actor may export."""
    hazards, total = console_hazards(session, actor, filters, now)
    enterprises = list(session.scalars(visible_enterprises(actor).order_by(Enterprise.name)))
    town_ids = {e.town_id for e in enterprises}
    towns = (
        list(session.scalars(select(Town).where(Town.id.in_(town_ids)).order_by(Town.code)))
        if actor.is_bureau and len(town_ids) > 1
        else []
    )
    # Opened from an enterprise's tab bar (or filtered to one): that enterprise's tabs show.
    enterprise = next((e for e in enterprises if e.id == filters.enterprise_id), None)
    return {
        "towns": towns,
        "enterprise": enterprise,
        "district_ledger": actor.is_bureau and any(actor.can(Action.EXPORT_LEDGER, e.ref) for e in enterprises),
        "rows": list_rows(session, hazards, now),
        "total": total,
        "pages": max(1, -(-total // CONSOLE_PAGE_SIZE)),
        "enterprises": enterprises,
        "exportable": [e for e in enterprises if actor.can(Action.EXPORT_LEDGER, e.ref)],
        "this_month": to_local(now).strftime("%Y-%m"),
    }
