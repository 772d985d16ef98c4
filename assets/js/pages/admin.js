// The superadmin console: its own sign-in and session, instance figures,
// users and organizations (search, suspend, plan), the IP allowlist,
// sign-in attempts and the admin audit log.
import { html, useState, useEffect, ErrorBox, Field, toast, toastError, formatDate, useLoad } from "../ui.js";
import { route, navigate } from "../router.js";
import { get, post, put, del, setAdminCsrfToken, ApiError } from "../api.js";

function AdminLogin({ onSignedIn }) {
  const [form, setForm] = useState({ email: "", password: "", totp_code: "" });
  const [needsCode, setNeedsCode] = useState(false);
  const [error, setError] = useState(null);
  const set = (k) => (v) => setForm({ ...form, [k]: v });
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const body = { email: form.email, password: form.password };
      if (needsCode) body.totp_code = form.totp_code;
      onSignedIn(await post("/api/v1/admin/auth/login", body));
    } catch (err) {
      if (err.code === "two_factor_required") setNeedsCode(true);
      else setError(err);
    }
  };
  return html`<main class="auth-page" id="content"><form class="card auth-card" onSubmit=${submit} id="admin-login">
    <h1 style="text-align:center;font-size:1.3rem">Admin console</h1>
    <${ErrorBox} error=${error} />
    <${Field} label="Email" name="email" type="email" required value=${form.email} onInput=${set("email")} error=${error} />
    <${Field} label="Password" name="password" type="password" required value=${form.password} onInput=${set("password")} error=${error} />
    ${needsCode && html`<${Field} label="Authenticator code" name="totp_code" required value=${form.totp_code} onInput=${set("totp_code")} error=${error} />`}
    <p><button class="primary" type="submit" style="width:100%">Sign in</button></p>
  </form></main>`;
}

function Stats() {
  const s = useLoad(() => get("/api/v1/admin/stats"));
  if (!s.data) return html`<${ErrorBox} error=${s.error} />`;
  const d = s.data;
  const tiles = [
    ["Users", d.users],
    ["Suspended users", d.users_suspended],
    ["With 2FA", d.users_with_two_factor],
    ["Organizations", d.organizations],
    ["Suspended orgs", d.organizations_suspended],
    ["Bots", d.bots],
    ["Active sessions", d.active_sessions],
    ["API tokens", d.active_api_tokens],
    ["Database", `${(d.database_bytes / 1048576).toFixed(1)} MiB`],
  ];
  return html`<div class="grid" id="admin-stats">
    ${tiles.map(([k, v]) => html`<div class="card"><div class="muted">${k}</div><div style="font-size:1.6rem">${v}</div></div>`)}
    <div class="card"><div class="muted">Plans</div>${Object.entries(d.organizations_by_plan).map(([k, v]) => html`<div>${k}: ${v}</div>`)}</div>
    <div class="card"><div class="muted">Jobs</div>${Object.entries(d.jobs).map(([k, v]) => html`<div>${k}: ${v}</div>`)}</div>
    <div class="card"><div class="muted">Emails</div>${Object.entries(d.emails).map(([k, v]) => html`<div>${k}: ${v}</div>`)}</div>
  </div>`;
}

