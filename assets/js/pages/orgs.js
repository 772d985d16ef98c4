// Creating an organization and its settings (name, audit retention,
// deletion). Switching organization is the sidebar's switcher.
import { html, Page, useLoad, useState, ErrorBox, Field, toast } from "../ui.js";
import { route, navigate } from "../router.js";
import { get, post, patch, del } from "../api.js";
import { currentOrg, refreshMe, selectOrg, can } from "../session.js";
import { t } from "../i18n.js";

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
      toast(t("orgs.created", { name: org.name }));
      navigate("/dashboard");
    } catch (err) {
      setError(err);
    }
  };
  return html`<${Page} title=${t("orgs.new_organization")}>
    <form class="card" onSubmit=${submit} id="new-org">
      <${ErrorBox} error=${error} />
      <${Field} label=${t("common.name")} name="name" required value=${name} onInput=${setName} error=${error} />
      <p class="muted">${t("orgs.you_will_be_its_owner")}</p>
      <p><button class="primary" type="submit">${t("orgs.create_organization")}</button></p>
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
      toast(t("orgs.saved"));
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
      toast(t("orgs.organization_deleted"));
      navigate("/dashboard");
    } catch (err) {
      setError(err);
    }
  };
  return html`<${Page} title=${t("orgs.organization_settings")}>
    <${ErrorBox} error=${loaded.error || (error)} />
    ${data &&
    html`<form class="card" onSubmit=${save}>
      <h2>${t("orgs.general")}</h2>
      <${Field} label=${t("common.name")} name="name" required value=${data.name} onInput=${(v) => setForm({ ...data, name: v })} error=${error} disabled=${!can("org.manage")} />
      <${Field} label=${t("orgs.keep_the_audit_log_for")} name="retention_days" type="number" min="30" max="3650" value=${data.retention_days} onInput=${(v) => setForm({ ...data, retention_days: v })} error=${error} disabled=${!can("org.manage")} />
      <p class="muted">${t("orgs.plan")} <span class="badge">${loaded.data.plan_tier}</span> ${t("orgs.status")} <span class="badge">${loaded.data.status}</span></p>
      ${can("org.manage") && html`<p><button class="primary" type="submit">${t("common.save")}</button></p>`}
    </form>`}
    ${can("org.delete") &&
    html`<form class="card" onSubmit=${remove}>
      <h2>${t("orgs.delete_the_organization")}</h2>
      <p class="muted">${t("orgs.deletes_its_bots_conversations_knowledge")}</p>
      <${Field} label=${t("common.name")} name="confirm_name" value=${confirm} onInput=${setConfirm} error=${error} />
      <p><button class="danger" type="submit" disabled=${!data || confirm !== data.name}>${t("orgs.delete_organization")}</button></p>
    </form>`}
  <//>`;
}

route("/orgs/new", NewOrg, { noOrg: true });
route("/settings", Settings, { nav: { label: "nav.settings", section: "nav.organization", order: 80 } });
