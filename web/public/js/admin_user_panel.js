// The account forms of 用户与组织: a new account, and one account's changes (name, role, organisation,
// disable/enable, unlock, password reset). A generated one-time password is shown once, with a copy button,
// and forgotten when it is closed, another account is opened or the user signs out.
import { api } from "./api.js";
import { formatDate, pick, t } from "./i18n.js";
import { picker } from "./picker.js";
import { fill } from "./demolition_progress.js";
import { el, facts, field, message, select } from "./projects_common.js";

const JSON_HEADERS = { "Content-Type": "application/json" };

export class UserPanel {
  constructor(page) {
    this.page = page;
    this.root = el("div", { id: "ad-user-panel" });
    this.create = el("details", { className: "pj-form", id: "ad-user-create" }); // stays open across redraws
    this.user = null; // the account opened for changes
    this.secret = null; // {username, password}: the one-time password, until closed
    this.state = null; // the last outcome: {ok: [key, …args]} or an error
    this.confirmReset = false;
  }

  get userId() { return this.user?.id ?? null; }

  /** Open an account for changes (a one-time password still shown for another one is dropped). */
  open(user) {
    if (this.secret && this.secret.username !== user.username) this.secret = null;
    Object.assign(this, { user, state: null, confirmReset: false });
    this.page.panelChanged();
    document.getElementById("ad-user-edit")?.scrollIntoView({ block: "nearest" });
  }

  /** Drop the one-time password and the opened account (sign-out). */
  forget() { Object.assign(this, { secret: null, user: null, state: null }); }

  render() {
    const parts = [this.#secretBox(), message(this.state, "ad-user-message"), this.#editForm(), this.#createForm()];
    fill(this.root, ...parts);
    return this.root;
  }

  #orgPicker(value) {
    const orgs = [...this.page.orgs.list].sort((a, b) => pick(a).localeCompare(pick(b), "zh-CN"));
    const options = orgs.map(o => [o.code, pick(o), `${o.name_zh} ${o.name_en ?? ""} ${o.code}`]);
    return picker(options, value, t("adOrg"), t("pickerSearchOrg"));
  }

