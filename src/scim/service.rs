//! SCIM provisioning rules. A SCIM User is a member of the organization
//! with a `scim_users` row; a SCIM Group is a team. Every change is one
//! transaction with its audit rows.
//!
//! - Creating a user whose email already has an account links that account:
//!   a membership with the token's role (or the existing membership, role
//!   unchanged). The account's other organizations are never touched; the
//!   email and name of an account SCIM created follow the identity provider while this is
//!   its only organization.
//! - `active=false` suspends the membership — the user's sessions and API
//!   tokens stop working in this organization at once (tokens are revoked;
//!   when no other active membership is left, every session is revoked);
//!   `active=true` restores it. DELETE removes the membership (team places
//!   too) and, for an account SCIM created that never set a password, the
//!   account.
//! - The last owner can be neither deactivated nor removed (400 `mutability`).

use actix_web::http::StatusCode;
use serde_json::{Map, Value, json};

use super::error::{ScimError, ScimResult};
use super::filter;
use super::model::{GroupRow, MemberRow, ScimTokenId, UserFields, UserRow};
use super::patch;
use super::schema::{self, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_EXTRA_ATTRIBUTES, USER_SCHEMA};
use super::store;
use crate::db::now;
use crate::http::{ClientInfo, Tenant};
use crate::ids::{RoleId, TeamId, UserId};
use crate::orgs::audit::{self, AuditEntry};
use crate::orgs::{members, roles, teams};

/// The password hash of accounts SCIM creates: no password matches it, so
/// they sign in through SSO or set a password by the reset link.
pub const NO_PASSWORD: &str = "!scim-provisioned";

/// Who is provisioning: the token's organization, the token and its role.
#[derive(Debug, Clone)]
pub struct Provisioner {
    pub tenant: Tenant,
    pub token_id: ScimTokenId,
    pub role_id: RoleId,
    /// `…/scim/v2`, for `meta.location`.
    pub base: String,
    /// The identity provider's address and agent, for audit rows.
    pub client: ClientInfo,
}

impl Provisioner {
    fn audit(&self, action: &str, resource_type: &str, id: i64) -> AuditEntry {
        AuditEntry::by(&self.tenant, action, resource_type, id)
            .with_metadata(json!({ "via": "scim", "scim_token_id": self.token_id.0 }))
            .from(&self.client)
            .activity()
    }
}

// ------------------------------------------------------------------ input

fn string_at(body: &Value, key: &str) -> ScimResult<Option<String>> {
    match filter::get_ci(body, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned()).filter(|s| !s.is_empty())),
        Some(other) => Err(ScimError::invalid_value(format!("`{key}` must be a string, not {other}"))),
    }
}

/// identity providers send booleans as JSON booleans or as strings ("False").
fn bool_at(body: &Value, key: &str) -> ScimResult<Option<bool>> {
    match filter::get_ci(body, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(other) => Err(ScimError::invalid_value(format!("`{key}` must be a boolean, not {other}"))),
    }
}

fn check_len(key: &str, value: Option<String>, max: usize) -> ScimResult<Option<String>> {
    match value {
        Some(v) if v.chars().count() > max || v.chars().any(char::is_control) => Err(ScimError::invalid_value(
            format!("`{key}` must be at most {max} characters without control characters"),
        )),
        v => Ok(v),
    }
}

