// Shared pieces of the one-window pages (综合窗口, 我的待办, a project's 申报件): an application's items with
// their clocks and opinions, its materials checklist, its correction letters, file and document downloads.
// Everything is built with textContent (no HTML from data); files that need the token come through download().
import { api, download, errorText } from "./api.js";
import { formatDate, pick, t } from "./i18n.js";
import { day, el, itemName, label, table } from "./projects_common.js";

export const STAGES = ["project_land", "engineering", "construction", "completion"];

/** JSON POST/PUT/DELETE to the API (null body: none). */
export function send(path, method, body = null) {
  const options = { method };
  if (body != null) {
    options.body = JSON.stringify(body);
    options.headers = { "Content-Type": "application/json" };
  }
  return api(path, options);
}

/** The stage of an application in the chosen language (the API's names, else the page's own). */
export const stageName = app => pick(app, "stage_name") || label("pjStages", app.stage);

/** An application's status for people. */
export const appStatus = status => label("apStatus", status);

/** A short title of an application: its number, project and stage. */
export const appTitle = app => `${app.number ?? "—"} · ${app.project_name ?? "—"} · ${stageName(app)}`;

/** The clock of an item: elapsed / promised working days and the due date; a dash before it starts. */
export function clockText(item) {
  if (!item.started_on && !item.due) return "—";
  return t("apClockValue", item.elapsed_days ?? 0, item.promised_days ?? "—", day(item.due));
}

/** The clock's colour as a badge (green on time, yellow near its limit, red past it). */
export function colourBadge(colour) {
  if (!colour) return el("span", { textContent: "—" });
  const badge = el("span", { className: `badge ap-colour ap-${colour}`, textContent: label("apColours", colour) });
  badge.dataset.colour = colour;
  return badge;
}

/**
 * Who did something: the person's display name when the API gives one, else the account's login name, shown
 * as the identifier it is (like the 用户与组织 page shows logins).
 */
export function person(displayName, login) {
  if (displayName) return el("span", { className: "ap-person", textContent: displayName });
  return login ? el("code", { className: "ap-person", textContent: login }) : el("span", { textContent: "—" });
}

/** A department's opinion in one line: the decision, then its conditions or reasons and legal basis. */
export function opinionText(opinion) {
  if (!opinion) return t("apNoOpinion");
  const parts = [label("apDecisions", opinion.decision)];
  if (opinion.conditions) parts.push(`${t("apConditions")}：${opinion.conditions}`);
  if (opinion.reasons) parts.push(`${t("apReasons")}：${opinion.reasons}`);
  if (opinion.legal_basis) parts.push(`${t("apLegalBasis")}：${opinion.legal_basis}`);
  return parts.join("；");
}

/** The opinion with who recorded it and when (a node). */
export function opinionNode(opinion, id = "") {
  const span = el("span", { className: "ap-opinion" }, el("span", { className: "ap-opinion-text", textContent: opinionText(opinion) }));
  if (id) span.id = id;
  if (!opinion) return span;
  span.dataset.decision = opinion.decision;
  span.append(el("small", { className: "note ap-by" }, "（", person(opinion.decided_by_display_name, opinion.decided_by_name),
    ` ${formatDate(opinion.decided_at, true)}）`));
  return span;
}

/**
 * A button that downloads a file needing the token (a plain link could not send it); a failure is shown
 * next to it. onError(error) may replace the inline message.
 */
export function downloadButton(text, path, fileName, { id = "", className = "link" } = {}) {
  const button = el("button", { type: "button", className, textContent: text });
  if (id) button.id = id;
  button.dataset.href = path;
  const error = el("span", { className: "error ap-download-error", role: "alert" });
  button.addEventListener("click", async () => {
    error.textContent = "";
    try {
      await download(path, fileName);
    } catch (problem) {
      error.textContent = errorText(problem);
    }
  });
  return el("span", { className: "ap-download" }, button, error);
}

/** A stored material as a download button: its file name and version. */
export function materialLink(material) {
  if (!material?.material_id && !material?.id) return el("span", { textContent: "—" });
  const id = material.material_id ?? material.id;
  const text = material.version ? t("apFileVersion", material.file_name, material.version) : material.file_name;
  const node = downloadButton(text, `/api/materials/${id}/content`, material.file_name);
  node.dataset.materialId = String(id);
  return node;
}

/** The printed documents of an application: [[key, path-without-extension, file stem], …] as HTML and PDF. */
export function documentLinks(app, kinds) {
  const box = el("div", { className: "ap-docs" });
  for (const [key, path, stem, id] of kinds) {
    box.append(el("span", { className: "ap-doc" }, el("span", { textContent: `${t(key)}：` }),
      downloadButton("HTML", `${path}.html`, `${stem}-${app.number}.html`, { id: id ? `${id}-html` : "" }),
      downloadButton("PDF", `${path}.pdf`, `${stem}-${app.number}.pdf`, { id: id ? `${id}-pdf` : "" })));
  }
  return box;
}

