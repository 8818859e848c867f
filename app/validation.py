"""Turning pydantic validation errors into ValidationFailed with Chinese, per-field messages."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from app.errors import ValidationFailed

M = TypeVar("M", bound=BaseModel)

_MESSAGES = {
    "missing": "必填",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "int_from_float": "应为整数",
    "bool_parsing": "应为是/否",
    "bool_type": "应为是/否",
    "date_from_datetime_parsing": "应为日期（YYYY-MM-DD）",
    "date_parsing": "应为日期（YYYY-MM-DD）",
    "date_type": "应为日期（YYYY-MM-DD）",
    "string_type": "应为文字",
    "extra_forbidden": "不是可填写的字段",
}


def _message(err: dict[str, Any]) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    if kind in ("enum", "literal_error"):
        return f"取值无效，可选：{ctx.get('expected', '')}"
    if kind == "greater_than_equal":
        return f"不能小于 {ctx['ge']}"
    if kind == "less_than_equal":
        return f"不能大于 {ctx['le']}"
    if kind == "string_too_short":
        return "不能为空" if ctx.get("min_length") == 1 else f"至少 {ctx['min_length']} 个字符"
    if kind == "string_too_long":
        return f"不能超过 {ctx['max_length']} 个字符"
    return _MESSAGES.get(kind, err["msg"])


def parse(model: type[M], data: Any) -> M:
    """Validate `data` against `model`; raise ValidationFailed naming every bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields: dict[str, str] = {}
        labels: list[str] = []
        for err in exc.errors():
            name = ".".join(str(part) for part in err["loc"]) or "body"
            if name in fields:
                continue
            fields[name] = _message(err)
            info = model.model_fields.get(str(err["loc"][0])) if err["loc"] else None
            title = info.title if info is not None and info.title else name
            labels.append(f"{title}（{name}）：{fields[name]}")
        raise ValidationFailed("；".join(labels), fields=fields) from None
