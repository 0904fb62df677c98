"""Items added to a project's plan by a stored pre-evaluation report.

Every prohibited-with-exception or conditional finding that names an approval item adds that item (once)
with the conflict as the reason (in Chinese and English), before the item the rule set says it must precede
(e.g. 使用林地审核 before 用地预审, 不可避让论证 for the ecological red line). An item already in the plan
gets the reason added; linking the same report again changes nothing.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml
from psycopg import Connection

from analysis.rules.loader import get_ruleset
from app.auth.deps import Grant
from app.auth.policy import Scope
from app.errors import NotFound, Unprocessable
from app.preevaluation.store import fetch_document, latest_report_id
from app.projects import service
from app.projects.plan import Item, create_plan, fetch_items
from layers.audit import record
from layers.catalog.model import get_catalog

LIMITS_FILE = Path(__file__).parent / "triggered_items.yaml"
GRADES = ("prohibited", "conditional")
# How a reason names its report; also how a second link of the same report is recognised.
MARK_ZH = "预评价#{} "


@cache
def _limits() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(LIMITS_FILE.read_text(encoding="utf-8"))
    return data


def _report(conn: Connection[Any], grant: Grant, pre_evaluation_id: int, project: Any) -> dict[str, Any]:
    stored = fetch_document(conn, pre_evaluation_id)
    # A report belongs to the project when it names its code or was run by its unit.
    if stored is None or not (
        grant.scope is Scope.ANY
        or stored.project_code == project.code
        or stored.org_id in (project.unit_org_id, grant.principal.org_id)
    ):
        raise NotFound("预评价报告不存在。", "No such pre-evaluation report.")
    return stored.report


def _item_code(settings: Any, named: str | None) -> str | None:
    """The rule set's approval item a finding names: reports carry the item's Chinese name (older test data
    and other producers may carry its code)."""
    if not named:
        return None
    if named in settings.approval_items:
        return str(named)
    by_name = {spec.name_zh: code for code, spec in settings.approval_items.items()}
    return by_name.get(named)


def _triggered(report: dict[str, Any], pre_evaluation_id: int) -> dict[str, tuple[list[str], list[str]]]:
    """Approval item code → (Chinese reasons, English reasons) of the report's prohibited and conditional
    findings, in report order."""
    settings = get_ruleset().settings
    catalog = get_catalog()
    out: dict[str, tuple[list[str], list[str]]] = {}
    for finding in report.get("findings", []):
        code = _item_code(settings, finding.get("approval_item"))
        if code is None or finding.get("grade") not in GRADES:
            continue
        layer = str(finding.get("layer", ""))
        entry = catalog.layers.get(layer)
        zh, en = out.setdefault(code, ([], []))
        layer_zh = finding.get("layer_name_zh", layer)
        why_zh = f"{MARK_ZH.format(pre_evaluation_id)}{layer_zh}：{finding.get('message_zh', '')}"
        layer_en = entry.name_en if entry else layer
        why_en = f"Pre-evaluation #{pre_evaluation_id} {layer_en}: {finding.get('message_en', '')}"
        if why_zh not in zh:
            zh.append(why_zh)
            en.append(why_en)
    return out


def _insert(conn: Connection[Any], project_id: int, code: str, reason: str, reason_en: str) -> int:
    """A new item of the rule set's approval item ``code``, with the limits of triggered_items.yaml."""
    spec = get_ruleset().settings.approval_items[code]
    limits = _limits()
    days = limits["items"].get(code, limits["default"])
    row = conn.execute(
        """
        INSERT INTO approval.item (project_id, item_code, name_zh, name_en, stage, department_code,
          department_id, statutory_days, promised_days, source, reason, reason_en)
        VALUES (%s, %s, %s, %s, %s, %s, (SELECT id FROM auth.organisation WHERE code = %s), %s, %s,
          'pre_evaluation', %s, %s) RETURNING id
        """,
        (
            project_id,
            code,
            spec.name_zh,
            spec.name_en,
            str(spec.stage),
            spec.department,
            spec.department,
            days["statutory_days"],
            days["promised_days"],
            reason,
            reason_en,
        ),
    ).fetchone()
    assert row is not None
    return int(row[0])


def add_from_pre_evaluation(
    conn: Connection[Any], grant: Grant, project_id: int, pre_evaluation_id: int
) -> list[Item]:
    """Add the triggered items of a report to the plan; returns the items added or annotated now (a report
    linked before adds and annotates nothing again)."""
    settings = get_ruleset().settings
    with conn.transaction():
        conn.execute("SELECT 1 FROM project.project WHERE id = %s FOR UPDATE", (project_id,))
        project = service.fetch_project(conn, project_id, grant)
        service.check_may_change(grant, project)
        report = _report(conn, grant, pre_evaluation_id, project)
        plan = {i.item_code: i for i in fetch_items(conn, "i.project_id = %(p)s", {"p": project_id})}
        if not plan:
            raise Unprocessable("请先生成审批计划。", "Create the approval plan first.", code="no_plan")
        mark = MARK_ZH.format(pre_evaluation_id)
        touched: list[int] = []
        for code, (why_zh, why_en) in _triggered(report, pre_evaluation_id).items():
            reason, reason_en = "；".join(why_zh)[:2000], "; ".join(why_en)[:2000]
            if code in plan:
                if mark in (plan[code].reason or ""):
                    continue  # this report was linked before
                conn.execute(
                    "UPDATE approval.item SET reason = coalesce(reason || '；', '') || %s,"
                    " reason_en = coalesce(reason_en || '; ', '') || %s,"
                    " version = version + 1, updated_at = now() WHERE id = %s",
                    (reason, reason_en, plan[code].id),
                )
                touched.append(plan[code].id)
                continue
            item_id = _insert(conn, project_id, code, reason, reason_en)
            touched.append(item_id)
            before = settings.approval_items[code].before
            if before and before in plan:
                conn.execute(
                    "INSERT INTO approval.item_prerequisite (item_id, prerequisite_id) VALUES (%s, %s)",
                    (plan[before].id, item_id),
                )
        items = fetch_items(conn, "i.id = ANY(%(ids)s)", {"ids": touched})
        record(
            conn,
            grant.actor,
            "plan.add_from_pre_evaluation",
            "project",
            project_id,
            after={"pre_evaluation_id": pre_evaluation_id, "items": [i.item_code for i in items]},
        )
    return items


def create_plan_with_pre_evaluation(conn: Connection[Any], grant: Grant, project_id: int) -> list[Item]:
    """Instantiate the plan and, in the same transaction, add what the latest report naming the project's
    code triggers — so a project checked before its plan existed gets those items automatically."""
    with conn.transaction():
        items = create_plan(conn, grant, project_id)
        project = service.fetch_project(conn, project_id)
        latest = latest_report_id(conn, project.code)
        if latest is None:
            return items
        add_from_pre_evaluation(conn, grant, project_id, latest)
        return fetch_items(conn, "i.project_id = %(p)s", {"p": project_id})
