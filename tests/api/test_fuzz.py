"""Schemathesis over every operation, as an administrator and as a project unit: no request makes a 500.

In process (ASGI), against a database of its own holding the small hand-made world of
tests/preeval_world.py plus one object of each kind (project, approval item, demolition unit, blocker,
demand, pre-evaluation), so that generated requests name objects that exist and reach the services instead
of stopping at 404. Two passes, both derandomised with a fixed number of examples, so a run is repeatable
and bounded (a few thousand requests):

1. generated requests: valid ones (with the known ids as path parameters) and invalid ones (random), with
   hostile values mixed into strings and integers (schemathesis dictionaries);
2. a sweep: one valid request per operation, then each of its query, path and top-level body fields in
   turn replaced by a hostile string (NUL) or integer (2^63).

The gate is 0 responses ≥ 500; the summary line prints requests, operations, time and statuses (-s).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode
from schemathesis.python import asgi

from app.auth import users
from app.auth.policy import Role
from app.main import create_app
from app.settings import Settings
from layers.audit import Actor
from tests.api.test_demands import NEED
from tests.preeval_world import CANDIDATES, geojson

# Examples per operation and role.
POSITIVE_EXAMPLES = 10
NEGATIVE_EXAMPLES = 4
HOSTILE_TEXT = "a\x00b"
HOSTILE_INTEGER = 2**63
# Values known to break services, mixed into generated strings and integers: control characters that
# PostgreSQL or XLSX cannot hold, integers just past PostgreSQL's integer and bigint.
HOSTILE = {
    "dictionaries": {
        "hostile-text": {"values": ["\x00", HOSTILE_TEXT, "\x1b[31m", "\x7f", "\x0b", "\ufffe", "%00"]},
        "hostile-integer": {"values": [2**31, HOSTILE_INTEGER, 99999999999999999999, -(2**63) - 1, -1, 0]},
    },
    "generation": {
        "dictionaries": {
            "string": {"dictionary": "hostile-text", "probability": 0.25},
            "integer": {"dictionary": "hostile-integer", "probability": 0.25},
        }
    },
}
# Operations that would end the fuzzing session itself: signing out revokes the token, and changing one's
# own password rotates it. Nothing else is left out; changes aimed at the fuzzing accounts themselves
# (disabling them, resetting their password, changing their role) are skipped case by case below.
SESSION_ENDING = {("POST", "/api/auth/logout"), ("POST", "/api/auth/password")}
ACCOUNT_CHANGING = {("PATCH", "/api/users/{user_id}"), ("POST", "/api/users/{user_id}/reset-password")}
Record = Callable[[int, str], None]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A database of its own holding the hand-made world (the fuzzer writes to it freely)."""
    from tests.preeval_world import build_world

    worlds = build_world(tmp_path_factory.mktemp("fuzz-world"))
    env = next(worlds)
    try:
        yield env.settings
    finally:
        worlds.close()


def _account(world: Settings, client: Any, role: Role, org_code: str) -> tuple[int, dict[str, str]]:
    """(user id, authorization header) of a new account signed in through the API."""
    name, password = f"fuzz-{role.value.replace('_', '')}", "Passw0rd-fuzz"
    with psycopg.connect(world.owner_dsn, autocommit=True) as conn:
        user, _ = users.create_user(
            conn,
            Actor.system("tests"),
            users.UserCreate(username=name, role=role, org_code=org_code, password=password),
        )
    r = client.post(f"http://{asgi.HOST}/api/auth/token", data={"username": name, "password": password})
    assert r.status_code == 200, r.text
    return user.id, {"Authorization": f"Bearer {r.json()['access_token']}"}


def _create(client: Any, headers: dict[str, str], path: str, body: dict[str, Any]) -> Any:
    r = client.post(f"http://{asgi.HOST}{path}", json=body, headers=headers)
    assert r.status_code in (200, 201), f"{path}: {r.status_code} {r.text}"
    return r.json()


