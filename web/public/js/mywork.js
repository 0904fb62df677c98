// 我的待办 (my work) for department reviewers: every item of an application waiting on the caller's
// department with its clock and colour; one item opened with its package (checklist, letters), the opinion
// (同意 / 有条件同意 / 不同意, an optional decision document), correction requests to the window, and the
// application's joint reviews (mywork_joint.js). Shown as its own view (#mywork-page) to applications:review.
import { api } from "./api.js";
import { formatDate, t } from "./i18n.js";
import {
  appFacts, checklistTable, clockText, colourBadge, itemsTable, lettersView, notice, opinionNode, pointsEditor,
  pointsList, send, stageName,
} from "./applications_common.js";
import { MyWorkJoint } from "./mywork_joint.js";
import { el, field, itemName, label, select, table } from "./projects_common.js";

const DECISIONS = ["approve", "approve_conditional", "refuse"];
const EMPTY_OPINION = { decision: "approve", conditions: "", reasons: "", legal_basis: "", file: null };

/** One row of /api/my-work as the page uses it: the item's fields with its application's beside them. */
function normalise(row) {
  const item = row.item ?? row;
  return {
    ...row, ...item,
    application_id: row.application_id ?? row.application?.id ?? item.application_id,
    application_number: row.application_number ?? row.application?.number ?? row.number,
    project_name: row.project_name ?? row.application?.project_name,
  };
}

