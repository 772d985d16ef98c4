//! What this SCIM service provider supports, as RFC 7643 §5–7 discovery
//! documents, and the attribute sets PATCH checks paths against.

use serde_json::{Value, json};

use super::patch::AttributeSet;

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// Most resources one list page returns.
pub const MAX_RESULTS: usize = 1000;

/// Writable User attributes. Those without a column here (title,
/// phoneNumbers, addresses, …) are kept as sent in `scim_users.extra`.
pub const USER_ATTRIBUTES: AttributeSet = AttributeSet {
    attributes: &[
        "externalid",
        "username",
        "name",
        "displayname",
        "nickname",
        "profileurl",
        "title",
        "usertype",
        "preferredlanguage",
        "locale",
        "timezone",
        "active",
        "password",
        "emails",
        "phonenumbers",
        "ims",
        "photos",
        "addresses",
        "entitlements",
        "roles",
        "x509certificates",
    ],
    multi_valued: &[
        "emails",
        "phonenumbers",
        "ims",
        "photos",
        "addresses",
        "entitlements",
        "roles",
        "x509certificates",
    ],
    read_only: &["id", "meta", "schemas", "groups"],
    extensions: &["urn:ietf:params:scim:schemas:extension:enterprise:2.0:user"],
};

/// Writable Group attributes.
pub const GROUP_ATTRIBUTES: AttributeSet = AttributeSet {
    attributes: &["externalid", "displayname", "members"],
    multi_valued: &["members"],
    read_only: &["id", "meta", "schemas"],
    extensions: &[],
};

/// Top-level User attributes stored in `scim_users.extra` (lower-case).
pub const USER_EXTRA_ATTRIBUTES: &[&str] = &[
    "nickname",
    "profileurl",
    "title",
    "usertype",
    "preferredlanguage",
    "locale",
    "timezone",
    "phonenumbers",
    "ims",
    "photos",
    "addresses",
    "entitlements",
    "roles",
    "x509certificates",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user",
];

fn meta(base: &str, resource_type: &str, path: &str) -> Value {
    json!({ "resourceType": resource_type, "location": format!("{base}{path}") })
}

/// `GET /ServiceProviderConfig`.
#[must_use]
pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": [SPC_SCHEMA],
        "documentationUri": "https://datatracker.ietf.org/doc/html/rfc7644",
        "patch": { "supported": true },
        // Okta and Entra ID provision resource by resource; see docs/scim.md.
        "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
        "filter": { "supported": true, "maxResults": MAX_RESULTS },
        "changePassword": { "supported": false },
        "sort": { "supported": true },
        "etag": { "supported": false },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "SCIM bearer token",
            "description": "A per-organization SCIM token from the organization's settings, sent as `Authorization: Bearer scim_…`.",
            "primary": true
        }],
        "meta": meta(base, "ServiceProviderConfig", "/ServiceProviderConfig"),
    })
}

fn user_resource_type(base: &str) -> Value {
    json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "A member of the organization",
        "schema": USER_SCHEMA,
        "schemaExtensions": [{ "schema": ENTERPRISE_USER_SCHEMA, "required": false }],
        "meta": meta(base, "ResourceType", "/ResourceTypes/User"),
    })
}

fn group_resource_type(base: &str) -> Value {
    json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": "Group",
        "name": "Group",
        "endpoint": "/Groups",
        "description": "A team of the organization",
        "schema": GROUP_SCHEMA,
        "meta": meta(base, "ResourceType", "/ResourceTypes/Group"),
    })
}

/// Every resource type.
#[must_use]
pub fn resource_types(base: &str) -> Vec<Value> {
    vec![user_resource_type(base), group_resource_type(base)]
}

fn attr(name: &str, kind: &str, multi: bool, required: bool, mutability: &str, uniqueness: &str) -> Value {
    json!({
        "name": name, "type": kind, "multiValued": multi, "required": required, "caseExact": false,
        "mutability": mutability, "returned": "default", "uniqueness": uniqueness, "description": name,
    })
}

fn complex(name: &str, multi: bool, mutability: &str, subs: &[(&str, &str)]) -> Value {
    let mut a = attr(name, "complex", multi, false, mutability, "none");
    a["subAttributes"] = Value::Array(subs.iter().map(|(n, t)| attr(n, t, false, false, mutability, "none")).collect());
    a
}

fn user_schema(base: &str) -> Value {
    let typed = [("value", "string"), ("display", "string"), ("type", "string"), ("primary", "boolean")];
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": USER_SCHEMA,
        "name": "User",
        "description": "User account",
        "attributes": [
            attr("userName", "string", false, true, "readWrite", "server"),
            complex("name", false, "readWrite", &[("formatted", "string"), ("familyName", "string"), ("givenName", "string"), ("middleName", "string"), ("honorificPrefix", "string"), ("honorificSuffix", "string")]),
            attr("displayName", "string", false, false, "readWrite", "none"),
            attr("nickName", "string", false, false, "readWrite", "none"),
            attr("title", "string", false, false, "readWrite", "none"),
            attr("userType", "string", false, false, "readWrite", "none"),
            attr("preferredLanguage", "string", false, false, "readWrite", "none"),
            attr("locale", "string", false, false, "readWrite", "none"),
            attr("timezone", "string", false, false, "readWrite", "none"),
            attr("active", "boolean", false, false, "readWrite", "none"),
            complex("emails", true, "readWrite", &typed),
            complex("phoneNumbers", true, "readWrite", &typed),
            complex("addresses", true, "readWrite", &[("formatted", "string"), ("streetAddress", "string"), ("locality", "string"), ("region", "string"), ("postalCode", "string"), ("country", "string"), ("type", "string"), ("primary", "boolean")]),
            complex("groups", true, "readOnly", &[("value", "string"), ("$ref", "reference"), ("display", "string")]),
        ],
        "meta": meta(base, "Schema", &format!("/Schemas/{USER_SCHEMA}")),
    })
}

fn enterprise_schema(base: &str) -> Value {
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": ENTERPRISE_USER_SCHEMA,
        "name": "EnterpriseUser",
        "description": "Enterprise User (kept as sent)",
        "attributes": [
            attr("employeeNumber", "string", false, false, "readWrite", "none"),
            attr("costCenter", "string", false, false, "readWrite", "none"),
            attr("organization", "string", false, false, "readWrite", "none"),
            attr("division", "string", false, false, "readWrite", "none"),
            attr("department", "string", false, false, "readWrite", "none"),
            complex("manager", false, "readWrite", &[("value", "string"), ("$ref", "reference"), ("displayName", "string")]),
        ],
        "meta": meta(base, "Schema", &format!("/Schemas/{ENTERPRISE_USER_SCHEMA}")),
    })
}

fn group_schema(base: &str) -> Value {
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": GROUP_SCHEMA,
        "name": "Group",
        "description": "Group (a team of the organization)",
        "attributes": [
            attr("displayName", "string", false, true, "readWrite", "server"),
            complex("members", true, "readWrite", &[("value", "string"), ("$ref", "reference"), ("display", "string"), ("type", "string")]),
        ],
        "meta": meta(base, "Schema", &format!("/Schemas/{GROUP_SCHEMA}")),
    })
}

/// Every schema.
#[must_use]
pub fn schemas(base: &str) -> Vec<Value> {
    vec![user_schema(base), group_schema(base), enterprise_schema(base)]
}

/// A `ListResponse` of already-paged resources.
#[must_use]
pub fn list_response(total: usize, start_index: usize, resources: &[Value]) -> Value {
    json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}
