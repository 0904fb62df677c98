"""Body limits enforced as the body streams, 405 with Allow for wrong methods, problem+json in OpenAPI."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.auth.policy import Role
from app.edge.params import BIGINT_MAX
from app.main import create_app
from app.settings import Settings

CHUNK = 256 * 1024
MIB = 1024 * 1024
METHODS = ("get", "post", "put", "patch", "delete")


def asgi_call(
    app: FastAPI, path: str, headers: dict[str, str], chunks: list[bytes]
) -> tuple[int, dict[str, str], int]:
    """POST ``chunks`` straight to the ASGI app; (status, headers, how many chunks the app pulled)."""
    pulled = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        if pulled < len(chunks):
            pulled += 1
            return {"type": "http.request", "body": chunks[pulled - 1], "more_body": pulled < len(chunks)}
        await asyncio.sleep(3600)  # a client still sending: the app must not wait for it
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
        "state": {},
    }
    asyncio.run(asyncio.wait_for(app(scope, receive, send), 30))
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, pulled


@pytest.fixture(scope="module")
def small_limits(settings: Settings) -> FastAPI:
    """The app with a 1 MB body limit and a 2 MB upload limit (no lifespan: refusals need no database)."""
    return create_app(settings.model_copy(update={"max_body_mb": 1, "max_upload_mb": 2}))


def test_json_body_over_the_limit_is_refused_by_content_length_before_it_is_read(
    small_limits: FastAPI,
) -> None:
    headers = {"content-type": "application/json", "content-length": str(8 * CHUNK)}
    status, answer, pulled = asgi_call(small_limits, "/api/pre-evaluations", headers, [b" " * CHUNK] * 8)
    assert (status, pulled) == (413, 0)
    assert answer["content-type"] == "application/problem+json"


def test_chunked_json_body_is_refused_once_it_passes_the_limit(small_limits: FastAPI) -> None:
    headers = {"content-type": "application/json", "transfer-encoding": "chunked"}
    status, answer, pulled = asgi_call(small_limits, "/api/pre-evaluations", headers, [b" " * CHUNK] * 16)
    # 4 chunks are exactly 1 MB (allowed); the 5th passes the limit and nothing more is read.
    assert (status, pulled) == (413, 5)
    assert answer["content-type"] == "application/problem+json"


def test_upload_over_the_limit_is_refused_by_content_length_before_it_is_read(small_limits: FastAPI) -> None:
    headers = {"content-type": "multipart/form-data; boundary=b", "content-length": str(12 * CHUNK)}
    status, _, pulled = asgi_call(small_limits, "/api/pre-evaluations/upload", headers, [b"x" * CHUNK] * 12)
    assert (status, pulled) == (413, 0)


def test_streamed_upload_is_refused_as_soon_as_it_passes_the_limit(small_limits: FastAPI) -> None:
    head = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.geojson"\r\n\r\n'
    chunks = [head, *[b"x" * CHUNK] * 16]
    headers = {"content-type": "multipart/form-data; boundary=b", "transfer-encoding": "chunked"}
    status, answer, pulled = asgi_call(small_limits, "/api/pre-evaluations/upload", headers, chunks)
    # The head and 8 chunks are just over 2 MB: the 9th chunk pulled is the one that passes the limit.
    assert (status, pulled) == (413, 9)
    assert answer["content-type"] == "application/problem+json"


def test_json_body_limit_problem_names_the_limit(client: TestClient, make_account: Any) -> None:
    planner = make_account(Role.PLANNER, "pnr")
    body = b'{"project_type": "school", "footprint": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    r = client.post(
        "/api/pre-evaluations",
        content=body,
        headers={**planner.headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 413
    assert r.json()["code"] == "payload_too_large"
    assert "10 MB" in r.json()["message_zh"] and "10 MB" in r.json()["message_en"]


# --- 405 ------------------------------------------------------------------------------------------------


def _concrete(path: str, operations: dict[str, Any]) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_wrong_method_on_a_documented_path_is_405_with_allow(client: TestClient) -> None:
    doc = client.get("/api/openapi.json").json()
    checked = 0
    for path, item in doc["paths"].items():
        served = {m.upper() for m in item if m in METHODS}
        expected = ", ".join(sorted(served | ({"HEAD"} if "GET" in served else set())))
        for method in METHODS:
            if method.upper() in served:
                continue
            r = client.request(method, _concrete(path, item))
            assert (r.status_code, r.headers.get("allow")) == (405, expected), f"{method} {path}"
            assert r.headers["content-type"] == "application/problem+json"
            checked += 1
    assert checked > 300


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        # Once shadowed by GET /api/pre-evaluations/{report_id}: 422 "report_id is not an integer".
        ("GET", "/api/pre-evaluations/compare", "POST"),
        ("GET", "/api/pre-evaluations/batch", "POST"),
        ("GET", "/api/pre-evaluations/upload", "POST"),
        # Once answered by the web app mounted at "/": 404.
        ("GET", "/api/auth/token", "POST"),
        ("GET", "/api/demolition/blockers/7/actions", "POST"),
        # Two routes on one path: both methods are allowed.
        ("DELETE", "/api/projects", "GET, HEAD, POST"),
        ("PUT", "/api/demolition/units/7", "GET, HEAD, PATCH"),
    ],
)
def test_wrong_methods_known_answers(client: TestClient, method: str, path: str, allow: str) -> None:
    r = client.request(method, path)
    assert (r.status_code, r.headers.get("allow")) == (405, allow)


def test_unknown_api_paths_stay_404_and_the_web_app_is_served(client: TestClient) -> None:
    assert client.post("/api/no-such-thing").status_code == 404
    assert client.get("/ogc/no-such-thing").status_code == 404
    r = client.get("/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    r = client.post("/index.html")
    assert (r.status_code, r.headers.get("allow")) == (405, "GET, HEAD")


# --- OpenAPI --------------------------------------------------------------------------------------------


def _integer_schemas(
    node: Any, schemas: dict[str, Any], where: str, seen: frozenset[str] = frozenset()
) -> Any:
    """(where, schema) for every integer schema reachable from ``node``."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            name = ref.rsplit("/", 1)[-1]
            if name not in seen:
                yield from _integer_schemas(schemas[name], schemas, where, seen | {name})
            return
        kind = node.get("type")
        if kind == "integer" or (isinstance(kind, list) and "integer" in kind):
            yield where, node
        for key, value in node.items():
            if key in ("properties", "$defs"):
                for name, sub in value.items():
                    yield from _integer_schemas(sub, schemas, f"{where}.{name}", seen)
            elif key in ("items", "anyOf", "oneOf", "allOf", "additionalProperties"):
                yield from _integer_schemas(value, schemas, where, seen)
    elif isinstance(node, list):
        for value in node:
            yield from _integer_schemas(value, schemas, where, seen)


