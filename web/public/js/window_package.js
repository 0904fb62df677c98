// One package at the window (综合窗口): the checklist beside the actions — accept (受理), accept with gaps
// (容缺受理: non-required missing materials, a supplement date each), return once (一次性退件: one list of
// points), the consolidated correction letter (一次性告知: every open department request, a second round
// with a reason), unified issuance (统一出件) — with the receipt, letters and issuance notice to print.
import { api } from "./api.js";
import { formatDate, t } from "./i18n.js";
import {
  appFacts, appStatus, appTitle, checklistTable, documentLinks, eventsTable, itemsTable, lettersView, notice, pointsEditor,
  pointsList, send,
} from "./applications_common.js";
import { el, field, itemName } from "./projects_common.js";

export class WindowPackage {
  /** ctx: {rerender, back, changed}. */
  constructor(ctx) {
    this.ctx = ctx;
    this.close();
  }

  close() {
    Object.assign(this, { app: null, id: null, error: null, message: null, busy: false, gaps: new Map(),
      returnRows: [{ material_code: "", text: "" }], returnReason: "", letterReason: "" });
  }

  /** Open a package of the queue. */
  async open(id) {
    this.close();
    this.id = id;
    this.app = { id, number: "…", checklist: [], items: [] };
    await this.reload();
  }

  async reload() {
    try {
      this.app = await api(`/api/applications/${this.id}`);
      this.error = null;
    } catch (error) {
      this.error = error;
    }
    this.ctx.rerender();
  }

