// The security administrator's page (安全策略): the identification policy (passwords, lock-out, idle sessions),
// the accounts locked now (with unlock), the service accounts (security_service.js), and the role × permission
// matrix the server enforces, read-only.
// Shown as its own view (#security-page) to roles with security:read (user.permissions, /api/auth/me).
import { api, ApiError, errorText } from "./api.js";
import { t } from "./i18n.js";
import { el, label, table } from "./projects_common.js";
import { ServiceAccounts } from "./security_service.js";

// The policy's settings with the bounds the server enforces (app/auth/security_policy.py), for the inputs'
// hints; the server checks them and its answer is what the form shows.
const SETTINGS = {
  password_min_length: [8, 128],
  password_min_classes: [1, 4],
  password_max_age_days: [1, 3650],
  password_history: [0, 24],
  lockout_threshold: [1, 100],
  lockout_minutes: [1, 1440],
  idle_timeout_minutes: [1, 1440],
};

export class SecurityPage {
  /** root: the page's <main>; context: {user} (user.permissions from /api/auth/me). */
  constructor(root, context) {
    this.root = root;
    this.user = context.user;
    this.policy = null;
    this.locked = [];
    this.matrix = null;
    this.draft = null; // the form's values while they differ from the stored policy
    this.fieldErrors = {};
    this.notice = null; // an ApiError, or {ok: key}
    this.service = new ServiceAccounts();
  }

  /** The view was opened: load the policy, the locked accounts and the matrix (again: others change them). */
  async activate() {
    try {
      [this.policy, this.locked, this.matrix] = await Promise.all([
        api("/api/security/policy"), api("/api/security/locked"), api("/api/security/roles"),
        this.service.load(),
      ]);
      this.draft = null;
    } catch (error) {
      this.notice = error;
    }
    this.render();
  }

  /** Draw again (after a language switch, or when data arrived). */
  render() {
    const head = el("h2", { textContent: t("viewSecurity") });
    if (!this.policy) {
      this.root.replaceChildren(head, this.#notice());
      return;
    }
    this.root.replaceChildren(
      head, this.#policyForm(), this.#lockedAccounts(), this.service.render(), this.#matrix());
  }

  /** Sign-out: forget everything shown (a service account's key first). */
  destroy() {
    this.service.forget();
    this.root.replaceChildren();
  }

  #notice() {
    const box = el("p", { id: "sec-notice", role: "status" });
    if (this.notice instanceof ApiError || this.notice instanceof Error) {
      box.className = "error";
      box.textContent = errorText(this.notice);
    } else if (this.notice?.ok) {
      box.className = "ok";
      box.textContent = t(this.notice.ok);
    }
    return box;
  }

  #policyForm() {
    const values = this.draft ?? this.policy;
    const form = el("form", { id: "sec-policy", className: "sec-policy", noValidate: true });
    for (const [name, [min, max]] of Object.entries(SETTINGS)) {
      const id = `sec-${name}`;
      const input = el("input", { id, name, type: "number", min, max, step: 1, value: values[name] });
      input.addEventListener("input", () => { this.draft = { ...(this.draft ?? this.policy), [name]: input.value }; });
      const error = el("span", { className: "error", id: `${id}-error`, textContent: this.fieldErrors[name] ?? "" });
      if (this.fieldErrors[name]) input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", error.id);
      form.append(el("div", { className: "field" },
        el("label", { htmlFor: id, textContent: label("secSettings", name) }), input,
        el("span", { className: "note", textContent: t("secRange", min, max) }), error));
    }
    form.append(el("button", { type: "submit", className: "primary", id: "sec-save", textContent: t("save") }),
      this.#notice());
    form.addEventListener("submit", event => { event.preventDefault(); this.#save(); });
    return el("section", { className: "sec-section" }, el("h3", { textContent: t("secPolicy") }), form);
  }

  async #save() {
    const values = this.draft ?? this.policy;
    const body = { version: this.policy.version };
    for (const name of Object.keys(SETTINGS)) body[name] = values[name] === "" ? null : Number(values[name]);
    this.fieldErrors = {};
    try {
      this.policy = await api("/api/security/policy", {
        method: "PUT", body: JSON.stringify(body), headers: { "Content-Type": "application/json" },
      });
      this.draft = null;
      this.notice = { ok: "secSaved" };
    } catch (error) {
      this.notice = error;
      for (const problem of error.problem?.errors ?? []) {
        const bounds = SETTINGS[problem.field];
        if (bounds) this.fieldErrors[problem.field] = t("secOutOfRange", ...bounds);
      }
    }
    this.render();
  }

  #lockedAccounts() {
    const section = el("section", { className: "sec-section", id: "sec-locked" },
      el("h3", { textContent: t("secLocked") }));
    if (!this.locked.length) {
      section.append(el("p", { className: "note", textContent: t("secNoneLocked") }));
      return section;
    }
    const columns = [
      { key: "username", head: t("username"), cell: u => u.username },
      { key: "display_name", head: t("secName"), cell: u => u.display_name || "—" },
      { key: "org", head: t("secOrg"), cell: u => u.org_name_zh },
      { key: "failed", head: t("secFailed"), cell: u => String(u.failed_attempts) },
      { key: "until", head: t("secLockedUntil"), cell: u => new Date(u.locked_until).toLocaleString() },
      { key: "unlock", head: "", cell: u => this.#unlockButton(u) },
    ];
    section.append(table(columns, this.locked, { id: "sec-locked-table" }));
    return section;
  }

  #unlockButton(user) {
    const button = el("button", { type: "button", textContent: t("secUnlock") });
    button.dataset.user = user.username;
    button.addEventListener("click", async () => {
      try {
        await api(`/api/users/${user.id}/unlock`, { method: "POST" });
        this.locked = await api("/api/security/locked");
        this.notice = { ok: "secUnlocked" };
      } catch (error) {
        this.notice = error;
      }
      this.render();
    });
    return button;
  }

  #matrix() {
    const { roles, actions, grants } = this.matrix;
    const columns = [
      { key: "action", head: t("secAction"), cell: action => label("secActions", action) },
      ...roles.map(role => ({
        key: role.role,
        head: label("secRoles", role.role),
        className: role.administrator ? "sec-admin" : "",
        cell: action => label("secScopes", grants[action][role.role] ?? "none"),
      })),
    ];
    return el("section", { className: "sec-section", id: "sec-matrix" },
      el("h3", { textContent: t("secMatrix") }), el("p", { className: "note", textContent: t("secMatrixNote") }),
      table(columns, actions, { id: "sec-matrix-table" }));
  }
}
