// Organization webhooks: subscriptions (URL + events), the signing secret
// shown once (creation, rotation), test events, and the delivery log with
// response excerpts and redelivery.
import { html, Page, useLoad, useState, ErrorBox, Field, FieldError, toast, toastError, formatDate, Loading, CopyButton } from "../ui.js";
import { route } from "../router.js";
import { get, post, patch, del } from "../api.js";
import { currentOrg } from "../session.js";
import { t } from "../i18n.js";

/** The secret, once: copy it now. */
function SecretOnce({ secret, what }) {
  if (!secret) return null;
  return html`<div class="alert ok" id="webhook-secret">
    <p>${t("webhooks.copy_the_signing_secret_now", { what })}</p>
    <code id="webhook-secret-value">${secret}</code> <${CopyButton} id="copy-webhook-secret" text=${secret} what=${t("webhooks.signing_secret")} />
  </div>`;
}

/** Checkboxes of the event catalogue; `name` is the API field (`events`). */
function EventPicker({ catalogue, value, onChange, error, name = "events", idPrefix = "event" }) {
  const toggle = (event, on) => onChange(on ? [...value, event] : value.filter((e) => e !== event));
  return html`<fieldset class="event-picker">
    <legend>${t("webhooks.events")}</legend>
    ${catalogue.map(
      (e) => html`<label class="check">
        <input type="checkbox" style="width:auto" id=${`${idPrefix}-${e.name}`} value=${e.name} checked=${value.includes(e.name)}
          onChange=${(ev) => toggle(e.name, ev.target.checked)} />
        <code>${e.name}</code> <span class="muted">${e.description}</span>
      </label>`,
    )}
    <${FieldError} error=${error} name=${name} />
  </fieldset>`;
}

function CreateWebhook({ org, catalogue, onCreated }) {
  const [url, setUrl] = useState("");
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [events, setEvents] = useState([]);
  const [error, setError] = useState(null);
  const [secret, setSecret] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const body = { url, events };
      if (name.trim()) body.name = name;
      if (description.trim()) body.description = description;
      const created = await post(`/api/v1/orgs/${org.id}/webhooks`, body);
      setSecret(created.secret);
      setUrl("");
      setName("");
      setDescription("");
      setEvents([]);
      onCreated();
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="card" id="create-webhook" onSubmit=${submit}>
    <h2>${t("webhooks.new_webhook")}</h2>
    <${SecretOnce} secret=${secret} what=${t("webhooks.webhook_created")} />
    <${ErrorBox} error=${error} />
    <div class="grid">
      <${Field} label=${t("webhooks.endpoint_url")} name="url" type="url" required value=${url} onInput=${setUrl} error=${error} placeholder=${t("webhooks.https_example_com_hooks")} />
      <${Field} label=${t("webhooks.name_optional")} name="name" value=${name} onInput=${setName} error=${error} />
      <${Field} label=${t("webhooks.description_optional")} name="description" value=${description} onInput=${setDescription} error=${error} />
    </div>
    <${EventPicker} catalogue=${catalogue} value=${events} onChange=${setEvents} error=${error} idPrefix="new-event" />
    <p><button class="primary" type="submit">${t("webhooks.create_webhook")}</button></p>
  </form>`;
}

function EditEvents({ webhook, catalogue, onSaved, onCancel }) {
  const [events, setEvents] = useState(webhook.events);
  const [error, setError] = useState(null);
  const save = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      await patch(`/api/v1/webhooks/${webhook.id}`, { events });
      toast(t("webhooks.events_of_saved", { name: webhook.name }));
      onSaved();
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="card" id="edit-events" onSubmit=${save}>
    <h2>${t("webhooks.events_of", { name: webhook.name })}</h2>
    <${ErrorBox} error=${error} />
    <${EventPicker} catalogue=${catalogue} value=${events} onChange=${setEvents} error=${error} idPrefix="edit-event" />
    <p class="row"><button class="primary" type="submit">${t("webhooks.save_events")}</button><button type="button" onClick=${onCancel}>${t("common.cancel")}</button></p>
  </form>`;
}

const STATUSES = ["pending", "failed", "delivered", "dead"];

