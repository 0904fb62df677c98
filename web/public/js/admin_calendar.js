// 工作日历 (calendar:manage): which years are official (国务院办公厅放假安排) and which provisional (暂定: statutory
// holidays only), a year's working days, holidays and 调休 make-up working days, and loading a year's official
// arrangement from a file (refused whole, each problem named by its line, when anything in it is wrong).
import { api } from "./api.js";
import { currentLang, formatCount, t } from "./i18n.js";
import { fill } from "./demolition_progress.js";
import { el, facts, field, message, table } from "./projects_common.js";

const WEEK = [1, 2, 3, 4, 5, 6, 0]; // the month grids start on Monday
// The file format (app/calendar/yearfile.py), shown as written in a file.
const FORMAT = '{"holidays": [{"date": "2026-02-15", "name": "春节"}, …], "makeup_working_days": [{"date": "2026-02-14", "name": "春节"}]}';

export class CalendarPage {
  constructor(root) {
    this.root = root;
    this.years = null; // [{year, status, source, note_zh, note_en}]
    this.year = null; // the chosen year
    this.detail = null; // /api/calendar/years/{year}, with its working-day count
    this.state = null; // the last upload's outcome
    this.upload = el("section", { className: "pj-form cal-upload", id: "cal-upload" });
    // The form's inputs are made once: a redraw (a year shown, a language switch) keeps what was typed and chosen.
    this.inputs = {
      year: el("input", { type: "number", min: 2000, max: 2100, required: true }),
      file: el("input", { type: "file", accept: ".json,application/json", required: true }),
    };
    this.shown = 0; // years asked for so far: only the last one asked is drawn
  }

  async activate() {
    try {
      await this.reload(this.year);
    } catch (error) {
      this.state = error;
      this.render();
    }
  }

  /** The year list, then one year's days (the chosen one, else this year or the first provisional one). */
  async reload(year) {
    const { calendars } = await api("/api/calendar/years");
    this.years = calendars;
    const now = new Date().getFullYear();
    const chosen = year ?? calendars.find(c => c.year === now)?.year ?? calendars[0]?.year ?? null;
    this.inputs.year.value ||= String(calendars.find(c => c.status === "provisional")?.year ?? now + 1);
    await this.show(chosen);
  }

  /** Load and draw one year. */
  async show(year) {
    const asked = (this.shown += 1);
    let detail = null;
    if (year != null) {
      const [days, count] = await Promise.all([
        api(`/api/calendar/years/${year}`),
        api(`/api/calendar/working-days?from=${year}-01-01&to=${year}-12-31`),
      ]);
      detail = { ...days, working_days: count.working_days };
    }
    if (asked !== this.shown) return; // another year was asked for meanwhile
    Object.assign(this, { year, detail });
    this.render();
    this.root.dataset.year = `${year}:${this.detail?.status ?? ""}`; // for tests and tools
  }

  render() {
    this.root.replaceChildren(el("h2", { textContent: t("viewCalendar") }),
      el("div", { className: "cal-main" }, this.#yearList(), el("div", { className: "cal-side" }, this.#renderUpload(), this.#yearDetail())));
    this.root.dataset.ready = this.years ? "true" : "false";
  }

  destroy() { this.root.replaceChildren(); }

  #yearList() {
    const columns = [
      { key: "year", head: t("calYear"), cell: c => String(c.year) },
      { key: "status", head: t("calStatus"), cell: c => statusBadge(c.status) },
      { key: "open", head: "", cell: c => this.#openButton(c.year) },
    ];
    return el("section", { className: "cal-years" }, el("h3", { textContent: t("calYears") }),
      el("p", { className: "note", textContent: t("calYearsNote") }),
      table(columns, this.years ?? [], { id: "cal-years", rowProps: c => ({ year: String(c.year), className: c.year === this.year ? "open" : "" }) }));
  }

  #openButton(year) {
    const button = el("button", { type: "button", className: "link", textContent: t("calView") });
    button.addEventListener("click", () => this.show(year).catch(error => { this.state = error; this.render(); }));
    return button;
  }

  #renderUpload() {
    const { year, file } = this.inputs;
    const form = el("form", { id: "cal-upload-form" },
      el("div", { className: "pj-grid" }, field("cal-upload-year", t("calYear"), year).wrap,
        field("cal-upload-file", t("calFile"), file).wrap),
      el("p", { className: "note" }, t("calFileHint"), " ", el("code", { textContent: FORMAT }), " ", t("calFileRule")),
      el("button", { type: "submit", className: "primary", textContent: t("calLoad") }));
    form.addEventListener("submit", event => {
      event.preventDefault();
      this.#send(Number(year.value), file.files[0]);
    });
    fill(this.upload, el("h3", { textContent: t("calUpload") }), form, this.#outcome());
    return this.upload;
  }

  #outcome() {
    const problems = this.state?.problem?.problems ?? [];
    const say = p => (currentLang() === "en" ? p.message_en : p.message_zh);
    const node = message(this.state, "cal-upload-message");
    if (!problems.length) return node;
    return el("div", { id: "cal-upload-report", role: "alert" }, node,
      el("ul", { className: "cal-problems" }, ...problems.map(p => el("li", { textContent: say(p) }))));
  }

