"""The OpenAPI document declares the problem+json errors each operation can answer.

FastAPI declares only a 422 with its own validation schema. Every error of this service is an RFC 9457
problem document (app/errors.py), so the document gets one shared ``Problem`` schema and, on every
operation, the statuses it can answer: 422 and 503 everywhere (the edge refuses bad text in any query,
and any request may find the database busy), 401/403 where a permission is required, 404 where a path
names an object, 409 on changes, 412 with If-Match, 413 with a request body. Clients and the fuzzer
(tests/api/test_fuzz.py) read them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from app.auth.policy import PUBLIC
from app.edge.params import BIGINT_MAX
from app.errors import PROBLEM_JSON

PROBLEM_REF = "#/components/schemas/Problem"
PERMISSION_KEY = "x-duogui-permission"
CHANGING_METHODS = ("post", "put", "patch", "delete")

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 问题详情（中英双语） / RFC 9457 problem details, in Chinese and English.",
    "type": "object",
    "required": ["type", "title", "status", "code"],
    "properties": {
        "type": {"type": "string", "description": "urn:duogui:problem:<code>"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "code": {"type": "string", "description": "机器可读的错误代码 / machine-readable error code"},
        "message_zh": {"type": "string"},
        "message_en": {"type": "string"},
        "request_id": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "逐字段的错误 / the errors field by field",
            "items": {"type": "object", "additionalProperties": True},
        },
    },
    "additionalProperties": True,
}

DESCRIPTIONS: dict[str, str] = {
    "400": "请求格式错误 / Bad request",
    "401": "未登录或令牌无效 / Not signed in, or the token is invalid",
    "403": "无权执行此操作 / Not allowed",
    "404": "对象不存在或不可见 / Not found",
    "409": "与当前状态冲突 / Conflicts with the current state",
    "412": "版本已变（If-Match 不符） / The object changed (If-Match failed)",
    "413": "请求内容过大 / The request body is too large",
    "422": "输入内容无效（字段见 errors） / Invalid input (the fields are in errors)",
    "503": "服务繁忙或数据库不可用，稍后重试 / Busy or the database is unavailable; retry later",
}


def error_statuses(method: str, operation: dict[str, Any]) -> list[str]:
    """The error statuses one operation can answer, from what it declares."""
    statuses = ["422", "503"]
    if operation.get(PERMISSION_KEY, PUBLIC) != PUBLIC:
        statuses += ["401", "403"]
    parameters = operation.get("parameters", [])
    if any(p.get("in") == "path" for p in parameters):
        statuses.append("404")
    if method in CHANGING_METHODS:
        statuses.append("409")
    if any(p.get("in") == "header" and p.get("name", "").lower() == "if-match" for p in parameters):
        statuses.append("412")
    if "requestBody" in operation:
        statuses.append("413")
    return statuses


def declare_problems(document: dict[str, Any]) -> dict[str, Any]:
    """Add the ``Problem`` schema and each operation's problem+json responses to ``document``."""
    document.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    problem = {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}
    for item in document.get("paths", {}).values():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for status in error_statuses(method, operation):
                responses.setdefault(status, {"description": DESCRIPTIONS[status]})
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    response["content"] = problem
                    response.setdefault("description", DESCRIPTIONS.get(status, "Problem"))
    _exact_integer_bounds(document)
    # FastAPI's own validation error schemas are no longer referred to: leave them out.
    schemas = document["components"]["schemas"]
    if '"#/components/schemas/HTTPValidationError"' not in json.dumps(document.get("paths", {})):
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
    return document


def _exact_integer_bounds(node: Any) -> None:
    """Integer bounds as integers again: FastAPI's OpenAPI model types them as floats (2^63 - 1 → 2^63).

    Past 2^53 a float cannot hold the bound exactly; the only such bounds here are bigint's own.
    """
    if isinstance(node, list):
        for value in node:
            _exact_integer_bounds(value)
        return
    if not isinstance(node, dict):
        return
    if node.get("type") == "integer":
        for key in ("minimum", "maximum"):
            value = node.get(key)
            if isinstance(value, float) and value.is_integer():
                if abs(value) < 2**53:
                    node[key] = int(value)
                else:
                    node[key] = BIGINT_MAX if value > 0 else -BIGINT_MAX - 1
    for value in node.values():
        _exact_integer_bounds(value)


def install_problem_responses(app: FastAPI) -> None:
    """Make ``app.openapi()`` declare the problem+json responses (computed once, then cached)."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = declare_problems(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
