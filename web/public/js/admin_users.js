// 用户与组织 (users:manage): search the accounts, create them, change role, organisation and name, disable or
// enable them, reset a password (the one-time password is shown once), and keep the organisation directory.
// Role and organisation names come from the server (/api/roles, /api/orgs): the page never shows their codes.
import { api, apiPage } from "./api.js";
import { formatCount, formatDate, pick, t } from "./i18n.js";
import { OrgsPanel } from "./admin_orgs.js";
import { UserPanel, userState } from "./admin_user_panel.js";
import { fill } from "./demolition_progress.js";
import { el, message, Orgs, select, table } from "./projects_common.js";

const PAGE_SIZE = 20;

export class UsersPage {
  /** root: the page's <main>; context: {user} (the signed-in account, its permissions). */
  constructor(root, context) {
    this.root = root;
    this.me = context.user;
    this.roles = null; // [{code, name_zh, name_en}] from /api/roles
    this.orgs = new Orgs();
    this.query = { q: "", role: "", org_id: "", disabled: "" };
    this.offset = 0;
    this.found = { total: 0, users: [] };
    this.error = null;
    this.nodes = {
      users: el("section", { className: "ad-section", id: "ad-users" }),
      // The search form, the results and the account panel are drawn apart: an answer to a search redraws only
      // the results, so nothing a person is typing in the form or the panel is lost when it arrives.
      form: el("div"),
      results: el("div", { id: "ad-user-results" }),
      orgs: el("section", { className: "ad-section", id: "ad-orgs" }),
    };
    this.panel = new UserPanel(this);
    this.nodes.users.append(this.nodes.form, this.nodes.results, this.panel.root);
    this.orgsPanel = new OrgsPanel(this.nodes.orgs, this);
    this.root.replaceChildren(el("h2", { textContent: t("viewUsers") }), this.nodes.users, this.nodes.orgs);
    this.heading = this.root.firstChild;
  }

  /** The view was opened: roles and organisations once, the user list each time. */
  async activate() {
    try {
      if (!this.roles) {
        const [roles, orgs] = await Promise.all([api("/api/roles"), api("/api/orgs")]);
        this.roles = roles;
        this.orgs = new Orgs(orgs);
        this.orgsPanel.all = orgs;
        this.render(); // the form and the panel need the role and organisation names
      }
      await Promise.all([this.search(), this.orgsPanel.load()]);
    } catch (error) {
      this.error = error;
      this.render();
    }
  }

  /** Draw again (after a language switch or a change). */
  render() {
    this.heading.textContent = t("viewUsers");
    this.#renderForm();
    this.#renderResults();
    this.panel.render();
    this.orgsPanel.render();
    this.root.dataset.ready = this.roles ? "true" : "false"; // for tests and tools
  }

  /** Sign-out: forget everything shown, the one-time password above all. */
  destroy() {
    this.panel.forget();
    this.root.replaceChildren();
  }

  /** A role's name in the chosen language. */
  roleName(code) {
    const role = this.roles?.find(r => r.code === code);
    return role ? pick(role) : code;
  }

  /** [[code, name], …] of the roles, for a <select>. */
  roleOptions() { return (this.roles ?? []).map(r => [r.code, pick(r)]); }

  /** The organisations were changed (created, renamed): the pickers and the user list follow. */
  async orgsChanged() {
    this.orgs = new Orgs(await api("/api/orgs"));
    this.orgsPanel.all = this.orgs.list;
    this.#renderForm(); // the organisation filter lists the new names
    this.panel.render();
    await this.search();
  }

  /** Fetch the page of users the query asks for, then draw. */
  async search() {
    const params = new URLSearchParams({ limit: String(PAGE_SIZE), offset: String(this.offset) });
    for (const [key, value] of Object.entries(this.query)) if (value) params.set(key, value);
    const asked = (this.asked = (this.asked ?? 0) + 1);
    try {
      const { items, total } = await apiPage(`/api/users?${params}`);
      if (asked !== this.asked) return; // a later search is under way: its answer is the one to show
      this.found = { total, users: items };
      this.error = null;
    } catch (error) {
      if (asked !== this.asked) return;
      this.error = error;
    }
    this.#renderResults();
    this.root.dataset.ready = this.roles ? "true" : "false";
    this.root.dataset.searched = `${this.query.q}|${this.offset}|${this.found.total}`; // for tests and tools
  }

