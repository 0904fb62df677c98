"""The one window's printed documents: the receipt (受理回执), the correction letter (补正告知书) and the
issuance notice (出件通知), as HTML pages and A4 PDFs, Chinese first with English.

Each document is read from the database in one go (:func:`receipt`, :func:`letter`, :func:`issuance`)
into a plain context, then rendered without a connection by an autoescaping Jinja2 template under
templates/. Served, a page links the app's print stylesheet and font (no inline code: the app's strict
policy holds); for a PDF or a stored copy it carries the stylesheet and the subset font inline, with a
``<meta>`` policy allowing exactly that style, and WeasyPrint lays it out (analysis.report_pdf).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from markupsafe import Markup
from psycopg import Connection, sql
from psycopg.rows import dict_row

from analysis.print_page import ASSETS_DIR, ASSETS_PATH, FONT_PATH, environment, hash_source
from analysis.report_font import font_face_css
from analysis.report_pdf import render_pdf
from app.auth.deps import Grant
from app.calendar.store import load_calendar
from app.errors import Conflict, NotFound
from app.projects.templates import get_template
from app.window.applications import APP_ITEM_IDS, STAGE_NAMES, visibility
from layers.district import DISTRICT

_ENV = environment(Path(__file__).parent / "templates")

DECISIONS = {
    "approve": ("同意", "Approved"),
    "approve_conditional": ("有条件同意", "Approved with conditions"),
    "refuse": ("不同意", "Refused"),
}
# The service centre that runs the window (seeded by app/orgs/service.py).
SERVICE_CENTRE = "service-center"

# The items of application ``a`` (alias i for the item).
APPLICATION_ITEMS = sql.SQL("i.id IN (" + APP_ITEM_IDS + ")")


def pick(english: bool, zh: str | None, en: str | None) -> str:
    """The English text when asked for and known, else the Chinese."""
    return (en or zh or "") if english else (zh or en or "")


def local_day(at: datetime) -> date:
    """The day of a timestamp in the district's time zone."""
    return at.astimezone(DISTRICT.tz).date()


def local_minute(at: datetime) -> str:
    """A timestamp as people read it in the district: ``2026-02-12 09:30``."""
    return at.astimezone(DISTRICT.tz).strftime("%Y-%m-%d %H:%M")


def visible_application(conn: Connection[Any], grant: Grant, application_id: int) -> dict[str, Any]:
    """The application with its project and unit; 404 when it does not exist or the caller may not read it."""
    where, params = visibility(grant)
    query = sql.SQL(
        """
        SELECT a.id, a.number, a.project_id, a.stage, a.status, a.correction_rounds, a.accepted_at,
               a.issued_at, a.window_org_id, a.accepted_by, a.version, p.code AS project_code,
               p.name AS project_name, p.project_type, p.unit_org_id, u.name_zh AS unit_name_zh,
               u.name_en AS unit_name_en
        FROM approval.application a
        JOIN project.project p ON p.id = a.project_id
        JOIN auth.organisation u ON u.id = p.unit_org_id
        WHERE a.id = %(id)s AND {where}
        """
    ).format(where=where)
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(query, {"id": application_id, **params}).fetchone()
    if row is None:
        raise NotFound("申报件不存在。", "No such application.")
    return row


def application_items(conn: Connection[Any], application_id: int) -> list[dict[str, Any]]:
    """The application's items with department, promised limit, gaps and opinion (decision document name)."""
    query = sql.SQL(
        """
        SELECT i.id, i.item_code, i.name_zh, i.name_en, i.department_id, i.department_code, i.promised_days,
               i.status, i.missing_documents, i.supplement_due, o.code AS dept_code,
               o.name_zh AS dept_name_zh, o.name_en AS dept_name_en, op.decision, op.conditions,
               op.reasons, op.legal_basis, m.file_name AS document_name
        FROM approval.application a
        JOIN approval.item i ON {items}
        LEFT JOIN auth.organisation o ON o.id = i.department_id
        LEFT JOIN approval.opinion op ON op.item_id = i.id
        LEFT JOIN material.material m ON m.id = op.document_id
        WHERE a.id = %s ORDER BY i.id
        """
    ).format(items=APPLICATION_ITEMS)
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, (application_id,)).fetchall()


