// The security administrator's service accounts (服务账户: machine clients such as QGIS signing in with HTTP
// Basic, the API key as the password): the list with each account's organisation, layers, expiry, state and
// recent use; creation, whose key is shown once and forgotten on close or sign-out; revocation (confirmed);
// usage per day and layer. A section of the 安全策略 page (security.js); names, never codes alone.
import { api, errorText } from "./api.js";
import { formatCount, formatDate, pick, t, withUnit } from "./i18n.js";
import { picker } from "./picker.js";
import { el, field, label, Orgs, table } from "./projects_common.js";

const JSON_HEADERS = { "Content-Type": "application/json" };
const BYTE_UNITS = ["B", "KB", "MB", "GB", "TB"];
const USAGE_DAYS = 30;

/** A byte count in the largest unit that keeps it at or above 1 (1,024 per step): 2.5 KB, 14 B. */
export function bytesText(n) {
  let value = Number(n);
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) { value /= 1024; unit += 1; }
  return withUnit(value, BYTE_UNITS[unit], unit ? 1 : 0);
}

/** An ISO date `days` days after today (the browser's calendar), for the expiry input. */
function dayAfter(days, from = new Date()) {
  const d = new Date(from.getFullYear(), from.getMonth(), from.getDate() + days);
  return formatDate(d);
}

/** The latest expiry the form offers: the same day next year (the server allows at most 366 days). */
function aYearOn() {
  const now = new Date();
  return formatDate(new Date(now.getFullYear() + 1, now.getMonth(), now.getDate()));
}

const stateOf = account => (account.revoked_at ? "revoked" : account.active ? "active" : "expired");

export class ServiceAccounts {
  constructor() {
    this.node = el("section", { className: "sec-section", id: "sec-service" });
    this.accounts = [];
    this.orgs = new Orgs();
    this.layers = new Map(); // code → {code, name_zh, name_en, restricted}
    this.created = null; // {account, api_key}: shown once, until closed
    this.notice = null; // an ApiError, {ok: key, args} or {bad: key}
    this.confirming = null; // the id of the account whose revocation awaits confirmation
    this.usage = null; // the chosen account's usage
    this.draft = { name: "", org: "", all: true, layers: new Set(), expires: dayAfter(90), search: "" };
  }

  /** Load the accounts, the organisation directory and the layers one may grant. */
  async load() {
    const [accounts, orgs, layers] = await Promise.all([
      api("/api/service-accounts"), api("/api/orgs"), api("/api/service-accounts/layers"),
    ]);
    this.accounts = accounts;
    this.orgs = new Orgs(orgs);
    this.layers = new Map(layers.map(layer => [layer.code, layer]));
  }

  /** Forget the key shown and everything else (sign-out). */
  forget() {
    this.created = null;
    this.usage = null;
    this.node.replaceChildren();
  }

