"""ASGI middleware at the edge: refused text in paths, queries and bodies (422), body limits (413).

It runs before routing and authentication, so every route (and every route added later) is covered the
same way, and an oversized body is refused before it is read: by its Content-Length up front, or as soon as
the bytes streamed so far pass the limit (chunked bodies). Bodies other than file uploads are small by
nature (JSON, forms) and are read here, checked for refused text and handed on unchanged; multipart
uploads stream through, counted; their text fields are checked by :mod:`app.edge.forms`.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.edge.text import refused_character, refused_json_fields
from app.errors import PayloadTooLarge, problem_response

MEBIBYTE = 1024 * 1024


class StreamTooLarge(StarletteHTTPException):
    """Raised from ``receive`` once a streamed body passes its limit (FastAPI re-raises HTTP errors)."""

    def __init__(self, problem: PayloadTooLarge) -> None:
        super().__init__(status_code=413, detail=problem.message_en)
        self.problem = problem


def too_large(limit: int, *, upload: bool) -> PayloadTooLarge:
    """The 413 problem for a body over ``limit`` bytes."""
    mb = limit // MEBIBYTE
    if upload:
        return PayloadTooLarge(f"上传文件超过 {mb} MB 上限。", f"The upload exceeds the {mb} MB limit.")
    return PayloadTooLarge(f"请求内容超过 {mb} MB 上限。", f"The request body exceeds the {mb} MB limit.")


def refused_in_query(scope: Scope) -> list[tuple[str, str]]:
    """(field, character) for the path and every query parameter name or value holding refused text."""
    found: list[tuple[str, str]] = []
    bad = refused_character(scope["path"], single_line=True)
    if bad:
        found.append(("path", bad))
    query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True, encoding="utf-8", errors="replace"):
        bad = refused_character(name, single_line=True) or refused_character(value, single_line=True)
        if bad:
            found.append((f"query.{name}", bad))
    return found


def refused_in_body(content_type: str, body: bytes) -> list[tuple[str, str]]:
    """(field, character) for every text of a JSON or URL-encoded body holding refused text."""
    if content_type.startswith("application/x-www-form-urlencoded"):
        fields = parse_qsl(body.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="replace")
        return [(name, bad) for name, value in fields if (bad := refused_character(name + value))]
    return refused_json_fields(body)


class RequestEdge:
    """ASGI middleware: refuse bad text (422) and oversized bodies (413) before the application runs."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check one request, then pass it on (with its body replayed when it was read here)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        found = refused_in_query(scope)
        if found:
            await _refuse_text(scope, receive, send, found)
            return
        headers = Headers(scope=scope)
        content_type = headers.get("content-type", "").lower()
        upload = content_type.startswith("multipart/form-data")
        limit = self.max_upload_bytes if upload else self.max_body_bytes
        if _declared_length(headers) > limit:
            await _refuse(scope, receive, send, too_large(limit, upload=upload))
            return
        if upload:
            await self.app(scope, _counting(receive, limit), send)
            return
        if "content-length" not in headers and "transfer-encoding" not in headers:
            await self.app(scope, receive, send)  # no body (most GETs, every tile)
            return
        body = await _read_body(receive, limit)
        if body is None:
            await _refuse(scope, receive, send, too_large(limit, upload=False))
            return
        found = refused_in_body(content_type, body) if body else []
        if found:
            await _refuse_text(scope, receive, send, found)
            return
        await self.app(scope, _replay(body, receive), send)


def _declared_length(headers: Headers) -> int:
    try:
        return int(headers.get("content-length") or 0)
    except ValueError:
        return 0


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None as soon as it passes ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the body read here to the application, then defers to the server."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _counting(receive: Receive, limit: int) -> Receive:
    """A ``receive`` that raises 413 as soon as the streamed body passes ``limit`` bytes."""
    size = 0

    async def counted() -> Message:
        nonlocal size
        message = await receive()
        if message["type"] == "http.request":
            size += len(message.get("body", b""))
            if size > limit:
                raise StreamTooLarge(too_large(limit, upload=True))
        return message

    return counted


async def _refuse(scope: Scope, receive: Receive, send: Send, problem: PayloadTooLarge) -> None:
    request = Request(scope, receive)
    response = problem_response(request, problem.status, problem.code, problem.message_zh, problem.message_en)
    await response(scope, receive, send)


async def _refuse_text(scope: Scope, receive: Receive, send: Send, found: list[tuple[str, str]]) -> None:
    """422 naming the fields that hold refused characters."""
    fields = [field for field, _ in found[:5]]
    errors = [
        {"field": field, "message": f"control character {char} is not allowed", "type": "control_character"}
        for field, char in found[:20]
    ]
    response = problem_response(
        Request(scope, receive),
        422,
        "invalid_input",
        f"输入内容无效：{'、'.join(fields)} 含有不允许的控制字符（如 NUL）。",
        f"Invalid input: {', '.join(fields)} holds a control character that is not allowed (e.g. NUL).",
        errors=errors,
    )
    await response(scope, receive, send)
