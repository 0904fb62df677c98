// Blockers (征拆问题): the project's, or the caller's work list (blockers:work); their thread and actions —
// comment, resolve, and for coordinators escalate, reassign and raise new ones.
import { api, errorText } from "./api.js";
import { formatDate, t } from "./i18n.js";
import { el } from "./panels.js";
import { fill } from "./demolition_progress.js";

const OPEN = new Set(["open", "escalated"]);
const json = body => ({ method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" } });

export class BlockerPanel {
  constructor(root, page) {
    this.root = root;
    this.page = page;
    this.scope = "project"; // or "mine": GET /api/demolition/blockers
    this.reset();
  }

  reset() {
    Object.assign(this, { list: [], shown: "open", openId: null, thread: [], error: null, loadError: null, raising: false });
  }

  /** Read the list of the chosen scope (and the open blocker's thread). */
  async load() {
    const id = this.page.projectId;
    this.loadError = null;
    try {
      this.list = this.scope === "mine"
        ? await api("/api/demolition/blockers")
        : id == null ? [] : await api(`/api/demolition/projects/${id}/blockers`);
      this.thread = this.openId == null ? [] : await api(`/api/demolition/blockers/${this.openId}/comments`);
    } catch (error) {
      this.loadError = error;
    }
  }

  async #reload() {
    await this.load();
    this.render();
  }

  render() {
    if (this.page.projectId == null && this.scope === "project") { this.root.replaceChildren(); return; }
    const tabs = el("div", { className: "dm-tabs", role: "tablist" });
    const scopes = [["project", "dmProjectBlockers"], ...(this.page.can.blockers ? [["mine", "dmMyBlockers"]] : [])];
    for (const [scope, label] of scopes) {
      const tab = el("button", { type: "button", role: "tab", textContent: t(label) });
      tab.dataset.scope = scope;
      tab.setAttribute("aria-selected", String(scope === this.scope));
      tab.addEventListener("click", () => { Object.assign(this, { scope, openId: null, error: null }); this.#reload(); });
      tabs.append(tab);
    }
    const shown = el("select", { id: "dm-blocker-filter" },
      ...["open", "resolved", "all"].map(k => el("option", { value: k, textContent: t("dmBlockerShown")[k], selected: k === this.shown })));
    shown.setAttribute("aria-label", t("dmBlockerFilter"));
    shown.addEventListener("change", () => { this.shown = shown.value; this.render(); });
    let raise = null;
    if (this.page.can.coordinate && this.scope === "project") {
      raise = el("button", { type: "button", id: "dm-raise", textContent: t("dmRaise") });
      raise.addEventListener("click", () => { this.raising = !this.raising; this.render(); });
    }
    fill(this.root,
      el("h3", { textContent: t("dmBlockers") }),
      el("div", { className: "dm-toolbar" }, tabs, shown, raise),
      this.error || this.loadError
        ? el("p", { className: "error", role: "alert", textContent: errorText(this.error ?? this.loadError) }) : null,
      this.raising ? this.#raiseForm() : null,
      el("div", { className: "table-scroll" }, this.#table()),
      this.#detail(),
    );
  }

  #visible() {
    return this.list.filter(b => this.shown === "all" || (this.shown === "open") === OPEN.has(b.status));
  }

  #table() {
    const rows = this.#visible();
    const mine = this.scope === "mine";
    const headers = ["dmDeadline", "dmCategory", "dmTitle", ...(mine ? ["dmProject"] : []), "dmUnitCode", "dmDepartment", "dmStatus"];
    const body = el("tbody");
    const today = formatDate(new Date());
    for (const b of rows) {
      const overdue = OPEN.has(b.status) && b.deadline < today;
      const status = t("dmBlockerStatus")[b.status] + (b.escalation_level ? ` · ${t("dmLevel", b.escalation_level)}` : "");
      const tr = el("tr", { tabIndex: 0, className: overdue ? "dm-overdue" : "" },
        el("td", { textContent: b.deadline + (overdue ? ` ${t("dmOverdue")}` : "") }),
        el("td", { textContent: t("dmCategories")[b.category] ?? b.category }),
        el("td", { textContent: b.title }),
        mine ? el("td", { textContent: this.page.projects?.find(p => p.id === b.project_id)?.name ?? `#${b.project_id}` }) : null,
        el("td", { textContent: b.unit_code ?? t("dmWholeProject") }),
        el("td", { textContent: this.page.orgName(b.department_code) }),
        el("td", { textContent: status }));
      tr.dataset.id = String(b.id);
      if (b.id === this.openId) tr.classList.add("picked");
      const open = async () => { this.openId = b.id; this.error = null; await this.#reload(); };
      tr.addEventListener("click", open);
      tr.addEventListener("keydown", event => { if (event.key === "Enter") open(); });
      body.append(tr);
    }
    if (!rows.length) body.append(el("tr", {}, el("td", { colSpan: headers.length, className: "note", textContent: t("dmNoBlockers") })));
    return el("table", { className: "dm-table dm-blocker-list" },
      el("thead", {}, el("tr", {}, ...headers.map(h => el("th", { scope: "col", textContent: t(h) })))), body);
  }

  #departments(selected = "") {
    const select = el("select", {}, el("option", { value: "", textContent: "—" }),
      ...this.page.orgs.filter(o => o.kind === "department").map(o => el("option", { value: o.code, textContent: this.page.orgName(o.code) })));
    select.value = selected;
    return select;
  }

  #raiseForm() {
    const category = el("select", { name: "category" },
      ...Object.entries(t("dmCategories")).map(([code, name]) => el("option", { value: code, textContent: name })));
    const unit = el("select", { name: "unit_id" }, el("option", { value: "", textContent: t("dmWholeProject") }),
      ...this.page.units.map(u => el("option", { value: String(u.id), textContent: u.unit_code, selected: u.id === this.page.unit.unitId })));
    const title = el("input", { name: "title", required: true, maxLength: 200 });
    const description = el("textarea", { name: "description", rows: 2, maxLength: 5000 });
    const department = Object.assign(this.#departments(), { name: "department_code" });
    const deadline = el("input", { name: "deadline", type: "date" });
    const field = (label, input) => el("label", { className: "field" }, el("span", { textContent: t(label) }), input);
    const form = el("form", { className: "dm-form", id: "dm-raise-form", noValidate: true },
      field("dmCategory", category), field("dmUnitCode", unit), field("dmTitle", title), field("dmDescription", description),
      field("dmDepartment", department), field("dmDeadline", deadline),
      el("button", { type: "submit", className: "primary", textContent: t("dmRaiseSend") }));
    form.addEventListener("submit", async event => {
      event.preventDefault();
      const body = Object.fromEntries(new FormData(form));
      body.unit_id = body.unit_id ? Number(body.unit_id) : null;
      try {
        const made = await api(`/api/demolition/projects/${this.page.projectId}/blockers`, json(body));
        Object.assign(this, { raising: false, openId: made.id, error: null, shown: "open" });
      } catch (error) {
        this.error = error;
      }
      await this.#reload();
    });
    return form;
  }

  #detail() {
    const b = this.list.find(x => x.id === this.openId);
    if (!b) return null;
    const thread = el("ol", { className: "dm-events", id: "dm-thread" }, ...this.thread.map(c =>
      el("li", {}, el("span", { className: "dm-when", textContent: `${formatDate(c.at, true)} · ${c.actor_display_name ?? c.actor_name} · ${t("dmActions")[c.kind] ?? c.kind}` }),
        el("span", { className: "dm-what", textContent: c.body }))));
    return el("article", { className: "dm-blocker", id: "dm-blocker" },
      el("h4", { textContent: `${b.title}（${t("dmCategories")[b.category] ?? b.category}）` }),
      b.description ? el("p", { textContent: b.description }) : null,
      b.resolution ? el("p", { className: "ok", textContent: `${t("dmResolution")}：${b.resolution}` }) : null,
      thread,
      this.page.can.blockers && OPEN.has(b.status) ? this.#actionForm(b) : null);
  }

  #actionForm(b) {
    const coordinating = this.page.can.coordinate;
    const assigned = b.department_id === this.page.context.user.org_id; // the department may resolve it
    const actions = ["comment", ...(coordinating || assigned ? ["resolve"] : []), ...(coordinating ? ["escalate", "reassign"] : [])];
    const action = el("select", { name: "action", id: "dm-blocker-action" },
      ...actions.map(a => el("option", { value: a, textContent: t("dmActions")[a] })));
    const body = el("textarea", { name: "body", id: "dm-blocker-body", rows: 2, maxLength: 5000, required: true });
    const department = Object.assign(this.#departments(b.department_code), { name: "department_code" });
    const deadline = el("input", { name: "deadline", type: "date", value: b.deadline });
    const moving = el("div", { className: "dm-moving" },
      el("label", { className: "field" }, el("span", { textContent: t("dmDepartment") }), department),
      el("label", { className: "field" }, el("span", { textContent: t("dmDeadline") }), deadline));
    const sync = () => { moving.hidden = !["escalate", "reassign"].includes(action.value); };
    action.addEventListener("change", sync);
    sync();
    const form = el("form", { className: "dm-form", id: "dm-blocker-form", noValidate: true },
      el("label", { className: "field" }, el("span", { textContent: t("dmAction") }), action),
      el("label", { className: "field" }, el("span", { textContent: t("dmActionBody") }), body),
      moving, el("button", { type: "submit", className: "primary", textContent: t("dmSend") }));
    form.addEventListener("submit", async event => {
      event.preventDefault();
      const request = { action: action.value, body: body.value.trim(), version: b.version };
      if (!moving.hidden) Object.assign(request, { department_code: department.value || null, deadline: deadline.value || null });
      try {
        await api(`/api/demolition/blockers/${b.id}/actions`, json(request));
        this.error = null;
      } catch (error) {
        this.error = error;
      }
      await this.#reload();
    });
    return form;
  }
}
