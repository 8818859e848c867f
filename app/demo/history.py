"""Sixty days of demo history, so that a newcomer's first look has something to show.

Everything is written through the services with `now` values in the past, in time order, so
events, outboxes and invariants are the real ones: default schedules and checklists, the
tasks of every day, checks submitted by their owners at scanned points (most on time, some
late, a few never — more in the two weaker enterprises), hazards found in those checks or
reported on the spot, assigned, rectified, verified, rejected or reopened, and three major
hazards through the five duties (one accepted long ago, one under the bureau's supervision,
one being rectified under it). The scheduler's jobs run in the past too: sweeps every
morning, escalation runs three times a day.

Deterministic for a given `now` (one seeded random generator, events in a fixed order) and
written once: `seed_history` does nothing when the demo enterprises already have tasks or
hazards.

The outbox rows of the history are marked delivered at the end — nobody needs a month of
old notices on first start. Escalation runs stop at the start of yesterday (local), so what
is overdue now — yesterday's missed checks, hazards left open since the day before
yesterday — is escalated for real by the scheduler's first run: managers and department
heads see fresh notices within minutes of `make run`.
"""

from __future__ import annotations

import heapq
import io
import itertools
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw
from sqlalchemy import exists, or_, select, update
from sqlalchemy.orm import Session

from app.accounts.domain import Actor, Role
from app.accounts.models import Membership, User
from app.accounts.queries import load_actor
from app.clock import LOCAL_TZ, local_today
from app.demo import data, history_data
from app.demo.headline import ensure_night_schedule
from app.enterprises.models import Department, Enterprise, Site, Team
from app.hazard_reporting.checklists import service as checklists
from app.hazard_reporting.checklists.domain import OnFail
from app.hazard_reporting.checks import service as checks
from app.hazard_reporting.checks.domain import CheckLevel, CheckTaskStatus, ItemResult, control_item_code
from app.hazard_reporting.checks.models import CheckItemResult, CheckTask
from app.hazard_reporting.checks.queries import control_items, task_items
from app.hazard_reporting.escalation.service import run_escalations
from app.hazard_reporting.hazards import major_hazards
from app.hazard_reporting.hazards import service as hazards
from app.hazard_reporting.hazards.domain import HazardSource, PhotoKind
from app.hazard_reporting.hazards.models import Hazard
from app.hazard_reporting.schedules import service as schedules
from app.hazard_reporting.schedules.models import CheckSchedule
from app.notifications.domain import Channel, OutboxStatus
from app.notifications.models import OutboxMessage

log = logging.getLogger(__name__)

HISTORY_DAYS = 60
RANDOM_SEED = 20261128
GENERATE_AT = time(6, 0)
SWEEP_AT = time(6, 5)
ESCALATE_AT = (time(8, 30), time(19, 30), time(22, 30))
# Nothing is dated in the last minutes before `now`: the seed itself takes a while.
MARGIN = timedelta(minutes=2)
# Near 惠济区, Zhengzhou: where the phones of the demo's checkers report they stand.
LATITUDE, LONGITUDE = 34.867, 113.617


@dataclass(frozen=True)
class Habits:
    """How an enterprise keeps up: shares of checks done on time and late (the rest are
    missed), the chance a check finds a hazard, the chance of a 随手拍 report per day, and
    the weights of a hazard's fate (fixed the same day, late, rejected, reopened once)."""

    on_time: float
    late: float
    check_finds: float
    adhoc_per_day: float
    fates: tuple[int, int, int, int]


DILIGENT = Habits(on_time=0.87, late=0.09, check_finds=0.07, adhoc_per_day=0.10, fates=(80, 8, 7, 5))
# The two weaker enterprises: more missed checks, more hazards, more of them fixed late.
WEAK = {
    "lvyuan": Habits(on_time=0.58, late=0.17, check_finds=0.14, adhoc_per_day=0.20, fates=(50, 35, 8, 7)),
    "xinlin": Habits(on_time=0.70, late=0.14, check_finds=0.12, adhoc_per_day=0.18, fates=(55, 30, 8, 7)),
}
FATES = ("same_day", "late", "rejected", "reopened")


