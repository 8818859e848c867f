"""Seed the demo district, idempotently, and describe it as JSON for integrators."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from app.accounts.domain import BUREAU_ROLE_LABELS, ROLE_LABELS, BureauRole, Role
from app.accounts.models import ApiToken, BureauMembership, Membership, User
from app.accounts.service import derived_token, hash_password, issue_api_token, token_digest
from app.clock import local_today
from app.demo import data
from app.demo.campaigns import seed_campaigns
from app.demo.credit import seed_credit
from app.demo.district_seed import seed_district
from app.demo.enforcement import seed_enforcement
from app.demo.headline import ensure_night_schedule, headline
from app.demo.history import demo_enterprises, seed_history
from app.demo.history_district import seed_district_history
from app.demo.risks import seed_risk_registers
from app.demo.training import seed_training
from app.enterprises.domain import new_site_token, site_entry_url, site_scene
from app.enterprises.models import Department, Enterprise, Post, PostHazardFactor, Site, Team, Town
from app.enterprises.schemas import EnterpriseIn, uscc_check_digit
from app.notifications.models import NotificationPreference
from app.oversight.stats.service import refresh_recent_year
from app.tips.service import propose_monthly_tips
from app.validation import parse

log = logging.getLogger(__name__)

API_TOKEN_PURPOSE = "demo-api-token"
# This manager reads non-urgent notices in the daily digest, so the demo has a digest to show:
# 鑫林木业 always has something open (a major hazard under supervision), so theirs is never
# empty; the other managers get each escalation as it comes.
DIGEST_READER = "xinlin:manager"


def virtual_openid(key: str) -> str:
    """A stable 28-character openid for a demo person (real openids are 28 characters)."""
    return "o" + hashlib.sha1(f"ancha-demo:{key}".encode()).hexdigest()[:27]


class _Seeder:
    def __init__(self, session: Session, now: datetime):
        self.session = session
        self.now = now
        self.created = 0

    def get_or_create(self, model: type, defaults: dict[str, Any] | None = None, **keys: Any) -> Any:
        row = self.session.scalar(select(model).filter_by(**keys))
        if row is None:
            row = model(**keys, **(defaults or {}))
            self.session.add(row)
            self.session.flush()
            self.created += 1
        return row

    def person(self, key: str, display_name: str, **extra: Any) -> User:
        openid = virtual_openid(key)
        user = self.get_or_create(
            User, openid=openid, defaults={"display_name": display_name, "subscribed": True, **extra}
        )
        # The demo's people take notices at any hour: someone trying the sandbox late in the
        # evening should still see escalations arrive (real users keep 22:00–07:00 quiet).
        self.get_or_create(
            NotificationPreference,
            user_id=user.id,
            defaults={
                "digest_only": key == DIGEST_READER,
                "quiet_start": None,
                "quiet_end": None,
                "updated_at": self.now,
            },
        )
        return user


def _media_root(explicit: str | Path | None) -> str | Path | None:
    """Where the history's photos go: as given, else the running app's MEDIA_ROOT (the
    `demo seed` command runs inside the app context), else nowhere."""
    if explicit is not None:
        return explicit
    from flask import current_app, has_app_context

    return current_app.config["SETTINGS"].MEDIA_ROOT if has_app_context() else None


def seed_demo(session: Session, now: datetime, secret_key: str, *, media_root: str | Path | None = None) -> int:
    """Create whatever part of the demo district is missing, then — once — the eight staffed
    enterprises' sixty days of history (app/demo/history.py; it needs a media root for its
    photos and is skipped without one) and the other enterprises' summarised hundred days
    (app/demo/history_district.py). Returns how many rows were added plus how many history
    events and rows were written."""
    seeder = _Seeder(session, now)
    towns = {t["code"]: seeder.get_or_create(Town, code=t["code"], defaults={"name": t["name"]}) for t in data.TOWNS}
    for index, spec in enumerate(data.ENTERPRISES):
        _seed_enterprise(seeder, towns, index, spec)
    # The ~150 others of the district (district.py), in bulk.
    seeder.created += seed_district(session, local_today(now), towns)
    for spec in data.BUREAU_USERS:
        user = seeder.get_or_create(
            User,
            username=spec["username"],
            defaults={"display_name": spec["display_name"], "password_hash": hash_password(data.DEMO_PASSWORD)},
        )
        bureau = seeder.get_or_create(BureauMembership, user_id=user.id, defaults={"role": BureauRole(spec["role"])})
        wanted = [towns[c] for c in spec["towns"]]
        if {t.id for t in bureau.towns} != {t.id for t in wanted}:
            bureau.towns = wanted
    # Every console login of the demo has its API token, derived from SECRET_KEY (the same
    # across re-seeds); the bureau admin's is the demo's `api.token`.
    for user in session.scalars(select(User).where(User.username.in_(console_usernames(session))).order_by(User.id)):
        token = login_api_token(secret_key, user.username)
        if session.scalar(select(ApiToken.id).where(ApiToken.token_hash == token_digest(token))) is None:
            issue_api_token(session, user, now, name="演示 API 令牌", token=token)
            seeder.created += 1
    # This month's seasonal proposals, so the bureau's tips page has drafts to review from the
    # first look (the monthly job makes them on the 1st; idempotent per month; needs the
    # tip library, which `make migrate` loads).
    seeder.created += len(propose_monthly_tips(session, now))
    session.flush()
    root = _media_root(media_root)
    ran = 0
    if root is None:
        log.warning("demo history skipped: no media root for its photos")
    else:
        ran = seed_history(session, now, root)
    # The four registers (after the history, which plans its own past rounds): the sites'
    # colours and rounds follow them from now on.
    ran += seed_risk_registers(session, now)
    # After the history (which sets it up from its first day): on a demo seeded before the
    # night team existed, its schedule starts now.
    ensure_night_schedule(session, now)
    # The district's summarised hundred days (no photos, so no media root needed); after
    # the eight's history, whose past scheduler runs would otherwise sweep and escalate it.
    ran += seed_district_history(session, now)
    # The bureau's figures read monthly rollups the scheduler keeps; build them now so that
    # 辖区概况 shows the district's year at once, not after the first job run.
    refresh_recent_year(session, now)
    ran += seed_credit(session, now)
    ran += seed_campaigns(session, now, root)
    # Safety training sessions through the service, coverage partial (app/demo/training.py).
    seeder.created += seed_training(session, now)
    if root is not None:  # the signatures and the rectification photos need a media root
        ran += seed_enforcement(session, now, root, demo_enterprises(session))
    return seeder.created + ran


def district_counts(session: Session) -> dict[str, Any]:
    """The demo district: its name, how many towns and enterprises (all of them) it has."""
    return {
        "name": data.DISTRICT,
        "towns": session.scalar(select(func.count()).select_from(Town)) or 0,
        "enterprises": session.scalar(select(func.count()).select_from(Enterprise)) or 0,
    }


def login_api_token(secret_key: str, username: str) -> str:
    """The demo API token of console login `username` (stable for one SECRET_KEY)."""
    purpose = API_TOKEN_PURPOSE if username == "admin" else f"{API_TOKEN_PURPOSE}:{username}"
    return derived_token(secret_key, purpose)


def console_usernames(session: Session) -> list[str]:
    """The demo's console logins: the bureau's users, then each enterprise's `<key>_admin`."""
    bureau = [spec["username"] for spec in data.BUREAU_USERS]
    admins = session.scalars(
        select(User.username).where(User.username.like("%\\_admin", escape="\\")).order_by(User.id)
    )
    return bureau + [name for name in admins if name not in bureau]


