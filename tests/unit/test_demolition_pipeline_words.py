"""Refused pipeline moves are told in the words people read, in both languages (never status codes)."""

from __future__ import annotations

import pytest

from app.demolition.models import UnitStatus
from app.demolition.pipeline import check_move
from app.errors import DuoguiError


def test_a_skip_without_reason_and_a_move_to_the_same_status_name_the_statuses() -> None:
    with pytest.raises(DuoguiError) as skipped:
        check_move(UnitStatus.SURVEYED, UnitStatus.HANDED_OVER, None)
    assert skipped.value.message_zh == "从“调查”到“移交”属于跳过环节，须填写理由。"
    assert skipped.value.message_en == "“Surveyed” → “Handed over” is skipping steps; a reason is required."
    with pytest.raises(DuoguiError) as same:
        check_move(UnitStatus.VALUED, UnitStatus.VALUED, "x")
    assert same.value.message_en == "The unit is already at “Valued”."
    assert check_move(UnitStatus.SURVEYED, UnitStatus.VALUED, None).irregular is False
