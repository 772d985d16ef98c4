// The landing screen of an organization.
import { html, Page, useLoad, ErrorBox, Loading } from "../ui.js";
import { route } from "../router.js";
import { get } from "../api.js";
import { currentOrg, currentUser } from "../session.js";
import { t } from "../i18n.js";

function Dashboard() {
  const org = currentOrg();
  const bots = useLoad(() => (org.permissions.includes("bots.read") ? get(`/api/v1/orgs/${org.id}/bots?limit=200`) : null), [org && org.id]);
  return html`<${Page} title=${org ? org.name : t("dashboard.dashboard")}>
    <div class="grid">
      <div class="card"><h2>${t("dashboard.signed_in")}</h2><p>${currentUser().user.name}</p><p class="muted">${t("dashboard.role")} <span class="badge">${org && org.role}</span></p></div>
      ${bots.data && html`<div class="card"><h2>${t("dashboard.bots")}</h2><p style="font-size:2rem;margin:.25rem 0">${bots.data.items.length}</p><a href="/bots">${t("dashboard.manage_bots")}</a></div>`}
    </div>
    <${ErrorBox} error=${bots.error} />
    <${Loading} load=${bots} />
  <//>`;
}

route("/dashboard", Dashboard, { nav: { label: "nav.dashboard", order: 1 } });