function DeliveryLog({ webhook, catalogue }) {
  const [status, setStatus] = useState("");
  const [event, setEvent] = useState("");
  const [pages, setPages] = useState([]);
  const query = (after) => {
    const q = new URLSearchParams({ limit: "25" });
    if (status) q.set("status", status);
    if (event) q.set("event", event);
    if (after) q.set("after", after);
    return get(`/api/v1/webhooks/${webhook.id}/deliveries?${q}`);
  };
  const first = useLoad(() => query(null), [webhook.id, status, event]);
  const items = first.data ? [first.data, ...pages].flatMap((p) => p.items) : [];
  const last = pages.length ? pages[pages.length - 1] : first.data;
  const more = async () => {
    try {
      const page = await query(last.next_cursor);
      setPages([...pages, page]);
    } catch (err) {
      toastError(err);
    }
  };
  const reload = () => {
    setPages([]);
    first.reload();
  };
  const redeliver = async (d) => {
    try {
      await post(`/api/v1/webhook-deliveries/${d.id}/redeliver`);
      toast(t("webhooks.redelivery_queued"));
      reload();
    } catch (err) {
      toastError(err);
    }
  };
  return html`<div class="card" id="delivery-log">
    <h2>${t("webhooks.delivery_log_of", { name: webhook.name })}</h2>
    <div class="row" style="align-items:flex-end">
      <div><label for="log-status">${t("common.status")}</label>
        <select id="log-status" value=${status} onChange=${(e) => (setPages([]), setStatus(e.target.value))}>
          <option value="">${t("common.any")}</option>${STATUSES.map((s) => html`<option value=${s}>${s}</option>`)}
        </select></div>
      <div><label for="log-event">${t("webhooks.event")}</label>
        <select id="log-event" value=${event} onChange=${(e) => (setPages([]), setEvent(e.target.value))}>
          <option value="">${t("common.any")}</option>
          ${[...catalogue.map((c) => c.name), "webhook.test"].map((n) => html`<option value=${n}>${n}</option>`)}
        </select></div>
      <button type="button" id="refresh-log" onClick=${reload}>${t("common.refresh")}</button>
    </div>
    <${ErrorBox} error=${first.error} />
    <table>
      <thead><tr><th>${t("common.created")}</th><th>${t("webhooks.event")}</th><th>${t("common.status")}</th><th>${t("webhooks.attempt")}</th><th>${t("webhooks.response")}</th><th>${t("webhooks.next_retry")}</th><th></th></tr></thead>
      <tbody>
        ${items.map(
          (d) => html`<tr data-delivery=${d.id} data-status=${d.status}>
            <td class="muted">${formatDate(d.created_at)}</td>
            <td><code>${d.event_type}</code>${d.redelivery_of ? html` <span class="muted">${t("webhooks.redelivery")}</span>` : ""}</td>
            <td><span class=${"badge " + (d.status === "delivered" ? "ok" : d.status === "dead" ? "bad" : d.status === "failed" ? "warn" : "")}>${d.status}</span></td>
            <td>${d.attempt}</td>
            <td>${d.response_status != null ? html`<strong>${d.response_status}</strong> ` : ""}<code class="excerpt" title=${d.response_body || d.error_message || ""}>${(d.response_body || d.error_message || "").slice(0, 120)}</code>${d.duration_ms != null ? html` <span class="muted">${t("webhooks.ms", { duration_ms: d.duration_ms })}</span>` : ""}</td>
            <td class="muted">${formatDate(d.next_retry_at)}</td>
            <td><button type="button" class="redeliver" onClick=${() => redeliver(d)}>${t("webhooks.redeliver")}</button></td>
          </tr>`,
        )}
        <${Loading} load=${first} cols="7" />
        ${first.data && !items.length && html`<tr><td colspan="7" class="muted">${t("webhooks.no_deliveries_yet")}</td></tr>`}
      </tbody>
    </table>
    ${last && last.next_cursor && html`<p><button type="button" id="more-deliveries" onClick=${more}>${t("common.load_more")}</button></p>`}
  </div>`;
}