def _known_ids(client: Any, world: Settings, admin: dict[str, str], unit: dict[str, str]) -> dict[str, Any]:
    """One object of each kind, created through the API; path parameter name → a value that exists."""
    _, coordinator = _account(world, client, Role.COORDINATOR, "land-prep")
    viewer_id, _ = _account(world, client, Role.VIEWER, "pnr")
    project = _create(
        client,
        admin,
        "/api/projects",
        {
            "name": "模糊测试学校",
            "project_type": "house_building",
            "investment_wan": "8000",
            "funding_source": "区财政",
            "planned_start": "2026-03-02",
            "owner_dept_code": "education",
            "unit_org_code": "works",
        },
    )
    items = _create(client, admin, f"/api/projects/{project['id']}/plan", {})
    demolition = _create(
        client,
        coordinator,
        f"/api/demolition/projects/{project['id']}/units",
        {"unit_code": "FZ-1", "floor_area_m2": "100", "households": 1},
    )
    blocker = _create(
        client,
        coordinator,
        f"/api/demolition/projects/{project['id']}/blockers",
        {"unit_id": demolition["id"], "category": "utility", "title": "管线", "department_code": "water"}
        | {"deadline": "2026-03-10"},
    )
    demand = _create(client, unit, "/api/demands", NEED)
    footprint = {
        "footprint": geojson(CANDIDATES["乙"]),
        "project_type": "school",
        "project_code": project["code"],
    }
    report = _create(client, unit, "/api/pre-evaluations", footprint)
    return {
        "project_id": project["id"],
        "item_id": items[0]["id"],
        "unit_id": demolition["id"],
        "blocker_id": blocker["id"],
        "demand_id": demand["id"],
        "report_id": report["id"],
        "pre_evaluation_id": report["id"],
        "user_id": viewer_id,
        "org_id": 1,
        "code": "forest_land",
        "codes": "forest_land",
        "number": 1,
        "year": 2026,
        "feature_id": "1",
    }


def _curl(case: Any) -> str:
    """The request as a curl command (bearer token filtered out), for the failure message."""
    try:
        return str(case.as_curl_command())
    except Exception:
        return f"{case.method} {case.formatted_path}"


def _send(case: Any, headers: dict[str, str], record: Record) -> None:
    """Send one case and record its status (an exception the server re-raised is its 500)."""
    try:
        status = case.call(headers=headers).status_code
    except Exception as exc:
        record(500, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]} — {_curl(case)}")
        return
    record(status, _curl(case))


def _examples(strategy: Any, count: int, body: Callable[[Any], None]) -> None:
    """Run ``body`` on ``count`` derandomised draws of ``strategy`` (no shrinking, no example database)."""

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        body(data.draw(strategy))

    try:
        run()
    except Unsatisfiable:
        pass  # nothing of this operation can be made invalid (no parameters, no body)


def _hostile_fields(document: dict[str, Any], method: str, path: str) -> list[tuple[str, str, Any]]:
    """(location, name, hostile value) for each query, path and top-level body field of an operation."""
    operation = document["paths"][path][method.lower()]
    fields = []
    for parameter in operation.get("parameters", []):
        if parameter["in"] in ("query", "path"):
            kind = _kind(parameter.get("schema", {}), document)
            if kind:
                fields.append((parameter["in"], parameter["name"], kind))
    for content in operation.get("requestBody", {}).get("content", {}).values():
        schema = _resolve(content.get("schema", {}), document)
        for name, sub in schema.get("properties", {}).items():
            kind = _kind(sub, document)
            if kind:
                fields.append(("body", name, kind))
    return [
        (where, name, HOSTILE_TEXT if kind == "string" else HOSTILE_INTEGER) for where, name, kind in fields
    ]


def _resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return document["components"]["schemas"][ref.rsplit("/", 1)[-1]] if ref else schema


