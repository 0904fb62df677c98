"""Text the service refuses at the edge: control characters, lone surrogates and non-characters.

PostgreSQL cannot store NUL in text, XML (and so XLSX) cannot hold most C0 control characters, and a lone
surrogate cannot be encoded as UTF-8; such text was accepted and then broke a query or an export with a
500. Tab, line feed and carriage return stay allowed in request bodies, where multi-line fields (notes,
comments, reasons) legitimately hold them; query strings, paths and form fields never need them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

# Refused in every text: C0 controls except tab, LF and CR; DEL; lone surrogates; U+FFFE and U+FFFF.
_REFUSED_IN_TEXT = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff"
REFUSED = re.compile(f"[{_REFUSED_IN_TEXT}]")
# Single-line values (query, path, form fields, file names) refuse tab, LF and CR too.
REFUSED_IN_LINE = re.compile(f"[\t\n\r{_REFUSED_IN_TEXT}]")

# A cheap pre-filter over a raw JSON body: anything that *may* decode to a refused character. Strict JSON
# cannot hold a raw control character inside a string, so only escapes (\b, \f, \u0000-\u001f, \u007f,
# surrogates, \ufffe, \uffff) and raw DEL, raw surrogates and raw U+FFFE/U+FFFF need a closer look.
_SUSPECT_JSON = re.compile(
    rb"\\[bf]|\\u00[0-1][0-9a-fA-F]|\\u007[fF]|\\u[dD][89a-fA-F]|\\u[fF]{3}[eEfF]"
    rb"|\x7f|\xed[\xa0-\xbf]|\xef\xbf[\xbe\xbf]"
)


def refused_character(value: str, *, single_line: bool = False) -> str | None:
    """The first refused character in ``value`` (as ``U+XXXX``), or None when the text is acceptable."""
    found = (REFUSED_IN_LINE if single_line else REFUSED).search(value)
    return f"U+{ord(found.group()):04X}" if found else None


def _walk(node: Any, path: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    """(field path, refused character) for every bad key or string in a decoded JSON document."""
    if isinstance(node, str):
        bad = refused_character(node)
        if bad:
            yield ".".join(path) or "body", bad
    elif isinstance(node, dict):
        for key, value in node.items():
            bad = refused_character(key)
            if bad:
                yield ".".join((*path, key)), bad
            yield from _walk(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, (*path, str(index)))


def refused_json_fields(body: bytes) -> list[tuple[str, str]]:
    """(field path, refused character) for every string of a JSON body holding a refused character.

    A body that is not JSON is left to the route's own validation (it answers 422 for it).
    """
    if not _SUSPECT_JSON.search(body):
        return []
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return []
    return list(_walk(document, ()))
