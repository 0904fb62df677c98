// The approval tracker (项目审批): the project library, each project's back-scheduled approval plan,
// item handling, warnings and KPIs. Shown as its own view (#projects-page) for roles with projects:read.
import { t } from "./i18n.js";

export class ProjectsPage {
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
    heading.textContent = t("viewProjects");
    this.root.replaceChildren(heading);
  }

  /** Sign-out: forget everything shown. */
  destroy() { this.root.replaceChildren(); }
}