  async #send(year, file) {
    if (!file) { this.state = { key: "dmChooseFile" }; this.render(); return; }
    const body = new FormData();
    body.append("file", file);
    try {
      const loaded = await api(`/api/calendar/years/${year}/file`, { method: "POST", body });
      this.state = { ok: ["calLoaded", year, formatCount(loaded.holidays.length), formatCount(loaded.makeup_working_days.length)] };
      await this.reload(year);
    } catch (error) {
      this.state = error;
      this.render();
    }
  }

  #yearDetail() {
    const d = this.detail;
    if (!d) return null;
    const note = d.status === "provisional" ? (currentLang() === "en" ? d.note_en : d.note_zh) : null;
    return el("section", { className: "cal-detail", id: "cal-detail" },
      el("h3", {}, `${t("calYearOf", d.year)} `, statusBadge(d.status)),
      note ? el("p", { className: "pj-provisional", id: "cal-note", textContent: note }) : null,
      facts([
        [t("calWorkingDays"), t("calDays", formatCount(d.working_days))],
        [t("calHolidays"), t("calDays", formatCount(d.holidays.length))],
        [t("calMakeup"), t("calDays", formatCount(d.makeup_working_days.length))],
        [t("calSource"), d.source],
      ]),
      el("div", { className: "cal-lists" }, dayList("calHolidays", "cal-holidays", d.holidays), dayList("calMakeup", "cal-makeup", d.makeup_working_days)),
      el("div", { className: "cal-months", id: "cal-months" }, ...Array.from({ length: 12 }, (_, m) => month(d, m))),
      el("p", { className: "cal-legend" }, ...[["cal-off", "calLegendOff"], ["cal-on", "calLegendOn"], ["cal-weekend", "calLegendWeekend"]]
        .map(([cls, key]) => el("span", {}, el("span", { className: `cal-swatch ${cls}` }), t(key)))));
  }
}

/** 正式 / 暂定 as a badge. */
function statusBadge(status) {
  return el("span", { className: `badge cal-${status}`, textContent: t("calStatuses")[status] ?? status });
}

/** Days grouped by name in a list: 春节 2026-02-15 – 2026-02-23 (9 天). */
function dayList(titleKey, id, days) {
  const runs = [];
  for (const day of days) {
    const last = runs.at(-1);
    if (last && last.name === day.name && nextDay(last.to) === day.date) { last.to = day.date; last.count += 1; }
    else runs.push({ name: day.name, from: day.date, to: day.date, count: 1 });
  }
  const items = runs.map(r => el("li", { textContent: r.count > 1 ? t("calRun", r.name, r.from, r.to, r.count) : t("calOne", r.name, r.from) }));
  return el("div", { id }, el("h4", { textContent: t(titleKey) }), items.length ? el("ul", {}, ...items) : el("p", { className: "note", textContent: t("calNone") }));
}

function nextDay(iso) {
  const d = new Date(`${iso}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

/** One month as a grid: holidays, make-up working days and weekends marked; day names as tooltips. */
function month(detail, m) {
  const off = new Map(detail.holidays.map(d => [d.date, d.name]));
  const on = new Map(detail.makeup_working_days.map(d => [d.date, d.name]));
  const grid = el("div", { className: "cal-grid" }, ...WEEK.map(w => el("span", { className: "cal-dow", textContent: t("calWeekdays")[w] })));
  const first = new Date(Date.UTC(detail.year, m, 1));
  const days = new Date(Date.UTC(detail.year, m + 1, 0)).getUTCDate();
  for (let i = 1; i <= days; i += 1) {
    const day = new Date(Date.UTC(detail.year, m, i));
    const iso = day.toISOString().slice(0, 10);
    const weekend = day.getUTCDay() === 0 || day.getUTCDay() === 6;
    const kind = off.has(iso) ? "cal-off" : on.has(iso) ? "cal-on" : weekend ? "cal-weekend" : "";
    const cell = el("span", { className: `cal-day ${kind}`, textContent: String(i), title: off.get(iso) ?? on.get(iso) ?? "" });
    cell.dataset.date = iso;
    if (i === 1) cell.style.gridColumnStart = String(WEEK.indexOf(first.getUTCDay()) + 1); // CSSOM: allowed by the CSP
    grid.append(cell);
  }
  return el("figure", { className: "cal-month" }, el("figcaption", { textContent: t("calMonths")[m] }), grid);
}

