"""What the printed pre-evaluation report (正式报告) says: header, figures, findings and verification line.

Everything here is text for people: labels and names instead of codes (rules, layers, project types,
departments, approval items), numbers with units and thousands separators, in the report's language. The
HTML page (:mod:`analysis.report_html`) and its PDF show these rows as they are.

The verification line names the report and the SHA-256 of its stored JSON (:func:`report_sha256`), so a
printout can be checked against the system (``GET /api/pre-evaluations/{id}/verify?sha256=…``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from analysis.checkplan import CheckPlan
from analysis.findings import Finding
from analysis.report import Report
from analysis.rules.schema import GRADE_LABELS_ZH, Grade

PLATFORM = ("多规合一平台", "Duogui multi-plan integration platform")
GRADE_LABELS_EN = {
    Grade.PROHIBITED: "Prohibited",
    Grade.CONDITIONAL: "Conditional",
    Grade.ADVISORY: "Advisory",
    Grade.INFO: "Information",
}
TEXT = {
    "title": ("项目预评价报告", "Pre-evaluation report"),
    "report_no": ("报告编号", "Report no."),
    "created": ("生成日期", "Date"),
    "project_code": ("项目代码", "Project code"),
    "project_type": ("项目类型", "Project type"),
    "flags": ("项目属性", "Project properties"),
    "verdict": ("结论", "Verdict"),
    "footprint": ("用地面积", "Footprint area"),
    "buildable": ("可建设面积", "Buildable area"),
    "prohibited": ("禁止类占用面积", "Prohibited area"),
    "conditional": ("有条件类占用面积", "Conditional area"),
    "map": ("用地范围与冲突分布", "Footprint and conflicts"),
    "interactive": ("交互地图（可缩放，仅屏幕显示）", "Interactive map (screen only)"),
    "footprint_layer": ("用地范围", "Footprint"),
    "findings": ("冲突与提示", "Findings"),
    "none": ("无", "None"),
    "not_checkable": (
        "无法判定的图层（无数据不等于无冲突）",
        "Layers that cannot answer (no data is not no conflict)",
    ),
    "layer": ("图层", "Layer"),
    "reason": ("原因", "Reason"),
    "demolition": ("征拆测算", "Demolition estimate"),
    "buildings": ("涉及建筑", "Buildings"),
    "floor_area": ("建筑面积", "Floor area"),
    "households": ("户数", "Households"),
    "state_land": ("国有土地", "State land"),
    "collective_land": ("集体土地", "Collective land"),
    "compensation": ("估算补偿", "Estimated compensation"),
    "unpriced": ("未能估价", "Unpriced"),
    "zone": ("补偿片区", "Compensation zone"),
    "terrain": ("地形", "Terrain"),
    "mean_slope": ("平均坡度", "Mean slope"),
    "steep": ("坡度大于 25° 的比例", "Share steeper than 25°"),
    "appendix": ("附录：版本", "Appendix: versions"),
    "rules": ("规则版本", "Rules version"),
    "versions": ("所用图层版本", "Layer versions used"),
    "verification": ("核验", "Verification"),
    "verify_how": (
        "SHA-256 为系统存储的报告 JSON（键排序、无空白、UTF-8）的摘要；"
        "可用 GET /api/pre-evaluations/{id}/verify?sha256=… 核对。",
        "SHA-256 of the stored report JSON (sorted keys, no whitespace, UTF-8); "
        "check it with GET /api/pre-evaluations/{id}/verify?sha256=….",
    ),
    "print": ("打印", "Print"),
    "other_lang": ("English", "中文"),
    "repairs": ("几何修复", "Geometry repairs"),
    "feature": ("要素", "Feature"),
    "grade": ("等级", "Grade"),
    "overlap": ("重叠面积", "Overlap"),
    "share": ("占用地比例", "Share of site"),
    "distance": ("距离", "Distance"),
    "department": ("主管部门", "Department"),
    "approval": ("审批事项", "Approval"),
    "message": ("说明", "Remarks"),
    "basis": ("依据", "Basis"),
    "number": ("序号", "No."),
    "features_of": ("其中", "of which"),
}


def canonical_json(document: Any) -> bytes:
    """The stored report as hashed: JSON with sorted keys, no whitespace, non-ASCII as is, UTF-8."""
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def report_sha256(document: Any) -> str:
    """SHA-256 (hex) of a stored report's JSON document, as the verification line prints it."""
    return hashlib.sha256(canonical_json(document)).hexdigest()


