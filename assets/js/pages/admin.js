// The superadmin console: its own sign-in and session, instance figures,
// instance settings (sign-up policy, public URL, SMTP with a test email),
// users (search, create, suspend) and organizations (search, suspend, plan),
// plans (admin_plans.js),
// the IP allowlist, sign-in attempts and the admin audit log; with billing
// on, the revenue overview.
import { html, useState, useEffect, ErrorBox, Field, FieldError, toast, toastError, formatDate, useLoad } from "../ui.js";
import { route, navigate } from "../router.js";
import { get, post, put, del, setAdminCsrfToken, ApiError } from "../api.js";
import { Plans } from "./admin_plans.js";
import { t, locale } from "../i18n.js";

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
    <h1 style="text-align:center;font-size:1.3rem">${t("admin.admin_console")}</h1>
    <${ErrorBox} error=${error} />
    <${Field} label=${t("common.email")} name="email" type="email" required value=${form.email} onInput=${set("email")} error=${error} />
    <${Field} label=${t("admin.password")} name="password" type="password" required value=${form.password} onInput=${set("password")} error=${error} />
    ${needsCode && html`<${Field} label=${t("admin.authenticator_code")} name="totp_code" required value=${form.totp_code} onInput=${set("totp_code")} error=${error} />`}
    <p><button class="primary" type="submit" style="width:100%">${t("admin.sign_in")}</button></p>
  </form></main>`;
}

function Stats() {
  const s = useLoad(() => get("/api/v1/admin/stats"));
  if (!s.data) return html`<${ErrorBox} error=${s.error} />`;
  const d = s.data;
  const tiles = [
    [t("admin.users"), d.users],
    [t("admin.suspended_users"), d.users_suspended],
    [t("admin.with_2fa"), d.users_with_two_factor],
    [t("admin.organizations"), d.organizations],
    [t("admin.suspended_orgs"), d.organizations_suspended],
    [t("admin.bots"), d.bots],
    [t("admin.active_sessions"), d.active_sessions],
    [t("admin.api_tokens"), d.active_api_tokens],
    [t("admin.database"), `${(d.database_bytes / 1048576).toFixed(1)} MiB`],
  ];
  return html`<div class="grid" id="admin-stats">
    ${tiles.map(([k, v]) => html`<div class="card"><div class="muted">${k}</div><div style="font-size:1.6rem">${v}</div></div>`)}
    <div class="card"><div class="muted">${t("admin.plans")}</div>${Object.entries(d.organizations_by_plan).map(([k, v]) => html`<div>${k}: ${v}</div>`)}</div>
    <div class="card"><div class="muted">${t("admin.jobs")}</div>${Object.entries(d.jobs).map(([k, v]) => html`<div>${k}: ${v}</div>`)}</div>
    <div class="card"><div class="muted">${t("admin.emails")}</div>${Object.entries(d.emails).map(([k, v]) => html`<div>${k}: ${v}</div>`)}</div>
  </div>`;
}

/** Revenue (billing on only): MRR per currency, active, trialing, past-due and churned subscriptions. */
function Revenue() {
  const r = useLoad(() => get("/api/v1/admin/billing/overview"));
  if (r.error && r.error.code === "billing_disabled") return null;
  if (!r.data) return html`<${ErrorBox} error=${r.error} />`;
  const d = r.data;
  const mrr = d.mrr.length
    ? d.mrr.map((m) => new Intl.NumberFormat(locale(), { style: "currency", currency: m.currency }).format(m.amount / 100)).join(" + ")
    : "—";
  const tiles = [
    ["MRR", mrr],
    [t("admin.active_subscriptions"), d.active_subscriptions],
    [t("admin.trialing"), d.trialing],
    [t("admin.past_due"), d.past_due],
    [t("admin.restricted"), d.restricted],
    [t("admin.churned_30_days"), d.churned_30d],
  ];
  return html`<section aria-labelledby="revenue-heading" id="admin-revenue">
    <h2 id="revenue-heading">${t("admin.revenue")}</h2>
    <div class="grid">${tiles.map(([k, v]) => html`<div class="card" data-metric=${k}><div class="muted">${k}</div><div style="font-size:1.6rem">${v}</div></div>`)}</div>
  </section>`;
}

const POLICIES = () => ([
  ["open", t("admin.open"), t("admin.anyone_can_create_an_account")],
  ["invite_only", t("admin.invite_only"), t("admin.only_people_following_an_invitation")],
  ["closed", t("admin.closed"), t("admin.nobody_can_sign_up_create")],
]);

// The SMTP form's fields from the settings (the console's server, else
// the configuration file's as a starting point). The password is never
// sent by the API: left empty, the stored one stays.
function smtpForm(s) {
  const v = s.smtp || s.smtp_config_file;
  return v
    ? { host: v.host, port: String(v.port), tls: v.tls, username: v.username || "", password: "", from: v.from }
    : { host: "", port: "587", tls: "starttls", username: "", password: "", from: "" };
}

function Settings() {
  const load = useLoad(() => get("/api/v1/admin/settings"));
  const [settings, setSettings] = useState(null);
  const current = settings || load.data;
  const [policy, setPolicy] = useState(null);
  const [publicUrl, setPublicUrl] = useState(null);
  const [smtp, setSmtp] = useState(null);
  const [error, setError] = useState(null);
  const [testTo, setTestTo] = useState("");
  const [testError, setTestError] = useState(null);
  const [testResult, setTestResult] = useState(null);
  const [busy, setBusy] = useState(false);
  if (!current) return html`<div class="card"><${ErrorBox} error=${load.error} />${!load.error && html`<p class="muted" role="status">${t("common.loading")}</p>`}</div>`;
  const shownPolicy = policy ?? current.signup_policy;
  const shownUrl = publicUrl ?? (current.public_url || "");
  const form = smtp ?? smtpForm(current);
  const setField = (k) => (v) => setSmtp({ ...form, [k]: v });
  const saved = (s) => {
    setSettings(s);
    setPolicy(null);
    setPublicUrl(null);
    setSmtp(null);
  };
  const save = async (body, message) => {
    setError(null);
    setBusy(true);
    try {
      saved(await put("/api/v1/admin/settings", body));
      toast(message);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const saveGeneral = (e) => {
    e.preventDefault();
    save({ signup_policy: shownPolicy, public_url: shownUrl.trim() ? shownUrl.trim() : null }, t("admin.settings_saved"));
  };
  const saveSmtp = (e) => {
    e.preventDefault();
    const body = { host: form.host, port: Number(form.port) || 0, tls: form.tls, from: form.from };
    body.username = form.username.trim() ? form.username.trim() : null;
    // Empty password field: keep the stored one (unless the user name is gone).
    if (form.password) body.password = form.password;
    else if (!body.username) body.password = null;
    save({ smtp: body }, t("admin.smtp_server_saved"));
  };
  const clearSmtp = () => save({ smtp: null }, current.smtp_config_file ? t("admin.back_to_the_configuration_file") : t("admin.smtp_server_removed"));
  const sendTest = async (e) => {
    e.preventDefault();
    setTestError(null);
    setTestResult(null);
    try {
      const r = await post("/api/v1/admin/settings/test-email", { to: testTo });
      setTestResult(t("admin.smtp_accepted_test", { host: r.smtp_host, to: r.to }));
    } catch (err) {
      setTestError(err);
    }
  };
  const source = { console: t("admin.source_set_here"), config_file: t("admin.source_config_file"), none: t("admin.none_email_cannot_be_sent") }[current.smtp_source];
  return html`<div id="admin-settings">
    <form class="card" onSubmit=${saveGeneral} id="settings-general">
      <h2>${t("admin.sign_up_and_address")}</h2>
      <${ErrorBox} error=${error} />
      <fieldset>
        <legend>${t("admin.who_can_sign_up")}</legend>
        ${POLICIES().map(([value, label, help]) => html`<label class="radio" style="display:block;margin:.3rem 0">
          <input type="radio" name="signup_policy" value=${value} checked=${shownPolicy === value} onChange=${() => setPolicy(value)} />
          <strong>${label}</strong> <span class="muted">${help}</span>
        </label>`)}
        <${FieldError} error=${error} name="signup_policy" />
      </fieldset>
      <${Field} label=${t("admin.public_url_used_in_email")} name="public_url" inputmode="url" placeholder=${current.public_url_config_file || current.public_url_effective}
        value=${shownUrl} onInput=${setPublicUrl} error=${error} />
      <p class="muted small">${t("admin.in_use")} <code id="public-url-effective">${current.public_url_effective}</code>${current.public_url ? " " + t("admin.set_here") : " " + t("admin.configuration_file_or_listen_address")}${t("admin.empty_the_configuration_file_s")} <code>http.public_url</code>.</p>
      <p><button class="primary" type="submit" disabled=${busy} id="save-settings">${t("common.save")}</button></p>
    </form>
    <form class="card" onSubmit=${saveSmtp} id="settings-smtp">
      <h2>${t("admin.email_smtp")}</h2>
      <p class="muted">${t("admin.server_in_use")} <strong id="smtp-source">${source}</strong>${t("admin.a_server_set_here_replaces")} <code>[smtp]</code> ${t("admin.as_a_whole")}</p>
      <div class="row" style="align-items:flex-end">
        <div style="flex:3"><${Field} label=${t("admin.host")} name="smtp.host" required value=${form.host} onInput=${setField("host")} error=${error} /></div>
        <div style="flex:1"><${Field} label=${t("admin.port")} name="smtp.port" type="number" min="1" max="65535" value=${form.port} onInput=${setField("port")} error=${error} /></div>
        <div style="flex:1">
          <label for="smtp-tls">${t("admin.security")}</label>
          <select id="smtp-tls" value=${form.tls} onChange=${(e) => setField("tls")(e.target.value)}>
            <option value="starttls">${t("admin.starttls_587")}</option><option value="tls">${t("admin.tls_465")}</option><option value="none">${t("admin.none_local_relay")}</option>
          </select>
          <${FieldError} error=${error} name="smtp.tls" />
        </div>
      </div>
      <div class="row">
        <div style="flex:1"><${Field} label=${t("admin.user_name")} name="smtp.username" autocomplete="off" value=${form.username} onInput=${setField("username")} error=${error} /></div>
        <div style="flex:1"><${Field} label=${current.smtp && current.smtp.password_set ? t("admin.password_stored_leave_empty_to") : t("admin.password")} name="smtp.password" type="password" autocomplete="new-password" value=${form.password} onInput=${setField("password")} error=${error} /></div>
      </div>
      <${Field} label=${t("admin.sender")} name="smtp.from" placeholder=${t("admin.bots_no_reply_example_com")} required value=${form.from} onInput=${setField("from")} error=${error} />
      <div class="row">
        <button class="primary" type="submit" disabled=${busy} id="save-smtp">${t("admin.save_smtp_server")}</button>
        ${current.smtp && html`<button type="button" class="danger" onClick=${clearSmtp}>${t("admin.remove_use_the_configuration_file")}</button>`}
      </div>
    </form>
    <form class="card" onSubmit=${sendTest} id="settings-test-email">
      <h2>${t("admin.send_a_test_email")}</h2>
      <p class="muted">${t("admin.sent_now_through_the_server")}</p>
      <${ErrorBox} error=${testError} />
      ${testError && testError.details && testError.details.smtp_error && html`<pre class="alert error" id="smtp-error">${testError.details.smtp_error}</pre>`}
      ${testResult && html`<div class="alert ok" id="test-email-result" role="status">${testResult}</div>`}
      <div class="row" style="align-items:flex-end">
        <div style="flex:1"><${Field} label=${t("admin.send_to")} name="to" type="email" required value=${testTo} onInput=${setTestTo} error=${testError} /></div>
        <button type="submit" id="send-test-email">${t("admin.send_test_email")}</button>
      </div>
    </form>
  </div>`;
}

function CreateUser({ onCreated }) {
  const empty = { email: "", name: "", password: "", is_superadmin: false };
  const [form, setForm] = useState(empty);
  const [error, setError] = useState(null);
  const set = (k) => (v) => setForm({ ...form, [k]: v });
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const u = await post("/api/v1/admin/users", form);
      toast(t("admin.created", { email: u.email }));
      setForm(empty);
      onCreated();
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="card" onSubmit=${submit} id="create-user">
    <h2>${t("admin.create_an_account")}</h2>
    <p class="muted">${t("admin.the_account_gets_its_own")}</p>
    <${ErrorBox} error=${error} />
    <div class="row" style="align-items:flex-end">
      <div style="flex:2"><${Field} label=${t("common.email")} name="email" type="email" required value=${form.email} onInput=${set("email")} error=${error} /></div>
      <div style="flex:2"><${Field} label=${t("common.name")} name="name" required value=${form.name} onInput=${set("name")} error=${error} /></div>
      <div style="flex:2"><${Field} label=${t("admin.password")} name="password" type="password" autocomplete="new-password" required value=${form.password} onInput=${set("password")} error=${error} /></div>
      <label style="flex:1"><input type="checkbox" checked=${form.is_superadmin} onChange=${(e) => set("is_superadmin")(e.target.checked)} /> ${t("admin.superadmin")}</label>
      <button class="primary" type="submit">${t("common.create")}</button>
    </div>
  </form>`;
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
    const reason = prompt(t("admin.why_suspend", { email: u.email }));
    if (reason) act(() => post(`/api/v1/admin/users/${u.id}/suspend`, { reason }), `Suspended ${u.email}`);
  };
  return html`<${CreateUser} onCreated=${() => list.reload()} /><div class="card">
    <form class="row" onSubmit=${(e) => (e.preventDefault(), setSearch(q))}>
      <input aria-label=${t("admin.search_users")} placeholder=${t("admin.search_by_email_or_name")} value=${q} onInput=${(e) => setQ(e.target.value)} style="flex:1" />
      <button type="submit">${t("common.search")}</button>
    </form>
    <${ErrorBox} error=${list.error} />
    <table>
      <thead><tr><th>${t("common.email")}</th><th>${t("common.name")}</th><th>${t("admin.orgs")}</th><th>${t("admin.2fa")}</th><th>${t("admin.last_sign_in")}</th><th>${t("common.status")}</th><th></th></tr></thead>
      <tbody>
        ${list.data &&
        list.data.items.map(
          (u) => html`<tr data-user=${u.email}>
            <td>${u.email} ${u.is_superadmin && html`<span class="badge warn">${t("admin.superadmin_2")}</span>`}</td><td>${u.name}</td>
            <td>${u.organization_count}</td><td>${u.two_factor_enabled ? t("common.on_lower") : t("common.off_lower")}</td>
            <td class="muted">${formatDate(u.last_login_at)}</td>
            <td>${u.suspended_at ? html`<span class="badge bad" title=${u.suspended_reason}>${t("admin.suspended")}</span>` : html`<span class="badge ok">${t("common.active")}</span>`}</td>
            <td>${u.suspended_at
              ? html`<button onClick=${() => act(() => post(`/api/v1/admin/users/${u.id}/unsuspend`), t("admin.reinstated", { email: u.email }))}>${t("admin.unsuspend")}</button>`
              : html`<button class="danger" onClick=${() => suspend(u)}>${t("admin.suspend")}</button>`}</td>
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
    const reason = prompt(t("admin.why_suspend_2", { name: o.name }));
    if (reason) act(() => post(`/api/v1/admin/orgs/${o.id}/suspend`, { reason }), `Suspended ${o.name}`);
  };
  return html`<div class="card">
    <form class="row" onSubmit=${(e) => (e.preventDefault(), setSearch(q))}>
      <input aria-label=${t("admin.search_organizations")} placeholder=${t("admin.search_by_name_or_slug")} value=${q} onInput=${(e) => setQ(e.target.value)} style="flex:1" />
      <button type="submit">${t("common.search")}</button>
    </form>
    <${ErrorBox} error=${list.error} />
    <table>
      <thead><tr><th>${t("common.name")}</th><th>${t("admin.owner")}</th><th>${t("admin.members")}</th><th>${t("admin.bots")}</th><th>${t("admin.plan")}</th><th>${t("common.status")}</th><th></th></tr></thead>
      <tbody>
        ${list.data &&
        list.data.items.map(
          (o) => html`<tr data-org=${o.slug}>
            <td>${o.name}<div class="muted">${o.slug}</div></td><td>${o.owner_email}</td><td>${o.member_count}</td><td>${o.bot_count}</td>
            <td><select aria-label=${t("admin.plan_of", { name: o.name })} value=${o.plan_tier} onChange=${(e) => act(() => put(`/api/v1/admin/orgs/${o.id}/plan`, { plan: e.target.value }), t("admin.plan_changed"))}>
              ${["free", "pro", "enterprise"].map((p) => html`<option value=${p}>${p}</option>`)}
            </select></td>
            <td>${o.status === "suspended" ? html`<span class="badge bad" title=${o.suspended_reason}>${t("admin.suspended")}</span>` : html`<span class="badge ok">${t("common.active")}</span>`}</td>
            <td>${o.status === "suspended"
              ? html`<button onClick=${() => act(() => post(`/api/v1/admin/orgs/${o.id}/unsuspend`), t("admin.reinstated_2", { name: o.name }))}>${t("admin.unsuspend")}</button>`
              : html`<button class="danger" onClick=${() => suspend(o)}>${t("admin.suspend")}</button>`}</td>
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
    <p class="muted">${t("admin.when_the_list_has_entries")}</p>
    <table>
      <thead><tr><th>${t("admin.address_or_range")}</th><th>${t("admin.description")}</th><th>${t("admin.added")}</th><th></th></tr></thead>
      <tbody>
        ${list.data && list.data.map((e) => html`<tr><td><code>${e.ip_address}</code></td><td>${e.description || ""}</td><td class="muted">${formatDate(e.created_at)}</td><td><button class="danger" onClick=${() => remove(e)}>${t("common.remove")}</button></td></tr>`)}
      </tbody>
    </table>
    <form class="row" style="align-items:flex-end" onSubmit=${add}>
      <div style="flex:1"><${Field} label=${t("admin.ip_or_cidr")} name="ip_address" required value=${form.ip_address} onInput=${(v) => setForm({ ...form, ip_address: v })} error=${error} /></div>
      <div style="flex:2"><${Field} label=${t("admin.description")} name="description" value=${form.description} onInput=${(v) => setForm({ ...form, description: v })} error=${error} /></div>
      <button type="submit">${t("common.add")}</button>
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

