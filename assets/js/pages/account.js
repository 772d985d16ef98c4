// The signed-in user's own account: profile, email verification, password,
// browser sessions and two-factor authentication.
import { html, Page, useLoad, useState, ErrorBox, Field, toast, toastError, formatDate, Loading, CopyButton } from "../ui.js";
import { route, navigate } from "../router.js";
import { get, post, patch, del } from "../api.js";
import { currentUser, refreshMe, setMe } from "../session.js";
import { t } from "../i18n.js";

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
      toast(t("account.profile_saved"));
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
    <h2>${t("account.profile")}</h2>
    <p>${me.user.email} ${me.user.email_verified
      ? html`<span class="badge ok">${t("account.verified")}</span>`
      : html`<span class="badge warn">${t("account.not_verified")}</span> <button type="button" onClick=${resend}>${t("account.send_the_confirmation_link_again")}</button>`}</p>
    <${ErrorBox} error=${error} />
    <${Field} label=${t("common.name")} name="name" required value=${name} onInput=${setName} error=${error} />
    <p><button class="primary" type="submit">${t("common.save")}</button></p>
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
      toast(t("account.password_changed_your_other_sessions"));
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="card" onSubmit=${save}>
    <h2>${t("account.password")}</h2>
    <${ErrorBox} error=${error} />
    <${Field} label=${t("account.current_password")} name="current_password" type="password" autocomplete="current-password" required value=${form.current_password} onInput=${set("current_password")} error=${error} />
    <${Field} label=${t("account.new_password")} name="new_password" type="password" autocomplete="new-password" required value=${form.new_password} onInput=${set("new_password")} error=${error} />
    <p><button class="primary" type="submit">${t("account.change_password")}</button></p>
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
    toast(t("account.signed_out_other_sessions", { count: revoked }));
    list.reload();
  };
  return html`<div class="card">
    <div class="row" style="justify-content:space-between"><h2>${t("account.sessions")}</h2><button onClick=${revokeOthers}>${t("account.sign_out_all_other_sessions")}</button></div>
    <${ErrorBox} error=${list.error} />
    <table>
      <thead><tr><th>${t("account.device")}</th><th>${t("account.ip_address")}</th><th>${t("account.last_active")}</th><th>${t("account.signed_in")}</th><th></th></tr></thead>
      <tbody>
        <${Loading} load=${list} cols="5" />
        ${list.data &&
        list.data.items.map(
          (s) => html`<tr data-session=${s.id}>
            <td>${s.device_info || t("account.unknown_device")} ${s.current && html`<span class="badge ok">${t("account.this_session")}</span>`}</td>
            <td>${s.ip_address || ""}</td>
            <td class="muted">${formatDate(s.last_seen_at)}</td>
            <td class="muted">${formatDate(s.created_at)}</td>
            <td><button class="danger" onClick=${() => revoke(s)}>${t("common.sign_out")}</button></td>
          </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

function BackupCodes({ codes }) {
  return html`<div class="alert ok">
    <p><strong>${t("account.backup_codes_2")}</strong> ${t("account.each_works_once_if_you")}</p>
    <ul class="codes" id="backup-codes">${codes.map((c) => html`<li><code>${c}</code></li>`)}</ul>
    <p><${CopyButton} id="copy-backup-codes" text=${codes.join("\n")} label=${t("account.copy_the_codes")} what=${t("account.backup_codes")} /></p>
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
    toast(t("account.two_factor_authentication_is_off"));
  });
  const regenerate = run(async () => {
    setCodes((await post("/api/v1/me/2fa/backup-codes", { code })).backup_codes);
    setCode("");
    status.reload();
  });
  const s = status.data;
  return html`<div class="card" id="two-factor">
    <h2>${t("account.two_factor_authentication")}</h2>
    <${ErrorBox} error=${status.error || (error)} />
    ${codes && html`<${BackupCodes} codes=${codes} />`}
    ${s && !s.enabled && !setup && html`<p class="muted">${t("account.protect_your_account_with_a")}</p>
      <button class="primary" id="start-2fa" onClick=${start}>${t("account.set_up_two_factor_authentication")}</button>`}
    ${setup &&
    html`<form onSubmit=${enable}>
      <p>${t("account.scan_this_qr_code_with")}</p>
      <img class="qr" alt=${t("account.qr_code_for_your_authenticator")} src=${"data:image/svg+xml;base64," + btoa(setup.qr_svg)} />
      <p>${t("account.key")} <code id="totp-secret">${setup.secret}</code></p>
      <${Field} label=${t("account.code_from_the_app")} name="code" autocomplete="one-time-code" required value=${code} onInput=${setCode} error=${error} />
      <p><button class="primary" type="submit" id="enable-2fa">${t("account.turn_on")}</button></p>
    </form>`}
    ${s && s.enabled &&
    html`<p><span class="badge ok" id="two-factor-on">${t("common.on")}</span> ${t("account.since_backup_codes_left", { enabled_at: formatDate(s.enabled_at), backup_codes_remaining: s.backup_codes_remaining })}</p>
      <form onSubmit=${disable}>
        <div class="row" style="align-items:flex-end">
          <div style="flex:1"><${Field} label=${t("account.current_code_or_backup_code")} name="code" autocomplete="one-time-code" value=${code} onInput=${setCode} error=${error} /></div>
          <div style="flex:1"><${Field} label=${t("account.password_to_turn_off")} name="password" type="password" value=${password} onInput=${setPassword} error=${error} /></div>
        </div>
        <p class="row"><button type="button" onClick=${regenerate}>${t("account.new_backup_codes")}</button><button class="danger" type="submit">${t("account.turn_off")}</button></p>
      </form>`}
  </div>`;
}

function Account() {
  return html`<${Page} title=${t("account.your_account")}>
    <div class="grid" style="grid-template-columns:repeat(auto-fill,minmax(360px,1fr))">
      <${Profile} />
      <${Password} />
    </div>
    <${TwoFactor} />
    <${Sessions} />
  <//>`;
}

route("/account", Account, { noOrg: true });
