"""The error of a refused layer file: bilingual user message, machine code and HTTP status."""

from __future__ import annotations

import re
from typing import Any

# C0/C1 control characters but tab and newline: they have no place in a message and break some clients.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def safe_text(text: str) -> str:
    """Text fit for a JSON message: undecodable bytes (lone surrogates, as Python's ``surrogateescape``
    leaves them in a library's error text) become U+FFFD, control characters are dropped."""
    return _CONTROL.sub("", _SURROGATE.sub("\ufffd", text))


def _safe(value: Any) -> Any:
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, dict):
        return {safe_text(str(k)): _safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_safe(v) for v in value]
    return value


class IngestError(Exception):
    """A layer file was refused; the messages are safe to show to the user (Chinese first).

    Messages and details often quote the file or a library's error about it: they are made valid UTF-8
    text here, so that rendering the refusal can never fail on a stray byte of the file.
    """

    def __init__(
        self,
        message_zh: str,
        message_en: str,
        *,
        code: str = "invalid_file",
        status: int = 422,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        message_zh, message_en = safe_text(message_zh), safe_text(message_en)
        super().__init__(message_zh, message_en)
        self.message_zh = message_zh
        self.message_en = message_en
        self.code = code
        self.status = status
        self.details: list[dict[str, Any]] = [_safe(d) for d in details] if details else []

    def __str__(self) -> str:
        return f"[{self.code}] {self.message_zh} / {self.message_en}"

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep code, status and details when the error crosses a process boundary (worker pools).
        return (_rebuild, (self.message_zh, self.message_en, self.code, self.status, self.details))


def _rebuild(
    message_zh: str, message_en: str, code: str, status: int, details: list[dict[str, Any]]
) -> IngestError:
    return IngestError(message_zh, message_en, code=code, status=status, details=details)
