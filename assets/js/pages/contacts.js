// Contacts: the people behind the channels. A list with search and filters
// (newest seen first), and a detail panel: channel badges, profile, tags
// editor, custom attributes editor, consent toggle, blocking, the person's
// conversations (linked to their transcripts), merge with another contact
// (picked by search) and unmerge, the GDPR export (download) and the erase
// (confirmed by typing).
import { html, Page, useLoad, useState, useEffect, ErrorBox, FieldError, Loading, toast, toastError, formatDate, plural } from "../ui.js";
import { route } from "../router.js";
import { get, post, patch, del } from "../api.js";
import { currentOrg, can } from "../session.js";
import { t } from "../i18n.js";

const CHANNEL_TYPES = ["telegram", "whatsapp", "messenger", "instagram", "sms", "slack", "email", "http", "widget"];
const CONSENT = () => ({ unknown: t("contacts.consent_unknown"), granted: t("contacts.consent_granted"), revoked: t("contacts.consent_revoked") });

function name(c) {
  return c.display_name || (c.username ? `@${c.username}` : c.phone_number || c.email || c.external_id);
}

function ChannelBadge({ contact }) {
  return html`<span class="badge channel-badge" data-channel-type=${contact.channel.type} title=${contact.channel.name}>${contact.channel.type}</span>`;
}

/** Chips with a remove button each and an input that adds on Enter; saves the whole set. */
function TagsEditor({ detail, onSaved }) {
  const [tags, setTags] = useState(detail.tags);
  const [draft, setDraft] = useState("");
  const [error, setError] = useState(null);
  useEffect(() => setTags(detail.tags), [detail]);
  const save = async (next) => {
    setError(null);
    try {
      onSaved(await patch(`/api/v1/contacts/${detail.id}`, { tags: next }));
      setDraft("");
    } catch (err) {
      setError(err);
    }
  };
  const add = (e) => {
    e.preventDefault();
    if (draft.trim()) save([...tags, draft]);
  };
  return html`<form class="tags-editor" id="tags-editor" onSubmit=${add}>
    <h3>${t("contacts.tags")}</h3>
    <ul class="chips" aria-label=${t("contacts.tags")}>
      ${tags.map(
        (tv) => html`<li class="chip" data-tag=${tv}>${tv}
          <button type="button" class="chip-remove" aria-label=${t("contacts.remove_tag", { tv })} onClick=${() => save(tags.filter((x) => x !== tv))}>×</button></li>`,
      )}
      ${!tags.length && html`<li class="muted">${t("contacts.no_tags")}</li>`}
    </ul>
    <div class="row">
      <label class="sr-only" for="tag-input">${t("contacts.new_tag")}</label>
      <input id="tag-input" placeholder=${t("contacts.add_a_tag")} value=${draft} maxlength="50" onInput=${(e) => setDraft(e.target.value)} style="max-width:16rem" />
      <button type="submit" id="add-tag">${t("contacts.add_tag")}</button>
    </div>
    <${FieldError} error=${error} name="tags" />
    <${ErrorBox} error=${error} />
  </form>`;
}

const typeOf = (v) => (v === null ? "null" : typeof v === "number" ? "number" : typeof v === "boolean" ? "boolean" : "string");

