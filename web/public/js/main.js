// The planners' map: sign-in, then the layer tree, the map, legend, identify, layer details and pre-evaluation.
import { api, ApiError, expire, getToken, signIn, signOut, whenExpired } from "./api.js";
import { AuditPage } from "./audit.js";
import { OverviewPage } from "./overview.js";
import { showDetails } from "./details.js";
import { applyStatic, onLangChange, t, toggleLang } from "./i18n.js";
import { PlanMap } from "./map.js";
import { panelMessage, renderIdentify, renderLegend, showTab } from "./panels.js";
import { CalendarPage } from "./admin_calendar.js";
import { UsersPage } from "./admin_users.js";
import { DemolitionPage } from "./demolition.js";
import { GapsPage } from "./gaps.js";
import { PreEvalPage } from "./preeval.js";
import { ProjectsPage } from "./projects.js";
import { projectLink } from "./projects_map.js";
import { SecurityPage } from "./security.js";
import { LayerTree } from "./tree.js";
import { MyWorkPage } from "./mywork.js";
import { WindowPage } from "./window.js";

const $ = id => document.getElementById(id);
const CHECKED_KEY = "duogui.layers";
const VIEW_KEY = "duogui.view";
// The views besides the map: their page class and the permission that shows them (from /api/auth/me).
const VIEWS = {
  overview: { Page: OverviewPage, permission: "overview:read" },
  window: { Page: WindowPage, permission: "applications:intake" },
  mywork: { Page: MyWorkPage, permission: "applications:review" },
  projects: { Page: ProjectsPage, permission: "projects:read" },
  demolition: { Page: DemolitionPage, permission: "demolition:read" },
  audit: { Page: AuditPage, permission: "audit:read" },
  users: { Page: UsersPage, permission: "users:manage" },
  calendar: { Page: CalendarPage, permission: "calendar:manage" },
  security: { Page: SecurityPage, permission: "security:read" },
  gaps: { Page: GapsPage, permission: "gaps:read" },
};
let session = null; // {user, layers, layersByCode, groups, legend, tree, map, detailsCode, lastClick}

/** The ticked layers kept from the last visit, or the 底图 (the catalog's base-map layers). */
function savedSelection(layers, layersByCode) {
  let codes = layers.filter(l => l.base_map).map(l => l.code);
  try { codes = JSON.parse(localStorage.getItem(CHECKED_KEY)) ?? codes; } catch { /* keep the default */ }
  return new Set(codes.filter(code => layersByCode.has(code)));
}

/**
 * The district's extent: the district boundary layer's, else the union of every layer's, else the
 * district settings' (`/api/district`, when no layer has data yet).
 */
function districtBounds(layers, district) {
  const boundary = layers.find(l => l.code === "admin_district" && l.extent);
  if (boundary) return boundary.extent;
  const extents = layers.map(l => l.extent).filter(Boolean);
  if (!extents.length) return district.extent;
  return [0, 1, 2, 3].map(i => (i < 2 ? Math.min : Math.max)(...extents.map(e => e[i])));
}

function showSignIn(note = "") {
  session?.preeval?.destroy();
  for (const page of Object.values(session?.pages ?? {})) page.destroy();
  for (const name of Object.keys(VIEWS)) $(`${name}-page`).hidden = true;
  $("views").hidden = true;
  session?.map?.map.remove();
  session = null;
  $("workspace").hidden = true;
  $("sign-out").hidden = true;
  $("user").textContent = "";
  $("sign-in-page").hidden = false;
  $("sign-in").hidden = false;
  $("password-change").hidden = true;
  $("sign-in-note").textContent = note;
  $("sign-in-error").textContent = "";
  $("password").value = "";
  $("username").focus();
}

/** Thrown by start() when the account must change its password before anything else. */
class PasswordChangeDue extends Error {
  constructor(expired) { super("password change due"); this.expired = expired; }
}

