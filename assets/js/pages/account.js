// The signed-in user's own account: profile, email verification, password,
// browser sessions and two-factor authentication.
import { html, Page, useLoad, useState, ErrorBox, Field, toast, toastError, formatDate, Loading, CopyButton } from "../ui.js";
import { route, navigate } from "../router.js";
import { get, post, patch, del } from "../api.js";
import { currentUser, refreshMe, setMe } from "../session.js";

function Profile() {
  const me = currentUser();
  const [name, setName] = useState(me.user.name);
  const [error, setError] = useState(null);
  const save = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      await patch("/api/v1/me", { name });
      await refreshMe();
      toast("Profile saved");
    } catch (err) {
      setError(err);
    }
  };
  const resend = async () => {
    try {
      toast((await post("/api/v1/auth/verify-email/resend")).message);
    } catch (err) {
      toastError(err);
    }
  };
  return html`<form class="card" onSubmit=${save}>
    <h2>Profile</h2>
    <p>${me.user.email} ${me.user.email_verified
      ? html`<span class="badge ok">verified</span>`
      : html`<span class="badge warn">not verified</span> <button type="button" onClick=${resend}>Send the confirmation link again</button>`}</p>
    <${ErrorBox} error=${error} />
    <${Field} label="Name" name="name" required value=${name} onInput=${setName} error=${error} />
    <p><button class="primary" type="submit">Save</button></p>
  </form>`;
}

function Password() {
  const [form, setForm] = useState({ current_password: "", new_password: "" });
  const [error, setError] = useState(null);
  const set = (key) => (value) => setForm({ ...form, [key]: value });
  const save = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      await post("/api/v1/me/password", form);
      setForm({ current_password: "", new_password: "" });
      toast("Password changed; your other sessions were signed out");
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="card" onSubmit=${save}>
    <h2>Password</h2>
    <${ErrorBox} error=${error} />
    <${Field} label="Current password" name="current_password" type="password" autocomplete="current-password" required value=${form.current_password} onInput=${set("current_password")} error=${error} />
    <${Field} label="New password" name="new_password" type="password" autocomplete="new-password" required value=${form.new_password} onInput=${set("new_password")} error=${error} />
    <p><button class="primary" type="submit">Change password</button></p>
  </form>`;
}

function Sessions() {
  const list = useLoad(() => get("/api/v1/me/sessions?limit=200"));
  const revoke = async (s) => {
    await del(`/api/v1/me/sessions/${s.id}`);
    if (s.current) {
      setMe(null);
      navigate("/login");
    } else list.reload();
  };
  const revokeOthers = async () => {
    const { revoked } = await del("/api/v1/me/sessions");
    toast(`Signed out ${revoked} other session${revoked === 1 ? "" : "s"}`);
    list.reload();
  };
  return html`<div class="card">
    <div class="row" style="justify-content:space-between"><h2>Sessions</h2><button onClick=${revokeOthers}>Sign out all other sessions</button></div>
    <${ErrorBox} error=${list.error} />
    <table>
      <thead><tr><th>Device</th><th>IP address</th><th>Last active</th><th>Signed in</th><th></th></tr></thead>
      <tbody>
        <${Loading} load=${list} cols="5" />
        ${list.data &&
        list.data.items.map(
          (s) => html`<tr data-session=${s.id}>
            <td>${s.device_info || "Unknown device"} ${s.current && html`<span class="badge ok">this session</span>`}</td>
            <td>${s.ip_address || ""}</td>
            <td class="muted">${formatDate(s.last_seen_at)}</td>
            <td class="muted">${formatDate(s.created_at)}</td>
            <td><button class="danger" onClick=${() => revoke(s)}>Sign out</button></td>
          </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

function BackupCodes({ codes }) {
  return html`<div class="alert ok">
    <p><strong>Backup codes.</strong> Each works once if you lose your authenticator. Store them now: they are not shown again.</p>
    <ul class="codes" id="backup-codes">${codes.map((c) => html`<li><code>${c}</code></li>`)}</ul>
    <p><${CopyButton} id="copy-backup-codes" text=${codes.join("\n")} label="Copy the codes" what="backup codes" /></p>
  </div>`;
}

function TwoFactor() {
  const status = useLoad(() => get("/api/v1/me/2fa"));
  const [setup, setSetup] = useState(null);
  const [code, setCode] = useState("");
  const [password, setPassword] = useState("");
  const [codes, setCodes] = useState(null);
  const [error, setError] = useState(null);
  const run = (fn) => async (e) => {
    if (e) e.preventDefault();
    setError(null);
    try {
      await fn();
    } catch (err) {
      setError(err);
    }
  };
  const start = run(async () => {
    setSetup(await post("/api/v1/me/2fa/setup"));
    setCodes(null);
  });
  const enable = run(async () => {
    const answer = await post("/api/v1/me/2fa/enable", { code });
    setCodes(answer.backup_codes);
    setSetup(null);
    setCode("");
    status.reload();
    refreshMe();
  });
  const disable = run(async () => {
    await post("/api/v1/me/2fa/disable", { password, code });
    setPassword("");
    setCode("");
    setCodes(null);
    status.reload();
    refreshMe();
    toast("Two-factor authentication is off");
  });
  const regenerate = run(async () => {
    setCodes((await post("/api/v1/me/2fa/backup-codes", { code })).backup_codes);
    setCode("");
    status.reload();
  });
  const s = status.data;
  return html`<div class="card" id="two-factor">
    <h2>Two-factor authentication</h2>
    <${ErrorBox} error=${status.error || (error)} />
    ${codes && html`<${BackupCodes} codes=${codes} />`}
    ${s && !s.enabled && !setup && html`<p class="muted">Protect your account with a code from an authenticator app at each sign-in.</p>
      <button class="primary" id="start-2fa" onClick=${start}>Set up two-factor authentication</button>`}
    ${setup &&
    html`<form onSubmit=${enable}>
      <p>Scan this QR code with your authenticator app, or type the key.</p>
      <img class="qr" alt="QR code for your authenticator app" src=${"data:image/svg+xml;base64," + btoa(setup.qr_svg)} />
      <p>Key: <code id="totp-secret">${setup.secret}</code></p>
      <${Field} label="Code from the app" name="code" autocomplete="one-time-code" required value=${code} onInput=${setCode} error=${error} />
      <p><button class="primary" type="submit" id="enable-2fa">Turn on</button></p>
    </form>`}
    ${s && s.enabled &&
    html`<p><span class="badge ok" id="two-factor-on">on</span> since ${formatDate(s.enabled_at)} · ${s.backup_codes_remaining} backup codes left</p>
      <form onSubmit=${disable}>
        <div class="row" style="align-items:flex-end">
          <div style="flex:1"><${Field} label="Current code or backup code" name="code" autocomplete="one-time-code" value=${code} onInput=${setCode} error=${error} /></div>
          <div style="flex:1"><${Field} label="Password (to turn off)" name="password" type="password" value=${password} onInput=${setPassword} error=${error} /></div>
        </div>
        <p class="row"><button type="button" onClick=${regenerate}>New backup codes</button><button class="danger" type="submit">Turn off</button></p>
      </form>`}
  </div>`;
}

function Account() {
  return html`<${Page} title="Your account">
    <div class="grid" style="grid-template-columns:repeat(auto-fill,minmax(360px,1fr))">
      <${Profile} />
      <${Password} />
    </div>
    <${TwoFactor} />
    <${Sessions} />
  <//>`;
}

route("/account", Account, { noOrg: true });
