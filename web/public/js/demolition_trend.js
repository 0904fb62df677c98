// Progress over time and by sub-district, from the progress API: the burndown (units still standing each day,
// from the event log) with the finish forecast, drawn as plain SVG, and the per-sub-district breakdown as a
// table with a bar per row. The burndown's figures are in a table too, for screen readers and copying.
import { currentLang, formatCount, t } from "./i18n.js";
import { el } from "./panels.js";
import { fill, formatArea, formatNumber, formatYuan } from "./demolition_progress.js";

const SVG = "http://www.w3.org/2000/svg";
const W = 560, H = 200, PAD = { left: 40, right: 12, top: 12, bottom: 28 };
const DAY = 86400000;

const svg = (tag, attrs = {}) => {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
};
const dayNumber = iso => Date.parse(`${iso}T00:00:00Z`) / DAY;

/** The days worth a table row: the first, every day something changed, and the last. */
export function changeDays(series) {
  return series.filter((p, i) => i === 0 || i === series.length - 1 || ["units", "remaining_units", "remaining_floor_area_m2", "remaining_households"]
    .some(k => p[k] !== series[i - 1][k]));
}

/** The burndown chart: remaining units per day, the forecast dashed to its finish date. */
function chart(progress) {
  const series = progress.burndown;
  const forecast = progress.forecast;
  const first = dayNumber(series[0].day);
  const last = dayNumber(series[series.length - 1].day);
  const finish = forecast.finish_on && forecast.remaining_units ? dayNumber(forecast.finish_on) : null;
  const end = Math.max(last, finish ?? last, first + 1);
  const top = Math.max(1, ...series.map(p => p.units));
  const x = d => PAD.left + ((d - first) / (end - first)) * (W - PAD.left - PAD.right);
  const y = v => PAD.top + (1 - v / top) * (H - PAD.top - PAD.bottom);
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "dm-burndown", role: "img", id: "dm-burndown-chart" });
  const title = svg("title");
  title.textContent = t("dmBurndownSummary", series[0].day, series[series.length - 1].day, series[0].remaining_units,
    series[series.length - 1].remaining_units, forecast.finish_on ?? "—");
  root.append(title);
  // Axes, the ledger's size, and the day labels at both ends.
  root.append(svg("line", { x1: PAD.left, y1: y(0), x2: W - PAD.right, y2: y(0), class: "axis" }));
  root.append(svg("line", { x1: PAD.left, y1: y(top), x2: PAD.left, y2: y(0), class: "axis" }));
  for (const [value, label] of [[0, "0"], [top, formatCount(top)]]) {
    const text = svg("text", { x: PAD.left - 4, y: y(value) + 4, "text-anchor": "end" });
    text.textContent = label;
    root.append(text);
  }
  const labels = [[first, series[0].day, "start"], [end, finish && finish >= last ? forecast.finish_on : series[series.length - 1].day, "end"]];
  for (const [d, label, anchor] of labels) {
    const text = svg("text", { x: x(d), y: H - 8, "text-anchor": anchor });
    text.textContent = label;
    root.append(text);
  }
  const points = series.map(p => `${x(dayNumber(p.day)).toFixed(1)},${y(p.remaining_units).toFixed(1)}`);
  root.append(svg("polyline", { points: series.map(p => `${x(dayNumber(p.day)).toFixed(1)},${y(p.units).toFixed(1)}`).join(" "), class: "dm-line-total" }));
  root.append(svg("polyline", { points: points.join(" "), class: "dm-line-remaining" }));
  // Today's figures as dots: a ledger's first day is one point, which a line alone would not draw.
  const today = series[series.length - 1];
  const dot = (value, cls) => svg("circle", { cx: x(last).toFixed(1), cy: y(value).toFixed(1), r: 4, class: cls });
  root.append(dot(today.units, "dm-dot-total"), dot(today.remaining_units, "dm-dot-remaining"));
  if (finish != null) {
    root.append(svg("line", { x1: x(last), y1: y(series[series.length - 1].remaining_units), x2: x(finish), y2: y(0), class: "dm-line-forecast" }));
  }
  return root;
}

