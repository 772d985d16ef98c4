// Signing in (with the two-factor step), signing up, forgotten and reset
// passwords, email verification and accepting invitations.
import { html, useState, useEffect } from "../ui.js";
import { ErrorBox, Field } from "../ui.js";
import { route, navigate } from "../router.js";
import { get, post } from "../api.js";
import { setMe, currentUser, currentBranding, selectOrg, refreshMe } from "../session.js";
import { t } from "../i18n.js";
import { LocaleSwitcher } from "../locale_switcher.js";

function query(name) {
  return new URLSearchParams(location.search).get(name) || "";
}

function nextPath() {
  const next = query("next");
  return next && next.startsWith("/") && !next.startsWith("//") ? next : "/dashboard";
}

function AuthCard({ title, children, footer }) {
  const brand = currentBranding();
  return html`<main class="auth-page" id="content"><div class="card auth-card">
    <h1 class="brand"><img src=${brand.logo_url || "/favicon.svg"} alt="" />${brand.brand_name}</h1>
    <h2 style="text-align:center">${title}</h2>
    ${children}
    ${footer && html`<p class="muted" style="text-align:center;margin-top:1rem">${footer}</p>`}
    <${LocaleSwitcher} id="auth-locale-select" className="auth-locale" />
  </div></main>`;
}

function useSubmit(action) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    if (e) e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return { error, setError, busy, submit };
}

const SSO_ERRORS = () => ({
  state_invalid: t("auth.the_sign_in_link_was"),
  state_replayed: t("auth.this_sign_in_was_already"),
  state_expired: t("auth.the_sign_in_took_longer"),
  state_wrong_browser: t("auth.the_sign_in_was_started"),
  idp_error: t("auth.your_identity_provider_refused_the"),
  email_domain_not_verified: t("auth.your_identity_provider_may_not"),
  email_not_verified: t("auth.your_identity_provider_says_your"),
  user_not_provisioned: t("auth.no_account_has_this_address"),
  account_suspended: t("auth.this_account_is_suspended"),
  assertion_not_encrypted: t("auth.your_identity_provider_sent_an"),
  decryption_failed: t("auth.your_identity_provider_s_encrypted"),
});

/** Single sign-on: the email's domain routes to its identity provider. */
function SsoForm({ email, setEmail, onCancel }) {
  const { error, setError, busy, submit } = useSubmit(async () => {
    const check = await get(`/api/v1/sso/check?email=${encodeURIComponent(email)}`);
    if (!check.sso) {
      setError({ message: t("auth.this_address_does_not_sign"), code: "sso_not_configured", field: "email", details: {} });
      return;
    }
    // Back to the page the sign-in started from (the server keeps only a path of this site).
    location.assign(`${check.login_url}&next=${encodeURIComponent(nextPath())}`);
  });
  return html`<form onSubmit=${submit} id="sso-form">
    <p class="muted">${t("auth.enter_your_work_email_you")}</p>
    <${ErrorBox} error=${error} />
    <${Field} label=${t("auth.work_email")} name="email" type="email" autocomplete="username" required value=${email} onInput=${setEmail} error=${error} />
    <p><button class="primary" type="submit" disabled=${busy} style="width:100%">${t("auth.continue_with_sso")}</button></p>
    <p style="text-align:center"><button type="button" class="link-btn" onClick=${onCancel}>${t("auth.sign_in_with_a_password")}</button></p>
  </form>`;
}

