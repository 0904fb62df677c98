"""The ``Allow`` header of a 405: every method the path answers, not only those of the first route found.

Starlette answers a wrong method with the methods of the first route whose path matched; a path served
by several routes (GET and POST on ``/api/projects``) would advertise only one of them. The table is built
once from the OpenAPI document, where an integer path parameter matches digits only (as its route does).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI

METHODS = ("get", "put", "post", "delete", "patch")
_PARAMETER = re.compile(r"\{([^}]+)\}")


def _pattern(path: str, operations: dict[str, Any]) -> re.Pattern[str]:
    """A regular expression matching the concrete paths of one OpenAPI path template."""
    integers = {
        p["name"]
        for op in operations.values()
        if isinstance(op, dict)
        for p in op.get("parameters", [])
        if p.get("in") == "path" and p.get("schema", {}).get("type") == "integer"
    }
    parts = _PARAMETER.split(path)
    regex = "".join(
        re.escape(part) if i % 2 == 0 else ("[0-9]+" if part in integers else "[^/]+")
        for i, part in enumerate(parts)
    )
    return re.compile(regex)


def method_table(document: dict[str, Any]) -> list[tuple[re.Pattern[str], frozenset[str]]]:
    """(path pattern, methods) for every path of an OpenAPI document."""
    return [
        (_pattern(path, item), frozenset(m.upper() for m in item if m in METHODS))
        for path, item in document.get("paths", {}).items()
    ]


def allowed_methods(app: FastAPI, path: str) -> str | None:
    """The ``Allow`` header value for ``path`` (None when no documented route serves it)."""
    table = getattr(app.state, "method_table", None)
    if table is None:
        table = app.state.method_table = method_table(app.openapi())
    methods: set[str] = set()
    for pattern, served in table:
        if pattern.fullmatch(path):
            methods |= served
    if not methods:
        return None
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))
