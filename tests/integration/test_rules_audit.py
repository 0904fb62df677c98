"""Changing the rule files is audited: one event per change, with the previous and the new fingerprint."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import psycopg

from analysis.rules.loader import RULES_DIR, get_ruleset
from app.audit.rules import fingerprint, record_activation
from layers.audit import Actor


def _last(conn: psycopg.Connection[Any]) -> tuple[Any, Any]:
    row = conn.execute(
        "SELECT before, after FROM audit.event WHERE action = 'ruleset.activate' ORDER BY id DESC LIMIT 1"
    ).fetchone()
    assert row is not None
    return row[0], row[1]


def test_a_rule_file_change_is_recorded_once_with_before_and_after(
    owner_conn: psycopg.Connection[Any], tmp_path: Path
) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(RULES_DIR, rules)
    actor = Actor.system("tests")
    ruleset = get_ruleset()
    record_activation(owner_conn, ruleset, actor, rules)
    _, first = _last(owner_conn)
    assert first["sha256"] == fingerprint(rules) == fingerprint(RULES_DIR)
    assert first["version"] == ruleset.version and first["rules"] == len(ruleset.rules)
    # Nothing changed: nothing recorded.
    assert record_activation(owner_conn, ruleset, actor, rules) is False

    theme = sorted(p for p in rules.glob("*.yaml") if not p.name.startswith("_"))[0]
    theme.write_text(theme.read_text(encoding="utf-8") + "\n# 调整说明\n", encoding="utf-8")
    assert record_activation(owner_conn, ruleset, actor, rules) is True
    before, after = _last(owner_conn)
    assert before == first
    assert after["sha256"] == fingerprint(rules) != first["sha256"]
    assert record_activation(owner_conn, ruleset, actor, rules) is False


def test_the_rules_in_force_are_published_to_project_units(client: Any, make_account: Any) -> None:
    from app.auth.policy import Role

    unit = make_account(Role.PROJECT_UNIT, "works")
    r = client.get("/api/pre-evaluations/rules", headers=unit.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    ruleset = get_ruleset()
    assert body["version"] == ruleset.version and body["sha256"] == fingerprint()
    assert set(body["rules"]) == set(ruleset.rules)
    grade_i = body["rules"]["forest_land.grade_i"]
    assert grade_i["grade"] == "prohibited" and grade_i["legal_basis"] and grade_i["department"]
    assert client.get("/api/pre-evaluations/rules").status_code == 401
