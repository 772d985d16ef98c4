//! Verification of a `samlp:Response` received by the HTTP-POST binding.
//!
//! Order: decode, refuse DOCTYPE, parse; structure checks that defeat signature wrapping
//! (IDs unique in the document, exactly one assertion in the whole document and it is a
//! direct child of the Response, signatures only as direct children of what they sign and
//! referencing it); signatures with the pinned certificates; then issuer, status,
//! destination, audience, recipient, time window, `InResponseTo`, and last the replay cache.
//! Every value returned is read from the very element whose signature was checked.

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use rsa::RsaPublicKey;

use super::xml::{Document, NodeId};
use super::{
    Assertion, CM_BEARER, IdpSettings, NS_ASSERTION, NS_DSIG, NS_PROTOCOL, ReplayCache, STATUS_SUCCESS, SamlError,
    SamlErrorKind, SpKey, SpSettings, dsig, encryption, parse_instant,
};

const MAX_RESPONSE_BYTES: usize = 1 << 20;

fn err(kind: SamlErrorKind, message: impl Into<String>) -> SamlError {
    SamlError::new(kind, message)
}

/// Counts the ID attributes of a document (`ID`, and XML Encryption's `Id`).
fn id_counts(doc: &Document) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for n in doc.descendants(doc.root) {
        for name in ["ID", "Id", "id"] {
            if let Some(v) = doc.attr(n, name) {
                *counts.entry(v.to_owned()).or_insert(0) += 1;
            }
        }
    }
    counts
}

fn require_unique_ids(counts: &HashMap<String, usize>) -> Result<(), SamlError> {
    if counts.values().any(|c| *c > 1) {
        return Err(err(SamlErrorKind::Wrapped, "an ID appears more than once"));
    }
    Ok(())
}

/// Verifies the signature that is a direct child of `element`, if any. More than one is
/// refused; signatures anywhere else are never considered.
fn verify_signature_of(
    doc: &Document,
    element: NodeId,
    keys: &[RsaPublicKey],
    counts: &HashMap<String, usize>,
) -> Result<bool, SamlError> {
    let sigs = doc.children_named(element, NS_DSIG, "Signature");
    match sigs.as_slice() {
        [] => Ok(false),
        [sig] => {
            let count = |id: &str| counts.get(id).copied().unwrap_or(0);
            let signed = dsig::verify(doc, *sig, keys, &count)?;
            if signed != element {
                return Err(err(SamlErrorKind::Wrapped, "the signature covers another element"));
            }
            Ok(true)
        }
        _ => Err(err(SamlErrorKind::Wrapped, "more than one signature on one element")),
    }
}

fn issuer_of(doc: &Document, element: NodeId) -> Result<Option<String>, SamlError> {
    Ok(doc.single_child(element, NS_ASSERTION, "Issuer")?.map(|i| doc.text(i).trim().to_owned()))
}

fn check_issuer(found: Option<&str>, idp: &IdpSettings) -> Result<(), SamlError> {
    match found {
        Some(i) if i == idp.entity_id => Ok(()),
        Some(i) => Err(err(SamlErrorKind::UnknownIssuer, format!("issuer {i:?} is not the configured IdP"))),
        None => Err(err(SamlErrorKind::UnknownIssuer, "the assertion has no issuer")),
    }
}

/// The assertion's XML, opened with the first of our keys that decrypts it. Every failure
/// (no key, wrong key, bad data) is the same `decryption_failed`.
fn decrypt_with_any(doc: &Document, encrypted: NodeId, sp_keys: &[SpKey]) -> Result<String, SamlError> {
    if sp_keys.is_empty() {
        return Err(err(SamlErrorKind::DecryptionFailed, "encrypted assertion but no SP decryption key is configured"));
    }
    let mut last = None;
    for key in sp_keys {
        match encryption::decrypt_assertion(doc, encrypted, &key.private_key) {
            Ok(xml) => return Ok(xml),
            Err(e) if e.kind == SamlErrorKind::DecryptionFailed => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| err(SamlErrorKind::DecryptionFailed, "the encrypted assertion cannot be decrypted")))
}

fn time_attr(doc: &Document, id: NodeId, name: &str) -> Result<Option<DateTime<Utc>>, SamlError> {
    doc.attr(id, name).map(parse_instant).transpose()
}