def _seed_enterprise(seeder: _Seeder, towns: dict[str, Town], index: int, spec: dict[str, Any]) -> None:
    fields = {
        k: v
        for k, v in spec.items()
        if k not in ("key", "uscc17", "town", "departments", "posts", "sites")
    }
    uscc = spec["uscc17"] + uscc_check_digit(spec["uscc17"])
    payload = parse(EnterpriseIn, {**fields, "uscc": uscc, "town_id": towns[spec["town"]].id})
    enterprise = seeder.get_or_create(Enterprise, uscc=uscc, defaults=payload.model_dump(exclude={"uscc"}))

    departments: dict[str, Department] = {}
    teams: list[Team] = []
    for dept_name, team_names in spec["departments"].items():
        department = seeder.get_or_create(Department, enterprise_id=enterprise.id, name=dept_name)
        departments[dept_name] = department
        for team_name in team_names:
            teams.append(seeder.get_or_create(Team, department_id=department.id, name=team_name))
    posts = {}
    for name, dept, risks, precautions, emergency in spec["posts"]:
        posts[name] = seeder.get_or_create(
            Post,
            enterprise_id=enterprise.id,
            name=name,
            defaults={
                "department_id": departments[dept].id,
                "risks": risks,
                "precautions": precautions,
                "emergency_measures": emergency,
            },
        )
    for (enterprise_key, post_name), factors in data.POST_HAZARD_FACTORS.items():
        if enterprise_key != spec["key"] or post_name not in posts:
            continue
        for position, (factor, measures) in enumerate(factors):
            seeder.get_or_create(
                PostHazardFactor,
                post_id=posts[post_name].id,
                name=factor,
                defaults={"measures": measures, "position": position},
            )
    for name, area, dept in spec["sites"]:
        seeder.get_or_create(
            Site,
            enterprise_id=enterprise.id,
            name=name,
            defaults={"area": area, "department_id": departments[dept].id, "token": new_site_token()},
        )

    family = data.FAMILY[index % len(data.FAMILY)]
    names = iter(data.GIVEN * 3)
    key = spec["key"]

    def member(role: Role, slot: str, **units: Any) -> None:
        user = seeder.person(f"{key}:{slot}", family + next(names))
        seeder.get_or_create(
            Membership,
            user_id=user.id,
            enterprise_id=enterprise.id,
            role=role,
            defaults={k: (v.id if v is not None else None) for k, v in units.items()},
        )

    admin = seeder.get_or_create(
        User,
        username=f"{key}_admin",
        defaults={
            "display_name": f"{spec['name'][2:6]}管理员",
            "password_hash": hash_password(data.DEMO_PASSWORD),
            "openid": virtual_openid(f"{key}:admin"),
            "subscribed": True,
        },
    )
    seeder.get_or_create(Membership, user_id=admin.id, enterprise_id=enterprise.id, role=Role.ENTERPRISE_ADMIN)
    member(Role.MANAGER, "manager")
    member(Role.SAFETY_OFFICER, "safety")
    first_post = next(iter(posts.values()))
    for d_index, department in enumerate(departments.values()):
        member(Role.DEPARTMENT_HEAD, f"head{d_index}", department_id=department)
    for t_index, team in enumerate(teams):
        department = next(d for d in departments.values() if d.id == team.department_id)
        post = _team_post(team, department, posts) or first_post
        member(Role.TEAM_LEADER, f"leader{t_index}", department_id=department, team_id=team, post_id=post)
        member(Role.WORKER, f"worker{t_index}", department_id=department, team_id=team, post_id=post)