/** The items of an application with department, status, clock, colour, opinion and open requests. */
export function itemsTable(app, { id = "ap-items", name = null, extra = null } = {}) {
  const columns = [
    { key: "name", head: t("pjItem"), cell: i => (name ? name(i) : itemName(i)) },
    { key: "department", head: t("pjDepartment"), cell: i => i.department_name ?? "—" },
    { key: "status", head: t("pjItemStatusLabel"), cell: i => label("pjItemStatus", i.status) },
    { key: "clock", head: t("apClock"), cell: clockText },
    { key: "colour", head: t("apColour"), cell: i => colourBadge(i.colour) },
    { key: "opinion", head: t("apOpinion"), cell: i => opinionCell(i.opinion) },
    { key: "requests", head: t("apOpenRequests"), cell: i => String(i.open_requests ?? 0), className: "num" },
  ];
  if (extra) columns.push(extra);
  return table(columns, app.items ?? [], {
    id, rowProps: i => ({ itemId: String(i.id), itemCode: i.item_code, status: i.status, colour: i.colour ?? "" }),
  });
}

function opinionCell(opinion) {
  const span = opinionNode(opinion);
  if (opinion?.document_id) {
    return el("span", {}, span, " ", materialLink({ material_id: opinion.document_id, file_name: t("apDecisionDoc") }));
  }
  return span;
}

/** A checklist entry's state as a badge. */
export function stateBadge(state) {
  const badge = el("span", { className: `badge ap-state ap-state-${state}`, textContent: label("apStates", state) });
  badge.dataset.state = state;
  return badge;
}

/** An entry's state as shown: a gap to supply later, a conditional material not given, or the API's state. */
function shownState(entry) {
  if (entry.state === "attached") return "attached";
  if (entry.gap) return "gap";
  if (!entry.required && entry.state === "missing") return "optional";
  return entry.state;
}

/** Whether an entry is required, or when it is needed (conditional). */
export function requiredText(entry) {
  if (entry.required) return t("apRequired");
  const condition = pick(entry, "condition");
  return condition ? `${t("apConditional")}（${condition}）` : t("apConditional");
}

/** The checklist: name, required or conditional, state, attached file; extra columns for the page's actions. */
export function checklistTable(app, { id = "ap-checklist", extra = [] } = {}) {
  const columns = [
    { key: "name", head: t("apMaterial"), cell: e => pick(e) },
    { key: "required", head: t("apRequiredLabel"), cell: requiredText },
    { key: "state", head: t("apState"), cell: e => stateBadge(shownState(e)) },
    { key: "file", head: t("apFile"), cell: e => attachedCell(e) },
    ...extra,
  ];
  return table(columns, app.checklist ?? [], {
    id, rowProps: e => ({ material: e.code, state: e.state, required: String(Boolean(e.required)) }),
  });
}

function attachedCell(entry) {
  const a = entry.attached;
  if (!a) return el("span", { textContent: "—" });
  const node = el("span", { className: "ap-file" }, materialLink(a));
  if (a.valid_until) node.append(el("small", { className: "note", textContent: ` ${t("apValidUntil", a.valid_until)}` }));
  return node;
}

/** A material's name on the checklist by its code (points of a letter name the material by code). */
export function materialName(app, code) {
  if (!code) return "";
  const entry = (app.checklist ?? []).find(e => e.code === code);
  return entry ? pick(entry) : t("apOtherMaterial");
}

/** The points of a letter or request: one list item each (department, item, material, text). */
export function pointsList(app, points, id = "") {
  const list = el("ol", { className: "ap-points" });
  if (id) list.id = id;
  for (const point of points ?? []) {
    const who = [point.department_name, point.item_name_zh && pick({ name_zh: point.item_name_zh, name_en: point.item_name_en })]
      .filter(Boolean).join(" · ");
    const what = materialName(app, point.material_code);
    const li = el("li", {},
      who ? el("strong", { textContent: `${who}：` }) : null,
      what ? el("span", { className: "ap-point-material", textContent: `〔${what}〕` }) : null,
      el("span", { textContent: point.text }));
    if (point.department_name) li.dataset.department = point.department_name;
    list.append(li);
  }
  return list;
}

