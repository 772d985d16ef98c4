// Creating an organization and its settings (name, audit retention,
// deletion). Switching organization is the sidebar's switcher.
import { html, Page, useLoad, useState, ErrorBox, Field, toast } from "../ui.js";
import { route, navigate } from "../router.js";
import { get, post, patch, del } from "../api.js";
import { currentOrg, refreshMe, selectOrg, can } from "../session.js";

function NewOrg() {
  const [name, setName] = useState("");
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const org = await post("/api/v1/orgs", { name });
      await refreshMe();
      selectOrg(org.id);
      toast(`Created ${org.name}`);
      navigate("/dashboard");
    } catch (err) {
      setError(err);
    }
  };
  return html`<${Page} title="New organization">
    <form class="card" onSubmit=${submit} id="new-org">
      <${ErrorBox} error=${error} />
      <${Field} label="Name" name="name" required value=${name} onInput=${setName} error=${error} />
      <p class="muted">You will be its owner. Invite others from Members.</p>
      <p><button class="primary" type="submit">Create organization</button></p>
    </form>
  <//>`;
}

function Settings() {
  const org = currentOrg();
  const loaded = useLoad(() => get(`/api/v1/orgs/${org.id}`), [org.id]);
  const [form, setForm] = useState(null);
  const [error, setError] = useState(null);
  const [confirm, setConfirm] = useState("");
  const data = form || (loaded.data && { name: loaded.data.name, retention_days: loaded.data.retention_days });
  const save = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      await patch(`/api/v1/orgs/${org.id}`, { name: data.name, retention_days: Number(data.retention_days) });
      await refreshMe();
      toast("Saved");
    } catch (err) {
      setError(err);
    }
  };
  const remove = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      await del(`/api/v1/orgs/${org.id}`, { confirm_name: confirm });
      const me = await refreshMe();
      if (me && me.organizations.length) selectOrg(me.organizations[0].id);
      toast("Organization deleted");
      navigate("/dashboard");
    } catch (err) {
      setError(err);
    }
  };
  return html`<${Page} title="Organization settings">
    <${ErrorBox} error=${loaded.error || (error)} />
    ${data &&
    html`<form class="card" onSubmit=${save}>
      <h2>General</h2>
      <${Field} label="Name" name="name" required value=${data.name} onInput=${(v) => setForm({ ...data, name: v })} error=${error} disabled=${!can("org.manage")} />
      <${Field} label="Keep the audit log for (days; security events are kept for good)" name="retention_days" type="number" min="30" max="3650" value=${data.retention_days} onInput=${(v) => setForm({ ...data, retention_days: v })} error=${error} disabled=${!can("org.manage")} />
      <p class="muted">Plan: <span class="badge">${loaded.data.plan_tier}</span> · Status: <span class="badge">${loaded.data.status}</span></p>
      ${can("org.manage") && html`<p><button class="primary" type="submit">Save</button></p>`}
    </form>`}
    ${can("org.delete") &&
    html`<form class="card" onSubmit=${remove}>
      <h2>Delete the organization</h2>
      <p class="muted">Deletes its bots, conversations, knowledge and members for good. Type the organization's name to confirm.</p>
      <${Field} label="Name" name="confirm_name" value=${confirm} onInput=${setConfirm} error=${error} />
      <p><button class="danger" type="submit" disabled=${!data || confirm !== data.name}>Delete organization</button></p>
    </form>`}
  <//>`;
}

route("/orgs/new", NewOrg, { noOrg: true });
route("/settings", Settings, { nav: { label: "Settings", section: "Organization", order: 80 } });
