"""Every mapped class, imported in one place so metadata is complete (Alembic, tests)."""

from app.accounts.models import ApiToken, BureauMembership, Membership, User, bureau_membership_towns
from app.database import Base
from app.enterprises.models import Department, Enterprise, Post, Site, Team, Town

__all__ = [
    "ApiToken",
    "Base",
    "BureauMembership",
    "Department",
    "Enterprise",
    "Membership",
    "Post",
    "Site",
    "Team",
    "Town",
    "User",
    "bureau_membership_towns",
]
