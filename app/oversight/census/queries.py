"""Read side of the census: the towns an actor files enterprises in, the enterprises on file
by credit code, and the export of every enterprise in the actor's scope."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.domain import Action, Actor, require
from app.accounts.queries import visible_enterprises
from app.clock import to_local
from app.enterprises.models import Enterprise, Town
from app.oversight.census import domain
from app.oversight.census.workbook import census_workbook

# Credit codes per IN (...) of the lookup: well under every database's parameter limit.
LOOKUP_CHUNK = 500


def census_values(enterprise: Enterprise) -> dict[str, Any]:
    """An enterprise's census fields, as a planned row holds them."""
    return {name: getattr(enterprise, name) for name in domain.FIELDS}


def towns(session: Session, actor: Actor) -> list[domain.Town]:
    """Every town of the district, each marked whether the actor may file enterprises in it
    (the bureau admin: all; bureau staff: their towns)."""
    scope = actor.enterprise_scope()
    return [
        domain.Town(t.id, t.name, scope.all or t.id in scope.town_ids)
        for t in session.scalars(select(Town).order_by(Town.id))
    ]


def town_rows(session: Session) -> list[Town]:
    """Every town of the district (the rows themselves)."""
    return list(session.scalars(select(Town).order_by(Town.id)))


def existing_by_uscc(session: Session, actor: Actor, codes: Iterable[str]) -> dict[str, domain.Existing]:
    """The enterprises on file with these credit codes (whoever's they are), with their census
    fields and whether the actor may edit them."""
    wanted = sorted({c for c in codes if c})
    found: dict[str, domain.Existing] = {}
    for start in range(0, len(wanted), LOOKUP_CHUNK):
        chunk = wanted[start : start + LOOKUP_CHUNK]
        for enterprise in session.scalars(select(Enterprise).where(Enterprise.uscc.in_(chunk))):
            found[enterprise.uscc] = domain.Existing(
                enterprise.id, actor.can(Action.EDIT_ENTERPRISE, enterprise.ref), census_values(enterprise)
            )
    return found


@dataclass(frozen=True)
class CensusFile:
    filename: str
    content: bytes
    count: int


def census_export(session: Session, actor: Actor, now: datetime, *, template: bool = False) -> CensusFile:
    """The census sheet of every enterprise in the actor's scope, by town and name; with
    `template` (or no enterprise in scope) the empty sheet to fill in. Bureau users who may
    register enterprises only. Raises PermissionDenied."""
    require(actor, Action.CREATE_ENTERPRISE)
    all_towns = towns(session, actor)
    names = {t.id: t.name for t in all_towns}
    rows: list[dict[str, Any]] = []
    if not template:
        query = visible_enterprises(actor).order_by(Enterprise.town_id, Enterprise.name, Enterprise.id)
        rows = [census_values(e) for e in session.scalars(query)]
    day = to_local(now).date().isoformat()
    title = f"企业普查导入模板-{day}" if template else f"企业普查-{day}"
    content = census_workbook(rows, names, [t.name for t in all_towns if t.in_scope], title)
    return CensusFile(f"{title}.xlsx", content, len(rows))