function Login() {
  const [email, setEmail] = useState(query("email"));
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const [needsCode, setNeedsCode] = useState(false);
  const [sso, setSso] = useState(false);
  const ssoError = query("sso_error");
  const { error, setError, busy, submit } = useSubmit(async () => {
    const body = { email, password };
    if (needsCode) body.totp_code = code;
    try {
      setMe(await post("/api/v1/auth/login", body));
      navigate(nextPath(), { replace: true });
    } catch (err) {
      if (err.code === "two_factor_required") {
        setNeedsCode(true);
        setError(null);
        return;
      }
      if (err.code === "sso_required") {
        setSso(true);
      }
      throw err;
    }
  });
  const signupLink = `/signup${location.search}`;
  return html`<${AuthCard} title=${needsCode ? t("auth.two_factor_authentication") : t("auth.sign_in")} footer=${html`${t("auth.no_account")} <a href=${signupLink}>${t("auth.create_one")}</a>`}>
    ${ssoError &&
    html`<div class="alert error" role="alert" id="sso-error" data-reason=${ssoError}>
      <strong>${t("auth.single_sign_on_failed")}</strong> ${SSO_ERRORS()[ssoError] || t("auth.the_identity_provider_s_answer")}
      <span class="muted small"> ${t("auth.reason")} <code>${ssoError}</code>${t("auth.your_administrator_sees_it_in")}</span>
    </div>`}
    ${sso
      ? html`${error && error.code === "sso_required" && html`<div class="alert" role="status">${error.message}</div>`}
          <${SsoForm} email=${email} setEmail=${setEmail} onCancel=${() => { setSso(false); setError(null); }} />`
      : html`<form onSubmit=${submit}>
      <${ErrorBox} error=${error} />
      ${needsCode
        ? html`<p class="muted">${t("auth.enter_the_6_digit_code")}</p>
            <${Field} label=${t("auth.code")} name="totp_code" autocomplete="one-time-code" inputmode="text" required value=${code} onInput=${setCode} error=${error} />`
        : html`<${Field} label=${t("common.email")} name="email" type="email" autocomplete="username" required value=${email} onInput=${setEmail} error=${error} />
            <${Field} label=${t("auth.password")} name="password" type="password" autocomplete="current-password" required value=${password} onInput=${setPassword} error=${error} />`}
      <p><button class="primary" type="submit" disabled=${busy} style="width:100%">${needsCode ? t("auth.verify") : t("auth.sign_in")}</button></p>
      ${!needsCode && html`<p style="text-align:center"><button type="button" id="sign-in-sso" style="width:100%" onClick=${() => { setSso(true); setError(null); }}>${t("auth.sign_in_with_sso")}</button></p>
        <p style="text-align:center"><a href="/forgot-password">${t("auth.forgot_your_password")}</a></p>`}
    </form>`}
  <//>`;
}

// Where to go once the emailed sign-up link is opened (often in a new tab,
// so kept in localStorage rather than in the URL of this one).
const AFTER_SIGNUP = "bb.after_signup";

function PasswordHint({ error }) {
  if (!error || error.code !== "weak_password") return null;
  const d = error.details || {};
  return html`<ul class="muted" id="password-suggestions" style="font-size:.8rem">
    ${(d.suggestions || []).map((s) => html`<li>${s}</li>`)}
  </ul>`;
}

// What the instance says about signing up (first run, policy, email).
function useInstance() {
  const [instance, setInstance] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    get("/api/v1/instance").then(setInstance, setError);
  }, []);
  return { instance, error };
}

