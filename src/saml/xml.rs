//! A small namespace-aware XML tree for SAML messages, built on quick-xml, and
//! Exclusive XML Canonicalization 1.0 (<http://www.w3.org/2001/10/xml-exc-c14n#>) over it.
//!
//! The parser refuses any document type declaration before it reads anything else (no
//! entities, no external references), refuses processing instructions inside the document
//! element, limits nesting depth, keeps comments as nodes (canonicalization without comments
//! drops them; text values are the concatenation of all text children, as canonicalized), and
//! records element prefixes so the canonical form reproduces the signed bytes.

use std::collections::HashMap;

use quick_xml::events::{BytesStart, Event};

use super::{SamlError, SamlErrorKind};

pub const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
const MAX_DEPTH: usize = 64;
const MAX_NODES: usize = 100_000;

pub type NodeId = usize;

#[derive(Debug, Clone)]
pub struct Attr {
    pub prefix: Option<String>,
    pub local: String,
    pub ns: Option<String>,
    pub value: String,
}

#[derive(Debug, Clone)]
pub struct Element {
    pub prefix: Option<String>,
    pub local: String,
    pub ns: Option<String>,
    /// Namespace declarations on this element: (prefix, uri); `None` is the default namespace.
    pub ns_decls: Vec<(Option<String>, String)>,
    pub attrs: Vec<Attr>,
    pub children: Vec<NodeId>,
}

#[derive(Debug, Clone)]
pub enum NodeKind {
    Element(Element),
    Text(String),
    Comment(String),
}

#[derive(Debug, Clone)]
pub struct Node {
    pub kind: NodeKind,
    pub parent: Option<NodeId>,
}

#[derive(Debug)]
pub struct Document {
    pub nodes: Vec<Node>,
    pub root: NodeId,
    /// Namespaces in scope outside the parsed text (a decrypted assertion inherits those of
    /// its `EncryptedAssertion`).
    base_scope: Vec<(Option<String>, String)>,
}

fn malformed(message: impl Into<String>) -> SamlError {
    SamlError::new(SamlErrorKind::Malformed, message)
}

/// Refuses a DOCTYPE anywhere in the text: checked on the raw text before parsing.
pub fn refuse_doctype(text: &str) -> Result<(), SamlError> {
    if text.contains("<!DOCTYPE") || text.contains("<!ENTITY") || text.contains("<!doctype") {
        return Err(SamlError::new(SamlErrorKind::DoctypeForbidden, "XML document type declarations are not accepted"));
    }
    Ok(())
}