/// Reads the stored attributes of a User from its JSON form.
fn user_fields(body: &Value) -> ScimResult<UserFields> {
    if !body.is_object() {
        return Err(ScimError::invalid_syntax("the body must be a JSON object"));
    }
    let user_name = check_len("userName", string_at(body, "userName")?, 254)?
        .ok_or_else(|| ScimError::invalid_value("`userName` is required"))?;
    let external_id = check_len("externalId", string_at(body, "externalId")?, 500)?;
    let (given_name, family_name) = match filter::get_ci(body, "name") {
        None | Some(Value::Null) => (None, None),
        Some(name @ Value::Object(_)) => (
            check_len("name.givenName", string_at(name, "givenName")?, 200)?,
            check_len("name.familyName", string_at(name, "familyName")?, 200)?,
        ),
        Some(_) => return Err(ScimError::invalid_value("`name` must be an object")),
    };
    let display_name = check_len("displayName", string_at(body, "displayName")?, 200)?;
    let emails = match filter::get_ci(body, "emails") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(_) => return Err(ScimError::invalid_value("`emails` must be an array")),
    };
    let mut addresses = Vec::new();
    for item in &emails {
        let value = string_at(item, "value")?.ok_or_else(|| ScimError::invalid_value("every email needs a `value`"))?;
        addresses.push((value, bool_at(item, "primary")?.unwrap_or(false)));
    }
    let active = bool_at(body, "active")?.unwrap_or(true);
    let mut extra = Map::new();
    if let Some(object) = body.as_object() {
        for (k, v) in object {
            if USER_EXTRA_ATTRIBUTES.contains(&k.to_ascii_lowercase().as_str()) && !v.is_null() {
                extra.insert(k.clone(), v.clone());
            }
        }
    }
    // The account's address: the primary email, else the first, else userName.
    let candidate = addresses
        .iter()
        .find(|(_, primary)| *primary)
        .or_else(|| addresses.first())
        .map_or(user_name.as_str(), |(v, _)| v.as_str());
    let email = crate::accounts::service::normalize_email(candidate)
        .or_else(|_| crate::accounts::service::normalize_email(&user_name))
        .map_err(|_| ScimError::invalid_value("a user needs an email address: in `emails[].value` or as `userName`"))?;
    Ok(UserFields {
        user_name,
        external_id,
        given_name,
        family_name,
        display_name,
        emails: Value::Array(emails).to_string(),
        extra: Value::Object(extra).to_string(),
        active,
        email,
    })
}

