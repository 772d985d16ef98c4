// Teams, their members, and team roles.
import { html, Page, useLoad, useState, ErrorBox, Field, toast, toastError, Loading } from "../ui.js";
import { route } from "../router.js";
import { get, post, patch, del } from "../api.js";
import { currentOrg, can } from "../session.js";
import { PermissionPicker } from "./roles.js";
import { t } from "../i18n.js";

function TeamMembers({ team, teamRoles, orgMembers, onChange }) {
  const list = useLoad(() => get(`/api/v1/teams/${team.id}/members`), [team.id]);
  const [userId, setUserId] = useState("");
  const [roleId, setRoleId] = useState("");
  const manage = can("members.manage");
  const act = async (fn) => {
    try {
      await fn();
      list.reload();
      onChange();
    } catch (err) {
      toastError(err);
    }
  };
  const add = (e) => {
    e.preventDefault();
    const body = { user_id: Number(userId) };
    if (roleId) body.team_role_id = Number(roleId);
    act(() => post(`/api/v1/teams/${team.id}/members`, body));
  };
  return html`<div>
    <table>
      <thead><tr><th>${t("teams.member")}</th><th>${t("teams.team_role")}</th><th></th></tr></thead>
      <tbody>
        ${list.data &&
        list.data.map(
          (m) => html`<tr>
            <td>${m.name} <span class="muted">${m.email}</span></td>
            <td>${manage
              ? html`<select value=${String(m.team_role_id)} onChange=${(e) => act(() => patch(`/api/v1/teams/${team.id}/members/${m.user_id}`, { team_role_id: Number(e.target.value) }))}>
                  ${teamRoles.map((r) => html`<option value=${String(r.id)}>${r.name}</option>`)}
                </select>`
              : m.team_role}</td>
            <td>${manage && html`<button class="danger" onClick=${() => act(() => del(`/api/v1/teams/${team.id}/members/${m.user_id}`))}>${t("common.remove")}</button>`}</td>
          </tr>`,
        )}
      </tbody>
    </table>
    ${manage &&
    html`<form class="row" style="margin-top:.5rem" onSubmit=${add}>
      <select aria-label=${t("teams.member_to_add")} value=${userId} onChange=${(e) => setUserId(e.target.value)} style="flex:2">
        <option value="">${t("teams.add_a_member")}</option>
        ${orgMembers.map((m) => html`<option value=${String(m.user_id)}>${m.name || m.email} (${m.email})</option>`)}
      </select>
      <select aria-label=${t("teams.team_role")} value=${roleId} onChange=${(e) => setRoleId(e.target.value)} style="flex:1">
        <option value="">${t("teams.default_team_role")}</option>
        ${teamRoles.map((r) => html`<option value=${String(r.id)}>${r.name}</option>`)}
      </select>
      <button type="submit" disabled=${!userId}>${t("common.add")}</button>
    </form>`}
  </div>`;
}

function TeamRoles({ org, catalogue, teamRoles }) {
  const [name, setName] = useState("");
  const [permissions, setPermissions] = useState([]);
  const [isDefault, setIsDefault] = useState(false);
  const [error, setError] = useState(null);
  const create = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      await post(`/api/v1/orgs/${org.id}/team-roles`, { name, permissions, is_default: isDefault });
      setName("");
      setPermissions([]);
      teamRoles.reload();
    } catch (err) {
      setError(err);
    }
  };
  const remove = async (r) => {
    try {
      await del(`/api/v1/team-roles/${r.id}`);
      teamRoles.reload();
    } catch (err) {
      toastError(err);
    }
  };
  return html`<div class="card">
    <h2>${t("teams.team_roles")}</h2>
    <table>
      <thead><tr><th>${t("common.name")}</th><th>${t("teams.permissions")}</th><th></th></tr></thead>
      <tbody>
        ${teamRoles.data &&
        teamRoles.data.map(
          (r) => html`<tr><td>${r.name} ${r.is_default && html`<span class="badge">${t("teams.default")}</span>`}</td>
            <td class="muted" style="font-size:.8rem">${r.permissions.join(", ")}</td>
            <td>${can("roles.manage") && html`<button class="danger" onClick=${() => remove(r)}>${t("common.delete")}</button>`}</td></tr>`,
        )}
      </tbody>
    </table>
    ${can("roles.manage") &&
    html`<form onSubmit=${create}>
      <${ErrorBox} error=${error} />
      <${Field} label=${t("teams.new_team_role")} name="name" required value=${name} onInput=${setName} error=${error} />
      <${PermissionPicker} catalogue=${catalogue} value=${permissions} onChange=${setPermissions} name="team-permissions" />
      <label class="check"><input type="checkbox" checked=${isDefault} onChange=${(e) => setIsDefault(e.target.checked)} /> <span>${t("teams.default_for_new_team_members")}</span></label>
      <p><button type="submit">${t("teams.create_team_role")}</button></p>
    </form>`}
  </div>`;
}

function Teams() {
  const org = currentOrg();
  const teams = useLoad(() => get(`/api/v1/orgs/${org.id}/teams?limit=200`), [org.id]);
  const teamRoles = useLoad(() => get(`/api/v1/orgs/${org.id}/team-roles`), [org.id]);
  const members = useLoad(() => get(`/api/v1/orgs/${org.id}/members?limit=200`), [org.id]);
  const catalogue = useLoad(() => get("/api/v1/permissions"));
  const [name, setName] = useState("");
  const [error, setError] = useState(null);
  const create = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      await post(`/api/v1/orgs/${org.id}/teams`, { name });
      setName("");
      teams.reload();
    } catch (err) {
      setError(err);
    }
  };
  const remove = async (tv) => {
    if (!confirm(t("teams.delete_the_team", { name: tv.name }))) return;
    await del(`/api/v1/teams/${tv.id}`);
    teams.reload();
  };
  return html`<${Page} title=${t("teams.teams")}>
    ${can("members.manage") &&
    html`<form class="card row" style="align-items:flex-end" onSubmit=${create}>
      <div style="flex:1"><${Field} label=${t("teams.new_team")} name="name" required value=${name} onInput=${setName} error=${error} /></div>
      <button class="primary" type="submit">${t("teams.create_team")}</button>
    </form>`}
    <${ErrorBox} error=${teams.error} />
    <${Loading} load=${teams} />
    ${teams.data && !teams.data.items.length && html`<p class="muted" id="no-teams">${t("teams.no_teams_yet")}</p>`}
    ${teams.data && teamRoles.data && members.data &&
    teams.data.items.map(
      (tv) => html`<div class="card" data-team=${tv.name}>
        <div class="row" style="justify-content:space-between"><h2>${tv.name}</h2>${can("members.manage") && html`<button class="danger" onClick=${() => remove(tv)}>${t("teams.delete_team")}</button>`}</div>
        <${TeamMembers} team=${tv} teamRoles=${teamRoles.data} orgMembers=${members.data.items} onChange=${teams.reload} />
      </div>`,
    )}
    ${catalogue.data && html`<${TeamRoles} org=${org} catalogue=${catalogue.data} teamRoles=${teamRoles} />`}
  <//>`;
}

route("/teams", Teams, { nav: { label: "nav.teams", section: "nav.organization", order: 62, requires: "members.read" } });
