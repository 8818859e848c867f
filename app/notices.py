"""Every notification kind, registered with the outbox in one place (like app/models.py for
the mapped classes): the platform's dispatcher knows no feature, so the features' own
declarations are handed to it here. Importing this module registers them."""

from app.hazard_reporting.escalation import notices as escalation_notices
from app.hazard_reporting.hazards import notices as hazard_notices
from app.hazard_reporting.work_calendar import notices as calendar_notices
from app.notifications.kinds import KINDS, register
from app.oversight.bulletins import notices as bulletin_notices
from app.oversight.campaigns import notices as campaign_notices
from app.oversight.credit import notices as credit_notices
from app.tips import notices as tip_notices
from app.wechat_inbound import notices as callback_notices

register(*hazard_notices.KINDS, *escalation_notices.KINDS, *tip_notices.KINDS, *calendar_notices.KINDS)
register(*bulletin_notices.KINDS)
register(*credit_notices.KINDS)
register(*campaign_notices.KINDS)
register(*callback_notices.KINDS)

__all__ = ["KINDS"]
