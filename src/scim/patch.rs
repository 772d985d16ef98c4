//! SCIM PATCH (RFC 7644 §3.5.2) applied to a resource's JSON form, in the
//! dialects Okta and Microsoft Entra ID send: operation names in any case
//! (`"Replace"`), a path or a value object without path
//! (`{"op":"replace","value":{"active":false}}`), value-filtered paths
//! (`emails[type eq "work"].value`, `members[value eq "…"]`) and removal of
//! listed members (`{"op":"Remove","path":"members","value":[{"value":"…"}]}`).
//! The patched JSON is then stored the way a PUT would be.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::{ScimError, ScimResult};
use super::filter::{self, AttrPath, PatchPath};

pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Most operations one PATCH may carry.
const MAX_OPERATIONS: usize = 1000;

/// What a resource type accepts.
pub struct AttributeSet {
    /// Writable top-level attributes (lower-case).
    pub attributes: &'static [&'static str],
    /// Multi-valued ones among them (lower-case).
    pub multi_valued: &'static [&'static str],
    /// Read-only attributes a value object may repeat unchanged (id, meta…).
    pub read_only: &'static [&'static str],
    /// Extension schema URNs whose attributes are kept as sent (lower-case).
    pub extensions: &'static [&'static str],
}

#[derive(Debug, Deserialize)]
struct PatchRequest {
    #[serde(default)]
    schemas: Vec<String>,
    #[serde(rename = "Operations", alias = "operations")]
    operations: Vec<Operation>,
}

#[derive(Debug, Deserialize)]
struct Operation {
    op: String,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    value: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Add,
    Replace,
    Remove,
}

/// Applies a PATCH request body to `resource`.
pub fn apply(resource: &mut Value, body: &Value, set: &AttributeSet) -> ScimResult<()> {
    let request: PatchRequest = serde_json::from_value(body.clone())
        .map_err(|e| ScimError::invalid_syntax(format!("not a PatchOp request: {e}")))?;
    if !request.schemas.is_empty() && !request.schemas.iter().any(|s| s.eq_ignore_ascii_case(PATCH_SCHEMA)) {
        return Err(ScimError::invalid_syntax(format!("`schemas` must contain {PATCH_SCHEMA}")));
    }
    if request.operations.is_empty() || request.operations.len() > MAX_OPERATIONS {
        return Err(ScimError::invalid_syntax(format!("`Operations` must hold 1–{MAX_OPERATIONS} operations")));
    }
    for operation in request.operations {
        let op = match operation.op.to_ascii_lowercase().as_str() {
            "add" => Op::Add,
            "replace" => Op::Replace,
            "remove" => Op::Remove,
            other => return Err(ScimError::invalid_syntax(format!("unknown PATCH op `{other}`"))),
        };
        if let Some(raw) = operation.path.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
            {
                let path = filter::parse_path(raw)?;
                check_attribute(&path.attr, set)?;
                if op != Op::Remove && operation.value.is_none() {
                    return Err(ScimError::invalid_value(format!("`{raw}`: {op:?} needs a value")));
                }
                apply_path(resource, op, &path, operation.value, set)?;
            }
        } else {
            {
                if op == Op::Remove {
                    return Err(ScimError::no_target("remove needs a path"));
                }
                let Some(Value::Object(values)) = operation.value else {
                    return Err(ScimError::invalid_value("an operation without path needs an object value"));
                };
                for (key, value) in values {
                    if set.read_only.iter().any(|r| key.eq_ignore_ascii_case(r)) {
                        continue;
                    }
                    // An extension's object carries its attributes.
                    if set.extensions.iter().any(|e| key.eq_ignore_ascii_case(e)) {
                        if let Value::Object(inner) = value {
                            for (name, v) in inner {
                                let path = PatchPath {
                                    attr: AttrPath { uri: Some(key.clone()), name, sub: None },
                                    filter: None,
                                    sub: None,
                                };
                                apply_path(resource, op, &path, Some(v), set)?;
                            }
                            continue;
                        }
                        return Err(ScimError::invalid_value(format!("`{key}` must be an object")));
                    }
                    // Entra may put a path as a key (`"name.givenName": "…"`).
                    let path = filter::parse_path(&key)?;
                    check_attribute(&path.attr, set)?;
                    apply_path(resource, op, &path, Some(value), set)?;
                }
            }
        }
    }
    Ok(())
}