/** Key/value rows with a type each; saves the whole object. */
function AttributesEditor({ detail, onSaved }) {
  const fromDetail = () => Object.entries(detail.custom_attributes).map(([key, v]) => ({ key, value: v === null ? "" : String(v), type: typeOf(v) }));
  const [rows, setRows] = useState(fromDetail);
  const [error, setError] = useState(null);
  useEffect(() => setRows(fromDetail()), [detail]);
  const set = (i, field, value) => setRows(rows.map((r, j) => (j === i ? { ...r, [field]: value } : r)));
  const save = async (e) => {
    e.preventDefault();
    setError(null);
    const object = {};
    for (const r of rows) {
      if (!r.key.trim()) continue;
      object[r.key.trim()] =
        r.type === "number" ? Number(r.value) : r.type === "boolean" ? r.value === "true" : r.type === "null" ? null : r.value;
    }
    try {
      onSaved(await patch(`/api/v1/contacts/${detail.id}`, { custom_attributes: object }));
      toast(t("contacts.attributes_saved"));
    } catch (err) {
      setError(err);
    }
  };
  return html`<form id="attributes-editor" onSubmit=${save}>
    <h3>${t("contacts.custom_attributes")}</h3>
    <table class="attributes">
      <thead><tr><th scope="col">${t("common.name")}</th><th scope="col">${t("common.type")}</th><th scope="col">${t("common.value")}</th><th scope="col"><span class="sr-only">${t("common.remove")}</span></th></tr></thead>
      <tbody>
        ${rows.map(
          (r, i) => html`<tr data-attribute-row=${i}>
            <td><input aria-label=${t("contacts.attribute_name", { value: i + 1 })} class="attr-key" value=${r.key} placeholder=${t("contacts.plan")} onInput=${(e) => set(i, "key", e.target.value)} /></td>
            <td><select aria-label=${t("contacts.attribute_type", { value: i + 1 })} class="attr-type" value=${r.type} onChange=${(e) => set(i, "type", e.target.value)}>
              ${["string", "number", "boolean", "null"].map((tv) => html`<option value=${tv}>${tv}</option>`)}
            </select></td>
            <td>${r.type === "boolean"
              ? html`<select aria-label=${t("contacts.attribute_value", { value: i + 1 })} class="attr-value" value=${r.value} onChange=${(e) => set(i, "value", e.target.value)}>
                  <option value="true">${t("contacts.true")}</option><option value="false">${t("contacts.false")}</option></select>`
              : html`<input aria-label=${t("contacts.attribute_value", { value: i + 1 })} class="attr-value" value=${r.value} disabled=${r.type === "null"}
                  type=${r.type === "number" ? "number" : "text"} onInput=${(e) => set(i, "value", e.target.value)} />`}</td>
            <td><button type="button" aria-label=${t("contacts.remove_attribute", { value: r.key || i + 1 })} onClick=${() => setRows(rows.filter((_, j) => j !== i))}>×</button></td>
          </tr>`,
        )}
      </tbody>
    </table>
    <${FieldError} error=${error} name="custom_attributes" />
    <${ErrorBox} error=${error} />
    <p class="row">
      <button type="button" id="add-attribute" onClick=${() => setRows([...rows, { key: "", value: "", type: "string" }])}>${t("contacts.add_attribute")}</button>
      <button type="submit" class="primary" id="save-attributes">${t("contacts.save_attributes")}</button>
    </p>
  </form>`;
}

function ProfileForm({ detail, onSaved }) {
  const [form, setForm] = useState({ display_name: detail.display_name || "", email: detail.email || "", phone_number: detail.phone_number || "" });
  const [error, setError] = useState(null);
  useEffect(() => setForm({ display_name: detail.display_name || "", email: detail.email || "", phone_number: detail.phone_number || "" }), [detail]);
  const save = async (e) => {
    e.preventDefault();
    setError(null);
    const body = {};
    for (const [k, v] of Object.entries(form)) body[k] = v.trim() ? v : null;
    try {
      onSaved(await patch(`/api/v1/contacts/${detail.id}`, body));
      toast(t("contacts.profile_saved"));
    } catch (err) {
      setError(err);
    }
  };
  const input = (field, label, type = "text") => html`<div>
    <label for=${`contact-${field}`}>${label}</label>
    <input id=${`contact-${field}`} type=${type} value=${form[field]} onInput=${(e) => setForm({ ...form, [field]: e.target.value })} />
    <${FieldError} error=${error} name=${field} />
  </div>`;
  return html`<form id="profile-form" onSubmit=${save}>
    <h3>${t("contacts.profile")}</h3>
    <${ErrorBox} error=${error} />
    <div class="grid">${input("display_name", t("contacts.display_name"))}${input("email", t("common.email"), "email")}${input("phone_number", t("contacts.phone_number"), "tel")}</div>
    <p><button type="submit" class="primary">${t("contacts.save_profile")}</button></p>
  </form>`;
}