async function start() {
  const user = await api("/api/auth/me");
  if (user.must_change_password || user.password_expired) throw new PasswordChangeDue(user.password_expired);
  $("sign-in-page").hidden = true;
  $("sign-out").hidden = false;
  $("user").textContent = `${user.display_name || user.username} · ${user.org_name_zh}`;
  session = { user, detailsCode: null, lastClick: null, pages: {} };
  // The security and audit administrators see no base map: their pages only.
  const withMap = Boolean(user.permissions?.["layers:read"]);
  if (withMap) await startMap(user);
  const views = Object.keys(VIEWS).filter(name => user.permissions?.[VIEWS[name].permission]);
  for (const name of Object.keys(VIEWS)) $(`view-${name}`).hidden = !views.includes(name);
  $("view-map").hidden = !withMap;
  $("views").hidden = !views.length;
  const last = localStorage.getItem(VIEW_KEY);
  // Without the map, the first page the role has (none yet for a role with neither: an empty workspace).
  if (!route()) showView(views.includes(last) ? last : withMap ? "map" : views[0] ?? "map");
}

// Links into the pages (the overview's figures): #/projects?status=…, #/project/12, #/items?state=overdue,
// #/demolition/12, #/gaps?facility=…&subdistrict=… — the page they open and its filters.
const ROUTES = { projects: "projects", project: "projects", items: "projects", demolition: "demolition", gaps: "gaps" };

/** Open the page a link names (true when the hash was one the signed-in role may open). */
function route() {
  const match = /^#\/([a-z]+)(?:\/(\d+))?(?:\?(.*))?$/.exec(location.hash);
  if (!match || !session) return false;
  const [, kind, id, query] = match;
  const name = ROUTES[kind];
  if (!name || $(`view-${name}`).hidden) return false;
  showView(name, { kind, id: id ? Number(id) : null, params: new URLSearchParams(query ?? "") });
  return true;
}

/** The map workspace: layers, tree, map, legend and pre-evaluation (roles that may read layers). */
async function startMap(user) {
  const [layers, groups, legend, style, district] = await Promise.all([
    api("/api/layers"), api("/api/layers/groups"), api("/api/layers/legend"),
    api("/tiles/style.json"), api("/api/district"),
  ]);
  $("workspace").hidden = false;
  const layersByCode = new Map(layers.map(l => [l.code, l]));
  Object.assign(session, { layers, layersByCode, groups, legend, district });
  $("preeval-crs").placeholder = district.storage_crs; // the example CRS is the one features are stored in
  const checked = savedSelection(layers, layersByCode);
  session.tree = new LayerTree($("tree"), groups, layers, checked, {
    onChange: selectionChanged,
    onDetails: code => openDetails(code),
    onOpacity: (code, value) => session.map.setOpacity(code, value),
  });
  const ticked = () => session.tree.checkedCodes().map(code => layersByCode.get(code));
  session.ticked = ticked;
  session.map = new PlanMap($("map"), style, districtBounds(layers, district), ticked(), {
    onError: error => { if (error?.status === 401) expire(); },
  });
  session.map.on("zoomend", () => { session.tree.setZoom(session.map.zoom()); renderSelection(); });
  session.map.on("click", event => {
    if (session.preeval?.drawing()) return; // the click is a footprint vertex
    closeTree();
    identify(event.lngLat);
  });
  session.tree.setZoom(session.map.zoom());
  session.tree.render();
  renderSelection();
  // What the role may do comes with the account (/api/auth/me), from the server's one policy table.
  const mayPreEvaluate = Boolean(user.permissions?.["preeval:run"]);
  $("tab-preeval").hidden = !mayPreEvaluate;
  if (!mayPreEvaluate && !$("preeval").hidden) openTab("legend"); // left open by the previous user
  await session.map.ready;
  if (mayPreEvaluate) session.preeval = new PreEvalPage(session.map, layersByCode);
  if (mayPreEvaluate && !$("preeval").hidden) session.preeval.activate();
  document.body.dataset.mapReady = "true"; // the map has loaded its style (tests wait for it)
}

/** A footprint of the project layer clicked on the map: its project's page. */
async function openProject(id) {
  showView("projects");
  await session.pages.projects?.openProject(id);
}

/** Show the map workspace or one of the other views (the choice is kept for the next visit); ``link``:
 * what a link into the page asked for (see route()). */
function showView(name, link = null) {
  if (!session) return;
  for (const tab of document.querySelectorAll("#views [role=tab]")) {
    tab.setAttribute("aria-selected", String(tab.dataset.view === name));
  }
  $("workspace").hidden = name !== "map" || !session.map;
  $("toggle-tree").hidden = name !== "map" || !session.map; // the layer tree belongs to the map
  for (const other of Object.keys(VIEWS)) $(`${other}-page`).hidden = other !== name;
  localStorage.setItem(VIEW_KEY, name);
  document.body.dataset.view = name; // for tests and tools
  if (name === "map") { session.map?.resize(); return; }
  const { Page } = VIEWS[name];
  session.pages[name] ??= new Page($(`${name}-page`), { user: session.user, layersByCode: session.layersByCode, district: session.district, openProject });
  if (link && session.pages[name].route) session.pages[name].route(link);
  else session.pages[name].activate();
}

