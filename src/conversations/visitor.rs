//! Visitor details for the inbox: what the widget reported when the
//! conversation started, the browser and OS in a few words, and the name
//! and email the visitor gave the bot.

use serde_json::{Map, Value};

use super::model::{Visitor, VisitorInfo};

/// The longest page URL, title and language kept.
const MAX_URL: usize = 2000;
const MAX_TITLE: usize = 300;
const MAX_LANGUAGE: usize = 35;

fn clean(raw: Option<&str>, max: usize) -> Option<String> {
    let t: String = raw?.trim().chars().filter(|c| !c.is_control()).take(max).collect();
    (!t.is_empty()).then_some(t)
}

/// What the widget sent, trimmed to sane sizes; only http(s) page URLs are kept.
#[must_use]
pub fn sanitize(
    page_url: Option<&str>,
    page_title: Option<&str>,
    language: Option<&str>,
    accept_language: Option<&str>,
    user_agent: Option<&str>,
) -> VisitorInfo {
    let page_url = clean(page_url, MAX_URL).filter(|u| u.starts_with("https://") || u.starts_with("http://"));
    let language = clean(language, MAX_LANGUAGE)
        .or_else(|| clean(accept_language.and_then(|a| a.split([',', ';']).next()), MAX_LANGUAGE))
        .filter(|l| l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    VisitorInfo { page_url, page_title: clean(page_title, MAX_TITLE), language, user_agent: clean(user_agent, 500) }
}

/// The major version after `token` (`Chrome/120.0.1` → `120`).
fn version_after(ua: &str, token: &str) -> Option<String> {
    let rest = &ua[ua.find(token)? + token.len()..];
    let v: String = rest.chars().take_while(char::is_ascii_digit).collect();
    (!v.is_empty()).then_some(v)
}

/// Browser and operating system in a few words, from a user agent.
#[must_use]
pub fn browser_and_os(ua: &str) -> (Option<String>, Option<String>) {
    let named = |name: &str, token: &str| match version_after(ua, token) {
        Some(v) => format!("{name} {v}"),
        None => name.to_owned(),
    };
    let browser = if ua.contains("Edg/") {
        Some(named("Edge", "Edg/"))
    } else if ua.contains("OPR/") {
        Some(named("Opera", "OPR/"))
    } else if ua.contains("Firefox/") {
        Some(named("Firefox", "Firefox/"))
    } else if ua.contains("HeadlessChrome/") {
        Some(format!("{} (headless)", named("Chrome", "HeadlessChrome/")))
    } else if ua.contains("CriOS/") {
        Some(named("Chrome", "CriOS/"))
    } else if ua.contains("Chrome/") {
        Some(named("Chrome", "Chrome/"))
    } else if ua.contains("Safari/") && ua.contains("Version/") {
        Some(named("Safari", "Version/"))
    } else {
        None
    };
    let os = if ua.contains("iPhone") || ua.contains("iPad") {
        Some("iOS")
    } else if ua.contains("Android") {
        Some("Android")
    } else if ua.contains("CrOS") {
        Some("ChromeOS")
    } else if ua.contains("Windows") {
        Some("Windows")
    } else if ua.contains("Mac OS X") || ua.contains("Macintosh") {
        Some("macOS")
    } else if ua.contains("Linux") {
        Some("Linux")
    } else {
        None
    };
    (browser, os.map(str::to_owned))
}

fn text_var(vars: &Map<String, Value>, names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| match vars.get(*n) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().chars().take(200).collect()),
        _ => None,
    })
}

/// The visitor panel of a conversation.
#[must_use]
pub fn visitor(info: &VisitorInfo, vars: &Map<String, Value>, channel: &str, first_seen: &str) -> Visitor {
    let (browser, os) = info.user_agent.as_deref().map(browser_and_os).unwrap_or_default();
    Visitor {
        page_url: info.page_url.clone(),
        page_title: info.page_title.clone(),
        language: info.language.clone(),
        browser,
        os,
        name: text_var(vars, &["name", "full_name", "first_name", "visitor_name"]),
        email: text_var(vars, &["email", "email_address", "visitor_email"]).filter(|e| e.contains('@')),
        first_seen: first_seen.to_owned(),
        channel: channel.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn user_agents_read_as_a_few_words() {
        let cases = [
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
                "Chrome 120",
                "Windows",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
                "Safari 17",
                "macOS",
            ),
            ("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", "Firefox 121", "Linux"),
            (
                "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36 EdgA/120 Edg/120.0",
                "Edge 120",
                "Android",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
                "Safari 17",
                "iOS",
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36",
                "Chrome 131 (headless)",
                "Linux",
            ),
        ];
        for (ua, browser, os) in cases {
            assert_eq!(browser_and_os(ua), (Some(browser.to_owned()), Some(os.to_owned())), "{ua}");
        }
        assert_eq!(browser_and_os("curl/8.0"), (None, None));
    }

    #[test]
    fn widget_reports_are_trimmed_and_checked() {
        let v = sanitize(
            Some(" https://shop.example.com/p?x=1 "),
            Some("Shop\u{0}"),
            None,
            Some("de-CH,de;q=0.9,en;q=0.8"),
            Some("UA"),
        );
        assert_eq!(v.page_url.as_deref(), Some("https://shop.example.com/p?x=1"));
        assert_eq!(v.page_title.as_deref(), Some("Shop"));
        assert_eq!(v.language.as_deref(), Some("de-CH"));
        let bad = sanitize(Some("javascript:alert(1)"), Some("  "), Some("<b>"), None, None);
        assert_eq!(bad, VisitorInfo::default());
    }

    #[test]
    fn name_and_email_come_from_the_variables() {
        let vars = json!({ "name": "Ada", "email": "ada@example.com" });
        let v = visitor(&VisitorInfo::default(), vars.as_object().expect("object"), "widget", "2026-01-01");
        assert_eq!((v.name.as_deref(), v.email.as_deref()), (Some("Ada"), Some("ada@example.com")));
        let vars = json!({ "email": "not an email" });
        assert_eq!(visitor(&VisitorInfo::default(), vars.as_object().expect("object"), "api", "t").email, None);
    }
}
