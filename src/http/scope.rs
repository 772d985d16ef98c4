//! Tenant scope by construction. A handler of a tenant route takes a
//! `Scoped<R, P>` (e.g. `BotScope<perm::BotsWrite>`): extracting it resolves
//! the resource in the path to its organization, loads the caller's
//! membership there, and checks permission `P`. What it yields is a
//! [`Tenant`], which every tenant `store.rs` function requires — so a query
//! without the tenant cannot be written by accident.
//!
//! Answers: 401 without credentials, 404 (`R::NOT_FOUND`) when the resource
//! does not exist or the caller is not a member of its organization, 403
//! `forbidden` when a member lacks `P`.

use std::marker::PhantomData;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use rusqlite::{Connection, OptionalExtension};
use serde_json::json;

use super::auth::{ClientInfo, authenticate};
use crate::accounts::{Principal, Via};
use crate::app::AppState;
use crate::error::{AppError, ErrorCode};
use crate::ids::{ApiTokenId, BotId, JobId, OrgId, UserId};
use crate::orgs;
use crate::permissions::{Permission, PermissionSet, Required};

/// Proof that the caller may act in one organization, with what permissions.
/// Only the scope extractors and [`Tenant::system`] construct it.
#[derive(Debug, Clone)]
pub struct Tenant {
    org_id: OrgId,
    actor: Actor,
    permissions: PermissionSet,
    role: String,
}

/// Who acts, for audit rows.
#[derive(Debug, Clone)]
pub struct Actor {
    /// `None` for system actions (jobs).
    pub user_id: Option<UserId>,
    pub token_id: Option<ApiTokenId>,
    pub client: ClientInfo,
}

impl Tenant {
    /// A tenant for background work acting on behalf of no user. `reason`
    /// documents the escalation at the call site.
    #[must_use]
    pub fn system(org_id: OrgId, reason: &'static str) -> Tenant {
        tracing::trace!(org_id = org_id.0, reason, "system tenant");
        Tenant {
            org_id,
            actor: Actor { user_id: None, token_id: None, client: ClientInfo::default() },
            permissions: PermissionSet::all(),
            role: "system".to_owned(),
        }
    }

    #[must_use]
    pub fn org_id(&self) -> OrgId {
        self.org_id
    }

    #[must_use]
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// The acting user (absent for system tenants).
    #[must_use]
    pub fn user_id(&self) -> Option<UserId> {
        self.actor.user_id
    }

    #[must_use]
    pub fn permissions(&self) -> &PermissionSet {
        &self.permissions
    }

    #[must_use]
    pub fn can(&self, p: Permission) -> bool {
        self.permissions.contains(p)
    }

    /// The member's role name (`owner`, `editor`, a custom role, or `system`).
    #[must_use]
    pub fn role(&self) -> &str {
        &self.role
    }
}

/// Where a scoped resource belongs.
#[derive(Debug, Clone, Copy)]
pub struct Owner {
    pub org_id: OrgId,
    /// The bot the resource belongs to, when it belongs to one.
    pub bot_id: Option<BotId>,
}

/// A kind of resource addressed by a path parameter and owned by an organization.
pub trait ScopeResource {
    /// The path parameter holding the id, e.g. `bot_id`.
    const PARAM: &'static str;
    /// The 404 code when the resource is missing or not visible.
    const NOT_FOUND: ErrorCode;
    type Id: std::str::FromStr + Copy + Send + 'static;
    /// Finds the owner of `id`.
    fn owner(conn: &Connection, id: Self::Id) -> rusqlite::Result<Option<Owner>>;
}

/// A checked scope on resource `R` requiring permission `P`.
pub struct Scoped<R: ScopeResource, P: Required> {
    tenant: Tenant,
    id: R::Id,
    _marker: PhantomData<(R, P)>,
}

impl<R: ScopeResource, P: Required> Scoped<R, P> {
    /// The resource id from the path.
    #[must_use]
    pub fn id(&self) -> R::Id {
        self.id
    }

    #[must_use]
    pub fn tenant(&self) -> &Tenant {
        &self.tenant
    }

    #[must_use]
    pub fn into_tenant(self) -> Tenant {
        self.tenant
    }
}

impl<R: ScopeResource, P: Required> std::ops::Deref for Scoped<R, P> {
    type Target = Tenant;
    fn deref(&self) -> &Tenant {
        &self.tenant
    }
}