@dataclass
class Company:
    """A demo enterprise as the history needs it: its people by role and unit, its sites."""

    key: str
    enterprise: Enterprise
    habits: Habits
    manager: int
    officer: int
    heads: dict[int, int] = field(default_factory=dict)  # department → head
    leaders: dict[int, int] = field(default_factory=dict)  # team → leader
    fixers: dict[int, list[int]] = field(default_factory=dict)  # department → leaders and workers
    sites: dict[int, list[Site]] = field(default_factory=dict)  # department → sites

    def all_sites(self) -> list[Site]:
        return [site for sites in self.sites.values() for site in sites]


class Timeline:
    """Events in time order; an event may add later ones. Events after `until` never happen
    (that is how the history leaves things open at `now`)."""

    def __init__(self, until: datetime):
        self.until = until
        self._heap: list[tuple[datetime, int, Callable[[datetime], None]]] = []
        self._seq = itertools.count()
        self.ran = 0

    def at(self, moment: datetime, action: Callable[[datetime], None]) -> None:
        if moment <= self.until:
            heapq.heappush(self._heap, (moment, next(self._seq), action))

    def run(self) -> None:
        while self._heap:
            moment, _, action = heapq.heappop(self._heap)
            action(moment)
            self.ran += 1


def local_at(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=LOCAL_TZ).astimezone(UTC)


def demo_enterprises(session: Session) -> dict[str, Enterprise]:
    """The seeded demo enterprises by key (those that exist)."""
    from app.enterprises.schemas import uscc_check_digit

    by_uscc = {spec["uscc17"] + uscc_check_digit(spec["uscc17"]): spec["key"] for spec in data.ENTERPRISES}
    rows = session.scalars(select(Enterprise).where(Enterprise.uscc.in_(list(by_uscc))).order_by(Enterprise.id))
    return {by_uscc[e.uscc]: e for e in rows}


def has_history(session: Session, enterprise_ids: list[int]) -> bool:
    """The marker: any check task or hazard of a demo enterprise means the history (or real
    use) is there already."""
    return bool(
        session.scalar(
            select(
                or_(
                    exists().where(CheckTask.enterprise_id.in_(enterprise_ids)),
                    exists().where(Hazard.enterprise_id.in_(enterprise_ids)),
                )
            )
        )
    )


def photo(seed: int) -> bytes:
    """A small JPEG standing in for a phone photo: a few shapes in colours picked by `seed`.
    Few distinct seeds are used, so the content-addressed store keeps few files."""
    rng = random.Random(seed)
    image = Image.new("RGB", (320, 240), tuple(rng.randrange(90, 200) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(5):
        x, y = rng.randrange(0, 280), rng.randrange(0, 200)
        colour = tuple(rng.randrange(0, 255) for _ in range(3))
        draw.rectangle((x, y, x + rng.randrange(20, 120), y + rng.randrange(20, 90)), fill=colour)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def last_outbox_id(session: Session) -> int:
    """The newest outbox row's id (0 for none): what a past-events seeder marks after."""
    return session.scalar(select(OutboxMessage.id).order_by(OutboxMessage.id.desc()).limit(1)) or 0


def mark_delivered_since(session: Session, outbox_before: int) -> None:
    """Mark the outbox rows written after `outbox_before` delivered, at their own time: the
    demo's past events reached their people long ago; nobody needs them sent now."""
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id > outbox_before)
        .values(
            status=OutboxStatus.DELIVERED,
            channel=Channel.TEMPLATE,
            attempts=1,
            sent_at=OutboxMessage.created_at,
            finished_at=OutboxMessage.created_at,
        )
        .execution_options(synchronize_session=False)
    )