// Instance health (data file, WAL, job queue, models) and the rate limits
// with the clients refused now, each with an Unblock button.
function Health() {
  const [reload, setReload] = useState(0);
  const h = useLoad(() => get("/api/v1/admin/health"), [reload]);
  const r = useLoad(() => get("/api/v1/admin/rate-limits"), [reload]);
  const mib = (b) => `${(b / 1048576).toFixed(1)} MiB`;
  const unblock = async (body) => {
    try {
      const done = await post("/api/v1/admin/rate-limits/unblock", body);
      toast(t("admin.clients_unblocked", { count: done.unblocked }));
      setReload((n) => n + 1);
    } catch (e) {
      toast(e.message, { error: true });
    }
  };
  return html`<div id="admin-health">
    <${ErrorBox} error=${h.error || r.error} />
    ${h.data && html`<div class="grid">
      ${[[t("admin.database"), mib(h.data.database_bytes)], ["WAL", mib(h.data.wal_bytes)], [t("admin.free_pages"), mib(h.data.free_bytes)],
        [t("admin.jobs_due"), h.data.jobs.queued_due], [t("admin.jobs_later"), h.data.jobs.queued_later], [t("admin.running"), h.data.jobs.running],
        [t("admin.failed_24_h"), h.data.jobs.failed_last_24h], [t("admin.dead"), h.data.jobs.dead],
        [t("admin.oldest_due_job"), h.data.jobs.oldest_due_seconds == null ? "—" : `${h.data.jobs.oldest_due_seconds} s`],
        [t("admin.models"), `${h.data.models}${h.data.embedding_model ? ` (${h.data.embedding_model})` : ""}`], [t("admin.turn_writer_queue"), h.data.turn_write_queue],
      ].map(([k, v]) => html`<div class="card"><div class="muted">${k}</div><div style="font-size:1.4rem" data-health=${k}>${v}</div></div>`)}
    </div>`}
    ${r.data && html`<div class="card"><h2>${t("admin.rate_limits")} ${r.data.enabled ? "" : html`<span class="badge warn">${t("admin.off")}</span>`}</h2>
      <table class="table"><thead><tr><th>${t("admin.endpoint")}</th><th>${t("admin.per_ip")}</th><th>${t("admin.per_account")}</th><th>${t("admin.window")}</th></tr></thead>
        <tbody>${r.data.limits.map((l) => html`<tr><td>${l.bucket}</td><td>${l.per_ip || "—"}</td><td>${l.per_account || "—"}</td><td>${t("admin.s", { window_secs: l.window_secs })}</td></tr>`)}</tbody></table>
      <p class="muted">${t("admin.change_them_in_the_configuration")}<code>[rate_limits]</code>).</p>
      <h3>${t("admin.blocked_now")}</h3>
      ${r.data.blocked.length === 0 ? html`<p class="muted empty" id="no-blocked">${t("admin.no_client_is_blocked")}</p>` : html`
        <table class="table" id="blocked"><thead><tr><th>${t("admin.endpoint")}</th><th>${t("admin.by")}</th><th>${t("admin.client")}</th><th>${t("admin.until")}</th><th>${t("admin.refused")}</th><th></th></tr></thead>
          <tbody>${r.data.blocked.map((b) => html`<tr data-blocked=${b.id}><td>${b.bucket}</td><td>${b.scope}</td><td>${b.key}</td><td>${formatDate(b.blocked_until)}</td><td>${b.refusals}</td>
            <td><button type="button" onClick=${() => unblock({ id: b.id })}>${t("admin.unblock")}</button></td></tr>`)}</tbody></table>
        <button type="button" id="unblock-all" onClick=${() => unblock({ all: true })}>${t("admin.unblock_all")}</button>`}
    </div>`}
  </div>`;
}

