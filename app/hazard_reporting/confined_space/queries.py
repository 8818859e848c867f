"""Read side of confined-space jobs: an enterprise's recent jobs and the sites a job may be
registered at, and one job with the lines of its confirmation list."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.enterprises.models import Site
from app.errors import NotFound
from app.hazard_reporting.checklists.domain import ResolvedItem
from app.hazard_reporting.checklists.queries import version_items
from app.hazard_reporting.confined_space.models import ConfinedSpaceConfirmation, ConfinedSpaceJob


def recent_jobs(session: Session, enterprise_id: int, limit: int) -> list[ConfinedSpaceJob]:
    """The enterprise's newest jobs, newest first."""
    return list(
        session.scalars(
            select(ConfinedSpaceJob)
            .where(ConfinedSpaceJob.enterprise_id == enterprise_id)
            .order_by(ConfinedSpaceJob.id.desc())
            .limit(limit)
        )
    )


def job_sites(session: Session, enterprise_id: int) -> list[Site]:
    """The enterprise's active sites, where a job may be registered."""
    return list(
        session.scalars(
            select(Site).where(Site.enterprise_id == enterprise_id, Site.active.is_(True)).order_by(Site.id)
        )
    )


def job_of(session: Session, enterprise_id: int, job_id: int) -> ConfinedSpaceJob:
    """The job, if it belongs to the enterprise. Raises NotFound."""
    job = session.get(ConfinedSpaceJob, job_id)
    if job is None or job.enterprise_id != enterprise_id:
        raise NotFound("作业不存在。")
    return job


@dataclass(frozen=True)
class JobSheet:
    """A job with its site, the enabled lines of its confirmation list and what is confirmed."""

    job: ConfinedSpaceJob
    site: Site | None
    lines: list[ResolvedItem]
    confirmations: dict[str, ConfinedSpaceConfirmation]


def job_sheet(session: Session, enterprise_id: int, job_id: int) -> JobSheet:
    """The job's sheet, if the job belongs to the enterprise. Raises NotFound."""
    job = job_of(session, enterprise_id, job_id)
    lines = [r for r in version_items(session, job.checklist_id, job.checklist_version) if r.enabled]
    return JobSheet(
        job=job,
        site=session.get(Site, job.site_id),
        lines=lines,
        confirmations={c.item_code: c for c in job.confirmations},
    )
