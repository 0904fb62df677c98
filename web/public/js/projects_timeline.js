// The approval plan as a horizontal timeline (Gantt-like), plain HTML and CSS: per item the planned window
// (latest start → latest finish, back-scheduled from the target start) and the actual clock (受理 → decision,
// or the reporting date while it runs), with the reporting date and the target start marked.
import { t } from "./i18n.js";
import { daysBetween, el, itemName, label } from "./projects_common.js";

/** The first day of each month inside [from, to]. */
function monthStarts(from, to) {
  const out = [];
  const d = new Date(`${from.slice(0, 7)}-01T00:00:00Z`);
  while (d.toISOString().slice(0, 10) <= to) {
    const iso = d.toISOString().slice(0, 10);
    if (iso >= from) out.push(iso);
    d.setUTCMonth(d.getUTCMonth() + 1);
  }
  return out;
}

/** items: the plan's items in display order; plan: the PlanView (target_start, as_of). */
export function timeline(items, plan) {
  const starts = items.flatMap(i => [i.schedule?.latest_start, i.started_on]).filter(Boolean);
  if (!starts.length) return el("p", { className: "note", textContent: t("pjNoTimeline") });
  const from = starts.reduce((a, b) => (a < b ? a : b));
  const ends = [plan.target_start, ...items.map(i => i.finished_on).filter(Boolean)];
  const to = ends.reduce((a, b) => (a > b ? a : b));
  const span = daysBetween(from, to) + 1;
  const at = iso => `${(100 * daysBetween(from, iso)) / span}%`;
  const width = (a, b) => `${(100 * Math.max(1, daysBetween(a, b) + 1)) / span}%`;
  const bar = (cls, a, b, title) => {
    const node = el("span", { className: `gantt-bar ${cls}`, title });
    node.style.left = at(a);
    node.style.width = width(a, b);
    node.dataset.from = a;
    node.dataset.to = b;
    return node;
  };
  const marker = (cls, iso, text) => {
    if (iso < from || iso > to) return null;
    const node = el("span", { className: `gantt-marker ${cls}`, title: `${text} ${iso}` });
    node.style.left = at(iso);
    return node;
  };
  const axis = el("div", { className: "gantt-track gantt-axis" }, ...monthStarts(from, to).map(m => {
    const tick = el("span", { className: "gantt-tick", textContent: m.slice(0, 7) });
    tick.style.left = at(m);
    return tick;
  }));
  const rows = items.map(item => {
    const track = el("div", { className: "gantt-track" });
    const s = item.schedule;
    if (s) track.append(bar("planned", s.latest_start, s.latest_finish, t("pjBarPlanned", s.latest_start, s.latest_finish)));
    if (item.started_on) {
      const end = item.finished_on ?? (plan.as_of > item.started_on ? plan.as_of : item.started_on);
      const cls = item.finished_on ? "actual done" : "actual";
      track.append(bar(cls, item.started_on, end, t("pjBarActual", item.started_on, item.finished_on ?? "…")));
    }
    if (!s && !item.started_on) {
      track.append(el("span", { className: "gantt-none", textContent: item.stage === "completion" ? t("pjAfterStart") : label("pjItemStatus", item.status) }));
    }
    track.append(...[marker("as-of", plan.as_of, t("pjAsOf")), marker("target", plan.target_start, t("pjTarget"))].filter(Boolean));
    const row = el("div", { className: `gantt-row${s?.critical ? " critical" : ""}` },
      el("span", { className: "gantt-label", textContent: itemName(item) }), track);
    row.dataset.itemCode = item.item_code;
    return row;
  });
  const legend = el("p", { className: "note gantt-legend" },
    el("span", { className: "gantt-key planned" }), ` ${t("pjKeyPlanned")}  `,
    el("span", { className: "gantt-key actual" }), ` ${t("pjKeyActual")}  `,
    el("span", { className: "gantt-key critical" }), ` ${t("pjCritical")}  `,
    el("span", { className: "gantt-key target" }), ` ${t("pjTarget")} ${plan.target_start}  `,
    el("span", { className: "gantt-key as-of" }), ` ${t("pjAsOf")} ${plan.as_of}`);
  const chart = el("div", { className: "pj-gantt", id: "pj-gantt" },
    el("div", { className: "gantt-row gantt-head" }, el("span", { className: "gantt-label" }), axis), ...rows);
  chart.setAttribute("role", "img");
  chart.setAttribute("aria-label", t("pjTimeline"));
  return el("div", {}, el("h4", { textContent: t("pjTimeline") }), legend, el("div", { className: "pj-scroll" }, chart));
}
