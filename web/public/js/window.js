// The one window (综合窗口): the intake queue (new packages, returned ones, those under review — where the
// departments' requests are merged into one letter —, those with the unit for correction, and those ready
// for issuance), and one package opened beside its checklist
// (window_package.js). Shown as its own view (#window-page) to roles with applications:intake.
import { api } from "./api.js";
import { formatDate, t } from "./i18n.js";
import { appStatus, notice, stageName } from "./applications_common.js";
import { el, table } from "./projects_common.js";
import { WindowPackage } from "./window_package.js";

// The tabs of the queue: [name, the list's query, the tab's key].
const QUEUES = [
  ["new", "queue=new", "winQueueNew"],
  ["returned", "queue=returned", "winQueueReturned"],
  ["review", "status=accepted", "winQueueReview"],
  ["correction", "status=correction", "winQueueCorrection"],
  ["issuing", "queue=issuing", "winQueueIssuing"],
];

export class WindowPage {
  /** root: the page's <main>; context: {user}. */
  constructor(root, context) {
    this.root = root;
    this.user = context.user;
    this.queue = "new";
    this.rows = null;
    this.error = null;
    this.package = new WindowPackage({ rerender: () => this.render(), back: () => this.#back(), changed: () => this.#loadQueue() });
  }

  /** The view was opened: load the queue (again: units and departments change it). */
  async activate() {
    await this.#loadQueue();
    if (this.package.app) await this.package.reload();
  }

  render() {
    const head = el("div", { className: "pj-head" }, el("h2", { textContent: t("viewWindow") }), this.#tabs());
    const body = this.package.app ? this.package.render() : this.#queue();
    this.root.replaceChildren(head, body);
    this.root.dataset.queue = this.queue;
  }

  destroy() { this.root.replaceChildren(); }

  #tabs() {
    const nav = el("nav", { className: "pj-tabs", id: "win-tabs" });
    nav.setAttribute("role", "tablist");
    for (const [name, , key] of QUEUES) {
      const tab = el("button", { type: "button", id: `win-tab-${name}`, textContent: t(key) });
      tab.setAttribute("role", "tab");
      tab.setAttribute("aria-selected", String(!this.package.app && this.queue === name));
      tab.addEventListener("click", () => { this.queue = name; this.package.close(); this.#loadQueue(); });
      nav.append(tab);
    }
    return nav;
  }

  async #loadQueue() {
    const [, query] = QUEUES.find(([name]) => name === this.queue);
    const asked = this.queue;
    this.rows = null;
    this.error = null;
    this.render();
    try {
      const rows = await api(`/api/applications?${query}`);
      if (asked !== this.queue) return; // another tab was chosen meanwhile
      this.rows = rows;
    } catch (error) {
      this.error = error;
    }
    this.render();
    this.root.dataset.ready = "true";
  }

  #queue() {
    const section = el("section", { id: "win-queue", className: "ap-queue" }, notice(this.error, "win-error"));
    if (this.rows == null) {
      if (!this.error) section.append(el("p", { className: "note", textContent: t("pjLoading") }));
      return section;
    }
    if (!this.rows.length) {
      section.append(el("p", { className: "note", id: "win-empty", textContent: t("winEmpty") }));
      return section;
    }
    const open = app => {
      const button = el("button", { type: "button", className: "link", textContent: app.number });
      button.addEventListener("click", () => this.package.open(app.id));
      return button;
    };
    section.append(el("p", { className: "note", id: "win-count", textContent: t("winCount", this.rows.length) }), table([
      { key: "number", head: t("apNumber"), cell: open },
      { key: "project", head: t("apProject"), cell: a => a.project_name },
      { key: "unit", head: t("pjUnit"), cell: a => a.unit_name },
      { key: "stage", head: t("pjStage"), cell: stageName },
      { key: "status", head: t("apStatusLabel"), cell: a => appStatus(a.status) },
      { key: "submitted", head: t("apSubmittedAt"), cell: a => formatDate(a.submitted_at, true) },
    ], this.rows, { id: "win-list", rowProps: a => ({ id: String(a.id), number: a.number ?? "" }) }));
    return section;
  }

  #back() {
    this.package.close();
    this.#loadQueue();
  }
}
