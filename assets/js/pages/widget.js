// The widget designer: colours, position, texts, avatar and white-label,
// the origins allowed to embed it, a live preview drawn by the real
// widget script, the embed code and the key rotation.
import { html, Page, useLoad, useState, useEffect, useRef, ErrorBox, FieldError, toast, Loading, CopyButton } from "../ui.js";
import { route } from "../router.js";
import { get, post, put } from "../api.js";
import { can } from "../session.js";
import { BotNav, useBot, BotMissing } from "./botnav.js";

let scriptLoading = null;
/** Loads /widget.js once (without a bot key it only defines BotbuilderWidget). */
function loadWidgetScript() {
  if (window.BotbuilderWidget) return Promise.resolve(window.BotbuilderWidget);
  if (!scriptLoading)
    scriptLoading = new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = "/widget.js";
      s.onload = () => resolve(window.BotbuilderWidget);
      s.onerror = () => reject(new Error("cannot load /widget.js"));
      document.head.appendChild(s);
    });
  return scriptLoading;
}

// Swatches offered next to each colour input (readable with white or dark text).
const SWATCHES = ["#2563eb", "#0f766e", "#7c3aed", "#be123c", "#c2410c", "#111827", "#ffffff", "#f3f4f6"];

const COLORS = [
  ["primary_color", "Primary"],
  ["primary_text_color", "Text on primary"],
  ["background_color", "Background"],
  ["text_color", "Text"],
];

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
          { role: "user", text: "Hi! Where is my order?" },
          { role: "bot", text: "Let me check that for you.", quick_replies: [{ label: "Track order", value: "track" }, { label: "Talk to a human", value: "human" }] },
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
      toast("Widget saved");
      setTick((t) => t + 1);
    } catch (err) {
      setError(err);
    }
  };
  const rotate = async () => {
    if (!confirm("Pages embedding the current key stop working until they use the new one. Rotate?")) return;
    try {
      await post(`/api/v1/bots/${botId}/widget-key`);
      toast("New key issued");
      setTick((t) => t + 1);
    } catch (err) {
      setError(err);
    }
  };
  const text = (name, label) => html`<div><label for=${`w-${name}`}>${label}</label>
    <input id=${`w-${name}`} value=${config[name] || ""} onInput=${(e) => set(name)(e.target.value)} /><${FieldError} error=${error} name=${`config.${name}`} /></div>`;
  if (bot.error) return html`<${BotMissing} error=${bot.error} />`;
  return html`<${Page} title=${`Widget · ${bot.data ? bot.data.name : ""}`}>
    <${BotNav} botId=${botId} active="widget" />
    <${ErrorBox} error=${settings.error || (error)} />
    <${Loading} load=${settings} />
    ${config &&
    html`<div class="split">
      <form class="card" style="flex:1" onSubmit=${save} id="widget-form">
        <div class="grid">
          ${text("title", "Title")}${text("subtitle", "Subtitle")}${text("welcome_message", "Welcome message")}
          ${text("placeholder", "Input placeholder")}${text("launcher_label", "Launcher label")}
        </div>
        <div class="grid">
          ${COLORS.map(
            ([k, label]) => html`<div><label for=${`w-${k}`}>${label}</label>
              <div class="row"><input type="color" id=${`w-${k}`} value=${config[k]} onInput=${(e) => set(k)(e.target.value)} /><code>${config[k]}</code></div>
              <div class="swatches" role="group" aria-label=${`${label} swatches`}>
                ${SWATCHES.map(
                  (c) => html`<button type="button" class=${"swatch" + (config[k] === c ? " picked" : "")} data-swatch=${`${k}:${c}`}
                    style=${`background:${c}`} aria-label=${`${label} ${c}`} aria-pressed=${config[k] === c ? "true" : "false"} onClick=${() => set(k)(c)}></button>`,
                )}
              </div>
              <${FieldError} error=${error} name=${`config.${k}`} /></div>`,
          )}
        </div>
        <label for="w-position">Position</label>
        <select id="w-position" value=${config.position} onChange=${(e) => set("position")(e.target.value)}>
          <option value="bottom_right">Bottom right</option><option value="bottom_left">Bottom left</option>
        </select>
        <label><input type="checkbox" checked=${config.show_avatar} onChange=${(e) => set("show_avatar")(e.target.checked)} /> Show the bot's avatar</label>
        <label><input type="checkbox" id="w-white-label" checked=${config.white_label} onChange=${(e) => set("white_label")(e.target.checked)} /> White label (no "powered by")</label>
        <label><input type="checkbox" checked=${config.open_on_load} onChange=${(e) => set("open_on_load")(e.target.checked)} /> Open when the page loads</label>
        <label><input type="checkbox" id="w-uploads" checked=${config.uploads_enabled !== false} onChange=${(e) => set("uploads_enabled")(e.target.checked)} /> Visitors can send images and files</label>
        <label for="w-origins">Allowed origins (one per line, e.g. https://shop.example.com; empty: any)</label>
        <textarea id="w-origins" rows="3" value=${origins} onInput=${(e) => setOrigins(e.target.value)}></textarea>
        <${FieldError} error=${error} name="allowed_origins" />
        ${can("bots.write") && html`<button class="primary" type="submit" id="save-widget">Save</button>`}
      </form>
      <div class="widget-side">
        <div class="card"><h2>Live preview</h2><${Preview} config=${config} botName=${bot.data ? bot.data.name : ""} avatarUrl=${bot.data && bot.data.avatar_url} /></div>
        <div class="card">
          <h2>Embed</h2>
          <p class="muted">Paste before <code>${"</body>"}</code> on your site:</p>
          <pre class="json" id="embed-code">${settings.data.embed_code}</pre>
          <p><${CopyButton} id="copy-embed" text=${settings.data.embed_code} label="Copy the embed code" what="embed code" /></p>
          <div class="row"><span>Key <code id="widget-key">${settings.data.widget_key}</code></span>
            <${CopyButton} id="copy-key" text=${settings.data.widget_key} what="widget key" />
            ${can("bots.write") && html`<button type="button" id="rotate-key" onClick=${rotate}>Rotate key</button>`}</div>
        </div>
      </div>
    </div>`}
  <//>`;
}

route("/bots/:botId/widget", Designer);
