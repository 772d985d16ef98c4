// The application frame: skip link, sidebar navigation (behind a menu button
// on a phone), organization switcher, theme toggle and the routed screen.
// Screens live in ./pages/ and register themselves.
import { html, render, useState, useEffect, useRef } from "./ui.js";
import { match, navEntries, navigate, onNavigate } from "./router.js";
import {
  refreshMe,
  onSessionChange,
  currentUser,
  currentOrg,
  selectOrg,
  setMe,
  currentBranding,
  refreshBranding,
} from "./session.js";
import { post } from "./api.js";
import "./pages/index.js";
import { useInboxUnread } from "./pages/inbox.js";
import { t, hasMessage, locale, setLocale, onLocaleChange } from "./i18n.js";
import { LocaleSwitcher } from "./locale_switcher.js";

// ---- Theme: light, dark or the system's (prefers-color-scheme), remembered in localStorage.
const THEME_KEY = "bb-theme";
const systemDark = window.matchMedia("(prefers-color-scheme: dark)");

function themePreference() {
  const stored = localStorage.getItem(THEME_KEY);
  return stored === "light" || stored === "dark" ? stored : "system";
}

/** Puts the theme in force on <html data-theme> (the stylesheet's `color-scheme`). */
function applyTheme() {
  const preference = themePreference();
  const theme = preference === "system" ? (systemDark.matches ? "dark" : "light") : preference;
  document.documentElement.dataset.theme = theme;
}
applyTheme();
systemDark.addEventListener("change", applyTheme);

function ThemeToggle() {
  const [preference, setPreference] = useState(themePreference());
  const change = (e) => {
    const value = e.target.value;
    if (value === "system") localStorage.removeItem(THEME_KEY);
    else localStorage.setItem(THEME_KEY, value);
    setPreference(value);
    applyTheme();
  };
  return html`<div class="theme-toggle">
    <label for="theme-select" class="nav-section">${t("shell.theme")}</label>
    <select id="theme-select" value=${preference} onChange=${change}>
      <option value="system">${t("shell.system")}</option>
      <option value="light">${t("shell.light")}</option>
      <option value="dark">${t("shell.dark")}</option>
    </select>
  </div>`;
}

/** A route's sidebar label or section: a catalog key (a page not yet translated may still give English). */
const navText = (label) => (hasMessage(label) ? t(label) : label);

/** Moves focus to the page's <main> (the router would otherwise treat "#content" as a navigation). */
function SkipLink() {
  const skip = (e) => {
    e.preventDefault();
    e.stopPropagation();
    const main = document.getElementById("content");
    if (main) main.focus();
  };
  return html`<a class="skip-link" href="#content" onClick=${skip}>${t("shell.skip_to_content")}</a>`;
}

/**
 * A table wider than its card scrolls inside the card; keyboard users scroll
 * it once the card can take the focus, so such a card becomes a named,
 * focusable region (and stops being one when it fits again).
 */
function markScrollRegions() {
  for (const card of document.querySelectorAll("div.card")) {
    if (!card.querySelector("table")) continue;
    const scrolls = card.scrollWidth > card.clientWidth + 1;
    const marked = card.hasAttribute("data-scroll-region");
    if (scrolls && !marked) {
      const heading = card.querySelector("h2, h3");
      card.setAttribute("data-scroll-region", "");
      card.setAttribute("tabindex", "0");
      card.setAttribute("role", "region");
      card.setAttribute("aria-label", heading ? heading.textContent : t("shell.table"));
    } else if (!scrolls && marked) {
      for (const name of ["data-scroll-region", "tabindex", "role", "aria-label"]) card.removeAttribute(name);
    }
  }
}
new MutationObserver(markScrollRegions).observe(document.getElementById("app"), { childList: true, subtree: true, characterData: true });
window.addEventListener("resize", markScrollRegions);

function OrgSwitcher() {
  const me = currentUser();
  const org = currentOrg();
  if (!me) return null;
  const change = (e) => {
    const value = e.target.value;
    if (value === "new") {
      e.target.value = org ? String(org.id) : "";
      navigate("/orgs/new");
      return;
    }
    selectOrg(Number(value));
    navigate("/dashboard");
  };
  return html`<div class="org-switcher">
    <label for="org-switcher" class="nav-section">${t("shell.working_in")}</label>
    <select id="org-switcher" value=${org ? String(org.id) : ""} onChange=${change}>
      ${me.organizations.map((o) => html`<option value=${String(o.id)}>${o.name}</option>`)}
      <option value="new">${t("shell.new_organization")}</option>
    </select>
  </div>`;
}