function renderSelection() {
  const codes = session.tree.checkedCodes();
  $("active-count").textContent = t("active", codes.length);
  renderLegend($("legend"), session.legend, codes, session.map?.zoom() ?? 0, session.layersByCode);
}

function selectionChanged() {
  const codes = session.tree.checkedCodes();
  localStorage.setItem(CHECKED_KEY, JSON.stringify(codes));
  session.map.show(session.ticked());
  renderSelection();
}

/** Outline one identified feature on the map and mark its block in the panel (null: none). */
function pickFeature(feature) {
  session.map.highlight(feature?.geometry || null);
  for (const block of document.querySelectorAll("#identify article.feature")) {
    block.classList.toggle("picked", Boolean(feature) && block.dataset.layer === feature.layer && block.dataset.fid === String(feature.fid));
  }
  document.body.dataset.highlight = feature ? `${feature.layer}:${feature.fid}` : ""; // for tests and tools
}

async function identify(lngLat) {
  const root = $("identify");
  openTab("identify");
  session.map.markPoint(lngLat);
  session.lastClick = lngLat;
  const zoom = session.map.zoom();
  const codes = session.tree.checkedCodes().filter(c => session.layersByCode.get(c).kind !== "raster");
  if (!codes.length) { panelMessage(root, t("identifyNoLayers")); return; }
  panelMessage(root, t("identifyBusy"));
  const query = new URLSearchParams({
    lon: lngLat.lng.toFixed(7), lat: lngLat.lat.toFixed(7), zoom: zoom.toFixed(2), layers: codes.join(","),
    geometry: "true",
  });
  pickFeature(null);
  try {
    const features = await api(`/api/identify?${query}`);
    if (session?.lastClick === lngLat) {
      const mayRead = Boolean(session.user.permissions?.["projects:read"]);
      renderIdentify(root, features, session.layersByCode, pickFeature, f => projectLink(f, mayRead, openProject));
      pickFeature(features[0] || null); // the likeliest meant: a point, a line, else the smallest area
    }
  } catch (error) {
    if (session?.lastClick === lngLat) panelMessage(root, `${t("loadFailed")}${error.message}`, true);
  }
}

function openDetails(code, lastImport = null) {
  session.detailsCode = code;
  openTab("details");
  const canImport = Boolean(session.user.permissions?.["layers:import"]);
  return showDetails($("details"), code, {
    groups: session.groups, canImport, zoomTo: extent => session.map.fitBounds(extent), onImported: layerImported,
    storageCrs: session.district.storage_crs,
  }, lastImport);
}

/** After an upload: fresh layer states (versions, counts), tiles of the new version, the details again. */
// Layers other users update: looked for every minute while the page is visible, and when it comes back.
const REFRESH_MS = 60_000;

/** Take up new layer versions (anyone's uploads or rollbacks): fresh tiles, tree and open details. */
async function refreshLayers() {
  if (!session?.map || document.hidden || session.refreshing) return;
  session.refreshing = true;
  try {
    const changed = [];
    for (const layer of await api("/api/layers")) {
      const known = session.layersByCode.get(layer.code);
      if (known && known.current_version !== layer.current_version) {
        Object.assign(known, layer);
        changed.push(layer.code);
      }
    }
    if (!changed.length) return;
    session.map.show(session.ticked()); // the tile URLs carry the versions: the map fetches the new ones
    session.tree.render();
    if (session.detailsCode && changed.includes(session.detailsCode) && !$("details").hidden) {
      await openDetails(session.detailsCode);
    }
    document.body.dataset.layersRefreshed = changed.join(","); // for tests and tools
  } catch {
    // Offline or signed out meanwhile: the next attempt tries again (an expired session shows itself).
  } finally {
    if (session) session.refreshing = false;
  }
}

async function layerImported(code, answer) {
  const layers = await api("/api/layers");
  for (const layer of layers) Object.assign(session.layersByCode.get(layer.code) ?? {}, layer);
  session.map.show(session.ticked());
  await openDetails(code, answer);
}

