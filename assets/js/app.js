// The application frame: sidebar navigation, organization switcher and the
// routed screen. Screens live in ./pages/ and register themselves.
import { html, render, useState, useEffect } from "./ui.js";
import { match, navEntries, navigate, onNavigate } from "./router.js";
import { refreshMe, onSessionChange, currentUser, currentOrg, selectOrg, setMe } from "./session.js";
import { post } from "./api.js";
import "./pages/index.js";

function Sidebar({ path }) {
  const me = currentUser();
  const org = currentOrg();
  const entries = navEntries().filter((r) => !r.nav.requires || (org && org.permissions.includes(r.nav.requires)));
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
    <a class="brand" href="/"><img src="/favicon.svg" alt="" />botbuilder</a>
    ${me && me.organizations.length > 1 &&
    html`<select aria-label="Organization" value=${org && org.id} onChange=${(e) => selectOrg(Number(e.target.value))}>
      ${me.organizations.map((o) => html`<option value=${o.id}>${o.name}</option>`)}
    </select>`}
    ${sections.map(
      (s) => html`${s.name && html`<div class="nav-section">${s.name}</div>`}
        <div class="nav">
          ${s.items.map((r) => html`<a href=${r.pattern} class=${path.startsWith(r.pattern) ? "active" : ""}>${r.nav.label}</a>`)}
        </div>`,
    )}
    <div class="spacer"></div>
    <div class="nav">
      <a href="/api/docs/" target="_blank" rel="noopener">API docs</a>
      ${me && html`<a href="/account">${me.user.email}</a><a href="#" onClick=${(e) => (e.preventDefault(), logout())}>Sign out</a>`}
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
  if (!ready) return html`<p class="boot">Loading botbuilder…</p>`;

  const found = match(path);
  const me = currentUser();
  if (found && found.route.public) {
    const Screen = found.route.component;
    return html`<${Screen} params=${found.params} />`;
  }
  if (!me) {
    queueMicrotask(() => navigate(`/login?next=${encodeURIComponent(path)}`, { replace: true }));
    return null;
  }
  if (path === "/") {
    queueMicrotask(() => navigate("/dashboard", { replace: true }));
    return null;
  }
  const Screen = found ? found.route.component : NotFound;
  return html`<div class="shell">
    <${Sidebar} path=${path} />
    <main class="main"><${Screen} key=${path} params=${found ? found.params : {}} /></main>
  </div>`;
}

function NotFound() {
  return html`<div class="card"><h2>Page not found</h2><p class="muted">There is no screen at this address.</p><a href="/dashboard">Go to the dashboard</a></div>`;
}

render(html`<${App} />`, document.getElementById("app"));
