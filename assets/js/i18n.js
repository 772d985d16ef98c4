// The UI's languages: message catalogs (/i18n/<locale>.json, keyed ids such
// as "audit.title"), `t(key, params)` with {placeholders} and plurals, and
// dates, numbers and money formatted through Intl in the active locale.
//
// This module loads the catalogs with a top-level await, so every module
// importing it (the whole UI) runs only once the strings are there: the
// first render never shows raw keys. Call `t()` while rendering, never at
// module load: switching the language re-renders with the new catalog.

/** The locales with a catalog, named in their own language for the switcher. */
export const LOCALES = [
  { code: "en", name: "English" },
  { code: "de", name: "Deutsch" },
];
export const DEFAULT_LOCALE = "en";
const STORAGE_KEY = "bb-locale";

let active = DEFAULT_LOCALE;
let catalog = {};
let fallback = {};
const loaded = new Map();
const reported = new Set();
const listeners = new Set();

const supported = (code) => LOCALES.some((l) => l.code === code);

/** The first of the browser's preferred languages the UI has (by primary subtag). */
export function browserLocale() {
  const wanted = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || ""];
  for (const tag of wanted) {
    const primary = String(tag).toLowerCase().split("-")[0];
    if (supported(primary)) return primary;
  }
  return DEFAULT_LOCALE;
}

/** The choice remembered in this browser (for the signed-out screens), if any. */
export function storedLocale() {
  const stored = localStorage.getItem(STORAGE_KEY);
  return supported(stored) ? stored : null;
}

async function loadCatalog(code) {
  if (!loaded.has(code)) {
    loaded.set(
      code,
      fetch(`/i18n/${code}.json`, { credentials: "same-origin" }).then((r) => {
        if (!r.ok) throw new Error(`catalog ${code}: HTTP ${r.status}`);
        return r.json();
      }),
    );
  }
  return loaded.get(code);
}

/** The active locale's code ("en", "de"). */
export function locale() {
  return active;
}

/**
 * Puts `code` in force: loads its catalog, sets `<html lang>`, remembers it
 * in this browser and tells the listeners (the app re-renders).
 */
export async function setLocale(code, { remember = true } = {}) {
  const next = supported(code) ? code : DEFAULT_LOCALE;
  const [english, messages] = await Promise.all([loadCatalog(DEFAULT_LOCALE), loadCatalog(next)]);
  fallback = english;
  catalog = messages;
  active = next;
  document.documentElement.lang = next;
  if (remember) localStorage.setItem(STORAGE_KEY, next);
  listeners.forEach((fn) => fn(next));
}

export function onLocaleChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Whether the active catalog (or English) has `key`. */
export function hasMessage(key) {
  return key in catalog || key in fallback;
}

function lookup(key) {
  if (key in catalog) return catalog[key];
  if (!reported.has(key)) {
    reported.add(key);
    console.warn(`i18n: no "${key}" in the ${active} catalog${key in fallback ? "; English shown" : ""}`);
  }
  return key in fallback ? fallback[key] : key;
}

/**
 * The message `key` with its {placeholders} filled from `params`. A message
 * with plural forms ({"one": …, "other": …}) picks one by `params.count`
 * (Intl.PluralRules of the active locale). When a parameter is markup (a
 * Preact node) the result is an array of parts, which templates render.
 */
export function t(key, params = {}) {
  let message = lookup(key);
  if (message && typeof message === "object") {
    const form = new Intl.PluralRules(active).select(Number(params.count));
    message = message[form] ?? message.other;
  }
  if (typeof message !== "string") return key;
  if (!message.includes("{")) return message;
  const parts = message.split(/\{(\w+)\}/);
  // Odd indexes are placeholder names.
  const values = parts.map((part, i) => {
    if (i % 2 === 0) return part;
    if (!(part in params)) return `{${part}}`;
    // Numbers are shown as given (ids, years); format counts with formatNumber() first if wanted.
    return params[part];
  });
  if (values.every((v, i) => i % 2 === 0 || v === null || v === undefined || typeof v !== "object")) {
    return values.map((v) => (v === null || v === undefined ? "" : String(v))).join("");
  }
  return values.filter((v) => v !== "" && v !== null && v !== undefined);
}

/** A date and time (ISO string or Date) in the active locale. */
export function formatDate(iso, options = { dateStyle: "medium", timeStyle: "short" }) {
  if (!iso) return "";
  const date = iso instanceof Date ? iso : new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return new Intl.DateTimeFormat(active, options).format(date);
}

/** A calendar date without the time. */
export function formatDay(iso) {
  return formatDate(iso, { dateStyle: "medium" });
}

/** A number with the active locale's separators. */
export function formatNumber(value, options = { maximumFractionDigits: 2 }) {
  if (value === null || value === undefined || value === "") return "";
  return new Intl.NumberFormat(active, options).format(Number(value));
}

/** The digits after the decimal point of `currency` (2 for EUR, 0 for JPY). */
export function currencyDigits(currency) {
  return new Intl.NumberFormat(DEFAULT_LOCALE, { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2;
}

/** An amount in the currency's minor units (cents) as money in the active locale. */
export function formatMoney(minorUnits, currency) {
  const code = String(currency || "usd").toUpperCase();
  return new Intl.NumberFormat(active, { style: "currency", currency: code }).format(Number(minorUnits) / 10 ** currencyDigits(code));
}

/**
 * What to show for an API error: the server's English message, or in another
 * language the catalog's text for the error's stable `code` when it has one
 * (`errors.<code>`); the server's message otherwise.
 */
export function errorText(error) {
  if (!error) return "";
  const key = `errors.${error.code}`;
  if (active !== DEFAULT_LOCALE && key in catalog) return catalog[key];
  return error.message || (key in fallback ? fallback[key] : t("errors.unknown"));
}

try {
  await setLocale(storedLocale() || browserLocale(), { remember: false });
} catch (e) {
  // A catalog that cannot load must not leave a blank page: English, or keys.
  console.error("i18n:", e);
  await setLocale(DEFAULT_LOCALE, { remember: false }).catch(() => {});
}