function Signup() {
  // Following an invitation link: the token makes the account join that
  // organization (and is required when sign-up is by invitation only).
  const invitation = query("invitation");
  const [form, setForm] = useState({ name: "", email: query("email"), password: "" });
  const [done, setDone] = useState(null);
  const { instance, error: instanceError } = useInstance();
  const set = (key) => (value) => setForm({ ...form, [key]: value });
  const { error, busy, submit } = useSubmit(async () => {
    // The same answer whether or not the address already has an account:
    // the rest happens through the emailed link.
    const body = { ...form };
    if (invitation) body.invitation_token = invitation;
    const answer = await post("/api/v1/auth/register", body);
    if (answer && answer.user) {
      // A server without email, or an invitation, signs the account in at once.
      setMe(answer);
      if (invitation && answer.organizations.length) selectOrg(answer.organizations[0].id);
      navigate(invitation ? "/dashboard" : nextPath(), { replace: true });
      return;
    }
    localStorage.setItem(AFTER_SIGNUP, nextPath());
    setDone(answer.message);
  });
  const footer = html`${t("auth.already_have_an_account")} <a href=${`/login${location.search}`}>${t("auth.sign_in")}</a>`;
  if (!instance && !instanceError) return html`<${AuthCard} title=${t("auth.create_your_account")}><p class="muted" role="status">${t("common.loading")}</p><//>`;
  const firstRun = instance && instance.first_run;
  const policy = instance ? instance.signup_policy : "open";
  // Refused before the form is filled in, rather than a form that fails.
  if (!firstRun && policy === "closed")
    return html`<${AuthCard} title=${t("auth.create_your_account")} footer=${footer}>
      <div class="alert" id="signup-closed" role="status">${t("auth.sign_up_is_closed_on")}</div>
    <//>`;
  if (!firstRun && policy === "invite_only" && !invitation)
    return html`<${AuthCard} title=${t("auth.create_your_account")} footer=${footer}>
      <div class="alert" id="signup-invite-only" role="status">${t("auth.sign_up_on_this_server")}</div>
    <//>`;
  return html`<${AuthCard} title=${t("auth.create_your_account")} footer=${footer}>
    ${done
      ? html`<div class="alert ok" id="signup-accepted">${done}</div>
          <p class="muted">${t("auth.sent_to_open_the_link", { email: html`<strong>${form.email}</strong>` })}</p>`
      : html`<form onSubmit=${submit}>
          ${firstRun && html`<div class="alert ok" id="first-run" role="status">${t("auth.first_user_administers", { first: html`<strong>${t("auth.you_are_the_first_user")}</strong>`, console: html`<a href="/admin">${t("auth.admin_console")}</a>` })}</div>`}
          ${invitation && html`<p class="muted" id="signup-invited">${t("auth.you_are_joining_through_an")}</p>`}
          <${ErrorBox} error=${error || instanceError} />
          <${Field} label=${t("auth.your_name")} name="name" required value=${form.name} onInput=${set("name")} error=${error} />
          <${Field} label=${t("common.email")} name="email" type="email" autocomplete="username" required value=${form.email} onInput=${set("email")} error=${error} />
          <${Field} label=${t("auth.password")} name="password" type="password" autocomplete="new-password" required value=${form.password} onInput=${set("password")} error=${error} />
          <${PasswordHint} error=${error} />
          <p class="muted" style="font-size:.8rem">${t("auth.at_least_10_characters_and")}</p>
          <p><button class="primary" type="submit" disabled=${busy} style="width:100%">${t("auth.create_account")}</button></p>
        </form>`}
  <//>`;
}

function ForgotPassword() {
  const [email, setEmail] = useState("");
  const [done, setDone] = useState(null);
  const { instance } = useInstance();
  const { error, busy, submit } = useSubmit(async () => {
    const answer = await post("/api/v1/auth/password-reset/request", { email });
    setDone(answer.message);
  });
  if (instance && !instance.smtp_configured)
    return html`<${AuthCard} title=${t("auth.reset_your_password")} footer=${html`<a href="/login">${t("auth.back_to_sign_in")}</a>`}>
      <div class="alert" id="reset-no-email" role="status">${t("auth.this_server_cannot_send_email")}</div>
    <//>`;
  return html`<${AuthCard} title=${t("auth.reset_your_password")} footer=${html`<a href="/login">${t("auth.back_to_sign_in")}</a>`}>
    ${done
      ? html`<div class="alert ok" id="reset-requested">${done}</div>`
      : html`<form onSubmit=${submit}>
          <p class="muted">${t("auth.we_will_email_you_a")}</p>
          <${ErrorBox} error=${error} />
          <${Field} label=${t("common.email")} name="email" type="email" required value=${email} onInput=${setEmail} error=${error} />
          <p><button class="primary" type="submit" disabled=${busy} style="width:100%">${t("auth.send_the_link")}</button></p>
        </form>`}
  <//>`;
}

function ResetPassword() {
  const [password, setPassword] = useState("");
  const [done, setDone] = useState(false);
  const { error, busy, submit } = useSubmit(async () => {
    await post("/api/v1/auth/password-reset", { token: query("token"), password });
    setDone(true);
  });
  return html`<${AuthCard} title=${t("auth.choose_a_new_password")}>
    ${done
      ? html`<div class="alert ok">${t("auth.your_password_was_changed_and")}</div><p><a class="button primary" href="/login">${t("auth.sign_in")}</a></p>`
      : html`<form onSubmit=${submit}>
          <${ErrorBox} error=${error} />
          <${Field} label=${t("auth.new_password")} name="password" type="password" autocomplete="new-password" required value=${password} onInput=${setPassword} error=${error} />
          <${PasswordHint} error=${error} />
          <p><button class="primary" type="submit" disabled=${busy} style="width:100%">${t("auth.set_password")}</button></p>
          ${error && (error.code === "token_expired" || error.code === "token_invalid") && html`<p><a href="/forgot-password">${t("auth.ask_for_a_new_link")}</a></p>`}
        </form>`}
  <//>`;
}