def material_names(project_type: str) -> dict[str, tuple[str, str]]:
    """Checklist names by code from the project type's template (empty until templates list materials)."""
    entries = getattr(get_template(project_type), "materials", None) or []
    out: dict[str, tuple[str, str]] = {}
    for entry in entries:
        code = getattr(entry, "code", None)
        if code:
            out[code] = (getattr(entry, "name_zh", code), getattr(entry, "name_en", None) or code)
    return out


def _org_names(conn: Connection[Any], org_id: int | None, code: str) -> tuple[str, str]:
    row = conn.execute(
        "SELECT name_zh, coalesce(name_en, name_zh) FROM auth.organisation"
        " WHERE id = %s OR (%s::bigint IS NULL AND code = %s) ORDER BY id = %s DESC LIMIT 1",
        (org_id, org_id, code, org_id),
    ).fetchone()
    return (row[0], row[1]) if row else (code, code)


def _head(app: dict[str, Any], english: bool) -> dict[str, Any]:
    """What every document names: the application, its project, unit and stage."""
    stage = STAGE_NAMES.get(app["stage"], (app["stage"], app["stage"]))
    return {
        "number": app["number"],
        "project_code": app["project_code"],
        "project_name": app["project_name"],
        "unit": pick(english, app["unit_name_zh"], app["unit_name_en"]),
        "stage": pick(english, *stage),
    }


def receipt(
    conn: Connection[Any], grant: Grant, application_id: int, english: bool, phone: str
) -> dict[str, Any]:
    """The receipt's context: items with promised completion dates on the working-day calendar, materials
    received, 容缺 gaps with their due dates, and the window's contact; 409 before acceptance."""
    app = visible_application(conn, grant, application_id)
    if app["accepted_at"] is None:
        raise Conflict(
            "申报件尚未受理，没有受理回执。",
            "The application is not accepted yet: no receipt.",
            code="not_accepted",
        )
    accepted_on = local_day(app["accepted_at"])
    cal = load_calendar(conn)
    items = application_items(conn, application_id)
    names = material_names(app["project_type"])
    rows, gaps = [], []
    for item in items:
        # The same due date as e-supervision's: the promised limit counted from the acceptance day.
        due = cal.add_working_days(accepted_on, item["promised_days"])
        dept = pick(english, item["dept_name_zh"], item["dept_name_en"]) or item["department_code"]
        rows.append([pick(english, item["name_zh"], item["name_en"]), dept, item["promised_days"], due])
        for gap in item["missing_documents"] or []:
            label = pick(english, *names[gap]) if gap in names else gap
            gaps.append([label, pick(english, item["name_zh"], item["name_en"]), item["supplement_due"]])
    materials = conn.execute(
        "SELECT am.material_code, m.file_name, m.version FROM approval.application_material am"
        " JOIN material.material m ON m.id = am.material_id WHERE am.application_id = %s"
        " ORDER BY am.material_code",
        (application_id,),
    ).fetchall()
    contact = conn.execute(
        "SELECT coalesce(nullif(display_name, ''), username) FROM auth.user WHERE id = %s",
        (app["accepted_by"],),
    ).fetchone()
    centre = _org_names(conn, app["window_org_id"], SERVICE_CENTRE)
    return {
        **_head(app, english),
        "accepted_on": accepted_on,
        "items": rows,
        "materials": [
            [pick(english, *names[code]) if code in names else code, file_name, version]
            for code, file_name, version in materials
        ],
        "gaps": gaps,
        "contact": contact[0] if contact else "",
        "centre": pick(english, *centre),
        "phone": phone,
        "provisional_years": cal.provisional_years_used(),
    }