  #renderForm() {
    const q = el("input", { type: "search", id: "ad-q", value: this.query.q, maxLength: 100, placeholder: t("adSearchUsers") });
    q.setAttribute("aria-label", t("adSearchUsers"));
    const role = select([["", t("adAllRoles")], ...this.roleOptions()], this.query.role);
    const orgChoices = [...this.orgs.list].sort((a, b) => pick(a).localeCompare(pick(b), "zh-CN"));
    const org = select([["", t("adAllOrgs")], ...orgChoices.map(o => [String(o.id), pick(o)])], this.query.org_id);
    const state = select([["", t("adAllStates")], ["false", t("adEnabled")], ["true", t("adDisabled")]], this.query.disabled);
    Object.assign(role, { id: "ad-filter-role" });
    Object.assign(org, { id: "ad-filter-org" });
    Object.assign(state, { id: "ad-filter-state" });
    for (const [node, key] of [[role, "adRole"], [org, "adOrg"], [state, "adState"]]) node.setAttribute("aria-label", t(key));
    const form = el("form", { className: "ad-tools", id: "ad-user-search", role: "search" }, q, role, org, state,
      el("button", { type: "submit", className: "primary", textContent: t("adSearch") }));
    form.addEventListener("submit", event => {
      event.preventDefault();
      this.query = { q: q.value.trim(), role: role.value, org_id: org.value, disabled: state.value };
      this.offset = 0;
      this.search();
    });
    // A filter applies as soon as it is chosen; the search words when sent.
    for (const node of [role, org, state]) node.addEventListener("change", () => form.requestSubmit());
    fill(this.nodes.form, el("h3", { textContent: t("adUsers") }), form);
  }

  #renderResults() {
    fill(this.nodes.results, this.error ? message(this.error, "ad-users-error") : null,
      this.#count(), this.#table(), this.#pager());
  }

  /** The account panel changed (opened, closed, saved): it and the table's highlighted row are redrawn. */
  panelChanged() {
    this.panel.render();
    this.#renderResults();
  }

  #count() {
    const { total, users } = this.found;
    const text = total ? t("adUserCount", formatCount(total), formatCount(this.offset + 1), formatCount(this.offset + users.length))
      : t("adNoUsers");
    return el("p", { className: "note", id: "ad-user-count", role: "status", textContent: text });
  }

  #table() {
    const columns = [
      { key: "username", head: t("username"), cell: u => el("code", { textContent: u.username }) },
      { key: "name", head: t("adDisplayName"), cell: u => u.display_name || "—" },
      { key: "role", head: t("adRole"), cell: u => this.roleName(u.role) },
      { key: "org", head: t("adOrg"), cell: u => this.orgs.name(u.org_id) },
      { key: "state", head: t("adState"), cell: u => userState(u) },
      { key: "login", head: t("adLastLogin"), cell: u => formatDate(u.last_login_at, true) },
      { key: "open", head: "", cell: u => this.#openButton(u) },
    ];
    return table(columns, this.found.users, {
      id: "ad-user-table",
      rowProps: u => ({ user: String(u.id), className: this.panel.userId === u.id ? "open" : (u.disabled ? "done" : "") }),
    });
  }

  #openButton(user) {
    const button = el("button", { type: "button", className: "link", textContent: t("adManage") });
    button.addEventListener("click", () => this.panel.open(user));
    return button;
  }

  #pager() {
    const { total } = this.found;
    if (total <= PAGE_SIZE) return null;
    const back = el("button", { type: "button", id: "ad-prev", textContent: t("adPrev"), disabled: this.offset === 0 });
    const next = el("button", { type: "button", id: "ad-next", textContent: t("adNext"), disabled: this.offset + PAGE_SIZE >= total });
    back.addEventListener("click", () => { this.offset = Math.max(0, this.offset - PAGE_SIZE); this.search(); });
    next.addEventListener("click", () => { this.offset += PAGE_SIZE; this.search(); });
    return el("div", { className: "pj-buttons" }, back, next);
  }
}
