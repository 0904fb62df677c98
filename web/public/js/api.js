// The app's only way to the server: JSON calls with the bearer token, problem+json errors in the UI language.
import { currentLang, t } from "./i18n.js";

const TOKEN_KEY = "duogui.token";
let onExpired = () => {};

/** An error answer of the API, carrying its status and the message in the UI language. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(ApiError.#say(problem) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }

  /** The problem's message in the language chosen now. */
  static #say(problem) {
    return currentLang() === "en" ? problem?.message_en || problem?.detail : problem?.message_zh || problem?.detail;
  }

  /** The message in the language chosen now (the error may be shown again after a switch). */
  text() { return ApiError.#say(this.problem) || this.message; }
}

/** An error's message in the current language, whatever kind of error it is. */
export const errorText = error => (error instanceof ApiError ? error.text() : String(error?.message ?? error));

export const getToken = () => sessionStorage.getItem(TOKEN_KEY);
export const setToken = token => sessionStorage.setItem(TOKEN_KEY, token);
export const clearToken = () => sessionStorage.removeItem(TOKEN_KEY);

const READ_RETRIES = 2;

/** How long to wait before asking again: the server's Retry-After (capped at 5 s), spread a little. */
function retryDelay(response, attempt) {
  const asked = Number(response.headers.get("Retry-After"));
  const seconds = Number.isFinite(asked) && asked > 0 ? Math.min(asked, 5) : 1 + attempt;
  return seconds * 1000 * (0.75 + Math.random() * 0.5);
}

/** Called once when a request answers 401 with a token: the session ended or the token expired. */
export function whenExpired(fn) { onExpired = fn; }

/** Report an expired session (also used for 401 tiles seen by the map). */
export function expire() {
  if (getToken()) { clearToken(); onExpired(); }
}

/**
 * Fetch a same-origin URL with the token and the UI language; the response when it is ok, else an ApiError
 * (a 401 with a token ends the session first).
 */
async function send(path, { method = "GET", body, headers = {} } = {}) {
  const token = getToken();
  const all = { "Accept-Language": currentLang() === "en" ? "en" : "zh-CN", ...headers };
  if (token) all.Authorization = `Bearer ${token}`;
  let response;
  for (let attempt = 0; ; attempt += 1) {
    try {
      response = await fetch(path, { method, body, headers: all });
    } catch {
      throw new ApiError(0, { message_zh: t("networkError"), message_en: t("networkError") });
    }
    // A busy server answers 503 at once with Retry-After: a read is asked again (twice at most), a write
    // never (the person decides), so a burst of a page's reads does not leave holes in what it shows.
    if (response.status !== 503 || method !== "GET" || attempt >= READ_RETRIES) break;
    await new Promise(resolve => setTimeout(resolve, retryDelay(response, attempt)));
  }
  if (response.status === 401 && token) expire();
  if (!response.ok) {
    let problem = null;
    try { problem = await response.json(); } catch { /* not JSON */ }
    throw new ApiError(response.status, problem);
  }
  return response;
}

/** Request a same-origin URL with the token and the UI language; returns parsed JSON (or null for 204). */
export async function api(path, { method = "GET", body, headers = {} } = {}) {
  const response = await send(path, { method, body, headers: { Accept: "application/json", ...headers } });
  return response.status === 204 ? null : response.json();
}

/** GET one page of a list whose total the server sends in X-Total-Count: {items, total}. */
export async function apiPage(path) {
  const response = await send(path, { headers: { Accept: "application/json" } });
  return { items: await response.json(), total: Number(response.headers.get("X-Total-Count") ?? 0) };
}

/**
 * Download a same-origin file that needs the bearer token: fetched with the Authorization header and saved
 * through a blob URL (a plain link could not send the token). The name comes from Content-Disposition.
 */
export async function download(path, fallbackName) {
  const response = await send(path);
  const disposition = response.headers.get("Content-Disposition") || "";
  const encoded = /filename\*=UTF-8''([^;]+)/i.exec(disposition);
  const name = encoded ? decodeURIComponent(encoded[1]) : fallbackName;
  const url = URL.createObjectURL(await response.blob());
  const link = Object.assign(document.createElement("a"), { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return name;
}

/** Sign in with the OAuth2 password form; keeps the token for this browser tab. */
export async function signIn(username, password) {
  const body = new URLSearchParams({ username, password });
  const answer = await api("/api/auth/token", { method: "POST", body });
  setToken(answer.access_token);
  return answer;
}

/** Revoke the token on the server (best effort) and forget it. */
export async function signOut() {
  try { await api("/api/auth/logout", { method: "POST" }); } catch { /* already gone */ }
  clearToken();
}

/** MapLibre transformRequest: the bearer token on same-origin requests only. */
export function authorise(url) {
  const token = getToken();
  if (token && new URL(url, location.href).origin === location.origin) {
    return { url, headers: { Authorization: `Bearer ${token}` } };
  }
  return { url };
}
