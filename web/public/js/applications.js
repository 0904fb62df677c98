// A project's applications by stage (申报件) on the project page: open one for the next open stage, fill its
// materials checklist (upload, or pick a version the library offers: 资料不重复提交), submit or withdraw, follow
// each item (status, department, clock, opinion), and answer the one correction letter (its points, replaced
// materials, resubmission). Hooked into the project page (projects_plan.js) for roles with applications:read.
import { api } from "./api.js";
import { formatDate, pick, t } from "./i18n.js";
import {
  appFacts, appStatus, checklistTable, documentLinks, itemsTable, lettersView, notice, pointsList, send,
  STAGES, stageName,
} from "./applications_common.js";
import { el, field, label, select, table } from "./projects_common.js";

const DONE = new Set(["approved", "rejected", "cancelled", "merged"]);
const CLOSED = new Set(["issued", "withdrawn"]);

export class ProjectApplications {
  /** ctx: {project(), plan(), may(action), rerender()}. */
  constructor(ctx) {
    this.ctx = ctx;
    this.reset();
  }

  reset() {
    Object.assign(this, { list: null, app: null, openId: null, error: null, message: null, busy: false,
      draft: { stage: "", contact_name: "", contact_phone: "" }, files: new Map(), validity: new Map(), picks: new Map() });
  }

  /** The project's applications, and the one opened (the latest still open, when none was chosen). */
  async load() {
    const project = this.ctx.project();
    if (!project) return;
    try {
      this.list = await api(`/api/applications?project_id=${project.id}`);
      this.error = null;
      this.openId ??= this.list.find(a => !CLOSED.has(a.status))?.id ?? null;
      this.app = this.openId ? await api(`/api/applications/${this.openId}`) : null;
    } catch (error) {
      this.error = error;
    }
  }

