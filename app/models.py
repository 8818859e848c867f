"""Every mapped class, imported in one place so metadata is complete (Alembic, tests)."""

from app.accounts.models import (
    ApiToken,
    BureauMembership,
    MemberEvent,
    Membership,
    User,
    bureau_membership_towns,
)
from app.database import Base
from app.enterprises.models import Department, Enterprise, Post, PostHazardFactor, Site, Team, Town
from app.hazard_reporting.checklists.models import (
    Checklist,
    ChecklistItem,
    ChecklistVersion,
    ChecklistVersionBase,
)
from app.hazard_reporting.checks.models import CheckItemResult, CheckSubmission, CheckTask, PostSelfCheck
from app.hazard_reporting.confined_space.models import (
    ConfinedSpaceConfirmation,
    ConfinedSpaceJob,
    ConfinedSpaceJobEvent,
)
from app.hazard_reporting.hazards.models import (
    DeadlineExtension,
    Hazard,
    HazardEvent,
    HazardPhoto,
    MajorHazardPlan,
)
from app.hazard_reporting.risks.models import (
    RiskControl,
    RiskPoint,
    RiskRegister,
    RiskRegisterEvent,
    RiskSource,
)
from app.hazard_reporting.schedules.models import CheckSchedule, SiteRiskProfile
from app.hazard_reporting.work_calendar.models import CalendarEvent, CalendarOverride, CalendarYear
from app.notifications.models import NotificationPreference, OutboxMessage
from app.oversight.bulletins.models import Bulletin, BulletinEntry, BulletinEvent
from app.oversight.campaigns.models import (  # noqa: F401  (special campaigns, issue 14)
    Campaign,
    CampaignCheck,
    CampaignCheckItem,
    CampaignChecklist,
    CampaignEvent,
    CampaignHazard,
    CampaignTarget,
    CampaignTown,
)
from app.oversight.credit.models import CreditRecord
from app.oversight.enforcement.models import Inspection, InspectionEvent, InspectionProblem  # noqa: F401
from app.oversight.stats.models import (
    CheckMonthRollup,
    HazardMonthRollup,
    RollupRefresh,
    TownCheckMonthRollup,
    TownHazardMonthRollup,
)
from app.oversight.training.models import TrainingAttendance, TrainingEvent, TrainingSession  # noqa: F401
from app.tips.models import (
    Tip,
    TipBroadcast,
    TipBroadcastEvent,
    TipMassQuota,
    TipMassSend,
    TipReceipt,
    TipTagMember,
    TipTownTag,
)

__all__ = [
    "ApiToken",
    "Base",
    "Bulletin",
    "BulletinEntry",
    "BulletinEvent",
    "BureauMembership",
    "MemberEvent",
    "CalendarEvent",
    "CalendarOverride",
    "CalendarYear",
    "CheckItemResult",
    "CheckMonthRollup",
    "CheckSchedule",
    "CheckSubmission",
    "CheckTask",
    "PostSelfCheck",
    "Checklist",
    "ChecklistItem",
    "ChecklistVersion",
    "ChecklistVersionBase",
    "ConfinedSpaceConfirmation",
    "ConfinedSpaceJob",
    "ConfinedSpaceJobEvent",
    "CreditRecord",
    "DeadlineExtension",
    "Department",
    "Enterprise",
    "Hazard",
    "RiskControl",
    "RiskPoint",
    "RiskRegister",
    "RiskRegisterEvent",
    "RiskSource",
    "HazardEvent",
    "HazardMonthRollup",
    "HazardPhoto",
    "MajorHazardPlan",
    "Membership",
    "NotificationPreference",
    "OutboxMessage",
    "Post",
    "PostHazardFactor",
    "RollupRefresh",
    "Site",
    "SiteRiskProfile",
    "Team",
    "Tip",
    "TipBroadcast",
    "TipBroadcastEvent",
    "TipMassQuota",
    "TipMassSend",
    "TipReceipt",
    "TipTagMember",
    "TipTownTag",
    "Town",
    "TownCheckMonthRollup",
    "TownHazardMonthRollup",
    "User",
    "bureau_membership_towns",
]
