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

export function selectOrg(id) {
  localStorage.setItem("bb.org", String(id));
  listeners.forEach((fn) => fn(me));
}

export function can(permission) {
  const org = currentOrg();
  return !!org && org.permissions.includes(permission);
}
