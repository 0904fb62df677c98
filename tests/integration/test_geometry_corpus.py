"""The invalid-geometry corpus through every pre-evaluation entry point: a right answer or a 4xx, never a
500, and nothing stored for a refusal. Each case runs as it is (outside the district) and moved into it."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
import shapely
from fastapi.testclient import TestClient

from app.auth import users
from app.auth.policy import Role
from app.settings import Settings
from layers.audit import Actor
from tests.geometry_corpus import (
    ANSWERED_IN_DISTRICT,
    case_id,
    corpus_cases,
    geodesic_area_m2,
    load,
    polygons_of,
    relocated,
)
from tests.helpers import Account, sign_in, unique

CASES = corpus_cases()


@pytest.fixture(scope="module")
def quiet_client(app: Any, client: TestClient) -> TestClient:
    """A client that shows a server error as the 500 a user would get (instead of raising it); the
    session's ``client`` keeps the app's lifespan (its pool) open."""
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture(scope="module")
def planner(settings: Settings, quiet_client: TestClient) -> Account:
    """One planner for the module's many cases (signing in is deliberately slow)."""
    username, password = unique("planner"), "Passw0rd-" + uuid.uuid4().hex[:6]
    with psycopg.connect(settings.owner_dsn, autocommit=True) as conn:
        user, _ = users.create_user(
            conn,
            Actor.system("tests"),
            users.UserCreate(username=username, role=Role.PLANNER, org_code="pnr", password=password),
        )
    token = sign_in(quiet_client, username, password)
    return Account(user.id, username, password, user.org_id, token)


def _reports(owner_conn: Any) -> int:
    return int(owner_conn.execute("SELECT count(*) FROM project.pre_evaluation").fetchone()[0])


def _post(client: TestClient, headers: dict[str, str], entry: str, document: Any) -> Any:
    if entry == "json":
        body = json.dumps({"footprint": document, "project_type": "school"}, allow_nan=True)
        return client.post(
            "/api/pre-evaluations", content=body, headers={**headers, "content-type": "application/json"}
        )
    text = json.dumps(document, allow_nan=True).encode()
    return client.post(
        "/api/pre-evaluations/upload",
        headers=headers,
        files={"file": ("case.geojson", text)},
        data={"project_type": "school"},
    )


@pytest.mark.parametrize("entry", ["json", "file"])
@pytest.mark.parametrize("moved", [False, True], ids=["as_is", "in_district"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_corpus_case_is_answered_or_refused(
    case: Path, moved: bool, entry: str, quiet_client: TestClient, planner: Any, owner_conn: Any
) -> None:
    document = load(case)
    if moved:
        document = relocated(document)
    before = _reports(owner_conn)
    r = _post(quiet_client, planner.headers, entry, document)
    answered = moved and case_id(case) in ANSWERED_IN_DISTRICT
    assert (r.status_code == 201) if answered else (400 <= r.status_code < 500), r.text
    assert r.headers["content-type"] in ("application/json", "application/problem+json")
    assert _reports(owner_conn) == before + (1 if r.status_code == 201 else 0)
    if r.status_code == 201:
        report = r.json()["report"]
        polygons = polygons_of(document)
        assert polygons is not None, "only polygons can be a footprint"
        if report["repairs"]:  # a repair never adds area: at most the hull of the positions
            hull = shapely.convex_hull(shapely.MultiPoint([p[:2] for rings in polygons for p in rings[0]]))
            hull_area = geodesic_area_m2([[list(hull.exterior.coords)]])
            assert 0 < report["footprint_area_m2"] <= hull_area * (1 + 1e-4)
        else:
            assert report["footprint_area_m2"] == pytest.approx(geodesic_area_m2(polygons), rel=1e-4)