fn account_name(f: &UserFields) -> String {
    f.display_name.clone().unwrap_or_else(|| {
        let joined =
            [f.given_name.as_deref(), f.family_name.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
        if joined.is_empty() { f.user_name.clone() } else { joined }
    })
}

// ----------------------------------------------------------------- output

/// The SCIM JSON of a provisioned user.
#[must_use]
pub fn user_json(base: &str, row: &UserRow, teams: &[&MemberRow]) -> Value {
    let mut out = Map::new();
    let extra: Map<String, Value> = serde_json::from_str(&row.extra).unwrap_or_default();
    let mut schemas = vec![json!(USER_SCHEMA)];
    if extra.keys().any(|k| k.eq_ignore_ascii_case(ENTERPRISE_USER_SCHEMA)) {
        schemas.push(json!(ENTERPRISE_USER_SCHEMA));
    }
    out.insert("schemas".into(), Value::Array(schemas));
    out.insert("id".into(), json!(row.user_id.0.to_string()));
    if let Some(e) = &row.external_id {
        out.insert("externalId".into(), json!(e));
    }
    out.insert("userName".into(), json!(row.user_name));
    let mut name = Map::new();
    if let Some(g) = &row.given_name {
        name.insert("givenName".into(), json!(g));
    }
    if let Some(f) = &row.family_name {
        name.insert("familyName".into(), json!(f));
    }
    if !name.is_empty() {
        let formatted =
            [row.given_name.as_deref(), row.family_name.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
        name.insert("formatted".into(), json!(formatted));
        out.insert("name".into(), Value::Object(name));
    }
    if let Some(d) = &row.display_name {
        out.insert("displayName".into(), json!(d));
    }
    out.insert("emails".into(), serde_json::from_str(&row.emails).unwrap_or_else(|_| json!([])));
    out.insert("active".into(), json!(row.active));
    out.insert(
        "groups".into(),
        Value::Array(
            teams
                .iter()
                .map(|m| {
                    json!({ "value": m.team_id.0.to_string(), "display": m.team_name,
                            "$ref": format!("{base}/Groups/{}", m.team_id.0) })
                })
                .collect(),
        ),
    );
    for (k, v) in extra {
        out.entry(k).or_insert(v);
    }
    out.insert(
        "meta".into(),
        json!({
            "resourceType": "User",
            "created": row.created_at,
            "lastModified": row.updated_at,
            "location": format!("{base}/Users/{}", row.user_id.0),
        }),
    );
    Value::Object(out)
}

/// The SCIM JSON of a team.
#[must_use]
pub fn group_json(base: &str, row: &GroupRow, members: &[&MemberRow]) -> Value {
    let mut out = json!({
        "schemas": [GROUP_SCHEMA],
        "id": row.team_id.0.to_string(),
        "displayName": row.name,
        "members": members.iter().map(|m| json!({
            "value": m.user_id.0.to_string(), "display": m.display, "type": "User",
            "$ref": format!("{base}/Users/{}", m.user_id.0),
        })).collect::<Vec<_>>(),
        "meta": {
            "resourceType": "Group",
            "created": row.created_at,
            "lastModified": row.updated_at,
            "location": format!("{base}/Groups/{}", row.team_id.0),
        },
    });
    if let Some(e) = &row.external_id {
        out["externalId"] = json!(e);
    }
    out
}

/// One user's SCIM JSON.
pub fn get_user(conn: &rusqlite::Connection, p: &Provisioner, user: UserId) -> ScimResult<Value> {
    let row = store::find_user(conn, &p.tenant, user)?.ok_or_else(|| user_not_found(user))?;
    let teams = store::user_teams(conn, &p.tenant, user)?;
    Ok(user_json(&p.base, &row, &teams.iter().collect::<Vec<_>>()))
}

/// Every provisioned user's SCIM JSON.
pub fn all_users(conn: &rusqlite::Connection, p: &Provisioner) -> ScimResult<Vec<Value>> {
    let rows = store::list_users(conn, &p.tenant)?;
    let members = store::all_members(conn, &p.tenant)?;
    Ok(rows
        .iter()
        .map(|r| {
            let teams: Vec<&MemberRow> = members.iter().filter(|m| m.user_id == r.user_id).collect();
            user_json(&p.base, r, &teams)
        })
        .collect())
}

pub fn get_group(conn: &rusqlite::Connection, p: &Provisioner, team: TeamId) -> ScimResult<Value> {
    let row = store::find_group(conn, &p.tenant, team)?.ok_or_else(|| group_not_found(team))?;
    let members = store::team_members(conn, &p.tenant, team)?;
    Ok(group_json(&p.base, &row, &members.iter().collect::<Vec<_>>()))
}

pub fn all_groups(conn: &rusqlite::Connection, p: &Provisioner) -> ScimResult<Vec<Value>> {
    let rows = store::list_groups(conn, &p.tenant)?;
    let members = store::all_members(conn, &p.tenant)?;
    Ok(rows
        .iter()
        .map(|r| {
            let of: Vec<&MemberRow> = members.iter().filter(|m| m.team_id == r.team_id).collect();
            group_json(&p.base, r, &of)
        })
        .collect())
}

fn user_not_found(user: UserId) -> ScimError {
    ScimError::not_found(format!("no User {user} in this organization"))
}

fn group_not_found(team: TeamId) -> ScimError {
    ScimError::not_found(format!("no Group {team} in this organization"))
}

// ------------------------------------------------------------------ users

/// Whether `user` is this organization's only active owner.
fn is_last_owner(conn: &rusqlite::Connection, tenant: &Tenant, user: UserId) -> ScimResult<bool> {
    let Some(member) = members::store::find(conn, tenant, user)? else { return Ok(false) };
    let role = roles::service::find(conn, tenant, member.role_id)?;
    Ok(role.is_owner() && member.status == "active" && members::store::owner_count(conn, tenant)? <= 1)
}

/// Cuts the user off in this organization at once.
fn cut_off(conn: &rusqlite::Connection, tenant: &Tenant, user: UserId) -> ScimResult<usize> {
    let n = now();
    store::revoke_api_tokens(conn, tenant, user, &n)?;
    // Sessions are per account: revoke them when no other organization
    // still needs them (in this one the suspended membership refuses them).
    if store::other_active_memberships(conn, tenant, user)? == 0 {
        return Ok(crate::accounts::store::revoke_sessions(conn, user, None, &n)?);
    }
    Ok(0)
}

/// `POST /Users`.
pub fn create_user(conn: &rusqlite::Connection, p: &Provisioner, body: &Value) -> ScimResult<Value> {
    let f = user_fields(body)?;
    let tenant = &p.tenant;
    if store::user_name_taken(conn, tenant, &f.user_name, None)? {
        return Err(ScimError::uniqueness(format!("userName `{}` is already provisioned", f.user_name)));
    }
    let (user, linked) = if let Some(account) = crate::accounts::store::find_by_email(conn, &f.email)? {
        if store::find_user(conn, tenant, account.id)?.is_some() {
            return Err(ScimError::uniqueness(format!("a user with the email {} is already provisioned", f.email)));
        }
        (account.id, true)
    } else {
        let id = crate::accounts::store::insert_user(conn, &f.email, NO_PASSWORD, &account_name(&f))?
            .ok_or_else(|| ScimError::uniqueness(format!("the email {} is taken", f.email)))?;
        (id, false)
    };
    let already_member = members::store::find(conn, tenant, user)?.is_some();
    if !already_member {
        crate::billing::limits::check(conn, tenant.org_id(), crate::billing::limits::Limit::Seats, 1)?;
        crate::orgs::store::insert_member(conn, tenant.org_id(), user, p.role_id, None)?;
    }
    store::insert_user(conn, tenant, user, &f)?;
    if f.active {
        store::set_member_status(conn, tenant, user, true)?;
    } else {
        if is_last_owner(conn, tenant, user)? {
            return Err(ScimError::mutability("the organization's last owner cannot be deactivated"));
        }
        store::set_member_status(conn, tenant, user, false)?;
        cut_off(conn, tenant, user)?;
    }
    crate::billing::usage::refresh_seats(conn, tenant.org_id())?;
    let action = match (linked, already_member) {
        (_, true) => "scim.user_linked",
        (true, false) => "scim.user_joined",
        (false, false) => "scim.user_created",
    };
    audit::record(
        conn,
        &p.audit(action, "user", user.0).with_new(json!({
            "user_name": f.user_name, "email": f.email, "external_id": f.external_id, "active": f.active,
        })),
    )?;
    get_user(conn, p, user)
}

/// `PUT /Users/{id}`.
pub fn replace_user(conn: &rusqlite::Connection, p: &Provisioner, user: UserId, body: &Value) -> ScimResult<Value> {
    let old = store::find_user(conn, &p.tenant, user)?.ok_or_else(|| user_not_found(user))?;
    let f = user_fields(body)?;
    update_user(conn, p, &old, &f)?;
    get_user(conn, p, user)
}

/// `PATCH /Users/{id}`.
pub fn patch_user(conn: &rusqlite::Connection, p: &Provisioner, user: UserId, body: &Value) -> ScimResult<Value> {
    let old = store::find_user(conn, &p.tenant, user)?.ok_or_else(|| user_not_found(user))?;
    let mut current = get_user(conn, p, user)?;
    patch::apply(&mut current, body, &schema::USER_ATTRIBUTES)?;
    let f = user_fields(&current)?;
    update_user(conn, p, &old, &f)?;
    get_user(conn, p, user)
}

fn update_user(conn: &rusqlite::Connection, p: &Provisioner, old: &UserRow, f: &UserFields) -> ScimResult<()> {
    let (tenant, user) = (&p.tenant, old.user_id);
    if store::user_name_taken(conn, tenant, &f.user_name, Some(user))? {
        return Err(ScimError::uniqueness(format!("userName `{}` is already provisioned", f.user_name)));
    }
    if old.active && !f.active && is_last_owner(conn, tenant, user)? {
        return Err(ScimError::mutability("the organization's last owner cannot be deactivated"));
    }
    store::update_user(conn, tenant, user, f)?;
    // An account SCIM made follows the identity provider while no other organization has it;
    // accounts people made themselves keep their own email and name.
    if store::other_memberships(conn, tenant, user)? == 0 {
        store::set_account_identity(conn, user, &f.email, &account_name(f), NO_PASSWORD)?;
    }
    audit::record(
        conn,
        &p.audit("scim.user_updated", "user", user.0)
            .with_old(json!({ "user_name": old.user_name, "external_id": old.external_id, "active": old.active }))
            .with_new(json!({ "user_name": f.user_name, "external_id": f.external_id, "active": f.active })),
    )?;
    if old.active != f.active {
        store::set_member_status(conn, tenant, user, f.active)?;
        let revoked = if f.active { 0 } else { cut_off(conn, tenant, user)? };
        let action = if f.active { "scim.user_reactivated" } else { "scim.user_deactivated" };
        audit::record(conn, &p.audit(action, "user", user.0).with_new(json!({ "sessions_revoked": revoked })))?;
    }
    Ok(())
}

/// `DELETE /Users/{id}`.
pub fn delete_user(conn: &rusqlite::Connection, p: &Provisioner, user: UserId) -> ScimResult<()> {
    let tenant = &p.tenant;
    let old = store::find_user(conn, tenant, user)?.ok_or_else(|| user_not_found(user))?;
    if is_last_owner(conn, tenant, user)? {
        return Err(ScimError::mutability("the organization's last owner cannot be removed"));
    }
    let n = now();
    members::store::remove(conn, tenant, user, &n)?;
    members::store::fix_owner_id(conn, tenant)?;
    store::delete_user(conn, tenant, user)?;
    let revoked = cut_off(conn, tenant, user)?;
    crate::billing::usage::refresh_seats(conn, tenant.org_id())?;
    let account_deleted = store::delete_orphan_account(conn, user, NO_PASSWORD)?;
    audit::record(
        conn,
        &p.audit("scim.user_deleted", "user", user.0)
            .with_old(json!({ "user_name": old.user_name, "external_id": old.external_id }))
            .with_new(json!({ "sessions_revoked": revoked, "account_deleted": account_deleted })),
    )?;
    Ok(())
}

// ----------------------------------------------------------------- groups

struct GroupFields {
    name: String,
    external_id: Option<String>,
    members: Vec<UserId>,
}

fn group_fields(body: &Value) -> ScimResult<GroupFields> {
    if !body.is_object() {
        return Err(ScimError::invalid_syntax("the body must be a JSON object"));
    }
    let raw = string_at(body, "displayName")?.ok_or_else(|| ScimError::invalid_value("`displayName` is required"))?;
    let name = crate::names::check_name("displayName", &raw, 100)?;
    let external_id = check_len("externalId", string_at(body, "externalId")?, 500)?;
    let mut members = Vec::new();
    match filter::get_ci(body, "members") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for item in items {
                let value = match filter::get_ci(item, "value") {
                    Some(Value::String(s)) => s.trim().to_owned(),
                    Some(Value::Number(n)) => n.to_string(),
                    _ => return Err(ScimError::invalid_value("every member needs a `value` (a User id)")),
                };
                let id = value.parse::<i64>().map(UserId).map_err(|_| {
                    ScimError::invalid_value(format!("member `{value}` is not a User of this organization"))
                })?;
                if !members.contains(&id) {
                    members.push(id);
                }
            }
        }
        Some(_) => return Err(ScimError::invalid_value("`members` must be an array")),
    }
    Ok(GroupFields { name, external_id, members })
}