/** Pick another contact by search and merge it into this person. */
function MergePicker({ detail, orgId, onMerged }) {
  const [q, setQ] = useState("");
  const [results, setResults] = useState(null);
  const [error, setError] = useState(null);
  const search = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const page = await get(`/api/v1/orgs/${orgId}/contacts?limit=20&q=${encodeURIComponent(q)}`);
      setResults(page.items.filter((c) => !detail.person.contact_ids.includes(c.id)));
    } catch (err) {
      setError(err);
    }
  };
  const merge = async (c) => {
    if (!confirm(t("contacts.merge_into_both_stay_reachable", { c: name(c), type: c.channel.type, detail: name(detail) }))) return;
    try {
      onMerged(await post(`/api/v1/contacts/${detail.id}/merge`, { other_contact_id: c.id }));
      toast(t("contacts.merged_2", { c: name(c) }));
      setResults(null);
      setQ("");
    } catch (err) {
      setError(err);
    }
  };
  return html`<div id="merge-picker">
    <h3>${t("contacts.merge_with_another_contact")}</h3>
    <form class="row" onSubmit=${search}>
      <label class="sr-only" for="merge-search">${t("contacts.find_the_contact_to_merge")}</label>
      <input id="merge-search" type="search" placeholder=${t("contacts.name_username_phone_email")} value=${q} onInput=${(e) => setQ(e.target.value)} style="max-width:20rem" />
      <button type="submit" id="merge-search-button">${t("contacts.find")}</button>
    </form>
    <${ErrorBox} error=${error} />
    ${results && html`<ul class="pick-list" id="merge-results">
      ${results.map(
        (c) => html`<li data-contact=${c.id}>${name(c)} <${ChannelBadge} contact=${c} />
          <button type="button" class="merge-button" onClick=${() => merge(c)}>${t("contacts.merge")}</button></li>`,
      )}
      ${!results.length && html`<li class="muted">${t("contacts.no_other_contact_matches")}</li>`}
    </ul>`}
  </div>`;
}

/** Erase needs the word ERASE typed. */
function EraseForm({ detail, onErased }) {
  const [typed, setTyped] = useState("");
  const [error, setError] = useState(null);
  const erase = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const report = await del(`/api/v1/contacts/${detail.id}`);
      toast(t("contacts.erased_and", { value: (plural(report.contacts, "contact")), value2: (plural(report.conversations, "conversation")), value3: (plural(report.channel_messages, "message")) }));
      onErased();
    } catch (err) {
      setError(err);
    }
  };
  return html`<form id="erase-form" class="danger-zone" onSubmit=${erase}>
    <h3>${t("contacts.erase_this_person")}</h3>
    <p class="muted">${t("contacts.deletes")} ${plural(detail.person.contact_ids.length, "contact")} ${t("contacts.of_this_person_their_messages")}</p>
    <label for="erase-confirm">${t("common.type")} <strong>${t("contacts.erase")}</strong> ${t("contacts.to_confirm")}</label>
    <input id="erase-confirm" autocomplete="off" value=${typed} onInput=${(e) => setTyped(e.target.value)} style="max-width:12rem" />
    <${ErrorBox} error=${error} />
    <p><button type="submit" class="danger" id="erase-button" disabled=${typed !== "ERASE"}>${t("contacts.erase_permanently")}</button></p>
  </form>`;
}