  #createForm() {
    const username = el("input", { required: true, maxLength: 63, pattern: "[a-z0-9][a-z0-9._\\-]{1,62}", autocomplete: "off" });
    const name = el("input", { maxLength: 100, autocomplete: "off" });
    const role = select([["", t("adChooseRole")], ...this.page.roleOptions()], "");
    const org = this.#orgPicker("");
    role.required = org.required = true; // no role or organisation is assumed for a new account
    const form = el("form", { id: "ad-user-create-form" },
      el("div", { className: "pj-grid" },
        field("ad-new-username", t("username"), username, t("adUsernameHint")).wrap,
        field("ad-new-name", t("adDisplayName"), name).wrap,
        field("ad-new-role", t("adRole"), role).wrap,
        field("ad-new-org", t("adOrg"), org).wrap),
      el("p", { className: "note", textContent: t("adCreateNote") }),
      el("button", { type: "submit", className: "primary", textContent: t("adCreate") }));
    form.addEventListener("submit", event => {
      event.preventDefault();
      const body = { username: username.value.trim(), display_name: name.value.trim(), role: role.value, org_code: org.value };
      this.#send(async () => {
        const made = await api("/api/users", { method: "POST", body: JSON.stringify(body), headers: JSON_HEADERS });
        this.user = made.user;
        this.secret = { username: made.user.username, password: made.one_time_password };
        this.page.query = { q: made.user.username, role: "", org_id: "", disabled: "" }; // the new account, listed
        this.page.offset = 0;
        return { ok: ["adCreated", made.user.username] };
      });
    });
    this.create.replaceChildren(el("summary", { textContent: t("adNewUser") }), form);
    return this.create;
  }

  #editForm() {
    const user = this.user;
    if (!user) return null;
    const name = el("input", { maxLength: 100, value: user.display_name });
    const role = select(this.page.roleOptions(), user.role);
    const org = this.#orgPicker(user.org_code);
    const save = el("form", { id: "ad-user-edit-form" },
      el("div", { className: "pj-grid" },
        field("ad-edit-name", t("adDisplayName"), name).wrap,
        field("ad-edit-role", t("adRole"), role).wrap,
        field("ad-edit-org", t("adOrg"), org).wrap),
      el("div", { className: "pj-buttons" },
        el("button", { type: "submit", className: "primary", id: "ad-save", textContent: t("save") }),
        ...this.#actions(user)));
    save.addEventListener("submit", event => {
      event.preventDefault();
      this.#patch({ display_name: name.value.trim(), role: role.value, org_code: org.value }, ["adSaved"]);
    });
    const who = el("h4", {}, `${t("adManageUser")}${user.display_name || ""} `, el("code", { textContent: user.username }));
    const close = el("button", { type: "button", className: "link", id: "ad-edit-close", textContent: t("close") });
    close.addEventListener("click", () => { Object.assign(this, { user: null, state: null }); this.page.panelChanged(); });
    who.append(close);
    return el("section", { className: "pj-item", id: "ad-user-edit" }, who,
      facts([
        [t("adRole"), this.page.roleName(user.role)], [t("adOrg"), this.page.orgs.name(user.org_id)],
        [t("adState"), userState(user)], [t("adLastLogin"), formatDate(user.last_login_at, true)],
        [t("adCreatedAt"), formatDate(user.created_at, true)],
      ]),
      save);
  }

  #actions(user) {
    const buttons = [];
    const self = user.id === this.page.me.id; // the server refuses disabling oneself: no button for it
    if (!self) {
      const toggle = el("button", { type: "button", id: "ad-toggle", textContent: user.disabled ? t("adEnable") : t("adDisable") });
      toggle.addEventListener("click", () => this.#patch({ disabled: !user.disabled }, [user.disabled ? "adEnabledNow" : "adDisabledNow"]));
      buttons.push(toggle);
    }
    if (user.locked) {
      const unlock = el("button", { type: "button", id: "ad-unlock", textContent: t("adUnlock") });
      unlock.addEventListener("click", () => this.#send(async () => {
        this.user = await api(`/api/users/${user.id}/unlock`, { method: "POST" });
        return { ok: ["adUnlocked"] };
      }));
      buttons.push(unlock);
    }
    const reset = el("button", { type: "button", id: "ad-reset", textContent: this.confirmReset ? t("adResetConfirm") : t("adReset") });
    if (this.confirmReset) reset.className = "primary";
    reset.addEventListener("click", () => {
      if (!this.confirmReset) { this.confirmReset = true; this.page.panelChanged(); return; }
      this.#send(async () => {
        const made = await api(`/api/users/${user.id}/reset-password`, { method: "POST" });
        this.user = made.user;
        this.secret = { username: made.user.username, password: made.one_time_password };
        return { ok: ["adResetDone", made.user.username] };
      });
    });
    buttons.push(reset);
    if (this.confirmReset) {
      const cancel = el("button", { type: "button", className: "link", textContent: t("adCancel") });
      cancel.addEventListener("click", () => { this.confirmReset = false; this.page.panelChanged(); });
      buttons.push(cancel);
    }
    return buttons;
  }

  #patch(changes, ok) {
    const user = this.user;
    this.#send(async () => {
      const body = JSON.stringify({ version: user.version, ...changes });
      this.user = await api(`/api/users/${user.id}`, { method: "PATCH", body, headers: JSON_HEADERS });
      return { ok };
    });
  }

  /** Run a change; show its outcome, then list the users again (the change shows in the table). */
  async #send(change) {
    this.confirmReset = false;
    try {
      this.state = await change();
    } catch (error) {
      this.state = error;
    }
    this.render(); // the outcome (a one-time password, an error) is shown at once
    await this.page.search();
  }

  #secretBox() {
    if (!this.secret) return null;
    const { username, password } = this.secret;
    const status = el("span", { className: "note", id: "ad-copy-status", role: "status" });
    const copy = el("button", { type: "button", id: "ad-copy", textContent: t("adCopy") });
    copy.addEventListener("click", async () => {
      status.textContent = (await copyText(password)) ? t("adCopied") : t("adCopyFailed");
    });
    const done = el("button", { type: "button", className: "primary", id: "ad-secret-done", textContent: t("adSecretDone") });
    done.addEventListener("click", () => { this.secret = null; this.page.panelChanged(); });
    const box = el("div", { className: "ad-secret", id: "ad-secret" },
      el("p", {}, t("adSecretFor"), " ", el("code", { textContent: username })),
      el("p", {}, el("code", { className: "ad-otp", id: "ad-otp", textContent: password }), " ", copy, " ", status),
      el("p", { className: "note", textContent: t("adSecretNote") }), done);
    box.setAttribute("role", "alert");
    return box;
  }
}

/** An account's state for people: disabled, locked, waiting for its first password change, or active. */
export function userState(user) {
  if (user.disabled) return t("adDisabled");
  if (user.locked) return t("adLocked");
  if (user.must_change_password) return t("adMustChange");
  return t("adEnabled");
}

/** Put text on the clipboard: the Clipboard API, else the selection copied the old way. */
async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = el("textarea", { value: text, readOnly: true });
    document.body.append(area);
    area.select();
    const copied = document.execCommand("copy");
    area.remove();
    return copied;
  }
}
