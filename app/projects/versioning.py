"""Optimistic concurrency: updates carry the version they read (If-Match ETag or a version field).

A stale If-Match answers 412, a stale version field 409; both carry the current state, so no update
is ever lost silently.
"""

from __future__ import annotations

from typing import Any

from app.errors import Conflict, PreconditionFailed, Unprocessable


def etag(version: int) -> str:
    """The ETag of an object at ``version``."""
    return f'"{version}"'


def _parse_if_match(value: str) -> int:
    text = value.strip()
    if text.startswith("W/"):
        text = text[2:]
    try:
        return int(text.strip('"'))
    except ValueError as exc:
        raise Unprocessable(
            f"If-Match 值“{value}”无效，应为读取时的 ETag。",
            f"If-Match '{value}' is not an ETag of this API.",
            code="bad_if_match",
        ) from exc


def expected_version(body_version: int | None, if_match: str | None) -> tuple[int, bool]:
    """The version the client read and whether it came from If-Match; 422 when neither is given."""
    if if_match is not None:
        return _parse_if_match(if_match), True
    if body_version is not None:
        return body_version, False
    raise Unprocessable(
        "缺少版本号：请在请求中提供 version 字段或 If-Match 头。",
        "A version is required: send the 'version' field or an If-Match header.",
        code="version_required",
    )


def check_version(current_version: int, expected: int, from_header: bool, current: dict[str, Any]) -> None:
    """Refuse a stale update with the current state (412 for If-Match, 409 for a version field)."""
    if current_version == expected:
        return
    zh = f"数据已被他人修改（当前版本 {current_version}，提交的版本 {expected}），请刷新后重试。"
    en = f"Stale update: the current version is {current_version}, you sent {expected}."
    headers = {"ETag": etag(current_version)}
    if from_header:
        raise PreconditionFailed(zh, en, headers=headers, current=current)
    raise Conflict(zh, en, headers=headers, code="stale_version", current=current)
