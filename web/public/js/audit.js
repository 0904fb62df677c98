// The audit log (审计) for the audit administrator: search by user, action, object and period, pages of
// results, CSV/XLSX exports of a search (audited by the server) and the hash chain's verification.
// Shown as its own view (#audit-page) for audit:read; exports and verification only with their permissions.
import { api, download, errorText } from "./api.js";
import { t } from "./i18n.js";
import { el } from "./panels.js";

const BASE = "/api/audit";
const PAGE_SIZE = 50;
// The search form's fields: element id suffix, query parameter, input type.
const FIELDS = [
  ["actor", "actor", "text"],
  ["action", "action_prefix", "text"],
  ["object-type", "object_type", "text"],
  ["object-id", "object_id", "text"],
  ["since", "since", "datetime-local"],
  ["until", "until", "datetime-local"],
];
const LABELS = {
  actor: "auActor", action: "auAction", "object-type": "auObjectType", "object-id": "auObjectId",
  since: "auSince", until: "auUntil",
};

export class AuditPage {
  /** root: the page's <main>; context: {user} (user.permissions from /api/auth/me). */
  constructor(root, context) {
    this.root = root;
    const permissions = context.user.permissions ?? {};
    this.can = { export: Boolean(permissions["audit:export"]), verify: Boolean(permissions["audit:verify"]) };
    this.query = Object.fromEntries(FIELDS.map(([, param]) => [param, ""]));
    this.pages = [null]; // before_id of each page shown so far (keyset paging): null is the newest
    this.events = null;
    this.next = null;
    this.report = null;
    this.error = null;
  }

  /** The view was opened: the newest events on first showing. */
  async activate() {
    if (this.events === null) await this.load();
    else this.render();
  }

  destroy() { this.root.replaceChildren(); }

  /** The search as query parameters (empty fields left out). */
  params(extra = {}) {
    const given = Object.entries(this.query).filter(([, value]) => value.trim() !== "");
    return new URLSearchParams([...given.map(([k, v]) => [k, v.trim()]), ...Object.entries(extra)]);
  }

  async load() {
    const before = this.pages.at(-1);
    // Only the latest search is shown: an earlier one answering late (the page opened twice, a search sent
    // while the first list still loads) must not replace it.
    const asked = (this.asked = (this.asked ?? 0) + 1);
    try {
      const page = await api(`${BASE}?${this.params({ limit: PAGE_SIZE, ...(before ? { before_id: before } : {}) })}`);
      if (asked !== this.asked) return;
      Object.assign(this, { events: page.events, next: page.next_before_id, error: null });
    } catch (error) {
      if (asked !== this.asked) return;
      this.error = error;
    }
    this.render();
    this.root.dataset.ready = "true"; // for tests and tools
  }

  async verify() {
    this.report = null;
    this.root.dataset.verified = "";
    try {
      this.report = await api(`${BASE}/verify`);
      this.error = null;
    } catch (error) {
      this.error = error;
    }
    // Verifying seals the rows committed so far: the rows shown are read again with their chain numbers.
    if (this.report) await this.load();
    else this.render();
    this.root.dataset.verified = this.report ? String(this.report.verified) : "error";
  }

  async export(kind) {
    try {
      await download(`${BASE}/export.${kind}?${this.params()}`, `audit-log.${kind}`);
      this.error = null;
    } catch (error) {
      this.error = error;
    }
    this.render();
  }

  render() {
    const parts = [
      el("h2", { textContent: t("auTitle") }),
      this.form(),
      this.error ? el("p", { className: "error", id: "au-error", role: "alert", textContent: errorText(this.error) }) : null,
      this.chain(),
      this.table(),
      this.pager(),
    ];
    this.root.replaceChildren(...parts.filter(part => part != null)); // a null child would show as "null"
  }

  form() {
    const form = el("form", { id: "au-search", className: "au-search" });
    for (const [name, param, type] of FIELDS) {
      const input = el("input", { id: `au-${name}`, type, value: this.query[param], maxLength: 64 });
      input.addEventListener("input", () => { this.query[param] = input.value; });
      form.append(el("label", { htmlFor: input.id, textContent: t(LABELS[name]) }), input);
    }
    const buttons = [el("button", { type: "submit", className: "primary", textContent: t("auSearch") })];
    if (this.can.export) {
      for (const kind of ["csv", "xlsx"]) {
        const button = el("button", { type: "button", textContent: t(kind === "csv" ? "auExportCsv" : "auExportXlsx") });
        button.dataset.download = kind;
        button.addEventListener("click", () => this.export(kind));
        buttons.push(button);
      }
    }
    if (this.can.verify) {
      const button = el("button", { type: "button", id: "au-verify", textContent: t("auVerify") });
      button.addEventListener("click", () => this.verify());
      buttons.push(button);
    }
    form.append(el("div", { className: "au-buttons" }, ...buttons));
    form.addEventListener("submit", event => {
      event.preventDefault();
      this.pages = [null];
      this.load();
    });
    return form;
  }

  /** The last verification's outcome: the rows proved, or the first broken row and what differs. */
  chain() {
    const r = this.report;
    if (!r) return null;
    const start = r.starts_after_archive ? t("auAfterArchive", r.starts_after_archive) : "";
    const b = r.first_break;
    const message = b
      ? t("auChainBroken", b.id, b.chain_seq, t("auChainKinds")[b.kind] ?? b.kind, r.rows_checked)
      : t("auChainVerified", r.rows_checked, r.last_seq ?? "—", start);
    return el("section", { id: "au-chain", className: r.verified ? "au-chain ok" : "au-chain broken", role: "status" },
      el("p", { textContent: message }),
      el("p", { className: "au-hash", textContent: b ? t("auExpectedFound", b.expected, b.found) : t("auHeadHash", r.head_hash) }));
  }

  table() {
    if (!this.events) return null;
    if (!this.events.length) return el("p", { className: "note", id: "au-empty", textContent: t("auNone") });
    const head = ["auAt", "auActorCol", "auActionCol", "auObjectCol", "auClientIp", "auSeq", "auChange"];
    const rows = this.events.map(e => {
      const change = el("details", {},
        el("summary", { textContent: t("auShow") }),
        el("pre", { textContent: JSON.stringify({ before: e.before, after: e.after }, null, 1) }));
      const row = el("tr", {},
        el("td", { textContent: e.at.slice(0, 19).replace("T", " ") }),
        el("td", { textContent: e.actor_username ?? "—" }),
        el("td", { textContent: e.action }),
        el("td", { textContent: e.object_id ? `${e.object_type} ${e.object_id}` : e.object_type }),
        el("td", { textContent: e.client_ip ?? "—" }),
        el("td", { textContent: e.chain_seq ?? t("auUnsealed") }),
        el("td", {}, e.before || e.after ? change : ""));
      row.dataset.id = e.id;
      return row;
    });
    return el("table", { id: "au-table", className: "au-table" },
      el("thead", {}, el("tr", {}, ...head.map(key => el("th", { textContent: t(key) })))),
      el("tbody", {}, ...rows));
  }

  pager() {
    const previous = el("button", { type: "button", id: "au-previous", textContent: t("auPrevious"), disabled: this.pages.length < 2 });
    const next = el("button", { type: "button", id: "au-next", textContent: t("auNext"), disabled: !this.next });
    previous.addEventListener("click", () => { this.pages.pop(); this.load(); });
    next.addEventListener("click", () => { this.pages.push(this.next); this.load(); });
    return el("div", { className: "au-pager" }, previous,
      el("span", { id: "au-page-number", textContent: t("auPageNumber", this.pages.length) }), next);
  }
}
