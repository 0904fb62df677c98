// The organisation directory of 用户与组织 (orgs:manage): search by name or code, add an organisation, rename or
// reclassify one (its code stays: accounts and records name it).
import { api } from "./api.js";
import { pick, t } from "./i18n.js";
import { fill } from "./demolition_progress.js";
import { el, field, label, message, select, table } from "./projects_common.js";

const JSON_HEADERS = { "Content-Type": "application/json" };
const KINDS = ["department", "project_unit", "subdistrict", "other"];

export class OrgsPanel {
  /** root: the section to draw in; page: the UsersPage (told when the directory changes). */
  constructor(root, page) {
    this.root = root;
    this.page = page;
    this.all = []; // every organisation (the users' pickers)
    this.shown = []; // those the search found
    this.q = "";
    this.kind = "";
    this.editing = null; // the organisation whose form is open
    this.state = null;
    this.create = el("details", { className: "pj-form", id: "ad-org-create" }); // stays open across redraws
  }

  /** The organisations the search asks for. */
  async load() {
    const params = new URLSearchParams();
    if (this.q) params.set("q", this.q);
    if (this.kind) params.set("kind", this.kind);
    this.shown = await api(`/api/orgs?${params}`);
    this.render();
    this.root.dataset.searched = `${this.q}|${this.shown.length}`; // for tests and tools
  }

  render() {
    const q = el("input", { type: "search", id: "ad-org-q", value: this.q, maxLength: 100, placeholder: t("adSearchOrgs") });
    q.setAttribute("aria-label", t("adSearchOrgs"));
    const kind = kindSelect(this.kind, t("adAllKinds"));
    kind.id = "ad-org-kind";
    kind.setAttribute("aria-label", t("adKind"));
    const form = el("form", { className: "ad-tools", id: "ad-org-search", role: "search" }, q, kind,
      el("button", { type: "submit", className: "primary", textContent: t("adSearch") }));
    form.addEventListener("submit", event => {
      event.preventDefault();
      Object.assign(this, { q: q.value.trim(), kind: kind.value });
      this.#run(() => this.load());
    });
    const count = el("p", { className: "note", id: "ad-org-count", role: "status", textContent: t("adOrgCount", this.shown.length) });
    const parts = [el("h3", { textContent: t("adOrgs") }), form, message(this.state, "ad-org-message"),
      this.#editForm(), count, this.#table(), this.#createForm()];
    fill(this.root, ...parts);
  }

  #table() {
    const columns = [
      { key: "name", head: t("adOrgName"), cell: o => o.name_zh },
      { key: "name_en", head: t("adOrgNameEn"), cell: o => o.name_en || "—" },
      { key: "kind", head: t("adKind"), cell: o => label("adKinds", o.kind) },
      { key: "code", head: t("code"), cell: o => el("code", { textContent: o.code }) },
      { key: "edit", head: "", cell: o => this.#editButton(o) },
    ];
    return table(columns, this.shown, {
      id: "ad-org-table", rowProps: o => ({ org: o.code, className: this.editing?.id === o.id ? "open" : "" }),
    });
  }

  #editButton(org) {
    const button = el("button", { type: "button", className: "link", textContent: t("adEdit") });
    button.addEventListener("click", () => { Object.assign(this, { editing: org, state: null }); this.render(); });
    return button;
  }

  #fields(prefix, org) {
    const nameZh = el("input", { required: true, maxLength: 200, value: org?.name_zh ?? "" });
    const nameEn = el("input", { maxLength: 200, value: org?.name_en ?? "" });
    const kind = kindSelect(org?.kind ?? "department");
    return {
      nameZh, nameEn, kind,
      wraps: [field(`${prefix}-name`, t("adOrgName"), nameZh).wrap, field(`${prefix}-name-en`, t("adOrgNameEn"), nameEn).wrap,
        field(`${prefix}-kind`, t("adKind"), kind).wrap],
    };
  }

  #editForm() {
    const org = this.editing;
    if (!org) return null;
    const f = this.#fields("ad-org-edit", org);
    const cancel = el("button", { type: "button", className: "link", textContent: t("adCancel") });
    cancel.addEventListener("click", () => { this.editing = null; this.render(); });
    const form = el("form", { className: "pj-form", id: "ad-org-edit-form" },
      el("h4", {}, `${t("adEditOrg")}${pick(org)} `, el("code", { textContent: org.code })),
      el("div", { className: "pj-grid" }, ...f.wraps),
      el("div", { className: "pj-buttons" }, el("button", { type: "submit", className: "primary", textContent: t("save") }), cancel));
    form.addEventListener("submit", event => {
      event.preventDefault();
      const body = { version: org.version, name_zh: f.nameZh.value, name_en: f.nameEn.value.trim(), kind: f.kind.value };
      this.#change(`/api/orgs/${org.id}`, "PATCH", body, "adOrgSaved");
    });
    return form;
  }

  #createForm() {
    const code = el("input", { required: true, maxLength: 63, pattern: "[a-z0-9][a-z0-9_\\-]{1,62}", autocomplete: "off" });
    const f = this.#fields("ad-org-new", null);
    const form = el("form", { id: "ad-org-create-form" },
      el("div", { className: "pj-grid" }, field("ad-org-new-code", t("code"), code, t("adOrgCodeHint")).wrap, ...f.wraps),
      el("button", { type: "submit", className: "primary", textContent: t("adCreateOrg") }));
    form.addEventListener("submit", event => {
      event.preventDefault();
      const body = { code: code.value.trim(), name_zh: f.nameZh.value, kind: f.kind.value };
      if (f.nameEn.value.trim()) body.name_en = f.nameEn.value.trim();
      this.#change("/api/orgs", "POST", body, "adOrgCreated");
    });
    this.create.replaceChildren(el("summary", { textContent: t("adNewOrg") }), form);
    return this.create;
  }

  /** Send a change; on success list the organisation (by its code) and tell the page. */
  #change(path, method, body, ok) {
    this.#run(async () => {
      const org = await api(path, { method, body: JSON.stringify(body), headers: JSON_HEADERS });
      Object.assign(this, { editing: null, q: org.code, kind: "", state: { ok: [ok, pick(org)] } });
      await this.page.orgsChanged();
      await this.load();
    });
  }

  async #run(work) {
    try {
      await work();
    } catch (error) {
      this.state = error;
      this.render();
    }
  }
}

/** A <select> of the organisation kinds by name (optionally with an "all" choice first). */
function kindSelect(value, all = null) {
  const options = KINDS.map(k => [k, label("adKinds", k)]);
  return select(all ? [["", all], ...options] : options, value);
}