/** Draw the trend section of `page`'s project into `root`. */
export function renderTrend(root, page) {
  const progress = page.progress;
  if (!page.project() || !progress) { root.replaceChildren(); return; }
  const series = progress.burndown;
  const forecast = currentLang() === "en" ? progress.forecast.message_en : progress.forecast.message_zh;
  const burndown = el("figure", { className: "dm-figure" },
    el("figcaption", {}, el("h4", { textContent: t("dmBurndown") }),
      el("p", { className: "note", id: "dm-forecast-line", textContent: forecast })));
  if (series.length) {
    const legend = el("ul", { className: "dm-legend" },
      el("li", {}, el("span", { className: "dm-key remaining" }), ` ${t("dmRemainingUnits")}`),
      el("li", {}, el("span", { className: "dm-key total" }), ` ${t("dmUnits")}`),
      progress.forecast.finish_on && progress.forecast.remaining_units ? el("li", {}, el("span", { className: "dm-key forecast" }), ` ${t("dmForecast")}`) : null);
    burndown.append(chart(progress), legend, burndownTable(series));
  } else {
    burndown.append(el("p", { className: "note", textContent: t("dmNoBurndown") }));
  }
  fill(root,
    el("h3", { textContent: t("dmTrend", progress.as_of) }),
    el("div", { className: "dm-trend-body" }, burndown, subdistrictTable(progress.by_subdistrict, page)));
}

function burndownTable(series) {
  const rows = changeDays(series).map(p => {
    const tr = el("tr", {},
      el("th", { scope: "row", textContent: p.day }),
      el("td", { className: "num", textContent: formatCount(p.units) }),
      el("td", { className: "num", textContent: formatCount(p.remaining_units) }),
      el("td", { className: "num", textContent: formatArea(p.remaining_floor_area_m2) }),
      el("td", { className: "num", textContent: formatCount(p.remaining_households) }));
    tr.dataset.day = p.day;
    return tr;
  });
  const head = ["dmDay", "dmUnits", "dmRemainingUnits", "dmRemainingArea", "dmRemainingHouseholds"];
  return el("details", { className: "dm-burndown-data" },
    el("summary", { textContent: t("dmBurndownTable") }),
    el("div", { className: "table-scroll" }, el("table", { className: "dm-table", id: "dm-burndown-table" },
      el("caption", { textContent: t("dmBurndownCaption") }),
      el("thead", {}, el("tr", {}, ...head.map(h => el("th", { scope: "col", textContent: t(h) })))),
      el("tbody", {}, ...rows))));
}

function subdistrictTable(groups, page) {
  const rows = groups.map(g => {
    const bar = el("span", { className: "dm-pct-bar" }, el("span"));
    bar.firstChild.style.width = `${Math.min(100, g.progress_pct ?? 0)}%`;
    const tr = el("tr", {},
      el("th", { scope: "row", textContent: g.key ? page.orgName(g.key) : t("dmNoSubdistrict") }),
      el("td", { className: "num", textContent: formatCount(g.units) }),
      el("td", { className: "num", textContent: formatCount(g.households) }),
      el("td", { className: "num", textContent: formatArea(g.floor_area_m2) }),
      el("td", { className: "num", textContent: formatCount(g.cleared_units) }),
      el("td", { className: "num", textContent: formatArea(g.cleared_floor_area_m2) }),
      el("td", { className: "num dm-pct" }, bar, g.progress_pct == null ? "—" : `${formatNumber(g.progress_pct)}%`),
      el("td", { className: "num", textContent: formatYuan(g.agreed_compensation_yuan) }),
      el("td", { className: "num", textContent: formatYuan(g.paid_compensation_yuan) }));
    tr.dataset.key = g.key;
    return tr;
  });
  const head = ["dmSubdistrict", "dmUnits", "dmHouseholds", "dmFloorArea", "dmClearedUnits", "dmClearedArea", "dmProgressShort", "dmAgreedTotal", "dmPaidTotal"];
  return el("div", { className: "dm-figure" }, el("h4", { textContent: t("dmBySubdistrict") }),
    groups.length ? el("div", { className: "table-scroll" }, el("table", { className: "dm-table", id: "dm-subdistricts" },
      el("caption", { className: "dm-sr-only", textContent: t("dmBySubdistrict") }),
      el("thead", {}, el("tr", {}, ...head.map(h => el("th", { scope: "col", textContent: t(h) })))),
      el("tbody", {}, ...rows))) : el("p", { className: "note", textContent: t("dmNoUnitsShown") }));
}
