// A project's facts, and (for projects:manage) their edit: name, status, tier, investment and planned start,
// sent to PATCH /api/projects/{id} with If-Match of the version read and only the fields that changed. A stale
// version shows the API's message and offers to reload the current state.
import { api, ApiError } from "./api.js";
import { t } from "./i18n.js";
import { day, el, facts, field, label, message, select, typeName, wan } from "./projects_common.js";

// The status moves the API allows (app/projects/models.py STATUS_NEXT); the API stays the judge.
const STATUS_NEXT = {
  reserve: ["preparation", "stopped"],
  preparation: ["construction", "reserve", "stopped"],
  construction: ["completed", "stopped"],
  completed: [],
  stopped: [],
};
const TIERS = ["reserve", "preparation", "implementation"];

export class ProjectFacts {
  /** ctx: {may, orgs, templates, rerender, saved(project) → Promise, reload() → Promise}. */
  constructor(ctx) {
    this.ctx = ctx;
    this.reset();
  }

  /** Close the form and forget its messages. */
  reset() {
    this.base = null; // the project as read when the form opened (its version goes in If-Match)
    this.form = null;
    this.errors = {};
    this.error = null;
    this.notice = null;
    this.busy = false;
  }

  render(p) {
    const { orgs, templates } = this.ctx;
    const box = el("div", { className: "pj-facts", id: "pj-facts" }, facts([
      [t("pjCode"), el("span", { className: "mono", id: "pj-project-code", textContent: p.code })],
      [t("pjType"), typeName(templates(), p.project_type)],
      [t("pjOwner"), orgs().name(p.owner_dept_id)],
      [t("pjUnit"), orgs().name(p.unit_org_id)],
      [t("pjInvestment"), el("span", { id: "pj-fact-investment", textContent: wan(p.investment_wan) })],
      [t("pjFunding"), p.funding_source],
      [t("pjPlannedStart"), el("span", { id: "pj-fact-start", textContent: day(p.planned_start) })],
      [t("pjStatusLabel"), el("span", { id: "pj-fact-status", textContent: `${label("pjStatus", p.status)} · ${label("pjTier", p.tier)}` })],
      [t("pjInitiation"), label("pjInitiations", p.initiation)],
    ]));
    if (!this.ctx.may("projects:manage")) return box;
    if (this.form) {
      box.append(this.#form());
    } else {
      const edit = el("button", { type: "button", id: "pj-edit", textContent: t("pjEdit") });
      edit.addEventListener("click", () => this.#open(p));
      box.append(el("div", { className: "pj-buttons" }, edit), message(this.notice, "pj-edit-notice"));
    }
    return box;
  }

  #open(p) {
    this.reset();
    this.base = p;
    this.form = { name: p.name, status: p.status, tier: p.tier, investment_wan: String(Number(p.investment_wan)),
      planned_start: p.planned_start ?? "" };
    this.ctx.rerender();
  }

  #form() {
    const f = this.form;
    const bind = (key, input) => {
      input.value = f[key];
      input.addEventListener("input", () => { f[key] = input.value; });
      input.addEventListener("change", () => { f[key] = input.value; });
      return input;
    };
    const statuses = [this.base.status, ...STATUS_NEXT[this.base.status] ?? []];
    const form = el("form", { id: "pj-edit-form", className: "pj-form", noValidate: true },
      el("h4", { textContent: t("pjEdit") }),
      el("div", { className: "pj-grid" },
        field("pj-e-name", t("pjName"), bind("name", el("input", { maxLength: 200 }))).wrap,
        field("pj-e-status", t("pjStatusLabel"), bind("status", select(statuses.map(s => [s, label("pjStatus", s)])))).wrap,
        field("pj-e-tier", t("pjTierLabel"), bind("tier", select(TIERS.map(s => [s, label("pjTier", s)])))).wrap,
        field("pj-e-investment", `${t("pjInvestment")}（${t("pjWan")}）`, bind("investment_wan", el("input", { inputMode: "decimal" }))).wrap,
        field("pj-e-start", t("pjPlannedStart"), bind("planned_start", el("input", { type: "date" }))).wrap),
      message(this.error, "pj-edit-error"));
    for (const [name, key] of Object.entries(this.errors)) {
      form.querySelector(`#pj-e-${name}`).setAttribute("aria-invalid", "true");
      form.querySelector(`#pj-e-${name}-error`).textContent = t(key);
    }
    const buttons = el("div", { className: "pj-buttons" });
    const stale = this.error instanceof ApiError && [409, 412].includes(this.error.status);
    if (stale) {
      const reload = el("button", { type: "button", id: "pj-e-reload", className: "primary", textContent: t("pjEditReload") });
      reload.addEventListener("click", () => this.#reload());
      buttons.append(reload);
    }
    const save = el("button", { type: "submit", id: "pj-e-submit", className: stale ? "" : "primary", textContent: t("pjEditSave") });
    const cancel = el("button", { type: "button", id: "pj-e-cancel", textContent: t("pjCancel") });
    save.disabled = cancel.disabled = this.busy;
    cancel.addEventListener("click", () => { this.reset(); this.ctx.rerender(); });
    buttons.append(save, cancel);
    form.append(buttons);
    form.addEventListener("submit", event => { event.preventDefault(); this.#save(); });
    return form;
  }

  /** The fields that differ from the project as read (only those are sent). */
  #changes() {
    const f = this.form;
    const b = this.base;
    const out = {};
    if (f.name.trim() !== b.name) out.name = f.name.trim();
    if (f.status !== b.status) out.status = f.status;
    if (f.tier !== b.tier) out.tier = f.tier;
    if (Number(f.investment_wan) !== Number(b.investment_wan)) out.investment_wan = f.investment_wan.trim();
    if ((f.planned_start || null) !== (b.planned_start ?? null)) out.planned_start = f.planned_start || null;
    return out;
  }

  async #save() {
    const f = this.form;
    this.errors = {};
    if (!f.name.trim()) this.errors.name = "pjErrName";
    const money = Number(f.investment_wan);
    if (f.investment_wan.trim() === "" || !Number.isFinite(money) || money < 0) this.errors.investment = "pjErrInvestment";
    this.error = Object.keys(this.errors).length ? { key: "pjErrForm" } : null;
    const body = this.error ? null : this.#changes();
    if (body && !Object.keys(body).length) this.error = { key: "pjEditNothing" };
    if (this.error) { this.ctx.rerender(); return; }
    this.busy = true;
    this.ctx.rerender();
    try {
      const project = await api(`/api/projects/${this.base.id}`, {
        method: "PATCH", body: JSON.stringify(body),
        headers: { "Content-Type": "application/json", "If-Match": `"${this.base.version}"` },
      });
      this.reset();
      this.notice = { ok: ["pjEdited", Object.keys(body)] };
      await this.ctx.saved(project);
      return;
    } catch (error) {
      this.error = error; // stale (412): the API's message and a reload; a refused status move: its reason
    }
    this.busy = false;
    this.ctx.rerender();
  }

  /** After a stale refusal: read the project again and start the form over from its current state. */
  async #reload() {
    const project = await this.ctx.reload();
    if (project) this.#open(project);
  }
}
