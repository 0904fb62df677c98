"""The printed report (正式报告): PDF text read back with pypdf (not the producer), the verification hash
computed here from the stored row, the verify route, and labels instead of codes (known answers)."""

from __future__ import annotations

import hashlib
import io
import json
import re
from typing import Any

import psycopg
import pytest
from pypdf import PdfReader

from app.auth.policy import Role
from tests.conftest import DemoEnv
from tests.preeval_world import CANDIDATES, geojson

# Every department of the rule set, by name (known answers: analysis/rules/_ruleset.yaml).
FORESTRY_ZH = "龙岗区城市管理和综合执法局（林业）"
FORESTRY_EN = "Longgang District Urban Management and Law Enforcement Bureau (Forestry)"


@pytest.fixture(scope="module")
def stored(preeval_world: DemoEnv) -> tuple[dict[str, Any], dict[str, str]]:
    """Candidate 甲 (half on grade Ⅰ forest, B1 demolished), stored; with its owner's headers."""
    unit = preeval_world.account(Role.PROJECT_UNIT, "works")
    body = {"footprint": geojson(CANDIDATES["甲"]), "project_type": "school", "project_code": "P-PDF"}
    r = preeval_world.client.post("/api/pre-evaluations", headers=unit.headers, json=body)
    assert r.status_code == 201, r.text
    return r.json(), unit.headers


def _stored_sha256(env: DemoEnv, report_id: int) -> str:
    """The digest as documented: the stored JSON, keys sorted, no whitespace, UTF-8 — read independently."""
    with psycopg.connect(env.settings.owner_dsn) as conn:
        row = conn.execute(
            "SELECT report::text FROM project.pre_evaluation WHERE id = %s", (report_id,)
        ).fetchone()
    text = json.dumps(json.loads(row[0]), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _pdf(env: DemoEnv, report_id: int, headers: dict[str, str], lang: str) -> tuple[str, int]:
    r = env.client.get(f"/api/pre-evaluations/{report_id}/report.pdf", params={"lang": lang}, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF-")
    assert "attachment" in r.headers["content-disposition"]
    reader = PdfReader(io.BytesIO(r.content))
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    return re.sub(r"[ \t]+", " ", text), len(reader.pages)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_pdf_states_the_verdict_figures_and_verification(
    preeval_world: DemoEnv, stored: tuple[dict[str, Any], dict[str, str]], lang: str
) -> None:
    created, headers = stored
    report, report_id = created["report"], created["id"]
    text, pages = _pdf(preeval_world, report_id, headers, lang)
    assert 1 <= pages <= 6
    flat = re.sub(r"\s+", "", text)  # lines break anywhere: compare without white space
    words = re.sub(r"\s+", " ", text)
    if lang == "zh":
        # Chinese comes back as Chinese: the embedded font maps its glyphs to Unicode.
        assert "项目预评价报告" in flat and "不通过" in flat and "多规合一平台" in flat
        assert FORESTRY_ZH in flat
    else:
        assert "Pre-evaluation report" in words and "rejected" in words
        assert FORESTRY_EN.replace(" ", "") in flat
        assert "forestry" not in re.findall(r"\b[a-z-]+\b", words)  # the department's code
    # The grade Ⅰ forest finding: 5,000.0 m² of a 10,000 m² site, as in the JSON report.
    forest = next(f for f in report["findings"] if f["rule_id"] == "forest_land.grade_i")
    assert f"{forest['overlap_m2']:,.1f} m²" == "5,000.0 m²" and "5,000.0m²" in flat
    assert f"{forest['share_pct']:.2f}%" in flat
    assert f"{report['footprint_area_m2']:,.1f}m²" in flat
    # No internal codes: rule ids and layer codes are not printed.
    assert "forest_land.grade_i" not in flat and "cur_building" not in flat
    # The verification line: the report's number and the SHA-256 of the stored report.
    digest = _stored_sha256(preeval_world, report_id)
    assert digest in flat
    assert f"{report_id}" in flat


def test_verify_says_whether_a_printed_hash_matches(
    preeval_world: DemoEnv, stored: tuple[dict[str, Any], dict[str, str]]
) -> None:
    created, headers = stored
    digest = _stored_sha256(preeval_world, created["id"])
    url = f"/api/pre-evaluations/{created['id']}/verify"
    ok = preeval_world.client.get(url, params={"sha256": digest.upper()}, headers=headers)
    assert ok.status_code == 200 and ok.json() == {"id": created["id"], "matches": True, "sha256": digest}
    wrong = "0" * 64
    bad = preeval_world.client.get(url, params={"sha256": wrong}, headers=headers)
    assert bad.status_code == 200 and bad.json()["matches"] is False
    for nonsense in ("abc", "g" * 64, digest + "0"):
        r = preeval_world.client.get(url, params={"sha256": nonsense}, headers=headers)
        assert r.status_code == 422, nonsense
    other = preeval_world.account(Role.PROJECT_UNIT, "pnr")
    hidden = preeval_world.client.get(url, params={"sha256": digest}, headers=other.headers)
    assert hidden.status_code == 404
    assert preeval_world.client.get(url, params={"sha256": digest}).status_code == 401


def test_the_html_report_is_a_document_without_codes(
    preeval_world: DemoEnv, stored: tuple[dict[str, Any], dict[str, str]]
) -> None:
    created, headers = stored
    url = f"/api/pre-evaluations/{created['id']}/report.html"
    zh = preeval_world.client.get(url, params={"lang": "zh"}, headers=headers).text
    en = preeval_world.client.get(url, params={"lang": "en"}, headers=headers).text
    assert FORESTRY_ZH in zh and FORESTRY_EN in en
    document = re.sub(r"<script>.*?</script>", "", en.split("<body", 1)[1], flags=re.DOTALL)
    for code in ("forestry", "pnr", "forest_land.grade_i", ">school<", "cur_building"):
        assert code not in document, code
    # The static site map: an SVG with the footprint and one shape per conflicting feature part.
    assert document.count('class="site-footprint"') == 1
    assert 'class="site-conflict site-prohibited"' in document
    digest = _stored_sha256(preeval_world, created["id"])
    assert digest in zh and digest in en


def test_a_department_named_in_one_language_is_refused_clearly() -> None:
    from pydantic import ValidationError

    from analysis.rules.schema import Department

    with pytest.raises(ValidationError, match="name_zh and name_en"):
        Department.model_validate("规划和自然资源局")
    with pytest.raises(ValidationError, match="name_en"):
        Department.model_validate({"name_zh": "规划和自然资源局"})