def letter(
    conn: Connection[Any], grant: Grant, application_id: int, round_no: int, english: bool
) -> dict[str, Any]:
    """The consolidated correction letter of one round: every department's points by department and item."""
    app = visible_application(conn, grant, application_id)
    found = conn.execute(
        "SELECT id, sent_at, round_reason FROM approval.correction_letter"
        " WHERE application_id = %s AND round = %s",
        (application_id, round_no),
    ).fetchone()
    if found is None:
        raise NotFound("该轮补正告知书不存在。", "No correction letter of this round.")
    letter_id, sent_at, reason = found
    rows = conn.execute(
        """
        SELECT coalesce(o.name_zh, i.department_code), coalesce(o.name_en, o.name_zh, i.department_code),
               i.name_zh, i.name_en, r.points
        FROM approval.correction_request r
        JOIN approval.item i ON i.id = r.item_id
        LEFT JOIN auth.organisation o ON o.id = coalesce(r.department_id, i.department_id)
        WHERE r.letter_id = %s AND r.withdrawn_at IS NULL
        ORDER BY coalesce(o.code, i.department_code), i.id, r.id
        """,
        (letter_id,),
    ).fetchall()
    names = material_names(app["project_type"])
    groups: list[dict[str, Any]] = []
    for dept_zh, dept_en, item_zh, item_en, points in rows:
        dept = pick(english, dept_zh, dept_en)
        if not groups or groups[-1]["department"] != dept:
            groups.append({"department": dept, "items": []})
        entries = groups[-1]["items"]
        item = pick(english, item_zh, item_en)
        if not entries or entries[-1]["item"] != item:
            entries.append({"item": item, "points": []})
        for point in points:
            code = point.get("material_code")
            material = (pick(english, *names[code]) if code in names else code) if code else None
            entries[-1]["points"].append({"material": material, "text": point.get("text", "")})
    centre = _org_names(conn, app["window_org_id"], SERVICE_CENTRE)
    return {
        **_head(app, english),
        "round": round_no,
        "round_reason": reason,
        "sent_on": local_day(sent_at),
        "groups": groups,
        "centre": pick(english, *centre),
    }


def issuance(conn: Connection[Any], grant: Grant, application_id: int, english: bool) -> dict[str, Any]:
    """The issuance notice: each item's decision with its conditions or reasons and legal basis."""
    app = visible_application(conn, grant, application_id)
    if app["status"] != "issued" or app["issued_at"] is None:
        raise Conflict(
            "申报件尚未统一出件。", "The application's results are not issued yet.", code="not_issued"
        )
    rows = []
    for item in application_items(conn, application_id):
        decision = DECISIONS.get(item["decision"] or "")
        rows.append(
            {
                "item": pick(english, item["name_zh"], item["name_en"]),
                "department": pick(english, item["dept_name_zh"], item["dept_name_en"])
                or item["department_code"],
                "decision": pick(english, *decision) if decision else "—",
                "kind": item["decision"] or "none",
                "conditions": item["conditions"],
                "reasons": item["reasons"],
                "legal_basis": item["legal_basis"],
                "document": item["document_name"],
            }
        )
    centre = _org_names(conn, app["window_org_id"], SERVICE_CENTRE)
    return {
        **_head(app, english),
        "issued_on": local_day(app["issued_at"]),
        "items": rows,
        "centre": pick(english, *centre),
    }


