// The approval tracker (项目审批): the project library, each project's back-scheduled approval plan,
// item handling, warnings and KPIs, and the demand pool. Shown as its own view (#projects-page) for roles
// with projects:read; every part appears only for the role's permissions (user.permissions, /api/auth/me).
import { api, ApiError } from "./api.js";
import { t } from "./i18n.js";
import { day, el, field, label, message, Orgs, select, table, typeName, wan } from "./projects_common.js";
import { picker } from "./picker.js";
import { DemandPool } from "./projects_demands.js";
import { ProjectDetail } from "./projects_plan.js";
import { Supervision } from "./projects_supervision.js";

const STATUS_ORDER = ["construction", "preparation", "reserve", "completed", "stopped"];
const CODE_PATTERN = /^\d{4}-\d{6}-\d{2}-0[123]-\d{6}$/;
const EMPTY_FORM = {
  name: "", project_type: "", owner_dept_code: "", unit_org_code: "", investment_wan: "", funding_source: "",
  planned_start: "", tier: "reserve", code: "",
};

export class ProjectsPage {
  /** root: the page's <main>; context: {user, district} (user.permissions from /api/auth/me; /api/district). */
  constructor(root, context) {
    this.root = root;
    this.user = context.user;
    this.district = context.district;
    this.section = "library";
    this.loaded = false;
    this.projects = [];
    this.filter = { status: "", text: "" };
    this.linkFilter = new URLSearchParams(); // a link's filters (#/projects?…): the API narrows the list
    this.linked = null; // the projects those filters select (null: no link filter)
    this.sort = { key: "planned_start", dir: 1 };
    this.form = null; // the register form's values while it is open
    this.formErrors = {};
    this.formError = null;
    this.notice = null; // the library's message: an ApiError, {key}, or {ok: [key, …args]}
    this.justCreated = null;
    this.asOf = ""; // 计算日期 of plans, warnings and KPIs; empty: today (the server's date)
    const shared = {
      user: this.user, may: action => this.may(action), asOf: () => this.asOf, rerender: () => this.render(),
      orgs: () => this.orgs, templates: () => this.templates,
    };
    this.detail = new ProjectDetail({ ...shared, back: () => this.#back(), changed: () => this.#reload(),
      place: { layersByCode: context.layersByCode } });
    this.supervision = new Supervision(shared);
    this.demands = new DemandPool({ ...shared, projects: () => this.projects, changed: () => this.#reload(),
      place: { layersByCode: context.layersByCode, district: context.district } });
  }

  /** Whether the role may do an action of the policy (scope aside). */
  may(action) { return Boolean(this.user.permissions?.[action]); }

  /** The view was opened: load the directory, templates and projects (again, to see others' changes). */
  async activate() {
    try {
      if (!this.loaded) {
        const [orgs, templates] = await Promise.all([api("/api/orgs"), api("/api/approval-templates")]);
        this.orgs = new Orgs(orgs);
        this.templates = new Map(templates.map(tpl => [tpl.project_type, tpl]));
        this.loaded = true;
      }
      await this.#loadProjects();
    } catch (error) {
      this.notice = error;
    }
    this.render();
    this.#refreshSection();
  }

