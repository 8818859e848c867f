"""What loading a bundled data library did (the standard checklists, the safety tips)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LoadResult:
    """What a library load did, by entry code."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)

    def report_lines(self) -> list[str]:
        """`created: A, B` for each outcome that has codes, in this order (the CLI prints them)."""
        outcomes = (
            ("created", self.created),
            ("updated", self.updated),
            ("unchanged", self.unchanged),
            ("retired", self.retired),
        )
        return [f"{label}: {', '.join(codes)}" for label, codes in outcomes if codes]
