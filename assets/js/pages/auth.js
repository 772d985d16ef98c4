// Sign-in and sign-up.
import { html, useState } from "../ui.js";
import { ErrorBox, Field } from "../ui.js";
import { route, navigate } from "../router.js";
import { post } from "../api.js";
import { setMe } from "../session.js";

function nextPath() {
  const next = new URLSearchParams(location.search).get("next");
  return next && next.startsWith("/") && !next.startsWith("//") ? next : "/dashboard";
}

function AuthCard({ title, children, footer }) {
  return html`<div class="auth-page"><div class="card auth-card">
    <div class="brand"><img src="/favicon.svg" alt="" />botbuilder</div>
    <h2 style="text-align:center">${title}</h2>
    ${children}
    <p class="muted" style="text-align:center;margin-top:1rem">${footer}</p>
  </div></div>`;
}

function Login() {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      setMe(await post("/api/v1/auth/login", { email, password }));
      navigate(nextPath(), { replace: true });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<${AuthCard} title="Sign in" footer=${html`No account? <a href="/signup">Create one</a>`}>
    <form onSubmit=${submit}>
      <${ErrorBox} error=${error && !error.field ? error : null} />
      <${Field} label="Email" name="email" type="email" autocomplete="username" required value=${email} onInput=${setEmail} error=${error} />
      <${Field} label="Password" name="password" type="password" autocomplete="current-password" required value=${password} onInput=${setPassword} error=${error} />
      <p><button class="primary" type="submit" disabled=${busy} style="width:100%">Sign in</button></p>
    </form>
  <//>`;
}

function Signup() {
  const [form, setForm] = useState({ name: "", email: "", password: "" });
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (key) => (value) => setForm({ ...form, [key]: value });
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      setMe(await post("/api/v1/auth/register", form));
      navigate("/dashboard", { replace: true });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<${AuthCard} title="Create your account" footer=${html`Already have an account? <a href="/login">Sign in</a>`}>
    <form onSubmit=${submit}>
      <${ErrorBox} error=${error && !error.field ? error : null} />
      <${Field} label="Your name" name="name" required value=${form.name} onInput=${set("name")} error=${error} />
      <${Field} label="Email" name="email" type="email" autocomplete="username" required value=${form.email} onInput=${set("email")} error=${error} />
      <${Field} label="Password" name="password" type="password" autocomplete="new-password" required value=${form.password} onInput=${set("password")} error=${error} />
      <p class="muted" style="font-size:.8rem">At least 10 characters, with a letter and a digit.</p>
      <p><button class="primary" type="submit" disabled=${busy} style="width:100%">Create account</button></p>
    </form>
  <//>`;
}

route("/login", Login, { public: true });
route("/signup", Signup, { public: true });
