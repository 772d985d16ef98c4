// Shared UI pieces: html templating (Preact + htm), form helpers, errors.
import { html, render, useState, useEffect, useCallback, useRef, useMemo } from "/vendor/preact-htm.js";

export { html, render, useState, useEffect, useCallback, useRef, useMemo };

/** Loads data with `fn` when deps change: returns {data, error, loading, reload}. */
export function useLoad(fn, deps = []) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let alive = true;
    setState((s) => ({ ...s, loading: true }));
    Promise.resolve()
      .then(fn)
      .then(
        (data) => alive && setState({ data, error: null, loading: false }),
        (error) => alive && setState({ data: null, error, loading: false }),
      );
    return () => (alive = false);
  }, [...deps, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

export function ErrorBox({ error }) {
  if (!error) return null;
  return html`<div class="alert error" role="alert" data-code=${error.code}>${error.message}</div>`;
}

export function Page({ title, actions, children }) {
  useEffect(() => {
    document.title = `${title} · botbuilder`;
  }, [title]);
  return html`<div>
    <div class="topbar"><h1>${title}</h1><div class="row">${actions}</div></div>
    ${children}
  </div>`;
}

/** A labelled input; shows the API's field error when it names this field. */
export function Field({ label, name, error, type = "text", value, onInput, ...rest }) {
  const fieldError = error && error.field === name ? error.message : null;
  return html`<div>
    <label for=${name}>${label}</label>
    <input id=${name} name=${name} type=${type} value=${value} onInput=${(e) => onInput(e.target.value)} ...${rest} />
    ${fieldError && html`<div class="field-error">${fieldError}</div>`}
  </div>`;
}

let toastTimer;
export function toast(message) {
  let el = document.querySelector(".toast");
  if (!el) {
    el = document.createElement("div");
    el.className = "toast";
    el.setAttribute("role", "status");
    document.body.appendChild(el);
  }
  el.textContent = message;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.remove(), 3000);
}

export function formatDate(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString();
}