function Sidebar({ path, open }) {
  const me = currentUser();
  const org = currentOrg();
  const brand = currentBranding();
  const entries = navEntries().filter(
    (r) => (!r.nav.requires || (org && org.permissions.includes(r.nav.requires))) && (!r.nav.when || r.nav.when()),
  );
  const unread = useInboxUnread(org);
  // One highlighted entry: the longest pattern the path is in (`/settings`
  // must not light up on `/settings/llm-providers`).
  const inside = (pattern) => path === pattern || path.startsWith(`${pattern}/`);
  const active = entries.filter((r) => inside(r.pattern)).sort((a, b) => b.pattern.length - a.pattern.length)[0];
  const sections = [];
  for (const r of entries) {
    const name = r.nav.section || "";
    let section = sections.find((s) => s.name === name);
    if (!section) sections.push((section = { name, items: [] }));
    section.items.push(r);
  }
  const logout = async () => {
    await post("/api/v1/auth/logout");
    setMe(null);
    navigate("/login");
  };
  return html`<nav class=${open ? "sidebar open" : "sidebar"} id="sidebar" aria-label=${t("shell.main")}>
    <a class="brand" href="/"><img src=${brand.logo_url || "/favicon.svg"} alt="" /><span id="brand-name">${brand.brand_name}</span></a>
    <${OrgSwitcher} />
    ${sections.map(
      (s) => html`${s.name && html`<div class="nav-section">${navText(s.name)}</div>`}
        <div class="nav">
          ${s.items.map(
            (r) => html`<a href=${r.pattern} class=${r === active ? "active" : ""} aria-current=${r === active ? "page" : undefined}>${navText(r.nav.label)}${r.pattern === "/inbox" && unread > 0
              ? html`<span class="nav-badge" id="inbox-unread-badge">${unread}<span class="sr-only"> ${t("shell.unread")}</span></span>`
              : null}</a>`,
          )}
        </div>`,
    )}
    <div class="spacer"></div>
    <div class="nav">
      <a href="/api/docs/" target="_blank" rel="noopener">${t("shell.api_docs")}</a>
      ${me && me.user.is_superadmin && html`<a href="/admin">${t("shell.admin_console")}</a>`}
      ${me && html`<a href="/account" id="account-link">${me.user.email}</a><a href="#" id="sign-out" onClick=${(e) => (e.preventDefault(), logout())}>${t("common.sign_out")}</a>`}
    </div>
    <${ThemeToggle} />
    <${LocaleSwitcher} />
  </nav>`;
}

function App() {
  const [path, setPath] = useState(location.pathname);
  const [, setVersion] = useState(0);
  const [ready, setReady] = useState(false);
  const [menuOpen, setMenuOpen] = useState(false);
  const menuButton = useRef(null);
  // Following a link also closes the phone menu.
  useEffect(
    () =>
      onNavigate(() => {
        setPath(location.pathname);
        setMenuOpen(false);
      }),
    [],
  );
  useEffect(() => {
    if (!menuOpen) return undefined;
    const onKey = (e) => {
      if (e.key !== "Escape") return;
      setMenuOpen(false);
      if (menuButton.current) menuButton.current.focus();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [menuOpen]);
  useEffect(() => onSessionChange(() => setVersion((v) => v + 1)), []);
  useEffect(() => onLocaleChange(() => setVersion((v) => v + 1)), []);
  // Signed in, the account's language wins over this browser's (another
  // device may have changed it); it is put in force before the first render.
  useEffect(
    () =>
      onSessionChange((me) => {
        const saved = me && me.user.locale;
        if (saved && saved !== locale()) setLocale(saved);
      }),
    [],
  );
  useEffect(() => {
    refreshMe()
      .then((me) => me && me.user.locale && me.user.locale !== locale() && setLocale(me.user.locale))
      .finally(() => setReady(true));
  }, []);
  const me = currentUser();
  const org = currentOrg();
  // Branding follows the selected organization (or the custom domain).
  useEffect(() => {
    if (ready) refreshBranding();
  }, [ready, me && me.user.id, org && org.id]);
  if (!ready) return html`<p class="boot" role="status">${t("common.loading")}</p>`;

  const found = match(path);
  if (found && found.route.public) {
    const Screen = found.route.component;
    return html`<${Screen} key=${locale()} params=${found.params} />`;
  }
  if (!me) {
    queueMicrotask(() => navigate(`/login?next=${encodeURIComponent(path + location.search)}`, { replace: true }));
    return null;
  }
  if (path === "/") {
    queueMicrotask(() => navigate("/dashboard", { replace: true }));
    return null;
  }
  const Screen = found ? found.route.component : NotFound;
  const needsOrg = !found || !found.route.noOrg;
  const brand = currentBranding();
  return html`<div class="shell">
    <${SkipLink} />
    <header class="mobile-header">
      <button type="button" id="menu-button" ref=${menuButton} aria-expanded=${menuOpen ? "true" : "false"} aria-controls="sidebar" onClick=${() => setMenuOpen(!menuOpen)}>
        <span aria-hidden="true">☰</span> ${t("shell.menu")}
      </button>
      <span class="mobile-brand">${brand.brand_name}</span>
    </header>
    <${Sidebar} path=${path} open=${menuOpen} />
    <main class="main" id="content" tabindex="-1">
      ${needsOrg && !org
        ? html`<div class="card"><h2>${t("shell.no_organization")}</h2><p class="muted">${t("shell.you_are_not_a_member")}</p><a class="button primary" href="/orgs/new">${t("shell.create_one")}</a></div>`
        : html`<${Screen} key=${path + (org ? org.id : "") + locale()} params=${found ? found.params : {}} />`}
    </main>
  </div>`;
}

function NotFound() {
  return html`<div class="card"><h2>${t("shell.page_not_found")}</h2><p class="muted">${t("shell.there_is_no_screen_at")}</p><a href="/dashboard">${t("shell.go_to_the_dashboard")}</a></div>`;
}

render(html`<${App} />`, document.getElementById("app"));