impl<R: ScopeResource + 'static, P: Required + 'static> FromRequest for Scoped<R, P> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let principal = authenticate(&req).await?;
            let raw = req.match_info().get(R::PARAM).unwrap_or_default().to_owned();
            let id: R::Id = raw.parse().map_err(|_| {
                AppError::new(ErrorCode::InvalidPath, format!("`{}` must be a positive integer", R::PARAM))
                    .with_details(json!({ "field": R::PARAM }))
            })?;
            let state = req
                .app_data::<web::Data<AppState>>()
                .cloned()
                .ok_or_else(|| AppError::internal(anyhow::anyhow!("AppState missing")))?;
            let client = ClientInfo::of(&req);
            let tenant = state.db.read(move |conn| resolve::<R>(conn, &principal, id, P::PERMISSION, client)).await?;
            Ok(Scoped { tenant, id, _marker: PhantomData })
        })
    }
}

fn resolve<R: ScopeResource>(
    conn: &Connection,
    principal: &Principal,
    id: R::Id,
    required: Option<Permission>,
    client: ClientInfo,
) -> Result<Tenant, AppError> {
    let not_found = || AppError::new(R::NOT_FOUND, "not found");
    let owner = R::owner(conn, id)?.ok_or_else(not_found)?;
    let membership = orgs::store::membership(conn, owner.org_id, principal.user_id)?.ok_or_else(not_found)?;
    if !membership.active {
        return Err(not_found());
    }
    if membership.org_suspended {
        return Err(AppError::new(ErrorCode::AccountSuspended, "this organization is suspended"));
    }
    let (permissions, token_id) = match &principal.via {
        Via::Session { .. } => (membership.permissions, None),
        Via::ApiToken(token) => {
            if token.org_id != owner.org_id {
                return Err(not_found());
            }
            if let Some(bot) = token.bot_id {
                match owner.bot_id {
                    Some(b) if b == bot => {}
                    Some(_) => return Err(not_found()),
                    None => {
                        return Err(AppError::new(ErrorCode::Forbidden, "this API token is limited to one bot"));
                    }
                }
            }
            // A token never exceeds its creator's current permissions.
            (token.scopes.intersection(&membership.permissions), Some(token.id))
        }
    };
    if let Some(p) = required
        && !permissions.contains(p)
    {
        return Err(AppError::new(ErrorCode::Forbidden, format!("this requires the `{}` permission", p.as_str()))
            .with_details(json!({ "permission": p.as_str() })));
    }
    Ok(Tenant {
        org_id: owner.org_id,
        actor: Actor { user_id: Some(principal.user_id), token_id, client },
        permissions,
        role: membership.role,
    })
}

/// `/orgs/{org_id}/…`
pub struct Org;
impl ScopeResource for Org {
    const PARAM: &'static str = "org_id";
    const NOT_FOUND: ErrorCode = ErrorCode::OrgNotFound;
    type Id = OrgId;
    fn owner(conn: &Connection, id: OrgId) -> rusqlite::Result<Option<Owner>> {
        conn.query_row("SELECT id FROM organizations WHERE id = ?1", [id], |r| {
            Ok(Owner { org_id: r.get(0)?, bot_id: None })
        })
        .optional()
    }
}

/// `/bots/{bot_id}/…`
pub struct Bot;
impl ScopeResource for Bot {
    const PARAM: &'static str = "bot_id";
    const NOT_FOUND: ErrorCode = ErrorCode::BotNotFound;
    type Id = BotId;
    fn owner(conn: &Connection, id: BotId) -> rusqlite::Result<Option<Owner>> {
        conn.query_row("SELECT organization_id FROM bots WHERE id = ?1", [id], |r| {
            Ok(Owner { org_id: r.get(0)?, bot_id: Some(id) })
        })
        .optional()
    }
}

/// `/jobs/{job_id}` (platform jobs without an organization are not visible).
pub struct Job;
impl ScopeResource for Job {
    const PARAM: &'static str = "job_id";
    const NOT_FOUND: ErrorCode = ErrorCode::JobNotFound;
    type Id = JobId;
    fn owner(conn: &Connection, id: JobId) -> rusqlite::Result<Option<Owner>> {
        conn.query_row("SELECT organization_id FROM jobs WHERE id = ?1 AND organization_id IS NOT NULL", [id], |r| {
            Ok(Owner { org_id: r.get(0)?, bot_id: None })
        })
        .optional()
    }
}

/// A scope on an organization from its path.
pub type OrgScope<P> = Scoped<Org, P>;
/// A scope on a bot from its path.
pub type BotScope<P> = Scoped<Bot, P>;
/// A scope on a job from its path.
pub type JobScope<P> = Scoped<Job, P>;