/// Makes the team's members exactly `wanted`.
fn sync_members(conn: &rusqlite::Connection, p: &Provisioner, team: TeamId, wanted: &[UserId]) -> ScimResult<()> {
    let tenant = &p.tenant;
    let current: Vec<UserId> = store::team_members(conn, tenant, team)?.into_iter().map(|m| m.user_id).collect();
    let adding: Vec<UserId> = wanted.iter().copied().filter(|u| !current.contains(u)).collect();
    if !adding.is_empty() {
        let role = teams::store::default_role(conn, tenant)?
            .ok_or_else(|| ScimError::invalid_value("the organization has no default team role; name one in Teams"))?;
        for user in adding {
            if !teams::store::is_org_member(conn, tenant, user)? {
                return Err(ScimError::invalid_value(format!("member `{user}` is not a User of this organization")));
            }
            teams::store::insert_member(conn, tenant, team, user, role.id)?;
            audit::record(
                conn,
                &p.audit("scim.group_member_added", "team", team.0).with_new(json!({ "user_id": user.0 })),
            )?;
        }
    }
    for user in current.into_iter().filter(|u| !wanted.contains(u)) {
        teams::store::remove_member(conn, tenant, team, user)?;
        audit::record(
            conn,
            &p.audit("scim.group_member_removed", "team", team.0).with_old(json!({ "user_id": user.0 })),
        )?;
    }
    Ok(())
}