function ContactPanel({ id, orgId, onChanged, onErased }) {
  const load = useLoad(() => get(`/api/v1/contacts/${id}`), [id]);
  const [detail, setDetail] = useState(null);
  useEffect(() => setDetail(load.data), [load.data]);
  const saved = (d) => {
    setDetail(d);
    onChanged();
  };
  const consent = async (granted) => {
    try {
      saved(await post(`/api/v1/contacts/${id}/consent`, { status: granted ? "granted" : "revoked", source: "ui" }));
    } catch (err) {
      toastError(err);
    }
  };
  const block = async (blocked) => {
    try {
      saved(await patch(`/api/v1/contacts/${id}`, { is_blocked: blocked }));
    } catch (err) {
      toastError(err);
    }
  };
  const unmerge = async (c) => {
    try {
      await post(`/api/v1/contacts/${c.id}/unmerge`);
      toast(t("contacts.is_a_contact_of_its", { c: name(c) }));
      load.reload();
      onChanged();
    } catch (err) {
      toastError(err);
    }
  };
  if (!detail) return html`<div class="card"><${ErrorBox} error=${load.error} /><${Loading} load=${load} /></div>`;
  const write = can("conversations.handle");
  const merged = detail.person.contact_ids.length > 1;
  return html`<div class="card contact-panel" id="contact-panel" data-contact=${detail.id}>
    <h2>${name(detail)}</h2>
    <p class="row" id="contact-channels">
      ${detail.channels.map(
        (c) => html`<span class="contact-channel" data-contact=${c.id}><${ChannelBadge} contact=${c} /> <span class="muted">${c.username ? `@${c.username}` : c.external_id}</span>
          ${write && merged && html` <button type="button" class="unmerge-button" aria-label=${t("contacts.unmerge_2", { c: name(c), type: c.channel.type })} onClick=${() => unmerge(c)}>${t("contacts.unmerge")}</button>`}</span>`,
      )}
    </p>
    <p class="muted">
      ${t("contacts.messages_in_out_seen", { inbound: plural(detail.person.inbound_messages, "message"), outbound: plural(detail.person.outbound_messages, "message"), first: formatDate(detail.person.first_seen_at) || t("contacts.never"), last: formatDate(detail.person.last_seen_at) || t("contacts.never") })}
    </p>
    <div class="row">
      <label class="check"><input type="checkbox" id="consent-toggle" style="width:auto" disabled=${!write}
        checked=${detail.consent_status === "granted"} onChange=${(e) => consent(e.target.checked)} /> ${t("contacts.may_be_messaged_consent")}</label>
      <span class=${"badge " + (detail.consent_status === "granted" ? "ok" : detail.consent_status === "revoked" ? "bad" : "")} id="consent-status">${CONSENT()[detail.consent_status]}</span>
      ${detail.consent_source && html`<span class="muted small">${t("contacts.by", { consent_source: detail.consent_source, consent_updated_at: formatDate(detail.consent_updated_at) })}</span>`}
      <label class="check"><input type="checkbox" id="blocked-toggle" style="width:auto" disabled=${!write}
        checked=${detail.is_blocked} onChange=${(e) => block(e.target.checked)} /> ${t("contacts.blocked")}</label>
    </div>
    ${write
      ? html`<${TagsEditor} detail=${detail} onSaved=${saved} />
          <${ProfileForm} detail=${detail} onSaved=${saved} />
          <${AttributesEditor} detail=${detail} onSaved=${saved} />`
      : html`<h3>${t("contacts.tags")}</h3><ul class="chips" aria-label=${t("contacts.tags")}>${detail.tags.map((tv) => html`<li class="chip" data-tag=${tv}>${tv}</li>`)}</ul>
          <h3>${t("contacts.custom_attributes")}</h3><dl>${Object.entries(detail.custom_attributes).map(([k, v]) => html`<dt>${k}</dt><dd>${String(v)}</dd>`)}</dl>`}
    <h3>${t("contacts.conversations")}</h3>
    <ul class="pick-list" id="contact-conversations">
      ${detail.conversations.map(
        (c) => html`<li data-conversation=${c.id}><a href=${`/bots/${c.bot_id}/conversations?conversation=${c.id}`}>${c.bot_name} · ${c.channel}</a>
          <span class="muted"> ${c.status} · ${plural(c.message_count, "message")} · ${formatDate(c.last_message_at || c.created_at)}</span></li>`,
      )}
      ${!detail.conversations.length && html`<li class="muted">${t("contacts.no_conversations")}</li>`}
    </ul>
    ${write && html`<${MergePicker} detail=${detail} orgId=${orgId} onMerged=${saved} />`}
    ${can("org.manage") &&
    html`<h3>${t("contacts.personal_data")}</h3>
      <p><a class="button" id="export-link" href=${`/api/v1/contacts/${detail.id}/export`} download=${`contact-${detail.id}-export.json`}>${t("contacts.download_everything_stored_json")}</a></p>
      <${EraseForm} detail=${detail} onErased=${onErased} />`}
  </div>`;
}

