"""Shapes of the census API (CONTRACT.md): the import's query and upload, and its report."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from spectree.model_adapter.pydantic_adapter import BaseFile

from app.oversight.census.domain import CREATE, ERROR, UNCHANGED, UPDATE, RowPlan


class CensusImportQuery(BaseModel):
    dry_run: Literal["true", "false"] = Field(
        "true", description="true: only the report, nothing written; false: import (all rows or none)"
    )


class CensusUpload(BaseModel):
    file: BaseFile = Field(description="the census workbook (.xlsx, sheet 企业普查, at most 10 MB and 5 000 rows)")


class CensusRowOut(BaseModel):
    row: int = Field(description="the row number as Excel shows it (the header is row 1)")
    uscc: str
    name: str
    action: Literal["create", "update", "unchanged", "error"]
    errors: list[str] = Field(description="why the row cannot be imported (Chinese)")
    changes: list[str] = Field(description="what an update changes, one line per column (Chinese)")


class CensusReportOut(BaseModel):
    created: int
    updated: int
    unchanged: int
    errors: int = Field(description="rows with errors")
    applied: bool = Field(description="whether the import was written")
    rows: list[CensusRowOut]


class CensusRefusedOut(CensusReportOut):
    """A real import with error rows (422): the report, as problem+json; nothing written."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str


def report_body(rows: list[RowPlan], counts: dict[str, int], applied: bool) -> dict:
    """The report as the API answers it (rows in file order)."""
    return CensusReportOut(
        created=counts[CREATE],
        updated=counts[UPDATE],
        unchanged=counts[UNCHANGED],
        errors=counts[ERROR],
        applied=applied,
        rows=[
            CensusRowOut(row=r.row, uscc=r.uscc, name=r.name, action=r.action, errors=r.errors, changes=r.changes)
            for r in rows
        ],
    ).model_dump(mode="json")
