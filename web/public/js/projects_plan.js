// One project of the approval tracker: its facts, its back-scheduled approval plan (table and timeline),
// and the handling of one item (allowed transitions with the version read, and the item's event log).
import { api } from "./api.js";
import { ProjectApplications } from "./applications.js";
import { formatDate, pick, t } from "./i18n.js";
import { day, el, facts, field, itemName, itemReason, label, message, select, table, typeName } from "./projects_common.js";
import { ProjectFacts } from "./projects_edit.js";
import { footprintHistory, PreevalLink } from "./projects_links.js";
import { FootprintMap } from "./projects_map.js";
import { timeline } from "./projects_timeline.js";

const STAGES = ["project_land", "engineering", "construction", "completion"];
const DONE = new Set(["approved", "rejected", "cancelled", "merged"]);
const NEEDS_NOTE = new Set(["return_for_correction", "reject"]); // a reviewer says why

export class ProjectDetail {
  /** ctx: {user, may, asOf, rerender, orgs, templates, back, changed}. */
  constructor(ctx) {
    this.ctx = ctx;
    this.facts = new ProjectFacts({
      ...ctx,
      saved: async project => { this.project = project; await this.reload(); ctx.changed?.(); },
      reload: async () => { await this.reload(); return this.project; },
    });
    this.link = new PreevalLink({ project: () => this.project, linked: () => this.reload() });
    this.applications = new ProjectApplications({
      project: () => this.project, plan: () => this.plan, may: action => ctx.may(action), rerender: () => ctx.rerender(),
    });
    this.footprintMap = new FootprintMap(ctx.place);
    this.close();
  }

  /** Whether the user may add the items a stored pre-evaluation triggers (and list the reports). */
  #mayLink() { return this.ctx.may("projects:manage") && this.ctx.may("preeval:run"); }

  /** Forget the project shown. */
  close() {
    Object.assign(this, {
      project: null, plan: null, planError: null, warnings: new Map(), target: "", itemId: null, events: null,
      itemNotice: null, notice: null, busy: false, draft: { note: "", missing: "", due: "", into: "" }, footprints: null,
    });
    this.facts?.reset();
    this.link?.reset();
    this.applications?.reset();
  }

  /** Show a project of the list and load its plan. */
  async open(project) {
    this.close();
    this.project = project;
    this.ctx.rerender();
    await this.reload();
  }