  async #loadProjects() {
    const query = this.linkFilter.toString();
    [this.projects, this.linked] = await Promise.all([
      api("/api/projects"), query ? api(`/api/projects?${query}`) : null,
    ]);
  }

  /**
   * A link into the page: #/project/<id> (that project), #/projects?<filters> (the library narrowed by
   * status, tier, project_type, funding_source, unit, subdistrict), #/items?<query> (the approval items
   * behind an overview figure, above the warnings and KPIs).
   */
  async route({ kind, id, params }) {
    if (kind === "project") {
      if (!this.loaded) await this.activate();
      await this.openProject(id);
      return;
    }
    this.detail.close();
    if (kind === "items") {
      this.section = "supervision";
      this.supervision.itemQuery = params;
    } else {
      this.section = "library";
      this.linkFilter = params;
      this.filter.status = "";
    }
    await this.activate();
  }

  /** Show one project (by id: a footprint clicked on the map), in the library's section. */
  async openProject(id) {
    try {
      const project = await api(`/api/projects/${id}`);
      this.section = "library";
      await this.detail.open(project);
    } catch (error) {
      this.notice = error;
      this.render();
    }
  }

  /** Draw again (after a language switch, or when data arrived). */
  render() {
    const head = el("div", { className: "pj-head" }, el("h2", { textContent: t("viewProjects") }), this.#tabs(),
      this.#asOfField());
    let body;
    if (!this.loaded) body = el("div", {}, message(this.notice, "pj-notice"), el("p", { className: "note", textContent: t("pjLoading") }));
    else if (this.section === "supervision") body = this.supervision.render();
    else if (this.section === "demands") body = this.demands.render();
    else if (this.detail.project) body = this.detail.render();
    else body = this.#library();
    this.root.replaceChildren(head, body);
    this.root.dataset.section = this.detail.project && this.section === "library" ? "project" : this.section;
  }

  /** Sign-out: forget everything shown. */
  destroy() { this.root.replaceChildren(); }

  #tabs() {
    const sections = [["library", "pjLibrary"]];
    if (this.may("supervision:read")) sections.push(["supervision", "pjSupervision"]);
    if (this.may("demands:submit")) sections.push(["demands", "pjDemands"]);
    const nav = el("nav", { className: "pj-tabs" });
    nav.setAttribute("role", "tablist");
    for (const [name, key] of sections) {
      const tab = el("button", { type: "button", id: `pj-tab-${name}`, textContent: t(key) });
      tab.setAttribute("role", "tab");
      tab.setAttribute("aria-selected", String(this.section === name));
      tab.addEventListener("click", () => this.#show(name));
      nav.append(tab);
    }
    return nav;
  }

  #asOfField() {
    const input = el("input", { type: "date", value: this.asOf, min: "2000-01-01", max: "2099-12-31" });
    input.addEventListener("change", () => {
      this.asOf = input.value;
      this.#refreshSection();
    });
    const wrap = field("pj-as-of", t("pjAsOf"), input).wrap;
    wrap.classList.add("pj-as-of");
    wrap.title = t("pjAsOfHint");
    return wrap;
  }

  #show(name) {
    this.section = name;
    if (name === "library") this.detail.close();
    this.render();
    this.#refreshSection();
  }

  #refreshSection() {
    if (this.section === "supervision") this.supervision.load();
    else if (this.section === "demands") this.demands.load();
    else if (this.detail.project) this.detail.reload();
  }

  async #reload() {
    try {
      await this.#loadProjects();
    } catch (error) {
      this.notice = error;
    }
    this.render();
  }

  #back() {
    this.detail.close();
    this.#reload();
  }

  // --- the library --------------------------------------------------------------------------------

  #visible() {
    const text = this.filter.text.trim().toLowerCase();
    const rows = (this.linked ?? this.projects).filter(p => !this.filter.status || p.status === this.filter.status).filter(p => !text || [
      p.code, p.name, this.orgs.name(p.owner_dept_id), this.orgs.name(p.unit_org_id), typeName(this.templates, p.project_type),
    ].some(s => String(s).toLowerCase().includes(text)));
    const { key, dir } = this.sort;
    const value = p => {
      if (key === "status") return STATUS_ORDER.indexOf(p.status);
      if (key === "investment_wan") return Number(p.investment_wan);
      if (key === "planned_start") return p.planned_start ?? "9999-99-99"; // without a date: last
      return String(p[key] ?? "");
    };
    return rows.sort((a, b) => {
      const [x, y] = [value(a), value(b)];
      return (x < y ? -dir : x > y ? dir : 0) || a.code.localeCompare(b.code);
    });
  }

  #library() {
    const status = select([["", t("pjAllStatuses")], ...STATUS_ORDER.map(s => [s, label("pjStatus", s)])], this.filter.status);
    status.addEventListener("change", () => { this.filter.status = status.value; this.#redrawList(); });
    const search = el("input", { type: "search", value: this.filter.text, placeholder: t("pjSearchHint") });
    search.addEventListener("input", () => { this.filter.text = search.value; this.#redrawList(); });
    const tools = el("div", { className: "pj-tools" }, field("pj-filter-status", t("pjStatusLabel"), status).wrap,
      field("pj-search", t("pjSearch"), search).wrap);
    if (this.may("projects:manage") && !this.form) {
      const add = el("button", { type: "button", id: "pj-new", className: "primary", textContent: t("pjRegister") });
      add.addEventListener("click", () => { this.form = { ...EMPTY_FORM }; this.formErrors = {}; this.formError = null; this.render(); });
      tools.append(add);
    }
    const section = el("section", { className: "pj-library" }, el("h3", { textContent: t("pjLibrary") }), tools,
      message(this.notice, "pj-notice"));
    if (this.linked) section.append(this.#linkFilterNote());
    if (this.form) section.append(this.#registerForm());
    section.append(el("div", { id: "pj-list" }, this.#list()));
    return section;
  }

  /** The link's filters, named, with a link back to the whole library. */
  #linkFilterNote() {
    const named = [...this.linkFilter].map(([key, value]) => {
      if (key === "status") return label("pjStatus", value);
      if (key === "tier") return label("pjTier", value);
      if (key === "project_type") return typeName(this.templates, value);
      if (key === "subdistrict") return value === "unassigned" ? t("ovUnassigned") : value;
      if (key === "unit") return this.orgs.name(value);
      return value;
    });
    const clear = el("a", { href: "#/projects", id: "pj-link-clear", textContent: t("pjLinkClear") });
    return el("p", { className: "note", id: "pj-link-filter" }, `${t("pjLinkFilter")}${named.join(" · ")} `, clear);
  }

  #redrawList() {
    document.getElementById("pj-list")?.replaceChildren(this.#list());
  }

  #list() {
    const rows = this.#visible();
    const open = project => {
      const button = el("button", { type: "button", className: "link", textContent: project.name });
      button.addEventListener("click", () => this.detail.open(project));
      return button;
    };
    const columns = [
      { key: "code", head: t("pjCode"), cell: p => el("a", { href: `#/project/${p.id}`, textContent: p.code }), className: "mono", sort: true },
      { key: "name", head: t("pjName"), cell: open, sort: true },
      { key: "project_type", head: t("pjType"), cell: p => typeName(this.templates, p.project_type), sort: true },
      { key: "owner", head: t("pjOwner"), cell: p => this.orgs.name(p.owner_dept_id) },
      { key: "unit", head: t("pjUnit"), cell: p => this.orgs.name(p.unit_org_id) },
      { key: "status", head: t("pjStatusLabel"), cell: p => `${label("pjStatus", p.status)} · ${label("pjTier", p.tier)}`, sort: true },
      { key: "investment_wan", head: t("pjInvestment"), cell: p => wan(p.investment_wan), className: "num", sort: true },
      { key: "planned_start", head: t("pjPlannedStart"), cell: p => day(p.planned_start), sort: true },
    ];
    const node = table(columns, rows, {
      id: "pj-projects",
      rowProps: p => ({ id: String(p.id), code: p.code, className: p.id === this.justCreated ? "pj-new-row" : "" }),
      sorted: this.sort,
      onSort: key => {
        this.sort = { key, dir: this.sort.key === key ? -this.sort.dir : 1 };
        this.#redrawList();
      },
    });
    const all = (this.linked ?? this.projects).length;
    const count = el("p", { className: "note", id: "pj-count", textContent: t("pjCount", rows.length, all) });
    count.dataset.count = String(rows.length);
    if (!rows.length) count.textContent = all ? t("pjNoMatch") : t("pjNoProjects");
    return el("div", {}, count, node);
  }

  // --- registering a project --------------------------------------------------------------------------

  #registerForm() {
    const f = this.form;
    const role = this.user.role;
    const bind = (key, input) => {
      input.value = f[key];
      input.addEventListener("input", () => { f[key] = input.value; });
      input.addEventListener("change", () => { f[key] = input.value; });
      return input;
    };
    // Organisations are picked by typing part of a name (either language) or code.
    const orgPicker = (kinds, text) => picker(this.orgs.ofKind(...kinds).map(o => [o.code, this.orgs.name(o.code), `${o.code} ${o.name_zh} ${o.name_en}`]), "", text, t("pickerSearchOrg"));
    const fields = [
      field("pj-f-name", t("pjName"), bind("name", el("input", { maxLength: 200 }))),
      field("pj-f-type", t("pjType"), bind("project_type", select([["", t("pjChoose")],
        ...[...this.templates.keys()].map(k => [k, typeName(this.templates, k)])]))),
    ];
    if (role !== "reviewer") fields.push(field("pj-f-owner", t("pjOwner"), bind("owner_dept_code", orgPicker(["department"], t("pjOwner")))));
    if (role !== "project_unit") {
      fields.push(field("pj-f-unit", t("pjUnit"), bind("unit_org_code", orgPicker(["project_unit", "subdistrict"], t("pjUnit")))));
    }
    fields.push(
      field("pj-f-investment", `${t("pjInvestment")}（${t("pjWan")}）`, bind("investment_wan", el("input", { inputMode: "decimal" }))),
      field("pj-f-funding", t("pjFunding"), bind("funding_source", el("input", { maxLength: 100 }))),
      field("pj-f-start", t("pjPlannedStart"), bind("planned_start", el("input", { type: "date" }))),
      field("pj-f-tier", t("pjTierLabel"), bind("tier", select(Object.entries(t("pjTier"))))),
      field("pj-f-code", t("pjCodeOptional"), bind("code", el("input", { maxLength: 24, placeholder: `YYYY-${this.district.code}-DD-TT-RRRRRC` })), t("pjCodeHint")),
    );
    const own = role === "reviewer" ? [t("pjOwner"), this.user.org_name_zh] : role === "project_unit" ? [t("pjUnit"), this.user.org_name_zh] : null;
    const form = el("form", { id: "pj-form", className: "pj-form", noValidate: true },
      el("h4", { textContent: t("pjRegister") }),
      own ? el("p", { className: "note", textContent: `${own[0]}：${own[1]}` }) : null,
      el("div", { className: "pj-grid" }, ...fields.map(x => x.wrap)),
      message(this.formError, "pj-form-error"),
      el("div", { className: "pj-buttons" },
        el("button", { type: "submit", className: "primary", id: "pj-f-submit", textContent: t("pjSubmitRegister") }),
        el("button", { type: "button", id: "pj-f-cancel", textContent: t("pjCancel") })));
    for (const [name, error] of Object.entries(this.formErrors)) {
      const input = form.querySelector(`#pj-f-${name}`);
      if (!input) continue;
      input.setAttribute("aria-invalid", "true");
      form.querySelector(`#pj-f-${name}-error`).textContent = error instanceof ApiError ? error.text() : t(error);
    }
    form.querySelector("#pj-f-cancel").addEventListener("click", () => { this.form = null; this.render(); });
    form.addEventListener("submit", event => { event.preventDefault(); this.#register(); });
    return form;
  }

  /** Field-by-field checks with Chinese/English messages before anything is sent. */
  #check(f) {
    const errors = {};
    if (!f.name.trim()) errors.name = "pjErrName";
    if (!f.project_type) errors.type = "pjErrType";
    if (this.user.role !== "reviewer" && !f.owner_dept_code) errors.owner = "pjErrOwner";
    if (this.user.role !== "project_unit" && !f.unit_org_code) errors.unit = "pjErrUnit";
    const money = Number(f.investment_wan);
    if (f.investment_wan.trim() === "" || !Number.isFinite(money) || money < 0) errors.investment = "pjErrInvestment";
    if (!f.funding_source.trim()) errors.funding = "pjErrFunding";
    if (f.code.trim() && !CODE_PATTERN.test(f.code.trim())) errors.code = "pjErrCode";
    return errors;
  }

  async #register() {
    const f = this.form;
    this.formErrors = this.#check(f);
    this.formError = Object.keys(this.formErrors).length ? { key: "pjErrForm" } : null;
    if (this.formError) { this.render(); return; }
    const body = {
      name: f.name.trim(), project_type: f.project_type, investment_wan: f.investment_wan.trim(),
      funding_source: f.funding_source.trim(), tier: f.tier, planned_start: f.planned_start || null,
    };
    if (this.user.role !== "reviewer") body.owner_dept_code = f.owner_dept_code;
    if (this.user.role !== "project_unit") body.unit_org_code = f.unit_org_code;
    if (f.code.trim()) body.code = f.code.trim();
    try {
      const project = await api("/api/projects", {
        method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" },
      });
      this.form = null;
      this.justCreated = project.id;
      this.notice = { ok: ["pjRegistered", project.code, project.name] };
      this.projects = await api("/api/projects");
    } catch (error) {
      this.formError = error;
      this.formErrors = this.#serverFieldErrors(error);
    }
    this.render();
  }

  /** Which form fields a refusal names: validation errors by field, project-code problems on the code. */
  #serverFieldErrors(error) {
    const out = {};
    const names = { name: "name", project_type: "type", owner_dept_code: "owner", unit_org_code: "unit",
      investment_wan: "investment", funding_source: "funding", planned_start: "start", tier: "tier", code: "code" };
    for (const e of error?.problem?.errors ?? []) if (names[e.field]) out[names[e.field]] = "pjErrInvalid";
    if (String(error?.problem?.code ?? "").startsWith("bad_project_code") || error?.problem?.code === "code_taken") {
      out.code = error;
    }
    if (error?.problem?.code === "unknown_org") out[this.user.role === "reviewer" ? "unit" : "owner"] = error;
    return out;
  }
}