/** The correction letters of an application, each with its points and its documents. */
export function lettersView(app, { id = "ap-letters" } = {}) {
  const box = el("section", { id, className: "ap-letters" });
  if (!app.letters?.length) return box;
  box.append(el("h4", { textContent: t("apLetters") }));
  for (const letter of app.letters) {
    const head = el("p", { className: "ap-letter-head", textContent: t("apLetterHead", letter.round, formatDate(letter.sent_at, true),
      letter.resubmitted_at ? t("apResubmittedOn", formatDate(letter.resubmitted_at, true)) : t("apAwaitingResubmission")) });
    const block = el("article", { className: "ap-letter" }, head, pointsList(app, letter.points),
      documentLinks(app, [["apLetterDoc", `/api/applications/${app.id}/letters/${letter.round}`, `correction-letter-${letter.round}`,
        `ap-letter-${letter.round}`]]));
    block.dataset.round = String(letter.round);
    box.append(block);
  }
  return box;
}

/** The application's facts: number, project, unit, stage, status, dates and contact. */
export function appFacts(app) {
  const pairs = [
    [t("apNumber"), app.number],
    [t("apProject"), `${app.project_name ?? "—"}（${app.project_code ?? "—"}）`],
    [t("pjUnit"), app.unit_name],
    [t("pjStage"), stageName(app)],
    [t("apStatusLabel"), appStatus(app.status)],
    [t("apSubmittedAt"), formatDate(app.submitted_at, true)],
    [t("apAcceptedAt"), formatDate(app.accepted_at, true)],
  ];
  if (app.issued_at) pairs.push([t("apIssuedAt"), formatDate(app.issued_at, true)]);
  if (app.contact_name || app.contact_phone) pairs.push([t("apContact"), [app.contact_name, app.contact_phone].filter(Boolean).join(" ")]);
  if (app.correction_rounds) pairs.push([t("apRounds"), String(app.correction_rounds)]);
  const dl = el("dl", { className: "facts ap-facts" });
  for (const [term, value] of pairs) dl.append(el("dt", { textContent: term }), el("dd", { textContent: value ?? "—" }));
  return dl;
}

/** The application's event log (who, when, what). */
export function eventsTable(app, id = "ap-events") {
  if (!app.events?.length) return el("p", { className: "note", textContent: t("pjNoEvents") });
  return table([
    { key: "at", head: t("pjAt"), cell: e => formatDate(e.at, true) },
    { key: "action", head: t("pjAction"), cell: e => label("apEventActions", e.action) },
    { key: "change", head: t("pjChange"), cell: e => `${appStatus(e.from_status)} → ${appStatus(e.to_status)}` },
    { key: "actor", head: t("pjActor"), cell: e => person(e.actor_display_name, e.actor_name) },
    { key: "note", head: t("pjNote"), cell: e => e.note || "—" },
  ], app.events, { id, rowProps: e => ({ action: e.action }) });
}

/** A message line: an error (in the chosen language), {ok: [key, …args]}, or nothing. */
export function notice(state, id) {
  const p = el("p", { id, className: state?.ok ? "note pj-ok" : "error" });
  p.setAttribute("role", state?.ok ? "status" : "alert");
  if (state?.ok) p.textContent = t(...state.ok);
  else if (state?.key) p.textContent = t(state.key, ...(state.args ?? []));
  else if (state) p.textContent = errorText(state);
  return p;
}

/** Rows of points (material and text) a person adds and removes: returns {node, read()}. */
export function pointsEditor(app, id, rows) {
  const box = el("div", { className: "ap-points-editor", id });
  const options = [["", t("apNoMaterial")], ...(app.checklist ?? []).map(e => [e.code, pick(e)])];
  const draw = () => {
    box.replaceChildren();
    rows.forEach((row, index) => {
      const material = el("select", { id: `${id}-material-${index}` });
      for (const [value, text] of options) material.append(el("option", { value, textContent: text }));
      material.value = row.material_code ?? "";
      material.setAttribute("aria-label", t("apMaterial"));
      material.addEventListener("change", () => { row.material_code = material.value; });
      const text = el("textarea", { id: `${id}-text-${index}`, rows: 2, maxLength: 2000, value: row.text ?? "" });
      text.setAttribute("aria-label", t("apPointText"));
      text.placeholder = t("apPointHint");
      text.addEventListener("input", () => { row.text = text.value; });
      const remove = el("button", { type: "button", className: "link", textContent: t("apRemovePoint") });
      remove.disabled = rows.length === 1;
      remove.addEventListener("click", () => { rows.splice(index, 1); draw(); });
      box.append(el("div", { className: "ap-point-row" }, el("span", { className: "ap-point-no", textContent: `${index + 1}.` }),
        material, text, remove));
    });
    const add = el("button", { type: "button", id: `${id}-add`, textContent: t("apAddPoint") });
    add.addEventListener("click", () => { rows.push({ material_code: "", text: "" }); draw(); });
    box.append(add);
  };
  draw();
  const read = () => rows.filter(r => r.text?.trim()).map(r => {
    const point = { text: r.text.trim() };
    if (r.material_code) point.material_code = r.material_code;
    return point;
  });
  return { node: box, read };
}
