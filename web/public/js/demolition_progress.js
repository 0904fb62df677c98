// The progress of the chosen project's demolition: headline figures, the share cleared against the threshold the
// construction permit needs, and the units in each status with its legend colour.
import { currentLang, formatCount, formatNumber, pick, t, withUnit } from "./i18n.js";
import { el } from "./panels.js";

/** Replace a node's children, leaving out the parts not shown (null). */
export const fill = (node, ...children) => node.replaceChildren(...children.filter(c => c != null));

export { formatNumber };
export const formatArea = value => withUnit(value, "m²");
export const formatYuan = value => withUnit(value, t("dmYuan"));
const formatPct = value => withUnit(value, "%");

/** A small coloured square for a status. */
export function statusSwatch(status) {
  const s = el("span", { className: "swatch" });
  s.style.background = status.colour;
  s.setAttribute("aria-hidden", "true");
  return s;
}

function fact(key, label, value, extra = null) {
  const dd = el("dd", { textContent: value }, extra);
  dd.dataset.key = key;
  return [el("dt", { textContent: label }), dd];
}

/** Draw the progress of `page`'s project into `root`. */
export function renderProgress(root, page) {
  const project = page.project();
  const progress = page.progress;
  if (!project || !progress) { root.replaceChildren(); return; }
  const total = progress.total;
  const handed = total.by_status.find(s => s.status === "handed_over");
  const threshold = project.demolition_threshold_pct == null ? null : Number(project.demolition_threshold_pct);
  let gate = null;
  if (threshold != null && total.progress_pct != null) {
    const met = total.progress_pct >= threshold;
    gate = el("span", { className: `badge ${met ? "dm-met" : "dm-unmet"}`, textContent: met ? t("dmGateMet") : t("dmGateUnmet") });
  }
  const facts = el("dl", { className: "facts dm-figures" },
    ...fact("units", t("dmUnits"), formatCount(total.units)),
    ...fact("households", t("dmHouseholds"), formatCount(total.households)),
    ...fact("floor_area", t("dmFloorArea"), formatArea(total.floor_area_m2)),
    ...fact("cleared", t("dmCleared"), t("dmTriple", formatCount(total.cleared_units), formatArea(total.cleared_floor_area_m2), formatCount(total.cleared_households))),
    ...fact("handed_over", t("dmHandedOver"), t("dmTriple", formatCount(handed?.units ?? 0), formatArea(handed?.floor_area_m2 ?? 0), formatCount(handed?.households ?? 0))),
    ...fact("progress", t("dmProgress"), formatPct(total.progress_pct), gate),
    ...fact("threshold", t("dmThreshold"), formatPct(threshold)),
    ...fact("agreed", t("dmAgreedTotal"), formatYuan(total.agreed_compensation_yuan)),
    ...fact("paid", t("dmPaidTotal"), formatYuan(total.paid_compensation_yuan)),
    ...fact("forecast", t("dmForecast"), currentLang() === "en" ? progress.forecast.message_en : progress.forecast.message_zh),
  );
  const bar = el("div", { className: "dm-bar", role: "img" });
  bar.setAttribute("aria-label", t("dmByStatus"));
  const rows = [];
  for (const tally of total.by_status) {
    const status = page.status(tally.status);
    if (tally.units && total.units) {
      const part = el("span", { title: `${pick(status)} ${tally.units}` });
      part.style.background = status.colour;
      part.style.flexGrow = String(tally.units);
      bar.append(part);
    }
    const row = el("tr", {},
      el("th", { scope: "row" }, statusSwatch(status), ` ${pick(status)}`),
      el("td", { textContent: formatCount(tally.units) }),
      el("td", { textContent: formatCount(tally.households) }),
      el("td", { textContent: formatArea(tally.floor_area_m2) }));
    row.dataset.status = tally.status;
    row.addEventListener("click", () => page.ledger.filterStatus(tally.status));
    rows.push(row);
  }
  const table = el("table", { className: "dm-table dm-tally" },
    el("caption", { textContent: t("dmByStatus") }),
    el("thead", {}, el("tr", {}, ...[t("dmStatus"), t("dmUnits"), t("dmHouseholds"), t("dmFloorArea")].map(h => el("th", { scope: "col", textContent: h })))),
    el("tbody", {}, ...rows));
  root.replaceChildren(
    el("h3", { textContent: `${project.name}（${project.code}）` }),
    el("div", { className: "dm-progress-body" }, facts, el("div", { className: "table-scroll" }, bar, table)),
  );
}
