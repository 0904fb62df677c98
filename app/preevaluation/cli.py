"""``duogui check FILE``: pre-evaluate every footprint of a file and print one summary line per footprint."""

from __future__ import annotations

import json
import unicodedata
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import psycopg
import typer

from analysis.checkplan import get_check_plan
from analysis.rules.loader import get_ruleset
from analysis.sites import SiteResult, evaluate_sites, sites_from_features, summarize
from app.settings import Settings
from layers.district import DISTRICT
from layers.ingest.errors import IngestError
from layers.ingest.footprint_file import as_feature_collection, read_footprint_file

HEADERS = ("序号", "名称", "结论", "禁止面积(m²)", "有条件面积(m²)", "户数", "审批事项")


class OutputFormat(StrEnum):
    """How ``duogui check`` prints its answer."""

    TABLE = "table"
    JSON = "json"


def _width(text: str) -> int:
    """Terminal columns of a string: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def _pad(text: str, width: int, right: bool = False) -> str:
    space = " " * max(width - _width(text), 0)
    return space + text if right else text + space


def table_lines(rows: list[tuple[str, ...]]) -> list[str]:
    """Rows aligned under HEADERS (numbers right-aligned, the last column left as is)."""
    widths = [max(_width(r[i]) for r in [HEADERS, *rows]) for i in range(len(HEADERS) - 1)]
    numeric = (True, False, False, True, True, True)
    lines = []
    for row in [HEADERS, *rows]:
        cells = [_pad(row[i], widths[i], numeric[i] and row is not HEADERS) for i in range(len(widths))]
        lines.append("  ".join([*cells, row[-1]]))
    return lines


def _row(result: SiteResult, summary: Any) -> tuple[str, ...]:
    site = result.site
    name = site.name or "-"
    if result.error is not None:
        return (str(site.index + 1), name, "无法检查", "-", "-", "-", result.error.message_zh)
    approvals = "、".join(summary.approvals) if summary.approvals else "-"
    return (
        str(site.index + 1),
        name,
        summary.verdict,
        f"{summary.prohibited_area_m2:,.1f}",
        f"{summary.conditional_area_m2:,.1f}",
        str(summary.households),
        f"{len(summary.approvals)}：{approvals}" if summary.approvals else "0",
    )


def check(
    file: Annotated[
        Path, typer.Argument(exists=True, help="GeoJSON / GeoPackage / Shapefile（.shp 或 .zip）/ DXF")
    ],
    project_type: Annotated[
        str, typer.Option("--type", help="项目类型，如 school、road、housing")
    ] = "school",
    output: Annotated[
        OutputFormat, typer.Option("--format", help="table（默认）或 json")
    ] = OutputFormat.TABLE,
    crs: Annotated[
        str | None, typer.Option(help=f"文件无坐标系时指定，如 {DISTRICT.storage_crs.label}")
    ] = None,
    encoding: Annotated[str | None, typer.Option(help="属性编码，如 GBK")] = None,
    source_layer: Annotated[str | None, typer.Option(help="多图层文件中的图层名")] = None,
    name_field: Annotated[str | None, typer.Option(help="名称字段（缺省自动识别 name/名称）")] = None,
) -> None:
    """Pre-evaluate every footprint in FILE (nothing is stored) and print a summary per footprint."""
    ruleset = get_ruleset()
    if project_type not in ruleset.settings.project_types:
        known = "、".join(ruleset.settings.project_types)
        typer.secho(f"未知项目类型“{project_type}”，可选：{known}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1)
    settings = Settings()
    try:
        footprints = read_footprint_file(
            file,
            file.name,
            crs=crs,
            encoding=encoding,
            source_layer=source_layer,
            name_field=name_field,
        )
    except IngestError as exc:
        typer.secho(f"{exc.message_zh}\n{exc.message_en}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from exc
    sites = sites_from_features(as_feature_collection(footprints))
    with psycopg.connect(settings.owner_dsn) as conn:
        results = evaluate_sites(conn, sites, project_type, plan=get_check_plan(), data_dir=settings.data_dir)
    summaries = [summarize(r.site, r.report, ruleset) if r.report else None for r in results]
    if output is OutputFormat.JSON:
        items = [
            {"index": r.site.index, "name": r.site.name, "summary": s.model_dump(mode="json") if s else None}
            | ({"error": {"code": r.error.code, "message_zh": r.error.message_zh}} if r.error else {})
            for r, s in zip(results, summaries, strict=True)
        ]
        typer.echo(json.dumps({"project_type": project_type, "items": items}, ensure_ascii=False, indent=2))
        return
    for line in table_lines([_row(r, s) for r, s in zip(results, summaries, strict=True)]):
        typer.echo(line)
