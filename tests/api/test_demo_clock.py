"""The demo history's clock: a block's business timestamps read the simulated day, nothing else moves."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from app.auth.policy import Action, Role
from app.demo.actors import People
from app.demo.clock import Clock, at
from app.errors import Forbidden
from app.orgs.service import OrgKind
from app.projects import service
from app.projects.models import ProjectCreate
from tests.helpers import unique

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _project(conn: psycopg.Connection[Any], people: People, unit_code: str, day: date) -> int:
    unit = people.person(unique("demounit"), "演示项目单位", Role.PROJECT_UNIT, unit_code)
    body = ProjectCreate(
        name=unique("时钟测试项目"),
        project_type="house_building",
        investment_wan=Decimal("1200"),
        funding_source="区级财政",
        owner_dept_code="housing",
    )
    project = service.create_project(
        conn, unit.grant(Action.PROJECTS_MANAGE), body, known_layers=set(), today=day
    )
    return project.id


def test_clock_dates_the_block_and_leaves_earlier_rows_and_the_audit_alone(settings: Any) -> None:
    with psycopg.connect(settings.owner_dsn, autocommit=True) as conn:
        people = People(conn)
        unit_code = unique("demo-unit")
        people.org(unit_code, "时钟测试建设单位", "Clock test unit", OrgKind.PROJECT_UNIT)
        # A project written today, outside the clock: its timestamps are real.
        before = _project(conn, people, unit_code, date.today())
        real = conn.execute("SELECT created_at FROM project.project WHERE id = %s", (before,)).fetchone()
        assert real is not None
        clock = Clock(conn)
        when = at(date(2024, 3, 5), 9, 30)
        with clock.on_day(when):
            simulated = _project(conn, people, unit_code, when.date())
        rows = dict(
            conn.execute(
                "SELECT id, created_at FROM project.project WHERE id = ANY(%s)", ([before, simulated],)
            ).fetchall()
        )
        # 2024-03-05 09:30 in the district is 01:30 UTC that day (hand-computed: UTC+8, no DST).
        assert rows[simulated] == datetime(2024, 3, 5, 1, 30, tzinfo=ZoneInfo("UTC"))
        assert rows[simulated].astimezone(SHANGHAI).date() == date(2024, 3, 5)
        assert rows[before] == real[0]
        # The project code is allocated from the simulated year, as an API call on that day would.
        code = conn.execute("SELECT code FROM project.project WHERE id = %s", (simulated,)).fetchone()
        assert code is not None and code[0].startswith("2024-")
        # The audit trail keeps the real moment the generator wrote it.
        audit = conn.execute(
            "SELECT at FROM audit.event WHERE object_type = 'project' AND object_id = %s", (str(simulated),)
        ).fetchall()
        assert audit and all(a[0].year == datetime.now().year for a in audit)


def test_a_failing_block_leaves_nothing(settings: Any) -> None:
    with psycopg.connect(settings.owner_dsn, autocommit=True) as conn:
        people = People(conn)
        unit_code = unique("demo-unit")
        people.org(unit_code, "回滚测试建设单位", "Rollback test unit", OrgKind.PROJECT_UNIT)
        clock = Clock(conn)
        name = unique("回滚项目")
        with pytest.raises(RuntimeError), clock.on_day(at(date(2025, 6, 3))):
            unit = people.person(unique("demounit"), "演示项目单位", Role.PROJECT_UNIT, unit_code)
            body = ProjectCreate(
                name=name,
                project_type="house_building",
                owner_dept_code="housing",
                investment_wan=Decimal("1"),
                funding_source="社会投资",
            )
            service.create_project(
                conn, unit.grant(Action.PROJECTS_MANAGE), body, known_layers=set(), today=date(2025, 6, 3)
            )
            raise RuntimeError("the generator stops")
        found = conn.execute("SELECT count(*) FROM project.project WHERE name = %s", (name,)).fetchone()
        assert found == (0,)


def test_a_person_gets_only_what_the_policy_gives_the_role(settings: Any) -> None:
    with psycopg.connect(settings.owner_dsn, autocommit=True) as conn:
        people = People(conn)
        viewer = people.person(unique("demoviewer"), "只读", Role.VIEWER, "pnr")
        assert viewer.grant(Action.PROJECTS_READ).scope is not None
        with pytest.raises(Forbidden):
            viewer.grant(Action.PROJECTS_MANAGE)
        # The same username answers the same account.
        assert people.person(viewer.username, "x", Role.VIEWER, "pnr") is viewer


def test_the_clock_refuses_a_connection_inside_a_transaction(settings: Any) -> None:
    # Inside an open transaction every day would be a savepoint sharing one now(), committed at the end.
    with psycopg.connect(settings.owner_dsn) as conn:
        clock = Clock(conn)
        conn.execute("SELECT 1")
        with pytest.raises(RuntimeError, match="idle"), clock.on_day(at(date(2024, 5, 6))):
            pass