function Users() {
  const [q, setQ] = useState("");
  const [search, setSearch] = useState("");
  const list = useLoad(() => get(`/api/v1/admin/users?limit=100&q=${encodeURIComponent(search)}`), [search]);
  const act = async (fn, msg) => {
    try {
      await fn();
      toast(msg);
      list.reload();
    } catch (err) {
      toastError(err);
    }
  };
  const suspend = (u) => {
    const reason = prompt(`Why suspend ${u.email}?`);
    if (reason) act(() => post(`/api/v1/admin/users/${u.id}/suspend`, { reason }), `Suspended ${u.email}`);
  };
  return html`<div class="card">
    <form class="row" onSubmit=${(e) => (e.preventDefault(), setSearch(q))}>
      <input aria-label="Search users" placeholder="Search by email or name" value=${q} onInput=${(e) => setQ(e.target.value)} style="flex:1" />
      <button type="submit">Search</button>
    </form>
    <${ErrorBox} error=${list.error} />
    <table>
      <thead><tr><th>Email</th><th>Name</th><th>Orgs</th><th>2FA</th><th>Last sign-in</th><th>Status</th><th></th></tr></thead>
      <tbody>
        ${list.data &&
        list.data.items.map(
          (u) => html`<tr data-user=${u.email}>
            <td>${u.email} ${u.is_superadmin && html`<span class="badge warn">superadmin</span>`}</td><td>${u.name}</td>
            <td>${u.organization_count}</td><td>${u.two_factor_enabled ? "on" : "off"}</td>
            <td class="muted">${formatDate(u.last_login_at)}</td>
            <td>${u.suspended_at ? html`<span class="badge bad" title=${u.suspended_reason}>suspended</span>` : html`<span class="badge ok">active</span>`}</td>
            <td>${u.suspended_at
              ? html`<button onClick=${() => act(() => post(`/api/v1/admin/users/${u.id}/unsuspend`), `Reinstated ${u.email}`)}>Unsuspend</button>`
              : html`<button class="danger" onClick=${() => suspend(u)}>Suspend</button>`}</td>
          </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

function Orgs() {
  const [q, setQ] = useState("");
  const [search, setSearch] = useState("");
  const list = useLoad(() => get(`/api/v1/admin/orgs?limit=100&q=${encodeURIComponent(search)}`), [search]);
  const act = async (fn, msg) => {
    try {
      await fn();
      toast(msg);
      list.reload();
    } catch (err) {
      toastError(err);
    }
  };
  const suspend = (o) => {
    const reason = prompt(`Why suspend ${o.name}?`);
    if (reason) act(() => post(`/api/v1/admin/orgs/${o.id}/suspend`, { reason }), `Suspended ${o.name}`);
  };
  return html`<div class="card">
    <form class="row" onSubmit=${(e) => (e.preventDefault(), setSearch(q))}>
      <input aria-label="Search organizations" placeholder="Search by name or slug" value=${q} onInput=${(e) => setQ(e.target.value)} style="flex:1" />
      <button type="submit">Search</button>
    </form>
    <${ErrorBox} error=${list.error} />
    <table>
      <thead><tr><th>Name</th><th>Owner</th><th>Members</th><th>Bots</th><th>Plan</th><th>Status</th><th></th></tr></thead>
      <tbody>
        ${list.data &&
        list.data.items.map(
          (o) => html`<tr data-org=${o.slug}>
            <td>${o.name}<div class="muted">${o.slug}</div></td><td>${o.owner_email}</td><td>${o.member_count}</td><td>${o.bot_count}</td>
            <td><select aria-label=${`Plan of ${o.name}`} value=${o.plan_tier} onChange=${(e) => act(() => put(`/api/v1/admin/orgs/${o.id}/plan`, { plan: e.target.value }), "Plan changed")}>
              ${["free", "pro", "enterprise"].map((p) => html`<option value=${p}>${p}</option>`)}
            </select></td>
            <td>${o.status === "suspended" ? html`<span class="badge bad" title=${o.suspended_reason}>suspended</span>` : html`<span class="badge ok">active</span>`}</td>
            <td>${o.status === "suspended"
              ? html`<button onClick=${() => act(() => post(`/api/v1/admin/orgs/${o.id}/unsuspend`), `Reinstated ${o.name}`)}>Unsuspend</button>`
              : html`<button class="danger" onClick=${() => suspend(o)}>Suspend</button>`}</td>
          </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

function Allowlist() {
  const list = useLoad(() => get("/api/v1/admin/ip-allowlist"));
  const [form, setForm] = useState({ ip_address: "", description: "" });
  const [error, setError] = useState(null);
  const add = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      await post("/api/v1/admin/ip-allowlist", form);
      setForm({ ip_address: "", description: "" });
      list.reload();
    } catch (err) {
      setError(err);
    }
  };
  const remove = async (entry) => {
    try {
      await del(`/api/v1/admin/ip-allowlist/${entry.id}`);
      list.reload();
    } catch (err) {
      toastError(err);
    }
  };
  return html`<div class="card">
    <p class="muted">When the list has entries, the console answers only these addresses. Empty: open to all.</p>
    <table>
      <thead><tr><th>Address or range</th><th>Description</th><th>Added</th><th></th></tr></thead>
      <tbody>
        ${list.data && list.data.map((e) => html`<tr><td><code>${e.ip_address}</code></td><td>${e.description || ""}</td><td class="muted">${formatDate(e.created_at)}</td><td><button class="danger" onClick=${() => remove(e)}>Remove</button></td></tr>`)}
      </tbody>
    </table>
    <form class="row" style="align-items:flex-end" onSubmit=${add}>
      <div style="flex:1"><${Field} label="IP or CIDR" name="ip_address" required value=${form.ip_address} onInput=${(v) => setForm({ ...form, ip_address: v })} error=${error} /></div>
      <div style="flex:2"><${Field} label="Description" name="description" value=${form.description} onInput=${(v) => setForm({ ...form, description: v })} error=${error} /></div>
      <button type="submit">Add</button>
    </form>
    <${ErrorBox} error=${error} />
  </div>`;
}

