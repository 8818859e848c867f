"""The district's working calendar (工作日历): which days are working days, so that 班组日排查
is generated on them only; official data, the statutory rule, the bureau's overrides."""
