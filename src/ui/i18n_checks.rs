//! Checks of the UI's translations, reading `assets/` as shipped: every key
//! the code uses exists in every catalog, the catalogs have the same keys and
//! the same `{placeholders}`, and no literal English is left in the `html`
//! tagged templates (text nodes and user-visible attributes must come from `t()`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use regex::Regex;
use serde_json::Value;

use super::UI_LOCALES;

/// Attributes a person reads or hears (screen readers), and the props of our
/// components that end up as such text (`Page title`, `Field label`, …).
const VISIBLE_ATTRIBUTES: [&str; 12] = [
    "placeholder",
    "title",
    "aria-label",
    "alt",
    "label",
    "aria-description",
    "what",
    "hint",
    "addLabel",
    "textLabel",
    "empty",
    "action",
];

/// Literal text that is the same in every language: names of products,
/// formats and protocols.
const ALLOWED_LITERALS: [&str; 12] =
    ["API", "CSV", "JSON", "URL", "botbuilder", "OpenAI", "SAML", "SCIM", "OIDC", "MCP", "TOTP", "JSONL"];

/// Pages merged in English before their strings moved to the catalogs (the
/// experiments and fine-tuning screens of session s25): their literal text
/// is known and listed in the closing note; remove a page from here once it
/// is converted.
const NOT_YET_TRANSLATED: [&str; 2] = ["js/pages/experiments.js", "js/pages/finetune.js"];

/// Elements whose text is code or data, not prose.
const CODE_ELEMENTS: [&str; 4] = ["code", "pre", "kbd", "samp"];

fn assets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets")
}