def _kind(schema: dict[str, Any], document: dict[str, Any]) -> str | None:
    """ "string" or "integer" when a field takes one (directly or as an option), else None."""
    schema = _resolve(schema, document)
    options = [schema, *[_resolve(o, document) for o in schema.get("anyOf", [])]]
    kinds = {o.get("type") for o in options}
    if "string" in kinds and not any(o.get("format") == "binary" for o in options):
        return "string"
    return "integer" if "integer" in kinds else None


def _sweep(
    operation: Any, document: dict[str, Any], known: dict[str, Any], headers: dict[str, str], record: Record
) -> None:
    """One valid request of ``operation``, then each field in turn replaced by a hostile value."""
    fields = _hostile_fields(document, operation.method, operation.path)
    path_parameters = {k: v for k, v in known.items() if "{" + k + "}" in operation.path}

    def mutate(case: Any) -> None:
        for where, name, value in fields:
            mutant = case.derive()
            if where == "query":
                mutant.query = {**(case.query or {}), name: value}
            elif where == "path":
                mutant.path_parameters = {**(case.path_parameters or {}), name: value}
            elif isinstance(case.body, dict):
                mutant.body = {**case.body, name: value}
            else:
                continue
            _send(mutant, headers, record)

    _examples(operation.as_strategy(path_parameters=path_parameters or None), 1, mutate)


@pytest.mark.slow
def test_no_generated_request_makes_a_server_error(world: Settings) -> None:
    started = time.monotonic()
    app = create_app(world)
    schema = schemathesis.openapi.from_asgi(
        "/api/openapi.json", app, config=SchemathesisConfig.from_dict(HOSTILE)
    )
    document = app.openapi()
    client = asgi.get_client(app)
    admin_id, admin = _account(world, client, Role.SYSTEM_ADMIN, "gov-data")
    unit_id, unit = _account(world, client, Role.PROJECT_UNIT, "works")
    known = _known_ids(client, world, admin, unit)
    statuses: Counter[int] = Counter()
    errors: list[str] = []

    def record(status: int, request: str) -> None:
        statuses[status] += 1
        if status >= 500:
            errors.append(f"{status} {request}")

    operations = 0
    timings: list[tuple[float, str]] = []
    try:
        for result in schema.get_all_operations():
            operation = result.ok()
            key = (operation.method.upper(), operation.path)
            if key in SESSION_ENDING:
                continue
            operations += 1
            op_started = time.monotonic()
            path_parameters = {k: v for k, v in known.items() if "{" + k + "}" in operation.path} or None
            for headers in (admin, unit):

                def send(case: Any, headers: dict[str, str] = headers, key: tuple[str, str] = key) -> None:
                    if key in ACCOUNT_CHANGING and (case.path_parameters or {}).get("user_id") in (
                        admin_id,
                        unit_id,
                    ):
                        return
                    _send(case, headers, record)

                _examples(operation.as_strategy(path_parameters=path_parameters), POSITIVE_EXAMPLES, send)
                _examples(operation.as_strategy(GenerationMode.NEGATIVE), NEGATIVE_EXAMPLES, send)
            if key not in ACCOUNT_CHANGING:
                _sweep(operation, document, known, admin, record)
            timings.append((time.monotonic() - op_started, f"{key[0]} {key[1]}"))
    finally:
        asgi.shutdown_lifespans()
    total, elapsed = sum(statuses.values()), time.monotonic() - started
    print(
        f"\nfuzz: {total} requests over {operations} operations × 2 roles in {elapsed:.0f} s; "
        f"statuses {dict(sorted(statuses.items()))}; server errors {len(errors)}"
    )
    print("slowest:", "; ".join(f"{name} {t:.1f} s" for t, name in sorted(timings, reverse=True)[:8]))
    for line in sorted(set(errors)):
        print(re.sub(r"\s+", " ", line)[:400])
    assert operations >= 100
    assert total >= 2000
    assert errors == [], "\n".join(errors[:20])
