// One unit (一户一档): its facts, a versioned edit (If-Match), the status transitions for roles with
// demolition:manage (with an optional document, stored first in the materials store), and its event log with
// the attached documents to download.
import { api, download, errorText } from "./api.js";
import { formatDate, pick, t, withUnit } from "./i18n.js";
import { el } from "./panels.js";
import { fill, formatArea, formatNumber, formatYuan, statusSwatch } from "./demolition_progress.js";
import { ownerTypeName } from "./demolition_ledger.js";

const FIELDS = [ // attribute, input kind
  ["address", "text"], ["owner_type", "owner"], ["owner_name", "text"], ["id_number", "text"], ["phone", "text"],
  ["floor_area_m2", "number"],
  ["households", "integer"], ["valuation_yuan", "number"], ["agreed_compensation_yuan", "number"],
  ["paid_compensation_yuan", "number"], ["subdistrict_code", "subdistrict"],
];
const REQUIRED = new Set(["floor_area_m2", "households"]);
// Texts compared as typed (an ID number is not a number); personal values arrive masked (张*) for those
// without the need to know, and an unchanged masked value is never sent back.
const TEXTS = new Set(FIELDS.filter(([, kind]) => kind === "text").map(([key]) => key));
// The form labels name the unit (建筑面积（m²）); the facts show it after each figure, so their labels drop it.
const withoutUnit = label => label.replace(/\s*[（(][^（()）]*[）)]$/, "");

// The documents a transition may carry (docs/DEMOLITION.md), and the one each target status usually brings:
// 评估报告 with 评估, 补偿协议 with 签约, … A kind is the middle of the material code.
const ATTACHMENT_KINDS = ["valuation", "agreement", "payment", "vacancy", "acceptance", "handover", "other"];
const KIND_OF_STATUS = {
  valued: "valuation", signed: "agreement", paid: "payment", vacated: "vacancy", demolished: "acceptance",
  handed_over: "handover",
};
// What the materials store accepts for a code in no checklist (the server tells the type from the bytes).
const ACCEPTED_FILES = ".pdf,.ofd,.jpg,.jpeg,.png,.dwg,.dxf,.docx,.xlsx,.zip";

/** The material code of one kind of document of one unit: demolition_agreement_u42 (one library slot each). */
export const materialCode = (kind, unitId) => `demolition_${kind}_u${unitId}`;

/** A file size for people: KB below one MiB, MB from there (1,024 per step, one decimal): 12.3 KB, 2.5 MB. */
export function fileSize(bytes) {
  const n = Number(bytes);
  if (n >= 1024 * 1024) return withUnit(n / (1024 * 1024), "MB", 1);
  return withUnit(n > 0 ? Math.max(n / 1024, 0.1) : 0, "KB", 1);
}

/** The same file chosen again (name, size and modification time): it is not uploaded twice. */
const sameFile = (kept, file) =>
  Boolean(kept) && kept.name === file.name && kept.size === file.size && kept.lastModified === file.lastModified;

export class UnitPanel {
  constructor(root, page) {
    this.root = root;
    this.page = page;
    this.close();
  }

  /** Nothing open. */
  close() {
    Object.assign(this, { unitId: null, unit: null, events: [], editing: false, error: null, stale: false, done: null });
    this.draft = null;
    // The transition form: what was typed (kept across redraws and refusals), the document uploaded for it and
    // not yet recorded by a transition ({material, file}), an upload's refusal, and an upload or move underway.
    Object.assign(this, { move: null, pending: null, attachError: null, busy: null });
  }

  /** Load and show a unit (and keep it open across reloads). */
  async open(id) {
    this.close();
    this.unitId = id;
    await this.#load();
    this.root.scrollIntoView?.({ block: "nearest" });
  }