/// `POST /Groups`.
pub fn create_group(conn: &rusqlite::Connection, p: &Provisioner, body: &Value) -> ScimResult<Value> {
    let f = group_fields(body)?;
    let team = teams::store::insert(conn, &p.tenant, &f.name, None)?
        .ok_or_else(|| ScimError::uniqueness(format!("a Group named `{}` exists", f.name)))?;
    store::set_group_external_id(conn, &p.tenant, team, f.external_id.as_deref())?;
    audit::record(
        conn,
        &p.audit("scim.group_created", "team", team.0)
            .with_new(json!({ "name": f.name, "external_id": f.external_id })),
    )?;
    sync_members(conn, p, team, &f.members)?;
    get_group(conn, p, team)
}

fn update_group(conn: &rusqlite::Connection, p: &Provisioner, old: &GroupRow, f: &GroupFields) -> ScimResult<()> {
    let (tenant, team) = (&p.tenant, old.team_id);
    if f.name != old.name {
        if teams::store::name_taken(conn, tenant, &f.name, team)? {
            return Err(ScimError::uniqueness(format!("a Group named `{}` exists", f.name)));
        }
        let description = teams::store::find(conn, tenant, team)?.and_then(|t| t.description);
        teams::store::update(conn, tenant, team, &f.name, description.as_deref())?;
    }
    store::set_group_external_id(conn, tenant, team, f.external_id.as_deref())?;
    if f.name != old.name || f.external_id != old.external_id {
        audit::record(
            conn,
            &p.audit("scim.group_updated", "team", team.0)
                .with_old(json!({ "name": old.name, "external_id": old.external_id }))
                .with_new(json!({ "name": f.name, "external_id": f.external_id })),
        )?;
    }
    sync_members(conn, p, team, &f.members)?;
    store::touch_team(conn, tenant, team)?;
    Ok(())
}

