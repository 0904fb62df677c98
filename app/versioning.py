"""Optimistic concurrency, storage side: updates carry the version they read (If-Match ETag or a version
field; :mod:`app.deps` reads them from the request).

A stale If-Match answers 412, a stale version field 409; both carry the current state, so no update
is ever lost silently.
"""

from __future__ import annotations

from typing import Any

from app.errors import Conflict, PreconditionFailed


def etag(version: int) -> str:
    """The ETag of an object at ``version``."""
    return f'"{version}"'


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
