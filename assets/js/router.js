// A small history-API router. Page modules call `route()` to register their
// screens; `nav` entries appear in the sidebar.

const routes = [];
const listeners = new Set();

/**
 * Registers a screen.
 * @param {string} pattern e.g. "/bots/:botId"
 * @param {Function} component a Preact component receiving {params, query}
 * @param {{public?: boolean, nav?: {label: string, section?: string, order?: number}}} options
 */
export function route(pattern, component, options = {}) {
  const keys = [];
  const regex = new RegExp(
    "^" + pattern.replace(/\/:([A-Za-z_]+)/g, (_, key) => (keys.push(key), "/([^/]+)")) + "/?$",
  );
  routes.push({ pattern, regex, keys, component, ...options });
}

export function navEntries() {
  return routes.filter((r) => r.nav).sort((a, b) => (a.nav.order ?? 50) - (b.nav.order ?? 50));
}

export function match(pathname) {
  for (const r of routes) {
    const m = r.regex.exec(pathname);
    if (m) {
      const params = {};
      r.keys.forEach((k, i) => (params[k] = decodeURIComponent(m[i + 1])));
      return { route: r, params };
    }
  }
  return null;
}

export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  listeners.forEach((fn) => fn());
}

export function onNavigate(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

window.addEventListener("popstate", () => listeners.forEach((fn) => fn()));

// Same-origin links navigate without a page load.
document.addEventListener("click", (event) => {
  const a = event.target.closest && event.target.closest("a[href]");
  if (!a || a.target || a.hasAttribute("download") || event.metaKey || event.ctrlKey || event.shiftKey) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith("/api/")) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
});
