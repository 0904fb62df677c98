"""Refused text in multipart form fields and upload file names, checked once for every route.

Multipart bodies (file uploads) stream through the edge middleware unread; FastAPI parses them before it
solves a route's dependencies, so this application-wide dependency sees the parsed form of any route that
takes one and refuses a text field or file name holding a control character with 422, naming the field.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.params import Form
from fastapi.routing import APIRoute
from starlette.datastructures import UploadFile

from app.edge.text import refused_character
from app.errors import Unprocessable


def _takes_form(route: object) -> bool:
    """Whether a route's body is a form (so FastAPI has parsed it before dependencies run).

    The route's body field gathers the form fields of its dependencies too (a shared upload form).
    """
    if not isinstance(route, APIRoute) or route.body_field is None:
        return False
    return isinstance(route.body_field.field_info, Form)


async def refuse_control_characters_in_forms(request: Request) -> None:
    """Refuse a form whose text fields or file names hold a control character (422 naming the field)."""
    if not _takes_form(request.scope.get("route")):
        return
    form = await request.form()  # already parsed by FastAPI: Starlette caches it on the request
    bad: list[str] = []
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            text, single_line = value.filename or "", True
        else:
            text, single_line = value, False
        if refused_character(name, single_line=True) or refused_character(text, single_line=single_line):
            bad.append(name)
    if bad:
        fields = "、".join(bad[:5])
        raise Unprocessable(
            f"输入内容无效：{fields} 含有不允许的控制字符（如 NUL）。",
            f"Invalid input: {', '.join(bad[:5])} holds a control character that is not allowed (e.g. NUL).",
            errors=[{"field": name, "type": "control_character"} for name in bad[:20]],
        )