def area(value: float | None) -> str:
    """An area in square metres with thousands separators."""
    return "—" if value is None else f"{value:,.1f} m²"


def percent(value: float | None) -> str:
    """A share in per cent, two decimals."""
    return "—" if value is None else f"{value:.2f} %"


def metres(value: float | None) -> str:
    """A distance in metres."""
    return "—" if value is None else f"{value:,.1f} m"


def yuan(value: float, english: bool) -> str:
    """An amount of money in yuan with thousands separators."""
    return f"{value:,.0f} yuan" if english else f"{value:,.0f} 元"


@dataclass(frozen=True)
class FindingRow:
    """One line of the findings table: a finding (its union figures), or one of its features."""

    number: str
    layer: str
    grade: Grade
    grade_label: str
    feature: str
    overlap: str
    share: str
    distance: str
    department: str
    approval: str
    message: str
    basis: str
    is_feature: bool


class Words:
    """The report's vocabulary in one language: fixed text, and names for the codes a report holds."""

    def __init__(self, plan: CheckPlan, english: bool) -> None:
        self.plan, self.english = plan, english
        self.t = {key: pair[1 if english else 0] for key, pair in TEXT.items()}

    def pick(self, zh: str, en: str) -> str:
        """The text in the report's language."""
        return en if self.english else zh

    def layer(self, code: str, name_zh: str | None = None) -> str:
        """A layer's name (the report's own Chinese name first; a layer gone from the catalog: its code)."""
        entry = self.plan.catalog.layers.get(code)
        if self.english and entry is not None:
            return entry.name_en
        return name_zh or (entry.name_zh if entry is not None else code)

    def grade(self, grade: Grade) -> str:
        """A grade's label."""
        return (GRADE_LABELS_EN if self.english else GRADE_LABELS_ZH)[grade]

    def project_type(self, key: str) -> str:
        """A project type's name."""
        kind = self.plan.ruleset.settings.project_types.get(key)
        return key if kind is None else self.pick(kind.name_zh, kind.name_en)

    def flag(self, key: str) -> str:
        """A project property's name."""
        flag = self.plan.ruleset.settings.project_flags.get(key)
        return key if flag is None else self.pick(flag.name_zh, flag.name_en)

    def department(self, key: str) -> str:
        """A department's name."""
        return self.plan.ruleset.settings.department_name(key, self.english)

    def approval(self, key: str | None) -> str:
        """An approval item's name."""
        if key is None:
            return "—"
        # Reports hold the item's Chinese name (older ones may hold its key).
        items = self.plan.ruleset.settings.approval_items
        item = items.get(key) or next((i for i in items.values() if i.name_zh == key), None)
        return key if item is None else self.pick(item.name_zh, item.name_en)


def finding_rows(report: Report, words: Words) -> list[FindingRow]:
    """Each finding with its own figures (union overlap and share), then each of its features with its own."""
    rows: list[FindingRow] = []
    for n, finding in enumerate(report.findings, start=1):
        rows.append(_finding_row(str(n), finding, words))
        if len(finding.features) < 2:
            continue  # a single feature's figures are the finding's: its row says them
        for hit in sorted(finding.features, key=lambda h: h.fid):
            share = None if hit.overlap_m2 is None else 100 * hit.overlap_m2 / report.footprint_area_m2
            message = hit.message_en if words.english else hit.message_zh
            rows.append(
                FindingRow(
                    number="",
                    layer="",
                    grade=finding.grade,
                    grade_label="",
                    feature=f"{words.t['feature']} {hit.fid}",
                    overlap=area(hit.overlap_m2),
                    share=percent(share),
                    distance=_distance(hit.overlap_m2, hit.distance_m),
                    department="",
                    approval="",
                    message=message or "",
                    basis="",
                    is_feature=True,
                )
            )
    return rows


def _distance(overlap: float | None, distance: float | None) -> str:
    """A distance says something only when the footprint does not overlap the feature."""
    return "—" if overlap else metres(distance)