async function loadHealth() {
  const db = $("health-db");
  try {
    const health = await api("/api/health");
    db.textContent = `${t("ok")} · PostgreSQL ${health.database.postgres_version}`;
    db.className = "ok";
    $("health-postgis").textContent = health.database.postgis_version;
    $("health-rev").textContent = health.database.revision;
  } catch (error) {
    db.textContent = `${t("down")} · ${error.message}`;
    db.className = "error";
  }
}

function redraw() {
  if (!session) return;
  for (const [name, page] of Object.entries(session.pages)) if (!$(`${name}-page`).hidden) page.render();
  if (!session.map) return;
  session.tree.render();
  renderSelection();
  if (session.detailsCode && !$("details").hidden) openDetails(session.detailsCode);
  if (session.lastClick && !$("identify").hidden) identify(session.lastClick);
  session.preeval?.render();
}

async function enter() {
  try {
    await start();
  } catch (error) {
    const code = error instanceof ApiError ? error.problem?.code : null;
    if (error instanceof PasswordChangeDue || code === "password_change_required" || code === "password_expired") {
      const expired = error.expired || code === "password_expired";
      $("password-change-note").textContent = t(expired ? "passwordExpiredNote" : "changePasswordNote");
      $("sign-in-page").hidden = false;
      $("sign-in").hidden = true;
      $("password-change").hidden = false;
      $("current-password").focus();
    } else if (getToken()) {
      showSignIn(`${t("loadFailed")}${error.message}`);
    }
  }
}

/** Show a tab of the panel; the pre-evaluation tab widens the panel and loads its rules and reports. */
function openTab(name) {
  showTab(name);
  const wide = name === "preeval";
  if ($("workspace").classList.contains("wide-panel") !== wide) {
    $("workspace").classList.toggle("wide-panel", wide);
    session?.map.resize();
  }
  if (wide) session?.preeval?.activate();
}

/** On a narrow screen the tree lies over the map: close it. */
function closeTree() {
  $("sidebar").classList.remove("open");
  $("toggle-tree").setAttribute("aria-expanded", "false");
}

function wire() {
  $("lang").addEventListener("click", toggleLang);
  setInterval(refreshLayers, REFRESH_MS);
  window.addEventListener("focus", refreshLayers);
  window.addEventListener("hashchange", route);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refreshLayers(); });
  onLangChange(() => { redraw(); if ($("about").open) loadHealth(); });
  $("about-open").addEventListener("click", () => { loadHealth(); $("about").showModal(); });
  $("sign-out").addEventListener("click", async () => { await signOut(); showSignIn(t("signedOut")); });
  whenExpired(() => showSignIn(t("expired")));
  $("sign-in").addEventListener("submit", async event => {
    event.preventDefault();
    $("sign-in-error").textContent = "";
    try {
      await signIn($("username").value.trim(), $("password").value);
    } catch (error) {
      const wrong = error instanceof ApiError && error.status === 401;
      $("sign-in-error").textContent = wrong ? error.message || t("badPassword") : error.message;
      return;
    }
    await enter();
  });
  $("password-change").addEventListener("submit", async event => {
    event.preventDefault();
    try {
      const body = JSON.stringify({ current_password: $("current-password").value, new_password: $("new-password").value });
      await api("/api/auth/password", { method: "POST", body, headers: { "Content-Type": "application/json" } });
    } catch (error) {
      $("password-error").textContent = error.message;
      return;
    }
    await enter();
  });
  $("layer-search").addEventListener("input", event => session?.tree.setFilter(event.target.value));
  $("clear-layers").addEventListener("click", () => { session.tree.checked.clear(); session.tree.render(); selectionChanged(); });
  for (const tab of document.querySelectorAll('#panel [role="tab"]')) {
    tab.addEventListener("click", () => openTab(tab.getAttribute("aria-controls")));
  }
  for (const tab of document.querySelectorAll("#views [role=tab]")) {
    tab.addEventListener("click", () => showView(tab.dataset.view));
  }
  $("toggle-tree").addEventListener("click", () => {
    const open = $("sidebar").classList.toggle("open");
    $("toggle-tree").setAttribute("aria-expanded", String(open));
  });
  document.addEventListener("keydown", event => { if (event.key === "Escape") closeTree(); });
}

applyStatic();
wire();
if (getToken()) enter(); else showSignIn();
