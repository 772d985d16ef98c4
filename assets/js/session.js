// Who is signed in and which organization is selected.
import { get, setCsrfToken, ApiError } from "./api.js";

const listeners = new Set();
let me = null;

export function currentUser() {
  return me;
}

/** Loads /me; resolves to null when signed out. */
export async function refreshMe() {
  try {
    setMe(await get("/api/v1/me"));
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) setMe(null);
    else throw e;
  }
  return me;
}

export function setMe(value) {
  me = value;
  setCsrfToken(value && value.csrf_token);
  listeners.forEach((fn) => fn(me));
}

export function onSessionChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** The selected organization (the first one by default). */
export function currentOrg() {
  if (!me || !me.organizations.length) return null;
  const wanted = Number(localStorage.getItem("bb.org"));
  return me.organizations.find((o) => o.id === wanted) || me.organizations[0];
}

/**
 * Switches the organization the UI works in. There is nothing to switch on
 * the server: every API route names its organization.
 */
export function selectOrg(id) {
  localStorage.setItem("bb.org", String(id));
  listeners.forEach((fn) => fn(me));
}

const DEFAULT_BRANDING = { brand_name: "botbuilder", primary_color: "#6d28d9", accent_color: "#db2777", text_color: "#1f2937", logo_url: null, favicon_url: null };
let branding = DEFAULT_BRANDING;

export function currentBranding() {
  return branding;
}

/** Applies white-label settings to the page: CSS variables, title, favicon. */
export function applyBranding(b) {
  branding = { ...DEFAULT_BRANDING, ...(b || {}) };
  const root = document.documentElement.style;
  root.setProperty("--primary", branding.primary_color);
  root.setProperty("--accent", branding.accent_color);
  root.setProperty("--text", branding.text_color);
  const icon = document.querySelector("link[rel=icon]");
  if (icon) icon.href = branding.favicon_url || "/favicon.svg";
  document.documentElement.dataset.brand = branding.brand_name;
  listeners.forEach((fn) => fn(me));
}

/** Loads the branding of the selected organization (or of the custom domain when signed out). */
export async function refreshBranding() {
  const org = currentOrg();
  try {
    applyBranding(await get(org ? `/api/v1/orgs/${org.id}/whitelabel` : "/api/v1/branding"));
  } catch {
    applyBranding(null);
  }
}

export function can(permission) {
  const org = currentOrg();
  return !!org && org.permissions.includes(permission);
}