  render() {
    const box = el("section", { id: "ap-section", className: "pj-link ap-section" }, el("h3", { textContent: t("apSection") }),
      el("p", { className: "note", textContent: t("apSectionHint") }), notice(this.error, "ap-error"), notice(this.message, "ap-notice"));
    if (this.list == null) return box;
    if (this.list.length) box.append(this.#listTable());
    if (this.ctx.may("applications:submit")) box.append(this.#openForm());
    if (this.app) box.append(this.#detail());
    return box;
  }

  /** The next stage that may be applied for: the first with items not done and no open application. */
  #nextStage() {
    const items = this.ctx.plan()?.items ?? [];
    const open = new Set((this.list ?? []).filter(a => !CLOSED.has(a.status)).map(a => a.stage));
    for (const stage of STAGES) {
      const pending = items.some(i => i.stage === stage && !DONE.has(i.status));
      if (!pending) continue;
      return open.has(stage) ? null : stage; // an earlier stage still open blocks the later ones
    }
    return null;
  }

  #listTable() {
    const open = app => {
      const button = el("button", { type: "button", className: "link", textContent: app.number });
      button.addEventListener("click", async () => { this.openId = app.id; this.message = null; await this.load(); this.ctx.rerender(); });
      return button;
    };
    return table([
      { key: "number", head: t("apNumber"), cell: open },
      { key: "stage", head: t("pjStage"), cell: stageName },
      { key: "status", head: t("apStatusLabel"), cell: a => appStatus(a.status) },
      { key: "submitted", head: t("apSubmittedAt"), cell: a => formatDate(a.submitted_at, true) },
      { key: "issued", head: t("apIssuedAt"), cell: a => formatDate(a.issued_at, true) },
    ], this.list, { id: "ap-list", rowProps: a => ({ id: String(a.id), status: a.status, className: a.id === this.openId ? "open" : "" }) });
  }

  #openForm() {
    const stage = this.#nextStage();
    if (!stage) return el("p", { className: "note", id: "ap-no-stage", textContent: t("apNoStage") });
    const d = this.draft;
    d.stage = stage;
    const bind = (key, input) => {
      input.value = d[key];
      input.addEventListener("input", () => { d[key] = input.value; });
      return input;
    };
    const create = el("button", { type: "button", id: "ap-open", className: "primary", textContent: t("apOpen", label("pjStages", stage)) });
    create.disabled = this.busy;
    create.addEventListener("click", () => this.#act(async () => {
      const body = { project_id: this.ctx.project().id, stage };
      if (d.contact_name.trim()) body.contact_name = d.contact_name.trim();
      if (d.contact_phone.trim()) body.contact_phone = d.contact_phone.trim();
      const app = await send("/api/applications", "POST", body);
      this.openId = app.id;
      return app;
    }, app => ["apOpened", app.number]));
    return el("div", { className: "pj-tools", id: "ap-open-form" },
      field("ap-contact-name", t("apContactName"), bind("contact_name", el("input", { maxLength: 100 }))).wrap,
      field("ap-contact-phone", t("apContactPhone"), bind("contact_phone", el("input", { maxLength: 40, type: "tel" }))).wrap,
      create);
  }

  #may(action) { return (this.app?.allowed_actions ?? []).includes(action); }

  #detail() {
    const app = this.app;
    // While the package is with the unit every entry may change; after acceptance only the gaps (容缺) are
    // supplied, through the same attach.
    const supplementing = !this.#may("attach") && this.#may("supplement");
    const tools = entry => (!supplementing || (entry.gap && entry.state !== "attached") ? this.#materialTools(entry) : "—");
    const extra = this.#may("attach") || supplementing ? [{ key: "act", head: t("apMaterialActions"), cell: tools }] : [];
    const box = el("article", { id: "ap-detail", className: "ap-package" },
      el("h4", { id: "ap-title", textContent: `${app.number} · ${stageName(app)} · ${appStatus(app.status)}` }), appFacts(app));
    box.dataset.status = app.status;
    box.dataset.version = String(app.version);
    const returned = this.#returnPoints();
    if (returned) box.append(returned);
    const letter = this.#openLetter();
    if (letter) box.append(letter);
    box.append(el("h4", { textContent: t("apChecklist") }));
    if (supplementing) box.append(el("p", { className: "note", id: "ap-supplement-hint", textContent: t("apSupplementHint") }));
    box.append(checklistTable(app, { id: "ap-checklist", extra }), this.#buttons(),
      el("h4", { textContent: t("apProgress") }), itemsTable(app, { id: "ap-items" }));
    if (app.accepted_at) box.append(documentLinks(app, [["apReceipt", `/api/applications/${app.id}/receipt`, "receipt", "ap-receipt"]]));
    if (app.status === "issued") box.append(documentLinks(app, [["apIssuance", `/api/applications/${app.id}/issuance`, "issuance", "ap-issuance"]]));
    box.append(lettersView(app, { id: "ap-letters" }));
    return box;
  }

  /** The window's one list of points when it returned the package (the last return). */
  #returnPoints() {
    if (this.app.status !== "returned") return null;
    const last = [...(this.app.events ?? [])].reverse().find(e => e.action === "return");
    const points = last?.detail?.points ?? [];
    if (!points.length) return null;
    return el("div", { className: "ap-box ap-callout", id: "ap-returned" }, el("h4", { textContent: t("apReturnedTitle") }),
      pointsList(this.app, points, "ap-returned-points"));
  }

  /** The correction letter waiting for an answer: its points, then replace materials and resubmit. */
  #openLetter() {
    if (this.app.status !== "correction") return null;
    const letter = [...(this.app.letters ?? [])].reverse().find(l => !l.resubmitted_at);
    if (!letter) return null;
    return el("div", { className: "ap-box ap-callout", id: "ap-open-letter" },
      el("h4", { textContent: t("apLetterToAnswer", letter.round, formatDate(letter.sent_at, true)) }),
      pointsList(this.app, letter.points, "ap-letter-points"),
      el("p", { className: "note", textContent: t("apLetterAnswerHint") }));
  }

  #buttons() {
    const row = el("div", { className: "pj-buttons", id: "ap-actions" });
    const add = (action, key, className, path, okKey) => {
      if (!this.#may(action)) return;
      const button = el("button", { type: "button", id: `ap-${action}`, className, textContent: t(key) });
      button.disabled = this.busy;
      button.addEventListener("click", () => this.#act(() => send(`/api/applications/${this.app.id}/${path}`, "POST", { version: this.app.version }),
        () => [okKey, this.app.number]));
      row.append(button);
    };
    add("submit", "apSubmit", "primary", "submit", "apSubmitted");
    add("resubmit", "apResubmit", "primary", "resubmit", "apResubmittedOk");
    add("withdraw", "apWithdraw", "", "withdraw", "apWithdrawn");
    return row;
  }

  /** Upload a file for an entry, or attach a version the library offers, or take the attached one away. */
  #materialTools(entry) {
    const code = entry.code;
    const wrap = el("div", { className: "ap-tools" });
    wrap.dataset.material = code;
    const offered = (entry.offered ?? []).filter(m => m.material_id !== entry.attached?.material_id);
    if (offered.length) {
      const choice = select(offered.map(m => [String(m.material_id), this.#offerText(m)]), this.picks.get(code) ?? String(offered[0].material_id));
      choice.id = `ap-offer-${code}`;
      choice.setAttribute("aria-label", t("apOffered"));
      choice.addEventListener("change", () => this.picks.set(code, choice.value));
      const use = el("button", { type: "button", className: "ap-use", textContent: t("apUseOffered") });
      use.dataset.material = code;
      use.disabled = this.busy;
      use.addEventListener("click", () => this.#attach(code, Number(choice.value)));
      wrap.append(el("div", { className: "ap-tool-row" }, el("span", { className: "note", textContent: t("apOffered") }), choice, use));
    }
    const file = el("input", { type: "file", id: `ap-file-${code}` });
    file.setAttribute("aria-label", t("apChooseFile"));
    if (entry.types?.length) file.accept = entry.types.map(x => `.${x}`).join(",");
    file.addEventListener("change", () => this.files.set(code, file.files[0] ?? null));
    const upload = el("button", { type: "button", className: "ap-upload", textContent: t("apUpload") });
    upload.dataset.material = code;
    upload.disabled = this.busy;
    upload.addEventListener("click", () => this.#upload(entry));
    const row = el("div", { className: "ap-tool-row" }, file);
    if (entry.expires) {
      const until = el("input", { type: "date", id: `ap-valid-${code}`, value: this.validity.get(code) ?? "" });
      until.setAttribute("aria-label", t("apValidUntilLabel"));
      until.addEventListener("change", () => this.validity.set(code, until.value));
      row.append(el("span", { className: "note", textContent: t("apValidUntilLabel") }), until);
    }
    row.append(upload);
    wrap.append(row);
    if (entry.types?.length) wrap.append(el("small", { className: "note", textContent: t("apTypes", entry.types.map(x => x.toUpperCase()).join("、")) }));
    if (entry.attached && this.#may("attach")) {
      const remove = el("button", { type: "button", className: "link ap-detach", textContent: t("apDetach") });
      remove.dataset.material = code;
      remove.disabled = this.busy;
      remove.addEventListener("click", () => this.#act(() => send(`/api/applications/${this.app.id}/materials/${code}`, "DELETE"),
        () => ["apDetached", pick(entry)]));
      wrap.append(remove);
    }
    return wrap;
  }

  #offerText(material) {
    const scope = material.project_id ? t("apOfferProject") : t("apOfferOrg");
    const until = material.valid_until ? t("apValidUntil", material.valid_until) : "";
    return [t("apFileVersion", material.file_name, material.version), scope, until].filter(Boolean).join(" · ");
  }

  async #attach(code, materialId) {
    await this.#act(() => send(`/api/applications/${this.app.id}/materials/${code}`, "PUT", { material_id: materialId }),
      () => ["apAttached"]);
  }

  async #upload(entry) {
    const file = this.files.get(entry.code);
    if (!file) { this.message = { key: "apErrNoFile" }; this.ctx.rerender(); return; }
    await this.#act(async () => {
      const form = new FormData();
      form.append("file", file);
      form.append("material_code", entry.code);
      form.append("purpose", "application");
      form.append("project_id", String(this.ctx.project().id));
      if (this.validity.get(entry.code)) form.append("valid_until", this.validity.get(entry.code));
      const stored = await api("/api/materials", { method: "POST", body: form });
      await send(`/api/applications/${this.app.id}/materials/${entry.code}`, "PUT", { material_id: stored.id });
      this.files.delete(entry.code);
      return stored;
    }, stored => ["apUploaded", stored.file_name, stored.version]);
  }

  /** Run a call; say what was done (ok(answer) → [key, …args]) or why not; reload the applications. */
  async #act(call, ok) {
    this.busy = true;
    this.message = null;
    this.ctx.rerender();
    try {
      const answer = await call();
      this.message = { ok: ok(answer) };
    } catch (error) {
      this.message = error;
    }
    this.busy = false;
    await this.load();
    this.ctx.rerender();
  }
}
