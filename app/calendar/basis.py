"""The part of an answer that says which provisional (暂定) years a calculation rests on."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from app.calendar.provisional import note
from app.calendar.workdays import WorkCalendar


class CalendarBasis(BaseModel):
    """Which provisional (暂定) years an answer rests on, and the warning to show with it."""

    provisional_years: list[int] = Field(
        default_factory=list,
        description="计算所用的暂定年份（仅含法定节假日，未含调休及补休）；空表示均为正式日历",
    )
    calendar_note_zh: str | None = Field(default=None, description="使用暂定日历时的提示")
    calendar_note_en: str | None = None

    @classmethod
    def of(cls, cal: WorkCalendar) -> dict[str, Any]:
        """The fields of an answer computed on ``cal``."""
        years = cal.provisional_years_used()
        warning = note(years)
        return {
            "provisional_years": years,
            "calendar_note_zh": warning[0] if warning else None,
            "calendar_note_en": warning[1] if warning else None,
        }