function Webhooks() {
  const org = currentOrg();
  const list = useLoad(() => get(`/api/v1/orgs/${org.id}/webhooks?limit=200`), [org.id]);
  const catalogue = useLoad(() => get(`/api/v1/orgs/${org.id}/webhook-events`), [org.id]);
  const [editing, setEditing] = useState(null);
  const [logOf, setLogOf] = useState(null);
  const [rotated, setRotated] = useState(null);
  const act = async (fn, done) => {
    try {
      await fn();
      if (done) toast(done);
      list.reload();
    } catch (err) {
      toastError(err);
    }
  };
  const rotate = (w) =>
    confirm(t("webhooks.rotate_the_secret_of_the", { name: w.name })) &&
    act(async () => {
      const r = await post(`/api/v1/webhooks/${w.id}/rotate-secret`);
      setRotated(r.secret);
    }, t("webhooks.secret_rotated"));
  const test = (w) =>
    act(async () => {
      await post(`/api/v1/webhooks/${w.id}/test`);
      setLogOf(w);
    }, t("webhooks.test_event_queued", { name: w.name }));
  const toggle = (w) => act(() => patch(`/api/v1/webhooks/${w.id}`, { is_active: !w.is_active }));
  const remove = (w) =>
    confirm(t("webhooks.delete_and_its_delivery_log", { name: w.name })) &&
    act(async () => {
      await del(`/api/v1/webhooks/${w.id}`);
      if (logOf && logOf.id === w.id) setLogOf(null);
    }, `Deleted ${w.name}`);
  const cat = catalogue.data || [];
  return html`<${Page} title=${t("webhooks.webhooks")}>
    <p class="muted">${t("webhooks.events_are_posted_as_json")}<code>webhook-id</code>, <code>webhook-timestamp</code>,
      <code>webhook-signature</code>${t("webhooks.in_order_per_webhook_retried")}</p>
    ${catalogue.data && html`<${CreateWebhook} org=${org} catalogue=${cat} onCreated=${list.reload} />`}
    <${SecretOnce} secret=${rotated} what=${t("webhooks.secret_rotated")} />
    <div class="card">
      <h2>${t("webhooks.subscriptions")}</h2>
      <${ErrorBox} error=${list.error || catalogue.error} />
      <table>
        <thead><tr><th>${t("common.name")}</th><th>URL</th><th>${t("webhooks.events")}</th><th>${t("common.active_2")}</th><th>${t("common.created")}</th><th></th></tr></thead>
        <tbody>
          ${list.data &&
          list.data.items.map(
            (w) => html`<tr data-webhook=${w.id}>
              <td><strong>${w.name}</strong>${w.description && html`<div class="muted small">${w.description}</div>`}</td>
              <td class="muted"><code>${w.url}</code></td>
              <td class="muted small">${w.events.join(", ")}</td>
              <td><input type="checkbox" style="width:auto" aria-label=${t("webhooks.name_active", { name: w.name })} checked=${w.is_active} onChange=${() => toggle(w)} />
                ${w.disabled_reason && html`<div class="alert error small" role="note">${t("webhooks.switched_off", { disabled_reason: w.disabled_reason })}</div>`}
                ${w.failing_since && !w.disabled_reason && html`<div class="muted small">${t("webhooks.failing_since", { failing_since: formatDate(w.failing_since) })}</div>`}</td>
              <td class="muted">${formatDate(w.created_at)}</td>
              <td class="row">
                <button type="button" class="test-event" onClick=${() => test(w)}>${t("webhooks.send_test_event")}</button>
                <button type="button" class="show-log" onClick=${() => setLogOf(w)}>${t("webhooks.delivery_log")}</button>
                <button type="button" class="edit-events" onClick=${() => setEditing(w)}>${t("webhooks.edit_events")}</button>
                <button type="button" class="rotate" onClick=${() => rotate(w)}>${t("webhooks.rotate_secret")}</button>
                <button type="button" class="danger" onClick=${() => remove(w)}>${t("common.delete")}</button>
              </td>
            </tr>`,
          )}
          <${Loading} load=${list} cols="6" />
          ${list.data && !list.data.items.length && html`<tr><td colspan="6" class="muted">${t("webhooks.no_webhooks_yet")}</td></tr>`}
        </tbody>
      </table>
    </div>
    ${editing && html`<${EditEvents} key=${editing.id} webhook=${editing} catalogue=${cat} onCancel=${() => setEditing(null)} onSaved=${() => (setEditing(null), list.reload())} />`}
    ${logOf && html`<${DeliveryLog} key=${logOf.id} webhook=${logOf} catalogue=${cat} />`}
  <//>`;
}

route("/settings/webhooks", Webhooks, { nav: { label: "nav.webhooks", section: "nav.settings", order: 65, requires: "integrations.manage" } });
