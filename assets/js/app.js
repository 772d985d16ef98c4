// The application frame: sidebar navigation, organization switcher and the
// routed screen. Screens live in ./pages/ and register themselves.
import { html, render, useState, useEffect } from "./ui.js";
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
    <label for="org-switcher" class="nav-section">Working in</label>
    <select id="org-switcher" aria-label="Organization" value=${org ? String(org.id) : ""} onChange=${change}>
      ${me.organizations.map((o) => html`<option value=${String(o.id)}>${o.name}</option>`)}
      <option value="new">+ New organization…</option>
    </select>
  </div>`;
}

function Sidebar({ path }) {
  const me = currentUser();
  const org = currentOrg();
  const brand = currentBranding();
  const entries = navEntries().filter((r) => !r.nav.requires || (org && org.permissions.includes(r.nav.requires)));
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
  return html`<nav class="sidebar" aria-label="Main">
    <a class="brand" href="/"><img src=${brand.logo_url || "/favicon.svg"} alt="" /><span id="brand-name">${brand.brand_name}</span></a>
    <${OrgSwitcher} />
    ${sections.map(
      (s) => html`${s.name && html`<div class="nav-section">${s.name}</div>`}
        <div class="nav">
          ${s.items.map(
            (r) => html`<a href=${r.pattern} class=${r === active ? "active" : ""} aria-current=${r === active ? "page" : undefined}>${r.nav.label}</a>`,
          )}
        </div>`,
    )}
    <div class="spacer"></div>
    <div class="nav">
      <a href="/api/docs/" target="_blank" rel="noopener">API docs</a>
      ${me && me.user.is_superadmin && html`<a href="/admin">Admin console</a>`}
      ${me && html`<a href="/account" id="account-link">${me.user.email}</a><a href="#" id="sign-out" onClick=${(e) => (e.preventDefault(), logout())}>Sign out</a>`}
    </div>
  </nav>`;
}

function App() {
  const [path, setPath] = useState(location.pathname);
  const [, setVersion] = useState(0);
  const [ready, setReady] = useState(false);
  useEffect(() => onNavigate(() => setPath(location.pathname)), []);
  useEffect(() => onSessionChange(() => setVersion((v) => v + 1)), []);
  useEffect(() => {
    refreshMe().finally(() => setReady(true));
  }, []);
  const me = currentUser();
  const org = currentOrg();
  // Branding follows the selected organization (or the custom domain).
  useEffect(() => {
    if (ready) refreshBranding();
  }, [ready, me && me.user.id, org && org.id]);
  if (!ready) return html`<p class="boot">Loading…</p>`;

  const found = match(path);
  if (found && found.route.public) {
    const Screen = found.route.component;
    return html`<${Screen} params=${found.params} />`;
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
  return html`<div class="shell">
    <${Sidebar} path=${path} />
    <main class="main">
      ${needsOrg && !org
        ? html`<div class="card"><h2>No organization</h2><p class="muted">You are not a member of any organization.</p><a class="button primary" href="/orgs/new">Create one</a></div>`
        : html`<${Screen} key=${path + (org ? org.id : "")} params=${found ? found.params : {}} />`}
    </main>
  </div>`;
}

function NotFound() {
  return html`<div class="card"><h2>Page not found</h2><p class="muted">There is no screen at this address.</p><a href="/dashboard">Go to the dashboard</a></div>`;
}

render(html`<${App} />`, document.getElementById("app"));