const TABS = () => ([
  ["overview", t("admin.overview")],
  ["health", t("admin.health")],
  ["settings", t("admin.settings")],
  ["users", t("admin.users")],
  ["orgs", t("admin.organizations")],
  ["plans", t("admin.plans")],
  ["allowlist", t("admin.ip_allowlist")],
  ["attempts", t("admin.sign_in_attempts")],
  ["audit", t("admin.audit_log")],
]);

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
  if (session === undefined) return html`<p class="boot" role="status">${t("common.loading")}</p>`;
  if (session === null || session.error)
    return html`${session && html`<${ErrorBox} error=${session.error} />`}<${AdminLogin} onSignedIn=${(s) => (setAdminCsrfToken(s.csrf_token), setSession(s))} />`;
  const logout = async () => {
    await post("/api/v1/admin/auth/logout");
    setAdminCsrfToken(null);
    setSession(null);
  };
  return html`<main class="main" id="content" style="max-width:1300px;margin:0 auto">
    <div class="topbar"><h1>${t("admin.admin_console")}</h1>
      <div class="row"><span class="muted">${t("admin.until_2", { email: session.email, expires_at: formatDate(session.expires_at) })}</span><button onClick=${logout} id="admin-logout">${t("common.sign_out")}</button><a class="button" href="/dashboard" onClick=${(e) => (e.preventDefault(), navigate("/dashboard"))}>${t("admin.back_to_the_app")}</a></div>
    </div>
    <div class="row" role="tablist" style="margin-bottom:1rem">
      ${TABS().map(([k, label]) => html`<button role="tab" data-tab=${k} aria-selected=${tab === k ? "true" : "false"} class=${tab === k ? "primary" : ""} onClick=${() => setTab(k)}>${label}</button>`)}
    </div>
    ${tab === "health" && html`<${Health} />`}
    ${tab === "overview" && html`<${Stats} /><${Revenue} />`}
    ${tab === "settings" && html`<${Settings} />`}
    ${tab === "users" && html`<${Users} />`}
    ${tab === "orgs" && html`<${Orgs} />`}
    ${tab === "plans" && html`<${Plans} />`}
    ${tab === "allowlist" && html`<${Allowlist} />`}
    ${tab === "attempts" && html`<${Log} url="/api/v1/admin/login-attempts?limit=200" columns=${[["attempted_at", t("common.when")], ["email", t("common.email")], ["ip_address", "IP"], ["success", t("admin.success")]]} />`}
    ${tab === "audit" && html`<${Log} url="/api/v1/admin/audit-log?limit=200" columns=${[["created_at", t("common.when")], ["user_email", t("admin.admin")], ["action", t("common.action")], ["resource_type", t("admin.resource")], ["resource_id", t("admin.id")], ["details", t("admin.details")], ["ip_address", "IP"]]} />`}
  </main>`;
}

route("/admin", Console, { public: true });