/// Decodes the five predefined entities and character references; anything else is refused
/// (there is no DTD to declare other entities).
fn unescape(raw: &str) -> Result<String, SamlError> {
    if !raw.contains('&') {
        return Ok(raw.to_owned());
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let semi = after.find(';').ok_or_else(|| malformed("unterminated entity reference"))?;
        out.push(resolve_reference(&after[..semi])?);
        rest = &after[semi + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn resolve_reference(name: &str) -> Result<char, SamlError> {
    let c = match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "quot" => '"',
        "apos" => '\'',
        _ => {
            let code = if let Some(hex) = name.strip_prefix("#x") {
                u32::from_str_radix(hex, 16).ok()
            } else if let Some(dec) = name.strip_prefix('#') {
                dec.parse::<u32>().ok()
            } else {
                return Err(SamlError::new(
                    SamlErrorKind::DoctypeForbidden,
                    format!("undeclared entity reference &{name};"),
                ));
            };
            let c = code.and_then(char::from_u32).ok_or_else(|| malformed("invalid character reference"))?;
            if c == '\0' {
                return Err(malformed("invalid character reference"));
            }
            c
        }
    };
    Ok(c)
}

fn split_qname(qname: &str) -> Result<(Option<String>, String), SamlError> {
    match qname.split_once(':') {
        Some((p, l)) if !p.is_empty() && !l.is_empty() && !l.contains(':') => Ok((Some(p.to_owned()), l.to_owned())),
        None if !qname.is_empty() => Ok((None, qname.to_owned())),
        _ => Err(malformed(format!("invalid name {qname:?}"))),
    }
}

struct Builder {
    nodes: Vec<Node>,
    stack: Vec<NodeId>,
    scopes: Vec<HashMap<Option<String>, String>>,
    root: Option<NodeId>,
}

impl Builder {
    fn push(&mut self, kind: NodeKind) -> Result<NodeId, SamlError> {
        if self.nodes.len() >= MAX_NODES {
            return Err(malformed("document too large"));
        }
        let parent = self.stack.last().copied();
        let id = self.nodes.len();
        self.nodes.push(Node { kind, parent });
        if let Some(p) = parent
            && let NodeKind::Element(e) = &mut self.nodes[p].kind
        {
            e.children.push(id);
        }
        Ok(id)
    }

    fn lookup(&self, prefix: Option<&str>) -> Option<String> {
        let key = prefix.map(str::to_owned);
        self.scopes.iter().rev().find_map(|s| s.get(&key).cloned())
    }

    fn start(&mut self, start: &BytesStart<'_>) -> Result<NodeId, SamlError> {
        if self.stack.is_empty() && self.root.is_some() {
            return Err(malformed("more than one document element"));
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(malformed("document nested too deeply"));
        }
        let qname = start.name().0.to_owned();
        let (prefix, local) = split_qname(&qname)?;
        let mut ns_decls = Vec::new();
        let mut raw_attrs = Vec::new();
        for attr in start.attributes() {
            let attr = attr.map_err(|e| malformed(format!("bad attribute: {e}")))?;
            let key = attr.key.0.to_owned();
            let raw: &str = &attr.value;
            if raw.contains('<') {
                return Err(malformed("'<' in an attribute value"));
            }
            // Attribute-value normalization (XML 1.0 §3.3.3): literal whitespace becomes a
            // space before references are expanded.
            let normalized: String =
                raw.chars().map(|c| if matches!(c, '\t' | '\n' | '\r') { ' ' } else { c }).collect();
            let value = unescape(&normalized)?;
            if key == "xmlns" {
                ns_decls.push((None, value));
            } else if let Some(p) = key.strip_prefix("xmlns:") {
                if value.is_empty() {
                    return Err(malformed("prefix undeclaration is not allowed"));
                }
                if p == "xml" || p == "xmlns" {
                    return Err(malformed("reserved prefix declared"));
                }
                ns_decls.push((Some(p.to_owned()), value));
            } else {
                raw_attrs.push((key, value));
            }
        }
        let mut scope = HashMap::new();
        for (p, uri) in &ns_decls {
            if scope.insert(p.clone(), uri.clone()).is_some() {
                return Err(malformed("namespace declared twice on one element"));
            }
        }
        self.scopes.push(scope);
        let ns = match &prefix {
            Some(p) if p == "xml" => Some(XML_NS.to_owned()),
            Some(p) => Some(self.lookup(Some(p)).ok_or_else(|| malformed(format!("undeclared prefix {p:?}")))?),
            None => self.lookup(None).filter(|u| !u.is_empty()),
        };
        let mut attrs: Vec<Attr> = Vec::with_capacity(raw_attrs.len());
        for (key, value) in raw_attrs {
            let (aprefix, alocal) = split_qname(&key)?;
            let ans = match &aprefix {
                Some(p) if p == "xml" => Some(XML_NS.to_owned()),
                Some(p) => Some(self.lookup(Some(p)).ok_or_else(|| malformed(format!("undeclared prefix {p:?}")))?),
                None => None,
            };
            if attrs.iter().any(|a| a.local == alocal && a.ns == ans) {
                return Err(malformed("duplicate attribute"));
            }
            attrs.push(Attr { prefix: aprefix, local: alocal, ns: ans, value });
        }
        let id = self.push(NodeKind::Element(Element { prefix, local, ns, ns_decls, attrs, children: Vec::new() }))?;
        if self.stack.is_empty() {
            self.root = Some(id);
        }
        self.stack.push(id);
        Ok(id)
    }

    fn end(&mut self) {
        self.stack.pop();
        self.scopes.pop();
    }

    fn text(&mut self, text: &str) -> Result<(), SamlError> {
        if self.stack.is_empty() {
            if text.trim().is_empty() {
                return Ok(());
            }
            return Err(malformed("text outside the document element"));
        }
        // Merge adjacent text (character data split by references or CDATA sections).
        if let Some(&parent) = self.stack.last()
            && let NodeKind::Element(e) = &self.nodes[parent].kind
            && let Some(&last) = e.children.last()
            && let NodeKind::Text(t) = &mut self.nodes[last].kind
        {
            t.push_str(text);
            return Ok(());
        }
        self.push(NodeKind::Text(text.to_owned()))?;
        Ok(())
    }
}

impl Document {
    /// Parses a complete document. DOCTYPEs are refused before parsing.
    pub fn parse(text: &str) -> Result<Self, SamlError> {
        Self::parse_with_scope(text, Vec::new())
    }

    /// Parses `text` as if its document element were placed where `base_scope` namespaces are
    /// in scope (used for decrypted assertions).
    pub fn parse_with_scope(text: &str, base_scope: Vec<(Option<String>, String)>) -> Result<Self, SamlError> {
        refuse_doctype(text)?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        // End-of-line handling (XML 1.0 §2.11) on the whole entity.
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        let mut reader = quick_xml::Reader::from_str(&text);
        let config = reader.config_mut();
        config.check_end_names = true;
        config.check_comments = true;
        config.expand_empty_elements = false;
        let mut scope0 = HashMap::new();
        for (p, u) in &base_scope {
            scope0.insert(p.clone(), u.clone());
        }
        let mut b = Builder { nodes: Vec::new(), stack: Vec::new(), scopes: vec![scope0], root: None };
        loop {
            let event = reader.read_event().map_err(|e| malformed(format!("XML syntax error: {e}")))?;
            match event {
                Event::DocType(_) => {
                    return Err(SamlError::new(
                        SamlErrorKind::DoctypeForbidden,
                        "XML document type declarations are not accepted",
                    ));
                }
                Event::Start(s) => {
                    b.start(&s)?;
                }
                Event::Empty(s) => {
                    b.start(&s)?;
                    b.end();
                }
                Event::End(_) => {
                    if b.stack.is_empty() {
                        return Err(malformed("unbalanced end tag"));
                    }
                    b.end();
                }
                Event::Text(t) => {
                    let raw: &str = &t;
                    if raw.contains("]]>") {
                        return Err(malformed("']]>' in text"));
                    }
                    let value = unescape(raw)?;
                    b.text(&value)?;
                }
                Event::GeneralRef(r) => {
                    let name: &str = &r;
                    let c = resolve_reference(name)?;
                    b.text(c.encode_utf8(&mut [0; 4]))?;
                }
                Event::CData(c) => {
                    let raw: &str = &c;
                    b.text(raw)?;
                }
                Event::Comment(c) => {
                    if !b.stack.is_empty() {
                        let raw: &str = &c;
                        b.push(NodeKind::Comment(raw.to_owned()))?;
                    }
                }
                Event::PI(_) => {
                    if !b.stack.is_empty() {
                        return Err(malformed("processing instructions are not accepted"));
                    }
                }
                Event::Decl(_) => {}
                Event::Eof => break,
            }
        }
        if !b.stack.is_empty() {
            return Err(malformed("unexpected end of document"));
        }
        let root = b.root.ok_or_else(|| malformed("no document element"))?;
        Ok(Self { nodes: b.nodes, root, base_scope })
    }

    #[must_use]
    pub fn element(&self, id: NodeId) -> Option<&Element> {
        match &self.nodes.get(id)?.kind {
            NodeKind::Element(e) => Some(e),
            _ => None,
        }
    }

    #[must_use]
    pub fn parent(&self, id: NodeId) -> Option<NodeId> {
        self.nodes.get(id).and_then(|n| n.parent)
    }

    /// True when the element `id` has namespace `ns` and local name `local`.
    #[must_use]
    pub fn is(&self, id: NodeId, ns: &str, local: &str) -> bool {
        self.element(id).is_some_and(|e| e.local == local && e.ns.as_deref() == Some(ns))
    }

    /// The element children of `id`.
    pub fn child_elements(&self, id: NodeId) -> Vec<NodeId> {
        self.element(id)
            .map_or_else(Vec::new, |e| e.children.iter().copied().filter(|c| self.element(*c).is_some()).collect())
    }

    /// The element children of `id` with the given name.
    #[must_use]
    pub fn children_named(&self, id: NodeId, ns: &str, local: &str) -> Vec<NodeId> {
        self.child_elements(id).into_iter().filter(|c| self.is(*c, ns, local)).collect()
    }

    /// The only child with that name: `Ok(None)` when absent, an error when repeated.
    pub fn single_child(&self, id: NodeId, ns: &str, local: &str) -> Result<Option<NodeId>, SamlError> {
        let found = self.children_named(id, ns, local);
        match found.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(*one)),
            _ => Err(malformed(format!("more than one {local} element"))),
        }
    }

    /// All elements of the subtree at `id` (itself included), in document order.
    #[must_use]
    pub fn descendants(&self, id: NodeId) -> Vec<NodeId> {
        let mut out = Vec::new();
        let mut stack = vec![id];
        while let Some(n) = stack.pop() {
            if let Some(e) = self.element(n) {
                out.push(n);
                for c in e.children.iter().rev() {
                    stack.push(*c);
                }
            }
        }
        out
    }

    /// An attribute without namespace.
    #[must_use]
    pub fn attr(&self, id: NodeId, local: &str) -> Option<&str> {
        self.element(id)?.attrs.iter().find(|a| a.ns.is_none() && a.local == local).map(|a| a.value.as_str())
    }

    /// The text content: every text node of the subtree concatenated, comments skipped,
    /// so it equals the character data of the canonical form (a comment cannot cut it short).
    #[must_use]
    pub fn text(&self, id: NodeId) -> String {
        let mut out = String::new();
        self.collect_text(id, &mut out);
        out
    }

    fn collect_text(&self, id: NodeId, out: &mut String) {
        match self.nodes.get(id).map(|n| &n.kind) {
            Some(NodeKind::Text(t)) => out.push_str(t),
            Some(NodeKind::Element(e)) => {
                for c in &e.children {
                    self.collect_text(*c, out);
                }
            }
            _ => {}
        }
    }

    /// The namespace URI bound to `prefix` at element `id` (`None` prefix: default namespace).
    #[must_use]
    pub fn lookup_ns(&self, id: NodeId, prefix: Option<&str>) -> Option<String> {
        if prefix == Some("xml") {
            return Some(XML_NS.to_owned());
        }
        let mut cur = Some(id);
        while let Some(n) = cur {
            if let Some(e) = self.element(n)
                && let Some((_, uri)) = e.ns_decls.iter().find(|(p, _)| p.as_deref() == prefix)
            {
                return Some(uri.clone());
            }
            cur = self.parent(n);
        }
        self.base_scope.iter().find(|(p, _)| p.as_deref() == prefix).map(|(_, u)| u.clone())
    }

    /// Every namespace in scope at `id`, innermost declaration winning.
    #[must_use]
    pub fn in_scope_namespaces(&self, id: NodeId) -> Vec<(Option<String>, String)> {
        let mut seen: HashMap<Option<String>, String> = HashMap::new();
        let mut cur = Some(id);
        while let Some(n) = cur {
            if let Some(e) = self.element(n) {
                for (p, u) in &e.ns_decls {
                    seen.entry(p.clone()).or_insert_with(|| u.clone());
                }
            }
            cur = self.parent(n);
        }
        for (p, u) in &self.base_scope {
            seen.entry(p.clone()).or_insert_with(|| u.clone());
        }
        let mut out: Vec<_> = seen.into_iter().collect();
        out.sort();
        out
    }
}

