// The language switcher, in the sidebar, on the account page and on the
// sign-in screens.
import { html, toast } from "./ui.js";
import { patch } from "./api.js";
import { currentUser, setMe } from "./session.js";
import { t, LOCALES, locale, setLocale, errorText } from "./i18n.js";

/**
 * The UI language: remembered in this browser and, signed in, saved on the
 * account (PATCH /me) so every device follows it.
 */
export function LocaleSwitcher({ id = "locale-select", className = "theme-toggle" }) {
  const change = async (e) => {
    const code = e.target.value;
    const me = currentUser();
    // Saved first, so that a reload right after the switch keeps it.
    if (me) {
      try {
        const user = await patch("/api/v1/me", { locale: code });
        setMe({ ...me, user });
      } catch (err) {
        e.target.value = locale();
        toast(errorText(err), { error: true });
        return;
      }
    }
    await setLocale(code);
  };
  return html`<div class=${className}>
    <label for=${id} class="nav-section">${t("shell.language")}</label>
    <select id=${id} value=${locale()} onChange=${change}>
      ${LOCALES.map((l) => html`<option value=${l.code} lang=${l.code}>${l.name}</option>`)}
    </select>
  </div>`;
}

