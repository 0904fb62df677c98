"""One error hierarchy, rendered as RFC 9457 ``application/problem+json`` in Chinese or English.

Every class carries its HTTP status and a safe bilingual message. Handlers are registered in one
place (:func:`install_error_handlers`); nothing below 500 is logged with a traceback and no traceback
ever reaches a client.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from psycopg_pool import PoolTimeout
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.edge.routing import allowed_methods
from layers.ingest.errors import IngestError

log = logging.getLogger("duogui.errors")

PROBLEM_JSON = "application/problem+json"


class DuoguiError(Exception):
    """Base of all errors a client may see."""

    status: int = 500
    code: str = "internal_error"
    message_zh: str = "服务器内部错误，请稍后重试或联系管理员。"
    message_en: str = "Internal server error; try again later or contact the administrator."

    def __init__(
        self,
        message_zh: str | None = None,
        message_en: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        code: str | None = None,
        **extra: Any,
    ) -> None:
        self.code = code or self.code
        self.message_zh = message_zh or self.message_zh
        self.message_en = message_en or self.message_en
        self.headers = headers or {}
        self.extra = extra
        super().__init__(self.message_en)


class BadRequest(DuoguiError):
    """The request is malformed."""

    status, code = 400, "bad_request"
    message_zh, message_en = "请求格式错误。", "The request is malformed."


class Unauthenticated(DuoguiError):
    """No valid credentials were presented."""

    status, code = 401, "unauthenticated"
    message_zh, message_en = "请先登录。", "Authentication required."

    def __init__(
        self, message_zh: str | None = None, message_en: str | None = None, *, code: str | None = None
    ) -> None:
        super().__init__(message_zh, message_en, headers={"WWW-Authenticate": "Bearer"}, code=code)


class Forbidden(DuoguiError):
    """The caller is known but may not do this."""

    status, code = 403, "forbidden"
    message_zh, message_en = "无权执行此操作。", "You are not allowed to do this."


class NotFound(DuoguiError):
    """The object does not exist (or is not visible to the caller)."""

    status, code = 404, "not_found"
    message_zh, message_en = "对象不存在。", "Not found."


class Conflict(DuoguiError):
    """The change conflicts with the current state."""

    status, code = 409, "conflict"
    message_zh, message_en = "与当前状态冲突。", "The request conflicts with the current state."


class PreconditionFailed(DuoguiError):
    """A version precondition (If-Match) did not hold."""

    status, code = 412, "precondition_failed"
    message_zh, message_en = "数据已被他人修改，请刷新后重试。", "The object changed since you read it."


class PayloadTooLarge(DuoguiError):
    """The request body exceeds a limit."""

    status, code = 413, "payload_too_large"
    message_zh, message_en = "上传内容过大。", "The request body is too large."


class Unprocessable(DuoguiError):
    """The request is well-formed but its content is invalid."""

    status, code = 422, "invalid_input"
    message_zh, message_en = "输入内容无效。", "The input is invalid."


class ServiceBusy(DuoguiError):
    """Every place of a bounded resource is taken and none came free in time: come back shortly."""

    status, code = 503, "service_busy"
    message_zh, message_en = "服务繁忙，请稍后重试。", "The service is busy; try again shortly."

    @classmethod
    def for_gate(cls, gate: str) -> ServiceBusy:
        """The refusal of one admission gate (``database`` or ``heavy``), with a Retry-After."""
        if gate == "database":
            return cls(
                "数据库连接已满，请稍后重试。",
                "All database connections are busy; try again shortly.",
                code="database_busy",
                headers={"Retry-After": "2"},
            )
        return cls(
            "同类耗时请求过多，请稍后重试。",
            "Too many requests of this costly kind are running; try again shortly.",
            code="busy",
            headers={"Retry-After": "5"},
        )


class Locked(DuoguiError):
    """The account is temporarily locked."""

    status, code = 423, "account_locked"
    message_zh, message_en = "账户已被临时锁定。", "The account is temporarily locked."


class ServiceUnavailable(DuoguiError):
    """A dependency (usually the database) cannot serve now."""

    status, code = 503, "service_unavailable"
    message_zh, message_en = "服务繁忙，请稍后重试。", "The service is busy; try again shortly."


def prefers_english(request: Request) -> bool:
    """Whether the client asked for English first (Chinese is the default)."""
    header = request.headers.get("accept-language", "")
    best, best_q = "zh", 0.0
    for part in header.split(","):
        fields = part.strip().split(";")
        lang = fields[0].strip().lower()
        q = 1.0
        for f in fields[1:]:
            if f.strip().startswith("q="):
                try:
                    q = float(f.strip()[2:])
                except ValueError:
                    q = 0.0
        if lang and q > best_q:
            best, best_q = lang, q
    return best.startswith("en")


def problem_response(
    request: Request,
    status: int,
    code: str,
    message_zh: str,
    message_en: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """Render one problem document."""
    english = prefers_english(request)
    body: dict[str, Any] = {
        "type": f"urn:duogui:problem:{code}",
        "title": message_en if english else message_zh,
        "status": status,
        "detail": message_en if english else message_zh,
        "instance": request.url.path,
        "code": code,
        "message_zh": message_zh,
        "message_en": message_en,
    }
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    body.update(extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(p) for p in loc if p not in ("body",)) or "body"


def install_error_handlers(app: FastAPI) -> None:
    """Register every handler; the single place where errors become responses."""

    @app.exception_handler(DuoguiError)
    async def _duogui(request: Request, exc: DuoguiError) -> JSONResponse:
        if isinstance(exc, ServiceBusy):  # load, not a fault: no traceback
            log.warning("%s on %s", exc.code, request.url.path)
        elif exc.status >= 500:
            log.error("%s on %s", exc.code, request.url.path, exc_info=exc)
        else:
            log.info("%s %s on %s", exc.status, exc.code, request.url.path)
        return problem_response(
            request, exc.status, exc.code, exc.message_zh, exc.message_en, headers=exc.headers, **exc.extra
        )

    @app.exception_handler(IngestError)
    async def _ingest(request: Request, exc: IngestError) -> JSONResponse:
        log.info("%s %s on %s", exc.status, exc.code, request.url.path)
        extra: dict[str, Any] = {"details": exc.details} if exc.details else {}
        return problem_response(request, exc.status, exc.code, exc.message_zh, exc.message_en, **extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": _field_path(e.get("loc", ())), "message": str(e.get("msg", "")), "type": e.get("type")}
            for e in exc.errors()
        ]
        fields = "、".join(e["field"] for e in errors[:5])
        return problem_response(
            request,
            422,
            "invalid_input",
            f"输入内容无效：{fields}。",
            f"Invalid input: {', '.join(e['field'] for e in errors[:5])}.",
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        problem = getattr(exc, "problem", None)  # raised mid-stream by the edge (app/edge/middleware.py)
        if isinstance(problem, DuoguiError):
            return await _duogui(request, problem)
        zh, en = _HTTP_MESSAGES.get(exc.status_code, (str(exc.detail), str(exc.detail)))
        if exc.status_code == 400:  # a body the framework could not parse (e.g. JSON nested too deep)
            zh, en = _HTTP_MESSAGES[400][0], f"{_HTTP_MESSAGES[400][1]} ({exc.detail})"
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            allow = allowed_methods(request.app, request.url.path)
            headers = {**(headers or {}), "Allow": allow} if allow else headers
        return problem_response(request, exc.status_code, f"http_{exc.status_code}", zh, en, headers=headers)

    @app.exception_handler(PoolTimeout)
    async def _pool_timeout(request: Request, exc: PoolTimeout) -> JSONResponse:
        if not await run_in_threadpool(_database_answers, request.app.state.settings.app_dsn):
            # Not a busy pool: the database itself cannot be reached.
            log.error("database unreachable on %s", request.url.path)
            return problem_response(
                request,
                503,
                "database_unavailable",
                "数据库暂不可用，请稍后重试。",
                "The database is unavailable; try again shortly.",
                headers={"Retry-After": "5"},
            )
        log.warning("connection pool exhausted on %s", request.url.path)
        return problem_response(
            request,
            503,
            "database_busy",
            "数据库连接已满，请稍后重试。",
            "All database connections are busy; try again shortly.",
            headers={"Retry-After": "2"},
        )

    @app.exception_handler(psycopg.errors.QueryCanceled)
    async def _query_cancelled(request: Request, exc: psycopg.errors.QueryCanceled) -> JSONResponse:
        log.warning("statement timeout on %s", request.url.path)
        return problem_response(
            request,
            503,
            "statement_timeout",
            "查询超时，请缩小范围后重试。",
            "The query took too long; narrow it and try again.",
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(psycopg.errors.DeadlockDetected)
    @app.exception_handler(psycopg.errors.SerializationFailure)
    async def _collided(request: Request, exc: psycopg.OperationalError) -> JSONResponse:
        # PostgreSQL aborted the transaction for another one's sake: nothing was written, and the database is
        # up (not the 503 of an OperationalError). Steps lock in one order so this should not happen.
        log.warning("transaction aborted (%s) on %s", type(exc).__name__, request.url.path)
        return problem_response(
            request,
            409,
            "concurrent_update",
            "操作与其他同时进行的操作冲突，未完成（未写入任何内容），请刷新后重试。",
            "The change collided with another one made at the same time and was not made; reload and retry.",
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(psycopg.OperationalError)
    async def _db_down(request: Request, exc: psycopg.OperationalError) -> JSONResponse:
        log.error("database unavailable on %s: %s", request.url.path, exc)
        return problem_response(
            request,
            503,
            "database_unavailable",
            "数据库暂不可用，请稍后重试。",
            "The database is unavailable; try again shortly.",
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return problem_response(
            request, 500, DuoguiError.code, DuoguiError.message_zh, DuoguiError.message_en
        )


_PROBE_TTL_S = 1.0
_last_probe: tuple[float, bool] = (float("-inf"), True)


async def handled_response(request: Request, exc: Exception) -> Response:
    """The response the application's exception handler gives for ``exc`` (for ASGI middleware that
    answers before routing, exactly as a route would); re-raise when it has none."""
    handlers = request.app.exception_handlers
    for cls in type(exc).__mro__:
        handler = handlers.get(cls)
        if handler is not None:
            response: Response = await handler(request, exc)
            return response
    raise exc


def _database_answers(dsn: str) -> bool:
    """Probe the database directly (only on the error path; one probe a second at most, so a burst of
    timeouts does not become a burst of new connections to a server that is already struggling)."""
    global _last_probe
    at, answered = _last_probe
    if time.monotonic() - at < _PROBE_TTL_S:
        return answered
    try:
        with psycopg.connect(dsn, connect_timeout=2):
            answered = True
    except psycopg.Error:
        answered = False
    _last_probe = (time.monotonic(), answered)
    return answered


_HTTP_MESSAGES: dict[int, tuple[str, str]] = {
    400: ("请求内容无法解析（格式错误或嵌套过深）。", "The request body could not be parsed."),
    404: ("请求的资源不存在。", "Not found."),
    405: ("不支持该请求方法。", "Method not allowed."),
    406: ("无法提供所请求的格式。", "Not acceptable."),
    413: ("上传内容过大。", "The request body is too large."),
    415: ("不支持的内容类型。", "Unsupported media type."),
}