  render() {
    const app = this.app;
    const back = el("button", { type: "button", id: "win-back", textContent: t("winBack") });
    back.addEventListener("click", () => this.ctx.back());
    const section = el("section", { id: "win-package", className: "ap-package" }, back,
      el("h3", { id: "win-title", textContent: appTitle(app) }), notice(this.error, "win-package-error"),
      notice(this.message, "win-notice"));
    section.dataset.status = app.status ?? "";
    section.dataset.version = String(app.version ?? "");
    section.append(el("div", { className: "ap-columns" },
      el("div", { className: "ap-main" }, appFacts(app), el("h4", { textContent: t("apChecklist") }), this.#checklist()),
      el("aside", { className: "ap-side", id: "win-actions" }, this.#documents(), ...this.#actions())));
    section.append(el("h4", { textContent: t("apItems") }), itemsTable(app, { id: "win-items" }),
      lettersView(app, { id: "win-letters" }), el("h4", { textContent: t("pjEvents") }), eventsTable(app, "win-events"));
    return section;
  }

  #may(action) { return (this.app.allowed_actions ?? []).includes(action); }

  /** The checklist; while the package may be accepted, a 容缺 column for missing non-required materials. */
  #checklist() {
    const extra = [];
    if (this.#may("accept")) {
      extra.push({ key: "gap", head: t("winGap"), cell: entry => this.#gapCell(entry) });
    }
    return checklistTable(this.app, { id: "win-checklist", extra });
  }

  #gapCell(entry) {
    if (entry.state === "attached") return el("span", { textContent: "—" });
    if (entry.required) return el("span", { className: "note", textContent: t("winGapRequired") });
    const chosen = this.gaps.has(entry.code);
    const box = el("input", { type: "checkbox", id: `win-gap-${entry.code}`, checked: chosen });
    box.setAttribute("aria-label", t("winGapChoose"));
    box.addEventListener("change", () => {
      if (box.checked) this.gaps.set(entry.code, this.gaps.get(entry.code) ?? "");
      else this.gaps.delete(entry.code);
      this.ctx.rerender();
    });
    const wrap = el("span", { className: "ap-gap" }, box);
    if (chosen) {
      const due = el("input", { type: "date", id: `win-gap-due-${entry.code}`, value: this.gaps.get(entry.code) });
      due.setAttribute("aria-label", t("winGapDue"));
      due.addEventListener("change", () => this.gaps.set(entry.code, due.value));
      wrap.append(el("span", { className: "note", textContent: t("winGapDue") }), due);
    }
    return wrap;
  }

  #actions() {
    const parts = [];
    const status = this.app.status;
    if (!this.app.allowed_actions?.length) {
      parts.push(el("p", { className: "note", id: "win-no-actions", textContent: t("winNoActions", appStatus(status)) }));
    }
    if (this.#may("accept")) parts.push(this.#acceptBox());
    if (this.#may("return")) parts.push(this.#returnBox());
    if (this.#may("send_letter") || this.app.open_requests?.length) parts.push(this.#letterBox());
    if (this.#may("issue")) parts.push(this.#issueBox());
    return parts;
  }

  #acceptBox() {
    const accept = this.#button("win-accept", "winAccept", "primary", () => this.#accept(false));
    const gaps = this.#button("win-accept-gaps", "winAcceptGaps", "", () => this.#accept(true));
    gaps.disabled = this.busy || !this.gaps.size;
    return el("div", { className: "ap-box", id: "win-accept-box" }, el("h4", { textContent: t("winAcceptTitle") }),
      el("p", { className: "note", textContent: t("winAcceptHint") }),
      el("p", { className: "note", id: "win-gap-count", textContent: t("winGapCount", this.gaps.size) }),
      el("div", { className: "pj-buttons" }, accept, gaps));
  }

  #returnBox() {
    const editor = pointsEditor(this.app, "win-return-points", this.returnRows);
    const box = el("div", { className: "ap-box", id: "win-return-box" }, el("h4", { textContent: t("winReturnTitle") }),
      el("p", { className: "note", textContent: t("winReturnHint") }), editor.node);
    const returnedBefore = (this.app.events ?? []).some(e => e.action === "return");
    if (returnedBefore) {
      const reason = el("textarea", { rows: 2, maxLength: 2000, value: this.returnReason });
      reason.addEventListener("input", () => { this.returnReason = reason.value; });
      box.append(field("win-return-reason", t("winSecondReason"), reason, t("winSecondReturnHint")).wrap);
    }
    box.append(el("div", { className: "pj-buttons" }, this.#button("win-return", "winReturn", "", () => this.#return(editor.read()))));
    return box;
  }

  /** Every open department request, listed before the one letter is sent; a second round needs a reason. */
  #letterBox() {
    const open = this.app.open_requests ?? [];
    const box = el("div", { className: "ap-box", id: "win-letter-box" }, el("h4", { textContent: t("winLetterTitle") }));
    if (!open.length) {
      box.append(el("p", { className: "note", id: "win-no-requests", textContent: t("winNoRequests") }));
      return box;
    }
    box.append(el("p", { className: "note", id: "win-request-count", textContent: t("winRequestCount", open.length,
      new Set(open.map(r => r.department_name)).size) }));
    const list = el("div", { id: "win-requests" });
    for (const request of open) {
      const item = (this.app.items ?? []).find(i => i.id === request.item_id);
      const head = [request.department_name, item ? itemName(item) : null, formatDate(request.requested_at, true)].filter(Boolean).join(" · ");
      const block = el("article", { className: "ap-request" }, el("p", { className: "ap-request-head", textContent: head }),
        pointsList(this.app, request.points));
      block.dataset.department = request.department_name ?? "";
      list.append(block);
    }
    box.append(list);
    if (!this.#may("send_letter")) return box;
    if ((this.app.correction_rounds ?? 0) >= 1) {
      const reason = el("textarea", { rows: 2, maxLength: 2000, value: this.letterReason });
      reason.addEventListener("input", () => { this.letterReason = reason.value; });
      box.append(field("win-letter-reason", t("winSecondReason"), reason, t("winSecondRoundHint")).wrap);
    }
    box.append(el("div", { className: "pj-buttons" }, this.#button("win-send-letter", "winSendLetter", "primary", () => this.#sendLetter())));
    return box;
  }

  #issueBox() {
    return el("div", { className: "ap-box", id: "win-issue-box" }, el("h4", { textContent: t("winIssueTitle") }),
      el("p", { className: "note", textContent: t("winIssueHint") }),
      el("div", { className: "pj-buttons" }, this.#button("win-issue", "winIssue", "primary", () => this.#issue())));
  }

  #documents() {
    const app = this.app;
    const kinds = [];
    if (app.accepted_at) kinds.push(["apReceipt", `/api/applications/${app.id}/receipt`, "receipt", "win-receipt"]);
    if (app.issued_at || app.status === "issued") kinds.push(["apIssuance", `/api/applications/${app.id}/issuance`, "issuance", "win-issuance"]);
    if (!kinds.length) return null;
    return el("div", { id: "win-docs", className: "ap-box" }, el("h4", { textContent: t("apDocuments") }), documentLinks(app, kinds));
  }

  #button(id, key, className, onClick) {
    const button = el("button", { type: "button", id, className, textContent: t(key) });
    button.disabled = this.busy;
    button.addEventListener("click", onClick);
    return button;
  }

  /** POST an action with the version read; reload to show the result (or keep the page and say why not). */
  async #post(path, body, okKey) {
    this.busy = true;
    this.message = null;
    this.ctx.rerender();
    try {
      await send(path, "POST", { version: this.app.version, ...body });
      this.message = { ok: [okKey, this.app.number] };
      return true;
    } catch (error) {
      this.message = error;
      return false;
    } finally {
      this.busy = false;
      await this.reload();
      this.ctx.changed?.();
    }
  }

  async #accept(withGaps) {
    let gaps = [];
    if (withGaps) {
      gaps = [...this.gaps].map(([code, due]) => ({ material_code: code, supplement_due: due }));
      if (gaps.some(g => !g.supplement_due)) { this.message = { key: "winErrGapDue" }; this.ctx.rerender(); return; }
    }
    if (await this.#post(`/api/applications/${this.id}/accept`, { gaps }, withGaps ? "winAcceptedGaps" : "winAccepted")) this.gaps = new Map();
  }

  async #return(points) {
    if (!points.length) { this.message = { key: "winErrPoints" }; this.ctx.rerender(); return; }
    const body = { points };
    if (this.returnReason.trim()) body.reason = this.returnReason.trim();
    if (await this.#post(`/api/applications/${this.id}/return`, body, "winReturned")) {
      this.returnRows = [{ material_code: "", text: "" }];
      this.returnReason = "";
    }
  }

  async #sendLetter() {
    const body = {};
    if ((this.app.correction_rounds ?? 0) >= 1) {
      if (!this.letterReason.trim()) { this.message = { key: "winErrRoundReason" }; this.ctx.rerender(); return; }
      body.round_reason = this.letterReason.trim();
    }
    if (await this.#post(`/api/applications/${this.id}/correction-letter`, body, "winLetterSent")) this.letterReason = "";
  }

  async #issue() {
    await this.#post(`/api/applications/${this.id}/issue`, {}, "winIssued");
  }
}