  async #load() {
    const id = this.unitId;
    try {
      const [unit, events] = await Promise.all([api(`/api/demolition/units/${id}`), api(`/api/demolition/units/${id}/events`)]);
      if (id !== this.unitId) return;
      Object.assign(this, { unit, events });
    } catch (error) {
      this.error = error;
    }
    this.render();
  }

  render() {
    if (this.unitId == null) {
      this.root.replaceChildren(el("p", { className: "note", textContent: t("dmPickUnit") }));
      return;
    }
    const u = this.unit;
    if (!u) { fill(this.root, this.#errorLine()); return; }
    const status = this.page.status(u.status);
    fill(this.root,
      el("h3", {}, `${t("dmUnit")} ${u.unit_code} `, el("span", { className: "dm-status-badge" }, statusSwatch(status), ` ${pick(status)}`)),
      this.#errorLine(),
      this.done ? el("p", { className: "ok", role: "status", textContent: t(this.done) }) : null,
      this.editing ? this.#editForm() : this.#facts(),
      this.page.can.manage && !this.editing ? this.#transitionForm() : null,
      el("h4", { id: "dm-events-title", textContent: t("dmEvents") }),
      this.#eventList(),
    );
    this.root.dataset.unit = String(u.id);
    this.root.dataset.version = String(u.version);
  }

  #errorLine() {
    if (!this.error) return null;
    const line = el("div", { className: "error", role: "alert", id: "dm-unit-error" }, errorText(this.error));
    if (this.stale) {
      const reload = el("button", { type: "button", id: "dm-unit-reload", textContent: t("dmReloadUnit") });
      reload.addEventListener("click", () => { this.draft = null; this.editing = false; this.error = null; this.stale = false; this.#load(); });
      line.append(" ", reload);
    }
    return line;
  }

  #facts() {
    const u = this.unit;
    const shown = {
      address: u.address ?? "—", owner_type: ownerTypeName(u.owner_type), owner_name: u.owner_name ?? "—",
      id_number: u.id_number ?? "—", phone: u.phone ?? "—",
      floor_area_m2: formatArea(u.floor_area_m2), households: formatNumber(u.households),
      valuation_yuan: formatYuan(u.valuation_yuan), agreed_compensation_yuan: formatYuan(u.agreed_compensation_yuan),
      paid_compensation_yuan: formatYuan(u.paid_compensation_yuan),
      subdistrict_code: u.subdistrict_code ? this.page.orgName(u.subdistrict_code) : "—",
      source: t("dmSources")[u.source] ?? u.source, version: String(u.version), updated_at: formatDate(u.updated_at, true),
    };
    const dl = el("dl", { className: "facts dm-unit-facts" });
    for (const [key, value] of Object.entries(shown)) {
      const dd = el("dd", { textContent: value });
      dd.dataset.key = key;
      dl.append(el("dt", { textContent: withoutUnit(t("dmFields")[key]) }), dd);
    }
    const block = el("div", {}, dl);
    if (this.page.can.manage) {
      const edit = el("button", { type: "button", id: "dm-edit", textContent: t("dmEdit") });
      edit.addEventListener("click", () => { this.editing = true; this.done = null; this.error = null; this.render(); });
      block.append(edit);
    }
    return block;
  }

  #input(key, kind, value) {
    const id = `dm-field-${key}`;
    let input;
    if (kind === "owner" || kind === "subdistrict") {
      const choices = kind === "owner"
        ? Object.entries(t("dmOwnerTypes"))
        : this.page.orgs.filter(o => o.kind === "subdistrict").map(o => [o.code, pick(o)]);
      input = el("select", { id }, el("option", { value: "", textContent: "—" }),
        ...choices.map(([code, name]) => el("option", { value: code, textContent: name })));
      input.value = value ?? "";
    } else {
      input = el("input", { id, value: value ?? "", type: kind === "text" ? "text" : "number" });
      if (kind !== "text") Object.assign(input, { min: "0", step: kind === "integer" ? "1" : "0.01" });
      if (REQUIRED.has(key)) input.required = true;
    }
    input.name = key;
    return el("div", { className: "field" }, el("label", { htmlFor: id, textContent: t("dmFields")[key] }), input);
  }

  #editForm() {
    const u = this.unit;
    const values = this.draft ?? Object.fromEntries(FIELDS.map(([key]) => [key, u[key]]));
    const form = el("form", { className: "dm-form", id: "dm-edit-form", noValidate: true },
      ...FIELDS.map(([key, kind]) => this.#input(key, kind, values[key])));
    const cancel = el("button", { type: "button", textContent: t("dmCancel") });
    cancel.addEventListener("click", () => { this.editing = false; this.draft = null; this.error = null; this.stale = false; this.render(); });
    form.append(el("div", { className: "dm-actions" }, el("button", { type: "submit", className: "primary", textContent: t("dmSave") }), cancel));
    form.addEventListener("input", () => { this.draft = Object.fromEntries(new FormData(form)); });
    form.addEventListener("submit", event => { event.preventDefault(); this.#save(form); });
    return form;
  }

  /** Send the fields that changed, with the version read as If-Match: a stale edit answers 412. */
  async #save(form) {
    const u = this.unit;
    const changes = {};
    for (const [key, value] of new FormData(form)) {
      const text = String(value).trim();
      const before = u[key] == null ? "" : String(u[key]);
      if (text === before || (text !== "" && before !== "" && Number(text) === Number(before) && !TEXTS.has(key))) continue;
      changes[key] = text === "" ? (REQUIRED.has(key) ? "0" : null) : key === "households" ? Number(text) : text;
    }
    this.draft = Object.fromEntries(new FormData(form));
    try {
      if (Object.keys(changes).length) {
        this.unit = await api(`/api/demolition/units/${u.id}`, {
          method: "PATCH", body: JSON.stringify(changes),
          headers: { "Content-Type": "application/json", "If-Match": `"${u.version}"` },
        });
      }
      Object.assign(this, { editing: false, draft: null, error: null, stale: false, done: "dmSaved" });
      await this.#afterChange();
    } catch (error) {
      this.error = error;
      this.stale = error.status === 412 || error.status === 409;
      this.render();
    }
  }

  #transitionForm() {
    const u = this.unit;
    const statuses = this.page.statuses;
    const here = statuses.findIndex(s => s.code === u.status);
    const next = statuses[here + 1];
    const choices = statuses.filter(s => s.code !== u.status);
    const draft = this.move ?? {};
    const chosen = choices.some(s => s.code === draft.to_status) ? draft.to_status : next?.code;
    const target = el("select", { id: "dm-to-status", name: "to_status" },
      ...choices.map(s => el("option", { value: s.code, textContent: pick(s), selected: s.code === chosen })));
    const reason = el("input", { id: "dm-reason", name: "reason", maxLength: 1000, value: draft.reason ?? "" });
    const note = el("textarea", { id: "dm-note", name: "note", maxLength: 2000, rows: 2, value: draft.note ?? "" });
    const field = (input, label) => el("div", { className: "field" }, el("label", { htmlFor: input.id, textContent: t(label) }), input);
    const attach = this.page.can.attach ? this.#attachFields(target, draft) : null;
    const send = el("button", {
      type: "submit", className: "primary", id: "dm-move", disabled: Boolean(this.busy),
      textContent: this.busy === "upload" ? t("dmUploading") : t("dmMove"),
    });
    const form = el("form", { className: "dm-form dm-transition", id: "dm-transition-form" },
      el("h4", { textContent: t("dmTransition") }),
      next ? el("p", { className: "note", textContent: t("dmNextStep", pick(next)) }) : null,
      field(target, "dmToStatus"), field(reason, "dmReason"), field(note, "dmNote"), attach, send);
    const read = () => ({
      to_status: target.value, reason: reason.value, note: note.value,
      kind: form.elements.kind?.value ?? null, kindChosen: Boolean(this.move?.kindChosen),
    });
    form.addEventListener("input", () => { this.move = read(); });
    form.addEventListener("change", () => { this.move = read(); });
    form.addEventListener("submit", event => {
      event.preventDefault();
      if (this.busy) return;
      this.move = read();
      this.#move(form.elements.file?.files?.[0] ?? null);
    });
    return form;
  }

  /** The optional document of a transition: its kind (following the target status until chosen), the file,
   * the document already uploaded for this change, and an upload's refusal in the server's words. */
  #attachFields(target, draft) {
    const kind = el("select", { id: "dm-attach-kind", name: "kind" },
      ...ATTACHMENT_KINDS.map(k => el("option", { value: k, textContent: t("dmAttachKinds")[k] })));
    kind.value = draft.kind ?? KIND_OF_STATUS[target.value] ?? "other";
    kind.addEventListener("change", () => { this.move = { ...this.move, kind: kind.value, kindChosen: true }; });
    target.addEventListener("change", () => {
      if (!this.move?.kindChosen) kind.value = KIND_OF_STATUS[target.value] ?? "other";
    });
    const file = el("input", { type: "file", id: "dm-attach-file", name: "file", accept: ACCEPTED_FILES });
    const field = (input, label) => el("div", { className: "field" }, el("label", { htmlFor: input.id, textContent: t(label) }), input);
    let pending = null;
    if (this.pending) {
      const { material } = this.pending;
      const drop = el("button", { type: "button", className: "link", id: "dm-attach-drop", textContent: t("dmAttachDrop") });
      drop.addEventListener("click", () => { this.pending = null; this.render(); });
      pending = el("p", { className: "dm-attach-pending", id: "dm-attach-pending", role: "status" },
        t("dmAttachPending", t("dmFileSize", material.file_name, fileSize(material.size))), " ", drop);
      pending.dataset.materialId = String(material.id);
    }
    return el("fieldset", { className: "dm-attach", id: "dm-attach" },
      el("legend", { textContent: t("dmAttachLegend") }),
      field(kind, "dmAttachKind"), field(file, "dmAttachFile"),
      el("p", { className: "note", textContent: t("dmAttachHint") }),
      pending,
      this.attachError ? el("p", { className: "error", role: "alert", id: "dm-attach-error", textContent: errorText(this.attachError) }) : null);
  }

  /**
   * Upload the chosen file (unless it is the one already uploaded for this change), then send the transition
   * naming it. A refused upload is shown in the form and no transition is sent; a refused transition keeps the
   * uploaded document for the next try.
   */
  async #move(file) {
    const u = this.unit;
    const draft = this.move;
    Object.assign(this, { error: null, stale: false, attachError: null, done: null });
    try {
      if (file && !sameFile(this.pending?.file, file)) {
        this.busy = "upload";
        this.render();
        const body = new FormData();
        body.append("file", file);
        body.append("material_code", materialCode(draft.kind ?? "other", u.id));
        body.append("purpose", "demolition");
        body.append("project_id", String(u.project_id));
        let material;
        try {
          material = await api("/api/materials", { method: "POST", body });
        } catch (error) {
          if (u.id === this.unitId) this.attachError = error;
          return;
        }
        if (u.id !== this.unitId) return;
        this.pending = { material, file: { name: file.name, size: file.size, lastModified: file.lastModified } };
      }
      this.busy = "move";
      const body = { to_status: draft.to_status, reason: draft.reason.trim() || null, note: draft.note.trim() || null };
      if (this.pending) body.attachment = { material_id: this.pending.material.id };
      try {
        const unit = await api(`/api/demolition/units/${u.id}/transitions`, {
          method: "POST", body: JSON.stringify(body),
          headers: { "Content-Type": "application/json", "If-Match": `"${u.version}"` },
        });
        if (u.id !== this.unitId) return;
        Object.assign(this, { unit, error: null, stale: false, done: "dmMoved", move: null, pending: null, busy: null });
        await this.#afterChange();
      } catch (error) {
        if (u.id !== this.unitId) return;
        this.error = error;
        this.stale = error.status === 412 || error.status === 409;
      }
    } finally {
      if (u.id === this.unitId && this.busy) { this.busy = null; this.render(); }
    }
  }

  /** The ledger, progress and map follow a change; the event log is read again. */
  async #afterChange() {
    await Promise.all([this.page.changed(), this.#load()]);
  }

  #eventList() {
    if (!this.events.length) return el("p", { className: "note", textContent: t("dmNoEvents") });
    const name = code => (code ? pick(this.page.status(code)) : "");
    const items = [...this.events].reverse().map(e => {
      let what;
      if (e.kind === "create") what = t("dmEventCreate", name(e.to_status));
      else if (e.kind === "transition") what = t("dmEventMove", name(e.from_status), name(e.to_status));
      else {
        const fields = Object.entries(e.changes ?? {}).map(([k, c]) => `${t("dmFields")[k] ?? k}: ${c.from ?? "—"} → ${c.to ?? "—"}`);
        what = t("dmEventUpdate", fields.join("；"));
      }
      const li = el("li", {},
        el("span", { className: "dm-when", textContent: `${formatDate(e.at, true)} · ${e.actor_display_name ?? e.actor_name}` }),
        el("span", { className: "dm-what", textContent: what }),
        e.irregular ? el("span", { className: "badge stale", textContent: t("dmIrregular") }) : null,
        e.reason ? el("span", { className: "dm-reason", textContent: t("dmLabelled", t("dmReasonShown"), e.reason) }) : null,
        e.note ? el("span", { className: "dm-event-note", textContent: t("dmLabelled", t("dmNote"), e.note) }) : null,
        e.attachment ? this.#attachment(e.attachment) : null);
      li.dataset.kind = e.kind;
      return li;
    });
    return el("ol", { className: "dm-events", id: "dm-events" }, ...items);
  }

  /**
   * An event's document: its name and size as a download of the stored bytes. A button, as every download of
   * the app: the file needs the token, which a plain link could not send. A failure shows next to it.
   */
  #attachment(a) {
    // "附件：" / "Attachment: " — the label part of the language's "label: value".
    const line = el("span", { className: "dm-attachment" }, t("dmLabelled", t("dmAttachment"), ""));
    if (a.material_id == null) { line.append(a.name ?? "—"); return line; }
    const path = `/api/materials/${a.material_id}/content`;
    const link = el("button", {
      type: "button", className: "link dm-attachment-link", title: t("dmDownload"),
      textContent: t("dmFileSize", a.name, fileSize(a.size)),
    });
    Object.assign(link.dataset, { href: path, materialId: String(a.material_id), sha256: a.sha256 ?? "" });
    const error = el("span", { className: "error", role: "alert" });
    link.addEventListener("click", async () => {
      error.textContent = "";
      try { await download(path, a.name); } catch (problem) { error.textContent = errorText(problem); }
    });
    line.append(link, error);
    return line;
  }
}
