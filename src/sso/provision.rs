//! Just-in-time provisioning after a validated sign-in: who the `IdP`'s
//! subject is, which user and membership it becomes, and the group → role
//! and team mapping, re-applied on every sign-in.
//!
//! Which user an `IdP` may sign in (so that another organization's `IdP` can
//! never sign a user into this one):
//! - the user its subject is already linked to (`sso_user_mappings`, per
//!   configuration) — the link survives email changes at the `IdP`;
//! - otherwise only an address of a domain *this configuration* verified;
//!   domains are unique across the instance, so no other organization's `IdP`
//!   can claim that address.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::model::{ConfigRow, SsoMapping};
use super::oidc::Refusal;
use super::service::{self, Outcome};
use super::store::{self, LogEntry};
use crate::app::AppState;
use crate::http::ClientInfo;
use crate::ids::{OrgId, UserId};
use crate::orgs::audit::{self, AuditEntry};

/// The groups a user has according to the claims (`groups_claim` as an array or one string).
fn groups(mapping: &SsoMapping, claims: &Map<String, Value>) -> Vec<String> {
    match claims.get(&mapping.groups_claim) {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        Some(Value::String(s)) => s.split([',', ' ']).filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

/// The mapped role (first matching rule with a role), the teams of every
/// matching rule, and every team the mapping manages.
fn resolve(mapping: &SsoMapping, claims: &Map<String, Value>) -> (Option<String>, BTreeSet<i64>, BTreeSet<i64>) {
    let have = groups(mapping, claims);
    let mut role = None;
    let mut teams = BTreeSet::new();
    let mut managed = BTreeSet::new();
    for rule in &mapping.rules {
        managed.extend(rule.teams.iter().copied());
        if have.iter().any(|g| g == &rule.group) {
            if role.is_none() {
                role.clone_from(&rule.role);
            }
            teams.extend(rule.teams.iter().copied());
        }
    }
    (role, teams, managed)
}

/// What the mapping would give these claims (the test sign-in shows it).
#[must_use]
pub fn preview(mapping: &SsoMapping, claims: &Map<String, Value>, default_role: Option<&str>) -> Value {
    let (role, teams, _) = resolve(mapping, claims);
    json!({
        "groups_claim": mapping.groups_claim,
        "groups": groups(mapping, claims),
        "role": role.unwrap_or_else(|| default_role.unwrap_or("viewer").to_owned()),
        "teams": teams,
        "email": email_of(claims),
    })
}

/// The address the `IdP` vouches for: `email`, else an address-shaped
/// `preferred_username` or `upn` (Entra ID sends no `email` for some accounts).
fn email_of(claims: &Map<String, Value>) -> Option<String> {
    ["email", "preferred_username", "upn"]
        .iter()
        .filter_map(|k| claims.get(*k).and_then(Value::as_str))
        .find_map(|v| crate::accounts::service::normalize_email(v).ok())
}

fn display_name(claims: &Map<String, Value>, email: &str) -> String {
    let name = claims
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| {
            let parts: Vec<&str> =
                ["given_name", "family_name"].iter().filter_map(|k| claims.get(*k).and_then(Value::as_str)).collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        })
        .unwrap_or_else(|| email.split('@').next().unwrap_or(email).to_owned());
    name.chars().filter(|c| !c.is_control()).take(100).collect()
}

/// Claims kept on the user link (no tokens).
fn kept_attributes(claims: &Map<String, Value>, mapping: &SsoMapping) -> String {
    let mut kept = Map::new();
    for key in ["iss", "sub", "email", "name", "preferred_username", "upn", "oid", "tid", mapping.groups_claim.as_str()]
    {
        if let Some(v) = claims.get(key) {
            kept.insert(key.to_owned(), v.clone());
        }
    }
    Value::Object(kept).to_string()
}

/// Applies the mapping to a member: role (never an owner's) and managed teams.
fn apply_mapping(
    tx: &rusqlite::Connection,
    config: &ConfigRow,
    user: UserId,
    claims: &Map<String, Value>,
) -> crate::error::AppResult<Value> {
    let org = OrgId(config.organization_id);
    let mapping = config.mapping();
    let (mapped_role, teams, managed) = resolve(&mapping, claims);
    let has_role_rules = mapping.rules.iter().any(|r| r.role.is_some());
    let wanted_name =
        mapped_role.clone().or_else(|| config.default_role.clone()).unwrap_or_else(|| "viewer".to_owned());
    let wanted = match store::role_by_name(tx, org, &wanted_name)? {
        Some(r) => r,
        None => crate::orgs::store::builtin_role_id(tx, crate::permissions::BuiltinRole::Viewer)?,
    };
    let mut role_changed = false;
    match store::member_role(tx, config.organization_id, user)? {
        None => crate::orgs::store::insert_member(tx, org, user, wanted, None)?,
        Some((current, is_owner)) => {
            if has_role_rules && !is_owner && current != wanted {
                store::set_member_role(tx, config.organization_id, user, wanted)?;
                role_changed = true;
            }
        }
    }
    for team in &managed {
        if teams.contains(team) {
            store::join_team(tx, config.organization_id, *team, user)?;
        } else {
            tx.execute(
                "DELETE FROM team_members WHERE organization_id = ?1 AND team_id = ?2 AND user_id = ?3",
                rusqlite::params![config.organization_id, team, user],
            )?;
        }
    }
    Ok(json!({ "role": wanted_name, "role_changed": role_changed, "teams": teams }))
}

/// Signs a user in after a validated ID token.
pub(super) async fn sign_in(
    state: &AppState,
    config: &ConfigRow,
    claims: &Map<String, Value>,
    refresh_token: Option<String>,
    client: &ClientInfo,
    ctx: &mut super::service::Attempt,
) -> Result<Outcome, Refusal> {
    let sub = claims.get("sub").and_then(Value::as_str).unwrap_or_default().to_owned();
    let email = email_of(claims);
    ctx.note(email.clone(), None);
    let email = email.ok_or_else(|| Refusal::new("email_missing", "the IdP sent no email address (`email` claim)"))?;
    let unverified = match claims.get("email_verified") {
        Some(Value::Bool(b)) => !b,
        Some(Value::String(s)) => s == "false",
        _ => false,
    };
    if unverified {
        return Err(Refusal::new("email_not_verified", "the IdP says the email address is not verified"));
    }
    let sealed = refresh_token.map(|t| service::seal_refresh(state, config, &t));
    let config = config.clone();
    let claims = claims.clone();
    let client_c = client.clone();
    // Nobody knows this password: the account signs in through the IdP
    // (or sets a password by reset where the domain does not enforce SSO).
    let hash = crate::db::run_blocking(|| crate::accounts::service::hash_password(&crate::crypto::random_token(32)))
        .await
        .map_err(|e| Refusal::new("internal", e.to_string()))?;
    let result = state
        .db
        .write(move |tx| Ok(sign_in_tx(tx, &config, &claims, &sub, &email, &hash, sealed.as_deref(), &client_c)))
        .await
        .map_err(|e| Refusal::new("internal", e.to_string()))?;
    match result {
        Ok((user, session)) => Ok(Outcome::SignedIn(user, session)),
        Err((refusal, user)) => {
            ctx.note(None, user);
            Err(refusal)
        }
    }
}

type TxResult = Result<(UserId, crate::accounts::service::IssuedSession), (Refusal, Option<UserId>)>;

#[allow(clippy::too_many_arguments, reason = "one transaction over the sign-in's facts")]
fn sign_in_tx(
    tx: &rusqlite::Connection,
    config: &ConfigRow,
    claims: &Map<String, Value>,
    sub: &str,
    email: &str,
    password_hash: &str,
    refresh_sealed: Option<&[u8]>,
    client: &ClientInfo,
) -> TxResult {
    let internal = |e: &dyn std::fmt::Display| (Refusal::new("internal", e.to_string()), None);
    let domain = email.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
    let linked = store::mapped_user(tx, config.id, sub).map_err(|e| internal(&e))?;
    let (user, created) = if let Some(user) = linked {
        (user, false)
    } else {
        if !store::domain_verified_for(tx, config.id, domain).map_err(|e| internal(&e))? {
            return Err((
                Refusal::new(
                    "email_domain_not_verified",
                    format!("`{domain}` is not a verified domain of this SSO configuration"),
                ),
                None,
            ));
        }
        match store::user_by_email(tx, email).map_err(|e| internal(&e))? {
            Some((user, _)) => (user, false),
            None if config.auto_provision_users => {
                let name = display_name(claims, email);
                (store::insert_sso_user(tx, email, &name, password_hash).map_err(|e| internal(&e))?, true)
            }
            None => {
                return Err((
                    Refusal::new(
                        "user_not_provisioned",
                        "no account has this address and automatic provisioning is off",
                    ),
                    None,
                ));
            }
        }
    };
    if store::user_suspended(tx, user).map_err(|e| internal(&e))? {
        return Err((Refusal::new("account_suspended", "this account is suspended"), Some(user)));
    }
    let applied = apply_mapping(tx, config, user, claims).map_err(|e| internal(&e))?;
    let attributes = kept_attributes(claims, &config.mapping());
    store::upsert_mapping(tx, config.organization_id, config.id, user, sub, email, &attributes, refresh_sealed)
        .map_err(|e| internal(&e))?;
    store::log_attempt(
        tx,
        &LogEntry {
            org_id: Some(config.organization_id),
            config: Some(config.id),
            user: Some(user),
            email: Some(email),
            status: "success",
            error: None,
            client,
        },
    )
    .map_err(|e| internal(&e))?;
    audit::record(
        tx,
        &AuditEntry::by_user(user, "user.login", "user", user.0)
            .with_metadata(
                json!({ "method": "sso", "sso_configuration_id": config.id, "created": created, "mapping": applied }),
            )
            .from(client),
    )
    .map_err(|e| internal(&e))?;
    crate::accounts::store::set_last_login(tx, user, &crate::db::now()).map_err(|e| internal(&e))?;
    let session = crate::accounts::service::open_session(tx, user, client).map_err(|e| internal(&e))?;
    Ok((user, session))
}

/// Re-applies the mapping after a refresh.
pub(super) async fn reapply(
    state: &AppState,
    config: &ConfigRow,
    user: UserId,
    claims: &Map<String, Value>,
    refresh_sealed: Option<Vec<u8>>,
) -> Result<(), Refusal> {
    let (config, claims) = (config.clone(), claims.clone());
    state
        .db
        .write(move |tx| {
            apply_mapping(tx, &config, user, &claims)?;
            if let Some(sealed) = refresh_sealed {
                tx.execute(
                    "UPDATE sso_user_mappings SET refresh_token_encrypted = ?3 WHERE sso_configuration_id = ?1 AND user_id = ?2",
                    rusqlite::params![config.id, user, sealed],
                )?;
            }
            Ok(())
        })
        .await
        .map_err(|e| Refusal::new("internal", e.to_string()))
}
