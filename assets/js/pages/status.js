// Instance status from /healthz and /readyz.
import { html, Page, useLoad, ErrorBox, Loading } from "../ui.js";
import { route } from "../router.js";
import { t } from "../i18n.js";

async function fetchJson(path) {
  const response = await fetch(path);
  return { status: response.status, body: await response.json() };
}

function Status() {
  const state = useLoad(async () => ({ health: await fetchJson("/healthz"), ready: await fetchJson("/readyz") }));
  const data = state.data;
  return html`<${Page} title=${t("status.system_status")} actions=${html`<button onClick=${state.reload}>${t("common.refresh")}</button>`}>
    <${ErrorBox} error=${state.error} />
    <${Loading} load=${state} />
    ${data &&
    html`<div class="card">
      <h2>${t("status.botbuilder", { version: data.health.body.version })}</h2>
      <p>${t("status.overall")} <span class=${"badge " + (data.ready.status === 200 ? "ok" : "bad")} id="overall">${data.ready.body.status}</span></p>
      <table>
        <thead><tr><th>${t("status.component")}</th><th>${t("status.state")}</th><th>${t("status.detail")}</th></tr></thead>
        <tbody>
          ${Object.entries(data.ready.body.checks).map(
            ([name, check]) =>
              html`<tr data-component=${name}><td>${name}</td><td><span class=${"badge " + (check.state === "ready" ? "ok" : "bad")}>${check.state}</span></td><td class="muted">${check.detail || ""}</td></tr>`,
          )}
        </tbody>
      </table>
    </div>`}
  <//>`;
}

route("/status", Status, { nav: { label: "nav.system_status", section: "nav.instance", order: 90 } });