/// `PUT /Groups/{id}`.
pub fn replace_group(conn: &rusqlite::Connection, p: &Provisioner, team: TeamId, body: &Value) -> ScimResult<Value> {
    let old = store::find_group(conn, &p.tenant, team)?.ok_or_else(|| group_not_found(team))?;
    let f = group_fields(body)?;
    update_group(conn, p, &old, &f)?;
    get_group(conn, p, team)
}

/// `PATCH /Groups/{id}`.
pub fn patch_group(conn: &rusqlite::Connection, p: &Provisioner, team: TeamId, body: &Value) -> ScimResult<Value> {
    let old = store::find_group(conn, &p.tenant, team)?.ok_or_else(|| group_not_found(team))?;
    let mut current = get_group(conn, p, team)?;
    patch::apply(&mut current, body, &schema::GROUP_ATTRIBUTES)?;
    let f = group_fields(&current)?;
    update_group(conn, p, &old, &f)?;
    get_group(conn, p, team)
}

/// `DELETE /Groups/{id}`.
pub fn delete_group(conn: &rusqlite::Connection, p: &Provisioner, team: TeamId) -> ScimResult<()> {
    let old = store::find_group(conn, &p.tenant, team)?.ok_or_else(|| group_not_found(team))?;
    teams::store::delete(conn, &p.tenant, team)?;
    audit::record(
        conn,
        &p.audit("scim.group_deleted", "team", team.0)
            .with_old(json!({ "name": old.name, "external_id": old.external_id })),
    )?;
    Ok(())
}

