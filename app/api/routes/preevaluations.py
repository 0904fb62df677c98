"""Route: pre-evaluation (预评价) of a project footprint against the base map."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from analysis.engine import Report, evaluate
from analysis.footprint import parse_footprint
from analysis.rules_model import get_ruleset
from app.api.routes.layers import catalog_of
from app.auth.deps import Allow, Grant
from app.auth.policy import Action
from app.db import Conn
from app.errors import Unprocessable

router = APIRouter(prefix="/api/pre-evaluations", tags=["pre-evaluation"])


class PreEvaluationRequest(BaseModel):
    """A footprint (GeoJSON geometry, Feature or FeatureCollection) and the kind of project."""

    footprint: dict[str, Any] = Field(description="GeoJSON（默认 CRS84 经纬度）")
    project_type: str = Field(description="项目类型，如 school、road、housing")
    crs: str | None = Field(default=None, description="坐标系，如 EPSG:4547；缺省为 CRS84")
    flags: list[str] = Field(default_factory=list, description="项目属性，如 national_major")


@router.post("", response_model=Report, summary="项目预评价")
def run_pre_evaluation(
    body: PreEvaluationRequest,
    request: Request,
    conn: Conn,
    grant: Annotated[Grant, Depends(Allow(Action.PREEVAL_RUN))],
) -> Report:
    """Check a footprint against every pre-evaluation layer: verdict, findings, not-checkable layers."""
    ruleset = get_ruleset()
    if body.project_type not in ruleset.settings.project_types:
        known = "、".join(ruleset.settings.project_types)
        raise Unprocessable(
            f"未知项目类型“{body.project_type}”，可选：{known}。",
            f"Unknown project type '{body.project_type}'.",
            code="unknown_project_type",
        )
    footprint = parse_footprint(body.footprint, body.crs)
    return evaluate(
        conn,
        footprint,
        body.project_type,
        catalog=catalog_of(request),
        ruleset=ruleset,
        flags=body.flags,
        data_dir=request.app.state.settings.data_dir,
    )
