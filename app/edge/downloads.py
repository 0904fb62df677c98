"""Download headers shared by every route that sends a file: the RFC 6266 / 5987 Content-Disposition."""

from __future__ import annotations

import re
from urllib.parse import quote

_UNSAFE_ASCII = re.compile(r"[^A-Za-z0-9._ -]")


def content_disposition(file_name: str, fallback: str | None = None, *, kind: str = "attachment") -> str:
    """``attachment; filename="<ascii>"; filename*=UTF-8''<name>``: the real (Chinese) name for every
    current browser, and an ASCII name for the rest (``fallback``, else the name with other characters
    replaced by ``_``). Quotes, backslashes and control characters never reach the header."""
    ascii_name = fallback if fallback is not None else _UNSAFE_ASCII.sub("_", file_name)
    ascii_name = _UNSAFE_ASCII.sub("_", ascii_name) or "download"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(file_name, safe='')}"
