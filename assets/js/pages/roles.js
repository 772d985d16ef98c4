// Roles: the built-in ones and custom roles edited as permission sets from
// the catalogue (never more than one's own).
import { html, Page, useLoad, useState, ErrorBox, Field, toast, toastError, Loading } from "../ui.js";
import { route } from "../router.js";
import { get, post, patch, del } from "../api.js";
import { currentOrg, can } from "../session.js";
import { t } from "../i18n.js";

/** Checkboxes over the permission catalogue; those the user lacks are disabled. */
export function PermissionPicker({ catalogue, value, onChange, name = "permissions" }) {
  const org = currentOrg();
  const toggle = (p) => onChange(value.includes(p) ? value.filter((x) => x !== p) : [...value, p]);
  return html`<div class="checks" role="group" aria-label=${t("roles.permissions")}>
    ${catalogue.map(
      (p) => html`<label class="check" title=${p.description}>
        <input type="checkbox" name=${name} value=${p.name} checked=${value.includes(p.name)}
          disabled=${!org.permissions.includes(p.name)} onChange=${() => toggle(p.name)} />
        <span><code>${p.name}</code><br /><span class="muted">${p.description}</span></span>
      </label>`,
    )}
  </div>`;
}

function RoleEditor({ org, catalogue, role, onDone }) {
  const [name, setName] = useState(role ? role.name : "");
  const [description, setDescription] = useState(role ? role.description || "" : "");
  const [permissions, setPermissions] = useState(role ? role.permissions : []);
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const body = { name, description, permissions };
      if (role) await patch(`/api/v1/roles/${role.id}`, body);
      else await post(`/api/v1/orgs/${org.id}/roles`, body);
      toast(role ? t("roles.role_saved") : `Created ${name}`);
      onDone();
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="card" onSubmit=${submit} id="role-editor">
    <h2>${role ? t("roles.edit", { name: role.name }) : t("roles.new_custom_role")}</h2>
    <${ErrorBox} error=${error} />
    <div class="row" style="align-items:flex-end">
      <div style="flex:1"><${Field} label=${t("common.name")} name="name" required value=${name} onInput=${setName} error=${error} /></div>
      <div style="flex:2"><${Field} label=${t("roles.description")} name="description" value=${description} onInput=${setDescription} error=${error} /></div>
    </div>
    <label>${t("roles.permissions")}</label>
    <${PermissionPicker} catalogue=${catalogue} value=${permissions} onChange=${setPermissions} />
    <p class="row"><button class="primary" type="submit">${role ? t("common.save") : t("roles.create_role")}</button>${role && html`<button type="button" onClick=${onDone}>${t("common.cancel")}</button>`}</p>
  </form>`;
}

function Roles() {
  const org = currentOrg();
  const roles = useLoad(() => get(`/api/v1/orgs/${org.id}/roles`), [org.id]);
  const catalogue = useLoad(() => get("/api/v1/permissions"));
  const [editing, setEditing] = useState(null);
  const remove = async (r) => {
    if (!confirm(t("roles.delete_the_role", { name: r.name }))) return;
    try {
      await del(`/api/v1/roles/${r.id}`);
      toast(t("roles.deleted", { name: r.name }));
      roles.reload();
    } catch (err) {
      toastError(err);
    }
  };
  const done = () => {
    setEditing(null);
    roles.reload();
  };
  return html`<${Page} title=${t("roles.roles")}>
    ${can("roles.manage") && catalogue.data &&
    html`<${RoleEditor} key=${editing ? editing.id : "new"} org=${org} catalogue=${catalogue.data} role=${editing} onDone=${done} />`}
    <div class="card">
      <${ErrorBox} error=${roles.error} />
      <table>
        <thead><tr><th>${t("common.role")}</th><th>${t("roles.permissions")}</th><th>${t("roles.members")}</th><th></th></tr></thead>
        <tbody>
          <${Loading} load=${roles} cols="4" />
          ${roles.data &&
          roles.data.map(
            (r) => html`<tr data-role=${r.name}>
              <td><strong>${r.name}</strong> ${r.builtin && html`<span class="badge">${t("roles.built_in")}</span>`}<div class="muted">${r.description || ""}</div></td>
              <td class="muted" style="font-size:.8rem">${r.permissions.join(", ")}</td>
              <td>${r.member_count}</td>
              <td class="row">${!r.builtin && can("roles.manage") &&
                html`<button onClick=${() => setEditing(r)}>${t("common.edit")}</button><button class="danger" onClick=${() => remove(r)}>${t("common.delete")}</button>`}</td>
            </tr>`,
          )}
        </tbody>
      </table>
    </div>
  <//>`;
}

route("/roles", Roles, { nav: { label: "nav.roles", section: "nav.organization", order: 61, requires: "members.read" } });