export class MyWorkPage {
  /** root: the page's <main>; context: {user}. */
  constructor(root, context) {
    this.root = root;
    this.user = context.user;
    this.rows = null;
    this.error = null;
    this.joint = new MyWorkJoint({ user: this.user, rerender: () => this.render(), changed: () => this.#reloadApp() });
    this.closeItem();
  }

  closeItem() {
    Object.assign(this, { itemId: null, app: null, appError: null, message: null, busy: false,
      opinion: { ...EMPTY_OPINION }, requestRows: [{ material_code: "", text: "" }] });
    this.joint?.reset();
  }

  async activate() {
    await this.#load();
    if (this.itemId) await this.#reloadApp();
  }

  async #load() {
    try {
      this.rows = (await api("/api/my-work")).map(normalise);
      this.error = null;
    } catch (error) {
      this.error = error;
    }
    this.render();
    this.root.dataset.ready = "true";
  }

  render() {
    const head = el("div", { className: "pj-head" }, el("h2", { textContent: t("viewMyWork") }));
    const body = el("div", {}, notice(this.error, "mw-error"), this.#list());
    if (this.itemId) body.append(this.#itemPanel());
    this.root.replaceChildren(head, body);
  }

  destroy() { this.root.replaceChildren(); }

  #list() {
    if (this.rows == null) return el("p", { className: "note", textContent: this.error ? "" : t("pjLoading") });
    if (!this.rows.length) return el("p", { className: "note", id: "mw-empty", textContent: t("mwEmpty") });
    const open = row => {
      const button = el("button", { type: "button", className: "link", textContent: itemName(row) });
      button.addEventListener("click", () => this.#open(row));
      return button;
    };
    const joint = row => (row.joint_reviews?.length ? t("mwJointCount", row.joint_reviews.length) : row.joint_review ? t("mwJointMarked") : "—");
    return el("div", {}, el("p", { className: "note", id: "mw-count", textContent: t("mwCount", this.rows.length) }), table([
      { key: "item", head: t("pjItem"), cell: open },
      { key: "number", head: t("apNumber"), cell: r => r.application_number },
      { key: "project", head: t("apProject"), cell: r => r.project_name },
      { key: "stage", head: t("pjStage"), cell: r => (r.stage ? stageName(r) : "—") },
      { key: "status", head: t("pjItemStatusLabel"), cell: r => label("pjItemStatus", r.status) },
      { key: "clock", head: t("apClock"), cell: clockText },
      { key: "colour", head: t("apColour"), cell: r => colourBadge(r.colour) },
      { key: "requests", head: t("apOpenRequests"), cell: r => String(r.open_requests ?? 0), className: "num" },
      { key: "joint", head: t("mwJoint"), cell: joint },
    ], this.rows, {
      id: "mw-list",
      rowProps: r => ({ itemId: String(r.id), itemCode: r.item_code ?? "", colour: r.colour ?? "", className: r.id === this.itemId ? "open" : "" }),
    }));
  }

  async #open(row) {
    this.closeItem();
    this.itemId = row.id;
    this.applicationId = row.application_id;
    this.render();
    await this.#reloadApp();
    document.getElementById("mw-item")?.scrollIntoView({ block: "nearest" });
  }

  async #reloadApp() {
    try {
      this.app = await api(`/api/applications/${this.applicationId}`);
      this.appError = null;
      await this.joint.load(this.app);
    } catch (error) {
      this.appError = error;
    }
    this.render();
  }

  #item() { return this.app?.items?.find(i => i.id === this.itemId); }

  #itemPanel() {
    const close = el("button", { type: "button", className: "link", id: "mw-close", textContent: t("pjClose") });
    close.addEventListener("click", () => { this.closeItem(); this.render(); });
    const panel = el("section", { id: "mw-item", className: "pj-item ap-package" });
    const item = this.#item();
    panel.append(el("h3", {}, el("span", { id: "mw-item-name", textContent: item ? itemName(item) : "…" }), close),
      notice(this.appError, "mw-app-error"), notice(this.message, "mw-notice"));
    if (!this.app || !item) return panel;
    panel.dataset.itemId = String(item.id);
    panel.dataset.status = item.status;
    panel.append(
      el("div", { className: "ap-columns" },
        el("div", { className: "ap-main" }, appFacts(this.app),
          el("p", { id: "mw-clock", textContent: `${t("apClock")}：${clockText(item)} · ${t("pjPromised")} ${t("pjDays", item.promised_days ?? "—")}` }),
          el("h4", { textContent: t("apChecklist") }), checklistTable(this.app, { id: "mw-checklist" })),
        el("aside", { className: "ap-side" }, this.#opinionBox(item), this.#requestBox(item))),
      el("h4", { textContent: t("mwAllItems") }), itemsTable(this.app, { id: "mw-items" }),
      lettersView(this.app, { id: "mw-letters" }), this.joint.render(this.app));
    return panel;
  }

  #mayItem(item, action) { return (item.allowed_actions ?? []).includes(action); }

  #opinionBox(item) {
    const box = el("div", { className: "ap-box", id: "mw-opinion-box" }, el("h4", { textContent: t("mwOpinionTitle") }));
    if (item.opinion) box.append(el("p", {}, opinionNode(item.opinion, "mw-opinion")));
    if (!this.#mayItem(item, "opinion")) {
      if (!item.opinion) box.append(el("p", { className: "note", id: "mw-opinion-closed", textContent: t("mwOpinionNotNow", label("pjItemStatus", item.status)) }));
      return box;
    }
    const o = this.opinion;
    const decision = select(DECISIONS.map(d => [d, label("apDecisions", d)]), o.decision);
    decision.addEventListener("change", () => { o.decision = decision.value; this.render(); });
    box.append(field("mw-decision", t("mwDecision"), decision).wrap);
    const text = (key, id, labelKey) => {
      const input = el("textarea", { rows: 2, maxLength: 4000, value: o[key] });
      input.addEventListener("input", () => { o[key] = input.value; });
      box.append(field(id, t(labelKey), input).wrap);
    };
    if (o.decision === "approve_conditional") text("conditions", "mw-conditions", "apConditions");
    if (o.decision === "refuse") {
      text("reasons", "mw-reasons", "apReasons");
      text("legal_basis", "mw-legal-basis", "apLegalBasis");
    }
    const file = el("input", { type: "file" });
    file.addEventListener("change", () => { o.file = file.files[0] ?? null; });
    box.append(field("mw-document", t("mwDocument"), file, o.file ? o.file.name : t("mwDocumentHint")).wrap);
    const save = el("button", { type: "button", id: "mw-opinion-save", className: "primary", textContent: t("mwRecordOpinion") });
    save.disabled = this.busy;
    save.addEventListener("click", () => this.#recordOpinion(item));
    box.append(el("div", { className: "pj-buttons" }, save));
    return box;
  }

  #requestBox(item) {
    const mine = (this.app.open_requests ?? []).filter(r => r.item_id === item.id);
    const box = el("div", { className: "ap-box", id: "mw-request-box" }, el("h4", { textContent: t("mwRequestTitle") }),
      el("p", { className: "note", textContent: t("mwRequestHint") }));
    for (const request of mine) {
      const withdraw = el("button", { type: "button", className: "link", textContent: t("mwWithdrawRequest") });
      withdraw.dataset.requestId = String(request.id);
      withdraw.disabled = this.busy || Boolean(request.letter_id);
      withdraw.addEventListener("click", () => this.#act(() => send(`/api/correction-requests/${request.id}`, "DELETE"), "mwRequestWithdrawn"));
      box.append(el("article", { className: "ap-request mw-my-request" },
        el("p", { className: "ap-request-head", textContent: `${t("mwSentOn", formatDate(request.requested_at, true))}` }, " ", withdraw),
        pointsList(this.app, request.points)));
    }
    if (!this.#mayItem(item, "correction_request")) {
      box.append(el("p", { className: "note", id: "mw-request-closed", textContent: t("mwRequestNotNow") }));
      return box;
    }
    const editor = pointsEditor(this.app, "mw-request-points", this.requestRows);
    const sendButton = el("button", { type: "button", id: "mw-request-send", textContent: t("mwSendRequest") });
    sendButton.disabled = this.busy;
    sendButton.addEventListener("click", async () => {
      const points = editor.read();
      if (!points.length) { this.message = { key: "winErrPoints" }; this.render(); return; }
      if (await this.#act(() => send(`/api/items/${item.id}/correction-requests`, "POST", { points }), "mwRequestSent")) {
        this.requestRows = [{ material_code: "", text: "" }];
        this.render();
      }
    });
    box.append(editor.node, el("div", { className: "pj-buttons" }, sendButton));
    return box;
  }

  async #recordOpinion(item) {
    const o = this.opinion;
    const body = { decision: o.decision };
    if (o.decision === "approve_conditional") {
      if (!o.conditions.trim()) { this.message = { key: "mwErrConditions" }; this.render(); return; }
      body.conditions = o.conditions.trim();
    }
    if (o.decision === "refuse") {
      if (!o.reasons.trim() || !o.legal_basis.trim()) { this.message = { key: "mwErrReasons" }; this.render(); return; }
      body.reasons = o.reasons.trim();
      body.legal_basis = o.legal_basis.trim();
    }
    const done = await this.#act(async () => {
      if (o.file) {
        const form = new FormData();
        form.append("file", o.file);
        form.append("material_code", item.item_code);
        form.append("purpose", "decision");
        if (this.app.project_id) form.append("project_id", String(this.app.project_id));
        const stored = await api("/api/materials", { method: "POST", body: form });
        body.document_id = stored.id;
      }
      return send(`/api/items/${item.id}/opinion`, "POST", body);
    }, "mwOpinionRecorded");
    if (done) this.opinion = { ...EMPTY_OPINION };
    this.render();
  }

  /** Run a call; say it was done (okKey) or why not; reload the package and the list. */
  async #act(call, okKey) {
    this.busy = true;
    this.message = null;
    this.render();
    let ok = false;
    try {
      await call();
      this.message = { ok: [okKey] };
      ok = true;
    } catch (error) {
      this.message = error;
    }
    this.busy = false;
    await this.#reloadApp();
    await this.#load();
    return ok;
  }
}