fn scripts() -> Vec<(String, String)> {
    let mut files = Vec::new();
    for dir in ["js", "js/pages"] {
        let mut entries: Vec<_> = std::fs::read_dir(assets().join(dir))
            .expect("assets dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "js"))
            .collect();
        entries.sort();
        for path in entries {
            let name = path.strip_prefix(assets()).expect("under assets").display().to_string();
            files.push((name, std::fs::read_to_string(&path).expect("read script")));
        }
    }
    files
}

fn catalog(locale: &str) -> BTreeMap<String, Value> {
    let path = assets().join(format!("i18n/{locale}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `{name}`s of a message, across its plural forms.
fn placeholders(message: &Value) -> BTreeSet<String> {
    let re = Regex::new(r"\{(\w+)\}").expect("regex");
    let texts: Vec<&str> = match message {
        Value::String(s) => vec![s.as_str()],
        Value::Object(forms) => forms.values().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    texts.iter().flat_map(|t| re.captures_iter(t).map(|c| c[1].to_owned())).collect()
}

/// Keys named in the code: `t("…")`, `errorKey: "…"`, and the sidebar's
/// `label:`/`section:` keys of routes (translated when the sidebar renders).
fn keys_used(source: &str) -> BTreeSet<String> {
    let call = Regex::new(r#"\bt\(\s*"([A-Za-z0-9_.\-]+)""#).expect("regex");
    let nav = Regex::new(r#"\b(?:label|section): "((?:nav)\.[A-Za-z0-9_.\-]+)""#).expect("regex");
    call.captures_iter(source).chain(nav.captures_iter(source)).map(|c| c[1].to_owned()).collect()
}

/// Skips a `${ … }` expression starting after `${`; answers the index after
/// its closing brace (strings, comments and nested templates included).
fn skip_expression(src: &[u8], mut i: usize) -> usize {
    let mut depth = 1;
    while i < src.len() {
        match src[i] {
            q @ (b'"' | b'\'') => {
                i += 1;
                while i < src.len() && src[i] != q {
                    i += if src[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'`' => {
                i = skip_template(src, i + 1);
                continue;
            }
            b'/' if src.get(i + 1) == Some(&b'/') => {
                while i < src.len() && src[i] != b'\n' {
                    i += 1;
                }
            }
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    src.len()
}

/// Skips a template literal's body from after its opening backtick.
fn skip_template(src: &[u8], mut i: usize) -> usize {
    while i < src.len() && src[i] != b'`' {
        if src[i] == b'\\' {
            i += 2;
        } else if src[i] == b'$' && src.get(i + 1) == Some(&b'{') {
            i = skip_expression(src, i + 2);
        } else {
            i += 1;
        }
    }
    i + 1
}

/// The static parts (byte ranges) of the template whose body starts at `i`.
fn static_parts(src: &[u8], mut i: usize) -> Vec<(usize, usize)> {
    let mut parts = Vec::new();
    let mut start = i;
    while i < src.len() && src[i] != b'`' {
        if src[i] == b'\\' {
            i += 2;
        } else if src[i] == b'$' && src.get(i + 1) == Some(&b'{') {
            parts.push((start, i));
            i = skip_expression(src, i + 2);
            start = i;
        } else {
            i += 1;
        }
    }
    parts.push((start, i.min(src.len())));
    parts
}

/// Literal text a person would see in the `html` tagged templates of `source`:
/// (line, what) for text nodes and visible attributes that contain a letter.
fn untranslated(source: &str) -> Vec<(usize, String)> {
    let src = source.as_bytes();
    let attribute = Regex::new(r#"^([A-Za-z_:\-]+)=(?:"([^"]*)"|'([^']*)')"#).expect("regex");
    let tag_name = Regex::new(r"^/?([A-Za-z][A-Za-z0-9]*)").expect("regex");
    let line_of = |at: usize| source[..at].matches('\n').count() + 1;
    let mut found = Vec::new();
    for (start, _) in source.match_indices("html`") {
        let mut in_tag = false;
        let mut last_tag = String::new();
        for (a, b) in static_parts(src, start + 5) {
            let part = &source[a..b];
            let mut k = 0;
            while k < part.len() {
                let rest = &part[k..];
                if in_tag {
                    if rest.starts_with('>') {
                        in_tag = false;
                        k += 1;
                    } else if let Some(m) = attribute.captures(rest) {
                        let value = m.get(2).or_else(|| m.get(3)).map_or("", |v| v.as_str());
                        if VISIBLE_ATTRIBUTES.contains(&&m[1]) && is_prose(value) {
                            found.push((line_of(a + k), format!("{}=\"{value}\"", &m[1])));
                        }
                        k += m[0].len();
                    } else {
                        k += rest.chars().next().map_or(1, char::len_utf8);
                    }
                } else if let Some(tag) = rest.strip_prefix('<') {
                    in_tag = true;
                    if let Some(m) = tag_name.captures(tag) {
                        last_tag = if m[0].starts_with('/') { String::new() } else { m[1].to_ascii_lowercase() };
                    }
                    k += 1;
                } else {
                    let end = rest.find('<').unwrap_or(rest.len());
                    let text = rest[..end].trim();
                    if is_prose(text) && !CODE_ELEMENTS.contains(&last_tag.as_str()) {
                        found.push((line_of(a + k), text.to_owned()));
                    }
                    k += end;
                }
            }
        }
    }
    found
}

fn is_prose(text: &str) -> bool {
    text.chars().any(char::is_alphabetic) && !ALLOWED_LITERALS.contains(&text)
}

#[test]
fn every_ui_locale_has_a_catalog_and_the_catalogs_have_the_same_keys_and_placeholders() {
    let english = catalog("en");
    assert!(english.len() > 100, "the English catalog is the UI's strings");
    for locale in UI_LOCALES {
        let other = catalog(locale);
        let missing: Vec<_> = english.keys().filter(|k| !other.contains_key(*k)).collect();
        let extra: Vec<_> = other.keys().filter(|k| !english.contains_key(*k)).collect();
        assert!(missing.is_empty(), "{locale}.json lacks {missing:?}");
        assert!(extra.is_empty(), "{locale}.json has keys English lacks: {extra:?}");
        for (key, message) in &english {
            let theirs = &other[key];
            assert_eq!(placeholders(message), placeholders(theirs), "{locale}.json {key}: placeholders differ");
            if let Value::Object(forms) = theirs {
                assert!(forms.contains_key("other"), "{locale}.json {key}: a plural needs its `other` form");
            }
            let empty = match theirs {
                Value::String(s) => s.trim().is_empty(),
                Value::Object(forms) => forms.values().any(|f| f.as_str().is_none_or(|s| s.trim().is_empty())),
                _ => true,
            };
            assert!(!empty, "{locale}.json {key}: empty or not text");
        }
    }
    let dir: BTreeSet<String> = std::fs::read_dir(assets().join("i18n"))
        .expect("i18n dir")
        .map(|e| e.expect("entry").path().file_stem().expect("stem").to_string_lossy().into_owned())
        .collect();
    let listed: BTreeSet<String> = UI_LOCALES.iter().map(|l| (*l).to_owned()).collect();
    assert_eq!(dir, listed, "assets/i18n/*.json and UI_LOCALES must agree");
    let switcher = std::fs::read_to_string(assets().join("js/i18n.js")).expect("i18n.js");
    for locale in UI_LOCALES {
        assert!(switcher.contains(&format!("code: \"{locale}\"")), "i18n.js LOCALES lacks {locale}");
    }
}

#[test]
fn every_key_the_ui_uses_exists_in_every_catalog() {
    let catalogs: Vec<_> = UI_LOCALES.iter().map(|l| (*l, catalog(l))).collect();
    let mut used = 0;
    for (file, source) in scripts() {
        for key in keys_used(&source) {
            used += 1;
            for (locale, messages) in &catalogs {
                assert!(messages.contains_key(&key), "{file} uses \"{key}\", missing from {locale}.json");
            }
        }
    }
    assert!(used > 100, "the UI calls t() ({used} keys found)");
}

#[test]
fn no_literal_text_is_left_in_the_templates() {
    let mut left = Vec::new();
    for (file, source) in scripts().into_iter().filter(|(f, _)| !NOT_YET_TRANSLATED.contains(&f.as_str())) {
        for (line, text) in untranslated(&source) {
            left.push(format!("{file}:{line}: {text}"));
        }
    }
    assert!(left.is_empty(), "{} literal texts in html`` templates; use t():\n{}", left.len(), left.join("\n"));
}

#[test]
fn the_scanner_finds_text_nodes_and_visible_attributes_and_skips_code_and_expressions() {
    let source = r#"const a = html`<div class="card" title="Bots">
        <h2>Your bots</h2><p>${t("bots.intro")}</p>
        <input placeholder=${t("x.y")} aria-label="Search" />
        <code>GET /api/v1/bots</code> ${n > 1 ? html`<span>many</span>` : null}
        <span>API</span> · ${"not a template"}</div>`;"#;
    let found: Vec<String> = untranslated(source).into_iter().map(|(_, text)| text).collect();
    assert_eq!(found, ["title=\"Bots\"", "Your bots", "aria-label=\"Search\"", "many"]);
    let keys = keys_used(r#"t("a.b", { n }); t( "c.d"); nav: { label: "nav.bots", section: "nav.build" }"#);
    assert_eq!(keys.into_iter().collect::<Vec<_>>(), ["a.b", "c.d", "nav.bots", "nav.build"]);
}
