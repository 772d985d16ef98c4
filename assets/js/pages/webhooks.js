// Organization webhooks: subscriptions (URL + events), the signing secret
// shown once (creation, rotation), test events, and the delivery log with
// response excerpts and redelivery.
import { html, Page, useLoad, useState, ErrorBox, Field, FieldError, toast, toastError, formatDate, Loading, CopyButton } from "../ui.js";
import { route } from "../router.js";
import { get, post, patch, del } from "../api.js";
import { currentOrg } from "../session.js";

/** The secret, once: copy it now. */
function SecretOnce({ secret, what }) {
  if (!secret) return null;
  return html`<div class="alert ok" id="webhook-secret">
    <p>${what}: copy the signing secret now; it is not shown again.</p>
    <code id="webhook-secret-value">${secret}</code> <${CopyButton} id="copy-webhook-secret" text=${secret} what="signing secret" />
  </div>`;
}

/** Checkboxes of the event catalogue; `name` is the API field (`events`). */
function EventPicker({ catalogue, value, onChange, error, name = "events", idPrefix = "event" }) {
  const toggle = (event, on) => onChange(on ? [...value, event] : value.filter((e) => e !== event));
  return html`<fieldset class="event-picker">
    <legend>Events</legend>
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
    <h2>New webhook</h2>
    <${SecretOnce} secret=${secret} what="Webhook created" />
    <${ErrorBox} error=${error} />
    <div class="grid">
      <${Field} label="Endpoint URL" name="url" type="url" required value=${url} onInput=${setUrl} error=${error} placeholder="https://example.com/hooks" />
      <${Field} label="Name (optional)" name="name" value=${name} onInput=${setName} error=${error} />
      <${Field} label="Description (optional)" name="description" value=${description} onInput=${setDescription} error=${error} />
    </div>
    <${EventPicker} catalogue=${catalogue} value=${events} onChange=${setEvents} error=${error} idPrefix="new-event" />
    <p><button class="primary" type="submit">Create webhook</button></p>
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
      toast(`Events of ${webhook.name} saved`);
      onSaved();
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="card" id="edit-events" onSubmit=${save}>
    <h2>Events of ${webhook.name}</h2>
    <${ErrorBox} error=${error} />
    <${EventPicker} catalogue=${catalogue} value=${events} onChange=${setEvents} error=${error} idPrefix="edit-event" />
    <p class="row"><button class="primary" type="submit">Save events</button><button type="button" onClick=${onCancel}>Cancel</button></p>
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
      toast("Redelivery queued");
      reload();
    } catch (err) {
      toastError(err);
    }
  };
  return html`<div class="card" id="delivery-log">
    <h2>Delivery log of ${webhook.name}</h2>
    <div class="row" style="align-items:flex-end">
      <div><label for="log-status">Status</label>
        <select id="log-status" value=${status} onChange=${(e) => (setPages([]), setStatus(e.target.value))}>
          <option value="">Any</option>${STATUSES.map((s) => html`<option value=${s}>${s}</option>`)}
        </select></div>
      <div><label for="log-event">Event</label>
        <select id="log-event" value=${event} onChange=${(e) => (setPages([]), setEvent(e.target.value))}>
          <option value="">Any</option>
          ${[...catalogue.map((c) => c.name), "webhook.test"].map((n) => html`<option value=${n}>${n}</option>`)}
        </select></div>
      <button type="button" id="refresh-log" onClick=${reload}>Refresh</button>
    </div>
    <${ErrorBox} error=${first.error} />
    <table>
      <thead><tr><th>Created</th><th>Event</th><th>Status</th><th>Attempt</th><th>Response</th><th>Next retry</th><th></th></tr></thead>
      <tbody>
        ${items.map(
          (d) => html`<tr data-delivery=${d.id} data-status=${d.status}>
            <td class="muted">${formatDate(d.created_at)}</td>
            <td><code>${d.event_type}</code>${d.redelivery_of ? html` <span class="muted">(redelivery)</span>` : ""}</td>
            <td><span class=${"badge " + (d.status === "delivered" ? "ok" : d.status === "dead" ? "bad" : d.status === "failed" ? "warn" : "")}>${d.status}</span></td>
            <td>${d.attempt}</td>
            <td>${d.response_status != null ? html`<strong>${d.response_status}</strong> ` : ""}<code class="excerpt" title=${d.response_body || d.error_message || ""}>${(d.response_body || d.error_message || "").slice(0, 120)}</code>${d.duration_ms != null ? html` <span class="muted">${d.duration_ms} ms</span>` : ""}</td>
            <td class="muted">${formatDate(d.next_retry_at)}</td>
            <td><button type="button" class="redeliver" onClick=${() => redeliver(d)}>Redeliver</button></td>
          </tr>`,
        )}
        <${Loading} load=${first} cols="7" />
        ${first.data && !items.length && html`<tr><td colspan="7" class="muted">No deliveries yet.</td></tr>`}
      </tbody>
    </table>
    ${last && last.next_cursor && html`<p><button type="button" id="more-deliveries" onClick=${more}>Load more</button></p>`}
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
    confirm(`Rotate the secret of ${w.name}? The old secret keeps signing (as a second signature) for 24 hours.`) &&
    act(async () => {
      const r = await post(`/api/v1/webhooks/${w.id}/rotate-secret`);
      setRotated(r.secret);
    }, "Secret rotated");
  const test = (w) =>
    act(async () => {
      await post(`/api/v1/webhooks/${w.id}/test`);
      setLogOf(w);
    }, `Test event queued for ${w.name}`);
  const toggle = (w) => act(() => patch(`/api/v1/webhooks/${w.id}`, { is_active: !w.is_active }));
  const remove = (w) =>
    confirm(`Delete ${w.name} and its delivery log?`) &&
    act(async () => {
      await del(`/api/v1/webhooks/${w.id}`);
      if (logOf && logOf.id === w.id) setLogOf(null);
    }, `Deleted ${w.name}`);
  const cat = catalogue.data || [];
  return html`<${Page} title="Webhooks">
    <p class="muted">Events are POSTed as JSON, signed the Standard Webhooks way (<code>webhook-id</code>, <code>webhook-timestamp</code>,
      <code>webhook-signature</code>), in order per webhook, retried for more than a day.</p>
    ${catalogue.data && html`<${CreateWebhook} org=${org} catalogue=${cat} onCreated=${list.reload} />`}
    <${SecretOnce} secret=${rotated} what="Secret rotated" />
    <div class="card">
      <h2>Subscriptions</h2>
      <${ErrorBox} error=${list.error || catalogue.error} />
      <table>
        <thead><tr><th>Name</th><th>URL</th><th>Events</th><th>Active</th><th>Created</th><th></th></tr></thead>
        <tbody>
          ${list.data &&
          list.data.items.map(
            (w) => html`<tr data-webhook=${w.id}>
              <td><strong>${w.name}</strong>${w.description && html`<div class="muted small">${w.description}</div>`}</td>
              <td class="muted"><code>${w.url}</code></td>
              <td class="muted small">${w.events.join(", ")}</td>
              <td><input type="checkbox" style="width:auto" aria-label=${`${w.name} active`} checked=${w.is_active} onChange=${() => toggle(w)} />
                ${w.disabled_reason && html`<div class="alert error small" role="note">Switched off: ${w.disabled_reason}</div>`}
                ${w.failing_since && !w.disabled_reason && html`<div class="muted small">failing since ${formatDate(w.failing_since)}</div>`}</td>
              <td class="muted">${formatDate(w.created_at)}</td>
              <td class="row">
                <button type="button" class="test-event" onClick=${() => test(w)}>Send test event</button>
                <button type="button" class="show-log" onClick=${() => setLogOf(w)}>Delivery log</button>
                <button type="button" class="edit-events" onClick=${() => setEditing(w)}>Edit events</button>
                <button type="button" class="rotate" onClick=${() => rotate(w)}>Rotate secret</button>
                <button type="button" class="danger" onClick=${() => remove(w)}>Delete</button>
              </td>
            </tr>`,
          )}
          <${Loading} load=${list} cols="6" />
          ${list.data && !list.data.items.length && html`<tr><td colspan="6" class="muted">No webhooks yet.</td></tr>`}
        </tbody>
      </table>
    </div>
    ${editing && html`<${EditEvents} key=${editing.id} webhook=${editing} catalogue=${cat} onCancel=${() => setEditing(null)} onSaved=${() => (setEditing(null), list.reload())} />`}
    ${logOf && html`<${DeliveryLog} key=${logOf.id} webhook=${logOf} catalogue=${cat} />`}
  <//>`;
}

route("/settings/webhooks", Webhooks, { nav: { label: "Webhooks", section: "Settings", order: 65, requires: "integrations.manage" } });
