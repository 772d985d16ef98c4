// Shared UI pieces: html templating (Preact + htm), form helpers, errors.
import { html, render, useState, useEffect, useLayoutEffect, useCallback, useRef, useMemo } from "/vendor/preact-htm.js";
import { t, errorText, locale, hasMessage } from "./i18n.js";

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
  return { ...state, reload: () => setTick((tv) => tv + 1) };
}

/**
 * Whether the API's field path `field` (e.g. `allowed_origins[0]`,
 * `config.title`) belongs to the form field `name` (`allowed_origins`,
 * `config.title`): the same path or one inside it.
 */
export function fieldMatches(field, name) {
  if (!field || !name) return false;
  return field === name || field.startsWith(`${name}[`) || field.startsWith(`${name}.`);
}

/** The API's error for the form field `name`, shown under it (nothing otherwise). */
export function FieldError({ error, name }) {
  if (!error || !fieldMatches(error.field, name)) return null;
  return html`<div class="field-error" data-field-error=${name} role="alert">${errorText(error)}</div>`;
}

/**
 * An error banner: the message, the field at fault and the request id to
 * quote. A field error that a `FieldError`/`Field` on the page already shows
 * next to its field is not repeated; any other error is never swallowed.
 */
export function ErrorBox({ error }) {
  const [shownInline, setShownInline] = useState(false);
  // Runs after the whole page is in the DOM, fields below this banner included.
  useLayoutEffect(() => {
    const inline =
      !!error &&
      !!error.field &&
      [...document.querySelectorAll("[data-field-error]")].some((el) => fieldMatches(error.field, el.dataset.fieldError));
    setShownInline(inline);
  });
  if (!error || shownInline) return null;
  return html`<div class="alert error" role="alert" data-code=${error.code}>
    <span class="alert-message">${errorText(error)}</span>
    ${error.field && html` <span class="muted">${t("common.field_at_fault", { field: html`<code>${error.field}</code>` })}</span>`}
    ${error.requestId && html`<div class="muted small request-id">${t("common.request_id_to_quote", { id: html`<code>${error.requestId}</code>` })}</div>`}
  </div>`;
}

/**
 * "Loading…" while a `useLoad` has nothing to show yet: a table row spanning
 * `cols` columns, a list item (`li`), or a line. Marked `aria-busy`.
 */
export function Loading({ load, cols, li }) {
  if (!load || !load.loading || load.data) return null;
  if (cols) return html`<tr aria-busy="true"><td colspan=${cols} class="loading">${t("common.loading")}</td></tr>`;
  if (li) return html`<li class="loading" aria-busy="true">${t("common.loading")}</li>`;
  return html`<p class="loading" role="status" aria-busy="true">${t("common.loading")}</p>`;
}

export function Page({ title, actions, children }) {
  useEffect(() => {
    document.title = t("common.botbuilder", { title });
  }, [title]);
  return html`<div>
    <div class="topbar"><h1>${title}</h1><div class="row">${actions}</div></div>
    ${children}
  </div>`;
}

/** A labelled input; shows the API's field error when it names this field. */
export function Field({ label, name, error, type = "text", value, onInput, ...rest }) {
  return html`<div>
    <label for=${name}>${label}</label>
    <input id=${name} name=${name} type=${type} value=${value} onInput=${(e) => onInput(e.target.value)} ...${rest} />
    <${FieldError} error=${error} name=${name} />
  </div>`;
}

let toastTimer;
export function toast(message, { error = false } = {}) {
  let el = document.querySelector(".toast");
  if (!el) {
    el = document.createElement("div");
    document.body.appendChild(el);
  }
  el.className = error ? "toast error" : "toast";
  el.setAttribute("role", error ? "alert" : "status");
  el.textContent = message;
  clearTimeout(toastTimer);
  // Errors stay long enough to read (and copy the request id).
  toastTimer = setTimeout(() => el.remove(), error ? 10000 : 3000);
}

/** Shows an API error that has no form to sit in: message and request id. */
export function toastError(err) {
  const message = (err && errorText(err)) || t("errors.unknown");
  toast(err && err.requestId ? t("common.error_with_request_id", { message, id: err.requestId }) : message, { error: true });
}

/**
 * Copies `text` to the clipboard and says so; where the clipboard API is
 * refused (an insecure origin, a browser policy) it falls back to a hidden
 * selection, and asks to copy by hand when that fails too.
 */
export function CopyButton({ text, label, id, what }) {
  const [state, setState] = useState("idle");
  const copy = async () => {
    let ok = false;
    try {
      await navigator.clipboard.writeText(text);
      ok = true;
    } catch {
      const area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      ok = document.execCommand("copy");
      area.remove();
    }
    setState(ok ? "copied" : "failed");
    setTimeout(() => setState("idle"), 2500);
  };
  const shown = state === "copied" ? t("common.copied") : state === "failed" ? t("common.select_and_copy_by_hand") : label || t("common.copy");
  return html`<button type="button" class="copy" id=${id} aria-label=${state === "idle" ? t("common.copy_the", { what: what || t("common.copy_what_text") }) : shown} onClick=${copy}>
    ${shown}
  </button>`;
}

/**
 * "1 document", "3 documents": the catalog's `units.<one>` plural in the UI's
 * language; English built from `one`/`many` for a unit it does not list.
 */
export function plural(n, one, many = `${one}s`) {
  const key = `units.${one.replaceAll(" ", "_")}`;
  if (hasMessage(key)) return t(key, { count: n });
  return `${n} ${n === 1 ? one : many}`;
}

/** A date and time in the UI's language (the browser's usual format for it). */
export function formatDate(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString(locale());
}