// ------------------------------------------------------------------ lists

/// Query parameters of a list (RFC 7644 §3.4.2).
#[derive(Debug, Default)]
pub struct ListQuery {
    pub filter: Option<String>,
    pub start_index: Option<String>,
    pub count: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
}

fn positive(name: &str, raw: Option<&str>, default: usize) -> ScimResult<usize> {
    match raw.map(str::trim) {
        None | Some("") => Ok(default),
        Some(s) => s
            .parse::<i64>()
            .map(|n| usize::try_from(n.max(0)).unwrap_or(0))
            .map_err(|_| ScimError::invalid_value(format!("`{name}` must be an integer"))),
    }
}

/// Filters, sorts, pages and projects `resources` into a `ListResponse`.
pub fn list_response(mut resources: Vec<Value>, q: &ListQuery) -> ScimResult<Value> {
    // startIndex below 1 counts as 1; count is capped (RFC 7644 §3.4.2.4).
    let start = positive("startIndex", q.start_index.as_deref(), 1)?.max(1);
    let count = positive("count", q.count.as_deref(), 100)?.min(schema::MAX_RESULTS);
    if let Some(raw) = q.filter.as_deref().filter(|f| !f.trim().is_empty()) {
        let f = filter::parse(raw)?;
        resources.retain(|r| filter::matches(&f, r));
    }
    if let Some(sort_by) = q.sort_by.as_deref().filter(|s| !s.trim().is_empty()) {
        let path = filter::parse_attr_path(sort_by)?;
        let descending = match q.sort_order.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("ascending") => false,
            Some("descending") => true,
            Some(other) => {
                return Err(ScimError::invalid_value(format!("sortOrder `{other}` is not ascending or descending")));
            }
        };
        // Resources without the attribute sort last either way (RFC 7644 §3.4.2.3).
        resources.sort_by(|a, b| {
            let (ka, kb) = (filter::sort_key(a, &path), filter::sort_key(b, &path));
            match (ka, kb) {
                (Some(x), Some(y)) if descending => y.cmp(&x),
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            }
        });
    }
    let total = resources.len();
    let page: Vec<Value> = resources
        .into_iter()
        .skip(start - 1)
        .take(count)
        .map(|r| project(r, q.attributes.as_deref(), q.excluded_attributes.as_deref()))
        .collect::<ScimResult<_>>()?;
    Ok(schema::list_response(total, start, &page))
}

fn paths(raw: &str) -> ScimResult<Vec<filter::AttrPath>> {
    raw.split(',').map(str::trim).filter(|s| !s.is_empty()).map(filter::parse_attr_path).collect()
}

