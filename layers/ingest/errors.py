"""The error of a refused layer file: bilingual user message, machine code and HTTP status."""

from __future__ import annotations

from typing import Any


class IngestError(Exception):
    """A layer file was refused; the messages are safe to show to the user (Chinese first)."""

    def __init__(
        self,
        message_zh: str,
        message_en: str,
        *,
        code: str = "invalid_file",
        status: int = 422,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message_zh, message_en)
        self.message_zh = message_zh
        self.message_en = message_en
        self.code = code
        self.status = status
        self.details: list[dict[str, Any]] = list(details) if details else []

    def __str__(self) -> str:
        return f"[{self.code}] {self.message_zh} / {self.message_en}"

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep code, status and details when the error crosses a process boundary (worker pools).
        return (_rebuild, (self.message_zh, self.message_en, self.code, self.status, self.details))


def _rebuild(
    message_zh: str, message_en: str, code: str, status: int, details: list[dict[str, Any]]
) -> IngestError:
    return IngestError(message_zh, message_en, code=code, status=status, details=details)