def _feature_label(finding: Finding, words: Words) -> str:
    count = len(finding.features)
    if count == 1:
        return f"{words.t['feature']} {finding.features[0].fid}"
    return words.pick(f"{count} 个要素", f"{count} features") if count else "—"


def _finding_row(number: str, finding: Finding, words: Words) -> FindingRow:
    return FindingRow(
        number=number,
        layer=words.layer(finding.layer, finding.layer_name_zh),
        grade=finding.grade,
        grade_label=words.grade(finding.grade),
        feature=_feature_label(finding, words),
        overlap=area(finding.overlap_m2),
        share=percent(finding.share_pct),
        distance=_distance(finding.overlap_m2, finding.distance_m),
        department=words.department(finding.department),
        approval=words.approval(finding.approval_item),
        message=finding.message_en if words.english else finding.message_zh,
        basis="；".join(finding.legal_basis),
        is_feature=False,
    )


def header_rows(
    report: Report, report_id: int, created: datetime, code: str | None, words: Words
) -> list[Any]:
    """The header's facts: number, date, project and its type."""
    t = words.t
    rows: list[list[Any]] = [
        [t["report_no"], str(report_id)],
        [t["created"], created.strftime("%Y-%m-%d %H:%M")],
        [t["project_code"], code or "—"],
        [t["project_type"], words.project_type(report.project_type)],
    ]
    if report.flags:
        rows.append([t["flags"], "、".join(words.flag(f) for f in report.flags)])
    return rows


def figure_rows(report: Report, words: Words) -> list[Any]:
    """The site's areas (each an area of a union: prohibited + buildable = footprint)."""
    t = words.t
    rows: list[list[Any]] = [
        [t["footprint"], area(report.footprint_area_m2)],
        [t["prohibited"], area(report.prohibited_area_m2())],
        *([[t["conditional"], area(report.conditional.area_m2)]] if report.conditional else []),
        [t["buildable"], f"{area(report.buildable.area_m2)}（{percent(report.buildable.share_pct)}）"],
    ]
    if report.repairs:
        rows.append([t["repairs"], "；".join(report.repairs)])
    return rows


def demolition_rows(report: Report, words: Words) -> list[list[Any]]:
    """The demolition figures and, where the table prices them, the compensation lines."""
    t, d, english = words.t, report.demolition, words.english
    rows: list[list[Any]] = [
        [t["buildings"], words.pick(f"{d.buildings:,} 栋", f"{d.buildings:,}")],
        [t["floor_area"], area(d.floor_area_m2)],
        [t["households"], words.pick(f"{d.households:,} 户", f"{d.households:,}")],
        [t["state_land"], area(d.state_land_m2)],
        [t["collective_land"], area(d.collective_land_m2)],
    ]
    if d.compensation is None:
        return rows
    rows.append([t["compensation"], yuan(d.compensation.total_yuan, english)])
    for line in d.compensation.lines:
        owner = line.owner_type if english else line.owner_type_zh
        price = f"{line.unit_price:,.0f} {'yuan/m²' if english else '元/m²'}"
        rows.append(
            [
                f"{t['zone']} {line.zone} · {owner}",
                f"{area(line.floor_area_m2)} × {price} = {yuan(line.amount_yuan, english)}",
            ]
        )
    if d.compensation.unpriced:
        names = "、".join(
            f"{u.building_code or u.fid}（{u.reason_en if english else u.reason_zh}）"
            for u in d.compensation.unpriced
        )
        rows.append([t["unpriced"], names])
    return rows


def version_rows(report: Report, words: Words) -> list[str]:
    """Each layer version the report used, by the layer's name, for the appendix."""
    return [f"{words.layer(code)} v{number}" for code, number in sorted(report.layer_versions.items())]


def not_checkable_rows(report: Report, words: Words) -> list[list[str]]:
    """Layers that cannot answer, one row per reason listing its layers (a long list stays short)."""
    by_reason: dict[str, list[str]] = {}
    for layer in report.not_checkable:
        reason = layer.reason_en if words.english else layer.reason_zh
        by_reason.setdefault(reason, []).append(words.layer(layer.layer, layer.layer_name_zh))
    return [[reason, "、".join(layers)] for reason, layers in by_reason.items()]
