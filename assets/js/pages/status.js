// Instance status from /healthz and /readyz.
import { html, Page, useLoad, ErrorBox, Loading } from "../ui.js";
import { route } from "../router.js";

async function fetchJson(path) {
  const response = await fetch(path);
  return { status: response.status, body: await response.json() };
}

function Status() {
  const state = useLoad(async () => ({ health: await fetchJson("/healthz"), ready: await fetchJson("/readyz") }));
  const data = state.data;
  return html`<${Page} title="System status" actions=${html`<button onClick=${state.reload}>Refresh</button>`}>
    <${ErrorBox} error=${state.error} />
    <${Loading} load=${state} />
    ${data &&
    html`<div class="card">
      <h2>botbuilder ${data.health.body.version}</h2>
      <p>Overall: <span class=${"badge " + (data.ready.status === 200 ? "ok" : "bad")} id="overall">${data.ready.body.status}</span></p>
      <table>
        <thead><tr><th>Component</th><th>State</th><th>Detail</th></tr></thead>
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

route("/status", Status, { nav: { label: "System status", section: "Instance", order: 90 } });
