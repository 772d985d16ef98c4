// The widget designer: colours, position, texts, avatar and white-label,
// the origins allowed to embed it, a live preview drawn by the real
// widget script, the embed code and the key rotation.
import { html, Page, useLoad, useState, useEffect, useRef, ErrorBox, FieldError, toast, Loading, CopyButton } from "../ui.js";
import { route } from "../router.js";
import { get, post, put } from "../api.js";
import { can } from "../session.js";
import { BotNav, useBot, BotMissing } from "./botnav.js";
import { t } from "../i18n.js";

let scriptLoading = null;
/** Loads /widget.js once (without a bot key it only defines BotbuilderWidget). */
function loadWidgetScript() {
  if (window.BotbuilderWidget) return Promise.resolve(window.BotbuilderWidget);
  if (!scriptLoading)
    scriptLoading = new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = "/widget.js";
      s.onload = () => resolve(window.BotbuilderWidget);
      s.onerror = () => reject(new Error(t("widget.cannot_load_widget_js")));
      document.head.appendChild(s);
    });
  return scriptLoading;
}

// Swatches offered next to each colour input (readable with white or dark text).
const SWATCHES = ["#2563eb", "#0f766e", "#7c3aed", "#be123c", "#c2410c", "#111827", "#ffffff", "#f3f4f6"];

const COLORS = () => ([
  ["primary_color", t("widget.primary")],
  ["primary_text_color", t("widget.text_on_primary")],
  ["background_color", t("widget.background")],
  ["text_color", t("widget.text")],
]);

function Preview({ config, botName, avatarUrl }) {
  const ref = useRef(null);
  useEffect(() => {
    let alive = true;
    loadWidgetScript().then((w) => {
      if (!alive || !ref.current || !w) return;
      w.preview(ref.current, {
        bot_name: botName,
        available: true,
        avatar_url: avatarUrl,
        config,
        sample: [
          ...(config.welcome_message ? [{ role: "bot", text: config.welcome_message }] : []),
          { role: "user", text: t("widget.hi_where_is_my_order") },
          { role: "bot", text: t("widget.let_me_check_that_for"), quick_replies: [{ label: t("widget.track_order"), value: "track" }, { label: t("widget.talk_to_a_human"), value: "human" }] },
        ],
      });
    });
    return () => (alive = false);
  }, [JSON.stringify(config), botName, avatarUrl]);
  return html`<div class="widget-preview" id="widget-preview" ref=${ref}></div>`;
}