function Contacts({ params }) {
  const org = currentOrg();
  const [q, setQ] = useState("");
  const [filters, setFilters] = useState({ q: "", channel_type: "", tag: "", consent: "" });
  const [tick, setTick] = useState(0);
  const [pages, setPages] = useState([]);
  const [selected, setSelected] = useState(params.contactId ? Number(params.contactId) : null);
  const qs = new URLSearchParams({ limit: "50" });
  for (const [k, v] of Object.entries(filters)) if (v) qs.set(k, v);
  const list = useLoad(() => get(`/api/v1/orgs/${org.id}/contacts?${qs}`), [org.id, qs.toString(), tick]);
  const items = list.data ? [list.data, ...pages].flatMap((p) => p.items) : [];
  const last = pages.length ? pages[pages.length - 1] : list.data;
  const reload = () => (setPages([]), setTick((tv) => tv + 1));
  const select = (id) => {
    setSelected(id);
    history.replaceState(null, "", id ? `/contacts/${id}` : "/contacts");
  };
  const more = async () => {
    try {
      setPages([...pages, await get(`/api/v1/orgs/${org.id}/contacts?${qs}&after=${encodeURIComponent(last.next_cursor)}`)]);
    } catch (err) {
      toastError(err);
    }
  };
  const setFilter = (k, v) => (setPages([]), setFilters({ ...filters, [k]: v }));
  const filtered = Object.values(filters).some(Boolean);
  return html`<${Page} title=${t("contacts.contacts")}>
    <form class="row" id="contact-filters" onSubmit=${(e) => (e.preventDefault(), setFilter("q", q))}>
      <div><label for="contact-search">${t("common.search")}</label>
        <input id="contact-search" type="search" placeholder=${t("contacts.name_username_phone_email_id")} value=${q} onInput=${(e) => setQ(e.target.value)} /></div>
      <div><label for="filter-channel">${t("common.channel")}</label>
        <select id="filter-channel" value=${filters.channel_type} onChange=${(e) => setFilter("channel_type", e.target.value)}>
          <option value="">${t("common.any")}</option>${CHANNEL_TYPES.map((tv) => html`<option value=${tv}>${tv}</option>`)}
        </select></div>
      <div><label for="filter-tag">${t("contacts.tag")}</label>
        <input id="filter-tag" value=${filters.tag} onChange=${(e) => setFilter("tag", e.target.value)} style="max-width:10rem" /></div>
      <div><label for="filter-consent">${t("contacts.consent")}</label>
        <select id="filter-consent" value=${filters.consent} onChange=${(e) => setFilter("consent", e.target.value)}>
          <option value="">${t("common.any")}</option>${Object.keys(CONSENT()).map((c) => html`<option value=${c}>${c}</option>`)}
        </select></div>
      <button type="submit" id="contact-search-button">${t("common.search")}</button>
    </form>
    <${ErrorBox} error=${list.error} />
    <div class=${"split contacts" + (selected ? " has-selection" : "")}>
      <div class="card" style="flex:1;min-width:260px">
        <ul class="pick-list" id="contact-list">
          ${items.map(
            (c) => html`<li data-contact=${c.id} class=${selected === c.id ? "active" : ""}>
              <a href=${`/contacts/${c.id}`} onClick=${(e) => (e.preventDefault(), select(c.id))}><strong>${name(c)}</strong></a>
              <${ChannelBadge} contact=${c} />${c.person_id && html` <span class="badge">${t("contacts.merged")}</span>`}
              ${c.tags.length > 0 && html`<div class="muted small">${c.tags.join(", ")}</div>`}
              <div class="muted small">${t("contacts.last_seen_2")} ${formatDate(c.last_seen_at) || t("common.never")}</div>
            </li>`,
          )}
          <${Loading} load=${list} li />
          ${list.data && !items.length && html`<li class="muted">${filtered ? t("contacts.no_contacts_match") : t("contacts.no_contacts_yet_they_appear")}</li>`}
        </ul>
        ${last && last.next_cursor && html`<p><button type="button" id="more-contacts" onClick=${more}>${t("common.load_more")}</button></p>`}
      </div>
      <div style="flex:2;min-width:280px">
        ${selected
          ? html`<${ContactPanel} key=${selected} id=${selected} orgId=${org.id} onChanged=${reload} onErased=${() => (select(null), reload())} />`
          : html`<div class="card muted">${t("contacts.select_a_contact")}</div>`}
      </div>
    </div>
  <//>`;
}

route("/contacts", Contacts, { nav: { label: "nav.contacts", section: "nav.support", order: 31, requires: "conversations.read" } });
route("/contacts/:contactId", Contacts);
