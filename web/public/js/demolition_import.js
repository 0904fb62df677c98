// Units from a spreadsheet (the import route, demolition:manage): the template, the upload and its report —
// all-or-nothing, so a refused file lists every problem and nothing is written.
import { api, download, errorText } from "./api.js";
import { currentLang, t } from "./i18n.js";
import { el } from "./panels.js";
import { fill } from "./demolition_progress.js";

export class ImportPanel {
  constructor(page) {
    this.page = page;
    this.root = el("details", { className: "dm-import", id: "dm-import" });
    this.reset();
  }

  reset() {
    Object.assign(this, { report: null, error: null, busy: false });
  }

  /** The panel (a persistent node, so it stays open across redraws). */
  render() {
    const file = el("input", { type: "file", id: "dm-import-file", accept: ".xlsx,.csv" });
    const template = el("button", { type: "button", className: "link", textContent: t("dmTemplate") });
    template.addEventListener("click", () => download("/api/demolition/templates/ledger.xlsx", "demolition-ledger-template.xlsx")
      .catch(error => { this.error = error; this.render(); }));
    const form = el("form", { className: "dm-form", id: "dm-import-form" },
      el("p", { className: "note" }, t("dmImportHint"), " ", template),
      el("label", { htmlFor: file.id, textContent: t("dmImportFile") }), file,
      el("button", { type: "submit", className: "primary", disabled: this.busy, textContent: this.busy ? t("dmImporting") : t("dmImportSend") }));
    form.addEventListener("submit", event => { event.preventDefault(); this.#send(file.files[0]); });
    fill(this.root, el("summary", { textContent: t("dmImport") }), form, this.#outcome());
    return this.root;
  }

  #outcome() {
    if (this.report) {
      const r = this.report;
      return el("div", { className: "report", id: "dm-import-report", role: "status" },
        el("p", { className: "ok", textContent: t("dmImported", r.created) }),
        r.unit_codes.length ? el("p", { textContent: r.unit_codes.join("、") }) : null,
        r.skipped.length ? el("p", { className: "note", textContent: t("dmImportSkipped", r.skipped.join("、")) }) : null);
    }
    if (!this.error) return null;
    const problems = this.error.problem?.problems ?? [];
    const say = p => (currentLang() === "en" ? p.message_en : p.message_zh);
    return el("div", { className: "report", id: "dm-import-report", role: "alert" },
      el("p", { className: "error", textContent: errorText(this.error) }),
      problems.length ? el("ul", {}, ...problems.map(p =>
        el("li", { textContent: `${p.row != null ? t("dmRow", p.row) : ""}${p.unit_code ? ` ${p.unit_code}` : ""}：${say(p)}` }))) : null);
  }

  async #send(file) {
    if (!file) { this.error = { message: t("dmChooseFile") }; this.report = null; this.render(); return; }
    const body = new FormData();
    body.append("file", file);
    Object.assign(this, { busy: true, error: null, report: null });
    this.render();
    try {
      this.report = await api(`/api/demolition/projects/${this.page.projectId}/units/import`, { method: "POST", body });
    } catch (error) {
      this.error = error;
    }
    this.busy = false;
    if (this.report) await this.page.changed(); else this.render();
  }
}
