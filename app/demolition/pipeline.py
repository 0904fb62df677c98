"""The unit status pipeline: which moves are regular, which need a reason, which are refused."""

from __future__ import annotations

from dataclasses import dataclass

from app.demolition.models import PIPELINE, STATUS_LABELS, UnitStatus
from app.errors import Conflict, DuoguiError, Unprocessable


@dataclass(frozen=True)
class Move:
    """A checked move: whether it skips steps or goes back (and so needed a reason)."""

    from_status: UnitStatus
    to_status: UnitStatus
    irregular: bool


def check_move(current: UnitStatus, target: UnitStatus, reason: str | None) -> Move:
    """Refuse a move to the same status, and a skip or a step back without a reason."""
    here, there = PIPELINE.index(current), PIPELINE.index(target)
    (zh_from, en_from), (zh_to, en_to) = STATUS_LABELS[current], STATUS_LABELS[target]
    if here == there:
        raise Conflict(
            f"征拆单元已处于“{zh_from}”状态。",
            f"The unit is already at “{en_from}”.",
            code="illegal_transition",
        )
    irregular = there != here + 1
    if irregular and not (reason and reason.strip()):
        kind_zh, kind_en = ("退回", "going back") if there < here else ("跳过环节", "skipping steps")
        raise Unprocessable(
            f"从“{zh_from}”到“{zh_to}”属于{kind_zh}，须填写理由。",
            f"“{en_from}” → “{en_to}” is {kind_en}; a reason is required.",
            code="reason_required",
        )
    return Move(current, target, irregular)


def problem_of(exc: DuoguiError) -> dict[str, str]:
    """A refused move as a line of a bulk report."""
    return {"code": exc.code, "message_zh": exc.message_zh, "message_en": exc.message_en}