/// Applies `attributes` / `excludedAttributes` (id and schemas always stay).
pub fn project(resource: Value, attributes: Option<&str>, excluded: Option<&str>) -> ScimResult<Value> {
    let Value::Object(mut object) = resource else { return Ok(resource) };
    let key_of = |o: &Map<String, Value>, name: &str| o.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned();
    if let Some(raw) = attributes.filter(|a| !a.trim().is_empty()) {
        let mut out = Map::new();
        for keep in ["schemas", "id"] {
            if let Some(v) = object.get(keep) {
                out.insert(keep.to_owned(), v.clone());
            }
        }
        for path in paths(raw)? {
            let source = match &path.uri {
                Some(uri) => key_of(&object, uri).and_then(|k| object.get(&k)).cloned().unwrap_or(Value::Null),
                None => Value::Object(object.clone()),
            };
            let Some(name) = key_of(source.as_object().unwrap_or(&Map::new()), &path.name) else { continue };
            let value = source.get(&name).cloned().unwrap_or(Value::Null);
            let picked = match (&path.sub, value) {
                (Some(sub), Value::Object(inner)) => {
                    let mut m = Map::new();
                    if let Some(k) = key_of(&inner, sub) {
                        m.insert(k.clone(), inner.get(&k).cloned().unwrap_or(Value::Null));
                    }
                    Value::Object(m)
                }
                (Some(sub), Value::Array(items)) => Value::Array(
                    items
                        .into_iter()
                        .filter_map(|i| filter::get_ci(&i, sub).map(|v| json!({ sub.clone(): v })))
                        .collect(),
                ),
                (_, v) => v,
            };
            match &path.uri {
                Some(uri) => {
                    let slot = out.entry(uri.clone()).or_insert_with(|| Value::Object(Map::new()));
                    if let Value::Object(m) = slot {
                        m.insert(name, picked);
                    }
                }
                None => match (out.get_mut(&name), picked) {
                    (Some(Value::Object(existing)), Value::Object(more)) => existing.extend(more),
                    (_, picked) => {
                        out.insert(name, picked);
                    }
                },
            }
        }
        return Ok(Value::Object(out));
    }
    if let Some(raw) = excluded.filter(|a| !a.trim().is_empty()) {
        for path in paths(raw)? {
            if path.uri.is_none() && (path.name.eq_ignore_ascii_case("id") || path.name.eq_ignore_ascii_case("schemas"))
            {
                continue;
            }
            let holder = match &path.uri {
                Some(uri) => key_of(&object, uri).and_then(|k| object.get_mut(&k)).and_then(Value::as_object_mut),
                None => Some(&mut object),
            };
            let Some(holder) = holder else { continue };
            let Some(name) = key_of(holder, &path.name) else { continue };
            match &path.sub {
                None => {
                    holder.remove(&name);
                }
                Some(sub) => {
                    if let Some(Value::Object(inner)) = holder.get_mut(&name)
                        && let Some(k) = key_of(inner, sub)
                    {
                        inner.remove(&k);
                    }
                }
            }
        }
    }
    Ok(Value::Object(object))
}

/// A SCIM id path segment as a row id.
pub fn parse_id(raw: &str, what: &str) -> ScimResult<i64> {
    raw.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ScimError::new(StatusCode::NOT_FOUND, None, format!("no {what} {raw} in this organization")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_page_sort_and_project() {
        let users: Vec<Value> = (1..=5)
            .map(|i| {
                json!({ "schemas": [USER_SCHEMA], "id": i.to_string(), "userName": format!("u{}", 6 - i),
                             "name": { "givenName": "G", "familyName": "F" }, "active": i % 2 == 0 })
            })
            .collect();
        let q = ListQuery {
            filter: Some("active eq true".into()),
            sort_by: Some("userName".into()),
            attributes: Some("userName,name.givenName".into()),
            ..ListQuery::default()
        };
        let out = list_response(users.clone(), &q).expect("list");
        assert_eq!(out["totalResults"], 2);
        assert_eq!(
            out["Resources"][0],
            json!({ "schemas": [USER_SCHEMA], "id": "4", "userName": "u2", "name": { "givenName": "G" } })
        );
        let q = ListQuery {
            start_index: Some("2".into()),
            count: Some("2".into()),
            excluded_attributes: Some("name,id".into()),
            ..ListQuery::default()
        };
        let out = list_response(users, &q).expect("list");
        assert_eq!(
            (out["totalResults"].as_u64(), out["startIndex"].as_u64(), out["itemsPerPage"].as_u64()),
            (Some(5), Some(2), Some(2))
        );
        assert_eq!(out["Resources"][0]["id"], "2");
        assert!(out["Resources"][0].get("name").is_none());
    }

    #[test]
    fn user_fields_take_strings_for_booleans_and_need_an_email() {
        let f = user_fields(&json!({ "userName": "X@Example.com", "active": "False" })).expect("fields");
        assert_eq!((f.email.as_str(), f.active), ("x@example.com", false));
        let f = user_fields(&json!({ "userName": "jdoe", "emails": [{ "value": "Jo@example.com", "primary": true }] }))
            .expect("fields");
        assert_eq!(f.email, "jo@example.com");
        assert_eq!(user_fields(&json!({ "userName": "jdoe" })).expect_err("no email").scim_type, Some("invalidValue"));
        assert_eq!(user_fields(&json!({ "active": true })).expect_err("no userName").scim_type, Some("invalidValue"));
    }
}
