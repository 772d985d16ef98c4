// Members with their roles, and invitations (how people join).
import { html, Page, useLoad, useState, ErrorBox, FieldError, Field, CopyButton, toast, toastError, formatDate, Loading } from "../ui.js";
import { route } from "../router.js";
import { get, post, patch, del } from "../api.js";
import { currentOrg, currentUser, can } from "../session.js";
import { t } from "../i18n.js";

function InviteForm({ org, roles, teams, teamRoles, onSent }) {
  const defaultTeamRole = teamRoles.find((r) => r.is_default);
  const [form, setForm] = useState({ email: "", role: "viewer", team_id: "", team_role_id: defaultTeamRole ? String(defaultTeamRole.id) : "" });
  const [error, setError] = useState(null);
  // The accept link of the invitation just sent, and whether it was emailed.
  const [sent, setSent] = useState(null);
  const set = (key) => (value) => setForm({ ...form, [key]: value });
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const body = { email: form.email, role: form.role };
      if (form.team_id) body.team_id = Number(form.team_id);
      if (form.team_id && form.team_role_id) body.team_role_id = Number(form.team_role_id);
      const answer = await post(`/api/v1/orgs/${org.id}/invitations`, body);
      setSent(answer);
      toast(answer.emailed ? t("members.invitation_emailed_to", { email: answer.email }) : t("members.invitation_created_for", { email: answer.email }));
      setForm({ ...form, email: "" });
      onSent();
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="card" onSubmit=${submit} id="invite-form">
    <h2>${t("members.invite_someone")}</h2>
    <${ErrorBox} error=${error} />
    <div class="row" style="align-items:flex-end">
      <div style="flex:2"><${Field} label=${t("common.email")} name="email" type="email" required value=${form.email} onInput=${set("email")} error=${error} /></div>
      <div style="flex:1">
        <label for="invite-role">${t("common.role")}</label>
        <select id="invite-role" value=${form.role} onChange=${(e) => set("role")(e.target.value)}>
          ${roles.map((r) => html`<option value=${r.name}>${r.name}</option>`)}
        </select>
      </div>
      <div style="flex:1">
        <label for="invite-team">${t("members.team_optional")}</label>
        <select id="invite-team" value=${form.team_id} onChange=${(e) => set("team_id")(e.target.value)}>
          <option value="">${t("members.no_team")}</option>
          ${teams.map((tv) => html`<option value=${String(tv.id)}>${tv.name}</option>`)}
        </select>
      </div>
      ${form.team_id &&
      html`<div style="flex:1">
        <label for="invite-team-role">${t("members.team_role")}</label>
        <select id="invite-team-role" value=${form.team_role_id} onChange=${(e) => set("team_role_id")(e.target.value)}>
          ${!defaultTeamRole && html`<option value="">${t("members.choose_a_team_role")}</option>`}
          ${teamRoles.map((r) => html`<option value=${String(r.id)}>${r.name}${r.is_default ? " " + t("members.default") : ""}</option>`)}
        </select>
        <${FieldError} error=${error} name="team_role_id" />
      </div>`}
      <button class="primary" type="submit">${t("members.send_invitation")}</button>
    </div>
    <${FieldError} error=${error} name="role" />
    ${sent && html`<${InvitationLink} sent=${sent} />`}
  </form>`;
}

// The accept link of a just-sent invitation. Without SMTP nothing was
// emailed: the link is the only way in, so it says so and offers a copy.
function InvitationLink({ sent }) {
  return html`<div class=${sent.emailed ? "muted" : "alert"} id="invitation-link" role="status" style="margin-top:.5rem">
    ${sent.emailed
      ? html`<p>${t("members.invitation_emailed_pass_link", { email: html`<strong>${sent.email}</strong>` })}</p>`
      : html`<p>${t("members.no_email_copy_link", { none: html`<strong>${t("members.no_email_was_sent")}</strong>`, email: html`<strong>${sent.email}</strong>` })}</p>`}
    <div class="row"><code id="invitation-url" style="word-break:break-all">${sent.accept_url}</code><${CopyButton} text=${sent.accept_url} what=${t("members.invitation_link")} id="copy-invitation-link" /></div>
  </div>`;
}

function Invitations({ org, version, onSent }) {
  const [status, setStatus] = useState("pending");
  const list = useLoad(() => get(`/api/v1/orgs/${org.id}/invitations?limit=200${status ? `&status=${status}` : ""}`), [org.id, status, version]);
  const act = async (fn, done) => {
    try {
      await fn();
      toast(done);
      list.reload();
    } catch (err) {
      toastError(err);
    }
  };
  return html`<div class="card">
    <div class="row" style="justify-content:space-between">
      <h2>${t("members.invitations")}</h2>
      <select aria-label=${t("common.status")} style="width:auto" value=${status} onChange=${(e) => setStatus(e.target.value)}>
        ${["pending", "accepted", "declined", "expired", "revoked", ""].map((s) => html`<option value=${s}>${s || "all"}</option>`)}
      </select>
    </div>
    <${ErrorBox} error=${list.error} />
    <table>
      <thead><tr><th>${t("common.email")}</th><th>${t("common.role")}</th><th>${t("members.team")}</th><th>${t("common.status")}</th><th>${t("members.expires")}</th><th></th></tr></thead>
      <tbody>
        ${list.data &&
        list.data.items.map(
          (i) => html`<tr data-invitation=${i.email}>
            <td>${i.email}</td><td>${i.role}</td><td>${i.team || ""}</td>
            <td><span class="badge">${i.status}</span></td><td class="muted">${formatDate(i.expires_at)}</td>
            <td class="row">
              ${can("members.manage") && i.status !== "accepted" && html`<button onClick=${() => act(async () => onSent(await post(`/api/v1/invitations/${i.id}/resend`)), t("members.new_link_created"))}>${t("members.resend")}</button>`}
              ${can("members.manage") && i.status === "pending" && html`<button class="danger" onClick=${() => act(() => del(`/api/v1/invitations/${i.id}`), t("members.revoked"))}>${t("common.revoke")}</button>`}
            </td>
          </tr>`,
        )}
        <${Loading} load=${list} cols="6" />
        ${list.data && !list.data.items.length && html`<tr><td colspan="6" class="muted">${t("members.no_invitations")}</td></tr>`}
      </tbody>
    </table>
  </div>`;
}

function Members() {
  const org = currentOrg();
  const me = currentUser();
  const [version, setVersion] = useState(0);
  const [resent, setResent] = useState(null);
  const members = useLoad(() => get(`/api/v1/orgs/${org.id}/members?limit=200`), [org.id, version]);
  const roles = useLoad(() => get(`/api/v1/orgs/${org.id}/roles`), [org.id]);
  const teams = useLoad(() => get(`/api/v1/orgs/${org.id}/teams?limit=200`), [org.id]);
  const teamRoles = useLoad(() => get(`/api/v1/orgs/${org.id}/team-roles`), [org.id]);
  const manage = can("members.manage");
  const changeRole = async (m, role) => {
    try {
      await patch(`/api/v1/orgs/${org.id}/members/${m.user_id}`, { role });
      toast(t("members.is_now", { email: m.email, role }));
    } catch (err) {
      toastError(err);
    }
    setVersion((v) => v + 1);
  };
  const remove = async (m) => {
    if (!confirm(t("members.remove_from", { email: m.email, name: org.name }))) return;
    try {
      await del(`/api/v1/orgs/${org.id}/members/${m.user_id}`);
      toast(t("members.removed", { email: m.email }));
    } catch (err) {
      toastError(err);
    }
    setVersion((v) => v + 1);
  };
  return html`<${Page} title=${t("members.members")}>
    <${ErrorBox} error=${roles.error || teams.error || teamRoles.error} />
    ${manage && roles.data && teams.data && teamRoles.data && html`<${InviteForm} org=${org} roles=${roles.data} teams=${teams.data.items} teamRoles=${teamRoles.data} onSent=${() => setVersion((v) => v + 1)} />`}
    ${resent && html`<div class="card"><h2>${t("members.new_invitation_link")}</h2><${InvitationLink} sent=${resent} /></div>`}
    <div class="card">
      <h2>${t("members.members_of", { name: org.name })}</h2>
      <${ErrorBox} error=${members.error} />
      <table>
        <thead><tr><th>${t("common.name")}</th><th>${t("common.email")}</th><th>${t("common.role")}</th><th>${t("members.2fa")}</th><th>${t("members.joined")}</th><th></th></tr></thead>
        <tbody>
          <${Loading} load=${members} cols="6" />
          ${members.data &&
          members.data.items.map(
            (m) => html`<tr data-member=${m.email}>
              <td>${m.name}</td><td>${m.email}</td>
              <td>${manage && roles.data
                ? html`<select aria-label=${t("members.role_of", { email: m.email })} value=${m.role} onChange=${(e) => changeRole(m, e.target.value)}>
                    ${roles.data.map((r) => html`<option value=${r.name}>${r.name}</option>`)}
                  </select>`
                : html`<span class="badge">${m.role}</span>`}</td>
              <td>${m.two_factor_enabled ? html`<span class="badge ok">${t("common.on")}</span>` : html`<span class="badge">${t("members.off")}</span>`}</td>
              <td class="muted">${formatDate(m.joined_at)}</td>
              <td>${manage && m.user_id !== me.user.id && html`<button class="danger" onClick=${() => remove(m)}>${t("common.remove")}</button>`}</td>
            </tr>`,
          )}
        </tbody>
      </table>
    </div>
    <${Invitations} org=${org} version=${version} onSent=${setResent} />
  <//>`;
}

route("/members", Members, { nav: { label: "nav.members", section: "nav.organization", order: 60, requires: "members.read" } });