# The labels of the documents, Chinese first; a template reads them as ``w``.
WORDS: dict[str, dict[str, str]] = {
    "zh": {
        "receipt": "受理回执",
        "letter": "补正告知书",
        "issuance": "出件通知",
        "number": "申报件编号",
        "project_code": "项目代码",
        "project_name": "项目名称",
        "unit": "建设单位",
        "stage": "审批阶段",
        "accepted_on": "受理日期",
        "items": "审批事项",
        "item": "事项",
        "department": "审批部门",
        "promised_days": "承诺时限（工作日）",
        "promised_date": "承诺办结日期",
        "materials": "已收材料",
        "material": "材料",
        "file": "文件",
        "version": "版本",
        "gaps": "容缺受理（待补材料）",
        "supplement_due": "补齐期限",
        "none": "无",
        "contact": "窗口联系方式",
        "contact_person": "受理人",
        "centre": "服务机构",
        "phone": "联系电话",
        "receipt_note": "承诺办结日期按工作日计算（扣除法定节假日，调休上班日计入），自受理之日的次日起算；"
        "补正期间（材料退回申请人至重新提交）不计入办理时限。",
        "provisional": "以下年份的工作日历为暂定（未含调休安排），日期可能调整：",
        "round": "补正轮次",
        "round_reason": "再次补正的理由",
        "sent_on": "告知日期",
        "points": "需补正的内容",
        "letter_intro": "经审查，你单位提交的申报材料需补正。现将各审批部门的补正意见一次性告知如下：",
        "letter_legal": "根据《中华人民共和国行政许可法》第三十二条，申请材料不齐全或者不符合法定形式的，"
        "应当一次告知申请人需要补正的全部内容。自本告知书送达之日起，上述审批事项的办理时限暂停计算，"
        "自你单位补正材料重新提交之日起恢复计算。请一次性补齐后向综合窗口重新提交。",
        "issued_on": "出件日期",
        "decision": "审批结果",
        "details": "条件、理由及依据",
        "conditions": "附加条件",
        "reasons": "不予许可理由",
        "legal_basis": "法律依据",
        "document": "决定文书",
        "issuance_intro": "你单位申报的审批事项已全部办结，现统一出件如下：",
    },
    "en": {
        "receipt": "Acceptance receipt",
        "letter": "Notice of required corrections",
        "issuance": "Notice of issued results",
        "number": "Application number",
        "project_code": "Project code",
        "project_name": "Project name",
        "unit": "Project unit",
        "stage": "Approval stage",
        "accepted_on": "Accepted on",
        "items": "Approval items",
        "item": "Item",
        "department": "Department",
        "promised_days": "Promised limit (working days)",
        "promised_date": "Promised completion date",
        "materials": "Materials received",
        "material": "Material",
        "file": "File",
        "version": "Version",
        "gaps": "Accepted with gaps (materials to supplement)",
        "supplement_due": "Due",
        "none": "None",
        "contact": "Window contact",
        "contact_person": "Accepted by",
        "centre": "Service centre",
        "phone": "Telephone",
        "receipt_note": "Promised dates count working days (statutory holidays excluded, make-up working days"
        " included) from the day after acceptance; time with the applicant for corrections does not count.",
        "provisional": "The working-day calendar of these years is provisional (no make-up days yet):",
        "round": "Correction round",
        "round_reason": "Reason for a further round",
        "sent_on": "Date of notice",
        "points": "To be corrected",
        "letter_intro": "Your application needs corrections. Every department's points, at once:",
        "letter_legal": "Under Article 32 of the Administrative Licensing Law of the PRC, an applicant is"
        " told at once of everything to be corrected. From the delivery of this notice the time limits of the"
        " items above stop; they resume on the day the corrected materials are resubmitted to the window.",
        "issued_on": "Issued on",
        "decision": "Decision",
        "details": "Conditions, reasons and legal basis",
        "conditions": "Conditions",
        "reasons": "Reasons for refusal",
        "legal_basis": "Legal basis",
        "document": "Decision document",
        "issuance_intro": "Every approval item of your application has been decided; the results are:",
    },
}
# Characters a page may show besides its own text (numbers and punctuation the templates add).
_EXTRA_GLYPHS = "0123456789-:/.,;()（）：；、—· "


def words(english: bool) -> dict[str, str]:
    """The documents' labels in one language."""
    return WORDS["en" if english else "zh"]


def served_page(template: str, context: dict[str, Any], english: bool) -> str:
    """A document as a served page: the app's print stylesheet and font by link, nothing inline."""
    return _ENV.get_template(template).render(
        {
            **context,
            "lang": "en" if english else "zh-CN",
            "w": words(english),
            "inline_css": None,
            "policy": None,
            "font": FONT_PATH,
            "assets": ASSETS_PATH,
        }
    )


def static_page(template: str, context: dict[str, Any], english: bool, font_dir: Path) -> str:
    """A document that carries its stylesheet and subset font inline (for a PDF or a stored copy); its
    ``<meta>`` policy allows that one style and nothing else."""
    base = {**context, "lang": "en" if english else "zh-CN", "w": words(english), "policy": None}
    text = _ENV.get_template(template).render({**base, "inline_css": ""})
    css = font_face_css(font_dir, text + _EXTRA_GLYPHS) + "\n" + (ASSETS_DIR / "print.css").read_text("utf-8")
    if "</style" in css.lower():
        raise ValueError("an inline stylesheet must not close its <style> element")
    policy = (
        f"default-src 'none'; style-src {hash_source(css)}; font-src data:; img-src data:; "
        "object-src 'none'; base-uri 'none'; form-action 'none'"
    )
    return _ENV.get_template(template).render({**base, "inline_css": Markup(css), "policy": policy})


def pdf(template: str, context: dict[str, Any], english: bool, font_dir: Path) -> bytes:
    """A document as an A4 PDF with its font embedded (CPU work: call it in a worker thread)."""
    return render_pdf(static_page(template, context, english, font_dir))
