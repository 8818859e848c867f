"""Pure rules and vocabularies of the enterprise file (一企一档). Standard library only."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from fractions import Fraction


class Industry(StrEnum):
    """The eight 工贸 industries (应急厅〔2019〕17号)."""

    METALLURGY = "metallurgy"
    NONFERROUS = "nonferrous"
    BUILDING_MATERIALS = "building_materials"
    MACHINERY = "machinery"
    LIGHT_INDUSTRY = "light_industry"
    TEXTILE = "textile"
    TOBACCO = "tobacco"
    COMMERCE = "commerce"


INDUSTRY_LABELS: dict[Industry, str] = {
    Industry.METALLURGY: "冶金",
    Industry.NONFERROUS: "有色",
    Industry.BUILDING_MATERIALS: "建材",
    Industry.MACHINERY: "机械",
    Industry.LIGHT_INDUSTRY: "轻工",
    Industry.TEXTILE: "纺织",
    Industry.TOBACCO: "烟草",
    Industry.COMMERCE: "商贸",
}


class Scale(StrEnum):
    ABOVE = "above"  # 规模以上
    BELOW = "below"  # 规模以下


SCALE_LABELS = {Scale.ABOVE: "规上", Scale.BELOW: "规下"}


class StandardizationLevel(StrEnum):
    NONE = "none"
    LEVEL1 = "level1"
    LEVEL2 = "level2"
    LEVEL3 = "level3"


STANDARDIZATION_LABELS = {
    StandardizationLevel.NONE: "未达标",
    StandardizationLevel.LEVEL1: "一级",
    StandardizationLevel.LEVEL2: "二级",
    StandardizationLevel.LEVEL3: "三级",
}

# A standardization certificate is valid for three years (docs/DOMAIN.md §1.7).
STANDARDIZATION_VALID_YEARS = 3
# The notice (§二(一)): by year end 70 % of 规上 enterprises run at level 3 or better; a town
# short of it loses 0.5 point of its annual assessment for every 10 percentage points short.
STANDARDIZATION_TARGET = Fraction(7, 10)
DEDUCTION_PER_STEP = Fraction(1, 2)
DEDUCTION_STEP = Fraction(1, 10)


def standardization_expires_on(certified_on: date) -> date:
    """The last day a certificate issued on `certified_on` is valid: the day before its
    third anniversary (a 29 February certificate runs to 28 February, three years on)."""
    year = certified_on.year + STANDARDIZATION_VALID_YEARS
    try:
        anniversary = certified_on.replace(year=year)
    except ValueError:  # 29 February in a common year
        anniversary = date(year, 3, 1)
    return anniversary - timedelta(days=1)


def standardization_valid_on(level: StandardizationLevel | str, certified_on: date | None, day: date) -> bool:
    """Whether an enterprise counts as standardized on `day`: a level (一/二/三级) certified
    on or before `day` whose three years have not run out. A level without a date does not
    count: nobody can tell whether it is still valid."""
    if level == StandardizationLevel.NONE or certified_on is None:
        return False
    return certified_on <= day <= standardization_expires_on(certified_on)


@dataclass(frozen=True)
class StandardizationScore:
    """A town's (or the district's) standing against the 70 % target on one day."""

    above_scale: int
    standardized: int

    @property
    def rate(self) -> Fraction | None:
        return Fraction(self.standardized, self.above_scale) if self.above_scale else None

    @property
    def shortfall(self) -> Fraction:
        """Percentage points (as a fraction of 1) below the target; 0 when met or no 规上 firm."""
        rate = self.rate
        return max(STANDARDIZATION_TARGET - rate, Fraction(0)) if rate is not None else Fraction(0)

    @property
    def deduction(self) -> Fraction:
        """Points deducted, read literally: 0.5 for every *full* 10 points short (65 % loses
        nothing, 59 % loses 0.5, 50 % loses 1.0, 0 % loses 3.5). Exact fractions, so 60.0 %
        is exactly 10 points short."""
        return DEDUCTION_PER_STEP * (self.shortfall // DEDUCTION_STEP)

    @property
    def meets_target(self) -> bool | None:
        rate = self.rate
        return None if rate is None else rate >= STANDARDIZATION_TARGET


class ThreeSimultaneous(StrEnum):
    """三同时: safety facilities designed, built and commissioned with the main works."""

    COMPLETE = "complete"
    IN_PROGRESS = "in_progress"
    MISSING = "missing"
    NOT_APPLICABLE = "not_applicable"


THREE_SIMULTANEOUS_LABELS = {
    ThreeSimultaneous.COMPLETE: "手续齐全",
    ThreeSimultaneous.IN_PROGRESS: "正在办理",
    ThreeSimultaneous.MISSING: "未办理",
    ThreeSimultaneous.NOT_APPLICABLE: "不涉及",
}


class CreditStatus(StrEnum):
    NORMAL = "normal"
    WATCHLIST = "watchlist"  # 重点关注
    SERIOUS_DISCREDIT = "serious_discredit"  # 严重失信主体名单 (应急管理部令第11号)


CREDIT_LABELS = {
    CreditStatus.NORMAL: "正常",
    CreditStatus.WATCHLIST: "重点关注",
    CreditStatus.SERIOUS_DISCREDIT: "严重失信",
}


class Topic(StrEnum):
    """Special-risk topic flags; each selects a topic checklist (docs/DOMAIN.md §8)."""

    DUST_EXPLOSION = "dust_explosion"
    CONFINED_SPACE = "confined_space"
    AMMONIA_REFRIGERATION = "ammonia_refrigeration"
    METALLURGICAL_GAS = "metallurgical_gas"
    MOLTEN_METAL = "molten_metal"


TOPIC_LABELS = {
    Topic.DUST_EXPLOSION: "粉尘涉爆",
    Topic.CONFINED_SPACE: "有限空间",
    Topic.AMMONIA_REFRIGERATION: "涉氨制冷",
    Topic.METALLURGICAL_GAS: "冶金煤气",
    Topic.MOLTEN_METAL: "熔融金属",
}

# The notice singles out dust workplaces with "30人以上"; in Chinese legal usage 以上
# includes the number itself (民法典 第1259条), so 30 workers already qualify.
DUST_KEY_HEADCOUNT = 30


def is_dust_key_enterprise(dust_explosion: bool, dust_worker_count: int) -> bool:
    """A dust enterprise with ≥ 30 workers in dust workplaces gets focused supervision."""
    return dust_explosion and dust_worker_count >= DUST_KEY_HEADCOUNT


def new_site_token() -> str:
    """An unguessable QR token (128 random bits, URL-safe, 22 characters)."""
    return secrets.token_urlsafe(16)


def site_scene(token: str) -> str:
    """The WeChat QR scene string of a site (QR_LIMIT_STR_SCENE, ≤ 64 chars)."""
    return f"site:{token}"


def site_entry_url(base_url: str, token: str) -> str:
    """Where the printed plain-URL QR of a site points: the H5 check entry."""
    return f"{base_url}/h5/scan/{token}"


# What a scanner reads when a QR token is unknown, and when its site was retired.
SITE_NOT_FOUND = "二维码无效或已停用，请联系企业安全管理员。"
SITE_RETIRED = "排查点位“{name}”已停用，此二维码不再使用，无需在此扫码排查。如有疑问请联系企业安全管理员。"


def site_retired_message(name: str) -> str:
    """What a scanner of a retired site's QR reads (the WeChat reply and the H5 page)."""
    return SITE_RETIRED.format(name=name)