fn check_attribute(attr: &AttrPath, set: &AttributeSet) -> ScimResult<()> {
    match &attr.uri {
        Some(uri) if set.extensions.contains(&uri.to_ascii_lowercase().as_str()) => Ok(()),
        Some(uri) => Err(ScimError::invalid_path(format!("unknown schema `{uri}`"))),
        None if set.attributes.contains(&attr.name.to_ascii_lowercase().as_str()) => Ok(()),
        None if set.read_only.iter().any(|r| attr.name.eq_ignore_ascii_case(r)) => {
            Err(ScimError::mutability(format!("`{}` is read-only", attr.name)))
        }
        None => Err(ScimError::invalid_path(format!("unknown attribute `{}`", attr.name))),
    }
}

/// The object holding the attribute: the resource, or its extension object.
fn container<'a>(resource: &'a mut Value, uri: Option<&str>) -> ScimResult<&'a mut Map<String, Value>> {
    let root = resource.as_object_mut().ok_or_else(|| ScimError::invalid_value("the resource is not an object"))?;
    let Some(uri) = uri else { return Ok(root) };
    let key = root.keys().find(|k| k.eq_ignore_ascii_case(uri)).cloned().unwrap_or_else(|| uri.to_owned());
    let slot = root.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut().ok_or_else(|| ScimError::invalid_value("extension is not an object"))
}

/// The existing key spelled as in `map`, or `name` as given.
fn key_in(map: &Map<String, Value>, name: &str) -> String {
    map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned().unwrap_or_else(|| name.to_owned())
}

fn is_multi(attr: &AttrPath, set: &AttributeSet) -> bool {
    attr.uri.is_none() && set.multi_valued.contains(&attr.name.to_ascii_lowercase().as_str())
}

fn apply_path(
    resource: &mut Value,
    op: Op,
    path: &PatchPath,
    value: Option<Value>,
    set: &AttributeSet,
) -> ScimResult<()> {
    let multi = is_multi(&path.attr, set);
    let map = container(resource, path.attr.uri.as_deref())?;
    let key = key_in(map, &path.attr.name);
    if let Some(filter) = &path.filter {
        if !multi {
            return Err(ScimError::invalid_path(format!("`{}` is not multi-valued", path.attr.name)));
        }
        return apply_filtered(map, &key, op, filter, path.sub.as_deref(), value);
    }
    // `name.givenName`, or a sub-attribute of every value of a multi-valued one.
    if let Some(sub) = &path.attr.sub {
        if multi {
            let items = map.get_mut(&key).and_then(Value::as_array_mut);
            for item in items.into_iter().flatten() {
                set_sub(item, sub, op, value.clone());
            }
            return Ok(());
        }
        let slot = map.entry(key).or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        set_sub(slot, sub, op, value);
        return Ok(());
    }
    match op {
        Op::Remove => {
            match (multi, value) {
                // Entra removes listed members: `"path":"members","value":[{"value":"…"}]`.
                (true, Some(listed)) => {
                    let gone: Vec<Value> =
                        as_list(listed).iter().filter_map(|v| filter::get_ci(v, "value").cloned()).collect();
                    if let Some(Value::Array(items)) = map.get_mut(&key) {
                        items.retain(|item| !filter::get_ci(item, "value").is_some_and(|v| gone.contains(v)));
                    }
                }
                _ => {
                    map.remove(&key);
                }
            }
            Ok(())
        }
        Op::Add if multi => {
            let current = map.entry(key).or_insert_with(|| Value::Array(Vec::new()));
            if !current.is_array() {
                *current = Value::Array(Vec::new());
            }
            if let (Some(items), Some(value)) = (current.as_array_mut(), value) {
                for v in as_list(value) {
                    let existing = filter::get_ci(&v, "value").cloned();
                    let duplicate =
                        existing.is_some_and(|x| items.iter().any(|i| filter::get_ci(i, "value") == Some(&x)));
                    if !duplicate {
                        items.push(v);
                    }
                }
            }
            Ok(())
        }
        Op::Replace if multi => {
            map.insert(key, Value::Array(value.map(as_list).unwrap_or_default()));
            Ok(())
        }
        Op::Add | Op::Replace => {
            let value = value.unwrap_or(Value::Null);
            // Replacing a complex attribute with an object merges its sub-attributes.
            match (map.get_mut(&key), value) {
                (Some(Value::Object(current)), Value::Object(new)) if op == Op::Add || op == Op::Replace => {
                    for (k, v) in new {
                        let k2 = key_in(current, &k);
                        current.insert(k2, v);
                    }
                }
                (_, value) => {
                    map.insert(key, value);
                }
            }
            Ok(())
        }
    }
}