def test_every_integer_a_client_sends_is_bounded(client: TestClient) -> None:
    """Guard: an integer parameter or body field without bounds is how 99999999999999999999 made a 500."""
    doc = client.get("/api/openapi.json").json()
    schemas = doc["components"]["schemas"]
    unbounded = []
    count = 0
    for path, item in doc["paths"].items():
        for method, op in item.items():
            sources = [(f"{p['in']}:{p['name']}", p.get("schema", {})) for p in op.get("parameters", [])]
            for media, content in op.get("requestBody", {}).get("content", {}).items():
                sources.append((f"body({media})", content.get("schema", {})))
            for where, schema in sources:
                for field, integer in _integer_schemas(schema, schemas, where):
                    count += 1
                    low, high = integer.get("minimum"), integer.get("maximum")
                    if low is None or high is None or low < -BIGINT_MAX - 1 or high > BIGINT_MAX:
                        unbounded.append(f"{method.upper()} {path} {field}")
    assert count > 80
    assert unbounded == []


def test_openapi_declares_problem_responses_for_every_operation(client: TestClient) -> None:
    doc = client.get("/api/openapi.json").json()
    problem = doc["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "code"} <= set(problem["required"])
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            responses = op["responses"]
            expected = {"422", "503"}
            if op["x-duogui-permission"] != "public":
                expected |= {"401", "403"}
            if "{" in path:
                expected.add("404")
            if method in ("post", "put", "patch", "delete"):
                expected.add("409")
            if "requestBody" in op:
                expected.add("413")
            if any(p["name"].lower() == "if-match" for p in op.get("parameters", [])):
                expected.add("412")
            assert expected <= set(responses), f"{method} {path}: {sorted(responses)}"
            for status, response in responses.items():
                if status >= "400":
                    content = response["content"]
                    assert content == {
                        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                    }
    public = doc["paths"]["/api/health"]["get"]["responses"]
    assert "401" not in public
    assert "412" in doc["paths"]["/api/projects/{project_id}"]["patch"]["responses"]


def test_the_document_is_still_valid_openapi(client: TestClient) -> None:
    from openapi_spec_validator import validate

    validate(client.get("/api/openapi.json").json())


# --- refused text: every parameter and field, of every operation (new ones included) ---------------------


def _resolve(schema: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return doc["components"]["schemas"][ref.rsplit("/", 1)[-1]] if ref else schema


def _takes_text(schema: dict[str, Any], doc: dict[str, Any]) -> bool:
    schema = _resolve(schema, doc)
    options = [schema, *[_resolve(o, doc) for o in schema.get("anyOf", [])]]
    return any(o.get("type") == "string" and o.get("format") != "binary" for o in options)


def test_every_text_parameter_and_field_refuses_nul(client: TestClient, make_account: Any) -> None:
    """Guard: NUL in any query parameter, JSON field or form field of any operation is a 422 naming it."""
    admin = make_account(Role.SYSTEM_ADMIN, "gov-data")
    doc = client.get("/api/openapi.json").json()
    checked = Counter[str]()
    for path, item in doc["paths"].items():
        url = _concrete(path, item)
        for method, op in item.items():
            for p in op.get("parameters", []):
                if p["in"] == "query" and _takes_text(p.get("schema", {}), doc):
                    r = client.request(method, url, params={p["name"]: "a\x00b"}, headers=admin.headers)
                    assert f"query.{p['name']}" in _named(r), f"{method} {path} {p['name']}: {r.text}"
                    checked["query"] += 1
            for media, content in op.get("requestBody", {}).get("content", {}).items():
                for name, sub in _resolve(content.get("schema", {}), doc).get("properties", {}).items():
                    if not _takes_text(sub, doc):
                        continue
                    if media == "application/json":
                        r = client.request(method, url, json={name: "a\x00b"}, headers=admin.headers)
                    elif media == "application/x-www-form-urlencoded":
                        r = client.request(method, url, data={name: "a\x00b"}, headers=admin.headers)
                    else:
                        form = {name: (None, b"a\x00b")}
                        r = client.request(method, url, files=form, headers=admin.headers)
                    assert name in _named(r), f"{method} {path} {name}: {r.text}"
                    checked[media] += 1
    assert checked["query"] > 40 and checked["application/json"] > 40 and checked["multipart/form-data"] >= 10


def _named(r: Any) -> list[str]:
    assert r.status_code == 422, r.text
    return [e["field"] for e in r.json()["errors"]]


# --- configured limits per kind of upload -----------------------------------------------------------


def test_each_upload_route_enforces_its_kinds_configured_limit(
    settings: Settings, client: TestClient, make_account: Any
) -> None:
    coordinator = make_account(Role.COORDINATOR, "land-prep")
    unit = make_account(Role.PROJECT_UNIT, "works")
    tight = settings.model_copy(update={"max_sheet_upload_mb": 1, "max_footprint_upload_mb": 1})
    body = b"x" * (MIB + MIB // 2)
    with TestClient(create_app(tight)) as small:
        sheet = small.post(
            "/api/demolition/projects/1/units/import",
            files={"file": ("ledger.csv", body, "text/csv")},
            headers=coordinator.headers,
        )
        footprint = small.post(
            "/api/pre-evaluations/upload",
            data={"project_type": "school"},
            files={"file": ("site.geojson", body, "application/geo+json")},
            headers=unit.headers,
        )
        # A sheet under the limit passes the size check and is answered on its merits (no such project).
        small_sheet = small.post(
            "/api/demolition/projects/999999999/units/import",
            files={"file": ("ledger.csv", "单元编号\n".encode(), "text/csv")},
            headers=coordinator.headers,
        )
    for answer in (sheet, footprint):
        assert answer.status_code == 413, answer.text
        assert answer.json()["message_en"] == "The upload exceeds the 1 MB limit."
        assert answer.json()["message_zh"] == "上传文件超过 1 MB 上限。"
    assert small_sheet.status_code == 404