  /** Load the project, its plan (back-scheduled to the target start, as of the page's date) and warnings. */
  async reload() {
    if (!this.project) return;
    const id = this.project.id;
    const query = new URLSearchParams();
    if (this.target) query.set("target_start", this.target);
    if (this.ctx.asOf()) query.set("as_of", this.ctx.asOf());
    try {
      this.project = await api(`/api/projects/${id}`);
      this.plan = await api(`/api/projects/${id}/plan?${query}`);
      this.planError = null;
    } catch (error) {
      // Keep a plan shown before (e.g. after a move, when the forecast needs a year without a calendar).
      if (error?.problem?.code === "no_plan" || this.plan?.project_id !== id) this.plan = null;
      this.planError = error;
    }
    this.warnings = new Map();
    if (this.plan && this.ctx.may("supervision:read")) {
      const params = new URLSearchParams({ project_id: id });
      if (this.ctx.asOf()) params.set("as_of", this.ctx.asOf());
      try {
        for (const w of await api(`/api/warnings?${params}`)) {
          if (w.item_id != null && !this.warnings.has(w.item_id)) this.warnings.set(w.item_id, w); // red first
        }
      } catch { /* the plan is shown without its warnings */ }
    }
    if (this.itemId && this.plan) await this.#loadEvents();
    try {
      this.footprints = await api(`/api/projects/${id}/footprints`);
    } catch { this.footprints = []; }
    if (this.plan && this.#mayLink() && this.link.reports == null) await this.link.load();
    if (this.plan && this.ctx.may("applications:read")) await this.applications.load();
    this.ctx.rerender();
  }

  render() {
    const p = this.project;
    const back = el("button", { type: "button", id: "pj-back", textContent: t("pjBack") });
    back.addEventListener("click", () => this.ctx.back());
    const section = el("section", { id: "pj-project", className: "pj-project" }, back,
      el("h3", { id: "pj-project-name", textContent: p.name }), this.facts.render(p), message(this.notice, "pj-plan-notice"));
    section.append(this.#planSection());
    if (this.plan && this.ctx.may("applications:read")) section.append(this.applications.render());
    section.append(footprintHistory(this.footprints), this.footprintMap.render(this.footprints));
    return section;
  }

  // --- the plan -------------------------------------------------------------------------------------

  #planSection() {
    const box = el("section", { className: "pj-plan" }, el("h3", { textContent: t("pjPlan") }));
    const target = el("input", { type: "date", value: this.target || this.plan?.target_start || this.project.planned_start || "" });
    target.addEventListener("change", () => { this.target = target.value; this.reload(); });
    box.append(el("div", { className: "pj-tools" }, field("pj-target", t("pjTarget"), target, t("pjTargetHint")).wrap));
    const code = this.planError?.problem?.code;
    if (code === "no_plan") {
      box.append(this.#createPlan());
      return box;
    }
    if (this.planError) box.append(message(this.planError, "pj-plan-error"));
    if (!this.plan) {
      if (!this.planError) box.append(el("p", { className: "note", textContent: t("pjLoading") }));
      return box;
    }
    const plan = this.plan;
    if (plan.provisional_years?.length) {
      // The dates rest on a year whose official arrangement is not loaded: say so above them.
      const warning = el("p", { id: "pj-plan-provisional", className: "pj-provisional",
        textContent: t("pjProvisional", plan.provisional_years) });
      warning.setAttribute("role", "note");
      warning.dataset.years = plan.provisional_years.join(",");
      box.append(warning);
    }
    box.append(el("p", { id: "pj-plan-summary", className: plan.feasible ? "note" : "pj-infeasible" },
      t(plan.feasible ? "pjFeasible" : "pjInfeasible", plan.target_start, plan.forecast_start, plan.float_days, plan.as_of)));
    box.append(this.#itemsTable(), timeline(this.#ordered(), plan));
    if (this.#mayLink()) box.append(this.link.render(() => this.ctx.rerender()));
    if (this.itemId) box.append(this.#itemPanel());
    return box;
  }

  #createPlan() {
    const template = this.ctx.templates().get(this.project.project_type);
    const wrap = el("div", { id: "pj-no-plan" }, el("p", { className: "note", textContent: t("pjNoPlan") }));
    if (template) {
      wrap.append(el("p", { className: "note", id: "pj-template",
        textContent: t("pjTemplate", typeName(this.ctx.templates(), template.project_type), template.items.length) }));
    }
    if (this.ctx.may("projects:manage")) {
      const create = el("button", { type: "button", className: "primary", id: "pj-plan-create", textContent: t("pjCreatePlan") });
      create.disabled = this.busy;
      create.addEventListener("click", () => this.#post(`/api/projects/${this.project.id}/plan`, {}, items => ["pjPlanCreated", items.length]));
      wrap.append(create);
    }
    return wrap;
  }

  /** Items in stage order, then by planned (latest) start, then as created. */
  #ordered() {
    const start = i => i.schedule?.latest_start ?? "9999-99-99";
    return [...this.plan.items].sort((a, b) => STAGES.indexOf(a.stage) - STAGES.indexOf(b.stage)
      || start(a).localeCompare(start(b)) || a.id - b.id);
  }

  /** Late against the plan: not started by its latest start, or not decided by its latest finish. */
  #late(item) {
    const s = item.schedule;
    if (!s || DONE.has(item.status)) return false;
    const asOf = this.plan.as_of;
    return (!item.started_on && s.latest_start < asOf) || (!item.finished_on && s.latest_finish < asOf);
  }

  #itemsTable() {
    const byId = new Map(this.plan.items.map(i => [i.id, i]));
    const marks = item => {
      const span = el("span", { className: "pj-marks" });
      const badge = (cls, text, title = "") => span.append(el("span", { className: `badge ${cls}`, textContent: text, title }));
      if (item.schedule?.critical) badge("critical", t("pjCritical"));
      if (item.parallel_group) badge("parallel", t("pjParallel", label("pjGroups", item.parallel_group)));
      if (item.status === "accepted_conditional" || item.missing_documents?.length) {
        badge("conditional", t("pjConditional"), (item.missing_documents ?? []).join("、"));
      }
      if (item.merged_into_id) badge("merged", t("pjMergedInto", byId.has(item.merged_into_id) ? itemName(byId.get(item.merged_into_id)) : item.merged_into_id));
      const warning = this.ctx.may("supervision:read") ? this.warnings.get(item.id) : null;
      if (item.source === "pre_evaluation") badge("preeval", t("pjFromPreeval"), itemReason(item));
      if (warning) badge(`warn-${warning.level}`, label("pjLevels", warning.level), pick(warning, "message"));
      if (this.#late(item)) badge("late", t("pjLate"));
      return span;
    };
    const name = item => {
      const open = el("button", { type: "button", className: "link", textContent: itemName(item) });
      open.addEventListener("click", () => this.#openItem(item.id));
      return el("span", {}, open); // the item code stays in the API and the row's data-item-code
    };
    const columns = [
      { key: "stage", head: t("pjStage"), cell: i => label("pjStages", i.stage) },
      { key: "name", head: t("pjItem"), cell: name },
      { key: "department", head: t("pjDepartment"), cell: i => this.ctx.orgs().name(i.department_code) },
      { key: "promised", head: t("pjPromised"), cell: i => t("pjDays", i.promised_days), className: "num" },
      { key: "latest_start", head: t("pjLatestStart"), cell: i => day(i.schedule?.latest_start) },
      { key: "latest_finish", head: t("pjLatestFinish"), cell: i => day(i.schedule?.latest_finish) },
      { key: "float", head: t("pjFloat"), cell: i => (i.schedule ? String(i.schedule.float_days) : "—"), className: "num" },
      { key: "status", head: t("pjItemStatusLabel"), cell: i => label("pjItemStatus", i.status) },
      { key: "clock", head: t("pjClock"), cell: i => (i.started_on ? t("pjClockValue", i.elapsed_days, i.promised_days, day(i.due_on)) : "—") },
      { key: "marks", head: t("pjMarks"), cell: marks },
    ];
    const rowClass = item => {
      const warning = this.ctx.may("supervision:read") ? this.warnings.get(item.id) : null;
      return [warning ? `warn-${warning.level}` : "", this.#late(item) ? "late" : "", item.id === this.itemId ? "open" : "",
        DONE.has(item.status) ? "done" : ""].filter(Boolean).join(" ");
    };
    return table(columns, this.#ordered(), {
      id: "pj-plan", rowProps: i => ({ itemId: String(i.id), itemCode: i.item_code, status: i.status, className: rowClass(i) }),
    });
  }

  // --- one item -------------------------------------------------------------------------------------

  async #openItem(id) {
    this.itemId = id;
    this.events = null;
    this.itemNotice = null;
    this.draft = { note: "", missing: "", due: "", into: "" };
    this.ctx.rerender();
    await this.#loadEvents();
    this.ctx.rerender();
    document.getElementById("pj-item")?.scrollIntoView({ block: "nearest" });
  }

  async #loadEvents() {
    try {
      this.events = await api(`/api/items/${this.itemId}/events`);
    } catch (error) {
      this.events = null;
      this.itemNotice = error;
    }
  }

  #itemPanel() {
    const item = this.plan.items.find(i => i.id === this.itemId);
    if (!item) return null;
    const close = el("button", { type: "button", className: "link", id: "pj-item-close", textContent: t("pjClose") });
    close.addEventListener("click", () => { this.itemId = null; this.ctx.rerender(); });
    const panel = el("section", { id: "pj-item", className: "pj-item" },
      el("h4", {}, el("span", { textContent: `${itemName(item)} ` }), close),
      facts([
        [t("pjItemStatusLabel"), el("span", { id: "pj-item-status", textContent: label("pjItemStatus", item.status) })],
        [t("pjDepartment"), this.ctx.orgs().name(item.department_code)],
        [t("pjLimits"), t("pjLimitsValue", item.promised_days, item.statutory_days)],
        [t("pjMissing"), item.missing_documents?.length
          ? `${item.missing_documents.join("、")}（${t("pjSupplementDue")} ${day(item.supplement_due)}${item.supplemented_at ? `，${t("pjSupplemented")}` : ""}）`
          : t("none")],
        ...(item.reason ? [[t("pjReasonAdded"), el("span", { id: "pj-item-reason", textContent: itemReason(item) })]] : []),
        [t("pjVersion"), String(item.version)],
      ]));
    if (this.ctx.may("items:transition")) panel.append(this.#actions(item));
    panel.append(message(this.itemNotice, "pj-item-notice"), el("h4", { textContent: t("pjEvents") }), this.#eventsTable());
    return panel;
  }

  #actions(item) {
    const actions = item.actions ?? [];
    const box = el("div", { className: "pj-actions", id: "pj-item-actions" });
    if (!actions.length) {
      box.append(el("p", { className: "note", textContent: t("pjNoActions") }));
      return box;
    }
    const d = this.draft;
    const bind = (key, input) => {
      input.value = d[key];
      input.addEventListener("input", () => { d[key] = input.value; });
      input.addEventListener("change", () => { d[key] = input.value; });
      return input;
    };
    box.append(field("pj-item-note", t("pjNote"), bind("note", el("textarea", { rows: 2, maxLength: 2000 }))).wrap);
    if (actions.includes("accept")) {
      box.append(el("fieldset", {}, el("legend", { textContent: t("pjConditionalAccept") }),
        field("pj-item-missing", t("pjMissingDocs"), bind("missing", el("input", { maxLength: 500 })), t("pjMissingHint")).wrap,
        field("pj-item-due", t("pjSupplementDue"), bind("due", el("input", { type: "date" }))).wrap));
    }
    if (actions.includes("merge")) {
      const others = this.plan.items.filter(i => i.id !== item.id && !DONE.has(i.status));
      box.append(field("pj-item-into", t("pjMergeInto"), bind("into", select([["", t("pjChoose")], ...others.map(i => [String(i.id), itemName(i)])]))).wrap);
    }
    const buttons = el("div", { className: "pj-buttons" });
    for (const action of actions) {
      const button = el("button", { type: "button", textContent: label("pjActions", action) });
      button.dataset.action = action;
      button.className = ["approve", "accept", "submit", "resubmit"].includes(action) ? "primary" : "";
      button.disabled = this.busy;
      button.addEventListener("click", () => this.#take(item, action));
      buttons.append(button);
    }
    box.append(buttons);
    return box;
  }

  /** Take a transition with the version read (If-Match); a refusal keeps the page and shows why. */
  async #take(item, action) {
    const d = this.draft;
    const body = { action };
    if (d.note.trim()) body.note = d.note.trim();
    if (NEEDS_NOTE.has(action) && !body.note) { this.itemNotice = { key: "pjErrNote" }; this.ctx.rerender(); return; }
    if (action === "accept" && d.missing.trim()) {
      body.missing_documents = d.missing.split(/[、,，;；\n]+/).map(s => s.trim()).filter(Boolean);
      body.supplement_due = d.due || null;
    }
    if (action === "merge") {
      if (!d.into) { this.itemNotice = { key: "pjErrMerge" }; this.ctx.rerender(); return; }
      body.merge_into_id = Number(d.into);
    }
    this.busy = true;
    this.itemNotice = null;
    this.ctx.rerender();
    try {
      const after = await api(`/api/items/${item.id}/transitions`, {
        method: "POST", body: JSON.stringify(body),
        headers: { "Content-Type": "application/json", "If-Match": `"${item.version}"` },
      });
      Object.assign(item, after); // shown even if the plan cannot be recomputed
      this.itemNotice = { ok: ["pjMoved", action, after.status] };
      this.draft = { note: "", missing: "", due: "", into: "" };
    } catch (error) {
      this.itemNotice = error; // a stale version (412) or a refused move: the API's message, then the current state
    }
    this.busy = false;
    await this.reload();
  }

  #eventsTable() {
    if (this.events == null) return el("p", { className: "note", textContent: t("pjLoading") });
    if (!this.events.length) return el("p", { className: "note", id: "pj-no-events", textContent: t("pjNoEvents") });
    const detail = e => [e.note, e.detail?.missing_documents?.length ? `${t("pjMissingDocs")}：${e.detail.missing_documents.join("、")}` : null,
      e.detail?.supplement_due ? `${t("pjSupplementDue")} ${e.detail.supplement_due}` : null].filter(Boolean).join("；") || "—";
    return table([
      { key: "at", head: t("pjAt"), cell: e => formatDate(e.at, true) },
      { key: "action", head: t("pjAction"), cell: e => label("pjActions", e.action) },
      { key: "change", head: t("pjChange"), cell: e => `${label("pjItemStatus", e.from_status)} → ${label("pjItemStatus", e.to_status)}` },
      { key: "actor", head: t("pjActor"), cell: e => e.actor_display_name ?? e.actor_name },
      { key: "note", head: t("pjNote"), cell: detail },
    ], this.events, { id: "pj-events", rowProps: e => ({ action: e.action, to: e.to_status }) });
  }

  /** POST to the API; on success the plan reloads with a notice made by okMessage(answer). */
  async #post(path, body, okMessage) {
    this.busy = true;
    this.ctx.rerender();
    try {
      const answer = await api(path, { method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" } });
      this.notice = { ok: okMessage(answer) };
    } catch (error) {
      this.notice = error;
    }
    this.busy = false;
    await this.reload();
    this.ctx.changed?.();
  }
}