function Designer({ params }) {
  const { botId } = params;
  const bot = useBot(botId);
  const [tick, setTick] = useState(0);
  const settings = useLoad(() => get(`/api/v1/bots/${botId}/widget`), [botId, tick]);
  const [config, setConfig] = useState(null);
  const [origins, setOrigins] = useState("");
  const [error, setError] = useState(null);
  useEffect(() => {
    if (!settings.data) return;
    setConfig(settings.data.config);
    setOrigins(settings.data.allowed_origins.join("\n"));
  }, [settings.data]);
  const set = (k) => (v) => setConfig((c) => ({ ...c, [k]: v }));
  const save = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const c = config;
      await put(`/api/v1/bots/${botId}/widget`, {
        config: {
          title: c.title || null, subtitle: c.subtitle || null, primary_color: c.primary_color, primary_text_color: c.primary_text_color,
          background_color: c.background_color, text_color: c.text_color, position: c.position, welcome_message: c.welcome_message || null,
          placeholder: c.placeholder, launcher_label: c.launcher_label || null, show_avatar: c.show_avatar, white_label: c.white_label,
          open_on_load: c.open_on_load, uploads_enabled: c.uploads_enabled !== false,
        },
        allowed_origins: origins.split(/\s+/).filter(Boolean),
      });
      toast(t("widget.widget_saved"));
      setTick((tv) => tv + 1);
    } catch (err) {
      setError(err);
    }
  };
  const rotate = async () => {
    if (!confirm(t("widget.pages_embedding_the_current_key"))) return;
    try {
      await post(`/api/v1/bots/${botId}/widget-key`);
      toast(t("widget.new_key_issued"));
      setTick((tv) => tv + 1);
    } catch (err) {
      setError(err);
    }
  };
  const text = (name, label) => html`<div><label for=${`w-${name}`}>${label}</label>
    <input id=${`w-${name}`} value=${config[name] || ""} onInput=${(e) => set(name)(e.target.value)} /><${FieldError} error=${error} name=${`config.${name}`} /></div>`;
  if (bot.error) return html`<${BotMissing} error=${bot.error} />`;
  return html`<${Page} title=${t("widget.widget", { value: bot.data ? bot.data.name : "" })}>
    <${BotNav} botId=${botId} active="widget" />
    <${ErrorBox} error=${settings.error || (error)} />
    <${Loading} load=${settings} />
    ${config &&
    html`<div class="split">
      <form class="card" style="flex:1" onSubmit=${save} id="widget-form">
        <div class="grid">
          ${text("title", t("widget.title"))}${text("subtitle", t("widget.subtitle"))}${text("welcome_message", t("widget.welcome_message"))}
          ${text("placeholder", t("widget.input_placeholder"))}${text("launcher_label", t("widget.launcher_label"))}
        </div>
        <div class="grid">
          ${COLORS().map(
            ([k, label]) => html`<div><label for=${`w-${k}`}>${label}</label>
              <div class="row"><input type="color" id=${`w-${k}`} value=${config[k]} onInput=${(e) => set(k)(e.target.value)} /><code>${config[k]}</code></div>
              <div class="swatches" role="group" aria-label=${t("widget.swatches_of", { label })}>
                ${SWATCHES.map(
                  (c) => html`<button type="button" class=${"swatch" + (config[k] === c ? " picked" : "")} data-swatch=${`${k}:${c}`}
                    style=${`background:${c}`} aria-label=${`${label} ${c}`} aria-pressed=${config[k] === c ? "true" : "false"} onClick=${() => set(k)(c)}></button>`,
                )}
              </div>
              <${FieldError} error=${error} name=${`config.${k}`} /></div>`,
          )}
        </div>
        <label for="w-position">${t("widget.position")}</label>
        <select id="w-position" value=${config.position} onChange=${(e) => set("position")(e.target.value)}>
          <option value="bottom_right">${t("widget.bottom_right")}</option><option value="bottom_left">${t("widget.bottom_left")}</option>
        </select>
        <label><input type="checkbox" checked=${config.show_avatar} onChange=${(e) => set("show_avatar")(e.target.checked)} /> ${t("widget.show_the_bot_s_avatar")}</label>
        <label><input type="checkbox" id="w-white-label" checked=${config.white_label} onChange=${(e) => set("white_label")(e.target.checked)} /> ${t("widget.white_label_no_powered_by")}</label>
        <label><input type="checkbox" checked=${config.open_on_load} onChange=${(e) => set("open_on_load")(e.target.checked)} /> ${t("widget.open_when_the_page_loads")}</label>
        <label><input type="checkbox" id="w-uploads" checked=${config.uploads_enabled !== false} onChange=${(e) => set("uploads_enabled")(e.target.checked)} /> ${t("widget.visitors_can_send_images_and")}</label>
        <label for="w-origins">${t("widget.allowed_origins_one_per_line")}</label>
        <textarea id="w-origins" rows="3" value=${origins} onInput=${(e) => setOrigins(e.target.value)}></textarea>
        <${FieldError} error=${error} name="allowed_origins" />
        ${can("bots.write") && html`<button class="primary" type="submit" id="save-widget">${t("common.save")}</button>`}
      </form>
      <div class="widget-side">
        <div class="card"><h2>${t("widget.live_preview")}</h2><${Preview} config=${config} botName=${bot.data ? bot.data.name : ""} avatarUrl=${bot.data && bot.data.avatar_url} /></div>
        <div class="card">
          <h2>${t("widget.embed")}</h2>
          <p class="muted">${t("widget.paste_before")} <code>${"</body>"}</code> ${t("widget.on_your_site")}</p>
          <pre class="json" id="embed-code">${settings.data.embed_code}</pre>
          <p><${CopyButton} id="copy-embed" text=${settings.data.embed_code} label=${t("widget.copy_the_embed_code")} what=${t("widget.embed_code")} /></p>
          <div class="row"><span>${t("widget.key")} <code id="widget-key">${settings.data.widget_key}</code></span>
            <${CopyButton} id="copy-key" text=${settings.data.widget_key} what=${t("widget.widget_key")} />
            ${can("bots.write") && html`<button type="button" id="rotate-key" onClick=${rotate}>${t("widget.rotate_key")}</button>`}</div>
        </div>
      </div>
    </div>`}
  <//>`;
}

route("/bots/:botId/widget", Designer);
