"""Input shapes of the enterprise file, validated with pydantic (Chinese messages)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator
from stdnum.cn import uscc as uscc_std
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength

from app.enterprises.domain import (
    CreditStatus,
    Industry,
    Scale,
    StandardizationLevel,
    ThreeSimultaneous,
)


def validate_uscc(value: str) -> str:
    """Normalise and check a unified social credit code (GB 32100-2015), check digit included.

    Raises ValueError with a Chinese message saying what is wrong.
    """
    compact = uscc_std.compact(value or "")
    try:
        return uscc_std.validate(compact)
    except InvalidLength:
        raise ValueError("应为18位") from None
    except InvalidChecksum:
        raise ValueError("校验位错误，请核对营业执照上的代码") from None
    except (InvalidFormat, InvalidComponent):
        raise ValueError("格式不正确（18位数字或大写字母，不含 I、O、Z、S、V）") from None


def uscc_check_digit(first17: str) -> str:
    """The 18th character that makes `first17` a valid code (used to build test/demo codes)."""
    return uscc_std.calc_check_digit(first17)


Name = Annotated[str, Field(min_length=1, max_length=128)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class EnterpriseIn(_Input):
    uscc: str = Field(title="统一社会信用代码")
    name: Name = Field(title="企业名称")
    address: str = Field(title="地址", min_length=1, max_length=256)
    town_id: int = Field(title="所属镇街")
    industry: Industry = Field(title="行业类别")
    scale: Scale = Field(title="规模")
    employee_count: int = Field(0, title="从业人数", ge=0, le=1_000_000)
    main_processes: str = Field("", title="主要工艺", max_length=2000)
    principal_name: str = Field("", title="主要负责人", max_length=64)
    principal_phone: str = Field("", title="负责人电话", max_length=32)
    standardization_level: StandardizationLevel = Field(
        StandardizationLevel.NONE, title="标准化等级"
    )
    standardization_date: date | None = Field(None, title="标准化达标日期")
    dust_explosion: bool = Field(False, title="粉尘涉爆")
    confined_space: bool = Field(False, title="有限空间")
    ammonia_refrigeration: bool = Field(False, title="涉氨制冷")
    metallurgical_gas: bool = Field(False, title="冶金煤气")
    molten_metal: bool = Field(False, title="熔融金属")
    dust_worker_count: int = Field(0, title="粉尘作业人数", ge=0, le=1_000_000)
    three_simultaneous: ThreeSimultaneous = Field(ThreeSimultaneous.NOT_APPLICABLE, title="三同时")
    credit_status: CreditStatus = Field(CreditStatus.NORMAL, title="信用状态")

    @field_validator("uscc", mode="before")
    @classmethod
    def _uscc(cls, value: object) -> str | None:
        if value is None and cls is not EnterpriseIn:
            return None
        if not isinstance(value, str):
            raise ValueError("应为18位代码")
        return validate_uscc(value)


class EnterpriseUpdate(EnterpriseIn):
    """All fields optional; only those given change."""

    uscc: str | None = Field(None, title="统一社会信用代码")  # type: ignore[assignment]
    name: Name | None = Field(None, title="企业名称")  # type: ignore[assignment]
    address: str | None = Field(None, title="地址", min_length=1, max_length=256)  # type: ignore[assignment]
    town_id: int | None = Field(None, title="所属镇街")  # type: ignore[assignment]
    industry: Industry | None = Field(None, title="行业类别")  # type: ignore[assignment]
    scale: Scale | None = Field(None, title="规模")  # type: ignore[assignment]


class DepartmentIn(_Input):
    name: str = Field(title="部门名称", min_length=1, max_length=64)


class TeamIn(_Input):
    name: str = Field(title="班组名称", min_length=1, max_length=64)


class PostIn(_Input):
    name: str = Field(title="岗位名称", min_length=1, max_length=64)
    department_id: int | None = Field(None, title="所属部门")
    risks: str = Field(title="主要风险", min_length=1, max_length=4000)
    precautions: str = Field(title="防范措施", min_length=1, max_length=4000)
    emergency_measures: str = Field(title="应急措施", min_length=1, max_length=4000)


class SiteIn(_Input):
    name: str = Field(title="点位名称", min_length=1, max_length=64)
    area: str = Field("", title="区域", max_length=128)
    department_id: int | None = Field(None, title="所属部门")