class History:
    """Writes the history; see the module docstring."""

    def __init__(self, session: Session, now: datetime, media_root: str | Path):
        self.session = session
        self.now = now
        self.media_root = media_root
        self.rng = random.Random(RANDOM_SEED)
        self.today = local_today(now)
        self.first_day = self.today - timedelta(days=HISTORY_DAYS)
        self.begins = local_at(self.first_day, GENERATE_AT)
        # Escalation runs of the past stop here; later ones are the scheduler's (live).
        self.escalation_cutoff = local_at(self.today - timedelta(days=1), time(0))
        self.timeline = Timeline(now - MARGIN)
        self.actors: dict[int, Actor] = {}
        self.photos = {n: photo(n) for n in range(8)}
        self.companies: dict[int, Company] = {}
        self.headline_schedule_id: int | None = None

    # --- set-up --------------------------------------------------------------------------

    def actor(self, user_id: int) -> Actor:
        if user_id not in self.actors:
            self.actors[user_id] = load_actor(self.session, self.session.get(User, user_id))
        return self.actors[user_id]

    def load_companies(self, enterprises: dict[str, Enterprise]) -> None:
        for key, enterprise in enterprises.items():
            company = Company(key, enterprise, WEAK.get(key, DILIGENT), manager=0, officer=0)
            teams = {
                t.id: t.department_id
                for t in self.session.scalars(
                    select(Team).join(Department).where(Department.enterprise_id == enterprise.id)
                )
            }
            memberships = self.session.scalars(
                select(Membership)
                .where(Membership.enterprise_id == enterprise.id, Membership.active.is_(True))
                .order_by(Membership.id)
            )
            for m in memberships:
                department = teams.get(m.team_id) if m.team_id else m.department_id
                if m.role is Role.MANAGER:
                    company.manager = company.manager or m.user_id
                elif m.role is Role.SAFETY_OFFICER:
                    company.officer = company.officer or m.user_id
                elif m.role is Role.DEPARTMENT_HEAD and department is not None:
                    company.heads.setdefault(department, m.user_id)
                elif m.role is Role.TEAM_LEADER and m.team_id is not None:
                    company.leaders.setdefault(m.team_id, m.user_id)
                if m.role in (Role.TEAM_LEADER, Role.WORKER) and department is not None:
                    company.fixers.setdefault(department, []).append(m.user_id)
            for site in self.session.scalars(
                select(Site).where(Site.enterprise_id == enterprise.id, Site.active.is_(True)).order_by(Site.id)
            ):
                company.sites.setdefault(site.department_id or 0, []).append(site)
            self.companies[enterprise.id] = company

    # --- the run -------------------------------------------------------------------------

    def write(self) -> int:
        """Plan the days, run the timeline, mark the history's outbox delivered. Returns how
        many events ran."""
        outbox_before = last_outbox_id(self.session)
        checklists.load_standard_checklists(self.session, self.begins)
        for company in self.companies.values():
            schedules.ensure_default_schedules(self.session, self.begins, company.enterprise.id)
        night = ensure_night_schedule(self.session, self.begins)
        self.headline_schedule_id = night.id if night is not None else None
        day = self.first_day
        while day <= self.today:
            self.plan_day(day)
            day += timedelta(days=1)
        self.plan_majors()
        self.plan_current_hazards()
        self.timeline.run()
        self.session.flush()
        mark_delivered_since(self.session, outbox_before)
        self.session.flush()
        return self.timeline.ran

    def plan_day(self, day: date) -> None:
        at = self.timeline.at
        at(local_at(day, GENERATE_AT), lambda moment, d=day: self.generate(d, moment))
        at(local_at(day, SWEEP_AT), lambda moment: checks.sweep_overdue(self.session, moment))
        for when in ESCALATE_AT:
            moment = local_at(day, when)
            if moment <= self.escalation_cutoff:
                at(moment, lambda m: run_escalations(self.session, m))
        if day >= self.today - timedelta(days=1):
            return  # the last two days' hazards are the scripted ones (plan_current_hazards)
        for company in self.companies.values():
            if self.rng.random() < company.habits.adhoc_per_day:
                found = local_at(day, time(self.rng.randrange(8, 17), self.rng.randrange(60)))
                at(found, lambda moment, c=company: self.report_adhoc(c, moment))

    # --- checks --------------------------------------------------------------------------

    def generate(self, day: date, moment: datetime) -> None:
        """The morning job, then each enterprise's checks due today: done on time, late, or
        not at all, by the enterprise's habits."""
        schedules.generate_tasks(self.session, moment)
        due = self.session.scalars(
            select(CheckTask)
            .where(
                CheckTask.enterprise_id.in_(list(self.companies)),
                CheckTask.status == CheckTaskStatus.PENDING,
                CheckTask.due_at >= local_at(day, time(0)),
                CheckTask.due_at < local_at(day + timedelta(days=1), time(0)),
            )
            .order_by(CheckTask.id)
        ).all()
        for task in due:
            if day == self.today and task.schedule_id == self.headline_schedule_id:
                continue  # today's night check is the visitor's to do (app/demo/headline.py)
            habits = self.companies[task.enterprise_id].habits
            draw = self.rng.random()
            if draw < habits.on_time:
                when = task.due_at - timedelta(minutes=self.rng.randrange(30, 360))
            elif draw < habits.on_time + habits.late:
                grace = min(task.grace_until - task.due_at, timedelta(hours=3))
                when = task.due_at + timedelta(minutes=self.rng.randrange(10, max(11, int(grace.total_seconds() // 60) - 10)))
            else:
                continue  # missed: the sweep records it, the escalation runs tell people
            self.timeline.at(when, lambda moment, t=task.id: self.submit(t, moment))

    def owner_of(self, company: Company, schedule: CheckSchedule) -> int:
        if schedule.team_id is not None:
            return company.leaders[schedule.team_id]
        if schedule.department_id is not None and schedule.level is CheckLevel.WEEKLY:
            return company.heads[schedule.department_id]
        return company.manager

    def submit(self, task_id: int, moment: datetime) -> None:
        """The owner scans a point of the task's department and answers every item; now and
        then one item is a hazard, with a description and a photo."""
        task = self.session.get(CheckTask, task_id)
        company = self.companies[task.enterprise_id]
        schedule = task.schedule
        sites = company.sites.get(schedule.department_id or 0) or company.all_sites()
        site = self.rng.choice(sites)
        items = task_items(self.session, task)
        finding = None
        if self.rng.random() < company.habits.check_finds:
            general = [r for r in items if r.item.on_fail is OnFail.GENERAL and r.item.code in history_data.FINDINGS]
            if general:
                finding = self.rng.choice(general).item.code
        answers: list[dict[str, Any]] = []
        for resolved in items:
            code = resolved.item.code
            if code == finding:
                answers.append({
                    "item_code": code,
                    "result": ItemResult.HAZARD.value,
                    "note": self.rng.choice(history_data.FINDINGS[code]),
                    "photos": [self.photos[self.rng.randrange(4)]],
                })
            elif self.rng.random() < 0.04:
                answers.append({"item_code": code, "result": ItemResult.NOT_APPLICABLE.value})
            else:
                answers.append({"item_code": code, "result": ItemResult.OK.value})
        # The controls of the risk register the check goes through at this site (none until the
        # enterprise has a register): kept, as the checkers found them.
        for control in control_items(self.session, task, site.id):
            answers.append({"item_code": control_item_code(control.control_id), "result": ItemResult.OK.value})
        owner = self.owner_of(company, schedule)
        submission = checks.submit_check(
            self.session,
            self.actor(owner),
            moment,
            task.id,
            {
                "site_token": site.token,
                "scanned_at": moment - timedelta(minutes=self.rng.randrange(3, 15)),
                "idempotency_key": f"demo-history-task-{task.id:08d}",
                "latitude": round(LATITUDE + self.rng.uniform(-0.03, 0.03), 6),
                "longitude": round(LONGITUDE + self.rng.uniform(-0.03, 0.03), 6),
                "location_accuracy": self.rng.randrange(8, 40),
                "answers": answers,
            },
            media_root=self.media_root,
        )
        if finding is not None:
            hazard_id = self.session.scalar(
                select(CheckItemResult.hazard_id).where(
                    CheckItemResult.submission_id == submission.id, CheckItemResult.hazard_id.is_not(None)
                )
            )
            self.plan_fate(company, hazard_id, moment, site.department_id, owner)

    # --- general hazards -------------------------------------------------------------------

    def report_adhoc(self, company: Company, moment: datetime) -> None:
        """随手拍: someone on the floor reports what they see, with a photo."""
        site = self.rng.choice(company.all_sites())
        department = site.department_id
        reporter = self.rng.choice(company.fixers.get(department) or [company.officer])
        description, category = self.rng.choice(history_data.ADHOC)
        hazard_id = self.report(company, reporter, moment, site, description, category)
        self.plan_fate(company, hazard_id, moment, department, reporter)

    def report(
        self, company: Company, reporter: int, moment: datetime, site: Site, description: str, category: str
    ) -> int:
        hazard = hazards.report_hazard(
            self.session,
            self.actor(reporter),
            moment,
            {
                "enterprise_id": company.enterprise.id,
                "source": HazardSource.ADHOC.value,
                "site_id": site.id,
                "department_id": site.department_id,
                "category": category,
                "description": description,
                "location": f"{site.area} {site.name}".strip(),
            },
        )
        hazards.add_photo(
            self.session, self.actor(reporter), moment + timedelta(minutes=1), hazard.id, PhotoKind.BEFORE,
            self.photos[self.rng.randrange(4)], self.media_root,
        )
        return hazard.id

    def head_of(self, company: Company, department: int | None) -> int:
        return company.heads.get(department or 0) or company.officer

    def fixer_for(self, company: Company, department: int | None, reporter: int) -> int:
        """Someone of the department to fix it — not the reporter when there is anyone else
        (whoever finds a hazard is told when the fix starts)."""
        people = company.fixers.get(department or 0) or [self.head_of(company, department)]
        return self.rng.choice([p for p in people if p != reporter] or people)

    def plan_fate(
        self, company: Company, hazard_id: int, found: datetime, department: int | None, reporter: int
    ) -> None:
        """What becomes of a general hazard: fixed the same day (不过夜), fixed late, rejected,
        or sent back once by the verifier. Steps due after `now` never happen."""
        fate = self.rng.choices(FATES, weights=company.habits.fates)[0]
        head = self.head_of(company, department)
        if head == reporter:  # a head's own finding is assigned and verified by the safety officer
            head = company.officer
        fixer = self.fixer_for(company, department, reporter)
        at = self.timeline.at
        minutes = self.rng.randrange
        assigned = found + timedelta(minutes=minutes(10, 50))
        if fate == "rejected":
            at(assigned, lambda m: self.reject(hazard_id, head, m))
            return
        at(assigned, lambda m: self.assign(hazard_id, head, fixer, department, m))
        if fate == "late":
            next_day = local_today(found) + timedelta(days=1)
            started = local_at(next_day, time(minutes(8, 11), minutes(60)))
        else:
            started = assigned + timedelta(minutes=minutes(15, 60))
        fixed = started + timedelta(minutes=minutes(40, 180))
        checked = fixed + timedelta(minutes=minutes(15, 90))
        at(started, lambda m: self.start(hazard_id, fixer, m))
        at(fixed, lambda m: self.fix(hazard_id, fixer, m))
        if fate == "reopened":
            at(checked, lambda m: self.verify(hazard_id, head, m, passed=False))
            fixed = checked + timedelta(minutes=minutes(30, 120))
            checked = fixed + timedelta(minutes=minutes(15, 60))
            at(fixed, lambda m: self.fix(hazard_id, fixer, m))
        verifier = head if self.rng.random() < 0.8 else company.officer
        at(checked, lambda m: self.verify(hazard_id, verifier, m, passed=True))

    def assign(self, hazard_id: int, by: int, to: int, department: int | None, moment: datetime) -> None:
        payload: dict[str, Any] = {"assignee_id": to}
        if department:
            payload["department_id"] = department
        hazards.assign(self.session, self.actor(by), moment, hazard_id, payload)

    def start(self, hazard_id: int, by: int, moment: datetime) -> None:
        hazards.start_rectification(self.session, self.actor(by), moment, hazard_id)

    def fix(self, hazard_id: int, by: int, moment: datetime) -> None:
        hazards.add_photo(
            self.session, self.actor(by), moment, hazard_id, PhotoKind.AFTER,
            self.photos[4 + self.rng.randrange(4)], self.media_root,
        )
        hazards.submit_rectification(
            self.session, self.actor(by), moment + timedelta(minutes=1), hazard_id,
            {"note": self.rng.choice(history_data.FIX_NOTES)},
        )

    def verify(self, hazard_id: int, by: int, moment: datetime, *, passed: bool) -> None:
        note = self.rng.choice(history_data.VERIFY_NOTES if passed else history_data.REOPEN_NOTES)
        hazards.verify(self.session, self.actor(by), moment, hazard_id, {"passed": passed, "note": note})

    def reject(self, hazard_id: int, by: int, moment: datetime) -> None:
        reason = self.rng.choice(history_data.REJECT_REASONS)
        hazards.reject(self.session, self.actor(by), moment, hazard_id, {"reason": reason})

    # --- what is open now ----------------------------------------------------------------

    def plan_current_hazards(self) -> None:
        """Hazards whose state at `now` the demo relies on: one of each open state, and
        overdue ones in the weaker enterprises — one left assigned since the day before
        yesterday (its level-3 notice to the manager falls due after the history's last
        escalation run), one being fixed since yesterday, one never assigned, one long
        overdue — plus a rejected one."""
        by_key = {c.key: c for c in self.companies.values()}
        now = self.timeline.until
        yesterday, before = self.today - timedelta(days=1), self.today - timedelta(days=2)
        scripts = [
            # (enterprise, found, steps: assign / start / fix / verify offsets from found)
            ("lvyuan", now - timedelta(minutes=40), ()),
            ("huimin", now - timedelta(hours=3), ("assign",)),
            ("hengda", now - timedelta(hours=5), ("assign", "start")),
            ("yubei", now - timedelta(hours=7), ("assign", "start", "fix")),
            ("lvyuan", local_at(before, time(10, 0)), ("assign",)),
            ("xinlin", local_at(yesterday, time(15, 0)), ("assign", "start")),
            ("lvyuan", local_at(self.today - timedelta(days=3), time(9, 30)), ()),
            ("lvyuan", local_at(self.today - timedelta(days=12), time(14, 0)), ("assign", "start")),
            ("huaxin", local_at(self.today - timedelta(days=5), time(10, 30)), ("reject",)),
        ]
        for key, found, steps in scripts:
            if key in by_key:
                self.timeline.at(found, lambda m, c=by_key[key], s=steps: self.scripted(c, m, s))

    def scripted(self, company: Company, found: datetime, steps: tuple[str, ...]) -> None:
        site = company.all_sites()[0]
        department = site.department_id
        reporter = (company.fixers.get(department or 0) or [company.officer])[-1]
        description, category = self.rng.choice(history_data.ADHOC)
        hazard_id = self.report(company, reporter, found, site, description, category)
        head = self.head_of(company, department)
        fixer = self.fixer_for(company, department, reporter)
        actions = {
            "assign": lambda m: self.assign(hazard_id, head, fixer, department, m),
            "start": lambda m: self.start(hazard_id, fixer, m),
            "fix": lambda m: self.fix(hazard_id, fixer, m),
            "reject": lambda m: self.reject(hazard_id, head, m),
        }
        for n, step in enumerate(steps, start=1):
            self.timeline.at(found + timedelta(minutes=30 * n), actions[step])

    # --- major hazards ---------------------------------------------------------------------

    def plan_majors(self) -> None:
        by_key = {c.key: c for c in self.companies.values()}
        for state, spec in history_data.MAJORS.items():
            company = by_key.get(spec["enterprise"])
            if company is None:
                continue
            found = local_at(self.today - timedelta(days=spec["days_ago"]), time(9, 40))
            self.timeline.at(found, lambda m, c=company, s=spec, st=state: self.major(c, s, st, m))

    def major(self, company: Company, spec: dict[str, Any], state: str, found: datetime) -> None:
        """A major hazard through the five duties: reported by the safety officer, assessed,
        registered, its 五到位 plan drafted and approved by the manager, put under the
        bureau's supervision, assigned — then, by `state`, rectified and accepted, started,
        or left under supervision."""
        site = next(s for s in company.all_sites() if s.name == spec["site"])
        officer, manager = self.actor(company.officer), self.actor(company.manager)
        bureau = self.session.scalar(select(User).where(User.username == spec["supervisor"]))
        fixer = self.head_of(company, site.department_id)
        hazard = hazards.report_hazard(
            self.session,
            officer,
            found,
            {
                "enterprise_id": company.enterprise.id,
                "source": HazardSource.ADHOC.value,
                "level": "major",
                "site_id": site.id,
                "department_id": site.department_id,
                "category": "unsafe_condition",
                "description": spec["description"],
                "location": f"{site.area} {site.name}".strip(),
                "criteria_refs": [spec["criteria"]],
            },
        )
        hazard_id = hazard.id
        plan = spec["plan"]
        deadline_day = local_today(found) + timedelta(days=plan["days"])
        day = timedelta(days=1)
        steps: list[tuple[datetime, Callable[[datetime], Any]]] = [
            (found + timedelta(minutes=5), lambda m: hazards.add_photo(
                self.session, officer, m, hazard_id, PhotoKind.BEFORE, self.photos[3], self.media_root)),
            (found + day, lambda m: major_hazards.assess(self.session, officer, m, hazard_id, {
                "criteria_code": spec["criteria"], "assessor": spec["assessor"], "opinion": spec["opinion"]})),
            (found + day + timedelta(hours=4), lambda m: major_hazards.register(
                self.session, officer, m, hazard_id, {"note": "已录入重大隐患台账并报区应急管理局"})),
            (found + 2 * day, lambda m: major_hazards.save_plan(self.session, manager, m, hazard_id, {
                "measures": plan["measures"],
                "owner_org": plan["owner_org"],
                "owner_person": self.session.get(User, company.manager).display_name,
                "fund_amount": str(Decimal(plan["fund_amount"])),
                "fund_source": plan["fund_source"],
                "deadline": deadline_day.isoformat(),
                "milestones": [
                    {"title": title, "due": (local_today(found) + timedelta(days=n)).isoformat(), "done": False}
                    for title, n in plan["milestones"]
                ],
                "contingency": plan["contingency"],
            })),
            (found + 3 * day, lambda m: major_hazards.approve_plan(
                self.session, manager, m, hazard_id, {"note": "五到位落实，同意立项"})),
            (found + 4 * day, lambda m: major_hazards.supervise(self.session, self.actor(bureau.id), m, hazard_id, {
                "supervising_unit": "惠济区应急管理局", "note": "挂牌督办，按节点报送整改进度"})),
            (found + 4 * day + timedelta(hours=1), lambda m: hazards.assign(
                self.session, manager, m, hazard_id, {"assignee_id": fixer})),
        ]
        if state in ("rectifying", "closed"):
            steps.append((found + 6 * day, lambda m: hazards.start_rectification(
                self.session, self.actor(fixer), m, hazard_id, {"note": "按治理方案开始整改"})))
            steps.append((found + 10 * day, lambda m: hazards.add_photo(
                self.session, self.actor(fixer), m, hazard_id, PhotoKind.AFTER, self.photos[5], self.media_root)))
        if state == "closed":
            steps.append((found + 20 * day, lambda m: hazards.submit_rectification(
                self.session, self.actor(fixer), m, hazard_id, {"note": "整改完成，申请验收"})))
            steps.append((found + 22 * day, lambda m: major_hazards.accept(self.session, manager, m, hazard_id, {
                "passed": True, "acceptor": spec["acceptor"], "opinion": spec["acceptance"]})))
        for moment, step in steps:
            self.timeline.at(moment, step)


def seed_history(session: Session, now: datetime, media_root: str | Path) -> int:
    """Write the demo's sixty days of history before `now` (photos under `media_root`);
    returns how many events ran, 0 when the demo enterprises already have tasks or hazards
    (the history is written once) or do not exist."""
    enterprises = demo_enterprises(session)
    if not enterprises or has_history(session, [e.id for e in enterprises.values()]):
        return 0
    history = History(session, now, media_root)
    history.load_companies(enterprises)
    ran = history.write()
    log.info("demo history: %d events over %d days", ran, HISTORY_DAYS)
    return ran