/// Options of one exclusive canonicalization.
pub struct C14n<'a> {
    /// An element left out with its subtree (the enveloped-signature transform).
    pub exclude: Option<NodeId>,
    /// The `InclusiveNamespaces PrefixList` (`None` for `#default`).
    pub inclusive_prefixes: &'a [Option<String>],
    pub with_comments: bool,
}

/// Exclusive XML Canonicalization 1.0 of the subtree rooted at element `apex`.
#[must_use]
pub fn exc_c14n(doc: &Document, apex: NodeId, opts: &C14n<'_>) -> String {
    let mut out = String::new();
    let rendered: HashMap<Option<String>, String> = HashMap::new();
    write_element(doc, apex, opts, &rendered, &mut out);
    out
}

fn qname(prefix: Option<&String>, local: &str) -> String {
    match prefix {
        Some(p) => format!("{p}:{local}"),
        None => local.to_owned(),
    }
}

fn write_element(
    doc: &Document,
    id: NodeId,
    opts: &C14n<'_>,
    rendered: &HashMap<Option<String>, String>,
    out: &mut String,
) {
    let Some(e) = doc.element(id) else { return };
    // Namespaces visibly utilized: the element's own prefix (or the default namespace) and
    // the prefixes of its attributes; plus the inclusive prefix list, handled as in C14N 1.0.
    let mut wanted: Vec<Option<String>> = vec![e.prefix.clone()];
    for a in &e.attrs {
        if a.prefix.is_some() {
            wanted.push(a.prefix.clone());
        }
    }
    for p in opts.inclusive_prefixes {
        if doc.lookup_ns(id, p.as_deref()).is_some() {
            wanted.push(p.clone());
        }
    }
    wanted.sort();
    wanted.dedup();
    let mut emit: Vec<(Option<String>, String)> = Vec::new();
    for p in wanted {
        if p.as_deref() == Some("xml") {
            continue;
        }
        let uri = doc.lookup_ns(id, p.as_deref()).unwrap_or_default();
        let already = rendered.get(&p);
        if p.is_none() && uri.is_empty() {
            // xmlns="" only to undo a non-empty default rendered by an output ancestor.
            if already.is_some_and(|u| !u.is_empty()) {
                emit.push((None, String::new()));
            }
            continue;
        }
        if already != Some(&uri) {
            emit.push((p, uri));
        }
    }
    emit.sort_by(|a, b| a.0.cmp(&b.0));
    let name = qname(e.prefix.as_ref(), &e.local);
    out.push('<');
    out.push_str(&name);
    for (p, uri) in &emit {
        match p {
            Some(p) => {
                out.push_str(" xmlns:");
                out.push_str(p);
            }
            None => out.push_str(" xmlns"),
        }
        out.push_str("=\"");
        escape_attr(uri, out);
        out.push('"');
    }
    let mut attrs: Vec<&Attr> = e.attrs.iter().collect();
    attrs.sort_by(|a, b| {
        (a.ns.as_deref().unwrap_or(""), a.local.as_str()).cmp(&(b.ns.as_deref().unwrap_or(""), b.local.as_str()))
    });
    for a in attrs {
        out.push(' ');
        out.push_str(&qname(a.prefix.as_ref(), &a.local));
        out.push_str("=\"");
        escape_attr(&a.value, out);
        out.push('"');
    }
    out.push('>');
    let child_rendered;
    let rendered = if emit.is_empty() {
        rendered
    } else {
        let mut r = rendered.clone();
        for (p, u) in emit {
            r.insert(p, u);
        }
        child_rendered = r;
        &child_rendered
    };
    for c in &e.children {
        if Some(*c) == opts.exclude {
            continue;
        }
        match &doc.nodes[*c].kind {
            NodeKind::Element(_) => write_element(doc, *c, opts, rendered, out),
            NodeKind::Text(t) => escape_text(t, out),
            NodeKind::Comment(t) => {
                if opts.with_comments {
                    out.push_str("<!--");
                    out.push_str(t);
                    out.push_str("-->");
                }
            }
        }
    }
    out.push_str("</");
    out.push_str(&name);
    out.push('>');
}

fn escape_text(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            _ => out.push(c),
        }
    }
}

fn escape_attr(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            _ => out.push(c),
        }
    }
}

/// Escapes a value for our own XML output (metadata, requests).
#[must_use]
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_attr(s, &mut out);
    out.replace('>', "&gt;")
}
