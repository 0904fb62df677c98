// Bulk update from a spreadsheet (POST …/bulk, demolition:manage): a dry run lists what would change and every
// problem; only a clean dry run of the same file can be applied, and the apply is all-or-nothing (the API checks
// every row again under row locks; a problem then answers 409 bulk_refused with its report).
import { api, download, errorText } from "./api.js";
import { currentLang, pick, t } from "./i18n.js";
import { el } from "./panels.js";
import { fill, formatNumber } from "./demolition_progress.js";
import { ownerTypeName } from "./demolition_ledger.js";

export class BulkPanel {
  constructor(page) {
    this.page = page;
    this.root = el("details", { className: "dm-tool", id: "dm-bulk" });
    this.reset();
  }

  reset() {
    Object.assign(this, { file: null, report: null, applied: null, error: null, busy: false });
  }

  render() {
    const input = el("input", { type: "file", id: "dm-bulk-file", accept: ".xlsx,.csv" });
    input.addEventListener("change", () => {
      Object.assign(this, { file: input.files[0] ?? null, report: null, applied: null, error: null });
      this.render();
    });
    const template = el("button", { type: "button", className: "link", textContent: t("dmTemplate") });
    template.addEventListener("click", () => download("/api/demolition/templates/bulk.xlsx", "demolition-bulk-template.xlsx")
      .catch(error => { this.error = error; this.render(); }));
    const check = el("button", { type: "button", id: "dm-bulk-check", disabled: this.busy, textContent: t("dmBulkCheck") });
    check.addEventListener("click", () => this.#send(true));
    const canApply = this.report && !this.report.problems.length && this.report.changes.length && !this.applied;
    const apply = canApply ? el("button", { type: "button", className: "primary", id: "dm-bulk-apply", disabled: this.busy, textContent: t("dmBulkApply", this.report.units_changed) }) : null;
    apply?.addEventListener("click", () => this.#send(false));
    const form = el("div", { className: "dm-form", id: "dm-bulk-form" },
      el("p", { className: "note" }, t("dmBulkHint"), " ", template),
      el("label", { htmlFor: input.id, textContent: t("dmBulkFile") }), input,
      this.file ? el("p", { className: "note", id: "dm-bulk-chosen", textContent: t("dmBulkChosen", this.file.name) }) : null,
      el("div", { className: "dm-actions" }, check, apply));
    fill(this.root, el("summary", { textContent: t("dmBulk") }), form, this.#outcome());
    return this.root;
  }

  #outcome() {
    const report = this.report ?? this.error?.problem?.report ?? null;
    const parts = [];
    if (this.error) parts.push(el("p", { className: "error", role: "alert", textContent: errorText(this.error) }));
    if (this.applied) parts.push(el("p", { className: "ok", role: "status", textContent: t("dmBulkApplied", this.applied.units_changed, this.applied.changes.length) }));
    if (report) {
      if (!this.applied) {
        const verdict = report.problems.length ? t("dmBulkRefused", report.problems.length)
          : report.changes.length ? t("dmBulkWould", report.rows, report.units_changed, report.changes.length) : t("dmBulkNothing", report.rows);
        parts.push(el("p", { className: report.problems.length ? "error" : "note", id: "dm-bulk-verdict", textContent: verdict }));
      }
      if (report.changes.length) parts.push(this.#changes(report.changes));
      if (report.problems.length) parts.push(this.#problems(report.problems));
    }
    return parts.length ? el("div", { className: "report", id: "dm-bulk-report" }, ...parts) : null;
  }

  /** A changed value as people read it (status and ownership names, sub-district names). */
  #value(field, value) {
    if (value == null || value === "") return "—";
    if (field === "status") return pick(this.page.status(value));
    if (field === "owner_type") return ownerTypeName(value);
    if (field === "subdistrict_code") return this.page.orgName(value);
    if (/^-?\d+(\.\d+)?$/.test(value)) return formatNumber(value);
    return value;
  }

  #changes(changes) {
    const rows = changes.map(c => el("tr", {},
      el("td", { className: "num", textContent: String(c.row) }),
      el("td", { textContent: c.unit_code }),
      el("td", { textContent: c.field === "status" ? t("dmStatus") : t("dmFields")[c.field] ?? c.field }),
      el("td", { textContent: this.#value(c.field, c.from_value) }),
      el("td", { textContent: this.#value(c.field, c.to_value) })));
    const head = ["dmRowNo", "dmUnitCode", "dmField", "dmFrom", "dmTo"];
    return el("div", { className: "table-scroll" }, el("table", { className: "dm-table dm-bulk-changes" },
      el("caption", { textContent: this.applied ? t("dmBulkChangesDone") : t("dmBulkChanges") }),
      el("thead", {}, el("tr", {}, ...head.map(h => el("th", { scope: "col", textContent: t(h) })))),
      el("tbody", {}, ...rows)));
  }

  #problems(problems) {
    const say = p => (currentLang() === "en" ? p.message_en : p.message_zh);
    return el("div", {}, el("h4", { textContent: t("dmBulkProblems") }),
      el("ul", { className: "dm-bulk-problems" }, ...problems.map(p =>
        el("li", { textContent: `${p.row != null ? t("dmRow", p.row) : ""}${p.unit_code ? ` ${p.unit_code}` : ""}：${say(p)}` }))));
  }

  async #send(dryRun) {
    if (!this.file) { this.error = { message: t("dmChooseFile") }; this.render(); return; }
    const body = new FormData();
    body.append("file", this.file);
    Object.assign(this, { busy: true, error: null, applied: null });
    if (dryRun) this.report = null;
    this.render();
    let answer = null;
    try {
      answer = await api(`/api/demolition/projects/${this.page.projectId}/bulk?dry_run=${dryRun}`, { method: "POST", body });
    } catch (error) {
      Object.assign(this, { error, report: null });
    }
    this.busy = false;
    if (answer && dryRun) this.report = answer;
    if (answer && !dryRun) {
      Object.assign(this, { applied: answer, report: answer });
      await this.page.changed();
      if (this.page.unit.unitId != null) await this.page.openUnit(this.page.unit.unitId); // its log grew
      return;
    }
    this.render();
  }
}