fn as_list(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

fn set_sub(item: &mut Value, sub: &str, op: Op, value: Option<Value>) {
    let Some(object) = item.as_object_mut() else { return };
    let key = key_in(object, sub);
    match (op, value) {
        (Op::Remove, _) | (_, None) => {
            object.remove(&key);
        }
        (_, Some(v)) => {
            object.insert(key, v);
        }
    }
}

fn apply_filtered(
    map: &mut Map<String, Value>,
    key: &str,
    op: Op,
    filter: &filter::Filter,
    sub: Option<&str>,
    value: Option<Value>,
) -> ScimResult<()> {
    let items = map.entry(key.to_owned()).or_insert_with(|| Value::Array(Vec::new()));
    if !items.is_array() {
        *items = Value::Array(Vec::new());
    }
    let Some(items) = items.as_array_mut() else { return Ok(()) };
    let matched: Vec<usize> =
        items.iter().enumerate().filter(|(_, item)| filter::matches(filter, item)).map(|(i, _)| i).collect();
    if matched.is_empty() {
        // Entra adds (and replaces) `emails[type eq "work"].value` on a user
        // without a work address: the filter's equalities make the new value.
        if op != Op::Remove
            && let Some(mut pinned) = filter::pinned_values(filter)
        {
            match (sub, value) {
                (Some(sub), Some(v)) => {
                    pinned.insert(sub.to_owned(), v);
                }
                (None, Some(Value::Object(v))) => pinned.extend(v),
                _ => return Err(ScimError::no_target(format!("no value of `{key}` matches the filter"))),
            }
            items.push(Value::Object(pinned));
            return Ok(());
        }
        return Err(ScimError::no_target(format!("no value of `{key}` matches the filter")));
    }
    match (op, sub) {
        (Op::Remove, None) => {
            let mut i = 0;
            items.retain(|_| {
                let keep = !matched.contains(&i);
                i += 1;
                keep
            });
        }
        (_, Some(sub)) => {
            for i in matched {
                set_sub(&mut items[i], sub, op, value.clone());
            }
        }
        (_, None) => {
            for i in matched {
                match (&mut items[i], value.clone()) {
                    (Value::Object(current), Some(Value::Object(new))) => {
                        for (k, v) in new {
                            let k2 = key_in(current, &k);
                            current.insert(k2, v);
                        }
                    }
                    (slot, Some(v)) => *slot = v,
                    (_, None) => {}
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scim::schema::{GROUP_ATTRIBUTES, USER_ATTRIBUTES};

    fn patch(resource: &mut Value, ops: &Value, set: &AttributeSet) -> ScimResult<()> {
        apply(resource, &json!({ "schemas": [PATCH_SCHEMA], "Operations": ops }), set)
    }

    #[test]
    fn entra_user_operations() {
        let mut user = json!({
            "userName": "a@example.com", "active": true, "name": { "givenName": "A" },
            "emails": [{ "value": "a@example.com", "type": "work", "primary": true }]
        });
        patch(&mut user, &json!([
                { "op": "Replace", "path": "active", "value": "False" },
                { "op": "Replace", "path": "name.givenName", "value": "Ann" },
                { "op": "Add", "path": "name.familyName", "value": "Lee" },
                { "op": "Replace", "path": "emails[type eq \"work\"].value", "value": "ann@example.com" },
                { "op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555" },
                { "op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Ops" },
                { "op": "Add", "path": "externalId", "value": "e-1" },
            ]),
            &USER_ATTRIBUTES,
        )
        .expect("patch");
        assert_eq!(user["active"], "False");
        assert_eq!(user["name"], json!({ "givenName": "Ann", "familyName": "Lee" }));
        assert_eq!(user["emails"][0]["value"], "ann@example.com");
        assert_eq!(user["phoneNumbers"], json!([{ "type": "mobile", "value": "+1 555" }]));
        assert_eq!(user["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"], "Ops");
        assert_eq!(user["externalId"], "e-1");
    }

    #[test]
    fn okta_value_objects_and_group_members() {
        let mut user = json!({ "userName": "a@example.com", "active": true, "id": "3" });
        patch(&mut user, &json!([{ "op": "replace", "value": { "id": "3", "active": false } }]), &USER_ATTRIBUTES)
            .expect("patch");
        assert_eq!(user["active"], false);

        let mut group = json!({ "id": "9", "displayName": "Eng", "members": [{ "value": "1" }] });
        patch(
            &mut group,
            &json!([
                { "op": "add", "path": "members", "value": [{ "value": "2", "display": "b" }, { "value": "1" }] },
                { "op": "replace", "value": { "id": "9", "displayName": "Engineering" } },
            ]),
            &GROUP_ATTRIBUTES,
        )
        .expect("patch");
        assert_eq!(group["displayName"], "Engineering");
        assert_eq!(group["members"], json!([{ "value": "1" }, { "value": "2", "display": "b" }]));
        patch(&mut group, &json!([{ "op": "remove", "path": "members[value eq \"1\"]" }]), &GROUP_ATTRIBUTES)
            .expect("remove");
        patch(
            &mut group,
            &json!([{ "op": "Remove", "path": "members", "value": [{ "value": "2" }] }]),
            &GROUP_ATTRIBUTES,
        )
        .expect("remove listed");
        assert_eq!(group["members"], json!([]));
    }

    #[test]
    fn bad_paths_and_targets() {
        let mut user = json!({ "userName": "a@example.com", "emails": [] });
        let e =
            patch(&mut user, &json!([{ "op": "replace", "path": "nickname.first.x", "value": 1 }]), &USER_ATTRIBUTES)
                .expect_err("bad");
        assert_eq!(e.scim_type, Some("invalidPath"));
        let e =
            patch(&mut user, &json!([{ "op": "replace", "path": "favouriteColour", "value": 1 }]), &USER_ATTRIBUTES)
                .expect_err("unknown");
        assert_eq!(e.scim_type, Some("invalidPath"));
        let e = patch(&mut user, &json!([{ "op": "remove", "path": "emails[type eq \"work\"]" }]), &USER_ATTRIBUTES)
            .expect_err("none");
        assert_eq!(e.scim_type, Some("noTarget"));
        let e = patch(
            &mut user,
            &json!([{ "op": "replace", "path": "emails[value co \"x\"].type", "value": "home" }]),
            &USER_ATTRIBUTES,
        )
        .expect_err("no match");
        assert_eq!(e.scim_type, Some("noTarget"));
        let e = patch(&mut user, &json!([{ "op": "move", "path": "userName" }]), &USER_ATTRIBUTES).expect_err("op");
        assert_eq!(e.scim_type, Some("invalidSyntax"));
        let e = patch(&mut user, &json!([{ "op": "replace", "path": "id", "value": "5" }]), &USER_ATTRIBUTES)
            .expect_err("ro");
        assert_eq!(e.scim_type, Some("mutability"));
    }
}