def _team_post(team: Team, department: Department, posts: dict[str, Post]) -> Post | None:
    """The post of a team's people: the one named like the team (浇注班 → 浇注工), else the
    first post of its department."""
    stem = team.name.removesuffix("班")
    own = [p for p in posts.values() if p.department_id == department.id]
    return next((p for p in own if p.name.startswith(stem)), None) or next(iter(own), None)


def demo_summary(session: Session, settings: Any) -> dict[str, Any]:
    """What exists of the demo, as printed by `demo seed --json` (empty lists before seeding)."""
    base = settings.PUBLIC_BASE_URL
    logins = []
    for spec in data.BUREAU_USERS:
        if session.scalar(select(User.id).where(User.username == spec["username"])) is not None:
            logins.append(
                {
                    "username": spec["username"],
                    "password": data.DEMO_PASSWORD,
                    "role": spec["role"],
                    "role_label": BUREAU_ROLE_LABELS[BureauRole(spec["role"])],
                }
            )
    for user in session.scalars(select(User).where(User.username.like("%\\_admin", escape="\\")).order_by(User.id)):
        logins.append(
            {
                "username": user.username,
                "password": data.DEMO_PASSWORD,
                "role": Role.ENTERPRISE_ADMIN.value,
                "role_label": f"{ROLE_LABELS[Role.ENTERPRISE_ADMIN]}（{user.display_name.removesuffix('管理员')}）",
            }
        )
    memberships = session.scalars(
        select(Membership)
        .join(User)
        .where(User.openid.is_not(None))
        .options(
            selectinload(Membership.user),
            selectinload(Membership.enterprise),
            selectinload(Membership.department),
            selectinload(Membership.team),
        )
        .order_by(Membership.enterprise_id, Membership.id)
    )
    virtual_users = [
        {
            "openid": m.user.openid,
            "name": m.user.display_name,
            "role": m.role.value,
            "role_label": ROLE_LABELS[m.role],
            "enterprise": m.enterprise.name,
            "enterprise_id": m.enterprise_id,
            "department": m.department.name if m.department else None,
            "team": m.team.name if m.team else None,
        }
        for m in memberships
    ]
    sites = [
        {
            "enterprise": s.enterprise.name,
            "enterprise_id": s.enterprise_id,
            "site_id": s.id,
            "name": s.name,
            "area": s.area,
            "token": s.token,
            "scene": site_scene(s.token),
            "qr_url": site_entry_url(base, s.token),
        }
        for s in session.scalars(select(Site).options(selectinload(Site.enterprise)).order_by(Site.id))
    ]
    tokens = {login["username"]: login_api_token(settings.SECRET_KEY, login["username"]) for login in logins}
    issued = set(
        session.scalars(select(ApiToken.token_hash).where(ApiToken.token_hash.in_([token_digest(t) for t in tokens.values()])))
    ) if tokens else set()
    for login in logins:
        token = tokens[login["username"]]
        login["api_token"] = token if token_digest(token) in issued else None
    has_token = token_digest(login_api_token(settings.SECRET_KEY, "admin")) in issued
    return {
        "district": district_counts(session),
        "base_url": base,
        "console_url": f"{base}/console/",
        "console_logins": logins,
        "api": {
            "base_url": f"{base}/api/v1",
            "openapi": f"{base}/api/v1/openapi.json",
            "token": login_api_token(settings.SECRET_KEY, "admin") if has_token else None,
            "user": "admin",
        },
        "towns": [{"id": t.id, "code": t.code, "name": t.name} for t in session.scalars(select(Town).order_by(Town.id))],
        "enterprises": [
            {"id": e.id, "name": e.name, "uscc": e.uscc, "town_id": e.town_id, "industry": e.industry.value}
            for e in session.scalars(select(Enterprise).order_by(Enterprise.id))
        ],
        "virtual_users": virtual_users,
        "sites": sites,
        "headline": headline(session),
    }
