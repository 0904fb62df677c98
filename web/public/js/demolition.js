// The demolition ledger (征拆协调): every household unit of a project from survey to hand-over,
// its state changes, blockers and progress. Shown as its own view (#demolition-page) for demolition:read.
import { t } from "./i18n.js";

export class DemolitionPage {
  /** root: the page's <main>; context: {user} (user.permissions from /api/auth/me). */
  constructor(root, context) {
    this.root = root;
    this.context = context;
  }

  /** The view was opened: load what it shows. */
  activate() { this.render(); }

  /** Draw again (after a language switch). */
  render() {
    const heading = document.createElement("h2");
    heading.textContent = t("viewDemolition");
    this.root.replaceChildren(heading);
  }

  /** Sign-out: forget everything shown. */
  destroy() { this.root.replaceChildren(); }
}
