// Members with their roles, and invitations (how people join).
import { html, Page, useLoad, useState, ErrorBox, FieldError, Field, CopyButton, toast, toastError, formatDate, Loading } from "../ui.js";
import { route } from "../router.js";
import { get, post, patch, del } from "../api.js";
import { currentOrg, currentUser, can } from "../session.js";

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
      toast(answer.emailed ? `Invitation emailed to ${answer.email}` : `Invitation created for ${answer.email}: copy the link below`);
      setForm({ ...form, email: "" });
      onSent();
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="card" onSubmit=${submit} id="invite-form">
    <h2>Invite someone</h2>
    <${ErrorBox} error=${error} />
    <div class="row" style="align-items:flex-end">
      <div style="flex:2"><${Field} label="Email" name="email" type="email" required value=${form.email} onInput=${set("email")} error=${error} /></div>
      <div style="flex:1">
        <label for="invite-role">Role</label>
        <select id="invite-role" value=${form.role} onChange=${(e) => set("role")(e.target.value)}>
          ${roles.map((r) => html`<option value=${r.name}>${r.name}</option>`)}
        </select>
      </div>
      <div style="flex:1">
        <label for="invite-team">Team (optional)</label>
        <select id="invite-team" value=${form.team_id} onChange=${(e) => set("team_id")(e.target.value)}>
          <option value="">No team</option>
          ${teams.map((t) => html`<option value=${String(t.id)}>${t.name}</option>`)}
        </select>
      </div>
      ${form.team_id &&
      html`<div style="flex:1">
        <label for="invite-team-role">Team role</label>
        <select id="invite-team-role" value=${form.team_role_id} onChange=${(e) => set("team_role_id")(e.target.value)}>
          ${!defaultTeamRole && html`<option value="">Choose a team role</option>`}
          ${teamRoles.map((r) => html`<option value=${String(r.id)}>${r.name}${r.is_default ? " (default)" : ""}</option>`)}
        </select>
        <${FieldError} error=${error} name="team_role_id" />
      </div>`}
      <button class="primary" type="submit">Send invitation</button>
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
      ? html`<p>The invitation was emailed to <strong>${sent.email}</strong>. You can also pass the link on yourself:</p>`
      : html`<p><strong>No email was sent</strong>: this server has no SMTP server configured. Copy this link and send it to <strong>${sent.email}</strong> yourself (valid 7 days):</p>`}
    <div class="row"><code id="invitation-url" style="word-break:break-all">${sent.accept_url}</code><${CopyButton} text=${sent.accept_url} what="invitation link" id="copy-invitation-link" /></div>
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
      <h2>Invitations</h2>
      <select aria-label="Status" style="width:auto" value=${status} onChange=${(e) => setStatus(e.target.value)}>
        ${["pending", "accepted", "declined", "expired", "revoked", ""].map((s) => html`<option value=${s}>${s || "all"}</option>`)}
      </select>
    </div>
    <${ErrorBox} error=${list.error} />
    <table>
      <thead><tr><th>Email</th><th>Role</th><th>Team</th><th>Status</th><th>Expires</th><th></th></tr></thead>
      <tbody>
        ${list.data &&
        list.data.items.map(
          (i) => html`<tr data-invitation=${i.email}>
            <td>${i.email}</td><td>${i.role}</td><td>${i.team || ""}</td>
            <td><span class="badge">${i.status}</span></td><td class="muted">${formatDate(i.expires_at)}</td>
            <td class="row">
              ${can("members.manage") && i.status !== "accepted" && html`<button onClick=${() => act(async () => onSent(await post(`/api/v1/invitations/${i.id}/resend`)), "New link created")}>Resend</button>`}
              ${can("members.manage") && i.status === "pending" && html`<button class="danger" onClick=${() => act(() => del(`/api/v1/invitations/${i.id}`), "Revoked")}>Revoke</button>`}
            </td>
          </tr>`,
        )}
        <${Loading} load=${list} cols="6" />
        ${list.data && !list.data.items.length && html`<tr><td colspan="6" class="muted">No invitations.</td></tr>`}
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
      toast(`${m.email} is now ${role}`);
    } catch (err) {
      toastError(err);
    }
    setVersion((v) => v + 1);
  };
  const remove = async (m) => {
    if (!confirm(`Remove ${m.email} from ${org.name}?`)) return;
    try {
      await del(`/api/v1/orgs/${org.id}/members/${m.user_id}`);
      toast(`Removed ${m.email}`);
    } catch (err) {
      toastError(err);
    }
    setVersion((v) => v + 1);
  };
  return html`<${Page} title="Members">
    <${ErrorBox} error=${roles.error || teams.error || teamRoles.error} />
    ${manage && roles.data && teams.data && teamRoles.data && html`<${InviteForm} org=${org} roles=${roles.data} teams=${teams.data.items} teamRoles=${teamRoles.data} onSent=${() => setVersion((v) => v + 1)} />`}
    ${resent && html`<div class="card"><h2>New invitation link</h2><${InvitationLink} sent=${resent} /></div>`}
    <div class="card">
      <h2>Members of ${org.name}</h2>
      <${ErrorBox} error=${members.error} />
      <table>
        <thead><tr><th>Name</th><th>Email</th><th>Role</th><th>2FA</th><th>Joined</th><th></th></tr></thead>
        <tbody>
          <${Loading} load=${members} cols="6" />
          ${members.data &&
          members.data.items.map(
            (m) => html`<tr data-member=${m.email}>
              <td>${m.name}</td><td>${m.email}</td>
              <td>${manage && roles.data
                ? html`<select aria-label=${`Role of ${m.email}`} value=${m.role} onChange=${(e) => changeRole(m, e.target.value)}>
                    ${roles.data.map((r) => html`<option value=${r.name}>${r.name}</option>`)}
                  </select>`
                : html`<span class="badge">${m.role}</span>`}</td>
              <td>${m.two_factor_enabled ? html`<span class="badge ok">on</span>` : html`<span class="badge">off</span>`}</td>
              <td class="muted">${formatDate(m.joined_at)}</td>
              <td>${manage && m.user_id !== me.user.id && html`<button class="danger" onClick=${() => remove(m)}>Remove</button>`}</td>
            </tr>`,
          )}
        </tbody>
      </table>
    </div>
    <${Invitations} org=${org} version=${version} onSent=${setResent} />
  <//>`;
}

route("/members", Members, { nav: { label: "Members", section: "Organization", order: 60, requires: "members.read" } });
