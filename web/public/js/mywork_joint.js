// Joint review sessions (联合审查/会商) of one application in 我的待办: the sessions with each participating
// department's opinion, scheduling a session (the caller's department leads), recording the caller's
// department's opinion, and generating the minutes (会议纪要) from the opinions (lead department only).
import { api } from "./api.js";
import { formatDate, pick, t } from "./i18n.js";
import { documentLinks, notice, person, send } from "./applications_common.js";
import { el, field, itemName, label, select, table } from "./projects_common.js";

const DECISIONS = ["approve", "approve_conditional", "refuse"];

export class MyWorkJoint {
  /** ctx: {user, rerender, changed}. */
  constructor(ctx) {
    this.ctx = ctx;
    this.reset();
  }

  reset() {
    Object.assign(this, { sessions: [], error: null, message: null, busy: false, form: null, opinions: new Map() });
  }

  /** The application's sessions (none shown when the API has none). */
  async load(app) {
    try {
      this.sessions = await api(`/api/applications/${app.id}/joint-reviews`);
      this.error = null;
    } catch (error) {
      this.sessions = [];
      this.error = error;
    }
  }

  render(app) {
    const box = el("section", { id: "mw-joint", className: "ap-joint" }, el("h4", { textContent: t("mwJointTitle") }),
      notice(this.error, "mw-joint-error"), notice(this.message, "mw-joint-notice"));
    if (!this.sessions.length) box.append(el("p", { className: "note", id: "mw-joint-none", textContent: t("mwJointNone") }));
    for (const session of this.sessions) box.append(this.#session(app, session));
    if (this.form) box.append(this.#scheduleForm(app));
    else {
      const open = el("button", { type: "button", id: "mw-joint-new", textContent: t("mwJointSchedule") });
      open.addEventListener("click", () => {
        const mine = (app.items ?? []).filter(i => i.department_code === this.ctx.user.org_code).map(i => i.id);
        this.form = { topic: "", scheduled_at: "", place: "", departments: new Set([this.ctx.user.org_code]), items: new Set(mine) };
        this.ctx.rerender();
      });
      box.append(el("div", { className: "pj-buttons" }, open));
    }
    return box;
  }

  #session(app, session) {
    const lead = pick(session, "lead_department_name") || "—";
    const head = el("p", { className: "ap-request-head", textContent: t("mwJointHead", session.topic, formatDate(session.scheduled_at, true),
      session.place || "—", lead, label("mwJointStatus", session.status)) });
    const participants = session.participants ?? [];
    const rows = table([
      { key: "department", head: t("pjDepartment"), cell: p => pick(p, "department_name") || "—" },
      { key: "decision", head: t("mwDecision"), cell: p => (p.decision ? label("apDecisions", p.decision) : t("mwJointWaiting")) },
      { key: "opinion", head: t("apOpinion"), cell: p => p.opinion || "—" },
      { key: "by", head: t("pjActor"), cell: p => (p.recorded_by_name ? el("span", {}, person(p.recorded_by_name, ""), ` ${formatDate(p.recorded_at, true)}`) : "—") },
    ], participants, { rowProps: p => ({ departmentId: String(p.department_id ?? "") }) });
    const block = el("article", { className: "ap-request mw-joint-session" }, head, rows);
    block.dataset.jointId = String(session.id);
    block.dataset.status = session.status ?? "";
    const mine = participants.find(p => p.department_id === this.ctx.user.org_id);
    if (mine && session.status === "scheduled") block.append(this.#opinionForm(session, mine));
    if (session.lead_department_id === this.ctx.user.org_id && session.status === "scheduled") {
      const minutes = el("button", { type: "button", className: "primary", textContent: t("mwJointMinutes") });
      minutes.dataset.action = "minutes";
      minutes.disabled = this.busy;
      minutes.addEventListener("click", () => this.#act(() => send(`/api/joint-reviews/${session.id}/minutes`, "POST", { version: session.version }), "mwJointMinutesDone"));
      const cancel = el("button", { type: "button", textContent: t("mwJointCancel") });
      cancel.dataset.action = "cancel";
      cancel.disabled = this.busy;
      cancel.addEventListener("click", () => this.#act(() => send(`/api/joint-reviews/${session.id}/cancel`, "POST", { version: session.version }), "mwJointCancelled"));
      block.append(el("div", { className: "pj-buttons" }, minutes, cancel));
    }
    if (session.minutes_id || session.status === "held") {
      block.append(documentLinks(app, [["mwJointMinutesDoc", `/api/joint-reviews/${session.id}/minutes`, `minutes-${session.id}`]]));
    }
    return block;
  }

  #opinionForm(session, mine) {
    const draft = this.opinions.get(session.id) ?? { decision: mine.decision ?? "approve", opinion: mine.opinion ?? "" };
    this.opinions.set(session.id, draft);
    const decision = select(DECISIONS.map(d => [d, label("apDecisions", d)]), draft.decision);
    decision.addEventListener("change", () => { draft.decision = decision.value; });
    const opinion = el("textarea", { rows: 2, maxLength: 4000, value: draft.opinion });
    opinion.addEventListener("input", () => { draft.opinion = opinion.value; });
    const save = el("button", { type: "button", textContent: t("mwJointRecord") });
    save.dataset.action = "opinion";
    save.disabled = this.busy;
    save.addEventListener("click", () => {
      if (!draft.opinion.trim()) { this.message = { key: "mwErrJointOpinion" }; this.ctx.rerender(); return; }
      this.#act(() => send(`/api/joint-reviews/${session.id}/opinion`, "PUT", { decision: draft.decision, opinion: draft.opinion.trim(), version: session.version }),
        "mwJointRecorded");
    });
    return el("div", { className: "pj-grid mw-joint-opinion" },
      field(`mw-joint-${session.id}-decision`, t("mwDecision"), decision).wrap,
      field(`mw-joint-${session.id}-opinion`, t("apOpinion"), opinion).wrap,
      el("div", { className: "pj-buttons" }, save));
  }

  #scheduleForm(app) {
    const f = this.form;
    const input = (key, props) => {
      const node = el("input", { ...props, value: f[key] });
      node.addEventListener("input", () => { f[key] = node.value; });
      node.addEventListener("change", () => { f[key] = node.value; });
      return node;
    };
    const departments = new Map();
    for (const item of app.items ?? []) if (item.department_code) departments.set(item.department_code, item.department_name);
    const checks = (name, entries, chosen) => el("div", { className: "ap-checks", id: `mw-joint-${name}` }, ...entries.map(([value, text]) => {
      const box = el("input", { type: "checkbox", id: `mw-joint-${name}-${value}`, checked: chosen.has(value) });
      box.addEventListener("change", () => { if (box.checked) chosen.add(value); else chosen.delete(value); });
      return el("label", { className: "ap-check", htmlFor: box.id }, box, el("span", { textContent: text }));
    }));
    const submit = el("button", { type: "button", id: "mw-joint-save", className: "primary", textContent: t("mwJointSave") });
    submit.disabled = this.busy;
    submit.addEventListener("click", () => this.#schedule(app));
    const cancel = el("button", { type: "button", id: "mw-joint-cancel", textContent: t("pjCancel") });
    cancel.addEventListener("click", () => { this.form = null; this.ctx.rerender(); });
    return el("div", { className: "ap-box", id: "mw-joint-form" }, el("h4", { textContent: t("mwJointSchedule") }),
      el("div", { className: "pj-grid" },
        field("mw-joint-topic", t("mwJointTopic"), input("topic", { maxLength: 500 })).wrap,
        field("mw-joint-when", t("mwJointWhen"), input("scheduled_at", { type: "datetime-local" })).wrap,
        field("mw-joint-place", t("mwJointPlace"), input("place", { maxLength: 200 })).wrap),
      el("p", { className: "note", textContent: t("mwJointDepartments") }),
      checks("dept", [...departments].map(([code, name]) => [code, name ?? "—"]), f.departments),
      el("p", { className: "note", textContent: t("mwJointItems") }),
      checks("item", (app.items ?? []).map(i => [i.id, `${itemName(i)}（${i.department_name ?? "—"}）`]), f.items),
      el("div", { className: "pj-buttons" }, submit, cancel));
  }

  async #schedule(app) {
    const f = this.form;
    if (!f.topic.trim() || !f.scheduled_at || f.departments.size < 2) {
      this.message = { key: "mwErrJoint" };
      this.ctx.rerender();
      return;
    }
    const body = {
      topic: f.topic.trim(), scheduled_at: new Date(f.scheduled_at).toISOString(), place: f.place.trim() || null,
      departments: [...f.departments], item_ids: [...f.items],
    };
    if (await this.#act(() => send(`/api/applications/${app.id}/joint-reviews`, "POST", body), "mwJointScheduled")) this.form = null;
    this.ctx.rerender();
  }

  async #act(call, okKey) {
    this.busy = true;
    this.message = null;
    this.ctx.rerender();
    let ok = false;
    try {
      await call();
      this.message = { ok: [okKey] };
      ok = true;
    } catch (error) {
      this.message = error;
    }
    this.busy = false;
    await this.ctx.changed();
    return ok;
  }
}
