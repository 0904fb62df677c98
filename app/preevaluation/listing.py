"""The list of stored reports as a person picks from it: number, date, project name and code, type, place,
verdict — searchable, a page at a time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from psycopg import Connection, sql
from psycopg.rows import dict_row

from analysis.rules.model import RuleSet
from app.db import contains_pattern
from app.preevaluation.store import ReportSummary
from layers.catalog.model import Catalog

_LIST_REPORTS = sql.SQL((Path(__file__).parent / "sql" / "list_reports.sql").read_text(encoding="utf-8"))
PLACE_LAYER, PLACE_ATTRIBUTE = "admin_subdistrict", "subdistrict"  # where a report's footprint lies


class ReportListing(ReportSummary):
    """One line of the report list, with what a person recognises a report by."""

    project_name: str | None
    project_type_zh: str
    project_type_en: str
    subdistrict: str | None
    subdistrict_zh: str | None
    subdistrict_en: str | None


def _places(catalog: Catalog) -> dict[str, tuple[str, str]]:
    """Sub-district code → (Chinese, English) label, from the catalog's code list."""
    entry = catalog.layers.get(PLACE_LAYER)
    attribute = entry.attribute(PLACE_ATTRIBUTE) if entry else None
    return {c.value: (c.label_zh, c.label_en) for c in (attribute.codes or [])} if attribute else {}


def list_reports(
    conn: Connection[Any],
    ruleset: RuleSet,
    catalog: Catalog,
    *,
    org_id: int | None,
    project_code: str | None,
    q: str | None,
    limit: int,
    offset: int,
) -> list[ReportListing]:
    """Reports of one organisation (``None``: every one) matching ``q`` (number, code, name, type, place,
    verdict — in either language), newest first."""
    types = {k: (t.name_zh, t.name_en) for k, t in ruleset.settings.project_types.items()}
    places = _places(catalog)
    text = (q or "").strip().lower() or None
    number_only = bool(text and text.startswith("#"))  # "#153" is a report number, not words
    if text:
        text = text.lstrip("#") or None

    def named(labels: dict[str, tuple[str, str]]) -> list[str]:
        return [k for k, (zh, en) in labels.items() if text and (text in zh.lower() or text in en.lower())]

    version = conn.execute(
        "SELECT current_version FROM basemap.layer WHERE code = %s", (PLACE_LAYER,)
    ).fetchone()
    params = {
        "place_version": version[0] if version else None,
        "org": org_id,
        "code": project_code,
        "pattern": contains_pattern(text) if text and not number_only else None,
        "number": text,
        "types": [] if number_only else named(types),
        "places": [] if number_only else named(places),
        "limit": limit,
        "offset": offset,
    }
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(_LIST_REPORTS, params).fetchall()
    out = []
    for row in rows:
        type_zh, type_en = types.get(row["project_type"], (row["project_type"], row["project_type"]))
        place = places.get(row["subdistrict"] or "")
        out.append(
            ReportListing(
                **row,
                project_type_zh=type_zh,
                project_type_en=type_en,
                subdistrict_zh=place[0] if place else None,
                subdistrict_en=place[1] if place else None,
            )
        )
    return out