function Log({ url, columns }) {
  const list = useLoad(() => get(url));
  return html`<div class="card">
    <${ErrorBox} error=${list.error} />
    <table>
      <thead><tr>${columns.map(([, label]) => html`<th>${label}</th>`)}</tr></thead>
      <tbody>
        ${list.data && list.data.items.map((row) => html`<tr>${columns.map(([k]) => html`<td>${k.endsWith("_at") ? formatDate(row[k]) : typeof row[k] === "object" ? JSON.stringify(row[k]) : String(row[k] ?? "")}</td>`)}</tr>`)}
      </tbody>
    </table>
  </div>`;
}

const TABS = [
  ["overview", "Overview"],
  ["users", "Users"],
  ["orgs", "Organizations"],
  ["allowlist", "IP allowlist"],
  ["attempts", "Sign-in attempts"],
  ["audit", "Audit log"],
];

function Console() {
  const [session, setSession] = useState(undefined);
  const [tab, setTab] = useState("overview");
  useEffect(() => {
    get("/api/v1/admin/session").then(
      (s) => {
        setAdminCsrfToken(s.csrf_token);
        setSession(s);
      },
      (err) => setSession(err instanceof ApiError && err.status === 401 ? null : { error: err }),
    );
  }, []);
  if (session === undefined) return html`<p class="boot" role="status">Loading…</p>`;
  if (session === null || session.error)
    return html`${session && html`<${ErrorBox} error=${session.error} />`}<${AdminLogin} onSignedIn=${(s) => (setAdminCsrfToken(s.csrf_token), setSession(s))} />`;
  const logout = async () => {
    await post("/api/v1/admin/auth/logout");
    setAdminCsrfToken(null);
    setSession(null);
  };
  return html`<main class="main" id="content" style="max-width:1300px;margin:0 auto">
    <div class="topbar"><h1>Admin console</h1>
      <div class="row"><span class="muted">${session.email} · until ${formatDate(session.expires_at)}</span><button onClick=${logout} id="admin-logout">Sign out</button><a class="button" href="/dashboard" onClick=${(e) => (e.preventDefault(), navigate("/dashboard"))}>Back to the app</a></div>
    </div>
    <div class="row" role="tablist" style="margin-bottom:1rem">
      ${TABS.map(([k, label]) => html`<button role="tab" aria-selected=${tab === k ? "true" : "false"} class=${tab === k ? "primary" : ""} onClick=${() => setTab(k)}>${label}</button>`)}
    </div>
    ${tab === "overview" && html`<${Stats} />`}
    ${tab === "users" && html`<${Users} />`}
    ${tab === "orgs" && html`<${Orgs} />`}
    ${tab === "allowlist" && html`<${Allowlist} />`}
    ${tab === "attempts" && html`<${Log} url="/api/v1/admin/login-attempts?limit=200" columns=${[["attempted_at", "When"], ["email", "Email"], ["ip_address", "IP"], ["success", "Success"]]} />`}
    ${tab === "audit" && html`<${Log} url="/api/v1/admin/audit-log?limit=200" columns=${[["created_at", "When"], ["user_email", "Admin"], ["action", "Action"], ["resource_type", "Resource"], ["resource_id", "Id"], ["details", "Details"], ["ip_address", "IP"]]} />`}
  </main>`;
}

route("/admin", Console, { public: true });