  /** Draw the section again; returns its node. */
  render() {
    this.node.dataset.ready = "true";
    this.node.replaceChildren(
      el("h3", { textContent: t("svcTitle") }), el("p", { className: "note", textContent: t("svcNote") }),
      ...(this.created ? [this.#keyBox()] : []), this.#notice(), this.#list(),
      ...(this.usage ? [this.#usage()] : []), this.#form());
    return this.node;
  }

  #notice() {
    const box = el("p", { id: "svc-notice", role: "status" });
    if (this.notice?.ok) {
      box.className = "ok";
      box.textContent = t(this.notice.ok, ...(this.notice.args ?? []));
    } else if (this.notice?.bad) {
      box.className = "error";
      box.textContent = t(this.notice.bad);
    } else if (this.notice) {
      box.className = "error";
      box.textContent = errorText(this.notice);
    }
    return box;
  }

  #layerName = code => (this.layers.has(code) ? pick(this.layers.get(code)) : code);

  #layersText(account) {
    if (!account.layers) return t("svcAllPublic");
    return account.layers.map(this.#layerName).join(t("listSeparator"));
  }

  #list() {
    if (!this.accounts.length) return el("p", { className: "note", id: "svc-none", textContent: t("svcNone") });
    const columns = [
      { key: "name", head: t("svcName"), cell: a => a.name },
      { key: "org", head: t("secOrg"), cell: a => this.orgs.name(a.org_code) },
      { key: "layers", head: t("svcLayers"), cell: a => this.#layersText(a) },
      { key: "expires", head: t("svcExpires"), cell: a => a.valid_through },
      { key: "state", head: t("svcState"), cell: a => label("svcStates", stateOf(a)) },
      { key: "last", head: t("svcLastUsed"), cell: a => (a.last_used_on ? formatDate(a.last_used_on) : t("svcNeverUsed")) },
      { key: "requests", head: t("svcRequests30"), className: "num", cell: a => formatCount(a.requests_30d) },
      { key: "do", head: "", cell: a => this.#actions(a) },
    ];
    return table(columns, this.accounts, { id: "svc-table", rowProps: a => ({ name: a.name, state: stateOf(a) }) });
  }

  #actions(account) {
    const box = el("span", { className: "svc-actions" });
    const usage = el("button", { type: "button", className: "link", textContent: t("svcUsage") });
    usage.dataset.usage = account.name;
    usage.addEventListener("click", () => this.#showUsage(account));
    box.append(usage);
    if (account.revoked_at) return box;
    if (this.confirming !== account.id) {
      const revoke = el("button", { type: "button", textContent: t("svcRevoke") });
      revoke.dataset.revoke = account.name;
      revoke.addEventListener("click", () => { this.confirming = account.id; this.render(); });
      box.append(revoke);
      return box;
    }
    const sure = el("button", { type: "button", className: "danger", textContent: t("svcRevokeConfirm", account.name) });
    sure.dataset.confirmRevoke = account.name;
    sure.addEventListener("click", () => this.#revoke(account));
    const cancel = el("button", { type: "button", textContent: t("svcCancel") });
    cancel.dataset.cancelRevoke = account.name;
    cancel.addEventListener("click", () => { this.confirming = null; this.render(); });
    box.append(sure, cancel);
    return box;
  }

  async #revoke(account) {
    this.confirming = null;
    try {
      await api(`/api/service-accounts/${account.id}/revoke`, { method: "POST" });
      this.accounts = await api("/api/service-accounts");
      this.notice = { ok: "svcRevoked", args: [account.name] };
    } catch (error) {
      this.notice = error;
    }
    this.render();
  }

  async #showUsage(account) {
    try {
      this.usage = await api(`/api/service-accounts/${account.id}/usage?days=${USAGE_DAYS}`);
      this.accounts = await api("/api/service-accounts"); // the counts just written show in the list too
      this.notice = null;
    } catch (error) {
      this.notice = error;
    }
    this.render();
  }

  #usage() {
    const { name, requests, bytes, days } = this.usage;
    const section = el("div", { id: "svc-usage", className: "svc-usage" },
      el("h4", { textContent: t("svcUsageOf", name, USAGE_DAYS) }),
      el("p", { id: "svc-usage-total", textContent: t("svcUsageTotal", formatCount(requests), bytesText(bytes)) }));
    section.dataset.name = name;
    const close = el("button", { type: "button", className: "link", id: "svc-usage-close", textContent: t("close") });
    close.addEventListener("click", () => { this.usage = null; this.render(); });
    section.append(close);
    if (!days.length) {
      section.append(el("p", { className: "note", textContent: t("svcNoUsage") }));
      return section;
    }
    const layers = day => Object.entries(day.layers)
      .map(([code, n]) => `${this.#layerName(code)} ${formatCount(n)}`).join(t("listSeparator"));
    section.append(table([
      { key: "day", head: t("svcDay"), cell: d => d.day },
      { key: "requests", head: t("svcRequests"), className: "num", cell: d => formatCount(d.requests) },
      { key: "bytes", head: t("svcBytes"), className: "num", cell: d => bytesText(d.bytes) },
      { key: "layers", head: t("svcLayersRead"), cell: d => layers(d) || "—" },
    ], days, { id: "svc-usage-table" }));
    return section;
  }

  #keyBox() {
    const { account, api_key: key } = this.created;
    const input = el("input", { id: "svc-key", readOnly: true, value: key, spellcheck: false, className: "svc-key" });
    input.setAttribute("aria-label", t("svcKey"));
    const copied = el("span", { id: "svc-copied", role: "status", className: "note" });
    const copy = el("button", { type: "button", id: "svc-copy", className: "primary", textContent: t("svcCopy") });
    copy.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(key);
        copied.textContent = t("svcCopied");
      } catch {
        input.select(); // the clipboard is refused here: the key is selected for a manual copy
        copied.textContent = t("svcCopyByHand");
      }
    });
    const close = el("button", { type: "button", id: "svc-key-close", textContent: t("svcKeyClose") });
    close.addEventListener("click", () => { this.created = null; this.render(); });
    const box = el("div", { id: "svc-key-box", className: "svc-key-box" },
      el("p", { textContent: t("svcCreated", account.name) }),
      el("p", { className: "svc-warning", textContent: t("svcKeyOnce") }),
      el("label", { htmlFor: "svc-key", textContent: t("svcKey") }), input, copy, close, copied);
    box.setAttribute("role", "alert");
    return box;
  }

  #form() {
    const d = this.draft;
    const form = el("form", { id: "svc-form", className: "svc-form", noValidate: true });
    const name = field("svc-name", t("svcName"), el("input", { value: d.name, autocomplete: "off" }), t("svcNameHint"));
    name.input.addEventListener("input", () => { d.name = name.input.value; });
    const orgOptions = [...this.orgs.list].sort((a, b) => pick(a).localeCompare(pick(b)))
      .map(o => [o.code, pick(o), `${o.name_zh} ${o.name_en ?? ""} ${o.code}`]);
    const org = field("svc-org", t("secOrg"), picker(orgOptions, d.org, t("secOrg"), t("svcOrgSearch")));
    org.input.addEventListener("change", () => { d.org = org.input.value; });
    const expires = field("svc-expires", t("svcExpiresOn"),
      el("input", { type: "date", value: d.expires, min: dayAfter(1), max: aYearOn() }), t("svcExpiresHint"));
    expires.input.addEventListener("input", () => { d.expires = expires.input.value; });
    const submit = el("button", { type: "submit", className: "primary", id: "svc-create", textContent: t("svcCreate") });
    form.append(el("h4", { textContent: t("svcNew") }), name.wrap, org.wrap, this.#layerChoice(), expires.wrap, submit);
    form.addEventListener("submit", event => { event.preventDefault(); this.#create(); });
    return form;
  }

  #layerChoice() {
    const d = this.draft;
    const all = el("input", { type: "checkbox", id: "svc-all", checked: d.all });
    const box = el("fieldset", { className: "svc-layers", id: "svc-layer-choice" },
      el("legend", { textContent: t("svcLayers") }),
      el("label", { className: "check" }, all, document.createTextNode(t("svcAllPublic"))));
    all.addEventListener("change", () => { d.all = all.checked; this.render(); });
    if (d.all) return box;
    const search = el("input", { type: "search", id: "svc-layer-search", value: d.search, placeholder: t("svcLayerSearch") });
    const list = el("div", { id: "svc-layers", className: "svc-layer-list" });
    const words = () => search.value.toLowerCase().split(/\s+/).filter(Boolean);
    const sorted = [...this.layers.values()].sort((a, b) => pick(a).localeCompare(pick(b)));
    for (const layer of sorted) {
      const check = el("input", { type: "checkbox", value: layer.code, checked: d.layers.has(layer.code) });
      check.addEventListener("change", () => { if (check.checked) d.layers.add(layer.code); else d.layers.delete(layer.code); });
      const text = layer.restricted ? t("svcRestricted", pick(layer)) : pick(layer);
      const row = el("label", { className: "check" }, check, document.createTextNode(text));
      row.dataset.search = `${layer.name_zh} ${layer.name_en} ${layer.code}`.toLowerCase();
      row.hidden = !words().every(w => row.dataset.search.includes(w));
      list.append(row);
    }
    search.addEventListener("input", () => {
      d.search = search.value;
      for (const row of list.children) row.hidden = !words().every(w => row.dataset.search.includes(w));
    });
    box.append(search, list, el("p", { className: "error field-error", id: "svc-layers-error" }));
    return box;
  }

  async #create() {
    const d = this.draft;
    const body = { name: d.name.trim(), org_code: d.org, expires_on: d.expires, layers: d.all ? null : [...d.layers] };
    if (!d.all && !d.layers.size) {
      this.notice = { bad: "svcChooseLayers" };
      this.render();
      return;
    }
    try {
      this.created = await api("/api/service-accounts", { method: "POST", body: JSON.stringify(body), headers: JSON_HEADERS });
      this.accounts = await api("/api/service-accounts");
      this.draft = { name: "", org: "", all: true, layers: new Set(), expires: dayAfter(90), search: "" };
      this.notice = null;
    } catch (error) {
      this.notice = error;
    }
    this.render();
  }
}