function VerifyEmail() {
  const [state, setState] = useState({ done: false, signedIn: false, error: null });
  const [next] = useState(() => localStorage.getItem(AFTER_SIGNUP) || "/dashboard");
  useEffect(() => {
    post("/api/v1/auth/verify-email", { token: query("token") }).then(
      (me) => {
        // 200 with the user: the link finished a sign-up and signed in;
        // 204 (null): the account signs in with its password (two-factor).
        if (me) {
          localStorage.removeItem(AFTER_SIGNUP);
          setMe(me);
        } else {
          refreshMe();
        }
        setState({ done: true, signedIn: !!me, error: null });
      },
      (error) => setState({ done: false, signedIn: false, error }),
    );
  }, []);
  return html`<${AuthCard} title=${t("auth.email_address")}>
    ${state.done && html`<div class="alert ok" id="email-verified">${t("auth.your_email_address_is_confirmed")}</div>`}
    <${ErrorBox} error=${state.error} />
    ${!state.done && !state.error && html`<p class="muted">${t("auth.confirming")}</p>`}
    ${state.done && !state.signedIn
      ? html`<p><a class="button primary" href=${`/login?next=${encodeURIComponent(next)}`}>${t("auth.sign_in")}</a></p>`
      : html`<p><a class="button primary" id="continue" href=${next}>${t("auth.continue")}</a></p>`}
  <//>`;
}

function AcceptInvitation() {
  const token = query("token");
  const [preview, setPreview] = useState(null);
  const [loadError, setLoadError] = useState(null);
  const [result, setResult] = useState(null);
  const me = currentUser();
  useEffect(() => {
    post("/api/v1/invitations/preview", { token }).then(setPreview, setLoadError);
  }, []);
  const { error, busy, submit } = useSubmit(async () => {
    const accepted = await post("/api/v1/invitations/accept", { token });
    await refreshMe();
    selectOrg(accepted.organization_id);
    setResult(t("auth.you_joined_as", { organization: accepted.organization_name, role: accepted.role }));
  });
  const decline = useSubmit(async () => {
    await post("/api/v1/invitations/decline", { token });
    setResult(t("auth.you_declined_the_invitation"));
  });
  const here = encodeURIComponent(location.pathname + location.search);
  return html`<${AuthCard} title=${t("auth.invitation")}>
    <${ErrorBox} error=${loadError || error || decline.error} />
    ${result && html`<div class="alert ok" id="invitation-result">${result}</div><p><a class="button primary" href="/dashboard">${t("auth.open_the_dashboard")}</a></p>`}
    ${preview && !result &&
    html`<p id="invitation-summary">${t("auth.invitation_summary", {
      inviter: preview.invited_by_name || t("auth.someone"),
      email: html`<strong>${preview.email}</strong>`,
      organization: html`<strong>${preview.organization_name}</strong>`,
      role: html`<strong>${preview.role}</strong>`,
      team: preview.team ? ` ${t("auth.in_the_team", { team: preview.team })}` : "",
    })}</p>
      ${me
        ? me.user.email === preview.email
          ? html`<div class="row"><button class="primary" id="accept" disabled=${busy} onClick=${submit}>${t("auth.accept")}</button>
              <button id="decline" disabled=${decline.busy} onClick=${decline.submit}>${t("auth.decline")}</button></div>`
          : html`<div class="alert error">${t("auth.you_are_signed_in_as", { email: me.user.email, email2: preview.email })}</div>`
        : html`<p>${t("auth.sign_in_or_create_an")}</p>
          <div class="row">
            <a class="button primary" id="signup-to-accept" href=${`/signup?email=${encodeURIComponent(preview.email)}&invitation=${encodeURIComponent(token)}`}>${t("auth.create_account")}</a>
            <a class="button" href=${`/login?email=${encodeURIComponent(preview.email)}&next=${here}`}>${t("auth.sign_in")}</a>
            <button id="decline" disabled=${decline.busy} onClick=${decline.submit}>${t("auth.decline")}</button>
          </div>`}`}
  <//>`;
}

route("/login", Login, { public: true });
route("/signup", Signup, { public: true });
route("/forgot-password", ForgotPassword, { public: true });
route("/reset-password", ResetPassword, { public: true });
route("/verify-email", VerifyEmail, { public: true });
route("/invitations/accept", AcceptInvitation, { public: true });