/// Verifies a response posted to the assertion consumer service.
///
/// - `saml_response`: the `SAMLResponse` form field (base64).
/// - `expected_in_response_to`: the id of the `AuthnRequest` this browser session sent, or
///   `None` for an unsolicited (IdP-initiated) response.
/// - `sp_keys`: our decryption keys, for encrypted assertions (during a key rollover the
///   current, the next and the previous key; the first that opens the assertion is used).
#[allow(clippy::too_many_arguments, clippy::too_many_lines)]
pub fn verify_response(
    saml_response: &str,
    sp: &SpSettings,
    idp: &IdpSettings,
    expected_in_response_to: Option<&str>,
    now: DateTime<Utc>,
    replay: &dyn ReplayCache,
    sp_keys: &[SpKey],
) -> Result<Assertion, SamlError> {
    let compact: String = saml_response.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if compact.len() > MAX_RESPONSE_BYTES * 4 / 3 + 4 {
        return Err(err(SamlErrorKind::Malformed, "the response is too large"));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| err(SamlErrorKind::Malformed, "the response is not base64"))?;
    let text = String::from_utf8(bytes).map_err(|_| err(SamlErrorKind::Malformed, "the response is not UTF-8"))?;
    let doc = Document::parse(&text)?;
    let root = doc.root;
    if !doc.is(root, NS_PROTOCOL, "Response") {
        return Err(err(SamlErrorKind::Malformed, "the document is not a samlp:Response"));
    }
    if doc.attr(root, "Version") != Some("2.0") {
        return Err(err(SamlErrorKind::Malformed, "not a SAML 2.0 response"));
    }
    let _response_id =
        doc.attr(root, "ID").ok_or_else(|| err(SamlErrorKind::Malformed, "the response has no ID"))?.to_owned();
    let counts = id_counts(&doc);
    require_unique_ids(&counts)?;

    // Exactly one assertion (plain or encrypted) in the whole document, as a direct child.
    let all = doc.descendants(root);
    let assertions: Vec<NodeId> = all
        .iter()
        .copied()
        .filter(|n| doc.is(*n, NS_ASSERTION, "Assertion") || doc.is(*n, NS_ASSERTION, "EncryptedAssertion"))
        .collect();
    let assertion_node = match assertions.as_slice() {
        [] => return Err(err(SamlErrorKind::Malformed, "the response has no assertion")),
        [one] => *one,
        _ => return Err(err(SamlErrorKind::Wrapped, "the response holds more than one assertion")),
    };
    if doc.parent(assertion_node) != Some(root) {
        return Err(err(SamlErrorKind::Wrapped, "the assertion is not a direct child of the response"));
    }

    let keys: Vec<RsaPublicKey> = idp.certificates.iter().map(|c| c.public_key.clone()).collect();
    let response_signed = verify_signature_of(&doc, root, &keys, &counts)?;

    // Issuer, status, destination of the response.
    if let Some(issuer) = issuer_of(&doc, root)? {
        check_issuer(Some(&issuer), idp)?;
    }
    let status = doc
        .single_child(root, NS_PROTOCOL, "Status")?
        .ok_or_else(|| err(SamlErrorKind::Malformed, "the response has no Status"))?;
    let code = doc.single_child(status, NS_PROTOCOL, "StatusCode")?.and_then(|c| doc.attr(c, "Value")).unwrap_or("");
    if code != STATUS_SUCCESS {
        return Err(err(SamlErrorKind::StatusNotSuccess, format!("the IdP answered {code:?}")));
    }
    match doc.attr(root, "Destination") {
        Some(d) if d != sp.acs_url => {
            return Err(err(SamlErrorKind::WrongDestination, format!("destination {d:?} is not our ACS URL")));
        }
        None if response_signed => {
            // SAML core §3.2.2: a signed response sent by HTTP-POST must name its destination.
            return Err(err(SamlErrorKind::WrongDestination, "the signed response has no Destination"));
        }
        _ => {}
    }

    // The assertion, decrypted into its own document when encrypted.
    let decrypted;
    let (adoc, assertion) = if doc.is(assertion_node, NS_ASSERTION, "EncryptedAssertion") {
        let xml = decrypt_with_any(&doc, assertion_node, sp_keys)?;
        decrypted = Document::parse_with_scope(&xml, doc.in_scope_namespaces(assertion_node))?;
        let a = decrypted.root;
        if !decrypted.is(a, NS_ASSERTION, "Assertion") {
            return Err(err(SamlErrorKind::Malformed, "the encrypted content is not an assertion"));
        }
        if decrypted
            .descendants(a)
            .iter()
            .filter(|n| {
                decrypted.is(**n, NS_ASSERTION, "Assertion") || decrypted.is(**n, NS_ASSERTION, "EncryptedAssertion")
            })
            .count()
            != 1
        {
            return Err(err(SamlErrorKind::Wrapped, "the encrypted assertion holds another assertion"));
        }
        (&decrypted, a)
    } else if sp.require_encrypted_assertions {
        return Err(err(
            SamlErrorKind::NotEncrypted,
            "the assertion is not encrypted, and this connection requires it",
        ));
    } else {
        (&doc, assertion_node)
    };
    let acounts = if std::ptr::eq(adoc, &raw const doc) {
        counts.clone()
    } else {
        let c = id_counts(adoc);
        require_unique_ids(&c)?;
        c
    };
    let assertion_id =
        adoc.attr(assertion, "ID").ok_or_else(|| err(SamlErrorKind::Malformed, "the assertion has no ID"))?.to_owned();
    if !std::ptr::eq(adoc, &raw const doc) && counts.contains_key(&assertion_id) {
        return Err(err(SamlErrorKind::Wrapped, "the decrypted assertion repeats an ID of the response"));
    }
    let assertion_signed = verify_signature_of(adoc, assertion, &keys, &acounts)?;
    if !response_signed && !assertion_signed {
        return Err(err(SamlErrorKind::Unsigned, "neither the response nor the assertion is signed"));
    }

    let issuer = issuer_of(adoc, assertion)?;
    check_issuer(issuer.as_deref(), idp)?;
    let issuer = issuer.unwrap_or_default();

    // InResponseTo of the response.
    let response_irt = doc.attr(root, "InResponseTo");
    check_in_response_to(response_irt, expected_in_response_to, sp)?;

    // Subject: NameID and a bearer confirmation for our ACS.
    let subject = adoc
        .single_child(assertion, NS_ASSERTION, "Subject")?
        .ok_or_else(|| err(SamlErrorKind::Malformed, "the assertion has no Subject"))?;
    let name_id_el = adoc
        .single_child(subject, NS_ASSERTION, "NameID")?
        .ok_or_else(|| err(SamlErrorKind::Malformed, "the subject has no NameID"))?;
    let name_id = adoc.text(name_id_el).trim().to_owned();
    if name_id.is_empty() {
        return Err(err(SamlErrorKind::Malformed, "the NameID is empty"));
    }
    let name_id_format = adoc.attr(name_id_el, "Format").map(str::to_owned);

    let skew = sp.clock_skew;
    let mut bounds: Vec<DateTime<Utc>> = Vec::new();
    let mut first_error: Option<SamlError> = None;
    let mut confirmed = false;
    for sc in adoc.children_named(subject, NS_ASSERTION, "SubjectConfirmation") {
        if adoc.attr(sc, "Method") != Some(CM_BEARER) {
            continue;
        }
        match check_confirmation(adoc, sc, sp, expected_in_response_to, now) {
            Ok(until) => {
                confirmed = true;
                bounds.push(until);
                break;
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if !confirmed {
        return Err(first_error.unwrap_or_else(|| err(SamlErrorKind::Malformed, "no bearer subject confirmation")));
    }

    // Conditions: validity window and audience.
    let conditions = adoc
        .single_child(assertion, NS_ASSERTION, "Conditions")?
        .ok_or_else(|| err(SamlErrorKind::WrongAudience, "the assertion has no Conditions (no audience)"))?;
    if let Some(nb) = time_attr(adoc, conditions, "NotBefore")?
        && now + skew < nb
    {
        return Err(err(SamlErrorKind::NotYetValid, format!("the assertion is valid from {nb}")));
    }
    if let Some(na) = time_attr(adoc, conditions, "NotOnOrAfter")? {
        if now - skew >= na {
            return Err(err(SamlErrorKind::Expired, format!("the assertion expired at {na}")));
        }
        bounds.push(na);
    }
    let restrictions = adoc.children_named(conditions, NS_ASSERTION, "AudienceRestriction");
    if restrictions.is_empty() {
        return Err(err(SamlErrorKind::WrongAudience, "the assertion has no AudienceRestriction"));
    }
    for r in restrictions {
        let ok = adoc.children_named(r, NS_ASSERTION, "Audience").iter().any(|a| adoc.text(*a).trim() == sp.entity_id);
        if !ok {
            return Err(err(SamlErrorKind::WrongAudience, "the assertion is meant for another audience"));
        }
    }

    let session_index = adoc
        .children_named(assertion, NS_ASSERTION, "AuthnStatement")
        .first()
        .and_then(|s| adoc.attr(*s, "SessionIndex"))
        .map(str::to_owned);
    let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for statement in adoc.children_named(assertion, NS_ASSERTION, "AttributeStatement") {
        for attr in adoc.children_named(statement, NS_ASSERTION, "Attribute") {
            let Some(name) = adoc.attr(attr, "Name") else { continue };
            let values = attributes.entry(name.to_owned()).or_default();
            for v in adoc.children_named(attr, NS_ASSERTION, "AttributeValue") {
                values.push(adoc.text(v).trim().to_owned());
            }
        }
    }

    let not_on_or_after = bounds.iter().min().copied();
    // Remembered until it could no longer be accepted; an assertion without any bound is
    // remembered for a day.
    let forget_at = not_on_or_after.unwrap_or(now + chrono::Duration::days(1)) + skew;
    if !replay.check_and_store(&issuer, &assertion_id, forget_at, now)? {
        return Err(err(SamlErrorKind::Replayed, "this assertion was already used"));
    }
    Ok(Assertion {
        id: assertion_id,
        issuer,
        name_id,
        name_id_format,
        session_index,
        attributes,
        not_on_or_after,
        in_response_to: expected_in_response_to.map(str::to_owned),
    })
}

fn check_in_response_to(found: Option<&str>, expected: Option<&str>, sp: &SpSettings) -> Result<(), SamlError> {
    match (expected, found) {
        (Some(e), Some(f)) if e == f => Ok(()),
        (Some(_), Some(f)) => {
            Err(err(SamlErrorKind::InResponseToMismatch, format!("the response answers request {f:?}, not ours")))
        }
        // SP-initiated: the IdP must say which request it answers (checked on the
        // subject confirmation when the response itself does not).
        (Some(_), None) => Ok(()),
        (None, Some(f)) => Err(err(
            SamlErrorKind::InResponseToMismatch,
            format!("the response answers request {f:?}, which this session did not send"),
        )),
        (None, None) if sp.allow_idp_initiated => Ok(()),
        (None, None) => Err(err(SamlErrorKind::Unsolicited, "unsolicited (IdP-initiated) responses are not enabled")),
    }
}

/// Checks one bearer `SubjectConfirmation`; returns its `NotOnOrAfter`.
fn check_confirmation(
    doc: &Document,
    sc: NodeId,
    sp: &SpSettings,
    expected: Option<&str>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, SamlError> {
    let data = doc
        .single_child(sc, NS_ASSERTION, "SubjectConfirmationData")?
        .ok_or_else(|| err(SamlErrorKind::Malformed, "bearer confirmation without SubjectConfirmationData"))?;
    match doc.attr(data, "Recipient") {
        Some(r) if r == sp.acs_url => {}
        Some(r) => return Err(err(SamlErrorKind::WrongRecipient, format!("recipient {r:?} is not our ACS URL"))),
        None => return Err(err(SamlErrorKind::WrongRecipient, "the confirmation has no Recipient")),
    }
    let until = time_attr(doc, data, "NotOnOrAfter")?
        .ok_or_else(|| err(SamlErrorKind::Malformed, "the confirmation has no NotOnOrAfter"))?;
    if now - sp.clock_skew >= until {
        return Err(err(SamlErrorKind::Expired, format!("the confirmation expired at {until}")));
    }
    if let Some(nb) = time_attr(doc, data, "NotBefore")?
        && now + sp.clock_skew < nb
    {
        return Err(err(SamlErrorKind::NotYetValid, format!("the confirmation is valid from {nb}")));
    }
    let irt = doc.attr(data, "InResponseTo");
    if expected.is_some() && irt.is_none() {
        return Err(err(SamlErrorKind::InResponseToMismatch, "the confirmation does not name our request"));
    }
    check_in_response_to(irt, expected, sp)?;
    Ok(until)
}
