// Signing in (with the two-factor step), signing up, forgotten and reset
// passwords, email verification and accepting invitations.
import { html, useState, useEffect } from "../ui.js";
import { ErrorBox, Field } from "../ui.js";
import { route, navigate } from "../router.js";
import { get, post } from "../api.js";
import { setMe, currentUser, currentBranding, selectOrg, refreshMe } from "../session.js";

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

const SSO_ERRORS = {
  state_invalid: "The sign-in link was not started here. Start again.",
  state_replayed: "This sign-in was already completed. Start again.",
  state_expired: "The sign-in took longer than 10 minutes. Start again.",
  state_wrong_browser: "The sign-in was started in another browser.",
  idp_error: "Your identity provider refused the sign-in.",
  email_domain_not_verified: "Your identity provider may not sign in this address here.",
  email_not_verified: "Your identity provider says your email address is not verified.",
  user_not_provisioned: "No account has this address, and accounts are not created automatically.",
  account_suspended: "This account is suspended.",
  assertion_not_encrypted: "Your identity provider sent an unencrypted answer, and your organization requires encryption.",
  decryption_failed: "Your identity provider's encrypted answer cannot be opened here (it may use a retired key).",
};

/** Single sign-on: the email's domain routes to its identity provider. */
function SsoForm({ email, setEmail, onCancel }) {
  const { error, setError, busy, submit } = useSubmit(async () => {
    const check = await get(`/api/v1/sso/check?email=${encodeURIComponent(email)}`);
    if (!check.sso) {
      setError({ message: "This address does not sign in with SSO: use your password.", code: "sso_not_configured", field: "email", details: {} });
      return;
    }
    // Back to the page the sign-in started from (the server keeps only a path of this site).
    location.assign(`${check.login_url}&next=${encodeURIComponent(nextPath())}`);
  });
  return html`<form onSubmit=${submit} id="sso-form">
    <p class="muted">Enter your work email: you will sign in at your organization's identity provider.</p>
    <${ErrorBox} error=${error} />
    <${Field} label="Work email" name="email" type="email" autocomplete="username" required value=${email} onInput=${setEmail} error=${error} />
    <p><button class="primary" type="submit" disabled=${busy} style="width:100%">Continue with SSO</button></p>
    <p style="text-align:center"><button type="button" class="link-btn" onClick=${onCancel}>Sign in with a password instead</button></p>
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
  return html`<${AuthCard} title=${needsCode ? "Two-factor authentication" : "Sign in"} footer=${html`No account? <a href=${signupLink}>Create one</a>`}>
    ${ssoError &&
    html`<div class="alert error" role="alert" id="sso-error" data-reason=${ssoError}>
      <strong>Single sign-on failed.</strong> ${SSO_ERRORS[ssoError] || "The identity provider's answer was refused."}
      <span class="muted small"> (reason <code>${ssoError}</code>; your administrator sees it in the SSO log)</span>
    </div>`}
    ${sso
      ? html`${error && error.code === "sso_required" && html`<div class="alert" role="status">${error.message}</div>`}
          <${SsoForm} email=${email} setEmail=${setEmail} onCancel=${() => { setSso(false); setError(null); }} />`
      : html`<form onSubmit=${submit}>
      <${ErrorBox} error=${error} />
      ${needsCode
        ? html`<p class="muted">Enter the 6-digit code from your authenticator app, or one of your backup codes.</p>
            <${Field} label="Code" name="totp_code" autocomplete="one-time-code" inputmode="text" required value=${code} onInput=${setCode} error=${error} />`
        : html`<${Field} label="Email" name="email" type="email" autocomplete="username" required value=${email} onInput=${setEmail} error=${error} />
            <${Field} label="Password" name="password" type="password" autocomplete="current-password" required value=${password} onInput=${setPassword} error=${error} />`}
      <p><button class="primary" type="submit" disabled=${busy} style="width:100%">${needsCode ? "Verify" : "Sign in"}</button></p>
      ${!needsCode && html`<p style="text-align:center"><button type="button" id="sign-in-sso" style="width:100%" onClick=${() => { setSso(true); setError(null); }}>Sign in with SSO</button></p>
        <p style="text-align:center"><a href="/forgot-password">Forgot your password?</a></p>`}
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
  const footer = html`Already have an account? <a href=${`/login${location.search}`}>Sign in</a>`;
  if (!instance && !instanceError) return html`<${AuthCard} title="Create your account"><p class="muted" role="status">Loading…</p><//>`;
  const firstRun = instance && instance.first_run;
  const policy = instance ? instance.signup_policy : "open";
  // Refused before the form is filled in, rather than a form that fails.
  if (!firstRun && policy === "closed")
    return html`<${AuthCard} title="Create your account" footer=${footer}>
      <div class="alert" id="signup-closed" role="status">Sign-up is closed on this server. Ask an administrator to create an account for you.</div>
    <//>`;
  if (!firstRun && policy === "invite_only" && !invitation)
    return html`<${AuthCard} title="Create your account" footer=${footer}>
      <div class="alert" id="signup-invite-only" role="status">Sign-up on this server is by invitation only. Open the invitation link you received to create your account, or ask an administrator of your organization to invite you.</div>
    <//>`;
  return html`<${AuthCard} title="Create your account" footer=${footer}>
    ${done
      ? html`<div class="alert ok" id="signup-accepted">${done}</div>
          <p class="muted">Sent to <strong>${form.email}</strong>. Open the link in the email to finish; you can close this page.</p>`
      : html`<form onSubmit=${submit}>
          ${firstRun && html`<div class="alert ok" id="first-run" role="status"><strong>You are the first user:</strong> you will be the administrator of this instance (the owner of your organization and a superadmin of the <a href="/admin">admin console</a>).</div>`}
          ${invitation && html`<p class="muted" id="signup-invited">You are joining through an invitation: your account will belong to the inviting organization.</p>`}
          <${ErrorBox} error=${error || instanceError} />
          <${Field} label="Your name" name="name" required value=${form.name} onInput=${set("name")} error=${error} />
          <${Field} label="Email" name="email" type="email" autocomplete="username" required value=${form.email} onInput=${set("email")} error=${error} />
          <${Field} label="Password" name="password" type="password" autocomplete="new-password" required value=${form.password} onInput=${set("password")} error=${error} />
          <${PasswordHint} error=${error} />
          <p class="muted" style="font-size:.8rem">At least 10 characters and hard to guess: a few unrelated words work well.</p>
          <p><button class="primary" type="submit" disabled=${busy} style="width:100%">Create account</button></p>
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
    return html`<${AuthCard} title="Reset your password" footer=${html`<a href="/login">Back to sign in</a>`}>
      <div class="alert" id="reset-no-email" role="status">This server cannot send email yet, so no reset link can reach you. Ask the administrator of this server to configure email (SMTP) in the admin console, then come back.</div>
    <//>`;
  return html`<${AuthCard} title="Reset your password" footer=${html`<a href="/login">Back to sign in</a>`}>
    ${done
      ? html`<div class="alert ok" id="reset-requested">${done}</div>`
      : html`<form onSubmit=${submit}>
          <p class="muted">We will email you a link to choose a new password.</p>
          <${ErrorBox} error=${error} />
          <${Field} label="Email" name="email" type="email" required value=${email} onInput=${setEmail} error=${error} />
          <p><button class="primary" type="submit" disabled=${busy} style="width:100%">Send the link</button></p>
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
  return html`<${AuthCard} title="Choose a new password">
    ${done
      ? html`<div class="alert ok">Your password was changed and every session signed out.</div><p><a class="button primary" href="/login">Sign in</a></p>`
      : html`<form onSubmit=${submit}>
          <${ErrorBox} error=${error} />
          <${Field} label="New password" name="password" type="password" autocomplete="new-password" required value=${password} onInput=${setPassword} error=${error} />
          <${PasswordHint} error=${error} />
          <p><button class="primary" type="submit" disabled=${busy} style="width:100%">Set password</button></p>
          ${error && (error.code === "token_expired" || error.code === "token_invalid") && html`<p><a href="/forgot-password">Ask for a new link</a></p>`}
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
  return html`<${AuthCard} title="Email address">
    ${state.done && html`<div class="alert ok" id="email-verified">Your email address is confirmed.</div>`}
    <${ErrorBox} error=${state.error} />
    ${!state.done && !state.error && html`<p class="muted">Confirming…</p>`}
    ${state.done && !state.signedIn
      ? html`<p><a class="button primary" href=${`/login?next=${encodeURIComponent(next)}`}>Sign in</a></p>`
      : html`<p><a class="button primary" id="continue" href=${next}>Continue</a></p>`}
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
    setResult(`You joined ${accepted.organization_name} as ${accepted.role}.`);
  });
  const decline = useSubmit(async () => {
    await post("/api/v1/invitations/decline", { token });
    setResult("You declined the invitation.");
  });
  const here = encodeURIComponent(location.pathname + location.search);
  return html`<${AuthCard} title="Invitation">
    <${ErrorBox} error=${loadError || error || decline.error} />
    ${result && html`<div class="alert ok" id="invitation-result">${result}</div><p><a class="button primary" href="/dashboard">Open the dashboard</a></p>`}
    ${preview && !result &&
    html`<p id="invitation-summary">${preview.invited_by_name || "Someone"} invited <strong>${preview.email}</strong> to join${" "}
        <strong>${preview.organization_name}</strong> as <strong>${preview.role}</strong>${preview.team ? html` in the team ${preview.team}` : ""}.</p>
      ${me
        ? me.user.email === preview.email
          ? html`<div class="row"><button class="primary" id="accept" disabled=${busy} onClick=${submit}>Accept</button>
              <button id="decline" disabled=${decline.busy} onClick=${decline.submit}>Decline</button></div>`
          : html`<div class="alert error">You are signed in as ${me.user.email}. Sign out and sign in as ${preview.email} to accept.</div>`
        : html`<p>Sign in or create an account with this email address to accept.</p>
          <div class="row">
            <a class="button primary" id="signup-to-accept" href=${`/signup?email=${encodeURIComponent(preview.email)}&invitation=${encodeURIComponent(token)}`}>Create account</a>
            <a class="button" href=${`/login?email=${encodeURIComponent(preview.email)}&next=${here}`}>Sign in</a>
            <button id="decline" disabled=${decline.busy} onClick=${decline.submit}>Decline</button>
          </div>`}`}
  <//>`;
}

route("/login", Login, { public: true });
route("/signup", Signup, { public: true });
route("/forgot-password", ForgotPassword, { public: true });
route("/reset-password", ResetPassword, { public: true });
route("/verify-email", VerifyEmail, { public: true });
route("/invitations/accept", AcceptInvitation, { public: true });
